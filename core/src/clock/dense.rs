//! A fixed-capacity vector clock: one counter per actor number `0..N`.

use core::cmp::Ordering;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CausalClock, CausalOrdering, Error};
use crate::wire::{WireMessage, kind};

/// Counters compared between two checks for an early exit in
/// [`DenseVectorClock::compare`].
const COMPARE_CHUNK: usize = 16;

/// A vector clock over actors numbered `0..N`, stored inline.
///
/// Merge and compare are branch-free loops over two arrays; nothing
/// allocates. On the wire it is exactly `N` varints (no length prefix, since
/// both sides know `N`).
///
/// ```
/// use consensio::clock::{CausalClock, CausalOrdering, DenseVectorClock};
///
/// let mut a = DenseVectorClock::<4>::new();
/// let mut b = DenseVectorClock::<4>::new();
/// a.increment(0)?;
/// b.increment(1)?;
/// assert_eq!(a.compare(&b), CausalOrdering::Concurrent);
/// b.merge(&a);
/// assert!(a.happened_before(&b));
/// assert!(a < b);
/// # Ok::<(), consensio::clock::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DenseVectorClock<const N: usize> {
    counters: [u64; N],
}

impl<const N: usize> DenseVectorClock<N> {
    /// The clock that has seen no events.
    #[must_use]
    pub const fn new() -> Self {
        DenseVectorClock { counters: [0; N] }
    }

    /// A clock with the given counters.
    #[must_use]
    pub const fn from_counters(counters: [u64; N]) -> Self {
        DenseVectorClock { counters }
    }

    /// The counters, indexed by actor number.
    #[must_use]
    pub const fn counters(&self) -> &[u64; N] {
        &self.counters
    }

    /// The counter of `actor` (0 for actors beyond the capacity).
    #[must_use]
    pub fn get(&self, actor: usize) -> u64 {
        self.counters.get(actor).copied().unwrap_or(0)
    }

    /// Records an event of `actor`; returns its new counter.
    ///
    /// # Errors
    /// [`Error::ActorOutOfRange`] if `actor >= N`,
    /// [`Error::Overflow`] at `u64::MAX`; the clock is unchanged.
    pub fn increment(&mut self, actor: usize) -> Result<u64, Error> {
        let counter = self.counters.get_mut(actor).ok_or(Error::ActorOutOfRange {
            actor: actor as u64,
            capacity: N,
        })?;
        *counter = counter.checked_add(1).ok_or(Error::Overflow)?;
        Ok(*counter)
    }

    /// Pointwise maximum with `other` (the least upper bound).
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counters.iter_mut().zip(&other.counters) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// Happened-before comparison.
    ///
    /// Branch-free within runs of [`COMPARE_CHUNK`] counters; stops after a
    /// run once the clocks are known to be concurrent.
    #[must_use]
    pub fn compare(&self, other: &Self) -> CausalOrdering {
        let (mut smaller, mut larger) = (false, false);
        let runs = self
            .counters
            .chunks(COMPARE_CHUNK)
            .zip(other.counters.chunks(COMPARE_CHUNK));
        for (mine, theirs) in runs {
            for (a, b) in mine.iter().zip(theirs) {
                smaller |= a < b;
                larger |= a > b;
            }
            if smaller && larger {
                break;
            }
        }
        CausalOrdering::from_flags(smaller, larger)
    }
}

impl<const N: usize> CausalClock for DenseVectorClock<N> {
    fn compare(&self, other: &Self) -> CausalOrdering {
        DenseVectorClock::compare(self, other)
    }

    fn event_count(&self) -> u128 {
        self.counters.iter().map(|&c| u128::from(c)).sum()
    }

    fn canonical_cmp(&self, other: &Self) -> Ordering {
        self.counters.cmp(&other.counters)
    }
}

impl<const N: usize> Default for DenseVectorClock<N> {
    fn default() -> Self {
        DenseVectorClock::new()
    }
}

impl<const N: usize> PartialOrd for DenseVectorClock<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        DenseVectorClock::compare(self, other).partial()
    }
}

impl<const N: usize> fmt::Debug for DenseVectorClock<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.counters.iter()).finish()
    }
}

impl<const N: usize> WireMessage for DenseVectorClock<N> {
    const KIND: u8 = kind::DENSE_VECTOR_CLOCK;
}

impl<const N: usize> Serialize for DenseVectorClock<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(N)?;
        for counter in &self.counters {
            tuple.serialize_element(counter)?;
        }
        tuple.end()
    }
}

impl<'de, const N: usize> Deserialize<'de> for DenseVectorClock<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counters<const N: usize>(PhantomData<[u64; N]>);

        impl<'de, const N: usize> Visitor<'de> for Counters<N> {
            type Value = DenseVectorClock<N>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} counters")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut counters = [0u64; N];
                for (i, slot) in counters.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(DenseVectorClock { counters })
            }
        }

        deserializer.deserialize_tuple(N, Counters::<N>(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    #[test]
    fn increment_checks_range_and_overflow() {
        let mut c = DenseVectorClock::<2>::new();
        assert_eq!(c.increment(1), Ok(1));
        assert_eq!(
            c.increment(2),
            Err(Error::ActorOutOfRange {
                actor: 2,
                capacity: 2
            })
        );
        let mut full = DenseVectorClock::from_counters([u64::MAX, 0]);
        assert_eq!(full.increment(0), Err(Error::Overflow));
        assert_eq!(full.get(0), u64::MAX);
    }

    #[test]
    fn compare_reports_all_four_relations() {
        let a = DenseVectorClock::from_counters([1, 2, 3]);
        assert_eq!(a.compare(&a), CausalOrdering::Equal);
        let b = DenseVectorClock::from_counters([1, 3, 3]);
        assert_eq!(a.compare(&b), CausalOrdering::Before);
        assert_eq!(b.compare(&a), CausalOrdering::After);
        let c = DenseVectorClock::from_counters([2, 1, 3]);
        assert_eq!(a.compare(&c), CausalOrdering::Concurrent);
        assert!(a.concurrent_with(&c) && a.partial_cmp(&c).is_none() && a != c);
        assert!(b.dominates(&a) && a.dominates(&a) && !a.dominates(&b));
    }

    #[test]
    fn compare_across_runs_of_counters_matches_a_full_scan() {
        // 40 actors: three runs of COMPARE_CHUNK counters, the last partial.
        // One counter raised and one lowered, anywhere, in every pair of
        // positions (including run boundaries and the same position).
        const N: usize = 40;
        let base = DenseVectorClock::<N>::from_counters(core::array::from_fn(|i| i as u64 + 5));
        for up in 0..=N {
            for down in 0..=N {
                let mut counters = *base.counters();
                if let Some(c) = counters.get_mut(up) {
                    *c += 1;
                }
                if let Some(c) = counters.get_mut(down) {
                    *c -= 1;
                }
                let other = DenseVectorClock::from_counters(counters);
                let smaller = base.counters().iter().zip(&counters).any(|(a, b)| a < b);
                let larger = base.counters().iter().zip(&counters).any(|(a, b)| a > b);
                let expected = CausalOrdering::from_flags(smaller, larger);
                assert_eq!(base.compare(&other), expected, "up {up}, down {down}");
                assert_eq!(
                    other.compare(&base),
                    expected.reverse(),
                    "up {up}, down {down}"
                );
            }
        }
    }

    #[test]
    fn wire_form_is_n_varints_and_round_trips() {
        let c = DenseVectorClock::from_counters([1, 300, 0]);
        let frame = wire::encode_to_vec(&c).unwrap();
        assert_eq!(
            frame,
            [
                wire::WIRE_VERSION,
                kind::DENSE_VECTOR_CLOCK,
                1,
                0xac,
                0x02,
                0
            ]
        );
        assert_eq!(wire::decode::<DenseVectorClock<3>>(&frame), Ok(c));
        assert_eq!(
            wire::decode::<DenseVectorClock<4>>(&frame),
            Err(wire::WireError::Truncated)
        );
        assert!(matches!(
            wire::decode::<DenseVectorClock<2>>(&frame),
            Err(wire::WireError::TrailingBytes { extra: 1 })
        ));
    }
}
