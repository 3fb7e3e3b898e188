//! Leader elections in the simulator: Bully (and ring election), with the
//! checker "at most one leader per epoch".

use std::collections::BTreeMap;

use consensio::NodeId;
use consensio::election::{Bully, BullyConfig, ElectionEvent};

use crate::checker::Checker;
use crate::engine::Protocol;

/// Bully election with the library's default timeouts (a 50 ms delay
/// bound), so the simulated network must stay below it for the algorithm's
/// synchronous model to hold.
#[derive(Clone, Copy, Debug, Default)]
pub struct BullyProtocol;

impl Protocol for BullyProtocol {
    type Node = Bully;

    fn name(&self) -> &'static str {
        "bully"
    }

    fn create(&self, id: NodeId, members: &[NodeId], _seed: u64) -> Bully {
        self.restore(id, members, 0, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], _seed: u64, disk: &[u64]) -> Bully {
        let epoch = disk.iter().copied().max().unwrap_or(0);
        // The configuration is built here from valid members, so it cannot
        // be rejected; if it were, that is a harness bug worth a panic.
        Bully::restore(BullyConfig::new(id, members), epoch).unwrap_or_else(|e| panic!("bully config: {e}"))
    }

    fn checker(&self) -> Box<dyn Checker<Bully>> {
        Box::new(OneLeaderPerEpoch::default())
    }

    fn describe(&self, event: &ElectionEvent) -> String {
        match event {
            ElectionEvent::Elected { leader, epoch } => format!("Elected {leader} in epoch {epoch}"),
            ElectionEvent::LeaderLost { epoch } => format!("LeaderLost epoch {epoch}"),
        }
    }
}

/// Safety of an election: no two nodes are ever announced as leader of the
/// same epoch. Also measures how long the cluster goes without an agreed
/// leader.
#[derive(Debug, Default)]
pub struct OneLeaderPerEpoch {
    leaders: BTreeMap<u64, NodeId>,
    elections: u64,
}

impl OneLeaderPerEpoch {
    fn observe(&mut self, event: &ElectionEvent) -> Result<(), String> {
        if let ElectionEvent::Elected { leader, epoch } = *event {
            self.elections += 1;
            match self.leaders.insert(epoch, leader) {
                Some(other) if other != leader => {
                    return Err(format!("epoch {epoch} has two leaders: {other} and {leader}"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Checker<Bully> for OneLeaderPerEpoch {
    fn name(&self) -> &'static str {
        "at most one leader per epoch"
    }

    fn on_event(&mut self, _time_ms: u64, _node: NodeId, event: &ElectionEvent) -> Result<(), String> {
        self.observe(event)
    }

    fn report(&self) -> Vec<(String, String)> {
        vec![
            ("epochs".into(), self.leaders.len().to_string()),
            ("leader announcements adopted".into(), self.elections.to_string()),
        ]
    }
}
