//! The namespace (virtual file system layer): one tree made of mounted file systems, local
//! ([`MemFs`](crate::fs::mem::MemFs)) or remote (an NFS export through the client), behind a
//! POSIX-like interface that behaves the same for both.
//!
//! # Shape
//! A [`Namespace<'a, MOUNTS, FILES, PATH>`](Namespace) owns three fixed tables and no heap:
//! - the **mount table** (`MOUNTS` slots): each mount holds `&'a mut dyn FileSystem`, the
//!   file system's root handle, the mount point (a directory handle in the parent mount) and a
//!   caller-chosen [`MountId`]. Borrowing `dyn FileSystem` lets a board mount `static` file
//!   systems and a host mount boxed or stack ones, with one copy of the code for every back end
//!   (a remote one is the NFS client's `FileSystem` implementation). A back end that must also
//!   be served by the NFS server at the same time is shared through a wrapper the caller owns
//!   (for example a `RefCell` or mutex adaptor implementing `FileSystem`);
//! - the **open-file table** (`FILES` slots) of [`OpenFile`] values, indexed by [`Fd`]. The
//!   table is node-wide; a process VM maps its own descriptor numbers onto it;
//! - two **path buffers** of `PATH` bytes (the longest path accepted, 1024 by default):
//!   resolution walks the path in place and expands symlinks inside them (see `walk.rs`),
//!   and two-path calls (`rename`, `link`) use one each.
//!
//! So `Namespace<4, 16, 1024>` is 4,152 bytes on a 64-bit host (2 KiB of it the path buffers,
//! 80 bytes per open file), and `Namespace<4, 8, 256>` 1,912 bytes; a call needs a few hundred
//! bytes of stack (about 370 per path being resolved) besides the back end's own.
//!
//! # Invariants
//! - Nothing allocates, nothing panics on any path, name, handle, descriptor or offset; every
//!   failure is a [`VfsError`]. Work per call is bounded: at most `PATH` bytes per path plus
//!   [`Limits::max_symlinks`] expansions of at most `PATH` bytes each.
//! - The root mount (given to [`Namespace::new`]) is never unmounted. Every other mount sits on
//!   a directory of its parent mount that is neither a mount point nor a mount's root (no
//!   stacked mounts, [`VfsError::Busy`]). A mount with a mount below it, or with a file open on
//!   it, is not unmounted ([`VfsError::Busy`]).
//! - Mount points are recognised by handle: a back end must give one handle per object (MemFs,
//!   HostFs and NFS servers do).
//! - `..` at a mount's root is the parent of its mount point in the parent mount; `..` at the
//!   namespace root is the root. A mount point cannot be removed or renamed, nor be the source
//!   or the target of a rename ([`VfsError::Busy`]); a directory listing shows the mount
//!   point's own entry (as Linux).
//! - An open file is only ([`MountId`], handle, offset, flags): no pointer, no slot, no path.
//!   Permission is checked at `open`; afterwards the descriptor carries the right (as POSIX),
//!   which is what lets it move between machines. [`Namespace::export`] copies it out (after
//!   committing unstable writes) and [`Namespace::import`] installs it into a namespace that
//!   has a mount with the same id.
//! - A [`Loc`] (mount id + handle) is a directory or file independent of paths: a process's
//!   current directory. It may outlive its mount or object; it is then [`VfsError::Stale`].
//!
//! # Mount ids across machines
//! Ids are chosen by the caller so that two machines can agree on them without talking:
//! [`MountId::of_source`] hashes the mount's source (for NFS, `nfs://server/export`), which names
//! the same file system, and thus the same handles, everywhere. Where machines name sources
//! differently, the migration layer maps ids (it sees the source's id in the exported
//! [`OpenFile`] and rewrites it before [`Namespace::import`]). The mount point's path plays no
//! part: a file system mounted at `/a` on one machine and `/b` on another keeps its open files.
//!
//! # Permissions (decided here)
//! The namespace checks the mode bits itself for every mount, local or remote, with the
//! caller's [`Cred`] (uid, gid, supplementary groups), as Linux's `generic_permission`: search
//! on every directory walked, read/write at `open`, write and search on the parent to create
//! or remove, the sticky-directory rule, owner-only `chmod`, uid 0 passing all but execute
//! without any `x` bit. Local back ends rely on it (their contract says the caller checks); a
//! remote server checks again with the identity its client sends, so a remote mount may refuse
//! more. Changes on a read-only mount are [`VfsError::ReadOnly`].
//!
//! # Writes
//! Writes are sent [`Unstable`](crate::fs::Stability::Unstable) and committed by
//! [`Namespace::fsync`], [`Namespace::close`] and [`Namespace::export`] (close-to-open
//! consistency, as NFS clients do); back ends that write synchronously (MemFs) make the commit
//! free. `O_APPEND` writes read the size first (as an NFS client must; two machines appending
//! to the same remote file may interleave).

mod dirops;
mod error;
mod file;
mod mounts;
mod perm;
mod types;
mod walk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_io;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_walk;

pub use error::{VfsError, VfsResult};
pub use types::{Cred, DirPos, Fd, Limits, Loc, MAX_NAME, MountFlags, MountId, OpenFile, OpenFlags, Whence};

use crate::fs::FileSystem;
use mounts::{Mount, Mounts, Pos, ROOT};
use walk::{Follow, Walked};

/// A namespace of at most `MOUNTS` mounts and `FILES` open files, accepting paths of at most
/// `PATH` bytes. See the module docs.
pub struct Namespace<'a, const MOUNTS: usize, const FILES: usize, const PATH: usize = 1024> {
    mounts: Mounts<'a, MOUNTS>,
    files: [Option<OpenFile>; FILES],
    limits: Limits,
    /// The root mount's root (the root mount never changes).
    root: Loc,
    buf: [u8; PATH],
    buf2: [u8; PATH],
}

/// What [`Namespace::mounts`] tells about one mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountInfo {
    /// The mount's id.
    pub id: MountId,
    /// The id of the mount holding its mount point (itself for the root mount).
    pub parent: MountId,
    /// The mount point, in the parent mount (the root itself for the root mount).
    pub mount_point: Loc,
    /// The mounted file system's root.
    pub root: Loc,
    /// Its options.
    pub flags: MountFlags,
}

impl<'a, const MOUNTS: usize, const FILES: usize, const PATH: usize> Namespace<'a, MOUNTS, FILES, PATH> {
    /// A namespace whose root is `fs`, mounted with `id`, and default [`Limits`].
    pub fn new(fs: &'a mut dyn FileSystem, id: MountId, flags: MountFlags) -> Self {
        const { assert!(MOUNTS > 0, "a namespace needs a slot for its root mount") };
        let root = fs.root();
        let mut slots: [Option<Mount<'a>>; MOUNTS] = core::array::from_fn(|_| None);
        slots[ROOT] = Some(Mount { id, fs, root, parent: ROOT, covered: root, flags });
        Namespace {
            mounts: Mounts { slots },
            files: [None; FILES],
            limits: Limits::default(),
            root: Loc { mount: id, handle: root },
            buf: [0; PATH],
            buf2: [0; PATH],
        }
    }

    /// Sets the resolution limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The resolution limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The namespace root.
    pub fn root(&self) -> Loc {
        self.root
    }

    /// Mounts `fs` with `id` on the directory `path` names (symlinks followed; relative paths
    /// from `at`). Who may mount is the caller's decision; `cred` only walks the path.
    ///
    /// Errors: the id is taken ([`VfsError::Exist`]); the table is full ([`VfsError::NoSpace`]);
    /// the path's errors; not a directory ([`VfsError::NotDir`]); the directory is already a
    /// mount point or a mount's root, `/` included ([`VfsError::Busy`]). On error `fs` is handed
    /// back.
    pub fn mount(
        &mut self,
        cred: &Cred<'_>,
        at: &Loc,
        path: &[u8],
        fs: &'a mut dyn FileSystem,
        id: MountId,
        flags: MountFlags,
    ) -> Result<(), (VfsError, &'a mut dyn FileSystem)> {
        match self.mount_point(cred, at, path, id) {
            Ok((slot, on)) => {
                let root = fs.root();
                if let Some(s) = self.mounts.slots.get_mut(slot) {
                    *s = Some(Mount { id, fs, root, parent: on.slot, covered: on.fh, flags });
                    return Ok(());
                }
                Err((VfsError::NoSpace, fs))
            }
            Err(e) => Err((e, fs)),
        }
    }

    /// The free slot and the directory a mount of `id` on `path` would use.
    fn mount_point(&mut self, cred: &Cred<'_>, at: &Loc, path: &[u8], id: MountId) -> VfsResult<(usize, Pos)> {
        if self.mounts.slot_of(id).is_ok() {
            return Err(VfsError::Exist);
        }
        let slot = self.mounts.slots.iter().position(Option::is_none).ok_or(VfsError::NoSpace)?;
        let w = self.walk(false, cred, at, path, Follow::Always)?;
        let on = w.object(&mut self.mounts)?;
        if on.attr.ftype != crate::fs::FileType::Directory {
            return Err(VfsError::NotDir);
        }
        if self.mounts.is_mount_root(&on.pos) || self.mounts.covering(&on.pos).is_some() {
            return Err(VfsError::Busy);
        }
        Ok((slot, on.pos))
    }

    /// Unmounts the mount `id` and hands its file system back. Errors: no such mount
    /// ([`VfsError::Inval`], as Linux for a path that is not a mount point); the root mount, a
    /// mount with a mount below it, or one with a file open on it ([`VfsError::Busy`]).
    pub fn unmount(&mut self, id: MountId) -> VfsResult<&'a mut dyn FileSystem> {
        let slot = self.mounts.slot_of(id).map_err(|_| VfsError::Inval)?;
        if slot == ROOT || self.mounts.has_children(slot) || self.files.iter().flatten().any(|f| f.mount == id) {
            return Err(VfsError::Busy);
        }
        match self.mounts.slots.get_mut(slot).and_then(Option::take) {
            Some(m) => Ok(m.fs),
            None => Err(VfsError::Inval),
        }
    }

    /// Every mount, root first.
    pub fn mounts(&self) -> impl Iterator<Item = MountInfo> + '_ {
        self.mounts.slots.iter().flatten().map(|m| MountInfo {
            id: m.id,
            parent: self.mounts.id(m.parent).unwrap_or(m.id),
            mount_point: Loc { mount: self.mounts.id(m.parent).unwrap_or(m.id), handle: m.covered },
            root: Loc { mount: m.id, handle: m.root },
            flags: m.flags,
        })
    }

    /// The file system mounted with `id`.
    pub fn fs_mut(&mut self, id: MountId) -> Option<&mut dyn FileSystem> {
        let slot = self.mounts.slot_of(id).ok()?;
        self.mounts.fs(slot).ok()
    }

    /// The open file `fd`.
    pub fn file(&self, fd: Fd) -> VfsResult<&OpenFile> {
        self.files.get(fd.0 as usize).and_then(Option::as_ref).ok_or(VfsError::BadFd)
    }

    /// Every open file.
    pub fn open_files(&self) -> impl Iterator<Item = (Fd, &OpenFile)> + '_ {
        self.files.iter().enumerate().filter_map(|(i, f)| Some((Fd(i as u32), f.as_ref()?)))
    }

    /// Copies open file `fd` out, for another namespace's [`Namespace::import`]; unstable writes
    /// are committed first, so a remote file is complete on its server when the copy leaves.
    /// The descriptor stays open here (close it once the copy is installed elsewhere).
    pub fn export(&mut self, fd: Fd) -> VfsResult<OpenFile> {
        self.fsync(fd)?;
        self.file(fd).copied()
    }

    /// Installs an open file from another namespace (or saved earlier). Errors: flags an open
    /// file cannot hold ([`VfsError::Inval`]); no mount with its id, or its object gone
    /// ([`VfsError::Stale`]); a writable file on a read-only mount ([`VfsError::ReadOnly`]); the
    /// table is full ([`VfsError::TooManyOpen`]).
    pub fn import(&mut self, f: OpenFile) -> VfsResult<Fd> {
        let slot = self.mounts.slot_of(f.mount)?;
        self.mounts.getattr(&Pos { slot, fh: f.handle })?;
        self.reinstall(f)
    }

    /// [`Namespace::import`] without asking the file system whether the object still exists
    /// (one call fewer: for a caller that keeps open files itself and installs one per call);
    /// a call on a file whose object is gone fails there with [`VfsError::Stale`]. The other
    /// checks are the same.
    pub fn reinstall(&mut self, f: OpenFile) -> VfsResult<Fd> {
        if !f.flags.is_kept() {
            return Err(VfsError::Inval);
        }
        let fd = self.free_fd()?;
        let slot = self.mounts.slot_of(f.mount)?;
        if f.flags.writable() {
            self.mounts.writable(slot)?;
        }
        self.install(fd, f)
    }

    /// The first free descriptor.
    fn free_fd(&self) -> VfsResult<Fd> {
        let i = self.files.iter().position(Option::is_none).ok_or(VfsError::TooManyOpen)?;
        Ok(Fd(i as u32))
    }

    fn install(&mut self, fd: Fd, f: OpenFile) -> VfsResult<Fd> {
        let slot = self.files.get_mut(fd.0 as usize).ok_or(VfsError::TooManyOpen)?;
        *slot = Some(f);
        Ok(fd)
    }

    /// The position a [`Loc`] names.
    fn start(&self, at: &Loc) -> VfsResult<Pos> {
        Ok(Pos { slot: self.mounts.slot_of(at.mount)?, fh: at.handle })
    }

    /// The [`Loc`] of a position.
    fn loc(&self, p: &Pos) -> Loc {
        Loc { mount: self.mounts.id(p.slot).unwrap_or(MountId(0)), handle: p.fh }
    }

    /// Walks `path` from `at` in the first buffer (or the second when `second`).
    fn walk(&mut self, second: bool, cred: &Cred<'_>, at: &Loc, path: &[u8], follow: Follow) -> VfsResult<Walked> {
        // An absolute path does not need `at` (which may be stale).
        let start = if path.first() == Some(&b'/') { self.mounts.root_of(ROOT)? } else { self.start(at)? };
        let buf = if second { &mut self.buf2[..] } else { &mut self.buf[..] };
        self.mounts.walk(buf, cred, &self.limits, start, path, follow)
    }
}
