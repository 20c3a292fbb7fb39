//! The heap page store's contract and the channel semantics of `Services`.

use tern_core::proc::abi::{self, errno};
use tern_core::proc::{ChanEnd, FdEntry, FrameId, GuestBuf, HostCall, PageStore, Reply};

use super::{HeapStore, HostProcess, Services, dir_source, fs_number, new_process};
use crate::hostfs::{HandleSecret, HostFs};

#[test]
fn heap_store_contract() {
    let mut s = HeapStore::new();
    let a = s.alloc().unwrap();
    let b = s.alloc().unwrap();
    assert_ne!(a, b);
    s.get_mut(a).unwrap()[7] = 1;
    s.free(a);
    s.free(a);
    assert!(s.get(a).is_none() && s.get(FrameId(99)).is_none());
    assert_eq!(s.used(), 1);
    let c = s.alloc().unwrap();
    assert_eq!((c, s.get(c).unwrap()[7]), (a, 0), "reused and zeroed");
}

/// A process with code at 0x1000 and 8 KiB of data after it.
fn process(s: &mut HeapStore) -> Box<HostProcess> {
    let mut elf = b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    for v in [2u16, 243] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u32, 0x1000, 52, 0, 5] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [52u16, 32, 1, 40, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u32, 84, 0x1000, 0x1000, 4, 8196, 7, 4, 0x73] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    let mut p = new_process();
    p.load(s, &elf, &[], Default::default()).unwrap();
    p
}

#[test]
fn channels_between_processes() {
    let mut s = HeapStore::new();
    let mut p = process(&mut s);
    let mut sv = Services::<HostFs>::new(None);
    let mut out = |_: &[u8]| {};
    p.write_guest(&mut s, 0x2000, b"chanhello").unwrap();
    let name = GuestBuf { addr: 0x2000, len: 4 };
    let open = |end| HostCall::ChanOpen { name, end };
    let Reply::ChanOpened(a) = sv.serve(&mut *p, &mut s, open(0), &mut out) else { panic!() };
    let Reply::ChanOpened(b) = sv.serve(&mut *p, &mut s, open(1), &mut out) else { panic!() };
    assert_eq!((a.channel, a.end, b.end), (b.channel, 0, 1));
    assert_eq!(sv.serve(&mut *p, &mut s, open(1), &mut out), Reply::Error(errno::EEXIST));
    let recv = |c: ChanEnd, len| HostCall::ChanRecv { cd: 0, chan: c, buf: GuestBuf { addr: 0x2100, len } };
    assert_eq!(sv.serve(&mut *p, &mut s, recv(b, 64), &mut out), Reply::Park);
    let send = HostCall::ChanSend { cd: 0, chan: a, buf: GuestBuf { addr: 0x2004, len: 5 } };
    assert_eq!(sv.serve(&mut *p, &mut s, send, &mut out), Reply::Value(5));
    assert!(std::mem::take(&mut sv.channels.woke), "a send wakes parked receivers");
    assert_eq!(sv.serve(&mut *p, &mut s, recv(b, 4), &mut out), Reply::Error(errno::EMSGSIZE));
    assert_eq!(sv.serve(&mut *p, &mut s, recv(b, 64), &mut out), Reply::Value(5));
    let mut got = [0u8; 5];
    p.read_guest(&s, 0x2100, &mut got).unwrap();
    assert_eq!(&got, b"hello");
    // After end 1 closes, sends to it fail and its peer reads end of stream.
    let close = HostCall::ChanClose { cd: 0, chan: b };
    assert_eq!(sv.serve(&mut *p, &mut s, close, &mut out), Reply::Value(0));
    assert_eq!(sv.serve(&mut *p, &mut s, send, &mut out), Reply::Error(errno::EPIPE));
    let send_back = HostCall::ChanSend { cd: 0, chan: b, buf: GuestBuf { addr: 0x2004, len: 5 } };
    let _ = sv.serve(&mut *p, &mut s, send_back, &mut out);
    assert_eq!(sv.serve(&mut *p, &mut s, recv(a, 64), &mut out), Reply::Value(5), "queued before the close");
    assert_eq!(sv.serve(&mut *p, &mut s, recv(a, 64), &mut out), Reply::Value(0), "then end of stream");
    // Without a file system every file call is ENOENT.
    let o = HostCall::Open { path: name, flags: 0 };
    assert_eq!(sv.serve(&mut *p, &mut s, o, &mut out), Reply::Error(errno::ENOENT));
}

/// Guest paths resolve through the namespace: an absolute symlink means the namespace root
/// (not the host's `/`), `..` never leaves the root, and a descriptor opened on one node works
/// on another node that mounts the same source (same id, same handles), but not on a node
/// that mounts another source.
#[test]
fn files_resolve_through_the_namespace() {
    let dir = std::env::temp_dir().join(format!("tern-run-ns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/f.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink("/sub", dir.join("abs")).unwrap();
    let other = dir.join("sub");
    let secret = HandleSecret::from_bytes([7; 32]);
    let serv = |d: &std::path::Path| Services::new(Some((HostFs::new(d, &secret).unwrap(), dir_source(d))));
    let (mut a, mut b, mut c) = (serv(&dir), serv(&dir.join("sub/..")), serv(&other));
    let mut s = HeapStore::new();
    let mut p = process(&mut s);
    let mut out = |_: &[u8]| {};
    let mut open = |sv: &mut Services<HostFs>, path: &[u8], flags: u32| {
        p.write_guest(&mut s, 0x2000, path).unwrap();
        let call = HostCall::Open { path: GuestBuf { addr: 0x2000, len: path.len() as u32 }, flags };
        sv.serve(&mut *p, &mut s, call, &mut out)
    };
    // `abs` -> `/sub` is followed inside the root; `..` at the root stays there.
    let Reply::Opened { fs, handle } = open(&mut a, b"../../abs/../sub/./f.txt", abi::O_RDONLY) else { panic!() };
    assert_eq!(fs, fs_number(dir_source(&dir)));
    assert_eq!(open(&mut a, b"abs/f.txt", abi::O_RDONLY), Reply::Opened { fs, handle });
    assert_eq!(open(&mut a, b"sub/f.txt/x", abi::O_RDONLY), Reply::Error(errno::ENOTDIR));
    assert_eq!(open(&mut a, b"sub", abi::O_WRONLY), Reply::Error(errno::EISDIR));
    assert_eq!(open(&mut a, b"abs/f.txt", abi::O_CREAT | abi::O_EXCL | abi::O_WRONLY), Reply::Error(errno::EEXIST));
    let read = |sv: &mut Services<HostFs>, file: FdEntry| {
        let mut s = HeapStore::new();
        let mut p = process(&mut s);
        let call = HostCall::Read { fd: 3, file, buf: GuestBuf { addr: 0x2100, len: 16 } };
        let r = sv.serve(&mut *p, &mut s, call, &mut |_| {});
        let mut got = [0u8; 16];
        p.read_guest(&s, 0x2100, &mut got).unwrap();
        (r, got)
    };
    let file = FdEntry { fs, handle, offset: 2, flags: abi::O_RDONLY };
    let (r, got) = read(&mut a, file);
    assert_eq!((r, &got[..4]), (Reply::Value(4), &b"side"[..]));
    // The same source spelt otherwise is the same mount: the descriptor carries over.
    assert_eq!(read(&mut b, file).0, Reply::Value(4));
    // Another source is another mount: the descriptor is refused, not misread.
    assert_eq!(read(&mut c, file).0, Reply::Error(errno::ESTALE));
    // A descriptor opened for writing only cannot read.
    assert_eq!(read(&mut a, FdEntry { flags: abi::O_WRONLY, ..file }).0, Reply::Error(errno::EBADF));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A channel call repeated with the same (pid, sequence number) answers what the first one
/// did and acts once; the next number acts again; each process has its own numbers.
#[test]
fn repeated_channel_calls_act_once() {
    use super::chan::{ChanOp, ChanResult, Channels};
    let mut ch = Channels::default();
    let ChanResult::Opened(a) = ch.call(1, 0, ChanOp::Open { name: b"x".to_vec(), end: 0 }) else { panic!() };
    // The open is answered again, not refused as a second open of end 0.
    assert_eq!(ch.call(1, 0, ChanOp::Open { name: b"x".to_vec(), end: 0 }), ChanResult::Opened(a));
    let ChanResult::Opened(b) = ch.call(2, 0, ChanOp::Open { name: b"x".to_vec(), end: 1 }) else { panic!() };
    assert_eq!(ch.call(1, 1, ChanOp::Send(a, b"one".to_vec())), ChanResult::Value(3));
    assert_eq!(ch.call(1, 1, ChanOp::Send(a, b"one".to_vec())), ChanResult::Value(3), "resent: not queued twice");
    assert_eq!(ch.call(1, 2, ChanOp::Send(a, b"two".to_vec())), ChanResult::Value(3));
    assert_eq!(ch.call(2, 1, ChanOp::Recv(b, 64)), ChanResult::Data(b"one".to_vec()));
    assert_eq!(ch.call(2, 1, ChanOp::Recv(b, 64)), ChanResult::Data(b"one".to_vec()), "resent: same message");
    assert_eq!(ch.call(2, 2, ChanOp::Recv(b, 64)), ChanResult::Data(b"two".to_vec()));
    assert_eq!(ch.call(2, 3, ChanOp::Recv(b, 64)), ChanResult::Park);
    // A receive that parked, asked again with its number, looks again.
    assert_eq!(ch.call(1, 3, ChanOp::Send(a, b"late".to_vec())), ChanResult::Value(4));
    assert_eq!(ch.call(2, 3, ChanOp::Recv(b, 64)), ChanResult::Data(b"late".to_vec()));
    assert_eq!(ch.call(2, 4, ChanOp::Recv(b, 64)), ChanResult::Park);
    // A late copy of an earlier call (its process has gone on since) does not act.
    assert_eq!(ch.call(1, 1, ChanOp::Send(a, b"one".to_vec())), ChanResult::Error(errno::EIO));
    assert_eq!(ch.call(1, 4, ChanOp::Send(a, b"three".to_vec())), ChanResult::Value(5));
    assert_eq!(ch.call(2, 5, ChanOp::Recv(b, 64)), ChanResult::Data(b"three".to_vec()), "one was not queued again");
}
