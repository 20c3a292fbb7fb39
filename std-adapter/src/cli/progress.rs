//! A one-line progress bar for long copies, drawn with `\r` on a terminal (and not at all
//! otherwise), at most ten times a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Copies shorter than this get no bar.
const MIN_BYTES: u64 = 8 << 20;

/// The bar of one copy.
pub(crate) struct Progress {
    total: u64,
    start: Instant,
    last: Option<Instant>,
    on: bool,
    label: String,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

impl Progress {
    /// A bar for `total` bytes, shown when stdout is a terminal and the copy is long.
    pub(crate) fn new(label: &str, total: u64) -> Self {
        let on = total >= MIN_BYTES && std::io::stdout().is_terminal();
        Progress { total, start: Instant::now(), last: None, on, label: label.to_string() }
    }

    /// `done` bytes are copied.
    pub(crate) fn update(&mut self, done: u64) {
        if !self.on || self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last = Some(Instant::now());
        self.draw(done);
    }

    fn draw(&self, done: u64) {
        const WIDTH: usize = 30;
        let frac = if self.total == 0 { 1.0 } else { (done as f64 / self.total as f64).min(1.0) };
        let filled = (frac * WIDTH as f64) as usize;
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "\r{} [{}{}] {:3.0}% {:.1}/{:.1} MiB {:.1} MiB/s ",
            self.label,
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            frac * 100.0,
            mib(done),
            mib(self.total),
            mib(done) / secs
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }

    /// The copy is over: the final state and a newline.
    pub(crate) fn finish(&mut self, done: u64) {
        if self.on {
            self.draw(done);
            let _ = writeln!(std::io::stdout().lock());
        }
    }
}
