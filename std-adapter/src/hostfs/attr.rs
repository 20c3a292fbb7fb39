//! GETATTR and SETATTR, attributes from host metadata, and the set-up of new objects.

use std::fs::{File, Metadata, Permissions};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use tern_core::fs::{Attr, Ctx, FileType, FsError, FsResult, Handle, SetAttr, SetTime, Time};

use super::errno::io_err;
use super::{HostFs, Open, proc_path, reopen};
use crate::sys::{self, SetTs};

impl HostFs {
    pub(super) fn getattr_impl(&self, fh: &Handle) -> FsResult<Attr> {
        let (_, meta) = self.resolve_meta(fh, Open::Path)?;
        Ok(attr_of(&meta))
    }

    pub(super) fn setattr_impl(&self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        let (f, meta) = self.resolve_meta(fh, Open::Path)?;
        apply(ctx, &f, &meta, set)?;
        Ok(attr_of(&f.metadata().map_err(io_err)?))
    }
}

/// Applies `set` to the object behind `f` (whose metadata before the change is `meta`), in
/// the order size, owner, mode, times (owner before mode: a chown clears set-id bits).
pub(super) fn apply(ctx: &Ctx, f: &File, meta: &Metadata, set: &SetAttr) -> FsResult<()> {
    if let Some(size) = set.size {
        set_size(f, meta, size)?;
    }
    if set.uid.is_some() || set.gid.is_some() {
        sys::chown_fd(f.as_fd(), set.uid, set.gid).map_err(io_err)?;
    }
    if let Some(mode) = set.mode {
        chmod(f, meta, mode)?;
    }
    set_times(ctx, f, set.atime, set.mtime)
}

/// Gives a new object its owner (`set` or `ctx`; the group of a set-gid parent directory
/// otherwise), its mode (`set` or `default_mode`; directories keep the set-gid bit they
/// inherit) and the rest of `set`.
pub(super) fn init_new(ctx: &Ctx, parent: &Metadata, f: &File, set: &SetAttr, default_mode: u32) -> FsResult<()> {
    let meta = f.metadata().map_err(io_err)?;
    let sgid = parent.mode() & libc::S_ISGID != 0;
    let gid = set.gid.unwrap_or(if sgid { parent.gid() } else { ctx.gid });
    sys::chown_fd(f.as_fd(), Some(set.uid.unwrap_or(ctx.uid)), Some(gid)).map_err(io_err)?;
    if !meta.file_type().is_symlink() {
        let mut mode = set.mode.unwrap_or(default_mode) & 0o7777;
        if meta.is_dir() && sgid {
            mode |= libc::S_ISGID;
        }
        chmod(f, &meta, mode)?;
    }
    if let Some(size) = set.size {
        set_size(f, &meta, size)?;
    }
    set_times(ctx, f, set.atime, set.mtime)
}

/// Truncates or extends a regular file.
pub(super) fn set_size(f: &File, meta: &Metadata, size: u64) -> FsResult<()> {
    if meta.is_dir() {
        return Err(FsError::IsDir);
    }
    if !meta.is_file() {
        return Err(FsError::Inval);
    }
    if size > i64::MAX as u64 {
        return Err(FsError::FBig);
    }
    reopen(f, true)?.set_len(size).map_err(io_err)
}

/// Sets the permission bits (through `/proc/self/fd`, which also works for `O_PATH`).
fn chmod(f: &File, meta: &Metadata, mode: u32) -> FsResult<()> {
    if meta.file_type().is_symlink() {
        return Err(FsError::NotSupp);
    }
    std::fs::set_permissions(proc_path(f.as_fd()), Permissions::from_mode(mode & 0o7777)).map_err(io_err)
}

/// Sets access and modification times (nothing when both are [`SetTime::Keep`]).
pub(super) fn set_times(ctx: &Ctx, f: &File, atime: SetTime, mtime: SetTime) -> FsResult<()> {
    if atime == SetTime::Keep && mtime == SetTime::Keep {
        return Ok(());
    }
    let ts = |t| match t {
        SetTime::Keep => SetTs::Omit,
        SetTime::ServerTime => SetTs::At(i64::from(ctx.now.secs), ctx.now.nsecs),
        SetTime::Client(t) => SetTs::At(i64::from(t.secs), t.nsecs),
    };
    sys::utimens_fd(f.as_fd(), ts(atime), ts(mtime)).map_err(io_err)
}

/// The NFS attributes of host metadata.
pub(super) fn attr_of(m: &Metadata) -> Attr {
    let ft = m.file_type();
    let ftype = if ft.is_file() {
        FileType::Regular
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_block_device() {
        FileType::Block
    } else if ft.is_char_device() {
        FileType::Char
    } else if ft.is_socket() {
        FileType::Socket
    } else {
        FileType::Fifo
    };
    let rdev = if matches!(ftype, FileType::Block | FileType::Char) {
        (libc::major(m.rdev()), libc::minor(m.rdev()))
    } else {
        (0, 0)
    };
    Attr {
        ftype,
        mode: m.mode() & 0o7777,
        nlink: u32::try_from(m.nlink()).unwrap_or(u32::MAX),
        uid: m.uid(),
        gid: m.gid(),
        size: m.size(),
        used: m.blocks().saturating_mul(512),
        rdev,
        fsid: m.dev(),
        fileid: m.ino(),
        atime: time(m.atime(), m.atime_nsec()),
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
    }
}

/// An NFS time from host seconds and nanoseconds (clamped to NFSv3's unsigned 32-bit range).
pub(super) fn time(secs: i64, nsecs: i64) -> Time {
    Time { secs: secs.clamp(0, i64::from(u32::MAX)) as u32, nsecs: nsecs.clamp(0, 999_999_999) as u32 }
}
