//! Three-node clusters in memory, consensio's Raft, consensio's Multi-Paxos
//! and raft-rs's, driven the same way for the proposal throughput bench
//! (`benches/raft.rs`).
//!
//! Both clusters pass messages directly (no encoding), first in first out,
//! until the network is quiet. Both keep what a node must make durable in
//! memory: consensio's [`Persist`] records are pushed to a `Vec` per node;
//! raft-rs's `Ready` entries and hard state go to its `MemStorage` (which
//! raft-rs also reads its log back from). A round is: the leader gets a
//! batch of proposals, then messages flow until none is left; by then the
//! leader has reported the whole batch committed (checked).
//!
//! Both are configured alike: pre-vote and check-quorum on, at most 8
//! AppendEntries in flight per follower and 256 KiB per message (consensio's
//! defaults; raft-rs's default of one entry per message would be a handicap
//! of configuration, not of design). No ticks are delivered once a leader is
//! elected, so nothing but the proposals' own traffic is measured.
//!
//! Both compact their logs every [`SNAPSHOT_INTERVAL`] applied entries, as
//! a long-running application must: each consensio node hands
//! [`RaftNode::compact`] a state of [`SNAPSHOT_BYTES`] (the bytes an
//! application would serialize) and drops its disk's records before the
//! snapshot record; each raft-rs node compacts its `MemStorage` to the
//! applied index (raft-rs asks the application for snapshot data only when
//! a follower needs one, so it pays no copy here).

use std::collections::VecDeque;

use consensio::paxos::{self, PaxosNode};
use consensio::quorum::MajorityConfig;
use consensio::raft::{ArenaLog, Command, Event, LogStorage, Message, Persist, RaftNode, Role};
use consensio::{Input, Instant, NodeId, Output, Participant};
use raft::eraftpb::{ConfState, Entry, Message as RsMessage};
use raft::storage::MemStorage;
use raft::{RawNode, StateRole};

/// A cluster that can take proposals at its leader and settle.
pub trait Cluster {
    /// Hands `count` proposals of `payload` to the leader.
    fn propose(&mut self, payload: &[u8], count: usize);
    /// Delivers messages until none is left.
    fn settle(&mut self);
    /// Non-empty entries the leader has reported committed so far.
    fn committed(&self) -> u64;
}

/// One round: `batch` proposals of `payload`, then settle.
///
/// # Panics
/// If the leader did not report the whole batch committed.
pub fn round(cluster: &mut impl Cluster, payload: &[u8], batch: usize) {
    let before = cluster.committed();
    cluster.propose(payload, batch);
    cluster.settle();
    assert_eq!(
        cluster.committed(),
        before + batch as u64,
        "a round commits its whole batch"
    );
}

/// Proposals a cluster takes before the benches build a fresh one (outside
/// the timing), so runs of any length measure the same cluster sizes.
pub const ENTRIES_PER_CLUSTER: usize = 8_192;

/// Applied entries between two compactions of a node's log.
pub const SNAPSHOT_INTERVAL: u64 = 1_000;

/// The size of the state a consensio node snapshots.
pub const SNAPSHOT_BYTES: usize = 4 << 10;

/// Per-message and in-flight limits both clusters use.
const MAX_BYTES_PER_MESSAGE: usize = 256 << 10;
const MAX_INFLIGHT_MESSAGES: usize = 8;

const IDS: [u64; 3] = [1, 2, 3];

/// Three consensio [`RaftNode`]s over [`ArenaLog`]s.
#[derive(Clone)]
pub struct ConsensioCluster {
    nodes: Vec<RaftNode<ArenaLog>>,
    disks: Vec<Vec<Persist>>,
    network: VecDeque<(NodeId, NodeId, Message)>,
    /// Non-empty committed entries reported, per node.
    committed: Vec<u64>,
    /// What each node snapshots.
    state: Vec<u8>,
    /// A node whose messages are lost, both ways.
    cut: Option<usize>,
    leader: usize,
    now: Instant,
}

impl ConsensioCluster {
    /// A cluster with an elected leader and nothing else in flight.
    ///
    /// # Panics
    /// If no leader is elected within 10 simulated seconds.
    #[must_use]
    pub fn new() -> Self {
        let voters = MajorityConfig::from_voters(IDS.map(NodeId)).expect("three voters");
        let nodes = IDS
            .iter()
            .map(|&id| {
                let mut config = consensio::raft::Config::new(NodeId(id), voters.clone());
                config.max_bytes_per_message = MAX_BYTES_PER_MESSAGE;
                config.max_inflight_messages = MAX_INFLIGHT_MESSAGES;
                let log = ArenaLog::new(ENTRIES_PER_CLUSTER + 64, 64 << 20);
                RaftNode::new(config, log).expect("a valid configuration")
            })
            .collect();
        let mut cluster = ConsensioCluster {
            nodes,
            disks: vec![Vec::new(); IDS.len()],
            network: VecDeque::new(),
            committed: vec![0; IDS.len()],
            state: vec![0x33; SNAPSHOT_BYTES],
            cut: None,
            leader: 0,
            now: Instant::ZERO,
        };
        loop {
            assert!(
                cluster.now < Instant::from_millis(10_000),
                "no leader in 10 s"
            );
            let due = cluster
                .nodes
                .iter()
                .filter_map(Participant::next_deadline)
                .min();
            cluster.now = due
                .expect("followers wait for an election")
                .max(cluster.now);
            let now = cluster.now;
            for node in &mut cluster.nodes {
                if node.next_deadline() <= Some(now) {
                    node.handle_input(now, Input::Tick).expect("a tick");
                }
            }
            cluster.settle();
            if let Some(leader) = cluster.nodes.iter().position(|n| n.role() == Role::Leader) {
                cluster.leader = leader;
                return cluster;
            }
            cluster.now = cluster.now.saturating_add_millis(1);
        }
    }

    /// Drains every node's outputs into the network, the disks and the
    /// committed counts; compacts a node's log when it is due.
    fn drain(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let compacted = node.log().first_index() - 1;
            if node.applied_index() >= compacted + SNAPSHOT_INTERVAL {
                node.compact(node.applied_index(), self.state.clone())
                    .expect("a snapshot of what is applied");
            }
            while let Some(output) = node.poll_output() {
                match output {
                    // A snapshot record replaces every earlier one.
                    Output::Persist(record @ Persist::Snapshot { .. }) => {
                        self.disks[i].clear();
                        self.disks[i].push(record);
                    }
                    Output::Persist(record) => self.disks[i].push(record),
                    Output::Send { to, message } => {
                        self.network.push_back((node.id(), to, message))
                    }
                    Output::Event(Event::Committed { data, .. }) => {
                        self.committed[i] += u64::from(!data.is_empty());
                    }
                    Output::Event(_) => {}
                }
            }
        }
    }
}

impl ConsensioCluster {
    /// A cluster whose leader holds a snapshot of `snapshot_bytes` that a
    /// follower, cut off while the others committed past it, needs: the
    /// state just before [`catch_up`](Self::catch_up).
    ///
    /// # Panics
    /// If the cluster does not get there.
    #[must_use]
    pub fn lagging(snapshot_bytes: usize) -> Self {
        let mut cluster = Self::new();
        let behind = (cluster.leader + 1) % IDS.len();
        cluster.cut = Some(behind);
        cluster.state = vec![0x5a; snapshot_bytes];
        for _ in 0..4 {
            round(&mut cluster, b"x", 64);
        }
        let leader = &mut cluster.nodes[cluster.leader];
        let applied = leader.applied_index();
        leader
            .compact(applied, cluster.state.clone())
            .expect("a snapshot of what is applied");
        cluster.drain();
        cluster.cut = None;
        cluster
    }

    /// The follower [`lagging`](Self::lagging) left behind hears the
    /// leader's next heartbeat and installs its snapshot: returns the
    /// snapshot bytes it applied.
    ///
    /// # Panics
    /// If it did not install the leader's snapshot.
    pub fn catch_up(&mut self) -> usize {
        let leader = self.leader;
        let snapshot = self.nodes[leader].snapshot().expect("the leader's").index;
        let behind = (leader + 1) % IDS.len();
        self.now = self.nodes[leader]
            .next_deadline()
            .expect("a heartbeat")
            .max(self.now);
        self.nodes[leader]
            .handle_input(self.now, Input::Tick)
            .expect("a tick");
        self.settle();
        let node = &self.nodes[behind];
        assert!(node.applied_index() >= snapshot, "installed");
        node.snapshot().map_or(0, |s| s.data.len())
    }
}

impl Default for ConsensioCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster for ConsensioCluster {
    fn propose(&mut self, payload: &[u8], count: usize) {
        let leader = &mut self.nodes[self.leader];
        for _ in 0..count {
            leader
                .handle_input(self.now, Input::Command(Command::Propose(payload.to_vec())))
                .expect("the leader takes a proposal");
        }
    }

    fn settle(&mut self) {
        loop {
            self.drain();
            let Some((from, to, message)) = self.network.pop_front() else {
                break;
            };
            let index = usize::try_from(to.0 - 1).expect("ids are 1..=3");
            let sender = usize::try_from(from.0 - 1).expect("ids are 1..=3");
            if self.cut.is_some_and(|c| c == index || c == sender) {
                continue;
            }
            self.nodes[index]
                .handle_input(self.now, Input::Message { from, message })
                .expect("a message from a peer");
        }
    }

    fn committed(&self) -> u64 {
        self.committed[self.leader]
    }
}

/// Three consensio Multi-Paxos nodes, driven like [`ConsensioCluster`]:
/// records pushed to a `Vec` per node, messages passed directly, first in
/// first out. The window (256 slots in flight) and pages (64 values per
/// `Accept`) are the library's defaults. Every [`SNAPSHOT_INTERVAL`]
/// applied slots each node snapshots a state of [`SNAPSHOT_BYTES`] (its
/// disk keeps the snapshot record and what follows), and the leader's
/// next heartbeat is ticked, so every node drops the slots all have
/// applied: Paxos's compaction, as Raft's nodes compact theirs.
#[derive(Clone)]
pub struct PaxosCluster {
    nodes: Vec<PaxosNode>,
    disks: Vec<Vec<paxos::Persist>>,
    network: VecDeque<(NodeId, NodeId, paxos::Message)>,
    /// Non-empty chosen values reported, per node.
    committed: Vec<u64>,
    /// What each node snapshots, and the slot of its last snapshot.
    state: Vec<u8>,
    snapshots: Vec<u64>,
    leader: usize,
    now: Instant,
}

impl PaxosCluster {
    /// A cluster with an adopted leader and nothing else in flight.
    ///
    /// # Panics
    /// If no leader is adopted within 10 simulated seconds.
    #[must_use]
    pub fn new() -> Self {
        let ids = IDS.map(NodeId);
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut config = paxos::Config::new(id, &ids);
                config.max_log_entries = ENTRIES_PER_CLUSTER as u64 + 64;
                PaxosNode::new(config).expect("a valid configuration")
            })
            .collect();
        let mut cluster = PaxosCluster {
            nodes,
            disks: vec![Vec::new(); IDS.len()],
            network: VecDeque::new(),
            committed: vec![0; IDS.len()],
            state: vec![0x33; SNAPSHOT_BYTES],
            snapshots: vec![0; IDS.len()],
            leader: 0,
            now: Instant::ZERO,
        };
        loop {
            assert!(
                cluster.now < Instant::from_millis(10_000),
                "no leader in 10 s"
            );
            let due = cluster
                .nodes
                .iter()
                .filter_map(Participant::next_deadline)
                .min();
            cluster.now = due.expect("nodes wait for a leader").max(cluster.now);
            let now = cluster.now;
            for node in &mut cluster.nodes {
                if node.next_deadline() <= Some(now) {
                    node.handle_input(now, Input::Tick).expect("a tick");
                }
            }
            cluster.settle();
            if let Some(leader) = cluster
                .nodes
                .iter()
                .position(|n| n.role() == paxos::Role::Leader)
            {
                cluster.leader = leader;
                return cluster;
            }
            cluster.now = cluster.now.saturating_add_millis(1);
        }
    }

    fn drain(&mut self) {
        let mut heartbeat = false;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let applied = node.applied();
            if applied >= self.snapshots[i] + SNAPSHOT_INTERVAL {
                let compact = paxos::Command::Compact {
                    upto: applied,
                    snapshot: self.state.clone(),
                };
                node.handle_input(self.now, Input::Command(compact))
                    .expect("a snapshot of what is applied");
                self.snapshots[i] = applied;
                heartbeat |= i == self.leader;
            }
            while let Some(output) = node.poll_output() {
                match output {
                    // A snapshot record replaces every earlier one.
                    Output::Persist(record @ paxos::Persist::Snapshot { .. }) => {
                        self.disks[i].clear();
                        self.disks[i].push(record);
                    }
                    Output::Persist(record) => self.disks[i].push(record),
                    Output::Send { to, message } => {
                        self.network.push_back((node.id(), to, message))
                    }
                    Output::Event(paxos::Event::Chosen { value, .. }) => {
                        self.committed[i] += u64::from(!value.is_empty());
                    }
                    Output::Event(_) => {}
                }
            }
        }
        if heartbeat {
            // The leader's heartbeat tells everyone what all have applied.
            let leader = &mut self.nodes[self.leader];
            self.now = leader.next_deadline().expect("a heartbeat").max(self.now);
            leader.handle_input(self.now, Input::Tick).expect("a tick");
        }
    }
}

impl Default for PaxosCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster for PaxosCluster {
    fn propose(&mut self, payload: &[u8], count: usize) {
        let leader = &mut self.nodes[self.leader];
        for _ in 0..count {
            leader
                .handle_input(
                    self.now,
                    Input::Command(paxos::Command::Propose(payload.to_vec())),
                )
                .expect("the leader takes a proposal");
        }
    }

    fn settle(&mut self) {
        loop {
            self.drain();
            let Some((from, to, message)) = self.network.pop_front() else {
                break;
            };
            let index = usize::try_from(to.0 - 1).expect("ids are 1..=3");
            self.nodes[index]
                .handle_input(self.now, Input::Message { from, message })
                .expect("a message from a peer");
        }
    }

    fn committed(&self) -> u64 {
        self.committed[self.leader]
    }
}

/// Three raft-rs `RawNode`s over `MemStorage`.
pub struct RaftRsCluster {
    nodes: Vec<RawNode<MemStorage>>,
    network: VecDeque<RsMessage>,
    committed: Vec<u64>,
    /// Per node: the index its storage was last compacted to.
    compacted: Vec<u64>,
    leader: usize,
}

impl RaftRsCluster {
    /// A cluster whose node 1 has campaigned and won.
    ///
    /// # Panics
    /// If node 1 is not the leader once the network is quiet.
    #[must_use]
    pub fn new() -> Self {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let nodes = IDS
            .iter()
            .map(|&id| {
                let config = raft::Config {
                    id,
                    election_tick: 10,
                    heartbeat_tick: 3,
                    pre_vote: true,
                    check_quorum: true,
                    max_size_per_msg: MAX_BYTES_PER_MESSAGE as u64,
                    max_inflight_msgs: MAX_INFLIGHT_MESSAGES,
                    ..raft::Config::default()
                };
                let storage =
                    MemStorage::new_with_conf_state(ConfState::from((IDS.to_vec(), vec![])));
                RawNode::new(&config, storage, &logger).expect("a valid configuration")
            })
            .collect();
        let mut cluster = RaftRsCluster {
            nodes,
            network: VecDeque::new(),
            committed: vec![0; IDS.len()],
            compacted: vec![0; IDS.len()],
            leader: 0,
        };
        cluster.nodes[0].campaign().expect("node 1 campaigns");
        cluster.settle();
        assert_eq!(cluster.nodes[0].raft.state, StateRole::Leader);
        cluster
    }

    /// Handles node `i`'s `Ready`: sends, persists, applies, advances.
    fn handle_ready(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if !node.has_ready() {
            return;
        }
        let mut ready = node.ready();
        self.network.extend(ready.take_messages());
        self.committed[i] += count_data(&ready.take_committed_entries());
        let store = node.mut_store();
        if !ready.entries().is_empty() {
            store
                .wl()
                .append(ready.entries())
                .expect("in-order entries");
        }
        if let Some(hs) = ready.hs() {
            store.wl().set_hardstate(hs.clone());
        }
        self.network.extend(ready.take_persisted_messages());
        let mut light = node.advance(ready);
        if let Some(commit) = light.commit_index() {
            node.mut_store().wl().mut_hard_state().commit = commit;
        }
        self.network.extend(light.take_messages());
        self.committed[i] += count_data(&light.take_committed_entries());
        node.advance_apply();
        let applied = node.raft.raft_log.applied;
        if applied >= self.compacted[i] + SNAPSHOT_INTERVAL {
            node.mut_store()
                .wl()
                .compact(applied)
                .expect("compaction up to the applied index");
            self.compacted[i] = applied;
        }
    }

    fn drain(&mut self) {
        for i in 0..self.nodes.len() {
            self.handle_ready(i);
        }
    }
}

fn count_data(entries: &[Entry]) -> u64 {
    entries.iter().filter(|e| !e.data.is_empty()).count() as u64
}

impl Default for RaftRsCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster for RaftRsCluster {
    fn propose(&mut self, payload: &[u8], count: usize) {
        let leader = &mut self.nodes[self.leader];
        for _ in 0..count {
            leader
                .propose(Vec::new(), payload.to_vec())
                .expect("the leader takes a proposal");
        }
    }

    fn settle(&mut self) {
        loop {
            self.drain();
            let Some(message) = self.network.pop_front() else {
                break;
            };
            let index = usize::try_from(message.to - 1).expect("ids are 1..=3");
            self.nodes[index]
                .step(message)
                .expect("a message from a peer");
        }
    }

    fn committed(&self) -> u64 {
        self.committed[self.leader]
    }
}

/// Wall time of `rounds` rounds of `batch` proposals of `payload`, on
/// clusters from `make`: a fresh one whenever the last has taken
/// [`ENTRIES_PER_CLUSTER`] entries. Building and dropping clusters is not
/// timed. For criterion's `iter_custom`.
pub fn time_rounds<C: Cluster>(
    make: impl Fn() -> C,
    payload: &[u8],
    batch: usize,
    rounds: u64,
) -> std::time::Duration {
    let per_cluster = (ENTRIES_PER_CLUSTER / batch.max(1)).max(1) as u64;
    let mut total = std::time::Duration::ZERO;
    let mut left = rounds;
    while left > 0 {
        let mut cluster = make();
        let now = left.min(per_cluster);
        let start = std::time::Instant::now();
        for _ in 0..now {
            round(&mut cluster, std::hint::black_box(payload), batch);
        }
        total += start.elapsed();
        left -= now;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commits_every_round(cluster: &mut impl Cluster) {
        for batch in [1, 64, 1, 3] {
            round(cluster, b"some bytes", batch);
        }
        assert_eq!(cluster.committed(), 69);
        // Past a few snapshot intervals.
        for _ in 0..40 {
            round(cluster, b"some bytes", 64);
        }
        assert_eq!(cluster.committed(), 69 + 40 * 64);
    }

    #[test]
    fn consensio_cluster_commits_every_round_and_compacts() {
        let mut cluster = ConsensioCluster::new();
        commits_every_round(&mut cluster);
        for (node, disk) in cluster.nodes.iter().zip(&cluster.disks) {
            assert!(node.log().first_index() > 2 * SNAPSHOT_INTERVAL);
            assert!(matches!(disk[0], Persist::Snapshot { .. }));
            // At most one record per entry applied since, and a batch.
            let bound = SNAPSHOT_INTERVAL as usize + 128;
            assert!(
                disk.len() <= bound,
                "records since the snapshot: {}",
                disk.len()
            );
        }
    }

    #[test]
    fn paxos_cluster_chooses_every_round_at_every_node_and_compacts() {
        let mut cluster = PaxosCluster::new();
        commits_every_round(&mut cluster);
        for (node, disk) in cluster.nodes.iter().zip(&cluster.disks) {
            // Dropped up to what all had applied at the heartbeat before.
            assert!(
                node.first_held() > SNAPSHOT_INTERVAL / 2,
                "{}",
                node.first_held()
            );
            assert!(matches!(disk[0], paxos::Persist::Snapshot { .. }));
            assert!(
                disk.len() <= SNAPSHOT_INTERVAL as usize,
                "records: {}",
                disk.len()
            );
        }
        // Followers learn a round's values with the next round's Accepts
        // (no heartbeat is ticked here).
        assert!(cluster.committed.iter().all(|&c| c + 64 >= 69 + 40 * 64));
    }

    #[test]
    fn a_lagging_follower_catches_up_by_the_leaders_snapshot() {
        let mut cluster = ConsensioCluster::lagging(1 << 20);
        let again = cluster.clone();
        assert_eq!(cluster.catch_up(), 1 << 20);
        let mut again = again;
        assert_eq!(again.catch_up(), 1 << 20, "a clone catches up alike");
    }

    #[test]
    fn raft_rs_cluster_commits_every_round_and_compacts() {
        let mut cluster = RaftRsCluster::new();
        commits_every_round(&mut cluster);
        for node in &cluster.nodes {
            let first = raft::Storage::first_index(node.store()).expect("a first index");
            assert!(first > 2 * SNAPSHOT_INTERVAL);
        }
    }
}
