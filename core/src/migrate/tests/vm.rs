//! [`VmProcess`]: the VM's address space and control block through [`Migratable`], and whole
//! migrations of a VM process (every strategy) whose memory and layout change while it is
//! copied. Guests that really run while they move are tested in `tests/tests/migrate_guests.rs`.

use std::vec;
use std::vec::Vec;

use crate::migrate::msg::MAX_MSG_LEN;
use crate::migrate::{
    Config, DestState, Destination, Event, FaultStatus, Migratable, MigrationId, Msg, PAGE_SIZE, PageContent, PageKind,
    PageSet, ProcessError, Source, SourceState, Strategy, VmProcess,
};
use crate::proc::{ArenaStore, ControlBlock, Process, Regs, Thread, ThreadState};
use crate::time::{Duration, Instant};

const PAGES: usize = 64;
type Proc = Process<PAGES>;
type Store = ArenaStore<16>;

/// A process with one thread, pages 4..20 mapped (4..12 written), heap from page 20.
fn layout(store: &mut Store) -> Proc {
    let mut p = Proc::new();
    let mut cb = ControlBlock::new(42, 7);
    let _ = cb.threads.push(Thread { tid: 0, regs: Regs::new(0x4000), state: ThreadState::Runnable });
    cb.next_tid = 1;
    cb.brk_start = 20 * 4096;
    cb.brk = 20 * 4096;
    cb.brk_limit = 40 * 4096;
    p.cb = cb;
    assert!(p.mem.map_zero(4, 16));
    for vpn in 4..12u32 {
        p.write_guest(store, vpn * 4096 + 8, &[vpn as u8; 100]).unwrap();
    }
    p
}

#[test]
fn kinds_dirty_bits_and_install() {
    let mut s = Store::new();
    let mut p = layout(&mut s);
    let mut stopped = false;
    let mut v = VmProcess::new(&mut p, &mut s, &mut stopped);
    assert_eq!(v.page_count(), PAGES as u32);
    assert_eq!(
        (v.page_kind(3), v.page_kind(4), v.page_kind(12), v.page_kind(999)),
        (PageKind::Unmapped, PageKind::Data, PageKind::Zero, PageKind::Unmapped)
    );
    let mut page = [0xaau8; PAGE_SIZE];
    assert_eq!(v.read_page(12, &mut page), PageKind::Zero);
    assert_eq!(page[0], 0xaa, "left as it was");
    assert_eq!(v.read_page(5, &mut page), PageKind::Data);
    assert_eq!((page[7], page[8], page[107], page[108]), (0, 5, 5, 0));

    // Everything mapped or written so far is dirty; taking clears.
    let mut w = [0u32; 2];
    let mut set = PageSet::new(&mut w, PAGES as u32).unwrap();
    v.take_dirty(&mut set);
    assert_eq!(set.len(), 16);
    set.clear();
    v.take_dirty(&mut set);
    assert!(set.is_empty());

    // A layout change is a change: unmapping and mapping are reported like writes.
    let _ = v;
    p.mem.unmap(&mut s, 18, 2);
    assert!(p.mem.map_zero(30, 1));
    p.write_guest(&mut s, 0x4000, &[1]).unwrap();
    let mut v = VmProcess::new(&mut p, &mut s, &mut stopped);
    v.take_dirty(&mut set);
    let got: Vec<u32> = (0..PAGES as u32).filter(|&p| set.contains(p)).collect();
    assert_eq!(got, [4, 18, 19, 30]);

    // Installing leaves pages clean, in every form.
    set.clear();
    v.install_page(40, PageContent::Data(&[3; PAGE_SIZE])).unwrap();
    v.install_page(41, PageContent::Zero).unwrap();
    v.install_page(4, PageContent::Unmapped).unwrap();
    v.mark_absent(42).unwrap();
    v.take_dirty(&mut set);
    assert!(set.is_empty());
    assert_eq!(
        (v.page_kind(40), v.page_kind(41), v.page_kind(4), v.page_kind(42)),
        (PageKind::Data, PageKind::Zero, PageKind::Unmapped, PageKind::Data)
    );
    assert!(!v.can_be_source(), "a remote page: not every page is here");
    assert_eq!(v.install_page(PAGES as u32, PageContent::Zero), Err(ProcessError::BadPage));
    assert_eq!(v.mark_absent(PAGES as u32), Err(ProcessError::BadPage));
    v.stop();
    assert!(v.is_stopped());
    v.resume();
    assert!(!v.is_stopped());
}

#[test]
fn control_block_round_trip_and_refusals() {
    let mut s = Store::new();
    let mut p = layout(&mut s);
    let mut stopped = false;
    let v = VmProcess::new(&mut p, &mut s, &mut stopped);
    let mut buf = vec![0u8; ControlBlock::MAX_ENCODED];
    let n = v.save_control(&mut buf).unwrap();
    assert_eq!(v.save_control(&mut buf[..8]), Err(ProcessError::BadControl));

    let mut s2 = Store::new();
    let mut q = Proc::new();
    let mut stopped2 = true;
    let mut d = VmProcess::new(&mut q, &mut s2, &mut stopped2);
    d.load_control(&buf[..n]).unwrap();
    assert_eq!(d.process().cb, p.cb);
    let mut d = VmProcess::new(&mut q, &mut s2, &mut stopped2);
    assert_eq!(d.load_control(&buf[..n - 1]), Err(ProcessError::BadControl));
    // A heap limit beyond this address space: refused.
    let mut big = p.cb.clone();
    big.brk_limit = 1 << 30;
    let n = big.encode(&mut buf).unwrap();
    assert_eq!(d.load_control(&buf[..n]), Err(ProcessError::BadControl));
    assert_eq!(d.process().cb, p.cb, "a refused block changes nothing");
}

struct Node {
    store: Store,
    proc: Proc,
    stopped: bool,
}

/// Runs one migration of `src`'s process to a fresh process over a lossless in-memory link,
/// with the source's "guest" writing a page and moving its heap end on every step it runs.
fn migrate(strategy: Strategy, src: &mut Node) -> (Node, crate::migrate::Metrics) {
    let cfg =
        Config { ws_window: Duration::from_millis(1), initial_rto: Duration::from_millis(5), ..Config::default() };
    let mut words = vec![0u32; Source::storage_words(PAGES as u32)];
    let mut ctl = vec![0u8; ControlBlock::MAX_ENCODED];
    let mut dwords = vec![0u32; Destination::storage_words(PAGES as u32)];
    let mut dctl = vec![0u8; ControlBlock::MAX_ENCODED];
    let mut dst = Node { store: Store::new(), proc: Proc::new(), stopped: true };
    let mut now = Instant::from_micros(1_000);
    let mut source = {
        let v = VmProcess::new(&mut src.proc, &mut src.store, &mut src.stopped);
        assert!(v.can_be_source());
        Source::new(now, MigrationId(9), strategy, cfg, &v, &mut words, &mut ctl).unwrap()
    };
    let mut dest: Option<Destination<'_>> = None;
    let mut dstorage = Some((&mut dwords[..], &mut dctl[..]));
    let mut buf = vec![0u8; MAX_MSG_LEN];
    let (mut to_dst, mut to_src): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let mut step = 0u32;
    let mut waiting: Option<u32> = None;
    for _ in 0..100_000 {
        now = now + Duration::from_micros(100);
        step += 1;
        // The source's guest runs while the protocol lets it.
        if source.owns_process() && !src.stopped {
            let vpn = 4 + step % 8;
            src.proc.write_guest(&mut src.store, vpn * 4096 + (step % 1000) * 4, &step.to_le_bytes()).unwrap();
            let brk = if step.is_multiple_of(2) { 22 * 4096 } else { 21 * 4096 + 8 };
            src.proc.cb.brk = brk;
            src.proc.mem.unmap(&mut src.store, 20, 4);
            assert!(src.proc.mem.map_zero(20, brk.div_ceil(4096) - 20));
        }
        // The destination's guest reads a page; a remote one blocks it until it arrives.
        if let Some(d) = dest.as_mut()
            && d.owns_process()
            && !dst.stopped
            && waiting.is_none()
        {
            let vpn = 4 + step % 16;
            if dst.proc.mem.page(vpn).is_some_and(|p| !p.present) {
                assert_eq!(d.fault(now, vpn), Ok(FaultStatus::Wait));
                waiting = Some(vpn);
            }
        }
        let mut sv = VmProcess::new(&mut src.proc, &mut src.store, &mut src.stopped);
        source.handle_timeout(now, &mut sv);
        for m in to_src.drain(..) {
            let msg = Msg::decode(&m).unwrap();
            let _ = source.handle(now, &mut sv, &msg);
        }
        while let Some(n) = source.poll_transmit(now, &mut sv, &mut buf) {
            to_dst.push(buf[..n].to_vec());
        }
        while source.poll_event().is_some() {}
        let mut dv = VmProcess::new(&mut dst.proc, &mut dst.store, &mut dst.stopped);
        for m in to_dst.drain(..) {
            let msg = Msg::decode(&m).unwrap();
            if let Some((w, c)) = dstorage.take() {
                dest = Some(Destination::new(now, &msg, cfg, w, c).unwrap());
            }
            if let Some(d) = dest.as_mut() {
                let _ = d.handle(now, &mut dv, &msg);
            }
        }
        if let Some(d) = dest.as_mut() {
            d.handle_timeout(now);
            while let Some(n) = d.poll_transmit(now, &mut buf) {
                to_src.push(buf[..n].to_vec());
            }
            while let Some(e) = d.poll_event() {
                if let Event::PageArrived { vpn } = e
                    && waiting == Some(vpn)
                {
                    waiting = None;
                }
            }
        }
        if source.is_finished() && dest.as_ref().is_some_and(|d| d.is_finished()) {
            break;
        }
    }
    assert_eq!(source.state(), SourceState::Released, "{strategy:?}");
    assert_eq!(dest.as_ref().map(|d| d.state()), Some(DestState::Finished), "{strategy:?}");
    let m = *source.metrics();
    drop(source);
    drop(dest);
    (dst, m)
}

#[test]
fn every_strategy_moves_a_changing_vm_process_exactly() {
    for strategy in [Strategy::StopAndCopy, Strategy::PreCopy, Strategy::PostCopy, Strategy::Hybrid] {
        let mut src = Node { store: Store::new(), proc: Proc::new(), stopped: false };
        src.proc = layout(&mut src.store);
        let (dst, m) = migrate(strategy, &mut src);
        assert!(src.stopped && !dst.stopped, "{strategy:?}: runs at the destination only");
        assert_eq!(dst.proc.cb, src.proc.cb, "{strategy:?}");
        assert_eq!(dst.proc.mem.remote_pages(), 0, "{strategy:?}");
        let layout = |p: &Proc| p.mem.pages().map(|i| (i.vpn, i.zero)).collect::<Vec<_>>();
        assert_eq!(layout(&dst.proc), layout(&src.proc), "{strategy:?}: same pages mapped, zero pages stay zero");
        assert_eq!(dst.proc.mem.checksum(&dst.store), src.proc.mem.checksum(&src.store), "{strategy:?}");
        assert!(m.zero_pages > 0, "{strategy:?}: zero pages announced, not sent");
        assert!(m.pages_sent >= 8, "{strategy:?}");
    }
}
