//! The namespace (`tern_core::vfs`) with real remote file systems: a MemFs root, a `tern serve`
//! export mounted at `/net/a` and an nfs-ganesha export mounted at `/net/a/sub` (inside the
//! first remote's directory), both through `RemoteFs` (the std NFS client). Resolution and
//! `..` across the three, symlinks that cross them, EXDEV, unmount refused while busy, writes
//! that land on the servers' disks, and an open file carried to a second namespace (another
//! client session, as on another machine) that continues at its offset.

use tern_core::fs::Time;
use tern_core::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
use tern_core::vfs::{Cred, MountFlags, MountId, Namespace, OpenFlags, VfsError, Whence};
use tern_std::nfs::{NfsUrl, RemoteFs, Session, SessionOptions};
use tern_tests::client::Remote;
use tern_tests::ganesha::Ganesha;
use tern_tests::nfs::{TernServe, export_line};
use tern_tests::temp_dir;

type Ns = Namespace<'static, 4, 8>;

const CRED: Cred<'static> = Cred::root(Time { secs: 1_700_000_000, nsecs: 0 });

fn memfs() -> &'static mut MemFs<'static> {
    let parts = Parts {
        nodes: vec![Node::ZERO; 64].leak(),
        entries: vec![Entry::ZERO; 64].leak(),
        blocks: vec![Block::ZERO; 16].leak(),
        names: vec![0u8; 4096].leak(),
    };
    Box::leak(Box::new(MemFs::from_parts(parts, Config::new(1, *b"rootmemf")).unwrap()))
}

/// A `RemoteFs` over the export of `r` (as uid 0), leaked for the namespace's lifetime.
fn remote(r: &Remote) -> &'static mut RemoteFs {
    let url = NfsUrl::parse(&r.url_as("", 0, 0)).unwrap();
    let (sess, _) = Session::open_url(&url, SessionOptions::default()).unwrap();
    Box::leak(Box::new(RemoteFs::new(sess).unwrap()))
}

fn put(ns: &mut Ns, path: &str, data: &[u8]) {
    let at = ns.root();
    let fd = ns.open(&CRED, &at, path.as_bytes(), OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::TRUNC, 0o644);
    let fd = fd.unwrap_or_else(|e| panic!("open {path}: {e:?}"));
    assert_eq!(ns.write(&CRED, fd, data), Ok(data.len()));
    ns.close(fd).unwrap();
}

fn get(ns: &mut Ns, path: &str) -> Result<Vec<u8>, VfsError> {
    let at = ns.root();
    let fd = ns.open(&CRED, &at, path.as_bytes(), OpenFlags::RDONLY, 0)?;
    let (mut out, mut buf) = (Vec::new(), vec![0u8; 4096]);
    loop {
        match ns.read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e),
        }
    }
    ns.close(fd).unwrap();
    Ok(out)
}

#[test]
fn memfs_root_with_a_tern_and_a_ganesha_mount_nested() {
    let dir = temp_dir("ns-remote");
    let export = dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    let serve = TernServe::start(&[export_line(&export, "rw,no_root_squash,insecure")], &dir.join("state"), None);
    let a = Remote::new(serve.nfs, serve.mount, &export);
    let ganesha = Ganesha::start("ns-remote");
    let b = Remote::new(ganesha.nfs, ganesha.mount, &ganesha.export());
    let (id_a, id_b) = (MountId::of_source(a.url("").as_bytes()), MountId::of_source(b.url("").as_bytes()));

    let mut ns: Ns = Namespace::new(memfs(), MountId(1), MountFlags::default());
    let root = ns.root();
    ns.mkdir(&CRED, &root, b"/net", 0o755).unwrap();
    ns.mkdir(&CRED, &root, b"/net/a", 0o755).unwrap();
    ns.mount(&CRED, &root, b"/net/a", remote(&a), id_a, MountFlags::default()).map_err(|(e, _)| e).unwrap();
    // A directory of the tern export becomes the mount point of the ganesha export.
    ns.mkdir(&CRED, &root, b"/net/a/sub", 0o755).unwrap();
    assert!(export.join("sub").is_dir(), "mkdir through the namespace reached tern serve's disk");
    ns.mount(&CRED, &root, b"/net/a/sub", remote(&b), id_b, MountFlags::default()).map_err(|(e, _)| e).unwrap();

    // Files land on the servers' own disks.
    put(&mut ns, "/net/a/on-a.txt", b"tern serve");
    put(&mut ns, "/net/a/sub/on-b.txt", b"ganesha");
    assert_eq!(std::fs::read(export.join("on-a.txt")).unwrap(), b"tern serve");
    assert_eq!(std::fs::read(ganesha.export().join("on-b.txt")).unwrap(), b"ganesha");
    assert!(!export.join("sub/on-b.txt").exists(), "the nested mount covers tern's sub directory");

    // `..` at each mount root leads to the directory the mount covers' parent.
    assert_eq!(ns.locate(&CRED, &root, b"/net/a/sub/..").unwrap(), ns.locate(&CRED, &root, b"/net/a").unwrap());
    assert_eq!(ns.locate(&CRED, &root, b"/net/a/..").unwrap(), ns.locate(&CRED, &root, b"/net").unwrap());
    assert_eq!(get(&mut ns, "/net/a/sub/../on-a.txt").unwrap(), b"tern serve");
    assert_eq!(get(&mut ns, "/net/a/sub/../../a/sub/on-b.txt").unwrap(), b"ganesha");
    assert_eq!(ns.locate(&CRED, &root, b"/net/a/sub").unwrap().mount, id_b);

    // Symlinks across the three file systems: absolute from the root into ganesha, relative
    // from ganesha up into tern's export, and from tern's export up into the MemFs root.
    ns.symlink(&CRED, &root, b"/net/a/sub/on-b.txt", b"/to-b").unwrap();
    ns.symlink(&CRED, &root, b"../on-a.txt", b"/net/a/sub/to-a").unwrap();
    ns.symlink(&CRED, &root, b"../../rootfile", b"/net/a/to-root").unwrap();
    put(&mut ns, "/rootfile", b"memfs");
    assert_eq!(get(&mut ns, "/to-b").unwrap(), b"ganesha");
    assert_eq!(get(&mut ns, "/net/a/sub/to-a").unwrap(), b"tern serve");
    assert_eq!(get(&mut ns, "/net/a/to-root").unwrap(), b"memfs");
    assert_eq!(
        std::fs::read_link(ganesha.export().join("to-a")).unwrap(),
        std::path::Path::new("../on-a.txt"),
        "the symlink is stored on ganesha's disk as written"
    );

    // Renames: within a remote fine, across file systems EXDEV.
    ns.rename(&CRED, &root, b"/net/a/sub/on-b.txt", b"/net/a/sub/renamed.txt").unwrap();
    assert!(ganesha.export().join("renamed.txt").exists());
    assert_eq!(ns.rename(&CRED, &root, b"/net/a/on-a.txt", b"/net/a/sub/x"), Err(VfsError::XDev));
    assert_eq!(ns.rename(&CRED, &root, b"/rootfile", b"/net/a/rootfile"), Err(VfsError::XDev));
    assert_eq!(ns.rename(&CRED, &root, b"/net/a/sub/renamed.txt", b"/moved"), Err(VfsError::XDev));

    // An open file on a remote mount is plain data: carried to a second namespace (a new
    // client session, as on another machine) it continues at its offset.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 253) as u8).collect();
    put(&mut ns, "/net/a/sub/big", &big);
    let fd = ns.open(&CRED, &root, b"/net/a/sub/big", OpenFlags::RDWR, 0).unwrap();
    let mut head = vec![0u8; 70_000];
    assert_eq!(ns.read(fd, &mut head), Ok(70_000));
    assert_eq!(head, big[..70_000]);

    // Unmount is refused while a file is open on the mount, and while a mount sits below.
    assert_eq!(ns.unmount(id_b).err(), Some(VfsError::Busy));
    assert_eq!(ns.unmount(id_a).err(), Some(VfsError::Busy));

    let moved = ns.export(fd).unwrap();
    let mut other: Ns = Namespace::new(memfs(), MountId(1), MountFlags::default());
    let oroot = other.root();
    other.mkdir(&CRED, &oroot, b"/elsewhere", 0o755).unwrap();
    other.mount(&CRED, &oroot, b"/elsewhere", remote(&b), id_b, MountFlags::default()).map_err(|(e, _)| e).unwrap();
    let ofd = other.import(moved).unwrap();
    let mut rest = vec![0u8; big.len()];
    let mut got = 0;
    while got < rest.len() {
        match other.read(ofd, &mut rest[got..]).unwrap() {
            0 => break,
            n => got += n,
        }
    }
    assert_eq!(got, big.len() - 70_000, "the moved file continued at its offset");
    assert_eq!(rest[..got], big[70_000..]);
    assert_eq!(other.seek(ofd, Whence::Set, 0), Ok(0));
    assert_eq!(other.write(&CRED, ofd, b"MOVED"), Ok(5));
    other.close(ofd).unwrap();
    assert_eq!(&std::fs::read(ganesha.export().join("big")).unwrap()[..5], b"MOVED");

    ns.close(fd).unwrap();
    assert!(ns.unmount(id_b).is_ok());
    assert!(ns.unmount(id_a).is_ok());
    assert_eq!(ns.locate(&CRED, &root, b"/net/a/sub"), Err(VfsError::NoEnt), "the MemFs directory shows again");
    let _ = std::fs::remove_dir_all(&dir);
}
