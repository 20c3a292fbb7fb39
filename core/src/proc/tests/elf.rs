//! The ELF loader: accepted layouts, every refusal, and the start-up stack.

use super::asm::*;
use crate::proc::{Elf, ElfError, LoadOptions, ProcError, Process};

#[test]
fn loads_segments_bss_and_args() {
    let code = [0x13u8, 0, 0, 0, 0x73, 0, 0, 0];
    let data = [1u8, 2, 3, 4, 5];
    let file = elf(
        0x1000,
        &[
            Seg { vaddr: 0x1000, data: &code, memsz: 8, flags: 5 },
            Seg { vaddr: 0x3ffe, data: &data, memsz: 0x2000, flags: 6 },
        ],
    );
    let e = Elf::parse(&file).unwrap();
    assert_eq!((e.entry, e.segments().len(), e.end()), (0x1000, 2, 0x5ffe));
    let mut s = Store::new();
    let mut p = Proc::new();
    p.load(&mut s, &file, &[b"prog", b"", b"x y"], LoadOptions::default()).unwrap();
    let mut got = [0u8; 8];
    p.read_guest(&s, 0x3ffc, &mut got).unwrap();
    assert_eq!(got, [0, 0, 1, 2, 3, 4, 5, 0], "data across a page boundary, then .bss zeros");
    assert_eq!(p.cb.brk_start, 0x6000);
    assert_eq!(p.mem.page(0), None, "page 0 stays unmapped");
    let r = p.cb.threads[0].regs;
    assert_eq!((r.pc, r.x[10]), (0x1000, 3));
    assert_eq!(r.x[2] % 16, 0);
    assert_eq!(r.x[11], r.x[2], "argv at sp");
    let mut words = [0u8; 24];
    p.read_guest(&s, r.x[11], &mut words).unwrap();
    let w = |i: usize| u32::from_le_bytes(words[4 * i..4 * i + 4].try_into().unwrap());
    let lens = [w(1), w(3), w(5)];
    assert_eq!(lens, [4, 0, 3]);
    let mut arg = [0u8; 4];
    p.read_guest(&s, w(4), &mut arg).unwrap();
    assert_eq!(&arg, b"x y\0");
    p.read_guest(&s, w(0), &mut arg).unwrap();
    assert_eq!(&arg, b"prog");
}

#[test]
fn refusals() {
    let code = [0x13u8, 0, 0, 0];
    let good = code_elf(&code);
    assert!(Elf::parse(&good).is_ok());
    let patch = |at: usize, bytes: &[u8]| {
        let mut f = good.clone();
        f[at..at + bytes.len()].copy_from_slice(bytes);
        f
    };
    let cases: &[(std::vec::Vec<u8>, ElfError)] = &[
        (std::vec::Vec::new(), ElfError::NotElf),
        (good[..51].to_vec(), ElfError::NotElf),
        (patch(0, b"\x7fELG"), ElfError::NotElf),
        (patch(4, &[2]), ElfError::NotElf32Le),
        (patch(5, &[2]), ElfError::NotElf32Le),
        (patch(18, &62u16.to_le_bytes()), ElfError::NotRiscv),
        (patch(16, &3u16.to_le_bytes()), ElfError::NotStaticExecutable),
        (patch(42, &56u16.to_le_bytes()), ElfError::BadProgramHeaders),
        (patch(44, &33u16.to_le_bytes()), ElfError::BadProgramHeaders),
        (patch(28, &0xffff_fff0u32.to_le_bytes()), ElfError::BadProgramHeaders),
        (patch(44, &2u16.to_le_bytes()), ElfError::BadProgramHeaders),
        (patch(52, &3u32.to_le_bytes()), ElfError::NotStaticExecutable), // PT_INTERP
        (patch(52 + 4, &0xffff_0000u32.to_le_bytes()), ElfError::BadSegment), // offset
        (patch(52 + 16, &5u32.to_le_bytes()), ElfError::BadSegment),     // filesz > memsz
        (patch(52 + 8, &0xffff_fffeu32.to_le_bytes()), ElfError::BadSegment), // wraps
        (patch(24, &0x2000u32.to_le_bytes()), ElfError::BadEntry),
        (patch(24, &0x1001u32.to_le_bytes()), ElfError::BadEntry),
        (patch(52 + 24, &6u32.to_le_bytes()), ElfError::BadEntry), // not executable
        (patch(52, &4u32.to_le_bytes()), ElfError::SegmentCount),  // only a NOTE
    ];
    for (i, (f, want)) in cases.iter().enumerate() {
        assert_eq!(Elf::parse(f).err(), Some(*want), "case {i}");
    }
    let overlap = elf(
        0x1000,
        &[
            Seg { vaddr: 0x1000, data: &code, memsz: 0x100, flags: 5 },
            Seg { vaddr: 0x10f0, data: &code, memsz: 4, flags: 6 },
        ],
    );
    assert_eq!(Elf::parse(&overlap).err(), Some(ElfError::Overlap));
}

#[test]
fn load_refusals_leave_the_process_empty() {
    let code = [0x13u8, 0, 0, 0];
    let mut s = Store::new();
    let mut p = Proc::new();
    // Beyond the 1 MiB address space.
    let far = elf(0x10_0000, &[Seg { vaddr: 0x10_0000, data: &code, memsz: 4, flags: 5 }]);
    assert_eq!(p.load(&mut s, &far, &[], LoadOptions::default()), Err(ProcError::TooLarge));
    // Into the stack.
    let high = elf(0xf_0000, &[Seg { vaddr: 0xf_0000, data: &code, memsz: 4, flags: 5 }]);
    assert_eq!(p.load(&mut s, &high, &[], LoadOptions::default()), Err(ProcError::TooLarge));
    // More frames than the store has.
    let big = [1u8; 60 * 4096];
    let huge = elf(0x1000, &[Seg { vaddr: 0x1000, data: &big, memsz: big.len() as u32, flags: 7 }]);
    assert_eq!(p.load(&mut s, &huge, &[], LoadOptions::default()), Err(ProcError::OutOfMemory));
    assert_eq!((p.mem.mapped_pages(), s.free_frames(), p.cb.threads.len()), (0, 48, 0));
    let long = [b'a'; 5000];
    assert_eq!(p.load(&mut s, &code_elf(&code), &[&long[..]], LoadOptions::default()), Err(ProcError::ArgsTooLong));
    assert_eq!(p.load(&mut s, b"garbage", &[], LoadOptions::default()), Err(ProcError::Elf(ElfError::NotElf)));
    let _ = Process::<4>::new();
}
