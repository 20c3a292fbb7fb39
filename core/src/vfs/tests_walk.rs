//! Path resolution limits and hostile input: symlink loops and the 40-link limit, component and
//! path lengths, link expansion in the fixed buffer, last components that are not names, and
//! random bytes as paths.

use super::tests::{Ns, R1, get, lstat, mkdir, rename, root, stat, symlink, world};
use super::*;
use crate::fs::FileType;
use std::vec::Vec;

#[test]
fn symlink_loops() {
    let mut ns = world();
    symlink(&mut ns, "b", "/a").unwrap();
    symlink(&mut ns, "a", "/b").unwrap();
    symlink(&mut ns, "self", "/self").unwrap();
    assert_eq!(stat(&mut ns, "/a"), Err(VfsError::Loop));
    assert_eq!(stat(&mut ns, "/self/x"), Err(VfsError::Loop));
    assert_eq!(lstat(&mut ns, "/a").unwrap().ftype, FileType::Symlink);
    assert_eq!(lstat(&mut ns, "/a/"), Err(VfsError::Loop)); // a trailing slash follows
    // A loop through two mounts and `..`.
    symlink(&mut ns, "../../loop2", "/r1/sub/loop1").unwrap();
    symlink(&mut ns, "/r1/sub/loop1", "/loop2").unwrap();
    assert_eq!(stat(&mut ns, "/loop2"), Err(VfsError::Loop));
    assert_eq!(get(&mut ns, "/r1/sub/loop1"), Err(VfsError::Loop));
    let at = ns.root();
    assert_eq!(ns.open(&root(), &at, b"/a", OpenFlags::CREAT, 0o644), Err(VfsError::Loop));
    assert_eq!(ns.chdir(&root(), &at, b"/self"), Err(VfsError::Loop));
    // Calls on the link itself are not affected.
    ns.unlink(&root(), &at, b"/self").unwrap();
    rename(&mut ns, "/a", "/c").unwrap();
    assert_eq!(stat(&mut ns, "/b"), Err(VfsError::NoEnt)); // b -> a, which is gone
}

/// Builds `/chain/c0 -> /etc/passwd` and `/chain/cN -> cN-1`.
fn chain(ns: &mut Ns, n: usize) {
    mkdir(ns, "/chain").unwrap();
    symlink(ns, "/etc/passwd", "/chain/c0").unwrap();
    for i in 1..=n {
        symlink(ns, &std::format!("c{}", i - 1), &std::format!("/chain/c{i}")).unwrap();
    }
}

#[test]
fn forty_links_are_followed_not_forty_one() {
    let mut ns = world();
    chain(&mut ns, 40);
    assert_eq!(get(&mut ns, "/chain/c39").unwrap(), b"root:x:0:0"); // 40 links
    assert_eq!(get(&mut ns, "/chain/c40"), Err(VfsError::Loop)); // 41
    // The count is per resolution, links in the middle included.
    symlink(&mut ns, "/chain", "/ch").unwrap();
    assert_eq!(stat(&mut ns, "/ch/c38").unwrap().size, 10); // 1 + 39
    assert_eq!(stat(&mut ns, "/ch/c39"), Err(VfsError::Loop)); // 1 + 40
    // A smaller limit.
    ns.set_limits(Limits { max_symlinks: 3, ..Limits::default() });
    assert_eq!(stat(&mut ns, "/chain/c2").unwrap().size, 10);
    assert_eq!(stat(&mut ns, "/chain/c3"), Err(VfsError::Loop));
    ns.set_limits(Limits { max_symlinks: 0, ..Limits::default() });
    assert_eq!(stat(&mut ns, "/deep"), Err(VfsError::Loop));
    assert_eq!(lstat(&mut ns, "/deep").unwrap().ftype, FileType::Symlink);
}

#[test]
fn component_and_path_lengths() {
    let mut ns = world();
    let at = ns.root();
    let c = root();
    let name255: Vec<u8> = [b"/r1/".as_slice(), &[b'n'; 255]].concat();
    let name256: Vec<u8> = [b"/r1/".as_slice(), &[b'n'; 256]].concat();
    ns.mkdir(&c, &at, &name255, 0o755).unwrap();
    assert_eq!(ns.stat(&c, &at, &name255).unwrap().ftype, FileType::Directory);
    assert_eq!(ns.mkdir(&c, &at, &name256, 0o755), Err(VfsError::NameTooLong));
    assert_eq!(ns.stat(&c, &at, &name256), Err(VfsError::NameTooLong));
    // A long component is refused even where the path goes no further.
    let mid: Vec<u8> = [&name256[..], b"/../etc"].concat();
    assert_eq!(ns.stat(&c, &at, &mid), Err(VfsError::NameTooLong));
    // A smaller name limit.
    ns.set_limits(Limits { max_name: 4, ..Limits::default() });
    assert_eq!(ns.stat(&c, &at, b"/etc/passwd"), Err(VfsError::NameTooLong));
    assert_eq!(ns.stat(&c, &at, b"/etc/pass").map(|_| ()), Err(VfsError::NoEnt)); // 4 bytes: looked up
    assert_eq!(ns.stat(&c, &at, b"/etc/").unwrap().ftype, FileType::Directory);
    ns.set_limits(Limits { max_name: 10_000, ..Limits::default() }); // capped at 255
    assert_eq!(ns.stat(&c, &at, &name256), Err(VfsError::NameTooLong));
    // Paths: 1024 bytes resolve, 1025 do not.
    let mut p = std::vec![b'/'; 1024 - b"etc/passwd".len()];
    p.extend_from_slice(b"etc/passwd");
    assert_eq!(ns.stat(&c, &at, &p).unwrap().size, 10);
    p.insert(0, b'/');
    assert_eq!(ns.stat(&c, &at, &p), Err(VfsError::NameTooLong));
    let dots: Vec<u8> = b"./".repeat(512);
    assert_eq!(ns.stat(&c, &at, &dots).unwrap().fsid, 1);
    assert_eq!(ns.stat(&c, &at, &[&dots[..], b"x"].concat()), Err(VfsError::NameTooLong));
}

#[test]
fn link_expansion_must_fit_the_buffer() {
    let mut ns = world();
    let at = ns.root();
    let c = root();
    // A 30-byte target in front of a rest of 1000 bytes leaves room for 24 of the 1024.
    let target: Vec<u8> = [b"/etc".as_slice(), &[b'/'; 26]].concat();
    assert_eq!(target.len(), 30);
    ns.symlink(&c, &at, &target, b"/e30").unwrap();
    ns.symlink(&c, &at, &target[..20], b"/e20").unwrap();
    let rest: Vec<u8> = [&[b'/'; 990][..], b"passwd"].concat();
    let via = |l: &[u8]| [l, &rest[..]].concat();
    assert_eq!(via(b"/e20").len(), 1000);
    assert_eq!(ns.stat(&c, &at, &via(b"/e20")).unwrap().size, 10); // 20 + 996 ≤ 1024
    assert_eq!(ns.stat(&c, &at, &via(b"/e30")), Err(VfsError::NameTooLong)); // 30 + 996 > 1024
    // Exactly at the limit: the target fills all the room in front of the rest.
    let room = 1024 - 996;
    let exact: Vec<u8> = [b"/etc".as_slice(), &std::vec![b'/'; room - 4]].concat();
    ns.symlink(&c, &at, &exact, b"/ex").unwrap();
    assert_eq!(ns.stat(&c, &at, &via(b"/ex")).unwrap().size, 10);
    // Targets: empty, too long, NUL.
    assert_eq!(ns.symlink(&c, &at, b"", b"/empty"), Err(VfsError::NoEnt));
    assert_eq!(ns.symlink(&c, &at, &[b'a'; 1025], b"/long"), Err(VfsError::NameTooLong));
    assert_eq!(ns.symlink(&c, &at, b"a\0b", b"/nul"), Err(VfsError::Inval));
    ns.symlink(&c, &at, &[b'/'; 1024], b"/slashes").unwrap();
    assert_eq!(ns.stat(&c, &at, b"/slashes").unwrap().fileid, ns.stat(&c, &at, b"/").unwrap().fileid);
    let mut out = [0u8; 2000];
    assert_eq!(ns.readlink(&c, &at, b"/slashes", &mut out), Ok(1024));
}

#[test]
fn hostile_paths() {
    let mut ns = world();
    let at = ns.root();
    let c = root();
    assert_eq!(ns.stat(&c, &at, b""), Err(VfsError::NoEnt));
    assert_eq!(ns.stat(&c, &at, b"/etc\0/passwd"), Err(VfsError::Inval));
    assert_eq!(ns.stat(&c, &at, b"\0"), Err(VfsError::Inval));
    assert_eq!(ns.stat(&c, &at, b"/etc/passwd/x"), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &at, b"/etc/passwd/."), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &at, b"/etc/passwd/.."), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &at, b"/etc/passwd/"), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &at, b"/deep/"), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &at, b"/nope/.."), Err(VfsError::NoEnt));
    assert_eq!(ns.stat(&c, &at, b"...").map(|_| ()), Err(VfsError::NoEnt));
    assert_eq!(ns.stat(&c, &at, &[0xff, 0xfe]), Err(VfsError::NoEnt)); // any bytes are a name
    // A relative path from a file.
    let file = ns.locate(&c, &at, b"/etc/passwd").unwrap();
    assert_eq!(ns.stat(&c, &file, b"x"), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &file, b".").map(|_| ()), Err(VfsError::NotDir));
    assert_eq!(ns.stat(&c, &file, b"/etc").unwrap().fsid, 1);
    assert_eq!(ns.chdir(&c, &at, b"/etc/passwd"), Err(VfsError::NotDir));
    // A forged location: a handle no back end issued.
    let forged = Loc { mount: R1, handle: crate::fs::Handle::new(&[7; 16]).unwrap() };
    assert_eq!(ns.stat(&c, &forged, b"x"), Err(VfsError::Stale));
    let short = Loc { mount: R1, handle: crate::fs::Handle::new(&[1]).unwrap() };
    assert_eq!(ns.stat(&c, &short, b"."), Err(VfsError::Stale));
}

#[test]
fn last_components_that_are_not_names() {
    let mut ns = world();
    let at = ns.root();
    let c = root();
    for p in ["/", "/etc/.", "/etc/..", "/r1/..", "/r1/sub/r2/.."] {
        assert_eq!(ns.mkdir(&c, &at, p.as_bytes(), 0o755), Err(VfsError::Exist), "{p}");
        assert_eq!(ns.symlink(&c, &at, b"x", p.as_bytes()), Err(VfsError::Exist), "{p}");
        assert_eq!(ns.link(&c, &at, b"/etc/passwd", p.as_bytes()), Err(VfsError::Exist), "{p}");
        assert_eq!(ns.unlink(&c, &at, p.as_bytes()), Err(VfsError::IsDir), "{p}");
        // The mount that counts for EXDEV is the one `.` or `..` is taken in, as Linux.
        let e = if p.starts_with("/r1") { VfsError::XDev } else { VfsError::Busy };
        assert_eq!(rename(&mut ns, p, "/x"), Err(e), "{p}");
        assert_eq!(rename(&mut ns, "/etc/passwd", p), Err(e), "{p}");
    }
    assert_eq!(rename(&mut ns, "/r1/sub/r2/..", "/r1/sub/r2/x"), Err(VfsError::Busy));
    assert_eq!(rename(&mut ns, "/r1/..", "/r1/x"), Err(VfsError::Busy));
    assert_eq!(ns.rmdir(&c, &at, b"/etc/."), Err(VfsError::Inval));
    assert_eq!(ns.rmdir(&c, &at, b"/etc/.."), Err(VfsError::NotEmpty));
    assert_eq!(ns.rmdir(&c, &at, b"//"), Err(VfsError::Busy));
    // Trailing slashes.
    ns.mkdir(&c, &at, b"/newdir//", 0o755).unwrap();
    assert_eq!(ns.unlink(&c, &at, b"/etc/passwd/"), Err(VfsError::NotDir));
    assert_eq!(ns.rmdir(&c, &at, b"/etc/passwd"), Err(VfsError::NotDir));
    assert_eq!(ns.rmdir(&c, &at, b"/etc"), Err(VfsError::NotEmpty));
    assert_eq!(rename(&mut ns, "/etc/passwd/", "/etc/pw"), Err(VfsError::NotDir));
    assert_eq!(rename(&mut ns, "/etc/passwd", "/etc/pw/"), Err(VfsError::NotDir));
    assert_eq!(ns.symlink(&c, &at, b"x", b"/etc/new/"), Err(VfsError::NoEnt));
    assert_eq!(ns.link(&c, &at, b"/etc/passwd", b"/etc/new/"), Err(VfsError::NoEnt));
    // A symlink to a directory with a trailing slash: never followed by the calls that
    // remove or create the name itself.
    symlink(&mut ns, "/newdir", "/ld").unwrap();
    assert_eq!(ns.rmdir(&c, &at, b"/ld/"), Err(VfsError::NotDir));
    assert_eq!(ns.unlink(&c, &at, b"/ld/"), Err(VfsError::NotDir));
    assert_eq!(ns.mkdir(&c, &at, b"/ld/", 0o755), Err(VfsError::Exist));
    assert_eq!(lstat(&mut ns, "/newdir").unwrap().ftype, FileType::Directory);
    rename(&mut ns, "/newdir/", "/newdir2/").unwrap();
    // Moving a directory under itself.
    mkdir(&mut ns, "/newdir2/in").unwrap();
    assert_eq!(rename(&mut ns, "/newdir2", "/newdir2/in/x"), Err(VfsError::Inval));
    assert_eq!(rename(&mut ns, "/newdir2/in", "/newdir2"), Err(VfsError::NotEmpty));
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random bytes (biased to `/`, `.`, NUL and names of the world) as paths for every call:
/// nothing panics, every error has an errno, and the files outside the ones these calls may
/// touch keep their content.
#[test]
fn random_bytes_as_paths() {
    const BYTES: &[u8] = b"/./..\0abcdelrst12/";
    const WORDS: [&[u8]; 8] = [b"r1", b"sub", b"r2", b"deep", b"tmp", b"data", b"back", b"up"];
    let mut ns = world();
    let c = root();
    let mut r = Rng(0x5eed);
    let mut successes = 0;
    for _ in 0..20_000 {
        let mut p = Vec::new();
        for _ in 0..r.below(12) {
            if r.below(3) == 0 {
                p.extend_from_slice(WORDS[r.below(WORDS.len())]);
            } else {
                p.push(BYTES[r.below(BYTES.len())]);
            }
        }
        if r.below(50) == 0 {
            p.extend(std::iter::repeat_n(b'/', r.below(1100)));
        }
        let at = if r.below(2) == 0 { ns.root() } else { ns.locate(&c, &ns.root(), b"/r1/sub/r2").unwrap() };
        let q = [b"/tmp/".as_slice(), &p].concat();
        let res = match r.below(9) {
            0 => ns.stat(&c, &at, &p).map(|_| ()),
            1 => ns.lstat(&c, &at, &p).map(|_| ()),
            2 => ns.open(&c, &at, &p, OpenFlags::RDONLY, 0).and_then(|fd| ns.close(fd)),
            3 => ns.readlink(&c, &at, &p, &mut [0; 8]).map(|_| ()),
            4 => ns.mkdir(&c, &at, &q, 0o755),
            5 => ns.symlink(&c, &at, &p, &q),
            6 => ns.open(&c, &at, &q, OpenFlags::RDWR | OpenFlags::CREAT, 0o600).and_then(|fd| ns.close(fd)),
            7 => ns.rename(&c, &at, &q, &[b"/tmp/".as_slice(), &p[..p.len() / 2]].concat()),
            _ => ns.readdir_at(&c, &at, &p, DirPos::START, &mut |_| true).map(|_| ()),
        };
        match res {
            Ok(()) => successes += 1,
            Err(e) => assert_eq!(VfsError::from_errno(e.errno()), Some(e)),
        }
        assert_eq!(ns.open_files().count(), 0);
    }
    assert!(successes > 500, "{successes}");
    assert_eq!(get(&mut ns, "/etc/passwd").unwrap(), b"root:x:0:0");
    assert_eq!(get(&mut ns, "/r1/notes.txt").unwrap(), b"notes");
}
