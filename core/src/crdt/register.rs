//! Registers: last-writer-wins by hybrid logical clock, and multi-value
//! (Shapiro et al., RR-7506, §3.2.1 and §3.2.2).

use alloc::vec::Vec;
use core::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::{Error, Lattice};
use crate::clock::{CausalOrdering, HlcTimestamp, VectorClock};
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// One write of an [`LwwRegister`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Write<T> {
    /// When, by the writer's hybrid logical clock.
    pub stamp: HlcTimestamp,
    /// Who wrote it.
    pub writer: NodeId,
    /// What.
    pub value: T,
}

impl<T: Ord> Write<T> {
    /// The order every replica agrees on: timestamp, then writer, then
    /// value (a writer that reused a timestamp for two values still
    /// converges).
    fn order(&self, other: &Self) -> Ordering {
        (self.stamp, self.writer, &self.value).cmp(&(other.stamp, other.writer, &other.value))
    }
}

/// A last-writer-wins register: the write with the greatest hybrid logical
/// clock timestamp wins, then the greatest writer id, then the greatest
/// value. Take the timestamp from the writer's
/// [`HybridClock`](crate::clock::HybridClock), so that a write made after
/// one it has seen is ordered after it whatever the wall clocks say.
///
/// ```
/// use consensio::NodeId;
/// use consensio::clock::HlcTimestamp;
/// use consensio::crdt::{Lattice, LwwRegister};
///
/// let at = |wall_ms, logical| HlcTimestamp { wall_ms, logical };
/// let (mut a, mut b) = (LwwRegister::new(), LwwRegister::new());
/// a.set(at(100, 0), NodeId(1), "red");
/// b.set(at(100, 1), NodeId(2), "blue");
/// a.merge(&b);
/// assert_eq!(a.get(), Some(&"blue"));
/// assert!(!a.set(at(99, 7), NodeId(3), "late"), "an older write loses");
/// # Ok::<(), consensio::crdt::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LwwRegister<T> {
    last: Option<Write<T>>,
}

impl<T> Default for LwwRegister<T> {
    fn default() -> Self {
        LwwRegister { last: None }
    }
}

impl<T: Ord + Clone> LwwRegister<T> {
    /// The register never written.
    #[must_use]
    pub const fn new() -> Self {
        LwwRegister { last: None }
    }

    /// Writes `value` at `stamp` by `writer`; `false` (and nothing
    /// changes) if the register holds a write ordered after it.
    pub fn set(&mut self, stamp: HlcTimestamp, writer: NodeId, value: T) -> bool {
        let write = Write {
            stamp,
            writer,
            value,
        };
        match &self.last {
            Some(last) if last.order(&write) != Ordering::Less => false,
            _ => {
                self.last = Some(write);
                true
            }
        }
    }

    /// The value of the winning write, if any.
    #[must_use]
    pub fn get(&self) -> Option<&T> {
        self.last.as_ref().map(|w| &w.value)
    }

    /// The winning write, if any.
    #[must_use]
    pub const fn last(&self) -> Option<&Write<T>> {
        self.last.as_ref()
    }
}

impl<T: Ord + Clone> Lattice for LwwRegister<T> {
    fn merge(&mut self, other: &Self) {
        if let Some(theirs) = &other.last {
            let newer = self
                .last
                .as_ref()
                .is_none_or(|mine| mine.order(theirs) == Ordering::Less);
            if newer {
                self.last = Some(theirs.clone());
            }
        }
    }
}

impl WireMessage for LwwRegister<Vec<u8>> {
    const KIND: u8 = kind::CRDT_LWW_REGISTER;
}

/// A multi-value register: a write replaces every value its replica has
/// seen, and writes that did not see each other are all kept, as
/// siblings, until a write that has seen them all replaces them. Each
/// value carries the version vector of its write; none of the siblings'
/// vectors dominates another's.
///
/// ```
/// use consensio::NodeId;
/// use consensio::crdt::{Lattice, MvRegister};
///
/// let (mut a, mut b) = (MvRegister::new(), MvRegister::new());
/// a.write(NodeId(1), "milk")?;
/// b.write(NodeId(2), "eggs")?;
/// a.merge(&b);
/// let mut siblings: Vec<_> = a.values().collect();
/// siblings.sort();
/// assert_eq!(siblings, [&"eggs", &"milk"]);
/// a.write(NodeId(1), "both")?; // has seen both: replaces them
/// b.merge(&a);
/// assert_eq!(b.values().collect::<Vec<_>>(), [&"both"]);
/// # Ok::<(), consensio::crdt::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Ord"))]
#[serde(try_from = "Vec<(VectorClock, T)>", into = "Vec<(VectorClock, T)>")]
pub struct MvRegister<T: Clone> {
    /// Sorted by vector (then value); pairwise concurrent.
    siblings: Vec<(VectorClock, T)>,
}

impl<T: Clone> Default for MvRegister<T> {
    fn default() -> Self {
        MvRegister {
            siblings: Vec::new(),
        }
    }
}

impl<T: Ord + Clone> MvRegister<T> {
    /// The register never written.
    #[must_use]
    pub const fn new() -> Self {
        MvRegister {
            siblings: Vec::new(),
        }
    }

    /// Writes `value` at replica `actor`, replacing every sibling (this
    /// replica has seen them all).
    ///
    /// # Errors
    /// [`Error::Overflow`] if `actor`'s counter would pass `u64::MAX`; the
    /// register is unchanged.
    pub fn write(&mut self, actor: NodeId, value: T) -> Result<(), Error> {
        let mut clock = self.context();
        clock.increment(actor)?;
        self.siblings.clear();
        self.siblings.push((clock, value));
        Ok(())
    }

    /// The values: one, or several concurrent siblings, or none.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.siblings.iter().map(|(_, v)| v)
    }

    /// The siblings with their version vectors.
    #[must_use]
    pub fn siblings(&self) -> &[(VectorClock, T)] {
        &self.siblings
    }

    /// Every write this register has seen, as one version vector.
    #[must_use]
    pub fn context(&self) -> VectorClock {
        let mut clock = VectorClock::new();
        for (c, _) in &self.siblings {
            clock.merge(c);
        }
        clock
    }
}

/// Whether `a` happened strictly before `b`.
fn before(a: &VectorClock, b: &VectorClock) -> bool {
    a.compare(b) == CausalOrdering::Before
}

impl<T: Ord + Clone> Lattice for MvRegister<T> {
    fn merge(&mut self, other: &Self) {
        let theirs = &other.siblings;
        let mine = &self.siblings;
        let keep_mine = mine
            .iter()
            .filter(|(c, _)| !theirs.iter().any(|(o, _)| before(c, o)));
        let keep_theirs = theirs
            .iter()
            .filter(|(o, _)| !mine.iter().any(|(c, _)| before(o, c) || c == o));
        let mut merged: Vec<(VectorClock, T)> = keep_mine.chain(keep_theirs).cloned().collect();
        merged.sort_by(|a, b| (a.0.entries(), &a.1).cmp(&(b.0.entries(), &b.1)));
        self.siblings = merged;
    }
}

impl<T: Ord + Clone> TryFrom<Vec<(VectorClock, T)>> for MvRegister<T> {
    type Error = &'static str;

    fn try_from(siblings: Vec<(VectorClock, T)>) -> Result<Self, Self::Error> {
        let sorted = siblings.windows(2).all(|w| match (w.first(), w.get(1)) {
            (Some(a), Some(b)) => (a.0.entries(), &a.1) < (b.0.entries(), &b.1),
            _ => true,
        });
        let concurrent = siblings.iter().enumerate().all(|(i, (a, _))| {
            !a.is_empty()
                && siblings
                    .iter()
                    .skip(i + 1)
                    .all(|(b, _)| a.compare(b) == CausalOrdering::Concurrent)
        });
        if sorted && concurrent {
            Ok(MvRegister { siblings })
        } else {
            Err("siblings must be sorted, non-empty and pairwise concurrent")
        }
    }
}

impl<T: Clone> From<MvRegister<T>> for Vec<(VectorClock, T)> {
    fn from(register: MvRegister<T>) -> Self {
        register.siblings
    }
}

impl WireMessage for MvRegister<Vec<u8>> {
    const KIND: u8 = kind::CRDT_MV_REGISTER;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(wall_ms: u64, logical: u32) -> HlcTimestamp {
        HlcTimestamp { wall_ms, logical }
    }

    #[test]
    fn a_timestamp_reused_for_two_values_still_converges() {
        let (mut a, mut b) = (LwwRegister::new(), LwwRegister::new());
        a.set(at(5, 0), NodeId(1), 1);
        b.set(at(5, 0), NodeId(1), 2);
        let a0 = a.clone();
        a.merge(&b);
        b.merge(&a0);
        assert_eq!(a, b);
        assert_eq!(a.get(), Some(&2));
    }

    #[test]
    fn a_write_that_saw_the_siblings_replaces_them_and_one_that_did_not_joins_them() {
        let (mut a, mut b, mut c) = (MvRegister::new(), MvRegister::new(), MvRegister::new());
        a.write(NodeId(1), 'a').unwrap();
        b.write(NodeId(2), 'b').unwrap();
        c.merge(&a);
        c.merge(&b);
        assert_eq!(c.siblings().len(), 2);
        let mut late = MvRegister::new();
        late.write(NodeId(3), 'z').unwrap();
        c.merge(&late);
        assert_eq!(c.siblings().len(), 3, "a write that saw neither joins");
        c.write(NodeId(1), 'x').unwrap();
        a.merge(&c);
        assert_eq!(a.values().collect::<Vec<_>>(), [&'x']);
    }

    #[test]
    fn dominated_or_unsorted_siblings_do_not_decode() {
        let one = VectorClock::from_entries([(NodeId(1), 1)]).unwrap();
        let two = VectorClock::from_entries([(NodeId(1), 2)]).unwrap();
        assert!(MvRegister::try_from(alloc::vec![(one.clone(), 1), (two, 2)]).is_err());
        assert!(MvRegister::try_from(alloc::vec![(VectorClock::new(), 1)]).is_err());
        assert!(MvRegister::try_from(alloc::vec![(one.clone(), 1)]).is_ok());
    }
}
