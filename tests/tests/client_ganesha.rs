//! The `tern` file commands against nfs-ganesha (an independent NFSv3 server): every command
//! with its failures and exit codes, and 256 MiB copies both ways with equal checksums.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tern_tests::client::{Remote, every_command, sha256, tern};
use tern_tests::ganesha::Ganesha;
use tern_tests::{random_file, temp_dir};

/// One ganesha at a time in this binary (two starting at once share the one rpcbind that
/// `Ganesha::start` runs for their registrations).
fn one_ganesha() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn every_command_against_ganesha() {
    let _one = one_ganesha();
    let g = Ganesha::start("cmds");
    let r = Remote::new(g.nfs, g.mount, &g.export());
    let scratch = temp_dir("ganesha-cmds-scratch");
    every_command(&r, &scratch);
}

#[test]
fn copy_256_mib_both_ways_with_ganesha() {
    let _one = one_ganesha();
    let g = Ganesha::start("256");
    let r = Remote::new(g.nfs, g.mount, &g.export());
    let scratch = temp_dir("ganesha-256-scratch");
    let src = scratch.join("src.bin");
    random_file(&src, 256 << 20, 0x9a9e);
    let t = Instant::now();
    tern(&["cp", src.to_str().unwrap(), &r.url("big.bin")]).ok();
    let up = t.elapsed();
    assert_eq!(sha256(&r.local("big.bin")), sha256(&src));
    let back = scratch.join("back.bin");
    let t = Instant::now();
    tern(&["cp", &r.url("big.bin"), back.to_str().unwrap()]).ok();
    let down = t.elapsed();
    assert_eq!(sha256(&back), sha256(&src));
    // And remote to remote within ganesha.
    tern(&["cp", &r.url("big.bin"), &r.url("again.bin")]).ok();
    assert_eq!(sha256(&r.local("again.bin")), sha256(&src));
    eprintln!("256 MiB: to ganesha {up:?}, from ganesha {down:?}");
    let _ = std::fs::remove_dir_all(&scratch);
}
