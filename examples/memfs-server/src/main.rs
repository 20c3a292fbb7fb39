//! `tern-example-memfs-server`: one in-memory [`MemFs`] export served over NFSv3 and MOUNT v3
//! (TCP and UDP) on std sockets, the way `tern serve` serves HostFs exports: one dispatcher
//! holds the NFS program (behind a duplicate request cache), the MOUNT program and the exports
//! table, and is served on the NFS port and on the MOUNT port.
//!
//! ```sh
//! cargo run --release -p tern-example-memfs-server -- --nfs-port 12049 --mount-port 12048
//! nfs-ls 'nfs://127.0.0.1/mem?version=3&nfsport=12049&mountport=12048'
//! ```
//!
//! The file system lives in the process's memory (four tables on the heap, leaked for
//! `'static`) and is lost at exit. Registration with a portmapper is optional (`--portmap`):
//! clients that give both ports (libnfs's `nfsport` and `mountport`) do not need one.
//! SIGINT or SIGTERM stops the server cleanly (exit 0).

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use tern_core::exports::Exports;
use tern_core::fs::Time;
use tern_core::fs::mem::{BLOCK_SIZE, Block, Config, Entry, MemFs, Node, Parts};
use tern_core::nfs3::server::{self as nfsd, Nfs3Server, NfsService};
use tern_core::rpc::drc::DrcProgram;
use tern_std::server::{Server, ServerConfig, core_now};

/// Exports served (one) and client entries of its line.
const EXPORTS: usize = 1;
const CLIENTS: usize = 32;
/// Duplicate request cache: entries, and the largest cached result (every NFSv3
/// non-idempotent result fits).
const DRC_ENTRIES: usize = 1024;
const DRC_REPLY: usize = 512;
/// Entries of the MOUNT list, and their longest path.
const MOUNTS: usize = 64;
const MOUNT_PATH: usize = 1024;
/// Largest READ and WRITE.
const MAX_IO: u32 = 1024 * 1024;

type Nfs = DrcProgram<Nfs3Server<'static, MemFs<'static>, EXPORTS, EXPORTS, CLIENTS>, DRC_ENTRIES, DRC_REPLY>;
type Service = NfsService<'static, Nfs, EXPORTS, CLIENTS, MOUNTS, MOUNT_PATH>;

/// Serve one in-memory file system over NFSv3 and MOUNT v3 (TCP and UDP).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    listen: IpAddr,
    /// NFS port (0: any free port).
    #[arg(long, default_value_t = 2049)]
    nfs_port: u16,
    /// MOUNT port (0: any free port).
    #[arg(long, default_value_t = 20048)]
    mount_port: u16,
    /// The path clients mount.
    #[arg(long, default_value = "/mem")]
    export_path: String,
    /// Data capacity in MiB (512-byte blocks; the node and name tables are sized from it).
    #[arg(long, default_value_t = 512)]
    size_mib: u32,
    /// Client entries of the export, in exports(5) syntax.
    #[arg(long, default_value = "127.0.0.1(rw,no_root_squash,insecure)")]
    clients: String,
    /// Register NFS 3 and MOUNT 3 with the portmapper at this address (e.g. 127.0.0.1:111).
    #[arg(long, value_name = "ADDR")]
    portmap: Option<SocketAddr>,
}

/// A heap table that lives as long as the process.
fn leak<T: Clone>(zero: T, n: usize) -> &'static mut [T] {
    Box::leak(vec![zero; n].into_boxed_slice())
}

fn time(d: Duration) -> Time {
    Time { secs: u32::try_from(d.as_secs()).unwrap_or(u32::MAX), nsecs: d.subsec_nanos() }
}

/// The wall-clock time now, and at the core clock's zero.
fn clock() -> (Duration, Time) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (now, time(now.saturating_sub(Duration::from_micros(core_now().as_micros()))))
}

/// Formats a MemFs of `size_mib` MiB of data.
fn memfs(size_mib: u32, stamp: u64, now: Time) -> Result<MemFs<'static>, String> {
    let blocks = usize::try_from(u64::from(size_mib) * (1 << 20) / BLOCK_SIZE as u64).map_err(|e| e.to_string())?;
    // One object per 32 KiB of data (at least 1024): plenty for a scratch file system; names
    // take 6 bytes plus their length, so 48 bytes per object leaves room for long names.
    let nodes = (blocks / 64).clamp(1024, 1 << 22);
    let parts = Parts {
        nodes: leak(Node::ZERO, nodes),
        entries: leak(Entry::ZERO, nodes),
        blocks: leak(Block::ZERO, blocks),
        names: leak(0u8, nodes * 48),
    };
    let mut cfg = Config::new(stamp, stamp.to_be_bytes());
    // A scratch area: anyone may create files at the root (as in /tmp).
    cfg.root_mode = 0o1777;
    cfg.now = now;
    tracing::info!(blocks, nodes, names = nodes * 48, "MemFs tables");
    MemFs::from_parts(parts, cfg).map_err(|e| format!("MemFs: {e:?}"))
}

fn bind(addr: SocketAddr) -> Result<(TcpListener, UdpSocket), String> {
    let tcp = TcpListener::bind(addr).map_err(|e| format!("listen on {addr} (tcp): {e}"))?;
    let udp_addr = SocketAddr::new(addr.ip(), tcp.local_addr().map_err(|e| e.to_string())?.port());
    let udp = UdpSocket::bind(udp_addr).map_err(|e| format!("listen on {udp_addr} (udp): {e}"))?;
    Ok((tcp, udp))
}

fn run(args: Args) -> Result<(), String> {
    let line: &'static str = Box::leak(format!("{} {}", args.export_path, args.clients).into_boxed_str());
    let table =
        Exports::<'static, EXPORTS, CLIENTS>::parse(line).map_err(|e| format!("exports line {line:?}: {}", e.kind))?;
    let export = table.get(0).map(|e| e.path).ok_or("nothing to export")?;
    let (now, boot) = clock();
    // Handles and write verifiers of this instance differ from those of any earlier one.
    let stamp = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
    let fs = memfs(args.size_mib, stamp, time(now))?;

    let mut cfg = nfsd::ServerConfig::new(stamp as u32 ^ (stamp >> 32) as u32, boot);
    cfg.max_read = MAX_IO;
    cfg.max_write = MAX_IO;
    cfg.max_readdir = 64 * 1024;
    let mut nfs = Nfs3Server::new(table, cfg);
    nfs.add(export, fs).map_err(|(e, _)| format!("export {export}: {e}"))?;
    let service: Service = NfsService::new(DrcProgram::new(nfs));

    let (nfs_tcp, nfs_udp) = bind(SocketAddr::new(args.listen, args.nfs_port))?;
    let (mount_tcp, mount_udp) = bind(SocketAddr::new(args.listen, args.mount_port))?;
    let scfg = ServerConfig {
        max_record: MAX_IO as usize + 64 * 1024,
        max_reply: MAX_IO as usize + 64 * 1024,
        ..ServerConfig::default()
    };
    // Signals are caught before anything is served (a TERM right after the first reply must
    // still shut down cleanly).
    let term = tern_std::signals::Termination::install().map_err(|e| e.to_string())?;
    let server = Server::new(service, scfg);
    let nfs_h = server.spawn(Some(nfs_tcp), Some(nfs_udp)).map_err(|e| format!("start NFS threads: {e}"))?;
    let mount_h = Server::with_dispatcher(server.dispatcher(), scfg)
        .spawn(Some(mount_tcp), Some(mount_udp))
        .map_err(|e| format!("start MOUNT threads: {e}"))?;
    let port = |h: &tern_std::ServerHandle| h.tcp_addr().map_or(0, |a| a.port());
    let (nfs_port, mount_port) = (port(&nfs_h), port(&mount_h));

    if let Some(pm) = args.portmap {
        for (prog, port) in [(tern_core::nfs3::PROGRAM, nfs_port), (tern_core::mount::PROGRAM, mount_port)] {
            if let Err(e) = tern_std::portmap::register(pm, prog, 3, Some(port), Some(port)) {
                tracing::warn!("cannot register program {prog} with the portmapper at {pm}: {e}");
            }
        }
    }
    tracing::info!(
        "serving {export} ({} MiB in memory) to {:?}: nfs {}:{nfs_port}, mount {}:{mount_port} (tcp+udp)",
        args.size_mib,
        args.clients,
        args.listen,
        args.listen
    );

    let sig = term.wait();
    tracing::info!("signal {sig}: shutting down");
    if let Some(pm) = args.portmap {
        for prog in [tern_core::nfs3::PROGRAM, tern_core::mount::PROGRAM] {
            if let Ok(mut c) = tern_std::RpcClient::udp(pm) {
                let _ = tern_std::portmap::unset(&mut c, prog, 3);
            }
        }
    }
    nfs_h.shutdown();
    mount_h.shutdown();
    let d = server.dispatcher();
    let mut d = d.lock().unwrap_or_else(|e| e.into_inner());
    let (s, drc) = (d.stats(), d.programs().nfs().stats());
    tracing::info!(
        "done: {} calls ok, {} errors, {} dropped; DRC {} hits, {} stored",
        s.success,
        s.errors,
        s.dropped,
        drc.hits,
        drc.stored
    );
    Ok(())
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(std::io::stderr).init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("tern-example-memfs-server: {msg}");
            ExitCode::FAILURE
        }
    }
}
