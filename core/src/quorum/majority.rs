//! A majority configuration: a fixed-capacity, sorted set of voters.

use core::fmt;

use super::{AckedIndexer, Error, Index, MAX_VOTERS, VoteLookup, VoteResult};
use crate::id::NodeId;

/// Configurations up to this size sort their acknowledged indexes in a small
/// scratch array, by insertion sort.
const SMALL_CONFIG: usize = 16;

/// A set of up to [`MAX_VOTERS`] voters, any `n / 2 + 1` of which form a quorum.
///
/// Voters are kept sorted and distinct, so two configurations with the same
/// members compare equal however they were built.
///
/// ```
/// use consensio::NodeId;
/// use consensio::quorum::{MajorityConfig, VoteResult};
///
/// let config = MajorityConfig::from_voters([1, 2, 3, 4, 5].map(NodeId)).unwrap();
/// assert_eq!(config.quorum_size(), 3);
///
/// // Acknowledged indexes 7, 5, 9, unreported, 5: three voters have 5 or more.
/// let acked = |v: NodeId| [Some(7), Some(5), Some(9), None, Some(5)][v.0 as usize - 1];
/// assert_eq!(config.committed_index(&acked), 5);
///
/// let votes = |v: NodeId| match v.0 { 1 | 2 => Some(true), 3 => Some(false), _ => None };
/// assert_eq!(config.vote_result(&votes), VoteResult::Pending);
/// ```
#[derive(Clone)]
pub struct MajorityConfig {
    voters: [NodeId; MAX_VOTERS],
    len: usize,
}

impl MajorityConfig {
    /// The empty configuration.
    #[must_use]
    pub const fn new() -> Self {
        MajorityConfig {
            voters: [NodeId(0); MAX_VOTERS],
            len: 0,
        }
    }

    /// A configuration of the given voters; duplicates are merged.
    ///
    /// # Errors
    /// [`Error::TooManyVoters`] if there are more than [`MAX_VOTERS`]
    /// distinct voters.
    pub fn from_voters(voters: impl IntoIterator<Item = NodeId>) -> Result<Self, Error> {
        let mut config = MajorityConfig::new();
        for voter in voters {
            config.insert(voter)?;
        }
        Ok(config)
    }

    /// Adds `voter`; returns whether it was new.
    ///
    /// # Errors
    /// [`Error::TooManyVoters`] if the configuration is full and
    /// `voter` is not already in it.
    pub fn insert(&mut self, voter: NodeId) -> Result<bool, Error> {
        let at = match self.voters().binary_search(&voter) {
            Ok(_) => return Ok(false),
            Err(at) => at,
        };
        if self.len == MAX_VOTERS {
            return Err(Error::TooManyVoters { max: MAX_VOTERS });
        }
        self.len += 1;
        if let Some(tail) = self.voters.get_mut(at..self.len) {
            tail.rotate_right(1);
            if let Some(slot) = tail.first_mut() {
                *slot = voter;
            }
        }
        Ok(true)
    }

    /// Removes `voter`; returns whether it was present.
    pub fn remove(&mut self, voter: NodeId) -> bool {
        let Ok(at) = self.voters().binary_search(&voter) else {
            return false;
        };
        if let Some(tail) = self.voters.get_mut(at..self.len) {
            tail.rotate_left(1);
        }
        self.len -= 1;
        true
    }

    /// The voters, sorted ascending.
    #[must_use]
    pub fn voters(&self) -> &[NodeId] {
        self.voters.get(..self.len).unwrap_or_default()
    }

    /// Whether `voter` belongs to the configuration.
    #[must_use]
    pub fn contains(&self, voter: NodeId) -> bool {
        self.voters().binary_search(&voter).is_ok()
    }

    /// Number of voters.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the configuration has no voters.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Votes needed for a quorum: `n / 2 + 1`, or 0 for the empty configuration.
    #[must_use]
    pub const fn quorum_size(&self) -> usize {
        if self.len == 0 { 0 } else { self.len / 2 + 1 }
    }

    /// The largest index acknowledged by a quorum. Unreported voters count as
    /// 0; the empty configuration returns [`Index::MAX`] (it commits
    /// everything, so a joint configuration's minimum ignores it).
    #[must_use]
    pub fn committed_index(&self, acked: &impl AckedIndexer) -> Index {
        let n = self.len;
        if n == 0 {
            return Index::MAX;
        }
        // Zeroing a scratch array of MAX_VOTERS slots would cost more than
        // the rest of the computation for the sizes Raft uses.
        if n <= SMALL_CONFIG {
            self.quorum_th_largest(acked, &mut [0; SMALL_CONFIG])
        } else {
            self.quorum_th_largest(acked, &mut [0; MAX_VOTERS])
        }
    }

    /// The quorum-th largest acknowledged index, using `scratch` (at least
    /// `len` slots) to sort them.
    fn quorum_th_largest(&self, acked: &impl AckedIndexer, scratch: &mut [Index]) -> Index {
        let n = self.len;
        let Some(indexes) = scratch.get_mut(..n) else {
            return 0;
        };
        for (slot, &voter) in indexes.iter_mut().zip(self.voters()) {
            *slot = acked.acked_index(voter).unwrap_or(0);
        }
        // Ascending order; the quorum-th largest sits at n - quorum. For the
        // small sizes Raft uses, insertion sort beats the general sort.
        if n <= SMALL_CONFIG {
            insertion_sort(indexes);
        } else {
            indexes.sort_unstable();
        }
        indexes.get(n - self.quorum_size()).copied().unwrap_or(0)
    }

    /// The outcome of a vote given each voter's ballot.
    ///
    /// Won once `quorum` voters granted; lost once so many rejected that the
    /// remaining voters cannot reach a quorum; pending otherwise. The empty
    /// configuration wins.
    #[must_use]
    pub fn vote_result(&self, votes: &impl VoteLookup) -> VoteResult {
        let quorum = self.quorum_size();
        let (mut granted, mut missing) = (0usize, 0usize);
        for &voter in self.voters() {
            match votes.vote(voter) {
                Some(true) => granted += 1,
                Some(false) => {}
                None => missing += 1,
            }
        }
        if granted >= quorum {
            VoteResult::Won
        } else if granted + missing >= quorum {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }
}

impl Default for MajorityConfig {
    fn default() -> Self {
        MajorityConfig::new()
    }
}

// Only the first `len` slots are members; the rest are scratch.
impl PartialEq for MajorityConfig {
    fn eq(&self, other: &Self) -> bool {
        self.voters() == other.voters()
    }
}

impl Eq for MajorityConfig {}

impl core::hash::Hash for MajorityConfig {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.voters().hash(state);
    }
}

impl fmt::Debug for MajorityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.voters()).finish()
    }
}

fn insertion_sort(v: &mut [Index]) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 {
            match (v.get(j - 1), v.get(j)) {
                (Some(a), Some(b)) if a > b => v.swap(j - 1, j),
                _ => break,
            }
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ids: &[u64]) -> MajorityConfig {
        MajorityConfig::from_voters(ids.iter().copied().map(NodeId)).unwrap()
    }

    #[test]
    fn voters_are_kept_sorted_and_distinct() {
        let mut c = config(&[5, 1, 3, 1]);
        assert_eq!(c.voters(), &[NodeId(1), NodeId(3), NodeId(5)]);
        assert_eq!(c.insert(NodeId(3)), Ok(false));
        assert_eq!(c.insert(NodeId(2)), Ok(true));
        assert_eq!(c.voters(), &[NodeId(1), NodeId(2), NodeId(3), NodeId(5)]);
        assert!(c.remove(NodeId(1)));
        assert!(!c.remove(NodeId(1)));
        assert_eq!(c.voters(), &[NodeId(2), NodeId(3), NodeId(5)]);
        assert_eq!(c, config(&[3, 5, 2]));
    }

    #[test]
    fn capacity_is_sixty_four_voters_and_overflow_is_a_typed_error() {
        let mut c = MajorityConfig::from_voters((0..64).map(NodeId)).unwrap();
        assert_eq!(c.len(), 64);
        assert_eq!(c.quorum_size(), 33);
        assert_eq!(c.insert(NodeId(64)), Err(Error::TooManyVoters { max: 64 }));
        assert_eq!(
            c.insert(NodeId(63)),
            Ok(false),
            "existing voter is fine when full"
        );
        assert_eq!(c.len(), 64);
        assert!(MajorityConfig::from_voters((0..65).map(NodeId)).is_err());
    }

    #[test]
    fn quorum_is_a_strict_majority() {
        for (n, q) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (5, 3),
            (6, 4),
            (7, 4),
        ] {
            let c = MajorityConfig::from_voters((0..n).map(NodeId)).unwrap();
            assert_eq!(c.quorum_size(), q, "n = {n}");
        }
    }

    #[test]
    fn committed_index_is_the_quorum_th_largest_acknowledgement() {
        let c = config(&[1, 2, 3]);
        let acked = |v: NodeId| Some([0, 10, 4, 7][v.0 as usize]);
        assert_eq!(c.committed_index(&acked), 7);
        let c4 = config(&[1, 2, 3, 4]);
        let acked4 = |v: NodeId| Some([0, 10, 4, 7, 9][v.0 as usize]);
        assert_eq!(c4.committed_index(&acked4), 7, "needs 3 of 4");
    }

    #[test]
    fn unreported_voters_count_as_zero() {
        let c = config(&[1, 2, 3]);
        let only_one = |v: NodeId| (v.0 == 1).then_some(100);
        assert_eq!(c.committed_index(&only_one), 0);
        let two = |v: NodeId| (v.0 != 3).then_some(100);
        assert_eq!(c.committed_index(&two), 100);
    }

    #[test]
    fn empty_configuration_commits_everything_and_wins_every_vote() {
        let c = MajorityConfig::new();
        assert_eq!(c.committed_index(&|_| Some(3)), Index::MAX);
        assert_eq!(c.vote_result(&|_| None), VoteResult::Won);
    }

    #[test]
    fn votes_are_won_lost_or_pending() {
        let c = config(&[1, 2, 3, 4, 5]);
        let ballot = |granted: &'static [u64], rejected: &'static [u64]| {
            move |v: NodeId| {
                if granted.contains(&v.0) {
                    Some(true)
                } else if rejected.contains(&v.0) {
                    Some(false)
                } else {
                    None
                }
            }
        };
        assert_eq!(c.vote_result(&ballot(&[], &[])), VoteResult::Pending);
        assert_eq!(
            c.vote_result(&ballot(&[1, 2], &[3, 4])),
            VoteResult::Pending
        );
        assert_eq!(c.vote_result(&ballot(&[1, 2, 5], &[3, 4])), VoteResult::Won);
        assert_eq!(c.vote_result(&ballot(&[1], &[2, 3, 4])), VoteResult::Lost);
        // Votes from non-members are ignored.
        assert_eq!(c.vote_result(&ballot(&[1, 2, 9], &[])), VoteResult::Pending);
    }
}
