//! `tern mount` through the kernel's FUSE: ordinary programs (ls, cp, sha256sum, tar, diff,
//! mkdir, mv, rm, ln, stat, dd) on a mounted MemFs, errors as the right `errno`, `tern umount`
//! ending the background server, the foreground mode ending on SIGTERM, and a host directory
//! (HostFs) mounted both through the command and in-process through `FuseFs`.
//!
//! These need root and `/dev/fuse`. Where either is missing each test says so on stderr and
//! passes without running (set `TERN_REQUIRE_FUSE=1` to make that a failure instead).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tern_std::fuse::{FuseConfig, FuseFs, MountOptions, is_tern_mount, mount_background};
use tern_std::hostfs::HostFs;
use tern_tests::fuse::{TernMount, sh, skip};
use tern_tests::{ChildGuard, random_file, run, same_file, temp_dir, tern_bin, wait_until, workspace};

#[test]
fn cp_64_mib_both_ways() {
    if skip("cp_64_mib_both_ways") {
        return;
    }
    let m = TernMount::memfs("fuse-cp", 160);
    let src = m.work.join("src.bin");
    random_file(&src, 64 << 20, 0x5eed);
    let inside = m.path("big.bin");
    sh(&format!("cp {} {}", src.display(), inside.display()));
    let sums = sh(&format!("sha256sum < {} && sha256sum < {}", src.display(), inside.display()));
    let sums: Vec<&str> = sums.lines().collect();
    assert_eq!(sums.len(), 2);
    assert_eq!(sums[0], sums[1], "sha256 through the mount");
    assert_eq!(sh(&format!("stat -c %s {}", inside.display())).trim(), (64u64 << 20).to_string());
    let back = m.work.join("back.bin");
    sh(&format!("cp {} {}", inside.display(), back.display()));
    assert!(same_file(&src, &back), "copied out differs");
    let ls = sh(&format!("ls -la {}", m.dir.display()));
    assert!(ls.lines().any(|l| l.contains("67108864") && l.ends_with(" big.bin")), "ls -la: {ls}");
    let df = sh(&format!("df -k {}", m.dir.display()));
    assert!(df.contains("memfs:160M"), "df: {df}");
}

#[test]
fn tar_tree_in_and_out_is_identical() {
    if skip("tar_tree_in_and_out_is_identical") {
        return;
    }
    let m = TernMount::memfs("fuse-tar", 64);
    let core = workspace().join("core");
    sh(&format!("tar -C {} -cf - src | tar -C {} -xf -", core.display(), m.dir.display()));
    sh(&format!("diff -r {} {}", core.join("src").display(), m.path("src").display()));
    let out = m.work.join("out");
    fs::create_dir(&out).unwrap();
    sh(&format!("tar -C {} -cf - src | tar -C {} -xf -", m.dir.display(), out.display()));
    sh(&format!("diff -r {} {}", core.join("src").display(), out.join("src").display()));
    let files = sh(&format!("find {} -type f | wc -l", m.path("src").display()));
    let want = sh(&format!("find {} -type f | wc -l", core.join("src").display()));
    assert_eq!(files, want);
}

#[test]
fn namespace_programs_and_errors() {
    if skip("namespace_programs_and_errors") {
        return;
    }
    let m = TernMount::memfs("fuse-ns", 16);
    let d = m.dir.display().to_string();
    sh(&format!("cd {d} && mkdir -p a/b/c && echo one > a/b/c/f && mv a/b a/B && ls a/B/c/f"));
    sh(&format!("cd {d} && ln -s B/c/f a/sym && ln a/B/c/f a/hard && test \"$(cat a/sym)\" = one"));
    assert_eq!(sh(&format!("readlink {d}/a/sym")).trim(), "B/c/f");
    let ids = sh(&format!("stat -c '%i %h' {d}/a/hard {d}/a/B/c/f"));
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids[0], ids[1], "hard links share the inode");
    assert!(ids[0].ends_with(" 2"), "link count: {ids:?}");
    let ls = sh(&format!("ls -la {d}/a"));
    assert!(ls.contains("sym -> B/c/f") && ls.contains(" hard") && ls.contains(" B"), "ls -la: {ls}");
    sh(&format!("cd {d} && echo two >> a/hard && test \"$(cat a/B/c/f)\" = \"$(printf 'one\\ntwo')\""));
    sh(&format!("cd {d} && chmod 640 a/hard && test $(stat -c %a a/B/c/f) = 640"));
    sh(&format!("cd {d} && touch -d '2001-02-03 04:05:06 UTC' a/hard && test $(stat -c %Y a/hard) = 981173106"));
    sh(&format!("cd {d} && truncate -s 3 a/hard && test \"$(cat a/hard)\" = one"));

    // Errors come through as the right errno.
    let a = m.path("a");
    assert_eq!(fs::remove_dir(&a).unwrap_err().kind(), ErrorKind::DirectoryNotEmpty);
    assert_eq!(File::open(m.path("missing")).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::create_dir(&a).unwrap_err().kind(), ErrorKind::AlreadyExists);
    assert_eq!(fs::create_dir(a.join("hard/x")).unwrap_err().kind(), ErrorKind::NotADirectory);
    assert_eq!(fs::remove_file(a.join("B")).unwrap_err().kind(), ErrorKind::IsADirectory);
    assert_eq!(fs::rename(a.join("B"), a.join("B/c/inside")).unwrap_err().raw_os_error(), Some(22), "EINVAL");
    let (ok, _, err) = run(Command::new("rmdir").arg(&a));
    assert!(!ok && err.contains("Directory not empty"), "rmdir: {err}");

    // A file unlinked while open stays readable until closed, then leaves no trace.
    let mut f = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(m.path("tmp")).unwrap();
    f.write_all(b"open but unlinked").unwrap();
    fs::remove_file(m.path("tmp")).unwrap();
    assert!(!m.path("tmp").exists());
    let mut back = String::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_string(&mut back).unwrap();
    assert_eq!(back, "open but unlinked");
    drop(f);
    // The kernel sends RELEASE after close(2) returns, so the hidden name goes soon after.
    let names = || fs::read_dir(&m.dir).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>();
    assert!(wait_until(Duration::from_secs(5), || names() == ["a"]), "hidden name not removed: {:?}", names());

    // A sparse file beyond 4 GiB: seek, write one byte.
    let big = m.path("sparse");
    let f = File::create(&big).unwrap();
    let at = (5u64 << 30) + 7;
    f.write_all_at(b"Z", at).unwrap();
    drop(f);
    let meta = fs::metadata(&big).unwrap();
    assert_eq!(meta.len(), at + 1);
    assert!(meta.blocks() < 64, "sparse: {} blocks", meta.blocks());
    let f = File::open(&big).unwrap();
    let mut b = [1u8; 2];
    f.read_exact_at(&mut b, at - 1).unwrap();
    assert_eq!(b, [0, b'Z']);
    f.read_exact_at(&mut b, 4 << 30).unwrap();
    assert_eq!(b, [0, 0]);
    drop(f);
    assert_eq!(sh(&format!("stat -c %s {}", big.display())).trim(), (at + 1).to_string());

    sh(&format!("rm -r {d}/a {d}/sparse && mkdir -p {d}/x/y && rmdir {d}/x/y {d}/x"));
    assert_eq!(fs::read_dir(&m.dir).unwrap().count(), 0);
    let mode = fs::metadata(&m.dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o1777, "the MemFs root is a scratch area");
}

#[test]
fn umount_ends_the_server() {
    if skip("umount_ends_the_server") {
        return;
    }
    let m = TernMount::memfs("fuse-umount", 8);
    let servers = m.servers();
    assert_eq!(servers.len(), 1, "one background server: {servers:?}");
    let twice = Command::new(tern_bin()).args(["mount", "--memfs", "8"]).arg(&m.dir).output().unwrap();
    assert_eq!(twice.status.code(), Some(18), "mounting over a Tern mount is refused");
    // Busy while a file is open there; --lazy is offered.
    let f = File::create(m.path("held")).unwrap();
    let out = Command::new(tern_bin()).arg("umount").arg(&m.dir).output().unwrap();
    assert_eq!(out.status.code(), Some(20), "{}", String::from_utf8_lossy(&out.stderr));
    drop(f);
    let (ok, _, err) = run(Command::new(tern_bin()).arg("umount").arg(&m.dir));
    assert!(ok, "tern umount: {err}");
    assert!(!is_tern_mount(&m.dir).unwrap());
    assert!(wait_until(Duration::from_secs(10), || m.servers().is_empty()), "the server did not exit");
    // Unmounting again, or something that is not a Tern mount, is refused.
    let again = Command::new(tern_bin()).arg("umount").arg(&m.dir).output().unwrap();
    assert_eq!(again.status.code(), Some(19));
    let root = Command::new(tern_bin()).args(["umount", "/proc"]).output().unwrap();
    assert_eq!(root.status.code(), Some(19));
    assert!(String::from_utf8_lossy(&root.stderr).contains("not a Tern mount"));
    // A missing mount point fails before anything starts.
    let missing = Command::new(tern_bin()).args(["mount", "--memfs", "8"]).arg(m.work.join("nope")).output().unwrap();
    assert_eq!(missing.status.code(), Some(9));
}

#[test]
fn foreground_mount_ends_on_sigterm() {
    if skip("foreground_mount_ends_on_sigterm") {
        return;
    }
    let work = temp_dir("fuse-fg");
    let dir = work.join("mnt");
    fs::create_dir(&dir).unwrap();
    let mut cmd = Command::new(tern_bin());
    cmd.args(["mount", "--memfs", "8", "--foreground"]).arg(&dir);
    let child = ChildGuard::spawn("tern mount --foreground", &mut cmd);
    assert!(wait_until(Duration::from_secs(20), || is_tern_mount(&dir).unwrap_or(false)), "not mounted");
    fs::write(dir.join("f"), b"x").unwrap();
    child.signal("TERM");
    let out = child.wait(Duration::from_secs(10));
    assert!(out.status.success(), "{out:?}");
    assert!(!is_tern_mount(&dir).unwrap());
    let _ = fs::remove_dir_all(&work);
}

#[test]
fn host_directory_through_the_command() {
    if skip("host_directory_through_the_command") {
        return;
    }
    let work = temp_dir("fuse-dir");
    let export = work.join("export");
    fs::create_dir(&export).unwrap();
    fs::write(export.join("from-host"), b"host data").unwrap();
    let state = work.join("state");
    let m = TernMount::new(
        "fuse-dir-mnt",
        &["--dir", &export.display().to_string(), "--state-dir", &state.display().to_string()],
    );
    assert_eq!(fs::read(m.path("from-host")).unwrap(), b"host data");
    fs::write(m.path("from-mount"), b"mount data").unwrap();
    assert_eq!(fs::read(export.join("from-mount")).unwrap(), b"mount data", "on the host's disk after close");
    drop(m);
    let _ = fs::remove_dir_all(&work);
}

#[test]
fn hostfs_through_fusefs_in_process() {
    if skip("hostfs_through_fusefs_in_process") {
        return;
    }
    let work = temp_dir("fuse-hostfs");
    let (export, state, dir) = (work.join("export"), work.join("state"), work.join("mnt"));
    for d in [&export, &dir] {
        fs::create_dir(d).unwrap();
    }
    let fs = HostFs::open(&export, &state).unwrap();
    let opts = MountOptions { fsname: "hostfs-test".into(), ..MountOptions::default() };
    let fuse = FuseFs::new(fs, FuseConfig::default());
    let nodes = fuse.nodes_gauge();
    let mut mounted = mount_background(fuse, &dir, &opts).unwrap();
    let core = workspace().join("core");
    sh(&format!("tar -C {} -cf - src | tar -C {} -xf -", core.display(), dir.display()));
    // Every extracted file and directory is a node the kernel holds...
    let count = sh(&format!("find {} | wc -l", dir.display())).trim().parse::<usize>().unwrap();
    assert!(nodes.load(Ordering::Relaxed) >= count, "{} nodes for {count} objects", nodes.load(Ordering::Relaxed));
    // ...until the kernel drops its dentry and inode caches: then it forgets them.
    match fs::write("/proc/sys/vm/drop_caches", "2") {
        Ok(()) => assert!(
            wait_until(Duration::from_secs(10), || nodes.load(Ordering::Relaxed) < count / 4),
            "the kernel's forgets left {} of {count} nodes",
            nodes.load(Ordering::Relaxed)
        ),
        Err(e) => eprintln!("forget check skipped: cannot drop the kernel's caches: {e}"),
    }
    sh(&format!("diff -r {} {}", core.join("src").display(), export.join("src").display()));
    sh(&format!("diff -r {} {}", core.join("src").display(), dir.join("src").display()));
    // Changes on the host show through the mount (new names at once, listings fresh).
    fs::write(export.join("src/new-on-host"), b"fresh").unwrap();
    assert_eq!(fs::read(dir.join("src/new-on-host")).unwrap(), b"fresh");
    let src = work.join("rand");
    random_file(&src, 8 << 20, 7);
    fs::copy(&src, dir.join("rand")).unwrap();
    assert!(same_file(&src, &export.join("rand")));
    sh(&format!("cd {} && mv rand src/moved && ln -s src/moved link && rm -r src", dir.display()));
    assert!(!export.join("src").exists());
    assert_eq!(fs::read_link(export.join("link")).unwrap(), Path::new("src/moved"));
    mounted.unmount().unwrap();
    assert!(!is_tern_mount(&dir).unwrap());
    let _ = fs::remove_dir_all(&work);
}

#[test]
fn cargo_and_git_work_in_the_mount() {
    if skip("cargo_and_git_work_in_the_mount") {
        return;
    }
    let m = TernMount::memfs("fuse-cargo", 256);
    let cargo = env!("CARGO");
    // cargo: many small files, renames, hard links (uplifting), running a binary from the mount.
    let out = sh(&format!(
        "cd {d} && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET {cargo} new -q --offline --vcs none hello \
         && cd hello && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET {cargo} build -q --offline && ./target/debug/hello",
        d = m.dir.display()
    ));
    assert_eq!(out.trim(), "Hello, world!");
    // git: lock files renamed into place, mmap'd pack and index files.
    sh(&format!(
        "cp -r {src} {d}/repo && cd {d}/repo && git init -q && git add -A \
         && git -c user.name=t -c user.email=t@t commit -qm tree && git fsck --strict --no-progress \
         && test -z \"$(git status --porcelain)\"",
        src = workspace().join("core/src").display(),
        d = m.dir.display()
    ));
}
