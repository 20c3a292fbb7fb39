//! The client pumps against the server pump: retransmission, time-outs, strangers, TCP
//! pipelining and reconnection.

mod common;

use common::*;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use tern_core::rpc::client::{Client, ClientConfig};
use tern_core::rpc::portmap::{IPPROTO_TCP, IPPROTO_UDP, Mapping, client as pmap};
use tern_core::time::Duration;
use tern_smoltcp::{ClientEvent, TcpRpcClient, UdpRpcClient};

fn udp_client(net: &mut Net, port: u16, cfg: ClientConfig) -> (UdpRpcClient<'static, 2>, SocketHandle) {
    let handle = net.udp_socket(port);
    (UdpRpcClient::new(Client::new(cfg, 0xabc0), handle, SERVER, [buf(256), buf(256)]), handle)
}

fn drain<const N: usize>(net: &mut Net, client: &mut UdpRpcClient<'static, N>) -> Vec<Got> {
    let mut got = Vec::new();
    while let Some(e) = client.poll(net.now, &mut net.sockets) {
        got.push(Got::from(e));
    }
    got
}

fn drain_tcp<const N: usize>(net: &mut Net, client: &mut TcpRpcClient<'static, N>) -> Vec<Got> {
    let mut got = Vec::new();
    while let Some(e) = client.poll(net.now, &mut net.sockets) {
        got.push(Got::from(e));
    }
    got
}

#[test]
fn udp_lost_request_is_retransmitted_and_answered() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let server_udp = net.sockets.iter().map(|(h, _)| h).next().unwrap();
    let (mut client, _) = udp_client(&mut net, 40_100, ClientConfig::datagram());
    let xid =
        client.start(net.now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_TCP, b)).unwrap();
    // The request reaches the server's socket and is lost there, unseen by the server pump.
    net.poll();
    net.poll();
    let (lost, _) = net.udp(server_udp).recv().unwrap();
    assert_eq!(lost[..4], xid.to_be_bytes());
    net.run(&mut server, 10, 10);
    assert!(drain(&mut net, &mut client).is_empty());
    assert_eq!(server.dispatcher().stats().success, 0);

    // After the first time-out (500 ms) the saved request goes out again.
    let at = client.poll_at().unwrap();
    assert!(at > net.now);
    let mut got = Vec::new();
    while got.is_empty() && net.now < at + smoltcp::time::Duration::from_millis(100) {
        got = drain(&mut net, &mut client);
        net.run(&mut server, 1, 10);
    }
    got.extend(drain(&mut net, &mut client));
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0], Got::Reply(x, _) if x == xid));
    assert_eq!(pmap::decode_port(ok(&got[0])), Ok(2049));
    assert_eq!(server.dispatcher().stats().success, 1);
    assert_eq!(client.poll_at(), None);
}

#[test]
fn udp_call_without_a_server_times_out_after_its_retries() {
    let mut net = Net::new();
    let cfg = ClientConfig { timeout: Duration::from_millis(100), max_timeout: Duration::from_millis(400), retries: 3 };
    let (mut client, _) = udp_client(&mut net, 40_101, cfg);
    let xid = client.start(net.now, &mut net.sockets, pmap::dump).unwrap();
    let start = net.now;
    let mut got = Vec::new();
    while got.is_empty() {
        net.poll();
        got = drain(&mut net, &mut client);
        net.advance(10);
        assert!(net.now < start + smoltcp::time::Duration::from_secs(5), "no time-out");
    }
    assert_eq!(got, [Got::TimedOut(xid)]);
    // 100 + 200 + 400 + 400 ms.
    let waited = (net.now - start).total_millis();
    assert!((1100..=1120).contains(&waited), "timed out after {waited} ms");
    assert_eq!(client.client().pending(), 0);
}

#[test]
fn udp_replies_from_strangers_and_unknown_xids_are_ignored() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let stranger = net.udp_socket(40_102);
    let (mut client, _) = udp_client(&mut net, 40_103, ClientConfig::datagram());
    let client_ep = smoltcp::wire::IpEndpoint::new(HOST, 40_103);
    let xid =
        client.start(net.now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_TCP, b)).unwrap();
    // A forged SUCCESS reply with the right xid and port 7, from the wrong port, and one from
    // "the server" for an xid nobody asked about, both before the real reply.
    let forged = |x: u32| [x.to_be_bytes(), 1u32.to_be_bytes(), [0; 4], [0; 4], [0; 4], [0; 4], 7u32.to_be_bytes()];
    net.udp(stranger).send_slice(forged(xid).as_flattened(), client_ep).unwrap();
    let server_udp = net.sockets.iter().map(|(h, _)| h).next().unwrap();
    net.udp(server_udp).send_slice(forged(xid.wrapping_add(1000)).as_flattened(), client_ep).unwrap();
    net.poll();
    net.poll();
    net.run(&mut server, 5, 1);
    let got = drain(&mut net, &mut client);
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0], Got::Reply(x, _) if x == xid));
    assert_eq!(pmap::decode_port(ok(&got[0])), Ok(2049));
}

fn tcp_client(net: &mut Net, cfg: ClientConfig) -> TcpRpcClient<'static, 3> {
    let handle = net.tcp_socket(4096, 1024);
    TcpRpcClient::new(Client::new(cfg, 77), handle, [buf(260), buf(260), buf(260)], buf(4096))
}

fn tcp_handle(net: &Net) -> SocketHandle {
    net.sockets.iter().map(|(h, _)| h).last().unwrap()
}

#[test]
fn tcp_client_pipelines_calls_and_gets_every_reply() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(20), 2, 512);
    let mut client = tcp_client(&mut net, ClientConfig::stream());
    client.connect(net.iface.context(), &mut net.sockets, SERVER, 50_100).unwrap();
    // Started before the connection is up: queued.
    let m = Mapping { prog: 300_000, vers: 1, prot: IPPROTO_TCP, port: 4000 };
    let set = client.start(net.now, &mut net.sockets, |c, t, b| pmap::set(c, t, m, b)).unwrap();
    let dump = client.start(net.now, &mut net.sockets, pmap::dump).unwrap();
    let port =
        client.start(net.now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_UDP, b)).unwrap();
    assert!(client.start(net.now, &mut net.sockets, pmap::dump).is_err(), "3 calls at most");
    let mut got = Vec::new();
    for _ in 0..50 {
        net.run(&mut server, 1, 1);
        got.extend(drain_tcp(&mut net, &mut client));
    }
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got.iter().filter(|g| matches!(g, Got::Reply(..))).count(), 3);
    let find = |xid| got.iter().find(|g| matches!(g, Got::Reply(x, _) if *x == xid)).unwrap();
    assert_eq!(pmap::decode_bool(ok(find(set))), Ok(true));
    assert_eq!(pmap::decode_port(ok(find(port))), Ok(2049));
    let list: Vec<Mapping> = pmap::decode_dump(ok(find(dump))).unwrap().iter().collect();
    // The DUMP was answered after the SET: 24 mappings plus the new one.
    assert_eq!(list.len(), 25);
    assert!(list.contains(&m));
}

#[test]
fn tcp_client_sends_outstanding_calls_again_after_reconnecting() {
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let mut client = tcp_client(&mut net, ClientConfig::stream());
    let sock = tcp_handle(&net);
    client.connect(net.iface.context(), &mut net.sockets, SERVER, 50_110).unwrap();
    net.run(&mut server, 3, 1);
    let xid =
        client.start(net.now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_TCP, b)).unwrap();
    // The request is delivered, but the connection dies before the server pump sees it.
    net.poll();
    net.poll();
    net.tcp(sock).abort();
    for _ in 0..5 {
        net.poll();
        assert!(drain_tcp(&mut net, &mut client).is_empty());
    }
    assert_eq!(net.tcp(sock).state(), tcp::State::Closed);
    net.run(&mut server, 3, 1);
    assert_eq!(server.dispatcher().stats().success, 0);

    client.connect(net.iface.context(), &mut net.sockets, SERVER, 50_111).unwrap();
    let mut got = Vec::new();
    for _ in 0..20 {
        net.run(&mut server, 1, 1);
        got.extend(drain_tcp(&mut net, &mut client));
    }
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0], Got::Reply(x, _) if x == xid));
    assert_eq!(pmap::decode_port(ok(&got[0])), Ok(2049));
    assert_eq!(server.dispatcher().stats().success, 1);
}

#[test]
fn tcp_client_call_times_out_when_the_server_does_not_answer() {
    let mut net = Net::new();
    // A listening socket that nobody serves.
    let mute = net.tcp_socket(1024, 1024);
    net.tcp(mute).listen(SERVER.port).unwrap();
    let cfg = ClientConfig { timeout: Duration::from_millis(300), ..ClientConfig::stream() };
    let mut client = tcp_client(&mut net, cfg);
    client.connect(net.iface.context(), &mut net.sockets, SERVER, 50_120).unwrap();
    let xid = client.start(net.now, &mut net.sockets, pmap::dump).unwrap();
    let mut got = Vec::new();
    for _ in 0..40 {
        net.poll();
        got.extend(drain_tcp(&mut net, &mut client));
        net.advance(10);
    }
    assert_eq!(got, [Got::TimedOut(xid)]);
    assert_eq!(client.client().pending(), 0);
    // The slot is free again.
    assert!(client.start(net.now, &mut net.sockets, pmap::dump).is_ok());
}

#[test]
fn client_event_borrows_in_place() {
    // A compile-time check that a reply can be used without copying.
    fn first_word(e: &ClientEvent<'_>) -> Option<u32> {
        match e {
            ClientEvent::Reply(r) => {
                r.result.ok().and_then(|b| b.get(..4)).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            }
            ClientEvent::TimedOut(_) => None,
        }
    }
    let mut net = Net::new();
    let mut server = server(&mut net, portmapper(0), 1, 2048);
    let (mut client, _) = udp_client(&mut net, 40_104, ClientConfig::datagram());
    client.start(net.now, &mut net.sockets, |c, t, b| pmap::getport(c, t, NFS.prog, 3, IPPROTO_TCP, b)).unwrap();
    net.run(&mut server, 5, 1);
    let event = client.poll(net.now, &mut net.sockets).unwrap();
    assert_eq!(first_word(&event), Some(2049));
}
