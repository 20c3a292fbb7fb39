//! A two-node simulation on a virtual clock: a source node and a destination node, each with a
//! fake process, joined by a link with bandwidth, latency, loss, reordering, duplication and
//! cuts (a cut drops everything sent while it lasts and everything in flight when it starts,
//! like a killed connection). The runner does what a real one does: it delivers messages,
//! fires timers, runs the processes (a destination thread that faults blocks until its page
//! arrives), and applies throttle requests. It checks after every step that the process never
//! runs on both nodes.

use std::vec;
use std::vec::Vec;

use super::fake::{FakeProcess, Layout, PState, mix};
use crate::migrate::msg::{MAX_MSG_LEN, reply_unknown};
use crate::migrate::{Config, Destination, Event, FaultStatus, MigrationId, Msg, Source, Strategy};
use crate::time::Instant;

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// True with probability `permille` / 1000.
    pub(crate) fn chance(&mut self, permille: u32) -> bool {
        permille > 0 && self.below(1000) < u64::from(permille)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkCfg {
    /// Bytes per second.
    pub(crate) bandwidth: u64,
    pub(crate) latency_us: u64,
    pub(crate) loss_permille: u32,
    pub(crate) reorder_permille: u32,
    pub(crate) dup_permille: u32,
    /// How far ahead the sender may queue (a socket buffer), in microseconds of link time.
    pub(crate) sndbuf_us: u64,
}

impl LinkCfg {
    /// 100 MB/s, 100 µs one way, clean.
    pub(crate) fn lan() -> Self {
        LinkCfg {
            bandwidth: 100_000_000,
            latency_us: 100,
            loss_permille: 0,
            reorder_permille: 0,
            dup_permille: 0,
            sndbuf_us: 200,
        }
    }
}

/// A period when the link is down; `end == u64::MAX`: for good.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cut {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

struct InFlight {
    sent: u64,
    at: u64,
    bytes: Vec<u8>,
}

pub(crate) struct Link {
    cfg: LinkCfg,
    q: Vec<InFlight>,
    free_at: u64,
}

impl Link {
    fn new(cfg: LinkCfg) -> Self {
        Link { cfg, q: Vec::new(), free_at: 0 }
    }
    fn can_send(&self, now: u64) -> bool {
        self.free_at <= now + self.cfg.sndbuf_us
    }
    fn send(&mut self, now: u64, bytes: &[u8], rng: &mut Rng) {
        let start = self.free_at.max(now);
        self.free_at = start + (bytes.len() as u64 * 1_000_000).div_ceil(self.cfg.bandwidth);
        let mut at = self.free_at + self.cfg.latency_us;
        if rng.chance(self.cfg.loss_permille) {
            return;
        }
        if rng.chance(self.cfg.reorder_permille) {
            at += rng.below(4 * self.cfg.latency_us + 1000);
        }
        if rng.chance(self.cfg.dup_permille) {
            self.q.push(InFlight { sent: now, at: at + rng.below(500), bytes: bytes.to_vec() });
        }
        self.q.push(InFlight { sent: now, at, bytes: bytes.to_vec() });
    }
    fn deliver(&mut self, now: u64, cuts: &[Cut]) -> Vec<Vec<u8>> {
        let mut due: Vec<InFlight> = Vec::new();
        let mut i = 0;
        while i < self.q.len() {
            if self.q[i].at <= now { due.push(self.q.swap_remove(i)) } else { i += 1 }
        }
        due.sort_by_key(|m| m.at);
        due.into_iter().filter(|m| !cuts.iter().any(|c| c.start <= m.at && m.sent < c.end)).map(|m| m.bytes).collect()
    }
    fn next_at(&self) -> Option<u64> {
        self.q.iter().map(|m| m.at).min()
    }
}

/// The page bitmaps and control buffers both state machines borrow.
pub(crate) struct Storage {
    src_words: Vec<u32>,
    src_ctl: Vec<u8>,
    dst_words: Vec<u32>,
    dst_ctl: Vec<u8>,
}

impl Storage {
    pub(crate) fn new(pages: u32) -> Self {
        Storage {
            src_words: vec![0; Source::storage_words(pages)],
            src_ctl: vec![0; 16 * 1024],
            dst_words: vec![0; Destination::storage_words(pages)],
            dst_ctl: vec![0; 16 * 1024],
        }
    }
}

impl Storage {
    /// The destination's bitmap words and control buffer.
    pub(crate) fn dest(&mut self) -> (&mut [u32], &mut [u8]) {
        (&mut self.dst_words, &mut self.dst_ctl)
    }

    /// Both sides' storage: source words and control, destination words and control.
    pub(crate) fn all(&mut self) -> (&mut [u32], &mut [u8], &mut [u32], &mut [u8]) {
        (&mut self.src_words, &mut self.src_ctl, &mut self.dst_words, &mut self.dst_ctl)
    }
}

pub(crate) struct Sim<'a> {
    pub(crate) now: u64,
    pub(crate) rng: Rng,
    s2d: Link,
    d2s: Link,
    pub(crate) cuts: Vec<Cut>,
    pub(crate) layout: Layout,
    pub(crate) src: FakeProcess,
    pub(crate) dst: FakeProcess,
    pub(crate) source: Source<'a>,
    pub(crate) dest: Option<Destination<'a>>,
    dst_storage: Option<(&'a mut [u32], &'a mut [u8])>,
    cfg: Config,
    /// Workload steps per millisecond.
    pub(crate) rate: u64,
    pub(crate) throttle: u8,
    last_run: u64,
    acc: [u64; 2],
    pub(crate) blocked: Option<u32>,
    pub(crate) events: Vec<(u64, bool, Event)>,
    pub(crate) stopped_at: Option<u64>,
    pub(crate) resumed_at: Option<u64>,
    /// When the destination's first blocked fault began and ended.
    pub(crate) fault_log: Vec<(u64, u32, u64, u32)>,
    blocked_since: u64,
    buf: Vec<u8>,
}

pub(crate) const TICK_US: u64 = 50;

impl<'a> Sim<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        st: &'a mut Storage,
        layout: Layout,
        strategy: Strategy,
        cfg: Config,
        link: LinkCfg,
        rate: u64,
        seed: u64,
    ) -> Self {
        let src = FakeProcess::new(layout);
        let Storage { src_words, src_ctl, dst_words, dst_ctl } = st;
        let source =
            Source::new(Instant::ZERO, MigrationId(seed | 1), strategy, cfg, &src, src_words, src_ctl).unwrap();
        Sim {
            now: 0,
            rng: Rng(seed),
            s2d: Link::new(link),
            d2s: Link::new(link),
            cuts: Vec::new(),
            layout,
            dst: FakeProcess::empty(layout.pages),
            src,
            source,
            dest: None,
            dst_storage: Some((dst_words, dst_ctl)),
            cfg,
            rate,
            throttle: 100,
            last_run: 0,
            acc: [0; 2],
            blocked: None,
            events: Vec::new(),
            stopped_at: None,
            resumed_at: None,
            fault_log: Vec::new(),
            blocked_since: 0,
            buf: vec![0; MAX_MSG_LEN],
        }
    }

    /// Gives the destination too little page-bitmap storage for the offer.
    pub(crate) fn shrink_destination_storage(&mut self) {
        if let Some((words, ctl)) = self.dst_storage.take() {
            self.dst_storage = Some((&mut words[..1], ctl));
        }
    }

    fn t(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    /// Runs the processes from the last run until now.
    fn run_processes(&mut self) {
        let dt = self.now - self.last_run;
        self.last_run = self.now;
        for (i, on_dst) in [(0, false), (1, true)] {
            let p = if on_dst { &mut self.dst } else { &mut self.src };
            if !p.running || (on_dst && self.blocked.is_some()) {
                self.acc[i] = 0;
                continue;
            }
            let throttle = if on_dst { 100 } else { u64::from(self.throttle) };
            self.acc[i] += dt * self.rate * throttle;
            let steps = self.acc[i] / 100_000;
            self.acc[i] %= 100_000;
            if let Err(vpn) = p.run(steps) {
                let now = self.t();
                let d = self.dest.as_mut().expect("a destination process runs only after a hand-off");
                assert_eq!(d.fault(now, vpn), Ok(FaultStatus::Wait), "fault on {vpn}");
                self.blocked = Some(vpn);
                self.blocked_since = self.now;
            }
        }
        if let Some(vpn) = self.blocked
            && self.dst.state[vpn as usize] != PState::Absent
        {
            self.blocked = None;
            let remote = self.dest.as_ref().map_or(0, |d| d.remote_pages());
            self.fault_log.push((self.blocked_since, vpn, self.now - self.blocked_since, remote));
        }
    }

    fn deliver(&mut self) {
        let now = self.t();
        for bytes in self.s2d.deliver(self.now, &self.cuts) {
            let msg = Msg::decode(&bytes).expect("the source sends valid messages");
            match &mut self.dest {
                Some(d) if d.id() == msg.id => {
                    let _ = d.handle(now, &mut self.dst, &msg);
                }
                None if matches!(msg.body, crate::migrate::Body::Offer(_)) => {
                    let (words, ctl) = self.dst_storage.take().expect("storage");
                    self.dest = Some(Destination::new(now, &msg, self.cfg, words, ctl).unwrap());
                }
                _ => {
                    if let Some(n) = reply_unknown(&msg, &mut self.buf) {
                        let b = self.buf[..n].to_vec();
                        self.d2s.send(self.now, &b, &mut self.rng);
                    }
                }
            }
        }
        for bytes in self.d2s.deliver(self.now, &self.cuts) {
            let msg = Msg::decode(&bytes).expect("the destination sends valid messages");
            let _ = self.source.handle(now, &mut self.src, &msg);
        }
    }

    fn timers(&mut self) {
        let now = self.t();
        if self.source.poll_timeout().is_some_and(|t| t <= now) {
            self.source.handle_timeout(now, &mut self.src);
        }
        if let Some(d) = &mut self.dest
            && d.poll_timeout().is_some_and(|t| t <= now)
        {
            d.handle_timeout(now);
        }
    }

    fn transmit(&mut self) {
        let now = self.t();
        while self.s2d.can_send(self.now) {
            let Some(n) = self.source.poll_transmit(now, &mut self.src, &mut self.buf) else { break };
            let b = self.buf[..n].to_vec();
            self.s2d.send(self.now, &b, &mut self.rng);
        }
        if let Some(d) = &mut self.dest {
            while self.d2s.can_send(self.now) {
                let Some(n) = d.poll_transmit(now, &mut self.buf) else { break };
                let b = self.buf[..n].to_vec();
                self.d2s.send(self.now, &b, &mut self.rng);
            }
        }
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.source.poll_event() {
            if let Event::Throttle { percent } = e {
                self.throttle = percent;
            }
            self.events.push((self.now, false, e));
        }
        if let Some(d) = &mut self.dest {
            while let Some(e) = d.poll_event() {
                if let Event::Aborted(_) = e {
                    assert!(!self.dst.running, "an aborted destination never ran the process");
                }
                self.events.push((self.now, true, e));
            }
        }
    }

    /// One step at `self.now`: processes, messages, timers, transmissions, events, invariant.
    pub(crate) fn step(&mut self) {
        self.run_processes();
        self.deliver();
        self.timers();
        self.transmit();
        self.drain_events();
        if !self.src.running && self.stopped_at.is_none() {
            self.stopped_at = Some(self.now);
        }
        if self.dst.running && self.resumed_at.is_none() {
            self.resumed_at = Some(self.now);
        }
        assert!(!(self.src.running && self.dst.running), "process running on both nodes at {} µs", self.now);
        assert!(!self.src.running || self.source.owns_process(), "source runs what it handed off");
        assert!(!self.dst.running || !self.source.owns_process(), "destination runs what the source owns");
    }

    fn next_time(&self) -> u64 {
        let mut t = [
            self.s2d.next_at(),
            self.d2s.next_at(),
            self.source.poll_timeout().map(|t| t.as_micros()),
            self.dest.as_ref().and_then(|d| d.poll_timeout()).map(|t| t.as_micros()),
            (self.src.running || self.dst.running).then_some(self.now + TICK_US),
            (!self.s2d.can_send(self.now)).then(|| self.s2d.free_at - self.s2d.cfg.sndbuf_us),
        ];
        t.sort();
        t.into_iter().flatten().find(|&x| x > self.now).unwrap_or(self.now + TICK_US).max(self.now + 1)
    }

    /// Whether the migration is over on both sides and nothing is in flight.
    pub(crate) fn quiet(&self) -> bool {
        self.source.is_finished()
            && self.dest.as_ref().is_none_or(|d| d.is_finished())
            && self.s2d.q.is_empty()
            && self.d2s.q.is_empty()
    }

    /// Runs until quiet or until `limit_us`; returns whether it got quiet.
    pub(crate) fn run_until_quiet(&mut self, limit_us: u64) -> bool {
        while self.now < limit_us {
            self.step();
            if self.quiet() {
                return true;
            }
            self.now = self.next_time();
        }
        false
    }

    /// Runs for `us` more microseconds (the processes keep writing).
    pub(crate) fn run_for(&mut self, us: u64) {
        let end = self.now + us;
        while self.now < end {
            self.step();
            self.now = self.next_time().min(end);
        }
        self.step();
    }

    /// The process where it now lives (its absent pages filled from the source's copy),
    /// checked against a process that never moved and ran the same number of steps.
    pub(crate) fn check_memory(&self) -> Result<(), String> {
        let owner = if self.source.owns_process() { &self.src } else { &self.dst };
        let mut seen = owner.clone();
        for vpn in 0..self.layout.pages {
            if seen.state[vpn as usize] == PState::Absent {
                seen.state[vpn as usize] = self.src.state[vpn as usize];
                let i = vpn as usize * crate::migrate::PAGE_SIZE;
                seen.mem[i..i + crate::migrate::PAGE_SIZE].copy_from_slice(self.src.page(vpn));
            }
        }
        let mut reference = FakeProcess::new(self.layout);
        for &vpn in &self.src.zeroed {
            reference.zero_page(vpn);
        }
        reference.run(owner.w.step).expect("no faults without migration");
        let diff = seen.diff(&reference);
        if seen.w != reference.w || !diff.is_empty() {
            return Err(std::format!(
                "{} pages differ (first {:?}); workload {:?} vs {:?}",
                diff.len(),
                diff.first(),
                seen.w,
                reference.w
            ));
        }
        Ok(())
    }
}

pub(crate) use std::string::String;
