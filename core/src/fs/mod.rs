//! The stateless file-system trait that NFS servers (and, later, the namespace) are generic
//! over, and the in-memory back end.
//!
//! Every call names its object by [`Handle`]; there is no open and no close, so a server that
//! restarts, or a process that moves to another machine, keeps using the handles it has. A
//! back end keeps no per-client state.
//!
//! Contract of every [`FileSystem`] method:
//! - never panics, whatever the handle or name bytes (handles come from the network);
//! - a handle the back end did not issue, or whose object is gone, gives [`FsError::Stale`]
//!   (or [`FsError::BadHandle`] when it is not even well-formed);
//! - names are single path components: the NFS server refuses empty names, `.`/`..` where the
//!   protocol forbids them, and names with `/` or NUL before calling the back end; back ends
//!   still must not let any name escape the tree they serve;
//! - permissions are checked by the server from [`Attr`] (mode, uid, gid) before calling; a
//!   back end may refuse more (for example a read-only medium gives [`FsError::ReadOnly`]);
//! - time is passed in ([`Ctx::now`]); the core never reads a clock;
//! - a `uid`/`gid` in the [`SetAttr`] of a create call overrides [`Ctx`] (the server vets it
//!   like a SETATTR);
//! - where POSIX leaves the error open, back ends answer as Linux does: linking a directory
//!   is [`FsError::Perm`], an UNCHECKED create over a non-file is [`FsError::Exist`],
//!   `remove(".")` is [`FsError::IsDir`], `rmdir(".")` is [`FsError::Inval`] and
//!   `rmdir("..")` is [`FsError::NotEmpty`].

pub mod mem;

/// Largest handle a back end may issue. NFS handles are at most 64 bytes; the server prefixes
/// 8 bytes of its own (export and check bytes).
pub const MAX_HANDLE: usize = 56;

/// A back end's handle for one object: opaque bytes, at most [`MAX_HANDLE`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle {
    len: u8,
    bytes: [u8; MAX_HANDLE],
}

impl Handle {
    /// A handle with these bytes; `None` when longer than [`MAX_HANDLE`].
    pub fn new(b: &[u8]) -> Option<Self> {
        if b.len() > MAX_HANDLE {
            return None;
        }
        let mut bytes = [0u8; MAX_HANDLE];
        bytes[..b.len()].copy_from_slice(b);
        Some(Handle { len: b.len() as u8, bytes })
    }

    /// The handle's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::fmt::Debug for Handle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Handle(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Why a file-system call failed. Each maps to one NFS3ERR_* (and POSIX errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FsError {
    /// Not owner (EPERM).
    Perm,
    /// No such file or directory.
    NoEnt,
    /// I/O error.
    Io,
    /// Permission denied (EACCES).
    Access,
    /// The name exists.
    Exist,
    /// Cross-device link or rename.
    XDev,
    /// Not a directory.
    NotDir,
    /// Is a directory.
    IsDir,
    /// Invalid argument.
    Inval,
    /// File too large.
    FBig,
    /// No space left (or a capacity of an in-memory back end is exhausted).
    NoSpace,
    /// Read-only file system.
    ReadOnly,
    /// Too many hard links.
    MLink,
    /// Name too long.
    NameTooLong,
    /// Directory not empty.
    NotEmpty,
    /// Quota exceeded.
    DQuot,
    /// The handle's object no longer exists (or was never issued here).
    Stale,
    /// The handle is malformed.
    BadHandle,
    /// The readdir cookie is no longer valid.
    BadCookie,
    /// The operation is not supported by this back end.
    NotSupp,
    /// The ctime guard of a SETATTR did not match.
    NotSync,
    /// Object type not supported (e.g. MKNOD of a kind this back end cannot store).
    BadType,
    /// The back end failed in a way it cannot name.
    ServerFault,
}

impl core::fmt::Display for FsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

impl core::error::Error for FsError {}

/// File-system result.
pub type FsResult<T> = Result<T, FsError>;

/// The type of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FileType {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Block device.
    Block,
    /// Character device.
    Char,
    /// Symbolic link.
    Symlink,
    /// Socket.
    Socket,
    /// Named pipe.
    Fifo,
}

/// A time stamp: seconds and nanoseconds since the Unix epoch (NFSv3's `nfstime3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Time {
    /// Seconds.
    pub secs: u32,
    /// Nanoseconds, below 1e9.
    pub nsecs: u32,
}

/// Attributes of an object (NFSv3's `fattr3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Attr {
    /// Object type.
    pub ftype: FileType,
    /// Permission bits (the low 12 bits: setuid, setgid, sticky, rwx × 3).
    pub mode: u32,
    /// Number of hard links.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes (for a symlink: the target's length).
    pub size: u64,
    /// Bytes of storage actually used (smaller than `size` for sparse files).
    pub used: u64,
    /// Device numbers (major, minor) of a block or character device.
    pub rdev: (u32, u32),
    /// File system id.
    pub fsid: u64,
    /// Unique object number within the file system.
    pub fileid: u64,
    /// Last access.
    pub atime: Time,
    /// Last change of the data.
    pub mtime: Time,
    /// Last change of the attributes.
    pub ctime: Time,
}

/// How to set a time stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetTime {
    /// Leave it.
    #[default]
    Keep,
    /// Set it to [`Ctx::now`].
    ServerTime,
    /// Set it to this value.
    Client(Time),
}

/// Attributes to change (NFSv3's `sattr3`); `None` leaves a field alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetAttr {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (truncate or extend with zeros).
    pub size: Option<u64>,
    /// New access time.
    pub atime: SetTime,
    /// New modification time.
    pub mtime: SetTime,
}

/// Who calls and when: passed to every call that changes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The current time, read by the driver.
    pub now: Time,
    /// Effective uid after the export's squashing (owner of created objects).
    pub uid: u32,
    /// Effective gid after squashing.
    pub gid: u32,
}

/// How a CREATE treats an existing name (NFSv3's `createhow3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateHow {
    /// Create, or truncate/update an existing regular file with these attributes.
    Unchecked(SetAttr),
    /// Create; fail with [`FsError::Exist`] if the name exists.
    Guarded(SetAttr),
    /// Create exclusively; the verifier is stored with the file so that a retransmitted
    /// CREATE with the same verifier succeeds (returns the same file) instead of failing.
    Exclusive([u8; 8]),
}

/// A special file to create (NFSv3's MKNOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Character device (major, minor).
    Char(u32, u32),
    /// Block device (major, minor).
    Block(u32, u32),
    /// Socket.
    Socket,
    /// Named pipe.
    Fifo,
}

/// How durable a write must be, or was made (NFSv3's `stable_how`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stability {
    /// May be lost on a crash until COMMIT.
    Unstable,
    /// Data on stable storage, metadata may lag.
    DataSync,
    /// Data and metadata on stable storage.
    FileSync,
}

/// One directory entry handed to a [`FileSystem::readdir`] callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry<'n> {
    /// The object's file id.
    pub fileid: u64,
    /// The name (one component).
    pub name: &'n [u8],
    /// Cookie that resumes the listing *after* this entry. Never 0.
    pub cookie: u64,
}

/// How a listing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaddirEnd {
    /// The directory's cookie verifier (to send with the next call).
    pub verifier: [u8; 8],
    /// True when the callback saw the last entry.
    pub eof: bool,
}

/// File-system totals (NFSv3's FSSTAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStat {
    /// Total bytes.
    pub total_bytes: u64,
    /// Free bytes.
    pub free_bytes: u64,
    /// Free bytes for the caller.
    pub avail_bytes: u64,
    /// Total file slots.
    pub total_files: u64,
    /// Free file slots.
    pub free_files: u64,
    /// Free file slots for the caller.
    pub avail_files: u64,
}

/// Static properties of a back end (feeds FSINFO and PATHCONF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsInfo {
    /// Largest file size.
    pub max_file_size: u64,
    /// Largest link count.
    pub max_links: u32,
    /// Longest name.
    pub max_name: u32,
    /// Time stamp granularity.
    pub time_delta: Time,
    /// Hard links supported.
    pub links: bool,
    /// Symbolic links supported.
    pub symlinks: bool,
    /// MKNOD supported.
    pub special_files: bool,
    /// Names are case-insensitive.
    pub case_insensitive: bool,
}

/// A stateless file system. See the module docs for the contract every method keeps.
pub trait FileSystem {
    /// The root directory.
    fn root(&self) -> Handle;
    /// Static properties.
    fn info(&self) -> FsInfo;
    /// Attributes of an object.
    fn getattr(&mut self, fh: &Handle) -> FsResult<Attr>;
    /// Changes attributes; returns the new ones. `ctx.now` is the new ctime.
    fn setattr(&mut self, ctx: &Ctx, fh: &Handle, set: &SetAttr) -> FsResult<Attr>;
    /// Finds `name` in directory `dir`. `.` and `..` are resolved by the back end (`..` of the
    /// root is the root).
    fn lookup(&mut self, dir: &Handle, name: &[u8]) -> FsResult<Handle>;
    /// Copies a symlink's target into `out`; returns its length ([`FsError::Inval`] if the
    /// object is not a symlink, [`FsError::ServerFault`] if `out` is too small).
    fn readlink(&mut self, fh: &Handle, out: &mut [u8]) -> FsResult<usize>;
    /// Reads from `offset` into `out`; returns the bytes read and whether the end of the
    /// file was reached. Holes read as zeros.
    fn read(&mut self, fh: &Handle, offset: u64, out: &mut [u8]) -> FsResult<(usize, bool)>;
    /// Writes `data` at `offset` (extending with zeros or a hole); returns the bytes written
    /// and how stable they are now (at least `stable`).
    fn write(
        &mut self,
        ctx: &Ctx,
        fh: &Handle,
        offset: u64,
        data: &[u8],
        stable: Stability,
    ) -> FsResult<(usize, Stability)>;
    /// Makes earlier unstable writes in the range stable (`count` 0: to the end).
    fn commit(&mut self, fh: &Handle, offset: u64, count: u32) -> FsResult<()>;
    /// An 8-byte verifier that changes whenever unstable writes may have been lost (at every
    /// start of the back end at least).
    fn write_verifier(&self) -> [u8; 8];
    /// Creates a regular file.
    fn create(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], how: &CreateHow) -> FsResult<Handle>;
    /// Creates a directory.
    fn mkdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], attr: &SetAttr) -> FsResult<Handle>;
    /// Creates a symbolic link to `target`.
    fn symlink(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], target: &[u8], attr: &SetAttr) -> FsResult<Handle>;
    /// Creates a special file; [`FsError::NotSupp`] when the back end has none.
    fn mknod(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8], kind: NodeKind, attr: &SetAttr) -> FsResult<Handle> {
        let _ = (ctx, dir, name, kind, attr);
        Err(FsError::NotSupp)
    }
    /// Removes a non-directory.
    fn remove(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()>;
    /// Removes an empty directory.
    fn rmdir(&mut self, ctx: &Ctx, dir: &Handle, name: &[u8]) -> FsResult<()>;
    /// Renames, replacing a compatible target (POSIX rename semantics).
    fn rename(&mut self, ctx: &Ctx, from_dir: &Handle, from: &[u8], to_dir: &Handle, to: &[u8]) -> FsResult<()>;
    /// Adds a hard link to `fh` as `name` in `dir`.
    fn link(&mut self, ctx: &Ctx, fh: &Handle, dir: &Handle, name: &[u8]) -> FsResult<()>;
    /// Lists `dir` starting after `cookie` (0: from the start), calling `emit` per entry until
    /// it returns false (that entry was *not* taken) or the directory ends. `.` and `..` are
    /// listed first. A cookie stays valid while entries are added or removed (a removed
    /// entry's cookie resumes at the next one); `verifier` is checked against the current one
    /// only when `cookie` is not 0, giving [`FsError::BadCookie`] when it no longer matches.
    fn readdir(
        &mut self,
        dir: &Handle,
        cookie: u64,
        verifier: [u8; 8],
        emit: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) -> FsResult<ReaddirEnd>;
    /// Totals for the file system holding `fh`.
    fn fsstat(&mut self, fh: &Handle) -> FsResult<FsStat>;
}
