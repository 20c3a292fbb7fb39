//! The one mapping from host `errno` values to [`FsError`], and the name checks.

use std::ffi::CString;
use std::io;

use tern_core::fs::{FsError, FsResult};

/// Maps a host `errno` to the file-system error the NFS server reports.
///
/// Errors NFSv3 has no code for: resource shortages that a retry may cure (`ENOMEM`, `EAGAIN`,
/// `EMFILE`, `ENFILE`, `EINTR`, `ETIMEDOUT`) and misuse of descriptors (`EBADF`, `EFAULT`)
/// become [`FsError::ServerFault`]; anything unknown becomes [`FsError::Io`].
pub(crate) fn fs_error(errno: i32) -> FsError {
    match errno {
        libc::EPERM => FsError::Perm,
        libc::ENOENT => FsError::NoEnt,
        libc::EIO | libc::ENXIO => FsError::Io,
        libc::EACCES | libc::EBUSY | libc::ETXTBSY => FsError::Access,
        libc::EEXIST => FsError::Exist,
        libc::EXDEV => FsError::XDev,
        libc::ENOTDIR => FsError::NotDir,
        libc::EISDIR => FsError::IsDir,
        libc::EINVAL | libc::ELOOP | libc::ESPIPE | libc::EILSEQ => FsError::Inval,
        libc::EFBIG | libc::EOVERFLOW => FsError::FBig,
        libc::ENOSPC => FsError::NoSpace,
        libc::EROFS => FsError::ReadOnly,
        libc::EMLINK => FsError::MLink,
        libc::ENAMETOOLONG => FsError::NameTooLong,
        libc::ENOTEMPTY => FsError::NotEmpty,
        libc::EDQUOT => FsError::DQuot,
        libc::ESTALE => FsError::Stale,
        libc::EOPNOTSUPP | libc::ENOSYS | libc::ENODEV => FsError::NotSupp,
        libc::ENOMEM
        | libc::EAGAIN
        | libc::EMFILE
        | libc::ENFILE
        | libc::EINTR
        | libc::ETIMEDOUT
        | libc::EBADF
        | libc::EFAULT => FsError::ServerFault,
        _ => FsError::Io,
    }
}

/// [`fs_error`] of an [`io::Error`] (one without an `errno` is [`FsError::Io`]).
pub(crate) fn io_err(e: io::Error) -> FsError {
    let mapped = e.raw_os_error().map_or(FsError::Io, fs_error);
    if mapped == FsError::ServerFault {
        // Rare and never the client's fault: worth a line in the server's log.
        tracing::warn!("host call failed: {e}: answered as a server fault");
    }
    mapped
}

/// The `errno` of an [`io::Error`] (0 when it has none).
pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// A name for LOOKUP: one non-empty path component without `/` or NUL, else
/// [`FsError::Inval`]. `.` and `..` pass (the caller resolves them).
pub(crate) fn component(name: &[u8]) -> FsResult<CString> {
    if name.is_empty() || name.contains(&b'/') {
        return Err(FsError::Inval);
    }
    CString::new(name).map_err(|_| FsError::Inval)
}

/// A name to create, remove or rename: like [`component`], and not `.` or `..`
/// ([`FsError::Inval`]).
pub(crate) fn new_component(name: &[u8]) -> FsResult<CString> {
    if name == b"." || name == b".." {
        return Err(FsError::Inval);
    }
    component(name)
}
