//! The server pump serving the portmapper over UDP and TCP on one loopback interface.

mod common;

use common::*;
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use tern_core::rpc::client::CallFailure;
use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping, PROGRAM, VERSION, client as pmap, procs};
use tern_core::rpc::record::RecordReader;
use tern_core::rpc::{AcceptStat, Message, ReplyBody};
use tern_smoltcp::{UdpRpcClient, core_instant};

type UdpClient = UdpRpcClient<'static, 4>;

fn udp_client(net: &mut Net, port: u16) -> UdpClient {
    let handle = net.udp_socket(port);
    let client = tern_core::rpc::client::Client::new(tern_core::rpc::client::ClientConfig::datagram(), 0x1000);
    UdpRpcClient::new(client, handle, SERVER, [buf(256), buf(256), buf(256), buf(256)])
}

/// Runs the network, the server and the client until the client reports `n` events.
fn events(net: &mut Net, server: &mut Server, client: &mut UdpClient, n: usize) -> Vec<Got> {
    let mut got = Vec::new();
    for _ in 0..200 {
        net.run(server, 1, 1);
        while let Some(e) = client.poll(net.now, &mut net.sockets) {
            got.push(Got::from(e));
        }
        if got.len() >= n {
            return got;
        }
    }
    panic!("only {} of {n} events: {got:?}", got.len());
}

#[test]
fn udp_getport_set_and_dump() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let mut client = udp_client(&mut net, 40_000);
    let now = net.now;

    let a = client.start(now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_TCP, b)).unwrap();
    let b = client.start(now, &mut net.sockets, |c, t, b| pmap::getport(c, t, 99, 1, IPPROTO_UDP, b)).unwrap();
    let mut got = events(&mut net, &mut server, &mut client, 2);
    got.sort_by_key(|g| matches!(g, Got::Reply(x, _) if *x == b));
    assert!(matches!(got[0], Got::Reply(x, _) if x == a));
    assert_eq!(pmap::decode_port(ok(&got[0])), Ok(2049));
    assert_eq!(pmap::decode_port(ok(&got[1])), Ok(0));

    let m = Mapping { prog: 100_005, vers: 3, prot: IPPROTO_UDP, port: 635 };
    client.start(net.now, &mut net.sockets, |c, t, b| pmap::set(c, t, m, b)).unwrap();
    let got = events(&mut net, &mut server, &mut client, 1);
    assert_eq!(pmap::decode_bool(ok(&got[0])), Ok(true));

    client.start(net.now, &mut net.sockets, pmap::dump).unwrap();
    let got = events(&mut net, &mut server, &mut client, 1);
    let list: Vec<Mapping> = pmap::decode_dump(ok(&got[0])).unwrap().iter().collect();
    assert_eq!(list, server.dispatcher().programs().mappings());
    assert_eq!(list.len(), 5);
    assert!(list.contains(&m) && list.contains(&NFS));
    assert_eq!(client.client().pending(), 0);
}

#[test]
fn udp_garbage_gets_no_reply_and_the_next_call_is_answered() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let raw = net.udp_socket(40_001);
    let mut client = udp_client(&mut net, 40_002);
    // Bytes from a fixed-seed generator, with "CALL" in the message-type word so that the
    // dispatcher has to answer if it can, and plain noise.
    let mut x = 0x2545_f491_u32;
    let mut noise = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x & 0xff) as u8
    };
    let mut call_noise: Vec<u8> = (0..97).map(|_| noise()).collect();
    call_noise[4..8].copy_from_slice(&[0, 0, 0, 0]);
    let plain_noise: Vec<u8> = (0..64).map(|_| noise()).collect();
    net.udp(raw).send_slice(&call_noise, SERVER).unwrap();
    net.udp(raw).send_slice(&plain_noise, SERVER).unwrap();
    net.udp(raw).send_slice(&[1, 2, 3], SERVER).unwrap();
    net.run(&mut server, 5, 1);

    // At most one answer (to the datagram that looks like a call), and it is a proper reply.
    let mut replies = 0;
    while let Ok((msg, meta)) = net.udp(raw).recv() {
        assert_eq!(meta.endpoint, SERVER);
        let Ok(Message::Reply(head, _)) = Message::decode(msg) else { panic!("not a reply: {msg:?}") };
        assert_eq!(head.xid.to_be_bytes(), call_noise[..4]);
        assert!(!matches!(head.body, ReplyBody::Accepted { stat: AcceptStat::Success, .. }));
        replies += 1;
    }
    assert!(replies <= 1);
    let stats = server.dispatcher().stats();
    assert_eq!(stats.success, 0);
    assert_eq!(stats.dropped + stats.errors, 3);

    client.start(net.now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_TCP, b)).unwrap();
    let got = events(&mut net, &mut server, &mut client, 1);
    assert_eq!(pmap::decode_port(ok(&got[0])), Ok(2049));
}

#[test]
fn tcp_two_pipelined_calls_in_one_write_and_a_call_in_many_fragments() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 2, 2048);
    let sock = net.tcp_socket(2048, 2048);
    net.connect(sock, 50_000);
    net.run(&mut server, 3, 1);
    assert_eq!(net.tcp(sock).state(), tcp::State::Established);

    let mut c = bare_client(7);
    let (x1, mut bytes) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
    let (x2, second) = record(&mut c, &Mapping { prot: IPPROTO_UDP, ..NFS }, procs::GETPORT, 1 << 20);
    bytes.extend_from_slice(&second);
    // The third call (56 bytes) comes as 7-byte fragments: 8 fragment headers for one record.
    let (x3, third) = record(&mut c, &Mapping { prog: 5, ..NFS }, procs::GETPORT, 7);
    assert_eq!(third.len(), 8 * 4 + 56);
    assert_eq!(net.tcp(sock).send_slice(&bytes), Ok(bytes.len()));
    assert_eq!(net.tcp(sock).send_slice(&third), Ok(third.len()));
    net.run(&mut server, 5, 1);

    let mut reader = RecordReader::new(vec![0u8; 1024]);
    let replies = read_records(&mut net, sock, &mut reader);
    assert_eq!(replies.len(), 3);
    let ports: Vec<(u32, u32)> = replies
        .iter()
        .map(|r| {
            let reply = c.handle_reply(r).unwrap();
            (reply.xid, pmap::decode_port(reply.result.unwrap()).unwrap())
        })
        .collect();
    assert_eq!(ports, [(x1, 2049), (x2, 2049), (x3, 0)]);
    assert_eq!(server.stats().connections, 1);
}

#[test]
fn tcp_fragment_claiming_2_gib_aborts_only_that_connection() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 2, 2048);
    let (bad, good) = (net.tcp_socket(2048, 2048), net.tcp_socket(2048, 2048));
    net.connect(bad, 50_001);
    net.connect(good, 50_002);
    net.run(&mut server, 3, 1);

    let mut c = bare_client(100);
    let mut reader = RecordReader::new(vec![0u8; 1024]);
    let (x1, call) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
    net.tcp(good).send_slice(&call).unwrap();
    // 0x7fff_ffff bytes (2 GiB - 1) in a last fragment, then the start of the body.
    net.tcp(bad).send_slice(&mark(0x7fff_ffff)).unwrap();
    net.tcp(bad).send_slice(&[0; 100]).unwrap();
    net.run(&mut server, 5, 1);

    assert_eq!(net.tcp(bad).state(), tcp::State::Closed, "reset by the server");
    assert_eq!(server.stats().too_large, 1);
    let replies = read_records(&mut net, good, &mut reader);
    assert_eq!(c.handle_reply(&replies[0]).unwrap().xid, x1);

    // The good connection goes on, and the aborted socket serves a new connection.
    let (x2, call) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
    net.tcp(good).send_slice(&call).unwrap();
    net.connect(bad, 50_003);
    net.run(&mut server, 3, 1);
    let (x3, call) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
    net.tcp(bad).send_slice(&call).unwrap();
    net.run(&mut server, 5, 1);
    let replies = read_records(&mut net, good, &mut reader);
    assert_eq!(c.handle_reply(&replies[0]).unwrap().xid, x2);
    let mut reader = RecordReader::new(vec![0u8; 1024]);
    let replies = read_records(&mut net, bad, &mut reader);
    assert_eq!(c.handle_reply(&replies[0]).unwrap().xid, x3);
    assert_eq!(server.stats().connections, 3);
}

#[test]
fn tcp_reply_larger_than_the_send_buffer_is_finished_before_the_next_request() {
    let mut net = Net::new();
    // 60 mappings make a DUMP reply of about 1.2 KB; the server's send buffer holds 256 bytes.
    let mut server = server(&mut net, portmapper(56), 1, 256);
    let sock = net.tcp_socket(4096, 2048);
    net.connect(sock, 50_010);
    net.run(&mut server, 3, 1);

    let mut c = bare_client(300);
    let mut call = [0u8; 128];
    let (dump, n) = pmap::dump(&mut c, core_instant(net.now), &mut call[4..]).unwrap();
    call[..4].copy_from_slice(&mark(n as u32));
    let mut bytes = call[..4 + n].to_vec();
    let (getport, more) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
    bytes.extend_from_slice(&more);
    net.tcp(sock).send_slice(&bytes).unwrap();
    for _ in 0..3 {
        net.poll();
    }
    server.poll(net.now, &mut net.sockets);
    // Both requests are in the server's socket, but the DUMP reply is still being sent.
    assert_eq!(server.dispatcher().stats().success, 1);
    net.run(&mut server, 60, 1);
    assert_eq!(server.dispatcher().stats().success, 2);

    let mut reader = RecordReader::new(vec![0u8; 4096]);
    let replies = read_records(&mut net, sock, &mut reader);
    assert_eq!(replies.len(), 2);
    let first = c.handle_reply(&replies[0]).unwrap();
    assert_eq!(first.xid, dump);
    let list: Vec<Mapping> = pmap::decode_dump(first.result.unwrap()).unwrap().iter().collect();
    assert_eq!(list.len(), 60);
    assert!(replies[0].len() > 1000);
    assert_eq!(c.handle_reply(&replies[1]).unwrap().xid, getport);
}

#[test]
fn tcp_slot_is_reused_after_the_peer_closes() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let sock = net.tcp_socket(2048, 2048);
    let mut c = bare_client(500);
    for port in [50_020, 50_021, 50_022] {
        net.connect(sock, port);
        net.run(&mut server, 3, 1);
        let (xid, call) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
        net.tcp(sock).send_slice(&call).unwrap();
        net.tcp(sock).close();
        net.run(&mut server, 5, 1);
        let mut reader = RecordReader::new(vec![0u8; 1024]);
        let replies = read_records(&mut net, sock, &mut reader);
        assert_eq!(c.handle_reply(&replies[0]).unwrap().xid, xid);
        // Past the delayed ACK of the server's FIN.
        net.run(&mut server, 30, 1);
        // Our side waits in TIME-WAIT; the server listens again.
        assert_eq!(net.tcp(sock).state(), tcp::State::TimeWait);
        net.tcp(sock).abort();
    }
    assert_eq!(server.stats().connections, 3);
}

#[test]
fn tcp_idle_connection_is_aborted_and_the_slot_listens_again() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    server.set_idle_timeout(Some(Duration::from_secs(2)));
    let sock = net.tcp_socket(2048, 2048);
    net.connect(sock, 50_030);
    net.run(&mut server, 3, 1);
    // Half a call, then silence.
    net.tcp(sock).send_slice(&mark(40)).unwrap();
    net.run(&mut server, 3, 1);
    let deadline = server.poll_at().expect("an idle deadline");
    assert!(deadline > net.now && deadline <= net.now + Duration::from_secs(2));
    net.run(&mut server, 25, 100);
    assert_eq!(net.tcp(sock).state(), tcp::State::Closed);
    assert_eq!(server.stats().idle_aborts, 1);
    assert_eq!(server.poll_at(), None);

    net.connect(sock, 50_031);
    net.run(&mut server, 3, 1);
    let mut c = bare_client(600);
    let (xid, call) = record(&mut c, &NFS, procs::GETPORT, 1 << 20);
    net.tcp(sock).send_slice(&call).unwrap();
    net.run(&mut server, 5, 1);
    let mut reader = RecordReader::new(vec![0u8; 1024]);
    let replies = read_records(&mut net, sock, &mut reader);
    let reply = c.handle_reply(&replies[0]).unwrap();
    assert_eq!((reply.xid, pmap::decode_port(reply.result.unwrap())), (xid, Ok(2049)));
}

#[test]
fn unknown_program_over_udp_is_a_proper_error() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let mut client = udp_client(&mut net, 40_010);
    let cred = tern_core::rpc::Credential::None;
    client.start_call(net.now, &mut net.sockets, PROGRAM + 1, VERSION, 0, &cred, &()).unwrap();
    let got = events(&mut net, &mut server, &mut client, 1);
    assert!(matches!(got[0], Got::Reply(_, Err(CallFailure::Accepted(AcceptStat::ProgUnavail)))));
}
