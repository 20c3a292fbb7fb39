#!/usr/bin/env bash
# Every check Tern's CI runs, in order: set-up, formatting, lints, bare-metal builds, host and
# QEMU tests, short fuzz runs. `.ci/run` calls exactly this.
#   FUZZ_SECONDS  seconds per fuzz target (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "set-up"
scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check
(cd examples/board-virt && cargo fmt -- --check)
(cd examples/guests && cargo fmt -- --check)
(cd tests/fuzz && cargo fmt -- --check)

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
(cd examples/board-virt && cargo clippy --release -- -D warnings)
(cd examples/guests && cargo clippy --release -- -D warnings)

step "tern-core and tern-eio on bare-metal targets"
for t in riscv32imac-unknown-none-elf thumbv7em-none-eabihf; do
    cargo build -q -p tern-core --target "$t"
    cargo build -q -p tern-core --target "$t" --release
done
cargo build -q -p tern-core --target riscv32imac-unknown-none-elf --features defmt
for t in thumbv7em-none-eabihf riscv32imac-unknown-none-elf; do
    cargo build -q -p tern-eio --target "$t"
done

step "rustdoc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --no-deps

step "firmware and guest builds"
(cd examples/board-virt && cargo build -q --release)
(cd examples/guests && cargo build -q --release)

step "host and QEMU tests"
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"

step "fuzz (${FUZZ_SECONDS:-20} s per target)"
tests/fuzz/run-all.sh "${FUZZ_SECONDS:-20}"

step "summary"
echo "tests: $passed passed, $failed failed"
