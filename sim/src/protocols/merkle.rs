//! Merkle anti-entropy in the simulator: replicas of a keyed store that
//! update at random, sync with random peers and repair what the syncs
//! report, and one checker for what the participant
//! ([`consensio::merkle::AntiEntropy`]) promises in its module docs:
//!
//! - **no phantom differences**: every [`Difference`](anti_entropy::Event::Difference)
//!   is a real pair of states. Its `local` version is the initiator's
//!   version of the key at that moment, its `remote` version is one the
//!   peer held at some moment of the sync (between the step that started it
//!   and now), and the two differ. The participant does not promise more
//!   while the stores change — it compares the peer's answer with its own
//!   tree as it is when the answer arrives ("the result then reflects a mix
//!   of old and new state") — so that is what is checked, and a key that
//!   differed at no single instant (both sides moved from one version to
//!   the same next one in flight) is a legitimate report;
//! - **exact when undisturbed**: a sync that completes while neither store
//!   changed since it started reports exactly the keys on which the two
//!   stores differ, with both versions, and `SyncComplete` counts exactly
//!   those keys and their buckets. Loss, duplication, reordering,
//!   partitions, skew and the peer's crash-restart do not excuse a wrong
//!   result (the initiator retransmits, ignores stale answers, and a
//!   restarted peer rebuilds the same tree); they may only make the sync
//!   time out;
//! - **each key once per sync**, and only within a sync the checker saw
//!   start; a sync ends with exactly one `SyncComplete` or `SyncFailed`, or
//!   with the initiator's crash;
//! - **honest peers break nothing**: every replica has the same depth and
//!   answers by the protocol, so the only admissible failure is
//!   [`SyncFailure::Timeout`];
//! - **bounded state**: a replica never runs more than [`MAX_SESSIONS`]
//!   syncs at once, nor two with one peer, nor one with itself;
//! - **the tree mirrors the store**: after a restart, every
//!   [`MIRROR_EVERY`] steps and at the end, each live replica's tree holds
//!   exactly its store's entries, and its root is that of a tree built
//!   afresh from them (the incremental hashing is right).
//!
//! # The replicas
//!
//! Each node's application keeps a store of [`KEYS`] possible keys, each
//! with a version hash; a version is a write's global counter and writer
//! (newest wins), hashed. Every [`WORKLOAD_TICK_MS`] the workload may make
//! one live node write a fresh version of a random key (until 70% of the
//! run, so that the tail shows the replicas converging), and may make one
//! live node start a sync with a random other member (crashed or cut off
//! ones included: those syncs time out). It also applies the repairs the
//! last syncs asked for: for each reported difference, the newer version is
//! written on the side that holds an older one or none (a pull or a push),
//! unless that side has meanwhile moved on to something newer. Trees are
//! small (depth [`DEPTH`]) and messages tiny, so that splitting a level
//! over several queries and paging a bucket happen in every run.
//!
//! # Crash and restart
//!
//! The participant persists nothing: its module docs make the tree
//! application state, "rebuilt from the application's store after a
//! restart". The application's store is durable here (a write survives a
//! crash), and [`Protocol::restore`] rebuilds the participant from its
//! configuration alone with [`Restore::restore`] (no records), then feeds it one
//! [`Update`](anti_entropy::Command::Update) per stored entry. The syncs a
//! replica was running are lost with it; the ones peers were running with
//! it retry and time out or complete against the rebuilt tree.
//!
//! The store and its history are shared by the workload and the checker
//! through an `Rc<RefCell<_>>`: the simulator is single-threaded.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::rc::Rc;

use consensio::merkle::{AntiEntropy, Hash, KeyedTree, SyncFailure, anti_entropy, leaf_hash};
use consensio::{Input, Instant, NodeId, Participant, Restore, Rng};

use super::Entry;
use crate::checker::Checker;
use crate::engine::{MessageLabel, Protocol, SimConfig};

/// The family's entries in the [registry](super).
pub const PROTOCOLS: &[Entry] = &[Entry {
    name: "anti-entropy",
    family: "merkle",
    description: "Merkle anti-entropy: syncs report only real differences, and exactly the difference when undisturbed",
    run: |config| super::run(AntiEntropyProtocol::for_run(&config), config),
}];

/// Depth of every replica's tree: 16 buckets.
pub const DEPTH: u8 = 4;
/// Keys the store can hold (`k00`, `k01`, ...): about four per bucket.
pub const KEYS: u64 = 64;
/// Most syncs a replica initiates at once.
pub const MAX_SESSIONS: usize = 2;
/// Node hashes per query: a level of 16 buckets takes six queries.
pub const MAX_HASHES_PER_MESSAGE: usize = 3;
/// Entries per bucket page: a bucket of four keys takes two pages.
pub const MAX_ENTRIES_PER_MESSAGE: usize = 2;
/// The workload acts this often, ms.
pub const WORKLOAD_TICK_MS: u64 = 50;
/// Chance, per workload tick, that a live node writes a key.
pub const WRITE_CHANCE: f64 = 0.6;
/// Chance, per workload tick, that a live node starts a sync.
pub const SYNC_CHANCE: f64 = 0.5;
/// The tree is compared with the store every this many steps.
pub const MIRROR_EVERY: u64 = 100;

/// The simulated node type.
pub type Node = AntiEntropy;

/// The configuration of replica `id`.
#[must_use]
pub fn config(id: NodeId) -> anti_entropy::Config {
    let mut c = anti_entropy::Config::new(id);
    c.depth = DEPTH;
    c.max_hashes_per_message = MAX_HASHES_PER_MESSAGE;
    c.max_entries_per_message = MAX_ENTRIES_PER_MESSAGE;
    c.max_sessions = MAX_SESSIONS;
    c
}

/// A replica's application store: each key's version hash.
pub type Store = BTreeMap<Vec<u8>, Hash>;

/// Keys with a (local, remote) pair of versions, `None` for "lacks it".
type Pairs = BTreeMap<Vec<u8>, (Option<Hash>, Option<Hash>)>;

/// One key's versions on one node, with the number of the write that set
/// each, oldest first.
type History = Vec<(u64, Hash)>;

/// A repair a reported difference asks for: write `version` of `key` on
/// `node`, unless it holds something newer by then.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Repair {
    node: NodeId,
    key: Vec<u8>,
    version: Hash,
}

/// Every replica's application store and its history, shared by the
/// workload (which writes) and the checker (which judges the reports).
///
/// Writes are numbered 1, 2, ... in the order they happen; "at write `n`"
/// means after the first `n` writes.
#[derive(Debug, Default)]
pub struct Replicas {
    writes: u64,
    stores: BTreeMap<NodeId, Store>,
    /// Each (node, key)'s history; absent before the first write.
    history: BTreeMap<(NodeId, Vec<u8>), History>,
    /// The number of each node's last write.
    last_write: BTreeMap<NodeId, u64>,
    /// Each version's (write number, writer): larger is newer.
    versions: BTreeMap<Hash, (u64, NodeId)>,
    /// Repairs asked for by the syncs, applied at the next workload tick.
    repairs: Vec<Repair>,
    repaired: u64,
}

impl Replicas {
    /// Adds `node` with an empty store (no effect if it exists).
    pub fn join(&mut self, node: NodeId) {
        self.stores.entry(node).or_default();
    }

    /// Records that `node`'s application wrote `version` of `key`.
    pub fn write(&mut self, node: NodeId, key: &[u8], version: Hash) {
        self.writes += 1;
        self.stores
            .entry(node)
            .or_default()
            .insert(key.to_vec(), version);
        self.history
            .entry((node, key.to_vec()))
            .or_default()
            .push((self.writes, version));
        self.last_write.insert(node, self.writes);
    }

    /// A version never written before, by `writer`.
    pub fn fresh_version(&mut self, key: &[u8], writer: NodeId) -> Hash {
        let stamp = (self.writes + 1, writer);
        let mut bytes = key.to_vec();
        bytes.extend_from_slice(&stamp.0.to_be_bytes());
        bytes.extend_from_slice(&writer.0.to_be_bytes());
        let version = leaf_hash(&bytes);
        self.versions.insert(version, stamp);
        version
    }

    /// Writes so far.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// `node`'s store now.
    #[must_use]
    pub fn store(&self, node: NodeId) -> Option<&Store> {
        self.stores.get(&node)
    }

    /// `node`'s version of `key` now.
    #[must_use]
    pub fn current(&self, node: NodeId, key: &[u8]) -> Option<Hash> {
        self.stores.get(&node)?.get(key).copied()
    }

    /// Whether `node` held `version` of `key` (`None`: held no version) at
    /// some moment from write `since` until now.
    #[must_use]
    pub fn held_since(&self, node: NodeId, key: &[u8], since: u64, version: Option<Hash>) -> bool {
        let history = self
            .history
            .get(&(node, key.to_vec()))
            .map_or(&[][..], Vec::as_slice);
        // The version current at `since`, then every later one.
        let current_then = history.partition_point(|(n, _)| *n <= since);
        let then = current_then
            .checked_sub(1)
            .and_then(|i| history.get(i))
            .map(|(_, v)| *v);
        then == version
            || history
                .get(current_then..)
                .unwrap_or_default()
                .iter()
                .any(|(_, v)| Some(*v) == version)
    }

    /// The number of `node`'s last write (0: none).
    #[must_use]
    pub fn last_write(&self, node: NodeId) -> u64 {
        self.last_write.get(&node).copied().unwrap_or(0)
    }

    fn newer(&self, a: Option<Hash>, b: Option<Hash>) -> bool {
        let stamp = |v: Option<Hash>| v.and_then(|v| self.versions.get(&v).copied());
        stamp(a) > stamp(b)
    }

    /// Asks for the repair of a reported difference: the newer side's
    /// version is written on the other.
    fn ask_repair(
        &mut self,
        initiator: NodeId,
        peer: NodeId,
        key: &[u8],
        local: Option<Hash>,
        remote: Option<Hash>,
    ) {
        let (node, version) = if self.newer(remote, local) {
            (initiator, remote)
        } else {
            (peer, local)
        };
        if let Some(version) = version {
            self.repairs.push(Repair {
                node,
                key: key.to_vec(),
                version,
            });
        }
    }

    /// The keys on which the stores of `nodes` do not all agree.
    fn disagreements(&self, nodes: &[NodeId]) -> usize {
        let stores: Vec<Option<&Store>> = nodes.iter().map(|n| self.stores.get(n)).collect();
        let keys: BTreeSet<&Vec<u8>> = stores.iter().flatten().flat_map(|s| s.keys()).collect();
        keys.into_iter()
            .filter(|k| {
                let mut versions = stores.iter().map(|s| s.and_then(|s| s.get(*k)));
                let first = versions.next().flatten();
                versions.any(|v| v != first)
            })
            .count()
    }
}

/// A version's first bytes in hex, or `none`, for traces and messages.
fn short(version: Option<Hash>) -> String {
    version.map_or("none".into(), |h| {
        h.iter().take(3).map(|b| format!("{b:02x}")).collect()
    })
}

/// The keys the workload writes.
fn key(i: u64) -> Vec<u8> {
    format!("k{i:02}").into_bytes()
}

/// Anti-entropy with the workload of the [module docs](self).
#[derive(Clone, Debug)]
pub struct AntiEntropyProtocol {
    replicas: Rc<RefCell<Replicas>>,
    /// Writes stop at this simulated time (repairs and syncs go on).
    writes_until_ms: u64,
}

impl Default for AntiEntropyProtocol {
    fn default() -> Self {
        AntiEntropyProtocol {
            replicas: Rc::default(),
            writes_until_ms: u64::MAX,
        }
    }
}

impl AntiEntropyProtocol {
    /// The adapter for one run of `config`: writes stop at 70% of it.
    #[must_use]
    pub fn for_run(config: &SimConfig) -> Self {
        AntiEntropyProtocol {
            writes_until_ms: config.duration_ms / 10 * 7,
            ..Self::default()
        }
    }

    /// The replicas' stores, shared with the checker.
    #[must_use]
    pub fn replicas(&self) -> Rc<RefCell<Replicas>> {
        Rc::clone(&self.replicas)
    }
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> Option<T> {
    let i = usize::try_from(rng.below(items.len() as u64)).ok()?;
    items.get(i).copied()
}

impl Protocol for AntiEntropyProtocol {
    type Node = Node;

    fn name(&self) -> &'static str {
        "anti-entropy"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Node {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, _members: &[NodeId], _seed: u64, disk: &[Infallible]) -> Node {
        let mut replicas = self.replicas.borrow_mut();
        replicas.join(id);
        // The simulator's ids and the constant configuration are valid.
        let mut node = AntiEntropy::restore(config(id), disk)
            .unwrap_or_else(|e| panic!("anti-entropy configuration: {e}"));
        for (key, &version) in replicas.store(id).into_iter().flatten() {
            let update = anti_entropy::Command::Update {
                key: key.clone(),
                version,
            };
            // Keys are a few bytes, far below `max_key_len`.
            node.handle_input(Instant::ZERO, Input::Command(update))
                .unwrap_or_else(|e| panic!("n{} could not reload its store: {e}", id.0));
        }
        node
    }

    fn workload_interval_ms(&self) -> Option<u64> {
        Some(WORKLOAD_TICK_MS)
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, anti_entropy::Command)> {
        let mut replicas = self.replicas.borrow_mut();
        let mut commands = Vec::new();
        for repair in std::mem::take(&mut replicas.repairs) {
            let current = replicas.current(repair.node, &repair.key);
            if !live.contains(&repair.node) || !replicas.newer(Some(repair.version), current) {
                continue;
            }
            replicas.write(repair.node, &repair.key, repair.version);
            replicas.repaired += 1;
            commands.push((
                repair.node,
                anti_entropy::Command::Update {
                    key: repair.key,
                    version: repair.version,
                },
            ));
        }
        if now_ms < self.writes_until_ms
            && rng.chance(WRITE_CHANCE)
            && let Some(writer) = pick(rng, live)
        {
            let key = key(rng.below(KEYS));
            let version = replicas.fresh_version(&key, writer);
            replicas.write(writer, &key, version);
            commands.push((writer, anti_entropy::Command::Update { key, version }));
        }
        if rng.chance(SYNC_CHANCE)
            && let Some(initiator) = pick(rng, live)
        {
            let others: Vec<NodeId> = replicas
                .stores
                .keys()
                .copied()
                .filter(|&n| n != initiator)
                .collect();
            if let Some(peer) = pick(rng, &others) {
                commands.push((initiator, anti_entropy::Command::StartSync { peer }));
            }
        }
        commands
    }

    /// Differences are labelled by their sync's end in diagrams.
    fn is_routine(&self, event: &anti_entropy::Event) -> bool {
        matches!(event, anti_entropy::Event::Difference(_))
    }

    fn checker(&self) -> Box<dyn Checker<Node>> {
        Box::new(AntiEntropyChecker::new(self.replicas(), MAX_SESSIONS))
    }

    fn describe_message(&self, message: &anti_entropy::Message) -> MessageLabel {
        use anti_entropy::Message;
        match message {
            Message::NodeQuery {
                session,
                request,
                level,
                indexes,
                ..
            } => MessageLabel::new(
                "NodeQuery",
                format!(
                    "NodeQuery s{session}#{request} level {level}, {} nodes",
                    indexes.len()
                ),
            ),
            Message::NodeHashes {
                session,
                request,
                hashes,
            } => MessageLabel::new(
                "NodeHashes",
                format!("NodeHashes s{session}#{request}, {} hashes", hashes.len()),
            ),
            Message::BucketQuery {
                session,
                request,
                bucket,
                after,
                ..
            } => MessageLabel::new(
                "BucketQuery",
                format!(
                    "BucketQuery s{session}#{request} bucket {bucket}{}",
                    after.as_ref().map_or(String::new(), |k| format!(
                        " after {}",
                        String::from_utf8_lossy(k)
                    ))
                ),
            ),
            Message::BucketPage {
                session,
                request,
                entries,
                more,
            } => MessageLabel::new(
                "BucketPage",
                format!(
                    "BucketPage s{session}#{request}, {} keys{}",
                    entries.len(),
                    if *more { ", more" } else { "" }
                ),
            ),
            Message::DepthMismatch {
                session,
                request,
                depth,
            } => MessageLabel::new(
                "DepthMismatch",
                format!("DepthMismatch s{session}#{request}: depth {depth}"),
            ),
        }
    }

    fn describe(&self, event: &anti_entropy::Event) -> String {
        match event {
            anti_entropy::Event::Difference(d) => format!(
                "Difference {} with {}: {} here, {} there",
                String::from_utf8_lossy(&d.key),
                d.peer,
                short(d.local),
                short(d.remote)
            ),
            anti_entropy::Event::SyncComplete {
                peer,
                differing_buckets,
                differing_keys,
            } => format!(
                "SyncComplete with {peer}: {differing_keys} keys in {differing_buckets} buckets"
            ),
            anti_entropy::Event::SyncFailed { peer, reason } => {
                let why = match reason {
                    SyncFailure::Timeout => "no answer".to_string(),
                    SyncFailure::DepthMismatch { remote } => {
                        format!("its tree has depth {remote}")
                    }
                    SyncFailure::BadResponse => "a response that breaks the protocol".to_string(),
                };
                format!("SyncFailed with {peer}: {why}")
            }
        }
    }
}

/// A sync the checker saw start.
#[derive(Debug)]
struct Open {
    /// The number of writes before the step that started it.
    since: u64,
    /// The keys reported so far, with (local, remote) versions.
    reported: Pairs,
}

/// The anti-entropy checker; see the [module docs](self).
#[derive(Debug)]
pub struct AntiEntropyChecker {
    replicas: Rc<RefCell<Replicas>>,
    max_sessions: usize,
    /// Open syncs by (initiator, peer).
    open: BTreeMap<(NodeId, NodeId), Open>,
    /// Writes done by the end of the last step.
    settled: u64,
    /// The nodes that were up after the last step.
    up: BTreeSet<NodeId>,
    steps: u64,
    /// An empty tree of the replicas' depth, for `bucket_of`.
    shape: KeyedTree,
    started: u64,
    completed: u64,
    exact: u64,
    timed_out: u64,
    differences: u64,
    /// Keys the live replicas disagree on at the end.
    disagreeing: Option<usize>,
}

impl AntiEntropyChecker {
    /// A checker of replicas whose stores are `replicas`, allowing
    /// `max_sessions` syncs per initiator.
    #[must_use]
    pub fn new(replicas: Rc<RefCell<Replicas>>, max_sessions: usize) -> Self {
        let settled = replicas.borrow().writes();
        AntiEntropyChecker {
            replicas,
            max_sessions,
            open: BTreeMap::new(),
            settled,
            up: BTreeSet::new(),
            steps: 0,
            // DEPTH is a constant below MAX_KEYED_DEPTH.
            shape: KeyedTree::new(DEPTH).unwrap_or_else(|e| panic!("tree depth: {e}")),
            started: 0,
            completed: 0,
            exact: 0,
            timed_out: 0,
            differences: 0,
            disagreeing: None,
        }
    }

    fn difference(
        &mut self,
        node: NodeId,
        d: &consensio::merkle::KeyDifference,
    ) -> Result<(), String> {
        let name = String::from_utf8_lossy(&d.key).into_owned();
        let mut replicas = self.replicas.borrow_mut();
        let Some(open) = self.open.get_mut(&(node, d.peer)) else {
            return Err(format!(
                "{node} reported a difference on {name} with {} outside any sync",
                d.peer
            ));
        };
        if open.reported.contains_key(&d.key) {
            return Err(format!(
                "{node} reported {name} twice in one sync with {}",
                d.peer
            ));
        }
        if d.local == d.remote {
            return Err(format!(
                "{node} reported {name} as differing from {}, with equal versions",
                d.peer
            ));
        }
        let local = replicas.current(node, &d.key);
        if d.local != local {
            return Err(format!(
                "phantom difference: {node} reported its own {name} as {}, but holds {}",
                short(d.local),
                short(local)
            ));
        }
        if !replicas.held_since(d.peer, &d.key, open.since, d.remote) {
            return Err(format!(
                "phantom difference: {node} reported {}'s {name} as {}, which {} did not hold during the sync",
                d.peer,
                short(d.remote),
                d.peer
            ));
        }
        open.reported.insert(d.key.clone(), (d.local, d.remote));
        self.differences += 1;
        replicas.ask_repair(node, d.peer, &d.key, d.local, d.remote);
        Ok(())
    }

    fn complete(
        &mut self,
        node: NodeId,
        peer: NodeId,
        differing_buckets: u64,
        differing_keys: u64,
    ) -> Result<(), String> {
        let Some(open) = self.open.remove(&(node, peer)) else {
            return Err(format!(
                "{node} completed a sync with {peer} it never started"
            ));
        };
        self.completed += 1;
        if differing_keys != open.reported.len() as u64 {
            return Err(format!(
                "{node}'s sync with {peer} counts {differing_keys} differing keys, but reported {}",
                open.reported.len()
            ));
        }
        let replicas = self.replicas.borrow();
        let undisturbed =
            replicas.last_write(node) <= open.since && replicas.last_write(peer) <= open.since;
        if !undisturbed {
            return Ok(());
        }
        self.exact += 1;
        let empty = BTreeMap::new();
        let mine = replicas.store(node).unwrap_or(&empty);
        let theirs = replicas.store(peer).unwrap_or(&empty);
        let keys: BTreeSet<&Vec<u8>> = mine.keys().chain(theirs.keys()).collect();
        let truth: Pairs = keys
            .into_iter()
            .map(|k| (k.clone(), (mine.get(k).copied(), theirs.get(k).copied())))
            .filter(|(_, (a, b))| a != b)
            .collect();
        if truth != open.reported {
            let names = |m: &BTreeMap<Vec<u8>, _>| {
                m.keys()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            return Err(format!(
                "{node}'s undisturbed sync with {peer} reported [{}], but the stores differ on [{}]",
                names(&open.reported),
                names(&truth)
            ));
        }
        let buckets: BTreeSet<u32> = truth.keys().map(|k| self.shape.bucket_of(k)).collect();
        if differing_buckets != buckets.len() as u64 {
            return Err(format!(
                "{node}'s undisturbed sync with {peer} counts {differing_buckets} differing buckets, but the keys fall in {}",
                buckets.len()
            ));
        }
        Ok(())
    }

    /// The tree of `node` holds exactly its store, with the right root.
    fn mirrors(&self, id: NodeId, node: &Node) -> Result<(), String> {
        let replicas = self.replicas.borrow();
        let empty = BTreeMap::new();
        let store = replicas.store(id).unwrap_or(&empty);
        let tree = node.tree();
        let held: Store = (0..1u32 << tree.depth())
            .filter_map(|b| tree.bucket(b))
            .flatten()
            .cloned()
            .collect();
        if &held != store {
            return Err(format!(
                "{id}'s tree holds {} entries, its store {} (or different versions)",
                held.len(),
                store.len()
            ));
        }
        let mut fresh = KeyedTree::new(tree.depth()).map_err(|e| e.to_string())?;
        for (key, version) in store {
            fresh.insert(key, *version);
        }
        if fresh.root() != tree.root() {
            return Err(format!(
                "{id}'s root is not that of a tree built afresh from its entries"
            ));
        }
        Ok(())
    }
}

impl Checker<Node> for AntiEntropyChecker {
    fn name(&self) -> &'static str {
        "anti-entropy reports real differences, exactly when undisturbed, within bounds"
    }

    fn on_event(
        &mut self,
        _time_ms: u64,
        node: NodeId,
        event: &anti_entropy::Event,
    ) -> Result<(), String> {
        match event {
            anti_entropy::Event::Difference(d) => self.difference(node, d),
            anti_entropy::Event::SyncComplete {
                peer,
                differing_buckets,
                differing_keys,
            } => self.complete(node, *peer, *differing_buckets, *differing_keys),
            anti_entropy::Event::SyncFailed { peer, reason } => {
                if self.open.remove(&(node, *peer)).is_none() {
                    return Err(format!("{node} failed a sync with {peer} it never started"));
                }
                if *reason != SyncFailure::Timeout {
                    return Err(format!(
                        "{node}'s sync with {peer} failed with {reason:?}, but every replica is honest and of depth {DEPTH}"
                    ));
                }
                self.timed_out += 1;
                Ok(())
            }
        }
    }

    fn after_step(
        &mut self,
        _time_ms: u64,
        nodes: &[(NodeId, Option<&Node>)],
    ) -> Result<(), String> {
        self.steps += 1;
        for &(id, node) in nodes {
            let Some(node) = node else {
                // A crash ends the syncs the node was running.
                self.open.retain(|(initiator, _), _| *initiator != id);
                self.up.remove(&id);
                continue;
            };
            let peers: Vec<NodeId> = node.syncing_with().collect();
            if peers.len() > self.max_sessions {
                return Err(format!(
                    "{id} runs {} syncs at once; the bound is {}",
                    peers.len(),
                    self.max_sessions
                ));
            }
            let distinct: BTreeSet<NodeId> = peers.iter().copied().collect();
            if distinct.len() != peers.len() || distinct.contains(&id) {
                return Err(format!(
                    "{id} syncs with {peers:?}: a peer twice, or itself"
                ));
            }
            for &peer in &distinct {
                if !self.open.contains_key(&(id, peer)) {
                    self.started += 1;
                    self.open.insert(
                        (id, peer),
                        Open {
                            since: self.settled,
                            reported: BTreeMap::new(),
                        },
                    );
                }
            }
            if let Some((_, peer)) = self
                .open
                .keys()
                .find(|(initiator, peer)| *initiator == id && !distinct.contains(peer))
            {
                return Err(format!("{id}'s sync with {peer} ended without an event"));
            }
            let restarted = self.up.insert(id);
            if restarted || self.steps % MIRROR_EVERY == 0 {
                self.mirrors(id, node)?;
            }
        }
        self.settled = self.replicas.borrow().writes();
        Ok(())
    }

    fn at_end(&mut self, _time_ms: u64, nodes: &[(NodeId, Option<&Node>)]) -> Result<(), String> {
        let mut live = Vec::new();
        for &(id, node) in nodes {
            if let Some(node) = node {
                self.mirrors(id, node)?;
                live.push(id);
            }
        }
        self.disagreeing = Some(self.replicas.borrow().disagreements(&live));
        Ok(())
    }

    fn report(&self) -> Vec<(String, String)> {
        let replicas = self.replicas.borrow();
        vec![
            (
                "syncs".into(),
                format!(
                    "{} started, {} complete ({} undisturbed, checked exact), {} timed out",
                    self.started, self.completed, self.exact, self.timed_out
                ),
            ),
            (
                "differences".into(),
                format!(
                    "{} reported, {} repairs written",
                    self.differences, replicas.repaired
                ),
            ),
            (
                "live replicas agree at the end".into(),
                match self.disagreeing {
                    None => "-".into(),
                    Some(0) => "yes".into(),
                    Some(n) => format!("no ({n} keys differ)"),
                },
            ),
        ]
    }
}
