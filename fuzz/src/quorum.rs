//! Quorum target: majority and joint configurations and vote tallies against
//! a sort-based model.

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use consensio::NodeId;
use consensio::quorum::{
    self, Index, JointConfig, MAX_VOTERS, MajorityConfig, VoteResult, VoteTally,
};

use crate::structured;

#[derive(Arbitrary, Debug)]
pub struct ConfigInput {
    incoming: Vec<u8>,
    outgoing: Vec<u8>,
    /// Acknowledged indexes by voter; voters not listed have not reported.
    acked: Vec<(u8, u64)>,
    /// Votes in arrival order; a voter's first vote counts.
    votes: Vec<(Voter, bool)>,
    /// Membership changes applied to the incoming half, then re-checked.
    changes: Vec<Change>,
}

/// Voter ids: mostly small (so configurations overlap and tallies repeat
/// voters), sometimes any `u64` (so a tally can fill up).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Voter {
    Small(u8),
    Any(u64),
}

impl Voter {
    fn id(self) -> NodeId {
        match self {
            Voter::Small(v) => NodeId(v.into()),
            Voter::Any(v) => NodeId(v),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Change {
    Insert(u8),
    Remove(u8),
}

/// The model: the `quorum`-th largest acknowledgement, unreported as 0.
fn model_committed(voters: &BTreeSet<u8>, acked: &BTreeMap<u8, u64>) -> Index {
    if voters.is_empty() {
        return Index::MAX;
    }
    let mut indexes: Vec<Index> = voters
        .iter()
        .map(|v| acked.get(v).copied().unwrap_or(0))
        .collect();
    indexes.sort_unstable_by(|a, b| b.cmp(a));
    indexes[voters.len() / 2]
}

fn model_vote(voters: &BTreeSet<u8>, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let quorum = if voters.is_empty() {
        0
    } else {
        voters.len() / 2 + 1
    };
    let granted = voters
        .iter()
        .filter(|&&v| votes.get(&NodeId(v.into())) == Some(&true))
        .count();
    let missing = voters
        .iter()
        .filter(|&&v| !votes.contains_key(&NodeId(v.into())))
        .count();
    if granted >= quorum {
        VoteResult::Won
    } else if granted + missing >= quorum {
        VoteResult::Pending
    } else {
        VoteResult::Lost
    }
}

fn joint_vote(a: VoteResult, b: VoteResult) -> VoteResult {
    match (a, b) {
        (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
        (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
        _ => VoteResult::Pending,
    }
}

/// Builds a configuration, checking the capacity rule; `None` if too many.
fn build(ids: &[u8]) -> Option<(MajorityConfig, BTreeSet<u8>)> {
    let model: BTreeSet<u8> = ids.iter().copied().collect();
    match MajorityConfig::from_voters(ids.iter().map(|&v| NodeId(v.into()))) {
        Ok(config) => {
            assert!(model.len() <= MAX_VOTERS);
            check_members(&config, &model);
            Some((config, model))
        }
        Err(quorum::Error::TooManyVoters { max }) => {
            assert_eq!(max, MAX_VOTERS);
            assert!(model.len() > MAX_VOTERS);
            None
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
}

fn check_members(config: &MajorityConfig, model: &BTreeSet<u8>) {
    let voters: Vec<NodeId> = model.iter().map(|&v| NodeId(v.into())).collect();
    assert_eq!(config.voters(), &voters[..]);
    assert_eq!(config.len(), model.len());
    assert_eq!(config.is_empty(), model.is_empty());
    let quorum = if model.is_empty() {
        0
    } else {
        model.len() / 2 + 1
    };
    assert_eq!(config.quorum_size(), quorum);
    for v in 0..=u8::MAX {
        assert_eq!(config.contains(NodeId(v.into())), model.contains(&v));
    }
}

/// `quorum_config`: committed indexes, vote results and tallies agree with
/// the model, for majority and joint configurations, before and after
/// membership changes; capacity overflows are typed errors that change
/// nothing.
pub fn config(data: &[u8]) {
    structured(data, |input: ConfigInput| {
        let Some((mut incoming, mut incoming_model)) = build(&input.incoming) else {
            return;
        };
        let Some((outgoing, outgoing_model)) = build(&input.outgoing) else {
            return;
        };
        let acked: BTreeMap<u8, u64> = input.acked.iter().copied().collect();
        let lookup = |v: NodeId| u8::try_from(v.0).ok().and_then(|v| acked.get(&v).copied());

        // The tally: first votes count, duplicates are ignored, and the
        // 129th distinct voter is refused without changing anything.
        let mut tally = VoteTally::new();
        let mut first: BTreeMap<NodeId, bool> = BTreeMap::new();
        for &(voter, granted) in input.votes.iter().take(512) {
            let id = voter.id();
            let before = tally.clone();
            match tally.record(id, granted) {
                Ok(true) => assert!(first.insert(id, granted).is_none()),
                Ok(false) => {
                    assert!(first.contains_key(&id));
                    assert_eq!(tally, before);
                }
                Err(quorum::Error::TooManyVoters { max }) => {
                    assert_eq!(max, 2 * MAX_VOTERS);
                    assert_eq!(first.len(), max);
                    assert!(!first.contains_key(&id));
                    assert_eq!(tally, before);
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        let recorded: Vec<(NodeId, bool)> = first.iter().map(|(&v, &g)| (v, g)).collect();
        assert_eq!(tally.recorded(), &recorded[..]);
        assert_eq!(tally.granted(), first.values().filter(|&&g| g).count());
        assert_eq!(tally.rejected(), first.values().filter(|&&g| !g).count());

        let check = |incoming: &MajorityConfig, incoming_model: &BTreeSet<u8>| {
            let joint = JointConfig::new(incoming.clone(), outgoing.clone());
            assert_eq!(joint.is_joint(), !outgoing_model.is_empty());
            let (ci, co) = (
                model_committed(incoming_model, &acked),
                model_committed(&outgoing_model, &acked),
            );
            assert_eq!(incoming.committed_index(&lookup), ci);
            assert_eq!(outgoing.committed_index(&lookup), co);
            assert_eq!(joint.committed_index(&lookup), ci.min(co));
            let (vi, vo) = (
                model_vote(incoming_model, &first),
                model_vote(&outgoing_model, &first),
            );
            assert_eq!(incoming.vote_result(&tally), vi);
            assert_eq!(joint.vote_result(&tally), joint_vote(vi, vo));
            // A closure lookup reads the same votes.
            let by_closure = |v: NodeId| first.get(&v).copied();
            assert_eq!(joint.vote_result(&by_closure), joint_vote(vi, vo));
        };
        check(&incoming, &incoming_model);

        for change in input.changes.iter().take(128) {
            match *change {
                Change::Insert(v) => {
                    let before = incoming.clone();
                    match incoming.insert(NodeId(v.into())) {
                        Ok(new) => assert_eq!(new, incoming_model.insert(v)),
                        Err(quorum::Error::TooManyVoters { .. }) => {
                            assert_eq!(incoming_model.len(), MAX_VOTERS);
                            assert!(!incoming_model.contains(&v));
                            assert_eq!(incoming, before);
                        }
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
                Change::Remove(v) => {
                    assert_eq!(incoming.remove(NodeId(v.into())), incoming_model.remove(&v));
                }
            }
            check_members(&incoming, &incoming_model);
        }
        check(&incoming, &incoming_model);
    });
}
