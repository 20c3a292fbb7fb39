//! Namespace and attribute requests: lookup, getattr/setattr, create/mknod/mkdir/symlink/link,
//! unlink/rmdir/rename, readlink, statfs, access. Each returns the reply's payload or an
//! `errno`; `kernel.rs` turns that into the FUSE reply.
//!
//! Invariant: every successful entry reply goes through `State::entry`, which counts the
//! kernel's lookup; a failed request leaves the inode table as it was (except that a hidden
//! rename, once done, stays recorded on the node).

use fuser::{Errno, FileAttr, RenameFlags};
use tern_core::fs::{CreateHow, Ctx, FileSystem, FileType, FsError, FsStat, Handle, NodeKind, SetAttr};

use super::convert::{self, create_mode, errno};
use super::inodes::Hidden;
use super::{FuseFs, State};

/// Longest symlink target read back (Linux's `PATH_MAX`).
const MAX_TARGET: usize = 4096;

impl<F: FileSystem + Send + 'static> FuseFs<F> {
    fn blksize(&self) -> u32 {
        self.cfg.max_io.max(4096)
    }

    /// LOOKUP of `name` in `parent`.
    pub(crate) fn do_lookup(&self, parent: u64, name: &[u8]) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        let h = st.fs.lookup(&dir, name).map_err(errno)?;
        st.entry(h, self.blksize())
    }

    /// GETATTR of `ino`.
    pub(crate) fn do_getattr(&self, ino: u64) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let a = st.fs.getattr(&h).map_err(errno)?;
        Ok(convert::file_attr(ino, &a, self.blksize()))
    }

    /// SETATTR of `ino` (the kernel checked the caller's rights).
    pub(crate) fn do_setattr(&self, ctx: &Ctx, ino: u64, set: &SetAttr) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let a = if *set == SetAttr::default() { st.fs.getattr(&h) } else { st.fs.setattr(ctx, &h, set) };
        Ok(convert::file_attr(ino, &a.map_err(errno)?, self.blksize()))
    }

    /// READLINK of `ino`.
    pub(crate) fn do_readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let mut buf = vec![0u8; MAX_TARGET];
        let n = st.fs.readlink(&h, &mut buf).map_err(errno)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// MKDIR.
    pub(crate) fn do_mkdir(
        &self,
        ctx: &Ctx,
        parent: u64,
        name: &[u8],
        mode: u32,
        umask: u32,
    ) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        let attr = SetAttr { mode: Some(create_mode(mode, umask)), ..SetAttr::default() };
        let h = st.fs.mkdir(ctx, &dir, name, &attr).map_err(errno)?;
        st.entry(h, self.blksize())
    }

    /// SYMLINK `name` → `target` in `parent`.
    pub(crate) fn do_symlink(&self, ctx: &Ctx, parent: u64, name: &[u8], target: &[u8]) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        let h = st.fs.symlink(ctx, &dir, name, target, &SetAttr::default()).map_err(errno)?;
        st.entry(h, self.blksize())
    }

    /// MKNOD: a regular file, device, fifo or socket (`mode` carries the type).
    pub(crate) fn do_mknod(
        &self,
        ctx: &Ctx,
        parent: u64,
        name: &[u8],
        (mode, umask, rdev): (u32, u32, u32),
    ) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        let attr = SetAttr { mode: Some(create_mode(mode, umask)), ..SetAttr::default() };
        let (major, minor) = convert::decode_dev(rdev);
        let kind = match mode & libc::S_IFMT {
            libc::S_IFREG | 0 => None,
            libc::S_IFCHR => Some(NodeKind::Char(major, minor)),
            libc::S_IFBLK => Some(NodeKind::Block(major, minor)),
            libc::S_IFIFO => Some(NodeKind::Fifo),
            libc::S_IFSOCK => Some(NodeKind::Socket),
            _ => return Err(Errno::EINVAL),
        };
        let h = match kind {
            None => st.fs.create(ctx, &dir, name, &CreateHow::Guarded(attr)),
            // mknod(2) of a type the file system cannot hold is EPERM.
            Some(k) => st.fs.mknod(ctx, &dir, name, k, &attr).map_err(|e| match e {
                FsError::NotSupp | FsError::BadType => FsError::Perm,
                e => e,
            }),
        }
        .map_err(errno)?;
        st.entry(h, self.blksize())
    }

    /// CREATE (open with `O_CREAT`): creates the file, or opens the existing one unless
    /// `O_EXCL` (the name may have appeared since the kernel's lookup). The returned node is
    /// open; its `release` will come.
    pub(crate) fn do_create(
        &self,
        ctx: &Ctx,
        parent: u64,
        name: &[u8],
        (mode, umask, flags): (u32, u32, i32),
    ) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        let attr = SetAttr { mode: Some(create_mode(mode, umask)), ..SetAttr::default() };
        let h = match st.fs.create(ctx, &dir, name, &CreateHow::Guarded(attr)) {
            Ok(h) => h,
            Err(FsError::Exist) if flags & libc::O_EXCL == 0 => {
                let h = st.fs.lookup(&dir, name).map_err(errno)?;
                let a = st.fs.getattr(&h).map_err(errno)?;
                match a.ftype {
                    FileType::Directory => return Err(Errno::EISDIR),
                    FileType::Regular if flags & libc::O_TRUNC != 0 => {
                        let trunc = SetAttr { size: Some(0), ..SetAttr::default() };
                        st.fs.setattr(ctx, &h, &trunc).map_err(errno)?;
                    }
                    _ => {}
                }
                h
            }
            Err(e) => return Err(errno(e)),
        };
        let attr = st.entry(h, self.blksize())?;
        st.inodes.open(attr.ino.0);
        Ok(attr)
    }

    /// LINK: a new name `name` in `parent` for `ino`.
    pub(crate) fn do_link(&self, ctx: &Ctx, ino: u64, parent: u64, name: &[u8]) -> Result<FileAttr, Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let dir = st.handle(parent)?;
        st.fs.link(ctx, &h, &dir, name).map_err(errno)?;
        st.entry(h, self.blksize())
    }

    /// UNLINK of a non-directory; an open file is hidden instead (see the module docs).
    pub(crate) fn do_unlink(&self, ctx: &Ctx, parent: u64, name: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        if st.hide_if_open(ctx, &dir, name)? {
            return Ok(());
        }
        st.fs.remove(ctx, &dir, name).map_err(errno)
    }

    /// RMDIR.
    pub(crate) fn do_rmdir(&self, ctx: &Ctx, parent: u64, name: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let dir = st.handle(parent)?;
        st.fs.rmdir(ctx, &dir, name).map_err(errno)
    }

    /// RENAME, with `renameat2`'s `RENAME_NOREPLACE` (checked, then renamed: not atomic against
    /// other clients of a shared back end); `RENAME_EXCHANGE` and whiteouts are `EINVAL`.
    pub(crate) fn do_rename(
        &self,
        ctx: &Ctx,
        (parent, name): (u64, &[u8]),
        (new_parent, new_name): (u64, &[u8]),
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        let from = st.handle(parent)?;
        let to = st.handle(new_parent)?;
        match st.fs.lookup(&to, new_name) {
            Ok(_) if flags.contains(RenameFlags::RENAME_NOREPLACE) => return Err(Errno::EEXIST),
            Ok(target) => {
                // Renaming a file onto another name of itself changes nothing (POSIX).
                let source = st.fs.lookup(&from, name).map_err(errno)?;
                if source != target {
                    st.hide_if_open(ctx, &to, new_name)?;
                }
            }
            Err(_) => {}
        }
        st.fs.rename(ctx, &from, name, &to, new_name).map_err(errno)
    }

    /// STATFS of the file system (one back end per mount).
    pub(crate) fn do_statfs(&self) -> Result<(FsStat, u32), Errno> {
        let mut st = self.lock();
        let root = st.fs.root();
        let s = st.fs.fsstat(&root).map_err(errno)?;
        Ok((s, st.fs.info().max_name))
    }

    /// ACCESS: whether `uid`/`gid` may read, write or search/execute `ino` (`mask` of
    /// `R_OK`/`W_OK`/`X_OK`; `F_OK` is 0). Root may do anything but execute a file no one may.
    pub(crate) fn do_access(&self, ino: u64, mask: i32, uid: u32, gid: u32) -> Result<(), Errno> {
        let mut st = self.lock();
        let h = st.handle(ino)?;
        let a = st.fs.getattr(&h).map_err(errno)?;
        let want = (mask & 0o7) as u32;
        if want == 0 {
            return Ok(());
        }
        let ok = if uid == 0 {
            want & 0o1 == 0 || a.ftype == FileType::Directory || a.mode & 0o111 != 0
        } else {
            let bits = if a.uid == uid {
                a.mode >> 6
            } else if a.gid == gid {
                a.mode >> 3
            } else {
                a.mode
            };
            bits & want == want
        };
        if ok { Ok(()) } else { Err(Errno::EACCES) }
    }
}

impl<F: FileSystem> State<F> {
    /// If `name` in `dir` is a non-directory that is open and has no other link, renames it to a
    /// hidden name (remembered on its node) and returns true.
    fn hide_if_open(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> Result<bool, Errno> {
        let Ok(h) = self.fs.lookup(dir, name) else { return Ok(false) };
        let Some(ino) = self.inodes.id_of(&h).filter(|&i| self.inodes.is_open(i)) else { return Ok(false) };
        let a = self.fs.getattr(&h).map_err(errno)?;
        if a.ftype == FileType::Directory || a.nlink > 1 {
            return Ok(false);
        }
        self.hidden_seq += 1;
        let hidden = format!(".tern_hidden{ino:016x}{:04x}", self.hidden_seq).into_bytes();
        self.fs.rename(ctx, dir, name, dir, &hidden).map_err(errno)?;
        if let Some(node) = self.inodes.get_mut(ino) {
            node.hidden = Some(Hidden { dir: *dir, name: hidden });
        }
        Ok(true)
    }
}
