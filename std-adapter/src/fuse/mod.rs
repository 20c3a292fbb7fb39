//! A FUSE mount of any [`FileSystem`]: [`FuseFs`] turns the kernel's FUSE requests into calls
//! of the stateless, handle-based trait, so ordinary programs (ls, cp, tar, cargo) use a MemFs,
//! a host directory ([`HostFs`](crate::hostfs::HostFs)) or an NFS export alike.
//!
//! The kernel side is the `fuser` crate with its pure-Rust mount (`mount(2)` on `/dev/fuse`,
//! no libfuse and no `fusermount`): it needs root (CAP_SYS_ADMIN). [`mount_background`] mounts
//! and serves on threads, giving a [`Mounted`] that unmounts when dropped; [`unmount`] unmounts
//! any Tern mount by path (`umount2`, see `sys`).
//!
//! # Design
//! - **Node ids** (`inodes.rs`): the kernel names objects by node id, the back end by handle.
//!   A table maps one to the other, keyed by handle; a node's id is the back end's `fileid`
//!   when free, so `stat`'s `st_ino`, `readdir`'s `d_ino` and the server agree. The kernel's
//!   lookup counts are kept and `forget` removes nodes, so the table stays as small as the
//!   kernel's inode cache.
//! - **Stateless back end**: `open`/`opendir` make no back-end call. A file's open count is
//!   kept only to give an unlinked-but-open file a life until its last close: `unlink` (or a
//!   `rename` over it) of an open file renames it to `.tern_hidden…` instead, and the last
//!   `release` removes that name, as NFS clients do with `.nfs…` files; without this the
//!   back end would free the file at once and the open descriptor would read `ESTALE`.
//! - **Writes** go to the back end as [`Stability::Unstable`](tern_core::fs::Stability); a file
//!   with unstable data is marked dirty, and `flush` (every `close(2)`), `fsync` and `release`
//!   send one `commit` for it. So data is durable when `close` returns, and a failed commit
//!   is reported by `close` (`EIO` or the back end's error). Back ends that make writes stable
//!   at once (MemFs) leave nothing dirty and no commit is sent. Resending writes lost by a
//!   server restart (a changed write verifier) is the back end's job (the NFS client keeps
//!   uncommitted data); `FuseFs` trusts a successful `commit`.
//! - **Caching**: attributes and entries are cached by the kernel for [`FuseConfig::attr_ttl`]
//!   and [`FuseConfig::entry_ttl`] (1 s by default: the back end may be shared with other
//!   machines, so a change made elsewhere shows within a second, like NFS's attribute cache,
//!   while a `stat` storm costs one call per second per file). Failed lookups are not cached.
//!   Opening a file drops its cached pages (no `keep_cache`), giving NFS's close-to-open
//!   consistency.
//! - **Permissions** are checked by the kernel (`default_permissions`) from the attributes the
//!   back end reports, as the NFS server checks them before calling the trait; `access` is
//!   answered the same way for kernels that ask. New objects belong to the caller's uid and
//!   gid (taken from the FUSE request into [`Ctx`](tern_core::fs::Ctx)); time comes from the
//!   host clock.
//! - **Directories** are listed with READDIRPLUS: each entry is looked up (handle and
//!   attributes), which the kernel then needs no LOOKUP for. The trait's cookies are FUSE's
//!   offsets, and each open directory keeps its cookie verifier.
//! - **Concurrency**: the back end and the tables sit behind one mutex held for one request;
//!   replies are written to the kernel outside it. [`MountOptions::threads`] session threads
//!   overlap the kernel copies with back-end work.
//!
//! Nothing on the request path panics or unwraps: a node id the kernel no longer has in the
//! table gives `ESTALE`, back-end errors map to `errno` (`convert.rs`), and a poisoned lock is
//! recovered (back ends never panic, per the trait's contract).

mod convert;
mod dir;
mod inodes;
mod io;
mod kernel;
mod ops;
mod session;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fuser::{Errno, FileAttr};
use tern_core::fs::{FileSystem, Handle, Time};

use inodes::Inodes;
pub use session::{
    FSTYPE, MountError, MountOptions, Mounted, is_tern_mount, mount_background, mount_foreground, unmount,
};

/// A host time (since the Unix epoch) as a core time stamp, clamped to what `nfstime3` holds.
pub fn host_time(since_epoch: Duration) -> Time {
    convert::core_time(std::time::UNIX_EPOCH + since_epoch)
}

/// Settings of a [`FuseFs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuseConfig {
    /// How long the kernel may cache an object's attributes.
    pub attr_ttl: Duration,
    /// How long the kernel may cache a name → object entry.
    pub entry_ttl: Duration,
    /// Largest read or write the kernel sends (FUSE `max_write`, read-ahead) and the
    /// `st_blksize` reported to programs; at most 1 MiB is useful (the kernel's page limit).
    pub max_io: u32,
}

impl Default for FuseConfig {
    fn default() -> Self {
        FuseConfig { attr_ttl: Duration::from_secs(1), entry_ttl: Duration::from_secs(1), max_io: 1 << 20 }
    }
}

/// A [`FileSystem`] served to the kernel over FUSE; see the module docs.
pub struct FuseFs<F> {
    state: Mutex<State<F>>,
    cfg: FuseConfig,
}

/// Everything behind the lock.
struct State<F> {
    fs: F,
    inodes: Inodes,
    /// Open directories: FUSE file handle → the back end's cookie verifier.
    dirs: HashMap<u64, [u8; 8]>,
    next_dir: u64,
    /// Counter that makes hidden names unique.
    hidden_seq: u64,
}

impl<F: FileSystem + Send + 'static> FuseFs<F> {
    /// Serves `fs` with `cfg`.
    pub fn new(fs: F, cfg: FuseConfig) -> Self {
        let root = fs.root();
        let state = State { fs, inodes: Inodes::new(root), dirs: HashMap::new(), next_dir: 0, hidden_seq: 0 };
        FuseFs { state: Mutex::new(state), cfg }
    }

    /// The settings.
    pub fn config(&self) -> &FuseConfig {
        &self.cfg
    }

    /// Nodes the kernel currently holds (plus the root): bounded by the kernel's inode cache.
    pub fn nodes(&self) -> usize {
        self.lock().inodes.len()
    }

    /// A live count of [`FuseFs::nodes`], still readable after the file system was handed to
    /// [`mount_background`] (it shrinks as the kernel forgets nodes).
    pub fn nodes_gauge(&self) -> Arc<AtomicUsize> {
        self.lock().inodes.gauge()
    }

    /// Runs `f` on the back end (for callers that want to inspect it, e.g. tests).
    pub fn with_fs<R>(&self, f: impl FnOnce(&mut F) -> R) -> R {
        f(&mut self.lock().fs)
    }

    fn lock(&self) -> MutexGuard<'_, State<F>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<F: FileSystem> State<F> {
    /// The handle of node `ino`, or `ESTALE` when the kernel names a node it forgot.
    fn handle(&self, ino: u64) -> Result<Handle, Errno> {
        self.inodes.get(ino).map(|n| n.handle).ok_or(Errno::ESTALE)
    }

    /// The attributes of `h` as a new entry for the kernel (counts one lookup).
    fn entry(&mut self, h: Handle, blksize: u32) -> Result<FileAttr, Errno> {
        let a = self.fs.getattr(&h).map_err(convert::errno)?;
        let ino = self.inodes.remember(h, a.fileid);
        Ok(convert::file_attr(ino, &a, blksize))
    }
}
