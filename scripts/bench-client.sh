#!/usr/bin/env bash
# NFS client benchmarks, in one run and side by side (the machine is shared and noisy: compare
# the ratios, and the CPU figures, which noise moves less than wall time): the `tern` file
# commands (release build) against the libnfs tools, on the same two servers, nfs-ganesha (VFS
# back end) and `tern serve`:
#   1. `tern cp` vs `nfs-cp` of a pseudo-random file, local → remote (upload: fresh names,
#      UNSTABLE WRITEs then COMMIT) and remote → local (download, into a fresh file);
#   2. listing a directory of many empty files: `tern ls` (names) and `tern ls -l` (long
#      listing) vs `nfs-ls` (always long, READDIRPLUS), output to /dev/null.
# Each measurement is taken BENCH_RUNS times (default 3), the clients and the servers taking
# turns to go first; the tables give medians: throughput (MB/s, entries/s) and the client
# process's CPU time (user + system, all threads, from wait4) per MiB or per entry. Copies are
# checked against the source (cmp) on the first run, listings by their line count.
#
# The exports live in memory (/dev/shm) when it has room, so the disk's write-back speed (about
# 300 MB/s once COMMIT forces it here) does not hide the clients; set BENCH_DIR to put them
# elsewhere. Starts rpcbind (ganesha needs it to start; it is stopped as soon as ganesha is up,
# so port 111 must be free), ganesha and tern serve, and stops them by PID. Runs as root.
#   CLIENT_CP_MIB  size of the copied file in MiB (default 256)
#   LS_ENTRIES     entries of the listed directory (default 100000)
#   BENCH_RUNS     runs per measurement (default 3)
#   TERN_WINDOW    --window of the tern commands (default: tern's own)
set -euo pipefail
cd "$(dirname "$0")/.."

bench_name=bench-client
# shellcheck source=scripts/lib-bench.sh
. scripts/lib-bench.sh

mib=${CLIENT_CP_MIB:-256}
entries=${LS_ENTRIES:-100000}
nruns=${BENCH_RUNS:-3}
tern_net=()
[ -z "${TERN_WINDOW:-}" ] || tern_net=(--window "$TERN_WINDOW")

require_peers
port_free 111 || die "port 111 is taken: stop the portmapper holding it (ganesha needs rpcbind there to start)"
g_nfs=$(pick_port) g_mnt=$(pick_port) t_nfs=$(pick_port) t_mnt=$(pick_port) t_pm=$(pick_port)

log "building tern (release)"
cargo build -q --release -p tern-std --bin tern
target=$(cargo metadata -q --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
tern_bin=$target/release/tern

bytes=$((mib * 1024 * 1024))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-client.XXXXXX")
base=${BENCH_DIR:-}
if [ -z "$base" ]; then
    # The source, the two exports and the downloads: about 4 copies of the file at a time.
    need_kib=$((bytes * 5 / 1024 + entries * 8 + 1024 * 1024))
    if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt "$need_kib" ]; then
        base=/dev/shm
    else
        base=$tmp
    fi
fi
data=$(mktemp -d "$base/tern-bench-client.XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_servers
    rm -rf "$tmp" "$data"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

servers=(ganesha tern)
clients=(libnfs tern)
declare -A nfs_port=([ganesha]=$g_nfs [tern]=$t_nfs) mnt_port=([ganesha]=$g_mnt [tern]=$t_mnt)
mkdir -p "$data/ganesha" "$data/tern" "$data/down"

# The fixtures are made before the servers start (ganesha caches what it has seen).
log "making a $mib MiB pseudo-random file and two directories of $entries entries"
head -c "$bytes" /dev/urandom >"$data/src.bin"
for s in "${servers[@]}"; do
    python3 - "$data/$s/dir" "$entries" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for i in range(n):
    os.close(os.open(f"{d}/entry-{i:07d}.dat", os.O_CREAT | os.O_WRONLY, 0o644))
EOF
done

start_ganesha "$data/ganesha" "$g_nfs" "$g_mnt"
start_tern "$tern_bin" "$data/tern" "$t_nfs" "$t_mnt" "$t_pm" "$tmp/tern-state" "$tmp/tern.log"
tern_pid=$started_pid
log "ganesha (pid $ganesha_pid) on $g_nfs/$g_mnt, tern serve (pid $tern_pid) on $t_nfs/$t_mnt; data in $data"

url() { # SERVER PATH
    echo "nfs://127.0.0.1$data/$1/$2?version=3&nfsport=${nfs_port[$1]}&mountport=${mnt_port[$1]}&uid=0&gid=0"
}

declare -A wall cpu
record() { # KEY: appends the last measurement's wall time (ns) and CPU time (µs) to KEY's runs
    wall[$1]+="$wall_ns "
    cpu[$1]+="$cpu_us "
}
run() { # KEY COMMAND...: measures COMMAND, fails on a non-zero exit
    local key=$1
    shift
    measure "$@"
    [ "$rc" = 0 ] || die "exit code $rc: $*"
    record "$key"
}
rotate() { # NAME: the array NAME with its first element moved to the end
    local -n a=$1
    a=("${a[@]:1}" "${a[0]}")
}
show() { # WHAT COUNT UNIT: one log line for the last measurement (COUNT MiB, shown in MB/s, or entries)
    log "$1: $(awk -v ns="$wall_ns" -v us="$cpu_us" -v n="$2" -v u="$3" 'BEGIN {
        if (u == "MiB") { n = n * 1.048576; u = "MB" }
        printf "%.3f s, %.0f %s/s, CPU %.3f s", ns / 1e9, n * 1e9 / ns, u, us / 1e6 }')"
}

# 1. Copies, each into a fresh name (nfs-cp never overwrites).
order_s=("${servers[@]}")
order_c=("${clients[@]}")
for i in $(seq "$nruns"); do
    for s in "${order_s[@]}"; do
        for c in "${order_c[@]}"; do
            name=up-$c-$i
            sync
            if [ "$c" = tern ]; then
                run "up.$s.$c" "$tern_bin" cp "${tern_net[@]}" "$data/src.bin" "$(url "$s" "$name")"
            else
                run "up.$s.$c" nfs-cp "$data/src.bin" "$(url "$s" "$name")"
            fi
            show "run $i upload to $s, $c" "$mib" MiB
            if [ "$i" = 1 ]; then cmp -s "$data/src.bin" "$data/$s/$name" || die "$c: the upload to $s differs"; fi
        done
        for c in "${order_c[@]}"; do
            from=$(url "$s" "up-$c-$i") to=$data/down/$s-$c-$i
            if [ "$c" = tern ]; then
                run "down.$s.$c" "$tern_bin" cp "${tern_net[@]}" "$from" "$to"
            else
                run "down.$s.$c" nfs-cp "$from" "$to"
            fi
            show "run $i download from $s, $c" "$mib" MiB
            if [ "$i" = 1 ]; then cmp -s "$data/src.bin" "$to" || die "$c: the download from $s differs"; fi
            rm -f "$to"
        done
        rm -f "$data/$s"/up-*
        rotate order_c
    done
    rotate order_s
done

# 2. Listings. nfs-ls prints a long listing (mode, links, owner, size, name) of every entry but
# `.` and `..`; tern ls sorts the names as ls does.
for i in $(seq "$nruns"); do
    for s in "${order_s[@]}"; do
        for c in "${order_c[@]}"; do
            if [ "$c" = tern ]; then
                for mode in names long; do
                    flags=()
                    [ "$mode" = long ] && flags=(-l)
                    run "ls-$mode.$s.tern" "$tern_bin" ls "${flags[@]}" "${tern_net[@]}" "$(url "$s" dir)"
                    show "run $i tern ls ${flags[*]} on $s" "$entries" entries
                done
            else
                run "ls-long.$s.libnfs" nfs-ls "$(url "$s" dir)"
                show "run $i nfs-ls on $s" "$entries" entries
            fi
        done
        rotate order_c
    done
    rotate order_s
done
for s in "${servers[@]}"; do
    n=$("$tern_bin" ls "$(url "$s" dir)" | wc -l)
    [ "$n" = "$entries" ] || die "tern ls on $s printed $n names, not $entries"
    n=$("$tern_bin" ls -l "$(url "$s" dir)" | grep -c ' entry-')
    [ "$n" = "$entries" ] || die "tern ls -l on $s printed $n entries, not $entries"
    n=$(nfs-ls "$(url "$s" dir)" | grep -c ' entry-')
    [ "$n" = "$entries" ] || die "nfs-ls on $s printed $n entries, not $entries"
done

for p in "$ganesha_pid" "$tern_pid"; do alive "$p" || die "a server (pid $p) exited during the run"; done

# The tables.
ganesha_version=$(dpkg-query -W -f='${Version}' nfs-ganesha)
libnfs_version=$(dpkg-query -W -f='${Version}' libnfs-utils 2>/dev/null || echo "?")
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD 2>/dev/null || rev+=" + local changes"
fs_type=$(findmnt -n -o FSTYPE -T "$data" 2>/dev/null | head -1 || stat -f -c %T "$data")
WALL="" CPU=""
for k in "${!wall[@]}"; do
    WALL+="$k=${wall[$k]% };"
    CPU+="$k=${cpu[$k]% };"
done
export WALL CPU MIB=$mib ENTRIES=$entries
echo
echo "NFS clients, $(date +%F): tern ($rev, release) vs libnfs-utils $libnfs_version; servers nfs-ganesha"
echo "$ganesha_version (VFS) and tern serve; exports on $fs_type; $(nproc) cores; medians of $nruns runs"
echo
python3 - <<'EOF'
import os, statistics

def parse(var):
    out = {}
    for item in filter(None, os.environ[var].split(";")):
        k, v = item.split("=")
        out[k] = [float(x) for x in v.split()]
    return out

wall, cpu = parse("WALL"), parse("CPU")
mib, entries = int(os.environ["MIB"]), int(os.environ["ENTRIES"])
rows = [
    (f"upload {mib} MiB to nfs-ganesha (MB/s)", "up.ganesha", "libnfs", mib),
    (f"upload {mib} MiB to tern serve (MB/s)", "up.tern", "libnfs", mib),
    (f"download {mib} MiB from nfs-ganesha (MB/s)", "down.ganesha", "libnfs", mib),
    (f"download {mib} MiB from tern serve (MB/s)", "down.tern", "libnfs", mib),
    (f"ls {entries:,} entries on nfs-ganesha, names (entries/s)", "ls-names.ganesha", "ls-long.ganesha", None),
    (f"ls {entries:,} entries on nfs-ganesha, long (entries/s)", "ls-long.ganesha", "ls-long.ganesha", None),
    (f"ls {entries:,} entries on tern serve, names (entries/s)", "ls-names.tern", "ls-long.tern", None),
    (f"ls {entries:,} entries on tern serve, long (entries/s)", "ls-long.tern", "ls-long.tern", None),
]
med = lambda xs: statistics.median(xs)

def rate(key, n_mib):
    secs = med(wall[key]) / 1e9
    return n_mib * 1048576 / 1e6 / secs if n_mib else entries / secs

def cpu_per(key, n_mib):
    us = med(cpu[key])
    return us / n_mib if n_mib else us * 1000 / entries

print("| measurement | libnfs | tern | tern / libnfs |")
print("|---|---|---|---|")
for label, tkey, lkey, n in rows:
    t = rate(f"{tkey}.tern", n)
    lk = f"{lkey}.libnfs" if n is None else f"{tkey}.libnfs"
    l = rate(lk, n)
    print(f"| {label} | {l:,.0f} | {t:,.0f} | {t / l:.2f} |")
print()
print("| client CPU, user + system (lower is better) | libnfs | tern | tern / libnfs |")
print("|---|---|---|---|")
for label, tkey, lkey, n in rows:
    what = label.rsplit(" (", 1)[0]
    unit = "µs/MiB" if n else "ns/entry"
    lk = f"{lkey}.libnfs" if n is None else f"{tkey}.libnfs"
    t, l = cpu_per(f"{tkey}.tern", n), cpu_per(lk, n)
    print(f"| {what} ({unit}) | {l:,.0f} | {t:,.0f} | {t / l:.2f} |")
print()
runs = []
for k in sorted(wall):
    n = mib if k.startswith(("up.", "down.")) else None
    r = [(mib * 1048576 / 1e6 if n else entries) / (w / 1e9) for w in wall[k]]
    runs.append(f"{k}: " + " ".join(f"{x:.0f}" for x in r))
print("runs (MB/s or entries/s): " + "; ".join(runs))
EOF
