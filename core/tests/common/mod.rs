//! A small discrete-event network for property tests of participants:
//! bounded random delay (so messages reorder), duplication, loss,
//! partitions, and crash-restart, where a crashed node is dropped and rebuilt
//! from exactly the records it persisted. Every message goes through the
//! real wire encoding and `handle_message`.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use consensio::{Input, Instant, NodeId, Output, Participant, Rng, wire};

/// Network faults, as probabilities per message, and the delay bound.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    pub loss: f64,
    pub duplicate: f64,
    /// One-way delay is uniform in `1..=max_delay_ms` (so messages reorder).
    pub max_delay_ms: u64,
}

/// No loss, no duplication, delay at most 50 ms: the synchronous model the
/// default timeouts assume.
pub const SYNCHRONOUS: Faults = Faults {
    loss: 0.0,
    duplicate: 0.0,
    max_delay_ms: 50,
};

/// A crash of `node` (an index) at `at_ms`, restarted `down_ms` later.
#[derive(Clone, Copy, Debug)]
pub struct Crash {
    pub node: usize,
    pub at_ms: u64,
    pub down_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Deliver {
        from: NodeId,
        to: usize,
        frame: Vec<u8>,
    },
    Crash(usize),
    Restart(usize),
}

/// Rebuilds node `id` of `members` from the records it persisted.
pub type Restore<P> = fn(NodeId, &[NodeId], &[<P as Participant>::Persist]) -> P;

pub struct Net<P: Participant> {
    pub members: Vec<NodeId>,
    pub nodes: Vec<Option<P>>,
    pub disks: Vec<Vec<P::Persist>>,
    restore: Restore<P>,
    /// Whether the fault injector may crash node `i` now (a crash it
    /// declines is skipped, and so is its restart).
    pub may_crash: fn(&Net<P>, usize) -> bool,
    /// Pending happenings by (time, sequence number).
    queue: BTreeMap<(u64, u64), Happening>,
    seq: u64,
    pub now: u64,
    rng: Rng,
    pub faults: Faults,
    /// Node groups that cannot reach each other (empty: no partition).
    pub partition: Vec<BTreeSet<usize>>,
    /// Every event: (time, node, event).
    pub events: Vec<(u64, NodeId, P::Event)>,
    /// Messages sent (lost ones included), by variant name.
    pub sent: BTreeMap<String, usize>,
}

impl<P: Participant> Net<P>
where
    P::Message: Debug,
    P::Persist: Clone,
    P::Error: Debug,
{
    /// Nodes 1..=n, each built from an empty disk.
    pub fn new(n: u64, faults: Faults, seed: u64, restore: Restore<P>) -> Self {
        let members: Vec<NodeId> = (1..=n).map(NodeId).collect();
        let nodes = members
            .iter()
            .map(|&id| Some(restore(id, &members, &[])))
            .collect();
        Net {
            nodes,
            disks: vec![Vec::new(); members.len()],
            members,
            restore,
            may_crash: |_, _| true,
            queue: BTreeMap::new(),
            seq: 0,
            now: 0,
            rng: Rng::seed_from_u64(seed),
            faults,
            partition: Vec::new(),
            events: Vec::new(),
            sent: BTreeMap::new(),
        }
    }

    fn schedule(&mut self, at: u64, what: Happening) {
        self.seq += 1;
        self.queue.insert((at, self.seq), what);
    }

    pub fn crash(&mut self, crash: Crash) {
        self.schedule(crash.at_ms, Happening::Crash(crash.node));
        self.schedule(crash.at_ms + crash.down_ms, Happening::Restart(crash.node));
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.partition
            .iter()
            .all(|group| group.contains(&a) == group.contains(&b))
    }

    /// Feeds node `i` a tick, or a frame from `from`, and takes its outputs.
    fn step(&mut self, i: usize, frame: Option<(NodeId, &[u8])>) {
        let now = Instant::from_millis(self.now);
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        match frame {
            Some((from, bytes)) => node.handle_message(now, from, bytes).unwrap(),
            None => node.handle_input(now, Input::Tick).unwrap(),
        }
        let id = node.id();
        while let Some(output) = self.nodes[i].as_mut().unwrap().poll_output() {
            match output {
                Output::Send { to, message } => {
                    let name = format!("{message:?}");
                    let name = name.split([' ', '{', '(']).next().unwrap().to_string();
                    *self.sent.entry(name).or_default() += 1;
                    let frame = wire::encode_to_vec(&message).unwrap();
                    let to = self.members.binary_search(&to).unwrap();
                    if !self.reachable(i, to) || self.rng.chance(self.faults.loss) {
                        continue;
                    }
                    let copies = if self.rng.chance(self.faults.duplicate) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        let at = self.now + self.rng.between(1, self.faults.max_delay_ms);
                        let frame = frame.clone();
                        self.schedule(
                            at,
                            Happening::Deliver {
                                from: id,
                                to,
                                frame,
                            },
                        );
                    }
                }
                Output::Persist(record) => self.disks[i].push(record),
                Output::Event(event) => self.events.push((self.now, id, event)),
            }
        }
    }

    /// Runs until simulated time `until_ms`.
    pub fn run_until(&mut self, until_ms: u64) {
        loop {
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| Some((n.as_ref()?.next_deadline()?.as_millis(), i)))
                .min();
            let next = self.queue.first_key_value().map(|(&(t, _), _)| t);
            let at = match (timer, next) {
                (Some((t, _)), Some(q)) => t.min(q),
                (Some((t, _)), None) => t,
                (None, Some(q)) => q,
                (None, None) => break,
            };
            if at > until_ms {
                break;
            }
            self.now = self.now.max(at);
            if next == Some(at) {
                let (_, what) = self.queue.pop_first().unwrap();
                match what {
                    Happening::Deliver { from, to, frame } => self.step(to, Some((from, &frame))),
                    Happening::Crash(i) => {
                        if (self.may_crash)(self, i) {
                            self.nodes[i] = None;
                        }
                    }
                    Happening::Restart(i) => {
                        if self.nodes[i].is_none() {
                            let node =
                                (self.restore)(self.members[i], &self.members, &self.disks[i]);
                            self.nodes[i] = Some(node);
                        }
                    }
                }
            } else if let Some((_, i)) = timer {
                self.step(i, None);
            }
        }
        self.now = until_ms;
    }

    pub fn live(&self) -> impl Iterator<Item = &P> {
        self.nodes.iter().flatten()
    }
}
