//! The mount table: fixed slots, each a file system grafted on a directory of another mount.
//!
//! Invariants (kept by `Namespace::mount` and `Namespace::unmount`):
//! - slot [`ROOT`] always holds the root mount, whose `parent` is itself and whose `covered`
//!   is its own root; it is never unmounted;
//! - every other mount's `parent` is a live slot, and `covered` is a directory of the parent's
//!   file system that is neither the root of a mount nor covered by another mount (no stacked
//!   mounts), so crossing into a mount is a single step;
//! - a mount with a mount below it, or with an open file, is not unmounted, so `parent` slots
//!   stay valid;
//! - ids are unique.

use super::error::{VfsError, VfsResult};
use super::types::{MountFlags, MountId};
use crate::fs::{Attr, FileSystem, Handle};

/// The slot of the root mount.
pub(super) const ROOT: usize = 0;

/// An object in the namespace: the slot of its mount and its handle there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    /// Mount slot.
    pub(super) slot: usize,
    /// Handle in that mount's file system.
    pub(super) fh: Handle,
}

/// One mount.
pub(super) struct Mount<'a> {
    pub(super) id: MountId,
    pub(super) fs: &'a mut dyn FileSystem,
    /// The file system's root handle, read once at mount time.
    pub(super) root: Handle,
    /// Slot of the mount holding the mount point.
    pub(super) parent: usize,
    /// The mount point: a directory in the parent's file system.
    pub(super) covered: Handle,
    pub(super) flags: MountFlags,
}

/// The table: `M` slots.
pub(super) struct Mounts<'a, const M: usize> {
    pub(super) slots: [Option<Mount<'a>>; M],
}

impl<'a, const M: usize> Mounts<'a, M> {
    /// The mount in `slot`; [`VfsError::Stale`] when the slot is empty.
    pub(super) fn get(&self, slot: usize) -> VfsResult<&Mount<'a>> {
        self.slots.get(slot).and_then(Option::as_ref).ok_or(VfsError::Stale)
    }

    /// The file system of `slot`.
    pub(super) fn fs(&mut self, slot: usize) -> VfsResult<&mut dyn FileSystem> {
        match self.slots.get_mut(slot) {
            Some(Some(m)) => Ok(&mut *m.fs),
            _ => Err(VfsError::Stale),
        }
    }

    /// The slot of the mount with id `id`; [`VfsError::Stale`] when none has it.
    pub(super) fn slot_of(&self, id: MountId) -> VfsResult<usize> {
        self.slots.iter().position(|m| m.as_ref().is_some_and(|m| m.id == id)).ok_or(VfsError::Stale)
    }

    /// The id of the mount in `slot`.
    pub(super) fn id(&self, slot: usize) -> VfsResult<MountId> {
        Ok(self.get(slot)?.id)
    }

    /// The root of the mount in `slot`.
    pub(super) fn root_of(&self, slot: usize) -> VfsResult<Pos> {
        Ok(Pos { slot, fh: self.get(slot)?.root })
    }

    /// True when `p` is the root of its mount.
    pub(super) fn is_mount_root(&self, p: &Pos) -> bool {
        self.get(p.slot).is_ok_and(|m| m.root == p.fh)
    }

    /// The slot of the mount whose mount point is `p`, if any.
    pub(super) fn covering(&self, p: &Pos) -> Option<usize> {
        self.slots.iter().enumerate().skip(1).find_map(|(i, m)| match m {
            Some(m) if m.parent == p.slot && m.covered == p.fh => Some(i),
            _ => None,
        })
    }

    /// `p`, or the root of the mount on it.
    pub(super) fn cross(&self, p: Pos) -> VfsResult<Pos> {
        match self.covering(&p) {
            Some(slot) => self.root_of(slot),
            None => Ok(p),
        }
    }

    /// True when a mount sits directly on a directory of `slot`.
    pub(super) fn has_children(&self, slot: usize) -> bool {
        self.slots.iter().enumerate().any(|(i, m)| i != slot && m.as_ref().is_some_and(|m| m.parent == slot))
    }

    /// True when the mount in `slot` refuses changes.
    pub(super) fn read_only(&self, slot: usize) -> bool {
        self.get(slot).is_ok_and(|m| m.flags.read_only)
    }

    /// [`VfsError::ReadOnly`] on a read-only mount.
    pub(super) fn writable(&self, slot: usize) -> VfsResult<()> {
        if self.read_only(slot) { Err(VfsError::ReadOnly) } else { Ok(()) }
    }

    /// Attributes of `p`.
    pub(super) fn getattr(&mut self, p: &Pos) -> VfsResult<Attr> {
        Ok(self.fs(p.slot)?.getattr(&p.fh)?)
    }

    /// `name` in directory `dir`, in the same file system (no mount crossing).
    pub(super) fn lookup(&mut self, dir: &Pos, name: &[u8]) -> VfsResult<Pos> {
        let fh = self.fs(dir.slot)?.lookup(&dir.fh, name)?;
        Ok(Pos { slot: dir.slot, fh })
    }

    /// The parent of directory `p` in the namespace: `..` at a mount's root climbs to the parent
    /// of its mount point in the parent mount; `..` at the namespace root is the root. A parent
    /// that is a mount point is crossed into.
    pub(super) fn dotdot(&mut self, p: Pos) -> VfsResult<Pos> {
        let mut p = p;
        // No stacked mounts: a mount point is never a mount root, so this runs at most twice;
        // bounded by the table size all the same.
        for _ in 0..=M {
            if !self.is_mount_root(&p) {
                break;
            }
            let m = self.get(p.slot)?;
            if p.slot == ROOT {
                return Ok(p);
            }
            p = Pos { slot: m.parent, fh: m.covered };
        }
        let up = self.lookup(&p, b"..")?;
        self.cross(up)
    }
}
