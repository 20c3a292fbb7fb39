//! The [`FileSystem`] implementation: handle checks and dispatch to the tables' operations.

use super::nodes::Body;
use super::{BLOCK_SIZE, MAX_FILE_SIZE, MAX_LINKS, MAX_NAME, MemFs, ROOT};
use crate::fs::{
    Attr, CreateHow, Ctx, DirEntry, FileSystem, FsError, FsInfo, FsResult, FsStat, Handle, NodeKind, ReaddirEnd,
    SetAttr, Stability, Time,
};

/// Checks a name given to create or rename something: not empty, at most [`MAX_NAME`] bytes,
/// no `/` and no NUL (names are single components).
pub(super) fn check_name(name: &[u8]) -> FsResult<()> {
    if name.len() > MAX_NAME {
        Err(FsError::NameTooLong)
    } else if name.is_empty() || name.iter().any(|&b| b == b'/' || b == 0) {
        Err(FsError::Inval)
    } else {
        Ok(())
    }
}

/// True for `.` and `..`.
pub(super) fn is_dots(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

impl FileSystem for MemFs<'_> {
    fn root(&self) -> Handle {
        self.handle(ROOT)
    }

    fn info(&self) -> FsInfo {
        FsInfo {
            max_file_size: MAX_FILE_SIZE,
            max_links: MAX_LINKS,
            max_name: MAX_NAME as u32,
            time_delta: Time { secs: 0, nsecs: 1 },
            links: true,
            symlinks: true,
            special_files: true,
            case_insensitive: false,
        }
    }

    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr> {
        let n = self.node_of(fh)?;
        Ok(self.attr(n))
    }

    fn setattr(&mut self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        let n = self.node_of(fh)?;
        self.apply_setattr(ctx, n, set)?;
        Ok(self.attr(n))
    }

    fn lookup(&mut self, dir: &Handle, name: &[u8]) -> FsResult<Handle> {
        let d = self.node_of(dir)?;
        let parent = self.dir(d)?.parent;
        match name {
            b"." => Ok(self.handle(d)),
            b".." => Ok(self.handle(parent)),
            _ if name.len() > MAX_NAME => Err(FsError::NameTooLong),
            _ => match self.find_entry(d, name) {
                Some(e) => Ok(self.handle(self.entries[e as usize].child)),
                None => Err(FsError::NoEnt),
            },
        }
    }

    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        let n = self.node_of(fh)?;
        let Body::Symlink { name } = self.nodes[n as usize].body else { return Err(FsError::Inval) };
        let target = self.name(name);
        let dst = out.get_mut(..target.len()).ok_or(FsError::ServerFault)?;
        dst.copy_from_slice(target);
        Ok(target.len())
    }

    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        let n = self.node_of(fh)?;
        self.file(n)?;
        Ok(self.read_data(n, offset, out))
    }

    fn write(
        &mut self,
        ctx: &Ctx,
        fh: &Handle,
        offset: u64,
        data: &[u8],
        _stable: Stability,
    ) -> FsResult<(usize, Stability)> {
        let n = self.node_of(fh)?;
        self.file(n)?;
        match offset.checked_add(data.len() as u64) {
            Some(end) if end <= MAX_FILE_SIZE => {}
            _ => return Err(FsError::FBig),
        }
        if data.is_empty() {
            return Ok((0, Stability::FileSync));
        }
        let written = self.write_data(n, offset, data);
        if written == 0 {
            return Err(FsError::NoSpace);
        }
        let node = &mut self.nodes[n as usize];
        node.mtime = ctx.now;
        node.ctime = ctx.now;
        node.flags &= !super::nodes::EXCLUSIVE;
        // Memory is as stable as this back end gets: a reboot loses the whole file system (and
        // changes the fsid in handles), which the write verifier reports as well.
        Ok((written, Stability::FileSync))
    }

    fn commit(&mut self, fh: &Handle, _offset: u64, _count: u32) -> FsResult<()> {
        let n = self.node_of(fh)?;
        self.file(n)
    }

    fn write_verifier(&self) -> [u8; 8] {
        self.config.write_verifier
    }

    fn create(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle> {
        let d = self.node_of(dir)?;
        let n = self.create_file(ctx, d, name, how)?;
        Ok(self.handle(n))
    }

    fn mkdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        let d = self.node_of(dir)?;
        let n = self.new_object(ctx, d, name, Body::Dir(super::nodes::Dir::new(d)), 0o755, attr, &[])?;
        Ok(self.handle(n))
    }

    fn symlink(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], target: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        let d = self.node_of(dir)?;
        if target.len() > super::MAX_SYMLINK {
            return Err(FsError::NameTooLong);
        }
        let n = self.new_object(ctx, d, name, Body::Symlink { name: super::NONE }, 0o777, attr, target)?;
        Ok(self.handle(n))
    }

    fn mknod(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], kind: NodeKind, attr: &SetAttr) -> FsResult<Handle> {
        let d = self.node_of(dir)?;
        let body = match kind {
            NodeKind::Char(a, b) => Body::Char(a, b),
            NodeKind::Block(a, b) => Body::Block(a, b),
            NodeKind::Socket => Body::Socket,
            NodeKind::Fifo => Body::Fifo,
        };
        let n = self.new_object(ctx, d, name, body, 0o644, attr, &[])?;
        Ok(self.handle(n))
    }

    fn remove(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        let d = self.node_of(dir)?;
        self.unlink(ctx, d, name)
    }

    fn rmdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        let d = self.node_of(dir)?;
        self.remove_dir(ctx, d, name)
    }

    fn rename(&mut self, ctx: &Ctx, from_dir: &Handle, from: &[u8], to_dir: &Handle, to: &[u8]) -> FsResult<()> {
        let (fd, td) = (self.node_of(from_dir)?, self.node_of(to_dir)?);
        self.move_entry(ctx, fd, from, td, to)
    }

    fn link(&mut self, ctx: &Ctx, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()> {
        let (n, d) = (self.node_of(fh)?, self.node_of(dir)?);
        self.add_link(ctx, n, d, name)
    }

    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        let d = self.node_of(dir)?;
        self.list(d, cookie, verifier, emit)
    }

    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat> {
        self.node_of(fh)?;
        let bs = BLOCK_SIZE as u64;
        let files = u64::from(self.free_nodes.count.min(self.free_entries.count));
        Ok(FsStat {
            total_bytes: self.blocks.len() as u64 * bs,
            free_bytes: u64::from(self.free_blocks.count) * bs,
            avail_bytes: u64::from(self.free_blocks.count) * bs,
            total_files: self.nodes.len() as u64,
            free_files: files,
            avail_files: files,
        })
    }
}

impl MemFs<'_> {
    /// `Ok` for a regular file; [`FsError::IsDir`] for a directory, else [`FsError::Inval`].
    fn file(&self, n: u32) -> FsResult<()> {
        match self.nodes[n as usize].body {
            Body::File { .. } => Ok(()),
            Body::Dir(_) => Err(FsError::IsDir),
            _ => Err(FsError::Inval),
        }
    }
}
