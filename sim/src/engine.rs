//! The simulation engine: a seeded, single-threaded discrete-event loop over
//! any [`Participant`], with a virtual clock per node, a faulty network,
//! crash-restart from persisted state only, a workload, and an invariant
//! checker after every step.
//!
//! # The simulated disk
//!
//! Each node's disk is a synced prefix and an unsynced tail. Acting on an
//! [`Output::Persist`] appends its record to the tail; acting on a later
//! [`Output::Send`] or [`Output::Event`] first syncs the whole disk, as the
//! contract's "durable before acting on any later output" requires (one
//! fsync covers every earlier record, of this input or of earlier ones).
//! Records written since the node last acted on a send or an event are
//! therefore exactly those a host that batches its fsyncs may lose.
//!
//! - With [`SimConfig::lose_unsynced_writes`] off (the default), every
//!   record is durable the moment it is written, and a crash keeps them all.
//! - With it on, a crash loses a random suffix of the unsynced tail (its
//!   length uniform from none to all of it); the synced prefix survives.
//!
//! # Crashes
//!
//! [`Fault::Crash`] stops a node between two inputs, after it acted on all
//! the outputs of the last one. [`Fault::TornCrash`] stops it halfway
//! through acting on the outputs of one input (`n` of them), after the
//! first `k` were acted on, `k` uniform in `0..=n`. The other `n - k` never
//! happen: their messages are not sent, their records not written, their
//! events never reach the application (the checker). With unsynced writes
//! lost, records among the first `k` that no acted-on send or event
//! followed are unsynced like any other.
//!
//! The input torn is the node's first, from the fault's time on, whose
//! outputs write a record; an input whose outputs write none is torn with
//! chance 1/4 instead, so that protocols which rarely write are torn too.
//! A crash does harm, and on a real host is likeliest to happen, while the
//! node writes (the fsync is the slow part): tearing inputs at random
//! would mostly tear heartbeats and find little.
//!
//! The choices of both (`k`, the suffix lost) come from a stream of their
//! own, seeded from the run's seed: with both modes unused, a run draws
//! exactly what it drew before they existed, so old seeds replay.
//!
//! # Leader hunting
//!
//! Random fault times rarely land where protocols are fragile: a leader
//! that has just been elected and not yet committed in its term, or one
//! that has appended an entry that only some followers hold. Raft's
//! Figure 8 bug, for one, needs leaders to fail at exactly those moments
//! several times in a row. With [`SimConfig::hunt_leaders`], the engine
//! watches for them (the protocol says which events mean "I lead",
//! [`Protocol::leads`]; the leader's accepted commands are the appends)
//! and, with a fixed chance each time, strikes the leader within 20 ms:
//! crashes it, tears a crash through its outputs, or (if the run allows
//! partitions) isolates it from everyone, then restarts or heals
//! 20–1,500 ms later. It aims at promises too: a node that has just sent a
//! message binding itself ([`Protocol::promises`]: a vote granted) is
//! crashed within 5 ms and restarted 20–300 ms later, while the election
//! it voted in may still be running. And it aims at requests for a
//! promise ([`Protocol::solicits`]: a vote or pre-vote request): with a
//! fixed chance, one more copy arrives 30–400 ms late, after the answers
//! to later messages on the same link; and once per leader it isolated,
//! at the first such request sent while it is cut off, it heals the links
//! within 30 ms with a fixed chance, so that the old leader comes back in
//! the middle of the election that replaces it. Its choices come
//! from a stream of their own, like the crash modes'.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use consensio::{Input, Instant, NodeId, Output, Participant, Rng, wire};
use serde::{Deserialize, Serialize};

use crate::checker::Checker;
use crate::network::{Fate, Network, NetworkConfig};
use crate::trace::{TraceEvent, TraceKind};

/// The persisted-record type of a protocol's nodes.
pub type PersistOf<P> = <<P as Protocol>::Node as Participant>::Persist;
/// The command type of a protocol's nodes.
pub type CommandOf<P> = <<P as Protocol>::Node as Participant>::Command;
/// The event type of a protocol's nodes.
pub type EventOf<P> = <<P as Protocol>::Node as Participant>::Event;
/// The message type of a protocol's nodes.
pub type MessageOf<P> = <<P as Protocol>::Node as Participant>::Message;

/// How the simulator builds, restarts and loads one protocol.
pub trait Protocol {
    /// The participant type.
    type Node: Participant;

    /// The name used on the command line and in traces.
    fn name(&self) -> &'static str;

    /// A fresh node `id` of a cluster of `members`, with its own `seed`.
    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Self::Node;

    /// Node `id` rebuilt after a crash from exactly the records it persisted,
    /// in order (and its configuration, which is not state).
    fn restore(
        &self,
        id: NodeId,
        members: &[NodeId],
        seed: u64,
        disk: &[PersistOf<Self>],
    ) -> Self::Node;

    /// The client commands due at `now_ms` (called every workload interval);
    /// each goes to the named node if it is up.
    fn workload(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, CommandOf<Self>)> {
        let _ = (rng, now_ms, live);
        Vec::new()
    }

    /// Whether the workload also acts as an operator would (Raft: hands
    /// leadership over now and then); called once, before the run.
    fn operator(&mut self, on: bool) {
        let _ = on;
    }

    /// The protocol's own workload pace, for protocols whose client model
    /// reacts to replies (Raft's key-value clients retry and redirect):
    /// when `Some`, it replaces the configuration's interval, which then
    /// only switches the workload on (nonzero) or off (zero).
    fn workload_interval_ms(&self) -> Option<u64> {
        None
    }

    /// Whether `event` completes the oldest outstanding client command of
    /// the node that emitted it (for the latency figures of the summary).
    fn completes(&self, event: &EventOf<Self>) -> bool {
        let _ = event;
        false
    }

    /// Whether `event` is too frequent to label in diagrams (it is still
    /// in the trace and the summary): Raft's committed entries, say.
    fn is_routine(&self, event: &EventOf<Self>) -> bool {
        let _ = event;
        false
    }

    /// Whether `event`, emitted by `node`, says that `node` now leads (a
    /// Raft leader, an elected coordinator): the moment leader hunting
    /// ([`SimConfig::hunt_leaders`]) aims at, as it aims at the leader's
    /// next accepted commands.
    fn leads(&self, node: NodeId, event: &EventOf<Self>) -> bool {
        let _ = (node, event);
        false
    }

    /// Whether `message` binds its sender to something it must remember
    /// across a crash (a vote granted, a Paxos promise, a 2PC yes vote):
    /// the other moment leader hunting aims at, crashing the sender right
    /// after it sent one, so that a promise acted on before it was durable
    /// is forgotten.
    fn promises(&self, message: &MessageOf<Self>) -> bool {
        let _ = message;
        false
    }

    /// Whether `message` asks its receiver for something binding (a vote
    /// request): leader hunting's third aim delivers one more copy of it
    /// late, so that it reaches its receiver after the answers to later
    /// messages on the same link, once the receiver's term or its view of
    /// the leader has moved on (Raft's leader stickiness is judged then).
    fn solicits(&self, message: &MessageOf<Self>) -> bool {
        let _ = message;
        false
    }

    /// Whether `record` replaces every record before it (a Raft snapshot
    /// record): once it is durable, the simulated disk drops the records
    /// before it, as a host that compacts its storage would, so a restart
    /// reads only what the protocol says it needs.
    fn supersedes(&self, record: &PersistOf<Self>) -> bool {
        let _ = record;
        false
    }

    /// The protocol's invariant checker.
    fn checker(&self) -> Box<dyn Checker<Self::Node>>;

    /// A short description of an event, for traces and diagrams, in the
    /// protocol's own words (never Rust's `Debug` text).
    fn describe(&self, event: &EventOf<Self>) -> String;

    /// What a message is, for traces and diagrams: its kind
    /// (`AppendEntries`), a one-line summary in the protocol's own words
    /// (`AppendEntries t3 idx 7..9 commit 6`), and whether it is routine
    /// traffic (heartbeats and their replies) that a diagram may fold.
    fn describe_message(&self, message: &MessageOf<Self>) -> MessageLabel;

    /// What a reader of a trace needs of a node's state (its role, term or
    /// epoch, commit index), if the protocol has roles; the trace records
    /// each change ([`TraceKind::State`]) and the diagram draws the role as
    /// a band along the node's lane.
    fn state(&self, node: &Self::Node) -> Option<NodeState> {
        let _ = node;
        None
    }
}

/// A node's state as a trace reports it ([`Protocol::state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NodeState {
    /// `leader`, `candidate`, `follower`, ... in the protocol's words.
    pub role: &'static str,
    /// The term, epoch or view.
    pub term: u64,
    /// The commit index, where the protocol has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<u64>,
}

/// How a trace names a message ([`Protocol::describe_message`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageLabel {
    /// The message's kind: the name of its type's variant.
    pub kind: &'static str,
    /// One line in the protocol's words, starting with the kind.
    pub summary: String,
    /// Heartbeats and their replies: what a diagram folds.
    pub routine: bool,
}

impl MessageLabel {
    /// A label of `kind` with `summary`, not routine.
    #[must_use]
    pub fn new(kind: &'static str, summary: String) -> Self {
        MessageLabel {
            kind,
            summary,
            routine: false,
        }
    }

    /// A routine message (heartbeat traffic) of `kind` with `summary`.
    #[must_use]
    pub fn routine(kind: &'static str, summary: String) -> Self {
        MessageLabel {
            kind,
            summary,
            routine: true,
        }
    }
}

/// A fault injected at a point in simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Cut every link between different groups (unlisted nodes form one
    /// more group).
    Partition {
        /// The groups of node ids.
        groups: Vec<Vec<u64>>,
    },
    /// Cut the links from `from` to `to` only.
    OneWay {
        /// Senders that can no longer reach `to`.
        from: Vec<u64>,
        /// Receivers.
        to: Vec<u64>,
    },
    /// Restore every link.
    Heal,
    /// Crash a node between two inputs: its volatile state is lost; what
    /// it persisted stays (but see [`SimConfig::lose_unsynced_writes`]).
    Crash {
        /// The node.
        node: u64,
    },
    /// Crash a node halfway through acting on the outputs of one input:
    /// at its first input from now on whose outputs write a record (or, by
    /// chance, at one that has outputs but writes none), after a random
    /// number `k` of its `n` outputs (`0..=n`) were acted on; the rest are
    /// never acted on (see the [module docs](self)). A node still up when
    /// its next [`Fault::Restart`] is due crashes then, between inputs, and
    /// restarts in the next step.
    TornCrash {
        /// The node.
        node: u64,
    },
    /// Restart a crashed node from what it persisted.
    Restart {
        /// The node.
        node: u64,
    },
}

/// A fault and when it happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// Simulated time, ms.
    pub at_ms: u64,
    /// The fault.
    #[serde(flatten)]
    pub fault: Fault,
}

/// Everything that defines a run; the same config replays the same run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// The seed of every random choice.
    pub seed: u64,
    /// Number of nodes, with ids 1..=nodes.
    pub nodes: u64,
    /// How long to run, simulated ms.
    pub duration_ms: u64,
    /// The network.
    pub network: NetworkConfig,
    /// Each node's clock starts up to this far ahead of real time, ms.
    pub clock_offset_max_ms: u64,
    /// Each node's clock runs up to this many parts per million fast or slow.
    pub clock_drift_max_ppm: u64,
    /// Faults at fixed times.
    pub faults: Vec<ScheduledFault>,
    /// A crash loses a random suffix of the node's unsynced records (those
    /// written since it last acted on a send or an event), as on a host
    /// that batches its fsyncs; off, every record is durable at once. See
    /// the [module docs](self).
    pub lose_unsynced_writes: bool,
    /// Call the workload every this many ms (0: no workload).
    pub workload_interval_ms: u64,
    /// Leader hunting: up to this many disruptions aimed at a leader at
    /// its fragile moments, right after it reports that it leads
    /// ([`Protocol::leads`]) or accepts a client command (0: none). Each
    /// crashes it, tears a crash through its outputs, or (with
    /// [`hunt_isolates`](Self::hunt_isolates)) isolates it, within 20 ms,
    /// and brings it back (or heals) 20–1,500 ms later; all within the
    /// first 60% of the run, recovered by 70%. See the [module docs](self).
    pub hunt_leaders: u64,
    /// Leader hunting may isolate the leader, not only crash it (off for
    /// protocols whose model has no partitions).
    pub hunt_isolates: bool,
    /// The workload includes the operator's actions too (Raft: leadership
    /// transfers; see [`Protocol::operator`]). On in random checks, off in
    /// scenarios unless they ask.
    pub operator: bool,
    /// Keep the whole trace (for JSON and SVG output); off for benchmarks.
    pub record_trace: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            nodes: 5,
            duration_ms: 10_000,
            network: NetworkConfig::default(),
            clock_offset_max_ms: 0,
            clock_drift_max_ppm: 0,
            faults: Vec::new(),
            lose_unsynced_writes: false,
            workload_interval_ms: 0,
            hunt_leaders: 0,
            hunt_isolates: false,
            operator: false,
            record_trace: false,
        }
    }
}

/// An invariant violation, with what is needed to understand and replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The seed of the run.
    pub seed: u64,
    /// The step at which the checker failed.
    pub step: u64,
    /// Simulated time, ms.
    pub time_ms: u64,
    /// The checker's name.
    pub checker: &'static str,
    /// What was violated.
    pub message: String,
    /// The last trace events before the violation.
    pub excerpt: Vec<TraceEvent>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "invariant violated: {} — {}\n  seed {}, step {}, at {} ms\n  last events:",
            self.checker, self.message, self.seed, self.step, self.time_ms
        )?;
        for e in &self.excerpt {
            writeln!(f, "    {}", e.to_json())?;
        }
        Ok(())
    }
}

/// Counters of a finished run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Protocol name.
    pub protocol: String,
    /// The seed.
    pub seed: u64,
    /// Steps executed.
    pub steps: u64,
    /// Simulated time reached, ms.
    pub time_ms: u64,
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages delivered to a live node.
    pub delivered: u64,
    /// Messages lost to random loss.
    pub dropped_loss: u64,
    /// Messages blocked by a partition.
    pub dropped_partition: u64,
    /// Messages that arrived at a crashed node.
    pub dropped_crashed: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Client commands given to live nodes, and how many were refused.
    pub commands: u64,
    /// Client commands the node refused with an error.
    pub commands_refused: u64,
    /// Client commands completed, and their latency percentiles (ms).
    pub completed: u64,
    /// Median latency of completed commands, ms.
    pub latency_p50_ms: Option<u64>,
    /// 99th-percentile latency of completed commands, ms.
    pub latency_p99_ms: Option<u64>,
    /// Crashes and restarts.
    pub crashes: u64,
    /// Restarts from persisted state.
    pub restarts: u64,
    /// Crashes that happened halfway through an input's outputs (counted
    /// in `crashes` too).
    pub torn_crashes: u64,
    /// Outputs never acted on because of torn crashes.
    pub outputs_dropped: u64,
    /// Disruptions leader hunting aimed ([`SimConfig::hunt_leaders`]).
    pub hunts: u64,
    /// Records that were unsynced when their node crashed, over all
    /// crashes (always 0 unless unsynced writes can be lost).
    pub records_unsynced: u64,
    /// Unsynced records lost in crashes.
    pub records_lost: u64,
    /// The most records a restart read (after the disk dropped the
    /// records a durable superseding record replaced).
    pub max_restart_records: u64,
    /// Protocol events, by kind.
    pub events: BTreeMap<String, u64>,
    /// The checker's own measurements.
    pub measurements: Vec<(String, String)>,
    /// The violation, if any.
    pub violation: Option<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} seed {}: {} steps, {} ms simulated",
            self.protocol, self.seed, self.steps, self.time_ms
        )?;
        writeln!(
            f,
            "  messages: {} sent, {} delivered, {} lost, {} cut by partitions, {} to crashed nodes, {} duplicated",
            self.sent,
            self.delivered,
            self.dropped_loss,
            self.dropped_partition,
            self.dropped_crashed,
            self.duplicated
        )?;
        writeln!(
            f,
            "  faults: {} crashes, {} restarts; commands: {} ({} refused, {} completed)",
            self.crashes, self.restarts, self.commands, self.commands_refused, self.completed
        )?;
        if self.hunts > 0 {
            writeln!(f, "  leader hunting: {} disruptions", self.hunts)?;
        }
        if self.torn_crashes > 0 || self.records_unsynced > 0 {
            writeln!(
                f,
                "  crash modes: {} torn crashes ({} outputs never acted on); {} records unsynced at crashes, {} lost",
                self.torn_crashes, self.outputs_dropped, self.records_unsynced, self.records_lost
            )?;
        }
        if self.restarts > 0 {
            writeln!(
                f,
                "  restarts read at most {} records",
                self.max_restart_records
            )?;
        }
        if let (Some(p50), Some(p99)) = (self.latency_p50_ms, self.latency_p99_ms) {
            writeln!(f, "  client latency: p50 {p50} ms, p99 {p99} ms")?;
        }
        let events: Vec<String> = self
            .events
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(f, "  events: {}", events.join(", "))?;
        for (name, value) in &self.measurements {
            writeln!(f, "  {name}: {value}")?;
        }
        match &self.violation {
            None => writeln!(f, "  invariants: held"),
            Some(v) => writeln!(f, "  invariants: VIOLATED ({v})"),
        }
    }
}

/// A node's view of time: an offset and a drift against simulated time.
#[derive(Clone, Copy, Debug)]
struct NodeClock {
    offset_ms: u64,
    drift_ppm: i64,
}

impl NodeClock {
    fn local(self, sim_ms: u64) -> u64 {
        let drift = i128::from(sim_ms) * i128::from(self.drift_ppm) / 1_000_000;
        let t = i128::from(sim_ms) + i128::from(self.offset_ms) + drift;
        u64::try_from(t.max(0)).unwrap_or(u64::MAX)
    }

    /// The first simulated time at which the local clock reads `deadline`.
    fn sim_time_of(self, deadline: u64, not_before: u64) -> u64 {
        let rate = 1.0 + self.drift_ppm as f64 / 1e6;
        let estimate = (deadline.saturating_sub(self.offset_ms) as f64 / rate) as u64;
        let mut t = estimate.saturating_sub(2).max(not_before);
        while self.local(t) < deadline && t < u64::MAX {
            t += 1;
        }
        t
    }
}

struct Slot<N: Participant> {
    id: NodeId,
    node: Option<N>,
    disk: Vec<N::Persist>,
    /// The first `synced` records of `disk` are durable whatever happens;
    /// the others were written after the node last acted on a send or an
    /// event.
    synced: usize,
    /// The first `scanned` synced records were already looked at for one
    /// that supersedes the rest ([`Protocol::supersedes`]).
    scanned: usize,
    /// A [`Fault::TornCrash`] waits for this node's next input with outputs.
    torn_pending: bool,
    seed: u64,
    clock: NodeClock,
    /// Bumped on every (re)scheduling and crash, so stale timers are ignored.
    timer_generation: u64,
}

enum Pending {
    Deliver {
        from: NodeId,
        to: usize,
        frame: Vec<u8>,
        msg: u64,
        /// Its kind and summary, as the sender's trace named it.
        label: (&'static str, String),
        sent_ms: u64,
    },
    Timer {
        to: usize,
        generation: u64,
    },
    Fault(usize),
    Workload,
}

struct Scheduled {
    at_ms: u64,
    seq: u64,
    what: Pending,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so the max-heap pops the earliest (then first-scheduled).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ms, other.seq).cmp(&(self.at_ms, self.seq))
    }
}

/// Every node and its state (`None` while crashed), for checkers.
fn views<N: Participant>(slots: &[Slot<N>]) -> Vec<(NodeId, Option<&N>)> {
    slots.iter().map(|s| (s.id, s.node.as_ref())).collect()
}

/// How many trace events a violation report shows.
const EXCERPT: usize = 24;

/// The chance that a pending torn crash tears an input whose outputs write
/// no record; one that writes is always torn (see the module docs).
const TORN_WITHOUT_WRITES: f64 = 0.25;

/// Mixed into the seed of the stream of torn crashes and lost writes.
const CRASH_STREAM: u64 = 0xd15c_0000_7042_0000;

/// Mixed into the seed of leader hunting's stream.
const HUNT_STREAM: u64 = 0x4a47_0000_1ead_0000;

/// The chance that leader hunting strikes a node that just reported it
/// leads, one that just accepted a command as the leader, and one that
/// just sent a promise ([`Protocol::promises`]).
const HUNT_ELECTED: f64 = 0.5;
const HUNT_COMMAND: f64 = 0.05;
const HUNT_PROMISE: f64 = 0.1;
/// The chance that a request for a promise ([`Protocol::solicits`]) gets a
/// late copy.
const HUNT_SOLICIT: f64 = 0.25;
/// The chance that a leader hunting isolated comes back as soon as an
/// election to replace it starts.
const HUNT_HEAL: f64 = 0.5;

/// A simulation of one protocol under one configuration.
pub struct Simulation<P: Protocol> {
    protocol: P,
    config: SimConfig,
    members: Vec<NodeId>,
    slots: Vec<Slot<P::Node>>,
    network: Network,
    rng: Rng,
    /// The choices of torn crashes and lost writes, apart from `rng` so that
    /// runs that use neither draw what they always drew.
    crash_rng: Rng,
    /// Leader hunting's choices, apart for the same reason.
    hunt_rng: Rng,
    /// Disruptions leader hunting may still aim.
    hunts_left: u64,
    /// Leader hunting isolated a leader and has not yet decided whether
    /// the election that follows heals it at once.
    hunt_cut: bool,
    /// The node that last reported it leads, while it is up.
    leader: Option<NodeId>,
    /// Each node's state as last recorded in the trace.
    states: BTreeMap<NodeId, NodeState>,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    next_msg: u64,
    now_ms: u64,
    checker: Box<dyn Checker<P::Node>>,
    summary: Summary,
    trace: Vec<TraceEvent>,
    recent: VecDeque<TraceEvent>,
    violation: Option<Violation>,
    /// Issue times of each node's accepted, not yet completed commands.
    outstanding: BTreeMap<NodeId, VecDeque<u64>>,
    latencies: Vec<u64>,
}

impl<P: Protocol> Simulation<P> {
    /// Sets up the nodes, their clocks, the fault schedule and the workload.
    pub fn new(mut protocol: P, config: SimConfig) -> Self {
        protocol.operator(config.operator);
        let mut rng = Rng::seed_from_u64(config.seed);
        let members: Vec<NodeId> = (1..=config.nodes).map(NodeId).collect();
        let mut slots = Vec::with_capacity(members.len());
        for &id in &members {
            let seed = rng.next_u64();
            let drift_span = config.clock_drift_max_ppm.min(999_999);
            let drift_ppm = i64::try_from(rng.between(0, 2 * drift_span)).unwrap_or(0)
                - i64::try_from(drift_span).unwrap_or(0);
            let clock = NodeClock {
                offset_ms: rng.between(0, config.clock_offset_max_ms),
                drift_ppm,
            };
            slots.push(Slot {
                id,
                node: Some(protocol.create(id, &members, seed)),
                disk: Vec::new(),
                synced: 0,
                scanned: 0,
                torn_pending: false,
                seed,
                clock,
                timer_generation: 0,
            });
        }
        let checker = protocol.checker();
        let summary = Summary {
            protocol: protocol.name().to_string(),
            seed: config.seed,
            ..Summary::default()
        };
        let mut sim = Simulation {
            network: Network::new(config.network.clone()),
            protocol,
            members,
            slots,
            rng,
            crash_rng: Rng::seed_from_u64(config.seed ^ CRASH_STREAM),
            hunt_rng: Rng::seed_from_u64(config.seed ^ HUNT_STREAM),
            hunts_left: config.hunt_leaders,
            hunt_cut: false,
            leader: None,
            states: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            next_msg: 0,
            now_ms: 0,
            checker,
            summary,
            trace: Vec::new(),
            recent: VecDeque::with_capacity(EXCERPT),
            violation: None,
            outstanding: BTreeMap::new(),
            latencies: Vec::new(),
            config,
        };
        for i in 0..sim.config.faults.len() {
            let at = sim.config.faults.get(i).map_or(0, |f| f.at_ms);
            sim.schedule(at, Pending::Fault(i));
        }
        if sim.config.workload_interval_ms > 0 {
            if let Some(interval) = sim.protocol.workload_interval_ms() {
                sim.config.workload_interval_ms = interval.max(1);
            }
            sim.schedule(sim.config.workload_interval_ms, Pending::Workload);
        }
        for i in 0..sim.slots.len() {
            sim.start(i);
        }
        sim
    }

    /// Runs until the configured duration, the queue empties, or a
    /// violation; returns the violation, if any.
    pub fn run(&mut self) -> Option<Violation> {
        while self.violation.is_none() && self.step() {}
        if self.violation.is_none() {
            let now = self.now_ms;
            let result = {
                let nodes = views(&self.slots);
                self.checker.at_end(now, &nodes)
            };
            if let Err(message) = result {
                self.fail(message);
            }
        }
        self.summary.measurements = self.checker.report();
        self.latencies.sort_unstable();
        let pick = |q: usize| {
            let n = self.latencies.len();
            (n > 0).then(|| self.latencies.get((n - 1) * q / 100).copied().unwrap_or(0))
        };
        self.summary.completed = self.latencies.len() as u64;
        self.summary.latency_p50_ms = pick(50);
        self.summary.latency_p99_ms = pick(99);
        self.violation.clone()
    }

    /// Executes the next scheduled thing; `false` when the run is over.
    pub fn step(&mut self) -> bool {
        let Some(next) = self.queue.pop() else {
            return false;
        };
        if next.at_ms > self.config.duration_ms {
            return false;
        }
        self.now_ms = next.at_ms;
        self.summary.steps += 1;
        self.summary.time_ms = self.now_ms;
        match next.what {
            Pending::Deliver {
                from,
                to,
                frame,
                msg,
                label,
                sent_ms,
            } => self.deliver(from, to, &frame, (msg, label), sent_ms),
            Pending::Timer { to, generation } => self.fire_timer(to, generation),
            Pending::Fault(i) => self.inject(i),
            Pending::Workload => self.workload(),
        }
        if self.violation.is_none() {
            let now = self.now_ms;
            let result = {
                let nodes = views(&self.slots);
                self.checker.after_step(now, &nodes)
            };
            if let Err(message) = result {
                self.fail(message);
            }
        }
        self.violation.is_none()
    }

    /// The counters so far.
    #[must_use]
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The whole trace (empty unless `record_trace`).
    #[must_use]
    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace
    }

    /// The node ids.
    #[must_use]
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// Node `id`, if it is up.
    #[must_use]
    pub fn node(&self, id: NodeId) -> Option<&P::Node> {
        self.slots.iter().find(|s| s.id == id)?.node.as_ref()
    }

    /// Simulated time, ms.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn schedule(&mut self, at_ms: u64, what: Pending) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at_ms,
            seq: self.seq,
            what,
        });
    }

    fn record(&mut self, node: NodeId, kind: TraceKind) {
        let event = TraceEvent {
            time_ms: self.now_ms,
            node: node.0,
            kind,
        };
        if self.recent.len() == EXCERPT {
            self.recent.pop_front();
        }
        self.recent.push_back(event.clone());
        if self.config.record_trace {
            self.trace.push(event);
        }
    }

    fn fail(&mut self, message: String) {
        self.summary.violation = Some(message.clone());
        let excerpt = self.recent.iter().cloned().collect();
        let checker = self.checker.name();
        // The trace ends with it, where it happened (not in the excerpt).
        if self.config.record_trace {
            self.trace.push(TraceEvent {
                time_ms: self.now_ms,
                node: 0,
                kind: TraceKind::Violation {
                    checker: checker.to_string(),
                    message: message.clone(),
                },
            });
        }
        self.violation = Some(Violation {
            seed: self.config.seed,
            step: self.summary.steps,
            time_ms: self.now_ms,
            checker,
            message,
            excerpt,
        });
    }

    fn local_now(&self, i: usize) -> Instant {
        let clock = self.slots.get(i).map_or(
            NodeClock {
                offset_ms: 0,
                drift_ppm: 0,
            },
            |s| s.clock,
        );
        Instant::from_millis(clock.local(self.now_ms))
    }

    /// Feeds one input to node `i` (if up), then drains it.
    fn input(
        &mut self,
        i: usize,
        input: Input<<P::Node as Participant>::Message, CommandOf<P>>,
    ) -> Result<(), String> {
        let now = self.local_now(i);
        let Some(node) = self.slots.get_mut(i).and_then(|s| s.node.as_mut()) else {
            return Ok(());
        };
        let result = node.handle_input(now, input).map_err(|e| e.to_string());
        self.drain(i);
        self.arm_timer(i);
        self.record_state(i);
        result
    }

    /// Records node `i`'s state if it changed since the last record.
    fn record_state(&mut self, i: usize) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let id = slot.id;
        let state = slot.node.as_ref().and_then(|n| self.protocol.state(n));
        let Some(state) = state else {
            return;
        };
        if self.states.get(&id) == Some(&state) {
            return;
        }
        self.states.insert(id, state);
        self.record(
            id,
            TraceKind::State {
                role: state.role.to_string(),
                term: state.term,
                commit: state.commit,
            },
        );
    }

    /// Delivers message `msg` (numbered, with its kind and summary) to
    /// node `to`.
    fn deliver(
        &mut self,
        from: NodeId,
        to: usize,
        frame: &[u8],
        (msg, (kind, summary)): (u64, (&'static str, String)),
        sent_ms: u64,
    ) {
        let Some(slot) = self.slots.get(to) else {
            return;
        };
        let id = slot.id;
        if slot.node.is_none() {
            self.summary.dropped_crashed += 1;
            self.record(id, TraceKind::DeliverToCrashed { from: from.0, msg });
            return;
        }
        if !self.network.connected(from, id) {
            // Cut while in flight.
            self.summary.dropped_partition += 1;
            return;
        }
        self.summary.delivered += 1;
        // Every frame goes through the real decoder: an encoding bug is a
        // violation, as is a participant rejecting a well-formed frame.
        let message = match wire::decode(frame) {
            Ok(m) => m,
            Err(e) => {
                self.fail(format!(
                    "n{} could not decode a frame from n{}: {e}",
                    id.0, from.0
                ));
                return;
            }
        };
        self.record(
            id,
            TraceKind::Deliver {
                from: from.0,
                msg,
                message: kind.to_string(),
                summary,
                sent_ms,
            },
        );
        if let Err(e) = self.input(to, Input::Message { from, message }) {
            self.fail(format!(
                "n{} rejected a message from n{}: {e}",
                id.0, from.0
            ));
        }
    }

    fn fire_timer(&mut self, to: usize, generation: u64) {
        let current = self
            .slots
            .get(to)
            .is_some_and(|s| s.timer_generation == generation && s.node.is_some());
        if current && let Err(e) = self.input(to, Input::Tick) {
            self.fail(format!("tick failed: {e}"));
        }
    }

    fn workload(&mut self) {
        let live: Vec<NodeId> = self
            .slots
            .iter()
            .filter(|s| s.node.is_some())
            .map(|s| s.id)
            .collect();
        let commands = self.protocol.workload(&mut self.rng, self.now_ms, &live);
        for (id, command) in commands {
            let Some(i) = self
                .slots
                .iter()
                .position(|s| s.id == id && s.node.is_some())
            else {
                continue;
            };
            self.summary.commands += 1;
            // Registered first: the command may complete within its own input.
            self.outstanding
                .entry(id)
                .or_default()
                .push_back(self.now_ms);
            let accepted = self.input(i, Input::Command(command)).is_ok();
            if accepted && self.leader == Some(id) {
                self.hunt(id, HUNT_COMMAND);
            }
            if !accepted {
                self.summary.commands_refused += 1;
                if let Some(q) = self.outstanding.get_mut(&id) {
                    q.pop_back();
                }
            }
            self.record(
                id,
                TraceKind::Command {
                    what: "command".into(),
                    accepted,
                },
            );
        }
        let next = self.now_ms + self.config.workload_interval_ms;
        self.schedule(next, Pending::Workload);
    }

    fn inject(&mut self, index: usize) {
        let Some(fault) = self.config.faults.get(index).map(|f| f.fault.clone()) else {
            return;
        };
        self.checker.on_fault(self.now_ms, &fault);
        let ids = |v: &[u64]| v.iter().copied().map(NodeId).collect::<Vec<_>>();
        match fault {
            Fault::Partition { groups } => {
                let what = groups
                    .iter()
                    .map(|g| {
                        g.iter()
                            .map(|n| format!("n{n}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join(" | ");
                let groups: Vec<Vec<NodeId>> = groups.iter().map(|g| ids(g)).collect();
                self.network.partition(&self.members, &groups);
                self.record(NodeId(0), TraceKind::Partition { what });
            }
            Fault::OneWay { from, to } => {
                self.network.cut_one_way(&ids(&from), &ids(&to));
                let names = |v: &[u64]| {
                    v.iter()
                        .map(|n| format!("n{n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                self.record(
                    NodeId(0),
                    TraceKind::Partition {
                        what: format!("{} cannot reach {}", names(&from), names(&to)),
                    },
                );
            }
            Fault::Heal => {
                self.hunt_cut = false;
                self.network.heal();
                self.record(NodeId(0), TraceKind::Heal);
            }
            Fault::Crash { node } => {
                if let Some(i) = self.live_slot(node) {
                    self.crash(i, None);
                }
            }
            Fault::TornCrash { node } => {
                if let Some(slot) = self.live_slot(node).and_then(|i| self.slots.get_mut(i)) {
                    slot.torn_pending = true;
                }
            }
            Fault::Restart { node } => {
                // A torn crash that found no input to tear: down now, and
                // back in a step of its own, so that checkers see it down.
                if let Some(i) = self.live_slot(node)
                    && self.slots.get(i).is_some_and(|s| s.torn_pending)
                {
                    self.crash(i, None);
                    self.schedule(self.now_ms, Pending::Fault(index));
                    return;
                }
                let Some(i) = self
                    .slots
                    .iter()
                    .position(|s| s.id.0 == node && s.node.is_none())
                else {
                    return;
                };
                if let Some(slot) = self.slots.get_mut(i) {
                    let restored =
                        self.protocol
                            .restore(slot.id, &self.members, slot.seed, &slot.disk);
                    slot.node = Some(restored);
                    let read = slot.disk.len() as u64;
                    self.summary.max_restart_records = self.summary.max_restart_records.max(read);
                }
                self.summary.restarts += 1;
                self.record(NodeId(node), TraceKind::Restart);
                self.start(i);
            }
        }
    }

    /// Leader hunting: with `chance`, and while the budget and the fault
    /// window last, strikes `target` within 20 ms and brings it back
    /// 20–1,500 ms later.
    fn hunt(&mut self, target: NodeId, chance: f64) {
        if !self.take_hunt(chance) {
            return;
        }
        let node = target.0;
        let kinds = if self.config.hunt_isolates { 3 } else { 2 };
        let (strike, recover) = match self.hunt_rng.below(kinds) {
            0 => (Fault::Crash { node }, Fault::Restart { node }),
            1 => (Fault::TornCrash { node }, Fault::Restart { node }),
            _ => {
                self.hunt_cut = true;
                (
                    Fault::Partition {
                        groups: vec![vec![node]],
                    },
                    Fault::Heal,
                )
            }
        };
        let at = self.now_ms + self.hunt_rng.between(0, 20);
        let back = (at + self.hunt_rng.between(20, 1_500)).min(self.config.duration_ms * 7 / 10);
        self.add_fault(at, strike);
        self.add_fault(back, recover);
    }

    /// Leader hunting's other aim: with [`HUNT_PROMISE`], crashes `sender`
    /// between inputs within 5 ms of sending a promise and restarts it
    /// 20–300 ms later, soon enough to be asked again in the same election
    /// or round.
    fn hunt_promise(&mut self, sender: NodeId) {
        if !self.take_hunt(HUNT_PROMISE) {
            return;
        }
        let node = sender.0;
        let at = self.now_ms + self.hunt_rng.between(0, 5);
        let back = at + self.hunt_rng.between(20, 300);
        self.add_fault(at, Fault::Crash { node });
        self.add_fault(back, Fault::Restart { node });
    }

    /// Leader hunting's third aim: with [`HUNT_SOLICIT`], while hunting is
    /// on and in its fault window, one more copy of a request for a promise,
    /// 30–400 ms after the first. It spends no budget: a copy crashes
    /// nothing.
    fn late_copy(&mut self, delays: &mut Vec<u64>) {
        let window_end = self.config.duration_ms * 6 / 10;
        if self.config.hunt_leaders == 0
            || self.now_ms >= window_end
            || !self.hunt_rng.chance(HUNT_SOLICIT)
        {
            return;
        }
        let first = delays.first().copied().unwrap_or(0);
        delays.push(first + self.hunt_rng.between(30, 400));
    }

    /// Once per leader that hunting isolated, at the first request for a
    /// promise sent while it is cut off (an election to replace it starts):
    /// with [`HUNT_HEAL`], the links heal within 30 ms, so the old leader
    /// comes back in the middle of that election. Partitions of the
    /// schedule are left alone.
    fn heal_mid_election(&mut self) {
        if !std::mem::take(&mut self.hunt_cut)
            || !self.network.is_cut()
            || !self.hunt_rng.chance(HUNT_HEAL)
        {
            return;
        }
        let at = self.now_ms + self.hunt_rng.between(0, 30);
        self.add_fault(at, Fault::Heal);
    }

    /// Whether leader hunting strikes now: while its budget and the fault
    /// window (the first 60% of the run) last, with `chance`. A strike is
    /// counted and spends the budget.
    fn take_hunt(&mut self, chance: f64) -> bool {
        let window_end = self.config.duration_ms * 6 / 10;
        if self.hunts_left == 0 || self.now_ms >= window_end || !self.hunt_rng.chance(chance) {
            return false;
        }
        self.hunts_left -= 1;
        self.summary.hunts += 1;
        true
    }

    /// Schedules one more fault, as if the configuration had listed it.
    fn add_fault(&mut self, at_ms: u64, fault: Fault) {
        let index = self.config.faults.len();
        self.config.faults.push(ScheduledFault { at_ms, fault });
        self.schedule(at_ms, Pending::Fault(index));
    }

    /// Starts node `i` (new or restarted) with a first tick at its current
    /// time, so that it can arm its timers and announce itself.
    fn start(&mut self, i: usize) {
        if let Err(e) = self.input(i, Input::Tick) {
            self.fail(format!("the first tick failed: {e}"));
        }
    }

    /// The index of node `node`, if it is up.
    fn live_slot(&self, node: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.id.0 == node && s.node.is_some())
    }

    /// Crashes node `i`: its volatile state is lost, and with
    /// `lose_unsynced_writes` a random suffix of its unsynced records.
    /// `torn` is (outputs acted on, outputs dropped) of a torn crash.
    fn crash(&mut self, i: usize, torn: Option<(u64, u64)>) {
        let lose = self.config.lose_unsynced_writes;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let id = slot.id;
        slot.node = None;
        slot.timer_generation += 1;
        if self.leader == Some(id) {
            self.leader = None;
        }
        self.states.remove(&id);
        slot.torn_pending = false;
        let unsynced = slot.disk.len().saturating_sub(slot.synced);
        let lost = if lose {
            let lost = usize::try_from(self.crash_rng.between(0, unsynced as u64)).unwrap_or(0);
            slot.disk.truncate(slot.disk.len() - lost.min(unsynced));
            self.summary.records_unsynced += unsynced as u64;
            self.summary.records_lost += lost as u64;
            Some(lost as u64)
        } else {
            None
        };
        // What survived is on the disk for good.
        slot.synced = slot.disk.len();
        self.compact_disk(i);
        self.summary.crashes += 1;
        if let Some((_, dropped)) = torn {
            self.summary.torn_crashes += 1;
            self.summary.outputs_dropped += dropped;
        }
        self.outstanding.remove(&id);
        self.record(
            id,
            TraceKind::Crash {
                outputs_acted: torn.map(|(acted, _)| acted),
                outputs_dropped: torn.map(|(_, dropped)| dropped),
                records_lost: lost,
            },
        );
    }

    /// Takes every queued output of node `i`, in order, and acts on each;
    /// or, with a torn crash pending and outputs queued, acts on a random
    /// prefix of them and crashes.
    fn drain(&mut self, i: usize) {
        if self.slots.get(i).is_some_and(|s| s.torn_pending) {
            self.drain_torn(i);
            return;
        }
        loop {
            let Some(output) = self
                .slots
                .get_mut(i)
                .and_then(|s| s.node.as_mut())
                .and_then(Participant::poll_output)
            else {
                return;
            };
            self.act(i, output);
        }
    }

    fn drain_torn(&mut self, i: usize) {
        let Some(node) = self.slots.get_mut(i).and_then(|s| s.node.as_mut()) else {
            return;
        };
        let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
        let writes = outputs.iter().any(|o| matches!(o, Output::Persist(_)));
        if outputs.is_empty() || (!writes && !self.crash_rng.chance(TORN_WITHOUT_WRITES)) {
            // Not this input; the crash waits for a later one.
            for output in outputs {
                self.act(i, output);
            }
            return;
        }
        let n = outputs.len() as u64;
        let acted = self.crash_rng.between(0, n);
        for output in outputs
            .into_iter()
            .take(usize::try_from(acted).unwrap_or(usize::MAX))
        {
            self.act(i, output);
        }
        self.crash(i, Some((acted, n - acted)));
    }

    /// Makes every record node `i` has written durable: before it acts on
    /// a send or an event.
    fn sync(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            slot.synced = slot.disk.len();
        }
        self.compact_disk(i);
    }

    /// Drops the records of node `i` that a durable superseding record
    /// ([`Protocol::supersedes`]) replaced.
    fn compact_disk(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        // Only the records synced since the last look: a disk that never
        // compacts is not scanned again on every send.
        let fresh = slot.disk.get(slot.scanned..slot.synced).unwrap_or_default();
        let last = fresh
            .iter()
            .rposition(|r| self.protocol.supersedes(r))
            .map(|k| slot.scanned + k);
        slot.scanned = slot.synced;
        if let Some(last) = last.filter(|&last| last > 0) {
            slot.disk.drain(..last);
            slot.synced -= last;
            slot.scanned = slot.synced;
        }
    }

    /// Acts on one output of node `i`.
    fn act(&mut self, i: usize, output: Output<MessageOf<P>, PersistOf<P>, EventOf<P>>) {
        let Some(id) = self.slots.get(i).map(|s| s.id) else {
            return;
        };
        match output {
            Output::Send { to, message } => {
                self.sync(i);
                self.send(id, to, &message);
            }
            Output::Persist(record) => {
                let lose = self.config.lose_unsynced_writes;
                if let Some(slot) = self.slots.get_mut(i) {
                    slot.disk.push(record);
                    if !lose {
                        // Durable at once: the disk never loses a write.
                        slot.synced = slot.disk.len();
                    }
                }
                if !lose {
                    self.compact_disk(i);
                }
                self.record(id, TraceKind::Persist);
            }
            Output::Event(event) => {
                self.sync(i);
                if self.protocol.completes(&event)
                    && let Some(issued) =
                        self.outstanding.get_mut(&id).and_then(VecDeque::pop_front)
                {
                    self.latencies.push(self.now_ms - issued);
                }
                let what = self.protocol.describe(&event);
                let kind = what
                    .split(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or("event");
                *self.summary.events.entry(kind.to_string()).or_insert(0) += 1;
                let routine = self.protocol.is_routine(&event);
                self.record(id, TraceKind::Event { what, routine });
                if self.protocol.leads(id, &event) {
                    self.leader = Some(id);
                    self.hunt(id, HUNT_ELECTED);
                }
                if self.violation.is_none()
                    && let Err(message) = self.checker.on_event(self.now_ms, id, &event)
                {
                    self.fail(message);
                }
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: &<P::Node as Participant>::Message) {
        if self.protocol.promises(message) {
            self.hunt_promise(from);
        }
        let frame = match wire::encode_to_vec(message) {
            Ok(f) => f,
            Err(e) => {
                self.fail(format!("n{} could not encode a message: {e}", from.0));
                return;
            }
        };
        let msg = self.next_msg;
        self.next_msg += 1;
        self.summary.sent += 1;
        let Some(target) = self.slots.iter().position(|s| s.id == to) else {
            self.fail(format!(
                "n{} sent to n{}, which is not a member",
                from.0, to.0
            ));
            return;
        };
        let mut fate = self.network.route(&mut self.rng, from, to, self.now_ms);
        if self.protocol.solicits(message) {
            if let Fate::Deliver(delays) = &mut fate {
                self.late_copy(delays);
            }
            self.heal_mid_election();
        }
        let (arrives_ms, dropped) = match &fate {
            Fate::Deliver(delays) => (delays.first().map(|d| self.now_ms + d), None),
            Fate::Lost => (None, Some("lost")),
            Fate::Partitioned => (None, Some("partition")),
        };
        // Described whether or not the trace is kept: the violation's
        // excerpt must read the same in a check and in its replay.
        let label = self.protocol.describe_message(message);
        let kind = label.kind;
        let summary = label.summary;
        self.record(
            from,
            TraceKind::Send {
                to: to.0,
                msg,
                message: kind.to_string(),
                summary: summary.clone(),
                routine: label.routine,
                bytes: frame.len(),
                arrives_ms,
                dropped,
            },
        );
        match fate {
            Fate::Lost => self.summary.dropped_loss += 1,
            Fate::Partitioned => self.summary.dropped_partition += 1,
            Fate::Deliver(delays) => {
                self.summary.duplicated += delays.len().saturating_sub(1) as u64;
                let sent_ms = self.now_ms;
                let mut frame = Some(frame);
                let copies = delays.len();
                for (k, delay) in delays.into_iter().enumerate() {
                    // The last copy takes the frame; earlier ones clone it.
                    let bytes = if k + 1 == copies {
                        frame.take().unwrap_or_default()
                    } else {
                        frame.clone().unwrap_or_default()
                    };
                    self.schedule(
                        sent_ms + delay,
                        Pending::Deliver {
                            from,
                            to: target,
                            frame: bytes,
                            msg,
                            label: (kind, summary.clone()),
                            sent_ms,
                        },
                    );
                }
            }
        }
    }

    /// Schedules node `i`'s next tick at its requested deadline.
    fn arm_timer(&mut self, i: usize) {
        let now = self.now_ms;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        slot.timer_generation += 1;
        let generation = slot.timer_generation;
        let Some(deadline) = slot.node.as_ref().and_then(Participant::next_deadline) else {
            return;
        };
        let at = slot.clock.sim_time_of(deadline.as_millis(), now);
        self.schedule(at, Pending::Timer { to: i, generation });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_clocks_map_deadlines_back_to_simulated_time() {
        for (offset_ms, drift_ppm) in [(0, 0), (250, 0), (7, 20_000), (0, -30_000), (999, 999)] {
            let clock = NodeClock {
                offset_ms,
                drift_ppm,
            };
            for deadline in [0u64, 1, 500, 12_345, 1_000_000] {
                let t = clock.sim_time_of(deadline, 0);
                assert!(clock.local(t) >= deadline);
                assert!(
                    t == 0 || clock.local(t - 1) < deadline,
                    "{offset_ms} {drift_ppm} {deadline}"
                );
            }
        }
    }
}
