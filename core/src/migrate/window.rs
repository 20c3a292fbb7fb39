//! The source's stream sender: sequence numbers, the window of unacknowledged messages,
//! cumulative acknowledgements, go-back-N retransmission and round-trip sampling.
//!
//! The window stores what each message *is* ([`Item`]), not its bytes: a retransmission
//! encodes the item again (a page is read again from the process). Invariants: slots hold the
//! sequence numbers `una..next` in order; `una <= resend <= next`; the messages `una..resend`
//! were sent since the last go-back and their lengths add up to `inflight`; an ack is accepted
//! only up to the highest sequence number ever sent.

use heapless::Deque;

use super::msg::{MapRun, Round};
use super::rtt::Rtt;
use crate::time::Instant;

/// Most messages in flight.
pub(crate) const WINDOW_ITEMS: usize = 128;

/// One stream message, as the source can rebuild it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Round(Round),
    Page(u32),
    Map(MapRun),
    Control(u32),
    Prepare,
    Push(u32),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    item: Item,
    len: u32,
    sent_at: Instant,
    sends: u32,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Acked {
    /// Messages newly acknowledged.
    pub(crate) messages: u32,
    /// Their bytes (as last sent).
    pub(crate) bytes: u64,
}

#[derive(Debug)]
pub(crate) struct Window {
    slots: Deque<Slot, WINDOW_ITEMS>,
    una: u32,
    resend: u32,
    high: u32,
    inflight: u32,
    dup_acks: u32,
    deadline: Option<Instant>,
    pub(crate) rtt: Rtt,
}

impl Window {
    pub(crate) fn new(rtt: Rtt) -> Self {
        Window { slots: Deque::new(), una: 1, resend: 1, high: 1, inflight: 0, dup_acks: 0, deadline: None, rtt }
    }

    fn next(&self) -> u32 {
        self.una + self.slots.len() as u32
    }

    /// Whether nothing is unacknowledged.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes sent and not yet acknowledged (since the last go-back).
    #[cfg(test)]
    pub(crate) fn inflight(&self) -> u32 {
        self.inflight
    }

    /// Whether a new item may be added: no retransmission pending, a free slot, and `inflight`
    /// plus `reserve` within `limit`.
    pub(crate) fn has_room(&self, limit: u32, reserve: u32) -> bool {
        self.resend == self.next() && !self.slots.is_full() && self.inflight.saturating_add(reserve) <= limit
    }

    /// Adds an item; it is then [`pending`](Self::pending). `None` when the window is full.
    pub(crate) fn push(&mut self, item: Item) -> Option<u32> {
        let seq = self.next();
        if seq == u32::MAX {
            return None;
        }
        self.slots.push_back(Slot { item, len: 0, sent_at: Instant::ZERO, sends: 0 }).ok()?;
        Some(seq)
    }

    /// The next message to (re)send, with its sequence number.
    pub(crate) fn pending(&self) -> Option<(u32, Item)> {
        let i = self.resend.checked_sub(self.una)? as usize;
        self.slots.iter().nth(i).map(|s| (self.resend, s.item))
    }

    /// Records that the pending message went out with `len` bytes. Returns whether it was a
    /// retransmission.
    pub(crate) fn sent(&mut self, now: Instant, len: usize) -> bool {
        let Some(i) = self.resend.checked_sub(self.una) else { return false };
        let Some(slot) = self.slots.iter_mut().nth(i as usize) else { return false };
        let again = slot.sends > 0;
        slot.sends = slot.sends.saturating_add(1);
        slot.sent_at = now;
        slot.len = len as u32;
        self.inflight = self.inflight.saturating_add(len as u32);
        self.resend += 1;
        self.high = self.high.max(self.resend);
        if self.deadline.is_none() {
            self.deadline = Some(now + self.rtt.rto());
        }
        again
    }

    /// Takes a cumulative acknowledgement (`ack` = next sequence number the peer expects).
    /// `pure`: the message was a bare acknowledgement, which the peer sends only when a stream
    /// message arrived; if it does not advance, that message was out of order (a duplicate
    /// acknowledgement: three of them resend everything unacknowledged).
    pub(crate) fn on_ack(&mut self, now: Instant, ack: u32, pure: bool) -> Acked {
        let mut out = Acked::default();
        if ack > self.high {
            return out;
        }
        if ack <= self.una {
            if pure && ack == self.una && self.resend > self.una {
                self.dup_acks += 1;
                if self.dup_acks == 3 {
                    self.go_back();
                }
            }
            return out;
        }
        let mut sample = None;
        while self.una < ack {
            let Some(slot) = self.slots.pop_front() else { break };
            if self.una < self.resend {
                self.inflight = self.inflight.saturating_sub(slot.len);
            }
            out.messages += 1;
            out.bytes += u64::from(slot.len);
            sample = (slot.sends == 1).then(|| now - slot.sent_at);
            self.una += 1;
        }
        self.resend = self.resend.max(self.una);
        if let Some(d) = sample {
            self.rtt.sample(d);
        } else {
            self.rtt.reset_backoff();
        }
        self.dup_acks = 0;
        self.deadline = (self.resend > self.una).then(|| now + self.rtt.rto());
        out
    }

    fn go_back(&mut self) {
        self.resend = self.una;
        self.inflight = 0;
        self.dup_acks = 0;
        self.deadline = None;
    }

    /// When the retransmission timer fires.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Fires the retransmission timer if due: everything unacknowledged is sent again.
    /// Returns whether it fired.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> bool {
        if self.deadline.is_none_or(|t| t > now) {
            return false;
        }
        self.rtt.back_off();
        self.go_back();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::Config;
    use crate::time::Duration;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn send_ack_and_go_back() {
        let mut w = Window::new(Rtt::new(&Config::default()));
        for vpn in 0..4 {
            assert!(w.has_room(10_000, 1000));
            assert_eq!(w.push(Item::Page(vpn)), Some(vpn + 1));
            assert_eq!(w.pending(), Some((vpn + 1, Item::Page(vpn))));
            assert!(!w.sent(t(0), 1000));
        }
        assert_eq!(w.inflight(), 4000);
        assert_eq!(w.pending(), None);
        assert_eq!(w.on_ack(t(10), 9, true), Acked::default(), "beyond what was sent");
        assert_eq!(w.on_ack(t(10), 3, true), Acked { messages: 2, bytes: 2000 });
        assert_eq!(w.rtt.srtt(), Duration::from_millis(10));
        assert_eq!(w.inflight(), 2000);
        let rto = w.poll_timeout().unwrap();
        assert!(!w.on_timeout(t(11)));
        assert!(w.on_timeout(rto));
        assert_eq!(w.inflight(), 0);
        assert!(!w.has_room(10_000, 0), "retransmissions first");
        assert_eq!(w.pending(), Some((3, Item::Page(2))));
        assert!(w.sent(rto, 1000));
        // The original of 4 got through: the ack skips past what is being resent.
        assert_eq!(w.on_ack(rto, 5, true), Acked { messages: 2, bytes: 2000 });
        assert!(w.is_empty() && w.pending().is_none() && w.poll_timeout().is_none());
        assert_eq!(w.inflight(), 0);
    }

    #[test]
    fn three_duplicate_acks_resend() {
        let mut w = Window::new(Rtt::new(&Config::default()));
        for vpn in 0..5 {
            w.push(Item::Page(vpn));
            w.sent(t(0), 100);
        }
        w.on_ack(t(1), 2, true);
        w.on_ack(t(1), 2, true);
        w.on_ack(t(1), 2, true);
        w.on_ack(t(1), 2, false);
        assert_eq!(w.pending(), None, "only bare acknowledgements count");
        w.on_ack(t(1), 2, true);
        assert_eq!(w.pending(), Some((2, Item::Page(1))));
    }

    #[test]
    fn full_window_refuses() {
        let mut w = Window::new(Rtt::new(&Config::default()));
        for i in 0..WINDOW_ITEMS as u32 {
            w.push(Item::Control(i)).unwrap();
            w.sent(t(0), 1);
        }
        assert!(!w.has_room(u32::MAX, 0));
        assert_eq!(w.push(Item::Prepare), None);
    }
}
