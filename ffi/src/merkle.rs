//! `consensio_merkle_*` and `consensio_anti_entropy_*`: RFC 6962/9162
//! Merkle trees, proofs, diff, and the anti-entropy participant.
//!
//! Hashes are 32-byte arrays; lists of hashes (proofs) are packed
//! back-to-back in a byte buffer, with lengths counted in hashes.

use consensio_core::merkle::{
    AntiEntropy, AntiEntropyCommand, AntiEntropyConfig, AntiEntropyError, AntiEntropyEvent, Hash,
    MerkleError, MerkleTree, SyncFailure, leaf_hash, verify_consistency, verify_inclusion,
};
use consensio_core::{Input, NodeId};

use crate::consensio_status::{self, *};
use crate::participant::{Driver, Polled, optional};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, slice, slice_mut, take};

const HASH_LEN: usize = 32;

impl From<MerkleError> for Failure {
    fn from(e: MerkleError) -> Self {
        let status = match e {
            MerkleError::IndexOutOfRange { .. } | MerkleError::SizeOutOfRange { .. } => {
                CONSENSIO_OUT_OF_RANGE
            }
            MerkleError::WrongProofLength | MerkleError::RootMismatch => {
                CONSENSIO_VERIFICATION_FAILED
            }
            _ => CONSENSIO_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

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

/// What a polled anti-entropy output is. `NONE` means the queue is empty.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_anti_entropy_output_kind {
    /// No output pending.
    CONSENSIO_AE_OUTPUT_NONE = 0,
    /// Send `data[0..len]` to `peer`.
    CONSENSIO_AE_OUTPUT_SEND = 1,
    /// Key `data[0..len]` differs from `peer`'s: see `has_local`/`local`
    /// and `has_remote`/`remote`.
    CONSENSIO_AE_OUTPUT_DIFFERENCE = 16,
    /// The sync with `peer` finished: see `differing_buckets`/`differing_keys`.
    CONSENSIO_AE_OUTPUT_SYNC_COMPLETE = 17,
    /// The sync with `peer` failed: see `failure`.
    CONSENSIO_AE_OUTPUT_SYNC_FAILED = 18,
}

/// Why a sync failed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_sync_failure {
    /// Not a failure output.
    CONSENSIO_SYNC_FAILURE_NONE = 0,
    /// The peer stopped answering.
    CONSENSIO_SYNC_FAILURE_TIMEOUT = 1,
    /// The peer's tree has another depth (`remote_depth`).
    CONSENSIO_SYNC_FAILURE_DEPTH_MISMATCH = 2,
    /// The peer broke the protocol.
    CONSENSIO_SYNC_FAILURE_BAD_RESPONSE = 3,
}

/// One output of an anti-entropy replica. `data` stays valid until the next
/// call on the same handle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct consensio_anti_entropy_output {
    /// What this output is.
    pub kind: consensio_anti_entropy_output_kind,
    /// The peer it concerns.
    pub peer: u64,
    /// SEND: the frame; DIFFERENCE: the key.
    pub data: *const u8,
    /// Length of `data`.
    pub len: usize,
    /// DIFFERENCE: 1 if this replica holds the key.
    pub has_local: u8,
    /// DIFFERENCE: this replica's version hash.
    pub local: [u8; 32],
    /// DIFFERENCE: 1 if the peer holds the key.
    pub has_remote: u8,
    /// DIFFERENCE: the peer's version hash.
    pub remote: [u8; 32],
    /// SYNC_COMPLETE: buckets that differed.
    pub differing_buckets: u64,
    /// SYNC_COMPLETE: keys reported.
    pub differing_keys: u64,
    /// SYNC_FAILED: why.
    pub failure: consensio_sync_failure,
    /// SYNC_FAILED with DEPTH_MISMATCH: the peer's depth.
    pub remote_depth: u8,
}

impl consensio_anti_entropy_output {
    const fn empty() -> Self {
        consensio_anti_entropy_output {
            kind: consensio_anti_entropy_output_kind::CONSENSIO_AE_OUTPUT_NONE,
            peer: 0,
            data: core::ptr::null(),
            len: 0,
            has_local: 0,
            local: [0; 32],
            has_remote: 0,
            remote: [0; 32],
            differing_buckets: 0,
            differing_keys: 0,
            failure: consensio_sync_failure::CONSENSIO_SYNC_FAILURE_NONE,
            remote_depth: 0,
        }
    }
}

/// An anti-entropy replica (opaque).
#[derive(Debug)]
pub struct consensio_anti_entropy {
    driver: Driver<AntiEntropy>,
}

impl From<AntiEntropyError> for Failure {
    fn from(e: AntiEntropyError) -> Self {
        let status = match e {
            AntiEntropyError::Wire(w) => return w.into(),
            AntiEntropyError::AlreadySyncing { .. } => CONSENSIO_REJECTED,
            AntiEntropyError::TooManySessions => CONSENSIO_LIMIT_EXCEEDED,
            AntiEntropyError::KeyTooLong { .. } => CONSENSIO_BAD_LENGTH,
            _ => CONSENSIO_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

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
        let c = AntiEntropyConfig::new(NodeId(id));
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
    out: *mut *mut consensio_anti_entropy,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let c = unsafe { borrow(config, "config") }?;
        let widen = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        let node = AntiEntropy::new(AntiEntropyConfig {
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
        unsafe {
            give(
                out,
                consensio_anti_entropy {
                    driver: Driver::new(node),
                },
            )
        }
    })
}

/// Frees a replica; NULL is a no-op.
///
/// # Safety
/// `replica` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_free(replica: *mut consensio_anti_entropy) {
    // SAFETY: forwarded from the caller.
    unsafe { take(replica) }
}

/// Runs one input on a live handle.
///
/// # Safety
/// `replica` must be NULL or a live handle.
unsafe fn step(
    replica: *mut consensio_anti_entropy,
    now_ms: u64,
    input: impl FnOnce()
        -> Result<Input<consensio_core::merkle::AntiEntropyMessage, AntiEntropyCommand>>,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow(replica, "replica") }?;
        r.driver.step(now_ms, input()?)
    })
}

/// Delivers the frame `bytes[0..len]` received from `from`.
/// `CONSENSIO_MALFORMED` if it is not a valid message (nothing changes).
///
/// # Safety
/// `replica` must be a live handle; `bytes` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_handle_message(
    replica: *mut consensio_anti_entropy,
    now_ms: u64,
    from: u64,
    bytes: *const u8,
    len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, frame) = unsafe { (borrow(replica, "replica")?, slice(bytes, len, "bytes")?) };
        r.driver.message(now_ms, from, frame)
    })
}

/// Fires due retransmissions.
///
/// # Safety
/// `replica` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_tick(
    replica: *mut consensio_anti_entropy,
    now_ms: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { step(replica, now_ms, || Ok(Input::Tick)) }
}

/// Starts comparing with `peer`. `CONSENSIO_REJECTED` if a sync with it is
/// running, `CONSENSIO_LIMIT_EXCEEDED` if too many are,
/// `CONSENSIO_INVALID_ARGUMENT` if `peer` is this replica.
///
/// # Safety
/// `replica` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_start_sync(
    replica: *mut consensio_anti_entropy,
    now_ms: u64,
    peer: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        step(replica, now_ms, || {
            Ok(Input::Command(AntiEntropyCommand::StartSync {
                peer: NodeId(peer),
            }))
        })
    }
}

/// Records that key `key[0..key_len]` has version hash `version` (32 bytes).
/// `CONSENSIO_BAD_LENGTH` if the key is longer than `max_key_len`.
///
/// # Safety
/// `replica` must be a live handle; `key` hold `key_len` bytes; `version` 32.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_update(
    replica: *mut consensio_anti_entropy,
    now_ms: u64,
    key: *const u8,
    key_len: usize,
    version: *const u8,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        step(replica, now_ms, || {
            Ok(Input::Command(AntiEntropyCommand::Update {
                key: slice(key, key_len, "key")?.to_vec(),
                version: hash_in(version, "version")?,
            }))
        })
    }
}

/// Removes key `key[0..key_len]`.
///
/// # Safety
/// `replica` must be a live handle; `key` hold `key_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_remove(
    replica: *mut consensio_anti_entropy,
    now_ms: u64,
    key: *const u8,
    key_len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        step(replica, now_ms, || {
            Ok(Input::Command(AntiEntropyCommand::Remove {
                key: slice(key, key_len, "key")?.to_vec(),
            }))
        })
    }
}

/// The root of the replica's keyed tree, into `out` (32 bytes).
///
/// # Safety
/// `replica` must be a live handle; `out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_root(
    replica: *const consensio_anti_entropy,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow(replica, "replica") }?;
        // SAFETY: forwarded from the caller.
        unsafe { hash_out(out, &r.driver.with(|n| n.tree().root()), "out") }
    })
}

/// When the replica next wants a tick: `*out_has` is 1 and `*out_ms` the
/// instant, or `*out_has` is 0 if no timer is armed.
///
/// # Safety
/// `replica` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_next_deadline(
    replica: *const consensio_anti_entropy,
    out_has: *mut u8,
    out_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, has, ms) = unsafe {
            (
                borrow(replica, "replica")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_ms, "out_ms")?,
            )
        };
        optional(r.driver.deadline(), has, ms);
        Ok(())
    })
}

/// Takes the next output into `*out` (kind `CONSENSIO_AE_OUTPUT_NONE` when
/// there is none). Call until NONE after every input.
///
/// # Safety
/// `replica` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_anti_entropy_poll(
    replica: *mut consensio_anti_entropy,
    out: *mut consensio_anti_entropy_output,
) -> consensio_status {
    use consensio_anti_entropy_output_kind::*;
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, o) = unsafe { (borrow(replica, "replica")?, borrow_mut(out, "out")?) };
        let mut next = consensio_anti_entropy_output::empty();
        (next.data, next.len) = r.driver.poll(|polled, bytes| {
            match polled {
                Polled::Send { to } => {
                    next.kind = CONSENSIO_AE_OUTPUT_SEND;
                    next.peer = to;
                }
                Polled::Persist(never) => match never {},
                Polled::Event(AntiEntropyEvent::Difference(d)) => {
                    next.kind = CONSENSIO_AE_OUTPUT_DIFFERENCE;
                    next.peer = d.peer.0;
                    *bytes = d.key;
                    if let Some(h) = d.local {
                        next.has_local = 1;
                        next.local = h;
                    }
                    if let Some(h) = d.remote {
                        next.has_remote = 1;
                        next.remote = h;
                    }
                }
                Polled::Event(AntiEntropyEvent::SyncComplete {
                    peer,
                    differing_buckets,
                    differing_keys,
                }) => {
                    next.kind = CONSENSIO_AE_OUTPUT_SYNC_COMPLETE;
                    next.peer = peer.0;
                    next.differing_buckets = differing_buckets;
                    next.differing_keys = differing_keys;
                }
                Polled::Event(AntiEntropyEvent::SyncFailed { peer, reason }) => {
                    next.kind = CONSENSIO_AE_OUTPUT_SYNC_FAILED;
                    next.peer = peer.0;
                    next.failure = match reason {
                        SyncFailure::Timeout => {
                            consensio_sync_failure::CONSENSIO_SYNC_FAILURE_TIMEOUT
                        }
                        SyncFailure::DepthMismatch { remote } => {
                            next.remote_depth = remote;
                            consensio_sync_failure::CONSENSIO_SYNC_FAILURE_DEPTH_MISMATCH
                        }
                        SyncFailure::BadResponse => {
                            consensio_sync_failure::CONSENSIO_SYNC_FAILURE_BAD_RESPONSE
                        }
                    };
                }
            }
            Ok(())
        })?;
        *o = next;
        Ok(())
    })
}
