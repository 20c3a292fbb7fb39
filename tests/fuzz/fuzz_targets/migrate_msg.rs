//! Migration messages and both state machines under hostile input.
//!
//! Every frame goes through `Msg::decode`: a message that decodes is within every bound, and
//! encodes to at most `MAX_MSG_LEN` bytes that decode to the same message. The first input
//! byte picks a role: a `Destination` (created from a valid offer, strategy from the byte) or
//! a `Source` of a small process. Frames (`flags`, `u16` length, bytes) then go to it as
//! messages from the peer (flags bit 0 forces the migration id to the machine's own; the
//! other bits advance the clock), followed by its timers and transmissions. The machine never
//! panics, everything it sends decodes, and the exactly-one-owner rule holds: the process
//! runs at the destination only after a commit (never once aborted), and at the source exactly
//! while the source owns it and has not stopped it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::migrate::msg::{MAX_MSG_LEN, Offer};
use tern_core::migrate::{
    Body, Config, DestState, Destination, Migratable, MigrationId, Msg, PAGE_SIZE, PageContent, PageKind, PageSet,
    ProcessError, Source, SourceState, Strategy,
};
use tern_core::time::Instant;

const PAGES: u32 = 8;

struct Proc {
    kind: Vec<PageKind>,
    absent: Vec<bool>,
    mem: Vec<u8>,
    dirty: Vec<bool>,
    running: bool,
    resumed: bool,
}

impl Proc {
    fn new(running: bool) -> Self {
        let mut p = Proc {
            kind: vec![PageKind::Unmapped; PAGES as usize],
            absent: vec![false; PAGES as usize],
            mem: vec![0; PAGES as usize * PAGE_SIZE],
            dirty: vec![false; PAGES as usize],
            running,
            resumed: false,
        };
        if running {
            p.kind[..5].copy_from_slice(&[
                PageKind::Data,
                PageKind::Data,
                PageKind::Zero,
                PageKind::Data,
                PageKind::Zero,
            ]);
            p.mem[..PAGE_SIZE].fill(1);
            p.mem[3 * PAGE_SIZE..4 * PAGE_SIZE].fill(3);
        }
        p
    }

    fn write(&mut self, vpn: u32) {
        let i = vpn as usize % PAGES as usize;
        self.kind[i] = PageKind::Data;
        self.mem[i * PAGE_SIZE] ^= 0x5a;
        self.dirty[i] = true;
    }
}

impl Migratable for Proc {
    fn page_count(&self) -> u32 {
        PAGES
    }
    fn page_kind(&self, vpn: u32) -> PageKind {
        self.kind.get(vpn as usize).copied().unwrap_or(PageKind::Unmapped)
    }
    fn read_page(&self, vpn: u32, buf: &mut [u8; PAGE_SIZE]) -> PageKind {
        let kind = self.page_kind(vpn);
        if kind == PageKind::Data {
            buf.copy_from_slice(&self.mem[vpn as usize * PAGE_SIZE..][..PAGE_SIZE]);
        }
        kind
    }
    fn take_dirty(&mut self, into: &mut PageSet<'_>) {
        for (vpn, d) in self.dirty.iter_mut().enumerate() {
            if std::mem::take(d) {
                into.insert(vpn as u32);
            }
        }
    }
    fn install_page(&mut self, vpn: u32, page: PageContent<'_>) -> Result<(), ProcessError> {
        let i = vpn as usize;
        if i >= PAGES as usize {
            return Err(ProcessError::BadPage);
        }
        assert!(!self.running || self.absent[i], "a push overwrote a present page of a running process");
        let dst = &mut self.mem[i * PAGE_SIZE..][..PAGE_SIZE];
        self.kind[i] = match page {
            PageContent::Unmapped => PageKind::Unmapped,
            PageContent::Zero => PageKind::Zero,
            PageContent::Data(d) => {
                dst.copy_from_slice(d);
                PageKind::Data
            }
        };
        self.absent[i] = false;
        Ok(())
    }
    fn mark_absent(&mut self, vpn: u32) -> Result<(), ProcessError> {
        *self.absent.get_mut(vpn as usize).ok_or(ProcessError::BadPage)? = true;
        self.kind[vpn as usize] = PageKind::Data;
        Ok(())
    }
    fn save_control(&self, buf: &mut [u8]) -> Result<usize, ProcessError> {
        let n = 3000.min(buf.len());
        buf[..n].fill(9);
        Ok(n)
    }
    fn load_control(&mut self, bytes: &[u8]) -> Result<(), ProcessError> {
        if bytes.first() == Some(&0xff) { Err(ProcessError::BadControl) } else { Ok(()) }
    }
    fn stop(&mut self) {
        self.running = false;
    }
    fn resume(&mut self) {
        self.running = true;
        self.resumed = true;
    }
}

/// Decodes a frame; checks the bounds and the round trip of whatever decodes.
fn decode(bytes: &[u8]) -> Option<Msg<'_>> {
    let msg = Msg::decode(bytes).ok()?;
    assert!(msg.valid());
    let mut out = vec![0u8; MAX_MSG_LEN];
    let n = msg.encode(&mut out).expect("a decoded message fits MAX_MSG_LEN");
    assert_eq!(n, msg.encoded_len());
    assert!(n <= bytes.len());
    assert_eq!(Msg::decode(&out[..n]), Ok(msg));
    Some(msg)
}

/// Splits the input into (flags, frame) pairs.
fn frames(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&flags, rest) = data.split_first()?;
        let len = u16::from_le_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        let rest = &rest[2..];
        let frame = &rest[..len.min(rest.len())];
        data = &rest[frame.len()..];
        Some((flags, frame))
    })
}

fn check_sent(id: MigrationId, bytes: &[u8]) {
    let msg = Msg::decode(bytes).expect("sent messages decode");
    assert_eq!(msg.id, id);
}

fn destination(strategy: Strategy, data: &[u8]) {
    let cfg = Config::default();
    let id = MigrationId(1);
    let offer = Msg { id, seq: 0, ack: 0, body: Body::Offer(Offer { strategy, page_count: PAGES, mapped: 4 }) };
    let (mut words, mut control) = ([0u32; 1], [0u8; 4096]);
    let mut d = Destination::new(Instant::ZERO, &offer, cfg, &mut words, &mut control).expect("offer");
    let mut p = Proc::new(false);
    let mut now = 0u64;
    let mut buf = vec![0u8; MAX_MSG_LEN];
    for (flags, frame) in frames(data) {
        now += u64::from(flags >> 1) * 1000;
        let t = Instant::from_micros(now);
        if let Some(mut msg) = decode(frame) {
            if flags & 1 != 0 {
                msg.id = id;
            }
            let _ = d.handle(t, &mut p, &msg);
        }
        if d.poll_timeout().is_some_and(|x| x <= t) {
            d.handle_timeout(t);
        }
        if d.owns_process() && flags & 0x80 != 0 {
            let _ = d.fault(t, u32::from(flags) % PAGES);
        }
        while let Some(n) = d.poll_transmit(t, &mut buf) {
            check_sent(id, &buf[..n]);
        }
        while d.poll_event().is_some() {}
        assert_eq!(p.running, d.owns_process(), "runs here exactly when committed ({:?})", d.state());
        if let DestState::Aborted(_) | DestState::Refusing(_) = d.state() {
            assert!(!p.resumed, "an aborted destination never ran the process");
        }
    }
}

fn source(strategy: Strategy, data: &[u8]) {
    let cfg = Config::default();
    let id = MigrationId(2);
    let mut p = Proc::new(true);
    let (mut words, mut control) = ([0u32; 2], [0u8; 4096]);
    let mut s = Source::new(Instant::ZERO, id, strategy, cfg, &p, &mut words, &mut control).expect("source");
    let mut now = 0u64;
    let mut buf = vec![0u8; MAX_MSG_LEN];
    for (flags, frame) in frames(data) {
        now += u64::from(flags >> 1) * 1000;
        let t = Instant::from_micros(now);
        if p.running {
            p.write(u32::from(flags));
        }
        if let Some(mut msg) = decode(frame) {
            if flags & 1 != 0 {
                msg.id = id;
            }
            let _ = s.handle(t, &mut p, &msg);
        }
        if s.poll_timeout().is_some_and(|x| x <= t) {
            s.handle_timeout(t, &mut p);
        }
        while let Some(n) = s.poll_transmit(t, &mut p, &mut buf) {
            check_sent(id, &buf[..n]);
        }
        while s.poll_event().is_some() {}
        let stopped = matches!(s.state(), SourceState::Stopped | SourceState::Committed | SourceState::Released);
        assert_eq!(p.running, !stopped, "runs at the source exactly while not stopped ({:?})", s.state());
        assert_eq!(s.owns_process(), !matches!(s.state(), SourceState::Committed | SourceState::Released));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&role, rest)) = data.split_first() else { return };
    let strategy =
        [Strategy::StopAndCopy, Strategy::PreCopy, Strategy::PostCopy, Strategy::Hybrid][usize::from(role >> 1) % 4];
    if role & 1 == 0 { destination(strategy, rest) } else { source(strategy, rest) }
});
