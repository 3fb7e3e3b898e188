//! Raft targets: wire and record decoding, and one Raft node under any
//! sequence of inputs.
//!
//! `raft_step` drives a single `RaftNode<ArenaLog>` (the input picks its
//! voters, joint or not, its timing, every bound and the log's capacity)
//! with messages of any body and any term from any claimed sender (voters,
//! non-voters and the node itself; structured with terms and indexes near
//! the node's, or raw bytes through `handle_message`), ticks at monotone
//! times, `Propose`, `Read` and `LeaseRead`, and crash-restarts through
//! `RaftNode::restore((config, empty log), records persisted so far)`. In
//! "lazy" inputs the outputs pile up until a `Drain` step (up to a count),
//! so backpressure and crashes that lose undrained outputs happen too.
//! It checks, output by output and after each drain:
//!
//! - no panic; commands fail exactly as documented (not leader, with the
//!   right hint; entry too large; too many uncommitted entries; log full;
//!   too many reads; lease reads disabled), and a refused input changes
//!   nothing and queues nothing; messages are never refused, and those from
//!   non-voters or the node itself have no effect;
//! - bounded output: one input queues at most a bound set by the
//!   configuration; `Backpressure` only when `max_outputs` are waiting;
//! - persistence: the `HardState` terms never decrease; at most one vote per
//!   term, across restarts; every message carries the last persisted term
//!   (a pre-vote request that term plus one, a granted pre-vote the term it
//!   was asked about), a granted vote and a vote request follow the
//!   persisted vote, and a leader is elected only in a persisted term in
//!   which it voted for itself, at most once per term across restarts;
//!   everything the node acknowledges (`AppendAccepted`), commits or sends
//!   as log entries is in the log its records describe, and after a drain
//!   that log is exactly the node's;
//! - the term never decreases, across restarts too;
//! - the commit index never decreases within a life and stays within the
//!   log; `Committed` comes once per index in index order from 1 in each
//!   life, with the persisted entry; `ReadReady` only for a waiting read
//!   and only once the entries up to its index are committed; reads are
//!   answered at most once;
//! - AppendEntries respect the per-message bounds, and every message
//!   round-trips through the wire format;
//! - after a tick, the next deadline is in the future (or now, while
//!   committed entries remain to be reported);
//! - a restart from the records gives the persisted term, vote and log.

pub mod kv;

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use consensio::quorum::{JointConfig, MajorityConfig};
use consensio::raft::{
    self, ArenaLog, Body, Command, Entry, EntryKind, Event, KvEntry, KvLimits, KvStore, LogStorage,
    Membership, MembershipChange, Message, Persist, RaftNode, Role, Snapshot, Writer,
};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore};

use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, round_trip, structured};

/// `raft_decode`: Raft messages, persisted records (the wire frames the C
/// and Python surfaces store) and key-value entries decode without
/// panicking, and whatever decodes survives decode → encode → decode
/// unchanged; the key-value store applies any payload (see `store_apply`);
/// and a node restored
/// from any sequence of records (read from the input by postcard) either
/// refuses them or starts with the last hard state and takes a tick.
pub fn decode(data: &[u8]) {
    round_trip::<Message>(data);
    round_trip::<Persist>(data);
    round_trip::<KvEntry>(data);
    store_apply(data);
    if let Ok((records, _)) = postcard::take_from_bytes::<Vec<Persist>>(data) {
        restore_from(&records);
    }
}

/// A committed payload comes from some leader's log: the key-value store
/// applies anything without panicking, answers every non-empty payload,
/// and two replicas that apply the same payloads stay identical.
fn store_apply(data: &[u8]) {
    let limits = KvLimits {
        max_keys: 2,
        max_key_bytes: 8,
        max_value_bytes: 8,
        max_sessions: 2,
        session_expiry_ms: 100,
    };
    let (mut a, mut b) = (KvStore::new(limits), KvStore::new(limits));
    for index in 1..=3 {
        let answer = a.apply(index, data);
        assert_eq!(answer.is_some(), !data.is_empty(), "one answer per payload");
        assert_eq!(b.apply(index, data), answer, "replicas answer alike");
        assert!(a.len() <= limits.max_keys && a.sessions() <= limits.max_sessions);
    }
    assert_eq!(a, b, "replicas stay identical");
    assert_eq!(
        a.apply(2, data),
        None,
        "an applied index is not applied again"
    );
}

fn restore_from(records: &[Persist]) {
    let voters = MajorityConfig::from_voters([1, 2, 3].map(NodeId)).expect("voters");
    let config = raft::Config::new(NodeId(1), voters);
    match RaftNode::restore((config, ArenaLog::new(16, 256)), records) {
        Err(raft::Error::CorruptRecords { record } | raft::Error::ForeignRecords { record }) => {
            assert!(record < records.len())
        }
        Err(raft::Error::LogFull) => {}
        Err(e) => panic!("restore failed with {e:?}"),
        Ok(mut node) => {
            let last = records.iter().rev().find_map(|r| match r {
                Persist::HardState { term, vote } | Persist::Snapshot { term, vote, .. } => {
                    Some((*term, *vote))
                }
                Persist::Entries { .. } | Persist::Identity(_) => None,
            });
            assert_eq!((node.term(), node.vote()), last.unwrap_or((0, None)));
            node.handle_input(Instant::ZERO, Input::Tick)
                .expect("a tick after a restart");
            while node.poll_output().is_some() {}
        }
    }
}

/// Node ids the input draws from: 1 to 5 may be voters, 0 and 6 never are.
const IDS: u8 = 7;

#[derive(Arbitrary, Debug)]
pub struct StepInput {
    /// This node's id is `1 + id % 5`.
    id: u8,
    /// Bit `i` makes node `i + 1` a voter of the incoming half (this node
    /// always is).
    incoming: u8,
    /// The outgoing half of a joint configuration, likewise (empty: none).
    outgoing: u8,
    seed: u8,
    heartbeat_ms: u8,
    election_extra_ms: u8,
    election_span_ms: u8,
    drift_ms: u8,
    pre_vote: bool,
    check_quorum: bool,
    /// Entries and bytes per message, largest entry, inflight messages and
    /// bytes, uncommitted entries, pending reads, applied per input,
    /// outputs.
    bounds: [u8; 9],
    log_entries: u8,
    log_bytes: u8,
    /// Outputs are drained only by `Drain` steps.
    lazy: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from `from % 7` in a term near the node's.
    Message {
        from: u8,
        term: u8,
        body: Forged,
    },
    /// Raw bytes from `from % 7`, through `handle_message`.
    Bytes {
        from: u8,
        bytes: Vec<u8>,
    },
    Tick {
        advance_ms: u8,
    },
    /// A tick at the node's next deadline (or now, if that has passed).
    TickAtDeadline,
    Propose(Vec<u8>),
    Read,
    LeaseRead,
    /// Drains up to `max` outputs (all of them if `None`).
    Drain(Option<u8>),
    /// Crash (losing undrained outputs) and restart from the records.
    Restart,
    /// Hand leadership to `to % 7`.
    Transfer {
        to: u8,
    },
    /// A membership change: `kind % 4` adds learner `node % 7`, promotes
    /// it, removes it, or moves to the voters and learners the bits of
    /// `node` and `learners` pick (among 1 to 5).
    Membership {
        kind: u8,
        node: u8,
        learners: u8,
    },
    /// Snapshot the state up to `back` entries before the applied index
    /// (`RaftNode::compact`), with `len % 16` bytes of state.
    Compact {
        back: u8,
        len: u8,
    },
}

/// A message body; indexes near the node's last index, terms near the
/// message's term.
#[derive(Arbitrary, Debug)]
enum Forged {
    PreVote {
        last_index: u8,
        last_term: u8,
    },
    PreVoteResponse {
        granted: bool,
    },
    RequestVote {
        last_index: u8,
        last_term: u8,
    },
    RequestVoteResponse {
        granted: bool,
    },
    AppendEntries {
        prev_index: u8,
        /// Below 96: the term the node's log has there (a match).
        prev_term: u8,
        entries: Vec<(u8, Vec<u8>)>,
        commit: u8,
    },
    AppendAccepted {
        match_index: u8,
    },
    AppendRejected {
        prev_index: u8,
        conflict_index: u8,
        conflict_term: Option<u8>,
    },
    Heartbeat {
        commit: u8,
        round: u8,
    },
    HeartbeatResponse {
        round: u8,
    },
    TimeoutNow,
    /// A vote request of a leadership transfer's target.
    TransferVote {
        last_index: u8,
        last_term: u8,
    },
    /// A chunk of a leader's snapshot.
    InstallSnapshot {
        index: u8,
        term: u8,
        /// Below 128: where the node's incoming snapshot would go on.
        offset: u8,
        data: Vec<u8>,
        done: bool,
    },
    SnapshotReceived {
        index: u8,
        received: u8,
    },
    /// A follower asks for a read index.
    ReadIndex {
        id: u8,
        lease: bool,
    },
    /// The leader's answer to a read of this node's (ids near its last).
    ReadIndexResponse {
        id: u8,
        index: Option<u8>,
    },
}

fn forge(node: &RaftNode<ArenaLog>, term: u64, next_read: u64, forged: &Forged) -> Body {
    let log = node.log();
    let last = log.last_index();
    let index = |v: u8| near(v, last);
    match forged {
        Forged::PreVote {
            last_index,
            last_term,
        } => Body::PreVote {
            last_log_index: index(*last_index),
            last_log_term: near(*last_term, log.last_term()),
        },
        Forged::PreVoteResponse { granted } => Body::PreVoteResponse { granted: *granted },
        Forged::RequestVote {
            last_index,
            last_term,
        } => Body::RequestVote {
            last_log_index: index(*last_index),
            last_log_term: near(*last_term, log.last_term()),
            transfer: false,
        },
        Forged::TransferVote {
            last_index,
            last_term,
        } => Body::RequestVote {
            last_log_index: index(*last_index),
            last_log_term: near(*last_term, log.last_term()),
            transfer: true,
        },
        Forged::TimeoutNow => Body::TimeoutNow,
        Forged::RequestVoteResponse { granted } => Body::RequestVoteResponse { granted: *granted },
        Forged::AppendEntries {
            prev_index,
            prev_term,
            entries,
            commit,
        } => {
            let prev_log_index = index(*prev_index);
            let prev_log_term = match log.term(prev_log_index) {
                Some(t) if *prev_term < 96 => t,
                _ => near(*prev_term, term),
            };
            Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries: entries
                    .iter()
                    .take(8)
                    .map(|(t, data)| forge_entry(near(*t, term), data))
                    .collect(),
                leader_commit: index(*commit),
            }
        }
        Forged::AppendAccepted { match_index } => Body::AppendAccepted {
            match_index: index(*match_index),
        },
        Forged::AppendRejected {
            prev_index,
            conflict_index,
            conflict_term,
        } => Body::AppendRejected {
            prev_log_index: index(*prev_index),
            conflict_index: index(*conflict_index),
            conflict_term: conflict_term.map(|t| near(t, term)),
        },
        Forged::Heartbeat { commit, round } => Body::Heartbeat {
            leader_commit: index(*commit),
            round: near(*round, 1),
        },
        Forged::HeartbeatResponse { round } => Body::HeartbeatResponse {
            round: near(*round, 1),
        },
        Forged::InstallSnapshot {
            index: at,
            term: snapshot_term,
            offset,
            data,
            done,
        } => Body::InstallSnapshot {
            index: index(*at),
            snapshot_term: near(*snapshot_term, term),
            offset: if *offset < 128 {
                u64::from(*offset % 3) * 4
            } else {
                near(*offset, 0)
            },
            data: data.iter().copied().take(16).collect(),
            done: *done,
            membership: node.membership().clone(),
        },
        Forged::SnapshotReceived {
            index: at,
            received,
        } => Body::SnapshotReceived {
            index: index(*at),
            received: near(*received, 0),
        },
        Forged::ReadIndex { id, lease } => Body::ReadIndex {
            id: u64::from(*id),
            lease: *lease,
        },
        Forged::ReadIndexResponse { id, index: at } => Body::ReadIndexResponse {
            id: near(*id, next_read),
            index: at.map(index),
        },
    }
}

/// An entry of `term`: a membership entry if `data` starts with 0xff and
/// its next two bytes pick a valid membership (voters, learners among 1 to
/// 5), else the application's, with at most 32 bytes.
fn forge_entry(term: u64, data: &[u8]) -> Entry {
    if let [0xff, incoming, learners, ..] = *data {
        let learners = (1..=5u64)
            .filter(|v| learners & (1 << (v - 1)) != 0)
            .map(NodeId);
        if let Ok(m) = Membership::new(voters(0, incoming).into(), learners) {
            let data = postcard::to_allocvec(&m).expect("encodes");
            return Entry {
                term,
                kind: EntryKind::Membership,
                data,
            };
        }
    }
    Entry::normal(term, data.iter().copied().take(32).collect())
}

fn voters(id: u64, mask: u8) -> MajorityConfig {
    let ids = (1..=5u64)
        .filter(|&v| v == id || mask & (1 << (v - 1)) != 0)
        .map(NodeId);
    MajorityConfig::from_voters(ids).expect("at most five voters")
}

fn config(input: &StepInput) -> raft::Config {
    let id = u64::from(input.id % 5) + 1;
    let incoming = voters(id, input.incoming);
    let outgoing = if input.outgoing & 0x1f == 0 {
        MajorityConfig::default()
    } else {
        voters(0, input.outgoing)
    };
    let heartbeat = u64::from(input.heartbeat_ms % 8) + 1;
    let election_min = heartbeat + 1 + u64::from(input.election_extra_ms % 32);
    let b = input.bounds.map(usize::from);
    let max_bytes_per_message = b[1] % 64 + 1;
    raft::Config {
        seed: u64::from(input.seed),
        election_timeout_min_ms: election_min,
        election_timeout_max_ms: election_min + 1 + u64::from(input.election_span_ms % 32),
        heartbeat_interval_ms: heartbeat,
        pre_vote: input.pre_vote,
        check_quorum: input.check_quorum,
        max_clock_drift_ms: u64::from(input.drift_ms) % election_min,
        max_entries_per_message: b[0] % 4 + 1,
        max_bytes_per_message,
        max_entry_bytes: b[2] % (max_bytes_per_message + 1),
        max_inflight_messages: b[3] % 3 + 1,
        max_inflight_bytes: b[4] % 128 + 1,
        max_uncommitted_entries: (b[5] % 8 + 1) as u64,
        max_pending_reads: b[6] % 4 + 1,
        max_apply_per_step: b[7] % 4 + 1,
        max_outputs: b[8] % 64 + 1,
        ..raft::Config::new(NodeId(id), JointConfig::new(incoming, outgoing))
    }
}

/// `raft_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: StepInput| {
        run(&input);
    });
}

/// What a run reached, for the tests that show the harness gets deep.
#[derive(Debug, Default)]
struct Reached {
    leaders: usize,
    committed: usize,
    reads_ready: usize,
    log_full: usize,
    votes_granted: usize,
    snapshots_applied: usize,
    proposals_dropped: usize,
    memberships_committed: usize,
}

fn run(input: &StepInput) -> Reached {
    let config = config(input);
    config
        .validate()
        .expect("the harness builds valid configurations");
    let mut family = Raft::new(
        config,
        usize::from(input.log_entries % 32) + 1,
        usize::from(input.log_bytes),
    );
    harness::run(&mut family, &input.steps, input.lazy);
    family.reached
}

/// What must not change when an input is refused.
type Summary = (
    u64,
    Option<NodeId>,
    Role,
    Option<NodeId>,
    u64,
    u64,
    u64,
    u64,
    Vec<NodeId>,
);

/// One Raft node for the [`harness`]: its configuration, and what it
/// persisted and reported.
struct Raft {
    config: raft::Config,
    /// The capacity of the log a node is (re)built over.
    log_entries: usize,
    log_bytes: usize,
    me: NodeId,
    /// The snapshot the records describe (index 0, term 0 and no data
    /// before the first), and the log after it.
    base: Snapshot,
    durable: Vec<Entry>,
    /// The records began with this node's identity.
    identified: bool,
    /// The last persisted term and vote.
    hard: (u64, Option<NodeId>),
    /// Every vote persisted, by term, across lives.
    votes: BTreeMap<u64, NodeId>,
    /// The last term this node became leader in, across lives.
    led: Option<u64>,
    /// This life: the last index reported committed, and the largest
    /// commit index seen.
    applied: u64,
    commit: u64,
    /// This life: proposals accepted, as (index, term), until committed,
    /// dropped or covered by a snapshot; and the last entry applied.
    proposed: BTreeSet<(u64, u64)>,
    last_applied: (u64, u64),
    /// The last input accepted was a message that must have no effect.
    last_outsider: bool,
    /// This life: reads accepted and not yet answered (their ids).
    reads: BTreeSet<u64>,
    next_read: u64,
    reached: Reached,
}

type Node = RaftNode<ArenaLog>;

impl Raft {
    fn new(config: raft::Config, log_entries: usize, log_bytes: usize) -> Self {
        let me = config.id;
        let membership = config.membership().expect("valid");
        Raft {
            config,
            log_entries,
            log_bytes,
            me,
            base: Snapshot {
                index: 0,
                term: 0,
                membership,
                data: Vec::new(),
            },
            durable: Vec::new(),
            identified: false,
            hard: (0, None),
            votes: BTreeMap::new(),
            led: None,
            applied: 0,
            commit: 0,
            proposed: BTreeSet::new(),
            last_applied: (0, 0),
            last_outsider: false,
            reads: BTreeSet::new(),
            next_read: 0,
            reached: Reached::default(),
        }
    }

    /// What a command must return, when no output is waiting (so the
    /// harness knows the reads still pending).
    fn expected_error(&self, node: &Node, command: &Command) -> Result<(), raft::Error> {
        let c = &self.config;
        let follower_read = node.role() == Role::Follower
            && node.leader().is_some()
            && matches!(command, Command::Read { .. } | Command::LeaseRead { .. });
        if node.role() != Role::Leader && !follower_read {
            return Err(raft::Error::NotLeader {
                leader_hint: node.leader(),
            });
        }
        match command {
            Command::Propose(data) => {
                if let Some(to) = node.transferring_to() {
                    return Err(raft::Error::TransferInProgress { to });
                }
                if data.len() > c.max_entry_bytes {
                    return Err(raft::Error::EntryTooLarge {
                        len: data.len(),
                        max: c.max_entry_bytes,
                    });
                }
                let log = node.log();
                if log.last_index() - node.commit_index() >= c.max_uncommitted_entries {
                    return Err(raft::Error::TooManyUncommitted {
                        max: c.max_uncommitted_entries,
                    });
                }
                let mut probe = log.clone();
                if probe.append(node.term(), data).is_err() {
                    return Err(raft::Error::LogFull);
                }
                Ok(())
            }
            Command::Read { .. } | Command::LeaseRead { .. } => {
                if matches!(command, Command::LeaseRead { .. }) && !c.check_quorum {
                    return Err(raft::Error::LeaseReadsDisabled);
                }
                if node.pending_reads() >= c.max_pending_reads {
                    return Err(raft::Error::TooManyReads {
                        max: c.max_pending_reads,
                    });
                }
                Ok(())
            }
            Command::ChangeMembership(_) => unreachable!("no expectation (see `expected`)"),
            Command::TransferLeadership { to } => {
                if *to == self.me || node.membership().is_voter(*to) {
                    Ok(())
                } else {
                    Err(raft::Error::NotAVoter { id: *to })
                }
            }
        }
    }

    /// Whether `message` from `from` must have no effect, given the
    /// node's peers before it: it is the node's own, or a non-peer's that
    /// only a leader would not send (a leader's are taken from anyone:
    /// thesis §4.1).
    fn outsider(&self, peers: &[NodeId], from: NodeId, message: &Message) -> bool {
        let from_leader = matches!(
            message.body,
            Body::AppendEntries { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. }
        );
        from == self.me || (!from_leader && !peers.contains(&from))
    }

    fn sent(&mut self, to: NodeId, message: &Message) {
        assert_ne!(to, self.me, "a send to itself");
        let (term, vote) = self.hard;
        match message.body {
            Body::PreVote { .. } => {
                assert_eq!(Some(message.term), term.checked_add(1), "pre-vote term");
            }
            Body::PreVoteResponse { granted: true } => {
                assert!(message.term >= term, "a pre-vote granted for an old term");
            }
            _ => assert_eq!(
                message.term, term,
                "a message in term {} with term {term} persisted",
                message.term
            ),
        }
        match &message.body {
            Body::RequestVote { .. } => assert_eq!(vote, Some(self.me), "campaign without a vote"),
            Body::RequestVoteResponse { granted: true } => {
                assert_eq!(vote, Some(to), "a vote granted before it is durable");
                self.reached.votes_granted += 1;
            }
            Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                let c = &self.config;
                assert!(entries.len() <= c.max_entries_per_message);
                let bytes: usize = entries.iter().map(|e| e.data.len()).sum();
                assert!(entries.len() <= 1 || bytes <= c.max_bytes_per_message);
                assert_eq!(
                    self.durable_term(*prev_log_index),
                    Some(*prev_log_term),
                    "AppendEntries after an entry not in the durable log"
                );
                for (k, entry) in entries.iter().enumerate() {
                    let index = prev_log_index + 1 + k as u64;
                    assert_eq!(
                        self.durable_entry(index),
                        Some(entry),
                        "sent entry {index} is not the durable one"
                    );
                }
                assert!(*leader_commit <= self.durable_last());
            }
            Body::AppendAccepted { match_index } => {
                assert!(
                    *match_index <= self.durable_last(),
                    "acknowledged {match_index} with {} entries durable",
                    self.durable_last()
                );
            }
            Body::Heartbeat { leader_commit, .. } => {
                assert!(*leader_commit <= self.durable_last());
            }
            Body::InstallSnapshot {
                index,
                snapshot_term,
                offset,
                data,
                done,
                membership,
            } => {
                let base = &self.base;
                assert_eq!(membership, &base.membership, "the snapshot's membership");
                assert_eq!(
                    (*index, *snapshot_term),
                    (base.index, base.term),
                    "a snapshot sent that is not the durable one"
                );
                let start = usize::try_from(*offset).expect("small");
                let end = start + data.len();
                assert_eq!(base.data.get(start..end), Some(&data[..]), "a chunk");
                assert!(data.len() <= self.config.max_bytes_per_message);
                assert_eq!(*done, end == base.data.len(), "the last chunk");
            }
            _ => {}
        }
    }

    /// The last index the records describe.
    fn durable_last(&self) -> u64 {
        self.base.index.saturating_add(self.durable.len() as u64)
    }

    fn durable_term(&self, index: u64) -> Option<u64> {
        if index == self.base.index {
            return Some(self.base.term);
        }
        self.durable_entry(index).map(|e| e.term)
    }

    fn durable_entry(&self, index: u64) -> Option<&Entry> {
        let after = index.checked_sub(self.base.index.checked_add(1)?)?;
        self.durable.get(usize::try_from(after).ok()?)
    }

    /// A record of `(term, vote)`: terms never go back, one vote per term.
    fn hard_state(&mut self, term: u64, vote: Option<NodeId>) {
        assert!(term >= self.hard.0, "term {term} after {}", self.hard.0);
        if let Some(v) = vote {
            let first = *self.votes.entry(term).or_insert(v);
            assert_eq!(first, v, "two votes in term {term}");
        }
        self.hard = (term, vote);
    }

    fn writer(&self) -> Writer {
        Writer {
            cluster: self.config.cluster,
            node: self.me,
        }
    }

    fn persisted(&mut self, record: &Persist) {
        // A snapshot record names its writer too, and replaces all before.
        if !matches!(record, Persist::Identity(_) | Persist::Snapshot { .. }) {
            assert!(self.identified, "a record before the node's identity");
        }
        match record {
            Persist::Identity(writer) => {
                assert!(!self.identified, "a second identity record");
                assert_eq!(*writer, self.writer());
                self.identified = true;
            }
            Persist::HardState { term, vote } => self.hard_state(*term, *vote),
            Persist::Entries {
                first_index,
                entries,
            } => {
                let keep = first_index
                    .checked_sub(self.base.index.saturating_add(1))
                    .expect("entries rewritten below the snapshot");
                let keep = usize::try_from(keep).expect("small");
                assert!(keep <= self.durable.len(), "a gap in the log");
                self.durable.truncate(keep);
                self.durable.extend(entries.iter().cloned());
            }
            Persist::Snapshot {
                writer,
                snapshot,
                term,
                vote,
                entries,
            } => {
                assert_eq!(*writer, self.writer());
                self.identified = true;
                self.hard_state(*term, *vote);
                assert!(snapshot.index > self.base.index, "a snapshot not ahead");
                // Taken here, or installed over a log that holds its last
                // entry: the entries after it are kept; otherwise none (§7).
                let kept: &[Entry] = match self.durable_entry(snapshot.index) {
                    Some(e) if e.term == snapshot.term => {
                        let after = usize::try_from(snapshot.index - self.base.index);
                        &self.durable[after.expect("small")..]
                    }
                    _ => &[],
                };
                assert_eq!(kept, &entries[..], "the log after the snapshot");
                self.base = snapshot.clone();
                self.durable.clone_from(entries);
            }
        }
    }

    fn event(&mut self, event: &Event) {
        match *event {
            Event::Committed {
                index,
                term,
                ref data,
            } => {
                assert_eq!(index, self.applied + 1, "committed out of order");
                // A membership entry is applied as nothing.
                let durable = self.durable_entry(index).map(|e| match e.kind {
                    EntryKind::Normal => (e.term, &e.data[..]),
                    EntryKind::Membership => (e.term, &[][..]),
                });
                assert_eq!(
                    durable,
                    Some((term, &data[..])),
                    "committed an entry that is not durable"
                );
                self.applied = index;
                self.last_applied = (index, term);
                self.proposed.remove(&(index, term));
                self.reached.committed += 1;
            }
            Event::ProposalDropped { index, term } => {
                assert!(
                    self.proposed.remove(&(index, term)),
                    "dropped ({index}, {term}), which was not proposed or is settled"
                );
                let (applied, applied_term) = self.last_applied;
                assert!(
                    index == applied && term != applied_term,
                    "dropped ({index}, {term}) right after applying ({applied}, {applied_term})"
                );
                self.reached.proposals_dropped += 1;
            }
            Event::ReadReady { id, index } => {
                assert!(
                    self.reads.remove(&id),
                    "read {id} answered twice or never asked"
                );
                assert!(
                    index <= self.applied,
                    "read at {index} ready with {} applied",
                    self.applied
                );
                self.reached.reads_ready += 1;
            }
            Event::ReadFailed { id } => {
                assert!(
                    self.reads.remove(&id),
                    "read {id} answered twice or never asked"
                );
            }
            Event::BecameLeader { term } => {
                assert!(
                    self.led.is_none_or(|t| term > t),
                    "leader of term {term} after term {:?}",
                    self.led
                );
                self.led = Some(term);
                self.reached.leaders += 1;
            }
            Event::BecameFollower { .. } => {}
            Event::LogFull { .. } => self.reached.log_full += 1,
            Event::MembershipCommitted {
                index,
                ref membership,
            } => {
                assert_eq!(index, self.applied, "right after its Committed");
                let entry = self.durable_entry(index).expect("durable");
                assert_eq!(entry.kind, EntryKind::Membership);
                assert_eq!(
                    postcard::from_bytes::<Membership>(&entry.data)
                        .ok()
                        .as_ref(),
                    Some(membership),
                    "the membership committed is the entry's"
                );
                self.reached.memberships_committed += 1;
            }
            Event::ApplySnapshot { index, term } => {
                assert_eq!(
                    (index, term),
                    (self.base.index, self.base.term),
                    "a snapshot applied that is not the durable one"
                );
                assert!(index > self.applied, "a snapshot behind the applied index");
                self.applied = index;
                self.last_applied = (index, term);
                self.proposed.retain(|&(i, _)| i > index);
                self.reached.snapshots_applied += 1;
            }
        }
    }

    /// After a full drain: the node against what it persisted and reported.
    fn check(&mut self, n: &Node) {
        assert_eq!((n.term(), n.vote()), self.hard, "term and vote not durable");
        assert!(
            n.commit_index() >= self.commit,
            "the commit index went back"
        );
        self.commit = n.commit_index();
        assert!(n.commit_index() <= n.log().last_index());
        assert_eq!(n.applied_index(), self.applied);
        if n.role() == Role::Leader {
            assert_eq!(self.led, Some(n.term()));
            assert_eq!(n.vote(), Some(self.me));
            assert_eq!(n.leader(), Some(self.me));
        }
        if n.leader().is_none() {
            assert!(self.reads.is_empty(), "reads left waiting without a leader");
        }
        assert_eq!(
            n.snapshot().map_or(0, |s| s.index),
            self.base.index,
            "snapshot"
        );
        self.check_log(n);
    }

    fn check_log(&self, node: &Node) {
        let log = node.log();
        assert_eq!(log.last_index(), self.durable_last(), "log length");
        assert_eq!(
            log.first_index(),
            self.base.index.saturating_add(1),
            "compacted up to"
        );
        for (k, e) in self.durable.iter().enumerate() {
            let index = self.base.index.saturating_add(1 + k as u64);
            let entry = log.entry(index).expect("held");
            assert_eq!(
                (entry.term, entry.data),
                (e.term, &e.data[..]),
                "entry {index}"
            );
        }
        // The membership is the latest in the durable log, or the
        // snapshot's.
        let latest = self.durable.iter().rev().find_map(|e| match e.kind {
            EntryKind::Membership => postcard::from_bytes::<Membership>(&e.data).ok(),
            EntryKind::Normal => None,
        });
        let expected = latest.as_ref().unwrap_or(&self.base.membership);
        assert_eq!(node.membership(), expected, "the membership in effect");
    }
}

impl Family for Raft {
    type Node = Node;
    type Snapshot = Summary;
    const ALWAYS_ARMED: bool = true;

    fn restore(&self, records: &[Persist], _: Instant) -> Node {
        let log = ArenaLog::new(self.log_entries, self.log_bytes);
        RaftNode::restore((self.config.clone(), log), records)
            .expect("the node's own records restore")
    }

    /// The restored node is at its snapshot, which it reports first.
    fn restarted(&mut self, node: &Node, _: &[Persist]) {
        assert_eq!((node.term(), node.vote()), self.hard);
        assert_eq!(node.commit_index(), self.base.index);
        assert_eq!(node.applied_index(), self.base.index);
        self.applied = 0;
        self.commit = 0;
        self.proposed.clear();
        self.last_applied = (0, 0);
        self.reads.clear();
        self.check_log(node);
    }

    fn snapshot(&self, n: &Node, _: Instant) -> Summary {
        (
            n.term(),
            n.vote(),
            n.role(),
            n.leader(),
            n.commit_index(),
            n.applied_index(),
            n.log().last_index(),
            n.snapshot().map_or(0, |s| s.index),
            n.peers().to_vec(),
        )
    }

    /// The most outputs one input may queue.
    fn max_outputs(&self, node: &Node) -> usize {
        let c = &self.config;
        let peers = node.membership().members().count();
        8 + peers * (c.max_inflight_messages + 2)
            + c.max_apply_per_step
            + 2 * c.max_pending_reads
            + usize::try_from(c.max_uncommitted_entries).expect("small")
    }

    fn is_backpressure(&self, error: &raft::Error) -> bool {
        matches!(error, raft::Error::Backpressure { .. })
    }

    fn max_waiting(&self, _: &Node) -> Option<usize> {
        Some(self.config.max_outputs)
    }

    fn deadline_may_be_now(&self, node: &Node) -> bool {
        // Committed entries remain to be reported.
        node.applied_index() < node.commit_index()
    }

    /// Messages and ticks are never refused (but for backpressure); a
    /// command's result is known while no output waits.
    fn expected(&self, node: &Node, input: &InputOf<Self>, waiting: bool) -> Expected<Self> {
        match input {
            Input::Message { .. } | Input::Tick => Some(Ok(())),
            Input::Command(_) if waiting => None,
            // Whether a change applies depends on the log's memberships
            // and the learners' progress; the harness checks the contract.
            Input::Command(Command::ChangeMembership(_)) => None,
            Input::Command(command) => Some(self.expected_error(node, command)),
        }
    }

    fn accepted(&mut self, node: &Node, _: Instant, input: &InputOf<Self>, before: &Summary) {
        self.last_outsider = match input {
            Input::Message { from, message } => self.outsider(&before.8, *from, message),
            _ => false,
        };
        match *input {
            Input::Message { from, .. } if self.last_outsider => {
                let after = self.snapshot(node, Instant::ZERO);
                // Only pending commits may be reported.
                assert_eq!(
                    (
                        before.0, before.1, before.2, before.3, before.4, before.6, before.7
                    ),
                    (
                        after.0, after.1, after.2, after.3, after.4, after.6, after.7
                    ),
                    "a message from {from} had an effect"
                );
            }
            Input::Command(Command::Read { id } | Command::LeaseRead { id }) => {
                self.reads.insert(id);
            }
            Input::Command(Command::Propose(_)) => {
                self.proposed.insert((node.log().last_index(), node.term()));
            }
            _ => {}
        }
    }

    fn output(&mut self, _: &Node, _: &[Persist], output: &OutputOf<Self>) {
        match output {
            Output::Send { to, message } => self.sent(*to, message),
            Output::Persist(record) => self.persisted(record),
            Output::Event(event) => self.event(event),
        }
    }

    fn drained(
        &mut self,
        node: &Node,
        _: Instant,
        outputs: &[OutputOf<Self>],
        _: &[Persist],
        cause: Option<&InputOf<Self>>,
    ) {
        if let Some(Input::Message { .. }) = cause
            && self.last_outsider
        {
            for output in outputs {
                assert!(
                    matches!(
                        output,
                        Output::Event(
                            Event::Committed { .. }
                                | Event::ReadReady { .. }
                                | Event::MembershipCommitted { .. }
                                | Event::ProposalDropped { .. }
                        )
                    ),
                    "a message from an outsider caused {output:?}"
                );
            }
        }
        self.check(node);
    }
}

impl Generator for Raft {
    type Step = Step;

    fn action<'s>(&mut self, node: &Node, step: &'s Step) -> Action<'s, Message, Command> {
        match step {
            Step::Message { from, term, body } => {
                let term = near(*term, node.term());
                Action::Message {
                    from: harness::claimed(*from, IDS),
                    message: Message {
                        term,
                        body: forge(node, term, self.next_read, body),
                    },
                }
            }
            Step::Bytes { from, bytes } => Action::bytes(*from, IDS, bytes),
            Step::Tick { advance_ms } => Action::tick(*advance_ms),
            Step::TickAtDeadline => Action::TickAtDeadline,
            Step::Propose(data) => Action::Command(Command::Propose(data.clone())),
            Step::Read => {
                self.next_read += 1;
                Action::Command(Command::Read { id: self.next_read })
            }
            Step::LeaseRead => {
                self.next_read += 1;
                Action::Command(Command::LeaseRead { id: self.next_read })
            }
            Step::Drain(max) => Action::Drain(max.map(usize::from)),
            Step::Restart => Action::Restart,
            Step::Transfer { to } => Action::Command(Command::TransferLeadership {
                to: harness::claimed(*to, IDS),
            }),
            Step::Compact { .. } => Action::Own,
            Step::Membership {
                kind,
                node,
                learners,
            } => {
                let id = harness::claimed(*node, IDS);
                let pick = |mask: u8| {
                    (1..=5u64)
                        .filter(|v| mask & (1 << (v - 1)) != 0)
                        .map(NodeId)
                        .collect()
                };
                let change = match kind % 4 {
                    0 => MembershipChange::AddLearner(id),
                    1 => MembershipChange::Promote(id),
                    2 => MembershipChange::Remove(id),
                    _ => MembershipChange::Joint {
                        voters: pick(*node),
                        learners: pick(*learners),
                    },
                };
                Action::Command(Command::ChangeMembership(change))
            }
        }
    }

    /// `Step::Compact`, checked against the result it must have.
    fn own(&self, node: &mut Node, step: &Step) -> Result<(), raft::Error> {
        let &Step::Compact { back, len } = step else {
            unreachable!("only Compact is Action::Own")
        };
        let index = node.applied_index().saturating_sub(u64::from(back % 4));
        let data = vec![back; usize::from(len % 16)];
        let snapshot_index = node.snapshot().map_or(0, |s| s.index);
        let expected = if index <= snapshot_index {
            Err(raft::Error::SnapshotBehind {
                index,
                snapshot_index,
            })
        } else {
            Ok(())
        };
        let result = node.compact(index, data);
        if !matches!(result, Err(raft::Error::Backpressure { .. })) {
            assert_eq!(result, expected, "compact({index})");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(incoming: u8, steps: Vec<Step>) -> StepInput {
        StepInput {
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
            lazy: false,
            steps,
        }
    }

    /// The harness gets past elections: a lone voter leads, commits and
    /// serves reads, twice across a restart; a follower grants a vote and
    /// commits what a leader sends.
    #[test]
    fn the_harness_reaches_leadership_commits_reads_and_votes() {
        let lone = input(
            0,
            vec![
                Step::TickAtDeadline,
                Step::TickAtDeadline,
                Step::Propose(b"x".to_vec()),
                Step::Read,
                Step::LeaseRead,
                Step::Tick { advance_ms: 1 },
                Step::Restart,
                Step::TickAtDeadline,
                Step::TickAtDeadline,
                Step::Propose(b"y".to_vec()),
            ],
        );
        let reached = run(&lone);
        assert!(reached.leaders >= 2, "{reached:?}");
        assert!(reached.committed >= 5, "{reached:?}");
        assert!(reached.reads_ready >= 2, "{reached:?}");
        // Terms and indexes 128 + n stand for n itself (see `near`).
        let follower = input(
            0b110,
            vec![
                Step::Tick { advance_ms: 100 },
                Step::Tick { advance_ms: 100 },
                Step::Message {
                    from: 2,
                    term: 129,
                    body: Forged::RequestVote {
                        last_index: 128,
                        last_term: 128,
                    },
                },
                Step::Message {
                    from: 2,
                    term: 129,
                    body: Forged::AppendEntries {
                        prev_index: 128,
                        prev_term: 0,
                        entries: vec![(129, b"a".to_vec()), (129, b"b".to_vec())],
                        commit: 130,
                    },
                },
            ],
        );
        let reached = run(&follower);
        assert_eq!(reached.votes_granted, 1, "{reached:?}");
        assert_eq!(reached.committed, 2, "{reached:?}");
        assert_eq!(reached.log_full, 0, "{reached:?}");
        // A follower installs a leader's snapshot in two chunks and keeps
        // it across a restart; a lone leader compacts its own log.
        let installing = input(
            0b110,
            vec![
                Step::Message {
                    from: 2,
                    term: 129,
                    body: Forged::InstallSnapshot {
                        index: 133,
                        term: 129,
                        offset: 0,
                        data: vec![1; 4],
                        done: false,
                    },
                },
                Step::Message {
                    from: 2,
                    term: 129,
                    body: Forged::InstallSnapshot {
                        index: 133,
                        term: 129,
                        offset: 1,
                        data: vec![2; 3],
                        done: true,
                    },
                },
                Step::Restart,
            ],
        );
        let reached = run(&installing);
        assert_eq!(reached.snapshots_applied, 2, "{reached:?}");
        let compacting = input(
            0,
            vec![
                Step::TickAtDeadline,
                Step::TickAtDeadline,
                Step::Propose(b"x".to_vec()),
                Step::Membership {
                    kind: 0,
                    node: 2,
                    learners: 0,
                },
                Step::Compact { back: 0, len: 3 },
                Step::Propose(b"y".to_vec()),
                Step::Restart,
            ],
        );
        let reached = run(&compacting);
        assert_eq!(reached.snapshots_applied, 1, "{reached:?}");
        assert_eq!(reached.memberships_committed, 1, "{reached:?}");
        assert!(reached.leaders >= 1, "{reached:?}");
        // The same follower with room for one entry takes one, and says so.
        let mut full = follower;
        full.log_entries = 0;
        let reached = run(&full);
        assert_eq!(reached.log_full, 1, "{reached:?}");
        assert_eq!(reached.committed, 1, "{reached:?}");
    }
}
