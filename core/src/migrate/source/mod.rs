//! The source side: offers the migration, copies pages by the strategy's plan, decides the
//! hand-off, and serves post-copy requests until the destination confirms.
//!
//! Invariants: the process is stopped exactly while the state is [`SourceState::Stopped`],
//! [`SourceState::Committed`] or [`SourceState::Released`] (an abort from `Stopped` resumes it);
//! the source commits only on a `Ready` that acknowledges its `Prepare`, and after the commit
//! never resumes the process nor obeys an abort; in post-copy, `set` holds exactly the remote
//! pages not yet pushed. See the module docs of [`migrate`](super) for the whole protocol.

mod plan;

use heapless::Deque;

use super::metrics::{Metrics, StopReason};
use super::msg::{Body, MAX_MSG_LEN, MAX_PAGES, Msg, Offer, Round};
use super::process::{Migratable, PageKind, PageSet};
use super::rtt::{Repeat, Rtt};
use super::window::Window;
use super::{AbortReason, Config, EVENT_CAPACITY, Error, Event, MigrationId, PAGE_SIZE, RefuseReason, Strategy};
use crate::time::{Duration, Instant};

/// Page requests the source queues ahead of the background push.
const FAULT_QUEUE: usize = 32;

/// Where the source is in the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SourceState {
    /// The offer is out; the process runs.
    Offering,
    /// Post-copy: recording the working set; the process runs.
    WorkingSet,
    /// Pre-copy or hybrid: copying while the process runs.
    Copying,
    /// The process is stopped; the rest of the state is going out, or waiting for `Ready`.
    Stopped,
    /// Handed off: the destination runs the process; serving pages until it confirms.
    Committed,
    /// The destination has everything; the source's copy may go.
    Released,
    /// The destination refused; the process runs here, never stopped.
    Refused(RefuseReason),
    /// Abandoned; the process runs here.
    Aborted(AbortReason),
}

/// What the plan sends next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing yet (offering, recording the working set).
    Idle,
    /// A round's marker, then the round (full: every mapped page, else the pages in `set`).
    Mark(Round, bool),
    Round {
        full: bool,
        stopped: bool,
    },
    Control,
    /// The post-copy map (full: of every mapped page, else of the pages in `set`).
    Map {
        full: bool,
    },
    Prepare,
    Push,
    Done,
}

/// The source of one migration. See the [module docs](super) for how to drive it.
#[derive(Debug)]
pub struct Source<'a> {
    id: MigrationId,
    strategy: Strategy,
    cfg: Config,
    pages: u32,
    mapped: u32,
    state: SourceState,
    plan: Step,
    cursor: u32,
    /// Pages of the current round; in post-copy, the remote pages not yet pushed.
    set: PageSet<'a>,
    /// Post-copy: the working set not yet pushed.
    ws: PageSet<'a>,
    control: &'a mut [u8],
    control_len: u32,
    remote_total: u32,
    prepare_seq: u32,
    page: [u8; PAGE_SIZE],
    window: Window,
    faults: Deque<u32, FAULT_QUEUE>,
    push_cursor: u32,
    /// The offer, then the commit, repeated until answered.
    ctrl: Repeat,
    finish_due: bool,
    abort_due: bool,
    keepalive_due: bool,
    last_heard: Instant,
    last_sent: Instant,
    link_down: bool,
    ws_until: Option<Instant>,
    commit_acked: bool,
    started: Instant,
    stopped_at: Option<Instant>,
    committed_at: Option<Instant>,
    bw_mark: (Instant, u64),
    acked_bytes: u64,
    round_started: Instant,
    prev_dirty: Option<u32>,
    throttle: u8,
    metrics: Metrics,
    events: Deque<Event, EVENT_CAPACITY>,
}

impl<'a> Source<'a> {
    /// Words of page-bitmap storage [`Source::new`] needs for a process of `page_count` pages.
    pub const fn storage_words(page_count: u32) -> usize {
        2 * PageSet::words_for(page_count)
    }

    /// Starts migrating `proc` (running) by `strategy`: the offer goes out at the next
    /// [`poll_transmit`](Self::poll_transmit). `storage` holds the page bitmaps
    /// ([`storage_words`](Self::storage_words)); `control` must hold the serialized control
    /// block. [`Error::StorageTooSmall`] if `storage` is too short or the process has more
    /// than [`MAX_PAGES`] pages.
    pub fn new<P: Migratable>(
        now: Instant,
        id: MigrationId,
        strategy: Strategy,
        cfg: Config,
        proc: &P,
        storage: &'a mut [u32],
        control: &'a mut [u8],
    ) -> Result<Self, Error> {
        let pages = proc.page_count();
        if pages > MAX_PAGES {
            return Err(Error::StorageTooSmall);
        }
        let words = PageSet::words_for(pages);
        if storage.len() < 2 * words {
            return Err(Error::StorageTooSmall);
        }
        let (a, b) = storage.split_at_mut(words);
        let mapped = (0..pages).filter(|&v| proc.page_kind(v) != PageKind::Unmapped).count() as u32;
        let mut ctrl = Repeat::default();
        ctrl.start(cfg.initial_rto);
        Ok(Source {
            id,
            strategy,
            cfg,
            pages,
            mapped,
            state: SourceState::Offering,
            plan: Step::Idle,
            cursor: 0,
            set: PageSet::new(a, pages)?,
            ws: PageSet::new(b, pages)?,
            control,
            control_len: 0,
            remote_total: 0,
            prepare_seq: 0,
            page: [0; PAGE_SIZE],
            window: Window::new(Rtt::new(&cfg)),
            faults: Deque::new(),
            push_cursor: 0,
            ctrl,
            finish_due: false,
            abort_due: false,
            keepalive_due: false,
            last_heard: now,
            last_sent: now,
            link_down: false,
            ws_until: None,
            commit_acked: false,
            started: now,
            stopped_at: None,
            committed_at: None,
            bw_mark: (now, 0),
            acked_bytes: 0,
            round_started: now,
            prev_dirty: None,
            throttle: 100,
            metrics: Metrics::new(strategy),
            events: Deque::new(),
        })
    }

    /// The migration's id.
    pub fn id(&self) -> MigrationId {
        self.id
    }

    /// Where the migration is.
    pub fn state(&self) -> SourceState {
        self.state
    }

    /// Whether the process belongs to this node (it runs, or will run again after the
    /// migration stopped it): before the commit, and after an abort or refusal.
    pub fn owns_process(&self) -> bool {
        !matches!(self.state, SourceState::Committed | SourceState::Released)
    }

    /// Whether the migration is over (released, refused or aborted): drop the state machine
    /// (keep answering its id with [`reply_unknown`](super::msg::reply_unknown)).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, SourceState::Released | SourceState::Refused(_) | SourceState::Aborted(_))
    }

    /// The figures so far (final once [`is_finished`](Self::is_finished)).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn event(&mut self, e: Event) {
        super::push_event(&mut self.events, e);
    }

    /// Abandons the migration and resumes the process if it was stopped. Allowed until the
    /// commit ([`Error::Committed`] after it); a no-op once refused or aborted. Call it when
    /// the process exits or the node wants it back.
    pub fn abort<P: Migratable>(&mut self, now: Instant, proc: &mut P) -> Result<(), Error> {
        match self.state {
            SourceState::Committed | SourceState::Released => Err(Error::Committed),
            SourceState::Refused(_) | SourceState::Aborted(_) => Ok(()),
            _ => {
                self.abort_now(now, proc, AbortReason::Local, true);
                Ok(())
            }
        }
    }

    fn abort_now<P: Migratable>(&mut self, now: Instant, proc: &mut P, reason: AbortReason, tell: bool) {
        if let Some(at) = self.stopped_at {
            proc.resume();
            self.metrics.downtime = now - at;
        }
        if self.throttle < 100 {
            self.throttle = 100;
            self.event(Event::Throttle { percent: 100 });
        }
        self.state = SourceState::Aborted(reason);
        self.abort_due = tell;
        self.ctrl.stop();
        self.plan = Step::Done;
        self.metrics.total = now - self.started;
        self.event(Event::Aborted(reason));
    }

    /// Takes one message for this migration (decoded with [`Msg::decode`]).
    pub fn handle<P: Migratable>(&mut self, now: Instant, proc: &mut P, msg: &Msg<'_>) -> Result<(), Error> {
        if msg.id != self.id {
            return Err(Error::WrongMigration);
        }
        self.metrics.bytes_received += msg.encoded_len() as u64;
        self.last_heard = now;
        if self.link_down {
            self.link_down = false;
            self.event(Event::LinkUp);
        }
        if let SourceState::Refused(_) | SourceState::Aborted(_) = self.state {
            self.abort_due |= !matches!(msg.body, Body::Abort(_) | Body::Refuse(_));
            return Ok(());
        }
        let acked = self.window.on_ack(now, msg.ack, msg.body == Body::Ack);
        if acked.messages > 0 {
            self.acked_bytes += acked.bytes;
            self.metrics.rtt = self.window.rtt.srtt();
            if self.state == SourceState::Copying {
                self.sample_bandwidth(now);
            }
        }
        match msg.body {
            Body::Accept if self.state == SourceState::Offering => self.on_accept(now, proc),
            Body::Refuse(r) if self.state == SourceState::Offering => {
                self.state = SourceState::Refused(r);
                self.ctrl.stop();
                self.metrics.total = now - self.started;
                self.event(Event::Refused(r));
            }
            Body::Accept | Body::Refuse(_) | Body::Ack => {}
            Body::Ready => match self.state {
                SourceState::Stopped
                    if self.plan == Step::Done && self.prepare_seq != 0 && msg.ack > self.prepare_seq =>
                {
                    self.commit(now)
                }
                // The destination has not heard the decision yet: tell it now.
                SourceState::Committed => self.ctrl.due = true,
                SourceState::Released => {}
                _ => return Err(Error::Unexpected),
            },
            Body::Committed if self.state == SourceState::Committed => self.on_committed(now),
            Body::Request(vpn) if self.state == SourceState::Committed => {
                self.on_committed(now);
                if self.set.contains(vpn) && !self.faults.iter().any(|&v| v == vpn) {
                    let _ = self.faults.push_back(vpn);
                }
                self.push_cursor = vpn.saturating_add(1);
            }
            Body::Confirm(c) => match self.state {
                // Every remote page was pushed (the confirmation acknowledges the last ones).
                SourceState::Committed if self.set.is_empty() => {
                    self.on_committed(now);
                    self.state = SourceState::Released;
                    self.plan = Step::Done;
                    self.finish_due = true;
                    self.metrics.remote_faults = c.faults;
                    self.metrics.fault_wait = Duration::from_micros(c.fault_wait_us);
                    self.metrics.total = now - self.started;
                    self.event(Event::Released);
                }
                SourceState::Released => self.finish_due = true,
                _ => return Err(Error::Protocol),
            },
            Body::Abort(r) => match self.state {
                // The destination no longer knows the migration. After its `Ready` only a
                // destination that finished (its confirmation lost on the way) or one that
                // crashed forgets: either way no page is wanted any more, and the process is
                // never resumed here.
                SourceState::Committed if r == AbortReason::Unknown => {
                    self.state = SourceState::Released;
                    self.plan = Step::Done;
                    self.metrics.total = now - self.started;
                    self.event(Event::Released);
                }
                SourceState::Committed | SourceState::Released => {}
                _ => self.abort_now(now, proc, AbortReason::Peer, false),
            },
            Body::Committed | Body::Request(_) => {}
            _ => return Err(Error::Unexpected),
        }
        Ok(())
    }

    fn on_accept<P: Migratable>(&mut self, now: Instant, proc: &mut P) {
        self.ctrl.stop();
        self.event(Event::Accepted);
        self.bw_mark = (now, self.acked_bytes);
        // Start dirty tracking: what was written before does not matter.
        proc.take_dirty(&mut self.set);
        self.set.clear();
        match self.strategy {
            Strategy::StopAndCopy => {
                self.metrics.stop_reason = Some(StopReason::Immediate);
                if self.stop(now, proc) {
                    self.begin_round(now, true, true);
                }
            }
            Strategy::PreCopy | Strategy::Hybrid => {
                self.state = SourceState::Copying;
                self.begin_round(now, true, false);
            }
            Strategy::PostCopy => {
                self.metrics.stop_reason = Some(StopReason::Immediate);
                self.state = SourceState::WorkingSet;
                self.ws_until = Some(now + self.cfg.ws_window);
                if self.cfg.ws_window == Duration::ZERO {
                    self.stop_for_post_copy(now, proc);
                }
            }
        }
    }

    /// Stops the process and saves its control block; false (and aborted) if that fails.
    fn stop<P: Migratable>(&mut self, now: Instant, proc: &mut P) -> bool {
        proc.stop();
        self.stopped_at = Some(now);
        self.state = SourceState::Stopped;
        self.event(Event::Stopped);
        match proc.save_control(self.control) {
            Ok(len) if len <= self.control.len() && len <= super::msg::MAX_CONTROL_LEN as usize => {
                self.control_len = len as u32;
                true
            }
            _ => {
                self.abort_now(now, proc, AbortReason::Process, true);
                false
            }
        }
    }

    fn commit(&mut self, now: Instant) {
        self.state = SourceState::Committed;
        self.committed_at = Some(now);
        self.ctrl.start(self.window.rtt.rto());
        self.plan = if self.strategy.is_post_copy() { Step::Push } else { Step::Done };
        self.event(Event::HandedOff);
    }

    /// The destination runs the process: the downtime ends (estimated half a round trip ago).
    fn on_committed(&mut self, now: Instant) {
        if self.commit_acked {
            return;
        }
        self.commit_acked = true;
        self.ctrl.stop();
        if let (Some(stop), Some(commit)) = (self.stopped_at, self.committed_at) {
            let half_rtt = self.window.rtt.srtt().as_micros() / 2;
            let resumed = now.as_micros().saturating_sub(half_rtt).max(commit.as_micros());
            self.metrics.downtime = Instant::from_micros(resumed) - stop;
        }
    }

    fn sample_bandwidth(&mut self, now: Instant) {
        let (t0, b0) = self.bw_mark;
        let dt = (now - t0).as_micros();
        if dt < (2 * self.window.rtt.srtt().as_micros()).max(1000) {
            return;
        }
        let sample = (u128::from(self.acked_bytes - b0) * 1_000_000 / u128::from(dt)) as u64;
        let bw = self.metrics.bandwidth;
        self.metrics.bandwidth = if bw == 0 { sample } else { (bw + sample) / 2 };
        self.bw_mark = (now, self.acked_bytes);
    }

    /// Produces the next message to send into `buf` (at least [`MAX_MSG_LEN`] bytes), or
    /// `None` when there is nothing to send now. Call it until it returns `None` after every
    /// other call.
    pub fn poll_transmit<P: Migratable>(&mut self, now: Instant, proc: &mut P, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < MAX_MSG_LEN {
            return None;
        }
        // A step of the plan may abort (and so owe the peer an abort): look twice.
        let n = self.transmit(now, proc, buf).or_else(|| self.transmit(now, proc, buf))?;
        self.last_sent = now;
        self.keepalive_due = false;
        self.metrics.bytes_sent += n as u64;
        self.metrics.messages_sent += 1;
        Some(n)
    }

    fn control_msg(&self, body: Body<'_>, buf: &mut [u8]) -> Option<usize> {
        Msg { id: self.id, seq: 0, ack: 0, body }.encode(buf).ok()
    }

    fn transmit<P: Migratable>(&mut self, now: Instant, proc: &mut P, buf: &mut [u8]) -> Option<usize> {
        if self.abort_due {
            self.abort_due = false;
            let reason = match self.state {
                SourceState::Aborted(r) => r,
                _ => AbortReason::Local,
            };
            return self.control_msg(Body::Abort(reason), buf);
        }
        if self.ctrl.due {
            let body = match self.state {
                SourceState::Offering => {
                    Body::Offer(Offer { strategy: self.strategy, page_count: self.pages, mapped: self.mapped })
                }
                SourceState::Committed => Body::Commit,
                _ => Body::Ack,
            };
            self.ctrl.sent(now, self.cfg.max_rto);
            return self.control_msg(body, buf);
        }
        if self.finish_due {
            self.finish_due = false;
            return self.control_msg(Body::Finish, buf);
        }
        if matches!(self.state, SourceState::Copying | SourceState::Stopped | SourceState::Committed)
            && let Some(n) = self.transmit_stream(now, proc, buf)
        {
            return Some(n);
        }
        if self.keepalive_due {
            return self.control_msg(Body::Ack, buf);
        }
        None
    }

    fn keepalive(&self) -> Duration {
        Duration::from_micros(self.cfg.link_timeout.as_micros() / 4)
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        let mut t = [self.ctrl.at, self.window.poll_timeout(), Some(self.last_sent + self.keepalive()), None, None];
        if self.state == SourceState::WorkingSet {
            t[3] = self.ws_until;
        }
        if !self.link_down {
            t[4] = Some(self.last_heard + self.cfg.link_timeout);
        }
        t.into_iter().flatten().min()
    }

    /// Acts on the timers that expired by `now`: retransmissions, the end of the working-set
    /// window, keep-alives, and the link timeout (which aborts before the commit).
    pub fn handle_timeout<P: Migratable>(&mut self, now: Instant, proc: &mut P) {
        if self.is_finished() {
            return;
        }
        if self.state == SourceState::WorkingSet && self.ws_until.is_some_and(|t| t <= now) {
            self.stop_for_post_copy(now, proc);
        }
        self.window.on_timeout(now);
        self.ctrl.on_timeout(now);
        if !self.link_down && now >= self.last_heard + self.cfg.link_timeout {
            if self.owns_process() {
                self.abort_now(now, proc, AbortReason::LinkTimeout, true);
                return;
            }
            self.link_down = true;
            self.event(Event::LinkDown);
        }
        if now >= self.last_sent + self.keepalive() {
            self.keepalive_due = true;
        }
    }
}
