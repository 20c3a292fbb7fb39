//! RPC NULL round trips per second over loopback TCP: Tern's std server (serving the
//! portmapper) and rpcbind's own NULL, measured in the same run with the same Tern client.
//!
//! rpcbind needs port 111: the bench starts `rpcbind -f` itself (from Debian's rpcbind
//! package, installed by scripts/setup.sh) and stops it by PID afterwards.

use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_core::rpc::portmap::{Portmapper, SetPolicy};
use tern_std::client::RpcClient;
use tern_std::server::{Server, ServerConfig};
use tern_tests::{ChildGuard, free_port, local, require, run, wait_until};

fn start_rpcbind() -> ChildGuard {
    let rpcbind = require("rpcbind");
    assert!(TcpListener::bind("127.0.0.1:111").is_ok(), "port 111 is taken: stop the portmapper holding it");
    let _ = std::fs::remove_file("/run/rpcbind.sock");
    let _ = std::fs::remove_file("/run/rpcbind.lock");
    let g = ChildGuard::spawn("rpcbind", Command::new(rpcbind).arg("-f"));
    let up = wait_until(Duration::from_secs(10), || run(Command::new("rpcinfo").args(["-p", "127.0.0.1"])).0);
    assert!(up, "rpcbind did not come up");
    g
}

fn null_roundtrips(c: &mut Criterion) {
    let port = free_port();
    let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let server = Server::new(Portmapper::<64>::new(port, SetPolicy::LoopbackOnly), ServerConfig::default());
    let tern = server.spawn(Some(tcp), Some(udp)).unwrap();
    let rpcbind = start_rpcbind();

    let mut g = c.benchmark_group("rpc_null_tcp_loopback");
    g.throughput(Throughput::Elements(1));
    let mut to_tern = RpcClient::tcp(local(port), Duration::from_secs(5)).unwrap();
    g.bench_function("tern_server", |b| b.iter(|| to_tern.null(100_000, 2).unwrap()));
    let mut to_rpcbind = RpcClient::tcp(local(111), Duration::from_secs(5)).unwrap();
    g.bench_function("rpcbind", |b| b.iter(|| to_rpcbind.null(100_000, 2).unwrap()));
    g.finish();
    drop((to_tern, to_rpcbind, rpcbind));
    tern.shutdown();
}

criterion_group!(benches, null_roundtrips);
criterion_main!(benches);
