//! Merging counters whose actors are all known allocates nothing (issue: a
//! Dynamo-style store): a counting global allocator around thousands of
//! increments and merges between replicas that have seen every actor, and
//! one merge that brings a new actor, which must allocate.

use consensio::NodeId;
use consensio::crdt::{GCounter, Lattice, PnCounter};
use consensio_benches::counting::{Counting, allocations};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn counter_merges_between_replicas_that_know_every_actor_allocate_nothing() {
    let mut replicas: Vec<(GCounter, PnCounter)> = vec![Default::default(); 4];
    for actor in 1..=16 {
        for r in &mut replicas {
            r.0.increment(NodeId(actor), 1).unwrap();
            r.1.increment(NodeId(actor), 1).unwrap();
            r.1.decrement(NodeId(actor), 1).unwrap();
        }
    }
    let others = replicas.clone();
    let before = allocations();
    for i in 0..10_000u64 {
        let at = (i % 4) as usize;
        let actor = NodeId(i % 16 + 1);
        let r = &mut replicas[at];
        r.0.increment(actor, 3).unwrap();
        r.1.decrement(actor, 2).unwrap();
        let o = &others[(at + 1) % 4];
        r.0.merge(&o.0);
        r.1.merge(&o.1);
    }
    assert_eq!(allocations() - before, 0, "no allocation with known actors");
    let mut newcomer = GCounter::new();
    newcomer.increment(NodeId(99), 1).unwrap();
    let before = allocations();
    replicas[0].0.merge(&newcomer);
    assert!(
        allocations() > before,
        "a new actor needs room (the test can fail)"
    );
    assert_eq!(replicas[0].0.counts().len(), 17);
}
