//! Allocations per value committed, counted by a global allocator: a
//! deterministic guard on the proposal→commit hot path that timings on a
//! shared machine cannot give. Consensio's Multi-Paxos allocates per value
//! what its Raft does (the copies a record, a message per peer and an event
//! need; slot values live in the log's arena), so the 1.2× target of
//! BENCHMARKS.md is not lost to an extra copy.

use consensio_benches::cluster::{Cluster, ConsensioCluster, PaxosCluster, round};
use consensio_benches::counting::{Counting, allocations};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations (and reallocations) per value committed, over 100 rounds
/// of `batch` proposals after 10 rounds of warm-up. One test thread: the
/// counter is global.
fn per_value(cluster: &mut impl Cluster, batch: usize) -> f64 {
    for _ in 0..10 {
        round(cluster, b"0123456789abcdef", batch);
    }
    let before = allocations();
    for _ in 0..100 {
        round(cluster, b"0123456789abcdef", batch);
    }
    (allocations() - before) as f64 / (100 * batch) as f64
}

#[test]
fn multi_paxos_allocates_per_value_what_raft_does() {
    for batch in [1, 64] {
        let raft = per_value(&mut ConsensioCluster::new(), batch);
        let paxos = per_value(&mut PaxosCluster::new(), batch);
        assert!(
            paxos <= raft + 0.5,
            "batch {batch}: {paxos:.2} allocations per value for Paxos, {raft:.2} for Raft"
        );
        // Nor more than the copies themselves need: the proposal, a record,
        // a message per peer and an event per node, and a little room.
        assert!(
            paxos < 10.0,
            "batch {batch}: {paxos:.2} allocations per value"
        );
    }
}
