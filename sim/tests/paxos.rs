//! Multi-Paxos in the simulator: the leader-minority scenario's outcome,
//! and random checks under every fault.

use consensio_sim::protocols::paxos::LAST_CHOSEN;
use consensio_sim::protocols::run_named;
use consensio_sim::scenario::{FaultMix, Scenario};
use consensio_sim::trace::TraceKind;

/// `scenarios/paxos-leader-minority.toml`: n3's values accepted by a
/// majority it could not hear from are recovered by n1's phase 1, at their
/// slots, and none is replaced by a no-op.
#[test]
fn a_leader_cut_into_a_minority_loses_no_value_a_majority_accepted() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/paxos-leader-minority.toml"
    );
    let mut scenario = Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario.sim.record_trace = true;
    let outcome = run_named("paxos", scenario.sim).unwrap();
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    let events: Vec<(u64, u64, &str)> = outcome
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Event { what, .. } => Some((e.time_ms, e.node, what.as_str())),
            _ => None,
        })
        .collect();
    let leads: Vec<(u64, &str)> = events
        .iter()
        .filter(|(_, _, w)| w.starts_with("leads"))
        .map(|&(_, n, w)| (n, w))
        .collect();
    assert_eq!(
        leads,
        [
            (1, "leads under ballot 1.1"),
            (3, "leads under ballot 2.3"),
            (1, "leads under ballot 3.1")
        ]
    );
    assert!(
        events.iter().any(|&(t, n, w)| n == 3
            && (1_000..1_600).contains(&t)
            && w.starts_with("stepped down")),
        "n3 steps down by check-quorum"
    );
    assert!(
        !events.iter().any(|(_, _, w)| w.ends_with("no-op")),
        "no value was replaced"
    );
    // What n3 knew chosen at the cut, and what n1 knew right after its
    // phase 1: everything in between is n3's, recovered from n1's report.
    let commit_at = |node: u64, from: u64, to: u64| {
        outcome
            .trace
            .iter()
            .filter(|e| e.node == node && (from..to).contains(&e.time_ms))
            .filter_map(|e| match &e.kind {
                TraceKind::State { commit, .. } => *commit,
                _ => None,
            })
            .max()
            .unwrap()
    };
    let before = commit_at(3, 0, 1_000);
    let leader_since = events
        .iter()
        .find(|(_, _, w)| *w == "leads under ballot 3.1")
        .unwrap()
        .0;
    let after = commit_at(1, leader_since, leader_since + 30);
    assert!(after >= before + 16, "recovered slots {before}..{after}");
    for slot in before + 1..=after {
        let chosen = format!("chosen slot {slot}: v");
        assert!(
            events
                .iter()
                .filter(|(_, _, w)| w.starts_with(&chosen))
                .count()
                >= 3,
            "slot {slot} chosen with a value a client proposed, at a majority"
        );
    }
}

const DURATION_MS: u64 = 10_000;

/// Runs `seeds` with `faults` on clusters of `nodes`; panics on the first
/// violation, or on a run in which nothing was chosen in the last fifth
/// (the fault schedules of `FaultMix` end by 70% of the run, and then a
/// majority must choose the clients' values again).
fn check(faults: &str, nodes: u64, seeds: std::ops::Range<u64>) {
    check_protocol("paxos", faults, nodes, seeds);
}

fn check_protocol(protocol: &str, faults: &str, nodes: u64, seeds: std::ops::Range<u64>) {
    let mix: FaultMix = faults.parse().unwrap();
    let replay = |seed: u64| {
        format!(
            "replay: cargo run --release -p consensio-sim -- check {protocol} --seeds 1 --start-seed {seed} --faults {mix} --nodes {nodes} --duration-ms {DURATION_MS}"
        )
    };
    for seed in seeds {
        let outcome = run_named(protocol, mix.config(seed, nodes, DURATION_MS)).unwrap();
        if let Some(v) = outcome.violation {
            panic!("{v}\n{}", replay(seed));
        }
        let last = outcome
            .summary
            .measurements
            .iter()
            .find(|(name, _)| name == LAST_CHOSEN)
            .and_then(|(_, v)| v.parse::<u64>().ok());
        assert!(
            last.is_some_and(|t| t >= DURATION_MS * 4 / 5),
            "nothing chosen after the faults (last: {last:?})\n{}",
            replay(seed)
        );
    }
}

// 1,200 seeds in four tests, so the test harness spreads them over cores.

#[test]
fn paxos_keeps_agreement_and_progress_under_every_fault_five_nodes() {
    check("all", 5, 0..400);
}

#[test]
fn paxos_keeps_agreement_and_progress_under_every_fault_three_nodes() {
    check("all", 3, 0..400);
}

#[test]
fn paxos_keeps_agreement_and_progress_under_loss_duplication_and_reordering() {
    check("loss,duplicate,reorder,skew,stale", 5, 10_000..10_200);
}

#[test]
fn paxos_keeps_agreement_and_progress_under_partitions_and_crashes() {
    check(
        "partition,one_way,crash,torn,unsynced,hunt",
        5,
        20_000..20_200,
    );
}

/// The key-value store on Multi-Paxos, driven by Raft's clients: the same
/// linearizability checker judges both stores.
#[test]
fn paxos_kv_is_linearizable_under_every_fault() {
    check_protocol("paxos-kv", "all", 5, 0..250);
    check_protocol("paxos-kv", "all", 3, 1_000..1_250);
}

/// `paxos-kv` nodes snapshot their store every few dozen slots, so random
/// runs restart from snapshot records, and a restart reads the snapshot
/// and the records written since (the disk drops what a durable snapshot
/// record replaced).
#[test]
fn paxos_kv_restarts_from_snapshot_records() {
    use consensio_sim::protocols::paxos::{SNAPSHOT_EVERY, SNAPSHOT_SPREAD};
    let mix: FaultMix = "partition,crash".parse().unwrap();
    let (mut from_snapshot, mut restarts, mut most) = (0, 0, 0);
    for seed in 0..30 {
        let outcome = run_named("paxos-kv", mix.config(seed, 5, DURATION_MS)).unwrap();
        assert!(
            outcome.violation.is_none(),
            "seed {seed}: {:?}",
            outcome.violation
        );
        let s = &outcome.summary;
        restarts += s.restarts;
        most = most.max(s.max_restart_records);
        from_snapshot += s
            .measurements
            .iter()
            .find(|(name, _)| name == "restarts from a snapshot")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    assert!(restarts >= 15, "restarts: {restarts}");
    assert!(
        from_snapshot * 2 >= restarts,
        "{from_snapshot} of {restarts} restarts from a snapshot"
    );
    // A snapshot, then at most an interval of slots in records of a page
    // or more, and the promises and chosen-prefix records between.
    let bound = (SNAPSHOT_EVERY + SNAPSHOT_SPREAD) * 2;
    assert!(
        most > 0 && most <= bound,
        "the longest restart read {most} records"
    );
}

/// Single-decree Paxos: every node proposes at a random moment while the
/// faults strike; the checker holds agreement, validity, once per life,
/// and liveness once the faults stop.
#[test]
fn paxos_single_keeps_agreement_and_liveness_under_every_fault() {
    for (nodes, seeds) in [(3, 0..1_500), (5, 10_000..11_500)] {
        let mix: FaultMix = "all".parse().unwrap();
        let mut chosen = 0;
        let mut preemptions = 0;
        for seed in seeds {
            let outcome = run_named("paxos-single", mix.config(seed, nodes, DURATION_MS)).unwrap();
            if let Some(v) = outcome.violation {
                panic!(
                    "{v}\nreplay: cargo run --release -p consensio-sim -- check paxos-single --seeds 1 --start-seed {seed} --faults {mix} --nodes {nodes} --duration-ms {DURATION_MS}"
                );
            }
            let measure = |name: &str| {
                outcome
                    .summary
                    .measurements
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            chosen += u64::from(measure("chosen at, ms") != "never");
            preemptions += measure("preemptions").parse::<u64>().unwrap();
        }
        // Most runs decide (the rest end with faults too late for the
        // liveness check), and the proposers do duel.
        assert!(chosen >= 1_400, "{nodes} nodes: {chosen} runs decided");
        assert!(
            preemptions >= 1_000,
            "{nodes} nodes: {preemptions} preemptions"
        );
    }
}

/// `scenarios/paxos-duel-*.toml`: the same five proposers, the same
/// network and seed; without backoff they preempt each other to the end
/// (a liveness violation), with it a value is chosen within a few round
/// trips.
#[test]
fn duelling_proposers_livelock_without_backoff_and_converge_with_it() {
    let load = |name: &str| {
        let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let without = load("paxos-duel-no-backoff.toml");
    let with = load("paxos-duel-backoff.toml");
    assert_eq!(without.sim, with.sim, "the same run but for the backoff");
    let outcome = run_named(&without.protocol, without.sim).unwrap();
    let violation = outcome.violation.expect("a livelock").to_string();
    assert!(violation.contains("liveness"), "{violation}");
    let outcome = run_named(&with.protocol, with.sim).unwrap();
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    let chosen_at: u64 = outcome
        .summary
        .measurements
        .iter()
        .find(|(n, _)| n == "chosen at, ms")
        .and_then(|(_, v)| v.parse().ok())
        .expect("chosen");
    assert!(chosen_at < 500, "chosen at {chosen_at} ms");
}
