//! Property tests: vector clocks form a join-semilattice whose order is
//! happened-before; dense and sparse agree; hybrid logical clocks keep the
//! paper's guarantees; event orders are linear extensions.

use consensio::clock::order::{causal_order, total_order};
use consensio::clock::{
    CausalClock, CausalOrdering, DenseVectorClock, HlcTimestamp, HybridLogicalClock, LamportClock,
    VectorClock,
};
use consensio::{Instant, NodeId, wire};
use proptest::prelude::*;

const N: usize = 6;

/// Small counters so that equal and ordered clocks come up often.
fn dense() -> impl Strategy<Value = DenseVectorClock<N>> {
    proptest::array::uniform6(prop_oneof![3 => 0u64..3, 1 => any::<u64>()])
        .prop_map(DenseVectorClock::from_counters)
}

fn sparse() -> impl Strategy<Value = VectorClock> {
    proptest::collection::btree_map(0u64..12, 1u64..4, 0..12).prop_map(|m| {
        VectorClock::from_entries(m.into_iter().map(|(a, c)| (NodeId(a), c))).unwrap()
    })
}

fn merged<C: Clone>(a: &C, b: &C, merge: impl Fn(&mut C, &C)) -> C {
    let mut m = a.clone();
    merge(&mut m, b);
    m
}

/// Compare from the definition: pointwise ≤ both ways.
fn reference_compare(a: &[u64; N], b: &[u64; N]) -> CausalOrdering {
    let le = a.iter().zip(b).all(|(x, y)| x <= y);
    let ge = a.iter().zip(b).all(|(x, y)| x >= y);
    match (le, ge) {
        (true, true) => CausalOrdering::Equal,
        (true, false) => CausalOrdering::Before,
        (false, true) => CausalOrdering::After,
        (false, false) => CausalOrdering::Concurrent,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn dense_merge_is_commutative_associative_and_idempotent(a in dense(), b in dense(), c in dense()) {
        let m = |x: &mut DenseVectorClock<N>, y: &DenseVectorClock<N>| x.merge(y);
        prop_assert_eq!(merged(&a, &b, m), merged(&b, &a, m));
        prop_assert_eq!(merged(&merged(&a, &b, m), &c, m), merged(&a, &merged(&b, &c, m), m));
        prop_assert_eq!(merged(&a, &a, m), a);
    }

    #[test]
    fn sparse_merge_is_commutative_associative_and_idempotent(a in sparse(), b in sparse(), c in sparse()) {
        let m = |x: &mut VectorClock, y: &VectorClock| x.merge(y);
        prop_assert_eq!(merged(&a, &b, m), merged(&b, &a, m));
        prop_assert_eq!(merged(&merged(&a, &b, m), &c, m), merged(&a, &merged(&b, &c, m), m));
        prop_assert_eq!(merged(&a, &a, m), a);
    }

    #[test]
    fn dense_compare_matches_the_definition_and_agrees_with_merge(a in dense(), b in dense()) {
        let ord = a.compare(&b);
        prop_assert_eq!(ord, reference_compare(a.counters(), b.counters()));
        prop_assert_eq!(b.compare(&a), ord.reverse());
        let mut m = a;
        m.merge(&b);
        // a ≤ b iff merge(a, b) == b
        prop_assert_eq!(a <= b, m == b);
        prop_assert_eq!(a.dominates(&b), m == a);
        prop_assert_eq!(a.happened_before(&b), m == b && a != b);
        prop_assert_eq!(a.concurrent_with(&b), m != a && m != b);
    }

    #[test]
    fn sparse_compare_agrees_with_merge(a in sparse(), b in sparse()) {
        let mut m = a.clone();
        m.merge(&b);
        prop_assert_eq!(a <= b, m == b);
        prop_assert_eq!(b <= a, m == a);
        prop_assert_eq!(a.concurrent_with(&b), m != a && m != b);
        prop_assert_eq!(b.compare(&a), a.compare(&b).reverse());
    }

    #[test]
    fn dense_and_sparse_agree(a in dense(), b in dense(), actor in 0usize..N) {
        let (sa, sb) = (VectorClock::from(&a), VectorClock::from(&b));
        prop_assert_eq!(sa.compare(&sb), a.compare(&b));
        let mut dm = a;
        dm.merge(&b);
        let mut sm = sa.clone();
        sm.merge(&sb);
        prop_assert_eq!(sm.to_dense::<N>().unwrap(), dm);
        prop_assert_eq!(sa.to_dense::<N>().unwrap(), a);
        let (mut di, mut si) = (a, sa);
        prop_assert_eq!(di.increment(actor).ok(), si.increment(NodeId(actor as u64)).ok());
        prop_assert_eq!(VectorClock::from(&di), si);
    }

    #[test]
    fn sparse_clocks_survive_the_wire(a in sparse()) {
        let frame = wire::encode_to_vec(&a).unwrap();
        prop_assert_eq!(wire::decode::<VectorClock>(&frame).unwrap(), a);
    }

    #[test]
    fn causal_order_is_a_linear_extension_of_happened_before(
        mut events in proptest::collection::vec(dense(), 0..30)
    ) {
        causal_order(&mut events, |e| e);
        for (i, later) in events.iter().enumerate() {
            for earlier in &events[i + 1..] {
                prop_assert!(!earlier.happened_before(later), "{earlier:?} placed after {later:?}");
            }
        }
        let mut shuffled = events.clone();
        shuffled.reverse();
        causal_order(&mut shuffled, |e| e);
        prop_assert_eq!(shuffled, events, "order does not depend on the input order");
    }

    #[test]
    fn lamport_clocks_order_every_message_after_its_send(
        script in proptest::collection::vec((0usize..3, 0usize..3), 1..60)
    ) {
        // Each step: node `from` sends to node `to` (a local event when equal).
        let mut clocks = [0u64, 1, 2].map(|i| LamportClock::new(NodeId(i)));
        let mut log = Vec::new();
        for (from, to) in script {
            let sent = clocks[from].send().unwrap();
            let got = clocks[to].receive(sent).unwrap();
            prop_assert!(sent < got);
            log.push(got);
            log.push(sent);
        }
        total_order(&mut log, |s| *s);
        prop_assert!(log.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn hlc_is_monotonic_causal_and_close_to_physical_time(
        steps in proptest::collection::vec((0usize..3, 0usize..3, 0u64..50), 1..80),
        skews in proptest::array::uniform3(0u64..100),
    ) {
        // Three nodes whose physical clocks differ by up to 100 ms; the max
        // offset (200 ms) covers the skew, so no message is rejected.
        let max_offset = 200;
        let mut clocks = [HybridLogicalClock::new(max_offset); 3];
        let mut last = [HlcTimestamp::default(); 3];
        let mut real = 1_000u64;
        for (from, to, advance) in steps {
            real += advance;
            let pt = |node: usize| Instant::from_millis(real + skews[node]);
            let sent = clocks[from].now(pt(from)).unwrap();
            prop_assert!(sent > last[from]);
            last[from] = sent;
            let got = clocks[to].receive(pt(to), sent).unwrap();
            prop_assert!(got > sent, "receive orders after send");
            prop_assert!(got > last[to]);
            last[to] = got;
            // l never runs ahead of the fastest physical clock in the system.
            let fastest = real + skews.iter().max().unwrap();
            prop_assert!(got.wall_ms <= fastest);
            prop_assert!(got.wall_ms >= pt(to).as_millis());
        }
    }
}
