#!/bin/sh
# Sequential throughput through a FUSE mount: `tern mount --memfs` against the same 256 MiB file
# on tmpfs (/dev/shm), with dd (1 MiB blocks); then an NFS export (`tern serve` over a /dev/shm
# directory) mounted with `tern mount nfs://...`, read with dd through the mount, against
# libnfs's `nfs-cat` reading the same file from the same server. Every FUSE read goes to the
# server: opening a file drops its cached pages (no keep_cache), so each dd reads through FUSE.
#   scripts/bench-fuse.sh [RUNS]      (root; /dev/fuse)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
cargo build -q --release -p tern-std --bin tern
TERN=target/release/tern
W=$(mktemp -d /dev/shm/tern-bench-fuse.XXXXXX)
SERVE_PID=""
cleanup() {
    for m in "$W/mnt" "$W/nfsmnt"; do
        "$TERN" umount "$m" 2>/dev/null || "$TERN" umount --lazy "$m" 2>/dev/null || true
    done
    if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
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

# The same file behind tern serve, through `tern mount nfs://` and with nfs-cat.
mkdir "$W/export" "$W/state" "$W/nfsmnt"
cp "$W/data" "$W/export/data"
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
NFS=$(port) MNT=$(port) PM=$(port)
"$TERN" serve --export "$W/export 127.0.0.1(rw,no_root_squash,insecure)" --listen 127.0.0.1 \
    --nfs-port "$NFS" --mount-port "$MNT" --portmap "127.0.0.1:$PM" --state-dir "$W/state" 2>/dev/null &
SERVE_PID=$!
for _ in $(seq 100); do rpcinfo -T tcp -a "127.0.0.1.$((NFS >> 8)).$((NFS & 255))" 100003 3 >/dev/null 2>&1 && break; sleep 0.1; done
URL="nfs://127.0.0.1$W/export?version=3&nfsport=$NFS&mountport=$MNT&uid=0&gid=0"
"$TERN" mount "$URL" "$W/nfsmnt"
n=$(for i in $(seq "$RUNS"); do rate if="$W/nfsmnt/data" of=/dev/null; done)
c=$(for i in $(seq "$RUNS"); do
    s0=$(date +%s%N); nfs-cat "nfs://127.0.0.1$W/export/data?version=3&nfsport=$NFS&mountport=$MNT" >/dev/null
    s1=$(date +%s%N); echo $((256 * 1048576 * 1000 / (s1 - s0)))
done)
echo "read 256 MiB through tern mount nfs:// of tern serve (dd bs=1M): median $(echo "$n" | median) MB/s, best $(echo "$n" | best) MB/s"
echo "read 256 MiB with libnfs nfs-cat from the same tern serve:      median $(echo "$c" | median) MB/s, best $(echo "$c" | best) MB/s"
