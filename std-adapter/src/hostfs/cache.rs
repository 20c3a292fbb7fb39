//! Soft state of a [`super::HostFs`]: an open-file cache with read-ahead, and the attribute
//! memo that comes with it. None of it changes what any call answers; all of it can be
//! dropped at any moment ([`SoftState::drop_all`]) and the next call rebuilds what it needs,
//! exactly as after a server restart.
//!
//! # Open-file cache
//! Resolving a handle without the cache costs a MAC check, `open_by_handle_at`, an `fstat`
//! and, for data, a re-open through `/proc/self/fd` (a path walk) plus the closes. The cache
//! maps the exact handle bytes (which passed the MAC check when they were first resolved) to
//! the `O_PATH` descriptor and, once used, to descriptors open for reading and for writing.
//!
//! Invariants that keep it invisible:
//! - *A hit is validated*: every hit `fstat`s the cached descriptor, and an object whose link
//!   count fell to 0 (removed, through the server or on the host) is evicted and answered as
//!   the uncached path would answer it ([`FsError::Stale`]). The `fstat` is reused as the
//!   call's attributes (the attribute memo), so a GETATTR costs one `fstat` in all.
//! - *Type never changes*: an inode's type is fixed, so the "regular file" check of READ and
//!   WRITE is remembered with the entry.
//! - *Bounded*: at most `capacity` entries (3 descriptors each at most); the least recently
//!   used is closed when full. All caches of the process together hold at most half of
//!   `RLIMIT_NOFILE` descriptors: past that an insert closes this cache's
//!   least recently used entries, or caches nothing, so the cache never takes the
//!   descriptors an uncached call needs (which would turn its answer into a server fault); entries idle for [`SoftConfig::idle`] are closed by
//!   [`SoftState::sweep`] (which `tern serve` calls every second), so a file deleted on the
//!   host is not kept allocated for longer than that; `EMFILE`/`ENFILE` while opening drops
//!   the whole cache and retries once.
//! - Directory listings are not cached (a listing descriptor has a position).
//!
//! # Read-ahead
//! A READ that starts where the previous READ of the same cached file ended is sequential;
//! after two of them the server asks the kernel (`posix_fadvise(WILLNEED)`) to start reading
//! the next [`SoftConfig::readahead`] bytes, and again whenever the reader has consumed half
//! of the advised window. Only a hint: data is always read with `pread` at the asked offset.
//!
//! Off by default: the open-file cache already keeps each file's `struct file`, and with it
//! the kernel's own sequential read-ahead state, from one READ to the next (without the cache
//! every READ opened the file anew). Measured with `scripts/bench-nfs.sh` (BENCHMARKS.md), the
//! explicit hint gained nothing on top of that, warm or cold, and cost a little on nfs-cp
//! reads; it stays available (`tern serve --readahead KIB`) for media where it may pay.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tern_core::fs::Handle;

use crate::sys;

/// Descriptors held by the open-file caches of every [`SoftState`] of this process.
static CACHED_FDS: AtomicUsize = AtomicUsize::new(0);

/// The caches together hold at most `RLIMIT_NOFILE / FD_SHARE` descriptors.
const FD_SHARE: u64 = 2;

/// The process-wide descriptor budget of the caches.
fn fd_budget() -> usize {
    usize::try_from(sys::nofile_limit() / FD_SHARE).unwrap_or(usize::MAX)
}

/// Soft-state settings of a [`super::HostFs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftConfig {
    /// Open-file cache entries (0 turns the cache, and with it read-ahead, off).
    pub open_files: usize,
    /// Bytes advised ahead of a sequential reader (0 turns read-ahead off).
    pub readahead: u64,
    /// Entries unused for this long are closed by [`SoftState::sweep`].
    pub idle: Duration,
}

impl Default for SoftConfig {
    /// 256 files, no explicit read-ahead (see the module docs), 5 s idle.
    fn default() -> Self {
        SoftConfig { open_files: 256, readahead: 0, idle: Duration::from_secs(5) }
    }
}

impl SoftConfig {
    /// No soft state at all: every call resolves its handles from scratch.
    pub const fn none() -> Self {
        SoftConfig { open_files: 0, readahead: 0, idle: Duration::from_secs(5) }
    }
}

/// Counters of the soft state (for tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SoftStats {
    /// Hits of the open-file cache.
    pub hits: u64,
    /// Misses (handles resolved from scratch).
    pub misses: u64,
    /// Entries evicted because their object was gone.
    pub stale: u64,
    /// Read-ahead hints given to the kernel.
    pub readaheads: u64,
}

/// How a cached descriptor is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// The `O_PATH` descriptor.
    Path,
    /// A descriptor open for reading.
    Read,
    /// A descriptor open for writing.
    Write,
}

/// One cached object.
#[derive(Debug)]
struct Entry {
    path: Arc<File>,
    /// The object's inode number (to forget it when its name is removed).
    ino: u64,
    read: Option<Arc<File>>,
    write: Option<Arc<File>>,
    regular: bool,
    used: Instant,
    /// Where the next sequential READ would start.
    next: u64,
    /// Sequential READs in a row.
    run: u32,
    /// End of the range already advised to the kernel.
    advised: u64,
}

impl Entry {
    /// Descriptors this entry holds.
    fn fds(&self) -> usize {
        1 + usize::from(self.read.is_some()) + usize::from(self.write.is_some())
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        CACHED_FDS.fetch_sub(self.fds(), Ordering::Relaxed);
    }
}

/// The soft state of one [`super::HostFs`], shared with whoever sweeps it.
#[derive(Debug)]
pub struct SoftState {
    cfg: SoftConfig,
    map: Mutex<HashMap<Handle, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    readaheads: AtomicU64,
}

/// A cache hit: the descriptor asked for, the object's metadata now, and whether it is a
/// regular file.
pub(super) struct Hit {
    pub(super) file: Arc<File>,
    pub(super) meta: Metadata,
}

impl SoftState {
    /// Soft state with these settings.
    pub fn new(cfg: SoftConfig) -> Self {
        SoftState {
            cfg,
            map: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            readaheads: AtomicU64::new(0),
        }
    }

    /// The settings.
    pub fn config(&self) -> SoftConfig {
        self.cfg
    }

    /// Whether the open-file cache is on.
    pub(super) fn enabled(&self) -> bool {
        self.cfg.open_files > 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Handle, Entry>> {
        // A panic while holding the lock leaves at worst a stale descriptor set: still valid.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes every cached descriptor. Always allowed: nothing depends on the cache.
    pub fn drop_all(&self) {
        self.lock().clear();
    }

    /// Closes the entries idle for longer than [`SoftConfig::idle`].
    pub fn sweep(&self, now: Instant) {
        let idle = self.cfg.idle;
        self.lock().retain(|_, e| now.saturating_duration_since(e.used) < idle);
    }

    /// Entries now cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters.
    pub fn stats(&self) -> SoftStats {
        SoftStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            readaheads: self.readaheads.load(Ordering::Relaxed),
        }
    }

    /// Looks `fh` up. `Ok(None)`: not cached (resolve it and [`SoftState::insert`]);
    /// `Err(())`: cached but its object is gone (answer Stale); a hit comes with the
    /// object's metadata. For [`Want::Read`]/[`Want::Write`] on a non-regular file the hit
    /// carries the `O_PATH` descriptor and the caller refuses it from the metadata.
    pub(super) fn get(&self, fh: &Handle, want: Want) -> Result<Option<Hit>, ()> {
        if !self.enabled() {
            return Ok(None);
        }
        let mut map = self.lock();
        let Some(e) = map.get_mut(fh) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let meta = match e.path.metadata() {
            Ok(m) if m.nlink() > 0 => m,
            _ => {
                map.remove(fh);
                self.stale.fetch_add(1, Ordering::Relaxed);
                return Err(());
            }
        };
        e.used = Instant::now();
        let file = match want {
            Want::Path => Some(e.path.clone()),
            _ if !e.regular => Some(e.path.clone()),
            Want::Read => e.read.clone(),
            Want::Write => e.write.clone(),
        };
        let file = match file {
            Some(f) => f,
            None => {
                // Could not open it for data now (out of descriptors, say): resolve it from
                // scratch, where that is handled.
                let Ok(f) = super::reopen(&e.path, want == Want::Write) else { return Ok(None) };
                let f = Arc::new(f);
                CACHED_FDS.fetch_add(1, Ordering::Relaxed);
                if want == Want::Write {
                    e.write = Some(f.clone());
                } else {
                    e.read = Some(f.clone());
                }
                f
            }
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Hit { file, meta }))
    }

    /// Caches `path` (an `O_PATH` descriptor of the object `fh` names) and, when given, the
    /// descriptor opened for `want`. Evicts the least recently used entry when full.
    pub(super) fn insert(
        &self,
        fh: &Handle,
        path: Arc<File>,
        ino: u64,
        regular: bool,
        data: Option<(Want, Arc<File>)>,
    ) {
        if !self.enabled() {
            return;
        }
        let mut map = self.lock();
        map.remove(fh);
        let fds = 1 + usize::from(data.is_some());
        let budget = fd_budget();
        while map.len() >= self.cfg.open_files || CACHED_FDS.load(Ordering::Relaxed) + fds > budget {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) else {
                // Other caches of the process hold the budget: cache nothing.
                return;
            };
            map.remove(&oldest);
        }
        CACHED_FDS.fetch_add(fds, Ordering::Relaxed);
        let mut e =
            Entry { path, ino, read: None, write: None, regular, used: Instant::now(), next: 0, run: 0, advised: 0 };
        match data {
            Some((Want::Read, f)) => e.read = Some(f),
            Some((Want::Write, f)) => e.write = Some(f),
            _ => {}
        }
        map.insert(*fh, e);
    }

    /// Closes the entries of inode `ino` (a name of it is about to be removed or replaced).
    pub(super) fn forget_inode(&self, ino: u64) {
        self.lock().retain(|_, e| e.ino != ino);
    }

    /// Records a READ of `len` bytes at `offset` of `fh` and gives the kernel a read-ahead
    /// hint when the reader is sequential.
    pub(super) fn note_read(&self, fh: &Handle, offset: u64, len: u64) {
        if !self.enabled() || self.cfg.readahead == 0 {
            return;
        }
        let mut map = self.lock();
        let Some(e) = map.get_mut(fh) else { return };
        let end = offset.saturating_add(len);
        e.run = if offset == e.next { e.run.saturating_add(1) } else { 0 };
        e.next = end;
        if e.run < 2 {
            e.advised = end;
            return;
        }
        let window = self.cfg.readahead;
        if e.advised.saturating_sub(end) < window / 2 {
            let from = e.advised.max(end);
            if let Some(f) = &e.read {
                let _ = sys::fadvise_willneed(f.as_fd(), from, window);
                self.readaheads.fetch_add(1, Ordering::Relaxed);
            }
            e.advised = from.saturating_add(window);
        }
    }
}
