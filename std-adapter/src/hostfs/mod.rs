//! `HostFs`: a [`FileSystem`] that exports one directory of the host, with stateless handles
//! that stay valid across server restarts.
//!
//! # What is stateless
//! A [`HostFs`] holds only: a descriptor of the export root (the "mount descriptor" that
//! `open_by_handle_at` resolves handles against), the root's identity, the handle key and the
//! write verifier. Every call decodes its handles, reopens the objects with
//! `open_by_handle_at`, does its work with `*at` system calls and closes everything again.
//! So a new `HostFs` over the same directory with the same secret (a restarted server)
//! accepts every handle the old one issued, and readdir cookies are the file system's own
//! directory offsets (ext4: name hashes), which also survive restarts. Only the write
//! verifier changes per instance, as COMMIT requires. All handle → descriptor resolution goes
//! through one function (`HostFs::resolve`), where an open-file cache can be added later.
//!
//! # Handle format
//! `version (1) ‖ kernel handle type (1) ‖ kernel handle (n ≤ 38) ‖ MAC (16)`: 26 bytes on
//! ext4 (8-byte kernel handles: inode + generation). The kernel handle is what
//! `name_to_handle_at` returns; the MAC is HMAC-SHA256 truncated to 16 bytes, keyed with the
//! per-server [`HandleSecret`] (`<state dir>/handle-secret`, mode 0600, created from
//! `getrandom` on first use) over a domain string, the *export id* and the first `2 + n`
//! bytes. The export id is SHA-256 of the exported file system's `f_fsid` (derived from the
//! ext4 UUID) and the export root's own kernel handle: stable across restarts and reboots,
//! different for every exported directory. Errors: a handle of the wrong length or version
//! is [`FsError::BadHandle`]; a handle whose MAC does not match is [`FsError::Stale`] (per
//! the trait's contract: "a handle the back end did not issue"); a handle whose object was
//! deleted is [`FsError::Stale`] (the kernel's `ESTALE`).
//!
//! # Security argument: no forging, no escape
//! 1. *No forged or altered handles*: without the secret nobody can compute a MAC; a change
//!    of any bit changes the MAC input or the tag (checked in constant time), so
//!    `open_by_handle_at` only ever sees kernel handles this server issued.
//! 2. *Issued handles name objects inside the export*: handles are issued only for the root
//!    and for objects reached from an issued handle by `openat(dirfd, name, O_PATH |
//!    O_NOFOLLOW)` of one component (names with `/` or NUL are refused with
//!    [`FsError::Inval`]), or created by `*at` calls in such a directory. Symlinks are never
//!    followed (LOOKUP gives the symlink; using it as a directory gives
//!    [`FsError::NotDir`]). `..` of the root is the root; `..` of any other directory is
//!    checked by walking `..` up to the export root (at most 4096 levels), and refused with
//!    [`FsError::Stale`] if the walk reaches the host's root first (the directory was moved
//!    out of the export on the host). A mount point inside the export is not crossed: an
//!    object whose mount differs from the root's is refused with [`FsError::Access`] (its
//!    kernel handle would mean another inode on the export's file system).
//! 3. *No cross-export use*: the MAC covers the export id, so a handle issued by another
//!    export (even one served with the same secret, even a parent or child directory on the
//!    same file system) fails the MAC.
//!
//! What remains, as with Linux knfsd's default `no_subtree_check`: an object that the host
//! moves out of the export after its handle was issued stays reachable through that handle
//! (but not its new ancestors, by 2.), and a file hard-linked from outside the export by the
//! host is reachable under its name inside.
//!
//! # Requirements
//! CAP_DAC_READ_SEARCH (root) for `open_by_handle_at`, checked at construction: without it,
//! or on a file system without export support, [`HostFs::new`] fails with a clear error
//! (there is no path-table fallback). `/proc` must be mounted (re-opening an `O_PATH`
//! descriptor for reading, writing and `chmod`).
//!
//! # Other choices
//! - READDIR lists `.` and `..` first by itself (cookies 2^64 − 2 and 2^64 − 1: ext4 keeps
//!   them in hash order in one-block directories), then the file system's entries with
//!   their `getdents64` `d_off` as cookies (the position after each entry; on ext4 a 63-bit
//!   name hash, valid while the directory changes and after restarts). The cookie verifier
//!   is always 0, like Linux knfsd. `..` of the export root lists the root's own file id.
//! - EXCLUSIVE create stores the verifier as atime = `verf[0..4]` and mtime = `verf[4..8]`
//!   (big-endian, top bit cleared as in knfsd, nanoseconds 0) and compares them on
//!   retransmission; the new file has mode 0600 until the client's SETATTR.
//! - UNCHECKED create of an existing regular file applies only the size (like knfsd:
//!   `open(O_CREAT|O_TRUNC)` semantics); any other existing object gives [`FsError::Exist`].
//! - New objects belong to `ctx.uid`/`ctx.gid` (or the gid of a set-gid parent directory),
//!   are created with mode 0 and then chmod-ed, so the umask plays no part; default modes
//!   are 0644 (files, special files) and 0755 (directories).
//! - SETATTR order: size, owner, mode, times; the host kernel sets ctime itself. A mode on a
//!   symlink is [`FsError::NotSupp`] (Linux symlinks have no mode).
//! - READ, WRITE, COMMIT and a size change need a regular file: a directory gives
//!   [`FsError::IsDir`], anything else [`FsError::Inval`] (devices and FIFOs are never
//!   opened).
//! - WRITE with `DataSync` calls `fdatasync`, with `FileSync` `fsync`; COMMIT calls `fsync`
//!   on the whole file.
//!
//! Errors of host calls map to [`FsError`] in one function (`errno::fs_error`).

mod attr;
mod cache;
mod dir;
mod errno;
mod handle;
mod ops;
mod rw;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cache;

use std::fs::{File, Metadata, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tern_core::fs::{
    Attr, CreateHow, Ctx, DirEntry, FileSystem, FsError, FsInfo, FsResult, FsStat, Handle, NodeKind, ReaddirEnd,
    SetAttr, Stability, Time,
};

use crate::sys;
use cache::Want;
pub use cache::{SoftConfig, SoftState, SoftStats};
use errno::{errno, io_err};
pub use handle::HandleSecret;
use handle::{HandleCodec, MAX_KERNEL_BYTES};

/// Why a [`HostFs`] could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HostFsError {
    /// The export root could not be opened as a directory.
    #[error("cannot open export root {path}: {source}")]
    Open {
        /// The export root.
        path: PathBuf,
        /// The host's error.
        source: std::io::Error,
    },
    /// The file system holding the export cannot make file handles.
    #[error("the file system of the export cannot make file handles (name_to_handle_at: {0})")]
    NoHandles(std::io::Error),
    /// `open_by_handle_at` is not allowed.
    #[error("open_by_handle_at refused ({0}): HostFs needs CAP_DAC_READ_SEARCH (run the server as root)")]
    NoPermission(std::io::Error),
    /// The file system's handles are too long for NFS.
    #[error("the file system's handles are {0} bytes (type {1}); at most 38 bytes and type 255 fit an NFS handle")]
    HandleTooLong(usize, i32),
    /// The handle secret could not be read or created.
    #[error("handle secret: {0}")]
    Secret(std::io::Error),
    /// Another host call failed during setup.
    #[error("{what}: {source}")]
    Io {
        /// The step that failed.
        what: &'static str,
        /// The host's error.
        source: std::io::Error,
    },
}

/// How [`HostFs::resolve`] opens a handle's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// `O_PATH`: any object, for metadata and as a directory for `*at` calls.
    Path,
    /// A directory opened for reading (listing).
    Dir,
    /// A regular file opened for reading.
    Read,
    /// A regular file opened for writing.
    Write,
}

/// Walks of `..` up to the root stop after this many levels.
const MAX_WALK: usize = 4096;

/// A [`FileSystem`] exporting one directory of the host. See the module docs.
#[derive(Debug)]
pub struct HostFs {
    /// The export root, opened for reading: the mount descriptor for `open_by_handle_at`.
    mount: File,
    /// The mount id of the export root (objects on other mounts are refused).
    mount_id: i32,
    /// The root's (device, inode).
    root_id: (u64, u64),
    root: Handle,
    codec: HandleCodec,
    write_verf: [u8; 8],
    info: FsInfo,
    soft: Arc<SoftState>,
}

impl HostFs {
    /// Exports `root`, with the handle secret kept in `state_dir` (created on first use).
    pub fn open(root: &Path, state_dir: &Path) -> Result<Self, HostFsError> {
        let secret = HandleSecret::load_or_create(state_dir).map_err(HostFsError::Secret)?;
        Self::new(root, &secret)
    }

    /// Another `HostFs` for the same export that answers exactly as this one: the same
    /// handles, the same write verifier and the same soft state (for servers that run several
    /// dispatchers in parallel).
    pub fn shard(&self) -> Result<Self, HostFsError> {
        let mount = self.mount.try_clone().map_err(|source| HostFsError::Io { what: "dup", source })?;
        Ok(HostFs {
            mount,
            mount_id: self.mount_id,
            root_id: self.root_id,
            root: self.root,
            codec: self.codec.clone(),
            write_verf: self.write_verf,
            info: self.info,
            soft: self.soft.clone(),
        })
    }

    /// Replaces the soft-state settings (open-file cache, read-ahead); see [`SoftState`].
    #[must_use]
    pub fn with_soft_state(mut self, cfg: SoftConfig) -> Self {
        self.soft = Arc::new(SoftState::new(cfg));
        self
    }

    /// Exports `root` with handles authenticated by `secret`. Fails when the directory cannot
    /// be opened, its file system has no file handles, or this process may not use
    /// `open_by_handle_at` (needs CAP_DAC_READ_SEARCH).
    pub fn new(root: &Path, secret: &HandleSecret) -> Result<Self, HostFsError> {
        let open_err = |source| HostFsError::Open { path: root.to_path_buf(), source };
        let mount = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(root).map_err(open_err)?;
        let meta = mount.metadata().map_err(open_err)?;
        let (kh, mount_id) = sys::name_to_handle(mount.as_fd()).map_err(HostFsError::NoHandles)?;
        if kh.bytes().len() > MAX_KERNEL_BYTES || !(0..=255).contains(&kh.handle_type) {
            return Err(HostFsError::HandleTooLong(kh.bytes().len(), kh.handle_type));
        }
        let vfs = sys::fstatvfs(mount.as_fd()).map_err(|source| HostFsError::Io { what: "fstatvfs", source })?;
        let codec = HandleCodec::new(secret, &handle::export_id(vfs.fsid, &kh));
        let root_handle = codec.encode(&kh).ok_or(HostFsError::HandleTooLong(kh.bytes().len(), kh.handle_type))?;
        // Probe: resolving a handle needs CAP_DAC_READ_SEARCH.
        let probe = sys::open_by_handle(mount.as_fd(), &kh, libc::O_PATH).map_err(|e| match errno(&e) {
            libc::EPERM | libc::EACCES => HostFsError::NoPermission(e),
            _ => HostFsError::NoHandles(e),
        })?;
        let pm = File::from(probe).metadata().map_err(|source| HostFsError::Io { what: "fstat", source })?;
        if (pm.dev(), pm.ino()) != (meta.dev(), meta.ino()) {
            let e = std::io::Error::other("open_by_handle_at returned another object than the export root");
            return Err(HostFsError::NoHandles(e));
        }
        // Probe: reading, writing and chmod re-open descriptors through /proc/self/fd.
        File::open(proc_path(mount.as_fd())).map_err(|source| HostFsError::Io {
            what: "re-opening through /proc/self/fd (is /proc mounted?)",
            source,
        })?;
        let mut write_verf = [0u8; 8];
        getrandom::fill(&mut write_verf)
            .map_err(|e| HostFsError::Io { what: "getrandom", source: std::io::Error::other(e.to_string()) })?;
        let bits = sys::fpathconf(mount.as_fd(), libc::_PC_FILESIZEBITS).unwrap_or(64).clamp(2, 64);
        let info = FsInfo {
            max_file_size: (1u64 << (bits - 1)) - 1,
            max_links: sys::fpathconf(mount.as_fd(), libc::_PC_LINK_MAX)
                .map_or(1, |v| v.min(u64::from(u32::MAX)) as u32),
            max_name: vfs.namemax.min(u64::from(u32::MAX)) as u32,
            time_delta: Time { secs: 0, nsecs: 1 },
            links: true,
            symlinks: true,
            special_files: true,
            case_insensitive: false,
        };
        let soft = Arc::new(SoftState::new(SoftConfig::default()));
        Ok(HostFs {
            mount,
            mount_id,
            root_id: (meta.dev(), meta.ino()),
            root: root_handle,
            codec,
            write_verf,
            info,
            soft,
        })
    }

    /// Opens the object a handle names. Every handle → descriptor resolution goes through
    /// here, and through the open-file cache ([`cache`]) when it is on.
    fn resolve(&self, fh: &Handle, how: Open) -> FsResult<Arc<File>> {
        self.resolve_meta(fh, how).map(|(f, _)| f)
    }

    /// [`HostFs::resolve`], with the object's metadata read on the way (one `fstat`).
    fn resolve_meta(&self, fh: &Handle, how: Open) -> FsResult<(Arc<File>, Metadata)> {
        let want = match how {
            Open::Path => Some(Want::Path),
            Open::Read => Some(Want::Read),
            Open::Write => Some(Want::Write),
            Open::Dir => None,
        };
        if let Some(want) = want {
            match self.soft.get(fh, want) {
                Ok(Some(hit)) => {
                    data_check(how, &hit.meta)?;
                    return Ok((hit.file, hit.meta));
                }
                Ok(None) => {}
                Err(()) => return Err(FsError::Stale),
            }
        }
        match self.open_fresh(fh, how, want) {
            Err(Fresh::OutOfFds) if self.soft.enabled() => {
                // The cache is what holds many descriptors: drop it and try once more.
                self.soft.drop_all();
                self.open_fresh(fh, how, want)
            }
            r => r,
        }
        .map_err(|e| match e {
            Fresh::Fs(e) => e,
            Fresh::OutOfFds => FsError::ServerFault,
        })
    }

    /// The uncached half of [`HostFs::resolve_meta`]: opens the object and caches it.
    fn open_fresh(&self, fh: &Handle, how: Open, want: Option<Want>) -> Result<(Arc<File>, Metadata), Fresh> {
        let (file, meta) = self.open_handle(fh, how)?;
        let file = Arc::new(file);
        let Some(want) = want else { return Ok((file, meta)) };
        data_check(how, &meta)?;
        let file = match want {
            Want::Path => {
                self.soft.insert(fh, file.clone(), meta.ino(), meta.is_file(), None);
                file
            }
            _ => {
                let data = Arc::new(reopen_raw(&file, want == Want::Write).map_err(Fresh::from_io)?);
                self.soft.insert(fh, file, meta.ino(), true, Some((want, data.clone())));
                data
            }
        };
        Ok((file, meta))
    }

    /// Opens a handle's object from scratch: MAC check, `open_by_handle_at`, `fstat`.
    fn open_handle(&self, fh: &Handle, how: Open) -> Result<(File, Metadata), Fresh> {
        let kh = self.codec.decode(fh)?;
        let flags = match how {
            Open::Dir => libc::O_RDONLY | libc::O_DIRECTORY,
            Open::Path | Open::Read | Open::Write => libc::O_PATH,
        };
        let fd = sys::open_by_handle(self.mount.as_fd(), &kh, flags).map_err(|e| match errno(&e) {
            // A MAC-valid handle the kernel cannot decode: its object is gone.
            // ENOMEM too: Linux (6.x, ext4) answers some handles of inodes deleted moments
            // ago with it, repeatably, and a moment later with ESTALE; the small allocations
            // of this call do not otherwise fail.
            libc::ESTALE | libc::ENOENT | libc::EINVAL | libc::ENOMEM => Fresh::Fs(FsError::Stale),
            libc::ELOOP => Fresh::Fs(FsError::NotDir),
            _ => Fresh::from_io(e),
        })?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(io_err)?;
        Ok((file, meta))
    }

    /// The soft state (open-file cache and read-ahead) of this export.
    pub fn soft_state(&self) -> &Arc<SoftState> {
        &self.soft
    }

    /// The handle of the object `fd` refers to (reached from inside the export).
    fn issue(&self, fd: BorrowedFd<'_>) -> FsResult<Handle> {
        let (kh, mount_id) = sys::name_to_handle(fd).map_err(io_err)?;
        if mount_id != self.mount_id {
            // A file system mounted inside the export: its kernel handles mean other inodes
            // when resolved against the export's file system.
            return Err(FsError::Access);
        }
        self.codec.encode(&kh).ok_or(FsError::ServerFault)
    }

    /// Whether `meta` is the export root.
    fn is_root(&self, meta: &std::fs::Metadata) -> bool {
        (meta.dev(), meta.ino()) == self.root_id
    }
}

/// Why [`HostFs::open_fresh`] failed: out of descriptors is told apart, so that the open-file
/// cache can be dropped and the call retried.
enum Fresh {
    Fs(FsError),
    OutOfFds,
}

impl Fresh {
    fn from_io(e: std::io::Error) -> Self {
        match errno(&e) {
            libc::EMFILE | libc::ENFILE => Fresh::OutOfFds,
            _ => Fresh::Fs(io_err(e)),
        }
    }
}

impl From<FsError> for Fresh {
    fn from(e: FsError) -> Self {
        Fresh::Fs(e)
    }
}

/// READ, WRITE and COMMIT need a regular file: a directory is [`FsError::IsDir`], anything
/// else [`FsError::Inval`].
fn data_check(how: Open, meta: &Metadata) -> FsResult<()> {
    match how {
        Open::Read | Open::Write if meta.is_dir() => Err(FsError::IsDir),
        Open::Read | Open::Write if !meta.is_file() => Err(FsError::Inval),
        _ => Ok(()),
    }
}

/// Re-opens the regular file behind an `O_PATH` descriptor for reading or writing.
fn reopen(file: &File, write: bool) -> FsResult<File> {
    reopen_raw(file, write).map_err(io_err)
}

fn reopen_raw(file: &File, write: bool) -> std::io::Result<File> {
    OpenOptions::new().read(!write).write(write).open(proc_path(file.as_fd()))
}

/// `/proc/self/fd/N`: names the object behind a descriptor (also an `O_PATH` one).
fn proc_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// An `O_PATH` descriptor as a [`File`] (for `metadata`).
fn file(fd: OwnedFd) -> File {
    File::from(fd)
}

impl FileSystem for HostFs {
    fn root(&self) -> Handle {
        self.root
    }

    fn info(&self) -> FsInfo {
        self.info
    }

    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr> {
        self.getattr_impl(fh)
    }

    fn setattr(&mut self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr> {
        self.setattr_impl(ctx, fh, set)
    }

    fn lookup(&mut self, dir: &Handle, name: &[u8]) -> FsResult<Handle> {
        self.lookup_impl(dir, name)
    }

    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize> {
        self.readlink_impl(fh, out)
    }

    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)> {
        self.read_impl(fh, offset, out)
    }

    fn write(
        &mut self,
        _ctx: &Ctx,
        fh: &Handle,
        offset: u64,
        data: &[u8],
        stable: Stability,
    ) -> FsResult<(usize, Stability)> {
        self.write_impl(fh, offset, data, stable)
    }

    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()> {
        self.commit_impl(fh, offset, count)
    }

    fn write_verifier(&self) -> [u8; 8] {
        self.write_verf
    }

    fn create(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle> {
        self.create_impl(ctx, dir, name, how)
    }

    fn mkdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.mkdir_impl(ctx, dir, name, attr)
    }

    fn symlink(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], target: &[u8], attr: &SetAttr) -> FsResult<Handle> {
        self.symlink_impl(ctx, dir, name, target, attr)
    }

    fn mknod(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], kind: NodeKind, attr: &SetAttr) -> FsResult<Handle> {
        self.mknod_impl(ctx, dir, name, kind, attr)
    }

    fn remove(&mut self, _ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.unlink_impl(dir, name, false)
    }

    fn rmdir(&mut self, _ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.unlink_impl(dir, name, true)
    }

    fn rename(&mut self, _ctx: &Ctx, from_dir: &Handle, from: &[u8], to_dir: &Handle, to: &[u8]) -> FsResult<()> {
        self.rename_impl(from_dir, from, to_dir, to)
    }

    fn link(&mut self, _ctx: &Ctx, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()> {
        self.link_impl(fh, dir, name)
    }

    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd> {
        self.readdir_impl(dir, cookie, verifier, emit)
    }

    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat> {
        self.fsstat_impl(fh)
    }
}
