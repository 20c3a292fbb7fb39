//! The namespace's one error type: POSIX errors with Linux's numbers.

use crate::fs::FsError;

/// Why a namespace call failed. Each variant is one POSIX error; [`VfsError::errno`] gives
/// Linux's number for it (what the process VM returns to a program, negated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VfsError {
    /// Operation not permitted (EPERM): not the owner, a sticky directory, a hard link to a directory.
    Perm,
    /// No such file or directory (ENOENT), also an empty path or an empty symlink target.
    NoEnt,
    /// I/O error (EIO): a back end failed in a way it cannot name.
    Io,
    /// Bad file descriptor (EBADF): no such open file, or not open for that access.
    BadFd,
    /// Permission denied (EACCES): the mode bits refuse the caller.
    Access,
    /// Device or resource busy (EBUSY): unmounting a mount in use, removing or renaming a mount point.
    Busy,
    /// File exists (EEXIST).
    Exist,
    /// Cross-device link or rename (EXDEV): the two paths are on different mounts.
    XDev,
    /// Not a directory (ENOTDIR).
    NotDir,
    /// Is a directory (EISDIR).
    IsDir,
    /// Invalid argument (EINVAL): a NUL in a path, a negative offset, a bad flag, `rmdir(".")`.
    Inval,
    /// The namespace's open-file table is full (ENFILE: the table is shared by the whole node).
    TooManyOpen,
    /// File too large (EFBIG).
    FBig,
    /// No space left (ENOSPC), also a full mount table (as Linux past `fs.mount-max`).
    NoSpace,
    /// Read-only file system (EROFS): a change on a read-only mount or back end.
    ReadOnly,
    /// Too many links (EMLINK).
    MLink,
    /// A component longer than the name limit, or a path (or symlink expansion) longer than the
    /// path limit (ENAMETOOLONG).
    NameTooLong,
    /// Directory not empty (ENOTEMPTY).
    NotEmpty,
    /// Too many symbolic links met while resolving a path, or a trailing symlink with
    /// `O_NOFOLLOW` (ELOOP).
    Loop,
    /// The back end does not support the operation (EOPNOTSUPP).
    NotSupp,
    /// Stale file handle (ESTALE): the object, or the mount an open file or `Loc` names, is gone.
    Stale,
    /// Disk quota exceeded (EDQUOT).
    DQuot,
}

impl VfsError {
    /// Linux's errno for this error (`asm-generic/errno-base.h` and `errno.h`; RISC-V, Arm and
    /// x86 Linux share these numbers).
    pub const fn errno(self) -> i32 {
        match self {
            VfsError::Perm => 1,
            VfsError::NoEnt => 2,
            VfsError::Io => 5,
            VfsError::BadFd => 9,
            VfsError::Access => 13,
            VfsError::Busy => 16,
            VfsError::Exist => 17,
            VfsError::XDev => 18,
            VfsError::NotDir => 20,
            VfsError::IsDir => 21,
            VfsError::Inval => 22,
            VfsError::TooManyOpen => 23,
            VfsError::FBig => 27,
            VfsError::NoSpace => 28,
            VfsError::ReadOnly => 30,
            VfsError::MLink => 31,
            VfsError::NameTooLong => 36,
            VfsError::NotEmpty => 39,
            VfsError::Loop => 40,
            VfsError::NotSupp => 95,
            VfsError::Stale => 116,
            VfsError::DQuot => 122,
        }
    }

    /// The error with Linux's errno `n`, if it is one of these.
    pub const fn from_errno(n: i32) -> Option<Self> {
        Some(match n {
            1 => VfsError::Perm,
            2 => VfsError::NoEnt,
            5 => VfsError::Io,
            9 => VfsError::BadFd,
            13 => VfsError::Access,
            16 => VfsError::Busy,
            17 => VfsError::Exist,
            18 => VfsError::XDev,
            20 => VfsError::NotDir,
            21 => VfsError::IsDir,
            22 => VfsError::Inval,
            23 => VfsError::TooManyOpen,
            27 => VfsError::FBig,
            28 => VfsError::NoSpace,
            30 => VfsError::ReadOnly,
            31 => VfsError::MLink,
            36 => VfsError::NameTooLong,
            39 => VfsError::NotEmpty,
            40 => VfsError::Loop,
            95 => VfsError::NotSupp,
            116 => VfsError::Stale,
            122 => VfsError::DQuot,
            _ => return None,
        })
    }
}

impl From<FsError> for VfsError {
    /// The back end's error as the namespace reports it. The NFS-only errors have no errno of
    /// their own: a malformed handle is [`VfsError::Stale`] (the object cannot be reached), a
    /// readdir cookie that is no longer valid and a failed SETATTR guard are
    /// [`VfsError::Inval`] (restart the listing from cookie 0), a type the back end cannot
    /// store is [`VfsError::NotSupp`], and a server fault is [`VfsError::Io`].
    fn from(e: FsError) -> Self {
        match e {
            FsError::Perm => VfsError::Perm,
            FsError::NoEnt => VfsError::NoEnt,
            FsError::Io | FsError::ServerFault => VfsError::Io,
            FsError::Access => VfsError::Access,
            FsError::Exist => VfsError::Exist,
            FsError::XDev => VfsError::XDev,
            FsError::NotDir => VfsError::NotDir,
            FsError::IsDir => VfsError::IsDir,
            FsError::Inval | FsError::BadCookie | FsError::NotSync => VfsError::Inval,
            FsError::FBig => VfsError::FBig,
            FsError::NoSpace => VfsError::NoSpace,
            FsError::ReadOnly => VfsError::ReadOnly,
            FsError::MLink => VfsError::MLink,
            FsError::NameTooLong => VfsError::NameTooLong,
            FsError::NotEmpty => VfsError::NotEmpty,
            FsError::DQuot => VfsError::DQuot,
            FsError::Stale | FsError::BadHandle => VfsError::Stale,
            FsError::NotSupp | FsError::BadType => VfsError::NotSupp,
        }
    }
}

impl core::fmt::Display for VfsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            VfsError::Perm => "operation not permitted",
            VfsError::NoEnt => "no such file or directory",
            VfsError::Io => "input/output error",
            VfsError::BadFd => "bad file descriptor",
            VfsError::Access => "permission denied",
            VfsError::Busy => "device or resource busy",
            VfsError::Exist => "file exists",
            VfsError::XDev => "invalid cross-device link",
            VfsError::NotDir => "not a directory",
            VfsError::IsDir => "is a directory",
            VfsError::Inval => "invalid argument",
            VfsError::TooManyOpen => "too many open files in system",
            VfsError::FBig => "file too large",
            VfsError::NoSpace => "no space left on device",
            VfsError::ReadOnly => "read-only file system",
            VfsError::MLink => "too many links",
            VfsError::NameTooLong => "file name too long",
            VfsError::NotEmpty => "directory not empty",
            VfsError::Loop => "too many levels of symbolic links",
            VfsError::NotSupp => "operation not supported",
            VfsError::Stale => "stale file handle",
            VfsError::DQuot => "disk quota exceeded",
        })
    }
}

impl core::error::Error for VfsError {}

/// Namespace result.
pub type VfsResult<T> = Result<T, VfsError>;
