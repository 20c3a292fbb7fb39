//! The names arena: entry names and symlink targets as records `[len: u16][owner: u32][bytes]`.
//!
//! Records are appended at `names_top`. Freeing one marks it free (or lowers the top when it is
//! the last); when a new record does not fit above the top but the freed bytes would make room,
//! the arena is compacted: live records slide down in order and their owners (an entry, or a
//! symlink's node with [`SYMLINK_OWNER`] set) learn the new offset.

use super::MemFs;
use super::nodes::Body;

/// Bytes of a record's header.
const HDR: usize = 6;
/// Owner bit: the record is a symlink target owned by a node, not an entry name.
pub(super) const SYMLINK_OWNER: u32 = 1 << 31;
/// Owner of a freed record.
const FREE: u32 = u32::MAX;

/// Bytes a record for `len` bytes takes in the arena.
pub(super) const fn record_len(len: usize) -> usize {
    HDR + len
}

impl MemFs<'_> {
    /// Bytes available for records (above the top plus freed ones).
    pub(super) fn names_room(&self) -> usize {
        self.names.len() - self.names_top as usize + self.names_free as usize
    }

    /// The bytes of the record at `off`.
    pub(super) fn name(&self, off: u32) -> &[u8] {
        let (len, _) = self.header(off as usize);
        let start = off as usize + HDR;
        self.names.get(start..start + len).unwrap_or(&[])
    }

    pub(super) fn header(&self, off: usize) -> (usize, u32) {
        match self.names.get(off..off + HDR) {
            Some(&[l0, l1, o0, o1, o2, o3]) => {
                (usize::from(u16::from_le_bytes([l0, l1])), u32::from_le_bytes([o0, o1, o2, o3]))
            }
            _ => (0, FREE),
        }
    }

    fn set_owner(&mut self, off: u32, owner: u32) {
        if let Some(o) = self.names.get_mut(off as usize + 2..off as usize + HDR) {
            o.copy_from_slice(&owner.to_le_bytes());
        }
    }

    /// Hands the record at `off` to another owner (rename reuses a replaced entry's name).
    pub(super) fn give_name(&mut self, off: u32, owner: u32) {
        self.set_owner(off, owner);
    }

    /// Stores `bytes` (at most `u16::MAX`) for `owner`; returns the record's offset. The caller
    /// checked [`names_room`](Self::names_room) against [`record_len`]; this may compact.
    pub(super) fn alloc_name(&mut self, bytes: &[u8], owner: u32) -> u32 {
        let need = record_len(bytes.len());
        if self.names_top as usize + need > self.names.len() {
            self.compact_names();
        }
        let off = self.names_top as usize;
        if let Some(rec) = self.names.get_mut(off..off + need) {
            rec[..2].copy_from_slice(&(bytes.len() as u16).to_le_bytes());
            rec[2..HDR].copy_from_slice(&owner.to_le_bytes());
            rec[HDR..].copy_from_slice(bytes);
            self.names_top += need as u32;
        }
        off as u32
    }

    /// Frees the record at `off`.
    pub(super) fn free_name(&mut self, off: u32) {
        let (len, _) = self.header(off as usize);
        let rec = record_len(len) as u32;
        if off + rec == self.names_top {
            self.names_top = off;
        } else {
            self.set_owner(off, FREE);
            self.names_free += rec;
        }
    }

    /// Slides every live record down over the freed ones and tells owners their new offsets.
    fn compact_names(&mut self) {
        let (mut r, mut w) = (0usize, 0usize);
        let top = self.names_top as usize;
        while r < top {
            let (len, owner) = self.header(r);
            let rec = record_len(len);
            if owner != FREE {
                self.names.copy_within(r..r + rec, w);
                self.relocate(owner, w as u32);
                w += rec;
            }
            r += rec;
        }
        self.names_top = w as u32;
        self.names_free = 0;
    }

    fn relocate(&mut self, owner: u32, off: u32) {
        if owner & SYMLINK_OWNER != 0 {
            if let Some(node) = self.nodes.get_mut((owner & !SYMLINK_OWNER) as usize)
                && let Body::Symlink { name } = &mut node.body
            {
                *name = off;
            }
        } else if let Some(e) = self.entries.get_mut(owner as usize) {
            e.name = off;
        }
    }
}
