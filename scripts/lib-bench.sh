# Shell functions shared by the NFS benchmark scripts (sourced by scripts/bench-nfs.sh and
# scripts/bench-client.sh, never run on its own): logging, free ports, nfs-ganesha (rpcbind
# only while ganesha starts) and `tern serve` started in the background and stopped by PID,
# medians, and a runner that measures a command's wall time and CPU time.
#
# The sourcing script sets before use:
#   bench_name  the log prefix (e.g. bench-nfs)
#   tmp         a scratch directory (ganesha's configuration, logs and recovery directory)
# and calls `stop_servers` from its EXIT trap. Runs as root (apt-get, rpcbind).
# shellcheck shell=bash
# shellcheck disable=SC2154 # bench_name and tmp come from the sourcing script
# shellcheck disable=SC2034 # wall_ns, cpu_us, rc, ganesha_pid, started_pid are read by it

log() { printf '[%s] %s\n' "$bench_name" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Peers: nfs-ganesha with its VFS back end, rpcbind, the libnfs tools, python3 for the tables.
require_peers() {
    if ! command -v ganesha.nfsd >/dev/null || ! dpkg -s nfs-ganesha-vfs >/dev/null 2>&1; then
        log "installing nfs-ganesha"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y nfs-ganesha nfs-ganesha-vfs
    fi
    local p
    for p in rpcbind:rpcbind rpcinfo:rpcbind nfs-cp:libnfs-utils nfs-ls:libnfs-utils python3:python3 ss:iproute2; do
        command -v "${p%%:*}" >/dev/null || die "${p%%:*} is missing: run scripts/setup.sh (package ${p#*:})"
    done
}

# Ports: a port is free when no TCP or UDP socket is bound to it.
port_free() { [ -z "$(ss -Htuln "sport = :$1")" ]; }
taken=" "
pick_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        if [[ $taken != *" $p "* ]] && port_free "$p"; then
            taken+="$p "
            echo "$p"
            return
        fi
    done
}
uaddr() { echo "127.0.0.1.$(($1 >> 8)).$(($1 & 255))"; }

alive() {
    local s
    s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $s != Z* ]]
}
stop() { # PID NAME: SIGTERM, SIGKILL after 10 s, then reap
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$1" || break
        sleep 0.1
    done
    if alive "$1"; then
        log "$2 ignored SIGTERM: killing it"
        kill -KILL "$1" 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}

# Servers started here, stopped by `stop_servers` (newest first); rpcbind separately.
servers_started=()
rpcbind_pid=""
stop_rpcbind() {
    [ -n "$rpcbind_pid" ] || return 0
    stop "$rpcbind_pid" rpcbind
    rpcbind_pid=""
    rm -f /run/rpcbind.sock /run/rpcbind.lock
}
stop_servers() {
    local i entry
    for ((i = ${#servers_started[@]} - 1; i >= 0; i--)); do
        entry=${servers_started[$i]}
        stop "${entry%%:*}" "${entry#*:}"
    done
    servers_started=()
    stop_rpcbind
}

wait_rpc() { # NAME PORT PROG LOG: ping PROG version 3 over TCP at PORT, for up to 10 s
    for _ in $(seq 100); do
        rpcinfo -T tcp -a "$(uaddr "$2")" "$3" 3 >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -20 "$4" >&2
    die "$1 does not answer program $3 on port $2"
}

start_ganesha() { # EXPORT_DIR NFS_PORT MOUNT_PORT: ganesha (VFS) exporting EXPORT_DIR; sets ganesha_pid
    local export=$1 nfs=$2 mnt=$3
    port_free 111 || die "port 111 is taken: stop the portmapper holding it (ganesha needs rpcbind there to start)"
    # rpcbind must run while ganesha starts (it registers there or exits); it is stopped right after.
    rm -f /run/rpcbind.sock /run/rpcbind.lock
    rpcbind -f >"$tmp/rpcbind.log" 2>&1 &
    rpcbind_pid=$!
    for _ in $(seq 100); do
        rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
        sleep 0.1
    done
    rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || die "rpcbind did not come up"
    mkdir -p "$tmp/recov"
    cat >"$tmp/ganesha.conf" <<EOF
NFS_CORE_PARAM { Protocols = 3, 4; Bind_addr = 127.0.0.1; NFS_Port = $nfs; MNT_Port = $mnt;
                 Enable_NLM = false; Enable_RQUOTA = false; }
NFS_KRB5 { Active_krb5 = false; }
NFSV4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = $tmp/recov; Only_Numeric_Owners = true; }
MDCACHE { Dir_Chunk = 0; }
EXPORT { Export_Id = 1; Path = $export; Pseudo = $export; Protocols = 3, 4;
         Transports = TCP, UDP; SecType = sys; Squash = None; Access_Type = None;
         CLIENT { Clients = 127.0.0.1; Access_Type = RW; }
         Attr_Expiration_Time = 0; FSAL { Name = VFS; } }
LOG { Default_Log_Level = EVENT; }
EOF
    ganesha.nfsd -F -f "$tmp/ganesha.conf" -L "$tmp/ganesha.log" -p "$tmp/ganesha.pid" -N NIV_EVENT \
        >"$tmp/ganesha.out" 2>&1 &
    ganesha_pid=$!
    servers_started+=("$ganesha_pid:ganesha.nfsd")
    wait_rpc ganesha "$nfs" 100003 "$tmp/ganesha.log"
    wait_rpc ganesha "$mnt" 100005 "$tmp/ganesha.log"
    stop_rpcbind
}

# `tern serve` registers with a portmapper of its own at PORTMAP (a free port, not 111): the
# first server started on a port serves it, the next ones register there.
start_tern() { # TERN_BIN EXPORT_DIR NFS_PORT MOUNT_PORT PORTMAP STATE_DIR LOG EXTRA_ARGS...: sets started_pid
    local bin=$1 export=$2 nfs=$3 mnt=$4 pm=$5 state=$6 logf=$7
    shift 7
    mkdir -p "$state"
    RUST_LOG=warn "$bin" serve --export "$export 127.0.0.1(rw,no_root_squash,insecure)" --listen 127.0.0.1 \
        --nfs-port "$nfs" --mount-port "$mnt" --state-dir "$state" --portmap "127.0.0.1:$pm" "$@" \
        >"$logf" 2>&1 &
    started_pid=$!
    servers_started+=("$started_pid:tern serve ($export)")
    wait_rpc "tern serve ($export)" "$nfs" 100003 "$logf"
    wait_rpc "tern serve ($export)" "$mnt" 100005 "$logf"
}

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# Runs COMMAND with stdout to /dev/null and sets `wall_ns` (its wall time), `cpu_us` (user +
# system CPU time of it and its children, from wait4) and `rc`; stderr passes through.
measure() { # COMMAND...
    local out
    out=$(python3 - "$@" <<'EOF'
import os, sys, time
devnull = os.open(os.devnull, os.O_WRONLY)
t0 = time.monotonic_ns()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
_, status, ru = os.wait4(pid, 0)
t1 = time.monotonic_ns()
print(t1 - t0, round((ru.ru_utime + ru.ru_stime) * 1e6), os.waitstatus_to_exitcode(status))
EOF
    ) || die "cannot run $1"
    read -r wall_ns cpu_us rc <<<"$out"
}
