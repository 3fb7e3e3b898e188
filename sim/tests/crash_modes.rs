//! The crash modes of the simulator: torn crashes (halfway through acting
//! on one input's outputs) and a disk that loses unsynced writes.
//!
//! First on a scripted toy, where every outcome can be computed: what a
//! torn crash after `k` outputs leaves undone, and which records a crash
//! may lose. Then the point of the modes: a participant that acts before
//! its record is durable (a toy that announces before persisting, and Raft
//! behind an adapter that moves every record after the outputs it guards)
//! is caught by the checkers under the new modes, and by no amount of the
//! old crashes — a checker that cannot fail proves nothing.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use consensio::raft::{self, Persist, kv};
use consensio::{Input, Instant, NodeId, Output, Participant, Rng, wire};
use consensio_sim::protocols::raft::{Node, RaftProtocol};
use consensio_sim::protocols::{self, Outcome};
use consensio_sim::scenario::FaultMix;
use consensio_sim::trace::TraceKind;
use consensio_sim::{Checker, Fault, Protocol, ScheduledFault, SimConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Ping;

impl wire::WireMessage for Ping {
    const KIND: u8 = wire::kind::EXAMPLE;
}

type Out = Output<Ping, u64, u64>;

/// On its one command, node 1 emits [`SCRIPT`]; nothing else ever emits.
struct Scripted {
    id: NodeId,
    out: VecDeque<Out>,
}

/// Record 1, a send, records 2 and 3, an event, records 4 and 5.
fn script() -> Vec<Out> {
    vec![
        Output::Persist(1),
        Output::Send {
            to: NodeId(2),
            message: Ping,
        },
        Output::Persist(2),
        Output::Persist(3),
        Output::Event(1),
        Output::Persist(4),
        Output::Persist(5),
    ]
}

impl Participant for Scripted {
    type Message = Ping;
    type Command = ();
    type Persist = u64;
    type Event = u64;
    type Error = wire::WireError;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_input(&mut self, _: Instant, input: Input<Ping, ()>) -> Result<(), wire::WireError> {
        if let Input::Command(()) = input {
            self.out.extend(script());
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Out> {
        self.out.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

/// The scripted cluster; every restore's disk is kept for the test.
#[derive(Default)]
struct ScriptedProtocol {
    restored: Rc<RefCell<Vec<Vec<u64>>>>,
}

struct NoChecks;
impl Checker<Scripted> for NoChecks {
    fn name(&self) -> &'static str {
        "none"
    }
}

impl Protocol for ScriptedProtocol {
    type Node = Scripted;
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn create(&self, id: NodeId, _: &[NodeId], _: u64) -> Scripted {
        Scripted {
            id,
            out: VecDeque::new(),
        }
    }
    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[u64]) -> Scripted {
        self.restored.borrow_mut().push(disk.to_vec());
        self.create(id, members, seed)
    }
    fn workload(&mut self, _: &mut Rng, now_ms: u64, _: &[NodeId]) -> Vec<(NodeId, ())> {
        if now_ms == 100 {
            vec![(NodeId(1), ())]
        } else {
            Vec::new()
        }
    }
    fn checker(&self) -> Box<dyn Checker<Scripted>> {
        Box::new(NoChecks)
    }
    fn describe(&self, _: &u64) -> String {
        "Announced".into()
    }

    fn describe_message(&self, _: &Ping) -> consensio_sim::MessageLabel {
        consensio_sim::MessageLabel::new("Ping", "Ping".into())
    }
}

/// Node 1 gets its command at 100 ms; `crash` hits it at `crash_ms`, and it
/// restarts at 300 ms.
fn scripted(seed: u64, crash: Fault, crash_ms: u64, lose: bool) -> (Outcome, Vec<u64>) {
    let protocol = ScriptedProtocol::default();
    let restored = Rc::clone(&protocol.restored);
    let config = SimConfig {
        seed,
        nodes: 2,
        duration_ms: 1_000,
        workload_interval_ms: 100,
        lose_unsynced_writes: lose,
        record_trace: true,
        faults: vec![
            ScheduledFault {
                at_ms: crash_ms,
                fault: crash,
            },
            ScheduledFault {
                at_ms: 300,
                fault: Fault::Restart { node: 1 },
            },
        ],
        ..SimConfig::default()
    };
    let outcome = protocols::run(protocol, config);
    assert!(outcome.violation.is_none());
    let disks = restored.borrow();
    assert_eq!(disks.len(), 1, "one restart");
    (outcome, disks[0].clone())
}

/// The crash's trace fields: (outputs acted on, dropped, records lost).
fn crash_fields(outcome: &Outcome) -> (Option<u64>, Option<u64>, Option<u64>) {
    let crashes: Vec<_> = outcome
        .trace
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Crash {
                outputs_acted,
                outputs_dropped,
                records_lost,
            } => Some((outputs_acted, outputs_dropped, records_lost)),
            _ => None,
        })
        .collect();
    assert_eq!(crashes.len(), 1, "one crash");
    crashes[0]
}

#[test]
fn a_torn_crash_acts_on_a_prefix_of_the_outputs_only() {
    let mut cuts = BTreeSet::new();
    let (mut lost_some, mut lost_none) = (false, false);
    for lose in [false, true] {
        for seed in 0..120 {
            let (outcome, disk) = scripted(seed, Fault::TornCrash { node: 1 }, 50, lose);
            let s = &outcome.summary;
            let (acted, dropped, lost) = crash_fields(&outcome);
            let k = acted.expect("a torn crash says how far it got");
            cuts.insert(k);
            assert_eq!(dropped, Some(7 - k));
            assert_eq!(
                (s.crashes, s.torn_crashes, s.outputs_dropped),
                (1, 1, 7 - k)
            );
            // Nothing after the cut happened: no send, no event.
            assert_eq!(s.sent, u64::from(k >= 2), "seed {seed}, cut {k}");
            assert_eq!(s.events.values().sum::<u64>(), u64::from(k >= 5));
            // The records among the first k, and those an acted-on send or
            // event followed (synced).
            let written: Vec<u64> = script()
                .into_iter()
                .take(k as usize)
                .filter_map(|o| match o {
                    Output::Persist(r) => Some(r),
                    _ => None,
                })
                .collect();
            let synced = match k {
                0 | 1 => 0,
                2..=4 => 1,
                _ => 3,
            };
            if lose {
                assert!(
                    written.starts_with(&disk) && disk.len() >= synced,
                    "{disk:?}"
                );
                let lost_now = (written.len() - disk.len()) as u64;
                assert_eq!(lost, Some(lost_now));
                assert_eq!(s.records_lost, lost_now);
                assert_eq!(s.records_unsynced, (written.len() - synced) as u64);
                lost_some |= lost_now > 0;
                lost_none |= lost_now == 0 && written.len() > synced;
            } else {
                assert_eq!(disk, written, "every record written is durable");
                assert_eq!((lost, s.records_unsynced), (None, 0));
            }
        }
    }
    assert_eq!(cuts, (0..=7).collect(), "every cut, from none to all");
    assert!(lost_some && lost_none, "a suffix is lost, or none of it");
}

#[test]
fn a_crash_between_inputs_loses_only_records_after_the_last_act() {
    let mut disks = BTreeSet::new();
    for seed in 0..60 {
        let (outcome, disk) = scripted(seed, Fault::Crash { node: 1 }, 200, true);
        assert_eq!(outcome.summary.torn_crashes, 0);
        assert_eq!(outcome.summary.records_unsynced, 2, "records 4 and 5");
        // Records 1..=3 came before the event: synced, always kept.
        assert!(disk.starts_with(&[1, 2, 3]) && [1, 2, 3, 4, 5].starts_with(&disk));
        disks.insert(disk);
        // The same crash with the mode off: today's disk, which keeps all.
        let (old, disk) = scripted(seed, Fault::Crash { node: 1 }, 200, false);
        assert_eq!(disk, [1, 2, 3, 4, 5]);
        assert_eq!(crash_fields(&old), (None, None, None));
        assert_eq!(old.summary.records_unsynced + old.summary.records_lost, 0);
    }
    assert_eq!(disks.len(), 3, "none, one or both unsynced records lost");
}

#[test]
fn a_torn_crash_with_nothing_to_tear_crashes_when_its_restart_is_due() {
    // Armed after the command: node 1 never has another output.
    let protocol = ScriptedProtocol::default();
    let config = SimConfig {
        nodes: 2,
        duration_ms: 1_000,
        workload_interval_ms: 100,
        record_trace: true,
        faults: vec![
            ScheduledFault {
                at_ms: 200,
                fault: Fault::TornCrash { node: 1 },
            },
            ScheduledFault {
                at_ms: 600,
                fault: Fault::Restart { node: 1 },
            },
        ],
        ..SimConfig::default()
    };
    let outcome = protocols::run(protocol, config);
    let s = &outcome.summary;
    assert_eq!((s.crashes, s.torn_crashes, s.restarts), (1, 0, 1));
    let kinds: Vec<(u64, String)> = outcome
        .trace
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Crash { .. } | TraceKind::Restart))
        .map(|e| (e.time_ms, e.to_json()))
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds[0].1.contains("\"crash\"") && kinds[1].1.contains("\"restart\""));
    assert!(kinds.iter().all(|(t, _)| *t == 600));
}

/// Announces each new maximum it is given and persists it; `broken`
/// announces first and persists after, against the contract.
struct Announcer {
    id: NodeId,
    value: u64,
    broken: bool,
    out: VecDeque<Out>,
}

impl Participant for Announcer {
    type Message = Ping;
    type Command = u64;
    type Persist = u64;
    type Event = u64;
    type Error = wire::WireError;

    fn id(&self) -> NodeId {
        self.id
    }

    fn handle_input(&mut self, _: Instant, input: Input<Ping, u64>) -> Result<(), wire::WireError> {
        if let Input::Command(v) = input
            && v > self.value
        {
            self.value = v;
            if self.broken {
                self.out.push_back(Output::Event(v));
                self.out.push_back(Output::Persist(v));
            } else {
                self.out.push_back(Output::Persist(v));
                self.out.push_back(Output::Event(v));
            }
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Out> {
        self.out.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

struct AnnouncerProtocol {
    broken: bool,
}

/// No node ever holds less than it announced, not even after a restart.
#[derive(Default)]
struct KeepsItsWord {
    announced: BTreeMap<NodeId, u64>,
}

impl Checker<Announcer> for KeepsItsWord {
    fn name(&self) -> &'static str {
        "a node never goes back on what it announced"
    }
    fn on_event(&mut self, _: u64, node: NodeId, v: &u64) -> Result<(), String> {
        self.announced.insert(node, *v);
        Ok(())
    }
    fn after_step(&mut self, _: u64, nodes: &[(NodeId, Option<&Announcer>)]) -> Result<(), String> {
        for (id, node) in nodes {
            let word = self.announced.get(id).copied().unwrap_or(0);
            if let Some(n) = node
                && n.value < word
            {
                return Err(format!("{id} announced {word} but holds {}", n.value));
            }
        }
        Ok(())
    }
}

impl Protocol for AnnouncerProtocol {
    type Node = Announcer;
    fn name(&self) -> &'static str {
        "announcer"
    }
    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Announcer {
        self.restore(id, members, seed, &[])
    }
    fn restore(&self, id: NodeId, _: &[NodeId], _: u64, disk: &[u64]) -> Announcer {
        Announcer {
            id,
            value: disk.iter().copied().max().unwrap_or(0),
            broken: self.broken,
            out: VecDeque::new(),
        }
    }
    fn workload(&mut self, rng: &mut Rng, now_ms: u64, live: &[NodeId]) -> Vec<(NodeId, u64)> {
        let i = rng.below(live.len() as u64) as usize;
        live.get(i).map(|&n| vec![(n, now_ms)]).unwrap_or_default()
    }
    fn checker(&self) -> Box<dyn Checker<Announcer>> {
        Box::new(KeepsItsWord::default())
    }
    fn describe(&self, v: &u64) -> String {
        format!("Announced {v}")
    }

    fn describe_message(&self, _: &Ping) -> consensio_sim::MessageLabel {
        consensio_sim::MessageLabel::new("Ping", "Ping".into())
    }
}

/// The first of `seeds` whose random run of `faults` breaks `protocol`.
fn first_failure<P: Protocol>(
    protocol: impl Fn() -> P,
    faults: &str,
    nodes: u64,
    seeds: std::ops::Range<u64>,
    adjust: impl Fn(&mut SimConfig),
) -> Option<(u64, String)> {
    let mix: FaultMix = faults.parse().unwrap();
    seeds.into_iter().find_map(|seed| {
        let mut config = mix.config(seed, nodes, 10_000);
        adjust(&mut config);
        protocols::run(protocol(), config)
            .violation
            .map(|v| (seed, v.to_string()))
    })
}

fn often(config: &mut SimConfig) {
    config.workload_interval_ms = 50;
}

#[test]
fn announcing_before_persisting_is_caught_only_by_the_new_crash_modes() {
    let broken = || AnnouncerProtocol { broken: true };
    let correct = || AnnouncerProtocol { broken: false };
    // The old crashes come between inputs, after every record was written.
    assert_eq!(first_failure(broken, "crash", 5, 0..40, often), None);
    for faults in ["torn", "crash,unsynced"] {
        let (_, v) = first_failure(broken, faults, 5, 0..40, often)
            .unwrap_or_else(|| panic!("{faults}: the broken order must be caught"));
        assert!(v.contains("announced"), "{v}");
        assert_eq!(first_failure(correct, faults, 5, 0..40, often), None);
    }
    assert_eq!(first_failure(correct, "all", 5, 0..40, often), None);
}

/// Raft behind a host adapter that acts on every send and event of an
/// input before writing its records: votes go out before the vote is on
/// disk, acknowledgements before the entries, replies before the log.
struct Deferring {
    node: Node,
    out: VecDeque<Output<raft::Message, Persist, kv::Event>>,
}

impl Participant for Deferring {
    type Message = raft::Message;
    type Command = kv::Command;
    type Persist = Persist;
    type Event = kv::Event;
    type Error = raft::Error;

    fn id(&self) -> NodeId {
        self.node.id()
    }

    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<raft::Message, kv::Command>,
    ) -> Result<(), raft::Error> {
        let result = self.node.handle_input(now, input);
        let (records, acts): (Vec<_>, Vec<_>) = std::iter::from_fn(|| self.node.poll_output())
            .partition(|o| matches!(o, Output::Persist(_)));
        self.out.extend(acts);
        self.out.extend(records);
        result
    }

    fn poll_output(&mut self) -> Option<Output<raft::Message, Persist, kv::Event>> {
        self.out.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.node.next_deadline()
    }
}

struct DeferringRaft(RaftProtocol);

/// The Raft checker, reading through the adapter.
struct Unwrapped(Box<dyn Checker<Node>>);

fn inner<'a>(nodes: &[(NodeId, Option<&'a Deferring>)]) -> Vec<(NodeId, Option<&'a Node>)> {
    nodes
        .iter()
        .map(|(id, n)| (*id, n.map(|d| &d.node)))
        .collect()
}

impl Checker<Deferring> for Unwrapped {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn on_event(&mut self, time_ms: u64, node: NodeId, event: &kv::Event) -> Result<(), String> {
        self.0.on_event(time_ms, node, event)
    }
    fn after_step(
        &mut self,
        time_ms: u64,
        nodes: &[(NodeId, Option<&Deferring>)],
    ) -> Result<(), String> {
        self.0.after_step(time_ms, &inner(nodes))
    }
    fn at_end(
        &mut self,
        time_ms: u64,
        nodes: &[(NodeId, Option<&Deferring>)],
    ) -> Result<(), String> {
        self.0.at_end(time_ms, &inner(nodes))
    }
}

impl Protocol for DeferringRaft {
    type Node = Deferring;
    fn name(&self) -> &'static str {
        "raft-deferring"
    }
    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Deferring {
        Deferring {
            node: self.0.create(id, members, seed),
            out: VecDeque::new(),
        }
    }
    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[Persist]) -> Deferring {
        Deferring {
            node: self.0.restore(id, members, seed, disk),
            out: VecDeque::new(),
        }
    }
    fn workload_interval_ms(&self) -> Option<u64> {
        self.0.workload_interval_ms()
    }
    fn workload(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, kv::Command)> {
        self.0.workload(rng, now_ms, live)
    }
    fn completes(&self, event: &kv::Event) -> bool {
        self.0.completes(event)
    }
    fn checker(&self) -> Box<dyn Checker<Deferring>> {
        Box::new(Unwrapped(self.0.checker()))
    }
    fn describe(&self, event: &kv::Event) -> String {
        self.0.describe(event)
    }

    fn describe_message(&self, message: &raft::Message) -> consensio_sim::MessageLabel {
        self.0.describe_message(message)
    }
}

/// A change to a run's configuration.
type Adjust<'a> = dyn Fn(&mut SimConfig) + 'a;

/// Every node crashes once a second, 300 ms down: `crash` decides how.
fn crash_often(config: &mut SimConfig, crash: fn(u64) -> Fault) {
    config.faults = (1..9)
        .flat_map(|k| {
            let node = k % config.nodes + 1;
            [
                ScheduledFault {
                    at_ms: k * 1_000,
                    fault: crash(node),
                },
                ScheduledFault {
                    at_ms: k * 1_000 + 300,
                    fault: Fault::Restart { node },
                },
            ]
        })
        .collect();
}

#[test]
fn raft_acting_before_its_records_are_durable_is_caught_only_by_the_new_crash_modes() {
    let broken = || DeferringRaft(RaftProtocol::default());
    let plain = |c: &mut SimConfig| crash_often(c, |node| Fault::Crash { node });
    let torn = |c: &mut SimConfig| crash_often(c, |node| Fault::TornCrash { node });
    let torn_lossy = |c: &mut SimConfig| {
        torn(c);
        c.lose_unsynced_writes = true;
    };
    // Between inputs, with every record durable at once, the order of one
    // input's outputs is invisible: the same schedules hold.
    assert_eq!(first_failure(broken, "none", 3, 0..SEEDS, plain), None);
    let modes: [(&str, &Adjust<'_>); 2] = [("torn", &torn), ("torn,unsynced", &torn_lossy)];
    for (name, adjust) in modes {
        let (seed, v) = first_failure(broken, "none", 3, 0..SEEDS, adjust)
            .unwrap_or_else(|| panic!("{name}: acting before persisting must be caught"));
        assert!(v.contains("Raft safety"), "{name}, seed {seed}: {v}");
        // The adapter is the culprit: Raft itself holds on those schedules.
        let correct = || RaftProtocol::default();
        assert_eq!(first_failure(correct, "none", 3, 0..seed + 1, adjust), None);
    }
}

/// Seeds enough for both modes to catch the adapter (the first catches
/// come well before).
const SEEDS: u64 = 200;
