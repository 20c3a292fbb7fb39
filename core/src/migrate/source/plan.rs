//! What the source sends, in order: rounds of pages, the control block, the post-copy map,
//! `Prepare`, and post-copy pushes; the pre-copy stopping rule; encoding an item.
//!
//! A round walks the pages in page order: data pages go as [`Body::Page`] (or as a zero page
//! when their bytes are all zero), runs of known-zero or unmapped pages as one [`Body::Map`].
//! A full round walks every page and skips unmapped ones (the destination starts empty);
//! other rounds walk `set` (the dirty pages) and also announce pages unmapped since.

use super::super::msg::MAX_MSG_LEN;
use super::super::msg::{Bytes, CONTROL_CHUNK, Content, ControlChunk, MapRun, MapState, Page, Prepare, Round};
use super::super::process::{Migratable, PageKind};
use super::super::window::Item;
use super::super::{Body, Event, Msg, PAGE_SIZE, StopReason, Strategy};
use super::Step;
use crate::time::Instant;

/// Lowest throttle percentage the source asks for.
const MIN_THROTTLE: u8 = 5;
/// Faulted pages may exceed the push window by this many messages.
const FAULT_ALLOWANCE: u32 = 8;

impl super::Source<'_> {
    pub(super) fn begin_round(&mut self, now: Instant, full: bool, stopped: bool) {
        self.round_started = now;
        let pages = if full { self.mapped } else { self.set.len() };
        let r = Round { round: self.metrics.rounds, pages, stopped };
        self.plan = Step::Mark(r, full);
        self.cursor = 0;
        self.event(Event::Round { round: r.round, pages });
    }

    /// Stops the process for post-copy or hybrid and sets up the remote set.
    pub(super) fn stop_for_post_copy<P: Migratable>(&mut self, now: Instant, proc: &mut P) {
        if !self.stop(now, proc) {
            return;
        }
        if self.strategy == Strategy::PostCopy {
            self.ws.clear();
            proc.take_dirty(&mut self.ws);
            self.set.clear();
        } else {
            proc.take_dirty(&mut self.set);
        }
        self.plan = Step::Control;
        self.cursor = 0;
    }

    /// Sends the pending retransmission or a new stream item, if the window allows.
    pub(super) fn transmit_stream<P: Migratable>(
        &mut self,
        now: Instant,
        proc: &mut P,
        buf: &mut [u8],
    ) -> Option<usize> {
        if self.window.pending().is_none() {
            let reserve = MAX_MSG_LEN as u32;
            let fault_limit = self.cfg.push_window_bytes.saturating_add(FAULT_ALLOWANCE * reserve);
            let item =
                if self.plan == Step::Push && !self.faults.is_empty() && self.window.has_room(fault_limit, reserve) {
                    self.next_fault().map(Item::Push).or_else(|| self.next_item(now, proc))?
                } else {
                    let limit =
                        if self.plan == Step::Push { self.cfg.push_window_bytes } else { self.cfg.window_bytes };
                    if !self.window.has_room(limit, reserve) {
                        return None;
                    }
                    self.next_item(now, proc)?
                };
            let seq = self.window.push(item)?;
            if item == Item::Prepare {
                self.prepare_seq = seq;
            }
        }
        let (seq, item) = self.window.pending()?;
        let n = self.encode_item(seq, item, proc, buf)?;
        if self.window.sent(now, n) {
            self.metrics.messages_resent += 1;
        }
        Some(n)
    }

    fn next_item<P: Migratable>(&mut self, now: Instant, proc: &mut P) -> Option<Item> {
        loop {
            match self.plan {
                Step::Idle | Step::Done => return None,
                Step::Mark(r, full) => {
                    self.plan = Step::Round { full, stopped: r.stopped };
                    return Some(Item::Round(r));
                }
                Step::Round { full, stopped } => {
                    if !stopped && self.over_byte_limit() {
                        // Stop at once: what this round has not sent yet is (or, for the full
                        // round, joins) `set` and goes in the stopped round.
                        if full {
                            for vpn in self.cursor..self.pages {
                                if proc.page_kind(vpn) != PageKind::Unmapped {
                                    self.set.insert(vpn);
                                }
                            }
                        }
                        self.metrics.rounds += 1;
                        self.stop_precopy(now, proc, StopReason::ByteLimit);
                        continue;
                    }
                    if let Some(item) = self.next_round_item(proc, full) {
                        return Some(item);
                    }
                    self.end_round(now, proc, stopped);
                }
                Step::Control => {
                    if self.cursor < self.control_len.div_ceil(CONTROL_CHUNK as u32) {
                        self.cursor += 1;
                        return Some(Item::Control(self.cursor - 1));
                    }
                    self.cursor = 0;
                    self.plan = match self.strategy {
                        Strategy::PostCopy => Step::Map { full: true },
                        Strategy::Hybrid => Step::Map { full: false },
                        _ => Step::Prepare,
                    };
                }
                Step::Map { full } => {
                    if let Some(run) = self.next_map_run(proc, full) {
                        return Some(Item::Map(run));
                    }
                    self.plan = Step::Prepare;
                }
                Step::Prepare => {
                    self.remote_total = if self.strategy.is_post_copy() { self.set.len() } else { 0 };
                    self.plan = Step::Done;
                    return Some(Item::Prepare);
                }
                Step::Push => {
                    let next = self.next_push();
                    if next.is_none() {
                        self.plan = Step::Done;
                    }
                    return next.map(Item::Push);
                }
            }
        }
    }

    /// The next page (or run) of the current round, taking it out of `set`.
    fn next_round_item<P: Migratable>(&mut self, proc: &P, full: bool) -> Option<Item> {
        loop {
            let vpn = if full {
                (self.cursor < self.pages).then_some(self.cursor)?
            } else {
                self.set.next_from(self.cursor)?
            };
            let kind = proc.page_kind(vpn);
            if kind == PageKind::Data {
                self.set.remove(vpn);
                self.cursor = vpn + 1;
                return Some(Item::Page(vpn));
            }
            if full && kind == PageKind::Unmapped {
                self.cursor = vpn + 1;
                continue;
            }
            let state = if kind == PageKind::Zero { MapState::Zero } else { MapState::Unmapped };
            let count = self.run(proc, vpn, kind, full, true);
            self.cursor = vpn + count;
            return Some(Item::Map(MapRun { first: vpn, count, state }));
        }
    }

    /// Length of the run of pages of `kind` from `vpn` (every page if `full`, else members of
    /// `set`), taking them out of `set` if `take`.
    fn run<P: Migratable>(&mut self, proc: &P, vpn: u32, kind: PageKind, full: bool, take: bool) -> u32 {
        let mut count = 0;
        while let Some(v) = vpn.checked_add(count)
            && v < self.pages
            && (full || self.set.contains(v))
            && proc.page_kind(v) == kind
        {
            if take {
                self.set.remove(v);
            }
            count += 1;
        }
        count
    }

    /// The next run of the post-copy map. Full: every mapped page (data pages become remote
    /// and join `set`); otherwise the members of `set` (data pages stay in it as remote).
    fn next_map_run<P: Migratable>(&mut self, proc: &P, full: bool) -> Option<MapRun> {
        loop {
            let vpn = if full {
                (self.cursor < self.pages).then_some(self.cursor)?
            } else {
                self.set.next_from(self.cursor)?
            };
            let kind = proc.page_kind(vpn);
            if full && kind == PageKind::Unmapped {
                self.cursor = vpn + 1;
                continue;
            }
            let state = match kind {
                PageKind::Data => MapState::Remote,
                PageKind::Zero => MapState::Zero,
                PageKind::Unmapped => MapState::Unmapped,
            };
            let count = self.run(proc, vpn, kind, full, state != MapState::Remote);
            if full && state == MapState::Remote {
                for v in vpn..vpn + count {
                    self.set.insert(v);
                }
            }
            self.cursor = vpn + count;
            return Some(MapRun { first: vpn, count, state });
        }
    }

    fn next_fault(&mut self) -> Option<u32> {
        while let Some(v) = self.faults.pop_front() {
            if self.set.remove(v) {
                self.ws.remove(v);
                return Some(v);
            }
        }
        None
    }

    /// The next background push: the working set, then every other remote page, in page
    /// order from just after the most recent fault.
    fn next_push(&mut self) -> Option<u32> {
        while let Some(v) = self.ws.next_wrapping(self.push_cursor) {
            self.ws.remove(v);
            if self.set.remove(v) {
                self.push_cursor = v + 1;
                return Some(v);
            }
        }
        let v = self.set.next_wrapping(self.push_cursor)?;
        self.set.remove(v);
        self.push_cursor = v + 1;
        Some(v)
    }

    fn end_round<P: Migratable>(&mut self, now: Instant, proc: &mut P, stopped: bool) {
        self.metrics.rounds += 1;
        if stopped {
            self.plan = Step::Control;
            self.cursor = 0;
            return;
        }
        if self.strategy == Strategy::Hybrid {
            self.metrics.stop_reason = Some(StopReason::PassDone);
            self.stop_for_post_copy(now, proc);
            return;
        }
        self.sample_bandwidth(now);
        proc.take_dirty(&mut self.set);
        let dirty = self.set.len();
        let reason = if self.fits_budget(dirty) {
            Some(StopReason::Converged)
        } else if self.metrics.rounds >= self.cfg.max_rounds {
            Some(StopReason::RoundCap)
        } else if self.over_byte_limit() {
            Some(StopReason::ByteLimit)
        } else {
            None
        };
        match reason {
            Some(r) => self.stop_precopy(now, proc, r),
            None => {
                self.throttle_if_not_converging(now, dirty);
                self.begin_round(now, false, false);
            }
        }
    }

    /// Pre-copy: stops the process and starts the stopped round with everything still dirty.
    fn stop_precopy<P: Migratable>(&mut self, now: Instant, proc: &mut P, reason: StopReason) {
        self.metrics.stop_reason = Some(reason);
        if self.stop(now, proc) {
            proc.take_dirty(&mut self.set);
            self.begin_round(now, false, true);
        }
    }

    /// Pre-copy: whether the bytes sent exceed the configured multiple of the memory.
    fn over_byte_limit(&self) -> bool {
        let memory = u64::from(self.mapped) * PAGE_SIZE as u64;
        self.strategy == Strategy::PreCopy
            && self.metrics.bytes_sent >= u64::from(self.cfg.max_bytes_factor).saturating_mul(memory)
    }

    /// Whether sending `dirty` pages with the process stopped fits the downtime budget.
    fn fits_budget(&self, dirty: u32) -> bool {
        let bw = self.metrics.bandwidth;
        if dirty == 0 {
            return true;
        }
        if bw == 0 {
            return false;
        }
        let bytes = u128::from(dirty) * (PAGE_SIZE as u128 + 16) + CONTROL_CHUNK as u128;
        let send_us = bytes * 1_000_000 / u128::from(bw);
        let rtt = u128::from(self.window.rtt.srtt().as_micros());
        send_us + rtt * 3 / 2 <= u128::from(self.cfg.max_downtime.as_micros())
    }

    /// Throttling: when a round did not shrink the dirty set by a tenth, ask the runner to
    /// slow the process so that it dirties pages at about half the rate the link sends them
    /// (estimated from this round), and at least halve the percentage.
    fn throttle_if_not_converging(&mut self, now: Instant, dirty: u32) {
        if self.cfg.throttle
            && let Some(prev) = self.prev_dirty
            && u64::from(dirty) * 10 > u64::from(prev) * 9
            && self.throttle > MIN_THROTTLE
        {
            let round_us = u128::from((now - self.round_started).as_micros().max(1));
            let dirty_per_s = (u128::from(dirty) * 1_000_000 / round_us).max(1);
            let sent_per_s = u128::from(self.metrics.bandwidth) / PAGE_SIZE as u128;
            let target = u128::from(self.throttle) * sent_per_s / (2 * dirty_per_s);
            self.throttle = (target.min(u128::from(self.throttle / 2)) as u8).max(MIN_THROTTLE);
            self.event(Event::Throttle { percent: self.throttle });
        }
        self.prev_dirty = Some(dirty);
    }

    /// Encodes stream item `seq` (reading a page again if it is one).
    fn encode_item<P: Migratable>(&mut self, seq: u32, item: Item, proc: &P, buf: &mut [u8]) -> Option<usize> {
        let (mut data_pages, mut zero_pages) = (0, 0);
        let body = match item {
            Item::Round(r) => Body::Round(r),
            Item::Map(run) => {
                if run.state == MapState::Zero {
                    zero_pages = u64::from(run.count);
                }
                Body::Map(run)
            }
            Item::Page(vpn) | Item::Push(vpn) => {
                let kind = proc.read_page(vpn, &mut self.page);
                let content = if kind == PageKind::Data && self.page.iter().any(|&b| b != 0) {
                    data_pages = 1;
                    Content::Data(Bytes(&self.page))
                } else {
                    zero_pages = 1;
                    Content::Zero
                };
                match item {
                    Item::Page(_) if kind == PageKind::Unmapped => {
                        zero_pages = 0;
                        Body::Map(MapRun { first: vpn, count: 1, state: MapState::Unmapped })
                    }
                    Item::Page(_) => Body::Page(Page { vpn, content }),
                    _ => Body::Push(Page { vpn, content }),
                }
            }
            Item::Control(i) => {
                let start = (i as usize).saturating_mul(CONTROL_CHUNK);
                let end = start.saturating_add(CONTROL_CHUNK).min(self.control_len as usize);
                let bytes = self.control.get(start..end)?;
                Body::Control(ControlChunk { total: self.control_len, offset: start as u32, bytes: Bytes(bytes) })
            }
            Item::Prepare => Body::Prepare(Prepare {
                control_len: self.control_len,
                remote: self.remote_total,
                rounds: self.metrics.rounds,
            }),
        };
        let n = Msg { id: self.id, seq, ack: 0, body }.encode(buf).ok()?;
        self.metrics.pages_sent += data_pages;
        self.metrics.zero_pages += zero_pages;
        Some(n)
    }
}
