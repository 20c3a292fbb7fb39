//! `tern node`: a host that runs guest processes and sends and accepts their migrations,
//! controlled through its ONC RPC program ([`proto`]).
//!
//! # Threads and state
//! One `State` behind one mutex holds the processes of the node (their control blocks and
//! page tables, one [`HeapStore`] of frames, the [`Services`] for their host calls). Three
//! kinds of threads take it in turn, each for a short step:
//! - the **scheduler** gives every runnable process a slice of [`NodeOptions::budget`]
//!   instructions and performs its host calls inside that slice (so a process is never left
//!   with a host call outstanding between two slices: a migration only ever sees it between
//!   calls, or parked on an empty channel, which re-issues the call wherever it runs next);
//! - one **migration pump** per migration ([`migration`]) drives a core
//!   [`Source`](tern_core::migrate::Source) or [`Destination`](tern_core::migrate::Destination):
//!   it feeds it the messages that arrive, its timers and the process's page faults, sends
//!   what it produces, and applies its events (stop, hand-off, resume, release);
//! - the RPC server's connection threads answer the control program (spawn, ps, migrate,
//!   wait) and hand migration messages to the pumps (`FRAMES` calls), through four
//!   dispatchers (connections spread over them by peer address), so one slow call does not
//!   hold up the others; and one thread per channel call of a process away from home
//!   (`forward`).
//!
//! # Exactly one node runs a process
//! The scheduler runs a process only while it is not stopped by a migration, not handed off,
//! and not waiting for a remote page; the pumps flip those switches exactly when the protocol
//! says (see [`tern_core::migrate`]): the source stops it, commits, and keeps it (stopped) until
//! the destination confirms it has every page; the destination resumes it on the commit.
//!
//! # The console goes with the process
//! A process's console output is buffered on the node that runs it, in the process's own
//! record ([`MAX_CONSOLE_KEEP`] bytes, older output beyond that is dropped with a note), and
//! travels in the migration with the control block. So `tern wait` gets every byte exactly
//! once from the node where the process ended; a node a process left keeps a forwarding
//! address (the destination it was handed to), and `tern wait` follows it.
//!
//! # What a node remembers
//! A process that ended and that no migration reads any more becomes an `Ended` entry
//! (what `ps` and `wait` show, without its memory: a live process holds a 512 KiB page table);
//! the last [`MAX_HISTORY`] ended or moved processes are remembered, older ones forgotten.
//!
//! # Channels follow their processes
//! A channel is kept by the home node of the process that opened it (where it was spawned;
//! the address travels with the process). At home a channel call is performed inside the
//! slice; away from home the slice ends with the call outstanding and `forward` carries it
//! to the home node in a CHAN call while the process waits (not run, still migratable). Each
//! call carries the process's channel sequence number, so the home node acts on it once
//! however often it is sent ([`crate::run::chan`]). A receive that parks away from home asks
//! again every 2 ms (`forward::POLL`).
//!
//! # Files
//! The guests' `/` is the root of a namespace ([`Services`]) whose root mount is one
//! [`FileSystem`] per node ([`NodeFs`]): a directory through HostFs (handles keyed by a secret
//! in a state directory, so two nodes sharing that directory and secret accept each other's
//! handles) or an NFS export through RemoteFs, mounted with the id of its source (the
//! canonical directory or the URL). Open files are (mount number, handle, offset) in the
//! control block, so they keep working at the destination when both nodes mount the same
//! source: nothing is told to the server.

mod forward;
pub mod migration;
mod peers;
pub mod proto;
mod rpc;
mod sched;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tern_core::fs::FileSystem;
use tern_core::migrate::{Config, MigrationId};
use tern_core::proc::Fault;

use crate::run::{HeapStore, HostProcess, Outcome, Services};
use crate::server::{Server, ServerConfig, ServerHandle};

pub use self::migration::Input;
pub use self::proto::{MigrationReport, ProcState, PsEntry, WaitReply};

/// Dispatchers of a node's RPC server (each answers calls under its own lock; all share the
/// node's state).
const RPC_SHARDS: usize = 4;

/// Console bytes a process keeps (older output is dropped beyond this, with a note).
pub const MAX_CONSOLE_KEEP: usize = 512 * 1024;

/// The file system a node's guests see as `/`.
pub trait NodeFs: FileSystem + Send + 'static {}
impl<F: FileSystem + Send + 'static> NodeFs for F {}

/// How a node runs.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The address other nodes reach this one at (default: the listen address).
    pub advertise: Option<String>,
    /// The migration protocol's settings.
    pub migrate: Config,
    /// Instructions per scheduling slice of a process.
    pub budget: u64,
}

impl NodeOptions {
    /// Defaults for a node on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        // A short slice keeps the pumps' wait for the lock short (about 0.3 ms of a release
        // build's VM); pushes get a wider window than the core's default on a host's links.
        let migrate = Config { push_window_bytes: 256 * 1024, ..Config::default() };
        NodeOptions { listen, advertise: None, migrate, budget: 20_000 }
    }
}

/// One process as the node keeps it.
pub(crate) struct LiveProc {
    pub(crate) name: String,
    pub(crate) process: Box<HostProcess>,
    /// Stopped by a migration (never run while set).
    pub(crate) stopped: bool,
    /// The source handed it off: never run here again.
    pub(crate) handed_off: bool,
    /// What the last slice ended with while it waits (a time, or parked).
    pub(crate) waiting: Option<Option<tern_core::time::Instant>>,
    /// Blocked on this remote page (post-copy destination).
    pub(crate) fault: Option<u32>,
    /// Throttle percentage asked by a pre-copy source.
    pub(crate) throttle: u8,
    pub(crate) console: Vec<u8>,
    pub(crate) outcome: Option<Outcome>,
    /// The checksum of its memory when it ended ([`AddressSpace::checksum`](tern_core::proc::AddressSpace::checksum)).
    pub(crate) checksum: u64,
    /// The pump of the migration this process is in (as source, or as a destination still
    /// fetching pages), with its migration's id.
    pub(crate) pump: Option<(MigrationId, Sender<Input>)>,
    /// The address of its home node, which keeps its channels (travels with it).
    pub(crate) home: String,
    /// Channel operations it completed (travels with it; see [`crate::run::chan`]).
    pub(crate) chan_seq: u64,
    /// The sequence number of its channel call out to the home node ([`forward`]): not run
    /// until the answer came or was dropped.
    pub(crate) forward: Option<u64>,
    /// Away from home and parked on a receive: wake it to ask again at this time.
    pub(crate) poll_at: Option<tern_core::time::Instant>,
    /// The migration that brought it here, until that migration is over (a destination
    /// confirms it has every page after it gives up the process's `pump`, and still needs the
    /// process's entry for that).
    pub(crate) arriving: Option<MigrationId>,
}

impl LiveProc {
    pub(crate) fn new(name: String, process: Box<HostProcess>, home: String) -> Self {
        LiveProc {
            home,
            chan_seq: 0,
            forward: None,
            poll_at: None,
            arriving: None,
            name,
            process,
            stopped: false,
            handed_off: false,
            waiting: None,
            fault: None,
            throttle: 100,
            console: Vec::new(),
            outcome: None,
            checksum: 0,
            pump: None,
        }
    }

    /// Appends console output, keeping at most [`MAX_CONSOLE_KEEP`] bytes.
    pub(crate) fn console_out(console: &mut Vec<u8>, b: &[u8]) {
        console.extend_from_slice(b);
        if console.len() > MAX_CONSOLE_KEEP {
            let cut = console.len() - MAX_CONSOLE_KEEP / 2;
            let note = format!("[tern: {cut} bytes of older console output dropped]\n");
            console.splice(..cut, note.into_bytes());
        }
    }
}

/// A process that ended here, as `ps` and `wait` still show it (its memory and page table
/// are gone).
pub(crate) struct Ended {
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
    pub(crate) console: Vec<u8>,
    pub(crate) instret: u64,
    pub(crate) checksum: u64,
}

/// A process table entry.
pub(crate) enum Entry {
    /// Here (running, stopped, or ended with its outcome while a migration still reads it).
    Live(Box<LiveProc>),
    /// Ended here.
    Ended(Box<Ended>),
    /// Handed to the node at this address.
    Moved { name: String, to: String },
}

/// Ended and moved processes a node remembers (for `wait` and forwarding); the oldest are
/// forgotten beyond this many.
pub const MAX_HISTORY: usize = 4096;

/// Turns process `pid` into an [`Entry::Ended`] if it ended and no migration reads it any
/// more (neither one it is in, nor the one that brought it here: a live process keeps a
/// 512 KiB page table), and remembers it in the node's history;
/// the oldest ended or moved entries beyond [`MAX_HISTORY`] are forgotten. Call it when a
/// process may have ended or a migration of it finished.
pub(crate) fn settle<F>(st: &mut State<F>, pid: u64) {
    let done = match st.procs.get_mut(&pid) {
        Some(Entry::Live(lp)) if lp.pump.is_none() && lp.arriving.is_none() => match lp.outcome {
            Some(outcome) => Some(Entry::Ended(Box::new(Ended {
                name: std::mem::take(&mut lp.name),
                outcome,
                console: std::mem::take(&mut lp.console),
                instret: lp.process.cb.instret,
                checksum: lp.checksum,
            }))),
            None => None,
        },
        Some(Entry::Moved { .. }) if !st.history.contains(&pid) => {
            st.history.push_back(pid);
            None
        }
        _ => None,
    };
    let Some(done) = done else { return trim(st) };
    if let Some(Entry::Live(mut lp)) = st.procs.insert(pid, done) {
        lp.process.mem.clear(&mut st.store);
    }
    st.history.push_back(pid);
    trim(st);
}

fn trim<F>(st: &mut State<F>) {
    while st.history.len() > MAX_HISTORY {
        let Some(old) = st.history.pop_front() else { break };
        if matches!(st.procs.get(&old), Some(Entry::Ended(_) | Entry::Moved { .. })) {
            st.procs.remove(&old);
        }
    }
}

/// Everything the node's threads share under one lock.
pub(crate) struct State<F> {
    pub(crate) store: HeapStore,
    pub(crate) services: Services<F>,
    pub(crate) procs: BTreeMap<u64, Entry>,
    /// Processes being received, by migration (not running yet).
    pub(crate) incoming: HashMap<MigrationId, Box<LiveProc>>,
    /// Source-side figures of migrations started here.
    pub(crate) reports: HashMap<u64, MigrationReport>,
    /// Ended and moved processes, oldest first ([`settle`]).
    pub(crate) history: VecDeque<u64>,
    /// Set by anyone who made a process runnable; the scheduler clears it.
    pub(crate) kicked: bool,
}

/// What every thread of a node shares.
pub(crate) struct Shared<F> {
    pub(crate) state: Mutex<State<F>>,
    pub(crate) kick: Condvar,
    /// Pumps by migration id.
    pub(crate) router: Mutex<HashMap<MigrationId, Sender<Input>>>,
    /// Migrations whose destination ended here (late offers for them are ignored).
    pub(crate) finished: Mutex<HashSet<MigrationId>>,
    pub(crate) peers: peers::Peers,
    /// Connections to home nodes for forwarded channel calls.
    pub(crate) forward_pool: forward::Pool,
    pub(crate) advertise: String,
    pub(crate) opts: NodeOptions,
    pub(crate) tag: u64,
    pub(crate) next_pid: AtomicU64,
    pub(crate) next_mid: AtomicU64,
    pub(crate) shutdown: AtomicBool,
    /// Threads other than the scheduler waiting for `state` (the scheduler lets them in
    /// between slices).
    pub(crate) waiters: std::sync::atomic::AtomicUsize,
}

/// Locks a mutex even if a thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<F> Shared<F> {
    /// Locks the state for a pump or an RPC (the scheduler gives way between its slices).
    pub(crate) fn state(&self) -> MutexGuard<'_, State<F>> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let g = lock(&self.state);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        g
    }

    /// Wakes the scheduler (a process may run now).
    pub(crate) fn kick(&self, st: &mut State<F>) {
        st.kicked = true;
        self.kick.notify_all();
    }
}

/// A running node: its address and a way to stop it.
pub struct NodeHandle {
    server: Option<ServerHandle>,
    addr: SocketAddr,
    stop: Box<dyn Fn() + Send>,
    sched: Option<std::thread::JoinHandle<()>>,
}

impl NodeHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the RPC server and the scheduler (processes are dropped).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        (self.stop)();
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
        if let Some(t) = self.sched.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the node is stopped from another thread (forever for `tern node`).
    pub fn join(mut self) {
        if let Some(t) = self.sched.take() {
            let _ = t.join();
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// A random tag for this node's process and migration ids (so ids from different nodes do
/// not collide): the high 32 bits of every id it makes.
fn node_tag() -> u64 {
    let mut b = [0u8; 4];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b)).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b = (t.as_nanos() as u32 ^ std::process::id()).to_le_bytes();
    }
    u64::from(u32::from_le_bytes(b) | 1) << 32
}

/// Starts a node on `listener` whose guests see `fs` as `/`, mounted as their namespace's
/// root with the given id ([`crate::run::dir_source`] or [`crate::run::nfs_source`]).
pub fn start<F: NodeFs>(
    listener: TcpListener,
    fs: Option<(F, tern_core::vfs::MountId)>,
    opts: NodeOptions,
) -> std::io::Result<NodeHandle> {
    let addr = listener.local_addr()?;
    let advertise = opts.advertise.clone().unwrap_or_else(|| addr.to_string());
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            store: HeapStore::new(),
            services: Services::new(fs),
            procs: BTreeMap::new(),
            incoming: HashMap::new(),
            reports: HashMap::new(),
            history: VecDeque::new(),
            kicked: false,
        }),
        kick: Condvar::new(),
        router: Mutex::new(HashMap::new()),
        finished: Mutex::new(HashSet::new()),
        peers: peers::Peers::default(),
        forward_pool: forward::Pool::default(),
        advertise,
        opts,
        tag: node_tag(),
        next_pid: AtomicU64::new(1),
        next_mid: AtomicU64::new(1),
        shutdown: AtomicBool::new(false),
        waiters: std::sync::atomic::AtomicUsize::new(0),
    });
    let scfg = ServerConfig {
        max_record: proto::MAX_ELF as usize + 64 * 1024,
        max_reply: proto::MAX_CONSOLE as usize + 64 * 1024,
        idle_timeout: Duration::from_secs(600),
        ..ServerConfig::default()
    };
    // Several dispatchers (connections spread over them by peer address), so a slow call (a
    // large SPAWN, a PS of many processes) does not hold up other callers, peers' FRAMES above all.
    let programs = (0..RPC_SHARDS).map(|_| rpc::NodeProgram::new(shared.clone())).collect();
    let server = Server::sharded(programs, scfg).spawn(Some(listener), None)?;
    let s = shared.clone();
    let sched = std::thread::Builder::new().name("tern-sched".into()).spawn(move || sched::run(&s))?;
    let s = shared;
    let stop = Box::new(move || {
        s.shutdown.store(true, Ordering::SeqCst);
        let mut st = lock(&s.state);
        s.kick(&mut st);
    });
    Ok(NodeHandle { server: Some(server), addr, stop, sched: Some(sched) })
}

/// Makes every parked process of the table try its call again (a channel changed).
pub(crate) fn wake_parked(procs: &mut BTreeMap<u64, Entry>) {
    for entry in procs.values_mut() {
        if let Entry::Live(lp) = entry
            && lp.outcome.is_none()
        {
            lp.process.wake_parked();
            if lp.waiting == Some(None) {
                lp.waiting = None;
            }
        }
    }
}

/// A fault report for a process the node had to end (a page it cannot get, a bad reply).
pub(crate) fn host_fault(kind: tern_core::proc::FaultKind, addr: u32) -> Outcome {
    Outcome::Faulted(Fault { tid: 0, pc: 0, kind, addr })
}
