//! Directory entries: the (directory, name) hash table, per-directory lists and READDIR.

use super::blocks::{bucket_of, mix};
use super::{MemFs, NONE};
use crate::fs::{DirEntry, FsError, FsResult, ReaddirEnd};

/// One directory entry slot of a [`MemFs`] (36 bytes). Opaque: allocate tables of
/// [`Entry::ZERO`].
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The node this name links to ([`NONE`] when the slot is free).
    pub(super) child: u32,
    /// The directory holding the entry.
    pub(super) parent: u32,
    /// Offset of the name's record in the names arena.
    pub(super) name: u32,
    /// Hash of (parent, name).
    pub(super) hash: u32,
    /// Position in the directory (grows with each new entry); the READDIR cookie's high half.
    pub(super) seq: u32,
    /// Neighbours on the directory's list; `next` also links the free list.
    pub(super) prev: u32,
    pub(super) next: u32,
    /// Next entry on the same hash chain.
    pub(super) chain: u32,
    /// Head of hash bucket `i` (this entry's slot number), unrelated to the entry itself.
    pub(super) bucket: u32,
}

impl Entry {
    /// An unformatted slot (all zeros).
    pub const ZERO: Entry =
        Entry { child: 0, parent: 0, name: 0, hash: 0, seq: 0, prev: 0, next: 0, chain: 0, bucket: 0 };
}

/// Cookie of `.`; `..` is 2, entries are `seq << 32 | slot` with `seq >= 1`.
const DOT: u64 = 1;
const DOTDOT: u64 = 2;

/// The hash of `name` in directory `dir` (FNV-1a, then mixed with the directory).
pub(super) fn name_hash(dir: u32, name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    mix(dir, h)
}

impl MemFs<'_> {
    /// Puts every entry on the free list and empties the hash table.
    pub(super) fn format_entries(&mut self) {
        let n = self.entries.len() as u32;
        for (i, e) in self.entries.iter_mut().enumerate() {
            let next = if i as u32 + 1 < n { i as u32 + 1 } else { NONE };
            *e = Entry { child: NONE, next, chain: NONE, bucket: NONE, prev: NONE, ..Entry::ZERO };
        }
        self.free_entries.head = if n > 0 { 0 } else { NONE };
        self.free_entries.count = n;
    }

    /// The entry for `name` in directory `dir`.
    pub(super) fn find_entry(&self, dir: u32, name: &[u8]) -> Option<u32> {
        let h = name_hash(dir, name);
        let mut e = self.entries.get(bucket_of(h, self.entries.len()))?.bucket;
        while let Some(ent) = self.entries.get(e as usize) {
            if ent.hash == h && ent.parent == dir && self.name(ent.name) == name {
                return Some(e);
            }
            e = ent.chain;
        }
        None
    }

    /// Links entry `e` (name, hash and child set) into directory `dir` with the next sequence
    /// number, renumbering the directory first if the sequence would wrap.
    pub(super) fn attach_entry(&mut self, e: u32, dir: u32) {
        if self.dir(dir).is_ok_and(|d| d.next_seq == u32::MAX) {
            self.renumber(dir);
        }
        let h = self.entries[e as usize].hash;
        let b = bucket_of(h, self.entries.len());
        let chain = core::mem::replace(&mut self.entries[b].bucket, e);
        let Some(d) = self.dir_mut(dir) else { return };
        let (seq, tail) = (d.next_seq, d.tail);
        d.next_seq += 1;
        d.count += 1;
        d.tail = e;
        if tail == NONE {
            d.head = e;
        }
        if let Some(t) = self.entries.get_mut(tail as usize) {
            t.next = e;
        }
        let ent = &mut self.entries[e as usize];
        ent.parent = dir;
        ent.seq = seq;
        ent.prev = tail;
        ent.next = NONE;
        ent.chain = chain;
    }

    /// Unlinks entry `e` from its directory's list and from the hash table.
    pub(super) fn detach_entry(&mut self, e: u32) {
        let ent = self.entries[e as usize];
        let b = bucket_of(ent.hash, self.entries.len());
        if self.entries[b].bucket == e {
            self.entries[b].bucket = ent.chain;
        } else {
            let mut p = self.entries[b].bucket;
            while let Some(prev) = self.entries.get_mut(p as usize) {
                if prev.chain == e {
                    prev.chain = ent.chain;
                    break;
                }
                p = prev.chain;
            }
        }
        match self.entries.get_mut(ent.prev as usize) {
            Some(p) => p.next = ent.next,
            None => {
                if let Some(d) = self.dir_mut(ent.parent) {
                    d.head = ent.next;
                }
            }
        }
        match self.entries.get_mut(ent.next as usize) {
            Some(n) => n.prev = ent.prev,
            None => {
                if let Some(d) = self.dir_mut(ent.parent) {
                    d.tail = ent.prev;
                }
            }
        }
        if let Some(d) = self.dir_mut(ent.parent) {
            d.count -= 1;
        }
        let ent = &mut self.entries[e as usize];
        ent.chain = NONE;
        ent.prev = NONE;
        ent.next = NONE;
    }

    /// Adds `name` → `child` to directory `dir`. The caller checked that an entry slot and
    /// [`record_len`](super::names::record_len)`(name.len())` arena bytes are free.
    pub(super) fn add_entry(&mut self, dir: u32, name: &[u8], child: u32) {
        let e = self.free_entries.head;
        let Some(ent) = self.entries.get(e as usize) else { return };
        self.free_entries.head = ent.next;
        self.free_entries.count -= 1;
        let off = self.alloc_name(name, e);
        let ent = &mut self.entries[e as usize];
        ent.child = child;
        ent.name = off;
        ent.hash = name_hash(dir, name);
        self.attach_entry(e, dir);
    }

    /// Removes entry `e` and frees its slot and name (the child is the caller's business).
    pub(super) fn remove_entry(&mut self, e: u32) {
        self.detach_entry(e);
        let off = self.entries[e as usize].name;
        self.free_name(off);
        self.release_entry(e);
    }

    /// Puts the detached entry `e` on the free list (its name record is the caller's).
    pub(super) fn release_entry(&mut self, e: u32) {
        let ent = &mut self.entries[e as usize];
        ent.child = NONE;
        ent.next = self.free_entries.head;
        self.free_entries.head = e;
        self.free_entries.count += 1;
    }

    /// Gives the entries of `dir` the sequence numbers 1, 2, … again and bumps its cookie
    /// verifier (older cookies become invalid).
    fn renumber(&mut self, dir: u32) {
        let Ok(d) = self.dir(dir) else { return };
        let (mut e, mut seq) = (d.head, 1);
        while let Some(ent) = self.entries.get_mut(e as usize) {
            ent.seq = seq;
            seq += 1;
            e = ent.next;
        }
        if let Some(d) = self.dir_mut(dir) {
            d.next_seq = seq;
            d.cookie_gen = d.cookie_gen.wrapping_add(1);
        }
    }

    /// The cookie verifier of directory `dir`.
    fn cookie_verifier(&self, dir: u32) -> FsResult<[u8; 8]> {
        Ok(u64::from(self.dir(dir)?.cookie_gen).to_be_bytes())
    }

    /// The first entry of `dir` after `cookie` (>= 3), or [`FsError::BadCookie`].
    fn resume(&self, dir: u32, cookie: u64) -> FsResult<u32> {
        let d = self.dir(dir)?;
        let (seq, slot) = ((cookie >> 32) as u32, cookie as u32);
        if seq == 0 || seq >= d.next_seq {
            return Err(FsError::BadCookie);
        }
        if let Some(ent) = self.entries.get(slot as usize)
            && ent.child != NONE
            && ent.parent == dir
            && ent.seq == seq
        {
            return Ok(ent.next);
        }
        // The entry is gone: resume at the first one after it (the list is in `seq` order).
        let mut e = d.head;
        while let Some(ent) = self.entries.get(e as usize) {
            if ent.seq > seq {
                break;
            }
            e = ent.next;
        }
        Ok(e)
    }

    /// READDIR of directory `dir` (see [`FileSystem::readdir`](crate::fs::FileSystem::readdir)).
    pub(super) fn list(
        &self,
        dir: u32,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        let current = self.cookie_verifier(dir)?;
        if cookie != 0 && verifier != current {
            return Err(FsError::BadCookie);
        }
        let more = ReaddirEnd { verifier: current, eof: false };
        let parent = self.dir(dir)?.parent;
        if cookie == 0 && !emit(&DirEntry { fileid: self.fileid(dir), name: b".", cookie: DOT }) {
            return Ok(more);
        }
        if cookie <= DOT && !emit(&DirEntry { fileid: self.fileid(parent), name: b"..", cookie: DOTDOT }) {
            return Ok(more);
        }
        let mut e = match cookie {
            0..=DOTDOT => self.dir(dir)?.head,
            c if c < 1 << 32 => return Err(FsError::BadCookie),
            c => self.resume(dir, c)?,
        };
        while let Some(ent) = self.entries.get(e as usize) {
            let cookie = u64::from(ent.seq) << 32 | u64::from(e);
            if !emit(&DirEntry { fileid: self.fileid(ent.child), name: self.name(ent.name), cookie }) {
                return Ok(more);
            }
            e = ent.next;
        }
        Ok(ReaddirEnd { verifier: current, eof: true })
    }
}
