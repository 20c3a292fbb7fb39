//! The riscv32 `virt` firmware as an NFSv3 client (its `nfs-mount` mode, the no_std client of
//! `tern_core::nfs3::client` over smoltcp) of a host export served by `tern serve`, reached
//! through QEMU's user network (the host's 127.0.0.1 is 10.0.2.2 to the guest): the board
//! mounts the export, writes a file with UNSTABLE WRITEs in a window of 4 and a COMMIT, reads it
//! back and compares, and unmounts; the test then checks the file on the host's disk.

use std::time::Duration;

use tern_tests::nfs::TernServe;
use tern_tests::{boot_board, require, temp_dir, wait_until};

/// The byte at `offset` of the board's file (the firmware's `nfs_mount::pattern`).
fn pattern(offset: u64) -> u8 {
    let x = offset.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 56) as u8) ^ (offset as u8)
}

/// Boots the board in `nfs-mount` mode; its exit code and output.
fn board_mount(serve: &TernServe, export: &str, file: &str, bytes: u64) -> (Option<i32>, String) {
    require("qemu-system-riscv32");
    let append = format!("nfs-mount 10.0.2.2 {} {} {export} {file} {bytes}", serve.mount, serve.nfs);
    let mut board = boot_board("user,id=n0", &append);
    wait_until(Duration::from_secs(60), || board.exited());
    let out = board.wait(Duration::from_secs(2));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[test]
fn board_writes_a_file_on_a_host_export_and_reads_it_back() {
    let dir = temp_dir("board-mount");
    let (export, state) = (dir.join("export"), dir.join("state"));
    std::fs::create_dir_all(&export).unwrap();
    let path = export.display().to_string();
    let serve = TernServe::start(&[format!("{path} 127.0.0.1(rw,insecure,no_root_squash)")], &state, None);

    let bytes = 3 * 1024 * 1024 + 123;
    let (code, out) = board_mount(&serve, &path, "from-board.bin", bytes);
    assert_eq!(code, Some(0), "board exit code (124: killed by timeout):\n{out}\nserver log:\n{}", serve.log());
    for line in ["nfs-mount: rsize 8192 wsize 8192", &format!("nfs-mount: unmounted {path}")] {
        assert!(out.lines().any(|l| l == line), "board output lacks {line:?}:\n{out}");
    }
    // The host's own view of what the board wrote.
    let on_disk = std::fs::read(export.join("from-board.bin")).unwrap();
    assert_eq!(on_disk.len() as u64, bytes);
    if let Some(at) = on_disk.iter().enumerate().position(|(i, &b)| b != pattern(i as u64)) {
        panic!("byte {at} on disk differs from what the board wrote");
    }

    // A path that is not exported: MNT is refused and the board says so.
    let (code, out) = board_mount(&serve, "/not/exported", "x", 10);
    assert_eq!(code, Some(1), "board exit code for an unexported path:\n{out}");
    assert!(out.contains("nfs-mount: FAILED: mount refused"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
