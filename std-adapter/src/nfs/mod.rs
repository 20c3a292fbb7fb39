//! The NFSv3 client on std sockets: blocking drivers around the core's sans-IO client
//! ([`tern_core::nfs3::client`]).
//!
//! - [`Conn`] (`conn`): one TCP or UDP connection with many calls in flight, retransmission,
//!   and reconnection with back-off (hard mounts retry until the server is back; soft ones
//!   fail after their time-out);
//! - [`Session`] (`session`): one mounted export: portmapper lookup unless both ports are
//!   given, MNT/UMNT, every NFSv3 procedure as a blocking method, path walks, and windowed
//!   whole-file streaming ([`Session::read_to`], [`Session::write_from`], `stream`);
//! - [`RemoteFs`] (`remote`): a [`Session`] as a [`tern_core::fs::FileSystem`], so a namespace
//!   can mount it next to local file systems;
//! - [`NfsUrl`] (`url`): libnfs-style `nfs://` URLs.

mod conn;
mod readahead;
mod records;
mod remote;
mod session;
mod stream;
mod url;

pub use conn::{Conn, Event, MAX_INFLIGHT, Proto};
pub use remote::RemoteFs;
pub use session::{ListFn, ReaddirPage, Session, SessionOptions, export_list};
pub use stream::{COMMIT_EVERY, Ordered, Progress};
pub use url::{NfsUrl, UrlError};

use tern_core::mount::MountStat;
use tern_core::nfs3::NfsStat3;
use tern_core::nfs3::client as core_client;
use tern_core::rpc::client::{CallFailure, ClientError};
use tern_core::xdr;

/// Why an NFS operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NfsError {
    /// The URL does not parse.
    #[error("{0}")]
    Url(#[from] UrlError),
    /// The server (or its portmapper) cannot be reached.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// A soft call got no reply in time.
    #[error("no reply from the server in time")]
    TimedOut,
    /// The server refused the call at the RPC level.
    #[error("server refused the call: {0}")]
    Refused(CallFailure),
    /// The server answered with an NFS error.
    #[error("{}", status_text(*.0))]
    Status(NfsStat3),
    /// MNT failed.
    #[error("mount of {path} refused: {}", mount_text(*status))]
    Mount {
        /// MNT's status.
        status: MountStat,
        /// The path mounted.
        path: String,
    },
    /// No export of the server holds the path.
    #[error("no export of the server holds {0}")]
    NoExport(String),
    /// The server's answer makes no sense.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A local (or socket) error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<ClientError> for NfsError {
    fn from(e: ClientError) -> Self {
        NfsError::Protocol(e.to_string())
    }
}

impl From<xdr::Error> for NfsError {
    fn from(e: xdr::Error) -> Self {
        NfsError::Protocol(format!("cannot decode the server's results: {e}"))
    }
}

impl From<core_client::Error> for NfsError {
    fn from(e: core_client::Error) -> Self {
        use core_client::Error as E;
        match e {
            E::Status(s) => NfsError::Status(s),
            E::Refused(f) => NfsError::Refused(f),
            E::TimedOut => NfsError::TimedOut,
            E::Unreachable => NfsError::Unreachable("no connection".into()),
            E::Mount(status) => NfsError::Mount { status, path: String::new() },
            other => NfsError::Protocol(other.to_string()),
        }
    }
}

/// What kind of failure an [`NfsError`] is, for exit codes and for [`RemoteFs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such file or directory (or export).
    NotFound,
    /// Permission denied (ACCES, PERM, refused credentials, refused mount).
    Permission,
    /// The server cannot be reached, or did not answer in time.
    Unreachable,
    /// A file handle is stale.
    Stale,
    /// A bad URL.
    BadUrl,
    /// The name exists.
    Exists,
    /// A path component is not a directory, or a directory was given where a file is needed.
    WrongType,
    /// The directory is not empty.
    NotEmpty,
    /// The server misbehaved or refused the program or version.
    Protocol,
    /// Any other error the server reported (I/O, no space, read-only, ...).
    Other,
}

impl NfsError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use NfsStat3 as S;
        match self {
            NfsError::Url(_) => ErrorKind::BadUrl,
            NfsError::Unreachable(_) | NfsError::TimedOut => ErrorKind::Unreachable,
            NfsError::Refused(CallFailure::Denied(_)) => ErrorKind::Permission,
            NfsError::Refused(_) | NfsError::Protocol(_) => ErrorKind::Protocol,
            NfsError::Status(S::NoEnt | S::NxIo | S::NoDev) | NfsError::NoExport(_) => ErrorKind::NotFound,
            NfsError::Mount { status: MountStat::NoEnt, .. } => ErrorKind::NotFound,
            NfsError::Mount { status: MountStat::NotDir, .. } => ErrorKind::WrongType,
            NfsError::Mount { status: MountStat::Acces | MountStat::Perm, .. } => ErrorKind::Permission,
            NfsError::Mount { .. } => ErrorKind::Other,
            NfsError::Status(S::Acces | S::Perm) => ErrorKind::Permission,
            NfsError::Status(S::Stale | S::BadHandle) => ErrorKind::Stale,
            NfsError::Status(S::Exist) => ErrorKind::Exists,
            NfsError::Status(S::NotDir | S::IsDir) => ErrorKind::WrongType,
            NfsError::Status(S::NotEmpty) => ErrorKind::NotEmpty,
            NfsError::Status(_) => ErrorKind::Other,
            NfsError::Io(e) => match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::Permission,
                std::io::ErrorKind::AlreadyExists => ErrorKind::Exists,
                std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::TimedOut => ErrorKind::Unreachable,
                _ => ErrorKind::Other,
            },
        }
    }
}

/// The text of an NFS status, as `strerror` would put it.
pub fn status_text(s: NfsStat3) -> String {
    use NfsStat3 as S;
    match s {
        S::Perm => "operation not permitted".into(),
        S::NoEnt => "no such file or directory".into(),
        S::Io => "I/O error".into(),
        S::NxIo | S::NoDev => "no such device".into(),
        S::Acces => "permission denied".into(),
        S::Exist => "file exists".into(),
        S::XDev => "cross-device link".into(),
        S::NotDir => "not a directory".into(),
        S::IsDir => "is a directory".into(),
        S::Inval => "invalid argument".into(),
        S::FBig => "file too large".into(),
        S::NoSpc => "no space left on device".into(),
        S::RoFs => "read-only file system".into(),
        S::MLink => "too many links".into(),
        S::NameTooLong => "file name too long".into(),
        S::NotEmpty => "directory not empty".into(),
        S::DQuot => "disk quota exceeded".into(),
        S::Stale => "stale file handle".into(),
        S::BadHandle => "bad file handle (stale)".into(),
        S::NotSupp => "operation not supported".into(),
        S::ServerFault => "server fault".into(),
        S::Jukebox => "server busy, try again".into(),
        other => format!("NFS error {}", i32::from(other)),
    }
}

fn mount_text(s: MountStat) -> String {
    match s {
        MountStat::NoEnt => "no such directory".into(),
        MountStat::Acces | MountStat::Perm => "permission denied".into(),
        MountStat::NotDir => "not a directory".into(),
        other => format!("{other:?}"),
    }
}
