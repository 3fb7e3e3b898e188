//! Multi-Paxos targets: wire decoding, and one node under any sequence of
//! inputs.
//!
//! `paxos_step` drives a single [`PaxosNode`] (or, as the input picks, a
//! [`KvNode`]: the node with the key-value store) of up to six members with
//! messages from any claimed sender (members, non-members and the node
//! itself; structured with ballots and slots near the node's, or raw bytes
//! through `handle_message`), ticks, proposals and `Campaign`, and
//! crash-restarts that rebuild it from the `Persist` outputs it produced
//! and nothing else. After every input it drains the node and checks:
//!
//! - no panic; `NotAMember` exactly for a sender that is the node itself or
//!   not a member, everything else from a peer accepted, and a refused
//!   input leaves the node as it was;
//! - bounded output (the log holds at most 64 slots here);
//! - sends go to other members only;
//! - a `Promise` of a ballot is sent only once a record promises it, and an
//!   `Accepted` of slots only once each has a record (accepted or learned);
//!   promises never go back, across restarts too;
//! - `Chosen` events come in slot order from 1, once each per life, with a
//!   value a record holds at that slot;
//! - the key-value node takes every command and replies at most once to
//!   each, and only to commands it was given in this life.

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use consensio::paxos::{
    self, Ballot, Command, Event, KvNode, Message, PaxosNode, Persist, Report, kv,
};
use consensio::raft::{KvLimits, KvOp};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore};

use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, round_trip, structured};

pub mod single;

/// `paxos_decode`: messages and records of Multi-Paxos and of
/// single-decree Paxos decode without panicking, and whatever decodes
/// survives decode → encode → decode unchanged.
pub fn decode(data: &[u8]) {
    round_trip::<Message>(data);
    round_trip::<Persist>(data);
    round_trip::<paxos::single::Message>(data);
    round_trip::<paxos::single::Persist>(data);
}

/// Node ids the input draws from: 1 to 6 may be members, 0 and 7 never are.
const IDS: u8 = 8;
/// The log bound of the fuzzed node.
const LOG: u64 = 64;

#[derive(Arbitrary, Debug)]
pub struct StepInput {
    /// Drive the key-value node instead of the bare one.
    kv: bool,
    /// This node's id is `1 + id % 6`.
    id: u8,
    /// Bit `i` makes node `i + 1` a member (this node always is).
    members: u8,
    /// Values per message, `1 + batch % 8`.
    batch: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from `from % 8`.
    Message {
        from: u8,
        message: Forged,
    },
    /// Raw bytes from `from % 8`, through `handle_message`.
    Bytes {
        from: u8,
        bytes: Vec<u8>,
    },
    /// Time passes, then a tick.
    Tick {
        advance_ms: u8,
    },
    /// A tick at the node's next deadline.
    TickAtDeadline,
    /// Propose `len % 4` bytes (0: the refused empty value); the
    /// key-value node writes instead (session `len % 4`, sequence
    /// `len / 4`).
    Propose {
        len: u8,
    },
    /// The key-value node opens a session (the bare one campaigns).
    OpenSession,
    /// The bare node's application snapshots its state through the last
    /// applied slot (the key-value node snapshots on its own; here it
    /// reads).
    Compact,
    /// The key-value node reads key `key % 4` (the bare one proposes it).
    Get {
        key: u8,
    },
    Campaign,
    /// Crash and restart from the records.
    Restart,
}

/// A message with ballots and slots near the node's (see [`near`]).
#[derive(Arbitrary, Debug)]
enum Forged {
    Probe {
        round: u8,
    },
    ProbeReply {
        round: u8,
        granted: bool,
    },
    Prepare {
        round: u8,
        slot: u8,
    },
    Promise {
        round: u8,
        slot: u8,
        reports: Vec<(u8, u8, u8, bool)>,
        more: Option<u8>,
    },
    Accept {
        round: u8,
        first: u8,
        values: Vec<u8>,
        commit: u8,
        applied: u8,
    },
    Accepted {
        round: u8,
        first: u8,
        count: u8,
        applied: u8,
    },
    Nack {
        round: u8,
        promised: u8,
        by: u8,
    },
    Heartbeat {
        round: u8,
        commit: u8,
    },
    HeartbeatAck {
        round: u8,
    },
    CatchUp {
        slot: u8,
    },
    Chosen {
        first: u8,
        values: Vec<u8>,
    },
}

/// What the harness needs of the two node types.
trait Node:
    Participant<
        Message = Message,
        Persist = Persist,
        Error = paxos::Error,
        Event: PartialEq + core::fmt::Debug,
        Command: Clone + core::fmt::Debug,
    > + core::fmt::Debug
{
    fn rebuild(config: paxos::Config, records: &[Persist]) -> Self;
    fn paxos(&self) -> &PaxosNode;
    /// The Paxos event inside `event`, if it is one.
    fn paxos_event(event: &Self::Event) -> Option<&Event>;
    /// The request a reply answers, if `event` is one.
    fn reply(event: &Self::Event) -> Option<u64>;
    /// The command a step stands for (`request` numbers the key-value
    /// node's requests).
    fn command(step: &Step, request: u64) -> Option<Self::Command>;
    /// The request a command carries, if any.
    fn request(command: &Self::Command) -> Option<u64>;
    /// A snapshot through `applied`, for the bare node.
    fn compact(applied: u64) -> Option<Self::Command>;
}

impl Node for PaxosNode {
    fn rebuild(config: paxos::Config, records: &[Persist]) -> Self {
        <PaxosNode as Restore>::restore(config, records).expect("its own records restore")
    }
    fn paxos(&self) -> &PaxosNode {
        self
    }
    fn paxos_event(event: &Event) -> Option<&Event> {
        Some(event)
    }
    fn reply(_: &Event) -> Option<u64> {
        None
    }
    fn command(step: &Step, _: u64) -> Option<Command> {
        match *step {
            Step::Propose { len } => Some(Command::Propose(vec![7; usize::from(len % 4)])),
            Step::Get { key } => Some(Command::Propose(vec![key; 1])),
            Step::Campaign | Step::OpenSession => Some(Command::Campaign),
            Step::Compact => None,
            _ => None,
        }
    }
    fn request(_: &Command) -> Option<u64> {
        None
    }
    fn compact(applied: u64) -> Option<Command> {
        Some(Command::Compact {
            upto: applied,
            snapshot: applied.to_le_bytes().to_vec(),
        })
    }
}

impl Node for KvNode {
    fn rebuild(config: paxos::Config, records: &[Persist]) -> Self {
        <KvNode as Restore>::restore((config, LIMITS), records).expect("its own records restore")
    }
    fn paxos(&self) -> &PaxosNode {
        KvNode::paxos(self)
    }
    fn paxos_event(event: &kv::Event) -> Option<&Event> {
        match event {
            kv::Event::Paxos(e) => Some(e),
            kv::Event::Reply { .. } => None,
        }
    }
    fn reply(event: &kv::Event) -> Option<u64> {
        match event {
            kv::Event::Reply { id, .. } => Some(*id),
            kv::Event::Paxos(_) => None,
        }
    }
    fn command(step: &Step, id: u64) -> Option<kv::Command> {
        match *step {
            Step::Propose { len } => Some(kv::Command::Write {
                id,
                client: u64::from(len % 4),
                seq: u64::from(len / 4),
                op: KvOp::Put {
                    key: vec![len % 4],
                    value: vec![len; usize::from(len % 8)],
                },
            }),
            Step::Get { key } => Some(kv::Command::Get {
                id,
                key: vec![key % 4],
            }),
            Step::OpenSession | Step::Campaign => Some(kv::Command::OpenSession { id }),
            Step::Compact => Some(kv::Command::Get { id, key: vec![0] }),
            _ => None,
        }
    }
    fn request(command: &kv::Command) -> Option<u64> {
        Some(match command {
            kv::Command::OpenSession { id }
            | kv::Command::Write { id, .. }
            | kv::Command::Get { id, .. } => *id,
        })
    }
    fn compact(_: u64) -> Option<kv::Command> {
        None
    }
}

/// The store's bounds for the key-value node: small, so they are reached.
const LIMITS: KvLimits = KvLimits {
    max_keys: 3,
    max_key_bytes: 1,
    max_value_bytes: 6,
    max_sessions: 2,
    session_expiry_ms: 500,
};

/// One node for the [`harness`].
struct Paxos<N> {
    node: core::marker::PhantomData<N>,
    config: paxos::Config,
    id: NodeId,
    members: Vec<NodeId>,
    /// The last slot reported chosen in this life.
    reported: u64,
    /// The highest promise any record made.
    promised: Ballot,
    /// Key-value requests given in this life, and those answered.
    asked: BTreeSet<u64>,
    answered: BTreeSet<u64>,
    requests: u64,
}

/// `paxos_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: StepInput| {
        run(&input);
    });
}

fn run(input: &StepInput) -> usize {
    let id = NodeId(u64::from(input.id % 6) + 1);
    let members: Vec<NodeId> = (1..=6u64)
        .filter(|&m| m == id.0 || input.members & (1 << (m - 1)) != 0)
        .map(NodeId)
        .collect();
    let mut config = paxos::Config::new(id, &members);
    config.max_batch = usize::from(input.batch % 8) + 1;
    config.window = 8;
    config.max_pending = 8;
    config.max_log_entries = LOG;
    config.max_proposal_bytes = 8;
    if input.kv {
        drive::<KvNode>(config, id, members, &input.steps)
    } else {
        drive::<PaxosNode>(config, id, members, &input.steps)
    }
}

fn drive<N: Node>(
    config: paxos::Config,
    id: NodeId,
    members: Vec<NodeId>,
    steps: &[Step],
) -> usize {
    let mut family = Paxos::<N> {
        node: core::marker::PhantomData,
        config,
        id,
        members,
        reported: 0,
        promised: Ballot::ZERO,
        asked: BTreeSet::new(),
        answered: BTreeSet::new(),
        requests: 0,
    };
    harness::run(&mut family, steps, false).records().len()
}

/// A ballot of round `near(round, base)` proposed by member-or-not `by`.
fn ballot(round: u8, base: u64, by: NodeId) -> Ballot {
    Ballot {
        round: near(round, base),
        node: by,
    }
}

fn values(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.iter().map(|&b| vec![b; usize::from(b % 4)]).collect()
}

/// Whether some record holds a value at `slot`, and which.
fn recorded(records: &[Persist], slot: u64) -> Option<&[u8]> {
    let mut found = None;
    for r in records {
        if let Persist::Snapshot { slots, .. } = r {
            found = slots
                .iter()
                .find(|s| s.slot == slot)
                .map(|s| s.value.as_slice());
            continue;
        }
        if let Persist::Accepted { first, values, .. } | Persist::Learned { first, values } = r
            && let Some(v) = slot
                .checked_sub(*first)
                .and_then(|i| values.get(usize::try_from(i).ok()?))
        {
            found = Some(v.as_slice());
        }
    }
    found
}

fn max_promise(records: &[Persist]) -> Ballot {
    records
        .iter()
        .filter_map(|r| match r {
            Persist::Promised(b) | Persist::Accepted { ballot: b, .. } => Some(*b),
            Persist::Snapshot {
                promised, slots, ..
            } => slots.iter().map(|s| s.ballot).chain([*promised]).max(),
            _ => None,
        })
        .max()
        .unwrap_or(Ballot::ZERO)
}

impl<N: Node> Family for Paxos<N> {
    type Node = N;
    type Snapshot = String;
    const ALWAYS_ARMED: bool = true;

    fn restore(&self, records: &[Persist], _: Instant) -> N {
        N::rebuild(self.config.clone(), records)
    }

    fn restarted(&mut self, node: &N, records: &[Persist]) {
        // The chosen prefix is reported again, from slot 1; requests of
        // the last life are forgotten.
        self.reported = 0;
        self.asked.clear();
        self.answered.clear();
        assert_eq!(
            node.paxos().promised(),
            max_promise(records),
            "the promise survives the restart"
        );
    }

    fn snapshot(&self, node: &N, _: Instant) -> String {
        format!("{node:?}")
    }

    fn max_outputs(&self, _: &N) -> usize {
        // A new leader re-proposes every slot (a record and one Accept page
        // per peer and slot, at worst), and a learned page reports each.
        let n = self.members.len();
        n * (LOG as usize + 4) + 3 * LOG as usize + 16
    }

    fn expected(&self, _: &N, input: &InputOf<Self>, _: bool) -> Expected<Self> {
        match input {
            Input::Message { from, .. } if *from == self.id || !self.members.contains(from) => {
                Some(Err(paxos::Error::NotAMember { peer: *from }))
            }
            Input::Message { .. } | Input::Tick => Some(Ok(())),
            // The key-value node takes every command (and replies); the
            // bare node refuses proposals for many reasons, and the
            // harness checks that a refusal changes nothing.
            Input::Command(c) if N::request(c).is_some() => Some(Ok(())),
            Input::Command(_) => None,
        }
    }

    fn accepted(&mut self, _: &N, _: Instant, input: &InputOf<Self>, _: &String) {
        if let Input::Command(c) = input
            && let Some(id) = N::request(c)
        {
            self.asked.insert(id);
        }
    }

    fn output(&mut self, _: &N, records: &[Persist], output: &OutputOf<Self>) {
        if let Output::Event(event) = output {
            if let Some(id) = N::reply(event) {
                assert!(
                    self.asked.contains(&id),
                    "a reply to request {id}, never asked"
                );
                assert!(self.answered.insert(id), "request {id} answered twice");
            }
            if let Some(Event::Snapshot { upto }) = N::paxos_event(event) {
                self.reported = *upto;
            }
            if let Some(Event::Chosen { slot, value }) = N::paxos_event(event) {
                assert_eq!(*slot, self.reported + 1, "chosen slots out of order");
                self.reported = *slot;
                assert_eq!(
                    recorded(records, *slot),
                    Some(value.as_slice()),
                    "slot {slot} chosen without its record"
                );
            }
            return;
        }
        match output {
            Output::Send { to, message } => {
                assert!(
                    *to != self.id && self.members.contains(to),
                    "a send to {to}"
                );
                match message {
                    Message::Promise { ballot, .. } => {
                        assert!(
                            max_promise(records) >= *ballot,
                            "promised {ballot} before a record did"
                        );
                    }
                    Message::Accepted { first, count, .. } => {
                        for slot in *first..first + count {
                            assert!(
                                recorded(records, slot).is_some(),
                                "acknowledged slot {slot} before a record"
                            );
                        }
                    }
                    _ => {}
                }
            }
            Output::Persist(record) => {
                if let Persist::Promised(b) = record {
                    assert!(*b >= self.promised, "promise {b} below {}", self.promised);
                }
                self.promised = self.promised.max(max_promise(std::slice::from_ref(record)));
            }
            Output::Event(_) => {}
        }
    }
}

impl<N: Node> Generator for Paxos<N> {
    type Step = Step;

    fn action<'s>(&mut self, node: &N, step: &'s Step) -> Action<'s, Message, N::Command> {
        let node = node.paxos();
        let round = node.promised().round;
        let slot = node.first_unchosen();
        match step {
            Step::Message { from, message } => {
                let from = harness::claimed(*from, IDS);
                let message = match message {
                    Forged::Probe { round: r } => Message::Probe {
                        round: near(*r, round),
                    },
                    Forged::ProbeReply { round: r, granted } => Message::ProbeReply {
                        round: near(*r, round + 1),
                        granted: *granted,
                    },
                    Forged::Prepare { round: r, slot: s } => Message::Prepare {
                        ballot: ballot(*r, round, from),
                        from: near(*s, slot),
                    },
                    Forged::Promise {
                        round: r,
                        slot: s,
                        reports,
                        more,
                    } => Message::Promise {
                        ballot: ballot(*r, round, node.ballot().node),
                        from: near(*s, slot),
                        reports: reports
                            .iter()
                            .map(|&(sl, br, v, chosen)| Report {
                                slot: near(sl, slot),
                                ballot: ballot(br, round, NodeId(u64::from(v % IDS))),
                                value: vec![v; usize::from(v % 4)],
                                chosen,
                            })
                            .collect(),
                        next: more.map(|m| near(m, slot)),
                    },
                    Forged::Accept {
                        round: r,
                        first,
                        values: v,
                        commit,
                        applied,
                    } => Message::Accept {
                        ballot: ballot(*r, round, from),
                        first: near(*first, slot),
                        values: values(v),
                        commit: near(*commit, slot),
                        applied: near(*applied, slot),
                    },
                    Forged::Accepted {
                        round: r,
                        first,
                        count,
                        applied,
                    } => Message::Accepted {
                        ballot: ballot(*r, round, node.ballot().node),
                        first: near(*first, slot),
                        count: u64::from(*count % 16),
                        applied: near(*applied, slot),
                    },
                    Forged::Nack {
                        round: r,
                        promised,
                        by,
                    } => Message::Nack {
                        ballot: ballot(*r, round, node.ballot().node),
                        promised: ballot(*promised, round, NodeId(u64::from(by % IDS))),
                    },
                    Forged::Heartbeat { round: r, commit } => Message::Heartbeat {
                        applied: near(*commit, slot),
                        ballot: ballot(*r, round, from),
                        commit: near(*commit, slot),
                    },
                    Forged::HeartbeatAck { round: r } => Message::HeartbeatAck {
                        applied: near(*r, slot),
                        ballot: ballot(*r, round, node.ballot().node),
                    },
                    Forged::CatchUp { slot: s } => Message::CatchUp {
                        from: near(*s, slot),
                    },
                    Forged::Chosen { first, values: v } => Message::Chosen {
                        first: near(*first, slot),
                        values: values(v),
                    },
                };
                Action::Message { from, message }
            }
            Step::Bytes { from, bytes } => Action::bytes(*from, IDS, bytes),
            Step::Tick { advance_ms } => Action::tick(*advance_ms),
            Step::TickAtDeadline => Action::TickAtDeadline,
            Step::Restart => Action::Restart,
            Step::Propose { .. }
            | Step::Get { .. }
            | Step::OpenSession
            | Step::Campaign
            | Step::Compact => {
                self.requests += 1;
                match N::command(step, self.requests) {
                    Some(command) => Action::Command(command),
                    None => match N::compact(node.applied()) {
                        Some(command) => Action::Command(command),
                        None => Action::tick(0u8),
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lone member leads, chooses its proposals, and after a restart
    /// reports them again from slot 1.
    #[test]
    fn a_lone_member_chooses_and_reports_again_after_a_restart() {
        let steps = vec![
            Step::Campaign,
            Step::Propose { len: 1 },
            Step::Propose { len: 2 },
            Step::Restart,
            Step::TickAtDeadline,
            Step::TickAtDeadline,
            Step::Propose { len: 3 },
        ];
        let records = run(&StepInput {
            kv: false,
            id: 0,
            members: 0,
            batch: 2,
            steps,
        });
        assert!(records >= 4, "{records} records");
    }
}
