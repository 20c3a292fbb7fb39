//! Randomized failures: for every strategy, at least 100 trials in which the link is cut (or
//! the connection killed: everything in flight is lost) at a random moment of the migration,
//! for a random time — shorter than the link timeout, longer, twice, or for good — some of
//! them on a lossy link, with the process writing at a random rate (none to faster than the
//! link). The simulation checks at every step that the process never runs on
//! both nodes; each trial then checks that it runs at exactly one node with the memory of a
//! process that never moved (or, with the link cut for good, that it is not lost).

use std::format;

use super::fake::Layout;
use super::sim::{Cut, LinkCfg, Rng, Sim, Storage};
use super::{STRATEGIES, test_cfg};
use crate::migrate::{DestState, SourceState, Strategy};

/// Trials per strategy; `MIGRATE_TRIALS` raises it for a longer soak.
fn trial_count() -> u64 {
    std::env::var("MIGRATE_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

#[derive(Default, Debug)]
struct Outcomes {
    moved: u32,
    stayed: u32,
    cut_for_good: u32,
}

fn trial(strategy: Strategy, seed: u64, out: &mut Outcomes) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9) ^ strategy as u64);
    let layout =
        Layout { pages: 128, data: 80, zero: 24, hot_base: 30, hot_len: 12, hot_permille: 800, extra: 2100, seed };
    let lossy = rng.chance(250);
    let link = if lossy {
        LinkCfg { loss_permille: 10, reorder_permille: 20, dup_permille: 10, ..LinkCfg::lan() }
    } else {
        LinkCfg::lan()
    };
    let rate = [0, 20, 20, 300][rng.below(4) as usize];
    let cfg = crate::migrate::Config { max_rounds: 2 + rng.below(6) as u32, ..test_cfg() };
    let mut st = Storage::new(layout.pages);
    let mut sim = Sim::new(&mut st, layout, strategy, cfg, link, rate, seed);
    // A clean migration of this process takes about 6 (post-copy) to 15 ms: cut anywhere in it.
    let start = rng.below(if strategy == Strategy::PostCopy { 8_000 } else { 16_000 });
    let kind = rng.below(10);
    let forever = kind == 9;
    let end = match kind {
        0..=3 => start + 1_000 + rng.below(90_000),
        4..=8 => start + 150_000 + rng.below(450_000),
        _ => u64::MAX,
    };
    sim.cuts.push(Cut { start, end });
    if kind == 8 {
        // Two cuts: a short one, then a second a little later.
        let first_end = start + 1_000 + rng.below(60_000);
        let again = first_end + rng.below(10_000);
        sim.cuts =
            std::vec![Cut { start, end: first_end }, Cut { start: again, end: again + 1_000 + rng.below(300_000) }];
    }
    let ctx = format!("{strategy:?} seed {seed} rate {rate} cut {:?} lossy {lossy}", sim.cuts);
    let quiet = sim.run_until_quiet(4_000_000);
    if forever {
        out.cut_for_good += 1;
        // Not lost: the source owns it and runs it (resumed after the link timeout), or it
        // committed and the destination holds the state (prepared, or running with the
        // source keeping the remote pages).
        if sim.source.owns_process() {
            assert!(sim.src.running, "{ctx}: the source owns it but does not run it");
        } else {
            let d = sim.dest.as_ref().map(|d| d.state());
            assert!(
                matches!(d, Some(DestState::Prepared | DestState::Running | DestState::Complete | DestState::Finished)),
                "{ctx}: committed, destination {d:?}"
            );
        }
        sim.check_memory().unwrap_or_else(|e| panic!("{ctx}: {e}"));
        return;
    }
    assert!(
        quiet,
        "{ctx}: not over (source {:?}, destination {:?})",
        sim.source.state(),
        sim.dest.as_ref().map(|d| d.state())
    );
    assert!(sim.src.running != sim.dst.running, "{ctx}: runs at exactly one node");
    match sim.source.state() {
        SourceState::Released => {
            assert_eq!(sim.dest.as_ref().map(|d| d.state()), Some(DestState::Finished), "{ctx}");
            assert!(sim.dst.running, "{ctx}");
            out.moved += 1;
        }
        SourceState::Aborted(_) => {
            let d = sim.dest.as_ref().map(|d| d.state());
            assert!(matches!(d, None | Some(DestState::Aborted(_))), "{ctx}: destination {d:?}");
            assert!(sim.src.running, "{ctx}");
            out.stayed += 1;
        }
        s => panic!("{ctx}: source ended {s:?}"),
    }
    sim.check_memory().unwrap_or_else(|e| panic!("{ctx}: {e}"));
    sim.run_for(2_000);
    sim.check_memory().unwrap_or_else(|e| panic!("{ctx} after more writes: {e}"));
}

fn trials(strategy: Strategy) {
    let mut out = Outcomes::default();
    for seed in 1..=trial_count() {
        trial(strategy, seed, &mut out);
    }
    // Both outcomes happen: short cuts are survived, long ones before the commit abort.
    assert!(out.moved >= 30 && out.stayed >= 5 && out.cut_for_good >= 3, "{strategy:?}: {out:?}");
}

#[test]
fn cuts_at_random_points_of_stop_and_copy() {
    trials(Strategy::StopAndCopy);
}

#[test]
fn cuts_at_random_points_of_pre_copy() {
    trials(Strategy::PreCopy);
}

#[test]
fn cuts_at_random_points_of_post_copy() {
    trials(Strategy::PostCopy);
}

#[test]
fn cuts_at_random_points_of_hybrid() {
    trials(Strategy::Hybrid);
}

#[test]
fn every_strategy_is_covered() {
    assert_eq!(STRATEGIES.len(), 4);
}
