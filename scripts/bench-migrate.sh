#!/usr/bin/env bash
# Migration between two real `tern node` processes on loopback (release build): the
# memory-worker guest (examples/guests) with a 16 MiB working set (4096 pages) kept dirty at
# three rates, moved once per strategy, `tern migrate --json` metrics in a Markdown table.
#   scripts/bench-migrate.sh            (RATES="16 256 2048" pages per 1 ms round by default)
# Nodes are started on free ports and stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench-migrate] %s\n' "$*" >&2; }
rates=${RATES:-16 256 2048}

cargo build -q --release -p tern-std --bin tern
(cd examples/guests && cargo build -q --release)
tern=target/release/tern
guest=examples/guests/target/riscv32imac-unknown-none-elf/release/memory-worker
[ -x "$tern" ] && [ -f "$guest" ] || { log "build failed"; exit 1; }

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
a="127.0.0.1:$(port)" b="127.0.0.1:$(port)"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
for n in "$a" "$b"; do
    "$tern" node --listen "$n" >"$tmp/node-${n##*:}.log" 2>&1 &
    pids+=($!)
done
for n in "$a" "$b"; do
    for _ in $(seq 100); do "$tern" ps --node "$n" >/dev/null 2>&1 && break; sleep 0.1; done
done

echo "| strategy | dirty pages per 1 ms round | downtime ms | total ms | MiB sent | pages sent | rounds | stop | remote faults | fault wait ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for rate in $rates; do
    for s in stop-copy pre-copy post-copy hybrid; do
        # 4096 pages, enough rounds to outlive the migration, 1 ms sleep per round.
        id=$("$tern" spawn --node "$a" "$guest" 4096 100000 "$rate" 1000)
        sleep 1
        j=$("$tern" migrate "$id" --from "$a" --to "$b" --strategy "$s" --json)
        python3 - "$s" "$rate" "$j" <<'PY'
import json, sys
s, rate, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(f"| {s} | {rate} | {j['downtime_ms']:.2f} | {j['total_ms']:.1f} | {j['bytes_sent'] / 2**20:.1f} "
      f"| {j['pages_sent']} | {j['rounds']} | {j['stop_reason'] or '–'} | {j['remote_faults']} | {j['fault_wait_ms']:.1f} |")
PY
    done
    # Fresh nodes for the next rate (the workers above keep running otherwise).
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
    for n in "$a" "$b"; do
        "$tern" node --listen "$n" >>"$tmp/node-${n##*:}.log" 2>&1 &
        pids+=($!)
    done
    for n in "$a" "$b"; do
        for _ in $(seq 100); do "$tern" ps --node "$n" >/dev/null 2>&1 && break; sleep 0.1; done
    done
done

# Channel round trips (chan-peer ping/pong, no pause) with both ends at their home node, and
# with ping moved to the other node before the first round trip (its channel calls then
# travel to the home node in CHAN calls; a receive that parks there asks again every 2 ms).
# Timed from pong's spawn to the end `tern wait` sees (it polls every few ms: rounds are many
# enough to hide that).
chan=examples/guests/target/riscv32imac-unknown-none-elf/release/chan-peer
pair() { # pair NAME ROUNDS MOVE: seconds
    local pong ping t0 t1
    # Ping starts first: it sends its first message and waits for pong, so it can be moved
    # before a single round trip is made.
    ping=$("$tern" spawn --node "$a" "$chan" ping "$1" "$2")
    if [ "$3" = yes ]; then
        "$tern" migrate "$ping" --from "$a" --to "$b" --strategy stop-copy >/dev/null
    fi
    t0=$(date +%s.%N)
    pong=$("$tern" spawn --node "$a" "$chan" pong "$1")
    "$tern" wait "$ping" --node "$a" >/dev/null 2>&1
    t1=$(date +%s.%N)
    "$tern" wait "$pong" --node "$a" >/dev/null 2>&1
    python3 -c "print(f'{$t1 - $t0:.3f}')"
}
echo
echo "| ping runs | round trips | seconds | round trips/s |"
echo "|---|---|---|---|"
for row in "home 50000 no" "away 2000 yes"; do
    set -- $row
    s=$(pair "bench-$1" "$2" "$3")
    python3 -c "print(f'| {\"at its home node\" if \"$1\" == \"home\" else \"on the other node\"} | $2 | $s | {$2 / $s:,.0f} |')"
done
