//! Merkle targets: wire decoding, RFC 6962 trees and proofs against a naive
//! model, and the anti-entropy participant.

use arbitrary::Arbitrary;
use consensio::merkle::{
    self, EMPTY_ROOT, Hash, MerkleTree, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion,
};

use crate::{round_trip, structured};

mod anti_entropy;

pub use anti_entropy::{Scenario, anti_entropy};

/// `merkle_decode`: anti-entropy messages decode without panicking, and
/// whatever decodes survives decode → encode → decode unchanged.
pub fn decode(data: &[u8]) {
    round_trip::<consensio::merkle::anti_entropy::Message>(data);
}

/// Most leaves a `merkle_tree` input builds (the model is quadratic).
const MAX_LEAVES: usize = 64;

#[derive(Arbitrary, Debug)]
pub struct TreeInput {
    leaves: Vec<Vec<u8>>,
    /// How many leaves are built in bulk; the rest are pushed one by one.
    bulk: u8,
    queries: Vec<Query>,
}

#[derive(Arbitrary, Debug)]
enum Query {
    Inclusion {
        index: u8,
        size: u8,
        tamper: Tamper,
    },
    Consistency {
        old: u8,
        new: u8,
        tamper: Tamper,
    },
    Diff {
        changes: Vec<(u8, u8)>,
        resize: Option<u8>,
    },
}

/// One way to corrupt a proof or what it is checked against.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Tamper {
    None,
    /// Flip one bit of one proof hash.
    Flip {
        item: u8,
        byte: u8,
        bit: u8,
    },
    /// Drop the last hash.
    Truncate,
    /// Append a hash.
    Extend(u8),
    /// Swap two hashes.
    Swap(u8, u8),
    /// Claim another leaf index (inclusion) or old size (consistency).
    Index(u8),
    /// Claim another leaf (inclusion) or new size (consistency).
    Leaf(u8),
    /// Flip one bit of the root (the old root, for consistency).
    Root {
        byte: u8,
        bit: u8,
    },
}

/// RFC 9162 §2.1.1 MTH, recursively, over leaf hashes.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => EMPTY_ROOT,
        [leaf] => *leaf,
        _ => {
            let k = split(leaves.len());
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly less than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], whole);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn consistency_model(old: usize, leaves: &[Hash]) -> Vec<Hash> {
    if old == 0 || old == leaves.len() {
        Vec::new()
    } else {
        subproof(old, leaves, true)
    }
}

/// Applies `tamper` to a proof; returns the proof and the index and leaf
/// (or sizes) overrides it implies.
fn tampered(proof: &[Hash], tamper: Tamper) -> Vec<Hash> {
    let mut p = proof.to_vec();
    match tamper {
        Tamper::Flip { item, byte, bit } if !p.is_empty() => {
            let i = usize::from(item) % p.len();
            p[i][usize::from(byte) % 32] ^= 1 << (bit % 8);
        }
        Tamper::Truncate => {
            p.pop();
        }
        Tamper::Extend(b) => p.push([b; 32]),
        Tamper::Swap(i, j) if !p.is_empty() => {
            let (i, j) = (usize::from(i) % p.len(), usize::from(j) % p.len());
            p.swap(i, j);
        }
        _ => {}
    }
    p
}

fn flip(hash: &Hash, byte: u8, bit: u8) -> Hash {
    let mut h = *hash;
    h[usize::from(byte) % 32] ^= 1 << (bit % 8);
    h
}

/// `merkle_tree`: bulk and incremental builds agree with each other and with
/// a naive recursive MTH; inclusion and consistency proofs equal the RFC's
/// PATH and PROOF; a proof verifies exactly when it is the genuine one for
/// what it claims (tampered ones never do); diff equals a leaf-by-leaf
/// comparison.
pub fn tree(data: &[u8]) {
    structured(data, |input: TreeInput| {
        let leaves: Vec<&[u8]> = input
            .leaves
            .iter()
            .take(MAX_LEAVES)
            .map(Vec::as_slice)
            .collect();
        let n = leaves.len();
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let bulk = usize::from(input.bulk) % (n + 1);
        let mut tree = MerkleTree::from_leaves(&leaves[..bulk]);
        for leaf in &leaves[bulk..] {
            tree.push(leaf);
        }
        assert_eq!(
            tree,
            MerkleTree::from_leaves(&leaves),
            "push and bulk differ"
        );
        assert_eq!(tree.len(), n as u64);
        let full = mth(&hashes);
        assert_eq!(tree.root(), full);
        assert_eq!(root(&leaves), full);
        for (i, h) in hashes.iter().enumerate() {
            assert_eq!(tree.leaf(i as u64), Some(*h));
        }
        assert_eq!(tree.leaf(n as u64), None);

        for query in input.queries.iter().take(16) {
            match query {
                Query::Inclusion {
                    index,
                    size,
                    tamper,
                } => inclusion(&tree, &hashes, *index, *size, *tamper),
                Query::Consistency { old, new, tamper } => {
                    consistency(&tree, &hashes, *old, *new, *tamper);
                }
                Query::Diff { changes, resize } => diff(&tree, &leaves, changes, *resize),
            }
        }
    });
}

fn inclusion(tree: &MerkleTree, hashes: &[Hash], index: u8, size: u8, tamper: Tamper) {
    let n = hashes.len();
    let size = usize::from(size) % (n + 2);
    let index = usize::from(index) % (size + 1);
    let proof = tree.inclusion_proof(index as u64, size as u64);
    if size > n {
        assert!(matches!(proof, Err(merkle::Error::SizeOutOfRange { .. })));
        return;
    }
    if index >= size {
        assert!(matches!(proof, Err(merkle::Error::IndexOutOfRange { .. })));
        return;
    }
    let proof = proof.expect("in range");
    let prefix = &hashes[..size];
    assert_eq!(proof, path(index, prefix), "not the RFC's PATH");
    let real_root = mth(prefix);
    assert_eq!(tree.root_at(size as u64), Ok(real_root));
    verify_inclusion(
        &hashes[index],
        index as u64,
        size as u64,
        &proof,
        &real_root,
    )
    .expect("a genuine proof verifies");

    let claimed = tampered(&proof, tamper);
    let (claimed_index, claimed_leaf) = match tamper {
        Tamper::Index(i) => (usize::from(i) % (size + 1), hashes[index]),
        Tamper::Leaf(i) => (index, hashes[usize::from(i) % n]),
        _ => (index, hashes[index]),
    };
    let claimed_root = match tamper {
        Tamper::Root { byte, bit } => flip(&real_root, byte, bit),
        _ => real_root,
    };
    let result = verify_inclusion(
        &claimed_leaf,
        claimed_index as u64,
        size as u64,
        &claimed,
        &claimed_root,
    );
    if claimed_index >= size {
        assert!(matches!(result, Err(merkle::Error::IndexOutOfRange { .. })));
        return;
    }
    // Against the genuine root of this size, a proof verifies exactly when
    // it is that leaf's genuine path.
    let genuine = claimed_root == real_root
        && claimed_leaf == hashes[claimed_index]
        && claimed == path(claimed_index, prefix);
    assert_eq!(
        result.is_ok(),
        genuine,
        "verify_inclusion({claimed_index}, {size}) with {tamper:?}: {result:?}"
    );
}

fn consistency(tree: &MerkleTree, hashes: &[Hash], old: u8, new: u8, tamper: Tamper) {
    let n = hashes.len();
    let new = usize::from(new) % (n + 2);
    let old = usize::from(old) % (new + 2);
    let proof = tree.consistency_proof(old as u64, new as u64);
    if new > n || old > new {
        assert!(matches!(proof, Err(merkle::Error::SizeOutOfRange { .. })));
        return;
    }
    let proof = proof.expect("in range");
    assert_eq!(
        proof,
        consistency_model(old, &hashes[..new]),
        "not the RFC's PROOF"
    );
    let (old_root, new_root) = (mth(&hashes[..old]), mth(&hashes[..new]));
    verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof)
        .expect("a genuine proof verifies");

    let claimed = tampered(&proof, tamper);
    let (claimed_old, claimed_new) = match tamper {
        Tamper::Index(i) => (usize::from(i) % (new + 2), new),
        Tamper::Leaf(i) => (old, usize::from(i) % (n + 2)),
        _ => (old, new),
    };
    let claimed_old_root = match tamper {
        Tamper::Root { byte, bit } => flip(&old_root, byte, bit),
        _ => old_root,
    };
    let result = verify_consistency(
        claimed_old as u64,
        claimed_new as u64,
        &claimed_old_root,
        &new_root,
        &claimed,
    );
    if claimed_old > claimed_new {
        assert!(matches!(result, Err(merkle::Error::SizeOutOfRange { .. })));
        return;
    }
    if claimed_new != new {
        // The new root belongs to another size: only "no panic" is promised.
        return;
    }
    let genuine = if claimed_old == new {
        claimed.is_empty() && claimed_old_root == new_root
    } else if claimed_old == 0 {
        claimed.is_empty()
    } else {
        claimed_old_root == mth(&hashes[..claimed_old])
            && claimed == consistency_model(claimed_old, &hashes[..new])
    };
    assert_eq!(
        result.is_ok(),
        genuine,
        "verify_consistency({claimed_old}, {new}) with {tamper:?}: {result:?}"
    );
}

fn diff(tree: &MerkleTree, leaves: &[&[u8]], changes: &[(u8, u8)], resize: Option<u8>) {
    let mut other: Vec<Vec<u8>> = leaves.iter().map(|l| l.to_vec()).collect();
    for &(i, byte) in changes.iter().take(MAX_LEAVES) {
        if !other.is_empty() {
            let i = usize::from(i) % other.len();
            other[i] = vec![byte];
        }
    }
    if let Some(size) = resize {
        other.resize(usize::from(size) % (MAX_LEAVES + 1), vec![0xee]);
    }
    let other_tree = MerkleTree::from_leaves(&other);
    // Stale contents must be cleared.
    let mut ranges = vec![7..9, 1..2];
    let result = tree.diff(&other_tree, &mut ranges);
    if other.len() != leaves.len() {
        assert_eq!(result, Err(merkle::Error::ShapeMismatch));
        assert!(ranges.is_empty());
        return;
    }
    result.expect("same size");
    let mut model: Vec<std::ops::Range<u64>> = Vec::new();
    for (i, (a, b)) in leaves.iter().zip(&other).enumerate() {
        if leaf_hash(a) != leaf_hash(b) {
            let i = i as u64;
            match model.last_mut() {
                Some(last) if last.end == i => last.end = i + 1,
                _ => model.push(i..i + 1),
            }
        }
    }
    assert_eq!(ranges, model);
    let mut back = Vec::new();
    other_tree.diff(tree, &mut back).expect("same size");
    assert_eq!(back, model, "diff is not symmetric");
}
