//! The simulated network: latency, loss, duplication, reordering, stale
//! copies delivered long after, and partitions (symmetric or one-way), all
//! drawn from the run's seeded PRNG.

use std::collections::BTreeSet;

use consensio::{NodeId, Rng};
use serde::{Deserialize, Serialize};

/// How links behave. Probabilities are per message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Smallest one-way latency, ms.
    pub latency_min_ms: u64,
    /// Largest one-way latency, ms (uniform between the two).
    pub latency_max_ms: u64,
    /// Chance a message is lost.
    pub loss: f64,
    /// Chance a message is delivered twice (the copy takes its own latency).
    pub duplicate: f64,
    /// Chance a message is held back by up to `reorder_delay_ms` more, so
    /// that later messages overtake it.
    pub reorder: f64,
    /// The largest extra delay of a reordered message, ms.
    pub reorder_delay_ms: u64,
    /// Chance a message is delivered once more, long after (a stale copy
    /// from a retransmitting link or a slow path): the copy takes 100 ms to
    /// `replay_delay_ms` more than its latency, when the protocol has moved
    /// on. This is what a late vote request or a response to a request its
    /// sender has forgotten looks like.
    pub replay: f64,
    /// The largest extra delay of a stale copy, ms.
    pub replay_delay_ms: u64,
    /// Stale copies are made of messages sent before this time only, ms
    /// (random checks stop them with the other faults, so that liveness is
    /// judged on a quiet tail).
    pub replay_until_ms: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            latency_min_ms: 1,
            latency_max_ms: 10,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ms: 50,
            replay: 0.0,
            replay_delay_ms: 1_000,
            replay_until_ms: u64::MAX,
        }
    }
}

/// What happens to one message sent on a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Delivered after each of these delays (two entries when duplicated).
    Deliver(Vec<u64>),
    /// Lost to random loss.
    Lost,
    /// Blocked by a partition.
    Partitioned,
}

/// The network: its configuration and the links currently cut.
#[derive(Clone, Debug)]
pub(crate) struct Network {
    config: NetworkConfig,
    /// Directed pairs (from, to) that cannot communicate.
    blocked: BTreeSet<(NodeId, NodeId)>,
}

impl Network {
    pub(crate) fn new(config: NetworkConfig) -> Self {
        Network {
            config,
            blocked: BTreeSet::new(),
        }
    }

    /// Whether `from` can reach `to` right now.
    pub(crate) fn connected(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.contains(&(from, to))
    }

    /// Cuts every link between nodes of different groups; nodes in no group
    /// form one more group together.
    pub(crate) fn partition(&mut self, members: &[NodeId], groups: &[Vec<NodeId>]) {
        let group_of = |n: NodeId| groups.iter().position(|g| g.contains(&n));
        for &a in members {
            for &b in members {
                if a != b && group_of(a) != group_of(b) {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Cuts the links from every node of `from` to every node of `to` only.
    pub(crate) fn cut_one_way(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &a in from {
            for &b in to {
                if a != b {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Whether any link is cut.
    pub(crate) fn is_cut(&self) -> bool {
        !self.blocked.is_empty()
    }

    /// Restores every link.
    pub(crate) fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Decides the fate of one message sent at `now_ms`.
    pub(crate) fn route(&self, rng: &mut Rng, from: NodeId, to: NodeId, now_ms: u64) -> Fate {
        if !self.connected(from, to) {
            return Fate::Partitioned;
        }
        if rng.chance(self.config.loss) {
            return Fate::Lost;
        }
        let mut delays = vec![self.latency(rng)];
        if rng.chance(self.config.duplicate) {
            delays.push(self.latency(rng));
        }
        // Drawn only when on, so runs without stale copies draw as before.
        if self.config.replay > 0.0
            && now_ms < self.config.replay_until_ms
            && rng.chance(self.config.replay)
        {
            let late = rng.between(100, self.config.replay_delay_ms.max(100));
            delays.push(self.latency(rng) + late);
        }
        Fate::Deliver(delays)
    }

    fn latency(&self, rng: &mut Rng) -> u64 {
        let base = rng.between(self.config.latency_min_ms, self.config.latency_max_ms);
        if rng.chance(self.config.reorder) {
            base + rng.between(1, self.config.reorder_delay_ms.max(1))
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    #[test]
    fn partitions_cut_across_groups_and_heal_restores() {
        let members = ids(&[1, 2, 3, 4, 5]);
        let mut net = Network::new(NetworkConfig::default());
        net.partition(&members, &[ids(&[1, 2]), ids(&[3, 4])]);
        assert!(net.connected(NodeId(1), NodeId(2)));
        assert!(!net.connected(NodeId(1), NodeId(3)));
        assert!(
            !net.connected(NodeId(5), NodeId(4)),
            "unlisted nodes are their own group"
        );
        net.heal();
        assert!(net.connected(NodeId(1), NodeId(3)));
    }

    #[test]
    fn one_way_cuts_block_a_single_direction() {
        let mut net = Network::new(NetworkConfig::default());
        net.cut_one_way(&ids(&[1]), &ids(&[2, 3]));
        assert!(!net.connected(NodeId(1), NodeId(2)));
        assert!(net.connected(NodeId(2), NodeId(1)));
    }

    #[test]
    fn loss_duplication_and_latency_follow_the_configuration() {
        let config = NetworkConfig {
            latency_min_ms: 5,
            latency_max_ms: 9,
            loss: 0.25,
            duplicate: 0.5,
            ..NetworkConfig::default()
        };
        let net = Network::new(config);
        let mut rng = Rng::seed_from_u64(3);
        let (mut lost, mut dup) = (0, 0);
        for _ in 0..10_000 {
            match net.route(&mut rng, NodeId(1), NodeId(2), 0) {
                Fate::Lost => lost += 1,
                Fate::Deliver(d) => {
                    assert!(d.iter().all(|&x| (5..=9).contains(&x)));
                    dup += usize::from(d.len() == 2);
                }
                Fate::Partitioned => unreachable!(),
            }
        }
        assert!((2_300..2_700).contains(&lost), "{lost}");
        assert!((3_500..4_000).contains(&dup), "{dup}");
    }

    #[test]
    fn stale_copies_arrive_long_after_the_original() {
        let config = NetworkConfig {
            latency_min_ms: 5,
            latency_max_ms: 9,
            replay: 0.5,
            replay_delay_ms: 800,
            ..NetworkConfig::default()
        };
        let net = Network::new(config);
        let mut rng = Rng::seed_from_u64(4);
        let mut stale = 0;
        for _ in 0..10_000 {
            let Fate::Deliver(d) = net.route(&mut rng, NodeId(1), NodeId(2), 0) else {
                unreachable!()
            };
            assert!((5..=9).contains(&d[0]));
            if let Some(&late) = d.get(1) {
                assert!((105..=809).contains(&late), "{late}");
                stale += 1;
            }
        }
        assert!((4_700..5_300).contains(&stale), "{stale}");
        // None of messages sent from `replay_until_ms` on.
        let net = Network::new(NetworkConfig {
            replay: 1.0,
            replay_until_ms: 100,
            ..NetworkConfig::default()
        });
        for now in [99, 100, 5_000] {
            let Fate::Deliver(d) = net.route(&mut rng, NodeId(1), NodeId(2), now) else {
                unreachable!()
            };
            assert_eq!(d.len(), if now < 100 { 2 } else { 1 });
        }
    }
}
