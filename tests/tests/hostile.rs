//! Bad input against Tern's std TCP and UDP servers: each hostile connection is answered with
//! the right status or closed on its own, memory stays bounded, and a good client keeps being
//! served meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use tern_core::rpc::client::CallFailure;
use tern_core::rpc::portmap::{Portmapper, SetPolicy};
use tern_core::rpc::record::fragment_header;
use tern_core::rpc::{AcceptStat, AuthStat, Message, RejectStat, ReplyBody};
use tern_std::client::{RpcClient, RpcError};
use tern_std::server::{Server, ServerConfig, ServerHandle};

fn start(cfg: ServerConfig) -> ServerHandle {
    // TCP and UDP on the same port, as RPC servers usually are.
    let port = tern_tests::free_port();
    let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    Server::new(Portmapper::<64>::new(111, SetPolicy::LoopbackOnly), cfg).spawn(Some(tcp), Some(udp)).unwrap()
}

fn quick() -> ServerConfig {
    ServerConfig {
        stall_timeout: Duration::from_millis(800),
        idle_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    }
}

/// A good client's NULL call must be answered within a second.
fn good_call(addr: SocketAddr) {
    let t = Instant::now();
    let mut c = RpcClient::tcp(addr, Duration::from_secs(2)).unwrap();
    c.null(100_000, 2).unwrap();
    let mut u = RpcClient::udp(addr).unwrap();
    tern_std::portmap::dump(&mut u).unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "good client waited {:?}", t.elapsed());
}

/// A raw call header (xid 0x0102_0304) with the given credential bytes and arguments.
fn raw_call(prog: u32, vers: u32, proc_: u32, cred: &[u8], args: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x0102_0304u32, 0, 2, prog, vers, proc_] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(cred);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(args);
    v
}

/// An AUTH_SYS credential whose body claims `ngids` groups and a machine name of `name_len`.
fn auth_sys(name_len: usize, ngids: u32) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(&(name_len as u32).to_be_bytes());
    body.extend(std::iter::repeat_n(b'm', name_len));
    body.resize(body.len().next_multiple_of(4), 0);
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&ngids.to_be_bytes());
    body.extend(std::iter::repeat_n(0u8, ngids as usize * 4));
    let mut cred = 1u32.to_be_bytes().to_vec();
    cred.extend_from_slice(&(body.len() as u32).to_be_bytes());
    cred.extend(body);
    cred
}

fn tcp_exchange(addr: SocketAddr, record: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(&fragment_header(record.len() as u32, true)).unwrap();
    s.write_all(record).unwrap();
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).unwrap();
    let len = (u32::from_be_bytes(hdr) & 0x7fff_ffff) as usize;
    let mut reply = vec![0u8; len];
    s.read_exact(&mut reply).unwrap();
    reply
}

fn udp_exchange(addr: SocketAddr, dgram: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(dgram, addr).unwrap();
    let mut buf = vec![0u8; 65_536];
    let n = s.recv(&mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn body(reply: &[u8]) -> ReplyBody<'_> {
    match Message::decode(reply).unwrap() {
        Message::Reply(h, _) => {
            assert_eq!(h.xid, 0x0102_0304);
            h.body
        }
        Message::Call(..) => panic!("a call came back"),
    }
}

fn denied(why: AuthStat) -> impl Fn(&ReplyBody<'_>) -> bool {
    move |b| *b == ReplyBody::Denied(RejectStat::AuthError(why))
}

#[test]
fn auth_sys_with_1000_gids_and_10kb_machine_name() {
    let h = start(quick());
    let addr = h.tcp_addr().unwrap();
    for cred in [auth_sys(8, 1000), auth_sys(10_000, 0), auth_sys(8, 17)] {
        let call = raw_call(100_000, 2, 3, &cred, &[0; 16]);
        assert!(denied(AuthStat::BadCred)(&body(&tcp_exchange(addr, &call))));
        if call.len() < 65_000 {
            assert!(denied(AuthStat::BadCred)(&body(&udp_exchange(h.udp_addr().unwrap(), &call))));
        }
    }
    good_call(addr);
}

#[test]
fn unknown_program_version_procedure() {
    let h = start(quick());
    let addr = h.tcp_addr().unwrap();
    for (proto_tcp, mut c) in
        [(true, RpcClient::tcp(addr, Duration::from_secs(2)).unwrap()), (false, RpcClient::udp(addr).unwrap())]
    {
        let refused = |r: Result<Vec<u8>, RpcError>| match r {
            Err(RpcError::Refused(CallFailure::Accepted(s))) => s,
            other => panic!("tcp={proto_tcp}: {other:?}"),
        };
        assert_eq!(refused(c.call(100_003, 3, 0, &())), AcceptStat::ProgUnavail);
        assert_eq!(refused(c.call(100_000, 4, 0, &())), AcceptStat::ProgMismatch { low: 2, high: 2 });
        assert_eq!(refused(c.call(100_000, 2, 77, &())), AcceptStat::ProcUnavail);
        assert_eq!(refused(c.call(100_000, 2, 3, &[1u32])), AcceptStat::GarbageArgs);
        // The same connection keeps serving after every error.
        c.null(100_000, 2).unwrap();
    }
}

#[test]
fn record_mark_of_2_gib_closes_only_that_connection() {
    let h = start(quick());
    let addr = h.tcp_addr().unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let t = Instant::now();
    s.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
    let mut buf = [0u8; 16];
    let r = s.read(&mut buf);
    assert!(matches!(r, Ok(0)) || r.is_err(), "connection not closed: {r:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "closing took {:?}", t.elapsed());
    good_call(addr);
}

#[test]
fn truncated_and_stalled_records() {
    let h = start(quick());
    let addr = h.tcp_addr().unwrap();
    // Half a record, then silence: others are served meanwhile, and the stalled connection is
    // closed after the stall timeout.
    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled.write_all(&fragment_header(100, true)).unwrap();
    stalled.write_all(&[0u8; 10]).unwrap();
    good_call(addr);
    stalled.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 4];
    let r = stalled.read(&mut buf);
    assert!(matches!(r, Ok(0)) || r.is_err(), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    // A record truncated inside the call header: GARBAGE_ARGS or an auth error, on a
    // connection that stays up.
    let call = raw_call(100_000, 2, 3, &[0; 8], &[0; 16]);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for cut in [9, 14, 22, 30] {
        s.write_all(&fragment_header(cut as u32, true)).unwrap();
        s.write_all(&call[..cut]).unwrap();
        let mut hdr = [0u8; 4];
        s.read_exact(&mut hdr).unwrap();
        let mut reply = vec![0u8; (u32::from_be_bytes(hdr) & 0x7fff_ffff) as usize];
        s.read_exact(&mut reply).unwrap();
        let b = body(&reply);
        assert!(
            b == ReplyBody::Accepted { verf: tern_core::rpc::OpaqueAuth::NONE, stat: AcceptStat::GarbageArgs }
                || matches!(b, ReplyBody::Denied(RejectStat::AuthError(_))),
            "cut {cut}: {b:?}"
        );
    }
}

#[test]
fn random_bytes_on_tcp_and_udp() {
    let h = start(quick());
    let addr = h.tcp_addr().unwrap();
    let mut x = 0x9e37_79b9u32;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..200 {
        let len = (rnd() % 2000) as usize;
        let junk: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        udp.send_to(&junk, h.udp_addr().unwrap()).unwrap();
        if i % 10 == 0 {
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = s.write_all(&junk);
            // Some of these look like a small record: leave them half-open.
            drop(s);
        }
    }
    good_call(addr);
}

#[test]
fn memory_stays_bounded_under_many_hostile_connections() {
    let h = start(quick());
    let addr = h.tcp_addr().unwrap();
    let before = tern_tests::rss_kib();
    let mut conns = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(addr).unwrap();
        // Every connection starts a record as large as the server accepts and sends part of it.
        let _ = s.write_all(&fragment_header(60_000, i % 2 == 0));
        let _ = s.write_all(&vec![0u8; 30_000]);
        conns.push(s);
    }
    tern_tests::wait_until(Duration::from_secs(5), || h.connections() >= 300);
    good_call(addr);
    let peak = tern_tests::rss_kib();
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!("300 hostile connections: RSS {before} KiB -> {peak} KiB");
    // 300 connections × (64 KiB record + 64 KiB reply + 64 KiB chunk) is the bound: 56 MiB.
    assert!(grown_mib < 64, "server grew by {grown_mib} MiB");
    drop(conns);
    assert!(tern_tests::wait_until(Duration::from_secs(5), || h.connections() == 0));
    good_call(addr);
}

#[test]
fn connection_limit_refuses_extra_connections_not_the_server() {
    let h = start(ServerConfig { max_connections: 4, ..quick() });
    let addr = h.tcp_addr().unwrap();
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    assert!(tern_tests::wait_until(Duration::from_secs(2), || h.connections() == 4));
    let mut extra = TcpStream::connect(addr).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(extra.read(&mut b), Ok(0) | Err(_)));
    // UDP is still served.
    let mut u = RpcClient::udp(addr).unwrap();
    u.null(100_000, 2).unwrap();
    drop(held);
    assert!(tern_tests::wait_until(Duration::from_secs(3), || h.connections() == 0));
    good_call(addr);
}
