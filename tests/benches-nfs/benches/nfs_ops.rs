//! Small NFSv3 operations per second over loopback TCP, on every server named in
//! `TERN_BENCH_NFS_TARGETS` (`scripts/bench-nfs.sh` starts nfs-ganesha and `tern serve`, sets
//! it, and stops the servers afterwards), side by side in one run:
//! - `nfs_getattr`: GETATTR of a file;
//! - `nfs_lookup`: LOOKUP of that file's name in the export's root;
//! - `nfs_create_remove`: CREATE (GUARDED, a fresh name each time) then REMOVE of the same name,
//!   one pair per iteration.
//!
//! Each with 1 client and with 8 concurrent clients (threads, each on its own TCP connection,
//! one call at a time); with 8, an iteration is one operation of any client, so criterion's
//! rate is the servers' aggregate rate. All clients are Tern's blocking `RpcClient` with
//! AUTH_SYS uid 0, so the client side costs the same for every server.
//!
//! When `TERN_BENCH_NFS_PIDS` gives the servers' process ids (`NAME:PID` items), each bench
//! also prints the server's CPU time per operation (user + system, all threads, from
//! `/proc/PID/stat`, over warm-up and measurement) as a line
//! `server_cpu_us_per_op GROUP NAME Nc VALUE`: less sensitive to a noisy machine than rates.
//! The bench's own CPU time per operation (the clients', plus criterion's analysis: a few ms
//! per bench) follows as `client_cpu_us_per_op`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tern_bench_nfs::{NfsClient, Target, mnt};

/// Concurrent clients of the second measurement.
const MANY: usize = 8;
/// The file GETATTR and LOOKUP look at.
const FILE: &str = "bench-getattr";

/// One client: its connection, its index and a counter for fresh names.
struct Worker {
    nfs: NfsClient,
    id: usize,
    seq: u64,
}

/// A server under test: its root and file handles, `MANY` connected clients, its process id
/// (when known) and the number of operations made so far.
struct Server {
    name: String,
    root: Vec<u8>,
    file: Vec<u8>,
    workers: Vec<Worker>,
    pid: Option<u32>,
    ops: u64,
}

#[derive(Clone, Copy)]
enum Op {
    Getattr,
    Lookup,
    CreateRemove,
}

impl Op {
    fn group(self) -> &'static str {
        match self {
            Op::Getattr => "nfs_getattr",
            Op::Lookup => "nfs_lookup",
            Op::CreateRemove => "nfs_create_remove",
        }
    }
}

/// CPU time (user + system) of process `pid` so far, in clock ticks of 10 ms (Linux's
/// USER_HZ is 100).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Process ids by server name from `TERN_BENCH_NFS_PIDS` (`NAME:PID` items).
fn pids() -> Vec<(String, u32)> {
    let list = std::env::var("TERN_BENCH_NFS_PIDS").unwrap_or_default();
    list.split_whitespace()
        .map(|item| {
            let (name, pid) = item.split_once(':').unwrap_or_else(|| panic!("TERN_BENCH_NFS_PIDS: {item:?}"));
            (name.to_string(), pid.parse().unwrap_or_else(|_| panic!("TERN_BENCH_NFS_PIDS: {item:?}")))
        })
        .collect()
}

fn setup(t: &Target, pid: Option<u32>) -> Server {
    let root = mnt(t.mount, &t.export).unwrap_or_else(|e| panic!("{}: MNT {}: {e}", t.name, t.export));
    let workers: Vec<Worker> = (0..MANY)
        .map(|id| {
            let nfs = NfsClient::connect(t.nfs).unwrap_or_else(|e| panic!("{}: connect to {}: {e}", t.name, t.nfs));
            Worker { nfs, id, seq: 0 }
        })
        .collect();
    let mut server = Server { name: t.name.clone(), root, file: Vec::new(), workers, pid, ops: 0 };
    let c = &mut server.workers[0].nfs;
    server.file = c.create(&server.root, FILE, 0o644, false).unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(c.lookup(&server.root, FILE).unwrap_or_else(|e| panic!("{}: {e}", t.name)), server.file);
    server
}

/// One operation of `op` by worker `w`.
fn once(op: Op, w: &mut Worker, root: &[u8], file: &[u8], prefix: &str) {
    let r = match op {
        Op::Getattr => w.nfs.getattr(file).map(drop),
        Op::Lookup => w.nfs.lookup(root, FILE).map(drop),
        Op::CreateRemove => {
            w.seq += 1;
            let name = format!("{prefix}-{}-{}", w.id, w.seq);
            w.nfs.create(root, &name, 0o644, true).and_then(|_| w.nfs.remove(root, &name))
        }
    };
    if let Err(e) = r {
        panic!("{}: {e}", op.group());
    }
}

/// Runs `iters` operations on `n` clients at once and returns the time they took.
fn run(op: Op, s: &mut Server, n: usize, iters: u64, prefix: &str) -> Duration {
    let (root, file) = (&s.root[..], &s.file[..]);
    if n == 1 {
        let w = &mut s.workers[0];
        let start = Instant::now();
        for _ in 0..iters {
            once(op, w, root, file, prefix);
        }
        let took = start.elapsed();
        s.ops += iters;
        return took;
    }
    // Every client makes `per` calls; the time is scaled back to `iters` operations.
    let per = iters.div_ceil(n as u64);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in s.workers.iter_mut().take(n) {
            scope.spawn(move || {
                for _ in 0..per {
                    once(op, w, root, file, prefix);
                }
            });
        }
    });
    let took = start.elapsed();
    s.ops += per * n as u64;
    took.mul_f64(iters as f64 / (per * n as u64) as f64)
}

fn nfs_ops(c: &mut Criterion) {
    let Ok(list) = std::env::var("TERN_BENCH_NFS_TARGETS") else {
        panic!(
            "TERN_BENCH_NFS_TARGETS is not set: run scripts/bench-nfs.sh, which starts the servers \
             (or set it to NAME:NFS_PORT:MOUNT_PORT:EXPORT_PATH items separated by spaces)"
        );
    };
    let targets = Target::parse_list(&list).unwrap_or_else(|e| panic!("TERN_BENCH_NFS_TARGETS: {e}"));
    assert!(!targets.is_empty(), "TERN_BENCH_NFS_TARGETS names no server");
    let pids = pids();
    let pid_of = |name: &str| pids.iter().find(|(n, _)| n == name).map(|&(_, p)| p);
    let mut servers: Vec<Server> = targets.iter().map(|t| setup(t, pid_of(&t.name))).collect();
    // Fresh names for CREATE even when the bench runs again on the same export.
    let prefix = format!("cr{}", std::process::id());

    for op in [Op::Getattr, Op::Lookup, Op::CreateRemove] {
        let mut g = c.benchmark_group(op.group());
        g.throughput(Throughput::Elements(1));
        // Every sample the same length, so the 8 threads' start-up is a small share of each.
        g.sampling_mode(SamplingMode::Flat);
        g.sample_size(30);
        for n in [1, MANY] {
            for s in servers.iter_mut() {
                let id = BenchmarkId::new(s.name.clone(), format!("{n}c"));
                let me = std::process::id();
                let before = (s.pid.and_then(cpu_ticks), cpu_ticks(me), s.ops);
                g.bench_function(id, |b| b.iter_custom(|iters| run(op, s, n, iters, &prefix)));
                let ops = (s.ops - before.2).max(1) as f64;
                let per_op = |t0: Option<u64>, t1: Option<u64>| Some((t1? - t0?) as f64 * 10_000.0 / ops);
                if let Some(us) = per_op(before.0, s.pid.and_then(cpu_ticks)) {
                    println!("server_cpu_us_per_op {} {} {n}c {us:.1}", op.group(), s.name);
                }
                if let Some(us) = per_op(before.1, cpu_ticks(me)) {
                    println!("client_cpu_us_per_op {} {} {n}c {us:.1}", op.group(), s.name);
                }
            }
        }
        g.finish();
    }
    for s in servers.iter_mut() {
        let _ = s.workers[0].nfs.remove(&s.root, FILE);
    }
}

criterion_group!(benches, nfs_ops);
criterion_main!(benches);
