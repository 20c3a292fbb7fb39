//! Runtime for Tern guest processes (`riscv32imac-unknown-none-elf`): the entry point, safe
//! wrappers around every system call of the ABI (`tern_core::proc::abi`), console printing,
//! threads with their stacks on the heap, and a panic handler that prints the panic and
//! exits with status 101.
//!
//! A guest is a `#![no_std] #![no_main]` binary that names its main function:
//! ```ignore
//! tern_guest::entry!(main);
//! fn main(args: tern_guest::Args) -> i32 { tern_guest::println!("hi"); 0 }
//! ```
//! Arguments: the VM puts `argc` in `a0` and a pointer to `argc` (ptr, len) pairs in `a1`;
//! [`Args`] reads them.
#![no_std]

use core::fmt;

pub use tern_core::proc::abi;
use tern_core::proc::abi::{Dirent, STAT_SIZE, Stat};

pub mod sync;

/// A negative system call result: the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {}", self.0)
    }
}

/// A system call result.
pub type Result<T> = core::result::Result<T, Errno>;

/// Raw system call with up to four arguments; returns (a0, a1).
#[inline(always)]
fn syscall(nr: u32, a0: u32, a1: u32, a2: u32, a3: u32) -> (u32, u32) {
    let (r0, r1);
    // SAFETY: ECALL traps into the VM, which reads a7 and a0..a3 and writes a0 and a1 only;
    // memory passed by pointer is borrowed for the call by the safe wrappers below.
    unsafe {
        core::arch::asm!(
            "ecall",
            inlateout("a0") a0 => r0,
            inlateout("a1") a1 => r1,
            in("a2") a2,
            in("a3") a3,
            in("a7") nr,
            options(nostack),
        );
    }
    (r0, r1)
}

fn check(r: u32) -> Result<u32> {
    if (r as i32) < 0 && (r as i32) > -4096 { Err(Errno(-(r as i32))) } else { Ok(r) }
}

fn check64(lo: u32, hi: u32) -> Result<u64> {
    let v = (u64::from(hi) << 32 | u64::from(lo)) as i64;
    if v < 0 { Err(Errno(-v as i32)) } else { Ok(v as u64) }
}

/// Ends the process with `code`.
pub fn exit(code: i32) -> ! {
    syscall(abi::EXIT, code as u32, 0, 0, 0);
    // The VM never returns from EXIT; make sure nothing runs if one did.
    loop {
        core::hint::spin_loop();
    }
}

/// Ends the calling thread with `code` (the last thread's end ends the process).
pub fn thread_exit(code: i32) -> ! {
    syscall(abi::THREAD_EXIT, code as u32, 0, 0, 0);
    loop {
        core::hint::spin_loop();
    }
}

/// Lets the next runnable thread run.
pub fn yield_now() {
    syscall(abi::YIELD, 0, 0, 0, 0);
}

/// Sleeps for `us` microseconds.
pub fn sleep_us(us: u64) {
    syscall(abi::SLEEP, us as u32, (us >> 32) as u32, 0, 0);
}

/// The host's clock in microseconds.
pub fn clock_us() -> u64 {
    let (lo, hi) = syscall(abi::CLOCK, 0, 0, 0, 0);
    u64::from(hi) << 32 | u64::from(lo)
}

/// Instructions this process has retired (the `instret` counter).
pub fn instret() -> u64 {
    loop {
        let (hi, lo, hi2): (u32, u32, u32);
        // SAFETY: reading the user counters has no side effect.
        unsafe {
            core::arch::asm!("rdinstreth {0}", "rdinstret {1}", "rdinstreth {2}", out(reg) hi, out(reg) lo, out(reg) hi2);
        }
        if hi == hi2 {
            return u64::from(hi) << 32 | u64::from(lo);
        }
    }
}

/// Writes bytes to the console; returns how many were taken.
pub fn console_write(b: &[u8]) -> usize {
    syscall(abi::CONSOLE_WRITE, b.as_ptr() as u32, b.len() as u32, 0, 0).0 as usize
}

/// Moves the end of the heap to `addr` (0: query); returns the end after the call.
pub fn brk(addr: usize) -> usize {
    syscall(abi::BRK, addr as u32, 0, 0, 0).0 as usize
}

/// Grows the heap by `n` bytes (rounded up to 16) and returns the new memory (zeroed the
/// first time the VM maps it).
pub fn sbrk(n: usize) -> Option<&'static mut [u8]> {
    let old = brk(0);
    let want = old.checked_add(n.next_multiple_of(16))?;
    if brk(want) != want {
        return None;
    }
    // SAFETY: [old, want) was just added to the heap and nothing else refers to it: brk only
    // grows through this function in guests that use it.
    Some(unsafe { core::slice::from_raw_parts_mut(old as *mut u8, n) })
}

/// Waits while `*word == expected` (until woken or `timeout_us`, 0: forever).
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32, timeout_us: u32) -> Result<()> {
    check(syscall(abi::FUTEX_WAIT, word.as_ptr() as u32, expected, timeout_us, 0).0).map(|_| ())
}

/// Wakes up to `count` waiters on `word`; returns how many woke.
pub fn futex_wake(word: &core::sync::atomic::AtomicU32, count: u32) -> u32 {
    syscall(abi::FUTEX_WAKE, word.as_ptr() as u32, count, 0, 0).0
}

/// An open file (closed when dropped).
#[derive(Debug)]
pub struct File(u32);

impl File {
    /// Opens `path` with `O_*` flags.
    pub fn open(path: &str, flags: u32) -> Result<File> {
        check(syscall(abi::OPEN, path.as_ptr() as u32, path.len() as u32, flags, 0).0).map(File)
    }

    /// Reads at the current offset.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        check(syscall(abi::READ, self.0, buf.as_mut_ptr() as u32, buf.len() as u32, 0).0).map(|n| n as usize)
    }

    /// Writes at the current offset (at the end with `O_APPEND`).
    pub fn write(&mut self, buf: &[u8]) -> Result<usize> {
        check(syscall(abi::WRITE, self.0, buf.as_ptr() as u32, buf.len() as u32, 0).0).map(|n| n as usize)
    }

    /// Writes all of `buf`.
    pub fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf)?;
            if n == 0 {
                return Err(Errno(abi::errno::EIO));
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Moves the offset (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`); returns the new one.
    pub fn seek(&mut self, offset: i64, whence: u32) -> Result<u64> {
        let (lo, hi) = syscall(abi::SEEK, self.0, offset as u32, (offset >> 32) as u32, whence);
        check64(lo, hi)
    }

    /// The file's attributes.
    pub fn stat(&self) -> Result<Stat> {
        let mut b = [0u8; STAT_SIZE];
        check(syscall(abi::FSTAT, self.0, b.as_mut_ptr() as u32, 0, 0).0)?;
        Ok(Stat::from_bytes(&b))
    }

    /// Lists directory entries into `buf`, calling `f` for each; returns how many were
    /// listed (0 at the end).
    pub fn readdir(&mut self, buf: &mut [u8], mut f: impl FnMut(&Dirent<'_>)) -> Result<usize> {
        let n = check(syscall(abi::READDIR, self.0, buf.as_mut_ptr() as u32, buf.len() as u32, 0).0)? as usize;
        let mut rest = &buf[..n];
        let mut count = 0;
        while let Some((d, more)) = Dirent::read(rest) {
            f(&d);
            count += 1;
            rest = more;
        }
        Ok(count)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        syscall(abi::CLOSE, self.0, 0, 0, 0);
    }
}

/// One end of a named channel between processes (closed when dropped).
#[derive(Debug)]
pub struct Channel(u32);

impl Channel {
    /// Opens end `end` (0 or 1) of the channel `name`.
    pub fn open(name: &str, end: u32) -> Result<Channel> {
        check(syscall(abi::CHAN_OPEN, name.as_ptr() as u32, name.len() as u32, end, 0).0).map(Channel)
    }

    /// Sends one message.
    pub fn send(&self, msg: &[u8]) -> Result<usize> {
        check(syscall(abi::CHAN_SEND, self.0, msg.as_ptr() as u32, msg.len() as u32, 0).0).map(|n| n as usize)
    }

    /// Waits for the next message; its length (0: the peer closed).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        check(syscall(abi::CHAN_RECV, self.0, buf.as_mut_ptr() as u32, buf.len() as u32, 0).0).map(|n| n as usize)
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        syscall(abi::CHAN_CLOSE, self.0, 0, 0, 0);
    }
}

/// A thread started by [`spawn`].
#[derive(Debug)]
pub struct JoinHandle(u32);

impl JoinHandle {
    /// Waits for the thread's end; its exit code.
    pub fn join(self) -> Result<i32> {
        check(syscall(abi::JOIN, self.0, 0, 0, 0).0).map(|c| c as i32)
    }
}

/// What a new thread starts with, at the top of its stack.
#[repr(C)]
struct Start {
    f: fn(usize) -> i32,
    arg: usize,
}

extern "C" fn thread_start(start: *const Start) -> ! {
    // SAFETY: `spawn` wrote a `Start` at this address on the thread's own stack, and nothing
    // else uses that memory.
    let s = unsafe { start.read() };
    thread_exit((s.f)(s.arg))
}

/// Starts a thread running `f(arg)` on a new stack of `stack` bytes taken from the heap.
pub fn spawn(f: fn(usize) -> i32, arg: usize, stack: usize) -> Result<JoinHandle> {
    let mem = sbrk(stack.max(256)).ok_or(Errno(abi::errno::ENOMEM))?;
    let top = (mem.as_mut_ptr() as usize + mem.len()) & !15;
    let start = (top - 16) as *mut Start;
    // SAFETY: `start` lies inside the fresh stack memory, aligned to 16.
    unsafe { start.write(Start { f, arg }) };
    let r = syscall(abi::SPAWN, thread_start as *const () as usize as u32, (top - 16) as u32, start as u32, 0).0;
    check(r).map(JoinHandle)
}

/// The program's arguments.
#[derive(Debug, Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const [u32; 2],
}

impl Args {
    /// Number of arguments (the program name included).
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// Argument `i` as bytes.
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: the VM placed argc (ptr, len) pairs at argv, pointing at argument bytes on
        // the initial stack, which lives as long as the process.
        unsafe {
            let [ptr, len] = self.argv.add(i).read();
            Some(core::slice::from_raw_parts(ptr as *const u8, len as usize))
        }
    }

    /// Argument `i` as text (`None` when missing or not UTF-8).
    pub fn str(&self, i: usize) -> Option<&'static str> {
        core::str::from_utf8(self.get(i)?).ok()
    }

    /// Argument `i` as a number, or `default` when missing; exits with a message if it is
    /// not a number.
    pub fn num(&self, i: usize, default: u64) -> u64 {
        match self.str(i) {
            None => default,
            Some(s) => s.parse().unwrap_or_else(|_| {
                println!("argument {i} ({s}) is not a number");
                exit(2)
            }),
        }
    }
}

/// Console output for `print!` (written in pieces as `fmt` produces them).
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut b = s.as_bytes();
        while !b.is_empty() {
            let n = console_write(b);
            if n == 0 {
                return Err(fmt::Error);
            }
            b = &b[n.min(b.len())..];
        }
        Ok(())
    }
}

/// A line buffer: `print!` formats into it, and it goes out in one CONSOLE_WRITE.
pub struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        LineBuf { buf: [0; 256], len: 0 }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        let _ = fmt::Write::write_str(&mut Console, core::str::from_utf8(&self.buf[..self.len]).unwrap_or(""));
        self.len = 0;
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut tmp = [0u8; 4];
            let b = c.encode_utf8(&mut tmp).as_bytes();
            if self.len + b.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        }
        Ok(())
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($t:tt)*) => {{
        let mut b = $crate::LineBuf::new();
        let _ = core::fmt::Write::write_fmt(&mut b, format_args!($($t)*));
        b.flush();
    }};
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    ($($t:tt)*) => {{
        let mut b = $crate::LineBuf::new();
        let _ = core::fmt::Write::write_fmt(&mut b, format_args!($($t)*));
        let _ = core::fmt::Write::write_str(&mut b, "\n");
        b.flush();
    }};
}

/// Names the guest's main function: `fn main(args: Args) -> i32`, whose result is the
/// process's exit code.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "Rust" fn __tern_main(args: $crate::Args) -> i32 {
            let f: fn($crate::Args) -> i32 = $main;
            f(args)
        }
    };
}

unsafe extern "Rust" {
    fn __tern_main(args: Args) -> i32;
}

#[unsafe(no_mangle)]
extern "C" fn __tern_start(argc: usize, argv: *const [u32; 2]) -> ! {
    // SAFETY: `entry!` defines `__tern_main` with exactly this signature.
    let code = unsafe { __tern_main(Args { argc, argv }) };
    exit(code)
}

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    // a0 = argc and a1 = argv come from the VM; the stack is 16-byte aligned.
    "call __tern_start",
);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("panic: {info}");
    exit(101)
}
