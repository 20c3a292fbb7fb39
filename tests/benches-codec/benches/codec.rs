//! Tern's core against onc-rpc (RPC call with AUTH_SYS) and xdr-codec (1 MiB opaque).
//! See `README.md` for what each benchmark measures; the fixtures are in `src/lib.rs`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tern_bench_codec::*;
use tern_core::xdr::Opaque;

fn call(c: &mut Criterion) {
    let cred = tern_credential();
    let handle = Opaque::<64>::new(&HANDLE).expect("64 bytes");
    let arg = handle_arg();
    let msg = onc_message(&arg);
    let mut buf = [0u8; 256];
    let n = tern_encode_call(&cred, handle, &mut buf).expect("encode");
    let wire = buf[..n].to_vec();
    let mut other = [0u8; 256];
    assert_eq!(onc_encode_call(&msg, &mut other), Some(n));
    assert_eq!(other[..n], wire[..], "the two encoders disagree");
    let t = tern_decode_call(&wire).expect("tern decodes");
    assert!(borrowed_from(t.handle.as_bytes(), &wire), "Tern's decode copied the handle");
    assert!(borrowed_from(t.cred.machine_name.as_bytes(), &wire));
    assert_eq!(onc_decode_call(&wire).map(|o| o.handle), Some(&HANDLE[..]));

    let mut g = c.benchmark_group("rpc_call_auth_sys");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function(BenchmarkId::new("decode", "tern"), |b| b.iter(|| black_box(tern_decode_call(black_box(&wire)))));
    g.bench_function(BenchmarkId::new("decode", "onc-rpc"), |b| {
        b.iter(|| black_box(onc_decode_call(black_box(&wire))))
    });
    g.bench_function(BenchmarkId::new("encode", "tern"), |b| {
        b.iter(|| tern_encode_call(black_box(&cred), black_box(handle), black_box(&mut buf)))
    });
    g.bench_function(BenchmarkId::new("encode", "onc-rpc"), |b| {
        b.iter(|| onc_encode_call(black_box(&msg), black_box(&mut buf)))
    });
    g.finish();
}

fn opaque(c: &mut Criterion) {
    let data = opaque_data();
    let mut wire = vec![0u8; OPAQUE_LEN + 4];
    assert_eq!(tern_encode_opaque(&data, &mut wire), Some(wire.len()));
    let mut other = vec![0u8; OPAQUE_LEN + 4];
    assert_eq!(xdrc_encode_opaque(&data, &mut other), Some(other.len()));
    assert_eq!(other, wire, "the two encoders disagree");
    let t = tern_decode_opaque(&wire).expect("tern decodes");
    assert!(borrowed_from(t, &wire), "Tern's decode copied the opaque");
    assert_eq!(xdrc_decode_opaque(&wire).as_deref(), Some(&data[..]));

    let mut g = c.benchmark_group("opaque_1MiB");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function(BenchmarkId::new("decode", "tern"), |b| {
        b.iter(|| black_box(tern_decode_opaque(black_box(&wire))))
    });
    g.bench_function(BenchmarkId::new("decode", "tern+to_vec"), |b| {
        b.iter(|| black_box(tern_decode_opaque(black_box(&wire)).map(<[u8]>::to_vec)))
    });
    g.bench_function(BenchmarkId::new("decode", "xdr-codec"), |b| {
        b.iter(|| black_box(xdrc_decode_opaque(black_box(&wire))))
    });
    g.bench_function(BenchmarkId::new("encode", "tern"), |b| {
        b.iter(|| tern_encode_opaque(black_box(&data), black_box(&mut other)))
    });
    g.bench_function(BenchmarkId::new("encode", "xdr-codec"), |b| {
        b.iter(|| xdrc_encode_opaque(black_box(&data), black_box(&mut other)))
    });
    g.finish();
}

criterion_group!(benches, call, opaque);
criterion_main!(benches);
