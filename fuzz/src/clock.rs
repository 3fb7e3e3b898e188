//! Clock targets: wire decoding, and the algebra of vector clocks, hybrid
//! logical clocks and Lamport clocks against naive models.

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use consensio::clock::{
    self, CausalClock, CausalOrdering, DenseVectorClock, HlcTimestamp, HybridLogicalClock,
    LamportClock, LamportStamp, VectorClock,
};
use consensio::{Instant, NodeId, wire};

use crate::{round_trip, structured};

/// `clock_decode`: every clock wire type decodes without panicking, and
/// whatever decodes survives decode → encode → decode unchanged.
pub fn decode(data: &[u8]) {
    round_trip::<VectorClock>(data);
    round_trip::<DenseVectorClock<1>>(data);
    round_trip::<DenseVectorClock<8>>(data);
    round_trip::<HlcTimestamp>(data);
    round_trip::<LamportStamp>(data);
}

/// Dense clocks in this target have this many actors.
const DENSE: usize = 8;

#[derive(Arbitrary, Debug)]
pub struct LawsInput {
    /// Raw `(actor, counter)` lists, repeats and zeros included.
    clocks: [Vec<(u8, Counter)>; 3],
    /// Increments applied to the first clock.
    increments: Vec<u8>,
    hlc_max_offset_ms: u16,
    hlc: Vec<HlcOp>,
    lamport: Vec<LamportOp>,
}

/// Counters near zero and near the top, where overflow lives.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Counter {
    Small(u8),
    NearMax(u8),
    Any(u64),
}

impl Counter {
    fn get(self) -> u64 {
        match self {
            Counter::Small(c) => u64::from(c % 8),
            Counter::NearMax(c) => u64::MAX - u64::from(c % 4),
            Counter::Any(c) => c,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum HlcOp {
    Now {
        advance_ms: u16,
    },
    Receive {
        advance_ms: u16,
        wall_ms: Wall,
        logical: u32,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Wall {
    /// Relative to the local physical time.
    Ahead(u16),
    Behind(u16),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
enum LamportOp {
    Tick,
    Receive { time: Counter, node: u8 },
}

/// The model of a vector clock: actor → non-zero counter.
type Model = BTreeMap<u64, u64>;

fn model_of(entries: &[(u8, Counter)]) -> Model {
    let mut model = Model::new();
    for &(actor, counter) in entries {
        let counter = counter.get();
        if counter != 0 {
            model.insert(u64::from(actor), counter);
        } else {
            model.remove(&u64::from(actor));
        }
    }
    model
}

fn clock_of(model: &Model) -> VectorClock {
    VectorClock::from_entries(model.iter().map(|(&a, &c)| (NodeId(a), c))).expect("distinct actors")
}

fn model_compare(a: &Model, b: &Model) -> CausalOrdering {
    let (mut smaller, mut larger) = (false, false);
    for actor in a.keys().chain(b.keys()) {
        let (x, y) = (
            a.get(actor).copied().unwrap_or(0),
            b.get(actor).copied().unwrap_or(0),
        );
        smaller |= x < y;
        larger |= x > y;
    }
    match (smaller, larger) {
        (false, false) => CausalOrdering::Equal,
        (true, false) => CausalOrdering::Before,
        (false, true) => CausalOrdering::After,
        (true, true) => CausalOrdering::Concurrent,
    }
}

fn model_merge(a: &Model, b: &Model) -> Model {
    let mut m = a.clone();
    for (&actor, &counter) in b {
        let slot = m.entry(actor).or_insert(0);
        *slot = (*slot).max(counter);
    }
    m
}

fn merged(a: &VectorClock, b: &VectorClock) -> VectorClock {
    let mut m = a.clone();
    m.merge(b);
    m
}

/// `clock_laws`: vector clocks form a join-semilattice whose order is the
/// pointwise order of a naive model; dense and sparse agree; HLC and Lamport
/// timestamps only grow, and errors leave the clock unchanged.
pub fn laws(data: &[u8]) {
    structured(data, |input: LawsInput| {
        vector_clocks(&input);
        hlc(&input);
        lamport(&input);
    });
}

fn vector_clocks(input: &LawsInput) {
    // from_entries: zeros dropped, a repeated non-zero actor rejected.
    for raw in &input.clocks {
        let mut seen = BTreeMap::new();
        let mut duplicate = None;
        for &(actor, counter) in raw {
            let counter = counter.get();
            if counter != 0 && seen.insert(actor, counter).is_some() && duplicate.is_none() {
                duplicate = Some(actor);
            }
        }
        let built =
            VectorClock::from_entries(raw.iter().map(|&(a, c)| (NodeId(a.into()), c.get())));
        match duplicate {
            Some(_) => assert!(matches!(built, Err(clock::Error::DuplicateActor { .. }))),
            None => {
                let clock = built.expect("no duplicate");
                let model: Model = seen.iter().map(|(&a, &c)| (u64::from(a), c)).collect();
                assert_eq!(clock, clock_of(&model));
            }
        }
    }

    let models: Vec<Model> = input.clocks.iter().map(|raw| model_of(raw)).collect();
    let clocks: Vec<VectorClock> = models.iter().map(clock_of).collect();
    let (a, b, c) = (&clocks[0], &clocks[1], &clocks[2]);
    let (ma, mb) = (&models[0], &models[1]);

    // Order: the model's pointwise order, antisymmetric, and PartialOrd agrees.
    let ab = a.compare(b);
    assert_eq!(ab, model_compare(ma, mb));
    assert_eq!(b.compare(a), ab.reverse());
    assert_eq!(a.partial_cmp(b), ab.partial());
    assert_eq!(a == b, ab == CausalOrdering::Equal);
    assert_eq!(a.compare(a), CausalOrdering::Equal);
    if ab == CausalOrdering::Before {
        assert!(a.event_count() < b.event_count());
        assert!(a.happened_before(b) && b.dominates(a) && !a.concurrent_with(b));
    }

    // Merge: the model's pointwise maximum; commutative, associative,
    // idempotent, and an upper bound of both sides.
    let m = merged(a, b);
    assert_eq!(m, clock_of(&model_merge(ma, mb)));
    assert_eq!(m, merged(b, a));
    assert_eq!(merged(&m, c), merged(a, &merged(b, c)));
    assert_eq!(merged(a, a), *a);
    assert!(m.dominates(a) && m.dominates(b));
    assert_eq!(m.entries().len(), m.len());
    assert!(m.entries().windows(2).all(|w| w[0].0 < w[1].0));
    assert!(m.entries().iter().all(|e| e.1 != 0));
    // Merging into a clock that has already seen every actor takes the
    // in-place path; it must give the same result.
    let mut again = m.clone();
    again.merge(b);
    assert_eq!(again, m);

    // Dense and sparse agree wherever the actors fit.
    let dense: Vec<Option<DenseVectorClock<DENSE>>> = clocks
        .iter()
        .zip(&models)
        .map(|(clock, model)| {
            let d = clock.to_dense::<DENSE>();
            if model.keys().any(|&actor| actor >= DENSE as u64) {
                assert!(matches!(d, Err(clock::Error::ActorOutOfRange { .. })));
                None
            } else {
                let d = d.expect("actors fit");
                assert_eq!(VectorClock::from(&d), *clock);
                Some(d)
            }
        })
        .collect();
    if let (Some(da), Some(db)) = (dense[0], dense[1]) {
        assert_eq!(da.compare(&db), ab);
        assert_eq!(da.partial_cmp(&db), ab.partial());
        let mut dm = da;
        dm.merge(&db);
        assert_eq!(VectorClock::from(&dm), m);
        let frame = wire::encode_to_vec(&da).expect("encodes");
        assert_eq!(wire::decode::<DenseVectorClock<DENSE>>(&frame), Ok(da));
    }
    let frame = wire::encode_to_vec(a).expect("encodes");
    assert_eq!(wire::decode::<VectorClock>(&frame).as_ref(), Ok(a));

    // Increments: +1, or Overflow with the clock unchanged.
    let mut x = a.clone();
    let mut model = ma.clone();
    let mut dx = dense[0];
    for &actor in &input.increments {
        let before = x.clone();
        let now = model.get(&u64::from(actor)).copied().unwrap_or(0);
        match x.increment(NodeId(actor.into())) {
            Ok(counter) => {
                assert_eq!(Some(counter), now.checked_add(1));
                model.insert(actor.into(), counter);
                assert_eq!(before.compare(&x), CausalOrdering::Before);
            }
            Err(e) => {
                assert_eq!(e, clock::Error::Overflow);
                assert_eq!(now, u64::MAX);
                assert_eq!(x, before);
            }
        }
        if let Some(d) = dx.as_mut() {
            let dense_before = *d;
            match d.increment(usize::from(actor)) {
                Ok(counter) => assert_eq!(counter, x.get(NodeId(actor.into()))),
                Err(clock::Error::ActorOutOfRange { .. }) => {
                    assert!(usize::from(actor) >= DENSE);
                    assert_eq!(*d, dense_before);
                }
                Err(clock::Error::Overflow) => assert_eq!(*d, dense_before),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(x, clock_of(&model));
    }
}

fn hlc(input: &LawsInput) {
    let max_offset = u64::from(input.hlc_max_offset_ms);
    let mut clock = HybridLogicalClock::new(max_offset);
    let mut pt = 0u64;
    for op in input.hlc.iter().take(256) {
        let before = clock.last();
        let result = match *op {
            HlcOp::Now { advance_ms } => {
                pt += u64::from(advance_ms);
                clock.now(Instant::from_millis(pt))
            }
            HlcOp::Receive {
                advance_ms,
                wall_ms,
                logical,
            } => {
                pt += u64::from(advance_ms);
                let wall_ms = match wall_ms {
                    Wall::Ahead(d) => pt.saturating_add(d.into()),
                    Wall::Behind(d) => pt.saturating_sub(d.into()),
                    Wall::Any(w) => w,
                };
                let remote = HlcTimestamp { wall_ms, logical };
                let result = clock.receive(Instant::from_millis(pt), remote);
                match result {
                    Ok(ts) => {
                        assert!(ts > remote, "{ts} not after the message's {remote}");
                        assert!(wall_ms <= pt + max_offset);
                    }
                    Err(clock::Error::RemoteTooFarAhead { .. }) => {
                        assert!(wall_ms > pt + max_offset)
                    }
                    Err(clock::Error::Overflow) => {}
                    Err(e) => panic!("unexpected {e:?}"),
                }
                result
            }
        };
        match result {
            Ok(ts) => {
                assert!(ts > before, "{ts} not after {before}");
                assert!(ts.wall_ms >= pt, "behind physical time");
                assert_eq!(clock.last(), ts);
            }
            Err(_) => assert_eq!(clock.last(), before, "an error changed the clock"),
        }
    }
}

fn lamport(input: &LawsInput) {
    let mut clock = LamportClock::new(NodeId(0));
    for op in input.lamport.iter().take(256) {
        let before = clock.stamp();
        let result = match *op {
            LamportOp::Tick => clock.tick(),
            LamportOp::Receive { time, node } => {
                let remote = LamportStamp {
                    time: time.get(),
                    node: NodeId(node.into()),
                };
                let result = clock.receive(remote);
                if let Ok(stamp) = result {
                    assert!(stamp.time > remote.time);
                }
                result
            }
        };
        match result {
            Ok(stamp) => {
                assert!(stamp.time > before.time);
                assert_eq!(clock.stamp(), stamp);
            }
            Err(e) => {
                assert_eq!(e, clock::Error::Overflow);
                assert_eq!(clock.stamp(), before);
            }
        }
    }
}
