//! [`Reconnect`]: when a driver should (re)connect a stream, with exponential back-off.
//!
//! The machine only decides; the driver connects. After [`Reconnect::lost`] (a connection
//! dropped, or a connect attempt failed) [`Reconnect::poll`] says when to try next: at once
//! the first time, then after a wait that doubles from `min` up to `max`. A hard mount tries
//! forever; a soft one answers [`LinkAction::GiveUp`] once the link has been down for the
//! give-up time. [`Reconnect::connected`] resets everything.

use super::Semantics;
use crate::time::{Duration, Instant};

/// What the driver should do about its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkAction {
    /// The link is up: nothing to do.
    Up,
    /// Try to connect now.
    Connect,
    /// Sleep until this instant, then poll again.
    Wait(Instant),
    /// A soft mount's time-out ran out: fail every outstanding call.
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down { since: Instant, next: Instant, wait: Duration },
}

/// The reconnect schedule of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    semantics: Semantics,
    min: Duration,
    max: Duration,
    give_up: Duration,
    state: State,
}

impl Reconnect {
    /// A schedule for a link that is down since `now` (nothing connected yet): back-off from
    /// `min` doubling to `max`; a soft mount gives up after `give_up`.
    pub fn new(now: Instant, semantics: Semantics, min: Duration, max: Duration, give_up: Duration) -> Self {
        Reconnect { semantics, min, max, give_up, state: State::Down { since: now, next: now, wait: min } }
    }

    /// The link is up.
    pub fn connected(&mut self) {
        self.state = State::Up;
    }

    /// The connection dropped or a connect attempt failed at `now`.
    pub fn lost(&mut self, now: Instant) {
        self.state = match self.state {
            State::Up => State::Down { since: now, next: now, wait: self.min },
            State::Down { since, wait, .. } => {
                State::Down { since, next: now + wait, wait: wait.doubled_up_to(self.max) }
            }
        };
    }

    /// True while the link is up.
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// How long the link has been down at `now` (zero while up).
    pub fn down_for(&self, now: Instant) -> Duration {
        match self.state {
            State::Up => Duration::ZERO,
            State::Down { since, .. } => now.saturating_since(since),
        }
    }

    /// What to do at `now`.
    pub fn poll(&self, now: Instant) -> LinkAction {
        match self.state {
            State::Up => LinkAction::Up,
            State::Down { since, .. }
                if self.semantics == Semantics::Soft && now.saturating_since(since) >= self.give_up =>
            {
                LinkAction::GiveUp
            }
            State::Down { next, .. } if next <= now => LinkAction::Connect,
            State::Down { next, since, .. } => match self.semantics {
                // A soft link wakes at its give-up time at the latest.
                Semantics::Soft => LinkAction::Wait(next.min(since + self.give_up)),
                Semantics::Hard => LinkAction::Wait(next),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn hard_backs_off_forever() {
        let d = Duration::from_millis;
        let mut r = Reconnect::new(ms(0), Semantics::Hard, d(100), d(400), d(1000));
        assert_eq!(r.poll(ms(0)), LinkAction::Connect);
        let mut at = 0;
        let mut waits = std::vec::Vec::new();
        for _ in 0..6 {
            r.lost(ms(at));
            let LinkAction::Wait(t) = r.poll(ms(at)) else { panic!("{:?}", r.poll(ms(at))) };
            waits.push(t.as_micros() / 1000 - at);
            at = t.as_micros() / 1000;
            assert_eq!(r.poll(ms(at)), LinkAction::Connect);
        }
        assert_eq!(waits, [100, 200, 400, 400, 400, 400]);
        assert_eq!(r.down_for(ms(at)), d(at));
        r.connected();
        assert!(r.is_up());
        assert_eq!(r.poll(ms(at)), LinkAction::Up);
        // Dropped again: connect at once, then back-off from the start.
        r.lost(ms(at));
        assert_eq!(r.poll(ms(at)), LinkAction::Connect);
        r.lost(ms(at));
        assert_eq!(r.poll(ms(at)), LinkAction::Wait(ms(at + 100)));
    }

    #[test]
    fn soft_gives_up() {
        let d = Duration::from_millis;
        let mut r = Reconnect::new(ms(0), Semantics::Soft, d(300), d(300), d(1000));
        r.lost(ms(0));
        assert_eq!(r.poll(ms(0)), LinkAction::Wait(ms(300)));
        r.lost(ms(900));
        // The next try would be at 1200, but the give-up time comes first.
        assert_eq!(r.poll(ms(900)), LinkAction::Wait(ms(1000)));
        assert_eq!(r.poll(ms(1000)), LinkAction::GiveUp);
    }
}
