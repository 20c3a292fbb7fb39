//! The test rig: an [`NfsService`] over [`TestFs`] back ends behind a [`Dispatcher`], driven
//! with calls encoded by the RPC [`Client`] and the NFSv3 argument types.

use std::string::String;
use std::vec::Vec;

use super::tests_fs::TestFs;
use super::{Nfs3Server, NfsService, ServerConfig};
use crate::exports::Exports;
use crate::fs::{FileSystem, Time};
use crate::mount::{self, MountRes3};
use crate::nfs3::{
    CreateArgs, CreateHow3, CreateRes, DecodeWith, DirOpArgs3, Fattr3, FileHandle, Filename, GetattrArgs, GetattrRes,
    Limits, LookupArgs, LookupRes, MkdirArgs, MkdirRes, NfsRes, NfsStat3, PROGRAM, ReadArgs, ReadRes, Sattr3,
    StableHow, VERSION, WriteArgs, WriteRes, decode_exact_with, procs,
};
use crate::rpc::auth::{AuthSys, Credential, Gids};
use crate::rpc::client::{CallFailure, Client, ClientConfig};
use crate::rpc::server::{Dispatch, Dispatcher, Peer, Transport};
use crate::time::Instant;
use crate::xdr::{Encode, XdrStr};

/// `/srv` admits, from 10.0.0.N: 1 as root (`no_root_squash`), 2 with `root_squash`, 3 with
/// `all_squash` (anonymous 1000:1000), 4 only from a privileged port, 5 read-only, 6 with
/// `sec=none`, 7 as a plain user; nobody else. `/other` and `/ro` admit everyone.
pub(super) const EXPORTS: &str = "\
/srv 10.0.0.1(rw,no_root_squash,insecure) 10.0.0.2(rw,insecure) \\
     10.0.0.3(rw,insecure,all_squash,anonuid=1000,anongid=1000) 10.0.0.4(rw) \\
     10.0.0.5(ro,insecure,no_root_squash) 10.0.0.6(rw,insecure,sec=none) 10.0.0.7(rw,insecure)
/other *(rw,insecure,no_root_squash)
/ro    *(ro,insecure,no_root_squash)
";

/// Root, no squashing.
pub(super) const ROOT: &str = "10.0.0.1:900";
/// Root squashed to 65534.
pub(super) const SQUASHED: &str = "10.0.0.2:900";
/// Everyone squashed to 1000:1000.
pub(super) const ALL_SQUASH: &str = "10.0.0.3:900";
/// `secure` (port below 1024 required).
pub(super) const SECURE: &str = "10.0.0.4";
/// Read-only entry of `/srv`.
pub(super) const READ_ONLY: &str = "10.0.0.5:900";
/// `sec=none`.
pub(super) const SEC_NONE: &str = "10.0.0.6:900";
/// A plain user's machine.
pub(super) const USER: &str = "10.0.0.7:900";
/// Not listed for `/srv`.
pub(super) const STRANGER: &str = "192.0.2.9:900";

pub(super) type Server = Nfs3Server<'static, TestFs, 4, 4, 16>;
pub(super) type Service = NfsService<'static, Server, 4, 16, 8, 64>;

/// The server's settings in the rig: boot at 1,000,000 s, small transfer sizes.
pub(super) fn config() -> ServerConfig {
    ServerConfig {
        max_read: 4096,
        max_write: 8192,
        max_readdir: 16 * 1024,
        ..ServerConfig::new(0x7e57, Time { secs: 1_000_000, nsecs: 0 })
    }
}

/// A server with `/srv` (2048 objects, 128 KiB), `/other` and `/ro` (small), each its own
/// [`TestFs`] (fsid 1, 2, 3).
pub(super) fn server() -> Server {
    let mut s = Server::new(Exports::parse(EXPORTS).unwrap(), config());
    assert_eq!(s.add("/srv", TestFs::with(1, 2048, 256)).ok(), Some(0));
    assert_eq!(s.add("/other", TestFs::new(2)).ok(), Some(1));
    assert_eq!(s.add("/ro", TestFs::new(3)).ok(), Some(2));
    s
}

pub(super) struct Rig {
    pub(super) d: Dispatcher<Service>,
    c: Client<4>,
    /// The caller's address.
    pub(super) peer: Peer,
    /// AUTH_SYS uid, gid and groups; `None` for AUTH_NONE.
    pub(super) cred: Option<(u32, u32, Vec<u32>)>,
    /// The dispatcher's clock.
    pub(super) now: Instant,
}

pub(super) fn peer(addr: &str) -> Peer {
    Peer { addr: addr.parse().unwrap(), transport: Transport::Udp }
}

/// Decodes results with default limits.
pub(super) fn dec<'a, T: DecodeWith<'a, Limits>>(b: &'a [u8]) -> T {
    decode_exact_with(b, &Limits::default()).expect("results decode")
}

pub(super) fn fh(b: &[u8]) -> FileHandle<'_> {
    FileHandle::new(b).unwrap()
}

pub(super) fn dirop<'a>(dir: &'a [u8], name: &'a str) -> DirOpArgs3<'a> {
    DirOpArgs3 { dir: fh(dir), name: Filename::from_str(name) }
}

/// A mode-only `sattr3`.
pub(super) fn mode(m: u32) -> Sattr3 {
    Sattr3 { mode: Some(m), ..Sattr3::UNCHANGED }
}

impl Rig {
    pub(super) fn new() -> Self {
        Self::with(server())
    }

    pub(super) fn with(s: Server) -> Self {
        Rig {
            d: Dispatcher::new(NfsService::new(s)),
            c: Client::new(ClientConfig::datagram(), 1),
            peer: peer(ROOT),
            cred: Some((0, 0, Vec::new())),
            now: Instant::from_millis(1500),
        }
    }

    /// Calls from `addr` from now on.
    pub(super) fn from(&mut self, addr: &str) -> &mut Self {
        self.peer = peer(addr);
        self
    }

    /// Calls as AUTH_SYS `uid`:`gid` from now on.
    pub(super) fn user(&mut self, uid: u32, gid: u32) -> &mut Self {
        self.cred = Some((uid, gid, Vec::new()));
        self
    }

    pub(super) fn nfs(&mut self) -> &mut Server {
        self.d.programs().nfs()
    }

    /// The back end of `/srv`.
    pub(super) fn srv_fs(&mut self) -> &mut TestFs {
        self.nfs().fs_mut(0).unwrap()
    }

    /// Sends a call of `prog` with raw argument bytes; the results or the RPC failure.
    pub(super) fn send(&mut self, prog: u32, vers: u32, proc_: u32, args: &[u8]) -> Result<Vec<u8>, CallFailure> {
        let gids;
        let cred = match &self.cred {
            None => Credential::None,
            Some((uid, gid, g)) => {
                gids = g.clone();
                let name = XdrStr::new("client").unwrap();
                Credential::Sys(AuthSys {
                    stamp: 1,
                    machine_name: name,
                    uid: *uid,
                    gid: *gid,
                    gids: Gids::Slice(&gids),
                })
            }
        };
        let mut req = std::vec![0u8; 512 + args.len()];
        let (_, n) = self.c.call(self.now, prog, vers, proc_, &cred, &(), &mut req).unwrap();
        req.truncate(n);
        req.extend_from_slice(args);
        let mut reply = std::vec![0u8; 64 * 1024];
        let Dispatch::Reply(m) = self.d.handle_at(self.now, self.peer, &req, &mut reply) else { panic!("no reply") };
        self.c.handle_reply(&reply[..m]).expect("a reply").result.map(<[u8]>::to_vec)
    }

    /// Sends NFS procedure `proc_` with `args`; the result bytes (the call must succeed at the
    /// RPC level).
    pub(super) fn call<A: Encode + ?Sized>(&mut self, proc_: u32, args: &A) -> Vec<u8> {
        let mut buf = std::vec![0u8; args.encoded_len()];
        crate::xdr::encode_to(args, &mut buf).unwrap();
        self.send(PROGRAM, VERSION, proc_, &buf).expect("RPC success")
    }

    /// MNT of `path`: the handle, or the MOUNT status.
    pub(super) fn mnt(&mut self, path: &str) -> Result<Vec<u8>, mount::MountStat> {
        let mut buf = std::vec![0u8; 4 + path.len() + 3];
        let n = crate::xdr::encode_to(&mount::DirPath::new(path).unwrap(), &mut buf).unwrap();
        buf.truncate(n);
        let res = self.send(mount::PROGRAM, mount::VERSION, mount::procs::MNT, &buf).unwrap();
        match mount::client::decode_mnt(&res).unwrap() {
            MountRes3::Ok { fhandle, .. } => Ok(fhandle.as_bytes().to_vec()),
            MountRes3::Fail(s) => Err(s),
        }
    }

    /// The root handle of `/srv`.
    pub(super) fn root(&mut self) -> Vec<u8> {
        self.nfs().root_handle(0).unwrap().as_bytes().to_vec()
    }

    pub(super) fn getattr(&mut self, obj: &[u8]) -> Result<Fattr3, NfsStat3> {
        let res = self.call(procs::GETATTR, &GetattrArgs { object: fh(obj) });
        match dec::<GetattrRes>(&res) {
            NfsRes::Ok(a) => Ok(a),
            NfsRes::Fail(s, ()) => Err(s),
        }
    }

    pub(super) fn lookup(&mut self, dir: &[u8], name: &str) -> Result<Vec<u8>, NfsStat3> {
        let res = self.call(procs::LOOKUP, &LookupArgs { what: dirop(dir, name) });
        match dec::<LookupRes<'_>>(&res) {
            NfsRes::Ok(ok) => Ok(ok.object.as_bytes().to_vec()),
            NfsRes::Fail(s, _) => Err(s),
        }
    }

    /// CREATE GUARDED with mode `m`.
    pub(super) fn create(&mut self, dir: &[u8], name: &str, m: u32) -> Result<Vec<u8>, NfsStat3> {
        let args = CreateArgs { where_: dirop(dir, name), how: CreateHow3::Guarded(mode(m)) };
        let res = self.call(procs::CREATE, &args);
        match dec::<CreateRes<'_>>(&res) {
            NfsRes::Ok(ok) => Ok(ok.obj.expect("a handle").as_bytes().to_vec()),
            NfsRes::Fail(s, _) => Err(s),
        }
    }

    pub(super) fn mkdir(&mut self, dir: &[u8], name: &str, m: u32) -> Result<Vec<u8>, NfsStat3> {
        let res = self.call(procs::MKDIR, &MkdirArgs { where_: dirop(dir, name), attributes: mode(m) });
        match dec::<MkdirRes<'_>>(&res) {
            NfsRes::Ok(ok) => Ok(ok.obj.expect("a handle").as_bytes().to_vec()),
            NfsRes::Fail(s, _) => Err(s),
        }
    }

    pub(super) fn write(&mut self, file: &[u8], offset: u64, data: &[u8]) -> Result<u32, NfsStat3> {
        let args = WriteArgs { file: fh(file), offset, stable: StableHow::FileSync, data };
        match dec::<WriteRes>(&self.call(procs::WRITE, &args)) {
            NfsRes::Ok(ok) => Ok(ok.count),
            NfsRes::Fail(s, _) => Err(s),
        }
    }

    pub(super) fn read(&mut self, file: &[u8], offset: u64, count: u32) -> Result<(Vec<u8>, bool), NfsStat3> {
        let res = self.call(procs::READ, &ReadArgs { file: fh(file), offset, count });
        match dec::<ReadRes<'_>>(&res) {
            NfsRes::Ok(ok) => Ok((ok.data.to_vec(), ok.eof)),
            NfsRes::Fail(s, _) => Err(s),
        }
    }
}

/// The wire handle `h` with its back-end part changed so that the back end no longer knows it
/// (another generation of the node).
pub(super) fn stale(h: &[u8]) -> Vec<u8> {
    let mut s = h.to_vec();
    s[super::PREFIX_LEN + 15] ^= 0x5a;
    s
}

/// `n` names `prefix0000`, `prefix0001`, ...
pub(super) fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| std::format!("{prefix}{i:04}")).collect()
}

/// Fills `/srv`'s back end directly (no RPC): `n` files in a new directory `name`.
pub(super) fn populate(rig: &mut Rig, name: &str, n: usize) -> Vec<u8> {
    let root = rig.root();
    let dir = rig.mkdir(&root, name, 0o755).unwrap();
    let fs = rig.srv_fs();
    let (_, _, h) = super::handle::split(&dir).unwrap();
    let ctx = crate::fs::Ctx { now: Time { secs: 5, nsecs: 0 }, uid: 0, gid: 0 };
    for f in names("f", n) {
        fs.create(&ctx, &h, f.as_bytes(), &crate::fs::CreateHow::Guarded(Default::default())).unwrap();
    }
    dir
}
