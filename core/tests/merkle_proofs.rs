//! RFC 6962 golden vectors, and exhaustive proof checks for every
//! (index, size) and (old, new) up to 64 leaves, with every tampering the
//! verifiers must reject.

use consensio::merkle::{
    self, EMPTY_ROOT, Hash, MerkleTree, leaf_hash, root, verify_consistency, verify_inclusion,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hash(s: &str) -> Hash {
    hex(s).try_into().unwrap()
}

/// The eight leaves of RFC 6962's reference tests (certificate-transparency).
fn rfc_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .map(hex)
    .to_vec()
}

/// Roots of the first n of those leaves, n = 1..=8.
const RFC_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn roots_match_the_rfc_6962_reference_vectors() {
    let leaves = rfc_leaves();
    assert_eq!(MerkleTree::new().root(), EMPTY_ROOT);
    let mut incremental = MerkleTree::new();
    for (n, want) in RFC_ROOTS.iter().enumerate() {
        let want = hash(want);
        let prefix = &leaves[..=n];
        incremental.push(&prefix[n]);
        assert_eq!(root(prefix), want, "frontier root of {}", n + 1);
        assert_eq!(
            MerkleTree::from_leaves(prefix).root(),
            want,
            "bulk root of {}",
            n + 1
        );
        assert_eq!(incremental.root(), want, "incremental root of {}", n + 1);
    }
    let full = MerkleTree::from_leaves(&leaves);
    for (n, want) in RFC_ROOTS.iter().enumerate() {
        assert_eq!(full.root_at(n as u64 + 1).unwrap(), hash(want));
    }
    assert_eq!(full.root_at(0).unwrap(), EMPTY_ROOT);
}

#[test]
fn rfc_6962_reference_audit_path() {
    // certificate-transparency's test vector: leaf 0 of the 8-leaf tree.
    let full = MerkleTree::from_leaves(&rfc_leaves());
    let proof = full.inclusion_proof(0, 8).unwrap();
    let want = [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ];
    assert_eq!(proof, want.map(hash));
}

fn leaves(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
}

/// Every way to damage a proof: flip each bit, drop each node, insert an
/// extra node at each position.
fn tampered(proof: &[Hash]) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        for bit in 0..256 {
            let mut p = proof.to_vec();
            p[i][bit / 8] ^= 1 << (bit % 8);
            out.push(p);
        }
        let mut dropped = proof.to_vec();
        dropped.remove(i);
        out.push(dropped);
    }
    for i in 0..=proof.len() {
        let mut extra = proof.to_vec();
        extra.insert(i, [7; 32]);
        out.push(extra);
    }
    out
}

#[test]
fn inclusion_proofs_verify_for_every_index_and_size_up_to_64_and_tampering_fails() {
    let data = leaves(64);
    let tree = MerkleTree::from_leaves(&data);
    for size in 1..=64u64 {
        let root = tree.root_at(size).unwrap();
        for index in 0..size {
            let leaf = leaf_hash(&data[index as usize]);
            let proof = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
            for bad in tampered(&proof) {
                assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
            }
            let mut other_leaf = leaf;
            other_leaf[0] ^= 1;
            assert!(verify_inclusion(&other_leaf, index, size, &proof, &root).is_err());
            for wrong_index in (0..size).filter(|&i| i != index) {
                assert!(verify_inclusion(&leaf, wrong_index, size, &proof, &root).is_err());
            }
            // A proof for one tree head never verifies against another,
            // unless it is also that head's proof (the RFC's shapes for two
            // sizes can coincide; then the proof is simply valid for both).
            for wrong_size in (index + 1..=64).filter(|&s| s != size) {
                let head = tree.root_at(wrong_size).unwrap();
                let accepted = verify_inclusion(&leaf, index, wrong_size, &proof, &head).is_ok();
                let same_proof = proof == tree.inclusion_proof(index, wrong_size).unwrap();
                assert_eq!(
                    accepted, same_proof,
                    "index {index}: size {size} vs {wrong_size}"
                );
            }
        }
        assert_eq!(
            tree.inclusion_proof(size, size),
            Err(merkle::Error::IndexOutOfRange { index: size, size })
        );
    }
    assert!(tree.inclusion_proof(0, 65).is_err());
}

#[test]
fn consistency_proofs_verify_for_every_pair_up_to_64_and_tampering_fails() {
    let data = leaves(64);
    let tree = MerkleTree::from_leaves(&data);
    let roots: Vec<Hash> = (0..=64).map(|n| tree.root_at(n).unwrap()).collect();
    for new in 1..=64u64 {
        for old in 1..=new {
            let (r1, r2) = (roots[old as usize], roots[new as usize]);
            let proof = tree.consistency_proof(old, new).unwrap();
            assert_eq!(
                verify_consistency(old, new, &r1, &r2, &proof),
                Ok(()),
                "{old} -> {new}"
            );
            for bad in tampered(&proof) {
                assert!(verify_consistency(old, new, &r1, &r2, &bad).is_err());
            }
            let mut bad_root = r1;
            bad_root[31] ^= 0x80;
            assert!(verify_consistency(old, new, &bad_root, &r2, &proof).is_err());
            assert!(verify_consistency(old, new, &r1, &bad_root, &proof).is_err());
            // As for inclusion: a proof verifies for other tree heads only
            // when it is also their proof.
            for wrong_old in (1..=new).filter(|&m| m != old) {
                let head = roots[wrong_old as usize];
                let accepted = verify_consistency(wrong_old, new, &head, &r2, &proof).is_ok();
                let same_proof = proof == tree.consistency_proof(wrong_old, new).unwrap();
                assert_eq!(
                    accepted, same_proof,
                    "{old} -> {new} as {wrong_old} -> {new}"
                );
            }
            for wrong_new in (old..=64).filter(|&n| n != new) {
                let head = roots[wrong_new as usize];
                let accepted = verify_consistency(old, wrong_new, &r1, &head, &proof).is_ok();
                let same_proof = proof == tree.consistency_proof(old, wrong_new).unwrap();
                assert_eq!(
                    accepted, same_proof,
                    "{old} -> {new} as {old} -> {wrong_new}"
                );
            }
        }
    }
    assert_eq!(
        verify_consistency(0, 5, &EMPTY_ROOT, &roots[5], &[]),
        Ok(())
    );
    assert_eq!(
        verify_consistency(6, 5, &roots[6], &roots[5], &[]),
        Err(merkle::Error::SizeOutOfRange { size: 6, max: 5 })
    );
    assert!(tree.consistency_proof(3, 65).is_err());
    assert!(tree.consistency_proof(9, 8).is_err());
}

#[test]
fn incremental_and_bulk_trees_are_identical_at_every_size() {
    let data = leaves(200);
    let mut incremental = MerkleTree::new();
    for n in 0..=200 {
        let bulk = MerkleTree::from_leaves(&data[..n]);
        assert_eq!(incremental, bulk, "size {n}");
        assert_eq!(root(&data[..n]), bulk.root());
        if n < 200 {
            incremental.push(&data[n]);
        }
    }
}
