//! A small synchronous NFSv3 and MOUNT v3 client for the tests, `tern serve` as a child process,
//! and raw record exchanges (for duplicate request cache and malformed-call checks).
//!
//! [`NfsClient`] talks over [`RpcClient`] (TCP or UDP), or over a UDP socket bound to a chosen
//! local address ([`NfsClient::udp_from`], so that a test can call from 127.0.0.2), with
//! AUTH_SYS (uid and gid configurable) or AUTH_NONE. It has one method per NFS procedure and per
//! MOUNT procedure; results are the core's result types, or owned copies of those that borrow.

use std::fmt::Debug;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tern_core::mount::{self, MountRes3, MountStat};
use tern_core::nfs3::{
    self, AccessArgs, AccessRes, CommitArgs, CommitRes, CreateArgs, CreateHow3, CreateRes, DecodeWith, DirOpArgs3,
    FileHandle, Filename, FsinfoArgs, FsinfoRes, FsstatArgs, FsstatRes, GetattrArgs, GetattrRes, Limits, LinkArgs,
    LinkRes, LookupArgs, LookupRes, MkdirArgs, MknodArgs, MknodData3, NfsPath, NfsRes, NfsStat3, PathconfArgs,
    PathconfRes, PostOpAttr, ReadArgs, ReadRes, ReaddirArgs, ReaddirRes, ReaddirplusArgs, ReaddirplusRes, ReadlinkArgs,
    ReadlinkRes, RemoveArgs, RemoveRes, RenameArgs, RenameRes, RmdirArgs, RmdirRes, Sattr3, SetattrArgs, SetattrGuard,
    SetattrRes, StableHow, SymlinkArgs, SymlinkData3, Verifier, WccData, WriteArgs, WriteRes, decode_exact_with, procs,
};
use tern_core::rpc::client::{CallFailure, Client, ClientConfig};
use tern_core::rpc::{AcceptStat, AuthFlavor, AuthSys, Credential, Gids, Message, RecordReader, ReplyBody};
use tern_core::time;
use tern_core::xdr::{self, Encode, Writer, XdrStr};
use tern_std::client::{AuthSysParams, RpcClient, RpcError};

use crate::{free_port, local, tern_bin, wait_until};

/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// NFS program number.
pub const NFS: u32 = nfs3::PROGRAM;
/// MOUNT program number.
pub const MOUNT: u32 = mount::PROGRAM;

/// Argument bytes encoded by hand (a malformed call, or one built elsewhere).
#[derive(Debug, Clone, Copy)]
pub struct RawArgs<'a>(pub &'a [u8]);

impl Encode for RawArgs<'_> {
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_bytes(self.0)
    }
}

/// AUTH_SYS parameters for `uid` and `gid`, without supplementary groups.
pub fn auth_sys(uid: u32, gid: u32) -> AuthSysParams {
    AuthSysParams { machine_name: "tern-tests".into(), uid, gid, gids: vec![] }
}

/// Encodes `args` into bytes (for [`RawArgs`] and raw calls).
pub fn encode<A: Encode + ?Sized>(args: &A) -> Vec<u8> {
    let mut buf = vec![0u8; args.encoded_len()];
    let n = xdr::encode_to(args, &mut buf).expect("encode");
    buf.truncate(n);
    buf
}

fn xid_seed() -> u32 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (t.subsec_nanos() ^ std::process::id().rotate_left(16)).wrapping_add(COUNTER.fetch_add(1 << 20, Ordering::Relaxed))
}

/// Encodes one call message (no record mark) with the next xid of `core`: (xid, bytes).
fn encode_call<A: Encode + ?Sized>(
    core: &mut Client<1>,
    auth: Option<&AuthSysParams>,
    (prog, vers, proc_): (u32, u32, u32),
    args: &A,
) -> Result<(u32, Vec<u8>), RpcError> {
    let mut buf = vec![0u8; 1024 + args.encoded_len()];
    let now = time::Instant::from_micros(0);
    let (xid, len) = match auth {
        None => core.call(now, prog, vers, proc_, &Credential::None, args, &mut buf)?,
        Some(a) => {
            let sys = AuthSys {
                stamp: 0,
                machine_name: XdrStr::new(&a.machine_name)?,
                uid: a.uid,
                gid: a.gid,
                gids: Gids::Slice(&a.gids),
            };
            core.call(now, prog, vers, proc_, &Credential::Sys(sys), args, &mut buf)?
        }
    };
    core.cancel(xid);
    buf.truncate(len);
    Ok((xid, buf))
}

/// The xid of a reply message and its outcome: the result bytes, or how the call was refused.
/// `None` for anything that is not a well-formed reply.
pub fn parse_reply(msg: &[u8]) -> Option<(u32, Result<&[u8], CallFailure>)> {
    match Message::decode(msg) {
        Ok(Message::Reply(h, rest)) => Some((
            h.xid,
            match h.body {
                ReplyBody::Accepted { stat: AcceptStat::Success, .. } => Ok(rest),
                ReplyBody::Accepted { stat, .. } => Err(CallFailure::Accepted(stat)),
                ReplyBody::Denied(why) => Err(CallFailure::Denied(why)),
            },
        )),
        _ => None,
    }
}

/// True when `e` is the server's `GARBAGE_ARGS`.
pub fn is_garbage_args(e: &RpcError) -> bool {
    matches!(e, RpcError::Refused(CallFailure::Accepted(AcceptStat::GarbageArgs)))
}

/// A UDP socket bound to a chosen local address.
struct BoundUdp {
    sock: UdpSocket,
    core: Client<1>,
    buf: Vec<u8>,
}

impl BoundUdp {
    fn call<A: Encode + ?Sized>(
        &mut self,
        auth: Option<&AuthSysParams>,
        call: (u32, u32, u32),
        args: &A,
    ) -> Result<Vec<u8>, RpcError> {
        let (xid, msg) = encode_call(&mut self.core, auth, call, args)?;
        for attempt in 0..6u32 {
            self.sock.send(&msg)?;
            let until = Instant::now() + Duration::from_millis(500 << attempt.min(3));
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.sock.set_read_timeout(Some(left))?;
                match self.sock.recv(&mut self.buf) {
                    Ok(n) => match parse_reply(&self.buf[..n]) {
                        Some((x, res)) if x == xid => return res.map(<[u8]>::to_vec).map_err(RpcError::Refused),
                        _ => continue,
                    },
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(RpcError::Timeout)
    }
}

enum Link {
    Rpc(RpcClient),
    Bound(BoundUdp),
}

/// LOOKUP's `resok`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupOk {
    /// The object's handle.
    pub object: Vec<u8>,
    /// Its attributes.
    pub obj_attributes: PostOpAttr,
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
}

/// The `resok` of CREATE, MKDIR, SYMLINK and MKNOD, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The new object's handle.
    pub obj: Option<Vec<u8>>,
    /// Its attributes.
    pub obj_attributes: PostOpAttr,
    /// The directory's WCC data.
    pub dir_wcc: WccData,
}

impl Created {
    /// The new object's handle; panics when the server sent none.
    #[track_caller]
    pub fn fh(&self) -> Vec<u8> {
        self.obj.clone().expect("the server sent no handle for the new object")
    }
}

/// READLINK's `resok`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadlinkOk {
    /// The link's attributes.
    pub symlink_attributes: PostOpAttr,
    /// The target.
    pub data: Vec<u8>,
}

/// READ's `resok`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOk {
    /// The file's attributes.
    pub file_attributes: PostOpAttr,
    /// End of file reached.
    pub eof: bool,
    /// The data.
    pub data: Vec<u8>,
}

/// One READDIR or READDIRPLUS entry, owned (attributes and handle only from READDIRPLUS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// File number.
    pub fileid: u64,
    /// Name.
    pub name: Vec<u8>,
    /// Cookie to resume after this entry.
    pub cookie: u64,
    /// Attributes (READDIRPLUS).
    pub attributes: PostOpAttr,
    /// Handle (READDIRPLUS).
    pub handle: Option<Vec<u8>>,
}

impl DirEntry {
    /// The name as text.
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// The `resok` of READDIR and READDIRPLUS, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirPage {
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
    /// Cookie verifier.
    pub cookieverf: Verifier,
    /// Entries.
    pub entries: Vec<DirEntry>,
    /// The last entry is the directory's last.
    pub eof: bool,
}

/// A successful MNT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    /// The directory's handle.
    pub fhandle: Vec<u8>,
    /// Accepted flavors.
    pub auth_flavors: Vec<AuthFlavor>,
}

/// One page of a listing by [`NfsClient::list_dir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    /// 0 for the first page.
    pub index: usize,
    /// Entries in the page.
    pub entries: usize,
    /// Bytes of the result (from the `nfsstat3` word to `eof`).
    pub result_len: usize,
    /// What the entries cost against a READDIRPLUS `dircount`: each its `fileid`, `name` and
    /// `cookie` (RFC 1813; the server's documented way of counting).
    pub dircount_used: usize,
    /// The last page.
    pub eof: bool,
}

/// How a directory is listed by [`NfsClient::list_dir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// READDIR with this `count`.
    Readdir(u32),
    /// READDIRPLUS with this `dircount` and `maxcount`.
    Plus(u32, u32),
}

fn map_ok<T, U, F>(r: NfsRes<T, F>, f: impl FnOnce(T) -> U) -> NfsRes<U, F> {
    match r {
        NfsRes::Ok(t) => NfsRes::Ok(f(t)),
        NfsRes::Fail(s, e) => NfsRes::Fail(s, e),
    }
}

#[track_caller]
fn fh(bytes: &[u8]) -> FileHandle<'_> {
    FileHandle::new(bytes).expect("a handle of at most 64 bytes")
}

fn dirop<'a>(dir: &'a [u8], name: &'a str) -> DirOpArgs3<'a> {
    DirOpArgs3 { dir: fh(dir), name: Filename::from_str(name) }
}

fn created(r: CreateRes<'_>) -> NfsRes<Created, WccData> {
    map_ok(r, |ok| Created {
        obj: ok.obj.map(|h| h.as_bytes().to_vec()),
        obj_attributes: ok.obj_attributes,
        dir_wcc: ok.dir_wcc,
    })
}

/// A synchronous NFSv3 and MOUNT v3 client (one call at a time).
pub struct NfsClient {
    link: Link,
    auth: Option<AuthSysParams>,
    limits: Limits,
    last_result_len: usize,
}

impl NfsClient {
    fn new(link: Link) -> Self {
        let mut c = NfsClient { link, auth: None, limits: Limits::default(), last_result_len: 0 };
        c.set_auth(Some(auth_sys(0, 0)));
        c
    }

    /// A client over TCP, AUTH_SYS uid 0 gid 0.
    pub fn tcp(server: SocketAddr) -> io::Result<Self> {
        Ok(Self::new(Link::Rpc(RpcClient::tcp(server, TIMEOUT)?)))
    }

    /// A client over UDP (with retransmissions), AUTH_SYS uid 0 gid 0.
    pub fn udp(server: SocketAddr) -> io::Result<Self> {
        Ok(Self::new(Link::Rpc(RpcClient::udp(server)?)))
    }

    /// A client over UDP from a socket bound to `local` (any port), AUTH_SYS uid 0 gid 0.
    pub fn udp_from(local: IpAddr, server: SocketAddr) -> io::Result<Self> {
        let sock = UdpSocket::bind((local, 0))?;
        sock.connect(server)?;
        let core = Client::new(ClientConfig::datagram(), xid_seed());
        Ok(Self::new(Link::Bound(BoundUdp { sock, core, buf: vec![0u8; 65_536] })))
    }

    /// Sends these AUTH_SYS credentials from now on (`None`: AUTH_NONE).
    pub fn set_auth(&mut self, auth: Option<AuthSysParams>) {
        if let Link::Rpc(c) = &mut self.link {
            c.set_auth_sys(auth.clone());
        }
        self.auth = auth;
    }

    /// [`NfsClient::set_auth`] with AUTH_SYS `uid` and `gid`.
    pub fn as_user(mut self, uid: u32, gid: u32) -> Self {
        self.set_auth(Some(auth_sys(uid, gid)));
        self
    }

    /// The underlying [`RpcClient`], unless the client uses a bound UDP socket.
    pub fn rpc(&mut self) -> Option<&mut RpcClient> {
        match &mut self.link {
            Link::Rpc(c) => Some(c),
            Link::Bound(_) => None,
        }
    }

    /// Calls procedure `proc_` of program `prog` version 3; returns the result bytes.
    pub fn call<A: Encode + ?Sized>(&mut self, prog: u32, proc_: u32, args: &A) -> Result<Vec<u8>, RpcError> {
        let res = match &mut self.link {
            Link::Rpc(c) => c.call(prog, 3, proc_, args),
            Link::Bound(b) => b.call(self.auth.as_ref(), (prog, 3, proc_), args),
        }?;
        self.last_result_len = res.len();
        Ok(res)
    }

    /// Bytes of the results of the last successful call.
    pub fn last_result_len(&self) -> usize {
        self.last_result_len
    }

    /// An NFS call whose result borrows nothing.
    fn plain<A: Encode, T: for<'a> DecodeWith<'a, Limits>>(&mut self, proc_: u32, args: &A) -> Result<T, RpcError> {
        let res = self.call(NFS, proc_, args)?;
        Ok(decode_exact_with(&res, &self.limits)?)
    }

    // ---- NFS ----

    /// NULL of `prog` (NFS or MOUNT).
    pub fn null(&mut self, prog: u32) -> Result<(), RpcError> {
        let res = self.call(prog, 0, &())?;
        Ok(xdr::decode_exact::<()>(&res)?)
    }

    /// GETATTR.
    pub fn getattr(&mut self, object: &[u8]) -> Result<GetattrRes, RpcError> {
        self.plain(procs::GETATTR, &GetattrArgs { object: fh(object) })
    }

    /// SETATTR.
    pub fn setattr(&mut self, object: &[u8], attrs: Sattr3, guard: SetattrGuard) -> Result<SetattrRes, RpcError> {
        self.plain(procs::SETATTR, &SetattrArgs { object: fh(object), new_attributes: attrs, guard })
    }

    /// LOOKUP.
    pub fn lookup(&mut self, dir: &[u8], name: &str) -> Result<NfsRes<LookupOk, PostOpAttr>, RpcError> {
        let res = self.call(NFS, procs::LOOKUP, &LookupArgs { what: dirop(dir, name) })?;
        let r: LookupRes<'_> = decode_exact_with(&res, &self.limits)?;
        Ok(map_ok(r, |ok| LookupOk {
            object: ok.object.as_bytes().to_vec(),
            obj_attributes: ok.obj_attributes,
            dir_attributes: ok.dir_attributes,
        }))
    }

    /// ACCESS.
    pub fn access(&mut self, object: &[u8], bits: u32) -> Result<AccessRes, RpcError> {
        self.plain(procs::ACCESS, &AccessArgs { object: fh(object), access: bits })
    }

    /// READLINK.
    pub fn readlink(&mut self, symlink: &[u8]) -> Result<NfsRes<ReadlinkOk, PostOpAttr>, RpcError> {
        let res = self.call(NFS, procs::READLINK, &ReadlinkArgs { symlink: fh(symlink) })?;
        let r: ReadlinkRes<'_> = decode_exact_with(&res, &self.limits)?;
        Ok(map_ok(r, |ok| ReadlinkOk { symlink_attributes: ok.symlink_attributes, data: ok.data.as_bytes().to_vec() }))
    }

    /// READ.
    pub fn read(&mut self, file: &[u8], offset: u64, count: u32) -> Result<NfsRes<ReadOk, PostOpAttr>, RpcError> {
        let res = self.call(NFS, procs::READ, &ReadArgs { file: fh(file), offset, count })?;
        let r: ReadRes<'_> = decode_exact_with(&res, &self.limits)?;
        Ok(map_ok(r, |ok| ReadOk { file_attributes: ok.file_attributes, eof: ok.eof, data: ok.data.to_vec() }))
    }

    /// WRITE.
    pub fn write(&mut self, file: &[u8], offset: u64, data: &[u8], stable: StableHow) -> Result<WriteRes, RpcError> {
        if let Link::Rpc(c) = &mut self.link {
            c.reserve_request(data.len() + 1024);
        }
        self.plain(procs::WRITE, &WriteArgs { file: fh(file), offset, stable, data })
    }

    /// CREATE.
    pub fn create(&mut self, dir: &[u8], name: &str, how: CreateHow3) -> Result<NfsRes<Created, WccData>, RpcError> {
        let res = self.call(NFS, procs::CREATE, &CreateArgs { where_: dirop(dir, name), how })?;
        Ok(created(decode_exact_with(&res, &self.limits)?))
    }

    /// MKDIR.
    pub fn mkdir(&mut self, dir: &[u8], name: &str, attrs: Sattr3) -> Result<NfsRes<Created, WccData>, RpcError> {
        let res = self.call(NFS, procs::MKDIR, &MkdirArgs { where_: dirop(dir, name), attributes: attrs })?;
        Ok(created(decode_exact_with(&res, &self.limits)?))
    }

    /// SYMLINK.
    pub fn symlink(
        &mut self,
        dir: &[u8],
        name: &str,
        target: &str,
        attrs: Sattr3,
    ) -> Result<NfsRes<Created, WccData>, RpcError> {
        let symlink = SymlinkData3 { symlink_attributes: attrs, symlink_data: NfsPath::from_str(target) };
        let res = self.call(NFS, procs::SYMLINK, &SymlinkArgs { where_: dirop(dir, name), symlink })?;
        Ok(created(decode_exact_with(&res, &self.limits)?))
    }

    /// MKNOD.
    pub fn mknod(&mut self, dir: &[u8], name: &str, what: MknodData3) -> Result<NfsRes<Created, WccData>, RpcError> {
        let res = self.call(NFS, procs::MKNOD, &MknodArgs { where_: dirop(dir, name), what })?;
        Ok(created(decode_exact_with(&res, &self.limits)?))
    }

    /// REMOVE.
    pub fn remove(&mut self, dir: &[u8], name: &str) -> Result<RemoveRes, RpcError> {
        self.plain(procs::REMOVE, &RemoveArgs { object: dirop(dir, name) })
    }

    /// RMDIR.
    pub fn rmdir(&mut self, dir: &[u8], name: &str) -> Result<RmdirRes, RpcError> {
        self.plain(procs::RMDIR, &RmdirArgs { object: dirop(dir, name) })
    }

    /// RENAME.
    pub fn rename(&mut self, from: &[u8], fname: &str, to: &[u8], tname: &str) -> Result<RenameRes, RpcError> {
        self.plain(procs::RENAME, &RenameArgs { from: dirop(from, fname), to: dirop(to, tname) })
    }

    /// LINK.
    pub fn link(&mut self, file: &[u8], dir: &[u8], name: &str) -> Result<LinkRes, RpcError> {
        self.plain(procs::LINK, &LinkArgs { file: fh(file), link: dirop(dir, name) })
    }

    /// READDIR.
    pub fn readdir(
        &mut self,
        dir: &[u8],
        cookie: u64,
        cookieverf: Verifier,
        count: u32,
    ) -> Result<NfsRes<DirPage, PostOpAttr>, RpcError> {
        let res = self.call(NFS, procs::READDIR, &ReaddirArgs { dir: fh(dir), cookie, cookieverf, count })?;
        let r: ReaddirRes<'_> = decode_exact_with(&res, &self.limits)?;
        Ok(map_ok(r, |ok| DirPage {
            dir_attributes: ok.dir_attributes,
            cookieverf: ok.cookieverf,
            entries: ok
                .entries
                .iter()
                .map(|e| DirEntry {
                    fileid: e.fileid,
                    name: e.name.as_bytes().to_vec(),
                    cookie: e.cookie,
                    attributes: None,
                    handle: None,
                })
                .collect(),
            eof: ok.eof,
        }))
    }

    /// READDIRPLUS.
    pub fn readdirplus(
        &mut self,
        dir: &[u8],
        cookie: u64,
        cookieverf: Verifier,
        dircount: u32,
        maxcount: u32,
    ) -> Result<NfsRes<DirPage, PostOpAttr>, RpcError> {
        let args = ReaddirplusArgs { dir: fh(dir), cookie, cookieverf, dircount, maxcount };
        let res = self.call(NFS, procs::READDIRPLUS, &args)?;
        let r: ReaddirplusRes<'_> = decode_exact_with(&res, &self.limits)?;
        Ok(map_ok(r, |ok| DirPage {
            dir_attributes: ok.dir_attributes,
            cookieverf: ok.cookieverf,
            entries: ok
                .entries
                .iter()
                .map(|e| DirEntry {
                    fileid: e.fileid,
                    name: e.name.as_bytes().to_vec(),
                    cookie: e.cookie,
                    attributes: e.name_attributes,
                    handle: e.name_handle.map(|h| h.as_bytes().to_vec()),
                })
                .collect(),
            eof: ok.eof,
        }))
    }

    /// FSSTAT.
    pub fn fsstat(&mut self, root: &[u8]) -> Result<FsstatRes, RpcError> {
        self.plain(procs::FSSTAT, &FsstatArgs { fsroot: fh(root) })
    }

    /// FSINFO.
    pub fn fsinfo(&mut self, root: &[u8]) -> Result<FsinfoRes, RpcError> {
        self.plain(procs::FSINFO, &FsinfoArgs { fsroot: fh(root) })
    }

    /// PATHCONF.
    pub fn pathconf(&mut self, object: &[u8]) -> Result<PathconfRes, RpcError> {
        self.plain(procs::PATHCONF, &PathconfArgs { object: fh(object) })
    }

    /// COMMIT.
    pub fn commit(&mut self, file: &[u8], offset: u64, count: u32) -> Result<CommitRes, RpcError> {
        self.plain(procs::COMMIT, &CommitArgs { file: fh(file), offset, count })
    }

    /// Lists a whole directory, page by page, calling `on_page` after each page (before the
    /// next is asked for). Panics on an RPC error, a failure status, or a page that is empty but
    /// not the last (it would loop forever).
    pub fn list_dir(&mut self, dir: &[u8], how: Listing, mut on_page: impl FnMut(&PageInfo)) -> Vec<DirEntry> {
        let (mut all, mut cookie, mut verf) = (Vec::new(), 0u64, Verifier::default());
        for index in 0.. {
            let res = match how {
                Listing::Readdir(count) => self.readdir(dir, cookie, verf, count),
                Listing::Plus(dircount, maxcount) => self.readdirplus(dir, cookie, verf, dircount, maxcount),
            };
            let result_len = self.last_result_len;
            let p = res.expect_ok(&format!("{how:?} page {index} (cookie {cookie:#x})"));
            let info = PageInfo {
                index,
                entries: p.entries.len(),
                result_len,
                dircount_used: p.entries.iter().map(|e| 8 + 4 + e.name.len().next_multiple_of(4) + 8).sum(),
                eof: p.eof,
            };
            on_page(&info);
            if p.eof {
                all.extend(p.entries);
                return all;
            }
            let last = p.entries.last().unwrap_or_else(|| panic!("{how:?}: empty page {index} without eof"));
            (cookie, verf) = (last.cookie, p.cookieverf);
            all.extend(p.entries);
        }
        unreachable!()
    }

    // ---- MOUNT ----

    /// MNT.
    pub fn mnt(&mut self, path: &str) -> Result<Result<Mounted, MountStat>, RpcError> {
        let res = self.call(MOUNT, mount::procs::MNT, &mount::DirPath::new(path)?)?;
        Ok(match mount::client::decode_mnt(&res)? {
            MountRes3::Ok { fhandle, auth_flavors } => {
                Ok(Mounted { fhandle: fhandle.as_bytes().to_vec(), auth_flavors: auth_flavors.iter().collect() })
            }
            MountRes3::Fail(s) => Err(s),
        })
    }

    /// DUMP: (host, directory) pairs.
    pub fn dump(&mut self) -> Result<Vec<(String, String)>, RpcError> {
        let res = self.call(MOUNT, mount::procs::DUMP, &())?;
        let list = mount::client::decode_dump(&res)?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(list.iter().map(|m| (text(m.hostname.as_bytes()), text(m.directory.as_bytes()))).collect())
    }

    /// UMNT.
    pub fn umnt(&mut self, path: &str) -> Result<(), RpcError> {
        let res = self.call(MOUNT, mount::procs::UMNT, &mount::DirPath::new(path)?)?;
        Ok(mount::client::decode_void(&res)?)
    }

    /// UMNTALL.
    pub fn umntall(&mut self) -> Result<(), RpcError> {
        let res = self.call(MOUNT, mount::procs::UMNTALL, &())?;
        Ok(mount::client::decode_void(&res)?)
    }

    /// EXPORT: (directory, groups) pairs.
    pub fn export(&mut self) -> Result<Vec<(String, Vec<String>)>, RpcError> {
        let res = self.call(MOUNT, mount::procs::EXPORT, &())?;
        let list = mount::client::decode_export(&res)?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(list
            .iter()
            .map(|e| (text(e.dir.as_bytes()), e.groups.iter().map(|g| text(g.as_bytes())).collect()))
            .collect())
    }
}

/// Checks on the outcome of an NFS call.
pub trait NfsOutcome<T> {
    /// The `resok` arm; panics (naming `what`) on a failure status or an RPC error.
    fn expect_ok(self, what: &str) -> T;
    /// The status; panics on an RPC error.
    fn status(self) -> NfsStat3;
}

impl<T, F: Debug> NfsOutcome<T> for Result<NfsRes<T, F>, RpcError> {
    #[track_caller]
    fn expect_ok(self, what: &str) -> T {
        match self {
            Ok(NfsRes::Ok(t)) => t,
            Ok(NfsRes::Fail(s, f)) => panic!("{what}: {s:?} ({f:?})"),
            Err(e) => panic!("{what}: {e}"),
        }
    }

    #[track_caller]
    fn status(self) -> NfsStat3 {
        match self {
            Ok(r) => r.status(),
            Err(e) => panic!("RPC failed: {e}"),
        }
    }
}

/// One TCP connection on which whole RPC records are sent and received as bytes.
pub struct RawTcp {
    stream: TcpStream,
    records: RecordReader<Vec<u8>>,
    pending: Vec<u8>,
    core: Client<1>,
    /// Credentials of the calls [`RawTcp::encode`] builds.
    pub auth: Option<AuthSysParams>,
}

impl RawTcp {
    /// Connects; calls are built with AUTH_SYS uid 0.
    pub fn connect(server: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&server, TIMEOUT)?;
        stream.set_nodelay(true)?;
        Ok(RawTcp {
            stream,
            records: RecordReader::new(vec![0u8; 2 << 20]),
            pending: Vec::new(),
            core: Client::new(ClientConfig::stream(), xid_seed()),
            auth: Some(auth_sys(0, 0)),
        })
    }

    /// A call message (without record mark) to `prog` version 3 with a new xid: (xid, bytes).
    pub fn encode<A: Encode + ?Sized>(&mut self, prog: u32, proc_: u32, args: &A) -> (u32, Vec<u8>) {
        encode_call(&mut self.core, self.auth.as_ref(), (prog, 3, proc_), args).expect("encode the call")
    }

    /// Sends `msg` as one record of one fragment.
    pub fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mark = (msg.len() as u32 | 0x8000_0000).to_be_bytes();
        let mut out = Vec::with_capacity(msg.len() + 4);
        out.extend_from_slice(&mark);
        out.extend_from_slice(msg);
        self.stream.write_all(&out)
    }

    /// Sends bytes as they are (record marks included).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Receives one record (a whole reply message).
    pub fn recv(&mut self) -> Result<Vec<u8>, RpcError> {
        let until = Instant::now() + TIMEOUT;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let input = std::mem::take(&mut self.pending);
            let (used, done) = self.records.push(&input)?;
            self.pending = input[used..].to_vec();
            if done {
                let rec = self.records.record().unwrap_or_default().to_vec();
                self.records.next_record();
                return Ok(rec);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RpcError::Timeout);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(RpcError::Closed),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends `msg` and receives the next record.
    pub fn exchange(&mut self, msg: &[u8]) -> Result<Vec<u8>, RpcError> {
        self.send(msg)?;
        self.recv()
    }
}

pub use crate::temp_dir;

/// An exports line for `dir` and client 127.0.0.1.
pub fn export_line(dir: &Path, options: &str) -> String {
    format!("{} 127.0.0.1({options})", dir.display())
}

/// `tern serve` as a child process, stopped by PID (SIGKILL when dropped while running).
/// Its log (stderr) goes to `serve.log` in the state directory.
pub struct TernServe {
    child: Option<Child>,
    /// NFS port.
    pub nfs: u16,
    /// MOUNT port.
    pub mount: u16,
    log: PathBuf,
}

impl TernServe {
    /// Starts `tern serve --listen 127.0.0.1` with these exports lines and state directory, on
    /// `ports` (NFS, MOUNT) or free ones, and waits until NFS and MOUNT answer NULL over TCP.
    pub fn start(exports: &[String], state: &Path, ports: Option<(u16, u16)>) -> Self {
        let (nfs, mount) = ports.unwrap_or_else(|| {
            let nfs = free_port();
            let mut mount = free_port();
            while mount == nfs {
                mount = free_port();
            }
            (nfs, mount)
        });
        std::fs::create_dir_all(state).expect("create the state dir");
        let log = state.join("serve.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("open the log");
        let mut cmd = Command::new(tern_bin());
        cmd.args(["serve", "--listen", "127.0.0.1"]);
        for e in exports {
            cmd.args(["--export", e]);
        }
        cmd.args(["--nfs-port", &nfs.to_string(), "--mount-port", &mount.to_string()]);
        cmd.arg("--state-dir").arg(state).args(["--portmap", &format!("127.0.0.1:{}", free_port())]);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
        let child = cmd.spawn().expect("start tern serve");
        let mut s = TernServe { child: Some(child), nfs, mount, log };
        let up = wait_until(Duration::from_secs(20), || {
            let ping = |port| {
                RpcClient::tcp(local(port), Duration::from_secs(1))
                    .is_ok_and(|mut c| c.null(if port == nfs { NFS } else { MOUNT }, 3).is_ok())
            };
            s.exited() || (ping(nfs) && ping(mount))
        });
        assert!(up && !s.exited(), "tern serve did not come up:\n{}", s.log());
        s
    }

    fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// NFS address (TCP and UDP).
    pub fn nfs_addr(&self) -> SocketAddr {
        local(self.nfs)
    }

    /// MOUNT address (TCP and UDP).
    pub fn mount_addr(&self) -> SocketAddr {
        local(self.mount)
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A field of /proc/PID/status in KiB (`VmHWM`, `VmRSS`).
    pub fn proc_kib(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Sends SIGTERM and waits (up to 10 s) for the exit.
    pub fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return st;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                return child.wait().expect("wait for tern serve");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A TCP client of the NFS port, AUTH_SYS uid 0.
    pub fn client(&self) -> NfsClient {
        NfsClient::tcp(self.nfs_addr()).expect("connect to NFS")
    }

    /// MNT of `path` over TCP as uid 0; the handle. Panics on a refusal.
    pub fn mount_root(&self, path: &Path) -> Vec<u8> {
        let mut m = NfsClient::tcp(self.mount_addr()).expect("connect to MOUNT");
        match m.mnt(&path.display().to_string()).expect("MNT") {
            Ok(mounted) => mounted.fhandle,
            Err(s) => panic!("MNT {}: {s:?}", path.display()),
        }
    }
}

impl Drop for TernServe {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
