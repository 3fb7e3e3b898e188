//! The consistent hashing ring with weighted virtual nodes.

use alloc::vec::Vec;

use super::hash::{key_position, vnode_token};
use super::{Error, MAX_VNODES};
use crate::id::NodeId;

/// A failure domain (availability zone, rack, data centre) that a node
/// lives in. Opaque to the ring except for equality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneId(pub u64);

/// A member of a [`HashRing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RingNode {
    /// The node.
    pub id: NodeId,
    /// Its share: it owns `weight × vnodes_per_weight` tokens.
    pub weight: u32,
    /// Its failure domain, if the caller knows one.
    pub zone: Option<ZoneId>,
}

/// One virtual node: a position on the ring and the node that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Token {
    pub(super) position: u64,
    pub(super) node: NodeId,
}

/// A consistent hashing ring with weighted virtual nodes, as in Dynamo and
/// Cassandra.
///
/// A node of weight `w` owns the `w × vnodes_per_weight` tokens
/// [`vnode_token`]`(node, i)` for `i` in `0..w × vnodes_per_weight`. A key
/// belongs to the node owning the first token at or after the key's
/// [`key_position`], wrapping past `u64::MAX` to the smallest token; tokens
/// at the same position are ordered by node id. Lookups are a binary search
/// over the sorted tokens and allocate nothing; adding or removing a node
/// re-sorts them.
///
/// Because a node's tokens depend on nothing but its id, adding a node moves
/// keys only to it, about `w / W` of them for total weight `W`; removing it
/// moves only its own keys. The ring holds at most [`MAX_VNODES`] tokens.
///
/// ```
/// use consensio::NodeId;
/// use consensio::ring::{HashRing, ZoneId};
///
/// let mut ring = HashRing::new(64)?;
/// ring.add_node(NodeId(1), 1, Some(ZoneId(1)))?;
/// ring.add_node(NodeId(2), 1, Some(ZoneId(1)))?;
/// ring.add_node(NodeId(3), 2, Some(ZoneId(2)))?;    // twice the keys
///
/// let owner = ring.owner(b"user:42")?;
/// let mut replicas = [NodeId(0); 2];
/// assert_eq!(ring.preference_list(b"user:42", 2, &mut replicas)?, 2);
/// assert_eq!(replicas[0], owner);
///
/// // Two replicas in two zones: node 3 is always one of them.
/// ring.preference_list_by_zone(b"user:42", 2, &mut replicas)?;
/// assert!(replicas.contains(&NodeId(3)));
/// # Ok::<(), consensio::ring::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HashRing {
    vnodes_per_weight: u32,
    /// Sorted by id.
    nodes: Vec<RingNode>,
    /// Sorted by position, then node.
    tokens: Vec<Token>,
    /// Each zone in use (`None` included) and its number of members, sorted.
    zones: Vec<(Option<ZoneId>, usize)>,
}

impl HashRing {
    /// An empty ring whose nodes get `vnodes_per_weight` tokens per unit of
    /// weight. More tokens spread keys more evenly but make the ring larger
    /// and changes slower; Cassandra uses 16.
    ///
    /// # Errors
    /// [`Error::ZeroVnodes`] if `vnodes_per_weight` is 0.
    pub const fn new(vnodes_per_weight: u32) -> Result<Self, Error> {
        if vnodes_per_weight == 0 {
            return Err(Error::ZeroVnodes);
        }
        Ok(HashRing {
            vnodes_per_weight,
            nodes: Vec::new(),
            tokens: Vec::new(),
            zones: Vec::new(),
        })
    }

    /// Adds `node` with `weight` in `zone`.
    ///
    /// # Errors
    /// [`Error::DuplicateNode`] if it is a member,
    /// [`Error::ZeroWeight`] if `weight` is 0, and
    /// [`Error::TooManyVnodes`] if the ring would exceed [`MAX_VNODES`]
    /// tokens.
    pub fn add_node(
        &mut self,
        node: NodeId,
        weight: u32,
        zone: Option<ZoneId>,
    ) -> Result<(), Error> {
        let at = match self.nodes.binary_search_by_key(&node, |n| n.id) {
            Ok(_) => return Err(Error::DuplicateNode { node }),
            Err(at) => at,
        };
        if weight == 0 {
            return Err(Error::ZeroWeight { node });
        }
        let free = MAX_VNODES.saturating_sub(self.tokens.len());
        let vnodes = weight
            .checked_mul(self.vnodes_per_weight)
            .filter(|&v| usize::try_from(v).is_ok_and(|v| v <= free))
            .ok_or(Error::TooManyVnodes { max: MAX_VNODES })?;
        self.tokens.extend((0..vnodes).map(|i| Token {
            position: vnode_token(node, i),
            node,
        }));
        self.tokens.sort_unstable();
        self.nodes.insert(
            at,
            RingNode {
                id: node,
                weight,
                zone,
            },
        );
        match self.zones.binary_search_by_key(&zone, |z| z.0) {
            Ok(z) => {
                if let Some(entry) = self.zones.get_mut(z) {
                    entry.1 += 1;
                }
            }
            Err(z) => self.zones.insert(z, (zone, 1)),
        }
        Ok(())
    }

    /// Removes `node` and its tokens; returns what it was.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if it is not a member.
    pub fn remove_node(&mut self, node: NodeId) -> Result<RingNode, Error> {
        let at = self
            .nodes
            .binary_search_by_key(&node, |n| n.id)
            .map_err(|_| Error::UnknownNode { node })?;
        let removed = self.nodes.remove(at);
        self.tokens.retain(|t| t.node != node);
        if let Ok(z) = self.zones.binary_search_by_key(&removed.zone, |z| z.0) {
            match self.zones.get_mut(z) {
                Some(entry) if entry.1 > 1 => entry.1 -= 1,
                _ => {
                    self.zones.remove(z);
                }
            }
        }
        Ok(removed)
    }

    /// The node that owns `key`: the owner of the first token at or after
    /// its position.
    ///
    /// # Errors
    /// [`Error::Empty`] if the ring has no nodes.
    pub fn owner(&self, key: &[u8]) -> Result<NodeId, Error> {
        self.clockwise(key_position(key))
            .next()
            .map(|t| t.node)
            .ok_or(Error::Empty)
    }

    /// Writes the first `n` distinct nodes met walking clockwise from `key`
    /// into `out` (all nodes if there are fewer) and returns how many it
    /// wrote. The first is the [`owner`](Self::owner); later tokens of a node
    /// already listed are skipped, as in Dynamo's preference list.
    ///
    /// # Errors
    /// [`Error::OutputTooSmall`] if `out` is shorter than `n`;
    /// [`Error::Empty`] if the ring has no nodes.
    pub fn preference_list(
        &self,
        key: &[u8],
        n: usize,
        out: &mut [NodeId],
    ) -> Result<usize, Error> {
        self.walk(key, n, out, false)
    }

    /// Like [`preference_list`](Self::preference_list), but spreads the
    /// nodes over zones. The walk goes clockwise from `key` and takes each
    /// node whose zone is not yet in the list, until it has `n` nodes or one
    /// from every zone; then a second walk from `key` fills the rest with
    /// the remaining distinct nodes in ring order. Nodes without a zone
    /// together count as one zone. The list thus covers
    /// `min(n, zones)` distinct zones, and its first node is still the owner.
    ///
    /// # Errors
    /// As [`preference_list`](Self::preference_list).
    pub fn preference_list_by_zone(
        &self,
        key: &[u8],
        n: usize,
        out: &mut [NodeId],
    ) -> Result<usize, Error> {
        self.walk(key, n, out, true)
    }

    /// The members, sorted by id.
    #[must_use]
    pub fn nodes(&self) -> &[RingNode] {
        &self.nodes
    }

    /// Whether `node` is a member.
    #[must_use]
    pub fn contains(&self, node: NodeId) -> bool {
        self.member(node).is_some()
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the ring has no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of tokens (virtual nodes) on the ring.
    #[must_use]
    pub fn vnode_count(&self) -> usize {
        self.tokens.len()
    }

    /// Number of distinct zones among the members, the absent zone counting
    /// as one.
    #[must_use]
    pub fn zone_count(&self) -> usize {
        self.zones.len()
    }

    /// Every token once, clockwise from the first at or after `position`.
    pub(super) fn clockwise(&self, position: u64) -> impl Iterator<Item = &Token> {
        let start = self.tokens.partition_point(|t| t.position < position);
        let (before, after) = self.tokens.split_at_checked(start).unwrap_or_default();
        after.iter().chain(before)
    }

    fn member(&self, node: NodeId) -> Option<&RingNode> {
        let at = self.nodes.binary_search_by_key(&node, |n| n.id).ok()?;
        self.nodes.get(at)
    }

    fn walk(
        &self,
        key: &[u8],
        n: usize,
        out: &mut [NodeId],
        by_zone: bool,
    ) -> Result<usize, Error> {
        if out.len() < n {
            return Err(Error::OutputTooSmall {
                needed: n,
                found: out.len(),
            });
        }
        if self.nodes.is_empty() {
            return Err(Error::Empty);
        }
        let want = n.min(self.nodes.len());
        let position = key_position(key);
        let mut count = 0;
        if by_zone {
            // Stopping once every zone is listed keeps a walk for more
            // replicas than zones from visiting every token.
            let want_zones = want.min(self.zones.len());
            for token in self.clockwise(position) {
                if count == want_zones {
                    break;
                }
                let chosen = out.get(..count).unwrap_or_default();
                let zone = self.member(token.node).map(|m| m.zone);
                let seen = chosen
                    .iter()
                    .any(|&c| self.member(c).map(|m| m.zone) == zone);
                if !seen {
                    push(out, &mut count, token.node);
                }
            }
        }
        for token in self.clockwise(position) {
            if count == want {
                break;
            }
            let chosen = out.get(..count).unwrap_or_default();
            if !chosen.contains(&token.node) {
                push(out, &mut count, token.node);
            }
        }
        Ok(count)
    }
}

/// Appends `node` to the first `count` entries of `out`, if there is room.
fn push(out: &mut [NodeId], count: &mut usize, node: NodeId) {
    if let Some(slot) = out.get_mut(*count) {
        *slot = node;
        *count += 1;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    const KEYS: u64 = 100_000;

    fn key(i: u64) -> [u8; 8] {
        i.to_le_bytes()
    }

    fn ring(vnodes: u32, nodes: impl IntoIterator<Item = u64>) -> HashRing {
        let mut ring = HashRing::new(vnodes).unwrap();
        for id in nodes {
            ring.add_node(NodeId(id), 1, None).unwrap();
        }
        ring
    }

    /// Keys per node, indexed by node id.
    fn spread(ring: &HashRing, ids: usize) -> std::vec::Vec<u64> {
        let mut counts = std::vec![0u64; ids];
        for i in 0..KEYS {
            counts[ring.owner(&key(i)).unwrap().0 as usize] += 1;
        }
        counts
    }

    #[test]
    fn zero_vnodes_per_weight_is_an_error() {
        assert_eq!(HashRing::new(0).unwrap_err(), Error::ZeroVnodes);
    }

    #[test]
    fn bad_changes_are_typed_errors_and_leave_the_ring_unchanged() {
        let mut ring = ring(4, [1, 2]);
        let before = ring.clone();
        let unchanged = |ring: &HashRing| {
            assert_eq!(ring.nodes(), before.nodes());
            assert_eq!(ring.tokens, before.tokens);
            assert_eq!(ring.zones, before.zones);
        };
        assert_eq!(
            ring.add_node(NodeId(1), 1, None),
            Err(Error::DuplicateNode { node: NodeId(1) })
        );
        assert_eq!(
            ring.add_node(NodeId(3), 0, None),
            Err(Error::ZeroWeight { node: NodeId(3) })
        );
        assert_eq!(
            ring.remove_node(NodeId(3)),
            Err(Error::UnknownNode { node: NodeId(3) })
        );
        let too_many = Err(Error::TooManyVnodes { max: MAX_VNODES });
        assert_eq!(ring.add_node(NodeId(3), u32::MAX, None), too_many);
        // 8 tokens are taken; 2²⁰ - 8 fit, one more weight unit does not.
        let free = (MAX_VNODES as u32 - 8) / 4;
        assert_eq!(ring.add_node(NodeId(3), free + 1, None), too_many);
        unchanged(&ring);
        assert_eq!(ring.add_node(NodeId(3), free, None), Ok(()));
        assert_eq!(ring.vnode_count(), MAX_VNODES);
    }

    #[test]
    fn lookups_on_an_empty_ring_are_errors() {
        let ring = ring(4, []);
        assert_eq!(ring.owner(b"k"), Err(Error::Empty));
        assert_eq!(
            ring.preference_list(b"k", 1, &mut [NodeId(0)]),
            Err(Error::Empty)
        );
    }

    #[test]
    fn an_output_shorter_than_n_is_an_error() {
        let ring = ring(4, [1, 2, 3]);
        assert_eq!(
            ring.preference_list_by_zone(b"k", 3, &mut [NodeId(0); 2]),
            Err(Error::OutputTooSmall {
                needed: 3,
                found: 2
            })
        );
        assert_eq!(ring.preference_list(b"k", 0, &mut []), Ok(0));
    }

    #[test]
    fn placements_follow_the_documented_layout() {
        // From an independent implementation of the layout in the `hash`
        // module docs, over the reference C xxHash.
        let mut ring = HashRing::new(4).unwrap();
        ring.add_node(NodeId(1), 1, Some(ZoneId(1))).unwrap();
        ring.add_node(NodeId(2), 1, Some(ZoneId(1))).unwrap();
        ring.add_node(NodeId(3), 2, Some(ZoneId(2))).unwrap();
        let first = ring.tokens.first().unwrap();
        assert_eq!(
            (first.position, first.node),
            (0x14d6_4313_3f5a_60bd, NodeId(3))
        );
        for (key, owner) in [(&b"a"[..], 1), (b"b", 2), (b"c", 3), (b"user:42", 3)] {
            assert_eq!(ring.owner(key), Ok(NodeId(owner)));
        }
        ring.add_node(NodeId(4), 1, None).unwrap();
        let mut out = [NodeId(0); 4];
        for (key, plain, by_zone) in [
            (&b"k0"[..], [1, 2, 3, 4], [1, 3, 4, 2]),
            (b"k6", [4, 1, 2, 3], [4, 1, 3, 2]),
            (b"k25", [1, 4, 2, 3], [1, 4, 3, 2]),
        ] {
            ring.preference_list(key, 4, &mut out).unwrap();
            assert_eq!(out, plain.map(NodeId));
            ring.preference_list_by_zone(key, 4, &mut out).unwrap();
            assert_eq!(out, by_zone.map(NodeId));
        }
    }

    #[test]
    fn a_joining_node_takes_about_one_in_n_plus_one_keys_and_keys_move_only_to_it() {
        for n in [4u64, 10] {
            let before = ring(256, 0..n);
            let after = ring(256, 0..=n);
            let mut moved = 0u64;
            for i in 0..KEYS {
                let (old, new) = (before.owner(&key(i)), after.owner(&key(i)));
                if old != new {
                    assert_eq!(new, Ok(NodeId(n)), "key {i} moved between old nodes");
                    moved += 1;
                }
            }
            let fraction = moved as f64 / KEYS as f64;
            let expected = 1.0 / (n + 1) as f64;
            std::println!(
                "ring {n} -> {} nodes: moved {fraction:.4} (1/(n+1) = {expected:.4})",
                n + 1
            );
            assert!((0.5 * expected..1.5 * expected).contains(&fraction));
        }
    }

    #[test]
    fn a_leaving_node_gives_up_only_its_own_keys() {
        let before = ring(256, 0..10);
        let mut after = before.clone();
        after.remove_node(NodeId(3)).unwrap();
        let mut moved = 0u64;
        for i in 0..KEYS {
            let (old, new) = (before.owner(&key(i)), after.owner(&key(i)));
            if old != new {
                assert_eq!(old, Ok(NodeId(3)), "key {i} of a staying node moved");
                moved += 1;
            }
        }
        let fraction = moved as f64 / KEYS as f64;
        std::println!("ring 10 -> 9 nodes: moved {fraction:.4} (1/n = 0.1000)");
        assert!((0.05..0.15).contains(&fraction));
    }

    #[test]
    fn preference_lists_hold_distinct_nodes_led_by_the_owner() {
        let ring = ring(16, 0..5);
        let mut out = [NodeId(u64::MAX); 8];
        for i in 0..1000 {
            let k = key(i);
            for n in [1, 3, 5, 8] {
                let count = ring.preference_list(&k, n, &mut out).unwrap();
                assert_eq!(count, n.min(5));
                let list = &out[..count];
                assert_eq!(list[0], ring.owner(&k).unwrap());
                assert!(list.iter().all(|node| ring.contains(*node)));
                assert!((1..count).all(|j| !list[..j].contains(&list[j])));
            }
        }
    }

    #[test]
    fn zone_aware_lists_cover_min_of_n_and_zones_distinct_zones() {
        // Zones 0, 1, 2 with 4, 2 and 1 nodes, and two nodes without one.
        let mut ring = HashRing::new(16).unwrap();
        for (id, zone) in [0, 0, 0, 0, 1, 1, 2].into_iter().enumerate() {
            ring.add_node(NodeId(id as u64), 1, Some(ZoneId(zone)))
                .unwrap();
        }
        ring.add_node(NodeId(7), 1, None).unwrap();
        ring.add_node(NodeId(8), 1, None).unwrap();
        assert_eq!(ring.zone_count(), 4);
        let zone = |node: NodeId| ring.nodes().iter().find(|m| m.id == node).unwrap().zone;
        let mut out = [NodeId(u64::MAX); 9];
        for i in 0..1000 {
            let k = key(i);
            for n in [1, 2, 3, 4, 6, 9] {
                let count = ring.preference_list_by_zone(&k, n, &mut out).unwrap();
                assert_eq!(count, n);
                let list = &out[..count];
                assert_eq!(list[0], ring.owner(&k).unwrap());
                assert!((1..count).all(|j| !list[..j].contains(&list[j])));
                let mut zones: std::vec::Vec<_> = list.iter().map(|&node| zone(node)).collect();
                zones.sort();
                zones.dedup();
                assert_eq!(zones.len(), n.min(4), "key {i}, n = {n}");
            }
        }
    }

    #[test]
    fn more_vnodes_spread_keys_more_evenly() {
        let mut previous = f64::INFINITY;
        for vnodes in [1, 16, 64, 256] {
            let counts = spread(&ring(vnodes, 0..10), 10);
            let mean = KEYS as f64 / 10.0;
            let variance = counts
                .iter()
                .map(|&c| (c as f64 - mean) * (c as f64 - mean))
                .sum::<f64>()
                / 10.0;
            let relative = libm::sqrt(variance) / mean;
            std::println!("ring 10 nodes x {vnodes} vnodes: std dev / mean = {relative:.4}");
            assert!(relative < previous, "{vnodes} vnodes spread no better");
            previous = relative;
        }
        assert!(previous < 0.1);
    }

    #[test]
    fn a_node_of_weight_two_gets_about_twice_the_keys() {
        let mut ring = ring(64, 0..9);
        ring.add_node(NodeId(9), 2, None).unwrap();
        let counts = spread(&ring, 10);
        let single = counts[..9].iter().sum::<u64>() as f64 / 9.0;
        let ratio = counts[9] as f64 / single;
        std::println!("ring weight 2 vs 1: {ratio:.3}x the keys");
        assert!((1.7..2.3).contains(&ratio));
    }
}
