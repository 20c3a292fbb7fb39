//! Migration pumps: one thread per migration drives the core's [`Source`] or [`Destination`]
//! over the node's process table, and [`NodeView`], the [`Migratable`] a node gives them.
//!
//! A pump waits for an input ([`Input`]: a message, a page fault, the end of its process) or
//! its machine's next timer, then, holding the node's lock for one step, feeds the machine
//! everything that arrived, fires its timers, collects what it sends and applies its events;
//! it sends after releasing the lock. The process stays in the node's table the whole time
//! (a destination's, in `incoming` until the commit resumes it).
//!
//! The control bytes a node sends are framed by [`NodeView`]: the VM's control block, then the
//! process's name, its console output (so the console goes with the process), its home node's
//! address and its channel sequence number (so its channels follow it, see
//! [`crate::run::chan`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use tern_core::migrate::msg::{MAX_MSG_LEN, refuse};
use tern_core::migrate::{
    Body, DestState, Destination, Event, FaultStatus, Migratable, MigrationId, Msg, PAGE_SIZE, PageContent, PageKind,
    PageSet, ProcessError, RefuseReason, Source, SourceState, Strategy, VmProcess,
};
use tern_core::proc::ControlBlock;

use super::proto::{MigrationReport, status};
use super::{Entry, LiveProc, MAX_CONSOLE_KEEP, NodeFs, Shared, State, lock};
use crate::run::{HeapStore, PAGES, new_process};
use crate::server::core_now;

/// What a pump is told.
#[derive(Debug)]
pub enum Input {
    /// A migration message, and where to answer.
    Frame(Vec<u8>, String),
    /// The process touched this remote page (destination).
    Fault(u32),
    /// The process ended (source: abort if still possible).
    Ended,
}

/// Longest name carried with a process.
const MAX_NAME: usize = 4096;
/// Longest home node address carried with a process.
const MAX_HOME: usize = 255;
/// Control bytes a node sends at most: block, name, console, home, sequence, five lengths.
pub const CONTROL_MAX: usize = 20 + ControlBlock::MAX_ENCODED + MAX_NAME + MAX_CONSOLE_KEEP + MAX_HOME + 8 + 256;

/// A node's process as the protocol sees it: the VM's view plus the name and console that
/// travel with the control block.
pub struct NodeView<'a> {
    vm: VmProcess<'a, PAGES, HeapStore>,
    name: &'a mut String,
    console: &'a mut Vec<u8>,
    home: &'a mut String,
    chan_seq: &'a mut u64,
    /// Process ids live on this node (a destination refuses a block with one of them).
    taken: Option<&'a dyn Fn(u64) -> bool>,
}

impl<'a> NodeView<'a> {
    /// The view of one process of a node.
    pub(crate) fn new(lp: &'a mut LiveProc, store: &'a mut HeapStore) -> Self {
        let LiveProc { process, stopped, name, console, home, chan_seq, .. } = lp;
        NodeView { vm: VmProcess::new(process, store, stopped), name, console, home, chan_seq, taken: None }
    }
}

fn view<'a>(lp: &'a mut LiveProc, store: &'a mut HeapStore) -> NodeView<'a> {
    NodeView::new(lp, store)
}

fn put(buf: &mut [u8], at: &mut usize, b: &[u8]) -> Result<(), ProcessError> {
    let len = u32::try_from(b.len()).map_err(|_| ProcessError::BadControl)?;
    let end = *at + 4 + b.len();
    let dst = buf.get_mut(*at..end).ok_or(ProcessError::BadControl)?;
    dst[..4].copy_from_slice(&len.to_be_bytes());
    dst[4..].copy_from_slice(b);
    *at = end;
    Ok(())
}

fn take<'b>(bytes: &mut &'b [u8], max: usize) -> Result<&'b [u8], ProcessError> {
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or(ProcessError::BadControl)?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > max || len > rest.len() {
        return Err(ProcessError::BadControl);
    }
    let (b, rest) = rest.split_at(len);
    *bytes = rest;
    Ok(b)
}

impl Migratable for NodeView<'_> {
    fn page_count(&self) -> u32 {
        self.vm.page_count()
    }
    fn page_kind(&self, vpn: u32) -> PageKind {
        self.vm.page_kind(vpn)
    }
    fn read_page(&self, vpn: u32, buf: &mut [u8; PAGE_SIZE]) -> PageKind {
        self.vm.read_page(vpn, buf)
    }
    fn take_dirty(&mut self, into: &mut PageSet<'_>) {
        self.vm.take_dirty(into)
    }
    fn install_page(&mut self, vpn: u32, page: PageContent<'_>) -> Result<(), ProcessError> {
        self.vm.install_page(vpn, page)
    }
    fn mark_absent(&mut self, vpn: u32) -> Result<(), ProcessError> {
        self.vm.mark_absent(vpn)
    }

    fn save_control(&self, buf: &mut [u8]) -> Result<usize, ProcessError> {
        let mut cb = vec![0u8; ControlBlock::MAX_ENCODED];
        let n = self.vm.save_control(&mut cb)?;
        let mut at = 0;
        put(buf, &mut at, &cb[..n])?;
        let name = self.name.as_bytes();
        put(buf, &mut at, &name[..name.len().min(MAX_NAME)])?;
        put(buf, &mut at, self.console)?;
        put(buf, &mut at, self.home.as_bytes())?;
        put(buf, &mut at, &self.chan_seq.to_be_bytes())?;
        Ok(at)
    }

    fn load_control(&mut self, mut bytes: &[u8]) -> Result<(), ProcessError> {
        let cb = take(&mut bytes, ControlBlock::MAX_ENCODED)?;
        let name = take(&mut bytes, MAX_NAME)?;
        let console = take(&mut bytes, MAX_CONSOLE_KEEP * 2)?;
        let home = take(&mut bytes, MAX_HOME)?;
        let seq: [u8; 8] = take(&mut bytes, 8)?.try_into().map_err(|_| ProcessError::BadControl)?;
        if !bytes.is_empty() || home.is_empty() {
            return Err(ProcessError::BadControl);
        }
        let pid = ControlBlock::decode(cb).map_err(|_| ProcessError::BadControl)?.pid;
        if self.taken.is_some_and(|t| t(pid)) {
            return Err(ProcessError::BadControl);
        }
        self.vm.load_control(cb)?;
        *self.name = String::from_utf8_lossy(name).into_owned();
        *self.console = console.to_vec();
        *self.home = String::from_utf8_lossy(home).into_owned();
        *self.chan_seq = u64::from_be_bytes(seq);
        Ok(())
    }

    fn stop(&mut self) {
        self.vm.stop()
    }
    fn resume(&mut self) {
        self.vm.resume()
    }
}

/// The strategy's command-line name.
pub fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::StopAndCopy => "stop-copy",
        Strategy::PreCopy => "pre-copy",
        Strategy::PostCopy => "post-copy",
        Strategy::Hybrid => "hybrid",
    }
}

/// Receives what arrived, waiting at most `wait` for the first input (zero: not at all).
fn receive(rx: &Receiver<Input>, wait: Duration) -> Vec<Input> {
    let mut v = Vec::new();
    if !wait.is_zero() {
        match rx.recv_timeout(wait) {
            Ok(i) => v.push(i),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return v,
        }
    }
    v.extend(rx.try_iter());
    v
}

fn wait_for(t: Option<tern_core::time::Instant>) -> Duration {
    let now = core_now();
    let us = t.map_or(50_000, |t| t.as_micros().saturating_sub(now.as_micros()));
    Duration::from_micros(us.clamp(50, 50_000))
}

/// Starts migrating process `pid` to the node at `to`: checks it may move, registers a pump,
/// and returns the migration's id (or a [`status`] and why not).
pub(crate) fn start_source<F: NodeFs>(
    shared: &Arc<Shared<F>>,
    pid: u64,
    strategy: Strategy,
    to: String,
) -> Result<MigrationId, (u32, &'static str)> {
    let mid = MigrationId(shared.tag | shared.next_mid.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let (tx, rx) = channel();
    {
        let mut st = shared.state();
        let lp = match st.procs.get_mut(&pid) {
            Some(Entry::Live(lp)) => lp,
            Some(Entry::Moved { .. }) => return Err((status::NO_PROCESS, "the process moved to another node")),
            Some(Entry::Ended(_)) => return Err((status::BUSY, "the process has ended")),
            None => return Err((status::NO_PROCESS, "no such process on this node")),
        };
        if lp.outcome.is_some() {
            return Err((status::BUSY, "the process has ended"));
        }
        if lp.pump.is_some() || lp.process.mem.remote_pages() > 0 {
            return Err((status::BUSY, "the process is migrating (or still fetching pages)"));
        }
        lp.pump = Some((mid, tx.clone()));
        let report = MigrationReport {
            found: true,
            state: "offering".into(),
            strategy: strategy_name(strategy).into(),
            ..MigrationReport::default()
        };
        st.reports.insert(mid.0, report);
    }
    lock(&shared.router).insert(mid, tx);
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("tern-src {}", mid.0))
        .spawn(move || source_pump(&s, pid, mid, strategy, &to, &rx));
    if spawned.is_err() {
        lock(&shared.router).remove(&mid);
        let mut st = shared.state();
        if let Some(Entry::Live(lp)) = st.procs.get_mut(&pid) {
            lp.pump = None;
        }
        st.reports.remove(&mid.0);
        return Err((status::BUSY, "cannot start a thread"));
    }
    Ok(mid)
}

fn source_state(s: SourceState) -> String {
    match s {
        SourceState::Offering => "offering".into(),
        SourceState::WorkingSet => "working-set".into(),
        SourceState::Copying => "copying".into(),
        SourceState::Stopped => "stopped".into(),
        SourceState::Committed => "committed".into(),
        SourceState::Released => "released".into(),
        SourceState::Refused(r) => format!("refused: {r:?}"),
        SourceState::Aborted(r) => format!("aborted: {r:?}"),
    }
}

fn fill_report(r: &mut MigrationReport, s: &Source<'_>) {
    let m = s.metrics();
    r.done = s.is_finished();
    r.moved = s.state() == SourceState::Released;
    r.state = source_state(s.state());
    r.total_us = m.total.as_micros();
    r.downtime_us = m.downtime.as_micros();
    r.bytes_sent = m.bytes_sent;
    r.pages_sent = m.pages_sent;
    r.zero_pages = m.zero_pages;
    r.resent = m.messages_resent;
    r.rounds = m.rounds;
    r.stop_reason = m.stop_reason.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default();
    r.remote_faults = m.remote_faults;
    r.fault_wait_us = m.fault_wait.as_micros();
    r.bandwidth = m.bandwidth;
    r.rtt_us = m.rtt.as_micros();
}

fn source_pump<F: NodeFs>(
    shared: &Shared<F>,
    pid: u64,
    mid: MigrationId,
    strategy: Strategy,
    to: &str,
    rx: &Receiver<Input>,
) {
    let mut words = vec![0u32; Source::storage_words(PAGES as u32)];
    let mut ctl = vec![0u8; CONTROL_MAX];
    let cfg = shared.opts.migrate;
    let started = {
        let mut st = shared.state();
        let State { store, procs, reports, .. } = &mut *st;
        let Some(Entry::Live(lp)) = procs.get_mut(&pid) else { return };
        let s = Source::new(core_now(), mid, strategy, cfg, &view(lp, store), &mut words, &mut ctl);
        if let Some(r) = reports.get_mut(&mid.0) {
            r.mapped = lp.process.mem.mapped_pages() as u32;
        }
        if s.is_err() {
            lp.pump = None;
            if let Some(r) = reports.get_mut(&mid.0) {
                (r.done, r.state) = (true, "aborted: the process is too large".into());
            }
        }
        s
    };
    let Ok(mut source) = started else {
        lock(&shared.router).remove(&mid);
        return;
    };
    let mut buf = vec![0u8; MAX_MSG_LEN];
    let mut ended = false;
    let mut first = true;
    loop {
        let mut frames = Vec::new();
        // The first step at once (the offer is due); later ones on an input or a timer.
        let wait = if first { Duration::ZERO } else { wait_for(source.poll_timeout()) };
        first = false;
        for i in receive(rx, wait) {
            match i {
                Input::Frame(b, _) => frames.push(b),
                Input::Ended => ended = true,
                Input::Fault(_) => {}
            }
        }
        let mut out = Vec::new();
        let finished = {
            let mut st = shared.state();
            let now = core_now();
            let State { store, procs, reports, .. } = &mut *st;
            let Some(Entry::Live(lp)) = procs.get_mut(&pid) else { break };
            let mut v = view(lp, store);
            if (ended || shared.shutdown.load(std::sync::atomic::Ordering::SeqCst)) && source.owns_process() {
                let _ = source.abort(now, &mut v);
            }
            for b in &frames {
                if let Ok(m) = Msg::decode(b) {
                    let _ = source.handle(now, &mut v, &m);
                }
            }
            if source.poll_timeout().is_some_and(|t| t <= now) {
                source.handle_timeout(now, &mut v);
            }
            while let Some(n) = source.poll_transmit(now, &mut v, &mut buf) {
                out.push(buf[..n].to_vec());
            }
            let mut kick = false;
            while let Some(e) = source.poll_event() {
                if let Event::Throttle { percent } = e {
                    lp.throttle = percent.clamp(1, 100);
                }
                kick = true;
            }
            // The state is authoritative (events are hints): never run it here once handed off.
            if !source.owns_process() {
                lp.handed_off = true;
            }
            if let Some(r) = reports.get_mut(&mid.0) {
                fill_report(r, &source);
            }
            let finished = source.is_finished();
            if finished {
                lp.pump = None;
                lp.throttle = 100;
                if source.state() == SourceState::Released {
                    lp.process.release(store);
                    let name = std::mem::take(&mut lp.name);
                    procs.insert(pid, Entry::Moved { name, to: to.to_string() });
                } else if lp.outcome.is_some() {
                    lp.process.mem.clear(store);
                }
                super::settle(&mut st, pid);
            }
            if kick || finished {
                shared.kick(&mut st);
            }
            finished
        };
        shared.peers.send(to, &shared.advertise, out);
        if finished {
            break;
        }
    }
    lock(&shared.router).remove(&mid);
}

/// Starts the destination pump of a new migration offered in `offer` (registered in
/// `router`, which the caller holds).
pub(crate) fn start_destination<F: NodeFs>(
    shared: &Arc<Shared<F>>,
    router: &mut HashMap<MigrationId, Sender<Input>>,
    offer: Vec<u8>,
    reply_to: String,
) {
    let Ok(msg) = Msg::decode(&offer) else { return };
    let mid = msg.id;
    let (tx, rx) = channel();
    let s = shared.clone();
    let t = tx.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("tern-dst {}", mid.0))
        .spawn(move || dest_pump(&s, &offer, reply_to, t, &rx));
    if spawned.is_ok() {
        router.insert(mid, tx);
    }
}

fn dest_pump<F: NodeFs>(
    shared: &Shared<F>,
    offer: &[u8],
    mut reply_to: String,
    tx: Sender<Input>,
    rx: &Receiver<Input>,
) {
    let Ok(msg) = Msg::decode(offer) else { return };
    let Body::Offer(o) = msg.body else { return };
    let mid = msg.id;
    let mut buf = vec![0u8; MAX_MSG_LEN];
    if o.page_count > PAGES as u32 {
        if let Some(n) = refuse(&msg, RefuseReason::TooLarge, &mut buf) {
            shared.peers.send(&reply_to, &shared.advertise, vec![buf[..n].to_vec()]);
        }
        lock(&shared.router).remove(&mid);
        return;
    }
    let mut words = vec![0u32; Destination::storage_words(o.page_count)];
    let mut ctl = vec![0u8; CONTROL_MAX];
    let Ok(mut dest) = Destination::new(core_now(), &msg, shared.opts.migrate, &mut words, &mut ctl) else {
        lock(&shared.router).remove(&mid);
        return;
    };
    {
        let mut lp = Box::new(LiveProc::new(String::new(), new_process(), String::new()));
        lp.stopped = true;
        lp.pump = Some((mid, tx));
        lp.arriving = Some(mid);
        shared.state().incoming.insert(mid, lp);
    }
    let mut pid: Option<u64> = None;
    let mut faults: Vec<u32> = Vec::new();
    let mut first = true;
    loop {
        let mut frames = Vec::new();
        // The first step at once (the acceptance is due); later ones on an input or a timer.
        let wait = if first { Duration::ZERO } else { wait_for(dest.poll_timeout()) };
        first = false;
        for i in receive(rx, wait) {
            match i {
                Input::Frame(b, from) => {
                    frames.push(b);
                    reply_to = from;
                }
                Input::Fault(vpn) => faults.push(vpn),
                Input::Ended => {}
            }
        }
        let mut out = Vec::new();
        let finished = {
            let mut st = shared.state();
            let now = core_now();
            let finished = dest_step(&mut st, &mut dest, mid, &mut pid, &frames, &mut faults, now, &mut out, &mut buf);
            if finished && let Some(p) = pid {
                // This migration is over: the process may become an `Ended` entry now.
                if let Some(Entry::Live(lp)) = st.procs.get_mut(&p)
                    && lp.arriving == Some(mid)
                {
                    lp.arriving = None;
                }
                super::settle(&mut st, p);
            }
            shared.kick(&mut st);
            finished || shared.shutdown.load(std::sync::atomic::Ordering::SeqCst)
        };
        shared.peers.send(&reply_to, &shared.advertise, out);
        if finished {
            break;
        }
    }
    lock(&shared.finished).insert(mid);
    lock(&shared.router).remove(&mid);
}

/// One locked step of a destination pump; whether the migration is over.
#[allow(clippy::too_many_arguments)]
fn dest_step<F>(
    st: &mut State<F>,
    dest: &mut Destination<'_>,
    mid: MigrationId,
    pid: &mut Option<u64>,
    frames: &[Vec<u8>],
    faults: &mut Vec<u32>,
    now: tern_core::time::Instant,
    out: &mut Vec<Vec<u8>>,
    buf: &mut [u8],
) -> bool {
    let State { store, procs, incoming, .. } = st;
    // Before the control block is loaded: the pids that live here (a block naming one of them
    // is refused, and the migration aborts while the process still runs at the source).
    let live: std::collections::HashSet<u64> = match pid {
        None => procs.iter().filter(|(_, e)| matches!(e, Entry::Live(_))).map(|(p, _)| *p).collect(),
        Some(_) => Default::default(),
    };
    let taken = |p: u64| live.contains(&p);
    let lp: &mut LiveProc = match *pid {
        None => match incoming.get_mut(&mid) {
            Some(lp) => lp,
            None => return true,
        },
        Some(p) => match procs.get_mut(&p) {
            Some(Entry::Live(lp)) => lp,
            _ => return true,
        },
    };
    let mut v = view(lp, store);
    v.taken = Some(&taken);
    for b in frames {
        if let Ok(m) = Msg::decode(b) {
            let _ = dest.handle(now, &mut v, &m);
        }
    }
    if dest.poll_timeout().is_some_and(|t| t <= now) {
        dest.handle_timeout(now);
    }
    faults.retain(|&vpn| match dest.fault(now, vpn) {
        Ok(FaultStatus::Wait) => false,
        Err(tern_core::migrate::Error::FaultTableFull) => true,
        // Here after all (or not remote at all): let the VM run it again.
        Ok(FaultStatus::Local) | Err(_) => {
            if lp.fault == Some(vpn) {
                lp.fault = None;
            }
            false
        }
    });
    while let Some(n) = dest.poll_transmit(now, buf) {
        out.push(buf[..n].to_vec());
    }
    // Events are hints (the queue drops the oldest when full): act on the state instead.
    while dest.poll_event().is_some() {}
    if let Some(vpn) = lp.fault
        && lp.process.mem.page(vpn).is_some_and(|p| p.present)
    {
        lp.fault = None;
    }
    let resumed = dest.owns_process();
    let finished = dest.is_finished();
    // Every page is here: the process no longer needs this migration (it may even move again
    // while the confirmation is still going out).
    if (finished || dest.state() == DestState::Complete) && lp.pump.as_ref().is_some_and(|(m, _)| *m == mid) {
        lp.pump = None;
        if lp.outcome.is_some() {
            if lp.checksum == 0 {
                lp.checksum = lp.process.mem.checksum(store).unwrap_or(0);
            }
            lp.process.mem.clear(store);
        }
    }
    if matches!(dest.state(), DestState::Aborted(_)) {
        if let Some(mut lp) = incoming.remove(&mid) {
            lp.process.release(store);
        }
        return true;
    }
    if resumed
        && pid.is_none()
        && let Some(mut lp) = incoming.remove(&mid)
    {
        // A receive parked elsewhere asks again here (what it waited for may have come).
        lp.process.wake_parked();
        let p = lp.process.cb.pid;
        procs.insert(p, Entry::Live(lp));
        *pid = Some(p);
    }
    finished
}
