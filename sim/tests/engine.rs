//! The engine on a toy protocol: determinism, crash-restart from persisted
//! state only, fault counters, and checkers that do fail when they should.

use std::collections::{BTreeMap, VecDeque};

use consensio::{Input, Instant, NodeId, Output, Participant, Rng, wire};
use consensio_sim::protocols::run;
use consensio_sim::{Checker, Fault, NetworkConfig, Protocol, ScheduledFault, SimConfig};
use serde::{Deserialize, Serialize};

/// Gossip of a maximum: every 100 ms a node sends its value to a random
/// peer; a larger value received or set is persisted, then announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Gossip {
    value: u64,
}

impl wire::WireMessage for Gossip {
    const KIND: u8 = wire::kind::EXAMPLE;
}

#[derive(Debug)]
struct MaxNode {
    id: NodeId,
    peers: Vec<NodeId>,
    value: u64,
    rng: Rng,
    due: Instant,
    out: VecDeque<Output<Gossip, u64, u64>>,
}

impl MaxNode {
    fn raise(&mut self, value: u64) {
        if value > self.value {
            self.value = value;
            self.out.push_back(Output::Persist(value));
            self.out.push_back(Output::Event(value));
        }
    }
}

impl Participant for MaxNode {
    type Message = Gossip;
    type Command = u64;
    type Persist = u64;
    type Event = u64;
    type Error = wire::WireError;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<Gossip, u64>,
    ) -> Result<(), wire::WireError> {
        match input {
            Input::Message { message, .. } => self.raise(message.value),
            Input::Command(v) => self.raise(v),
            Input::Tick => {
                if now >= self.due {
                    self.due = now.saturating_add_millis(100);
                    let i = self.rng.below(self.peers.len() as u64) as usize;
                    let to = self.peers[i];
                    self.out.push_back(Output::Send {
                        to,
                        message: Gossip { value: self.value },
                    });
                }
            }
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Output<Gossip, u64, u64>> {
        self.out.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        Some(self.due)
    }
}

#[derive(Default)]
struct MaxProtocol {
    /// A deliberately broken restore that forgets the disk.
    amnesia: bool,
}

impl Protocol for MaxProtocol {
    type Node = MaxNode;

    fn name(&self) -> &'static str {
        "max-gossip"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> MaxNode {
        MaxNode {
            id,
            peers: members.iter().copied().filter(|&m| m != id).collect(),
            value: 0,
            rng: Rng::seed_from_u64(seed),
            due: Instant::ZERO,
            out: VecDeque::new(),
        }
    }

    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[u64]) -> MaxNode {
        let mut node = self.create(id, members, seed);
        if !self.amnesia {
            node.value = disk.iter().copied().max().unwrap_or(0);
        }
        node
    }

    fn workload(&mut self, rng: &mut Rng, now_ms: u64, live: &[NodeId]) -> Vec<(NodeId, u64)> {
        // Raise only until 3.5 s, so that the tail can converge.
        if now_ms > 3_500 {
            return Vec::new();
        }
        let i = rng.below(live.len() as u64) as usize;
        live.get(i).map(|&n| vec![(n, now_ms)]).unwrap_or_default()
    }

    fn checker(&self) -> Box<dyn Checker<MaxNode>> {
        Box::new(Monotonic::default())
    }

    fn describe(&self, event: &u64) -> String {
        format!("Raised({event})")
    }

    fn describe_message(&self, _: &Gossip) -> consensio_sim::MessageLabel {
        consensio_sim::MessageLabel::new("Gossip", "Gossip".into())
    }
}

/// No node's value ever goes down, not even across a crash; at the end every
/// live node holds the largest value.
#[derive(Default)]
struct Monotonic {
    seen: BTreeMap<NodeId, u64>,
    raised: u64,
}

impl Checker<MaxNode> for Monotonic {
    fn name(&self) -> &'static str {
        "values never decrease"
    }

    fn on_event(&mut self, _: u64, _: NodeId, _: &u64) -> Result<(), String> {
        self.raised += 1;
        Ok(())
    }

    fn after_step(&mut self, _: u64, nodes: &[(NodeId, Option<&MaxNode>)]) -> Result<(), String> {
        for (id, node) in nodes {
            if let Some(n) = node {
                let before = self.seen.insert(*id, n.value).unwrap_or(0);
                if n.value < before {
                    return Err(format!("{id} went from {before} down to {}", n.value));
                }
            }
        }
        Ok(())
    }

    fn at_end(&mut self, _: u64, nodes: &[(NodeId, Option<&MaxNode>)]) -> Result<(), String> {
        let values: Vec<u64> = nodes
            .iter()
            .filter_map(|(_, n)| n.map(|n| n.value))
            .collect();
        match (values.iter().min(), values.iter().max()) {
            (Some(lo), Some(hi)) if lo != hi => {
                Err(format!("live nodes disagree at the end: {values:?}"))
            }
            _ => Ok(()),
        }
    }

    fn report(&self) -> Vec<(String, String)> {
        vec![("raises".into(), self.raised.to_string())]
    }
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        nodes: 5,
        duration_ms: 5_000,
        network: NetworkConfig {
            latency_min_ms: 1,
            latency_max_ms: 20,
            loss: 0.1,
            duplicate: 0.1,
            reorder: 0.2,
            reorder_delay_ms: 50,
            replay: 0.0,
            replay_delay_ms: 1_000,
            replay_until_ms: u64::MAX,
        },
        clock_offset_max_ms: 200,
        clock_drift_max_ppm: 500,
        faults: vec![
            ScheduledFault {
                at_ms: 1_000,
                fault: Fault::Crash { node: 2 },
            },
            ScheduledFault {
                at_ms: 1_500,
                fault: Fault::Partition {
                    groups: vec![vec![1, 2], vec![3, 4, 5]],
                },
            },
            ScheduledFault {
                at_ms: 2_000,
                fault: Fault::Restart { node: 2 },
            },
            ScheduledFault {
                at_ms: 2_500,
                fault: Fault::OneWay {
                    from: vec![3],
                    to: vec![4],
                },
            },
            ScheduledFault {
                at_ms: 3_000,
                fault: Fault::Heal,
            },
        ],
        lose_unsynced_writes: false,
        workload_interval_ms: 250,
        hunt_leaders: 0,
        hunt_isolates: false,
        operator: false,
        record_trace: true,
    }
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let a = run(MaxProtocol::default(), config(11));
    let b = run(MaxProtocol::default(), config(11));
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.trace, b.trace);
    let c = run(MaxProtocol::default(), config(12));
    assert_ne!(a.trace, c.trace, "another seed, another run");
}

#[test]
fn faults_are_injected_and_counted() {
    let outcome = run(MaxProtocol::default(), config(3));
    let s = &outcome.summary;
    assert!(s.sent > 100 && s.delivered > 0, "{s}");
    assert!(
        s.dropped_loss > 0 && s.duplicated > 0 && s.dropped_partition > 0,
        "{s}"
    );
    assert_eq!((s.crashes, s.restarts), (1, 1));
    assert!(s.commands > 0);
    assert!(
        outcome
            .trace
            .iter()
            .any(|e| e.to_json().contains("\"kind\":\"restart\""))
    );
}

#[test]
fn crash_restart_rebuilds_from_persisted_state_and_the_invariant_holds() {
    for seed in 0..20 {
        let mut c = config(seed);
        c.duration_ms = 8_000;
        let outcome = run(MaxProtocol::default(), c);
        assert!(
            outcome.violation.is_none(),
            "seed {seed}: {}",
            outcome.violation.unwrap()
        );
    }
}

#[test]
fn a_restore_that_ignores_the_disk_is_caught_with_its_seed_and_trace() {
    let outcome = run(MaxProtocol { amnesia: true }, config(5));
    let v = outcome
        .violation
        .expect("the checker must catch the lost state");
    assert_eq!(v.seed, 5);
    assert_eq!(v.checker, "values never decrease");
    assert!(v.message.contains("n2"), "{}", v.message);
    assert!(!v.excerpt.is_empty());
    assert!(v.to_string().contains("seed 5"));
}

/// A message type whose encoding its own decoder rejects.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
struct Odd;
impl TryFrom<u8> for Odd {
    type Error = &'static str;
    fn try_from(_: u8) -> Result<Self, Self::Error> {
        Err("never valid")
    }
}
impl From<Odd> for u8 {
    fn from(_: Odd) -> u8 {
        1
    }
}
impl wire::WireMessage for Odd {
    const KIND: u8 = wire::kind::EXAMPLE;
}

struct OddNode(NodeId, VecDeque<Output<Odd, (), ()>>);
impl Participant for OddNode {
    type Message = Odd;
    type Command = ();
    type Persist = ();
    type Event = ();
    type Error = wire::WireError;
    fn id(&self) -> NodeId {
        self.0
    }
    fn handle_input(&mut self, _: Instant, input: Input<Odd, ()>) -> Result<(), wire::WireError> {
        if let Input::Command(()) = input {
            self.1.push_back(Output::Send {
                to: NodeId(2),
                message: Odd,
            });
        }
        Ok(())
    }
    fn poll_output(&mut self) -> Option<Output<Odd, (), ()>> {
        self.1.pop_front()
    }
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}
struct OddProtocol;
struct NoChecks;
impl Checker<OddNode> for NoChecks {
    fn name(&self) -> &'static str {
        "none"
    }
}
impl Protocol for OddProtocol {
    type Node = OddNode;
    fn name(&self) -> &'static str {
        "odd"
    }
    fn create(&self, id: NodeId, _: &[NodeId], _: u64) -> OddNode {
        OddNode(id, VecDeque::new())
    }
    fn restore(&self, id: NodeId, m: &[NodeId], s: u64, _: &[()]) -> OddNode {
        self.create(id, m, s)
    }
    fn workload(&mut self, _: &mut Rng, _: u64, _: &[NodeId]) -> Vec<(NodeId, ())> {
        vec![(NodeId(1), ())]
    }
    fn checker(&self) -> Box<dyn Checker<OddNode>> {
        Box::new(NoChecks)
    }
    fn describe(&self, _: &()) -> String {
        String::new()
    }

    fn describe_message(&self, _: &Odd) -> consensio_sim::MessageLabel {
        consensio_sim::MessageLabel::new("Odd", "Odd".into())
    }
}

#[test]
fn an_encoding_bug_surfaces_as_a_violation() {
    let c = SimConfig {
        nodes: 2,
        duration_ms: 1_000,
        workload_interval_ms: 100,
        ..SimConfig::default()
    };
    let outcome = run(OddProtocol, c);
    let v = outcome.violation.expect("the frame cannot decode");
    assert!(v.message.contains("could not decode"), "{}", v.message);
}
