#!/usr/bin/env bash
# Installs everything Tern's tests need on a fresh Debian 12 machine with rustup; every step is
# skipped when its result is already there. Run as root (apt-get).
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

# Rust targets for the no_std core and the firmware.
installed=$(rustup target list --installed)
for t in riscv32imac-unknown-none-elf thumbv7em-none-eabihf; do
    grep -qx "$t" <<<"$installed" || { log "rustup target add $t"; rustup target add "$t"; }
done
for c in rustfmt clippy; do
    rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Real peers: rpcinfo (rpcbind), tshark, the libnfs tools (nfs-ls, nfs-cat, nfs-cp) and
# showmount (nfs-common).
need=()
command -v rpcinfo >/dev/null || need+=(rpcbind)
command -v nfs-cp >/dev/null || need+=(libnfs-utils)
command -v showmount >/dev/null || need+=(nfs-common)
if ! command -v tshark >/dev/null; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    need+=(tshark)
fi
# nfs-ganesha (VFS back end): the peer server of scripts/bench-nfs.sh (and later interop tests).
if ! command -v ganesha.nfsd >/dev/null || ! dpkg -s nfs-ganesha-vfs >/dev/null 2>&1; then
    need+=(nfs-ganesha nfs-ganesha-vfs)
fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

# QEMU 10 from bookworm-backports, without touching /etc/apt (the machine's qemu-utils comes
# from backports, so the plain bookworm qemu-system packages conflict with it).
if ! command -v qemu-system-riscv32 >/dev/null; then
    d=$(mktemp -d)
    cp /etc/apt/sources.list.d/debian.sources "$d/"
    awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources \
        | sed 's/^Suites:.*/Suites: bookworm-backports/' >"$d/bpo.sources"
    o=(-o "Dir::Etc::sourceparts=$d" -o Dir::Etc::sourcelist=/dev/null)
    log "installing QEMU from bookworm-backports"
    apt-get "${o[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive apt-get "${o[@]}" install -y -qq --no-install-recommends \
        -t bookworm-backports qemu-system-riscv qemu-system-arm >/dev/null
    rm -rf "$d"
fi

# cargo-fuzz for the fuzz targets (runs on stable with RUSTC_BOOTSTRAP=1, see tests/fuzz).
command -v cargo-fuzz >/dev/null || { log "cargo install cargo-fuzz"; cargo install -q --locked cargo-fuzz; }
log "ready"
