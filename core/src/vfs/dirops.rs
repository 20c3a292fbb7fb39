//! Path operations: `stat`, `lstat`, `access`, `chdir`, `mkdir`, `unlink`, `rmdir`, `rename`,
//! `link`, `symlink`, `readlink`, `truncate` and `setattr`.
//!
//! Errors follow Linux where it decides: `mkdir`, `link` and `symlink` on `/`, `.` or `..` or an
//! existing name are [`VfsError::Exist`]; `unlink` of those is [`VfsError::IsDir`]; `rmdir(".")`
//! is [`VfsError::Inval`], `rmdir("..")` [`VfsError::NotEmpty`], `rmdir("/")`
//! [`VfsError::Busy`]; `rename` between two mounts is [`VfsError::XDev`] (checked first, on the
//! parents' mounts, as Linux), of `/`, `.`, `..` or a mount point [`VfsError::Busy`]; a trailing
//! `/` on a non-directory is [`VfsError::NotDir`]. `mkdir`, `symlink`, `unlink`, `rmdir`,
//! `rename` and the new name of `link` never follow a trailing symlink, even before a trailing
//! `/` (Linux looks up their parent only); `lstat`, `readlink` and the old name of `link` follow
//! one only before a trailing `/`. `link` and `rename` never cross mounts.

use super::Namespace;
use super::error::{VfsError, VfsResult};
use super::mounts::Pos;
use super::perm::{self, W, X};
use super::types::{Cred, Loc};
use super::walk::{Follow, Last, Obj};
use crate::fs::{Attr, FileType, SetAttr};

impl<const MOUNTS: usize, const FILES: usize, const PATH: usize> Namespace<'_, MOUNTS, FILES, PATH> {
    /// The object `path` names, symlinks followed (or not).
    fn resolve(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], follow: bool) -> VfsResult<Obj> {
        let w = self.walk(false, cred, at, path, if follow { Follow::Always } else { Follow::OnSlash })?;
        w.object(&mut self.mounts)
    }

    /// Attributes of the object `path` names (symlinks followed).
    pub fn stat(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8]) -> VfsResult<Attr> {
        Ok(self.resolve(cred, at, path, true)?.attr)
    }

    /// Attributes of the object `path` names, a trailing symlink itself.
    pub fn lstat(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8]) -> VfsResult<Attr> {
        Ok(self.resolve(cred, at, path, false)?.attr)
    }

    /// The location of the object `path` names (symlinks followed), e.g. to keep as a handle.
    pub fn locate(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8]) -> VfsResult<Loc> {
        let obj = self.resolve(cred, at, path, true)?;
        Ok(self.loc(&obj.pos))
    }

    /// Whether `cred` has the permissions `want` (bits of `R_OK` 4, `W_OK` 2, `X_OK` 1; 0 only
    /// checks existence) on `path`, as `access(2)` with the given (effective) identity. Write
    /// on a read-only mount is [`VfsError::ReadOnly`] for files and directories.
    pub fn access(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], want: u32) -> VfsResult<()> {
        if want & !7 != 0 {
            return Err(VfsError::Inval);
        }
        let obj = self.resolve(cred, at, path, true)?;
        if want & W != 0 && matches!(obj.attr.ftype, FileType::Regular | FileType::Directory) {
            self.mounts.writable(obj.pos.slot)?;
        }
        perm::check(cred, &obj.attr, want)
    }

    /// The directory `path` names as a [`Loc`], for later relative paths: `chdir`. Needs
    /// search permission on it.
    pub fn chdir(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8]) -> VfsResult<Loc> {
        let obj = self.resolve(cred, at, path, true)?;
        if obj.attr.ftype != FileType::Directory {
            return Err(VfsError::NotDir);
        }
        perm::check(cred, &obj.attr, X)?;
        Ok(self.loc(&obj.pos))
    }

    /// Creates the directory `path` with permission bits `mode & 0o7777`.
    pub fn mkdir(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], mode: u32) -> VfsResult<()> {
        let w = self.walk(false, cred, at, path, Follow::Never)?;
        let Some(name) = w.name(&self.buf) else { return Err(VfsError::Exist) };
        if w.child.is_some() {
            return Err(VfsError::Exist);
        }
        let dir = &w.dir;
        self.mounts.writable(dir.pos.slot)?;
        perm::check(cred, &dir.attr, W | X)?;
        let attr = SetAttr { mode: Some(mode & 0o7777), ..SetAttr::default() };
        self.mounts.fs(dir.pos.slot)?.mkdir(&cred.ctx(), &dir.pos.fh, name, &attr)?;
        Ok(())
    }

    /// Creates a symlink `path` whose target is `target` (stored as given; resolved when
    /// followed). An empty target is [`VfsError::NoEnt`], one longer than `PATH` bytes
    /// [`VfsError::NameTooLong`], one with a NUL [`VfsError::Inval`].
    pub fn symlink(&mut self, cred: &Cred<'_>, at: &Loc, target: &[u8], path: &[u8]) -> VfsResult<()> {
        if target.is_empty() {
            return Err(VfsError::NoEnt);
        }
        if target.len() > PATH {
            return Err(VfsError::NameTooLong);
        }
        if target.contains(&0) {
            return Err(VfsError::Inval);
        }
        let w = self.walk(false, cred, at, path, Follow::Never)?;
        let Some(name) = w.name(&self.buf) else { return Err(VfsError::Exist) };
        if w.child.is_some() {
            return Err(VfsError::Exist);
        }
        if w.slash {
            return Err(VfsError::NoEnt);
        }
        let dir = &w.dir;
        self.mounts.writable(dir.pos.slot)?;
        perm::check(cred, &dir.attr, W | X)?;
        self.mounts.fs(dir.pos.slot)?.symlink(&cred.ctx(), &dir.pos.fh, name, target, &SetAttr::default())?;
        Ok(())
    }

    /// Copies the target of the symlink `path` into `out`, cut to its length as `readlink(2)`
    /// does; returns the bytes copied. Not a symlink: [`VfsError::Inval`].
    pub fn readlink(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], out: &mut [u8]) -> VfsResult<usize> {
        let obj = self.resolve(cred, at, path, false)?;
        if obj.attr.ftype != FileType::Symlink {
            return Err(VfsError::Inval);
        }
        let fs = self.mounts.fs(obj.pos.slot)?;
        if obj.attr.size <= out.len() as u64 {
            return Ok(fs.readlink(&obj.pos.fh, out)?.min(out.len()));
        }
        // Too long for `out`: read it whole into the spare buffer, hand over the start.
        if obj.attr.size > PATH as u64 {
            return Err(VfsError::NameTooLong);
        }
        let n = fs.readlink(&obj.pos.fh, &mut self.buf2)?.min(out.len()).min(PATH);
        out.get_mut(..n).ok_or(VfsError::Io)?.copy_from_slice(self.buf2.get(..n).ok_or(VfsError::Io)?);
        Ok(n)
    }

    /// Removes the non-directory `path` (a trailing symlink itself).
    pub fn unlink(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8]) -> VfsResult<()> {
        let w = self.walk(false, cred, at, path, Follow::Never)?;
        let Some(name) = w.name(&self.buf) else { return Err(VfsError::IsDir) };
        self.mounts.writable(w.dir.pos.slot)?;
        let child = w.child.ok_or(VfsError::NoEnt)?;
        if child.attr.ftype == FileType::Directory {
            return Err(VfsError::IsDir);
        }
        if w.slash {
            return Err(VfsError::NotDir);
        }
        perm::may_delete(cred, &w.dir.attr, &child.attr)?;
        self.mounts.fs(w.dir.pos.slot)?.remove(&cred.ctx(), &w.dir.pos.fh, name)?;
        Ok(())
    }

    /// Removes the empty directory `path`.
    pub fn rmdir(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8]) -> VfsResult<()> {
        let w = self.walk(false, cred, at, path, Follow::Never)?;
        let name = match w.last {
            Last::Dot => return Err(VfsError::Inval),
            Last::DotDot => return Err(VfsError::NotEmpty),
            Last::Root => return Err(VfsError::Busy),
            Last::Name { .. } => w.name(&self.buf).ok_or(VfsError::Inval)?,
        };
        self.mounts.writable(w.dir.pos.slot)?;
        let child = w.child.ok_or(VfsError::NoEnt)?;
        if child.attr.ftype != FileType::Directory {
            return Err(VfsError::NotDir);
        }
        if w.mounted.is_some() {
            return Err(VfsError::Busy);
        }
        perm::may_delete(cred, &w.dir.attr, &child.attr)?;
        self.mounts.fs(w.dir.pos.slot)?.rmdir(&cred.ctx(), &w.dir.pos.fh, name)?;
        Ok(())
    }

    /// Renames `from` to `to` (both relative to `at` unless absolute), replacing a compatible
    /// `to` as POSIX `rename`. Between two mounts: [`VfsError::XDev`].
    pub fn rename(&mut self, cred: &Cred<'_>, at: &Loc, from: &[u8], to: &[u8]) -> VfsResult<()> {
        let a = self.walk(false, cred, at, from, Follow::Never)?;
        let b = self.walk(true, cred, at, to, Follow::Never)?;
        if a.dir.pos.slot != b.dir.pos.slot {
            return Err(VfsError::XDev);
        }
        let (Some(from), Some(to)) = (a.name(&self.buf), b.name(&self.buf2)) else { return Err(VfsError::Busy) };
        let slot = a.dir.pos.slot;
        self.mounts.writable(slot)?;
        let src = a.child.ok_or(VfsError::NoEnt)?;
        if a.mounted.is_some() || b.mounted.is_some() {
            return Err(VfsError::Busy);
        }
        let is_dir = src.attr.ftype == FileType::Directory;
        if !is_dir && (a.slash || b.slash) {
            return Err(VfsError::NotDir);
        }
        if let Some(dst) = &b.child
            && dst.pos == src.pos
        {
            return Ok(()); // the same object under both names: POSIX says do nothing
        }
        perm::may_delete(cred, &a.dir.attr, &src.attr)?;
        match &b.child {
            Some(dst) => perm::may_delete(cred, &b.dir.attr, &dst.attr)?,
            None => perm::check(cred, &b.dir.attr, W | X)?,
        }
        if is_dir && a.dir.pos != b.dir.pos {
            perm::check(cred, &src.attr, W)?; // its `..` changes
        }
        self.mounts.fs(slot)?.rename(&cred.ctx(), &a.dir.pos.fh, from, &b.dir.pos.fh, to)?;
        Ok(())
    }

    /// Adds the name `new` for the existing object `old` (a trailing symlink itself). A
    /// directory is [`VfsError::Perm`]; another mount [`VfsError::XDev`].
    pub fn link(&mut self, cred: &Cred<'_>, at: &Loc, old: &[u8], new: &[u8]) -> VfsResult<()> {
        let src = self.resolve(cred, at, old, false)?;
        let b = self.walk(true, cred, at, new, Follow::Never)?;
        let Some(name) = b.name(&self.buf2) else { return Err(VfsError::Exist) };
        if b.child.is_some() {
            return Err(VfsError::Exist);
        }
        if b.slash {
            return Err(VfsError::NoEnt);
        }
        if src.pos.slot != b.dir.pos.slot {
            return Err(VfsError::XDev);
        }
        self.mounts.writable(src.pos.slot)?;
        perm::check(cred, &b.dir.attr, W | X)?;
        if src.attr.ftype == FileType::Directory {
            return Err(VfsError::Perm);
        }
        self.mounts.fs(src.pos.slot)?.link(&cred.ctx(), &src.pos.fh, &b.dir.pos.fh, name)?;
        Ok(())
    }

    /// Sets the size of the regular file `path` (symlinks followed); needs write permission.
    pub fn truncate(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], size: u64) -> VfsResult<()> {
        if size > i64::MAX as u64 {
            return Err(VfsError::Inval);
        }
        let set = SetAttr { size: Some(size), ..SetAttr::default() };
        self.setattr(cred, at, path, true, &set).map(|_| ())
    }

    /// Changes attributes of the object `path` names (`chmod`, `chown`, `utimens`, `truncate`
    /// in one), with Linux's rules (see `perm::vet_setattr`): mode and given times need the
    /// owner, owner changes uid 0, group changes the owner and membership, times set to now the
    /// owner or write permission, a size write permission. Returns the new attributes.
    pub fn setattr(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], follow: bool, set: &SetAttr) -> VfsResult<Attr> {
        let obj = self.resolve(cred, at, path, follow)?;
        self.setattr_obj(cred, &obj.pos, &obj.attr, set)
    }

    /// [`Namespace::setattr`] on an open file (`fchmod`, `fchown`, `futimens`): the same rules,
    /// checked against the file's attributes now, not the descriptor's access mode.
    pub fn fsetattr(&mut self, cred: &Cred<'_>, fd: super::Fd, set: &SetAttr) -> VfsResult<Attr> {
        let f = *self.file(fd)?;
        let pos = Pos { slot: self.mounts.slot_of(f.mount)?, fh: f.handle };
        let attr = self.mounts.getattr(&pos)?;
        self.setattr_obj(cred, &pos, &attr, set)
    }

    fn setattr_obj(&mut self, cred: &Cred<'_>, pos: &Pos, attr: &Attr, set: &SetAttr) -> VfsResult<Attr> {
        self.mounts.writable(pos.slot)?;
        let set = perm::vet_setattr(cred, attr, set)?;
        Ok(self.mounts.fs(pos.slot)?.setattr(&cred.ctx(), &pos.fh, &set)?)
    }
}
