//! Committed index and vote tallying over majority and joint configurations.

use std::hint::black_box;

use consensio::NodeId;
use consensio::quorum::{JointConfig, MajorityConfig, VoteTally};
use criterion::{Criterion, criterion_group, criterion_main};

fn committed_index(c: &mut Criterion) {
    let mut group = c.benchmark_group("quorum/committed_index");
    for n in [1u64, 3, 5, 7, 9] {
        let config = MajorityConfig::from_voters((1..=n).map(NodeId)).unwrap();
        let acked: Vec<u64> = (0..=n).map(|i| (i * 7_919) % 1_000).collect();
        let lookup = |v: NodeId| acked.get(v.0 as usize).copied();
        group.bench_function(format!("consensio/{n}"), |b| {
            b.iter(|| black_box(&config).committed_index(&lookup))
        });
    }
    let joint = JointConfig::new(
        MajorityConfig::from_voters((1..=5).map(NodeId)).unwrap(),
        MajorityConfig::from_voters((3..=7).map(NodeId)).unwrap(),
    );
    let acked: Vec<u64> = (0..=7).map(|i| (i * 7_919) % 1_000).collect();
    let lookup = |v: NodeId| acked.get(v.0 as usize).copied();
    group.bench_function("consensio/joint_5_5", |b| {
        b.iter(|| black_box(&joint).committed_index(&lookup))
    });
    group.finish();
}

fn vote_tally(c: &mut Criterion) {
    let config = MajorityConfig::from_voters((1..=5).map(NodeId)).unwrap();
    c.bench_function("quorum/vote_tally/consensio/5", |b| {
        b.iter(|| {
            let mut tally = VoteTally::new();
            for v in 1..=5 {
                tally.record(NodeId(v), v % 2 == 1).unwrap();
            }
            black_box(config.vote_result(&tally))
        })
    });
}

criterion_group!(benches, committed_index, vote_tally);
criterion_main!(benches);
