//! Decoding against words produced by llvm-mc (`-triple=riscv32 -mattr=+m,+a,+c`).

use crate::proc::decode::{AluOp as A, AmoOp, BranchOp as B, CsrOp, Inst, LoadOp as L, decode, expand};

/// (compressed halfword, llvm-mc's encoding of the equivalent 32-bit instruction).
const COMPRESSED: &[(u16, u32)] = &[
    (0x1fe0, 0x3fc10413), // c.addi4spn s0, sp, 1020
    (0x005c, 0x00410793), // c.addi4spn a5, sp, 4
    (0x5de8, 0x07c5a503), // c.lw a0, 124(a1)
    (0x4384, 0x0007a483), // c.lw s1, 0(a5)
    (0xc030, 0x04c42023), // c.sw a2, 64(s0)
    (0xc354, 0x00d72223), // c.sw a3, 4(a4)
    (0x0001, 0x00000013), // c.nop
    (0x1501, 0xfe050513), // c.addi a0, -32
    (0x02fd, 0x01f28293), // c.addi t0, 31
    (0x3001, 0x801ff0ef), // c.jal -2048
    (0x2ffd, 0x7fe000ef), // c.jal 2046
    (0x246d, 0x2aa000ef), // c.jal 682
    (0x55fd, 0xfff00593), // c.li a1, -1
    (0x4fc5, 0x01100f93), // c.li t6, 17
    (0x7101, 0xe0010113), // c.addi16sp sp, -512
    (0x617d, 0x1f010113), // c.addi16sp sp, 496
    (0x6141, 0x01010113), // c.addi16sp sp, 16
    (0x767d, 0xfffff637), // c.lui a2, 0xfffff
    (0x6d85, 0x00001db7), // c.lui s11, 1
    (0x62fd, 0x0001f2b7), // c.lui t0, 31
    (0x807d, 0x01f45413), // c.srli s0, 31
    (0x8785, 0x4017d793), // c.srai a5, 1
    (0x9b3d, 0xfef77713), // c.andi a4, -17
    (0x8c89, 0x40a484b3), // c.sub s1, a0
    (0x8e35, 0x00d64633), // c.xor a2, a3
    (0x8f5d, 0x00f76733), // c.or a4, a5
    (0x8c65, 0x00947433), // c.and s0, s1
    (0xb001, 0x801ff06f), // c.j -2048
    (0xaffd, 0x7fe0006f), // c.j 2046
    (0xd101, 0xf00500e3), // c.beqz a0, -256
    (0xecfd, 0x0e049f63), // c.bnez s1, 254
    (0xca39, 0x04060b63), // c.beqz a2, 86
    (0x00fe, 0x01f09093), // c.slli ra, 31
    (0x557e, 0x0fc12503), // c.lwsp a0, 252(sp)
    (0x4312, 0x00412303), // c.lwsp t1, 4(sp)
    (0x8082, 0x00008067), // c.jr ra
    (0x852e, 0x00b00533), // c.mv a0, a1
    (0x9002, 0x00100073), // c.ebreak
    (0x9282, 0x000280e7), // c.jalr t0
    (0x9946, 0x01190933), // c.add s2, a7
    (0xdfaa, 0x0ea12e23), // c.swsp a0, 252(sp)
    (0xc41e, 0x00712423), // c.swsp t2, 8(sp)
];

#[test]
fn compressed_expand_like_llvm() {
    for &(h, w) in COMPRESSED {
        assert_eq!(expand(h), Some(w), "c {h:#06x}");
        assert!(decode(w).is_some(), "{w:#010x}");
    }
}

#[test]
fn compressed_illegal_and_reserved() {
    for h in [
        0x0000u16, // defined illegal
        0x0004,    // c.addi4spn with nzuimm 0
        0x2000,    // c.fld
        0x6000,    // c.flw
        0xa000,    // c.fsd
        0xe000,    // c.fsw
        0x8000,    // reserved quadrant 0 funct3 100
        0x6101,    // c.addi16sp with 0
        0x6501,    // c.lui a0, 0
        0x9001,    // c.srli with shamt[5] (RV64)
        0x9c01,    // c.subw (RV64)
        0x1002,    // c.slli with shamt[5]
        0x4002,    // c.lwsp x0
        0x8002,    // c.jr x0
        0x2002,    // c.fldsp
        0xe002,    // c.fswsp
    ] {
        assert_eq!(expand(h), None, "{h:#06x}");
    }
    // Every halfword either expands to something decode accepts, or is refused: never a
    // half-built instruction.
    for h in 0..=u16::MAX {
        if h & 3 != 3
            && let Some(w) = expand(h)
        {
            assert!(decode(w).is_some(), "{h:#06x} -> {w:#010x}");
        }
    }
}

#[test]
fn decode_every_class() {
    let cases: &[(u32, Inst)] = &[
        (0xfffff537, Inst::Lui { rd: 10, imm: 0xffff_f000 }),
        (0x12345317, Inst::Auipc { rd: 6, imm: 0x1234_5000 }),
        (0xffdff0ef, Inst::Jal { rd: 1, off: -4 }),
        (0xfff58567, Inst::Jalr { rd: 10, rs1: 11, off: -1 }),
        (0x80b50063, Inst::Branch { op: B::Eq, rs1: 10, rs2: 11, off: -4096 }),
        (0x7e629fe3, Inst::Branch { op: B::Ne, rs1: 5, rs2: 6, off: 4094 }),
        (0x00054463, Inst::Branch { op: B::Lt, rs1: 10, rs2: 0, off: 8 }),
        (0xfe055ce3, Inst::Branch { op: B::Ge, rs1: 10, rs2: 0, off: -8 }),
        (0x00946663, Inst::Branch { op: B::Ltu, rs1: 8, rs2: 9, off: 12 }),
        (0x00947863, Inst::Branch { op: B::Geu, rs1: 8, rs2: 9, off: 16 }),
        (0xfff10503, Inst::Load { op: L::B, rd: 10, rs1: 2, off: -1 }),
        (0x00211583, Inst::Load { op: L::H, rd: 11, rs1: 2, off: 2 }),
        (0x7ff12603, Inst::Load { op: L::W, rd: 12, rs1: 2, off: 2047 }),
        (0x80014683, Inst::Load { op: L::Bu, rd: 13, rs1: 2, off: -2048 }),
        (0x00615703, Inst::Load { op: L::Hu, rd: 14, rs1: 2, off: 6 }),
        (0xfea10fa3, Inst::Store { size: 1, rs1: 2, rs2: 10, off: -1 }),
        (0x00b11123, Inst::Store { size: 2, rs1: 2, rs2: 11, off: 2 }),
        (0x7ec12fa3, Inst::Store { size: 4, rs1: 2, rs2: 12, off: 2047 }),
        (0x80050513, Inst::OpImm { op: A::Add, rd: 10, rs1: 10, imm: -2048 }),
        (0xfff62593, Inst::OpImm { op: A::Slt, rd: 11, rs1: 12, imm: -1 }),
        (0x00163593, Inst::OpImm { op: A::Sltu, rd: 11, rs1: 12, imm: 1 }),
        (0xfff54513, Inst::OpImm { op: A::Xor, rd: 10, rs1: 10, imm: -1 }),
        (0x7ff56513, Inst::OpImm { op: A::Or, rd: 10, rs1: 10, imm: 2047 }),
        (0x0f057513, Inst::OpImm { op: A::And, rd: 10, rs1: 10, imm: 240 }),
        (0x01f51513, Inst::OpImm { op: A::Sll, rd: 10, rs1: 10, imm: 31 }),
        (0x00155513, Inst::OpImm { op: A::Srl, rd: 10, rs1: 10, imm: 1 }),
        (0x41155513, Inst::OpImm { op: A::Sra, rd: 10, rs1: 10, imm: 17 }),
        (0x0ff0000f, Inst::Fence),
        (0x0000100f, Inst::Fence),
        (0x00000073, Inst::Ecall),
        (0x00100073, Inst::Ebreak),
        (0xc0002573, Inst::Csr { op: CsrOp::Rs, rd: 10, src: 0, imm: false, csr: 0xc00 }),
        (0xc8202573, Inst::Csr { op: CsrOp::Rs, rd: 10, src: 0, imm: false, csr: 0xc82 }),
        (0xc0159573, Inst::Csr { op: CsrOp::Rw, rd: 10, src: 11, imm: false, csr: 0xc01 }),
        (0xc8007573, Inst::Csr { op: CsrOp::Rc, rd: 10, src: 0, imm: true, csr: 0xc80 }),
        (0xc012e573, Inst::Csr { op: CsrOp::Rs, rd: 10, src: 5, imm: true, csr: 0xc01 }),
        (0x1005a52f, Inst::Lr { rd: 10, rs1: 11 }),
        (0x1605a52f, Inst::Lr { rd: 10, rs1: 11 }),
        (0x18c5a52f, Inst::Sc { rd: 10, rs1: 11, rs2: 12 }),
        (0x08c5a52f, Inst::Amo { op: AmoOp::Swap, rd: 10, rs1: 11, rs2: 12 }),
        (0x00c5a52f, Inst::Amo { op: AmoOp::Add, rd: 10, rs1: 11, rs2: 12 }),
        (0x20c5a52f, Inst::Amo { op: AmoOp::Xor, rd: 10, rs1: 11, rs2: 12 }),
        (0x60c5a52f, Inst::Amo { op: AmoOp::And, rd: 10, rs1: 11, rs2: 12 }),
        (0x40c5a52f, Inst::Amo { op: AmoOp::Or, rd: 10, rs1: 11, rs2: 12 }),
        (0x80c5a52f, Inst::Amo { op: AmoOp::Min, rd: 10, rs1: 11, rs2: 12 }),
        (0xa0c5a52f, Inst::Amo { op: AmoOp::Max, rd: 10, rs1: 11, rs2: 12 }),
        (0xc0c5a52f, Inst::Amo { op: AmoOp::Minu, rd: 10, rs1: 11, rs2: 12 }),
        (0xe4c5a52f, Inst::Amo { op: AmoOp::Maxu, rd: 10, rs1: 11, rs2: 12 }),
    ];
    for &(w, want) in cases {
        assert_eq!(decode(w), Some(want), "{w:#010x}");
    }
    let ops = [A::Add, A::Sub, A::Sll, A::Slt, A::Sltu, A::Xor, A::Srl, A::Sra, A::Or, A::And];
    let words = [
        0x00c58533u32,
        0x40c58533,
        0x00c59533,
        0x00c5a533,
        0x00c5b533,
        0x00c5c533,
        0x00c5d533,
        0x40c5d533,
        0x00c5e533,
        0x00c5f533,
    ];
    let m_ops = [A::Mul, A::Mulh, A::Mulhsu, A::Mulhu, A::Div, A::Divu, A::Rem, A::Remu];
    let m_words = [0x02c58533u32, 0x02c59533, 0x02c5a533, 0x02c5b533, 0x02c5c533, 0x02c5d533, 0x02c5e533, 0x02c5f533];
    for (op, w) in ops.iter().zip(words).chain(m_ops.iter().zip(m_words)) {
        assert_eq!(decode(w), Some(Inst::Op { op: *op, rd: 10, rs1: 11, rs2: 12 }), "{w:#010x}");
    }
}

#[test]
fn decode_refuses_what_user_mode_rv32imac_lacks() {
    for w in [
        0x0000_0000u32, // not a 32-bit instruction at all (low bits 00)
        0xffff_ffff,
        0x1050_0073,             // wfi
        0x3020_0073,             // mret
        0x0000_2007,             // flw (F)
        0x0000_0027,             // fsb-like store-fp
        0x0000_001b,             // addiw (RV64)
        0x0000_3003,             // ld (RV64)
        0x0200_5013,             // srli with shamt[5] (RV64)
        0x8000_5013,             // srli with a bad funct7
        0x0000_2063,             // branch funct3 010
        0x0000_3023,             // sd (RV64)
        0x0000_4073,             // system funct3 100
        0x0000_302f,             // amo .d (RV64)
        0x1005_a52f | (1 << 20), // lr.w with rs2 != 0
        0x0000_2067,             // jalr funct3 != 0
        0x0000_200f,             // misc-mem funct3 010
        0x0400_0533,             // op funct7 0x02
    ] {
        assert_eq!(decode(w), None, "{w:#010x}");
    }
}
