#!/usr/bin/env bash
# End-to-end check of the riscv32 `virt` firmware under QEMU user networking:
#  1. `echo`: TCP (3 sequential connections, one of 64 KiB, then 2 at once) and UDP echo through
#     hostfwd ports, then the firmware's exit code (0).
#  2. `connect`: the firmware connects to a Python server on the host's 127.0.0.1 (10.0.2.2
#     from the guest), sends a greeting, prints the reply; exit code 0 and both sides checked.
# Needs qemu-system-riscv32 and python3 on PATH. Run from anywhere.
set -euo pipefail

cd "$(dirname "$0")"
ELF=target/riscv32imac-unknown-none-elf/release/tern-board-virt
GUEST_TCP=7777
GUEST_UDP=7778
ECHO_SECS=5

command -v qemu-system-riscv32 >/dev/null || { echo "qemu-system-riscv32 not found" >&2; exit 1; }

cargo build --release

WORK=$(mktemp -d)
QEMU_PID=
cleanup() {
    if [[ -n "$QEMU_PID" ]] && kill -0 "$QEMU_PID" 2>/dev/null; then kill "$QEMU_PID"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

qemu() { # NETDEV APPEND
    timeout 30 qemu-system-riscv32 -M virt -m 64M -nographic -bios none \
        -semihosting-config enable=on,target=native \
        -global virtio-mmio.force-legacy=false \
        -netdev "$1" -device virtio-net-device,netdev=n0 \
        -kernel "$ELF" -append "$2"
}

free_port() { # KIND (tcp|udp): a port the kernel just handed out and released
    python3 -c 'import socket,sys
k = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, k); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- echo
H1=$(free_port tcp)
H2=$(free_port udp)
echo "== echo: host tcp $H1 -> guest $GUEST_TCP, host udp $H2 -> guest $GUEST_UDP"
qemu "user,id=n0,hostfwd=tcp:127.0.0.1:$H1-10.0.2.15:$GUEST_TCP,hostfwd=udp:127.0.0.1:$H2-10.0.2.15:$GUEST_UDP" \
    "echo $GUEST_TCP $GUEST_UDP $ECHO_SECS" >"$WORK/echo.log" 2>&1 &
QEMU_PID=$!

python3 - "$H1" "$H2" <<'PY' || { cat "$WORK/echo.log"; fail "echo traffic"; }
import os, socket, sys, time
tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 4.0

def tcp_echo(payload):
    """One connection: send all, half-close, read to EOF. Retries while the guest boots
    (slirp accepts on the host side, then drops the connection if nothing listens yet)."""
    while True:
        try:
            with socket.create_connection(("127.0.0.1", tcp_port), timeout=3) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = bytearray()
                while chunk := s.recv(65536):
                    got += chunk
            if got or not payload:
                return bytes(got)
        except (ConnectionError, socket.timeout):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("tcp: no echo before deadline")
        time.sleep(0.05)

payloads = [b"hello tern\n", os.urandom(64 * 1024), b"third connection\n"]
for i, p in enumerate(payloads):
    got = tcp_echo(p)
    if got != p:
        raise SystemExit(f"tcp conn {i}: sent {len(p)} bytes, got {len(got)} back (mismatch)")
    print(f"tcp conn {i}: {len(p)} bytes echoed")

# Two connections open at once: served by two of the listening sockets.
a = socket.create_connection(("127.0.0.1", tcp_port), timeout=3)
b = socket.create_connection(("127.0.0.1", tcp_port), timeout=3)
a.sendall(b"first, open\n"); b.sendall(b"second, open\n")
if a.recv(64) != b"first, open\n" or b.recv(64) != b"second, open\n":
    raise SystemExit("tcp: concurrent connections not echoed")
for s in (a, b):
    s.shutdown(socket.SHUT_WR)
    if s.recv(64) != b"":
        raise SystemExit("tcp: expected EOF after half-close")
    s.close()
print("tcp: 2 concurrent connections echoed")

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.3)
for i, p in enumerate([b"udp one", b"udp two " * 100]):
    while True:
        u.sendto(p, ("127.0.0.1", udp_port))
        try:
            got, _ = u.recvfrom(65536)
            break
        except socket.timeout:
            if time.monotonic() > deadline:
                raise SystemExit("udp: no echo before deadline")
    if got != p:
        raise SystemExit(f"udp datagram {i}: mismatch")
    print(f"udp datagram {i}: {len(p)} bytes echoed")
PY

rc=0; wait "$QEMU_PID" || rc=$?
QEMU_PID=
cat "$WORK/echo.log"
[[ $rc -eq 0 ]] || fail "echo firmware exit code $rc (124 = timeout)"
grep -q "echo: done: 5 tcp connections" "$WORK/echo.log" || fail "echo firmware did not count 5 tcp connections"
echo "== echo: PASS"

# ---------------------------------------------------------------- connect
echo "== connect: guest -> 10.0.2.2 (host 127.0.0.1)"
python3 - "$WORK" <<'PY' &
import socket, sys, os
work = sys.argv[1]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1); srv.settimeout(25)
with open(os.path.join(work, "port.tmp"), "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(os.path.join(work, "port.tmp"), os.path.join(work, "port"))
conn, _ = srv.accept()
conn.settimeout(10)
line = b""
while not line.endswith(b"\n"):
    chunk = conn.recv(1024)
    if not chunk:
        break
    line += chunk
conn.sendall(b"hello from host, you said: " + line)
conn.close()
with open(os.path.join(work, "server.txt"), "wb") as f:
    f.write(line)
PY
SERVER_PID=$!
for _ in $(seq 100); do [[ -f "$WORK/port" ]] && break; sleep 0.05; done
[[ -f "$WORK/port" ]] || fail "host server did not start"
P=$(cat "$WORK/port")

rc=0; qemu "user,id=n0" "connect 10.0.2.2 $P" >"$WORK/connect.log" 2>&1 || rc=$?
cat "$WORK/connect.log"
wait "$SERVER_PID" || fail "host server failed"
[[ $rc -eq 0 ]] || fail "connect firmware exit code $rc (124 = timeout)"
[[ "$(cat "$WORK/server.txt")" == "hello from board" ]] || fail "server got: $(cat "$WORK/server.txt")"
grep -q "reply: hello from host, you said: hello from board" "$WORK/connect.log" || fail "firmware did not print the reply"
echo "== connect: PASS"
