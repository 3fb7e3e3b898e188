//! `consensio_election_*`: Bully and Chang–Roberts ring election from C, as
//! `consensio_participant` handles. The persisted records are epochs
//! (integers in `values[0]`; only the last matters), and a restarted node is
//! created with the last one it persisted.

use consensio_core::election::{self, Bully, MAX_MEMBERS, RingElection, bully, ring};
use consensio_core::{NodeId, Restore};

use crate::consensio_status;
use crate::participant::{
    Driver, Fill, Surface, any_driver, consensio_participant, give_participant, members, optional,
    wrong_handle,
};
use crate::{Result, borrow_mut, guard};

/// Which election algorithm a handle runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_election_algorithm {
    /// Garcia-Molina's Bully algorithm.
    CONSENSIO_ELECTION_BULLY = 0,
    /// Chang–Roberts ring election with ring repair.
    CONSENSIO_ELECTION_RING = 1,
}

/// The events of an election participant (`consensio_output.event`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_election_event {
    /// This node now follows `peer` (itself included) in epoch `values[0]`.
    CONSENSIO_ELECTION_ELECTED = 1,
    /// The leader of epoch `values[0]` went silent; an election starts.
    CONSENSIO_ELECTION_LEADER_LOST = 2,
}

/// Fills the output of either algorithm's event.
fn election_event(event: election::Event, fill: &mut Fill<'_>) {
    use consensio_election_event::*;
    match event {
        election::Event::Elected { leader, epoch } => {
            let out = fill.event(CONSENSIO_ELECTION_ELECTED as u32);
            (out.peer, out.values[0]) = (leader.0, epoch);
        }
        election::Event::LeaderLost { epoch } => {
            fill.event(CONSENSIO_ELECTION_LEADER_LOST as u32).values[0] = epoch;
        }
    }
}

/// Both algorithms persist epochs and report the same events.
macro_rules! election_surface {
    ($($node:ty),*) => {$(
        impl Surface for $node {
            const FAMILY: &'static str = "election";

            fn persist(epoch: u64, fill: &mut Fill<'_>) -> Result<()> {
                fill.out.values[0] = epoch;
                Ok(())
            }

            fn event(event: election::Event, fill: &mut Fill<'_>) -> Result<()> {
                election_event(event, fill);
                Ok(())
            }
        }
    )*};
}

election_surface!(Bully, RingElection);

/// Runs `$body` with `$d` bound to the handle's driver, whichever
/// algorithm; a handle of another family is `CONSENSIO_INVALID_ARGUMENT`.
macro_rules! with_election {
    ($handle:expr, $d:ident => $body:expr) => {{
        // SAFETY: forwarded from the caller.
        let (any, family) = unsafe { any_driver($handle) }?;
        if let Some($d) = any.downcast_ref::<Driver<Bully>>() {
            $body
        } else if let Some($d) = any.downcast_ref::<Driver<RingElection>>() {
            $body
        } else {
            return Err(wrong_handle(family, "election", "node"));
        }
    }};
}

/// Creates node `id` of `members` (which must include `id`) as a
/// participant handle, restored from `epoch`, the last epoch it persisted
/// (0 for a new node), with the library's default timeouts (a 50 ms delay
/// bound). A message from a sender outside `members` is refused with
/// `CONSENSIO_INVALID_ARGUMENT` (nothing changes).
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
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let ids = unsafe { members(members_ptr, n, MAX_MEMBERS) }?;
        let id = NodeId(id);
        // SAFETY (both arms): forwarded from the caller.
        match algorithm {
            consensio_election_algorithm::CONSENSIO_ELECTION_BULLY => unsafe {
                give_participant(Bully::restore(bully::Config::new(id, &ids), &[epoch])?, out)
            },
            consensio_election_algorithm::CONSENSIO_ELECTION_RING => unsafe {
                give_participant(
                    RingElection::restore(ring::Config::new(id, &ids), &[epoch])?,
                    out,
                )
            },
        }
    })
}

/// Starts an election now, as if the leader had been lost.
///
/// # Safety
/// `election` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_start(
    election: *mut consensio_participant,
    now_ms: u64,
) -> consensio_status {
    use consensio_core::Input;
    guard(
        || with_election!(election, d => d.input(now_ms, Input::Command(election::Command::StartElection))),
    )
}

/// The leader this node follows (`*out_has` 0 while it has none) and the
/// current epoch.
///
/// # Safety
/// `election` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_election_leader(
    election: *const consensio_participant,
    out_has: *mut u8,
    out_leader: *mut u64,
    out_epoch: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (has, leader, epoch) = unsafe {
            (
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_leader, "out_leader")?,
                borrow_mut(out_epoch, "out_epoch")?,
            )
        };
        let (l, ep) = with_election!(election, d => d.with(|n| (n.leader(), n.epoch())));
        optional(l.map(|n| n.0), has, leader);
        *epoch = ep;
        Ok(())
    })
}
