//! Programs through the whole interpreter: every instruction class, M and A edge cases,
//! counters, faults and page faults.

use super::asm::*;
use crate::proc::exec::alu;
use crate::proc::{Access, AluOp, Event, Fault, FaultKind, PAGE_SIZE, Status};
use crate::time::Instant;

/// Runs `a` (which must end in exit) and returns the registers at the exit.
fn regs_after(a: &Asm) -> [u32; 32] {
    let (mut p, mut s) = load(a);
    let e = run(&mut p, &mut s);
    assert!(matches!(e, Event::Exited { .. }), "{e:?}");
    p.cb.threads[0].regs.x
}

/// Runs `a` to its fault.
fn fault_of(a: &Asm) -> Fault {
    let (mut p, mut s) = load(a);
    match run(&mut p, &mut s) {
        Event::Faulted(f) => {
            assert_eq!(p.status(), Status::Faulted(f));
            f
        }
        e => panic!("expected a fault, got {e:?}"),
    }
}

#[test]
fn alu_and_m_edge_cases() {
    use AluOp::*;
    let min = i32::MIN as u32;
    let cases = [
        (Div, 7, 0, u32::MAX),
        (Divu, 7, 0, u32::MAX),
        (Rem, 7, 0, 7),
        (Remu, 7, 0, 7),
        (Div, min, u32::MAX, min),
        (Rem, min, u32::MAX, 0),
        (Div, (-7i32) as u32, 2, (-3i32) as u32),
        (Rem, (-7i32) as u32, 2, (-1i32) as u32),
        (Divu, (-7i32) as u32, 2, 0x7fff_fffc),
        (Remu, 7, 3, 1),
        (Mul, 0x1234_5678, 0x9abc_def0, 0x1234_5678u32.wrapping_mul(0x9abc_def0)),
        (Mulh, (-1i32) as u32, (-1i32) as u32, 0),
        (Mulh, min, min, 0x4000_0000),
        (Mulhu, u32::MAX, u32::MAX, 0xffff_fffe),
        (Mulhsu, (-1i32) as u32, u32::MAX, u32::MAX),
        (Mulhsu, 2, u32::MAX, 1),
        (Sll, 1, 33, 2),
        (Srl, 0x8000_0000, 31, 1),
        (Sra, 0x8000_0000, 31, u32::MAX),
        (Slt, (-1i32) as u32, 0, 1),
        (Sltu, (-1i32) as u32, 0, 0),
        (Sub, 0, 1, u32::MAX),
    ];
    for (op, a, b, want) in cases {
        assert_eq!(alu(op, a, b), want, "{op:?} {a:#x} {b:#x}");
    }
}

#[test]
fn program_arithmetic_branches_jumps() {
    let mut a = Asm::default();
    a.li(A0, 100).li(A1, 0xffff_fff9); // -7
    a.op(1, 4, A2, A0, A1); // div a2 = 100 / -7 = -14
    a.op(1, 6, A3, A0, A1); // rem a3 = 2
    a.op(0x20, 0, T0, A0, A1); // sub t0 = 107
    a.op(0, 2, T1, A1, A0); // slt t1 = 1
    // Loop: s0 = sum 1..=10 with a backward branch.
    a.addi(S0, ZERO, 0).addi(S1, ZERO, 10);
    let top = a.pc();
    a.op(0, 0, S0, S0, S1).addi(S1, S1, -1).branch(1, S1, ZERO, top); // bne
    // jal over a poison instruction; the link lands in ra.
    let here = a.pc();
    a.jal(RA, here + 8).w(0); // illegal if executed
    // auipc t2 = pc of the auipc.
    let at = a.pc();
    a.w((T2 << 7) | 0x17);
    // jalr through a register to skip another poison word.
    a.addi(A7, T2, 4 * 4); // target: past auipc, addi, jalr and the poison word
    a.w(crate::proc::decode::i_type(0, A7, 0, ZERO, 0x67)).w(0);
    a.addi(A0, ZERO, 0).exit();
    let x = regs_after(&a);
    assert_eq!(x[A2 as usize], (-14i32) as u32);
    assert_eq!(x[A3 as usize], 2);
    assert_eq!(x[T0 as usize], 107);
    assert_eq!(x[T1 as usize], 1);
    assert_eq!(x[S0 as usize], 55);
    assert_eq!(x[RA as usize], here + 4);
    assert_eq!(x[T2 as usize], at);
}

#[test]
fn loads_stores_sign_extension() {
    let mut a = Asm::default();
    a.addi(SP, SP, -16).li(T0, 0x8081_fff0).sw(T0, SP, 0);
    a.w(crate::proc::decode::i_type(3, SP, 0, A0, 0x03)); // lb a0, 3(sp) = 0x80 -> sign
    a.w(crate::proc::decode::i_type(3, SP, 4, A1, 0x03)); // lbu a1, 3(sp)
    a.w(crate::proc::decode::i_type(2, SP, 1, A2, 0x03)); // lh a2, 2(sp) = 0x8081
    a.w(crate::proc::decode::i_type(2, SP, 5, A3, 0x03)); // lhu a3, 2(sp)
    a.addi(T1, ZERO, 0x55).sb(T1, SP, 1);
    a.lw(S0, SP, 0);
    a.addi(A7, ZERO, crate::proc::abi::EXIT as i32).ecall();
    let x = regs_after(&a);
    assert_eq!(x[A0 as usize], 0xffff_ff80);
    assert_eq!(x[A1 as usize], 0x80);
    assert_eq!(x[A2 as usize], 0xffff_8081);
    assert_eq!(x[A3 as usize], 0x8081);
    assert_eq!(x[S0 as usize], 0x8081_55f0);
}

#[test]
fn compressed_program() {
    let mut a = Asm::default();
    a.h(0x4515); // c.li a0, 5
    a.h(0x0505); // c.addi a0, 1
    a.h(0x85aa); // c.mv a1, a0
    a.h(0x952e); // c.add a0, a1 -> 12
    a.h(0x0506); // c.slli a0, 1 -> 24
    a.h(0xa011); // c.j +4 (skips the next halfword)
    a.h(0x0000); // illegal, skipped
    a.h(0x1141); // c.addi sp, -16
    a.h(0xc02a); // c.swsp a0, 0(sp)
    a.h(0x4602); // c.lwsp a2, 0(sp)
    a.h(0x8a05); // c.andi a2, 1 -> 0
    a.h(0xe211); // c.bnez a2, +4 (not taken)
    a.h(0x4685); // c.li a3, 1
    a.h(0x4712); // c.lwsp a4, 4(sp) (stack contents: 0)
    a.align4();
    a.exit();
    let x = regs_after(&a);
    assert_eq!(x[A0 as usize], 24);
    assert_eq!(x[A1 as usize], 6);
    assert_eq!(x[A2 as usize], 0);
    assert_eq!(x[A3 as usize], 1);
}

#[test]
fn counters_and_csr_faults() {
    let mut a = Asm::default();
    a.addi(T0, ZERO, 1).addi(T0, T0, 1); // two instructions
    a.w(0xc0202573); // rdinstret a0 (instructions retired before it: 2)
    a.w(0xc01025f3); // rdtime a1
    a.w(0xc8102673); // rdtimeh a2
    a.w(0xc00026f3); // rdcycle a3
    a.exit();
    let (mut p, mut s) = load(&a);
    let now = Instant::from_micros(0x1_0000_0042);
    assert_eq!(p.run(&mut *s, now, 100), Event::Exited { code: 2 });
    let x = p.cb.threads[0].regs.x;
    assert_eq!((x[A1 as usize], x[A2 as usize]), (0x42, 1));
    assert_eq!(x[A3 as usize], 5);
    // 2 + 4 CSR reads + addi a7 + ecall
    assert_eq!(p.cb.instret, 8);

    for word in [0xc0159573u32, 0x34002573, 0xc0001073] {
        // csrrw to time; mscratch; unimp (csrrw x0, cycle, x0)
        let mut a = Asm::default();
        a.addi(T0, ZERO, 1).w(word).exit();
        let f = fault_of(&a);
        assert_eq!((f.kind, f.pc, f.addr), (FaultKind::IllegalInstruction, BASE + 4, word));
    }
}

#[test]
fn atomics() {
    fn amo(funct5: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
        (funct5 << 27) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x2f
    }
    let mut a = Asm::default();
    a.addi(SP, SP, -16).addi(T0, ZERO, 40).sw(T0, SP, 0).addi(S0, SP, 0);
    a.addi(A2, ZERO, 2);
    a.w(amo(0x02, A0, S0, 0)); // lr.w a0, (s0) -> 40
    a.w(amo(0x03, A1, S0, A2)); // sc.w a1, a2, (s0) -> 0, memory 2
    a.w(amo(0x03, A3, S0, A2)); // sc.w a3, a2, (s0) again: no reservation -> 1
    a.addi(T1, ZERO, -5);
    a.w(amo(0x00, T1, S0, T1)); // amoadd.w t1, t1, (s0): t1 = 2, memory -3
    a.lw(S1, S0, 0);
    a.exit();
    assert_eq!(amo(0x02, A0, 11, 0), 0x1005a52f, "lr.w a0, (a1) as llvm-mc encodes it");
    let x = regs_after(&a);
    assert_eq!(x[A1 as usize], 0, "sc after lr succeeds");
    assert_eq!(x[A3 as usize], 1, "sc without a reservation fails");
    assert_eq!(x[T1 as usize], 2, "amoadd returns the old value");
    assert_eq!(x[S1 as usize], (-3i32) as u32);

    // Every AMO on memory value 6 with source -2.
    let ops: [(u32, u32, u32); 9] = [
        (0x08, 6, (-2i32) as u32), // swap
        (0x00, 6, 4),              // add
        (0x20, 6, 6 ^ (-2i32) as u32),
        (0x60, 6, 6 & (-2i32) as u32),
        (0x40, 6, 6 | (-2i32) as u32),
        (0x80, 6, (-2i32) as u32), // min
        (0xa0, 6, 6),              // max
        (0xc0, 6, 6),              // minu
        (0xe0, 6, (-2i32) as u32), // maxu
    ];
    for (top, old, new) in ops {
        let mut a = Asm::default();
        a.addi(SP, SP, -16).addi(T0, ZERO, 6).sw(T0, SP, 0).addi(S0, SP, 0).addi(A2, ZERO, -2);
        a.w((top << 24) | (12 << 20) | (8 << 15) | (2 << 12) | (10 << 7) | 0x2f);
        a.lw(S1, S0, 0).exit();
        let x = regs_after(&a);
        assert_eq!((x[A0 as usize], x[S1 as usize]), (old, new), "amo {top:#x}");
    }
}

#[test]
fn faults_report_pc_kind_address() {
    let mut a = Asm::default();
    a.addi(T0, ZERO, 1).w(0xffff_ffff);
    let f = fault_of(&a);
    assert_eq!((f.kind, f.pc, f.addr, f.tid), (FaultKind::IllegalInstruction, BASE + 4, 0xffff_ffff, 0));

    let mut a = Asm::default();
    a.li(T0, 0x10).lw(A0, T0, 0);
    assert_eq!(fault_of(&a).kind, FaultKind::Unmapped(Access::Load));
    let mut a = Asm::default();
    a.addi(T0, SP, -3).sw(A0, T0, 0);
    let f = fault_of(&a);
    assert_eq!((f.kind, f.addr), (FaultKind::Misaligned(Access::Store), 0x10_0000 - 3));
    let mut a = Asm::default();
    a.li(T0, 0x8000_0000).w(crate::proc::decode::i_type(0, T0, 0, ZERO, 0x67));
    let f = fault_of(&a);
    assert_eq!((f.kind, f.pc, f.addr), (FaultKind::Unmapped(Access::Fetch), 0x8000_0000, 0x8000_0000));
    let mut a = Asm::default();
    a.w(0x0010_0073);
    assert_eq!(fault_of(&a).kind, FaultKind::Breakpoint);
    let mut a = Asm::default();
    a.addi(A7, ZERO, 999).ecall();
    let f = fault_of(&a);
    assert_eq!((f.kind, f.addr), (FaultKind::BadSyscall, 999));
    // Running off the end of the code into zeros: the all-zero halfword is illegal.
    let mut a = Asm::default();
    a.addi(T0, ZERO, 1);
    let f = fault_of(&a);
    assert_eq!((f.kind, f.pc), (FaultKind::IllegalInstruction, BASE + 4));
}

#[test]
fn a_faulting_store_changes_nothing() {
    // The store crosses nothing, but its page is unmapped: registers and memory untouched.
    let mut a = Asm::default();
    a.addi(T0, ZERO, 77).li(T1, 0x0090_0000).sw(T0, T1, 0);
    let (mut p, mut s) = load(&a);
    let before = p.mem.checksum(&*s).unwrap();
    assert!(matches!(run(&mut p, &mut s), Event::Faulted(_)));
    assert_eq!(p.mem.checksum(&*s).unwrap(), before);
}

#[test]
fn page_fault_stops_before_and_reexecutes() {
    // Store then load on a stack page made remote: each access stops with PageFault and the
    // pc stays at the instruction; after the install the result is as if nothing happened.
    let mut a = Asm::default();
    a.addi(SP, SP, -16).addi(T0, ZERO, 99).sw(T0, SP, 4).lw(A0, SP, 4).exit();
    let (mut p, mut s) = load(&a);
    let sp_page = (p.cb.threads[0].regs.x[2] - 16) >> 12;
    // Fill the page with a pattern, take a copy, make the page remote.
    let mut page = [0u8; PAGE_SIZE];
    for (i, b) in page.iter_mut().enumerate() {
        *b = i as u8;
    }
    p.mem.install_page(&mut *s, sp_page, &page).unwrap();
    assert!(p.mem.map_remote(&mut *s, sp_page));
    assert!(!p.mem.page(sp_page).unwrap().present);
    let e = p.run(&mut *s, Instant::ZERO, 1000);
    assert_eq!(e, Event::PageFault { vpn: sp_page });
    let pc = p.cb.threads[0].regs.pc;
    assert_eq!(pc, BASE + 8, "stopped at the store");
    assert_eq!(p.cb.instret, 2);
    // Asking again gives the same fault, with no progress.
    assert_eq!(p.run(&mut *s, Instant::ZERO, 1000), e);
    assert_eq!(p.cb.instret, 2);
    p.mem.install_page(&mut *s, sp_page, &page).unwrap();
    assert_eq!(p.run(&mut *s, Instant::ZERO, 1000), Event::Exited { code: 99 });
    let mut got = [0u8; 4];
    p.read_guest(&*s, p.cb.threads[0].regs.x[2] + 4, &mut got).unwrap();
    assert_eq!(u32::from_le_bytes(got), 99);
    // The page outside the written word kept the installed pattern.
    let installed = p.mem.read_page(&*s, sp_page).unwrap().unwrap();
    assert_eq!(installed[0..4], page[0..4]);
}

#[test]
fn instruction_fetch_page_fault() {
    let mut a = Asm::default();
    a.addi(A0, ZERO, 3).exit();
    let (mut p, mut s) = load(&a);
    let vpn = BASE >> 12;
    let page = *p.mem.read_page(&*s, vpn).unwrap().unwrap();
    p.mem.mark_all_remote(&mut *s);
    assert_eq!(p.mem.resident_pages(), 0);
    assert_eq!(p.run(&mut *s, Instant::ZERO, 10), Event::PageFault { vpn });
    p.mem.install_page(&mut *s, vpn, &page).unwrap();
    assert_eq!(p.run(&mut *s, Instant::ZERO, 10), Event::Exited { code: 3 });
}

#[test]
fn out_of_frames_is_a_fault() {
    // Touch one new page per iteration until the arena (48 frames) is exhausted.
    let mut a = Asm::default();
    a.li(A0, 0x2000 + 100 * 4096).sys(crate::proc::abi::BRK);
    a.li(T1, 0x2000).li(T0, 4096).li(A1, 0x2000 + 100 * 4096);
    let top = a.pc();
    a.sw(T0, T1, 0).op(0, 0, T1, T1, T0).branch(1, T1, A1, top);
    a.exit();
    let (mut p, mut s) = load(&a);
    // Heap from brk_start; make the loop start there.
    assert_eq!(p.cb.brk_start, 0x2000);
    match run(&mut p, &mut s) {
        Event::Faulted(f) => assert_eq!(f.kind, FaultKind::OutOfMemory),
        e => panic!("{e:?}"),
    }
}

#[test]
fn instructions_at_a_page_end() {
    // A 32-bit instruction across the page boundary: fetched from both pages, and a page
    // fault on the second page stops before it.
    let mut a = Asm::default();
    while a.pc() < 0x1ffe {
        a.h(0x0001); // c.nop
    }
    a.addi(A0, ZERO, 7).exit();
    let (mut p, mut s) = load(&a);
    let page2 = *p.mem.read_page(&*s, 2).unwrap().unwrap();
    assert!(p.mem.map_remote(&mut *s, 2));
    assert_eq!(p.run(&mut *s, Instant::ZERO, 10_000), Event::PageFault { vpn: 2 });
    assert_eq!((p.cb.threads[0].regs.pc, p.cb.instret), (0x1ffe, 2047));
    p.mem.install_page(&mut *s, 2, &page2).unwrap();
    assert_eq!(p.run(&mut *s, Instant::ZERO, 10_000), Event::Exited { code: 7 });

    // A compressed instruction in the last halfword runs without touching the next page
    // (unmapped here): the fault comes at the next fetch.
    let mut a = Asm::default();
    while a.pc() < 0x1ffe {
        a.h(0x0001);
    }
    a.h(0x4515); // c.li a0, 5
    let (mut p, mut s) = load(&a);
    let e = run(&mut p, &mut s);
    assert_eq!(e, Event::Faulted(Fault { tid: 0, pc: 0x2000, kind: FaultKind::Unmapped(Access::Fetch), addr: 0x2000 }));
    assert_eq!(p.cb.threads[0].regs.x[A0 as usize], 5);

    // A JALR to an odd address.
    let mut a = Asm::default();
    a.li(T0, BASE + 13).w(crate::proc::decode::i_type(0, T0, 0, ZERO, 0x67));
    let f = fault_of(&a);
    // JALR clears bit 0: the target is BASE + 12 (zeros: illegal), not a misaligned fetch.
    assert_eq!((f.kind, f.pc), (FaultKind::IllegalInstruction, BASE + 12));
}
