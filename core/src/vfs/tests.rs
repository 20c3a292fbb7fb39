//! Namespace tests: helpers (a MemFs root with two MemFs mounts standing in for remote ones,
//! one nested in the other), resolution across mounts, `..`, EXDEV, mount and unmount rules.

use super::*;
use crate::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
use crate::fs::{Attr, DirEntry, FileType, SetAttr, Time};
use std::vec;
use std::vec::Vec;

pub(super) type Ns = Namespace<'static, 4, 8>;
pub(super) const T: Time = Time { secs: 100, nsecs: 0 };
pub(super) const ROOT_ID: MountId = MountId(1);
pub(super) const R1: MountId = MountId(2);
pub(super) const R2: MountId = MountId(3);

pub(super) fn root() -> Cred<'static> {
    Cred::root(T)
}

pub(super) fn user(uid: u32) -> Cred<'static> {
    Cred { uid, gid: 100, groups: &[], now: T }
}

/// A MemFs with `fsid` over leaked vectors.
pub(super) fn memfs(fsid: u64) -> MemFs<'static> {
    let parts = Parts {
        nodes: vec![Node::ZERO; 256].leak(),
        entries: vec![Entry::ZERO; 256].leak(),
        blocks: vec![Block::ZERO; 256].leak(),
        names: vec![0u8; 16 * 1024].leak(),
    };
    MemFs::from_parts(parts, Config::new(fsid, *b"verifier")).unwrap()
}

pub(super) fn leak(fs: MemFs<'static>) -> &'static mut MemFs<'static> {
    std::boxed::Box::leak(std::boxed::Box::new(fs))
}

/// Writes `data` to a new (or truncated) file.
pub(super) fn put<const M: usize, const F: usize, const P: usize>(
    ns: &mut Namespace<'_, M, F, P>,
    path: &str,
    data: &[u8],
) {
    let at = ns.root();
    let flags = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC;
    let fd = ns.open(&root(), &at, path.as_bytes(), flags, 0o644).unwrap();
    assert_eq!(ns.write(&root(), fd, data), Ok(data.len()));
    ns.close(fd).unwrap();
}

/// The whole content of a file, read in small pieces.
pub(super) fn get<const M: usize, const F: usize, const P: usize>(
    ns: &mut Namespace<'_, M, F, P>,
    path: &str,
) -> VfsResult<Vec<u8>> {
    let at = ns.root();
    let fd = ns.open(&root(), &at, path.as_bytes(), OpenFlags::RDONLY, 0)?;
    let (mut out, mut buf) = (Vec::new(), [0u8; 7]);
    loop {
        match ns.read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                ns.close(fd).unwrap();
                return Err(e);
            }
        }
    }
    ns.close(fd).unwrap();
    Ok(out)
}

/// Every name in a directory (without `.` and `..`), sorted, listed two entries at a time.
pub(super) fn ls<const M: usize, const F: usize, const P: usize>(
    ns: &mut Namespace<'_, M, F, P>,
    path: &str,
) -> VfsResult<Vec<Vec<u8>>> {
    let at = ns.root();
    let (mut names, mut pos) = (Vec::new(), DirPos::START);
    loop {
        let mut n = 0;
        pos = ns.readdir_at(&root(), &at, path.as_bytes(), pos, &mut |e: &DirEntry<'_>| {
            if n == 2 {
                return false;
            }
            n += 1;
            if e.name != b"." && e.name != b".." {
                names.push(e.name.to_vec());
            }
            true
        })?;
        if pos.eof {
            break;
        }
    }
    names.sort();
    Ok(names)
}

pub(super) fn stat<const M: usize, const F: usize, const P: usize>(
    ns: &mut Namespace<'_, M, F, P>,
    path: &str,
) -> VfsResult<Attr> {
    let at = ns.root();
    ns.stat(&root(), &at, path.as_bytes())
}

pub(super) fn lstat<const M: usize, const F: usize, const P: usize>(
    ns: &mut Namespace<'_, M, F, P>,
    path: &str,
) -> VfsResult<Attr> {
    let at = ns.root();
    ns.lstat(&root(), &at, path.as_bytes())
}

/// Runs a path call as root from the namespace root.
pub(super) fn mkdir(ns: &mut Ns, path: &str) -> VfsResult<()> {
    let at = ns.root();
    ns.mkdir(&root(), &at, path.as_bytes(), 0o755)
}

pub(super) fn symlink(ns: &mut Ns, target: &str, path: &str) -> VfsResult<()> {
    let at = ns.root();
    ns.symlink(&root(), &at, target.as_bytes(), path.as_bytes())
}

pub(super) fn rename(ns: &mut Ns, from: &str, to: &str) -> VfsResult<()> {
    let at = ns.root();
    ns.rename(&root(), &at, from.as_bytes(), to.as_bytes())
}

/// Mounts `fs` on `path` as root.
pub(super) fn mount(ns: &mut Ns, path: &str, fs: &'static mut MemFs<'static>, id: MountId) -> VfsResult<()> {
    let at = ns.root();
    ns.mount(&root(), &at, path.as_bytes(), fs, id, MountFlags::default()).map_err(|(e, _)| e)
}

/// The world most tests use:
/// ```text
/// /                      root MemFs (fsid 1)
/// ├── etc/passwd         "root:x:0:0"
/// ├── tmp/               0o1777
/// ├── deep -> /r1/sub/r2/data
/// └── r1/                R1 (fsid 2) mounted here
///     ├── notes.txt      "notes"
///     ├── up -> ../etc/passwd
///     └── sub/
///         └── r2/        R2 (fsid 3) mounted here
///             ├── data   "data in r2"
///             ├── back -> ../../notes.txt
///             └── abs -> /etc/passwd
/// ```
pub(super) fn world() -> Ns {
    let mut ns = Ns::new(leak(memfs(1)), ROOT_ID, MountFlags::default());
    for d in ["/etc", "/tmp", "/r1"] {
        mkdir(&mut ns, d).unwrap();
    }
    let at = ns.root();
    let sticky = SetAttr { mode: Some(0o1777), ..SetAttr::default() };
    ns.setattr(&root(), &at, b"/tmp", true, &sticky).unwrap();
    put(&mut ns, "/etc/passwd", b"root:x:0:0");
    symlink(&mut ns, "/r1/sub/r2/data", "/deep").unwrap();
    mount(&mut ns, "/r1", leak(memfs(2)), R1).unwrap();
    put(&mut ns, "/r1/notes.txt", b"notes");
    symlink(&mut ns, "../etc/passwd", "/r1/up").unwrap();
    mkdir(&mut ns, "/r1/sub").unwrap();
    mkdir(&mut ns, "/r1/sub/r2").unwrap();
    mount(&mut ns, "/r1/sub/r2", leak(memfs(3)), R2).unwrap();
    put(&mut ns, "/r1/sub/r2/data", b"data in r2");
    symlink(&mut ns, "../../notes.txt", "/r1/sub/r2/back").unwrap();
    symlink(&mut ns, "/etc/passwd", "/r1/sub/r2/abs").unwrap();
    ns
}

/// (fsid, fileid) of what a path names.
fn id(ns: &mut Ns, path: &str) -> (u64, u64) {
    let a = stat(ns, path).unwrap();
    (a.fsid, a.fileid)
}

#[test]
fn paths_cross_into_mounts() {
    let mut ns = world();
    assert_eq!(stat(&mut ns, "/").unwrap().fsid, 1);
    assert_eq!(stat(&mut ns, "/r1").unwrap().fsid, 2);
    assert_eq!(stat(&mut ns, "/r1/sub").unwrap().fsid, 2);
    assert_eq!(stat(&mut ns, "/r1/sub/r2").unwrap().fsid, 3);
    assert_eq!(stat(&mut ns, "/r1/sub/r2/data").unwrap().fsid, 3);
    assert_eq!(get(&mut ns, "/r1/sub/r2/data").unwrap(), b"data in r2");
    // The mount's root, not the directory under it (lstat does not stop at mount points).
    let r1_root = ns.mounts().find(|m| m.id == R1).unwrap().root;
    assert_eq!(ns.locate(&root(), &ns.root(), b"/r1").unwrap(), r1_root);
    assert_eq!(lstat(&mut ns, "/r1/sub/r2").unwrap().fsid, 3);
    // Redundant slashes and dots.
    assert_eq!(get(&mut ns, "//r1/./sub//r2/.///data").unwrap(), b"data in r2");
    assert_eq!(ls(&mut ns, "/r1/sub/r2").unwrap(), [&b"abs"[..], b"back", b"data"]);
    assert_eq!(ls(&mut ns, "/r1/sub").unwrap(), [b"r2"]);
    assert_eq!(ls(&mut ns, "/").unwrap(), [&b"deep"[..], b"etc", b"r1", b"tmp"]);
}

#[test]
fn dotdot_climbs_out_of_mounts() {
    let mut ns = world();
    let top = id(&mut ns, "/");
    assert_eq!(id(&mut ns, "/r1/.."), top);
    assert_eq!(id(&mut ns, "/.."), top);
    assert_eq!(id(&mut ns, "/../../.."), top);
    assert_eq!(id(&mut ns, "/r1/sub/r2/.."), id(&mut ns, "/r1/sub"));
    assert_eq!(id(&mut ns, "/r1/sub/r2/../.."), id(&mut ns, "/r1"));
    assert_eq!(id(&mut ns, "/r1/sub/r2/../../.."), top);
    assert_eq!(id(&mut ns, "/r1/sub/r2/../r2/data"), id(&mut ns, "/r1/sub/r2/data"));
    assert_eq!(get(&mut ns, "/r1/sub/r2/../../../etc/passwd").unwrap(), b"root:x:0:0");
    // Relative to a current directory inside the nested mount.
    let cwd = ns.chdir(&root(), &ns.root(), b"/r1/sub/r2").unwrap();
    assert_eq!(cwd.mount, R2);
    assert_eq!(ns.stat(&root(), &cwd, b"data").unwrap().size, 10);
    assert_eq!(ns.stat(&root(), &cwd, b"../../../etc/passwd").unwrap().size, 10);
    assert_eq!(ns.stat(&root(), &cwd, b"..").unwrap().fsid, 2);
    assert_eq!(ns.stat(&root(), &cwd, b".").unwrap().fsid, 3);
    assert_eq!(ns.stat(&root(), &cwd, b"../../../../../..").unwrap().fileid, top.1);
    // Absolute paths ignore the current directory.
    assert_eq!(ns.stat(&root(), &cwd, b"/etc").unwrap().fsid, 1);
}

#[test]
fn symlinks_across_mounts() {
    let mut ns = world();
    assert_eq!(get(&mut ns, "/deep").unwrap(), b"data in r2"); // absolute, root → R2
    assert_eq!(get(&mut ns, "/r1/up").unwrap(), b"root:x:0:0"); // relative, R1 → root through ..
    assert_eq!(get(&mut ns, "/r1/sub/r2/back").unwrap(), b"notes"); // relative, R2 → R1
    assert_eq!(get(&mut ns, "/r1/sub/r2/abs").unwrap(), b"root:x:0:0"); // absolute, R2 → root
    assert_eq!(lstat(&mut ns, "/deep").unwrap().ftype, FileType::Symlink);
    assert_eq!(lstat(&mut ns, "/deep").unwrap().fsid, 1);
    assert_eq!(stat(&mut ns, "/deep").unwrap().fsid, 3);
    let mut out = [0u8; 64];
    let n = ns.readlink(&root(), &ns.root(), b"/r1/sub/r2/back", &mut out).unwrap();
    assert_eq!(&out[..n], b"../../notes.txt");
    // A link to a directory in the middle of a path, and with a trailing slash.
    symlink(&mut ns, "r1/sub", "/s").unwrap();
    assert_eq!(get(&mut ns, "/s/r2/data").unwrap(), b"data in r2");
    assert_eq!(lstat(&mut ns, "/s/").unwrap().ftype, FileType::Directory);
    assert_eq!(lstat(&mut ns, "/s/").unwrap().fsid, 2);
    // `..` after a link is taken in the target's directory, not lexically.
    assert_eq!(id(&mut ns, "/s/.."), id(&mut ns, "/r1"));
    // A link to the mount point goes into the mount.
    symlink(&mut ns, "/r1/sub/r2", "/m").unwrap();
    assert_eq!(stat(&mut ns, "/m").unwrap().fsid, 3);
    // A link to "/" and chains of links.
    symlink(&mut ns, "/", "/r1/sub/r2/top").unwrap();
    assert_eq!(id(&mut ns, "/m/top"), id(&mut ns, "/"));
    assert_eq!(get(&mut ns, "/m/top/m/top/deep").unwrap(), b"data in r2");
    // Readlink cuts to the caller's buffer.
    let mut small = [0u8; 4];
    assert_eq!(ns.readlink(&root(), &ns.root(), b"/deep", &mut small), Ok(4));
    assert_eq!(&small, b"/r1/");
    assert_eq!(ns.readlink(&root(), &ns.root(), b"/etc", &mut out), Err(VfsError::Inval));
}

#[test]
fn cross_mount_rename_and_link_are_exdev() {
    let mut ns = world();
    assert_eq!(rename(&mut ns, "/etc/passwd", "/r1/passwd"), Err(VfsError::XDev));
    assert_eq!(rename(&mut ns, "/r1/notes.txt", "/r1/sub/r2/notes.txt"), Err(VfsError::XDev));
    assert_eq!(rename(&mut ns, "/r1/sub/r2/data", "/tmp/data"), Err(VfsError::XDev));
    // Through a symlink the parent is still on the other mount.
    assert_eq!(rename(&mut ns, "/deep", "/r1/x"), Err(VfsError::XDev));
    let at = ns.root();
    assert_eq!(ns.link(&root(), &at, b"/etc/passwd", b"/r1/pw"), Err(VfsError::XDev));
    assert_eq!(ns.link(&root(), &at, b"/r1/sub/r2/data", b"/r1/data"), Err(VfsError::XDev));
    // Within one mount they work, also through `..` from another.
    rename(&mut ns, "/r1/notes.txt", "/r1/sub/notes.txt").unwrap();
    assert_eq!(get(&mut ns, "/r1/sub/r2/../notes.txt").unwrap(), b"notes");
    rename(&mut ns, "/r1/sub/r2/../notes.txt", "/r1/sub/r2/../../notes.txt").unwrap();
    ns.link(&root(), &at, b"/r1/notes.txt", b"/r1/sub/hard").unwrap();
    assert_eq!(stat(&mut ns, "/r1/sub/hard").unwrap().nlink, 2);
    assert_eq!(ns.link(&root(), &at, b"/r1/sub", b"/r1/sub2"), Err(VfsError::Perm));
    // The contents moved with the names; nothing else changed.
    assert_eq!(get(&mut ns, "/etc/passwd").unwrap(), b"root:x:0:0");
    assert_eq!(get(&mut ns, "/r1/sub/r2/data").unwrap(), b"data in r2");
}

#[test]
fn mount_points_are_busy() {
    let mut ns = world();
    let at = ns.root();
    assert_eq!(ns.rmdir(&root(), &at, b"/r1/sub/r2"), Err(VfsError::Busy));
    assert_eq!(ns.rmdir(&root(), &at, b"/r1"), Err(VfsError::Busy));
    assert_eq!(ns.rmdir(&root(), &at, b"/"), Err(VfsError::Busy));
    assert_eq!(ns.unlink(&root(), &at, b"/r1"), Err(VfsError::IsDir));
    assert_eq!(rename(&mut ns, "/r1/sub/r2", "/r1/sub/r3"), Err(VfsError::Busy));
    mkdir(&mut ns, "/r1/sub/empty").unwrap();
    assert_eq!(rename(&mut ns, "/r1/sub/empty", "/r1/sub/r2"), Err(VfsError::Busy));
    assert_eq!(rename(&mut ns, "/r1/sub/r2/..", "/r1/sub/r2/x"), Err(VfsError::Busy));
    assert_eq!(rename(&mut ns, "/r1/sub/r2/..", "/r1/x"), Err(VfsError::XDev)); // `..` is taken in R2
    // A directory holding a mount point may move: the mount moves with it.
    rename(&mut ns, "/r1/sub", "/r1/moved").unwrap();
    assert_eq!(get(&mut ns, "/r1/moved/r2/data").unwrap(), b"data in r2");
    assert_eq!(stat(&mut ns, "/r1/sub"), Err(VfsError::NoEnt));
    assert_eq!(get(&mut ns, "/deep"), Err(VfsError::NoEnt));
}

#[test]
fn unmount_rules() {
    let mut ns = world();
    let at = ns.root();
    // A file open on R2 keeps it mounted.
    let fd = ns.open(&root(), &at, b"/deep", OpenFlags::RDONLY, 0).unwrap();
    assert_eq!(ns.file(fd).unwrap().mount, R2);
    assert_eq!(ns.unmount(R2).err(), Some(VfsError::Busy));
    // R1 has R2 below it; the root is never unmounted; unknown ids are not mount points.
    assert_eq!(ns.unmount(R1).err(), Some(VfsError::Busy));
    assert_eq!(ns.unmount(ROOT_ID).err(), Some(VfsError::Busy));
    assert_eq!(ns.unmount(MountId(99)).err(), Some(VfsError::Inval));
    // An open directory counts too.
    let dir = ns.open(&root(), &at, b"/r1/sub/r2", OpenFlags::RDONLY | OpenFlags::DIRECTORY, 0).unwrap();
    ns.close(fd).unwrap();
    assert_eq!(ns.unmount(R2).err(), Some(VfsError::Busy));
    ns.close(dir).unwrap();
    let r2 = ns.unmount(R2).unwrap();
    // The mount point is the plain (empty) directory again.
    assert_eq!(stat(&mut ns, "/r1/sub/r2").unwrap().fsid, 2);
    assert_eq!(ls(&mut ns, "/r1/sub/r2").unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(get(&mut ns, "/deep"), Err(VfsError::NoEnt));
    // The file system came back intact: mount it elsewhere.
    mkdir(&mut ns, "/tmp/again").unwrap();
    ns.mount(&root(), &at, b"/tmp/again", r2, R2, MountFlags::default()).map_err(|(e, _)| e).unwrap();
    assert_eq!(get(&mut ns, "/tmp/again/data").unwrap(), b"data in r2");
    assert_eq!(ns.mounts().count(), 3);
    // Now R1 has nothing below it.
    assert!(ns.unmount(R1).is_ok());
    assert_eq!(ls(&mut ns, "/r1").unwrap(), Vec::<Vec<u8>>::new());
}

#[test]
fn mount_errors_hand_the_file_system_back() {
    let mut ns = world();
    let at = ns.root();
    let try_mount = |ns: &mut Ns, path: &str, fs: &'static mut MemFs<'static>, id| {
        match ns.mount(&root(), &at, path.as_bytes(), fs, id, MountFlags::default()) {
            Ok(()) => Ok(()),
            Err((e, fs)) => {
                assert_eq!(fs.root().as_bytes().len(), 16); // handed back, usable
                Err(e)
            }
        }
    };
    assert_eq!(try_mount(&mut ns, "/etc/passwd", leak(memfs(9)), MountId(9)), Err(VfsError::NotDir));
    assert_eq!(try_mount(&mut ns, "/nope", leak(memfs(9)), MountId(9)), Err(VfsError::NoEnt));
    assert_eq!(try_mount(&mut ns, "/r1", leak(memfs(9)), MountId(9)), Err(VfsError::Busy));
    assert_eq!(try_mount(&mut ns, "/", leak(memfs(9)), MountId(9)), Err(VfsError::Busy));
    assert_eq!(try_mount(&mut ns, "/r1/sub/r2/..", leak(memfs(9)), MountId(9)).map(|_| ()), Ok(()));
    assert_eq!(try_mount(&mut ns, "/tmp", leak(memfs(9)), R1), Err(VfsError::Exist));
    assert_eq!(try_mount(&mut ns, "/tmp", leak(memfs(9)), MountId(10)), Err(VfsError::NoSpace));
    // /r1/sub now holds mount 9, so /r1/sub/r2 (and R2) are hidden below it.
    assert_eq!(stat(&mut ns, "/r1/sub").unwrap().fsid, 9);
    assert_eq!(get(&mut ns, "/deep"), Err(VfsError::NoEnt));
    assert_eq!(ns.unmount(R1).err(), Some(VfsError::Busy));
    ns.unmount(MountId(9)).unwrap();
    assert_eq!(get(&mut ns, "/deep").unwrap(), b"data in r2");
}

#[test]
fn mount_ids_from_sources_are_stable() {
    let a = MountId::of_source(b"nfs://server/export");
    assert_eq!(a, MountId::of_source(b"nfs://server/export"));
    assert_ne!(a, MountId::of_source(b"nfs://server/export2"));
    // FNV-1a 64 of the empty string and of "a" (published test vectors).
    assert_eq!(MountId::of_source(b"").0, 0xcbf2_9ce4_8422_2325);
    assert_eq!(MountId::of_source(b"a").0, 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn errno_numbers_match_linux() {
    let all = [
        (VfsError::Perm, 1),
        (VfsError::NoEnt, 2),
        (VfsError::Io, 5),
        (VfsError::BadFd, 9),
        (VfsError::Access, 13),
        (VfsError::Busy, 16),
        (VfsError::Exist, 17),
        (VfsError::XDev, 18),
        (VfsError::NotDir, 20),
        (VfsError::IsDir, 21),
        (VfsError::Inval, 22),
        (VfsError::TooManyOpen, 23),
        (VfsError::FBig, 27),
        (VfsError::NoSpace, 28),
        (VfsError::ReadOnly, 30),
        (VfsError::MLink, 31),
        (VfsError::NameTooLong, 36),
        (VfsError::NotEmpty, 39),
        (VfsError::Loop, 40),
        (VfsError::NotSupp, 95),
        (VfsError::Stale, 116),
        (VfsError::DQuot, 122),
    ];
    for (e, n) in all {
        assert_eq!(e.errno(), n, "{e:?}");
        assert_eq!(VfsError::from_errno(n), Some(e));
        assert!(!std::format!("{e}").is_empty());
    }
    assert_eq!(VfsError::from_errno(0), None);
    assert_eq!(VfsError::from(crate::fs::FsError::BadHandle), VfsError::Stale);
    assert_eq!(VfsError::from(crate::fs::FsError::BadCookie), VfsError::Inval);
    assert_eq!(VfsError::from(crate::fs::FsError::ServerFault), VfsError::Io);
}
