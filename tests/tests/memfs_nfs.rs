//! MemFs exports against the real libnfs tools (`nfs-ls`, `nfs-cat`, `nfs-cp`): served by the
//! host example `tern-example-memfs-server` on std sockets, and by the riscv32 `virt` firmware's
//! `nfs` mode under QEMU, which the host reaches through user networking (`hostfwd`).
//!
//! The host test copies 256 MiB each way and lists and reads a file in a directory it made
//! (MKDIR through Tern's client: the libnfs tools have no mkdir); the board test lists and reads
//! the files the firmware made at boot and copies 1 MiB each way. Both print the nfs-cp
//! throughput (`--nocapture`), and both check that the server exits cleanly with its summary.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tern_core::mount::{self, MountRes3};
use tern_core::nfs3::{self, DirOpArgs3, FileHandle, Filename, Limits, MkdirArgs, NfsRes, Sattr3, decode_exact_with};
use tern_std::client::{AuthSysParams, RpcClient};
use tern_tests::{
    ChildGuard, boot_board, firmware, free_port, local, random_file, require, run, same_file, temp_dir, uaddr,
    wait_until, workspace_bin,
};

/// A libnfs URL for `path` on a server whose NFS and MOUNT ports are given.
fn url(ports: (u16, u16), path: &str) -> String {
    format!("nfs://127.0.0.1{path}?version=3&nfsport={}&mountport={}", ports.0, ports.1)
}

/// Whether an NFS NULL call over TCP at 127.0.0.1:`port` is answered.
fn nfs_answers(port: u16) -> bool {
    RpcClient::tcp(local(port), Duration::from_millis(500))
        .and_then(|mut c| c.null(nfs3::PROGRAM, 3).map_err(std::io::Error::other))
        .is_ok()
}

/// `nfs-cp from to`, timed; reports the throughput of `bytes`.
fn timed_cp(
    nfs_cp: &Path,
    what: &str,
    from: impl AsRef<std::ffi::OsStr>,
    to: impl AsRef<std::ffi::OsStr>,
    bytes: usize,
) {
    let t = Instant::now();
    let (ok, _, err) = run(Command::new(nfs_cp).arg(from).arg(to));
    let secs = t.elapsed().as_secs_f64();
    assert!(ok, "nfs-cp {what}: {err}");
    eprintln!("nfs-cp {what}: {bytes} bytes in {secs:.3} s = {:.1} MB/s", bytes as f64 / secs / 1e6);
}

/// MKDIR `name` in the export's root, through Tern's client (the libnfs tools have no mkdir).
fn mkdir(ports: (u16, u16), export: &str, name: &str) {
    let auth = AuthSysParams { machine_name: "test".into(), uid: 0, gid: 0, gids: vec![] };
    let mut m = RpcClient::tcp(local(ports.1), Duration::from_secs(5)).unwrap();
    m.set_auth_sys(Some(auth.clone()));
    let res = m.call(mount::PROGRAM, 3, mount::procs::MNT, &mount::DirPath::new(export).unwrap()).unwrap();
    let root = match mount::client::decode_mnt(&res).unwrap() {
        MountRes3::Ok { fhandle, .. } => fhandle.as_bytes().to_vec(),
        other => panic!("MNT {export}: {other:?}"),
    };
    let mut c = RpcClient::tcp(local(ports.0), Duration::from_secs(5)).unwrap();
    c.set_auth_sys(Some(auth));
    let args = MkdirArgs {
        where_: DirOpArgs3 { dir: FileHandle::new(&root).unwrap(), name: Filename::from_str(name) },
        attributes: Sattr3 { mode: Some(0o755), ..Sattr3::UNCHANGED },
    };
    let res = c.call(nfs3::PROGRAM, 3, nfs3::procs::MKDIR, &args).unwrap();
    match decode_exact_with::<_, nfs3::MkdirRes<'_>>(&res, &Limits::default()).unwrap() {
        NfsRes::Ok(_) => {}
        NfsRes::Fail(st, _) => panic!("MKDIR {name}: {st:?}"),
    }
}

#[test]
fn libnfs_tools_against_the_memfs_example() {
    let (nfs_ls, nfs_cat, nfs_cp) = (require("nfs-ls"), require("nfs-cat"), require("nfs-cp"));
    let dir = temp_dir("host");
    let big = 256 << 20;
    random_file(&dir.join("big.bin"), big, 0x2545_f491_4f6c_dd1d);
    std::fs::write(dir.join("note.txt"), b"a note in memory\n").unwrap();

    let ports = (free_port(), free_port());
    let mut cmd = Command::new(workspace_bin("tern-example-memfs-server", "tern-example-memfs-server"));
    cmd.args(["--listen", "127.0.0.1", "--nfs-port", &ports.0.to_string(), "--mount-port", &ports.1.to_string()]);
    let server = ChildGuard::spawn("tern-example-memfs-server", &mut cmd);
    assert!(wait_until(Duration::from_secs(30), || nfs_answers(ports.0)), "the memfs example did not come up");

    mkdir(ports, "/mem", "dir");
    timed_cp(&nfs_cp, "256 MiB to the MemFs", dir.join("big.bin"), url(ports, "/mem/big.bin"), big);
    let (ok, _, err) = run(Command::new(&nfs_cp).arg(dir.join("note.txt")).arg(url(ports, "/mem/dir/note.txt")));
    assert!(ok, "nfs-cp note.txt: {err}");
    let (ok, out, err) = run(Command::new(&nfs_ls).arg("-R").arg(url(ports, "/mem")));
    assert!(ok, "nfs-ls -R: {err}");
    for name in ["big.bin", "dir", "dir/note.txt"] {
        assert!(out.lines().any(|l| l.ends_with(&format!(" {name}"))), "nfs-ls -R lacks {name}:\n{out}");
    }
    assert!(out.contains(&format!(" {big} big.bin")), "nfs-ls -R: big.bin is not {big} bytes:\n{out}");
    let (ok, out, err) = run(Command::new(&nfs_cat).arg(url(ports, "/mem/dir/note.txt")));
    assert!(ok && out == "a note in memory\n", "nfs-cat: {out:?} {err}");
    timed_cp(&nfs_cp, "256 MiB from the MemFs", url(ports, "/mem/big.bin"), dir.join("back.bin"), big);
    assert!(same_file(&dir.join("big.bin"), &dir.join("back.bin")), "the file read back differs");

    server.signal("TERM");
    let out = server.wait(Duration::from_secs(10));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the memfs example did not exit cleanly ({:?}):\n{log}", out.status);
    assert!(log.contains("done:") && log.contains(" 0 errors"), "summary missing or errors counted:\n{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// How long the board serves before exiting on its own.
const SERVE_SECS: u64 = 5;

/// The number in `out` just before `what` on the line starting with `prefix`.
fn count_before(out: &str, prefix: &str, what: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.starts_with(prefix))?;
    let before = &line[..line.find(what)?];
    before.split_whitespace().last()?.parse().ok()
}

#[test]
fn libnfs_tools_against_the_board_memfs() {
    let (nfs_ls, nfs_cat, nfs_cp) = (require("nfs-ls"), require("nfs-cat"), require("nfs-cp"));
    let rpcinfo = require("rpcinfo");
    let firmware = firmware(); // Built before the board's clock starts.
    assert!(firmware.exists());
    let dir = temp_dir("board");
    let size = 1 << 20;
    random_file(&dir.join("one.bin"), size, 0x9e37_79b9_7f4a_7c15);

    let ports = (free_port(), free_port());
    let (g_nfs, g_mount) = (2049, 20048);
    let netdev = format!(
        "user,id=n0,hostfwd=tcp:127.0.0.1:{h1}-10.0.2.15:{g_nfs},hostfwd=udp:127.0.0.1:{h1}-10.0.2.15:{g_nfs},\
         hostfwd=tcp:127.0.0.1:{h2}-10.0.2.15:{g_mount},hostfwd=udp:127.0.0.1:{h2}-10.0.2.15:{g_mount}",
        h1 = ports.0,
        h2 = ports.1
    );
    let mut board = boot_board(&netdev, &format!("nfs {g_nfs} {g_mount} {SERVE_SECS}"));
    let started = Instant::now();
    let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(wait_until(Duration::from_secs(4), || nfs_answers(ports.0)), "the board's NFS port never answered");
        // Both ports answer over UDP too (the libnfs tools below use TCP).
        for (port, prog) in [(ports.0, "100003"), (ports.1, "100005")] {
            let (ok, stdout, stderr) = run(Command::new(&rpcinfo).args(["-T", "udp", "-a", &uaddr(port), prog, "3"]));
            assert!(ok && stdout.contains("ready and waiting"), "rpcinfo -T udp {prog}: {stdout} {stderr}");
        }
        let (ok, out, err) = run(Command::new(&nfs_ls).arg("-R").arg(url(ports, "/mem")));
        assert!(ok, "nfs-ls -R: {err}");
        for name in ["hello.txt", "dir"] {
            assert!(out.lines().any(|l| l.ends_with(&format!(" {name}"))), "nfs-ls -R lacks {name}:\n{out}");
        }
        let (ok, out, err) = run(Command::new(&nfs_cat).arg(url(ports, "/mem/hello.txt")));
        assert!(ok && out == "hello from the board\n", "nfs-cat: {out:?} {err}");
        timed_cp(&nfs_cp, "1 MiB to the board", dir.join("one.bin"), url(ports, "/mem/one.bin"), size);
        timed_cp(&nfs_cp, "1 MiB from the board", url(ports, "/mem/one.bin"), dir.join("back.bin"), size);
        assert!(same_file(&dir.join("one.bin"), &dir.join("back.bin")), "the file read back differs");
        assert!(started.elapsed() < Duration::from_secs(SERVE_SECS), "checks took longer than the board serves");
    }));
    // Wait for the board's own exit (at SERVE_SECS), unless a check failed.
    let limit = if checks.is_ok() { Duration::from_secs(SERVE_SECS + 10) } else { Duration::ZERO };
    if !wait_until(limit, || board.exited()) {
        board.signal("TERM");
    }
    let out = board.wait(Duration::from_secs(3));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if let Err(panic) = checks {
        eprintln!("board output (exit {:?}):\n{text}", out.status.code());
        std::panic::resume_unwind(panic);
    }
    assert_eq!(out.status.code(), Some(0), "board exit code (124: killed by timeout):\n{text}");
    let count = |what| count_before(&text, "nfs: done:", what);
    assert!(count("calls ok,").is_some_and(|n| n > 0), "no NFS calls counted:\n{text}");
    assert!(count("tcp connections, ").is_some_and(|n| n >= 4), "too few NFS connections:\n{text}");
    assert_eq!(count("too large"), Some(0), "{text}");
    assert!(text.contains(" 0 errors, 0 dropped; mount port"), "NFS-port errors:\n{text}");
    eprintln!("{}", text.lines().find(|l| l.starts_with("nfs: done:")).unwrap_or_default());
    let _ = std::fs::remove_dir_all(&dir);
}
