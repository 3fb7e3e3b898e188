//! Grow-only and positive-negative counters (Shapiro et al., RR-7506,
//! §3.1.1 and §3.1.2).

use serde::{Deserialize, Serialize};

use super::{Error, Lattice};
use crate::clock::VectorClock;
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// A counter that only grows: one count per actor, merged by pointwise
/// maximum; its value is the sum.
///
/// ```
/// use consensio::NodeId;
/// use consensio::crdt::{GCounter, Lattice};
///
/// let (mut a, mut b) = (GCounter::new(), GCounter::new());
/// a.increment(NodeId(1), 2)?;
/// b.increment(NodeId(2), 3)?;
/// let stale = a.clone();
/// a.merge(&b);
/// a.merge(&stale); // a state received twice counts once
/// assert_eq!(a.value(), 5);
/// # Ok::<(), consensio::crdt::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GCounter {
    counts: VectorClock,
}

impl GCounter {
    /// The counter at zero.
    #[must_use]
    pub const fn new() -> Self {
        GCounter {
            counts: VectorClock::new(),
        }
    }

    /// Adds `by` to `actor`'s count (`actor` is the replica updating).
    ///
    /// # Errors
    /// [`Error::Overflow`] if `actor`'s count would pass `u64::MAX`; the
    /// counter is unchanged.
    pub fn increment(&mut self, actor: NodeId, by: u64) -> Result<(), Error> {
        self.counts.advance(actor, by)?;
        Ok(())
    }

    /// The sum of every actor's count.
    #[must_use]
    pub fn value(&self) -> u128 {
        self.counts
            .entries()
            .iter()
            .map(|&(_, n)| u128::from(n))
            .sum()
    }

    /// The per-actor counts, sorted by actor, none zero.
    #[must_use]
    pub fn counts(&self) -> &[(NodeId, u64)] {
        self.counts.entries()
    }

    /// Whether every update `other` holds is in `self` too (the lattice's
    /// order).
    #[must_use]
    pub fn includes(&self, other: &Self) -> bool {
        other
            .counts
            .entries()
            .iter()
            .all(|&(actor, n)| self.counts.get(actor) >= n)
    }
}

impl Lattice for GCounter {
    fn merge(&mut self, other: &Self) {
        self.counts.merge(&other.counts);
    }
}

impl WireMessage for GCounter {
    const KIND: u8 = kind::CRDT_G_COUNTER;
}

/// A counter that grows and shrinks: increments and decrements are two
/// [`GCounter`]s; its value is their difference.
///
/// ```
/// use consensio::NodeId;
/// use consensio::crdt::{Lattice, PnCounter};
///
/// let (mut a, mut b) = (PnCounter::new(), PnCounter::new());
/// a.increment(NodeId(1), 10)?;
/// b.decrement(NodeId(2), 4)?;
/// a.merge(&b);
/// b.merge(&a);
/// assert_eq!((a.value(), b.value()), (6, 6));
/// # Ok::<(), consensio::crdt::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PnCounter {
    increments: GCounter,
    decrements: GCounter,
}

impl PnCounter {
    /// The counter at zero.
    #[must_use]
    pub const fn new() -> Self {
        PnCounter {
            increments: GCounter::new(),
            decrements: GCounter::new(),
        }
    }

    /// Adds `by` on behalf of `actor`.
    ///
    /// # Errors
    /// [`Error::Overflow`] if `actor`'s increments would pass `u64::MAX`.
    pub fn increment(&mut self, actor: NodeId, by: u64) -> Result<(), Error> {
        self.increments.increment(actor, by)
    }

    /// Subtracts `by` on behalf of `actor`.
    ///
    /// # Errors
    /// [`Error::Overflow`] if `actor`'s decrements would pass `u64::MAX`.
    pub fn decrement(&mut self, actor: NodeId, by: u64) -> Result<(), Error> {
        self.decrements.increment(actor, by)
    }

    /// Increments less decrements.
    #[must_use]
    pub fn value(&self) -> i128 {
        // Each side is at most 2^64 actors × 2^64 - 1 in theory; no run
        // has 2^63 actors, so the difference fits.
        let up = i128::try_from(self.increments.value()).unwrap_or(i128::MAX);
        let down = i128::try_from(self.decrements.value()).unwrap_or(i128::MAX);
        up.saturating_sub(down)
    }

    /// The increments.
    #[must_use]
    pub const fn increments(&self) -> &GCounter {
        &self.increments
    }

    /// The decrements.
    #[must_use]
    pub const fn decrements(&self) -> &GCounter {
        &self.decrements
    }
}

impl Lattice for PnCounter {
    fn merge(&mut self, other: &Self) {
        self.increments.merge(&other.increments);
        self.decrements.merge(&other.decrements);
    }
}

impl WireMessage for PnCounter {
    const KIND: u8 = kind::CRDT_PN_COUNTER;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_received_twice_counts_once() {
        let mut a = GCounter::new();
        a.increment(NodeId(1), 3).unwrap();
        let copy = a.clone();
        a.merge(&copy);
        a.merge(&copy);
        assert_eq!(a.value(), 3);
    }

    #[test]
    fn an_overflowing_increment_changes_nothing() {
        let mut a = GCounter::new();
        a.increment(NodeId(1), u64::MAX).unwrap();
        assert_eq!(a.increment(NodeId(1), 1), Err(Error::Overflow));
        assert_eq!(a.value(), u128::from(u64::MAX));
        a.increment(NodeId(2), u64::MAX).unwrap();
        assert_eq!(a.value(), 2 * u128::from(u64::MAX), "the sum is wider");
    }

    #[test]
    fn zero_increments_add_no_actor() {
        let mut a = GCounter::new();
        a.increment(NodeId(4), 0).unwrap();
        assert!(a.counts().is_empty());
        assert_eq!(a, GCounter::new());
    }
}
