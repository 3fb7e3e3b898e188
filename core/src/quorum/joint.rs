//! A joint configuration: two majorities that must both agree (Raft §6).

use super::{AckedIndexer, Index, MajorityConfig, VoteLookup, VoteResult};
use crate::id::NodeId;

/// The configuration in force during a membership change under joint
/// consensus: decisions need a majority of the incoming configuration *and* a
/// majority of the outgoing one. With an empty outgoing half it is simply the
/// incoming configuration.
///
/// ```
/// use consensio::NodeId;
/// use consensio::quorum::{JointConfig, MajorityConfig};
///
/// let old = MajorityConfig::from_voters([1, 2, 3].map(NodeId)).unwrap();
/// let new = MajorityConfig::from_voters([3, 4, 5].map(NodeId)).unwrap();
/// let joint = JointConfig::new(new, old);
/// // 1, 2 and 3 are at 9; 4 and 5 lag at 2: the new half holds commit back.
/// let acked = |v: NodeId| Some(if v.0 <= 3 { 9 } else { 2 });
/// assert_eq!(joint.committed_index(&acked), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct JointConfig {
    /// The configuration being moved to.
    pub incoming: MajorityConfig,
    /// The configuration being left; empty outside a membership change.
    pub outgoing: MajorityConfig,
}

impl JointConfig {
    /// A joint configuration of `incoming` and `outgoing`.
    #[must_use]
    pub const fn new(incoming: MajorityConfig, outgoing: MajorityConfig) -> Self {
        JointConfig { incoming, outgoing }
    }

    /// Whether `voter` is a voter in either half.
    #[must_use]
    pub fn contains(&self, voter: NodeId) -> bool {
        self.incoming.contains(voter) || self.outgoing.contains(voter)
    }

    /// Whether this is a real joint configuration (the outgoing half is not empty).
    #[must_use]
    pub const fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// The smaller of the two halves' committed indexes. Both empty gives
    /// [`Index::MAX`].
    #[must_use]
    pub fn committed_index(&self, acked: &impl AckedIndexer) -> Index {
        let incoming = self.incoming.committed_index(acked);
        let outgoing = self.outgoing.committed_index(acked);
        incoming.min(outgoing)
    }

    /// Won if both halves won, lost if either lost, pending otherwise.
    #[must_use]
    pub fn vote_result(&self, votes: &impl VoteLookup) -> VoteResult {
        let incoming = self.incoming.vote_result(votes);
        let outgoing = self.outgoing.vote_result(votes);
        match (incoming, outgoing) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        }
    }
}

impl From<MajorityConfig> for JointConfig {
    fn from(incoming: MajorityConfig) -> Self {
        JointConfig::new(incoming, MajorityConfig::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ids: &[u64]) -> MajorityConfig {
        MajorityConfig::from_voters(ids.iter().copied().map(NodeId)).unwrap()
    }

    #[test]
    fn joint_with_empty_outgoing_behaves_like_incoming() {
        let joint = JointConfig::from(config(&[1, 2, 3]));
        assert!(!joint.is_joint());
        let acked = |v: NodeId| Some(v.0 * 10);
        assert_eq!(joint.committed_index(&acked), 20);
        let votes = |v: NodeId| Some(v.0 != 3);
        assert_eq!(joint.vote_result(&votes), VoteResult::Won);
    }

    #[test]
    fn committed_index_is_the_minimum_of_the_halves() {
        let joint = JointConfig::new(config(&[1, 2, 3]), config(&[4, 5, 6]));
        let acked = |v: NodeId| Some(if v.0 <= 3 { 50 } else { 40 });
        assert_eq!(joint.committed_index(&acked), 40);
        let acked = |v: NodeId| Some(if v.0 <= 3 { 30 } else { 40 });
        assert_eq!(joint.committed_index(&acked), 30);
    }

    #[test]
    fn a_vote_needs_both_majorities() {
        let joint = JointConfig::new(config(&[1, 2, 3]), config(&[3, 4, 5]));
        // Wins the incoming half only.
        let votes = |v: NodeId| Some(v.0 <= 2);
        assert_eq!(joint.vote_result(&votes), VoteResult::Lost);
        let votes = |v: NodeId| (v.0 <= 3).then_some(true);
        assert_eq!(joint.vote_result(&votes), VoteResult::Pending);
        let votes = |v: NodeId| Some(v.0 != 1 && v.0 != 5);
        assert_eq!(joint.vote_result(&votes), VoteResult::Won);
        assert!(joint.contains(NodeId(5)) && !joint.contains(NodeId(6)));
    }
}
