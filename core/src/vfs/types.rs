//! The plain-data values of the namespace interface: mount ids, locations, credentials, open
//! flags, open files, descriptors and listing positions.

use crate::fs::{Ctx, Handle, Time};

/// A mount's stable identity, chosen by whoever mounts. An [`OpenFile`] or a [`Loc`] names its
/// file system by this id, so two namespaces that give the same file system the same id can
/// exchange them (process migration). [`MountId::of_source`] derives one from the mount's
/// source (for example `nfs://server/export`), which two machines agree on without talking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MountId(pub u64);

impl MountId {
    /// The 64-bit FNV-1a hash of `source`: the same bytes give the same id on every machine.
    /// Mount the same source twice in one namespace with distinct ids (for example the hash of
    /// the source followed by the mount point).
    pub const fn of_source(source: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < source.len() {
            h ^= source[i] as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        MountId(h)
    }
}

/// Options of one mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MountFlags {
    /// Refuse every change with [`VfsError::ReadOnly`](super::VfsError::ReadOnly) (EROFS).
    pub read_only: bool,
}

/// A location in the namespace independent of paths and machines: a mount and a back-end
/// handle. A process's current directory is one; it stays valid while the mount is mounted and
/// the object exists (then calls through it give [`VfsError::Stale`](super::VfsError::Stale)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loc {
    /// The mount holding the object.
    pub mount: MountId,
    /// The object's handle in that mount's file system.
    pub handle: Handle,
}

/// Who calls and when: given to every call that resolves a path or changes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cred<'g> {
    /// Effective user id (0 passes every permission check but executing a file without `x`).
    pub uid: u32,
    /// Effective group id (owner group of new objects).
    pub gid: u32,
    /// Supplementary groups.
    pub groups: &'g [u32],
    /// The current time, read by the driver (time stamps of changes).
    pub now: Time,
}

impl Cred<'_> {
    /// uid 0, gid 0, no supplementary groups, at `now`.
    pub const fn root(now: Time) -> Cred<'static> {
        Cred { uid: 0, gid: 0, groups: &[], now }
    }

    /// True when `gid` is the caller's group or one of its supplementary groups.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// The back-end context of a change made by this caller.
    pub const fn ctx(&self) -> Ctx {
        Ctx { now: self.now, uid: self.uid, gid: self.gid }
    }
}

/// `open` flags, with Linux's values (`asm-generic/fcntl.h`), so a system call's argument can be
/// taken as is with [`OpenFlags::from_bits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OpenFlags(u32);

impl OpenFlags {
    /// Open for reading only.
    pub const RDONLY: OpenFlags = OpenFlags(0);
    /// Open for writing only.
    pub const WRONLY: OpenFlags = OpenFlags(1);
    /// Open for reading and writing.
    pub const RDWR: OpenFlags = OpenFlags(2);
    /// Create the file if it does not exist.
    pub const CREAT: OpenFlags = OpenFlags(0o100);
    /// With [`CREAT`](Self::CREAT): fail with EEXIST if the name exists (even as a symlink).
    pub const EXCL: OpenFlags = OpenFlags(0o200);
    /// Truncate a regular file to 0 (needs write permission, whatever the access mode).
    pub const TRUNC: OpenFlags = OpenFlags(0o1000);
    /// Every write goes to the end of the file.
    pub const APPEND: OpenFlags = OpenFlags(0o2000);
    /// Fail with ENOTDIR unless the path names a directory.
    pub const DIRECTORY: OpenFlags = OpenFlags(0o200000);
    /// Fail with ELOOP if the last component is a symlink.
    pub const NOFOLLOW: OpenFlags = OpenFlags(0o400000);

    /// The access-mode bits.
    const ACCMODE: u32 = 3;
    /// Every flag the namespace knows.
    const KNOWN: u32 = 3 | 0o100 | 0o200 | 0o1000 | 0o2000 | 0o200000 | 0o400000;
    /// Flags an open file keeps after `open` (access mode, append, directory).
    const KEPT: u32 = 3 | 0o2000 | 0o200000;

    /// Flags from Linux bits: unknown bits are dropped (as Linux ignores them); access mode 3
    /// is [`VfsError::Inval`](super::VfsError::Inval).
    pub const fn from_bits(bits: u32) -> Result<Self, super::VfsError> {
        if bits & Self::ACCMODE == Self::ACCMODE {
            return Err(super::VfsError::Inval);
        }
        Ok(OpenFlags(bits & Self::KNOWN))
    }

    /// The Linux bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The flags of both (`|` in a `const`).
    pub const fn union(self, other: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | other.0)
    }

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: OpenFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when opened for reading ([`RDONLY`](Self::RDONLY) or [`RDWR`](Self::RDWR)).
    pub const fn readable(self) -> bool {
        self.0 & Self::ACCMODE != 1
    }

    /// True when opened for writing ([`WRONLY`](Self::WRONLY) or [`RDWR`](Self::RDWR)).
    pub const fn writable(self) -> bool {
        matches!(self.0 & Self::ACCMODE, 1 | 2)
    }

    /// The flags an open file keeps: the access mode, [`APPEND`](Self::APPEND) and
    /// [`DIRECTORY`](Self::DIRECTORY).
    pub const fn kept(self) -> OpenFlags {
        OpenFlags(self.0 & Self::KEPT)
    }

    /// True when these are flags an open file may hold ([`OpenFlags::kept`] of valid flags).
    pub const fn is_kept(self) -> bool {
        self.0 & !Self::KEPT == 0 && self.0 & Self::ACCMODE != Self::ACCMODE
    }
}

impl core::ops::BitOr for OpenFlags {
    type Output = OpenFlags;
    fn bitor(self, rhs: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | rhs.0)
    }
}

/// An open file, location-independent plain data: which mount, which object, where, how.
/// Nothing else is kept for it (permissions were checked at `open`; the back end is stateless),
/// so it can be copied into a process's control block, carried to another machine and
/// installed with [`Namespace::import`](super::Namespace::import) into a namespace that has a
/// mount with the same [`MountId`] on the same file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenFile {
    /// The mount holding the file.
    pub mount: MountId,
    /// The back end's handle of the file.
    pub handle: Handle,
    /// The position of the next `read` or `write` (not used by `O_APPEND` writes, which go to
    /// the end and leave the position after the data).
    pub offset: u64,
    /// What the file was opened for ([`OpenFlags::kept`]).
    pub flags: OpenFlags,
}

/// An index in a namespace's open-file table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Fd(pub u32);

/// Where [`Namespace::seek`](super::Namespace::seek) counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Whence {
    /// From the start of the file (`SEEK_SET`).
    Set,
    /// From the current position (`SEEK_CUR`).
    Cur,
    /// From the end of the file (`SEEK_END`).
    End,
}

/// A position in a directory listing: the back end's cookie and cookie verifier. Start with
/// [`DirPos::START`]; each listing call returns the position to resume from. It is plain data
/// the caller keeps (with its descriptor, and across a migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct DirPos {
    /// Resume after the entry with this cookie (0: from the start).
    pub cookie: u64,
    /// The directory's cookie verifier at the time of the cookie.
    pub verifier: [u8; 8],
    /// True when the last listing reached the end of the directory.
    pub eof: bool,
}

impl DirPos {
    /// The start of a listing.
    pub const START: DirPos = DirPos { cookie: 0, verifier: [0; 8], eof: false };
}

/// Bounds of path resolution (the path length is the namespace's `PATH` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most symlinks followed while resolving one path (Linux's `MAXSYMLINKS` is 40).
    pub max_symlinks: u32,
    /// Longest component (at most [`MAX_NAME`]).
    pub max_name: usize,
}

/// Longest component any namespace accepts (Linux's `NAME_MAX`).
pub const MAX_NAME: usize = 255;

impl Default for Limits {
    fn default() -> Self {
        Limits { max_symlinks: 40, max_name: MAX_NAME }
    }
}
