//! Merkle tree build, inclusion proofs and diff (RFC 6962 / 9162 trees).
//!
//! Peers: `rs_merkle` 1.5 and `merkle_light` 0.4 for build and proofs,
//! `merkle-search-tree` 0.8 for diff. The floor for a build is the raw
//! SHA-256 (`sha2`) of exactly the bytes an RFC 6962 tree hashes: `n` leaf
//! hashes of `0x00 ‖ leaf` (33 bytes here) and `n − 1` node hashes of
//! `0x01 ‖ left ‖ right` (65 bytes), with no tree around them.
//!
//! Leaves are 32 pseudo-random bytes (a record digest, say).
//!
//! - `merkle_light` hashes the same bytes as RFC 6962 (`0x00`/`0x01`
//!   prefixes); it pads odd levels by duplicating the last node, which a
//!   power-of-two tree never does, so its roots equal consensio's here
//!   (checked). Its SHA-256 is `sha2` plugged into its `Algorithm` trait.
//! - `rs_merkle` takes leaf hashes (the bench hashes the leaves with its own
//!   `Sha256`, a leaf of 32 bytes, inside the timing), hashes nodes as
//!   `SHA-256(left ‖ right)` without prefixes, and uses `sha2` 0.10.
//! - `merkle-search-tree` is a different structure (Auvolat and Taïani's
//!   MST, SipHash, big-endian keys `0..n` holding the leaves as values): its diff
//!   compares two trees' serialised page ranges, prepared outside the timing.

use std::hint::black_box;

use consensio::merkle::{self, Hash, MerkleTree, leaf_hash, verify_inclusion};
use consensio_benches::{distinct_indexes, leaves, scaled};
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use merkle_search_tree::MerkleSearchTree;
use rs_merkle::Hasher as _;
use sha2::{Digest, Sha256};

/// `sha2`'s SHA-256 as a `merkle_light` hash algorithm.
#[derive(Clone, Default)]
struct LightSha256(Sha256);

impl std::hash::Hasher for LightSha256 {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        unimplemented!("merkle_light only calls Algorithm::hash")
    }
}

impl merkle_light::hash::Algorithm<Hash> for LightSha256 {
    fn hash(&mut self) -> Hash {
        self.0.finalize_reset().into()
    }

    fn reset(&mut self) {
        Digest::reset(&mut self.0);
    }
}

type LightTree = merkle_light::merkle::MerkleTree<Hash, LightSha256>;
type RsTree = rs_merkle::MerkleTree<rs_merkle::algorithms::Sha256>;
/// Keys are the leaf indexes, big-endian so that key order is index order.
type Mst = MerkleSearchTree<[u8; 8], Hash>;

const SIZES: [u32; 3] = [10, 16, 20];

fn rs_tree(data: &[Hash]) -> RsTree {
    let hashes: Vec<Hash> = data
        .iter()
        .map(|leaf| rs_merkle::algorithms::Sha256::hash(leaf))
        .collect();
    RsTree::from_leaves(&hashes)
}

fn light_tree(data: &[Hash]) -> LightTree {
    LightTree::new(data.iter().copied())
}

/// The floor: SHA-256 of `n` leaf inputs and `n − 1` node-sized inputs.
fn sha256_floor(data: &[Hash]) -> u8 {
    let mut acc = 0u8;
    for leaf in data {
        let digest = Sha256::new()
            .chain_update([0x00])
            .chain_update(black_box(leaf))
            .finalize();
        acc ^= digest[0];
    }
    let mut node = [0x5au8; 65];
    node[0] = 0x01;
    for _ in 1..data.len() {
        acc ^= Sha256::digest(black_box(&node))[0];
    }
    acc
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("merkle/build");
    for log in SIZES {
        let n = scaled(1 << log);
        let data = leaves(n, 1);
        // The three implementations agree where they share a definition.
        let root = MerkleTree::from_leaves(&data).root();
        assert_eq!(merkle::root(&data), root);
        assert_eq!(light_tree(&data).root(), root);
        assert!(rs_tree(&data).root().is_some());
        if log >= 20 {
            // A build of 2^20 leaves takes a few hundred milliseconds: ten
            // samples of one build each.
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        } else {
            group.sample_size(100).sampling_mode(SamplingMode::Auto);
        }
        let id = |name: &str| BenchmarkId::new(name, format!("2^{}", n.ilog2()));
        group.bench_with_input(id("consensio"), &data, |b, d| {
            b.iter(|| MerkleTree::from_leaves(black_box(d)));
        });
        group.bench_with_input(id("consensio_root_only"), &data, |b, d| {
            b.iter(|| merkle::root(black_box(d)));
        });
        group.bench_with_input(id("rs_merkle"), &data, |b, d| {
            b.iter(|| rs_tree(black_box(d)));
        });
        group.bench_with_input(id("merkle_light"), &data, |b, d| {
            b.iter(|| light_tree(black_box(d)));
        });
        group.bench_with_input(id("sha256_floor"), &data, |b, d| {
            b.iter(|| sha256_floor(black_box(d)));
        });
    }
    group.finish();
}

fn proofs(c: &mut Criterion) {
    for log in SIZES {
        let n = scaled(1 << log);
        let size = n as u64;
        let data = leaves(n, 2);
        let index = (n / 3) | 1;
        let ours = MerkleTree::from_leaves(&data);
        let root = ours.root();
        let light = light_tree(&data);
        let rs = rs_tree(&data);
        let rs_root = rs.root().expect("a root");
        let leaf = leaf_hash(&data[index]);
        let rs_leaf = rs_merkle::algorithms::Sha256::hash(&data[index]);

        let proof = ours.inclusion_proof(index as u64, size).expect("in range");
        verify_inclusion(&leaf, index as u64, size, &proof, &root).expect("verifies");
        let light_proof = light.gen_proof(index);
        let light_ok = |p: &merkle_light::proof::Proof<Hash>| {
            p.validate::<LightSha256>() && p.item() == leaf && p.root() == root
        };
        assert!(light_ok(&light_proof));
        let rs_proof = rs.proof(&[index]);
        assert!(rs_proof.verify(rs_root, &[index], &[rs_leaf], n));

        let label = format!("2^{}", n.ilog2());
        let mut group = c.benchmark_group(format!("merkle/inclusion_proof/{label}"));
        group.bench_function("consensio", |b| {
            b.iter(|| black_box(&ours).inclusion_proof(black_box(index as u64), size));
        });
        group.bench_function("rs_merkle", |b| {
            b.iter(|| black_box(&rs).proof(&[black_box(index)]));
        });
        group.bench_function("merkle_light", |b| {
            b.iter(|| black_box(&light).gen_proof(black_box(index)));
        });
        group.finish();

        let mut group = c.benchmark_group(format!("merkle/verify_inclusion/{label}"));
        group.bench_function("consensio", |b| {
            b.iter(|| {
                verify_inclusion(
                    black_box(&leaf),
                    black_box(index as u64),
                    size,
                    black_box(&proof),
                    black_box(&root),
                )
            });
        });
        group.bench_function("rs_merkle", |b| {
            b.iter(|| black_box(&rs_proof).verify(rs_root, &[index], &[rs_leaf], n));
        });
        group.bench_function("merkle_light", |b| {
            b.iter(|| light_ok(black_box(&light_proof)));
        });
        group.finish();
    }
}

fn mst(data: &[Hash]) -> Mst {
    let mut tree = Mst::default();
    for (key, value) in (0u64..).zip(data) {
        tree.upsert(key.to_be_bytes(), value);
    }
    let _ = tree.root_hash();
    tree
}

fn diff(c: &mut Criterion) {
    let n = scaled(1 << 20);
    let data = leaves(n, 3);
    let ours = MerkleTree::from_leaves(&data);
    let theirs = mst(&data);
    let their_pages = theirs.serialise_page_ranges().expect("hashed");
    let label = format!("2^{}", n.ilog2());
    for k in [1usize, 16, 1024] {
        let changed = distinct_indexes(k, n, 4 + k as u64);
        let mut other = data.clone();
        for &i in &changed {
            other[i][0] ^= 0xff;
        }
        let ours_other = MerkleTree::from_leaves(&other);
        let mut ranges = Vec::with_capacity(k);
        ours.diff(&ours_other, &mut ranges).expect("same size");
        let found: Vec<usize> = ranges
            .iter()
            .flat_map(|r| r.start as usize..r.end as usize)
            .collect();
        assert_eq!(found, changed);
        let theirs_other = mst(&other);
        let other_pages = theirs_other.serialise_page_ranges().expect("hashed");
        assert!(
            !merkle_search_tree::diff::diff(their_pages.clone(), other_pages.clone()).is_empty()
        );

        let mut group = c.benchmark_group(format!("merkle/diff/{label}"));
        group.bench_function(BenchmarkId::new("consensio", k), |b| {
            b.iter(|| black_box(&ours).diff(black_box(&ours_other), &mut ranges));
        });
        group.bench_function(BenchmarkId::new("merkle-search-tree", k), |b| {
            b.iter(|| {
                merkle_search_tree::diff::diff(
                    black_box(&their_pages).iter().cloned(),
                    black_box(&other_pages).iter().cloned(),
                )
            });
        });
        group.finish();
    }
}

criterion_group!(benches, build, proofs, diff);
criterion_main!(benches);
