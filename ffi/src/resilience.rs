//! `consensio_breaker_*`, `consensio_retry_*`, `consensio_budget_*`,
//! `consensio_hedge_*`, `consensio_router_*`: the circuit breaker, retries
//! with backoff and budgets, hedged requests, and routing across endpoints
//! (`consensio_core::resilience`). `consensio_rpc_*`: request-reply with
//! deadlines and at-most-once execution, as a `consensio_participant`.
//!
//! The breaker and the budget are opaque handles; a permit and a retry's
//! decision are plain structs the caller holds. States, outcomes, jitters
//! and failure kinds travel as `uint32_t` (the `consensio_breaker_state`,
//! `consensio_call_outcome`, `consensio_jitter` and `consensio_failure_kind`
//! numbers), so an unknown number is `CONSENSIO_INVALID_ARGUMENT`, never
//! undefined behaviour. A refused call is `CONSENSIO_REJECTED`.

use consensio_core::resilience::Budget;
use consensio_core::resilience::breaker::{
    CircuitBreaker, Config, OpenWait, Outcome, Permit, Recorded, State, Window,
};
use consensio_core::resilience::hedge::{Due, Hedge, HedgeOutcome, HedgePolicy};
use consensio_core::resilience::retry::{
    Backoff, Decision, FailureKind, GiveUp, Jitter, Policy, Pushback, Retry,
};
use consensio_core::resilience::routing::{
    self, Balance, Endpoint, HealthConfig, OutlierConfig, Router,
};
use consensio_core::resilience::rpc::{self, Command, Event, Persist, RequestId, RpcNode};
use consensio_core::{Instant, NodeId, wire};

use crate::consensio_status::{self, *};
use crate::participant::{
    Fill, Surface, command, consensio_participant, driver, give_participant, give_restored,
    members, optional,
};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, slice, take};

/// A breaker's state (the numbers `uint32_t` state parameters take).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_breaker_state {
    /// Calls pass and are recorded.
    CONSENSIO_BREAKER_CLOSED = 0,
    /// Calls are refused until the wait ends.
    CONSENSIO_BREAKER_OPEN = 1,
    /// A fixed number of trial calls pass.
    CONSENSIO_BREAKER_HALF_OPEN = 2,
    /// Calls pass; nothing is recorded.
    CONSENSIO_BREAKER_DISABLED = 3,
    /// Calls are refused until told otherwise.
    CONSENSIO_BREAKER_FORCED_OPEN = 4,
    /// Calls pass and are recorded; the state never changes by itself.
    CONSENSIO_BREAKER_METRICS_ONLY = 5,
}

fn state_number(s: State) -> u32 {
    State::ALL.iter().position(|&x| x == s).unwrap_or(0) as u32
}

fn state_of(n: u32) -> Result<State> {
    State::ALL
        .get(n as usize)
        .copied()
        .ok_or_else(|| Failure::new(CONSENSIO_INVALID_ARGUMENT, format!("no breaker state {n}")))
}

/// How a call went, as the caller classifies it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_call_outcome {
    /// It succeeded.
    CONSENSIO_CALL_SUCCESS = 0,
    /// It failed in a way that counts against the server.
    CONSENSIO_CALL_FAILURE = 1,
    /// It counts for nothing (a client error, a cancelled call).
    CONSENSIO_CALL_IGNORED = 2,
}

/// What the breaker did with a result.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_recorded {
    /// It counts.
    CONSENSIO_RECORDED_COUNTED = 0,
    /// Ignored (by the classification, or the breaker is DISABLED).
    CONSENSIO_RECORDED_IGNORED = 1,
    /// Its permit is from an earlier state period: it changes nothing.
    CONSENSIO_RECORDED_STALE = 2,
}

/// A breaker's configuration; [`consensio_breaker_config_default`] fills
/// in resilience4j's defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct consensio_breaker_config {
    /// Open at this failure rate or above, percent, in (0, 100].
    pub failure_rate_threshold: f32,
    /// Open at this slow-call rate or above, percent, in (0, 100].
    pub slow_call_rate_threshold: f32,
    /// A call longer than this is slow, ms.
    pub slow_call_duration_ms: u64,
    /// Trial calls admitted in HALF_OPEN, 1 to 64.
    pub permitted_calls_in_half_open: u32,
    /// Back to OPEN if the trials take longer than this, ms; 0: no limit.
    pub max_wait_in_half_open_ms: u64,
    /// 0: the window is the last `window_size` calls; 1: the last
    /// `window_size` seconds.
    pub window_kind: u32,
    /// The window's size, in calls or seconds.
    pub window_size: u32,
    /// No rate counts before the window holds this many calls.
    pub minimum_calls: u32,
    /// The first wait in OPEN, ms, at least 1.
    pub open_wait_ms: u64,
    /// The factor between consecutive openings' waits; 1 keeps it fixed.
    pub open_wait_multiplier: f64,
    /// The longest wait in OPEN, ms (used when the multiplier is above 1).
    pub open_wait_max_ms: u64,
}

impl consensio_breaker_config {
    fn to_core(self) -> Result<Config> {
        let window = match self.window_kind {
            0 => Window::Count(self.window_size),
            1 => Window::Time(self.window_size),
            k => {
                return Err(Failure::new(
                    CONSENSIO_INVALID_ARGUMENT,
                    format!("window_kind {k}: 0 counts calls, 1 counts seconds"),
                ));
            }
        };
        // A multiplier of exactly 1 is a fixed wait; NaN and the rest are
        // left to the core's check.
        #[allow(clippy::float_cmp)]
        let open_wait = if self.open_wait_multiplier == 1.0 {
            OpenWait::Fixed(self.open_wait_ms)
        } else {
            OpenWait::Exponential {
                initial_ms: self.open_wait_ms,
                multiplier: self.open_wait_multiplier,
                max_ms: self.open_wait_max_ms,
            }
        };
        let config = Config {
            failure_rate_threshold: self.failure_rate_threshold,
            slow_call_rate_threshold: self.slow_call_rate_threshold,
            slow_call_duration_ms: self.slow_call_duration_ms,
            permitted_calls_in_half_open: self.permitted_calls_in_half_open,
            max_wait_in_half_open_ms: self.max_wait_in_half_open_ms,
            window,
            minimum_calls: self.minimum_calls,
            open_wait,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Writes resilience4j's defaults into `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_config_default(
    out: *mut consensio_breaker_config,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { borrow_mut(out, "out") }?;
        let d = Config::default();
        let (kind, size) = match d.window {
            Window::Count(n) => (0, n),
            Window::Time(s) => (1, s),
        };
        let (wait, multiplier, max) = match d.open_wait {
            OpenWait::Fixed(ms) => (ms, 1.0, ms),
            OpenWait::Exponential {
                initial_ms,
                multiplier,
                max_ms,
            } => (initial_ms, multiplier, max_ms),
        };
        *out = consensio_breaker_config {
            failure_rate_threshold: d.failure_rate_threshold,
            slow_call_rate_threshold: d.slow_call_rate_threshold,
            slow_call_duration_ms: d.slow_call_duration_ms,
            permitted_calls_in_half_open: d.permitted_calls_in_half_open,
            max_wait_in_half_open_ms: d.max_wait_in_half_open_ms,
            window_kind: kind,
            window_size: size,
            minimum_calls: d.minimum_calls,
            open_wait_ms: wait,
            open_wait_multiplier: multiplier,
            open_wait_max_ms: max,
        };
        Ok(())
    })
}

/// A circuit breaker (opaque).
#[derive(Debug)]
pub struct consensio_breaker {
    breaker: CircuitBreaker,
}

/// Leave to make one call: the caller holds it and reports it once with
/// [`consensio_breaker_on_result`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_permit {
    /// When it was issued, ms.
    pub at_ms: u64,
    /// The breaker's state period it belongs to.
    pub period: u64,
    /// A half-open trial's slot (0 to 63), or `UINT32_MAX` for a call that
    /// is not a trial.
    pub slot: u32,
}

/// A CLOSED breaker with `*config` in `*out`. `CONSENSIO_INVALID_ARGUMENT`
/// names the first field out of its domain.
///
/// # Safety
/// `config` must be readable, `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_new(
    config: *const consensio_breaker_config,
    out: *mut *mut consensio_breaker,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let config = unsafe { borrow(config, "config") }?.to_core()?;
        let breaker = CircuitBreaker::new(config)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_breaker { breaker }) }
    })
}

/// Frees a breaker; NULL is a no-op.
///
/// # Safety
/// `breaker` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_free(breaker: *mut consensio_breaker) {
    // SAFETY: forwarded from the caller.
    unsafe { take(breaker) }
}

/// Asks leave for one call at `now_ms`: a permit in `*out`, or
/// `CONSENSIO_REJECTED` when OPEN, FORCED_OPEN, or HALF_OPEN with every
/// trial out (`consensio_breaker_next_deadline` says when OPEN ends).
///
/// # Safety
/// `breaker` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_acquire(
    breaker: *mut consensio_breaker,
    now_ms: u64,
    out: *mut consensio_permit,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, out) = unsafe { (borrow_mut(breaker, "breaker")?, borrow_mut(out, "out")?) };
        let permit = b.breaker.try_acquire(Instant::from_millis(now_ms))?;
        let (at_ms, period, slot) = permit.to_raw();
        *out = consensio_permit {
            at_ms,
            period,
            slot,
        };
        Ok(())
    })
}

/// Reports how the call of `*permit` went (`outcome`: a
/// `consensio_call_outcome`) at `now_ms`; what was done with it goes to
/// `*out_recorded` (a `consensio_recorded`). A permit the breaker did not
/// issue, or one reported already while its trials are counted, is
/// `CONSENSIO_INVALID_ARGUMENT` and changes nothing.
///
/// # Safety
/// `breaker` must be a live handle; `permit` readable; `out_recorded`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_on_result(
    breaker: *mut consensio_breaker,
    now_ms: u64,
    permit: *const consensio_permit,
    outcome: u32,
    out_recorded: *mut u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, p, out) = unsafe {
            (
                borrow_mut(breaker, "breaker")?,
                borrow(permit, "permit")?,
                borrow_mut(out_recorded, "out_recorded")?,
            )
        };
        let outcome = match outcome {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            2 => Outcome::Ignored,
            n => {
                return Err(Failure::new(
                    CONSENSIO_INVALID_ARGUMENT,
                    format!("no call outcome {n}"),
                ));
            }
        };
        let permit = Permit::from_raw(p.at_ms, p.period, p.slot);
        let recorded = b
            .breaker
            .on_result(Instant::from_millis(now_ms), permit, outcome)?;
        *out = match recorded {
            Recorded::Counted => consensio_recorded::CONSENSIO_RECORDED_COUNTED,
            Recorded::Ignored => consensio_recorded::CONSENSIO_RECORDED_IGNORED,
            Recorded::Stale => consensio_recorded::CONSENSIO_RECORDED_STALE,
        } as u32;
        Ok(())
    })
}

/// Applies the transitions time drives (OPEN to HALF_OPEN, HALF_OPEN back
/// to OPEN after its wait), as of `now_ms`.
///
/// # Safety
/// `breaker` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_tick(
    breaker: *mut consensio_breaker,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let b = unsafe { borrow_mut(breaker, "breaker") }?;
        b.breaker.tick(Instant::from_millis(now_ms));
        Ok(())
    })
}

/// The state (a `consensio_breaker_state`) in `*out`.
///
/// # Safety
/// `breaker` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_current_state(
    breaker: *const consensio_breaker,
    out: *mut u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, out) = unsafe { (borrow(breaker, "breaker")?, borrow_mut(out, "out")?) };
        *out = state_number(b.breaker.state());
        Ok(())
    })
}

/// When time next changes the state by itself: `*out_has` 1 and `*out_ms`
/// the instant, or `*out_has` 0.
///
/// # Safety
/// `breaker` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_next_deadline(
    breaker: *const consensio_breaker,
    out_has: *mut u8,
    out_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, has, ms) = unsafe {
            (
                borrow(breaker, "breaker")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_ms, "out_ms")?,
            )
        };
        optional(b.breaker.next_deadline().map(Instant::as_millis), has, ms);
        Ok(())
    })
}

/// Moves the breaker to `state` (a `consensio_breaker_state`) on the
/// caller's order, with a fresh window.
///
/// # Safety
/// `breaker` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_transition_to(
    breaker: *mut consensio_breaker,
    state: u32,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let b = unsafe { borrow_mut(breaker, "breaker") }?;
        let state = state_of(state)?;
        b.breaker.transition_to(state, Instant::from_millis(now_ms));
        Ok(())
    })
}

/// What a breaker's window holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct consensio_breaker_metrics {
    /// Calls in the window (the trials, in HALF_OPEN).
    pub calls: u64,
    /// Of them, failed.
    pub failed: u64,
    /// Of them, slow.
    pub slow: u64,
    /// The failure rate, percent; -1 below the minimum number of calls.
    pub failure_rate: f32,
    /// The slow-call rate, percent; -1 likewise.
    pub slow_call_rate: f32,
    /// Calls refused since the breaker was made.
    pub not_permitted: u64,
    /// Results reported with a permit of an earlier state period.
    pub stale: u64,
}

/// The window's counts and rates as of `now_ms` in `*out`.
///
/// # Safety
/// `breaker` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_window_metrics(
    breaker: *mut consensio_breaker,
    now_ms: u64,
    out: *mut consensio_breaker_metrics,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, out) = unsafe { (borrow_mut(breaker, "breaker")?, borrow_mut(out, "out")?) };
        let m = b.breaker.metrics(Instant::from_millis(now_ms));
        *out = consensio_breaker_metrics {
            calls: m.calls,
            failed: m.failed,
            slow: m.slow,
            failure_rate: m.failure_rate.unwrap_or(-1.0),
            slow_call_rate: m.slow_call_rate.unwrap_or(-1.0),
            not_permitted: m.not_permitted,
            stale: m.stale,
        };
        Ok(())
    })
}

/// The oldest transition not yet polled: `*out_has` 1 with `*out_from`,
/// `*out_to` (`consensio_breaker_state`s) and `*out_at_ms`, or `*out_has` 0.
/// At most eight wait; older ones are dropped.
///
/// # Safety
/// `breaker` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_breaker_poll_transition(
    breaker: *mut consensio_breaker,
    out_has: *mut u8,
    out_from: *mut u32,
    out_to: *mut u32,
    out_at_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, has, from, to, at) = unsafe {
            (
                borrow_mut(breaker, "breaker")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_from, "out_from")?,
                borrow_mut(out_to, "out_to")?,
                borrow_mut(out_at_ms, "out_at_ms")?,
            )
        };
        match b.breaker.poll_transition() {
            Some(t) => {
                *has = 1;
                *from = state_number(t.from);
                *to = state_number(t.to);
                *at = t.at.as_millis();
            }
            None => *has = 0,
        }
        Ok(())
    })
}

/// How the delay between attempts is randomised.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_jitter {
    /// The exponential delay itself.
    CONSENSIO_JITTER_NONE = 0,
    /// Uniform between zero and the exponential delay.
    CONSENSIO_JITTER_FULL = 1,
    /// Half the delay plus a uniform share of the other half.
    CONSENSIO_JITTER_EQUAL = 2,
    /// Uniform between the first delay and three times the previous one.
    CONSENSIO_JITTER_DECORRELATED = 3,
}

/// How an attempt failed, as the caller classifies it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_failure_kind {
    /// Worth another attempt.
    CONSENSIO_FAILURE_TRANSIENT = 0,
    /// No answer in time; worth another attempt.
    CONSENSIO_FAILURE_TIMEOUT = 1,
    /// Not worth another attempt.
    CONSENSIO_FAILURE_PERMANENT = 2,
}

/// What to do after a failed attempt.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_retry_decision {
    /// Wait `delay_ms`, then try again.
    CONSENSIO_RETRY_AFTER = 0,
    /// The failure is not retryable.
    CONSENSIO_GIVE_UP_NOT_RETRYABLE = 1,
    /// The policy's attempts are used up.
    CONSENSIO_GIVE_UP_ATTEMPTS = 2,
    /// The budget refused the retry.
    CONSENSIO_GIVE_UP_BUDGET = 3,
    /// The server said not to retry.
    CONSENSIO_GIVE_UP_PUSHBACK = 4,
}

/// A retry policy.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct consensio_retry_policy {
    /// Attempts in all, the first included, at least 1.
    pub max_attempts: u32,
    /// The first retry's base delay, ms.
    pub initial_ms: u64,
    /// The longest delay, ms.
    pub max_ms: u64,
    /// The factor between consecutive base delays, in [1, 1000].
    pub multiplier: f64,
    /// A `consensio_jitter`.
    pub jitter: u32,
}

impl consensio_retry_policy {
    fn to_core(self) -> Result<Policy> {
        let jitter = match self.jitter {
            0 => Jitter::None,
            1 => Jitter::Full,
            2 => Jitter::Equal,
            3 => Jitter::Decorrelated,
            n => {
                return Err(Failure::new(
                    CONSENSIO_INVALID_ARGUMENT,
                    format!("no jitter {n}"),
                ));
            }
        };
        let policy = Policy {
            max_attempts: self.max_attempts,
            backoff: Backoff {
                initial_ms: self.initial_ms,
                max_ms: self.max_ms,
                multiplier: self.multiplier,
                jitter,
            },
        };
        policy.validate()?;
        Ok(policy)
    }

    fn from_core(p: Policy) -> Self {
        consensio_retry_policy {
            max_attempts: p.max_attempts,
            initial_ms: p.backoff.initial_ms,
            max_ms: p.backoff.max_ms,
            multiplier: p.backoff.multiplier,
            jitter: match p.backoff.jitter {
                Jitter::None => 0,
                Jitter::Full => 1,
                Jitter::Equal => 2,
                Jitter::Decorrelated => 3,
            },
        }
    }
}

/// The default policy (3 attempts, full jitter from 100 ms doubling to at
/// most 10 s) in `*out`; with `aws_standard` nonzero, the AWS SDKs'
/// standard mode instead (3 attempts, full jitter from 1 s to 20 s).
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_retry_policy_default(
    aws_standard: u8,
    out: *mut consensio_retry_policy,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { borrow_mut(out, "out") }?;
        let p = if aws_standard != 0 {
            Policy::aws_standard()
        } else {
            Policy::default()
        };
        *out = consensio_retry_policy::from_core(p);
        Ok(())
    })
}

/// A retry budget shared by the calls of one client (opaque).
#[derive(Debug)]
pub struct consensio_budget {
    budget: Budget,
}

/// gRPC retry throttling (gRFC A6) in `*out`: `max_tokens` in [1, 1000],
/// `token_ratio` in [0.001, max_tokens].
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_budget_new_grpc(
    max_tokens: u32,
    token_ratio: f64,
    out: *mut *mut consensio_budget,
) -> consensio_status {
    guard(|| {
        let budget = Budget::grpc(max_tokens, token_ratio)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_budget { budget }) }
    })
}

/// The AWS SDKs' standard-mode retry quota in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_budget_new_aws_standard(
    out: *mut *mut consensio_budget,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        unsafe {
            give(
                out,
                consensio_budget {
                    budget: Budget::aws_standard(),
                },
            )
        }
    })
}

/// Frees a budget; NULL is a no-op.
///
/// # Safety
/// `budget` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_budget_free(budget: *mut consensio_budget) {
    // SAFETY: forwarded from the caller.
    unsafe { take(budget) }
}

/// What is left in `*out_level` and the most there can be in `*out_max`
/// (gRPC tokens in thousandths, or the AWS quota).
///
/// # Safety
/// `budget` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_budget_level(
    budget: *const consensio_budget,
    out_level: *mut u64,
    out_max: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (b, level, max) = unsafe {
            (
                borrow(budget, "budget")?,
                borrow_mut(out_level, "out_level")?,
                borrow_mut(out_max, "out_max")?,
            )
        };
        (*level, *max) = b.budget.level();
        Ok(())
    })
}

/// One call's retries (opaque).
#[derive(Debug)]
pub struct consensio_retry {
    retry: Retry,
}

/// A call whose first attempt is under way, under `*policy`, its jitter
/// seeded with `seed`, in `*out`.
///
/// # Safety
/// `policy` must be readable, `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_retry_new(
    policy: *const consensio_retry_policy,
    seed: u64,
    out: *mut *mut consensio_retry,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let policy = unsafe { borrow(policy, "policy") }?.to_core()?;
        let retry = Retry::new(policy, seed)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_retry { retry }) }
    })
}

/// Frees a retry; NULL is a no-op.
///
/// # Safety
/// `retry` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_retry_free(retry: *mut consensio_retry) {
    // SAFETY: forwarded from the caller.
    unsafe { take(retry) }
}

/// The attempt under way failed with `kind` (a `consensio_failure_kind`).
/// `pushback_ms` is the server's: -1 none, -2 "do not retry", 0 or more a
/// delay to wait exactly. `budget` may be NULL (no budget). The decision
/// (a `consensio_retry_decision`) goes to `*out_decision`, and the delay
/// to `*out_delay_ms` when it is `CONSENSIO_RETRY_AFTER`.
///
/// # Safety
/// `retry` must be a live handle; `budget` NULL or a live handle; the
/// out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_retry_on_failure(
    retry: *mut consensio_retry,
    budget: *mut consensio_budget,
    kind: u32,
    pushback_ms: i64,
    out_decision: *mut u32,
    out_delay_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, decision, delay) = unsafe {
            (
                borrow_mut(retry, "retry")?,
                borrow_mut(out_decision, "out_decision")?,
                borrow_mut(out_delay_ms, "out_delay_ms")?,
            )
        };
        let kind = failure_kind(kind)?;
        let pushback = match pushback_ms {
            -1 => Pushback::None,
            -2 => Pushback::Stop,
            ms if ms >= 0 => Pushback::After(ms.unsigned_abs()),
            ms => {
                return Err(Failure::new(
                    CONSENSIO_INVALID_ARGUMENT,
                    format!("pushback {ms}: -1 none, -2 stop, or a delay of 0 or more"),
                ));
            }
        };
        // SAFETY: forwarded from the caller.
        let budget = unsafe { optional_budget(budget) }?;
        let (d, ms) = match r.retry.on_failure(kind, pushback, budget) {
            Decision::RetryAfter(ms) => (consensio_retry_decision::CONSENSIO_RETRY_AFTER, ms),
            Decision::GiveUp(why) => (
                match why {
                    GiveUp::NotRetryable => {
                        consensio_retry_decision::CONSENSIO_GIVE_UP_NOT_RETRYABLE
                    }
                    GiveUp::Attempts => consensio_retry_decision::CONSENSIO_GIVE_UP_ATTEMPTS,
                    GiveUp::Budget => consensio_retry_decision::CONSENSIO_GIVE_UP_BUDGET,
                    GiveUp::Pushback => consensio_retry_decision::CONSENSIO_GIVE_UP_PUSHBACK,
                },
                0,
            ),
        };
        *decision = d as u32;
        *delay = ms;
        Ok(())
    })
}

/// The attempt under way succeeded; `budget` (NULL: none) gets its due.
///
/// # Safety
/// `retry` must be a live handle; `budget` NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_retry_on_success(
    retry: *mut consensio_retry,
    budget: *mut consensio_budget,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, budget) = unsafe { (borrow_mut(retry, "retry")?, optional_budget(budget)?) };
        r.retry.on_success(budget);
        Ok(())
    })
}

/// Attempts made so far, the one under way included, in `*out`.
///
/// # Safety
/// `retry` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_retry_attempts(
    retry: *const consensio_retry,
    out: *mut u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, out) = unsafe { (borrow(retry, "retry")?, borrow_mut(out, "out")?) };
        *out = r.retry.attempts();
        Ok(())
    })
}

/// What a hedged call found due, or how it stands after an answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_hedge_status {
    /// Nothing to do now; other copies are out or due later.
    CONSENSIO_HEDGE_PENDING = 0,
    /// Send copy `attempt` now.
    CONSENSIO_HEDGE_SEND = 1,
    /// A copy succeeded; cancel the copies in `cancel`.
    CONSENSIO_HEDGE_SUCCEEDED = 2,
    /// The call failed; cancel the copies in `cancel`.
    CONSENSIO_HEDGE_FAILED = 3,
    /// The answer was for a copy not out: nothing changed.
    CONSENSIO_HEDGE_IGNORED = 4,
}

/// A hedged call's step: a `consensio_hedge_status` with the copy it names
/// and the copies to cancel (bit `i`: copy `i`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_hedge_step {
    /// A `consensio_hedge_status`.
    pub status: u32,
    /// The copy to send (SEND) or that answered (SUCCEEDED).
    pub attempt: u32,
    /// The copies still out, to cancel (SUCCEEDED, FAILED).
    pub cancel: u64,
}

fn step(status: consensio_hedge_status, attempt: u32, cancel: u64) -> consensio_hedge_step {
    consensio_hedge_step {
        status: status as u32,
        attempt,
        cancel,
    }
}

fn hedge_step(o: HedgeOutcome) -> consensio_hedge_step {
    use consensio_hedge_status::*;
    match o {
        HedgeOutcome::Succeeded { attempt, cancel } => {
            step(CONSENSIO_HEDGE_SUCCEEDED, attempt, cancel)
        }
        HedgeOutcome::Failed { cancel } => step(CONSENSIO_HEDGE_FAILED, 0, cancel),
        HedgeOutcome::Pending => step(CONSENSIO_HEDGE_PENDING, 0, 0),
        HedgeOutcome::Ignored => step(CONSENSIO_HEDGE_IGNORED, 0, 0),
    }
}

fn failure_kind(kind: u32) -> Result<FailureKind> {
    match kind {
        0 => Ok(FailureKind::Transient),
        1 => Ok(FailureKind::Timeout),
        2 => Ok(FailureKind::Permanent),
        n => Err(Failure::new(
            CONSENSIO_INVALID_ARGUMENT,
            format!("no failure kind {n}"),
        )),
    }
}

/// A budget handle, or none for NULL.
///
/// # Safety
/// `budget` must be NULL or a live handle.
unsafe fn optional_budget<'a>(budget: *mut consensio_budget) -> Result<Option<&'a mut Budget>> {
    if budget.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller (not NULL).
    Ok(Some(&mut unsafe { borrow_mut(budget, "budget") }?.budget))
}

/// One hedged call (opaque).
#[derive(Debug)]
pub struct consensio_hedge {
    hedge: Hedge,
}

/// A hedged call whose copy 0 is sent at `now_ms`: at most `max_attempts`
/// copies (1 to 64), `delay_ms` apart, in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hedge_new(
    max_attempts: u32,
    delay_ms: u64,
    now_ms: u64,
    out: *mut *mut consensio_hedge,
) -> consensio_status {
    guard(|| {
        let policy = HedgePolicy {
            max_attempts,
            delay_ms,
        };
        let hedge = Hedge::new(policy, Instant::from_millis(now_ms))?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_hedge { hedge }) }
    })
}

/// Frees a hedged call; NULL is a no-op.
///
/// # Safety
/// `hedge` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hedge_free(hedge: *mut consensio_hedge) {
    // SAFETY: forwarded from the caller.
    unsafe { take(hedge) }
}

/// What is due at `now_ms`, paid for by `budget` (NULL: none):
/// `CONSENSIO_HEDGE_SEND` with the copy to send, `CONSENSIO_HEDGE_FAILED`
/// if the budget refused the next copy and none is out, else
/// `CONSENSIO_HEDGE_PENDING`. Poll again after a SEND.
///
/// # Safety
/// `hedge` must be a live handle; `budget` NULL or a live handle; `out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hedge_poll(
    hedge: *mut consensio_hedge,
    now_ms: u64,
    budget: *mut consensio_budget,
    out: *mut consensio_hedge_step,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, out, budget) = unsafe {
            (
                borrow_mut(hedge, "hedge")?,
                borrow_mut(out, "out")?,
                optional_budget(budget)?,
            )
        };
        use consensio_hedge_status::*;
        *out = match h.hedge.poll(Instant::from_millis(now_ms), budget) {
            Some(Due::Send(a)) => step(CONSENSIO_HEDGE_SEND, a, 0),
            Some(Due::Failed) => step(CONSENSIO_HEDGE_FAILED, 0, 0),
            None => step(CONSENSIO_HEDGE_PENDING, 0, 0),
        };
        Ok(())
    })
}

/// Copy `attempt` succeeded; `budget` (NULL: none) is credited. The call's
/// step goes to `*out`.
///
/// # Safety
/// `hedge` must be a live handle; `budget` NULL or a live handle; `out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hedge_on_success(
    hedge: *mut consensio_hedge,
    attempt: u32,
    budget: *mut consensio_budget,
    out: *mut consensio_hedge_step,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, out, budget) = unsafe {
            (
                borrow_mut(hedge, "hedge")?,
                borrow_mut(out, "out")?,
                optional_budget(budget)?,
            )
        };
        *out = hedge_step(h.hedge.on_success(attempt, budget));
        Ok(())
    })
}

/// Copy `attempt` failed with `kind` (a `consensio_failure_kind`) at
/// `now_ms`; `budget` (NULL: none) is charged. The call's step goes to
/// `*out`; after a PENDING, poll: the next copy may be due at once.
///
/// # Safety
/// `hedge` must be a live handle; `budget` NULL or a live handle; `out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hedge_on_failure(
    hedge: *mut consensio_hedge,
    now_ms: u64,
    attempt: u32,
    kind: u32,
    budget: *mut consensio_budget,
    out: *mut consensio_hedge_step,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, out, budget) = unsafe {
            (
                borrow_mut(hedge, "hedge")?,
                borrow_mut(out, "out")?,
                optional_budget(budget)?,
            )
        };
        let kind = failure_kind(kind)?;
        *out = hedge_step(
            h.hedge
                .on_failure(Instant::from_millis(now_ms), attempt, kind, budget),
        );
        Ok(())
    })
}

/// When the next copy is due: `*out_has` 1 and `*out_ms`, or `*out_has` 0.
///
/// # Safety
/// `hedge` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hedge_next_deadline(
    hedge: *const consensio_hedge,
    out_has: *mut u8,
    out_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, has, ms) = unsafe {
            (
                borrow(hedge, "hedge")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_ms, "out_ms")?,
            )
        };
        optional(h.hedge.next_deadline().map(Instant::as_millis), has, ms);
        Ok(())
    })
}

/// One endpoint of a router.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_endpoint {
    /// The caller's id for it (unique in the router).
    pub id: u64,
    /// Its failover tier: 0 is the most preferred.
    pub priority: u32,
    /// Its share in weighted balancing, at least 1.
    pub weight: u32,
    /// Its distance from the caller (geo-proximity).
    pub distance: u32,
}

/// A router's configuration; [`consensio_router_config_default`] fills in
/// the defaults (Envoy's for outlier ejection).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct consensio_router_config {
    /// 0: smooth weighted round robin; 1: nearest; 2: lower EWMA latency
    /// of two random choices.
    pub balance: u32,
    /// 0: no active health checks (every endpoint counts as healthy).
    pub health_checks: u8,
    /// Between two checks of one endpoint, ms.
    pub health_interval_ms: u64,
    /// Consecutive failed checks that mark an endpoint down.
    pub unhealthy_threshold: u32,
    /// Consecutive good checks that mark it up again.
    pub healthy_threshold: u32,
    /// Failures in a row that eject an endpoint; 0 disables.
    pub consecutive_failures: u32,
    /// Between two outlier sweeps, ms.
    pub outlier_interval_ms: u64,
    /// The first ejection's length, ms.
    pub base_ejection_ms: u64,
    /// The longest ejection, ms.
    pub max_ejection_ms: u64,
    /// No ejection while this share, percent, is ejected.
    pub max_ejection_percent: u32,
    /// Calls an endpoint needs in an interval to count for success rates.
    pub request_volume: u32,
    /// Endpoints with that volume needed for the success-rate check.
    pub minimum_hosts: u32,
    /// Standard deviations (thousandths) below the mean that eject; 0 disables.
    pub success_rate_stdev_factor: u32,
    /// The EWMA's weight of a new latency sample, in (0, 1].
    pub ewma_alpha: f64,
    /// How fast a latency estimate fades while its endpoint gets no calls,
    /// ms, at least 1.
    pub latency_decay_ms: u64,
    /// Seeds the latency balancing's draws.
    pub seed: u64,
}

impl consensio_router_config {
    fn from_core(c: routing::Config) -> Self {
        let h = c.health.unwrap_or_default();
        let o = c.outlier;
        consensio_router_config {
            balance: match c.balance {
                Balance::Weighted => 0,
                Balance::Nearest => 1,
                Balance::Latency => 2,
            },
            health_checks: u8::from(c.health.is_some()),
            health_interval_ms: h.interval_ms,
            unhealthy_threshold: h.unhealthy_threshold,
            healthy_threshold: h.healthy_threshold,
            consecutive_failures: o.consecutive_failures,
            outlier_interval_ms: o.interval_ms,
            base_ejection_ms: o.base_ejection_ms,
            max_ejection_ms: o.max_ejection_ms,
            max_ejection_percent: o.max_ejection_percent,
            request_volume: o.request_volume,
            minimum_hosts: o.minimum_hosts,
            success_rate_stdev_factor: o.success_rate_stdev_factor,
            ewma_alpha: c.ewma_alpha,
            latency_decay_ms: c.latency_decay_ms,
            seed: c.seed,
        }
    }

    fn to_core(self) -> Result<routing::Config> {
        let balance = match self.balance {
            0 => Balance::Weighted,
            1 => Balance::Nearest,
            2 => Balance::Latency,
            n => {
                return Err(Failure::new(
                    CONSENSIO_INVALID_ARGUMENT,
                    format!("balance {n}: 0 weighted, 1 nearest, 2 latency"),
                ));
            }
        };
        Ok(routing::Config {
            balance,
            health: (self.health_checks != 0).then_some(HealthConfig {
                interval_ms: self.health_interval_ms,
                unhealthy_threshold: self.unhealthy_threshold,
                healthy_threshold: self.healthy_threshold,
            }),
            outlier: OutlierConfig {
                consecutive_failures: self.consecutive_failures,
                interval_ms: self.outlier_interval_ms,
                base_ejection_ms: self.base_ejection_ms,
                max_ejection_ms: self.max_ejection_ms,
                max_ejection_percent: self.max_ejection_percent,
                request_volume: self.request_volume,
                minimum_hosts: self.minimum_hosts,
                success_rate_stdev_factor: self.success_rate_stdev_factor,
            },
            ewma_alpha: self.ewma_alpha,
            latency_decay_ms: self.latency_decay_ms,
            seed: self.seed,
        })
    }
}

/// Writes the default router configuration into `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_config_default(
    out: *mut consensio_router_config,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { borrow_mut(out, "out") }?;
        *out = consensio_router_config::from_core(routing::Config::default());
        Ok(())
    })
}

/// A router (opaque).
#[derive(Debug)]
pub struct consensio_router {
    router: Router,
}

/// A router over `endpoints[0..n]` (1 to 4,096), all healthy, with the
/// first health checks due at `now_ms`, in `*out`.
///
/// # Safety
/// `config` readable; `endpoints` holds `n` endpoints; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_new(
    config: *const consensio_router_config,
    endpoints: *const consensio_endpoint,
    n: usize,
    now_ms: u64,
    out: *mut *mut consensio_router,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (config, endpoints) = unsafe {
            (
                borrow(config, "config")?,
                crate::slice(endpoints, n, "endpoints")?,
            )
        };
        if n > routing::MAX_ENDPOINTS {
            return Err(Failure::new(
                CONSENSIO_LIMIT_EXCEEDED,
                format!(
                    "{n} endpoints; a router holds at most {}",
                    routing::MAX_ENDPOINTS
                ),
            ));
        }
        let list: Vec<Endpoint> = endpoints
            .iter()
            .map(|e| Endpoint {
                id: e.id,
                priority: e.priority,
                weight: e.weight,
                distance: e.distance,
            })
            .collect();
        let router = Router::new(config.to_core()?, &list, Instant::from_millis(now_ms))?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_router { router }) }
    })
}

/// Frees a router; NULL is a no-op.
///
/// # Safety
/// `router` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_free(router: *mut consensio_router) {
    // SAFETY: forwarded from the caller.
    unsafe { take(router) }
}

/// The endpoint for the next call at `now_ms` in `*out_id`;
/// `CONSENSIO_REJECTED` when every endpoint is down or ejected.
///
/// # Safety
/// `router` must be a live handle; `out_id` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_pick(
    router: *mut consensio_router,
    now_ms: u64,
    out_id: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, out) = unsafe { (borrow_mut(router, "router")?, borrow_mut(out_id, "out_id")?) };
        *out = r.router.pick(Instant::from_millis(now_ms))?;
        Ok(())
    })
}

/// Reports a call to endpoint `id` that took `rtt_ms`; `ok` nonzero if it
/// succeeded. An unknown id is ignored.
///
/// # Safety
/// `router` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_on_response(
    router: *mut consensio_router,
    now_ms: u64,
    id: u64,
    rtt_ms: u64,
    ok: u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(router, "router") }?;
        r.router
            .on_response(Instant::from_millis(now_ms), id, rtt_ms, ok != 0);
        Ok(())
    })
}

/// The next endpoint whose health check is due at `now_ms`: `*out_has` 1
/// and `*out_id`, or `*out_has` 0. Call until it reports none.
///
/// # Safety
/// `router` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_poll_health_check(
    router: *mut consensio_router,
    now_ms: u64,
    out_has: *mut u8,
    out_id: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, has, id) = unsafe {
            (
                borrow_mut(router, "router")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_id, "out_id")?,
            )
        };
        optional(
            r.router.poll_health_check(Instant::from_millis(now_ms)),
            has,
            id,
        );
        Ok(())
    })
}

/// Reports a health check of endpoint `id`: `ok` nonzero if it passed.
///
/// # Safety
/// `router` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_on_health_check(
    router: *mut consensio_router,
    now_ms: u64,
    id: u64,
    ok: u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { borrow_mut(router, "router") }?;
        r.router
            .on_health_check(Instant::from_millis(now_ms), id, ok != 0);
        Ok(())
    })
}

/// Runs the outlier sweeps due by `now_ms`; `*out_next_ms` is when the next
/// health check or sweep is due.
///
/// # Safety
/// `router` must be a live handle; `out_next_ms` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_tick(
    router: *mut consensio_router,
    now_ms: u64,
    out_next_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, next) = unsafe {
            (
                borrow_mut(router, "router")?,
                borrow_mut(out_next_ms, "out_next_ms")?,
            )
        };
        r.router.tick(Instant::from_millis(now_ms));
        *next = r.router.next_deadline().as_millis();
        Ok(())
    })
}

/// Whether endpoint `id` takes calls at `now_ms` (healthy and not ejected)
/// in `*out_available`, and the times it has been ejected (less the sweeps
/// since) in `*out_ejections`. `CONSENSIO_INVALID_ARGUMENT` for an unknown
/// id.
///
/// # Safety
/// `router` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_router_endpoint_state(
    router: *const consensio_router,
    now_ms: u64,
    id: u64,
    out_available: *mut u8,
    out_ejections: *mut u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, available, ejections) = unsafe {
            (
                borrow(router, "router")?,
                borrow_mut(out_available, "out_available")?,
                borrow_mut(out_ejections, "out_ejections")?,
            )
        };
        let unknown = || Failure::new(CONSENSIO_INVALID_ARGUMENT, format!("no endpoint {id}"));
        let up = r
            .router
            .is_available(id, Instant::from_millis(now_ms))
            .ok_or_else(unknown)?;
        let e = r
            .router
            .endpoints()
            .iter()
            .find(|e| e.endpoint.id == id)
            .ok_or_else(unknown)?;
        *available = u8::from(up);
        *ejections = e.ejections;
        Ok(())
    })
}

// ---- request-reply ----------------------------------------------------------

/// How a call ended (`values[1]` of `CONSENSIO_RPC_DONE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_rpc_outcome {
    /// The server executed the request once; `data[0..len]` is its reply.
    CONSENSIO_RPC_REPLY = 0,
    /// No reply by the deadline: the request may or may not have executed.
    CONSENSIO_RPC_DEADLINE_EXCEEDED = 1,
    /// The peer's circuit breaker refused the call: nothing was sent.
    CONSENSIO_RPC_REJECTED = 2,
}

/// The events of a request-reply node (`consensio_output.event`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_rpc_event {
    /// A call ended, exactly once per call: `values[0]` is the caller's
    /// tag, `values[1]` a `consensio_rpc_outcome`, `values[2]` the copies
    /// sent; `data[0..len]` the reply.
    CONSENSIO_RPC_DONE = 1,
    /// Execute the request `data[0..len]` of client `peer` (its id:
    /// incarnation `values[0]`, sequence `values[1]`) and answer with
    /// [`consensio_rpc_reply`]; the caller's deadline is `values[2]` on
    /// this node's clock. It is recorded as started and is never asked for
    /// again.
    CONSENSIO_RPC_EXECUTE = 2,
}

/// A request-reply node's configuration. Start from
/// [`consensio_rpc_default_config`] and adjust.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct consensio_rpc_config {
    /// This node's id: one of the members.
    pub id: u64,
    /// Seeds the retry jitter.
    pub seed: u64,
    /// Retransmissions: attempts in all and the backoff between them.
    pub retry: consensio_retry_policy,
    /// How long to wait for a reply before the next attempt, ms, at least 1.
    pub attempt_timeout_ms: u64,
    /// The retry budget shared by every call: 0 none, 1 gRPC retry
    /// throttling (`budget_max_tokens`, `budget_token_ratio`), 2 the AWS
    /// SDKs' standard-mode quota.
    pub budget_kind: u32,
    /// gRPC: tokens at the start and at most, in [1, 1000].
    pub budget_max_tokens: u32,
    /// gRPC: tokens a success gives back, in [0.001, 1000].
    pub budget_token_ratio: f64,
    /// Nonzero: a circuit breaker per peer, configured by `breaker`.
    pub has_breaker: u8,
    /// The breakers' configuration.
    pub breaker: consensio_breaker_config,
    /// The most calls open at once, 1 to 65,536.
    pub max_calls: u64,
    /// The most requests the server remembers, 1 to 65,536; a request that
    /// finds the table full is refused unexecuted and retried.
    pub max_records: u64,
    /// The largest body sent or accepted, at most 65,536 bytes.
    pub max_body_len: u64,
    /// How long the server keeps a record past its deadline, ms: the
    /// longest a copy of a request may spend in the network.
    pub grace_ms: u64,
    /// Server records written between checkpoints, at least 1.
    pub checkpoint_every: u32,
}

/// The defaults for node `id` in `*out`: the default retry policy (3
/// attempts, full jitter from 100 ms doubling to 10 s), 1 s per attempt,
/// no budget, no breaker (`breaker` holds resilience4j's defaults, for
/// `has_breaker`), 1,024 open calls and server records, bodies up to
/// 4 KiB, a grace of 60 s, a checkpoint every 1,024 records, `seed` = `id`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_default_config(
    id: u64,
    out: *mut consensio_rpc_config,
) -> consensio_status {
    let mut breaker = core::mem::MaybeUninit::<consensio_breaker_config>::uninit();
    // SAFETY: `breaker` is writable.
    let status = unsafe { consensio_breaker_config_default(breaker.as_mut_ptr()) };
    if status != CONSENSIO_OK {
        return status;
    }
    // SAFETY: the call above filled it.
    let breaker = unsafe { breaker.assume_init() };
    guard(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { borrow_mut(out, "out") }?;
        let c = rpc::Config::new(NodeId(id), &[]);
        *out = consensio_rpc_config {
            id,
            seed: c.seed,
            retry: consensio_retry_policy::from_core(c.retry),
            attempt_timeout_ms: c.attempt_timeout_ms,
            budget_kind: 0,
            budget_max_tokens: 10,
            budget_token_ratio: 0.1,
            has_breaker: 0,
            breaker,
            max_calls: c.max_calls as u64,
            max_records: c.max_records as u64,
            max_body_len: c.max_body_len as u64,
            grace_ms: c.grace_ms,
            checkpoint_every: c.checkpoint_every,
        };
        Ok(())
    })
}

/// The core configuration from the C one and the member list.
///
/// # Safety
/// `config` must be valid; `ids` hold `n` ids.
unsafe fn rpc_config(
    config: *const consensio_rpc_config,
    ids: *const u64,
    n: usize,
) -> Result<rpc::Config> {
    // SAFETY: forwarded from the caller.
    let (c, ids) = unsafe {
        (
            borrow(config, "config")?,
            members(ids, n, rpc::MAX_PEERS.saturating_add(1))?,
        )
    };
    let budget = match c.budget_kind {
        0 => None,
        1 => Some(Budget::grpc(c.budget_max_tokens, c.budget_token_ratio)?),
        2 => Some(Budget::aws_standard()),
        k => {
            return Err(Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("budget_kind {k}: 0 none, 1 gRPC, 2 AWS standard"),
            ));
        }
    };
    let widen = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(rpc::Config {
        retry: c.retry.to_core()?,
        attempt_timeout_ms: c.attempt_timeout_ms,
        budget,
        breaker: if c.has_breaker != 0 {
            Some(c.breaker.to_core()?)
        } else {
            None
        },
        max_calls: widen(c.max_calls),
        max_records: widen(c.max_records),
        max_body_len: widen(c.max_body_len),
        grace_ms: c.grace_ms,
        checkpoint_every: c.checkpoint_every,
        seed: c.seed,
        ..rpc::Config::new(NodeId(c.id), &ids)
    })
}

impl Surface for RpcNode {
    const FAMILY: &'static str = "rpc";

    fn persist(record: Persist, fill: &mut Fill<'_>) -> Result<()> {
        *fill.data = wire::encode_to_vec(&record)?;
        Ok(())
    }

    fn event(event: Event, fill: &mut Fill<'_>) -> Result<()> {
        use consensio_rpc_event::*;
        use consensio_rpc_outcome::*;
        match event {
            Event::Done {
                call,
                outcome,
                attempts,
            } => {
                let code = match outcome {
                    rpc::Outcome::Reply(body) => {
                        *fill.data = body;
                        CONSENSIO_RPC_REPLY
                    }
                    rpc::Outcome::DeadlineExceeded => CONSENSIO_RPC_DEADLINE_EXCEEDED,
                    rpc::Outcome::Rejected => CONSENSIO_RPC_REJECTED,
                };
                let out = fill.event(CONSENSIO_RPC_DONE as u32);
                out.values[..3].copy_from_slice(&[call, code as u64, u64::from(attempts)]);
            }
            Event::Execute {
                client,
                id,
                deadline,
                body,
            } => {
                *fill.data = body;
                let out = fill.event(CONSENSIO_RPC_EXECUTE as u32);
                out.peer = client.0;
                out.values[..3].copy_from_slice(&[id.incarnation, id.seq, deadline.as_millis()]);
            }
        }
        Ok(())
    }
}

/// Creates a fresh request-reply node (client and server) of `members`
/// (which should include `config->id`; the others are its peers, at most
/// 256). Records are byte strings (wire frames of kind `RPC_RECORD`): keep
/// every one in the order polled, or only those from the last checkpoint
/// on ([`consensio_rpc_record_is_checkpoint`]), and pass them to
/// [`consensio_rpc_restore`] after a crash. A message from a node that is
/// not a peer is refused with `CONSENSIO_INVALID_ARGUMENT` (nothing
/// changes); `CONSENSIO_INVALID_ARGUMENT` for an unusable configuration.
///
/// # Safety
/// `config` must be valid, `members` hold `n` ids, `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_new(
    config: *const consensio_rpc_config,
    members: *const u64,
    n: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let node = RpcNode::new(unsafe { rpc_config(config, members, n) }?)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant(node, out) }
    })
}

/// Rebuilds a node after a restart from the `count` records it persisted,
/// in the order polled (record `i` is `records[i][0..lens[i]]`): its next
/// input takes a new incarnation, and its server remembers every request
/// it started (those not finished are never executed again nor answered).
/// Its calls ended with the process that made them. `CONSENSIO_MALFORMED`
/// for bytes that are not a record or records no node could have written.
///
/// # Safety
/// As [`consensio_rpc_new`]; `records` and `lens` hold `count` elements,
/// and each `records[i]` `lens[i]` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_restore(
    config: *const consensio_rpc_config,
    members: *const u64,
    n: usize,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let config = unsafe { rpc_config(config, members, n) }?;
        // SAFETY: forwarded from the caller.
        unsafe { give_restored::<RpcNode>(config, records, lens, count, out) }
    })
}

/// Calls peer `to` with `body[0..len]`, tagged `call` (any number not
/// already open on this node), with a deadline `timeout_ms` from `now_ms`:
/// `CONSENSIO_RPC_DONE` for `call` reports how it ended, exactly once, by
/// the deadline. `CONSENSIO_INVALID_ARGUMENT` if `to` is not a peer or the
/// tag is open; `CONSENSIO_LIMIT_EXCEEDED` if the body is over
/// `max_body_len` or `max_calls` are open. Nothing changes on an error.
///
/// # Safety
/// `rpc` must be a live handle; `body` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_call(
    rpc: *mut consensio_participant,
    now_ms: u64,
    call: u64,
    to: u64,
    body: *const u8,
    len: usize,
    timeout_ms: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<RpcNode>(rpc, now_ms, || {
            Ok(Command::Call {
                call,
                to: NodeId(to),
                body: slice(body, len, "body")?.to_vec(),
                timeout_ms,
            })
        })
    }
}

/// Answers the request `CONSENSIO_RPC_EXECUTE` named (client `client`,
/// incarnation `incarnation`, sequence `seq`) with `body[0..len]`: it is
/// recorded, then sent, and sent again to any retransmission. A reply
/// nobody waits for any more (the client has its outcome or restarted)
/// is dropped, and that is no error. `CONSENSIO_INVALID_ARGUMENT` for a
/// request answered already or abandoned by a restart;
/// `CONSENSIO_LIMIT_EXCEEDED` for a body over `max_body_len`.
///
/// # Safety
/// `rpc` must be a live handle; `body` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_reply(
    rpc: *mut consensio_participant,
    now_ms: u64,
    client: u64,
    incarnation: u64,
    seq: u64,
    body: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<RpcNode>(rpc, now_ms, || {
            Ok(Command::Reply {
                client: NodeId(client),
                id: RequestId { incarnation, seq },
                body: slice(body, len, "body")?.to_vec(),
            })
        })
    }
}

/// Whether `record[0..len]` (a record polled from a request-reply node) is
/// a checkpoint: once it is durable, the records before it may be deleted.
/// `CONSENSIO_MALFORMED` if it is not a record.
///
/// # Safety
/// `record` must hold `len` bytes; `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_record_is_checkpoint(
    record: *const u8,
    len: usize,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (bytes, o) = unsafe { (slice(record, len, "record")?, borrow_mut(out, "out")?) };
        *o = u8::from(matches!(
            wire::decode::<Persist>(bytes)?,
            Persist::Checkpoint(_)
        ));
        Ok(())
    })
}

/// How many calls are open on this node (`*out_calls`) and how many
/// requests its server remembers (`*out_records`).
///
/// # Safety
/// `rpc` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_tables(
    rpc: *const consensio_participant,
    out_calls: *mut u64,
    out_records: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, calls, records) = unsafe {
            (
                driver::<RpcNode>(rpc)?,
                borrow_mut(out_calls, "out_calls")?,
                borrow_mut(out_records, "out_records")?,
            )
        };
        (*calls, *records) = d.with(|n| (n.open_calls() as u64, n.records() as u64));
        Ok(())
    })
}

/// The state of the circuit breaker for `peer` (a
/// `consensio_breaker_state` number) in `*out`. `CONSENSIO_INVALID_ARGUMENT`
/// if `peer` is not a peer or the node has no breakers.
///
/// # Safety
/// `rpc` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_rpc_breaker_state(
    rpc: *const consensio_participant,
    peer: u64,
    out: *mut u32,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, o) = unsafe { (driver::<RpcNode>(rpc)?, borrow_mut(out, "out")?) };
        let state = d.with(|n| n.breaker_state(NodeId(peer))).ok_or_else(|| {
            Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("n{peer} is not a peer, or the node has no breakers"),
            )
        })?;
        *o = state_number(state);
        Ok(())
    })
}
