//! The process control block: everything about a process except its pages, as plain data, and
//! its byte encoding (what a migration sends besides the pages).
//!
//! Encoding: a hand-written codec over the crate's XDR [`Reader`]/[`Writer`] (big-endian 32-bit
//! words, `opaque<56>` handles) rather than postcard + serde: the control block holds core types
//! without serde support ([`Handle`]), every count is checked against its table's capacity
//! before anything is read, the layout is versioned by a magic word, and the whole encoding has
//! a fixed upper bound ([`ControlBlock::MAX_ENCODED`]), so a destination can size its buffer
//! statically. Decoding hostile bytes gives [`PcbError`], never a panic, and a decoded block is
//! validated (unique thread ids, the current thread exists, register x0 is zero, brk within
//! its limits), so the interpreter's invariants hold for any block that decodes.
//!
//! The console does not live here: output leaves at once through
//! [`HostCall::Console`](super::HostCall::Console) to whichever node runs the process, which
//! forwards it to the process's home node ([`ControlBlock::home`]). Keeping no console buffer
//! keeps the control block small and bounded, and output is never lost or duplicated by a
//! migration (it has left before the process stops).

use super::exec::Regs;
use super::{Access, Fault, FaultKind};
use crate::fs::{Handle, MAX_HANDLE};
use crate::xdr::{self, Reader, Writer};

/// Most threads per process (exited threads count until joined).
pub const MAX_THREADS: usize = 16;
/// Most open files per process.
pub const MAX_FDS: usize = 16;
/// Most channel ends per process.
pub const MAX_CHANNELS: usize = 8;
/// Instructions a thread runs before the next runnable thread gets its turn.
pub const QUANTUM: u32 = 10_000;

/// A thread's scheduling state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ThreadState {
    /// Ready to run.
    Runnable,
    /// Stopped at an ECALL that the host has to complete ([`Process::complete`](super::Process::complete)).
    HostCall,
    /// Stopped at an ECALL the host could not complete yet (an empty channel); it is issued
    /// again after [`Process::wake_parked`](super::Process::wake_parked).
    Parked,
    /// Asleep until this time (microseconds of the host's clock).
    Sleeping {
        /// Wake-up time.
        until: u64,
    },
    /// Waiting for thread `tid` to exit.
    Joining {
        /// The awaited thread.
        tid: u32,
    },
    /// Waiting on the futex word at `addr` until woken or until `until` (`u64::MAX`: never).
    FutexWait {
        /// The futex word's address.
        addr: u32,
        /// Time-out.
        until: u64,
    },
    /// Finished with this code, not joined yet.
    Exited {
        /// Exit code.
        code: i32,
    },
}

/// One thread: id, registers, state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Thread {
    /// Thread id, unique in the process (0 is the initial thread).
    pub tid: u32,
    /// Registers and pc.
    pub regs: Regs,
    /// Scheduling state.
    pub state: ThreadState,
}

/// An open file: plain data that a namespace resolves on whichever node runs the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdEntry {
    /// Which file system (mount) the handle belongs to, as the host's namespace numbers them.
    pub fs: u32,
    /// The file's handle on that file system.
    pub handle: Handle,
    /// Current offset (a directory's readdir cookie).
    pub offset: u64,
    /// The flags given to open (`O_*` of [`abi`](super::abi)).
    pub flags: u32,
}

/// One end of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChanEnd {
    /// The channel's id, chosen by the host that created it.
    pub channel: u64,
    /// Which end (0 or 1).
    pub end: u8,
}

/// Whether a process still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// Not finished.
    Running,
    /// Exited with this code.
    Exited(i32),
    /// Ended by a fault.
    Faulted(Fault),
}

/// Everything about a process except its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlBlock {
    /// Process id (chosen by the host).
    pub pid: u64,
    /// The node the process was started on (its console and exit status go there).
    pub home: u64,
    /// Threads in creation order.
    pub threads: heapless::Vec<Thread, MAX_THREADS>,
    /// The id the next spawned thread gets.
    pub next_tid: u32,
    /// Id of the thread whose turn it is.
    pub current: u32,
    /// Instructions left in the current thread's quantum.
    pub quantum_left: u32,
    /// Open files by descriptor.
    pub fds: [Option<FdEntry>; MAX_FDS],
    /// Channel ends by descriptor.
    pub channels: [Option<ChanEnd>; MAX_CHANNELS],
    /// Start of the heap (page aligned, the end of the loaded image).
    pub brk_start: u32,
    /// Current end of the heap.
    pub brk: u32,
    /// Highest value brk may take (a guard page below the stack).
    pub brk_limit: u32,
    /// Instructions retired (all threads): the `instret` and `cycle` counters.
    pub instret: u64,
    /// Running, exited or faulted.
    pub status: Status,
}

impl ControlBlock {
    /// An empty block (no threads).
    pub const fn new(pid: u64, home: u64) -> Self {
        ControlBlock {
            pid,
            home,
            threads: heapless::Vec::new(),
            next_tid: 0,
            current: 0,
            quantum_left: QUANTUM,
            fds: [None; MAX_FDS],
            channels: [None; MAX_CHANNELS],
            brk_start: 0,
            brk: 0,
            brk_limit: 0,
            instret: 0,
            status: Status::Running,
        }
    }

    /// Index of thread `tid`.
    pub fn index_of(&self, tid: u32) -> Option<usize> {
        self.threads.iter().position(|t| t.tid == tid)
    }

    /// The largest encoding of any control block.
    pub const MAX_ENCODED: usize = HEADER + MAX_THREADS * THREAD_LEN + MAX_FDS * FD_LEN + MAX_CHANNELS * CHAN_LEN;

    /// Encodes the block into `buf`; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, PcbError> {
        let mut w = Writer::new(buf);
        self.encode_into(&mut w).map_err(|_| PcbError::BufferFull)?;
        Ok(w.position())
    }

    fn encode_into(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_u32(MAGIC)?;
        w.put_u64(self.pid)?;
        w.put_u64(self.home)?;
        w.put_u32(self.next_tid)?;
        w.put_u32(self.current)?;
        w.put_u32(self.quantum_left)?;
        w.put_u32(self.brk_start)?;
        w.put_u32(self.brk)?;
        w.put_u32(self.brk_limit)?;
        w.put_u64(self.instret)?;
        encode_status(w, &self.status)?;
        w.put_u32(self.threads.len() as u32)?;
        for t in &self.threads {
            encode_thread(w, t)?;
        }
        w.put_u32(self.fds.iter().flatten().count() as u32)?;
        for (fd, e) in self.fds.iter().enumerate() {
            if let Some(e) = e {
                w.put_u32(fd as u32)?;
                w.put_u32(e.fs)?;
                w.put_var_opaque(e.handle.as_bytes(), MAX_HANDLE as u32)?;
                w.put_u64(e.offset)?;
                w.put_u32(e.flags)?;
            }
        }
        w.put_u32(self.channels.iter().flatten().count() as u32)?;
        for (cd, c) in self.channels.iter().enumerate() {
            if let Some(c) = c {
                w.put_u32(cd as u32)?;
                w.put_u64(c.channel)?;
                w.put_u32(u32::from(c.end))?;
            }
        }
        Ok(())
    }

    /// Decodes and validates a block encoded by [`ControlBlock::encode`] (all of `buf`).
    pub fn decode(buf: &[u8]) -> Result<Self, PcbError> {
        let mut r = Reader::new(buf);
        let cb = Self::decode_from(&mut r)?;
        r.finish().map_err(|_| PcbError::Malformed)?;
        cb.validate()?;
        Ok(cb)
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, PcbError> {
        if r.u32()? != MAGIC {
            return Err(PcbError::BadMagic);
        }
        let mut cb = ControlBlock::new(r.u64()?, r.u64()?);
        cb.next_tid = r.u32()?;
        cb.current = r.u32()?;
        cb.quantum_left = r.u32()?;
        cb.brk_start = r.u32()?;
        cb.brk = r.u32()?;
        cb.brk_limit = r.u32()?;
        cb.instret = r.u64()?;
        cb.status = decode_status(r)?;
        let n = r.u32()? as usize;
        if n > MAX_THREADS {
            return Err(PcbError::TooMany);
        }
        for _ in 0..n {
            let t = decode_thread(r)?;
            cb.threads.push(t).map_err(|_| PcbError::TooMany)?;
        }
        let n = r.u32()? as usize;
        if n > MAX_FDS {
            return Err(PcbError::TooMany);
        }
        for _ in 0..n {
            let fd = r.u32()? as usize;
            let fs = r.u32()?;
            let handle = Handle::new(r.var_opaque(MAX_HANDLE as u32)?).ok_or(PcbError::Malformed)?;
            let e = FdEntry { fs, handle, offset: r.u64()?, flags: r.u32()? };
            let slot = cb.fds.get_mut(fd).ok_or(PcbError::Malformed)?;
            if slot.replace(e).is_some() {
                return Err(PcbError::Malformed);
            }
        }
        let n = r.u32()? as usize;
        if n > MAX_CHANNELS {
            return Err(PcbError::TooMany);
        }
        for _ in 0..n {
            let cd = r.u32()? as usize;
            let channel = r.u64()?;
            let end = u8::try_from(r.u32()?).ok().filter(|e| *e <= 1).ok_or(PcbError::Malformed)?;
            let slot = cb.channels.get_mut(cd).ok_or(PcbError::Malformed)?;
            if slot.replace(ChanEnd { channel, end }).is_some() {
                return Err(PcbError::Malformed);
            }
        }
        Ok(cb)
    }

    /// Checks the invariants the interpreter relies on.
    fn validate(&self) -> Result<(), PcbError> {
        for (i, t) in self.threads.iter().enumerate() {
            if self.threads.iter().skip(i + 1).any(|u| u.tid == t.tid) || t.tid >= self.next_tid {
                return Err(PcbError::Inconsistent);
            }
            if t.regs.x[0] != 0 {
                return Err(PcbError::Inconsistent);
            }
        }
        let host_calls = self.threads.iter().filter(|t| t.state == ThreadState::HostCall).count();
        let running = self.status == Status::Running;
        if running && (self.index_of(self.current).is_none() || host_calls > 1) {
            return Err(PcbError::Inconsistent);
        }
        if self.quantum_left > QUANTUM
            || self.brk < self.brk_start
            || self.brk > self.brk_limit
            || !self.brk_start.is_multiple_of(4096)
        {
            return Err(PcbError::Inconsistent);
        }
        Ok(())
    }
}

/// Why a control block could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PcbError {
    /// The output buffer is too small.
    BufferFull,
    /// Not a control block of this version.
    BadMagic,
    /// The bytes end early, carry trailing data or an invalid field.
    Malformed,
    /// More threads, files or channels than a process may have.
    TooMany,
    /// The fields contradict each other (duplicate thread ids, no current thread, ...).
    Inconsistent,
}

impl From<xdr::Error> for PcbError {
    fn from(_: xdr::Error) -> Self {
        PcbError::Malformed
    }
}

impl core::fmt::Display for PcbError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PcbError::BufferFull => "control block buffer too small",
            PcbError::BadMagic => "not a Tern control block (version 1)",
            PcbError::Malformed => "malformed control block",
            PcbError::TooMany => "control block lists too many threads, files or channels",
            PcbError::Inconsistent => "inconsistent control block",
        })
    }
}

impl core::error::Error for PcbError {}

/// "TPC1": Tern process control block, version 1.
const MAGIC: u32 = 0x5450_4331;
/// Fixed fields: magic, pid, home, next_tid, current, quantum, brk × 3, instret, status (tag +
/// fault: tid, pc, kind, access, addr), three counts.
const HEADER: usize = 4 + 8 + 8 + 4 * 6 + 8 + 4 * 6 + 4 * 3;
/// tid, 31 registers, pc, reservation (flag + addr), state (tag + 8-byte + 4-byte field).
const THREAD_LEN: usize = 4 + 31 * 4 + 4 + 8 + 4 + 8 + 4;
/// fd, fs, handle (length + 56), offset, flags.
const FD_LEN: usize = 4 + 4 + 4 + MAX_HANDLE + 8 + 4;
/// cd, channel, end.
const CHAN_LEN: usize = 4 + 8 + 4;

fn encode_thread(w: &mut Writer<'_>, t: &Thread) -> xdr::Result<()> {
    w.put_u32(t.tid)?;
    for x in &t.regs.x[1..] {
        w.put_u32(*x)?;
    }
    w.put_u32(t.regs.pc)?;
    w.put_u32(u32::from(t.regs.reservation.is_some()))?;
    w.put_u32(t.regs.reservation.unwrap_or(0))?;
    let (tag, a, b) = match t.state {
        ThreadState::Runnable => (0, 0, 0),
        ThreadState::HostCall => (1, 0, 0),
        ThreadState::Parked => (2, 0, 0),
        ThreadState::Sleeping { until } => (3, until, 0),
        ThreadState::Joining { tid } => (4, 0, tid),
        ThreadState::FutexWait { addr, until } => (5, until, addr),
        ThreadState::Exited { code } => (6, 0, code as u32),
    };
    w.put_u32(tag)?;
    w.put_u64(a)?;
    w.put_u32(b)
}

fn decode_thread(r: &mut Reader<'_>) -> Result<Thread, PcbError> {
    let tid = r.u32()?;
    let mut regs = Regs::new(0);
    for x in regs.x.iter_mut().skip(1) {
        *x = r.u32()?;
    }
    regs.pc = r.u32()?;
    let reserved = r.u32()?;
    let addr = r.u32()?;
    regs.reservation = match reserved {
        0 => None,
        1 => Some(addr),
        _ => return Err(PcbError::Malformed),
    };
    let (tag, a, b) = (r.u32()?, r.u64()?, r.u32()?);
    let state = match tag {
        0 => ThreadState::Runnable,
        1 => ThreadState::HostCall,
        2 => ThreadState::Parked,
        3 => ThreadState::Sleeping { until: a },
        4 => ThreadState::Joining { tid: b },
        5 => ThreadState::FutexWait { addr: b, until: a },
        6 => ThreadState::Exited { code: b as i32 },
        _ => return Err(PcbError::Malformed),
    };
    Ok(Thread { tid, regs, state })
}

fn encode_status(w: &mut Writer<'_>, s: &Status) -> xdr::Result<()> {
    let (tag, f) = match s {
        Status::Running => (0, None),
        Status::Exited(c) => {
            w.put_u32(1)?;
            return [0, 0, *c as u32, 0, 0].iter().try_for_each(|v| w.put_u32(*v));
        }
        Status::Faulted(f) => (2, Some(f)),
    };
    w.put_u32(tag)?;
    let (tid, pc, kind, access, addr) = match f {
        Some(f) => {
            let (k, a) = fault_kind_code(f.kind);
            (f.tid, f.pc, k, a, f.addr)
        }
        None => (0, 0, 0, 0, 0),
    };
    [tid, pc, kind, access, addr].iter().try_for_each(|v| w.put_u32(*v))
}

fn decode_status(r: &mut Reader<'_>) -> Result<Status, PcbError> {
    let tag = r.u32()?;
    let (tid, pc, kind, access, addr) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?);
    Ok(match tag {
        0 => Status::Running,
        1 => Status::Exited(kind as i32),
        2 => Status::Faulted(Fault { tid, pc, kind: fault_kind_from(kind, access)?, addr }),
        _ => return Err(PcbError::Malformed),
    })
}

fn fault_kind_code(k: FaultKind) -> (u32, u32) {
    let acc = |a: Access| match a {
        Access::Fetch => 0,
        Access::Load => 1,
        Access::Store => 2,
    };
    match k {
        FaultKind::IllegalInstruction => (0, 0),
        FaultKind::Breakpoint => (1, 0),
        FaultKind::Misaligned(a) => (2, acc(a)),
        FaultKind::Unmapped(a) => (3, acc(a)),
        FaultKind::OutOfMemory => (4, 0),
        FaultKind::BadSyscall => (5, 0),
        FaultKind::BadSyscallArg => (6, 0),
        FaultKind::LostFrame => (7, 0),
        FaultKind::Deadlock => (8, 0),
    }
}

fn fault_kind_from(kind: u32, access: u32) -> Result<FaultKind, PcbError> {
    let acc = match access {
        0 => Access::Fetch,
        1 => Access::Load,
        2 => Access::Store,
        _ => return Err(PcbError::Malformed),
    };
    Ok(match kind {
        0 => FaultKind::IllegalInstruction,
        1 => FaultKind::Breakpoint,
        2 => FaultKind::Misaligned(acc),
        3 => FaultKind::Unmapped(acc),
        4 => FaultKind::OutOfMemory,
        5 => FaultKind::BadSyscall,
        6 => FaultKind::BadSyscallArg,
        7 => FaultKind::LostFrame,
        8 => FaultKind::Deadlock,
        _ => return Err(PcbError::Malformed),
    })
}
