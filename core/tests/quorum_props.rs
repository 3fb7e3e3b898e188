//! Property tests: quorum arithmetic against naive, sort-based references.

use consensio::NodeId;
use consensio::quorum::{Index, JointConfig, MAX_VOTERS, MajorityConfig, VoteResult, VoteTally};
use proptest::collection::{btree_map, btree_set};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The textbook definition: the largest index acknowledged by at least a
/// majority, found by sorting every voter's index in descending order.
fn reference_committed(voters: &BTreeSet<u64>, acked: &BTreeMap<u64, Index>) -> Index {
    if voters.is_empty() {
        return Index::MAX;
    }
    let mut indexes: Vec<Index> = voters
        .iter()
        .map(|v| acked.get(v).copied().unwrap_or(0))
        .collect();
    indexes.sort_by(|a, b| b.cmp(a));
    indexes[voters.len() / 2]
}

/// Counts granted and rejected votes among the voters.
fn reference_vote(voters: &BTreeSet<u64>, votes: &BTreeMap<u64, bool>) -> VoteResult {
    let quorum = if voters.is_empty() {
        0
    } else {
        voters.len() / 2 + 1
    };
    let granted = voters
        .iter()
        .filter(|v| votes.get(v) == Some(&true))
        .count();
    let rejected = voters
        .iter()
        .filter(|v| votes.get(v) == Some(&false))
        .count();
    if granted >= quorum {
        VoteResult::Won
    } else if voters.len() - rejected >= quorum {
        VoteResult::Pending
    } else {
        VoteResult::Lost
    }
}

fn config(voters: &BTreeSet<u64>) -> MajorityConfig {
    MajorityConfig::from_voters(voters.iter().copied().map(NodeId)).unwrap()
}

/// Up to 64 voters drawn from ids 0..100 so that configurations overlap, and
/// acknowledgements for a random subset of ids (others have not reported).
fn voters() -> impl Strategy<Value = BTreeSet<u64>> {
    btree_set(0u64..100, 0..=MAX_VOTERS)
}

fn acks() -> impl Strategy<Value = BTreeMap<u64, Index>> {
    btree_map(0u64..100, prop_oneof![0..20u64, any::<u64>()], 0..100)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn majority_committed_index_matches_the_sort_reference(v in voters(), acked in acks()) {
        let got = config(&v).committed_index(&|id: NodeId| acked.get(&id.0).copied());
        prop_assert_eq!(got, reference_committed(&v, &acked));
    }

    #[test]
    fn joint_committed_index_is_the_minimum_of_the_references(
        incoming in voters(), outgoing in voters(), acked in acks()
    ) {
        let joint = JointConfig::new(config(&incoming), config(&outgoing));
        let got = joint.committed_index(&|id: NodeId| acked.get(&id.0).copied());
        let want = reference_committed(&incoming, &acked).min(reference_committed(&outgoing, &acked));
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_committed_index_is_acknowledged_by_a_quorum_and_no_larger_one_is(
        v in btree_set(0u64..100, 1..=MAX_VOTERS), acked in acks()
    ) {
        let c = config(&v);
        let committed = c.committed_index(&|id: NodeId| acked.get(&id.0).copied());
        let at_least = |i: Index| v.iter().filter(|id| acked.get(id).copied().unwrap_or(0) >= i).count();
        prop_assert!(at_least(committed) >= c.quorum_size());
        if let Some(next) = committed.checked_add(1) {
            prop_assert!(at_least(next) < c.quorum_size());
        }
    }

    #[test]
    fn tallied_votes_match_the_counting_reference(
        incoming in voters(),
        outgoing in voters(),
        ballots in proptest::collection::vec((0u64..100, any::<bool>()), 0..200),
    ) {
        let mut tally = VoteTally::new();
        let mut first: BTreeMap<u64, bool> = BTreeMap::new();
        for (voter, granted) in ballots {
            let new = tally.record(NodeId(voter), granted).unwrap();
            prop_assert_eq!(new, !first.contains_key(&voter));
            first.entry(voter).or_insert(granted);
        }
        let joint = JointConfig::new(config(&incoming), config(&outgoing));
        let want = match (reference_vote(&incoming, &first), reference_vote(&outgoing, &first)) {
            (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
            (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
            _ => VoteResult::Pending,
        };
        prop_assert_eq!(config(&incoming).vote_result(&tally), reference_vote(&incoming, &first));
        prop_assert_eq!(joint.vote_result(&tally), want);
    }

    #[test]
    fn insert_and_remove_keep_the_same_set_as_a_btreeset(
        ops in proptest::collection::vec((any::<bool>(), 0u64..80), 0..300)
    ) {
        let mut c = MajorityConfig::new();
        let mut model = BTreeSet::new();
        for (insert, id) in ops {
            if insert {
                match c.insert(NodeId(id)) {
                    Ok(new) => prop_assert_eq!(new, model.insert(id)),
                    Err(_) => prop_assert!(model.len() == MAX_VOTERS && !model.contains(&id)),
                }
            } else {
                prop_assert_eq!(c.remove(NodeId(id)), model.remove(&id));
            }
            let want: Vec<NodeId> = model.iter().copied().map(NodeId).collect();
            prop_assert_eq!(c.voters(), &want[..]);
        }
    }
}
