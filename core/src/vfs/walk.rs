//! Path resolution without allocation, in one buffer of `PATH` bytes.
//!
//! The path still to walk sits at the *end* of the buffer (`buf[i..]`); each component is
//! consumed by moving `i` forward, so the bytes before `i` are free. A symlink met with the
//! rest of the path at `buf[i..]` is read into `buf[..i]` and moved to end at `i`: the new path
//! to walk is the target followed by the rest (which starts with `/` or is empty), without any
//! copy of the rest. So one buffer suffices for any number of links, and a link whose target
//! does not fit in front of the rest is [`VfsError::NameTooLong`] (the expanded path would
//! exceed the limit). At most [`Limits::max_symlinks`] links are followed per resolution
//! ([`VfsError::Loop`] beyond), which bounds the work: every expansion adds at most `PATH`
//! bytes to walk.
//!
//! Every directory searched needs search (`x`) permission, `..` included. Components longer
//! than [`Limits::max_name`] are [`VfsError::NameTooLong`]; a NUL byte in a path or a link
//! target is [`VfsError::Inval`]; an empty path or link target is [`VfsError::NoEnt`].

use super::error::{VfsError, VfsResult};
use super::mounts::{Mounts, Pos, ROOT};
use super::perm::{self, X};
use super::types::{Cred, Limits, MAX_NAME};
use crate::fs::{Attr, FileType};

/// An object and its attributes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Obj {
    pub(super) pos: Pos,
    pub(super) attr: Attr,
}

/// Whether a trailing symlink is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Follow {
    /// Always (`stat`, `open`).
    Always,
    /// Only when the path ends with `/` (`lstat`, `readlink`: Linux's rule that a trailing
    /// slash makes the last component a directory to look up).
    OnSlash,
    /// Never: calls that create or remove the last name (`mkdir`, `unlink`, `rename`, ...,
    /// and `open` with `O_CREAT` of a path ending in `/`, EISDIR before any lookup).
    Never,
}

/// What the last component of a path was (Linux's `LAST_ROOT`, `LAST_DOT`, `LAST_DOTDOT`,
/// `LAST_NORM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Last {
    /// The path was only slashes (or a symlink to `/`).
    Root,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// A name, at `buf[start..end]`.
    Name { start: usize, end: usize },
}

/// Where a walk stopped: the directory holding the last component, and that component.
#[derive(Debug, Clone, Copy)]
pub(super) struct Walked {
    /// The directory holding the last name, or the one `.` or `..` is taken in (as Linux's
    /// parent lookup: it decides EXDEV); for [`Last::Root`] the root itself.
    pub(super) dir: Obj,
    pub(super) last: Last,
    /// For a name: the object under that name in `dir`'s file system (not crossed into a
    /// mount on it), `None` when the name does not exist. Otherwise the object itself.
    pub(super) child: Option<Obj>,
    /// For a name: the slot of the mount whose mount point `child` is.
    pub(super) mounted: Option<usize>,
    /// The path ended with `/` after the last component (it must name a directory).
    pub(super) slash: bool,
}

impl Walked {
    /// The object the path names, crossed into a mount on it; [`VfsError::NoEnt`] when the
    /// last name does not exist, [`VfsError::NotDir`] for a non-directory with a trailing `/`.
    pub(super) fn object<const M: usize>(&self, mounts: &mut Mounts<'_, M>) -> VfsResult<Obj> {
        let child = self.child.ok_or(VfsError::NoEnt)?;
        let obj = match self.mounted {
            Some(slot) => {
                let pos = mounts.root_of(slot)?;
                Obj { pos, attr: mounts.getattr(&pos)? }
            }
            None => child,
        };
        if self.slash && obj.attr.ftype != FileType::Directory {
            return Err(VfsError::NotDir);
        }
        Ok(obj)
    }

    /// The last name's bytes in `buf`, or `None` for `/`, `.` and `..`.
    pub(super) fn name<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        match self.last {
            Last::Name { start, end } => buf.get(start..end),
            _ => None,
        }
    }
}

impl<const M: usize> Mounts<'_, M> {
    /// Resolves `path` from `start` (or from the namespace root when it begins with `/`) up to
    /// its last component, in `buf`. The last component is looked up; a symlink there is
    /// followed as `follow` says.
    pub(super) fn walk(
        &mut self,
        buf: &mut [u8],
        cred: &Cred<'_>,
        limits: &Limits,
        start: Pos,
        path: &[u8],
        follow: Follow,
    ) -> VfsResult<Walked> {
        let cap = buf.len();
        let first = *path.first().ok_or(VfsError::NoEnt)?;
        if path.len() > cap {
            return Err(VfsError::NameTooLong);
        }
        if path.contains(&0) {
            return Err(VfsError::Inval);
        }
        let mut i = cap - path.len();
        buf.get_mut(i..).ok_or(VfsError::NameTooLong)?.copy_from_slice(path);
        let max_name = limits.max_name.min(MAX_NAME);
        let mut cur = if first == b'/' { self.root_of(ROOT)? } else { start };
        let mut cur_attr = self.getattr(&cur)?;
        let mut hops = 0u32;
        loop {
            while buf.get(i) == Some(&b'/') {
                i += 1;
            }
            let here = Obj { pos: cur, attr: cur_attr };
            if i >= cap {
                let slash = true;
                return Ok(Walked { dir: here, last: Last::Root, child: Some(here), mounted: None, slash });
            }
            let s = i;
            while buf.get(i).is_some_and(|&b| b != b'/') {
                i += 1;
            }
            let mut j = i;
            while buf.get(j) == Some(&b'/') {
                j += 1;
            }
            let (last, slash) = (j >= cap, j >= cap && i < cap);
            if i - s > max_name {
                return Err(VfsError::NameTooLong);
            }
            if cur_attr.ftype != FileType::Directory {
                return Err(VfsError::NotDir);
            }
            perm::check(cred, &cur_attr, X)?;
            let comp = buf.get(s..i).ok_or(VfsError::Inval)?;
            if comp == b"." || comp == b".." {
                if comp == b".." {
                    cur = self.dotdot(cur)?;
                    cur_attr = self.getattr(&cur)?;
                }
                if last {
                    let there = Obj { pos: cur, attr: cur_attr };
                    let last = if comp == b"." { Last::Dot } else { Last::DotDot };
                    return Ok(Walked { dir: here, last, child: Some(there), mounted: None, slash });
                }
                continue;
            }
            let name = Last::Name { start: s, end: i };
            let found = match self.lookup(&cur, comp) {
                Ok(p) => p,
                Err(VfsError::NoEnt) if last => {
                    return Ok(Walked { dir: here, last: name, child: None, mounted: None, slash });
                }
                Err(e) => return Err(e),
            };
            let attr = self.getattr(&found)?;
            let follow = match follow {
                Follow::Always => true,
                Follow::OnSlash => slash,
                Follow::Never => false,
            };
            if attr.ftype == FileType::Symlink && (!last || follow) {
                hops += 1;
                if hops > limits.max_symlinks {
                    return Err(VfsError::Loop);
                }
                i = self.expand(buf, &found, &attr, i)?;
                if buf.get(i) == Some(&b'/') {
                    cur = self.root_of(ROOT)?;
                    cur_attr = self.getattr(&cur)?;
                }
                continue;
            }
            let mounted = self.covering(&found);
            if last {
                return Ok(Walked { dir: here, last: name, child: Some(Obj { pos: found, attr }), mounted, slash });
            }
            match mounted {
                Some(slot) => {
                    cur = self.root_of(slot)?;
                    cur_attr = self.getattr(&cur)?;
                }
                None => (cur, cur_attr) = (found, attr),
            }
        }
    }

    /// Reads the target of `link` in front of `buf[i..]`, returning where the new path starts.
    fn expand(&mut self, buf: &mut [u8], link: &Pos, attr: &Attr, i: usize) -> VfsResult<usize> {
        if attr.size > i as u64 {
            return Err(VfsError::NameTooLong);
        }
        let room = buf.get_mut(..i).ok_or(VfsError::Inval)?;
        let n = self.fs(link.slot)?.readlink(&link.fh, room)?;
        if n == 0 {
            return Err(VfsError::NoEnt);
        }
        if n > i {
            return Err(VfsError::Io);
        }
        let at = i - n;
        buf.copy_within(..n, at);
        if buf.get(at..i).is_some_and(|t| t.contains(&0)) {
            return Err(VfsError::Inval);
        }
        Ok(at)
    }
}
