//! Two-node tests of the protocol on a virtual clock (see [`sim`]): every strategy moves the
//! memory exactly, zero pages are not sent, pre-copy stops by each of its rules, post-copy
//! faults jump the queue, lossy links change nothing, and (in [`failure`]) cuts at random
//! points never lose the process nor run it twice.

mod failure;
mod fake;
mod machines;
mod measure;
mod sim;
mod vm;

use std::vec::Vec;

use self::fake::Layout;
use self::sim::{LinkCfg, Sim, Storage};
use super::{Config, DestState, Event, SourceState, StopReason, Strategy};
use crate::time::Duration;

const STRATEGIES: [Strategy; 4] = [Strategy::StopAndCopy, Strategy::PreCopy, Strategy::PostCopy, Strategy::Hybrid];

/// Timers scaled to the simulated LAN.
fn test_cfg() -> Config {
    Config {
        initial_rto: Duration::from_millis(20),
        min_rto: Duration::from_millis(1),
        max_rto: Duration::from_millis(50),
        link_timeout: Duration::from_millis(100),
        ws_window: Duration::from_millis(2),
        max_downtime: Duration::from_millis(1),
        ..Config::default()
    }
}

/// 256 pages (1 MiB): 150 data, 60 zero, 46 unmapped; a 16-page hot set; a control block
/// of two chunks.
fn small() -> Layout {
    Layout { pages: 256, data: 150, zero: 60, hot_base: 50, hot_len: 16, hot_permille: 800, extra: 3000, seed: 7 }
}

fn finished_at_destination(sim: &Sim<'_>) {
    assert_eq!(sim.source.state(), SourceState::Released);
    assert_eq!(sim.dest.as_ref().map(|d| d.state()), Some(DestState::Finished));
    assert!(sim.dst.running && !sim.src.running);
    assert_eq!(sim.dst.loads, 1, "control block loaded once");
}

#[test]
fn every_strategy_moves_memory_exactly() {
    for strategy in STRATEGIES {
        let mut st = Storage::new(small().pages);
        let mut sim = Sim::new(&mut st, small(), strategy, test_cfg(), LinkCfg::lan(), 20, 11);
        assert!(sim.run_until_quiet(2_000_000), "{strategy:?} did not finish");
        finished_at_destination(&sim);
        sim.check_memory().unwrap_or_else(|e| panic!("{strategy:?}: {e}"));
        // The process keeps running at the destination: later writes land on moved memory.
        let steps = sim.dst.w.step;
        sim.run_for(5_000);
        assert!(sim.dst.w.step > steps + 50);
        sim.check_memory().unwrap_or_else(|e| panic!("{strategy:?} after more writes: {e}"));
        let m = sim.source.metrics();
        let true_downtime = sim.resumed_at.unwrap() - sim.stopped_at.unwrap();
        let estimate = m.downtime.as_micros();
        assert!(
            estimate.abs_diff(true_downtime) <= 300,
            "{strategy:?}: downtime {estimate} µs, true {true_downtime} µs"
        );
        assert!(m.total.as_micros() >= true_downtime && m.bytes_sent > 0 && m.messages_resent == 0);
        let rounds = match strategy {
            Strategy::StopAndCopy | Strategy::Hybrid => 1,
            Strategy::PostCopy => 0,
            Strategy::PreCopy => m.rounds.max(2),
        };
        assert_eq!(m.rounds, rounds, "{strategy:?}");
        if strategy.is_post_copy() {
            assert!(m.remote_faults > 0, "{strategy:?}: the hot set faults");
            assert_eq!(m.remote_faults, sim.fault_log.len() as u32);
        }
    }
}

#[test]
fn zero_pages_are_not_sent_as_data() {
    for strategy in STRATEGIES {
        let mut st = Storage::new(small().pages);
        let mut sim = Sim::new(&mut st, small(), strategy, test_cfg(), LinkCfg::lan(), 0, 3);
        // A data page whose bytes are all zero goes as a zero page too.
        sim.src.zero_page(0);
        assert!(sim.run_until_quiet(2_000_000));
        finished_at_destination(&sim);
        sim.check_memory().unwrap();
        let m = sim.source.metrics();
        assert_eq!(m.pages_sent, 149, "{strategy:?}: only the data pages");
        assert_eq!(m.zero_pages, 61, "{strategy:?}: the zero pages as markers");
        assert!(m.bytes_sent < 150 * 4096 + 20_000, "{strategy:?}: {} bytes", m.bytes_sent);
    }
}

#[test]
fn lossy_reordering_duplicating_link_changes_nothing() {
    let link = LinkCfg { loss_permille: 20, reorder_permille: 30, dup_permille: 20, ..LinkCfg::lan() };
    for strategy in STRATEGIES {
        for seed in 1..=4 {
            let mut st = Storage::new(small().pages);
            let mut sim = Sim::new(&mut st, small(), strategy, test_cfg(), link, 20, seed);
            assert!(sim.run_until_quiet(10_000_000), "{strategy:?} seed {seed}");
            finished_at_destination(&sim);
            sim.check_memory().unwrap_or_else(|e| panic!("{strategy:?} seed {seed}: {e}"));
            assert!(sim.source.metrics().messages_resent > 0, "{strategy:?} seed {seed}: losses were repaired");
        }
    }
}

fn precopy(layout: Layout, cfg: Config, rate: u64) -> (StopReason, super::Metrics, Vec<u8>) {
    precopy_over(layout, cfg, rate, LinkCfg::lan())
}

fn precopy_over(layout: Layout, cfg: Config, rate: u64, link: LinkCfg) -> (StopReason, super::Metrics, Vec<u8>) {
    let mut st = Storage::new(layout.pages);
    let mut sim = Sim::new(&mut st, layout, Strategy::PreCopy, cfg, link, rate, 5);
    assert!(sim.run_until_quiet(20_000_000));
    finished_at_destination(&sim);
    sim.check_memory().unwrap();
    let m = *sim.source.metrics();
    let throttles =
        sim.events.iter().filter_map(|e| if let Event::Throttle { percent } = e.2 { Some(percent) } else { None });
    (m.stop_reason.unwrap(), m, throttles.collect())
}

#[test]
fn precopy_stops_when_the_dirty_set_fits_the_budget() {
    let cfg = Config { max_downtime: Duration::from_millis(2), ..test_cfg() };
    let (reason, m, _) = precopy(small(), cfg, 5);
    assert_eq!(reason, StopReason::Converged);
    assert!(m.rounds >= 2 && m.rounds < 10, "{} rounds", m.rounds);
    assert!(m.downtime <= Duration::from_millis(2), "downtime {:?}", m.downtime);
    assert!(m.bandwidth > 50_000_000 && m.bandwidth < 110_000_000, "measured {} B/s", m.bandwidth);
}

/// A process that dirties its whole 64-page hot set faster than the link sends it.
fn hot() -> Layout {
    Layout { hot_len: 64, hot_permille: 1000, ..small() }
}

#[test]
fn precopy_stops_at_the_round_cap() {
    let cfg = Config { max_rounds: 4, max_bytes_factor: 1000, max_downtime: Duration::from_micros(100), ..test_cfg() };
    let (reason, m, _) = precopy(hot(), cfg, 2000);
    assert_eq!(reason, StopReason::RoundCap);
    assert_eq!(m.rounds, 5, "4 live rounds and the stopped one");
}

#[test]
fn precopy_stops_at_the_byte_limit() {
    let cfg = Config { max_rounds: 1000, max_bytes_factor: 2, max_downtime: Duration::from_micros(100), ..test_cfg() };
    let (reason, m, _) = precopy(hot(), cfg, 2000);
    assert_eq!(reason, StopReason::ByteLimit);
    let memory = u64::from(small().data + small().zero) * 4096;
    // Beyond the limit: at most the message that crossed it and the stopped round (the
    // 64-page hot set).
    let over = m.bytes_sent.saturating_sub(2 * memory);
    assert!(m.bytes_sent >= 2 * memory && over < 66 * 4200, "{} bytes for {memory}", m.bytes_sent);
    // The limit reached in the middle of the full copy (resends on a lossy link): the pages it
    // had not reached yet go with the process stopped.
    let lossy = LinkCfg { loss_permille: 150, ..LinkCfg::lan() };
    let (reason, m, _) = precopy_over(hot(), Config { max_bytes_factor: 1, ..cfg }, 20, lossy);
    assert_eq!((reason, m.rounds), (StopReason::ByteLimit, 2));
    let (reason, m, _) = precopy(hot(), Config { max_bytes_factor: 0, ..cfg }, 20);
    assert_eq!((reason, m.rounds), (StopReason::ByteLimit, 2));
}

#[test]
fn precopy_throttles_a_process_that_outruns_the_link() {
    let cfg = Config {
        throttle: true,
        max_rounds: 30,
        max_bytes_factor: 1000,
        max_downtime: Duration::from_micros(1500),
        ..test_cfg()
    };
    let (reason, m, throttles) = precopy(hot(), cfg, 200);
    assert!(!throttles.is_empty() && throttles.windows(2).all(|w| w[1] < w[0]), "{throttles:?}");
    assert_eq!(reason, StopReason::Converged, "throttled enough to converge ({} rounds)", m.rounds);
    let (reason, _, throttles) = precopy(hot(), Config { throttle: false, ..cfg }, 200);
    assert!(throttles.is_empty());
    assert_eq!(reason, StopReason::RoundCap, "unthrottled it never converges");
}

#[test]
fn postcopy_faults_jump_the_queue() {
    // 2048 pages (8 MiB) of data; the hot set at the far end of memory from the push's start.
    let layout = Layout {
        pages: 2048,
        data: 2048,
        zero: 0,
        hot_base: 2040,
        hot_len: 8,
        hot_permille: 1000,
        extra: 100,
        seed: 9,
    };
    for strategy in [Strategy::PostCopy, Strategy::Hybrid] {
        let mut st = Storage::new(layout.pages);
        let cfg = Config { ws_window: Duration::ZERO, ..test_cfg() };
        let mut sim = Sim::new(&mut st, layout, strategy, cfg, LinkCfg::lan(), 100, 21);
        assert!(sim.run_until_quiet(20_000_000));
        finished_at_destination(&sim);
        sim.check_memory().unwrap();
        let (_, _, wait, remote) = sim.fault_log[0];
        // Pushing everything takes about 84 ms; a fault waits one round trip and the push
        // window (64 KiB, 0.65 ms) at most.
        assert!(wait < 1_500, "{strategy:?}: first fault waited {wait} µs");
        if strategy == Strategy::PostCopy {
            assert!(remote > 1500, "{strategy:?}: answered with {remote} pages still remote");
        }
        let m = sim.source.metrics();
        assert_eq!(m.remote_faults, sim.fault_log.len() as u32);
        let waited: u64 = sim.fault_log.iter().map(|f| f.2).sum();
        assert!(m.fault_wait.as_micros().abs_diff(waited) <= 100 * sim.fault_log.len() as u64);
    }
}

#[test]
fn postcopy_downtime_does_not_grow_with_memory() {
    let mut downtimes = Vec::new();
    for pages in [256u32, 4096] {
        let layout = Layout {
            pages,
            data: pages * 3 / 4,
            zero: 0,
            hot_base: pages / 2,
            hot_len: 8,
            hot_permille: 900,
            extra: 100,
            seed: 4,
        };
        let mut st = Storage::new(pages);
        let mut sim = Sim::new(&mut st, layout, Strategy::PostCopy, test_cfg(), LinkCfg::lan(), 10, 8);
        assert!(sim.run_until_quiet(20_000_000));
        finished_at_destination(&sim);
        downtimes.push(sim.resumed_at.unwrap() - sim.stopped_at.unwrap());
    }
    assert!(downtimes[1] < downtimes[0] + 200, "{downtimes:?} µs");
}

#[test]
fn a_refusal_leaves_the_process_alone() {
    let mut st = Storage::new(small().pages);
    let mut sim = Sim::new(&mut st, small(), Strategy::PreCopy, test_cfg(), LinkCfg::lan(), 20, 1);
    sim.shrink_destination_storage();
    assert!(sim.run_until_quiet(1_000_000));
    assert_eq!(sim.source.state(), SourceState::Refused(super::RefuseReason::TooLarge));
    assert!(sim.src.running && !sim.dst.running && sim.stopped_at.is_none());
    sim.check_memory().unwrap();
}
