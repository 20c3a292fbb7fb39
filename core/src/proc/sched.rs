//! The run loop and the thread schedule.
//!
//! Schedule: the current thread runs until its quantum ([`QUANTUM`] instructions, a system
//! call counting as one) is used up or it blocks; then the next runnable thread in thread-id
//! order (wrapping) gets a fresh quantum. The quantum's remainder and the current thread are
//! in the control block, so the schedule is the same however a run is cut into `run` calls.
//! Switching to another thread drops the previous thread's LR reservation (an SC after a
//! switch fails, which the A extension allows). Sleeping and timed futex waits become
//! runnable at the start of a `run` whose `now` has reached their time.

use super::exec::{self, Counters, Step};
use super::pcb::{ControlBlock, QUANTUM, Status, ThreadState};
use super::syscall::{self, Sys};
use super::{Event, Fault, FaultKind, PageStore, Process};
use crate::time::Instant;

pub(super) fn run<const P: usize, S: PageStore + ?Sized>(
    p: &mut Process<P>,
    store: &mut S,
    now: u64,
    budget: u64,
) -> Event {
    match p.cb.status {
        Status::Exited(code) => return Event::Exited { code },
        Status::Faulted(f) => return Event::Faulted(f),
        Status::Running => {}
    }
    wake_timers(&mut p.cb, now);
    // An unanswered host call is issued again: its thread is the current one and its pc is
    // still at the ECALL, so it simply re-executes.
    for t in p.cb.threads.iter_mut() {
        if t.state == ThreadState::HostCall {
            t.state = ThreadState::Runnable;
        }
    }
    let mut left = budget;
    loop {
        let Some(i) = pick(&mut p.cb) else { return idle(p) };
        if left == 0 {
            return Event::Budget;
        }
        let n = left.min(u64::from(p.cb.quantum_left));
        let mut done = 0u64;
        let outcome = match p.cb.threads.get_mut(i) {
            Some(t) => loop {
                if done == n {
                    break None;
                }
                let c = Counters { instret: p.cb.instret.wrapping_add(done), time: now };
                match exec::step(&mut t.regs, &mut p.mem, store, c) {
                    Step::Next => done += 1,
                    other => break Some(other),
                }
            },
            None => None,
        };
        p.cb.instret = p.cb.instret.wrapping_add(done);
        p.cb.quantum_left -= done as u32;
        left -= done;
        match outcome {
            None | Some(Step::Next) => {}
            Some(Step::Ecall) => match syscall::ecall(p, i, store, now) {
                Sys::Done => retire(&mut p.cb, &mut left),
                Sys::Switch => {
                    retire(&mut p.cb, &mut left);
                    p.cb.quantum_left = 0;
                }
                Sys::Host(call) => {
                    let Some(t) = p.cb.threads.get_mut(i) else { return idle(p) };
                    t.state = ThreadState::HostCall;
                    return Event::Call { tid: t.tid, call };
                }
                Sys::PageFault(vpn) => return Event::PageFault { vpn },
                Sys::Fault(kind, addr) => return fault(p, i, kind, addr),
                Sys::Exit(code) => {
                    retire(&mut p.cb, &mut left);
                    p.cb.status = Status::Exited(code);
                    return Event::Exited { code };
                }
            },
            Some(Step::PageFault(vpn)) => return Event::PageFault { vpn },
            Some(Step::Fault(kind, addr)) => return fault(p, i, kind, addr),
        }
    }
}

/// Counts a completed system call as one instruction.
fn retire(cb: &mut ControlBlock, left: &mut u64) {
    cb.instret = cb.instret.wrapping_add(1);
    cb.quantum_left = cb.quantum_left.saturating_sub(1);
    *left = left.saturating_sub(1);
}

fn fault<const P: usize>(p: &mut Process<P>, i: usize, kind: FaultKind, addr: u32) -> Event {
    let (tid, pc) = p.cb.threads.get(i).map_or((p.cb.current, 0), |t| (t.tid, t.regs.pc));
    let f = Fault { tid, pc, kind, addr };
    p.cb.status = Status::Faulted(f);
    Event::Faulted(f)
}

/// Makes sleeping threads and timed futex waits whose time has come runnable.
fn wake_timers(cb: &mut ControlBlock, now: u64) {
    for t in cb.threads.iter_mut() {
        match t.state {
            ThreadState::Sleeping { until } if until <= now => t.state = ThreadState::Runnable,
            ThreadState::FutexWait { until, .. } if until <= now => {
                t.state = ThreadState::Runnable;
                t.regs.x[10] = (-super::abi::errno::ETIMEDOUT) as u32;
            }
            _ => {}
        }
    }
}

/// The index of the thread to run now, switching threads when the quantum is used up or the
/// current thread cannot run; `None` when no thread can run.
fn pick(cb: &mut ControlBlock) -> Option<usize> {
    let runnable = |s: ThreadState| s == ThreadState::Runnable;
    if cb.quantum_left > 0
        && let Some(i) = cb.index_of(cb.current)
        && cb.threads.get(i).is_some_and(|t| runnable(t.state))
    {
        return Some(i);
    }
    let cur = cb.current;
    let i = cb
        .threads
        .iter()
        .position(|t| t.tid > cur && runnable(t.state))
        .or_else(|| cb.threads.iter().position(|t| runnable(t.state)))?;
    let tid = cb.threads.get(i)?.tid;
    if tid != cur
        && let Some(old) = cb.index_of(cur).and_then(|o| cb.threads.get_mut(o))
    {
        old.regs.reservation = None;
    }
    cb.current = tid;
    cb.quantum_left = QUANTUM;
    Some(i)
}

/// No thread can run: report the earliest time-out, a wait for the host, or a deadlock.
fn idle<const P: usize>(p: &mut Process<P>) -> Event {
    let mut wake: Option<u64> = None;
    let mut parked = false;
    for t in &p.cb.threads {
        let until = match t.state {
            ThreadState::Sleeping { until } => until,
            ThreadState::FutexWait { until, .. } if until != u64::MAX => until,
            ThreadState::Parked | ThreadState::HostCall => {
                parked = true;
                continue;
            }
            _ => continue,
        };
        wake = Some(wake.map_or(until, |w| w.min(until)));
    }
    if wake.is_some() || parked {
        return Event::Idle { wake_at: wake.map(Instant::from_micros) };
    }
    let i = p.cb.index_of(p.cb.current).unwrap_or(0);
    fault(p, i, FaultKind::Deadlock, 0)
}
