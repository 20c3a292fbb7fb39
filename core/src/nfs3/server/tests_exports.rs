//! Server tests: handles, admission, read-only exports, MOUNT through the service, reloads,
//! host names and the duplicate request cache.

use std::vec::Vec;

use super::tests_fs::TestFs;
use super::tests_rig::*;
use super::{AddError, Nfs3Server, NfsService};
use crate::exports::Exports;
use crate::mount::MountStat;
use crate::nfs3::{
    CommitArgs, CreateArgs, CreateHow3, DeviceData3, GetattrArgs, LinkArgs, MkdirArgs, MknodArgs, MknodData3, NfsPath,
    NfsStat3, PROGRAM, RemoveArgs, RenameArgs, RmdirArgs, Sattr3, SetattrArgs, SpecData3, StableHow, SymlinkArgs,
    SymlinkData3, VERSION, WccData, WriteArgs, procs,
};
use crate::rpc::client::CallFailure;
use crate::rpc::drc::DrcProgram;
use crate::rpc::msg::AcceptStat;
use crate::rpc::server::ProgramTable;
use crate::xdr::Encode;

/// The status of any NFS result (the first word).
fn status(res: &[u8]) -> NfsStat3 {
    NfsStat3::from(i32::from_be_bytes(res[..4].try_into().unwrap()))
}

fn getattr_status(rig: &mut Rig, obj: &[u8]) -> NfsStat3 {
    status(&rig.call(procs::GETATTR, &GetattrArgs { object: fh(obj) }))
}

#[test]
fn handles_of_other_servers_and_altered_handles() {
    let mut rig = Rig::new();
    let root = rig.root();
    let d = rig.mkdir(&root, "d", 0o755).unwrap();
    assert_eq!(&d[..2], &[super::HANDLE_FORMAT, 0]);
    assert_eq!(getattr_status(&mut rig, &d), NfsStat3::Ok);
    // The same export and back end under another server id: stale.
    let mut other = server();
    other.config.server_id ^= 1;
    let mut other = Rig::with(Nfs3Server::new(Exports::parse(EXPORTS).unwrap(), other.config));
    other.nfs().add("/srv", TestFs::new(1)).ok().unwrap();
    let foreign = other.root();
    assert_eq!(&foreign[8..], &root[8..]);
    assert_eq!(getattr_status(&mut rig, &foreign), NfsStat3::Stale);
    // Every check byte matters; the format byte and the length make a handle well-formed.
    for i in 2..8 {
        let mut h = d.clone();
        h[i] ^= 0x40;
        assert_eq!(getattr_status(&mut rig, &h), NfsStat3::Stale, "byte {i}");
    }
    let mut h = d.clone();
    h[0] = 0;
    assert_eq!(getattr_status(&mut rig, &h), NfsStat3::BadHandle);
    assert_eq!(getattr_status(&mut rig, &d[..7]), NfsStat3::BadHandle);
    assert_eq!(getattr_status(&mut rig, &[]), NfsStat3::BadHandle);
    // The back end's part: a length it never issues, a node it does not have.
    assert_eq!(getattr_status(&mut rig, &d[..12]), NfsStat3::BadHandle);
    let mut h = d.clone();
    h[15] ^= 0x55;
    assert_eq!(getattr_status(&mut rig, &h), NfsStat3::Stale);
    // The slot byte is a hint: the check bytes find the export (added in another order).
    let mut h = d.clone();
    h[1] = 2;
    assert_eq!(getattr_status(&mut rig, &h), NfsStat3::Ok);
    h[1] = 200;
    assert_eq!(getattr_status(&mut rig, &h), NfsStat3::Ok);
    // Another export's handle is that export's: `/other`'s root is not `/srv`'s.
    let other_root = rig.nfs().root_handle(1).unwrap().as_bytes().to_vec();
    assert_ne!(other_root, root);
    assert_eq!(rig.getattr(&other_root).unwrap().fsid, 2);
}

#[test]
fn admission_on_every_call() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "f", 0o644).unwrap();
    // Not listed for /srv: ACCES, on every procedure.
    rig.from(STRANGER);
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Acces);
    assert_eq!(rig.lookup(&root, "f"), Err(NfsStat3::Acces));
    assert_eq!(rig.read(&f, 0, 1), Err(NfsStat3::Acces));
    // ... but /other admits everyone.
    let other = rig.nfs().root_handle(1).unwrap().as_bytes().to_vec();
    assert_eq!(getattr_status(&mut rig, &other), NfsStat3::Ok);
    // `secure`: a source port of 1024 or above is PERM, below is fine.
    rig.from(&std::format!("{SECURE}:1024"));
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Perm);
    rig.from(&std::format!("{SECURE}:1023"));
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Ok);
    // `sec=none`: AUTH_SYS is refused, AUTH_NONE is the anonymous user.
    rig.from(SEC_NONE);
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Acces);
    rig.cred = None;
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Ok);
    let g = rig.create(&root, "anon", 0o644).unwrap();
    assert_eq!(rig.getattr(&g).unwrap().uid, 65534);
}

#[test]
fn read_only_refuses_every_change() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "f", 0o666).unwrap();
    let d = rig.mkdir(&root, "d", 0o777).unwrap();
    for from in [READ_ONLY, "192.0.2.1:900"] {
        rig.from(from);
        let (root, f, d) = if from == READ_ONLY {
            (root.clone(), f.clone(), d.clone())
        } else {
            // /ro is read-only for everyone; its back end gets a file and a directory first.
            let ro = rig.nfs().root_handle(2).unwrap().as_bytes().to_vec();
            let fs = rig.nfs().fs_mut(2).unwrap();
            let ctx = crate::fs::Ctx { now: crate::fs::Time::default(), uid: 0, gid: 0 };
            let r = crate::fs::FileSystem::root(fs);
            crate::fs::FileSystem::create(fs, &ctx, &r, b"f", &crate::fs::CreateHow::Guarded(Default::default()))
                .unwrap();
            crate::fs::FileSystem::mkdir(fs, &ctx, &r, b"d", &Default::default()).unwrap();
            let f = rig.lookup(&ro, "f").unwrap();
            let d = rig.lookup(&ro, "d").unwrap();
            (ro, f, d)
        };
        let w = |dir: &[u8], name: &'static str| dirop(dir, name).encoded_len();
        let _ = w;
        let calls: Vec<(u32, Vec<u8>)> = std::vec![
            (procs::SETATTR, enc(&SetattrArgs { object: fh(&f), new_attributes: mode(0o600), guard: None })),
            (procs::WRITE, enc(&WriteArgs { file: fh(&f), offset: 0, stable: StableHow::FileSync, data: b"x" })),
            (
                procs::CREATE,
                enc(&CreateArgs { where_: dirop(&root, "n"), how: CreateHow3::Guarded(Sattr3::UNCHANGED) })
            ),
            (procs::MKDIR, enc(&MkdirArgs { where_: dirop(&root, "n"), attributes: Sattr3::UNCHANGED })),
            (
                procs::SYMLINK,
                enc(&SymlinkArgs {
                    where_: dirop(&root, "n"),
                    symlink: SymlinkData3 {
                        symlink_attributes: Sattr3::UNCHANGED,
                        symlink_data: NfsPath::from_str("t")
                    },
                })
            ),
            (procs::MKNOD, enc(&MknodArgs { where_: dirop(&root, "n"), what: MknodData3::Fifo(Sattr3::UNCHANGED) })),
            (
                procs::MKNOD,
                enc(&MknodArgs {
                    where_: dirop(&root, "n"),
                    what: MknodData3::Chr(DeviceData3 {
                        dev_attributes: Sattr3::UNCHANGED,
                        spec: SpecData3 { specdata1: 1, specdata2: 1 }
                    }),
                })
            ),
            (procs::REMOVE, enc(&RemoveArgs { object: dirop(&root, "f") })),
            (procs::RMDIR, enc(&RmdirArgs { object: dirop(&root, "d") })),
            (procs::RENAME, enc(&RenameArgs { from: dirop(&root, "f"), to: dirop(&root, "g") })),
            (procs::LINK, enc(&LinkArgs { file: fh(&f), link: dirop(&d, "l") })),
            (procs::COMMIT, enc(&CommitArgs { file: fh(&f), offset: 0, count: 0 })),
        ];
        for (p, args) in calls {
            let res = rig.send(PROGRAM, VERSION, p, &args).unwrap();
            assert_eq!(status(&res), NfsStat3::RoFs, "procedure {p} from {from}");
        }
        // Reading works.
        assert_eq!(rig.read(&f, 0, 10).map(|r| r.1), Ok(true));
        assert!(rig.lookup(&root, "d").is_ok());
    }
}

fn enc<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut b = std::vec![0u8; v.encoded_len()];
    crate::xdr::encode_to(v, &mut b).unwrap();
    b
}

#[test]
fn mount_hands_out_the_server_handles() {
    let mut rig = Rig::new();
    let root = rig.root();
    assert_eq!(rig.mnt("/srv"), Ok(root.clone()));
    let d = rig.mkdir(&root, "sub", 0o755).unwrap();
    let e = rig.mkdir(&d, "deeper", 0o755).unwrap();
    rig.create(&d, "file", 0o644).unwrap();
    assert_eq!(rig.mnt("/srv/sub"), Ok(d.clone()));
    assert_eq!(rig.mnt("//srv/./sub/deeper/"), Ok(e.clone()));
    assert_eq!(rig.mnt("/srv/sub/file"), Err(MountStat::NotDir));
    assert_eq!(rig.mnt("/srv/nope"), Err(MountStat::NoEnt));
    assert_eq!(rig.mnt("/srv/sub/file/x"), Err(MountStat::NotDir));
    // `..` from a mounted subdirectory reaches the export root, and stops there.
    assert_eq!(rig.lookup(&d, ".."), Ok(root.clone()));
    assert_eq!(rig.lookup(&root, ".."), Ok(root.clone()));
    // MOUNT admits as NFS does.
    rig.from(STRANGER);
    assert_eq!(rig.mnt("/srv"), Err(MountStat::Acces));
    assert!(rig.mnt("/other").is_ok());
    assert_eq!(rig.d.programs().mount().mounts().len(), 4);
}

#[test]
fn an_export_without_a_back_end() {
    let t = Exports::parse("/a *(rw,insecure)\n/b *(rw,insecure)\n").unwrap();
    let mut s: Nfs3Server<'_, TestFs, 1, 2, 2> = Nfs3Server::new(t, config());
    assert_eq!(s.add("/nope", TestFs::new(1)).err().map(|e| e.0), Some(AddError::NoExport));
    assert_eq!(s.add("/a/", TestFs::new(1)).ok(), Some(0));
    assert_eq!(s.add("/a", TestFs::new(1)).err().map(|e| e.0), Some(AddError::AlreadyAdded));
    assert_eq!(s.add("/b", TestFs::new(2)).err().map(|e| e.0), Some(AddError::Full));
    assert_eq!((s.len(), s.slot("/a"), s.slot("/b")), (1, Some(0), None));
    let mut svc = NfsService::<'_, _, 2, 2, 2, 16>::new(s);
    let mut fh = [0u8; 64];
    use crate::mount::ExportRoots;
    assert_eq!(svc.nfs().root_handle("/b", "", &mut fh), Err(MountStat::NoEnt));
    assert!(svc.nfs().root_handle("/a", "", &mut fh).is_ok());
    assert!(svc.lookup(crate::nfs3::PROGRAM).is_some() && svc.lookup(crate::mount::PROGRAM).is_some());
    assert!(svc.lookup(100_000).is_none());
    // A portmapper on the same dispatcher.
    let pm = crate::rpc::portmap::Portmapper::<4>::new(111, crate::rpc::portmap::SetPolicy::Anyone);
    let mut svc = svc.with_programs(pm);
    assert!(svc.lookup(100_000).is_some() && svc.lookup(crate::nfs3::PROGRAM).is_some());
    assert_eq!(svc.programs().mappings().len(), 2);
}

#[test]
fn reload_keeps_handles_of_exports_that_stay() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "f", 0o644).unwrap();
    // /srv leaves the table: its handles are stale, for NFS and MOUNT.
    rig.d.programs().set_exports(Exports::parse("/other *(rw,insecure)\n/ro *(ro)\n").unwrap());
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Stale);
    assert_eq!(rig.mnt("/srv"), Err(MountStat::NoEnt));
    // It comes back (now for everyone, read-only): the same handles work again.
    rig.d.programs().set_exports(Exports::parse("/ro *(ro)\n/srv *(ro,insecure)\n").unwrap());
    rig.from(STRANGER);
    assert_eq!(getattr_status(&mut rig, &f), NfsStat3::Ok);
    assert_eq!(rig.write(&f, 0, b"x"), Err(NfsStat3::RoFs));
    assert_eq!(rig.mnt("/srv"), Ok(root));
}

fn lab_names(addr: core::net::IpAddr, out: &mut heapless::String<255>) -> bool {
    addr == "192.0.2.50".parse::<core::net::IpAddr>().unwrap() && out.push_str("board.lab").is_ok()
}

#[test]
fn host_name_patterns() {
    let t = Exports::parse("/srv *.lab(rw,insecure)\n").unwrap();
    let mut s = Server::new(t, config());
    s.add("/srv", TestFs::new(1)).ok().unwrap();
    let mut rig = Rig::with(s);
    let root = rig.root();
    rig.from("192.0.2.51:900");
    assert_eq!(getattr_status(&mut rig, &root), NfsStat3::Acces);
    assert_eq!(rig.mnt("/srv"), Err(MountStat::Acces));
    rig.nfs().set_host_names(lab_names);
    assert_eq!(getattr_status(&mut rig, &root), NfsStat3::Acces);
    rig.from("192.0.2.50:900");
    assert_eq!(getattr_status(&mut rig, &root), NfsStat3::Ok);
    assert_eq!(rig.mnt("/srv"), Ok(root));
}

#[test]
fn duplicate_request_cache_answers_a_retransmitted_remove() {
    use crate::nfs3::server::ExportTable;
    let mut svc = NfsService::<'_, DrcProgram<Server, 8, 512>, 4, 16, 8, 64>::new(DrcProgram::new(server()));
    assert_eq!(svc.nfs().exports().len(), 3);
    let root = svc.nfs().inner().root_handle(0).unwrap();
    let mut d = crate::rpc::server::Dispatcher::new(svc);
    let mut c = crate::rpc::client::Client::<2>::new(crate::rpc::client::ClientConfig::datagram(), 77);
    let cred = crate::rpc::Credential::None;
    let call =
        |d: &mut crate::rpc::server::Dispatcher<_>, c: &mut crate::rpc::client::Client<2>, p, args: &dyn Encode| {
            let mut req = [0u8; 512];
            let (_, n) = c.call(crate::time::Instant::ZERO, PROGRAM, VERSION, p, &cred, args, &mut req).unwrap();
            let mut rep = [0u8; 1024];
            let crate::rpc::server::Dispatch::Reply(m) = d.handle(peer(ROOT), &req[..n], &mut rep) else { panic!() };
            (req[..n].to_vec(), rep[..m].to_vec())
        };
    let how = CreateHow3::Unchecked(Sattr3::UNCHANGED);
    call(&mut d, &mut c, procs::CREATE, &CreateArgs { where_: dirop(root.as_bytes(), "f"), how });
    let (req, first) = call(&mut d, &mut c, procs::REMOVE, &RemoveArgs { object: dirop(root.as_bytes(), "f") });
    let mut again = [0u8; 1024];
    let crate::rpc::server::Dispatch::Reply(m) = d.handle(peer(ROOT), &req, &mut again) else { panic!() };
    assert_eq!(&again[..m], &first[..], "the retransmission gets the first reply, not NOENT");
    assert_eq!(d.programs().nfs().stats().hits, 1);
    // MOUNT still finds the back ends through the cache wrapper.
    let mut fh = [0u8; 64];
    use crate::mount::ExportRoots;
    assert_eq!(d.programs().nfs().root_handle("/srv", "", &mut fh), Ok(root.as_bytes().len()));
    let _: Option<WccData> = None;
}

#[test]
fn garbage_from_a_stranger_is_still_garbage() {
    let mut rig = Rig::new();
    rig.from(STRANGER);
    assert_eq!(
        rig.send(PROGRAM, VERSION, procs::GETATTR, &[0, 0]),
        Err(CallFailure::Accepted(AcceptStat::GarbageArgs))
    );
}
