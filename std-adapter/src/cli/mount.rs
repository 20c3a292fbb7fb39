//! `tern mount` and `tern umount`.
//!
//! `tern mount nfs://HOST/EXPORT DIR` mounts an NFS export through the NFS client
//! ([`RemoteFs`]; the URL takes the parameters of the file commands: `nfsport`, `mountport`,
//! `uid`, `gid`), `tern mount --memfs MIB DIR` a new in-memory file system, `tern mount --dir
//! HOSTDIR DIR` a host directory through [`HostFs`] (as `tern serve` exports it); other sources
//! plug in through [`serve_mount`] with any [`FileSystem`].
//!
//! Without `--foreground`, the command starts itself again as a background server (with
//! `--foreground --notify-ready`, in its own process group, stdin and stdout detached, stderr
//! to `--log FILE` or nowhere) and returns once that server reports the mount is up, or fails
//! with the server's error and exit code. The server runs until the file system is unmounted
//! (`tern umount DIR`, `umount DIR`) or it gets SIGINT/SIGTERM (then it unmounts itself,
//! lazily if files are still open) and exits 0. A foreground server does the same in the
//! terminal it was started from.
//!
//! Exit codes ([`super::exit`]): 2 usage, 9 missing directory, 18 mount refused (or a Tern
//! mount there already), 19 not a Tern mount, 20 busy; the NFS client's codes (4 unreachable,
//! 10 no such export, 11 permission denied, 13 bad URL, ...) for an `nfs://` source; 1 anything
//! else.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tern_core::fs::FileSystem;
use tern_core::fs::mem::{BLOCK_SIZE, Block, Config, Entry, MemFs, Node, Parts};

use super::exit;
use crate::fuse::{FuseConfig, FuseFs, MountError, MountOptions, mount_background, unmount};
use crate::hostfs::HostFs;
use crate::nfs::{NfsUrl, RemoteFs, Session};

/// `tern mount`: mount a file system with FUSE.
#[derive(clap::Args, Debug, Clone)]
pub struct MountCmd {
    /// Mount a new, empty in-memory file system holding this many MiB of data.
    #[arg(long, value_name = "MIB", conflicts_with = "dir")]
    pub memfs: Option<u32>,
    /// Mount this host directory (served through HostFs, like `tern serve`).
    #[arg(long, value_name = "HOSTDIR")]
    pub dir: Option<PathBuf>,
    /// Directory of HostFs's handle secret (with --dir).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/tern")]
    pub state_dir: PathBuf,
    /// `nfs://HOST/EXPORT[?nfsport=N&mountport=N&uid=N&gid=N]` (omit with --memfs or --dir),
    /// then the mount point (an existing directory).
    #[arg(required = true, num_args = 1..=2, value_names = ["nfs://HOST/EXPORT", "DIR"])]
    pub paths: Vec<String>,
    /// With an nfs:// source: soft mount (calls fail after --timeout instead of retrying until
    /// the server answers again).
    #[arg(long)]
    pub soft: bool,
    /// Seconds a soft mount waits for the server.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Serve in this process until unmounted, logging to stderr (for debugging).
    #[arg(long, short = 'f')]
    pub foreground: bool,
    /// Seconds the kernel may cache attributes and names (0 asks the file system every time).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub cache_timeout: f64,
    /// Threads reading requests from the kernel.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub threads: usize,
    /// Mount read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Log file of the background server (it logs nowhere otherwise).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Internal: print `ready PID` on stdout once mounted (the background mode's handshake).
    #[arg(long, hide = true)]
    pub notify_ready: bool,
}

/// `tern umount`: unmount a Tern FUSE mount.
#[derive(clap::Args, Debug, Clone)]
pub struct UmountCmd {
    /// The mount point.
    pub mountpoint: PathBuf,
    /// Detach now even if files are open there; the unmount completes when they close.
    #[arg(long, short = 'l')]
    pub lazy: bool,
}

/// A failed command: a one-line message and the exit code that tells its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError {
    /// Exit code.
    pub code: u8,
    /// Message (one line).
    pub msg: String,
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CmdError {}

fn err(code: u8, msg: impl Into<String>) -> CmdError {
    CmdError { code, msg: msg.into() }
}

impl From<MountError> for CmdError {
    fn from(e: MountError) -> Self {
        let code = match &e {
            MountError::Mount { .. } => exit::MOUNT_REFUSED,
            MountError::NotMounted(_) | MountError::NotTern { .. } => exit::NOT_MOUNTED,
            MountError::Busy(_) => exit::BUSY,
            MountError::Io { .. } => 1,
        };
        err(code, e.to_string())
    }
}

impl MountCmd {
    /// The mount point (the last path given).
    pub fn mountpoint(&self) -> PathBuf {
        PathBuf::from(self.paths.last().map_or("", String::as_str))
    }

    /// The `nfs://` source, when two paths were given.
    pub fn source(&self) -> Option<&str> {
        (self.paths.len() == 2).then(|| self.paths[0].as_str())
    }

    /// Runs the command: mounts in the background (returning once mounted) or serves in the
    /// foreground until unmounted.
    pub fn run(&self) -> Result<(), CmdError> {
        let mountpoint = self.mountpoint();
        let sources = usize::from(self.memfs.is_some()) + usize::from(self.dir.is_some()) + self.paths.len() - 1;
        if sources != 1 {
            return Err(err(exit::USAGE, "give one source: nfs://HOST/EXPORT, --memfs MIB or --dir HOSTDIR"));
        }
        let url = match self.source() {
            Some(s) => Some(NfsUrl::parse(s).map_err(|e| err(exit::BAD_URL, format!("{s}: {e}")))?),
            None => None,
        };
        if crate::fuse::is_tern_mount(&mountpoint).unwrap_or(false) {
            let dir = mountpoint.display();
            return Err(err(
                exit::MOUNT_REFUSED,
                format!("{dir}: a Tern file system is mounted there already (tern umount {dir})"),
            ));
        }
        if !mountpoint.is_dir() {
            return Err(err(exit::MISSING_DIR, format!("{}: no such directory", mountpoint.display())));
        }
        if !self.foreground {
            return self.spawn_server();
        }
        let served = match (url, self.memfs, &self.dir) {
            (Some(url), _, _) => {
                let net = super::NetOpts {
                    udp: false,
                    soft: self.soft,
                    timeout: Duration::from_secs(self.timeout.max(1)),
                    window: 16,
                };
                let opts = net.session_options();
                let fail = |e: crate::nfs::NfsError| {
                    let e = super::CliError::nfs(&url.to_string(), e);
                    err(e.code, e.msg)
                };
                let (session, rest) = Session::open_url(&url, opts).map_err(fail)?;
                if !rest.is_empty() {
                    return Err(err(exit::USAGE, format!("{url}: mount the export itself, not a path inside it")));
                }
                let fs = RemoteFs::new(session).map_err(fail)?;
                serve_mount(fs, &url.to_string(), self)
            }
            (None, Some(mib), _) => {
                let fs = memfs(mib)?;
                serve_mount(fs, &format!("memfs:{mib}M"), self)
            }
            (None, None, Some(dir)) => {
                let fs = HostFs::open(dir, &self.state_dir).map_err(|e| err(exit::MISSING_DIR, e.to_string()))?;
                serve_mount(fs, &format!("hostfs:{}", dir.display()), self)
            }
            (None, None, None) => Err(err(exit::USAGE, "give nfs://HOST/EXPORT, --memfs MIB or --dir HOSTDIR")),
        };
        if let Err(e) = &served
            && self.notify_ready
        {
            say(&format!("error {} {}", e.code, e.msg));
        }
        served
    }

    /// The FUSE settings these options ask for.
    pub fn fuse_config(&self) -> Result<FuseConfig, CmdError> {
        let t = self.cache_timeout;
        if !t.is_finite() || !(0.0..=86_400.0).contains(&t) {
            return Err(err(2, format!("--cache-timeout {t}: give 0 to 86400 seconds")));
        }
        let ttl = Duration::from_secs_f64(t);
        Ok(FuseConfig { attr_ttl: ttl, entry_ttl: ttl, ..FuseConfig::default() })
    }

    /// Starts `tern mount ... --foreground --notify-ready` in the background and waits for it to
    /// report the mount (or its failure).
    fn spawn_server(&self) -> Result<(), CmdError> {
        let exe = std::env::current_exe().map_err(|e| err(1, format!("cannot find the tern binary: {e}")))?;
        let stderr = match &self.log {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| err(1, format!("log file {}: {e}", p.display())))?,
            ),
            None => Stdio::null(),
        };
        let mut cmd = Command::new(exe);
        cmd.args(std::env::args_os().skip(1))
            .args(["--foreground", "--notify-ready"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| err(1, format!("cannot start the server: {e}")))?;
        let Some(out) = child.stdout.take() else { return Err(err(1, "the server has no stdout")) };
        let mut failure = None;
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(pid) = line.strip_prefix("ready ") {
                tracing::info!(pid, dir = %self.mountpoint().display(), "mounted; the server runs in the background");
                return Ok(());
            }
            if let Some(rest) = line.strip_prefix("error ") {
                let (code, msg) = rest.split_once(' ').unwrap_or(("1", rest));
                failure = Some(err(code.parse().unwrap_or(1), msg));
            }
        }
        let status = child.wait().map_err(|e| err(1, format!("server: {e}")))?;
        Err(failure.unwrap_or_else(|| err(1, format!("the server exited ({status}) before mounting"))))
    }
}

impl UmountCmd {
    /// Runs the command.
    pub fn run(&self) -> Result<(), CmdError> {
        unmount(&self.mountpoint, self.lazy).map_err(CmdError::from)
    }
}

/// Mounts `fs` on `cmd.mountpoint()` as `fsname` and serves it until it is unmounted or a
/// SIGINT/SIGTERM arrives (then unmounts it). With `cmd.notify_ready`, prints `ready PID` on
/// stdout once mounted and leaves the working directory (so it pins no file system).
pub fn serve_mount<F: FileSystem + Send + 'static>(fs: F, fsname: &str, cmd: &MountCmd) -> Result<(), CmdError> {
    let term = crate::signals::Termination::install().map_err(|e| err(1, e.to_string()))?;
    let opts = MountOptions {
        fsname: fsname.to_string(),
        threads: cmd.threads,
        read_only: cmd.read_only,
        ..Default::default()
    };
    let mounted = mount_background(FuseFs::new(fs, cmd.fuse_config()?), &cmd.mountpoint(), &opts)?;
    tracing::info!(fsname, dir = %cmd.mountpoint().display(), "mounted");
    if cmd.notify_ready {
        say(&format!("ready {}", std::process::id()));
        let _ = std::env::set_current_dir("/");
    }
    let dir = mounted.dir().to_path_buf();
    std::thread::Builder::new()
        .name("tern-signals".into())
        .spawn(move || {
            let sig = term.wait();
            tracing::info!("signal {sig}: unmounting {}", dir.display());
            if let Err(e) = unmount(&dir, false) {
                tracing::warn!("{e}; detaching it");
                let _ = unmount(&dir, true);
            }
        })
        .map_err(|e| err(1, format!("cannot start the signal thread: {e}")))?;
    mounted.join().map_err(|e| err(1, format!("FUSE session: {e}")))?;
    tracing::info!(dir = %cmd.mountpoint().display(), "unmounted");
    Ok(())
}

/// Prints a line on stdout and flushes it (a closed pipe is ignored).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A new MemFs with `size_mib` MiB of data, its tables leaked (it lives as long as the process).
pub fn memfs(size_mib: u32) -> Result<MemFs<'static>, CmdError> {
    fn leak<T: Clone>(v: T, n: usize) -> &'static mut [T] {
        Box::leak(vec![v; n].into_boxed_slice())
    }
    if size_mib == 0 {
        return Err(err(2, "--memfs: give at least 1 MiB"));
    }
    let blocks = usize::try_from(u64::from(size_mib) * (1 << 20) / BLOCK_SIZE as u64)
        .map_err(|_| err(2, format!("--memfs {size_mib}: too large for this machine")))?;
    // One object per 32 KiB of data (at least 4096), 48 bytes of names per object.
    let nodes = (blocks / 64).clamp(4096, 1 << 22);
    let parts = Parts {
        nodes: leak(Node::ZERO, nodes),
        entries: leak(Entry::ZERO, nodes),
        blocks: leak(Block::ZERO, blocks),
        names: leak(0u8, nodes * 48),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp = (now.as_secs() << 20) ^ u64::from(now.subsec_micros()) ^ u64::from(std::process::id()) << 40;
    let mut cfg = Config::new(stamp, stamp.to_be_bytes());
    // A scratch area, like /tmp: anyone may create files at the root.
    cfg.root_mode = 0o1777;
    cfg.now = crate::fuse::host_time(now);
    MemFs::from_parts(parts, cfg).map_err(|e| err(1, format!("MemFs: {e:?}")))
}
