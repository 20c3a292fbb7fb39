//! Threads: spawn, join, round-robin quanta, futexes, sleep, deadlock detection.

use super::asm::*;
use crate::proc::abi::{self, errno};
use crate::proc::{Event, FaultKind, QUANTUM, ThreadState};
use crate::time::Instant;

const WORKER: u32 = BASE + 0x200;

/// Pads `a` with zeros up to `addr`.
fn pad_to(a: &mut Asm, addr: u32) {
    assert!(a.pc() <= addr);
    while a.pc() < addr {
        a.bytes.push(0);
    }
}

#[test]
fn two_workers_share_a_counter() {
    let mut a = Asm::default();
    a.addi(SP, SP, -16).sw(ZERO, SP, 0).addi(S0, SP, 0);
    a.li(A0, WORKER).addi(A1, S0, -1024).addi(A2, S0, 0).sys(abi::SPAWN).addi(S1, A0, 0);
    a.li(A0, WORKER).addi(A1, S0, -2048).addi(A2, S0, 0).sys(abi::SPAWN).addi(T2, A0, 0);
    a.addi(A0, S1, 0).sys(abi::JOIN).addi(A3, A0, 0);
    a.addi(A0, T2, 0).sys(abi::JOIN).op(0, 0, A3, A3, A0);
    a.lw(A0, S0, 0).op(0, 0, A0, A0, A3).exit();
    pad_to(&mut a, WORKER);
    // worker(a0 = &counter): 30000 × amoadd.w zero, t1, (a0); thread_exit(7)
    a.li(T0, 30_000).addi(T1, ZERO, 1);
    let top = a.pc();
    a.w((T1 << 20) | (A0 << 15) | (2 << 12) | 0x2f).addi(T0, T0, -1).branch(1, T0, ZERO, top);
    a.addi(A0, ZERO, 7).sys(abi::THREAD_EXIT);
    let (mut p, mut s) = load(&a);
    // Small budgets: watch the schedule switch threads at quantum boundaries only.
    let mut seen = std::vec::Vec::new();
    let e = loop {
        match p.run(&mut *s, Instant::ZERO, 3_333) {
            Event::Budget => {
                if seen.last() != Some(&p.cb.current) {
                    seen.push(p.cb.current);
                }
            }
            e => break e,
        }
    };
    assert_eq!(e, Event::Exited { code: 60_000 + 14 });
    assert!(seen.windows(2).filter(|w| *w == [1, 2]).count() >= 5, "{seen:?}");
    assert_eq!(p.cb.threads.len(), 1, "joined threads are reaped");
    assert!(p.cb.quantum_left <= QUANTUM);
}

#[test]
fn futex_wait_and_wake() {
    let mut a = Asm::default();
    a.addi(SP, SP, -16).sw(ZERO, SP, 0).addi(S0, SP, 0);
    a.li(A0, WORKER).addi(A1, S0, -1024).addi(A2, S0, 0).sys(abi::SPAWN).addi(T2, A0, 0);
    a.sys(abi::YIELD);
    a.addi(T0, ZERO, 1).sw(T0, S0, 0).addi(A0, S0, 0).addi(A1, ZERO, 1).sys(abi::FUTEX_WAKE).addi(S1, A0, 0);
    a.addi(A0, T2, 0).sys(abi::JOIN).li(T0, 1000);
    a.op(1, 0, S1, S1, T0).op(0, 0, A0, A0, S1).exit();
    pad_to(&mut a, WORKER);
    a.addi(A1, ZERO, 0).addi(A2, ZERO, 0).sys(abi::FUTEX_WAIT);
    a.addi(A0, A0, 100).sys(abi::THREAD_EXIT);
    let (mut p, mut s) = load(&a);
    assert_eq!(run(&mut p, &mut s), Event::Exited { code: 1100 });

    // A changed value gives -EAGAIN at once.
    let mut a = Asm::default();
    a.addi(SP, SP, -16).addi(T0, ZERO, 5).sw(T0, SP, 0);
    a.addi(A0, SP, 0).addi(A1, ZERO, 4).addi(A2, ZERO, 0).sys(abi::FUTEX_WAIT).exit();
    let (mut p, mut s) = load(&a);
    assert_eq!(run(&mut p, &mut s), Event::Exited { code: -errno::EAGAIN });
}

#[test]
fn sleep_and_timed_wait_report_their_wake_time() {
    let mut a = Asm::default();
    a.addi(A0, ZERO, 500).addi(A1, ZERO, 0).sys(abi::SLEEP);
    a.addi(SP, SP, -16).sw(ZERO, SP, 0);
    a.addi(A0, SP, 0).addi(A1, ZERO, 0).addi(A2, ZERO, 100).sys(abi::FUTEX_WAIT).addi(S0, A0, 0);
    a.sys(abi::CLOCK).op(0, 0, A0, A0, S0).exit();
    let (mut p, mut s) = load(&a);
    let at = |us| Instant::from_micros(us);
    assert_eq!(p.run(&mut *s, at(0), 100), Event::Idle { wake_at: Some(at(500)) });
    assert_eq!(p.run(&mut *s, at(499), 100), Event::Idle { wake_at: Some(at(500)) });
    assert_eq!(p.run(&mut *s, at(600), 100), Event::Idle { wake_at: Some(at(700)) });
    assert_eq!(p.run(&mut *s, at(700), 100), Event::Exited { code: 700 - errno::ETIMEDOUT });
}

#[test]
fn join_errors_and_deadlock() {
    let mut a = Asm::default();
    a.addi(A0, ZERO, 0).sys(abi::JOIN).addi(S0, A0, 0); // join self: -EDEADLK
    a.addi(A0, ZERO, 9).sys(abi::JOIN).op(0, 0, A0, A0, S0).exit(); // unknown: -ESRCH
    let (mut p, mut s) = load(&a);
    assert_eq!(run(&mut p, &mut s), Event::Exited { code: -errno::EDEADLK - errno::ESRCH });

    // Main joins a thread that waits forever on a futex nobody wakes.
    let mut a = Asm::default();
    a.addi(SP, SP, -16).sw(ZERO, SP, 0).addi(S0, SP, 0);
    a.li(A0, WORKER).addi(A1, S0, -1024).addi(A2, S0, 0).sys(abi::SPAWN);
    a.sys(abi::JOIN);
    pad_to(&mut a, WORKER);
    a.addi(A1, ZERO, 0).addi(A2, ZERO, 0).sys(abi::FUTEX_WAIT);
    let (mut p, mut s) = load(&a);
    match run(&mut p, &mut s) {
        Event::Faulted(f) => assert_eq!(f.kind, FaultKind::Deadlock),
        e => panic!("{e:?}"),
    }
}

#[test]
fn thread_table_is_bounded_and_exit_codes_wait_for_join() {
    // Spawn threads that exit at once until the table is full.
    let mut a = Asm::default();
    a.addi(S1, ZERO, 0);
    let top = a.pc();
    a.li(A0, WORKER).addi(A1, SP, -256).addi(A2, ZERO, 0).sys(abi::SPAWN);
    a.addi(S1, S1, 1).branch(5, A0, ZERO, top); // bge a0, zero: loop while spawn succeeds
    a.addi(S0, A0, 0).addi(A0, ZERO, 5).sys(abi::JOIN); // thread 5 exited long ago
    a.op(0, 0, A0, A0, S0).op(0, 0, A0, A0, S1).exit();
    pad_to(&mut a, WORKER);
    a.addi(A0, ZERO, 40).sys(abi::THREAD_EXIT);
    let (mut p, mut s) = load(&a);
    // 15 spawns succeed (16 threads), the 16th fails: s1 = 16.
    assert_eq!(run(&mut p, &mut s), Event::Exited { code: 40 - errno::EAGAIN + 16 });
    assert!(p.cb.threads.iter().skip(1).all(|t| matches!(t.state, ThreadState::Exited { code: 40 })));
}
