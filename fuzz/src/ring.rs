//! Ring target: every placement structure driven by one sequence of
//! membership changes and lookups, against a model of the membership.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use consensio::NodeId;
use consensio::ring::{
    self, BoundedLoadRing, HashRing, MAX_MAGLEV_TABLE_SIZE, Maglev, Rendezvous, ZoneId,
    hash::key_position, jump_hash,
};

use crate::structured;

#[derive(Arbitrary, Debug)]
pub struct RingInput {
    vnodes_per_weight: u8,
    epsilon_numerator: u8,
    epsilon_denominator: u8,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Add {
        node: u8,
        weight: u8,
        zone: Option<u8>,
    },
    Remove {
        node: u8,
    },
    Lookup {
        key: Vec<u8>,
        n: u8,
    },
    Assign {
        key: Vec<u8>,
    },
    Release {
        node: u8,
    },
    Maglev {
        size: TableSize,
    },
    Jump {
        key: u64,
        buckets: u32,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TableSize {
    /// A prime, small enough to build quickly.
    Prime(u8),
    Any(u32),
}

const PRIMES: [u32; 8] = [2, 3, 101, 257, 1_009, 2_053, 4_099, 8_191];

fn is_prime(n: u32) -> bool {
    n >= 2
        && (2..)
            .take_while(|d: &u32| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Members as the model sees them: node → (weight, zone).
type Members = BTreeMap<NodeId, (u32, Option<ZoneId>)>;

struct Rings {
    hash: HashRing,
    rendezvous: Rendezvous,
    bounded: BoundedLoadRing,
    members: Members,
    /// Bounded-ring loads, by node.
    loads: BTreeMap<NodeId, u64>,
    /// Keys looked up so far, to check minimal movement on changes.
    keys: Vec<Vec<u8>>,
    maglev_builds: usize,
    vnodes_per_weight: u64,
}

/// `ring_ops`: no operation panics; every placement names a member (or
/// fails with `Empty` when there is none); preference lists hold distinct
/// members, start with the owner and cover as many zones as they can;
/// adding a node moves keys only to it and removing one moves only its
/// keys (ring and rendezvous); bounded loads stay within their capacity;
/// Maglev tables are built exactly when their size is allowed; jump hash
/// stays in range and moves keys only to a new last bucket.
pub fn ops(data: &[u8]) {
    structured(data, |input: RingInput| {
        let vnodes = u32::from(input.vnodes_per_weight % 16) + 1;
        let den = u32::from(input.epsilon_denominator % 8);
        let bounded = BoundedLoadRing::new(vnodes, u32::from(input.epsilon_numerator % 8), den);
        if den == 0 {
            assert_eq!(bounded.err(), Some(ring::Error::ZeroDenominator));
            return;
        }
        assert_eq!(HashRing::new(0).err(), Some(ring::Error::ZeroVnodes));
        let mut rings = Rings {
            hash: HashRing::new(vnodes).expect("vnodes > 0"),
            rendezvous: Rendezvous::new(),
            bounded: bounded.expect("a valid bounded ring"),
            members: Members::new(),
            loads: BTreeMap::new(),
            keys: Vec::new(),
            maglev_builds: 0,
            vnodes_per_weight: vnodes.into(),
        };
        for op in input.ops.iter().take(256) {
            rings.apply(op);
            rings.check_members();
        }
    });
}

impl Rings {
    fn owners(&self) -> Vec<(Option<NodeId>, Option<NodeId>)> {
        self.keys
            .iter()
            .map(|k| (self.hash.owner(k).ok(), self.rendezvous.owner(k).ok()))
            .collect()
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Add { node, weight, zone } => {
                let id = NodeId(u64::from(*node % 32));
                let weight = u32::from(*weight % 4);
                let zone = zone.map(|z| ZoneId(u64::from(z % 4)));
                let before = self.owners();
                let result = self.hash.add_node(id, weight, zone);
                let rendezvous = self.rendezvous.add_node(id, weight);
                let expected = if self.members.contains_key(&id) {
                    Err(ring::Error::DuplicateNode { node: id })
                } else if weight == 0 {
                    Err(ring::Error::ZeroWeight { node: id })
                } else {
                    Ok(())
                };
                assert_eq!(result, expected);
                assert_eq!(rendezvous, expected);
                if expected.is_ok() {
                    self.members.insert(id, (weight, zone));
                    // Keys move only to the new node.
                    for (old, new) in before.iter().zip(self.owners()) {
                        for (o, n) in [(old.0, new.0), (old.1, new.1)] {
                            assert!(o.is_none() || n == o || n == Some(id), "{o:?} → {n:?}");
                        }
                    }
                }
                let bounded = self.bounded.add_node(id);
                match self.loads.entry(id) {
                    Entry::Occupied(_) => {
                        assert_eq!(bounded, Err(ring::Error::DuplicateNode { node: id }));
                    }
                    Entry::Vacant(slot) => {
                        bounded.expect("a new node");
                        slot.insert(0);
                    }
                }
            }
            Op::Remove { node } => {
                let id = NodeId(u64::from(*node % 32));
                let before = self.owners();
                let removed = self.hash.remove_node(id);
                let rendezvous = self.rendezvous.remove_node(id);
                match self.members.remove(&id) {
                    Some((weight, zone)) => {
                        let node = removed.expect("a member");
                        assert_eq!((node.id, node.weight, node.zone), (id, weight, zone));
                        assert_eq!(rendezvous, Ok(weight));
                        // Only the removed node's keys move.
                        for (old, new) in before.iter().zip(self.owners()) {
                            for (o, n) in [(old.0, new.0), (old.1, new.1)] {
                                if o != Some(id) {
                                    assert_eq!(n, o);
                                }
                            }
                        }
                    }
                    None => {
                        assert_eq!(removed.err(), Some(ring::Error::UnknownNode { node: id }));
                        assert_eq!(rendezvous, Err(ring::Error::UnknownNode { node: id }));
                    }
                }
                match self.loads.remove(&id) {
                    Some(load) => assert_eq!(self.bounded.remove_node(id), Ok(load)),
                    None => assert_eq!(
                        self.bounded.remove_node(id),
                        Err(ring::Error::UnknownNode { node: id })
                    ),
                }
            }
            Op::Lookup { key, n } => {
                let n = usize::from(*n % 8);
                self.lookup(key, n);
                if self.keys.len() < 16 {
                    self.keys.push(key.clone());
                }
            }
            Op::Assign { key } => {
                let capacity = self.bounded.capacity();
                let result = self.bounded.assign(key);
                if self.loads.is_empty() {
                    assert_eq!(capacity, Err(ring::Error::Empty));
                    assert_eq!(result, Err(ring::Error::Empty));
                    return;
                }
                let capacity = capacity.expect("members");
                let node = result.expect("some node is below capacity");
                let load = self.loads.get_mut(&node).expect("a member");
                assert!(*load < capacity, "assigned to a full node");
                *load += 1;
            }
            Op::Release { node } => {
                let id = NodeId(u64::from(*node % 32));
                let result = self.bounded.release(id);
                match self.loads.get_mut(&id) {
                    None => assert_eq!(result, Err(ring::Error::UnknownNode { node: id })),
                    Some(0) => assert_eq!(result, Err(ring::Error::NoLoad { node: id })),
                    Some(load) => {
                        result.expect("a key to release");
                        *load -= 1;
                    }
                }
            }
            Op::Maglev { size } => self.maglev(*size),
            Op::Jump { key, buckets } => {
                let buckets = buckets % 1_000;
                match jump_hash(*key, buckets) {
                    Err(e) => {
                        assert_eq!(buckets, 0);
                        assert_eq!(e, ring::Error::ZeroBuckets);
                    }
                    Ok(b) => {
                        assert!(b < buckets);
                        let grown = jump_hash(*key, buckets + 1).expect("buckets > 0");
                        assert!(grown == b || grown == buckets, "{b} → {grown}");
                    }
                }
            }
        }
    }

    fn lookup(&self, key: &[u8], n: usize) {
        let members: BTreeSet<NodeId> = self.members.keys().copied().collect();
        let mut out = [NodeId(u64::MAX); 8];
        if members.is_empty() {
            assert_eq!(self.hash.owner(key), Err(ring::Error::Empty));
            assert_eq!(self.rendezvous.owner(key), Err(ring::Error::Empty));
            assert_eq!(
                self.hash.preference_list(key, n, &mut out),
                Err(ring::Error::Empty)
            );
            assert_eq!(
                self.rendezvous.preference_list(key, n, &mut out),
                Err(ring::Error::Empty)
            );
            return;
        }
        assert_eq!(
            self.hash.preference_list(key, 9, &mut out),
            Err(ring::Error::OutputTooSmall {
                needed: 9,
                found: 8
            })
        );
        let want = n.min(members.len());
        let zones: BTreeSet<Option<ZoneId>> = self.members.values().map(|m| m.1).collect();
        let owner = self.hash.owner(key).expect("members");
        assert!(members.contains(&owner));
        let rendezvous_owner = self.rendezvous.owner(key).expect("members");
        assert!(members.contains(&rendezvous_owner));
        // One output array per list: the three calls run before the loop.
        let (mut by_zone_out, mut rendezvous_out) = (out, out);
        for (list, out, first, by_zone) in [
            (
                self.hash.preference_list(key, n, &mut out),
                &out,
                owner,
                false,
            ),
            (
                self.hash.preference_list_by_zone(key, n, &mut by_zone_out),
                &by_zone_out,
                owner,
                true,
            ),
            (
                self.rendezvous.preference_list(key, n, &mut rendezvous_out),
                &rendezvous_out,
                rendezvous_owner,
                false,
            ),
        ] {
            let count = list.expect("room for n");
            assert_eq!(count, want);
            let chosen = &out[..count];
            let distinct: BTreeSet<NodeId> = chosen.iter().copied().collect();
            assert_eq!(distinct.len(), count, "a node listed twice");
            assert!(distinct.is_subset(&members), "a non-member listed");
            if count > 0 {
                assert_eq!(chosen[0], first, "the list does not start with the owner");
            }
            if by_zone {
                let covered: BTreeSet<Option<ZoneId>> =
                    chosen.iter().map(|c| self.members[c].1).collect();
                assert_eq!(covered.len(), want.min(zones.len()), "zones not spread");
            }
        }
        let _ = key_position(key);
    }

    fn maglev(&mut self, size: TableSize) {
        // Builds cost O(size); a few per input keep the target fast.
        if self.maglev_builds == 4 {
            return;
        }
        self.maglev_builds += 1;
        let size = match size {
            TableSize::Prime(i) => PRIMES[usize::from(i) % PRIMES.len()],
            TableSize::Any(s) => s % 10_000,
        };
        let nodes: Vec<(NodeId, u32)> = self.members.iter().map(|(&id, &(w, _))| (id, w)).collect();
        let result = Maglev::new(&nodes, size);
        let min = 100 * nodes.len() as u64;
        if u64::from(size) < min || size > MAX_MAGLEV_TABLE_SIZE {
            assert!(
                matches!(result, Err(ring::Error::TableSizeOutOfRange { .. })),
                "{result:?}"
            );
            return;
        }
        if !is_prime(size) {
            assert_eq!(result.err(), Some(ring::Error::TableSizeNotPrime { size }));
            return;
        }
        let maglev = result.expect("an allowed size");
        assert_eq!(maglev.nodes(), &nodes[..]);
        if nodes.is_empty() {
            assert!(maglev.table().is_empty());
            assert_eq!(maglev.lookup(b"k"), Err(ring::Error::Empty));
            return;
        }
        assert_eq!(maglev.table().len(), size as usize);
        let members: BTreeSet<NodeId> = self.members.keys().copied().collect();
        let mut counts: BTreeMap<NodeId, usize> = BTreeMap::new();
        for node in maglev.table() {
            assert!(members.contains(node), "a slot owned by a non-member");
            *counts.entry(*node).or_default() += 1;
        }
        // Equal weights: entries per node within one of each other.
        if nodes.iter().all(|n| n.1 == nodes[0].1) {
            let (lo, hi) = (counts.values().min(), counts.values().max());
            assert_eq!(counts.len(), nodes.len(), "a node with no slot");
            assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{counts:?}");
        }
        for key in &self.keys {
            assert!(members.contains(&maglev.lookup(key).expect("members")));
        }
    }

    fn check_members(&self) {
        let ids: Vec<NodeId> = self.members.keys().copied().collect();
        let ring: Vec<NodeId> = self.hash.nodes().iter().map(|n| n.id).collect();
        assert_eq!(ring, ids);
        let rendezvous: Vec<NodeId> = self.rendezvous.nodes().iter().map(|n| n.0).collect();
        assert_eq!(rendezvous, ids);
        let weights: u64 = self.members.values().map(|m| u64::from(m.0)).sum();
        assert_eq!(
            self.hash.vnode_count() as u64,
            weights * self.vnodes_per_weight
        );
        let zones: BTreeSet<Option<ZoneId>> = self.members.values().map(|m| m.1).collect();
        assert_eq!(self.hash.zone_count(), zones.len());
        assert_eq!(self.bounded.total_load(), self.loads.values().sum::<u64>());
        for (&node, &load) in &self.loads {
            assert_eq!(self.bounded.load(node), Ok(load));
        }
    }
}
