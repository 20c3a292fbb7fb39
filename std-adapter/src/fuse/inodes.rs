//! The inode table: FUSE node ids ↔ back-end handles, with the kernel's lookup counts.
//!
//! # Invariants
//! - Node id 1 is the back end's root and is never removed (the kernel's `forget` of it is
//!   ignored).
//! - Identity is the handle: the same handle always has the same node id while it is in the
//!   table (hard links, repeated lookups), and two different handles never share a live id,
//!   even when the back end reports the same `fileid` for both (a file deleted elsewhere
//!   whose inode number the back end already reused).
//! - A node's id is its back end's `fileid` whenever that id is free (and not 0 or 1), so
//!   `st_ino` matches the server's file ids, `readdir`'s `d_ino`, and stays the same across
//!   remounts; otherwise an id is taken from the top of the range, going down.
//! - Every entry reply to the kernel counts one lookup ([`Inodes::remember`]); `forget`
//!   subtracts. A node leaves the table when its count is 0 and it is not open, so the table
//!   holds no more nodes than the kernel's inode cache plus open files.
//! - Nothing here talks to the back end or panics.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tern_core::fs::Handle;

/// The kernel's node id of the root (`FUSE_ROOT_ID`).
pub(crate) const ROOT: u64 = 1;

/// A name the FUSE layer gave an unlinked but still open file (see [`Node::hidden`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hidden {
    /// The directory holding it.
    pub(crate) dir: Handle,
    /// Its hidden name.
    pub(crate) name: Vec<u8>,
}

/// One node the kernel knows.
#[derive(Debug)]
pub(crate) struct Node {
    /// The back end's handle.
    pub(crate) handle: Handle,
    /// Lookups the kernel holds.
    lookups: u64,
    /// Open file descriptions (FUSE `open` without `release` yet).
    opens: u32,
    /// Unstable writes not yet committed.
    pub(crate) dirty: bool,
    /// Set when the file was unlinked while open: it lives on under this name until its last
    /// release (the stateless back end would otherwise forget it at once).
    pub(crate) hidden: Option<Hidden>,
}

/// The table; see the module docs.
#[derive(Debug)]
pub(crate) struct Inodes {
    nodes: HashMap<u64, Node>,
    by_handle: HashMap<Handle, u64>,
    /// Next id handed out when a node's `fileid` is taken (counts down from `u64::MAX`).
    next_spare: u64,
    /// The number of nodes, readable without the table's lock.
    gauge: Arc<AtomicUsize>,
}

impl Inodes {
    /// A table holding only the root.
    pub(crate) fn new(root: Handle) -> Self {
        let gauge = Arc::new(AtomicUsize::new(1));
        let mut t = Inodes { nodes: HashMap::new(), by_handle: HashMap::new(), next_spare: u64::MAX, gauge };
        t.nodes.insert(ROOT, Node { handle: root, lookups: 1, opens: 0, dirty: false, hidden: None });
        t.by_handle.insert(root, ROOT);
        t
    }

    /// The number of nodes, kept up to date as the table changes.
    pub(crate) fn gauge(&self) -> Arc<AtomicUsize> {
        self.gauge.clone()
    }

    /// The node with id `ino`.
    pub(crate) fn get(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    /// The node with id `ino`, to change it.
    pub(crate) fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    /// The id `handle` has, if the kernel knows it.
    pub(crate) fn id_of(&self, handle: &Handle) -> Option<u64> {
        self.by_handle.get(handle).copied()
    }

    /// Number of nodes held.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The id for `handle` (with back-end file id `fileid`), counting one kernel lookup.
    pub(crate) fn remember(&mut self, handle: Handle, fileid: u64) -> u64 {
        if let Some(ino) = self.by_handle.get(&handle).copied()
            && let Some(n) = self.nodes.get_mut(&ino)
        {
            n.lookups = n.lookups.saturating_add(1);
            return ino;
        }
        let ino = self.free_id(fileid);
        self.nodes.insert(ino, Node { handle, lookups: 1, opens: 0, dirty: false, hidden: None });
        self.by_handle.insert(handle, ino);
        self.gauge.store(self.nodes.len(), Ordering::Relaxed);
        ino
    }

    /// The id a directory listing shows for an entry with this handle and file id, without
    /// counting a lookup: the node's id when the kernel knows it, else the id it would get.
    pub(crate) fn peek(&self, handle: &Handle, fileid: u64) -> u64 {
        match self.by_handle.get(handle) {
            Some(&ino) => ino,
            None if fileid > ROOT && !self.nodes.contains_key(&fileid) => fileid,
            None => self.next_spare,
        }
    }

    /// A free id, preferring `fileid`.
    fn free_id(&mut self, fileid: u64) -> u64 {
        if fileid > ROOT && !self.nodes.contains_key(&fileid) {
            return fileid;
        }
        loop {
            let ino = self.next_spare;
            self.next_spare = self.next_spare.saturating_sub(1).max(ROOT + 1);
            if !self.nodes.contains_key(&ino) {
                return ino;
            }
        }
    }

    /// The kernel dropped `n` lookups of `ino`.
    pub(crate) fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
            self.drop_if_unused(ino);
        }
    }

    /// One more open file description of `ino`; false when the kernel does not know `ino`.
    pub(crate) fn open(&mut self, ino: u64) -> bool {
        match self.nodes.get_mut(&ino) {
            Some(n) => {
                n.opens = n.opens.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Whether `ino` has open file descriptions.
    pub(crate) fn is_open(&self, ino: u64) -> bool {
        self.nodes.get(&ino).is_some_and(|n| n.opens > 0)
    }

    /// One open file description of `ino` was released. Returns the hidden name to remove
    /// when this was the last one of a file unlinked while open.
    pub(crate) fn release(&mut self, ino: u64) -> Option<Hidden> {
        let node = self.nodes.get_mut(&ino)?;
        node.opens = node.opens.saturating_sub(1);
        let hidden = if node.opens == 0 { node.hidden.take() } else { None };
        self.drop_if_unused(ino);
        hidden
    }

    /// Every hidden name still in use (to remove when the file system is unmounted).
    pub(crate) fn take_all_hidden(&mut self) -> Vec<Hidden> {
        self.nodes.values_mut().filter_map(|n| n.hidden.take()).collect()
    }

    fn drop_if_unused(&mut self, ino: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(n) = self.nodes.get(&ino)
            && n.lookups == 0
            && n.opens == 0
        {
            let h = n.handle;
            self.nodes.remove(&ino);
            if self.by_handle.get(&h) == Some(&ino) {
                self.by_handle.remove(&h);
            }
            self.gauge.store(self.nodes.len(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Handle {
        Handle::new(&[b; 8]).unwrap()
    }

    #[test]
    fn fileid_is_the_id_when_free() {
        let mut t = Inodes::new(h(0));
        assert_eq!(t.remember(h(1), 42), 42);
        assert_eq!(t.remember(h(1), 42), 42, "same handle, same id");
        assert_eq!(t.get(42).unwrap().lookups, 2);
        // Another handle with the same file id (reused inode number) gets a spare id.
        let spare = t.remember(h(2), 42);
        assert_ne!(spare, 42);
        assert_eq!(spare, u64::MAX);
        // File ids 0 and 1 are never node ids.
        assert_ne!(t.remember(h(3), 0), 0);
        assert_ne!(t.remember(h(4), 1), 1);
        assert_eq!(t.peek(&h(1), 42), 42);
        assert_eq!(t.peek(&h(9), 77), 77);
    }

    #[test]
    fn forget_removes_only_unused_nodes() {
        let mut t = Inodes::new(h(0));
        let a = t.remember(h(1), 10);
        t.remember(h(1), 10);
        t.forget(a, 1);
        assert!(t.get(a).is_some());
        assert!(t.open(a));
        t.forget(a, 1);
        assert!(t.get(a).is_some(), "open nodes stay");
        assert_eq!(t.release(a), None);
        assert!(t.get(a).is_none());
        assert_eq!(t.id_of(&h(1)), None);
        // The root never goes, and unknown ids are ignored.
        t.forget(ROOT, 100);
        t.forget(12345, 1);
        assert_eq!(t.get(ROOT).unwrap().handle, h(0));
        assert!(!t.open(12345));
        assert_eq!(t.release(12345), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.gauge().load(Ordering::Relaxed), 1);
    }

    #[test]
    fn hidden_name_comes_back_at_last_release() {
        let mut t = Inodes::new(h(0));
        let a = t.remember(h(1), 10);
        t.open(a);
        t.open(a);
        let hid = Hidden { dir: h(0), name: b".tern_hidden".to_vec() };
        t.get_mut(a).unwrap().hidden = Some(hid.clone());
        assert_eq!(t.release(a), None);
        assert_eq!(t.release(a), Some(hid));
        assert!(t.take_all_hidden().is_empty());
    }

    #[test]
    fn spare_ids_skip_live_ones() {
        let mut t = Inodes::new(h(0));
        t.remember(h(1), u64::MAX);
        let b = t.remember(h(2), 0);
        assert_eq!(b, u64::MAX - 1);
    }
}
