#!/usr/bin/env bash
# What HostFs's open-file cache gains on small operations, in one run: two `tern serve`
# (release build) side by side, one with its soft state (default) and one with none
# (`--file-cache 0`), each exporting its own temporary directory; criterion's nfs_ops bench
# (tests/benches-nfs/benches/nfs_ops.rs) with 1 and 8 clients. A quicker, narrower companion of
# scripts/bench-nfs.sh (which also runs ganesha and the read-ahead variant).
#   FILTER=create_remove  criterion filter (default: every small operation)
#   SECS=4                measurement time per bench
# Servers are started on free ports and stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p tern-std --bin tern
cargo bench -q -p tern-bench-nfs --no-run 2>/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
targets=""
for name in tern tern-nosoft; do
    mkdir -p "$tmp/$name" "$tmp/$name-state"
    n=$(port) m=$(port)
    extra=()
    [ "$name" = tern-nosoft ] && extra=(--file-cache 0)
    target/release/tern serve --export "$tmp/$name 127.0.0.1(rw,insecure,no_root_squash)" --listen 127.0.0.1 \
        --nfs-port "$n" --mount-port "$m" --state-dir "$tmp/$name-state" "${extra[@]}" >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    targets+="$name:$n:$m:$tmp/$name "
done
for _ in $(seq 50); do
    ok=1
    for t in $targets; do
        IFS=: read -r _ n _ _ <<<"$t"
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $n), 1)" 2>/dev/null || ok=0
    done
    [ $ok = 1 ] && break
    sleep 0.1
done
TERN_BENCH_NFS_TARGETS=$targets cargo bench -q -p tern-bench-nfs --bench nfs_ops -- \
    --warm-up-time 1 --measurement-time "${SECS:-4}" ${FILTER:+"$FILTER"} 2>&1 |
    awk '/^nfs_/ { name = $1 } /thrpt:/ && name { gsub(/\[/, ""); printf "%-36s %s %s\n", name, $4, $5; name = "" }'
