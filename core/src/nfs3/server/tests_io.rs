//! Server tests: READ, WRITE, COMMIT, READLINK.

use super::tests_rig::*;
use crate::nfs3::{
    CommitArgs, CommitRes, NfsPath, NfsRes, NfsStat3, ReadArgs, ReadRes, ReadlinkArgs, ReadlinkRes, StableHow,
    SymlinkArgs, SymlinkData3, SymlinkRes, WriteArgs, WriteRes, procs,
};

fn write_res(rig: &mut Rig, file: &[u8], offset: u64, data: &[u8], stable: StableHow) -> WriteRes {
    dec(&rig.call(procs::WRITE, &WriteArgs { file: fh(file), offset, stable, data }))
}

#[test]
fn write_then_read_with_eof_and_wcc() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "f", 0o644).unwrap();
    let NfsRes::Ok(ok) = write_res(&mut rig, &f, 0, b"hello, world", StableHow::FileSync) else { panic!() };
    assert_eq!((ok.count, ok.committed, ok.verf.0), (12, StableHow::FileSync, *b"verifier"));
    let (pre, post) = (ok.file_wcc.before.unwrap(), ok.file_wcc.after.unwrap());
    assert_eq!((pre.size, post.size), (0, 12));
    assert_eq!(rig.read(&f, 0, 5), Ok((b"hello".to_vec(), false)));
    assert_eq!(rig.read(&f, 7, 100), Ok((b"world".to_vec(), true)));
    assert_eq!(rig.read(&f, 100, 10), Ok((std::vec![], true)));
    // READ carries the file's attributes.
    let res = rig.call(procs::READ, &ReadArgs { file: fh(&f), offset: 0, count: 1 });
    let NfsRes::Ok(r) = dec::<ReadRes<'_>>(&res) else { panic!() };
    assert_eq!(r.file_attributes.unwrap().size, 12);
}

#[test]
fn counts_are_capped() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "big", 0o644).unwrap();
    let data: std::vec::Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    // max_write is 8192: the rest is not written.
    assert_eq!(rig.write(&f, 0, &data), Ok(8192));
    assert_eq!(rig.getattr(&f).unwrap().size, 8192);
    // max_read is 4096.
    let (got, eof) = rig.read(&f, 0, 100_000).unwrap();
    assert_eq!((got.len(), eof), (4096, false));
    assert_eq!(got, data[..4096]);
    let (got, eof) = rig.read(&f, 4096, 100_000).unwrap();
    assert_eq!((got.as_slice(), eof), (&data[4096..8192], true));
}

#[test]
fn unstable_write_commit_and_verifier() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "u", 0o644).unwrap();
    // MemFs makes every write stable at once: `committed` is at least what was asked.
    let NfsRes::Ok(ok) = write_res(&mut rig, &f, 0, b"abc", StableHow::Unstable) else { panic!() };
    assert_eq!(ok.committed, StableHow::FileSync);
    let NfsRes::Ok(ok) = write_res(&mut rig, &f, 3, b"def", StableHow::DataSync) else { panic!() };
    assert_eq!(ok.committed, StableHow::FileSync);
    let res = rig.call(procs::COMMIT, &CommitArgs { file: fh(&f), offset: 0, count: 0 });
    let NfsRes::Ok(c) = dec::<CommitRes>(&res) else { panic!() };
    assert_eq!(c.verf.0, *b"verifier");
    assert!(c.file_wcc.before.is_some() && c.file_wcc.after.is_some());
    assert_eq!(rig.srv_fs().commits, 1);
    // A restarted back end has another verifier: WRITE and COMMIT say so.
    rig.srv_fs().verifier = Some(*b"rebooted");
    let NfsRes::Ok(ok) = write_res(&mut rig, &f, 0, b"x", StableHow::Unstable) else { panic!() };
    assert_eq!(ok.verf.0, *b"rebooted");
    let res = rig.call(procs::COMMIT, &CommitArgs { file: fh(&f), offset: 0, count: 1 });
    assert_eq!(dec::<CommitRes>(&res).ok().unwrap().verf.0, *b"rebooted");
    // COMMIT of a directory.
    let res = rig.call(procs::COMMIT, &CommitArgs { file: fh(&root), offset: 0, count: 0 });
    assert_eq!(dec::<CommitRes>(&res).status(), NfsStat3::IsDir);
}

#[test]
fn types_and_permissions() {
    let mut rig = Rig::new();
    let root = rig.root();
    assert_eq!(rig.read(&root, 0, 10), Err(NfsStat3::IsDir));
    assert_eq!(rig.write(&root, 0, b"x"), Err(NfsStat3::IsDir));
    rig.user(1000, 100);
    let f = rig.create(&root, "mine", 0o600).unwrap();
    rig.write(&f, 0, b"secret").unwrap();
    rig.user(2000, 100);
    assert_eq!(rig.read(&f, 0, 10), Err(NfsStat3::Acces));
    assert_eq!(rig.write(&f, 0, b"x"), Err(NfsStat3::Acces));
    // The owner reads and writes even a mode-000 file (checked at open by the client).
    rig.user(0, 0);
    let set = crate::nfs3::SetattrArgs { object: fh(&f), new_attributes: mode(0), guard: None };
    assert_eq!(dec::<crate::nfs3::SetattrRes>(&rig.call(procs::SETATTR, &set)).status(), NfsStat3::Ok);
    rig.user(1000, 100);
    assert_eq!(rig.read(&f, 0, 10), Ok((b"secret".to_vec(), true)));
    assert_eq!(rig.write(&f, 0, b"S"), Ok(1));
    // An executable file may be read by those who may run it.
    rig.user(0, 0);
    let x = rig.create(&root, "tool", 0o711).unwrap();
    rig.user(2000, 5);
    assert_eq!(rig.read(&x, 0, 10), Ok((std::vec![], true)));
    // A handle the back end does not know.
    let gone = stale(&f);
    assert_eq!(rig.read(&gone, 0, 1), Err(NfsStat3::Stale));
    assert_eq!(
        write_res(&mut rig, &gone, 0, b"x", StableHow::FileSync),
        NfsRes::Fail(NfsStat3::Stale, super::req::NO_WCC)
    );
}

#[test]
fn readlink_reads_into_the_reply() {
    let mut rig = Rig::new();
    let root = rig.root();
    let target = "../some/where/else";
    let args = SymlinkArgs {
        where_: dirop(&root, "l"),
        symlink: SymlinkData3 { symlink_attributes: mode(0o777), symlink_data: NfsPath::from_str(target) },
    };
    let res = rig.call(procs::SYMLINK, &args);
    let NfsRes::Ok(ok) = dec::<SymlinkRes<'_>>(&res) else { panic!() };
    let l = ok.obj.unwrap().as_bytes().to_vec();
    let res = rig.call(procs::READLINK, &ReadlinkArgs { symlink: fh(&l) });
    let NfsRes::Ok(ok) = dec::<ReadlinkRes<'_>>(&res) else { panic!() };
    assert_eq!(ok.data.as_bytes(), target.as_bytes());
    assert_eq!(ok.symlink_attributes.unwrap().size, target.len() as u64);
    // Of a regular file; reading a link.
    let res = rig.call(procs::READLINK, &ReadlinkArgs { symlink: fh(&root) });
    let NfsRes::Fail(NfsStat3::Inval, attrs) = dec::<ReadlinkRes<'_>>(&res) else { panic!() };
    assert!(attrs.is_some());
    assert_eq!(rig.read(&l, 0, 10), Err(NfsStat3::Inval));
}
