//! Helpers shared by Tern's integration tests: the `tern` binary, child processes stopped by
//! PID, free ports, and checks that the real peer programs are installed.
//!
//! Peers (rpcinfo, tshark, qemu-system-riscv32) are installed by `scripts/setup.sh`, which the
//! README's test command runs first. A test whose peer is missing fails with a message naming
//! the setup step; it never passes silently.

pub mod client;
pub mod fuse;
pub mod ganesha;
pub mod nfs;
pub mod node;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A binary of a workspace package, built in this build profile on first use (each test
/// binary builds it at most once, whatever its threads do).
pub fn workspace_bin(package: &'static str, bin: &'static str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(&'static str, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(b, _)| *b == bin) {
        return p.clone();
    }
    let release = !cfg!(debug_assertions);
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", package, "--bin", bin]).current_dir(workspace());
    if release {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("run cargo build");
    assert!(st.success(), "cargo build of {package} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from);
    let path = target.join(if release { "release" } else { "debug" }).join(bin);
    built.push((bin, path.clone()));
    path
}

/// The `tern` binary of this build profile, built on first use.
pub fn tern_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("tern-std", "tern"))
}

/// The QEMU riscv32 `virt` firmware ELF (`examples/board-virt`), built in release on first use.
pub fn firmware() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let dir = workspace().join("examples").join("board-virt");
        // The firmware has its own target (from its .cargo/config.toml), target directory and
        // link flags: nothing of the host build's environment may override them.
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "--release"])
            .current_dir(&dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .status()
            .expect("run cargo build for the firmware");
        assert!(st.success(), "cargo build --release of examples/board-virt failed");
        dir.join("target/riscv32imac-unknown-none-elf/release/tern-board-virt")
    })
}

/// The example guests (`examples/guests`), built in release on first use; returns the path of
/// guest `name` (`memory-worker`, `file-worker`, `chan-peer`, `threads`).
pub fn guest(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = workspace().join("examples").join("guests");
        // Like the firmware: its own target, target directory and link flags.
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "--release"])
            .current_dir(&dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .status()
            .expect("run cargo build for the guests");
        assert!(st.success(), "cargo build --release of examples/guests failed");
        dir.join("target/riscv32imac-unknown-none-elf/release")
    });
    dir.join(name)
}

/// Boots the firmware on QEMU's riscv32 `virt` board under `timeout 60` (QEMU without the
/// semihosting exit would never end), with a virtio-net NIC on `netdev` (id `n0`) and `append`
/// as the firmware's arguments.
pub fn boot_board(netdev: &str, append: &str) -> ChildGuard {
    let qemu = require("qemu-system-riscv32");
    let mut cmd = Command::new("timeout");
    cmd.arg("60")
        .arg(qemu)
        .args(["-M", "virt", "-m", "64M", "-nographic", "-bios", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-global", "virtio-mmio.force-legacy=false"])
        .args(["-netdev", netdev, "-device", "virtio-net-device,netdev=n0"])
        .arg("-kernel")
        .arg(firmware())
        .args(["-append", append])
        // -nographic would put a terminal on stdin into raw mode.
        .stdin(Stdio::null());
    ChildGuard::spawn("qemu-system-riscv32", &mut cmd)
}

/// A fresh, empty directory under the system's temp dir, named after `name` and this process.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("tern-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temp dir");
    d
}

/// Writes `len` pseudo-random bytes (xorshift from `seed`) to `path`, fast.
pub fn random_file(path: &Path, len: usize, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create a file"));
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).expect("write a file");
        left -= n;
    }
}

/// Whether two files have the same bytes (`cmp`).
pub fn same_file(a: &Path, b: &Path) -> bool {
    run(Command::new("cmp").arg(a).arg(b)).0
}

/// Path of a peer program, or a failure that names the setup step.
pub fn require(program: &str) -> PathBuf {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().expect("run sh");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "{program} is not installed: run scripts/setup.sh (the README's test command does)");
    PathBuf::from(path)
}

/// A child process killed (by PID) and reaped when dropped.
pub struct ChildGuard {
    child: Child,
    name: String,
}

impl ChildGuard {
    /// Starts `cmd` with its output captured.
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ChildGuard { child, name: name.to_string() }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status();
    }

    /// Waits for the process to exit (up to `limit`), returning its output.
    pub fn wait(mut self, limit: Duration) -> Output {
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let child = std::mem::replace(&mut self.child, Command::new("true").spawn().expect("spawn true"));
        child.wait_with_output().unwrap_or_else(|e| panic!("wait for {}: {e}", self.name))
    }

    /// Has the process exited?
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on 127.0.0.1 for both TCP and UDP (a race with other programs is possible but
/// unlikely on a test machine).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let t = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = t.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP");
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Runs a command to completion and returns (status success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The universal address rpcinfo wants for 127.0.0.1:`port` (`127.0.0.1.H.L`).
pub fn uaddr(port: u16) -> String {
    format!("127.0.0.1.{}.{}", port >> 8, port & 0xff)
}

/// Resident memory of this process in KiB (from /proc).
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A socket address on loopback.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
