//! Retries: when to try a failed call again, and when not to.
//!
//! A [`Retry`] follows one call: after each failed attempt the caller
//! reports it ([`Retry::on_failure`]) and gets a [`Decision`], either a
//! delay to wait before the next attempt or the reason to give up. The
//! delay grows exponentially from [`Backoff::initial_ms`] by
//! [`Backoff::multiplier`] up to [`Backoff::max_ms`], with the jitter of
//! Brooker's "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015),
//! where `base = min(max, initial × multiplierⁿ)` for the n-th retry:
//!
//! | [`Jitter`] | delay |
//! |---|---|
//! | `None` | `base` |
//! | `Full` | uniform in `[0, base]` |
//! | `Equal` | `base/2` + uniform in `[0, base/2]` |
//! | `Decorrelated` | `min(max, uniform in [initial, 3 × previous delay])` |
//!
//! drawn from a seeded [`Rng`], so a run replays.
//!
//! A [`Budget`] is shared by all the calls of one client (one channel, one
//! endpoint) and stops retries when too many calls fail, so that an
//! overloaded server is not sent every request several times (a retry
//! storm). Two are provided:
//!
//! - [`Budget::grpc`]: gRPC's retry throttling (gRFC A6). Tokens start at
//!   `max_tokens`; each failed attempt takes one, each successful call gives
//!   back `token_ratio`; retries are allowed only while more than half the
//!   tokens remain. Tokens count in thousandths, as A6 specifies three
//!   decimal places for the ratio.
//! - [`Budget::aws_standard`]: the AWS SDKs' standard retry mode. A quota
//!   of 500; a retry costs 5 (10 after a timeout) and is refused when the
//!   quota cannot pay; a call that succeeds after retrying gives its last
//!   retry's cost back, one that succeeded at once adds 1.
//!
//! The server can push back ([`Pushback`]): a delay it asks for is waited
//! exactly (without jitter, and the backoff starts again from
//! `initial_ms`, as gRPC does), and a refusal ends the call.
//!
//! The caller classifies each failure ([`FailureKind`]): only transient
//! failures and timeouts are retried, and only they cost budget. Deadlines
//! are the request's business, not the retry's: a caller with a deadline
//! gives up when the next delay would pass it.

use super::Error;
use crate::Rng;

/// How the delay is randomised; see the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// No jitter: every client that failed together retries together.
    None,
    /// Uniform between zero and the exponential delay.
    Full,
    /// Half the exponential delay plus a uniform share of the other half.
    Equal,
    /// Uniform between the initial delay and three times the previous one.
    Decorrelated,
}

/// The delays between attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first retry's base delay, ms (default 100).
    pub initial_ms: u64,
    /// The longest delay, ms (default 10,000).
    pub max_ms: u64,
    /// The factor between consecutive base delays, at least 1 (default 2).
    pub multiplier: f64,
    /// The jitter (default [`Jitter::Full`], Brooker's recommendation).
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 100,
            max_ms: 10_000,
            multiplier: 2.0,
            jitter: Jitter::Full,
        }
    }
}

/// A retry policy: attempts and backoff.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Attempts in all, the first one included, at least 1 (default 3).
    pub max_attempts: u32,
    /// The delays.
    pub backoff: Backoff,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 3,
            backoff: Backoff::default(),
        }
    }
}

impl Policy {
    /// The AWS SDKs' standard mode: 3 attempts, full jitter on a base of
    /// 1 s doubling, at most 20 s (use it with [`Budget::aws_standard`]).
    #[must_use]
    pub const fn aws_standard() -> Self {
        Policy {
            max_attempts: 3,
            backoff: Backoff {
                initial_ms: 1_000,
                max_ms: 20_000,
                multiplier: 2.0,
                jitter: Jitter::Full,
            },
        }
    }

    /// Checks every field against its domain.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field out of its domain.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_attempts == 0 {
            return Err(Error::InvalidConfig("max_attempts must be at least 1"));
        }
        let b = &self.backoff;
        // A range refuses NaN too.
        if !(1.0..=1_000.0).contains(&b.multiplier) {
            return Err(Error::InvalidConfig("multiplier must be in [1, 1000]"));
        }
        if b.initial_ms > b.max_ms {
            return Err(Error::InvalidConfig("initial_ms must not exceed max_ms"));
        }
        Ok(())
    }
}

/// How an attempt failed, as the caller classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Worth another attempt: unavailable, overloaded, a reset connection.
    Transient,
    /// No answer in time; worth another attempt, and costlier to a quota.
    Timeout,
    /// Not worth another attempt: a bad request, a permission refused.
    Permanent,
}

/// What the server said about retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pushback {
    /// Nothing.
    None,
    /// Retry after exactly this many ms.
    After(u64),
    /// Do not retry.
    Stop,
}

/// Why a call is not retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GiveUp {
    /// The failure is [`FailureKind::Permanent`].
    NotRetryable,
    /// [`Policy::max_attempts`] attempts were made.
    Attempts,
    /// The budget refused the retry.
    Budget,
    /// The server said not to retry.
    Pushback,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Wait this many ms, then try again.
    RetryAfter(u64),
    /// Stop; the call has failed.
    GiveUp(GiveUp),
}

/// gRPC's retry throttle, in thousandths of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    max: u64,
    tokens: u64,
    ratio: u64,
}

/// The AWS SDKs' standard-mode retry quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    capacity: u64,
    available: u64,
    retry_cost: u64,
    timeout_cost: u64,
    success_increment: u64,
}

/// A retry budget shared by the calls of one client; see the
/// [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// gRPC retry throttling (gRFC A6).
    Tokens(TokenBucket),
    /// The AWS SDKs' standard-mode quota.
    Quota(Quota),
}

impl Budget {
    /// gRPC retry throttling with `max_tokens` (1 to 1,000) and
    /// `token_ratio` (at least 0.001, at most 1,000; gRFC A6 keeps three
    /// decimal places, so it is rounded to thousandths).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside those domains.
    pub fn grpc(max_tokens: u32, token_ratio: f64) -> Result<Self, Error> {
        if !(1..=1_000).contains(&max_tokens) {
            return Err(Error::InvalidConfig("max_tokens must be in [1, 1000]"));
        }
        let max = u64::from(max_tokens) * 1_000;
        // A range refuses NaN too.
        if !(0.001..=1_000.0).contains(&token_ratio) {
            return Err(Error::InvalidConfig("token_ratio must be in [0.001, 1000]"));
        }
        // Rounded, not truncated: 1.001 × 1000 is 1000.9999999999999.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ratio = libm::round(token_ratio * 1_000.0) as u64;
        Ok(Budget::Tokens(TokenBucket {
            max,
            tokens: max,
            ratio,
        }))
    }

    /// The AWS SDKs' standard mode: a quota of 500, retries cost 5 (10
    /// after a timeout), a first-attempt success adds 1.
    #[must_use]
    pub const fn aws_standard() -> Self {
        Budget::Quota(Quota {
            capacity: 500,
            available: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_increment: 1,
        })
    }

    /// What is left and the most there can be: tokens (for
    /// [`Budget::grpc`], in thousandths) or quota.
    #[must_use]
    pub const fn level(&self) -> (u64, u64) {
        match self {
            Budget::Tokens(b) => (b.tokens, b.max),
            Budget::Quota(q) => (q.available, q.capacity),
        }
    }

    /// An attempt failed with `kind`.
    pub(super) fn on_failure(&mut self, kind: FailureKind) {
        if let (Budget::Tokens(b), FailureKind::Transient | FailureKind::Timeout) = (self, kind) {
            b.tokens = b.tokens.saturating_sub(1_000);
        }
    }

    /// Takes what a retry after `kind` costs; `None` if refused. Returns the
    /// cost taken (0 for a token bucket, which charges failures instead).
    pub(super) fn try_retry(&mut self, kind: FailureKind) -> Option<u64> {
        match self {
            Budget::Tokens(b) => (b.tokens > b.max / 2).then_some(0),
            Budget::Quota(q) => {
                let cost = if kind == FailureKind::Timeout {
                    q.timeout_cost
                } else {
                    q.retry_cost
                };
                let left = q.available.checked_sub(cost)?;
                q.available = left;
                Some(cost)
            }
        }
    }

    /// A call succeeded; `last_cost` is what its last retry took (0 if it
    /// succeeded at once).
    pub(super) fn on_success(&mut self, last_cost: u64) {
        match self {
            Budget::Tokens(b) => b.tokens = (b.tokens + b.ratio).min(b.max),
            Budget::Quota(q) => {
                let back = if last_cost > 0 {
                    last_cost
                } else {
                    q.success_increment
                };
                q.available = (q.available + back).min(q.capacity);
            }
        }
    }
}

/// One call's retries; see the [module documentation](self).
///
/// ```
/// use consensio::resilience::retry::{Decision, FailureKind, GiveUp, Policy, Pushback, Retry};
/// use consensio::resilience::Budget;
///
/// let mut budget = Budget::grpc(10, 0.1)?;
/// let mut retry = Retry::new(Policy::default(), 7)?;
/// // The first attempt failed: wait, then try again.
/// let Decision::RetryAfter(ms) =
///     retry.on_failure(FailureKind::Transient, Pushback::None, Some(&mut budget))
/// else {
///     unreachable!()
/// };
/// assert!(ms <= 100);
/// // The second attempt is told to come back in 250 ms exactly.
/// assert_eq!(
///     retry.on_failure(FailureKind::Transient, Pushback::After(250), Some(&mut budget)),
///     Decision::RetryAfter(250)
/// );
/// // The third attempt was the last.
/// assert_eq!(
///     retry.on_failure(FailureKind::Transient, Pushback::None, Some(&mut budget)),
///     Decision::GiveUp(GiveUp::Attempts)
/// );
/// # Ok::<(), consensio::resilience::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Retry {
    policy: Policy,
    rng: Rng,
    /// Attempts made so far (the one running included).
    attempts: u32,
    /// The next retry's base delay.
    step_ms: u64,
    /// The previous delay, for decorrelated jitter.
    previous_ms: u64,
    /// What the latest retry took from a quota.
    last_cost: u64,
}

impl Retry {
    /// A call's first attempt is under way; `seed` seeds the jitter.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the policy is out of its domain.
    pub fn new(policy: Policy, seed: u64) -> Result<Self, Error> {
        policy.validate()?;
        Ok(Retry {
            policy,
            rng: Rng::seed_from_u64(seed),
            attempts: 1,
            step_ms: policy.backoff.initial_ms,
            previous_ms: policy.backoff.initial_ms,
            last_cost: 0,
        })
    }

    /// Attempts made so far, the one under way included.
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The attempt under way failed with `kind`; the server said
    /// `pushback`. Charges `budget` (if any) and decides. After a
    /// [`Decision::RetryAfter`] the next attempt counts as under way.
    pub fn on_failure(
        &mut self,
        kind: FailureKind,
        pushback: Pushback,
        mut budget: Option<&mut Budget>,
    ) -> Decision {
        if let Some(b) = budget.as_deref_mut() {
            b.on_failure(kind);
        }
        if kind == FailureKind::Permanent {
            return Decision::GiveUp(GiveUp::NotRetryable);
        }
        if pushback == Pushback::Stop {
            return Decision::GiveUp(GiveUp::Pushback);
        }
        if self.attempts >= self.policy.max_attempts {
            return Decision::GiveUp(GiveUp::Attempts);
        }
        if let Some(b) = budget {
            match b.try_retry(kind) {
                Some(cost) => self.last_cost = cost,
                None => return Decision::GiveUp(GiveUp::Budget),
            }
        }
        self.attempts += 1;
        let delay = match pushback {
            Pushback::After(ms) => {
                // The server's delay, exactly; the backoff starts over.
                self.step_ms = self.policy.backoff.initial_ms;
                self.previous_ms = self.policy.backoff.initial_ms;
                ms
            }
            Pushback::None | Pushback::Stop => self.next_delay(),
        };
        Decision::RetryAfter(delay)
    }

    /// The attempt under way succeeded: the budget gets its due.
    pub fn on_success(&mut self, budget: Option<&mut Budget>) {
        if let Some(b) = budget {
            b.on_success(self.last_cost);
        }
    }

    /// The next delay, ms, and the base after it.
    fn next_delay(&mut self) -> u64 {
        let b = self.policy.backoff;
        let base = self.step_ms;
        let delay = match b.jitter {
            Jitter::None => base,
            Jitter::Full => self.rng.between(0, base),
            Jitter::Equal => base / 2 + self.rng.between(0, base - base / 2),
            Jitter::Decorrelated => {
                let high = self.previous_ms.saturating_mul(3).max(b.initial_ms);
                self.rng.between(b.initial_ms, high).min(b.max_ms)
            }
        };
        self.previous_ms = delay;
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let next = (base as f64 * b.multiplier).min(b.max_ms as f64) as u64;
        self.step_ms = next.max(base).min(b.max_ms);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn without_jitter_the_delay_doubles_up_to_the_cap() {
        let policy = Policy {
            max_attempts: 10,
            backoff: Backoff {
                initial_ms: 100,
                max_ms: 1_000,
                multiplier: 2.0,
                jitter: Jitter::None,
            },
        };
        let mut r = Retry::new(policy, 1).unwrap();
        let delays: Vec<_> = (0..9)
            .map(|_| r.on_failure(FailureKind::Transient, Pushback::None, None))
            .collect();
        let ms = |d| Decision::RetryAfter(d);
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000, 1_000].map(ms)
        );
        assert_eq!(
            r.on_failure(FailureKind::Transient, Pushback::None, None),
            Decision::GiveUp(GiveUp::Attempts)
        );
    }

    #[test]
    fn invalid_policies_and_budgets_are_refused() {
        let p = Policy {
            max_attempts: 0,
            ..Policy::default()
        };
        assert!(Retry::new(p, 0).is_err());
        let mut p = Policy::default();
        p.backoff.multiplier = f64::NAN;
        assert!(Retry::new(p, 0).is_err());
        let mut p = Policy::default();
        p.backoff.initial_ms = p.backoff.max_ms + 1;
        assert!(Retry::new(p, 0).is_err());
        assert!(Budget::grpc(0, 0.1).is_err());
        assert!(Budget::grpc(1_001, 0.1).is_err());
        assert!(Budget::grpc(10, 0.0).is_err());
        assert!(Budget::grpc(10, f64::NAN).is_err());
        assert!(Budget::grpc(10, 1_000.5).is_err());
        // gRFC A6 allows a ratio above the tokens; three decimals are kept.
        assert_eq!(Budget::grpc(1, 2.0).unwrap().level(), (1_000, 1_000));
        let mut b = Budget::grpc(10, 1.001).unwrap();
        b.on_failure(FailureKind::Transient);
        b.on_failure(FailureKind::Transient);
        b.on_success(0);
        assert_eq!(b.level(), (9_001, 10_000));
    }
}
