//! Leader election under faults, on `consensio::testing`'s cluster (bounded
//! random delay, so reordering; duplication; loss; partitions; crash-restart
//! from the persisted records). The checker asserts at most one leader per epoch across every
//! `Elected` event, and that once faults stop every live node follows the
//! highest live id.

use std::collections::{BTreeMap, BTreeSet};

use consensio::election::{self, Bully, RingElection, bully, ring};
use consensio::testing::{Cluster, Faults};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore, wire};
use proptest::prelude::*;

/// No loss, no duplication, delay at most 50 ms: the synchronous model the
/// default timeouts assume.
const SYNCHRONOUS: Faults = Faults::synchronous(50);

/// A crash of `node` (an index) at `at_ms`, restarted `down_ms` later.
#[derive(Clone, Copy, Debug)]
struct Crash {
    node: usize,
    at_ms: u64,
    down_ms: u64,
}

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// What the harness needs of an election participant besides the trait.
trait Elector:
    Participant<
        Command = election::Command,
        Persist = u64,
        Event = election::Event,
        Error = election::Error,
        Message: std::fmt::Debug,
    > + Restore<Config: Clone>
{
    fn config(id: NodeId, members: &[NodeId]) -> Self::Config;
    /// Node `id` of `members`, rebuilt from the last epoch it persisted.
    fn with_epoch(id: NodeId, members: &[NodeId], epoch: u64) -> Self {
        <Self as Restore>::restore(Self::config(id, members), &[epoch]).unwrap()
    }
    fn leader(&self) -> Option<NodeId>;
    fn epoch(&self) -> u64;
}

impl Elector for Bully {
    fn config(id: NodeId, members: &[NodeId]) -> bully::Config {
        bully::Config::new(id, members)
    }
    fn leader(&self) -> Option<NodeId> {
        Bully::leader(self)
    }
    fn epoch(&self) -> u64 {
        Bully::epoch(self)
    }
}

impl Elector for RingElection {
    fn config(id: NodeId, members: &[NodeId]) -> ring::Config {
        ring::Config::new(id, members)
    }
    fn leader(&self) -> Option<NodeId> {
        RingElection::leader(self)
    }
    fn epoch(&self) -> u64 {
        RingElection::epoch(self)
    }
}

/// A fresh election net of nodes 1..=n: each node is rebuilt from the last
/// epoch it persisted, and the fault injector never takes down the last live
/// node holding the latest persisted epoch. (If it did, no live node could
/// know that epoch, and any protocol that numbers leaders without quorums
/// could hand it out again.)
fn net<P: Elector>(n: u64, faults: Faults, seed: u64) -> Cluster<P> {
    let members: Vec<NodeId> = (1..=n).map(NodeId).collect();
    let mut net = Cluster::new(seed, faults);
    for &id in &members {
        net.add(P::config(id, &members));
    }
    net.set_crash_guard(|net, i| {
        let latest = net.ids().flat_map(|j| net.disk(j)).copied().max();
        let latest = latest.unwrap_or(0);
        net.ids()
            .any(|j| j != i && net.get(j).is_some_and(|n: &P| n.epoch() >= latest))
    });
    net
}

/// Schedules `crash`, and the restart from the disk after it.
fn crash<P: Elector>(net: &mut Cluster<P>, crash: Crash) {
    let id = NodeId(crash.node as u64 + 1);
    net.crash_at(id, ms(crash.at_ms));
    net.restart_at(id, ms(crash.at_ms + crash.down_ms));
}

/// Whether every live node follows the highest live id, in one epoch.
fn converged<P: Elector>(net: &Cluster<P>) -> bool {
    let top = net.live().map(Participant::id).max();
    let epochs: BTreeSet<u64> = net.live().map(Elector::epoch).collect();
    epochs.len() == 1 && net.live().all(|n| n.leader() == top)
}

/// How many times a node declared itself leader.
fn self_elections<P: Elector>(net: &Cluster<P>) -> usize {
    net.events()
        .iter()
        .filter(|(_, id, e)| matches!(e, election::Event::Elected { leader, .. } if leader == id))
        .count()
}

/// The invariant: no two `Elected` events name different leaders for one
/// epoch.
fn at_most_one_leader_per_epoch(
    events: &[(Instant, NodeId, election::Event)],
) -> Result<(), String> {
    let mut leaders: BTreeMap<u64, NodeId> = BTreeMap::new();
    for &(time, node, event) in events {
        let time = time.as_millis();
        if let election::Event::Elected { leader, epoch } = event
            && let Some(&other) = leaders.get(&epoch)
            && other != leader
        {
            return Err(format!(
                "epoch {epoch} has two leaders: {other} and {leader} (seen by {node} at {time} ms)"
            ));
        } else if let election::Event::Elected { leader, epoch } = event {
            leaders.insert(epoch, leader);
        }
    }
    Ok(())
}

fn crashes(n: usize) -> impl Strategy<Value = Vec<Crash>> {
    proptest::collection::vec(
        (0..n, 0u64..8_000, 1u64..3_000).prop_map(|(node, at_ms, down_ms)| Crash {
            node,
            at_ms,
            down_ms,
        }),
        0..9,
    )
}

/// Crashes within the synchronous model, then a quiet period long enough to
/// settle: safety throughout and convergence at the end.
fn check_synchronous_run<P: Elector>(
    n: u64,
    duplicate: f64,
    crashes: &[Crash],
    seed: u64,
) -> Result<(), TestCaseError> {
    let faults = Faults {
        duplicate,
        ..SYNCHRONOUS
    };
    let mut net = net::<P>(n, faults, seed);
    for &c in crashes {
        crash(&mut net, c);
    }
    net.run_until(ms(11_000));
    net.set_faults(Faults {
        duplicate: 0.0,
        ..net.faults()
    });
    net.run_until(ms(16_000));
    prop_assert_eq!(
        at_most_one_leader_per_epoch(net.events()),
        Ok(()),
        "seed {}",
        seed
    );
    prop_assert!(converged(&net), "seed {}: {:?}", seed, net.events());
    Ok(())
}

/// Loss breaks the synchronous model, so only liveness is checked: once
/// loss stops, every live node follows the highest live id in one epoch.
fn check_convergence_after_loss<P: Elector>(
    n: u64,
    loss: f64,
    duplicate: f64,
    crashes: &[Crash],
    seed: u64,
) -> Result<(), TestCaseError> {
    let faults = Faults {
        loss,
        duplicate,
        ..SYNCHRONOUS
    };
    let mut net = net::<P>(n, faults, seed);
    for &c in crashes {
        crash(&mut net, c);
    }
    net.run_until(ms(11_000));
    net.set_faults(SYNCHRONOUS);
    net.run_until(ms(16_000));
    prop_assert!(converged(&net), "seed {}: {:?}", seed, net.events());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bully_elects_at_most_one_leader_per_epoch_under_crashes_duplicates_and_reordering(
        (n, crashes) in (2u64..7).prop_flat_map(|n| (Just(n), crashes(n as usize))),
        duplicate in 0.0..0.3f64,
        seed: u64,
    ) {
        check_synchronous_run::<Bully>(n, duplicate, &crashes, seed)?;
    }

    #[test]
    fn ring_elects_at_most_one_leader_per_epoch_under_crashes_duplicates_and_reordering(
        (n, crashes) in (2u64..7).prop_flat_map(|n| (Just(n), crashes(n as usize))),
        duplicate in 0.0..0.3f64,
        seed: u64,
    ) {
        check_synchronous_run::<RingElection>(n, duplicate, &crashes, seed)?;
    }

    #[test]
    fn bully_converges_on_the_highest_live_id_once_loss_stops(
        (n, crashes) in (2u64..7).prop_flat_map(|n| (Just(n), crashes(n as usize))),
        loss in 0.0..0.3f64,
        duplicate in 0.0..0.3f64,
        seed: u64,
    ) {
        check_convergence_after_loss::<Bully>(n, loss, duplicate, &crashes, seed)?;
    }

    #[test]
    fn ring_converges_on_the_highest_live_id_once_loss_stops(
        (n, crashes) in (2u64..7).prop_flat_map(|n| (Just(n), crashes(n as usize))),
        loss in 0.0..0.3f64,
        duplicate in 0.0..0.3f64,
        seed: u64,
    ) {
        check_convergence_after_loss::<RingElection>(n, loss, duplicate, &crashes, seed)?;
    }
}

/// Messages (heartbeats aside) sent until every node follows the highest
/// id after a simultaneous start, and again after that leader crashes.
fn election_messages<P: Elector>(n: u64) -> [BTreeMap<String, usize>; 2] {
    let mut net = net::<P>(n, SYNCHRONOUS, 7);
    net.run_until(ms(3_000));
    assert!(converged(&net));
    let mut start = net.take_sent();
    crash(
        &mut net,
        Crash {
            node: n as usize - 1,
            at_ms: 3_000,
            down_ms: 100_000,
        },
    );
    net.run_until(ms(8_000));
    assert!(converged(&net));
    assert_eq!(self_elections(&net), 2, "one self-election each time");
    let mut after = net.take_sent();
    start.remove("Heartbeat");
    after.remove("Heartbeat");
    [start, after]
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn bully_sends_quadratically_many_messages_when_everyone_elects() {
    for n in [3usize, 5, 8] {
        let [start, after] = election_messages::<Bully>(n as u64);
        // Every node elects at the end of its listening period: each sends
        // an election to, and answers, every other; the top announces.
        let all = n * (n - 1);
        let want = counts(&[("Answer", all), ("Coordinator", n - 1), ("Election", all)]);
        assert_eq!(start, want, "n = {n}");
        // After the leader crashes, the n − 1 survivors do the same, and
        // the elections to the dead leader go unanswered.
        let live = n - 1;
        let want = counts(&[
            ("Answer", live * (live - 1)),
            ("Coordinator", live - 1),
            ("Election", live * (n - 1)),
        ]);
        assert_eq!(after, want, "n = {n}");
    }
}

#[test]
fn ring_election_sends_about_two_trips_round_the_ring() {
    for n in [3usize, 5, 8] {
        let [start, after] = election_messages::<RingElection>(n as u64);
        for (live, counts) in [(n, start), (n - 1, after)] {
            let hops = counts["Election"] + counts["Elected"];
            // Chang–Roberts: at least the winner's trip, at most the
            // triangular worst case (counting hops to the dead leader, which
            // go unacknowledged); the announcement makes at most one trip.
            assert!(counts["Election"] >= live, "{counts:?}");
            assert!(counts["Election"] <= n * (n + 1) / 2, "{counts:?}");
            assert!(counts["Elected"] <= n, "{counts:?}");
            assert!(counts["Ack"] <= hops && counts["Ack"] + 2 * (n - live) >= hops);
        }
    }
}

#[test]
fn the_checker_catches_two_leaders_in_one_epoch_under_a_partition() {
    // Bully assumes a synchronous network; a partition breaks it, and the
    // checker must say so.
    let mut net = net::<Bully>(4, SYNCHRONOUS, 3);
    net.partition(&[&[NodeId(1), NodeId(2)], &[NodeId(3), NodeId(4)]]);
    net.run_until(ms(3_000));
    let verdict = at_most_one_leader_per_epoch(net.events());
    assert_eq!(
        verdict.as_ref().map_err(|e| e.split(" (").next().unwrap()),
        Err("epoch 1 has two leaders: n2 and n4"),
    );
    // Healed, the cluster converges on the highest id, in a later epoch.
    net.heal();
    net.run_until(ms(6_000));
    assert!(converged(&net));
    assert!(net.live().all(|node| node.epoch() > 1));
}

/// Every event and the message counts of one run.
type Run = (
    Vec<(Instant, NodeId, election::Event)>,
    BTreeMap<String, usize>,
);

fn replay<P: Elector>(seed: u64) -> Run {
    let faults = Faults {
        loss: 0.1,
        duplicate: 0.1,
        ..Faults::synchronous(80)
    };
    let mut net = net::<P>(5, faults, seed);
    crash(
        &mut net,
        Crash {
            node: 4,
            at_ms: 1_500,
            down_ms: 700,
        },
    );
    crash(
        &mut net,
        Crash {
            node: 1,
            at_ms: 2_000,
            down_ms: 300,
        },
    );
    net.run_until(ms(5_000));
    (net.take_events(), net.take_sent())
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let bully = replay::<Bully>(11);
    assert_eq!(bully, replay::<Bully>(11));
    assert!(bully.0.len() > 5);
    assert_ne!(bully, replay::<Bully>(12));
    let ring = replay::<RingElection>(11);
    assert_eq!(ring, replay::<RingElection>(11));
    assert!(ring.0.len() > 5);
}

/// One arbitrary input for a participant of `members` 1..=4.
fn arbitrary_input<M: std::fmt::Debug + Clone + 'static>(
    message: impl Strategy<Value = M>,
) -> impl Strategy<Value = (u64, Input<M, election::Command>)> {
    let input = prop_oneof![
        (0u64..7, message).prop_map(|(from, message)| Input::Message {
            from: NodeId(from),
            message
        }),
        Just(Input::Tick),
        Just(Input::Command(election::Command::StartElection)),
    ];
    (0u64..400, input)
}

fn epoch() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..6, Just(u64::MAX - 1), Just(u64::MAX)]
}

fn bully_message() -> impl Strategy<Value = consensio::election::bully::Message> {
    use consensio::election::bully::Message as M;
    prop_oneof![
        epoch().prop_map(|epoch| M::Election { epoch }),
        epoch().prop_map(|epoch| M::Answer { epoch }),
        epoch().prop_map(|epoch| M::Coordinator { epoch }),
        epoch().prop_map(|epoch| M::Heartbeat { epoch }),
    ]
}

fn ring_message() -> impl Strategy<Value = consensio::election::ring::Message> {
    use consensio::election::ring::Message as M;
    let id = (0u64..7).prop_map(NodeId);
    prop_oneof![
        (id.clone(), epoch(), 0u64..4).prop_map(|(candidate, epoch, hop)| M::Election {
            candidate,
            epoch,
            hop
        }),
        (id, epoch(), 0u64..4).prop_map(|(leader, epoch, hop)| M::Elected { leader, epoch, hop }),
        (0u64..4).prop_map(|hop| M::Ack { hop }),
        epoch().prop_map(|epoch| M::Heartbeat { epoch }),
    ]
}

/// Feeds `inputs` to node 2 of 1..=4; every error is a typed rejection of
/// a stranger, persisted epochs only grow, and the node's epoch is the last
/// one persisted.
fn survives<P: Elector>(
    inputs: Vec<(u64, Input<P::Message, election::Command>)>,
) -> Result<(), TestCaseError> {
    let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
    let mut node = P::with_epoch(NodeId(2), &members, 1);
    let mut now = 0;
    let mut persisted = 1;
    for (dt, input) in inputs {
        now += dt;
        let stranger = matches!(&input, Input::Message { from, .. } if !(1..=4).contains(&from.0) || from.0 == 2);
        match node.handle_input(Instant::from_millis(now), input) {
            Ok(()) => prop_assert!(!stranger),
            Err(e) => {
                let typed = matches!(e, election::Error::NotAMember { .. });
                prop_assert!(stranger && typed, "{:?}", e);
            }
        }
        while let Some(output) = node.poll_output() {
            if let Output::Persist(epoch) = output {
                prop_assert!(epoch > persisted);
                persisted = epoch;
            }
        }
        prop_assert_eq!(node.epoch(), persisted);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_frames_are_rejected_or_handled_never_a_panic(
        body in proptest::collection::vec(any::<u8>(), 0..40),
        kind in prop_oneof![Just(wire::kind::BULLY), Just(wire::kind::RING_ELECTION), any::<u8>()],
        from in 0u64..6,
    ) {
        let members: Vec<NodeId> = (1..=4).map(NodeId).collect();
        let mut frame = vec![wire::WIRE_VERSION, kind];
        frame.extend_from_slice(&body);
        let now = Instant::from_millis(10);
        let mut bully = Bully::new(bully::Config::new(NodeId(2), &members)).unwrap();
        let _ = bully.handle_message(now, NodeId(from), &frame);
        let mut ring = RingElection::new(ring::Config::new(NodeId(2), &members)).unwrap();
        let _ = ring.handle_message(now, NodeId(from), &frame);
    }

    #[test]
    fn bully_survives_random_inputs(inputs in proptest::collection::vec(arbitrary_input(bully_message()), 0..60)) {
        survives::<Bully>(inputs)?;
    }

    #[test]
    fn ring_survives_random_inputs(inputs in proptest::collection::vec(arbitrary_input(ring_message()), 0..60)) {
        survives::<RingElection>(inputs)?;
    }
}
