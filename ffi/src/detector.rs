//! `consensio_detector_*` and `consensio_phi_accrual_*`: the heartbeat and
//! φ-accrual failure detectors from C, the detectors as
//! `consensio_participant` handles. The persisted records are incarnation
//! numbers (integers in `values[0]`; only the last matters); a restarted node is created with the last
//! one it persisted.

use consensio_core::detector::{
    HeartbeatDetector, MAX_PEERS, PeerState, PhiAccrual, PhiDetector, heartbeat, phi,
};
use consensio_core::{Instant, NodeId, Restore};

use crate::consensio_status::{self, *};
use crate::participant::{
    Driver, Fill, Surface, any_driver, consensio_participant, give_participant, members,
    wrong_handle,
};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, take};

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

/// The events of a failure detector (`consensio_output.event`); `peer` is
/// the monitored peer each is about.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_detector_event {
    /// Heartbeat detector: `peer` went from state `values[0]` to state
    /// `values[1]` (each a `consensio_peer_state`).
    CONSENSIO_DETECTOR_STATE_CHANGED = 1,
    /// φ detector: `peer`'s φ reached the threshold; `real` is φ then.
    CONSENSIO_DETECTOR_SUSPECTED = 2,
    /// φ detector: `peer` is below the threshold again.
    CONSENSIO_DETECTOR_RECOVERED = 3,
}

impl Surface for HeartbeatDetector {
    const FAMILY: &'static str = "detector";

    fn persist(incarnation: u64, fill: &mut Fill<'_>) -> Result<()> {
        fill.out.values[0] = incarnation;
        Ok(())
    }

    fn event(event: heartbeat::Event, fill: &mut Fill<'_>) -> Result<()> {
        let heartbeat::Event::StateChanged { peer, from, to } = event;
        let out = fill.event(consensio_detector_event::CONSENSIO_DETECTOR_STATE_CHANGED as u32);
        out.peer = peer.0;
        out.values[0] = consensio_peer_state::from(from) as u64;
        out.values[1] = consensio_peer_state::from(to) as u64;
        Ok(())
    }
}

impl Surface for PhiDetector {
    const FAMILY: &'static str = "detector";

    fn persist(incarnation: u64, fill: &mut Fill<'_>) -> Result<()> {
        fill.out.values[0] = incarnation;
        Ok(())
    }

    fn event(event: phi::Event, fill: &mut Fill<'_>) -> Result<()> {
        use consensio_detector_event::*;
        match event {
            phi::Event::Suspected { peer, phi } => {
                let out = fill.event(CONSENSIO_DETECTOR_SUSPECTED as u32);
                (out.peer, out.real) = (peer.0, phi);
            }
            phi::Event::Recovered { peer } => {
                fill.event(CONSENSIO_DETECTOR_RECOVERED as u32).peer = peer.0;
            }
        }
        Ok(())
    }
}

/// Creates a detector for node `id` monitoring the other `members` as a
/// participant handle, restored from `incarnation` (the last it persisted;
/// 0 for a new node), with the library's defaults (heartbeat: 100 ms
/// heartbeats, suspected after 300 ms, failed after 1 s; φ: 1 s heartbeats
/// and Akka's parameters). A heartbeat from a node that is not a monitored
/// peer is refused with `CONSENSIO_INVALID_ARGUMENT` (nothing changes).
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
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let ids = unsafe { members(members_ptr, n, MAX_PEERS.saturating_add(1)) }?;
        let id = NodeId(id);
        // SAFETY (both arms): forwarded from the caller.
        match kind {
            consensio_detector_kind::CONSENSIO_DETECTOR_HEARTBEAT => unsafe {
                give_participant(
                    HeartbeatDetector::restore(heartbeat::Config::new(id, &ids), &[incarnation])?,
                    out,
                )
            },
            consensio_detector_kind::CONSENSIO_DETECTOR_PHI => unsafe {
                give_participant(
                    PhiDetector::restore(phi::Config::new(id, &ids), &[incarnation])?,
                    out,
                )
            },
        }
    })
}

/// Whether this detector currently suspects `peer` (suspected or failed).
/// `CONSENSIO_INVALID_ARGUMENT` if `peer` is not monitored.
///
/// # Safety
/// `detector` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_detector_suspects(
    detector: *const consensio_participant,
    peer: u64,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let ((any, family), o) = unsafe { (any_driver(detector)?, borrow_mut(out, "out")?) };
        let peer = NodeId(peer);
        let suspected = if let Some(d) = any.downcast_ref::<Driver<HeartbeatDetector>>() {
            d.with(|n| n.state(peer).map(|s| s != PeerState::Alive))
        } else if let Some(d) = any.downcast_ref::<Driver<PhiDetector>>() {
            d.with(|n| n.is_suspected(peer))
        } else {
            return Err(wrong_handle(family, "detector", "node"));
        }
        .ok_or_else(|| {
            Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("{peer} is not monitored"),
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
        let accrual = PhiAccrual::new(phi::AccrualConfig::new())?;
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
