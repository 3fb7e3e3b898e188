//! Proof verification, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
//! (consistency). Neither needs the tree nor allocates.

use super::{Error, Hash, node_hash};

/// Checks that the leaf whose hash is `leaf` sits at `index` in the tree of
/// `size` leaves whose root is `root`, given the audit path `proof`
/// (deepest sibling first).
///
/// # Errors
/// [`Error::IndexOutOfRange`] if `index >= size`;
/// [`Error::WrongProofLength`] if the proof has extra or missing
/// hashes for that (index, size); [`Error::RootMismatch`] otherwise if
/// it does not lead to `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(Error::WrongProofLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            // Skip the levels where this node has no right sibling.
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::WrongProofLength);
    }
    if r != *root {
        return Err(Error::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix
/// of the tree of `new_size` leaves with root `new_root`, given the
/// consistency proof `proof`.
///
/// By convention the empty tree is a prefix of every tree, and a tree is
/// consistent with itself; both cases take an empty proof.
///
/// # Errors
/// [`Error::SizeOutOfRange`] if `old_size > new_size`;
/// [`Error::WrongProofLength`] if the proof has extra or missing
/// hashes; [`Error::RootMismatch`] if either root does not match.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    if old_size > new_size {
        return Err(Error::SizeOutOfRange {
            size: old_size,
            max: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(Error::WrongProofLength);
        }
        if old_size == new_size && old_root != new_root {
            return Err(Error::RootMismatch);
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(Error::WrongProofLength);
    }
    // When the old tree is a perfect subtree of the new one, its root is the
    // first node of the path and the proof omits it.
    let implied = old_size.is_power_of_two().then_some(old_root);
    let mut path = implied.into_iter().chain(proof);
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let first = *path.next().ok_or(Error::WrongProofLength)?;
    let (mut fr, mut sr) = (first, first);
    for c in path {
        if s == 0 {
            return Err(Error::WrongProofLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::WrongProofLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(Error::RootMismatch);
    }
    Ok(())
}
