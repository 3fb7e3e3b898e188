//! The CRDT laws (Shapiro et al., SSS 2011, §2.5): every merge is
//! commutative, associative and idempotent, every update inflates the
//! state, and replicas that exchange states in any order converge; the
//! OR-set's add wins over a concurrent remove; every state survives the
//! wire, and a state no replica could build does not decode.

use consensio::clock::HlcTimestamp;
use consensio::clock::VectorClock;
use consensio::crdt::{DvvSet, GCounter, Lattice, LwwRegister, MvRegister, OrSet, PnCounter};
use consensio::{NodeId, wire};
use proptest::prelude::*;

/// One update at replica `actor % 4`.
#[derive(Clone, Debug)]
enum Op {
    Inc(u8, u8),
    Dec(u8, u8),
    Set(u8, u8, u8),
    Add(u8, u8),
    Remove(u8),
    /// A client that read replica `from % 4`'s key writes `value` through
    /// this replica.
    Put(u8, u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), any::<u8>()).prop_map(|(a, n)| Op::Inc(a, n)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, n)| Op::Dec(a, n)),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, t, v)| Op::Set(a, t, v)),
        (any::<u8>(), 0..6u8).prop_map(|(a, e)| Op::Add(a, e)),
        (0..6u8).prop_map(Op::Remove),
        (any::<u8>(), any::<u8>(), 0..4u8).prop_map(|(a, v, f)| Op::Put(a, v, f)),
    ]
}

/// Every type's state at one replica.
#[derive(Clone, Debug, Default, PartialEq)]
struct Replica {
    g: GCounter,
    pn: PnCounter,
    lww: LwwRegister<Vec<u8>>,
    mv: MvRegister<Vec<u8>>,
    set: OrSet<Vec<u8>>,
    dvv: DvvSet<Vec<u8>>,
}

impl Replica {
    /// Applies `op`; a `Put` reads its context from `read`.
    fn apply_with(&mut self, op: &Op, read: &VectorClock) {
        if let Op::Put(a, v, _) = *op {
            let actor = NodeId(u64::from(a % 4) + 1);
            self.dvv.put(read, actor, vec![v]).unwrap();
        } else {
            self.apply(op);
        }
    }

    fn apply(&mut self, op: &Op) {
        let actor = |a: u8| NodeId(u64::from(a % 4) + 1);
        match *op {
            Op::Inc(a, n) => {
                self.g.increment(actor(a), u64::from(n)).unwrap();
                self.pn.increment(actor(a), u64::from(n)).unwrap();
            }
            Op::Dec(a, n) => self.pn.decrement(actor(a), u64::from(n)).unwrap(),
            Op::Set(a, t, v) => {
                let stamp = HlcTimestamp {
                    wall_ms: u64::from(t % 8),
                    logical: u32::from(t / 8 % 2),
                };
                self.lww.set(stamp, actor(a), vec![v]);
                self.mv.write(actor(a), vec![v]).unwrap();
            }
            Op::Add(a, e) => self.set.add(actor(a), vec![e]).unwrap(),
            Op::Remove(e) => {
                self.set.remove(&vec![e]);
            }
            Op::Put(a, v, _) => {
                let read = self.dvv.context();
                self.dvv
                    .put(&read, NodeId(u64::from(a % 4) + 1), vec![v])
                    .unwrap();
            }
        }
    }

    fn merge(&mut self, other: &Replica) {
        self.g.merge(&other.g);
        self.pn.merge(&other.pn);
        self.lww.merge(&other.lww);
        self.mv.merge(&other.mv);
        self.set.merge(&other.set);
        self.dvv.merge(&other.dvv);
    }

    fn merged(&self, other: &Replica) -> Replica {
        let mut r = self.clone();
        r.merge(other);
        r
    }
}

/// The states of four replicas after one run: updates at each (as
/// itself), with merges between them. States of one run, because a dot
/// names one update only within a run: two runs that each made replica
/// 4's second update did not make the same update.
fn run() -> impl Strategy<Value = Vec<Replica>> {
    prop::collection::vec((0..4usize, op(), any::<bool>(), 0..4usize), 0..32).prop_map(|steps| {
        let mut replicas: Vec<Replica> = vec![Replica::default(); 4];
        for (at, op, merge, from) in steps {
            let op = retarget(&op, at);
            let read = match op {
                Op::Put(_, _, f) => replicas[usize::from(f % 4)].dvv.context(),
                _ => VectorClock::new(),
            };
            replicas[at].apply_with(&op, &read);
            if merge {
                let other = replicas[from].clone();
                replicas[at].merge(&other);
            }
        }
        replicas
    })
}

/// The op as replica `at` makes it (a replica updates only as itself).
fn retarget(op: &Op, at: usize) -> Op {
    let a = at as u8;
    match *op {
        Op::Inc(_, n) => Op::Inc(a, n),
        Op::Dec(_, n) => Op::Dec(a, n),
        Op::Set(_, t, v) => Op::Set(a, t, v),
        Op::Add(_, e) => Op::Add(a, e),
        Op::Remove(e) => Op::Remove(e),
        Op::Put(_, v, f) => Op::Put(a, v, f),
    }
}

fn round_trip<M: wire::WireMessage + PartialEq + std::fmt::Debug>(m: &M) {
    let frame = wire::encode_to_vec(m).unwrap();
    assert_eq!(&wire::decode::<M>(&frame).unwrap(), m);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merge_is_commutative(r in run()) {
        let (a, b) = (&r[0], &r[1]);
        prop_assert_eq!(a.merged(b), b.merged(a));
    }

    #[test]
    fn merge_is_associative(r in run()) {
        let (a, b, c) = (&r[0], &r[1], &r[2]);
        prop_assert_eq!(a.merged(b).merged(c), a.merged(&b.merged(c)));
    }

    #[test]
    fn merge_is_idempotent(r in run()) {
        let (a, b) = (&r[0], &r[1]);
        prop_assert_eq!(a.merged(a), a.clone());
        let ab = a.merged(b);
        prop_assert_eq!(ab.merged(b), ab);
    }

    #[test]
    fn every_update_inflates_the_state(r in run(), op in op(), at in 0..4usize) {
        let a = &r[at];
        let mut after = a.clone();
        after.apply(&retarget(&op, at));
        prop_assert_eq!(after.merged(a), after.clone(), "merging the old state changes nothing");
        prop_assert!(after.g.includes(&a.g));
    }

    /// Four replicas update and exchange states in a random order; once
    /// each has merged everyone's, they are equal, and the counters count
    /// every update exactly once.
    #[test]
    fn replicas_that_exchange_states_in_any_order_converge(
        steps in prop::collection::vec((0..4usize, op(), 0..4usize), 0..40)
    ) {
        let mut replicas: Vec<Replica> = vec![Replica::default(); 4];
        let (mut up, mut down) = (0u128, 0u128);
        for (at, op, from) in steps {
            let op = retarget(&op, at);
            match op {
                Op::Inc(_, n) => up += u128::from(n),
                Op::Dec(_, n) => down += u128::from(n),
                _ => {}
            }
            replicas[at].apply(&op);
            let other = replicas[from].clone();
            replicas[at].merge(&other);
        }
        for i in 0..4 {
            for j in 0..4 {
                let other = replicas[j].clone();
                replicas[i].merge(&other);
            }
        }
        for r in &replicas[1..] {
            prop_assert_eq!(r, &replicas[0]);
        }
        prop_assert_eq!(replicas[0].g.value(), up);
        prop_assert_eq!(replicas[0].pn.value(), i128::try_from(up).unwrap() - i128::try_from(down).unwrap());
    }

    #[test]
    fn every_state_survives_the_wire(r in run()) {
        let a = &r[0];
        round_trip(&a.g);
        round_trip(&a.pn);
        round_trip(&a.lww);
        round_trip(&a.mv);
        round_trip(&a.set);
        round_trip(&a.dvv);
    }

    /// Add wins: an add at one replica concurrent with a remove of the same
    /// element at another leaves the element in the merged set.
    #[test]
    fn an_add_concurrent_with_a_remove_wins(r in run(), e in 0..6u8) {
        let mut remover = r[0].set.clone();
        let mut adder = r[0].set.clone();
        remover.remove(&vec![e]);
        adder.add(NodeId(9), vec![e]).unwrap();
        remover.merge(&adder);
        prop_assert!(remover.contains(&vec![e]));
    }

    /// A remove that has seen every add of the element removes it for
    /// good: no replica that merges it can bring the element back without
    /// a new add.
    #[test]
    fn a_remove_that_saw_every_add_is_final(r in run(), e in 0..6u8) {
        let (a, b) = (&r[0], &r[1]);
        let mut all = a.merged(b).set;
        all.remove(&vec![e]);
        let mut again = a.set.clone();
        again.merge(&all);
        again.merge(&b.set);
        prop_assert!(!again.contains(&vec![e]));
    }
}

#[test]
fn states_no_replica_builds_do_not_decode() {
    use consensio::wire::{WireError, kind};
    // An OR-set whose element has a dot its (empty) context has not seen:
    // context [], entries [([7], [(1, 1)])].
    let frame = [wire::WIRE_VERSION, kind::CRDT_OR_SET, 0, 1, 1, 7, 1, 1, 1];
    assert_eq!(
        wire::decode::<OrSet<Vec<u8>>>(&frame),
        Err(WireError::Malformed)
    );
    // A G-counter with an actor twice: [(1, 1), (1, 2)].
    let frame = [wire::WIRE_VERSION, kind::CRDT_G_COUNTER, 2, 1, 1, 1, 2];
    assert_eq!(wire::decode::<GCounter>(&frame), Err(WireError::Malformed));
    // A multi-value register whose two siblings are ordered: [1:1] < [1:2].
    let frame = [
        wire::WIRE_VERSION,
        kind::CRDT_MV_REGISTER,
        2,
        1,
        1,
        1,
        1,
        0xa,
        1,
        1,
        2,
        1,
        0xb,
    ];
    assert_eq!(
        wire::decode::<MvRegister<Vec<u8>>>(&frame),
        Err(WireError::Malformed)
    );
}
