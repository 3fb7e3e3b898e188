//! Detector targets: heartbeat decoding, and one heartbeat or φ-accrual
//! detector under any sequence of inputs.
//!
//! `detector_step` drives a single participant (the input picks the
//! heartbeat or the φ detector, its peers and its parameters) with
//! heartbeats from any claimed sender (peers, non-peers and the node
//! itself; structured, or raw bytes through `handle_message`) carrying
//! incarnations and sequence numbers near the last ones counted, ticks at
//! monotone times, and crash-restarts that rebuild it with
//! `Restore::restore(config, persisted incarnations)` from its `Persist` outputs.
//! After every input it drains the node and checks:
//!
//! - no panic; `NotAPeer` exactly for a sender that is not a peer (this
//!   node included), with the node unchanged and nothing queued; bad bytes
//!   rejected the same way;
//! - bounded output: one input queues at most one heartbeat and one event
//!   per peer, plus one persist record;
//! - the first accepted input of each life persists a new incarnation,
//!   strictly above every earlier one, before any heartbeat; every
//!   heartbeat carries the persisted incarnation, a round goes to each peer
//!   exactly once, and `(incarnation, seq)` strictly increases from round
//!   to round, across restarts too;
//! - heartbeat detector: against a model of each peer's last counted
//!   heartbeat and arrival (only a fresher `(incarnation, seq)` counts),
//!   exactly the state changes the timeouts imply are reported, `state` and
//!   `missed_intervals` agree with the model, and the next deadline is the
//!   next transition or heartbeat round;
//! - φ detector: `Suspected` and `Recovered` alternate per peer, starting
//!   unsuspected, and after a tick a peer is suspected exactly when its φ is
//!   at or above the threshold; φ is never NaN or negative, does not fall
//!   as time passes without heartbeats, and the history never exceeds
//!   `max_sample_size`.

use core::convert::Infallible;
use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use consensio::detector::{
    self, Heartbeat, HeartbeatDetector, PeerState, PhiDetector, heartbeat, phi,
};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore};

use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, round_trip, structured};

/// `detector_decode`: heartbeats decode without panicking, and whatever
/// decodes survives decode → encode → decode unchanged.
pub fn decode(data: &[u8]) {
    round_trip::<Heartbeat>(data);
}

/// Node ids the input draws from: 1 to 6 may be peers, 0 and 7 never are.
const IDS: u8 = 8;

#[derive(Arbitrary, Debug)]
pub struct StepInput {
    kind: Kind,
    /// This node's id is `1 + id % 6`.
    id: u8,
    /// Bit `i` makes node `i + 1` a peer (unless it is this node).
    peers: u8,
    interval_ms: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Heartbeat {
        suspect_after_ms: u8,
        fail_after_extra_ms: u8,
    },
    Phi {
        /// Threshold in tenths, 1 to 256.
        threshold: u8,
        max_sample_size: u8,
        min_std_deviation_ms: u16,
        acceptable_heartbeat_pause_ms: u16,
        first_heartbeat_estimate_ms: u16,
    },
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A heartbeat from `from % 8`, numbered near the last one counted.
    Beat { from: u8, incarnation: u8, seq: u8 },
    /// Raw bytes from `from % 8`, through `handle_message`.
    Bytes { from: u8, bytes: Vec<u8> },
    /// Time passes, then a tick.
    Tick { advance_ms: u16 },
    /// A tick at the node's next deadline (or now, if that has passed).
    TickAtDeadline,
    /// Time passes without a tick.
    Wait { advance_ms: u8 },
    /// Crash and restart from the last persisted incarnation.
    Restart,
}

/// `detector_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: StepInput| {
        let id = NodeId(u64::from(input.id % 6) + 1);
        let peers: Vec<NodeId> = (1..=6u64)
            .filter(|&m| m != id.0 && input.peers & (1 << (m - 1)) != 0)
            .map(NodeId)
            .collect();
        let interval_ms = u64::from(input.interval_ms % 64) + 1;
        match input.kind {
            Kind::Heartbeat {
                suspect_after_ms,
                fail_after_extra_ms,
            } => {
                let suspect_after_ms = u64::from(suspect_after_ms) + 1;
                let config = heartbeat::Config {
                    id,
                    peers: peers.clone(),
                    interval_ms,
                    suspect_after_ms,
                    fail_after_ms: suspect_after_ms + u64::from(fail_after_extra_ms),
                };
                run::<HeartbeatDetector>(config, id, peers, interval_ms, &input.steps);
            }
            Kind::Phi {
                threshold,
                max_sample_size,
                min_std_deviation_ms,
                acceptable_heartbeat_pause_ms,
                first_heartbeat_estimate_ms,
            } => {
                let config = phi::Config {
                    id,
                    peers: peers.clone(),
                    interval_ms,
                    phi: phi::AccrualConfig {
                        threshold: (f64::from(threshold) + 1.0) / 10.0,
                        max_sample_size: usize::from(max_sample_size % 16) + 1,
                        min_std_deviation_ms: u64::from(min_std_deviation_ms % 1000) + 1,
                        acceptable_heartbeat_pause_ms: u64::from(acceptable_heartbeat_pause_ms),
                        first_heartbeat_estimate_ms: u64::from(first_heartbeat_estimate_ms) + 1,
                    },
                };
                run::<PhiDetector>(config, id, peers, interval_ms, &input.steps);
            }
        }
    });
}

/// What the harness needs from each detector, and its model of one.
trait Detector:
    Participant<
        Message = Heartbeat,
        Command = Infallible,
        Persist = u64,
        Event: Clone + PartialEq + core::fmt::Debug,
        Error = detector::Error,
    > + Restore<Config: Clone>
{
    /// The harness's model of what the detector believes.
    type Model;
    fn incarnation(&self) -> u64;
    /// The model of a detector just built.
    fn model(config: &Self::Config) -> Self::Model;
    /// The detector's first accepted input happened at `now`.
    fn started(model: &mut Self::Model, now: Instant);
    /// A heartbeat from `peer` was accepted at `now`: the events it must
    /// queue.
    fn beat(
        model: &mut Self::Model,
        peer: NodeId,
        beat: Heartbeat,
        now: Instant,
    ) -> Vec<Self::Event>;
    /// A tick at `now` was handled; `events` are the events it queued.
    fn ticked(&self, model: &mut Self::Model, now: Instant, events: &[Self::Event]);
    /// What must not change when an input is rejected.
    fn snapshot(&self, now: Instant) -> String;
    /// Checks the detector against the model after its outputs are drained;
    /// `next_round` is when the next heartbeat round is due.
    fn check(&self, model: &Self::Model, now: Instant, next_round: Instant);
}

/// The heartbeat detector's model: per peer, the last counted heartbeat,
/// when it (or the start) arrived, and the state.
struct HeartbeatModel {
    config: heartbeat::Config,
    peers: BTreeMap<NodeId, PeerModel>,
}

/// A peer's last counted `(incarnation, seq)`, when it (or the start)
/// arrived, and its state.
type PeerModel = (Option<(u64, u64)>, Instant, PeerState);

impl Detector for HeartbeatDetector {
    type Model = HeartbeatModel;

    fn incarnation(&self) -> u64 {
        HeartbeatDetector::incarnation(self)
    }

    fn model(config: &heartbeat::Config) -> HeartbeatModel {
        HeartbeatModel {
            config: config.clone(),
            peers: config
                .peers
                .iter()
                .map(|&p| (p, (None, Instant::ZERO, PeerState::Alive)))
                .collect(),
        }
    }

    fn started(model: &mut HeartbeatModel, now: Instant) {
        for peer in model.peers.values_mut() {
            peer.1 = now;
        }
    }

    fn beat(
        model: &mut HeartbeatModel,
        peer: NodeId,
        beat: Heartbeat,
        now: Instant,
    ) -> Vec<heartbeat::Event> {
        let entry = model.peers.get_mut(&peer).expect("a peer");
        let key = (beat.incarnation, beat.seq);
        if entry.0.is_some_and(|last| key <= last) {
            return Vec::new(); // stale, duplicated or reordered
        }
        entry.0 = Some(key);
        entry.1 = now;
        let from = core::mem::replace(&mut entry.2, PeerState::Alive);
        if from == PeerState::Alive {
            Vec::new()
        } else {
            vec![heartbeat::Event::StateChanged {
                peer,
                from,
                to: PeerState::Alive,
            }]
        }
    }

    fn ticked(&self, model: &mut HeartbeatModel, now: Instant, events: &[heartbeat::Event]) {
        let mut expected = Vec::new();
        for (&peer, entry) in &mut model.peers {
            let silence = now.saturating_millis_since(entry.1);
            let to = if silence >= model.config.fail_after_ms {
                PeerState::Failed
            } else if silence >= model.config.suspect_after_ms {
                PeerState::Suspected
            } else {
                entry.2
            };
            if to != entry.2 {
                expected.push(heartbeat::Event::StateChanged {
                    peer,
                    from: entry.2,
                    to,
                });
                entry.2 = to;
            }
        }
        assert_eq!(events, expected.as_slice(), "the state changes of a tick");
    }

    fn snapshot(&self, now: Instant) -> String {
        let states: Vec<_> = self
            .config()
            .peers
            .iter()
            .map(|&p| (self.state(p), self.missed_intervals(p, now)))
            .collect();
        format!(
            "{} {:?} {states:?}",
            self.incarnation(),
            self.next_deadline()
        )
    }

    fn check(&self, model: &HeartbeatModel, now: Instant, next_round: Instant) {
        let interval = model.config.interval_ms;
        let transitions = model.peers.values().filter_map(|&(_, arrival, state)| {
            let after = match state {
                PeerState::Alive => model.config.suspect_after_ms,
                PeerState::Suspected => model.config.fail_after_ms,
                PeerState::Failed => return None,
            };
            Some(arrival.saturating_add_millis(after))
        });
        assert_eq!(
            self.next_deadline(),
            transitions.chain([next_round]).min(),
            "the next transition or round"
        );
        for (&peer, &(_, arrival, state)) in &model.peers {
            assert_eq!(self.state(peer), Some(state), "state of {peer}");
            assert_eq!(
                self.missed_intervals(peer, now),
                Some(now.saturating_millis_since(arrival) / interval)
            );
        }
        for outsider in [NodeId(0), self.id(), NodeId(7)] {
            assert_eq!(self.state(outsider), None);
        }
    }
}

/// The φ detector's model: which peers it reported suspected.
struct PhiModel {
    config: phi::Config,
    suspected: BTreeMap<NodeId, bool>,
}

impl Detector for PhiDetector {
    type Model = PhiModel;

    fn incarnation(&self) -> u64 {
        PhiDetector::incarnation(self)
    }

    fn model(config: &phi::Config) -> PhiModel {
        PhiModel {
            config: config.clone(),
            suspected: config.peers.iter().map(|&p| (p, false)).collect(),
        }
    }

    fn started(_: &mut PhiModel, _: Instant) {}

    fn beat(_: &mut PhiModel, _: NodeId, _: Heartbeat, _: Instant) -> Vec<phi::Event> {
        Vec::new() // φ is only evaluated on ticks
    }

    fn ticked(&self, model: &mut PhiModel, now: Instant, events: &[phi::Event]) {
        for event in events {
            match *event {
                phi::Event::Suspected { peer, phi } => {
                    let was = model.suspected.insert(peer, true).expect("a peer");
                    assert!(!was, "{peer} suspected twice");
                    assert!(phi >= model.config.phi.threshold, "suspected at φ = {phi}");
                }
                phi::Event::Recovered { peer } => {
                    let was = model.suspected.insert(peer, false).expect("a peer");
                    assert!(was, "{peer} recovered without being suspected");
                }
            }
        }
        for (&peer, &suspected) in &model.suspected {
            let phi = self.phi(peer, now).expect("a peer");
            assert_eq!(
                suspected,
                phi >= model.config.phi.threshold,
                "{peer} at φ = {phi}"
            );
        }
    }

    fn snapshot(&self, now: Instant) -> String {
        let peers: Vec<_> = self
            .config()
            .peers
            .iter()
            .map(|&p| {
                let accrual = self.accrual(p).expect("a peer");
                (
                    self.is_suspected(p),
                    accrual.samples(),
                    accrual.phi(now).to_bits(),
                )
            })
            .collect();
        format!(
            "{} {:?} {peers:?}",
            self.incarnation(),
            self.next_deadline()
        )
    }

    fn check(&self, model: &PhiModel, now: Instant, next_round: Instant) {
        assert_eq!(self.next_deadline(), Some(next_round), "the next round");
        for (&peer, &suspected) in &model.suspected {
            assert_eq!(self.is_suspected(peer), Some(suspected));
            let accrual = self.accrual(peer).expect("a peer");
            assert!(accrual.samples() <= model.config.phi.max_sample_size);
            let phi = accrual.phi(now);
            assert!(!phi.is_nan() && phi >= 0.0, "φ = {phi}");
            for later in [1, 100, 10_000, 1 << 40] {
                let then = accrual.phi(now.saturating_add_millis(later));
                assert!(!then.is_nan(), "φ is NaN {later} ms later");
                assert!(
                    then >= phi - 1e-9,
                    "φ fell from {phi} to {then} in {later} ms"
                );
            }
            assert!(!accrual.mean_ms().is_nan() && !accrual.std_deviation_ms().is_nan());
        }
        for outsider in [NodeId(0), self.id(), NodeId(7)] {
            assert!(self.accrual(outsider).is_none());
        }
    }
}

/// One detector for the [`harness`]: its configuration, the model, and
/// what the harness knows of its heartbeat rounds.
struct Detecting<D: Detector> {
    config: D::Config,
    model: D::Model,
    id: NodeId,
    peers: Vec<NodeId>,
    interval_ms: u64,
    /// When this life of the node accepted its first input, and its next
    /// heartbeat round is due; `None` before.
    next_round: Option<Instant>,
    /// The `(incarnation, seq)` of the last heartbeat round sent.
    last_round: Option<(u64, u64)>,
    /// What the input being drained must report.
    expect: Expect<D::Event>,
}

/// What the input being drained must report.
enum Expect<E> {
    /// A heartbeat: exactly these events, and no round.
    Beat(Vec<E>),
    /// A tick: a round exactly when one was due.
    Tick { due: bool },
}

/// The last incarnation in `records` (0: none yet).
fn persisted(records: &[u64]) -> u64 {
    records.last().copied().unwrap_or(0)
}

fn run<D: Detector>(
    config: D::Config,
    id: NodeId,
    peers: Vec<NodeId>,
    interval_ms: u64,
    steps: &[Step],
) {
    let mut family = Detecting::<D> {
        model: D::model(&config),
        config,
        id,
        peers,
        interval_ms,
        next_round: None,
        last_round: None,
        expect: Expect::Tick { due: false },
    };
    harness::run(&mut family, steps, false);
}

impl<D: Detector> Detecting<D> {
    /// Notes the first accepted input of this life at `now`; returns when
    /// the next heartbeat round is due.
    fn start(&mut self, now: Instant) -> Instant {
        *self.next_round.get_or_insert_with(|| {
            D::started(&mut self.model, now);
            now
        })
    }
}

impl<D: Detector> Family for Detecting<D> {
    type Node = D;
    type Snapshot = String;
    const ALWAYS_ARMED: bool = true;

    fn restore(&self, records: &[u64], _: Instant) -> D {
        D::restore(self.config.clone(), records).expect("a valid configuration")
    }

    fn restarted(&mut self, node: &D, records: &[u64]) {
        assert_eq!(node.incarnation(), persisted(records));
        self.model = D::model(&self.config);
        self.next_round = None;
    }

    fn snapshot(&self, node: &D, now: Instant) -> String {
        node.snapshot(now)
    }

    fn max_outputs(&self, _: &D) -> usize {
        2 * self.peers.len() + 1
    }

    fn expected(&self, _: &D, input: &InputOf<Self>, _: bool) -> Expected<Self> {
        Some(match *input {
            Input::Message { from, .. } if !self.peers.contains(&from) => {
                Err(detector::Error::NotAPeer { peer: from })
            }
            _ => Ok(()),
        })
    }

    fn accepted(&mut self, _: &D, now: Instant, input: &InputOf<Self>, _: &String) {
        self.expect = match *input {
            Input::Message { from, message } => {
                self.start(now);
                Expect::Beat(D::beat(&mut self.model, from, message, now))
            }
            Input::Tick => {
                let due = self.start(now) <= now;
                if due {
                    self.next_round = Some(now.saturating_add_millis(self.interval_ms));
                }
                Expect::Tick { due }
            }
            Input::Command(never) => match never {},
        };
    }

    fn output(&mut self, _: &D, records: &[u64], output: &OutputOf<Self>) {
        let persisted = persisted(records);
        match *output {
            Output::Persist(incarnation) => assert!(
                incarnation > persisted,
                "incarnation {incarnation} after {persisted}"
            ),
            Output::Send { to, message } => {
                assert!(to != self.id && self.peers.contains(&to), "a send to {to}");
                assert_eq!(
                    message.incarnation, persisted,
                    "a heartbeat before its incarnation is durable"
                );
            }
            Output::Event(_) => {}
        }
    }

    /// Checks the heartbeat round and the events against the model.
    fn drained(
        &mut self,
        node: &D,
        now: Instant,
        outputs: &[OutputOf<Self>],
        records: &[u64],
        _: Option<&InputOf<Self>>,
    ) {
        let mut events = Vec::new();
        let mut round: Vec<NodeId> = Vec::new();
        let mut round_beat = None;
        for output in outputs {
            match output {
                Output::Persist(_) => {
                    assert!(round_beat.is_none(), "persisted after a heartbeat");
                }
                Output::Send { to, message } => {
                    assert!(!round.contains(to), "two heartbeats to {to} in one input");
                    round.push(*to);
                    match round_beat {
                        None => {
                            let key = (message.incarnation, message.seq);
                            assert!(
                                self.last_round.is_none_or(|last| key > last),
                                "heartbeat {key:?} after {:?}",
                                self.last_round
                            );
                            self.last_round = Some(key);
                            round_beat = Some(*message);
                        }
                        Some(beat) => assert_eq!(*message, beat, "one round, one heartbeat"),
                    }
                }
                Output::Event(event) => events.push(event.clone()),
            }
        }
        if round_beat.is_some() {
            assert_eq!(round.len(), self.peers.len(), "a round missed a peer");
        }
        let persisted = persisted(records);
        assert!(persisted > 0, "an accepted input without an incarnation");
        assert_eq!(node.incarnation(), persisted);
        let next_round = self.next_round.expect("started");
        match core::mem::replace(&mut self.expect, Expect::Tick { due: false }) {
            Expect::Beat(expected) => {
                assert!(round_beat.is_none(), "a heartbeat round without a tick");
                assert_eq!(events, expected, "the events of a heartbeat");
            }
            Expect::Tick { due } => {
                assert_eq!(
                    round_beat.is_some(),
                    due && !self.peers.is_empty(),
                    "a round exactly when one is due"
                );
                node.ticked(&mut self.model, now, &events);
            }
        }
        node.check(&self.model, now, next_round);
    }
}

impl<D: Detector> Generator for Detecting<D> {
    type Step = Step;

    fn action<'s>(&mut self, _: &D, step: &'s Step) -> Action<'s, Heartbeat, Infallible> {
        match *step {
            Step::Beat {
                from,
                incarnation,
                seq,
            } => Action::Message {
                from: harness::claimed(from, IDS),
                message: Heartbeat {
                    incarnation: near(incarnation, 1),
                    seq: near(seq, 1),
                },
            },
            Step::Bytes { from, ref bytes } => Action::bytes(from, IDS, bytes),
            Step::Tick { advance_ms } => Action::tick(advance_ms),
            Step::TickAtDeadline => Action::TickAtDeadline,
            Step::Wait { advance_ms } => Action::Wait {
                advance_ms: u64::from(advance_ms),
            },
            Step::Restart => Action::Restart,
        }
    }
}
