//! Every NFSv3 procedure and the MOUNT table against the server.

use super::super::*;
use super::{EXPORT, Rig, cred};
use crate::mount;
use crate::nfs3::{
    AccessArgs, CreateArgs, CreateHow3, DirOpArgs3, FType3, FileHandle, Filename, FsinfoArgs, FsstatArgs, GetattrArgs,
    Limits, LinkArgs, LookupArgs, MkdirArgs, MknodArgs, MknodData3, NfsPath, NfsRes, NfsStat3, PathconfArgs, ReadArgs,
    ReadlinkArgs, RemoveArgs, RenameArgs, RmdirArgs, Sattr3, SetattrArgs, StableHow, SymlinkArgs, SymlinkData3,
    WriteArgs, access,
};
use crate::rpc::client::ClientConfig;

fn dirop<'a>(dir: &'a Fh, name: &'a str) -> DirOpArgs3<'a> {
    DirOpArgs3 { dir: dir.wire(), name: Filename::from_str(name) }
}

fn made(res: &[u8], l: &Limits) -> Fh {
    match decode_create(res, l).unwrap() {
        NfsRes::Ok(ok) => Fh::new(ok.obj.unwrap().as_bytes()).unwrap(),
        NfsRes::Fail(s, _) => panic!("{s:?}"),
    }
}

#[test]
fn every_procedure() {
    let l = Limits::default();
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let cr = cred();

    // MOUNT: the table records the export, the server's mount list has us.
    let mut table = MountTable::<2, 64>::new();
    let res = rig.call(|c, now, b| table.mnt(c, now, &cr, EXPORT, b).unwrap()).unwrap();
    let root = table.mounted(EXPORT, &res).unwrap();
    assert_eq!(table.get(EXPORT).map(|m| m.root), Some(root));
    let res = rig.call(|c, now, b| table.mnt(c, now, &cr, "/nope", b).unwrap()).unwrap();
    assert_eq!(table.mounted("/nope", &res), Err(Error::Mount(mount::MountStat::NoEnt)));
    assert_eq!(table.len(), 1);

    assert_eq!(decode_null(&rig.call(|c, now, b| null(c, now, b).unwrap()).unwrap()), Ok(()));

    let res = rig.call(|c, now, b| fsinfo(c, now, &cr, &FsinfoArgs { fsroot: root.wire() }, b).unwrap()).unwrap();
    let NfsRes::Ok(info) = decode_fsinfo(&res, &l).unwrap() else { panic!() };
    let sizes = IoSizes::from_fsinfo(&info, 1 << 20, &l);
    assert_eq!((sizes.rsize, sizes.wsize), (4096, 8192));

    let res = rig.call(|c, now, b| getattr(c, now, &cr, &GetattrArgs { object: root.wire() }, b).unwrap()).unwrap();
    assert_eq!(decode_getattr(&res, &l).unwrap().ok().map(|a| a.ftype), Some(FType3::Dir));

    // CREATE, WRITE (FILE_SYNC), READ, COMMIT, SETATTR, ACCESS.
    let args = CreateArgs { where_: dirop(&root, "f"), how: CreateHow3::Guarded(Sattr3::UNCHANGED) };
    let f = made(&rig.call(|c, now, b| create(c, now, &cr, &args, b).unwrap()).unwrap(), &l);
    let args = WriteArgs { file: f.wire(), offset: 0, stable: StableHow::FileSync, data: b"hello, world" };
    let res = rig.call(|c, now, b| write(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_write(&res, &l).unwrap().ok().map(|w| w.count), Some(12));
    let args = ReadArgs { file: f.wire(), offset: 7, count: 100 };
    let res = rig.call(|c, now, b| read(c, now, &cr, &args, b).unwrap()).unwrap();
    let NfsRes::Ok(r) = decode_read(&res, &l).unwrap() else { panic!() };
    assert_eq!((r.data, r.eof), (&b"world"[..], true));
    let args = crate::nfs3::CommitArgs { file: f.wire(), offset: 0, count: 0 };
    let res = rig.call(|c, now, b| commit(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_commit(&res, &l).unwrap().ok().map(|c| c.verf.0), Some(*b"verf0000"));
    let new_attributes = Sattr3 { mode: Some(0o600), size: Some(5), ..Sattr3::UNCHANGED };
    let args = SetattrArgs { object: f.wire(), new_attributes, guard: None };
    let res = rig.call(|c, now, b| setattr(c, now, &cr, &args, b).unwrap()).unwrap();
    let after = decode_setattr(&res, &l).unwrap().ok().unwrap().after.unwrap();
    assert_eq!((after.mode & 0o777, after.size), (0o600, 5));
    let args = AccessArgs { object: f.wire(), access: access::READ | access::MODIFY };
    let res = rig.call(|c, now, b| crate::nfs3::client::access(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_access(&res, &l).unwrap().ok().map(|a| a.access), Some(access::READ | access::MODIFY));

    // LOOKUP of a missing name: the status comes through.
    let args = LookupArgs { what: dirop(&root, "missing") };
    let res = rig.call(|c, now, b| lookup(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_lookup(&res, &l).unwrap().status(), NfsStat3::NoEnt);
    let args = LookupArgs { what: dirop(&root, "f") };
    let res = rig.call(|c, now, b| lookup(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_lookup(&res, &l).unwrap().ok().map(|o| o.object.as_bytes()), Some(f.as_bytes()));

    // MKDIR, SYMLINK, READLINK, MKNOD, LINK.
    let args = MkdirArgs { where_: dirop(&root, "d"), attributes: Sattr3::UNCHANGED };
    let d = made(&rig.call(|c, now, b| mkdir(c, now, &cr, &args, b).unwrap()).unwrap(), &l);
    let sl = SymlinkData3 { symlink_attributes: Sattr3::UNCHANGED, symlink_data: NfsPath::from_str("../f") };
    let args = SymlinkArgs { where_: dirop(&d, "l"), symlink: sl };
    let link_fh = made(&rig.call(|c, now, b| symlink(c, now, &cr, &args, b).unwrap()).unwrap(), &l);
    let args = ReadlinkArgs { symlink: link_fh.wire() };
    let res = rig.call(|c, now, b| readlink(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_readlink(&res, &l).unwrap().ok().map(|r| r.data.as_bytes()), Some(&b"../f"[..]));
    let args = MknodArgs { where_: dirop(&d, "p"), what: MknodData3::Fifo(Sattr3::UNCHANGED) };
    made(&rig.call(|c, now, b| mknod(c, now, &cr, &args, b).unwrap()).unwrap(), &l);
    let args = LinkArgs { file: f.wire(), link: dirop(&d, "hard") };
    let res = rig.call(|c, now, b| link(c, now, &cr, &args, b).unwrap()).unwrap();
    assert_eq!(decode_link(&res, &l).unwrap().ok().and_then(|w| w.file_attributes).map(|a| a.nlink), Some(2));

    // READDIR and READDIRPLUS walks in small pages.
    let mut names = std::vec::Vec::new();
    let mut cur = ListCursor::new(d);
    while !cur.is_done() {
        let args = cur.readdir_args(160);
        let res = rig.call(|c, now, b| readdir(c, now, &cr, &args, b).unwrap()).unwrap();
        let NfsRes::Ok(page) = decode_readdir(&res, &l).unwrap() else { panic!() };
        names.extend(page.entries.iter().map(|e| std::string::String::from(e.name.to_str().unwrap())));
        cur.advance_readdir(&page).unwrap();
    }
    assert_eq!(names, [".", "..", "l", "p", "hard"]);
    let mut plus = 0;
    let mut cur = ListCursor::new(d);
    while !cur.is_done() {
        let args = cur.readdirplus_args(64, 400);
        let res = rig.call(|c, now, b| readdirplus(c, now, &cr, &args, b).unwrap()).unwrap();
        let NfsRes::Ok(page) = decode_readdirplus(&res, &l).unwrap() else { panic!() };
        plus += page.entries.iter().filter(|e| e.name_handle.is_some()).count();
        cur.advance_readdirplus(&page).unwrap();
    }
    assert!(plus >= 3, "{plus}");

    // RENAME, REMOVE, RMDIR.
    let args = RenameArgs { from: dirop(&d, "hard"), to: dirop(&root, "g") };
    let res = rig.call(|c, now, b| rename(c, now, &cr, &args, b).unwrap()).unwrap();
    assert!(decode_rename(&res, &l).unwrap().ok().is_some());
    for name in ["l", "p"] {
        let args = RemoveArgs { object: dirop(&d, name) };
        let res = rig.call(|c, now, b| remove(c, now, &cr, &args, b).unwrap()).unwrap();
        assert!(decode_remove(&res, &l).unwrap().ok().is_some());
    }
    let args = RmdirArgs { object: dirop(&root, "d") };
    let res = rig.call(|c, now, b| rmdir(c, now, &cr, &args, b).unwrap()).unwrap();
    assert!(decode_rmdir(&res, &l).unwrap().ok().is_some());

    // FSSTAT, PATHCONF.
    let res = rig.call(|c, now, b| fsstat(c, now, &cr, &FsstatArgs { fsroot: root.wire() }, b).unwrap()).unwrap();
    assert!(decode_fsstat(&res, &l).unwrap().ok().is_some_and(|s| s.tbytes > 0));
    let res = rig.call(|c, now, b| pathconf(c, now, &cr, &PathconfArgs { object: root.wire() }, b).unwrap()).unwrap();
    assert!(decode_pathconf(&res, &l).unwrap().ok().is_some_and(|p| p.name_max > 0));

    // A stale handle is a status, not a failure of the client.
    let stale = Fh::new(&[1; 20]).unwrap();
    let res = rig.call(|c, now, b| getattr(c, now, &cr, &GetattrArgs { object: stale.wire() }, b).unwrap()).unwrap();
    assert!(matches!(decode_getattr(&res, &l).unwrap().status(), NfsStat3::BadHandle | NfsStat3::Stale));

    // UMNT forgets the mount here and there.
    let res = rig.call(|c, now, b| table.umnt(c, now, &cr, EXPORT, b).unwrap()).unwrap();
    assert_eq!(mount::client::decode_void(&res), Ok(()));
    assert!(table.is_empty());
    let res = rig.call(|c, now, b| mount::client::dump(c, now, b).unwrap()).unwrap();
    assert_eq!(mount::client::decode_dump(&res).unwrap().iter().count(), 0);
    let mut buf = [0u8; 256];
    assert_eq!(table.umnt(&mut rig.c, rig.now, &cr, EXPORT, &mut buf), Err(Error::NotMounted));
    let _ = FileHandle::default();
}

#[test]
fn mount_table_bounds() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let cr = cred();
    let mut table = MountTable::<1, 8>::new();
    let mut buf = [0u8; 512];
    assert_eq!(table.mnt(&mut rig.c, rig.now, &cr, "/a/long/path", &mut buf), Err(Error::Full));
    let res = rig.call(|c, now, b| table.mnt(c, now, &cr, EXPORT, b).unwrap()).unwrap();
    table.mounted(EXPORT, &res).unwrap();
    // Mounting again replaces the handle; another path does not fit.
    table.mounted(EXPORT, &res).unwrap();
    assert_eq!(table.len(), 1);
    assert_eq!(table.mounted("/b", &res), Err(Error::Full));
    assert_eq!(table.first(), Some(EXPORT));
    // A MNT result that does not decode.
    assert_eq!(table.mounted(EXPORT, &[0, 0, 0]), Err(Error::Decode(crate::xdr::Error::UnexpectedEnd)));
}

#[test]
fn list_cursor_refuses_an_empty_page_without_eof() {
    let mut rig = Rig::new(4096, 8192, ClientConfig::datagram());
    let cr = cred();
    let l = Limits::default();
    let mut table = MountTable::<1, 8>::new();
    let res = rig.call(|c, now, b| table.mnt(c, now, &cr, EXPORT, b).unwrap()).unwrap();
    let root = table.mounted(EXPORT, &res).unwrap();
    let mut cur = ListCursor::new(root);
    let args = cur.readdir_args(4096);
    let res = rig.call(|c, now, b| readdir(c, now, &cr, &args, b).unwrap()).unwrap();
    let NfsRes::Ok(mut page) = decode_readdir(&res, &l).unwrap() else { panic!() };
    assert!(page.eof);
    page.eof = false;
    page.entries = crate::nfs3::decode_exact_with(&[0, 0, 0, 0], &l).unwrap();
    assert_eq!(cur.advance_readdir(&page), Err(Error::Protocol));
    let _ = FileHandle::default();
}

#[test]
fn write_in_place_makes_the_message_write_makes() {
    let cr = cred();
    let fh = Fh::new(&[7; 20]).unwrap();
    for n in [0usize, 1, 3, 4, 5, 1000] {
        let data: std::vec::Vec<u8> = (0..n).map(|i| i as u8 ^ 0x5a).collect();
        let (mut a, mut b) = (rpc_client(), rpc_client());
        let now = crate::time::Instant::ZERO;
        let mut want = [0xffu8; 1200];
        let args = WriteArgs { file: fh.wire(), offset: 1 << 40, stable: StableHow::Unstable, data: &data };
        let (xa, la) = write(&mut a, now, &cr, &args, &mut want).unwrap();
        let mut got = [0xffu8; 1200];
        let (xb, lb, at) =
            write_in_place(&mut b, now, &cr, fh.wire(), 1 << 40, StableHow::Unstable, n as u32, &mut got).unwrap();
        assert_eq!(at.len(), n);
        got[at].copy_from_slice(&data);
        assert_eq!((xa, la), (xb, lb));
        assert_eq!(want[..la], got[..lb]);
    }
    // No room for the data: the call never starts.
    let mut c = rpc_client();
    let mut small = [0u8; 300];
    let r = write_in_place(&mut c, crate::time::Instant::ZERO, &cr, fh.wire(), 0, StableHow::Unstable, 200, &mut small);
    assert_eq!(r, Err(crate::rpc::client::ClientError::Encode(crate::xdr::Error::BufferFull)));
    assert_eq!(c.pending(), 0);
    let r = write_in_place(&mut c, crate::time::Instant::ZERO, &cr, fh.wire(), 0, StableHow::Unstable, 400, &mut small);
    assert!(r.is_err());
    assert_eq!(c.pending(), 0);
}

fn rpc_client() -> crate::rpc::client::Client<4> {
    crate::rpc::client::Client::new(ClientConfig::datagram(), 77)
}
