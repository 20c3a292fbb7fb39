//! Tests of `MemFs`: helpers, and an invariant checker (`fsck`) the other tests run often.

mod basic;
mod blocks;
mod hostile;
mod model;
mod readdir;
mod rename;

use super::dirs::name_hash;
use super::names::SYMLINK_OWNER;
use super::nodes::Body;
use super::{BLOCK_SIZE, Block, Config, Entry, MemFs, NONE, Node, Parts, ROOT};
use crate::fs::{Ctx, DirEntry, FileSystem, Handle, Time};
use std::collections::HashSet;
use std::vec;
use std::vec::Vec;

/// A file system over leaked host vectors.
pub(super) fn mem(nodes: usize, blocks: usize, names: usize) -> MemFs<'static> {
    mem_with(nodes, nodes, blocks, names, 0x1234_5678_9abc_def0)
}

pub(super) fn mem_with(nodes: usize, entries: usize, blocks: usize, names: usize, fsid: u64) -> MemFs<'static> {
    let parts = Parts {
        nodes: vec![Node::ZERO; nodes].leak(),
        entries: vec![Entry::ZERO; entries].leak(),
        blocks: vec![Block::ZERO; blocks].leak(),
        names: vec![0u8; names].leak(),
    };
    let mut config = Config::new(fsid, *b"verifier");
    config.now = Time { secs: 1, nsecs: 0 };
    MemFs::from_parts(parts, config).unwrap()
}

/// A context at `secs` seconds, uid 1000, gid 100.
pub(super) fn ctx(secs: u32) -> Ctx {
    Ctx { now: Time { secs, nsecs: 0 }, uid: 1000, gid: 100 }
}

/// Every (name, cookie) of a directory, read with pages of `page` entries.
pub(super) fn list_all(fs: &mut MemFs<'_>, dir: &Handle, page: usize) -> Vec<(Vec<u8>, u64)> {
    let (mut out, mut cookie, mut verf) = (Vec::new(), 0, [0; 8]);
    loop {
        let mut n = 0;
        let end = fs
            .readdir(dir, cookie, verf, &mut |e: &DirEntry<'_>| {
                if n == page {
                    return false;
                }
                n += 1;
                out.push((e.name.to_vec(), e.cookie));
                cookie = e.cookie;
                true
            })
            .unwrap();
        verf = end.verifier;
        if end.eof {
            return out;
        }
    }
}

/// Names of a directory without `.` and `..`, sorted.
pub(super) fn names(fs: &mut MemFs<'_>, dir: &Handle) -> Vec<Vec<u8>> {
    let mut v: Vec<_> =
        list_all(fs, dir, 1000).into_iter().map(|(n, _)| n).filter(|n| n != b"." && n != b"..").collect();
    v.sort();
    v
}

/// Checks every invariant in the module docs; panics with a description on the first failure.
pub(super) fn fsck(fs: &MemFs<'_>) {
    let live_entries = check_entries(fs);
    check_nodes(fs, &live_entries);
    check_blocks(fs);
    check_names(fs);
}

fn free_list(len: usize, head: u32, next: impl Fn(usize) -> u32) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut i = head;
    while i != NONE {
        assert!((i as usize) < len && seen.insert(i as usize), "free list loops or leaves the table");
        i = next(i as usize);
    }
    seen
}

/// Checks directory lists and the name hash; returns the live entries.
fn check_entries(fs: &MemFs<'_>) -> Vec<u32> {
    let free = free_list(fs.entries.len(), fs.free_entries.head, |i| fs.entries[i].next);
    assert_eq!(free.len(), fs.free_entries.count as usize);
    let mut live = Vec::new();
    for (n, node) in fs.nodes.iter().enumerate() {
        let Body::Dir(d) = node.body else { continue };
        let (mut e, mut prev, mut count, mut last_seq) = (d.head, NONE, 0, 0);
        while e != NONE {
            let ent = &fs.entries[e as usize];
            assert!(!free.contains(&(e as usize)));
            assert_eq!((ent.parent, ent.prev), (n as u32, prev), "entry {e} links");
            assert!(ent.seq > last_seq && ent.seq < d.next_seq, "entry {e} sequence");
            let name = fs.name(ent.name);
            assert_eq!(ent.hash, name_hash(n as u32, name));
            assert_eq!(fs.find_entry(n as u32, name), Some(e), "entry {e} not found by name");
            assert!(fs.nodes[ent.child as usize].is_live());
            (prev, last_seq, count) = (e, ent.seq, count + 1);
            live.push(e);
            e = ent.next;
        }
        assert_eq!((d.tail, d.count), (prev, count), "directory {n} tail/count");
    }
    assert_eq!(live.len() + free.len(), fs.entries.len(), "entries neither free nor in a directory");
    live
}

fn check_nodes(fs: &MemFs<'_>, live_entries: &[u32]) {
    let free = free_list(fs.nodes.len(), fs.free_nodes.head, |i| match fs.nodes[i].body {
        Body::Free { next } => next,
        _ => panic!("live node {i} on the free list"),
    });
    assert_eq!(free.len(), fs.free_nodes.count as usize);
    let mut links = vec![0u32; fs.nodes.len()];
    let mut subdirs = vec![0u32; fs.nodes.len()];
    for &e in live_entries {
        let ent = &fs.entries[e as usize];
        links[ent.child as usize] += 1;
        if let Body::Dir(d) = fs.nodes[ent.child as usize].body {
            assert_eq!(d.parent, ent.parent, "parent of directory {}", ent.child);
            subdirs[ent.parent as usize] += 1;
        }
    }
    for (n, node) in fs.nodes.iter().enumerate() {
        if !node.is_live() {
            assert!(free.contains(&n), "node {n} leaked");
            continue;
        }
        if node.is_dir() {
            assert_eq!(links[n], u32::from(n != ROOT as usize), "links to directory {n}");
            assert_eq!(node.nlink, 2 + subdirs[n], "nlink of directory {n}");
        } else {
            assert!(n != ROOT as usize);
            assert_eq!(node.nlink, links[n], "nlink of node {n}");
        }
    }
    // Everything is reachable from the root: walk parents of directories.
    for (n, node) in fs.nodes.iter().enumerate() {
        if node.is_dir() {
            let mut d = n as u32;
            for _ in 0..fs.nodes.len() {
                d = fs.dir(d).unwrap().parent;
            }
            assert_eq!(d, ROOT, "directory {n} is not below the root");
        }
    }
}

fn check_blocks(fs: &MemFs<'_>) {
    let free = free_list(fs.blocks.len(), fs.free_blocks.head, |i| fs.blocks[i].next);
    assert_eq!(free.len(), fs.free_blocks.count as usize);
    let mut owned = 0;
    for (n, node) in fs.nodes.iter().enumerate() {
        let Body::File { head, blocks } = node.body else { continue };
        let mut seen = HashSet::new();
        let mut b = head;
        while b != NONE {
            let blk = &fs.blocks[b as usize];
            assert!(!free.contains(&(b as usize)) && blk.owner == n as u32 && seen.insert(blk.index));
            assert_eq!(fs.find_block(n as u32, blk.index), Some(b as usize));
            let start = u64::from(blk.index) * BLOCK_SIZE as u64;
            assert!(start < node.size, "block {b} beyond the size of node {n}");
            let valid = (node.size - start).min(BLOCK_SIZE as u64) as usize;
            assert!(blk.data[valid..].iter().all(|&x| x == 0), "non-zero tail in block {b}");
            b = blk.next;
        }
        assert_eq!(seen.len(), blocks as usize);
        owned += seen.len();
    }
    assert_eq!(owned + free.len(), fs.blocks.len(), "blocks leaked");
}

fn check_names(fs: &MemFs<'_>) {
    let (mut off, mut freed, mut live) = (0usize, 0usize, 0usize);
    while off < fs.names_top as usize {
        let (len, owner) = fs.header(off);
        if owner == u32::MAX {
            freed += 6 + len;
        } else if owner & SYMLINK_OWNER != 0 {
            let n = (owner & !SYMLINK_OWNER) as usize;
            assert!(matches!(fs.nodes[n].body, Body::Symlink { name } if name as usize == off));
            assert_eq!(fs.nodes[n].size, len as u64);
            live += 1;
        } else {
            let e = &fs.entries[owner as usize];
            assert!(e.child != NONE && e.name as usize == off, "name record at {off}");
            live += 1;
        }
        off += 6 + len;
    }
    assert_eq!(off, fs.names_top as usize);
    assert_eq!(freed, fs.names_free as usize);
    let symlinks = fs.nodes.iter().filter(|n| matches!(n.body, Body::Symlink { .. })).count();
    let entries = fs.entries.iter().filter(|e| e.child != NONE).count();
    assert_eq!(live, symlinks + entries, "name records without owner");
}
