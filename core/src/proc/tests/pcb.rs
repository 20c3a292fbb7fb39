//! The control block codec: round trips, bounds, hostile bytes; and runs interrupted at every
//! point, encoded, decoded and moved to a fresh address space, matching an uninterrupted run.

use super::asm::*;
use crate::fs::Handle;
use crate::proc::pcb::{MAX_CHANNELS, MAX_FDS, MAX_THREADS};
use crate::proc::{
    Access, ChanEnd, ControlBlock, Event, Fault, FaultKind, FdEntry, PcbError, Regs, Status, Thread, ThreadState,
};
use crate::time::Instant;

fn full_block() -> ControlBlock {
    let mut cb = ControlBlock::new(u64::MAX, 77);
    let states = [
        ThreadState::Runnable,
        ThreadState::Parked,
        ThreadState::Sleeping { until: 1 << 40 },
        ThreadState::Joining { tid: 3 },
        ThreadState::FutexWait { addr: 0x1234, until: u64::MAX },
        ThreadState::Exited { code: -9 },
    ];
    for tid in 0..MAX_THREADS as u32 {
        let mut regs = Regs::new(0x1000 + tid);
        for (i, x) in regs.x.iter_mut().enumerate().skip(1) {
            *x = ((i as u32) * 0x0101_0101) ^ tid;
        }
        regs.reservation = (tid % 2 == 0).then_some(0x2000 + tid);
        cb.threads.push(Thread { tid, regs, state: states[tid as usize % states.len()] }).unwrap();
    }
    cb.next_tid = 99;
    cb.current = 5;
    cb.quantum_left = 17;
    for (i, f) in cb.fds.iter_mut().enumerate() {
        *f = Some(FdEntry {
            fs: i as u32,
            handle: Handle::new(&[i as u8; 56]).unwrap(),
            offset: u64::MAX - 1,
            flags: 2,
        });
    }
    for (i, c) in cb.channels.iter_mut().enumerate() {
        *c = Some(ChanEnd { channel: u64::MAX - i as u64, end: (i % 2) as u8 });
    }
    cb.brk_start = 0x3000;
    cb.brk = 0x5123;
    cb.brk_limit = 0x8000;
    cb.instret = 1 << 50;
    cb.status = Status::Running;
    cb
}

#[test]
fn roundtrip_and_the_size_bound() {
    let cb = full_block();
    assert_eq!((cb.threads.len(), cb.fds.len(), cb.channels.len()), (MAX_THREADS, MAX_FDS, MAX_CHANNELS));
    let mut buf = std::vec![0u8; ControlBlock::MAX_ENCODED];
    let n = cb.encode(&mut buf).unwrap();
    assert_eq!(n, ControlBlock::MAX_ENCODED, "a full block is exactly the bound");
    assert_eq!(ControlBlock::decode(&buf[..n]).unwrap(), cb);
    assert_eq!(cb.encode(&mut buf[..n - 1]), Err(PcbError::BufferFull));
    for status in [
        Status::Exited(-3),
        Status::Faulted(Fault { tid: 2, pc: 0x10, kind: FaultKind::Misaligned(Access::Store), addr: 7 }),
    ] {
        let mut c = ControlBlock::new(1, 2);
        c.status = status;
        let n = c.encode(&mut buf).unwrap();
        assert_eq!(ControlBlock::decode(&buf[..n]).unwrap(), c);
    }
}

#[test]
fn hostile_bytes_are_refused() {
    let cb = full_block();
    let mut buf = std::vec![0u8; ControlBlock::MAX_ENCODED + 4];
    let n = cb.encode(&mut buf).unwrap();
    for cut in 0..n {
        assert!(ControlBlock::decode(&buf[..cut]).is_err(), "truncated at {cut}");
    }
    assert_eq!(ControlBlock::decode(&buf[..n + 4]), Err(PcbError::Malformed), "trailing bytes");
    let mut bad = buf[..n].to_vec();
    bad[0] ^= 1;
    assert_eq!(ControlBlock::decode(&bad), Err(PcbError::BadMagic));
    // Flip every byte in turn: decode never panics, and whatever decodes is self-consistent.
    for i in 0..n {
        let mut b = buf[..n].to_vec();
        b[i] ^= 0xa5;
        if let Ok(c) = ControlBlock::decode(&b) {
            assert!(c.threads.iter().all(|t| t.regs.x[0] == 0));
        }
    }
    // Too many threads claimed.
    let mut c = ControlBlock::new(1, 2);
    c.threads.push(Thread { tid: 0, regs: Regs::new(0), state: ThreadState::Runnable }).unwrap();
    c.next_tid = 1;
    let m = c.encode(&mut buf).unwrap();
    let count_at = 4 + 8 + 8 + 4 * 6 + 8 + 4 * 6;
    buf[count_at..count_at + 4].copy_from_slice(&17u32.to_be_bytes());
    assert_eq!(ControlBlock::decode(&buf[..m]), Err(PcbError::TooMany));
    buf[count_at..count_at + 4].copy_from_slice(&1u32.to_be_bytes());
    assert!(ControlBlock::decode(&buf[..m]).is_ok());
    // A current thread that does not exist.
    c.current = 4;
    let m = c.encode(&mut buf).unwrap();
    assert_eq!(ControlBlock::decode(&buf[..m]), Err(PcbError::Inconsistent));
}

/// A program with two threads, atomics, a heap and a sleep-free schedule, whose exit code and
/// memory depend on every instruction.
fn busy_program() -> Asm {
    const WORKER: u32 = BASE + 0x200;
    let mut a = Asm::default();
    a.li(A0, 0x40_000).sys(crate::proc::abi::BRK); // heap to 0x40000
    a.addi(SP, SP, -16).sw(ZERO, SP, 0).addi(S0, SP, 0);
    a.li(A0, WORKER).addi(A1, S0, -1024).li(A2, 0x3000).sys(crate::proc::abi::SPAWN).addi(S1, A0, 0);
    a.li(A0, WORKER).addi(A1, S0, -2048).li(A2, 0x20_000).sys(crate::proc::abi::SPAWN).addi(T2, A0, 0);
    a.addi(A0, S1, 0).sys(crate::proc::abi::JOIN).addi(A3, A0, 0);
    a.addi(A0, T2, 0).sys(crate::proc::abi::JOIN).op(0, 4, A0, A0, A3).exit();
    while a.pc() < WORKER {
        a.bytes.push(0);
    }
    // worker(a0 = region): 25,000 rounds of an LCG writing words over 16 pages; exit(hash).
    a.addi(S0, A0, 0).li(T0, 25_000).li(T1, 12345).li(A3, 1_103_515_245);
    let top = a.pc();
    a.op(1, 0, T1, T1, A3).addi(T1, T1, 1234);
    a.li(A1, 0xfffc).op(0, 7, A1, T1, A1).op(0, 0, A1, A1, S0); // addr = base + (x & 0xfffc)
    a.sw(T1, A1, 0).addi(T0, T0, -1).branch(1, T0, ZERO, top);
    a.addi(A0, T1, 0).sys(crate::proc::abi::THREAD_EXIT);
    a
}

#[test]
fn interrupted_runs_match_an_uninterrupted_one() {
    let a = busy_program();
    let (mut p, mut s) = load(&a);
    let end = run(&mut p, &mut s);
    assert!(matches!(end, Event::Exited { .. }), "{end:?}");
    let (want_sum, want_instret) = (p.mem.checksum(&*s).unwrap(), p.cb.instret);

    // Stop after pseudo-random budgets; each time move everything to a fresh process and
    // store through the codec and a page copy.
    let mut x = 0x9e37_79b9u32;
    let (mut p, mut s) = load(&a);
    let mut buf = std::vec![0u8; ControlBlock::MAX_ENCODED];
    let mut moves = 0;
    let got = loop {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        match p.run(&mut *s, Instant::ZERO, u64::from(x % 20_000)) {
            Event::Budget => {}
            e => break e,
        }
        let n = p.cb.encode(&mut buf).unwrap();
        let (mut q, mut t) = (std::boxed::Box::new(Proc::new()), std::boxed::Box::new(Store::new()));
        q.cb = ControlBlock::decode(&buf[..n]).unwrap();
        for pg in p.mem.pages() {
            match p.mem.read_page(&*s, pg.vpn).unwrap() {
                Some(page) => q.mem.install_page(&mut *t, pg.vpn, page).unwrap(),
                None => q.mem.install_zero(&mut *t, pg.vpn).unwrap(),
            }
        }
        (p, s) = (q, t);
        moves += 1;
    };
    assert!(moves > 20, "{moves}");
    assert_eq!(got, end);
    assert_eq!((p.mem.checksum(&*s).unwrap(), p.cb.instret), (want_sum, want_instret));
}
