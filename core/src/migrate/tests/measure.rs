//! The simulated figures in BENCHMARKS.md: a fake 16 MiB process dirtying N pages per
//! millisecond, migrated over a simulated 100 MB/s link (100 µs one way) with every strategy,
//! each checked against what its strategy promises (the table is printed with
//! `cargo test -p tern-core --lib migrate::tests::measure -- --nocapture`; the simulation runs
//! on a virtual clock, so the figures are the same in a debug or a release build).

use std::println;

use super::STRATEGIES;
use super::fake::Layout;
use super::sim::{LinkCfg, Sim, Storage};
use crate::migrate::{Config, Metrics, StopReason, Strategy};

/// One row of the table.
struct Row {
    strategy: Strategy,
    throttled: bool,
    rate: u64,
    /// Downtime measured on the simulated clock, ms.
    down: f64,
    m: Metrics,
}

#[test]
fn measure_16_mib() {
    // 4096 pages: 3584 of data, 512 zero; writes land 90% in a 1024-page hot set, so N writes
    // per ms dirty about N distinct pages per ms at these rates.
    let layout = Layout {
        pages: 4096,
        data: 3584,
        zero: 512,
        hot_base: 1024,
        hot_len: 1024,
        hot_permille: 900,
        extra: 1000,
        seed: 1,
    };
    let limit_ms = 16.0 * 1024.0 * 1024.0 / 100_000.0;
    println!("physical limit: 16 MiB / 100 MB/s = {limit_ms:.1} ms");
    println!(
        "| strategy | N pages/ms | downtime ms | total ms | MiB sent | × memory | rounds | stop | faults | fault wait ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let throttled = Config { throttle: true, ..Config::default() };
    let mut rows = std::vec::Vec::new();
    for rate in [1u64, 10, 50, 200] {
        let runs = STRATEGIES.iter().map(|&s| (s, Config::default(), "")).chain((rate >= 50).then_some((
            Strategy::PreCopy,
            throttled,
            " (throttle)",
        )));
        for (strategy, cfg, note) in runs {
            let mut st = Storage::new(layout.pages);
            let mut sim = Sim::new(&mut st, layout, strategy, cfg, LinkCfg::lan(), rate, 42);
            assert!(sim.run_until_quiet(120_000_000), "{strategy:?} at {rate}");
            sim.check_memory().expect("exact memory");
            let m = sim.source.metrics();
            let down = (sim.resumed_at.unwrap() - sim.stopped_at.unwrap()) as f64 / 1000.0;
            let mib = m.bytes_sent as f64 / (1024.0 * 1024.0);
            println!(
                "| {strategy:?}{note} | {rate} | {down:.2} (est. {:.2}) | {:.1} | {mib:.1} | {:.2} | {} | {:?} | {} | {:.1} |",
                m.downtime.as_micros() as f64 / 1000.0,
                m.total.as_micros() as f64 / 1000.0,
                mib / 16.0,
                m.rounds,
                m.stop_reason.unwrap(),
                m.remote_faults,
                m.fault_wait.as_micros() as f64 / 1000.0,
            );
            rows.push(Row { strategy, throttled: cfg.throttle, rate, down, m: *m });
        }
    }
    check(&rows, limit_ms);
}

/// What each strategy promises, on the rows of the table.
fn check(rows: &[Row], limit_ms: f64) {
    let mem = 16.0 * 1024.0 * 1024.0;
    let data = 3584.0 * 4096.0;
    let at = |s: Strategy, rate: u64, throttled: bool| {
        rows.iter().find(|r| r.strategy == s && r.rate == rate && r.throttled == throttled).expect("a row")
    };
    for r in rows {
        let sent = r.m.bytes_sent as f64;
        let what = (r.strategy, r.rate, r.throttled);
        // The estimate the source reports is the time it measured itself, within 0.2 ms.
        assert!((r.down - r.m.downtime.as_micros() as f64 / 1000.0).abs() < 0.2, "{what:?}");
        match r.strategy {
            // Everything once, with the process stopped: the downtime is the whole copy, at
            // the link's speed; zero pages are announced, not sent.
            Strategy::StopAndCopy => {
                assert!(sent < data * 1.01 && sent >= data, "{what:?}: {sent}");
                assert!(r.down > 0.85 * limit_ms && r.down < limit_ms, "{what:?}: {}", r.down);
            }
            // Running at the destination at once: a downtime of the control block and working
            // set, every page sent about once, faults served while it runs.
            Strategy::PostCopy => {
                assert!(r.down < 1.0, "{what:?}: {}", r.down);
                assert!(sent < data * 1.02, "{what:?}: {sent}");
                assert!(r.m.remote_faults > 0 && r.m.stop_reason == Some(StopReason::Immediate), "{what:?}");
            }
            // One pass while it runs, then post-copy for the rest.
            Strategy::Hybrid => {
                assert!(r.down < 2.0 && r.m.rounds == 1, "{what:?}: {}", r.down);
                assert_eq!(r.m.stop_reason, Some(StopReason::PassDone), "{what:?}");
                assert!(sent < 2.0 * data, "{what:?}: {sent}");
            }
            // Never more than k × memory (plus the last dirty set), whatever the rate.
            Strategy::PreCopy => {
                assert!(sent < (3.0 + 0.6) * mem, "{what:?}: {sent}");
                if r.m.stop_reason == Some(StopReason::Converged) {
                    assert!(r.down < 3.0, "{what:?}: converged with a downtime of {}", r.down);
                }
            }
        }
    }
    // Pre-copy converges while the process dirties slower than the link, and gives up by the
    // byte limit (not by looping) when it does not; throttling makes the 50 pages/ms writer
    // converge where it did not.
    for rate in [1, 10] {
        assert_eq!(at(Strategy::PreCopy, rate, false).m.stop_reason, Some(StopReason::Converged), "rate {rate}");
    }
    assert_eq!(at(Strategy::PreCopy, 200, false).m.stop_reason, Some(StopReason::ByteLimit));
    let (free, slowed) = (at(Strategy::PreCopy, 50, false), at(Strategy::PreCopy, 50, true));
    assert_eq!(slowed.m.stop_reason, Some(StopReason::Converged));
    assert!(slowed.down < free.down / 4.0, "throttling: {} vs {}", slowed.down, free.down);
    // Every strategy beats stop-and-copy's downtime at every rate.
    for rate in [1, 10, 50, 200] {
        let sc = at(Strategy::StopAndCopy, rate, false).down;
        for s in [Strategy::PreCopy, Strategy::PostCopy, Strategy::Hybrid] {
            assert!(at(s, rate, false).down < sc, "{s:?} at {rate}");
        }
    }
}
