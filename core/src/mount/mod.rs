//! MOUNT version 3 (RFC 1813 Appendix I): wire types, the server program, and client calls.
//!
//! Program 100005 version 3: NULL, MNT, DUMP, UMNT, UMNTALL and EXPORT. The types follow
//! `mount.x` (FreeBSD `include/rpcsvc/mount.x`, `WANT_NFS3`):
//! - decoding borrows: paths, names and file handles are slices of the message, and the
//!   `mountlist`, `exports` and `groups` linked lists are lazy [`ChainList`]s;
//! - every variable-length item is bounded before it is read: `dirpath` by [`MNTPATHLEN`],
//!   `name` by [`MNTNAMLEN`], `fhandle3` by [`FHSIZE3`]; lists and `auth_flavors<>` (unbounded
//!   in `mount.x`) by the `MAX_*` constants here, which only a client decoding a server's reply
//!   meets;
//! - `mountstat3` is an open enumeration: a status this crate does not know survives a round trip.
//!
//! [`MountServer`] is the program (see [`server`] for its rules); [`client`] encodes calls and
//! decodes results over the sans-IO RPC client.

pub mod client;
pub mod server;
#[cfg(test)]
mod tests;

pub use server::{ExportRoots, HOST_LEN, MountEntry, MountServer, Mounts};

use crate::exports::{ClientEntry, Exports};
use crate::rpc::auth::AuthFlavor;
use crate::xdr::{self, ChainList, Decode, Encode, List, Opaque, Reader, Writer, XdrStr};
use crate::xdr_enum;

/// Program number.
pub const PROGRAM: u32 = 100_005;
/// Version served.
pub const VERSION: u32 = 3;
/// Longest path argument (`MNTPATHLEN`).
pub const MNTPATHLEN: u32 = 1024;
/// Longest name (`MNTNAMLEN`): host names in `mountlist`, group names in `exports`.
pub const MNTNAMLEN: u32 = 255;
/// Longest version 3 file handle (`FHSIZE3`).
pub const FHSIZE3: u32 = 64;

/// Most entries of a `mountlist` a client decodes.
pub const MAX_MOUNT_LIST: u32 = 8192;
/// Most exports in an `exports` list a client decodes.
pub const MAX_EXPORT_LIST: u32 = 4096;
/// Most groups of one export a client decodes.
pub const MAX_GROUPS: u32 = 4096;
/// Most authentication flavors in a MNT result a client decodes.
pub const MAX_AUTH_FLAVORS: u32 = 32;

/// Procedure numbers of version 3.
pub mod procs {
    /// Do nothing.
    pub const NULL: u32 = 0;
    /// Get the file handle of an exported directory; adds a mount list entry.
    pub const MNT: u32 = 1;
    /// List the mount list.
    pub const DUMP: u32 = 2;
    /// Remove one mount list entry of the caller.
    pub const UMNT: u32 = 3;
    /// Remove every mount list entry of the caller.
    pub const UMNTALL: u32 = 4;
    /// List the exports and who may mount them.
    pub const EXPORT: u32 = 5;
}

/// `dirpath`: a path of at most 1024 bytes.
pub type DirPath<'a> = XdrStr<'a, MNTPATHLEN>;
/// `name`: a host or group name of at most 255 bytes.
pub type Name<'a> = XdrStr<'a, MNTNAMLEN>;
/// `fhandle3`: a file handle of at most 64 bytes.
pub type FHandle3<'a> = Opaque<'a, FHSIZE3>;

xdr_enum! {
    /// `mountstat3`.
    pub enum MountStat {
        Ok = 0, Perm = 1, NoEnt = 2, Io = 5, Acces = 13, NotDir = 20, Inval = 22, NameTooLong = 63,
        NotSupp = 10004, ServerFault = 10006,
    }
}

/// `auth_flavors<>` of a MNT result: borrowed from the wire when decoded, from a slice when
/// built to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AuthFlavors<'a> {
    /// Decoded, validated wire bytes (at most [`MAX_AUTH_FLAVORS`]).
    Wire(List<'a, AuthFlavor, MAX_AUTH_FLAVORS>),
    /// Flavors to encode.
    Slice(&'a [AuthFlavor]),
}

impl AuthFlavors<'_> {
    /// The flavors, in the server's order of preference.
    pub fn iter(&self) -> impl Iterator<Item = AuthFlavor> + '_ {
        let (wire, slice) = match self {
            AuthFlavors::Wire(l) => (Some(l.iter()), None),
            AuthFlavors::Slice(s) => (None, Some(s.iter().copied())),
        };
        wire.into_iter().flatten().chain(slice.into_iter().flatten())
    }

    /// Number of flavors.
    pub fn len(&self) -> usize {
        match self {
            AuthFlavors::Wire(l) => l.len(),
            AuthFlavors::Slice(s) => s.len(),
        }
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Encode for AuthFlavors<'_> {
    fn encoded_len(&self) -> usize {
        4 + 4 * self.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            AuthFlavors::Wire(l) => w.write(l),
            AuthFlavors::Slice(s) => w.write(&xdr::SliceList::<AuthFlavor, { u32::MAX }>(s)),
        }
    }
}

impl<'a> Decode<'a> for AuthFlavors<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(AuthFlavors::Wire(r.read()?))
    }
}

/// `mountres3`: the result of MNT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MountRes3<'a> {
    /// `MNT3_OK`: the directory's file handle and the flavors the server accepts for it.
    Ok {
        /// The file handle.
        fhandle: FHandle3<'a>,
        /// Accepted authentication flavors, preferred first.
        auth_flavors: AuthFlavors<'a>,
    },
    /// Any other status (no body). `Fail(MountStat::Ok)` cannot be encoded.
    Fail(MountStat),
}

impl Encode for MountRes3<'_> {
    fn encoded_len(&self) -> usize {
        4 + match self {
            MountRes3::Ok { fhandle, auth_flavors } => fhandle.encoded_len() + auth_flavors.encoded_len(),
            MountRes3::Fail(_) => 0,
        }
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        match self {
            MountRes3::Ok { fhandle, auth_flavors } => {
                w.write(&MountStat::Ok)?;
                w.write(fhandle)?;
                w.write(auth_flavors)
            }
            MountRes3::Fail(MountStat::Ok) => Err(xdr::Error::InvalidDiscriminant),
            MountRes3::Fail(stat) => w.write(stat),
        }
    }
}

impl<'a> Decode<'a> for MountRes3<'a> {
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        match r.read::<MountStat>()? {
            MountStat::Ok => Ok(MountRes3::Ok { fhandle: r.read()?, auth_flavors: r.read()? }),
            stat => Ok(MountRes3::Fail(stat)),
        }
    }
}

/// `mountbody`: one entry of the mount list (the `ml_next` link is the list's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountBody<'a> {
    /// The client (`ml_hostname`).
    pub hostname: Name<'a>,
    /// The directory it mounted (`ml_directory`).
    pub directory: DirPath<'a>,
}

impl Encode for MountBody<'_> {
    fn encoded_len(&self) -> usize {
        self.hostname.encoded_len() + self.directory.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.write(&self.hostname)?;
        w.write(&self.directory)
    }
}

impl<'a> Decode<'a> for MountBody<'a> {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(MountBody { hostname: r.read()?, directory: r.read()? })
    }
}

/// `mountlist`, the result of DUMP, decoded lazily.
pub type MountList<'a> = ChainList<'a, MountBody<'a>, MAX_MOUNT_LIST>;

/// `groups`: who may mount one export, decoded lazily.
pub type Groups<'a> = ChainList<'a, Name<'a>, MAX_GROUPS>;

/// `exportnode`: one export (the `ex_next` link is the list's business).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportNode<'a> {
    /// The exported directory (`ex_dir`).
    pub dir: DirPath<'a>,
    /// Who may mount it (`ex_groups`).
    pub groups: Groups<'a>,
}

impl Encode for ExportNode<'_> {
    fn encoded_len(&self) -> usize {
        self.dir.encoded_len() + self.groups.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.write(&self.dir)?;
        w.write(&self.groups)
    }
}

impl<'a> Decode<'a> for ExportNode<'a> {
    const MIN_LEN: usize = 8;
    fn decode(r: &mut Reader<'a>) -> xdr::Result<Self> {
        Ok(ExportNode { dir: r.read()?, groups: r.read()? })
    }
}

/// `exports`, the result of EXPORT, decoded lazily.
pub type ExportList<'a> = ChainList<'a, ExportNode<'a>, MAX_EXPORT_LIST>;

/// Encodes the `groups` of one export from its client entries (each entry's pattern as
/// written), without allocation.
#[derive(Debug, Clone, Copy)]
pub struct GroupsOf<'t, 'a>(pub &'t [ClientEntry<'a>]);

impl Encode for GroupsOf<'_, '_> {
    fn encoded_len(&self) -> usize {
        4 + self.0.iter().map(|c| 8 + xdr::padded(c.text.len())).sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        for c in self.0 {
            w.put_u32(1)?;
            w.write(&Name::new(c.text)?)?;
        }
        w.put_u32(0)
    }
}

/// Encodes an exports table as the `exports` result of EXPORT, without allocation: every
/// export in file order, with its client patterns as groups.
#[derive(Debug, Clone, Copy)]
pub struct ExportsReply<'t, 'a, const E: usize, const C: usize>(pub &'t Exports<'a, E, C>);

impl<const E: usize, const C: usize> Encode for ExportsReply<'_, '_, E, C> {
    fn encoded_len(&self) -> usize {
        4 + self.0.iter().map(|e| 8 + xdr::padded(e.path.len()) + GroupsOf(e.clients).encoded_len()).sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        for e in self.0.iter() {
            w.put_u32(1)?;
            w.write(&DirPath::new(e.path)?)?;
            w.write(&GroupsOf(e.clients))?;
        }
        w.put_u32(0)
    }
}
