//! The `tern` file commands against `tern serve`: every command with its failures and exit
//! codes, 256 MiB copies both ways, a soft mount that gives up, the UMNT at the end of a
//! session, a stale handle, and the export as a `FileSystem` (`RemoteFs`).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use tern_core::fs::{CreateHow, Ctx, FileSystem, FsError, SetAttr, Stability, Time};
use tern_std::cli::CliError;
use tern_std::nfs::{NfsUrl, RemoteFs, Session, SessionOptions};
use tern_tests::client::{Remote, every_command, sha256, tern};
use tern_tests::nfs::{TernServe, export_line};
use tern_tests::{random_file, temp_dir};

fn serve(name: &str) -> (TernServe, Remote, std::path::PathBuf) {
    let dir = temp_dir(name);
    let export = dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    let s = TernServe::start(&[export_line(&export, "rw,no_root_squash,insecure")], &dir.join("state"), None);
    let r = Remote::new(s.nfs, s.mount, &export);
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    (s, r, scratch)
}

#[test]
fn every_command_against_tern_serve() {
    let (_s, r, scratch) = serve("client-cmds");
    every_command(&r, &scratch);
}

#[test]
fn copy_256_mib_both_ways() {
    let (_s, r, scratch) = serve("client-256");
    let src = scratch.join("src.bin");
    random_file(&src, 256 << 20, 0x7e57);
    let t = Instant::now();
    tern(&["cp", src.to_str().unwrap(), &r.url("big.bin")]).ok();
    let up = t.elapsed();
    assert_eq!(sha256(&r.local("big.bin")), sha256(&src));
    let back = scratch.join("back.bin");
    let t = Instant::now();
    tern(&["cp", &r.url("big.bin"), back.to_str().unwrap()]).ok();
    let down = t.elapsed();
    assert_eq!(sha256(&back), sha256(&src));
    eprintln!("256 MiB: to tern serve {up:?}, from tern serve {down:?}");
}

#[test]
fn soft_mount_gives_up_on_a_silent_server() {
    // A "server" that accepts connections and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _hold = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in l.incoming().flatten() {
            conns.push(c);
        }
    });
    let url = format!("nfs://127.0.0.1/x?nfsport={port}&mountport={port}");
    let t = Instant::now();
    tern(&["ls", "--soft", "--timeout", "2", &url]).fails(4, "no reply from the server in time");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

fn open(r: &Remote, path: &str) -> (Session, String) {
    let url = NfsUrl::parse(&r.url(path)).unwrap();
    Session::open_url(&url, SessionOptions::default()).unwrap()
}

#[test]
fn session_mount_list_and_stale_handles() {
    let (s, r, _) = serve("client-session");
    let (mut sess, rest) = open(&r, "");
    assert_eq!(rest, "");
    assert_eq!(sess.export(), r.export);
    let root = sess.root();
    // The server's mount list has us until UMNT.
    let mut m = tern_tests::nfs::NfsClient::tcp(s.mount_addr()).unwrap();
    assert!(m.dump().unwrap().iter().any(|(_, d)| *d == r.export));
    let f =
        sess.create(&root, "gone", tern_core::nfs3::CreateHow3::Guarded(tern_core::nfs3::Sattr3::UNCHANGED)).unwrap();
    sess.remove(&root, "gone").unwrap();
    let e = sess.getattr(&f).unwrap_err();
    let cli = CliError::nfs("gone", e);
    assert_eq!(cli.code, 12, "{}", cli.msg);
    assert!(cli.msg.contains("stale"), "{}", cli.msg);
    sess.unmount().unwrap();
    assert!(!m.dump().unwrap().iter().any(|(_, d)| *d == r.export));
}

#[test]
fn remote_fs_is_a_file_system() {
    let (_s, r, _) = serve("client-remotefs");
    let (sess, _) = open(&r, "");
    let mut fs = RemoteFs::new(sess).unwrap();
    let ctx = Ctx { now: Time::default(), uid: 0, gid: 0 };
    let root = fs.root();
    let d = fs.mkdir(&ctx, &root, b"dir", &SetAttr::default()).unwrap();
    let f =
        fs.create(&ctx, &d, b"file", &CreateHow::Guarded(SetAttr { mode: Some(0o600), ..SetAttr::default() })).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (n, _) = fs.write(&ctx, &f, 0, &data, Stability::Unstable).unwrap();
    assert_eq!(n, data.len());
    fs.commit(&f, 0, 0).unwrap();
    assert_ne!(fs.write_verifier(), [0; 8]);
    let mut back = vec![0u8; data.len() + 10];
    let (got, eof) = fs.read(&f, 0, &mut back).unwrap();
    assert_eq!((got, eof), (data.len(), true));
    assert!(back[..got] == data[..]);
    assert_eq!(std::fs::read(r.local("dir/file")).unwrap(), data);
    let a = fs.getattr(&f).unwrap();
    assert_eq!((a.size, a.mode & 0o777), (data.len() as u64, 0o600));
    assert_eq!(fs.lookup(&root, b"dir").unwrap(), d);
    fs.symlink(&ctx, &d, b"link", b"file", &SetAttr::default()).unwrap();
    let l = fs.lookup(&d, b"link").unwrap();
    let mut t = [0u8; 16];
    let n = fs.readlink(&l, &mut t).unwrap();
    assert_eq!(&t[..n], b"file");
    fs.rename(&ctx, &d, b"file", &root, b"moved").unwrap();
    let mut names = Vec::new();
    fs.readdir(&root, 0, [0; 8], &mut |e| {
        names.push(String::from_utf8_lossy(e.name).into_owned());
        true
    })
    .unwrap();
    names.sort();
    assert_eq!(names, [".", "..", "dir", "moved"]);
    // A listing stopped after one entry resumes from its cookie.
    let mut first = None;
    let end = fs
        .readdir(&root, 0, [0; 8], &mut |e| {
            if first.is_some() {
                return false;
            }
            first = Some(e.cookie);
            true
        })
        .unwrap();
    assert!(!end.eof);
    let mut rest = 0;
    fs.readdir(&root, first.unwrap(), end.verifier, &mut |_| {
        rest += 1;
        true
    })
    .unwrap();
    assert_eq!(rest, 3);
    assert_eq!(fs.remove(&ctx, &root, b"nope"), Err(FsError::NoEnt));
    assert_eq!(fs.rmdir(&ctx, &root, b"dir"), Err(FsError::NotEmpty));
    fs.remove(&ctx, &d, b"link").unwrap();
    fs.rmdir(&ctx, &root, b"dir").unwrap();
    assert!(fs.fsstat(&root).unwrap().total_bytes > 0);
    assert_eq!(fs.getattr(&d), Err(FsError::Stale));
}

/// `RemoteFs` reads ahead of a sequential reader: a 5 MiB file read in 128 KiB pieces comes
/// back exact, a write through the same `RemoteFs` in the middle of the stream is seen by the
/// next reads, a jump elsewhere reads the right bytes, and data changed on the server's disk
/// is seen once the read-ahead's age limit has passed.
#[test]
fn remote_fs_reads_ahead_without_serving_stale_data() {
    let (_s, r, _) = serve("client-readahead");
    let data: Vec<u8> = (0..5u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(r.local("f"), &data).unwrap();
    let (sess, _) = open(&r, "");
    let mut fs = RemoteFs::new(sess).unwrap();
    let ctx = Ctx { now: Time::default(), uid: 0, gid: 0 };
    let f = fs.lookup(&fs.root(), b"f").unwrap();
    let read_all = |fs: &mut RemoteFs| {
        let (mut out, mut buf, mut off) = (Vec::new(), vec![0u8; 128 << 10], 0u64);
        loop {
            let (n, eof) = fs.read(&f, off, &mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
            off += n as u64;
            if eof || n == 0 {
                return out;
            }
        }
    };
    assert!(read_all(&mut fs) == data, "sequential read with read-ahead");
    // A write in the middle of a stream: the following reads see it.
    let mut buf = vec![0u8; 128 << 10];
    for i in 0..8u64 {
        fs.read(&f, i * (128 << 10), &mut buf).unwrap();
    }
    fs.write(&ctx, &f, (8 << 17) + 10, b"WRITTEN", Stability::FileSync).unwrap();
    let (n, _) = fs.read(&f, 8 << 17, &mut buf).unwrap();
    assert_eq!(n, 128 << 10);
    assert_eq!(&buf[10..17], b"WRITTEN");
    // A jump elsewhere.
    let (n, _) = fs.read(&f, 3 << 20, &mut buf[..1000]).unwrap();
    assert_eq!((n, &buf[..1000]), (1000, &data[3 << 20..(3 << 20) + 1000]));
    // Changed on the server's disk while a stream is running: seen after the age limit.
    for i in 0..4u64 {
        fs.read(&f, i * (128 << 10), &mut buf).unwrap();
    }
    let mut on_disk = std::fs::read(r.local("f")).unwrap();
    on_disk[(5 << 17) + 3] ^= 0xff;
    std::fs::write(r.local("f"), &on_disk).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let (_, _) = fs.read(&f, 4 << 17, &mut buf).unwrap();
    let (_, _) = fs.read(&f, 5 << 17, &mut buf).unwrap();
    assert_eq!(buf[3], on_disk[(5 << 17) + 3], "data read ahead is not served after its age limit");
}
