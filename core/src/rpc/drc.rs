//! A duplicate request cache (DRC) for non-idempotent procedures.
//!
//! Clients retransmit a call when its reply is late or lost. For an idempotent procedure (READ,
//! GETATTR, LOOKUP) running it again gives the same answer; for a non-idempotent one it does not:
//! a retransmitted REMOVE whose first execution succeeded answers `NFS3ERR_NOENT`, a retransmitted
//! CREATE with `GUARDED` answers `NFS3ERR_EXIST`. A DRC remembers the replies to recent
//! non-idempotent calls and answers a retransmission with the remembered reply instead of
//! running the procedure again.
//!
//! [`DrcProgram`] wraps a [`Program`] and consults a [`Drc`] for the procedures the program
//! declares non-idempotent through [`NonIdempotent`]; every other call goes straight through.
//!
//! # Keying
//! An entry matches a call when all of these are equal (see [`Key`]):
//! - the transaction id;
//! - the client: IP address, port and transport (an IPv6 flow label is ignored, the scope id is
//!   kept);
//! - program, version and procedure;
//! - the length of the arguments and a [`checksum`] (32-bit FNV-1a) of their first
//!   [`CHECKSUM_BYTES`] bytes.
//!
//! This is what Linux's `nfsd` keys on (XID, client address, length and a checksum of the first
//! 256 bytes). The checksum only guards against a client that reuses an XID for a *different*
//! call (after a reboot, or an XID counter that wrapped); it is not a security measure. A checksum
//! collision is harmless in practice: it only matters when the XID, the address, the port, the
//! procedure and the length also match, which for an honest client means the same call. Two calls
//! that differ only after the first 256 bytes of their arguments (a WRITE whose header is the
//! same and whose data differs late) match, as they do on Linux.
//!
//! # Lifetime and replacement
//! An entry lives for a lifetime fixed at construction ([`DEFAULT_LIFETIME`] is 120 s, as on
//! Linux), measured on [`CallContext::now`]: the time the driver gave to
//! [`Dispatcher::handle_at`](super::server::Dispatcher::handle_at). An entry whose age has reached
//! the lifetime never answers again. When a reply is stored, it takes a free or expired slot if
//! there is one, and otherwise replaces the oldest entry (first in, first out), which is counted in
//! [`Stats::evicted`]. A reply whose results are longer than `R` bytes is not stored (counted in
//! [`Stats::too_large`]): its retransmission runs the procedure again, as it would without a DRC.
//!
//! # What an entry holds
//! The results a program wrote into its [`Writer`] and its outcome (`Ok` or a [`ProcError`]),
//! so that the dispatcher builds the same reply header again: a hit is byte-for-byte the original
//! reply. An error outcome is stored with no results (the dispatcher sends none).
//!
//! # In-progress calls
//! A multi-threaded server must also remember calls that are still running, and drop a
//! retransmission that arrives meanwhile (Linux marks such entries `RC_INPROG`). Here the
//! [`Dispatcher`](super::server::Dispatcher) processes one call at a time and
//! [`Program::call`] runs to completion before the next request is looked at, so no
//! retransmission can arrive while its original runs, and an entry is only created once the
//! reply is known. A driver that runs several dispatchers in parallel must give each client
//! address to one dispatcher (or share one cache behind a lock held for the whole call).
//!
//! # Bounds and memory
//! `Drc<N, R>` holds exactly `N` entries of `R` result bytes each, inline, with no allocation:
//! its size is `N × (R + 96)` bytes on a 64-bit host and `N × (R + 88)` on riscv32 (each entry
//! rounded up to a multiple of 8; the overhead is the key, with room for an IPv6 address, plus the
//! time, order, outcome and length of the entry);
//! `core::mem::size_of::<Drc<N, R>>()` gives the exact figure. Every lookup and insertion is a
//! linear scan of the `N` entries; nothing here panics or allocates.
//!
//! # Choosing N and R
//! - `R`: the results of NFSv3's non-idempotent procedures are a status, WCC data (pre-op size and
//!   times, 24 bytes, plus post-op attributes, 84 bytes) and for CREATE, MKDIR, SYMLINK and MKNOD
//!   a handle (at most 64 bytes) with its attributes; RENAME and LINK carry two WCC blocks. All fit
//!   in well under 512 bytes (the largest, CREATE with a 64-byte handle, is 280), so `R = 512`
//!   caches every one.
//! - `N`: enough entries to outlive a client's retransmission window at the server's call rate.
//!   Linux sizes its cache from memory (at least a few hundred entries) and keeps entries 120 s;
//!   nfs-ganesha keeps 1024 per TCP connection. On a small board, `Drc<64, 512>` (about 38 KiB)
//!   covers a handful of clients; a host server might use `Drc<1024, 512>` (about 600 KiB, best
//!   placed in a `static` or on the heap of the driver rather than on a stack).

use super::server::{CallContext, Peer, ProcError, Program};
use crate::time::{Duration, Instant};
use crate::xdr::Writer;
use core::net::{SocketAddr, SocketAddrV6};

/// How long an entry answers retransmissions unless told otherwise (Linux's 120 s).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(120);

/// How many leading bytes of the arguments the [`checksum`] covers (Linux's 256).
pub const CHECKSUM_BYTES: usize = 256;

/// 32-bit FNV-1a over the first [`CHECKSUM_BYTES`] bytes of `args`.
///
/// Fast and deterministic; not cryptographic (see the module docs for why collisions are
/// harmless).
pub fn checksum(args: &[u8]) -> u32 {
    let head = args.get(..CHECKSUM_BYTES).unwrap_or(args);
    head.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// Declares which procedures of a program must not be run twice for one call.
pub trait NonIdempotent {
    /// Whether procedure `proc_` of version `vers` changes state so that running it again would
    /// answer differently (NFSv3: CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK,
    /// SETATTR, WRITE). Must be a pure function of its arguments.
    fn non_idempotent(&self, vers: u32, proc_: u32) -> bool;
}

/// What identifies a call in the cache (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Transaction id.
    pub xid: u32,
    /// The client, with any IPv6 flow label cleared.
    pub peer: Peer,
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_: u32,
    /// Length of the arguments in bytes.
    pub args_len: usize,
    /// [`checksum`] of the arguments.
    pub checksum: u32,
}

impl Key {
    /// The key of the call `ctx` with arguments `args`.
    pub fn for_call(ctx: &CallContext<'_>, args: &[u8]) -> Self {
        Key {
            xid: ctx.xid,
            peer: normalized(ctx.peer),
            prog: ctx.prog,
            vers: ctx.vers,
            proc_: ctx.proc_,
            args_len: args.len(),
            checksum: checksum(args),
        }
    }
}

/// The peer without the parts that may change between retransmissions (the IPv6 flow label).
fn normalized(peer: Peer) -> Peer {
    let addr = match peer.addr {
        SocketAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), 0, a.scope_id())),
        v4 => v4,
    };
    Peer { addr, transport: peer.transport }
}

/// Counters kept by a [`Drc`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Retransmissions answered from the cache.
    pub hits: u64,
    /// Lookups that found no live entry (the procedure ran).
    pub misses: u64,
    /// Replies stored.
    pub stored: u64,
    /// Replies not stored because their results were longer than `R`.
    pub too_large: u64,
    /// Live entries replaced before the end of their lifetime because the cache was full.
    pub evicted: u64,
}

/// A reply found in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cached<'a> {
    /// What the procedure returned.
    pub outcome: Result<(), ProcError>,
    /// The results it wrote (empty for an error outcome).
    pub results: &'a [u8],
}

/// One slot of the cache.
#[derive(Debug, Clone, Copy)]
struct Entry<const R: usize> {
    /// `None` for a free slot.
    key: Option<Key>,
    /// When the reply was stored.
    at: Instant,
    /// Insertion order, to find the oldest entry when several share a time.
    seq: u64,
    outcome: Result<(), ProcError>,
    len: usize,
    results: [u8; R],
}

impl<const R: usize> Entry<R> {
    const FREE: Self = Entry { key: None, at: Instant::ZERO, seq: 0, outcome: Ok(()), len: 0, results: [0; R] };

    fn live(&self, now: Instant, lifetime: Duration) -> bool {
        self.key.is_some() && now.saturating_since(self.at) < lifetime
    }
}

/// A duplicate request cache of `N` entries holding up to `R` bytes of results each.
///
/// [`Drc::lookup`] before running a non-idempotent call, [`Drc::insert`] after; [`DrcProgram`]
/// does both around a [`Program`].
#[derive(Debug, Clone)]
pub struct Drc<const N: usize, const R: usize> {
    entries: [Entry<R>; N],
    lifetime: Duration,
    next_seq: u64,
    stats: Stats,
}

impl<const N: usize, const R: usize> Default for Drc<N, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const R: usize> Drc<N, R> {
    /// An empty cache whose entries live [`DEFAULT_LIFETIME`].
    pub const fn new() -> Self {
        Self::with_lifetime(DEFAULT_LIFETIME)
    }

    /// An empty cache whose entries live `lifetime`.
    pub const fn with_lifetime(lifetime: Duration) -> Self {
        Drc { entries: [Entry::FREE; N], lifetime, next_seq: 0, stats: STATS_ZERO }
    }

    /// How long an entry answers retransmissions.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Number of entries still live at `now`.
    pub fn live_entries(&self, now: Instant) -> usize {
        self.entries.iter().filter(|e| e.live(now, self.lifetime)).count()
    }

    /// Forgets every entry (the counters stay).
    pub fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| e.key = None);
    }

    /// The reply stored for `key`, if it is still live at `now`; counts a hit or a miss. An
    /// expired entry for `key` is freed.
    pub fn lookup(&mut self, key: &Key, now: Instant) -> Option<Cached<'_>> {
        let lifetime = self.lifetime;
        let Some(e) = self.entries.iter_mut().find(|e| e.key.as_ref() == Some(key)) else {
            self.stats.misses += 1;
            return None;
        };
        if !e.live(now, lifetime) {
            e.key = None;
            self.stats.misses += 1;
            return None;
        }
        self.stats.hits += 1;
        Some(Cached { outcome: e.outcome, results: e.results.get(..e.len).unwrap_or(&[]) })
    }

    /// Stores the reply to `key` made at `now`: its `outcome` and, for `Ok`, its `results`.
    ///
    /// Returns whether it was stored: not when `results` is longer than `R` (counted in
    /// [`Stats::too_large`]) or when `N` is 0. Replaces an entry with the same key, else a free or
    /// expired slot, else the oldest entry (counted in [`Stats::evicted`]).
    pub fn insert(&mut self, key: Key, now: Instant, outcome: Result<(), ProcError>, results: &[u8]) -> bool {
        let results = if outcome.is_ok() { results } else { &[] };
        if results.len() > R {
            self.stats.too_large += 1;
            return false;
        }
        let lifetime = self.lifetime;
        let Some(slot) = self.slot_for(&key, now) else {
            return false;
        };
        let Some(e) = self.entries.get_mut(slot) else {
            return false;
        };
        if e.key.is_some_and(|k| k != key) && e.live(now, lifetime) {
            self.stats.evicted += 1;
        }
        e.key = Some(key);
        e.at = now;
        e.seq = self.next_seq;
        e.outcome = outcome;
        e.len = results.len();
        if let Some(dst) = e.results.get_mut(..results.len()) {
            dst.copy_from_slice(results);
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        self.stats.stored += 1;
        true
    }

    /// The slot a new entry for `key` goes to: the same key, else a dead slot, else the oldest.
    fn slot_for(&self, key: &Key, now: Instant) -> Option<usize> {
        let same = self.entries.iter().position(|e| e.key.as_ref() == Some(key));
        let dead = || self.entries.iter().position(|e| !e.live(now, self.lifetime));
        let oldest = || self.entries.iter().enumerate().min_by_key(|(_, e)| (e.at, e.seq)).map(|(i, _)| i);
        same.or_else(dead).or_else(oldest)
    }
}

const STATS_ZERO: Stats = Stats { hits: 0, misses: 0, stored: 0, too_large: 0, evicted: 0 };

/// A [`Program`] that answers retransmitted non-idempotent calls of `P` from a [`Drc`].
///
/// Calls to procedures `P` declares idempotent go straight to `P` and never touch the cache.
#[derive(Debug)]
pub struct DrcProgram<P, const N: usize, const R: usize> {
    inner: P,
    cache: Drc<N, R>,
}

impl<P, const N: usize, const R: usize> DrcProgram<P, N, R> {
    /// Wraps `inner` with an empty cache whose entries live [`DEFAULT_LIFETIME`].
    pub const fn new(inner: P) -> Self {
        DrcProgram { inner, cache: Drc::new() }
    }

    /// Wraps `inner` with `cache`.
    pub const fn with_cache(inner: P, cache: Drc<N, R>) -> Self {
        DrcProgram { inner, cache }
    }

    /// The wrapped program.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The wrapped program, mutably.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The cache.
    pub fn cache(&self) -> &Drc<N, R> {
        &self.cache
    }

    /// The cache, mutably (to clear it, for example).
    pub fn cache_mut(&mut self) -> &mut Drc<N, R> {
        &mut self.cache
    }

    /// The cache's counters.
    pub fn stats(&self) -> Stats {
        self.cache.stats()
    }

    /// Gives back the wrapped program.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P: Program + NonIdempotent, const N: usize, const R: usize> Program for DrcProgram<P, N, R> {
    fn program(&self) -> u32 {
        self.inner.program()
    }

    fn versions(&self) -> (u32, u32) {
        self.inner.versions()
    }

    /// Runs `P` unless the call is a live retransmission of a non-idempotent call, in which case
    /// the stored results and outcome are given back (`SYSTEM_ERR` if they no longer fit
    /// `results`).
    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], results: &mut Writer<'_>) -> Result<(), ProcError> {
        if !self.inner.non_idempotent(ctx.vers, ctx.proc_) {
            return self.inner.call(ctx, args, results);
        }
        let key = Key::for_call(ctx, args);
        if let Some(hit) = self.cache.lookup(&key, ctx.now) {
            results.put_bytes(hit.results)?;
            return hit.outcome;
        }
        let start = results.position();
        let outcome = self.inner.call(ctx, args, results);
        let written = results.written().get(start..).unwrap_or(&[]);
        self.cache.insert(key, ctx.now, outcome, written);
        outcome
    }
}

#[cfg(test)]
mod tests;
