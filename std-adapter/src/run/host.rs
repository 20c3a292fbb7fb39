//! The host side of a process's system calls: files through a [`FileSystem`] (paths resolved
//! one component at a time from its root, so a guest never leaves it), channels between the
//! processes of this node, and the console.
//!
//! Stateless files: a descriptor is (fs id, handle, offset, flags) in the process's own
//! control block, so nothing here remembers open files. READDIR asks the back end for the
//! directory's current cookie verifier on every call (a listing resumed after a change the
//! back end cannot follow restarts with `-EINVAL`, like NFS's BAD_COOKIE).

use std::collections::{HashMap, VecDeque};

use tern_core::fs::{CreateHow, Ctx, FileSystem, FileType, FsError, Handle, SetAttr, Stability, Time};
use tern_core::proc::abi::{self, Dirent, Stat, errno};
use tern_core::proc::{ChanEnd, HostCall, PageStore, Process, Reply};

/// Messages waiting at each end of one channel.
#[derive(Debug, Default)]
struct Channel {
    /// `queues[e]`: messages to be received at end `e`.
    queues: [VecDeque<Vec<u8>>; 2],
    /// Whether each end is open (by some process).
    open: [bool; 2],
    /// Whether each end was closed after being open.
    closed: [bool; 2],
}

/// Files, channels and console output of the processes of one node.
pub struct Services<F> {
    /// The file system guests see (file system id 0), if any.
    pub fs: Option<F>,
    /// Identity of created files and time stamps.
    pub ctx: Ctx,
    channels: HashMap<u64, Channel>,
    names: HashMap<Vec<u8>, u64>,
    next_channel: u64,
    /// Set when a channel changed (a message or a close): parked processes should retry.
    pub woke: bool,
}

impl<F: FileSystem> Services<F> {
    /// Services over `fs` (or without files).
    pub fn new(fs: Option<F>) -> Self {
        Services {
            fs,
            ctx: Ctx { now: Time::default(), uid: 0, gid: 0 },
            channels: HashMap::new(),
            names: HashMap::new(),
            next_channel: 1,
            woke: false,
        }
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
                let handle = self.open(&path, flags)?;
                Ok(Reply::Opened { fs: 0, handle })
            }
            HostCall::Read { file, buf, .. } => {
                let mut data = vec![0u8; buf.len as usize];
                let (n, _) = self.files()?.read(&file.handle, file.offset, &mut data).map_err(abi::fs_errno)?;
                p.write_guest(store, buf.addr, &data[..n]).map_err(|_| errno::EFAULT)?;
                Ok(Reply::Value(n as u64))
            }
            HostCall::Write { file, buf, .. } => {
                let data = guest(p, store, buf.addr, buf.len)?;
                let ctx = self.ctx;
                let fs = self.files()?;
                let at = if file.flags & abi::O_APPEND != 0 {
                    fs.getattr(&file.handle).map_err(abi::fs_errno)?.size
                } else {
                    file.offset
                };
                let (n, _) = fs.write(&ctx, &file.handle, at, &data, Stability::Unstable).map_err(abi::fs_errno)?;
                Ok(Reply::Value(n as u64))
            }
            HostCall::SeekEnd { file, offset, .. } => {
                let size = self.files()?.getattr(&file.handle).map_err(abi::fs_errno)?.size;
                match i64::try_from(size).ok().and_then(|s| s.checked_add(offset)) {
                    Some(n) if n >= 0 => Ok(Reply::Value(n as u64)),
                    _ => Err(errno::EINVAL),
                }
            }
            HostCall::Fstat { file, buf, .. } => {
                let a = self.files()?.getattr(&file.handle).map_err(abi::fs_errno)?;
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
                let (data, cookie) = self.readdir(&file.handle, file.offset, buf.len as usize)?;
                p.write_guest(store, buf.addr, &data).map_err(|_| errno::EFAULT)?;
                Ok(Reply::Listed { len: data.len() as u32, cookie })
            }
            HostCall::ChanOpen { name, end } => {
                let name = guest(p, store, name.addr, name.len)?;
                Ok(Reply::ChanOpened(self.chan_open(name, end)?))
            }
            HostCall::ChanClose { chan, .. } => {
                if let Some(c) = self.channels.get_mut(&chan.channel) {
                    c.closed[usize::from(chan.end & 1)] = true;
                    self.woke = true;
                }
                Ok(Reply::Value(0))
            }
            HostCall::ChanSend { chan, buf, .. } => {
                let msg = guest(p, store, buf.addr, buf.len)?;
                let c = self.channels.get_mut(&chan.channel).ok_or(errno::EBADF)?;
                let peer = usize::from(1 - (chan.end & 1));
                if c.closed[peer] {
                    return Err(errno::EPIPE);
                }
                c.queues[peer].push_back(msg);
                self.woke = true;
                Ok(Reply::Value(u64::from(buf.len)))
            }
            HostCall::ChanRecv { chan, buf, .. } => {
                let c = self.channels.get_mut(&chan.channel).ok_or(errno::EBADF)?;
                let me = usize::from(chan.end & 1);
                match c.queues[me].front() {
                    Some(m) if m.len() > buf.len as usize => Err(errno::EMSGSIZE),
                    Some(_) => {
                        let m = c.queues[me].pop_front().unwrap_or_default();
                        p.write_guest(store, buf.addr, &m).map_err(|_| errno::EFAULT)?;
                        Ok(Reply::Value(m.len() as u64))
                    }
                    None if c.closed[1 - me] => Ok(Reply::Value(0)),
                    None => Ok(Reply::Park),
                }
            }
        })();
        r.unwrap_or_else(Reply::Error)
    }

    fn files(&mut self) -> Result<&mut F, i32> {
        self.fs.as_mut().ok_or(errno::ENOENT)
    }

    /// Resolves `path` from the root (absolute or not: the root is the guest's `/`).
    fn open(&mut self, path: &[u8], flags: u32) -> Result<Handle, i32> {
        let ctx = self.ctx;
        let fs = self.files()?;
        let mut parts: Vec<&[u8]> = path.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
        let last = parts.pop();
        let mut dir = fs.root();
        for c in parts {
            dir = fs.lookup(&dir, c).map_err(abi::fs_errno)?;
        }
        let Some(name) = last else { return check_open(fs, dir, flags) };
        let h = match fs.lookup(&dir, name) {
            Ok(_) if flags & abi::O_CREAT != 0 && flags & abi::O_EXCL != 0 => return Err(errno::EEXIST),
            Ok(h) => h,
            Err(FsError::NoEnt) if flags & abi::O_CREAT != 0 => {
                let attr = SetAttr { mode: Some(0o644), ..SetAttr::default() };
                fs.create(&ctx, &dir, name, &CreateHow::Guarded(attr)).map_err(abi::fs_errno)?
            }
            Err(e) => return Err(abi::fs_errno(e)),
        };
        let h = check_open(fs, h, flags)?;
        if flags & abi::O_TRUNC != 0 && flags & abi::O_ACCMODE != abi::O_RDONLY {
            let set = SetAttr { size: Some(0), ..SetAttr::default() };
            fs.setattr(&ctx, &h, &set).map_err(abi::fs_errno)?;
        }
        Ok(h)
    }

    fn readdir(&mut self, dir: &Handle, cookie: u64, max: usize) -> Result<(Vec<u8>, u64), i32> {
        let fs = self.files()?;
        // The current verifier (a stateless client's way to resume a listing).
        let verifier = fs.readdir(dir, 0, [0; 8], &mut |_| false).map_err(abi::fs_errno)?.verifier;
        let mut out = vec![0u8; max];
        let (mut used, mut next) = (0usize, cookie);
        let end = fs
            .readdir(dir, cookie, verifier, &mut |e| {
                let d = Dirent { fileid: e.fileid, cookie: e.cookie, ftype: abi::ftype::UNKNOWN as u16, name: e.name };
                match out.get_mut(used..).and_then(|rest| d.write(rest)) {
                    Some(n) => {
                        used += n;
                        next = e.cookie;
                        true
                    }
                    None => false,
                }
            })
            .map_err(abi::fs_errno)?;
        if used == 0 && !end.eof {
            return Err(errno::EINVAL); // the buffer cannot hold one entry
        }
        out.truncate(used);
        Ok((out, next))
    }

    fn chan_open(&mut self, name: Vec<u8>, end: u8) -> Result<ChanEnd, i32> {
        let end = end & 1;
        let id = match self.names.get(&name) {
            Some(id) => *id,
            None => {
                let id = self.next_channel;
                self.next_channel += 1;
                self.names.insert(name, id);
                self.channels.insert(id, Channel::default());
                id
            }
        };
        let c = self.channels.get_mut(&id).ok_or(errno::EBADF)?;
        if c.open[usize::from(end)] {
            return Err(errno::EEXIST);
        }
        c.open[usize::from(end)] = true;
        Ok(ChanEnd { channel: id, end })
    }
}

fn check_open<F: FileSystem>(fs: &mut F, h: Handle, flags: u32) -> Result<Handle, i32> {
    let a = fs.getattr(&h).map_err(abi::fs_errno)?;
    let is_dir = a.ftype == FileType::Directory;
    if flags & abi::O_DIRECTORY != 0 && !is_dir {
        return Err(errno::ENOTDIR);
    }
    if is_dir && flags & abi::O_ACCMODE != abi::O_RDONLY {
        return Err(errno::EISDIR);
    }
    Ok(h)
}
