//! `FuseFs` driven directly (no kernel): node-id bookkeeping, listings in small replies,
//! hidden names for unlinked open files, commits, error mapping. The same code then runs
//! under the kernel in `tests/tests/fuse_mount.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use fuser::{Errno, FileType as KernelType, RenameFlags};
use tern_core::fs::*;

use super::convert::ctx;
use super::inodes::ROOT;
use super::{FuseConfig, FuseFs};
use crate::cli::mount::memfs;

fn mem() -> FuseFs<tern_core::fs::mem::MemFs<'static>> {
    FuseFs::new(memfs(4).unwrap(), FuseConfig::default())
}

const RW: (u32, u32, i32) = (0o100_644, 0o022, libc::O_RDWR);

/// Lists `dir` in replies that take at most `per_reply` entries; returns (names, node ids).
fn list<F: FileSystem + Send + 'static>(f: &FuseFs<F>, dir: u64, plus: bool, per_reply: usize) -> Vec<(Vec<u8>, u64)> {
    let fh = f.do_opendir(dir).unwrap();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let mut got = 0;
        let mut next = offset;
        let mut add = |i: &super::dir::Item<'_>| {
            if got == per_reply {
                return true;
            }
            got += 1;
            out.push((i.name.to_vec(), i.ino));
            next = i.offset;
            false
        };
        f.do_readdir(dir, fh, offset, plus, &mut add).unwrap();
        offset = next;
        if got == 0 {
            break;
        }
    }
    f.do_releasedir(fh);
    out
}

#[test]
fn write_read_and_ids() {
    let f = mem();
    let c = ctx(1000, 100);
    let a = f.do_create(&c, ROOT, b"a", RW).unwrap();
    assert_eq!((a.uid, a.gid, a.perm), (1000, 100, 0o644));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(f.do_write(&c, a.ino.0, 0, &data).unwrap(), data.len());
    let mut buf = vec![0u8; 400_000];
    assert_eq!(f.do_read(a.ino.0, 0, &mut buf).unwrap(), data.len(), "a read stops only at the end");
    assert_eq!(&buf[..data.len()], &data[..]);
    assert_eq!(f.do_read(a.ino.0, 1 << 40, &mut buf).unwrap(), 0);
    // Hard link: the same node id, two lookups more.
    let h = f.do_link(&c, a.ino.0, ROOT, b"h").unwrap();
    assert_eq!(h.ino, a.ino);
    assert_eq!(h.nlink, 2);
    let again = f.do_lookup(ROOT, b"a").unwrap();
    assert_eq!(again.ino, a.ino);
    // The node id is the back end's file id.
    let fileid = f.with_fs(|fs| {
        let root = fs.root();
        let fh = fs.lookup(&root, b"a").unwrap();
        fs.getattr(&fh).unwrap().fileid
    });
    assert_eq!(a.ino.0, fileid);
    assert_eq!(f.do_getattr(ROOT).unwrap().ino.0, ROOT);
    f.do_release(a.ino.0).unwrap();
}

#[test]
fn forget_empties_the_table() {
    let f = mem();
    let c = ctx(0, 0);
    let d = f.do_mkdir(&c, ROOT, b"d", 0o40_777, 0o022).unwrap();
    assert_eq!(d.perm, 0o755);
    assert_eq!(f.do_lookup(ROOT, b"d").unwrap().ino, d.ino);
    assert_eq!(f.nodes(), 2);
    f.lock().inodes.forget(d.ino.0, 1);
    assert_eq!(f.nodes(), 2, "one lookup is still held");
    f.lock().inodes.forget(d.ino.0, 1);
    assert_eq!(f.nodes(), 1);
    assert_eq!(f.do_getattr(d.ino.0), Err(Errno::ESTALE), "a forgotten node is stale");
}

#[test]
fn listings_resume_and_count_lookups() {
    let f = mem();
    let c = ctx(0, 0);
    for i in 0..100 {
        let a = f.do_create(&c, ROOT, format!("file{i:03}").as_bytes(), RW).unwrap();
        f.do_release(a.ino.0).unwrap();
        f.lock().inodes.forget(a.ino.0, 1);
    }
    assert_eq!(f.nodes(), 1);
    let plain = list(&f, ROOT, false, 7);
    assert_eq!(plain.len(), 102);
    assert_eq!(plain[0].0, b".");
    assert_eq!(plain[1].0, b"..");
    assert_eq!(f.nodes(), 1, "READDIR counts no lookups");
    let plus = list(&f, ROOT, true, 7);
    assert_eq!(plus.iter().map(|e| &e.0).collect::<Vec<_>>(), plain.iter().map(|e| &e.0).collect::<Vec<_>>());
    assert_eq!(f.nodes(), 101, "READDIRPLUS counts one lookup per entry taken, none for . and ..");
    for (name, ino) in &plus[2..] {
        assert_eq!(f.do_lookup(ROOT, name).unwrap().ino.0, *ino);
        assert_eq!(plain.iter().find(|e| &e.0 == name).unwrap().1, *ino, "d_ino agrees");
    }
    // Kinds reach the kernel.
    f.do_mkdir(&c, ROOT, b"sub", 0o755, 0).unwrap();
    f.do_symlink(&c, ROOT, b"ln", b"file000").unwrap();
    let fh = f.do_opendir(ROOT).unwrap();
    let mut kinds = Vec::new();
    f.do_readdir(ROOT, fh, 0, false, &mut |i| {
        kinds.push((i.name.to_vec(), i.attr.kind));
        false
    })
    .unwrap();
    assert!(kinds.contains(&(b"sub".to_vec(), KernelType::Directory)));
    assert!(kinds.contains(&(b"ln".to_vec(), KernelType::Symlink)));
    assert!(kinds.contains(&(b"file050".to_vec(), KernelType::RegularFile)));
    assert_eq!(f.do_readlink(f.do_lookup(ROOT, b"ln").unwrap().ino.0).unwrap(), b"file000");
}

#[test]
fn unlinked_open_file_lives_until_release() {
    let f = mem();
    let c = ctx(0, 0);
    let a = f.do_create(&c, ROOT, b"tmp", RW).unwrap();
    f.do_write(&c, a.ino.0, 0, b"still here").unwrap();
    f.do_unlink(&c, ROOT, b"tmp").unwrap();
    assert_eq!(f.do_lookup(ROOT, b"tmp"), Err(Errno::ENOENT));
    let mut buf = [0u8; 32];
    assert_eq!(f.do_read(a.ino.0, 0, &mut buf).unwrap(), 10);
    let names = list(&f, ROOT, false, 100);
    assert_eq!(names.len(), 3);
    assert!(names[2].0.starts_with(b".tern_hidden"));
    f.do_release(a.ino.0).unwrap();
    assert_eq!(list(&f, ROOT, false, 100).len(), 2, "the hidden name went with the last release");

    // A file renamed over while open is hidden the same way; a closed one is replaced.
    let t = f.do_create(&c, ROOT, b"target", RW).unwrap();
    f.do_write(&c, t.ino.0, 0, b"old").unwrap();
    let s = f.do_create(&c, ROOT, b"source", RW).unwrap();
    f.do_release(s.ino.0).unwrap();
    f.do_rename(&c, (ROOT, b"source"), (ROOT, b"target"), RenameFlags::empty()).unwrap();
    assert_eq!(f.do_read(t.ino.0, 0, &mut buf).unwrap(), 3);
    assert_eq!(f.do_lookup(ROOT, b"target").unwrap().ino, s.ino);
    f.do_release(t.ino.0).unwrap();
    assert_eq!(list(&f, ROOT, false, 100).len(), 3);
    // Files with another link are not hidden: the other name keeps them.
    let l = f.do_create(&c, ROOT, b"linked", RW).unwrap();
    f.do_link(&c, l.ino.0, ROOT, b"other").unwrap();
    f.do_unlink(&c, ROOT, b"linked").unwrap();
    assert_eq!(list(&f, ROOT, false, 100).len(), 4);
    f.do_release(l.ino.0).unwrap();
}

#[test]
fn errors_come_back_as_errno() {
    let f = mem();
    let c = ctx(0, 0);
    let d = f.do_mkdir(&c, ROOT, b"d", 0o755, 0).unwrap();
    let x = f.do_create(&c, d.ino.0, b"x", RW).unwrap();
    f.do_release(x.ino.0).unwrap();
    assert_eq!(f.do_rmdir(&c, ROOT, b"d"), Err(Errno::ENOTEMPTY));
    assert_eq!(f.do_lookup(ROOT, b"nope").unwrap_err(), Errno::ENOENT);
    assert_eq!(f.do_mkdir(&c, ROOT, b"d", 0o755, 0).unwrap_err(), Errno::EEXIST);
    assert_eq!(f.do_lookup(x.ino.0, b"y").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(f.do_unlink(&c, ROOT, b"d"), Err(Errno::EISDIR));
    assert_eq!(f.do_getattr(999_999), Err(Errno::ESTALE));
    assert_eq!(f.do_create(&c, d.ino.0, b"x", (0o644, 0, libc::O_EXCL)).unwrap_err(), Errno::EEXIST);
    let none = RenameFlags::empty();
    assert_eq!(f.do_rename(&c, (ROOT, b"d"), (d.ino.0, b"in"), none), Err(Errno::EINVAL));
    assert_eq!(f.do_rename(&c, (d.ino.0, b"x"), (ROOT, b"d"), RenameFlags::RENAME_NOREPLACE), Err(Errno::EEXIST));
    assert_eq!(f.do_rename(&c, (d.ino.0, b"x"), (ROOT, b"z"), RenameFlags::RENAME_EXCHANGE), Err(Errno::EINVAL));
    // Creating an existing file without O_EXCL opens it, truncating with O_TRUNC.
    f.do_write(&c, x.ino.0, 0, b"data").unwrap();
    let again = f.do_create(&c, d.ino.0, b"x", (0o600, 0, libc::O_TRUNC)).unwrap();
    assert_eq!((again.ino, again.size, again.perm), (x.ino, 0, 0o644));
    f.do_release(again.ino.0).unwrap();
    // mknod: a fifo and a device.
    let p = f.do_mknod(&c, ROOT, b"p", (libc::S_IFIFO | 0o600, 0, 0)).unwrap();
    assert_eq!(p.kind, KernelType::NamedPipe);
    let dev = f.do_mknod(&c, ROOT, b"null", (libc::S_IFCHR | 0o666, 0, super::convert::encode_dev(1, 3))).unwrap();
    assert_eq!((dev.kind, dev.rdev), (KernelType::CharDevice, 0x103));
    // setattr: size, mode, times.
    let set = super::convert::set_attr(Some(0o600), None, None, Some(10), None, None);
    let a = f.do_setattr(&c, x.ino.0, &set).unwrap();
    assert_eq!((a.size, a.perm), (10, 0o600));
    let s = f.do_statfs().unwrap();
    assert!(s.0.total_bytes >= 4 << 20);
}

#[test]
fn access_follows_the_mode() {
    let f = mem();
    let c = ctx(1000, 100);
    let a = f.do_create(&c, ROOT, b"a", (0o640, 0, 0)).unwrap();
    let ino = a.ino.0;
    assert_eq!(f.do_access(ino, libc::R_OK | libc::W_OK, 1000, 100), Ok(()));
    assert_eq!(f.do_access(ino, libc::X_OK, 1000, 100), Err(Errno::EACCES));
    assert_eq!(f.do_access(ino, libc::R_OK, 2000, 100), Ok(()));
    assert_eq!(f.do_access(ino, libc::W_OK, 2000, 100), Err(Errno::EACCES));
    assert_eq!(f.do_access(ino, libc::R_OK, 2000, 200), Err(Errno::EACCES));
    assert_eq!(f.do_access(ino, libc::F_OK, 2000, 200), Ok(()));
    assert_eq!(f.do_access(ino, libc::W_OK, 0, 0), Ok(()));
    assert_eq!(f.do_access(ino, libc::X_OK, 0, 0), Err(Errno::EACCES), "root executes only executables");
    assert_eq!(f.do_access(ROOT, libc::X_OK, 0, 0), Ok(()));
}

/// A MemFs that answers writes as unstable and counts commits (which can be made to fail).
struct Unstable {
    inner: tern_core::fs::mem::MemFs<'static>,
    commits: Arc<AtomicU32>,
    fail: Arc<AtomicBool>,
}

impl FileSystem for Unstable {
    fn root(&self) -> Handle {
        self.inner.root()
    }
    fn info(&self) -> FsInfo {
        self.inner.info()
    }
    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr> {
        self.inner.getattr(fh)
    }
    fn setattr(&mut self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        self.inner.setattr(ctx, fh, set)
    }
    fn lookup(&mut self, dir: &Handle, name: &[u8]) -> FsResult<Handle> {
        self.inner.lookup(dir, name)
    }
    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        self.inner.readlink(fh, out)
    }
    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        // Short reads, as a network back end may give: FuseFs must loop.
        let n = out.len().min(1000);
        self.inner.read(fh, offset, &mut out[..n])
    }
    fn write(&mut self, ctx: &Ctx, fh: &Handle, off: u64, data: &[u8], _: Stability) -> FsResult<(usize, Stability)> {
        let n = data.len().min(777);
        self.inner.write(ctx, fh, off, &data[..n], Stability::Unstable).map(|(n, _)| (n, Stability::Unstable))
    }
    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(FsError::Io);
        }
        self.inner.commit(fh, offset, count)
    }
    fn write_verifier(&self) -> [u8; 8] {
        self.inner.write_verifier()
    }
    fn create(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle> {
        self.inner.create(ctx, dir, name, how)
    }
    fn mkdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.inner.mkdir(ctx, dir, name, attr)
    }
    fn symlink(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], target: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.inner.symlink(ctx, dir, name, target, attr)
    }
    fn remove(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.remove(ctx, dir, name)
    }
    fn rmdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.rmdir(ctx, dir, name)
    }
    fn rename(&mut self, ctx: &Ctx, fd: &Handle, from: &[u8], td: &Handle, to: &[u8]) -> FsResult<()> {
        self.inner.rename(ctx, fd, from, td, to)
    }
    fn link(&mut self, ctx: &Ctx, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.link(ctx, fh, dir, name)
    }
    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        self.inner.readdir(dir, cookie, verifier, emit)
    }
    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat> {
        self.inner.fsstat(fh)
    }
}

#[test]
fn unstable_writes_are_committed_once_on_close() {
    let commits = Arc::new(AtomicU32::new(0));
    let fail = Arc::new(AtomicBool::new(false));
    let fs = Unstable { inner: memfs(4).unwrap(), commits: commits.clone(), fail: fail.clone() };
    let f = FuseFs::new(fs, FuseConfig::default());
    let c = ctx(0, 0);
    let a = f.do_create(&c, ROOT, b"a", RW).unwrap();
    let ino = a.ino.0;
    let data = vec![7u8; 10_000];
    assert_eq!(f.do_write(&c, ino, 0, &data).unwrap(), 10_000, "partial back-end writes are continued");
    let mut buf = vec![0u8; 20_000];
    assert_eq!(f.do_read(ino, 0, &mut buf).unwrap(), 10_000, "short back-end reads are continued");
    f.do_commit(ino).unwrap();
    f.do_commit(ino).unwrap();
    assert_eq!(commits.load(Ordering::SeqCst), 1, "nothing dirty, nothing sent");
    // A failed commit is reported and retried at the next close.
    f.do_write(&c, ino, 0, b"x").unwrap();
    fail.store(true, Ordering::SeqCst);
    assert_eq!(f.do_commit(ino), Err(Errno::EIO));
    fail.store(false, Ordering::SeqCst);
    f.do_release(ino).unwrap();
    assert_eq!(commits.load(Ordering::SeqCst), 3);
    // Reading only never commits.
    let b = f.do_lookup(ROOT, b"a").unwrap();
    f.do_open(b.ino.0).unwrap();
    f.do_read(b.ino.0, 0, &mut buf).unwrap();
    f.do_release(b.ino.0).unwrap();
    assert_eq!(commits.load(Ordering::SeqCst), 3);
}
