//! Raft with its key-value store under the simulator: 2,000 seeded runs
//! across every kind of fault, each checked for election safety, log
//! matching, leader completeness, state machine safety and linearizability
//! of the clients' history, and for progress once the faults are over. A
//! failure prints the seed and the command that replays it.

use consensio::NodeId;
use consensio::raft::Persist;
use consensio_sim::protocols::raft::{Node, RaftProtocol};
use consensio_sim::protocols::{self, run_named};
use consensio_sim::scenario::FaultMix;
use consensio_sim::{Checker, Protocol, SimConfig};

const DURATION_MS: u64 = 10_000;

/// Runs `seeds` with `faults` on clusters of `nodes`; panics on the first
/// violation, or on a run whose clients made no progress in the last fifth
/// (the fault schedules of `FaultMix` end by 70% of the run).
fn check(faults: &str, nodes: u64, seeds: std::ops::Range<u64>) {
    let mix: FaultMix = faults.parse().unwrap();
    let replay = |seed: u64| {
        format!(
            "replay: cargo run --release -p consensio-sim -- check raft --seeds 1 --start-seed {seed} --faults {mix} --nodes {nodes} --duration-ms {DURATION_MS}"
        )
    };
    for seed in seeds {
        let outcome = run_named("raft", mix.config(seed, nodes, DURATION_MS)).unwrap();
        if let Some(v) = outcome.violation {
            panic!("{v}\n{}", replay(seed));
        }
        let last = outcome
            .summary
            .measurements
            .iter()
            .find(|(name, _)| name == "last client completion, ms")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        assert!(
            last.is_some_and(|t| t >= DURATION_MS * 4 / 5),
            "no client operation completed after the faults (last: {last:?})\n{}",
            replay(seed)
        );
    }
}

// 2,000 seeds in four tests, so the test harness spreads them over cores.

#[test]
fn raft_is_safe_and_linearizable_under_every_fault_five_nodes() {
    check("all", 5, 0..600);
}

#[test]
fn raft_is_safe_and_linearizable_under_every_fault_three_nodes() {
    check("all", 3, 0..600);
}

#[test]
fn raft_is_safe_and_linearizable_under_loss_duplication_and_reordering() {
    check("loss,duplicate,reorder,skew", 5, 10_000..10_400);
}

#[test]
fn raft_is_safe_and_linearizable_under_partitions_and_crashes() {
    check("partition,one_way,crash", 5, 20_000..20_400);
}

/// Torn crashes and a disk that loses unsynced writes, densely: `all`
/// has them too, among every other fault.
#[test]
fn raft_is_safe_and_linearizable_under_torn_crashes_and_lost_unsynced_writes() {
    check("crash,torn,unsynced", 5, 30_000..30_150);
    check("torn,unsynced", 3, 40_000..40_150);
}

/// Leader hunting strikes at the moments it aims at: each crash follows,
/// within 20 ms, that node's election or a command it accepted as leader,
/// or, within 5 ms, a message it sent (a vote it granted: the promises it
/// aims at, which the trace does not yet name).
#[test]
fn leader_hunting_crashes_leaders_right_after_their_fragile_moments() {
    use consensio_sim::trace::TraceKind;
    let (mut hunts, mut crashes) = (0, 0);
    for seed in 0..20 {
        let config = SimConfig {
            hunt_leaders: 6,
            record_trace: true,
            ..FaultMix::default().config(seed, 5, DURATION_MS)
        };
        assert!(config.faults.is_empty() && !config.hunt_isolates);
        let outcome = run_named("raft", config).unwrap();
        assert!(outcome.violation.is_none(), "seed {seed}");
        hunts += outcome.summary.hunts;
        crashes += outcome.summary.crashes;
        // A strike at a node already down does nothing.
        assert!(
            outcome.summary.crashes <= outcome.summary.hunts,
            "seed {seed}"
        );
        for (k, crash) in outcome.trace.iter().enumerate() {
            if !matches!(crash.kind, TraceKind::Crash { .. }) {
                continue;
            }
            // What aimed it: the node's last election, or its last accepted
            // command, no more than 20 ms before (a torn crash waits for the
            // node's next input that writes, so allow it the run's length).
            let aimed = outcome.trace[..k].iter().rev().find(|e| {
                e.node == crash.node
                    && match &e.kind {
                        TraceKind::Event { what, .. } => what.starts_with("Leader of term"),
                        TraceKind::Command { accepted, .. } => *accepted,
                        _ => false,
                    }
            });
            let aimed = aimed.map_or(0, |a| a.time_ms);
            let promised = outcome.trace[..k]
                .iter()
                .rev()
                .find(|e| e.node == crash.node && matches!(e.kind, TraceKind::Send { .. }));
            let after_promise = promised.is_some_and(|p| crash.time_ms - p.time_ms <= 5);
            let torn = matches!(
                crash.kind,
                TraceKind::Crash {
                    outputs_acted: Some(_),
                    ..
                }
            );
            assert!(
                torn || after_promise || crash.time_ms - aimed <= 20,
                "seed {seed}: n{} crashed at {} ms, aimed at {aimed} ms",
                crash.node,
                crash.time_ms,
            );
        }
    }
    assert!(
        hunts >= 20 && crashes >= 20,
        "{hunts} strikes, {crashes} crashes over 20 seeds"
    );
}

#[test]
fn the_same_seed_and_inputs_give_the_same_run() {
    let mix: FaultMix = "all".parse().unwrap();
    let config = SimConfig {
        record_trace: true,
        ..mix.config(7, 5, DURATION_MS)
    };
    let a = run_named("raft", config.clone()).unwrap();
    let b = run_named("raft", config.clone()).unwrap();
    // A busy run (its operator removes a voter, so it has fewer messages
    // than a run of five voters throughout would).
    assert!(a.summary.delivered > 1_000 && a.trace.len() > 5_000);
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.trace, b.trace, "every send, delivery and event, in order");
    let other = run_named("raft", SimConfig { seed: 8, ..config }).unwrap();
    assert_ne!(a.trace, other.trace, "the seed matters");
}

/// Raft whose restarted nodes forget what they persisted: a node that
/// voted or acknowledged entries and then forgets is exactly what the
/// persistence rules exist to prevent, and the checker must notice.
struct Amnesiac(RaftProtocol);

impl Protocol for Amnesiac {
    type Node = Node;
    fn name(&self) -> &'static str {
        "raft-amnesiac"
    }
    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Node {
        self.0.create(id, members, seed)
    }
    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, _disk: &[Persist]) -> Node {
        self.0.create(id, members, seed)
    }
    fn workload_interval_ms(&self) -> Option<u64> {
        self.0.workload_interval_ms()
    }
    fn workload(
        &mut self,
        rng: &mut consensio::Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, consensio::raft::kv::Command)> {
        self.0.workload(rng, now_ms, live)
    }
    fn checker(&self) -> Box<dyn Checker<Node>> {
        self.0.checker()
    }
    fn describe(&self, event: &consensio::raft::kv::Event) -> String {
        self.0.describe(event)
    }

    fn describe_message(&self, message: &consensio::raft::Message) -> consensio_sim::MessageLabel {
        self.0.describe_message(message)
    }
}

#[test]
fn the_checker_catches_a_cluster_that_forgets_its_disk() {
    let mix: FaultMix = "crash".parse().unwrap();
    let caught = (0..200).find_map(|seed| {
        let mut config = mix.config(seed, 3, DURATION_MS);
        // Crash often: every node, once a second, back after 300 ms.
        config.faults = (1..8)
            .flat_map(|k| {
                let node = k % 3 + 1;
                [
                    consensio_sim::ScheduledFault {
                        at_ms: k * 1_000,
                        fault: consensio_sim::Fault::Crash { node },
                    },
                    consensio_sim::ScheduledFault {
                        at_ms: k * 1_000 + 300,
                        fault: consensio_sim::Fault::Restart { node },
                    },
                ]
            })
            .collect();
        protocols::run(Amnesiac(RaftProtocol::default()), config).violation
    });
    let v = caught.expect("forgetting the disk must break an invariant within 200 seeds");
    assert!(v.checker.starts_with("Raft safety"), "{v}");
}

/// The Figure 8 scenario builds the paper's situation: index 1 of term 1
/// reaches a majority under the leader of term 3 without being committed,
/// and is then overwritten by term 2's entry, which commits in term 4.
#[test]
fn the_figure_8_scenario_overwrites_an_old_entry_that_reached_a_majority() {
    use consensio_sim::trace::TraceKind;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/raft-figure-8.toml");
    let mut scenario =
        consensio_sim::scenario::Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario.sim.record_trace = true;
    let outcome = run_named("raft", scenario.sim).unwrap();
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    let events: Vec<(u64, &str)> = outcome
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Event { what, .. } => Some((e.node, what.as_str())),
            _ => None,
        })
        .collect();
    let leaders: Vec<&(u64, &str)> = events
        .iter()
        .filter(|(_, w)| w.starts_with("Leader"))
        .collect();
    assert_eq!(
        leaders,
        [
            &(1, "Leader of term 1"),
            &(2, "Leader of term 2"),
            &(1, "Leader of term 3"),
            &(2, "Leader of term 4")
        ]
    );
    assert!(
        !events
            .iter()
            .any(|(_, w)| w.starts_with("Committed 1 (term 1)")),
        "term 1's entry must never be applied"
    );
    for node in 1..=3 {
        assert!(
            events.contains(&(node, "Committed 1 (term 2)")),
            "n{node} applies term 2's entry at index 1"
        );
    }
}

/// Every node snapshots its store every few dozen entries, so random runs
/// compact logs, install snapshots on followers that fell behind, and
/// restart from snapshots; a restart reads one snapshot and the records
/// written since (the adapter's `restore` asserts the bound the interval
/// sets, and the disk drops what a durable snapshot record replaced).
#[test]
fn random_runs_take_install_and_restart_from_snapshots() {
    use consensio_sim::protocols::raft::{SNAPSHOT_EVERY, SNAPSHOT_SPREAD};
    let mix: FaultMix = "partition,crash".parse().unwrap();
    let (mut applied, mut restarts, mut most) = (0, 0, 0);
    for seed in 0..40 {
        let outcome = run_named("raft", mix.config(seed, 5, DURATION_MS)).unwrap();
        assert!(outcome.violation.is_none(), "seed {seed}");
        let s = &outcome.summary;
        applied += s.events.get("ApplySnapshot").copied().unwrap_or(0);
        restarts += s.restarts;
        most = most.max(s.max_restart_records);
    }
    assert!(restarts >= 20, "restarts: {restarts}");
    assert!(applied >= restarts, "snapshots applied: {applied}");
    assert!(
        most > 0 && most <= 2 * (SNAPSHOT_EVERY + SNAPSHOT_SPREAD),
        "the longest restart read {most} records"
    );
}

/// `scenarios/raft-snapshot-catch-up.toml`: a follower down while more than
/// 10,000 entries commit restarts, installs the leader's snapshot, and
/// applies only the entries after it.
#[test]
fn a_follower_down_for_10_000_entries_catches_up_by_snapshot() {
    use consensio_sim::trace::TraceKind;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/raft-snapshot-catch-up.toml"
    );
    let mut scenario =
        consensio_sim::scenario::Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario.sim.record_trace = true;
    let outcome = run_named("raft", scenario.sim).unwrap();
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    let restart = outcome
        .trace
        .iter()
        .position(|e| e.node == 1 && matches!(e.kind, TraceKind::Restart))
        .expect("n1 restarts");
    let after: Vec<&str> = outcome.trace[restart..]
        .iter()
        .filter(|e| e.node == 1)
        .filter_map(|e| match &e.kind {
            TraceKind::Event { what, .. } => Some(what.as_str()),
            _ => None,
        })
        .collect();
    let installed: Vec<u64> = after
        .iter()
        .filter_map(|w| w.strip_prefix("ApplySnapshot at "))
        .filter_map(|w| w.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        installed.iter().any(|&i| i >= 10_000),
        "n1 installs a snapshot past entry 10,000: {installed:?}"
    );
    let replayed = after.iter().filter(|w| w.starts_with("Committed")).count();
    assert!(
        replayed < 1_000,
        "n1 applied {replayed} entries one by one after its restart"
    );
}

/// The count the checker reports under `name`.
fn measured(outcome: &consensio_sim::protocols::Outcome, name: &str) -> u64 {
    outcome
        .summary
        .measurements
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.split(',').next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no measurement {name}"))
}

/// `scenarios/raft-replace-every-server.toml`: each of the three voters is
/// replaced by a spare, one server at a time, under load; the memberships
/// committed go exactly through the single-server steps, and no
/// acknowledged write is lost (the history is linearizable).
#[test]
fn every_server_of_a_three_node_cluster_is_replaced_one_by_one() {
    use consensio_sim::trace::TraceKind;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/raft-replace-every-server.toml"
    );
    let mut scenario =
        consensio_sim::scenario::Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario.sim.record_trace = true;
    let outcome = run_named("raft-replace", scenario.sim).unwrap();
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    assert_eq!(measured(&outcome, "servers replaced"), 3);
    let mut steps: Vec<(u64, String)> = outcome
        .trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Event { what, .. } => {
                let rest = what.strip_prefix("MembershipCommitted ")?;
                let (index, members) = rest.split_once(": ")?;
                Some((index.parse().ok()?, members.to_string()))
            }
            _ => None,
        })
        .collect();
    steps.sort();
    steps.dedup();
    let members: Vec<&str> = steps.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        members,
        [
            "voters 1,2,3; learners 4",
            "voters 1,2,3,4",
            "voters 2,3,4",
            "voters 2,3,4; learners 5",
            "voters 2,3,4,5",
            "voters 3,4,5",
            "voters 3,4,5; learners 6",
            "voters 3,4,5,6",
            "voters 4,5,6",
        ]
    );
}

/// The same replacement under every fault, over many seeds: the
/// invariants hold, and the operator gets through at least half of the
/// replacements on average. (Every fault but leader hunting, whose
/// strikes stall the operator's steps too often for that measure;
/// `consensio check raft-replace --faults all` runs with it.)
#[test]
fn servers_are_replaced_safely_under_every_fault() {
    let mix: FaultMix = "loss,duplicate,reorder,partition,one_way,crash,skew,flaky,torn,unsynced"
        .parse()
        .unwrap();
    let mut replaced = 0;
    let seeds = 60_000..60_150;
    let n = seeds.end - seeds.start;
    for seed in seeds {
        let outcome = run_named("raft-replace", mix.config(seed, 6, DURATION_MS)).unwrap();
        if let Some(v) = outcome.violation {
            panic!(
                "{v}\nreplay: cargo run --release -p consensio-sim -- check raft-replace --seeds 1 --start-seed {seed} --faults {mix} --nodes 6 --duration-ms {DURATION_MS}"
            );
        }
        replaced += measured(&outcome, "servers replaced");
    }
    // Faults run for 70% of each 10 s run, and each step waits for the
    // last to commit: about half the replacements complete in that time.
    assert!(
        replaced >= n * 3 / 2,
        "{replaced} servers replaced in {n} runs"
    );
}
