#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md in one run: codec against onc-rpc and xdr-codec, RPC NULL
# round trips against rpcbind, the NFS server and client against ganesha and libnfs, and the
# firmware's section sizes. Needs port 111 free.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
crit=(-- --warm-up-time 1 --measurement-time "${BENCH_SECONDS:-5}")
cargo bench -p tern-bench-codec --bench codec "${crit[@]}"
cargo bench -p tern-bench-rpc --bench null_roundtrip "${crit[@]}"
cargo bench -p tern-bench-nfs --bench memfs "${crit[@]}"
cargo bench -p tern-bench-vm --bench vm "${crit[@]}"
scripts/bench-nfs.sh
scripts/bench-client.sh
scripts/bench-fuse.sh
scripts/bench-migrate.sh
command -v cargo-size >/dev/null || cargo install -q --locked cargo-binutils
rustup component list --installed | grep -q llvm-tools || rustup component add llvm-tools
(cd examples/board-virt && cargo size --release -- -A)
