//! Logical, vector and hybrid clocks, clock-synchronisation arithmetic, and
//! event ordering.
//!
//! The family has no participant, so two rows of a protocol family do not
//! apply: there is no simulator adapter and no step fuzz target. Its laws
//! are property tests (`core/tests/clock_props.rs`) and the fuzz target
//! `clock_laws` checks it against a naive model.
//!
//! - [`LamportClock`] (Lamport 1978): a counter that orders events
//!   consistently with causality; ties broken by node id give a total order
//!   ([`LamportStamp`]).
//! - Vector clocks (Fidge 1988, Mattern 1989) characterise causality exactly:
//!   `a` happened before `b` iff `a < b` pointwise. Two representations share
//!   one semantics: [`DenseVectorClock`] (a fixed array indexed by actor
//!   number, no allocation) and [`VectorClock`] (sorted `(actor, counter)`
//!   pairs, needs `alloc`; zero counters are never stored). Both form a
//!   join-semilattice under [`merge`](DenseVectorClock::merge) (pointwise
//!   max), and their [`PartialOrd`] is the happened-before order:
//!   concurrent clocks are neither `<` nor `>`.
//! - [`HybridLogicalClock`] (Kulkarni, Demirbas et al., "Logical Physical
//!   Clocks", OPODIS 2014): timestamps close to physical time that still
//!   respect causality, with a bound on how far ahead of local time a remote
//!   timestamp may be before it is rejected.
//! - Clock synchronisation: the NTP on-wire offset and delay with the
//!   minimum-delay clock filter ([`ntp`], RFC 5905 §8 and §10), Cristian's
//!   estimate with its error bound ([`cristian`]), and the Berkeley
//!   algorithm's fault-tolerant average ([`berkeley`]).
//! - Event ordering ([`order`]): a total order by Lamport stamp and a causal
//!   (topological) order by vector stamps.
//! - [`AtomicLamportClock`] and [`AtomicHybridClock`]: lock-free versions for
//!   many threads stamping from one clock (targets with 64-bit atomics).
//!
//! Every counter is checked: where a peer could push a counter to its
//! maximum, the operation fails with [`Error::Overflow`] and leaves the
//! clock unchanged instead of wrapping or panicking.

#[cfg(target_has_atomic = "64")]
mod atomic;
pub mod berkeley;
pub mod cristian;
mod dense;
mod hlc;
mod lamport;
pub mod ntp;
pub mod order;
#[cfg(feature = "alloc")]
mod sparse;

use core::fmt;

#[cfg(target_has_atomic = "64")]
pub use atomic::{ATOMIC_HLC_MAX_WALL_MS, AtomicHybridClock, AtomicLamportClock};
pub use dense::DenseVectorClock;
pub use hlc::{HlcTimestamp, HybridLogicalClock};
pub use lamport::{LamportClock, LamportStamp};
#[cfg(feature = "alloc")]
pub use sparse::VectorClock;

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;

/// How two vector clocks relate under happened-before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CausalOrdering {
    /// Every counter of the left clock is ≤ the right's, and one is <:
    /// the left happened before the right.
    Before,
    /// The right happened before the left.
    After,
    /// The clocks are identical.
    Equal,
    /// Neither happened before the other.
    Concurrent,
}

impl CausalOrdering {
    /// The ordering from the other side.
    #[must_use]
    pub const fn reverse(self) -> Self {
        match self {
            CausalOrdering::Before => CausalOrdering::After,
            CausalOrdering::After => CausalOrdering::Before,
            other => other,
        }
    }

    /// The [`PartialOrd`] view: `None` for concurrent clocks.
    #[must_use]
    pub const fn partial(self) -> Option<core::cmp::Ordering> {
        match self {
            CausalOrdering::Before => Some(core::cmp::Ordering::Less),
            CausalOrdering::After => Some(core::cmp::Ordering::Greater),
            CausalOrdering::Equal => Some(core::cmp::Ordering::Equal),
            CausalOrdering::Concurrent => None,
        }
    }

    /// Folds "some counter on the left is smaller" and "some counter on the
    /// left is larger" into an ordering.
    pub(crate) const fn from_flags(left_smaller: bool, left_larger: bool) -> Self {
        match (left_smaller, left_larger) {
            (false, false) => CausalOrdering::Equal,
            (true, false) => CausalOrdering::Before,
            (false, true) => CausalOrdering::After,
            (true, true) => CausalOrdering::Concurrent,
        }
    }
}

/// What [`order::causal_order`] needs of a vector stamp; implemented by both
/// vector clock representations.
pub trait CausalClock {
    /// Happened-before comparison.
    fn compare(&self, other: &Self) -> CausalOrdering;
    /// The sum of all counters: the number of events this stamp has seen.
    /// If `a` happened before `b`, `a.event_count() < b.event_count()`.
    fn event_count(&self) -> u128;
    /// A fixed total order used only to break ties deterministically
    /// (lexicographic on `(actor, counter)`); not a causal order.
    fn canonical_cmp(&self, other: &Self) -> core::cmp::Ordering;

    /// `self` happened before `other`.
    fn happened_before(&self, other: &Self) -> bool {
        self.compare(other) == CausalOrdering::Before
    }
    /// Neither happened before the other.
    fn concurrent_with(&self, other: &Self) -> bool {
        self.compare(other) == CausalOrdering::Concurrent
    }
    /// `self` has seen everything `other` has (equal or after).
    fn dominates(&self, other: &Self) -> bool {
        matches!(
            self.compare(other),
            CausalOrdering::After | CausalOrdering::Equal
        )
    }
}

/// Why a clock operation failed. On error, the clock is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An actor number outside a dense clock's capacity.
    ActorOutOfRange {
        /// The actor.
        actor: u64,
        /// The clock's capacity (actors `0..capacity` are valid).
        capacity: usize,
    },
    /// A counter or timestamp would exceed its maximum.
    Overflow,
    /// The same actor appears twice in a list of clock entries.
    DuplicateActor {
        /// The repeated actor.
        actor: NodeId,
    },
    /// A hybrid timestamp's physical part is further ahead of local physical
    /// time than the configured maximum offset.
    RemoteTooFarAhead {
        /// The remote physical time (ms).
        remote_ms: u64,
        /// The local physical time (ms).
        local_ms: u64,
        /// The configured bound (ms).
        max_offset_ms: u64,
    },
    /// Clock-synchronisation timestamps out of order (a reply received before
    /// its request was sent, say) or a negative bound.
    InvalidTimestamps,
    /// An average over no readings.
    NoReadings,
    /// An output slice whose length does not match the input.
    LengthMismatch {
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ActorOutOfRange { actor, capacity } => {
                write!(f, "actor {actor} is outside a clock of {capacity} actors")
            }
            Error::Overflow => f.write_str("clock counter or timestamp overflow"),
            Error::DuplicateActor { actor } => write!(f, "actor {actor} appears twice"),
            Error::RemoteTooFarAhead {
                remote_ms,
                local_ms,
                max_offset_ms,
            } => write!(
                f,
                "remote time {remote_ms}ms is more than {max_offset_ms}ms ahead of local time {local_ms}ms"
            ),
            Error::InvalidTimestamps => f.write_str("timestamps are out of order"),
            Error::NoReadings => f.write_str("no clock readings"),
            Error::LengthMismatch { expected, found } => {
                write!(f, "output has {found} slots, {expected} needed")
            }
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::ActorOutOfRange { .. } => ErrorKind::OutOfRange,
            Error::Overflow => ErrorKind::LimitExceeded,
            Error::RemoteTooFarAhead { .. } => ErrorKind::Rejected,
            Error::LengthMismatch { .. } => ErrorKind::BadLength,
            _ => ErrorKind::InvalidArgument,
        }
    }
}
