//! Conflict-free replicated data types: state-based CRDTs whose replicas
//! accept updates independently and converge by merging states.
//!
//! Following Shapiro, Preguiça, Baquero & Zawirski, "Conflict-free
//! Replicated Data Types" (SSS 2011) and their technical report "A
//! comprehensive study of Convergent and Commutative Replicated Data Types"
//! (INRIA RR-7506, 2011), each type here is a **join-semilattice**: its
//! [`Lattice::merge`] is commutative, associative and idempotent, and every
//! update inflates the state, so replicas that have received the same
//! updates, in any order, any number of times, through any merges, hold
//! equal states. That is the whole guarantee (strong eventual consistency);
//! none of these types orders concurrent updates the way a consensus
//! protocol would.
//!
//! - [`GCounter`], [`PnCounter`]: counters that only grow, and that grow and
//!   shrink (two grow-only counters), one entry per actor.
//! - [`LwwRegister`]: a last-writer-wins register ordered by hybrid logical
//!   clock timestamp ([`HlcTimestamp`](crate::clock::HlcTimestamp)), then
//!   by the writer's id, then by the value itself, so that even a writer
//!   that reuses a timestamp cannot make two replicas disagree.
//! - [`MvRegister`]: a multi-value register: concurrent writes are all
//!   kept, as siblings, until a write that has seen them replaces them.
//! - [`OrSet`]: an observed-remove set with add-wins semantics, without
//!   tombstones (the "ORSWOT" of Riak, after Bieniusa et al., "An optimized
//!   conflict-free replicated set", 2012): every add is a *dot* (actor,
//!   counter) and one causal context (a [`VectorClock`]) summarises every
//!   dot seen, so a remove forgets an element's dots and the context alone
//!   says they were removed, not unseen.
//! - [`DvvSet`]: dotted version vector sets (Almeida, Baquero, Gonçalves,
//!   Preguiça & Fonte, DAIS 2014; Riak's `dvvset`), the siblings of one
//!   key of a replicated store with one compact causal history: a write
//!   carries the context its client read and replaces exactly the
//!   siblings that context saw.
//!
//! # What the textbook version gets wrong
//!
//! A counter kept as one integer per replica and merged by addition counts
//! a state received twice twice; here the merge is a pointwise maximum.
//! "Last write wins" by the writer's wall clock loses writes to a clock
//! that runs behind and keeps a write from a clock that runs ahead forever;
//! here the order is a hybrid logical clock's, which never goes back
//! whatever the wall clocks do, and ties break the same way on every
//! replica. The two-phase set that never lets a removed element back, and
//! the OR-set that keeps a tombstone per removed add forever, are replaced
//! by dots and a causal context, whose size is bounded by the actors, not
//! by the history.
//!
//! # Costs
//!
//! Counters, and the causal context of the others, are sorted `(actor,
//! counter)` vectors ([`VectorClock`]): merging allocates nothing unless
//! the other state brings actors this one has not seen. An [`OrSet`] or
//! [`MvRegister`] merge allocates for the elements or siblings it gains.
//! No state grows without an update: merging two states never holds more
//! than their union.
//!
//! # On the wire
//!
//! Every type travels as a postcard frame of its own kind (with byte-string
//! values and elements). Decoding checks each type's invariants (sorted and
//! unique actors and elements, dots the context has seen, siblings none of
//! which dominates another) and refuses a state that breaks one with
//! [`WireError::Malformed`](crate::wire::WireError::Malformed), so a merge
//! never meets a state no replica could have built.

#[cfg(feature = "alloc")]
mod counter;
#[cfg(feature = "alloc")]
mod dvv;
#[cfg(feature = "alloc")]
mod orset;
#[cfg(feature = "alloc")]
mod register;

use core::fmt;

#[cfg(feature = "alloc")]
pub use counter::{GCounter, PnCounter};
#[cfg(feature = "alloc")]
pub use dvv::{DvvSet, Entry};
#[cfg(feature = "alloc")]
pub use orset::{Dot, OrSet};
#[cfg(feature = "alloc")]
pub use register::{LwwRegister, MvRegister, Write};

#[cfg(feature = "alloc")]
pub use crate::clock::VectorClock;
use crate::error::{Classify, ErrorKind};

/// A join-semilattice: a state that replicas converge on by merging.
pub trait Lattice {
    /// The least upper bound of `self` and `other`, in place: commutative,
    /// associative and idempotent.
    fn merge(&mut self, other: &Self);
}

/// Why an update was refused. The state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A counter would pass `u64::MAX` (or a dot counter would).
    Overflow,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Overflow => f.write_str("a counter would exceed 2^64 - 1"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::OutOfRange
    }
}

impl From<crate::clock::Error> for Error {
    fn from(_: crate::clock::Error) -> Self {
        // A vector clock's only failure on the paths used here.
        Error::Overflow
    }
}
