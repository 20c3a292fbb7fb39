//! Figures for one migration, as each side measured them.

use super::msg::Strategy;
use crate::time::Duration;

/// Why pre-copy stopped copying while the process ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StopReason {
    /// The strategy stops at once (stop-and-copy, post-copy).
    Immediate,
    /// Hybrid: after its one pass.
    PassDone,
    /// The dirty set fits the downtime budget at the measured bandwidth.
    Converged,
    /// The round cap was reached.
    RoundCap,
    /// The bytes sent exceeded the configured multiple of the memory.
    ByteLimit,
}

/// The source's figures for one migration (the destination's fault figures arrive with its
/// confirmation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    /// The strategy.
    pub strategy: Strategy,
    /// From the start (the offer) to the release or the abort.
    pub total: Duration,
    /// Time the process did not run: from the stop until the destination resumed it
    /// (estimated as the arrival of `Committed` less half the smoothed round-trip time), or
    /// until the source resumed it after an abort.
    pub downtime: Duration,
    /// Bytes the source sent, retransmissions counted.
    pub bytes_sent: u64,
    /// Bytes the source received.
    pub bytes_received: u64,
    /// Messages the source sent.
    pub messages_sent: u64,
    /// Stream messages sent again.
    pub messages_resent: u64,
    /// Pages sent as data, retransmissions counted.
    pub pages_sent: u64,
    /// Pages announced as zero (never sent as data).
    pub zero_pages: u64,
    /// Copy rounds, the final stopped one included (stop-and-copy 1, post-copy 0).
    pub rounds: u32,
    /// Why copying while running stopped.
    pub stop_reason: Option<StopReason>,
    /// Threads' faults on remote pages at the destination.
    pub remote_faults: u32,
    /// Total time threads waited on them.
    pub fault_wait: Duration,
    /// Last measured bandwidth, bytes per second (0 before a measure).
    pub bandwidth: u64,
    /// Smoothed round-trip time.
    pub rtt: Duration,
}

impl Metrics {
    pub(crate) fn new(strategy: Strategy) -> Self {
        Metrics {
            strategy,
            total: Duration::ZERO,
            downtime: Duration::ZERO,
            bytes_sent: 0,
            bytes_received: 0,
            messages_sent: 0,
            messages_resent: 0,
            pages_sent: 0,
            zero_pages: 0,
            rounds: 0,
            stop_reason: None,
            remote_faults: 0,
            fault_wait: Duration::ZERO,
            bandwidth: 0,
            rtt: Duration::ZERO,
        }
    }
}

/// The destination's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestMetrics {
    /// Bytes received for this migration.
    pub bytes_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Pages installed from data.
    pub pages_installed: u64,
    /// Stream messages that arrived twice or out of order (dropped).
    pub dropped: u64,
    /// Copy rounds announced.
    pub rounds: u32,
    /// Threads' faults on remote pages.
    pub remote_faults: u32,
    /// Total time threads waited on them.
    pub fault_wait: Duration,
}
