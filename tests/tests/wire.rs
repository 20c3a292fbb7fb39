//! tshark dissects a capture of Tern's client and server talking over TCP (including a record
//! of several fragments) and UDP: no malformed frame and no RPC expert warning.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tern_core::rpc::portmap::{IPPROTO_TCP, Mapping, Portmapper, SetPolicy};
use tern_std::client::{AuthSysParams, RpcClient};
use tern_std::server::{Server, ServerConfig};
use tern_tests::{ChildGuard, free_port, require, run, wait_until};

fn tshark_fields(tshark: &Path, pcap: &Path, port: u16, filter: &str, fields: &[&str]) -> String {
    let mut cmd = Command::new(tshark);
    cmd.arg("-r").arg(pcap);
    cmd.args(["-d", &format!("tcp.port=={port},rpc"), "-d", &format!("udp.port=={port},rpc"), "-Y", filter]);
    cmd.args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let (ok, out, err) = run(&mut cmd);
    assert!(ok, "tshark -r failed: {err}");
    out
}

#[test]
fn tshark_finds_no_malformed_rpc() {
    let tshark = require("tshark");
    let dir = std::env::temp_dir().join(format!("tern-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("rpc.pcapng");
    let port = free_port();

    let mut cap = Command::new(&tshark);
    cap.args(["-i", "lo", "-B", "64", "-f", &format!("port {port}"), "-w"]).arg(&pcap).arg("-q");
    let cap = ChildGuard::spawn("tshark", &mut cap);
    // tshark creates the file once it captures; give it a moment beyond that.
    assert!(wait_until(Duration::from_secs(20), || pcap.exists()), "tshark did not start");
    std::thread::sleep(Duration::from_millis(500));

    let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let server = Server::new(Portmapper::<64>::new(port, SetPolicy::LoopbackOnly), ServerConfig::default());
    let h = server.spawn(Some(tcp), Some(udp)).unwrap();
    let addr = h.tcp_addr().unwrap();

    let mut t = RpcClient::tcp(addr, Duration::from_secs(5)).unwrap();
    t.set_auth_sys(Some(AuthSysParams {
        machine_name: "wire-test".into(),
        uid: 1000,
        gid: 1000,
        gids: vec![4, 24, 27],
    }));
    t.null(100_000, 2).unwrap();
    assert!(
        tern_std::portmap::set(&mut t, Mapping { prog: 536_870_913, vers: 1, prot: IPPROTO_TCP, port: 9 }).unwrap()
    );
    // A record of several fragments of 40 bytes. (Wireshark only reassembles records whose first
    // fragment holds the call header up to the credential; real clients' fragments are larger.)
    t.set_fragment_size(40);
    assert_eq!(tern_std::portmap::getport(&mut t, 536_870_913, 1, IPPROTO_TCP).unwrap(), 9);
    t.set_fragment_size(usize::MAX);
    assert_eq!(tern_std::portmap::dump(&mut t).unwrap().len(), 3);
    let _ = t.call(100_000, 2, 99, &()); // PROC_UNAVAIL
    let mut u = RpcClient::udp(addr).unwrap();
    u.null(100_000, 2).unwrap();
    assert_eq!(tern_std::portmap::getport(&mut u, 100_000, 2, IPPROTO_TCP).unwrap(), u32::from(port));
    assert_eq!(tern_std::portmap::dump(&mut u).unwrap().len(), 3);
    assert!(tern_std::portmap::unset(&mut u, 536_870_913, 1).unwrap());
    drop((t, u));
    h.shutdown();

    std::thread::sleep(Duration::from_millis(500));
    cap.signal("INT");
    cap.wait(Duration::from_secs(10));

    // Every call and reply is dissected as RPC: 5 calls on TCP and 4 on UDP, each answered.
    let rpc = tshark_fields(&tshark, &pcap, port, "rpc", &["rpc.msgtyp", "rpc.procedure", "rpc.lastfrag"]);
    let lines: Vec<&str> = rpc.lines().collect();
    let calls = lines.iter().filter(|l| l.starts_with("0\t")).count();
    let replies = lines.iter().filter(|l| l.starts_with("1\t")).count();
    assert_eq!((calls, replies), (9, 9), "tshark saw:\n{rpc}");
    // The fragmented GETPORT was reassembled from several fragments.
    let frags = tshark_fields(&tshark, &pcap, port, "rpc.fragments", &["frame.number"]);
    assert!(!frags.trim().is_empty(), "no reassembled multi-fragment record in the capture");
    let bad = tshark_fields(
        &tshark,
        &pcap,
        port,
        "_ws.malformed || (_ws.expert.severity >= warning && rpc)",
        &["frame.number", "_ws.expert.message"],
    );
    assert!(bad.trim().is_empty(), "tshark flags frames:\n{bad}");
    let _ = std::fs::remove_dir_all(&dir);
}
