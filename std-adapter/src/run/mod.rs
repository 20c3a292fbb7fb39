//! Running guest processes on a host: `tern run GUEST.elf [ARGS]`.
//!
//! A [`Node`] owns the processes of this host, their page frames (a [`HeapStore`]) and the
//! [`Services`] that perform their host calls (files through a namespace over a
//! [`FileSystem`], channels between its processes, console output handed to the caller). It is driven like the core's
//! machines: [`Node::turn`] gives each live process one turn at the time it is given, and
//! says whether to call again at once, at a time, or never.
//!
//! `tern run` uses it in the foreground with the host's monotonic clock, [`HostFs`] over
//! `--root DIR` as the root of the guests' namespace, and the console on stdout.

pub mod chan;
mod host;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use tern_core::fs::FileSystem;
use tern_core::proc::{Event, Fault, FaultKind, FrameId, LoadOptions, PAGE_SIZE, Page, PageStore, ProcError, Process};
use tern_core::time::Instant;
use tern_core::vfs::MountId;

pub use host::{Services, fs_number};

use crate::hostfs::{HandleSecret, HostFs};

/// Pages of a host process's address space: 512 MiB.
pub const PAGES: usize = 1 << 17;
/// A process on a host.
pub type HostProcess = Process<PAGES>;

/// Page frames on the heap, allocated as needed and reused through a free list.
#[derive(Default)]
pub struct HeapStore {
    frames: Vec<Box<Page>>,
    used: Vec<bool>,
    free: Vec<u32>,
}

impl HeapStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frames in use.
    pub fn used(&self) -> usize {
        self.frames.len() - self.free.len()
    }
}

impl PageStore for HeapStore {
    fn alloc(&mut self) -> Option<FrameId> {
        if let Some(i) = self.free.pop() {
            self.frames.get_mut(i as usize)?.fill(0);
            *self.used.get_mut(i as usize)? = true;
            return Some(FrameId(i));
        }
        let i = u32::try_from(self.frames.len()).ok()?;
        self.frames.push(Box::new([0; PAGE_SIZE]));
        self.used.push(true);
        Some(FrameId(i))
    }

    fn free(&mut self, frame: FrameId) {
        if let Some(u) = self.used.get_mut(frame.0 as usize)
            && *u
        {
            *u = false;
            self.free.push(frame.0);
        }
    }

    fn get(&self, frame: FrameId) -> Option<&Page> {
        let i = frame.0 as usize;
        if !*self.used.get(i)? {
            return None;
        }
        self.frames.get(i).map(|b| &**b)
    }

    fn get_mut(&mut self, frame: FrameId) -> Option<&mut Page> {
        let i = frame.0 as usize;
        if !*self.used.get(i)? {
            return None;
        }
        self.frames.get_mut(i).map(|b| &mut **b)
    }
}

/// A new, empty process on the heap.
pub fn new_process() -> Box<HostProcess> {
    Box::new(HostProcess::new())
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this code.
    Exited(i32),
    /// Ended by a fault.
    Faulted(Fault),
}

/// One process of a node.
pub struct Proc {
    /// Process id on this node.
    pub pid: u64,
    /// A name for messages (the ELF's path).
    pub name: String,
    /// Control block and page table.
    pub process: Box<HostProcess>,
    /// What the last turn ended with, while it waits.
    pub waiting: Option<Option<Instant>>,
    /// Set once it ended.
    pub outcome: Option<Outcome>,
}

/// What a node should do after a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Some process can run: call [`Node::turn`] again.
    Busy,
    /// Every live process waits; call again at this time (`None`: only a channel message
    /// from outside could wake them, so with no other input they are stuck).
    Idle(Option<Instant>),
    /// Every process ended.
    Done,
}

/// The processes of one host.
pub struct Node<F> {
    /// Page frames of every process.
    pub store: HeapStore,
    /// Files, channels.
    pub services: Services<F>,
    /// Processes in start order (ended ones stay with their outcome).
    pub procs: Vec<Proc>,
    next_pid: u64,
}

impl<F: FileSystem> Node<F> {
    /// A node whose guests see `fs` as `/`, mounted with the given id (see [`Services::new`]),
    /// or no files at all.
    pub fn new(fs: Option<(F, MountId)>) -> Self {
        Node { store: HeapStore::new(), services: Services::new(fs), procs: Vec::new(), next_pid: 1 }
    }

    /// Loads `elf` with `args` (the first is conventionally the program name) as a new process.
    pub fn spawn(&mut self, name: &str, elf: &[u8], args: &[&[u8]]) -> Result<u64, ProcError> {
        let pid = self.next_pid;
        let mut process = new_process();
        process.load(&mut self.store, elf, args, LoadOptions { pid, home: 0, stack_pages: 64 })?;
        self.next_pid += 1;
        self.procs.push(Proc { pid, name: name.to_string(), process, waiting: None, outcome: None });
        Ok(pid)
    }

    /// Gives every live process a turn of up to `budget` instructions at `now`, performing
    /// its host calls; console output goes to `console(pid, bytes)`.
    pub fn turn(&mut self, now: Instant, budget: u64, console: &mut dyn FnMut(u64, &[u8])) -> NodeState {
        let mut busy = false;
        let mut wake: Option<Instant> = None;
        let mut live = 0;
        for proc in self.procs.iter_mut().filter(|p| p.outcome.is_none()) {
            if let Some(Some(t)) = proc.waiting
                && t > now
            {
                live += 1;
                wake = Some(wake.map_or(t, |w| w.min(t)));
                continue;
            }
            if proc.waiting == Some(None) {
                live += 1;
                continue;
            }
            let pid = proc.pid;
            proc.waiting = None;
            match turn_one(proc, &mut self.store, &mut self.services, now, budget, &mut |b| console(pid, b)) {
                Turn::Busy => busy = true,
                Turn::Wait(t) => {
                    proc.waiting = Some(t);
                    if let Some(t) = t {
                        wake = Some(wake.map_or(t, |w| w.min(t)));
                    }
                }
                Turn::Ended(o) => {
                    proc.outcome = Some(o);
                    proc.process.release(&mut self.store);
                    continue;
                }
            }
            live += 1;
        }
        if std::mem::take(&mut self.services.channels.woke) {
            for p in self.procs.iter_mut().filter(|p| p.outcome.is_none()) {
                p.process.wake_parked();
                if p.waiting == Some(None) {
                    p.waiting = None;
                }
                busy = true;
            }
        }
        match (live, busy) {
            (0, _) => NodeState::Done,
            (_, true) => NodeState::Busy,
            _ => NodeState::Idle(wake),
        }
    }
}

enum Turn {
    Busy,
    Wait(Option<Instant>),
    Ended(Outcome),
}

fn turn_one<F: FileSystem>(
    proc: &mut Proc,
    store: &mut HeapStore,
    services: &mut Services<F>,
    now: Instant,
    budget: u64,
    console: &mut dyn FnMut(&[u8]),
) -> Turn {
    let p = &mut proc.process;
    let start = p.cb.instret;
    loop {
        let left = budget.saturating_sub(p.cb.instret.wrapping_sub(start));
        if left == 0 {
            return Turn::Busy;
        }
        match p.run(store, now, left) {
            Event::Budget => return Turn::Busy,
            Event::Call { call, .. } => {
                let reply = services.serve(&mut **p, store, call, console);
                if p.complete(store, reply).is_err() {
                    // A reply the VM refuses is a bug of this host: end the process loudly.
                    let f = Fault { tid: 0, pc: 0, kind: FaultKind::BadSyscallArg, addr: 0 };
                    return Turn::Ended(Outcome::Faulted(f));
                }
                if services.channels.woke {
                    // Let the node wake the other processes before this one goes on.
                    return Turn::Busy;
                }
            }
            Event::Idle { wake_at } => return Turn::Wait(wake_at),
            // Every page of a process started here is local: a non-present page means the
            // page table and the store disagree.
            Event::PageFault { vpn } => {
                let f = Fault { tid: p.cb.current, pc: 0, kind: FaultKind::LostFrame, addr: vpn << 12 };
                return Turn::Ended(Outcome::Faulted(f));
            }
            Event::Exited { code } => return Turn::Ended(Outcome::Exited(code)),
            Event::Faulted(f) => return Turn::Ended(Outcome::Faulted(f)),
        }
    }
}

/// The mount id of a host directory served as the guests' `/`: [`MountId::of_source`] of
/// `file://` and its canonical path (the path as given when it cannot be resolved), so
/// nodes given the same directory agree on it whatever relative spelling they were given.
pub fn dir_source(dir: &Path) -> MountId {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    MountId::of_source(format!("file://{}", dir.display()).as_bytes())
}

/// The mount id of an NFS export served as the guests' `/`: [`MountId::of_source`] of its
/// URL as given (`nfs://server/export`).
pub fn nfs_source(url: &str) -> MountId {
    MountId::of_source(url.as_bytes())
}

/// What `tern run` runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The main guest and its arguments (the ELF path is passed as argument 0).
    pub guest: PathBuf,
    /// Its arguments after the program name.
    pub args: Vec<String>,
    /// More processes started on the same node: ELF path and arguments.
    pub also: Vec<(PathBuf, Vec<String>)>,
    /// The directory guests see as `/`.
    pub root: Option<PathBuf>,
}

/// Why `tern run` could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The ELF could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The host's error.
        source: std::io::Error,
    },
    /// The ELF was refused or does not fit.
    #[error("{path}: {source}")]
    Load {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ProcError,
    },
    /// The root directory cannot be served.
    #[error("--root: {0}")]
    Root(#[from] crate::hostfs::HostFsError),
    /// The handle secret could not be made.
    #[error("--root: {0}")]
    Secret(std::io::Error),
    /// Every process waits for a channel message no process can send.
    #[error("every guest process waits for a channel message that cannot come")]
    Stuck,
}

/// Runs the guests to their end with the console on stdout; returns the main guest's outcome.
pub fn run_foreground(opts: &RunOptions) -> Result<Outcome, RunError> {
    let fs = match &opts.root {
        Some(dir) => {
            let secret = HandleSecret::generate().map_err(RunError::Secret)?;
            Some((HostFs::new(dir, &secret)?, dir_source(dir)))
        }
        None => None,
    };
    let mut node = Node::new(fs);
    let mut start = |path: &PathBuf, args: &[String]| -> Result<(), RunError> {
        let elf = std::fs::read(path).map_err(|source| RunError::Read { path: path.clone(), source })?;
        let name = path.display().to_string();
        let mut argv: Vec<&[u8]> = vec![name.as_bytes()];
        argv.extend(args.iter().map(|a| a.as_bytes()));
        node.spawn(&name, &elf, &argv).map_err(|source| RunError::Load { path: path.clone(), source })?;
        Ok(())
    };
    start(&opts.guest, &opts.args)?;
    for (p, a) in &opts.also {
        start(p, a)?;
    }
    let clock = std::time::Instant::now();
    let mut out = std::io::stdout().lock();
    let mut console = |_pid: u64, b: &[u8]| {
        use std::io::Write;
        // A closed stdout (`tern run ... | head`) must not stop the guest.
        let _ = out.write_all(b);
    };
    loop {
        let now = Instant::from_micros(clock.elapsed().as_micros() as u64);
        match node.turn(now, 1_000_000, &mut console) {
            NodeState::Busy => {}
            NodeState::Done => break,
            NodeState::Idle(Some(t)) => {
                let us = t.as_micros().saturating_sub(now.as_micros());
                std::thread::sleep(std::time::Duration::from_micros(us.min(100_000)));
            }
            NodeState::Idle(None) => return Err(RunError::Stuck),
        }
    }
    let _ = std::io::Write::flush(&mut out);
    node.procs.first().and_then(|p| p.outcome).ok_or(RunError::Stuck)
}
