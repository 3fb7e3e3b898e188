//! A keyed Merkle tree for key-value anti-entropy (Cassandra/Riak style).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use super::{Error, Hash, node_hash};

/// The deepest keyed tree: 2^20 buckets (32 MiB of node hashes).
pub const MAX_KEYED_DEPTH: u8 = 20;

/// A fixed-shape Merkle tree over `2^depth` buckets of `(key, version hash)`
/// entries, so replicas holding different key sets can still be compared
/// node by node.
///
/// - A key lives in bucket `b` = the top `depth` bits of the first eight
///   bytes (big-endian) of SHA-256(key). The mapping is fixed across
///   versions, platforms and languages.
/// - A bucket's hash is `SHA-256(0x00 ‖ entries)`, its entries sorted by key
///   and each written as `len(key) as u32 big-endian ‖ key ‖ version hash`;
///   an empty bucket hashes like an empty leaf.
/// - Inner nodes are [`node_hash`](super::node_hash) of their children; the
///   tree is perfect, so node `i` of level `l` (the root is level 0) covers
///   buckets `[i·2^(depth−l), (i+1)·2^(depth−l))`.
///
/// Changing one key rehashes its bucket and the `depth` nodes above it.
/// The version hash is the application's: a digest of the value and its
/// version, say, so that two replicas agree on it exactly when they hold
/// the same version.
///
/// ```
/// use consensio::merkle::KeyedTree;
///
/// let mut a = KeyedTree::new(4)?;
/// let mut b = KeyedTree::new(4)?;
/// a.insert(b"apple", [1; 32]);
/// b.insert(b"apple", [1; 32]);
/// assert_eq!(a.root(), b.root());
/// b.insert(b"pear", [2; 32]);
/// let mut buckets = Vec::new();
/// a.diff_buckets(&b, &mut buckets)?;
/// assert_eq!(buckets, [b.bucket_of(b"pear")]);
/// # Ok::<(), consensio::merkle::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KeyedTree {
    depth: u8,
    /// Heap layout: `nodes[1]` is the root, node `n` has children `2n` and
    /// `2n + 1`, and bucket `b`'s hash is `nodes[2^depth + b]`.
    nodes: Vec<Hash>,
    buckets: Vec<Vec<(Vec<u8>, Hash)>>,
    keys: usize,
}

impl KeyedTree {
    /// An empty tree of `2^depth` buckets.
    ///
    /// # Errors
    /// [`Error::BadDepth`] if `depth > MAX_KEYED_DEPTH`.
    pub fn new(depth: u8) -> Result<Self, Error> {
        if depth > MAX_KEYED_DEPTH {
            return Err(Error::BadDepth { depth });
        }
        let width = 1usize << depth;
        let mut nodes = vec![[0u8; 32]; 2 * width];
        // Empty subtrees of equal height share a hash: fill level by level.
        let mut empty = bucket_hash(&[]);
        for level in (0..=depth).rev() {
            let start = 1usize << level;
            if let Some(row) = nodes.get_mut(start..2 * start) {
                row.fill(empty);
            }
            empty = node_hash(&empty, &empty);
        }
        Ok(KeyedTree {
            depth,
            nodes,
            buckets: vec![Vec::new(); width],
            keys: 0,
        })
    }

    /// The depth: the tree has `2^depth` buckets.
    #[must_use]
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// Number of keys held.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.keys
    }

    /// Whether no key is held.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// The root hash.
    #[must_use]
    pub fn root(&self) -> Hash {
        self.node(0, 0).unwrap_or_default()
    }

    /// The bucket `key` belongs to.
    #[must_use]
    pub fn bucket_of(&self, key: &[u8]) -> u32 {
        let digest = Sha256::digest(key);
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        let h = u64::from_be_bytes(prefix);
        // depth <= 20, so the shifted value fits in u32.
        u32::try_from(h.checked_shr(64 - u32::from(self.depth)).unwrap_or(0)).unwrap_or(0)
    }

    /// The hash of node `index` at `level` (0 = root, `depth` = buckets).
    #[must_use]
    pub fn node(&self, level: u8, index: u32) -> Option<Hash> {
        if level > self.depth || u64::from(index) >= 1u64 << level {
            return None;
        }
        let at = (1usize << level) + usize::try_from(index).ok()?;
        self.nodes.get(at).copied()
    }

    /// The entries of `bucket`, sorted by key.
    #[must_use]
    pub fn bucket(&self, bucket: u32) -> Option<&[(Vec<u8>, Hash)]> {
        self.buckets
            .get(usize::try_from(bucket).ok()?)
            .map(Vec::as_slice)
    }

    /// The version hash stored for `key`.
    #[must_use]
    pub fn get(&self, key: &[u8]) -> Option<Hash> {
        let entries = self.bucket(self.bucket_of(key))?;
        let at = entries.binary_search_by(|e| e.0.as_slice().cmp(key)).ok()?;
        entries.get(at).map(|e| e.1)
    }

    /// Sets `key`'s version hash; returns the previous one.
    pub fn insert(&mut self, key: &[u8], version: Hash) -> Option<Hash> {
        let bucket = self.bucket_of(key);
        let entries = self.buckets.get_mut(usize::try_from(bucket).ok()?)?;
        let previous = match entries.binary_search_by(|e| e.0.as_slice().cmp(key)) {
            Ok(at) => entries
                .get_mut(at)
                .map(|e| core::mem::replace(&mut e.1, version)),
            Err(at) => {
                entries.insert(at, (key.to_vec(), version));
                self.keys += 1;
                None
            }
        };
        if previous != Some(version) {
            self.rehash(bucket);
        }
        previous
    }

    /// Removes `key`; returns its version hash if it was present.
    pub fn remove(&mut self, key: &[u8]) -> Option<Hash> {
        let bucket = self.bucket_of(key);
        let entries = self.buckets.get_mut(usize::try_from(bucket).ok()?)?;
        let at = entries.binary_search_by(|e| e.0.as_slice().cmp(key)).ok()?;
        let (_, version) = entries.remove(at);
        self.keys -= 1;
        self.rehash(bucket);
        Some(version)
    }

    /// The buckets whose hashes differ from `other`'s, ascending, found by
    /// descending only into differing subtrees. `out` is cleared first.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the depths differ.
    pub fn diff_buckets(&self, other: &KeyedTree, out: &mut Vec<u32>) -> Result<(), Error> {
        out.clear();
        if self.depth != other.depth {
            return Err(Error::ShapeMismatch);
        }
        self.diff_node(other, 0, 0, out);
        Ok(())
    }

    fn diff_node(&self, other: &KeyedTree, level: u8, index: u32, out: &mut Vec<u32>) {
        if self.node(level, index) == other.node(level, index) {
            return;
        }
        if level == self.depth {
            out.push(index);
            return;
        }
        let left = index << 1;
        self.diff_node(other, level + 1, left, out);
        self.diff_node(other, level + 1, left | 1, out);
    }

    /// Recomputes `bucket`'s hash and its ancestors'.
    fn rehash(&mut self, bucket: u32) {
        let Ok(b) = usize::try_from(bucket) else {
            return;
        };
        let hash = self.buckets.get(b).map_or([0; 32], |e| bucket_hash(e));
        let mut at = (1usize << self.depth) + b;
        if let Some(slot) = self.nodes.get_mut(at) {
            *slot = hash;
        }
        while at > 1 {
            let parent = at / 2;
            let (left, right) = (self.nodes.get(2 * parent), self.nodes.get(2 * parent + 1));
            if let (Some(l), Some(r)) = (left, right) {
                let h = node_hash(l, r);
                if let Some(slot) = self.nodes.get_mut(parent) {
                    *slot = h;
                }
            }
            at = parent;
        }
    }
}

/// `SHA-256(0x00 ‖ entries)` with each entry as `len(key) u32 BE ‖ key ‖ version`.
fn bucket_hash(entries: &[(Vec<u8>, Hash)]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    for (key, version) in entries {
        // Keys longer than 4 GiB cannot be built on the platforms we run on.
        let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
        hasher.update(len.to_be_bytes());
        hasher.update(key);
        hasher.update(version);
    }
    hasher.finalize().into()
}

impl fmt::Debug for KeyedTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedTree")
            .field("depth", &self.depth)
            .field("keys", &self.keys)
            .field("root", &self.root())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MerkleTree, leaf_hash};

    #[test]
    fn an_empty_keyed_tree_equals_a_merkle_tree_of_empty_buckets() {
        for depth in 0..6u8 {
            let t = KeyedTree::new(depth).unwrap();
            let leaves = vec![[0u8; 0]; 1 << depth];
            assert_eq!(
                t.root(),
                MerkleTree::from_leaves(&leaves).root(),
                "depth {depth}"
            );
            assert_eq!(bucket_hash(&[]), leaf_hash(b""));
        }
        assert_eq!(KeyedTree::new(21), Err(Error::BadDepth { depth: 21 }));
    }

    #[test]
    fn the_root_depends_on_content_not_on_insertion_order() {
        let keys: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut a = KeyedTree::new(3).unwrap();
        let mut b = KeyedTree::new(3).unwrap();
        for k in &keys {
            a.insert(k, leaf_hash(k));
        }
        for k in keys.iter().rev() {
            b.insert(k, leaf_hash(k));
        }
        assert_eq!(a.root(), b.root());
        assert_eq!(a.len(), 100);
        // Rebuilding every bucket from scratch gives the same tree.
        let leaves: Vec<Vec<u8>> = (0..8)
            .map(|bk| {
                let mut enc = Vec::new();
                for (k, v) in a.bucket(bk).unwrap() {
                    enc.extend_from_slice(&(k.len() as u32).to_be_bytes());
                    enc.extend_from_slice(k);
                    enc.extend_from_slice(v);
                }
                enc
            })
            .collect();
        assert_eq!(a.root(), MerkleTree::from_leaves(&leaves).root());
    }

    #[test]
    fn insert_update_and_remove_restore_the_previous_root() {
        let mut t = KeyedTree::new(5).unwrap();
        t.insert(b"a", [1; 32]);
        let before = t.root();
        assert_eq!(t.insert(b"b", [2; 32]), None);
        assert_ne!(t.root(), before);
        assert_eq!(t.insert(b"b", [3; 32]), Some([2; 32]));
        assert_eq!(t.get(b"b"), Some([3; 32]));
        assert_eq!(t.remove(b"b"), Some([3; 32]));
        assert_eq!(t.remove(b"b"), None);
        assert_eq!(t.root(), before);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn bucket_assignment_is_pinned() {
        // Top bits of SHA-256: "" -> e3b0c442... ; "a" -> ca978112...
        let t = KeyedTree::new(8).unwrap();
        assert_eq!(t.bucket_of(b""), 0xe3);
        assert_eq!(t.bucket_of(b"a"), 0xca);
        assert_eq!(KeyedTree::new(0).unwrap().bucket_of(b"a"), 0);
        assert_eq!(KeyedTree::new(20).unwrap().bucket_of(b""), 0xe3b0c);
    }
}
