//! The back end of the server's tests: a [`MemFs`] on leaked tables, behind a thin wrapper
//! with knobs the tests turn (a new write verifier, no special files) and a COMMIT counter.

use std::boxed::Box;

use crate::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
use crate::fs::{
    Attr, CreateHow, Ctx, DirEntry, FileSystem, FsError, FsInfo, FsResult, FsStat, Handle, NodeKind, ReaddirEnd,
    SetAttr, Stability, Time,
};

/// A [`MemFs`] with knobs.
#[derive(Debug)]
pub(super) struct TestFs {
    inner: MemFs<'static>,
    /// Replaces the back end's write verifier (a restart, as clients see it).
    pub(super) verifier: Option<[u8; 8]>,
    /// MKNOD supported.
    pub(super) special: bool,
    /// COMMIT calls so far.
    pub(super) commits: usize,
}

fn leak<T: Clone>(v: T, n: usize) -> &'static mut [T] {
    Box::leak(std::vec![v; n].into_boxed_slice())
}

impl TestFs {
    /// A file system with `nodes` objects, `blocks` data blocks of 512 bytes and fsid `fsid`;
    /// its root is `0o777`.
    pub(super) fn with(fsid: u64, nodes: usize, blocks: usize) -> Self {
        let parts = Parts {
            nodes: leak(Node::ZERO, nodes),
            entries: leak(Entry::ZERO, nodes),
            blocks: leak(Block::ZERO, blocks),
            names: leak(0u8, nodes * 24),
        };
        let config = Config { root_mode: 0o777, now: Time { secs: 1, nsecs: 0 }, ..Config::new(fsid, *b"verifier") };
        let inner = MemFs::from_parts(parts, config).unwrap();
        TestFs { inner, verifier: None, special: true, commits: 0 }
    }

    /// A small one (64 objects, 32 KiB of data).
    pub(super) fn new(fsid: u64) -> Self {
        Self::with(fsid, 64, 64)
    }
}

impl FileSystem for TestFs {
    fn root(&self) -> Handle {
        self.inner.root()
    }
    fn info(&self) -> FsInfo {
        FsInfo { special_files: self.special, ..self.inner.info() }
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
        self.inner.read(fh, offset, out)
    }
    fn write(&mut self, ctx: &Ctx, fh: &Handle, off: u64, data: &[u8], s: Stability) -> FsResult<(usize, Stability)> {
        self.inner.write(ctx, fh, off, data, s)
    }
    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()> {
        self.commits += 1;
        self.inner.commit(fh, offset, count)
    }
    fn write_verifier(&self) -> [u8; 8] {
        self.verifier.unwrap_or_else(|| self.inner.write_verifier())
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
    fn mknod(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], kind: NodeKind, attr: &SetAttr) -> FsResult<Handle> {
        if !self.special {
            return Err(FsError::NotSupp);
        }
        self.inner.mknod(ctx, dir, name, kind, attr)
    }
    fn remove(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.remove(ctx, dir, name)
    }
    fn rmdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.inner.rmdir(ctx, dir, name)
    }
    fn rename(&mut self, ctx: &Ctx, from_dir: &Handle, from: &[u8], to_dir: &Handle, to: &[u8]) -> FsResult<()> {
        self.inner.rename(ctx, from_dir, from, to_dir, to)
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
