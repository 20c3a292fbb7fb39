//! The state machines driven by hand: hostile streams, the abort rules, stale and foreign
//! messages.

use std::vec;
use std::vec::Vec;

use super::fake::FakeProcess;
use super::sim::Storage;
use super::{small, test_cfg};
use crate::migrate::msg::{Bytes, Content, MAX_MSG_LEN, MapRun, MapState, Offer, Page, reply_unknown};
use crate::migrate::{
    AbortReason, Body, DestState, Destination, Error, Event, MigrationId, Msg, PAGE_SIZE, Source, SourceState, Strategy,
};
use crate::time::Instant;

const ID: MigrationId = MigrationId(77);

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn offer(strategy: Strategy, pages: u32) -> Msg<'static> {
    Msg { id: ID, seq: 0, ack: 0, body: Body::Offer(Offer { strategy, page_count: pages, mapped: pages }) }
}

/// Everything a machine sends now, decoded bodies and acks.
fn drain_dest(d: &mut Destination<'_>, now: Instant) -> Vec<(u32, Body<'static>)> {
    let mut buf = vec![0u8; MAX_MSG_LEN];
    let mut out = Vec::new();
    while let Some(n) = d.poll_transmit(now, &mut buf) {
        let m = Msg::decode(&buf[..n]).unwrap();
        let body = match m.body {
            Body::Page(_) | Body::Push(_) | Body::Control(_) => panic!("destination sent stream data"),
            b => owned(b),
        };
        out.push((m.ack, body));
    }
    out
}

/// The destination's bodies borrow nothing: the same body with a static lifetime.
fn owned(b: Body<'_>) -> Body<'static> {
    match b {
        Body::Accept => Body::Accept,
        Body::Refuse(r) => Body::Refuse(r),
        Body::Ready => Body::Ready,
        Body::Committed => Body::Committed,
        Body::Request(v) => Body::Request(v),
        Body::Confirm(c) => Body::Confirm(c),
        Body::Ack => Body::Ack,
        Body::Abort(r) => Body::Abort(r),
        other => panic!("unexpected destination body {other:?}"),
    }
}

#[test]
fn a_hostile_stream_is_refused_before_anything_runs() {
    let page = [1u8; PAGE_SIZE];
    let hostile: [(u32, Body<'_>); 5] = [
        (1, Body::Page(Page { vpn: 256, content: Content::Zero })),
        (1, Body::Map(MapRun { first: 250, count: 7, state: MapState::Zero })),
        (1, Body::Map(MapRun { first: 0, count: 1, state: MapState::Remote })),
        (1, Body::Push(Page { vpn: 0, content: Content::Data(Bytes(&page)) })),
        (1, Body::Control(crate::migrate::msg::ControlChunk { total: 100_000, offset: 0, bytes: Bytes(&[0; 8]) })),
    ];
    for (seq, body) in hostile {
        let mut st = Storage::new(256);
        let (words, ctl) = st.dest();
        let mut d = Destination::new(t(0), &offer(Strategy::PreCopy, 256), test_cfg(), words, ctl).unwrap();
        let mut p = FakeProcess::empty(256);
        assert!(d.handle(t(1), &mut p, &Msg { id: ID, seq, ack: 0, body }).is_err(), "{body:?}");
        assert!(matches!(d.state(), DestState::Aborted(_)), "{body:?}: {:?}", d.state());
        assert!(!p.running && p.loads == 0);
        assert!(drain_dest(&mut d, t(1)).iter().any(|(_, b)| matches!(b, Body::Abort(_))));
        // Whatever follows is answered with an abort, and nothing runs.
        let commit = Msg { id: ID, seq: 0, ack: 0, body: Body::Commit };
        d.handle(t(2), &mut p, &commit).unwrap();
        assert!(!p.running);
        assert_eq!(drain_dest(&mut d, t(2)), vec![(1, Body::Abort(d_reason(&d)))]);
    }
}

fn d_reason(d: &Destination<'_>) -> AbortReason {
    match d.state() {
        DestState::Aborted(r) => r,
        s => panic!("{s:?}"),
    }
}

#[test]
fn a_commit_before_prepare_changes_nothing() {
    let mut st = Storage::new(256);
    let (words, ctl) = st.dest();
    let mut d = Destination::new(t(0), &offer(Strategy::StopAndCopy, 256), test_cfg(), words, ctl).unwrap();
    let mut p = FakeProcess::empty(256);
    assert_eq!(d.handle(t(1), &mut p, &Msg { id: ID, seq: 0, ack: 0, body: Body::Commit }), Err(Error::Protocol));
    assert_eq!(d.state(), DestState::Receiving);
    assert!(!p.running);
    let other = Msg { id: MigrationId(78), seq: 0, ack: 0, body: Body::Commit };
    assert_eq!(d.handle(t(1), &mut p, &other), Err(Error::WrongMigration));
}

/// Drives a source and a destination over a perfect link until `stop` says so.
fn exchange(
    s: &mut Source<'_>,
    sp: &mut FakeProcess,
    d: &mut Destination<'_>,
    dp: &mut FakeProcess,
    now: Instant,
    mut stop: impl FnMut(&Source<'_>, &Destination<'_>) -> bool,
) {
    let mut buf = vec![0u8; MAX_MSG_LEN];
    for _ in 0..100_000 {
        if stop(s, d) {
            return;
        }
        if let Some(n) = s.poll_transmit(now, sp, &mut buf) {
            let _ = d.handle(now, dp, &Msg::decode(&buf[..n]).unwrap());
        } else if let Some(n) = d.poll_transmit(now, &mut buf) {
            let _ = s.handle(now, sp, &Msg::decode(&buf[..n]).unwrap());
        } else {
            panic!("stalled: {:?} {:?}", s.state(), d.state());
        }
    }
    panic!("no end");
}

#[test]
fn the_source_decides_the_hand_off() {
    let mut st = Storage::new(256);
    let (sw, sc, dw, dc) = st.all();
    let mut sp = FakeProcess::new(small());
    let mut s = Source::new(t(0), ID, Strategy::StopAndCopy, test_cfg(), &sp, sw, sc).unwrap();
    let mut buf = vec![0u8; MAX_MSG_LEN];
    let n = s.poll_transmit(t(0), &mut sp, &mut buf).unwrap();
    let mut d = Destination::new(t(0), &Msg::decode(&buf[..n]).unwrap(), test_cfg(), dw, dc).unwrap();
    let mut dp = FakeProcess::empty(256);
    exchange(&mut s, &mut sp, &mut d, &mut dp, t(1), |_, d| d.state() == DestState::Prepared);
    // Prepared: the destination may no longer abort on its own, whatever the time.
    assert_eq!(d.abort(t(1)), Err(Error::Committed));
    d.handle_timeout(t(100_000));
    assert_eq!(d.state(), DestState::Prepared);
    // The source has not heard `Ready` yet: it may still abort, and resumes the process.
    assert!(!sp.running);
    s.abort(t(2), &mut sp).unwrap();
    assert!(sp.running && s.state() == SourceState::Aborted(AbortReason::Local));
    let events: Vec<Event> = core::iter::from_fn(|| s.poll_event()).collect();
    assert!(events.contains(&Event::Aborted(AbortReason::Local)), "{events:?}");
    // Its abort reaches the prepared destination, which discards everything.
    let n = s.poll_transmit(t(2), &mut sp, &mut buf).unwrap();
    d.handle(t(2), &mut dp, &Msg::decode(&buf[..n]).unwrap()).unwrap();
    assert_eq!(d.state(), DestState::Aborted(AbortReason::Peer));
    assert!(!dp.running);
    // The destination's late `Ready` gets another abort, never a commit.
    let ready = Msg { id: ID, seq: 0, ack: 1000, body: Body::Ready };
    s.handle(t(3), &mut sp, &ready).unwrap();
    let n = s.poll_transmit(t(3), &mut sp, &mut buf).unwrap();
    assert_eq!(Msg::decode(&buf[..n]).unwrap().body, Body::Abort(AbortReason::Local));
}

/// A post-copy migration of `small()` driven over a perfect link until the destination runs
/// the process (the source committed, pages still remote): source, its process, destination,
/// its process, and a message buffer.
fn committed_post_copy(st: &mut Storage) -> (Source<'_>, FakeProcess, Destination<'_>, FakeProcess, Vec<u8>) {
    let (sw, sc, dw, dc) = st.all();
    let mut sp = FakeProcess::new(small());
    let mut s = Source::new(t(0), ID, Strategy::PostCopy, test_cfg(), &sp, sw, sc).unwrap();
    let mut buf = vec![0u8; MAX_MSG_LEN];
    let n = s.poll_transmit(t(0), &mut sp, &mut buf).unwrap();
    let mut d = Destination::new(t(0), &Msg::decode(&buf[..n]).unwrap(), test_cfg(), dw, dc).unwrap();
    let mut dp = FakeProcess::empty(256);
    // The working-set window passes, then everything up to the commit.
    exchange(&mut s, &mut sp, &mut d, &mut dp, t(1), |s, _| s.state() == SourceState::WorkingSet);
    s.handle_timeout(t(10), &mut sp);
    exchange(&mut s, &mut sp, &mut d, &mut dp, t(10), |_, d| d.state() == DestState::Running);
    assert!(dp.running && !sp.running && d.remote_pages() > 0);
    assert_eq!(s.state(), SourceState::Committed);
    (s, sp, d, dp, buf)
}

#[test]
fn after_the_commit_aborts_are_ignored() {
    let mut st = Storage::new(256);
    let (mut s, mut sp, mut d, mut dp, mut buf) = committed_post_copy(&mut st);
    assert_eq!(s.abort(t(11), &mut sp), Err(Error::Committed));
    let abort = Msg { id: ID, seq: 0, ack: 0, body: Body::Abort(AbortReason::Peer) };
    s.handle(t(11), &mut sp, &abort).unwrap();
    d.handle(t(11), &mut dp, &abort).unwrap();
    assert_eq!((s.state(), d.state()), (SourceState::Committed, DestState::Running));
    assert!(dp.running && !sp.running);
    // A link timeout after the commit changes nothing either: the source keeps the pages.
    s.handle_timeout(t(10_000), &mut sp);
    d.handle_timeout(t(10_000));
    assert_eq!((s.state(), d.state()), (SourceState::Committed, DestState::Running));
    // The rest completes; a source that then forgot the migration answers with an abort,
    // which ends it at the destination.
    exchange(&mut s, &mut sp, &mut d, &mut dp, t(10_001), |s, _| s.state() == SourceState::Released);
    let confirm = Msg {
        id: ID,
        seq: 0,
        ack: 0,
        body: Body::Confirm(crate::migrate::msg::Confirm { faults: 0, fault_wait_us: 0 }),
    };
    let n = reply_unknown(&confirm, &mut buf).unwrap();
    let mut d2 = d;
    if d2.state() == DestState::Complete {
        d2.handle(t(10_002), &mut dp, &Msg::decode(&buf[..n]).unwrap()).unwrap();
    }
    assert_eq!(d2.state(), DestState::Finished);
}

/// A committed source whose destination forgot the migration (it finished and its
/// confirmation was lost, or it crashed) releases instead of keeping the pages forever; an
/// ordinary abort after the commit is still ignored, and the process never runs here again.
#[test]
fn a_committed_source_whose_destination_forgot_releases() {
    let mut st = Storage::new(256);
    let (mut s, mut sp, _d, _dp, mut buf) = committed_post_copy(&mut st);
    let peer = Msg { id: ID, seq: 0, ack: 0, body: Body::Abort(AbortReason::Peer) };
    s.handle(t(11), &mut sp, &peer).unwrap();
    assert_eq!(s.state(), SourceState::Committed);
    // The destination's node answers a resent message of a migration it no longer knows.
    let request = Msg { id: ID, seq: 0, ack: 0, body: Body::Request(1) };
    let n = reply_unknown(&request, &mut buf).unwrap();
    s.handle(t(12), &mut sp, &Msg::decode(&buf[..n]).unwrap()).unwrap();
    assert!(s.is_finished() && s.state() == SourceState::Released);
    assert!(!sp.running, "released, never resumed");
    let events: Vec<Event> = core::iter::from_fn(|| s.poll_event()).collect();
    assert!(events.contains(&Event::Released), "{events:?}");
    assert!(!s.owns_process());
}
