//! The cache through a real [`Dispatcher`], with a program whose non-idempotent "remove" answers
//! differently when run twice.

use super::*;
use crate::rpc::msg::{AcceptStat, CallHeader, Message, ReplyBody};
use crate::rpc::{Dispatch, Dispatcher, OpaqueAuth, Transport};
use crate::xdr::{self, Encode};
use std::collections::HashMap;
use std::vec::Vec;

const PROG: u32 = 0x2000_00d0;
const REMOVE: u32 = 1;
const LOOKUP: u32 = 2;
const BIG: u32 = 3;

/// A set of 64 names. REMOVE (non-idempotent) answers `[status, runs]`, status 0 when the name
/// was there and 2 (NOENT) when not; LOOKUP (idempotent) answers `[present, runs]`; BIG
/// (non-idempotent) answers 100 bytes. `runs` counts every execution, so no two executions give
/// the same reply.
struct Files {
    present: u64,
    runs: u32,
}

impl Files {
    fn new() -> Self {
        Files { present: u64::MAX, runs: 0 }
    }
}

impl NonIdempotent for Files {
    fn non_idempotent(&self, _vers: u32, proc_: u32) -> bool {
        matches!(proc_, REMOVE | BIG)
    }
}

impl Program for Files {
    fn program(&self) -> u32 {
        PROG
    }
    fn versions(&self) -> (u32, u32) {
        (1, 1)
    }
    fn call(&mut self, ctx: &CallContext<'_>, args: &[u8], out: &mut Writer<'_>) -> Result<(), ProcError> {
        self.runs += 1;
        match ctx.proc_ {
            REMOVE | LOOKUP => {
                let name: u32 = xdr::decode_exact(args)?;
                let bit = 1u64.checked_shl(name).filter(|_| name < 64).ok_or(ProcError::GarbageArgs)?;
                let was = self.present & bit != 0;
                if ctx.proc_ == REMOVE {
                    self.present &= !bit;
                    out.put_u32(if was { 0 } else { 2 })?;
                } else {
                    out.put_u32(u32::from(was))?;
                }
                Ok(out.put_u32(self.runs)?)
            }
            BIG => {
                out.put_bytes(&[7u8; 96])?;
                Ok(out.put_u32(self.runs)?)
            }
            _ => Err(ProcError::ProcUnavail),
        }
    }
}

type Server<const N: usize, const R: usize> = Dispatcher<DrcProgram<Files, N, R>>;

fn server<const N: usize, const R: usize>() -> Server<N, R> {
    Dispatcher::new(DrcProgram::new(Files::new()))
}

fn udp(addr: &str) -> Peer {
    Peer { addr: addr.parse().unwrap(), transport: Transport::Udp }
}

fn client() -> Peer {
    udp("192.0.2.1:800")
}

fn request(xid: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    let h = CallHeader { xid, rpcvers: 2, prog: PROG, vers: 1, proc_, cred: OpaqueAuth::NONE, verf: OpaqueAuth::NONE };
    let mut buf = std::vec![0u8; h.encoded_len()];
    xdr::encode_to(&h, &mut buf).unwrap();
    buf.extend_from_slice(args);
    buf
}

fn name(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

/// Sends one request at `secs` seconds and returns the whole reply.
fn send<const N: usize, const R: usize>(d: &mut Server<N, R>, secs: u64, peer: Peer, req: &[u8]) -> Vec<u8> {
    let mut reply = [0u8; 512];
    match d.handle_at(Instant::from_millis(secs * 1000), peer, req, &mut reply) {
        Dispatch::Reply(n) => reply[..n].to_vec(),
        Dispatch::NoReply => panic!("no reply"),
    }
}

/// The accept status and results of a reply.
fn results(reply: &[u8]) -> (AcceptStat, Vec<u8>) {
    match Message::decode(reply).unwrap() {
        Message::Reply(h, rest) => match h.body {
            ReplyBody::Accepted { stat, .. } => (stat, rest.to_vec()),
            ReplyBody::Denied(d) => panic!("denied: {d:?}"),
        },
        Message::Call(..) => panic!("a call"),
    }
}

fn runs<const N: usize, const R: usize>(d: &mut Server<N, R>) -> u32 {
    d.programs().inner().runs
}

#[test]
fn checksum_is_fnv1a_over_the_first_256_bytes() {
    assert_eq!(checksum(b""), 0x811c_9dc5);
    assert_eq!(checksum(b"a"), 0xe40c_292c);
    assert_eq!(checksum(b"foobar"), 0xbf9c_f968);
    let mut a = [1u8; 300];
    let b = a;
    a[CHECKSUM_BYTES] = 2;
    assert_eq!(checksum(&a), checksum(&b));
    a[CHECKSUM_BYTES - 1] = 2;
    assert_ne!(checksum(&a), checksum(&b));
}

#[test]
fn retransmission_gets_the_original_reply_byte_for_byte() {
    let mut d = server::<8, 64>();
    let req = request(7, REMOVE, &name(3));
    let first = send(&mut d, 1, client(), &req);
    assert_eq!(results(&first), (AcceptStat::Success, [0, 0, 0, 0, 0, 0, 0, 1].to_vec()));
    for t in [1, 2, 60, 119] {
        assert_eq!(send(&mut d, t, client(), &req), first);
    }
    assert_eq!(runs(&mut d), 1);
    // A new call (new xid) runs, and without the cache the answer would have been this one.
    let again = send(&mut d, 2, client(), &request(8, REMOVE, &name(3)));
    assert_eq!(results(&again), (AcceptStat::Success, [0, 0, 0, 2, 0, 0, 0, 2].to_vec()));
    assert_eq!(d.programs().stats(), Stats { hits: 4, misses: 2, stored: 2, too_large: 0, evicted: 0 });
}

#[test]
fn same_xid_from_another_address_port_or_transport_runs_again() {
    let mut d = server::<8, 64>();
    let req = request(7, REMOVE, &name(3));
    let first = send(&mut d, 1, client(), &req);
    let others = [
        udp("192.0.2.2:800"),
        udp("192.0.2.1:801"),
        Peer { addr: client().addr, transport: Transport::Tcp },
        udp("[2001:db8::1]:800"),
    ];
    for (i, peer) in others.into_iter().enumerate() {
        let reply = send(&mut d, 1, peer, &req);
        assert_ne!(reply, first);
        assert_eq!(results(&reply).1[..4], [0, 0, 0, 2], "{peer:?}");
        assert_eq!(runs(&mut d), i as u32 + 2);
    }
    // Each of them is now cached in its own right.
    assert_eq!(send(&mut d, 2, client(), &req), first);
    assert_eq!(results(&send(&mut d, 2, udp("192.0.2.1:801"), &req)).1, [0, 0, 0, 2, 0, 0, 0, 3]);
    assert_eq!(runs(&mut d), 5);
}

#[test]
fn ipv6_flow_label_is_ignored_scope_is_not() {
    let mut d = server::<8, 64>();
    let req = request(7, REMOVE, &name(3));
    let peer = |flow, scope| Peer {
        addr: SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 800, flow, scope)),
        transport: Transport::Udp,
    };
    let first = send(&mut d, 1, peer(1, 2), &req);
    assert_eq!(send(&mut d, 1, peer(99, 2), &req), first);
    assert_ne!(send(&mut d, 1, peer(1, 3), &req), first);
    assert_eq!(runs(&mut d), 2);
}

#[test]
fn same_xid_with_other_arguments_runs_again() {
    let mut d = server::<8, 64>();
    let first = send(&mut d, 1, client(), &request(7, REMOVE, &name(3)));
    let other = send(&mut d, 1, client(), &request(7, REMOVE, &name(4)));
    assert_ne!(other, first);
    assert_eq!(results(&other), (AcceptStat::Success, [0, 0, 0, 0, 0, 0, 0, 2].to_vec()));
    // Other procedure with the same arguments: a different key too.
    let lookup = send(&mut d, 1, client(), &request(7, LOOKUP, &name(3)));
    assert_eq!(results(&lookup).1, [0, 0, 0, 0, 0, 0, 0, 3]);
    assert_eq!(runs(&mut d), 3);
}

#[test]
fn entries_expire_after_their_lifetime() {
    let mut d = server::<8, 64>();
    let req = request(7, REMOVE, &name(3));
    let first = send(&mut d, 10, client(), &req);
    assert_eq!(send(&mut d, 129, client(), &req), first);
    assert_eq!(d.programs().cache().live_entries(Instant::from_millis(129_999)), 1);
    assert_eq!(d.programs().cache().live_entries(Instant::from_millis(130_000)), 0);
    let late = send(&mut d, 130, client(), &req);
    assert_eq!(results(&late).1, [0, 0, 0, 2, 0, 0, 0, 2]);
    // The new execution is cached from its own time.
    assert_eq!(send(&mut d, 249, client(), &req), late);
    assert_eq!(runs(&mut d), 2);

    // A shorter lifetime.
    let mut d: Server<8, 64> =
        Dispatcher::new(DrcProgram::with_cache(Files::new(), Drc::with_lifetime(Duration::from_secs(5))));
    assert_eq!(d.programs().cache().lifetime(), Duration::from_secs(5));
    let first = send(&mut d, 0, client(), &req);
    assert_eq!(send(&mut d, 4, client(), &req), first);
    assert_ne!(send(&mut d, 5, client(), &req), first);
    assert_eq!(runs(&mut d), 2);
}

#[test]
fn full_cache_replaces_the_oldest_entry() {
    let mut d = server::<2, 64>();
    let reqs: Vec<_> = (0..3).map(|i| request(100 + i, REMOVE, &name(i))).collect();
    let first: Vec<_> = reqs.iter().enumerate().map(|(t, r)| send(&mut d, t as u64, client(), r)).collect();
    assert_eq!(d.programs().stats().evicted, 1);
    // 1 and 2 are still there; 0 was the oldest and is gone.
    assert_eq!(send(&mut d, 5, client(), &reqs[2]), first[2]);
    assert_eq!(send(&mut d, 5, client(), &reqs[1]), first[1]);
    assert_eq!(runs(&mut d), 3);
    assert_ne!(send(&mut d, 5, client(), &reqs[0]), first[0]);
    assert_eq!(runs(&mut d), 4);
    // Re-storing 0 pushed out 1 (now the oldest), not 2.
    assert_eq!(send(&mut d, 6, client(), &reqs[2]), first[2]);
    assert_ne!(send(&mut d, 6, client(), &reqs[1]), first[1]);
    assert_eq!(d.programs().stats().evicted, 3);

    // With every call at the same instant, insertion order decides.
    let mut d = server::<2, 64>();
    let first: Vec<_> = reqs.iter().map(|r| send(&mut d, 0, client(), r)).collect();
    assert_eq!(send(&mut d, 0, client(), &reqs[1]), first[1]);
    assert_eq!(send(&mut d, 0, client(), &reqs[2]), first[2]);
    assert_eq!(runs(&mut d), 3);
}

#[test]
fn expired_slots_are_reused_before_live_ones_are_evicted() {
    let mut d = server::<2, 64>();
    let a = send(&mut d, 0, client(), &request(1, REMOVE, &name(1)));
    send(&mut d, 100, client(), &request(2, REMOVE, &name(2)));
    // At 130 s the first entry has expired: the third call takes its slot without an eviction.
    let c = send(&mut d, 130, client(), &request(3, REMOVE, &name(3)));
    assert_eq!(d.programs().stats().evicted, 0);
    assert_eq!(send(&mut d, 131, client(), &request(3, REMOVE, &name(3))), c);
    assert_ne!(send(&mut d, 131, client(), &request(1, REMOVE, &name(1))), a);
}

#[test]
fn idempotent_procedures_are_never_cached() {
    let mut d = server::<8, 64>();
    let req = request(7, LOOKUP, &name(3));
    let first = send(&mut d, 1, client(), &req);
    let second = send(&mut d, 1, client(), &req);
    assert_eq!(results(&first).1, [0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(results(&second).1, [0, 0, 0, 1, 0, 0, 0, 2]);
    // Unknown procedures are idempotent for this program: not cached either.
    let unknown = request(7, 9, &[]);
    assert_eq!(results(&send(&mut d, 1, client(), &unknown)).0, AcceptStat::ProcUnavail);
    assert_eq!(results(&send(&mut d, 1, client(), &unknown)).0, AcceptStat::ProcUnavail);
    assert_eq!(runs(&mut d), 4);
    assert_eq!(d.programs().stats(), Stats::default());
    assert_eq!(d.programs().cache().live_entries(Instant::ZERO), 0);
}

#[test]
fn replies_larger_than_r_are_not_cached() {
    let mut d = server::<8, 64>();
    let req = request(7, BIG, &[]);
    let first = send(&mut d, 1, client(), &req);
    assert_eq!(results(&first).1.len(), 100);
    let second = send(&mut d, 1, client(), &req);
    assert_ne!(second, first);
    assert_eq!(runs(&mut d), 2);
    assert_eq!(d.programs().stats(), Stats { hits: 0, misses: 2, stored: 0, too_large: 2, evicted: 0 });

    // Exactly R bytes fit.
    let mut d = server::<8, 100>();
    let first = send(&mut d, 1, client(), &req);
    assert_eq!(send(&mut d, 1, client(), &req), first);
    assert_eq!(runs(&mut d), 1);
}

#[test]
fn error_outcomes_are_replayed() {
    let mut d = server::<8, 64>();
    for args in [&[0u8, 0, 0][..], &name(64)] {
        let req = request(7, REMOVE, args);
        let first = send(&mut d, 1, client(), &req);
        assert_eq!(results(&first), (AcceptStat::GarbageArgs, Vec::new()));
        assert_eq!(send(&mut d, 1, client(), &req), first);
    }
    assert_eq!(runs(&mut d), 2);
    assert_eq!(d.programs().stats().hits, 2);
}

#[test]
fn hit_that_no_longer_fits_the_reply_buffer_is_system_err() {
    let mut d = server::<8, 128>();
    let req = request(7, BIG, &[]);
    send(&mut d, 1, client(), &req);
    let mut small = [0u8; 60];
    let Dispatch::Reply(n) = d.handle(client(), &req, &mut small) else { panic!("no reply") };
    assert_eq!(results(&small[..n]).0, AcceptStat::SystemErr);
    assert_eq!(runs(&mut d), 1);
    // The entry is still there for a retransmission with room to answer.
    let full = send(&mut d, 1, client(), &req);
    assert_eq!(results(&full).1.len(), 100);
}

#[test]
fn direct_api_and_zero_capacity() {
    let key =
        Key { xid: 1, peer: client(), prog: PROG, vers: 1, proc_: REMOVE, args_len: 4, checksum: checksum(&name(1)) };
    let mut c: Drc<0, 16> = Drc::new();
    assert!(!c.insert(key, Instant::ZERO, Ok(()), &[1, 2]));
    assert_eq!(c.lookup(&key, Instant::ZERO), None);

    let mut c: Drc<2, 4> = Drc::default();
    assert!(c.insert(key, Instant::ZERO, Ok(()), &[1, 2]));
    assert!(c.insert(key, Instant::ZERO, Err(ProcError::SystemErr), &[1, 2, 3, 4, 5]));
    assert_eq!(c.live_entries(Instant::ZERO), 1);
    assert_eq!(c.lookup(&key, Instant::ZERO), Some(Cached { outcome: Err(ProcError::SystemErr), results: &[] }));
    c.clear();
    assert_eq!(c.lookup(&key, Instant::ZERO), None);
    assert_eq!(c.stats(), Stats { hits: 1, misses: 1, stored: 2, too_large: 0, evicted: 0 });
}

#[test]
fn memory_cost_is_n_times_r_plus_a_small_key() {
    let per_entry = |total: usize, n: usize, r: usize| (total - core::mem::size_of::<Drc<0, 0>>()) / n - r;
    let overhead = per_entry(core::mem::size_of::<Drc<64, 512>>(), 64, 512);
    assert!(overhead <= 96, "{overhead}");
    assert_eq!(per_entry(core::mem::size_of::<Drc<1, 0>>(), 1, 0), overhead);
}

/// A small xorshift generator, so the workload is the same on every run.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

#[test]
fn random_workload_never_panics_and_hits_replay_the_last_execution() {
    let mut d = server::<4, 64>();
    let peers = [client(), udp("192.0.2.1:801"), udp("192.0.2.9:800"), udp("[2001:db8::7]:2049")];
    // The last reply produced by running each (peer, request), to check every hit against.
    let mut last: HashMap<(usize, Vec<u8>), Vec<u8>> = HashMap::new();
    let mut rng = Rng(0x9e37_79b9);
    let mut now_ms = 0u64;
    let mut recent: Vec<(usize, Vec<u8>)> = Vec::new();
    for _ in 0..20_000 {
        now_ms += u64::from(rng.below(20_000));
        // Half the time, retransmit one of the last few requests.
        let (p, req) = if !recent.is_empty() && rng.below(2) == 0 {
            recent[recent.len() - 1 - rng.below(recent.len().min(8) as u32) as usize].clone()
        } else {
            let p = rng.below(4) as usize;
            let proc_ = [0, REMOVE, REMOVE, REMOVE, LOOKUP, BIG, 9][rng.below(7) as usize];
            let args: Vec<u8> = match rng.below(8) {
                0 => Vec::new(),
                1 => std::vec![rng.next() as u8; rng.below(300) as usize],
                _ => name(rng.below(70)).to_vec(),
            };
            let req = (p, request(rng.below(16), proc_, &args));
            recent.push(req.clone());
            req
        };
        let mut reply = [0u8; 512];
        let room = if rng.below(10) == 0 { rng.below(512) as usize } else { 512 };
        let before = runs(&mut d);
        let stats = d.programs().stats();
        let out = d.handle_at(Instant::from_millis(now_ms), peers[p], &req, &mut reply[..room]);
        let ran = runs(&mut d) != before;
        let hit = d.programs().stats().hits != stats.hits;
        assert!(!(ran && hit));
        let Dispatch::Reply(n) = out else {
            assert!(!ran);
            continue;
        };
        let key = (p, req);
        if ran {
            last.insert(key, reply[..n].to_vec());
        } else if hit && room == 512 {
            assert_eq!(last.get(&key).map(Vec::as_slice), Some(&reply[..n]));
        }
    }
    let s = d.programs().stats();
    assert!(s.hits > 100 && s.evicted > 100 && s.too_large > 100, "{s:?}");
    assert_eq!(s.stored + s.too_large, s.misses);
}
