//! `tern mount nfs://HOST/EXPORT DIR`: an NFS export (served by `tern serve`, and by nfs-ganesha)
//! mounted through FUSE with Tern's NFS client, used by ordinary programs: a 64 MiB `cp` in and
//! out with equal `sha256sum` and the bytes on the server's own disk, and a source tree copied
//! in with `tar`, read back byte-identical (`diff -r`), and found identical on the server's disk.
//! Needs root and `/dev/fuse` (skipped with a message otherwise, like the other FUSE tests).

use std::path::Path;

use tern_tests::client::Remote;
use tern_tests::fuse::{TernMount, sh, skip};
use tern_tests::ganesha::Ganesha;
use tern_tests::nfs::{TernServe, export_line};
use tern_tests::{random_file, same_file, temp_dir, workspace};

/// Ordinary programs on the mount of `remote`, whose export is `export` on this disk.
fn programs_through_the_mount(name: &str, remote: &Remote, export: &Path) {
    let m = TernMount::new(name, &[&remote.url_as("", 0, 0)]);
    // 64 MiB in, compared through the mount and on the server's disk; then out again.
    let src = m.work.join("src.bin");
    random_file(&src, 64 << 20, 0x6e_f5);
    sh(&format!("cp {} {}", src.display(), m.path("big.bin").display()));
    assert!(same_file(&src, &export.join("big.bin")), "the server's copy differs");
    let sums = sh(&format!("sha256sum < {} && sha256sum < {}", src.display(), m.path("big.bin").display()));
    let sums: Vec<&str> = sums.lines().collect();
    assert_eq!(sums[0], sums[1]);
    let back = m.work.join("back.bin");
    sh(&format!("cp {} {}", m.path("big.bin").display(), back.display()));
    assert!(same_file(&src, &back));

    // A source tree in with tar, read back with tar, compared both ways and on the server.
    let tree = workspace().join("core/src");
    sh(&format!("mkdir {0} && tar -C {1} -cf - . | tar -C {0} -xf -", m.path("tree").display(), tree.display()));
    sh(&format!("diff -r {} {}", tree.display(), m.path("tree").display()));
    sh(&format!("diff -r {} {}", tree.display(), export.join("tree").display()));
    let out = m.work.join("out");
    sh(&format!("mkdir {0} && tar -C {1} -cf - . | tar -C {0} -xf -", out.display(), m.path("tree").display()));
    sh(&format!("diff -r {} {}", tree.display(), out.display()));
    sh(&format!("rm -r {}", m.path("tree").display()));
    assert!(!export.join("tree").exists());
}

#[test]
fn tern_serve_export_through_fuse() {
    if skip("tern_serve_export_through_fuse") {
        return;
    }
    let dir = temp_dir("fuse-nfs-tern");
    let export = dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    let s = TernServe::start(&[export_line(&export, "rw,no_root_squash,insecure")], &dir.join("state"), None);
    programs_through_the_mount("fuse-nfs-tern-m", &Remote::new(s.nfs, s.mount, &export), &export);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ganesha_export_through_fuse() {
    if skip("ganesha_export_through_fuse") {
        return;
    }
    let g = Ganesha::start("fuse-nfs");
    programs_through_the_mount("fuse-nfs-ganesha-m", &Remote::new(g.nfs, g.mount, &g.export()), &g.export());
}
