//! CRDT merges beside `crdts` (7.3): the grow-only and positive-negative
//! counters and the observed-remove set, between two replicas of 16 actors
//! that have each seen every actor (the steady state of a cluster, where
//! a merge brings news but no new actor); and the sync of a key's siblings
//! in dotted version vector sets, beside `crdts`' multi-value register
//! (the nearest peer: `crdts` has no DVV set).
//!
//! Merges are timed alone: the destination is cloned outside the timing
//! (`iter_batched_ref`); `crdts`' merge consumes the other state by value,
//! as its `CvRDT::merge` demands, so its input clone is prepared outside
//! the timing too, and freeing it is part of its merge.

use std::hint::black_box;

use consensio::NodeId;
use consensio::clock::VectorClock;
use consensio::crdt::{DvvSet, GCounter, Lattice, OrSet, PnCounter};
use crdts::{CmRDT, CvRDT};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const ACTORS: u64 = 16;
/// Elements in the set: four per actor.
const ELEMENTS: u64 = 64;

/// One replica's counters, in consensio and in `crdts`.
type Counters = (
    (GCounter, PnCounter),
    (crdts::GCounter<u64>, crdts::PNCounter<u64>),
);

/// Two replicas' counters: every actor counted at both, `b` ahead on half.
fn counters() -> (Counters, Counters) {
    let build = |extra: u64| {
        let (mut g, mut pn) = (GCounter::new(), PnCounter::new());
        let (mut tg, mut tpn) = (crdts::GCounter::new(), crdts::PNCounter::new());
        for actor in 1..=ACTORS {
            let n = 10 + if actor % 2 == 0 { extra } else { 0 };
            g.increment(NodeId(actor), n).expect("small");
            pn.increment(NodeId(actor), n).expect("small");
            pn.decrement(NodeId(actor), n / 2).expect("small");
            tg.apply(tg.inc_many(actor, n));
            tpn.apply(tpn.inc_many(actor, n));
            tpn.apply(tpn.dec_many(actor, n / 2));
        }
        ((g, pn), (tg, tpn))
    };
    (build(0), build(5))
}

/// One replica's set, in consensio and in `crdts`.
type Sets = (OrSet<u64>, crdts::Orswot<u64, u64>);

/// Two replicas' sets: every actor added four elements at both; `b` has
/// since removed some and added others.
fn sets() -> (Sets, Sets) {
    let (mut a, mut ta) = (OrSet::new(), crdts::Orswot::new());
    for e in 0..ELEMENTS {
        let actor = e % ACTORS + 1;
        a.add(NodeId(actor), e).expect("small");
        let ctx = ta.read_ctx().derive_add_ctx(actor);
        ta.apply(ta.add(e, ctx));
    }
    let (mut b, mut tb) = (a.clone(), ta.clone());
    for e in (0..ELEMENTS).step_by(8) {
        b.remove(&e);
        let ctx = tb.contains(&e).derive_rm_ctx();
        tb.apply(tb.rm(e, ctx));
        let actor = e % ACTORS + 1;
        b.add(NodeId(actor), e + ELEMENTS).expect("small");
        let ctx = tb.read_ctx().derive_add_ctx(actor);
        tb.apply(tb.add(e + ELEMENTS, ctx));
    }
    ((a, ta), (b, tb))
}

fn counter_merges(c: &mut Criterion) {
    let (((g, pn), (tg, tpn)), ((gb, pnb), (tgb, tpnb))) = counters();
    let mut merged = g.clone();
    merged.merge(&gb);
    let mut their = tg.clone();
    their.merge(tgb.clone());
    assert_eq!(merged.value().to_string(), their.read().to_string());

    let mut group = c.benchmark_group("crdt/gcounter_merge/16_actors");
    group.bench_function("consensio", |bench| {
        bench.iter_batched_ref(
            || g.clone(),
            |x| x.merge(black_box(&gb)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("crdts", |bench| {
        bench.iter_batched_ref(
            || (tg.clone(), tgb.clone()),
            |(x, other)| x.merge(black_box(core::mem::take(other))),
            BatchSize::SmallInput,
        );
    });
    group.finish();

    let mut group = c.benchmark_group("crdt/pncounter_merge/16_actors");
    group.bench_function("consensio", |bench| {
        bench.iter_batched_ref(
            || pn.clone(),
            |x| x.merge(black_box(&pnb)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("crdts", |bench| {
        bench.iter_batched_ref(
            || (tpn.clone(), tpnb.clone()),
            |(x, other)| x.merge(black_box(core::mem::take(other))),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn set_merges(c: &mut Criterion) {
    let ((a, ta), (b, tb)) = sets();
    let mut merged = a.clone();
    merged.merge(&b);
    let mut their = ta.clone();
    their.merge(tb.clone());
    let ours: Vec<u64> = merged.elements().copied().collect();
    let mut theirs: Vec<u64> = their.read().val.into_iter().collect();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "the peers agree on the merged set");

    let mut group = c.benchmark_group("crdt/orset_merge/16_actors_64_elements");
    group.bench_function("consensio", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |x| x.merge(black_box(&b)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("crdts", |bench| {
        bench.iter_batched_ref(
            || (ta.clone(), tb.clone()),
            |(x, other)| x.merge(black_box(core::mem::take(other))),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// One replica's key, in consensio and in `crdts`.
type Key = (DvvSet<u64>, crdts::MVReg<u64, u64>);

/// A key written concurrently through 16 servers (16 siblings), and the
/// same key after one more write from a read of all of them (1 sibling).
fn siblings() -> (Key, Key) {
    let (mut a, mut ta) = (DvvSet::new(), crdts::MVReg::new());
    for server in 1..=ACTORS {
        a.put(&VectorClock::new(), NodeId(server), server)
            .expect("small");
        let mut write = crdts::MVReg::new();
        let ctx = write.read_ctx().derive_add_ctx(server);
        write.apply(write.write(server, ctx));
        ta.merge(write);
    }
    let (mut b, mut tb) = (a.clone(), ta.clone());
    b.put(&b.context(), NodeId(1), 0).expect("small");
    let ctx = tb.read_ctx().derive_add_ctx(1);
    tb.apply(tb.write(0, ctx));
    ((a, ta), (b, tb))
}

fn sibling_syncs(c: &mut Criterion) {
    let ((a, ta), (b, tb)) = siblings();
    let mut merged = a.clone();
    merged.merge(&b);
    let mut their = ta.clone();
    their.merge(tb.clone());
    assert_eq!(merged.values().copied().collect::<Vec<u64>>(), [0]);
    assert_eq!(their.read().val, [0], "the peers agree: one sibling left");

    let mut group = c.benchmark_group("crdt/siblings_sync/16_servers");
    group.bench_function("consensio_dvvset", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |x| x.merge(black_box(&b)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("crdts_mvreg", |bench| {
        bench.iter_batched_ref(
            || (ta.clone(), tb.clone()),
            |(x, other)| x.merge(black_box(core::mem::take(other))),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, counter_merges, set_merges, sibling_syncs);
criterion_main!(benches);
