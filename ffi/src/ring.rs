//! `consensio_ring_*`, `consensio_rendezvous_*`, `consensio_maglev_*`,
//! `consensio_bounded_ring_*`, `consensio_jump_hash`: placement of keys on
//! nodes, identical to the Rust and Python surfaces for the same members.

use consensio_core::NodeId;
use consensio_core::ring::{
    self, BoundedLoadRing, HashRing, Maglev, Rendezvous, ZoneId, hash, jump_hash,
};

use crate::consensio_status::{self, *};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, slice, slice_mut, take};

/// Copies a list of nodes to C.
fn nodes_out(found: &[NodeId], out: &mut [u64]) {
    for (dest, node) in out.iter_mut().zip(found) {
        *dest = node.0;
    }
}

/// Places one key with `place` and writes the chosen node to `out_node`.
///
/// # Safety
/// `key` must hold `key_len` bytes; `out_node` be writable.
unsafe fn place(
    key: *const u8,
    key_len: usize,
    out_node: *mut u64,
    place: impl FnOnce(&[u8]) -> core::result::Result<NodeId, ring::Error>,
) -> Result<()> {
    // SAFETY: forwarded from the caller.
    let (k, o) = unsafe {
        (
            slice(key, key_len, "key")?,
            borrow_mut(out_node, "out_node")?,
        )
    };
    *o = place(k)?.0;
    Ok(())
}

/// Runs a preference-list query through a scratch buffer of `n` ids.
///
/// # Safety
/// `key` must hold `key_len` bytes, `out_nodes` `cap` writable ids,
/// `out_count` be writable.
unsafe fn preference(
    key: *const u8,
    key_len: usize,
    n: usize,
    out_nodes: *mut u64,
    cap: usize,
    out_count: *mut usize,
    query: impl FnOnce(&[u8], usize, &mut [NodeId]) -> core::result::Result<usize, ring::Error>,
) -> Result<()> {
    // SAFETY: forwarded from the caller.
    let (k, out, count) = unsafe {
        (
            slice(key, key_len, "key")?,
            slice_mut(out_nodes, cap, "out_nodes")?,
            borrow_mut(out_count, "out_count")?,
        )
    };
    if n > cap {
        return Err(Failure::new(
            CONSENSIO_BUFFER_TOO_SMALL,
            format!("{n} nodes asked for, room for {cap}"),
        ));
    }
    let mut found = vec![NodeId(0); n];
    let written = query(k, n, &mut found)?;
    nodes_out(found.get(..written).unwrap_or_default(), out);
    *count = written;
    Ok(())
}

/// The 64-bit position of a key (XXH3-64 of its bytes), the hash every
/// placement here starts from.
///
/// # Safety
/// `key` must hold `len` bytes; `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_key_position(
    key: *const u8,
    len: usize,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (k, o) = unsafe { (slice(key, len, "key")?, borrow_mut(out, "out")?) };
        *o = hash::key_position(k);
        Ok(())
    })
}

/// Jump consistent hash (Lamping & Veach 2014): the bucket in
/// `0..buckets` for `key`. `CONSENSIO_INVALID_ARGUMENT` for zero buckets.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_jump_hash(
    key: u64,
    buckets: u32,
    out: *mut u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        *o = jump_hash(key, buckets)?;
        Ok(())
    })
}

/// A consistent-hashing ring with weighted virtual nodes (opaque).
#[derive(Debug)]
pub struct consensio_ring {
    ring: HashRing,
}

/// Creates an empty ring giving each node `vnodes_per_weight` tokens per
/// unit of weight.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_new(
    vnodes_per_weight: u32,
    out: *mut *mut consensio_ring,
) -> consensio_status {
    guard(|| {
        let ring = HashRing::new(vnodes_per_weight)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_ring { ring }) }
    })
}

/// Frees a ring; NULL is a no-op.
///
/// # Safety
/// `ring` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_free(ring: *mut consensio_ring) {
    // SAFETY: forwarded from the caller.
    unsafe { take(ring) }
}

/// Adds `node` with `weight`; `zone` is its zone id if `has_zone` is
/// non-zero. `CONSENSIO_INVALID_ARGUMENT` for a duplicate node or zero
/// weight, `CONSENSIO_LIMIT_EXCEEDED` past the token bound.
///
/// # Safety
/// `ring` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_add_node(
    ring: *mut consensio_ring,
    node: u64,
    weight: u32,
    has_zone: u8,
    zone: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(ring, "ring") }?;
        let zone = (has_zone != 0).then_some(ZoneId(zone));
        Ok(r.ring.add_node(NodeId(node), weight, zone)?)
    })
}

/// Removes `node`. `CONSENSIO_INVALID_ARGUMENT` if it is not a member.
///
/// # Safety
/// `ring` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_remove_node(
    ring: *mut consensio_ring,
    node: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(ring, "ring") }?;
        r.ring.remove_node(NodeId(node))?;
        Ok(())
    })
}

/// The node owning `key`. `CONSENSIO_INVALID_ARGUMENT` on an empty ring.
///
/// # Safety
/// `ring` must be a live handle; `key` hold `key_len` bytes; `out_node` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_owner(
    ring: *const consensio_ring,
    key: *const u8,
    key_len: usize,
    out_node: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow(ring, "ring") }?;
        // SAFETY: forwarded from the caller.
        unsafe { place(key, key_len, out_node, |k| r.ring.owner(k)) }
    })
}

/// The first `n` distinct nodes clockwise from `key` (Dynamo's preference
/// list), into `out_nodes` (room for `cap`); `*out_count` gets how many
/// (fewer than `n` if the ring has fewer nodes). With `by_zone` non-zero,
/// nodes from zones not yet listed come first.
///
/// # Safety
/// `ring` must be a live handle; `key` hold `key_len` bytes; `out_nodes`
/// `cap` writable ids; `out_count` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ring_preference_list(
    ring: *const consensio_ring,
    key: *const u8,
    key_len: usize,
    n: usize,
    by_zone: u8,
    out_nodes: *mut u64,
    cap: usize,
    out_count: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow(ring, "ring") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            preference(key, key_len, n, out_nodes, cap, out_count, |k, n, found| {
                if by_zone != 0 {
                    r.ring.preference_list_by_zone(k, n, found)
                } else {
                    r.ring.preference_list(k, n, found)
                }
            })
        }
    })
}

/// Weighted rendezvous (highest random weight) hashing (opaque).
#[derive(Debug)]
pub struct consensio_rendezvous {
    set: Rendezvous,
}

/// Creates an empty rendezvous set.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rendezvous_new(
    out: *mut *mut consensio_rendezvous,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        unsafe {
            give(
                out,
                consensio_rendezvous {
                    set: Rendezvous::new(),
                },
            )
        }
    })
}

/// Frees a rendezvous set; NULL is a no-op.
///
/// # Safety
/// `set` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rendezvous_free(set: *mut consensio_rendezvous) {
    // SAFETY: forwarded from the caller.
    unsafe { take(set) }
}

/// Adds `node` with `weight`.
///
/// # Safety
/// `set` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rendezvous_add_node(
    set: *mut consensio_rendezvous,
    node: u64,
    weight: u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let s = unsafe { borrow_mut(set, "set") }?;
        Ok(s.set.add_node(NodeId(node), weight)?)
    })
}

/// Removes `node`.
///
/// # Safety
/// `set` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rendezvous_remove_node(
    set: *mut consensio_rendezvous,
    node: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let s = unsafe { borrow_mut(set, "set") }?;
        s.set.remove_node(NodeId(node))?;
        Ok(())
    })
}

/// The `n` highest-scoring nodes for `key`, best first (the first is the
/// owner), into `out_nodes` (room for `cap`); `*out_count` gets how many.
///
/// # Safety
/// As [`consensio_ring_preference_list`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rendezvous_preference_list(
    set: *const consensio_rendezvous,
    key: *const u8,
    key_len: usize,
    n: usize,
    out_nodes: *mut u64,
    cap: usize,
    out_count: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let s = unsafe { borrow(set, "set") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            preference(key, key_len, n, out_nodes, cap, out_count, |k, n, found| {
                s.set.preference_list(k, n, found)
            })
        }
    })
}

/// A Maglev lookup table (opaque).
#[derive(Debug)]
pub struct consensio_maglev {
    table: Maglev,
}

/// Builds a Maglev table of prime size `table_size` (at least 100 entries
/// per node) over `n` nodes with weights.
///
/// # Safety
/// `nodes` and `weights` must hold `n` elements; `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_maglev_new(
    nodes: *const u64,
    weights: *const u32,
    n: usize,
    table_size: u32,
    out: *mut *mut consensio_maglev,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (ids, ws) = unsafe { (slice(nodes, n, "nodes")?, slice(weights, n, "weights")?) };
        let members: Vec<(NodeId, u32)> = ids
            .iter()
            .map(|&id| NodeId(id))
            .zip(ws.iter().copied())
            .collect();
        let table = Maglev::new(&members, table_size)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_maglev { table }) }
    })
}

/// Frees a Maglev table; NULL is a no-op.
///
/// # Safety
/// `table` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_maglev_free(table: *mut consensio_maglev) {
    // SAFETY: forwarded from the caller.
    unsafe { take(table) }
}

/// The node the table assigns `key` to.
///
/// # Safety
/// `table` must be a live handle; `key` hold `key_len` bytes; `out_node` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_maglev_lookup(
    table: *const consensio_maglev,
    key: *const u8,
    key_len: usize,
    out_node: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow(table, "table") }?;
        // SAFETY: forwarded from the caller.
        unsafe { place(key, key_len, out_node, |k| r.table.lookup(k)) }
    })
}

/// Consistent hashing with bounded loads (opaque).
#[derive(Debug)]
pub struct consensio_bounded_ring {
    ring: BoundedLoadRing,
}

/// Creates an empty bounded-load ring: `vnodes` tokens per node, load
/// factor ε = `epsilon_numerator / epsilon_denominator`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_new(
    vnodes: u32,
    epsilon_numerator: u32,
    epsilon_denominator: u32,
    out: *mut *mut consensio_bounded_ring,
) -> consensio_status {
    guard(|| {
        let ring = BoundedLoadRing::new(vnodes, epsilon_numerator, epsilon_denominator)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_bounded_ring { ring }) }
    })
}

/// Frees a bounded-load ring; NULL is a no-op.
///
/// # Safety
/// `ring` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_free(ring: *mut consensio_bounded_ring) {
    // SAFETY: forwarded from the caller.
    unsafe { take(ring) }
}

/// Adds `node`.
///
/// # Safety
/// `ring` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_add_node(
    ring: *mut consensio_bounded_ring,
    node: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(ring, "ring") }?;
        Ok(r.ring.add_node(NodeId(node))?)
    })
}

/// Removes `node`; `*out_keys` gets how many keys it held (the caller
/// re-assigns them).
///
/// # Safety
/// `ring` must be a live handle; `out_keys` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_remove_node(
    ring: *mut consensio_bounded_ring,
    node: u64,
    out_keys: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, o) = unsafe { (borrow_mut(ring, "ring")?, borrow_mut(out_keys, "out_keys")?) };
        *o = r.ring.remove_node(NodeId(node))?;
        Ok(())
    })
}

/// Assigns `key` to the first node clockwise with room and counts it there.
///
/// # Safety
/// `ring` must be a live handle; `key` hold `key_len` bytes; `out_node` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_assign(
    ring: *mut consensio_bounded_ring,
    key: *const u8,
    key_len: usize,
    out_node: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(ring, "ring") }?;
        // SAFETY: forwarded from the caller.
        unsafe { place(key, key_len, out_node, |k| r.ring.assign(k)) }
    })
}

/// Releases one key held by `node`.
///
/// # Safety
/// `ring` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_release(
    ring: *mut consensio_bounded_ring,
    node: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(ring, "ring") }?;
        Ok(r.ring.release(NodeId(node))?)
    })
}

/// The number of keys `node` holds.
///
/// # Safety
/// `ring` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_bounded_ring_load(
    ring: *const consensio_bounded_ring,
    node: u64,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, o) = unsafe { (borrow(ring, "ring")?, borrow_mut(out, "out")?) };
        *o = r.ring.load(NodeId(node))?;
        Ok(())
    })
}
