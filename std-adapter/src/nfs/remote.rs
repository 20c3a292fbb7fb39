//! [`RemoteFs`]: an NFS export as a [`FileSystem`], so that a namespace mounts it like a local
//! one.
//!
//! Handles: a [`Handle`] holds at most 56 bytes and an NFSv3 handle up to 64. A server handle
//! of at most 55 bytes is carried in the [`Handle`] itself behind a `0` tag byte (so it means
//! the same thing in any process, as the stateless design wants); a longer one is kept in a
//! table of this `RemoteFs` and named by a `1` tag byte and its 8-byte index (valid only in
//! this instance: a process that moves must carry the server handle, not this one).
//!
//! Errors: NFS statuses map back to the [`FsError`] they stand for; a transport failure (the
//! server unreachable, a soft time-out, a protocol error) is [`FsError::Io`]. Identity: calls
//! go out with the session's AUTH_SYS credential; the [`Ctx`] of a call is not sent (the server
//! owns the clock, and the credential was chosen when the session was opened).

use std::collections::HashMap;

use tern_core::fs::{
    Attr, CreateHow, Ctx, DirEntry, FileSystem, FileType, FsError, FsInfo, FsResult, FsStat, Handle, MAX_HANDLE,
    NodeKind, ReaddirEnd, SetAttr, SetTime, Stability, Time,
};
use tern_core::nfs3::client::Fh;
use tern_core::nfs3::{
    self, CreateHow3, DeviceData3, FType3, Fattr3, MknodData3, NfsStat3, NfsTime, Sattr3, SpecData3, StableHow,
    Verifier, fsf,
};

use super::readahead::ReadAhead;
use super::{NfsError, Session};

/// An NFS export behind the [`FileSystem`] trait; see the module docs.
pub struct RemoteFs {
    s: Session,
    info: FsInfo,
    verifier: [u8; 8],
    long: Vec<Fh>,
    long_index: HashMap<Fh, u64>,
    ahead: ReadAhead,
}

fn status_error(s: NfsStat3) -> FsError {
    use NfsStat3 as S;
    match s {
        S::Perm => FsError::Perm,
        S::NoEnt | S::NxIo | S::NoDev => FsError::NoEnt,
        S::Io => FsError::Io,
        S::Acces => FsError::Access,
        S::Exist => FsError::Exist,
        S::XDev => FsError::XDev,
        S::NotDir => FsError::NotDir,
        S::IsDir => FsError::IsDir,
        S::Inval => FsError::Inval,
        S::FBig => FsError::FBig,
        S::NoSpc => FsError::NoSpace,
        S::RoFs => FsError::ReadOnly,
        S::MLink => FsError::MLink,
        S::NameTooLong => FsError::NameTooLong,
        S::NotEmpty => FsError::NotEmpty,
        S::DQuot => FsError::DQuot,
        S::Stale => FsError::Stale,
        S::BadHandle => FsError::BadHandle,
        S::BadCookie => FsError::BadCookie,
        S::NotSupp => FsError::NotSupp,
        S::NotSync => FsError::NotSync,
        S::BadType => FsError::BadType,
        _ => FsError::ServerFault,
    }
}

fn fs_error(e: NfsError) -> FsError {
    match e {
        NfsError::Status(s) => status_error(s),
        other => {
            tracing::debug!("remote file system: {other}");
            FsError::Io
        }
    }
}

fn ftype(t: FType3) -> FileType {
    match t {
        FType3::Dir => FileType::Directory,
        FType3::Blk => FileType::Block,
        FType3::Chr => FileType::Char,
        FType3::Lnk => FileType::Symlink,
        FType3::Sock => FileType::Socket,
        FType3::Fifo => FileType::Fifo,
        _ => FileType::Regular,
    }
}

fn time(t: NfsTime) -> Time {
    Time { secs: t.seconds, nsecs: t.nseconds }
}

/// Attributes of the NFS form as the trait's.
pub(crate) fn attr(a: &Fattr3) -> Attr {
    Attr {
        ftype: ftype(a.ftype),
        mode: a.mode & 0o7777,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        size: a.size,
        used: a.used,
        rdev: (a.rdev.specdata1, a.rdev.specdata2),
        fsid: a.fsid,
        fileid: a.fileid,
        atime: time(a.atime),
        mtime: time(a.mtime),
        ctime: time(a.ctime),
    }
}

fn set_time(t: SetTime) -> nfs3::SetTime {
    match t {
        SetTime::Keep => nfs3::SetTime::DontChange,
        SetTime::ServerTime => nfs3::SetTime::ServerTime,
        SetTime::Client(t) => nfs3::SetTime::ClientTime(NfsTime { seconds: t.secs, nseconds: t.nsecs }),
    }
}

fn sattr(s: &SetAttr) -> Sattr3 {
    Sattr3 { mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: set_time(s.atime), mtime: set_time(s.mtime) }
}

fn name(b: &[u8]) -> FsResult<&str> {
    std::str::from_utf8(b).map_err(|_| FsError::Inval)
}

impl RemoteFs {
    /// The export of `session` as a file system (FSINFO and PATHCONF read once here).
    pub fn new(mut s: Session) -> Result<Self, NfsError> {
        let root = s.root();
        let fi = *s.fsinfo();
        let pc = s.pathconf(&root)?;
        let info = FsInfo {
            max_file_size: fi.maxfilesize,
            max_links: pc.linkmax,
            max_name: pc.name_max,
            time_delta: time(fi.time_delta),
            links: fi.properties & fsf::LINK != 0,
            symlinks: fi.properties & fsf::SYMLINK != 0,
            special_files: true,
            case_insensitive: pc.case_insensitive,
        };
        let mut fs = RemoteFs {
            s,
            info,
            verifier: [0; 8],
            long: Vec::new(),
            long_index: HashMap::new(),
            ahead: ReadAhead::default(),
        };
        // A long root handle is long handle 0 (what `root` names).
        fs.handle(&root);
        Ok(fs)
    }

    /// The session underneath (for streaming transfers).
    pub fn session(&mut self) -> &mut Session {
        self.ahead.reset(&mut self.s);
        &mut self.s
    }

    /// The trait handle for a server handle.
    pub fn handle(&mut self, fh: &Fh) -> Handle {
        let b = fh.as_bytes();
        let mut out = [0u8; MAX_HANDLE];
        if b.len() < MAX_HANDLE {
            out[1..=b.len()].copy_from_slice(b);
            return checked(&out[..=b.len()]);
        }
        let i = match self.long_index.get(fh) {
            Some(i) => *i,
            None => {
                self.long.push(*fh);
                let i = self.long.len() as u64 - 1;
                self.long_index.insert(*fh, i);
                i
            }
        };
        out[0] = 1;
        out[1..9].copy_from_slice(&i.to_be_bytes());
        checked(&out[..9])
    }

    /// The server handle a trait handle names.
    pub fn server_handle(&self, h: &Handle) -> FsResult<Fh> {
        match h.as_bytes().split_first() {
            Some((0, rest)) => Fh::new(rest).ok_or(FsError::BadHandle),
            Some((1, idx)) => {
                let i = u64::from_be_bytes(idx.try_into().map_err(|_| FsError::BadHandle)?);
                self.long.get(usize::try_from(i).map_err(|_| FsError::BadHandle)?).copied().ok_or(FsError::Stale)
            }
            _ => Err(FsError::BadHandle),
        }
    }

    fn child<'n>(&self, dir: &Handle, n: &'n [u8]) -> FsResult<(Fh, &'n str)> {
        let d = self.server_handle(dir)?;
        Ok((d, name(n)?))
    }
}

/// A handle of bytes whose length was checked.
fn checked(b: &[u8]) -> Handle {
    Handle::new(b).expect("at most MAX_HANDLE bytes")
}

impl FileSystem for RemoteFs {
    fn root(&self) -> Handle {
        let b = self.s.root();
        let b = b.as_bytes();
        let mut out = [0u8; MAX_HANDLE];
        if b.len() < MAX_HANDLE {
            out[1..=b.len()].copy_from_slice(b);
            return checked(&out[..=b.len()]);
        }
        // A root handle of 56 bytes or more is the first long handle (see `new`).
        out[0] = 1;
        checked(&out[..9])
    }

    fn info(&self) -> FsInfo {
        self.info
    }

    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr> {
        self.ahead.reset(&mut self.s);
        let h = self.server_handle(fh)?;
        self.s.getattr(&h).map(|a| attr(&a)).map_err(fs_error)
    }

    fn setattr(&mut self, _: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        self.ahead.reset(&mut self.s);
        let h = self.server_handle(fh)?;
        match self.s.setattr(&h, sattr(set)).map_err(fs_error)? {
            Some(a) => Ok(attr(&a)),
            None => self.getattr(fh),
        }
    }

    fn lookup(&mut self, dir: &Handle, n: &[u8]) -> FsResult<Handle> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        let (h, _) = self.s.lookup(&d, n).map_err(fs_error)?;
        Ok(self.handle(&h))
    }

    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        self.ahead.reset(&mut self.s);
        let h = self.server_handle(fh)?;
        let t = self.s.readlink(&h).map_err(fs_error)?;
        out.get_mut(..t.len()).ok_or(FsError::ServerFault)?.copy_from_slice(&t);
        Ok(t.len())
    }

    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        let h = self.server_handle(fh)?;
        if let Some(r) = self.ahead.read(&mut self.s, &h, offset, out) {
            return r.map_err(fs_error);
        }
        let mut done = 0;
        let rsize = self.s.io_sizes().rsize as usize;
        while done < out.len() {
            let want = (out.len() - done).min(rsize) as u32;
            let (data, eof) = self.s.read(&h, offset + done as u64, want).map_err(fs_error)?;
            let n = data.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&data[..n]);
            done += n;
            if eof {
                return Ok((done, true));
            }
            if n == 0 {
                return Err(FsError::Io);
            }
        }
        Ok((done, false))
    }

    fn write(
        &mut self,
        _: &Ctx,
        fh: &Handle,
        offset: u64,
        data: &[u8],
        stable: Stability,
    ) -> FsResult<(usize, Stability)> {
        self.ahead.reset(&mut self.s);
        let h = self.server_handle(fh)?;
        let how = match stable {
            Stability::Unstable => StableHow::Unstable,
            Stability::DataSync => StableHow::DataSync,
            Stability::FileSync => StableHow::FileSync,
        };
        let wsize = self.s.io_sizes().wsize as usize;
        let mut done = 0;
        let mut least = Stability::FileSync;
        while done < data.len() {
            let part = &data[done..(done + wsize).min(data.len())];
            let (n, got, Verifier(v)) = self.s.write(&h, offset + done as u64, part, how).map_err(fs_error)?;
            self.verifier = v;
            least = least.min(match got {
                StableHow::FileSync => Stability::FileSync,
                StableHow::DataSync => Stability::DataSync,
                _ => Stability::Unstable,
            });
            if n == 0 {
                break;
            }
            done += n as usize;
        }
        if done == 0 && !data.is_empty() {
            return Err(FsError::Io);
        }
        Ok((done, least))
    }

    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()> {
        self.ahead.reset(&mut self.s);
        let h = self.server_handle(fh)?;
        self.verifier = self.s.commit(&h, offset, count).map_err(fs_error)?.0;
        Ok(())
    }

    fn write_verifier(&self) -> [u8; 8] {
        self.verifier
    }

    fn create(&mut self, _: &Ctx, dir: &Handle, n: &[u8], how: &CreateHow) -> FsResult<Handle> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        let how = match how {
            CreateHow::Unchecked(a) => CreateHow3::Unchecked(sattr(a)),
            CreateHow::Guarded(a) => CreateHow3::Guarded(sattr(a)),
            CreateHow::Exclusive(v) => CreateHow3::Exclusive(Verifier(*v)),
        };
        let h = self.s.create(&d, n, how).map_err(fs_error)?;
        Ok(self.handle(&h))
    }

    fn mkdir(&mut self, _: &Ctx, dir: &Handle, n: &[u8], a: &SetAttr) -> FsResult<Handle> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        let h = self.s.mkdir(&d, n, sattr(a)).map_err(fs_error)?;
        Ok(self.handle(&h))
    }

    fn symlink(&mut self, _: &Ctx, dir: &Handle, n: &[u8], target: &[u8], a: &SetAttr) -> FsResult<Handle> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        let h = self.s.symlink(&d, n, target, sattr(a)).map_err(fs_error)?;
        Ok(self.handle(&h))
    }

    fn mknod(&mut self, _: &Ctx, dir: &Handle, n: &[u8], kind: NodeKind, a: &SetAttr) -> FsResult<Handle> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        let dev = |(x, y)| DeviceData3 { dev_attributes: sattr(a), spec: SpecData3 { specdata1: x, specdata2: y } };
        let what = match kind {
            NodeKind::Char(x, y) => MknodData3::Chr(dev((x, y))),
            NodeKind::Block(x, y) => MknodData3::Blk(dev((x, y))),
            NodeKind::Socket => MknodData3::Sock(sattr(a)),
            NodeKind::Fifo => MknodData3::Fifo(sattr(a)),
        };
        let h = self.s.mknod(&d, n, what).map_err(fs_error)?;
        Ok(self.handle(&h))
    }

    fn remove(&mut self, _: &Ctx, dir: &Handle, n: &[u8]) -> FsResult<()> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        self.s.remove(&d, n).map_err(fs_error)
    }

    fn rmdir(&mut self, _: &Ctx, dir: &Handle, n: &[u8]) -> FsResult<()> {
        self.ahead.reset(&mut self.s);
        let (d, n) = self.child(dir, n)?;
        self.s.rmdir(&d, n).map_err(fs_error)
    }

    fn rename(&mut self, _: &Ctx, from_dir: &Handle, from: &[u8], to_dir: &Handle, to: &[u8]) -> FsResult<()> {
        self.ahead.reset(&mut self.s);
        let (fd, from) = self.child(from_dir, from)?;
        let td = self.server_handle(to_dir)?;
        self.s.rename(&fd, from, &td, name(to)?).map_err(fs_error)
    }

    fn link(&mut self, _: &Ctx, fh: &Handle, dir: &Handle, n: &[u8]) -> FsResult<()> {
        self.ahead.reset(&mut self.s);
        let f = self.server_handle(fh)?;
        let (d, n) = self.child(dir, n)?;
        self.s.link(&f, &d, n).map_err(fs_error)
    }

    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        self.ahead.reset(&mut self.s);
        let d = self.server_handle(dir)?;
        let (mut cookie, mut verf) = (cookie, Verifier(verifier));
        let count = self.s.io_sizes().dtsize;
        loop {
            let (entries, v, eof) = self.s.readdir_page(&d, cookie, verf, count).map_err(fs_error)?;
            verf = v;
            for (fileid, n, c) in &entries {
                if !emit(&DirEntry { fileid: *fileid, name: n, cookie: *c }) {
                    return Ok(ReaddirEnd { verifier: verf.0, eof: false });
                }
                cookie = *c;
            }
            if eof {
                return Ok(ReaddirEnd { verifier: verf.0, eof: true });
            }
            if entries.is_empty() {
                return Err(FsError::Io);
            }
        }
    }

    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat> {
        self.ahead.reset(&mut self.s);
        let h = self.server_handle(fh)?;
        let st = self.s.fsstat(&h).map_err(fs_error)?;
        Ok(FsStat {
            total_bytes: st.tbytes,
            free_bytes: st.fbytes,
            avail_bytes: st.abytes,
            total_files: st.tfiles,
            free_files: st.ffiles,
            avail_files: st.afiles,
        })
    }
}
