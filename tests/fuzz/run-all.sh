#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60), one after the other.
# Prints the number of executions per target; exits non-zero if any target crashed.
#
# Only a stable toolchain is needed: cargo-fuzz passes `-Z` flags (sanitizer, coverage), which
# stable rustc accepts with RUSTC_BOOTSTRAP=1. AddressSanitizer is the default; set
# FUZZ_SANITIZER=none to build without it. Seeds (small, committed) are in seeds/TARGET; the
# growing corpus goes to corpus/TARGET, crashes to artifacts/TARGET, logs to logs/ (ignored).
set -euo pipefail

secs="${1:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

# -a: debug assertions and overflow checks on, so arithmetic overflow from input is a crash.
cargo fuzz build -a -s "$sanitizer"
mkdir -p logs
status=0
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t"
    extra=()
    if [ -d "seeds/$t" ]; then extra=("seeds/$t"); fi
    log="logs/$t.log"
    if cargo fuzz run -a -s "$sanitizer" "$t" "corpus/$t" "${extra[@]}" -- \
        -max_total_time="$secs" >"$log" 2>&1; then
        runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo '?')
        printf '%-16s %12s runs in %ss\n' "$t" "$runs" "$secs"
    else
        status=1
        printf '%-16s CRASHED (log %s, inputs in artifacts/%s/)\n' "$t" "$log" "$t"
        grep -E -A 6 'panicked|ERROR: (AddressSanitizer|libFuzzer)' "$log" | head -n 20 || true
    fi
done
exit "$status"
