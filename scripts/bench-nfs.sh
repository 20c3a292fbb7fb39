#!/usr/bin/env bash
# NFS server benchmarks, in one run and side by side (the machine is shared and noisy: compare
# the ratios): `tern serve` (release build, HostFs) against nfs-ganesha (VFS back end), each
# exporting its own temporary directory on the same file system, plus raw loopback TCP
# bandwidth as the physical limit.
#   1. sequential write and read of a pseudo-random file with the libnfs tools (nfs-cp; reads
#      also with nfs-cat to /dev/null), 3 runs each, median;
#   2. loopback TCP bandwidth (tests/benches-nfs/benches/loopback.rs);
#   3. GETATTR, LOOKUP and CREATE+REMOVE per second with 1 and 8 clients (criterion,
#      tests/benches-nfs/benches/nfs_ops.rs);
#   4. what tern's soft state gains: two more tern servers run beside the first (defaults: the
#      open-file cache, no explicit read-ahead), one with explicit read-ahead (--readahead 4096)
#      and one without any soft state (--file-cache 0), through all of the above, plus cold reads
#      (the file's pages dropped from the host's page cache first).
# Prints one Markdown table at the end. Starts rpcbind (ganesha needs it to start; it is stopped
# as soon as ganesha is up, so port 111 must be free), ganesha and tern, and stops them by PID.
# Runs as root (apt-get, rpcbind).
#   BENCH_SECONDS  criterion measurement time per small-operation bench (default 5)
#   NFS_CP_MIB     size of the nfs-cp file in MiB (default 256)
#   LOOPBACK_MIB   MiB pushed per loopback run (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."

bench_name=bench-nfs
# shellcheck source=scripts/lib-bench.sh
. scripts/lib-bench.sh

secs=${BENCH_SECONDS:-5}
mib=${NFS_CP_MIB:-256}
loop_mib=${LOOPBACK_MIB:-2048}

require_peers
port_free 111 || die "port 111 is taken: stop the portmapper holding it (ganesha needs rpcbind there to start)"
if port_free 12049 && port_free 12048; then
    g_nfs=12049 g_mnt=12048
    taken+="12049 12048 "
else
    g_nfs=$(pick_port) g_mnt=$(pick_port)
fi
t_nfs=$(pick_port) t_mnt=$(pick_port) t_pm=$(pick_port)
a_nfs=$(pick_port) a_mnt=$(pick_port) n_nfs=$(pick_port) n_mnt=$(pick_port)

log "building tern (release) and the benches"
cargo build -q --release -p tern-std --bin tern
cargo bench -q -p tern-bench-nfs --no-run
target=$(cargo metadata -q --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
tern_bin=$target/release/tern

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-nfs.XXXXXX")
# Files read back land in memory when /dev/shm is there, so no disk write is measured.
shm=$(mktemp -d "$([ -d /dev/shm ] && echo /dev/shm || echo "$tmp")/tern-bench-nfs.XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_servers
    rm -rf "$tmp" "$shm"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/ganesha" "$tmp/tern" "$tmp/tern-ra" "$tmp/tern-nosoft" "$tmp/recov" "$tmp/tern-state"

start_ganesha "$tmp/ganesha" "$g_nfs" "$g_mnt"

# tern serve registers with a portmapper at a free port (serving its own there), not port 111;
# the variants without soft state register with the first one's.
start_tern_at() { # NAME NFS_PORT MOUNT_PORT EXTRA_ARGS...: starts tern serve exporting $tmp/NAME; sets started_pid
    local name=$1 nfs=$2 mnt=$3
    shift 3
    start_tern "$tern_bin" "$tmp/$name" "$nfs" "$mnt" "$t_pm" "$tmp/tern-state" "$tmp/$name.log" "$@"
}
start_tern_at tern "$t_nfs" "$t_mnt"
tern_pid=$started_pid
start_tern_at tern-ra "$a_nfs" "$a_mnt" --readahead 4096
tern_ra_pid=$started_pid
start_tern_at tern-nosoft "$n_nfs" "$n_mnt" --file-cache 0
tern_none_pid=$started_pid
log "ganesha (pid $ganesha_pid) on $g_nfs/$g_mnt, tern serve (pids $tern_pid $tern_ra_pid $tern_none_pid) on" \
    "$t_nfs/$t_mnt $a_nfs/$a_mnt $n_nfs/$n_mnt; exports in $tmp"

declare -A nfs_port=([ganesha]=$g_nfs [tern]=$t_nfs [tern-ra]=$a_nfs [tern-nosoft]=$n_nfs)
declare -A mnt_port=([ganesha]=$g_mnt [tern]=$t_mnt [tern-ra]=$a_mnt [tern-nosoft]=$n_mnt)
servers=(ganesha tern tern-ra tern-nosoft)
url() { # SERVER FILE
    echo "nfs://127.0.0.1$tmp/$1/$2?version=3&nfsport=${nfs_port[$1]}&mountport=${mnt_port[$1]}&uid=0&gid=0"
}
bytes=$((mib * 1024 * 1024))
timed() { # COMMAND...: runs COMMAND (stdout discarded); sets mbps to $bytes / its time in MB/s
    local t0 t1
    sync
    t0=$(date +%s%N)
    "$@" >/dev/null || die "failed: $*"
    t1=$(date +%s%N)
    mbps=$(awk -v b="$bytes" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", b * 1000 / ns }')
}

# 1. Sequential transfers with the libnfs tools: 1 MiB WRITEs (nfs-cp from a local file), 1 MiB
# READs into a fresh file in memory (nfs-cp: it never overwrites, not even /dev/null) and to
# /dev/null (nfs-cat, no local write), with the file in the host's page cache (warm) and after
# dropping its pages (cold: `dd iflag=nocache count=0`). The servers take turns to go first.
log "nfs-cp: $mib MiB pseudo-random file, 3 runs per server and direction"
head -c "$bytes" /dev/urandom >"$tmp/src.bin"
declare -A runs
order=("${servers[@]}")
rotate() { order=("${order[@]:1}" "${order[0]}"); }
for i in 1 2 3; do
    for s in "${order[@]}"; do
        timed nfs-cp "$tmp/src.bin" "$(url "$s" "w$i")"
        runs[$s.write]+="$mbps "
        log "write run $i $s: $mbps MB/s"
    done
    rotate
done
for s in "${servers[@]}"; do
    cmp -s "$tmp/src.bin" "$tmp/$s/w1" || die "$s: the file written by nfs-cp differs from the source"
done
for i in 1 2 3; do
    for s in "${order[@]}"; do
        timed nfs-cp "$(url "$s" "w$i")" "$shm/r-$s-$i"
        runs[$s.read]+="$mbps "
        line="read run $i $s: nfs-cp $mbps"
        timed nfs-cat "$(url "$s" "w$i")"
        runs[$s.cat]+="$mbps "
        line+=", nfs-cat $mbps"
        dd if="$tmp/$s/w$i" iflag=nocache count=0 status=none
        timed nfs-cat "$(url "$s" "w$i")"
        runs[$s.cold]+="$mbps "
        log "$line, cold nfs-cat $mbps MB/s"
        if [ "$i" = 1 ]; then cmp -s "$tmp/src.bin" "$shm/r-$s-$i" || die "$s: the file read by nfs-cp differs"; fi
        rm -f "$shm/r-$s-$i"
    done
    rotate
done
for s in "${servers[@]}"; do rm -f "$tmp/$s"/w?; done

# 2. Raw loopback TCP bandwidth.
log "loopback TCP: $loop_mib MiB per run, 3 runs"
loop_out=$(TERN_BENCH_LOOPBACK_MIB=$loop_mib cargo bench -q -p tern-bench-nfs --bench loopback)
printf '%s\n' "$loop_out" | grep -v '^loopback_tcp_mbps' | sed 's/^/[bench-nfs] /' >&2
loopback=$(printf '%s\n' "$loop_out" | awk '/^loopback_tcp_mbps/ { print $2 }')

# 3. Small operations with 1 and 8 clients (criterion).
log "small operations: criterion, ${secs} s per measurement"
targets="" pids=""
for s in "${servers[@]}"; do targets+="$s:${nfs_port[$s]}:${mnt_port[$s]}:$tmp/$s "; done
pids="ganesha:$ganesha_pid tern:$tern_pid tern-ra:$tern_ra_pid tern-nosoft:$tern_none_pid"
TERN_BENCH_NFS_TARGETS=$targets TERN_BENCH_NFS_PIDS=$pids \
    cargo bench -q -p tern-bench-nfs --bench nfs_ops -- --warm-up-time 1 --measurement-time "$secs" |
    tee "$tmp/ops.log"

alive "$ganesha_pid" || die "ganesha exited during the run (see its log)"
for p in "$tern_pid" "$tern_ra_pid" "$tern_none_pid"; do alive "$p" || die "tern serve (pid $p) exited during the run"; done

# The table.
ganesha_version=$(dpkg-query -W -f='${Version}' nfs-ganesha)
libnfs_version=$(dpkg-query -W -f='${Version}' libnfs-utils 2>/dev/null || echo "?")
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD 2>/dev/null || rev+=" + local changes"
fs_type=$(findmnt -n -o FSTYPE -T "$tmp" 2>/dev/null || stat -f -c %T "$tmp")
MEDIANS="" RUNS=""
for s in "${servers[@]}"; do
    for k in write read cat cold; do
        # shellcheck disable=SC2086 # the run lists split into words on purpose
        MEDIANS+="$s.$k=$(median ${runs[$s.$k]}) "
        RUNS+="$s $k: ${runs[$s.$k]% }; "
    done
done
export MEDIANS RUNS
export LOOPBACK=$loopback CRIT=$target/criterion MIB=$mib LOOP_MIB=$loop_mib OPS_LOG=$tmp/ops.log
echo
echo "NFS servers, $(date +%F): tern serve ($rev, release, HostFs) vs nfs-ganesha $ganesha_version (VFS);"
echo "exports on $fs_type in $(dirname "$tmp"); nfs-cp from libnfs-utils $libnfs_version; $(nproc) cores"
echo
python3 - <<'EOF'
import json, os

def rate(group, server, clients):
    path = os.path.join(os.environ["CRIT"], group, server, f"{clients}c", "new", "estimates.json")
    with open(path) as f:
        return 1e9 / json.load(f)["median"]["point_estimate"]

def fmt(x):
    return f"{x:,.0f}"

env = os.environ
med = {k: float(v) for k, v in (item.split("=") for item in env["MEDIANS"].split())}
m = lambda server, kind: med[f"{server}.{kind}"]
transfers = [
    ("write", f"nfs-cp write {env['MIB']} MiB (MB/s, median of 3)"),
    ("read", f"nfs-cp read {env['MIB']} MiB into memory (MB/s, median of 3)"),
    ("cat", f"nfs-cat read {env['MIB']} MiB to /dev/null (MB/s, median of 3)"),
    ("cold", f"nfs-cat read {env['MIB']} MiB, file not in the page cache (MB/s, median of 3)"),
]
rows = [(label, m("ganesha", k), m("tern", k)) for k, label in transfers]
ops = [("nfs_getattr", "GETATTR/s"), ("nfs_lookup", "LOOKUP/s"), ("nfs_create_remove", "CREATE+REMOVE pairs/s")]
scaling = []
for group, label in ops:
    for n in (1, 8):
        who = f"{n} client{'s' if n > 1 else ''}"
        rows.append((f"{label}, {who}", rate(group, "ganesha", n), rate(group, "tern", n)))
    scaling.append((label, *(rate(group, s, 8) / rate(group, s, 1) for s in ("ganesha", "tern"))))
print("| measurement | nfs-ganesha | tern serve | tern / ganesha |")
print("|---|---|---|---|")
for label, g, t in rows:
    print(f"| {label} | {fmt(g)} | {fmt(t)} | {t / g:.2f} |")
loop = fmt(float(env["LOOPBACK"]))
print(f"| raw loopback TCP, 1 connection, {env['LOOP_MIB']} MiB (MB/s, median of 3) | {loop} | {loop} | limit |")
print()
print("| 8 clients / 1 client | nfs-ganesha | tern serve |")
print("|---|---|---|")
for label, g, t in scaling:
    print(f"| {label} | {g:.2f} | {t:.2f} |")
cpu = {}
with open(env["OPS_LOG"]) as f:
    for line in f:
        w = line.split()
        if len(w) == 5 and w[0] in ("server_cpu_us_per_op", "client_cpu_us_per_op"):
            cpu[(w[0].split("_")[0], w[1], w[2], w[3])] = float(w[4])
print()
print("| CPU per operation (µs, user + system; lower is better) | server: nfs-ganesha | server: tern serve "
      "| tern / ganesha | clients (bench): with ganesha | with tern | cores busy: ganesha | tern |")
print("|---|---|---|---|---|---|---|---|")
for group, label in ops:
    for n in (1, 8):
        c = {(k, s): cpu.get((k, group, s, f"{n}c")) for k in ("server", "client") for s in ("ganesha", "tern")}
        if None in c.values():
            continue
        busy = [c[("server", s)] * rate(group, s, n) / 1e6 for s in ("ganesha", "tern")]
        print(f"| {label.removesuffix('/s')}, {n} client{'s' if n > 1 else ''} | {c['server', 'ganesha']:.1f} "
              f"| {c['server', 'tern']:.1f} | {c['server', 'tern'] / c['server', 'ganesha']:.2f} "
              f"| {c['client', 'ganesha']:.1f} | {c['client', 'tern']:.1f} | {busy[0]:.2f} | {busy[1]:.2f} |")
print()
print("| soft state (tern serve variants, same run) | defaults (file cache) | + read-ahead hints | none | defaults / none |")
print("|---|---|---|---|---|")
variants = ("tern", "tern-ra", "tern-nosoft")
for k, label in transfers:
    v = [m(s, k) for s in variants]
    print(f"| {label} | {fmt(v[0])} | {fmt(v[1])} | {fmt(v[2])} | {v[0] / v[2]:.2f} |")
for group, label in ops:
    for n in (1, 8):
        v = [rate(group, s, n) for s in variants]
        print(f"| {label}, {n} client{'s' if n > 1 else ''} | {fmt(v[0])} | {fmt(v[1])} | {fmt(v[2])} "
              f"| {v[0] / v[2]:.2f} |")
    v = [cpu.get(("server", group, s, "1c")) for s in variants]
    if None not in v:
        print(f"| server CPU per {label.removesuffix('/s')}, 1 client (µs) | {v[0]:.1f} | {v[1]:.1f} | {v[2]:.1f} "
              f"| {v[0] / v[2]:.2f} |")
print()
print(f"runs (MB/s): {env['RUNS']}")
EOF
