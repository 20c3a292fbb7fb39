//! `fuser::Filesystem` for [`FuseFs`]: each request calls one `do_*` method (which holds the
//! lock for the back-end work) and sends its reply after the lock is released.
//!
//! Kernel configuration at INIT: `max_write` and read-ahead of [`FuseConfig::max_io`]
//! (clamped to what the kernel allows), READDIRPLUS always (each listing's lookups then save
//! the kernel its own). Nothing else is asked for: no writeback cache (writes reach the back end
//! in the `write(2)` that made them, so a shared back end sees them), no `keep_cache`.
//!
//! [`FuseConfig::max_io`]: super::FuseConfig::max_io

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use tern_core::fs::FileSystem;

use super::FuseFs;
use super::convert::{self, ctx};
use super::dir::Item;

/// Block size reported by STATFS.
const STATFS_BSIZE: u64 = 4096;

thread_local! {
    /// Each session thread's read buffer (reads reuse it instead of allocating per request).
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<F: FileSystem + Send + 'static> FuseFs<F> {
    fn reply_entry(&self, r: Result<FileAttr, Errno>, reply: ReplyEntry) {
        match r {
            Ok(a) => reply.entry_with_ttls(&self.cfg.attr_ttl, &self.cfg.entry_ttl, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }
}

fn empty(r: Result<(), Errno>, reply: ReplyEmpty) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

fn bytes(s: &OsStr) -> &[u8] {
    s.as_bytes()
}

impl<F: FileSystem + Send + 'static> Filesystem for FuseFs<F> {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let io = self.cfg.max_io.max(4096);
        // Each setter returns the nearest allowed value when ours is out of range.
        let write = config.set_max_write(io).map_or_else(|n| config.set_max_write(n).map_or(0, |_| n), |_| io);
        let ahead = config.set_max_readahead(io).map_or_else(|n| config.set_max_readahead(n).map_or(0, |_| n), |_| io);
        let plus = config.add_capabilities(InitFlags::FUSE_DO_READDIRPLUS).is_ok();
        tracing::debug!(max_write = write, max_readahead = ahead, readdirplus = plus, "FUSE init");
        Ok(())
    }

    fn destroy(&mut self) {
        let mut st = self.lock();
        let ctx = ctx(0, 0);
        for h in st.inodes.take_all_hidden() {
            let _ = st.fs.remove(&ctx, &h.dir, &h.name);
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.reply_entry(self.do_lookup(parent.0, bytes(name)), reply);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.lock().inodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.do_getattr(ino.0) {
            Ok(a) => reply.attr(&self.cfg.attr_ttl, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let set = convert::set_attr(mode, uid, gid, size, atime, mtime);
        match self.do_setattr(&ctx(req.uid(), req.gid()), ino.0, &set) {
            Ok(a) => reply.attr(&self.cfg.attr_ttl, &a),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.do_readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        let r = self.do_mknod(&ctx(req.uid(), req.gid()), parent.0, bytes(name), (mode, umask, rdev));
        self.reply_entry(r, reply);
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        self.reply_entry(self.do_mkdir(&ctx(req.uid(), req.gid()), parent.0, bytes(name), mode, umask), reply);
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(self.do_unlink(&ctx(req.uid(), req.gid()), parent.0, bytes(name)), reply);
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(self.do_rmdir(&ctx(req.uid(), req.gid()), parent.0, bytes(name)), reply);
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let c = ctx(req.uid(), req.gid());
        self.reply_entry(self.do_symlink(&c, parent.0, bytes(link_name), target.as_os_str().as_bytes()), reply);
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let c = ctx(req.uid(), req.gid());
        empty(self.do_rename(&c, (parent.0, bytes(name)), (newparent.0, bytes(newname)), flags), reply);
    }

    fn link(&self, req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        self.reply_entry(self.do_link(&ctx(req.uid(), req.gid()), ino.0, newparent.0, bytes(newname)), reply);
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.do_open(ino.0) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        READ_BUF.with_borrow_mut(|buf| {
            let want = size as usize;
            if buf.len() < want {
                buf.resize(want, 0);
            }
            let out = &mut buf[..want];
            match self.do_read(ino.0, offset, out) {
                Ok(n) => reply.data(&out[..n.min(want)]),
                Err(e) => reply.error(e),
            }
        });
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.do_write(&ctx(req.uid(), req.gid()), ino.0, offset, data) {
            Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        empty(self.do_commit(ino.0), reply);
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        empty(self.do_release(ino.0), reply);
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        empty(self.do_commit(ino.0), reply);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.do_opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let mut add = |i: &Item<'_>| reply.add(INodeNo(i.ino), i.offset, i.attr.kind, OsStr::from_bytes(i.name));
        match self.do_readdir(ino.0, fh.0, offset, false, &mut add) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let ttl = self.cfg.attr_ttl;
        let mut add =
            |i: &Item<'_>| reply.add(INodeNo(i.ino), i.offset, OsStr::from_bytes(i.name), &ttl, &i.attr, Generation(0));
        match self.do_readdir(ino.0, fh.0, offset, true, &mut add) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.do_releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        // Directory operations are synchronous in the trait: nothing is pending.
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.do_statfs() {
            Ok((s, namelen)) => reply.statfs(
                s.total_bytes / STATFS_BSIZE,
                s.free_bytes / STATFS_BSIZE,
                s.avail_bytes / STATFS_BSIZE,
                s.total_files,
                s.free_files,
                STATFS_BSIZE as u32,
                namelen,
                STATFS_BSIZE as u32,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        empty(self.do_access(ino.0, mask.bits(), req.uid(), req.gid()), reply);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.do_create(&ctx(req.uid(), req.gid()), parent.0, bytes(name), (mode, umask, flags)) {
            Ok(a) => reply.created(&self.cfg.attr_ttl, &a, Generation(0), FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }
}
