//! Raft in the simulator: a cluster of [`KvNode`]s (Raft with the
//! replicated key-value store) driven by a few clients, and one checker for
//! the properties of Figure 3 of the paper plus linearizability:
//!
//! - **election safety**: at most one leader per term;
//! - **log matching**: two logs that hold an entry with the same index and
//!   term are identical up to it (checked every [`LOG_MATCHING_EVERY`]
//!   steps and at the end, over every pair of live nodes);
//! - **leader completeness**: a new leader's log holds every entry
//!   committed before its election;
//! - **state machine safety**: no two nodes apply different entries at one
//!   index, and each node applies every index once, in order, per lifetime;
//! - **lease safety** (thesis §6.4): no leader of a later term is elected
//!   while an older leader's lease holds (it would answer a lease read
//!   without asking anyone); judged at every input of a leader, and at the
//!   moment of every election, at every older leader, on its own clock
//!   whether or not it takes an input before it hears of the election, so
//!   a lease that outlives its leadership is caught whether or not a read
//!   arrives in that moment. Electing is enough, committing is
//!   not needed: some voter of the new leader confirmed one of the old
//!   leader's lease rounds, and voted no sooner than the minimum election
//!   timeout after receiving it, when the lease (which runs from the
//!   round's sending, less the drift bound) had ended; a transfer voids
//!   the old leader's lease before its target campaigns;
//! - **read freshness** (thesis §6.4): every read's index covers every
//!   entry committed anywhere before the read was issued; stricter than
//!   the history below, which sees only the keys the clients touch, so a
//!   deposed leader that trusts its lease too long fails here even when no
//!   client wrote the key it read;
//! - **linearizability** of the clients' history (puts, compare-and-sets
//!   and reads on a few contended keys), checked at the end with
//!   [`linearizability::check`]: a retried write that the sessions failed
//!   to deduplicate, a read served by a deposed leader, or a lost
//!   acknowledged write all show up here.
//!
//! # The clients
//!
//! [`CLIENTS`] clients each open a session, then issue one operation at a
//! time on one of [`KEYS`] keys: reads (half of them under the leader's
//! lease), puts of values never written before, and compare-and-sets
//! against the last value the client saw. A client sends to the leader it
//! last heard of (or a random live node), follows `NotLeader` hints, and
//! resends the same write — same session, same sequence number — after
//! `Retry`, `Busy`, or [`RESEND_MS`] of silence, to any node. It never gives
//! up on a write, so its sequence numbers stay gap-free; an operation still
//! open at the end counts as "may or may not have happened". A session that
//! expired makes the open write's outcome unknown, and the client opens a
//! new one.
//!
//! [`READERS`] more clients only read, one read at a time (half under the
//! lease), each time from a node picked at random, and give up on a silent
//! node after [`READ_RESEND_MS`]. The writing clients stall on a leader
//! that lost its quorum (their writes wait [`RESEND_MS`] for an answer),
//! so without the readers no read is issued in the moments where a lease
//! matters: after a new leader has committed and before the old one steps
//! down. A mutant whose lease never runs out, or that grants votes inside
//! a leader's lease, was not caught in 2,000 seeds until the readers came.
//!
//! In random checks (`SimConfig::operator`), an operator now and then
//! (about every 2.5 s) hands leadership from the
//! node the clients think leads to another live node
//! ([`kv::Command::TransferLeadership`], thesis §3.10), so every check runs
//! transfers under the same faults.
//!
//! Every node snapshots its store every [`SNAPSHOT_EVERY`] to
//! `SNAPSHOT_EVERY + SNAPSHOT_SPREAD` applied entries (the interval comes
//! from its seed), and the simulated disk drops the records a durable
//! snapshot record replaces ([`Protocol::supersedes`]), so every check
//! compacts logs, streams snapshots to followers that fell behind, and
//! restarts nodes from a snapshot and the records after it; `restore`
//! asserts that a restart reads no more records than the interval allows.
//! Log matching and leader completeness compare the entries the logs still
//! hold; a snapshot's last entry must be the one applied at its index.
//!
//! The clients share their state with the checker (it sees the replies as
//! events) through an `Rc<RefCell<_>>`: the simulator is single-threaded.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use consensio::quorum::MajorityConfig;
use consensio::raft::{
    self, ArenaLog, Event, KvLimits, KvNode, KvOp, KvResponse, KvResult, LogStorage, Persist, kv,
};
use consensio::{Instant, NodeId, Restore, Rng};

use super::Entry;
use crate::checker::Checker;
use crate::engine::{MessageLabel, NodeState, Protocol};
use crate::linearizability::{self, OpInput, OpOutput, Operation};

/// The family's entries in the [registry](super).
pub const PROTOCOLS: &[Entry] = &[
    Entry {
        name: "raft",
        family: "raft",
        description: "Raft with its key-value store: Figure 3's properties and linearizable clients",
        run: |config| super::run(RaftProtocol::default(), config),
    },
    Entry {
        name: "raft-replace",
        family: "raft",
        description: "Raft with its key-value store: the first three nodes vote, and an operator replaces each with a spare, one by one, under load",
        run: |config| super::run(RaftProtocol::replacing(), config),
    },
];

/// Voters at the start of a `raft-replace` run; the other nodes are spares.
pub const REPLACED_VOTERS: usize = 3;

/// The simulated node type.
pub type Node = KvNode<ArenaLog>;

/// Clients per run.
pub const CLIENTS: usize = 3;
/// Read-only clients per run, besides the [`CLIENTS`].
pub const READERS: usize = 2;
/// A reader gives up on a silent node after this long, ms, and asks
/// another.
pub const READ_RESEND_MS: u64 = 100;
/// Keys the clients contend on.
pub const KEYS: u8 = 3;
/// The clients act this often, ms.
pub const CLIENT_TICK_MS: u64 = 25;
/// A client resends an unanswered request after this long, ms.
pub const RESEND_MS: u64 = 600;
/// Log matching is checked every this many steps.
pub const LOG_MATCHING_EVERY: u64 = 200;

/// Raft with its key-value store, default timing (elections after
/// 150–300 ms, heartbeats every 50 ms, pre-vote and check-quorum on) and
/// small windows, so probing, window stalls and conflict backtracking
/// happen in short runs. AppendEntries carry one entry each: a follower can
/// then acknowledge an old term's entry without the new leader's, which is
/// the schedule of Figure 8 (see `scenarios/raft-figure-8.toml`).
#[derive(Clone, Debug, Default)]
pub struct RaftProtocol {
    clients: Rc<RefCell<Clients>>,
    /// `raft-replace`: only the first [`REPLACED_VOTERS`] nodes vote at
    /// first, and the operator replaces each with a spare.
    replace: bool,
}

impl RaftProtocol {
    /// The `raft-replace` variant: the first [`REPLACED_VOTERS`] nodes
    /// start as the voters and the others as spares outside the cluster
    /// (made from the same voters, as a joining server is); the operator
    /// replaces voter `k` with spare `k`, one server at a time (add the
    /// spare as a learner, promote it once it has caught up, remove the
    /// old voter), while the clients go on.
    #[must_use]
    pub fn replacing() -> Self {
        let protocol = RaftProtocol {
            replace: true,
            ..RaftProtocol::default()
        };
        protocol.clients.borrow_mut().replace = true;
        protocol
    }

    fn config(&self, id: NodeId, members: &[NodeId], seed: u64) -> raft::Config {
        // The simulator's members always include `id`, are distinct, and
        // number at most a few dozen.
        let first = if self.replace {
            REPLACED_VOTERS
        } else {
            members.len()
        };
        let voters = MajorityConfig::from_voters(members.iter().copied().take(first))
            .unwrap_or_else(|e| panic!("raft voters: {e}"));
        let mut c = raft::Config::new(id, voters);
        c.seed = seed;
        c.max_entries_per_message = 1;
        c.max_bytes_per_message = 1_024;
        c.max_entry_bytes = 256;
        c.max_inflight_messages = 4;
        c.max_inflight_bytes = 2_048;
        c.max_uncommitted_entries = 256;
        c
    }

    fn log() -> ArenaLog {
        ArenaLog::new(1 << 20, 64 << 20)
    }

    /// Each node snapshots its store every `SNAPSHOT_EVERY` to
    /// `SNAPSHOT_EVERY + SNAPSHOT_SPREAD` applied entries (from its seed),
    /// so that every run compacts logs, installs snapshots on followers
    /// that fall behind, and restarts from snapshots.
    fn snapshot_interval(seed: u64) -> u64 {
        SNAPSHOT_EVERY + seed % SNAPSHOT_SPREAD
    }
}

/// The fewest applied entries between a node's snapshots.
pub const SNAPSHOT_EVERY: u64 = 20;
/// The spread of snapshot intervals over nodes.
pub const SNAPSHOT_SPREAD: u64 = 100;

/// The most records a restart may read: one snapshot record, then the
/// records written since, which the snapshot interval bounds (entries of
/// one interval and the uncommitted ones, each record one message's
/// entries; their rewrites by later leaders; the hard states of the terms
/// in between).
fn max_restart_records(c: &raft::Config, interval: u64) -> usize {
    let entries = interval + c.max_uncommitted_entries;
    usize::try_from(1 + 2 * entries).unwrap_or(usize::MAX)
}

impl Protocol for RaftProtocol {
    type Node = Node;

    fn name(&self) -> &'static str {
        if self.replace { "raft-replace" } else { "raft" }
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Node {
        self.clients.borrow_mut().nodes = members.to_vec();
        let mut node = Node::new(
            self.config(id, members, seed),
            Self::log(),
            KvLimits::default(),
        )
        .unwrap_or_else(|e| panic!("raft configuration: {e}"));
        node.set_snapshot_interval(Self::snapshot_interval(seed));
        node
    }

    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[Persist]) -> Node {
        // The disk holds what the node persisted since its last durable
        // snapshot record; a refusal here is a bug in the node, and the
        // simulation stops on it. So is a restart that reads more records
        // than the snapshot interval allows (§7: a restart reads one
        // snapshot and the records since, never the whole history).
        let config = self.config(id, members, seed);
        let interval = Self::snapshot_interval(seed);
        let max = max_restart_records(&config, interval);
        assert!(
            disk.len() <= max,
            "n{} restarts from {} records, more than the {max} a snapshot every {interval} entries allows",
            id.0,
            disk.len()
        );
        let mut node = Node::restore((config, Self::log(), KvLimits::default()), disk)
            .unwrap_or_else(|e| panic!("n{} could not restart from its records: {e}", id.0));
        node.set_snapshot_interval(interval);
        node
    }

    fn supersedes(&self, record: &Persist) -> bool {
        matches!(record, Persist::Snapshot { .. })
    }

    fn workload_interval_ms(&self) -> Option<u64> {
        Some(CLIENT_TICK_MS)
    }

    fn operator(&mut self, on: bool) {
        self.clients.borrow_mut().operator = on;
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, kv::Command)> {
        self.clients.borrow_mut().act(rng, now_ms, live)
    }

    fn completes(&self, event: &kv::Event) -> bool {
        matches!(event, kv::Event::Reply { .. })
    }

    fn promises(&self, message: &raft::Message) -> bool {
        matches!(
            message.body,
            raft::Body::RequestVoteResponse { granted: true }
        )
    }

    fn solicits(&self, message: &raft::Message) -> bool {
        matches!(
            message.body,
            raft::Body::RequestVote { .. } | raft::Body::PreVote { .. }
        )
    }

    fn leads(&self, _node: NodeId, event: &kv::Event) -> bool {
        matches!(event, kv::Event::Raft(Event::BecameLeader { .. }))
    }

    /// Applied entries, served reads and successful replies: the diagram
    /// labels role changes, failed reads and refused or retried requests.
    fn is_routine(&self, event: &kv::Event) -> bool {
        matches!(
            event,
            kv::Event::Raft(Event::Committed { .. } | Event::ReadReady { .. })
                | kv::Event::Reply { result: Ok(_), .. }
        )
    }

    fn checker(&self) -> Box<dyn Checker<Node>> {
        Box::new(RaftChecker::new(Rc::clone(&self.clients)))
    }

    fn describe_message(&self, message: &raft::Message) -> MessageLabel {
        describe_message(message)
    }

    fn state(&self, node: &Node) -> Option<NodeState> {
        let raft = node.raft();
        let role = match raft.role() {
            raft::Role::Follower => "follower",
            raft::Role::PreCandidate => "pre-candidate",
            raft::Role::Candidate => "candidate",
            raft::Role::Leader => "leader",
        };
        Some(NodeState {
            role,
            term: raft.term(),
            commit: Some(raft.commit_index()),
        })
    }

    fn describe(&self, event: &kv::Event) -> String {
        match event {
            kv::Event::Reply { id, result } => describe_reply(*id, result),
            kv::Event::Raft(Event::Committed { index, term, .. }) => {
                format!("Committed {index} (term {term})")
            }
            kv::Event::Raft(Event::BecameLeader { term }) => format!("Leader of term {term}"),
            kv::Event::Raft(Event::BecameFollower { term, leader }) => match leader {
                Some(l) => format!("Follower in term {term} of {l}"),
                None => format!("Follower in term {term}"),
            },
            kv::Event::Raft(Event::ReadReady { index, .. }) => {
                format!("ReadReady at {index}")
            }
            kv::Event::Raft(Event::ReadFailed { .. }) => "ReadFailed".into(),
            kv::Event::Raft(Event::LogFull { last_index }) => format!("LogFull at {last_index}"),
            kv::Event::Raft(Event::ProposalDropped { index, term }) => {
                format!("ProposalDropped {index} (term {term})")
            }
            kv::Event::Raft(Event::MembershipCommitted { index, membership }) => {
                format!(
                    "MembershipCommitted {index}: {}",
                    describe_membership(membership)
                )
            }
            kv::Event::Raft(Event::ApplySnapshot { index, term }) => {
                format!("ApplySnapshot at {index} (term {term})")
            }
        }
    }
}

/// A reply to client `c`'s operation `#n`, for traces: `Reply c1#4 Done`.
pub(crate) fn describe_reply(id: u64, result: &KvResult) -> String {
    let (client, op) = split_id(id);
    match result {
        Ok(r) => format!("Reply c{client}#{op} {}", describe_response(r)),
        Err(e) => format!("Reply c{client}#{op} refused: {e}"),
    }
}

/// A Raft message in the paper's words: `AppendEntries t3 idx 7..9
/// commit 6`. Heartbeats and their answers are routine.
fn describe_message(message: &raft::Message) -> MessageLabel {
    use raft::Body;
    let t = message.term;
    match &message.body {
        Body::PreVote {
            last_log_index,
            last_log_term,
        } => MessageLabel::new(
            "PreVote",
            format!("PreVote t{t} last {last_log_index}/t{last_log_term}"),
        ),
        Body::PreVoteResponse { granted } => MessageLabel::new(
            "PreVoteResponse",
            format!("PreVoteResponse t{t} {}", yes_no(*granted)),
        ),
        Body::RequestVote {
            last_log_index,
            last_log_term,
            transfer,
        } => MessageLabel::new(
            "RequestVote",
            format!(
                "RequestVote t{t} last {last_log_index}/t{last_log_term}{}",
                if *transfer { " (transfer)" } else { "" }
            ),
        ),
        Body::RequestVoteResponse { granted } => MessageLabel::new(
            "RequestVoteResponse",
            format!("RequestVoteResponse t{t} {}", yes_no(*granted)),
        ),
        Body::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } => {
            let first = prev_log_index.saturating_add(1);
            let span = match entries.len() as u64 {
                0 => "no entries".to_string(),
                1 => format!("idx {first}"),
                n => format!("idx {first}..{}", prev_log_index.saturating_add(n)),
            };
            MessageLabel::new(
                "AppendEntries",
                format!(
                    "AppendEntries t{t} prev {prev_log_index}/t{prev_log_term} {span} commit {leader_commit}"
                ),
            )
        }
        Body::AppendAccepted { match_index } => MessageLabel::new(
            "AppendAccepted",
            format!("AppendAccepted t{t} match {match_index}"),
        ),
        Body::AppendRejected {
            prev_log_index,
            conflict_index,
            conflict_term,
        } => MessageLabel::new(
            "AppendRejected",
            match conflict_term {
                Some(ct) => format!(
                    "AppendRejected t{t} at {prev_log_index}, conflict t{ct} from {conflict_index}"
                ),
                None => format!(
                    "AppendRejected t{t} at {prev_log_index}, log ends before {conflict_index}"
                ),
            },
        ),
        Body::Heartbeat {
            leader_commit,
            round,
        } => MessageLabel::routine(
            "Heartbeat",
            format!("Heartbeat t{t} commit {leader_commit} round {round}"),
        ),
        Body::HeartbeatResponse { round } => MessageLabel::routine(
            "HeartbeatResponse",
            format!("HeartbeatResponse t{t} round {round}"),
        ),
        Body::TimeoutNow => MessageLabel::new("TimeoutNow", format!("TimeoutNow t{t}")),
        Body::InstallSnapshot {
            index,
            snapshot_term,
            offset,
            data,
            done,
            ..
        } => MessageLabel::new(
            "InstallSnapshot",
            format!(
                "InstallSnapshot t{t} at {index}/t{snapshot_term} bytes {offset}..{}{}",
                offset.saturating_add(data.len() as u64),
                if *done { " done" } else { "" }
            ),
        ),
        Body::SnapshotReceived { index, received } => MessageLabel::new(
            "SnapshotReceived",
            format!("SnapshotReceived t{t} at {index}, {received} bytes"),
        ),
        Body::ReadIndex { id, lease } => MessageLabel::new(
            "ReadIndex",
            format!(
                "ReadIndex t{t} read {id}{}",
                if *lease { " (lease)" } else { "" }
            ),
        ),
        Body::ReadIndexResponse { id, index } => MessageLabel::new(
            "ReadIndexResponse",
            match index {
                Some(i) => format!("ReadIndexResponse t{t} read {id} at {i}"),
                None => format!("ReadIndexResponse t{t} read {id} refused"),
            },
        ),
    }
}

fn yes_no(granted: bool) -> &'static str {
    if granted { "granted" } else { "refused" }
}

fn describe_response(r: &KvResponse) -> String {
    match r {
        KvResponse::SessionOpened { client } => format!("session {client}"),
        KvResponse::Done => "done".into(),
        KvResponse::Swapped(b) => format!("swapped {b}"),
        KvResponse::Value(Some(v)) => format!("= {}", String::from_utf8_lossy(v)),
        KvResponse::Value(None) => "= none".into(),
    }
}

/// Request ids: the client's number above bit 40, its operation counter
/// below (every resend of an operation reuses its id).
const ID_SHIFT: u32 = 40;
/// The "client" number of the operator's leadership transfers.
const OPERATOR: u64 = 0xff_ffff;
/// Chance, per client tick, that the operator hands leadership from the
/// leader the clients last heard of to another live node (about eight
/// transfers in a 20 s run).
const TRANSFER_CHANCE: f64 = 0.01;
/// The "client" number of the operator's membership changes.
const MEMBERSHIP_OPERATOR: u64 = 0xff_fffe;
/// Chance, per client tick, that the operator changes the membership
/// (about sixteen changes in a 20 s run, half of them followed at once by
/// a second that the leader must refuse).
const MEMBERSHIP_CHANCE: f64 = 0.02;

/// A reader's turn: a new read when none is open, sent to a node picked
/// at random; an open one sent again, to another pick, once its node has
/// been silent for [`READ_RESEND_MS`].
fn reader_act(
    client: &mut Client,
    number: usize,
    rng: &mut Rng,
    now_ms: u64,
    live: &[NodeId],
) -> Option<(NodeId, kv::Command)> {
    if client.open.is_none() {
        client.ops += 1;
        let key = vec![
            b'k',
            b'0' + u8::try_from(rng.below(u64::from(KEYS))).unwrap_or(0),
        ];
        client.open = Some(Request {
            id: ((number as u64) << ID_SHIFT) | client.ops,
            what: Waiting::Read {
                key,
                lease: rng.chance(0.5),
            },
            call_ms: now_ms,
            sent_ms: now_ms,
            resend: true,
            attempts: 0,
        });
    }
    let request = client.open.as_mut()?;
    if !request.resend && now_ms.saturating_sub(request.sent_ms) < READ_RESEND_MS {
        return None;
    }
    let pick = usize::try_from(rng.below(live.len() as u64)).unwrap_or(0);
    let target = live.get(pick).copied()?;
    request.attempts += 1;
    request.sent_ms = now_ms;
    request.resend = false;
    let Waiting::Read { key, lease } = &request.what else {
        return None;
    };
    let command = kv::Command::Get {
        id: request.id,
        key: key.clone(),
        lease: *lease,
    };
    Some((target, command))
}

fn split_id(id: u64) -> (u64, u64) {
    (id >> ID_SHIFT, id & ((1 << ID_SHIFT) - 1))
}

/// What a client is waiting for.
#[derive(Clone, Debug)]
enum Waiting {
    Session,
    Write {
        seq: u64,
        key: Vec<u8>,
        input: OpInput,
    },
    Read {
        key: Vec<u8>,
        lease: bool,
    },
}

#[derive(Clone, Debug)]
struct Request {
    id: u64,
    what: Waiting,
    call_ms: u64,
    sent_ms: u64,
    /// Resend at the next client tick.
    resend: bool,
    attempts: u64,
}

#[derive(Clone, Debug, Default)]
struct Client {
    session: Option<u64>,
    next_seq: u64,
    ops: u64,
    leader: Option<NodeId>,
    open: Option<Request>,
    /// The last value seen per key (for compare-and-set).
    seen: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// The clients, their history, and what went wrong for them. Paxos's
/// key-value check (`paxos-kv`) drives its store with them too.
#[derive(Clone, Debug, Default)]
pub struct Clients {
    clients: Vec<Client>,
    history: Vec<Operation>,
    values: u64,
    pub(crate) resends: u64,
    pub(crate) sessions_opened: u64,
    pub(crate) completions_ms: Vec<u64>,
    /// A reply no correct cluster gives this workload.
    pub(crate) error: Option<String>,
    /// Whether the operator hands leadership over now and then.
    operator: bool,
    /// Leadership transfers asked for, and how many began.
    transfers: u64,
    transfers_begun: u64,
    /// Every node of the run.
    nodes: Vec<NodeId>,
    /// `raft-replace`: replace the first voters with the spares.
    replace: bool,
    /// When the replacing operator last asked for a change, ms.
    replace_ms: u64,
    /// The latest membership any node reported committed, and its index.
    membership: Option<(u64, raft::Membership)>,
    /// Membership changes asked for, and how many the leader took.
    changes: u64,
    changes_taken: u64,
}

impl Clients {
    /// The commands due now: new operations and resends.
    pub(crate) fn act(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, kv::Command)> {
        if self.clients.is_empty() {
            self.clients = vec![Client::default(); CLIENTS + READERS];
        }
        let mut out = Vec::new();
        if live.is_empty() {
            return out;
        }
        for number in 0..self.clients.len() {
            let value = self.values;
            let Some(client) = self.clients.get_mut(number) else {
                continue;
            };
            if number >= CLIENTS {
                if let Some(read) = reader_act(client, number, rng, now_ms, live) {
                    out.push(read);
                }
                continue;
            }
            if client.open.is_none() && (client.session.is_none() || rng.chance(0.5)) {
                client.ops += 1;
                let id = ((number as u64) << ID_SHIFT) | client.ops;
                let what = match client.session {
                    None => Waiting::Session,
                    Some(_) => {
                        let key = vec![
                            b'k',
                            b'0' + u8::try_from(rng.below(u64::from(KEYS))).unwrap_or(0),
                        ];
                        let roll = rng.below(10);
                        if roll < 4 {
                            Waiting::Read {
                                key,
                                lease: rng.chance(0.5),
                            }
                        } else {
                            self.values += 1;
                            let new = format!("v{value}").into_bytes();
                            let seq = client.next_seq;
                            client.next_seq += 1;
                            let input = if roll < 8 {
                                OpInput::Put(new)
                            } else {
                                let expected = client.seen.get(&key).cloned().flatten();
                                OpInput::Cas { expected, new }
                            };
                            Waiting::Write { seq, key, input }
                        }
                    }
                };
                client.open = Some(Request {
                    id,
                    what,
                    call_ms: now_ms,
                    sent_ms: now_ms,
                    resend: true,
                    attempts: 0,
                });
            }
            let Some(request) = client.open.as_mut() else {
                continue;
            };
            if !request.resend && now_ms.saturating_sub(request.sent_ms) < RESEND_MS {
                continue;
            }
            // To the leader we last heard of if it is up, else anyone.
            let target = match client.leader.filter(|l| live.contains(l)) {
                Some(l) if request.attempts % 4 != 3 => l,
                _ => {
                    let pick = usize::try_from(rng.below(live.len() as u64)).unwrap_or(0);
                    live.get(pick).copied().unwrap_or(NodeId(1))
                }
            };
            if request.attempts > 0 {
                self.resends += 1;
            }
            request.attempts += 1;
            request.sent_ms = now_ms;
            request.resend = false;
            let id = request.id;
            let command = match (&request.what, client.session) {
                (Waiting::Session, _) => kv::Command::OpenSession { id },
                (Waiting::Read { key, lease }, _) => kv::Command::Get {
                    id,
                    key: key.clone(),
                    lease: *lease,
                },
                (Waiting::Write { seq, key, input }, Some(session)) => {
                    let Some(op) = write_op(key, input) else {
                        continue;
                    };
                    kv::Command::Write {
                        id,
                        client: session,
                        seq: *seq,
                        op,
                    }
                }
                (Waiting::Write { .. }, None) => continue,
            };
            out.push((target, command));
        }
        self.maybe_transfer(rng, live, &mut out);
        self.maybe_change_membership(rng, live, &mut out);
        self.maybe_replace(now_ms, live, &mut out);
        out
    }

    /// `raft-replace`: the next step of replacing voter `k` with spare `k`
    /// (learner, promotion, removal of the old one), judged from the
    /// latest membership reported committed, asked of the node the
    /// clients think leads every [`RESEND_MS`] until it is committed.
    fn maybe_replace(
        &mut self,
        now_ms: u64,
        live: &[NodeId],
        out: &mut Vec<(NodeId, kv::Command)>,
    ) {
        if !self.replace || now_ms.saturating_sub(self.replace_ms) < RESEND_MS {
            return;
        }
        let Some(leader) = self.believed_leader(live) else {
            return;
        };
        let (old, spares) = self.nodes.split_at(REPLACED_VOTERS.min(self.nodes.len()));
        let member = |id: NodeId, m: &Option<(u64, raft::Membership)>| {
            m.as_ref()
                .map_or(old.contains(&id), |(_, m)| m.contains(id))
        };
        let learner = |id: NodeId, m: &Option<(u64, raft::Membership)>| {
            m.as_ref().is_some_and(|(_, m)| m.is_learner(id))
        };
        let next = old.iter().zip(spares).find_map(|(&old, &new)| {
            if !member(new, &self.membership) {
                Some(raft::MembershipChange::AddLearner(new))
            } else if learner(new, &self.membership) {
                Some(raft::MembershipChange::Promote(new))
            } else if member(old, &self.membership) {
                Some(raft::MembershipChange::Remove(old))
            } else {
                None
            }
        });
        let Some(change) = next else {
            return;
        };
        self.replace_ms = now_ms;
        self.changes += 1;
        let id = (MEMBERSHIP_OPERATOR << ID_SHIFT) | self.changes;
        out.push((leader, kv::Command::ChangeMembership { id, change }));
    }

    /// How many of the first voters the replacing operator has replaced
    /// (the spare votes and the old server is gone, as committed).
    fn replaced(&self) -> usize {
        let Some((_, m)) = &self.membership else {
            return 0;
        };
        let (old, spares) = self.nodes.split_at(REPLACED_VOTERS.min(self.nodes.len()));
        old.iter()
            .zip(spares)
            .filter(|&(&old, &new)| m.voters().contains(new) && !m.contains(old))
            .count()
    }

    /// Now and then, as an operator replacing servers would, changes the
    /// membership through the node the clients think leads: removes a
    /// voter (the leader too) while more than three remain (fewer would
    /// tolerate no fault, and the checks want progress after the faults;
    /// so three-node runs never change), adds a removed
    /// node back as a learner, then promotes it, or swaps it for a voter
    /// in one joint change (§6). It decides from the latest membership
    /// reported committed, so it may ask for a change that no longer
    /// applies or must wait; the leader then says so.
    fn maybe_change_membership(
        &mut self,
        rng: &mut Rng,
        live: &[NodeId],
        out: &mut Vec<(NodeId, kv::Command)>,
    ) {
        if self.replace || !self.operator || !rng.chance(MEMBERSHIP_CHANCE) {
            return;
        }
        let Some(leader) = self.believed_leader(live) else {
            return;
        };
        let voters: Vec<NodeId> = match &self.membership {
            Some((_, m)) => m.voters().incoming.voters().to_vec(),
            None => self.nodes.clone(),
        };
        let learners: Vec<NodeId> = self
            .membership
            .as_ref()
            .map_or_else(Vec::new, |(_, m)| m.learners().to_vec());
        let outsiders: Vec<NodeId> = self
            .nodes
            .iter()
            .copied()
            .filter(|n| !voters.contains(n) && !learners.contains(n))
            .collect();
        let pick = |rng: &mut Rng, from: &[NodeId]| {
            let at = usize::try_from(rng.below(from.len() as u64)).unwrap_or(0);
            from.get(at).copied()
        };
        let change = if let Some(&learner) = learners.first() {
            match pick(rng, &voters).filter(|_| rng.chance(0.5)) {
                Some(out) => raft::MembershipChange::Joint {
                    voters: voters
                        .iter()
                        .copied()
                        .filter(|&v| v != out)
                        .chain([learner])
                        .collect(),
                    learners: Vec::new(),
                },
                None => raft::MembershipChange::Promote(learner),
            }
        } else if let Some(outsider) = pick(rng, &outsiders) {
            raft::MembershipChange::AddLearner(outsider)
        } else if voters.len() > 3
            && let Some(voter) = pick(rng, &voters)
        {
            raft::MembershipChange::Remove(voter)
        } else {
            return;
        };
        // Half the time the operator is impatient: a second change at once,
        // before the first has committed (the leader must refuse it; thesis
        // §4.1), adding another outsider or removing another voter.
        let involved = |c: &raft::MembershipChange, id: NodeId| match c {
            raft::MembershipChange::AddLearner(n)
            | raft::MembershipChange::Promote(n)
            | raft::MembershipChange::Remove(n) => *n == id,
            _ => true,
        };
        let mut second: Vec<raft::MembershipChange> = outsiders
            .iter()
            .filter(|&&n| !involved(&change, n))
            .map(|&n| raft::MembershipChange::AddLearner(n))
            .collect();
        if voters.len() > 4 {
            second.extend(
                voters
                    .iter()
                    .filter(|&&v| !involved(&change, v))
                    .map(|&v| raft::MembershipChange::Remove(v)),
            );
        }
        let second = if rng.chance(0.5) {
            let at = usize::try_from(rng.below(second.len().max(1) as u64)).unwrap_or(0);
            second.get(at).cloned()
        } else {
            None
        };
        for change in std::iter::once(change).chain(second) {
            self.changes += 1;
            let id = (MEMBERSHIP_OPERATOR << ID_SHIFT) | self.changes;
            out.push((leader, kv::Command::ChangeMembership { id, change }));
        }
    }

    /// The leader the clients last heard of, if it is up: where the
    /// operator sends its commands.
    fn believed_leader(&self, live: &[NodeId]) -> Option<NodeId> {
        self.clients
            .iter()
            .find_map(|c| c.leader)
            .filter(|l| live.contains(l))
    }

    /// A node reported the membership at `index` committed.
    fn on_membership(&mut self, index: u64, membership: &raft::Membership) {
        if self.membership.as_ref().is_none_or(|(i, _)| index > *i) {
            self.membership = Some((index, membership.clone()));
        }
    }

    /// Now and then, as an operator would for maintenance, hands
    /// leadership from the node the clients think leads to another.
    fn maybe_transfer(
        &mut self,
        rng: &mut Rng,
        live: &[NodeId],
        out: &mut Vec<(NodeId, kv::Command)>,
    ) {
        if !self.operator || !rng.chance(TRANSFER_CHANCE) {
            return;
        }
        let Some(leader) = self.believed_leader(live) else {
            return;
        };
        let others: Vec<NodeId> = live.iter().copied().filter(|&n| n != leader).collect();
        let pick = usize::try_from(rng.below(others.len() as u64)).unwrap_or(0);
        let Some(&to) = others.get(pick) else {
            return;
        };
        self.transfers += 1;
        let id = (OPERATOR << ID_SHIFT) | self.transfers;
        out.push((leader, kv::Command::TransferLeadership { id, to }));
    }

    /// A reply from `node` at `now_ms`.
    pub(crate) fn on_reply(&mut self, now_ms: u64, node: NodeId, id: u64, result: &KvResult) {
        let (number, _) = split_id(id);
        if number == MEMBERSHIP_OPERATOR {
            match result {
                Ok(KvResponse::Done) => self.changes_taken += 1,
                // Another change under way, a learner behind, a view of
                // the membership gone stale, a leader gone: all expected.
                Err(
                    kv::Error::NotLeader { .. } | kv::Error::Busy | kv::Error::BadMembershipChange,
                ) => {}
                other => {
                    self.error.get_or_insert_with(|| {
                        format!("n{} answered a membership change with {other:?}", node.0)
                    });
                }
            }
            return;
        }
        if number == OPERATOR {
            match result {
                Ok(KvResponse::Done) => self.transfers_begun += 1,
                // The target may have left the voters since the operator
                // looked, and a membership change may be under way.
                Err(kv::Error::NotLeader { .. } | kv::Error::NotAVoter | kv::Error::Busy) => {}
                other => {
                    self.error.get_or_insert_with(|| {
                        format!("n{} answered a leadership transfer with {other:?}", node.0)
                    });
                }
            }
            return;
        }
        let Some(client) = usize::try_from(number)
            .ok()
            .and_then(|n| self.clients.get_mut(n))
        else {
            return;
        };
        // Replies to finished operations (a resend answered twice) are old news.
        let Some(request) = client.open.as_mut().filter(|r| r.id == id) else {
            return;
        };
        let output = match (result, &request.what) {
            (Err(kv::Error::NotLeader { leader_hint }), _) => {
                client.leader = *leader_hint;
                request.resend = true;
                return;
            }
            (Err(kv::Error::Retry | kv::Error::Busy), _) => {
                request.resend = true;
                return;
            }
            (Ok(KvResponse::SessionOpened { client: session }), Waiting::Session) => {
                client.session = Some(*session);
                client.next_seq = 1;
                client.leader = Some(node);
                client.open = None;
                self.sessions_opened += 1;
                return;
            }
            (Err(kv::Error::SessionExpired), Waiting::Write { .. }) => {
                // The write may have been applied by an earlier copy; the
                // store can no longer say. Its outcome stays unknown.
                client.session = None;
                OpOutput::Unknown
            }
            (
                Ok(KvResponse::Done),
                Waiting::Write {
                    input: OpInput::Put(_),
                    ..
                },
            ) => OpOutput::Ok,
            (
                Ok(KvResponse::Swapped(b)),
                Waiting::Write {
                    input: OpInput::Cas { .. },
                    ..
                },
            ) => OpOutput::Swapped(*b),
            (Ok(KvResponse::Value(v)), Waiting::Read { .. }) => OpOutput::Value(v.clone()),
            (other, what) => {
                self.error
                    .get_or_insert_with(|| format!("n{} answered {what:?} with {other:?}", node.0));
                return;
            }
        };
        client.leader = Some(node);
        let Some(request) = client.open.take() else {
            return;
        };
        let (key, input) = match request.what {
            Waiting::Write { key, input, .. } => (key, input),
            Waiting::Read { key, .. } => (key, OpInput::Get),
            Waiting::Session => return,
        };
        let returned = output != OpOutput::Unknown;
        // What the client now believes the key holds.
        let seen = match (&input, &output) {
            (_, OpOutput::Value(v)) => Some(v.clone()),
            (
                OpInput::Put(v) | OpInput::Cas { new: v, .. },
                OpOutput::Ok | OpOutput::Swapped(true),
            ) => Some(Some(v.clone())),
            _ => None,
        };
        if let Some(v) = seen {
            client.seen.insert(key.clone(), v);
        }
        if returned {
            self.completions_ms.push(now_ms);
        }
        self.history.push(Operation {
            client: number,
            key,
            input,
            output,
            call_ms: request.call_ms,
            return_ms: returned.then_some(now_ms),
        });
    }

    /// When the open request `id` was first issued, if it is open.
    fn call_ms(&self, id: u64) -> Option<u64> {
        let (number, _) = split_id(id);
        let client = self.clients.get(usize::try_from(number).ok()?)?;
        client
            .open
            .as_ref()
            .filter(|r| r.id == id)
            .map(|r| r.call_ms)
    }

    /// The whole history: completed operations, and those still open as
    /// "may or may not have happened".
    pub(crate) fn history(&self) -> Vec<Operation> {
        let mut all = self.history.clone();
        for (number, c) in self.clients.iter().enumerate() {
            let Some(r) = &c.open else { continue };
            let (key, input) = match &r.what {
                Waiting::Write { key, input, .. } => (key.clone(), input.clone()),
                Waiting::Read { key, .. } => (key.clone(), OpInput::Get),
                Waiting::Session => continue,
            };
            all.push(Operation {
                client: number as u64,
                key,
                input,
                output: OpOutput::Unknown,
                call_ms: r.call_ms,
                return_ms: None,
            });
        }
        all
    }
}

/// The store's write for a history input; `None` for a read.
fn write_op(key: &[u8], input: &OpInput) -> Option<KvOp> {
    match input {
        OpInput::Put(v) => Some(KvOp::Put {
            key: key.to_vec(),
            value: v.clone(),
        }),
        OpInput::Cas { expected, new } => Some(KvOp::Cas {
            key: key.to_vec(),
            expected: expected.clone(),
            new: Some(new.clone()),
        }),
        OpInput::Get => None,
    }
}

/// An entry known to be committed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Committed {
    term: u64,
    data: Vec<u8>,
    /// The highest term any leader had been elected in when the entry was
    /// first applied: the leader that committed it led a term at most
    /// this high.
    by_term: u64,
}

/// The Raft checker; see the [module docs](self).
#[derive(Debug)]
pub struct RaftChecker {
    clients: Rc<RefCell<Clients>>,
    leaders: BTreeMap<u64, NodeId>,
    committed: BTreeMap<u64, Committed>,
    /// The memberships committed, by index.
    memberships: BTreeMap<u64, raft::Membership>,
    /// Per node: the last index applied in this lifetime.
    applied: BTreeMap<NodeId, u64>,
    /// Leaders elected in this step, to check against the committed log.
    new_leaders: Vec<(NodeId, u64)>,
    /// When the highest index committed anywhere grew: (first report, ms;
    /// index). An index reported by then was committed by then.
    commit_times: Vec<(u64, u64)>,
    /// Per node: the read request just answered and when it was issued;
    /// the Raft `ReadReady` with its read index follows the reply.
    answered_read: BTreeMap<NodeId, (u64, u64)>,
    reads_checked: u64,
    /// The highest term with a leader so far, and when it was elected.
    newest_leader_term: (u64, u64),
    /// Per node: the time of its last input seen (its own clock), to
    /// tell which nodes took an input in a step, and the simulated time of
    /// that step.
    last_input: BTreeMap<NodeId, (Instant, u64)>,
    leases_checked: u64,
    steps: u64,
    log_matching_checks: u64,
}

impl RaftChecker {
    fn new(clients: Rc<RefCell<Clients>>) -> Self {
        RaftChecker {
            clients,
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            memberships: BTreeMap::new(),
            applied: BTreeMap::new(),
            new_leaders: Vec::new(),
            commit_times: Vec::new(),
            answered_read: BTreeMap::new(),
            reads_checked: 0,
            newest_leader_term: (0, 0),
            last_input: BTreeMap::new(),
            leases_checked: 0,
            steps: 0,
            log_matching_checks: 0,
        }
    }

    /// Lease safety (thesis §6.4): a leader whose lease holds would
    /// answer a lease read without asking anyone, so no leader of a later
    /// term may have been elected while it holds (the module docs say why
    /// elected, not only committed). Stricter than read freshness, which
    /// needs a read to arrive in that moment. Judged twice: at the nodes
    /// that took an input in this step, whose [`RaftNode::lease_holds`] is
    /// then about the present; and, the moment a leader of a later term is
    /// elected, at every older leader, whose lease is judged at that moment
    /// on its own clock ([`RaftNode::lease_holds_at`]) whether or not it
    /// takes an input before it learns of the election (a read could reach
    /// it first).
    fn check_leases(
        &mut self,
        time_ms: u64,
        nodes: &[(NodeId, Option<&Node>)],
    ) -> Result<(), String> {
        for (id, node) in nodes {
            let Some(node) = node else {
                self.last_input.remove(id);
                continue;
            };
            let raft = node.raft();
            let seen = self.last_input.get(id).map(|(local, _)| *local);
            if seen == Some(raft.now()) {
                continue;
            }
            self.last_input.insert(*id, (raft.now(), time_ms));
            if !raft.lease_holds() {
                continue;
            }
            self.leases_checked += 1;
            let (term, since) = self.newest_leader_term;
            if term > raft.term() {
                return Err(format!(
                    "lease safety: {id}, leader of term {}, still holds its lease at {time_ms} ms, but a leader of term {term} was elected at {since} ms",
                    raft.term()
                ));
            }
        }
        for &(elected, term) in &self.new_leaders {
            for (id, node) in nodes {
                let (Some(node), Some(&(local, since))) = (node, self.last_input.get(id)) else {
                    continue;
                };
                let raft = node.raft();
                if *id == elected || raft.term() >= term {
                    continue;
                }
                // Its clock reads at most this now (it runs at most 1,000
                // ppm fast): a lease that holds then holds now.
                let elapsed = time_ms.saturating_sub(since);
                let at = local.saturating_add_millis(elapsed + elapsed / 1_000 + 1);
                if raft.lease_holds_at(at) {
                    return Err(format!(
                        "lease safety: {elected} was elected leader of term {term} at {time_ms} ms, while {id}, leader of term {}, holds a lease that would answer a read then",
                        raft.term()
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_log_matching(&mut self, nodes: &[(NodeId, Option<&Node>)]) -> Result<(), String> {
        self.log_matching_checks += 1;
        let live: Vec<(NodeId, &ArenaLog)> = nodes
            .iter()
            .filter_map(|(id, n)| n.map(|n| (*id, n.raft().log())))
            .collect();
        for (i, (a, la)) in live.iter().enumerate() {
            for (b, lb) in live.iter().skip(i + 1) {
                // The highest index at which both logs hold the same term,
                // among the entries both hold (below a snapshot, entries
                // are committed; state machine safety covers them).
                let bottom = la.first_index().max(lb.first_index());
                let top = la.last_index().min(lb.last_index());
                let Some(matched) = (bottom..=top).rev().find(|&k| la.term(k) == lb.term(k)) else {
                    continue;
                };
                for k in bottom..=matched {
                    let (ea, eb) = (la.entry(k), lb.entry(k));
                    if ea.map(|e| (e.term, e.data)) != eb.map(|e| (e.term, e.data)) {
                        return Err(format!(
                            "log matching: {a} and {b} agree on the term of entry {matched} but differ at {k}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Checker<Node> for RaftChecker {
    fn name(&self) -> &'static str {
        "Raft safety (election, log matching, leader completeness, state machine) and linearizability"
    }

    fn on_event(&mut self, time_ms: u64, node: NodeId, event: &kv::Event) -> Result<(), String> {
        match event {
            kv::Event::Reply { id, result } => {
                let mut clients = self.clients.borrow_mut();
                if let (Ok(KvResponse::Value(_)), Some(call_ms)) = (result, clients.call_ms(*id)) {
                    self.answered_read.insert(node, (*id, call_ms));
                }
                clients.on_reply(time_ms, node, *id, result);
                if let Some(e) = &clients.error {
                    return Err(format!("client saw a wrong reply: {e}"));
                }
            }
            kv::Event::Raft(Event::BecameLeader { term }) => {
                if let Some(other) = self.leaders.insert(*term, node)
                    && other != node
                {
                    return Err(format!(
                        "election safety: term {term} has two leaders, {other} and {node}"
                    ));
                }
                self.new_leaders.push((node, *term));
                if *term > self.newest_leader_term.0 {
                    self.newest_leader_term = (*term, time_ms);
                }
            }
            kv::Event::Raft(Event::Committed { index, term, data }) => {
                let applied = self.applied.entry(node).or_insert(0);
                if *index != *applied + 1 {
                    return Err(format!(
                        "{node} applied entry {index} after {applied} (every index once, in order)"
                    ));
                }
                *applied = *index;
                let entry = Committed {
                    term: *term,
                    data: data.clone(),
                    by_term: self.leaders.keys().next_back().copied().unwrap_or(0),
                };
                match self.committed.get(index) {
                    Some(known) if (known.term, &known.data) != (entry.term, &entry.data) => {
                        return Err(format!(
                            "state machine safety: {node} applied entry {index} of term {term}, but term {}'s entry was applied there before",
                            known.term
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.committed.insert(*index, entry);
                        self.commit_times.push((time_ms, *index));
                    }
                }
            }
            kv::Event::Raft(Event::ReadReady { index, .. }) => {
                // Thesis §6.4: a read reflects every entry committed before
                // it was issued. Stricter than the clients' history, which
                // sees only the keys they touch: a deposed leader's stale
                // read shows here as soon as the new leader's first entry
                // commits.
                let Some((id, call_ms)) = self.answered_read.remove(&node) else {
                    return Ok(());
                };
                self.reads_checked += 1;
                let before = self.commit_times.partition_point(|&(t, _)| t < call_ms);
                let floor = before
                    .checked_sub(1)
                    .and_then(|k| self.commit_times.get(k))
                    .map_or(0, |&(_, i)| i);
                if *index < floor {
                    let (client, op) = split_id(id);
                    return Err(format!(
                        "read freshness: {node} answered read c{client}#{op}, issued at {call_ms} ms, at index {index}, but entry {floor} was committed before it was issued"
                    ));
                }
            }
            kv::Event::Raft(Event::MembershipCommitted { index, membership }) => {
                // Like entries, a committed membership is the same on
                // every node that reports it.
                if let Some(known) = self.memberships.get(index)
                    && known != membership
                {
                    return Err(format!(
                        "state machine safety: {node} committed membership {membership:?} at {index}, but {known:?} was committed there"
                    ));
                }
                self.memberships.insert(*index, membership.clone());
                self.clients.borrow_mut().on_membership(*index, membership);
            }
            kv::Event::Raft(Event::ApplySnapshot { index, term }) => {
                // The store now holds every entry up to `index`; the
                // entries after it follow as Committed. A snapshot covers
                // only committed entries: its last one is the one applied
                // everywhere at that index.
                if let Some(known) = self.committed.get(index)
                    && known.term != *term
                {
                    return Err(format!(
                        "state machine safety: {node} installed a snapshot up to entry {index} of term {term}, but term {}'s entry was applied there",
                        known.term
                    ));
                }
                let applied = self.applied.entry(node).or_insert(0);
                if *index <= *applied {
                    return Err(format!(
                        "{node} installed a snapshot at {index} after applying {applied}"
                    ));
                }
                *applied = *index;
            }
            kv::Event::Raft(_) => {}
        }
        Ok(())
    }

    fn after_step(
        &mut self,
        time_ms: u64,
        nodes: &[(NodeId, Option<&Node>)],
    ) -> Result<(), String> {
        self.steps += 1;
        self.check_leases(time_ms, nodes)?;
        for (id, node) in nodes {
            if node.is_none() {
                // Crashed: a restarted node applies from index 1 again.
                self.applied.remove(id);
            }
        }
        for (leader, term) in std::mem::take(&mut self.new_leaders) {
            let Some(Some(node)) = nodes.iter().find(|(id, _)| *id == leader).map(|(_, n)| *n)
            else {
                continue;
            };
            let log = node.raft().log();
            // Entries below the leader's snapshot are in its state machine
            // (state machine safety checks them as they are applied).
            let compacted = log.first_index().saturating_sub(1);
            // Leader completeness binds leaders of later terms than the one
            // that committed an entry; a leader of an older term (elected
            // late on delayed votes) may lack it, and commits nothing.
            let later = self
                .committed
                .range(compacted..)
                .filter(|(_, e)| e.by_term < term);
            for (index, entry) in later {
                if log.term(*index) != Some(entry.term) {
                    return Err(format!(
                        "leader completeness: {leader}, leader of term {term}, lacks committed entry {index} of term {}",
                        entry.term
                    ));
                }
            }
        }
        if self.steps % LOG_MATCHING_EVERY == 0 {
            self.check_log_matching(nodes)?;
        }
        Ok(())
    }

    fn at_end(&mut self, _time_ms: u64, nodes: &[(NodeId, Option<&Node>)]) -> Result<(), String> {
        self.check_log_matching(nodes)?;
        let history = self.clients.borrow().history();
        linearizability::check(&history).map_err(|e| format!("linearizability: {e}"))
    }

    fn report(&self) -> Vec<(String, String)> {
        let clients = self.clients.borrow();
        let completed = clients.completions_ms.len();
        let unknown = clients.history().len() - completed;
        vec![
            ("terms with a leader".into(), self.leaders.len().to_string()),
            ("entries committed".into(), self.committed.len().to_string()),
            ("client operations completed".into(), completed.to_string()),
            (
                "client operations with unknown outcome".into(),
                unknown.to_string(),
            ),
            ("client resends".into(), clients.resends.to_string()),
            (
                "leadership transfers asked, begun".into(),
                format!("{}, {}", clients.transfers, clients.transfers_begun),
            ),
            ("servers replaced".into(), clients.replaced().to_string()),
            (
                "membership changes asked, taken, committed".into(),
                format!(
                    "{}, {}, {}",
                    clients.changes,
                    clients.changes_taken,
                    self.memberships.len()
                ),
            ),
            (
                "sessions opened".into(),
                clients.sessions_opened.to_string(),
            ),
            (
                "last client completion, ms".into(),
                clients
                    .completions_ms
                    .last()
                    .map_or("-".into(), ToString::to_string),
            ),
            (
                "log matching checks".into(),
                self.log_matching_checks.to_string(),
            ),
            (
                "reads checked for freshness".into(),
                self.reads_checked.to_string(),
            ),
            (
                "leases checked at inputs".into(),
                self.leases_checked.to_string(),
            ),
        ]
    }
}

/// `voters 1,2,3 (joint with 1,2,4); learners 5`.
fn describe_membership(m: &raft::Membership) -> String {
    let list = |ids: &[NodeId]| {
        ids.iter()
            .map(|id| id.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let voters = m.voters();
    let mut text = format!("voters {}", list(voters.incoming.voters()));
    if m.is_joint() {
        text += &format!(" (joint with {})", list(voters.outgoing.voters()));
    }
    if !m.learners().is_empty() {
        text += &format!("; learners {}", list(m.learners()));
    }
    text
}
