//! Server tests: protocol errors, GETATTR, SETATTR, ACCESS, FSSTAT, FSINFO, PATHCONF.

use std::vec::Vec;

use super::tests_rig::*;
use crate::nfs3::{
    AccessArgs, AccessRes, FType3, FsinfoArgs, FsinfoRes, FsstatArgs, FsstatRes, GetattrArgs, NfsRes, NfsStat3,
    NfsTime, PROGRAM, PathconfArgs, PathconfRes, Sattr3, SetTime, SetattrArgs, SetattrRes, StableHow, VERSION,
    WriteArgs, access, fsf, procs,
};
use crate::rpc::client::CallFailure;
use crate::rpc::msg::AcceptStat;
use crate::rpc::server::{Dispatch, Dispatcher};
use crate::time::Instant;
use crate::xdr::{self, Encode};

fn enc<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut b = std::vec![0u8; v.encoded_len()];
    xdr::encode_to(v, &mut b).unwrap();
    b
}

fn setattr(rig: &mut Rig, obj: &[u8], set: Sattr3, guard: Option<NfsTime>) -> SetattrRes {
    let res = rig.call(procs::SETATTR, &SetattrArgs { object: fh(obj), new_attributes: set, guard });
    dec(&res)
}

#[test]
fn null_unknown_procedures_and_garbage() {
    let mut rig = Rig::new();
    assert_eq!(rig.send(PROGRAM, VERSION, procs::NULL, &[]), Ok(Vec::new()));
    let garbage = Err(CallFailure::Accepted(AcceptStat::GarbageArgs));
    let root = rig.root();
    // Every procedure's arguments cut short: GARBAGE_ARGS, whatever the cut.
    let full = enc(&crate::nfs3::ReaddirplusArgs {
        dir: fh(&root),
        cookie: 0,
        cookieverf: crate::nfs3::Verifier([0; 8]),
        dircount: 100,
        maxcount: 1000,
    });
    for p in 1..procs::COUNT {
        for cut in [0, 3, 4, root.len() + 2] {
            assert_eq!(rig.send(PROGRAM, VERSION, p, &full[..cut]), garbage, "procedure {p}, {cut} bytes");
        }
    }
    // Bytes after the arguments.
    let mut long = enc(&GetattrArgs { object: fh(&root) });
    long.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(rig.send(PROGRAM, VERSION, procs::GETATTR, &long), garbage);
    // A handle longer than 64 bytes, a stable_how outside the RFC.
    let mut big = std::vec![0, 0, 0, 65];
    big.extend_from_slice(&[0; 68]);
    assert_eq!(rig.send(PROGRAM, VERSION, procs::GETATTR, &big), garbage);
    let w = WriteArgs { file: fh(&root), offset: 0, stable: StableHow::Unknown(3), data: b"x" };
    assert_eq!(rig.send(PROGRAM, VERSION, procs::WRITE, &enc(&w)), garbage);
    // Procedure 22 and version 2.
    assert_eq!(rig.send(PROGRAM, VERSION, 22, &[]), Err(CallFailure::Accepted(AcceptStat::ProcUnavail)));
    assert_eq!(
        rig.send(PROGRAM, 2, procs::GETATTR, &[]),
        Err(CallFailure::Accepted(AcceptStat::ProgMismatch { low: 3, high: 3 }))
    );
}

#[test]
fn reply_that_does_not_fit_is_a_system_error() {
    let mut rig = Rig::new();
    let root = rig.root();
    let mut c = crate::rpc::client::Client::<1>::new(crate::rpc::client::ClientConfig::stream(), 9);
    let mut req = [0u8; 256];
    let (_, n) = c
        .call(
            Instant::ZERO,
            PROGRAM,
            VERSION,
            procs::GETATTR,
            &crate::rpc::Credential::None,
            &GetattrArgs { object: fh(&root) },
            &mut req,
        )
        .unwrap();
    let mut d = Dispatcher::new(server());
    let mut reply = [0u8; 60];
    let Dispatch::Reply(m) = d.handle(peer(ROOT), &req[..n], &mut reply) else { panic!() };
    assert_eq!(c.handle_reply(&reply[..m]).unwrap().result, Err(CallFailure::Accepted(AcceptStat::SystemErr)));
}

#[test]
fn getattr_of_the_root() {
    let mut rig = Rig::new();
    let root = rig.root();
    let a = rig.getattr(&root).unwrap();
    assert_eq!((a.ftype, a.mode, a.fsid, a.uid), (FType3::Dir, 0o777, 1, 0));
    // /other is another back end.
    let other = rig.nfs().root_handle(1).unwrap().as_bytes().to_vec();
    assert_eq!(rig.getattr(&other).unwrap().fsid, 2);
}

#[test]
fn setattr_changes_and_wcc() {
    let mut rig = Rig::new();
    let root = rig.root();
    rig.user(1000, 100);
    let f = rig.create(&root, "f", 0o644).unwrap();
    rig.write(&f, 0, b"hello world").unwrap();
    let before = rig.getattr(&f).unwrap();
    rig.now = Instant::from_millis(2_500);
    let set = Sattr3 {
        mode: Some(0o600),
        size: Some(5),
        mtime: SetTime::ClientTime(NfsTime { seconds: 7, nseconds: 8 }),
        ..Sattr3::UNCHANGED
    };
    let NfsRes::Ok(wcc) = setattr(&mut rig, &f, set, None) else { panic!() };
    let pre = wcc.before.unwrap();
    let post = wcc.after.unwrap();
    assert_eq!((pre.size, pre.ctime), (11, before.ctime));
    assert_eq!((post.mode, post.size, post.mtime), (0o600, 5, NfsTime { seconds: 7, nseconds: 8 }));
    // ctime is the boot time plus the dispatcher's clock.
    assert_eq!(post.ctime, NfsTime { seconds: 1_000_002, nseconds: 500_000_000 });
    // The guard: a stale ctime is NOT_SYNC (with WCC data), the current one passes.
    let stale = Some(before.ctime);
    let NfsRes::Fail(NfsStat3::NotSync, wcc) = setattr(&mut rig, &f, mode(0o644), stale) else { panic!() };
    assert!(wcc.before.is_some() && wcc.after.unwrap().mode == 0o600);
    assert!(matches!(setattr(&mut rig, &f, mode(0o640), Some(post.ctime)), NfsRes::Ok(_)));
    // Not the owner: no chmod, no chown, no client times; size needs write permission.
    rig.user(2000, 100);
    assert_eq!(setattr(&mut rig, &f, mode(0o777), None).status(), NfsStat3::Perm);
    let chown = Sattr3 { uid: Some(2000), ..Sattr3::UNCHANGED };
    assert_eq!(setattr(&mut rig, &f, chown, None).status(), NfsStat3::Perm);
    let times = Sattr3 { atime: SetTime::ClientTime(NfsTime { seconds: 1, nseconds: 0 }), ..Sattr3::UNCHANGED };
    assert_eq!(setattr(&mut rig, &f, times, None).status(), NfsStat3::Perm);
    let trunc = Sattr3 { size: Some(0), ..Sattr3::UNCHANGED };
    assert_eq!(setattr(&mut rig, &f, trunc, None).status(), NfsStat3::Acces);
    // The owner may chgrp to a group of theirs only; root may chown.
    rig.cred = Some((1000, 100, std::vec![200]));
    let chgrp = |g| Sattr3 { gid: Some(g), ..Sattr3::UNCHANGED };
    assert_eq!(setattr(&mut rig, &f, chgrp(300), None).status(), NfsStat3::Perm);
    assert_eq!(setattr(&mut rig, &f, chgrp(200), None).status(), NfsStat3::Ok);
    rig.user(0, 0);
    assert_eq!(setattr(&mut rig, &f, chown, None).status(), NfsStat3::Ok);
    assert_eq!(rig.getattr(&f).unwrap().uid, 2000);
    // A size on a directory.
    assert_eq!(setattr(&mut rig, &root, trunc, None).status(), NfsStat3::IsDir);
}

#[test]
fn chown_clears_setuid() {
    let mut rig = Rig::new();
    let root = rig.root();
    let f = rig.create(&root, "suid", 0o4755).unwrap();
    assert_eq!(rig.getattr(&f).unwrap().mode, 0o4755);
    let chown = Sattr3 { uid: Some(5), ..Sattr3::UNCHANGED };
    assert_eq!(setattr(&mut rig, &f, chown, None).status(), NfsStat3::Ok);
    assert_eq!(rig.getattr(&f).unwrap().mode, 0o755);
}

fn access(rig: &mut Rig, obj: &[u8], want: u32) -> u32 {
    match dec::<AccessRes>(&rig.call(procs::ACCESS, &AccessArgs { object: fh(obj), access: want })) {
        NfsRes::Ok(ok) => {
            assert!(ok.obj_attributes.is_some());
            ok.access
        }
        NfsRes::Fail(s, _) => panic!("{s:?}"),
    }
}

#[test]
fn access_from_mode_bits() {
    let mut rig = Rig::new();
    let root = rig.root();
    rig.user(1000, 100);
    let f = rig.create(&root, "f", 0o640).unwrap();
    let d = rig.mkdir(&root, "d", 0o750).unwrap();
    let file_bits = access::READ | access::MODIFY | access::EXTEND | access::EXECUTE;
    assert_eq!(access(&mut rig, &f, access::ALL), access::READ | access::MODIFY | access::EXTEND);
    assert_eq!(access(&mut rig, &d, access::ALL), access::ALL & !access::EXECUTE);
    // Only the requested bits come back.
    assert_eq!(access(&mut rig, &f, access::READ | access::DELETE), access::READ);
    rig.user(2000, 100);
    assert_eq!(access(&mut rig, &f, file_bits), access::READ);
    assert_eq!(access(&mut rig, &d, access::ALL), access::READ | access::LOOKUP);
    rig.user(2000, 5);
    assert_eq!(access(&mut rig, &f, file_bits), 0);
    // Root: everything but execute of a file without x bits.
    rig.user(0, 0);
    assert_eq!(access(&mut rig, &f, file_bits), access::READ | access::MODIFY | access::EXTEND);
    // Squashed root is nobody.
    rig.from(SQUASHED);
    assert_eq!(access(&mut rig, &f, file_bits), 0);
    // Read-only entry: no MODIFY, EXTEND or DELETE.
    rig.from(READ_ONLY);
    assert_eq!(access(&mut rig, &d, access::ALL), access::READ | access::LOOKUP);
    assert_eq!(access(&mut rig, &f, file_bits), access::READ);
}

#[test]
fn access_ignores_read_only_on_devices() {
    let mut rig = Rig::new();
    let root = rig.root();
    let args = crate::nfs3::MknodArgs {
        where_: dirop(&root, "null"),
        what: crate::nfs3::MknodData3::Chr(crate::nfs3::DeviceData3 {
            dev_attributes: mode(0o666),
            spec: crate::nfs3::SpecData3 { specdata1: 1, specdata2: 3 },
        }),
    };
    let res = rig.call(procs::MKNOD, &args);
    let NfsRes::Ok(ok) = dec::<crate::nfs3::MknodRes<'_>>(&res) else { panic!() };
    let dev = ok.obj.unwrap().as_bytes().to_vec();
    rig.from(READ_ONLY).user(1000, 100);
    let rw = access::READ | access::MODIFY | access::EXTEND;
    assert_eq!(access(&mut rig, &dev, rw), rw);
}

#[test]
fn fsstat_fsinfo_pathconf() {
    let mut rig = Rig::new();
    let root = rig.root();
    let NfsRes::Ok(st) = dec::<FsstatRes>(&rig.call(procs::FSSTAT, &FsstatArgs { fsroot: fh(&root) })) else {
        panic!()
    };
    assert_eq!((st.tbytes, st.fbytes, st.tfiles, st.invarsec), (256 * 512, 256 * 512, 2048, 0));
    assert!(st.ffiles > 2000 && st.afiles == st.ffiles);
    assert!(st.obj_attributes.is_some());
    let NfsRes::Ok(info) = dec::<FsinfoRes>(&rig.call(procs::FSINFO, &FsinfoArgs { fsroot: fh(&root) })) else {
        panic!()
    };
    assert_eq!((info.rtmax, info.rtpref, info.rtmult), (4096, 4096, 4096));
    assert_eq!((info.wtmax, info.wtpref, info.wtmult, info.dtpref), (8192, 8192, 4096, 16 * 1024));
    assert_eq!((info.maxfilesize, info.time_delta), (1 << 40, NfsTime { seconds: 0, nseconds: 1 }));
    assert_eq!(info.properties, fsf::LINK | fsf::SYMLINK | fsf::HOMOGENEOUS | fsf::CANSETTIME);
    let NfsRes::Ok(pc) = dec::<PathconfRes>(&rig.call(procs::PATHCONF, &PathconfArgs { object: fh(&root) })) else {
        panic!()
    };
    assert_eq!((pc.linkmax, pc.name_max, pc.no_trunc, pc.chown_restricted), (65_535, 255, true, true));
    assert_eq!((pc.case_insensitive, pc.case_preserving), (false, true));
    // A stale handle gets the failure arm without attributes.
    let stale = stale(&root);
    let res = rig.call(procs::FSSTAT, &FsstatArgs { fsroot: fh(&stale) });
    assert_eq!(dec::<FsstatRes>(&res), NfsRes::Fail(NfsStat3::Stale, None));
    let res = rig.call(procs::PATHCONF, &PathconfArgs { object: fh(&stale) });
    assert_eq!(dec::<PathconfRes>(&res), NfsRes::Fail(NfsStat3::Stale, None));
}

#[test]
fn wall_clock_adds_the_dispatcher_time_to_boot_time() {
    let mut s = server();
    s.config.boot_time = crate::fs::Time { secs: 10, nsecs: 900_000_000 };
    assert_eq!(s.wall_clock(Instant::from_micros(1_200_000)), crate::fs::Time { secs: 12, nsecs: 100_000_000 });
    s.config.boot_time = crate::fs::Time { secs: u32::MAX, nsecs: 0 };
    assert_eq!(s.wall_clock(Instant::from_micros(u64::MAX)).secs, u32::MAX);
}
