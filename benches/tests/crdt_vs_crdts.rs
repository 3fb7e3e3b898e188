//! consensio's CRDTs against the `crdts` crate (7.3) where the types
//! correspond: the same random updates at four replicas and the same
//! merges, in both libraries, read the same values at every step.

use std::collections::BTreeSet;

use consensio::NodeId;
use consensio::crdt::{GCounter, Lattice, MvRegister, OrSet, PnCounter};
use crdts::{CmRDT, CvRDT};
use proptest::prelude::*;

type TheirSet = crdts::Orswot<u8, u64>;
type TheirReg = crdts::MVReg<u8, u64>;

#[derive(Clone, Debug)]
enum Step {
    Inc(usize, u8),
    Dec(usize, u8),
    Add(usize, u8),
    Remove(usize, u8),
    Write(usize, u8),
    Merge(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..4usize, any::<u8>()).prop_map(|(r, n)| Step::Inc(r, n)),
        (0..4usize, any::<u8>()).prop_map(|(r, n)| Step::Dec(r, n)),
        (0..4usize, 0..6u8).prop_map(|(r, e)| Step::Add(r, e)),
        (0..4usize, 0..6u8).prop_map(|(r, e)| Step::Remove(r, e)),
        (0..4usize, any::<u8>()).prop_map(|(r, v)| Step::Write(r, v)),
        (0..4usize, 0..4usize).prop_map(|(a, b)| Step::Merge(a, b)),
    ]
}

#[derive(Clone, Default)]
struct Ours {
    g: GCounter,
    pn: PnCounter,
    set: OrSet<u8>,
    reg: MvRegister<u8>,
}

#[derive(Clone, Default)]
struct Theirs {
    g: crdts::GCounter<u64>,
    pn: crdts::PNCounter<u64>,
    set: TheirSet,
    reg: TheirReg,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_same_updates_and_merges_read_the_same(steps in prop::collection::vec(step(), 0..48)) {
        let mut ours: Vec<Ours> = vec![Ours::default(); 4];
        let mut theirs: Vec<Theirs> = vec![Theirs::default(); 4];
        for step in steps {
            match step {
                Step::Inc(r, n) => {
                    let actor = r as u64 + 1;
                    ours[r].g.increment(NodeId(actor), u64::from(n)).unwrap();
                    ours[r].pn.increment(NodeId(actor), u64::from(n)).unwrap();
                    let op = theirs[r].g.inc_many(actor, u64::from(n));
                    theirs[r].g.apply(op);
                    let op = theirs[r].pn.inc_many(actor, u64::from(n));
                    theirs[r].pn.apply(op);
                }
                Step::Dec(r, n) => {
                    ours[r].pn.decrement(NodeId(r as u64 + 1), u64::from(n)).unwrap();
                    let op = theirs[r].pn.dec_many(r as u64 + 1, u64::from(n));
                    theirs[r].pn.apply(op);
                }
                Step::Add(r, e) => {
                    ours[r].set.add(NodeId(r as u64 + 1), e).unwrap();
                    let ctx = theirs[r].set.read_ctx().derive_add_ctx(r as u64 + 1);
                    let op = theirs[r].set.add(e, ctx);
                    theirs[r].set.apply(op);
                }
                Step::Remove(r, e) => {
                    ours[r].set.remove(&e);
                    let ctx = theirs[r].set.contains(&e).derive_rm_ctx();
                    let op = theirs[r].set.rm(e, ctx);
                    theirs[r].set.apply(op);
                }
                Step::Write(r, v) => {
                    ours[r].reg.write(NodeId(r as u64 + 1), v).unwrap();
                    let ctx = theirs[r].reg.read_ctx().derive_add_ctx(r as u64 + 1);
                    let op = theirs[r].reg.write(v, ctx);
                    theirs[r].reg.apply(op);
                }
                Step::Merge(a, b) => {
                    let o = ours[b].clone();
                    ours[a].g.merge(&o.g);
                    ours[a].pn.merge(&o.pn);
                    ours[a].set.merge(&o.set);
                    ours[a].reg.merge(&o.reg);
                    let t = theirs[b].clone();
                    theirs[a].g.merge(t.g);
                    theirs[a].pn.merge(t.pn);
                    theirs[a].set.merge(t.set);
                    theirs[a].reg.merge(t.reg);
                }
            }
            for (o, t) in ours.iter().zip(&theirs) {
                prop_assert_eq!(o.g.value().to_string(), t.g.read().to_string());
                prop_assert_eq!(o.pn.value().to_string(), t.pn.read().to_string());
                let their_set: BTreeSet<u8> = t.set.read().val.into_iter().collect();
                prop_assert_eq!(o.set.elements().copied().collect::<BTreeSet<u8>>(), their_set);
                let mut their_values = t.reg.read().val;
                their_values.sort_unstable();
                let mut our_values: Vec<u8> = o.reg.values().copied().collect();
                our_values.sort_unstable();
                prop_assert_eq!(our_values, their_values);
            }
        }
    }
}
