//! `tern serve`: NFSv3 and MOUNT v3 over [`HostFs`] exports, on std sockets.
//!
//! A dispatcher holds the NFS program (behind a duplicate request cache), the MOUNT program
//! and the exports table. The NFS port (TCP and UDP) is served by one such dispatcher per core
//! (`--shards`), each behind its own lock, so calls of different clients run in parallel; a
//! client's address always reaches the same shard (its DRC entries live there), and the shards'
//! back ends share handles, write verifier and soft state ([`HostFs::shard`]). The MOUNT port
//! is served by the first shard alone, so the mount list that DUMP shows is one list (MOUNT
//! calls sent to the NFS port, which no client does, would be kept by their shard).
//! Both programs are registered with the portmapper on port 111 (the system's rpcbind or Tern's
//! own); when nothing listens there, `tern serve` runs Tern's portmapper itself. Everything
//! durable (the handle secret, the server id) lives in the state directory, so handles stay
//! valid across restarts.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tern_core::exports::Exports;
use tern_core::fs;
use tern_core::nfs3::server::{self as nfsd, Nfs3Server, NfsService};
use tern_core::rpc::drc::DrcProgram;
use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping};

use crate::hostfs::{HandleSecret, HostFs, SoftConfig, SoftState};
use crate::portmap::PortmapServer;
use crate::server::{Server, ServerConfig, ServerHandle, core_now};

/// Most exports served.
pub const MAX_EXPORTS: usize = 64;
/// Most client entries over all exports.
pub const MAX_CLIENTS: usize = 256;
/// Entries of the duplicate request cache.
const DRC_ENTRIES: usize = 1024;
/// Largest cached reply (every NFSv3 non-idempotent reply fits).
const DRC_REPLY: usize = 512;
/// Entries of the MOUNT list, and their longest path.
const MOUNTS: usize = 256;
const MOUNT_PATH: usize = 1024;
/// Largest READ and WRITE.
pub const MAX_IO: u32 = 1024 * 1024;

type Nfs = DrcProgram<Nfs3Server<'static, HostFs, MAX_EXPORTS, MAX_EXPORTS, MAX_CLIENTS>, DRC_ENTRIES, DRC_REPLY>;
type Service = NfsService<'static, Nfs, MAX_EXPORTS, MAX_CLIENTS, MOUNTS, MOUNT_PATH>;

/// What `tern serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The exports table in exports(5) syntax.
    pub exports: String,
    /// Where the exports came from (for error messages).
    pub exports_source: String,
    /// Address to listen on.
    pub listen: IpAddr,
    /// NFS port.
    pub nfs_port: u16,
    /// MOUNT port.
    pub mount_port: u16,
    /// Directory for the handle secret and the server id.
    pub state_dir: PathBuf,
    /// The portmapper to register with.
    pub portmap: SocketAddr,
    /// Soft state of every export (open-file cache, read-ahead).
    pub soft: SoftConfig,
    /// Dispatchers run in parallel on the NFS port (0: one per core).
    pub shards: usize,
}

/// Why `tern serve` could not start; each is one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The exports table does not parse.
    #[error("{source_name} line {line}: {msg}")]
    Exports {
        /// The file (or "--export").
        source_name: String,
        /// 1-based line.
        line: u32,
        /// What is wrong.
        msg: String,
    },
    /// No export at all.
    #[error("nothing to export: give --exports FILE or --export 'DIR CLIENT(OPTIONS)'")]
    NoExports,
    /// An exported directory is missing or not a directory.
    #[error("export {0}: no such directory")]
    MissingDir(String),
    /// An export's back end could not start.
    #[error("export {path}: {msg}")]
    Backend {
        /// The export.
        path: String,
        /// Why.
        msg: String,
    },
    /// A port is taken.
    #[error("cannot listen on {addr}: address in use")]
    PortInUse {
        /// The address.
        addr: SocketAddr,
    },
    /// Another socket or file error.
    #[error("{what}: {source}")]
    Io {
        /// The step.
        what: String,
        /// The error.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ServeError {
    move |source| ServeError::Io { what: what.into(), source }
}

/// A running `tern serve`.
pub struct Running {
    nfs: ServerHandle,
    mount: ServerHandle,
    portmap: Option<PortmapServer>,
    registered: Option<SocketAddr>,
    sweeper: Option<Sweeper>,
    /// Addresses served: NFS, MOUNT.
    pub addrs: (SocketAddr, SocketAddr),
}

impl Running {
    /// Unregisters from the portmapper and stops every thread.
    pub fn shutdown(self) {
        if let Some(pm) = self.registered {
            for prog in [tern_core::nfs3::PROGRAM, tern_core::mount::PROGRAM] {
                if let Ok(mut c) = crate::client::RpcClient::udp(pm) {
                    let _ = crate::portmap::unset(&mut c, prog, 3);
                }
            }
        }
        self.nfs.shutdown();
        self.mount.shutdown();
        if let Some(s) = self.sweeper {
            s.stop();
        }
        if let Some(pm) = self.portmap {
            pm.handle.shutdown();
        }
    }
}

/// The thread that closes idle entries of the exports' open-file caches every second.
struct Sweeper {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Sweeper {
    fn start(states: Vec<Arc<SoftState>>) -> io::Result<Sweeper> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("soft-state".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::park_timeout(Duration::from_secs(1));
                let now = Instant::now();
                for s in &states {
                    s.sweep(now);
                }
            }
        })?;
        Ok(Sweeper { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

/// The server id kept in the state directory (created at random the first time).
fn server_id(state_dir: &Path) -> Result<u32, ServeError> {
    let path = state_dir.join("server-id");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(id) = text.trim().parse::<u32>()
    {
        return Ok(id);
    }
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServeError::Io { what: "random server id".into(), source: io::Error::other(e.to_string()) })?;
    let id = u32::from_be_bytes(bytes);
    std::fs::create_dir_all(state_dir).map_err(io_err(format!("state directory {}", state_dir.display())))?;
    std::fs::write(&path, format!("{id}\n")).map_err(io_err(format!("{}", path.display())))?;
    Ok(id)
}

fn bind(addr: SocketAddr) -> Result<(TcpListener, UdpSocket), ServeError> {
    let in_use = |e: io::Error| {
        if e.kind() == io::ErrorKind::AddrInUse {
            ServeError::PortInUse { addr }
        } else {
            ServeError::Io { what: format!("listen on {addr}"), source: e }
        }
    };
    let tcp = TcpListener::bind(addr).map_err(in_use)?;
    let udp = UdpSocket::bind(addr).map_err(in_use)?;
    Ok((tcp, udp))
}

fn boot_time() -> fs::Time {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let since = Duration::from_micros(core_now().as_micros());
    let boot = now.saturating_sub(since);
    fs::Time { secs: u32::try_from(boot.as_secs()).unwrap_or(u32::MAX), nsecs: boot.subsec_nanos() }
}

/// Builds the exports, binds the ports, registers with the portmapper and starts serving.
pub fn serve(opts: ServeOptions) -> Result<Running, ServeError> {
    let text: &'static str = Box::leak(opts.exports.clone().into_boxed_str());
    let table = Exports::<'static, MAX_EXPORTS, MAX_CLIENTS>::parse(text).map_err(|e| ServeError::Exports {
        source_name: opts.exports_source.clone(),
        line: e.line,
        msg: e.kind.to_string(),
    })?;
    if table.is_empty() {
        return Err(ServeError::NoExports);
    }
    let secret = HandleSecret::load_or_create(&opts.state_dir)
        .map_err(io_err(format!("handle secret in {}", opts.state_dir.display())))?;
    let mut cfg = nfsd::ServerConfig::new(server_id(&opts.state_dir)?, boot_time());
    cfg.max_read = MAX_IO;
    cfg.max_write = MAX_IO;
    cfg.max_readdir = 64 * 1024;
    let shards = match opts.shards {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(16),
        n => n.min(64),
    };
    let mut servers: Vec<_> = (0..shards).map(|_| Nfs3Server::new(table.clone(), cfg)).collect();
    if opts.soft.open_files > 0 {
        // Cached descriptors count against RLIMIT_NOFILE; the default soft limit (1024) is low.
        if let Err(e) = crate::sys::raise_nofile_limit() {
            tracing::warn!("cannot raise the open-file limit: {e}");
        }
    }
    let mut soft_states = Vec::new();
    for export in table.iter() {
        let path = export.path;
        if !Path::new(path).is_dir() {
            return Err(ServeError::MissingDir(path.to_string()));
        }
        let fs = HostFs::new(Path::new(path), &secret)
            .map_err(|e| ServeError::Backend { path: path.to_string(), msg: e.to_string() })?
            .with_soft_state(opts.soft);
        soft_states.push(fs.soft_state().clone());
        let backend = |e: String| ServeError::Backend { path: path.to_string(), msg: e };
        // Shard 0 gets the original, the others handles to the same export.
        let mut copies = Vec::with_capacity(shards);
        for _ in 1..shards {
            copies.push(fs.shard().map_err(|e| backend(e.to_string()))?);
        }
        copies.insert(0, fs);
        for (nfs, fs) in servers.iter_mut().zip(copies) {
            nfs.add(path, fs).map_err(|(e, _)| backend(e.to_string()))?;
        }
    }
    let services: Vec<Service> = servers.into_iter().map(|nfs| NfsService::new(DrcProgram::new(nfs))).collect();

    let nfs_addr = SocketAddr::new(opts.listen, opts.nfs_port);
    let mount_addr = SocketAddr::new(opts.listen, opts.mount_port);
    let (nfs_tcp, nfs_udp) = bind(nfs_addr)?;
    let (mount_tcp, mount_udp) = bind(mount_addr)?;
    let scfg = ServerConfig {
        max_record: MAX_IO as usize + 64 * 1024,
        max_reply: MAX_IO as usize + 64 * 1024,
        ..ServerConfig::default()
    };
    let server = Server::sharded(services, scfg);
    let nfs_h = server.spawn(Some(nfs_tcp), Some(nfs_udp)).map_err(io_err("start NFS threads"))?;
    let mount_h = Server::with_dispatcher(server.dispatcher(), scfg)
        .spawn(Some(mount_tcp), Some(mount_udp))
        .map_err(io_err("start MOUNT threads"))?;
    let addrs = (nfs_h.tcp_addr().unwrap_or(nfs_addr), mount_h.tcp_addr().unwrap_or(mount_addr));
    let sweeper = if opts.soft.open_files > 0 {
        Some(Sweeper::start(soft_states).map_err(io_err("start the soft-state thread"))?)
    } else {
        None
    };
    let mut running = Running { nfs: nfs_h, mount: mount_h, portmap: None, registered: None, sweeper, addrs };
    register(&opts, &mut running, addrs.0.port(), addrs.1.port());
    Ok(running)
}

/// Registers NFS 3 and MOUNT 3 with the portmapper at `opts.portmap`; when none answers
/// there and it is this host's port 111, serves Tern's own portmapper and registers in it.
fn register(opts: &ServeOptions, running: &mut Running, nfs_port: u16, mount_port: u16) {
    let progs = [(tern_core::nfs3::PROGRAM, nfs_port), (tern_core::mount::PROGRAM, mount_port)];
    let mut registered = true;
    for (prog, port) in progs {
        if let Err(e) = crate::portmap::register(opts.portmap, prog, 3, Some(port), Some(port)) {
            tracing::debug!("portmapper at {}: {e}", opts.portmap);
            registered = false;
            break;
        }
    }
    if registered {
        tracing::info!("registered NFS 3 and MOUNT 3 with the portmapper at {}", opts.portmap);
        running.registered = Some(opts.portmap);
        return;
    }
    match crate::portmap::serve(opts.portmap) {
        Ok(pm) => {
            {
                let d = pm.server.dispatcher();
                let mut d = crate::server::lock(&d);
                for (prog, port) in progs {
                    for prot in [IPPROTO_TCP, IPPROTO_UDP] {
                        d.programs().set(Mapping { prog, vers: 3, prot, port: u32::from(port) });
                    }
                }
            }
            tracing::info!("no portmapper answered at {}: serving Tern's own there", opts.portmap);
            running.portmap = Some(pm);
        }
        Err(e) => tracing::warn!(
            "no portmapper at {} and cannot serve one ({e}): clients must give the ports (nfsport, mountport)",
            opts.portmap
        ),
    }
}
