//! Cluster membership (§6 of the paper; the thesis, chapter 4): who votes,
//! who only learns, and the changes between them, as pure arithmetic with
//! no protocol state (the node decides *when* a change may be made).
//!
//! A [`Membership`] is the voters, a [`JointConfig`] whose outgoing half is
//! empty except during a joint change, and the learners: non-voting
//! members that receive the log (thesis §4.2.1) and never count in a
//! quorum. A [`MembershipChange`] goes through the log as an entry of kind
//! [`EntryKind::Membership`](super::EntryKind::Membership), and a node uses
//! the latest membership in its log, committed or not (thesis §4.1).
//!
//! - Single-server changes (thesis §4.1) add a learner, promote a learner
//!   to voter, or remove a member: two majorities of configurations that
//!   differ by one voter always overlap, so no joint phase is needed.
//! - A joint change (§6) moves to any set of voters through `C_old,new`,
//!   in which a decision needs a majority of both halves; once `C_old,new`
//!   commits, the leader appends `C_new` by itself.
//!
//! Invariants: voters and learners are sorted and distinct; there is at
//! least one voter; a learner is never an incoming voter (it may be an
//! outgoing one: a voter being demoted keeps voting until `C_new`); at most
//! [`MAX_VOTERS`] of each.

use alloc::boxed::Box;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::Error;
use crate::id::NodeId;
use crate::quorum::{JointConfig, MAX_VOTERS, MajorityConfig};

/// The most learners a membership holds.
pub const MAX_LEARNERS: usize = MAX_VOTERS;

/// Who is in the cluster: the voters (both halves during a joint change)
/// and the learners. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Lists", try_from = "Lists")]
pub struct Membership(
    /// Boxed whole: a configuration holds two fixed arrays of 64 ids, and
    /// a membership travels inside messages, records and events, which
    /// stay one pointer larger for it.
    Box<Members>,
);

/// What a [`Membership`] holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Members {
    voters: JointConfig,
    learners: Vec<NodeId>,
}

/// A change of membership, proposed with
/// [`Command::ChangeMembership`](super::Command::ChangeMembership).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add a non-voting member, which receives the log from now on.
    AddLearner(NodeId),
    /// Make a learner a voter. The leader takes it only once the learner's
    /// log holds every committed entry (thesis §4.2.1), so that the new
    /// voter does not hold back commitment while it catches up.
    Promote(NodeId),
    /// Remove a voter or a learner. A leader that removes itself leads
    /// until the change commits, then steps down (thesis §4.2.2).
    Remove(NodeId),
    /// Move to exactly these voters and learners through a joint
    /// configuration (§6). Every voter that is not one now must be a
    /// caught-up learner; a voter may become a learner.
    Joint {
        /// The voters of the new configuration.
        voters: Vec<NodeId>,
        /// The learners of the new configuration.
        learners: Vec<NodeId>,
    },
}

/// The wire and record form of a [`Membership`]: three sorted lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Lists {
    incoming: Vec<NodeId>,
    outgoing: Vec<NodeId>,
    learners: Vec<NodeId>,
}

impl From<Membership> for Lists {
    fn from(m: Membership) -> Self {
        let Members { voters, learners } = *m.0;
        Lists {
            incoming: voters.incoming.voters().to_vec(),
            outgoing: voters.outgoing.voters().to_vec(),
            learners,
        }
    }
}

impl TryFrom<Lists> for Membership {
    type Error = &'static str;

    fn try_from(m: Lists) -> Result<Self, Self::Error> {
        let half = |ids: Vec<NodeId>| {
            MajorityConfig::from_voters(ids).map_err(|_| "more than 64 voters in a half")
        };
        let voters = JointConfig::new(half(m.incoming)?, half(m.outgoing)?);
        Membership::new(voters, m.learners).map_err(|e| match e {
            Error::BadConfig { reason } => reason,
            _ => "not a membership",
        })
    }
}

impl Membership {
    /// `voters` and `learners` (in any order; duplicates merged).
    ///
    /// # Errors
    /// [`Error::BadConfig`] if there is no incoming voter, a learner is an
    /// incoming voter, or there are more than [`MAX_LEARNERS`] learners.
    pub fn new(
        voters: JointConfig,
        learners: impl IntoIterator<Item = NodeId>,
    ) -> Result<Self, Error> {
        let mut learners: Vec<NodeId> = learners.into_iter().take(MAX_LEARNERS + 1).collect();
        learners.sort_unstable();
        learners.dedup();
        let bad = |reason| Err(Error::BadConfig { reason });
        if voters.incoming.is_empty() {
            return bad("there are no voters");
        }
        if learners.len() > MAX_LEARNERS {
            return bad("more than 64 learners");
        }
        if learners.iter().any(|&l| voters.incoming.contains(l)) {
            return bad("a node is both a voter and a learner");
        }
        Ok(Membership(Box::new(Members { voters, learners })))
    }

    /// The voters (both halves during a joint change).
    #[must_use]
    pub fn voters(&self) -> &JointConfig {
        &self.0.voters
    }

    /// The learners, sorted.
    #[must_use]
    pub fn learners(&self) -> &[NodeId] {
        &self.0.learners
    }

    /// Whether `id` votes (in either half).
    #[must_use]
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.0.voters.contains(id)
    }

    /// Whether `id` is a learner and not a voter of either half.
    #[must_use]
    pub fn is_learner(&self, id: NodeId) -> bool {
        self.0.learners.binary_search(&id).is_ok() && !self.0.voters.contains(id)
    }

    /// Whether `id` is a voter or a learner.
    #[must_use]
    pub fn contains(&self, id: NodeId) -> bool {
        self.0.voters.contains(id) || self.0.learners.binary_search(&id).is_ok()
    }

    /// Whether this is a joint configuration.
    #[must_use]
    pub fn is_joint(&self) -> bool {
        self.0.voters.is_joint()
    }

    /// Every member, voter or learner, each once, sorted.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        let Members { voters, learners } = &*self.0;
        let mut all: Vec<NodeId> = voters
            .incoming
            .voters()
            .iter()
            .chain(voters.outgoing.voters())
            .chain(learners)
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
    }

    /// The membership after `change`, and the voters it adds (who must be
    /// caught-up learners: the node checks).
    ///
    /// # Errors
    /// [`Error::BadMembershipChange`] if the change does not apply: during
    /// a joint change, a member added again, a non-member removed or
    /// promoted, the last voter removed, a bound exceeded.
    pub fn apply(&self, change: &MembershipChange) -> Result<(Membership, Vec<NodeId>), Error> {
        let bad = |reason| Err(Error::BadMembershipChange { reason });
        if self.is_joint() {
            return bad("a joint change is still under way");
        }
        let mut next = self.clone();
        let mut added = Vec::new();
        match *change {
            MembershipChange::AddLearner(id) => {
                if self.contains(id) {
                    return bad("already a member");
                }
                if self.0.learners.len() >= MAX_LEARNERS {
                    return bad("more than 64 learners");
                }
                let at = next.0.learners.partition_point(|&l| l < id);
                next.0.learners.insert(at, id);
            }
            MembershipChange::Promote(id) => {
                if !self.is_learner(id) {
                    return bad("only a learner can be promoted");
                }
                if next.0.voters.incoming.insert(id).is_err() {
                    return bad("more than 64 voters");
                }
                next.0.learners.retain(|&l| l != id);
                added.push(id);
            }
            MembershipChange::Remove(id) => {
                if self.is_learner(id) {
                    next.0.learners.retain(|&l| l != id);
                } else if self.0.voters.incoming.contains(id) {
                    if self.0.voters.incoming.len() == 1 {
                        return bad("the last voter cannot be removed");
                    }
                    next.0.voters.incoming.remove(id);
                } else {
                    return bad("not a member");
                }
            }
            MembershipChange::Joint {
                ref voters,
                ref learners,
            } => {
                let Ok(incoming) = MajorityConfig::from_voters(voters.iter().copied()) else {
                    return bad("more than 64 voters");
                };
                let outgoing = self.0.voters.incoming.clone();
                added = incoming
                    .voters()
                    .iter()
                    .copied()
                    .filter(|&v| !outgoing.contains(v))
                    .collect();
                if added.iter().any(|&v| !self.is_learner(v)) {
                    return bad("a new voter must be a learner first");
                }
                let joint = JointConfig::new(incoming, outgoing);
                next = match Membership::new(joint, learners.iter().copied()) {
                    Ok(next) => next,
                    Err(Error::BadConfig { reason }) => return bad(reason),
                    Err(e) => return Err(e),
                };
            }
        }
        Ok((next, added))
    }

    /// `C_new` of a joint configuration: the incoming voters alone.
    #[must_use]
    pub fn leave_joint(&self) -> Membership {
        Membership(Box::new(Members {
            voters: JointConfig::new(self.0.voters.incoming.clone(), MajorityConfig::new()),
            learners: self.0.learners.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ids(v: &[u64]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    fn of(voters: &[u64], learners: &[u64]) -> Membership {
        let voters = MajorityConfig::from_voters(ids(voters)).unwrap();
        Membership::new(
            JointConfig::new(voters, MajorityConfig::new()),
            ids(learners),
        )
        .unwrap()
    }

    #[test]
    fn single_server_changes_add_promote_and_remove_one_member() {
        let m = of(&[1, 2, 3], &[]);
        let (m, added) = m.apply(&MembershipChange::AddLearner(NodeId(4))).unwrap();
        assert!(added.is_empty());
        assert_eq!(m, of(&[1, 2, 3], &[4]));
        assert!(m.is_learner(NodeId(4)) && !m.is_voter(NodeId(4)));
        let (m, added) = m.apply(&MembershipChange::Promote(NodeId(4))).unwrap();
        assert_eq!((m.clone(), added), (of(&[1, 2, 3, 4], &[]), ids(&[4])));
        let (m, _) = m.apply(&MembershipChange::Remove(NodeId(1))).unwrap();
        assert_eq!(m, of(&[2, 3, 4], &[]));
        assert_eq!(m.members().collect::<Vec<_>>(), ids(&[2, 3, 4]));
    }

    #[test]
    fn a_change_that_does_not_apply_is_refused() {
        let m = of(&[1], &[2]);
        let refused = |c| matches!(m.apply(&c), Err(Error::BadMembershipChange { .. }));
        assert!(refused(MembershipChange::AddLearner(NodeId(1))), "a voter");
        assert!(
            refused(MembershipChange::AddLearner(NodeId(2))),
            "a learner"
        );
        assert!(
            refused(MembershipChange::Promote(NodeId(1))),
            "not a learner"
        );
        assert!(
            refused(MembershipChange::Promote(NodeId(3))),
            "not a member"
        );
        assert!(refused(MembershipChange::Remove(NodeId(3))), "not a member");
        assert!(
            refused(MembershipChange::Remove(NodeId(1))),
            "the last voter"
        );
        let joint = |voters: &[u64], learners: &[u64]| MembershipChange::Joint {
            voters: ids(voters),
            learners: ids(learners),
        };
        assert!(refused(joint(&[1, 3], &[])), "3 is not a learner");
        assert!(refused(joint(&[], &[1])), "no voters");
        assert!(refused(joint(&[2], &[2])), "a voter and a learner");
    }

    /// §6: `C_old,new` needs both majorities; `C_new` follows it, and no
    /// other change is taken in between.
    #[test]
    fn a_joint_change_goes_through_both_halves_then_the_new_one() {
        let m = of(&[1, 2, 3], &[4, 5]);
        let change = MembershipChange::Joint {
            voters: ids(&[3, 4, 5]),
            learners: ids(&[1]),
        };
        let (joint, added) = m.apply(&change).unwrap();
        assert_eq!(added, ids(&[4, 5]));
        assert!(joint.is_joint());
        assert!(
            joint.is_voter(NodeId(1)) && !joint.is_learner(NodeId(1)),
            "1 votes until C_new"
        );
        let acked = |v: NodeId| Some(if v.0 >= 3 { 9 } else { 2 });
        assert_eq!(
            joint.voters().committed_index(&acked),
            2,
            "the old half holds back"
        );
        assert!(matches!(
            joint.apply(&MembershipChange::AddLearner(NodeId(6))),
            Err(Error::BadMembershipChange { .. })
        ));
        let new = joint.leave_joint();
        assert_eq!(new, of(&[3, 4, 5], &[1]));
        assert_eq!(new.voters().committed_index(&acked), 9);
    }

    #[test]
    fn memberships_round_trip_the_wire_and_invalid_ones_are_malformed() {
        let m = of(&[1, 2, 3], &[7]);
        let bytes = postcard::to_allocvec(&m).unwrap();
        assert_eq!(postcard::from_bytes::<Membership>(&bytes).unwrap(), m);
        let bad = Lists {
            incoming: ids(&[1]),
            outgoing: vec![],
            learners: ids(&[1]),
        };
        let bytes = postcard::to_allocvec(&bad).unwrap();
        assert!(postcard::from_bytes::<Membership>(&bytes).is_err());
        let none = Lists {
            incoming: vec![],
            outgoing: vec![],
            learners: vec![],
        };
        let bytes = postcard::to_allocvec(&none).unwrap();
        assert!(postcard::from_bytes::<Membership>(&bytes).is_err());
    }
}
