//! The crate's only `unsafe` code: thin wrappers around the Linux system calls that `std` does
//! not offer (the `*at` family on directory descriptors, file handles, `getdents64`,
//! `fstatvfs`, `umount2`).
//!
//! Every wrapper takes borrowed descriptors and `&CStr` names, so the pointers it hands the
//! kernel are valid for the whole call, and returns [`io::Result`] with the call's `errno`.
//! Descriptors that a call creates are returned as [`OwnedFd`] at once and always opened with
//! `O_CLOEXEC`. Nothing here interprets results beyond that; policy lives in the callers.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Largest kernel file handle (`MAX_HANDLE_SZ` in `linux/exportfs.h`).
pub(crate) const MAX_KERNEL_HANDLE: usize = 128;

/// A kernel file handle as `name_to_handle_at` returns it.
#[derive(Clone, Copy)]
pub(crate) struct KernelHandle {
    /// The file system's handle type (`FILEID_*`; 1 on ext4: inode + generation).
    pub(crate) handle_type: i32,
    len: usize,
    bytes: [u8; MAX_KERNEL_HANDLE],
}

impl KernelHandle {
    /// A handle from its parts; `None` when longer than [`MAX_KERNEL_HANDLE`].
    pub(crate) fn new(handle_type: i32, b: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_KERNEL_HANDLE];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(KernelHandle { handle_type, len: b.len(), bytes })
    }

    /// The opaque handle bytes (`f_handle`).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `struct file_handle` with room for the largest handle.
#[repr(C)]
struct RawHandle {
    handle_bytes: libc::c_uint,
    handle_type: libc::c_int,
    f_handle: [u8; MAX_KERNEL_HANDLE],
}

/// Turns a -1 return into the current `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Turns a -1 `ssize_t` return into the current `errno`.
fn check_size(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// `name_to_handle_at(fd, "", .., AT_EMPTY_PATH)`: the kernel handle of the object `fd` refers
/// to, and the id of the mount it was reached through.
pub(crate) fn name_to_handle(fd: BorrowedFd<'_>) -> io::Result<(KernelHandle, i32)> {
    let mut raw = RawHandle { handle_bytes: MAX_KERNEL_HANDLE as libc::c_uint, handle_type: 0, f_handle: [0; 128] };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: `raw` is a `struct file_handle` whose `handle_bytes` is the size of the buffer
    // that follows it, so the kernel writes at most that much; the path is a NUL-terminated
    // empty string and `mount_id` a valid `int`, all live for the call.
    check(unsafe {
        libc::name_to_handle_at(
            fd.as_raw_fd(),
            c"".as_ptr(),
            (&raw mut raw).cast::<libc::file_handle>(),
            &mut mount_id,
            libc::AT_EMPTY_PATH,
        )
    })?;
    let len = usize::try_from(raw.handle_bytes).unwrap_or(usize::MAX);
    let kh = raw.f_handle.get(..len).and_then(|b| KernelHandle::new(raw.handle_type, b));
    kh.map(|kh| (kh, mount_id)).ok_or_else(|| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// `open_by_handle_at(mount_fd, handle, flags | O_CLOEXEC)`. Needs CAP_DAC_READ_SEARCH.
pub(crate) fn open_by_handle(mount_fd: BorrowedFd<'_>, kh: &KernelHandle, flags: libc::c_int) -> io::Result<OwnedFd> {
    let mut raw = RawHandle { handle_bytes: kh.len as libc::c_uint, handle_type: kh.handle_type, f_handle: kh.bytes };
    // SAFETY: `raw` is a valid `struct file_handle` whose `handle_bytes` (at most 128) does
    // not exceed the buffer after it; the kernel only reads it.
    let fd = check(unsafe {
        libc::open_by_handle_at(
            mount_fd.as_raw_fd(),
            (&raw mut raw).cast::<libc::file_handle>(),
            flags | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`.
pub(crate) fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and outlives the call; `mode` is passed as the
    // variadic `mode_t` argument, which the kernel reads only with O_CREAT/O_TMPFILE.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// `symlinkat(target, dir, name)`.
pub(crate) fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// `mknodat(dir, name, mode, dev)`.
pub(crate) fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32, dev: u64) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
}

/// `unlinkat(dir, name, flags)` (`AT_REMOVEDIR` for directories).
pub(crate) fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// `renameat(from_dir, from, to_dir, to)`.
pub(crate) fn renameat(from_dir: BorrowedFd<'_>, from: &CStr, to_dir: BorrowedFd<'_>, to: &CStr) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    check(unsafe { libc::renameat(from_dir.as_raw_fd(), from.as_ptr(), to_dir.as_raw_fd(), to.as_ptr()) }).map(drop)
}

/// `linkat(fd, "", dir, name, AT_EMPTY_PATH)`: a new name for the object `fd` refers to.
pub(crate) fn link_fd(fd: BorrowedFd<'_>, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    check(unsafe { libc::linkat(fd.as_raw_fd(), c"".as_ptr(), dir.as_raw_fd(), name.as_ptr(), libc::AT_EMPTY_PATH) })
        .map(drop)
}

/// `readlinkat(fd, "", buf)`: the target of the symlink `fd` (an `O_PATH` descriptor) refers
/// to; returns the bytes written (the target is not NUL-terminated).
pub(crate) fn readlink_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which is valid for
    // writes for the whole call; the path is a NUL-terminated empty string.
    check_size(unsafe { libc::readlinkat(fd.as_raw_fd(), c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`; `None` leaves that id.
/// Works on `O_PATH` descriptors, and changes a symlink itself.
pub(crate) fn chown_fd(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let uid = uid.unwrap_or(u32::MAX) as libc::uid_t; // (uid_t)-1: no change
    let gid = gid.unwrap_or(u32::MAX) as libc::gid_t;
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: the path is a NUL-terminated empty string.
    check(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, flags) }).map(drop)
}

/// A time stamp for [`utimens_fd`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetTs {
    /// Leave it (`UTIME_OMIT`).
    Omit,
    /// Seconds and nanoseconds since the epoch.
    At(i64, u32),
}

impl SetTs {
    fn timespec(self) -> libc::timespec {
        match self {
            SetTs::Omit => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
            SetTs::At(s, ns) => libc::timespec { tv_sec: s as libc::time_t, tv_nsec: ns as libc::c_long },
        }
    }
}

/// `utimensat(fd, "", [atime, mtime], AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`. Works on `O_PATH`
/// descriptors (Linux 5.8+), and changes a symlink itself.
pub(crate) fn utimens_fd(fd: BorrowedFd<'_>, atime: SetTs, mtime: SetTs) -> io::Result<()> {
    let ts = [atime.timespec(), mtime.timespec()];
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: `ts` is an array of two timespecs, as the call requires, and the path a
    // NUL-terminated empty string; both outlive the call.
    check(unsafe { libc::utimensat(fd.as_raw_fd(), c"".as_ptr(), ts.as_ptr(), flags) }).map(drop)
}

/// `getdents64(fd, buf)`: fills `buf` with `struct linux_dirent64` records from the
/// directory's current position; returns the bytes filled (0 at the end).
pub(crate) fn getdents(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, valid for writes for the
    // whole call.
    let ret = unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// The parts of `struct statvfs` the back end uses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatVfs {
    pub(crate) frsize: u64,
    pub(crate) blocks: u64,
    pub(crate) bfree: u64,
    pub(crate) bavail: u64,
    pub(crate) files: u64,
    pub(crate) ffree: u64,
    pub(crate) favail: u64,
    pub(crate) fsid: u64,
    pub(crate) namemax: u64,
}

/// `fstatvfs(fd)` (works on `O_PATH` descriptors since Linux 3.12).
pub(crate) fn fstatvfs(fd: BorrowedFd<'_>) -> io::Result<StatVfs> {
    // SAFETY: `statvfs` is plain old data, for which all-zero bytes are a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `struct statvfs` for the whole call.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) })?;
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    Ok(StatVfs {
        frsize: u64::from(st.f_frsize),
        blocks: u64::from(st.f_blocks),
        bfree: u64::from(st.f_bfree),
        bavail: u64::from(st.f_bavail),
        files: u64::from(st.f_files),
        ffree: u64::from(st.f_ffree),
        favail: u64::from(st.f_favail),
        fsid: u64::from(st.f_fsid),
        namemax: u64::from(st.f_namemax),
    })
}

/// `fpathconf(fd, name)`: `None` when the limit is indefinite or the call fails.
pub(crate) fn fpathconf(fd: BorrowedFd<'_>, name: libc::c_int) -> Option<u64> {
    // SAFETY: plain integer arguments; no memory is passed.
    let v = unsafe { libc::fpathconf(fd.as_raw_fd(), name) };
    u64::try_from(v).ok()
}

/// `posix_fadvise(fd, offset, len, POSIX_FADV_WILLNEED)`: asks the kernel to start reading
/// that range into the page cache (a hint; nothing waits for it).
pub(crate) fn fadvise_willneed(fd: BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<()> {
    let off = libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: plain integers and a borrowed descriptor; the kernel reads nothing from memory.
    match unsafe { libc::posix_fadvise(fd.as_raw_fd(), off, len, libc::POSIX_FADV_WILLNEED) } {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Raises the soft limit of open descriptors to the hard limit; returns the new soft limit.
pub(crate) fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid `struct rlimit` the kernel writes.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid `struct rlimit` the kernel reads.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}

/// The soft limit of open descriptors (`RLIMIT_NOFILE`), or 1024 if it cannot be read.
pub(crate) fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid `struct rlimit` the kernel writes.
    match check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }) {
        Ok(_) => lim.rlim_cur,
        Err(_) => 1024,
    }
}

/// `umount2(path, flags)`: unmounts the file system mounted at `path` (`MNT_DETACH`: lazily).
pub(crate) fn umount2(path: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `path` is a NUL-terminated string that lives for the call.
    check(unsafe { libc::umount2(path.as_ptr(), flags) }).map(drop)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: the inode number of `name` in `dir`.
pub(crate) fn ino_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<u64> {
    // SAFETY: an all-zero `struct stat` is a valid value of that plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and outlives the call; `st` is a valid `struct stat`
    // the kernel writes.
    check(unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st.st_ino)
}
