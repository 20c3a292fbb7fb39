//! Instruction decoding: RV32I, M, A and Zicsr words into [`Inst`]; compressed (C) halfwords
//! are first expanded to their 32-bit equivalents ([`expand`]).
//!
//! Invariant: [`decode`] accepts exactly the encodings of the base ISA and the M, A, C and
//! Zicsr extensions that a user-mode RV32IMAC program may execute; everything else (reserved
//! encodings, F/D instructions, privileged instructions other than ECALL/EBREAK, RV64-only
//! forms) is `None`, which the interpreter reports as an illegal instruction.

/// An ALU operation (register-register, or register-immediate where the ISA has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AluOp {
    /// Addition.
    Add,
    /// Subtraction.
    Sub,
    /// Shift left logical.
    Sll,
    /// Set if less than (signed).
    Slt,
    /// Set if less than (unsigned).
    Sltu,
    /// Exclusive or.
    Xor,
    /// Shift right logical.
    Srl,
    /// Shift right arithmetic.
    Sra,
    /// Or.
    Or,
    /// And.
    And,
    /// Low 32 bits of the product.
    Mul,
    /// High 32 bits of signed × signed.
    Mulh,
    /// High 32 bits of signed × unsigned.
    Mulhsu,
    /// High 32 bits of unsigned × unsigned.
    Mulhu,
    /// Signed division (÷0 gives −1, overflow gives the dividend).
    Div,
    /// Unsigned division (÷0 gives all ones).
    Divu,
    /// Signed remainder (÷0 gives the dividend, overflow gives 0).
    Rem,
    /// Unsigned remainder (÷0 gives the dividend).
    Remu,
}

/// A conditional branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than, signed.
    Lt,
    /// Greater or equal, signed.
    Ge,
    /// Less than, unsigned.
    Ltu,
    /// Greater or equal, unsigned.
    Geu,
}

/// Width and signedness of a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOp {
    /// Byte, sign-extended.
    B,
    /// Halfword, sign-extended.
    H,
    /// Word.
    W,
    /// Byte, zero-extended.
    Bu,
    /// Halfword, zero-extended.
    Hu,
}

/// An atomic memory operation (AMO*.W).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmoOp {
    /// Swap.
    Swap,
    /// Add.
    Add,
    /// Xor.
    Xor,
    /// And.
    And,
    /// Or.
    Or,
    /// Signed minimum.
    Min,
    /// Signed maximum.
    Max,
    /// Unsigned minimum.
    Minu,
    /// Unsigned maximum.
    Maxu,
}

/// A CSR instruction's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrOp {
    /// Read and write.
    Rw,
    /// Read and set bits.
    Rs,
    /// Read and clear bits.
    Rc,
}

/// A decoded instruction. Fields are named as in the ISA manual: `rd`, `rs1`, `rs2` are
/// register numbers 0..=31; `imm` and `off` are the sign-extended immediates.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inst {
    /// `rd = imm` (upper 20 bits).
    Lui { rd: u8, imm: u32 },
    /// `rd = pc + imm`.
    Auipc { rd: u8, imm: u32 },
    /// Jump and link.
    Jal { rd: u8, off: i32 },
    /// Jump to `rs1 + off` (low bit cleared) and link.
    Jalr { rd: u8, rs1: u8, off: i32 },
    /// Conditional branch to `pc + off`.
    Branch { op: BranchOp, rs1: u8, rs2: u8, off: i32 },
    /// Load from `rs1 + off`.
    Load { op: LoadOp, rd: u8, rs1: u8, off: i32 },
    /// Store `size` bytes (1, 2, 4) of `rs2` at `rs1 + off`.
    Store { size: u8, rs1: u8, rs2: u8, off: i32 },
    /// ALU operation with an immediate.
    OpImm { op: AluOp, rd: u8, rs1: u8, imm: i32 },
    /// ALU operation on two registers (including M).
    Op { op: AluOp, rd: u8, rs1: u8, rs2: u8 },
    /// FENCE or FENCE.I: a no-op for a single-core interpreter.
    Fence,
    /// System call.
    Ecall,
    /// Breakpoint.
    Ebreak,
    /// CSR access; `src` is a register number, or the 5-bit immediate when `imm` is set.
    Csr { op: CsrOp, rd: u8, src: u8, imm: bool, csr: u16 },
    /// Load-reserved word.
    Lr { rd: u8, rs1: u8 },
    /// Store-conditional word.
    Sc { rd: u8, rs1: u8, rs2: u8 },
    /// Atomic read-modify-write word.
    Amo { op: AmoOp, rd: u8, rs1: u8, rs2: u8 },
}

#[inline]
fn rd(w: u32) -> u8 {
    ((w >> 7) & 31) as u8
}
#[inline]
fn rs1(w: u32) -> u8 {
    ((w >> 15) & 31) as u8
}
#[inline]
fn rs2(w: u32) -> u8 {
    ((w >> 20) & 31) as u8
}
#[inline]
fn funct3(w: u32) -> u32 {
    (w >> 12) & 7
}
#[inline]
fn imm_i(w: u32) -> i32 {
    (w as i32) >> 20
}
#[inline]
fn imm_s(w: u32) -> i32 {
    (((w & 0xfe00_0000) as i32) >> 20) | ((w >> 7) & 31) as i32
}
#[inline]
fn imm_b(w: u32) -> i32 {
    (((w & 0x8000_0000) as i32) >> 19)
        | (((w >> 7) & 1) << 11) as i32
        | (((w >> 25) & 0x3f) << 5) as i32
        | (((w >> 8) & 0xf) << 1) as i32
}
#[inline]
fn imm_j(w: u32) -> i32 {
    (((w & 0x8000_0000) as i32) >> 11)
        | (w & 0x000f_f000) as i32
        | (((w >> 20) & 1) << 11) as i32
        | (((w >> 21) & 0x3ff) << 1) as i32
}

/// Decodes a 32-bit instruction word (its low two bits are `11`); `None` when illegal.
pub fn decode(w: u32) -> Option<Inst> {
    let i = match w & 0x7f {
        0x37 => Inst::Lui { rd: rd(w), imm: w & 0xffff_f000 },
        0x17 => Inst::Auipc { rd: rd(w), imm: w & 0xffff_f000 },
        0x6f => Inst::Jal { rd: rd(w), off: imm_j(w) },
        0x67 if funct3(w) == 0 => Inst::Jalr { rd: rd(w), rs1: rs1(w), off: imm_i(w) },
        0x63 => {
            let op = match funct3(w) {
                0 => BranchOp::Eq,
                1 => BranchOp::Ne,
                4 => BranchOp::Lt,
                5 => BranchOp::Ge,
                6 => BranchOp::Ltu,
                7 => BranchOp::Geu,
                _ => return None,
            };
            Inst::Branch { op, rs1: rs1(w), rs2: rs2(w), off: imm_b(w) }
        }
        0x03 => {
            let op = match funct3(w) {
                0 => LoadOp::B,
                1 => LoadOp::H,
                2 => LoadOp::W,
                4 => LoadOp::Bu,
                5 => LoadOp::Hu,
                _ => return None,
            };
            Inst::Load { op, rd: rd(w), rs1: rs1(w), off: imm_i(w) }
        }
        0x23 => {
            let size = match funct3(w) {
                0 => 1,
                1 => 2,
                2 => 4,
                _ => return None,
            };
            Inst::Store { size, rs1: rs1(w), rs2: rs2(w), off: imm_s(w) }
        }
        0x13 => decode_op_imm(w)?,
        0x33 => decode_op(w)?,
        0x0f => match funct3(w) {
            0 | 1 => Inst::Fence,
            _ => return None,
        },
        0x73 => decode_system(w)?,
        0x2f => decode_amo(w)?,
        _ => return None,
    };
    Some(i)
}

fn decode_op_imm(w: u32) -> Option<Inst> {
    let imm = imm_i(w);
    let shamt = ((w >> 20) & 31) as i32;
    let top = w >> 25;
    let (op, imm) = match funct3(w) {
        0 => (AluOp::Add, imm),
        2 => (AluOp::Slt, imm),
        3 => (AluOp::Sltu, imm),
        4 => (AluOp::Xor, imm),
        6 => (AluOp::Or, imm),
        7 => (AluOp::And, imm),
        1 if top == 0 => (AluOp::Sll, shamt),
        5 if top == 0 => (AluOp::Srl, shamt),
        5 if top == 0x20 => (AluOp::Sra, shamt),
        _ => return None,
    };
    Some(Inst::OpImm { op, rd: rd(w), rs1: rs1(w), imm })
}

fn decode_op(w: u32) -> Option<Inst> {
    let op = match (w >> 25, funct3(w)) {
        (0, 0) => AluOp::Add,
        (0x20, 0) => AluOp::Sub,
        (0, 1) => AluOp::Sll,
        (0, 2) => AluOp::Slt,
        (0, 3) => AluOp::Sltu,
        (0, 4) => AluOp::Xor,
        (0, 5) => AluOp::Srl,
        (0x20, 5) => AluOp::Sra,
        (0, 6) => AluOp::Or,
        (0, 7) => AluOp::And,
        (1, 0) => AluOp::Mul,
        (1, 1) => AluOp::Mulh,
        (1, 2) => AluOp::Mulhsu,
        (1, 3) => AluOp::Mulhu,
        (1, 4) => AluOp::Div,
        (1, 5) => AluOp::Divu,
        (1, 6) => AluOp::Rem,
        (1, 7) => AluOp::Remu,
        _ => return None,
    };
    Some(Inst::Op { op, rd: rd(w), rs1: rs1(w), rs2: rs2(w) })
}

fn decode_system(w: u32) -> Option<Inst> {
    let csr = (w >> 20) as u16;
    let op = match funct3(w) {
        0 => {
            return match w {
                0x0000_0073 => Some(Inst::Ecall),
                0x0010_0073 => Some(Inst::Ebreak),
                _ => None,
            };
        }
        1 | 5 => CsrOp::Rw,
        2 | 6 => CsrOp::Rs,
        3 | 7 => CsrOp::Rc,
        _ => return None,
    };
    Some(Inst::Csr { op, rd: rd(w), src: rs1(w), imm: funct3(w) >= 5, csr })
}

fn decode_amo(w: u32) -> Option<Inst> {
    if funct3(w) != 2 {
        return None;
    }
    let (rd, rs1, rs2) = (rd(w), rs1(w), rs2(w));
    // Bits 26 and 25 (aq, rl) only order memory between harts: meaningless here.
    let op = match w >> 27 {
        0x02 if rs2 == 0 => return Some(Inst::Lr { rd, rs1 }),
        0x03 => return Some(Inst::Sc { rd, rs1, rs2 }),
        0x01 => AmoOp::Swap,
        0x00 => AmoOp::Add,
        0x04 => AmoOp::Xor,
        0x0c => AmoOp::And,
        0x08 => AmoOp::Or,
        0x10 => AmoOp::Min,
        0x14 => AmoOp::Max,
        0x18 => AmoOp::Minu,
        0x1c => AmoOp::Maxu,
        _ => return None,
    };
    Some(Inst::Amo { op, rd, rs1, rs2 })
}

// 32-bit encoders, used to expand compressed instructions (and by the tests).

/// Encodes an I-type word.
pub(crate) const fn i_type(imm: i32, rs1: u32, f3: u32, rd: u32, opcode: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode
}

/// Encodes an S-type word.
pub(crate) const fn s_type(imm: i32, rs2: u32, rs1: u32, f3: u32, opcode: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | opcode
}

/// Encodes a B-type word.
pub(crate) const fn b_type(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | 0x63
}

/// Encodes a J-type (JAL) word.
pub(crate) const fn j_type(imm: i32, rd: u32) -> u32 {
    let imm = imm as u32;
    (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}

/// Encodes an R-type word.
pub(crate) const fn r_type(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, opcode: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opcode
}

/// Expands a compressed (RV32C) halfword to the equivalent 32-bit word; `None` for illegal,
/// reserved, floating-point and RV64-only encodings (and for a halfword whose low bits are
/// `11`, which is not compressed).
pub fn expand(h: u16) -> Option<u32> {
    let h = u32::from(h);
    let bit = |n: u32| (h >> n) & 1;
    let bits = |hi: u32, lo: u32| (h >> lo) & ((1 << (hi - lo + 1)) - 1);
    // Registers x8..x15 in the 3-bit fields.
    let rdp = bits(4, 2) + 8;
    let rs1p = bits(9, 7) + 8;
    let rd = bits(11, 7);
    let rs2 = bits(6, 2);
    // The 6-bit signed immediate of C.ADDI, C.LI, C.ANDI.
    let imm6 = (((bit(12) << 5) | bits(6, 2)) as i32) << 26 >> 26;
    let w = match (h & 3, bits(15, 13)) {
        (0, 0) => {
            let imm = (bits(12, 11) << 4) | (bits(10, 7) << 6) | (bit(6) << 2) | (bit(5) << 3);
            if imm == 0 {
                return None; // includes the all-zero halfword, defined illegal
            }
            i_type(imm as i32, 2, 0, rdp, 0x13)
        }
        (0, 2) => i_type(clw_off(h) as i32, rs1p, 2, rdp, 0x03),
        (0, 6) => s_type(clw_off(h) as i32, rdp, rs1p, 2, 0x23),
        (1, 0) => i_type(imm6, rd, 0, rd, 0x13),
        (1, 1) => j_type(cj_off(h), 1),
        (1, 2) => i_type(imm6, 0, 0, rd, 0x13),
        (1, 3) if rd == 2 => {
            let imm = (bit(12) << 9) | (bit(6) << 4) | (bit(5) << 6) | (bits(4, 3) << 7) | (bit(2) << 5);
            let imm = (imm as i32) << 22 >> 22;
            if imm == 0 {
                return None;
            }
            i_type(imm, 2, 0, 2, 0x13)
        }
        (1, 3) => {
            if imm6 == 0 {
                return None;
            }
            ((imm6 as u32) << 12) | (rd << 7) | 0x37
        }
        (1, 4) => expand_alu(h, rs1p, rdp, imm6)?,
        (1, 5) => j_type(cj_off(h), 0),
        (1, 6) => b_type(cb_off(h), 0, rs1p, 0),
        (1, 7) => b_type(cb_off(h), 0, rs1p, 1),
        (2, 0) => {
            if bit(12) != 0 {
                return None; // shamt[5] set: RV64 only
            }
            i_type(rs2 as i32, rd, 1, rd, 0x13)
        }
        (2, 2) => {
            if rd == 0 {
                return None;
            }
            let off = (bit(12) << 5) | (bits(6, 4) << 2) | (bits(3, 2) << 6);
            i_type(off as i32, 2, 2, rd, 0x03)
        }
        (2, 4) => match (bit(12), rd, rs2) {
            (0, 0, 0) => return None,
            (0, _, 0) => i_type(0, rd, 0, 0, 0x67),
            (0, _, _) => r_type(0, rs2, 0, 0, rd, 0x33),
            (_, 0, 0) => 0x0010_0073,
            (_, _, 0) => i_type(0, rd, 0, 1, 0x67),
            _ => r_type(0, rs2, rd, 0, rd, 0x33),
        },
        (2, 6) => {
            let off = (bits(12, 9) << 2) | (bits(8, 7) << 6);
            s_type(off as i32, rs2, 2, 2, 0x23)
        }
        _ => return None,
    };
    Some(w)
}

fn expand_alu(h: u32, rs1p: u32, rs2p: u32, imm6: i32) -> Option<u32> {
    let shamt = (h >> 2) & 31;
    let w = match (h >> 10) & 3 {
        0 | 1 if (h >> 12) & 1 != 0 => return None, // RV64 shift amounts
        0 => i_type(shamt as i32, rs1p, 5, rs1p, 0x13),
        1 => i_type((shamt | 0x400) as i32, rs1p, 5, rs1p, 0x13),
        2 => i_type(imm6, rs1p, 7, rs1p, 0x13),
        _ => {
            if (h >> 12) & 1 != 0 {
                return None; // C.SUBW / C.ADDW are RV64
            }
            let (f7, f3) = match (h >> 5) & 3 {
                0 => (0x20, 0),
                1 => (0, 4),
                2 => (0, 6),
                _ => (0, 7),
            };
            r_type(f7, rs2p, rs1p, f3, rs1p, 0x33)
        }
    };
    Some(w)
}

/// Offset of C.LW / C.SW: uimm[5:3] = h[12:10], uimm[2] = h[6], uimm[6] = h[5].
fn clw_off(h: u32) -> u32 {
    (((h >> 10) & 7) << 3) | (((h >> 6) & 1) << 2) | (((h >> 5) & 1) << 6)
}

/// Offset of C.J / C.JAL: imm[11|4|9:8|10|6|7|3:1|5] = h[12:2].
fn cj_off(h: u32) -> i32 {
    let b = |n: u32| (h >> n) & 1;
    let imm = (b(12) << 11)
        | (b(11) << 4)
        | (((h >> 9) & 3) << 8)
        | (b(8) << 10)
        | (b(7) << 6)
        | (b(6) << 7)
        | (((h >> 3) & 7) << 1)
        | (b(2) << 5);
    (imm as i32) << 20 >> 20
}

/// Offset of C.BEQZ / C.BNEZ: imm[8|4:3] = h[12:10], imm[7:6|2:1|5] = h[6:2].
fn cb_off(h: u32) -> i32 {
    let imm = (((h >> 12) & 1) << 8)
        | (((h >> 10) & 3) << 3)
        | (((h >> 5) & 3) << 6)
        | (((h >> 3) & 3) << 1)
        | (((h >> 2) & 1) << 5);
    (imm as i32) << 23 >> 23
}
