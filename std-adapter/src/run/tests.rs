//! The heap page store's contract and the channel semantics of `Services`.

use tern_core::proc::abi::errno;
use tern_core::proc::{ChanEnd, FrameId, GuestBuf, HostCall, PageStore, Reply};

use super::{HeapStore, HostProcess, Services, new_process};
use crate::hostfs::HostFs;

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
    assert!(std::mem::take(&mut sv.woke), "a send wakes parked receivers");
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
