//! Conversions between the core's file-system types and the kernel's FUSE types: errors to
//! `errno`, [`Attr`] to [`FileAttr`], time stamps, device numbers and `setattr` arguments.
//!
//! Everything here is total: no input (from the kernel or a back end) makes it panic. Values
//! that do not fit are clamped (a time before 1970 is 1970, one after 2106 is 2106).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType as KernelType, INodeNo, TimeOrNow};
use tern_core::fs::{Attr, Ctx, FileType, FsError, SetAttr, SetTime, Time};

/// The `errno` a FUSE reply carries for a file-system error (as Linux's NFS client maps the
/// same NFS3ERR_* codes).
pub(crate) fn errno(e: FsError) -> Errno {
    match e {
        FsError::Perm => Errno::EPERM,
        FsError::NoEnt => Errno::ENOENT,
        FsError::Io | FsError::ServerFault | FsError::NotSync => Errno::EIO,
        FsError::Access => Errno::EACCES,
        FsError::Exist => Errno::EEXIST,
        FsError::XDev => Errno::EXDEV,
        FsError::NotDir => Errno::ENOTDIR,
        FsError::IsDir => Errno::EISDIR,
        FsError::Inval | FsError::BadType => Errno::EINVAL,
        FsError::FBig => Errno::EFBIG,
        FsError::NoSpace => Errno::ENOSPC,
        FsError::ReadOnly => Errno::EROFS,
        FsError::MLink => Errno::EMLINK,
        FsError::NameTooLong => Errno::ENAMETOOLONG,
        FsError::NotEmpty => Errno::ENOTEMPTY,
        FsError::DQuot => Errno::EDQUOT,
        // A malformed handle can only come from a back end that changed under us: to the
        // program it is the same as a stale one.
        FsError::Stale | FsError::BadHandle => Errno::ESTALE,
        // The listing changed so much that it cannot resume: `getdents` reports an I/O error
        // (as the NFS client does when a server rejects a cookie).
        FsError::BadCookie => Errno::EIO,
        FsError::NotSupp => Errno::EOPNOTSUPP,
    }
}

/// A core time stamp as a [`SystemTime`].
pub(crate) fn system_time(t: Time) -> SystemTime {
    UNIX_EPOCH + Duration::new(u64::from(t.secs), t.nsecs.min(999_999_999))
}

/// A [`SystemTime`] as a core time stamp, clamped to what `nfstime3` holds.
pub(crate) fn core_time(t: SystemTime) -> Time {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => match u32::try_from(d.as_secs()) {
            Ok(secs) => Time { secs, nsecs: d.subsec_nanos() },
            Err(_) => Time { secs: u32::MAX, nsecs: 999_999_999 },
        },
        Err(_) => Time::default(),
    }
}

/// The context of a call: the caller's identity from the FUSE request and the host's clock.
pub(crate) fn ctx(uid: u32, gid: u32) -> Ctx {
    Ctx { now: core_time(SystemTime::now()), uid, gid }
}

/// The kernel's file type for a core one.
pub(crate) fn kernel_type(t: FileType) -> KernelType {
    match t {
        FileType::Regular => KernelType::RegularFile,
        FileType::Directory => KernelType::Directory,
        FileType::Block => KernelType::BlockDevice,
        FileType::Char => KernelType::CharDevice,
        FileType::Symlink => KernelType::Symlink,
        FileType::Socket => KernelType::Socket,
        FileType::Fifo => KernelType::NamedPipe,
    }
}

/// Linux's `dev_t` encoding (`new_encode_dev`) of (major, minor), as FUSE carries it (32 bits:
/// majors up to 4095, minors up to 2²⁰ − 1; larger values are truncated as the kernel does).
pub(crate) fn encode_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// (major, minor) of a `dev_t` in [`encode_dev`]'s encoding.
pub(crate) fn decode_dev(dev: u32) -> (u32, u32) {
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xf_ff00))
}

/// The kernel's view of `attr` for inode `ino`; `blksize` is the preferred I/O size reported to
/// programs (`st_blksize`, which `cp` and stdio use as their buffer size).
pub(crate) fn file_attr(ino: u64, a: &Attr, blksize: u32) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: a.size,
        blocks: a.used.div_ceil(512),
        atime: system_time(a.atime),
        mtime: system_time(a.mtime),
        ctime: system_time(a.ctime),
        crtime: system_time(a.ctime),
        kind: kernel_type(a.ftype),
        perm: (a.mode & 0o7777) as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: encode_dev(a.rdev.0, a.rdev.1),
        blksize,
        flags: 0,
    }
}

/// A `SETATTR` from the kernel's arguments. The kernel has already checked that the caller may
/// make each change (`default_permissions`); `ctime` cannot be set and is ignored.
pub(crate) fn set_attr(
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
) -> SetAttr {
    let time = |t: Option<TimeOrNow>| match t {
        None => SetTime::Keep,
        Some(TimeOrNow::Now) => SetTime::ServerTime,
        Some(TimeOrNow::SpecificTime(t)) => SetTime::Client(core_time(t)),
    };
    SetAttr { mode: mode.map(|m| m & 0o7777), uid, gid, size, atime: time(atime), mtime: time(mtime) }
}

/// The permission bits a create call asks for: the mode without its type and without the bits
/// of the caller's umask.
pub(crate) fn create_mode(mode: u32, umask: u32) -> u32 {
    mode & 0o7777 & !umask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_round_trip() {
        for (ma, mi) in [(0, 0), (1, 3), (8, 1), (259, 0), (4095, 255), (4095, 0xf_ffff), (10, 256)] {
            assert_eq!(decode_dev(encode_dev(ma, mi)), (ma, mi), "{ma}:{mi}");
        }
        // The kernel's encoding of 8:1 (/dev/sda1) is 0x801.
        assert_eq!(encode_dev(8, 1), 0x801);
    }

    #[test]
    fn times_clamp() {
        let t = Time { secs: 1_700_000_000, nsecs: 123 };
        assert_eq!(core_time(system_time(t)), t);
        assert_eq!(core_time(UNIX_EPOCH - Duration::from_secs(5)), Time::default());
        let far = UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) + 10);
        assert_eq!(core_time(far).secs, u32::MAX);
        // A back end's out-of-range nanoseconds do not panic.
        let _ = system_time(Time { secs: 1, nsecs: u32::MAX });
    }

    #[test]
    fn every_error_has_an_errno() {
        use FsError::*;
        let all = [
            Perm,
            NoEnt,
            Io,
            Access,
            Exist,
            XDev,
            NotDir,
            IsDir,
            Inval,
            FBig,
            NoSpace,
            ReadOnly,
            MLink,
            NameTooLong,
            NotEmpty,
            DQuot,
            Stale,
            BadHandle,
            BadCookie,
            NotSupp,
            NotSync,
            BadType,
            ServerFault,
        ];
        for e in all {
            assert_ne!(errno(e), Errno::ENOSYS, "{e:?}");
        }
        assert_eq!(errno(NotEmpty), Errno::ENOTEMPTY);
        assert_eq!(errno(Stale), Errno::ESTALE);
    }

    #[test]
    fn setattr_masks_type_bits() {
        let s = set_attr(Some(0o100_644), None, Some(5), Some(0), Some(TimeOrNow::Now), None);
        assert_eq!(s.mode, Some(0o644));
        assert_eq!(s.gid, Some(5));
        assert_eq!(s.atime, SetTime::ServerTime);
        assert_eq!(s.mtime, SetTime::Keep);
        assert_eq!(create_mode(0o100_666, 0o022), 0o644);
    }
}
