//! `consensio_election_*`: Bully and Chang–Roberts ring election from C.
//! One handle type for both algorithms; the persisted records are epochs
//! (`u64`), and a restarted node is created with the last one it persisted.

use consensio_core::election::{
    Bully, BullyConfig, ElectionCommand, ElectionError, ElectionEvent, MAX_MEMBERS, RingElection,
    RingElectionConfig,
};
use consensio_core::{Input, NodeId, Participant};

use crate::consensio_status::{self, *};
use crate::participant::{Driver, Polled, members, optional};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, slice, take};

impl From<ElectionError> for Failure {
    fn from(e: ElectionError) -> Self {
        let status = match e {
            ElectionError::Wire(w) => return w.into(),
            ElectionError::TooManyMembers { .. } => CONSENSIO_LIMIT_EXCEEDED,
            _ => CONSENSIO_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

/// Which election algorithm a handle runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_election_algorithm {
    /// Garcia-Molina's Bully algorithm.
    CONSENSIO_ELECTION_BULLY = 0,
    /// Chang–Roberts ring election with ring repair.
    CONSENSIO_ELECTION_RING = 1,
}

/// What a polled election output is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_election_output_kind {
    /// No output pending.
    CONSENSIO_ELECTION_OUTPUT_NONE = 0,
    /// Send `data[0..len]` to `peer`.
    CONSENSIO_ELECTION_OUTPUT_SEND = 1,
    /// Make `epoch` durable before acting on any later output.
    CONSENSIO_ELECTION_OUTPUT_PERSIST = 2,
    /// This node now follows `leader` in `epoch`.
    CONSENSIO_ELECTION_OUTPUT_ELECTED = 16,
    /// The leader of `epoch` went silent; an election starts.
    CONSENSIO_ELECTION_OUTPUT_LEADER_LOST = 17,
}

/// One output of an election handle; `data` is valid until the next call on
/// the handle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct consensio_election_output {
    /// What this output is.
    pub kind: consensio_election_output_kind,
    /// SEND: the destination.
    pub peer: u64,
    /// SEND: the frame.
    pub data: *const u8,
    /// SEND: its length.
    pub len: usize,
    /// ELECTED: the leader.
    pub leader: u64,
    /// PERSIST, ELECTED, LEADER_LOST: the epoch.
    pub epoch: u64,
}

#[derive(Debug)]
enum Node {
    Bully(Driver<Bully>),
    Ring(Driver<RingElection>),
}

/// An election participant (opaque).
#[derive(Debug)]
pub struct consensio_election {
    node: Node,
}

/// Runs `$body` with `$d` bound to the handle's driver, whichever algorithm.
macro_rules! with_driver {
    ($handle:expr, $d:ident => $body:expr) => {
        match &$handle.node {
            Node::Bully($d) => $body,
            Node::Ring($d) => $body,
        }
    };
}

/// Creates node `id` of `members` (which must include `id`), restored from
/// `epoch`, the last epoch it persisted (0 for a new node), with the
/// library's default timeouts (a 50 ms delay bound).
///
/// # Safety
/// `members` must hold `n` ids; `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_new(
    algorithm: consensio_election_algorithm,
    id: u64,
    members_ptr: *const u64,
    n: usize,
    epoch: u64,
    out: *mut *mut consensio_election,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let ids = unsafe { members(members_ptr, n, MAX_MEMBERS) }?;
        let node = match algorithm {
            consensio_election_algorithm::CONSENSIO_ELECTION_BULLY => Node::Bully(Driver::new(
                Bully::restore(BullyConfig::new(NodeId(id), &ids), epoch)?,
            )),
            consensio_election_algorithm::CONSENSIO_ELECTION_RING => Node::Ring(Driver::new(
                RingElection::restore(RingElectionConfig::new(NodeId(id), &ids), epoch)?,
            )),
        };
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_election { node }) }
    })
}

/// Frees an election handle; NULL is a no-op.
///
/// # Safety
/// `election` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_free(election: *mut consensio_election) {
    // SAFETY: forwarded from the caller.
    unsafe { take(election) }
}

/// Delivers the frame `bytes[0..len]` from `from`. `CONSENSIO_MALFORMED` for
/// bytes that are not a message of this algorithm; `CONSENSIO_INVALID_ARGUMENT`
/// for a sender outside the members. Nothing changes on error.
///
/// # Safety
/// `election` must be a live handle; `bytes` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_handle_message(
    election: *mut consensio_election,
    now_ms: u64,
    from: u64,
    bytes: *const u8,
    len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (e, frame) = unsafe { (borrow(election, "election")?, slice(bytes, len, "bytes")?) };
        with_driver!(e, d => d.message(now_ms, from, frame))
    })
}

/// Fires due timers.
///
/// # Safety
/// `election` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_tick(
    election: *mut consensio_election,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let e = unsafe { borrow(election, "election") }?;
        with_driver!(e, d => d.step(now_ms, Input::Tick))
    })
}

/// Starts an election now, as if the leader had been lost.
///
/// # Safety
/// `election` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_start(
    election: *mut consensio_election,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let e = unsafe { borrow(election, "election") }?;
        with_driver!(e, d => d.step(now_ms, Input::Command(ElectionCommand::StartElection)))
    })
}

/// Takes the next output into `*out` (kind NONE when there is none).
///
/// # Safety
/// `election` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_poll(
    election: *mut consensio_election,
    out: *mut consensio_election_output,
) -> consensio_status {
    use consensio_election_output_kind::*;
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (e, o) = unsafe { (borrow(election, "election")?, borrow_mut(out, "out")?) };
        let mut next = consensio_election_output {
            kind: CONSENSIO_ELECTION_OUTPUT_NONE,
            peer: 0,
            data: core::ptr::null(),
            len: 0,
            leader: 0,
            epoch: 0,
        };
        (next.data, next.len) = with_driver!(e, d => fill(d, &mut next))?;
        *o = next;
        Ok(())
    })
}

/// Polls the driver's next output into the C struct; returns its bytes.
fn fill<P>(driver: &Driver<P>, next: &mut consensio_election_output) -> Result<(*const u8, usize)>
where
    P: Participant<Event = ElectionEvent, Persist = u64>,
    Failure: From<P::Error>,
{
    use consensio_election_output_kind::*;
    driver.poll(|polled, _| {
        match polled {
            Polled::Send { to } => {
                next.kind = CONSENSIO_ELECTION_OUTPUT_SEND;
                next.peer = to;
            }
            Polled::Persist(epoch) => {
                next.kind = CONSENSIO_ELECTION_OUTPUT_PERSIST;
                next.epoch = epoch;
            }
            Polled::Event(ElectionEvent::Elected { leader, epoch }) => {
                next.kind = CONSENSIO_ELECTION_OUTPUT_ELECTED;
                (next.leader, next.epoch) = (leader.0, epoch);
            }
            Polled::Event(ElectionEvent::LeaderLost { epoch }) => {
                next.kind = CONSENSIO_ELECTION_OUTPUT_LEADER_LOST;
                next.epoch = epoch;
            }
        }
        Ok(())
    })
}

/// When the node next wants a tick (`*out_has` 0 if no timer is armed).
///
/// # Safety
/// `election` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_next_deadline(
    election: *const consensio_election,
    out_has: *mut u8,
    out_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (e, has, ms) = unsafe {
            (
                borrow(election, "election")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_ms, "out_ms")?,
            )
        };
        let deadline = match &e.node {
            Node::Bully(d) => d.deadline(),
            Node::Ring(d) => d.deadline(),
        };
        optional(deadline, has, ms);
        Ok(())
    })
}

/// The leader this node follows (`*out_has` 0 while it has none) and the
/// current epoch.
///
/// # Safety
/// `election` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_leader(
    election: *const consensio_election,
    out_has: *mut u8,
    out_leader: *mut u64,
    out_epoch: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (e, has, leader, epoch) = unsafe {
            (
                borrow(election, "election")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_leader, "out_leader")?,
                borrow_mut(out_epoch, "out_epoch")?,
            )
        };
        let (l, ep) = match &e.node {
            Node::Bully(d) => d.with(|n| (n.leader(), n.epoch())),
            Node::Ring(d) => d.with(|n| (n.leader(), n.epoch())),
        };
        optional(l.map(|n| n.0), has, leader);
        *epoch = ep;
        Ok(())
    })
}
