//! Quorum arithmetic: majority and joint configurations, vote tallies and
//! committed indexes.
//!
//! The family has no participant, so two rows of a protocol family do not
//! apply: there is no simulator adapter and no step fuzz target. Its laws
//! are property tests (`core/tests/quorum_props.rs`) and the fuzz target
//! `quorum_config` checks it against a naive model.
//!
//! This module holds no protocol state and allocates nothing; it is the pure
//! arithmetic that Raft, Multi-Paxos and quorum replication share, after
//! etcd-io/raft's `quorum` package.
//!
//! - A [`MajorityConfig`] is a set of up to [`MAX_VOTERS`] voters. A quorum is
//!   any `n / 2 + 1` of them. The empty configuration is a degenerate case
//!   that wins every vote and commits every index, so that a
//!   [`JointConfig`] with an empty outgoing half behaves like its incoming
//!   half alone.
//! - A [`JointConfig`] (Raft §6, joint consensus) is two majority
//!   configurations that must *both* agree: a vote is won only if both halves
//!   win it, lost if either loses it, and the committed index is the minimum
//!   of the two halves.
//! - The committed index of a majority configuration is the largest index
//!   that a quorum of voters has acknowledged: sort the voters' acknowledged
//!   indexes in descending order and take the `quorum`-th. Voters that have
//!   not reported count as 0.
//! - A [`VoteTally`] records granted and rejected votes by voter; a
//!   configuration reads it to decide [`VoteResult::Won`], [`VoteResult::Lost`]
//!   or [`VoteResult::Pending`] (still winnable).

mod joint;
mod majority;
mod tally;

use core::fmt;

pub use joint::JointConfig;
pub use majority::MajorityConfig;
pub use tally::VoteTally;

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;

/// The most voters a [`MajorityConfig`] holds.
pub const MAX_VOTERS: usize = 64;

/// A log index (or any monotonically growing position) acknowledged by a voter.
pub type Index = u64;

/// The outcome of a vote, as far as the recorded votes tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoteResult {
    /// Neither won nor lost yet: the missing votes could still decide it.
    Pending,
    /// Enough rejections that the vote can no longer be won.
    Lost,
    /// A quorum granted.
    Won,
}

/// Where a configuration reads each voter's acknowledged index.
///
/// Implemented for closures `Fn(NodeId) -> Option<Index>`; `None` means the
/// voter has not reported and counts as index 0.
pub trait AckedIndexer {
    /// The highest index `voter` has acknowledged, if it has reported.
    fn acked_index(&self, voter: NodeId) -> Option<Index>;
}

impl<F: Fn(NodeId) -> Option<Index>> AckedIndexer for F {
    fn acked_index(&self, voter: NodeId) -> Option<Index> {
        self(voter)
    }
}

/// Where a configuration reads each voter's vote.
///
/// Implemented for [`VoteTally`] and for closures `Fn(NodeId) -> Option<bool>`
/// (`Some(true)` granted, `Some(false)` rejected, `None` not yet voted).
pub trait VoteLookup {
    /// The vote cast by `voter`, if any.
    fn vote(&self, voter: NodeId) -> Option<bool>;
}

impl<F: Fn(NodeId) -> Option<bool>> VoteLookup for F {
    fn vote(&self, voter: NodeId) -> Option<bool> {
        self(voter)
    }
}

/// Why a configuration or tally could not be built or changed. On error,
/// nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// More distinct voters than the fixed capacity allows.
    TooManyVoters {
        /// The capacity that was exceeded.
        max: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooManyVoters { max } => {
                write!(f, "more than {max} distinct voters")
            }
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::TooManyVoters { .. } => ErrorKind::LimitExceeded,
        }
    }
}
