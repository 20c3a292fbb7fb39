//! Tests against real directories under `std::env::temp_dir()` (run as root: `open_by_handle_at`
//! needs CAP_DAC_READ_SEARCH).

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tern_core::fs::{
    Attr, CreateHow, Ctx, FileSystem, FileType, FsError, Handle, MAX_HANDLE, NodeKind, SetAttr, SetTime, Stability,
    Time,
};

use super::dir::{COOKIE_VERIFIER, Dirents};
use super::errno::{component, fs_error, new_component};
use super::ops::verifier_times;
use super::{HandleSecret, HostFs, HostFsError};

/// A directory under the temp dir, removed on drop.
pub(super) struct Tmp(PathBuf);

impl Tmp {
    pub(super) fn new(tag: &str) -> Tmp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("tern-hostfs-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }

    pub(super) fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A temp dir with `export/` served by a HostFs whose secret lives in `state/`.
pub(super) struct Setup {
    pub(super) tmp: Tmp,
    pub(super) fs: HostFs,
}

impl Setup {
    pub(super) fn new(tag: &str) -> Setup {
        // Tests run in parallel in one process, each export with its own open-file cache.
        crate::sys::raise_nofile_limit().unwrap();
        let tmp = Tmp::new(tag);
        fs::create_dir(tmp.path("export")).unwrap();
        let fs = HostFs::open(&tmp.path("export"), &tmp.path("state")).unwrap();
        Setup { tmp, fs }
    }

    /// A path inside the export.
    pub(super) fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path("export").join(rel)
    }

    /// A new HostFs over the same directory and secret file (a restarted server).
    pub(super) fn restart(&self) -> HostFs {
        HostFs::open(&self.tmp.path("export"), &self.tmp.path("state")).unwrap()
    }

    fn secret(&self) -> HandleSecret {
        HandleSecret::load_or_create(&self.tmp.path("state")).unwrap()
    }

    pub(super) fn root(&self) -> Handle {
        self.fs.root()
    }

    /// Looks up a slash-separated relative path one component at a time.
    pub(super) fn walk(&mut self, rel: &str) -> Result<Handle, FsError> {
        let mut h = self.root();
        for c in rel.split('/') {
            h = self.fs.lookup(&h, c.as_bytes())?;
        }
        Ok(h)
    }
}

pub(super) fn ctx() -> Ctx {
    Ctx { now: Time { secs: 1_700_000_000, nsecs: 123 }, uid: 1234, gid: 5678 }
}

pub(super) fn unchecked(mode: u32) -> CreateHow {
    CreateHow::Unchecked(SetAttr { mode: Some(mode), ..SetAttr::default() })
}

fn guarded(mode: u32) -> CreateHow {
    CreateHow::Guarded(SetAttr { mode: Some(mode), ..SetAttr::default() })
}

fn mode(mode: u32) -> SetAttr {
    SetAttr { mode: Some(mode), ..SetAttr::default() }
}

/// Lists a directory in pages of at most `budget` entries, calling `between` after each page;
/// returns (name, fileid) in order.
fn list_paged(fs: &mut HostFs, dir: &Handle, budget: usize, mut between: impl FnMut(usize)) -> Vec<(Vec<u8>, u64)> {
    let (mut all, mut cookie, mut verf) = (Vec::new(), 0u64, [0u8; 8]);
    for page in 0.. {
        let mut taken = 0;
        let end = fs
            .readdir(dir, cookie, verf, &mut |e| {
                if taken == budget {
                    return false;
                }
                assert_ne!(e.cookie, 0);
                taken += 1;
                all.push((e.name.to_vec(), e.fileid));
                cookie = e.cookie;
                true
            })
            .unwrap();
        verf = end.verifier;
        if end.eof {
            break;
        }
        assert!(taken > 0, "no progress");
        between(page);
    }
    all
}

fn list(fs: &mut HostFs, dir: &Handle) -> Vec<Vec<u8>> {
    list_paged(fs, dir, usize::MAX, |_| {}).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn errno_table() {
    let table = [
        (libc::EPERM, FsError::Perm),
        (libc::ENOENT, FsError::NoEnt),
        (libc::EIO, FsError::Io),
        (libc::ENXIO, FsError::Io),
        (libc::EACCES, FsError::Access),
        (libc::EBUSY, FsError::Access),
        (libc::ETXTBSY, FsError::Access),
        (libc::EEXIST, FsError::Exist),
        (libc::EXDEV, FsError::XDev),
        (libc::ENOTDIR, FsError::NotDir),
        (libc::EISDIR, FsError::IsDir),
        (libc::EINVAL, FsError::Inval),
        (libc::ELOOP, FsError::Inval),
        (libc::ESPIPE, FsError::Inval),
        (libc::EILSEQ, FsError::Inval),
        (libc::EFBIG, FsError::FBig),
        (libc::EOVERFLOW, FsError::FBig),
        (libc::ENOSPC, FsError::NoSpace),
        (libc::EROFS, FsError::ReadOnly),
        (libc::EMLINK, FsError::MLink),
        (libc::ENAMETOOLONG, FsError::NameTooLong),
        (libc::ENOTEMPTY, FsError::NotEmpty),
        (libc::EDQUOT, FsError::DQuot),
        (libc::ESTALE, FsError::Stale),
        (libc::EOPNOTSUPP, FsError::NotSupp),
        (libc::ENOTSUP, FsError::NotSupp),
        (libc::ENOSYS, FsError::NotSupp),
        (libc::ENODEV, FsError::NotSupp),
        (libc::ENOMEM, FsError::ServerFault),
        (libc::EAGAIN, FsError::ServerFault),
        (libc::EMFILE, FsError::ServerFault),
        (libc::ENFILE, FsError::ServerFault),
        (libc::EINTR, FsError::ServerFault),
        (libc::ETIMEDOUT, FsError::ServerFault),
        (libc::EBADF, FsError::ServerFault),
        (libc::EFAULT, FsError::ServerFault),
        (libc::ECONNRESET, FsError::Io),
        (0, FsError::Io),
    ];
    for (errno, want) in table {
        assert_eq!(fs_error(errno), want, "errno {errno}");
    }
}

#[test]
fn name_checks() {
    assert_eq!(component(b""), Err(FsError::Inval));
    assert_eq!(component(b"a/b"), Err(FsError::Inval));
    assert_eq!(component(b"/"), Err(FsError::Inval));
    assert_eq!(component(b"a\0b"), Err(FsError::Inval));
    assert!(component(b"..").is_ok() && component(b".").is_ok() && component(b"...").is_ok());
    assert_eq!(new_component(b".."), Err(FsError::Inval));
    assert_eq!(new_component(b"."), Err(FsError::Inval));
    assert!(new_component(b"..x").is_ok());
}

#[test]
fn secret_file_is_private_and_reused() {
    let tmp = Tmp::new("secret");
    let state = tmp.path("state/nested");
    let a = HandleSecret::load_or_create(&state).unwrap();
    let file = state.join(HandleSecret::FILE_NAME);
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    assert_eq!(fs::metadata(&state).unwrap().mode() & 0o777, 0o700);
    let content = fs::read(&file).unwrap();
    let b = HandleSecret::load_or_create(&state).unwrap();
    assert_eq!(fs::read(&file).unwrap(), content, "reused, not rewritten");
    let (fa, fb) = (HostFs::new(&tmp.0, &a).unwrap(), HostFs::new(&tmp.0, &b).unwrap());
    assert_eq!(fa.root(), fb.root(), "same secret, same handles");
    assert_eq!(format!("{a:?}"), "HandleSecret(..)");
    // No temporary files left behind.
    assert_eq!(fs::read_dir(&state).unwrap().count(), 1);

    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(HandleSecret::load_or_create(&state).is_err());
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(&file, b"short").unwrap();
    assert!(HandleSecret::load_or_create(&state).is_err());
    fs::remove_file(&file).unwrap();
    symlink("/etc/passwd", &file).unwrap();
    assert!(HandleSecret::load_or_create(&state).is_err());
}

#[test]
fn construction_errors_are_clear() {
    let tmp = Tmp::new("ctor");
    let secret = HandleSecret::from_bytes([7; 32]);
    match HostFs::new(&tmp.path("missing"), &secret) {
        Err(e @ HostFsError::Open { .. }) => assert!(e.to_string().contains("missing")),
        other => panic!("{other:?}"),
    }
    fs::write(tmp.path("file"), b"").unwrap();
    assert!(matches!(HostFs::new(&tmp.path("file"), &secret), Err(HostFsError::Open { .. })));
    // /proc has no file handles.
    assert!(matches!(HostFs::new(Path::new("/proc/self"), &secret), Err(HostFsError::NoHandles(_))));
}

#[test]
fn root_info_and_fsstat() {
    let mut s = Setup::new("root");
    let root = s.root();
    assert_eq!(root.as_bytes().len(), 26, "ext4: 1 + 1 + 8 + 16");
    assert!(root.as_bytes().len() <= MAX_HANDLE);
    let a = s.fs.getattr(&root).unwrap();
    assert_eq!(a.ftype, FileType::Directory);
    assert_eq!(a.fileid, fs::metadata(s.p("")).unwrap().ino());
    let info = s.fs.info();
    assert_eq!(info.max_name, 255);
    assert!(info.max_links >= 1000 && info.links && info.symlinks && info.special_files);
    assert!(info.max_file_size >= 1 << 40);
    let st = s.fs.fsstat(&root).unwrap();
    assert!(st.total_bytes > 0 && st.free_bytes <= st.total_bytes && st.avail_bytes <= st.free_bytes);
    assert!(st.total_files > 0 && st.free_files <= st.total_files);
    assert_eq!(s.fs.fsstat(&Handle::new(&[1, 2, 3]).unwrap()), Err(FsError::BadHandle));
}

#[test]
fn lookup_names_dot_and_dotdot() {
    let mut s = Setup::new("lookup");
    fs::create_dir_all(s.p("a/b")).unwrap();
    fs::write(s.p("a/f"), b"x").unwrap();
    let root = s.root();
    assert_eq!(s.fs.lookup(&root, b".."), Ok(root));
    assert_eq!(s.fs.lookup(&root, b"."), Ok(root));
    let a = s.fs.lookup(&root, b"a").unwrap();
    let b = s.fs.lookup(&a, b"b").unwrap();
    assert_eq!(s.fs.lookup(&b, b".."), Ok(a));
    assert_eq!(s.fs.lookup(&a, b".."), Ok(root));
    assert_eq!(s.fs.lookup(&b, b"."), Ok(b));
    // The same object always has the same handle.
    assert_eq!(s.walk("a/b"), Ok(b));
    // Climbing past the root stays at the root.
    let mut h = b;
    for _ in 0..5 {
        h = s.fs.lookup(&h, b"..").unwrap();
    }
    assert_eq!(h, root);

    assert_eq!(s.fs.lookup(&a, b"missing"), Err(FsError::NoEnt));
    assert_eq!(s.fs.lookup(&root, b"a/b"), Err(FsError::Inval));
    assert_eq!(s.fs.lookup(&root, b"../.."), Err(FsError::Inval));
    assert_eq!(s.fs.lookup(&root, b"a\0"), Err(FsError::Inval));
    assert_eq!(s.fs.lookup(&root, b""), Err(FsError::Inval));
    assert_eq!(s.fs.lookup(&root, &[b'n'; 256]), Err(FsError::NameTooLong));
    let f = s.fs.lookup(&a, b"f").unwrap();
    assert_eq!(s.fs.lookup(&f, b"x"), Err(FsError::NotDir));
    assert_eq!(s.fs.lookup(&f, b".."), Err(FsError::NotDir));
}

#[test]
fn handles_survive_restart() {
    let mut s = Setup::new("restart");
    let root = s.root();
    let d = s.fs.mkdir(&ctx(), &root, b"d", &mode(0o755)).unwrap();
    let f = s.fs.create(&ctx(), &d, b"f", &unchecked(0o644)).unwrap();
    s.fs.write(&ctx(), &f, 0, b"persist", Stability::FileSync).unwrap();
    let verf = s.fs.write_verifier();

    let mut again = s.restart();
    assert_eq!(again.root(), root);
    assert_ne!(again.write_verifier(), verf, "a new verifier per start");
    let mut buf = [0u8; 16];
    assert_eq!(again.read(&f, 0, &mut buf), Ok((7, true)));
    assert_eq!(&buf[..7], b"persist");
    assert_eq!(again.lookup(&d, b"f"), Ok(f));
    assert_eq!(again.lookup(&d, b".."), Ok(root));
    assert_eq!(again.getattr(&d).unwrap().ftype, FileType::Directory);
}

#[test]
fn altered_handles_are_refused() {
    let mut s = Setup::new("flip");
    fs::write(s.p("f"), b"x").unwrap();
    let f = s.walk("f").unwrap();
    let bytes = f.as_bytes().to_vec();
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let h = Handle::new(&b).unwrap();
        let want = if bit < 8 { FsError::BadHandle } else { FsError::Stale };
        assert_eq!(s.fs.getattr(&h), Err(want), "bit {bit}");
        assert_eq!(s.fs.lookup(&h, b"x"), Err(want), "bit {bit}");
    }
    // Truncated, extended, empty.
    let variants = [bytes[..bytes.len() - 1].to_vec(), [bytes.as_slice(), &[0]].concat(), bytes[..17].to_vec()];
    for b in variants {
        let h = Handle::new(&b).unwrap();
        assert!(matches!(s.fs.getattr(&h), Err(FsError::Stale | FsError::BadHandle)), "{h:?}");
    }
    assert_eq!(s.fs.getattr(&Handle::new(&[]).unwrap()), Err(FsError::BadHandle));
    assert_eq!(s.fs.getattr(&Handle::new(&[0xff; MAX_HANDLE]).unwrap()), Err(FsError::BadHandle));
    // Another secret over the same directory issues different handles and refuses these.
    let mut other = HostFs::new(&s.p(""), &HandleSecret::from_bytes([9; 32])).unwrap();
    assert_ne!(other.root(), s.root());
    assert_eq!(other.getattr(&f), Err(FsError::Stale));
    assert_eq!(other.getattr(&s.root()), Err(FsError::Stale));
}

#[test]
fn handles_of_another_export_are_refused() {
    let mut s = Setup::new("xexport");
    fs::create_dir_all(s.p("sub/inner")).unwrap();
    fs::write(s.p("sub/inner/f"), b"x").unwrap();
    fs::write(s.p("outside"), b"secret").unwrap();
    let secret = s.secret();
    // A second export: a subdirectory of the first, with the same secret.
    let mut sub = HostFs::new(&s.p("sub"), &secret).unwrap();
    let f_a = s.walk("sub/inner/f").unwrap();
    let outside = s.walk("outside").unwrap();
    let sub_a = s.walk("sub").unwrap();
    assert_ne!(sub.root(), sub_a, "export id is part of the MAC");
    assert_eq!(sub.getattr(&f_a), Err(FsError::Stale));
    assert_eq!(sub.getattr(&outside), Err(FsError::Stale));
    assert_eq!(sub.read(&outside, 0, &mut [0; 8]), Err(FsError::Stale));
    assert_eq!(sub.lookup(&sub_a, b".."), Err(FsError::Stale));
    // And the other way round.
    let inner = sub.lookup(&sub.root(), b"inner").unwrap();
    assert_eq!(s.fs.getattr(&inner), Err(FsError::Stale));
    // A sibling export on another directory.
    let other_dir = s.tmp.path("other");
    fs::create_dir(&other_dir).unwrap();
    let mut other = HostFs::new(&other_dir, &secret).unwrap();
    assert_eq!(other.getattr(&f_a), Err(FsError::Stale));
    assert_eq!(other.getattr(&s.root()), Err(FsError::Stale));
    // `..` at the sub-export's root stays there.
    let root = sub.root();
    assert_eq!(sub.lookup(&root, b".."), Ok(root));
}

#[test]
fn symlinks_are_never_followed() {
    let mut s = Setup::new("symlink");
    symlink("/", s.p("escape")).unwrap();
    let root = s.root();
    let esc = s.fs.lookup(&root, b"escape").unwrap();
    let a = s.fs.getattr(&esc).unwrap();
    assert_eq!(a.ftype, FileType::Symlink);
    assert_eq!(a.size, 1);
    let mut buf = [0u8; 64];
    let n = s.fs.readlink(&esc, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"/");
    // Using it as a directory fails.
    assert_eq!(s.fs.lookup(&esc, b"etc"), Err(FsError::NotDir));
    assert_eq!(s.fs.lookup(&esc, b".."), Err(FsError::NotDir));
    assert_eq!(s.fs.readdir(&esc, 0, COOKIE_VERIFIER, &mut |_| true), Err(FsError::NotDir));
    assert_eq!(s.fs.create(&ctx(), &esc, b"x", &unchecked(0o644)), Err(FsError::NotDir));
    assert_eq!(s.fs.mkdir(&ctx(), &esc, b"x", &mode(0o755)), Err(FsError::NotDir));
    assert_eq!(s.fs.remove(&ctx(), &esc, b"etc"), Err(FsError::NotDir));
    assert_eq!(s.fs.read(&esc, 0, &mut buf), Err(FsError::Inval));
    assert_eq!(s.fs.write(&ctx(), &esc, 0, b"x", Stability::Unstable), Err(FsError::Inval));
    // A symlink made over NFS to a path outside is just as inert.
    let up = s.fs.symlink(&ctx(), &root, b"up", b"../../..", &SetAttr::default()).unwrap();
    assert_eq!(s.fs.lookup(&up, b"etc"), Err(FsError::NotDir));
    // Exclusive or unchecked create over a symlink does not follow it.
    assert_eq!(s.fs.create(&ctx(), &root, b"escape", &unchecked(0o644)), Err(FsError::Exist));
    assert_eq!(s.fs.create(&ctx(), &root, b"escape", &CreateHow::Exclusive([0; 8])), Err(FsError::Exist));
}

#[test]
fn dotdot_of_a_directory_moved_out_is_refused() {
    let mut s = Setup::new("moved");
    fs::create_dir_all(s.p("a/b")).unwrap();
    let b = s.walk("a/b").unwrap();
    fs::rename(s.p("a"), s.tmp.path("moved-out")).unwrap();
    // The object itself stays reachable through its handle (like knfsd's no_subtree_check)…
    assert_eq!(s.fs.getattr(&b).unwrap().ftype, FileType::Directory);
    // …but its ancestors outside the export are not.
    assert_eq!(s.fs.lookup(&b, b".."), Err(FsError::Stale));
}

#[test]
fn mount_points_are_not_crossed() {
    let mut s = Setup::new("mount");
    fs::create_dir(s.p("mnt")).unwrap();
    let target = s.p("mnt");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tern-test", target.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !ok {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Umount(target);
    let root = s.root();
    assert_eq!(s.fs.lookup(&root, b"mnt"), Err(FsError::Access));
}

#[test]
fn getattr_and_setattr() {
    let mut s = Setup::new("setattr");
    fs::write(s.p("f"), b"hello world").unwrap();
    fs::create_dir(s.p("d")).unwrap();
    symlink("f", s.p("l")).unwrap();
    let f = s.walk("f").unwrap();
    let meta = fs::metadata(s.p("f")).unwrap();
    let a = s.fs.getattr(&f).unwrap();
    assert_eq!((a.ftype, a.size, a.nlink, a.fileid, a.fsid), (FileType::Regular, 11, 1, meta.ino(), meta.dev()));
    assert_eq!(a.mode, meta.mode() & 0o7777);

    let set = SetAttr {
        mode: Some(0o4751),
        uid: Some(42),
        gid: Some(43),
        size: Some(5),
        atime: SetTime::Client(Time { secs: 1000, nsecs: 7 }),
        mtime: SetTime::ServerTime,
    };
    let a = s.fs.setattr(&ctx(), &f, &set).unwrap();
    assert_eq!((a.mode, a.uid, a.gid, a.size), (0o4751, 42, 43, 5));
    assert_eq!(a.atime, Time { secs: 1000, nsecs: 7 });
    assert_eq!(a.mtime, ctx().now);
    assert_eq!(fs::read(s.p("f")).unwrap(), b"hello");
    // Extending fills with zeros; only the given fields change.
    let a = s.fs.setattr(&ctx(), &f, &SetAttr { size: Some(8), ..SetAttr::default() }).unwrap();
    assert_eq!((a.size, a.uid, a.mode & 0o777), (8, 42, 0o751));
    assert_eq!(fs::read(s.p("f")).unwrap(), b"hello\0\0\0");
    let again = s.fs.getattr(&f).unwrap();
    assert_eq!(Attr { atime: a.atime, ..again }, a, "fs::read above changed only the atime");

    let d = s.walk("d").unwrap();
    assert_eq!(s.fs.setattr(&ctx(), &d, &SetAttr { size: Some(0), ..SetAttr::default() }), Err(FsError::IsDir));
    assert_eq!(s.fs.setattr(&ctx(), &d, &mode(0o700)).unwrap().mode, 0o700);
    let l = s.walk("l").unwrap();
    assert_eq!(s.fs.setattr(&ctx(), &l, &mode(0o700)), Err(FsError::NotSupp));
    assert_eq!(s.fs.setattr(&ctx(), &l, &SetAttr { size: Some(0), ..SetAttr::default() }), Err(FsError::Inval));
    // Owner and times of a symlink change the link itself.
    let la = s.fs.setattr(&ctx(), &l, &SetAttr { uid: Some(77), ..SetAttr::default() }).unwrap();
    assert_eq!((la.uid, la.ftype), (77, FileType::Symlink));
    assert_eq!(fs::metadata(s.p("f")).unwrap().uid(), 42);
    let bad_time = SetAttr { mtime: SetTime::Client(Time { secs: 1, nsecs: 2_000_000_000 }), ..SetAttr::default() };
    assert_eq!(s.fs.setattr(&ctx(), &f, &bad_time), Err(FsError::Inval));
    assert_eq!(s.fs.setattr(&ctx(), &f, &SetAttr { size: Some(u64::MAX), ..SetAttr::default() }), Err(FsError::FBig));
}

#[test]
fn read_write_commit() {
    let mut s = Setup::new("rw");
    let root = s.root();
    let f = s.fs.create(&ctx(), &root, b"f", &unchecked(0o644)).unwrap();
    assert_eq!(s.fs.write(&ctx(), &f, 0, b"abc", Stability::Unstable), Ok((3, Stability::Unstable)));
    assert_eq!(s.fs.write(&ctx(), &f, 3, b"def", Stability::DataSync), Ok((3, Stability::DataSync)));
    assert_eq!(s.fs.write(&ctx(), &f, 6, b"ghi", Stability::FileSync), Ok((3, Stability::FileSync)));
    assert_eq!(s.fs.commit(&f, 0, 0), Ok(()));
    let mut buf = [0u8; 4];
    assert_eq!(s.fs.read(&f, 0, &mut buf), Ok((4, false)));
    assert_eq!(&buf, b"abcd");
    assert_eq!(s.fs.read(&f, 5, &mut buf), Ok((4, true)), "ends exactly at EOF");
    assert_eq!(s.fs.read(&f, 7, &mut buf), Ok((2, true)));
    assert_eq!(&buf[..2], b"hi");
    assert_eq!(s.fs.read(&f, 100, &mut buf), Ok((0, true)));
    assert_eq!(s.fs.read(&f, u64::MAX, &mut buf), Ok((0, true)));
    assert_eq!(s.fs.read(&f, 0, &mut []), Ok((0, false)));
    assert_eq!(s.fs.write(&ctx(), &f, 0, b"", Stability::Unstable), Ok((0, Stability::Unstable)));
    assert_eq!(s.fs.write(&ctx(), &f, u64::MAX, b"x", Stability::Unstable), Err(FsError::FBig));
    assert_eq!(s.fs.write(&ctx(), &f, i64::MAX as u64, b"x", Stability::Unstable), Err(FsError::FBig));
    assert_eq!(fs::read(s.p("f")).unwrap(), b"abcdefghi");

    let d = s.fs.mkdir(&ctx(), &root, b"d", &mode(0o755)).unwrap();
    assert_eq!(s.fs.read(&d, 0, &mut buf), Err(FsError::IsDir));
    assert_eq!(s.fs.write(&ctx(), &d, 0, b"x", Stability::Unstable), Err(FsError::IsDir));
    assert_eq!(s.fs.commit(&d, 0, 0), Err(FsError::IsDir));
    // A FIFO is never opened (that would block).
    let p = s.fs.mknod(&ctx(), &root, b"p", NodeKind::Fifo, &mode(0o644)).unwrap();
    assert_eq!(s.fs.read(&p, 0, &mut buf), Err(FsError::Inval));
    assert_eq!(s.fs.write(&ctx(), &p, 0, b"x", Stability::Unstable), Err(FsError::Inval));
}

#[test]
fn sparse_write_at_5_gib() {
    let mut s = Setup::new("sparse");
    let root = s.root();
    let f = s.fs.create(&ctx(), &root, b"sparse", &unchecked(0o644)).unwrap();
    let off = 5u64 << 30;
    assert_eq!(s.fs.write(&ctx(), &f, off, b"end", Stability::Unstable), Ok((3, Stability::Unstable)));
    let a = s.fs.getattr(&f).unwrap();
    assert_eq!(a.size, off + 3);
    assert!(a.used < 1 << 20, "sparse: {} bytes used", a.used);
    let mut buf = [0xffu8; 4096];
    assert_eq!(s.fs.read(&f, 4 << 30, &mut buf), Ok((4096, false)));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(s.fs.read(&f, off, &mut buf), Ok((3, true)));
    assert_eq!(&buf[..3], b"end");
    assert_eq!(s.fs.read(&f, off - 2, &mut buf[..5]), Ok((5, true)));
    assert_eq!(&buf[..5], b"\0\0end");
}

#[test]
fn create_unchecked_and_guarded() {
    let mut s = Setup::new("create");
    let root = s.root();
    let c = ctx();
    let f = s.fs.create(&c, &root, b"f", &unchecked(0o640)).unwrap();
    let a = s.fs.getattr(&f).unwrap();
    assert_eq!((a.ftype, a.mode, a.uid, a.gid, a.size), (FileType::Regular, 0o640, c.uid, c.gid, 0));
    assert_eq!(s.fs.lookup(&root, b"f"), Ok(f));
    s.fs.write(&c, &f, 0, b"content", Stability::Unstable).unwrap();
    // UNCHECKED over an existing file: same file; only the size applies.
    let trunc = CreateHow::Unchecked(SetAttr { mode: Some(0o600), size: Some(0), ..SetAttr::default() });
    assert_eq!(s.fs.create(&c, &root, b"f", &trunc), Ok(f));
    let a = s.fs.getattr(&f).unwrap();
    assert_eq!((a.size, a.mode), (0, 0o640));
    assert_eq!(s.fs.create(&c, &root, b"f", &unchecked(0o600)), Ok(f));
    assert_eq!(s.fs.create(&c, &root, b"f", &guarded(0o600)), Err(FsError::Exist));
    // Defaults, explicit owner, size and times at creation.
    let set = SetAttr {
        uid: Some(1),
        gid: Some(2),
        size: Some(10),
        mtime: SetTime::Client(Time { secs: 99, nsecs: 0 }),
        ..SetAttr::default()
    };
    let g = s.fs.create(&c, &root, b"g", &CreateHow::Guarded(set)).unwrap();
    let a = s.fs.getattr(&g).unwrap();
    assert_eq!((a.mode, a.uid, a.gid, a.size, a.mtime.secs), (0o644, 1, 2, 10, 99));

    let d = s.fs.mkdir(&c, &root, b"d", &mode(0o755)).unwrap();
    assert_eq!(s.fs.create(&c, &root, b"d", &unchecked(0o644)), Err(FsError::Exist));
    assert_eq!(s.fs.create(&c, &f, b"x", &unchecked(0o644)), Err(FsError::NotDir));
    assert_eq!(s.fs.create(&c, &d, b"..", &unchecked(0o644)), Err(FsError::Inval));
    assert_eq!(s.fs.create(&c, &d, b"a/b", &unchecked(0o644)), Err(FsError::Inval));
    assert_eq!(s.fs.create(&c, &d, &[b'n'; 256], &unchecked(0o644)), Err(FsError::NameTooLong));
    assert!(fs::read_dir(s.p("d")).unwrap().next().is_none());
}

#[test]
fn exclusive_create_is_idempotent() {
    let mut s = Setup::new("excl");
    let root = s.root();
    let verf = [0x81, 2, 3, 4, 0xf5, 6, 7, 8];
    let how = CreateHow::Exclusive(verf);
    let f = s.fs.create(&ctx(), &root, b"x", &how).unwrap();
    let a = s.fs.getattr(&f).unwrap();
    let (at, mt) = verifier_times(&verf);
    assert_eq!((a.atime.secs, a.mtime.secs), (at, mt));
    assert_eq!((a.mode, a.uid, a.ftype), (0o600, ctx().uid, FileType::Regular));
    // A retransmission gets the same file; another verifier gets Exist.
    assert_eq!(s.fs.create(&ctx(), &root, b"x", &how), Ok(f));
    assert_eq!(s.fs.create(&ctx(), &root, b"x", &how), Ok(f));
    assert_eq!(s.fs.create(&ctx(), &root, b"x", &CreateHow::Exclusive([0; 8])), Err(FsError::Exist));
    // Also after a restart.
    assert_eq!(s.restart().create(&ctx(), &root, b"x", &how), Ok(f));
    // Once the client set real times, the verifier no longer matches.
    let set =
        SetAttr { mode: Some(0o644), atime: SetTime::ServerTime, mtime: SetTime::ServerTime, ..SetAttr::default() };
    s.fs.setattr(&ctx(), &f, &set).unwrap();
    assert_eq!(s.fs.create(&ctx(), &root, b"x", &how), Err(FsError::Exist));
    // An existing non-file is never "the same".
    fs::create_dir(s.p("dir")).unwrap();
    assert_eq!(s.fs.create(&ctx(), &root, b"dir", &CreateHow::Exclusive([0; 8])), Err(FsError::Exist));
}

#[test]
fn mkdir_symlink_mknod_readlink() {
    let mut s = Setup::new("mk");
    let root = s.root();
    let c = ctx();
    let d = s.fs.mkdir(&c, &root, b"d", &mode(0o750)).unwrap();
    let a = s.fs.getattr(&d).unwrap();
    assert_eq!((a.ftype, a.mode, a.uid, a.gid), (FileType::Directory, 0o750, c.uid, c.gid));
    assert_eq!(s.fs.mkdir(&c, &root, b"dflt", &SetAttr::default()).and_then(|h| s.fs.getattr(&h)).unwrap().mode, 0o755);
    assert_eq!(s.fs.mkdir(&c, &root, b"d", &mode(0o750)), Err(FsError::Exist));
    assert_eq!(s.fs.mkdir(&c, &root, b".", &mode(0o750)), Err(FsError::Inval));

    let l = s.fs.symlink(&c, &d, b"l", b"../some/where", &mode(0o777)).unwrap();
    let a = s.fs.getattr(&l).unwrap();
    assert_eq!((a.ftype, a.size, a.uid), (FileType::Symlink, 13, c.uid));
    let mut buf = [0u8; 13];
    assert_eq!(s.fs.readlink(&l, &mut buf), Ok(13));
    assert_eq!(&buf, b"../some/where");
    assert_eq!(s.fs.readlink(&l, &mut [0u8; 12]), Err(FsError::ServerFault));
    assert_eq!(s.fs.readlink(&d, &mut buf), Err(FsError::Inval));
    assert_eq!(fs::read_link(s.p("d/l")).unwrap(), Path::new("../some/where"));
    assert_eq!(s.fs.symlink(&c, &d, b"e", b"", &SetAttr::default()), Err(FsError::Inval));
    assert_eq!(s.fs.symlink(&c, &d, b"e", b"a\0b", &SetAttr::default()), Err(FsError::Inval));
    assert_eq!(s.fs.symlink(&c, &d, b"l", b"x", &SetAttr::default()), Err(FsError::Exist));

    let kinds = [
        (b"fifo".as_slice(), NodeKind::Fifo, FileType::Fifo, (0, 0)),
        (b"sock", NodeKind::Socket, FileType::Socket, (0, 0)),
        (b"chr", NodeKind::Char(1, 3), FileType::Char, (1, 3)),
        (b"blk", NodeKind::Block(7, 1000), FileType::Block, (7, 1000)),
    ];
    for (name, kind, ftype, rdev) in kinds {
        let h = s.fs.mknod(&c, &d, name, kind, &mode(0o640)).unwrap();
        let a = s.fs.getattr(&h).unwrap();
        assert_eq!((a.ftype, a.rdev, a.mode, a.uid, a.gid), (ftype, rdev, 0o640, c.uid, c.gid));
        assert_eq!(s.fs.lookup(&d, name), Ok(h));
    }
    assert_eq!(s.fs.mknod(&c, &d, b"fifo", NodeKind::Fifo, &mode(0o640)), Err(FsError::Exist));
}

#[test]
fn setgid_directories_pass_on_their_group() {
    let mut s = Setup::new("sgid");
    fs::create_dir(s.p("g")).unwrap();
    std::os::unix::fs::chown(s.p("g"), Some(0), Some(4242)).unwrap();
    fs::set_permissions(s.p("g"), fs::Permissions::from_mode(0o2775)).unwrap();
    let g = s.walk("g").unwrap();
    let f = s.fs.create(&ctx(), &g, b"f", &unchecked(0o644)).unwrap();
    assert_eq!(s.fs.getattr(&f).unwrap().gid, 4242);
    let d = s.fs.mkdir(&ctx(), &g, b"d", &mode(0o755)).unwrap();
    let a = s.fs.getattr(&d).unwrap();
    assert_eq!((a.gid, a.mode), (4242, 0o2755));
}

#[test]
fn remove_and_rmdir() {
    let mut s = Setup::new("remove");
    fs::create_dir_all(s.p("d/full")).unwrap();
    fs::write(s.p("d/full/x"), b"").unwrap();
    fs::create_dir(s.p("d/empty")).unwrap();
    fs::write(s.p("d/f"), b"data").unwrap();
    let c = ctx();
    let d = s.walk("d").unwrap();
    let f = s.walk("d/f").unwrap();
    assert_eq!(s.fs.remove(&c, &d, b"empty"), Err(FsError::IsDir));
    assert_eq!(s.fs.rmdir(&c, &d, b"f"), Err(FsError::NotDir));
    assert_eq!(s.fs.rmdir(&c, &d, b"full"), Err(FsError::NotEmpty));
    assert_eq!(s.fs.remove(&c, &d, b"f"), Ok(()));
    assert_eq!(s.fs.remove(&c, &d, b"f"), Err(FsError::NoEnt));
    assert_eq!(s.fs.lookup(&d, b"f"), Err(FsError::NoEnt));
    // The handle of a deleted object is stale.
    assert_eq!(s.fs.getattr(&f), Err(FsError::Stale));
    assert_eq!(s.fs.read(&f, 0, &mut [0; 4]), Err(FsError::Stale));
    let empty = s.walk("d/empty").unwrap();
    assert_eq!(s.fs.rmdir(&c, &d, b"empty"), Ok(()));
    assert_eq!(s.fs.getattr(&empty), Err(FsError::Stale));
    assert_eq!(s.fs.rmdir(&c, &d, b"."), Err(FsError::Inval));
    assert_eq!(s.fs.rmdir(&c, &d, b".."), Err(FsError::Inval));
    assert_eq!(s.fs.remove(&c, &d, b"full/x"), Err(FsError::Inval));
    assert_eq!(s.fs.rmdir(&c, &empty, b"x"), Err(FsError::Stale));
    assert!(s.p("d/full/x").exists());
    assert_eq!(list(&mut s.fs, &d), [b".".to_vec(), b"..".to_vec(), b"full".to_vec()]);
}

#[test]
fn rename_across_directories() {
    let mut s = Setup::new("rename");
    fs::create_dir_all(s.p("a/sub")).unwrap();
    fs::create_dir_all(s.p("b/full")).unwrap();
    fs::write(s.p("b/full/x"), b"").unwrap();
    fs::write(s.p("a/f"), b"moved").unwrap();
    fs::write(s.p("b/old"), b"replaced").unwrap();
    let c = ctx();
    let (a, b) = (s.walk("a").unwrap(), s.walk("b").unwrap());
    let f = s.walk("a/f").unwrap();
    assert_eq!(s.fs.rename(&c, &a, b"f", &b, b"g"), Ok(()));
    assert_eq!(s.fs.lookup(&a, b"f"), Err(FsError::NoEnt));
    assert_eq!(s.fs.lookup(&b, b"g"), Ok(f), "same object, same handle");
    let mut buf = [0u8; 8];
    assert_eq!(s.fs.read(&f, 0, &mut buf), Ok((5, true)));
    // Replaces a file.
    assert_eq!(s.fs.rename(&c, &b, b"g", &b, b"old"), Ok(()));
    assert_eq!(fs::read(s.p("b/old")).unwrap(), b"moved");
    // Errors.
    assert_eq!(s.fs.rename(&c, &a, b"missing", &b, b"x"), Err(FsError::NoEnt));
    assert_eq!(s.fs.rename(&c, &a, b"sub", &b, b"full"), Err(FsError::NotEmpty));
    assert_eq!(s.fs.rename(&c, &b, b"old", &a, b"sub"), Err(FsError::IsDir));
    assert_eq!(s.fs.rename(&c, &a, b"sub", &b, b"old"), Err(FsError::NotDir));
    let (sub, root) = (s.walk("a/sub").unwrap(), s.root());
    assert_eq!(s.fs.rename(&c, &root, b"a", &sub, b"a"), Err(FsError::Inval), "into itself");
    assert_eq!(s.fs.rename(&c, &a, b"..", &b, b"x"), Err(FsError::Inval));
    assert_eq!(s.fs.rename(&c, &a, b"sub", &b, b"x/y"), Err(FsError::Inval));
    assert_eq!(s.fs.rename(&c, &a, b"sub", &f, b"x"), Err(FsError::NotDir));
    // A directory moves with its handle.
    assert_eq!(s.fs.rename(&c, &a, b"sub", &b, b"sub2"), Ok(()));
    assert_eq!(s.fs.lookup(&b, b"sub2"), Ok(sub));
    assert_eq!(s.fs.lookup(&sub, b".."), Ok(b));
}

#[test]
fn hard_links() {
    let mut s = Setup::new("link");
    fs::create_dir_all(s.p("a")).unwrap();
    fs::create_dir_all(s.p("b")).unwrap();
    fs::write(s.p("a/f"), b"shared").unwrap();
    let c = ctx();
    let (a, b) = (s.walk("a").unwrap(), s.walk("b").unwrap());
    let f = s.walk("a/f").unwrap();
    assert_eq!(s.fs.link(&c, &f, &b, b"g"), Ok(()));
    assert_eq!(s.fs.lookup(&b, b"g"), Ok(f));
    assert_eq!(s.fs.getattr(&f).unwrap().nlink, 2);
    assert_eq!(s.fs.remove(&c, &a, b"f"), Ok(()));
    let mut buf = [0u8; 8];
    assert_eq!(s.fs.read(&f, 0, &mut buf), Ok((6, true)), "still reachable through the other name");
    assert_eq!(s.fs.getattr(&f).unwrap().nlink, 1);
    assert_eq!(s.fs.link(&c, &f, &b, b"g"), Err(FsError::Exist));
    assert_eq!(s.fs.link(&c, &a, &b, b"dirlink"), Err(FsError::IsDir));
    assert_eq!(s.fs.link(&c, &f, &f, b"x"), Err(FsError::NotDir));
    assert_eq!(s.fs.link(&c, &f, &b, b".."), Err(FsError::Inval));
}

#[test]
fn readdir_small_directory() {
    let mut s = Setup::new("readdir");
    fs::write(s.p("one"), b"").unwrap();
    fs::create_dir(s.p("two")).unwrap();
    let root = s.root();
    let root_id = s.fs.getattr(&root).unwrap().fileid;
    let mut seen = Vec::new();
    let end =
        s.fs.readdir(&root, 0, [9; 8], &mut |e| {
            seen.push((e.name.to_vec(), e.fileid, e.cookie));
            true
        })
        .unwrap();
    assert!(end.eof);
    assert_eq!(end.verifier, COOKIE_VERIFIER);
    let names: Vec<&[u8]> = seen.iter().map(|(n, ..)| n.as_slice()).collect();
    assert_eq!(&names[..2], [b".".as_slice(), b"..".as_slice()], "dot entries first");
    let mut rest = names[2..].to_vec();
    rest.sort();
    assert_eq!(rest, [b"one".as_slice(), b"two".as_slice()]);
    assert_eq!(seen[0].1, root_id);
    assert_eq!(seen[1].1, root_id, "`..` of the export root is the root");
    for (name, id, _) in &seen[2..] {
        let ino = fs::symlink_metadata(s.p(std::str::from_utf8(name).unwrap())).unwrap().ino();
        assert_eq!(*id, ino);
    }
    // `..` of a subdirectory is the real parent.
    let two = s.walk("two").unwrap();
    let mut dotdot = 0;
    s.fs.readdir(&two, 0, COOKIE_VERIFIER, &mut |e| {
        if e.name == b".." {
            dotdot = e.fileid;
        }
        true
    })
    .unwrap();
    assert_eq!(dotdot, root_id);
    // Resuming after the last entry gives nothing more.
    let last = seen.last().unwrap().2;
    let mut more = 0;
    let end =
        s.fs.readdir(&root, last, COOKIE_VERIFIER, &mut |_| {
            more += 1;
            true
        })
        .unwrap();
    assert!(end.eof && more == 0);
    // Resuming after the first entry gives the others.
    let mut n = 0;
    s.fs.readdir(&root, seen[0].2, COOKIE_VERIFIER, &mut |_| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, seen.len() - 1);
    // A callback that refuses the first entry: not eof, nothing taken.
    let end = s.fs.readdir(&root, 0, COOKIE_VERIFIER, &mut |_| false).unwrap();
    assert!(!end.eof);
    // Resuming after `..` gives the rest.
    let mut rest = Vec::new();
    s.fs.readdir(&root, seen[1].2, COOKIE_VERIFIER, &mut |e| {
        rest.push(e.name.to_vec());
        true
    })
    .unwrap();
    rest.sort();
    assert_eq!(rest, [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(s.fs.readdir(&root, seen[0].2, [1; 8], &mut |_| true), Err(FsError::BadCookie));
    assert_eq!(s.fs.readdir(&root, (1 << 63) + 5, COOKIE_VERIFIER, &mut |_| true), Err(FsError::BadCookie));
    let one = s.walk("one").unwrap();
    assert_eq!(s.fs.readdir(&one, 0, COOKIE_VERIFIER, &mut |_| true), Err(FsError::NotDir));
}

fn make_files(dir: &Path, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}{i:05}");
            fs::File::create(dir.join(&name)).unwrap();
            name.into_bytes()
        })
        .collect()
}

#[test]
fn readdir_10000_entries_in_small_pages() {
    let mut s = Setup::new("big");
    fs::create_dir(s.p("big")).unwrap();
    let names = make_files(&s.p("big"), "entry-", 10_000);
    let big = s.walk("big").unwrap();
    let listed = list_paged(&mut s.fs, &big, 37, |_| {});
    let mut count: HashMap<Vec<u8>, usize> = HashMap::new();
    for (name, _) in &listed {
        *count.entry(name.clone()).or_default() += 1;
    }
    let missing: Vec<_> =
        names.iter().filter(|n| !count.contains_key(*n)).map(|n| String::from_utf8_lossy(n)).collect();
    assert!(missing.is_empty(), "missing {missing:?}");
    assert_eq!(listed.len(), 10_002);
    assert_eq!(count.len(), 10_002);
    assert!(names.iter().all(|n| count.get(n) == Some(&1)));
    assert_eq!(count.get(b".".as_slice()), Some(&1));
    assert_eq!(count.get(b"..".as_slice()), Some(&1));
    // A restarted server continues a listing with the old cookies.
    let mut first = Vec::new();
    let mut cookie = 0;
    s.fs.readdir(&big, 0, COOKIE_VERIFIER, &mut |e| {
        if first.len() == 100 {
            return false;
        }
        first.push(e.name.to_vec());
        cookie = e.cookie;
        true
    })
    .unwrap();
    let mut again = s.restart();
    let mut rest = 0;
    let end = again
        .readdir(&big, cookie, COOKIE_VERIFIER, &mut |_| {
            rest += 1;
            true
        })
        .unwrap();
    assert!(end.eof);
    assert_eq!(first.len() + rest, 10_002);
}

#[test]
fn readdir_pages_with_changes_between_them() {
    let mut s = Setup::new("churn");
    fs::create_dir(s.p("big")).unwrap();
    let dir = s.p("big");
    let names = make_files(&dir, "keep-", 10_000);
    let victims = make_files(&dir, "gone-", 300);
    let big = s.walk("big").unwrap();
    let mut added = Vec::new();
    let listed = list_paged(&mut s.fs, &big, 50, |page| {
        // Between pages: one new entry, one removed entry.
        let name = format!("new-{page:05}");
        fs::File::create(dir.join(&name)).unwrap();
        added.push(name.into_bytes());
        if let Some(v) = victims.get(page) {
            fs::remove_file(dir.join(std::str::from_utf8(v).unwrap())).unwrap();
        }
    });
    let mut count: HashMap<Vec<u8>, usize> = HashMap::new();
    for (name, _) in &listed {
        *count.entry(name.clone()).or_default() += 1;
    }
    for n in &names {
        assert_eq!(count.get(n), Some(&1), "untouched {:?}", String::from_utf8_lossy(n));
    }
    for n in victims.iter().chain(&added) {
        assert!(count.get(n).is_none_or(|&c| c == 1), "{:?} listed twice", String::from_utf8_lossy(n));
    }
    assert_eq!(count.get(b".".as_slice()), Some(&1));
    assert!(count.keys().all(|k| k == b"."
        || k == b".."
        || k.starts_with(b"keep-")
        || k.starts_with(b"gone-")
        || k.starts_with(b"new-")));
}

#[test]
fn dirent_parser_rejects_garbage() {
    // A record claiming a length shorter than its header, or running past the buffer.
    let mut rec = [0u8; 24];
    rec[16..18].copy_from_slice(&4u16.to_ne_bytes());
    assert_eq!(Dirents(&rec).collect::<Vec<_>>(), [Err(FsError::ServerFault)]);
    rec[16..18].copy_from_slice(&100u16.to_ne_bytes());
    assert_eq!(Dirents(&rec).collect::<Vec<_>>(), [Err(FsError::ServerFault)]);
    // No NUL inside the record.
    rec[16..18].copy_from_slice(&24u16.to_ne_bytes());
    rec[19..].fill(b'a');
    assert_eq!(Dirents(&rec).collect::<Vec<_>>(), [Err(FsError::ServerFault)]);
    assert_eq!(Dirents(&rec[..5]).count(), 1);
    // A good record.
    rec[0..8].copy_from_slice(&7u64.to_ne_bytes());
    rec[8..16].copy_from_slice(&9u64.to_ne_bytes());
    rec[19..].copy_from_slice(b"name\0");
    let ents: Vec<_> = Dirents(&rec).collect::<Result<_, _>>().unwrap();
    assert_eq!((ents[0].ino, ents[0].off, ents[0].name), (7, 9, b"name".as_slice()));
}
