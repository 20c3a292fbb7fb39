//! `tern node|spawn|ps|migrate|wait` across real node processes: every example guest that can
//! move (memory-worker, threads, file-worker over one NFS export both nodes mount) migrated
//! 10 times while it runs, with every strategy, ends with the same console output, exit
//! status, instruction count and memory checksum as a run that never moved (and the file
//! worker's result file is the same); a process with channel ends is refused; the failure
//! trials across real nodes (connections killed by a proxy at random moments); and the link
//! cut on purpose at every phase of the protocol (a proxy that reads the migration messages).

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tern_core::nfs3;
use tern_std::client::RpcClient;
use tern_std::node::proto;
use tern_tests::{ChildGuard, free_port, guest, local, temp_dir, tern_bin, wait_until};

const STRATEGIES: [&str; 4] = ["stop-copy", "pre-copy", "post-copy", "hybrid"];

struct Node {
    _guard: ChildGuard,
    addr: String,
}

fn start_node(extra: &[&str]) -> Node {
    start_node_at(&format!("127.0.0.1:{}", free_port()), extra)
}

fn start_node_at(addr: &str, extra: &[&str]) -> Node {
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
    Node { _guard: guard, addr: addr.to_string() }
}

fn tern(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(tern_bin()).args(args).output().expect("run tern");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn(node: &str, g: &Path, args: &[&str]) -> String {
    let mut a = vec!["spawn", "--node", node, g.to_str().unwrap()];
    a.extend_from_slice(args);
    let (code, out, err) = tern(&a);
    assert_eq!(code, 0, "spawn: {err}");
    out.trim().to_string()
}

/// How a process ended, as `tern wait` reports it.
#[derive(Debug, PartialEq, Eq)]
struct End {
    code: i32,
    console: String,
    /// "N instructions, memory checksum X".
    figures: String,
}

fn wait(pid: &str, node: &str) -> End {
    let (code, out, err) = tern(&["wait", pid, "--node", node]);
    let figures = err
        .lines()
        .find_map(|l| l.split_once(" (").filter(|_| l.contains("exited with status")).map(|(_, f)| f.to_string()))
        .unwrap_or_else(|| panic!("wait {pid}: {code} {err}"));
    End { code, console: out, figures }
}

/// Moves `pid` back and forth between the nodes `times` times with `strategy` while it runs;
/// returns the JSON reports.
fn migrate_around(pid: &str, a: &str, b: &str, strategy: &str, times: usize) -> Vec<String> {
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

/// A workload, sized so that even a debug build's VM runs it long enough for ten migrations.
struct Work {
    guest: &'static str,
    args: Vec<String>,
}

fn workloads() -> Vec<Work> {
    let items = if cfg!(debug_assertions) { "800000" } else { "6000000" };
    vec![
        // 64 pages dirtied 16 per round, a 3 ms sleep per round: about 3 s whatever the build.
        Work { guest: "memory-worker", args: ["64", "1000", "16", "3000"].map(String::from).to_vec() },
        Work { guest: "threads", args: ["4", items].map(String::from).to_vec() },
    ]
}

#[test]
fn guests_migrated_ten_times_end_as_if_they_never_moved() {
    let a = start_node(&[]);
    let b = start_node(&[]);
    for w in workloads() {
        let g = guest(w.guest);
        let args: Vec<&str> = w.args.iter().map(String::as_str).collect();
        let reference = {
            let pid = spawn(&a.addr, &g, &args);
            wait(&pid, &a.addr)
        };
        assert_eq!(reference.code, 0, "{}: {reference:?}", w.guest);
        // Every strategy at once (the nodes run several processes and migrations).
        let results: Vec<(String, End)> = std::thread::scope(|s| {
            let hs: Vec<_> = STRATEGIES
                .iter()
                .map(|&st| {
                    let (a, b, g, args) = (&a.addr, &b.addr, &g, &args);
                    s.spawn(move || {
                        let pid = spawn(a, g, args);
                        migrate_around(&pid, a, b, st, 10);
                        (st.to_string(), wait(&pid, a))
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (st, end) in results {
            assert_eq!(end, reference, "{} moved by {st}", w.guest);
        }
    }
}

struct Served {
    _guard: ChildGuard,
    url: String,
}

fn serve(export: &Path, state: &Path) -> Served {
    let (nfs, mount) = (free_port(), free_port());
    let line = format!("{} 127.0.0.1(rw,no_root_squash,insecure)", export.display());
    let mut cmd = Command::new(tern_bin());
    cmd.args(["serve", "--listen", "127.0.0.1", "--export", &line]);
    cmd.args(["--nfs-port", &nfs.to_string(), "--mount-port", &mount.to_string()]);
    cmd.arg("--state-dir").arg(state).args(["--portmap", &format!("127.0.0.1:{}", free_port())]);
    let guard = ChildGuard::spawn("tern serve", &mut cmd);
    let up = wait_until(Duration::from_secs(20), || {
        RpcClient::tcp(local(nfs), Duration::from_secs(1))
            .and_then(|mut c| c.null(nfs3::PROGRAM, 3).map_err(std::io::Error::other))
            .is_ok()
    });
    assert!(up, "tern serve did not come up");
    Served {
        _guard: guard,
        url: format!("nfs://127.0.0.1{}?version=3&nfsport={nfs}&mountport={mount}", export.display()),
    }
}

#[test]
fn file_worker_migrated_over_one_nfs_export_writes_the_same_file() {
    let dir = temp_dir("node-files");
    let (export, state) = (dir.join("export"), dir.join("state"));
    std::fs::create_dir_all(export.join("sub")).unwrap();
    let input: Vec<u8> =
        (0..300_000u32).map(|i| b"Pack my box with five dozen liquor jugs.\n"[(i % 41) as usize]).collect();
    std::fs::write(export.join("in.txt"), &input).unwrap();
    let s = serve(&export, &state);
    // Both nodes see the same export: a handle means the same file from either.
    let a = start_node(&["--nfs", &s.url]);
    let b = start_node(&["--nfs", &s.url]);
    let g = guest("file-worker");
    let args = ["/in.txt", "sub/out.txt", "32"];
    let out = export.join("sub/out.txt");
    let reference = wait(&spawn(&a.addr, &g, &args), &a.addr);
    assert_eq!(reference.code, 0, "{reference:?}");
    let want = std::fs::read(&out).unwrap();
    for st in STRATEGIES {
        std::fs::remove_file(&out).unwrap();
        let pid = spawn(&a.addr, &g, &args);
        migrate_around(&pid, &a.addr, &b.addr, st, 10);
        let end = wait(&pid, &a.addr);
        assert_eq!(end, reference, "file-worker moved by {st}");
        assert!(std::fs::read(&out).unwrap() == want, "{st}: the result file differs");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn processes_with_channels_do_not_move_yet_and_ps_lists_them() {
    let a = start_node(&[]);
    let b = start_node(&[]);
    let g = guest("chan-peer");
    // pong waits for messages that never come: it stays parked with its channel end open.
    let pid = spawn(&a.addr, &g, &["pong", "lonely"]);
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, err) = tern(&["migrate", &pid, "--from", &a.addr, "--to", &b.addr, "--strategy", "stop-copy"]);
    assert_eq!(code, 23, "{err}");
    assert!(err.contains("channel"), "{err}");
    let (code, out, _) = tern(&["ps", "--node", &a.addr]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.contains(&pid) && l.contains("running")), "{out}");
    let (code, _, err) = tern(&["migrate", "12345", "--from", &a.addr, "--to", &b.addr, "--strategy", "hybrid"]);
    assert_eq!(code, 21, "{err}");
    let (code, _, _) = tern(&["wait", "12345", "--node", &b.addr]);
    assert_eq!(code, 21);
}

/// Looks at every whole RPC record a client sends through a [`Proxy`]; `true` drops the record
/// and closes that connection (the inspector takes the links down itself if it wants).
type Inspector = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// A TCP forwarder in front of a node that can kill every connection through it.
struct Proxy {
    addr: String,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    /// While set, new connections are closed at once.
    down: Arc<AtomicBool>,
}

impl Proxy {
    fn new(target: &str) -> Proxy {
        Proxy::inspecting(target, None)
    }

    /// A proxy that shows every record sent to the node to `inspect` before forwarding it.
    fn inspecting(target: &str, inspect: Option<Inspector>) -> Proxy {
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
    fn kill(&self) {
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

#[test]
fn killed_migration_connections_across_real_nodes_lose_nothing() {
    // Each node is reached (by the other node) only through its proxy.
    let pa = free_port();
    let pb = free_port();
    let (a_addr, b_addr) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
    let proxy_a = Proxy::new(&a_addr);
    let proxy_b = Proxy::new(&b_addr);
    let node_a = start_node_at(&a_addr, &["--advertise", &proxy_a.addr]);
    let node_b = start_node_at(&b_addr, &["--advertise", &proxy_b.addr]);
    let (a, b) = (node_a.addr.clone(), node_b.addr.clone());
    let g = guest("memory-worker");
    let args = ["32", "150", "8", "2000"];
    let reference = wait(&spawn(&a, &g, &args), &a);
    let trials = 6;
    for (i, st) in STRATEGIES.iter().cycle().take(trials * 4).enumerate() {
        let pid = spawn(&a, &g, &args);
        let killer = {
            let (pa, pb) = (proxy_a.kill_handle(), proxy_b.kill_handle());
            let delay = Duration::from_millis(3 + (i as u64 * 37) % 60);
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                kill_all(&pa);
                std::thread::sleep(Duration::from_millis(5 + (delay.as_millis() as u64 % 11)));
                kill_all(&pb);
            })
        };
        // The migration may complete or be aborted: either way the process ends exactly once.
        let (code, out, err) = tern(&["migrate", &pid, "--from", &a, "--to", &proxy_b.addr, "--strategy", st]);
        assert!(code == 0 || code == 22 || code == 23, "{st}: {code} {out}{err}");
        killer.join().unwrap();
        let end = wait(&pid, &a);
        assert_eq!(end, reference, "{st} trial {i}");
        let count = |node: &str| {
            let (_, out, _) = tern(&["ps", "--node", node]);
            out.lines().filter(|l| l.contains(&pid) && !l.contains("moved")).count()
        };
        assert_eq!(count(&a) + count(&b), 1, "{st} trial {i}: one node has the ended process");
    }
    drop((proxy_a, proxy_b));
}

type KillHandle = Arc<Mutex<Vec<TcpStream>>>;

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
    fn kill_handle(&self) -> KillHandle {
        self.conns.clone()
    }
}

fn kill_all(h: &KillHandle) {
    for c in h.lock().unwrap().drain(..) {
        let _ = c.shutdown(Shutdown::Both);
    }
}

/// 1 if `node` has process `pid` (running, stopped or ended there), 0 if it does not know it or
/// only forwards to where it moved (asked with WAIT, which answers for any process; PS lists
/// at most `MAX_PS` of them).
fn holds(node: &str, pid: u64) -> usize {
    let mut c = RpcClient::tcp(node.parse().unwrap(), Duration::from_secs(30)).unwrap();
    let r = c.call(proto::PROGRAM, proto::VERSION, proto::WAIT, &proto::Raw(&proto::id_to_xdr(pid))).unwrap();
    let state = proto::WaitReply::from_xdr(&r).unwrap().state;
    usize::from(!matches!(state, proto::ProcState::Unknown | proto::ProcState::Moved))
}

/// Sends one FRAMES call to `node` (answers go to a port nobody listens on).
fn frames(node: &str, frames: &[Vec<u8>]) {
    let mut c = RpcClient::tcp(node.parse().unwrap(), Duration::from_secs(5)).unwrap();
    let args = proto::frames_to_xdr("127.0.0.1:9", frames).unwrap();
    c.call(proto::PROGRAM, proto::VERSION, proto::FRAMES, &proto::Raw(&args)).unwrap();
}

fn encode(id: u64, seq: u32, body: tern_core::migrate::Body<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; tern_core::migrate::msg::MAX_MSG_LEN];
    let n = tern_core::migrate::Msg { id: tern_core::migrate::MigrationId(id), seq, ack: 0, body }
        .encode(&mut buf)
        .unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn hostile_migration_streams_are_refused_and_harm_no_process() {
    use tern_core::migrate::msg::{Bytes, Content, ControlChunk, MapRun, MapState, Offer, Page, Prepare};
    use tern_core::migrate::{Body, Strategy};
    let a = start_node(&[]);
    let g = guest("memory-worker");
    let args = ["32", "300", "8", "2000"];
    let reference = wait(&spawn(&a.addr, &g, &args), &a.addr);
    let pid = spawn(&a.addr, &g, &args);
    let offer = |page_count| Body::Offer(Offer { strategy: Strategy::StopAndCopy, page_count, mapped: 1 });
    let page = [7u8; 4096];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..40u64 {
        let id = 1000 + round;
        let mut batch: Vec<Vec<u8>> = Vec::new();
        // Garbage that does not decode, and truncated real messages.
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            batch.push(x.to_le_bytes().iter().cycle().take((x % 300) as usize).copied().collect());
        }
        let o = encode(id, 0, offer(64));
        batch.push(o[..o.len() / 2].to_vec());
        // A migration that breaks the protocol at a different point each round.
        batch.push(encode(id, 0, offer(if round % 5 == 0 { u32::MAX / 2 } else { 64 })));
        let bad = match round % 4 {
            0 => Body::Page(Page { vpn: 64, content: Content::Data(Bytes(&page)) }),
            1 => Body::Map(MapRun { first: 60, count: 10, state: MapState::Zero }),
            2 => Body::Control(ControlChunk { total: 8, offset: 0, bytes: Bytes(b"not a pcb") }),
            _ => Body::Prepare(Prepare { control_len: 0, remote: 0, rounds: 1 }),
        };
        batch.push(encode(id, 1, Body::Page(Page { vpn: 3, content: Content::Data(Bytes(&page)) })));
        batch.push(encode(id, 2, bad));
        // A well-formed control chunk that is no control block, then a Prepare: refused.
        batch.push(encode(id, 3, Body::Control(ControlChunk { total: 9, offset: 0, bytes: Bytes(b"not a pcb") })));
        batch.push(encode(id, 4, Body::Prepare(Prepare { control_len: 9, remote: 0, rounds: 1 })));
        batch.push(encode(id, 0, Body::Commit));
        // Messages for migrations nobody knows.
        batch.push(encode(id + 1_000_000, 0, Body::Commit));
        batch.push(encode(id + 1_000_000, 7, Body::Request(5)));
        frames(&a.addr, &batch);
    }
    // The running process is untouched and no process came out of the hostile streams.
    let end = wait(&pid, &a.addr);
    assert_eq!(end, reference);
    let (_, out, _) = tern(&["ps", "--node", &a.addr]);
    assert_eq!(out.lines().count(), 3, "header and the two processes only:\n{out}");
    // A FRAMES call whose arguments do not decode is refused (GARBAGE_ARGS), the node lives on.
    let mut c = RpcClient::tcp(a.addr.parse().unwrap(), Duration::from_secs(5)).unwrap();
    assert!(c.call(proto::PROGRAM, proto::VERSION, proto::FRAMES, &proto::Raw(&[0, 0, 0, 200, 1])).is_err());
    assert_eq!(wait(&pid, &a.addr), reference);
}

/// The in-process failure trials: two nodes of this test process (the same code as `tern
/// node`), each reached by the other only through a proxy that a chaos thread keeps killing
/// (every connection, every few milliseconds) and now and then takes down for longer than the
/// link timeout (so migrations abort before their commit, and wait after it). `TRIALS`
/// migrations per strategy, run a batch at a time: each process ends exactly once, on one
/// node, with the output of a run that never moved.
#[test]
fn failure_trials_every_strategy_exactly_once() {
    use tern_core::time::Duration as CoreDuration;
    use tern_std::node::{NodeOptions, start};
    // CI runs 100 per strategy (about 70 s of a debug build on two cores); NODE_TRIALS for more.
    let trials: usize = std::env::var("NODE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let la = TcpListener::bind("127.0.0.1:0").unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (la.local_addr().unwrap(), lb.local_addr().unwrap());
    let proxy_a = Proxy::new(&a_addr.to_string());
    let proxy_b = Proxy::new(&b_addr.to_string());
    let opts = |addr, adv: &Proxy| {
        let mut o = NodeOptions::new(addr);
        o.advertise = Some(adv.addr.clone());
        o.migrate.link_timeout = CoreDuration::from_millis(150);
        o.migrate.initial_rto = CoreDuration::from_millis(20);
        o.migrate.max_rto = CoreDuration::from_millis(60);
        o
    };
    let na = start::<tern_std::hostfs::HostFs>(la, None, opts(a_addr, &proxy_a)).unwrap();
    let nb = start::<tern_std::hostfs::HostFs>(lb, None, opts(b_addr, &proxy_b)).unwrap();
    let (a, b) = (a_addr.to_string(), b_addr.to_string());
    let g = guest("memory-worker");
    let args: Vec<String> = ["16", "40", "4", "1500"].map(String::from).to_vec();
    use tern_std::cli::node as cli;
    let reference = cli::wait(cli::spawn(&a, &g, &args).unwrap(), &a).unwrap();
    assert_eq!(reference.code, 0);

    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (ka, kb, stop) = (proxy_a.kill_handle(), proxy_b.kill_handle(), stop.clone());
        let (da, db) = (proxy_a.down.clone(), proxy_b.down.clone());
        std::thread::spawn(move || {
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            while !stop.load(Ordering::SeqCst) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                std::thread::sleep(Duration::from_millis(2 + x % 25));
                match x % 16 {
                    0 => {
                        // Down for longer than the link timeout.
                        let d = if x & 16 == 0 { &da } else { &db };
                        d.store(true, Ordering::SeqCst);
                        kill_all(&ka);
                        kill_all(&kb);
                        std::thread::sleep(Duration::from_millis(160 + (x >> 8) % 250));
                        d.store(false, Ordering::SeqCst);
                    }
                    1..=6 => kill_all(&ka),
                    7..=12 => kill_all(&kb),
                    _ => {}
                }
            }
        })
    };
    let (mut moved, mut stayed) = (0, 0);
    // The slowest answer to PS (a plain table listing): how long a node kept its RPCs waiting.
    let slowest = Mutex::new(Duration::ZERO);
    for st in ["stop-copy", "pre-copy", "post-copy", "hybrid"] {
        let strategy = cli::parse_strategy(st).unwrap();
        let started = std::time::Instant::now();
        let mut done = 0;
        while done < trials {
            let batch = (trials - done).min(10);
            let results: Vec<bool> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..batch)
                    .map(|k| {
                        let (a, b, g, args, pb, reference) = (&a, &b, &g, &args, &proxy_b.addr, &reference);
                        let slowest = &slowest;
                        s.spawn(move || {
                            let pid = cli::spawn(a, g, args).unwrap();
                            std::thread::sleep(Duration::from_millis((k as u64 * 7) % 30));
                            let r = cli::migrate(pid, a, pb, strategy);
                            let end = cli::wait(pid, a).unwrap();
                            assert_eq!((end.code, &end.console), (reference.code, &reference.console), "{st} {pid}");
                            assert_eq!((end.instret, end.checksum), (reference.instret, reference.checksum));
                            // PS (a listing of the whole table, every ended process included)
                            // stays quick however many ended there.
                            let t = std::time::Instant::now();
                            let mut c = RpcClient::tcp(a.parse().unwrap(), Duration::from_secs(30)).unwrap();
                            proto::ps_from_xdr(&c.call(proto::PROGRAM, proto::VERSION, proto::PS, &()).unwrap())
                                .unwrap();
                            let mut m = slowest.lock().unwrap();
                            *m = (*m).max(t.elapsed());
                            drop(m);
                            assert_eq!(holds(a, pid) + holds(b, pid), 1, "{st} {pid}: exactly one node has it");
                            r.is_ok_and(|r| r.moved)
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            moved += results.iter().filter(|m| **m).count();
            stayed += results.iter().filter(|m| !**m).count();
            done += batch;
        }
        eprintln!("{st}: {trials} trials in {:.1} s", started.elapsed().as_secs_f64());
    }
    stop.store(true, Ordering::SeqCst);
    chaos.join().unwrap();
    let slowest = slowest.into_inner().unwrap();
    eprintln!("{moved} trials moved the process, {stayed} left it at the source; slowest PS {slowest:?}");
    // A listing is a short hold of the node's lock, however many processes ended there (it was
    // seconds once a few hundred had, and RPCs behind it waited that long).
    assert!(slowest < Duration::from_secs(3), "a node kept PS waiting {slowest:?}");
    assert!(moved > 0 && stayed > 0, "the chaos exercised both outcomes");
    drop((na, nb));
}

/// A protocol phase to cut the link at: the message that marks it (either direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// S→D: the offer.
    Offer,
    /// D→S: the offer accepted.
    Accept,
    /// S→D: the first copy round starts (pre-copy and hybrid: the process runs).
    FirstRound,
    /// S→D: a page of a copy round (the n-th).
    Copying,
    /// S→D: a live copy round after the first (pre-copy).
    LaterRound,
    /// S→D: the round or map sent with the process stopped.
    StoppedRound,
    /// S→D: the control block (the process is stopped).
    Control,
    /// S→D: the end of the stream, asking the destination to prepare.
    Prepare,
    /// D→S: prepared, waiting for the decision.
    Ready,
    /// S→D: the hand-off (the source has committed).
    Commit,
    /// D→S: the process runs at the destination.
    Committed,
    /// D→S: a post-copy page fault.
    Request,
    /// S→D: a post-copy page (the n-th).
    Push,
    /// D→S: every page is here.
    Confirm,
    /// S→D: the source released its copy.
    Finish,
}

const PHASES: [Phase; 15] = [
    Phase::Offer,
    Phase::Accept,
    Phase::FirstRound,
    Phase::Copying,
    Phase::LaterRound,
    Phase::StoppedRound,
    Phase::Control,
    Phase::Prepare,
    Phase::Ready,
    Phase::Commit,
    Phase::Committed,
    Phase::Request,
    Phase::Push,
    Phase::Confirm,
    Phase::Finish,
];

impl Phase {
    fn matches(self, b: &tern_core::migrate::Body<'_>) -> bool {
        use tern_core::migrate::Body;
        match (self, b) {
            (Phase::Offer, Body::Offer(_)) | (Phase::Accept, Body::Accept) => true,
            (Phase::FirstRound, Body::Round(r)) => r.round == 0,
            (Phase::LaterRound, Body::Round(r)) => r.round > 0 && !r.stopped,
            (Phase::StoppedRound, Body::Round(r)) => r.stopped,
            (Phase::Copying, Body::Page(_)) | (Phase::Control, Body::Control(_)) => true,
            (Phase::Prepare, Body::Prepare(_)) | (Phase::Ready, Body::Ready) => true,
            (Phase::Commit, Body::Commit) | (Phase::Committed, Body::Committed) => true,
            (Phase::Request, Body::Request(_)) | (Phase::Push, Body::Push(_)) => true,
            (Phase::Confirm, Body::Confirm(_)) | (Phase::Finish, Body::Finish) => true,
            _ => false,
        }
    }

    /// Whether the source has decided (committed) by the time this message exists.
    fn after_commit(self) -> bool {
        matches!(self, Phase::Commit | Phase::Committed | Phase::Request | Phase::Push | Phase::Confirm | Phase::Finish)
    }
}

/// A cut armed on both proxies: at the `nth` message of `phase` of the migration it claims
/// (the first one offered after arming), the message is dropped, and every connection through
/// the proxies of `sides` is killed and they stay down for `outage`.
struct Trap {
    phase: Phase,
    nth: u32,
    outage: Duration,
    /// Which links go down: `[to the source, to the destination]`.
    sides: [bool; 2],
    claimed: Option<tern_core::migrate::MigrationId>,
    seen: u32,
    /// The source's migration state (MIGRATION) just after the cut.
    fired: Option<String>,
}

struct Traps {
    trap: Mutex<Option<Trap>>,
    /// Both proxies' connections and down switches (the source's, then the destination's).
    links: Mutex<Vec<(KillHandle, Arc<AtomicBool>)>>,
    /// The source node (asked for its migration state at the cut).
    source: Mutex<String>,
}

impl Traps {
    /// The inspector of a proxy: decodes FRAMES calls and springs the trap.
    fn inspect(self: &Arc<Self>, record: &[u8]) -> bool {
        use tern_core::rpc::Message;
        let Ok(Message::Call(h, args)) = Message::decode(record) else { return false };
        if h.proc_ != proto::FRAMES {
            return false;
        }
        let Ok((_, frames)) = proto::frames_from_xdr(args) else { return false };
        let mut guard = self.trap.lock().unwrap();
        let Some(t) = guard.as_mut().filter(|t| t.fired.is_none()) else { return false };
        let mut hit = None;
        for f in frames {
            let Ok(m) = tern_core::migrate::Msg::decode(f) else { continue };
            if t.claimed.is_none() && matches!(m.body, tern_core::migrate::Body::Offer(_)) {
                t.claimed = Some(m.id);
            }
            if t.claimed == Some(m.id) && t.phase.matches(&m.body) {
                t.seen += 1;
                if t.seen == t.nth {
                    hit = Some(m.id);
                    break;
                }
            }
        }
        let Some(mid) = hit else { return false };
        // The source's state while the message is held: its node's sender waits for this call,
        // so nothing later in that direction (no decision either) can pass before the cut.
        let source = self.source.lock().unwrap().clone();
        let state = RpcClient::tcp(source.parse().unwrap(), Duration::from_secs(30))
            .and_then(|mut c| {
                c.call(proto::PROGRAM, proto::VERSION, proto::MIGRATION, &proto::Raw(&proto::id_to_xdr(mid.0)))
                    .map_err(std::io::Error::other)
            })
            .map(|b| proto::MigrationReport::from_xdr(&b).unwrap().state)
            .unwrap_or_else(|e| format!("unknown ({e})"));
        for ((conns, down), _) in self.links.lock().unwrap().iter().zip(t.sides).filter(|(_, on)| *on) {
            down.store(true, Ordering::SeqCst);
            kill_all(conns);
        }
        t.fired = Some(state);
        let (me, outage) = (self.clone(), t.outage);
        std::thread::spawn(move || {
            std::thread::sleep(outage);
            for (_, down) in me.links.lock().unwrap().iter() {
                down.store(false, Ordering::SeqCst);
            }
        });
        true
    }
}

/// The link between two nodes cut deliberately at every phase of the protocol, for every
/// strategy: a proxy that reads the migration messages drops the n-th message of the phase
/// (n random for a round's page, a later round, a push), kills the connections and keeps the
/// link down, both ways or one way, for less than the link timeout or for longer (random;
/// `PHASE_SEED` repeats a run's choices). The process ends exactly once, on one node, with the
/// output of a run that never moved; a long cut both ways before the commit leaves it at the
/// source, and a cut at or after the commit still moves it. `PHASE_TRIALS` repeats each case.
#[test]
fn link_cut_at_every_protocol_phase() {
    use tern_core::time::Duration as CoreDuration;
    use tern_std::cli::node as cli;
    use tern_std::node::{NodeOptions, start};
    let repeat: usize = std::env::var("PHASE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let la = TcpListener::bind("127.0.0.1:0").unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = (la.local_addr().unwrap().to_string(), lb.local_addr().unwrap().to_string());
    let traps = Arc::new(Traps { trap: Mutex::new(None), links: Mutex::default(), source: Mutex::new(a.clone()) });
    let inspector = || -> Inspector {
        let t = traps.clone();
        Arc::new(move |r: &[u8]| t.inspect(r))
    };
    let proxy_a = Proxy::inspecting(&a, Some(inspector()));
    let proxy_b = Proxy::inspecting(&b, Some(inspector()));
    for p in [&proxy_a, &proxy_b] {
        traps.links.lock().unwrap().push((p.kill_handle(), p.down.clone()));
    }
    let link_timeout = Duration::from_millis(150);
    let opts = |addr: &str, adv: &Proxy| {
        let mut o = NodeOptions::new(addr.parse().unwrap());
        o.advertise = Some(adv.addr.clone());
        o.migrate.link_timeout = CoreDuration::from_millis(link_timeout.as_millis() as u64);
        o.migrate.initial_rto = CoreDuration::from_millis(20);
        o.migrate.max_rto = CoreDuration::from_millis(60);
        // A round spans several windows (the process dirties pages meanwhile), and pre-copy
        // never meets the downtime budget: it runs every live round.
        o.migrate.window_bytes = 16 * 1024;
        o.migrate.push_window_bytes = 16 * 1024;
        o.migrate.max_downtime = CoreDuration::from_micros(1);
        o.migrate.max_rounds = 3;
        o
    };
    let na = start::<tern_std::hostfs::HostFs>(la, None, opts(&a, &proxy_a)).unwrap();
    let nb = start::<tern_std::hostfs::HostFs>(lb, None, opts(&b, &proxy_b)).unwrap();
    let g = guest("memory-worker");
    // Long enough (a few hundred ms) that every migration reaches its last phase first, and
    // dirtying pages often enough that pre-copy has live rounds after the first, hybrid pushes.
    let args: Vec<String> = ["24", "3000", "6", "100"].map(String::from).to_vec();
    let reference = cli::wait(cli::spawn(&a, &g, &args).unwrap(), &a).unwrap();
    assert_eq!(reference.code, 0);
    let seed: u64 = std::env::var("PHASE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("PHASE_SEED={seed}");
    let mut x = seed | 1;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut table = Vec::new();
    for st in STRATEGIES {
        let strategy = cli::parse_strategy(st).unwrap();
        for phase in PHASES {
            for _ in 0..repeat {
                let nth = 1 + match phase {
                    Phase::Copying => rnd(8),
                    Phase::LaterRound | Phase::Push => rnd(2),
                    _ => 0,
                } as u32;
                let long = rnd(2) == 0;
                let sides = [[true, true], [true, false], [false, true]][rnd(4).min(2) as usize];
                let outage = if long {
                    link_timeout * 2 + Duration::from_millis(rnd(200))
                } else {
                    Duration::from_millis(rnd(link_timeout.as_millis() as u64 / 3))
                };
                *traps.trap.lock().unwrap() =
                    Some(Trap { phase, nth, outage, sides, claimed: None, seen: 0, fired: None });
                let pid = cli::spawn(&a, &g, &args).unwrap();
                std::thread::sleep(Duration::from_millis(5 + rnd(20)));
                let r = cli::migrate(pid, &a, &proxy_b.addr, strategy);
                let end = cli::wait(pid, &a).unwrap();
                let trap = traps.trap.lock().unwrap().take().unwrap();
                let case =
                    format!("{st} cut at {phase:?} #{nth} for {outage:?} on {sides:?} (source: {:?})", trap.fired);
                assert_eq!((end.code, &end.console), (reference.code, &reference.console), "{case}");
                assert_eq!((end.instret, end.checksum), (reference.instret, reference.checksum), "{case}");
                assert_eq!(holds(&a, pid) + holds(&b, pid), 1, "{case}: exactly one node has it");
                let moved = r.as_ref().is_ok_and(|r| r.moved);
                if let Some(state) = &trap.fired {
                    // The cut landed where it was aimed: before the decision or after it.
                    let decided = state == "committed" || state == "released";
                    assert_eq!(decided, phase.after_commit(), "{case}");
                    if phase.after_commit() {
                        assert!(moved, "{case}: committed, so it moves whatever the link does: {r:?}");
                    } else if long && sides == [true, true] {
                        assert!(!moved, "{case}: a cut longer than the link timeout before the commit aborts");
                    }
                }
                table.push((st, phase, trap.fired.is_some(), moved));
            }
        }
    }
    drop((na, nb));
    let mut missed = Vec::new();
    for st in STRATEGIES {
        let line: Vec<String> = PHASES
            .iter()
            .map(|&p| {
                let cases: Vec<_> = table.iter().filter(|c| c.0 == st && c.1 == p).collect();
                let cut = cases.iter().filter(|c| c.2).count();
                let moved = cases.iter().filter(|c| c.3).count();
                format!("{p:?} {cut}/{} cut {moved} moved", cases.len())
            })
            .collect();
        eprintln!("{st}: {}", line.join(", "));
        // The phases every migration of the strategy passes through were all cut.
        let always: &[Phase] = match st {
            "stop-copy" => &[Phase::Offer, Phase::Accept, Phase::Copying, Phase::StoppedRound, Phase::Control],
            "pre-copy" => {
                &[Phase::Offer, Phase::Accept, Phase::FirstRound, Phase::Copying, Phase::LaterRound, Phase::Control]
            }
            "post-copy" => &[Phase::Offer, Phase::Accept, Phase::Control, Phase::Push],
            _ => &[Phase::Offer, Phase::Accept, Phase::FirstRound, Phase::Copying, Phase::Control, Phase::Push],
        };
        let common = [Phase::Prepare, Phase::Ready, Phase::Commit, Phase::Committed, Phase::Confirm, Phase::Finish];
        for p in always.iter().chain(&common) {
            if !table.iter().any(|c| c.0 == st && c.1 == *p && c.2) {
                missed.push(format!("{st} {p:?}"));
            }
        }
    }
    assert!(missed.is_empty(), "phases never reached: {missed:?}");
}
