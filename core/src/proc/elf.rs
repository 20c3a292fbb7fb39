//! A bounded reader of ELF32 executables for RISC-V (`riscv32imac-unknown-none-elf` guests).
//!
//! [`Elf::parse`] checks everything before anything is loaded: the identification bytes
//! (32-bit, little-endian, version 1), the type (`ET_EXEC`, statically linked: no `PT_INTERP`
//! or `PT_DYNAMIC`), the machine (`EM_RISCV`), the program-header table lies inside the file,
//! every `PT_LOAD` segment's file bytes lie inside the file, `filesz <= memsz`, its address
//! range does not wrap, loadable segments do not overlap, and the entry point lies in an
//! executable segment. Nothing is read outside the given bytes and nothing panics.

use core::fmt;

/// Most program headers accepted.
pub const MAX_PHDRS: usize = 32;
/// Most loadable segments accepted.
pub const MAX_SEGMENTS: usize = 16;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PF_X: u32 = 1;
const EM_RISCV: u16 = 243;
const ET_EXEC: u16 = 2;
const EHDR_LEN: usize = 52;
const PHDR_LEN: usize = 32;

/// Why an ELF file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ElfError {
    /// Shorter than an ELF header, or not starting with `\x7fELF`.
    NotElf,
    /// Not ELFCLASS32 / little-endian / version 1.
    NotElf32Le,
    /// Not `EM_RISCV`.
    NotRiscv,
    /// Not `ET_EXEC`, or dynamically linked.
    NotStaticExecutable,
    /// The program-header table is malformed or outside the file.
    BadProgramHeaders,
    /// A segment's bytes lie outside the file, `filesz > memsz`, or its addresses wrap.
    BadSegment,
    /// Two loadable segments overlap.
    Overlap,
    /// No loadable segment, or more than [`MAX_SEGMENTS`].
    SegmentCount,
    /// The entry point is not in an executable segment.
    BadEntry,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElfError::NotElf => "not an ELF file",
            ElfError::NotElf32Le => "not a 32-bit little-endian ELF file",
            ElfError::NotRiscv => "not a RISC-V ELF file",
            ElfError::NotStaticExecutable => "not a statically linked executable",
            ElfError::BadProgramHeaders => "malformed program headers",
            ElfError::BadSegment => "a segment lies outside the file or wraps the address space",
            ElfError::Overlap => "loadable segments overlap",
            ElfError::SegmentCount => "no loadable segment, or too many",
            ElfError::BadEntry => "the entry point is not in an executable segment",
        })
    }
}

impl core::error::Error for ElfError {}

/// A loadable segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// First address.
    pub vaddr: u32,
    /// Bytes in memory (the part after `data` is zero).
    pub memsz: u32,
    /// The initialised bytes, borrowed from the file.
    pub data: &'a [u8],
    /// `PF_X`/`PF_W`/`PF_R` flags.
    pub flags: u32,
}

impl Segment<'_> {
    /// One past the last address (cannot overflow: checked by [`Elf::parse`]).
    pub fn end(&self) -> u32 {
        self.vaddr.wrapping_add(self.memsz)
    }
}

/// A checked executable.
#[derive(Debug, Clone)]
pub struct Elf<'a> {
    /// Entry point.
    pub entry: u32,
    segments: heapless::Vec<Segment<'a>, MAX_SEGMENTS>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Elf<'a> {
    /// Parses and checks `file`.
    pub fn parse(file: &'a [u8]) -> Result<Self, ElfError> {
        let h = file.get(..EHDR_LEN).ok_or(ElfError::NotElf)?;
        if h[..4] != *b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        if h[4] != 1 || h[5] != 1 || h[6] != 1 {
            return Err(ElfError::NotElf32Le);
        }
        let field16 = |at| u16_at(h, at).ok_or(ElfError::NotElf);
        let field32 = |at| u32_at(h, at).ok_or(ElfError::NotElf);
        if field16(18)? != EM_RISCV {
            return Err(ElfError::NotRiscv);
        }
        if field16(16)? != ET_EXEC {
            return Err(ElfError::NotStaticExecutable);
        }
        let entry = field32(24)?;
        let phoff = field32(28)? as usize;
        let phentsize = usize::from(field16(42)?);
        let phnum = usize::from(field16(44)?);
        if phentsize != PHDR_LEN || phnum > MAX_PHDRS {
            return Err(ElfError::BadProgramHeaders);
        }
        let table = phoff
            .checked_add(phnum * PHDR_LEN)
            .and_then(|end| file.get(phoff..end))
            .ok_or(ElfError::BadProgramHeaders)?;
        let mut segments = heapless::Vec::new();
        for ph in table.chunks_exact(PHDR_LEN) {
            let f = |at| u32_at(ph, at).ok_or(ElfError::BadProgramHeaders);
            match f(0)? {
                PT_LOAD => {}
                PT_DYNAMIC | PT_INTERP => return Err(ElfError::NotStaticExecutable),
                _ => continue,
            }
            let (offset, vaddr, filesz, memsz, flags) = (f(4)?, f(8)?, f(16)?, f(20)?, f(24)?);
            if memsz == 0 {
                continue;
            }
            if filesz > memsz || vaddr.checked_add(memsz).is_none() {
                return Err(ElfError::BadSegment);
            }
            let data = (offset as usize)
                .checked_add(filesz as usize)
                .and_then(|end| file.get(offset as usize..end))
                .ok_or(ElfError::BadSegment)?;
            let seg = Segment { vaddr, memsz, data, flags };
            if segments.iter().any(|s: &Segment<'_>| s.vaddr < seg.end() && seg.vaddr < s.end()) {
                return Err(ElfError::Overlap);
            }
            segments.push(seg).map_err(|_| ElfError::SegmentCount)?;
        }
        if segments.is_empty() {
            return Err(ElfError::SegmentCount);
        }
        if !segments.iter().any(|s| s.flags & PF_X != 0 && entry >= s.vaddr && entry < s.end()) || entry & 1 != 0 {
            return Err(ElfError::BadEntry);
        }
        Ok(Elf { entry, segments })
    }

    /// The loadable segments in file order.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// One past the highest loaded address.
    pub fn end(&self) -> u32 {
        self.segments.iter().map(Segment::end).max().unwrap_or(0)
    }
}
