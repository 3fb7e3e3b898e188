//! Leader election: the Bully algorithm and Chang–Roberts ring election,
//! each with leader heartbeats and numbered epochs.
//!
//! # What is here
//!
//! - [`Bully`] (`alloc`): Garcia-Molina's Bully algorithm, "Elections in a
//!   Distributed Computing System" (IEEE Transactions on Computers, 1982):
//!   the highest live id wins, and a restarted higher id takes over.
//! - [`RingElection`] (`alloc`): Chang and Roberts, "An Improved Algorithm
//!   for Decentralized Extrema-Finding in Circular Configurations of
//!   Processes" (CACM, 1979), on a ring ordered by id, with acknowledged hops
//!   that skip dead successors.
//!
//! Both speak the same [`Command`], [`Event`] and
//! [`Error`], and number their leaders with epochs.
//!
//! # Epochs
//!
//! Every leader announces an *epoch* strictly greater than any epoch the
//! announcing node has seen (the largest it has seen, plus one). A node
//! adopts an announced leader whose epoch is greater than its own; for an
//! **equal epoch the higher id wins**, so every node that hears two claims
//! to one epoch settles on the same leader. The announcing node persists its
//! epoch before it sends the announcement, and every node persists an epoch
//! it adopts, so a restarted node never announces or accepts an epoch below
//! one it already acted on. The persisted records (`Persist = u64`) are
//! strictly increasing; a restarted node is rebuilt from them (only the
//! last matters) with [`Restore::restore`](crate::Restore::restore).
//!
//! # What is guaranteed, and under which model
//!
//! Neither algorithm uses quorums, so neither is safe in an asynchronous
//! network: if messages are lost or a partition separates the members, each
//! side elects its own leader, possibly with the same epoch (the tests show
//! the "at most one leader per epoch" check failing under a partition). They
//! assume the *synchronous* model of their papers: no loss, a known bound on
//! message delay, no partitions, and timeouts set above those bounds. Under
//! that model, with crash-restart of nodes, at most one leader is elected per
//! epoch, and once failures stop every live node follows the highest live id.
//!
//! Crash-restart adds one condition: at every moment some live node must
//! remember the latest epoch (have adopted or announced it). A candidate
//! learns the epochs it must outbid from the live members (Bully asks every
//! member; a ring candidacy passes every live member), so if every node that
//! knew an epoch is down at once, no live node can tell, and the epoch may
//! be handed out again. Only replicating the epoch to a quorum before using
//! it avoids that; use a quorum protocol (Raft, Paxos) when this, or the
//! synchronous network, cannot be assumed.

#[cfg(feature = "alloc")]
pub mod bully;
#[cfg(feature = "alloc")]
pub mod ring;

use core::fmt;

#[cfg(feature = "alloc")]
pub use bully::Bully;
#[cfg(feature = "alloc")]
pub use ring::RingElection;

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;
use crate::wire::WireError;

/// The most members an election configuration may list.
pub const MAX_MEMBERS: usize = 256;

/// Requests from the local application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start an election now, as if the leader had been lost.
    StartElection,
}

/// Notifications for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// This node now follows `leader` (itself included) in `epoch`.
    Elected {
        /// The coordinator.
        leader: NodeId,
        /// Its epoch.
        epoch: u64,
    },
    /// The leader of `epoch` stopped sending heartbeats; an election starts.
    LeaderLost {
        /// The epoch of the lost leader.
        epoch: u64,
    },
}

/// Why a configuration, command or message was rejected. The participant is
/// unchanged (or, for a configuration, not built).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes from a peer were not a valid message.
    Wire(WireError),
    /// A message from a node that is not a member, or from this node itself.
    NotAMember {
        /// The sender.
        peer: NodeId,
    },
    /// The configuration lists more than [`MAX_MEMBERS`] members.
    TooManyMembers {
        /// Members listed (after removing duplicates).
        len: usize,
        /// [`MAX_MEMBERS`].
        max: usize,
    },
    /// The configuration is unusable.
    BadConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wire(e) => write!(f, "bad message: {e}"),
            Error::NotAMember { peer } => write!(f, "{peer} is not a member"),
            Error::TooManyMembers { len, max } => {
                write!(f, "{len} members exceed the limit of {max}")
            }
            Error::BadConfig { reason } => write!(f, "bad configuration: {reason}"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Wire(w) => w.kind(),
            Error::TooManyMembers { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

/// Sorts and deduplicates `members` and checks that they are few enough and
/// include `id`.
#[cfg(feature = "alloc")]
fn check_members(id: NodeId, members: &mut alloc::vec::Vec<NodeId>) -> Result<(), Error> {
    members.sort_unstable();
    members.dedup();
    if members.len() > MAX_MEMBERS {
        return Err(Error::TooManyMembers {
            len: members.len(),
            max: MAX_MEMBERS,
        });
    }
    if members.binary_search(&id).is_err() {
        return Err(Error::BadConfig {
            reason: "members must include this node's id",
        });
    }
    Ok(())
}
