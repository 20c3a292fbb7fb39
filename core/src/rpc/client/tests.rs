//! The client against the dispatcher over a virtual link on a virtual clock.

use super::*;
use crate::rpc::auth::{AuthSys, Gids};
use crate::rpc::server::{CallContext, Dispatch, Dispatcher, Peer, ProcError, Program, Transport};
use crate::xdr::XdrStr;

struct Add;

impl Program for Add {
    fn program(&self) -> u32 {
        0x2000_0002
    }
    fn versions(&self) -> (u32, u32) {
        (1, 1)
    }
    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        let (a, b): (u32, u32) = {
            let mut r = xdr::Reader::new(args);
            let v = (r.read()?, r.read()?);
            r.finish()?;
            v
        };
        out.put_u32(a.wrapping_add(b).wrapping_add(ctx.cred.uid().unwrap_or(0)))?;
        Ok(())
    }
}

struct Pair(u32, u32);

impl Encode for Pair {
    fn encoded_len(&self) -> usize {
        8
    }
    fn encode(&self, w: &mut Writer<'_>) -> xdr::Result<()> {
        w.put_u32(self.0)?;
        w.put_u32(self.1)
    }
}

fn peer() -> Peer {
    Peer { addr: "10.0.2.2:1000".parse().unwrap(), transport: Transport::Udp }
}

#[test]
fn call_and_reply_with_auth_sys() {
    let mut c = Client::<4>::new(ClientConfig::datagram(), 100);
    let mut s = Dispatcher::new(Add);
    let cred = Credential::Sys(AuthSys {
        stamp: 0,
        machine_name: XdrStr::new("t").unwrap(),
        uid: 10,
        gid: 10,
        gids: Gids::Slice(&[]),
    });
    let mut req = [0u8; 128];
    let (xid, n) = c.call(Instant::ZERO, 0x2000_0002, 1, 1, &cred, &Pair(2, 3), &mut req).unwrap();
    assert_eq!(xid, 100);
    let mut rep = [0u8; 128];
    let Dispatch::Reply(m) = s.handle(peer(), &req[..n], &mut rep) else { panic!() };
    let r = c.handle_reply(&rep[..m]).unwrap();
    assert_eq!(r, Reply { xid, result: Ok(&[0, 0, 0, 15][..]) });
    assert_eq!(c.pending(), 0);
    // The same reply again is a duplicate.
    assert_eq!(c.handle_reply(&rep[..m]), Err(ClientError::UnknownXid(100)));
    // A call is not a reply.
    assert_eq!(c.handle_reply(&req[..n]), Err(ClientError::NotAReply));
}

#[test]
fn failures_are_reported() {
    let mut c = Client::<4>::new(ClientConfig::datagram(), 7);
    let mut s = Dispatcher::new(Add);
    let mut req = [0u8; 128];
    let mut rep = [0u8; 128];
    let (_, n) = c.call(Instant::ZERO, 0x2000_0002, 2, 1, &Credential::None, &(), &mut req).unwrap();
    let Dispatch::Reply(m) = s.handle(peer(), &req[..n], &mut rep) else { panic!() };
    assert_eq!(
        c.handle_reply(&rep[..m]).unwrap().result,
        Err(CallFailure::Accepted(AcceptStat::ProgMismatch { low: 1, high: 1 }))
    );
    let (_, n) = c.call(Instant::ZERO, 0x2000_0002, 1, 1, &Credential::None, &5u32, &mut req).unwrap();
    let Dispatch::Reply(m) = s.handle(peer(), &req[..n], &mut rep) else { panic!() };
    assert_eq!(c.handle_reply(&rep[..m]).unwrap().result, Err(CallFailure::Accepted(AcceptStat::GarbageArgs)));
}

#[test]
fn retransmits_with_backoff_then_times_out() {
    let cfg = ClientConfig { timeout: Duration::from_millis(100), max_timeout: Duration::from_millis(300), retries: 3 };
    let mut c = Client::<2>::new(cfg, 1);
    let mut req = [0u8; 64];
    let (xid, _) = c.call(Instant::ZERO, 1, 1, 1, &Credential::None, &(), &mut req).unwrap();
    let mut now = Instant::ZERO;
    let mut events = std::vec::Vec::new();
    while let Some(t) = c.poll_timeout() {
        assert!(c.handle_timeout(Instant::from_micros(t.as_micros() - 1)).is_none());
        now = t;
        while let Some(e) = c.handle_timeout(now) {
            events.push((now.as_micros() / 1000, e));
        }
    }
    assert_eq!(
        events,
        [
            (100, TimerEvent::Retransmit(xid)),
            (300, TimerEvent::Retransmit(xid)),
            (600, TimerEvent::Retransmit(xid)),
            (900, TimerEvent::TimedOut(xid)),
        ]
    );
    assert_eq!(now, Instant::from_millis(900));
    assert_eq!(c.pending(), 0);
}

#[test]
fn lossy_link_with_duplicates_and_reordering() {
    // Every first transmission is lost, every reply is delivered twice, replies arrive in
    // reverse order: each call must still complete exactly once with the right result.
    let mut c = Client::<8>::new(ClientConfig::datagram(), 0xffff_fffe);
    let mut s = Dispatcher::new(Add);
    let mut reqs: std::vec::Vec<(u32, std::vec::Vec<u8>)> = std::vec::Vec::new();
    for i in 0..8u32 {
        let mut buf = [0u8; 128];
        let (xid, n) = c.call(Instant::ZERO, 0x2000_0002, 1, 1, &Credential::None, &Pair(i, 1), &mut buf).unwrap();
        reqs.push((xid, buf[..n].to_vec()));
    }
    assert_eq!(c.call(Instant::ZERO, 1, 1, 1, &Credential::None, &(), &mut [0u8; 64]), Err(ClientError::TooManyCalls));
    let now = c.poll_timeout().unwrap();
    let mut resend = std::vec::Vec::new();
    while let Some(TimerEvent::Retransmit(x)) = c.handle_timeout(now) {
        resend.push(x);
    }
    assert_eq!(resend.len(), 8);
    let mut replies = std::vec::Vec::new();
    for x in resend {
        let req = &reqs.iter().find(|r| r.0 == x).unwrap().1;
        let mut rep = [0u8; 64];
        let Dispatch::Reply(m) = s.handle(peer(), req, &mut rep) else { panic!() };
        replies.push(rep[..m].to_vec());
        replies.push(rep[..m].to_vec());
    }
    replies.reverse();
    let mut done = std::collections::BTreeMap::new();
    for r in &replies {
        match c.handle_reply(r) {
            Ok(rep) => assert!(done.insert(rep.xid, rep.result.unwrap().to_vec()).is_none()),
            Err(ClientError::UnknownXid(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(done.len(), 8);
    for (i, (xid, _)) in reqs.iter().enumerate() {
        assert_eq!(done[xid], (i as u32 + 1).to_be_bytes());
    }
    assert_eq!(c.pending(), 0);
}
