//! The riscv32 `virt` firmware (`examples/board-virt`) under QEMU, against real peers on the
//! host: the board's portmapper answers `rpcinfo` and Tern's std client; the board's RPC client
//! queries the host's `tern portmap`; the board echoes TCP and UDP traffic.
//!
//! Each test boots its own QEMU (`timeout 60` as a hard cap) with user networking: the host
//! reaches the guest (10.0.2.15) through `hostfwd` ports, the guest reaches the host's
//! 127.0.0.1 as 10.0.2.2. The firmware is built once per test process.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::process::Command;
use std::time::{Duration, Instant};

use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping};
use tern_std::client::{RpcClient, RpcError};
use tern_std::portmap::{dump, getport, set};
use tern_tests::{ChildGuard, boot_board, free_port, local, require, run, tern_bin, uaddr, wait_until};

/// The portmapper's program and version.
const PMAP: (u32, u32) = (100_000, 2);
/// The board's own "board status" program (registered by the firmware at its port + 1).
const BOARD_STATUS: u32 = 0x2000_7e57;
/// The guest port the board serves the portmapper on.
const GUEST_PMAP_PORT: u16 = 111;
/// How long a board serves before exiting on its own.
const SERVE_SECS: u64 = 4;

/// A QEMU board; stopped (SIGTERM to `timeout`, which passes it on to QEMU) if still running
/// when dropped.
struct Board {
    guard: Option<ChildGuard>,
}

impl Board {
    /// Boots the firmware with a virtio-net NIC on `netdev` (id `n0`) and `append` as its
    /// arguments.
    fn boot(netdev: &str, append: &str) -> Board {
        Board { guard: Some(boot_board(netdev, append)) }
    }

    /// Waits up to `limit` for the board to exit; its exit code (124: `timeout` stopped it;
    /// `None`: stopped here) and its output (stdout, then stderr).
    fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let mut guard = self.guard.take().expect("board running");
        if !wait_until(limit, || guard.exited()) {
            stop(&mut guard);
        }
        let out = guard.wait(Duration::from_secs(2));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    }
}

fn stop(guard: &mut ChildGuard) {
    guard.signal("TERM");
    wait_until(Duration::from_secs(2), || guard.exited());
}

impl Drop for Board {
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take()
            && !guard.exited()
        {
            stop(&mut guard);
        }
    }
}

/// Runs `checks` while `board` runs, then waits for the board to exit (up to `limit`). A failed
/// check is reported with the board's output. Returns the exit code and output.
fn with_board(board: Board, limit: Duration, checks: impl FnOnce()) -> (Option<i32>, String) {
    let t = Instant::now();
    let checked = catch_unwind(AssertUnwindSafe(checks));
    eprintln!("checks took {:?}", t.elapsed());
    let (code, out) = board.finish(if checked.is_ok() { limit } else { Duration::ZERO });
    if let Err(panic) = checked {
        eprintln!("board output (exit code {code:?}):\n{out}");
        resume_unwind(panic);
    }
    (code, out)
}

/// Whether a portmapper answers a NULL call over TCP at 127.0.0.1:`port`.
fn answers_tcp(port: u16) -> bool {
    RpcClient::tcp(local(port), Duration::from_millis(500))
        .map_err(RpcError::from)
        .and_then(|mut c| c.null(PMAP.0, PMAP.1))
        .is_ok()
}

/// The number in `out` just before `what` on the line starting with `prefix`.
fn count_before(out: &str, prefix: &str, what: &str) -> Option<u32> {
    let line = out.lines().find(|l| l.starts_with(prefix))?;
    let before = &line[..line.find(what)?];
    before.split_whitespace().last()?.parse().ok()
}

#[test]
fn board_serves_portmap_to_rpcinfo_and_tern() {
    let rpcinfo = require("rpcinfo");
    let h = free_port();
    let p = GUEST_PMAP_PORT;
    let netdev = format!("user,id=n0,hostfwd=tcp:127.0.0.1:{h}-10.0.2.15:{p},hostfwd=udp:127.0.0.1:{h}-10.0.2.15:{p}");
    let board = Board::boot(&netdev, &format!("portmap {p} {SERVE_SECS}"));
    // The board's clock starts with QEMU (the firmware was built before).
    let started = Instant::now();
    let status_port = u32::from(p) + 1;
    let board_mappings = || {
        let mut v = vec![
            Mapping { prog: PMAP.0, vers: PMAP.1, prot: IPPROTO_TCP, port: u32::from(p) },
            Mapping { prog: PMAP.0, vers: PMAP.1, prot: IPPROTO_UDP, port: u32::from(p) },
            Mapping { prog: BOARD_STATUS, vers: 1, prot: IPPROTO_TCP, port: status_port },
            Mapping { prog: BOARD_STATUS, vers: 1, prot: IPPROTO_UDP, port: status_port },
        ];
        v.sort_by_key(|m| (m.prog, m.vers, m.prot));
        v
    };

    let limit = Duration::from_secs(SERVE_SECS + 10);
    let (code, out) = with_board(board, limit, || {
        assert!(wait_until(Duration::from_secs(10), || answers_tcp(h)), "the board's portmapper never answered");
        // The real rpcinfo pings it over both transports.
        for proto in ["tcp", "udp"] {
            let (ok, stdout, stderr) = run(Command::new(&rpcinfo).args(["-T", proto, "-a", &uaddr(h), "100000", "2"]));
            assert!(
                ok && stdout.contains("program 100000 version 2 ready and waiting"),
                "rpcinfo -T {proto}: {stdout} {stderr}"
            );
        }
        // Tern's client sees what the board registered, over both transports.
        let tcp = RpcClient::tcp(local(h), Duration::from_secs(5)).expect("connect over TCP");
        let udp = RpcClient::udp(local(h)).expect("UDP client");
        for (proto, mut c) in [("tcp", tcp), ("udp", udp)] {
            assert_eq!(getport(&mut c, BOARD_STATUS, 1, IPPROTO_TCP).unwrap(), status_port, "{proto} getport");
            assert_eq!(getport(&mut c, BOARD_STATUS, 1, IPPROTO_UDP).unwrap(), status_port, "{proto} getport");
            assert_eq!(getport(&mut c, BOARD_STATUS, 2, IPPROTO_TCP).unwrap(), 0, "{proto} getport of v2");
            let mut list = dump(&mut c).unwrap();
            list.sort_by_key(|m| (m.prog, m.vers, m.prot));
            assert_eq!(list, board_mappings(), "{proto} dump");
        }
        // The board lets anyone register (SetPolicy::Anyone): QEMU's gateway is not loopback.
        let mut c = RpcClient::udp(local(h)).unwrap();
        let extra = Mapping { prog: BOARD_STATUS + 1, vers: 1, prot: IPPROTO_UDP, port: 4000 };
        assert!(set(&mut c, extra).unwrap(), "SET refused");
        assert_eq!(getport(&mut c, extra.prog, 1, IPPROTO_UDP).unwrap(), 4000);
        assert!(
            started.elapsed() < Duration::from_secs(SERVE_SECS),
            "checks took {:?}: longer than the board serves",
            started.elapsed()
        );
    });
    assert_eq!(code, Some(0), "board exit code (124: killed by timeout):\n{out}");
    // NULL probes, rpcinfo and Tern's TCP client: at least 3 connections.
    let conns = count_before(&out, "portmap: done:", "tcp connections");
    assert!(conns.is_some_and(|n| n >= 3), "served-connections summary missing or short:\n{out}");
}

#[test]
fn board_queries_host_portmapper() {
    let h2 = free_port();
    let pm = ChildGuard::spawn(
        "tern portmap",
        Command::new(tern_bin()).args(["portmap", "--listen", "127.0.0.1", "--port", &h2.to_string()]),
    );
    assert!(wait_until(Duration::from_secs(10), || answers_tcp(h2)), "tern portmap did not come up");
    let m = Mapping { prog: 536_870_913, vers: 1, prot: IPPROTO_TCP, port: 4242 };
    let mut c = RpcClient::udp(local(h2)).unwrap();
    assert!(set(&mut c, m).unwrap(), "tern portmap refused the SET");

    let query = |expected: u32| {
        let board = Board::boot("user,id=n0", &format!("pmap-query 10.0.2.2 {h2} {} {} {expected}", m.prog, m.vers));
        board.finish(Duration::from_secs(30))
    };
    let (code, out) = query(4242);
    assert_eq!(code, Some(0), "board exit code (124: killed by timeout):\n{out}");
    for line in [
        "pmap-query: udp getport -> 4242",
        "pmap-query: mapping 536870913 1 tcp 4242",
        &format!("pmap-query: mapping 100000 2 tcp {h2}"),
        "pmap-query: tcp getport -> 4242",
        "pmap-query: ok",
    ] {
        assert!(out.lines().any(|l| l == line), "board output lacks {line:?}:\n{out}");
    }
    // A wrong expectation makes the board fail: it does check the answers.
    let (code, out) = query(4243);
    assert_eq!(code, Some(1), "board exit code with a wrong expected port:\n{out}");
    assert!(out.contains("pmap-query: udp getport: FAILED"), "{out}");

    pm.signal("TERM");
    assert!(pm.wait(Duration::from_secs(5)).status.success(), "tern portmap did not exit cleanly");
}

/// Sends `payload` on a new connection, half-closes, reads to EOF (the echo is read while
/// sending goes on, on another thread).
fn tcp_echo(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(local(port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut w = s.try_clone().unwrap();
    let data = payload.to_vec();
    let writer = std::thread::spawn(move || {
        w.write_all(&data).and_then(|()| w.shutdown(Shutdown::Write)).expect("send");
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("read the echo");
    writer.join().expect("writer thread");
    got
}

#[test]
fn board_echoes_tcp_and_udp() {
    let h = free_port();
    let netdev =
        format!("user,id=n0,hostfwd=tcp:127.0.0.1:{h}-10.0.2.15:7777,hostfwd=udp:127.0.0.1:{h}-10.0.2.15:7778");
    let board = Board::boot(&netdev, &format!("echo 7777 7778 {SERVE_SECS}"));
    let (code, out) = with_board(board, Duration::from_secs(SERVE_SECS + 10), || {
        // UDP first, sent again until echoed: it also tells that the board is up, without
        // opening TCP connections the board would count.
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(SERVE_SECS - 1);
        for payload in [b"udp one".to_vec(), b"udp two ".repeat(100)] {
            let got = loop {
                u.send_to(&payload, local(h)).unwrap();
                let mut buf = [0; 2048];
                match u.recv(&mut buf) {
                    Ok(n) => break buf[..n].to_vec(),
                    Err(_) => assert!(Instant::now() < deadline, "udp: no echo before the deadline"),
                }
            };
            assert_eq!(got, payload);
        }
        // Three TCP connections one after another, one of 64 KiB.
        let big: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        for payload in [&b"hello tern\n"[..], &big, b"third connection\n"] {
            assert!(tcp_echo(h, payload) == payload, "tcp: {} bytes not echoed", payload.len());
        }
        // Two connections open at once: served by two of the listening sockets.
        let mut a = TcpStream::connect(local(h)).unwrap();
        let mut b = TcpStream::connect(local(h)).unwrap();
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        }
        a.write_all(b"first, open\n").unwrap();
        b.write_all(b"second, open\n").unwrap();
        for (s, want) in [(&mut a, &b"first, open\n"[..]), (&mut b, b"second, open\n")] {
            let mut got = vec![0; want.len()];
            s.read_exact(&mut got).unwrap();
            assert_eq!(got, want);
            s.shutdown(Shutdown::Write).unwrap();
            assert_eq!(s.read(&mut [0; 16]).unwrap(), 0, "expected EOF after the half-close");
        }
    });
    assert_eq!(code, Some(0), "board exit code (124: killed by timeout):\n{out}");
    let done = out.lines().find(|l| l.starts_with("echo: done:")).unwrap_or_default();
    assert!(done.contains(" 5 tcp connections, 65589 tcp bytes, 2 udp datagrams"), "{out}");
}
