//! Hedged requests: when a call is slow, send another copy and take
//! whichever answers first (Dean & Barroso, "The Tail at Scale", CACM
//! 2013; gRPC's hedging policy, gRFC A6).
//!
//! A [`Hedge`] follows one call. The first copy is sent when it is made;
//! each further copy is due [`HedgePolicy::delay_ms`] after the previous
//! one, until [`HedgePolicy::max_attempts`] copies are out. The caller
//! polls it at [`Hedge::next_deadline`] ([`Hedge::poll`] says which copy to
//! send) and reports each copy's answer:
//!
//! - a success ends the call: the other copies still out are to be
//!   cancelled ([`HedgeOutcome::Succeeded`] names them);
//! - a permanent failure ends it too (gRPC's fatal status codes): the
//!   server answered, and another copy would get the same answer;
//! - a transient failure or a timeout of one copy makes the next copy due
//!   at once (gRPC's non-fatal codes), and the call fails only when every
//!   copy has failed and no more may be sent.
//!
//! The delay is fixed, or set by the caller as it learns its latencies
//! ([`Hedge::set_delay`], typically to a high percentile of recent calls,
//! so that only the slowest few percent of calls are hedged).
//!
//! A shared [`Budget`] bounds the extra load: every copy after the first
//! must be paid for as a retry is (gRPC throttling refuses it at or below
//! half the tokens; the AWS quota charges it), failed copies are charged
//! as failures, and a success is credited. Without a budget, a server
//! that slows down under load receives up to `max_attempts` times the
//! load: hedging, like retrying, can feed the overload it reacts to.

use super::Error;
use super::retry::{Budget, FailureKind};
use crate::Instant;

/// The most copies of one call: the outstanding copies are a 64-bit set.
pub const MAX_HEDGED_ATTEMPTS: u32 = 64;

/// How a call is hedged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HedgePolicy {
    /// Copies in all, the first included: 1 to [`MAX_HEDGED_ATTEMPTS`]
    /// (default 3).
    pub max_attempts: u32,
    /// Between one copy and the next, ms (default 100).
    pub delay_ms: u64,
}

impl Default for HedgePolicy {
    fn default() -> Self {
        HedgePolicy {
            max_attempts: 3,
            delay_ms: 100,
        }
    }
}

/// What [`Hedge::poll`] found due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Send copy number `.0` now.
    Send(u32),
    /// The budget refused the next copy and none is out: the call failed.
    Failed,
}

/// How a hedged call stands after a copy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HedgeOutcome {
    /// A copy succeeded; cancel the copies in this set (bit `i`: copy `i`).
    Succeeded {
        /// The copy that answered.
        attempt: u32,
        /// The copies still out.
        cancel: u64,
    },
    /// The call failed: a permanent failure, or every copy failed and no
    /// more may be sent. Cancel the copies in the set.
    Failed {
        /// The copies still out.
        cancel: u64,
    },
    /// Still going: other copies are out or due.
    Pending,
    /// The answer is for a copy not out (never sent, answered already, or
    /// the call has ended): it changes nothing.
    Ignored,
}

/// One hedged call; see the [module documentation](self).
///
/// ```
/// use consensio::Instant;
/// use consensio::resilience::hedge::{Due, Hedge, HedgeOutcome, HedgePolicy};
///
/// let t = Instant::from_millis;
/// let mut hedge = Hedge::new(HedgePolicy { max_attempts: 3, delay_ms: 50 }, t(0))?;
/// // Copy 0 went out at once; copy 1 is due 50 ms later.
/// assert_eq!(hedge.next_deadline(), Some(t(50)));
/// assert_eq!(hedge.poll(t(50), None), Some(Due::Send(1)));
/// // Copy 1 answers first: copy 0 is to be cancelled.
/// assert_eq!(
///     hedge.on_success(1, None),
///     HedgeOutcome::Succeeded { attempt: 1, cancel: 0b01 }
/// );
/// assert_eq!(hedge.next_deadline(), None);
/// # Ok::<(), consensio::resilience::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hedge {
    policy: HedgePolicy,
    /// Copies sent so far.
    sent: u32,
    /// Copies out, not yet answered.
    outstanding: u64,
    /// When the next copy is due, if one may still be sent.
    next_at: Option<Instant>,
    /// What the last paid copy cost a quota.
    last_cost: u64,
    /// A transient failure made the next copy due at once: a new delay
    /// does not postpone it.
    hurried: bool,
    done: bool,
}

impl Hedge {
    /// A call whose first copy (copy 0) is sent at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `max_attempts` outside 1 to
    /// [`MAX_HEDGED_ATTEMPTS`].
    pub fn new(policy: HedgePolicy, now: Instant) -> Result<Self, Error> {
        if policy.max_attempts == 0 || policy.max_attempts > MAX_HEDGED_ATTEMPTS {
            return Err(Error::InvalidConfig(
                "max_attempts must be in 1..=MAX_HEDGED_ATTEMPTS",
            ));
        }
        Ok(Hedge {
            policy,
            sent: 1,
            outstanding: 1,
            next_at: (policy.max_attempts > 1).then(|| now.saturating_add_millis(policy.delay_ms)),
            last_cost: 0,
            hurried: false,
            done: false,
        })
    }

    /// Changes the delay for the copies not yet due (a percentile of recent
    /// latencies, as the caller measures it); the next copy becomes due
    /// `delay_ms` after `last_sent`, the time the latest copy went out,
    /// unless a transient failure has already made it due, or due sooner.
    pub fn set_delay(&mut self, delay_ms: u64, last_sent: Instant) {
        self.policy.delay_ms = delay_ms;
        if let Some(due) = self.next_at {
            let new = last_sent.saturating_add_millis(delay_ms);
            self.next_at = Some(if self.hurried { due.min(new) } else { new });
        }
    }

    /// When the next copy is due, if one may still be sent.
    #[must_use]
    pub const fn next_deadline(&self) -> Option<Instant> {
        self.next_at
    }

    /// Copies sent so far.
    #[must_use]
    pub const fn sent(&self) -> u32 {
        self.sent
    }

    /// The copies out, not yet answered (bit `i`: copy `i`).
    #[must_use]
    pub const fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// What is due at `now`: a copy to send, if one is due and `budget` (if
    /// any) pays for it. A budget's refusal ends the hedging: no further
    /// copy is sent, and the call waits on the copies out, or has failed
    /// if none is.
    pub fn poll(&mut self, now: Instant, budget: Option<&mut Budget>) -> Option<Due> {
        let due = self.next_at?;
        if now < due || self.done {
            return None;
        }
        if let Some(b) = budget {
            match b.try_retry(FailureKind::Transient) {
                Some(cost) => self.last_cost = cost,
                None => {
                    self.next_at = None;
                    if self.outstanding == 0 {
                        self.finish();
                        return Some(Due::Failed);
                    }
                    return None;
                }
            }
        }
        let attempt = self.sent;
        self.sent += 1;
        self.hurried = false;
        self.outstanding |= 1 << attempt;
        self.next_at = (self.sent < self.policy.max_attempts)
            .then(|| now.saturating_add_millis(self.policy.delay_ms));
        Some(Due::Send(attempt))
    }

    /// Copy `attempt` succeeded. Credits `budget` with what a success earns.
    pub fn on_success(&mut self, attempt: u32, budget: Option<&mut Budget>) -> HedgeOutcome {
        if !self.take(attempt) {
            return HedgeOutcome::Ignored;
        }
        if let Some(b) = budget {
            b.on_success(self.last_cost);
        }
        self.finish();
        HedgeOutcome::Succeeded {
            attempt,
            cancel: core::mem::take(&mut self.outstanding),
        }
    }

    /// Copy `attempt` failed with `kind` at `now`. Charges `budget` for the
    /// failure.
    pub fn on_failure(
        &mut self,
        now: Instant,
        attempt: u32,
        kind: FailureKind,
        budget: Option<&mut Budget>,
    ) -> HedgeOutcome {
        if !self.take(attempt) {
            return HedgeOutcome::Ignored;
        }
        if let Some(b) = budget {
            b.on_failure(kind);
        }
        if kind == FailureKind::Permanent {
            self.finish();
            return HedgeOutcome::Failed {
                cancel: core::mem::take(&mut self.outstanding),
            };
        }
        // Another copy is due at once, if one may be sent.
        if let Some(due) = self.next_at.as_mut() {
            *due = (*due).min(now);
            self.hurried = true;
            return HedgeOutcome::Pending;
        }
        if self.outstanding == 0 {
            self.finish();
            return HedgeOutcome::Failed { cancel: 0 };
        }
        HedgeOutcome::Pending
    }

    /// Marks `attempt` answered; whether it was out.
    fn take(&mut self, attempt: u32) -> bool {
        if self.done || attempt >= MAX_HEDGED_ATTEMPTS {
            return false;
        }
        let bit = 1u64 << attempt;
        let out = self.outstanding & bit != 0;
        self.outstanding &= !bit;
        out
    }

    fn finish(&mut self) {
        self.done = true;
        self.next_at = None;
    }
}
