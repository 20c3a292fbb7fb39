//! A tiny assembler and ELF writer for the tests (the encoders are checked against llvm-mc
//! by the compressed-expansion vectors in `decode.rs`).

use std::vec::Vec;

use crate::proc::decode::{b_type, i_type, j_type, r_type, s_type};
use crate::proc::{ArenaStore, Event, LoadOptions, Process};
use crate::time::Instant;

pub(super) const ZERO: u32 = 0;
pub(super) const RA: u32 = 1;
pub(super) const SP: u32 = 2;
pub(super) const T0: u32 = 5;
pub(super) const T1: u32 = 6;
pub(super) const T2: u32 = 7;
pub(super) const S0: u32 = 8;
pub(super) const S1: u32 = 9;
pub(super) const A0: u32 = 10;
pub(super) const A1: u32 = 11;
pub(super) const A2: u32 = 12;
pub(super) const A3: u32 = 13;
pub(super) const A7: u32 = 17;

/// Where the test programs' code starts.
pub(super) const BASE: u32 = 0x1000;

/// Instructions and data, assembled in order.
#[derive(Default)]
pub(super) struct Asm {
    pub(super) bytes: Vec<u8>,
}

impl Asm {
    pub(super) fn pc(&self) -> u32 {
        BASE + self.bytes.len() as u32
    }
    pub(super) fn w(&mut self, w: u32) -> &mut Self {
        self.bytes.extend_from_slice(&w.to_le_bytes());
        self
    }
    pub(super) fn h(&mut self, h: u16) -> &mut Self {
        self.bytes.extend_from_slice(&h.to_le_bytes());
        self
    }
    pub(super) fn addi(&mut self, rd: u32, rs1: u32, imm: i32) -> &mut Self {
        self.w(i_type(imm, rs1, 0, rd, 0x13))
    }
    /// rd = any 32-bit constant (LUI + ADDI).
    pub(super) fn li(&mut self, rd: u32, v: u32) -> &mut Self {
        let lo = ((v & 0xfff) as i32) << 20 >> 20;
        let hi = v.wrapping_sub(lo as u32) & 0xffff_f000;
        self.w(hi | (rd << 7) | 0x37).addi(rd, rd, lo)
    }
    pub(super) fn op(&mut self, f7: u32, f3: u32, rd: u32, rs1: u32, rs2: u32) -> &mut Self {
        self.w(r_type(f7, rs2, rs1, f3, rd, 0x33))
    }
    pub(super) fn lw(&mut self, rd: u32, rs1: u32, off: i32) -> &mut Self {
        self.w(i_type(off, rs1, 2, rd, 0x03))
    }
    pub(super) fn sw(&mut self, rs2: u32, rs1: u32, off: i32) -> &mut Self {
        self.w(s_type(off, rs2, rs1, 2, 0x23))
    }
    pub(super) fn sb(&mut self, rs2: u32, rs1: u32, off: i32) -> &mut Self {
        self.w(s_type(off, rs2, rs1, 0, 0x23))
    }
    /// Branch to an absolute target.
    pub(super) fn branch(&mut self, f3: u32, rs1: u32, rs2: u32, target: u32) -> &mut Self {
        let off = target.wrapping_sub(self.pc()) as i32;
        self.w(b_type(off, rs2, rs1, f3))
    }
    pub(super) fn jal(&mut self, rd: u32, target: u32) -> &mut Self {
        let off = target.wrapping_sub(self.pc()) as i32;
        self.w(j_type(off, rd))
    }
    pub(super) fn ecall(&mut self) -> &mut Self {
        self.w(0x73)
    }
    /// a7 = nr; ecall.
    pub(super) fn sys(&mut self, nr: u32) -> &mut Self {
        self.addi(A7, ZERO, nr as i32).ecall()
    }
    /// exit(a0).
    pub(super) fn exit(&mut self) -> &mut Self {
        self.sys(crate::proc::abi::EXIT)
    }
    pub(super) fn align4(&mut self) -> &mut Self {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
        self
    }
}

/// One loadable segment of a test ELF: address, bytes, size in memory, flags.
pub(super) struct Seg<'a> {
    pub(super) vaddr: u32,
    pub(super) data: &'a [u8],
    pub(super) memsz: u32,
    pub(super) flags: u32,
}

/// An ELF32 RISC-V executable with these segments (one program header each, data after the
/// headers in order).
pub(super) fn elf(entry: u32, segs: &[Seg<'_>]) -> Vec<u8> {
    let phoff = 52u32;
    let mut off = phoff + 32 * segs.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x01\x01\x01\x00");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&243u16.to_le_bytes()); // EM_RISCV
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&phoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // shoff
    out.extend_from_slice(&5u32.to_le_bytes()); // flags: RVC, soft float
    out.extend_from_slice(&52u16.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&(segs.len() as u16).to_le_bytes());
    out.extend_from_slice(&40u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    for s in segs {
        for v in [1, off, s.vaddr, s.vaddr, s.data.len() as u32, s.memsz, s.flags, 4] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        off += s.data.len() as u32;
    }
    for s in segs {
        out.extend_from_slice(s.data);
    }
    out
}

/// An ELF of `code` at [`BASE`] (read, write, execute), entry at its start.
pub(super) fn code_elf(code: &[u8]) -> Vec<u8> {
    elf(BASE, &[Seg { vaddr: BASE, data: code, memsz: code.len() as u32, flags: 7 }])
}

pub(super) type Store = ArenaStore<48>;
pub(super) type Proc = Process<256>;

/// A process running `code`, with its store (boxed: the arena is large).
pub(super) fn load(code: &Asm) -> (std::boxed::Box<Proc>, std::boxed::Box<Store>) {
    let mut store = std::boxed::Box::new(Store::new());
    let mut p = std::boxed::Box::new(Proc::new());
    let opts = LoadOptions { stack_pages: 4, ..LoadOptions::default() };
    p.load(&mut *store, &code_elf(&code.bytes), &[], opts).expect("load");
    (p, store)
}

/// Runs to an event other than Budget at time 0 (at most 20 million instructions).
pub(super) fn run(p: &mut Proc, s: &mut Store) -> Event {
    for _ in 0..20 {
        match p.run(s, Instant::ZERO, 1_000_000) {
            Event::Budget => continue,
            e => return e,
        }
    }
    panic!("the test program did not finish");
}
