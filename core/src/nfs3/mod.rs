//! NFS version 3 (RFC 1813): wire types for all 22 procedures.
//!
//! Files by procedure family: `types` (common types: handles, names, attributes,
//! WCC data, `sattr3`, the result union [`NfsRes`]), `attr` (GETATTR, SETATTR, ACCESS),
//! `dirop` (LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK), `io` (READLINK,
//! READ, WRITE, COMMIT), `readdir` (READDIR, READDIRPLUS, the lazy [`DirList`] and the server's
//! [`ReaddirWriter`] / [`ReaddirplusWriter`]), `fsinfo` (FSSTAT, FSINFO, PATHCONF), and `args`
//! ([`Args`], every procedure's arguments behind one decoder). NULL takes and returns `void`
//! (`()`).
//!
//! # Invariants
//! - Decoding borrows: [`FileHandle`], [`Filename`], [`NfsPath`], READ/WRITE data and READDIR
//!   entries are slices of the input; nothing allocates, nothing panics on input.
//! - Every variable-length item is bounded *before* its bytes are read: a file handle by
//!   [`FHSIZE`] (64 bytes), names and paths by the caller's [`Limits`] (255 and 1024 by
//!   default), READ/WRITE data by [`Limits::max_data`]. A longer item fails with
//!   [`xdr::Error::LengthExceeded`].
//! - Argument and result types implement [`DecodeWith<Limits>`](DecodeWith) and
//!   [`Encode`](crate::xdr::Encode); valid XDR is canonical, so decode → encode gives back the
//!   bytes that were read.
//! - Results are [`NfsRes<Ok, Fail>`](NfsRes): the `nfsstat3` discriminant, then the `resok` arm
//!   for `NFS3_OK` and the `resfail` arm for every other status (RFC 1813 §3.3). Encoding a
//!   `Fail` whose status is `NFS3_OK` fails with [`xdr::Error::InvalidDiscriminant`].
//!
//! # Decisions stricter than the `.x` file
//! - WRITE: `count` must equal the length of `data` (as Linux's nfsd requires), and READ's
//!   result `count` must equal its data length (as Linux's client requires); a mismatch fails
//!   with [`xdr::Error::LengthExceeded`]. Neither type stores `count`: it is the data's length.
//! - `set_atime`/`set_mtime` (`time_how`) and `createhow3` (`createmode3`) values outside the
//!   RFC fail with [`xdr::Error::InvalidDiscriminant`] (Linux's nfsd refuses them too).
//! - `mknoddata3` keeps its `default: void` arm: MKNOD of a regular file, directory, link or
//!   unknown type decodes (as [`MknodData3::Other`]), so the server can answer
//!   `NFS3ERR_BADTYPE` as RFC 1813 §3.3.11 asks.
//! - Names are bytes: nothing here checks for `/`, NUL, `.` or `..`; that is the server's job.

mod args;
mod attr;
pub mod client;
mod dirop;
mod fsinfo;
mod io;
mod readdir;
pub mod server;
mod types;

pub use args::Args;
pub use attr::{AccessArgs, AccessRes, AccessResOk, GetattrArgs, GetattrRes, SetattrArgs, SetattrRes, access};
pub use dirop::{
    CreateArgs, CreateRes, CreateResOk, LinkArgs, LinkRes, LinkWcc, LookupArgs, LookupRes, LookupResOk, MkdirArgs,
    MkdirRes, MknodArgs, MknodRes, RemoveArgs, RemoveRes, RenameArgs, RenameRes, RenameWcc, RmdirArgs, RmdirRes,
    SymlinkArgs, SymlinkRes,
};
pub use fsinfo::{
    FsinfoArgs, FsinfoRes, FsinfoResOk, FsstatArgs, FsstatRes, FsstatResOk, PathconfArgs, PathconfRes, PathconfResOk,
    fsf,
};
pub use io::{
    CommitArgs, CommitRes, CommitResOk, ReadArgs, ReadRes, ReadResOk, ReadlinkArgs, ReadlinkRes, ReadlinkResOk,
    WriteArgs, WriteRes, WriteResOk, encode_read_in_place,
};
pub use readdir::{
    DirIter, DirList, Entry3, EntryPlus3, ReaddirArgs, ReaddirRes, ReaddirResOk, ReaddirWriter, ReaddirplusArgs,
    ReaddirplusRes, ReaddirplusResOk, ReaddirplusWriter,
};
pub use types::{
    CreateHow3, CreateMode3, DeviceData3, DirOpArgs3, FType3, Fattr3, FileHandle, Filename, MknodData3, NfsPath,
    NfsRes, NfsStat3, NfsTime, PostOpAttr, PostOpFh3, PreOpAttr, Sattr3, SetTime, SetattrGuard, SpecData3, StableHow,
    SymlinkData3, TimeHow, Verifier, WccAttr, WccData,
};

use crate::xdr::{self, Reader};

/// Program number.
pub const PROGRAM: u32 = 100_003;
/// Version.
pub const VERSION: u32 = 3;
/// Well-known port.
pub const PORT: u16 = 2049;
/// Largest NFSv3 file handle (`NFS3_FHSIZE`).
pub const FHSIZE: u32 = 64;
/// Size of a READDIR cookie verifier (`NFS3_COOKIEVERFSIZE`).
pub const COOKIEVERFSIZE: usize = 8;
/// Size of an exclusive CREATE verifier (`NFS3_CREATEVERFSIZE`).
pub const CREATEVERFSIZE: usize = 8;
/// Size of a WRITE/COMMIT verifier (`NFS3_WRITEVERFSIZE`).
pub const WRITEVERFSIZE: usize = 8;

/// Procedure numbers (RFC 1813 §3.3).
pub mod procs {
    /// Do nothing.
    pub const NULL: u32 = 0;
    /// Get file attributes.
    pub const GETATTR: u32 = 1;
    /// Set file attributes.
    pub const SETATTR: u32 = 2;
    /// Look up a file name.
    pub const LOOKUP: u32 = 3;
    /// Check access permission.
    pub const ACCESS: u32 = 4;
    /// Read from a symbolic link.
    pub const READLINK: u32 = 5;
    /// Read from a file.
    pub const READ: u32 = 6;
    /// Write to a file.
    pub const WRITE: u32 = 7;
    /// Create a file.
    pub const CREATE: u32 = 8;
    /// Create a directory.
    pub const MKDIR: u32 = 9;
    /// Create a symbolic link.
    pub const SYMLINK: u32 = 10;
    /// Create a special device.
    pub const MKNOD: u32 = 11;
    /// Remove a file.
    pub const REMOVE: u32 = 12;
    /// Remove a directory.
    pub const RMDIR: u32 = 13;
    /// Rename a file or directory.
    pub const RENAME: u32 = 14;
    /// Create a hard link.
    pub const LINK: u32 = 15;
    /// Read from a directory.
    pub const READDIR: u32 = 16;
    /// Extended read from a directory (with attributes and handles).
    pub const READDIRPLUS: u32 = 17;
    /// Get dynamic file system information.
    pub const FSSTAT: u32 = 18;
    /// Get static file system information.
    pub const FSINFO: u32 = 19;
    /// Retrieve POSIX information.
    pub const PATHCONF: u32 = 20;
    /// Commit cached data on a server to stable storage.
    pub const COMMIT: u32 = 21;
    /// Number of procedures (0 to 21).
    pub const COUNT: u32 = 22;
}

/// Bounds applied while decoding NFSv3 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest file name (`filename3`), in bytes.
    pub max_name: u32,
    /// Longest path (`nfspath3`, a symlink's target), in bytes.
    pub max_path: u32,
    /// Most data bytes in one READ result or WRITE argument.
    pub max_data: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_name: 255, max_path: 1024, max_data: 1024 * 1024 }
    }
}

/// Decoding that needs run-time bounds (a context `C`, such as [`Limits`]).
pub trait DecodeWith<'a, C>: Sized {
    /// Reads one value, checking every length against `cx` before reading the bytes.
    fn decode_with(r: &mut Reader<'a>, cx: &C) -> xdr::Result<Self>;
}

/// Optional data (`type *name`, or a union on a boolean with a `void` FALSE arm).
impl<'a, C, T: DecodeWith<'a, C>> DecodeWith<'a, C> for Option<T> {
    fn decode_with(r: &mut Reader<'a>, cx: &C) -> xdr::Result<Self> {
        if r.read::<bool>()? { Ok(Some(T::decode_with(r, cx)?)) } else { Ok(None) }
    }
}

/// Decodes a `T` that must fill `buf` exactly, with context `cx`.
pub fn decode_exact_with<'a, C, T: DecodeWith<'a, C>>(buf: &'a [u8], cx: &C) -> xdr::Result<T> {
    let mut r = Reader::new(buf);
    let v = T::decode_with(&mut r, cx)?;
    r.finish()?;
    Ok(v)
}

/// Implements `DecodeWith<Limits>` for types whose decoding needs no bounds.
macro_rules! decode_with_plain {
    ($($t:ty),+ $(,)?) => {$(
        impl<'a> $crate::nfs3::DecodeWith<'a, $crate::nfs3::Limits> for $t {
            fn decode_with(r: &mut $crate::xdr::Reader<'a>, _: &$crate::nfs3::Limits) -> $crate::xdr::Result<Self> {
                <$t as $crate::xdr::Decode<'a>>::decode(r)
            }
        }
    )+};
}
use decode_with_plain;

/// Defines an XDR struct: the fields in wire order, `Encode` and `DecodeWith<Limits>`.
macro_rules! wire_struct {
    (@impls $name:ident [$($g:tt)*] [$($t:tt)*] $($f:ident)+) => {
        impl<$($g)*> $crate::xdr::Encode for $name $($t)* {
            fn encoded_len(&self) -> usize {
                0 $(+ $crate::xdr::Encode::encoded_len(&self.$f))+
            }
            fn encode(&self, w: &mut $crate::xdr::Writer<'_>) -> $crate::xdr::Result<()> {
                $($crate::xdr::Encode::encode(&self.$f, w)?;)+
                Ok(())
            }
        }
    };
    ($(#[$m:meta])* pub struct $name:ident<$lt:lifetime> { $($(#[$fm:meta])* pub $f:ident: $ft:ty),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<$lt> { $($(#[$fm])* pub $f: $ft,)+ }
        wire_struct!(@impls $name [$lt] [<$lt>] $($f)+);
        impl<$lt> $crate::nfs3::DecodeWith<$lt, $crate::nfs3::Limits> for $name<$lt> {
            fn decode_with(r: &mut $crate::xdr::Reader<$lt>, l: &$crate::nfs3::Limits) -> $crate::xdr::Result<Self> {
                Ok($name { $($f: $crate::nfs3::DecodeWith::decode_with(r, l)?,)+ })
            }
        }
    };
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $ft:ty),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $ft,)+ }
        wire_struct!(@impls $name [] [] $($f)+);
        impl<'a> $crate::nfs3::DecodeWith<'a, $crate::nfs3::Limits> for $name {
            fn decode_with(r: &mut $crate::xdr::Reader<'a>, l: &$crate::nfs3::Limits) -> $crate::xdr::Result<Self> {
                Ok($name { $($f: $crate::nfs3::DecodeWith::decode_with(r, l)?,)+ })
            }
        }
    };
}
use wire_struct;

#[cfg(test)]
pub(crate) mod testutil;
