//! Host calls end to end: a small host over `MemFs` (files) and in-memory queues (channels)
//! answers a guest's calls; bad arguments fault, bad descriptors give errors, hostile replies
//! are refused.

use std::collections::VecDeque;
use std::vec::Vec;

use super::asm::*;
use crate::fs::mem::{Block, Config, Entry, MemFs, Node, Parts};
use crate::fs::{CreateHow, Ctx, FileSystem, FileType, Handle, SetAttr, Stability, Time};
use crate::proc::abi::{self, Dirent, Stat, errno};
use crate::proc::{ChanEnd, Event, FaultKind, HostCall, ProcError, Reply};
use crate::time::Instant;

fn memfs() -> MemFs<'static> {
    let parts = Parts {
        nodes: std::vec![Node::ZERO; 16].leak(),
        entries: std::vec![Entry::ZERO; 16].leak(),
        blocks: std::vec![Block::ZERO; 64].leak(),
        names: std::vec![0u8; 1024].leak(),
    };
    MemFs::from_parts(parts, Config::new(7, *b"verifier")).unwrap()
}

/// The test host: files on a MemFs (fs id 1), channels as two queues, console collected.
struct Host {
    fs: MemFs<'static>,
    console: Vec<u8>,
    queues: [VecDeque<Vec<u8>>; 2],
}

const CTX: Ctx = Ctx { now: Time { secs: 5, nsecs: 0 }, uid: 0, gid: 0 };

impl Host {
    fn new() -> Self {
        Host { fs: memfs(), console: Vec::new(), queues: Default::default() }
    }

    fn bytes(p: &Proc, s: &Store, addr: u32, len: u32) -> Vec<u8> {
        let mut v = std::vec![0u8; len as usize];
        p.read_guest(s, addr, &mut v).unwrap();
        v
    }

    fn serve(&mut self, p: &mut Proc, s: &mut Store, call: HostCall) -> Reply {
        let err = |e| Reply::Error(abi::fs_errno(e));
        match call {
            HostCall::Console { buf } => {
                self.console.extend(Self::bytes(p, s, buf.addr, buf.len));
                Reply::Value(u64::from(buf.len))
            }
            HostCall::Open { path, flags } => {
                let path = Self::bytes(p, s, path.addr, path.len);
                let Some(name) = path.strip_prefix(b"/") else { return Reply::Error(errno::ENOENT) };
                let root = self.fs.root();
                let found = if name.is_empty() { Ok(root) } else { self.fs.lookup(&root, name) };
                let h = match found {
                    Ok(h) => h,
                    Err(crate::fs::FsError::NoEnt) if flags & abi::O_CREAT != 0 => {
                        match self.fs.create(&CTX, &root, name, &CreateHow::Guarded(SetAttr::default())) {
                            Ok(h) => h,
                            Err(e) => return err(e),
                        }
                    }
                    Err(e) => return err(e),
                };
                Reply::Opened { fs: 1, handle: h }
            }
            HostCall::Read { file, buf, .. } => {
                let mut data = std::vec![0u8; buf.len as usize];
                match self.fs.read(&file.handle, file.offset, &mut data) {
                    Ok((n, _)) => {
                        p.write_guest(s, buf.addr, &data[..n]).unwrap();
                        Reply::Value(n as u64)
                    }
                    Err(e) => err(e),
                }
            }
            HostCall::Write { file, buf, .. } => {
                let data = Self::bytes(p, s, buf.addr, buf.len);
                match self.fs.write(&CTX, &file.handle, file.offset, &data, Stability::FileSync) {
                    Ok((n, _)) => Reply::Value(n as u64),
                    Err(e) => err(e),
                }
            }
            HostCall::SeekEnd { file, offset, .. } => match self.fs.getattr(&file.handle) {
                Ok(a) => match (a.size as i64).checked_add(offset) {
                    Some(n) if n >= 0 => Reply::Value(n as u64),
                    _ => Reply::Error(errno::EINVAL),
                },
                Err(e) => err(e),
            },
            HostCall::Fstat { file, buf, .. } => match self.fs.getattr(&file.handle) {
                Ok(a) => {
                    let ftype = if a.ftype == FileType::Directory { abi::ftype::DIR } else { abi::ftype::REG };
                    let st =
                        Stat { size: a.size, fileid: a.fileid, ftype, mode: a.mode, nlink: a.nlink, ..Stat::default() };
                    p.write_guest(s, buf.addr, &st.to_bytes()).unwrap();
                    Reply::Value(0)
                }
                Err(e) => err(e),
            },
            HostCall::Readdir { file, buf, .. } => {
                let mut out = std::vec![0u8; buf.len as usize];
                let (mut used, mut cookie) = (0usize, file.offset);
                let r = self.fs.readdir(&file.handle, file.offset, [0; 8], &mut |e| {
                    let d = Dirent { fileid: e.fileid, cookie: e.cookie, ftype: 0, name: e.name };
                    match d.write(&mut out[used..]) {
                        Some(n) => {
                            used += n;
                            cookie = e.cookie;
                            true
                        }
                        None => false,
                    }
                });
                match r {
                    Ok(_) => {
                        p.write_guest(s, buf.addr, &out[..used]).unwrap();
                        Reply::Listed { len: used as u32, cookie }
                    }
                    Err(e) => err(e),
                }
            }
            HostCall::ChanOpen { end, .. } => Reply::ChanOpened(ChanEnd { channel: 42, end }),
            HostCall::ChanClose { .. } => Reply::Value(0),
            HostCall::ChanSend { chan, buf, .. } => {
                let msg = Self::bytes(p, s, buf.addr, buf.len);
                self.queues[1 - usize::from(chan.end)].push_back(msg);
                p.wake_parked();
                Reply::Value(u64::from(buf.len))
            }
            HostCall::ChanRecv { chan, buf, .. } => match self.queues[usize::from(chan.end)].pop_front() {
                Some(m) => {
                    let n = m.len().min(buf.len as usize);
                    p.write_guest(s, buf.addr, &m[..n]).unwrap();
                    Reply::Value(n as u64)
                }
                None => Reply::Park,
            },
        }
    }

    /// Runs to exit or fault, answering every call; returns the end event and the calls seen.
    fn drive(&mut self, p: &mut Proc, s: &mut Store) -> (Event, Vec<HostCall>) {
        let mut calls = Vec::new();
        loop {
            match p.run(s, Instant::ZERO, 10_000) {
                Event::Budget => {}
                Event::Call { call, .. } => {
                    calls.push(call);
                    let r = self.serve(p, s, call);
                    p.complete(s, r).unwrap();
                }
                e => return (e, calls),
            }
        }
    }
}

const DATA: u32 = BASE + 0x400;

/// Puts `bytes` at `DATA + off` in the image.
fn put(a: &mut Asm, off: u32, bytes: &[u8]) {
    let at = (DATA - BASE + off) as usize;
    if a.bytes.len() < at + bytes.len() {
        a.bytes.resize(at + bytes.len(), 0);
    }
    a.bytes[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Stores a0 into the result table slot `i` (at sp + 4i, below 64 slots).
fn save(a: &mut Asm, i: i32) {
    a.sw(A0, SP, 4 * i);
}

#[test]
fn files_and_console_over_memfs() {
    let mut a = Asm::default();
    a.addi(SP, SP, -512);
    a.li(A0, DATA).addi(A1, ZERO, 6).sys(abi::CONSOLE_WRITE);
    save(&mut a, 0);
    a.li(A0, DATA + 16).addi(A1, ZERO, 4).li(A2, abi::O_CREAT | abi::O_RDWR).sys(abi::OPEN).addi(S0, A0, 0);
    save(&mut a, 1);
    a.addi(A0, S0, 0).li(A1, DATA).addi(A2, ZERO, 6).sys(abi::WRITE);
    save(&mut a, 2);
    a.addi(A0, S0, 0).addi(A1, ZERO, 1).addi(A2, ZERO, 0).addi(A3, ZERO, abi::SEEK_SET as i32).sys(abi::SEEK);
    save(&mut a, 3);
    a.addi(A0, S0, 0).addi(A1, SP, 256).addi(A2, ZERO, 100).sys(abi::READ);
    save(&mut a, 4);
    a.addi(A0, S0, 0).addi(A1, SP, 128).sys(abi::FSTAT);
    save(&mut a, 5);
    a.addi(A0, S0, 0).addi(A1, ZERO, -2).addi(A2, ZERO, -1).addi(A3, ZERO, abi::SEEK_END as i32).sys(abi::SEEK);
    save(&mut a, 6);
    a.addi(A0, S0, 0).sys(abi::CLOSE);
    save(&mut a, 7);
    a.addi(A0, S0, 0).sys(abi::CLOSE);
    save(&mut a, 8);
    a.addi(A0, S0, 0).addi(A1, SP, 256).addi(A2, ZERO, 1).sys(abi::READ);
    save(&mut a, 9);
    a.li(A0, DATA + 32).addi(A1, ZERO, 1).li(A2, abi::O_RDONLY).sys(abi::OPEN).addi(S1, A0, 0); // "/"
    a.addi(A0, S1, 0).addi(A1, SP, 384).addi(A2, ZERO, 120).sys(abi::READDIR);
    save(&mut a, 10);
    a.li(A0, DATA + 48).addi(A1, ZERO, 6).li(A2, abi::O_RDONLY).sys(abi::OPEN); // missing
    save(&mut a, 11);
    a.addi(A0, S1, 0).li(A1, DATA).addi(A2, ZERO, 1).sys(abi::WRITE); // read-only fd
    save(&mut a, 12);
    a.addi(A0, ZERO, 0).exit();
    put(&mut a, 0, b"hello!");
    put(&mut a, 16, b"/out");
    put(&mut a, 32, b"/");
    put(&mut a, 48, b"/nope!");
    let (mut p, mut s) = load(&a);
    let mut h = Host::new();
    let (end, calls) = h.drive(&mut p, &mut s);
    assert_eq!(end, Event::Exited { code: 0 });
    assert_eq!(h.console, b"hello!");
    let sp = p.cb.threads[0].regs.x[2];
    let mut table = [0u8; 13 * 4];
    p.read_guest(&*s, sp, &mut table).unwrap();
    let r: Vec<i32> = table.chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    assert!(r[10] > 0, "{r:?}");
    assert_eq!(r, [6, 0, 6, 1, 5, 0, 4, 0, -errno::EBADF, -errno::EBADF, r[10], -errno::ENOENT, -errno::EBADF]);
    let mut got = [0u8; 5];
    p.read_guest(&*s, sp + 256, &mut got).unwrap();
    assert_eq!(&got, b"ello!");
    let mut st = [0u8; abi::STAT_SIZE];
    p.read_guest(&*s, sp + 128, &mut st).unwrap();
    let st = Stat::from_bytes(&st);
    assert_eq!((st.size, st.ftype), (6, abi::ftype::REG));
    // The listing: ".", "..", "out".
    let mut list = std::vec![0u8; r[10] as usize];
    p.read_guest(&*s, sp + 384, &mut list).unwrap();
    let mut names = Vec::new();
    let mut rest = &list[..];
    while let Some((d, more)) = Dirent::read(rest) {
        names.push(d.name.to_vec());
        rest = more;
    }
    assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"out".to_vec()]);
    assert_eq!(p.cb.fds.iter().flatten().count(), 1, "the directory stays open");
    assert!(p.cb.fds.iter().flatten().all(|f| f.offset != 0), "readdir cookie kept as the offset");
    // SEEK_SET, CLOSE and the bad descriptors never reached the host.
    assert_eq!(calls.len(), 9);
    let h2 = h.fs.lookup(&h.fs.root(), b"out").unwrap();
    let mut data = [0u8; 6];
    h.fs.read(&h2, 0, &mut data).unwrap();
    assert_eq!(&data, b"hello!");
}

#[test]
fn channel_recv_parks_until_a_message() {
    const READER: u32 = BASE + 0x200;
    let mut a = Asm::default();
    a.addi(SP, SP, -64);
    a.li(A0, DATA).addi(A1, ZERO, 2).addi(A2, ZERO, 0).sys(abi::CHAN_OPEN).addi(S0, A0, 0);
    a.li(A0, DATA).addi(A1, ZERO, 2).addi(A2, ZERO, 1).sys(abi::CHAN_OPEN).addi(S1, A0, 0);
    a.li(A0, READER).addi(A1, SP, -1024).addi(A2, S1, 0).sys(abi::SPAWN).addi(T2, A0, 0);
    a.sys(abi::YIELD); // the reader parks on the empty channel
    a.addi(A0, S0, 0).li(A1, DATA + 8).addi(A2, ZERO, 5).sys(abi::CHAN_SEND);
    a.addi(A0, T2, 0).sys(abi::JOIN).exit();
    while a.pc() < READER {
        a.bytes.push(0);
    }
    // reader(a0 = cd): recv into sp-64, exit with the byte count * 256 + first byte.
    a.addi(S0, SP, -64).addi(A1, S0, 0).addi(A2, ZERO, 64).sys(abi::CHAN_RECV);
    a.w(crate::proc::decode::i_type(0, S0, 4, T0, 0x03)); // lbu t0, 0(s0)
    a.addi(T1, ZERO, 256).op(1, 0, A0, A0, T1).op(0, 0, A0, A0, T0).sys(abi::THREAD_EXIT);
    put(&mut a, 0, b"ch");
    put(&mut a, 8, b"hello");
    let (mut p, mut s) = load(&a);
    let mut h = Host::new();
    let (end, calls) = h.drive(&mut p, &mut s);
    assert_eq!(end, Event::Exited { code: 5 * 256 + i32::from(b'h') });
    let recvs = calls.iter().filter(|c| matches!(c, HostCall::ChanRecv { .. })).count();
    assert_eq!(recvs, 2, "parked once, issued again after the wake-up");
    assert_eq!(p.cb.channels.iter().flatten().count(), 2);
}

#[test]
fn bad_buffers_fault_and_bad_replies_are_refused() {
    let mut a = Asm::default();
    a.li(A0, 0x0090_0000).addi(A1, ZERO, 10).sys(abi::CONSOLE_WRITE);
    let (mut p, mut s) = load(&a);
    match p.run(&mut *s, Instant::ZERO, 100) {
        Event::Faulted(f) => assert_eq!((f.kind, f.addr), (FaultKind::BadSyscallArg, 0x0090_0000)),
        e => panic!("{e:?}"),
    }

    // A buffer half mapped: the fault names the first unmapped byte.
    let mut a = Asm::default();
    a.li(A0, 0x10_0000 - 4).addi(A1, ZERO, 8).sys(abi::CONSOLE_WRITE);
    let (mut p, mut s) = load(&a);
    assert!(matches!(p.run(&mut *s, Instant::ZERO, 100), Event::Faulted(f) if f.addr == 0x10_0000));

    // Path too long: an error, not a fault.
    let mut a = Asm::default();
    a.addi(A0, SP, -2000).addi(A1, ZERO, 1025).sys(abi::OPEN).exit();
    let (mut p, mut s) = load(&a);
    assert_eq!(p.run(&mut *s, Instant::ZERO, 100), Event::Exited { code: -errno::ENAMETOOLONG });

    let mut a = Asm::default();
    a.addi(A0, SP, -16).addi(A1, ZERO, 4).sys(abi::CONSOLE_WRITE).exit();
    let (mut p, mut s) = load(&a);
    assert_eq!(p.complete(&mut *s, Reply::Value(0)), Err(ProcError::NoCall));
    let e = p.run(&mut *s, Instant::ZERO, 100);
    let Event::Call { tid: 0, call: HostCall::Console { buf } } = e else { panic!("{e:?}") };
    assert_eq!(buf.len, 4);
    // The same call again while unanswered, and through `pending`.
    assert_eq!(p.run(&mut *s, Instant::ZERO, 100), e);
    assert_eq!(p.pending(&*s), Some((0, HostCall::Console { buf })));
    assert_eq!(p.pending_page(&*s), None);
    // Its buffer's page made remote (as after a post-copy hand-off): the call waits for it.
    let vpn = buf.addr >> 12;
    let mut copy = [0u8; 4096];
    if let Some(page) = p.mem.read_page(&*s, vpn).unwrap() {
        copy.copy_from_slice(page);
    }
    assert!(p.mem.map_remote(&mut *s, vpn));
    assert_eq!((p.pending(&*s), p.pending_page(&*s)), (None, Some(vpn)));
    p.mem.install_page(&mut *s, vpn, &copy).unwrap();
    assert_eq!((p.pending(&*s), p.pending_page(&*s)), (Some((0, HostCall::Console { buf })), None));
    let instret = p.cb.instret;
    assert_eq!(p.complete(&mut *s, Reply::Value(5)), Err(ProcError::BadReply));
    assert_eq!(p.complete(&mut *s, Reply::Error(0)), Err(ProcError::BadReply));
    assert_eq!(p.complete(&mut *s, Reply::Error(5000)), Err(ProcError::BadReply));
    assert_eq!(
        p.complete(&mut *s, Reply::Opened { fs: 1, handle: Handle::new(b"x").unwrap() }),
        Err(ProcError::BadReply)
    );
    assert_eq!(p.cb.instret, instret, "refused replies change nothing");
    p.complete(&mut *s, Reply::Error(errno::EIO)).unwrap();
    assert_eq!(p.run(&mut *s, Instant::ZERO, 100), Event::Exited { code: -errno::EIO });
}
