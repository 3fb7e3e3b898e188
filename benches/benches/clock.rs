//! Vector clock merge and compare, dense and sparse, beside `crdts` (7.3,
//! `VClock`: a `BTreeMap` of actor → counter) and `vclock` (0.4, `VClock`: a
//! `HashMap`).
//!
//! Every group holds one operation on one input shape, consensio and the
//! peers side by side. Merges are timed alone: the destination clock is
//! prepared outside the timing (`iter_batched_ref`), so a peer's clone is
//! never charged to it. `crdts`' merge consumes the other clock by value, as
//! its `CvRDT::merge` demands, so its input clone is prepared outside the
//! timing too; its consumption (freeing the map's nodes) is part of its
//! merge.
//!
//! Compares are timed on clocks that are ordered (`a < b`), which every
//! algorithm must scan to the end to prove, and on concurrent ones, where
//! an early exit is allowed.

use std::collections::HashMap;
use std::hint::black_box;

use consensio::NodeId;
use consensio::clock::{CausalOrdering, DenseVectorClock, VectorClock};
use crdts::CvRDT;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

type Crdts = crdts::VClock<u64>;
type Vclock = vclock::VClock<u64, u64>;

/// The same clock in the three representations.
struct Shapes {
    sparse: VectorClock,
    crdts: Crdts,
    vclock: Vclock,
}

impl Shapes {
    fn new(entries: &[(u64, u64)]) -> Self {
        assert!(
            entries.iter().all(|e| e.1 > 0),
            "zero counters are implicit"
        );
        let sparse = VectorClock::from_entries(entries.iter().map(|&(a, c)| (NodeId(a), c)))
            .expect("distinct actors");
        let mut crdts = Crdts::new();
        for &(a, c) in entries {
            crdts.dots.insert(a, c);
        }
        let vclock = Vclock::from(entries.iter().copied().collect::<HashMap<u64, u64>>());
        Shapes {
            sparse,
            crdts,
            vclock,
        }
    }
}

/// Checks the peers agree with consensio on how `a` and `b` relate.
fn check_order(a: &Shapes, b: &Shapes, expected: CausalOrdering) {
    assert_eq!(a.sparse.compare(&b.sparse), expected);
    assert_eq!(a.crdts.partial_cmp(&b.crdts), expected.partial());
    assert_eq!(a.vclock.partial_cmp(&b.vclock), expected.partial());
}

fn entries_of<const N: usize>(clock: &DenseVectorClock<N>) -> Vec<(u64, u64)> {
    (0u64..).zip(clock.counters().iter().copied()).collect()
}

/// Merge and compare over `N` actors `0..N`, every counter non-zero.
fn dense<const N: usize>(c: &mut Criterion) {
    // `b` is ahead on even actors and behind on odd ones: merging changes
    // half the counters, and `a` and `b` are concurrent.
    let a = DenseVectorClock::<N>::from_counters(core::array::from_fn(|i| i as u64 * 3 + 2));
    let b = DenseVectorClock::<N>::from_counters(core::array::from_fn(|i| {
        if i % 2 == 0 {
            i as u64 * 3 + 3
        } else {
            i as u64 * 3 + 1
        }
    }));
    // `later` has seen everything `a` has, and more on odd actors.
    let later = DenseVectorClock::<N>::from_counters(core::array::from_fn(|i| {
        i as u64 * 3 + 2 + (i as u64 % 2)
    }));
    let (pa, pb, pl) = (
        Shapes::new(&entries_of(&a)),
        Shapes::new(&entries_of(&b)),
        Shapes::new(&entries_of(&later)),
    );
    assert_eq!(a.compare(&later), CausalOrdering::Before);
    assert_eq!(a.compare(&b), CausalOrdering::Concurrent);
    check_order(&pa, &pl, CausalOrdering::Before);
    check_order(&pa, &pb, CausalOrdering::Concurrent);
    peers_agree_on_merge(&pa, &pb, {
        let mut m = a;
        m.merge(&b);
        entries_of(&m)
    });

    let mut group = c.benchmark_group(format!("vclock/merge/dense_{N}"));
    group.bench_function("consensio", |bench| {
        bench.iter_batched_ref(|| a, |x| x.merge(black_box(&b)), BatchSize::SmallInput);
    });
    merge_peers(&mut group, &pa, &pb);
    group.finish();

    compare_group(c, &format!("dense_{N}/ordered"), &pa, &pl, || {
        black_box(&a).compare(black_box(&later))
    });
    compare_group(c, &format!("dense_{N}/concurrent"), &pa, &pb, || {
        black_box(&a).compare(black_box(&b))
    });
}

/// 1,000 actors on each side; half of `b`'s actors are `a`'s.
fn sparse(c: &mut Criterion) {
    let a_entries: Vec<(u64, u64)> = (0..1_000).map(|i| (i * 2, i + 1)).collect();
    let b_entries: Vec<(u64, u64)> = (0..1_000).map(|i| (i * 2 + 1_000, i + 3)).collect();
    // `later` knows `a`'s 1,000 actors (some further on) and 500 others.
    let later_entries: Vec<(u64, u64)> = a_entries
        .iter()
        .map(|&(actor, counter)| (actor, counter + actor % 4 / 2))
        .chain((0..500).map(|i| (i * 2 + 1, 7)))
        .collect();
    let (a, b, later) = (
        Shapes::new(&a_entries),
        Shapes::new(&b_entries),
        Shapes::new(&later_entries),
    );
    check_order(&a, &later, CausalOrdering::Before);
    check_order(&a, &b, CausalOrdering::Concurrent);
    peers_agree_on_merge(&a, &b, {
        let mut m = a.sparse.clone();
        m.merge(&b.sparse);
        m.entries().iter().map(|&(n, c)| (n.0, c)).collect()
    });

    // The union has 1,500 actors: consensio's merge grows its vector once.
    let mut group = c.benchmark_group("vclock/merge/sparse_1000");
    group.bench_function("consensio", |bench| {
        bench.iter_batched_ref(
            || a.sparse.clone(),
            |x| x.merge(black_box(&b.sparse)),
            BatchSize::SmallInput,
        );
    });
    merge_peers(&mut group, &a, &b);
    group.finish();

    // Steady state: the destination already knows every actor of the
    // source, so nothing grows (consensio allocates nothing).
    let mut group = c.benchmark_group("vclock/merge/sparse_1000_known_actors");
    group.bench_function("consensio", |bench| {
        bench.iter_batched_ref(
            || later.sparse.clone(),
            |x| x.merge(black_box(&a.sparse)),
            BatchSize::SmallInput,
        );
    });
    merge_peers(&mut group, &later, &a);
    group.finish();

    compare_group(c, "sparse_1000/ordered", &a, &later, || {
        black_box(&a.sparse).compare(black_box(&later.sparse))
    });
    compare_group(c, "sparse_1000/concurrent", &a, &b, || {
        black_box(&a.sparse).compare(black_box(&b.sparse))
    });
}

fn peers_agree_on_merge(a: &Shapes, b: &Shapes, expected: Vec<(u64, u64)>) {
    let mut x = a.crdts.clone();
    x.merge(b.crdts.clone());
    assert_eq!(x.dots.into_iter().collect::<Vec<_>>(), expected);
    let mut y = a.vclock.clone();
    y.merge(&b.vclock);
    let mut got: Vec<(u64, u64)> = HashMap::from(y).into_iter().collect();
    got.sort_unstable();
    assert_eq!(got, expected);
}

fn merge_peers(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    a: &Shapes,
    b: &Shapes,
) {
    group.bench_function("crdts", |bench| {
        bench.iter_batched_ref(
            || (a.crdts.clone(), b.crdts.clone()),
            |(x, y)| x.merge(std::mem::take(y)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("vclock", |bench| {
        bench.iter_batched_ref(
            || a.vclock.clone(),
            |x| x.merge(black_box(&b.vclock)),
            BatchSize::SmallInput,
        );
    });
}

fn compare_group(
    c: &mut Criterion,
    name: &str,
    a: &Shapes,
    b: &Shapes,
    consensio: impl Fn() -> CausalOrdering,
) {
    let mut group = c.benchmark_group(format!("vclock/compare/{name}"));
    group.bench_function("consensio", |bench| bench.iter(&consensio));
    group.bench_function("crdts", |bench| {
        bench.iter(|| black_box(&a.crdts).partial_cmp(black_box(&b.crdts)));
    });
    group.bench_function("vclock", |bench| {
        bench.iter(|| black_box(&a.vclock).partial_cmp(black_box(&b.vclock)));
    });
    group.finish();
}

criterion_group!(benches, dense::<16>, dense::<256>, sparse);
criterion_main!(benches);
