//! Raw loopback TCP bandwidth, the physical limit of the NFS transfer figures: one connection on
//! 127.0.0.1, a writer thread pushing `TERN_BENCH_LOOPBACK_MIB` MiB (2048 by default) in 1 MiB
//! writes and a reader draining it in 1 MiB reads, 3 runs. A plain timed loop (a run takes
//! about a second, too long for criterion's sampling); prints each run and a last line
//! `loopback_tcp_mbps <median>` (MB = 10^6 bytes) that scripts/bench-nfs.sh reads.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Instant;

const CHUNK: usize = 1 << 20;
const RUNS: usize = 3;

/// Sends `mib` MiB over a fresh loopback connection; returns MB/s.
fn one_run(mib: usize, data: &[u8]) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0usize;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e) => panic!("read: {e}"),
            }
        }
        (total, Instant::now())
    });
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    for _ in 0..mib {
        s.write_all(data).expect("write");
    }
    s.shutdown(Shutdown::Write).expect("shutdown");
    let (total, end) = reader.join().expect("reader thread");
    assert_eq!(total, mib * CHUNK, "bytes received");
    total as f64 / 1e6 / (end - start).as_secs_f64()
}

fn main() {
    let mib: usize = std::env::var("TERN_BENCH_LOOPBACK_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    // Pseudo-random bytes (xorshift), so nothing on the path can shortcut zeros.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..CHUNK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|i| {
            let r = one_run(mib, &data);
            println!("loopback TCP run {}: {mib} MiB at {r:.0} MB/s", i + 1);
            r
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!("loopback_tcp_mbps {:.0}", rates[RUNS / 2]);
}
