//! READDIR: large directories, small pages, changes between pages, cookie verifiers.

use super::{ctx, fsck, list_all, mem};
use crate::fs::mem::MemFs;
use crate::fs::{CreateHow, DirEntry, FileSystem, FsError, Handle, SetAttr};
use std::collections::{HashMap, HashSet};
use std::format;
use std::vec::Vec;

fn add(fs: &mut MemFs<'_>, dir: &Handle, name: &[u8]) {
    fs.create(&ctx(2), dir, name, &CreateHow::Guarded(SetAttr::default())).unwrap();
}

/// One page of at most `page` entries after `cookie`: (names, last cookie, verifier, eof).
fn page(
    fs: &mut MemFs<'_>,
    dir: &Handle,
    cookie: u64,
    verf: [u8; 8],
    page: usize,
) -> (Vec<Vec<u8>>, u64, [u8; 8], bool) {
    let (mut names, mut last) = (Vec::new(), cookie);
    let end = fs
        .readdir(dir, cookie, verf, &mut |e: &DirEntry<'_>| {
            if names.len() == page {
                return false;
            }
            assert_ne!(e.cookie, 0);
            names.push(e.name.to_vec());
            last = e.cookie;
            true
        })
        .unwrap();
    (names, last, end.verifier, end.eof)
}

#[test]
fn ten_thousand_entries_small_pages() {
    let mut fs = mem(10_100, 4, 200_000);
    let root = fs.root();
    let d = fs.mkdir(&ctx(2), &root, b"big", &SetAttr::default()).unwrap();
    for i in 0..10_000 {
        add(&mut fs, &d, format!("entry-{i:05}").as_bytes());
    }
    let all = list_all(&mut fs, &d, 7);
    assert_eq!(all.len(), 10_002);
    assert_eq!((all[0].0.as_slice(), all[1].0.as_slice()), (&b"."[..], &b".."[..]));
    let unique: HashSet<_> = all.iter().map(|(n, _)| n.clone()).collect();
    let cookies: HashSet<_> = all.iter().map(|&(_, c)| c).collect();
    assert_eq!((unique.len(), cookies.len()), (10_002, 10_002));
    for i in (0..10_000).step_by(997) {
        assert!(fs.lookup(&d, format!("entry-{i:05}").as_bytes()).is_ok());
    }
    fsck(&fs);
}

#[test]
fn changes_between_pages() {
    let mut fs = mem(12_100, 4, 300_000);
    let root = fs.root();
    let d = fs.mkdir(&ctx(2), &root, b"big", &SetAttr::default()).unwrap();
    let mut present: Vec<Vec<u8>> = (0..10_000).map(|i| format!("orig-{i:05}").into_bytes()).collect();
    for n in &present {
        add(&mut fs, &d, n);
    }
    let original: HashSet<Vec<u8>> = present.iter().cloned().collect();
    let (mut touched, mut added) = (HashSet::new(), HashSet::new());
    let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
    let (mut cookie, mut verf, mut x, mut round) = (0u64, [0u8; 8], 0x9e37_79b9_7f4a_7c15u64, 0);
    loop {
        let (names, last, v, eof) = page(&mut fs, &d, cookie, verf, 5);
        for n in &names {
            *seen.entry(n.clone()).or_default() += 1;
        }
        (cookie, verf) = (last, v);
        if eof {
            break;
        }
        // Between pages: remove the entry the cookie points at (every 3rd round), a few random
        // ones, and add new ones.
        round += 1;
        if round % 3 == 0
            && let Some(n) = names.last().filter(|n| n.as_slice() != b"." && n.as_slice() != b"..")
        {
            fs.remove(&ctx(3), &d, n).unwrap();
            touched.insert(n.clone());
            present.retain(|p| p != n);
        }
        for _ in 0..2 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if !present.is_empty() {
                let victim = present.swap_remove(x as usize % present.len());
                fs.remove(&ctx(3), &d, &victim).unwrap();
                touched.insert(victim);
            }
        }
        let new = format!("new-{round}").into_bytes();
        add(&mut fs, &d, &new);
        present.push(new.clone());
        added.insert(new);
    }
    assert!(seen.values().all(|&c| c == 1), "a name listed twice");
    for n in original.difference(&touched) {
        assert_eq!(seen.get(n), Some(&1), "untouched {n:?} missing");
    }
    for n in seen.keys() {
        assert!(original.contains(n) || added.contains(n) || n == b"." || n == b"..");
    }
    assert!(touched.len() > 3000 && round > 1500, "the test changed enough ({} rounds)", round);
    fsck(&fs);
}

#[test]
fn cookies_survive_additions() {
    let mut fs = mem(64, 4, 4096);
    let root = fs.root();
    for i in 0..10 {
        add(&mut fs, &root, format!("a{i}").as_bytes());
    }
    let (first, c, v, eof) = page(&mut fs, &root, 0, [0; 8], 6);
    assert!(!eof);
    assert_eq!(first[2..], [b"a0".to_vec(), b"a1".to_vec(), b"a2".to_vec(), b"a3".to_vec()]);
    add(&mut fs, &root, b"late");
    fs.remove(&ctx(3), &root, b"a0").unwrap();
    fs.remove(&ctx(3), &root, b"a3").unwrap(); // the cookie's own entry
    add(&mut fs, &root, b"later"); // reuses a3's slot, with a new sequence number
    let (rest, _, v2, eof) = page(&mut fs, &root, c, v, 100);
    assert!(eof);
    assert_eq!(v2, v);
    let mut want: Vec<Vec<u8>> = (4..10).map(|i| format!("a{i}").into_bytes()).collect();
    want.extend([b"late".to_vec(), b"later".to_vec()]);
    assert_eq!(rest, want);
}

#[test]
fn renumbering_changes_the_verifier() {
    let mut fs = mem(64, 4, 4096);
    let root = fs.root();
    let d = fs.mkdir(&ctx(2), &root, b"d", &SetAttr::default()).unwrap();
    add(&mut fs, &d, b"x");
    add(&mut fs, &d, b"y");
    let n = fs.node_of(&d).unwrap();
    fs.dir_mut(n).unwrap().next_seq = u32::MAX - 1;
    add(&mut fs, &d, b"z"); // gets seq u32::MAX - 1
    let (names, c, v, _) = page(&mut fs, &d, 0, [0; 8], 4);
    assert_eq!(names.last().unwrap(), b"y");
    assert_eq!(v, [0; 8]);
    add(&mut fs, &d, b"w"); // the sequence would wrap: renumber
    let mut none = |_: &DirEntry<'_>| true;
    assert_eq!(fs.readdir(&d, c, v, &mut none), Err(FsError::BadCookie));
    let (names, _, v2, eof) = page(&mut fs, &d, 0, [0; 8], 100);
    assert!(eof);
    assert_ne!(v2, v);
    assert_eq!(names[2..], [b"x".to_vec(), b"y".to_vec(), b"z".to_vec(), b"w".to_vec()]);
    fsck(&fs);
}
