//! `consensio_quorum_*`: committed indexes and vote outcomes of majority and
//! joint configurations. Voters and their values travel as parallel arrays:
//! `voters[i]` acknowledged `acked[i]`, or cast `votes[i]`.

use std::collections::BTreeMap;

use consensio_core::NodeId;
use consensio_core::quorum::{JointConfig, MAX_VOTERS, MajorityConfig, VoteResult};

use crate::consensio_status::{self, *};
use crate::{Failure, Result, borrow_mut, guard, slice};

/// The outcome of a vote.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_vote_result {
    /// Not decided yet.
    CONSENSIO_VOTE_PENDING = 0,
    /// Can no longer be won.
    CONSENSIO_VOTE_LOST = 1,
    /// A quorum granted.
    CONSENSIO_VOTE_WON = 2,
}

impl From<VoteResult> for consensio_vote_result {
    fn from(r: VoteResult) -> Self {
        match r {
            VoteResult::Pending => consensio_vote_result::CONSENSIO_VOTE_PENDING,
            VoteResult::Lost => consensio_vote_result::CONSENSIO_VOTE_LOST,
            VoteResult::Won => consensio_vote_result::CONSENSIO_VOTE_WON,
        }
    }
}

/// One half of a configuration: its voters and each voter's value.
struct Half<V> {
    config: MajorityConfig,
    values: BTreeMap<NodeId, V>,
}

/// Reads `n` voters and their values.
///
/// # Safety
/// `voters` and `values` must be NULL or point to `n` elements each.
unsafe fn half<V: Copy + PartialEq>(
    voters: *const u64,
    values: *const V,
    n: usize,
) -> Result<Half<V>> {
    if n > MAX_VOTERS {
        return Err(Failure::new(
            CONSENSIO_LIMIT_EXCEEDED,
            format!("{n} voters; a configuration holds at most {MAX_VOTERS}"),
        ));
    }
    // SAFETY: forwarded from the caller.
    let (ids, vals) = unsafe { (slice(voters, n, "voters")?, slice(values, n, "values")?) };
    let mut config = MajorityConfig::new();
    let mut map = BTreeMap::new();
    for (&id, &value) in ids.iter().zip(vals) {
        let fresh = config
            .insert(NodeId(id))
            .map_err(|e| Failure::new(CONSENSIO_LIMIT_EXCEEDED, e.to_string()))?;
        if !fresh {
            return Err(Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("voter {id} listed twice"),
            ));
        }
        map.insert(NodeId(id), value);
    }
    Ok(Half {
        config,
        values: map,
    })
}

/// Merges the values of two halves, rejecting a voter given two values.
fn merged<V: Copy + PartialEq>(a: &Half<V>, b: &Half<V>) -> Result<BTreeMap<NodeId, V>> {
    let mut all = a.values.clone();
    for (&id, &v) in &b.values {
        if all.insert(id, v).is_some_and(|old| old != v) {
            return Err(Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("voter {id} has different values in the two halves"),
            ));
        }
    }
    Ok(all)
}

fn decode_vote(v: i8) -> Result<Option<bool>> {
    match v {
        -1 => Ok(None),
        0 => Ok(Some(false)),
        1 => Ok(Some(true)),
        other => Err(Failure::new(
            CONSENSIO_INVALID_ARGUMENT,
            format!("vote {other}: use 1 (granted), 0 (rejected) or -1 (not voted)"),
        )),
    }
}

/// The largest index acknowledged by a majority of `voters`, where
/// `voters[i]` has acknowledged `acked[i]` (pass 0 for a voter that has not
/// reported). Zero voters commit everything: `UINT64_MAX`.
///
/// Errors: `CONSENSIO_LIMIT_EXCEEDED` for more than 64 voters,
/// `CONSENSIO_INVALID_ARGUMENT` for a voter listed twice.
///
/// # Safety
/// `voters` and `acked` must point to `n` elements (or be NULL with `n` 0);
/// `out_index` must point to writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_quorum_committed_index(
    voters: *const u64,
    acked: *const u64,
    n: usize,
    out_index: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, out) = unsafe { (half(voters, acked, n)?, borrow_mut(out_index, "out_index")?) };
        *out = h
            .config
            .committed_index(&|v: NodeId| h.values.get(&v).copied());
        Ok(())
    })
}

/// The committed index of a joint configuration (Raft §6): the smaller of
/// the two halves' committed indexes. A voter in both halves must have the
/// same acknowledged index in both.
///
/// # Safety
/// Each array must point to its `n` elements (or be NULL with `n` 0);
/// `out_index` must point to writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_quorum_joint_committed_index(
    incoming_voters: *const u64,
    incoming_acked: *const u64,
    incoming_n: usize,
    outgoing_voters: *const u64,
    outgoing_acked: *const u64,
    outgoing_n: usize,
    out_index: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (a, b, out) = unsafe {
            (
                half(incoming_voters, incoming_acked, incoming_n)?,
                half(outgoing_voters, outgoing_acked, outgoing_n)?,
                borrow_mut(out_index, "out_index")?,
            )
        };
        let all = merged(&a, &b)?;
        let joint = JointConfig::new(a.config, b.config);
        *out = joint.committed_index(&|v: NodeId| all.get(&v).copied());
        Ok(())
    })
}

/// The outcome of a vote among `voters`, where `votes[i]` is 1 (granted),
/// 0 (rejected) or -1 (not voted yet). Zero voters win.
///
/// # Safety
/// `voters` and `votes` must point to `n` elements (or be NULL with `n` 0);
/// `out_result` must point to writable storage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_quorum_vote_result(
    voters: *const u64,
    votes: *const i8,
    n: usize,
    out_result: *mut consensio_vote_result,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, out) = unsafe {
            (
                half(voters, votes, n)?,
                borrow_mut(out_result, "out_result")?,
            )
        };
        let ballots = decode_votes(&h.values)?;
        *out = h
            .config
            .vote_result(&|v: NodeId| ballots.get(&v).copied().flatten())
            .into();
        Ok(())
    })
}

/// The outcome of a vote in a joint configuration: won if both halves won,
/// lost if either lost.
///
/// # Safety
/// As [`consensio_quorum_joint_committed_index`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_quorum_joint_vote_result(
    incoming_voters: *const u64,
    incoming_votes: *const i8,
    incoming_n: usize,
    outgoing_voters: *const u64,
    outgoing_votes: *const i8,
    outgoing_n: usize,
    out_result: *mut consensio_vote_result,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (a, b, out) = unsafe {
            (
                half(incoming_voters, incoming_votes, incoming_n)?,
                half(outgoing_voters, outgoing_votes, outgoing_n)?,
                borrow_mut(out_result, "out_result")?,
            )
        };
        let ballots = decode_votes(&merged(&a, &b)?)?;
        let joint = JointConfig::new(a.config, b.config);
        *out = joint
            .vote_result(&|v: NodeId| ballots.get(&v).copied().flatten())
            .into();
        Ok(())
    })
}

fn decode_votes(raw: &BTreeMap<NodeId, i8>) -> Result<BTreeMap<NodeId, Option<bool>>> {
    raw.iter()
        .map(|(&id, &v)| Ok((id, decode_vote(v)?)))
        .collect()
}
