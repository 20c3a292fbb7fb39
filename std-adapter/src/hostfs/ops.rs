//! Namespace changes: CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK.

use std::ffi::{CStr, CString};
use std::fs::{File, Metadata};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use tern_core::fs::{CreateHow, Ctx, FsError, FsResult, Handle, NodeKind, SetAttr, SetTime, Time};

use super::attr::{init_new, set_size};
use super::errno::{errno, io_err, new_component};
use super::{HostFs, Open, file};
use crate::sys;

/// Mode of a file made by an EXCLUSIVE create until the client's SETATTR.
const EXCLUSIVE_MODE: u32 = 0o600;
/// Default mode of new files and special files.
const FILE_MODE: u32 = 0o644;
/// Default mode of new directories.
const DIR_MODE: u32 = 0o755;

/// The (atime, mtime) seconds that store an EXCLUSIVE create's verifier (top bits cleared, as
/// knfsd does, so file systems with signed 32-bit times keep them).
pub(super) fn verifier_times(verf: &[u8; 8]) -> (u32, u32) {
    let [a0, a1, a2, a3, m0, m1, m2, m3] = *verf;
    (u32::from_be_bytes([a0, a1, a2, a3]) & 0x7fff_ffff, u32::from_be_bytes([m0, m1, m2, m3]) & 0x7fff_ffff)
}

impl HostFs {
    /// A directory handle as an `O_PATH` descriptor and its metadata.
    fn dir(&self, dir: &Handle) -> FsResult<(Arc<File>, Metadata)> {
        let (d, meta) = self.resolve_meta(dir, Open::Path)?;
        if !meta.is_dir() {
            return Err(FsError::NotDir);
        }
        Ok((d, meta))
    }

    pub(super) fn create_impl(&self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle> {
        let name = new_component(name)?;
        let (d, dmeta) = self.dir(dir)?;
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
        match sys::openat(d.as_fd(), &name, flags, 0) {
            Ok(fd) => {
                let f = file(fd);
                match how {
                    CreateHow::Unchecked(set) | CreateHow::Guarded(set) => init_new(ctx, &dmeta, &f, set, FILE_MODE)?,
                    CreateHow::Exclusive(verf) => {
                        let (a, m) = verifier_times(verf);
                        let set = SetAttr {
                            mode: Some(EXCLUSIVE_MODE),
                            atime: SetTime::Client(Time { secs: a, nsecs: 0 }),
                            mtime: SetTime::Client(Time { secs: m, nsecs: 0 }),
                            ..SetAttr::default()
                        };
                        init_new(ctx, &dmeta, &f, &set, EXCLUSIVE_MODE)?;
                    }
                }
                self.issue(f.as_fd())
            }
            Err(e) if errno(&e) == libc::EEXIST => self.create_existing(&d, &name, how),
            Err(e) => Err(io_err(e)),
        }
    }

    /// CREATE of a name that exists: UNCHECKED truncates a regular file to the given size;
    /// EXCLUSIVE succeeds when the file carries the same verifier (a retransmission).
    fn create_existing(&self, d: &File, name: &CStr, how: &CreateHow) -> FsResult<Handle> {
        if let CreateHow::Guarded(_) = how {
            return Err(FsError::Exist);
        }
        let f = file(sys::openat(d.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0).map_err(io_err)?);
        let meta = f.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(FsError::Exist);
        }
        match how {
            CreateHow::Unchecked(set) => {
                if let Some(size) = set.size {
                    set_size(&f, &meta, size)?;
                }
            }
            CreateHow::Exclusive(verf) => {
                let (a, m) = verifier_times(verf);
                if (meta.atime(), meta.mtime()) != (i64::from(a), i64::from(m)) {
                    return Err(FsError::Exist);
                }
            }
            CreateHow::Guarded(_) => return Err(FsError::Exist),
        }
        self.issue(f.as_fd())
    }

    pub(super) fn mkdir_impl(&self, ctx: &Ctx, dir: &Handle, name: &[u8], set: &SetAttr) -> FsResult<Handle> {
        let name = new_component(name)?;
        let (d, dmeta) = self.dir(dir)?;
        sys::mkdirat(d.as_fd(), &name, 0).map_err(io_err)?;
        self.finish_new(ctx, &d, &dmeta, &name, set, DIR_MODE)
    }

    pub(super) fn symlink_impl(
        &self,
        ctx: &Ctx,
        dir: &Handle,
        name: &[u8],
        target: &[u8],
        set: &SetAttr,
    ) -> FsResult<Handle> {
        let name = new_component(name)?;
        if target.is_empty() {
            return Err(FsError::Inval);
        }
        let target = CString::new(target).map_err(|_| FsError::Inval)?;
        let (d, dmeta) = self.dir(dir)?;
        sys::symlinkat(&target, d.as_fd(), &name).map_err(io_err)?;
        // Symlinks have no mode of their own.
        let set = SetAttr { mode: None, size: None, ..*set };
        self.finish_new(ctx, &d, &dmeta, &name, &set, 0o777)
    }

    pub(super) fn mknod_impl(
        &self,
        ctx: &Ctx,
        dir: &Handle,
        name: &[u8],
        kind: NodeKind,
        set: &SetAttr,
    ) -> FsResult<Handle> {
        let name = new_component(name)?;
        let (d, dmeta) = self.dir(dir)?;
        let (ftype, dev) = match kind {
            NodeKind::Char(major, minor) => (libc::S_IFCHR, libc::makedev(major, minor)),
            NodeKind::Block(major, minor) => (libc::S_IFBLK, libc::makedev(major, minor)),
            NodeKind::Socket => (libc::S_IFSOCK, 0),
            NodeKind::Fifo => (libc::S_IFIFO, 0),
        };
        sys::mknodat(d.as_fd(), &name, ftype, dev).map_err(io_err)?;
        let set = SetAttr { size: None, ..*set };
        self.finish_new(ctx, &d, &dmeta, &name, &set, FILE_MODE)
    }

    /// Opens an object just made in `d` (without following it), sets it up, issues its handle.
    fn finish_new(
        &self,
        ctx: &Ctx,
        d: &File,
        dmeta: &Metadata,
        name: &CStr,
        set: &SetAttr,
        default_mode: u32,
    ) -> FsResult<Handle> {
        let f = file(sys::openat(d.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0).map_err(io_err)?);
        init_new(ctx, dmeta, &f, set, default_mode)?;
        self.issue(f.as_fd())
    }

    pub(super) fn unlink_impl(&self, dir: &Handle, name: &[u8], directory: bool) -> FsResult<()> {
        let name = new_component(name)?;
        let (d, _) = self.dir(dir)?;
        self.forget_name(&d, &name);
        let flags = if directory { libc::AT_REMOVEDIR } else { 0 };
        sys::unlinkat(d.as_fd(), &name, flags).map_err(|e| match errno(&e) {
            // Some file systems report a non-empty directory as EEXIST.
            libc::EEXIST if directory => FsError::NotEmpty,
            _ => io_err(e),
        })
    }

    pub(super) fn rename_impl(&self, from_dir: &Handle, from: &[u8], to_dir: &Handle, to: &[u8]) -> FsResult<()> {
        let (from, to) = (new_component(from)?, new_component(to)?);
        let (fd, _) = self.dir(from_dir)?;
        let (td, _) = self.dir(to_dir)?;
        self.forget_name(&td, &to);
        sys::renameat(fd.as_fd(), &from, td.as_fd(), &to).map_err(|e| match errno(&e) {
            libc::EEXIST => FsError::NotEmpty,
            _ => io_err(e),
        })
    }

    /// Closes the cached descriptors of the object `name` in `dir` is about to stop naming, so
    /// that removing its last name frees it at once, as without the cache.
    fn forget_name(&self, dir: &File, name: &CStr) {
        if self.soft.enabled()
            && let Ok(ino) = sys::ino_at(dir.as_fd(), name)
        {
            self.soft.forget_inode(ino);
        }
    }

    pub(super) fn link_impl(&self, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()> {
        let name = new_component(name)?;
        let f = self.resolve(fh, Open::Path)?;
        let (d, _) = self.dir(dir)?;
        sys::link_fd(f.as_fd(), d.as_fd(), &name).map_err(|e| match errno(&e) {
            libc::EPERM if f.metadata().is_ok_and(|m| m.is_dir()) => FsError::IsDir,
            _ => io_err(e),
        })
    }
}
