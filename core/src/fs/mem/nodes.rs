//! Node slots: objects, their attributes, allocation and freeing.

use super::{MemFs, NONE, ROOT};
use crate::fs::{Attr, Ctx, FileType, FsError, FsResult, SetAttr, SetTime, Time};

/// Node flag: created by an EXCLUSIVE CREATE whose verifier sits in mtime/atime seconds.
pub(super) const EXCLUSIVE: u8 = 1;

/// One object slot of a [`MemFs`] (80 bytes). Opaque: allocate tables of [`Node::ZERO`].
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub(super) body: Body,
    pub(super) mode: u16,
    pub(super) flags: u8,
    pub(super) nlink: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Bumped when the slot is freed; part of the handle.
    pub(super) generation: u32,
    /// Files: size in bytes; symlinks: target length; others: 0.
    pub(super) size: u64,
    pub(super) atime: Time,
    pub(super) mtime: Time,
    pub(super) ctime: Time,
}

/// What a node is, with the fields only that kind has.
#[derive(Debug, Clone, Copy)]
pub(super) enum Body {
    /// On the free list.
    Free {
        next: u32,
    },
    /// Regular file: head of its block list and the number of blocks.
    File {
        head: u32,
        blocks: u32,
    },
    /// Directory.
    Dir(Dir),
    /// Symlink: offset of the target's record in the names arena.
    Symlink {
        name: u32,
    },
    Char(u32, u32),
    Block(u32, u32),
    Socket,
    Fifo,
}

/// A directory's fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dir {
    /// Parent directory (the root is its own parent).
    pub(super) parent: u32,
    /// First and last entry, in sequence order.
    pub(super) head: u32,
    pub(super) tail: u32,
    /// Number of entries (without `.` and `..`).
    pub(super) count: u32,
    /// Sequence number of the next entry (entries have 1..next_seq).
    pub(super) next_seq: u32,
    /// Cookie verifier: bumped when the entries are renumbered.
    pub(super) cookie_gen: u32,
}

impl Dir {
    pub(super) fn new(parent: u32) -> Self {
        Dir { parent, head: NONE, tail: NONE, count: 0, next_seq: 1, cookie_gen: 0 }
    }
}

impl Node {
    /// An unformatted slot (all zeros).
    pub const ZERO: Node = Node {
        body: Body::Free { next: 0 },
        mode: 0,
        flags: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        generation: 0,
        size: 0,
        atime: Time { secs: 0, nsecs: 0 },
        mtime: Time { secs: 0, nsecs: 0 },
        ctime: Time { secs: 0, nsecs: 0 },
    };

    pub(super) fn is_live(&self) -> bool {
        !matches!(self.body, Body::Free { .. })
    }

    pub(super) fn ftype(&self) -> FileType {
        match self.body {
            Body::Dir(_) => FileType::Directory,
            Body::Symlink { .. } => FileType::Symlink,
            Body::Char(..) => FileType::Char,
            Body::Block(..) => FileType::Block,
            Body::Socket => FileType::Socket,
            Body::Fifo => FileType::Fifo,
            Body::File { .. } | Body::Free { .. } => FileType::Regular,
        }
    }

    pub(super) fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    /// The 8-byte EXCLUSIVE verifier kept in mtime/atime seconds, as Linux does.
    pub(super) fn set_verifier(&mut self, v: [u8; 8]) {
        self.mtime = Time { secs: u32::from_be_bytes([v[0], v[1], v[2], v[3]]), nsecs: 0 };
        self.atime = Time { secs: u32::from_be_bytes([v[4], v[5], v[6], v[7]]), nsecs: 0 };
        self.flags |= EXCLUSIVE;
    }

    pub(super) fn has_verifier(&self, v: [u8; 8]) -> bool {
        let (m, a) = (self.mtime.secs.to_be_bytes(), self.atime.secs.to_be_bytes());
        self.flags & EXCLUSIVE != 0 && m == [v[0], v[1], v[2], v[3]] && a == [v[4], v[5], v[6], v[7]]
    }
}

/// The value a [`SetTime`] asks for, if any.
pub(super) fn set_time(t: SetTime, now: Time) -> Option<Time> {
    match t {
        SetTime::Keep => None,
        SetTime::ServerTime => Some(now),
        SetTime::Client(t) => Some(t),
    }
}

impl MemFs<'_> {
    /// Puts every node but the root on the free list and makes the root an empty directory.
    pub(super) fn format_nodes(&mut self) {
        let n = self.nodes.len() as u32;
        for (i, node) in self.nodes.iter_mut().enumerate().skip(1) {
            let next = if i as u32 + 1 < n { i as u32 + 1 } else { NONE };
            *node = Node { body: Body::Free { next }, generation: node.generation.wrapping_add(1), ..Node::ZERO };
        }
        self.free_nodes.head = if n > 1 { 1 } else { NONE };
        self.free_nodes.count = n.saturating_sub(1);
        let c = self.config;
        let t = c.now;
        self.nodes[ROOT as usize] = Node {
            body: Body::Dir(Dir::new(ROOT)),
            mode: (c.root_mode & 0o7777) as u16,
            nlink: 2,
            uid: c.root_uid,
            gid: c.root_gid,
            atime: t,
            mtime: t,
            ctime: t,
            generation: self.nodes[ROOT as usize].generation.wrapping_add(1),
            ..Node::ZERO
        };
    }

    /// Takes a free node and makes it `body` with attributes from `ctx` and `set` (except the
    /// size). The caller checked that a node is free.
    pub(super) fn alloc_node(&mut self, ctx: &Ctx, body: Body, mode: u32, set: &SetAttr) -> u32 {
        let n = self.free_nodes.head;
        let node = &mut self.nodes[n as usize];
        if let Body::Free { next } = node.body {
            self.free_nodes.head = next;
        }
        self.free_nodes.count -= 1;
        let now = ctx.now;
        *node = Node {
            body,
            mode: (set.mode.unwrap_or(mode) & 0o7777) as u16,
            flags: 0,
            nlink: 1,
            uid: set.uid.unwrap_or(ctx.uid),
            gid: set.gid.unwrap_or(ctx.gid),
            generation: node.generation,
            size: 0,
            atime: set_time(set.atime, now).unwrap_or(now),
            mtime: set_time(set.mtime, now).unwrap_or(now),
            ctime: now,
        };
        n
    }

    /// Frees node `n` with its blocks or symlink target, and bumps its generation.
    pub(super) fn free_node(&mut self, n: u32) {
        match self.nodes[n as usize].body {
            Body::File { .. } => {
                self.truncate_blocks(n, 0);
            }
            Body::Symlink { name } => self.free_name(name),
            _ => {}
        }
        let node = &mut self.nodes[n as usize];
        *node = Node {
            body: Body::Free { next: self.free_nodes.head },
            generation: node.generation.wrapping_add(1),
            ..Node::ZERO
        };
        self.free_nodes.head = n;
        self.free_nodes.count += 1;
    }

    /// Drops one link of non-directory `n`: frees it at zero, else updates its ctime.
    pub(super) fn drop_link(&mut self, n: u32, now: Time) {
        let node = &mut self.nodes[n as usize];
        node.nlink = node.nlink.saturating_sub(1);
        node.ctime = now;
        if node.nlink == 0 {
            self.free_node(n);
        }
    }

    /// Directory `n`'s fields ([`FsError::NotDir`] if it is not a directory).
    pub(super) fn dir(&self, n: u32) -> FsResult<&Dir> {
        match &self.nodes[n as usize].body {
            Body::Dir(d) => Ok(d),
            _ => Err(FsError::NotDir),
        }
    }

    pub(super) fn dir_mut(&mut self, n: u32) -> Option<&mut Dir> {
        match &mut self.nodes[n as usize].body {
            Body::Dir(d) => Some(d),
            _ => None,
        }
    }

    /// Marks directory `d` changed (an entry added, removed or renamed).
    pub(super) fn touch_dir(&mut self, d: u32, now: Time) {
        let node = &mut self.nodes[d as usize];
        node.mtime = now;
        node.ctime = now;
    }

    /// The `fileid` of node `n`.
    pub(super) fn fileid(&self, n: u32) -> u64 {
        u64::from(self.nodes[n as usize].generation) << 32 | (u64::from(n) + 1)
    }

    /// The attributes of node `n`.
    pub(super) fn attr(&self, n: u32) -> Attr {
        let node = &self.nodes[n as usize];
        let (size, used, rdev) = match node.body {
            Body::File { blocks, .. } => (node.size, u64::from(blocks) * super::BLOCK_SIZE as u64, (0, 0)),
            Body::Dir(d) => (32 * (u64::from(d.count) + 2), 0, (0, 0)),
            Body::Symlink { .. } => (node.size, node.size, (0, 0)),
            Body::Char(a, b) | Body::Block(a, b) => (0, 0, (a, b)),
            _ => (0, 0, (0, 0)),
        };
        Attr {
            ftype: node.ftype(),
            mode: u32::from(node.mode),
            nlink: node.nlink,
            uid: node.uid,
            gid: node.gid,
            size,
            used,
            rdev,
            fsid: self.config.fsid,
            fileid: self.fileid(n),
            atime: node.atime,
            mtime: node.mtime,
            ctime: node.ctime,
        }
    }

    /// Applies `set` to node `n` (SETATTR, and CREATE of an existing file); all checks first.
    pub(super) fn apply_setattr(&mut self, ctx: &Ctx, n: u32, set: &SetAttr) -> FsResult<()> {
        let node = &self.nodes[n as usize];
        if let Some(size) = set.size {
            match node.body {
                Body::File { .. } => {}
                Body::Dir(_) => return Err(FsError::IsDir),
                _ => return Err(FsError::Inval),
            }
            if size > super::MAX_FILE_SIZE {
                return Err(FsError::FBig);
            }
        }
        let now = ctx.now;
        let mut mtime = set_time(set.mtime, now);
        if let Some(size) = set.size
            && size != node.size
        {
            mtime = mtime.or(Some(now));
            self.set_size(n, size);
        }
        let node = &mut self.nodes[n as usize];
        if let Some(mode) = set.mode {
            node.mode = (mode & 0o7777) as u16;
        }
        node.uid = set.uid.unwrap_or(node.uid);
        node.gid = set.gid.unwrap_or(node.gid);
        node.atime = set_time(set.atime, now).unwrap_or(node.atime);
        node.mtime = mtime.unwrap_or(node.mtime);
        node.ctime = now;
        node.flags &= !EXCLUSIVE;
        Ok(())
    }
}
