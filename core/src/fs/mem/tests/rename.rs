//! RENAME with POSIX semantics.

use super::{ctx, fsck, mem, names};
use crate::fs::mem::{MAX_LINKS, MemFs};
use crate::fs::{CreateHow, FileSystem, FsError, Handle, SetAttr, Stability, Time};
use std::vec;

fn file(fs: &mut MemFs<'_>, dir: &Handle, name: &[u8]) -> Handle {
    fs.create(&ctx(2), dir, name, &CreateHow::Guarded(SetAttr::default())).unwrap()
}

fn dir(fs: &mut MemFs<'_>, dir: &Handle, name: &[u8]) -> Handle {
    fs.mkdir(&ctx(2), dir, name, &SetAttr::default()).unwrap()
}

#[test]
fn within_and_across_directories() {
    let mut fs = mem(16, 8, 1024);
    let root = fs.root();
    let (a, b) = (dir(&mut fs, &root, b"a"), dir(&mut fs, &root, b"b"));
    let f = file(&mut fs, &a, b"f");
    fs.rename(&ctx(3), &a, b"f", &a, b"g").unwrap();
    assert_eq!(fs.lookup(&a, b"f"), Err(FsError::NoEnt));
    assert_eq!(fs.lookup(&a, b"g").unwrap(), f);
    assert_eq!(fs.getattr(&f).unwrap().ctime, Time { secs: 3, nsecs: 0 });
    fs.rename(&ctx(4), &a, b"g", &b, b"a-much-longer-name-than-before").unwrap();
    assert_eq!(names(&mut fs, &a), vec![] as vec::Vec<vec::Vec<u8>>);
    assert_eq!(names(&mut fs, &b), vec![b"a-much-longer-name-than-before".to_vec()]);
    for d in [&a, &b] {
        let at = fs.getattr(d).unwrap();
        assert_eq!((at.mtime.secs, at.ctime.secs), (4, 4));
    }
    // A directory moves with its contents; `..` and link counts follow.
    let c = dir(&mut fs, &a, b"c");
    file(&mut fs, &c, b"inner");
    assert_eq!(fs.getattr(&a).unwrap().nlink, 3);
    fs.rename(&ctx(5), &a, b"c", &b, b"c").unwrap();
    assert_eq!(fs.lookup(&c, b"..").unwrap(), b);
    assert_eq!((fs.getattr(&a).unwrap().nlink, fs.getattr(&b).unwrap().nlink), (2, 3));
    assert!(fs.lookup(&c, b"inner").is_ok());
    fsck(&fs);
}

#[test]
fn replacing_targets() {
    let mut fs = mem(16, 8, 1024);
    let root = fs.root();
    let (f, g) = (file(&mut fs, &root, b"f"), file(&mut fs, &root, b"g"));
    fs.write(&ctx(2), &g, 0, &[1; 1024], Stability::FileSync).unwrap();
    fs.rename(&ctx(3), &root, b"f", &root, b"g").unwrap();
    assert_eq!(fs.lookup(&root, b"g").unwrap(), f);
    assert_eq!(fs.getattr(&g), Err(FsError::Stale));
    assert_eq!(fs.fsstat(&root).unwrap().free_bytes, 8 * 512);
    // A replaced file with another link survives with one link less.
    let h = file(&mut fs, &root, b"h");
    fs.link(&ctx(3), &h, &root, b"h2").unwrap();
    fs.rename(&ctx(4), &root, b"g", &root, b"h").unwrap();
    assert_eq!(fs.getattr(&h).unwrap().nlink, 1);
    assert_eq!(fs.getattr(&h).unwrap().ctime.secs, 4);
    // A directory replaces an empty directory.
    let (d, e) = (dir(&mut fs, &root, b"d"), dir(&mut fs, &root, b"e"));
    let x = dir(&mut fs, &d, b"x");
    assert_eq!(fs.getattr(&root).unwrap().nlink, 4);
    fs.rename(&ctx(5), &d, b"x", &root, b"e").unwrap();
    assert_eq!(fs.getattr(&e), Err(FsError::Stale));
    assert_eq!(fs.lookup(&root, b"e").unwrap(), x);
    assert_eq!((fs.getattr(&root).unwrap().nlink, fs.getattr(&d).unwrap().nlink), (4, 2));
    fsck(&fs);
    // Type and emptiness rules.
    let y = dir(&mut fs, &root, b"y");
    file(&mut fs, &y, b"full");
    assert_eq!(fs.rename(&ctx(6), &root, b"d", &root, b"h"), Err(FsError::NotDir));
    assert_eq!(fs.rename(&ctx(6), &root, b"h", &root, b"d"), Err(FsError::IsDir));
    assert_eq!(fs.rename(&ctx(6), &root, b"d", &root, b"y"), Err(FsError::NotEmpty));
    assert!(fs.lookup(&root, b"d").is_ok() && fs.lookup(&root, b"h").is_ok());
    fsck(&fs);
}

#[test]
fn subtree_self_and_errors() {
    let mut fs = mem(16, 8, 1024);
    let root = fs.root();
    let a = dir(&mut fs, &root, b"a");
    let b = dir(&mut fs, &a, b"b");
    let f = file(&mut fs, &root, b"f");
    assert_eq!(fs.rename(&ctx(3), &root, b"a", &b, b"a"), Err(FsError::Inval));
    assert_eq!(fs.rename(&ctx(3), &root, b"a", &a, b"a2"), Err(FsError::Inval));
    // a/b onto a (an ancestor, not empty).
    assert_eq!(fs.rename(&ctx(3), &a, b"b", &root, b"a"), Err(FsError::NotEmpty));
    // Onto itself, or onto another link of the same file: nothing happens.
    fs.rename(&ctx(4), &root, b"f", &root, b"f").unwrap();
    fs.rename(&ctx(4), &root, b"a", &root, b"a").unwrap();
    fs.link(&ctx(4), &f, &a, b"f2").unwrap();
    fs.rename(&ctx(5), &root, b"f", &a, b"f2").unwrap();
    assert_eq!((fs.lookup(&root, b"f").unwrap(), fs.lookup(&a, b"f2").unwrap()), (f, f));
    assert_eq!(fs.getattr(&f).unwrap().nlink, 2);
    assert_eq!(fs.getattr(&root).unwrap().mtime.secs, 2, "a no-op rename changes no time");
    assert_eq!(fs.rename(&ctx(6), &root, b"nope", &root, b"x"), Err(FsError::NoEnt));
    assert_eq!(fs.rename(&ctx(6), &root, b".", &root, b"x"), Err(FsError::Inval));
    assert_eq!(fs.rename(&ctx(6), &root, b"f", &root, b".."), Err(FsError::Inval));
    assert_eq!(fs.rename(&ctx(6), &root, b"f", &root, b""), Err(FsError::Inval));
    assert_eq!(fs.rename(&ctx(6), &root, b"f", &root, b"x/y"), Err(FsError::Inval));
    assert_eq!(fs.rename(&ctx(6), &root, b"f", &root, &[b'x'; 256]), Err(FsError::NameTooLong));
    assert_eq!(fs.rename(&ctx(6), &f, b"f", &root, b"x"), Err(FsError::NotDir));
    assert_eq!(fs.rename(&ctx(6), &root, b"f", &f, b"x"), Err(FsError::NotDir));
    // A full link count of the target directory.
    fs.nodes[fs.node_of(&b).unwrap() as usize].nlink = MAX_LINKS;
    let c = dir(&mut fs, &root, b"c");
    assert_eq!(fs.rename(&ctx(7), &root, b"c", &b, b"c"), Err(FsError::MLink));
    assert_eq!(fs.mkdir(&ctx(7), &b, b"c", &SetAttr::default()), Err(FsError::MLink));
    fs.nodes[fs.node_of(&b).unwrap() as usize].nlink = 2;
    fs.rename(&ctx(7), &root, b"c", &b, b"c").unwrap();
    assert_eq!(fs.lookup(&c, b"..").unwrap(), b);
    fsck(&fs);
}

#[test]
fn full_names_arena() {
    // Room for the root's few names only: "aaaa" + "b" + 6-byte headers = 17 bytes.
    let mut fs = mem(16, 8, 17);
    let root = fs.root();
    let a = file(&mut fs, &root, b"aaaa");
    file(&mut fs, &root, b"b");
    assert_eq!(fs.create(&ctx(2), &root, b"c", &CreateHow::Guarded(SetAttr::default())), Err(FsError::NoSpace));
    assert_eq!(fs.rename(&ctx(3), &root, b"b", &root, b"cc"), Err(FsError::NoSpace));
    fsck(&fs);
    // Onto an existing name the target's record is reused; shorter names fit after compaction.
    fs.rename(&ctx(3), &root, b"aaaa", &root, b"b").unwrap();
    assert_eq!(fs.lookup(&root, b"b").unwrap(), a);
    fsck(&fs);
    fs.rename(&ctx(3), &root, b"b", &root, b"abcdefghijk").unwrap();
    fsck(&fs);
    assert_eq!(fs.lookup(&root, b"abcdefghijk").unwrap(), a);
    assert_eq!(fs.symlink(&ctx(3), &root, b"l", b"", &SetAttr::default()), Err(FsError::NoSpace));
}
