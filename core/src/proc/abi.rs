//! The guest ABI: system call numbers, error numbers, flags and the layouts of the structures
//! the host writes into guest memory. The guest runtime (`examples/guests/tern-guest`) uses
//! this module directly, so both sides share one definition.
//!
//! # System calls
//! `ecall` with the number in `a7` and arguments in `a0`..`a5`. The result is in `a0`: a
//! non-negative value, or a negative error number (`-ENOENT`, ...). Calls returning 64-bit
//! values ([`CLOCK`], [`SEEK`]) put the high half in `a1` (an error is then `a1:a0` = −errno).
//! Other registers are preserved. An unknown number ends the process with
//! [`FaultKind::BadSyscall`](super::FaultKind::BadSyscall); a buffer argument that is not
//! mapped ends it with [`FaultKind::BadSyscallArg`](super::FaultKind::BadSyscallArg) (the
//! host never sees it). Lengths are checked before use: I/O lengths above [`MAX_IO`] are
//! clamped (a short transfer), paths and channel names above [`MAX_PATH`] give
//! `-ENAMETOOLONG`, channel messages above [`MAX_MSG`] give `-EMSGSIZE`.
//!
//! | nr | name | arguments | result |
//! |---|---|---|---|
//! | 1 | [`EXIT`] | code | does not return; ends every thread |
//! | 2 | [`THREAD_EXIT`] | code | does not return; the last thread's exit ends the process |
//! | 3 | [`YIELD`] | | 0 |
//! | 4 | [`SLEEP`] | µs low, µs high | 0 |
//! | 5 | [`CLOCK`] | | µs of the host clock (`a1:a0`) |
//! | 6 | [`CONSOLE_WRITE`] | buf, len | bytes written |
//! | 7 | [`SPAWN`] | entry, stack pointer, argument | thread id (the thread starts at entry with `a0` = argument) |
//! | 8 | [`JOIN`] | tid | the thread's exit code |
//! | 9 | [`FUTEX_WAIT`] | addr, expected, timeout µs (0: none) | 0 when woken, `-EAGAIN` if `*addr != expected`, `-ETIMEDOUT` |
//! | 10 | [`FUTEX_WAKE`] | addr, count | threads woken |
//! | 11 | [`BRK`] | new end (0: query) | the end of the heap after the call (unchanged on failure) |
//! | 20 | [`OPEN`] | path, path len, flags (`O_*`) | fd |
//! | 21 | [`CLOSE`] | fd | 0 |
//! | 22 | [`READ`] | fd, buf, len | bytes read (0 at end of file) |
//! | 23 | [`WRITE`] | fd, buf, len | bytes written |
//! | 24 | [`SEEK`] | fd, offset low, offset high, whence | new offset (`a1:a0`) |
//! | 25 | [`FSTAT`] | fd, buf of [`STAT_SIZE`] bytes | 0 ([`Stat`] written to buf) |
//! | 26 | [`READDIR`] | fd, buf, len | bytes of [`Dirent`] records written, 0 at the end |
//! | 30 | [`CHAN_OPEN`] | name, name len, end (0 or 1) | channel descriptor |
//! | 31 | [`CHAN_CLOSE`] | cd | 0 |
//! | 32 | [`CHAN_SEND`] | cd, buf, len | bytes sent (one message) |
//! | 33 | [`CHAN_RECV`] | cd, buf, len | bytes of the next message (waits for one); 0 when the peer closed |
//!
//! # Start-up
//! The initial thread starts at the ELF entry with `sp` 16-byte aligned at the top of the
//! stack, `a0` = argc and `a1` = a pointer to argc [`ArgV`] entries (`ptr`, `len` pairs of
//! u32); each argument's bytes are also NUL-terminated. All of it lies on the stack above `sp`.

/// Ends the process.
pub const EXIT: u32 = 1;
/// Ends the calling thread.
pub const THREAD_EXIT: u32 = 2;
/// Gives the rest of the quantum to the next runnable thread.
pub const YIELD: u32 = 3;
/// Sleeps for a number of microseconds.
pub const SLEEP: u32 = 4;
/// Reads the host's clock.
pub const CLOCK: u32 = 5;
/// Writes to the process's console.
pub const CONSOLE_WRITE: u32 = 6;
/// Starts a thread.
pub const SPAWN: u32 = 7;
/// Waits for a thread's exit.
pub const JOIN: u32 = 8;
/// Waits on a futex word.
pub const FUTEX_WAIT: u32 = 9;
/// Wakes futex waiters.
pub const FUTEX_WAKE: u32 = 10;
/// Moves the end of the heap.
pub const BRK: u32 = 11;
/// Opens a file.
pub const OPEN: u32 = 20;
/// Closes a file.
pub const CLOSE: u32 = 21;
/// Reads from a file.
pub const READ: u32 = 22;
/// Writes to a file.
pub const WRITE: u32 = 23;
/// Moves a file offset.
pub const SEEK: u32 = 24;
/// A file's attributes.
pub const FSTAT: u32 = 25;
/// Lists a directory.
pub const READDIR: u32 = 26;
/// Opens one end of a named channel.
pub const CHAN_OPEN: u32 = 30;
/// Closes a channel end.
pub const CHAN_CLOSE: u32 = 31;
/// Sends a message.
pub const CHAN_SEND: u32 = 32;
/// Receives a message.
pub const CHAN_RECV: u32 = 33;

/// Largest transfer of one READ, WRITE or CONSOLE_WRITE (longer ones are clamped).
pub const MAX_IO: u32 = 1 << 20;
/// Longest path or channel name.
pub const MAX_PATH: u32 = 1024;
/// Largest channel message.
pub const MAX_MSG: u32 = 64 * 1024;

/// Open for reading only.
pub const O_RDONLY: u32 = 0;
/// Open for writing only.
pub const O_WRONLY: u32 = 1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 2;
/// Mask of the access mode.
pub const O_ACCMODE: u32 = 3;
/// Create the file if it does not exist.
pub const O_CREAT: u32 = 0x40;
/// With `O_CREAT`: fail if it exists.
pub const O_EXCL: u32 = 0x80;
/// Truncate to zero length.
pub const O_TRUNC: u32 = 0x200;
/// Every write goes to the end.
pub const O_APPEND: u32 = 0x400;
/// Fail unless it is a directory.
pub const O_DIRECTORY: u32 = 0x1_0000;

/// SEEK from the start.
pub const SEEK_SET: u32 = 0;
/// SEEK from the current offset.
pub const SEEK_CUR: u32 = 1;
/// SEEK from the end.
pub const SEEK_END: u32 = 2;

/// Linux error numbers, returned negated.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// No such thread.
    pub const ESRCH: i32 = 3;
    /// I/O error.
    pub const EIO: i32 = 5;
    /// Bad file (or channel) descriptor.
    pub const EBADF: i32 = 9;
    /// Try again (futex value changed, thread table full).
    pub const EAGAIN: i32 = 11;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Bad address (a host could not reach a buffer the VM checked: a host bug).
    pub const EFAULT: i32 = 14;
    /// The name exists.
    pub const EEXIST: i32 = 17;
    /// Cross-device link.
    pub const EXDEV: i32 = 18;
    /// Not a directory.
    pub const ENOTDIR: i32 = 20;
    /// Is a directory.
    pub const EISDIR: i32 = 21;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Too many open files (or channels).
    pub const EMFILE: i32 = 24;
    /// File too large.
    pub const EFBIG: i32 = 27;
    /// No space left.
    pub const ENOSPC: i32 = 28;
    /// Read-only file system.
    pub const EROFS: i32 = 30;
    /// Too many links.
    pub const EMLINK: i32 = 31;
    /// The peer closed the channel.
    pub const EPIPE: i32 = 32;
    /// Waiting would never end (joining oneself).
    pub const EDEADLK: i32 = 35;
    /// Name too long.
    pub const ENAMETOOLONG: i32 = 36;
    /// Not implemented.
    pub const ENOSYS: i32 = 38;
    /// Directory not empty.
    pub const ENOTEMPTY: i32 = 39;
    /// Message too long for the buffer or the channel.
    pub const EMSGSIZE: i32 = 90;
    /// Operation not supported.
    pub const ENOTSUP: i32 = 95;
    /// Timed out.
    pub const ETIMEDOUT: i32 = 110;
    /// Stale file handle.
    pub const ESTALE: i32 = 116;
    /// Quota exceeded.
    pub const EDQUOT: i32 = 122;
}

/// The errno for a file-system error.
pub fn fs_errno(e: crate::fs::FsError) -> i32 {
    use crate::fs::FsError as F;
    use errno::*;
    match e {
        F::Perm => EPERM,
        F::NoEnt => ENOENT,
        F::Io | F::ServerFault => EIO,
        F::Access => EACCES,
        F::Exist => EEXIST,
        F::XDev => EXDEV,
        F::NotDir => ENOTDIR,
        F::IsDir => EISDIR,
        F::Inval | F::BadCookie | F::NotSync => EINVAL,
        F::FBig => EFBIG,
        F::NoSpace => ENOSPC,
        F::ReadOnly => EROFS,
        F::MLink => EMLINK,
        F::NameTooLong => ENAMETOOLONG,
        F::NotEmpty => ENOTEMPTY,
        F::DQuot => EDQUOT,
        F::Stale | F::BadHandle => ESTALE,
        F::NotSupp | F::BadType => ENOTSUP,
    }
}

/// One argument in the start-up argv array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgV {
    /// Address of the argument's bytes.
    pub ptr: u32,
    /// Length without the NUL.
    pub len: u32,
}

/// Bytes of a [`Stat`] in guest memory.
pub const STAT_SIZE: usize = 48;

/// File type numbers in [`Stat::ftype`] and [`Dirent::ftype`] (NFSv3's `ftype3`).
pub mod ftype {
    /// Unknown (a listing that does not know it).
    pub const UNKNOWN: u32 = 0;
    /// Regular file.
    pub const REG: u32 = 1;
    /// Directory.
    pub const DIR: u32 = 2;
    /// Symbolic link.
    pub const LNK: u32 = 5;
    /// Anything else.
    pub const OTHER: u32 = 7;
}

/// A file's attributes as FSTAT writes them (little-endian, [`STAT_SIZE`] bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// File id.
    pub fileid: u64,
    /// Modification time, seconds.
    pub mtime_secs: u64,
    /// Modification time, nanoseconds.
    pub mtime_nsecs: u32,
    /// [`ftype`] number.
    pub ftype: u32,
    /// Permission bits.
    pub mode: u32,
    /// Hard links.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl Stat {
    /// The guest-memory bytes.
    pub fn to_bytes(&self) -> [u8; STAT_SIZE] {
        let mut b = [0u8; STAT_SIZE];
        b[0..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..16].copy_from_slice(&self.fileid.to_le_bytes());
        b[16..24].copy_from_slice(&self.mtime_secs.to_le_bytes());
        let words = [self.mtime_nsecs, self.ftype, self.mode, self.nlink, self.uid, self.gid];
        for (i, w) in words.iter().enumerate() {
            b[24 + 4 * i..28 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// Reads the guest-memory bytes.
    pub fn from_bytes(b: &[u8; STAT_SIZE]) -> Self {
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let u32_at = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&b[i..i + 4]);
            u32::from_le_bytes(w)
        };
        Stat {
            size: u64_at(0),
            fileid: u64_at(8),
            mtime_secs: u64_at(16),
            mtime_nsecs: u32_at(24),
            ftype: u32_at(28),
            mode: u32_at(32),
            nlink: u32_at(36),
            uid: u32_at(40),
            gid: u32_at(44),
        }
    }
}

/// Bytes of a [`Dirent`] record before its name.
pub const DIRENT_HEADER: usize = 20;

/// One READDIR record: fileid (u64), cookie (u64, resumes after this entry), name length
/// (u16), ftype (u16), the name, then zero padding to a multiple of 4 bytes. Little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dirent<'a> {
    /// File id.
    pub fileid: u64,
    /// Cookie after this entry.
    pub cookie: u64,
    /// [`ftype`] number.
    pub ftype: u16,
    /// The name.
    pub name: &'a [u8],
}

impl<'a> Dirent<'a> {
    /// Bytes this record takes.
    pub fn len(&self) -> usize {
        DIRENT_HEADER.saturating_add(self.name.len()).next_multiple_of(4)
    }

    /// Always false: a record has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the record at the start of `out`; `None` when it does not fit (or the name is
    /// longer than 65535 bytes).
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        let name_len = u16::try_from(self.name.len()).ok()?;
        let n = self.len();
        let rec = out.get_mut(..n)?;
        rec.fill(0);
        rec[0..8].copy_from_slice(&self.fileid.to_le_bytes());
        rec[8..16].copy_from_slice(&self.cookie.to_le_bytes());
        rec[16..18].copy_from_slice(&name_len.to_le_bytes());
        rec[18..20].copy_from_slice(&self.ftype.to_le_bytes());
        rec[DIRENT_HEADER..DIRENT_HEADER + self.name.len()].copy_from_slice(self.name);
        Some(n)
    }

    /// Reads the record at the start of `buf`: the record and the bytes after it.
    pub fn read(buf: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let h = buf.get(..DIRENT_HEADER)?;
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&h[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let name_len = usize::from(u16::from_le_bytes([h[16], h[17]]));
        let name = buf.get(DIRENT_HEADER..DIRENT_HEADER + name_len)?;
        let d = Dirent { fileid: u64_at(0), cookie: u64_at(8), ftype: u16::from_le_bytes([h[18], h[19]]), name };
        let rest = buf.get(d.len()..).unwrap_or(&[]);
        Some((d, rest))
    }
}
