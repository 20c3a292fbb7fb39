//! Waiting for SIGINT or SIGTERM, for a clean shutdown.

use std::io;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Blocks until SIGINT or SIGTERM arrives; returns its number.
pub fn wait_for_termination() -> io::Result<i32> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    Ok(signals.forever().next().unwrap_or(SIGTERM))
}
