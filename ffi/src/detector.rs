//! `consensio_detector_*` and `consensio_phi_accrual_*`: the heartbeat and
//! φ-accrual failure detectors from C. The persisted records are
//! incarnation numbers (`u64`); a restarted node is created with the last
//! one it persisted.

use consensio_core::detector::{
    DetectorError, HeartbeatConfig, HeartbeatDetector, HeartbeatEvent, MAX_PEERS, PeerState,
    PhiAccrual, PhiConfig, PhiDetector, PhiDetectorConfig, PhiEvent,
};
use consensio_core::{Input, Instant, NodeId};

use crate::consensio_status::{self, *};
use crate::participant::{Driver, Polled, members, optional};
use crate::{Failure, borrow, borrow_mut, give, guard, slice, take};

impl From<DetectorError> for Failure {
    fn from(e: DetectorError) -> Self {
        let status = match e {
            DetectorError::Wire(w) => return w.into(),
            DetectorError::TooManyPeers { .. } => CONSENSIO_LIMIT_EXCEEDED,
            _ => CONSENSIO_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

/// Which detector a handle runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_detector_kind {
    /// Alive / suspected / failed by silence thresholds.
    CONSENSIO_DETECTOR_HEARTBEAT = 0,
    /// φ-accrual (Hayashibara et al.) with Akka's parameters.
    CONSENSIO_DETECTOR_PHI = 1,
}

/// A peer's state as a heartbeat detector sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_peer_state {
    /// Heard from recently.
    CONSENSIO_PEER_ALIVE = 0,
    /// Silent past the suspicion threshold.
    CONSENSIO_PEER_SUSPECTED = 1,
    /// Silent past the failure threshold.
    CONSENSIO_PEER_FAILED = 2,
}

impl From<PeerState> for consensio_peer_state {
    fn from(s: PeerState) -> Self {
        match s {
            PeerState::Alive => consensio_peer_state::CONSENSIO_PEER_ALIVE,
            PeerState::Suspected => consensio_peer_state::CONSENSIO_PEER_SUSPECTED,
            PeerState::Failed => consensio_peer_state::CONSENSIO_PEER_FAILED,
        }
    }
}

/// What a polled detector output is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_detector_output_kind {
    /// No output pending.
    CONSENSIO_DETECTOR_OUTPUT_NONE = 0,
    /// Send `data[0..len]` to `peer`.
    CONSENSIO_DETECTOR_OUTPUT_SEND = 1,
    /// Make `incarnation` durable before acting on any later output.
    CONSENSIO_DETECTOR_OUTPUT_PERSIST = 2,
    /// Heartbeat detector: `peer` went from `from_state` to `to_state`.
    CONSENSIO_DETECTOR_OUTPUT_STATE_CHANGED = 16,
    /// φ detector: `peer`'s φ reached the threshold (`phi`).
    CONSENSIO_DETECTOR_OUTPUT_SUSPECTED = 17,
    /// φ detector: `peer` is below the threshold again.
    CONSENSIO_DETECTOR_OUTPUT_RECOVERED = 18,
}

/// One output of a detector handle; `data` is valid until the next call on
/// the handle.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct consensio_detector_output {
    /// What this output is.
    pub kind: consensio_detector_output_kind,
    /// The peer it concerns (or the destination of a SEND).
    pub peer: u64,
    /// SEND: the frame.
    pub data: *const u8,
    /// SEND: its length.
    pub len: usize,
    /// PERSIST: the incarnation to make durable.
    pub incarnation: u64,
    /// STATE_CHANGED: the previous state.
    pub from_state: consensio_peer_state,
    /// STATE_CHANGED: the new state.
    pub to_state: consensio_peer_state,
    /// SUSPECTED: φ when the suspicion was raised.
    pub phi: f64,
}

#[derive(Debug)]
enum Node {
    Heartbeat(Driver<HeartbeatDetector>),
    Phi(Driver<PhiDetector>),
}

/// A failure detector participant (opaque).
#[derive(Debug)]
pub struct consensio_detector {
    node: Node,
}

/// Creates a detector for node `id` monitoring the other `members`, restored
/// from `incarnation` (the last it persisted; 0 for a new node), with the
/// library's defaults (heartbeat: 100 ms heartbeats, suspected after 300 ms,
/// failed after 1 s; φ: 1 s heartbeats and Akka's parameters).
///
/// # Safety
/// `members` must hold `n` ids; `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_new(
    kind: consensio_detector_kind,
    id: u64,
    members_ptr: *const u64,
    n: usize,
    incarnation: u64,
    out: *mut *mut consensio_detector,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller; self is in the list too.
        let ids = unsafe { members(members_ptr, n, MAX_PEERS.saturating_add(1)) }?;
        let node = match kind {
            consensio_detector_kind::CONSENSIO_DETECTOR_HEARTBEAT => Node::Heartbeat(Driver::new(
                HeartbeatDetector::restore(HeartbeatConfig::new(NodeId(id), &ids), incarnation)?,
            )),
            consensio_detector_kind::CONSENSIO_DETECTOR_PHI => Node::Phi(Driver::new(
                PhiDetector::restore(PhiDetectorConfig::new(NodeId(id), &ids), incarnation)?,
            )),
        };
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_detector { node }) }
    })
}

/// Frees a detector; NULL is a no-op.
///
/// # Safety
/// `detector` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_free(detector: *mut consensio_detector) {
    // SAFETY: forwarded from the caller.
    unsafe { take(detector) }
}

/// Delivers the frame `bytes[0..len]` from `from`. `CONSENSIO_MALFORMED` for
/// bytes that are not a heartbeat; `CONSENSIO_INVALID_ARGUMENT` for a sender
/// that is not a monitored peer. Nothing changes on error.
///
/// # Safety
/// `detector` must be a live handle; `bytes` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_handle_message(
    detector: *mut consensio_detector,
    now_ms: u64,
    from: u64,
    bytes: *const u8,
    len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, frame) = unsafe { (borrow(detector, "detector")?, slice(bytes, len, "bytes")?) };
        match &d.node {
            Node::Heartbeat(x) => x.message(now_ms, from, frame),
            Node::Phi(x) => x.message(now_ms, from, frame),
        }
    })
}

/// Sends due heartbeats and re-evaluates every peer.
///
/// # Safety
/// `detector` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_tick(
    detector: *mut consensio_detector,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let d = unsafe { borrow(detector, "detector") }?;
        match &d.node {
            Node::Heartbeat(x) => x.step(now_ms, Input::Tick),
            Node::Phi(x) => x.step(now_ms, Input::Tick),
        }
    })
}

/// Takes the next output into `*out` (kind NONE when there is none).
///
/// # Safety
/// `detector` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_poll(
    detector: *mut consensio_detector,
    out: *mut consensio_detector_output,
) -> consensio_status {
    use consensio_detector_output_kind::*;
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, o) = unsafe { (borrow(detector, "detector")?, borrow_mut(out, "out")?) };
        let mut next = consensio_detector_output {
            kind: CONSENSIO_DETECTOR_OUTPUT_NONE,
            peer: 0,
            data: core::ptr::null(),
            len: 0,
            incarnation: 0,
            from_state: consensio_peer_state::CONSENSIO_PEER_ALIVE,
            to_state: consensio_peer_state::CONSENSIO_PEER_ALIVE,
            phi: 0.0,
        };
        (next.data, next.len) = match &d.node {
            Node::Heartbeat(x) => x.poll(|polled, _| {
                match polled {
                    Polled::Send { to } => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_SEND;
                        next.peer = to;
                    }
                    Polled::Persist(incarnation) => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_PERSIST;
                        next.incarnation = incarnation;
                    }
                    Polled::Event(HeartbeatEvent::StateChanged { peer, from, to }) => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_STATE_CHANGED;
                        (next.peer, next.from_state, next.to_state) =
                            (peer.0, from.into(), to.into());
                    }
                }
                Ok(())
            }),
            Node::Phi(x) => x.poll(|polled, _| {
                match polled {
                    Polled::Send { to } => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_SEND;
                        next.peer = to;
                    }
                    Polled::Persist(incarnation) => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_PERSIST;
                        next.incarnation = incarnation;
                    }
                    Polled::Event(PhiEvent::Suspected { peer, phi }) => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_SUSPECTED;
                        (next.peer, next.phi) = (peer.0, phi);
                    }
                    Polled::Event(PhiEvent::Recovered { peer }) => {
                        next.kind = CONSENSIO_DETECTOR_OUTPUT_RECOVERED;
                        next.peer = peer.0;
                    }
                }
                Ok(())
            }),
        }?;
        *o = next;
        Ok(())
    })
}

/// When the detector next wants a tick (`*out_has` 0 if none).
///
/// # Safety
/// `detector` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_next_deadline(
    detector: *const consensio_detector,
    out_has: *mut u8,
    out_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, has, ms) = unsafe {
            (
                borrow(detector, "detector")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_ms, "out_ms")?,
            )
        };
        let deadline = match &d.node {
            Node::Heartbeat(x) => x.deadline(),
            Node::Phi(x) => x.deadline(),
        };
        optional(deadline, has, ms);
        Ok(())
    })
}

/// Whether this detector currently suspects `peer` (suspected or failed).
/// `CONSENSIO_INVALID_ARGUMENT` if `peer` is not monitored.
///
/// # Safety
/// `detector` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_suspects(
    detector: *const consensio_detector,
    peer: u64,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, o) = unsafe { (borrow(detector, "detector")?, borrow_mut(out, "out")?) };
        let suspected = match &d.node {
            Node::Heartbeat(x) => x.with(|n| n.state(NodeId(peer)).map(|s| s != PeerState::Alive)),
            Node::Phi(x) => x.with(|n| n.is_suspected(NodeId(peer))),
        }
        .ok_or_else(|| {
            Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("n{peer} is not monitored"),
            )
        })?;
        *o = u8::from(suspected);
        Ok(())
    })
}

/// A φ-accrual calculator for one peer (opaque).
#[derive(Debug)]
pub struct consensio_phi_accrual {
    accrual: PhiAccrual,
}

/// Creates a calculator with Akka's defaults (threshold 8, 1,000 samples,
/// σ ≥ 100 ms, no acceptable pause, first estimate 1 s).
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_phi_accrual_new(
    out: *mut *mut consensio_phi_accrual,
) -> consensio_status {
    guard(|| {
        let accrual = PhiAccrual::new(PhiConfig::new())?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_phi_accrual { accrual }) }
    })
}

/// Frees a calculator; NULL is a no-op.
///
/// # Safety
/// `accrual` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_phi_accrual_free(accrual: *mut consensio_phi_accrual) {
    // SAFETY: forwarded from the caller.
    unsafe { take(accrual) }
}

/// Records a heartbeat arriving at `now_ms`.
///
/// # Safety
/// `accrual` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_phi_accrual_heartbeat(
    accrual: *mut consensio_phi_accrual,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let a = unsafe { borrow_mut(accrual, "accrual") }?;
        a.accrual.heartbeat(Instant::from_millis(now_ms));
        Ok(())
    })
}

/// φ at `now_ms`.
///
/// # Safety
/// `accrual` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_phi_accrual_phi(
    accrual: *const consensio_phi_accrual,
    now_ms: u64,
    out: *mut f64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (a, o) = unsafe { (borrow(accrual, "accrual")?, borrow_mut(out, "out")?) };
        *o = a.accrual.phi(Instant::from_millis(now_ms));
        Ok(())
    })
}
