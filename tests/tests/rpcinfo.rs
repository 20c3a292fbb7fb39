//! The real `rpcinfo` (Debian's rpcbind package) against `tern portmap`.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use tern_tests::{ChildGuard, free_port, require, run, tern_bin, uaddr, wait_until};

/// Tests that need port 111 (Tern's portmapper or the system's rpcbind) take turns.
static PORT_111: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn hold_port_111() -> std::sync::MutexGuard<'static, ()> {
    PORT_111.lock().unwrap_or_else(|e| e.into_inner())
}

fn start_portmap(args: &[&str]) -> ChildGuard {
    ChildGuard::spawn("tern portmap", Command::new(tern_bin()).arg("portmap").args(args))
}

/// `rpcinfo -p` only talks to port 111: `tern portmap` holds it, and lists what Tern's client
/// and library registered. Then SIGTERM stops it cleanly.
#[test]
fn rpcinfo_p_lists_registrations_on_port_111() {
    let rpcinfo = require("rpcinfo");
    let _turn = hold_port_111();
    if let Err(e) = TcpListener::bind("127.0.0.1:111") {
        panic!("port 111 is taken ({e}): stop the system's rpcbind before this test");
    }
    let pm = start_portmap(&[]);
    assert!(
        wait_until(Duration::from_secs(10), || run(Command::new(&rpcinfo).args(["-p", "127.0.0.1"])).0),
        "tern portmap did not come up on port 111"
    );
    // Register through the `tern` command (SET over UDP) and through the library.
    let (ok, _, err) =
        run(Command::new(tern_bin()).args(["rpcinfo", "set", "127.0.0.1", "536870913", "1", "tcp", "4321"]));
    assert!(ok, "tern rpcinfo set: {err}");
    tern_std::portmap::register(tern_tests::local(111), 100_003, 3, Some(2049), Some(2049)).unwrap();
    let (ok, out, err) = run(Command::new(&rpcinfo).args(["-p", "127.0.0.1"]));
    assert!(ok, "rpcinfo -p failed: {err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    for want in [
        ["100000", "2", "tcp", "111"],
        ["100000", "2", "udp", "111"],
        ["536870913", "1", "tcp", "4321"],
        ["100003", "3", "tcp", "2049"],
        ["100003", "3", "udp", "2049"],
    ] {
        assert!(rows.iter().any(|r| r.len() >= 4 && r[..4] == want), "rpcinfo -p lacks {want:?}:\n{out}");
    }
    // Tern's own client sees the same table.
    let (ok, out, _) = run(Command::new(tern_bin()).args(["rpcinfo", "dump", "127.0.0.1"]));
    assert!(ok && out.contains("536870913"), "tern rpcinfo dump: {out}");
    let (ok, out, _) = run(Command::new(tern_bin()).args(["rpcinfo", "getport", "127.0.0.1", "100003", "3"]));
    assert!(ok && out.trim() == "2049", "tern rpcinfo getport: {out}");
    // UNSET, then GETPORT says it is gone (exit code 7).
    assert!(run(Command::new(tern_bin()).args(["rpcinfo", "unset", "127.0.0.1", "100003", "3"])).0);
    let st = Command::new(tern_bin()).args(["rpcinfo", "getport", "127.0.0.1", "100003", "3"]).output().unwrap();
    assert_eq!(st.status.code(), Some(7));
    pm.signal("TERM");
    let out = pm.wait(Duration::from_secs(5));
    assert!(out.status.success(), "tern portmap did not exit cleanly: {out:?}");
}

/// `rpcinfo -a` pings Tern's TCP and UDP servers on a port other than 111.
#[test]
fn rpcinfo_pings_tern_on_other_ports() {
    let rpcinfo = require("rpcinfo");
    let port = free_port();
    let pm = start_portmap(&["--listen", "127.0.0.1", "--port", &port.to_string()]);
    let ping =
        |proto: &str, vers: &str| run(Command::new(&rpcinfo).args(["-T", proto, "-a", &uaddr(port), "100000", vers]));
    assert!(wait_until(Duration::from_secs(10), || ping("tcp", "2").0), "no TCP answer");
    for proto in ["tcp", "udp"] {
        let (ok, out, err) = ping(proto, "2");
        assert!(ok && out.contains("program 100000 version 2 ready and waiting"), "{proto}: {out} {err}");
        // Version 3 is not served: rpcinfo reports the mismatch and fails.
        let (ok, out, err) = ping(proto, "3");
        assert!(!ok, "{proto}: version 3 answered: {out}");
        assert!(format!("{out}{err}").contains("version mismatch"), "{proto}: {out} {err}");
    }
    // An unknown program.
    let (ok, out, err) = run(Command::new(&rpcinfo).args(["-T", "udp", "-a", &uaddr(port), "536870999", "1"]));
    assert!(!ok && format!("{out}{err}").contains("unavailable"), "{out} {err}");
    pm.signal("INT");
    assert!(pm.wait(Duration::from_secs(5)).status.success());
}

/// A port in use gives a one-line error and exit code 3.
#[test]
fn port_in_use_is_a_clear_error() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let out = Command::new(tern_bin())
        .args(["portmap", "--listen", "127.0.0.1", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use"), "{err}");
}

/// When the system's rpcbind holds port 111, Tern registers with it (PMAP SET v2 from
/// loopback), and `tern portmap` refuses the port with a one-line error.
#[test]
fn registers_with_system_rpcbind() {
    let rpcinfo = require("rpcinfo");
    let rpcbind = require("rpcbind");
    let _turn = hold_port_111();
    assert!(TcpListener::bind("127.0.0.1:111").is_ok(), "port 111 is taken before the test");
    let _ = std::fs::remove_file("/run/rpcbind.sock");
    let _ = std::fs::remove_file("/run/rpcbind.lock");
    let rb = ChildGuard::spawn("rpcbind", Command::new(rpcbind).arg("-f"));
    assert!(wait_until(Duration::from_secs(10), || run(Command::new(&rpcinfo).args(["-p", "127.0.0.1"])).0));
    tern_std::portmap::register(tern_tests::local(111), 536_870_914, 2, Some(4400), Some(4401)).unwrap();
    let (_, out, _) = run(Command::new(&rpcinfo).args(["-p", "127.0.0.1"]));
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    for want in [["536870914", "2", "tcp", "4400"], ["536870914", "2", "udp", "4401"]] {
        assert!(rows.iter().any(|r| r.len() >= 4 && r[..4] == want), "rpcinfo -p lacks {want:?}:\n{out}");
    }
    let (ok, out, _) =
        run(Command::new(tern_bin()).args(["rpcinfo", "getport", "127.0.0.1", "536870914", "2", "--proto", "udp"]));
    assert!(ok && out.trim() == "4401", "{out}");
    let out = Command::new(tern_bin()).arg("portmap").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(run(Command::new(tern_bin()).args(["rpcinfo", "unset", "127.0.0.1", "536870914", "2"])).0);
    let (_, out, _) = run(Command::new(&rpcinfo).args(["-p", "127.0.0.1"]));
    assert!(!out.contains("536870914"), "{out}");
    drop(rb);
}
