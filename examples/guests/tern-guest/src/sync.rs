//! Synchronisation on the VM's futexes.

use core::sync::atomic::{AtomicU32, Ordering};

/// A count-down latch: `count_down` until zero; `wait` blocks until then.
#[derive(Debug)]
pub struct Latch(AtomicU32);

impl Latch {
    /// A latch that opens after `n` count-downs.
    pub const fn new(n: u32) -> Self {
        Latch(AtomicU32::new(n))
    }

    /// Sets the count (before anyone waits or counts down).
    pub fn set(&self, n: u32) {
        self.0.store(n, Ordering::Release);
    }

    /// Counts down once; the last one wakes every waiter.
    pub fn count_down(&self) {
        if self.0.fetch_sub(1, Ordering::AcqRel) == 1 {
            crate::futex_wake(&self.0, u32::MAX);
        }
    }

    /// Waits until the count is zero.
    pub fn wait(&self) {
        loop {
            let v = self.0.load(Ordering::Acquire);
            if v == 0 {
                return;
            }
            // -EAGAIN (the count moved) just means: look again.
            let _ = crate::futex_wait(&self.0, v, 0);
        }
    }
}
