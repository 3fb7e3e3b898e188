//! Consistent hashing with bounded loads.

use alloc::vec::Vec;

use super::hash::key_position;
use super::{Error, HashRing};
use crate::id::NodeId;

/// Consistent hashing with bounded loads (Mirrokni, Thorup and
/// Zadimoghaddam, SODA 2018).
///
/// The nodes sit on a [`HashRing`] of equal weight. With `m` keys assigned
/// to `n` nodes, the next key may go only to a node holding fewer than
/// `c = ⌈(1 + ε)(m + 1) / n⌉` keys, the paper's `⌈(1 + ε)·m/n⌉` with the new
/// key counted: it walks clockwise from its position to the first such node.
/// As `n × c ≥ m + 1`, some node always holds fewer than `c`, so every
/// assignment succeeds while there is a node, and while keys are only added
/// no node holds more than `⌈(1 + ε)·m/n⌉` of `m` keys. `ε = a / b` is a ratio of integers, so
/// capacities are exact.
///
/// The structure only counts: the caller remembers which key went where,
/// calls [`release`](Self::release) when a key leaves, and re-assigns a
/// removed node's keys. Releasing keys or adding a node lowers the capacity,
/// so a node may then hold more than it; it takes no new key until it is
/// back under.
///
/// ```
/// use consensio::NodeId;
/// use consensio::ring::BoundedLoadRing;
///
/// // ε = 1/4: no node holds more than ⌈1.25 × m / n⌉ of m keys.
/// let mut ring = BoundedLoadRing::new(16, 1, 4)?;
/// for id in 1..=4 {
///     ring.add_node(NodeId(id))?;
/// }
/// for i in 0u32..100 {
///     ring.assign(&i.to_le_bytes())?;
/// }
/// assert!((1..=4).all(|id| ring.load(NodeId(id)).is_ok_and(|load| load <= 32)));
/// let node = ring.assign(b"one more")?;
/// ring.release(node)?;
/// assert_eq!(ring.total_load(), 100);
/// # Ok::<(), consensio::ring::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BoundedLoadRing {
    ring: HashRing,
    /// `(node, keys assigned)`, sorted by node: the ring's members.
    loads: Vec<(NodeId, u64)>,
    total: u64,
    epsilon_numerator: u32,
    epsilon_denominator: u32,
}

impl BoundedLoadRing {
    /// An empty ring with `vnodes_per_node` tokens per node and load-balance
    /// factor `ε = epsilon_numerator / epsilon_denominator`.
    ///
    /// # Errors
    /// [`Error::ZeroVnodes`] if `vnodes_per_node` is 0 and
    /// [`Error::ZeroDenominator`] if `epsilon_denominator` is 0.
    pub fn new(
        vnodes_per_node: u32,
        epsilon_numerator: u32,
        epsilon_denominator: u32,
    ) -> Result<Self, Error> {
        if epsilon_denominator == 0 {
            return Err(Error::ZeroDenominator);
        }
        Ok(BoundedLoadRing {
            ring: HashRing::new(vnodes_per_node)?,
            loads: Vec::new(),
            total: 0,
            epsilon_numerator,
            epsilon_denominator,
        })
    }

    /// Adds `node` with no keys.
    ///
    /// # Errors
    /// As [`HashRing::add_node`].
    pub fn add_node(&mut self, node: NodeId) -> Result<(), Error> {
        self.ring.add_node(node, 1, None)?;
        if let Err(at) = self.loads.binary_search_by_key(&node, |l| l.0) {
            self.loads.insert(at, (node, 0));
        }
        Ok(())
    }

    /// Removes `node`; returns how many keys it held, which the caller must
    /// assign again.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if it is not a member.
    pub fn remove_node(&mut self, node: NodeId) -> Result<u64, Error> {
        self.ring.remove_node(node)?;
        let load = match self.loads.binary_search_by_key(&node, |l| l.0) {
            Ok(at) => self.loads.remove(at).1,
            Err(_) => 0,
        };
        self.total -= load;
        Ok(load)
    }

    /// Assigns `key` to the first node clockwise from its position that is
    /// below [`capacity`](Self::capacity), and counts it there.
    ///
    /// # Errors
    /// [`Error::Empty`] if there are no nodes and
    /// [`Error::LoadOverflow`] if `u64::MAX` keys are assigned.
    pub fn assign(&mut self, key: &[u8]) -> Result<NodeId, Error> {
        let capacity = self.capacity()?;
        let total = self.total.checked_add(1).ok_or(Error::LoadOverflow)?;
        // Some node is below capacity, so only an empty ring finds none.
        let at = self
            .ring
            .clockwise(key_position(key))
            .find_map(|token| {
                let at = self.loads.binary_search_by_key(&token.node, |l| l.0).ok()?;
                (self.loads.get(at)?.1 < capacity).then_some(at)
            })
            .ok_or(Error::Empty)?;
        let entry = self.loads.get_mut(at).ok_or(Error::Empty)?;
        entry.1 += 1;
        self.total = total;
        Ok(entry.0)
    }

    /// Takes one key off `node`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if it is not a member and
    /// [`Error::NoLoad`] if it holds no keys.
    pub fn release(&mut self, node: NodeId) -> Result<(), Error> {
        let at = self
            .loads
            .binary_search_by_key(&node, |l| l.0)
            .map_err(|_| Error::UnknownNode { node })?;
        match self.loads.get_mut(at) {
            Some(entry) if entry.1 > 0 => {
                entry.1 -= 1;
                self.total -= 1;
                Ok(())
            }
            _ => Err(Error::NoLoad { node }),
        }
    }

    /// The capacity the next key is held to: `⌈(1 + ε)(m + 1) / n⌉` for `m`
    /// keys assigned over `n` nodes, saturated at `u64::MAX`.
    ///
    /// # Errors
    /// [`Error::Empty`] if there are no nodes.
    pub fn capacity(&self) -> Result<u64, Error> {
        if self.loads.is_empty() {
            return Err(Error::Empty);
        }
        let numerator = u128::from(self.epsilon_denominator) + u128::from(self.epsilon_numerator);
        // Neither factor is zero. Every product is below 2¹⁰⁰: no overflow.
        let denominator = u128::from(self.epsilon_denominator) * self.loads.len() as u128;
        let capacity = (numerator * (u128::from(self.total) + 1)).div_ceil(denominator);
        Ok(u64::try_from(capacity).unwrap_or(u64::MAX))
    }

    /// The keys assigned to `node`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if it is not a member.
    pub fn load(&self, node: NodeId) -> Result<u64, Error> {
        self.loads
            .binary_search_by_key(&node, |l| l.0)
            .ok()
            .and_then(|at| self.loads.get(at))
            .map(|l| l.1)
            .ok_or(Error::UnknownNode { node })
    }

    /// The keys assigned over all nodes.
    #[must_use]
    pub fn total_load(&self) -> u64 {
        self.total
    }

    /// The ring the nodes sit on.
    #[must_use]
    pub fn ring(&self) -> &HashRing {
        &self.ring
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn ring(nodes: u64, numerator: u32, denominator: u32) -> BoundedLoadRing {
        let mut ring = BoundedLoadRing::new(16, numerator, denominator).unwrap();
        for id in 0..nodes {
            ring.add_node(NodeId(id)).unwrap();
        }
        ring
    }

    /// The paper's bound `⌈(1 + a/b) × m / n⌉` for `m` keys over `n` nodes.
    fn paper_capacity(a: u32, b: u32, m: u64, n: u64) -> u64 {
        (u64::from(a + b) * m).div_ceil(u64::from(b) * n)
    }

    #[test]
    fn bad_parameters_and_operations_are_typed_errors() {
        assert_eq!(
            BoundedLoadRing::new(16, 1, 0).unwrap_err(),
            Error::ZeroDenominator
        );
        assert_eq!(
            BoundedLoadRing::new(0, 1, 4).unwrap_err(),
            Error::ZeroVnodes
        );
        let mut empty = ring(0, 1, 4);
        assert_eq!(empty.assign(b"k"), Err(Error::Empty));
        assert_eq!(empty.capacity(), Err(Error::Empty));
        let mut ring = ring(2, 1, 4);
        assert_eq!(
            ring.add_node(NodeId(1)),
            Err(Error::DuplicateNode { node: NodeId(1) })
        );
        assert_eq!(
            ring.release(NodeId(1)),
            Err(Error::NoLoad { node: NodeId(1) })
        );
        assert_eq!(
            ring.release(NodeId(9)),
            Err(Error::UnknownNode { node: NodeId(9) })
        );
        assert_eq!(
            ring.remove_node(NodeId(9)),
            Err(Error::UnknownNode { node: NodeId(9) })
        );
        assert_eq!(ring.total_load(), 0);
    }

    #[test]
    fn capacity_is_the_ceiling_of_one_plus_epsilon_times_keys_per_node() {
        let mut ring = ring(4, 1, 4);
        assert_eq!(ring.capacity(), Ok(1), "⌈1.25 × 1 / 4⌉");
        for i in 0u32..100 {
            ring.assign(&i.to_le_bytes()).unwrap();
        }
        assert_eq!(ring.capacity(), Ok(32), "⌈1.25 × 101 / 4⌉ = ⌈31.56⌉");
        let mut huge = BoundedLoadRing::new(1, u32::MAX, 1).unwrap();
        huge.add_node(NodeId(0)).unwrap();
        assert_eq!(huge.capacity(), Ok(1 << 32));
    }

    #[test]
    fn no_node_ever_exceeds_its_capacity() {
        for (numerator, denominator) in [(0, 1), (1, 10), (1, 4), (1, 1)] {
            let mut ring = ring(10, numerator, denominator);
            for m in 1..=5000u64 {
                let capacity = ring.capacity().unwrap();
                assert_eq!(capacity, paper_capacity(numerator, denominator, m, 10));
                let node = ring.assign(&m.to_le_bytes()).unwrap();
                assert!(ring.load(node).unwrap() <= capacity);
                assert_eq!(ring.total_load(), m);
            }
            let loads: std::vec::Vec<u64> =
                (0..10).map(|id| ring.load(NodeId(id)).unwrap()).collect();
            assert!(
                loads
                    .iter()
                    .all(|&l| l <= paper_capacity(numerator, denominator, 5000, 10))
            );
            std::println!(
                "bounded loads ε = {numerator}/{denominator}: 5000 keys over 10 nodes {loads:?}"
            );
        }
    }

    #[test]
    fn every_key_is_assigned_while_some_node_has_room() {
        // ε = 0: capacity ⌈(m + 1) / n⌉ leaves exactly enough room, so keys
        // fill the nodes evenly, one round at a time.
        let mut ring = ring(7, 0, 1);
        for m in 1..=700u64 {
            ring.assign(&m.to_le_bytes()).unwrap();
            let loads: std::vec::Vec<u64> =
                (0..7).map(|id| ring.load(NodeId(id)).unwrap()).collect();
            let (min, max) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
            assert!(max - min <= 1, "after {m} keys: {loads:?}");
        }
    }

    #[test]
    fn keys_go_to_their_ring_owner_while_it_has_room() {
        let mut bounded = ring(10, 1, 1);
        for i in 0u64..50 {
            let key = i.to_le_bytes();
            let owner = bounded.ring().owner(&key).unwrap();
            if bounded.load(owner).unwrap() < bounded.capacity().unwrap() {
                assert_eq!(bounded.assign(&key), Ok(owner));
            }
        }
    }

    #[test]
    fn release_and_removal_keep_the_total_in_step() {
        let mut ring = ring(3, 1, 2);
        let nodes: std::vec::Vec<NodeId> = (0u32..30)
            .map(|i| ring.assign(&i.to_le_bytes()).unwrap())
            .collect();
        ring.release(nodes[0]).unwrap();
        assert_eq!(ring.total_load(), 29);
        let held = ring.load(NodeId(1)).unwrap();
        assert_eq!(ring.remove_node(NodeId(1)), Ok(held));
        assert_eq!(ring.total_load(), 29 - held);
        assert_eq!(
            ring.load(NodeId(1)),
            Err(Error::UnknownNode { node: NodeId(1) })
        );
        assert!(ring.ring().owner(b"k").is_ok_and(|n| n != NodeId(1)));
    }
}
