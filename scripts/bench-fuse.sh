#!/bin/sh
# Sequential throughput through a FUSE mount: `tern mount --memfs` against the same 256 MiB file
# on tmpfs (/dev/shm), with dd (1 MiB blocks). Every FUSE read goes to the server: opening a
# file drops its cached pages (no keep_cache), so each dd reads through FUSE.
#   scripts/bench-fuse.sh [RUNS]      (root; /dev/fuse)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
cargo build -q --release -p tern-std --bin tern
TERN=target/release/tern
W=$(mktemp -d /dev/shm/tern-bench-fuse.XXXXXX)
cleanup() {
    "$TERN" umount "$W/mnt" 2>/dev/null || "$TERN" umount --lazy "$W/mnt" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
mkdir "$W/mnt"
"$TERN" mount --memfs 320 "$W/mnt" 2>/dev/null
dd if=/dev/urandom of="$W/data" bs=1M count=256 status=none

# dd's rate (last field pair of its summary line), in MB/s.
rate() {
    dd "$@" bs=1M 2>&1 | awk '/copied/ {
        v = $(NF-1); u = $NF
        if (u == "GB/s") v *= 1000; else if (u == "kB/s") v /= 1000
        printf "%.0f\n", v }'
}
best() { sort -n | tail -1; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

w=$(for i in $(seq "$RUNS"); do rate if="$W/data" of="$W/mnt/data" conv=fsync; done | median)
r=$(for i in $(seq "$RUNS"); do rate if="$W/mnt/data" of=/dev/null; done)
t=$(for i in $(seq "$RUNS"); do rate if="$W/data" of=/dev/null; done)
echo "write 256 MiB into tern mount --memfs (dd bs=1M, median of $RUNS): $w MB/s"
echo "read 256 MiB through tern mount --memfs (dd bs=1M): median $(echo "$r" | median) MB/s, best $(echo "$r" | best) MB/s"
echo "read 256 MiB from tmpfs (dd bs=1M):                 median $(echo "$t" | median) MB/s, best $(echo "$t" | best) MB/s"
