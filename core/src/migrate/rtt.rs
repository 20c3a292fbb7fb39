//! Round-trip time estimate and retransmission timeout (RFC 6298), and the back-off timer of
//! repeated control messages.

use crate::time::{Duration, Instant};

use super::Config;

/// Smoothed round-trip time and the retransmission timeout derived from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rtt {
    srtt_us: Option<u64>,
    rttvar_us: u64,
    rto: Duration,
    min: Duration,
    max: Duration,
    backoff: u32,
}

impl Rtt {
    pub(crate) fn new(cfg: &Config) -> Self {
        Rtt { srtt_us: None, rttvar_us: 0, rto: cfg.initial_rto, min: cfg.min_rto, max: cfg.max_rto, backoff: 0 }
    }

    /// Takes one sample (Karn: only for messages sent once); resets the back-off.
    pub(crate) fn sample(&mut self, d: Duration) {
        let r = d.as_micros();
        let (srtt, var) = match self.srtt_us {
            None => (r, r / 2),
            Some(s) => ((7 * s + r) / 8, (3 * self.rttvar_us + s.abs_diff(r)) / 4),
        };
        self.srtt_us = Some(srtt);
        self.rttvar_us = var;
        let rto = srtt.saturating_add((4 * var).max(100));
        self.rto = Duration::from_micros(rto.clamp(self.min.as_micros(), self.max.as_micros()));
        self.backoff = 0;
    }

    /// The smoothed round-trip time (zero before the first sample).
    pub(crate) fn srtt(&self) -> Duration {
        Duration::from_micros(self.srtt_us.unwrap_or(0))
    }

    /// The current timeout, backed off.
    pub(crate) fn rto(&self) -> Duration {
        let us = self.rto.as_micros().saturating_mul(1 << self.backoff.min(16));
        Duration::from_micros(us.min(self.max.as_micros()))
    }

    /// The current timeout doubled `n` times, at most the maximum.
    pub(crate) fn rto_doubled(&self, n: u32) -> Duration {
        let us = self.rto().as_micros().saturating_mul(1 << n.min(16));
        Duration::from_micros(us.min(self.max.as_micros()))
    }

    /// Doubles the timeout (after it expired).
    pub(crate) fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(16);
    }

    /// Forgets the back-off (after something got through).
    pub(crate) fn reset_backoff(&mut self) {
        self.backoff = 0;
    }
}

/// A message repeated with exponential back-off until it is answered.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Repeat {
    /// Send it at the next `poll_transmit`.
    pub(crate) due: bool,
    /// When to send it again; `None` when not repeating.
    pub(crate) at: Option<Instant>,
    wait: Duration,
}

impl Repeat {
    /// Starts repeating: send now, then after `first`, doubling up to `max`.
    pub(crate) fn start(&mut self, first: Duration) {
        *self = Repeat { due: true, at: None, wait: first };
    }

    /// Stops repeating.
    pub(crate) fn stop(&mut self) {
        *self = Repeat::default();
    }

    /// Called when it was sent: schedules the next time (none if it was not started: a
    /// one-off answer).
    pub(crate) fn sent(&mut self, now: Instant, max: Duration) {
        self.due = false;
        self.at = (self.wait > Duration::ZERO).then(|| now + self.wait);
        self.wait = self.wait.doubled_up_to(max);
    }

    /// Marks it due when its time has come.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        if self.at.is_some_and(|t| t <= now) {
            self.due = true;
            self.at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rto_follows_samples_and_backs_off() {
        let cfg = Config::default();
        let mut r = Rtt::new(&cfg);
        assert_eq!(r.rto(), cfg.initial_rto);
        r.sample(Duration::from_millis(10));
        assert_eq!(r.srtt(), Duration::from_millis(10));
        assert_eq!(r.rto(), Duration::from_millis(30));
        r.back_off();
        assert_eq!(r.rto(), Duration::from_millis(60));
        for _ in 0..40 {
            r.back_off();
        }
        assert_eq!(r.rto(), cfg.max_rto);
        let mut fast = Rtt::new(&cfg);
        fast.sample(Duration::from_micros(10));
        assert_eq!(fast.rto(), cfg.min_rto, "clamped below");
    }

    #[test]
    fn repeat_backs_off() {
        let mut x = Repeat::default();
        assert!(!x.due && x.at.is_none());
        x.start(Duration::from_millis(1));
        assert!(x.due);
        x.sent(Instant::from_millis(0), Duration::from_millis(3));
        x.on_timeout(Instant::from_micros(999));
        assert!(!x.due);
        x.on_timeout(Instant::from_millis(1));
        assert!(x.due);
        x.sent(Instant::from_millis(1), Duration::from_millis(3));
        assert_eq!(x.at, Some(Instant::from_millis(3)));
        x.sent(Instant::from_millis(3), Duration::from_millis(3));
        assert_eq!(x.at, Some(Instant::from_millis(6)), "capped");
    }
}
