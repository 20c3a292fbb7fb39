//! The page-transfer protocol that moves a process between nodes: stop-and-copy, pre-copy,
//! post-copy and hybrid, sans-IO, with exactly one node running the process at any time.
//!
//! # Pieces
//! - [`Migratable`]: what the protocol needs from a process (pages with present and dirty
//!   bits, a control block as bytes, stop and resume); [`PageSet`]: the page bitmaps both
//!   sides keep in caller-provided words.
//! - [`msg`]: the messages ([`Msg`]), postcard-encoded and bounded on decode.
//! - [`Source`] and [`Destination`]: the two state machines. Each is driven the same way:
//!   [`handle`](Source::handle) every decoded message for its migration id,
//!   [`poll_transmit`](Source::poll_transmit) until it returns `None` after every call,
//!   sleep until [`poll_timeout`](Source::poll_timeout) and then call
//!   [`handle_timeout`](Source::handle_timeout), and drain [`poll_event`](Source::poll_event).
//!   Time is always an argument; nothing reads a clock, allocates, or panics on peer input.
//! - [`Metrics`]: downtime, total time, bytes and pages sent, rounds, remote faults.
//! - [`VmProcess`]: the VM's processes ([`proc::Process`](crate::proc::Process) and their
//!   page store) as a [`Migratable`].
//!
//! # Transport
//! One message per frame, in both directions, over any transport that may lose, duplicate,
//! reorder, or cut (a TCP connection that is killed and opened again, or datagrams). The
//! source's *stream* (copy rounds, pages, map runs, the control block, `Prepare`, post-copy
//! pushes) is numbered from 1; the destination applies it strictly in order and acknowledges
//! cumulatively (the `ack` field of everything it sends); the source keeps at most
//! `window_bytes` unacknowledged and, on a retransmission timeout or three duplicate
//! acknowledgements, sends everything unacknowledged again (go-back-N). A resent page is read
//! again from the process: newer contents are as good as the old, because a page written after
//! a read is dirty and is sent again later, with a higher sequence number, before the
//! hand-off. The other messages are idempotent and repeated on their own timers
//! (exponential back-off from `initial_rto` to `max_rto`) until the answer that shows they
//! arrived. After a cut, both sides simply continue when messages flow again: nothing is
//! reset, the stream resumes at the first unacknowledged message.
//!
//! # The strategies
//! - **Stop-and-copy**: stop; one full round (every mapped page: data pages as [`Body::Page`],
//!   zero and unmapped pages as [`Body::Map`] runs, never as data); the control block; hand-off.
//! - **Pre-copy**: a full round while the process runs, then rounds of the pages dirtied during
//!   the previous round. After each round the source takes the dirty set and stops when it
//!   fits the downtime budget (`pages × page size / measured bandwidth + 1.5 RTT ≤
//!   max_downtime`), or after `max_rounds` live rounds, or when the bytes sent exceed
//!   `max_bytes_factor ×` the memory; then it sends the last dirty set and the control block
//!   with the process stopped. With `throttle`, after a round that did not shrink the dirty
//!   set by a tenth the source asks the runner ([`Event::Throttle`]) to run the process at a
//!   percentage of its speed that would dirty pages at half the rate the link sends them (at
//!   least half the previous percentage, at least 5%).
//! - **Post-copy**: the source lets the process run for `ws_window` while it records the pages
//!   written (the working set), stops it, sends the control block and a map of the address
//!   space (remote and zero runs), and hands off at once. Then it pushes every remote page:
//!   a page a thread faulted on ([`Body::Request`]) first, then the working set, then the rest
//!   in page order starting after the most recent fault.
//! - **Hybrid**: one full round while the process runs, then post-copy for the pages dirtied
//!   during it.
//!
//! # The hand-off, and who runs the process
//! The hand-off is a two-phase commit in which the **source decides**:
//! 1. Stopped, the source sends the rest of the state and ends the stream with
//!    [`Body::Prepare`]. The destination, having applied the whole stream up to it, loads the
//!    control block and answers [`Body::Ready`] (repeated until it hears the decision). From
//!    then on it may not abort on its own.
//! 2. On `Ready` the source **commits** ([`Event::HandedOff`]): it will never run the process
//!    again, and sends [`Body::Commit`] until the destination answers [`Body::Committed`].
//! 3. On `Commit` the destination resumes the process ([`Event::Resumed`]).
//! 4. When the destination has every page it sends [`Body::Confirm`] until the source answers
//!    [`Body::Finish`]; the source then releases its copy ([`Event::Released`]).
//!
//! What each side does on a timeout (nothing heard for `link_timeout`), a cut, or an abort:
//!
//! | phase | source | destination |
//! |---|---|---|
//! | offer sent, no answer | gives up: process never stopped | — |
//! | copying, process running at the source | aborts: process keeps running | aborts: discards its copy |
//! | source stopped, no `Ready` yet | aborts: **resumes** the process | (not prepared) aborts and discards |
//! | destination prepared, no decision | — | **waits**, repeating `Ready`: it may not guess |
//! | source committed, no `Committed` | **waits**, repeating `Commit`; never resumes | waits (as above) |
//! | destination running, pages remote | keeps every page and serves requests and pushes | faulting threads wait; requests repeated until the pages arrive |
//! | destination has every page | waits for `Confirm`, keeps its copy | repeats `Confirm` until `Finish` (or an abort: the source forgot the migration after releasing it) |
//! | destination forgot the migration | releases on the "unknown migration" abort | — |
//!
//! An [`Body::Abort`] is obeyed only before the receiver committed (source) or prepared
//! (destination); afterwards it is ignored, with one exception: a committed source that hears
//! [`AbortReason::Unknown`] releases its copy (after `Ready` only a destination that finished,
//! its `Confirm` lost, or one that crashed forgets a migration; no page is wanted any more, and
//! the source still never runs the process). A node asked about a migration it has no state
//! for answers with [`msg::reply_unknown`] (an abort). Hence: the process runs at the source
//! until the source commits, and at the destination only after it, so it never runs on both;
//! and it is never lost while both nodes live: before the commit the source still has it
//! (running, or resumed after a timeout), after it the source keeps every page until the
//! destination confirms, and the one case where nobody runs it — a link cut between the
//! commit and the destination hearing of it — ends when the link is back (the destination's
//! repeated `Ready` is answered with `Commit`).
//!
//! # What the runner does
//! - Source node: create a [`Source`] over the running process; run the process whenever the
//!   protocol has not stopped it ([`Migratable::stop`]/[`Migratable::resume`] are the switch);
//!   apply [`Event::Throttle`]; drop the process on [`Event::Released`] and never run it again
//!   after [`Event::HandedOff`]; call [`Source::abort`] if the process exits meanwhile.
//! - Destination node: on an offer for an unknown id, create a [`Destination`] with a fresh
//!   stopped process (or answer with [`msg::refuse`]); run the process only once it is resumed;
//!   when a thread touches an absent page, call [`Destination::fault`] and block the thread
//!   until [`Event::PageArrived`]; discard the process on [`Event::Aborted`].
//! - Both: route messages by migration id, answer unknown ids with [`msg::reply_unknown`],
//!   drop a state machine once `is_finished()`.
//!
//! # Hostile or broken peers
//! A message that does not decode is dropped by the runner ([`Msg::decode`] fails). A stream
//! message that decodes but does not fit (a page beyond the address space, a control block
//! larger than the buffer, a remote run in pre-copy, a `Prepare` that disagrees with what
//! arrived) makes a destination that is not yet prepared abort — the process still runs at the
//! source, untouched; after that the destination refuses the message and the stream stalls
//! there, while the process keeps running at the destination. A source ignores requests for
//! pages it has no reason to send, and commits only on a `Ready` that acknowledges its
//! `Prepare`.
//!
//! # Bounds
//! Every variable-length field is bounded on decode ([`msg`]); page numbers from the peer are
//! checked against the address space; the windows, fault table and event queue have fixed
//! capacities; the bitmaps and control-block buffers are the caller's.

pub mod msg;

mod dest;
mod metrics;
mod process;
mod rtt;
mod source;
mod vm;
mod window;

#[cfg(test)]
mod tests;

pub use dest::{DestState, Destination, FaultStatus};
pub use metrics::{DestMetrics, Metrics, StopReason};
pub use msg::{AbortReason, Body, MigrationId, Msg, RefuseReason, Strategy};
pub use process::{Migratable, PageContent, PageKind, PageSet, ProcessError};
pub use source::{Source, SourceState};
pub use vm::VmProcess;

use crate::time::Duration;

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;

/// Settings shared by both sides (each uses the ones that concern it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Source: most stream bytes unacknowledged (set it above bandwidth × round-trip time).
    pub window_bytes: u32,
    /// Source, post-copy: most bytes of background pushes unacknowledged, so that a page a
    /// thread faulted on waits behind little.
    pub push_window_bytes: u32,
    /// Retransmission timeout before the round-trip time is measured.
    pub initial_rto: Duration,
    /// Lower bound of the retransmission timeout.
    pub min_rto: Duration,
    /// Upper bound of the retransmission timeout and of the back-off of repeated messages.
    pub max_rto: Duration,
    /// Nothing heard from the peer for this long means the link is down (see the module docs
    /// for what each phase does then).
    pub link_timeout: Duration,
    /// Pre-copy: the downtime the source aims at when it decides to stop.
    pub max_downtime: Duration,
    /// Pre-copy: live rounds (the full copy included) before the source stops anyway.
    pub max_rounds: u32,
    /// Pre-copy: the source stops once it has sent this many times the process's memory.
    pub max_bytes_factor: u32,
    /// Pre-copy: ask the runner to slow down a process whose dirty set does not shrink.
    pub throttle: bool,
    /// Post-copy: how long the source records the working set before it stops the process.
    pub ws_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window_bytes: 512 * 1024,
            push_window_bytes: 64 * 1024,
            initial_rto: Duration::from_millis(200),
            min_rto: Duration::from_millis(5),
            max_rto: Duration::from_secs(1),
            link_timeout: Duration::from_secs(3),
            max_downtime: Duration::from_millis(3),
            max_rounds: 30,
            max_bytes_factor: 3,
            throttle: false,
            ws_window: Duration::from_millis(10),
        }
    }
}

/// What the migration layer can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The bytes are not a valid message (postcard, or a field beyond its bound).
    Malformed,
    /// The output buffer is too small (give [`msg::MAX_MSG_LEN`] bytes).
    BufferTooSmall,
    /// The caller-provided page bitmap or control buffer is too small.
    StorageTooSmall,
    /// The message belongs to another migration.
    WrongMigration,
    /// The message is not one this side accepts, or not in this phase.
    Unexpected,
    /// The message breaks the protocol (a page out of range, a stream out of shape).
    Protocol,
    /// The process refused what the protocol asked of it.
    Process(ProcessError),
    /// Too late to abort: the hand-off is decided.
    Committed,
    /// Every slot of the destination's fault table is in use; try again later.
    FaultTableFull,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Malformed => f.write_str("malformed migration message"),
            Error::BufferTooSmall => f.write_str("buffer too small for a migration message"),
            Error::StorageTooSmall => f.write_str("page bitmap or control buffer too small"),
            Error::WrongMigration => f.write_str("message for another migration"),
            Error::Unexpected => f.write_str("unexpected migration message"),
            Error::Protocol => f.write_str("migration protocol violation"),
            Error::Process(e) => write!(f, "process refused: {e}"),
            Error::Committed => f.write_str("the hand-off is already decided"),
            Error::FaultTableFull => f.write_str("too many outstanding page faults"),
        }
    }
}

impl core::error::Error for Error {}

impl From<ProcessError> for Error {
    fn from(e: ProcessError) -> Self {
        Error::Process(e)
    }
}

/// Something the runner should know or do. Events are hints in the order they happened;
/// `state()` is authoritative. The queue holds [`EVENT_CAPACITY`] events: drain it after every
/// call (when full, the oldest is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// Source: the destination accepted the offer.
    Accepted,
    /// Source: the destination refused; the process was never stopped.
    Refused(RefuseReason),
    /// Source: a copy round started.
    Round {
        /// Round number (0 is the full copy).
        round: u32,
        /// Pages in the round.
        pages: u32,
    },
    /// Source: let the process run at most this percentage of the time (100: unthrottled).
    Throttle {
        /// Percentage of full speed.
        percent: u8,
    },
    /// Source: the process is stopped (the downtime starts).
    Stopped,
    /// Destination: the whole state is here; waiting for the source's decision.
    Prepared,
    /// Source: committed; the destination runs the process from now on. Never run it here.
    HandedOff,
    /// Destination: the process runs here now.
    Resumed,
    /// Destination: a remote page arrived; wake the threads waiting on it.
    PageArrived {
        /// The page.
        vpn: u32,
    },
    /// Nothing heard from the peer for the link timeout, in a phase where that changes nothing.
    LinkDown,
    /// The peer is heard again after [`Event::LinkDown`].
    LinkUp,
    /// Destination: every page is present.
    Complete,
    /// Source: the destination has everything; drop the process.
    Released,
    /// Destination: the source released its copy; the migration is over.
    Finished,
    /// The migration is abandoned. Source: the process runs here (it was resumed if it had been
    /// stopped). Destination: discard the process.
    Aborted(AbortReason),
}

/// Events a state machine holds before the oldest is dropped.
pub const EVENT_CAPACITY: usize = 16;

fn push_event(q: &mut heapless::Deque<Event, EVENT_CAPACITY>, e: Event) {
    if q.is_full() {
        q.pop_front();
    }
    let _ = q.push_back(e);
}
