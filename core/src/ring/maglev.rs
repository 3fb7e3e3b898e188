//! Maglev hashing: a prime-sized lookup table filled from per-node
//! permutations.

use alloc::collections::BinaryHeap;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Reverse;

use super::Error;
use super::hash::{key_position, maglev_offset_hash, maglev_skip_hash};
use crate::id::NodeId;

/// The table size the Maglev paper uses for small deployments, a prime.
pub const DEFAULT_MAGLEV_TABLE_SIZE: u32 = 65_537;

/// The largest table size accepted: 2²⁴ entries, 128 MiB of [`NodeId`]s.
/// Building it takes another 16 MiB while it fills.
pub const MAX_MAGLEV_TABLE_SIZE: u32 = 1 << 24;

/// Entries per node below which the paper (§3.4) finds the imbalance may
/// exceed 1%; a table must have at least this many per member.
const MIN_ENTRIES_PER_NODE: u64 = 100;

/// A Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4).
///
/// For a table of prime size `M`, node `id` prefers the slots
/// `(offset + j × skip) mod M` for `j = 0, 1, …`, with
/// `offset = `[`maglev_offset_hash`]`(id) mod M` and
/// `skip = `[`maglev_skip_hash`]`(id) mod (M − 1) + 1`; as `M` is prime this
/// visits every slot. Nodes take turns, in ascending id order, claiming their
/// next preferred slot that is still empty, until the table is full. A key
/// goes to the node in slot [`key_position`]`(key) mod M`.
///
/// Weights: the filling goes in rounds, and a node of weight `w` takes its
/// `k`-th turn in round `⌈k × w_max / w⌉`, where `w_max` is the largest
/// weight; within a round, nodes go in ascending id order. Equal weights give
/// one turn per node per round, which is the paper's Pseudocode 1 exactly;
/// otherwise each node takes turns, and so entries, in proportion to its
/// weight, spread evenly over the rounds.
///
/// The table is built whole from the member list (a change of members is a
/// rebuild, as in the paper); lookups are one hash and one read.
///
/// ```
/// use consensio::NodeId;
/// use consensio::ring::{DEFAULT_MAGLEV_TABLE_SIZE, Maglev};
///
/// let nodes = [(NodeId(1), 1), (NodeId(2), 1), (NodeId(3), 2)];
/// let maglev = Maglev::new(&nodes, DEFAULT_MAGLEV_TABLE_SIZE)?;
/// let owner = maglev.lookup(b"flow 10.0.0.1:443")?;
/// assert!(nodes.iter().any(|n| n.0 == owner));
/// // Node 3, of weight 2, holds about half the table.
/// let share = maglev.table().iter().filter(|&&n| n == NodeId(3)).count();
/// assert!(share.abs_diff(65_537 / 2) < 100);
/// # Ok::<(), consensio::ring::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Maglev {
    /// `(node, weight)`, sorted by node.
    nodes: Vec<(NodeId, u32)>,
    /// Empty if there are no nodes; otherwise one owner per slot.
    table: Vec<NodeId>,
}

/// One node's state while the table fills.
struct Filler {
    node: NodeId,
    weight: u64,
    /// The next slot in its permutation.
    slot: u32,
    skip: u32,
    /// Turns taken so far.
    turns: u64,
}

impl Filler {
    /// The round of its next turn, `⌈(turns + 1) × max_weight / weight⌉`.
    /// At most `2²⁴` turns of weights below `2³²`: no overflow.
    fn next_round(&self, max_weight: u64) -> u64 {
        ((self.turns + 1) * max_weight).div_ceil(self.weight)
    }
}

impl Maglev {
    /// Builds the table of `table_size` entries for `nodes`, given as
    /// `(node, weight)` in any order. With no nodes the table is empty and
    /// every lookup fails with [`Error::Empty`].
    ///
    /// # Errors
    /// [`Error::ZeroWeight`] for a weight of 0,
    /// [`Error::DuplicateNode`] for a node listed twice,
    /// [`Error::TableSizeOutOfRange`] unless
    /// `100 × nodes ≤ table_size ≤` [`MAX_MAGLEV_TABLE_SIZE`], and
    /// [`Error::TableSizeNotPrime`].
    pub fn new(nodes: &[(NodeId, u32)], table_size: u32) -> Result<Self, Error> {
        if let Some(&(node, _)) = nodes.iter().find(|n| n.1 == 0) {
            return Err(Error::ZeroWeight { node });
        }
        let mut sorted = nodes.to_vec();
        sorted.sort_unstable_by_key(|n| n.0);
        if let Some(pair) = sorted
            .windows(2)
            .find(|w| w.first().map(|n| n.0) == w.get(1).map(|n| n.0))
        {
            let node = pair.first().map_or(NodeId(0), |n| n.0);
            return Err(Error::DuplicateNode { node });
        }
        let min = u64::try_from(sorted.len())
            .unwrap_or(u64::MAX)
            .saturating_mul(MIN_ENTRIES_PER_NODE);
        if u64::from(table_size) < min || table_size > MAX_MAGLEV_TABLE_SIZE {
            return Err(Error::TableSizeOutOfRange {
                size: table_size,
                min,
                max: MAX_MAGLEV_TABLE_SIZE,
            });
        }
        if !is_prime(table_size) {
            return Err(Error::TableSizeNotPrime { size: table_size });
        }
        let table = populate(&sorted, table_size);
        Ok(Maglev {
            nodes: sorted,
            table,
        })
    }

    /// The node for `key`.
    ///
    /// # Errors
    /// [`Error::Empty`] if the table was built with no nodes.
    pub fn lookup(&self, key: &[u8]) -> Result<NodeId, Error> {
        let size = u64::try_from(self.table.len()).map_err(|_| Error::Empty)?;
        let slot = key_position(key)
            .checked_rem(size)
            .and_then(|slot| usize::try_from(slot).ok())
            .ok_or(Error::Empty)?;
        self.table.get(slot).copied().ok_or(Error::Empty)
    }

    /// The lookup table: the owner of each slot.
    #[must_use]
    pub fn table(&self) -> &[NodeId] {
        &self.table
    }

    /// The members as `(node, weight)`, sorted by node.
    #[must_use]
    pub fn nodes(&self) -> &[(NodeId, u32)] {
        &self.nodes
    }
}

/// Fills a table of prime `size` (at least 2) for distinct `nodes` of
/// non-zero weight, sorted by id.
fn populate(nodes: &[(NodeId, u32)], size: u32) -> Vec<NodeId> {
    let Some(max_weight) = nodes.iter().map(|n| u64::from(n.1)).max() else {
        return Vec::new();
    };
    let modulus = u64::from(size);
    let mut fillers: Vec<Filler> = nodes
        .iter()
        .map(|&(node, weight)| {
            // Both are below `size`, a u32.
            #[allow(clippy::cast_possible_truncation)]
            let (slot, skip) = (
                (maglev_offset_hash(node) % modulus) as u32,
                (maglev_skip_hash(node) % (modulus - 1) + 1) as u32,
            );
            Filler {
                node,
                weight: u64::from(weight),
                slot,
                skip,
                turns: 0,
            }
        })
        .collect();
    // Turns in (round, id) order. A queue rather than a pass over every node
    // per round keeps skewed weights, where most nodes sit out most rounds,
    // at O(size × log nodes).
    let mut turns: BinaryHeap<Reverse<(u64, usize)>> = fillers
        .iter()
        .enumerate()
        .map(|(i, f)| Reverse((f.next_round(max_weight), i)))
        .collect();
    let mut table = vec![NodeId(0); size as usize];
    let mut taken = vec![false; size as usize];
    let mut filled = 0u32;
    while filled < size {
        let Some(Reverse((_, i))) = turns.pop() else {
            break;
        };
        let Some(filler) = fillers.get_mut(i) else {
            break;
        };
        // The permutation visits every slot within `size` steps, and one is
        // still free.
        for _ in 0..size {
            let slot = filler.slot as usize;
            filler.slot = next_slot(filler.slot, filler.skip, size);
            if let (Some(is_taken), Some(entry)) = (taken.get_mut(slot), table.get_mut(slot)) {
                if !*is_taken {
                    *is_taken = true;
                    *entry = filler.node;
                    filled += 1;
                    break;
                }
            }
        }
        filler.turns += 1;
        turns.push(Reverse((filler.next_round(max_weight), i)));
    }
    table
}

/// `(slot + skip) mod size` for `slot, skip < size`, without overflow.
fn next_slot(slot: u32, skip: u32, size: u32) -> u32 {
    let room = size - slot;
    if skip < room {
        slot + skip
    } else {
        skip - room
    }
}

/// Trial division; `n ≤ 2²⁴` needs at most 2048 odd divisors.
fn is_prime(n: u32) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 {
        return false;
    }
    let mut d = 3u32;
    while let Some(square) = d.checked_mul(d) {
        if square > n {
            return true;
        }
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn nodes(ids: impl IntoIterator<Item = u64>) -> std::vec::Vec<(NodeId, u32)> {
        ids.into_iter().map(|id| (NodeId(id), 1)).collect()
    }

    fn entries_of(maglev: &Maglev, node: NodeId) -> usize {
        maglev.table().iter().filter(|&&n| n == node).count()
    }

    #[test]
    fn primes_are_recognised() {
        let small: std::vec::Vec<u32> = (0..50).filter(|&n| is_prime(n)).collect();
        assert_eq!(
            small,
            [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]
        );
        assert!(is_prime(DEFAULT_MAGLEV_TABLE_SIZE));
        assert!(is_prime(16_777_213), "largest prime below 2^24");
        assert!(!is_prime(65_535) && !is_prime(4_294_967_295));
        assert!(is_prime(4_294_967_291), "largest u32 prime");
    }

    #[test]
    fn bad_tables_are_typed_errors() {
        let three = nodes([1, 2, 3]);
        assert_eq!(
            Maglev::new(&three, 65_536).unwrap_err(),
            Error::TableSizeNotPrime { size: 65_536 }
        );
        assert_eq!(
            Maglev::new(&three, 293).unwrap_err(),
            Error::TableSizeOutOfRange {
                size: 293,
                min: 300,
                max: MAX_MAGLEV_TABLE_SIZE
            }
        );
        assert!(Maglev::new(&three, 307).is_ok());
        assert!(matches!(
            Maglev::new(&three, 4_294_967_291),
            Err(Error::TableSizeOutOfRange { .. })
        ));
        assert_eq!(
            Maglev::new(&[(NodeId(1), 1), (NodeId(2), 0)], 307).unwrap_err(),
            Error::ZeroWeight { node: NodeId(2) }
        );
        assert_eq!(
            Maglev::new(&nodes([4, 2, 4]), 307).unwrap_err(),
            Error::DuplicateNode { node: NodeId(4) }
        );
    }

    #[test]
    fn a_table_without_nodes_fails_every_lookup() {
        let empty = Maglev::new(&[], 2).unwrap();
        assert!(empty.table().is_empty());
        assert_eq!(empty.lookup(b"k"), Err(Error::Empty));
    }

    #[test]
    fn tables_follow_the_documented_layout() {
        // From an independent implementation of §3.4 and the `hash` module
        // docs over the reference C xxHash.
        let equal = Maglev::new(&nodes([3, 1, 2]), 307).unwrap();
        assert_eq!(
            equal.table()[..12],
            [1, 2, 1, 3, 1, 2, 3, 3, 3, 2, 2, 3].map(NodeId)
        );
        let lookups = [(&b"a"[..], 3), (b"b", 1), (b"c", 2), (b"user:42", 1)];
        for (key, node) in lookups {
            assert_eq!(equal.lookup(key), Ok(NodeId(node)));
        }
        let weighted = Maglev::new(&[(NodeId(1), 1), (NodeId(2), 1), (NodeId(3), 2)], 401).unwrap();
        assert_eq!(
            weighted.table()[..12],
            [1, 2, 3, 2, 3, 1, 2, 3, 2, 3, 3, 3].map(NodeId)
        );
        let counts = [1, 2, 3].map(|id| entries_of(&weighted, NodeId(id)));
        assert_eq!(counts, [100, 100, 201]);
    }

    #[test]
    fn equal_weights_give_every_node_the_same_entries_within_one() {
        for n in [3, 10, 100] {
            let maglev = Maglev::new(&nodes(0..n), DEFAULT_MAGLEV_TABLE_SIZE).unwrap();
            assert_eq!(maglev.table().len(), DEFAULT_MAGLEV_TABLE_SIZE as usize);
            let counts: std::vec::Vec<usize> =
                (0..n).map(|id| entries_of(&maglev, NodeId(id))).collect();
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(max - min <= 1, "{n} nodes: {min}..={max}");
        }
    }

    #[test]
    fn entries_follow_weights() {
        let weights = [
            (NodeId(1), 1),
            (NodeId(2), 2),
            (NodeId(3), 3),
            (NodeId(4), 10),
        ];
        let maglev = Maglev::new(&weights, DEFAULT_MAGLEV_TABLE_SIZE).unwrap();
        let unit = f64::from(DEFAULT_MAGLEV_TABLE_SIZE) / 16.0;
        for (node, weight) in weights {
            let ratio = entries_of(&maglev, node) as f64 / (unit * f64::from(weight));
            assert!((0.99..1.01).contains(&ratio), "{node}: {ratio}");
        }
    }

    #[test]
    fn removing_a_node_moves_few_entries_besides_its_own() {
        for n in [10u64, 100] {
            let before = Maglev::new(&nodes(0..n), DEFAULT_MAGLEV_TABLE_SIZE).unwrap();
            let after = Maglev::new(
                &nodes((0..n).filter(|&id| id != 3)),
                DEFAULT_MAGLEV_TABLE_SIZE,
            )
            .unwrap();
            let others_moved = before
                .table()
                .iter()
                .zip(after.table())
                .filter(|&(old, new)| *old != NodeId(3) && old != new)
                .count();
            let fraction = others_moved as f64 / f64::from(DEFAULT_MAGLEV_TABLE_SIZE);
            std::println!(
                "maglev {n} -> {} nodes: {fraction:.4} of entries moved besides the removed node's {:.4}",
                n - 1,
                1.0 / n as f64
            );
            // The paper's Figure 12 shows disruption growing with the number
            // of nodes; it stays below the removed node's own share here.
            assert!(fraction < 1.0 / n as f64);
        }
    }

    #[test]
    fn lookups_read_the_slot_of_the_key_position() {
        let maglev = Maglev::new(&nodes(0..5), 503).unwrap();
        for i in 0u64..1000 {
            let key = i.to_le_bytes();
            let slot = (key_position(&key) % 503) as usize;
            assert_eq!(maglev.lookup(&key), Ok(maglev.table()[slot]));
        }
    }

    #[test]
    fn next_slot_wraps_without_overflow() {
        assert_eq!(next_slot(5, 3, 7), 1);
        assert_eq!(next_slot(0, 6, 7), 6);
        let max = MAX_MAGLEV_TABLE_SIZE;
        assert_eq!(next_slot(max - 1, max - 1, max), max - 2);
    }
}
