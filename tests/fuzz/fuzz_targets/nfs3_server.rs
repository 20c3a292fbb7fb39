//! The NFSv3 server (MOUNT + NFS service) over a small `MemFs` holding a file, a directory, a
//! symlink and a fifo. The input is a sequence of calls, each `[proc, handle, who, len]` and
//! `len` argument bytes: `proc` picks the procedure (low 5 bits; 22-31 are unknown), `handle` a
//! known handle to put first (the root, the four objects, any handle returned so far) or none
//! (the bytes are the whole arguments), `who` the caller (address, AUTH_SYS uid or AUTH_NONE).
//! RENAME and LINK get their second handle from the pool too. Nothing may panic; every reply
//! must decode as an RPC reply to its xid; a successful call's results must decode as that
//! procedure's result type, exactly; handles returned join the pool.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tern_core::exports::Exports;
use tern_core::fs::mem::{Config, MemFs, Storage};
use tern_core::fs::{Ctx, FileSystem, NodeKind, Time};
use tern_core::nfs3::server::{Nfs3Server, NfsService, ServerConfig};
use tern_core::nfs3::{self, DecodeWith, DirOpArgs3, FileHandle, Filename, Limits, procs};
use tern_core::rpc::auth::{AuthSys, Gids};
use tern_core::rpc::msg::{AcceptStat, ReplyBody};
use tern_core::rpc::{Credential, Dispatch, Dispatcher, Message, Peer, Transport};
use tern_core::xdr::{Writer, XdrStr};

const EXPORTS: &str = "/srv 10.0.0.1(rw,insecure,no_root_squash) 10.0.0.2(ro,insecure) 10.0.0.3(rw,all_squash)\n";
const PEERS: [&str; 4] = ["10.0.0.1:900", "10.0.0.2:900", "10.0.0.3:2000", "192.0.2.1:900"];

type Store = Storage<48, 32, 1024>;
type Service<'s> = NfsService<'static, Nfs3Server<'static, MemFs<'s>, 1, 1, 3>, 1, 3, 4, 64>;

fn exports() -> &'static Exports<'static, 1, 3> {
    static T: OnceLock<Exports<'static, 1, 3>> = OnceLock::new();
    T.get_or_init(|| Exports::parse(EXPORTS).expect("exports"))
}

/// A service over freshly formatted storage, and the handles of its root and four objects.
fn service(storage: &mut Store) -> (Dispatcher<Service<'_>>, Vec<Vec<u8>>) {
    let config = Config { root_mode: 0o777, ..Config::new(7, *b"verifier") };
    let mut fs = MemFs::new(storage, config);
    let ctx = Ctx { now: Time { secs: 1, nsecs: 0 }, uid: 1000, gid: 1000 };
    let root = fs.root();
    let f = fs.create(&ctx, &root, b"f", &tern_core::fs::CreateHow::Guarded(Default::default())).expect("f");
    fs.write(&ctx, &f, 0, b"some data in f", tern_core::fs::Stability::FileSync).expect("write");
    fs.mkdir(&ctx, &root, b"d", &Default::default()).expect("d");
    fs.symlink(&ctx, &root, b"l", b"f", &Default::default()).expect("l");
    fs.mknod(&ctx, &root, b"p", NodeKind::Fifo, &Default::default()).expect("p");
    let cfg =
        ServerConfig { max_read: 512, max_write: 512, max_readdir: 1024, ..ServerConfig::new(1, Time::default()) };
    let mut nfs = Nfs3Server::new(exports().clone(), cfg);
    nfs.add("/srv", fs).ok().expect("add");
    let mut d = Dispatcher::new(NfsService::new(nfs));
    let mut pool = vec![d.programs().nfs().root_handle(0).expect("root").as_bytes().to_vec()];
    for name in ["f", "d", "l", "p"] {
        let mut fh = [0u8; 64];
        let fs = d.programs().nfs().fs_mut(0).expect("fs");
        let h = fs.lookup(&fs.root(), name.as_bytes()).expect("lookup");
        let root = pool[0].clone();
        fh[..8].copy_from_slice(&root[..8]);
        fh[8..8 + h.as_bytes().len()].copy_from_slice(h.as_bytes());
        pool.push(fh[..8 + h.as_bytes().len()].to_vec());
    }
    (d, pool)
}

/// Decodes a successful result as `T`, exactly.
fn results<'a, T: DecodeWith<'a, Limits>>(body: &'a [u8]) -> T {
    nfs3::decode_exact_with(body, &Limits::default())
        .unwrap_or_else(|e| panic!("results do not decode ({e:?}): {body:02x?}"))
}

/// The handle of the object a successful LOOKUP, CREATE, MKDIR, SYMLINK or MKNOD returns.
fn new_handle(proc_: u32, body: &[u8]) -> Option<Vec<u8>> {
    let h = match proc_ {
        procs::LOOKUP => results::<nfs3::LookupRes<'_>>(body).ok().map(|ok| ok.object),
        procs::CREATE | procs::MKDIR | procs::SYMLINK | procs::MKNOD => {
            results::<nfs3::CreateRes<'_>>(body).ok().and_then(|ok| ok.obj)
        }
        _ => None,
    };
    h.map(|h| h.as_bytes().to_vec())
}

/// Every other procedure's results decode too.
fn check_results(proc_: u32, body: &[u8]) {
    let _ = match proc_ {
        procs::GETATTR => results::<nfs3::GetattrRes>(body).status(),
        procs::SETATTR => results::<nfs3::SetattrRes>(body).status(),
        procs::ACCESS => results::<nfs3::AccessRes>(body).status(),
        procs::READLINK => results::<nfs3::ReadlinkRes<'_>>(body).status(),
        procs::READ => results::<nfs3::ReadRes<'_>>(body).status(),
        procs::WRITE => results::<nfs3::WriteRes>(body).status(),
        procs::REMOVE | procs::RMDIR => results::<nfs3::RemoveRes>(body).status(),
        procs::RENAME => results::<nfs3::RenameRes>(body).status(),
        procs::LINK => results::<nfs3::LinkRes>(body).status(),
        procs::READDIR => results::<nfs3::ReaddirRes<'_>>(body).status(),
        procs::READDIRPLUS => results::<nfs3::ReaddirplusRes<'_>>(body).status(),
        procs::FSSTAT => results::<nfs3::FsstatRes>(body).status(),
        procs::FSINFO => results::<nfs3::FsinfoRes>(body).status(),
        procs::PATHCONF => results::<nfs3::PathconfRes>(body).status(),
        procs::COMMIT => results::<nfs3::CommitRes>(body).status(),
        _ => nfs3::NfsStat3::Ok,
    };
}

/// The arguments of one call: a pool handle (and for RENAME and LINK a second one) in front of
/// the fuzzer's bytes, or the bytes alone.
fn arguments(proc_: u32, pick: u8, bytes: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let Some(first) = pool.get(usize::from(pick) % (pool.len() + 1)) else { return bytes.to_vec() };
    let second = &pool[usize::from(pick / 8) % pool.len()];
    fn fh(b: &[u8]) -> FileHandle<'_> {
        FileHandle::new(b).expect("pool handles fit")
    }
    fn name(s: &[u8]) -> Filename<'_> {
        Filename::new(&s[..s.len().min(12)])
    }
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let mut out = vec![0u8; 256 + bytes.len()];
    let mut w = Writer::new(&mut out);
    let ok = match proc_ {
        procs::RENAME => w
            .write(&DirOpArgs3 { dir: fh(first), name: name(a) })
            .and_then(|()| w.write(&DirOpArgs3 { dir: fh(second), name: name(b) })),
        procs::LINK => w.write(&fh(first)).and_then(|()| w.write(&DirOpArgs3 { dir: fh(second), name: name(a) })),
        _ => w.write(&fh(first)).and_then(|()| w.put_bytes(bytes)),
    };
    ok.expect("room for the arguments");
    let n = w.position();
    out.truncate(n);
    out
}

fn call(d: &mut Dispatcher<Service<'_>>, xid: u32, proc_: u32, who: u8, args: &[u8]) -> Option<Vec<u8>> {
    let peer = Peer { addr: PEERS[usize::from(who) % PEERS.len()].parse().expect("addr"), transport: Transport::Udp };
    let uid = [0, 1000, 2000, 65534][usize::from(who / 4) % 4];
    let cred = if who & 0x40 != 0 {
        Credential::None
    } else {
        let machine_name = XdrStr::new("fuzz").expect("name");
        Credential::Sys(AuthSys { stamp: 0, machine_name, uid, gid: uid, gids: Gids::Slice(&[]) })
    };
    let mut req = vec![0u8; 128 + args.len()];
    let mut w = Writer::new(&mut req);
    for v in [xid, 0, 2, nfs3::PROGRAM, nfs3::VERSION, proc_] {
        w.put_u32(v).expect("room");
    }
    cred.encode_opaque(&mut w).expect("cred");
    w.write(&tern_core::rpc::OpaqueAuth::NONE).expect("verf");
    w.put_bytes(args).expect("room");
    let n = w.position();
    let mut reply = vec![0u8; 4096];
    let Dispatch::Reply(m) = d.handle(peer, &req[..n], &mut reply) else { panic!("a call got no reply") };
    let Ok(Message::Reply(h, body)) = Message::decode(&reply[..m]) else { panic!("not a reply: {:02x?}", &reply[..m]) };
    assert_eq!(h.xid, xid);
    match h.body {
        ReplyBody::Accepted { stat: AcceptStat::Success, .. } => {
            check_results(proc_, body);
            new_handle(proc_, body)
        }
        _ => {
            assert!(body.is_empty());
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut storage = Box::new(Store::new());
    let (mut d, mut pool) = service(&mut storage);
    let mut rest = data;
    for xid in 1..=8u32 {
        let Some((&[sel, pick, who, len], tail)) = rest.split_first_chunk::<4>() else { break };
        let (bytes, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let proc_ = u32::from(sel & 0x1f);
        let args = if proc_ == procs::NULL || proc_ >= procs::COUNT {
            bytes.to_vec()
        } else {
            arguments(proc_, pick, bytes, &pool)
        };
        if let Some(h) = call(&mut d, xid, proc_, who, &args)
            && pool.len() < 16
        {
            pool.push(h);
        }
    }
});
