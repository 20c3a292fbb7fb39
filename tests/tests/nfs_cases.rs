//! `tern serve` over HostFs against the cases other NFS servers got wrong: large directories
//! listed with small budgets (also while they change), offsets above 4 GiB, the write verifier
//! across a restart, EXCLUSIVE CREATE retransmissions, the duplicate request cache, `..` and
//! symlinks at the edge of the export, `ro`, `root_squash`, clients outside the exports, and
//! malformed calls.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tern_core::mount::MountStat;
use tern_core::nfs3::{
    CreateArgs, CreateHow3, DirOpArgs3, FType3, FileHandle, Filename, GetattrArgs, LinkArgs, MkdirArgs, MknodData3,
    NfsStat3, RemoveArgs, RenameArgs, RmdirArgs, Sattr3, StableHow, Verifier, WriteArgs, access, procs,
};
use tern_core::rpc::AcceptStat;
use tern_core::rpc::client::CallFailure;
use tern_core::xdr;
use tern_tests::nfs::{
    DirEntry, Listing, NFS, NfsClient, NfsOutcome, RawArgs, RawTcp, TernServe, encode, export_line, is_garbage_args,
    parse_reply, temp_dir,
};

const GIB: u64 = 1 << 30;
/// Options of a writable export for 127.0.0.1 without squashing.
const RW: &str = "rw,no_root_squash,insecure";
const UNCHANGED: Sattr3 = Sattr3::UNCHANGED;

/// One export served by `tern serve`, its root handle and a TCP client (uid 0).
struct Rig {
    dir: PathBuf,
    export: PathBuf,
    s: TernServe,
    root: Vec<u8>,
    c: NfsClient,
}

impl Rig {
    /// Serves a fresh directory, prepared by `setup`, to 127.0.0.1 with `options`.
    fn new(name: &str, options: &str, setup: impl FnOnce(&Path)) -> Rig {
        let dir = temp_dir(name);
        let export = dir.join("export");
        std::fs::create_dir_all(&export).unwrap();
        setup(&export);
        let s = TernServe::start(&[export_line(&export, options)], &dir.join("state"), None);
        let root = s.mount_root(&export);
        let c = s.client();
        Rig { dir, export, s, root, c }
    }

    /// The handle of `name` in the export root.
    fn lookup(&mut self, name: &str) -> Vec<u8> {
        let root = self.root.clone();
        self.c.lookup(&root, name).expect_ok(&format!("LOOKUP {name}")).object
    }

    /// Stops the server (which must exit cleanly) and removes the directories.
    fn done(self) {
        let log = self.s.log();
        assert!(self.s.stop().success(), "tern serve did not exit cleanly:\n{log}");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn entry_name(i: usize) -> String {
    format!("entry-{i:05}")
}

/// Creates `n` empty files `entry-00000`... in `dir`.
fn populate(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        std::fs::File::create(dir.join(entry_name(i))).unwrap();
    }
}

/// How often each name was listed.
fn name_counts(entries: &[DirEntry]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for e in entries {
        *counts.entry(e.name()).or_insert(0) += 1;
    }
    counts
}

fn listed_twice(counts: &HashMap<String, usize>) -> Vec<(&String, &usize)> {
    let mut twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    twice.sort();
    twice
}

/// Every object below `dir`: path, size, mode, owner, mtime (to show that nothing changed).
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, u32, u32, i64, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            out.push((rel, m.len(), m.mode(), m.uid(), m.mtime(), m.mtime_nsec()));
        }
    }
    out.sort();
    out
}

/// The `nfsstat3` of a raw NFS reply (every NFSv3 result starts with it).
#[track_caller]
fn raw_status(reply: &[u8]) -> NfsStat3 {
    let (_, res) = parse_reply(reply).expect("an RPC reply");
    let results = res.unwrap_or_else(|e| panic!("call refused: {e}"));
    xdr::Reader::new(results).read::<NfsStat3>().expect("an nfsstat3")
}

#[track_caller]
fn fh(bytes: &[u8]) -> FileHandle<'_> {
    FileHandle::new(bytes).unwrap()
}

#[test]
fn readdir_of_10000_entries_with_small_budgets() {
    const N: usize = 10_000;
    let mut rig = Rig::new("readdir-big", RW, |e| populate(&e.join("big"), N));
    let big = rig.lookup("big");
    let want: BTreeSet<String> = (0..N).map(entry_name).chain([".".into(), "..".into()]).collect();
    for how in [Listing::Readdir(1024), Listing::Plus(1024, 4096)] {
        let mut pages = 0;
        let entries = rig.c.list_dir(&big, how, |p| {
            pages += 1;
            // Every page keeps to the budgets (the first entry is always admitted by dircount).
            let (max, dircount) = match how {
                Listing::Readdir(count) => (count, usize::MAX),
                Listing::Plus(dircount, maxcount) => (maxcount, dircount as usize),
            };
            assert!(p.result_len <= max as usize, "{how:?} page {}: {} bytes", p.index, p.result_len);
            assert!(p.entries == 1 || p.dircount_used <= dircount, "{how:?} page {}: {p:?}", p.index);
            assert!(p.entries > 0 || p.eof, "{how:?} page {}: empty", p.index);
        });
        let counts = name_counts(&entries);
        assert!(listed_twice(&counts).is_empty(), "{how:?}: names listed twice: {:?}", listed_twice(&counts));
        let got: BTreeSet<String> = counts.into_keys().collect();
        let missing: Vec<_> = want.difference(&got).take(10).collect();
        let extra: Vec<_> = got.difference(&want).take(10).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{how:?}: missing {missing:?}, extra {extra:?}");
        assert!(pages > 100, "{how:?}: {pages} pages only: the budgets were not small");
        if let Listing::Plus(..) = how {
            for e in entries.iter().filter(|e| e.name != b"..") {
                let a = e.attributes.unwrap_or_else(|| panic!("{}: no attributes", e.name()));
                assert_eq!(a.fileid, e.fileid, "{}", e.name());
                assert!(e.handle.is_some(), "{}: no handle", e.name());
            }
            let e = entries.iter().find(|e| e.name == b"entry-04321").unwrap();
            let looked = rig.c.lookup(&big, "entry-04321").expect_ok("LOOKUP entry-04321").object;
            assert_eq!(e.handle.as_ref(), Some(&looked), "READDIRPLUS and LOOKUP give the same handle");
        }
    }
    rig.done();
}

#[test]
fn readdir_while_entries_come_and_go() {
    const N: usize = 10_000;
    let mut rig = Rig::new("readdir-churn", RW, |e| {
        populate(&e.join("plain"), N);
        populate(&e.join("plus"), N);
    });
    for (sub, how) in [("plain", Listing::Readdir(1024)), ("plus", Listing::Plus(1024, 4096))] {
        let host = rig.export.join(sub);
        let dir = rig.lookup(sub);
        // Between two pages, 5 names are added and 5 of every seventh initial name removed.
        let doomed: Vec<String> = (0..N).filter(|i| i % 7 == 3).map(entry_name).collect();
        let mut doomed_iter = doomed.iter();
        let (mut added, mut removed) = (BTreeSet::new(), BTreeSet::new());
        let entries = rig.c.list_dir(&dir, how, |p| {
            if p.eof {
                return;
            }
            let page = p.index;
            for k in 0..5 {
                let name = format!("added-{page:04}-{k}");
                std::fs::File::create(host.join(&name)).unwrap();
                added.insert(name);
            }
            for name in doomed_iter.by_ref().take(5) {
                std::fs::remove_file(host.join(name)).unwrap();
                removed.insert(name.clone());
            }
        });
        assert!(added.len() >= 500 && removed.len() >= 500, "{how:?}: too little churn ({})", added.len());
        let counts = name_counts(&entries);
        assert!(listed_twice(&counts).is_empty(), "{how:?}: names listed twice: {:?}", listed_twice(&counts));
        for name in (0..N).map(entry_name).filter(|n| !removed.contains(n)).chain([".".into(), "..".into()]) {
            assert_eq!(counts.get(&name), Some(&1), "{how:?}: untouched {name} not listed exactly once");
        }
        for name in counts.keys() {
            let known = name == "." || name == ".." || name.starts_with("entry-") || added.contains(name);
            assert!(known, "{how:?}: listed a name nobody made: {name}");
        }
    }
    rig.done();
}

#[test]
fn offsets_beyond_4_gib() {
    let mut rig = Rig::new("big-offsets", RW, |_| {});
    let root = rig.root.clone();
    let c = &mut rig.c;
    let f = c.create(&root, "sparse", CreateHow3::Guarded(UNCHANGED)).expect_ok("CREATE").fh();
    let at = 5 * GIB;
    let w = c.write(&f, at, b"beyond four GiB", StableHow::FileSync).expect_ok("WRITE at 5 GiB");
    assert_eq!(w.count, 15);
    // Across the 4 GiB boundary.
    assert_eq!(c.write(&f, 4 * GIB - 2, b"edge", StableHow::Unstable).expect_ok("WRITE across 4 GiB").count, 4);
    let a = c.getattr(&f).expect_ok("GETATTR");
    assert_eq!(a.size, at + 15);
    assert!(a.used < 1 << 20, "the file is sparse: {} bytes used", a.used);
    assert_eq!(std::fs::metadata(rig.export.join("sparse")).unwrap().len(), at + 15);
    let r = c.read(&f, at, 100).expect_ok("READ at 5 GiB");
    assert_eq!((r.data.as_slice(), r.eof), (&b"beyond four GiB"[..], true));
    assert_eq!(r.file_attributes.map(|a| a.size), Some(at + 15));
    let r = c.read(&f, 4 * GIB - 4, 8).expect_ok("READ across 4 GiB");
    assert_eq!(r.data, [0, 0, b'e', b'd', b'g', b'e', 0, 0]);
    // Holes read as zeros.
    for (off, len) in [(4 * GIB + 4096, 65536u32), (GIB + 3, 1000), (at - 100, 100)] {
        let r = c.read(&f, off, len).expect_ok("READ of the hole");
        assert_eq!(r.data.len(), len as usize, "hole at {off:#x}");
        assert!(r.data.iter().all(|&b| b == 0) && !r.eof, "hole at {off:#x}");
    }
    let r = c.read(&f, 6 * GIB, 10).expect_ok("READ past the end");
    assert!(r.data.is_empty() && r.eof);
    c.commit(&f, at, 15).expect_ok("COMMIT at 5 GiB");
    // Truncation to just above 4 GiB.
    c.setattr(&f, Sattr3 { size: Some(4 * GIB + 1), ..UNCHANGED }, None).expect_ok("SETATTR size");
    assert_eq!(c.getattr(&f).expect_ok("GETATTR").size, 4 * GIB + 1);
    let r = c.read(&f, 4 * GIB - 2, 10).expect_ok("READ the new end");
    assert_eq!((r.data.as_slice(), r.eof), (&b"edg"[..], true));
    rig.done();
}

#[test]
fn commit_verifier_changes_across_a_restart() {
    let dir = temp_dir("restart-verf");
    let (export, state) = (dir.join("export"), dir.join("state"));
    std::fs::create_dir_all(&export).unwrap();
    let lines = [export_line(&export, RW)];
    let s = TernServe::start(&lines, &state, None);
    let root = s.mount_root(&export);
    let mut c = s.client();
    let f = c.create(&root, "data", CreateHow3::Unchecked(UNCHANGED)).expect_ok("CREATE").fh();
    let before = c.write(&f, 0, b"unstable bytes", StableHow::Unstable).expect_ok("WRITE").verf;
    assert_eq!(c.commit(&f, 0, 0).expect_ok("COMMIT").verf, before);
    assert_eq!(c.write(&f, 14, b"!", StableHow::Unstable).expect_ok("WRITE").verf, before, "one verifier per life");
    let ports = (s.nfs, s.mount);
    drop(c);
    assert!(s.stop().success());

    let s = TernServe::start(&lines, &state, Some(ports));
    let mut c = s.client();
    assert_eq!(c.getattr(&f).expect_ok("GETATTR after the restart").size, 15);
    assert_eq!(c.read(&f, 0, 100).expect_ok("READ after the restart").data, b"unstable bytes!");
    let after = c.commit(&f, 0, 0).expect_ok("COMMIT after the restart").verf;
    assert_ne!(after, before, "the write verifier must change when the server restarts");
    assert_eq!(c.write(&f, 15, b"?", StableHow::Unstable).expect_ok("WRITE").verf, after);
    assert_eq!(c.lookup(&root, "data").expect_ok("LOOKUP").object, f, "same handle after the restart");
    assert!(s.stop().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exclusive_create_is_idempotent() {
    let mut rig = Rig::new("exclusive", RW, |e| std::fs::write(e.join("plain"), b"made on the host").unwrap());
    let root = rig.root.clone();
    let c = &mut rig.c;
    let (a, b) = (Verifier(*b"verif-A1"), Verifier(*b"verif-B2"));
    let first = c.create(&root, "excl", CreateHow3::Exclusive(a)).expect_ok("CREATE EXCLUSIVE").fh();
    let again = c.create(&root, "excl", CreateHow3::Exclusive(a)).expect_ok("retransmitted CREATE EXCLUSIVE").fh();
    assert_eq!(again, first, "a retransmission gets the same file");
    assert_eq!(c.create(&root, "excl", CreateHow3::Exclusive(b)).status(), NfsStat3::Exist);
    assert_eq!(c.create(&root, "excl", CreateHow3::Guarded(UNCHANGED)).status(), NfsStat3::Exist);
    assert_eq!(c.create(&root, "plain", CreateHow3::Exclusive(a)).status(), NfsStat3::Exist);
    // The client's SETATTR after an exclusive create (mode only) keeps the retransmission good.
    c.setattr(&first, Sattr3 { mode: Some(0o640), ..UNCHANGED }, None).expect_ok("SETATTR");
    assert_eq!(c.create(&root, "excl", CreateHow3::Exclusive(a)).expect_ok("CREATE EXCLUSIVE again").fh(), first);
    let listed = c.list_dir(&root, Listing::Readdir(4096), |_| {});
    assert_eq!(name_counts(&listed).get("excl"), Some(&1));
    rig.done();
}

#[test]
fn duplicate_request_cache_replays_the_original_reply() {
    let mut rig = Rig::new("drc", RW, |e| {
        for name in ["victim", "from", "target", "pipelined", "x1", "x2"] {
            std::fs::write(e.join(name), name).unwrap();
        }
    });
    let root = rig.root.clone();
    let target = rig.lookup("target");
    let mut raw = RawTcp::connect(rig.s.nfs_addr()).unwrap();
    let dirop = |name| DirOpArgs3 { dir: fh(&root), name: Filename::from_str(name) };
    // (procedure, arguments, status of a new call with the same arguments)
    let cases: Vec<(&str, u32, Vec<u8>, NfsStat3)> = vec![
        ("REMOVE", procs::REMOVE, encode(&RemoveArgs { object: dirop("victim") }), NfsStat3::NoEnt),
        ("RENAME", procs::RENAME, encode(&RenameArgs { from: dirop("from"), to: dirop("to") }), NfsStat3::NoEnt),
        ("LINK", procs::LINK, encode(&LinkArgs { file: fh(&target), link: dirop("hard") }), NfsStat3::Exist),
        (
            "CREATE GUARDED",
            procs::CREATE,
            encode(&CreateArgs { where_: dirop("guarded"), how: CreateHow3::Guarded(UNCHANGED) }),
            NfsStat3::Exist,
        ),
        ("MKDIR", procs::MKDIR, encode(&MkdirArgs { where_: dirop("newdir"), attributes: UNCHANGED }), NfsStat3::Exist),
        ("RMDIR", procs::RMDIR, encode(&RmdirArgs { object: dirop("newdir") }), NfsStat3::NoEnt),
    ];
    for (what, proc_, args, fresh_status) in &cases {
        let (_, msg) = raw.encode(NFS, *proc_, &RawArgs(args));
        let first = raw.exchange(&msg).unwrap();
        let second = raw.exchange(&msg).unwrap();
        assert_eq!(raw_status(&first), NfsStat3::Ok, "{what}");
        assert_eq!(first, second, "{what}: the retransmission's reply is not the original");
        // A new call (new xid) with the same arguments runs again.
        let (_, fresh) = raw.encode(NFS, *proc_, &RawArgs(args));
        assert_eq!(raw_status(&raw.exchange(&fresh).unwrap()), *fresh_status, "{what} with a new xid");
    }
    assert!(!rig.export.join("victim").exists() && rig.export.join("to").exists());

    // The same record twice in one go (pipelined): the same reply twice.
    let (_, msg) = raw.encode(NFS, procs::REMOVE, &RemoveArgs { object: dirop("pipelined") });
    raw.send(&msg).unwrap();
    raw.send(&msg).unwrap();
    let (first, second) = (raw.recv().unwrap(), raw.recv().unwrap());
    assert_eq!(raw_status(&first), NfsStat3::Ok);
    assert_eq!(first, second, "pipelined retransmission");

    // Over UDP: a datagram sent twice from one socket gets the same reply twice.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(rig.s.nfs_addr()).unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::fs::write(rig.export.join("by-udp"), b"udp").unwrap();
    let (_, msg) = raw.encode(NFS, procs::REMOVE, &RemoveArgs { object: dirop("by-udp") });
    let mut replies = Vec::new();
    for _ in 0..2 {
        udp.send(&msg).unwrap();
        let mut buf = vec![0u8; 65_536];
        let n = udp.recv(&mut buf).unwrap();
        buf.truncate(n);
        replies.push(buf);
    }
    assert_eq!(raw_status(&replies[0]), NfsStat3::Ok);
    assert_eq!(replies[0], replies[1], "UDP retransmission");

    // An xid reused for other arguments is not answered from the cache.
    let (xid, msg) = raw.encode(NFS, procs::REMOVE, &RemoveArgs { object: dirop("x1") });
    assert_eq!(raw_status(&raw.exchange(&msg).unwrap()), NfsStat3::Ok);
    let (_, mut other) = raw.encode(NFS, procs::REMOVE, &RemoveArgs { object: dirop("x2") });
    other[..4].copy_from_slice(&xid.to_be_bytes());
    assert_eq!(raw_status(&raw.exchange(&other).unwrap()), NfsStat3::Ok);
    assert!(!rig.export.join("x2").exists(), "REMOVE x2 with x1's xid was not run");
    rig.done();
}

#[test]
fn dotdot_and_symlinks_stay_inside_the_export() {
    let mut rig = Rig::new("escape", RW, |e| {
        symlink("/", e.join("to-root")).unwrap();
        symlink("..", e.join("to-parent")).unwrap();
        symlink("/etc", e.join("to-etc")).unwrap();
        std::fs::create_dir(e.join("sub")).unwrap();
    });
    let root = rig.root.clone();
    let sub = rig.lookup("sub");
    let c = &mut rig.c;
    let root_id = c.getattr(&root).expect_ok("GETATTR root").fileid;
    for name in [".", ".."] {
        assert_eq!(c.lookup(&root, name).expect_ok(name).object, root, "LOOKUP {name} of the export root");
    }
    assert_eq!(c.lookup(&sub, "..").expect_ok("LOOKUP sub/..").object, root);
    let up = c.lookup(&root, "..").expect_ok("..").object;
    assert_eq!(c.lookup(&up, "..").expect_ok("../..").object, root);
    let listed = c.list_dir(&root, Listing::Readdir(4096), |_| {});
    let dotdot = listed.iter().find(|e| e.name == b"..").expect("a .. entry");
    assert_eq!(dotdot.fileid, root_id, "`..` of the export root lists the root itself");
    // Names with a slash are refused, never walked.
    assert_eq!(c.lookup(&root, "../..").status(), NfsStat3::Inval);
    assert_eq!(c.lookup(&sub, "../sub").status(), NfsStat3::Inval);

    for (link, target) in [("to-root", "/"), ("to-parent", ".."), ("to-etc", "/etc")] {
        let l = c.lookup(&root, link).expect_ok(link);
        assert_eq!(l.obj_attributes.map(|a| a.ftype), Some(FType3::Lnk), "{link}");
        let h = l.object;
        assert_eq!(c.readlink(&h).expect_ok("READLINK").data, target.as_bytes());
        for name in ["etc", "passwd", "..", "."] {
            assert_eq!(c.lookup(&h, name).status(), NfsStat3::NotDir, "LOOKUP {link}/{name}");
        }
        assert_eq!(c.readdir(&h, 0, Verifier::default(), 4096).status(), NfsStat3::NotDir, "READDIR {link}");
        assert_eq!(c.readdirplus(&h, 0, Verifier::default(), 1024, 4096).status(), NfsStat3::NotDir);
        assert_eq!(c.create(&h, "planted", CreateHow3::Unchecked(UNCHANGED)).status(), NfsStat3::NotDir);
        assert_eq!(c.mkdir(&h, "planted", UNCHANGED).status(), NfsStat3::NotDir);
        assert_eq!(c.read(&h, 0, 10).status(), NfsStat3::Inval, "READ {link}");
    }
    // MNT through a symlink or above the export.
    let mut m = NfsClient::tcp(rig.s.mount_addr()).unwrap();
    let e = rig.export.display();
    assert_eq!(m.mnt(&format!("{e}/to-root")).unwrap().err(), Some(MountStat::NotDir));
    assert_eq!(m.mnt(&format!("{e}/to-etc")).unwrap().err(), Some(MountStat::NotDir));
    assert_eq!(m.mnt(&format!("{e}/..")).unwrap().err(), Some(MountStat::Inval));
    assert!(!Path::new("/planted").exists() && !Path::new("/etc/planted").exists());
    rig.done();
}

#[test]
fn ro_export_refuses_every_change() {
    let mut rig = Rig::new("ro", "ro,no_root_squash,insecure", |e| {
        std::fs::write(e.join("file"), b"read only").unwrap();
        std::fs::create_dir(e.join("dir")).unwrap();
        std::fs::create_dir(e.join("empty")).unwrap();
    });
    let (root, file, dir) = (rig.root.clone(), rig.lookup("file"), rig.lookup("dir"));
    let before = snapshot(&rig.export);
    let c = &mut rig.c;
    let statuses = [
        ("SETATTR mode", c.setattr(&file, Sattr3 { mode: Some(0o600), ..UNCHANGED }, None).status()),
        ("SETATTR size", c.setattr(&file, Sattr3 { size: Some(0), ..UNCHANGED }, None).status()),
        ("WRITE", c.write(&file, 0, b"x", StableHow::FileSync).status()),
        ("CREATE UNCHECKED", c.create(&root, "new", CreateHow3::Unchecked(UNCHANGED)).status()),
        ("CREATE GUARDED", c.create(&root, "new", CreateHow3::Guarded(UNCHANGED)).status()),
        ("CREATE EXCLUSIVE", c.create(&root, "new", CreateHow3::Exclusive(Verifier([1; 8]))).status()),
        ("MKDIR", c.mkdir(&root, "newdir", UNCHANGED).status()),
        ("SYMLINK", c.symlink(&root, "newlink", "file", UNCHANGED).status()),
        ("MKNOD", c.mknod(&root, "fifo", MknodData3::Fifo(UNCHANGED)).status()),
        ("REMOVE", c.remove(&root, "file").status()),
        ("RMDIR", c.rmdir(&root, "empty").status()),
        ("RENAME", c.rename(&root, "file", &dir, "moved").status()),
        ("LINK", c.link(&file, &dir, "hard").status()),
        ("COMMIT", c.commit(&file, 0, 0).status()),
    ];
    for (what, st) in statuses {
        assert_eq!(st, NfsStat3::RoFs, "{what} on an ro export");
    }
    assert_eq!(snapshot(&rig.export), before, "an ro export changed");
    assert_eq!(c.read(&file, 0, 100).expect_ok("READ").data, b"read only");
    c.list_dir(&root, Listing::Plus(4096, 8192), |_| {});
    let write_bits = access::MODIFY | access::EXTEND | access::DELETE;
    for h in [&file, &root] {
        let granted = c.access(h, access::ALL).expect_ok("ACCESS").access;
        assert_eq!(granted & write_bits, 0, "ACCESS grants changes on an ro export: {granted:#x}");
        assert_ne!(granted & access::READ, 0);
    }
    rig.done();
}

#[test]
fn root_squash_maps_uid_0_to_nobody() {
    let mut rig = Rig::new("squash", "rw,root_squash,insecure", |e| {
        std::fs::set_permissions(e, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(e.join("secret"), b"root only").unwrap();
        std::fs::set_permissions(e.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    });
    let root = rig.root.clone();
    let secret = rig.lookup("secret");
    let c = &mut rig.c;
    let made = c.create(&root, "by-root", CreateHow3::Guarded(UNCHANGED)).expect_ok("CREATE as uid 0");
    let a = made.obj_attributes.expect("attributes");
    assert_eq!((a.uid, a.gid), (65534, 65534), "a file created by uid 0 belongs to nobody");
    let host = std::fs::metadata(rig.export.join("by-root")).unwrap();
    assert_eq!((host.uid(), host.gid()), (65534, 65534));
    let d = c.mkdir(&root, "dir-by-root", UNCHANGED).expect_ok("MKDIR as uid 0").obj_attributes.unwrap();
    assert_eq!(d.uid, 65534);
    // Squashed root is nobody: no reading root's private file, no chown to root.
    assert_eq!(c.read(&secret, 0, 10).status(), NfsStat3::Acces);
    assert_eq!(c.setattr(&made.fh(), Sattr3 { uid: Some(0), ..UNCHANGED }, None).status(), NfsStat3::Perm);
    // Other users keep their identity.
    let mut user = rig.s.client().as_user(1000, 1000);
    let a = user.create(&root, "by-user", CreateHow3::Guarded(UNCHANGED)).expect_ok("CREATE as 1000");
    assert_eq!(a.obj_attributes.map(|a| (a.uid, a.gid)), Some((1000, 1000)));
    rig.done();
}

#[test]
fn client_outside_the_exports_is_refused() {
    let dir = temp_dir("refused");
    let (export, state) = (dir.join("export"), dir.join("state"));
    std::fs::create_dir_all(export.join("dir")).unwrap();
    std::fs::write(export.join("file"), b"data").unwrap();
    symlink("file", export.join("link")).unwrap();
    let line = format!("{} 127.0.0.2(rw,no_root_squash,insecure)", export.display());
    let s = TernServe::start(&[line], &state, None);
    let path = export.display().to_string();
    let other: IpAddr = "127.0.0.2".parse().unwrap();

    // MNT from 127.0.0.1 (TCP and UDP) is refused; from 127.0.0.2 it is granted.
    let mut m = NfsClient::tcp(s.mount_addr()).unwrap();
    assert_eq!(m.mnt(&path).unwrap().err(), Some(MountStat::Acces));
    let mut m = NfsClient::udp(s.mount_addr()).unwrap();
    assert_eq!(m.mnt(&path).unwrap().err(), Some(MountStat::Acces));
    let mut m = NfsClient::udp_from(other, s.mount_addr()).unwrap();
    let root = m.mnt(&path).unwrap().expect("MNT from 127.0.0.2").fhandle;
    let mut ok = NfsClient::udp_from(other, s.nfs_addr()).unwrap();
    let file = ok.lookup(&root, "file").expect_ok("LOOKUP from 127.0.0.2").object;
    let link = ok.lookup(&root, "link").expect_ok("LOOKUP link").object;
    assert_eq!(ok.read(&file, 0, 10).expect_ok("READ from 127.0.0.2").data, b"data");
    let before = snapshot(&export);

    // Every NFS procedure from 127.0.0.1 with those handles: ACCES (NULL is answered).
    let mut c = s.client();
    c.null(NFS).unwrap();
    let u = UNCHANGED;
    let statuses = [
        (procs::GETATTR, c.getattr(&root).status()),
        (procs::SETATTR, c.setattr(&file, Sattr3 { mode: Some(0o777), ..u }, None).status()),
        (procs::LOOKUP, c.lookup(&root, "file").status()),
        (procs::ACCESS, c.access(&root, access::ALL).status()),
        (procs::READLINK, c.readlink(&link).status()),
        (procs::READ, c.read(&file, 0, 10).status()),
        (procs::WRITE, c.write(&file, 0, b"x", StableHow::FileSync).status()),
        (procs::CREATE, c.create(&root, "new", CreateHow3::Unchecked(u)).status()),
        (procs::MKDIR, c.mkdir(&root, "newdir", u).status()),
        (procs::SYMLINK, c.symlink(&root, "newlink", "file", u).status()),
        (procs::MKNOD, c.mknod(&root, "fifo", MknodData3::Fifo(u)).status()),
        (procs::REMOVE, c.remove(&root, "file").status()),
        (procs::RMDIR, c.rmdir(&root, "dir").status()),
        (procs::RENAME, c.rename(&root, "file", &root, "moved").status()),
        (procs::LINK, c.link(&file, &root, "hard").status()),
        (procs::READDIR, c.readdir(&root, 0, Verifier::default(), 4096).status()),
        (procs::READDIRPLUS, c.readdirplus(&root, 0, Verifier::default(), 1024, 4096).status()),
        (procs::FSSTAT, c.fsstat(&root).status()),
        (procs::FSINFO, c.fsinfo(&root).status()),
        (procs::PATHCONF, c.pathconf(&root).status()),
        (procs::COMMIT, c.commit(&file, 0, 0).status()),
    ];
    assert_eq!(statuses.len(), 21);
    for (p, st) in statuses {
        assert_eq!(st, NfsStat3::Acces, "procedure {p} from 127.0.0.1");
    }
    let mut u = NfsClient::udp(s.nfs_addr()).unwrap();
    assert_eq!(u.getattr(&root).status(), NfsStat3::Acces, "GETATTR over UDP from 127.0.0.1");
    assert_eq!(u.remove(&root, "file").status(), NfsStat3::Acces, "REMOVE over UDP from 127.0.0.1");
    assert_eq!(snapshot(&export), before, "a refused client changed the export");
    ok.getattr(&root).expect_ok("GETATTR from 127.0.0.2 still");
    assert!(s.stop().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_calls_get_garbage_args_and_the_connection_stays_up() {
    let mut rig = Rig::new("garbage", RW, |e| std::fs::write(e.join("file"), b"original").unwrap());
    let file = rig.lookup("file");
    // A handle of 65 bytes.
    let mut long = 65u32.to_be_bytes().to_vec();
    long.extend([7u8; 65]);
    long.extend([0u8; 3]);
    let mut long_lookup = long.clone();
    long_lookup.extend(encode(&Filename::from_str("file")));
    // A WRITE of 64 bytes of which 32 are sent.
    let write = encode(&WriteArgs { file: fh(&file), offset: 0, stable: StableHow::FileSync, data: &[b'x'; 64] });
    let short = write[..write.len() - 32].to_vec();
    // A WRITE whose count (64) is not its data's length (60).
    let mut mismatch = write[..write.len() - 68].to_vec();
    mismatch.extend(60u32.to_be_bytes());
    mismatch.extend([b'y'; 60]);
    // Bytes after GETATTR's arguments.
    let mut trailing = encode(&GetattrArgs { object: fh(&file) });
    trailing.extend([0u8; 4]);
    let cases = [
        ("GETATTR with a 65-byte handle", procs::GETATTR, long),
        ("LOOKUP in a 65-byte handle", procs::LOOKUP, long_lookup),
        ("WRITE cut short", procs::WRITE, short.clone()),
        ("WRITE whose count is not its length", procs::WRITE, mismatch),
        ("GETATTR with trailing bytes", procs::GETATTR, trailing),
    ];
    for transport in ["TCP", "UDP"] {
        let mut c = match transport {
            "TCP" => rig.s.client(),
            _ => NfsClient::udp(rig.s.nfs_addr()).unwrap(),
        };
        for (what, proc_, args) in &cases {
            let err = c.call(NFS, *proc_, &RawArgs(args)).expect_err(what);
            assert!(is_garbage_args(&err), "{what} over {transport}: {err}");
            c.getattr(&file).expect_ok(&format!("GETATTR after {what} over {transport}"));
        }
    }
    assert_eq!(std::fs::read(rig.export.join("file")).unwrap(), b"original");

    // A garbage record and a good one sent together on one connection: both answered, in order.
    let mut raw = RawTcp::connect(rig.s.nfs_addr()).unwrap();
    let (bad_xid, bad) = raw.encode(NFS, procs::WRITE, &RawArgs(&short));
    let (good_xid, good) = raw.encode(NFS, procs::GETATTR, &GetattrArgs { object: fh(&file) });
    raw.send(&bad).unwrap();
    raw.send(&good).unwrap();
    let (first, second) = (raw.recv().unwrap(), raw.recv().unwrap());
    let garbage = Err(CallFailure::Accepted(AcceptStat::GarbageArgs));
    assert_eq!(parse_reply(&first).map(|(x, r)| (x, r.map(|_| ()))), Some((bad_xid, garbage)));
    assert_eq!(parse_reply(&second).map(|(x, _)| x), Some(good_xid));
    assert_eq!(raw_status(&second), NfsStat3::Ok);
    rig.done();
}
