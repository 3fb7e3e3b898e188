//! Dotted version vector sets: the siblings of one key in a replicated
//! key-value store (Almeida, Baquero, Gonçalves, Preguiça & Fonte,
//! "Scalable and Accurate Causality Tracking for Eventually Consistent
//! Stores", DAIS 2014; Riak's `dvvset`).

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Error, Lattice};
use crate::clock::{CausalOrdering, VectorClock};
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// One server's entry: its event count and the values of its latest
/// events that are still siblings, newest first (value `k` is event
/// `counter - k`).
pub type Entry<T> = (NodeId, u64, Vec<T>);

/// The siblings of one key and their causal history, compactly: one entry
/// per server that coordinated a write, holding its event count and the
/// values of its most recent events still current, plus values without a
/// causal history of their own (`anonymous`: a client's value not yet
/// written by a server). A write carries the context its client read
/// ([`context`](Self::context)); the server keeps exactly the siblings that
/// context had not seen, and adds the new value as its next event. Two
/// clients that wrote from the same context both survive, as siblings; a
/// write from a context that saw both replaces them.
///
/// Unlike a version vector per value (one vector per sibling), the causal
/// history is one vector for all of them, and unlike a server-id version
/// vector, it never mistakes two concurrent writes through one server for
/// causally related ones.
///
/// ```
/// use consensio::NodeId;
/// use consensio::crdt::DvvSet;
///
/// let server = NodeId(1);
/// let mut key = DvvSet::new();
/// key.put(&Default::default(), server, "v1")?;
/// let read = key.context(); // two clients read v1...
/// key.put(&read, server, "v2")?; // ...and both write from it
/// key.put(&read, server, "v3")?;
/// let mut siblings: Vec<_> = key.values().collect();
/// siblings.sort();
/// assert_eq!(siblings, [&"v2", &"v3"]);
/// key.put(&key.context(), server, "merged")?; // a write that saw both
/// assert_eq!(key.values().collect::<Vec<_>>(), [&"merged"]);
/// # Ok::<(), consensio::crdt::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Ord"))]
#[serde(try_from = "RawDvv<T>", into = "RawDvv<T>")]
pub struct DvvSet<T: Clone> {
    /// Sorted by server; each entry's values at most its counter.
    entries: Vec<Entry<T>>,
    /// Sorted, unique.
    anonymous: Vec<T>,
}

/// The state as it travels: checked by `TryFrom` on the way in.
#[derive(Serialize, Deserialize)]
struct RawDvv<T> {
    entries: Vec<Entry<T>>,
    anonymous: Vec<T>,
}

impl<T: Clone> Default for DvvSet<T> {
    fn default() -> Self {
        DvvSet {
            entries: Vec::new(),
            anonymous: Vec::new(),
        }
    }
}

impl<T: Ord + Clone> DvvSet<T> {
    /// The key never written.
    #[must_use]
    pub const fn new() -> Self {
        DvvSet {
            entries: Vec::new(),
            anonymous: Vec::new(),
        }
    }

    /// Server `server` writes `value`, from a client that read `context`:
    /// the siblings `context` had seen are replaced, the others kept, and
    /// `value` becomes `server`'s next event.
    ///
    /// # Errors
    /// [`Error::Overflow`] if `server`'s counter would pass `u64::MAX`; the
    /// set is unchanged.
    pub fn put(&mut self, context: &VectorClock, server: NodeId, value: T) -> Result<(), Error> {
        let read = DvvSet {
            entries: context
                .entries()
                .iter()
                .map(|&(i, n)| (i, n, Vec::new()))
                .collect(),
            anonymous: Vec::new(),
        };
        let mut synced = self.clone();
        synced.merge(&read);
        // `merge` keeps this key's anonymous values only if the context
        // had not seen all of them; a context is a server clock, so the
        // anonymous values stay (`dvvset:update/3`).
        let at = synced.entries.binary_search_by_key(&server, |e| e.0);
        match at {
            Ok(i) => {
                let entry = synced.entries.get_mut(i).ok_or(Error::Overflow)?;
                entry.1 = entry.1.checked_add(1).ok_or(Error::Overflow)?;
                entry.2.insert(0, value);
            }
            Err(i) => synced.entries.insert(i, (server, 1, alloc::vec![value])),
        }
        *self = synced;
        Ok(())
    }

    /// Every write this key has seen: the context a client passes back
    /// with its next write.
    #[must_use]
    pub fn context(&self) -> VectorClock {
        VectorClock::from_entries(self.entries.iter().map(|&(i, n, _)| (i, n))).unwrap_or_default()
    }

    /// The siblings: the current values.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries
            .iter()
            .flat_map(|(_, _, values)| values.iter())
            .chain(self.anonymous.iter())
    }

    /// How many siblings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.iter().map(|e| e.2.len()).sum::<usize>() + self.anonymous.len()
    }

    /// Whether the key has no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, sorted by server.
    #[must_use]
    pub fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }
}

/// One server's entries merged (`dvvset:merge/5`): the higher counter wins,
/// keeping those of its values the other side had not seen replaced.
fn merge_entry<T: Clone>(mine: &Entry<T>, theirs: &Entry<T>) -> Entry<T> {
    let (i, n1, l1) = mine;
    let (_, n2, l2) = theirs;
    let (high, low) = if n1 >= n2 {
        ((n1, l1), (n2, l2))
    } else {
        ((n2, l2), (n1, l1))
    };
    let ((hn, hl), (ln, ll)) = (high, low);
    // Events of the higher side older than this are the lower side's to
    // judge: those it had replaced are gone.
    let high_oldest = hn.saturating_sub(hl.len() as u64);
    let low_oldest = ln.saturating_sub(ll.len() as u64);
    let keep = if high_oldest >= low_oldest {
        hl.len()
    } else {
        usize::try_from(hn - ln)
            .unwrap_or(usize::MAX)
            .saturating_add(ll.len())
    };
    (*i, *hn, hl.iter().take(keep).cloned().collect())
}

impl<T: Ord + Clone> Lattice for DvvSet<T> {
    fn merge(&mut self, other: &Self) {
        // Only anonymous values need the causal order (a server's values
        // carry their own): skip building the contexts when there are none.
        let ordering = if self.anonymous.is_empty() && other.anonymous.is_empty() {
            CausalOrdering::Equal
        } else {
            self.context().compare(&other.context())
        };
        let anonymous = match ordering {
            CausalOrdering::Before => other.anonymous.clone(),
            CausalOrdering::After => core::mem::take(&mut self.anonymous),
            CausalOrdering::Equal | CausalOrdering::Concurrent => {
                let mut all: Vec<T> = self
                    .anonymous
                    .iter()
                    .chain(&other.anonymous)
                    .cloned()
                    .collect();
                all.sort();
                all.dedup();
                all
            }
        };
        let mut merged = Vec::with_capacity(self.entries.len().max(other.entries.len()));
        let mut theirs = other.entries.iter().peekable();
        for mine in &self.entries {
            while let Some(e) = theirs.next_if(|e| e.0 < mine.0) {
                merged.push(e.clone());
            }
            match theirs.next_if(|e| e.0 == mine.0) {
                Some(e) => merged.push(merge_entry(mine, e)),
                None => merged.push(mine.clone()),
            }
        }
        merged.extend(theirs.cloned());
        self.entries = merged;
        self.anonymous = anonymous;
    }
}

impl<T: Ord + Clone> TryFrom<RawDvv<T>> for DvvSet<T> {
    type Error = &'static str;

    fn try_from(raw: RawDvv<T>) -> Result<Self, Self::Error> {
        let sorted = raw.entries.windows(2).all(|w| match (w.first(), w.get(1)) {
            (Some(a), Some(b)) => a.0 < b.0,
            _ => true,
        });
        let counted = raw
            .entries
            .iter()
            .all(|(_, n, values)| *n >= 1 && values.len() as u64 <= *n);
        let anonymous = raw.anonymous.windows(2).all(|w| w.first() < w.get(1));
        if sorted && counted && anonymous {
            Ok(DvvSet {
                entries: raw.entries,
                anonymous: raw.anonymous,
            })
        } else {
            Err(
                "entries sorted by server with counters of at least their values; anonymous values sorted and unique",
            )
        }
    }
}

impl<T: Clone> From<DvvSet<T>> for RawDvv<T> {
    fn from(set: DvvSet<T>) -> Self {
        RawDvv {
            entries: set.entries,
            anonymous: set.anonymous,
        }
    }
}

impl WireMessage for DvvSet<Vec<u8>> {
    const KIND: u8 = kind::CRDT_DVV_SET;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's Figure 3 situation: two clients write through the same
    /// server from the same read; both values survive, and the next write
    /// from a read of both replaces them.
    #[test]
    fn concurrent_writes_through_one_server_stay_siblings() {
        let s = NodeId(1);
        let mut key = DvvSet::new();
        key.put(&VectorClock::new(), s, 'a').unwrap();
        let ctx = key.context();
        key.put(&ctx, s, 'b').unwrap();
        key.put(&ctx, s, 'c').unwrap();
        assert_eq!(key.entries(), [(s, 3, alloc::vec!['c', 'b'])]);
        key.put(&key.context(), s, 'd').unwrap();
        assert_eq!(key.entries(), [(s, 4, alloc::vec!['d'])]);
    }

    #[test]
    fn replicas_of_one_key_sync_to_the_same_siblings() {
        let (s1, s2) = (NodeId(1), NodeId(2));
        let (mut a, mut b) = (DvvSet::new(), DvvSet::new());
        a.put(&VectorClock::new(), s1, 1).unwrap();
        b.merge(&a);
        let ctx = a.context();
        a.put(&ctx, s1, 2).unwrap();
        b.put(&ctx, s2, 3).unwrap();
        let a0 = a.clone();
        a.merge(&b);
        b.merge(&a0);
        assert_eq!(a, b);
        let mut values: Vec<_> = a.values().copied().collect();
        values.sort_unstable();
        assert_eq!(values, [2, 3]);
    }

    #[test]
    fn more_values_than_events_do_not_decode() {
        let raw = RawDvv {
            entries: alloc::vec![(NodeId(1), 1, alloc::vec![1u8, 2])],
            anonymous: alloc::vec![],
        };
        assert!(DvvSet::try_from(raw).is_err());
    }
}
