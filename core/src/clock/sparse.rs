//! A sparse vector clock: sorted `(actor, counter)` pairs.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{CausalClock, CausalOrdering, DenseVectorClock, Error};
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// A vector clock over any set of actors, as `(actor, counter)` pairs sorted
/// by actor with no zero counters, so equal clocks have equal
/// representations.
///
/// Merge works in place: it allocates only when the union of actors outgrows
/// the vector's capacity, so merging into a clock that has already seen every
/// actor allocates nothing. On the wire it is a length-prefixed list of pairs;
/// decoding rejects unsorted, repeated or zero entries with
/// [`WireError::Malformed`](crate::wire::WireError::Malformed).
///
/// ```
/// use consensio::NodeId;
/// use consensio::clock::{CausalClock, VectorClock};
///
/// let mut alice = VectorClock::new();
/// alice.increment(NodeId(1))?;
/// let mut bob = alice.clone();
/// bob.increment(NodeId(2))?;
/// alice.increment(NodeId(1))?;
/// assert!(alice.concurrent_with(&bob));
/// alice.merge(&bob);
/// assert!(bob < alice);
/// assert_eq!(alice.entries(), &[(NodeId(1), 2), (NodeId(2), 1)]);
/// # Ok::<(), consensio::clock::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<(NodeId, u64)>", into = "Vec<(NodeId, u64)>")]
pub struct VectorClock {
    entries: Vec<(NodeId, u64)>,
}

impl VectorClock {
    /// The clock that has seen no events.
    #[must_use]
    pub const fn new() -> Self {
        VectorClock {
            entries: Vec::new(),
        }
    }

    /// An empty clock with room for `actors` entries before it allocates.
    #[must_use]
    pub fn with_capacity(actors: usize) -> Self {
        VectorClock {
            entries: Vec::with_capacity(actors),
        }
    }

    /// A clock from `(actor, counter)` pairs in any order; zero counters are
    /// dropped.
    ///
    /// # Errors
    /// [`Error::DuplicateActor`] if an actor appears twice.
    pub fn from_entries(entries: impl IntoIterator<Item = (NodeId, u64)>) -> Result<Self, Error> {
        let mut entries: Vec<(NodeId, u64)> = entries.into_iter().filter(|e| e.1 != 0).collect();
        entries.sort_unstable_by_key(|e| e.0);
        if let Some(w) = entries
            .windows(2)
            .find(|w| w.first().map(|e| e.0) == w.get(1).map(|e| e.0))
        {
            let actor = w.first().map_or(NodeId(0), |e| e.0);
            return Err(Error::DuplicateActor { actor });
        }
        Ok(VectorClock { entries })
    }

    /// The non-zero entries, sorted by actor.
    #[must_use]
    pub fn entries(&self) -> &[(NodeId, u64)] {
        &self.entries
    }

    /// Number of actors with a non-zero counter.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the clock has seen no events.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The counter of `actor` (0 if it has none).
    #[must_use]
    pub fn get(&self, actor: NodeId) -> u64 {
        match self.entries.binary_search_by_key(&actor, |e| e.0) {
            Ok(at) => self.entries.get(at).map_or(0, |e| e.1),
            Err(_) => 0,
        }
    }

    /// Records an event of `actor`; returns its new counter.
    ///
    /// # Errors
    /// [`Error::Overflow`] at `u64::MAX`; the clock is unchanged.
    pub fn increment(&mut self, actor: NodeId) -> Result<u64, Error> {
        self.advance(actor, 1)
    }

    /// Records `by` events of `actor` at once (a grow-only counter's
    /// increment by `by`); returns its new counter. `by` 0 changes nothing.
    ///
    /// # Errors
    /// [`Error::Overflow`] past `u64::MAX`; the clock is unchanged.
    pub fn advance(&mut self, actor: NodeId, by: u64) -> Result<u64, Error> {
        match self.entries.binary_search_by_key(&actor, |e| e.0) {
            Ok(at) => {
                let Some(entry) = self.entries.get_mut(at) else {
                    return Err(Error::Overflow);
                };
                entry.1 = entry.1.checked_add(by).ok_or(Error::Overflow)?;
                Ok(entry.1)
            }
            Err(_) if by == 0 => Ok(0),
            Err(at) => {
                self.entries.insert(at, (actor, by));
                Ok(by)
            }
        }
    }

    /// Pointwise maximum with `other`, in place.
    pub fn merge(&mut self, other: &Self) {
        // One pass while every actor of `other` is already here (the steady
        // state of a cluster), raising counters in place; at the first
        // actor missing here, the merge that grows takes over (the counters
        // raised so far are already their maximum).
        let mut theirs = other.entries.iter().peekable();
        let mut missing = false;
        for mine in &mut self.entries {
            match theirs.peek() {
                Some(&&(actor, counter)) if actor == mine.0 => {
                    mine.1 = mine.1.max(counter);
                    theirs.next();
                }
                Some(&&(actor, _)) if actor < mine.0 => {
                    missing = true;
                    break;
                }
                _ => {}
            }
        }
        if missing || theirs.peek().is_some() {
            let union = union_len(&self.entries, &other.entries);
            merge_grow(&mut self.entries, &other.entries, union);
        }
    }

    /// Happened-before comparison.
    #[must_use]
    pub fn compare(&self, other: &Self) -> CausalOrdering {
        let (mut smaller, mut larger) = (false, false);
        let (mut a, mut b) = (
            self.entries.iter().peekable(),
            other.entries.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                // Counters are never zero, so an actor on one side only means
                // that side is larger there.
                (Some(_), None) => {
                    larger = true;
                    break;
                }
                (None, Some(_)) => {
                    smaller = true;
                    break;
                }
                (Some(&&(x, cx)), Some(&&(y, cy))) => match x.cmp(&y) {
                    Ordering::Less => {
                        larger = true;
                        a.next();
                    }
                    Ordering::Greater => {
                        smaller = true;
                        b.next();
                    }
                    Ordering::Equal => {
                        smaller |= cx < cy;
                        larger |= cx > cy;
                        a.next();
                        b.next();
                    }
                },
            }
            if smaller && larger {
                break;
            }
        }
        CausalOrdering::from_flags(smaller, larger)
    }

    /// The dense form, with actor `NodeId(i)` at position `i`.
    ///
    /// # Errors
    /// [`Error::ActorOutOfRange`] if an actor id is `N` or more.
    pub fn to_dense<const N: usize>(&self) -> Result<DenseVectorClock<N>, Error> {
        let mut counters = [0u64; N];
        for &(actor, counter) in &self.entries {
            let slot = usize::try_from(actor.0)
                .ok()
                .and_then(|i| counters.get_mut(i))
                .ok_or(Error::ActorOutOfRange {
                    actor: actor.0,
                    capacity: N,
                })?;
            *slot = counter;
        }
        Ok(DenseVectorClock::from_counters(counters))
    }
}

/// Number of distinct actors in the union of two sorted entry lists.
fn union_len(a: &[(NodeId, u64)], b: &[(NodeId, u64)]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.0.cmp(&y.0) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
        n += 1;
    }
    n + a.len().saturating_sub(i) + b.len().saturating_sub(j)
}

/// Merges `theirs` into `mine` when the union has `union` actors, more than
/// `mine` has: grow once, then fill from the back so nothing moves twice.
fn merge_grow(mine: &mut Vec<(NodeId, u64)>, theirs: &[(NodeId, u64)], union: usize) {
    let old = mine.len();
    mine.resize(union, (NodeId(0), 0));
    // Invariant: the write position `k` never falls below the read position
    // `i` (there are at least as many slots left as entries left to place),
    // so unread entries of `mine` are never overwritten.
    let (mut i, mut j, mut k) = (old, theirs.len(), union);
    while let Some(&b) = j.checked_sub(1).and_then(|j| theirs.get(j)) {
        let a = i.checked_sub(1).and_then(|i| mine.get(i)).copied();
        let placed = match a {
            Some(a) if a.0 == b.0 => {
                i -= 1;
                j -= 1;
                (a.0, a.1.max(b.1))
            }
            Some(a) if a.0 > b.0 => {
                i -= 1;
                a
            }
            _ => {
                j -= 1;
                b
            }
        };
        k -= 1;
        if let Some(slot) = mine.get_mut(k) {
            *slot = placed;
        }
    }
    debug_assert_eq!(i, k, "the untouched prefix of `mine` is already in place");
}

impl CausalClock for VectorClock {
    fn compare(&self, other: &Self) -> CausalOrdering {
        VectorClock::compare(self, other)
    }

    fn event_count(&self) -> u128 {
        self.entries.iter().map(|e| u128::from(e.1)).sum()
    }

    fn canonical_cmp(&self, other: &Self) -> Ordering {
        self.entries.cmp(&other.entries)
    }
}

impl PartialOrd for VectorClock {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        VectorClock::compare(self, other).partial()
    }
}

impl fmt::Debug for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(a, c)| (a, c)))
            .finish()
    }
}

impl<const N: usize> From<&DenseVectorClock<N>> for VectorClock {
    fn from(dense: &DenseVectorClock<N>) -> Self {
        VectorClock {
            entries: (0u64..)
                .map(NodeId)
                .zip(dense.counters().iter().copied())
                .filter(|e| e.1 != 0)
                .collect(),
        }
    }
}

impl TryFrom<Vec<(NodeId, u64)>> for VectorClock {
    type Error = &'static str;

    /// Accepts only the canonical form: strictly increasing actors, no zeros.
    fn try_from(entries: Vec<(NodeId, u64)>) -> Result<Self, Self::Error> {
        let sorted = entries.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0));
        if !sorted {
            return Err("vector clock actors must be strictly increasing");
        }
        if entries.iter().any(|e| e.1 == 0) {
            return Err("vector clock counters must be non-zero");
        }
        Ok(VectorClock { entries })
    }
}

impl From<VectorClock> for Vec<(NodeId, u64)> {
    fn from(clock: VectorClock) -> Self {
        clock.entries
    }
}

impl WireMessage for VectorClock {
    const KIND: u8 = kind::VECTOR_CLOCK;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, WireError};
    use alloc::vec;

    fn vc(pairs: &[(u64, u64)]) -> VectorClock {
        VectorClock::from_entries(pairs.iter().map(|&(a, c)| (NodeId(a), c))).unwrap()
    }

    #[test]
    fn from_entries_sorts_drops_zeros_and_rejects_duplicates() {
        assert_eq!(
            vc(&[(5, 1), (2, 0), (1, 3)]).entries(),
            &[(NodeId(1), 3), (NodeId(5), 1)]
        );
        assert_eq!(
            VectorClock::from_entries([(NodeId(4), 1), (NodeId(4), 2)]),
            Err(Error::DuplicateActor { actor: NodeId(4) })
        );
    }

    #[test]
    fn merge_in_place_and_with_growth() {
        let mut a = vc(&[(1, 5), (3, 1), (7, 2)]);
        a.merge(&vc(&[(3, 4)]));
        assert_eq!(a, vc(&[(1, 5), (3, 4), (7, 2)]));
        a.merge(&vc(&[(0, 1), (3, 2), (5, 9), (9, 1)]));
        assert_eq!(a, vc(&[(0, 1), (1, 5), (3, 4), (5, 9), (7, 2), (9, 1)]));
        let mut empty = VectorClock::new();
        empty.merge(&a);
        assert_eq!(empty, a);
    }

    #[test]
    fn merging_a_known_actor_set_does_not_allocate() {
        let mut a = vc(&[(1, 1), (2, 1), (3, 1)]);
        let before = a.entries.as_ptr();
        let capacity = a.entries.capacity();
        a.merge(&vc(&[(2, 7)]));
        assert_eq!(
            (a.entries.as_ptr(), a.entries.capacity()),
            (before, capacity)
        );
    }

    #[test]
    fn compare_covers_disjoint_actor_sets() {
        let a = vc(&[(1, 1)]);
        let b = vc(&[(2, 1)]);
        assert_eq!(a.compare(&b), CausalOrdering::Concurrent);
        assert_eq!(VectorClock::new().compare(&a), CausalOrdering::Before);
        assert_eq!(a.compare(&vc(&[(1, 1), (2, 1)])), CausalOrdering::Before);
        assert_eq!(
            vc(&[(1, 2), (2, 1)]).compare(&vc(&[(1, 1), (2, 1)])),
            CausalOrdering::After
        );
    }

    #[test]
    fn dense_conversion_checks_actor_range() {
        let a = vc(&[(0, 2), (3, 1)]);
        let dense = a.to_dense::<4>().unwrap();
        assert_eq!(dense.counters(), &[2, 0, 0, 1]);
        assert_eq!(VectorClock::from(&dense), a);
        assert_eq!(
            a.to_dense::<3>(),
            Err(Error::ActorOutOfRange {
                actor: 3,
                capacity: 3
            })
        );
    }

    #[test]
    fn decoding_rejects_non_canonical_clocks() {
        let a = vc(&[(1, 2), (4, 1)]);
        let frame = wire::encode_to_vec(&a).unwrap();
        assert_eq!(wire::decode::<VectorClock>(&frame), Ok(a));
        let header = [wire::WIRE_VERSION, kind::VECTOR_CLOCK];
        let unsorted = [header[0], header[1], 2, 4, 1, 1, 2];
        assert_eq!(
            wire::decode::<VectorClock>(&unsorted),
            Err(WireError::Malformed)
        );
        let repeated = [header[0], header[1], 2, 1, 1, 1, 2];
        assert_eq!(
            wire::decode::<VectorClock>(&repeated),
            Err(WireError::Malformed)
        );
        let zero = [header[0], header[1], 1, 1, 0];
        assert_eq!(
            wire::decode::<VectorClock>(&zero),
            Err(WireError::Malformed)
        );
        let claims_many = vec![header[0], header[1], 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(
            wire::decode::<VectorClock>(&claims_many),
            Err(WireError::Truncated)
        );
    }
}
