//! A minimal NFSv3 and MOUNT v3 call layer over Tern's blocking [`RpcClient`], for the NFS
//! server benchmarks (`benches/nfs_ops.rs`, driven by `scripts/bench-nfs.sh`): MNT for the root
//! handle, then GETATTR, LOOKUP, CREATE and REMOVE, all with AUTH_SYS uid 0.
//!
//! The same code talks to every server measured, so the client's own cost is the same on each
//! side of a comparison.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tern_core::mount::{self, DirPath, MountRes3, MountStat};
use tern_core::nfs3::{
    self, CreateArgs, CreateHow3, CreateRes, DirOpArgs3, Fattr3, FileHandle, Filename, GetattrArgs, GetattrRes, Limits,
    LookupArgs, LookupRes, NfsRes, NfsStat3, RemoveArgs, RemoveRes, Sattr3, decode_exact_with,
};
use tern_core::xdr::{self, Encode};
use tern_std::client::{AuthSysParams, RpcClient, RpcError};

/// Bound on connecting and on each call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug)]
pub enum NfsError {
    /// The RPC layer failed (socket, timeout, refused call).
    Rpc(RpcError),
    /// Arguments did not encode or results did not decode.
    Xdr(xdr::Error),
    /// The server answered with an error status.
    Status {
        /// The procedure.
        procedure: &'static str,
        /// Its status.
        status: NfsStat3,
    },
    /// MNT failed.
    Mount(MountStat),
    /// CREATE succeeded without returning the new file's handle.
    NoHandle,
}

impl fmt::Display for NfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NfsError::Rpc(e) => write!(f, "{e}"),
            NfsError::Xdr(e) => write!(f, "XDR: {e}"),
            NfsError::Status { procedure, status } => write!(f, "{procedure}: {status:?}"),
            NfsError::Mount(s) => write!(f, "MNT: {s:?}"),
            NfsError::NoHandle => write!(f, "CREATE returned no file handle"),
        }
    }
}

impl std::error::Error for NfsError {}

impl From<RpcError> for NfsError {
    fn from(e: RpcError) -> Self {
        NfsError::Rpc(e)
    }
}

impl From<std::io::Error> for NfsError {
    fn from(e: std::io::Error) -> Self {
        NfsError::Rpc(RpcError::Io(e))
    }
}

impl From<xdr::Error> for NfsError {
    fn from(e: xdr::Error) -> Self {
        NfsError::Xdr(e)
    }
}

/// One server to measure: its name, where its NFS and MOUNT programs listen, and its export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Name in the results (`ganesha`, `tern`).
    pub name: String,
    /// NFS program (TCP).
    pub nfs: SocketAddr,
    /// MOUNT program (TCP).
    pub mount: SocketAddr,
    /// The exported directory's path, as MNT wants it.
    pub export: String,
}

impl Target {
    /// Parses `NAME:NFS_PORT:MOUNT_PORT:EXPORT_PATH` (a server on 127.0.0.1).
    pub fn parse(s: &str) -> Result<Target, String> {
        let bad = || format!("{s:?}: expected NAME:NFS_PORT:MOUNT_PORT:EXPORT_PATH");
        let mut it = s.splitn(4, ':');
        let (Some(name), Some(nfs), Some(mount), Some(export)) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
        if name.is_empty() || !export.starts_with('/') {
            return Err(bad());
        }
        Ok(Target {
            name: name.to_string(),
            nfs: SocketAddr::from(([127, 0, 0, 1], port(nfs)?)),
            mount: SocketAddr::from(([127, 0, 0, 1], port(mount)?)),
            export: export.to_string(),
        })
    }

    /// Parses a whitespace-separated list of [`Target::parse`] items.
    pub fn parse_list(s: &str) -> Result<Vec<Target>, String> {
        s.split_whitespace().map(Target::parse).collect()
    }
}

fn root_auth() -> AuthSysParams {
    AuthSysParams { machine_name: "tern-bench".into(), uid: 0, gid: 0, gids: Vec::new() }
}

/// MNT `export` at `mount` over TCP with AUTH_SYS uid 0; returns the export's root handle.
pub fn mnt(mount: SocketAddr, export: &str) -> Result<Vec<u8>, NfsError> {
    let mut c = RpcClient::tcp(mount, CALL_TIMEOUT)?;
    c.set_auth_sys(Some(root_auth()));
    let res = c.call(mount::PROGRAM, mount::VERSION, mount::procs::MNT, &DirPath::new(export)?)?;
    match xdr::decode_exact::<MountRes3<'_>>(&res)? {
        MountRes3::Ok { fhandle, .. } => Ok(fhandle.as_bytes().to_vec()),
        MountRes3::Fail(s) => Err(NfsError::Mount(s)),
    }
}

/// An NFSv3 client on its own TCP connection, calling with AUTH_SYS uid 0 / gid 0.
pub struct NfsClient {
    rpc: RpcClient,
    limits: Limits,
}

fn fail(procedure: &'static str, status: NfsStat3) -> NfsError {
    NfsError::Status { procedure, status }
}

fn dirop<'a>(dir: &'a [u8], name: &'a str) -> Result<DirOpArgs3<'a>, NfsError> {
    Ok(DirOpArgs3 { dir: FileHandle::new(dir)?, name: Filename::from_str(name) })
}

impl NfsClient {
    /// Connects to the NFS program at `nfs`.
    pub fn connect(nfs: SocketAddr) -> Result<Self, NfsError> {
        let mut rpc = RpcClient::tcp(nfs, CALL_TIMEOUT)?;
        rpc.set_auth_sys(Some(root_auth()));
        Ok(NfsClient { rpc, limits: Limits::default() })
    }

    fn call<A: Encode>(&mut self, procedure: u32, args: &A) -> Result<Vec<u8>, NfsError> {
        Ok(self.rpc.call(nfs3::PROGRAM, nfs3::VERSION, procedure, args)?)
    }

    /// GETATTR: the attributes of `fh`.
    pub fn getattr(&mut self, fh: &[u8]) -> Result<Fattr3, NfsError> {
        let res = self.call(nfs3::procs::GETATTR, &GetattrArgs { object: FileHandle::new(fh)? })?;
        match decode_exact_with::<_, GetattrRes>(&res, &self.limits)? {
            NfsRes::Ok(attr) => Ok(attr),
            NfsRes::Fail(s, ()) => Err(fail("GETATTR", s)),
        }
    }

    /// LOOKUP: the handle of `name` in directory `dir`.
    pub fn lookup(&mut self, dir: &[u8], name: &str) -> Result<Vec<u8>, NfsError> {
        let res = self.call(nfs3::procs::LOOKUP, &LookupArgs { what: dirop(dir, name)? })?;
        match decode_exact_with::<_, LookupRes<'_>>(&res, &self.limits)? {
            NfsRes::Ok(ok) => Ok(ok.object.as_bytes().to_vec()),
            NfsRes::Fail(s, _) => Err(fail("LOOKUP", s)),
        }
    }

    /// CREATE of a regular file with `mode`, GUARDED (fails if `name` exists) or UNCHECKED;
    /// returns the new file's handle.
    pub fn create(&mut self, dir: &[u8], name: &str, mode: u32, guarded: bool) -> Result<Vec<u8>, NfsError> {
        let attrs = Sattr3 { mode: Some(mode), ..Sattr3::UNCHANGED };
        let how = if guarded { CreateHow3::Guarded(attrs) } else { CreateHow3::Unchecked(attrs) };
        let res = self.call(nfs3::procs::CREATE, &CreateArgs { where_: dirop(dir, name)?, how })?;
        match decode_exact_with::<_, CreateRes<'_>>(&res, &self.limits)? {
            NfsRes::Ok(ok) => ok.obj.map(|fh| fh.as_bytes().to_vec()).ok_or(NfsError::NoHandle),
            NfsRes::Fail(s, _) => Err(fail("CREATE", s)),
        }
    }

    /// REMOVE of `name` in directory `dir`.
    pub fn remove(&mut self, dir: &[u8], name: &str) -> Result<(), NfsError> {
        let res = self.call(nfs3::procs::REMOVE, &RemoveArgs { object: dirop(dir, name)? })?;
        match decode_exact_with::<_, RemoveRes>(&res, &self.limits)? {
            NfsRes::Ok(_) => Ok(()),
            NfsRes::Fail(s, _) => Err(fail("REMOVE", s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_core::nfs3::FType3;
    use tern_std::serve::{ServeOptions, serve};
    use tern_tests::{free_port, local, temp_dir};

    #[test]
    fn targets_parse() {
        let t = Target::parse("tern:2049:20048:/tmp/a:b").unwrap();
        assert_eq!(
            (t.name.as_str(), t.nfs.port(), t.mount.port(), t.export.as_str()),
            ("tern", 2049, 20048, "/tmp/a:b")
        );
        assert_eq!(Target::parse_list(" g:1:2:/x\n t:3:4:/y ").unwrap().len(), 2);
        for bad in ["", "g:1:2", "g:1:2:x", ":1:2:/x", "g:one:2:/x", "g:1:70000:/x"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    /// Every call of the layer against an in-process `tern serve` of a temporary directory (on
    /// a thread with a big stack: the server's tables are built on the stack in debug builds).
    #[test]
    fn calls_against_tern_serve() {
        let t = std::thread::Builder::new().stack_size(64 << 20).spawn(against_tern_serve).unwrap();
        t.join().unwrap();
    }

    fn against_tern_serve() {
        let dir = temp_dir("bench-nfs-layer");
        let export = dir.join("export");
        std::fs::create_dir_all(&export).unwrap();
        let export = export.to_str().unwrap().to_string();
        let running = serve(ServeOptions {
            exports: format!("{export} 127.0.0.1(rw,no_root_squash,insecure)"),
            exports_source: "test".into(),
            listen: "127.0.0.1".parse().unwrap(),
            nfs_port: free_port(),
            mount_port: free_port(),
            state_dir: dir.join("state"),
            portmap: local(free_port()),
            soft: Default::default(),
            shards: 0,
        })
        .unwrap();
        let (nfs, mount) = running.addrs;

        let root = mnt(mount, &export).unwrap();
        let mut c = NfsClient::connect(nfs).unwrap();
        assert_eq!(c.getattr(&root).unwrap().ftype, FType3::Dir);
        let fh = c.create(&root, "f", 0o640, true).unwrap();
        let attr = c.getattr(&fh).unwrap();
        assert_eq!((attr.ftype, attr.mode & 0o777, attr.uid), (FType3::Reg, 0o640, 0));
        assert_eq!(c.lookup(&root, "f").unwrap(), fh);
        assert!(matches!(
            c.create(&root, "f", 0o640, true),
            Err(NfsError::Status { procedure: "CREATE", status: NfsStat3::Exist })
        ));
        assert!(c.create(&root, "f", 0o640, false).is_ok());
        c.remove(&root, "f").unwrap();
        assert!(matches!(c.lookup(&root, "f"), Err(NfsError::Status { status: NfsStat3::NoEnt, .. })));
        assert!(matches!(mnt(mount, "/nowhere"), Err(NfsError::Mount(_))));

        running.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
