//! The `merkle_anti_entropy` step target: three replicas, their
//! applications' stores, and a network that the input controls.
//!
//! Each step is one of: an application command (update, remove, start a
//! sync), a network action (deliver, duplicate or drop any queued packet,
//! or flush), a tick after time passes, a crash-restart (the participant is
//! rebuilt from its configuration and its application's store, as the
//! protocol docs prescribe), or a forged message (structured, or raw bytes
//! through `handle_message`) from any claimed sender.
//!
//! After every input the harness drains the participant and checks:
//!
//! - no panic, and an error exactly when the contract says (self-sync,
//!   already syncing, too many sessions, key too long, bad bytes), with the
//!   participant unchanged;
//! - bounded memory: the outputs of one input are at most
//!   `max(max_sessions, len + max_entries_per_message + 1)` (a page of
//!   `max_entries_per_message` remote entries against at most `len` local
//!   ones, then one follow-up), sessions at most `max_sessions`, one per
//!   peer and never with itself, and `next_deadline` set exactly when a
//!   session runs;
//! - every message sent respects the per-message bounds of the
//!   configuration and is addressed to a peer;
//! - the tree holds exactly the application's keys and versions;
//! - a completed sync reported as many differences as it counted, each key
//!   once; and when it ran undisturbed (neither store changed, nothing
//!   forged or left over from before a restart reached the initiator), the
//!   differences are exactly the keys on which the two stores differ, with
//!   both versions.

use core::convert::Infallible;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use arbitrary::Arbitrary;
use consensio::merkle::{AntiEntropy, Hash, KeyDifference, anti_entropy, anti_entropy::Message};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore, wire};

use crate::harness::{Checked, Expected, Family, Feed, InputOf, OutputOf};
use crate::structured;

const NODES: u64 = 3;
/// Packets in flight beyond this are dropped, oldest first (the network is
/// lossy anyway); it keeps one input's work bounded.
const MAX_IN_FLIGHT: usize = 256;
/// Deliveries one `Flush` makes at most.
const FLUSH: usize = 512;

#[derive(Arbitrary, Debug)]
pub struct Scenario {
    depth: u8,
    /// Replica 3's depth differs from the others' when set.
    odd_depth: Option<u8>,
    max_hashes_per_message: u8,
    max_entries_per_message: u8,
    max_key_len: u8,
    retry_ms: u8,
    max_retries: u8,
    max_sessions: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Update { node: u8, key: Key, version: u8 },
    Remove { node: u8, key: Key },
    StartSync { node: u8, peer: u8 },
    Deliver { pick: u16 },
    Duplicate { pick: u16 },
    Drop { pick: u16 },
    Flush,
    Tick { node: u8, advance_ms: u16 },
    Restart { node: u8 },
    Forge { node: u8, from: u8, message: Forged },
    ForgeBytes { node: u8, from: u8, bytes: Vec<u8> },
}

/// Keys from a small alphabet, so replicas share and collide on them.
#[derive(Arbitrary, Debug)]
enum Key {
    Small(u8),
    Raw(Vec<u8>),
}

impl Key {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Key::Small(k) => vec![b'k', k % 24],
            Key::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A message a hostile peer might send.
#[derive(Arbitrary, Debug)]
enum Forged {
    NodeQuery {
        session: u8,
        request: u8,
        depth: u8,
        level: u8,
        indexes: Vec<u32>,
    },
    NodeHashes {
        session: u8,
        request: u8,
        hashes: Vec<u8>,
    },
    BucketQuery {
        session: u8,
        request: u8,
        depth: u8,
        bucket: u32,
        after: Option<Vec<u8>>,
    },
    BucketPage {
        session: u8,
        request: u8,
        entries: Vec<(Vec<u8>, u8)>,
        more: bool,
    },
    DepthMismatch {
        session: u8,
        request: u8,
        depth: u8,
    },
}

impl Forged {
    fn message(&self) -> Message {
        let small = |v: &u8| u64::from(*v % 4);
        let req = |v: &u8| u32::from(*v % 8);
        match self {
            Forged::NodeQuery {
                session,
                request,
                depth,
                level,
                indexes,
            } => Message::NodeQuery {
                session: small(session),
                request: req(request),
                depth: *depth % 6,
                level: *level % 6,
                indexes: indexes.iter().take(64).copied().collect(),
            },
            Forged::NodeHashes {
                session,
                request,
                hashes,
            } => Message::NodeHashes {
                session: small(session),
                request: req(request),
                hashes: hashes.iter().take(64).map(|&b| [b; 32]).collect(),
            },
            Forged::BucketQuery {
                session,
                request,
                depth,
                bucket,
                after,
            } => Message::BucketQuery {
                session: small(session),
                request: req(request),
                depth: *depth % 6,
                bucket: *bucket % 64,
                after: after.clone(),
            },
            Forged::BucketPage {
                session,
                request,
                entries,
                more,
            } => Message::BucketPage {
                session: small(session),
                request: req(request),
                entries: entries
                    .iter()
                    .take(64)
                    .map(|(k, v)| (k.clone(), [*v; 32]))
                    .collect(),
                more: *more,
            },
            Forged::DepthMismatch {
                session,
                request,
                depth,
            } => Message::DepthMismatch {
                session: small(session),
                request: req(request),
                depth: *depth % 6,
            },
        }
    }
}

/// Where a packet comes from, for telling undisturbed syncs apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Caused by this incarnation of this node (its command, tick, or a
    /// chain of queries and answers that it started).
    Node { id: u64, incarnation: u32 },
    /// Forged by the harness, or caused by something forged.
    Forged,
}

#[derive(Clone, Debug)]
struct Packet {
    from: NodeId,
    to: NodeId,
    message: Message,
    origin: Origin,
}

/// What the harness knows of a sync in progress.
#[derive(Debug)]
struct Sync {
    /// Both stores as they were at the start.
    local: BTreeMap<Vec<u8>, Hash>,
    remote: Option<BTreeMap<Vec<u8>, Hash>>,
    /// Whether anything may have swayed the result.
    disturbed: bool,
    reported: Vec<KeyDifference>,
}

/// One replica for the [`harness`]: the application beside the
/// participant, and what the harness knows of its syncs.
struct Replica {
    config: anti_entropy::Config,
    /// The application's store: what the tree is rebuilt from.
    store: BTreeMap<Vec<u8>, Hash>,
    incarnation: u32,
    syncs: BTreeMap<NodeId, Sync>,
    /// The sync a `StartSync` being fed will start, if accepted.
    starting: Option<(NodeId, Sync)>,
    /// Whether the input being handled claims to come from its receiver.
    from_itself: bool,
    /// Undisturbed syncs whose result was checked against the stores.
    checked_syncs: usize,
}

struct World {
    replicas: Vec<Replica>,
    nodes: Vec<Checked<Replica>>,
    network: VecDeque<Packet>,
    now: Instant,
}

fn config(scenario: &Scenario, id: u64) -> anti_entropy::Config {
    let depth = match scenario.odd_depth {
        Some(d) if id == NODES => d % 5,
        _ => scenario.depth % 5,
    };
    anti_entropy::Config {
        id: NodeId(id),
        depth,
        max_hashes_per_message: usize::from(scenario.max_hashes_per_message % 4) + 1,
        max_entries_per_message: usize::from(scenario.max_entries_per_message % 4) + 1,
        max_key_len: usize::from(scenario.max_key_len % 8) + 1,
        retry_ms: u64::from(scenario.retry_ms % 50) + 1,
        max_retries: u32::from(scenario.max_retries % 4),
        max_sessions: usize::from(scenario.max_sessions % 3) + 1,
    }
}

fn version(v: u8) -> Hash {
    [v % 4; 32]
}

impl World {
    fn new(scenario: &Scenario) -> Self {
        let replicas: Vec<Replica> = (1..=NODES)
            .map(|id| Replica {
                config: config(scenario, id),
                store: BTreeMap::new(),
                incarnation: 0,
                syncs: BTreeMap::new(),
                starting: None,
                from_itself: false,
                checked_syncs: 0,
            })
            .collect();
        World {
            nodes: replicas.iter().map(Checked::new).collect(),
            replicas,
            network: VecDeque::new(),
            now: Instant::ZERO,
        }
    }

    fn index(node: u8) -> usize {
        usize::from(node) % NODES as usize
    }

    fn origin_of(&self, i: usize) -> Origin {
        Origin::Node {
            id: i as u64 + 1,
            incarnation: self.replicas[i].incarnation,
        }
    }

    fn checked_syncs(&self) -> usize {
        self.replicas.iter().map(|r| r.checked_syncs).sum()
    }

    /// Marks every sync that involves replica `i`'s store as disturbed.
    fn store_changed(&mut self, i: usize) {
        let id = NodeId(i as u64 + 1);
        for (r, replica) in self.replicas.iter_mut().enumerate() {
            for (peer, sync) in &mut replica.syncs {
                if r == i || *peer == id {
                    sync.disturbed = true;
                }
            }
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Update {
                node,
                key,
                version: v,
            } => {
                let i = Self::index(*node);
                let key = key.bytes();
                // The application records the change, then tells the tree;
                // a key the tree refuses is not recorded.
                let accepted = key.len() <= self.replicas[i].config.max_key_len;
                if accepted {
                    self.replicas[i].store.insert(key.clone(), version(*v));
                    self.store_changed(i);
                }
                let command = anti_entropy::Command::Update {
                    key,
                    version: version(*v),
                };
                assert_eq!(self.command(i, command).is_ok(), accepted);
            }
            Step::Remove { node, key } => {
                let i = Self::index(*node);
                let key = key.bytes();
                let accepted = key.len() <= self.replicas[i].config.max_key_len;
                if accepted {
                    self.replicas[i].store.remove(&key);
                    self.store_changed(i);
                }
                assert_eq!(
                    self.command(i, anti_entropy::Command::Remove { key })
                        .is_ok(),
                    accepted
                );
            }
            Step::StartSync { node, peer } => {
                let i = Self::index(*node);
                // Peer 4 does not exist: its syncs can only time out.
                let peer = NodeId(u64::from(*peer % (NODES as u8 + 1)) + 1);
                let command = anti_entropy::Command::StartSync { peer };
                let accepted = self.replicas[i]
                    .expected_error(&Input::Command(command.clone()))
                    .is_none();
                if accepted {
                    // Both stores as they are now; the sync is recorded
                    // when the input is accepted, before its outputs.
                    let remote = self
                        .replicas
                        .get(peer.0 as usize - 1)
                        .map(|r| r.store.clone());
                    let local = self.replicas[i].store.clone();
                    let sync = Sync {
                        local,
                        remote,
                        disturbed: false,
                        reported: Vec::new(),
                    };
                    self.replicas[i].starting = Some((peer, sync));
                }
                assert_eq!(self.command(i, command).is_ok(), accepted);
                assert!(self.replicas[i].starting.take().is_none());
            }
            Step::Deliver { pick } => {
                if !self.network.is_empty() {
                    let at = usize::from(*pick) % self.network.len();
                    let packet = self.network.remove(at).expect("in range");
                    self.deliver(packet);
                }
            }
            Step::Duplicate { pick } => {
                if !self.network.is_empty() {
                    let at = usize::from(*pick) % self.network.len();
                    let packet = self.network[at].clone();
                    self.deliver(packet);
                }
            }
            Step::Drop { pick } => {
                if !self.network.is_empty() {
                    let at = usize::from(*pick) % self.network.len();
                    self.network.remove(at);
                }
            }
            Step::Flush => {
                for _ in 0..FLUSH {
                    let Some(packet) = self.network.pop_front() else {
                        break;
                    };
                    self.deliver(packet);
                }
            }
            Step::Tick { node, advance_ms } => {
                self.now = self.now.saturating_add_millis(u64::from(*advance_ms));
                let i = Self::index(*node);
                let origin = self.origin_of(i);
                self.feed(i, Feed::Input(Input::Tick), origin)
                    .expect("a tick never fails");
            }
            Step::Restart { node } => {
                let i = Self::index(*node);
                self.nodes[i].restart(&mut self.replicas[i], self.now);
            }
            Step::Forge {
                node,
                from,
                message,
            } => {
                let packet = Packet {
                    from: NodeId(u64::from(*from % 5)),
                    to: NodeId(Self::index(*node) as u64 + 1),
                    message: message.message(),
                    origin: Origin::Forged,
                };
                self.deliver(packet);
            }
            Step::ForgeBytes { node, from, bytes } => {
                let i = Self::index(*node);
                let from = NodeId(u64::from(*from % 5));
                if wire::decode::<Message>(bytes).is_ok() {
                    self.disturb(i, from);
                }
                let frame = Feed::Bytes { from, frame: bytes };
                // Refused exactly when the bytes do not decode (the harness
                // knows with which error); messages are never rejected.
                let _ = self.feed(i, frame, Origin::Forged);
            }
        }
    }

    fn disturb(&mut self, i: usize, from: NodeId) {
        if let Some(sync) = self.replicas[i].syncs.get_mut(&from) {
            sync.disturbed = true;
        }
    }

    fn deliver(&mut self, packet: Packet) {
        let Some(i) = (packet.to.0 as usize)
            .checked_sub(1)
            .filter(|&i| i < NODES as usize)
        else {
            return; // nobody there
        };
        let response = !matches!(
            packet.message,
            Message::NodeQuery { .. } | Message::BucketQuery { .. }
        );
        if response && packet.origin != self.origin_of(i) {
            // Forged, or left over from before a restart: it may match a
            // session by chance (session numbers restart from 0).
            self.disturb(i, packet.from);
        }
        let input = Input::Message {
            from: packet.from,
            message: packet.message,
        };
        self.feed(i, Feed::Input(input), packet.origin)
            .expect("messages are never rejected");
    }

    /// A command from replica `i`'s application.
    fn command(
        &mut self,
        i: usize,
        command: anti_entropy::Command,
    ) -> Result<(), anti_entropy::Error> {
        let origin = self.origin_of(i);
        self.feed(i, Feed::Input(Input::Command(command)), origin)
    }

    /// Feeds one input to replica `i` through the harness, and puts what
    /// it sends on the network, as coming from `origin`.
    fn feed(
        &mut self,
        i: usize,
        feed: Feed<'_, Message, anti_entropy::Command>,
        origin: Origin,
    ) -> Result<(), anti_entropy::Error> {
        let id = NodeId(i as u64 + 1);
        let replica = &mut self.replicas[i];
        replica.from_itself = match &feed {
            Feed::Input(Input::Message { from, .. }) | Feed::Bytes { from, .. } => *from == id,
            Feed::Input(_) => false,
        };
        let (result, outputs) = self.nodes[i].feed(replica, self.now, feed, true);
        replica.from_itself = false;
        for output in outputs {
            if let Output::Send { to, message } = output {
                if self.network.len() == MAX_IN_FLIGHT {
                    self.network.pop_front();
                }
                self.network.push_back(Packet {
                    from: id,
                    to,
                    message,
                    origin,
                });
            }
        }
        result
    }
}

impl Replica {
    fn expected_error(
        &self,
        input: &Input<Message, anti_entropy::Command>,
    ) -> Option<anti_entropy::Error> {
        let config = &self.config;
        match input {
            Input::Command(anti_entropy::Command::StartSync { peer }) => {
                if *peer == config.id {
                    Some(anti_entropy::Error::SelfSync)
                } else if self.syncs.contains_key(peer) {
                    Some(anti_entropy::Error::AlreadySyncing { peer: *peer })
                } else if self.syncs.len() >= config.max_sessions {
                    Some(anti_entropy::Error::TooManySessions)
                } else {
                    None
                }
            }
            Input::Command(
                anti_entropy::Command::Update { key, .. } | anti_entropy::Command::Remove { key },
            ) => (key.len() > config.max_key_len)
                .then_some(anti_entropy::Error::KeyTooLong { len: key.len() }),
            _ => None,
        }
    }

    fn event(&mut self, event: &anti_entropy::Event) {
        match event {
            anti_entropy::Event::Difference(difference) => {
                let sync = self
                    .syncs
                    .get_mut(&difference.peer)
                    .expect("a difference from a sync in progress");
                assert!(
                    sync.reported.iter().all(|d| d.key != difference.key),
                    "key reported twice"
                );
                assert!(difference.local.is_some() || difference.remote.is_some());
                assert_ne!(difference.local, difference.remote);
                sync.reported.push(difference.clone());
            }
            anti_entropy::Event::SyncComplete {
                peer,
                differing_buckets,
                differing_keys,
            } => {
                let sync = self.syncs.remove(peer).expect("a sync in progress");
                assert_eq!(*differing_keys, sync.reported.len() as u64);
                assert!(*differing_buckets <= 1 << self.config.depth);
                if sync.disturbed {
                    return;
                }
                let remote = sync.remote.expect("only a live peer answers");
                let mut expected: Vec<(Vec<u8>, Option<Hash>, Option<Hash>)> = sync
                    .local
                    .keys()
                    .chain(remote.keys())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .map(|k| {
                        (
                            k.clone(),
                            sync.local.get(k).copied(),
                            remote.get(k).copied(),
                        )
                    })
                    .filter(|(_, l, r)| l != r)
                    .collect();
                expected.sort();
                let mut got: Vec<(Vec<u8>, Option<Hash>, Option<Hash>)> = sync
                    .reported
                    .into_iter()
                    .map(|d| (d.key, d.local, d.remote))
                    .collect();
                got.sort();
                assert_eq!(got, expected, "an undisturbed sync missed or invented keys");
                self.checked_syncs += 1;
                assert!(*differing_buckets > 0 || expected.is_empty());
            }
            anti_entropy::Event::SyncFailed { peer, .. } => {
                self.syncs.remove(peer).expect("a sync in progress");
            }
        }
    }

    /// The replica's local invariants, after its outputs are drained.
    fn check(&self, p: &AntiEntropy) {
        let peers: Vec<NodeId> = p.syncing_with().collect();
        let distinct: BTreeSet<NodeId> = peers.iter().copied().collect();
        assert_eq!(distinct.len(), peers.len(), "two sessions with one peer");
        assert!(peers.len() <= self.config.max_sessions);
        assert!(!distinct.contains(&self.config.id));
        let tracked: BTreeSet<NodeId> = self.syncs.keys().copied().collect();
        assert_eq!(
            distinct, tracked,
            "sessions started and ended without a word"
        );
        assert_eq!(p.next_deadline().is_some(), !peers.is_empty());
        let tree = p.tree();
        assert_eq!(tree.len(), self.store.len());
        for (key, version) in &self.store {
            assert_eq!(tree.get(key), Some(*version));
        }
    }
}

impl Family for Replica {
    type Node = AntiEntropy;
    /// What must not change when an input is rejected.
    type Snapshot = (Hash, usize, Vec<NodeId>);

    /// The participant is rebuilt from its configuration and the
    /// application's store, as the protocol docs prescribe (it persists
    /// nothing itself).
    fn restore(&self, _: &[Infallible], now: Instant) -> AntiEntropy {
        let mut participant =
            AntiEntropy::restore(self.config, &[]).expect("a valid configuration");
        for (key, version) in &self.store {
            participant
                .handle_input(
                    now,
                    Input::Command(anti_entropy::Command::Update {
                        key: key.clone(),
                        version: *version,
                    }),
                )
                .expect("the store only holds accepted keys");
        }
        participant
    }

    fn restarted(&mut self, node: &AntiEntropy, _: &[Infallible]) {
        self.incarnation += 1;
        self.syncs.clear();
        self.check(node);
    }

    fn snapshot(&self, p: &AntiEntropy, _: Instant) -> Self::Snapshot {
        (p.tree().root(), p.tree().len(), p.syncing_with().collect())
    }

    /// A page of `max_entries_per_message` remote entries against at most
    /// `len` local ones, then one follow-up; or a query per session.
    fn max_outputs(&self, p: &AntiEntropy) -> usize {
        let config = &self.config;
        config
            .max_sessions
            .max(p.tree().len() + config.max_entries_per_message + 1)
    }

    fn expected(&self, _: &AntiEntropy, input: &InputOf<Self>, _: bool) -> Expected<Self> {
        Some(self.expected_error(input).map_or(Ok(()), Err))
    }

    fn accepted(&mut self, _: &AntiEntropy, _: Instant, input: &InputOf<Self>, _: &Self::Snapshot) {
        if let Input::Command(anti_entropy::Command::StartSync { peer }) = input {
            let (starting, sync) = self.starting.take().expect("a sync was expected");
            assert_eq!(starting, *peer);
            let previous = self.syncs.insert(*peer, sync);
            assert!(previous.is_none(), "a second sync with {peer} started");
        }
    }

    fn output(&mut self, _: &AntiEntropy, _: &[Infallible], output: &OutputOf<Self>) {
        match output {
            Output::Send { to, message } => {
                // Only a message that claims to come from this replica
                // itself (forged: transports authenticate senders) is
                // answered to itself.
                assert!(
                    *to != self.config.id || self.from_itself,
                    "a message to itself"
                );
                check_message(&self.config, message);
            }
            Output::Persist(never) => match *never {},
            Output::Event(event) => self.event(event),
        }
    }

    fn drained(
        &mut self,
        node: &AntiEntropy,
        _: Instant,
        _: &[OutputOf<Self>],
        _: &[Infallible],
        _: Option<&InputOf<Self>>,
    ) {
        self.check(node);
    }
}

/// A message sent respects the per-message bounds of the configuration
/// (the harness checks that it survives the wire).
fn check_message(config: &anti_entropy::Config, message: &Message) {
    match message {
        Message::NodeQuery {
            indexes,
            depth,
            level,
            ..
        } => {
            assert!(!indexes.is_empty() && indexes.len() <= config.max_hashes_per_message);
            assert_eq!(*depth, config.depth);
            assert!(*level <= config.depth);
            assert!(indexes.iter().all(|&i| u64::from(i) < 1 << level));
        }
        Message::NodeHashes { hashes, .. } => {
            assert!(hashes.len() <= config.max_hashes_per_message);
        }
        Message::BucketQuery {
            depth,
            bucket,
            after,
            ..
        } => {
            assert_eq!(*depth, config.depth);
            assert!(u64::from(*bucket) < 1 << depth);
            assert!(after.as_ref().is_none_or(|k| k.len() <= config.max_key_len));
        }
        Message::BucketPage { entries, more, .. } => {
            assert!(entries.len() <= config.max_entries_per_message);
            assert!(!*more || !entries.is_empty());
            assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        }
        Message::DepthMismatch { depth, .. } => assert_eq!(*depth, config.depth),
    }
}

/// `merkle_anti_entropy`: see the module documentation.
pub fn anti_entropy(data: &[u8]) {
    structured(data, |scenario: Scenario| {
        run(&scenario);
    });
}

/// Runs a scenario; returns how many syncs were checked exactly.
fn run(scenario: &Scenario) -> usize {
    {
        let mut world = World::new(scenario);
        for step in scenario.steps.iter().take(512) {
            world.step(step);
        }
        // Let the network settle and every timer fire: every session ends.
        for _ in 0..64 {
            world.step(&Step::Flush);
            if world.replicas.iter().all(|r| r.syncs.is_empty()) {
                break;
            }
            for node in 0..NODES as u8 {
                world.step(&Step::Tick {
                    node,
                    advance_ms: 100,
                });
            }
        }
        for replica in &world.replicas {
            assert!(
                replica.syncs.is_empty(),
                "a session outlived all its retries"
            );
        }
        world.checked_syncs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(steps: Vec<Step>) -> Scenario {
        Scenario {
            depth: 3,
            odd_depth: None,
            max_hashes_per_message: 1,
            max_entries_per_message: 1,
            max_key_len: 7,
            retry_ms: 9,
            max_retries: 2,
            max_sessions: 1,
            steps,
        }
    }

    fn update(node: u8, key: u8, version: u8) -> Step {
        Step::Update {
            node,
            key: Key::Small(key),
            version,
        }
    }

    /// The harness does reach its strongest check: syncs that run to the
    /// end undisturbed, over lossy, duplicating links, with differences.
    #[test]
    fn undisturbed_syncs_are_checked_exactly() {
        let mut steps: Vec<Step> = (0..20).map(|k| update(0, k, 1)).collect();
        steps.extend((5..25).map(|k| update(1, k, if k % 3 == 0 { 2 } else { 1 })));
        steps.push(Step::StartSync { node: 0, peer: 1 });
        steps.push(Step::StartSync { node: 1, peer: 2 });
        for pick in 0..40 {
            steps.push(Step::Duplicate { pick });
            steps.push(Step::Drop { pick: pick * 7 });
            steps.push(Step::Deliver { pick: 0 });
            steps.push(Step::Tick {
                node: (pick % 3) as u8,
                advance_ms: 5,
            });
        }
        assert!(run(&scenario(steps)) >= 1);
        let quiet = vec![
            update(0, 1, 1),
            update(1, 2, 1),
            update(1, 1, 3),
            Step::StartSync { node: 0, peer: 1 },
            Step::Flush,
            Step::StartSync { node: 1, peer: 0 },
        ];
        assert_eq!(run(&scenario(quiet)), 2);
    }
}
