//! `consensio_merkle_*` and `consensio_anti_entropy_*`: RFC 6962/9162
//! Merkle trees, proofs, diff, and the anti-entropy participant.
//!
//! Hashes are 32-byte arrays; lists of hashes (proofs) are packed
//! back-to-back in a byte buffer, with lengths counted in hashes.

use consensio_core::merkle::{
    AntiEntropy, Hash, MerkleTree, SyncFailure, anti_entropy, leaf_hash, verify_consistency,
    verify_inclusion,
};
use core::convert::Infallible;

use consensio_core::NodeId;

use crate::consensio_status::{self, *};
use crate::participant::{Fill, Surface, command, consensio_participant, driver, give_participant};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, slice, slice_mut, take};

const HASH_LEN: usize = 32;

/// Reads one hash.
///
/// # Safety
/// `ptr` must be NULL or point to 32 readable bytes.
unsafe fn hash_in(ptr: *const u8, what: &str) -> Result<Hash> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { slice(ptr, HASH_LEN, what) }?;
    let mut h = [0u8; HASH_LEN];
    h.copy_from_slice(bytes);
    Ok(h)
}

/// Writes one hash.
///
/// # Safety
/// `ptr` must be NULL or point to 32 writable bytes.
unsafe fn hash_out(ptr: *mut u8, value: &Hash, what: &str) -> Result<()> {
    // SAFETY: forwarded from the caller.
    unsafe { slice_mut(ptr, HASH_LEN, what) }?.copy_from_slice(value);
    Ok(())
}

/// Reads `count` packed hashes.
///
/// # Safety
/// `ptr` must be NULL or point to `32 * count` readable bytes.
unsafe fn hashes_in(ptr: *const u8, count: usize, what: &str) -> Result<Vec<Hash>> {
    let len = count.checked_mul(HASH_LEN).ok_or_else(|| {
        Failure::new(
            CONSENSIO_BAD_LENGTH,
            format!("{what}: {count} hashes is too many"),
        )
    })?;
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { slice(ptr, len, what) }?;
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Writes packed hashes into a buffer of `cap` hashes; `*out_count` gets the
/// number of hashes (also when the buffer is too small).
///
/// # Safety
/// `ptr` must be NULL or point to `32 * cap` writable bytes.
unsafe fn hashes_out(
    hashes: &[Hash],
    ptr: *mut u8,
    cap: usize,
    out_count: *mut usize,
) -> Result<()> {
    let len = cap.checked_mul(HASH_LEN).ok_or_else(|| {
        Failure::new(
            CONSENSIO_BAD_LENGTH,
            format!("capacity of {cap} hashes is too large"),
        )
    })?;
    // SAFETY: forwarded from the caller.
    let (buf, count) = unsafe {
        (
            slice_mut(ptr, len, "out_hashes")?,
            borrow_mut(out_count, "out_count")?,
        )
    };
    *count = hashes.len();
    if hashes.len() > cap {
        return Err(Failure::new(
            CONSENSIO_BUFFER_TOO_SMALL,
            format!("{} hashes, room for {cap}", hashes.len()),
        ));
    }
    for (dest, h) in buf.chunks_exact_mut(HASH_LEN).zip(hashes) {
        dest.copy_from_slice(h);
    }
    Ok(())
}

/// `SHA-256(0x00 ‖ data)` into `out` (32 bytes).
///
/// # Safety
/// `data` must hold `len` bytes; `out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_leaf_hash(
    data: *const u8,
    len: usize,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let d = unsafe { slice(data, len, "data") }?;
        // SAFETY: forwarded from the caller.
        unsafe { hash_out(out, &leaf_hash(d), "out") }
    })
}

/// The Merkle Tree Hash of `n` leaves, leaf `i` being `lens[i]` bytes at
/// `leaves[i]`, into `out` (32 bytes). No leaves: SHA-256 of "".
///
/// # Safety
/// `leaves` and `lens` must hold `n` elements, each `leaves[i]` `lens[i]`
/// bytes; `out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_root(
    leaves: *const *const u8,
    lens: *const usize,
    n: usize,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let tree = unsafe { tree_from(leaves, lens, n) }?;
        // SAFETY: forwarded from the caller.
        unsafe { hash_out(out, &tree.root(), "out") }
    })
}

/// # Safety
/// As [`consensio_merkle_root`].
unsafe fn tree_from(leaves: *const *const u8, lens: *const usize, n: usize) -> Result<MerkleTree> {
    // SAFETY: forwarded from the caller.
    let (ptrs, lens) = unsafe { (slice(leaves, n, "leaves")?, slice(lens, n, "lens")?) };
    let mut hashes = Vec::with_capacity(n);
    for (i, (&p, &len)) in ptrs.iter().zip(lens).enumerate() {
        // SAFETY: the caller guarantees leaf i has lens[i] bytes.
        let leaf = unsafe { slice(p, len, &format!("leaves[{i}]")) }?;
        hashes.push(leaf_hash(leaf));
    }
    Ok(MerkleTree::from_leaf_hashes(hashes))
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): `CONSENSIO_OK` if the
/// leaf with hash `leaf` (32 bytes) is at `index` in the tree of `size`
/// leaves with root `root`, given `proof_len` packed hashes;
/// `CONSENSIO_VERIFICATION_FAILED` if not, `CONSENSIO_OUT_OF_RANGE` if
/// `index >= size`.
///
/// # Safety
/// `leaf` and `root` must hold 32 bytes; `proof` `32 * proof_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_verify_inclusion(
    leaf: *const u8,
    index: u64,
    size: u64,
    proof: *const u8,
    proof_len: usize,
    root: *const u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (leaf, proof, root) = unsafe {
            (
                hash_in(leaf, "leaf")?,
                hashes_in(proof, proof_len, "proof")?,
                hash_in(root, "root")?,
            )
        };
        Ok(verify_inclusion(&leaf, index, size, &proof, &root)?)
    })
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2) between the tree of
/// `old_size` leaves with root `old_root` and the tree of `new_size` with
/// `new_root`.
///
/// # Safety
/// The roots must hold 32 bytes; `proof` `32 * proof_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: *const u8,
    new_root: *const u8,
    proof: *const u8,
    proof_len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (old, new, proof) = unsafe {
            (
                hash_in(old_root, "old_root")?,
                hash_in(new_root, "new_root")?,
                hashes_in(proof, proof_len, "proof")?,
            )
        };
        Ok(verify_consistency(old_size, new_size, &old, &new, &proof)?)
    })
}

/// A Merkle tree (opaque) that can grow and answer proofs for any earlier size.
#[derive(Debug)]
pub struct consensio_merkle_tree {
    tree: MerkleTree,
}

/// Creates a tree over `n` leaves (as [`consensio_merkle_root`]) in `*out`;
/// `n` 0 makes an empty tree.
///
/// # Safety
/// As [`consensio_merkle_root`]; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_new(
    leaves: *const *const u8,
    lens: *const usize,
    n: usize,
    out: *mut *mut consensio_merkle_tree,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let tree = unsafe { tree_from(leaves, lens, n) }?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_merkle_tree { tree }) }
    })
}

/// Frees a tree; NULL is a no-op.
///
/// # Safety
/// `tree` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_free(tree: *mut consensio_merkle_tree) {
    // SAFETY: forwarded from the caller.
    unsafe { take(tree) }
}

/// Appends a leaf of `len` bytes.
///
/// # Safety
/// `tree` must be a live handle; `data` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_push(
    tree: *mut consensio_merkle_tree,
    data: *const u8,
    len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (t, d) = unsafe { (borrow_mut(tree, "tree")?, slice(data, len, "data")?) };
        t.tree.push(d);
        Ok(())
    })
}

/// The number of leaves.
///
/// # Safety
/// `tree` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_len(
    tree: *const consensio_merkle_tree,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (t, o) = unsafe { (borrow(tree, "tree")?, borrow_mut(out, "out")?) };
        *o = t.tree.len();
        Ok(())
    })
}

/// The root of the tree when it held `size` leaves, into `out` (32 bytes).
/// `CONSENSIO_OUT_OF_RANGE` if `size` exceeds the tree.
///
/// # Safety
/// `tree` must be a live handle; `out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_root_at(
    tree: *const consensio_merkle_tree,
    size: u64,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let t = unsafe { borrow(tree, "tree") }?;
        let root = t.tree.root_at(size)?;
        // SAFETY: forwarded from the caller.
        unsafe { hash_out(out, &root, "out") }
    })
}

/// The audit path of leaf `index` in the tree of the first `size` leaves,
/// packed into `out` (room for `cap` hashes); `*out_count` gets its length.
///
/// # Safety
/// `tree` must be a live handle; `out` `32 * cap` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_inclusion_proof(
    tree: *const consensio_merkle_tree,
    index: u64,
    size: u64,
    out: *mut u8,
    cap: usize,
    out_count: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let t = unsafe { borrow(tree, "tree") }?;
        let proof = t.tree.inclusion_proof(index, size)?;
        // SAFETY: forwarded from the caller.
        unsafe { hashes_out(&proof, out, cap, out_count) }
    })
}

/// The consistency proof from `old_size` to `new_size`, packed into `out`
/// (room for `cap` hashes); `*out_count` gets its length.
///
/// # Safety
/// `tree` must be a live handle; `out` `32 * cap` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_consistency_proof(
    tree: *const consensio_merkle_tree,
    old_size: u64,
    new_size: u64,
    out: *mut u8,
    cap: usize,
    out_count: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let t = unsafe { borrow(tree, "tree") }?;
        let proof = t.tree.consistency_proof(old_size, new_size)?;
        // SAFETY: forwarded from the caller.
        unsafe { hashes_out(&proof, out, cap, out_count) }
    })
}

/// The leaf ranges where two trees of the same size differ, as
/// `[start, end)` pairs packed into `out_ranges` (room for `cap` pairs, so
/// `2 * cap` integers); `*out_count` gets the number of ranges.
/// `CONSENSIO_INVALID_ARGUMENT` if the sizes differ.
///
/// # Safety
/// `a` and `b` must be live handles; `out_ranges` `2 * cap` writable integers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_merkle_tree_diff(
    a: *const consensio_merkle_tree,
    b: *const consensio_merkle_tree,
    out_ranges: *mut u64,
    cap: usize,
    out_count: *mut usize,
) -> consensio_status {
    guard(|| {
        let len = cap
            .checked_mul(2)
            .ok_or_else(|| Failure::new(CONSENSIO_BAD_LENGTH, "capacity too large"))?;
        // SAFETY: forwarded from the caller.
        let (a, b, buf, count) = unsafe {
            (
                borrow(a, "a")?,
                borrow(b, "b")?,
                slice_mut(out_ranges, len, "out_ranges")?,
                borrow_mut(out_count, "out_count")?,
            )
        };
        let mut ranges = Vec::new();
        a.tree.diff(&b.tree, &mut ranges)?;
        *count = ranges.len();
        if ranges.len() > cap {
            return Err(Failure::new(
                CONSENSIO_BUFFER_TOO_SMALL,
                format!("{} ranges, room for {cap}", ranges.len()),
            ));
        }
        for (pair, r) in buf.chunks_exact_mut(2).zip(&ranges) {
            pair.copy_from_slice(&[r.start, r.end]);
        }
        Ok(())
    })
}

/// Configuration of an anti-entropy replica; fill it with
/// [`consensio_anti_entropy_default_config`] and adjust.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_anti_entropy_config {
    /// This replica's id.
    pub id: u64,
    /// Depth of the keyed tree (2^depth buckets, at most 20).
    pub depth: u8,
    /// Most node hashes per message.
    pub max_hashes_per_message: u32,
    /// Most bucket entries per message.
    pub max_entries_per_message: u32,
    /// Longest key, in bytes.
    pub max_key_len: u32,
    /// Retransmit an unanswered query after this many milliseconds.
    pub retry_ms: u64,
    /// Retransmissions before a sync fails.
    pub max_retries: u32,
    /// Concurrent syncs this replica may initiate.
    pub max_sessions: u32,
}

/// The events of an anti-entropy replica (`consensio_output.event`);
/// `peer` is the replica synced with.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_anti_entropy_event {
    /// Key `data[0..len]` differs from `peer`'s. `values[0]` is 1 if this
    /// replica holds the key, with its version hash in `aux[0..32]`;
    /// `values[1]` is 1 if the peer holds it, with its hash in
    /// `aux[32..64]` (`aux_len` is 64; an absent side's hash is zeros).
    CONSENSIO_AE_DIFFERENCE = 1,
    /// The sync with `peer` finished: `values[0]` buckets differed and
    /// `values[1]` keys were reported.
    CONSENSIO_AE_SYNC_COMPLETE = 2,
    /// The sync with `peer` failed: `values[0]` is a
    /// `consensio_sync_failure`; with DEPTH_MISMATCH, `values[1]` is the
    /// peer's depth.
    CONSENSIO_AE_SYNC_FAILED = 3,
}

/// Why a sync failed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_sync_failure {
    /// Not a failure output.
    CONSENSIO_SYNC_FAILURE_NONE = 0,
    /// The peer stopped answering.
    CONSENSIO_SYNC_FAILURE_TIMEOUT = 1,
    /// The peer's tree has another depth (`values[1]`).
    CONSENSIO_SYNC_FAILURE_DEPTH_MISMATCH = 2,
    /// The peer broke the protocol.
    CONSENSIO_SYNC_FAILURE_BAD_RESPONSE = 3,
}

/// Nothing is persisted: a replica's keys are the application's data, and
/// a restarted replica is rebuilt by updating it with them again.
impl Surface for AntiEntropy {
    const FAMILY: &'static str = "merkle";

    fn persist(never: Infallible, _: &mut Fill<'_>) -> Result<()> {
        match never {}
    }

    fn event(event: anti_entropy::Event, fill: &mut Fill<'_>) -> Result<()> {
        use consensio_anti_entropy_event::*;
        match event {
            anti_entropy::Event::Difference(d) => {
                let out = fill.event(CONSENSIO_AE_DIFFERENCE as u32);
                out.peer = d.peer.0;
                out.values[0] = u64::from(d.local.is_some());
                out.values[1] = u64::from(d.remote.is_some());
                *fill.data = d.key;
                for hash in [d.local, d.remote] {
                    fill.aux.extend_from_slice(&hash.unwrap_or([0; HASH_LEN]));
                }
            }
            anti_entropy::Event::SyncComplete {
                peer,
                differing_buckets,
                differing_keys,
            } => {
                let out = fill.event(CONSENSIO_AE_SYNC_COMPLETE as u32);
                out.peer = peer.0;
                out.values[..2].copy_from_slice(&[differing_buckets, differing_keys]);
            }
            anti_entropy::Event::SyncFailed { peer, reason } => {
                let out = fill.event(CONSENSIO_AE_SYNC_FAILED as u32);
                out.peer = peer.0;
                let (failure, depth) = match reason {
                    SyncFailure::Timeout => {
                        (consensio_sync_failure::CONSENSIO_SYNC_FAILURE_TIMEOUT, 0)
                    }
                    SyncFailure::DepthMismatch { remote } => (
                        consensio_sync_failure::CONSENSIO_SYNC_FAILURE_DEPTH_MISMATCH,
                        remote,
                    ),
                    SyncFailure::BadResponse => (
                        consensio_sync_failure::CONSENSIO_SYNC_FAILURE_BAD_RESPONSE,
                        0,
                    ),
                };
                out.values[..2].copy_from_slice(&[failure as u64, u64::from(depth)]);
            }
        }
        Ok(())
    }
}

type Replica = AntiEntropy;

/// The default configuration for replica `id` (depth 10, 256 hashes or
/// entries per message, 1 KiB keys, 200 ms retry, 5 retries, 8 sessions).
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_default_config(
    id: u64,
    out: *mut consensio_anti_entropy_config,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        let c = anti_entropy::Config::new(NodeId(id));
        let narrow = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        *o = consensio_anti_entropy_config {
            id,
            depth: c.depth,
            max_hashes_per_message: narrow(c.max_hashes_per_message),
            max_entries_per_message: narrow(c.max_entries_per_message),
            max_key_len: narrow(c.max_key_len),
            retry_ms: c.retry_ms,
            max_retries: c.max_retries,
            max_sessions: narrow(c.max_sessions),
        };
        Ok(())
    })
}

/// Creates a replica with an empty tree in `*out`.
/// `CONSENSIO_INVALID_ARGUMENT` for an unusable configuration.
///
/// # Safety
/// `config` must be valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_new(
    config: *const consensio_anti_entropy_config,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let c = unsafe { borrow(config, "config") }?;
        let widen = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        let node = AntiEntropy::new(anti_entropy::Config {
            id: NodeId(c.id),
            depth: c.depth,
            max_hashes_per_message: widen(c.max_hashes_per_message),
            max_entries_per_message: widen(c.max_entries_per_message),
            max_key_len: widen(c.max_key_len),
            retry_ms: c.retry_ms,
            max_retries: c.max_retries,
            max_sessions: widen(c.max_sessions),
        })?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant(node, out) }
    })
}

/// Starts comparing with `peer`. `CONSENSIO_REJECTED` if a sync with it is
/// running, `CONSENSIO_LIMIT_EXCEEDED` if too many are,
/// `CONSENSIO_INVALID_ARGUMENT` if `peer` is this replica.
///
/// # Safety
/// `replica` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_start_sync(
    replica: *mut consensio_participant,
    now_ms: u64,
    peer: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<Replica>(replica, now_ms, || {
            Ok(anti_entropy::Command::StartSync { peer: NodeId(peer) })
        })
    }
}

/// Records that key `key[0..key_len]` has version hash `version` (32 bytes).
/// `CONSENSIO_LIMIT_EXCEEDED` if the key is longer than `max_key_len`.
///
/// # Safety
/// `replica` must be a live handle; `key` hold `key_len` bytes; `version` 32.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_update(
    replica: *mut consensio_participant,
    now_ms: u64,
    key: *const u8,
    key_len: usize,
    version: *const u8,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<Replica>(replica, now_ms, || {
            Ok(anti_entropy::Command::Update {
                key: slice(key, key_len, "key")?.to_vec(),
                version: hash_in(version, "version")?,
            })
        })
    }
}

/// Removes key `key[0..key_len]`.
///
/// # Safety
/// `replica` must be a live handle; `key` hold `key_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_remove(
    replica: *mut consensio_participant,
    now_ms: u64,
    key: *const u8,
    key_len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<Replica>(replica, now_ms, || {
            Ok(anti_entropy::Command::Remove {
                key: slice(key, key_len, "key")?.to_vec(),
            })
        })
    }
}

/// The root of the replica's keyed tree, into `out` (32 bytes).
///
/// # Safety
/// `replica` must be a live handle; `out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_root(
    replica: *const consensio_participant,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { driver::<Replica>(replica) }?;
        // SAFETY: forwarded from the caller.
        unsafe { hash_out(out, &r.with(|n| n.tree().root()), "out") }
    })
}
