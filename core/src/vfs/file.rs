//! Open files: `open`, `close`, `read`, `write`, `pread`, `pwrite`, `seek`, `fstat`,
//! `ftruncate`, `fsync` and directory listings.
//!
//! `open` follows Linux's `do_open`/`may_open`: the descriptor slot is taken first
//! ([`VfsError::TooManyOpen`]); `O_CREAT|O_EXCL` never follows a trailing symlink; a trailing
//! symlink with `O_NOFOLLOW` is [`VfsError::Loop`]; `O_CREAT` on a directory, or on any path
//! ending in `/` (before its last component is looked up), is [`VfsError::IsDir`]; `O_CREAT|O_DIRECTORY` is [`VfsError::Inval`] (Linux 6.4+);
//! opening a directory for writing or with `O_TRUNC` is [`VfsError::IsDir`]; `O_TRUNC` needs
//! write permission whatever the access mode and truncates regular files only; a file just
//! created is opened without a permission check (its mode may refuse the creator).

use super::Namespace;
use super::error::{VfsError, VfsResult};
use super::mounts::Pos;
use super::perm::{self, R, W};
use super::types::{Cred, DirPos, Fd, Loc, OpenFile, OpenFlags, Whence};
use super::walk::{Follow, Obj, Walked};
use crate::fs::{Attr, CreateHow, DirEntry, FileType, SetAttr, Stability};

impl<const MOUNTS: usize, const FILES: usize, const PATH: usize> Namespace<'_, MOUNTS, FILES, PATH> {
    /// Opens (or creates, with [`OpenFlags::CREAT`], with permission bits `mode & 0o7777`) the
    /// file `path` names, relative to `at` unless absolute; see the module docs for the rules.
    pub fn open(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], flags: OpenFlags, mode: u32) -> VfsResult<Fd> {
        let flags = OpenFlags::from_bits(flags.bits())?;
        let fd = self.free_fd()?;
        let creat = flags.contains(OpenFlags::CREAT);
        if creat && flags.contains(OpenFlags::DIRECTORY) {
            return Err(VfsError::Inval);
        }
        let excl = creat && flags.contains(OpenFlags::EXCL);
        let follow = if creat && path.last() == Some(&b'/') {
            Follow::Never
        } else if flags.contains(OpenFlags::NOFOLLOW) || excl {
            Follow::OnSlash
        } else {
            Follow::Always
        };
        let w = self.walk(false, cred, at, path, follow)?;
        let obj = if creat {
            match self.create(cred, &w, excl, mode)? {
                Some(obj) => return self.install_new(fd, &obj.pos, flags),
                None => w.object(&mut self.mounts)?,
            }
        } else {
            w.object(&mut self.mounts)?
        };
        self.may_open(cred, &obj, flags)?;
        if flags.contains(OpenFlags::TRUNC) && obj.attr.ftype == FileType::Regular {
            let set = SetAttr { size: Some(0), ..SetAttr::default() };
            self.mounts.fs(obj.pos.slot)?.setattr(&cred.ctx(), &obj.pos.fh, &set)?;
        }
        self.install_new(fd, &obj.pos, flags)
    }

    /// The `O_CREAT` half of `open`: the new file, or `None` when the name exists (and may be
    /// opened as it is).
    fn create(&mut self, cred: &Cred<'_>, w: &Walked, excl: bool, mode: u32) -> VfsResult<Option<Obj>> {
        let Some(name) = w.name(&self.buf) else { return Err(VfsError::IsDir) };
        if w.slash {
            return Err(VfsError::IsDir);
        }
        if let Some(child) = w.child {
            if excl {
                return Err(VfsError::Exist);
            }
            if w.mounted.is_some() || child.attr.ftype == FileType::Directory {
                return Err(VfsError::IsDir);
            }
            return Ok(None);
        }
        let dir = &w.dir;
        self.mounts.writable(dir.pos.slot)?;
        perm::check(cred, &dir.attr, W | perm::X)?;
        let how = CreateHow::Guarded(SetAttr { mode: Some(mode & 0o7777), ..SetAttr::default() });
        let fs = self.mounts.fs(dir.pos.slot)?;
        let fh = fs.create(&cred.ctx(), &dir.pos.fh, name, &how)?;
        let pos = Pos { slot: dir.pos.slot, fh };
        Ok(Some(Obj { pos, attr: self.mounts.getattr(&pos)? }))
    }

    /// Linux's `may_open` for an existing object.
    fn may_open(&self, cred: &Cred<'_>, obj: &Obj, flags: OpenFlags) -> VfsResult<()> {
        let a = &obj.attr;
        let write = flags.writable() || flags.contains(OpenFlags::TRUNC);
        match a.ftype {
            FileType::Symlink => return Err(VfsError::Loop),
            FileType::Directory if write => return Err(VfsError::IsDir),
            FileType::Directory => {}
            _ if flags.contains(OpenFlags::DIRECTORY) => return Err(VfsError::NotDir),
            _ => {}
        }
        if write && matches!(a.ftype, FileType::Regular | FileType::Directory) {
            self.mounts.writable(obj.pos.slot)?;
        }
        let want = if flags.readable() { R } else { 0 } | if write { W } else { 0 };
        perm::check(cred, a, want)
    }

    fn install_new(&mut self, fd: Fd, pos: &Pos, flags: OpenFlags) -> VfsResult<Fd> {
        let mount = self.mounts.id(pos.slot)?;
        self.install(fd, OpenFile { mount, handle: pos.fh, offset: 0, flags: flags.kept() })
    }

    /// Closes `fd`. A file open for writing is committed first; a failed commit is reported
    /// (the descriptor is closed all the same), as `close` on an NFS file reports a lost write.
    pub fn close(&mut self, fd: Fd) -> VfsResult<()> {
        let f = *self.file(fd)?;
        let committed = if f.flags.writable() { self.commit(&f) } else { Ok(()) };
        if let Some(slot) = self.files.get_mut(fd.0 as usize) {
            *slot = None;
        }
        committed
    }

    /// Makes the writes to `fd` stable (COMMIT for a remote file).
    pub fn fsync(&mut self, fd: Fd) -> VfsResult<()> {
        let f = *self.file(fd)?;
        if f.flags.writable() { self.commit(&f) } else { Ok(()) }
    }

    fn commit(&mut self, f: &OpenFile) -> VfsResult<()> {
        let slot = self.mounts.slot_of(f.mount)?;
        Ok(self.mounts.fs(slot)?.commit(&f.handle, 0, 0)?)
    }

    /// The open file `fd` and the slot of its mount.
    fn open_file(&self, fd: Fd) -> VfsResult<(OpenFile, usize)> {
        let f = *self.file(fd)?;
        Ok((f, self.mounts.slot_of(f.mount)?))
    }

    fn file_mut(&mut self, fd: Fd) -> VfsResult<&mut OpenFile> {
        self.files.get_mut(fd.0 as usize).and_then(Option::as_mut).ok_or(VfsError::BadFd)
    }

    /// Reads from the position of `fd` into `out`, moving the position on; 0 at the end of the
    /// file. [`VfsError::BadFd`] when not open for reading, [`VfsError::IsDir`] on a directory.
    pub fn read(&mut self, fd: Fd, out: &mut [u8]) -> VfsResult<usize> {
        let offset = self.file(fd)?.offset;
        let n = self.pread(fd, out, offset)?;
        let f = self.file_mut(fd)?;
        f.offset = f.offset.saturating_add(n as u64);
        Ok(n)
    }

    /// Reads at `offset` without moving the position.
    pub fn pread(&mut self, fd: Fd, out: &mut [u8], offset: u64) -> VfsResult<usize> {
        let (f, slot) = self.open_file(fd)?;
        if !f.flags.readable() {
            return Err(VfsError::BadFd);
        }
        if offset > i64::MAX as u64 {
            return Err(VfsError::Inval);
        }
        if out.is_empty() {
            return Ok(0);
        }
        let (n, _eof) = self.mounts.fs(slot)?.read(&f.handle, offset, out)?;
        Ok(n.min(out.len()))
    }

    /// Writes `data` at the position of `fd` (at the end with `O_APPEND`), moving the position
    /// after the data; returns the bytes written (fewer when the back end ran out of space).
    pub fn write(&mut self, cred: &Cred<'_>, fd: Fd, data: &[u8]) -> VfsResult<usize> {
        let offset = self.file(fd)?.offset;
        let (n, end) = self.write_at(cred, fd, data, offset)?;
        self.file_mut(fd)?.offset = end;
        Ok(n)
    }

    /// Writes at `offset` without moving the position. As on Linux, a file opened with
    /// `O_APPEND` is written at its end whatever `offset` says.
    pub fn pwrite(&mut self, cred: &Cred<'_>, fd: Fd, data: &[u8], offset: u64) -> VfsResult<usize> {
        Ok(self.write_at(cred, fd, data, offset)?.0)
    }

    /// Writes at `offset` (or the end); returns the count and the offset after the data.
    fn write_at(&mut self, cred: &Cred<'_>, fd: Fd, data: &[u8], offset: u64) -> VfsResult<(usize, u64)> {
        let (f, slot) = self.open_file(fd)?;
        if !f.flags.writable() {
            return Err(VfsError::BadFd);
        }
        self.mounts.writable(slot)?;
        if data.is_empty() {
            return Ok((0, offset)); // as Linux: zero bytes neither append nor move
        }
        let offset =
            if f.flags.contains(OpenFlags::APPEND) { self.mounts.fs(slot)?.getattr(&f.handle)?.size } else { offset };
        offset.checked_add(data.len() as u64).filter(|&e| e <= i64::MAX as u64).ok_or(VfsError::FBig)?;
        let (n, _) = self.mounts.fs(slot)?.write(&cred.ctx(), &f.handle, offset, data, Stability::Unstable)?;
        let n = n.min(data.len());
        Ok((n, offset + n as u64))
    }

    /// Moves the position of `fd`; returns the new position. A position before the start or
    /// beyond `i64::MAX` is [`VfsError::Inval`]; beyond the end of the file is allowed (a
    /// write there leaves a hole).
    pub fn seek(&mut self, fd: Fd, whence: Whence, offset: i64) -> VfsResult<u64> {
        let (f, slot) = self.open_file(fd)?;
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => f.offset,
            Whence::End => self.mounts.fs(slot)?.getattr(&f.handle)?.size,
        };
        let to = i128::from(base) + i128::from(offset);
        if !(0..=i128::from(i64::MAX)).contains(&to) {
            return Err(VfsError::Inval);
        }
        self.file_mut(fd)?.offset = to as u64;
        Ok(to as u64)
    }

    /// Attributes of the open file `fd`.
    pub fn fstat(&mut self, fd: Fd) -> VfsResult<Attr> {
        let (f, slot) = self.open_file(fd)?;
        self.mounts.getattr(&Pos { slot, fh: f.handle })
    }

    /// Sets the size of the open file `fd` (no permission check: the descriptor must be open
    /// for writing, else [`VfsError::Inval`], as Linux).
    pub fn ftruncate(&mut self, cred: &Cred<'_>, fd: Fd, size: u64) -> VfsResult<()> {
        let (f, slot) = self.open_file(fd)?;
        if !f.flags.writable() || size > i64::MAX as u64 {
            return Err(VfsError::Inval);
        }
        let pos = Pos { slot, fh: f.handle };
        match self.mounts.getattr(&pos)?.ftype {
            FileType::Regular => {}
            FileType::Directory => return Err(VfsError::IsDir),
            _ => return Err(VfsError::Inval),
        }
        self.mounts.writable(slot)?;
        let set = SetAttr { size: Some(size), ..SetAttr::default() };
        self.mounts.fs(slot)?.setattr(&cred.ctx(), &f.handle, &set)?;
        Ok(())
    }

    /// Lists the directory open as `fd` from `pos`, calling `emit` per entry (`.` and `..`
    /// included) until it returns false or the directory ends; returns the position to resume
    /// from. [`VfsError::BadFd`] when not open for reading; [`VfsError::Inval`] when `pos` is
    /// no longer valid (start again from [`DirPos::START`]).
    pub fn readdir(&mut self, fd: Fd, pos: DirPos, emit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> VfsResult<DirPos> {
        let (f, slot) = self.open_file(fd)?;
        if !f.flags.readable() {
            return Err(VfsError::BadFd);
        }
        self.list(&Pos { slot, fh: f.handle }, pos, emit)
    }

    /// Lists the directory `path` names (read permission needed), as [`Namespace::readdir`].
    pub fn readdir_at(
        &mut self,
        cred: &Cred<'_>,
        at: &Loc,
        path: &[u8],
        pos: DirPos,
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> VfsResult<DirPos> {
        let w = self.walk(false, cred, at, path, Follow::Always)?;
        let dir = w.object(&mut self.mounts)?;
        if dir.attr.ftype != FileType::Directory {
            return Err(VfsError::NotDir);
        }
        perm::check(cred, &dir.attr, R)?;
        self.list(&dir.pos, pos, emit)
    }

    fn list(&mut self, dir: &Pos, pos: DirPos, emit: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> VfsResult<DirPos> {
        let mut cookie = pos.cookie;
        let end = self.mounts.fs(dir.slot)?.readdir(&dir.fh, pos.cookie, pos.verifier, &mut |e| {
            let take = emit(e);
            if take {
                cookie = e.cookie;
            }
            take
        })?;
        Ok(DirPos { cookie, verifier: end.verifier, eof: end.eof })
    }
}
