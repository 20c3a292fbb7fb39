//! One error enum per layer: [`RpcError`] for the RPC-over-stream drivers, [`NfsError`] for
//! the NFS clients above them.

use embedded_io::ErrorKind;
use tern_core::nfs3::NfsStat3;
use tern_core::nfs3::client::Error as ClientError;
use tern_core::rpc::client::{CallFailure, ClientError as CallError};

/// Why an RPC call over a stream failed.
///
/// The first four variants mean the connection is gone ([`RpcError::is_link`]): every call
/// outstanding on it was forgotten, and the driver refuses calls until it is given a new
/// stream (`replace_io`). The caller reconnects, on the schedule of a
/// [`Reconnect`](tern_core::nfs3::client::Reconnect), and tries the operation again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcError {
    /// Reading or writing the stream failed with this kind of error.
    Io(ErrorKind),
    /// The server closed the connection (a read returned no byte, or a write took none).
    Closed,
    /// A reply record is longer than the reply buffer: the stream cannot be followed.
    TooLarge,
    /// An earlier failure left the driver without a usable stream.
    Disconnected,
    /// The call could not be made: too many outstanding, or it does not fit the call buffer.
    Call(CallError),
    /// The server refused the call at the RPC level.
    Refused(CallFailure),
    /// The call got no reply in time (only with a client configuration that lets calls time
    /// out, and only as time passes: see the crate docs on time).
    TimedOut,
    /// Waiting for a reply with no call outstanding.
    Idle,
}

impl RpcError {
    /// True when the connection is gone: reconnect (`replace_io`) and try again.
    pub fn is_link(&self) -> bool {
        matches!(self, RpcError::Io(_) | RpcError::Closed | RpcError::TooLarge | RpcError::Disconnected)
    }
}

impl core::fmt::Display for RpcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RpcError::Io(k) => write!(f, "connection failed: {k}"),
            RpcError::Closed => f.write_str("connection closed by the server"),
            RpcError::TooLarge => f.write_str("reply larger than the reply buffer"),
            RpcError::Disconnected => f.write_str("no connection (reconnect first)"),
            RpcError::Call(e) => write!(f, "{e}"),
            RpcError::Refused(e) => write!(f, "server refused the call: {e}"),
            RpcError::TimedOut => f.write_str("no reply from the server in time"),
            RpcError::Idle => f.write_str("waiting for a reply with no call outstanding"),
        }
    }
}

impl core::error::Error for RpcError {}

impl From<CallError> for RpcError {
    fn from(e: CallError) -> Self {
        RpcError::Call(e)
    }
}

/// Why an NFS or MOUNT operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsError {
    /// The RPC layer failed (a lost connection: see [`NfsError::is_link`]).
    Rpc(RpcError),
    /// The NFS client refused or the server answered with an error (an NFS status, a refused
    /// mount, results that do not decode or contradict the call).
    Client(ClientError),
    /// The caller's sink or source asked to stop the transfer.
    Aborted,
}

impl NfsError {
    /// True when the connection is gone: reconnect and try again (NFS handles stay valid).
    pub fn is_link(&self) -> bool {
        matches!(self, NfsError::Rpc(e) if e.is_link())
    }

    /// The NFS status the server answered, if that is what failed.
    pub fn status(&self) -> Option<NfsStat3> {
        match self {
            NfsError::Client(ClientError::Status(s)) => Some(*s),
            _ => None,
        }
    }
}

impl core::fmt::Display for NfsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NfsError::Rpc(e) => e.fmt(f),
            NfsError::Client(e) => e.fmt(f),
            NfsError::Aborted => f.write_str("transfer stopped by the caller"),
        }
    }
}

impl core::error::Error for NfsError {}

impl From<RpcError> for NfsError {
    fn from(e: RpcError) -> Self {
        match e {
            // The same failures are reported once, as the client's.
            RpcError::Refused(f) => NfsError::Client(ClientError::Refused(f)),
            RpcError::TimedOut => NfsError::Client(ClientError::TimedOut),
            e => NfsError::Rpc(e),
        }
    }
}

impl From<ClientError> for NfsError {
    fn from(e: ClientError) -> Self {
        NfsError::Client(e)
    }
}

impl From<CallError> for NfsError {
    fn from(e: CallError) -> Self {
        NfsError::Rpc(RpcError::Call(e))
    }
}

impl From<tern_core::xdr::Error> for NfsError {
    fn from(e: tern_core::xdr::Error) -> Self {
        NfsError::Client(ClientError::Decode(e))
    }
}
