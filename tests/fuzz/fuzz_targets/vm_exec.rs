//! Random bytes as code: the interpreter runs them for a bounded number of instructions in
//! small budgets, answering host calls with replies chosen by the input, making pages remote
//! and installing them again on demand, and moving the control block through its codec.
//! Nothing panics, no run retires more instructions than its budget, page faults come only
//! for evicted pages, a refused reply changes nothing, and every control block decodes to
//! itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::fs::Handle;
use tern_core::proc::{
    ArenaStore, ChanEnd, ControlBlock, Event, HostCall, LoadOptions, PAGE_SIZE, Process, Reply, Status,
};
use tern_core::time::Instant;

type Proc = Process<256>;
type Store = ArenaStore<48>;

/// An ELF with `code` at 0x1000 (RWX) and 8 KiB of zeroed memory after it.
fn elf(code: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    for v in [2u16, 243] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u32, 0x1000, 52, 0, 5] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [52u16, 32, 1, 40, 0, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1u32, 84, 0x1000, 0x1000, code.len() as u32, code.len() as u32 + 8192, 7, 4] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(code);
    out
}

fn reply(call: &HostCall, pick: u8) -> Reply {
    match (pick % 6, call) {
        (0, _) => Reply::Error(i32::from(pick) + 1),
        (1, HostCall::Open { .. }) => Reply::Opened { fs: 3, handle: Handle::new(&[pick; 16]).unwrap() },
        (1, HostCall::ChanOpen { end, .. }) => Reply::ChanOpened(ChanEnd { channel: 9, end: *end }),
        (2, HostCall::Readdir { .. }) => Reply::Listed { len: 0, cookie: u64::from(pick) },
        (3, _) => Reply::Park,
        (4, _) => Reply::Value(u64::from(pick) * 1000), // often too large: refused
        _ => Reply::Value(0),
    }
}

/// Runs the code; `picks` choose the budgets, replies and page evictions.
fn run(code: &[u8], picks: &[u8]) -> (Status, u64) {
    let mut s = Box::new(Store::new());
    let mut p = Box::new(Proc::new());
    if p.load(&mut *s, &elf(code), &[b"x"], LoadOptions { stack_pages: 2, ..LoadOptions::default() }).is_err() {
        return (Status::Running, 0);
    }
    let mut remote: Vec<(u32, Option<Box<[u8; PAGE_SIZE]>>)> = Vec::new();
    let mut buf = vec![0u8; ControlBlock::MAX_ENCODED];
    let (mut given, mut i, mut now) = (0u64, 0usize, 0u64);
    let mut next = || {
        i += 1;
        picks.get(i % picks.len().max(1)).copied().unwrap_or(0)
    };
    for _ in 0..400 {
        let budget = u64::from(next()) * 8;
        let before = p.cb.instret;
        let e = p.run(&mut *s, Instant::from_micros(now), budget);
        assert!(p.cb.instret - before <= budget, "ran past the budget");
        given += budget;
        match e {
            Event::Budget => {
                let n = p.cb.encode(&mut buf).expect("fits MAX_ENCODED");
                let cb = ControlBlock::decode(&buf[..n]).expect("own encoding decodes");
                assert_eq!(cb, p.cb);
                p.cb = cb;
                // Evict one page to "remote" now and then.
                let pick = next();
                if pick & 7 == 0 {
                    let pages: Vec<_> = p.mem.pages().filter(|pg| pg.present).collect();
                    if let Some(pg) = pages.get(usize::from(pick) % pages.len().max(1)) {
                        let content = p.mem.read_page(&*s, pg.vpn).unwrap().map(|b| Box::new(*b));
                        remote.push((pg.vpn, content));
                        p.mem.map_remote(&mut *s, pg.vpn);
                    }
                }
            }
            Event::PageFault { vpn } => {
                let at = remote.iter().position(|(v, _)| *v == vpn).expect("faults only on evicted pages");
                match remote.remove(at).1 {
                    Some(page) => p.mem.install_page(&mut *s, vpn, &page).unwrap(),
                    None => p.mem.install_zero(&mut *s, vpn).unwrap(),
                }
            }
            Event::Call { call, .. } => {
                let instret = p.cb.instret;
                let r = reply(&call, next());
                if p.complete(&mut *s, r).is_err() {
                    assert_eq!(p.cb.instret, instret, "a refused reply changes nothing");
                    p.complete(&mut *s, Reply::Value(0))
                        .unwrap_or_else(|_| p.complete(&mut *s, Reply::Error(5)).expect("an errno always fits"));
                }
                // Wake parked threads right away: the reply stream is the same either way.
                p.wake_parked();
            }
            Event::Idle { wake_at } => {
                p.wake_parked();
                now = wake_at.map_or(now + 1, |t| t.as_micros());
            }
            Event::Exited { .. } | Event::Faulted(_) => break,
        }
        if given > 200_000 {
            break;
        }
    }
    (p.cb.status, p.cb.instret)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let split = usize::from(data[0]) % data.len();
    let (picks, code) = data[1..].split_at(split.min(data.len() - 1));
    let (status, _) = run(code, picks);
    // Whatever ended the process is a status the codec can carry.
    if status == Status::Running {
        return;
    }
    let mut cb = ControlBlock::new(1, 2);
    cb.status = status;
    let mut buf = vec![0u8; ControlBlock::MAX_ENCODED];
    let n = cb.encode(&mut buf).unwrap();
    assert_eq!(ControlBlock::decode(&buf[..n]).unwrap().status, status);
});
