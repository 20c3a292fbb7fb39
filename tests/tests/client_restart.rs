//! Hard semantics: `tern serve` is killed (SIGKILL) and restarted in the middle of a 256 MiB
//! `tern cp`, both ways; the copy waits for the server, reconnects, sends again what the
//! restarted server may have lost (its write verifier changed), and ends with the right bytes.
//!
//! The copy is paused (SIGSTOP) at the moment of the kill so that the kill always lands in the
//! middle however fast the machine is; it is resumed while the server is still down, so it
//! meets the dead connection and has to retry.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tern_tests::client::{Remote, sha256};
use tern_tests::nfs::{TernServe, export_line};
use tern_tests::{ChildGuard, free_port, random_file, temp_dir, tern_bin, wait_until};

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn kill_restart_during(name: &str, upload: bool) {
    let dir = temp_dir(name);
    let export = dir.join("export");
    let state = dir.join("state");
    std::fs::create_dir_all(&export).unwrap();
    let exports = [export_line(&export, "rw,no_root_squash,insecure")];
    let (nfs, mut mount) = (free_port(), free_port());
    while mount == nfs {
        mount = free_port();
    }
    let serve = TernServe::start(&exports, &state, Some((nfs, mount)));
    let r = Remote::new(nfs, mount, &export);
    let src = dir.join("src.bin");
    random_file(&src, 256 << 20, 0x5eed);
    let (from, to, watched) = if upload {
        (src.display().to_string(), r.url("big.bin"), r.local("big.bin"))
    } else {
        std::fs::copy(&src, r.local("big.bin")).unwrap();
        (r.url("big.bin"), dir.join("back.bin").display().to_string(), dir.join("back.bin"))
    };
    let mut cmd = Command::new(tern_bin());
    cmd.args(["cp", &from, &to]).env("TERN_LOG", "info").stdin(Stdio::null());
    let mut cp = ChildGuard::spawn("tern cp", &mut cmd);
    let started = wait_until(Duration::from_secs(60), || cp.exited() || size(&watched) >= 48 << 20);
    cp.signal("STOP");
    assert!(started && !cp.exited(), "the copy ended before the server could be killed");
    let at = size(&watched);
    assert!(at < 256 << 20, "the copy was already complete ({at} bytes)");
    let _ = Command::new("kill").args(["-KILL", &serve.pid().to_string()]).status();
    drop(serve);
    cp.signal("CONT");
    // The copy finds the server gone and keeps trying.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!cp.exited(), "tern cp gave up while the server was down");
    let serve = TernServe::start(&exports, &state, Some((nfs, mount)));
    let out = cp.wait(Duration::from_secs(180));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tern cp failed after the restart:\n{stderr}");
    assert!(stderr.contains("reconnected"), "no reconnection logged:\n{stderr}");
    if upload {
        // The restarted server has another write verifier: what it may have lost went again.
        assert!(stderr.contains("write verifier changed"), "no verifier change logged:\n{stderr}");
    }
    let dst = if upload { r.local("big.bin") } else { dir.join("back.bin") };
    assert_eq!(sha256(&dst), sha256(&src), "killed at {at} bytes");
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tern_serve_killed_and_restarted_during_an_upload() {
    kill_restart_during("client-restart-up", true);
}

#[test]
fn tern_serve_killed_and_restarted_during_a_download() {
    kill_restart_during("client-restart-down", false);
}
