//! `tern mount` (FUSE) helpers for the tests: whether FUSE mounts can be made here, a
//! background `tern mount` that is unmounted and stopped when dropped, and a shell runner.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tern_std::fuse::is_tern_mount;

use crate::{run, temp_dir, tern_bin};

/// Why FUSE mounts cannot be made here, if they cannot.
pub fn fuse_unavailable() -> Option<&'static str> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("not root (mounting needs CAP_SYS_ADMIN)");
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing (modprobe fuse)");
    }
    if !fs::read_to_string("/proc/filesystems").unwrap_or_default().lines().any(|l| l.trim_end().ends_with("\tfuse")) {
        return Some("the kernel has no fuse file system");
    }
    None
}

/// True when the test must not run (after saying why).
pub fn skip(test: &str) -> bool {
    let Some(why) = fuse_unavailable() else { return false };
    assert!(std::env::var_os("TERN_REQUIRE_FUSE").is_none(), "{test}: FUSE required but {why}");
    eprintln!("SKIPPED {test}: {why}");
    true
}

/// Runs `sh -c script`, asserting success; returns stdout.
pub fn sh(script: &str) -> String {
    let (ok, out, err) = run(Command::new("sh").arg("-c").arg(script));
    assert!(ok, "`{script}` failed: {err}");
    out
}

/// Pids of processes whose command line contains `needle` (this test's unique mount point).
pub fn servers_of(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        if pid != std::process::id() && String::from_utf8_lossy(&cmd).replace('\0', " ").contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// A `tern mount` in the background; unmounted (lazily) and its server killed when dropped.
pub struct TernMount {
    /// The mount point.
    pub dir: PathBuf,
    /// The temp dir holding it (and the server's log).
    pub work: PathBuf,
}

impl TernMount {
    /// `tern mount ARGS DIR` with a fresh mount point in a fresh temp dir.
    pub fn new(name: &str, args: &[&str]) -> Self {
        let work = temp_dir(name);
        let dir = work.join("mnt");
        fs::create_dir(&dir).unwrap();
        let log = work.join("server.log");
        let (ok, _, err) = run(Command::new(tern_bin()).arg("mount").args(args).arg(&dir).arg("--log").arg(&log));
        assert!(ok, "tern mount {args:?}: {err}");
        assert!(is_tern_mount(&dir).unwrap(), "{} is not mounted", dir.display());
        TernMount { dir, work }
    }

    /// `tern mount --memfs MIB`.
    pub fn memfs(name: &str, mib: u32) -> Self {
        Self::new(name, &["--memfs", &mib.to_string()])
    }

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The background servers of this mount.
    pub fn servers(&self) -> Vec<u32> {
        servers_of(&format!("{} ", self.dir.display()))
    }
}

impl Drop for TernMount {
    fn drop(&mut self) {
        if is_tern_mount(&self.dir).unwrap_or(false) {
            let _ = Command::new(tern_bin()).args(["umount", "--lazy"]).arg(&self.dir).status();
        }
        for pid in self.servers() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = fs::remove_dir_all(&self.work);
    }
}
