//! System calls: the ones the VM performs itself (threads, futexes, time, heap, closing) and
//! the ones it hands to the host as a [`HostCall`] with decoded, checked arguments (console,
//! files, channels), answered with [`Process::complete`]. The ABI is in [`abi`].
//!
//! Invariants: every buffer of a host call is checked to be mapped and present before the
//! call is surfaced (a non-present page gives a page fault first, an unmapped one a
//! [`FaultKind::BadSyscallArg`] fault), so a host can copy to and from it without failing;
//! descriptors are looked up and access modes checked by the VM; every count a host returns
//! is checked against the call's buffer before it reaches the guest.

use super::abi::{self, errno};
use super::mem::{MemFault, PAGE_SIZE, PageStore};
use super::pcb::{ChanEnd, ControlBlock, FdEntry, MAX_THREADS, Thread, ThreadState};
use super::{FaultKind, ProcError, Process, Regs};
use crate::fs::Handle;

/// A buffer in guest memory, checked to be mapped and present when the call was surfaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GuestBuf {
    /// Guest address.
    pub addr: u32,
    /// Length in bytes (already clamped to the call's maximum).
    pub len: u32,
}

/// A system call the host performs. File calls carry the descriptor's [`FdEntry`] (file
/// system, handle, offset, flags) so a stateless back end has everything it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCall {
    /// Write `buf` to the process's console. Reply: `Value(bytes written)`.
    Console {
        /// The bytes.
        buf: GuestBuf,
    },
    /// Open the file at `path` (resolved by the host's namespace). Reply: `Opened`.
    Open {
        /// The path bytes.
        path: GuestBuf,
        /// `O_*` flags.
        flags: u32,
    },
    /// Read at `file.offset` into `buf`. Reply: `Value(bytes read)` after writing them with
    /// [`Process::write_guest`]; the VM advances the offset.
    Read {
        /// Descriptor.
        fd: u32,
        /// Its entry.
        file: FdEntry,
        /// Destination.
        buf: GuestBuf,
    },
    /// Write `buf` at `file.offset` (at the end with `O_APPEND`). Reply: `Value(bytes
    /// written)`; the VM advances the offset.
    Write {
        /// Descriptor.
        fd: u32,
        /// Its entry.
        file: FdEntry,
        /// Source.
        buf: GuestBuf,
    },
    /// The new offset `size + offset` of a SEEK_END (SEEK_SET and SEEK_CUR are done by the
    /// VM). Reply: `Value(new offset)`.
    SeekEnd {
        /// Descriptor.
        fd: u32,
        /// Its entry.
        file: FdEntry,
        /// Offset from the end.
        offset: i64,
    },
    /// Write the file's [`abi::Stat`] to `buf` ([`abi::STAT_SIZE`] bytes). Reply: `Value(0)`.
    Fstat {
        /// Descriptor.
        fd: u32,
        /// Its entry.
        file: FdEntry,
        /// Destination address.
        buf: GuestBuf,
    },
    /// List the directory from cookie `file.offset` into `buf` as [`abi::Dirent`] records.
    /// Reply: `Listed`.
    Readdir {
        /// Descriptor.
        fd: u32,
        /// Its entry.
        file: FdEntry,
        /// Destination.
        buf: GuestBuf,
    },
    /// Open end `end` of the channel named `name`. Reply: `ChanOpened`.
    ChanOpen {
        /// Name bytes.
        name: GuestBuf,
        /// 0 or 1.
        end: u8,
    },
    /// Close a channel end (the VM forgets it whatever the reply). Reply: `Value(0)`.
    ChanClose {
        /// Channel descriptor.
        cd: u32,
        /// The end.
        chan: ChanEnd,
    },
    /// Send `buf` as one message. Reply: `Value(bytes)`.
    ChanSend {
        /// Channel descriptor.
        cd: u32,
        /// The end.
        chan: ChanEnd,
        /// The message.
        buf: GuestBuf,
    },
    /// Receive the next message into `buf`. Reply: `Value(bytes)`, or `Park` while there is
    /// none (then [`Process::wake_parked`] when one arrives).
    ChanRecv {
        /// Channel descriptor.
        cd: u32,
        /// The end.
        chan: ChanEnd,
        /// Destination.
        buf: GuestBuf,
    },
}

/// The host's answer to a [`HostCall`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Success with a value (a byte count no larger than the call's buffer, or an offset).
    Value(u64),
    /// Failure with a positive errno ([`abi::errno`]).
    Error(i32),
    /// OPEN succeeded: the VM allocates the descriptor.
    Opened {
        /// File system id in the host's namespace.
        fs: u32,
        /// The file's handle.
        handle: Handle,
    },
    /// CHAN_OPEN succeeded: the VM allocates the descriptor.
    ChanOpened(ChanEnd),
    /// READDIR wrote `len` bytes; `cookie` resumes after the last record (kept as the
    /// descriptor's offset).
    Listed {
        /// Bytes written.
        len: u32,
        /// Next cookie.
        cookie: u64,
    },
    /// Cannot complete now: the thread waits (other threads run) and issues the call again
    /// after [`Process::wake_parked`].
    Park,
}

/// What an ECALL did.
pub(super) enum Sys {
    /// Completed; the thread continues.
    Done,
    /// Completed or blocked; switch threads.
    Switch,
    /// The host must perform it.
    Host(HostCall),
    /// A buffer's page is not present; nothing changed.
    PageFault(u32),
    /// The process faults.
    Fault(FaultKind, u32),
    /// The process exits.
    Exit(i32),
}

/// Why a host call was not surfaced.
enum Refuse {
    Errno(i32),
    Mem(MemFault),
    Unknown,
}

impl From<MemFault> for Refuse {
    fn from(e: MemFault) -> Self {
        Refuse::Mem(e)
    }
}

/// Sets `a0` and moves past the ECALL.
fn ret(r: &mut Regs, v: u32) {
    r.x[10] = v;
    r.pc = r.pc.wrapping_add(4);
}

fn errv(e: i32) -> u32 {
    (-e) as u32
}

pub(super) fn ecall<const P: usize, S: PageStore + ?Sized>(
    p: &mut Process<P>,
    i: usize,
    store: &mut S,
    now: u64,
) -> Sys {
    let Some(t) = p.cb.threads.get(i) else { return Sys::Fault(FaultKind::BadSyscall, 0) };
    let x = t.regs.x;
    let (nr, a0, a1, a2) = (x[17], x[10], x[11], x[12]);
    let cb = &mut p.cb;
    match nr {
        abi::EXIT => return Sys::Exit(a0 as i32),
        abi::THREAD_EXIT => return thread_exit(cb, i, a0 as i32),
        abi::YIELD => {
            with(cb, i, |r| ret(r, 0));
            return Sys::Switch;
        }
        abi::SLEEP => {
            let us = u64::from(a0) | (u64::from(a1) << 32);
            with(cb, i, |r| ret(r, 0));
            if us > 0
                && let Some(t) = cb.threads.get_mut(i)
            {
                t.state = ThreadState::Sleeping { until: now.saturating_add(us) };
            }
            return Sys::Switch;
        }
        abi::CLOCK => with(cb, i, |r| {
            r.x[11] = (now >> 32) as u32;
            ret(r, now as u32);
        }),
        abi::SPAWN => {
            let v = spawn(cb, a0, a1, a2);
            with(cb, i, |r| ret(r, v));
        }
        abi::JOIN => return join(cb, i, a0),
        abi::FUTEX_WAIT => return futex_wait(p, i, store, now),
        abi::FUTEX_WAKE => {
            let n = futex_wake(cb, a0, a1);
            with(cb, i, |r| ret(r, n));
        }
        abi::BRK => {
            let v = brk(p, store, a0);
            with(&mut p.cb, i, |r| ret(r, v));
        }
        abi::SEEK if x[13] != abi::SEEK_END => {
            let v = seek_local(cb, a0, u64::from(a1) | (u64::from(a2) << 32), x[13]);
            with(cb, i, |r| {
                let v = v.unwrap_or_else(|e| -i64::from(e));
                r.x[11] = (v >> 32) as u32;
                ret(r, v as u32);
            });
        }
        abi::CLOSE => {
            let v = match cb.fds.get_mut(a0 as usize).and_then(Option::take) {
                Some(_) => 0,
                None => errv(errno::EBADF),
            };
            with(cb, i, |r| ret(r, v));
        }
        _ => {
            return match host_call(p, i, store) {
                Ok(call) => Sys::Host(call),
                Err(Refuse::Errno(e)) => {
                    with(&mut p.cb, i, |r| {
                        if nr == abi::SEEK {
                            r.x[11] = u32::MAX;
                        }
                        ret(r, errv(e))
                    });
                    Sys::Done
                }
                Err(Refuse::Mem(m)) => mem_sys(m),
                Err(Refuse::Unknown) => Sys::Fault(FaultKind::BadSyscall, nr),
            };
        }
    }
    Sys::Done
}

fn with(cb: &mut ControlBlock, i: usize, f: impl FnOnce(&mut Regs)) {
    if let Some(t) = cb.threads.get_mut(i) {
        f(&mut t.regs);
    }
}

fn mem_sys(m: MemFault) -> Sys {
    match m {
        MemFault::NotPresent(vpn) => Sys::PageFault(vpn),
        MemFault::Unmapped(a) | MemFault::Misaligned(a) | MemFault::OutOfMemory(a) => {
            Sys::Fault(FaultKind::BadSyscallArg, a)
        }
        MemFault::LostFrame(v) => Sys::Fault(FaultKind::LostFrame, v.wrapping_shl(12)),
    }
}

fn spawn(cb: &mut ControlBlock, entry: u32, sp: u32, arg: u32) -> u32 {
    if cb.threads.len() >= MAX_THREADS {
        return errv(errno::EAGAIN);
    }
    let tid = cb.next_tid;
    let mut regs = Regs::new(entry);
    regs.x[2] = sp;
    regs.x[10] = arg;
    if cb.threads.push(Thread { tid, regs, state: ThreadState::Runnable }).is_err() {
        return errv(errno::EAGAIN);
    }
    cb.next_tid = tid.wrapping_add(1);
    tid
}

fn thread_exit(cb: &mut ControlBlock, i: usize, code: i32) -> Sys {
    let Some(tid) = cb.threads.get(i).map(|t| t.tid) else { return Sys::Exit(code) };
    let others_live =
        cb.threads.iter().enumerate().any(|(j, t)| j != i && !matches!(t.state, ThreadState::Exited { .. }));
    if !others_live {
        return Sys::Exit(code);
    }
    let joiner = cb.threads.iter().position(|t| t.state == ThreadState::Joining { tid });
    match joiner.and_then(|j| cb.threads.get_mut(j)) {
        Some(j) => {
            j.state = ThreadState::Runnable;
            ret(&mut j.regs, code as u32);
            cb.threads.remove(i);
        }
        None => {
            if let Some(t) = cb.threads.get_mut(i) {
                t.state = ThreadState::Exited { code };
            }
        }
    }
    Sys::Switch
}

fn join(cb: &mut ControlBlock, i: usize, target: u32) -> Sys {
    let me = cb.threads.get(i).map(|t| t.tid);
    let found = cb.index_of(target);
    let result = match found.and_then(|j| cb.threads.get(j)).map(|t| t.state) {
        _ if me == Some(target) => Err(errno::EDEADLK),
        None => Err(errno::ESRCH),
        Some(ThreadState::Exited { code }) => Ok(code),
        Some(_) if cb.threads.iter().any(|t| t.state == ThreadState::Joining { tid: target }) => Err(errno::EINVAL),
        Some(_) => {
            // Wait; the exiting thread sets a0 and moves us past the ECALL.
            if let Some(t) = cb.threads.get_mut(i) {
                t.state = ThreadState::Joining { tid: target };
            }
            return Sys::Switch;
        }
    };
    match result {
        Ok(code) => {
            with(cb, i, |r| ret(r, code as u32));
            if let Some(j) = found {
                cb.threads.remove(j);
            }
        }
        Err(e) => with(cb, i, |r| ret(r, errv(e))),
    }
    Sys::Done
}

fn futex_wait<const P: usize, S: PageStore + ?Sized>(p: &mut Process<P>, i: usize, store: &S, now: u64) -> Sys {
    let Some(t) = p.cb.threads.get_mut(i) else { return Sys::Done };
    let (addr, expected, timeout) = (t.regs.x[10], t.regs.x[11], t.regs.x[12]);
    let v = match p.mem.load(store, addr, 4) {
        Ok(v) => v,
        Err(e) => return mem_sys(e),
    };
    if v != expected {
        ret(&mut t.regs, errv(errno::EAGAIN));
        return Sys::Done;
    }
    let until = if timeout == 0 { u64::MAX } else { now.saturating_add(u64::from(timeout)) };
    ret(&mut t.regs, 0);
    t.state = ThreadState::FutexWait { addr, until };
    Sys::Switch
}

fn futex_wake(cb: &mut ControlBlock, addr: u32, count: u32) -> u32 {
    let mut n = 0;
    for t in cb.threads.iter_mut() {
        if n == count {
            break;
        }
        if matches!(t.state, ThreadState::FutexWait { addr: a, .. } if a == addr) {
            t.state = ThreadState::Runnable;
            n += 1;
        }
    }
    n
}

fn brk<const P: usize, S: PageStore + ?Sized>(p: &mut Process<P>, store: &mut S, new: u32) -> u32 {
    let cb = &mut p.cb;
    if new == 0 || new < cb.brk_start || new > cb.brk_limit {
        return cb.brk;
    }
    let page = |a: u32| (u64::from(a).next_multiple_of(PAGE_SIZE as u64) >> 12) as u32;
    let (old_end, new_end) = (page(cb.brk), page(new));
    if new_end > old_end {
        if !p.mem.map_zero(old_end, new_end - old_end) {
            return cb.brk;
        }
    } else {
        p.mem.unmap(store, new_end, old_end - new_end);
    }
    cb.brk = new;
    new
}

/// Decodes and checks the host call at thread `i`'s ECALL (a pure function of its registers,
/// the control block and which pages are present).
fn host_call<const P: usize, S: PageStore + ?Sized>(p: &Process<P>, i: usize, _store: &S) -> Result<HostCall, Refuse> {
    let t = p.cb.threads.get(i).ok_or(Refuse::Errno(errno::EINVAL))?;
    let x = &t.regs.x;
    let (nr, a0, a1, a2, a3) = (x[17], x[10], x[11], x[12], x[13]);
    let buf = |addr: u32, len: u32| -> Result<GuestBuf, Refuse> {
        p.mem.check_range(addr, len)?;
        Ok(GuestBuf { addr, len })
    };
    let name = |addr: u32, len: u32| {
        if len > abi::MAX_PATH {
            return Err(Refuse::Errno(errno::ENAMETOOLONG));
        }
        buf(addr, len)
    };
    let file = |fd: u32| p.cb.fds.get(fd as usize).copied().flatten().ok_or(Refuse::Errno(errno::EBADF));
    let chan = |cd: u32| p.cb.channels.get(cd as usize).copied().flatten().ok_or(Refuse::Errno(errno::EBADF));
    let mode = |f: &FdEntry, write: bool| {
        let m = f.flags & abi::O_ACCMODE;
        let ok = if write { m != abi::O_RDONLY } else { m != abi::O_WRONLY };
        if ok { Ok(()) } else { Err(Refuse::Errno(errno::EBADF)) }
    };
    let call = match nr {
        abi::CONSOLE_WRITE => HostCall::Console { buf: buf(a0, a1.min(abi::MAX_IO))? },
        abi::OPEN => {
            if p.cb.fds.iter().all(Option::is_some) {
                return Err(Refuse::Errno(errno::EMFILE));
            }
            HostCall::Open { path: name(a0, a1)?, flags: a2 }
        }
        abi::READ | abi::WRITE => {
            let f = file(a0)?;
            let write = nr == abi::WRITE;
            mode(&f, write)?;
            let b = buf(a1, a2.min(abi::MAX_IO))?;
            if write { HostCall::Write { fd: a0, file: f, buf: b } } else { HostCall::Read { fd: a0, file: f, buf: b } }
        }
        abi::SEEK => {
            let f = file(a0)?;
            let off = (u64::from(a1) | (u64::from(a2) << 32)) as i64;
            match a3 {
                abi::SEEK_END => HostCall::SeekEnd { fd: a0, file: f, offset: off },
                // SEEK_SET and SEEK_CUR never reach the host (see `seek_local`).
                _ => return Err(Refuse::Unknown),
            }
        }
        abi::FSTAT => HostCall::Fstat { fd: a0, file: file(a0)?, buf: buf(a1, abi::STAT_SIZE as u32)? },
        abi::READDIR => HostCall::Readdir { fd: a0, file: file(a0)?, buf: buf(a1, a2.min(abi::MAX_IO))? },
        abi::CHAN_OPEN => {
            if a2 > 1 {
                return Err(Refuse::Errno(errno::EINVAL));
            }
            if p.cb.channels.iter().all(Option::is_some) {
                return Err(Refuse::Errno(errno::EMFILE));
            }
            HostCall::ChanOpen { name: name(a0, a1)?, end: a2 as u8 }
        }
        abi::CHAN_CLOSE => HostCall::ChanClose { cd: a0, chan: chan(a0)? },
        abi::CHAN_SEND => {
            let c = chan(a0)?;
            if a2 > abi::MAX_MSG {
                return Err(Refuse::Errno(errno::EMSGSIZE));
            }
            HostCall::ChanSend { cd: a0, chan: c, buf: buf(a1, a2)? }
        }
        abi::CHAN_RECV => HostCall::ChanRecv { cd: a0, chan: chan(a0)?, buf: buf(a1, a2.min(abi::MAX_MSG))? },
        _ => return Err(Refuse::Unknown),
    };
    Ok(call)
}

/// SEEK_SET and SEEK_CUR: the new offset, or an errno.
fn seek_local(cb: &mut ControlBlock, fd: u32, off: u64, whence: u32) -> Result<i64, i32> {
    let f = cb.fds.get_mut(fd as usize).and_then(Option::as_mut).ok_or(errno::EBADF)?;
    let base = match whence {
        abi::SEEK_SET => 0,
        abi::SEEK_CUR => f.offset as i64,
        _ => return Err(errno::EINVAL),
    };
    let new = base.checked_add(off as i64).filter(|n| *n >= 0).ok_or(errno::EINVAL)?;
    f.offset = new as u64;
    Ok(new)
}

impl<const P: usize> Process<P> {
    /// The outstanding host call, if any (the same one [`Event::Call`](super::Event::Call)
    /// reported).
    pub fn pending<S: PageStore + ?Sized>(&self, store: &S) -> Option<(u32, HostCall)> {
        let i = self.cb.threads.iter().position(|t| t.state == ThreadState::HostCall)?;
        let tid = self.cb.threads.get(i)?.tid;
        host_call(self, i, store).ok().map(|c| (tid, c))
    }

    /// The page the outstanding host call needs before it can be issued: a call left
    /// outstanding by a migration (its process stopped while the host performed it elsewhere)
    /// may name a buffer whose page is still remote after a post-copy hand-off; [`Process::pending`]
    /// gives `None` for it until this page is installed.
    pub fn pending_page<S: PageStore + ?Sized>(&self, store: &S) -> Option<u32> {
        let i = self.cb.threads.iter().position(|t| t.state == ThreadState::HostCall)?;
        match host_call(self, i, store) {
            Err(Refuse::Mem(MemFault::NotPresent(vpn))) => Some(vpn),
            _ => None,
        }
    }

    /// Answers the outstanding host call. For READ, FSTAT, READDIR and CHAN_RECV, write the
    /// data into the call's buffer with [`Process::write_guest`] first. A reply that does not
    /// fit the call (wrong kind, a count above the buffer, an errno outside 1..=4095) is
    /// refused with [`ProcError::BadReply`] and changes nothing.
    pub fn complete<S: PageStore + ?Sized>(&mut self, store: &mut S, reply: Reply) -> Result<(), ProcError> {
        let i = self.cb.threads.iter().position(|t| t.state == ThreadState::HostCall).ok_or(ProcError::NoCall)?;
        let call = host_call(self, i, store).map_err(|_| ProcError::NoCall)?;
        let fits = |n: u64, b: GuestBuf| if n <= u64::from(b.len) { Ok(n) } else { Err(ProcError::BadReply) };
        let cb = &mut self.cb;
        let value: Result<u64, i32> = match (call, reply) {
            (_, Reply::Park) => {
                if let Some(t) = cb.threads.get_mut(i) {
                    t.state = ThreadState::Parked;
                }
                return Ok(());
            }
            (_, Reply::Error(e)) if (1..=4095).contains(&e) => {
                if let HostCall::ChanClose { cd, .. } = call {
                    cb.channels.get_mut(cd as usize).map(Option::take);
                }
                Err(e)
            }
            (HostCall::Console { buf }, Reply::Value(n)) | (HostCall::ChanSend { buf, .. }, Reply::Value(n)) => {
                Ok(fits(n, buf)?)
            }
            (HostCall::ChanRecv { buf, .. }, Reply::Value(n)) => Ok(fits(n, buf)?),
            (HostCall::Read { fd, buf, .. } | HostCall::Write { fd, buf, .. }, Reply::Value(n)) => {
                let n = fits(n, buf)?;
                let f = cb.fds.get_mut(fd as usize).and_then(Option::as_mut).ok_or(ProcError::NoCall)?;
                f.offset = f.offset.saturating_add(n);
                Ok(n)
            }
            (HostCall::SeekEnd { fd, .. }, Reply::Value(off)) if off <= i64::MAX as u64 => {
                let f = cb.fds.get_mut(fd as usize).and_then(Option::as_mut).ok_or(ProcError::NoCall)?;
                f.offset = off;
                Ok(off)
            }
            (HostCall::Fstat { .. }, Reply::Value(_)) => Ok(0),
            (HostCall::Readdir { fd, buf, .. }, Reply::Listed { len, cookie }) => {
                let n = fits(u64::from(len), buf)?;
                let f = cb.fds.get_mut(fd as usize).and_then(Option::as_mut).ok_or(ProcError::NoCall)?;
                f.offset = cookie;
                Ok(n)
            }
            (HostCall::Open { flags, .. }, Reply::Opened { fs, handle }) => {
                let entry = FdEntry { fs, handle, offset: 0, flags };
                match cb.fds.iter().position(Option::is_none) {
                    Some(fd) => {
                        cb.fds.get_mut(fd).map(|s| s.replace(entry));
                        Ok(fd as u64)
                    }
                    None => Err(errno::EMFILE),
                }
            }
            (HostCall::ChanOpen { .. }, Reply::ChanOpened(end)) if end.end <= 1 => {
                match cb.channels.iter().position(Option::is_none) {
                    Some(cd) => {
                        cb.channels.get_mut(cd).map(|s| s.replace(end));
                        Ok(cd as u64)
                    }
                    None => Err(errno::EMFILE),
                }
            }
            (HostCall::ChanClose { cd, .. }, Reply::Value(_)) => {
                cb.channels.get_mut(cd as usize).map(Option::take);
                Ok(0)
            }
            _ => return Err(ProcError::BadReply),
        };
        let v = value.map_or_else(|e| -i64::from(e), |v| v as i64);
        let Some(t) = cb.threads.get_mut(i) else { return Err(ProcError::NoCall) };
        if matches!(call, HostCall::SeekEnd { .. }) {
            t.regs.x[11] = (v >> 32) as u32;
        }
        ret(&mut t.regs, v as u32);
        t.state = ThreadState::Runnable;
        cb.instret = cb.instret.wrapping_add(1);
        cb.quantum_left = cb.quantum_left.saturating_sub(1);
        Ok(())
    }
}
