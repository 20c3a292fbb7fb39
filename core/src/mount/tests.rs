//! MOUNT v3 wire bytes, round trips, and the server program driven through the dispatcher.

use std::vec::Vec;

use super::*;
use crate::exports::Exports;
use crate::rpc::auth::{AuthSys, Credential, Gids};
use crate::rpc::client::{CallFailure, Client, ClientConfig};
use crate::rpc::msg::AcceptStat;
use crate::rpc::server::{Dispatch, Dispatcher, Peer, Transport};
use crate::time::Instant;
use crate::xdr::{SliceChain, XdrStr};

fn enc<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut buf = std::vec![0u8; v.encoded_len()];
    assert_eq!(xdr::encode_to(v, &mut buf), Ok(buf.len()));
    buf
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_be_bytes()).collect()
}

// ---- wire types ----

#[test]
fn mountres3_bytes() {
    let ok = MountRes3::Ok {
        fhandle: FHandle3::new(&[1, 2, 3, 4, 5]).unwrap(),
        auth_flavors: AuthFlavors::Slice(&[AuthFlavor::Sys]),
    };
    let bytes = enc(&ok);
    assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    let back = client::decode_mnt(&bytes).unwrap();
    let MountRes3::Ok { fhandle, auth_flavors } = back else { panic!("{back:?}") };
    assert_eq!(fhandle.as_bytes(), [1, 2, 3, 4, 5]);
    assert!(auth_flavors.iter().eq([AuthFlavor::Sys]));
    assert_eq!(enc(&back), bytes);

    assert_eq!(enc(&MountRes3::Fail(MountStat::Acces)), [0, 0, 0, 13]);
    assert_eq!(client::decode_mnt(&[0, 0, 0x27, 0x16]), Ok(MountRes3::Fail(MountStat::ServerFault)));
    // Unknown statuses are kept.
    assert_eq!(client::decode_mnt(&[0, 0, 0, 99]), Ok(MountRes3::Fail(MountStat::Unknown(99))));
    assert_eq!(enc(&MountRes3::Fail(MountStat::Unknown(99))), [0, 0, 0, 99]);
    // A failure with status 0 cannot be encoded; trailing bytes after a failure are refused.
    let mut buf = [0u8; 8];
    assert_eq!(xdr::encode_to(&MountRes3::Fail(MountStat::Ok), &mut buf), Err(xdr::Error::InvalidDiscriminant));
    assert_eq!(client::decode_mnt(&[0, 0, 0, 2, 0, 0, 0, 0]), Err(xdr::Error::TrailingBytes));
}

#[test]
fn mountstat_values() {
    let all = [
        (MountStat::Ok, 0),
        (MountStat::Perm, 1),
        (MountStat::NoEnt, 2),
        (MountStat::Io, 5),
        (MountStat::Acces, 13),
        (MountStat::NotDir, 20),
        (MountStat::Inval, 22),
        (MountStat::NameTooLong, 63),
        (MountStat::NotSupp, 10004),
        (MountStat::ServerFault, 10006),
    ];
    for (s, v) in all {
        assert_eq!(i32::from(s), v);
        assert_eq!(MountStat::from(v), s);
    }
}

#[test]
fn bounds() {
    // fhandle3 is at most 64 bytes.
    let mut res = words(&[0, 65]);
    res.extend_from_slice(&[0u8; 68]);
    res.extend_from_slice(&words(&[0]));
    assert_eq!(client::decode_mnt(&res), Err(xdr::Error::LengthExceeded));
    let mut res = words(&[0, 64]);
    res.extend_from_slice(&[7u8; 64]);
    res.extend_from_slice(&words(&[0]));
    assert!(client::decode_mnt(&res).is_ok());
    // auth_flavors<> is bounded on decode.
    let mut res = words(&[0, 0, MAX_AUTH_FLAVORS + 1]);
    res.extend_from_slice(&words(&[1; MAX_AUTH_FLAVORS as usize + 1]));
    assert_eq!(client::decode_mnt(&res), Err(xdr::Error::LengthExceeded));
    // dirpath is at most 1024 bytes, name at most 255.
    let mut arg = words(&[1025]);
    arg.extend_from_slice(&[b'a'; 1028]);
    assert_eq!(xdr::decode_exact::<DirPath<'_>>(&arg), Err(xdr::Error::LengthExceeded));
    let mut arg = words(&[1024]);
    arg.extend_from_slice(&[b'a'; 1024]);
    assert!(xdr::decode_exact::<DirPath<'_>>(&arg).is_ok());
    let mut name = words(&[256]);
    name.extend_from_slice(&[b'a'; 256]);
    assert_eq!(xdr::decode_exact::<Name<'_>>(&name), Err(xdr::Error::LengthExceeded));
    assert!(DirPath::new(&"a".repeat(1025)).is_err());
    // A chain cut short, or with a bad boolean.
    assert_eq!(client::decode_dump(&words(&[1])), Err(xdr::Error::UnexpectedEnd));
    assert_eq!(client::decode_dump(&words(&[2])), Err(xdr::Error::InvalidBool));
    assert_eq!(client::decode_export(&words(&[1, 0, 1])), Err(xdr::Error::UnexpectedEnd));
}

#[test]
fn mountlist_bytes_and_roundtrip() {
    let bytes = [
        0, 0, 0, 1, 0, 0, 0, 1, b'h', 0, 0, 0, 0, 0, 0, 2, b'/', b'a', 0, 0, //
        0, 0, 0, 1, 0, 0, 0, 2, b'h', b'2', 0, 0, 0, 0, 0, 3, b'/', b'b', b'c', 0, //
        0, 0, 0, 0,
    ];
    let list = client::decode_dump(&bytes).unwrap();
    let items: Vec<(&[u8], &[u8])> = list.iter().map(|m| (m.hostname.as_bytes(), m.directory.as_bytes())).collect();
    assert_eq!(items, [(&b"h"[..], &b"/a"[..]), (b"h2", b"/bc")]);
    assert_eq!(enc(&list), bytes);
    let bodies: Vec<MountBody<'_>> = list.iter().collect();
    assert_eq!(enc(&SliceChain::<MountBody<'_>, MAX_MOUNT_LIST>(&bodies)), bytes);
    assert_eq!(client::decode_dump(&[0, 0, 0, 0]).unwrap().len(), 0);
}

#[test]
fn exports_bytes_and_roundtrip() {
    let t = Exports::<4, 4>::parse("/a *\n/bc 10.0.0.0/8(rw) h1\n").unwrap();
    let bytes = enc(&ExportsReply(&t));
    let mut want = words(&[1, 2]);
    want.extend_from_slice(b"/a\0\0");
    want.extend_from_slice(&words(&[1, 1]));
    want.extend_from_slice(b"*\0\0\0");
    want.extend_from_slice(&words(&[0, 1, 3]));
    want.extend_from_slice(b"/bc\0");
    want.extend_from_slice(&words(&[1, 10]));
    want.extend_from_slice(b"10.0.0.0/8\0\0");
    want.extend_from_slice(&words(&[1, 2]));
    want.extend_from_slice(b"h1\0\0");
    want.extend_from_slice(&words(&[0, 0]));
    assert_eq!(bytes, want);
    let list = client::decode_export(&bytes).unwrap();
    let nodes: Vec<ExportNode<'_>> = list.iter().collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[1].dir.to_str(), Some("/bc"));
    assert!(nodes[1].groups.iter().map(|g| g.to_str().unwrap()).eq(["10.0.0.0/8", "h1"]));
    assert_eq!(enc(&list), bytes);
    assert_eq!(enc(&SliceChain::<ExportNode<'_>, MAX_EXPORT_LIST>(&nodes)), bytes);
    // An empty table is an empty list.
    assert_eq!(enc(&ExportsReply(&Exports::<1, 1>::new())), [0, 0, 0, 0]);
}

// ---- the server ----

/// Handles are `export_path|subdir`; `/srv/file` is not a directory; 10.0.0.5 is `board.lab`.
struct Roots {
    calls: usize,
}

impl ExportRoots for Roots {
    fn root_handle(&mut self, export_path: &str, subdir: &str, out: &mut [u8; 64]) -> Result<usize, MountStat> {
        self.calls += 1;
        if subdir == "file" {
            return Err(MountStat::NotDir);
        }
        if subdir == "huge" {
            return Ok(65);
        }
        let mut n = 0;
        for &b in export_path.as_bytes().iter().chain(b"|").chain(subdir.as_bytes()) {
            *out.get_mut(n).ok_or(MountStat::NameTooLong)? = b;
            n += 1;
        }
        Ok(n)
    }

    fn host_name(&mut self, addr: core::net::IpAddr, out: &mut heapless::String<255>) -> bool {
        addr == "10.0.0.5".parse::<core::net::IpAddr>().unwrap() && out.push_str("board.lab").is_ok()
    }
}

const EXPORTS: &str = "\
/srv        10.0.0.0/24(rw) *.lab(ro,insecure)
/srv/secret 10.0.0.1(rw,sec=sys:none)
/pub        *(ro,insecure)
";

type Server = MountServer<'static, Roots, 4, 8, 4, 64>;

struct Rig {
    d: Dispatcher<Server>,
    c: Client<4>,
}

fn peer(addr: &str) -> Peer {
    Peer { addr: addr.parse().unwrap(), transport: Transport::Tcp }
}

fn sys_cred() -> Credential<'static> {
    Credential::Sys(AuthSys {
        stamp: 1,
        machine_name: XdrStr::new("board").unwrap(),
        uid: 0,
        gid: 0,
        gids: Gids::Slice(&[]),
    })
}

impl Rig {
    fn new() -> Self {
        let server = MountServer::new(Exports::parse(EXPORTS).unwrap(), Roots { calls: 0 });
        Rig { d: Dispatcher::new(server), c: Client::new(ClientConfig::stream(), 7) }
    }

    fn send(&mut self, from: &str, req: &[u8]) -> Result<Vec<u8>, CallFailure> {
        let mut rep = [0u8; 1024];
        let Dispatch::Reply(n) = self.d.handle(peer(from), req, &mut rep) else { panic!("no reply") };
        self.c.handle_reply(&rep[..n]).unwrap().result.map(<[u8]>::to_vec)
    }

    fn mnt(&mut self, from: &str, path: &str) -> Vec<u8> {
        let mut buf = [0u8; 1200];
        let (_, n) = client::mnt(&mut self.c, Instant::ZERO, &sys_cred(), path, &mut buf).unwrap();
        self.send(from, &buf[..n]).unwrap()
    }

    fn mnt_stat(&mut self, from: &str, path: &str) -> MountStat {
        match client::decode_mnt(&self.mnt(from, path)).unwrap() {
            MountRes3::Ok { .. } => MountStat::Ok,
            MountRes3::Fail(s) => s,
        }
    }

    fn dump(&mut self) -> Vec<(std::string::String, std::string::String)> {
        let mut buf = [0u8; 128];
        let (_, n) = client::dump(&mut self.c, Instant::ZERO, &mut buf).unwrap();
        let res = self.send("192.0.2.99:40000", &buf[..n]).unwrap();
        let list = client::decode_dump(&res).unwrap();
        list.iter().map(|m| (m.hostname.to_str().unwrap().into(), m.directory.to_str().unwrap().into())).collect()
    }
}

fn pair(h: &str, d: &str) -> (std::string::String, std::string::String) {
    (h.into(), d.into())
}

#[test]
fn mnt_success_gives_handle_and_auth_sys() {
    let mut rig = Rig::new();
    let res = rig.mnt("10.0.0.2:700", "/srv");
    let mut want = words(&[0, 5]);
    want.extend_from_slice(b"/srv|\0\0\0");
    want.extend_from_slice(&words(&[1, 1]));
    assert_eq!(res, want);
    // A directory below an export, and the deeper export with its own flavors.
    let res = rig.mnt("10.0.0.2:700", "/srv/a/b/");
    let MountRes3::Ok { fhandle, .. } = client::decode_mnt(&res).unwrap() else { panic!() };
    assert_eq!(fhandle.as_bytes(), b"/srv|a/b");
    let res = rig.mnt("10.0.0.1:700", "/srv/secret/x");
    let MountRes3::Ok { fhandle, auth_flavors } = client::decode_mnt(&res).unwrap() else { panic!() };
    assert_eq!(fhandle.as_bytes(), b"/srv/secret|x");
    assert!(auth_flavors.iter().eq([AuthFlavor::Sys, AuthFlavor::None]));
    // 10.0.0.2 is refused by /srv/secret but may reach it through /srv.
    let res = rig.mnt("10.0.0.2:700", "/srv/secret");
    let MountRes3::Ok { fhandle, .. } = client::decode_mnt(&res).unwrap() else { panic!() };
    assert_eq!(fhandle.as_bytes(), b"/srv|secret");
}

#[test]
fn mnt_refusals() {
    let mut rig = Rig::new();
    // Not in any client entry.
    assert_eq!(rig.mnt_stat("192.0.2.1:700", "/srv"), MountStat::Acces);
    // secure: a source port of 1024 or above.
    assert_eq!(rig.mnt_stat("10.0.0.2:1024", "/srv"), MountStat::Acces);
    assert_eq!(rig.mnt_stat("10.0.0.2:1023", "/srv"), MountStat::Ok);
    // insecure exports take any port.
    assert_eq!(rig.mnt_stat("192.0.2.1:50000", "/pub"), MountStat::Ok);
    // Unknown paths, bad paths, errors of the file system.
    assert_eq!(rig.mnt_stat("10.0.0.2:700", "/nope"), MountStat::NoEnt);
    assert_eq!(rig.mnt_stat("10.0.0.2:700", "srv"), MountStat::Inval);
    assert_eq!(rig.mnt_stat("10.0.0.2:700", "/srv/../etc"), MountStat::Inval);
    assert_eq!(rig.mnt_stat("10.0.0.2:700", "/srv/file"), MountStat::NotDir);
    assert_eq!(rig.mnt_stat("10.0.0.2:700", "/srv/huge"), MountStat::ServerFault);
    // Refusals do not reach the file systems and are not recorded.
    assert_eq!(rig.d.programs().roots().calls, 4);
    assert_eq!(rig.d.programs().mounts().len(), 2);
}

#[test]
fn host_names_come_from_the_roots() {
    let mut rig = Rig::new();
    // 10.0.0.5 is inside 10.0.0.0/24 (first entry, rw); 192.0.2.5 has no name.
    assert_eq!(rig.mnt_stat("10.0.0.5:700", "/srv"), MountStat::Ok);
    assert_eq!(rig.mnt_stat("192.0.2.5:40000", "/srv"), MountStat::Acces);
    let t = Exports::<2, 2>::parse("/srv *.lab(insecure)").unwrap();
    let mut s = MountServer::<_, 2, 2, 2, 16>::new(t, Roots { calls: 0 });
    let mut fh = [0u8; 64];
    assert!(s.mount("10.0.0.5:40000".parse().unwrap(), b"/srv", &mut fh).is_ok());
    assert_eq!(s.mount("10.0.0.6:40000".parse().unwrap(), b"/srv", &mut fh), Err(MountStat::Acces));
    assert_eq!(s.mount("10.0.0.5:40000".parse().unwrap(), b"/srv\xff", &mut fh), Err(MountStat::Inval));
}

#[test]
fn dump_umnt_umntall() {
    let mut rig = Rig::new();
    rig.mnt("10.0.0.2:700", "/srv");
    rig.mnt("10.0.0.2:700", "/srv/a");
    rig.mnt("10.0.0.2:700", "/srv"); // again: one entry
    rig.mnt("[::ffff:10.0.0.3]:700", "/srv");
    rig.mnt("[2001:db8::1]:700", "/pub");
    assert_eq!(
        rig.dump(),
        [pair("10.0.0.2", "/srv"), pair("10.0.0.2", "/srv/a"), pair("10.0.0.3", "/srv"), pair("2001:db8::1", "/pub")]
    );
    let mut buf = [0u8; 256];
    let (_, n) = client::umnt(&mut rig.c, Instant::ZERO, &sys_cred(), "/srv", &mut buf).unwrap();
    assert_eq!(client::decode_void(&rig.send("10.0.0.2:700", &buf[..n]).unwrap()), Ok(()));
    // Another host's UMNT of the same path removes nothing.
    let (_, n) = client::umnt(&mut rig.c, Instant::ZERO, &sys_cred(), "/srv/a", &mut buf).unwrap();
    assert_eq!(rig.send("10.0.0.9:700", &buf[..n]).unwrap(), []);
    assert_eq!(rig.dump(), [pair("10.0.0.2", "/srv/a"), pair("10.0.0.3", "/srv"), pair("2001:db8::1", "/pub")]);
    let (_, n) = client::umntall(&mut rig.c, Instant::ZERO, &sys_cred(), &mut buf).unwrap();
    assert_eq!(rig.send("10.0.0.2:900", &buf[..n]).unwrap(), []);
    assert_eq!(rig.dump(), [pair("10.0.0.3", "/srv"), pair("2001:db8::1", "/pub")]);
}

#[test]
fn mount_list_capacity_is_advisory() {
    let t = Exports::<2, 2>::parse("/srv *(insecure)").unwrap();
    let mut s = MountServer::<_, 2, 2, 2, 8>::new(t, Roots { calls: 0 });
    let mut fh = [0u8; 64];
    for a in ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"] {
        assert!(s.mount(a.parse().unwrap(), b"/srv", &mut fh).is_ok());
    }
    // A path longer than P is not recorded either.
    assert!(s.mount("10.0.0.1:1".parse().unwrap(), b"/srv/long/path", &mut fh).is_ok());
    assert_eq!((s.mounts().len(), s.mounts().unrecorded()), (2, 2));
    let mut m = Mounts::<1, 4>::new();
    assert!(m.add("h", "/a") && m.add("h", "/a") && !m.add("h", "/b"));
    assert_eq!((m.remove_host("h"), m.is_empty()), (1, true));
    assert!(!m.remove("h", "/a"));
}

#[test]
fn export_lists_every_export_and_its_groups() {
    let mut rig = Rig::new();
    let mut buf = [0u8; 128];
    let (_, n) = client::export(&mut rig.c, Instant::ZERO, &mut buf).unwrap();
    let res = rig.send("192.0.2.1:40000", &buf[..n]).unwrap();
    let list = client::decode_export(&res).unwrap();
    let got: Vec<(&str, Vec<&str>)> = list
        .iter()
        .map(|e| (e.dir.to_str().unwrap(), e.groups.iter().map(|g| g.to_str().unwrap()).collect()))
        .collect();
    assert_eq!(
        got,
        [("/srv", std::vec!["10.0.0.0/24", "*.lab"]), ("/srv/secret", std::vec!["10.0.0.1"]), ("/pub", std::vec!["*"])]
    );
    assert_eq!(res, enc(&ExportsReply(rig.d.programs().exports())));
}

#[test]
fn export_too_large_for_the_reply_is_a_system_error() {
    let t = Exports::<1, 1>::parse("/a-rather-long-export-path-name-here").unwrap();
    let mut d = Dispatcher::new(MountServer::<_, 1, 1, 1, 8>::new(t, Roots { calls: 0 }));
    let mut c = Client::<1>::new(ClientConfig::stream(), 1);
    let mut buf = [0u8; 128];
    let (_, n) = client::export(&mut c, Instant::ZERO, &mut buf).unwrap();
    let mut rep = [0u8; 48];
    let Dispatch::Reply(m) = d.handle(peer("10.0.0.1:1"), &buf[..n], &mut rep) else { panic!() };
    assert_eq!(c.handle_reply(&rep[..m]).unwrap().result, Err(CallFailure::Accepted(AcceptStat::SystemErr)));
}

#[test]
fn protocol_errors() {
    let mut rig = Rig::new();
    let mut buf = [0u8; 256];
    let cred = Credential::None;
    let mut call = |rig: &mut Rig, vers: u32, proc_: u32, args: &[u8]| {
        let (_, n) = rig.c.call(Instant::ZERO, PROGRAM, vers, proc_, &cred, &(), &mut buf).unwrap();
        let mut req = buf[..n].to_vec();
        req.extend_from_slice(args);
        rig.send("10.0.0.2:700", &req)
    };
    // NULL.
    assert_eq!(call(&mut rig, 3, procs::NULL, &[]), Ok(std::vec![]));
    // Bad arguments: a cut path, trailing bytes, arguments to a void procedure.
    let garbage = Err(CallFailure::Accepted(AcceptStat::GarbageArgs));
    assert_eq!(call(&mut rig, 3, procs::MNT, &words(&[5, 0])), garbage);
    assert_eq!(call(&mut rig, 3, procs::MNT, &words(&[0, 0])), garbage);
    assert_eq!(call(&mut rig, 3, procs::UMNT, &words(&[2000])), garbage);
    assert_eq!(call(&mut rig, 3, procs::DUMP, &words(&[0])), garbage);
    assert_eq!(call(&mut rig, 3, procs::UMNTALL, &words(&[0])), garbage);
    assert_eq!(call(&mut rig, 3, procs::EXPORT, &words(&[0])), garbage);
    // EXPORTALL (v1 only) and beyond.
    assert_eq!(call(&mut rig, 3, 6, &[]), Err(CallFailure::Accepted(AcceptStat::ProcUnavail)));
    // MOUNT v1 is not served.
    assert_eq!(
        call(&mut rig, 1, procs::DUMP, &[]),
        Err(CallFailure::Accepted(AcceptStat::ProgMismatch { low: 3, high: 3 }))
    );
    // An empty path is not absolute.
    assert_eq!(call(&mut rig, 3, procs::MNT, &words(&[0])), Ok(words(&[22])));
}
