//! The figures in the report: a fake 16 MiB process dirtying N pages per millisecond,
//! migrated over a simulated 100 MB/s link (100 µs one way) with every strategy. Ignored by
//! default; run with
//! `cargo test -p tern-core --release --lib migrate::tests::measure -- --ignored --nocapture`.

use std::println;

use super::STRATEGIES;
use super::fake::Layout;
use super::sim::{LinkCfg, Sim, Storage};
use crate::migrate::{Config, Strategy};

#[test]
#[ignore = "prints the measurement table; run in release"]
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
        }
    }
}
