//! `MemFs` data path: sequential 64 KiB reads and writes of a 64 MiB file, in bytes per
//! second (the NFS READ and WRITE paths of a MemFs export go through exactly these calls).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_core::fs::mem::{BLOCK_SIZE, Block, Config, Entry, MemFs, Node, Parts};
use tern_core::fs::{CreateHow, Ctx, FileSystem, SetAttr, Stability, Time};

const FILE: usize = 64 << 20;
const CHUNK: usize = 64 << 10;

fn memfs() -> MemFs<'static> {
    let parts = Parts {
        nodes: vec![Node::ZERO; 16].leak(),
        entries: vec![Entry::ZERO; 16].leak(),
        blocks: vec![Block::ZERO; FILE / BLOCK_SIZE].leak(),
        names: vec![0u8; 256].leak(),
    };
    MemFs::from_parts(parts, Config::new(1, *b"verifier")).expect("a MemFs")
}

fn data_path(c: &mut Criterion) {
    let mut fs = memfs();
    let ctx = Ctx { now: Time { secs: 1, nsecs: 0 }, uid: 0, gid: 0 };
    let root = fs.root();
    let f = fs.create(&ctx, &root, b"big", &CreateHow::Unchecked(SetAttr::default())).expect("create");
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("memfs_64MiB_in_64KiB_calls");
    g.throughput(Throughput::Bytes(FILE as u64));
    g.sample_size(10);
    g.bench_function("write", |b| {
        b.iter(|| {
            for i in 0..FILE / CHUNK {
                let off = (i * CHUNK) as u64;
                black_box(fs.write(&ctx, &f, off, &chunk, Stability::Unstable).expect("write"));
            }
        })
    });
    let mut buf = vec![0u8; CHUNK];
    g.bench_function("read", |b| {
        b.iter(|| {
            let mut off = 0u64;
            loop {
                let (n, eof) = fs.read(&f, off, &mut buf).expect("read");
                black_box(&buf[..n]);
                off += n as u64;
                if eof || n == 0 {
                    break;
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, data_path);
criterion_main!(benches);
