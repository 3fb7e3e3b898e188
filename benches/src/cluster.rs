//! Three-node Raft clusters in memory, consensio's and raft-rs's, driven the
//! same way for the proposal throughput bench (`benches/raft.rs`).
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

use std::collections::VecDeque;

use consensio::quorum::MajorityConfig;
use consensio::raft::{ArenaLog, Command, Event, Message, Persist, RaftNode, Role};
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

/// Most entries a cluster holds before it must be rebuilt: neither log is
/// compacted, so the benches build a fresh cluster (outside the timing)
/// after this many proposals.
pub const ENTRIES_PER_CLUSTER: usize = 8_192;

/// Per-message and in-flight limits both clusters use.
const MAX_BYTES_PER_MESSAGE: usize = 256 << 10;
const MAX_INFLIGHT_MESSAGES: usize = 8;

const IDS: [u64; 3] = [1, 2, 3];

/// Three consensio [`RaftNode`]s over [`ArenaLog`]s.
pub struct ConsensioCluster {
    nodes: Vec<RaftNode<ArenaLog>>,
    disks: Vec<Vec<Persist>>,
    network: VecDeque<(NodeId, NodeId, Message)>,
    /// Non-empty committed entries reported, per node.
    committed: Vec<u64>,
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
    /// committed counts.
    fn drain(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            while let Some(output) = node.poll_output() {
                match output {
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
    }

    #[test]
    fn consensio_cluster_commits_every_round() {
        commits_every_round(&mut ConsensioCluster::new());
    }

    #[test]
    fn raft_rs_cluster_commits_every_round() {
        commits_every_round(&mut RaftRsCluster::new());
    }
}
