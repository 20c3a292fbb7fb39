//! Waiting for SIGINT or SIGTERM, for a clean shutdown.
//!
//! Install the handlers ([`Termination::install`]) *before* serving: a signal that arrives
//! between the first answered call and the wait would otherwise kill the process with the
//! default action instead of shutting it down cleanly.

use std::io;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// SIGINT and SIGTERM caught from the moment this exists.
pub struct Termination(Signals);

impl Termination {
    /// Catches SIGINT and SIGTERM from now on.
    pub fn install() -> io::Result<Self> {
        Signals::new([SIGINT, SIGTERM]).map(Termination)
    }

    /// Blocks until SIGINT or SIGTERM arrives (or has arrived since [`Termination::install`]);
    /// returns its number.
    pub fn wait(mut self) -> i32 {
        self.0.forever().next().unwrap_or(SIGTERM)
    }
}

/// Blocks until SIGINT or SIGTERM arrives; returns its number.
pub fn wait_for_termination() -> io::Result<i32> {
    Termination::install().map(Termination::wait)
}
