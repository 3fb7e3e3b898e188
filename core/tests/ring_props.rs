//! Property tests: placements under random sequences of changes and lookups
//! agree with a plain model of the membership, bad input is a typed error
//! (never a panic), and the same members place keys the same way however
//! they were added.

use consensio::NodeId;
use consensio::ring::{
    self, BoundedLoadRing, HashRing, MAX_MAGLEV_TABLE_SIZE, MAX_VNODES, Maglev, Rendezvous, ZoneId,
    jump_hash,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const VNODES: u32 = 16;

/// Weights: mostly small, some zero, some far past the token bound.
fn weight() -> impl Strategy<Value = u32> {
    prop_oneof![
        8 => 1u32..4,
        1 => Just(0u32),
        1 => (MAX_VNODES as u32 / VNODES + 1)..=u32::MAX,
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Add {
        id: u64,
        weight: u32,
        zone: Option<u64>,
    },
    Remove {
        id: u64,
    },
    Lookup {
        key: Vec<u8>,
        n: usize,
        slots: usize,
    },
}

/// Ids from a small range so that duplicates and unknown removals are common.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..12, weight(), proptest::option::of(0u64..3))
            .prop_map(|(id, weight, zone)| Op::Add { id, weight, zone }),
        1 => (0u64..12).prop_map(|id| Op::Remove { id }),
        4 => (proptest::collection::vec(any::<u8>(), 0..16), 0usize..6, 0usize..8)
            .prop_map(|(key, n, slots)| Op::Lookup { key, n, slots }),
    ]
}

/// Checks a preference list of `count` entries for `n` asked of `members`.
fn check_list(
    out: &[NodeId],
    count: usize,
    n: usize,
    owner: NodeId,
    members: &BTreeMap<u64, (u32, Option<u64>)>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(count, n.min(members.len()));
    let list = &out[..count];
    let distinct: BTreeSet<NodeId> = list.iter().copied().collect();
    prop_assert_eq!(distinct.len(), count);
    prop_assert!(list.iter().all(|node| members.contains_key(&node.0)));
    if count > 0 {
        prop_assert_eq!(list[0], owner);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ring_operations_agree_with_a_model_and_never_panic(
        ops in proptest::collection::vec(op(), 0..40)
    ) {
        let mut ring = HashRing::new(VNODES).unwrap();
        let mut members: BTreeMap<u64, (u32, Option<u64>)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add { id, weight, zone } => {
                    let tokens: u64 = members.values().map(|m| u64::from(m.0 * VNODES)).sum();
                    let want = if members.contains_key(&id) {
                        Err(ring::Error::DuplicateNode { node: NodeId(id) })
                    } else if weight == 0 {
                        Err(ring::Error::ZeroWeight { node: NodeId(id) })
                    } else if tokens + u64::from(weight) * u64::from(VNODES) > MAX_VNODES as u64 {
                        Err(ring::Error::TooManyVnodes { max: MAX_VNODES })
                    } else {
                        Ok(())
                    };
                    prop_assert_eq!(ring.add_node(NodeId(id), weight, zone.map(ZoneId)), want);
                    if want.is_ok() {
                        members.insert(id, (weight, zone));
                    }
                }
                Op::Remove { id } => {
                    let got = ring.remove_node(NodeId(id)).map(|m| (m.weight, m.zone.map(|z| z.0)));
                    let want = members.remove(&id).ok_or(ring::Error::UnknownNode { node: NodeId(id) });
                    prop_assert_eq!(got, want);
                }
                Op::Lookup { key, n, slots } => {
                    let mut out = vec![NodeId(u64::MAX); slots];
                    let owner = ring.owner(&key);
                    let plain = ring.preference_list(&key, n, &mut out);
                    let want_error = if slots < n {
                        Some(ring::Error::OutputTooSmall { needed: n, found: slots })
                    } else if members.is_empty() {
                        Some(ring::Error::Empty)
                    } else {
                        None
                    };
                    match (want_error, owner, plain) {
                        (Some(error), _, got) => prop_assert_eq!(got, Err(error)),
                        (None, Ok(owner), Ok(count)) => {
                            check_list(&out, count, n, owner, &members)?;
                            let count = ring.preference_list_by_zone(&key, n, &mut out).unwrap();
                            check_list(&out, count, n, owner, &members)?;
                            let zones: BTreeSet<Option<u64>> = out[..count]
                                .iter()
                                .map(|node| members[&node.0].1)
                                .collect();
                            let all_zones: BTreeSet<Option<u64>> =
                                members.values().map(|m| m.1).collect();
                            prop_assert_eq!(zones.len(), n.min(all_zones.len()));
                        }
                        (None, owner, got) => {
                            prop_assert!(false, "unexpected {:?} / {:?}", owner, got);
                        }
                    }
                }
            }
            let tokens: u64 = members.values().map(|m| u64::from(m.0 * VNODES)).sum();
            prop_assert_eq!(ring.vnode_count() as u64, tokens);
            prop_assert_eq!(ring.len(), members.len());
        }
    }

    #[test]
    fn the_same_members_place_keys_the_same_way_in_any_order(
        members in proptest::collection::btree_map(any::<u64>(), 1u32..4, 1..8),
        keys in proptest::collection::vec(any::<u64>(), 1..20),
    ) {
        let build = |order: &mut dyn Iterator<Item = (&u64, &u32)>| {
            let mut ring = HashRing::new(VNODES).unwrap();
            let mut rendezvous = Rendezvous::new();
            for (&id, &weight) in order {
                ring.add_node(NodeId(id), weight, None).unwrap();
                rendezvous.add_node(NodeId(id), weight).unwrap();
            }
            (ring, rendezvous)
        };
        let (ring_a, rdv_a) = build(&mut members.iter());
        let (ring_b, rdv_b) = build(&mut members.iter().rev());
        let listed: Vec<(NodeId, u32)> = members.iter().map(|(&id, &w)| (NodeId(id), w)).collect();
        let reversed: Vec<(NodeId, u32)> = listed.iter().rev().copied().collect();
        let table = |nodes: &[(NodeId, u32)]| Maglev::new(nodes, 1009).unwrap();
        let (maglev_a, maglev_b) = (table(&listed), table(&reversed));
        prop_assert_eq!(maglev_a.table(), maglev_b.table());
        for key in keys {
            let key = key.to_le_bytes();
            prop_assert_eq!(ring_a.owner(&key), ring_b.owner(&key));
            prop_assert_eq!(rdv_a.owner(&key), rdv_b.owner(&key));
        }
    }

    #[test]
    fn rendezvous_operations_agree_with_a_model_and_never_panic(
        ops in proptest::collection::vec(op(), 0..40)
    ) {
        let mut set = Rendezvous::new();
        let mut members: BTreeMap<u64, (u32, Option<u64>)> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add { id, weight, .. } => {
                    let want = if members.contains_key(&id) {
                        Err(ring::Error::DuplicateNode { node: NodeId(id) })
                    } else if weight == 0 {
                        Err(ring::Error::ZeroWeight { node: NodeId(id) })
                    } else {
                        Ok(())
                    };
                    prop_assert_eq!(set.add_node(NodeId(id), weight), want);
                    if want.is_ok() {
                        members.insert(id, (weight, None));
                    }
                }
                Op::Remove { id } => {
                    let want = members
                        .remove(&id)
                        .map(|m| m.0)
                        .ok_or(ring::Error::UnknownNode { node: NodeId(id) });
                    prop_assert_eq!(set.remove_node(NodeId(id)), want);
                }
                Op::Lookup { key, n, slots } => {
                    let mut out = vec![NodeId(u64::MAX); slots];
                    match set.preference_list(&key, n, &mut out) {
                        Ok(count) => check_list(&out, count, n, set.owner(&key).unwrap(), &members)?,
                        Err(ring::Error::OutputTooSmall { .. }) => prop_assert!(slots < n),
                        Err(ring::Error::Empty) => prop_assert!(members.is_empty() && slots >= n),
                        Err(other) => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
            }
        }
    }

    #[test]
    fn removing_a_rendezvous_node_moves_only_its_keys(
        members in proptest::collection::btree_map(0u64..1000, 1u32..5, 2..10),
        gone in any::<prop::sample::Index>(),
        keys in proptest::collection::vec(any::<u64>(), 1..50),
    ) {
        let mut set = Rendezvous::new();
        for (&id, &weight) in &members {
            set.add_node(NodeId(id), weight).unwrap();
        }
        let gone = NodeId(*gone.get(&members.keys().copied().collect::<Vec<_>>()));
        let mut after = set.clone();
        after.remove_node(gone).unwrap();
        for key in keys {
            let key = key.to_le_bytes();
            let before = set.owner(&key).unwrap();
            if before != gone {
                prop_assert_eq!(after.owner(&key), Ok(before));
            }
        }
    }

    #[test]
    fn maglev_builds_or_fails_with_a_typed_error(
        nodes in proptest::collection::vec((0u64..20, 0u32..5), 0..12),
        table_size in prop_oneof![0u32..3000, Just(MAX_MAGLEV_TABLE_SIZE + 1), Just(u32::MAX)],
        key in any::<u64>(),
    ) {
        let nodes: Vec<(NodeId, u32)> = nodes.into_iter().map(|(id, w)| (NodeId(id), w)).collect();
        let ids: BTreeSet<NodeId> = nodes.iter().map(|n| n.0).collect();
        match Maglev::new(&nodes, table_size) {
            Ok(maglev) => {
                prop_assert!(nodes.iter().all(|n| n.1 > 0));
                prop_assert_eq!(ids.len(), nodes.len());
                prop_assert!(u64::from(table_size) >= 100 * nodes.len() as u64);
                if nodes.is_empty() {
                    prop_assert_eq!(maglev.lookup(&key.to_le_bytes()), Err(ring::Error::Empty));
                } else {
                    prop_assert_eq!(maglev.table().len(), table_size as usize);
                    prop_assert!(ids.contains(&maglev.lookup(&key.to_le_bytes()).unwrap()));
                    // Every node holds at least one entry.
                    let holders: BTreeSet<NodeId> = maglev.table().iter().copied().collect();
                    prop_assert_eq!(holders, ids);
                }
            }
            Err(ring::Error::ZeroWeight { node }) => {
                prop_assert!(nodes.contains(&(node, 0)));
            }
            Err(ring::Error::DuplicateNode { node }) => {
                prop_assert!(nodes.iter().filter(|n| n.0 == node).count() > 1);
            }
            Err(ring::Error::TableSizeOutOfRange { size, min, .. }) => {
                prop_assert!(u64::from(size) < min || size > MAX_MAGLEV_TABLE_SIZE);
            }
            Err(ring::Error::TableSizeNotPrime { size }) => {
                prop_assert!(size < 2 || (2..size).any(|d| size % d == 0));
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn bounded_loads_never_exceed_capacity_and_track_a_model(
        numerator in 0u32..4,
        denominator in 1u32..4,
        ops in proptest::collection::vec((0u8..4, 0u64..6, any::<u64>()), 0..200),
    ) {
        let mut ring = BoundedLoadRing::new(8, numerator, denominator).unwrap();
        let mut loads: BTreeMap<u64, u64> = BTreeMap::new();
        for (kind, id, key) in ops {
            match kind {
                0 => {
                    let got = ring.add_node(NodeId(id));
                    if let std::collections::btree_map::Entry::Vacant(slot) = loads.entry(id) {
                        prop_assert_eq!(got, Ok(()));
                        slot.insert(0);
                    } else {
                        prop_assert_eq!(got, Err(ring::Error::DuplicateNode { node: NodeId(id) }));
                    }
                }
                1 => {
                    let want = loads.remove(&id).ok_or(ring::Error::UnknownNode { node: NodeId(id) });
                    prop_assert_eq!(ring.remove_node(NodeId(id)), want);
                }
                2 => match loads.get_mut(&id) {
                    None => prop_assert_eq!(
                        ring.release(NodeId(id)),
                        Err(ring::Error::UnknownNode { node: NodeId(id) })
                    ),
                    Some(0) => prop_assert_eq!(
                        ring.release(NodeId(id)),
                        Err(ring::Error::NoLoad { node: NodeId(id) })
                    ),
                    Some(load) => {
                        prop_assert_eq!(ring.release(NodeId(id)), Ok(()));
                        *load -= 1;
                    }
                },
                _ => {
                    if loads.is_empty() {
                        prop_assert_eq!(ring.assign(&key.to_le_bytes()), Err(ring::Error::Empty));
                        continue;
                    }
                    let m = loads.values().sum::<u64>() + 1;
                    let n = loads.len() as u64;
                    let capacity = (u64::from(numerator + denominator) * m)
                        .div_ceil(u64::from(denominator) * n);
                    prop_assert_eq!(ring.capacity(), Ok(capacity));
                    let node = ring.assign(&key.to_le_bytes()).unwrap();
                    let load = loads.get_mut(&node.0).unwrap();
                    prop_assert!(*load < capacity, "assigned to a full node");
                    *load += 1;
                }
            }
            prop_assert_eq!(ring.total_load(), loads.values().sum::<u64>());
            for (&id, &load) in &loads {
                prop_assert_eq!(ring.load(NodeId(id)), Ok(load));
            }
        }
    }

    #[test]
    fn jump_hash_stays_in_range_and_a_new_bucket_only_takes_keys(
        key in any::<u64>(),
        buckets in prop_oneof![1u32..100, any::<u32>().prop_map(|b| b.max(1))],
    ) {
        let bucket = jump_hash(key, buckets).unwrap();
        prop_assert!(bucket < buckets);
        if let Some(grown) = buckets.checked_add(1) {
            let moved = jump_hash(key, grown).unwrap();
            prop_assert!(moved == bucket || moved == buckets);
        }
        prop_assert_eq!(jump_hash(key, 0), Err(ring::Error::ZeroBuckets));
    }
}
