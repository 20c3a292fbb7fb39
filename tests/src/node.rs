//! Helpers of the node tests (`tests/node_*.rs`): `tern node` child processes and the `tern`
//! commands that drive them, nodes of the test process reachable only through proxies, and the
//! proxy itself (a TCP forwarder that can kill every connection through it, take the link
//! down, and show a test every RPC record sent to the node).

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tern_core::time::Duration as CoreDuration;
use tern_std::client::RpcClient;
use tern_std::node::{NodeOptions, proto};

use crate::{ChildGuard, free_port, local, tern_bin, wait_until};

/// The strategies' command-line names.
pub const STRATEGIES: [&str; 4] = ["stop-copy", "pre-copy", "post-copy", "hybrid"];

/// A `tern node` child process, stopped by PID when dropped.
pub struct Node {
    guard: ChildGuard,
    /// Its address.
    pub addr: String,
}

impl Node {
    /// Its resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.guard.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Starts `tern node` on a free port with `extra` arguments and waits until it answers.
pub fn start_node(extra: &[&str]) -> Node {
    start_node_at(&format!("127.0.0.1:{}", free_port()), extra)
}

/// [`start_node`] on `addr`.
pub fn start_node_at(addr: &str, extra: &[&str]) -> Node {
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut cmd = Command::new(tern_bin());
    cmd.args(["node", "--listen", addr]).args(extra);
    let guard = ChildGuard::spawn("tern node", &mut cmd);
    let up = wait_until(Duration::from_secs(20), || {
        RpcClient::tcp(local(port), Duration::from_secs(1))
            .and_then(|mut c| c.null(proto::PROGRAM, proto::VERSION).map_err(std::io::Error::other))
            .is_ok()
    });
    assert!(up, "tern node did not come up");
    Node { guard, addr: addr.to_string() }
}

/// Runs `tern ARGS`: exit code, stdout, stderr.
pub fn tern(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tern_bin()).args(args).output().expect("run tern");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tern spawn` of guest `g` on `node`; the new process's id.
pub fn spawn(node: &str, g: &Path, args: &[&str]) -> String {
    let mut a = vec!["spawn", "--node", node, g.to_str().unwrap()];
    a.extend_from_slice(args);
    let (code, out, err) = tern(&a);
    assert_eq!(code, 0, "spawn: {err}");
    out.trim().to_string()
}

/// How a process ended, as `tern wait` reports it.
#[derive(Debug, PartialEq, Eq)]
pub struct End {
    /// Exit status.
    pub code: i32,
    /// Console output.
    pub console: String,
    /// "N instructions, memory checksum X".
    pub figures: String,
}

/// `tern wait PID --node NODE`, parsed.
pub fn wait(pid: &str, node: &str) -> End {
    let (code, out, err) = tern(&["wait", pid, "--node", node]);
    let figures = err
        .lines()
        .find_map(|l| l.split_once(" (").filter(|_| l.contains("exited with status")).map(|(_, f)| f.to_string()))
        .unwrap_or_else(|| panic!("wait {pid}: {code} {err}"));
    End { code, console: out, figures }
}

/// Moves `pid` back and forth between the nodes `times` times with `strategy` while it runs;
/// returns the JSON reports.
pub fn migrate_around(pid: &str, a: &str, b: &str, strategy: &str, times: usize) -> Vec<String> {
    let mut at = a;
    let mut reports = Vec::new();
    for i in 0..times {
        let to = if at == a { b } else { a };
        let (code, out, err) = tern(&["migrate", pid, "--from", at, "--to", to, "--strategy", strategy, "--json"]);
        assert_eq!(code, 0, "{strategy} migration {i} of {pid} from {at} (reports so far: {reports:?}): {out}{err}");
        assert!(out.contains("\"moved\":true"), "{out}");
        reports.push(out);
        at = to;
        std::thread::sleep(Duration::from_millis(5 + 7 * i as u64 % 20));
    }
    reports
}

/// Options of a node of the test process at `addr` that other nodes reach through `proxy`,
/// with short link time-outs (150 ms) and retransmission timers (20-60 ms) so that a chaos
/// thread can cut the link many times a second.
pub fn proxied_options(addr: SocketAddr, proxy: &Proxy) -> NodeOptions {
    let mut o = NodeOptions::new(addr);
    o.advertise = Some(proxy.addr.clone());
    o.migrate.link_timeout = CoreDuration::from_millis(150);
    o.migrate.initial_rto = CoreDuration::from_millis(20);
    o.migrate.max_rto = CoreDuration::from_millis(60);
    o
}

/// 1 if `node` has process `pid` (running, stopped or ended there), 0 if it does not know it or
/// only forwards to where it moved (asked with WAIT, which answers for any process; PS lists
/// at most `MAX_PS` of them).
pub fn holds(node: &str, pid: u64) -> usize {
    let mut c = RpcClient::tcp(node.parse().unwrap(), Duration::from_secs(30)).unwrap();
    let r = c.call(proto::PROGRAM, proto::VERSION, proto::WAIT, &proto::Raw(&proto::id_to_xdr(pid))).unwrap();
    let state = proto::WaitReply::from_xdr(&r).unwrap().state;
    usize::from(!matches!(state, proto::ProcState::Unknown | proto::ProcState::Moved))
}

/// Looks at every whole RPC record a client sends through a [`Proxy`]; `true` drops the record
/// and closes that connection (the inspector takes the links down itself if it wants).
pub type Inspector = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// A TCP forwarder in front of a node that can kill every connection through it.
pub struct Proxy {
    /// Where clients connect.
    pub addr: String,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    /// While set, new connections are closed at once.
    pub down: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy to `target` that forwards bytes as they come.
    pub fn new(target: &str) -> Proxy {
        Proxy::inspecting(target, None)
    }

    /// A proxy that shows every record sent to the node to `inspect` before forwarding it.
    pub fn inspecting(target: &str, inspect: Option<Inspector>) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let down = Arc::new(AtomicBool::new(false));
        let (c, st, dn, target) = (conns.clone(), stop.clone(), down.clone(), target.to_string());
        l.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((inbound, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                if dn.load(Ordering::SeqCst) {
                    continue;
                }
                inbound.set_nonblocking(false).unwrap();
                let Ok(out) = TcpStream::connect(&target) else { continue };
                let (i2, o2) = (inbound.try_clone().unwrap(), out.try_clone().unwrap());
                c.lock().unwrap().extend([inbound.try_clone().unwrap(), out.try_clone().unwrap()]);
                for (to_node, (mut r, mut w)) in [(true, (inbound, out)), (false, (o2, i2))] {
                    let inspect = inspect.clone().filter(|_| to_node);
                    std::thread::spawn(move || {
                        match inspect {
                            Some(f) => {
                                let _ = forward_records(&mut r, &mut w, &*f);
                                let _ = r.shutdown(Shutdown::Both);
                            }
                            None => {
                                let _ = std::io::copy(&mut r, &mut w);
                            }
                        }
                        let _ = w.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { addr, conns, stop, down }
    }

    /// Kills every connection open through the proxy (new ones still work).
    pub fn kill(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.kill();
    }
}

/// The connections through a proxy, for a thread that kills them.
pub type KillHandle = Arc<Mutex<Vec<TcpStream>>>;

/// Copies RPC records (record marking, RFC 5531 §11) from `r` to `w`, each whole record
/// shown to `inspect` first; returns when a side closes or `inspect` asks for a cut.
fn forward_records(r: &mut TcpStream, w: &mut TcpStream, inspect: &dyn Fn(&[u8]) -> bool) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let (mut raw, mut record) = (Vec::new(), Vec::new());
    loop {
        let mut mark = [0u8; 4];
        r.read_exact(&mut mark)?;
        let mark = u32::from_be_bytes(mark);
        let len = (mark & 0x7fff_ffff) as usize;
        if record.len() + len > 64 << 20 {
            return Err(std::io::Error::other("record too large"));
        }
        let at = raw.len();
        raw.extend_from_slice(&mark.to_be_bytes());
        raw.resize(at + 4 + len, 0);
        r.read_exact(&mut raw[at + 4..])?;
        record.extend_from_slice(&raw[at + 4..]);
        if mark & 0x8000_0000 != 0 {
            if inspect(&record) {
                return Ok(());
            }
            w.write_all(&raw)?;
            raw.clear();
            record.clear();
        }
    }
}

impl Proxy {
    /// A handle on its connections ([`kill_all`] kills them).
    pub fn kill_handle(&self) -> KillHandle {
        self.conns.clone()
    }
}

/// Kills every connection behind `h`.
pub fn kill_all(h: &KillHandle) {
    for c in h.lock().unwrap().drain(..) {
        let _ = c.shutdown(Shutdown::Both);
    }
}
