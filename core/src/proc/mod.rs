//! The process VM: an RV32IMAC interpreter (RV32I, M, A, C and the Zicsr counters) running
//! sandboxed guests built for `riscv32imac-unknown-none-elf`.
//!
//! A [`Process`] is a [`ControlBlock`] (threads with their registers, open files, channel
//! ends, heap bounds, status; plain data with a bounded byte encoding) plus an
//! [`AddressSpace`] of 4 KiB pages with present and dirty bits, whose frames live in a
//! [`PageStore`] the caller passes to every call (a static [`ArenaStore`] on a board, heap
//! memory on a host).
//!
//! Driving a process (sans-IO, like every state machine of the core):
//! [`Process::run`]`(store, now, budget)` executes up to `budget` instructions and returns an
//! [`Event`]: the budget is used up, every thread waits (until a time, or for the host), a page
//! is not present (install it and run again: the instruction is re-executed), a system call
//! needs the host ([`HostCall`], answered with [`Process::complete`]), the process exited, or
//! it faulted ([`Fault`]: pc, kind, address). The time is an argument: the VM reads no clock.
//!
//! Invariants:
//! - **Never panics on guest behaviour**: illegal instructions, misaligned or unmapped
//!   accesses, bad system-call arguments and an exhausted page store end the process with a
//!   [`Fault`]; no `unsafe`, no allocation.
//! - **Deterministic**: the result of a run depends only on the guest, its arguments, the
//!   host's replies and the `now` values passed; it does not depend on how the work is cut
//!   into `run` calls. Threads are scheduled round-robin with a fixed quantum of
//!   [`QUANTUM`] instructions whose count lives in the control block, so stopping after any
//!   instruction, encoding the control block, copying the pages to another address space and
//!   continuing there gives the same execution.
//! - **Exact memory tracking**: see [`mem`].
//! - A host call is re-derived from the thread's registers whenever it is surfaced, so a
//!   control block encoded while a call is outstanding issues the same call again wherever it
//!   is decoded (a migration layer should complete calls before it stops a process to get
//!   at-most-once effects).

pub mod abi;
mod decode;
pub mod elf;
mod exec;
pub mod mem;
pub mod pcb;
mod sched;
mod syscall;
#[cfg(test)]
mod tests;

use core::fmt;

pub use decode::{AluOp, AmoOp, BranchOp, CsrOp, Inst, LoadOp, decode, expand};
pub use elf::{Elf, ElfError};
pub use exec::Regs;
pub use mem::{AddressSpace, ArenaStore, FrameId, MemFault, PAGE_SIZE, Page, PageInfo, PageStore};
pub use pcb::{ChanEnd, ControlBlock, FdEntry, PcbError, QUANTUM, Status, Thread, ThreadState};
pub use syscall::{GuestBuf, HostCall, Reply};

use crate::time::Instant;

/// The kind of memory access that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Access {
    /// Instruction fetch.
    Fetch,
    /// Load (or the read of an atomic).
    Load,
    /// Store (or the write of an atomic).
    Store,
}

/// Why a process was ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FaultKind {
    /// An encoding that is not an RV32IMAC user instruction, or a CSR access other than a read
    /// of a counter (the fault address is the instruction's bits).
    IllegalInstruction,
    /// EBREAK.
    Breakpoint,
    /// A misaligned access (or jump target).
    Misaligned(Access),
    /// An access to an address the process does not map.
    Unmapped(Access),
    /// The page store had no frame for a first write.
    OutOfMemory,
    /// An unknown system call number (the fault address is the number).
    BadSyscall,
    /// A system call buffer that is not mapped (the fault address is the bad address).
    BadSyscallArg,
    /// The page store lost a frame (a host bug).
    LostFrame,
    /// Every thread waits for another thread and nothing can wake any of them.
    Deadlock,
}

/// A fault report: which thread, where, what, and the address involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fault {
    /// The faulting thread.
    pub tid: u32,
    /// Its pc (at the faulting instruction).
    pub pc: u32,
    /// What happened.
    pub kind: FaultKind,
    /// The address (or instruction bits, or system call number; see [`FaultKind`]).
    pub addr: u32,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.addr;
        match self.kind {
            FaultKind::IllegalInstruction => write!(f, "illegal instruction {a:#010x}"),
            FaultKind::Breakpoint => f.write_str("breakpoint"),
            FaultKind::Misaligned(k) => write!(f, "misaligned {k:?} at {a:#010x}"),
            FaultKind::Unmapped(k) => write!(f, "{k:?} of unmapped address {a:#010x}"),
            FaultKind::OutOfMemory => write!(f, "out of memory (writing {a:#010x})"),
            FaultKind::BadSyscall => write!(f, "unknown system call {a}"),
            FaultKind::BadSyscallArg => write!(f, "system call argument at unmapped address {a:#010x}"),
            FaultKind::LostFrame => write!(f, "page store lost the page at {a:#010x}"),
            FaultKind::Deadlock => f.write_str("deadlock: every thread waits for another"),
        }?;
        write!(f, " (thread {}, pc {:#010x})", self.tid, self.pc)
    }
}

/// Why [`Process::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The budget is used up; call `run` again.
    Budget,
    /// Every live thread waits: until `wake_at` (a sleep or a futex time-out), or, when `None`,
    /// until the host wakes a parked thread ([`Process::wake_parked`]).
    Idle {
        /// The earliest time-out.
        wake_at: Option<Instant>,
    },
    /// Page `vpn` is the process's but not present: install it
    /// ([`AddressSpace::install_page`]) and run again; the instruction is re-executed.
    PageFault {
        /// Page number.
        vpn: u32,
    },
    /// Thread `tid` made a system call that the host performs; answer with
    /// [`Process::complete`]. Until then `run` returns the same call again.
    Call {
        /// The calling thread.
        tid: u32,
        /// The call, arguments decoded and checked.
        call: HostCall,
    },
    /// The process exited with this code.
    Exited {
        /// Exit code.
        code: i32,
    },
    /// The process was ended by a fault.
    Faulted(Fault),
}

/// Why loading a process or answering it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProcError {
    /// The ELF file was refused.
    Elf(ElfError),
    /// The image or stack does not fit in the address space.
    TooLarge,
    /// The page store is full.
    OutOfMemory,
    /// The arguments exceed [`MAX_ARGS`] or [`MAX_ARGS_BYTES`].
    ArgsTooLong,
    /// [`Process::complete`] without an outstanding host call.
    NoCall,
    /// A reply of the wrong kind for the outstanding call, or a count larger than its buffer.
    BadReply,
    /// A guest memory access by the host failed.
    Memory(MemFault),
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcError::Elf(e) => write!(f, "bad ELF file: {e}"),
            ProcError::TooLarge => f.write_str("the image does not fit in the address space"),
            ProcError::OutOfMemory => f.write_str("out of page frames"),
            ProcError::ArgsTooLong => f.write_str("too many or too long arguments"),
            ProcError::NoCall => f.write_str("no system call is waiting for a reply"),
            ProcError::BadReply => f.write_str("reply does not fit the system call"),
            ProcError::Memory(e) => write!(f, "guest memory: {e}"),
        }
    }
}

impl core::error::Error for ProcError {}

impl From<MemFault> for ProcError {
    fn from(e: MemFault) -> Self {
        ProcError::Memory(e)
    }
}

/// Most arguments passed at start-up.
pub const MAX_ARGS: usize = 64;
/// Most bytes of arguments (strings with their NULs) passed at start-up.
pub const MAX_ARGS_BYTES: usize = 4096;

/// How to lay out a new process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Process id.
    pub pid: u64,
    /// Home node id.
    pub home: u64,
    /// Pages of stack for the initial thread, at the top of the address space.
    pub stack_pages: u32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { pid: 1, home: 0, stack_pages: 64 }
    }
}

/// A process: control block and address space of `P` pages.
#[derive(Clone)]
pub struct Process<const P: usize> {
    /// Threads, files, channels, heap bounds, status.
    pub cb: ControlBlock,
    /// The page table.
    pub mem: AddressSpace<P>,
}

impl<const P: usize> Default for Process<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const P: usize> Process<P> {
    /// An empty process (no threads, nothing mapped): load an ELF or a migrated image into it.
    pub const fn new() -> Self {
        Process { cb: ControlBlock::new(0, 0), mem: AddressSpace::new() }
    }

    /// Loads an executable into this (empty) process: maps and fills its segments, maps the
    /// stack at the top of the address space with `args` on it, and creates thread 0 at the
    /// entry point. On error the process is left empty and every frame is returned.
    pub fn load<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        file: &[u8],
        args: &[&[u8]],
        opts: LoadOptions,
    ) -> Result<(), ProcError> {
        self.release(store);
        let r = self.load_inner(store, file, args, opts);
        if r.is_err() {
            self.release(store);
        }
        r
    }

    fn load_inner<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        file: &[u8],
        args: &[&[u8]],
        opts: LoadOptions,
    ) -> Result<(), ProcError> {
        let elf = Elf::parse(file).map_err(ProcError::Elf)?;
        let limit = u64::from(AddressSpace::<P>::limit());
        let stack_bytes = u64::from(opts.stack_pages) * PAGE_SIZE as u64;
        let stack_bottom = limit.checked_sub(stack_bytes).ok_or(ProcError::TooLarge)?;
        let brk_start = u64::from(elf.end()).next_multiple_of(PAGE_SIZE as u64);
        // One unmapped guard page between the heap and the stack.
        if brk_start + PAGE_SIZE as u64 > stack_bottom || opts.stack_pages == 0 {
            return Err(ProcError::TooLarge);
        }
        let mem_err = |e: MemFault| match e {
            MemFault::OutOfMemory(_) => ProcError::OutOfMemory,
            e => ProcError::Memory(e),
        };
        for s in elf.segments() {
            let first = s.vaddr >> mem::PAGE_SHIFT;
            let last = (s.end() - 1) >> mem::PAGE_SHIFT;
            if !self.mem.map_zero(first, last - first + 1) {
                return Err(ProcError::TooLarge);
            }
            self.mem.write_bytes(store, s.vaddr, s.data).map_err(mem_err)?;
        }
        let stack_first = (stack_bottom >> mem::PAGE_SHIFT) as u32;
        if !self.mem.map_zero(stack_first, opts.stack_pages) {
            return Err(ProcError::TooLarge);
        }
        let (sp, argv) = self.push_args(store, limit, args).map_err(|e| match e {
            ProcError::Memory(m) => mem_err(m),
            e => e,
        })?;
        let mut cb = ControlBlock::new(opts.pid, opts.home);
        cb.brk_start = brk_start as u32;
        cb.brk = brk_start as u32;
        cb.brk_limit = (stack_bottom - PAGE_SIZE as u64) as u32;
        let mut regs = Regs::new(elf.entry);
        regs.x[2] = sp;
        regs.x[10] = args.len() as u32;
        regs.x[11] = argv;
        let _ = cb.threads.push(Thread { tid: 0, regs, state: ThreadState::Runnable });
        cb.next_tid = 1;
        self.cb = cb;
        Ok(())
    }

    /// Writes the arguments below `top`: strings, then the argv array; returns (sp, argv).
    fn push_args<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        top: u64,
        args: &[&[u8]],
    ) -> Result<(u32, u32), ProcError> {
        let bytes: usize = args.iter().map(|a| a.len() + 1).sum();
        if args.len() > MAX_ARGS || bytes > MAX_ARGS_BYTES {
            return Err(ProcError::ArgsTooLong);
        }
        let mut at = top as u32 - bytes.next_multiple_of(16) as u32;
        let argv = at - (args.len() as u32 * 8).next_multiple_of(16);
        for (i, a) in args.iter().enumerate() {
            self.mem.write_bytes(store, at, a)?;
            self.mem.write_bytes(store, at + a.len() as u32, &[0])?;
            let entry = argv + 8 * i as u32;
            self.mem.write_bytes(store, entry, &at.to_le_bytes())?;
            self.mem.write_bytes(store, entry + 4, &(a.len() as u32).to_le_bytes())?;
            at += a.len() as u32 + 1;
        }
        Ok((argv, argv))
    }

    /// Unmaps everything (returning the frames to `store`) and empties the control block.
    pub fn release<S: PageStore + ?Sized>(&mut self, store: &mut S) {
        self.mem.clear(store);
        self.cb = ControlBlock::new(self.cb.pid, self.cb.home);
    }

    /// Running, exited or faulted.
    pub fn status(&self) -> Status {
        self.cb.status
    }

    /// Copies guest memory into `out` (for a host call's buffer).
    pub fn read_guest<S: PageStore + ?Sized>(&self, store: &S, addr: u32, out: &mut [u8]) -> Result<(), ProcError> {
        Ok(self.mem.read_bytes(store, addr, out)?)
    }

    /// Copies `data` into guest memory (for a host call's buffer); the pages become dirty.
    pub fn write_guest<S: PageStore + ?Sized>(
        &mut self,
        store: &mut S,
        addr: u32,
        data: &[u8],
    ) -> Result<(), ProcError> {
        Ok(self.mem.write_bytes(store, addr, data)?)
    }

    /// Makes every parked thread runnable again: each re-issues its system call on its next
    /// turn (call it when something a parked call may wait for happened, e.g. a message).
    pub fn wake_parked(&mut self) {
        for t in self.cb.threads.iter_mut() {
            if t.state == ThreadState::Parked {
                t.state = ThreadState::Runnable;
            }
        }
    }

    /// Runs up to `budget` instructions at host time `now`. See [`Event`] for what to do next.
    pub fn run<S: PageStore + ?Sized>(&mut self, store: &mut S, now: Instant, budget: u64) -> Event {
        sched::run(self, store, now.as_micros(), budget)
    }
}
