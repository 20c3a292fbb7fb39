//! Guest instructions per second: the memory-worker example guest (a 4 MiB working set
//! filled, 20,000 pages dirtied, an FNV checksum over it) run to its exit in a fresh process.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_bench_vm::run_guest;

fn memory_worker(c: &mut Criterion) {
    let elf = std::fs::read(tern_tests::guest("memory-worker")).expect("guest built");
    let args: [&[u8]; 4] = [b"mw", b"1024", b"1000", b"20"];
    let instret = run_guest(&elf, &args);
    let mut g = c.benchmark_group("vm");
    g.sample_size(10);
    g.throughput(Throughput::Elements(instret));
    g.bench_function("memory_worker_instructions", |b| b.iter(|| run_guest(&elf, &args)));
    g.finish();
}

criterion_group!(benches, memory_worker);
criterion_main!(benches);
