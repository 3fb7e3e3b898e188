//! Leader elections in the simulator, Bully and Chang–Roberts ring
//! election, with one checker for both:
//!
//! - **at most one leader per epoch**: no two nodes are ever announced as
//!   the leader of the same epoch, unless every node that remembered the
//!   epoch (had adopted or announced it, [`FollowsLeader::epoch`]) was down
//!   at once before the second announcement — the condition the family's
//!   documentation puts on crash-restart ("at every moment some live node
//!   must remember the latest epoch"). Such reuses are counted, not
//!   reported. A torn crash makes them reachable with two crashes: a
//!   coordinator that crashes halfway through its `Coordinator` broadcast
//!   leaves one follower knowing the epoch, and that follower crashes too;
//! - **no lasting split brain**: two live nodes may both act as leader only
//!   for the moment a handover takes (the deposed leader has not yet heard
//!   of its successor), at most [`SPLIT_BRAIN_GRACE_MS`].
//!
//! Both algorithms assume the synchronous model of their papers: no loss, a
//! delay bound below their timeouts (the defaults assume 50 ms), and no
//! partitions. Under that model the checker holds; under a partition each
//! side keeps or elects its own leader, and the checker reports it — which
//! is the point: a checker that cannot fail proves nothing.

use std::collections::BTreeMap;

use consensio::election::{self, Bully, RingElection, bully, ring};
use consensio::{NodeId, Participant, Restore, Rng};

use super::Entry;
use crate::checker::Checker;
use crate::engine::{MessageLabel, NodeState, Protocol};

/// The family's entries in the [registry](super).
pub const PROTOCOLS: &[Entry] = &[
    Entry {
        name: "bully",
        family: "election",
        description: "Bully election: one leader per epoch (safe only without partitions)",
        run: |config| super::run(BullyProtocol, config),
    },
    Entry {
        name: "ring-election",
        family: "election",
        description: "Chang-Roberts ring election: one leader per epoch (safe only without partitions)",
        run: |config| super::run(RingElectionProtocol, config),
    },
];

/// The library's default timeouts assume a 50 ms delay bound; the simulated
/// networks of `consensio check` (latency up to 30 ms, reordering adding up
/// to 100 ms) need four times that, or the synchronous model these
/// algorithms rely on does not hold.
const TIMEOUT_SCALE: u64 = 4;

/// Bully election, timeouts scaled by [`TIMEOUT_SCALE`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BullyProtocol;

impl Protocol for BullyProtocol {
    type Node = Bully;

    fn name(&self) -> &'static str {
        "bully"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> Bully {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], _seed: u64, disk: &[u64]) -> Bully {
        let mut config = bully::Config::new(id, members);
        config.answer_timeout_ms *= TIMEOUT_SCALE;
        config.coordinator_timeout_ms *= TIMEOUT_SCALE;
        config.heartbeat_interval_ms *= TIMEOUT_SCALE;
        config.leader_timeout_ms *= TIMEOUT_SCALE;
        // The members come from the simulator and always include `id`.
        Bully::restore(config, disk).unwrap_or_else(|e| panic!("bully configuration: {e}"))
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        _now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, election::Command)> {
        forced_election(rng, live)
    }

    fn completes(&self, event: &election::Event) -> bool {
        matches!(event, election::Event::Elected { .. })
    }

    fn leads(&self, node: NodeId, event: &election::Event) -> bool {
        leads(node, event)
    }

    fn state(&self, node: &Self::Node) -> Option<NodeState> {
        Some(election_state(node))
    }

    fn describe_message(&self, message: &bully::Message) -> MessageLabel {
        match *message {
            bully::Message::Election { epoch } => {
                MessageLabel::new("Election", format!("Election (seen epoch {epoch})"))
            }
            bully::Message::Answer { epoch } => {
                MessageLabel::new("Answer", format!("Answer (seen epoch {epoch})"))
            }
            bully::Message::Coordinator { epoch } => {
                MessageLabel::new("Coordinator", format!("Coordinator of epoch {epoch}"))
            }
            bully::Message::Heartbeat { epoch } => {
                MessageLabel::routine("Heartbeat", format!("Heartbeat epoch {epoch}"))
            }
        }
    }

    fn checker(&self) -> Box<dyn Checker<Bully>> {
        Box::new(OneLeaderPerEpoch::default())
    }

    fn describe(&self, event: &election::Event) -> String {
        describe(event)
    }
}

/// Chang–Roberts ring election, timeouts scaled by [`TIMEOUT_SCALE`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RingElectionProtocol;

impl Protocol for RingElectionProtocol {
    type Node = RingElection;

    fn name(&self) -> &'static str {
        "ring-election"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> RingElection {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], _seed: u64, disk: &[u64]) -> RingElection {
        let mut config = ring::Config::new(id, members);
        config.ack_timeout_ms *= TIMEOUT_SCALE;
        config.election_timeout_ms *= TIMEOUT_SCALE;
        config.heartbeat_interval_ms *= TIMEOUT_SCALE;
        config.leader_timeout_ms *= TIMEOUT_SCALE;
        RingElection::restore(config, disk)
            .unwrap_or_else(|e| panic!("ring election configuration: {e}"))
    }

    fn workload(
        &mut self,
        rng: &mut Rng,
        _now_ms: u64,
        live: &[NodeId],
    ) -> Vec<(NodeId, election::Command)> {
        forced_election(rng, live)
    }

    fn completes(&self, event: &election::Event) -> bool {
        matches!(event, election::Event::Elected { .. })
    }

    fn leads(&self, node: NodeId, event: &election::Event) -> bool {
        leads(node, event)
    }

    fn state(&self, node: &Self::Node) -> Option<NodeState> {
        Some(election_state(node))
    }

    fn describe_message(&self, message: &ring::Message) -> MessageLabel {
        match *message {
            ring::Message::Election {
                candidate,
                epoch,
                hop,
            } => MessageLabel::new(
                "Election",
                format!("Election for {candidate} (seen epoch {epoch}) hop {hop}"),
            ),
            ring::Message::Elected { leader, epoch, hop } => MessageLabel::new(
                "Elected",
                format!("Elected {leader} in epoch {epoch} hop {hop}"),
            ),
            ring::Message::Ack { hop } => MessageLabel::new("Ack", format!("Ack hop {hop}")),
            ring::Message::Heartbeat { epoch } => {
                MessageLabel::routine("Heartbeat", format!("Heartbeat epoch {epoch}"))
            }
        }
    }

    fn checker(&self) -> Box<dyn Checker<RingElection>> {
        Box::new(OneLeaderPerEpoch::default())
    }

    fn describe(&self, event: &election::Event) -> String {
        describe(event)
    }
}

/// The elections' workload: a random live node is told to start an
/// election (as an application that distrusts its leader would); its
/// latency is the time until that node adopts a leader.
fn forced_election(rng: &mut Rng, live: &[NodeId]) -> Vec<(NodeId, election::Command)> {
    let pick = usize::try_from(rng.below(live.len() as u64)).unwrap_or(0);
    live.get(pick)
        .map(|&n| vec![(n, election::Command::StartElection)])
        .unwrap_or_default()
}

/// A member's role as a trace shows it: leading, following a leader, or
/// between leaders; its epoch is the term.
fn election_state<N: FollowsLeader + Participant>(node: &N) -> NodeState {
    let role = match node.current_leader() {
        Some(l) if l == node.id() => "leader",
        Some(_) => "follower",
        None => "electing",
    };
    NodeState {
        role,
        term: node.epoch(),
        commit: None,
    }
}

/// Whether `node` reports that it is the coordinator.
fn leads(node: NodeId, event: &election::Event) -> bool {
    matches!(*event, election::Event::Elected { leader, .. } if leader == node)
}

fn describe(event: &election::Event) -> String {
    match event {
        election::Event::Elected { leader, epoch } => format!("Elected {leader} in epoch {epoch}"),
        election::Event::LeaderLost { epoch } => format!("LeaderLost of epoch {epoch}"),
    }
}

/// How long two live nodes may both act as leader: a handover's message
/// delay, with room for reordering.
pub const SPLIT_BRAIN_GRACE_MS: u64 = 500;

/// The election checker; see the [module docs](self). Measures the epochs
/// used and whether the live nodes agree on one leader at the end.
#[derive(Debug, Default)]
pub struct OneLeaderPerEpoch {
    leaders: BTreeMap<u64, NodeId>,
    adoptions: u64,
    agreed_at_end: Option<bool>,
    /// Since when two or more live nodes have acted as leader.
    split_since: Option<u64>,
    /// Epochs that, at some step, no live node remembered.
    forgotten: std::collections::BTreeSet<u64>,
    /// Epochs announced again after they were forgotten.
    reused: u64,
}

/// What the checker needs to read from an election participant.
pub trait FollowsLeader {
    /// The leader this node follows, if any.
    fn current_leader(&self) -> Option<NodeId>;
    /// The latest epoch this node adopted or announced.
    fn epoch(&self) -> u64;
}

impl FollowsLeader for Bully {
    fn current_leader(&self) -> Option<NodeId> {
        self.leader()
    }
    fn epoch(&self) -> u64 {
        Bully::epoch(self)
    }
}

impl FollowsLeader for RingElection {
    fn current_leader(&self) -> Option<NodeId> {
        self.leader()
    }
    fn epoch(&self) -> u64 {
        RingElection::epoch(self)
    }
}

impl<N> Checker<N> for OneLeaderPerEpoch
where
    N: Participant<Event = election::Event> + FollowsLeader,
{
    fn name(&self) -> &'static str {
        "at most one leader per epoch, no lasting split brain"
    }

    fn on_event(
        &mut self,
        _time_ms: u64,
        _node: NodeId,
        event: &election::Event,
    ) -> Result<(), String> {
        if let election::Event::Elected { leader, epoch } = *event {
            self.adoptions += 1;
            if let Some(other) = self.leaders.insert(epoch, leader)
                && other != leader
            {
                if self.forgotten.remove(&epoch) {
                    // Every node that knew it was down: documented.
                    self.reused += 1;
                    return Ok(());
                }
                return Err(format!(
                    "epoch {epoch} has two leaders: {other} and {leader}"
                ));
            }
        }
        Ok(())
    }

    fn after_step(&mut self, time_ms: u64, nodes: &[(NodeId, Option<&N>)]) -> Result<(), String> {
        let remembered = nodes
            .iter()
            .filter_map(|(_, n)| n.map(FollowsLeader::epoch))
            .max()
            .unwrap_or(0);
        self.forgotten.extend(
            self.leaders
                .range(remembered.saturating_add(1)..)
                .map(|(e, _)| *e),
        );
        let leading: Vec<NodeId> = nodes
            .iter()
            .filter(|(id, n)| n.is_some_and(|n| n.current_leader() == Some(*id)))
            .map(|(id, _)| *id)
            .collect();
        if leading.len() < 2 {
            self.split_since = None;
            return Ok(());
        }
        let since = *self.split_since.get_or_insert(time_ms);
        if time_ms.saturating_sub(since) > SPLIT_BRAIN_GRACE_MS {
            let names: Vec<String> = leading.iter().map(ToString::to_string).collect();
            return Err(format!(
                "split brain: {} have acted as leader at once since {since} ms",
                names.join(" and ")
            ));
        }
        Ok(())
    }

    fn at_end(&mut self, _time_ms: u64, nodes: &[(NodeId, Option<&N>)]) -> Result<(), String> {
        let live: Vec<Option<NodeId>> = nodes
            .iter()
            .filter_map(|(_, n)| n.map(|n| n.current_leader()))
            .collect();
        let highest_live = nodes
            .iter()
            .filter(|(_, n)| n.is_some())
            .map(|(id, _)| *id)
            .max();
        self.agreed_at_end = Some(live.iter().all(|l| *l == highest_live));
        Ok(())
    }

    fn report(&self) -> Vec<(String, String)> {
        let mut report = vec![
            ("epochs".into(), self.leaders.len().to_string()),
            ("leaders adopted".into(), self.adoptions.to_string()),
            (
                "live nodes follow the highest live id at the end".into(),
                self.agreed_at_end
                    .map_or("-".into(), |b| if b { "yes".into() } else { "no".into() }),
            ),
        ];
        if self.reused > 0 {
            report.push((
                "epochs announced again after every node that knew them was down".into(),
                self.reused.to_string(),
            ));
        }
        report
    }
}
