//! The blocking driver over a std `TcpStream` against a real server (the in-core `Nfs3Server`
//! over `MemFs`, served by `tern-std`): the file API end to end, a server killed in the middle
//! of a transfer, reconnecting on the `Reconnect` schedule, time-outs, oversized replies.

mod common;

use std::time::{Duration, Instant as StdInstant};

use common::{EXPORT, StdStream, TestServer, Trip, cred, now, pattern, silent_server};
use tern_core::mount;
use tern_core::nfs3::client::{Error as ClientError, LinkAction, Reconnect, Semantics};
use tern_core::nfs3::{self, CreateHow3, FType3, NfsStat3, Sattr3, Verifier};
use tern_core::rpc::client::{Client, ClientConfig};
use tern_core::time::{self, Instant};
use tern_eio::blocking::{NfsClient, Rpc};
use tern_eio::{Buffers, IO_OVERHEAD, NfsError, RpcError};

const N: usize = 8;
type Nfs<'b> = NfsClient<'b, StdStream, fn() -> Instant, N>;

struct Bufs {
    call: Vec<u8>,
    reply: Vec<u8>,
    input: Vec<u8>,
}

impl Bufs {
    /// 32 KiB WRITEs, 64 KiB READs.
    fn new() -> Self {
        Bufs {
            call: vec![0; 32 * 1024 + IO_OVERHEAD],
            reply: vec![0; 64 * 1024 + IO_OVERHEAD],
            input: vec![0; 16 * 1024],
        }
    }
    fn get(&mut self) -> Buffers<'_> {
        Buffers { call: &mut self.call, reply: &mut self.reply, input: &mut self.input }
    }
}

/// A soft configuration: a call that gets no reply in 10 s fails (a hung test fails instead of
/// hanging).
fn soft() -> ClientConfig {
    ClientConfig { timeout: time::Duration::from_secs(10), max_timeout: time::Duration::from_secs(10), retries: 0 }
}

fn nfs(b: &mut Bufs, io: StdStream, cfg: ClientConfig) -> Nfs<'_> {
    let rpc = Rpc::new(io, now as fn() -> Instant, Client::new(cfg, 0x0e10_0000), b.get());
    NfsClient::new(rpc, cred())
}

fn file() -> CreateHow3 {
    CreateHow3::Unchecked(Sattr3 { mode: Some(0o644), ..Sattr3::default() })
}

/// Entries of the server's mount list (MOUNT DUMP).
fn dump(c: &mut Nfs<'_>) -> usize {
    let res = c.rpc().call(|c, now, buf| mount::client::dump(c, now, buf).map_err(RpcError::from)).unwrap();
    mount::client::decode_dump(res).unwrap().iter().count()
}

fn names(c: &mut Nfs<'_>, dir: &tern_core::nfs3::client::Fh) -> Vec<String> {
    let mut out = Vec::new();
    c.readdir(dir, |e| out.push(String::from_utf8_lossy(e.name.as_bytes()).into_owned())).unwrap();
    out
}

#[test]
fn mount_write_commit_read_readdir_umount() {
    let server = TestServer::start();
    let mut b = Bufs::new();
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), soft());
    c.null().unwrap();
    let root = c.mount(EXPORT).unwrap();
    assert_eq!(c.mounts().collect::<Vec<_>>(), [EXPORT]);
    assert_eq!(dump(&mut c), 1);
    // FSINFO allows 1 MiB; the buffers cap the sizes.
    let sizes = c.io_sizes();
    assert_eq!((sizes.rsize, sizes.wsize), (64 * 1024, 32 * 1024));
    c.set_window(4);

    let fh = c.create(&root, "big.bin", file()).unwrap();
    let data = pattern(1 << 20, 1);
    let stats = c.write_file(&fh, 0, &data).unwrap();
    assert_eq!((stats.acked, stats.resent, stats.verifier_changes), (1 << 20, 0, 0));
    // The transfer committed; a COMMIT now gives the same verifier (the server's).
    assert_eq!(c.commit(&fh).unwrap(), Verifier(*b"eio-verf"));
    let attr = c.getattr(&fh).unwrap();
    assert_eq!((attr.ftype, attr.size), (FType3::Reg, 1 << 20));

    c.rpc().io_mut().max_burst = 0;
    let mut back = vec![0u8; 1 << 20];
    assert_eq!(c.read_file(&fh, 0, &mut back).unwrap(), 1 << 20);
    assert!(back == data, "read back differs");
    // The window was used: four READs written before the first reply was read.
    assert!(c.rpc().io().max_burst >= 4, "max burst {}", c.rpc().io().max_burst);
    // A read past the end stops at the end of the file.
    let mut tail = [0u8; 1000];
    assert_eq!(c.read_file(&fh, (1 << 20) - 100, &mut tail).unwrap(), 100);
    assert_eq!(tail[..100], data[(1 << 20) - 100..]);

    let listed = names(&mut c, &root);
    assert!(listed.iter().any(|n| n == "big.bin"), "{listed:?}");

    // The rest of the file API.
    let dir = c.mkdir(&root, "d", Sattr3 { mode: Some(0o755), ..Sattr3::default() }).unwrap();
    let small = c.create(&dir, "a", file()).unwrap();
    c.write_file(&small, 0, b"hello").unwrap();
    assert_eq!(c.walk(&root, "d/a").unwrap(), small);
    c.rename(&dir, "a", &root, "b").unwrap();
    let e = c.lookup(&dir, "a").unwrap_err();
    assert_eq!(e.status(), Some(NfsStat3::NoEnt));
    assert!(!e.is_link());
    let mut five = [0u8; 5];
    let moved = c.lookup(&root, "b").unwrap().0;
    assert_eq!(c.read_file(&moved, 0, &mut five).unwrap(), 5);
    assert_eq!(&five, b"hello");
    c.symlink(&root, "l", b"d/x", Sattr3::default()).unwrap();
    let mut target = [0u8; 16];
    let l = c.lookup(&root, "l").unwrap().0;
    let n = c.readlink(&l, &mut target).unwrap();
    assert_eq!(&target[..n], b"d/x");
    assert_eq!(c.rmdir(&root, "b").unwrap_err().status(), Some(NfsStat3::NotDir));
    c.remove(&root, "b").unwrap();
    c.remove(&root, "l").unwrap();
    c.rmdir(&root, "d").unwrap();
    let set = c.setattr(&fh, Sattr3 { size: Some(10), ..Sattr3::default() }).unwrap();
    assert_eq!(set.map(|a| a.size), Some(10));
    assert!(c.fsstat(&root).unwrap().tbytes > 0);
    let mut listed = names(&mut c, &root);
    listed.sort();
    assert_eq!(listed, [".", "..", "big.bin"]);

    c.umount(EXPORT).unwrap();
    assert_eq!(c.mounts().count(), 0);
    assert_eq!(dump(&mut c), 0);
    assert_eq!(c.umount(EXPORT), Err(NfsError::Client(ClientError::NotMounted)));
    assert_eq!(c.rpc().outstanding(), 0);
}

/// Connects on the schedule of `r` until a connection is made; the attempts.
fn reconnect(r: &mut Reconnect, addr: std::net::SocketAddr) -> (StdStream, u32) {
    let mut attempts = 0;
    loop {
        match r.poll(now()) {
            LinkAction::Up => unreachable!("link is down"),
            LinkAction::GiveUp => panic!("gave up"),
            LinkAction::Wait(t) => std::thread::sleep(Duration::from_micros(t.saturating_since(now()).as_micros())),
            LinkAction::Connect => {
                attempts += 1;
                match StdStream::connect(addr) {
                    Ok(s) => {
                        r.connected();
                        return (s, attempts);
                    }
                    Err(_) => r.lost(now()),
                }
            }
        }
    }
}

#[test]
fn server_killed_mid_write_fails_then_reconnect_and_retry() {
    let server = TestServer::start();
    let mut b = Bufs::new();
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), soft());
    let root = c.mount(EXPORT).unwrap();
    c.set_window(4);
    let fh = c.create(&root, "f", file()).unwrap();
    let data = pattern(1 << 20, 2);

    let kill = server.killer();
    c.rpc().io_mut().on_write = Some(Trip { after: 256 * 1024, action: Box::new(kill), background: false });
    let t0 = StdInstant::now();
    let e = c.write_file(&fh, 0, &data).unwrap_err();
    assert!(e.is_link(), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
    assert!(!c.rpc().is_up());
    assert_eq!(c.rpc().outstanding(), 0);
    // Until it has a new stream the driver refuses calls.
    assert_eq!(c.getattr(&fh), Err(NfsError::Rpc(RpcError::Disconnected)));

    // The caller reconnects on the Reconnect schedule; the server comes back 300 ms later.
    let mut r = Reconnect::new(
        now(),
        Semantics::Hard,
        time::Duration::from_millis(50),
        time::Duration::from_millis(400),
        time::Duration::from_secs(30),
    );
    r.lost(now());
    while server.is_running() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let restart = std::thread::scope(|s| {
        let h = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            server.restart();
        });
        let (stream, attempts) = reconnect(&mut r, server.addr);
        h.join().unwrap();
        (stream, attempts)
    });
    let (stream, attempts) = restart;
    assert!(attempts >= 2, "connected at once while the server was down ({attempts} attempts)");
    c.replace_io(stream);
    assert!(c.rpc().is_up());

    // Handles survive (stateless server): the write is simply done again.
    c.write_file(&fh, 0, &data).unwrap();
    let mut back = vec![0u8; 1 << 20];
    assert_eq!(c.read_file(&fh, 0, &mut back).unwrap(), 1 << 20);
    assert!(back == data, "read back differs after the retry");
}

#[test]
fn server_killed_mid_read_fails() {
    let server = TestServer::start();
    let mut b = Bufs::new();
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), soft());
    let root = c.mount(EXPORT).unwrap();
    let fh = c.create(&root, "f", file()).unwrap();
    c.write_file(&fh, 0, &pattern(1 << 20, 3)).unwrap();

    let kill = server.killer();
    let already = c.rpc().io().read;
    c.rpc().io_mut().on_read = Some(Trip { after: already + 300 * 1024, action: Box::new(kill), background: true });
    let t0 = StdInstant::now();
    let mut back = vec![0u8; 1 << 20];
    let e = c.read_file(&fh, 0, &mut back).unwrap_err();
    assert!(e.is_link(), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
    assert_eq!(c.rpc().outstanding(), 0);
}

#[test]
fn silent_server_times_out() {
    let (addr, t) = silent_server();
    let mut b = Bufs::new();
    let io = StdStream::connect(addr).unwrap().with_read_timeout(Duration::from_millis(50));
    let cfg = ClientConfig {
        timeout: time::Duration::from_millis(300),
        max_timeout: time::Duration::from_millis(300),
        retries: 0,
    };
    let mut c = nfs(&mut b, io, cfg);
    let t0 = StdInstant::now();
    assert_eq!(c.null(), Err(NfsError::Client(ClientError::TimedOut)));
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "took {took:?}");
    // A time-out is not a lost link: the connection may still be used.
    assert!(c.rpc().is_up());
    assert_eq!(c.rpc().outstanding(), 0);
    drop(c);
    t.join().unwrap();
}

#[test]
fn reply_larger_than_the_buffer_ends_the_connection() {
    let server = TestServer::start();
    let mut b = Bufs { call: vec![0; 4096], reply: vec![0; 4096], input: vec![0; 512] };
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), soft());
    let root = c.mount(EXPORT).unwrap();
    // The client keeps its own READs within the buffer...
    assert_eq!(c.io_sizes().rsize, 4096 - IO_OVERHEAD as u32);
    let fh = c.create(&root, "f", file()).unwrap();
    let data = pattern(20_000, 4);
    c.write_file(&fh, 0, &data).unwrap();
    let mut back = vec![0u8; 20_000];
    assert_eq!(c.read_file(&fh, 0, &mut back).unwrap(), 20_000);
    assert!(back == data);
    // ...but a READ asked by hand for more is a reply the buffer cannot hold.
    let args = nfs3::ReadArgs { file: fh.wire(), offset: 0, count: 16 * 1024 };
    let cr = cred();
    let e = c
        .rpc()
        .call(|c, now, buf| tern_core::nfs3::client::read(c, now, &cr, &args, buf).map_err(RpcError::from))
        .unwrap_err();
    assert_eq!(e, RpcError::TooLarge);
    assert!(e.is_link() && !c.rpc().is_up());
    assert_eq!(c.getattr(&fh), Err(NfsError::Rpc(RpcError::Disconnected)));
    // A new connection works.
    c.replace_io(StdStream::connect(server.addr).unwrap());
    assert_eq!(c.getattr(&fh).unwrap().size, 20_000);
}
