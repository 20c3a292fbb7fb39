//! [`Session`]: one mounted export of one server, with a blocking method per NFSv3 procedure.
//!
//! Opening a session: the host is resolved; the NFS and MOUNT ports come from the URL, or from
//! the server's portmapper (GETPORT over UDP) for those not given; the export is found with
//! MOUNT EXPORT (the longest exported path that holds the URL's path; when EXPORT is refused,
//! MNT is tried on the path and its parents); MNT gives the root handle and records the mount
//! in the client's [`MountTable`]; FSINFO gives the READ and WRITE sizes. [`Session::unmount`]
//! sends UMNT (dropping a session does too, best effort).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;

use tern_core::mount;
use tern_core::nfs3::client::{self as cc, Fh, IoSizes, ListCursor, MountTable, Semantics, Timeouts};
use tern_core::nfs3::{
    self, AccessArgs, CommitArgs, CreateArgs, CreateHow3, DirOpArgs3, EntryPlus3, Fattr3, Filename, FsinfoArgs,
    FsinfoResOk, FsstatArgs, FsstatResOk, GetattrArgs, Limits, LinkArgs, LookupArgs, MkdirArgs, NfsPath, NfsRes,
    PathconfArgs, PathconfResOk, ReadArgs, ReadlinkArgs, RemoveArgs, RenameArgs, RmdirArgs, Sattr3, SetattrArgs,
    StableHow, SymlinkArgs, SymlinkData3, Verifier, WriteArgs,
};
use tern_core::rpc::portmap::{self, IPPROTO_TCP, IPPROTO_UDP};

use super::conn::{Conn, Proto};
use super::{NfsError, NfsUrl};
use crate::client::{AuthSysParams, RpcClient};

/// How a session talks to its server.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Transport for NFS and MOUNT.
    pub proto: Proto,
    /// Hard (retry until the server answers) or soft (give up after the time-out).
    pub semantics: Semantics,
    /// Retransmission timing (`None`: the transport's defaults).
    pub timeouts: Option<Timeouts>,
    /// READs or WRITEs in flight during a streaming transfer.
    pub window: usize,
    /// Largest READ and WRITE asked for (FSINFO may lower it).
    pub max_io: u32,
    /// AUTH_SYS uid.
    pub uid: u32,
    /// AUTH_SYS gid.
    pub gid: u32,
    /// AUTH_SYS machine name.
    pub machine_name: String,
}

impl Default for SessionOptions {
    /// TCP, hard, 4 in flight, 1 MiB transfers, the caller's uid and gid.
    fn default() -> Self {
        let (uid, gid) = std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((65534, 65534));
        let machine_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().chars().take(255).collect())
            .unwrap_or_else(|_| "tern".into());
        SessionOptions {
            proto: Proto::Tcp,
            semantics: Semantics::Hard,
            timeouts: None,
            window: 4,
            max_io: 1024 * 1024,
            uid,
            gid,
            machine_name,
        }
    }
}

impl SessionOptions {
    fn timeouts(&self) -> Timeouts {
        self.timeouts.unwrap_or(match self.proto {
            Proto::Tcp => Timeouts::stream(),
            Proto::Udp => Timeouts::datagram(),
        })
    }

    /// MOUNT calls are always soft: a soft session's own time-out, else [`short`]'s.
    fn mount_timeouts(&self) -> Timeouts {
        match self.semantics {
            Semantics::Soft => self.timeouts(),
            Semantics::Hard => short(self.proto),
        }
    }

    fn auth(&self) -> AuthSysParams {
        AuthSysParams { machine_name: self.machine_name.clone(), uid: self.uid, gid: self.gid, gids: vec![] }
    }
}

/// What [`Session::list`] hands out per entry: name, attributes and handle (when sent).
pub type ListFn<'a> = dyn FnMut(&str, Option<&Fattr3>, Option<Fh>) + 'a;

/// One READDIR page: the entries (file id, name, cookie), the cookie verifier, `eof`.
pub type ReaddirPage = (Vec<(u64, Vec<u8>, u64)>, Verifier, bool);

/// A mounted export; see the module docs.
pub struct Session {
    pub(super) nfs: Conn,
    mount_addr: SocketAddr,
    mounts: MountTable<4, 1024>,
    export: String,
    root: Fh,
    pub(super) sizes: IoSizes,
    pub(super) limits: Limits,
    pub(super) window: usize,
    opts: SessionOptions,
    info: FsinfoResOk,
}

fn resolve(host: &str) -> Result<IpAddr, NfsError> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| NfsError::Unreachable(format!("{host}: {e}")))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| NfsError::Unreachable(format!("{host}: no address")))
}

fn getport(ip: IpAddr, prog: u32, proto: Proto) -> Result<u16, NfsError> {
    let unreachable = |e: &dyn std::fmt::Display| NfsError::Unreachable(format!("portmapper of {ip}: {e}"));
    let mut c = RpcClient::udp(SocketAddr::new(ip, portmap::PORT)).map_err(|e| unreachable(&e))?;
    let prot = if proto == Proto::Tcp { IPPROTO_TCP } else { IPPROTO_UDP };
    let port = crate::portmap::getport(&mut c, prog, 3, prot).map_err(|e| unreachable(&e))?;
    match u16::try_from(port) {
        Ok(0) | Err(_) => Err(NfsError::Unreachable(format!("program {prog} version 3 is not registered on {ip}"))),
        Ok(p) => Ok(p),
    }
}

/// Does `export` hold `path` (compared by components)? Returns the rest of the path.
fn under<'p>(export: &str, path: &'p str) -> Option<&'p str> {
    let e: Vec<&str> = export.split('/').filter(|c| !c.is_empty()).collect();
    let mut rest = path;
    for comp in e {
        rest = rest.trim_start_matches('/');
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if head != comp {
            return None;
        }
        rest = tail;
    }
    Some(rest.trim_start_matches('/'))
}

/// The exports of the server at `host` (MOUNT EXPORT): each path with the client patterns
/// allowed to mount it. `mountport` skips the portmapper.
pub fn export_list(host: &str, mountport: Option<u16>, proto: Proto) -> Result<Vec<(String, Vec<String>)>, NfsError> {
    let ip = resolve(host)?;
    let port = match mountport {
        Some(p) => p,
        None => getport(ip, mount::PROGRAM, proto)?,
    };
    let mut c = Conn::open(SocketAddr::new(ip, port), proto, Semantics::Soft, short(proto), 1 << 20, true)?;
    let res = c.call(|c, now, _, buf| Ok(mount::client::export(c, now, buf)?))?;
    let list = mount::client::decode_export(&res)?;
    Ok(list
        .iter()
        .map(|e| {
            let dir = String::from_utf8_lossy(e.dir.as_bytes()).into_owned();
            (dir, e.groups.iter().map(|g| String::from_utf8_lossy(g.as_bytes()).into_owned()).collect())
        })
        .collect())
}

/// Short soft timeouts for the MOUNT calls of opening a session.
fn short(proto: Proto) -> Timeouts {
    let t = match proto {
        Proto::Tcp => Timeouts::stream(),
        Proto::Udp => Timeouts::datagram(),
    };
    Timeouts {
        initial: tern_core::time::Duration::from_secs(5),
        retries: 2,
        give_up: tern_core::time::Duration::from_secs(10),
        ..t
    }
}

impl Session {
    /// Opens a session for `url`; returns it with the URL's path relative to the export.
    pub fn open_url(url: &NfsUrl, mut opts: SessionOptions) -> Result<(Session, String), NfsError> {
        opts.uid = url.uid.unwrap_or(opts.uid);
        opts.gid = url.gid.unwrap_or(opts.gid);
        let ip = resolve(&url.host)?;
        let nfs_port = match url.nfsport {
            Some(p) => p,
            None => getport(ip, nfs3::PROGRAM, opts.proto)?,
        };
        let mount_port = match url.mountport {
            Some(p) => p,
            None => getport(ip, mount::PROGRAM, opts.proto)?,
        };
        let mount_addr = SocketAddr::new(ip, mount_port);
        let mut mconn = Conn::open(mount_addr, opts.proto, Semantics::Soft, opts.mount_timeouts(), 1 << 20, true)?;
        mconn.set_auth(Some(opts.auth()));
        let candidates = match mconn.call(|c, now, _, buf| Ok(mount::client::export(c, now, buf)?)) {
            Ok(res) => {
                let list = mount::client::decode_export(&res)?;
                let mut held: Vec<String> = list
                    .iter()
                    .map(|e| String::from_utf8_lossy(e.dir.as_bytes()).into_owned())
                    .filter(|e| under(e, &url.path).is_some())
                    .collect();
                held.sort_by_key(|e| std::cmp::Reverse(e.split('/').filter(|c| !c.is_empty()).count()));
                if held.is_empty() {
                    return Err(NfsError::NoExport(url.path.clone()));
                }
                held
            }
            // EXPORT refused: try the path and each parent.
            Err(NfsError::Refused(_)) => {
                let mut p = url.path.clone();
                let mut v = vec![p.clone()];
                while let Some(i) = p.rfind('/') {
                    p.truncate(i);
                    v.push(if p.is_empty() { "/".into() } else { p.clone() });
                    if p.is_empty() {
                        break;
                    }
                }
                v
            }
            Err(e) => return Err(e),
        };
        let mut mounts = MountTable::new();
        let mut last = NfsError::NoExport(url.path.clone());
        let mut found = None;
        for export in candidates {
            let res = mconn.call(|c, now, cred, buf| mounts.mnt(c, now, cred, &export, buf))?;
            match mounts.mounted(&export, &res) {
                Ok(root) => {
                    found = Some((export, root));
                    break;
                }
                Err(cc::Error::Mount(status)) => last = NfsError::Mount { status, path: export.clone() },
                Err(e) => return Err(e.into()),
            }
        }
        let (export, root) = found.ok_or(last)?;
        let rest = under(&export, &url.path).unwrap_or("").to_string();
        let timeouts = opts.timeouts();
        let max_record = opts.max_io as usize + 64 * 1024;
        let mut nfs =
            Conn::open(SocketAddr::new(ip, nfs_port), opts.proto, opts.semantics, timeouts, max_record, true)?;
        nfs.set_auth(Some(opts.auth()));
        let limits = Limits { max_data: opts.max_io.max(4096), ..Limits::default() };
        let res =
            nfs.call(|c, now, cred, buf| Ok(cc::fsinfo(c, now, cred, &FsinfoArgs { fsroot: root.wire() }, buf)?))?;
        let info = match cc::decode_fsinfo(&res, &limits)? {
            NfsRes::Ok(i) => i,
            NfsRes::Fail(s, _) => return Err(NfsError::Status(s)),
        };
        // UDP: a datagram holds at most 64 KiB.
        let cap = if opts.proto == Proto::Udp { opts.max_io.min(32 * 1024) } else { opts.max_io };
        let sizes = IoSizes::from_fsinfo(&info, cap, &limits);
        nfs.reserve(sizes.wsize as usize + 1024);
        let window = opts.window.clamp(1, super::MAX_INFLIGHT);
        let s = Session { nfs, mount_addr, mounts, export, root, sizes, limits, window, opts, info };
        Ok((s, rest))
    }

    /// The export's root handle.
    pub fn root(&self) -> Fh {
        self.root
    }

    /// The export's path.
    pub fn export(&self) -> &str {
        &self.export
    }

    /// READ and WRITE sizes in use.
    pub fn io_sizes(&self) -> IoSizes {
        self.sizes
    }

    /// FSINFO of the export's root, as read at open.
    pub fn fsinfo(&self) -> &FsinfoResOk {
        &self.info
    }

    /// The options the session was opened with.
    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }

    /// Reconnects of the NFS connection so far.
    pub fn reconnects(&self) -> u32 {
        self.nfs.reconnects
    }

    /// UMNT of the export (the server's mount list forgets this client's entry).
    pub fn unmount(&mut self) -> Result<(), NfsError> {
        let Some(path) = self.mounts.first().map(str::to_string) else { return Ok(()) };
        let mut m =
            Conn::open(self.mount_addr, self.opts.proto, Semantics::Soft, short(self.opts.proto), 1 << 16, true)?;
        m.set_auth(Some(self.opts.auth()));
        let mounts = &mut self.mounts;
        let res = m.call(|c, now, cred, buf| mounts.umnt(c, now, cred, &path, buf))?;
        mount::client::decode_void(&res)?;
        Ok(())
    }

    fn ok<T, F>(r: NfsRes<T, F>) -> Result<T, NfsError> {
        match r {
            NfsRes::Ok(t) => Ok(t),
            NfsRes::Fail(s, _) => Err(NfsError::Status(s)),
        }
    }

    /// GETATTR.
    pub fn getattr(&mut self, fh: &Fh) -> Result<Fattr3, NfsError> {
        let args = GetattrArgs { object: fh.wire() };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::getattr(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_getattr(&res, &self.limits)?)
    }

    /// SETATTR (no guard); the attributes after.
    pub fn setattr(&mut self, fh: &Fh, set: Sattr3) -> Result<Option<Fattr3>, NfsError> {
        let args = SetattrArgs { object: fh.wire(), new_attributes: set, guard: None };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::setattr(c, now, cred, &args, buf)?))?;
        Ok(Self::ok(cc::decode_setattr(&res, &self.limits)?)?.after)
    }

    /// LOOKUP: the handle and, when the server sent them, the attributes.
    pub fn lookup(&mut self, dir: &Fh, name: &str) -> Result<(Fh, Option<Fattr3>), NfsError> {
        let args = LookupArgs { what: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) } };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::lookup(c, now, cred, &args, buf)?))?;
        let ok = Self::ok(cc::decode_lookup(&res, &self.limits)?)?;
        let fh = Fh::new(ok.object.as_bytes()).ok_or_else(|| NfsError::Protocol("handle above 64 bytes".into()))?;
        Ok((fh, ok.obj_attributes))
    }

    /// Walks `path` (relative to the export root, `/`-separated) with LOOKUPs; the handle and
    /// attributes of what it names.
    pub fn walk(&mut self, path: &str) -> Result<(Fh, Fattr3), NfsError> {
        let mut fh = self.root;
        let mut attr = None;
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            let (h, a) = self.lookup(&fh, comp)?;
            fh = h;
            attr = a;
        }
        let attr = match attr {
            Some(a) => a,
            None => self.getattr(&fh)?,
        };
        Ok((fh, attr))
    }

    /// ACCESS: the granted bits of `bits`.
    pub fn access(&mut self, fh: &Fh, bits: u32) -> Result<u32, NfsError> {
        let args = AccessArgs { object: fh.wire(), access: bits };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::access(c, now, cred, &args, buf)?))?;
        Ok(Self::ok(cc::decode_access(&res, &self.limits)?)?.access)
    }

    /// READLINK: the target.
    pub fn readlink(&mut self, fh: &Fh) -> Result<Vec<u8>, NfsError> {
        let args = ReadlinkArgs { symlink: fh.wire() };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::readlink(c, now, cred, &args, buf)?))?;
        Ok(Self::ok(cc::decode_readlink(&res, &self.limits)?)?.data.as_bytes().to_vec())
    }

    /// One READ: the data and whether it ends at the end of the file.
    pub fn read(&mut self, fh: &Fh, offset: u64, count: u32) -> Result<(Vec<u8>, bool), NfsError> {
        let args = ReadArgs { file: fh.wire(), offset, count };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::read(c, now, cred, &args, buf)?))?;
        let ok = Self::ok(cc::decode_read(&res, &self.limits)?)?;
        Ok((ok.data.to_vec(), ok.eof))
    }

    /// One WRITE: bytes written, how stable, and the verifier.
    pub fn write(
        &mut self,
        fh: &Fh,
        offset: u64,
        data: &[u8],
        stable: StableHow,
    ) -> Result<(u32, StableHow, Verifier), NfsError> {
        self.nfs.reserve(data.len() + 1024);
        let args = WriteArgs { file: fh.wire(), offset, stable, data };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::write(c, now, cred, &args, buf)?))?;
        let ok = Self::ok(cc::decode_write(&res, &self.limits)?)?;
        Ok((ok.count, ok.committed, ok.verf))
    }

    /// COMMIT: the verifier.
    pub fn commit(&mut self, fh: &Fh, offset: u64, count: u32) -> Result<Verifier, NfsError> {
        let args = CommitArgs { file: fh.wire(), offset, count };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::commit(c, now, cred, &args, buf)?))?;
        Ok(Self::ok(cc::decode_commit(&res, &self.limits)?)?.verf)
    }

    fn made(&mut self, res: &[u8], dir: &Fh, name: &str) -> Result<Fh, NfsError> {
        let ok = Self::ok(cc::decode_create(res, &self.limits)?)?;
        match ok.obj {
            Some(h) => Fh::new(h.as_bytes()).ok_or_else(|| NfsError::Protocol("handle above 64 bytes".into())),
            None => Ok(self.lookup(dir, name)?.0),
        }
    }

    /// CREATE; the new file's handle.
    pub fn create(&mut self, dir: &Fh, name: &str, how: CreateHow3) -> Result<Fh, NfsError> {
        let args = CreateArgs { where_: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) }, how };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::create(c, now, cred, &args, buf)?))?;
        self.made(&res, dir, name)
    }

    /// MKDIR; the new directory's handle.
    pub fn mkdir(&mut self, dir: &Fh, name: &str, attrs: Sattr3) -> Result<Fh, NfsError> {
        let args =
            MkdirArgs { where_: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) }, attributes: attrs };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::mkdir(c, now, cred, &args, buf)?))?;
        self.made(&res, dir, name)
    }

    /// SYMLINK; the new link's handle.
    pub fn symlink(&mut self, dir: &Fh, name: &str, target: &[u8], attrs: Sattr3) -> Result<Fh, NfsError> {
        let symlink = SymlinkData3 { symlink_attributes: attrs, symlink_data: NfsPath::new(target) };
        let args = SymlinkArgs { where_: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) }, symlink };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::symlink(c, now, cred, &args, buf)?))?;
        self.made(&res, dir, name)
    }

    /// MKNOD; the new node's handle.
    pub fn mknod(&mut self, dir: &Fh, name: &str, what: nfs3::MknodData3) -> Result<Fh, NfsError> {
        let args = nfs3::MknodArgs { where_: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) }, what };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::mknod(c, now, cred, &args, buf)?))?;
        self.made(&res, dir, name)
    }

    /// REMOVE.
    pub fn remove(&mut self, dir: &Fh, name: &str) -> Result<(), NfsError> {
        let args = RemoveArgs { object: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) } };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::remove(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_remove(&res, &self.limits)?).map(|_| ())
    }

    /// RMDIR.
    pub fn rmdir(&mut self, dir: &Fh, name: &str) -> Result<(), NfsError> {
        let args = RmdirArgs { object: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) } };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::rmdir(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_rmdir(&res, &self.limits)?).map(|_| ())
    }

    /// RENAME.
    pub fn rename(&mut self, from_dir: &Fh, from: &str, to_dir: &Fh, to: &str) -> Result<(), NfsError> {
        let args = RenameArgs {
            from: DirOpArgs3 { dir: from_dir.wire(), name: Filename::from_str(from) },
            to: DirOpArgs3 { dir: to_dir.wire(), name: Filename::from_str(to) },
        };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::rename(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_rename(&res, &self.limits)?).map(|_| ())
    }

    /// LINK.
    pub fn link(&mut self, file: &Fh, dir: &Fh, name: &str) -> Result<(), NfsError> {
        let args = LinkArgs { file: file.wire(), link: DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) } };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::link(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_link(&res, &self.limits)?).map(|_| ())
    }

    /// Bytes asked for per READDIR(PLUS) page: the server's preference, at least 128 KiB
    /// (fewer round trips and less work per entry; a server sends less when it wants to:
    /// tern serve caps pages at 64 KiB, ganesha fills up to 1 MiB).
    fn page_size(&self) -> u32 {
        self.sizes.dtsize.max(128 * 1024).min(self.limits.max_data)
    }

    /// Lists `dir` with READDIRPLUS, calling `each` per entry (`.` and `..` included) with
    /// its name, attributes and handle when the server sent them.
    pub fn list(&mut self, dir: &Fh, each: &mut ListFn<'_>) -> Result<(), NfsError> {
        let mut cur = ListCursor::new(*dir);
        let maxcount = self.page_size();
        while !cur.is_done() {
            let args = cur.readdirplus_args(maxcount / 2, maxcount);
            let res = self.nfs.call_ref(|c, now, cred, buf| Ok(cc::readdirplus(c, now, cred, &args, buf)?))?;
            let page = Self::ok(cc::decode_readdirplus(res, &self.limits)?)?;
            let mut last = None;
            for e in page.entries.iter() {
                let e: EntryPlus3<'_> = e;
                let name = String::from_utf8_lossy(e.name.as_bytes());
                each(&name, e.name_attributes.as_ref(), e.name_handle.and_then(|h| Fh::new(h.as_bytes())));
                last = Some(e.cookie);
            }
            cur.advance(last, page.cookieverf, page.eof)?;
        }
        Ok(())
    }

    /// Lists the names in `dir` with READDIR (no attributes: smaller pages, and no work per
    /// entry on the server beyond reading the directory), calling `each` per name (`.` and
    /// `..` included) with the entry's file id.
    pub fn list_names(&mut self, dir: &Fh, each: &mut dyn FnMut(&[u8], u64)) -> Result<(), NfsError> {
        let mut cur = ListCursor::new(*dir);
        let count = self.page_size();
        while !cur.is_done() {
            let args = cur.readdir_args(count);
            let res = self.nfs.call_ref(|c, now, cred, buf| Ok(cc::readdir(c, now, cred, &args, buf)?))?;
            let page = Self::ok(cc::decode_readdir(res, &self.limits)?)?;
            let mut last = None;
            for e in page.entries.iter() {
                each(e.name.as_bytes(), e.fileid);
                last = Some(e.cookie);
            }
            cur.advance(last, page.cookieverf, page.eof)?;
        }
        Ok(())
    }

    /// One READDIR page from `cookie`: the entries (file id, name, cookie), the verifier and
    /// `eof`.
    pub fn readdir_page(&mut self, dir: &Fh, cookie: u64, verf: Verifier, count: u32) -> Result<ReaddirPage, NfsError> {
        let args = nfs3::ReaddirArgs { dir: dir.wire(), cookie, cookieverf: verf, count };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::readdir(c, now, cred, &args, buf)?))?;
        let page = Self::ok(cc::decode_readdir(&res, &self.limits)?)?;
        let entries = page.entries.iter().map(|e| (e.fileid, e.name.as_bytes().to_vec(), e.cookie)).collect();
        Ok((entries, page.cookieverf, page.eof))
    }

    /// FSSTAT.
    pub fn fsstat(&mut self, fh: &Fh) -> Result<FsstatResOk, NfsError> {
        let args = FsstatArgs { fsroot: fh.wire() };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::fsstat(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_fsstat(&res, &self.limits)?)
    }

    /// PATHCONF.
    pub fn pathconf(&mut self, fh: &Fh) -> Result<PathconfResOk, NfsError> {
        let args = PathconfArgs { object: fh.wire() };
        let res = self.nfs.call(|c, now, cred, buf| Ok(cc::pathconf(c, now, cred, &args, buf)?))?;
        Self::ok(cc::decode_pathconf(&res, &self.limits)?)
    }

    /// NULL.
    pub fn null(&mut self) -> Result<(), NfsError> {
        let res = self.nfs.call(|c, now, _, buf| Ok(cc::null(c, now, buf)?))?;
        cc::decode_null(&res)?;
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.mounts.is_empty()
            && let Err(e) = self.unmount()
        {
            tracing::debug!("UMNT of {}: {e}", self.export);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn export_prefixes() {
        assert_eq!(under("/srv", "/srv/a/b"), Some("a/b"));
        assert_eq!(under("/srv/", "/srv"), Some(""));
        assert_eq!(under("/", "/x"), Some("x"));
        assert_eq!(under("/srv", "/srvx/a"), None);
        assert_eq!(under("/a/b", "/a"), None);
    }
}
