//! The client's one error type.

use crate::mount::MountStat;
use crate::nfs3::NfsStat3;
use crate::rpc::client::{CallFailure, ClientError};
use crate::xdr;

/// Why a client operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The RPC client could not make the call (too many outstanding, or it did not encode).
    Rpc(ClientError),
    /// The server refused the call at the RPC level.
    Refused(CallFailure),
    /// The results did not decode.
    Decode(xdr::Error),
    /// The server answered with an NFS error status.
    Status(NfsStat3),
    /// MNT failed with this status.
    Mount(MountStat),
    /// A soft call got no reply in time.
    TimedOut,
    /// A soft mount could not reach the server within its time-out.
    Unreachable,
    /// The server's reply contradicts the call (more data than asked, an empty READ before
    /// the end of the file, a WRITE count above what was sent).
    Protocol,
    /// A bounded table is full (mount table, range set, transfer window).
    Full,
    /// The path is not in the mount table.
    NotMounted,
    /// The call does not belong to this machine (another transfer's xid), or the caller broke
    /// the method's contract (data of the wrong length for a chunk).
    Misuse,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Rpc(e) => write!(f, "{e}"),
            Error::Refused(e) => write!(f, "server refused the call: {e}"),
            Error::Decode(e) => write!(f, "cannot decode the server's results: {e}"),
            Error::Status(s) => write!(f, "server answered {s:?}"),
            Error::Mount(s) => write!(f, "mount refused: {s:?}"),
            Error::TimedOut => f.write_str("no reply from the server in time"),
            Error::Unreachable => f.write_str("server unreachable"),
            Error::Protocol => f.write_str("the server's reply contradicts the call"),
            Error::Full => f.write_str("a client table is full"),
            Error::NotMounted => f.write_str("not mounted"),
            Error::Misuse => f.write_str("call or data does not belong to this operation"),
        }
    }
}

impl core::error::Error for Error {}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        Error::Rpc(e)
    }
}

impl From<xdr::Error> for Error {
    fn from(e: xdr::Error) -> Self {
        Error::Decode(e)
    }
}

impl From<CallFailure> for Error {
    fn from(e: CallFailure) -> Self {
        Error::Refused(e)
    }
}
