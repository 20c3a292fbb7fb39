//! The destination's table of outstanding faults: one entry per remote page that threads
//! wait on, with its request timer and the threads' accumulated waiting time.

use heapless::Vec;

use super::super::Error;
use super::super::rtt::Rtt;
use crate::time::{Duration, Instant};

/// Pages with waiting threads at one time.
pub(crate) const MAX_FAULTS: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Fault {
    vpn: u32,
    /// Sum of the fault times of the waiting threads, in microseconds.
    since_sum: u64,
    waiters: u64,
    /// When the request is due (again).
    next: Instant,
    first_sent: Instant,
    sends: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    list: Vec<Fault, MAX_FAULTS>,
}

impl Faults {
    /// A thread waits on `vpn` from `now`; a new page is requested at once.
    pub(crate) fn add(&mut self, now: Instant, vpn: u32) -> Result<(), Error> {
        if let Some(f) = self.list.iter_mut().find(|f| f.vpn == vpn) {
            f.waiters += 1;
            f.since_sum = f.since_sum.saturating_add(now.as_micros());
            return Ok(());
        }
        let f = Fault { vpn, since_sum: now.as_micros(), waiters: 1, next: now, first_sent: now, sends: 0 };
        self.list.push(f).map_err(|_| Error::FaultTableFull)
    }

    /// The next page whose request is due; schedules its repetition (backed off).
    pub(crate) fn due(&mut self, now: Instant, rtt: &Rtt) -> Option<u32> {
        let f = self.list.iter_mut().find(|f| f.next <= now)?;
        if f.sends == 0 {
            f.first_sent = now;
        }
        f.next = now + rtt.rto_doubled(f.sends);
        f.sends = f.sends.saturating_add(1);
        Some(f.vpn)
    }

    /// When the next request is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.list.iter().map(|f| f.next).min()
    }

    /// `vpn` arrived at `now`: returns the threads' total wait, and samples the round trip
    /// if the page was requested once.
    pub(crate) fn resolve(&mut self, now: Instant, vpn: u32, rtt: &mut Rtt) -> Option<Duration> {
        let i = self.list.iter().position(|f| f.vpn == vpn)?;
        let f = self.list.swap_remove(i);
        if f.sends == 1 {
            rtt.sample(now - f.first_sent);
        }
        let total = f.waiters.saturating_mul(now.as_micros()).saturating_sub(f.since_sum);
        Some(Duration::from_micros(total))
    }

    /// Forgets every fault.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::Config;

    #[test]
    fn waiters_and_requests() {
        let cfg = Config::default();
        let mut rtt = Rtt::new(&cfg);
        let mut f = Faults::default();
        let t = Instant::from_millis;
        f.add(t(10), 7).unwrap();
        f.add(t(12), 7).unwrap();
        assert_eq!(f.due(t(12), &rtt), Some(7));
        assert_eq!(f.due(t(12), &rtt), None, "not again before the timeout");
        assert_eq!(f.next_deadline(), Some(t(12) + cfg.initial_rto));
        assert_eq!(f.resolve(t(20), 7, &mut rtt), Some(Duration::from_millis(10 + 8)));
        assert_eq!(rtt.srtt(), Duration::from_millis(8), "one request: sampled");
        assert_eq!(f.resolve(t(20), 7, &mut rtt), None);
        for vpn in 0..MAX_FAULTS as u32 {
            f.add(t(0), vpn).unwrap();
        }
        assert_eq!(f.add(t(0), 1000), Err(Error::FaultTableFull));
    }
}
