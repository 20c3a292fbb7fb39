//! tshark dissects a capture of all 22 NFSv3 procedures and all 6 MOUNT v3 procedures between
//! Tern's test client and `tern serve` (TCP, and some over UDP): every procedure appears as a
//! call and as a reply, no frame is malformed, no RPC frame carries an expert warning, and the
//! error replies carry the expected `nfsstat3`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tern_core::mount::MountStat;
use tern_core::nfs3::{CreateHow3, FType3, MknodData3, NfsStat3, Sattr3, StableHow, Verifier, access, fsf, procs};
use tern_tests::nfs::{MOUNT, NFS, NfsClient, NfsOutcome, TernServe, export_line, temp_dir};
use tern_tests::{ChildGuard, require, run, wait_until};

fn tshark_fields(tshark: &Path, pcap: &Path, ports: &[u16], filter: &str, fields: &[&str]) -> String {
    let mut cmd = Command::new(tshark);
    cmd.arg("-r").arg(pcap);
    for p in ports {
        cmd.args(["-d", &format!("tcp.port=={p},rpc"), "-d", &format!("udp.port=={p},rpc")]);
    }
    cmd.args(["-Y", filter, "-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let (ok, out, err) = run(&mut cmd);
    assert!(ok, "tshark -r failed: {err}");
    out
}

/// (msgtyp, program, procedure, status) of every RPC message of the capture, one per message
/// (a frame with several messages gives comma-separated fields: they are split).
fn rpc_messages(tshark: &Path, pcap: &Path, ports: &[u16], filter: &str, status: &str) -> Vec<[String; 4]> {
    let out = tshark_fields(tshark, pcap, ports, filter, &["rpc.msgtyp", "rpc.program", "rpc.procedure", status]);
    let mut msgs = Vec::new();
    for line in out.lines() {
        let cols: Vec<Vec<&str>> = line.split('\t').map(|c| c.split(',').collect()).collect();
        let n = cols[0].len();
        for i in 0..n {
            let get = |c: usize| cols.get(c).and_then(|v| v.get(i)).copied().unwrap_or("").to_string();
            msgs.push([get(0), get(1), get(2), get(3)]);
        }
    }
    msgs
}

/// Drives every NFS and MOUNT procedure over TCP, with error replies among them.
fn drive_tcp(s: &TernServe, export: &Path) {
    let path = export.display().to_string();
    let mut m = NfsClient::tcp(s.mount_addr()).unwrap();
    m.null(MOUNT).unwrap();
    let root = m.mnt(&path).unwrap().expect("MNT").fhandle;
    assert_eq!(m.mnt("/not/exported").unwrap().err(), Some(MountStat::NoEnt));
    let dump = m.dump().unwrap();
    assert!(dump.iter().any(|(h, d)| h == "127.0.0.1" && d == &path), "DUMP: {dump:?}");
    let exports = m.export().unwrap();
    assert_eq!(exports, vec![(path.clone(), vec!["127.0.0.1".to_string()])]);
    m.umnt(&path).unwrap();
    m.umntall().unwrap();
    assert!(m.dump().unwrap().is_empty());

    let mut c = NfsClient::tcp(s.nfs_addr()).unwrap();
    c.null(NFS).unwrap();
    let info = c.fsinfo(&root).expect_ok("FSINFO");
    assert!(info.rtmax >= 4096 && info.properties & fsf::SYMLINK != 0, "{info:?}");
    c.fsstat(&root).expect_ok("FSSTAT");
    assert!(c.pathconf(&root).expect_ok("PATHCONF").name_max >= 255);
    assert_eq!(c.getattr(&root).expect_ok("GETATTR").ftype, FType3::Dir);
    assert_eq!(c.access(&root, access::ALL).expect_ok("ACCESS").access & access::READ, access::READ);

    let dir = c.mkdir(&root, "dir", Sattr3 { mode: Some(0o755), ..Sattr3::UNCHANGED }).expect_ok("MKDIR").fh();
    let file = c.create(&root, "file", CreateHow3::Unchecked(Sattr3::UNCHANGED)).expect_ok("CREATE UNCHECKED").fh();
    c.create(&root, "guarded", CreateHow3::Guarded(Sattr3::UNCHANGED)).expect_ok("CREATE GUARDED");
    c.create(&root, "exclusive", CreateHow3::Exclusive(Verifier(*b"wire-vf1"))).expect_ok("CREATE EXCLUSIVE");
    // Error replies: EXIST, NOENT, NOTEMPTY.
    assert_eq!(c.create(&root, "file", CreateHow3::Guarded(Sattr3::UNCHANGED)).status(), NfsStat3::Exist);
    assert_eq!(c.lookup(&root, "missing").status(), NfsStat3::NoEnt);
    assert_eq!(c.lookup(&root, "file").expect_ok("LOOKUP").object, file);

    for (i, stable) in [StableHow::Unstable, StableHow::DataSync, StableHow::FileSync].into_iter().enumerate() {
        let w = c.write(&file, i as u64 * 5, b"hello", stable).expect_ok("WRITE");
        assert_eq!(w.count, 5);
    }
    let r = c.read(&file, 0, 100).expect_ok("READ");
    assert_eq!((r.data.as_slice(), r.eof), (&b"hellohellohello"[..], true));
    c.commit(&file, 0, 0).expect_ok("COMMIT");
    c.setattr(&file, Sattr3 { mode: Some(0o640), ..Sattr3::UNCHANGED }, None).expect_ok("SETATTR");

    let link = c.symlink(&root, "symlink", "file", Sattr3::UNCHANGED).expect_ok("SYMLINK").fh();
    assert_eq!(c.readlink(&link).expect_ok("READLINK").data, b"file");
    let fifo = c.mknod(&root, "fifo", MknodData3::Fifo(Sattr3::UNCHANGED)).expect_ok("MKNOD").fh();
    assert_eq!(c.getattr(&fifo).expect_ok("GETATTR fifo").ftype, FType3::Fifo);
    c.link(&file, &dir, "hardlink").expect_ok("LINK");
    c.rename(&dir, "hardlink", &root, "renamed").expect_ok("RENAME");

    let names = |entries: Vec<tern_tests::nfs::DirEntry>| entries.iter().map(|e| e.name()).collect::<BTreeSet<_>>();
    let listed = c.readdir(&root, 0, Verifier::default(), 8192).expect_ok("READDIR");
    assert!(listed.eof);
    let want: BTreeSet<String> = [".", "..", "dir", "file", "guarded", "exclusive", "symlink", "fifo", "renamed"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names(listed.entries), want);
    let plus = c.readdirplus(&root, 0, Verifier::default(), 8192, 32768).expect_ok("READDIRPLUS");
    // Every entry but `..` of the export root (as Linux) comes with its handle and attributes.
    assert!(plus.entries.iter().all(|e| e.name == b".." || (e.handle.is_some() && e.attributes.is_some())));
    assert_eq!(names(plus.entries), want);

    c.create(&dir, "inner", CreateHow3::Unchecked(Sattr3::UNCHANGED)).expect_ok("CREATE inner");
    assert_eq!(c.rmdir(&root, "dir").status(), NfsStat3::NotEmpty);
    c.remove(&dir, "inner").expect_ok("REMOVE");
    c.rmdir(&root, "dir").expect_ok("RMDIR");
    c.remove(&root, "renamed").expect_ok("REMOVE renamed");
}

/// A few procedures over UDP.
fn drive_udp(s: &TernServe, export: &Path) {
    let mut m = NfsClient::udp(s.mount_addr()).unwrap();
    m.null(MOUNT).unwrap();
    let root = m.mnt(&export.display().to_string()).unwrap().expect("MNT over UDP").fhandle;
    assert_eq!(m.export().unwrap().len(), 1);
    let mut c = NfsClient::udp(s.nfs_addr()).unwrap();
    c.null(NFS).unwrap();
    c.getattr(&root).expect_ok("GETATTR over UDP");
    let file = c.lookup(&root, "file").expect_ok("LOOKUP over UDP").object;
    c.write(&file, 15, b"!", StableHow::FileSync).expect_ok("WRITE over UDP");
    assert_eq!(c.read(&file, 0, 100).expect_ok("READ over UDP").data, b"hellohellohello!");
    assert_eq!(c.lookup(&root, "nothing").status(), NfsStat3::NoEnt);
    c.readdir(&root, 0, Verifier::default(), 4096).expect_ok("READDIR over UDP");
}

#[test]
fn tshark_dissects_every_nfs_and_mount_procedure() {
    let tshark = require("tshark");
    let dir = temp_dir("nfs-wire");
    let (export, state, pcap) = (dir.join("export"), dir.join("state"), dir.join("nfs.pcapng"));
    std::fs::create_dir_all(&export).unwrap();

    // Ports are picked first, so that the capture runs before `tern serve` starts.
    let (nfs_port, mount_port) = (tern_tests::free_port(), tern_tests::free_port());
    assert_ne!(nfs_port, mount_port);
    let mut cap = Command::new(&tshark);
    cap.args(["-i", "lo", "-B", "256", "-f", &format!("port {nfs_port} or port {mount_port}"), "-w"]);
    cap.arg(&pcap).arg("-q");
    let cap = ChildGuard::spawn("tshark", &mut cap);
    assert!(wait_until(Duration::from_secs(20), || pcap.exists()), "tshark did not start");
    std::thread::sleep(Duration::from_millis(500));

    let s =
        TernServe::start(&[export_line(&export, "rw,no_root_squash,insecure")], &state, Some((nfs_port, mount_port)));
    drive_tcp(&s, &export);
    drive_udp(&s, &export);
    assert!(s.stop().success());

    std::thread::sleep(Duration::from_millis(500));
    cap.signal("INT");
    cap.wait(Duration::from_secs(10));

    let ports = [nfs_port, mount_port];
    // Every procedure of both programs as a call and as a reply, over TCP.
    for (transport, filter) in [("TCP", "rpc && tcp"), ("UDP", "rpc && udp")] {
        let msgs = rpc_messages(&tshark, &pcap, &ports, filter, "nfs.status");
        let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for [typ, prog, proc_, _] in &msgs {
            *seen.entry((typ.clone(), prog.clone(), proc_.clone())).or_default() += 1;
        }
        let (nfs_procs, mount_procs): (Vec<u32>, Vec<u32>) = if transport == "TCP" {
            ((0..procs::COUNT).collect(), (0..=5).collect())
        } else {
            (vec![procs::NULL, procs::GETATTR, procs::LOOKUP, procs::READ, procs::WRITE, procs::READDIR], vec![0, 1, 5])
        };
        for (prog, list) in [(NFS, &nfs_procs), (MOUNT, &mount_procs)] {
            for p in list {
                for typ in ["0", "1"] {
                    let key = (typ.to_string(), prog.to_string(), p.to_string());
                    assert!(
                        seen.contains_key(&key),
                        "{transport}: no {} of program {prog} procedure {p} in the capture; saw {seen:?}",
                        if typ == "0" { "call" } else { "reply" }
                    );
                }
            }
        }
        let calls = msgs.iter().filter(|m| m[0] == "0").count();
        let replies = msgs.iter().filter(|m| m[0] == "1").count();
        assert_eq!(calls, replies, "{transport}: every call has its reply");
    }

    // The error replies carry their nfsstat3 (and MNT of an unexported path its mountstat3).
    let replies = rpc_messages(&tshark, &pcap, &ports, "rpc.msgtyp == 1 && rpc.program == 100003", "nfs.status");
    let statuses = |proc_: u32| -> Vec<String> {
        replies.iter().filter(|m| m[2] == proc_.to_string()).map(|m| m[3].clone()).collect()
    };
    let count = |v: &[String], st: &str| v.iter().filter(|s| *s == st).count();
    let lookups = statuses(procs::LOOKUP);
    assert_eq!(count(&lookups, "2"), 2, "LOOKUP NOENT (TCP and UDP): {lookups:?}");
    assert_eq!(count(&lookups, "0"), lookups.len() - 2, "{lookups:?}");
    let creates = statuses(procs::CREATE);
    assert_eq!((count(&creates, "17"), count(&creates, "0")), (1, 4), "CREATE: {creates:?}");
    let rmdirs = statuses(procs::RMDIR);
    assert_eq!(rmdirs, ["66", "0"], "RMDIR NOTEMPTY then OK");
    for p in [procs::GETATTR, procs::WRITE, procs::READ, procs::COMMIT, procs::READDIRPLUS, procs::MKNOD] {
        let st = statuses(p);
        assert!(!st.is_empty() && st.iter().all(|s| s == "0"), "procedure {p}: {st:?}");
    }
    // The calls hold the three WRITE stabilities, the three CREATE modes and a FIFO for MKNOD.
    let call_values = |proc_: u32, field: &str| -> BTreeSet<String> {
        let filter = format!("rpc.msgtyp == 0 && rpc.program == 100003 && rpc.procedure == {proc_}");
        let out = tshark_fields(&tshark, &pcap, &ports, &filter, &[field]);
        out.split(['\n', ',']).filter(|v| !v.is_empty()).map(String::from).collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(call_values(procs::WRITE, "nfs.write.stable"), set(&["0", "1", "2"]), "WRITE stable_how");
    assert_eq!(call_values(procs::CREATE, "nfs.createmode"), set(&["0", "1", "2"]), "CREATE createmode3");
    assert_eq!(call_values(procs::MKNOD, "nfs.type"), set(&["7"]), "MKNOD type");
    let mnts = rpc_messages(&tshark, &pcap, &ports, "rpc.msgtyp == 1 && rpc.program == 100005", "mount.status");
    let mnt_status: Vec<&str> = mnts.iter().filter(|m| m[2] == "1").map(|m| m[3].as_str()).collect();
    assert_eq!(mnt_status, ["0", "2", "0"], "MNT statuses (TCP OK, TCP NOENT, UDP OK)");

    let bad = tshark_fields(
        &tshark,
        &pcap,
        &ports,
        "_ws.malformed || (_ws.expert.severity >= warning && rpc)",
        &["frame.number", "_ws.expert.message"],
    );
    assert!(bad.trim().is_empty(), "tshark flags frames:\n{bad}");
    let _ = std::fs::remove_dir_all(&dir);
}
