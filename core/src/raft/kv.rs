//! A replicated key-value store on top of Raft, with client sessions.
//!
//! [`KvStore`] is the state machine: every node applies the same committed
//! entries in the same order and so holds the same map. [`KvNode`] is a
//! [`RaftNode`] with a store attached: the application sends it
//! [`Command`]s and gets one [`Event::Reply`] per command, after the
//! command's entry has committed and been applied (writes) or after a
//! ReadIndex round (reads).
//!
//! # Exactly once
//!
//! A client opens a session ([`Command::OpenSession`]); its id is the log
//! index of that entry, so ids are never reused. Each write then carries
//! `(client, seq)` with `seq` = 1, 2, 3, … and one write outstanding at a
//! time. A client that hears nothing, or hears [`Error::Retry`], sends the
//! same write again — to the same node or another — with the same `seq`.
//! If the first copy did commit, the store answers the retry with the saved
//! response instead of applying it twice ([`Sessions`], thesis §6.3). The
//! session table is replicated state and uses log time only: each entry
//! carries the proposing leader's clock.
//!
//! # Replies
//!
//! Every command gets exactly one reply from the node it was given to,
//! unless that node crashes first:
//!
//! - `Ok(..)`: the write was applied (or had been, for a duplicate), or the
//!   read's value, linearizable;
//! - [`Error::NotLeader`]: nothing happened; try the hinted leader;
//! - [`Error::Retry`]: the outcome is unknown (leadership was lost while
//!   the entry was uncommitted, or another leader's entry took its index);
//!   retry with the same `seq`;
//! - [`Error::Busy`] / [`Error::TooLarge`]: refused by a bound, nothing
//!   happened;
//! - [`Error::ZeroSequence`] / [`Error::LeaseReadsDisabled`]: a request
//!   that can never succeed (sequences start at 1; lease reads need
//!   check-quorum), nothing happened;
//! - the session errors: the write was not applied now, and the client must
//!   open a new session ([`Error::SessionExpired`]: an earlier copy may
//!   have been applied, which the store can no longer tell).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{LogStorage, Message, Persist, RaftNode};
use super::{SessionError, Sessions};
use crate::id::NodeId;
use crate::protocol::{Input, Output, Participant, Restore};
use crate::raft;
use crate::time::Instant;
use crate::wire::{self, WireMessage, kind};

/// A write to the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Set `key` to `new` (`None`: remove it) if it holds `expected`
    /// (`None`: absent).
    Cas {
        /// The key.
        key: Vec<u8>,
        /// The value required.
        expected: Option<Vec<u8>>,
        /// The value written.
        new: Option<Vec<u8>>,
    },
}

impl KvOp {
    /// The key the write touches.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        match self {
            KvOp::Put { key, .. } | KvOp::Delete { key } | KvOp::Cas { key, .. } => key,
        }
    }
}

/// The payload of one Raft entry of the store: a wire frame of kind
/// [`kind::RAFT_KV`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvEntry {
    /// Open a client session; the entry's index becomes the client id.
    OpenSession {
        /// The proposing leader's clock, ms (log time).
        stamp_ms: u64,
    },
    /// Write `seq` of session `client`.
    Write {
        /// The session (the index of its `OpenSession` entry).
        client: u64,
        /// The write's sequence number in the session, from 1.
        seq: u64,
        /// The proposing leader's clock, ms (log time).
        stamp_ms: u64,
        /// The write.
        op: KvOp,
    },
}

impl WireMessage for KvEntry {
    const KIND: u8 = kind::RAFT_KV;
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvResponse {
    /// The session is open; use this id.
    SessionOpened {
        /// The client id.
        client: u64,
    },
    /// A put or delete took effect.
    Done,
    /// A compare-and-set's outcome.
    Swapped(bool),
    /// A read's value (`None`: absent).
    Value(Option<Vec<u8>>),
}

/// Why a command did not (or may not have) taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// This node is not the leader; nothing happened.
    NotLeader {
        /// The leader, if this node knows it.
        leader_hint: Option<NodeId>,
    },
    /// The outcome is unknown; retry with the same sequence number.
    Retry,
    /// A bound of the node (uncommitted entries, waiting reads, queued
    /// outputs, log space) refused the command; nothing happened.
    Busy,
    /// The key or value exceeds the store's bounds; nothing happened.
    TooLarge,
    /// The store holds its maximum number of keys; the write was applied as
    /// a refusal (a retry gets the same answer).
    StoreFull,
    /// The session is gone (expired, evicted, never opened).
    SessionExpired,
    /// The sequence number is older than the last one applied.
    StaleSequence,
    /// The sequence number skips ahead of the next one expected.
    SequenceGap,
    /// Sequence number 0: sequences start at 1; nothing happened.
    ZeroSequence,
    /// Leadership can only be handed to another voter; nothing happened.
    NotAVoter,
    /// A lease read was asked of a cluster without `check_quorum`; nothing
    /// happened, and a retry would fail the same way: read by ReadIndex.
    LeaseReadsDisabled,
    /// The entry was not a store entry (written by something else).
    Malformed,
    /// The membership change does not apply to the membership (see
    /// [`raft::Error::BadMembershipChange`]); nothing happened.
    BadMembershipChange,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLeader {
                leader_hint: Some(l),
            } => write!(f, "not the leader; try {l}"),
            Error::NotLeader { leader_hint: None } => f.write_str("not the leader"),
            Error::Retry => f.write_str("outcome unknown; retry with the same sequence"),
            Error::Busy => f.write_str("the node is at a bound; retry later"),
            Error::TooLarge => f.write_str("key or value too large"),
            Error::StoreFull => f.write_str("the store holds its maximum number of keys"),
            Error::SessionExpired => f.write_str("client session expired; open a new one"),
            Error::StaleSequence => f.write_str("sequence older than the last applied"),
            Error::SequenceGap => f.write_str("sequence skips ahead"),
            Error::ZeroSequence => f.write_str("sequences start at 1"),
            Error::NotAVoter => f.write_str("leadership can only go to another voter"),
            Error::BadMembershipChange => {
                f.write_str("the membership change does not apply to the membership")
            }
            Error::LeaseReadsDisabled => {
                f.write_str("lease reads need check_quorum; read by ReadIndex")
            }
            Error::Malformed => f.write_str("not a key-value entry"),
        }
    }
}

impl core::error::Error for Error {}

impl From<SessionError> for Error {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Stale { .. } => Error::StaleSequence,
            SessionError::Gap { .. } => Error::SequenceGap,
            SessionError::ZeroSequence => Error::ZeroSequence,
            // Expired, and any future variant: the session cannot vouch.
            _ => Error::SessionExpired,
        }
    }
}

/// The outcome of one command.
pub type KvResult = Result<KvResponse, Error>;

/// The store's bounds. Part of the replicated state machine's definition:
/// every node of a cluster must use the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvLimits {
    /// Most keys held.
    pub max_keys: usize,
    /// Longest key, bytes.
    pub max_key_bytes: usize,
    /// Longest value, bytes.
    pub max_value_bytes: usize,
    /// Most open client sessions (least recently active evicted).
    pub max_sessions: usize,
    /// Sessions expire after this much log time without a write, ms.
    pub session_expiry_ms: u64,
}

impl Default for KvLimits {
    /// 65,536 keys of up to 1 KiB with values up to 16 KiB; 10,000 sessions
    /// that expire after an hour.
    fn default() -> Self {
        KvLimits {
            max_keys: 1 << 16,
            max_key_bytes: 1 << 10,
            max_value_bytes: 16 << 10,
            max_sessions: 10_000,
            session_expiry_ms: 3_600_000,
        }
    }
}

/// The replicated state machine: a map and its client sessions.
///
/// A snapshot of it ([`KvStore::snapshot`]) is a wire frame of kind
/// [`kind::RAFT_KV_SNAPSHOT`] holding the map, the sessions with their
/// saved responses, the limits and the applied index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvStore {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    sessions: Sessions<KvResult>,
    limits: KvLimits,
    applied: u64,
}

impl WireMessage for KvStore {
    const KIND: u8 = kind::RAFT_KV_SNAPSHOT;
    /// A whole store: snapshots come from the cluster's own nodes.
    const MAX_ENCODED_LEN: usize = 1 << 30;
}

impl KvStore {
    /// The store's image, for [`RaftNode::compact`].
    ///
    /// # Errors
    /// [`wire::WireError::TooLarge`] beyond 1 GiB.
    pub fn snapshot(&self) -> Result<Vec<u8>, wire::WireError> {
        wire::encode_to_vec(self)
    }

    /// The store a [`snapshot`](Self::snapshot) at `index` holds, if it is
    /// the image of a store with these limits applied up to `index`.
    #[must_use]
    pub fn from_snapshot(data: &[u8], index: u64, limits: KvLimits) -> Option<Self> {
        let store = wire::decode::<KvStore>(data).ok()?;
        let within = store.data.len() <= limits.max_keys
            && store.sessions.len() <= limits.max_sessions
            && store
                .data
                .iter()
                .all(|(k, v)| k.len() <= limits.max_key_bytes && v.len() <= limits.max_value_bytes);
        let same = store.limits == limits
            && store.sessions.bounds() == (limits.max_sessions, limits.session_expiry_ms)
            && store.applied == index;
        (within && same).then_some(store)
    }

    /// An empty store.
    #[must_use]
    pub const fn new(limits: KvLimits) -> Self {
        KvStore {
            data: BTreeMap::new(),
            sessions: Sessions::new(limits.max_sessions, limits.session_expiry_ms),
            limits,
            applied: 0,
        }
    }

    /// The value of `key`.
    #[must_use]
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.data.get(key).map(Vec::as_slice)
    }

    /// The store's bounds.
    #[must_use]
    pub const fn limits(&self) -> KvLimits {
        self.limits
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the store holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The index of the last entry applied.
    #[must_use]
    pub const fn applied_index(&self) -> u64 {
        self.applied
    }

    /// Number of open client sessions.
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Whether a key and value fit the bounds.
    pub(crate) fn fits(&self, op: &KvOp) -> bool {
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

    /// Applies committed entry `index` (entries must come in index order;
    /// an entry at or below the applied index is ignored). Returns the
    /// answer for the client that proposed it, or `None` for an empty entry
    /// (a new leader's) or one already applied.
    pub fn apply(&mut self, index: u64, data: &[u8]) -> Option<KvResult> {
        if index <= self.applied {
            return None;
        }
        self.applied = index;
        if data.is_empty() {
            return None;
        }
        let Ok(entry) = wire::decode::<KvEntry>(data) else {
            return Some(Err(Error::Malformed));
        };
        Some(match entry {
            KvEntry::OpenSession { stamp_ms } => {
                self.sessions.open(index, stamp_ms);
                Ok(KvResponse::SessionOpened { client: index })
            }
            KvEntry::Write {
                client,
                seq,
                stamp_ms,
                op,
            } => match self.sessions.admit(client, seq, stamp_ms) {
                Err(e) => Err(e.into()),
                Ok(super::Admission::Duplicate(saved)) => saved,
                Ok(super::Admission::Apply) => {
                    let result = self.write(op);
                    self.sessions.record(client, seq, result.clone());
                    result
                }
            },
        })
    }

    fn write(&mut self, op: KvOp) -> KvResult {
        if !self.fits(&op) {
            return Err(Error::TooLarge);
        }
        let full = self.data.len() >= self.limits.max_keys;
        match op {
            KvOp::Put { key, value } => {
                if full && !self.data.contains_key(&key) {
                    return Err(Error::StoreFull);
                }
                self.data.insert(key, value);
                Ok(KvResponse::Done)
            }
            KvOp::Delete { key } => {
                self.data.remove(&key);
                Ok(KvResponse::Done)
            }
            KvOp::Cas { key, expected, new } => {
                if self.data.get(&key) != expected.as_ref() {
                    return Ok(KvResponse::Swapped(false));
                }
                match new {
                    Some(value) => {
                        if full && !self.data.contains_key(&key) {
                            return Err(Error::StoreFull);
                        }
                        self.data.insert(key, value);
                    }
                    None => {
                        self.data.remove(&key);
                    }
                }
                Ok(KvResponse::Swapped(true))
            }
        }
    }
}

/// A request to a [`KvNode`]. `id` is the caller's name for it, echoed in
/// the [`Event::Reply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Open a client session.
    OpenSession {
        /// The request.
        id: u64,
    },
    /// Write `seq` of session `client` (retries reuse `seq`).
    Write {
        /// The request.
        id: u64,
        /// The session.
        client: u64,
        /// The write's sequence number, from 1.
        seq: u64,
        /// The write.
        op: KvOp,
    },
    /// A linearizable read of `key` (ReadIndex, or the lease if `lease`).
    Get {
        /// The request.
        id: u64,
        /// The key.
        key: Vec<u8>,
        /// Serve under the leader's lease when it holds.
        lease: bool,
    },
    /// Hand leadership to voter `to` (see
    /// [`raft::Command::TransferLeadership`]): replied `Ok(Done)` once the
    /// transfer has begun; writes are then answered `NotLeader` naming
    /// `to` until it leads or the transfer is abandoned.
    TransferLeadership {
        /// The request.
        id: u64,
        /// The voter to hand leadership to.
        to: NodeId,
    },
    /// Change the cluster's membership (see
    /// [`raft::Command::ChangeMembership`]): replied `Ok(Done)` once the
    /// leader has appended it (it takes effect then; the Raft node's
    /// `MembershipCommitted` event says when it commits); `Busy` while
    /// another change is under way or a learner to promote is behind.
    ChangeMembership {
        /// The request.
        id: u64,
        /// The change.
        change: raft::MembershipChange,
    },
}

impl Command {
    /// The caller's name for the request, echoed in its reply.
    #[must_use]
    pub const fn id(&self) -> u64 {
        match self {
            Command::OpenSession { id }
            | Command::Write { id, .. }
            | Command::Get { id, .. }
            | Command::TransferLeadership { id, .. }
            | Command::ChangeMembership { id, .. } => *id,
        }
    }
}

/// What a [`KvNode`] tells its application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The answer to request `id`.
    Reply {
        /// The request.
        id: u64,
        /// Its outcome.
        result: KvResult,
    },
    /// A Raft event, passed on after the node has acted on it (a
    /// `Committed` entry is already applied to the store).
    Raft(raft::Event),
}

/// A proposal of this node's, waiting to commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    id: u64,
    term: u64,
}

/// A Raft node with a [`KvStore`] attached; see the [module docs](self).
///
/// Messages and persisted records are the Raft node's own; after a crash,
/// [`KvNode::restore`] rebuilds the node from its records: the store from
/// the last snapshot among them, then the committed entries after it as
/// they are reported again.
///
/// # Snapshots
///
/// Every [`snapshot_interval`](Self::snapshot_interval) applied entries
/// (10,000 unless [set](Self::set_snapshot_interval)) the node snapshots
/// its store at the applied index ([`RaftNode::compact`]): the log drops
/// what the snapshot covers and the records before its
/// [`Persist::Snapshot`] may be deleted. Sessions are in the snapshot, so
/// a write retried after it is still applied once. A follower that needs
/// entries the leader has dropped receives the leader's snapshot and
/// replaces its store with it ([`raft::Event::ApplySnapshot`]). A store
/// whose image exceeds `max_snapshot_bytes` is not snapshotted (the log
/// then grows until [`raft::Event::LogFull`]): size that bound for the
/// store's limits.
#[derive(Clone, Debug)]
pub struct KvNode<L> {
    raft: RaftNode<L>,
    store: KvStore,
    /// This node's proposals by log index; cleared when leadership is lost.
    /// Bounded by the Raft node's `max_uncommitted_entries`.
    pending: BTreeMap<u64, Pending>,
    /// Reads waiting for their ReadIndex round, by Raft read id. Bounded by
    /// `max_pending_reads`.
    reads: BTreeMap<u64, (u64, Vec<u8>)>,
    next_read: u64,
    /// Applied entries between snapshots; 0: never.
    snapshot_interval: u64,
    outputs: VecDeque<Output<Message, Persist, Event>>,
}

/// Applied entries between a [`KvNode`]'s snapshots, unless set.
pub const DEFAULT_SNAPSHOT_INTERVAL: u64 = 10_000;

impl<L: LogStorage> KvNode<L> {
    /// A fresh node.
    ///
    /// # Errors
    /// As [`RaftNode::new`].
    pub fn new(config: raft::Config, log: L, limits: KvLimits) -> Result<Self, raft::Error> {
        Ok(Self::over(RaftNode::new(config, log)?, limits))
    }

    fn over(raft: RaftNode<L>, limits: KvLimits) -> Self {
        KvNode {
            raft,
            store: KvStore::new(limits),
            pending: BTreeMap::new(),
            reads: BTreeMap::new(),
            next_read: 0,
            snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
            outputs: VecDeque::new(),
        }
    }

    /// Applied entries between snapshots (0: never snapshot).
    #[must_use]
    pub const fn snapshot_interval(&self) -> u64 {
        self.snapshot_interval
    }

    /// Snapshots every `entries` applied entries from now on; 0 turns
    /// snapshots off. A local choice: nodes of a cluster may differ.
    pub const fn set_snapshot_interval(&mut self, entries: u64) {
        self.snapshot_interval = entries;
    }

    /// Snapshots the store if `snapshot_interval` entries were applied
    /// since the last snapshot.
    fn maybe_snapshot(&mut self) -> Result<(), raft::Error> {
        let applied = self.raft.applied_index();
        let last = self.raft.log().first_index().saturating_sub(1);
        let due = self.snapshot_interval > 0
            && applied.saturating_sub(last) >= self.snapshot_interval
            && self.store.applied_index() == applied;
        if !due {
            return Ok(());
        }
        // Too large for a frame or for `max_snapshot_bytes`: not taken
        // (see the type's docs); tried again after the next entry.
        if let Ok(image) = self.store.snapshot() {
            if self.raft.compact(applied, image).is_ok() {
                return self.drain();
            }
        }
        Ok(())
    }

    /// The Raft node.
    #[must_use]
    pub const fn raft(&self) -> &RaftNode<L> {
        &self.raft
    }

    /// The store, as far as this node has applied it.
    #[must_use]
    pub const fn store(&self) -> &KvStore {
        &self.store
    }

    fn reply(&mut self, id: u64, result: KvResult) {
        self.outputs
            .push_back(Output::Event(Event::Reply { id, result }));
    }

    fn command(&mut self, now: Instant, command: Command) -> Result<(), raft::Error> {
        let (id, entry) = match command {
            Command::OpenSession { id } => (
                id,
                KvEntry::OpenSession {
                    stamp_ms: now.as_millis(),
                },
            ),
            Command::Write {
                id,
                client,
                seq,
                op,
            } => {
                if !self.store.fits(&op) {
                    self.reply(id, Err(Error::TooLarge));
                    return Ok(());
                }
                if seq == 0 {
                    // Refused here, before it costs a log entry; the
                    // sessions refuse it too when applied.
                    self.reply(id, Err(Error::ZeroSequence));
                    return Ok(());
                }
                let stamp_ms = now.as_millis();
                (
                    id,
                    KvEntry::Write {
                        client,
                        seq,
                        stamp_ms,
                        op,
                    },
                )
            }
            Command::TransferLeadership { id, to } => {
                let transfer = raft::Command::TransferLeadership { to };
                return self.operate(now, id, transfer);
            }
            Command::ChangeMembership { id, change } => {
                let change = raft::Command::ChangeMembership(change);
                return self.operate(now, id, change);
            }
            Command::Get { id, key, lease } => {
                self.next_read = self.next_read.wrapping_add(1);
                let rid = self.next_read;
                let command = if lease {
                    raft::Command::LeaseRead { id: rid }
                } else {
                    raft::Command::Read { id: rid }
                };
                return match self.raft.handle_input(now, Input::Command(command)) {
                    Ok(()) => {
                        self.reads.insert(rid, (id, key));
                        Ok(())
                    }
                    Err(e) => self.refuse(id, e),
                };
            }
        };
        let data = wire::encode_to_vec(&entry)?;
        match self
            .raft
            .handle_input(now, Input::Command(raft::Command::Propose(data)))
        {
            Ok(()) => {
                let index = self.raft.log().last_index();
                let term = self.raft.term();
                self.pending.insert(index, Pending { id, term });
                Ok(())
            }
            Err(e) => self.refuse(id, e),
        }
    }

    /// An operator's command to the Raft node, replied `Done` once taken.
    fn operate(
        &mut self,
        now: Instant,
        id: u64,
        command: raft::Command,
    ) -> Result<(), raft::Error> {
        match self.raft.handle_input(now, Input::Command(command)) {
            Ok(()) => {
                self.reply(id, Ok(KvResponse::Done));
                Ok(())
            }
            Err(e) => self.refuse(id, e),
        }
    }

    /// A command the Raft node refused: a reply, unless the node as a whole
    /// refused input (its outputs must be drained first).
    fn refuse(&mut self, id: u64, error: raft::Error) -> Result<(), raft::Error> {
        let kv = match error {
            raft::Error::NotLeader { leader_hint } => Error::NotLeader { leader_hint },
            raft::Error::EntryTooLarge { .. } => Error::TooLarge,
            raft::Error::Backpressure { .. } => return Err(error),
            raft::Error::LeaseReadsDisabled => Error::LeaseReadsDisabled,
            raft::Error::NotAVoter { .. } => Error::NotAVoter,
            raft::Error::BadMembershipChange { .. } => Error::BadMembershipChange,
            // Leadership is moving there: nothing happened; ask it.
            raft::Error::TransferInProgress { to } => Error::NotLeader {
                leader_hint: Some(to),
            },
            _ => Error::Busy,
        };
        self.reply(id, Err(kv));
        Ok(())
    }

    /// Moves the Raft node's outputs to ours, acting on its events.
    ///
    /// # Errors
    /// [`raft::Error::CorruptSnapshot`] if a snapshot installed is not a
    /// store's image; the outputs after it are still moved.
    fn drain(&mut self) -> Result<(), raft::Error> {
        let mut result = Ok(());
        while let Some(output) = self.raft.poll_output() {
            let event = match output {
                Output::Send { to, message } => {
                    self.outputs.push_back(Output::Send { to, message });
                    continue;
                }
                Output::Persist(record) => {
                    self.outputs.push_back(Output::Persist(record));
                    continue;
                }
                Output::Event(event) => event,
            };
            match &event {
                raft::Event::Committed { index, term, data } => {
                    let result = self.store.apply(*index, data);
                    if let Some(p) = self.pending.remove(index) {
                        let answer = if p.term == *term {
                            result.unwrap_or(Err(Error::Malformed))
                        } else {
                            // Another leader's entry took the index.
                            Err(Error::Retry)
                        };
                        self.reply(p.id, answer);
                    }
                }
                raft::Event::ReadReady { id, .. } => {
                    if let Some((request, key)) = self.reads.remove(id) {
                        let value = self.store.get(&key).map(<[u8]>::to_vec);
                        self.reply(request, Ok(KvResponse::Value(value)));
                    }
                }
                raft::Event::ReadFailed { id } => {
                    if let Some((request, _)) = self.reads.remove(id) {
                        self.reply(request, Err(Error::Retry));
                    }
                }
                raft::Event::BecameFollower { .. } => {
                    // Our uncommitted proposals may or may not commit under
                    // the next leader; the clients retry, and their sessions
                    // make the retry safe.
                    for (_, p) in core::mem::take(&mut self.pending) {
                        self.reply(p.id, Err(Error::Retry));
                    }
                }
                raft::Event::ApplySnapshot { index, .. } => {
                    let limits = self.store.limits;
                    let image = self.raft.snapshot().map_or(&[][..], |s| &s.data[..]);
                    match KvStore::from_snapshot(image, *index, limits) {
                        Some(store) => self.store = store,
                        None => result = Err(raft::Error::CorruptSnapshot { index: *index }),
                    }
                }
                // The pending request at that index was answered when the
                // other entry committed there.
                raft::Event::BecameLeader { .. }
                | raft::Event::LogFull { .. }
                | raft::Event::MembershipCommitted { .. }
                | raft::Event::ProposalDropped { .. } => {}
            }
            self.outputs.push_back(Output::Event(Event::Raft(event)));
        }
        result
    }
}

/// A node restarted from the records it persisted, in order, as
/// [`RaftNode`]'s restore; the store is rebuilt from the last snapshot
/// among them, then by applying the committed entries after it again as
/// they are reported.
///
/// # Errors
/// As [`RaftNode`]'s, and [`raft::Error::CorruptSnapshot`] if the records'
/// snapshot is not a store's image with these limits.
impl<L: LogStorage> Restore for KvNode<L> {
    /// The Raft configuration, the (empty) log storage, and the store's
    /// limits.
    type Config = (raft::Config, L, KvLimits);

    fn restore(
        (config, log, limits): (raft::Config, L, KvLimits),
        records: &[Persist],
    ) -> Result<Self, raft::Error> {
        let mut node = Self::over(RaftNode::restore((config, log), records)?, limits);
        node.drain()?;
        Ok(node)
    }
}

impl<L: LogStorage> Participant for KvNode<L> {
    type Message = Message;
    type Command = Command;
    type Persist = Persist;
    type Event = Event;
    type Error = raft::Error;

    fn id(&self) -> NodeId {
        self.raft.id()
    }

    /// Feeds one input to the Raft node and acts on what it reports.
    ///
    /// # Errors
    /// [`raft::Error::Backpressure`] while the Raft node's output bound is
    /// reached (drain and retry). A refused command is not an error: it
    /// gets a [`Event::Reply`] saying why.
    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<Message, Command>,
    ) -> Result<(), raft::Error> {
        // The Raft node's queue is drained into ours after every input, so
        // its own bound never trips: ours must.
        let max = self.raft.config().max_outputs;
        if self.outputs.len() >= max {
            return Err(raft::Error::Backpressure { max });
        }
        let result = match input {
            Input::Message { from, message } => self
                .raft
                .handle_input(now, Input::Message { from, message }),
            Input::Tick => self.raft.handle_input(now, Input::Tick),
            Input::Command(command) => self.command(now, command),
        };
        let drained = self.drain();
        result.and(drained).and(self.maybe_snapshot())
    }

    fn poll_output(&mut self) -> Option<Output<Message, Persist, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.raft.next_deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(e: &KvEntry) -> Vec<u8> {
        wire::encode_to_vec(e).unwrap()
    }

    fn put(client: u64, seq: u64, key: &str, value: &str) -> Vec<u8> {
        entry(&KvEntry::Write {
            client,
            seq,
            stamp_ms: 0,
            op: KvOp::Put {
                key: key.into(),
                value: value.into(),
            },
        })
    }

    #[test]
    fn a_retried_write_is_applied_once_and_answered_again() {
        let mut s = KvStore::new(KvLimits::default());
        let open = entry(&KvEntry::OpenSession { stamp_ms: 0 });
        assert_eq!(
            s.apply(1, &open),
            Some(Ok(KvResponse::SessionOpened { client: 1 }))
        );
        assert_eq!(s.apply(2, &put(1, 1, "k", "a")), Some(Ok(KvResponse::Done)));
        assert_eq!(
            s.apply(3, &put(9, 1, "k", "b")),
            Some(Err(Error::SessionExpired))
        );
        // Another client's later write, then the first write again (a retry
        // committed twice): the store must not roll back to "a".
        let open2 = entry(&KvEntry::OpenSession { stamp_ms: 0 });
        s.apply(4, &open2);
        assert_eq!(s.apply(5, &put(4, 1, "k", "c")), Some(Ok(KvResponse::Done)));
        assert_eq!(s.apply(6, &put(1, 1, "k", "a")), Some(Ok(KvResponse::Done)));
        assert_eq!(s.get(b"k"), Some(&b"c"[..]));
        assert_eq!(
            s.apply(7, &put(1, 3, "k", "x")),
            Some(Err(Error::SequenceGap))
        );
        assert_eq!(s.apply(6, &put(1, 2, "k", "x")), None, "already applied");
        assert_eq!(s.applied_index(), 7);
    }

    #[test]
    fn a_snapshot_rebuilds_the_same_store_and_only_for_the_same_limits_and_index() {
        let mut s = KvStore::new(KvLimits::default());
        s.apply(1, &entry(&KvEntry::OpenSession { stamp_ms: 0 }));
        s.apply(2, &put(1, 1, "k", "a"));
        let image = s.snapshot().unwrap();
        assert_eq!(wire::peek_kind(&image), Ok(kind::RAFT_KV_SNAPSHOT));
        let back = KvStore::from_snapshot(&image, 2, KvLimits::default()).unwrap();
        assert_eq!(back, s);
        // The retry after the snapshot gets the saved answer.
        let mut back = back;
        assert_eq!(
            back.apply(3, &put(1, 1, "k", "b")),
            Some(Ok(KvResponse::Done))
        );
        assert_eq!(back.get(b"k"), Some(&b"a"[..]));
        let other = KvLimits {
            max_keys: 7,
            ..KvLimits::default()
        };
        assert_eq!(
            KvStore::from_snapshot(&image, 2, other),
            None,
            "other limits"
        );
        assert_eq!(
            KvStore::from_snapshot(&image, 3, KvLimits::default()),
            None,
            "another index"
        );
        assert_eq!(
            KvStore::from_snapshot(b"\x01\x17junk", 2, KvLimits::default()),
            None
        );
    }

    #[test]
    fn cas_and_bounds_are_applied_deterministically() {
        let limits = KvLimits {
            max_keys: 1,
            max_key_bytes: 4,
            max_value_bytes: 4,
            ..KvLimits::default()
        };
        let mut s = KvStore::new(limits);
        s.apply(1, &entry(&KvEntry::OpenSession { stamp_ms: 0 }));
        let w = |seq, op| {
            entry(&KvEntry::Write {
                client: 1,
                seq,
                stamp_ms: 0,
                op,
            })
        };
        let cas = |expected: Option<&str>, new: Option<&str>| KvOp::Cas {
            key: b"k".to_vec(),
            expected: expected.map(Into::into),
            new: new.map(Into::into),
        };
        assert_eq!(
            s.apply(2, &w(1, cas(Some("x"), Some("y")))),
            Some(Ok(KvResponse::Swapped(false)))
        );
        assert_eq!(
            s.apply(3, &w(2, cas(None, Some("y")))),
            Some(Ok(KvResponse::Swapped(true)))
        );
        assert_eq!(s.get(b"k"), Some(&b"y"[..]));
        let big = KvOp::Put {
            key: b"k".to_vec(),
            value: b"toolong".to_vec(),
        };
        assert_eq!(s.apply(4, &w(3, big)), Some(Err(Error::TooLarge)));
        let other = KvOp::Put {
            key: b"j".to_vec(),
            value: b"v".to_vec(),
        };
        assert_eq!(
            s.apply(5, &w(4, other.clone())),
            Some(Err(Error::StoreFull))
        );
        // The refusal is the recorded answer: a retry gets it again.
        assert_eq!(s.apply(6, &w(4, other)), Some(Err(Error::StoreFull)));
        assert_eq!(
            s.apply(7, &w(5, cas(Some("y"), None))),
            Some(Ok(KvResponse::Swapped(true)))
        );
        assert!(s.is_empty());
        assert_eq!(s.apply(8, b"\x01\x16garbage"), Some(Err(Error::Malformed)));
        assert_eq!(s.apply(9, b""), None, "a leader's empty entry");
    }
}
