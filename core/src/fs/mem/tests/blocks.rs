//! Sparse files, capacity exhaustion, the names arena under churn, and read throughput.

use super::{ctx, fsck, mem, mem_with, names};
use crate::fs::mem::BLOCK_SIZE;
use crate::fs::{CreateHow, FileSystem, FsError, NodeKind, SetAttr, Stability};
use std::vec::Vec;
use std::{format, vec};

const GIB: u64 = 1 << 30;

fn new_file(fs: &mut crate::fs::mem::MemFs<'_>, name: &[u8]) -> crate::fs::FsResult<crate::fs::Handle> {
    fs.create(&ctx(2), &fs.root(), name, &CreateHow::Guarded(SetAttr::default()))
}

fn size(s: u64) -> SetAttr {
    SetAttr { size: Some(s), ..SetAttr::default() }
}

#[test]
fn sparse_file_at_5_gib() {
    let mut fs = mem(4, 16, 256);
    let f = new_file(&mut fs, b"sparse").unwrap();
    assert_eq!(fs.write(&ctx(3), &f, 5 * GIB, b"hello", Stability::Unstable).unwrap().0, 5);
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.size, a.used), (5 * GIB + 5, BLOCK_SIZE as u64));
    let mut buf = [7u8; 20];
    assert_eq!(fs.read(&f, 5 * GIB - 10, &mut buf).unwrap(), (15, true));
    assert_eq!((&buf[..10], &buf[10..15]), (&[0u8; 10][..], &b"hello"[..]));
    let mut big = vec![7u8; 4096];
    assert_eq!(fs.read(&f, GIB + 3, &mut big).unwrap(), (4096, false));
    assert!(big.iter().all(|&b| b == 0), "a hole reads as zeros");
    // Extending keeps the one block; truncating inside it zeroes the tail, so a later
    // extension reads zeros there.
    assert_eq!(fs.setattr(&ctx(4), &f, &size(6 * GIB)).unwrap().used, 512);
    fs.setattr(&ctx(5), &f, &size(5 * GIB + 2)).unwrap();
    assert_eq!(fs.read(&f, 5 * GIB, &mut buf).unwrap(), (2, true));
    assert_eq!(&buf[..2], b"he");
    fs.setattr(&ctx(6), &f, &size(5 * GIB + 100)).unwrap();
    assert_eq!(fs.read(&f, 5 * GIB, &mut buf).unwrap(), (20, false));
    assert_eq!(&buf[..5], b"he\0\0\0");
    fsck(&fs);
    // Truncating below the block frees it.
    let a = fs.setattr(&ctx(7), &f, &size(5 * GIB)).unwrap();
    assert_eq!((a.size, a.used, a.mtime.secs), (5 * GIB, 0, 7));
    assert_eq!(fs.fsstat(&f).unwrap().free_bytes, 16 * 512);
    // Blocks far apart in several files.
    let g = new_file(&mut fs, b"g").unwrap();
    for (i, off) in [0, 4 * GIB - 1, 4 * GIB, 100 * GIB, (1 << 40) - 600].into_iter().enumerate() {
        let data: Vec<u8> = (0..600).map(|j| (i * 7 + j) as u8).collect();
        assert_eq!(fs.write(&ctx(8), &g, off, &data, Stability::FileSync).unwrap().0, 600);
        let mut back = vec![0; 600];
        assert_eq!(fs.read(&g, off, &mut back).unwrap().0, 600);
        assert_eq!(back, data);
    }
    assert_eq!(fs.getattr(&g).unwrap().size, 1 << 40);
    fsck(&fs);
    fs.remove(&ctx(9), &fs.root(), b"g").unwrap();
    assert_eq!(fs.fsstat(&f).unwrap().free_bytes, 16 * 512);
    fsck(&fs);
}

#[test]
fn data_exhaustion_writes_what_fits() {
    let mut fs = mem(8, 4, 256);
    let f = new_file(&mut fs, b"f").unwrap();
    let data: Vec<u8> = (0..3000).map(|i| i as u8).collect();
    assert_eq!(fs.write(&ctx(3), &f, 100, &data, Stability::FileSync).unwrap().0, 4 * 512 - 100);
    assert_eq!(fs.getattr(&f).unwrap().size, 2048);
    assert_eq!(fs.write(&ctx(4), &f, 2048, b"x", Stability::FileSync), Err(FsError::NoSpace));
    assert_eq!(fs.write(&ctx(4), &f, 9000, b"x", Stability::FileSync), Err(FsError::NoSpace));
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.size, a.mtime.secs), (2048, 3), "a failed write changes nothing");
    // Overwriting allocated blocks needs no space.
    assert_eq!(fs.write(&ctx(5), &f, 0, &[1; 2048], Stability::FileSync).unwrap().0, 2048);
    let st = fs.fsstat(&f).unwrap();
    assert_eq!((st.free_bytes, st.avail_bytes), (0, 0));
    fsck(&fs);
    fs.setattr(&ctx(6), &f, &size(1000)).unwrap();
    assert_eq!(fs.fsstat(&f).unwrap().free_bytes, 1024);
    let g = new_file(&mut fs, b"g").unwrap();
    assert_eq!(fs.write(&ctx(7), &g, 0, &[2; 5000], Stability::FileSync).unwrap().0, 1024);
    let mut back = vec![0; 1000];
    fs.read(&f, 0, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 1));
    fsck(&fs);
}

#[test]
fn node_entry_and_name_exhaustion() {
    let mut fs = mem_with(4, 4, 4, 1024, 5);
    let root = fs.root();
    let mut made = vec![];
    for i in 0.. {
        match new_file(&mut fs, format!("f{i}").as_bytes()) {
            Ok(h) => made.push(h),
            Err(e) => {
                assert_eq!(e, FsError::NoSpace);
                break;
            }
        }
    }
    assert_eq!(made.len(), 3, "the root takes one node");
    assert_eq!(fs.fsstat(&root).unwrap().free_files, 0);
    let none = SetAttr::default();
    assert_eq!(fs.mkdir(&ctx(3), &root, b"d", &none), Err(FsError::NoSpace));
    assert_eq!(fs.symlink(&ctx(3), &root, b"l", b"t", &none), Err(FsError::NoSpace));
    assert_eq!(fs.mknod(&ctx(3), &root, b"n", NodeKind::Fifo, &none), Err(FsError::NoSpace));
    // The fourth entry slot is still free: one hard link fits, then no more.
    fs.link(&ctx(3), &made[0], &root, b"h").unwrap();
    assert_eq!(fs.link(&ctx(3), &made[0], &root, b"h2"), Err(FsError::NoSpace));
    assert_eq!(names(&mut fs, &root).len(), 4);
    fsck(&fs);
    fs.remove(&ctx(4), &root, b"f1").unwrap();
    assert_eq!(fs.getattr(&made[1]), Err(FsError::Stale));
    fs.mkdir(&ctx(4), &root, b"d", &none).unwrap();
    fsck(&fs);
    // Names: a small arena fills up, and compaction reuses freed records.
    let mut fs = mem(64, 4, 300);
    let root = fs.root();
    let long = [b'n'; 200];
    new_file(&mut fs, &long).unwrap();
    assert_eq!(new_file(&mut fs, &[b'm'; 100]), Err(FsError::NoSpace));
    assert_eq!(fs.symlink(&ctx(3), &root, b"l", &[b't'; 100], &none), Err(FsError::NoSpace));
    new_file(&mut fs, &[b'm'; 80]).unwrap();
    fsck(&fs);
    fs.remove(&ctx(4), &root, &long).unwrap();
    new_file(&mut fs, &[b'o'; 150]).unwrap();
    fsck(&fs);
    assert_eq!(names(&mut fs, &root), vec![vec![b'm'; 80], vec![b'o'; 150]]);
}

#[test]
fn names_arena_churn() {
    let mut fs = mem(64, 4, 700);
    let root = fs.root();
    let mut live: Vec<Vec<u8>> = vec![];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for step in 0..5000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 1 + (x % 40) as usize;
        let name: Vec<u8> = format!("{step}-{}", "x".repeat(len)).into_bytes();
        match x % 4 {
            0 | 1 => match new_file(&mut fs, &name) {
                Ok(_) => live.push(name),
                Err(e) => assert_eq!(e, FsError::NoSpace),
            },
            2 if !live.is_empty() => {
                let victim = live.swap_remove((x >> 8) as usize % live.len());
                fs.remove(&ctx(3), &root, &victim).unwrap();
            }
            _ if !live.is_empty() => {
                let i = (x >> 8) as usize % live.len();
                match fs.rename(&ctx(3), &root, &live[i], &root, &name) {
                    Ok(()) => live[i] = name,
                    Err(e) => assert_eq!(e, FsError::NoSpace),
                }
            }
            _ => {}
        }
        if step % 97 == 0 {
            fsck(&fs);
            let mut want = live.clone();
            want.sort();
            assert_eq!(names(&mut fs, &root), want);
        }
    }
}
