//! Merkle trees (RFC 6962 / RFC 9162 §2.1) with inclusion and consistency
//! proofs, tree diff, and key-value anti-entropy.
//!
//! # The hash
//!
//! SHA-256 with domain separation, exactly as Certificate Transparency:
//!
//! ```text
//! MTH({})       = SHA-256()
//! leaf hash     = SHA-256(0x00 ‖ data)
//! node hash     = SHA-256(0x01 ‖ left ‖ right)
//! MTH(D[0:n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//! ```
//!
//! A tree of `n` leaves is split at the largest power of two below `n`; an odd
//! node is never duplicated. Duplicating it, as Bitcoin's tree does, makes
//! two different leaf lists share a root (CVE-2012-2459); the prefixes keep a
//! leaf from posing as an inner node (second preimages). SHA-256 comes from
//! the RustCrypto `sha2` crate, which uses the x86 SHA extensions (SHA-NI)
//! when the CPU has them, detected at run time.
//!
//! # What is here
//!
//! - [`leaf_hash`], [`node_hash`], [`root`] (no allocation), and the
//!   verifiers [`verify_inclusion`] and [`verify_consistency`] (RFC 9162
//!   §2.1.3.2 and §2.1.4.2), which need no tree and no allocation.
//! - [`MerkleTree`] (`alloc`): built from a leaf slice or appended to one
//!   leaf at a time; root at any earlier size; inclusion and consistency
//!   proofs; [`diff`](MerkleTree::diff) of two trees of the same size.
//! - [`KeyedTree`] (`alloc`): a fixed-shape tree over `2^depth` buckets of
//!   `(key, version hash)` entries for key-value anti-entropy, updated
//!   incrementally, and the [`AntiEntropy`] participant that finds the
//!   differing keys between two replicas.

#[cfg(feature = "alloc")]
pub mod anti_entropy;
#[cfg(feature = "alloc")]
mod keyed;
#[cfg(feature = "alloc")]
mod tree;
mod verify;

use crate::error::{Classify, ErrorKind};
use core::fmt;

use sha2::{Digest, Sha256};

#[cfg(feature = "alloc")]
pub use anti_entropy::{AntiEntropy, KeyDifference, SyncFailure};
#[cfg(feature = "alloc")]
pub use keyed::{KeyedTree, MAX_KEYED_DEPTH};
#[cfg(feature = "alloc")]
pub use tree::MerkleTree;
pub use verify::{verify_consistency, verify_inclusion};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The hash of a leaf: `SHA-256(0x00 ‖ data)`.
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(data)
        .finalize()
        .into()
}

/// The hash of an inner node: `SHA-256(0x01 ‖ left ‖ right)`.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 65];
    write_node_input(&mut block, left, right);
    Sha256::digest(block).into()
}

/// Writes `0x01 ‖ left ‖ right`, what [`node_hash`] hashes, into `block`.
fn write_node_input(block: &mut [u8; 65], left: &Hash, right: &Hash) {
    let (prefix, children) = block.split_at_mut(1);
    prefix.copy_from_slice(&[0x01]);
    let (l, r) = children.split_at_mut(32);
    l.copy_from_slice(left);
    r.copy_from_slice(right);
}

/// The Merkle Tree Hash of `leaves`, in O(log n) memory and no allocation.
///
/// ```
/// use consensio::merkle::{root, EMPTY_ROOT};
/// assert_eq!(root::<&[u8]>(&[]), EMPTY_ROOT);
/// let r = root(&[b"a".as_slice(), b"b", b"c"]);
/// assert_ne!(r, root(&[b"a".as_slice(), b"b", b"c", b"c"]), "no duplicated odd node");
/// ```
#[must_use]
pub fn root<L: AsRef<[u8]>>(leaves: &[L]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(leaf_hash(leaf.as_ref()));
    }
    frontier.root()
}

/// The right edge of a growing tree: the roots of its perfect subtrees, one
/// per set bit of the size. Appending is amortised O(1) hashing.
struct Frontier {
    /// `peaks[h]` is the root of the perfect subtree of height `h` if bit
    /// `h` of `size` is set.
    peaks: [Hash; 64],
    size: u64,
}

impl Frontier {
    const fn new() -> Self {
        Frontier {
            peaks: [[0; 32]; 64],
            size: 0,
        }
    }

    fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut height = 0;
        while self.size >> height & 1 == 1 {
            if let Some(left) = self.peaks.get(height) {
                carry = node_hash(left, &carry);
            }
            height += 1;
        }
        if let Some(slot) = self.peaks.get_mut(height) {
            *slot = carry;
        }
        self.size = self.size.wrapping_add(1);
    }

    fn root(&self) -> Hash {
        // Fold the peaks from the smallest (rightmost) to the largest.
        let mut acc: Option<Hash> = None;
        for (height, peak) in self.peaks.iter().enumerate() {
            if self.size >> height & 1 == 1 {
                acc = Some(match acc {
                    None => *peak,
                    Some(right) => node_hash(peak, &right),
                });
            }
        }
        acc.unwrap_or(EMPTY_ROOT)
    }
}

/// Why a Merkle operation failed. Nothing is changed on error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A leaf index at or beyond the tree size.
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree size larger than the tree (or an old size larger than a new one).
    SizeOutOfRange {
        /// The size asked for.
        size: u64,
        /// The largest size allowed.
        max: u64,
    },
    /// A proof with more or fewer hashes than the sizes call for.
    WrongProofLength,
    /// The proof does not lead to the given root(s).
    RootMismatch,
    /// Two trees that should have the same shape do not.
    ShapeMismatch,
    /// A keyed-tree depth or bucket index outside what is supported.
    BadDepth {
        /// The depth given.
        depth: u8,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is outside a tree of {size} leaves")
            }
            Error::SizeOutOfRange { size, max } => {
                write!(f, "tree size {size} exceeds {max}")
            }
            Error::WrongProofLength => f.write_str("proof has the wrong number of hashes"),
            Error::RootMismatch => f.write_str("proof does not match the root"),
            Error::ShapeMismatch => f.write_str("trees have different shapes"),
            Error::BadDepth { depth } => write!(f, "unsupported keyed-tree depth {depth}"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::IndexOutOfRange { .. } | Error::SizeOutOfRange { .. } => ErrorKind::OutOfRange,
            Error::WrongProofLength | Error::RootMismatch => ErrorKind::VerificationFailed,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_the_empty_string() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(root::<&[u8]>(&[]), EMPTY_ROOT);
    }
}
