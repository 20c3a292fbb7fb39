//! `tern node|spawn|ps|migrate|wait` across real node processes: every example guest migrated
//! 10 times while it runs, with every strategy, ends with the same console output, exit
//! status, instruction count and memory checksum as a run that never moved: memory-worker,
//! threads, file-worker over one NFS export both nodes mount (its result file is the same),
//! and two chan-peer processes talking over a channel, both ends moved while they talk (the
//! channel stays at their home node and follows them); `ps` and unknown ids; migrations
//! through proxies killing their connections at random moments. The failure trials are in
//! `node_failures.rs`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tern_core::nfs3;
use tern_std::client::RpcClient;
use tern_tests::node::{
    End, Proxy, STRATEGIES, kill_all, migrate_around, spawn, start_node, start_node_at, tern, wait,
};
use tern_tests::{ChildGuard, free_port, guest, local, temp_dir, tern_bin, wait_until};

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

/// The memory checksum of `tern wait`'s figures ("N instructions, memory checksum X"): the
/// instruction count of a process that parks on a channel depends on how often it asked.
fn checksum(e: &End) -> &str {
    e.figures.rsplit(' ').next().unwrap()
}

#[test]
fn channel_peers_migrated_ten_times_each_talk_as_if_they_never_moved() {
    let a = start_node(&[]);
    let b = start_node(&[]);
    let g = guest("chan-peer");
    // 4,000 rounds with a 2 ms pause: at least 8 s wherever the two ends run, time for twenty
    // migrations however loaded the machine is.
    let ping_args = |name: &str| ["ping".to_string(), name.to_string(), "4000".into(), "2000".into()];
    // Each pair runs twice with the same arguments (so the same memory) at the same time: never
    // moved, on its own on node b, and with both ends moved between a and b, spawned on a
    // (their home).
    let spawn_pair = |home: &str, name: &str| {
        let pong = spawn(home, &g, &["pong", name]);
        let pa = ping_args(name);
        (spawn(home, &g, &pa.iter().map(String::as_str).collect::<Vec<_>>()), pong)
    };
    let results: Vec<(String, [End; 4])> = std::thread::scope(|s| {
        let hs: Vec<_> = STRATEGIES
            .iter()
            .map(|&st| {
                let (spawn_pair, a, b) = (&spawn_pair, &a.addr, &b.addr);
                s.spawn(move || {
                    let name = format!("pair-{st}");
                    let (ping_ref, pong_ref) = spawn_pair(b, &name);
                    let (ping, pong) = spawn_pair(a, &name);
                    // Both ends move, each ten times, at the same time as the other.
                    std::thread::scope(|s| {
                        for pid in [&ping, &pong] {
                            s.spawn(move || migrate_around(pid, a, b, st, 10));
                        }
                    });
                    let ends = [wait(&ping_ref, b), wait(&pong_ref, b), wait(&ping, a), wait(&pong, a)];
                    (st.to_string(), ends)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (st, [ping_ref, pong_ref, ping, pong]) in results {
        assert_eq!((ping_ref.code, pong_ref.code), (0, 0), "{ping_ref:?} {pong_ref:?}");
        assert_eq!(ping_ref.console, "ping: 4000 rounds, sum 7998000\n");
        assert_eq!(pong_ref.console, "pong: answered 4000\n");
        for (end, reference) in [(&ping, &ping_ref), (&pong, &pong_ref)] {
            assert_eq!((end.code, &end.console), (reference.code, &reference.console), "moved by {st}");
            assert_eq!(checksum(end), checksum(reference), "memory after moves by {st}");
        }
    }
}

#[test]
fn ps_lists_processes_and_unknown_ids_are_refused() {
    let a = start_node(&[]);
    let b = start_node(&[]);
    let g = guest("chan-peer");
    // pong waits for messages that never come: it stays parked with its channel end open.
    let pid = spawn(&a.addr, &g, &["pong", "lonely"]);
    std::thread::sleep(Duration::from_millis(100));
    let (code, out, _) = tern(&["ps", "--node", &a.addr]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.contains(&pid) && l.contains("running")), "{out}");
    // A parked process with an open channel end moves, and is listed where it went.
    let (code, _, err) = tern(&["migrate", &pid, "--from", &a.addr, "--to", &b.addr, "--strategy", "stop-copy"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tern(&["ps", "--node", &b.addr]);
    assert!(out.lines().any(|l| l.contains(&pid) && l.contains("running")), "{out}");
    let (code, _, err) = tern(&["migrate", "12345", "--from", &a.addr, "--to", &b.addr, "--strategy", "hybrid"]);
    assert_eq!(code, 21, "{err}");
    let (code, _, _) = tern(&["wait", "12345", "--node", &b.addr]);
    assert_eq!(code, 21);
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

/// A node keeps what `ps` and `wait` show of an ended process, not its memory: a live process
/// holds a 512 KiB page table, so 200 of them would take 100 MiB.
#[test]
fn ended_processes_leave_their_memory() {
    let a = start_node(&[]);
    let g = guest("memory-worker");
    let mut pids = Vec::new();
    let mut before = 0;
    for i in 0..200 {
        // One at a time: what is measured is what stays, not how many ran at once.
        let pid = spawn(&a.addr, &g, &["2", "1", "1", "0"]);
        assert_eq!(wait(&pid, &a.addr).code, 0);
        pids.push(pid);
        if i == 9 {
            before = a.rss_kib();
        }
    }
    // Still listed and waitable after they ended.
    let (_, out, _) = tern(&["ps", "--node", &a.addr]);
    assert_eq!(out.lines().filter(|l| l.contains(" exit 0 ")).count(), 200, "{out}");
    assert_eq!(wait(&pids[0], &a.addr).code, 0);
    let grown = a.rss_kib().saturating_sub(before);
    assert!(grown < 20 * 1024, "the node grew by {grown} KiB for 190 ended processes");
}
