//! The scheduler thread: slices of the node's runnable processes, their host calls inside
//! the slice, and what a slice tells a migration pump (a page fault, an end).
//!
//! A process runs only when it is live, not ended, not stopped by a migration, not handed
//! off and not blocked on a remote page. A slice ends at the budget, when every thread
//! waits, at a page fault, or at the end; host calls are answered before the next `run`, so
//! between two slices no call is outstanding.

use std::ops::Bound::{Excluded, Unbounded};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tern_core::proc::{Event, FaultKind, ThreadState};
use tern_core::time::{Duration as CoreDuration, Instant};

use super::forward::{self, Job};
use super::{Entry, Input, LiveProc, NodeFs, Shared, State, host_fault, lock};
use crate::run::chan::{self, ChanOp};
use crate::run::{HeapStore, Outcome, Services};
use crate::server::core_now;

/// What one slice of a process ended with.
enum Slice {
    Busy,
    Wait(Option<Instant>),
    PageFault(u32),
    Ended(Outcome),
    /// A channel call for the home node (the call stays outstanding until it answers).
    Forward(ChanOp),
}

pub(super) fn run<F: NodeFs>(shared: &std::sync::Arc<Shared<F>>) {
    let mut st = lock(&shared.state);
    // Round-robin over the process table, one slice per lock hold: the pumps and RPC threads
    // get the lock between any two slices.
    let mut cursor = 0u64;
    let mut busy = false;
    let mut wake: Option<Instant> = None;
    while !shared.shutdown.load(Ordering::SeqCst) {
        let now = core_now();
        let next = st.procs.range((Excluded(cursor), Unbounded)).map(|(p, _)| *p).next();
        if let Some(pid) = next {
            cursor = pid;
            let mut notes = Notes::new();
            let mut jobs = Vec::new();
            let (b, w) = turn(&mut st, pid, now, shared.opts.budget, &shared.advertise, &mut notes, &mut jobs);
            super::settle(&mut st, pid);
            busy |= b;
            wake = match (wake, w) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for (tx, input) in notes {
                let _ = tx.send(input);
            }
            for job in jobs {
                forward::start(shared, job);
            }
            if b && shared.waiters.load(Ordering::SeqCst) > 0 {
                // A mutex is not fair: let the waiting threads have their turn first.
                drop(st);
                let t = std::time::Instant::now();
                std::thread::yield_now();
                while shared.waiters.load(Ordering::SeqCst) > 0 && t.elapsed() < Duration::from_millis(5) {
                    std::thread::sleep(Duration::from_micros(20));
                }
                st = lock(&shared.state);
            }
            continue;
        }
        // The end of a round.
        cursor = 0;
        if !std::mem::take(&mut busy) && !st.kicked {
            let wait = wake.map_or(Duration::from_millis(200), |t| {
                Duration::from_micros(t.as_micros().saturating_sub(now.as_micros()).clamp(50, 200_000))
            });
            st = shared.kick.wait_timeout(st, wait).map_or_else(|e| e.into_inner().0, |(g, _)| g);
        } else if shared.waiters.load(Ordering::SeqCst) > 0 {
            drop(st);
            std::thread::yield_now();
            st = lock(&shared.state);
        }
        wake = None;
        st.kicked = false;
    }
}

type Notes = Vec<(std::sync::mpsc::Sender<Input>, Input)>;

/// One slice of process `pid` if it may run: whether it can run again at once, and when it
/// wakes if it waits; inputs for migration pumps go to `notes`, channel calls for a home node
/// (this node is `here`) to `jobs`.
fn turn<F: NodeFs>(
    st: &mut State<F>,
    pid: u64,
    now: Instant,
    budget: u64,
    here: &str,
    notes: &mut Notes,
    jobs: &mut Vec<Job>,
) -> (bool, Option<Instant>) {
    let State { store, services, procs, .. } = st;
    let Some(Entry::Live(lp)) = procs.get_mut(&pid) else { return (false, None) };
    if lp.outcome.is_some() || lp.stopped || lp.handed_off || lp.fault.is_some() || lp.forward.is_some() {
        return (false, None);
    }
    if let Some(t) = lp.poll_at {
        if t > now {
            return (false, Some(t));
        }
        // Away from home and parked on a receive: ask the home node again.
        lp.poll_at = None;
        lp.process.wake_parked();
        lp.waiting = None;
    }
    match lp.waiting {
        Some(Some(t)) if t > now => return (false, Some(t)),
        Some(None) => return (false, None),
        _ => lp.waiting = None,
    }
    let budget = budget * u64::from(lp.throttle.max(1)) / 100;
    let mut result = (false, None);
    match slice(lp, store, services, now, budget.max(1000), here) {
        Slice::Busy => result.0 = true,
        Slice::Wait(t) => {
            lp.waiting = Some(t);
            result.1 = t;
            if lp.home != here && lp.process.cb.threads.iter().any(|t| t.state == ThreadState::Parked) {
                // Away from home nothing here tells a parked receive that a message came: it
                // asks its home node again after a while.
                let poll = now + CoreDuration::from_micros(forward::POLL.as_micros() as u64);
                lp.poll_at = Some(poll);
                result.1 = Some(t.map_or(poll, |t| t.min(poll)));
            }
        }
        Slice::PageFault(vpn) => match &lp.pump {
            Some((_, tx)) => {
                lp.fault = Some(vpn);
                notes.push((tx.clone(), Input::Fault(vpn)));
            }
            // A page that is not here and no migration to fetch it from: a host bug.
            None => end(lp, store, host_fault(FaultKind::LostFrame, vpn << 12), notes),
        },
        Slice::Ended(o) => end(lp, store, o, notes),
        Slice::Forward(op) => {
            lp.forward = Some(lp.chan_seq);
            jobs.push(Job { home: lp.home.clone(), pid, seq: lp.chan_seq, op });
        }
    }
    if std::mem::take(&mut services.channels.woke) {
        super::wake_parked(procs);
        result.0 = true;
    }
    result
}

/// Records the end of a process; frees its frames unless a migration still reads them (its
/// pump frees them when it is done).
fn end(lp: &mut LiveProc, store: &mut HeapStore, o: Outcome, notes: &mut Notes) {
    lp.outcome = Some(o);
    // With pages still remote (post-copy) the destination's pump takes it once they are here.
    lp.checksum = lp.process.mem.checksum(store).unwrap_or(0);
    match &lp.pump {
        Some((_, tx)) => notes.push((tx.clone(), Input::Ended)),
        None => lp.process.mem.clear(store),
    }
}

fn slice<F: NodeFs>(
    lp: &mut LiveProc,
    store: &mut HeapStore,
    services: &mut Services<F>,
    now: Instant,
    budget: u64,
    here: &str,
) -> Slice {
    let LiveProc { process: p, console, home, chan_seq, .. } = lp;
    let start = p.cb.instret;
    loop {
        // A call left outstanding (by a migration, or an answer dropped) is issued again.
        let call = match p.pending(store) {
            Some((_, call)) => call,
            // Outstanding, but its buffer is on a page still remote (post-copy): fetch it.
            None if let Some(vpn) = p.pending_page(store) => return Slice::PageFault(vpn),
            None => {
                let left = budget.saturating_sub(p.cb.instret.wrapping_sub(start));
                if left == 0 {
                    return Slice::Busy;
                }
                match p.run(store, now, left) {
                    Event::Budget => return Slice::Busy,
                    Event::Call { call, .. } => call,
                    Event::Idle { wake_at } => return Slice::Wait(wake_at),
                    Event::PageFault { vpn } => return Slice::PageFault(vpn),
                    Event::Exited { code } => return Slice::Ended(Outcome::Exited(code)),
                    Event::Faulted(f) => return Slice::Ended(Outcome::Faulted(f)),
                }
            }
        };
        let reply = match chan::op_of(&**p, store, &call) {
            // Channels are the home node's: performed here only at home.
            Some(Ok(op)) if *home != here => return Slice::Forward(op),
            Some(Ok(op)) => {
                let r = services.channels.call(p.cb.pid, *chan_seq, op);
                *chan_seq += 1;
                chan::reply_of(&mut **p, store, &call, r)
            }
            Some(Err(e)) => tern_core::proc::Reply::Error(e),
            None => services.serve(&mut **p, store, call, &mut |b| LiveProc::console_out(console, b)),
        };
        if p.complete(store, reply).is_err() {
            // A reply the VM refuses is a bug of this host: end the process loudly.
            return Slice::Ended(host_fault(FaultKind::BadSyscallArg, 0));
        }
        if services.channels.woke {
            return Slice::Busy;
        }
    }
}
