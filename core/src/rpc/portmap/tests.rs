//! The portmapper against the sans-IO client, and its wire bytes.

use super::*;
use crate::rpc::client::{Client, ClientConfig};
use crate::rpc::server::{Dispatch, Dispatcher, Peer, Transport};
use crate::time::Instant;

fn exchange(c: &mut Client<4>, s: &mut Dispatcher<Portmapper<8>>, peer: Peer, req: &[u8]) -> std::vec::Vec<u8> {
    let mut rep = [0u8; 512];
    let Dispatch::Reply(m) = s.handle(peer, req, &mut rep) else { panic!("no reply") };
    c.handle_reply(&rep[..m]).unwrap().result.unwrap().to_vec()
}

fn local() -> Peer {
    Peer { addr: "127.0.0.1:800".parse().unwrap(), transport: Transport::Udp }
}

#[test]
fn set_getport_dump_unset() {
    let mut c = Client::<4>::new(ClientConfig::datagram(), 1);
    let mut s = Dispatcher::new(Portmapper::<8>::new(111, SetPolicy::LoopbackOnly));
    let mut buf = [0u8; 256];
    let now = Instant::ZERO;

    let m = Mapping { prog: 100_003, vers: 3, prot: IPPROTO_TCP, port: 2049 };
    let (_, n) = client::set(&mut c, now, m, &mut buf).unwrap();
    assert!(client::decode_bool(&exchange(&mut c, &mut s, local(), &buf[..n])).unwrap());
    // The same triple again is refused.
    let (_, n) = client::set(&mut c, now, Mapping { port: 1, ..m }, &mut buf).unwrap();
    assert!(!client::decode_bool(&exchange(&mut c, &mut s, local(), &buf[..n])).unwrap());

    let (_, n) = client::getport(&mut c, now, 100_003, 3, IPPROTO_TCP, &mut buf).unwrap();
    assert_eq!(client::decode_port(&exchange(&mut c, &mut s, local(), &buf[..n])), Ok(2049));
    let (_, n) = client::getport(&mut c, now, 100_003, 3, IPPROTO_UDP, &mut buf).unwrap();
    assert_eq!(client::decode_port(&exchange(&mut c, &mut s, local(), &buf[..n])), Ok(0));

    let (_, n) = client::dump(&mut c, now, &mut buf).unwrap();
    let res = exchange(&mut c, &mut s, local(), &buf[..n]);
    let list = client::decode_dump(&res).unwrap();
    let got: std::vec::Vec<Mapping> = list.iter().collect();
    assert_eq!(
        got,
        [
            Mapping { prog: PROGRAM, vers: 2, prot: IPPROTO_TCP, port: 111 },
            Mapping { prog: PROGRAM, vers: 2, prot: IPPROTO_UDP, port: 111 },
            m
        ]
    );

    let (_, n) = client::unset(&mut c, now, 100_003, 3, &mut buf).unwrap();
    assert!(client::decode_bool(&exchange(&mut c, &mut s, local(), &buf[..n])).unwrap());
    assert_eq!(s.programs().mappings().len(), 2);
}

#[test]
fn remote_callers_cannot_change_the_table() {
    let mut c = Client::<4>::new(ClientConfig::datagram(), 1);
    let mut s = Dispatcher::new(Portmapper::<8>::new(111, SetPolicy::LoopbackOnly));
    let remote = Peer { addr: "192.0.2.7:800".parse().unwrap(), transport: Transport::Tcp };
    let mut buf = [0u8; 256];
    let m = Mapping { prog: 1, vers: 1, prot: IPPROTO_UDP, port: 9 };
    let (_, n) = client::set(&mut c, Instant::ZERO, m, &mut buf).unwrap();
    assert!(!client::decode_bool(&exchange(&mut c, &mut s, remote, &buf[..n])).unwrap());
    let (_, n) = client::unset(&mut c, Instant::ZERO, PROGRAM, VERSION, &mut buf).unwrap();
    assert!(!client::decode_bool(&exchange(&mut c, &mut s, remote, &buf[..n])).unwrap());
    assert_eq!(s.programs().mappings().len(), 2);
}

#[test]
fn table_capacity_is_respected() {
    let mut pm = Portmapper::<3>::new(111, SetPolicy::Anyone);
    assert!(pm.set(Mapping { prog: 1, vers: 1, prot: 6, port: 1 }));
    assert!(!pm.set(Mapping { prog: 2, vers: 1, prot: 6, port: 1 }));
}

#[test]
fn callit_and_bad_args() {
    use crate::rpc::msg::{AcceptStat, Message, ReplyBody};
    let mut c = Client::<4>::new(ClientConfig::datagram(), 1);
    let mut s = Dispatcher::new(Portmapper::<8>::new(111, SetPolicy::Anyone));
    let mut buf = [0u8; 256];
    let mut rep = [0u8; 256];
    let status = |s: &mut Dispatcher<Portmapper<8>>, req: &[u8], rep: &mut [u8]| {
        let Dispatch::Reply(m) = s.handle(local(), req, rep) else { panic!() };
        match Message::decode(&rep[..m]).unwrap() {
            Message::Reply(h, _) => match h.body {
                ReplyBody::Accepted { stat, .. } => stat,
                ReplyBody::Denied(_) => panic!("denied"),
            },
            Message::Call(..) => panic!(),
        }
    };
    let (_, n) = c
        .call(Instant::ZERO, PROGRAM, VERSION, procs::CALLIT, &crate::rpc::Credential::None, &[1u32, 2, 3, 0], &mut buf)
        .unwrap();
    assert_eq!(status(&mut s, &buf[..n], &mut rep), AcceptStat::ProcUnavail);
    let (_, n) = c
        .call(Instant::ZERO, PROGRAM, VERSION, procs::GETPORT, &crate::rpc::Credential::None, &[1u32, 2, 3], &mut buf)
        .unwrap();
    assert_eq!(status(&mut s, &buf[..n], &mut rep), AcceptStat::GarbageArgs);
}

#[test]
fn mapping_wire_bytes() {
    let m = Mapping { prog: 100_000, vers: 2, prot: 6, port: 111 };
    let mut buf = [0u8; 16];
    xdr::encode_to(&m, &mut buf).unwrap();
    assert_eq!(buf, [0, 1, 0x86, 0xa0, 0, 0, 0, 2, 0, 0, 0, 6, 0, 0, 0, 111]);
}
