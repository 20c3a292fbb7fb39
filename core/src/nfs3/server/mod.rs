//! The NFSv3 server program (RFC 1813) over stateless [`FileSystem`] back ends.
//!
//! [`Nfs3Server`] serves up to `X` exports of an [`Exports`] table, each by its own back end
//! `F` ([`Nfs3Server::add`]). It keeps a copy of the table (a `'static` text on a board, a
//! leaked or long-lived string on a host), admits the caller on **every** call and maps its
//! identity through the matching entry's options. [`NfsService`] puts it together with the
//! MOUNT program on one dispatcher, both serving the same back ends.
//!
//! Files by procedure family: `attr` (GETATTR, SETATTR, ACCESS), `dirop` (LOOKUP, REMOVE,
//! RMDIR, RENAME, LINK), `create` (CREATE, MKDIR, SYMLINK, MKNOD), `io` (READLINK, READ,
//! WRITE, COMMIT), `readdir` (READDIR, READDIRPLUS), `fsinfo` (FSSTAT, FSINFO, PATHCONF);
//! `handle` (the wire handle), `req` (identity, permissions, conversions), `errors` (status
//! mapping), `service` (MOUNT + NFS on one dispatcher).
//!
//! # Invariants
//! - No allocation, no `unsafe`, no panic on any argument bytes or handle; nothing reads a
//!   clock: the time of a call is [`ServerConfig::boot_time`] plus the dispatcher's
//!   [`CallContext::now`].
//! - Arguments that do not decode, or with bytes left after them, are `GARBAGE_ARGS`; names
//!   are decoded up to 1024 bytes and symlink targets up to 4096 (so that longer ones than the
//!   back end takes get `NFS3ERR_NAMETOOLONG`, not `GARBAGE_ARGS`), WRITE data up to what the
//!   request holds (it is then cut to [`ServerConfig::max_write`]). Results that do not fit the
//!   reply buffer are `SYSTEM_ERR`. A procedure above 21 is `PROC_UNAVAIL`.
//! - Every procedure that changes something returns WCC data (pre-op size, mtime and ctime from
//!   a GETATTR before the change, post-op attributes after it), on success and on failure once
//!   the object is known; every result that may carry post-op attributes carries them.
//!
//! # Handles
//! See [`WireHandle`] and the `handle` module: 8 bytes of the server (format byte, export slot,
//! 48 check bits over the server id, the export's path and the back end's root handle), then
//! the back end's handle. Malformed → `NFS3ERR_BADHANDLE`; another server, or an export no
//! longer in the table or not served here → `NFS3ERR_STALE`. The slot byte is a hint: check
//! bytes that name another served export make the handle that export's (so a restart that adds
//! the exports in another order keeps every handle), and admission is always checked for the
//! export the handle resolves to.
//!
//! # Admission, identity and permissions (decisions, with Linux references)
//! - Every call is admitted with [`Exports::admit`] (the peer's address and source port, and
//!   a host name from [`Nfs3Server::set_host_names`] when the export has host-name patterns).
//!   A client the export does not list gets `NFS3ERR_ACCES`. Linux answers `NFS3ERR_STALE`
//!   there (its export lookup is keyed by the client's domain and fails with `ENOENT`,
//!   `fs/nfsd/nfsfh.c` `nfsd_set_fh_dentry`), or denies the RPC when the address matches no
//!   export at all; `ACCES` is chosen because a client that is refused today may be admitted
//!   after a reload, and `STALE` would make it drop its handles. A source port of 1024 or above
//!   on a `secure` export is `NFS3ERR_PERM`, as Linux (`nfsd_setuser_and_check_port`).
//! - AUTH_SYS is mapped with [`Access::map_identity`] and
//!   [`Access::map_groups`](crate::exports::Access::map_groups) (`root_squash`, `all_squash`,
//!   `anonuid`/`anongid`); AUTH_NONE is the anonymous identity (as Linux when no `sec=` is
//!   given, which this table cannot tell from `sec=sys`). AUTH_SYS on an export whose `sec=`
//!   lacks `sys` is `NFS3ERR_ACCES` (Linux's `nfserr_wrongsec`, mapped to `ACCES` for v3).
//! - Permissions come from the mode bits of the object's attributes for the mapped identity
//!   (owner, group and supplementary groups, other). Uid 0 after mapping passes every check
//!   except execute on a non-directory without any `x` bit (Linux's `generic_permission`). As
//!   Linux's `nfsd_permission`, the owner of a file may always READ, WRITE, COMMIT and truncate
//!   it (a client checks at open time), and a file that may be executed may be read. A sticky
//!   directory lets only the owner of an entry, of the directory, or uid 0 remove or replace
//!   it (`NFS3ERR_PERM`). Changing the mode or times to a client's time needs the owner,
//!   changing the owner uid 0, changing the group the owner and membership (`NFS3ERR_PERM`);
//!   a change of owner or group clears set-user-id (and set-group-id on a group-executable
//!   file), `chmod` by someone outside the file's group clears set-group-id, and a directory
//!   moved to another parent must be writable (its `..` changes), as on Linux.
//! - An `ro` export refuses every procedure that changes something, and COMMIT, with
//!   `NFS3ERR_ROFS` (Linux: `nfsd_permission` with `NFSD_MAY_WRITE`). ACCESS clears MODIFY,
//!   EXTEND and DELETE there, except on device files, sockets and pipes, as Linux
//!   (`NFSD_MAY_LOCAL_ACCESS`: writing a device touches the client, not the export).
//! - New objects get the mapped uid and gid through [`fs::Ctx`]; owner and group in their
//!   attributes are dropped unless the caller is uid 0 (Linux's `nfsd_create_setattr`).
//!
//! # Names (Linux's `nfsd3_check_filename` and `fs/nfsd/vfs.c`)
//! - Empty, containing `/` or NUL → `NFS3ERR_INVAL` (Linux 5.13-6.x refuses these while
//!   decoding, i.e. `GARBAGE_ARGS`; the current xdrgen-based server answers `INVAL`); longer
//!   than the back end's `max_name` → `NFS3ERR_NAMETOOLONG`.
//! - `.` and `..`: LOOKUP resolves them (`..` of the export root is the root itself: a client
//!   cannot climb out of the export); CREATE, MKDIR, SYMLINK, MKNOD and LINK answer
//!   `NFS3ERR_EXIST`, REMOVE and RMDIR `NFS3ERR_ACCES`, RENAME `NFS3ERR_PERM`, as Linux.
//! - SYMLINK targets: empty → `NFS3ERR_INVAL`, longer than 1024 bytes → `NFS3ERR_NAMETOOLONG`,
//!   containing NUL → `NFS3ERR_INVAL` (Linux's `nfsd3_proc_symlink`).
//! - MKNOD of a type other than CHR, BLK, SOCK and FIFO → `NFS3ERR_BADTYPE`; a device node by
//!   anyone but uid 0 → `NFS3ERR_PERM` (`CAP_MKNOD`); a back end without special files →
//!   `NFS3ERR_NOTSUPP`.
//! - CREATE UNCHECKED of an existing non-regular file → `NFS3ERR_EXIST`, as the back-end
//!   contract says (the current Linux `nfsd3_create_file` answers OK with the existing object);
//!   of an existing regular file only the size is applied, and only with write permission.
//! - RENAME and LINK between two exports → `NFS3ERR_XDEV`; LINK to a directory →
//!   `NFS3ERR_ISDIR` (Linux's `nfsd_link`).

mod attr;
mod create;
mod dirop;
mod errors;
mod fsinfo;
mod handle;
mod io;
mod readdir;
mod req;
mod service;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_dir;
#[cfg(test)]
mod tests_exports;
#[cfg(test)]
mod tests_fs;
#[cfg(test)]
mod tests_io;
#[cfg(test)]
mod tests_readdir;
#[cfg(test)]
mod tests_rig;

use core::net::IpAddr;

use heapless::{String, Vec};

pub use errors::{mount_status, nfs_status, refusal_status};
pub use handle::{HANDLE_FORMAT, PREFIX_LEN, WireHandle};
pub use service::{ExportTable, NfsService, NoPrograms};

use self::req::{Caller, NO_WCC, Req};
use super::{Args, FileHandle, Limits, NfsRes, NfsStat3, PostOpAttr, RenameWcc, StableHow, VERSION, procs};
use crate::exports::{Access, Exports, Pattern, components};
use crate::fs::{self, FileSystem, FsInfo};
use crate::rpc::drc::NonIdempotent;
use crate::rpc::server::{CallContext, ProcError, Program};
use crate::time::Instant;
use crate::xdr::{self, Encode, Reader, Writer};

/// Longest name decoded (longer is `GARBAGE_ARGS`; longer than the back end's `max_name` is
/// `NFS3ERR_NAMETOOLONG`).
pub const MAX_NAME_DECODE: u32 = 1024;
/// Longest symlink target decoded (longer than [`MAX_SYMLINK`] is `NFS3ERR_NAMETOOLONG`).
pub const MAX_PATH_DECODE: u32 = 4096;
/// Longest symlink target created (Linux's `NFS3_MAXPATHLEN`).
pub const MAX_SYMLINK: usize = 1024;

/// The bounds arguments are decoded with.
const DECODE_LIMITS: Limits = Limits { max_name: MAX_NAME_DECODE, max_path: MAX_PATH_DECODE, max_data: u32::MAX };

/// Resolves a client's address to its host name (written into the string; true when known),
/// for exports with host-name or wildcard patterns. Called on every NFS call to such an export
/// and on every MNT, so it should answer from a cache.
pub type HostNameFn = fn(IpAddr, &mut String<255>) -> bool;

/// The server's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Largest READ (FSINFO `rtmax` and `rtpref`); larger requests are cut to it.
    pub max_read: u32,
    /// Largest WRITE (FSINFO `wtmax` and `wtpref`); larger requests write this much.
    pub max_write: u32,
    /// Largest READDIR/READDIRPLUS result (FSINFO `dtpref`); larger `count`/`maxcount` are cut
    /// to it.
    pub max_readdir: u32,
    /// Mixed into every handle's check bytes: handles of a server with another id are stale.
    /// Keep it across restarts, or clients lose their handles.
    pub server_id: u32,
    /// The wall-clock time at [`Instant::ZERO`] of the dispatcher's clock: the time of a call
    /// is this plus [`CallContext::now`].
    pub boot_time: fs::Time,
}

impl ServerConfig {
    /// 32 KiB reads and writes, 8 KiB directory listings. The reply buffers of the transport
    /// must hold `max_read` and `max_readdir` plus about 200 bytes of headers.
    pub const fn new(server_id: u32, boot_time: fs::Time) -> Self {
        ServerConfig { max_read: 32 * 1024, max_write: 32 * 1024, max_readdir: 8 * 1024, server_id, boot_time }
    }
}

/// Why [`Nfs3Server::add`] refused a back end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AddError {
    /// No export of the table has this path.
    NoExport,
    /// The export already has a back end.
    AlreadyAdded,
    /// The server already serves `X` exports (or 256, the most a handle can name).
    Full,
}

impl core::fmt::Display for AddError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AddError::NoExport => "no export has this path",
            AddError::AlreadyAdded => "the export already has a file system",
            AddError::Full => "no room for another export",
        })
    }
}

impl core::error::Error for AddError {}

/// What a handle's prefix names and the procedures need about an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mount {
    /// Position in the server.
    slot: u8,
    /// Check bytes of its handles.
    tag: [u8; 6],
    /// The back end's root.
    root: fs::Handle,
    /// The back end's static properties.
    info: FsInfo,
}

/// One served export.
#[derive(Debug)]
struct Bound<'a, F> {
    /// The export's path, as written in the table.
    path: &'a str,
    /// Its index in the current table (`None` once a reload dropped it: handles are stale).
    export: Option<usize>,
    /// True when a client entry needs the host name.
    needs_host: bool,
    fs: F,
    mount: Mount,
}

/// The NFSv3 program: up to `X` exports of an exports table with `E` exports and `C` client
/// entries, each served by a back end `F`. See the module docs.
#[derive(Debug)]
pub struct Nfs3Server<'a, F, const X: usize, const E: usize, const C: usize> {
    exports: Exports<'a, E, C>,
    bound: Vec<Bound<'a, F>, X>,
    config: ServerConfig,
    host_names: Option<HostNameFn>,
}

fn needs_host<const E: usize, const C: usize>(t: &Exports<'_, E, C>, export: Option<usize>) -> bool {
    export
        .and_then(|i| t.get(i))
        .is_some_and(|e| e.clients.iter().any(|c| matches!(c.pattern, Pattern::Host(_) | Pattern::Wildcard(_))))
}

impl<'a, F: FileSystem, const X: usize, const E: usize, const C: usize> Nfs3Server<'a, F, X, E, C> {
    /// A server for `exports` that serves nothing until back ends are added.
    pub fn new(exports: Exports<'a, E, C>, config: ServerConfig) -> Self {
        Nfs3Server { exports, bound: Vec::new(), config, host_names: None }
    }

    /// Serves the export whose path is `path` (compared by components) with `fs`; returns its
    /// slot (the order of calls, kept in handles: add exports in the same order at every
    /// start). The back end is handed back on error.
    pub fn add(&mut self, path: &str, fs: F) -> Result<usize, (AddError, F)> {
        let Some(index) = self.exports.find(path) else { return Err((AddError::NoExport, fs)) };
        let Some(path) = self.exports.get(index).map(|e| e.path) else { return Err((AddError::NoExport, fs)) };
        if self.bound.iter().any(|b| components(b.path).eq(components(path))) {
            return Err((AddError::AlreadyAdded, fs));
        }
        let Ok(slot) = u8::try_from(self.bound.len()) else { return Err((AddError::Full, fs)) };
        let root = fs.root();
        let tag = handle::tag(self.config.server_id, path, &root);
        let mount = Mount { slot, tag, root, info: fs.info() };
        let needs_host = needs_host(&self.exports, Some(index));
        let b = Bound { path, export: Some(index), needs_host, fs, mount };
        self.bound.push(b).map(|()| usize::from(slot)).map_err(|b| (AddError::Full, b.fs))
    }

    /// Resolves host names for exports with host-name or wildcard patterns (NFS calls and MNT).
    pub fn set_host_names(&mut self, f: HostNameFn) {
        self.host_names = Some(f);
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The exports table.
    pub fn exports(&self) -> &Exports<'a, E, C> {
        &self.exports
    }

    /// Replaces the exports table (a reload). Served exports are found again by path; one
    /// that is gone answers `NFS3ERR_STALE` until a table has it again.
    pub fn set_exports(&mut self, exports: Exports<'a, E, C>) {
        self.exports = exports;
        for b in &mut self.bound {
            b.export = self.exports.find(b.path);
            b.needs_host = needs_host(&self.exports, b.export);
        }
    }

    /// Number of served exports.
    pub fn len(&self) -> usize {
        self.bound.len()
    }

    /// True when nothing is served.
    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }

    /// The slot of the export served at `path`.
    pub fn slot(&self, path: &str) -> Option<usize> {
        self.bound.iter().position(|b| components(b.path).eq(components(path)))
    }

    /// The back end at `slot`.
    pub fn fs(&self, slot: usize) -> Option<&F> {
        self.bound.get(slot).map(|b| &b.fs)
    }

    /// The back end at `slot`, mutably.
    pub fn fs_mut(&mut self, slot: usize) -> Option<&mut F> {
        self.bound.get_mut(slot).map(|b| &mut b.fs)
    }

    /// The wire handle of the root of the export at `slot` (what MNT hands out for it).
    pub fn root_handle(&self, slot: usize) -> Option<WireHandle> {
        self.bound.get(slot).map(|b| handle::compose(b.mount.slot, b.mount.tag, &b.mount.root))
    }

    /// The wall-clock time of a call that arrived at `now`.
    fn wall_clock(&self, now: Instant) -> fs::Time {
        let us = now.as_micros();
        let boot = self.config.boot_time;
        let ns = (us % 1_000_000) * 1000 + u64::from(boot.nsecs.min(999_999_999));
        let secs = u64::from(boot.secs) + us / 1_000_000 + ns / 1_000_000_000;
        fs::Time { secs: u32::try_from(secs).unwrap_or(u32::MAX), nsecs: (ns % 1_000_000_000) as u32 }
    }

    /// The export and back-end handle a wire handle names.
    fn resolve(&self, fh: &FileHandle<'_>) -> Result<(usize, fs::Handle), NfsStat3> {
        let (slot, tag, h) = handle::split(fh.as_bytes())?;
        if self.bound.get(slot).is_some_and(|b| b.mount.tag == tag) {
            return Ok((slot, h));
        }
        // The slot moved (exports added in another order): find the export by its check bytes.
        let slot = self.bound.iter().position(|b| b.mount.tag == tag).ok_or(NfsStat3::Stale)?;
        Ok((slot, h))
    }

    /// Admits the caller of `ctx` to the export at `slot` and maps its identity.
    fn admit(&mut self, ctx: &CallContext<'_>, slot: usize) -> Result<Req<'_, F>, NfsStat3> {
        let now = self.wall_clock(ctx.now);
        let (cfg, host_names) = (self.config, self.host_names);
        let b = self.bound.get_mut(slot).ok_or(NfsStat3::Stale)?;
        let export = b.export.ok_or(NfsStat3::Stale)?;
        let addr = ctx.peer.addr;
        let mut name = String::new();
        let host = match host_names {
            Some(f) if b.needs_host && f(addr.ip(), &mut name) => Some(name.as_str()),
            _ => None,
        };
        let access: Access = self.exports.admit(export, addr.ip(), addr.port(), host).map_err(refusal_status)?;
        let who = Caller::new(&access, &ctx.cred)?;
        Ok(Req { fs: &mut b.fs, mount: b.mount, who, now, cfg })
    }

    /// Runs `f` on the object `fh` names, or writes a failure with `empty` as its `resfail`
    /// when the handle or the caller is refused. Results that cannot be written (the reply
    /// buffer is full) are `SYSTEM_ERR`.
    fn run<U: Encode>(
        &mut self,
        ctx: &CallContext<'_>,
        fh: FileHandle<'_>,
        out: &mut Writer<'_>,
        empty: U,
        f: impl FnOnce(&mut Req<'_, F>, fs::Handle, &mut Writer<'_>) -> xdr::Result<()>,
    ) -> Result<(), ProcError> {
        let res = self.resolve(&fh).and_then(|(slot, h)| Ok((self.admit(ctx, slot)?, h)));
        match res {
            Ok((mut req, h)) => f(&mut req, h, out),
            Err(stat) => out.write(&NfsRes::<(), U>::Fail(stat, empty)),
        }
        .map_err(|_| ProcError::SystemErr)
    }

    /// [`Nfs3Server::run`] for procedures with two handles (RENAME, LINK): both must name
    /// objects of one export (`NFS3ERR_XDEV` otherwise).
    fn run2<U: Encode>(
        &mut self,
        ctx: &CallContext<'_>,
        (a, b): (FileHandle<'_>, FileHandle<'_>),
        out: &mut Writer<'_>,
        empty: U,
        f: impl FnOnce(&mut Req<'_, F>, fs::Handle, fs::Handle, &mut Writer<'_>) -> xdr::Result<()>,
    ) -> Result<(), ProcError> {
        let res = self.resolve(&a).and_then(|(sa, ha)| {
            let (sb, hb) = self.resolve(&b)?;
            let req = self.admit(ctx, sa)?;
            if sa == sb { Ok((req, ha, hb)) } else { Err(NfsStat3::XDev) }
        });
        match res {
            Ok((mut req, ha, hb)) => f(&mut req, ha, hb, out),
            Err(stat) => out.write(&NfsRes::<(), U>::Fail(stat, empty)),
        }
        .map_err(|_| ProcError::SystemErr)
    }

    /// Runs one decoded call.
    fn dispatch(&mut self, ctx: &CallContext<'_>, args: Args<'_>, out: &mut Writer<'_>) -> Result<(), ProcError> {
        const NO_ATTR: PostOpAttr = None;
        match args {
            Args::Null => Ok(()),
            Args::Getattr(a) => self.run(ctx, a.object, out, (), attr::getattr),
            Args::Setattr(a) => self.run(ctx, a.object, out, NO_WCC, |r, h, o| attr::setattr(r, h, &a, o)),
            Args::Lookup(a) => self.run(ctx, a.what.dir, out, NO_ATTR, |r, h, o| dirop::lookup(r, h, a.what.name, o)),
            Args::Access(a) => self.run(ctx, a.object, out, NO_ATTR, |r, h, o| attr::access(r, h, a.access, o)),
            Args::Readlink(a) => self.run(ctx, a.symlink, out, NO_ATTR, io::readlink),
            Args::Read(a) => self.run(ctx, a.file, out, NO_ATTR, |r, h, o| io::read(r, h, &a, o)),
            Args::Write(a) => {
                if matches!(a.stable, StableHow::Unknown(_)) {
                    return Err(ProcError::GarbageArgs);
                }
                self.run(ctx, a.file, out, NO_WCC, |r, h, o| io::write(r, h, &a, o))
            }
            Args::Create(a) => self.run(ctx, a.where_.dir, out, NO_WCC, |r, h, o| create::create(r, h, &a, o)),
            Args::Mkdir(a) => self.run(ctx, a.where_.dir, out, NO_WCC, |r, h, o| create::mkdir(r, h, &a, o)),
            Args::Symlink(a) => self.run(ctx, a.where_.dir, out, NO_WCC, |r, h, o| create::symlink(r, h, &a, o)),
            Args::Mknod(a) => self.run(ctx, a.where_.dir, out, NO_WCC, |r, h, o| create::mknod(r, h, &a, o)),
            Args::Remove(a) => {
                self.run(ctx, a.object.dir, out, NO_WCC, |r, h, o| dirop::remove(r, h, a.object.name, false, o))
            }
            Args::Rmdir(a) => {
                self.run(ctx, a.object.dir, out, NO_WCC, |r, h, o| dirop::remove(r, h, a.object.name, true, o))
            }
            Args::Rename(a) => {
                let empty = RenameWcc { fromdir_wcc: NO_WCC, todir_wcc: NO_WCC };
                self.run2(ctx, (a.from.dir, a.to.dir), out, empty, |r, f, t, o| dirop::rename(r, f, t, &a, o))
            }
            Args::Link(a) => {
                let empty = super::LinkWcc { file_attributes: None, linkdir_wcc: NO_WCC };
                self.run2(ctx, (a.file, a.link.dir), out, empty, |r, f, d, o| dirop::link(r, f, d, a.link.name, o))
            }
            Args::Readdir(a) => self.run(ctx, a.dir, out, NO_ATTR, |r, h, o| readdir::readdir(r, h, &a, o)),
            Args::Readdirplus(a) => self.run(ctx, a.dir, out, NO_ATTR, |r, h, o| readdir::readdirplus(r, h, &a, o)),
            Args::Fsstat(a) => self.run(ctx, a.fsroot, out, NO_ATTR, fsinfo::fsstat),
            Args::Fsinfo(a) => self.run(ctx, a.fsroot, out, NO_ATTR, fsinfo::fsinfo),
            Args::Pathconf(a) => self.run(ctx, a.object, out, NO_ATTR, fsinfo::pathconf),
            Args::Commit(a) => self.run(ctx, a.file, out, NO_WCC, |r, h, o| io::commit(r, h, &a, o)),
        }
    }
}

impl<F: FileSystem, const X: usize, const E: usize, const C: usize> Program for Nfs3Server<'_, F, X, E, C> {
    fn program(&self) -> u32 {
        super::PROGRAM
    }

    fn versions(&self) -> (u32, u32) {
        (VERSION, VERSION)
    }

    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        let mut r = Reader::new(args);
        let args = match Args::decode(ctx.proc_, &mut r, &DECODE_LIMITS) {
            None => return Err(ProcError::ProcUnavail),
            Some(Err(_)) => return Err(ProcError::GarbageArgs),
            Some(Ok(a)) => a,
        };
        r.finish().map_err(|_| ProcError::GarbageArgs)?;
        self.dispatch(ctx, args, out)
    }
}

impl<F, const X: usize, const E: usize, const C: usize> NonIdempotent for Nfs3Server<'_, F, X, E, C> {
    /// SETATTR, WRITE, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME and LINK of
    /// version 3.
    fn non_idempotent(&self, vers: u32, proc_: u32) -> bool {
        vers == VERSION
            && matches!(
                proc_,
                procs::SETATTR
                    | procs::WRITE
                    | procs::CREATE
                    | procs::MKDIR
                    | procs::SYMLINK
                    | procs::MKNOD
                    | procs::REMOVE
                    | procs::RMDIR
                    | procs::RENAME
                    | procs::LINK
            )
    }
}
