//! A fixed-capacity record of the votes cast in one round.

use core::fmt;

use super::{Error, MAX_VOTERS, VoteLookup};
use crate::id::NodeId;

/// Room for every voter of a joint configuration whose halves share nobody.
const CAPACITY: usize = 2 * MAX_VOTERS;

/// Granted and rejected votes of one election round, by voter.
///
/// A voter's first vote counts; a repeated vote (a duplicated response) is
/// ignored, so a tally cannot be swayed by retransmissions. Read the outcome
/// through a configuration: [`MajorityConfig::vote_result`] or
/// [`JointConfig::vote_result`].
///
/// [`MajorityConfig::vote_result`]: super::MajorityConfig::vote_result
/// [`JointConfig::vote_result`]: super::JointConfig::vote_result
///
/// ```
/// use consensio::NodeId;
/// use consensio::quorum::{MajorityConfig, VoteResult, VoteTally};
///
/// let config = MajorityConfig::from_voters([1, 2, 3].map(NodeId)).unwrap();
/// let mut tally = VoteTally::new();
/// tally.record(NodeId(1), true).unwrap();
/// assert_eq!(config.vote_result(&tally), VoteResult::Pending);
/// tally.record(NodeId(2), false).unwrap();
/// tally.record(NodeId(2), true).unwrap(); // ignored: 2 already voted
/// assert_eq!(config.vote_result(&tally), VoteResult::Pending);
/// tally.record(NodeId(3), true).unwrap();
/// assert_eq!(config.vote_result(&tally), VoteResult::Won);
/// ```
#[derive(Clone)]
pub struct VoteTally {
    votes: [(NodeId, bool); CAPACITY],
    len: usize,
}

impl VoteTally {
    /// An empty tally.
    #[must_use]
    pub const fn new() -> Self {
        VoteTally {
            votes: [(NodeId(0), false); CAPACITY],
            len: 0,
        }
    }

    /// Records `voter`'s vote; returns `true` if it was its first.
    ///
    /// # Errors
    /// [`Error::TooManyVoters`] if `2 * MAX_VOTERS` distinct voters have
    /// already voted; the tally is unchanged.
    pub fn record(&mut self, voter: NodeId, granted: bool) -> Result<bool, Error> {
        let at = match self.recorded().binary_search_by_key(&voter, |&(v, _)| v) {
            Ok(_) => return Ok(false),
            Err(at) => at,
        };
        if self.len == CAPACITY {
            return Err(Error::TooManyVoters { max: CAPACITY });
        }
        self.len += 1;
        // Insert at `at` by carrying each vote one slot right: a round's few
        // votes make this cheaper than a general rotate.
        let mut carried = (voter, granted);
        for slot in self.votes.get_mut(at..self.len).unwrap_or_default() {
            core::mem::swap(slot, &mut carried);
        }
        Ok(true)
    }

    /// Forgets every vote (a new round).
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Every recorded vote, sorted by voter.
    #[must_use]
    pub fn recorded(&self) -> &[(NodeId, bool)] {
        self.votes.get(..self.len).unwrap_or_default()
    }

    /// Number of granted votes recorded (from any voter).
    #[must_use]
    pub fn granted(&self) -> usize {
        self.recorded().iter().filter(|&&(_, g)| g).count()
    }

    /// Number of rejections recorded (from any voter).
    #[must_use]
    pub fn rejected(&self) -> usize {
        self.len - self.granted()
    }
}

impl VoteLookup for VoteTally {
    fn vote(&self, voter: NodeId) -> Option<bool> {
        let votes = self.recorded();
        votes
            .binary_search_by_key(&voter, |&(v, _)| v)
            .ok()
            .and_then(|at| votes.get(at))
            .map(|&(_, granted)| granted)
    }
}

impl Default for VoteTally {
    fn default() -> Self {
        VoteTally::new()
    }
}

// Only the first `len` slots are votes; the rest are scratch.
impl PartialEq for VoteTally {
    fn eq(&self, other: &Self) -> bool {
        self.recorded() == other.recorded()
    }
}

impl Eq for VoteTally {}

impl fmt::Debug for VoteTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.recorded().iter().map(|(v, g)| (v, g)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::{JointConfig, MajorityConfig, VoteResult};

    #[test]
    fn first_vote_counts_and_duplicates_are_ignored() {
        let mut t = VoteTally::new();
        assert_eq!(t.record(NodeId(4), false), Ok(true));
        assert_eq!(t.record(NodeId(4), true), Ok(false));
        assert_eq!(t.vote(NodeId(4)), Some(false));
        assert_eq!(t.vote(NodeId(5)), None);
        assert_eq!((t.granted(), t.rejected()), (0, 1));
        t.reset();
        assert_eq!(t.vote(NodeId(4)), None);
    }

    #[test]
    fn a_joint_tally_reaches_both_halves_and_is_bounded() {
        let incoming = MajorityConfig::from_voters((0..64).map(NodeId)).unwrap();
        let outgoing = MajorityConfig::from_voters((64..128).map(NodeId)).unwrap();
        let joint = JointConfig::new(incoming, outgoing);
        let mut t = VoteTally::new();
        for v in 0..128 {
            assert_eq!(t.record(NodeId(v), v % 2 == 0), Ok(true));
        }
        assert_eq!(joint.vote_result(&t), VoteResult::Lost, "32 of 64 per half");
        assert_eq!(
            t.record(NodeId(500), true),
            Err(Error::TooManyVoters { max: 128 })
        );
        assert_eq!(t.recorded().len(), 128);
    }
}
