//! Server tests: LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK, names and
//! identities.

use std::vec::Vec;

use super::tests_rig::*;
use crate::nfs3::{
    CreateArgs, CreateHow3, CreateRes, DeviceData3, FType3, Filename, LinkArgs, LinkRes, LookupArgs, LookupRes,
    MknodArgs, MknodData3, MknodRes, NfsPath, NfsRes, NfsStat3, PROGRAM, RemoveArgs, RemoveRes, RenameArgs, RenameRes,
    RmdirArgs, RmdirRes, Sattr3, SpecData3, SymlinkArgs, SymlinkData3, SymlinkRes, VERSION, Verifier, WccData, procs,
};
use crate::rpc::client::CallFailure;
use crate::rpc::msg::AcceptStat;
use crate::xdr;

fn full_wcc(w: &WccData) -> bool {
    w.before.is_some() && w.after.is_some()
}

fn remove(rig: &mut Rig, dir: &[u8], name: &str) -> RemoveRes {
    dec(&rig.call(procs::REMOVE, &RemoveArgs { object: dirop(dir, name) }))
}

fn rmdir(rig: &mut Rig, dir: &[u8], name: &str) -> RmdirRes {
    dec(&rig.call(procs::RMDIR, &RmdirArgs { object: dirop(dir, name) }))
}

fn rename(rig: &mut Rig, from: &[u8], a: &str, to: &[u8], b: &str) -> RenameRes {
    dec(&rig.call(procs::RENAME, &RenameArgs { from: dirop(from, a), to: dirop(to, b) }))
}

fn link(rig: &mut Rig, file: &[u8], dir: &[u8], name: &str) -> LinkRes {
    dec(&rig.call(procs::LINK, &LinkArgs { file: fh(file), link: dirop(dir, name) }))
}

fn symlink(rig: &mut Rig, dir: &[u8], name: &str, target: &[u8]) -> NfsStat3 {
    let args = SymlinkArgs {
        where_: dirop(dir, name),
        symlink: SymlinkData3 { symlink_attributes: Sattr3::UNCHANGED, symlink_data: NfsPath::new(target) },
    };
    dec::<SymlinkRes<'_>>(&rig.call(procs::SYMLINK, &args)).status()
}

fn mknod(rig: &mut Rig, dir: &[u8], name: &str, what: MknodData3) -> NfsStat3 {
    dec::<MknodRes<'_>>(&rig.call(procs::MKNOD, &MknodArgs { where_: dirop(dir, name), what })).status()
}

fn create_how(rig: &mut Rig, dir: &[u8], name: &str, how: CreateHow3) -> Result<Vec<u8>, NfsStat3> {
    let res = rig.call(procs::CREATE, &CreateArgs { where_: dirop(dir, name), how });
    match dec::<CreateRes<'_>>(&res) {
        NfsRes::Ok(ok) => {
            assert!(full_wcc(&ok.dir_wcc) && ok.obj_attributes.is_some());
            Ok(ok.obj.unwrap().as_bytes().to_vec())
        }
        NfsRes::Fail(s, wcc) => {
            assert!(full_wcc(&wcc), "{s:?} without WCC data");
            Err(s)
        }
    }
}

#[test]
fn lookup_dot_dotdot_and_the_export_root() {
    let mut rig = Rig::new();
    let root = rig.root();
    // `..` of the export root is the root: a client cannot climb out.
    assert_eq!(rig.lookup(&root, ".."), Ok(root.clone()));
    assert_eq!(rig.lookup(&root, "."), Ok(root.clone()));
    let d = rig.mkdir(&root, "d", 0o755).unwrap();
    let e = rig.mkdir(&d, "e", 0o755).unwrap();
    assert_eq!(rig.lookup(&e, ".."), Ok(d.clone()));
    assert_eq!(rig.lookup(&d, ".."), Ok(root.clone()));
    assert_eq!(rig.lookup(&root, "d"), Ok(d.clone()));
    // The result carries both attributes; a failure the directory's.
    let res = rig.call(procs::LOOKUP, &LookupArgs { what: dirop(&root, "d") });
    let NfsRes::Ok(ok) = dec::<LookupRes<'_>>(&res) else { panic!() };
    let root_id = rig.getattr(&root).unwrap().fileid;
    assert_eq!((ok.obj_attributes.unwrap().ftype, ok.dir_attributes.unwrap().fileid), (FType3::Dir, root_id));
    let res = rig.call(procs::LOOKUP, &LookupArgs { what: dirop(&root, "nope") });
    let NfsRes::Fail(NfsStat3::NoEnt, Some(_)) = dec::<LookupRes<'_>>(&res) else { panic!() };
    // Not a directory; no search permission.
    let f = rig.create(&root, "f", 0o644).unwrap();
    assert_eq!(rig.lookup(&f, "x"), Err(NfsStat3::NotDir));
    let closed = rig.mkdir(&root, "closed", 0o700).unwrap();
    rig.user(1000, 100);
    assert_eq!(rig.lookup(&closed, "x"), Err(NfsStat3::Acces));
}

#[test]
fn names_from_the_wire() {
    let mut rig = Rig::new();
    let root = rig.root();
    for bad in ["", "a/b", "/", "a\0b"] {
        assert_eq!(rig.lookup(&root, bad), Err(NfsStat3::Inval), "{bad:?}");
        assert_eq!(rig.create(&root, bad, 0o644), Err(NfsStat3::Inval), "{bad:?}");
    }
    let long = "n".repeat(256);
    assert_eq!(rig.lookup(&root, &long), Err(NfsStat3::NameTooLong));
    assert_eq!(rig.create(&root, &long, 0o644), Err(NfsStat3::NameTooLong));
    assert!(rig.create(&root, &"n".repeat(255), 0o644).is_ok());
    // Above the decoding bound: GARBAGE_ARGS.
    let huge = "n".repeat(1025);
    let args = LookupArgs { what: dirop(&root, &huge) };
    let mut buf = std::vec![0u8; 2000];
    let n = xdr::encode_to(&args, &mut buf).unwrap();
    assert_eq!(
        rig.send(PROGRAM, VERSION, procs::LOOKUP, &buf[..n]),
        Err(CallFailure::Accepted(AcceptStat::GarbageArgs))
    );
    // `.` and `..` where something is made, removed or renamed (Linux's answers).
    for dot in [".", ".."] {
        assert_eq!(rig.create(&root, dot, 0o644), Err(NfsStat3::Exist));
        assert_eq!(rig.mkdir(&root, dot, 0o755), Err(NfsStat3::Exist));
        assert_eq!(symlink(&mut rig, &root, dot, b"t"), NfsStat3::Exist);
        assert_eq!(mknod(&mut rig, &root, dot, MknodData3::Fifo(Sattr3::UNCHANGED)), NfsStat3::Exist);
        assert_eq!(link(&mut rig, &root, &root, dot).status(), NfsStat3::Exist);
        assert_eq!(remove(&mut rig, &root, dot).status(), NfsStat3::Acces);
        assert_eq!(rmdir(&mut rig, &root, dot).status(), NfsStat3::Acces);
        assert_eq!(rename(&mut rig, &root, dot, &root, "x").status(), NfsStat3::Perm);
        assert_eq!(rename(&mut rig, &root, "x", &root, dot).status(), NfsStat3::Perm);
    }
}

#[test]
fn create_modes() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "f", 0o640).unwrap();
    assert_eq!(rig.getattr(&f).unwrap().mode, 0o640);
    assert_eq!(rig.create(&root, "f", 0o644), Err(NfsStat3::Exist));
    // UNCHECKED on an existing file applies the size only.
    rig.write(&f, 0, b"data").unwrap();
    let trunc = Sattr3 { size: Some(0), mode: Some(0o777), ..Sattr3::UNCHANGED };
    assert_eq!(create_how(&mut rig, &root, "f", CreateHow3::Unchecked(trunc)), Ok(f.clone()));
    let a = rig.getattr(&f).unwrap();
    assert_eq!((a.size, a.mode), (0, 0o640));
    // UNCHECKED of an existing directory.
    rig.mkdir(&root, "d", 0o755).unwrap();
    assert_eq!(create_how(&mut rig, &root, "d", CreateHow3::Unchecked(Sattr3::UNCHANGED)), Err(NfsStat3::Exist));
    let new = create_how(&mut rig, &root, "u", CreateHow3::Unchecked(Sattr3::UNCHANGED)).unwrap();
    assert_eq!(rig.getattr(&new).unwrap().ftype, FType3::Reg);
}

#[test]
fn exclusive_create_is_idempotent_for_its_verifier() {
    let mut rig = Rig::new();
    let root = rig.root();
    let v = CreateHow3::Exclusive(Verifier(*b"excl-v01"));
    let first = create_how(&mut rig, &root, "x", v).unwrap();
    // A retransmission gets the same file; another verifier EXIST.
    assert_eq!(create_how(&mut rig, &root, "x", v), Ok(first.clone()));
    assert_eq!(create_how(&mut rig, &root, "x", CreateHow3::Exclusive(Verifier(*b"excl-v02"))), Err(NfsStat3::Exist));
    // The client then sets the attributes.
    let set = crate::nfs3::SetattrArgs { object: fh(&first), new_attributes: mode(0o640), guard: None };
    assert_eq!(dec::<crate::nfs3::SetattrRes>(&rig.call(procs::SETATTR, &set)).status(), NfsStat3::Ok);
    assert_eq!(rig.getattr(&first).unwrap().mode, 0o640);
}

#[test]
fn owners_of_new_objects_follow_squashing() {
    let mut rig = Rig::new();
    let root = rig.root();
    // no_root_squash: root stays root, and may give the file away.
    let set = Sattr3 { uid: Some(42), gid: Some(43), ..mode(0o644) };
    let f = create_how(&mut rig, &root, "given", CreateHow3::Guarded(set)).unwrap();
    assert_eq!((rig.getattr(&f).unwrap().uid, rig.getattr(&f).unwrap().gid), (42, 43));
    // root_squash: uid 0 becomes 65534, and cannot choose the owner.
    rig.from(SQUASHED).user(0, 0);
    let f = create_how(&mut rig, &root, "squashed", CreateHow3::Guarded(set)).unwrap();
    let a = rig.getattr(&f).unwrap();
    assert_eq!((a.uid, a.gid), (65534, 65534));
    // A user keeps their ids; all_squash maps everyone to anonuid/anongid.
    rig.from(USER).user(1000, 100);
    let d = rig.mkdir(&root, "home", 0o755).unwrap();
    assert_eq!(rig.getattr(&d).unwrap().uid, 1000);
    rig.from(ALL_SQUASH).user(5, 5);
    let f = rig.create(&root, "anon", 0o644).unwrap();
    let a = rig.getattr(&f).unwrap();
    assert_eq!((a.uid, a.gid), (1000, 1000));
    // AUTH_NONE is the anonymous identity.
    rig.from(USER).cred = None;
    let f = rig.create(&root, "nobody", 0o644).unwrap();
    assert_eq!(rig.getattr(&f).unwrap().uid, 65534);
    // Without write permission on the directory.
    rig.user(2000, 2000);
    assert_eq!(rig.create(&d, "x", 0o644), Err(NfsStat3::Acces));
    assert_eq!(rig.mkdir(&d, "x", 0o755), Err(NfsStat3::Acces));
}

#[test]
fn symlink_and_mknod() {
    let mut rig = Rig::new();
    let root = rig.root();
    assert_eq!(symlink(&mut rig, &root, "ok", b"target"), NfsStat3::Ok);
    assert_eq!(symlink(&mut rig, &root, "ok", b"target"), NfsStat3::Exist);
    assert_eq!(symlink(&mut rig, &root, "empty", b""), NfsStat3::Inval);
    assert_eq!(symlink(&mut rig, &root, "nul", b"a\0b"), NfsStat3::Inval);
    assert_eq!(symlink(&mut rig, &root, "long", &[b'p'; 1025]), NfsStat3::NameTooLong);
    assert_eq!(symlink(&mut rig, &root, "max", &[b'p'; 1024]), NfsStat3::Ok);
    let l = rig.lookup(&root, "ok").unwrap();
    assert_eq!(rig.getattr(&l).unwrap().ftype, FType3::Lnk);
    let dev = |spec| DeviceData3 { dev_attributes: mode(0o600), spec };
    let spec = SpecData3 { specdata1: 8, specdata2: 1 };
    assert_eq!(mknod(&mut rig, &root, "fifo", MknodData3::Fifo(mode(0o644))), NfsStat3::Ok);
    assert_eq!(mknod(&mut rig, &root, "sock", MknodData3::Sock(mode(0o644))), NfsStat3::Ok);
    assert_eq!(mknod(&mut rig, &root, "blk", MknodData3::Blk(dev(spec))), NfsStat3::Ok);
    let b = rig.lookup(&root, "blk").unwrap();
    let a = rig.getattr(&b).unwrap();
    assert_eq!((a.ftype, a.rdev), (FType3::Blk, spec));
    for t in [FType3::Reg, FType3::Dir, FType3::Lnk, FType3::Unknown(42)] {
        assert_eq!(mknod(&mut rig, &root, "bad", MknodData3::Other(t)), NfsStat3::BadType);
    }
    // Devices only for uid 0.
    rig.user(1000, 100);
    assert_eq!(mknod(&mut rig, &root, "chr", MknodData3::Chr(dev(spec))), NfsStat3::Perm);
    assert_eq!(mknod(&mut rig, &root, "fifo2", MknodData3::Fifo(mode(0o644))), NfsStat3::Ok);
    // A back end without special files.
    rig.srv_fs().special = false;
    assert_eq!(mknod(&mut rig, &root, "fifo3", MknodData3::Fifo(mode(0o644))), NfsStat3::NotSupp);
}

#[test]
fn remove_and_rmdir_with_wcc() {
    let mut rig = Rig::new();
    let root = rig.root();
    let d = rig.mkdir(&root, "d", 0o755).unwrap();
    rig.create(&d, "f", 0o644).unwrap();
    assert_eq!(rmdir(&mut rig, &root, "d").status(), NfsStat3::NotEmpty);
    assert_eq!(remove(&mut rig, &root, "d").status(), NfsStat3::IsDir);
    assert_eq!(rmdir(&mut rig, &d, "f").status(), NfsStat3::NotDir);
    let NfsRes::Ok(wcc) = remove(&mut rig, &d, "f") else { panic!() };
    assert!(full_wcc(&wcc));
    assert_eq!(rig.lookup(&d, "f"), Err(NfsStat3::NoEnt));
    let NfsRes::Fail(NfsStat3::NoEnt, wcc) = remove(&mut rig, &d, "f") else { panic!() };
    assert!(full_wcc(&wcc));
    assert!(matches!(rmdir(&mut rig, &root, "d"), NfsRes::Ok(w) if full_wcc(&w)));
    assert_eq!(rig.getattr(&d), Err(NfsStat3::Stale));
}

#[test]
fn sticky_directories() {
    let mut rig = Rig::new();
    let root = rig.root();
    let tmp = rig.mkdir(&root, "tmp", 0o1777).unwrap();
    rig.user(1000, 100);
    rig.create(&tmp, "mine", 0o644).unwrap();
    rig.user(2000, 100);
    rig.create(&tmp, "theirs", 0o644).unwrap();
    assert_eq!(remove(&mut rig, &tmp, "mine").status(), NfsStat3::Perm);
    assert_eq!(rename(&mut rig, &tmp, "mine", &tmp, "stolen").status(), NfsStat3::Perm);
    assert_eq!(rename(&mut rig, &tmp, "theirs", &tmp, "mine").status(), NfsStat3::Perm);
    assert_eq!(remove(&mut rig, &tmp, "theirs").status(), NfsStat3::Ok);
    rig.user(0, 0);
    assert_eq!(remove(&mut rig, &tmp, "mine").status(), NfsStat3::Ok);
}

#[test]
fn rename_and_link() {
    let mut rig = Rig::new();
    let root = rig.root();
    let a = rig.mkdir(&root, "a", 0o755).unwrap();
    let b = rig.mkdir(&root, "b", 0o755).unwrap();
    let f = rig.create(&a, "f", 0o644).unwrap();
    let NfsRes::Ok(both) = rename(&mut rig, &a, "f", &b, "g") else { panic!() };
    assert!(full_wcc(&both.fromdir_wcc) && full_wcc(&both.todir_wcc));
    assert_eq!(rig.lookup(&b, "g"), Ok(f.clone()));
    assert_eq!(rig.lookup(&a, "f"), Err(NfsStat3::NoEnt));
    let NfsRes::Fail(NfsStat3::NoEnt, both) = rename(&mut rig, &a, "f", &b, "h") else { panic!() };
    assert!(full_wcc(&both.fromdir_wcc) && full_wcc(&both.todir_wcc));
    // Within one directory; a directory below itself.
    assert_eq!(rename(&mut rig, &b, "g", &b, "h").status(), NfsStat3::Ok);
    assert_eq!(rename(&mut rig, &root, "a", &a, "inside").status(), NfsStat3::Inval);
    // Hard links.
    let NfsRes::Ok(l) = link(&mut rig, &f, &a, "again") else { panic!() };
    assert_eq!(l.file_attributes.unwrap().nlink, 2);
    assert!(full_wcc(&l.linkdir_wcc));
    assert_eq!(rig.lookup(&a, "again"), Ok(f.clone()));
    assert_eq!(link(&mut rig, &f, &a, "again").status(), NfsStat3::Exist);
    assert_eq!(link(&mut rig, &b, &a, "dirlink").status(), NfsStat3::IsDir);
    // Between two exports: XDEV.
    let other = rig.nfs().root_handle(1).unwrap().as_bytes().to_vec();
    assert_eq!(rename(&mut rig, &a, "again", &other, "x").status(), NfsStat3::XDev);
    assert_eq!(link(&mut rig, &f, &other, "x").status(), NfsStat3::XDev);
    // Moving a directory to another parent needs write permission on it.
    rig.user(1000, 100);
    let mine = rig.mkdir(&root, "mine", 0o777).unwrap();
    rig.user(0, 0);
    let _ = rig.mkdir(&mine, "locked", 0o555).unwrap();
    rig.user(1000, 100);
    assert_eq!(rename(&mut rig, &mine, "locked", &root, "moved").status(), NfsStat3::Acces);
    assert_eq!(rename(&mut rig, &mine, "locked", &mine, "renamed").status(), NfsStat3::Ok);
}

#[test]
fn filename_type_is_bytes() {
    // Non-UTF-8 names are fine.
    let mut rig = Rig::new();
    let root = rig.root();
    let args = CreateArgs {
        where_: crate::nfs3::DirOpArgs3 { dir: fh(&root), name: Filename::new(b"caf\xe9") },
        how: CreateHow3::Guarded(Sattr3::UNCHANGED),
    };
    assert_eq!(dec::<CreateRes<'_>>(&rig.call(procs::CREATE, &args)).status(), NfsStat3::Ok);
}

#[test]
fn every_making_procedure_returns_wcc_on_both_arms() {
    let mut rig = Rig::new();
    let root = rig.root();
    let made = |res: &CreateRes<'_>| match res {
        NfsRes::Ok(ok) => full_wcc(&ok.dir_wcc) && ok.obj.is_some() && ok.obj_attributes.is_some(),
        NfsRes::Fail(_, wcc) => full_wcc(wcc),
    };
    let mkdir = crate::nfs3::MkdirArgs { where_: dirop(&root, "m"), attributes: mode(0o755) };
    let symlink = SymlinkArgs {
        where_: dirop(&root, "s"),
        symlink: SymlinkData3 { symlink_attributes: Sattr3::UNCHANGED, symlink_data: NfsPath::from_str("t") },
    };
    let mknod = MknodArgs { where_: dirop(&root, "p"), what: MknodData3::Fifo(Sattr3::UNCHANGED) };
    for _ in 0..2 {
        // The second round fails with EXIST, still with the directory's WCC data.
        for (p, res) in [
            (procs::MKDIR, rig.call(procs::MKDIR, &mkdir)),
            (procs::SYMLINK, rig.call(procs::SYMLINK, &symlink)),
            (procs::MKNOD, rig.call(procs::MKNOD, &mknod)),
        ] {
            assert!(made(&dec::<CreateRes<'_>>(&res)), "procedure {p}");
        }
    }
    // The pre-op attributes are the directory's before the change.
    let before = rig.getattr(&root).unwrap();
    let args = CreateArgs { where_: dirop(&root, "c"), how: CreateHow3::Guarded(Sattr3::UNCHANGED) };
    let res = rig.call(procs::CREATE, &args);
    let NfsRes::Ok(ok) = dec::<CreateRes<'_>>(&res) else { panic!() };
    let pre = ok.dir_wcc.before.unwrap();
    assert_eq!((pre.size, pre.mtime, pre.ctime), (before.size, before.mtime, before.ctime));
    assert_eq!(ok.dir_wcc.after.unwrap().fileid, before.fileid);
}
