//! The anti-entropy participant: two replicas compare their keyed trees
//! level by level and finish with the exact set of keys on which they
//! differ (Dynamo §4.7; Cassandra's and Riak's Merkle-tree repair).
//!
//! # Protocol
//!
//! The replica that starts a sync (the *initiator*) walks the tree top-down
//! and asks its peer (the *responder*) for hashes:
//!
//! 1. `NodeQuery { level, indexes }`: the responder answers `NodeHashes`
//!    with its hashes of those nodes, in order. The initiator compares each
//!    with its own; a differing inner node's two children are queried at the
//!    next level, a differing bucket is remembered. Each query carries at
//!    most `max_hashes_per_message` indexes; a level with more differing
//!    nodes takes several queries.
//! 2. `BucketQuery { bucket, after }`: the responder answers `BucketPage`
//!    with up to `max_entries_per_message` `(key, version hash)` entries
//!    with keys greater than `after`, and whether more remain. The initiator
//!    merges each page with its own entries and reports every key whose
//!    version hash differs or that only one side holds.
//!
//! With `k` differing buckets and depth `d`, this takes O(k·d) hash
//! comparisons and O(d + k·d / max_hashes_per_message) queries, and it moves
//! entries only of differing buckets.
//!
//! The responder keeps no state, so lost, duplicated or reordered queries
//! are harmless. The initiator has one query outstanding per session; it
//! retransmits it after `retry_ms`, gives up after `max_retries`
//! retransmissions, and ignores responses that do not match the outstanding
//! query (stale or duplicated). Malformed queries from a peer are dropped
//! silently; a malformed response fails the session.
//!
//! Repair itself is the application's: for each
//! [`Event::Difference`] it fetches or pushes the value (newest version
//! wins, or whatever its merge rule is) and records the new version with
//! [`Command::Update`]. The tree may change during a sync; the result then
//! reflects a mix of old and new state, and the next round catches up.
//!
//! The tree is application state, rebuilt from the application's store
//! after a restart, so this participant persists nothing.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{Hash, KeyedTree};
use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;
use crate::protocol::{Input, Output, Participant, Restore};
use crate::time::Instant;
use crate::wire::{WireError, WireMessage, kind};

/// Configuration of an [`AntiEntropy`] participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// This replica's id.
    pub id: NodeId,
    /// Depth of the keyed tree (both replicas must agree).
    pub depth: u8,
    /// Most node hashes asked for or sent in one message.
    pub max_hashes_per_message: usize,
    /// Most bucket entries sent in one message.
    pub max_entries_per_message: usize,
    /// Longest key accepted, in bytes.
    pub max_key_len: usize,
    /// Retransmit an unanswered query after this long.
    pub retry_ms: u64,
    /// Give up after this many retransmissions of one query.
    pub max_retries: u32,
    /// Most syncs this replica initiates at once (one per peer at most).
    pub max_sessions: usize,
}

impl Config {
    /// Sensible defaults for replica `id`: depth 10 (1,024 buckets), 256
    /// hashes or entries per message, 1 KiB keys, 200 ms retry, 5 retries,
    /// 8 concurrent sessions.
    #[must_use]
    pub const fn new(id: NodeId) -> Self {
        Config {
            id,
            depth: 10,
            max_hashes_per_message: 256,
            max_entries_per_message: 256,
            max_key_len: 1024,
            retry_ms: 200,
            max_retries: 5,
            max_sessions: 8,
        }
    }
}

/// Messages between replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Initiator → responder: send your hashes of these nodes.
    NodeQuery {
        /// The initiator's session.
        session: u64,
        /// Sequence number of this query within the session.
        request: u32,
        /// The initiator's tree depth.
        depth: u8,
        /// Level of the nodes (0 is the root).
        level: u8,
        /// Node indexes within the level.
        indexes: Vec<u32>,
    },
    /// Responder → initiator: hashes of the queried nodes, in query order.
    NodeHashes {
        /// The initiator's session.
        session: u64,
        /// The query answered.
        request: u32,
        /// One hash per queried index.
        hashes: Vec<Hash>,
    },
    /// Initiator → responder: send the entries of a bucket after a key.
    BucketQuery {
        /// The initiator's session.
        session: u64,
        /// Sequence number of this query within the session.
        request: u32,
        /// The initiator's tree depth.
        depth: u8,
        /// The bucket.
        bucket: u32,
        /// Only keys greater than this one (`None`: from the start).
        after: Option<Vec<u8>>,
    },
    /// Responder → initiator: a page of a bucket's entries, sorted by key.
    BucketPage {
        /// The initiator's session.
        session: u64,
        /// The query answered.
        request: u32,
        /// `(key, version hash)` entries.
        entries: Vec<(Vec<u8>, Hash)>,
        /// Whether the bucket has entries beyond this page.
        more: bool,
    },
    /// Responder → initiator: the trees have different depths.
    DepthMismatch {
        /// The initiator's session.
        session: u64,
        /// The query answered.
        request: u32,
        /// The responder's depth.
        depth: u8,
    },
}

impl WireMessage for Message {
    const KIND: u8 = kind::ANTI_ENTROPY;
}

/// Requests from the local application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start comparing with `peer`.
    StartSync {
        /// The replica to compare with.
        peer: NodeId,
    },
    /// Record that `key` now has version hash `version`.
    Update {
        /// The key.
        key: Vec<u8>,
        /// Its new version hash.
        version: Hash,
    },
    /// Record that `key` is gone (use a tombstone version instead if deletes
    /// must propagate).
    Remove {
        /// The key.
        key: Vec<u8>,
    },
}

/// A key on which this replica and a peer differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyDifference {
    /// The peer compared with.
    pub peer: NodeId,
    /// The key.
    pub key: Vec<u8>,
    /// This replica's version hash (`None`: this replica lacks the key).
    pub local: Option<Hash>,
    /// The peer's version hash (`None`: the peer lacks the key).
    pub remote: Option<Hash>,
}

/// Why a sync ended without a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncFailure {
    /// The peer did not answer a query after every retransmission.
    Timeout,
    /// The peer's tree has another depth.
    DepthMismatch {
        /// The peer's depth.
        remote: u8,
    },
    /// The peer answered with a response that breaks the protocol.
    BadResponse,
}

/// Notifications for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A differing key (reported once per sync, as soon as it is found).
    Difference(KeyDifference),
    /// A sync finished; every differing key has been reported.
    SyncComplete {
        /// The peer compared with.
        peer: NodeId,
        /// Buckets whose hashes differed.
        differing_buckets: u64,
        /// Keys reported as [`Event::Difference`].
        differing_keys: u64,
    },
    /// A sync was abandoned; differences reported so far stand, but the
    /// list is incomplete.
    SyncFailed {
        /// The peer.
        peer: NodeId,
        /// Why.
        reason: SyncFailure,
    },
}

/// Why a command or message was rejected. The participant is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes from a peer were not a valid message.
    Wire(WireError),
    /// A sync with this peer is already running.
    AlreadySyncing {
        /// The peer.
        peer: NodeId,
    },
    /// `max_sessions` syncs are already running.
    TooManySessions,
    /// A replica cannot sync with itself.
    SelfSync,
    /// A key longer than `max_key_len`.
    KeyTooLong {
        /// Its length.
        len: usize,
    },
    /// The configuration is unusable.
    BadConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wire(e) => write!(f, "bad message: {e}"),
            Error::AlreadySyncing { peer } => {
                write!(f, "already syncing with {peer}")
            }
            Error::TooManySessions => f.write_str("too many concurrent syncs"),
            Error::SelfSync => f.write_str("a replica cannot sync with itself"),
            Error::KeyTooLong { len } => write!(f, "key of {len} bytes is too long"),
            Error::BadConfig { reason } => write!(f, "bad configuration: {reason}"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Wire(w) => w.kind(),
            Error::AlreadySyncing { .. } => ErrorKind::Rejected,
            Error::TooManySessions | Error::KeyTooLong { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

/// What an initiator is waiting for.
#[derive(Clone, Debug)]
enum Phase {
    /// Comparing inner nodes (and buckets' hashes) at `level`.
    Nodes {
        level: u8,
        /// Indexes at `level` still to ask for.
        pending: VecDeque<u32>,
        /// Indexes in the outstanding query.
        asked: Vec<u32>,
        /// Differing indexes at `level` found so far.
        differing: Vec<u32>,
    },
    /// Comparing the entries of differing buckets.
    Buckets {
        /// Buckets still to compare after the current one.
        pending: VecDeque<u32>,
        bucket: u32,
        /// Entries up to this key have been compared.
        after: Option<Vec<u8>>,
    },
    /// Every differing key has been reported.
    Done,
}

#[derive(Clone, Debug)]
struct Session {
    id: u64,
    peer: NodeId,
    phase: Phase,
    differing_buckets: u64,
    request: u32,
    query: Message,
    deadline: Instant,
    retries: u32,
    differing_keys: u64,
}

/// One replica's side of Merkle-tree anti-entropy; see the
/// [module docs](self) for the protocol.
///
/// ```
/// use consensio::{Input, Instant, NodeId, Output, Participant, wire};
/// use consensio::merkle::{AntiEntropy, anti_entropy};
///
/// let mut a = AntiEntropy::new(anti_entropy::Config::new(NodeId(1)))?;
/// let mut b = AntiEntropy::new(anti_entropy::Config::new(NodeId(2)))?;
/// let now = Instant::ZERO;
/// let update = |key: &str| Input::Command(anti_entropy::Command::Update { key: key.into(), version: [7; 32] });
/// a.handle_input(now, update("x"))?;
/// b.handle_input(now, update("x"))?;
/// b.handle_input(now, update("y"))?;
/// a.handle_input(now, Input::Command(anti_entropy::Command::StartSync { peer: NodeId(2) }))?;
///
/// let mut found = Vec::new();
/// loop {
///     let mut frames = Vec::new();
///     for node in [&mut a, &mut b] {
///         while let Some(out) = node.poll_output() {
///             match out {
///                 Output::Send { to, message } => frames.push((node.id(), to, wire::encode_to_vec(&message)?)),
///                 Output::Event(anti_entropy::Event::Difference(d)) => found.push(d.key),
///                 _ => {}
///             }
///         }
///     }
///     if frames.is_empty() { break; }
///     for (from, to, bytes) in frames {
///         let target = if to == a.id() { &mut a } else { &mut b };
///         target.handle_message(now, from, &bytes)?;
///     }
/// }
/// assert_eq!(found, [b"y".to_vec()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AntiEntropy {
    config: Config,
    tree: KeyedTree,
    sessions: Vec<Session>,
    next_session: u64,
    outputs: VecDeque<Output<Message, Infallible, Event>>,
}

impl AntiEntropy {
    /// A replica with an empty tree.
    ///
    /// # Errors
    /// [`Error::BadConfig`] for a depth above
    /// [`MAX_KEYED_DEPTH`](super::MAX_KEYED_DEPTH) or a zero per-message bound.
    pub fn new(config: Config) -> Result<Self, Error> {
        if config.max_hashes_per_message == 0 || config.max_entries_per_message == 0 {
            return Err(Error::BadConfig {
                reason: "per-message bounds must be at least 1",
            });
        }
        let tree = KeyedTree::new(config.depth).map_err(|_| Error::BadConfig {
            reason: "depth exceeds MAX_KEYED_DEPTH",
        })?;
        Ok(AntiEntropy {
            config,
            tree,
            sessions: Vec::new(),
            next_session: 0,
            outputs: VecDeque::new(),
        })
    }

    /// The replica's keyed tree.
    #[must_use]
    pub const fn tree(&self) -> &KeyedTree {
        &self.tree
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Peers this replica is currently syncing with.
    pub fn syncing_with(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.sessions.iter().map(|s| s.peer)
    }

    fn command(&mut self, now: Instant, command: Command) -> Result<(), Error> {
        match command {
            Command::StartSync { peer } => self.start(now, peer),
            Command::Update { key, version } => {
                self.check_key(&key)?;
                self.tree.insert(&key, version);
                Ok(())
            }
            Command::Remove { key } => {
                self.check_key(&key)?;
                self.tree.remove(&key);
                Ok(())
            }
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), Error> {
        if key.len() > self.config.max_key_len {
            return Err(Error::KeyTooLong { len: key.len() });
        }
        Ok(())
    }

    fn start(&mut self, now: Instant, peer: NodeId) -> Result<(), Error> {
        if peer == self.config.id {
            return Err(Error::SelfSync);
        }
        if self.sessions.iter().any(|s| s.peer == peer) {
            return Err(Error::AlreadySyncing { peer });
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(Error::TooManySessions);
        }
        let id = self.next_session;
        self.next_session = self.next_session.wrapping_add(1);
        let mut session = Session {
            id,
            peer,
            phase: Phase::Nodes {
                level: 0,
                pending: VecDeque::from([0]),
                asked: Vec::new(),
                differing: Vec::new(),
            },
            differing_buckets: 0,
            request: 0,
            query: Message::DepthMismatch {
                session: id,
                request: 0,
                depth: 0,
            },
            deadline: now,
            retries: 0,
            differing_keys: 0,
        };
        if let Some(query) = self.next_query(&mut session) {
            self.send_query(now, &mut session, query);
        }
        self.sessions.push(session);
        Ok(())
    }

    /// Answers a query (responder side). Malformed queries are dropped.
    fn answer(&mut self, from: NodeId, message: Message) {
        let reply = match message {
            Message::NodeQuery {
                session,
                request,
                depth,
                level,
                indexes,
            } => {
                if depth != self.tree.depth() {
                    Some(self.depth_mismatch(session, request))
                } else if indexes.len() > self.config.max_hashes_per_message {
                    None
                } else {
                    let hashes: Option<Vec<Hash>> =
                        indexes.iter().map(|&i| self.tree.node(level, i)).collect();
                    hashes.map(|hashes| Message::NodeHashes {
                        session,
                        request,
                        hashes,
                    })
                }
            }
            Message::BucketQuery {
                session,
                request,
                depth,
                bucket,
                after,
            } => {
                if depth != self.tree.depth() {
                    Some(self.depth_mismatch(session, request))
                } else {
                    self.tree.bucket(bucket).map(|entries| {
                        let start = match &after {
                            None => 0,
                            Some(k) => entries.partition_point(|e| e.0 <= *k),
                        };
                        let rest = entries.get(start..).unwrap_or_default();
                        let take = rest.len().min(self.config.max_entries_per_message);
                        Message::BucketPage {
                            session,
                            request,
                            entries: rest.get(..take).unwrap_or_default().to_vec(),
                            more: take < rest.len(),
                        }
                    })
                }
            }
            _ => None,
        };
        if let Some(message) = reply {
            self.outputs.push_back(Output::Send { to: from, message });
        }
    }

    fn depth_mismatch(&self, session: u64, request: u32) -> Message {
        Message::DepthMismatch {
            session,
            request,
            depth: self.tree.depth(),
        }
    }

    /// Handles a response (initiator side).
    fn response(&mut self, now: Instant, from: NodeId, message: Message) {
        let (session_id, request) = match &message {
            Message::NodeHashes {
                session, request, ..
            }
            | Message::BucketPage {
                session, request, ..
            }
            | Message::DepthMismatch {
                session, request, ..
            } => (*session, *request),
            _ => return,
        };
        let Some(at) = self
            .sessions
            .iter()
            .position(|s| s.id == session_id && s.peer == from && s.request == request)
        else {
            return; // stale, duplicated, or not ours
        };
        let mut session = self.sessions.swap_remove(at);
        let step = match message {
            Message::NodeHashes { hashes, .. } => self.on_hashes(&mut session, &hashes),
            Message::BucketPage { entries, more, .. } => self.on_page(&mut session, &entries, more),
            Message::DepthMismatch { depth, .. } => {
                Err(SyncFailure::DepthMismatch { remote: depth })
            }
            _ => Err(SyncFailure::BadResponse),
        };
        match step {
            Err(reason) => self.outputs.push_back(Output::Event(Event::SyncFailed {
                peer: session.peer,
                reason,
            })),
            Ok(()) => match self.next_query(&mut session) {
                Some(query) => {
                    self.send_query(now, &mut session, query);
                    self.sessions.push(session);
                }
                None => self.outputs.push_back(Output::Event(Event::SyncComplete {
                    peer: session.peer,
                    differing_buckets: session.differing_buckets,
                    differing_keys: session.differing_keys,
                })),
            },
        }
    }

    fn on_hashes(&self, session: &mut Session, hashes: &[Hash]) -> Result<(), SyncFailure> {
        let Phase::Nodes {
            level,
            asked,
            differing,
            ..
        } = &mut session.phase
        else {
            return Err(SyncFailure::BadResponse);
        };
        if hashes.len() != asked.len() {
            return Err(SyncFailure::BadResponse);
        }
        for (&index, remote) in asked.iter().zip(hashes) {
            if self.tree.node(*level, index).as_ref() != Some(remote) {
                differing.push(index);
            }
        }
        asked.clear();
        Ok(())
    }

    fn on_page(
        &mut self,
        session: &mut Session,
        page: &[(Vec<u8>, Hash)],
        more: bool,
    ) -> Result<(), SyncFailure> {
        let Phase::Buckets {
            pending,
            bucket,
            after,
        } = &mut session.phase
        else {
            return Err(SyncFailure::BadResponse);
        };
        // The page must be strictly ascending, after `after`, bounded, and
        // not empty if it claims more.
        let ascending = page.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0));
        let after_cursor = match (after.as_ref(), page.first()) {
            (Some(cursor), Some(first)) => first.0 > *cursor,
            _ => true,
        };
        let bounded = page.len() <= self.config.max_entries_per_message
            && page.iter().all(|e| e.0.len() <= self.config.max_key_len);
        if !ascending || !after_cursor || !bounded || (more && page.is_empty()) {
            return Err(SyncFailure::BadResponse);
        }
        let local = self.tree.bucket(*bucket).unwrap_or_default();
        let start = match after.as_ref() {
            None => 0,
            Some(k) => local.partition_point(|e| e.0 <= *k),
        };
        let end = match (more, page.last()) {
            (true, Some(last)) => local.partition_point(|e| e.0 <= last.0),
            _ => local.len(),
        };
        let mine = local.get(start..end).unwrap_or_default();
        let peer = session.peer;
        let mut report = |key: &[u8], local: Option<Hash>, remote: Option<Hash>| {
            session.differing_keys += 1;
            self.outputs
                .push_back(Output::Event(Event::Difference(KeyDifference {
                    peer,
                    key: key.to_vec(),
                    local,
                    remote,
                })));
        };
        let (mut i, mut j) = (0, 0);
        loop {
            match (mine.get(i), page.get(j)) {
                (None, None) => break,
                (Some(m), None) => {
                    report(&m.0, Some(m.1), None);
                    i += 1;
                }
                (None, Some(p)) => {
                    report(&p.0, None, Some(p.1));
                    j += 1;
                }
                (Some(m), Some(p)) => match m.0.cmp(&p.0) {
                    core::cmp::Ordering::Less => {
                        report(&m.0, Some(m.1), None);
                        i += 1;
                    }
                    core::cmp::Ordering::Greater => {
                        report(&p.0, None, Some(p.1));
                        j += 1;
                    }
                    core::cmp::Ordering::Equal => {
                        if m.1 != p.1 {
                            report(&m.0, Some(m.1), Some(p.1));
                        }
                        i += 1;
                        j += 1;
                    }
                },
            }
        }
        if more {
            *after = page.last().map(|e| e.0.clone());
        } else {
            *after = None;
            match pending.pop_front() {
                Some(next) => *bucket = next,
                None => session.phase = Phase::Done,
            }
        }
        Ok(())
    }

    /// The next query of `session`, advancing its phase; `None` when done.
    fn next_query(&self, session: &mut Session) -> Option<Message> {
        let depth = self.tree.depth();
        loop {
            match &mut session.phase {
                Phase::Nodes {
                    level,
                    pending,
                    asked,
                    differing,
                } => {
                    if !pending.is_empty() {
                        let take = pending.len().min(self.config.max_hashes_per_message);
                        asked.clear();
                        asked.extend(pending.drain(..take));
                        return Some(Message::NodeQuery {
                            session: session.id,
                            request: 0,
                            depth,
                            level: *level,
                            indexes: asked.clone(),
                        });
                    }
                    if *level == depth {
                        differing.sort_unstable();
                        session.differing_buckets = differing.len() as u64;
                        let mut queue: VecDeque<u32> = differing.drain(..).collect();
                        session.phase = match queue.pop_front() {
                            Some(bucket) => Phase::Buckets {
                                pending: queue,
                                bucket,
                                after: None,
                            },
                            None => Phase::Done,
                        };
                        continue;
                    }
                    if differing.is_empty() {
                        return None;
                    }
                    let children = differing.drain(..).flat_map(|i| [i << 1, (i << 1) | 1]);
                    *pending = children.collect();
                    *level += 1;
                }
                Phase::Done => return None,
                Phase::Buckets { bucket, after, .. } => {
                    return Some(Message::BucketQuery {
                        session: session.id,
                        request: 0,
                        depth,
                        bucket: *bucket,
                        after: after.clone(),
                    });
                }
            }
        }
    }

    fn send_query(&mut self, now: Instant, session: &mut Session, mut query: Message) {
        session.request = session.request.wrapping_add(1);
        if let Message::NodeQuery { request, .. } | Message::BucketQuery { request, .. } =
            &mut query
        {
            *request = session.request;
        }
        session.query = query.clone();
        session.retries = 0;
        session.deadline = now.saturating_add_millis(self.config.retry_ms);
        self.outputs.push_back(Output::Send {
            to: session.peer,
            message: query,
        });
    }

    fn tick(&mut self, now: Instant) {
        let mut i = 0;
        while let Some(session) = self.sessions.get_mut(i) {
            if session.deadline > now {
                i += 1;
                continue;
            }
            if session.retries >= self.config.max_retries {
                let peer = session.peer;
                self.sessions.swap_remove(i);
                self.outputs.push_back(Output::Event(Event::SyncFailed {
                    peer,
                    reason: SyncFailure::Timeout,
                }));
                continue;
            }
            session.retries += 1;
            session.deadline = now.saturating_add_millis(self.config.retry_ms);
            self.outputs.push_back(Output::Send {
                to: session.peer,
                message: session.query.clone(),
            });
            i += 1;
        }
    }
}

/// A replica persists nothing: its keys are the application's data. A
/// restarted replica is the configuration's empty tree, updated again with
/// the keys the application holds.
impl Restore for AntiEntropy {
    type Config = Config;

    fn restore(config: Config, records: &[Infallible]) -> Result<Self, Error> {
        if let Some(never) = records.first() {
            match *never {}
        }
        Self::new(config)
    }
}

impl Participant for AntiEntropy {
    type Message = Message;
    type Command = Command;
    type Persist = Infallible;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn handle_input(&mut self, now: Instant, input: Input<Message, Command>) -> Result<(), Error> {
        match input {
            Input::Message { from, message } => {
                match message {
                    Message::NodeQuery { .. } | Message::BucketQuery { .. } => {
                        self.answer(from, message);
                    }
                    _ => self.response(now, from, message),
                }
                Ok(())
            }
            Input::Tick => {
                self.tick(now);
                Ok(())
            }
            Input::Command(command) => self.command(now, command),
        }
    }

    fn poll_output(&mut self) -> Option<Output<Message, Infallible, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.sessions.iter().map(|s| s.deadline).min()
    }
}
