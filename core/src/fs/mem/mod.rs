//! `MemFs`: an in-memory [`FileSystem`](super::FileSystem) with fixed capacities (no alloc).
//!
//! # Construction
//! All memory is owned by the caller and borrowed for `'s`, so the same code serves a board
//! (a `static`) and a host (vectors on the heap), and nothing large ever sits on the stack:
//! - firmware: a [`Storage<NODES, BLOCKS, NAMES>`](Storage) whose [`Storage::new`] is a `const fn`
//!   of zeros (so it lands in `.bss`), for example in an embassy `static_cell::ConstStaticCell`,
//!   then [`MemFs::new`]`(cell.take(), config)`;
//! - host: four slices from `vec!` (never built on the stack) handed to [`MemFs::from_parts`]
//!   (leak them with `Box::leak(v.into_boxed_slice())` for a `MemFs<'static>`):
//!
//! ```
//! use tern_core::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
//! let mut nodes = vec![Node::ZERO; 1024];
//! let mut entries = vec![Entry::ZERO; 1024];
//! let mut blocks = vec![Block::ZERO; 2048]; // 1 MiB of data
//! let mut names = vec![0u8; 16 * 1024];
//! let parts = Parts { nodes: &mut nodes, entries: &mut entries, blocks: &mut blocks, names: &mut names };
//! let fs = MemFs::from_parts(parts, Config::new(0x7465_726e, *b"boot0001")).unwrap();
//! # let _ = fs;
//! ```
//!
//! Construction formats the storage in place (one pass over every slot); whatever it held before
//! is forgotten, and every node's generation moves on, so even with the same fsid no earlier
//! handle names a new object. [`Config::fsid`] goes into every handle, so handles of another instance (or of
//! an earlier boot with another fsid) are [`Stale`](super::FsError::Stale).
//!
//! # Memory layout and cost
//! | table | element | bytes each | holds |
//! |---|---|---|---|
//! | `nodes` | [`Node`] | 80 | one object (file, directory, symlink, device, socket, fifo) |
//! | `entries` | [`Entry`] | 36 | one directory entry (a name → node link) and one head of the name hash |
//! | `blocks` | [`Block`] | 532 | [`BLOCK_SIZE`] bytes of file data, its (node, index) key, two links, one hash head |
//! | `names` | `u8` | 6 + length | each entry name and each symlink target, as a record |
//!
//! So `Storage<64, 128, 4096>` costs 64·80 + 64·36 + 128·532 + 4096 = 79,616 bytes (in `.bss`)
//! for 64 KiB of data, and a host file system with 256 MiB of data (524,288 blocks) ≈ 279 MB.
//! Code is not generic over the capacities: one copy serves every size.
//!
//! Blocks are 512 bytes: a board with 64 KiB for data gets 128 blocks instead of 16, a small
//! file or a 20-byte log line wastes at most 511 bytes, and the per-block cost of the index
//! (20 bytes) stays under 4 %. The READ path does one hash lookup per 512 bytes, which is far
//! from the bottleneck (see the `read_throughput` test).
//!
//! # Data structures and invariants
//! - **Nodes**: slot 0 is the root. A free node is on a free list; every node has a
//!   generation, bumped when it is freed, which is in the handle (index, generation, fsid), so
//!   a handle to a deleted node is stale even after the slot is reused. `fileid` is
//!   `generation << 32 | (index + 1)` (never 0). `nlink` of a directory is 2 + its
//!   subdirectories; a directory has exactly one entry (no hard links to directories) and
//!   records its parent for `..`.
//! - **Entries**: each live entry is on its directory's list, in creation order, and on one
//!   chain of a hash table keyed by (directory, name), whose bucket heads live in the entries
//!   table itself (bucket `i` in entry `i`): lookup is O(1) expected, rejecting by a 32-bit hash
//!   before comparing names. Each directory numbers its entries with a sequence number that
//!   only grows; a READDIR cookie is `seq << 32 | slot` (`.` is 1, `..` is 2). Resuming checks
//!   that the slot still holds that entry (O(1)); if it was removed, the listing resumes at the
//!   first entry with a larger sequence number, so cookies stay valid across additions and
//!   removals. The cookie verifier is a per-directory generation, bumped only when the 32-bit
//!   sequence would wrap and the directory is renumbered.
//! - **Blocks**: a block belongs to one (node, file block index) and is on a chain of a hash
//!   table keyed by that pair (bucket heads in the blocks table, bucket `i` in block `i`) and
//!   on its file's list (to free a file or truncate it without scanning the table). A file's
//!   holes are simply absent keys and read as zeros, so a file may be far larger than the
//!   table (up to [`MAX_FILE_SIZE`]). Bytes of an allocated block beyond the file size are
//!   always zero (allocation zeroes, truncation zeroes the tail), so extending never exposes
//!   old data. Free blocks are on a free list.
//! - **Names**: an arena of records `[len: u16][owner: u32][bytes]`; the owner (an entry, or a
//!   symlink's node with the top bit set) lets the arena compact itself when a record does not
//!   fit at the top but the free records would make room.
//! - Every operation checks all capacities before it changes anything, so an error (including
//!   [`NoSpace`](super::FsError::NoSpace)) leaves the file system unchanged. The one exception is
//!   WRITE, which like POSIX `write` may write part of the data: it returns the count written
//!   and fails with `NoSpace` only when nothing could be written.
//!
//! New objects belong to [`Ctx::uid`](super::Ctx::uid)/`gid` unless the [`SetAttr`](super::SetAttr)
//! names an owner (the server vets those as for SETATTR); modes default to `0o644` (files,
//! devices, sockets, fifos), `0o755` (directories) and `0o777` (symlinks). Times come from
//! [`Ctx::now`](super::Ctx::now); READ and READDIR get no context and do not touch atime. An
//! EXCLUSIVE CREATE keeps its verifier in the seconds of mtime and atime (as Linux does), valid
//! until the next SETATTR or WRITE. WRITE reports [`FileSync`](super::Stability::FileSync):
//! nothing is left to COMMIT.
//!
//! Nothing here allocates, uses `unsafe` or panics: handles, names, cookies and offsets from the
//! network are all checked (see the `hostile` and model tests, which run an invariant checker).

mod blocks;
mod create;
mod dirs;
mod names;
mod nodes;
mod ops;
#[cfg(test)]
mod tests;
mod unlink;

pub use blocks::Block;
pub use dirs::Entry;
pub use nodes::Node;

use super::{FsError, FsResult, Handle, MAX_HANDLE, Time};

/// Bytes per data block.
pub const BLOCK_SIZE: usize = 512;
/// Longest name of a directory entry.
pub const MAX_NAME: usize = 255;
/// Longest symlink target.
pub const MAX_SYMLINK: usize = 1024;
/// Largest file size (1 TiB: a block index stays below 2³¹).
pub const MAX_FILE_SIZE: u64 = 1 << 40;
/// Largest link count of a file or directory.
pub const MAX_LINKS: u32 = 65_535;
/// Length of the handles `MemFs` issues: fsid (8), node index (4), generation (4).
pub const HANDLE_LEN: usize = 16;

/// "No slot" in every link field.
const NONE: u32 = u32::MAX;
/// The root directory's node slot.
const ROOT: u32 = 0;
/// Slots above this are not used (links keep `NONE` and the names arena's owner bit free).
const MAX_SLOTS: usize = (1 << 31) - 1;

/// Settings fixed at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// This instance's tag, in every handle and reported as `fsid`. Give each instance (and each
    /// boot) another value, so that old handles are stale rather than pointing at new files.
    pub fsid: u64,
    /// The WRITE/COMMIT verifier: should differ at every boot.
    pub write_verifier: [u8; 8],
    /// Permission bits of the root directory.
    pub root_mode: u32,
    /// Owner of the root directory.
    pub root_uid: u32,
    /// Group of the root directory.
    pub root_gid: u32,
    /// Time stamps of the root directory.
    pub now: Time,
}

impl Config {
    /// A configuration with this fsid and write verifier; the root is `0o755`, owned by 0:0,
    /// with time stamps at 0.
    pub const fn new(fsid: u64, write_verifier: [u8; 8]) -> Self {
        Config { fsid, write_verifier, root_mode: 0o755, root_uid: 0, root_gid: 0, now: Time { secs: 0, nsecs: 0 } }
    }
}

/// The four tables of a [`MemFs`], borrowed from the caller (see the module docs for sizes).
#[derive(Debug)]
pub struct Parts<'s> {
    /// Object slots (at least 1: the root).
    pub nodes: &'s mut [Node],
    /// Directory entry slots (one per name; hard links take one each).
    pub entries: &'s mut [Entry],
    /// Data blocks.
    pub blocks: &'s mut [Block],
    /// The arena for names and symlink targets.
    pub names: &'s mut [u8],
}

/// Storage with capacities as const generics, for a `static` on a board: `NODES` node slots and
/// as many entry slots, `BLOCKS` data blocks of [`BLOCK_SIZE`] bytes, `NAMES` bytes of names.
#[derive(Debug)]
pub struct Storage<const NODES: usize, const BLOCKS: usize, const NAMES: usize> {
    nodes: [Node; NODES],
    entries: [Entry; NODES],
    blocks: [Block; BLOCKS],
    names: [u8; NAMES],
}

impl<const NODES: usize, const BLOCKS: usize, const NAMES: usize> Storage<NODES, BLOCKS, NAMES> {
    /// Zeroed storage (a `const fn`, so a `static` of it needs no flash image). It becomes a
    /// file system only through [`MemFs::new`].
    pub const fn new() -> Self {
        Storage {
            nodes: [Node::ZERO; NODES],
            entries: [Entry::ZERO; NODES],
            blocks: [Block::ZERO; BLOCKS],
            names: [0; NAMES],
        }
    }

    /// Bytes this storage occupies.
    pub const fn size() -> usize {
        core::mem::size_of::<Self>()
    }

    /// The tables as [`Parts`].
    pub fn parts(&mut self) -> Parts<'_> {
        Parts { nodes: &mut self.nodes, entries: &mut self.entries, blocks: &mut self.blocks, names: &mut self.names }
    }
}

impl<const NODES: usize, const BLOCKS: usize, const NAMES: usize> Default for Storage<NODES, BLOCKS, NAMES> {
    fn default() -> Self {
        Self::new()
    }
}

/// Free-list head and count of one table.
#[derive(Debug, Clone, Copy)]
struct FreeList {
    head: u32,
    count: u32,
}

/// An in-memory file system over borrowed tables; see the module docs.
#[derive(Debug)]
pub struct MemFs<'s> {
    nodes: &'s mut [Node],
    entries: &'s mut [Entry],
    blocks: &'s mut [Block],
    names: &'s mut [u8],
    free_nodes: FreeList,
    free_entries: FreeList,
    free_blocks: FreeList,
    /// End of the last record in the names arena.
    names_top: u32,
    /// Bytes of freed records below `names_top`.
    names_free: u32,
    config: Config,
}

/// Clamps a table to the slots link fields can address.
fn clamp<T>(s: &mut [T]) -> &mut [T] {
    let n = s.len().min(MAX_SLOTS);
    &mut s[..n]
}

impl<'s> MemFs<'s> {
    /// Formats `storage` as an empty file system (one pass over every slot).
    pub fn new<const NODES: usize, const BLOCKS: usize, const NAMES: usize>(
        storage: &'s mut Storage<NODES, BLOCKS, NAMES>,
        config: Config,
    ) -> Self {
        const { assert!(NODES > 0, "MemFs needs at least one node (the root)") };
        Self::format(storage.parts(), config)
    }

    /// Formats the tables in `parts` as an empty file system; [`FsError::NoSpace`] when there
    /// is no node slot for the root. Tables longer than 2³¹ − 1 slots (or arena bytes) are used
    /// only up to that length.
    pub fn from_parts(parts: Parts<'s>, config: Config) -> FsResult<Self> {
        if parts.nodes.is_empty() {
            return Err(FsError::NoSpace);
        }
        Ok(Self::format(parts, config))
    }

    fn format(parts: Parts<'s>, config: Config) -> Self {
        let mut fs = MemFs {
            nodes: clamp(parts.nodes),
            entries: clamp(parts.entries),
            blocks: clamp(parts.blocks),
            names: clamp(parts.names),
            free_nodes: FreeList { head: NONE, count: 0 },
            free_entries: FreeList { head: NONE, count: 0 },
            free_blocks: FreeList { head: NONE, count: 0 },
            names_top: 0,
            names_free: 0,
            config,
        };
        fs.format_nodes();
        fs.format_entries();
        fs.format_blocks();
        fs
    }

    /// The configuration given at construction.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The handle of node `n` (which must be live).
    fn handle(&self, n: u32) -> Handle {
        let mut bytes = [0u8; MAX_HANDLE];
        bytes[..8].copy_from_slice(&self.config.fsid.to_be_bytes());
        bytes[8..12].copy_from_slice(&n.to_be_bytes());
        bytes[12..16].copy_from_slice(&self.nodes[n as usize].generation.to_be_bytes());
        Handle { len: HANDLE_LEN as u8, bytes }
    }

    /// The live node a handle names.
    fn node_of(&self, fh: &Handle) -> FsResult<u32> {
        let b = fh.as_bytes();
        if b.len() != HANDLE_LEN {
            return Err(FsError::BadHandle);
        }
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let fsid = u64::from(word(0)) << 32 | u64::from(word(4));
        let (n, generation) = (word(8), word(12));
        if fsid != self.config.fsid {
            return Err(FsError::Stale);
        }
        match self.nodes.get(n as usize) {
            Some(node) if node.is_live() && node.generation == generation => Ok(n),
            _ => Err(FsError::Stale),
        }
    }
}
