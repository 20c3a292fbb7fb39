//! The destination side: accepts an offer, applies the source's stream in order, prepares,
//! runs the process once the source commits, fetches remote pages on faults, and confirms.
//!
//! Invariants: the stream is applied strictly in sequence order, each message once; the
//! process is resumed only on a `Commit` received while prepared, and never before; once
//! prepared, the destination never aborts on its own (only the source's abort ends it); after
//! the commit, aborts are ignored (but one that arrives once every page is here ends the
//! migration: the source forgot it after releasing); `remote` holds exactly the pages mapped absent and not yet
//! installed, and a push installs a page only while it is in `remote` (so a late copy never
//! overwrites what the process wrote since).

mod faults;

use heapless::Deque;

use self::faults::Faults;
use super::metrics::DestMetrics;
use super::msg::{Body, ControlChunk, MAX_MSG_LEN, MapRun, MapState, Msg, Page, Prepare};
use super::process::{Migratable, PageContent, PageSet};
use super::rtt::{Repeat, Rtt};
use super::{AbortReason, Config, EVENT_CAPACITY, Error, Event, MigrationId, PAGE_SIZE, RefuseReason, Strategy};
use crate::time::{Duration, Instant};

/// Where the destination is in the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DestState {
    /// Refusing the offer (answering every repeat of it).
    Refusing(RefuseReason),
    /// Accepted; applying the stream.
    Receiving,
    /// The whole state is here; waiting for the source's decision (no timeout).
    Prepared,
    /// The process runs here; some pages are still remote.
    Running,
    /// The process runs here with every page; confirming to the source.
    Complete,
    /// The source released its copy: the migration is over.
    Finished,
    /// Abandoned: discard the process.
    Aborted(AbortReason),
}

/// What a fault on a page means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FaultStatus {
    /// The page is not remote: it is present (retry the access), or really unmapped (a fault
    /// of the guest).
    Local,
    /// The page is being fetched: block the thread until [`Event::PageArrived`] (or until
    /// [`Destination::fault`] says [`FaultStatus::Local`]).
    Wait,
}

/// The destination of one migration. Create it when an offer arrives; see the
/// [module docs](super) for how to drive it.
#[derive(Debug)]
pub struct Destination<'a> {
    id: MigrationId,
    strategy: Strategy,
    cfg: Config,
    pages: u32,
    state: DestState,
    remote: PageSet<'a>,
    control: &'a mut [u8],
    control_total: Option<u32>,
    control_got: u32,
    expected: u32,
    ack_due: bool,
    /// Accept, then Ready, then Confirm, repeated until answered.
    ctrl: Repeat,
    refuse_due: bool,
    committed_due: bool,
    abort_due: bool,
    keepalive_due: bool,
    got_stream: bool,
    faults: Faults,
    rtt: Rtt,
    last_heard: Instant,
    last_sent: Instant,
    link_down: bool,
    metrics: DestMetrics,
    events: Deque<Event, EVENT_CAPACITY>,
}

impl<'a> Destination<'a> {
    /// Words of page-bitmap storage a destination needs for `page_count` pages.
    pub const fn storage_words(page_count: u32) -> usize {
        PageSet::words_for(page_count)
    }

    /// A destination for the migration `offer` (a message with an [`Body::Offer`] body)
    /// proposes; it accepts at the next [`poll_transmit`](Self::poll_transmit), or refuses
    /// with [`RefuseReason::TooLarge`] if `storage` ([`storage_words`](Self::storage_words))
    /// is too small. `control` receives the control block (its size bounds the block
    /// accepted). Give it a fresh, stopped process with `page_count` pages, all unmapped.
    pub fn new(
        now: Instant,
        offer: &Msg<'_>,
        cfg: Config,
        storage: &'a mut [u32],
        control: &'a mut [u8],
    ) -> Result<Self, Error> {
        let Body::Offer(o) = offer.body else { return Err(Error::Unexpected) };
        let (remote, state) = if storage.len() < PageSet::words_for(o.page_count) {
            (PageSet::new(storage, 0)?, DestState::Refusing(RefuseReason::TooLarge))
        } else {
            (PageSet::new(storage, o.page_count)?, DestState::Receiving)
        };
        let mut ctrl = Repeat::default();
        if state == DestState::Receiving {
            ctrl.start(cfg.initial_rto);
        }
        Ok(Destination {
            id: offer.id,
            strategy: o.strategy,
            cfg,
            pages: o.page_count,
            state,
            remote,
            control,
            control_total: None,
            control_got: 0,
            expected: 1,
            ack_due: false,
            ctrl,
            refuse_due: state != DestState::Receiving,
            committed_due: false,
            abort_due: false,
            keepalive_due: false,
            got_stream: false,
            faults: Faults::default(),
            rtt: Rtt::new(&cfg),
            last_heard: now,
            last_sent: now,
            link_down: false,
            metrics: DestMetrics::default(),
            events: Deque::new(),
        })
    }

    /// The migration's id.
    pub fn id(&self) -> MigrationId {
        self.id
    }

    /// The strategy the source chose.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Where the migration is.
    pub fn state(&self) -> DestState {
        self.state
    }

    /// Whether the process belongs to this node (it was resumed here).
    pub fn owns_process(&self) -> bool {
        matches!(self.state, DestState::Running | DestState::Complete | DestState::Finished)
    }

    /// Whether the state machine may be dropped: finished, refused or aborted.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, DestState::Finished | DestState::Refusing(_) | DestState::Aborted(_))
    }

    /// Pages still remote.
    pub fn remote_pages(&self) -> u32 {
        self.remote.len()
    }

    /// The figures so far.
    pub fn metrics(&self) -> &DestMetrics {
        &self.metrics
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn event(&mut self, e: Event) {
        super::push_event(&mut self.events, e);
    }

    /// Abandons the migration (discard the process). Only before the destination is prepared:
    /// afterwards only the source decides ([`Error::Committed`]).
    pub fn abort(&mut self, _now: Instant) -> Result<(), Error> {
        match self.state {
            DestState::Receiving => {
                self.aborted(AbortReason::Local, true);
                Ok(())
            }
            DestState::Refusing(_) | DestState::Aborted(_) => Ok(()),
            _ => Err(Error::Committed),
        }
    }

    fn aborted(&mut self, reason: AbortReason, tell: bool) {
        self.state = DestState::Aborted(reason);
        self.abort_due = tell;
        self.ctrl.stop();
        self.faults.clear();
        self.event(Event::Aborted(reason));
    }

    /// A thread of the running process touched page `vpn`, which is absent. Returns whether to
    /// block it; the page is then requested ahead of everything else (one request per page,
    /// however many threads wait on it, repeated until it arrives).
    pub fn fault(&mut self, now: Instant, vpn: u32) -> Result<FaultStatus, Error> {
        if !self.remote.contains(vpn) {
            return Ok(FaultStatus::Local);
        }
        if self.state != DestState::Running {
            return Err(Error::Unexpected);
        }
        self.faults.add(now, vpn)?;
        self.metrics.remote_faults += 1;
        Ok(FaultStatus::Wait)
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
        match self.state {
            DestState::Refusing(_) => {
                self.refuse_due |= matches!(msg.body, Body::Offer(_));
                return Ok(());
            }
            DestState::Aborted(_) => {
                self.abort_due |= !matches!(msg.body, Body::Abort(_) | Body::Finish);
                return Ok(());
            }
            _ => {}
        }
        match msg.body {
            Body::Offer(_) => {
                if self.state == DestState::Receiving && !self.got_stream {
                    self.ctrl.due = true;
                }
            }
            _ if msg.body.is_stream() => return self.on_stream(now, proc, msg),
            Body::Commit => self.on_commit(now, proc)?,
            Body::Abort(_) => match self.state {
                DestState::Receiving | DestState::Prepared => self.aborted(AbortReason::Peer, false),
                // Every page is here: a source that no longer knows the migration released it.
                DestState::Complete => self.finish(),
                _ => {}
            },
            Body::Finish => {
                if self.state == DestState::Complete {
                    self.finish();
                }
            }
            Body::Ack => {}
            _ => return Err(Error::Unexpected),
        }
        Ok(())
    }

    fn on_stream<P: Migratable>(&mut self, now: Instant, proc: &mut P, msg: &Msg<'_>) -> Result<(), Error> {
        if !self.got_stream && self.state == DestState::Receiving {
            self.ctrl.stop();
        }
        self.got_stream = true;
        self.ack_due = true;
        if msg.seq != self.expected {
            self.metrics.dropped += 1;
            return Ok(());
        }
        match self.apply(now, proc, &msg.body) {
            Ok(()) => {
                self.expected = self.expected.saturating_add(1);
                Ok(())
            }
            Err(e) => {
                if self.state == DestState::Receiving {
                    let reason = if let Error::Process(_) = e { AbortReason::Process } else { AbortReason::Protocol };
                    self.aborted(reason, true);
                }
                Err(e)
            }
        }
    }

    fn apply<P: Migratable>(&mut self, now: Instant, proc: &mut P, body: &Body<'_>) -> Result<(), Error> {
        let receiving = self.state == DestState::Receiving;
        match body {
            Body::Round(r) if receiving => {
                self.metrics.rounds = self.metrics.rounds.max(r.round.saturating_add(1));
                Ok(())
            }
            Body::Page(p) if receiving => self.install(proc, p),
            Body::Map(run) if receiving => self.apply_map(proc, run),
            Body::Control(c) if receiving => self.take_control(c),
            Body::Prepare(p) if receiving => self.prepare(proc, p),
            Body::Push(p) if matches!(self.state, DestState::Prepared | DestState::Running | DestState::Complete) => {
                if p.vpn >= self.pages {
                    return Err(Error::Protocol);
                }
                if self.remote.contains(p.vpn) {
                    self.install(proc, p)?;
                    self.remote.remove(p.vpn);
                    if let Some(wait) = self.faults.resolve(now, p.vpn, &mut self.rtt) {
                        self.metrics.fault_wait = self.metrics.fault_wait + wait;
                    }
                    self.event(Event::PageArrived { vpn: p.vpn });
                    if self.remote.is_empty() && self.state == DestState::Running {
                        self.complete();
                    }
                }
                Ok(())
            }
            _ => Err(Error::Protocol),
        }
    }

    fn install<P: Migratable>(&mut self, proc: &mut P, p: &Page<'_>) -> Result<(), Error> {
        if p.vpn >= self.pages {
            return Err(Error::Protocol);
        }
        let content = match p.content {
            super::msg::Content::Zero => PageContent::Zero,
            super::msg::Content::Data(b) => {
                let data: &[u8; PAGE_SIZE] = b.0.try_into().map_err(|_| Error::Protocol)?;
                self.metrics.pages_installed += 1;
                PageContent::Data(data)
            }
        };
        proc.install_page(p.vpn, content)?;
        Ok(())
    }

    fn apply_map<P: Migratable>(&mut self, proc: &mut P, run: &MapRun) -> Result<(), Error> {
        let end = run.first.checked_add(run.count).filter(|&e| e <= self.pages).ok_or(Error::Protocol)?;
        if run.state == MapState::Remote && !self.strategy.is_post_copy() {
            return Err(Error::Protocol);
        }
        for vpn in run.first..end {
            match run.state {
                MapState::Zero => proc.install_page(vpn, PageContent::Zero)?,
                MapState::Unmapped => proc.install_page(vpn, PageContent::Unmapped)?,
                MapState::Remote => {
                    proc.mark_absent(vpn)?;
                    self.remote.insert(vpn);
                }
            }
            if run.state != MapState::Remote {
                self.remote.remove(vpn);
            }
        }
        Ok(())
    }

    fn take_control(&mut self, c: &ControlChunk<'_>) -> Result<(), Error> {
        if self.control_total.is_some_and(|t| t != c.total) || c.offset != self.control_got {
            return Err(Error::Protocol);
        }
        if c.total as usize > self.control.len() {
            return Err(Error::StorageTooSmall);
        }
        // Msg::decode checked offset + len <= total.
        let end = c.offset as usize + c.bytes.0.len();
        let dst = self.control.get_mut(c.offset as usize..end).ok_or(Error::Protocol)?;
        dst.copy_from_slice(c.bytes.0);
        self.control_total = Some(c.total);
        self.control_got = end as u32;
        Ok(())
    }

    fn prepare<P: Migratable>(&mut self, proc: &mut P, p: &Prepare) -> Result<(), Error> {
        if self.control_got != p.control_len
            || self.control_total.unwrap_or(0) != p.control_len
            || self.remote.len() != p.remote
        {
            return Err(Error::Protocol);
        }
        let control = self.control.get(..p.control_len as usize).ok_or(Error::Protocol)?;
        proc.load_control(control)?;
        self.state = DestState::Prepared;
        self.ctrl.start(self.rtt.rto());
        self.event(Event::Prepared);
        Ok(())
    }

    fn on_commit<P: Migratable>(&mut self, _now: Instant, proc: &mut P) -> Result<(), Error> {
        match self.state {
            DestState::Prepared => {
                proc.resume();
                self.state = DestState::Running;
                self.ctrl.stop();
                self.committed_due = true;
                self.event(Event::Resumed);
                if self.remote.is_empty() {
                    self.complete();
                }
                Ok(())
            }
            DestState::Running | DestState::Complete | DestState::Finished => {
                self.committed_due = true;
                Ok(())
            }
            _ => Err(Error::Protocol),
        }
    }

    fn complete(&mut self) {
        self.state = DestState::Complete;
        self.ctrl.start(self.rtt.rto());
        self.event(Event::Complete);
    }

    fn finish(&mut self) {
        self.state = DestState::Finished;
        self.ctrl.stop();
        self.event(Event::Finished);
    }

    fn msg<'b>(&self, body: Body<'b>) -> Msg<'b> {
        Msg { id: self.id, seq: 0, ack: self.expected, body }
    }

    /// Produces the next message to send into `buf` (at least [`MAX_MSG_LEN`] bytes), or
    /// `None`. Call it until it returns `None` after every other call.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < MAX_MSG_LEN {
            return None;
        }
        let body = self.next_body(now)?;
        let n = self.msg(body).encode(buf).ok()?;
        self.ack_due = false;
        self.keepalive_due = false;
        self.last_sent = now;
        self.metrics.bytes_sent += n as u64;
        Some(n)
    }

    fn next_body(&mut self, now: Instant) -> Option<Body<'static>> {
        if self.abort_due {
            self.abort_due = false;
            let reason = if let DestState::Aborted(r) = self.state { r } else { AbortReason::Local };
            return Some(Body::Abort(reason));
        }
        if self.refuse_due {
            self.refuse_due = false;
            if let DestState::Refusing(r) = self.state {
                return Some(Body::Refuse(r));
            }
        }
        if self.committed_due {
            self.committed_due = false;
            return Some(Body::Committed);
        }
        if self.ctrl.due {
            let body = match self.state {
                DestState::Receiving => Body::Accept,
                DestState::Prepared => Body::Ready,
                DestState::Complete => Body::Confirm(super::msg::Confirm {
                    faults: self.metrics.remote_faults,
                    fault_wait_us: self.metrics.fault_wait.as_micros(),
                }),
                _ => Body::Ack,
            };
            self.ctrl.sent(now, self.cfg.max_rto);
            return Some(body);
        }
        if let Some(vpn) = self.faults.due(now, &self.rtt) {
            return Some(Body::Request(vpn));
        }
        if self.ack_due || self.keepalive_due {
            return Some(Body::Ack);
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
        let link = (!self.link_down).then(|| self.last_heard + self.cfg.link_timeout);
        [self.ctrl.at, self.faults.next_deadline(), link, Some(self.last_sent + self.keepalive())]
            .into_iter()
            .flatten()
            .min()
    }

    /// Acts on the timers that expired by `now`: repeated messages and requests, keep-alives,
    /// and the link timeout (which aborts only before the destination is prepared).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_finished() {
            return;
        }
        self.ctrl.on_timeout(now);
        if !self.link_down && now >= self.last_heard + self.cfg.link_timeout {
            if self.state == DestState::Receiving {
                self.aborted(AbortReason::LinkTimeout, true);
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
