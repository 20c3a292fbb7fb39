//! Open files: read/write/seek semantics, open flags, descriptors, permissions, read-only
//! mounts, commits, and open files exported from one namespace and imported into another.

use super::tests::{Ns, R2, get, leak, memfs, put, root, stat, user, world};
use super::*;
use crate::fs::mem::MemFs;
use crate::fs::{
    Attr, CreateHow, Ctx, DirEntry, FileSystem, FsInfo, FsResult, FsStat, Handle, ReaddirEnd, SetAttr, Stability,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::vec::Vec;

const RW_CREAT: OpenFlags = OpenFlags::RDWR.union(OpenFlags::CREAT);

fn open(ns: &mut Ns, cred: &Cred<'_>, path: &str, flags: OpenFlags) -> VfsResult<Fd> {
    let at = ns.root();
    ns.open(cred, &at, path.as_bytes(), flags, 0o644)
}

#[test]
fn read_write_seek() {
    let mut ns = world();
    let c = root();
    let fd = open(&mut ns, &c, "/r1/f", RW_CREAT).unwrap();
    assert_eq!(ns.write(&c, fd, b"hello"), Ok(5));
    assert_eq!(ns.file(fd).unwrap().offset, 5);
    let mut buf = [0u8; 16];
    assert_eq!(ns.read(fd, &mut buf), Ok(0)); // at the end
    assert_eq!(ns.seek(fd, Whence::Set, 0), Ok(0));
    assert_eq!(ns.read(fd, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    // pread and pwrite leave the position alone; pwrite past the end leaves a hole.
    assert_eq!(ns.pread(fd, &mut buf[..3], 1), Ok(3));
    assert_eq!(&buf[..3], b"ell");
    assert_eq!(ns.pwrite(&c, fd, b"world", 10), Ok(5));
    assert_eq!(ns.file(fd).unwrap().offset, 5);
    assert_eq!(ns.fstat(fd).unwrap().size, 15);
    assert_eq!(ns.read(fd, &mut buf), Ok(10));
    assert_eq!(&buf[..10], b"\0\0\0\0\0world");
    assert_eq!(ns.seek(fd, Whence::End, -2), Ok(13));
    assert_eq!(ns.seek(fd, Whence::Cur, -13), Ok(0));
    assert_eq!(ns.seek(fd, Whence::Cur, -1), Err(VfsError::Inval));
    assert_eq!(ns.seek(fd, Whence::Set, -1), Err(VfsError::Inval));
    assert_eq!(ns.seek(fd, Whence::End, i64::MAX), Err(VfsError::Inval));
    assert_eq!(ns.file(fd).unwrap().offset, 0); // failed seeks moved nothing
    // Seek beyond the end, write: a hole between.
    assert_eq!(ns.seek(fd, Whence::End, 5), Ok(20));
    assert_eq!(ns.write(&c, fd, b"!"), Ok(1));
    assert_eq!(ns.fstat(fd).unwrap().size, 21);
    // Offsets beyond i64::MAX are refused before reaching the back end.
    assert_eq!(ns.pread(fd, &mut buf, u64::MAX), Err(VfsError::Inval));
    assert_eq!(ns.pwrite(&c, fd, b"x", i64::MAX as u64), Err(VfsError::FBig));
    assert_eq!(ns.write(&c, fd, b""), Ok(0));
    ns.close(fd).unwrap();
    assert_eq!(get(&mut ns, "/r1/f").unwrap(), b"hello\0\0\0\0\0world\0\0\0\0\0!");
    // ftruncate and truncate.
    let fd = open(&mut ns, &c, "/r1/f", OpenFlags::RDWR).unwrap();
    ns.ftruncate(&c, fd, 3).unwrap();
    assert_eq!(ns.fstat(fd).unwrap().size, 3);
    ns.truncate(&c, &ns.root(), b"/r1/f", 7).unwrap();
    assert_eq!(get(&mut ns, "/r1/f").unwrap(), b"hel\0\0\0\0");
    assert_eq!(ns.truncate(&c, &ns.root(), b"/r1", 0), Err(VfsError::IsDir));
}

#[test]
fn append_writes_go_to_the_end() {
    let mut ns = world();
    let c = root();
    put(&mut ns, "/r1/log", b"one\n");
    let fd = open(&mut ns, &c, "/r1/log", OpenFlags::WRONLY | OpenFlags::APPEND).unwrap();
    assert_eq!(ns.file(fd).unwrap().offset, 0);
    assert_eq!(ns.write(&c, fd, b"two\n"), Ok(4));
    assert_eq!(ns.file(fd).unwrap().offset, 8);
    // Someone else extends the file; the next append still lands at the end.
    put_at(&mut ns, "/r1/log", 8, b"other\n");
    ns.seek(fd, Whence::Set, 0).unwrap();
    assert_eq!(ns.write(&c, fd, b"three\n"), Ok(6));
    assert_eq!(ns.file(fd).unwrap().offset, 20);
    // As on Linux, pwrite on an O_APPEND file appends too; writing nothing moves nothing.
    assert_eq!(ns.pwrite(&c, fd, b"four\n", 0), Ok(5));
    ns.seek(fd, Whence::Set, 2).unwrap();
    assert_eq!(ns.write(&c, fd, b""), Ok(0));
    assert_eq!(ns.file(fd).unwrap().offset, 2);
    ns.close(fd).unwrap();
    assert_eq!(get(&mut ns, "/r1/log").unwrap(), b"one\ntwo\nother\nthree\nfour\n");
}

fn put_at(ns: &mut Ns, path: &str, at: u64, data: &[u8]) {
    let fd = open(ns, &root(), path, OpenFlags::WRONLY).unwrap();
    assert_eq!(ns.pwrite(&root(), fd, data, at), Ok(data.len()));
    ns.close(fd).unwrap();
}

#[test]
fn create_excl_trunc() {
    let mut ns = world();
    let c = root();
    let excl = RW_CREAT | OpenFlags::EXCL;
    assert_eq!(open(&mut ns, &c, "/etc/passwd", excl), Err(VfsError::Exist));
    let fd = open(&mut ns, &c, "/r1/sub/r2/new", excl).unwrap();
    ns.close(fd).unwrap();
    assert_eq!(open(&mut ns, &c, "/r1/sub/r2/new", excl), Err(VfsError::Exist));
    // O_CREAT without O_EXCL opens the existing file, keeping its data.
    let fd = open(&mut ns, &c, "/etc/passwd", RW_CREAT).unwrap();
    assert_eq!(ns.fstat(fd).unwrap().size, 10);
    ns.close(fd).unwrap();
    // A dangling symlink: O_CREAT creates its target (on another mount), O_EXCL refuses it.
    let at = ns.root();
    ns.symlink(&c, &at, b"/r1/sub/r2/made", b"/dangling").unwrap();
    assert_eq!(open(&mut ns, &c, "/dangling", excl), Err(VfsError::Exist));
    let fd = open(&mut ns, &c, "/dangling", RW_CREAT).unwrap();
    assert_eq!(ns.file(fd).unwrap().mount, R2);
    ns.close(fd).unwrap();
    assert_eq!(stat(&mut ns, "/r1/sub/r2/made").unwrap().size, 0);
    // O_TRUNC empties, even with O_RDONLY; not a directory.
    let fd = open(&mut ns, &c, "/r1/notes.txt", OpenFlags::RDONLY | OpenFlags::TRUNC).unwrap();
    assert_eq!(ns.fstat(fd).unwrap().size, 0);
    ns.close(fd).unwrap();
    assert_eq!(open(&mut ns, &c, "/r1", OpenFlags::RDONLY | OpenFlags::TRUNC), Err(VfsError::IsDir));
    // A new file's mode may refuse its creator, who still gets the descriptor.
    let fd = ns.open(&user(7), &at, b"/tmp/locked", RW_CREAT, 0o000).unwrap();
    assert_eq!(ns.write(&user(7), fd, b"mine"), Ok(4));
    ns.close(fd).unwrap();
    assert_eq!(open(&mut ns, &user(7), "/tmp/locked", OpenFlags::RDONLY), Err(VfsError::Access));
    assert_eq!(stat(&mut ns, "/tmp/locked").unwrap().uid, 7);
}

#[test]
fn open_flag_rules() {
    let mut ns = world();
    let c = root();
    let dir = OpenFlags::DIRECTORY;
    assert_eq!(open(&mut ns, &c, "/etc/passwd", dir), Err(VfsError::NotDir));
    assert_eq!(open(&mut ns, &c, "/etc/passwd/", OpenFlags::RDONLY), Err(VfsError::NotDir));
    assert_eq!(open(&mut ns, &c, "/etc", OpenFlags::WRONLY), Err(VfsError::IsDir));
    assert_eq!(open(&mut ns, &c, "/etc", OpenFlags::RDWR), Err(VfsError::IsDir));
    assert_eq!(open(&mut ns, &c, "/etc", RW_CREAT), Err(VfsError::IsDir));
    assert_eq!(open(&mut ns, &c, "/r1/sub/r2", OpenFlags::CREAT), Err(VfsError::IsDir));
    assert_eq!(open(&mut ns, &c, "/etc/new/", RW_CREAT), Err(VfsError::IsDir));
    assert_eq!(open(&mut ns, &c, "/.", OpenFlags::CREAT), Err(VfsError::IsDir));
    assert_eq!(open(&mut ns, &c, "/etc/x", OpenFlags::CREAT | dir), Err(VfsError::Inval));
    assert_eq!(OpenFlags::from_bits(3), Err(VfsError::Inval));
    assert_eq!(OpenFlags::from_bits(0o100 | 0o4000_0000).unwrap(), OpenFlags::CREAT); // unknown bits dropped
    assert_eq!(open(&mut ns, &c, "/nope", OpenFlags::RDONLY), Err(VfsError::NoEnt));
    assert_eq!(open(&mut ns, &c, "/nope/x", RW_CREAT), Err(VfsError::NoEnt));
    // O_NOFOLLOW refuses a trailing symlink only.
    assert_eq!(open(&mut ns, &c, "/deep", OpenFlags::NOFOLLOW), Err(VfsError::Loop));
    let fd = open(&mut ns, &c, "/r1/up/../etc/passwd", OpenFlags::NOFOLLOW);
    assert_eq!(fd, Err(VfsError::NotDir)); // `up` is a file link, `..` after it is not a directory
    let fd = open(&mut ns, &c, "/r1/sub/r2/data", OpenFlags::NOFOLLOW).unwrap();
    ns.close(fd).unwrap();
    // Directories open read-only and list; reading one is EISDIR.
    let fd = open(&mut ns, &c, "/r1/sub/r2", dir).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ns.read(fd, &mut buf), Err(VfsError::IsDir));
    let (mut names, mut pos, mut calls) = (Vec::new(), DirPos::START, 0);
    while !pos.eof {
        let mut taken = false;
        pos = ns
            .readdir(fd, pos, &mut |e: &DirEntry<'_>| {
                if taken {
                    return false; // one entry per call
                }
                taken = true;
                names.push(e.name.to_vec());
                true
            })
            .unwrap();
        calls += 1;
    }
    assert!(calls >= 5);
    names.sort();
    assert_eq!(names, [&b"."[..], b"..", b"abs", b"back", b"data"]);
    ns.close(fd).unwrap();
}

#[test]
fn descriptors() {
    let mut ns = world();
    let c = root();
    let w = open(&mut ns, &c, "/r1/f", OpenFlags::WRONLY | OpenFlags::CREAT).unwrap();
    let r = open(&mut ns, &c, "/r1/f", OpenFlags::RDONLY).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ns.read(w, &mut buf), Err(VfsError::BadFd));
    assert_eq!(ns.write(&c, r, b"x"), Err(VfsError::BadFd));
    assert_eq!(ns.ftruncate(&c, r, 0), Err(VfsError::Inval));
    assert_eq!(ns.read(Fd(999), &mut buf), Err(VfsError::BadFd));
    ns.close(r).unwrap();
    assert_eq!(ns.close(r), Err(VfsError::BadFd));
    assert_eq!(ns.fstat(r), Err(VfsError::BadFd));
    // The table holds 8 files.
    let mut fds = std::vec![w];
    for _ in 1..8 {
        fds.push(open(&mut ns, &c, "/etc/passwd", OpenFlags::RDONLY).unwrap());
    }
    assert_eq!(open(&mut ns, &c, "/etc/passwd", OpenFlags::RDONLY), Err(VfsError::TooManyOpen));
    assert_eq!(ns.open_files().count(), 8);
    ns.close(fds[3]).unwrap();
    assert_eq!(open(&mut ns, &c, "/etc/passwd", OpenFlags::RDONLY), Ok(fds[3]));
}

#[test]
fn permissions() {
    let mut ns = world();
    let (alice, bob) = (user(1000), user(1001));
    let at = ns.root();
    // Only root may create in /etc (0755, root's); anyone in the sticky /tmp.
    assert_eq!(open(&mut ns, &alice, "/etc/mine", RW_CREAT), Err(VfsError::Access));
    assert_eq!(ns.mkdir(&alice, &at, b"/etc/d", 0o755), Err(VfsError::Access));
    let fd = ns.open(&alice, &at, b"/tmp/a", RW_CREAT, 0o600).unwrap();
    ns.close(fd).unwrap();
    assert_eq!(stat(&mut ns, "/tmp/a").unwrap().uid, 1000);
    assert_eq!(open(&mut ns, &bob, "/tmp/a", OpenFlags::RDONLY), Err(VfsError::Access));
    assert_eq!(ns.unlink(&bob, &at, b"/tmp/a"), Err(VfsError::Perm)); // sticky
    assert_eq!(ns.rename(&bob, &at, b"/tmp/a", b"/tmp/b"), Err(VfsError::Perm));
    // Search permission on every directory walked.
    ns.mkdir(&alice, &at, b"/tmp/private", 0o700).unwrap();
    put(&mut ns, "/tmp/private/x", b"secret");
    assert_eq!(ns.stat(&bob, &at, b"/tmp/private/x"), Err(VfsError::Access));
    assert_eq!(ns.stat(&bob, &at, b"/tmp/private/../a").map(|a| a.uid), Err(VfsError::Access));
    assert_eq!(ns.stat(&alice, &at, b"/tmp/private/x").unwrap().size, 6);
    assert_eq!(ns.chdir(&bob, &at, b"/tmp/private"), Err(VfsError::Access));
    // Group and supplementary groups.
    let group = SetAttr { mode: Some(0o750), gid: Some(500), ..SetAttr::default() };
    assert_eq!(ns.setattr(&alice, &at, b"/tmp/private", true, &group).map(|_| ()), Err(VfsError::Perm));
    ns.setattr(&root(), &at, b"/tmp/private", true, &group).unwrap();
    let member = Cred { groups: &[7, 500], ..bob };
    assert_eq!(ns.stat(&member, &at, b"/tmp/private/x").unwrap().size, 6);
    assert_eq!(ns.stat(&bob, &at, b"/tmp/private/x"), Err(VfsError::Access));
    assert!(ns.readdir_at(&member, &at, b"/tmp/private", DirPos::START, &mut |_| true).unwrap().eof);
    assert_eq!(open(&mut ns, &member, "/tmp/private/new", RW_CREAT), Err(VfsError::Access)); // no w for group
    // chmod, chown, truncate.
    let chmod = SetAttr { mode: Some(0o644), ..SetAttr::default() };
    assert_eq!(ns.setattr(&bob, &at, b"/tmp/a", true, &chmod).map(|_| ()), Err(VfsError::Perm));
    assert_eq!(ns.setattr(&alice, &at, b"/tmp/a", true, &chmod).unwrap().mode & 0o7777, 0o644);
    let chown = SetAttr { uid: Some(1001), ..SetAttr::default() };
    assert_eq!(ns.setattr(&alice, &at, b"/tmp/a", true, &chown).map(|_| ()), Err(VfsError::Perm));
    assert_eq!(ns.truncate(&bob, &at, b"/tmp/a", 0), Err(VfsError::Access));
    assert_eq!(ns.access(&bob, &at, b"/tmp/a", 4), Ok(()));
    assert_eq!(ns.access(&bob, &at, b"/tmp/a", 2), Err(VfsError::Access));
    assert_eq!(ns.access(&bob, &at, b"/tmp/a", 8), Err(VfsError::Inval));
    // Root passes all but executing a file without any x bit.
    assert_eq!(ns.access(&root(), &at, b"/tmp/private/x", 4 | 2), Ok(()));
    assert_eq!(ns.access(&root(), &at, b"/tmp/private/x", 1), Err(VfsError::Access));
    // The descriptor keeps the right it was opened with after a chmod.
    let fd = open(&mut ns, &alice, "/tmp/a", OpenFlags::RDWR).unwrap();
    let none = SetAttr { mode: Some(0), ..SetAttr::default() };
    ns.fsetattr(&alice, fd, &none).unwrap();
    assert_eq!(ns.write(&alice, fd, b"still"), Ok(5));
    ns.close(fd).unwrap();
}

#[test]
fn read_only_mount() {
    let mut ns = world();
    let c = root();
    let at = ns.root();
    let mut fs = memfs(8);
    let ctx = Ctx { now: super::tests::T, uid: 0, gid: 0 };
    let f = fs.create(&ctx, &fs.root(), b"f", &CreateHow::Guarded(SetAttr::default())).unwrap();
    fs.write(&ctx, &f, 0, b"ro data", Stability::FileSync).unwrap();
    let flags = MountFlags { read_only: true };
    ns.mount(&c, &at, b"/r1/sub", leak(fs), MountId(8), flags).map_err(|(e, _)| e).unwrap();
    assert_eq!(get(&mut ns, "/r1/sub/f").unwrap(), b"ro data");
    assert_eq!(open(&mut ns, &c, "/r1/sub/f", OpenFlags::WRONLY), Err(VfsError::ReadOnly));
    assert_eq!(open(&mut ns, &c, "/r1/sub/g", RW_CREAT), Err(VfsError::ReadOnly));
    assert_eq!(ns.mkdir(&c, &at, b"/r1/sub/d", 0o755), Err(VfsError::ReadOnly));
    assert_eq!(ns.mkdir(&c, &at, b"/r1/sub/f", 0o755), Err(VfsError::Exist));
    assert_eq!(ns.unlink(&c, &at, b"/r1/sub/f"), Err(VfsError::ReadOnly));
    assert_eq!(ns.truncate(&c, &at, b"/r1/sub/f", 0), Err(VfsError::ReadOnly));
    assert_eq!(ns.access(&c, &at, b"/r1/sub/f", 2), Err(VfsError::ReadOnly));
    let writable = OpenFile {
        mount: MountId(8),
        handle: ns.locate(&c, &at, b"/r1/sub/f").unwrap().handle,
        offset: 0,
        flags: OpenFlags::RDWR,
    };
    assert_eq!(ns.import(writable), Err(VfsError::ReadOnly));
}

#[test]
fn stale_locations() {
    let mut ns = world();
    let c = root();
    let at = ns.root();
    ns.mkdir(&c, &at, b"/r1/gone", 0o755).unwrap();
    let cwd = ns.chdir(&c, &at, b"/r1/gone").unwrap();
    ns.rmdir(&c, &at, b"/r1/gone").unwrap();
    assert_eq!(ns.stat(&c, &cwd, b"."), Err(VfsError::Stale));
    assert_eq!(ns.stat(&c, &cwd, b"/etc").unwrap().fsid, 1); // absolute paths do not use it
    let nowhere = Loc { mount: MountId(77), handle: cwd.handle };
    assert_eq!(ns.stat(&c, &nowhere, b"x"), Err(VfsError::Stale));
    assert_eq!(ns.stat(&c, &nowhere, b"/etc").unwrap().fsid, 1);
    // A stateless back end keeps no open count: removing the last name of an open file frees
    // it (NFS clients hide this with silly renames), so its descriptor is stale.
    let fd = open(&mut ns, &c, "/r1/notes.txt", OpenFlags::RDONLY).unwrap();
    ns.unlink(&c, &at, b"/r1/notes.txt").unwrap();
    assert_eq!(ns.fstat(fd), Err(VfsError::Stale));
    ns.close(fd).unwrap();
}

/// A file system shared by several namespaces, as one NFS export is by several machines, that
/// counts unstable writes and commits.
#[derive(Clone)]
struct Shared {
    fs: Rc<RefCell<MemFs<'static>>>,
    unstable: Rc<Cell<u32>>,
    commits: Rc<Cell<u32>>,
}

impl FileSystem for Shared {
    fn root(&self) -> Handle {
        self.fs.borrow().root()
    }
    fn info(&self) -> FsInfo {
        self.fs.borrow().info()
    }
    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr> {
        self.fs.borrow_mut().getattr(fh)
    }
    fn setattr(&mut self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        self.fs.borrow_mut().setattr(ctx, fh, set)
    }
    fn lookup(&mut self, dir: &Handle, name: &[u8]) -> FsResult<Handle> {
        self.fs.borrow_mut().lookup(dir, name)
    }
    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        self.fs.borrow_mut().readlink(fh, out)
    }
    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        self.fs.borrow_mut().read(fh, offset, out)
    }
    fn write(&mut self, c: &Ctx, fh: &Handle, off: u64, data: &[u8], st: Stability) -> FsResult<(usize, Stability)> {
        if st == Stability::Unstable {
            self.unstable.set(self.unstable.get() + 1);
        }
        self.fs.borrow_mut().write(c, fh, off, data, st)
    }
    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()> {
        self.commits.set(self.commits.get() + 1);
        self.fs.borrow_mut().commit(fh, offset, count)
    }
    fn write_verifier(&self) -> [u8; 8] {
        self.fs.borrow().write_verifier()
    }
    fn create(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle> {
        self.fs.borrow_mut().create(ctx, dir, name, how)
    }
    fn mkdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.fs.borrow_mut().mkdir(ctx, dir, name, attr)
    }
    fn symlink(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], to: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.fs.borrow_mut().symlink(ctx, dir, name, to, attr)
    }
    fn remove(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.fs.borrow_mut().remove(ctx, dir, name)
    }
    fn rmdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.fs.borrow_mut().rmdir(ctx, dir, name)
    }
    fn rename(&mut self, ctx: &Ctx, fd: &Handle, from: &[u8], td: &Handle, to: &[u8]) -> FsResult<()> {
        self.fs.borrow_mut().rename(ctx, fd, from, td, to)
    }
    fn link(&mut self, ctx: &Ctx, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.fs.borrow_mut().link(ctx, fh, dir, name)
    }
    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        self.fs.borrow_mut().readdir(dir, cookie, verifier, emit)
    }
    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat> {
        self.fs.borrow_mut().fsstat(fh)
    }
}

#[test]
fn writes_are_committed_on_fsync_close_and_export() {
    let shared = Shared { fs: Rc::new(RefCell::new(memfs(5))), unstable: Rc::default(), commits: Rc::default() };
    let mut ns: Ns = Namespace::new(leak(memfs(1)), MountId(1), MountFlags::default());
    let at = ns.root();
    let c = root();
    ns.mkdir(&c, &at, b"/net", 0o755).unwrap();
    let remote = std::boxed::Box::leak(std::boxed::Box::new(shared.clone()));
    ns.mount(&c, &at, b"/net", remote, MountId(5), MountFlags::default()).map_err(|(e, _)| e).unwrap();
    let fd = ns.open(&c, &at, b"/net/f", RW_CREAT, 0o644).unwrap();
    ns.write(&c, fd, b"abc").unwrap();
    ns.write(&c, fd, b"def").unwrap();
    assert_eq!((shared.unstable.get(), shared.commits.get()), (2, 0));
    ns.fsync(fd).unwrap();
    assert_eq!(shared.commits.get(), 1);
    ns.export(fd).unwrap();
    assert_eq!(shared.commits.get(), 2);
    ns.close(fd).unwrap();
    assert_eq!(shared.commits.get(), 3);
    let fd = ns.open(&c, &at, b"/net/f", OpenFlags::RDONLY, 0).unwrap();
    ns.fsync(fd).unwrap();
    ns.close(fd).unwrap();
    assert_eq!(shared.commits.get(), 3); // nothing to commit for a reader
}

#[test]
fn open_files_move_between_namespaces() {
    // Machine A: the remote file system at /r; machine B: the same file system at /net/data,
    // mounted with the same id (the hash of its source), under another root.
    let shared = Shared { fs: Rc::new(RefCell::new(memfs(5))), unstable: Rc::default(), commits: Rc::default() };
    let id = MountId::of_source(b"nfs://server/export");
    let c = root();
    let mut a: Ns = Namespace::new(leak(memfs(1)), MountId(1), MountFlags::default());
    let mut b: Namespace<'static, 2, 4, 128> = Namespace::new(leak(memfs(2)), MountId(2), MountFlags::default());
    let (ra, rb) = (a.root(), b.root());
    a.mkdir(&c, &ra, b"/r", 0o755).unwrap();
    b.mkdir(&c, &rb, b"/net", 0o755).unwrap();
    b.mkdir(&c, &rb, b"/net/data", 0o755).unwrap();
    let fa = std::boxed::Box::leak(std::boxed::Box::new(shared.clone()));
    let fb = std::boxed::Box::leak(std::boxed::Box::new(shared.clone()));
    a.mount(&c, &ra, b"/r", fa, id, MountFlags::default()).map_err(|(e, _)| e).unwrap();
    b.mount(&c, &rb, b"/net/data", fb, id, MountFlags::default()).map_err(|(e, _)| e).unwrap();

    let fd = a.open(&c, &ra, b"/r/file", RW_CREAT | OpenFlags::APPEND, 0o644).unwrap();
    a.write(&c, fd, b"written on A;").unwrap();
    a.seek(fd, Whence::Set, 8).unwrap();
    let moving = a.export(fd).unwrap();
    assert_eq!(moving.offset, 8);
    assert_eq!(moving.mount, id);
    assert_eq!(moving.flags, OpenFlags::RDWR | OpenFlags::APPEND);
    a.close(fd).unwrap();
    assert_eq!(a.unmount(id).map(|_| ()), Ok(())); // nothing of it is left on A

    // The value is plain data: round-trip it through bytes, as a control block would travel.
    let moving = OpenFile {
        mount: MountId(u64::from_le_bytes(moving.mount.0.to_le_bytes())),
        handle: Handle::new(moving.handle.as_bytes()).unwrap(),
        offset: moving.offset,
        flags: OpenFlags::from_bits(moving.flags.bits()).unwrap(),
    };
    let fd = b.import(moving).unwrap();
    let mut buf = [0u8; 32];
    let n = b.read(fd, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"on A;");
    b.write(&c, fd, b" then on B").unwrap();
    b.close(fd).unwrap();
    assert_eq!(get(&mut b, "/net/data/file").unwrap(), b"written on A; then on B");

    // A namespace without that mount, a removed file, flags an open file cannot hold.
    let mut lonely: Ns = Namespace::new(leak(memfs(3)), MountId(3), MountFlags::default());
    assert_eq!(lonely.import(moving), Err(VfsError::Stale));
    assert_eq!(b.import(OpenFile { flags: OpenFlags::CREAT, ..moving }), Err(VfsError::Inval));
    assert_eq!(lonely.reinstall(moving), Err(VfsError::Stale));
    assert_eq!(b.reinstall(OpenFile { flags: OpenFlags::CREAT, ..moving }), Err(VfsError::Inval));
    b.unlink(&c, &rb, b"/net/data/file").unwrap();
    assert_eq!(b.import(moving), Err(VfsError::Stale));
    // Reinstalled without the check, the removed file fails at its first call.
    let fd = b.reinstall(moving).unwrap();
    assert_eq!(b.read(fd, &mut buf), Err(VfsError::Stale));
    assert_eq!(b.fstat(fd).map(|a| a.size), Err(VfsError::Stale));
    // Closing reports the failed commit, and frees the descriptor all the same.
    assert_eq!(b.close(fd), Err(VfsError::Stale));
    assert_eq!(b.file(fd).map(|_| ()), Err(VfsError::BadFd));
}
