//! The progress bars of `tern cp` and `tern migrate`: drawn (with `\r`, a percentage and the
//! amount moved) when stdout is a terminal, and not at all when it is a pipe. A terminal comes
//! from `script` (util-linux), which runs the command on a pseudo-terminal.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tern_std::client::RpcClient;
use tern_std::node::proto;
use tern_tests::client::{Remote, tern};
use tern_tests::nfs::TernServe;
use tern_tests::{ChildGuard, free_port, guest, local, random_file, require, temp_dir, tern_bin, wait_until};

/// Runs `tern ARGS` on a pseudo-terminal; its exit code and everything it wrote there.
fn on_terminal(args: &[&str]) -> (i32, String) {
    let script = require("script");
    let line = std::iter::once(tern_bin().to_str().unwrap())
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(script).args(["-qefc", &line, "/dev/null"]).output().expect("run script");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `out` holds a redrawn bar that reached 100%.
fn has_bar(out: &str) -> bool {
    out.contains('\r') && out.contains("100%") && out.contains("MiB")
}

#[test]
fn cp_draws_a_bar_on_a_terminal_only() {
    let dir = temp_dir("progress-cp");
    let export = dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    let serve = TernServe::start(&[format!("{} 127.0.0.1(rw,insecure,no_root_squash)", export.display())], &dir, None);
    let r = Remote::new(serve.nfs, serve.mount, &export);
    let src = dir.join("src.bin");
    random_file(&src, 32 << 20, 7);
    let (code, out) = on_terminal(&["cp", src.to_str().unwrap(), &r.url("up.bin")]);
    assert_eq!(code, 0, "{out}");
    assert!(has_bar(&out), "no bar on a terminal: {out:?}");
    let piped = tern(&["cp", src.to_str().unwrap(), &r.url("up2.bin")]).ok();
    assert!(!piped.stdout.contains('\r') && !piped.stdout.contains('%'), "a bar into a pipe: {:?}", piped.stdout);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

fn start_node() -> (ChildGuard, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let guard = ChildGuard::spawn("tern node", Command::new(tern_bin()).args(["node", "--listen", &addr]));
    let up = wait_until(Duration::from_secs(20), || {
        RpcClient::tcp(local(port), Duration::from_secs(1))
            .and_then(|mut c| c.null(proto::PROGRAM, proto::VERSION).map_err(std::io::Error::other))
            .is_ok()
    });
    assert!(up, "tern node did not come up");
    (guard, addr)
}

fn spawn(node: &str, g: &Path, args: &[&str]) -> String {
    let mut a = vec!["spawn", "--node", node, g.to_str().unwrap()];
    a.extend_from_slice(args);
    tern(&a).ok().stdout.trim().to_string()
}

#[test]
fn migrate_draws_a_bar_on_a_terminal_only() {
    let (_a, a) = start_node();
    let (_b, b) = start_node();
    let g = guest("memory-worker");
    // 16 MiB of working set (4,096 pages), rewritten slowly: a pre-copy of several rounds.
    let pid = spawn(&a, &g, &["4096", "200", "64", "20000"]);
    // Until every page has been written (the worker fills its pages first, ~8 instructions a
    // word): then the copy carries 16 MiB of data, not zero pages.
    let filled = wait_until(Duration::from_secs(60), || {
        let ps = tern(&["ps", "--node", &a]).ok().stdout;
        ps.lines()
            .filter(|l| l.contains(&pid))
            .any(|l| l.split_whitespace().nth(2).and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n > 40_000_000))
    });
    assert!(filled, "the worker did not fill its pages");
    let (code, out) = on_terminal(&["migrate", &pid, "--from", &a, "--to", &b, "--strategy", "pre-copy"]);
    assert_eq!(code, 0, "{out}");
    assert!(has_bar(&out) && out.contains(&format!("migrating {pid}")), "no bar on a terminal: {out:?}");
    let piped = tern(&["migrate", &pid, "--from", &b, "--to", &a, "--strategy", "pre-copy"]).ok();
    assert!(!piped.stdout.contains('\r') && !piped.stdout.contains('%'), "a bar into a pipe: {:?}", piped.stdout);
}
