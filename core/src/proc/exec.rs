//! Executing one instruction of one thread.
//!
//! Invariant: an instruction either completes (registers, pc and memory updated together) or
//! has no effect at all. Every memory access is checked (alignment, mapping, presence) before
//! anything is written: a store that would fault leaves memory and registers unchanged, and a
//! fault on a non-present page returns [`Step::PageFault`] with the pc still at the
//! instruction, so the caller can install the page and re-execute it.

use super::decode::{AluOp, AmoOp, BranchOp, CsrOp, Inst, LoadOp, decode, expand};
use super::mem::{AddressSpace, MemFault, PageStore};
use super::{Access, FaultKind};

/// The registers of one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Regs {
    /// `x0`..`x31` (`x[0]` is always 0).
    pub x: [u32; 32],
    /// Program counter.
    pub pc: u32,
    /// Address reserved by the last LR.W, cleared by SC.W and by a switch to another thread.
    pub reservation: Option<u32>,
}

impl Regs {
    /// Registers all zero, pc at `pc`.
    pub const fn new(pc: u32) -> Self {
        Regs { x: [0; 32], pc, reservation: None }
    }

    #[inline]
    fn get(&self, r: u8) -> u32 {
        self.x[usize::from(r & 31)]
    }

    #[inline]
    fn set(&mut self, r: u8, v: u32) {
        if r != 0 {
            self.x[usize::from(r & 31)] = v;
        }
    }
}

/// Counter values the CSR instructions read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counters {
    /// Instructions retired by the process (also `cycle`).
    pub instret: u64,
    /// Host time in microseconds (`time`).
    pub time: u64,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The instruction completed.
    Next,
    /// ECALL: pc still at the ECALL (the system call layer advances it).
    Ecall,
    /// Page `vpn` is not present; nothing changed.
    PageFault(u32),
    /// The thread faulted at pc; nothing changed. The `u32` is the bad address (or the
    /// instruction word for an illegal instruction).
    Fault(FaultKind, u32),
}

fn mem_step(e: MemFault, access: Access) -> Step {
    match e {
        MemFault::NotPresent(vpn) => Step::PageFault(vpn),
        MemFault::Unmapped(a) => Step::Fault(FaultKind::Unmapped(access), a),
        MemFault::Misaligned(a) => Step::Fault(FaultKind::Misaligned(access), a),
        MemFault::OutOfMemory(a) => Step::Fault(FaultKind::OutOfMemory, a),
        MemFault::LostFrame(v) => Step::Fault(FaultKind::LostFrame, v << 12),
    }
}

/// Fetches and decodes the instruction at `pc`: `(instruction, length, raw bits)`.
#[inline]
fn fetch<const P: usize, S: PageStore + ?Sized>(
    mem: &AddressSpace<P>,
    store: &S,
    pc: u32,
) -> Result<(Inst, u32, u32), Step> {
    let w = mem.fetch(store, pc).map_err(|e| mem_step(e, Access::Fetch))?;
    if w & 3 != 3 {
        let lo = w & 0xffff;
        let full = expand(lo as u16).ok_or(Step::Fault(FaultKind::IllegalInstruction, lo))?;
        let i = decode(full).ok_or(Step::Fault(FaultKind::IllegalInstruction, lo))?;
        return Ok((i, 2, lo));
    }
    Ok((decode(w).ok_or(Step::Fault(FaultKind::IllegalInstruction, w))?, 4, w))
}

/// Executes the instruction at `r.pc`.
pub(crate) fn step<const P: usize, S: PageStore + ?Sized>(
    r: &mut Regs,
    mem: &mut AddressSpace<P>,
    store: &mut S,
    counters: Counters,
) -> Step {
    let (inst, len, raw) = match fetch(mem, store, r.pc) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let pc = r.pc;
    let mut next = pc.wrapping_add(len);
    match inst {
        Inst::Lui { rd, imm } => r.set(rd, imm),
        Inst::Auipc { rd, imm } => r.set(rd, pc.wrapping_add(imm)),
        Inst::Jal { rd, off } => {
            let target = pc.wrapping_add(off as u32);
            if target & 1 != 0 {
                return Step::Fault(FaultKind::Misaligned(Access::Fetch), target);
            }
            r.set(rd, next);
            next = target;
        }
        Inst::Jalr { rd, rs1, off } => {
            let target = r.get(rs1).wrapping_add(off as u32) & !1;
            r.set(rd, next);
            next = target;
        }
        Inst::Branch { op, rs1, rs2, off } => {
            let (a, b) = (r.get(rs1), r.get(rs2));
            let taken = match op {
                BranchOp::Eq => a == b,
                BranchOp::Ne => a != b,
                BranchOp::Lt => (a as i32) < (b as i32),
                BranchOp::Ge => (a as i32) >= (b as i32),
                BranchOp::Ltu => a < b,
                BranchOp::Geu => a >= b,
            };
            if taken {
                next = pc.wrapping_add(off as u32);
            }
        }
        Inst::Load { op, rd, rs1, off } => {
            let addr = r.get(rs1).wrapping_add(off as u32);
            let (size, signed) = match op {
                LoadOp::B => (1, true),
                LoadOp::H => (2, true),
                LoadOp::W => (4, false),
                LoadOp::Bu => (1, false),
                LoadOp::Hu => (2, false),
            };
            let v = match mem.load(store, addr, size) {
                Ok(v) => v,
                Err(e) => return mem_step(e, Access::Load),
            };
            let v = match (signed, size) {
                (true, 1) => v as u8 as i8 as i32 as u32,
                (true, 2) => v as u16 as i16 as i32 as u32,
                _ => v,
            };
            r.set(rd, v);
        }
        Inst::Store { size, rs1, rs2, off } => {
            let addr = r.get(rs1).wrapping_add(off as u32);
            if let Err(e) = mem.store(store, addr, u32::from(size), r.get(rs2)) {
                return mem_step(e, Access::Store);
            }
        }
        Inst::OpImm { op, rd, rs1, imm } => r.set(rd, alu(op, r.get(rs1), imm as u32)),
        Inst::Op { op, rd, rs1, rs2 } => r.set(rd, alu(op, r.get(rs1), r.get(rs2))),
        Inst::Fence => {}
        Inst::Ecall => return Step::Ecall,
        Inst::Ebreak => return Step::Fault(FaultKind::Breakpoint, pc),
        Inst::Csr { op, rd, src, imm: _, csr } => {
            // Every counter is read-only from user mode: a write (CSRRW, or CSRRS/CSRRC with a
            // non-zero source) is illegal, like an unknown CSR.
            let writes = op == CsrOp::Rw || src != 0;
            match read_csr(csr, counters) {
                Some(v) if !writes => r.set(rd, v),
                _ => return Step::Fault(FaultKind::IllegalInstruction, raw),
            }
        }
        Inst::Lr { rd, rs1 } => {
            let addr = r.get(rs1);
            let v = match mem.load(store, addr, 4) {
                Ok(v) => v,
                Err(e) => return mem_step(e, Access::Load),
            };
            r.set(rd, v);
            r.reservation = Some(addr);
        }
        Inst::Sc { rd, rs1, rs2 } => {
            let addr = r.get(rs1);
            if r.reservation == Some(addr) {
                if let Err(e) = mem.store(store, addr, 4, r.get(rs2)) {
                    return mem_step(e, Access::Store);
                }
                r.set(rd, 0);
            } else {
                // A failing SC still must be a valid access (the spec allows either; a
                // misaligned SC is reported so that a bug is never silent).
                if addr & 3 != 0 {
                    return Step::Fault(FaultKind::Misaligned(Access::Store), addr);
                }
                r.set(rd, 1);
            }
            r.reservation = None;
        }
        Inst::Amo { op, rd, rs1, rs2 } => {
            let addr = r.get(rs1);
            // Check for a store first so that a load that succeeds is never followed by a
            // store that faults.
            if let Err(e) = mem.probe(addr, 4) {
                return mem_step(e, Access::Store);
            }
            let old = match mem.load(store, addr, 4) {
                Ok(v) => v,
                Err(e) => return mem_step(e, Access::Load),
            };
            let src = r.get(rs2);
            let new = match op {
                AmoOp::Swap => src,
                AmoOp::Add => old.wrapping_add(src),
                AmoOp::Xor => old ^ src,
                AmoOp::And => old & src,
                AmoOp::Or => old | src,
                AmoOp::Min => (old as i32).min(src as i32) as u32,
                AmoOp::Max => (old as i32).max(src as i32) as u32,
                AmoOp::Minu => old.min(src),
                AmoOp::Maxu => old.max(src),
            };
            if let Err(e) = mem.store(store, addr, 4, new) {
                return mem_step(e, Access::Store);
            }
            r.set(rd, old);
        }
    }
    r.pc = next;
    Step::Next
}

/// The value of a user-readable counter CSR, `None` for any other CSR.
fn read_csr(csr: u16, c: Counters) -> Option<u32> {
    let v = match csr {
        0xc00 | 0xc02 => c.instret,
        0xc80 | 0xc82 => c.instret >> 32,
        0xc01 => c.time,
        0xc81 => c.time >> 32,
        _ => return None,
    };
    Some(v as u32)
}

/// An ALU operation, with the M extension's rules for division by zero and overflow.
pub(crate) fn alu(op: AluOp, a: u32, b: u32) -> u32 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Sll => a << (b & 31),
        AluOp::Slt => u32::from((a as i32) < (b as i32)),
        AluOp::Sltu => u32::from(a < b),
        AluOp::Xor => a ^ b,
        AluOp::Srl => a >> (b & 31),
        AluOp::Sra => ((a as i32) >> (b & 31)) as u32,
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Mulh => ((i64::from(a as i32) * i64::from(b as i32)) >> 32) as u32,
        AluOp::Mulhsu => ((i64::from(a as i32).wrapping_mul(i64::from(b))) >> 32) as u32,
        AluOp::Mulhu => ((u64::from(a) * u64::from(b)) >> 32) as u32,
        AluOp::Div => match (a as i32, b as i32) {
            (_, 0) => u32::MAX,
            (i32::MIN, -1) => a,
            (x, y) => (x / y) as u32,
        },
        AluOp::Divu => a.checked_div(b).unwrap_or(u32::MAX),
        AluOp::Rem => match (a as i32, b as i32) {
            (_, 0) => a,
            (i32::MIN, -1) => 0,
            (x, y) => (x % y) as u32,
        },
        AluOp::Remu => a.checked_rem(b).unwrap_or(a),
    }
}
