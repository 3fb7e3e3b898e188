//! The observed-remove set without tombstones (ORSWOT): add-wins, with
//! dots and one causal context (Bieniusa, Zawirski, Preguiça, Shapiro,
//! Baquero, Balegas & Duarte, "An optimized conflict-free replicated set",
//! arXiv:1210.3368, 2012; Riak's `riak_dt_orswot`).

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Error, Lattice};
use crate::clock::VectorClock;
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// One add: the adding replica and its event count then.
pub type Dot = (NodeId, u64);

/// An observed-remove set, add-wins: an element is in the set while some
/// dot of an add of it survives. An add takes the next dot of its replica
/// and replaces the element's other dots there (it has seen them); a
/// remove drops every dot the replica has seen, and the causal context
/// remembers that they were seen, so a merge tells a removed dot from one
/// not yet received. An add concurrent with a remove survives it.
///
/// ```
/// use consensio::NodeId;
/// use consensio::crdt::{Lattice, OrSet};
///
/// let mut a = OrSet::new();
/// a.add(NodeId(1), "x")?;
/// let mut b = a.clone();
/// b.remove(&"x");      // b removes the add it saw...
/// a.add(NodeId(1), "x")?; // ...while a adds "x" again
/// a.merge(&b);
/// assert!(a.contains(&"x"), "add wins over a concurrent remove");
/// b.merge(&a);
/// assert_eq!(a, b);
/// # Ok::<(), consensio::crdt::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Ord"))]
#[serde(try_from = "RawSet<T>", into = "RawSet<T>")]
pub struct OrSet<T: Clone> {
    /// Every dot this replica has seen, added or removed.
    context: VectorClock,
    /// Sorted by element; each element's dots sorted, none empty, all
    /// within the context.
    entries: Vec<(T, Vec<Dot>)>,
}

/// The state as it travels: checked by `TryFrom` on the way in.
#[derive(Serialize, Deserialize)]
struct RawSet<T> {
    context: VectorClock,
    entries: Vec<(T, Vec<Dot>)>,
}

impl<T: Clone> Default for OrSet<T> {
    fn default() -> Self {
        OrSet {
            context: VectorClock::new(),
            entries: Vec::new(),
        }
    }
}

impl<T: Ord + Clone> OrSet<T> {
    /// The empty set.
    #[must_use]
    pub const fn new() -> Self {
        OrSet {
            context: VectorClock::new(),
            entries: Vec::new(),
        }
    }

    /// Adds `element` at replica `actor`.
    ///
    /// # Errors
    /// [`Error::Overflow`] if `actor`'s counter would pass `u64::MAX`; the
    /// set is unchanged.
    pub fn add(&mut self, actor: NodeId, element: T) -> Result<(), Error> {
        let counter = self.context.increment(actor)?;
        let dots = alloc::vec![(actor, counter)];
        match self.entries.binary_search_by(|(e, _)| e.cmp(&element)) {
            Ok(i) => {
                if let Some(entry) = self.entries.get_mut(i) {
                    entry.1 = dots;
                }
            }
            Err(i) => self.entries.insert(i, (element, dots)),
        }
        Ok(())
    }

    /// Removes `element` (every add of it this replica has seen); `false`
    /// if it was not in the set.
    pub fn remove(&mut self, element: &T) -> bool {
        match self.entries.binary_search_by(|(e, _)| e.cmp(element)) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `element` is in the set.
    #[must_use]
    pub fn contains(&self, element: &T) -> bool {
        self.entries
            .binary_search_by(|(e, _)| e.cmp(element))
            .is_ok()
    }

    /// The elements, sorted.
    pub fn elements(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(e, _)| e)
    }

    /// How many elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every add this replica has seen, including those since removed.
    #[must_use]
    pub const fn context(&self) -> &VectorClock {
        &self.context
    }
}

/// The dots of one element that survive a merge: those both sides hold,
/// and those one side holds that the other has not seen (a dot the other
/// has seen and does not hold was removed there).
fn surviving(
    mine: &[Dot],
    theirs: &[Dot],
    my_context: &VectorClock,
    their_context: &VectorClock,
) -> Vec<Dot> {
    let mut kept = Vec::with_capacity(mine.len().max(theirs.len()));
    for &dot in mine {
        if theirs.contains(&dot) || dot.1 > their_context.get(dot.0) {
            kept.push(dot);
        }
    }
    for &dot in theirs {
        if !mine.contains(&dot) && dot.1 > my_context.get(dot.0) {
            kept.push(dot);
        }
    }
    kept.sort_unstable();
    kept
}

impl<T: Ord + Clone> Lattice for OrSet<T> {
    fn merge(&mut self, other: &Self) {
        let mine = core::mem::take(&mut self.entries);
        let mut merged = Vec::with_capacity(mine.len().max(other.entries.len()));
        let mut theirs = other.entries.iter().peekable();
        let none: &[Dot] = &[];
        for (element, dots) in mine {
            while let Some((e, d)) = theirs.next_if(|(e, _)| *e < element) {
                let kept = surviving(none, d, &self.context, &other.context);
                if !kept.is_empty() {
                    merged.push((e.clone(), kept));
                }
            }
            let matched = theirs
                .next_if(|(e, _)| *e == element)
                .map(|(_, d)| d.as_slice());
            let kept = surviving(
                &dots,
                matched.unwrap_or(none),
                &self.context,
                &other.context,
            );
            if !kept.is_empty() {
                merged.push((element, kept));
            }
        }
        for (e, d) in theirs {
            let kept = surviving(none, d, &self.context, &other.context);
            if !kept.is_empty() {
                merged.push((e.clone(), kept));
            }
        }
        self.entries = merged;
        self.context.merge(&other.context);
    }
}

impl<T: Ord + Clone> TryFrom<RawSet<T>> for OrSet<T> {
    type Error = &'static str;

    fn try_from(raw: RawSet<T>) -> Result<Self, Self::Error> {
        let sorted = raw.entries.windows(2).all(|w| match (w.first(), w.get(1)) {
            (Some(a), Some(b)) => a.0 < b.0,
            _ => true,
        });
        let dots_ok = raw.entries.iter().all(|(_, dots)| {
            !dots.is_empty()
                && dots.windows(2).all(|w| w.first() < w.get(1))
                && dots
                    .iter()
                    .all(|&(actor, n)| n >= 1 && n <= raw.context.get(actor))
        });
        if sorted && dots_ok {
            Ok(OrSet {
                context: raw.context,
                entries: raw.entries,
            })
        } else {
            Err("elements must be sorted and unique, with sorted dots the context has seen")
        }
    }
}

impl<T: Clone> From<OrSet<T>> for RawSet<T> {
    fn from(set: OrSet<T>) -> Self {
        RawSet {
            context: set.context,
            entries: set.entries,
        }
    }
}

impl WireMessage for OrSet<Vec<u8>> {
    const KIND: u8 = kind::CRDT_OR_SET;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remove_forgets_only_the_adds_it_saw() {
        let mut a = OrSet::new();
        a.add(NodeId(1), 7).unwrap();
        let mut b = OrSet::new();
        b.merge(&a);
        b.add(NodeId(2), 7).unwrap(); // b's own add, which a never sees
        a.remove(&7);
        b.merge(&a);
        assert!(b.contains(&7), "b's add survives a's remove of a's add");
        a.merge(&b);
        assert!(a.contains(&7));
    }

    #[test]
    fn a_removed_element_stays_removed_however_often_the_old_state_returns() {
        let mut a = OrSet::new();
        a.add(NodeId(1), "k").unwrap();
        let old = a.clone();
        a.remove(&"k");
        for _ in 0..3 {
            a.merge(&old);
        }
        assert!(!a.contains(&"k"));
        assert!(a.is_empty());
    }

    #[test]
    fn dots_the_context_has_not_seen_do_not_decode() {
        let raw = RawSet {
            context: VectorClock::from_entries([(NodeId(1), 1)]).unwrap(),
            entries: alloc::vec![(1u8, alloc::vec![(NodeId(1), 2)])],
        };
        assert!(OrSet::try_from(raw).is_err());
        let raw = RawSet {
            context: VectorClock::new(),
            entries: alloc::vec![(1u8, alloc::vec![])],
        };
        assert!(OrSet::try_from(raw).is_err());
    }
}
