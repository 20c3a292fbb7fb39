//! Tests of the process VM: instruction vectors from a real assembler (llvm-mc), programs
//! run through the whole interpreter, the ELF loader, faults, threads, host calls over
//! `MemFs`, the control block codec and interrupted (migrated) runs.

mod asm;
mod decode;
mod elf;
mod exec;
mod host;
mod mem;
mod pcb;
mod threads;
