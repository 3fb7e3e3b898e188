//! Committed index and vote tallying over majority and joint configurations,
//! beside tikv's `raft` 0.7 (`ProgressTracker`, whose joint configuration
//! computes `maximal_committed_index` and `tally_votes`).
//!
//! Both sides compute the same thing from the same acknowledged indexes and
//! votes (checked before timing). Where consensio reads the acknowledged
//! indexes from is the caller's choice: `consensio` reads a slice indexed by
//! voter id (how a replication module holding its progress in a vector
//! calls it); `consensio_fxhashmap` reads an `FxHashMap`, the map raft-rs
//! keeps its progress in, so that the lookup costs the same on both sides.

use std::collections::HashMap;
use std::hint::black_box;

use consensio::NodeId;
use consensio::quorum::{JointConfig, MajorityConfig, VoteTally};
use criterion::{Criterion, criterion_group, criterion_main};
use raft::eraftpb::{ConfChangeSingle, ConfChangeType};
use raft::{Changer, ProgressTracker};

type FxHashMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<fxhash::FxHasher>>;

fn change(node_id: u64, ty: ConfChangeType) -> ConfChangeSingle {
    let mut cc = ConfChangeSingle {
        node_id,
        ..Default::default()
    };
    cc.set_change_type(ty);
    cc
}

/// A raft-rs tracker whose voters are `incoming`, joint with `outgoing` if
/// that is not empty, built the way raft-rs builds one: a voter at a time,
/// then a joint change.
fn raft_tracker(outgoing: &[u64], incoming: &[u64]) -> ProgressTracker {
    let mut tracker = ProgressTracker::new(256);
    let first = if outgoing.is_empty() {
        incoming
    } else {
        outgoing
    };
    for &id in first {
        let (conf, changes) = Changer::new(&tracker)
            .simple(&[change(id, ConfChangeType::AddNode)])
            .expect("add a voter");
        tracker.apply_conf(conf, changes, 1);
    }
    if !outgoing.is_empty() {
        let ccs: Vec<ConfChangeSingle> = outgoing
            .iter()
            .filter(|id| !incoming.contains(id))
            .map(|&id| change(id, ConfChangeType::RemoveNode))
            .chain(
                incoming
                    .iter()
                    .filter(|id| !outgoing.contains(id))
                    .map(|&id| change(id, ConfChangeType::AddNode)),
            )
            .collect();
        let (conf, changes) = Changer::new(&tracker)
            .enter_joint(false, &ccs)
            .expect("enter joint");
        tracker.apply_conf(conf, changes, 1);
    }
    tracker
}

/// Voter `v`'s acknowledged index: near 1,000 and in no particular order
/// of `v` (a sorted or reverse-sorted input would favour one sort or the
/// other): 1019, 1004, 1023, 1008, 1027, 1012, 1031, 1016, 1001 for 1..=9.
fn acked(voter: u64) -> u64 {
    1_000 + (voter * 19) % 34
}

fn committed_index(c: &mut Criterion) {
    let cases: Vec<(String, Vec<u64>, Vec<u64>)> = [1u64, 3, 5, 7, 9]
        .iter()
        .map(|&n| (n.to_string(), Vec::new(), (1..=n).collect()))
        .chain(std::iter::once((
            "joint_5_5".to_owned(),
            (1..=5).collect(),
            (3..=7).collect(),
        )))
        .collect();
    for (name, outgoing, incoming) in cases {
        let config = JointConfig::new(
            MajorityConfig::from_voters(incoming.iter().copied().map(NodeId)).expect("voters"),
            MajorityConfig::from_voters(outgoing.iter().copied().map(NodeId)).expect("voters"),
        );
        let all: Vec<u64> = outgoing.iter().chain(&incoming).copied().collect();
        let max_id = all.iter().copied().max().unwrap_or(0);
        let slice: Vec<u64> = (0..=max_id).map(acked).collect();
        let by_slice = |v: NodeId| slice.get(v.0 as usize).copied();
        let map: FxHashMap<NodeId, u64> = all.iter().map(|&v| (NodeId(v), acked(v))).collect();
        let by_map = |v: NodeId| map.get(&v).copied();
        let mut tracker = raft_tracker(&outgoing, &incoming);
        for &v in &all {
            tracker.get_mut(v).expect("a voter's progress").matched = acked(v);
        }
        let expected = config.committed_index(&by_slice);
        assert_eq!(config.committed_index(&by_map), expected);
        assert_eq!(tracker.maximal_committed_index(), (expected, false));

        let mut group = c.benchmark_group(format!("quorum/committed_index/{name}"));
        if outgoing.is_empty() {
            // The plain majority, as a joint configuration would call it.
            let majority = config.incoming.clone();
            group.bench_function("consensio", |b| {
                b.iter(|| black_box(&majority).committed_index(&by_slice));
            });
            group.bench_function("consensio_fxhashmap", |b| {
                b.iter(|| black_box(&majority).committed_index(&by_map));
            });
        } else {
            group.bench_function("consensio", |b| {
                b.iter(|| black_box(&config).committed_index(&by_slice));
            });
            group.bench_function("consensio_fxhashmap", |b| {
                b.iter(|| black_box(&config).committed_index(&by_map));
            });
        }
        group.bench_function("raft-rs", |b| {
            b.iter(|| black_box(&mut tracker).maximal_committed_index());
        });
        group.finish();
    }
}

/// Starts a round, records one vote per voter (odd ids grant, even ids
/// reject) and reads the outcome with the counts of granted and rejected
/// votes.
fn vote_tally(c: &mut Criterion) {
    for (name, outgoing, incoming) in [
        ("5", vec![], vec![1u64, 2, 3, 4, 5]),
        ("joint_5_5", vec![1, 2, 3, 4, 5], vec![3, 4, 5, 6, 7]),
    ] {
        let config = JointConfig::new(
            MajorityConfig::from_voters(incoming.iter().copied().map(NodeId)).expect("voters"),
            MajorityConfig::from_voters(outgoing.iter().copied().map(NodeId)).expect("voters"),
        );
        let mut voters: Vec<u64> = outgoing.iter().chain(&incoming).copied().collect();
        voters.sort_unstable();
        voters.dedup();
        let mut tracker = raft_tracker(&outgoing, &incoming);

        // Both sides reuse one tally across rounds, as a candidate would:
        // raft-rs clears its vote map, consensio resets its tally.
        let mut tally = VoteTally::new();
        let mut consensio = |voters: &[u64]| {
            tally.reset();
            for &v in voters {
                tally
                    .record(NodeId(v), v % 2 == 1)
                    .expect("room for every voter");
            }
            (
                tally.granted(),
                tally.rejected(),
                config.vote_result(&tally),
            )
        };
        let mut raft = |voters: &[u64]| {
            tracker.reset_votes();
            for &v in voters {
                tracker.record_vote(v, v % 2 == 1);
            }
            tracker.tally_votes()
        };
        let (granted, rejected, result) = consensio(&voters);
        let (raft_granted, raft_rejected, raft_result) = raft(&voters);
        assert_eq!((granted, rejected), (raft_granted, raft_rejected));
        // raft-rs does not export its `VoteResult`; the variant names match.
        assert_eq!(format!("{result:?}"), format!("{raft_result:?}"));

        let mut group = c.benchmark_group(format!("quorum/vote_tally/{name}"));
        group.bench_function("consensio", |b| {
            b.iter(|| consensio(black_box(&voters)));
        });
        group.bench_function("raft-rs", |b| b.iter(|| raft(black_box(&voters))));
        group.finish();
    }
}

criterion_group!(benches, committed_index, vote_tally);
criterion_main!(benches);
