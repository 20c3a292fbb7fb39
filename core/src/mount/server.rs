//! The MOUNT v3 program: MNT against an exports table, the mount list, and EXPORT.
//!
//! Rules (Linux's `rpc.mountd` where RFC 1813 leaves a choice):
//! - MNT admits the caller through [`Exports::admit_path`] with the peer's address and source
//!   port (so `secure` refuses ports 1024 and above), and the host name that
//!   [`ExportRoots::host_name`] gives, if any. A directory below an export may be mounted.
//!   Refusals answer `MNT3ERR_ACCES`; a path under no export `MNT3ERR_NOENT`; a path that is
//!   not absolute, has a `..` component or is not UTF-8 `MNT3ERR_INVAL`. The file handle comes
//!   from [`ExportRoots::root_handle`], whose error status is passed on. The flavor list is the
//!   matching entry's `sec=` list: `[AUTH_SYS]` by default, as Linux answers.
//! - The credential flavor is not checked for MNT, UMNT or UMNTALL (mount.x asks for AUTH_UNIX;
//!   Linux does not enforce it either): the NFS server checks credentials on every call.
//! - The mount list (DUMP) is advisory, as Linux's rmtab: entries are keyed by the client's
//!   address as text (IPv4-mapped addresses as IPv4) and the path as requested; a MNT that
//!   does not fit (list full, path longer than `P`) still succeeds and is counted in
//!   [`Mounts::unrecorded`]. UMNT removes the caller's entry for the path; UMNTALL all of the
//!   caller's entries. Both answer void, whether or not there was an entry.
//! - EXPORT lists every export with its client patterns as written (`*` for everyone). A
//!   reply larger than the reply buffer fails with `SYSTEM_ERR` (size the buffer for the table).
//! - Version 3 only: MOUNT v1/v2 carry NFSv2 handles, which Tern does not serve.

use core::fmt::Write as _;
use core::net::{IpAddr, SocketAddr};

use heapless::{String, Vec};

use super::{
    AuthFlavors, DirPath, ExportsReply, FHSIZE3, MNTNAMLEN, MNTPATHLEN, MountRes3, MountStat, Name, PROGRAM, VERSION,
    procs,
};
use crate::exports::{Exports, Refusal, SecFlavors};
use crate::rpc::server::{CallContext, ProcError, Program};
use crate::xdr::{self, Encode, SliceChain, Writer};

/// Longest client address text kept in the mount list (`INET6_ADDRSTRLEN`).
pub const HOST_LEN: usize = 46;

/// What the MOUNT server needs from the file systems behind the exports.
pub trait ExportRoots {
    /// Writes into `out` the NFSv3 file handle of the directory `subdir` below the export whose
    /// path is `export_path`, and returns its length (at most 64; a larger value is answered
    /// `MNT3ERR_SERVERFAULT`).
    ///
    /// `subdir` is `""` for the export's root, otherwise a relative path that does not start or
    /// end with `/` or a `.` component and has no `..` component; its middle may still hold
    /// `.` components or repeated slashes ([`crate::exports::components`] skips them). An error status is sent
    /// to the client as it is (`MNT3ERR_NOENT`, `MNT3ERR_NOTDIR`, `MNT3ERR_IO`, ...).
    fn root_handle(
        &mut self,
        export_path: &str,
        subdir: &str,
        out: &mut [u8; FHSIZE3 as usize],
    ) -> Result<usize, MountStat>;

    /// Writes the host name of `addr` into `out` and returns true, if known; host-name and
    /// wildcard patterns of the exports only match when it is. The default knows no names.
    fn host_name(&mut self, addr: IpAddr, out: &mut String<{ MNTNAMLEN as usize }>) -> bool {
        let _ = (addr, out);
        false
    }
}

/// One mount list entry: a client address and the path it mounted (at most `P` bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry<const P: usize> {
    host: String<HOST_LEN>,
    dir: String<P>,
}

impl<const P: usize> MountEntry<P> {
    /// The client's address, as text.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path, as the client requested it.
    pub fn dir(&self) -> &str {
        &self.dir
    }
}

/// Encodes as a `mountbody` (`name` + `dirpath`).
impl<const P: usize> Encode for MountEntry<P> {
    fn encoded_len(&self) -> usize {
        8 + xdr::padded(self.host.len()) + xdr::padded(self.dir.len())
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.write(&Name::new(&self.host)?)?;
        w.write(&DirPath::new(&self.dir)?)
    }
}

/// The mount list: at most `M` entries of paths of at most `P` bytes.
#[derive(Debug, Clone, Default)]
pub struct Mounts<const M: usize, const P: usize> {
    entries: Vec<MountEntry<P>, M>,
    unrecorded: u32,
}

impl<const M: usize, const P: usize> Mounts<M, P> {
    /// An empty list.
    pub const fn new() -> Self {
        Mounts { entries: Vec::new(), unrecorded: 0 }
    }

    /// Records that `host` mounted `dir`; true when the entry is (or already was) in the list.
    /// An entry that does not fit is counted in [`Mounts::unrecorded`].
    pub fn add(&mut self, host: &str, dir: &str) -> bool {
        if self.entries.iter().any(|e| e.host == host && e.dir == dir) {
            return true;
        }
        let entry = match (String::try_from(host), String::try_from(dir)) {
            (Ok(host), Ok(dir)) if dir.len() <= MNTPATHLEN as usize => MountEntry { host, dir },
            _ => {
                self.unrecorded = self.unrecorded.saturating_add(1);
                return false;
            }
        };
        if self.entries.push(entry).is_err() {
            self.unrecorded = self.unrecorded.saturating_add(1);
            return false;
        }
        true
    }

    /// Removes `host`'s entry for `dir`; true when there was one.
    pub fn remove(&mut self, host: &str, dir: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| !(e.host == host && e.dir == dir));
        self.entries.len() != before
    }

    /// Removes every entry of `host`; returns how many there were.
    pub fn remove_host(&mut self, host: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.host != host);
        before - self.entries.len()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[MountEntry<P>] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nobody has anything mounted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Successful mounts that could not be recorded (list full, or text too long).
    pub fn unrecorded(&self) -> u32 {
        self.unrecorded
    }
}

/// The client's address as mount-list text (IPv4-mapped IPv6 addresses as IPv4).
pub fn host_key(addr: IpAddr) -> String<HOST_LEN> {
    let mut s = String::new();
    // Cannot fail: an address is at most 45 characters.
    let _ = write!(s, "{}", addr.to_canonical());
    s
}

/// The MOUNT v3 program over an exports table with `E` exports and `C` client entries, the
/// file systems `R`, and a mount list of `M` entries with paths of at most `P` bytes.
#[derive(Debug)]
pub struct MountServer<'a, R, const E: usize, const C: usize, const M: usize, const P: usize> {
    exports: Exports<'a, E, C>,
    roots: R,
    mounts: Mounts<M, P>,
}

impl<'a, R: ExportRoots, const E: usize, const C: usize, const M: usize, const P: usize>
    MountServer<'a, R, E, C, M, P>
{
    /// A server for `exports`, asking `roots` for handles, with an empty mount list.
    pub fn new(exports: Exports<'a, E, C>, roots: R) -> Self {
        MountServer { exports, roots, mounts: Mounts::new() }
    }

    /// The exports table.
    pub fn exports(&self) -> &Exports<'a, E, C> {
        &self.exports
    }

    /// Replaces the exports table (a reload); the mount list is kept.
    pub fn set_exports(&mut self, exports: Exports<'a, E, C>) {
        self.exports = exports;
    }

    /// The file systems.
    pub fn roots(&mut self) -> &mut R {
        &mut self.roots
    }

    /// The mount list.
    pub fn mounts(&self) -> &Mounts<M, P> {
        &self.mounts
    }

    /// MNT without the wire: admits `peer` for `path`, writes the handle into `fh`, records the
    /// mount, and returns the handle's length and the flavors to offer.
    pub fn mount(
        &mut self,
        peer: SocketAddr,
        path: &[u8],
        fh: &mut [u8; FHSIZE3 as usize],
    ) -> Result<(usize, SecFlavors), MountStat> {
        let path = core::str::from_utf8(path).map_err(|_| MountStat::Inval)?;
        let mut name = String::new();
        let host = self.roots.host_name(peer.ip(), &mut name).then_some(name.as_str());
        let (access, subdir) = self.exports.admit_path(path, peer.ip(), peer.port(), host).map_err(|r| match r {
            Refusal::NoExport => MountStat::NoEnt,
            Refusal::BadPath => MountStat::Inval,
            Refusal::NotAllowed | Refusal::InsecurePort => MountStat::Acces,
        })?;
        let export = self.exports.get(access.export).ok_or(MountStat::ServerFault)?;
        let len = self.roots.root_handle(export.path, subdir, fh)?;
        if len > fh.len() {
            return Err(MountStat::ServerFault);
        }
        self.mounts.add(&host_key(peer.ip()), path);
        Ok((len, access.options.sec))
    }

    fn mnt(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        let dir: DirPath<'_> = xdr::decode_exact(args)?;
        let mut fh = [0u8; FHSIZE3 as usize];
        match self.mount(ctx.peer.addr, dir.as_bytes(), &mut fh) {
            Ok((len, sec)) => {
                let fhandle = xdr::Opaque::new(fh.get(..len).unwrap_or_default())?;
                out.write(&MountRes3::Ok { fhandle, auth_flavors: AuthFlavors::Slice(sec.as_slice()) })?;
            }
            Err(MountStat::Ok) => out.write(&MountRes3::Fail(MountStat::ServerFault))?,
            Err(stat) => out.write(&MountRes3::Fail(stat))?,
        }
        Ok(())
    }
}

impl<R: ExportRoots, const E: usize, const C: usize, const M: usize, const P: usize> Program
    for MountServer<'_, R, E, C, M, P>
{
    fn program(&self) -> u32 {
        PROGRAM
    }

    fn versions(&self) -> (u32, u32) {
        (VERSION, VERSION)
    }

    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        match ctx.proc_ {
            procs::MNT => self.mnt(ctx, args, out)?,
            procs::DUMP => {
                xdr::decode_exact::<()>(args)?;
                out.write(&SliceChain::<MountEntry<P>, { u32::MAX }>(self.mounts.entries()))?;
            }
            procs::UMNT => {
                let dir: DirPath<'_> = xdr::decode_exact(args)?;
                if let Some(dir) = dir.to_str() {
                    self.mounts.remove(&host_key(ctx.peer.addr.ip()), dir);
                }
            }
            procs::UMNTALL => {
                xdr::decode_exact::<()>(args)?;
                self.mounts.remove_host(&host_key(ctx.peer.addr.ip()));
            }
            procs::EXPORT => {
                xdr::decode_exact::<()>(args)?;
                let reply = ExportsReply(&self.exports);
                if reply.encoded_len() > out.remaining() {
                    return Err(ProcError::SystemErr);
                }
                out.write(&reply)?;
            }
            _ => return Err(ProcError::ProcUnavail),
        }
        Ok(())
    }
}
