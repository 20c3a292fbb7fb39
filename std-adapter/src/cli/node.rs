//! `tern node`, `tern spawn`, `tern ps`, `tern migrate`, `tern wait`: a node, and the commands
//! that talk to nodes through their RPC program ([`crate::node::proto`]).
//!
//! `migrate` and `wait` poll (every 20 ms): the node answers at once, so no call holds its
//! dispatcher. `wait` follows forwarding addresses: a node a process left answers "moved to
//! ADDR", and `wait` asks ADDR, until it finds the node where the process ended.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use tern_core::migrate::Strategy;

use super::progress::Progress;
use super::{CliError, exit};
use crate::client::{RpcClient, RpcError};
use crate::hostfs::{HandleSecret, HostFs};
use crate::nfs::{NfsUrl, RemoteFs, Session, SessionOptions};
use crate::node::proto::{self, IdReply, MigrateArgs, MigrationReport, ProcState, SpawnArgs, WaitReply, status};
use crate::node::{NodeFs, NodeOptions};

/// How often `migrate` and `wait` ask.
const POLL: Duration = Duration::from_millis(20);
/// How long `wait` keeps asking a node that does not answer.
const WAIT_UNREACHABLE: Duration = Duration::from_secs(10);

/// What `tern node` serves.
#[derive(Debug, Clone)]
pub struct NodeArgs {
    /// Address to listen on.
    pub listen: String,
    /// The address other nodes reach this one at.
    pub advertise: Option<String>,
    /// A host directory as the guests' `/` (HostFs).
    pub root: Option<PathBuf>,
    /// Where HostFs keeps its handle secret (nodes sharing it accept each other's handles).
    pub state: Option<PathBuf>,
    /// An NFS export as the guests' `/` (RemoteFs).
    pub nfs: Option<String>,
}

fn resolve(addr: &str) -> Result<SocketAddr, CliError> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| CliError::new(exit::USAGE, format!("{addr}: not a HOST:PORT address")))
}

/// Runs a node until SIGINT or SIGTERM.
pub fn node(a: &NodeArgs) -> Result<(), CliError> {
    let addr = resolve(&a.listen)?;
    let listener = TcpListener::bind(addr).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::AddrInUse { exit::ADDR_IN_USE } else { exit::GENERAL };
        CliError::new(code, format!("cannot listen on {addr}: {e}"))
    })?;
    let mut opts = NodeOptions::new(listener.local_addr().map_err(|e| CliError::io("listen", e))?);
    opts.advertise = a.advertise.clone();
    match (&a.root, &a.nfs) {
        (Some(_), Some(_)) => Err(CliError::new(exit::USAGE, "give --root or --nfs, not both")),
        (Some(dir), None) => {
            let fs = match &a.state {
                Some(state) => HostFs::open(dir, state),
                None => HandleSecret::generate()
                    .map_err(crate::hostfs::HostFsError::Secret)
                    .and_then(|s| HostFs::new(dir, &s)),
            }
            .map_err(|e| CliError::new(exit::MISSING_DIR, format!("--root {}: {e}", dir.display())))?;
            serve(listener, Some((fs, crate::run::dir_source(dir))), opts)
        }
        (None, Some(url)) => {
            let u = NfsUrl::parse(url).map_err(|e| CliError::new(exit::BAD_URL, e.to_string()))?;
            let (session, rest) =
                Session::open_url(&u, SessionOptions::default()).map_err(|e| CliError::nfs(url, e))?;
            if !rest.is_empty() {
                return Err(CliError::new(exit::USAGE, format!("{url}: give the export itself, not a path in it")));
            }
            let fs = RemoteFs::new(session).map_err(|e| CliError::nfs(url, e))?;
            serve(listener, Some((fs, crate::run::nfs_source(url))), opts)
        }
        (None, None) => serve::<HostFs>(listener, None, opts),
    }
}

fn serve<F: NodeFs>(
    listener: TcpListener,
    fs: Option<(F, tern_core::vfs::MountId)>,
    opts: NodeOptions,
) -> Result<(), CliError> {
    let term = crate::signals::Termination::install().map_err(|e| CliError::io("signals", e))?;
    let h = crate::node::start(listener, fs, opts).map_err(|e| CliError::io("node", e))?;
    tracing::info!(addr = %h.addr(), "node serving");
    eprintln!("tern node listening on {}", h.addr());
    let sig = term.wait();
    tracing::info!("signal {sig}: shutting down");
    h.shutdown();
    Ok(())
}

fn connect(node: &str) -> Result<RpcClient, CliError> {
    let addr = resolve(node)?;
    RpcClient::tcp(addr, Duration::from_secs(10)).map_err(|e| CliError::new(exit::UNREACHABLE, format!("{node}: {e}")))
}

fn call(c: &mut RpcClient, node: &str, proc_: u32, args: &[u8]) -> Result<Vec<u8>, CliError> {
    c.call(proto::PROGRAM, proto::VERSION, proc_, &proto::Raw(args)).map_err(|e| {
        let code = match e {
            RpcError::Io(_) | RpcError::Timeout | RpcError::Closed => exit::UNREACHABLE,
            RpcError::Refused(_) => exit::REFUSED,
            _ => exit::PROTOCOL,
        };
        CliError::new(code, format!("{node}: {e}"))
    })
}

fn bad_reply(node: &str) -> impl Fn(tern_core::xdr::Error) -> CliError + '_ {
    move |e| CliError::new(exit::PROTOCOL, format!("{node}: bad reply: {e}"))
}

fn id_failure(node: &str, r: &IdReply) -> CliError {
    let code = match r.status {
        status::NO_PROCESS => exit::NO_PROCESS,
        status::BAD_ELF => exit::BAD_GUEST,
        status::BUSY => exit::PROCESS_BUSY,
        _ => exit::USAGE,
    };
    CliError::new(code, format!("{node}: {}", r.message))
}

/// `tern spawn --node ADDR GUEST.elf [ARGS]`: starts a process; returns its id.
pub fn spawn(node: &str, guest: &std::path::Path, args: &[String]) -> Result<u64, CliError> {
    let elf = std::fs::read(guest).map_err(|e| CliError::io(&guest.display().to_string(), e))?;
    let name = guest.display().to_string();
    let mut argv = vec![name.clone()];
    argv.extend(args.iter().cloned());
    let a = SpawnArgs { name, elf, args: argv }
        .to_xdr()
        .map_err(|e| CliError::new(exit::USAGE, format!("{}: {e}", guest.display())))?;
    let mut c = connect(node)?;
    c.reserve_request(a.len() + 1024);
    let r = IdReply::from_xdr(&call(&mut c, node, proto::SPAWN, &a)?).map_err(bad_reply(node))?;
    if r.status != status::OK {
        return Err(id_failure(node, &r));
    }
    Ok(r.id)
}

/// `tern ps --node ADDR`: the node's processes.
pub fn ps(node: &str) -> Result<(), CliError> {
    let mut c = connect(node)?;
    let list = proto::ps_from_xdr(&call(&mut c, node, proto::PS, &[])?).map_err(bad_reply(node))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{:>20} {:<8} {:>14} {:>7} {:>6}  NAME", "PID", "STATE", "INSTRET", "PAGES", "REMOTE");
    for e in list {
        let state = match e.state {
            ProcState::Exited => format!("exit {}", e.code),
            s => s.name().to_string(),
        };
        let note = if e.note.is_empty() { String::new() } else { format!("  ({})", e.note) };
        let _ = writeln!(
            out,
            "{:>20} {:<8} {:>14} {:>7} {:>6}  {}{note}",
            e.pid, state, e.instret, e.pages, e.remote, e.name
        );
    }
    Ok(())
}

/// Parses `stop-copy|pre-copy|post-copy|hybrid`.
pub fn parse_strategy(s: &str) -> Result<Strategy, String> {
    Ok(match s {
        "stop-copy" | "stop-and-copy" => Strategy::StopAndCopy,
        "pre-copy" => Strategy::PreCopy,
        "post-copy" => Strategy::PostCopy,
        "hybrid" => Strategy::Hybrid,
        _ => return Err(format!("{s}: expected stop-copy, pre-copy, post-copy or hybrid")),
    })
}

fn strategy_num(s: Strategy) -> u32 {
    match s {
        Strategy::StopAndCopy => 0,
        Strategy::PreCopy => 1,
        Strategy::PostCopy => 2,
        Strategy::Hybrid => 3,
    }
}

/// `tern migrate ID --from A --to B --strategy S`: moves a process and returns the source's
/// report once the migration is over (printed as text or JSON by [`print_report`]).
pub fn migrate(pid: u64, from: &str, to: &str, strategy: Strategy) -> Result<MigrationReport, CliError> {
    resolve(to)?;
    let mut c = connect(from)?;
    let a = MigrateArgs { pid, to: to.to_string(), strategy: strategy_num(strategy) }
        .to_xdr()
        .map_err(|e| CliError::new(exit::USAGE, e.to_string()))?;
    let r = IdReply::from_xdr(&call(&mut c, from, proto::MIGRATE, &a)?).map_err(bad_reply(from))?;
    if r.status != status::OK {
        return Err(id_failure(from, &r));
    }
    let mut bar: Option<Progress> = None;
    loop {
        let rep = MigrationReport::from_xdr(&call(&mut c, from, proto::MIGRATION, &proto::id_to_xdr(r.id))?)
            .map_err(bad_reply(from))?;
        if !rep.found {
            return Err(CliError::new(exit::PROTOCOL, format!("{from}: forgot migration {}", r.id)));
        }
        // The size is known once the source has made its offer (the first reports say 0).
        let total = u64::from(rep.mapped) * 4096;
        let done = (rep.pages_sent * 4096).min(total);
        if bar.is_none() && total > 0 {
            bar = Some(Progress::new(&format!("migrating {pid}"), total));
        }
        if rep.done {
            if let Some(b) = bar.as_mut() {
                // Moved: all of it is there (zero pages travel as announcements, not data).
                b.finish(if rep.moved { total } else { done });
            }
            return Ok(rep);
        }
        if let Some(b) = bar.as_mut() {
            b.update(done);
        }
        std::thread::sleep(POLL);
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Prints a migration's report (text, or one JSON object); an error when the process did not
/// move (aborted or refused: it still runs at the source).
pub fn print_report(pid: u64, to: &str, r: &MigrationReport, json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if json {
        let _ = writeln!(
            out,
            "{{\"pid\":{pid},\"to\":{},\"strategy\":{},\"moved\":{},\"state\":{},\"downtime_ms\":{:.3},\
             \"total_ms\":{:.3},\"bytes_sent\":{},\"pages_sent\":{},\"zero_pages\":{},\"resent\":{},\
             \"rounds\":{},\"stop_reason\":{},\"remote_faults\":{},\"fault_wait_ms\":{:.3},\
             \"bandwidth\":{},\"rtt_ms\":{:.3},\"pages_mapped\":{}}}",
            json_str(to),
            json_str(&r.strategy),
            r.moved,
            json_str(&r.state),
            ms(r.downtime_us),
            ms(r.total_us),
            r.bytes_sent,
            r.pages_sent,
            r.zero_pages,
            r.resent,
            r.rounds,
            json_str(&r.stop_reason),
            r.remote_faults,
            ms(r.fault_wait_us),
            r.bandwidth,
            ms(r.rtt_us),
            r.mapped,
        );
    } else {
        let mib = r.bytes_sent as f64 / (1024.0 * 1024.0);
        let _ = writeln!(out, "process {pid} → {to} by {}: {}", r.strategy, r.state);
        let _ = writeln!(out, "  downtime      {:.3} ms", ms(r.downtime_us));
        let _ = writeln!(out, "  total         {:.3} ms", ms(r.total_us));
        let _ = writeln!(
            out,
            "  sent          {mib:.2} MiB ({} pages of {} mapped, {} zero pages announced, {} messages resent)",
            r.pages_sent, r.mapped, r.zero_pages, r.resent
        );
        let reason = if r.stop_reason.is_empty() { String::new() } else { format!(" ({})", r.stop_reason) };
        let _ = writeln!(out, "  rounds        {}{reason}", r.rounds);
        let _ = writeln!(out, "  remote faults {} ({:.3} ms waited)", r.remote_faults, ms(r.fault_wait_us));
        let _ = writeln!(
            out,
            "  link          {:.1} MiB/s, rtt {:.3} ms",
            r.bandwidth as f64 / (1024.0 * 1024.0),
            ms(r.rtt_us)
        );
    }
    if r.moved {
        Ok(())
    } else {
        Err(CliError::new(
            exit::MIGRATION_FAILED,
            format!("migration {}: the process still runs at the source", r.state),
        ))
    }
}

/// `tern wait ID --node ADDR`: waits for the process to end (following it where it moved) and
/// returns how it ended, with its whole console output.
pub fn wait(pid: u64, node: &str) -> Result<WaitReply, CliError> {
    let mut node = node.to_string();
    let mut c: Option<RpcClient> = None;
    let mut hops = 0;
    // A node unreachable for a moment (a link blip, a node restarting its listener) is asked
    // again; unreachable for this long, `wait` gives up.
    let mut unreachable_since: Option<std::time::Instant> = None;
    loop {
        let asked = match c.as_mut() {
            Some(c) => call(c, &node, proto::WAIT, &proto::id_to_xdr(pid)),
            None => connect(&node).and_then(|mut n| {
                let r = call(&mut n, &node, proto::WAIT, &proto::id_to_xdr(pid));
                c = Some(n);
                r
            }),
        };
        let bytes = match asked {
            Ok(b) => {
                unreachable_since = None;
                b
            }
            Err(e) if e.code == exit::UNREACHABLE => {
                c = None;
                let since = *unreachable_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > WAIT_UNREACHABLE {
                    return Err(e);
                }
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => return Err(e),
        };
        let r = WaitReply::from_xdr(&bytes).map_err(bad_reply(&node))?;
        match r.state {
            ProcState::Exited | ProcState::Faulted => return Ok(r),
            ProcState::Unknown => {
                return Err(CliError::new(exit::NO_PROCESS, format!("{node}: no process {pid}")));
            }
            ProcState::Moved => {
                hops += 1;
                if hops > 64 {
                    return Err(CliError::new(exit::PROTOCOL, format!("process {pid}: too many forwarding hops")));
                }
                node = r.note;
                c = None;
            }
            ProcState::Running | ProcState::Stopped => std::thread::sleep(POLL),
        }
    }
}
