//! The host side of a process's system calls: files through a [`tern_core::vfs::Namespace`]
//! whose root is the node's [`FileSystem`] (so paths get POSIX resolution: `..` stops at the
//! root, symlinks are followed within the namespace, permission bits are checked with the
//! guests' credentials), channels made on this node ([`super::chan`]), and the console.
//!
//! Stateless files: a descriptor is (fs number, handle, offset, flags) in the process's own
//! control block, so nothing here remembers open files. The fs number is the low 32 bits of
//! the root's [`MountId`], which derives from the file system's source, so every node given
//! the same source agrees on it. Each file call builds a namespace over the borrowed file
//! system, installs the descriptor with `Namespace::reinstall` (no extra call to the file
//! system: a vanished object fails the call itself with `ESTALE`) and performs the call there; the new offset is the VM's to keep. READDIR asks the back end for the
//! directory's current cookie verifier on every call (a listing resumed after a change the
//! back end cannot follow restarts with `-EINVAL`, like NFS's BAD_COOKIE).

use tern_core::fs::{Ctx, FileSystem, FileType, Handle, Time};
use tern_core::proc::abi::{self, Dirent, Stat, errno};
use tern_core::proc::{FdEntry, HostCall, PageStore, Process, Reply};

use super::chan::{self, Channels};
use tern_core::vfs::{
    Cred, DirPos, Fd, Loc, MountFlags, MountId, Namespace, OpenFile, OpenFlags, VfsError, VfsResult, Whence,
};

/// The per-call namespace: the root mount and the one open file a call works on (open files
/// live in the process's control block, not here).
type Ns<'a> = Namespace<'a, 1, 1>;

/// Files, channels and console output of the processes of one node.
pub struct Services<F> {
    /// The file system guests see as `/`, if any, and its mount id (see [`Services::new`]).
    fs: Option<(F, MountId)>,
    /// Identity of created files and time stamps.
    pub ctx: Ctx,
    /// The channels made on this node ([`Channels::woke`]: parked processes should retry).
    pub channels: Channels,
}

impl<F: FileSystem> Services<F> {
    /// Services over `fs` (or without files), mounted as the namespace root with `id`. Give
    /// [`MountId::of_source`] of a source naming the file system the same way on every node
    /// (see [`dir_source`](super::dir_source) and [`nfs_source`](super::nfs_source)): descriptors carry (the low bits of) it, so a
    /// migrated process's open files keep working on a node that mounts the same source.
    pub fn new(fs: Option<(F, MountId)>) -> Self {
        Services { fs, ctx: Ctx { now: Time::default(), uid: 0, gid: 0 }, channels: Channels::default() }
    }

    /// Performs `call` for process `p` (console bytes go to `console`) and returns the reply
    /// for [`Process::complete`]. Never fails: every error is an errno for the guest.
    pub fn serve<const P: usize, S: PageStore + ?Sized>(
        &mut self,
        p: &mut Process<P>,
        store: &mut S,
        call: HostCall,
        console: &mut dyn FnMut(&[u8]),
    ) -> Reply {
        let guest = |p: &Process<P>, s: &S, addr: u32, len: u32| {
            let mut v = vec![0u8; len as usize];
            p.read_guest(s, addr, &mut v).map(|_| v).map_err(|_| errno::EFAULT)
        };
        let r: Result<Reply, i32> = (|| match call {
            HostCall::Console { buf } => {
                let bytes = guest(p, store, buf.addr, buf.len)?;
                console(&bytes);
                Ok(Reply::Value(u64::from(buf.len)))
            }
            HostCall::Open { path, flags } => {
                let path = guest(p, store, path.addr, path.len)?;
                let (fs, handle) = self.open(&path, flags)?;
                Ok(Reply::Opened { fs, handle })
            }
            HostCall::Read { file, buf, .. } => {
                let mut data = vec![0u8; buf.len as usize];
                let n = self.with_file(&file, |ns, _, fd| ns.read(fd, &mut data))?;
                p.write_guest(store, buf.addr, &data[..n]).map_err(|_| errno::EFAULT)?;
                Ok(Reply::Value(n as u64))
            }
            HostCall::Write { file, buf, .. } => {
                let data = guest(p, store, buf.addr, buf.len)?;
                let n = self.with_file(&file, |ns, cred, fd| ns.write(cred, fd, &data))?;
                Ok(Reply::Value(n as u64))
            }
            HostCall::SeekEnd { file, offset, .. } => {
                let n = self.with_file(&file, |ns, _, fd| ns.seek(fd, Whence::End, offset))?;
                Ok(Reply::Value(n))
            }
            HostCall::Fstat { file, buf, .. } => {
                let a = self.with_file(&file, |ns, _, fd| ns.fstat(fd))?;
                let ftype = match a.ftype {
                    FileType::Regular => abi::ftype::REG,
                    FileType::Directory => abi::ftype::DIR,
                    FileType::Symlink => abi::ftype::LNK,
                    _ => abi::ftype::OTHER,
                };
                let st = Stat {
                    size: a.size,
                    fileid: a.fileid,
                    mtime_secs: u64::from(a.mtime.secs),
                    mtime_nsecs: a.mtime.nsecs,
                    ftype,
                    mode: a.mode,
                    nlink: a.nlink,
                    uid: a.uid,
                    gid: a.gid,
                };
                p.write_guest(store, buf.addr, &st.to_bytes()).map_err(|_| errno::EFAULT)?;
                Ok(Reply::Value(0))
            }
            HostCall::Readdir { file, buf, .. } => {
                let (data, cookie) = self.readdir(&file, buf.len as usize)?;
                p.write_guest(store, buf.addr, &data).map_err(|_| errno::EFAULT)?;
                Ok(Reply::Listed { len: data.len() as u32, cookie })
            }
            HostCall::ChanOpen { .. }
            | HostCall::ChanClose { .. }
            | HostCall::ChanSend { .. }
            | HostCall::ChanRecv { .. } => {
                let op = chan::op_of(p, store, &call).ok_or(errno::ENOSYS)??;
                let r = self.channels.exec(op);
                Ok(chan::reply_of(p, store, &call, r))
            }
        })();
        r.unwrap_or_else(Reply::Error)
    }

    /// Runs `f` on a namespace whose root is this node's file system, mounted with its
    /// source's id, with the root's location and the guests' credentials.
    fn with_ns<R>(&mut self, f: impl FnOnce(&mut Ns<'_>, &Cred<'_>, Loc) -> VfsResult<R>) -> Result<R, i32> {
        let ctx = self.ctx;
        let (fs, id) = self.fs.as_mut().ok_or(errno::ENOENT)?;
        let cred = Cred { uid: ctx.uid, gid: ctx.gid, groups: &[], now: ctx.now };
        let mut ns = Ns::new(fs, *id, MountFlags::default());
        let root = ns.root();
        f(&mut ns, &cred, root).map_err(VfsError::errno)
    }

    /// Runs `f` on the open file a descriptor entry names, installed in the namespace.
    fn with_file<R>(
        &mut self,
        file: &FdEntry,
        f: impl FnOnce(&mut Ns<'_>, &Cred<'_>, Fd) -> VfsResult<R>,
    ) -> Result<R, i32> {
        let mount = self.fs.as_ref().ok_or(errno::ENOENT)?.1;
        if file.fs != fs_number(mount) {
            return Err(errno::ESTALE); // a descriptor of a file system this node has not mounted
        }
        let flags = OpenFlags::from_bits(file.flags).map_err(VfsError::errno)?.kept();
        let open = OpenFile { mount, handle: file.handle, offset: file.offset, flags };
        self.with_ns(|ns, cred, _| {
            // No liveness check: the call itself reports a vanished object as ESTALE.
            let fd = ns.reinstall(open)?;
            f(ns, cred, fd)
        })
    }

    /// Opens `path` through the namespace (relative paths from the root: a guest has no
    /// current directory) and returns its handle.
    fn open(&mut self, path: &[u8], flags: u32) -> Result<(u32, Handle), i32> {
        let flags = OpenFlags::from_bits(flags).map_err(VfsError::errno)?;
        self.with_ns(|ns, cred, root| {
            let fd = ns.open(cred, &root, path, flags, 0o644)?;
            let f = *ns.file(fd)?;
            Ok((fs_number(f.mount), f.handle))
        })
    }

    fn readdir(&mut self, file: &FdEntry, max: usize) -> Result<(Vec<u8>, u64), i32> {
        let cookie = file.offset;
        self.with_file(file, |ns, _, fd| {
            // The current verifier (a stateless client's way to resume a listing).
            let verifier = ns.readdir(fd, DirPos::START, &mut |_| false)?.verifier;
            let mut out = vec![0u8; max];
            let (mut used, mut next) = (0usize, cookie);
            let end = ns.readdir(fd, DirPos { cookie, verifier, eof: false }, &mut |e| {
                let d = Dirent { fileid: e.fileid, cookie: e.cookie, ftype: abi::ftype::UNKNOWN as u16, name: e.name };
                match out.get_mut(used..).and_then(|rest| d.write(rest)) {
                    Some(n) => {
                        used += n;
                        next = e.cookie;
                        true
                    }
                    None => false,
                }
            })?;
            if used == 0 && !end.eof {
                return Err(VfsError::Inval); // the buffer cannot hold one entry
            }
            out.truncate(used);
            Ok((out, next))
        })
    }
}

/// The descriptor entries' file system number of a mount: the low 32 bits of its id, so the
/// same on every node that mounts the same source.
pub fn fs_number(id: MountId) -> u32 {
    id.0 as u32
}
