//! CRDT targets: wire decoding of every type (dotted version vector sets
//! included), and the semilattice laws on
//! states that replicas build from any updates and merges, including
//! states that went through the wire (and states decoded from raw bytes,
//! which must be as lawful as built ones).
//!
//! `crdt_laws` drives three replicas of every type through a sequence of
//! updates (each replica updates only as itself) and merges, shipping
//! states as frames; after every step it checks that an update inflates
//! the state (merging the old state into the new changes nothing), and at
//! the end that merge is commutative, associative and idempotent on the
//! three states, that full exchange makes them equal, and that the
//! counters count every update exactly once.

use arbitrary::Arbitrary;
use consensio::clock::HlcTimestamp;
use consensio::clock::VectorClock;
use consensio::crdt::{DvvSet, GCounter, Lattice, LwwRegister, MvRegister, OrSet, PnCounter};
use consensio::{NodeId, wire};

use crate::{round_trip, structured};

/// `crdt_decode`: every CRDT wire type decodes without panicking, and
/// whatever decodes survives decode → encode → decode unchanged.
pub fn decode(data: &[u8]) {
    round_trip::<GCounter>(data);
    round_trip::<PnCounter>(data);
    round_trip::<LwwRegister<Vec<u8>>>(data);
    round_trip::<MvRegister<Vec<u8>>>(data);
    round_trip::<OrSet<Vec<u8>>>(data);
    round_trip::<DvvSet<Vec<u8>>>(data);
    // A decoded state is as lawful as a built one: merging it with itself
    // changes nothing, and merging it into an empty state gives it back.
    if let Ok(set) = wire::decode::<OrSet<Vec<u8>>>(data) {
        let mut again = set.clone();
        again.merge(&set);
        assert_eq!(again, set, "a decoded set is not idempotent");
        let mut empty = OrSet::new();
        empty.merge(&set);
        assert_eq!(empty, set, "the empty set is not the bottom");
    }
    if let Ok(key) = wire::decode::<DvvSet<Vec<u8>>>(data) {
        let mut again = key.clone();
        again.merge(&key);
        assert_eq!(again, key, "a decoded DVV set is not idempotent");
    }
    if let Ok(register) = wire::decode::<MvRegister<Vec<u8>>>(data) {
        let mut again = register.clone();
        again.merge(&register);
        assert_eq!(again, register, "a decoded register is not idempotent");
    }
}

#[derive(Arbitrary, Debug)]
pub struct LawsInput {
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    /// Replica `at % 3` counts up (and the PN counter too).
    Increment { at: u8, by: u8 },
    /// Replica `at % 3` counts the PN counter down.
    Decrement { at: u8, by: u8 },
    /// Replica `at % 3` writes both registers.
    Write {
        at: u8,
        wall_ms: u8,
        logical: u8,
        value: u8,
    },
    /// Replica `at % 3` adds `element % 8`.
    Add { at: u8, element: u8 },
    /// Replica `at % 3` removes `element % 8`.
    Remove { at: u8, element: u8 },
    /// Replica `at % 3` merges replica `from % 3`'s state, as frames.
    Merge { at: u8, from: u8 },
    /// A client that read replica `from % 3`'s key (or nothing) writes
    /// `value` through replica `at % 3`.
    Put { at: u8, from: Option<u8>, value: u8 },
}

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

    /// The state as another replica receives it: every part through the
    /// wire.
    fn shipped(&self) -> Replica {
        fn ship<M: wire::WireMessage>(m: &M) -> M {
            let frame = wire::encode_to_vec(m).expect("a state encodes");
            wire::decode(&frame).expect("a built state decodes")
        }
        Replica {
            g: ship(&self.g),
            pn: ship(&self.pn),
            lww: ship(&self.lww),
            mv: ship(&self.mv),
            set: ship(&self.set),
            dvv: ship(&self.dvv),
        }
    }
}

/// `crdt_laws`: see the module documentation.
pub fn laws(data: &[u8]) {
    structured(data, |input: LawsInput| {
        let mut replicas: Vec<Replica> = vec![Replica::default(); 3];
        let (mut up, mut down) = (0u128, 0u128);
        for step in input.steps.iter().take(256) {
            let index = |at: u8| usize::from(at % 3);
            let actor = |at: u8| NodeId(u64::from(at % 3) + 1);
            let (at, before) = match *step {
                Step::Increment { at, .. }
                | Step::Decrement { at, .. }
                | Step::Write { at, .. }
                | Step::Add { at, .. }
                | Step::Remove { at, .. }
                | Step::Merge { at, .. }
                | Step::Put { at, .. } => (index(at), replicas[index(at)].clone()),
            };
            let r = &mut replicas[at];
            match *step {
                Step::Increment { at: a, by } => {
                    r.g.increment(actor(a), u64::from(by)).expect("small");
                    r.pn.increment(actor(a), u64::from(by)).expect("small");
                    up += u128::from(by);
                }
                Step::Decrement { at: a, by } => {
                    r.pn.decrement(actor(a), u64::from(by)).expect("small");
                    down += u128::from(by);
                }
                Step::Write {
                    at: a,
                    wall_ms,
                    logical,
                    value,
                } => {
                    let stamp = HlcTimestamp {
                        wall_ms: u64::from(wall_ms),
                        logical: u32::from(logical % 4),
                    };
                    r.lww.set(stamp, actor(a), vec![value]);
                    r.mv.write(actor(a), vec![value]).expect("small");
                }
                Step::Add { at: a, element } => {
                    r.set.add(actor(a), vec![element % 8]).expect("small");
                }
                Step::Remove { element, .. } => {
                    r.set.remove(&vec![element % 8]);
                }
                Step::Merge { from, .. } => {
                    let other = replicas[index(from)].shipped();
                    replicas[at].merge(&other);
                }
                Step::Put { at: a, from, value } => {
                    let read =
                        from.map_or_else(VectorClock::new, |f| replicas[index(f)].dvv.context());
                    replicas[at]
                        .dvv
                        .put(&read, actor(a), vec![value])
                        .expect("small");
                }
            }
            let after = &replicas[at];
            assert_eq!(
                &after.merged(&before),
                after,
                "{step:?} did not inflate the state"
            );
        }
        let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
        assert_eq!(a.merged(b), b.merged(a), "merge is not commutative");
        assert_eq!(
            a.merged(b).merged(c),
            a.merged(&b.merged(c)),
            "merge is not associative"
        );
        assert_eq!(&a.merged(a), a, "merge is not idempotent");
        let all = a.merged(b).merged(c);
        for r in &replicas {
            assert_eq!(r.merged(&all), all, "full exchange does not converge");
        }
        assert_eq!(
            all.g.value(),
            up,
            "the counter lost or doubled an increment"
        );
        let expected = i128::try_from(up).expect("small") - i128::try_from(down).expect("small");
        assert_eq!(all.pn.value(), expected);
    });
}
