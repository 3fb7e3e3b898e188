//! Weighted rendezvous (highest random weight) hashing.

use alloc::vec::Vec;
use core::cmp::Ordering;

use super::hash::{key_position, rendezvous_hash};
use super::{Error, MAX_NODES};
use crate::id::NodeId;

/// `2⁵²`: the hash's top 52 bits divided by it land in `[0, 1)`.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// Weighted rendezvous hashing (Thaler and Ravishankar's highest random
/// weight), with Schindelhauer and Schomaker's logarithmic weighting.
///
/// For a key at position `p` ([`key_position`]), node `id` of weight `w`
/// scores `w / -ln(u)`, where `u = (top 52 bits of h + ½) / 2⁵²` and
/// `h = `[`rendezvous_hash`]`(p, id)`, so `u` lies strictly inside `(0, 1)`
/// and every score is finite and positive. The highest score owns the key;
/// equal scores go to the lower id. Each node wins a share of keys
/// proportional to its weight, and removing a node moves only its keys.
///
/// `ln` is the pure-Rust `libm` crate's, so scores are the same bits on every
/// platform, soft-float ones included. A reimplementation with another `log`
/// may differ in the last bit and so, very rarely, in a near-tie.
///
/// A lookup scores every member: `O(members)` per owner and
/// `O(n × members)` for a preference list of `n`, with no allocation. The set
/// holds at most [`MAX_NODES`] members.
///
/// ```
/// use consensio::NodeId;
/// use consensio::ring::Rendezvous;
///
/// let mut nodes = Rendezvous::new();
/// nodes.add_node(NodeId(1), 1)?;
/// nodes.add_node(NodeId(2), 1)?;
/// nodes.add_node(NodeId(3), 2)?;
/// let owner = nodes.owner(b"user:42")?;
///
/// let mut replicas = [NodeId(0); 3];
/// assert_eq!(nodes.preference_list(b"user:42", 3, &mut replicas)?, 3);
/// assert_eq!(replicas[0], owner);
///
/// // Only the departed node's keys move.
/// let other = if owner == NodeId(1) { NodeId(2) } else { NodeId(1) };
/// nodes.remove_node(other)?;
/// assert_eq!(nodes.owner(b"user:42")?, owner);
/// # Ok::<(), consensio::ring::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Rendezvous {
    /// `(node, weight)`, sorted by node.
    nodes: Vec<(NodeId, u32)>,
}

impl Rendezvous {
    /// An empty set.
    #[must_use]
    pub const fn new() -> Self {
        Rendezvous { nodes: Vec::new() }
    }

    /// Adds `node` with `weight`.
    ///
    /// # Errors
    /// [`Error::DuplicateNode`] if it is a member,
    /// [`Error::ZeroWeight`] if `weight` is 0, and
    /// [`Error::TooManyNodes`] if the set already has [`MAX_NODES`].
    pub fn add_node(&mut self, node: NodeId, weight: u32) -> Result<(), Error> {
        let at = match self.nodes.binary_search_by_key(&node, |n| n.0) {
            Ok(_) => return Err(Error::DuplicateNode { node }),
            Err(at) => at,
        };
        if weight == 0 {
            return Err(Error::ZeroWeight { node });
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(Error::TooManyNodes { max: MAX_NODES });
        }
        self.nodes.insert(at, (node, weight));
        Ok(())
    }

    /// Removes `node`; returns its weight.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if it is not a member.
    pub fn remove_node(&mut self, node: NodeId) -> Result<u32, Error> {
        let at = self
            .nodes
            .binary_search_by_key(&node, |n| n.0)
            .map_err(|_| Error::UnknownNode { node })?;
        Ok(self.nodes.remove(at).1)
    }

    /// The node with the highest score for `key`.
    ///
    /// # Errors
    /// [`Error::Empty`] if there are no members.
    pub fn owner(&self, key: &[u8]) -> Result<NodeId, Error> {
        self.best_below(key_position(key), None)
            .map(|(_, node)| node)
            .ok_or(Error::Empty)
    }

    /// Writes the `n` highest-scoring nodes for `key` into `out`, highest
    /// first (all members if there are fewer), and returns how many it
    /// wrote. The first is the [`owner`](Self::owner).
    ///
    /// # Errors
    /// [`Error::OutputTooSmall`] if `out` is shorter than `n`;
    /// [`Error::Empty`] if there are no members.
    pub fn preference_list(
        &self,
        key: &[u8],
        n: usize,
        out: &mut [NodeId],
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
        let position = key_position(key);
        let mut count = 0;
        let mut previous = None;
        // Selection by repeated maximum: each pick is the best node ranked
        // strictly below the last, which needs no scratch space.
        for slot in out.iter_mut().take(n) {
            let Some(next) = self.best_below(position, previous) else {
                break;
            };
            *slot = next.1;
            count += 1;
            previous = Some(next);
        }
        Ok(count)
    }

    /// The members as `(node, weight)`, sorted by node.
    #[must_use]
    pub fn nodes(&self) -> &[(NodeId, u32)] {
        &self.nodes
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The best-ranked `(score, node)` for the key at `position` among those
    /// ranked strictly below `bound` (all of them if `bound` is `None`).
    fn best_below(&self, position: u64, bound: Option<(f64, NodeId)>) -> Option<(f64, NodeId)> {
        self.nodes
            .iter()
            .map(|&(node, weight)| (score(position, node, weight), node))
            .filter(|&c| bound.is_none_or(|b| rank(c, b) == Ordering::Less))
            .max_by(|&a, &b| rank(a, b))
    }
}

/// Node `node`'s weighted score for the key at `position`.
fn score(position: u64, node: NodeId, weight: u32) -> f64 {
    // 52 bits convert to f64 exactly, and adding ½ keeps `u` off both 0 and
    // 1, where `ln` would give -∞ or 0.
    #[allow(clippy::cast_precision_loss)]
    let top = (rendezvous_hash(position, node) >> 12) as f64;
    let u = (top + 0.5) / TWO_POW_52;
    f64::from(weight) / -libm::log(u)
}

/// Higher score ranks higher; on equal scores the lower id does.
fn rank(a: (f64, NodeId), b: (f64, NodeId)) -> Ordering {
    a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    const KEYS: u64 = 100_000;

    fn key(i: u64) -> [u8; 8] {
        i.to_le_bytes()
    }

    fn set(nodes: impl IntoIterator<Item = (u64, u32)>) -> Rendezvous {
        let mut set = Rendezvous::new();
        for (id, weight) in nodes {
            set.add_node(NodeId(id), weight).unwrap();
        }
        set
    }

    #[test]
    fn bad_changes_are_typed_errors_and_leave_the_set_unchanged() {
        let mut nodes = set([(1, 1), (2, 3)]);
        assert_eq!(
            nodes.add_node(NodeId(1), 2),
            Err(Error::DuplicateNode { node: NodeId(1) })
        );
        assert_eq!(
            nodes.add_node(NodeId(3), 0),
            Err(Error::ZeroWeight { node: NodeId(3) })
        );
        assert_eq!(
            nodes.remove_node(NodeId(3)),
            Err(Error::UnknownNode { node: NodeId(3) })
        );
        assert_eq!(nodes.nodes(), &[(NodeId(1), 1), (NodeId(2), 3)]);
        assert_eq!(
            nodes.preference_list(b"k", 2, &mut [NodeId(0)]),
            Err(Error::OutputTooSmall {
                needed: 2,
                found: 1
            })
        );
    }

    #[test]
    fn membership_is_bounded() {
        let mut nodes = set((0..MAX_NODES as u64).map(|id| (id, 1)));
        assert_eq!(
            nodes.add_node(NodeId(u64::MAX), 1),
            Err(Error::TooManyNodes { max: MAX_NODES })
        );
        assert_eq!(nodes.len(), MAX_NODES);
    }

    #[test]
    fn lookups_with_no_members_are_errors() {
        let nodes = Rendezvous::new();
        assert_eq!(nodes.owner(b"k"), Err(Error::Empty));
        assert_eq!(
            nodes.preference_list(b"k", 1, &mut [NodeId(0)]),
            Err(Error::Empty)
        );
    }

    #[test]
    fn placements_follow_the_documented_layout() {
        // From an independent implementation of the layout in the `hash`
        // module docs, over the reference C xxHash and glibc's log.
        let nodes = set([(1, 1), (2, 1), (3, 2)]);
        let mut out = [NodeId(0); 3];
        for (key, order) in [
            (&b"a"[..], [3, 2, 1]),
            (b"b", [2, 3, 1]),
            (b"c", [3, 1, 2]),
            (b"user:42", [1, 2, 3]),
        ] {
            assert_eq!(nodes.owner(key), Ok(NodeId(order[0])));
            assert_eq!(nodes.preference_list(key, 3, &mut out), Ok(3));
            assert_eq!(out, order.map(NodeId));
        }
    }

    #[test]
    fn scores_are_finite_and_positive_at_the_extremes_of_the_hash() {
        for top in [0u64, 1, (1 << 52) - 1] {
            let u = (top as f64 + 0.5) / TWO_POW_52;
            assert!(0.0 < u && u < 1.0);
            let score = f64::from(u32::MAX) / -libm::log(u);
            assert!(score.is_finite() && score > 0.0);
        }
    }

    #[test]
    fn equal_scores_go_to_the_lower_id() {
        assert_eq!(rank((1.0, NodeId(1)), (1.0, NodeId(2))), Ordering::Greater);
        assert_eq!(rank((2.0, NodeId(2)), (1.0, NodeId(1))), Ordering::Greater);
    }

    #[test]
    fn a_joining_node_takes_about_one_in_n_plus_one_keys_and_keys_move_only_to_it() {
        let before = set((0..10).map(|id| (id, 1)));
        let after = set((0..=10).map(|id| (id, 1)));
        let mut moved = 0u64;
        for i in 0..KEYS {
            let (old, new) = (before.owner(&key(i)), after.owner(&key(i)));
            if old != new {
                assert_eq!(new, Ok(NodeId(10)), "key {i} moved between old nodes");
                moved += 1;
            }
        }
        let fraction = moved as f64 / KEYS as f64;
        std::println!("rendezvous 10 -> 11 nodes: moved {fraction:.4} (1/(n+1) = 0.0909)");
        assert!((0.5 / 11.0..1.5 / 11.0).contains(&fraction));
    }

    #[test]
    fn a_leaving_node_gives_up_only_its_own_keys() {
        let before = set((0..10).map(|id| (id, 1)));
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
        std::println!("rendezvous 10 -> 9 nodes: moved {fraction:.4} (1/n = 0.1000)");
        assert!((0.05..0.15).contains(&fraction));
    }

    #[test]
    fn shares_follow_weights() {
        let nodes = set([(0, 1), (1, 1), (2, 2), (3, 4)]);
        let mut counts = [0u64; 4];
        for i in 0..KEYS {
            counts[nodes.owner(&key(i)).unwrap().0 as usize] += 1;
        }
        let unit = KEYS as f64 / 8.0;
        for (count, weight) in counts.iter().zip([1.0, 1.0, 2.0, 4.0]) {
            let ratio = *count as f64 / (unit * weight);
            assert!((0.95..1.05).contains(&ratio), "{counts:?}");
        }
        std::println!("rendezvous weights 1:1:2:4 -> keys {counts:?}");
    }

    #[test]
    fn preference_lists_hold_distinct_nodes_in_descending_score() {
        let nodes = set((0..5).map(|id| (id, id as u32 + 1)));
        let mut out = [NodeId(u64::MAX); 7];
        for i in 0..1000 {
            let k = key(i);
            let position = key_position(&k);
            for n in [1, 3, 5, 7] {
                let count = nodes.preference_list(&k, n, &mut out).unwrap();
                assert_eq!(count, n.min(5));
                let list = &out[..count];
                assert_eq!(list[0], nodes.owner(&k).unwrap());
                let scored: std::vec::Vec<_> = list
                    .iter()
                    .map(|&node| (score(position, node, node.0 as u32 + 1), node))
                    .collect();
                assert!(
                    scored
                        .windows(2)
                        .all(|w| rank(w[0], w[1]) == Ordering::Greater)
                );
            }
        }
    }
}
