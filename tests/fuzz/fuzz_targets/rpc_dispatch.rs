//! Any bytes as a request to a `Dispatcher` serving the portmapper. A reply must decode as a
//! reply to the request's xid; a call (8 bytes or more, msg_type CALL) must get one when the
//! reply buffer is large; and afterwards DUMP must list exactly the table's mappings.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use tern_core::rpc::msg::{AcceptStat, CallHeader, ReplyBody};
use tern_core::rpc::portmap::{self, Portmapper, SetPolicy, client::decode_dump};
use tern_core::rpc::{Dispatch, Dispatcher, Message, OpaqueAuth, Peer, RPC_VERSION, Transport};
use tern_core::xdr;

const PEER: Peer =
    Peer { addr: SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 700), transport: Transport::Udp };

/// Checks that `reply` answers `request`; returns its header's body and the results.
fn check_reply<'r>(request: &[u8], reply: &'r [u8]) -> (ReplyBody<'r>, &'r [u8]) {
    let Ok(Message::Reply(h, results)) = Message::decode(reply) else {
        panic!("reply does not decode as a reply: {reply:02x?}");
    };
    assert_eq!(request[..4], h.xid.to_be_bytes());
    if !matches!(h.body, ReplyBody::Accepted { stat: AcceptStat::Success, .. }) {
        assert!(results.is_empty(), "results after a failure status");
    }
    (h.body, results)
}

fn server() -> Dispatcher<Portmapper<8>> {
    Dispatcher::new(Portmapper::new(portmap::PORT, SetPolicy::Anyone))
}

/// DUMP lists what the table holds.
fn dump_matches(d: &mut Dispatcher<Portmapper<8>>) {
    let call = CallHeader {
        xid: 0xd0d0,
        rpcvers: RPC_VERSION,
        prog: portmap::PROGRAM,
        vers: portmap::VERSION,
        proc_: portmap::procs::DUMP,
        cred: OpaqueAuth::NONE,
        verf: OpaqueAuth::NONE,
    };
    let mut req = [0u8; 64];
    let n = xdr::encode_to(&call, &mut req).expect("encode DUMP");
    let mut reply = [0u8; 1024];
    let Dispatch::Reply(m) = d.handle(PEER, &req[..n], &mut reply) else { panic!("no DUMP reply") };
    let (_, results) = check_reply(&req[..n], &reply[..m]);
    let list = decode_dump(results).expect("DUMP results decode");
    assert!(list.iter().eq(d.programs().mappings().iter().copied()));
}

fuzz_target!(|data: &[u8]| {
    let is_call = data.len() >= 8 && data[4..8] == [0; 4];
    let mut d = server();
    let mut reply = [0u8; 1024];
    match d.handle(PEER, data, &mut reply) {
        Dispatch::Reply(n) => {
            assert!(is_call, "a reply to something that is not a call");
            check_reply(data, &reply[..n]);
        }
        Dispatch::NoReply => assert!(!is_call, "a call got no reply"),
    }
    dump_matches(&mut d);

    // A reply buffer that may be too small: whatever is sent must still be a well-formed reply.
    let small = data.len() % 48;
    if let Dispatch::Reply(n) = server().handle(PEER, data, &mut reply[..small]) {
        assert!(n <= small);
        check_reply(data, &reply[..n]);
    }
});
