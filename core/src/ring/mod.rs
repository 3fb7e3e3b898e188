//! Placement of keys on nodes: consistent hashing ring, rendezvous, jump,
//! Maglev and bounded-load hashing.
//!
//! The family has no participant, so two rows of a protocol family do not
//! apply: there is no simulator adapter and no step fuzz target. Its laws
//! are property tests (`core/tests/ring_props.rs`) and the fuzz target
//! `ring_ops` checks it against a naive model.
//!
//! Every algorithm here is a pure function of its membership and the key, so
//! two processes with the same members place every key identically, on any
//! platform, in any version, and from C or Python through the bindings.
//!
//! - [`hash`]: the one stable 64-bit hash, XXH3-64, and the exact byte layout
//!   each algorithm feeds it. Golden vectors in the tests pin it.
//! - [`jump_hash`] (Lamping and Veach, "A Fast, Minimal Memory, Consistent
//!   Hash Algorithm", 2014): a key to one of `0..buckets`, no memory, and
//!   only `1/(n+1)` of keys move when a bucket is appended. Buckets are
//!   numbered, so only the last one can be removed.
//! - [`HashRing`] (Karger et al. 1997; Dynamo's and Cassandra's virtual
//!   nodes): a node of weight `w` owns `w × vnodes_per_weight` tokens on a
//!   64-bit ring; a key belongs to the first token at or after its hash,
//!   wrapping around. Adding a node moves keys only *to* it, removing one
//!   moves only *its* keys. Preference lists walk clockwise over distinct
//!   nodes, optionally preferring distinct zones.
//! - [`Rendezvous`] (Thaler and Ravishankar, highest random weight, 1998),
//!   weighted with Schindelhauer and Schomaker's logarithmic method: node `i`
//!   scores `-wᵢ / ln(u)` for a key, `u` its hash mapped into `(0, 1)`, and the
//!   highest score owns the key. A node wins a share of keys proportional to
//!   its weight, and a departing node's keys alone move.
//! - [`Maglev`] (Eisenbud et al., "Maglev: A Fast and Reliable Software
//!   Network Load Balancer", NSDI 2016, §3.4): a prime-sized lookup table
//!   filled from per-node permutations; entries per node are within one of
//!   each other (or proportional to weight), and a change of members moves
//!   few entries besides the changed node's own.
//! - [`BoundedLoadRing`] (Mirrokni, Thorup and Zadimoghaddam, "Consistent
//!   Hashing with Bounded Loads", SODA 2018): a ring where a node holding
//!   `⌈(1+ε)·m/n⌉` of the `m` assigned keys takes no more, so the key walks on
//!   to the next node with room.
//!
//! Lookups never allocate: they return a node or fill a caller's slice.
//! Building and changing a structure allocates (these need the `alloc`
//! feature; the hash and jump hash do not), and every structure has a bound
//! ([`MAX_VNODES`], [`MAX_NODES`], [`MAX_MAGLEV_TABLE_SIZE`]) past which a
//! change fails with a [`Error`] and leaves it as it was.

#[cfg(feature = "alloc")]
mod bounded;
#[cfg(feature = "alloc")]
mod consistent;
pub mod hash;
mod jump;
#[cfg(feature = "alloc")]
mod maglev;
#[cfg(feature = "alloc")]
mod rendezvous;

use core::fmt;

#[cfg(feature = "alloc")]
pub use bounded::BoundedLoadRing;
#[cfg(feature = "alloc")]
pub use consistent::{HashRing, RingNode, ZoneId};
pub use jump::jump_hash;
#[cfg(feature = "alloc")]
pub use maglev::{DEFAULT_MAGLEV_TABLE_SIZE, MAX_MAGLEV_TABLE_SIZE, Maglev};
#[cfg(feature = "alloc")]
pub use rendezvous::Rendezvous;

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;

/// The most tokens (virtual nodes, summed over all members) a [`HashRing`]
/// or [`BoundedLoadRing`] holds: 2²⁰, 16 MiB of tokens. That is 4096 nodes at
/// Cassandra's former default of 256 vnodes each.
pub const MAX_VNODES: usize = 1 << 20;

/// The most members a [`Rendezvous`] set holds. A lookup scores every
/// member, so this also bounds the cost of one lookup.
pub const MAX_NODES: usize = 1 << 16;

/// Why a placement could not be built, changed or looked up. On error,
/// nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A lookup or assignment with no members to place the key on.
    Empty,
    /// [`jump_hash`] asked for zero buckets.
    ZeroBuckets,
    /// The node is already a member.
    DuplicateNode {
        /// The repeated node.
        node: NodeId,
    },
    /// The node is not a member.
    UnknownNode {
        /// The node.
        node: NodeId,
    },
    /// A weight of zero: every member owns some share.
    ZeroWeight {
        /// The node given weight zero.
        node: NodeId,
    },
    /// A ring with zero virtual nodes per unit of weight.
    ZeroVnodes,
    /// The change would take the ring past its token bound.
    TooManyVnodes {
        /// The bound, [`MAX_VNODES`].
        max: usize,
    },
    /// The change would take the set past its member bound.
    TooManyNodes {
        /// The bound, [`MAX_NODES`].
        max: usize,
    },
    /// The output slice is shorter than the number of nodes asked for.
    OutputTooSmall {
        /// Slots needed.
        needed: usize,
        /// Slots given.
        found: usize,
    },
    /// A Maglev table size that is not prime.
    TableSizeNotPrime {
        /// The size given.
        size: u32,
    },
    /// A Maglev table size too small for the members (under 100 entries per
    /// node, the paper's bound for 1% imbalance) or above
    /// [`MAX_MAGLEV_TABLE_SIZE`].
    TableSizeOutOfRange {
        /// The size given.
        size: u32,
        /// The smallest size allowed for these members.
        min: u64,
        /// The largest size allowed.
        max: u32,
    },
    /// A load-balance factor ε with denominator zero.
    ZeroDenominator,
    /// A release for a node that holds no keys.
    NoLoad {
        /// The node.
        node: NodeId,
    },
    /// The total load would exceed `u64::MAX`.
    LoadOverflow,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("no nodes to place the key on"),
            Error::ZeroBuckets => f.write_str("zero buckets"),
            Error::DuplicateNode { node } => write!(f, "node {node} is already a member"),
            Error::UnknownNode { node } => write!(f, "node {node} is not a member"),
            Error::ZeroWeight { node } => write!(f, "node {node} has weight zero"),
            Error::ZeroVnodes => f.write_str("zero virtual nodes per unit of weight"),
            Error::TooManyVnodes { max } => write!(f, "more than {max} virtual nodes"),
            Error::TooManyNodes { max } => write!(f, "more than {max} nodes"),
            Error::OutputTooSmall { needed, found } => {
                write!(f, "output has {found} slots, {needed} needed")
            }
            Error::TableSizeNotPrime { size } => {
                write!(f, "Maglev table size {size} is not prime")
            }
            Error::TableSizeOutOfRange { size, min, max } => {
                write!(f, "Maglev table size {size} is outside {min}..={max}")
            }
            Error::ZeroDenominator => f.write_str("load factor with denominator zero"),
            Error::NoLoad { node } => write!(f, "node {node} holds no keys"),
            Error::LoadOverflow => f.write_str("total load overflow"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::TooManyVnodes { .. } | Error::TooManyNodes { .. } | Error::LoadOverflow => {
                ErrorKind::LimitExceeded
            }
            Error::OutputTooSmall { .. } => ErrorKind::BufferTooSmall,
            _ => ErrorKind::InvalidArgument,
        }
    }
}
