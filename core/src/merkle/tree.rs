//! A Merkle tree that keeps every perfect subtree's hash.

use alloc::vec::Vec;
use core::ops::Range;

use sha2::{Digest, Sha256};

use super::{EMPTY_ROOT, Error, Hash, leaf_hash, node_hash, write_node_input};

/// A Merkle tree (RFC 9162 §2.1) stored level by level: level `h` holds the
/// hash of every complete, aligned perfect subtree of `2^h` leaves. That is
/// `2n − 1` hashes at most, and every RFC subtree hash of any prefix of the
/// tree is either stored or combines O(log n) stored ones.
///
/// Appending hashes one leaf plus one node per completed pair (amortised
/// O(1), worst case O(log n)); [`from_leaves`](Self::from_leaves) builds
/// level by level.
///
/// ```
/// use consensio::merkle::{MerkleTree, leaf_hash, verify_consistency, verify_inclusion};
///
/// let mut tree = MerkleTree::from_leaves(&[b"a".as_slice(), b"b", b"c"]);
/// let old_root = tree.root();
/// tree.push(b"d");
/// tree.push(b"e");
///
/// let proof = tree.inclusion_proof(2, 5)?;
/// verify_inclusion(&leaf_hash(b"c"), 2, 5, &proof, &tree.root())?;
///
/// let proof = tree.consistency_proof(3, 5)?;
/// verify_consistency(3, 5, &old_root, &tree.root(), &proof)?;
/// assert_eq!(tree.root_at(3)?, old_root);
/// # Ok::<(), consensio::merkle::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[h][i]` = hash of leaves `[i·2^h, (i+1)·2^h)`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// The empty tree.
    #[must_use]
    pub const fn new() -> Self {
        MerkleTree { levels: Vec::new() }
    }

    /// A tree over `leaves`.
    #[must_use]
    pub fn from_leaves<L: AsRef<[u8]>>(leaves: &[L]) -> Self {
        Self::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l.as_ref())).collect())
    }

    /// A tree over leaves whose hashes ([`leaf_hash`]) are already known.
    #[must_use]
    pub fn from_leaf_hashes(leaf_hashes: Vec<Hash>) -> Self {
        let mut levels = Vec::new();
        let mut level = leaf_hashes;
        while level.len() > 1 {
            let parents = parents_of(&level);
            levels.push(level);
            level = parents;
        }
        if !level.is_empty() {
            levels.push(level);
        }
        MerkleTree { levels }
    }

    /// Number of leaves.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of leaf `index`.
    #[must_use]
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.stored(0, index)
    }

    /// Appends a leaf.
    pub fn push(&mut self, data: &[u8]) {
        self.push_hash(leaf_hash(data));
    }

    /// Appends a leaf whose hash is already known.
    pub fn push_hash(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut height = 0;
        loop {
            if self.levels.len() == height {
                self.levels.push(Vec::new());
            }
            let Some(level) = self.levels.get_mut(height) else {
                return;
            };
            level.push(carry);
            // An even count means this node completed a pair: hash it upward.
            match level.as_slice() {
                [.., left, right] if level.len() % 2 == 0 => carry = node_hash(left, right),
                _ => return,
            }
            height += 1;
        }
    }

    /// The root of the whole tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        self.subtree(0, self.len())
    }

    /// The root the tree had when it held `size` leaves.
    ///
    /// # Errors
    /// [`Error::SizeOutOfRange`] if `size > len()`.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    /// The audit path for leaf `index` in the tree of the first `size`
    /// leaves (RFC 9162 §2.1.3.1), deepest sibling first.
    ///
    /// # Errors
    /// [`Error::SizeOutOfRange`] if `size > len()`,
    /// [`Error::IndexOutOfRange`] if `index >= size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        self.check_size(size)?;
        if index >= size {
            return Err(Error::IndexOutOfRange { index, size });
        }
        // Walk down from the root, collecting the sibling of each step;
        // the RFC lists them bottom-up.
        let mut proof = Vec::new();
        let (mut start, mut end) = (0, size);
        while end - start > 1 {
            let k = split_point(end - start);
            if index < start + k {
                proof.push(self.subtree(start + k, end));
                end = start + k;
            } else {
                proof.push(self.subtree(start, start + k));
                start += k;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    /// The proof that the tree of the first `old_size` leaves is a prefix of
    /// the tree of the first `new_size` (RFC 9162 §2.1.4.1). Empty when
    /// `old_size` is 0 or equals `new_size`.
    ///
    /// # Errors
    /// [`Error::SizeOutOfRange`] if `new_size > len()` or
    /// `old_size > new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, Error> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(Error::SizeOutOfRange {
                size: old_size,
                max: new_size,
            });
        }
        let mut proof = Vec::new();
        if old_size == 0 || old_size == new_size {
            return Ok(proof);
        }
        // SUBPROOF(m, D[start:end], whole), unrolled top-down; the RFC
        // appends on the way back up, so reverse at the end.
        let (mut m, mut start, mut end, mut whole) = (old_size, 0, new_size, true);
        while m != end - start {
            let k = split_point(end - start);
            if m <= k {
                proof.push(self.subtree(start + k, end));
                end = start + k;
            } else {
                proof.push(self.subtree(start, start + k));
                start += k;
                m -= k;
                whole = false;
            }
        }
        if !whole {
            proof.push(self.subtree(start, end));
        }
        proof.reverse();
        Ok(proof)
    }

    /// The leaf ranges where `self` and `other` differ, coalesced and in
    /// order. Both trees must hold the same number of leaves.
    ///
    /// Descends only into subtrees whose hashes differ: O(k log n) hash
    /// comparisons for k differing leaves, no hashing, and no allocation
    /// once `out` has room (it is cleared first).
    ///
    /// ```
    /// use consensio::merkle::MerkleTree;
    /// let a = MerkleTree::from_leaves(&[b"a".as_slice(), b"b", b"c", b"d", b"e"]);
    /// let b = MerkleTree::from_leaves(&[b"a".as_slice(), b"B", b"C", b"d", b"E"]);
    /// let mut ranges = Vec::new();
    /// a.diff(&b, &mut ranges)?;
    /// assert_eq!(ranges, [1..3, 4..5]);
    /// # Ok::<(), consensio::merkle::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the sizes differ; `out` is then empty.
    pub fn diff(&self, other: &MerkleTree, out: &mut Vec<Range<u64>>) -> Result<(), Error> {
        out.clear();
        if self.len() != other.len() {
            return Err(Error::ShapeMismatch);
        }
        self.diff_range(other, 0, self.len(), out);
        Ok(())
    }

    fn diff_range(&self, other: &MerkleTree, start: u64, end: u64, out: &mut Vec<Range<u64>>) {
        let width = end - start;
        if width == 0 {
            return;
        }
        // Perfect aligned subtrees are stored: compare them directly. The
        // few subtrees on the right edge that are not perfect are not
        // stored; descend without comparing.
        if width.is_power_of_two() {
            let height = width.trailing_zeros() as usize;
            let index = start >> height;
            if self.stored(height, index) == other.stored(height, index) {
                return;
            }
            if width == 1 {
                match out.last_mut() {
                    Some(last) if last.end == start => last.end = end,
                    _ => out.push(start..end),
                }
                return;
            }
        }
        let k = split_point(width);
        self.diff_range(other, start, start + k, out);
        self.diff_range(other, start + k, end, out);
    }

    /// The stored hash of perfect subtree `index` at `height`, if complete.
    fn stored(&self, height: usize, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.get(height)?.get(index).copied()
    }

    /// MTH of leaves `[start, end)`, where `[start, end)` is a subtree of
    /// some prefix of this tree in the RFC's split (so `start` is aligned to
    /// the largest power of two not above `end - start`).
    fn subtree(&self, start: u64, end: u64) -> Hash {
        let width = end - start;
        if width == 0 {
            return EMPTY_ROOT;
        }
        if width.is_power_of_two() {
            let height = width.trailing_zeros() as usize;
            return self.stored(height, start >> height).unwrap_or(EMPTY_ROOT);
        }
        let k = split_point(width);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    fn check_size(&self, size: u64) -> Result<(), Error> {
        if size > self.len() {
            return Err(Error::SizeOutOfRange {
                size,
                max: self.len(),
            });
        }
        Ok(())
    }
}

/// Node hashes of a level are computed this many at a time.
const NODE_BATCH: usize = 8;

/// The [`node_hash`] of every complete pair of `level` (an odd last node has
/// no parent yet), in order.
///
/// The inputs of a batch of [`NODE_BATCH`] nodes are all written before any
/// of them is hashed. Hashing each input right after writing it makes
/// SHA-256 wait for those stores to reach its loads (a store-forwarding
/// stall: the `0x01` prefix offsets the children by one byte); batching
/// hides that, and lets consecutive hashes overlap, which makes a level
/// about 15–20% faster (see BENCHMARKS.md).
fn parents_of(level: &[Hash]) -> Vec<Hash> {
    let mut parents = Vec::with_capacity(level.len() / 2);
    let mut inputs = [[0u8; 65]; NODE_BATCH];
    for chunk in level.chunks(2 * NODE_BATCH) {
        let mut count = 0;
        for (input, pair) in inputs.iter_mut().zip(chunk.chunks_exact(2)) {
            if let [left, right] = pair {
                write_node_input(input, left, right);
                count += 1;
            }
        }
        parents.extend(
            inputs
                .iter()
                .take(count)
                .map(|input| Hash::from(Sha256::digest(input))),
        );
    }
    parents
}

/// The largest power of two strictly less than `n` (`n >= 2`): where RFC
/// 9162 splits a tree of `n` leaves.
const fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }
}
