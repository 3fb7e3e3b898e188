//! `raft_kv_step`: one `KvNode<ArenaLog>` (the replicated key-value store
//! over a Raft node) under any messages, ticks, store commands and
//! crash-restarts, on the harness.
//!
//! The input configures the Raft node as `raft_step` does (voters, joint or
//! not, timing, every bound, the log's capacity) and the store's limits
//! (few keys, short keys and values, few sessions, short expiry). Steps are
//! `raft_step`'s messages, raw bytes, ticks, drains and restarts, plus the
//! store's commands (`OpenSession`, `Write` of a put, delete or
//! compare-and-set with client ids and sequence numbers near the sessions
//! it opened, `Get` by ReadIndex or lease) and AppendEntries whose entries
//! are store entries (sessions and writes from any client, garbage, empty),
//! so a follower applies real writes. Besides the harness's contract
//! checks (refusals change nothing, bounded output, the wire, restarts from
//! exactly the records, determinism), it checks:
//!
//! - every input is accepted (a refused command is a reply, and the node
//!   moves the Raft node's outputs to its own queue, so Raft's
//!   backpressure never reaches it);
//! - at most one reply per command, and only to a command of this life;
//!   the replies that come at once are the documented ones: `TooLarge` for
//!   a key or value over the limits, `ZeroSequence` for sequence 0, then
//!   `NotLeader` with the Raft node's leader on a follower, and
//!   `LeaseReadsDisabled` for a lease read without check-quorum;
//! - `Committed` comes once per index, in order from 1 in each life, and
//!   the store after every drain is exactly a fresh `KvStore` that applied
//!   those entries (so a restart rebuilds it from the log);
//! - a session's id is the index of the entry being applied, and a read's
//!   value is the model store's value when it is answered.

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use consensio::raft::{
    self, ArenaLog, Body, Entry, KvEntry, KvLimits, KvNode, KvOp, KvResponse, KvResult, KvStore,
    LogStorage, Message, Persist, Role, kv,
};
use consensio::{Input, Instant, NodeId, Output, Restore, wire};

use super::{Forged, IDS, StepInput, config, forge};
use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, structured};

#[derive(Arbitrary, Debug)]
pub struct KvInput {
    /// The Raft node's configuration, as in `raft_step` (its steps unused).
    id: u8,
    incoming: u8,
    outgoing: u8,
    seed: u8,
    heartbeat_ms: u8,
    election_extra_ms: u8,
    election_span_ms: u8,
    drift_ms: u8,
    pre_vote: bool,
    check_quorum: bool,
    bounds: [u8; 9],
    log_entries: u8,
    log_bytes: u8,
    /// Keys, key bytes, value bytes, sessions, expiry.
    limits: [u8; 5],
    lazy: bool,
    steps: Vec<KvStep>,
}

#[derive(Arbitrary, Debug)]
enum KvStep {
    /// A Raft message from `from % 7`, as in `raft_step`.
    Message {
        from: u8,
        term: u8,
        body: Forged,
    },
    /// An AppendEntries whose entries are store entries.
    Append {
        from: u8,
        term: u8,
        prev_index: u8,
        /// Below 96: the term the node's log has there.
        prev_term: u8,
        entries: Vec<(u8, Payload)>,
        commit: u8,
    },
    Bytes {
        from: u8,
        bytes: Vec<u8>,
    },
    Tick {
        advance_ms: u8,
    },
    TickAtDeadline,
    OpenSession,
    Write {
        client: u8,
        seq: u8,
        op: Op,
    },
    Get {
        key: u8,
        lease: bool,
    },
    Drain(Option<u8>),
    Restart,
    /// A membership change: `kind % 3` adds learner `node % 7`, promotes
    /// it or removes it.
    Membership {
        kind: u8,
        node: u8,
    },
}

/// A write; keys are one letter of four, or (from 250) too long.
#[derive(Arbitrary, Debug)]
enum Op {
    Put {
        key: u8,
        value: Vec<u8>,
    },
    Delete {
        key: u8,
    },
    Cas {
        key: u8,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    },
}

/// An entry's payload, as some leader wrote it.
#[derive(Arbitrary, Debug)]
enum Payload {
    Empty,
    OpenSession {
        stamp: u8,
    },
    Write {
        client: u8,
        seq: u8,
        stamp: u8,
        op: Op,
    },
    Raw(Vec<u8>),
}

fn key(k: u8) -> Vec<u8> {
    if k >= 250 {
        vec![b'k'; usize::from(k - 240)]
    } else {
        vec![b'a' + k % 4]
    }
}

fn value(v: &[u8]) -> Vec<u8> {
    v.iter().copied().take(12).collect()
}

fn op(o: &Op) -> KvOp {
    match o {
        Op::Put { key: k, value: v } => KvOp::Put {
            key: key(*k),
            value: value(v),
        },
        Op::Delete { key: k } => KvOp::Delete { key: key(*k) },
        Op::Cas {
            key: k,
            expected,
            new,
        } => KvOp::Cas {
            key: key(*k),
            expected: expected.as_deref().map(value),
            new: new.as_deref().map(value),
        },
    }
}

/// `raft_kv_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: KvInput| {
        run(&input);
    });
}

/// What a run reached, for the test that shows the target gets deep.
#[derive(Debug, Default)]
struct Reached {
    sessions: usize,
    writes_done: usize,
    values_read: usize,
    follower_applies: usize,
}

fn run(input: &KvInput) -> Reached {
    let raft_input = StepInput {
        id: input.id,
        incoming: input.incoming,
        outgoing: input.outgoing,
        seed: input.seed,
        heartbeat_ms: input.heartbeat_ms,
        election_extra_ms: input.election_extra_ms,
        election_span_ms: input.election_span_ms,
        drift_ms: input.drift_ms,
        pre_vote: input.pre_vote,
        check_quorum: input.check_quorum,
        bounds: input.bounds,
        log_entries: input.log_entries,
        log_bytes: input.log_bytes,
        lazy: input.lazy,
        steps: Vec::new(),
    };
    let config = config(&raft_input);
    config
        .validate()
        .expect("the harness builds valid configurations");
    let l = input.limits.map(usize::from);
    let limits = KvLimits {
        max_keys: l[0] % 4 + 1,
        max_key_bytes: l[1] % 4 + 1,
        max_value_bytes: l[2] % 8,
        max_sessions: l[3] % 3 + 1,
        session_expiry_ms: u64::from(input.limits[4]) * 4 + 1,
    };
    let mut family = Kv {
        config,
        log_entries: usize::from(input.log_entries % 32) + 1,
        log_bytes: usize::from(input.log_bytes),
        limits,
        model: KvStore::new(limits),
        outstanding: BTreeSet::new(),
        immediate: BTreeMap::new(),
        gets: BTreeMap::new(),
        clients: Vec::new(),
        seqs: BTreeMap::new(),
        next_request: 0,
        reached: Reached::default(),
    };
    harness::run(&mut family, &input.steps, input.lazy);
    family.reached
}

type Node = KvNode<ArenaLog>;

/// What must not change when an input is refused.
type Snapshot = (
    (u64, Option<NodeId>, Role, Option<NodeId>, u64, u64, u64),
    (u64, usize, usize),
);

/// One key-value node for the [`harness`].
struct Kv {
    config: raft::Config,
    log_entries: usize,
    log_bytes: usize,
    limits: KvLimits,
    /// This life: a fresh store that applied every `Committed` entry.
    model: KvStore,
    /// This life: commands given and not yet answered.
    outstanding: BTreeSet<u64>,
    /// This life: the replies due at once, by request.
    immediate: BTreeMap<u64, KvResult>,
    /// This life: the key of each read, by request.
    gets: BTreeMap<u64, Vec<u8>>,
    /// Client ids of sessions opened (they survive restarts: the log does).
    clients: Vec<u64>,
    /// The highest sequence number given to each client.
    seqs: BTreeMap<u64, u64>,
    next_request: u64,
    reached: Reached,
}

impl Kv {
    fn fits(&self, op: &KvOp) -> bool {
        let value_len = match op {
            KvOp::Put { value, .. } => value.len(),
            KvOp::Delete { .. } => 0,
            KvOp::Cas { expected, new, .. } => {
                let e = expected.as_ref().map_or(0, Vec::len);
                e.max(new.as_ref().map_or(0, Vec::len))
            }
        };
        op.key().len() <= self.limits.max_key_bytes && value_len <= self.limits.max_value_bytes
    }

    /// The reply a command must get at once, if it is refused before it
    /// reaches the log (as far as the node's state says).
    fn refusal(&self, command: &kv::Command, before: &Snapshot) -> Option<KvResult> {
        let (_, _, role, leader, ..) = before.0;
        if let kv::Command::Write { seq, op, .. } = command {
            if !self.fits(op) {
                return Some(Err(kv::Error::TooLarge));
            }
            if *seq == 0 {
                return Some(Err(kv::Error::ZeroSequence));
            }
        }
        // A follower that knows its leader asks it for a read index
        // (thesis §6.4.1).
        let follower_get = matches!(command, kv::Command::Get { .. })
            && role == Role::Follower
            && leader.is_some();
        if role != Role::Leader && !follower_get {
            return Some(Err(kv::Error::NotLeader {
                leader_hint: leader,
            }));
        }
        if let kv::Command::Get { lease: true, .. } = command
            && !self.config.check_quorum
        {
            return Some(Err(kv::Error::LeaseReadsDisabled));
        }
        None
    }

    fn request(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    fn reply(&mut self, id: u64, result: &KvResult) {
        assert!(
            self.outstanding.remove(&id),
            "request {id} answered twice, or never given in this life"
        );
        if let Some(expected) = self.immediate.remove(&id) {
            assert_eq!(result, &expected, "the reply to request {id}");
        }
        let key = self.gets.remove(&id);
        match result {
            Ok(KvResponse::SessionOpened { client }) => {
                assert_eq!(
                    *client,
                    self.model.applied_index() + 1,
                    "a session's id is its entry's index"
                );
                if !self.clients.contains(client) {
                    self.clients.push(*client);
                }
                self.reached.sessions += 1;
            }
            Ok(KvResponse::Value(value)) => {
                let key = key.expect("a value answers a read");
                assert_eq!(
                    value.as_deref(),
                    self.model.get(&key),
                    "a read's value is the store's"
                );
                self.reached.values_read += 1;
            }
            Ok(KvResponse::Done | KvResponse::Swapped(_)) => self.reached.writes_done += 1,
            Err(_) => {}
        }
    }

    fn payload(&self, p: &Payload) -> Vec<u8> {
        let entry = match p {
            Payload::Empty => return Vec::new(),
            Payload::Raw(bytes) => return bytes.iter().copied().take(24).collect(),
            Payload::OpenSession { stamp } => KvEntry::OpenSession {
                stamp_ms: u64::from(*stamp),
            },
            Payload::Write {
                client,
                seq,
                stamp,
                op: o,
            } => KvEntry::Write {
                client: self.client(*client),
                seq: near(*seq, 1),
                stamp_ms: u64::from(*stamp),
                op: op(o),
            },
        };
        wire::encode_to_vec(&entry).expect("a store entry encodes")
    }

    /// A client id: one of the sessions opened, or any number near 0.
    fn client(&self, c: u8) -> u64 {
        match self.clients.len() {
            0 => near(c, 0),
            n if c < 224 => self.clients[usize::from(c) % n],
            _ => near(c, 0),
        }
    }
}

impl Family for Kv {
    type Node = Node;
    type Snapshot = Snapshot;
    const ALWAYS_ARMED: bool = true;

    fn restore(&self, records: &[Persist], _: Instant) -> Node {
        let log = ArenaLog::new(self.log_entries, self.log_bytes);
        KvNode::restore((self.config.clone(), log, self.limits), records)
            .expect("the node's own records restore")
    }

    fn restarted(&mut self, node: &Node, _: &[Persist]) {
        self.model = KvStore::new(self.limits);
        self.outstanding.clear();
        self.immediate.clear();
        self.gets.clear();
        assert_eq!(node.store(), &self.model, "a restored store starts empty");
    }

    fn snapshot(&self, node: &Node, _: Instant) -> Snapshot {
        let n = node.raft();
        let s = node.store();
        (
            (
                n.term(),
                n.vote(),
                n.role(),
                n.leader(),
                n.commit_index(),
                n.applied_index(),
                n.log().last_index(),
            ),
            (s.applied_index(), s.len(), s.sessions()),
        )
    }

    /// Raft's bound, each output with at most one reply besides, the
    /// replies `Retry` to every uncommitted proposal when leadership is
    /// lost, and a command's own reply.
    fn max_outputs(&self, node: &Node) -> usize {
        let c = &self.config;
        let peers = node.raft().membership().members().count();
        let uncommitted = usize::try_from(c.max_uncommitted_entries).unwrap_or(usize::MAX);
        // Raft's own bound, with a dropped proposal per uncommitted entry.
        let raft = 8
            + peers * (c.max_inflight_messages + 2)
            + c.max_apply_per_step
            + 2 * c.max_pending_reads
            + uncommitted;
        2 * raft + uncommitted + 1
    }

    fn deadline_may_be_now(&self, node: &Node) -> bool {
        node.raft().applied_index() < node.raft().commit_index()
    }

    fn is_backpressure(&self, error: &raft::Error) -> bool {
        matches!(error, raft::Error::Backpressure { .. })
    }

    /// The store refuses input once `max_outputs` wait, as Raft does.
    fn max_waiting(&self, _: &Node) -> Option<usize> {
        Some(self.config.max_outputs)
    }

    /// Every input is accepted while the queue has room: refusals are
    /// replies (the harness checks backpressure on its own).
    fn expected(&self, _: &Node, _: &InputOf<Self>, _: bool) -> Expected<Self> {
        Some(Ok(()))
    }

    fn accepted(&mut self, _: &Node, _: Instant, input: &InputOf<Self>, before: &Snapshot) {
        let Input::Command(command) = input else {
            return;
        };
        let id = command.id();
        assert!(self.outstanding.insert(id), "request ids are fresh");
        if let kv::Command::Get { key, .. } = command {
            self.gets.insert(id, key.clone());
        }
        if let Some(refusal) = self.refusal(command, before) {
            self.immediate.insert(id, refusal);
        }
    }

    fn output(&mut self, node: &Node, _: &[Persist], output: &OutputOf<Self>) {
        match output {
            Output::Send { to, message } => {
                // To a member, or to a leader it does not know as one (thesis §4.1).
                assert_ne!(*to, self.config.id, "a send to itself");
                let frame = wire::encode_to_vec(message).expect("encodes");
                let bound = self.config.max_frame_len().expect("valid");
                assert!(frame.len() <= bound, "a frame of {} > {bound}", frame.len());
            }
            Output::Persist(_) => {}
            Output::Event(kv::Event::Reply { id, result }) => self.reply(*id, result),
            Output::Event(kv::Event::Raft(raft::Event::Committed { index, data, .. })) => {
                assert_eq!(
                    *index,
                    self.model.applied_index() + 1,
                    "committed out of order"
                );
                self.model.apply(*index, data);
                if node.raft().role() != Role::Leader && !data.is_empty() {
                    self.reached.follower_applies += 1;
                }
            }
            Output::Event(kv::Event::Raft(_)) => {}
        }
    }

    fn drained(
        &mut self,
        node: &Node,
        _: Instant,
        _: &[OutputOf<Self>],
        _: &[Persist],
        cause: Option<&InputOf<Self>>,
    ) {
        assert_eq!(node.store(), &self.model, "the store is the log applied");
        if let Some(Input::Command(command)) = cause {
            let id = command.id();
            assert!(
                !self.immediate.contains_key(&id),
                "request {id} was not answered at once"
            );
        }
    }
}

impl Generator for Kv {
    type Step = KvStep;

    fn action<'s>(&mut self, node: &Node, step: &'s KvStep) -> Action<'s, Message, kv::Command> {
        let raft = node.raft();
        match step {
            KvStep::Message { from, term, body } => {
                let term = near(*term, raft.term());
                Action::Message {
                    from: harness::claimed(*from, IDS),
                    message: Message {
                        term,
                        body: forge(raft, term, 0, body),
                    },
                }
            }
            KvStep::Append {
                from,
                term,
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                let term = near(*term, raft.term());
                let log = raft.log();
                let prev_log_index = near(*prev_index, log.last_index());
                let prev_log_term = match log.term(prev_log_index) {
                    Some(t) if *prev_term < 96 => t,
                    _ => near(*prev_term, term),
                };
                let entries = entries
                    .iter()
                    .take(8)
                    .map(|(t, p)| {
                        Entry::normal(
                            if *t < 128 { term } else { near(*t, term) },
                            self.payload(p),
                        )
                    })
                    .collect();
                Action::Message {
                    from: harness::claimed(*from, IDS),
                    message: Message {
                        term,
                        body: Body::AppendEntries {
                            prev_log_index,
                            prev_log_term,
                            entries,
                            leader_commit: near(*commit, log.last_index()),
                        },
                    },
                }
            }
            KvStep::Bytes { from, bytes } => Action::bytes(*from, IDS, bytes),
            KvStep::Tick { advance_ms } => Action::tick(*advance_ms),
            KvStep::TickAtDeadline => Action::TickAtDeadline,
            KvStep::OpenSession => Action::Command(kv::Command::OpenSession { id: self.request() }),
            KvStep::Write { client, seq, op: o } => {
                let client = self.client(*client);
                let next = self.seqs.get(&client).copied().unwrap_or(0) + 1;
                let seq = near(*seq, next);
                let last = self.seqs.entry(client).or_insert(0);
                *last = (*last).max(seq.min(u64::MAX - 1));
                Action::Command(kv::Command::Write {
                    id: self.request(),
                    client,
                    seq,
                    op: op(o),
                })
            }
            KvStep::Get { key: k, lease } => Action::Command(kv::Command::Get {
                id: self.request(),
                key: key(*k),
                lease: *lease,
            }),
            KvStep::Drain(max) => Action::Drain(max.map(usize::from)),
            KvStep::Restart => Action::Restart,
            KvStep::Membership { kind, node } => {
                let node = harness::claimed(*node, IDS);
                let change = match kind % 3 {
                    0 => raft::MembershipChange::AddLearner(node),
                    1 => raft::MembershipChange::Promote(node),
                    _ => raft::MembershipChange::Remove(node),
                };
                Action::Command(kv::Command::ChangeMembership {
                    id: self.request(),
                    change,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(incoming: u8, steps: Vec<KvStep>) -> KvInput {
        KvInput {
            id: 0,
            incoming,
            outgoing: 0,
            seed: 0,
            heartbeat_ms: 0,
            election_extra_ms: 0,
            election_span_ms: 0,
            drift_ms: 0,
            pre_vote: true,
            check_quorum: true,
            bounds: [3, 63, 63, 2, 127, 7, 3, 3, 63],
            log_entries: 31,
            log_bytes: 255,
            limits: [3, 3, 7, 2, 255],
            lazy: false,
            steps,
        }
    }

    fn put(seq: u8, key: u8, value: &[u8]) -> KvStep {
        KvStep::Write {
            client: 0,
            seq,
            op: Op::Put {
                key,
                value: value.to_vec(),
            },
        }
    }

    /// The target gets past the election into the store: a lone voter
    /// opens a session, writes, reads its writes, and after a restart
    /// rebuilds the store; a follower applies a leader's store entries.
    #[test]
    fn the_target_reaches_sessions_writes_reads_and_follower_applies() {
        // Sequence numbers 128 + n stand for n (see `near`).
        let lone = input(
            0,
            vec![
                KvStep::TickAtDeadline,
                KvStep::TickAtDeadline,
                KvStep::OpenSession,
                put(129, 0, b"x"),
                put(130, 1, b"y"),
                KvStep::Get {
                    key: 0,
                    lease: false,
                },
                KvStep::Tick { advance_ms: 1 },
                KvStep::Restart,
                KvStep::TickAtDeadline,
                KvStep::TickAtDeadline,
                KvStep::Get {
                    key: 1,
                    lease: true,
                },
                KvStep::Tick { advance_ms: 1 },
            ],
        );
        let reached = run(&lone);
        assert_eq!(reached.sessions, 1, "{reached:?}");
        assert_eq!(reached.writes_done, 2, "{reached:?}");
        assert_eq!(reached.values_read, 2, "{reached:?}");
        let follower = input(
            0b110,
            vec![
                KvStep::Tick { advance_ms: 100 },
                KvStep::Append {
                    from: 2,
                    term: 129,
                    prev_index: 128,
                    prev_term: 0,
                    entries: vec![
                        (0, Payload::OpenSession { stamp: 1 }),
                        (
                            0,
                            Payload::Write {
                                client: 0,
                                seq: 129,
                                stamp: 2,
                                op: Op::Put {
                                    key: 2,
                                    value: b"v".to_vec(),
                                },
                            },
                        ),
                    ],
                    commit: 130,
                },
                KvStep::OpenSession,
            ],
        );
        let reached = run(&follower);
        assert_eq!(reached.follower_applies, 2, "{reached:?}");
    }
}
