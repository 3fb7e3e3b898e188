//! Multi-Paxos in the simulator: a cluster of [`PaxosNode`]s, clients that
//! propose unique values to the node they believe leads, and one checker:
//!
//! - **agreement**: at most one value is chosen per slot, across every
//!   node and every life of each, ever;
//! - **validity**: a chosen value was proposed, or is the no-op (empty);
//! - **in order, once**: a node reports slots 1, 2, 3, … each once per
//!   life (a restarted node starts again from slot 1);
//! - **one proposer per ballot**: a node leads only under a ballot that
//!   names it.
//!
//! The clients propose [`PROPOSALS_PER_TICK`] values every
//! [`CLIENT_TICK_MS`]
//! to the node that last announced its leadership (a random live node
//! before any did, or when that one is down); a proposal a follower
//! refuses is simply lost, as a client that gives up would lose it.
//! Values are never retried, so a value chosen twice is a bug too
//! (**no duplicates**): the node proposes each value once, and phase 1
//! re-proposes a value only at the slot it was accepted at.
//!
//! Single-decree Paxos ([`SingleDecree`]) runs as `paxos-single`: at a
//! random moment of the first [`SINGLE_START_MS`] every live node is given
//! a value to propose, so they duel, and until one is chosen a random
//! node is given one more now and then; the
//! [`SingleChecker`] holds **agreement** (one value, ever, across every
//! node and life), **validity**, **once per life**, and **liveness**: if
//! proposals were made and the faults stopped [`QUIET_MS`] before the end,
//! a value is chosen. `paxos-single-no-backoff` is the same with proposers
//! that retry at once after a preemption (`backoff_base_ms` 0), the
//! textbook proposer: the `paxos-duel-*` scenarios set the two side by
//! side.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use consensio::paxos::{
    self, Ballot, Event, KvNode, Message, PaxosNode, Persist, ReadMarker, Role, SingleDecree, kv,
    single,
};
use consensio::raft::{self as raft_kv, KvEntry, KvLimits};
use consensio::{NodeId, Restore, Rng, wire};

use super::Entry;
use super::raft::{CLIENT_TICK_MS as KV_CLIENT_TICK_MS, Clients, describe_reply};
use crate::checker::Checker;
use crate::engine::{MessageLabel, NodeState, Protocol};
use crate::linearizability;

/// The family's entries in the [registry](super).
pub const PROTOCOLS: &[Entry] = &[
    Entry {
        name: "paxos",
        family: "paxos",
        description: "Multi-Paxos: agreement, validity and in-order learning of proposed values",
        run: |config| super::run(PaxosProtocol::default(), config),
    },
    Entry {
        name: "paxos-kv",
        family: "paxos",
        description: "Multi-Paxos with the key-value store: agreement, in-order learning, and linearizable clients",
        run: |config| super::run(PaxosKvProtocol::default(), config),
    },
    Entry {
        name: "paxos-single",
        family: "paxos",
        description: "single-decree Paxos, duelling proposers with backoff: one value, ever, and it is chosen",
        run: |config| super::run(SingleProtocol::new(true), config),
    },
    Entry {
        name: "paxos-single-no-backoff",
        family: "paxos",
        description: "single-decree Paxos whose preempted proposers retry at once (the textbook's): may livelock",
        run: |config| super::run(SingleProtocol::new(false), config),
    },
];

/// The report's name for when a slot was last chosen, ms.
pub const LAST_CHOSEN: &str = "last slot chosen, ms";

/// The clients act this often, ms.
pub const CLIENT_TICK_MS: u64 = 25;

/// Values the clients propose per workload tick.
pub const PROPOSALS_PER_TICK: u64 = 2;

/// What the clients and the checker share: who leads, and every value
/// proposed.
#[derive(Debug, Default)]
struct Shared {
    leader: Option<NodeId>,
    proposed: BTreeSet<Vec<u8>>,
    next: u64,
}

/// Multi-Paxos with the library's default timings.
#[derive(Debug, Default)]
pub struct PaxosProtocol {
    shared: Rc<RefCell<Shared>>,
}

impl Protocol for PaxosProtocol {
    type Node = PaxosNode;

    fn name(&self) -> &'static str {
        "paxos"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> PaxosNode {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[Persist]) -> PaxosNode {
        PaxosNode::restore(config(id, members, seed), disk)
            .unwrap_or_else(|e| panic!("paxos restore: {e}"))
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        _now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, paxos::Command)> {
        let mut shared = self.shared.borrow_mut();
        let to = match shared.leader {
            Some(l) if live.contains(&l) => l,
            _ => match live.get(rng.below(live.len().max(1) as u64) as usize) {
                Some(&n) => n,
                None => return Vec::new(),
            },
        };
        (0..PROPOSALS_PER_TICK)
            .map(|_| {
                shared.next += 1;
                let value = format!("v{}", shared.next).into_bytes();
                shared.proposed.insert(value.clone());
                (to, paxos::Command::Propose(value))
            })
            .collect()
    }

    fn workload_interval_ms(&self) -> Option<u64> {
        Some(CLIENT_TICK_MS)
    }

    fn completes(&self, event: &Event) -> bool {
        matches!(event, Event::Chosen { value, .. } if !value.is_empty())
    }

    fn is_routine(&self, event: &Event) -> bool {
        matches!(event, Event::Chosen { .. })
    }

    fn leads(&self, _node: NodeId, event: &Event) -> bool {
        matches!(event, Event::Adopted { .. })
    }

    fn promises(&self, message: &Message) -> bool {
        matches!(message, Message::Promise { .. } | Message::Accepted { .. })
    }

    fn checker(&self) -> Box<dyn Checker<PaxosNode>> {
        Box::new(PaxosChecker::new(Rc::clone(&self.shared), None))
    }

    fn describe(&self, event: &Event) -> String {
        describe_event(event)
    }

    fn describe_message(&self, message: &Message) -> MessageLabel {
        describe_message(message)
    }

    fn state(&self, node: &PaxosNode) -> Option<NodeState> {
        Some(state(node))
    }
}

/// The node's role, the round it promised, and its chosen prefix.
fn state(node: &PaxosNode) -> NodeState {
    {
        let role = match node.role() {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        NodeState {
            role,
            term: node.promised().round,
            commit: Some(node.first_unchosen() - 1),
        }
    }
}

/// The library's defaults, with small pages and window, so paging and the
/// window are exercised.
fn config(id: NodeId, members: &[NodeId], seed: u64) -> paxos::Config {
    let mut config = paxos::Config::new(id, members);
    config.seed = seed;
    config.max_batch = 8;
    config.window = 32;
    config
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Chosen { slot, value } if value.is_empty() => format!("chosen slot {slot}: no-op"),
        Event::Chosen { slot, value } => match wire::decode::<KvEntry>(value) {
            Ok(_) => format!("chosen slot {slot}: a store entry"),
            Err(_) if wire::decode::<ReadMarker>(value).is_ok() => {
                format!("chosen slot {slot}: a read marker")
            }
            Err(_) => format!("chosen slot {slot}: {}", String::from_utf8_lossy(value)),
        },
        Event::Adopted { ballot } => format!("leads under ballot {ballot}"),
        Event::Snapshot { upto } => format!("restored from a snapshot through slot {upto}"),
        Event::SteppedDown { ballot } => format!("stepped down (ballot {ballot})"),
    }
}

/// `paxos-kv` nodes snapshot their store every `SNAPSHOT_EVERY` to
/// `SNAPSHOT_EVERY + SNAPSHOT_SPREAD` applied slots (from the node's
/// seed), so checks compact, and restart from snapshot records.
pub const SNAPSHOT_EVERY: u64 = 20;
/// See [`SNAPSHOT_EVERY`].
pub const SNAPSHOT_SPREAD: u64 = 100;

/// Multi-Paxos with the key-value store, driven by Raft's clients
/// (sessions, retries with the same sequence number, reads and
/// compare-and-sets on a few contended keys); no operator.
#[derive(Debug, Default)]
pub struct PaxosKvProtocol {
    shared: Rc<RefCell<Shared>>,
    clients: Rc<RefCell<Clients>>,
}

impl Protocol for PaxosKvProtocol {
    type Node = KvNode;

    fn name(&self) -> &'static str {
        "paxos-kv"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> KvNode {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[Persist]) -> KvNode {
        let mut node = KvNode::restore((config(id, members, seed), KvLimits::default()), disk)
            .unwrap_or_else(|e| panic!("paxos-kv restore: {e}"));
        node.set_snapshot_interval(SNAPSHOT_EVERY + seed % SNAPSHOT_SPREAD);
        node
    }

    fn supersedes(&self, record: &Persist) -> bool {
        matches!(record, Persist::Snapshot { .. })
    }

    fn workload_interval_ms(&self) -> Option<u64> {
        Some(KV_CLIENT_TICK_MS)
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, kv::Command)> {
        let commands = self.clients.borrow_mut().act(rng, now_ms, live);
        commands
            .into_iter()
            .filter_map(|(to, command)| {
                let command = match command {
                    raft_kv::kv::Command::OpenSession { id } => kv::Command::OpenSession { id },
                    raft_kv::kv::Command::Write {
                        id,
                        client,
                        seq,
                        op,
                    } => kv::Command::Write {
                        id,
                        client,
                        seq,
                        op,
                    },
                    // Reads go through the log: lease or not, linearizable.
                    raft_kv::kv::Command::Get { id, key, .. } => kv::Command::Get { id, key },
                    // The operator is Raft's alone.
                    _ => return None,
                };
                Some((to, command))
            })
            .collect()
    }

    fn completes(&self, event: &kv::Event) -> bool {
        matches!(event, kv::Event::Reply { .. })
    }

    fn is_routine(&self, event: &kv::Event) -> bool {
        matches!(event, kv::Event::Paxos(Event::Chosen { .. }))
    }

    fn leads(&self, _node: NodeId, event: &kv::Event) -> bool {
        matches!(event, kv::Event::Paxos(Event::Adopted { .. }))
    }

    fn promises(&self, message: &Message) -> bool {
        matches!(message, Message::Promise { .. } | Message::Accepted { .. })
    }

    fn checker(&self) -> Box<dyn Checker<KvNode>> {
        Box::new(PaxosChecker::new(
            Rc::clone(&self.shared),
            Some(Rc::clone(&self.clients)),
        ))
    }

    fn describe(&self, event: &kv::Event) -> String {
        match event {
            kv::Event::Paxos(event) => describe_event(event),
            kv::Event::Reply { id, result } => describe_reply(*id, result),
        }
    }

    fn describe_message(&self, message: &Message) -> MessageLabel {
        describe_message(message)
    }

    fn state(&self, node: &KvNode) -> Option<NodeState> {
        Some(state(node.paxos()))
    }
}

fn describe_message(message: &Message) -> MessageLabel {
    let slots = |first: u64, n: usize| match n {
        0 => "no slots".to_owned(),
        1 => format!("slot {first}"),
        n => format!("slots {first}..{}", first + n as u64 - 1),
    };
    match message {
        Message::Probe { round } => MessageLabel::new("Probe", format!("Probe round {round}")),
        Message::ProbeReply { round, granted } => MessageLabel::new(
            "ProbeReply",
            format!(
                "ProbeReply round {round} {}",
                if *granted { "yes" } else { "no" }
            ),
        ),
        Message::Prepare { ballot, from } => {
            MessageLabel::new("Prepare", format!("Prepare b{ballot} from slot {from}"))
        }
        Message::Promise {
            ballot,
            reports,
            next,
            ..
        } => MessageLabel::new(
            "Promise",
            format!(
                "Promise b{ballot} {} accepted{}",
                reports.len(),
                if next.is_some() { ", more" } else { "" }
            ),
        ),
        Message::Accept {
            ballot,
            first,
            values,
            commit,
            applied,
        } => MessageLabel::new(
            "Accept",
            format!(
                "Accept b{ballot} {} commit {commit} applied {applied}",
                slots(*first, values.len())
            ),
        ),
        Message::Accepted {
            ballot,
            first,
            count,
            applied,
        } => MessageLabel::new(
            "Accepted",
            format!(
                "Accepted b{ballot} {} applied {applied}",
                slots(*first, *count as usize)
            ),
        ),
        Message::Nack { ballot, promised } => {
            MessageLabel::new("Nack", format!("Nack b{ballot}: promised b{promised}"))
        }
        Message::Heartbeat {
            ballot,
            commit,
            applied,
        } => MessageLabel::routine(
            "Heartbeat",
            format!("Heartbeat b{ballot} commit {commit} applied {applied}"),
        ),
        Message::HeartbeatAck { ballot, applied } => MessageLabel::routine(
            "HeartbeatAck",
            format!("HeartbeatAck b{ballot} applied {applied}"),
        ),
        Message::CatchUp { from } => {
            MessageLabel::new("CatchUp", format!("CatchUp from slot {from}"))
        }
        Message::Chosen { first, values } => {
            MessageLabel::new("Chosen", format!("Chosen {}", slots(*first, values.len())))
        }
    }
}

/// The checker of the [module docs](self), for `paxos` and `paxos-kv`.
#[derive(Debug)]
pub struct PaxosChecker {
    shared: Rc<RefCell<Shared>>,
    /// `paxos-kv`: the clients, whose history must be linearizable. Their
    /// retried writes may be chosen twice (the sessions apply them once),
    /// so no-duplicates is not checked, and validity means a store entry,
    /// a read marker or a no-op.
    kv: Option<Rc<RefCell<Clients>>>,
    chosen: BTreeMap<u64, Vec<u8>>,
    /// Slot of each chosen value, for the no-duplicates check.
    slot_of: BTreeMap<Vec<u8>, u64>,
    last: BTreeMap<NodeId, u64>,
    restarted: BTreeSet<NodeId>,
    leaders: BTreeSet<Ballot>,
    no_ops: u64,
    /// When a slot was last chosen (first reported anywhere), ms.
    last_chosen_ms: u64,
    /// Restarts that began from a snapshot.
    snapshot_restores: u64,
}

impl PaxosChecker {
    fn new(shared: Rc<RefCell<Shared>>, kv: Option<Rc<RefCell<Clients>>>) -> Self {
        PaxosChecker {
            shared,
            kv,
            chosen: BTreeMap::new(),
            slot_of: BTreeMap::new(),
            last: BTreeMap::new(),
            restarted: BTreeSet::new(),
            leaders: BTreeSet::new(),
            no_ops: 0,
            last_chosen_ms: 0,
            snapshot_restores: 0,
        }
    }

    /// Whether `value` could have been proposed.
    fn valid(&self, value: &[u8]) -> bool {
        value.is_empty()
            || if self.kv.is_some() {
                wire::decode::<KvEntry>(value).is_ok() || wire::decode::<ReadMarker>(value).is_ok()
            } else {
                self.shared.borrow().proposed.contains(value)
            }
    }

    fn on_paxos(&mut self, time_ms: u64, node: NodeId, event: &Event) -> Result<(), String> {
        match event {
            Event::Adopted { ballot } => {
                if ballot.node != node {
                    return Err(format!(
                        "{node} leads under ballot {ballot}, which names another node"
                    ));
                }
                if !self.leaders.insert(*ballot) {
                    return Err(format!("{node} led under ballot {ballot} twice"));
                }
                self.shared.borrow_mut().leader = Some(node);
            }
            Event::Snapshot { upto } => {
                // A restart from a snapshot: Chosen goes on after it.
                if !self.restarted.remove(&node) {
                    return Err(format!(
                        "{node} reported a snapshot restore without a restart"
                    ));
                }
                self.last.insert(node, *upto);
                self.snapshot_restores += 1;
            }
            Event::SteppedDown { .. } => {
                let mut shared = self.shared.borrow_mut();
                if shared.leader == Some(node) {
                    shared.leader = None;
                }
            }
            Event::Chosen { slot, value } => {
                let prev = self.last.get(&node).copied().unwrap_or(0);
                let fresh = self.restarted.remove(&node);
                let expected = if fresh { 1 } else { prev + 1 };
                if *slot != expected {
                    return Err(format!(
                        "{node} reported slot {slot} chosen after slot {prev}{}",
                        if fresh {
                            " (restarted: expected slot 1)"
                        } else {
                            ""
                        }
                    ));
                }
                self.last.insert(node, *slot);
                if !self.valid(value) {
                    return Err(format!(
                        "validity: {node} chose {:?} at slot {slot}, which nobody proposed",
                        String::from_utf8_lossy(value)
                    ));
                }
                match self.chosen.get(slot) {
                    Some(v) if v != value => {
                        return Err(format!(
                            "agreement: {node} chose {:?} at slot {slot}, where {:?} was chosen",
                            String::from_utf8_lossy(value),
                            String::from_utf8_lossy(v)
                        ));
                    }
                    Some(_) => {}
                    None => {
                        if value.is_empty() {
                            self.no_ops += 1;
                        } else if self.kv.is_none()
                            && let Some(other) = self.slot_of.insert(value.clone(), *slot)
                        {
                            return Err(format!(
                                "no duplicates: {:?}, proposed once, was chosen at slots {other} and {slot}",
                                String::from_utf8_lossy(value)
                            ));
                        }
                        self.chosen.insert(*slot, value.clone());
                        self.last_chosen_ms = time_ms;
                    }
                }
            }
        }
        Ok(())
    }

    /// Nodes down at this step start again from slot 1.
    fn note_down<N>(&mut self, nodes: &[(NodeId, Option<&N>)]) {
        for (id, node) in nodes {
            if node.is_none() {
                self.restarted.insert(*id);
            }
        }
    }

    fn measurements(&self) -> Vec<(String, String)> {
        let mut report = vec![
            ("slots chosen".into(), self.chosen.len().to_string()),
            ("no-ops chosen".into(), self.no_ops.to_string()),
            ("leaderships".into(), self.leaders.len().to_string()),
            (LAST_CHOSEN.into(), self.last_chosen_ms.to_string()),
            (
                "restarts from a snapshot".into(),
                self.snapshot_restores.to_string(),
            ),
        ];
        match &self.kv {
            None => report.push((
                "values proposed".into(),
                self.shared.borrow().proposed.len().to_string(),
            )),
            Some(clients) => {
                let clients = clients.borrow();
                let completed = clients.completions_ms.len();
                let unknown = clients.history().len() - completed;
                report.push(("client operations completed".into(), completed.to_string()));
                report.push((
                    "client operations with unknown outcome".into(),
                    unknown.to_string(),
                ));
                report.push(("client resends".into(), clients.resends.to_string()));
                report.push((
                    "sessions opened".into(),
                    clients.sessions_opened.to_string(),
                ));
            }
        }
        report
    }
}

impl Checker<PaxosNode> for PaxosChecker {
    fn name(&self) -> &'static str {
        "Multi-Paxos agreement, validity and in-order learning"
    }

    fn on_event(&mut self, time_ms: u64, node: NodeId, event: &Event) -> Result<(), String> {
        self.on_paxos(time_ms, node, event)
    }

    fn after_step(
        &mut self,
        _time_ms: u64,
        nodes: &[(NodeId, Option<&PaxosNode>)],
    ) -> Result<(), String> {
        self.note_down(nodes);
        Ok(())
    }

    fn report(&self) -> Vec<(String, String)> {
        self.measurements()
    }
}

impl Checker<KvNode> for PaxosChecker {
    fn name(&self) -> &'static str {
        "Multi-Paxos agreement, validity and in-order learning, and linearizability"
    }

    fn on_event(&mut self, time_ms: u64, node: NodeId, event: &kv::Event) -> Result<(), String> {
        match event {
            kv::Event::Paxos(event) => self.on_paxos(time_ms, node, event),
            kv::Event::Reply { id, result } => {
                let Some(clients) = &self.kv else {
                    return Ok(());
                };
                let mut clients = clients.borrow_mut();
                clients.on_reply(time_ms, node, *id, result);
                match &clients.error {
                    Some(e) => Err(format!("client saw a wrong reply: {e}")),
                    None => Ok(()),
                }
            }
        }
    }

    fn after_step(
        &mut self,
        _time_ms: u64,
        nodes: &[(NodeId, Option<&KvNode>)],
    ) -> Result<(), String> {
        self.note_down(nodes);
        Ok(())
    }

    fn at_end(
        &mut self,
        _time_ms: u64,
        _nodes: &[(NodeId, Option<&KvNode>)],
    ) -> Result<(), String> {
        let Some(clients) = &self.kv else {
            return Ok(());
        };
        let history = clients.borrow().history();
        linearizability::check(&history).map_err(|e| format!("linearizability: {e}"))
    }

    fn report(&self) -> Vec<(String, String)> {
        self.measurements()
    }
}

/// Faults must have stopped this long before the end of a run for
/// `paxos-single`'s liveness check to apply, ms.
pub const QUIET_MS: u64 = 2_500;

/// `paxos-single`'s clients start proposing at a random moment before
/// this, ms.
pub const SINGLE_START_MS: u64 = 6_000;

/// What the clients and the single-decree checker share: every value
/// proposed, and whether one is chosen.
#[derive(Debug, Default)]
struct SingleShared {
    start_ms: Option<u64>,
    proposed: BTreeSet<Vec<u8>>,
    first_proposal_ms: Option<u64>,
    decided: bool,
}

/// Single-decree Paxos with the library's defaults, or with proposers
/// that retry at once after a preemption.
#[derive(Debug)]
pub struct SingleProtocol {
    shared: Rc<RefCell<SingleShared>>,
    backoff: bool,
}

impl SingleProtocol {
    /// With the default backoff, or (`false`) none.
    #[must_use]
    pub fn new(backoff: bool) -> Self {
        SingleProtocol {
            shared: Rc::default(),
            backoff,
        }
    }

    fn config(&self, id: NodeId, members: &[NodeId], seed: u64) -> single::Config {
        let mut config = single::Config::new(id, members);
        config.seed = seed;
        if !self.backoff {
            config.backoff_base_ms = 0;
            config.backoff_max_ms = 0;
        }
        config
    }
}

impl Protocol for SingleProtocol {
    type Node = SingleDecree;

    fn name(&self) -> &'static str {
        if self.backoff {
            "paxos-single"
        } else {
            "paxos-single-no-backoff"
        }
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> SingleDecree {
        self.restore(id, members, seed, &[])
    }

    fn restore(
        &self,
        id: NodeId,
        members: &[NodeId],
        seed: u64,
        disk: &[single::Persist],
    ) -> SingleDecree {
        SingleDecree::restore(self.config(id, members, seed), disk)
            .unwrap_or_else(|e| panic!("paxos-single restore: {e}"))
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, single::Command)> {
        let mut shared = self.shared.borrow_mut();
        // The clients start at a random moment of the first
        // [`SINGLE_START_MS`], so the faults (which stop by 70% of a
        // run) strike during the decree, not after it.
        let start = *shared
            .start_ms
            .get_or_insert_with(|| rng.below(SINGLE_START_MS));
        if shared.decided || now_ms < start {
            return Vec::new();
        }
        // At the start every live node proposes (they duel); then now
        // and then one more (a restarted node's proposal died with it).
        let to: Vec<NodeId> = if shared.first_proposal_ms.is_none() {
            live.to_vec()
        } else if rng.chance(0.2) {
            live.get(rng.below(live.len().max(1) as u64) as usize)
                .into_iter()
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        if !to.is_empty() {
            shared.first_proposal_ms.get_or_insert(now_ms);
        }
        to.into_iter()
            .map(|to| {
                let value = format!("v{}", shared.proposed.len() + 1).into_bytes();
                shared.proposed.insert(value.clone());
                (to, single::Command::Propose(value))
            })
            .collect()
    }

    fn workload_interval_ms(&self) -> Option<u64> {
        Some(CLIENT_TICK_MS)
    }

    fn completes(&self, event: &single::Event) -> bool {
        matches!(event, single::Event::Chosen { .. })
    }

    fn promises(&self, message: &single::Message) -> bool {
        matches!(
            message,
            single::Message::Promise { .. } | single::Message::Accepted { .. }
        )
    }

    fn checker(&self) -> Box<dyn Checker<SingleDecree>> {
        Box::new(SingleChecker {
            shared: Rc::clone(&self.shared),
            chosen: None,
            reported: BTreeSet::new(),
            last_fault_ms: 0,
            chosen_ms: None,
            preemptions: 0,
        })
    }

    fn describe(&self, event: &single::Event) -> String {
        match event {
            single::Event::Chosen { value } => {
                format!("chosen: {}", String::from_utf8_lossy(value))
            }
            single::Event::Preempted { ballot, by } => {
                format!("preempted at ballot {ballot} by {by}")
            }
        }
    }

    fn describe_message(&self, message: &single::Message) -> MessageLabel {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        match message {
            single::Message::Prepare { ballot } => {
                MessageLabel::new("Prepare", format!("Prepare b{ballot}"))
            }
            single::Message::Promise { ballot, accepted } => MessageLabel::new(
                "Promise",
                match accepted {
                    Some((b, v)) => format!("Promise b{ballot}, accepted {} at b{b}", text(v)),
                    None => format!("Promise b{ballot}, nothing accepted"),
                },
            ),
            single::Message::Accept { ballot, value } => {
                MessageLabel::new("Accept", format!("Accept b{ballot} {}", text(value)))
            }
            single::Message::Accepted { ballot, value } => {
                MessageLabel::new("Accepted", format!("Accepted b{ballot} {}", text(value)))
            }
            single::Message::Nack { ballot, promised } => {
                MessageLabel::new("Nack", format!("Nack b{ballot}: promised b{promised}"))
            }
            single::Message::Decided { value } => {
                MessageLabel::new("Decided", format!("Decided {}", text(value)))
            }
            single::Message::Query => MessageLabel::new("Query", "Query".into()),
        }
    }

    fn state(&self, node: &SingleDecree) -> Option<NodeState> {
        let role = if node.chosen().is_some() {
            "decided"
        } else if node.attempt().is_some() {
            "proposer"
        } else {
            "acceptor"
        };
        Some(NodeState {
            role,
            term: node.promised().round,
            commit: None,
        })
    }
}

/// The single-decree checker of the [module docs](self).
#[derive(Debug)]
pub struct SingleChecker {
    shared: Rc<RefCell<SingleShared>>,
    chosen: Option<Vec<u8>>,
    /// Nodes that reported the value in their current life.
    reported: BTreeSet<NodeId>,
    last_fault_ms: u64,
    chosen_ms: Option<u64>,
    preemptions: u64,
}

impl Checker<SingleDecree> for SingleChecker {
    fn name(&self) -> &'static str {
        "single-decree Paxos agreement, validity and liveness"
    }

    fn on_event(
        &mut self,
        time_ms: u64,
        node: NodeId,
        event: &single::Event,
    ) -> Result<(), String> {
        let value = match event {
            single::Event::Preempted { .. } => {
                self.preemptions += 1;
                return Ok(());
            }
            single::Event::Chosen { value } => value,
        };
        let show = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        if !self.shared.borrow().proposed.contains(value) {
            return Err(format!(
                "validity: {node} chose {}, which nobody proposed",
                show(value)
            ));
        }
        if let Some(chosen) = &self.chosen
            && chosen != value
        {
            return Err(format!(
                "agreement: {node} chose {}, where {} was chosen",
                show(value),
                show(chosen)
            ));
        }
        if !self.reported.insert(node) {
            return Err(format!("{node} reported the value twice in one life"));
        }
        self.chosen = Some(value.clone());
        self.chosen_ms.get_or_insert(time_ms);
        self.shared.borrow_mut().decided = true;
        Ok(())
    }

    fn on_fault(&mut self, time_ms: u64, _fault: &crate::engine::Fault) {
        self.last_fault_ms = time_ms;
    }

    fn after_step(
        &mut self,
        _time_ms: u64,
        nodes: &[(NodeId, Option<&SingleDecree>)],
    ) -> Result<(), String> {
        for (id, node) in nodes {
            if node.is_none() {
                self.reported.remove(id);
            }
        }
        Ok(())
    }

    fn at_end(
        &mut self,
        time_ms: u64,
        _nodes: &[(NodeId, Option<&SingleDecree>)],
    ) -> Result<(), String> {
        let quiet_from = time_ms.saturating_sub(QUIET_MS);
        let proposed = self.shared.borrow().first_proposal_ms;
        match proposed {
            Some(at)
                if self.chosen.is_none()
                    && self.last_fault_ms <= quiet_from
                    && at <= quiet_from =>
            {
                Err(format!(
                    "liveness: proposals since {at} ms, no fault after {} ms, and no value chosen by {time_ms} ms ({} preemptions: duelling proposers)",
                    self.last_fault_ms, self.preemptions
                ))
            }
            _ => Ok(()),
        }
    }

    fn report(&self) -> Vec<(String, String)> {
        vec![
            (
                "values proposed".into(),
                self.shared.borrow().proposed.len().to_string(),
            ),
            ("preemptions".into(), self.preemptions.to_string()),
            (
                "chosen at, ms".into(),
                self.chosen_ms
                    .map_or_else(|| "never".into(), |t| t.to_string()),
            ),
        ]
    }
}
