//! The async driver, run by `embassy_futures::block_on` over a non-blocking std `TcpStream`
//! (a read that would block is `Pending`, so a read that loses the race against the timer
//! consumes nothing), against the same real server as the blocking tests.

mod common;

use std::time::{Duration, Instant as StdInstant};

use common::{EXPORT, StdStream, StdTimer, TestServer, Trip, cred, pattern, silent_server};
use embassy_futures::block_on;
use tern_core::mount;
use tern_core::nfs3::client::Error as ClientError;
use tern_core::nfs3::{CreateHow3, NfsStat3, Sattr3, Verifier};
use tern_core::rpc::client::{Client, ClientConfig};
use tern_core::time;
use tern_eio::asynch::{NfsClient, Rpc};
use tern_eio::{Buffers, Event, IO_OVERHEAD, NfsError, RpcError};

const N: usize = 8;
type Nfs<'b> = NfsClient<'b, StdStream, StdTimer, N>;

struct Bufs {
    call: Vec<u8>,
    reply: Vec<u8>,
    input: Vec<u8>,
}

impl Bufs {
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

fn cfg(timeout: time::Duration) -> ClientConfig {
    ClientConfig { timeout, max_timeout: timeout, retries: 0 }
}

fn nfs(b: &mut Bufs, io: StdStream, cfg: ClientConfig) -> Nfs<'_> {
    NfsClient::new(Rpc::new(io, StdTimer, Client::new(cfg, 0xa5e0_0000), b.get()), cred())
}

fn file() -> CreateHow3 {
    CreateHow3::Unchecked(Sattr3 { mode: Some(0o644), ..Sattr3::default() })
}

async fn dump(c: &mut Nfs<'_>) -> usize {
    let res = c.rpc().call(|c, now, buf| mount::client::dump(c, now, buf).map_err(RpcError::from)).await.unwrap();
    mount::client::decode_dump(res).unwrap().iter().count()
}

#[test]
fn mount_write_commit_read_readdir_umount() {
    let server = TestServer::start();
    let mut b = Bufs::new();
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), cfg(time::Duration::from_secs(10)));
    block_on(async {
        c.null().await.unwrap();
        let root = c.mount(EXPORT).await.unwrap();
        assert_eq!(dump(&mut c).await, 1);
        assert_eq!((c.io_sizes().rsize, c.io_sizes().wsize), (64 * 1024, 32 * 1024));
        c.set_window(4);
        let fh = c.create(&root, "big.bin", file()).await.unwrap();
        let data = pattern(1 << 20, 11);
        let stats = c.write_file(&fh, 0, &data).await.unwrap();
        assert_eq!((stats.acked, stats.resent), (1 << 20, 0));
        assert_eq!(c.commit(&fh).await.unwrap(), Verifier(*b"eio-verf"));
        assert_eq!(c.getattr(&fh).await.unwrap().size, 1 << 20);

        c.rpc().io_mut().max_burst = 0;
        let mut back = vec![0u8; 1 << 20];
        assert_eq!(c.read_file(&fh, 0, &mut back).await.unwrap(), 1 << 20);
        assert!(back == data, "read back differs");
        assert!(c.rpc().io().max_burst >= 4, "max burst {}", c.rpc().io().max_burst);

        // A source that fills chunks on demand (write_from) gives the same file.
        let mut chunk = vec![0u8; 32 * 1024];
        let other = c.create(&root, "gen.bin", file()).await.unwrap();
        c.write_from(&other, 0, 200_000, &mut chunk, |off, buf| {
            buf.copy_from_slice(&data[off as usize..off as usize + buf.len()]);
            std::ops::ControlFlow::Continue(())
        })
        .await
        .unwrap();
        let mut got = vec![0u8; 200_000];
        assert_eq!(c.read_file(&other, 0, &mut got).await.unwrap(), 200_000);
        assert!(got[..] == data[..200_000]);

        let mut names = Vec::new();
        c.readdir(&root, |e| names.push(String::from_utf8_lossy(e.name.as_bytes()).into_owned())).await.unwrap();
        names.sort();
        assert_eq!(names, [".", "..", "big.bin", "gen.bin"]);
        assert_eq!(c.lookup(&root, "nope").await.unwrap_err().status(), Some(NfsStat3::NoEnt));
        c.remove(&root, "gen.bin").await.unwrap();

        c.umount(EXPORT).await.unwrap();
        assert_eq!(dump(&mut c).await, 0);
        assert_eq!(c.rpc().outstanding(), 0);
    });
}

#[test]
fn pipelined_calls_fill_the_client_table() {
    let server = TestServer::start();
    let mut b = Bufs::new();
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), cfg(time::Duration::from_secs(10)));
    block_on(async {
        let root = c.mount(EXPORT).await.unwrap();
        let rpc = c.rpc();
        let cr = cred();
        let mut xids = Vec::new();
        for _ in 0..N {
            let args = tern_core::nfs3::GetattrArgs { object: root.wire() };
            let xid = rpc
                .start(|c, now, buf| tern_core::nfs3::client::getattr(c, now, &cr, &args, buf).map_err(RpcError::from))
                .await
                .unwrap();
            xids.push(xid);
        }
        // The client's table is full: one more call is refused, and nothing is sent.
        let extra = rpc.start(|c, now, buf| tern_core::nfs3::client::null(c, now, buf).map_err(RpcError::from)).await;
        assert!(matches!(extra, Err(RpcError::Call(_))), "{extra:?}");
        assert_eq!(rpc.outstanding(), N);
        while rpc.outstanding() > 0 {
            match rpc.next_event().await.unwrap() {
                Event::Reply(r) => {
                    assert!(r.result.is_ok());
                    xids.retain(|x| *x != r.xid);
                }
                Event::TimedOut(x) => panic!("call {x:#x} timed out"),
            }
        }
        assert!(xids.is_empty());
        assert_eq!(rpc.next_event().await.unwrap_err(), RpcError::Idle);
    });
}

#[test]
fn server_killed_mid_write_fails() {
    let server = TestServer::start();
    let mut b = Bufs::new();
    let mut c = nfs(&mut b, StdStream::connect(server.addr).unwrap(), cfg(time::Duration::from_secs(10)));
    block_on(async {
        let root = c.mount(EXPORT).await.unwrap();
        let fh = c.create(&root, "f", file()).await.unwrap();
        let kill = server.killer();
        c.rpc().io_mut().on_write = Some(Trip { after: 256 * 1024, action: Box::new(kill), background: false });
        let t0 = StdInstant::now();
        let e = c.write_file(&fh, 0, &pattern(1 << 20, 12)).await.unwrap_err();
        assert!(e.is_link(), "{e:?}");
        assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
        assert_eq!(c.rpc().outstanding(), 0);
        assert_eq!(c.getattr(&fh).await, Err(NfsError::Rpc(RpcError::Disconnected)));
    });
    // Back on a new connection to the restarted server, the handle still works.
    server.restart();
    c.replace_io(StdStream::connect(server.addr).unwrap());
    block_on(async {
        let root = c.mount(EXPORT).await.unwrap();
        let fh = c.lookup(&root, "f").await.unwrap().0;
        let data = pattern(1 << 20, 12);
        c.write_file(&fh, 0, &data).await.unwrap();
        let mut back = vec![0u8; 1 << 20];
        assert_eq!(c.read_file(&fh, 0, &mut back).await.unwrap(), 1 << 20);
        assert!(back == data);
    });
}

#[test]
fn timer_ends_a_call_to_a_silent_server() {
    let (addr, t) = silent_server();
    let mut b = Bufs::new();
    // No read time-out on the stream: only the timer race can end the call.
    let mut c = nfs(&mut b, StdStream::connect(addr).unwrap(), cfg(time::Duration::from_millis(300)));
    let t0 = StdInstant::now();
    assert_eq!(block_on(c.null()), Err(NfsError::Client(ClientError::TimedOut)));
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "took {took:?}");
    assert!(c.rpc().is_up());
    assert_eq!(c.rpc().outstanding(), 0);
    drop(c);
    t.join().unwrap();
}
