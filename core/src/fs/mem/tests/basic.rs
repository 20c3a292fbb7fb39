//! Every trait method's success and error paths, handles, times and attributes.

use super::{ctx, fsck, mem, mem_with, names};
use crate::fs::mem::{Config, HANDLE_LEN, MAX_FILE_SIZE, MemFs, Storage};
use crate::fs::{CreateHow, FileSystem, FileType, FsError, Handle, NodeKind, SetAttr, SetTime, Stability, Time};
use std::vec;

const fn t(secs: u32) -> Time {
    Time { secs, nsecs: 0 }
}

fn guarded() -> CreateHow {
    CreateHow::Guarded(SetAttr::default())
}

#[test]
fn static_storage_and_root() {
    static_assertions();
    let mut storage = Storage::<4, 4, 64>::new();
    let mut fs = MemFs::new(&mut storage, Config::new(7, *b"12345678"));
    let root = fs.root();
    assert_eq!(root.as_bytes().len(), HANDLE_LEN);
    let a = fs.getattr(&root).unwrap();
    assert_eq!((a.ftype, a.mode, a.nlink, a.uid, a.fsid), (FileType::Directory, 0o755, 2, 0, 7));
    assert_ne!(a.fileid, 0);
    assert_eq!(fs.lookup(&root, b"..").unwrap(), root);
    assert_eq!(fs.lookup(&root, b".").unwrap(), root);
    assert_eq!(fs.write_verifier(), *b"12345678");
    let info = fs.info();
    assert_eq!((info.max_name, info.links, info.symlinks, info.special_files), (255, true, true, true));
    assert_eq!(info.max_file_size, MAX_FILE_SIZE);
    let st = fs.fsstat(&root).unwrap();
    assert_eq!((st.total_bytes, st.free_bytes, st.total_files, st.free_files), (2048, 2048, 4, 3));
    fsck(&fs);
    // Formatting the same storage again, even with the same fsid, makes old handles stale.
    let mut fs = MemFs::new(&mut storage, Config::new(7, *b"12345678"));
    assert_eq!(fs.getattr(&root), Err(FsError::Stale));
    assert!(fs.getattr(&fs.root()).is_ok());
}

fn static_assertions() {
    use core::mem::size_of;
    assert_eq!(size_of::<crate::fs::mem::Node>(), 80);
    assert_eq!(size_of::<crate::fs::mem::Entry>(), 36);
    assert_eq!(size_of::<crate::fs::mem::Block>(), 532);
    assert_eq!(Storage::<64, 128, 4096>::size(), 64 * 80 + 64 * 36 + 128 * 532 + 4096);
}

#[test]
fn zero_nodes_is_refused() {
    let parts = crate::fs::mem::Parts { nodes: &mut [], entries: &mut [], blocks: &mut [], names: &mut [] };
    assert_eq!(MemFs::from_parts(parts, Config::new(1, [0; 8])).err(), Some(FsError::NoSpace));
}

#[test]
fn handles_bad_stale_and_foreign() {
    let mut fs = mem(8, 8, 256);
    let root = fs.root();
    let f = fs.create(&ctx(2), &root, b"f", &guarded()).unwrap();
    assert_eq!(fs.getattr(&Handle::new(&[1, 2, 3]).unwrap()), Err(FsError::BadHandle));
    assert_eq!(fs.getattr(&Handle::new(&[0; 56]).unwrap()), Err(FsError::BadHandle));
    let mut b = f.as_bytes().to_vec();
    b[8..12].copy_from_slice(&1000u32.to_be_bytes()); // index out of range
    assert_eq!(fs.getattr(&Handle::new(&b).unwrap()), Err(FsError::Stale));
    b[8..12].copy_from_slice(&5u32.to_be_bytes()); // a free slot
    assert_eq!(fs.getattr(&Handle::new(&b).unwrap()), Err(FsError::Stale));
    // Another instance with another fsid: same layout, stale.
    let mut other = mem_with(8, 8, 8, 256, 99);
    let g = other.create(&ctx(2), &other.root(), b"f", &guarded()).unwrap();
    assert_eq!(f.as_bytes()[8..], g.as_bytes()[8..]);
    assert_eq!(other.getattr(&f), Err(FsError::Stale));
    assert_eq!(fs.getattr(&other.root()), Err(FsError::Stale));
    // Deleted, then the slot reused: the old handle is stale, the new one works.
    let old = fs.getattr(&f).unwrap();
    fs.remove(&ctx(3), &root, b"f").unwrap();
    assert_eq!(fs.getattr(&f), Err(FsError::Stale));
    assert_eq!(fs.read(&f, 0, &mut [0; 4]), Err(FsError::Stale));
    assert_eq!(fs.lookup(&f, b"x"), Err(FsError::Stale));
    let f2 = fs.create(&ctx(4), &root, b"g", &guarded()).unwrap();
    assert_eq!(f2.as_bytes()[8..12], f.as_bytes()[8..12], "slot reused");
    assert_ne!(f2, f);
    assert_ne!(fs.getattr(&f2).unwrap().fileid, old.fileid);
    assert_eq!(fs.getattr(&f), Err(FsError::Stale));
    assert_eq!(fs.write(&ctx(5), &f, 0, b"x", Stability::Unstable), Err(FsError::Stale));
    fsck(&fs);
}

#[test]
fn getattr_setattr() {
    let mut fs = mem(8, 16, 256);
    let root = fs.root();
    let set = SetAttr { mode: Some(0o100_640), uid: Some(5), atime: SetTime::Client(t(77)), ..SetAttr::default() };
    let f = fs.create(&ctx(2), &root, b"f", &CreateHow::Unchecked(set)).unwrap();
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.ftype, a.mode, a.uid, a.gid, a.nlink, a.size, a.used), (FileType::Regular, 0o640, 5, 100, 1, 0, 0));
    assert_eq!((a.atime, a.mtime, a.ctime), (t(77), t(2), t(2)));
    let r = fs.getattr(&root).unwrap();
    assert_eq!((r.mtime, r.ctime), (t(2), t(2)));
    // Mode, owner, times; ctime always moves.
    let set = SetAttr { mode: Some(0o4755), gid: Some(9), mtime: SetTime::ServerTime, ..SetAttr::default() };
    let a = fs.setattr(&ctx(3), &f, &set).unwrap();
    assert_eq!((a.mode, a.uid, a.gid, a.atime, a.mtime, a.ctime), (0o4755, 5, 9, t(77), t(3), t(3)));
    let a = fs.setattr(&ctx(4), &f, &SetAttr::default()).unwrap();
    assert_eq!((a.mtime, a.ctime), (t(3), t(4)));
    // Size: extend (sparse, mtime moves), truncate.
    let a = fs.setattr(&ctx(5), &f, &SetAttr { size: Some(10_000), ..SetAttr::default() }).unwrap();
    assert_eq!((a.size, a.used, a.mtime), (10_000, 0, t(5)));
    fs.write(&ctx(6), &f, 0, &[7; 1000], Stability::FileSync).unwrap();
    assert_eq!(fs.getattr(&f).unwrap().used, 1024);
    let a = fs.setattr(&ctx(7), &f, &SetAttr { size: Some(100), ..SetAttr::default() }).unwrap();
    assert_eq!((a.size, a.used), (100, 512));
    let size = |s| SetAttr { size: Some(s), ..SetAttr::default() };
    assert_eq!(fs.setattr(&ctx(8), &f, &size(MAX_FILE_SIZE + 1)), Err(FsError::FBig));
    assert_eq!(fs.setattr(&ctx(8), &root, &size(0)), Err(FsError::IsDir));
    let l = fs.symlink(&ctx(8), &root, b"l", b"f", &SetAttr::default()).unwrap();
    assert_eq!(fs.setattr(&ctx(8), &l, &size(0)), Err(FsError::Inval));
    assert_eq!(fs.getattr(&f).unwrap().ctime, t(7), "a refused setattr changes nothing");
    // Directories' attributes can be set too.
    assert_eq!(fs.setattr(&ctx(9), &root, &SetAttr { mode: Some(0o700), ..SetAttr::default() }).unwrap().mode, 0o700);
    fsck(&fs);
}

#[test]
fn lookup_errors() {
    let mut fs = mem(8, 8, 256);
    let root = fs.root();
    let f = fs.create(&ctx(2), &root, b"f", &guarded()).unwrap();
    let d = fs.mkdir(&ctx(2), &root, b"d", &SetAttr::default()).unwrap();
    assert_eq!(fs.lookup(&root, b"f").unwrap(), f);
    assert_eq!(fs.lookup(&d, b"..").unwrap(), root);
    assert_eq!(fs.lookup(&d, b".").unwrap(), d);
    assert_eq!(fs.lookup(&root, b"g"), Err(FsError::NoEnt));
    assert_eq!(fs.lookup(&root, b""), Err(FsError::NoEnt));
    assert_eq!(fs.lookup(&root, &[b'a'; 256]), Err(FsError::NameTooLong));
    assert_eq!(fs.lookup(&f, b"x"), Err(FsError::NotDir));
    assert_eq!(fs.lookup(&d, b"f"), Err(FsError::NoEnt));
}

#[test]
fn read_write_commit() {
    let mut fs = mem(8, 16, 256);
    let root = fs.root();
    let f = fs.create(&ctx(2), &root, b"f", &guarded()).unwrap();
    assert_eq!(fs.write(&ctx(3), &f, 0, b"", Stability::Unstable).unwrap(), (0, Stability::FileSync));
    assert_eq!(fs.getattr(&f).unwrap().mtime, t(2), "an empty write changes nothing");
    assert_eq!(fs.write(&ctx(3), &f, 510, b"hello", Stability::Unstable).unwrap(), (5, Stability::FileSync));
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.size, a.used, a.mtime, a.ctime), (515, 1024, t(3), t(3)));
    let mut buf = [9u8; 600];
    assert_eq!(fs.read(&f, 0, &mut buf).unwrap(), (515, true));
    assert!(buf[..510].iter().all(|&b| b == 0));
    assert_eq!(&buf[510..515], b"hello");
    assert_eq!(fs.read(&f, 511, &mut buf[..2]).unwrap(), (2, false));
    assert_eq!(&buf[..2], b"el");
    assert_eq!(fs.read(&f, 515, &mut buf).unwrap(), (0, true));
    assert_eq!(fs.read(&f, u64::MAX, &mut buf).unwrap(), (0, true));
    assert_eq!(fs.write(&ctx(4), &f, MAX_FILE_SIZE - 1, b"ab", Stability::FileSync), Err(FsError::FBig));
    assert_eq!(fs.write(&ctx(4), &f, u64::MAX, b"a", Stability::FileSync), Err(FsError::FBig));
    assert_eq!(fs.write(&ctx(4), &f, MAX_FILE_SIZE - 1, b"a", Stability::FileSync).unwrap().0, 1);
    fs.commit(&f, 0, 0).unwrap();
    assert_eq!(fs.read(&root, 0, &mut buf), Err(FsError::IsDir));
    assert_eq!(fs.write(&ctx(4), &root, 0, b"a", Stability::FileSync), Err(FsError::IsDir));
    assert_eq!(fs.commit(&root, 0, 0), Err(FsError::IsDir));
    let l = fs.symlink(&ctx(4), &root, b"l", b"target", &SetAttr::default()).unwrap();
    let s = fs.mknod(&ctx(4), &root, b"s", NodeKind::Fifo, &SetAttr::default()).unwrap();
    for h in [&l, &s] {
        assert_eq!(fs.read(h, 0, &mut buf), Err(FsError::Inval));
        assert_eq!(fs.write(&ctx(4), h, 0, b"a", Stability::FileSync), Err(FsError::Inval));
        assert_eq!(fs.commit(h, 0, 0), Err(FsError::Inval));
    }
    fsck(&fs);
}

#[test]
fn create_modes() {
    let mut fs = mem(8, 8, 1024);
    let root = fs.root();
    let f = fs.create(&ctx(2), &root, b"f", &guarded()).unwrap();
    fs.write(&ctx(2), &f, 0, b"data", Stability::FileSync).unwrap();
    assert_eq!(fs.getattr(&f).unwrap().mode, 0o644);
    assert_eq!(fs.create(&ctx(3), &root, b"f", &guarded()), Err(FsError::Exist));
    // UNCHECKED on an existing file applies the attributes (here: truncates).
    let trunc = CreateHow::Unchecked(SetAttr { size: Some(0), ..SetAttr::default() });
    assert_eq!(fs.create(&ctx(3), &root, b"f", &trunc).unwrap(), f);
    assert_eq!(fs.getattr(&f).unwrap().size, 0);
    let d = fs.mkdir(&ctx(3), &root, b"d", &SetAttr::default()).unwrap();
    assert_eq!(fs.create(&ctx(3), &root, b"d", &trunc), Err(FsError::Exist));
    assert_eq!(fs.create(&ctx(3), &f, b"x", &guarded()), Err(FsError::NotDir));
    assert_eq!(fs.create(&ctx(3), &root, b".", &guarded()), Err(FsError::Exist));
    assert_eq!(fs.create(&ctx(3), &root, b"..", &trunc), Err(FsError::Exist));
    assert_eq!(fs.create(&ctx(3), &root, b"", &guarded()), Err(FsError::Inval));
    assert_eq!(fs.create(&ctx(3), &root, b"a/b", &guarded()), Err(FsError::Inval));
    assert_eq!(fs.create(&ctx(3), &root, b"a\0", &guarded()), Err(FsError::Inval));
    assert_eq!(fs.create(&ctx(3), &root, &[b'a'; 256], &guarded()), Err(FsError::NameTooLong));
    let big = CreateHow::Guarded(SetAttr { size: Some(MAX_FILE_SIZE + 1), ..SetAttr::default() });
    assert_eq!(fs.create(&ctx(3), &root, b"big", &big), Err(FsError::FBig));
    let sparse = CreateHow::Guarded(SetAttr { size: Some(1 << 33), ..SetAttr::default() });
    let s = fs.create(&ctx(3), &root, &[b'a'; 255], &sparse).unwrap();
    assert_eq!(fs.getattr(&s).unwrap().size, 1 << 33);
    // EXCLUSIVE: a retransmission with the same verifier gets the same file.
    let x = fs.create(&ctx(4), &d, b"x", &CreateHow::Exclusive(*b"verf0001")).unwrap();
    assert_eq!(fs.create(&ctx(5), &d, b"x", &CreateHow::Exclusive(*b"verf0001")).unwrap(), x);
    assert_eq!(fs.create(&ctx(5), &d, b"x", &CreateHow::Exclusive(*b"verf0002")), Err(FsError::Exist));
    assert_eq!(fs.create(&ctx(5), &root, b"f", &CreateHow::Exclusive(*b"verf0001")), Err(FsError::Exist));
    assert_eq!(fs.create(&ctx(5), &root, b"d", &CreateHow::Exclusive(*b"verf0001")), Err(FsError::Exist));
    let a = fs.getattr(&x).unwrap();
    assert_eq!((a.uid, a.gid, a.mode, a.ctime), (1000, 100, 0o644, t(4)));
    // The client's SETATTR after an exclusive create ends the retransmission window.
    fs.setattr(&ctx(6), &x, &SetAttr { mtime: SetTime::ServerTime, ..SetAttr::default() }).unwrap();
    assert_eq!(fs.create(&ctx(7), &d, b"x", &CreateHow::Exclusive(*b"verf0001")), Err(FsError::Exist));
    fsck(&fs);
}

#[test]
fn mkdir_symlink_mknod() {
    let mut fs = mem(16, 8, 4096);
    let root = fs.root();
    let d = fs.mkdir(&ctx(2), &root, b"d", &SetAttr::default()).unwrap();
    let a = fs.getattr(&d).unwrap();
    assert_eq!((a.ftype, a.mode, a.nlink, a.uid, a.gid), (FileType::Directory, 0o755, 2, 1000, 100));
    assert_eq!(fs.getattr(&root).unwrap().nlink, 3);
    assert_eq!(fs.mkdir(&ctx(3), &root, b"d", &SetAttr::default()), Err(FsError::Exist));
    let m = SetAttr { mode: Some(0o700), ..SetAttr::default() };
    let e = fs.mkdir(&ctx(3), &d, b"e", &m).unwrap();
    assert_eq!((fs.getattr(&e).unwrap().mode, fs.getattr(&d).unwrap().nlink), (0o700, 3));
    let target = [b'x'; 1024];
    let l = fs.symlink(&ctx(3), &d, b"l", &target, &SetAttr::default()).unwrap();
    let a = fs.getattr(&l).unwrap();
    assert_eq!((a.ftype, a.mode, a.size), (FileType::Symlink, 0o777, 1024));
    let mut out = [0u8; 1024];
    assert_eq!(fs.readlink(&l, &mut out).unwrap(), 1024);
    assert_eq!(out, target);
    assert_eq!(fs.readlink(&l, &mut out[..1023]), Err(FsError::ServerFault));
    assert_eq!(fs.readlink(&d, &mut out), Err(FsError::Inval));
    assert_eq!(fs.symlink(&ctx(3), &d, b"m", &[b'x'; 1025], &SetAttr::default()), Err(FsError::NameTooLong));
    let empty = fs.symlink(&ctx(3), &d, b"empty", b"", &SetAttr::default()).unwrap();
    assert_eq!(fs.readlink(&empty, &mut out).unwrap(), 0);
    let kinds = [
        (NodeKind::Char(4, 64), FileType::Char, (4, 64)),
        (NodeKind::Block(8, 1), FileType::Block, (8, 1)),
        (NodeKind::Socket, FileType::Socket, (0, 0)),
        (NodeKind::Fifo, FileType::Fifo, (0, 0)),
    ];
    for (i, (kind, ftype, rdev)) in kinds.into_iter().enumerate() {
        let name = [b'n', b'0' + i as u8];
        let h = fs.mknod(&ctx(4), &d, &name, kind, &SetAttr { uid: Some(0), ..SetAttr::default() }).unwrap();
        let a = fs.getattr(&h).unwrap();
        assert_eq!((a.ftype, a.rdev, a.mode, a.uid, a.gid, a.nlink), (ftype, rdev, 0o644, 0, 100, 1));
        assert_eq!(fs.mknod(&ctx(4), &d, &name, kind, &SetAttr::default()), Err(FsError::Exist));
    }
    assert_eq!(fs.mknod(&ctx(4), &l, b"z", NodeKind::Fifo, &SetAttr::default()), Err(FsError::NotDir));
    assert_eq!(names(&mut fs, &d).len(), 7);
    fsck(&fs);
}

#[test]
fn remove_rmdir() {
    let mut fs = mem(16, 8, 1024);
    let root = fs.root();
    let d = fs.mkdir(&ctx(2), &root, b"d", &SetAttr::default()).unwrap();
    let f = fs.create(&ctx(2), &d, b"f", &guarded()).unwrap();
    fs.write(&ctx(2), &f, 0, &[1; 2000], Stability::FileSync).unwrap();
    let l = fs.symlink(&ctx(2), &d, b"l", b"f", &SetAttr::default()).unwrap();
    assert_eq!(fs.remove(&ctx(3), &root, b"d"), Err(FsError::IsDir));
    assert_eq!(fs.remove(&ctx(3), &root, b"."), Err(FsError::IsDir));
    assert_eq!(fs.remove(&ctx(3), &root, b"nope"), Err(FsError::NoEnt));
    assert_eq!(fs.remove(&ctx(3), &f, b"x"), Err(FsError::NotDir));
    assert_eq!(fs.remove(&ctx(3), &root, &[b'a'; 300]), Err(FsError::NameTooLong));
    assert_eq!(fs.rmdir(&ctx(3), &root, b"d"), Err(FsError::NotEmpty));
    assert_eq!(fs.rmdir(&ctx(3), &d, b"f"), Err(FsError::NotDir));
    assert_eq!(fs.rmdir(&ctx(3), &d, b"nope"), Err(FsError::NoEnt));
    assert_eq!(fs.rmdir(&ctx(3), &d, b"."), Err(FsError::Inval));
    assert_eq!(fs.rmdir(&ctx(3), &d, b".."), Err(FsError::NotEmpty));
    assert_eq!(fs.rmdir(&ctx(3), &f, b"x"), Err(FsError::NotDir));
    fs.remove(&ctx(4), &d, b"f").unwrap();
    assert_eq!(fs.fsstat(&root).unwrap().free_bytes, 8 * 512, "blocks freed");
    fs.remove(&ctx(4), &d, b"l").unwrap();
    assert_eq!(fs.getattr(&l), Err(FsError::Stale));
    assert_eq!((fs.getattr(&d).unwrap().mtime, fs.getattr(&d).unwrap().ctime), (t(4), t(4)));
    fs.rmdir(&ctx(5), &root, b"d").unwrap();
    assert_eq!(fs.getattr(&d), Err(FsError::Stale));
    let r = fs.getattr(&root).unwrap();
    assert_eq!((r.nlink, r.mtime), (2, t(5)));
    assert_eq!(fs.lookup(&root, b"d"), Err(FsError::NoEnt));
    let st = fs.fsstat(&root).unwrap();
    assert_eq!(st.free_files, 15);
    assert_eq!(fs.fsstat(&d), Err(FsError::Stale));
    fsck(&fs);
}

#[test]
fn hard_links() {
    let mut fs = mem(16, 8, 1024);
    let root = fs.root();
    let d = fs.mkdir(&ctx(2), &root, b"d", &SetAttr::default()).unwrap();
    let f = fs.create(&ctx(2), &root, b"f", &guarded()).unwrap();
    fs.write(&ctx(2), &f, 0, b"shared", Stability::FileSync).unwrap();
    fs.link(&ctx(3), &f, &d, b"g").unwrap();
    fs.link(&ctx(3), &f, &root, b"h").unwrap();
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.nlink, a.ctime), (3, t(3)));
    assert_eq!(fs.lookup(&d, b"g").unwrap(), f);
    assert_eq!(fs.getattr(&d).unwrap().mtime, t(3));
    assert_eq!(fs.link(&ctx(4), &f, &d, b"g"), Err(FsError::Exist));
    assert_eq!(fs.link(&ctx(4), &f, &d, b"."), Err(FsError::Exist));
    assert_eq!(fs.link(&ctx(4), &d, &root, b"dd"), Err(FsError::Perm));
    assert_eq!(fs.link(&ctx(4), &f, &f, b"x"), Err(FsError::NotDir));
    assert_eq!(fs.link(&ctx(4), &f, &d, b""), Err(FsError::Inval));
    fs.remove(&ctx(5), &root, b"f").unwrap();
    assert_eq!(fs.getattr(&f).unwrap().nlink, 2);
    fs.remove(&ctx(5), &root, b"h").unwrap();
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.nlink, a.ctime), (1, t(5)));
    let mut buf = [0u8; 6];
    assert_eq!(fs.read(&f, 0, &mut buf).unwrap(), (6, true));
    assert_eq!(&buf, b"shared");
    fs.remove(&ctx(6), &d, b"g").unwrap();
    assert_eq!(fs.getattr(&f), Err(FsError::Stale));
    // Links to special files and symlinks.
    let s = fs.mknod(&ctx(7), &root, b"s", NodeKind::Socket, &SetAttr::default()).unwrap();
    fs.link(&ctx(7), &s, &d, b"s2").unwrap();
    assert_eq!(fs.getattr(&s).unwrap().nlink, 2);
    fsck(&fs);
}

#[test]
fn readdir_errors_and_small_dirs() {
    let mut fs = mem(8, 8, 256);
    let root = fs.root();
    let f = fs.create(&ctx(2), &root, b"f", &guarded()).unwrap();
    let mut all = |_: &crate::fs::DirEntry<'_>| true;
    assert_eq!(fs.readdir(&f, 0, [0; 8], &mut all), Err(FsError::NotDir));
    assert_eq!(fs.readdir(&root, 3, [0; 8], &mut all), Err(FsError::BadCookie));
    assert_eq!(fs.readdir(&root, 1 << 40, [0; 8], &mut all), Err(FsError::BadCookie), "a cookie from the future");
    assert_eq!(fs.readdir(&root, 1, [1; 8], &mut all), Err(FsError::BadCookie));
    let mut seen = vec![];
    let end = fs
        .readdir(&root, 0, [9; 8], &mut |e| {
            seen.push((e.name.to_vec(), e.fileid, e.cookie));
            true
        })
        .unwrap();
    assert!(end.eof);
    let (r, fa) = (fs.getattr(&root).unwrap().fileid, fs.getattr(&f).unwrap().fileid);
    assert_eq!(seen[..2], [(b".".to_vec(), r, 1), (b"..".to_vec(), r, 2)]);
    assert_eq!((seen[2].0.as_slice(), seen[2].1), (&b"f"[..], fa));
    // Refusing the first entry: nothing taken, not at the end.
    let end = fs.readdir(&root, 0, [0; 8], &mut |_| false).unwrap();
    assert!(!end.eof);
    // Resuming after the last entry: at the end at once.
    let end = fs.readdir(&root, seen[2].2, end.verifier, &mut |_| panic!("no more entries")).unwrap();
    assert!(end.eof);
    // `..` of a subdirectory is its parent.
    let d = fs.mkdir(&ctx(2), &root, b"d", &SetAttr::default()).unwrap();
    let mut dotdot = 0;
    fs.readdir(&d, 1, end.verifier, &mut |e| {
        dotdot = e.fileid;
        false
    })
    .unwrap();
    assert_eq!(dotdot, r);
}
