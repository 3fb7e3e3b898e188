//! Property tests: diff finds exactly the differing leaves and buckets;
//! proofs from random trees verify; roots agree across constructions.

use std::collections::BTreeMap;
use std::ops::Range;

use consensio::merkle::{
    self, KeyedTree, MerkleTree, leaf_hash, root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

/// Leaves as small integers, so that equal leaves come up often.
fn leaves(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(0u8..4, 0..3), 0..max)
}

fn naive_ranges(a: &[Vec<u8>], b: &[Vec<u8>]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let i = i as u64;
        if x != y {
            match out.last_mut() {
                Some(last) if last.end == i => last.end = i + 1,
                _ => out.push(i..i + 1),
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn diff_returns_exactly_the_differing_leaves(
        a in leaves(300),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), proptest::collection::vec(0u8..4, 0..3)), 0..20),
    ) {
        let mut b = a.clone();
        if !b.is_empty() {
            for (at, value) in edits {
                let i = at.index(b.len());
                b[i] = value;
            }
        }
        let (ta, tb) = (MerkleTree::from_leaves(&a), MerkleTree::from_leaves(&b));
        let mut ranges = Vec::new();
        ta.diff(&tb, &mut ranges).unwrap();
        prop_assert_eq!(&ranges, &naive_ranges(&a, &b));
        prop_assert_eq!(ranges.is_empty(), ta.root() == tb.root());
        // The buffer is reused: a second diff into it does not reallocate.
        let capacity = ranges.capacity();
        tb.diff(&ta, &mut ranges).unwrap();
        prop_assert_eq!(ranges.capacity(), capacity);
    }

    #[test]
    fn diff_rejects_trees_of_different_sizes(a in leaves(40), extra in 1usize..5) {
        let mut b = a.clone();
        b.extend(std::iter::repeat_n(vec![9u8], extra));
        let mut ranges = Vec::new();
        ranges.push(0..1);
        prop_assert_eq!(
            MerkleTree::from_leaves(&a).diff(&MerkleTree::from_leaves(&b), &mut ranges),
            Err(merkle::Error::ShapeMismatch)
        );
        prop_assert!(ranges.is_empty());
    }

    #[test]
    fn proofs_from_random_trees_verify(data in leaves(200), pick in any::<prop::sample::Index>(), old in any::<prop::sample::Index>()) {
        prop_assume!(!data.is_empty());
        let tree = MerkleTree::from_leaves(&data);
        let n = data.len() as u64;
        prop_assert_eq!(tree.root(), root(&data));
        let i = pick.index(data.len());
        let proof = tree.inclusion_proof(i as u64, n).unwrap();
        prop_assert!(verify_inclusion(&leaf_hash(&data[i]), i as u64, n, &proof, &tree.root()).is_ok());
        let m = old.index(data.len() + 1) as u64;
        let proof = tree.consistency_proof(m, n).unwrap();
        let old_root = root(&data[..m as usize]);
        prop_assert!(verify_consistency(m, n, &old_root, &tree.root(), &proof).is_ok());
    }

    #[test]
    fn keyed_diff_returns_exactly_the_differing_buckets(
        a in proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 0..4), any::<u8>(), 0..60),
        b in proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 0..4), any::<u8>(), 0..60),
        depth in 0u8..7,
    ) {
        let build = |m: &BTreeMap<Vec<u8>, u8>| {
            let mut t = KeyedTree::new(depth).unwrap();
            for (k, v) in m {
                t.insert(k, [*v; 32]);
            }
            t
        };
        let (ta, tb) = (build(&a), build(&b));
        let mut naive: Vec<u32> = a.keys().chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| ta.bucket_of(k))
            .collect();
        naive.sort_unstable();
        naive.dedup();
        let mut got = Vec::new();
        ta.diff_buckets(&tb, &mut got).unwrap();
        prop_assert_eq!(got, naive);
    }
}
