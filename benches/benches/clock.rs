//! Vector clock merge and compare, dense and sparse.

use std::hint::black_box;

use consensio::NodeId;
use consensio::clock::{DenseVectorClock, VectorClock};
use criterion::{Criterion, criterion_group, criterion_main};

fn dense<const N: usize>(c: &mut Criterion) {
    let a = DenseVectorClock::<N>::from_counters(core::array::from_fn(|i| i as u64 * 3));
    let b = DenseVectorClock::<N>::from_counters(core::array::from_fn(|i| i as u64 * 3 + 1));
    let mut group = c.benchmark_group(format!("vclock/dense_{N}"));
    group.bench_function("merge/consensio", |bench| {
        bench.iter(|| {
            let mut x = black_box(a);
            x.merge(black_box(&b));
            x
        })
    });
    // Ordered clocks force a full scan.
    group.bench_function("compare_ordered/consensio", |bench| {
        bench.iter(|| black_box(&a).compare(black_box(&b)))
    });
    group.finish();
}

fn sparse(c: &mut Criterion) {
    // 1,000 actors each, half of them shared.
    let a = VectorClock::from_entries((0..1_000).map(|i| (NodeId(i * 2), i + 1))).unwrap();
    let b = VectorClock::from_entries((0..1_000).map(|i| (NodeId(i * 2 + 1000), i + 3))).unwrap();
    let mut group = c.benchmark_group("vclock/sparse_1000");
    group.bench_function("merge/consensio", |bench| {
        bench.iter(|| {
            let mut x = black_box(&a).clone();
            x.merge(black_box(&b));
            x
        })
    });
    group.bench_function("compare/consensio", |bench| {
        bench.iter(|| black_box(&a).compare(black_box(&b)))
    });
    group.finish();
}

criterion_group!(benches, dense::<16>, dense::<256>, sparse);
criterion_main!(benches);
