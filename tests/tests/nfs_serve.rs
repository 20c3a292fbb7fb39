//! `tern serve` against real NFS clients: the libnfs tools (`nfs-ls`, `nfs-cat`, `nfs-cp`),
//! `showmount` and `rpcinfo`, plus Tern's own RPC client for handle checks across restarts.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tern_core::mount::{self, MountRes3};
use tern_core::nfs3::{
    self, DirOpArgs3, FileHandle, Filename, GetattrArgs, Limits, LookupArgs, NfsRes, ReadArgs, decode_exact_with,
};
use tern_std::client::{AuthSysParams, RpcClient};
use tern_tests::{ChildGuard, free_port, local, random_file, require, run, same_file, temp_dir, tern_bin, wait_until};

/// Tests that use port 111 take turns.
static PORT_111: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Served {
    guard: ChildGuard,
    nfs: u16,
    mount: u16,
}

fn serve(export: &Path, state: &Path, portmap: u16, ports: Option<(u16, u16)>) -> Served {
    let (nfs, mount) = ports.unwrap_or_else(|| (free_port(), free_port()));
    let line = format!("{} 127.0.0.1(rw,no_root_squash,insecure)", export.display());
    let mut cmd = Command::new(tern_bin());
    cmd.args(["serve", "--listen", "127.0.0.1", "--export", &line]);
    cmd.args(["--nfs-port", &nfs.to_string(), "--mount-port", &mount.to_string()]);
    cmd.arg("--state-dir").arg(state).args(["--portmap", &format!("127.0.0.1:{portmap}")]);
    let guard = ChildGuard::spawn("tern serve", &mut cmd);
    let up = wait_until(Duration::from_secs(20), || {
        RpcClient::tcp(local(nfs), Duration::from_secs(1))
            .and_then(|mut c| c.null(nfs3::PROGRAM, 3).map_err(std::io::Error::other))
            .is_ok()
    });
    assert!(up, "tern serve did not come up");
    Served { guard, nfs, mount }
}

fn url(s: &Served, path: &str) -> String {
    format!("nfs://127.0.0.1{path}?version=3&nfsport={}&mountport={}", s.nfs, s.mount)
}

#[test]
fn libnfs_tools_against_tern_serve() {
    let (nfs_ls, nfs_cat, nfs_cp) = (require("nfs-ls"), require("nfs-cat"), require("nfs-cp"));
    let dir = temp_dir("libnfs");
    let (export, state, local_dir) = (dir.join("export"), dir.join("state"), dir.join("local"));
    for d in [&export, &local_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(export.join("sub/deeper")).unwrap();
    std::fs::write(export.join("hello.txt"), b"hello from tern\n").unwrap();
    std::fs::write(export.join("sub/deeper/leaf.txt"), b"leaf").unwrap();
    let big = 256 << 20;
    random_file(&local_dir.join("big.bin"), big, 0x2545_f491_4f6c_dd1d);
    let s = serve(&export, &state, free_port(), None);
    let e = export.display().to_string();

    let (ok, out, err) = run(Command::new(&nfs_ls).arg("-R").arg(url(&s, &e)));
    assert!(ok, "nfs-ls -R: {err}");
    for name in ["hello.txt", "sub/deeper", "sub/deeper/leaf.txt"] {
        assert!(out.contains(name), "nfs-ls -R lacks {name}:\n{out}");
    }
    let (ok, out, err) = run(Command::new(&nfs_cat).arg(url(&s, &format!("{e}/hello.txt"))));
    assert!(ok && out == "hello from tern\n", "nfs-cat: {out:?} {err}");

    // 256 MiB both ways.
    let (ok, _, err) = run(Command::new(&nfs_cp).arg(local_dir.join("big.bin")).arg(url(&s, &format!("{e}/big.bin"))));
    assert!(ok, "nfs-cp to the server: {err}");
    assert!(same_file(&local_dir.join("big.bin"), &export.join("big.bin")), "written file differs");
    let (ok, _, err) = run(Command::new(&nfs_cp).arg(url(&s, &format!("{e}/big.bin"))).arg(local_dir.join("back.bin")));
    assert!(ok, "nfs-cp from the server: {err}");
    assert!(same_file(&local_dir.join("big.bin"), &local_dir.join("back.bin")), "read file differs");

    s.guard.signal("TERM");
    exits_cleanly(s.guard);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn showmount_and_rpcinfo_see_nfs_and_mount() {
    let (showmount, rpcinfo) = (require("showmount"), require("rpcinfo"));
    let _turn = PORT_111.lock().unwrap_or_else(|e| e.into_inner());
    assert!(std::net::TcpListener::bind("127.0.0.1:111").is_ok(), "port 111 is taken before the test");
    let dir = temp_dir("showmount");
    std::fs::create_dir_all(dir.join("export")).unwrap();
    // Nothing holds port 111: `tern serve` runs Tern's portmapper there.
    let s = serve(&dir.join("export"), &dir.join("state"), 111, None);
    let (ok, out, err) = run(Command::new(&rpcinfo).args(["-p", "127.0.0.1"]));
    assert!(ok, "rpcinfo -p: {err}");
    for (prog, port) in [("100003", s.nfs), ("100005", s.mount)] {
        for proto in ["tcp", "udp"] {
            let want = [prog, "3", proto, &port.to_string()].join(" ");
            let found = out.lines().any(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" ") == want);
            assert!(found, "rpcinfo -p lacks {want}:\n{out}");
        }
    }
    let (ok, out, err) = run(Command::new(&showmount).args(["-e", "127.0.0.1"]));
    assert!(ok, "showmount -e: {err}");
    assert!(out.contains(&format!("{} 127.0.0.1", dir.join("export").display())), "showmount -e:\n{out}");
    s.guard.signal("INT");
    exits_cleanly(s.guard);
    let _ = std::fs::remove_dir_all(&dir);
}

/// MNT, LOOKUP and READ through Tern's client; the same handles work after a restart.
#[test]
fn handles_survive_a_restart() {
    let dir = temp_dir("restart");
    let (export, state) = (dir.join("export"), dir.join("state"));
    std::fs::create_dir_all(&export).unwrap();
    std::fs::write(export.join("file.txt"), b"still here").unwrap();
    let pm = free_port();
    let s = serve(&export, &state, pm, None);
    let auth = AuthSysParams { machine_name: "test".into(), uid: 0, gid: 0, gids: vec![] };
    let mut m = RpcClient::tcp(local(s.mount), Duration::from_secs(5)).unwrap();
    m.set_auth_sys(Some(auth.clone()));
    let path = export.display().to_string();
    let res = m.call(mount::PROGRAM, 3, mount::procs::MNT, &mount::DirPath::new(&path).unwrap()).unwrap();
    let root = match mount::client::decode_mnt(&res).unwrap() {
        MountRes3::Ok { fhandle, .. } => fhandle.as_bytes().to_vec(),
        other => panic!("MNT failed: {other:?}"),
    };
    let lookup = |c: &mut RpcClient| {
        let args = LookupArgs {
            what: DirOpArgs3 { dir: FileHandle::new(&root).unwrap(), name: Filename::from_str("file.txt") },
        };
        let res = c.call(nfs3::PROGRAM, 3, nfs3::procs::LOOKUP, &args).unwrap();
        match decode_exact_with::<_, nfs3::LookupRes<'_>>(&res, &Limits::default()).unwrap() {
            NfsRes::Ok(ok) => ok.object.as_bytes().to_vec(),
            NfsRes::Fail(st, _) => panic!("LOOKUP: {st:?}"),
        }
    };
    let mut c = RpcClient::tcp(local(s.nfs), Duration::from_secs(5)).unwrap();
    c.set_auth_sys(Some(auth.clone()));
    let file = lookup(&mut c);
    let (nfs_port, mount_port) = (s.nfs, s.mount);
    s.guard.signal("TERM");
    exits_cleanly(s.guard);

    let s = serve(&export, &state, pm, Some((nfs_port, mount_port)));
    let mut c = RpcClient::tcp(local(s.nfs), Duration::from_secs(5)).unwrap();
    c.set_auth_sys(Some(auth));
    let res = c
        .call(nfs3::PROGRAM, 3, nfs3::procs::GETATTR, &GetattrArgs { object: FileHandle::new(&root).unwrap() })
        .unwrap();
    assert!(matches!(decode_exact_with::<_, nfs3::GetattrRes>(&res, &Limits::default()).unwrap(), NfsRes::Ok(_)));
    let args = ReadArgs { file: FileHandle::new(&file).unwrap(), offset: 0, count: 100 };
    let res = c.call(nfs3::PROGRAM, 3, nfs3::procs::READ, &args).unwrap();
    match decode_exact_with::<_, nfs3::ReadRes<'_>>(&res, &Limits::default()).unwrap() {
        NfsRes::Ok(ok) => assert_eq!(ok.data, b"still here"),
        NfsRes::Fail(st, _) => panic!("READ after restart: {st:?}"),
    }
    assert_eq!(lookup(&mut c), file, "the same file has the same handle after a restart");
    // An altered handle is refused.
    let mut bad = file.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let res = c
        .call(nfs3::PROGRAM, 3, nfs3::procs::GETATTR, &GetattrArgs { object: FileHandle::new(&bad).unwrap() })
        .unwrap();
    assert!(matches!(decode_exact_with::<_, nfs3::GetattrRes>(&res, &Limits::default()).unwrap(), NfsRes::Fail(..)));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_line_errors_and_exit_codes() {
    let dir = temp_dir("errors");
    let state = dir.join("state");
    let go = |args: &[&str]| {
        let out = Command::new(tern_bin()).arg("serve").args(args).arg("--state-dir").arg(&state).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let exports = dir.join("exports");
    std::fs::write(&exports, format!("# comment\n{} 127.0.0.1(rw)\n/srv *(rw,bogus_option)\n", dir.display())).unwrap();
    let (code, err) = go(&["--exports", exports.to_str().unwrap(), "--nfs-port", "0", "--mount-port", "0"]);
    assert_eq!(code, Some(8), "{err}");
    assert!(err.lines().count() == 1 && err.contains("line 3"), "{err}");
    let (code, err) = go(&["--export", "/no/such/dir *(ro)", "--nfs-port", "0", "--mount-port", "0"]);
    assert_eq!(code, Some(9), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let line = format!("{} 127.0.0.1(ro)", dir.display());
    let (code, err) = go(&["--listen", "127.0.0.1", "--export", &line, "--nfs-port", &port, "--mount-port", "0"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.lines().count() == 1 && err.contains("in use"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits up to 10 s for a signalled `tern serve` and checks that it exited with status 0.
fn exits_cleanly(guard: ChildGuard) {
    let out = guard.wait(Duration::from_secs(10));
    assert!(
        out.status.success(),
        "tern serve did not exit cleanly: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
