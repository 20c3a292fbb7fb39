//! Every row of the dispatcher's reply table, with byte-level requests.

use super::*;
use crate::rpc::auth::{AuthSys, Gids};
use crate::rpc::msg::{CallHeader, Message, ReplyBody};
use crate::xdr::{self, Opaque, XdrStr};
use std::vec::Vec;

/// Program 0x2000_0001 v1–2: procedure 1 echoes a u32 plus one, procedure 2 needs AUTH_SYS,
/// procedure 3 returns more bytes than any reply buffer here holds.
struct Echo;

impl Program for Echo {
    fn program(&self) -> u32 {
        0x2000_0001
    }
    fn versions(&self) -> (u32, u32) {
        (1, 2)
    }
    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        match ctx.proc_ {
            1 => {
                let v: u32 = xdr::decode_exact(args)?;
                Ok(out.put_u32(v.wrapping_add(1))?)
            }
            2 => match ctx.cred {
                Credential::Sys(s) => Ok(out.put_u32(s.uid)?),
                Credential::None => Err(ProcError::Auth(AuthStat::TooWeak)),
            },
            3 => Ok(out.put_bytes(&[0u8; 4096])?),
            _ => Err(ProcError::ProcUnavail),
        }
    }
}

fn peer() -> Peer {
    Peer { addr: "127.0.0.1:700".parse().unwrap(), transport: Transport::Udp }
}

fn call(rpcvers: u32, prog: u32, vers: u32, proc_: u32, cred: OpaqueAuth<'_>, args: &[u8]) -> Vec<u8> {
    let h = CallHeader { xid: 42, rpcvers, prog, vers, proc_, cred, verf: OpaqueAuth::NONE };
    let mut buf = std::vec![0u8; h.encoded_len()];
    xdr::encode_to(&h, &mut buf).unwrap();
    buf.extend_from_slice(args);
    buf
}

fn run(req: &[u8]) -> Option<(ReplyBody<'static>, Vec<u8>)> {
    let mut d = Dispatcher::new(Echo);
    let mut reply = [0u8; 256];
    match d.handle(peer(), req, &mut reply) {
        Dispatch::NoReply => None,
        Dispatch::Reply(n) => match Message::decode(&reply[..n]).unwrap() {
            Message::Reply(h, rest) => {
                assert_eq!(h.xid, 42);
                let body = match h.body {
                    ReplyBody::Accepted { stat, .. } => ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat },
                    ReplyBody::Denied(d) => ReplyBody::Denied(d),
                };
                Some((body, rest.to_vec()))
            }
            Message::Call(..) => panic!("reply decoded as a call"),
        },
    }
}

fn accepted(stat: AcceptStat) -> ReplyBody<'static> {
    ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat }
}

#[test]
fn success_and_results() {
    let (body, res) = run(&call(2, 0x2000_0001, 1, 1, OpaqueAuth::NONE, &[0, 0, 0, 7])).unwrap();
    assert_eq!(body, accepted(AcceptStat::Success));
    assert_eq!(res, [0, 0, 0, 8]);
}

#[test]
fn null_answered_for_every_program() {
    let (body, res) = run(&call(2, 0x2000_0001, 2, 0, OpaqueAuth::NONE, &[])).unwrap();
    assert_eq!(body, accepted(AcceptStat::Success));
    assert!(res.is_empty());
    let (body, _) = run(&call(2, 0x2000_0001, 2, 0, OpaqueAuth::NONE, &[0; 4])).unwrap();
    assert_eq!(body, accepted(AcceptStat::GarbageArgs));
}

#[test]
fn unknown_program_version_procedure() {
    let r = |p, v, c| run(&call(2, p, v, c, OpaqueAuth::NONE, &[])).unwrap().0;
    assert_eq!(r(100003, 3, 0), accepted(AcceptStat::ProgUnavail));
    assert_eq!(r(0x2000_0001, 3, 1), accepted(AcceptStat::ProgMismatch { low: 1, high: 2 }));
    assert_eq!(r(0x2000_0001, 0, 1), accepted(AcceptStat::ProgMismatch { low: 1, high: 2 }));
    assert_eq!(r(0x2000_0001, 1, 99), accepted(AcceptStat::ProcUnavail));
}

#[test]
fn garbage_args_and_system_err() {
    let r = |args: &[u8], p| run(&call(2, 0x2000_0001, 1, p, OpaqueAuth::NONE, args)).unwrap().0;
    assert_eq!(r(&[0, 0, 7], 1), accepted(AcceptStat::GarbageArgs));
    assert_eq!(r(&[0, 0, 0, 7, 0, 0, 0, 0], 1), accepted(AcceptStat::GarbageArgs));
    assert_eq!(r(&[], 3), accepted(AcceptStat::SystemErr));
}

#[test]
fn rpc_version_mismatch() {
    let (body, _) = run(&call(3, 0x2000_0001, 1, 1, OpaqueAuth::NONE, &[])).unwrap();
    assert_eq!(body, ReplyBody::Denied(RejectStat::RpcMismatch { low: 2, high: 2 }));
}

#[test]
fn auth_sys_and_auth_errors() {
    let sys = AuthSys {
        stamp: 1,
        machine_name: XdrStr::new("host").unwrap(),
        uid: 1000,
        gid: 1000,
        gids: Gids::Slice(&[1, 2]),
    };
    let mut scratch = [0u8; 400];
    let cred = Credential::Sys(sys).to_opaque(&mut scratch).unwrap();
    let (body, res) = run(&call(2, 0x2000_0001, 1, 2, cred, &[])).unwrap();
    assert_eq!(body, accepted(AcceptStat::Success));
    assert_eq!(res, [0, 0, 0x03, 0xe8]);
    let (body, _) = run(&call(2, 0x2000_0001, 1, 2, OpaqueAuth::NONE, &[])).unwrap();
    assert_eq!(body, ReplyBody::Denied(RejectStat::AuthError(AuthStat::TooWeak)));

    // AUTH_SYS claiming 1000 groups: its body cannot fit in 400 bytes.
    let mut big = call(2, 0x2000_0001, 1, 2, OpaqueAuth::NONE, &[]);
    big.truncate(24);
    big.extend_from_slice(&1u32.to_be_bytes());
    big.extend_from_slice(&(20 + 4000u32).to_be_bytes());
    big.extend_from_slice(&[0u8; 16]);
    big.extend_from_slice(&1000u32.to_be_bytes());
    big.extend(std::iter::repeat_n(0u8, 4000));
    big.extend_from_slice(&[0u8; 8]);
    assert_eq!(run(&big).unwrap().0, ReplyBody::Denied(RejectStat::AuthError(AuthStat::BadCred)));

    // A 10 KB machine name.
    let mut name = call(2, 0x2000_0001, 1, 2, OpaqueAuth::NONE, &[]);
    name.truncate(24);
    name.extend_from_slice(&1u32.to_be_bytes());
    name.extend_from_slice(&(10_000u32 + 20).to_be_bytes());
    name.extend_from_slice(&[0, 0, 0, 0]);
    name.extend_from_slice(&10_000u32.to_be_bytes());
    name.extend(std::iter::repeat_n(b'a', 10_000));
    name.extend_from_slice(&[0u8; 12 + 8]);
    assert_eq!(run(&name).unwrap().0, ReplyBody::Denied(RejectStat::AuthError(AuthStat::BadCred)));

    // 17 groups inside a body of legal size.
    let mut g17 = std::vec![0u8; 0];
    g17.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, b'h', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17]);
    g17.extend_from_slice(&[0u8; 68]);
    let cred = OpaqueAuth { flavor: AuthFlavor::Sys, body: Opaque::new(&g17).unwrap() };
    assert_eq!(
        run(&call(2, 0x2000_0001, 1, 2, cred, &[])).unwrap().0,
        ReplyBody::Denied(RejectStat::AuthError(AuthStat::BadCred))
    );
    // Unknown flavor; a verifier other than AUTH_NONE.
    let cred = OpaqueAuth { flavor: AuthFlavor::Unknown(390_003), body: Opaque::EMPTY };
    assert_eq!(
        run(&call(2, 0x2000_0001, 1, 1, cred, &[0; 4])).unwrap().0,
        ReplyBody::Denied(RejectStat::AuthError(AuthStat::BadCred))
    );
    let mut bad_verf = call(2, 0x2000_0001, 1, 1, OpaqueAuth::NONE, &[0; 4]);
    bad_verf[35] = 1;
    assert_eq!(run(&bad_verf).unwrap().0, ReplyBody::Denied(RejectStat::AuthError(AuthStat::BadVerf)));
}

#[test]
fn truncated_and_non_calls() {
    let full = call(2, 0x2000_0001, 1, 1, OpaqueAuth::NONE, &[0, 0, 0, 7]);
    assert_eq!(run(&full[..3]), None);
    assert_eq!(run(&full[..6]), None);
    // A reply sent to a server is dropped.
    let mut reply = full.clone();
    reply[7] = 1;
    assert_eq!(run(&reply), None);
    for cut in 8..full.len() {
        let (body, _) = run(&full[..cut]).unwrap_or_else(|| panic!("no reply at {cut}"));
        assert_ne!(body, accepted(AcceptStat::Success), "cut at {cut}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut x = 0x1234_5678u32;
    let mut buf = [0u8; 200];
    for round in 0..20_000 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let len = round % buf.len();
        if round % 2 == 0 {
            // Make it look like a call to get past the first checks.
            buf[4..8].copy_from_slice(&[0, 0, 0, 0]);
            buf[8..12].copy_from_slice(&[0, 0, 0, 2]);
        }
        let mut d = Dispatcher::new(Echo);
        let mut reply = [0u8; 128];
        if let Dispatch::Reply(n) = d.handle(peer(), &buf[..len], &mut reply) {
            assert!(Message::decode(&reply[..n]).is_ok());
        }
    }
}

#[test]
fn tiny_reply_buffer_gives_no_reply() {
    let mut d = Dispatcher::new(Echo);
    let mut reply = [0u8; 10];
    let req = call(2, 0x2000_0001, 1, 1, OpaqueAuth::NONE, &[0, 0, 0, 7]);
    assert_eq!(d.handle(peer(), &req, &mut reply), Dispatch::NoReply);
    assert_eq!(d.stats().dropped, 1);
}
