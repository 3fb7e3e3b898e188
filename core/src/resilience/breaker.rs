//! A circuit breaker after resilience4j's `CircuitBreaker` (its documented
//! state machine, configuration and defaults).
//!
//! ```text
//!            failure or slow-call rate ≥ threshold
//!            (once the window holds the minimum calls)
//!   CLOSED ─────────────────────────────────────────▶ OPEN
//!     ▲                                               │ wait elapsed
//!     │  the N trials' rates below the thresholds      ▼ (at the next call or tick)
//!     └──────────────────────────────────────────── HALF_OPEN
//!                   rates at or above, or the half-open wait elapsed ──▶ OPEN
//!
//!   DISABLED (always admits, records nothing), FORCED_OPEN (always refuses),
//!   METRICS_ONLY (admits and records, never trips): entered and left only
//!   on the caller's order.
//! ```
//!
//! A call asks for a [`Permit`] with [`CircuitBreaker::try_acquire`] and
//! reports how it went with [`CircuitBreaker::on_result`]: its
//! [`Outcome`] (the caller classifies: a failure counts against the
//! server, an ignored result counts for nothing, as a client error or a
//! cancelled call should) and, from the permit's time, its duration, which
//! makes it slow above [`Config::slow_call_duration_ms`].
//!
//! # The caller's duties
//!
//! Report every permit exactly once (a cancelled call as
//! [`Outcome::Ignored`], which also frees its half-open trial slot), with
//! times from one monotonic clock, in milliseconds (a time earlier than
//! one already given counts as that one: a clock that went back is treated
//! as not moving). A permit is not `Clone`,
//! so safe Rust cannot report one twice; the C and Python surfaces check
//! what they can ([`Error::UnknownPermit`]): a half-open trial holds a slot
//! until it is reported, so a trial reported twice, or made up, is refused
//! and HALF_OPEN never counts more than its N trials.
//!
//! # Where it differs from resilience4j
//!
//! A result counts only in the state period its permit was issued in: a
//! call admitted while CLOSED that ends after the breaker opened, or one
//! from before a recovery, is counted as stale and changes nothing
//! (resilience4j records it in the state it finds, so a late success from
//! before an opening can count as a half-open trial). Transitions that
//! time drives (OPEN to HALF_OPEN, and HALF_OPEN to OPEN when
//! [`Config::max_wait_in_half_open_ms`] is set) happen at the first call or
//! [`tick`](CircuitBreaker::tick) at or after their deadline
//! ([`next_deadline`](CircuitBreaker::next_deadline) says when), which is
//! resilience4j's behaviour with its automatic transition either off (no
//! ticks) or on (ticks at the deadline).
//!
//! # Memory
//!
//! The window is allocated once, at construction: two bits per call for a
//! count-based window of up to [`MAX_WINDOW_CALLS`], one bucket per second
//! for a time-based window of up to [`MAX_WINDOW_SECONDS`]. Asking for a
//! permit and recording a result allocate nothing and take constant time
//! (a time-based window clears at most one bucket per elapsed second, and
//! all of them at once after a whole window of silence).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use super::Error;
use crate::Instant;
use crate::error::{Classify, ErrorKind};

/// The largest count-based window, in calls.
pub const MAX_WINDOW_CALLS: u32 = 1 << 20;
/// The largest time-based window, in seconds (one day).
pub const MAX_WINDOW_SECONDS: u32 = 86_400;
/// Transitions kept for [`CircuitBreaker::poll_transition`]; older ones are
/// dropped (and counted) when the caller does not poll.
pub const MAX_PENDING_TRANSITIONS: usize = 8;

/// The sliding window over which rates are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last this many calls.
    Count(u32),
    /// The calls of the last this many seconds, in one-second buckets.
    Time(u32),
}

/// How long the breaker stays OPEN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OpenWait {
    /// Always this long, ms.
    Fixed(u64),
    /// `initial_ms` at the first opening, multiplied by `multiplier` at
    /// each consecutive one (an opening from HALF_OPEN), capped at
    /// `max_ms`; back to `initial_ms` once the breaker closes.
    Exponential {
        /// The first wait, ms.
        initial_ms: u64,
        /// The factor between consecutive waits (at least 1).
        multiplier: f64,
        /// The longest wait, ms.
        max_ms: u64,
    },
}

/// A breaker's configuration; [`Config::default`] is resilience4j's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Open at this failure rate or above, percent, in `(0, 100]`
    /// (default 50).
    pub failure_rate_threshold: f32,
    /// Open at this slow-call rate or above, percent, in `(0, 100]`
    /// (default 100).
    pub slow_call_rate_threshold: f32,
    /// A call longer than this is slow, ms (default 60,000).
    pub slow_call_duration_ms: u64,
    /// Trial calls admitted in HALF_OPEN, 1 to [`MAX_HALF_OPEN_TRIALS`]
    /// (default 10).
    pub permitted_calls_in_half_open: u32,
    /// Back to OPEN if the trials have not all reported after this long in
    /// HALF_OPEN, ms; 0 waits for them however long (default 0).
    pub max_wait_in_half_open_ms: u64,
    /// The sliding window (default the last 100 calls).
    pub window: Window,
    /// No rate counts before the window holds this many calls, at least 1
    /// (default 100). A count-based window's size caps it.
    pub minimum_calls: u32,
    /// How long to stay OPEN, at least 1 ms (default 60 s, fixed).
    pub open_wait: OpenWait,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_ms: 60_000,
            permitted_calls_in_half_open: 10,
            max_wait_in_half_open_ms: 0,
            window: Window::Count(100),
            minimum_calls: 100,
            open_wait: OpenWait::Fixed(60_000),
        }
    }
}

impl Config {
    /// Checks every field against its domain.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field out of its domain.
    pub fn validate(&self) -> Result<(), Error> {
        let percent = |p: f32| p > 0.0 && p <= 100.0;
        if !percent(self.failure_rate_threshold) {
            return Err(Error::InvalidConfig(
                "failure_rate_threshold must be in (0, 100]",
            ));
        }
        if !percent(self.slow_call_rate_threshold) {
            return Err(Error::InvalidConfig(
                "slow_call_rate_threshold must be in (0, 100]",
            ));
        }
        if self.permitted_calls_in_half_open == 0
            || self.permitted_calls_in_half_open > MAX_HALF_OPEN_TRIALS
        {
            return Err(Error::InvalidConfig(
                "permitted_calls_in_half_open must be in 1..=MAX_HALF_OPEN_TRIALS",
            ));
        }
        if self.minimum_calls == 0 {
            return Err(Error::InvalidConfig("minimum_calls must be at least 1"));
        }
        match self.window {
            Window::Count(n) if n == 0 || n > MAX_WINDOW_CALLS => {
                return Err(Error::InvalidConfig(
                    "a count window holds 1 to MAX_WINDOW_CALLS calls",
                ));
            }
            Window::Time(s) if s == 0 || s > MAX_WINDOW_SECONDS => {
                return Err(Error::InvalidConfig(
                    "a time window spans 1 to MAX_WINDOW_SECONDS seconds",
                ));
            }
            _ => {}
        }
        let first_wait = match self.open_wait {
            OpenWait::Fixed(ms) | OpenWait::Exponential { initial_ms: ms, .. } => ms,
        };
        if first_wait == 0 {
            // OPEN must last: a zero wait would be HALF_OPEN at once.
            return Err(Error::InvalidConfig("the open wait must be at least 1 ms"));
        }
        if let OpenWait::Exponential {
            initial_ms,
            multiplier,
            max_ms,
        } = self.open_wait
        {
            if !(1.0..=1_000.0).contains(&multiplier) || initial_ms > max_ms {
                return Err(Error::InvalidConfig(
                    "an exponential open wait needs 1 <= multiplier <= 1000 and initial_ms <= max_ms",
                ));
            }
        }
        Ok(())
    }

    /// The minimum calls as the window can hold them.
    fn effective_minimum(&self) -> u32 {
        match self.window {
            Window::Count(n) => self.minimum_calls.min(n),
            Window::Time(_) => self.minimum_calls,
        }
    }

    fn first_wait(&self) -> u64 {
        match self.open_wait {
            OpenWait::Fixed(ms) => ms,
            OpenWait::Exponential { initial_ms, .. } => initial_ms,
        }
    }

    fn wait_after(&self, wait: u64) -> u64 {
        match self.open_wait {
            OpenWait::Fixed(ms) => ms,
            OpenWait::Exponential {
                multiplier, max_ms, ..
            } => {
                #[allow(
                    clippy::cast_precision_loss,
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss
                )]
                let next = (wait as f64 * multiplier).min(max_ms as f64) as u64;
                next.clamp(wait, max_ms.max(wait))
            }
        }
    }
}

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and are recorded.
    Closed,
    /// Calls are refused until the wait ends.
    Open,
    /// A fixed number of trial calls pass; their results decide.
    HalfOpen,
    /// Calls pass; nothing is recorded and the state never changes on its
    /// own.
    Disabled,
    /// Calls are refused until the caller changes the state.
    ForcedOpen,
    /// Calls pass and are recorded, but the state never changes on its own.
    MetricsOnly,
}

impl State {
    /// Every state, in the order the C surface numbers them.
    pub const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Disabled,
        State::ForcedOpen,
        State::MetricsOnly,
    ];
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "CLOSED",
            State::Open => "OPEN",
            State::HalfOpen => "HALF_OPEN",
            State::Disabled => "DISABLED",
            State::ForcedOpen => "FORCED_OPEN",
            State::MetricsOnly => "METRICS_ONLY",
        })
    }
}

/// How a call went, as the caller classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It succeeded (it may still be slow).
    Success,
    /// It failed in a way that counts against the server.
    Failure,
    /// It counts for nothing: a client error, a cancelled call.
    Ignored,
}

/// Leave to make one call: report it with [`CircuitBreaker::on_result`].
#[derive(Debug, PartialEq, Eq)]
pub struct Permit {
    at: Instant,
    period: u64,
    /// A half-open trial's slot; [`NOT_A_TRIAL`] otherwise.
    slot: u32,
}

/// The slot of a permit that is not a half-open trial.
pub const NOT_A_TRIAL: u32 = u32::MAX;

/// The most trial calls HALF_OPEN admits (each holds a slot of a 64-bit set,
/// so that every trial is reported at most once).
pub const MAX_HALF_OPEN_TRIALS: u32 = 64;

impl Permit {
    /// When the permit was issued.
    #[must_use]
    pub const fn issued_at(&self) -> Instant {
        self.at
    }

    /// The permit as three numbers (its time in ms, its state period and
    /// its trial slot), for surfaces that hand it to a foreign caller.
    #[must_use]
    pub const fn to_raw(&self) -> (u64, u64, u32) {
        (self.at.as_millis(), self.period, self.slot)
    }

    /// A permit back from [`to_raw`](Self::to_raw). The breaker checks
    /// what it can when it is reported: a period it never reached, or a
    /// trial slot not out, is [`Error::UnknownPermit`].
    #[must_use]
    pub const fn from_raw(at_ms: u64, period: u64, slot: u32) -> Self {
        Permit {
            at: Instant::from_millis(at_ms),
            period,
            slot,
        }
    }
}

/// A call the breaker refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallNotPermitted {
    /// The state that refused it.
    pub state: State,
    /// When OPEN, how long until the breaker admits trial calls, ms.
    pub retry_after_ms: Option<u64>,
}

impl fmt::Display for CallNotPermitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the circuit breaker is {}", self.state)?;
        match (self.state, self.retry_after_ms) {
            (_, Some(ms)) => write!(f, "; trial calls in {ms} ms"),
            (State::HalfOpen, None) => f.write_str("; its trial calls are all out"),
            _ => Ok(()),
        }
    }
}

impl core::error::Error for CallNotPermitted {}

impl Classify for CallNotPermitted {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Rejected
    }
}

/// What [`CircuitBreaker::on_result`] did with a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// It counts.
    Counted,
    /// Ignored by the caller's classification (or the breaker is DISABLED).
    Ignored,
    /// Its permit is from an earlier state period: it changes nothing.
    Stale,
}

/// A change of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When, by the caller's clock.
    pub at: Instant,
}

/// What the window holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Calls recorded in the window (the trials, in HALF_OPEN).
    pub calls: u64,
    /// Of them, failed.
    pub failed: u64,
    /// Of them, slow (failed or not).
    pub slow: u64,
    /// The failure rate, percent, once the window holds the minimum calls.
    pub failure_rate: Option<f32>,
    /// The slow-call rate, percent, likewise.
    pub slow_call_rate: Option<f32>,
    /// Calls refused since the breaker was made.
    pub not_permitted: u64,
    /// Results reported with a permit of an earlier state period.
    pub stale: u64,
}

/// Counts of calls, failures and slow calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    calls: u64,
    failed: u64,
    slow: u64,
}

impl Tally {
    /// Whether these counts trip the breaker, once `minimum` calls count.
    #[inline]
    fn trips(&self, config: &Config, minimum: u32) -> bool {
        if self.failed == 0 && self.slow == 0 {
            // Both rates are 0, below any threshold (which is above 0).
            return false;
        }
        let (failure, slow) = self.rates(minimum);
        failure.is_some_and(|r| r >= config.failure_rate_threshold)
            || slow.is_some_and(|r| r >= config.slow_call_rate_threshold)
    }

    fn rates(&self, minimum: u32) -> (Option<f32>, Option<f32>) {
        if self.calls == 0 || self.calls < u64::from(minimum) {
            return (None, None);
        }
        #[allow(clippy::cast_precision_loss)]
        let rate = |n: u64| (n as f64 * 100.0 / self.calls as f64) as f32;
        (Some(rate(self.failed)), Some(rate(self.slow)))
    }
}

/// The last `size` calls, two bits each (failed, slow), 32 to a word.
#[derive(Clone, Debug)]
struct CountWindow {
    bits: Vec<u64>,
    size: u32,
    next: u32,
    tally: Tally,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            bits: vec![0; size.div_ceil(32) as usize],
            size,
            next: 0,
            tally: Tally::default(),
        }
    }

    /// Records a call and returns the counts after it (computed in locals
    /// and stored once: reading back fields just stored one by one stalls).
    #[inline]
    fn record(&mut self, failed: bool, slow: bool) -> Tally {
        let mut tally = self.tally;
        let shift = (self.next % 32) * 2;
        if let Some(word) = self.bits.get_mut((self.next / 32) as usize) {
            let old = (*word >> shift) & 0b11;
            if tally.calls == u64::from(self.size) {
                // The oldest call, in this slot, leaves the window.
                tally.failed -= old & 1;
                tally.slow -= old >> 1;
            } else {
                tally.calls += 1;
            }
            let new = u64::from(failed) | u64::from(slow) << 1;
            *word ^= (old ^ new) << shift;
            tally.failed += u64::from(failed);
            tally.slow += u64::from(slow);
        }
        self.tally = tally;
        self.next += 1;
        if self.next == self.size {
            self.next = 0;
        }
        tally
    }

    fn reset(&mut self) {
        self.bits.fill(0);
        self.next = 0;
        self.tally = Tally::default();
    }
}

/// One second of a time-based window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    second: u64,
    calls: u32,
    failed: u32,
    slow: u32,
}

/// The calls of the last `buckets.len()` seconds.
#[derive(Clone, Debug)]
struct TimeWindow {
    buckets: Vec<Bucket>,
    /// The latest second seen; the window is `(head - len, head]`.
    head: u64,
    tally: Tally,
}

impl TimeWindow {
    fn new(seconds: u32) -> Self {
        TimeWindow {
            buckets: vec![Bucket::default(); seconds as usize],
            head: 0,
            tally: Tally::default(),
        }
    }

    fn slot(&self, second: u64) -> usize {
        // The remainder is below the length, which is a usize.
        #[allow(clippy::cast_possible_truncation)]
        let slot = (second % self.buckets.len() as u64) as usize;
        slot
    }

    /// Moves the window's end to `now`'s second, dropping the seconds that
    /// left it. A clock that went back changes nothing.
    fn advance(&mut self, now: Instant) {
        let second = now.as_millis() / 1_000;
        if second <= self.head {
            return;
        }
        let len = self.buckets.len() as u64;
        if second - self.head >= len {
            self.buckets.fill(Bucket::default());
            self.tally = Tally::default();
        } else {
            for s in self.head + 1..=second {
                let slot = self.slot(s);
                if let Some(b) = self.buckets.get_mut(slot) {
                    self.tally.calls -= u64::from(b.calls);
                    self.tally.failed -= u64::from(b.failed);
                    self.tally.slow -= u64::from(b.slow);
                    *b = Bucket::default();
                }
            }
        }
        self.head = second;
    }

    /// Records a call and returns the counts after it (see
    /// [`CountWindow::record`] on why a local copy).
    #[inline]
    fn record(&mut self, now: Instant, failed: bool, slow: bool) -> Tally {
        self.advance(now);
        let slot = self.slot(self.head);
        let head = self.head;
        let mut tally = self.tally;
        // A bucket full at u32::MAX calls in one second takes no more; the
        // tally stays the sum of the buckets.
        if let Some(b) = self.buckets.get_mut(slot)
            && b.calls < u32::MAX
        {
            b.second = head;
            b.calls += 1;
            b.failed += u32::from(failed);
            b.slow += u32::from(slow);
            tally.calls += 1;
            tally.failed += u64::from(failed);
            tally.slow += u64::from(slow);
        }
        self.tally = tally;
        tally
    }

    fn reset(&mut self) {
        self.buckets.fill(Bucket::default());
        self.tally = Tally::default();
    }
}

#[derive(Clone, Debug)]
enum Store {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Store {
    fn new(window: Window) -> Self {
        match window {
            Window::Count(n) => Store::Count(CountWindow::new(n)),
            Window::Time(s) => Store::Time(TimeWindow::new(s)),
        }
    }

    /// Records a call and returns the window's counts after it.
    #[inline]
    fn record(&mut self, now: Instant, failed: bool, slow: bool) -> Tally {
        match self {
            Store::Count(w) => w.record(failed, slow),
            Store::Time(w) => w.record(now, failed, slow),
        }
    }

    fn tally(&mut self, now: Instant) -> Tally {
        match self {
            Store::Count(w) => w.tally,
            Store::Time(w) => {
                w.advance(now);
                w.tally
            }
        }
    }

    fn reset(&mut self) {
        match self {
            Store::Count(w) => w.reset(),
            Store::Time(w) => w.reset(),
        }
    }
}

/// A circuit breaker; see the [module documentation](self).
///
/// ```
/// use consensio::Instant;
/// use consensio::resilience::breaker::{CircuitBreaker, Config, Outcome, State, Window};
///
/// let config = Config {
///     window: Window::Count(10),
///     minimum_calls: 4,
///     open_wait: consensio::resilience::breaker::OpenWait::Fixed(1_000),
///     permitted_calls_in_half_open: 2,
///     ..Config::default()
/// };
/// let mut breaker = CircuitBreaker::new(config)?;
/// let t = Instant::from_millis;
/// for (i, outcome) in [Outcome::Success, Outcome::Failure, Outcome::Failure, Outcome::Success]
///     .into_iter()
///     .enumerate()
/// {
///     let permit = breaker.try_acquire(t(i as u64)).unwrap();
///     breaker.on_result(t(i as u64 + 1), permit, outcome)?;
/// }
/// // Two failures in four calls: 50%, the default threshold.
/// assert_eq!(breaker.state(), State::Open);
/// assert_eq!(breaker.try_acquire(t(500)).unwrap_err().retry_after_ms, Some(504));
/// // After the wait, exactly two trial calls pass.
/// let a = breaker.try_acquire(t(1_004)).unwrap();
/// let b = breaker.try_acquire(t(1_004)).unwrap();
/// assert!(breaker.try_acquire(t(1_004)).is_err());
/// breaker.on_result(t(1_010), a, Outcome::Success)?;
/// breaker.on_result(t(1_010), b, Outcome::Success)?;
/// assert_eq!(breaker.state(), State::Closed);
/// # Ok::<(), consensio::resilience::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    config: Config,
    /// The latest time given: an earlier one counts as this (a clock that
    /// went back is treated as not moving).
    clock: Instant,
    state: State,
    /// Incremented at every transition: a permit belongs to one period.
    period: u64,
    store: Store,
    /// OPEN: when trial calls may start.
    open_until: Instant,
    /// The wait of the latest opening; grows across consecutive openings.
    wait_ms: u64,
    /// HALF_OPEN: when it began, the trials issued and their results.
    half_open_since: Instant,
    /// HALF_OPEN: the trial slots out, not yet reported.
    trials_out: u64,
    trials: Tally,
    not_permitted: u64,
    stale: u64,
    /// Pending transitions, oldest first, in a ring.
    transitions: [Option<Transition>; MAX_PENDING_TRANSITIONS],
    first_transition: usize,
    transitions_dropped: u64,
}

impl CircuitBreaker {
    /// A CLOSED breaker.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the configuration is out of its domain.
    pub fn new(config: Config) -> Result<Self, Error> {
        config.validate()?;
        Ok(CircuitBreaker {
            config,
            clock: Instant::ZERO,
            state: State::Closed,
            period: 0,
            store: Store::new(config.window),
            open_until: Instant::ZERO,
            wait_ms: config.first_wait(),
            half_open_since: Instant::ZERO,
            trials_out: 0,
            trials: Tally::default(),
            not_permitted: 0,
            stale: 0,
            transitions: [None; MAX_PENDING_TRANSITIONS],
            first_transition: 0,
            transitions_dropped: 0,
        })
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The state as of the last call (time-driven transitions wait for
    /// the next [`try_acquire`](Self::try_acquire) or [`tick`](Self::tick)).
    #[must_use]
    pub const fn state(&self) -> State {
        self.state
    }

    /// Asks leave for one call at `now`.
    ///
    /// # Errors
    /// [`CallNotPermitted`] when OPEN (with the time left), FORCED_OPEN, or
    /// HALF_OPEN with every trial call out.
    #[inline]
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, CallNotPermitted> {
        let now = self.observe(now);
        self.tick(now);
        let mut permit = Permit {
            at: now,
            period: self.period,
            slot: NOT_A_TRIAL,
        };
        let out = u64::from(self.trials_out.count_ones());
        let refused = match self.state {
            State::Closed | State::Disabled | State::MetricsOnly => return Ok(permit),
            State::HalfOpen
                if self.trials.calls + out
                    < u64::from(self.config.permitted_calls_in_half_open) =>
            {
                // The lowest free slot: fewer than 64 are out.
                let slot = self.trials_out.trailing_ones();
                self.trials_out |= 1 << slot;
                permit.slot = slot;
                return Ok(permit);
            }
            State::Open => CallNotPermitted {
                state: State::Open,
                retry_after_ms: Some(self.open_until.saturating_millis_since(now)),
            },
            state => CallNotPermitted {
                state,
                retry_after_ms: None,
            },
        };
        self.not_permitted = self.not_permitted.saturating_add(1);
        Err(refused)
    }

    /// Reports how the call of `permit` went, at `now`.
    ///
    /// # Errors
    /// [`Error::UnknownPermit`] for a permit of a state period this breaker
    /// has not reached, or a half-open trial it did not issue; the breaker
    /// is unchanged.
    pub fn on_result(
        &mut self,
        now: Instant,
        permit: Permit,
        outcome: Outcome,
    ) -> Result<Recorded, Error> {
        if permit.period > self.period {
            return Err(Error::UnknownPermit);
        }
        let trial_out =
            permit.slot < MAX_HALF_OPEN_TRIALS && self.trials_out & (1 << permit.slot) != 0;
        if permit.period == self.period && self.state == State::HalfOpen && !trial_out {
            return Err(Error::UnknownPermit);
        }
        let now = self.observe(now);
        self.tick(now);
        if permit.period != self.period {
            self.stale = self.stale.saturating_add(1);
            return Ok(Recorded::Stale);
        }
        let failed = outcome == Outcome::Failure;
        // Slow strictly above the threshold, as resilience4j counts.
        let slow = now.saturating_millis_since(permit.at) > self.config.slow_call_duration_ms;
        match (self.state, outcome) {
            (State::HalfOpen, Outcome::Ignored) => {
                // The trial slot is free for another call.
                self.trials_out &= !(1 << permit.slot);
                Ok(Recorded::Ignored)
            }
            (State::Disabled, _) | (_, Outcome::Ignored) => Ok(Recorded::Ignored),
            (State::HalfOpen, _) => {
                self.trials_out &= !(1 << permit.slot);
                self.trials.calls += 1;
                self.trials.failed += u64::from(failed);
                self.trials.slow += u64::from(slow);
                let n = self.config.permitted_calls_in_half_open;
                if self.trials.calls == u64::from(n) {
                    let to = if self.trials.trips(&self.config, n) {
                        State::Open
                    } else {
                        State::Closed
                    };
                    self.transition(to, now);
                }
                Ok(Recorded::Counted)
            }
            (State::Closed | State::MetricsOnly, _) => {
                let tally = self.store.record(now, failed, slow);
                if self.state == State::Closed
                    && tally.trips(&self.config, self.config.effective_minimum())
                {
                    self.transition(State::Open, now);
                }
                Ok(Recorded::Counted)
            }
            // No permit is issued in these states, so none is of their period.
            (State::Open | State::ForcedOpen, _) => Ok(Recorded::Stale),
        }
    }

    /// Applies the transitions time drives: OPEN to HALF_OPEN once the wait
    /// is over, HALF_OPEN back to OPEN once the half-open wait is.
    #[inline]
    pub fn tick(&mut self, now: Instant) {
        let now = self.observe(now);
        match self.state {
            State::Open if now >= self.open_until => self.transition(State::HalfOpen, now),
            State::HalfOpen
                if self.config.max_wait_in_half_open_ms > 0
                    && now.saturating_millis_since(self.half_open_since)
                        >= self.config.max_wait_in_half_open_ms =>
            {
                self.transition(State::Open, now);
            }
            _ => {}
        }
    }

    /// When time next changes the state by itself, if it will.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Open => Some(self.open_until),
            State::HalfOpen if self.config.max_wait_in_half_open_ms > 0 => Some(
                self.half_open_since
                    .saturating_add_millis(self.config.max_wait_in_half_open_ms),
            ),
            _ => None,
        }
    }

    /// Moves to `to` on the caller's order (resilience4j's
    /// `transitionTo...State`), with a fresh window; a no-op if already
    /// there. Moving to OPEN counts as an opening.
    pub fn transition_to(&mut self, to: State, now: Instant) {
        let now = self.observe(now);
        if to != self.state {
            self.transition(to, now);
        }
    }

    /// Back to CLOSED with an empty window and the first open wait, as new
    /// (resilience4j's `reset`); pending transitions and the refusal count
    /// stay.
    pub fn reset(&mut self, now: Instant) {
        let now = self.observe(now);
        self.transition(State::Closed, now);
    }

    /// What the window holds, as of `now`.
    pub fn metrics(&mut self, now: Instant) -> Metrics {
        let now = self.observe(now);
        let (tally, minimum) = if self.state == State::HalfOpen {
            (self.trials, self.config.permitted_calls_in_half_open)
        } else {
            (self.store.tally(now), self.config.effective_minimum())
        };
        let (failure_rate, slow_call_rate) = tally.rates(minimum);
        Metrics {
            calls: tally.calls,
            failed: tally.failed,
            slow: tally.slow,
            failure_rate,
            slow_call_rate,
            not_permitted: self.not_permitted,
            stale: self.stale,
        }
    }

    /// The oldest transition not yet polled.
    pub fn poll_transition(&mut self) -> Option<Transition> {
        let slot = self.transitions.get_mut(self.first_transition)?;
        let t = slot.take()?;
        self.first_transition = (self.first_transition + 1) % MAX_PENDING_TRANSITIONS;
        Some(t)
    }

    /// Transitions dropped because [`MAX_PENDING_TRANSITIONS`] were pending.
    #[must_use]
    pub const fn transitions_dropped(&self) -> u64 {
        self.transitions_dropped
    }

    /// `now`, or the latest time seen if that is later.
    #[inline]
    fn observe(&mut self, now: Instant) -> Instant {
        self.clock = self.clock.max(now);
        self.clock
    }

    fn transition(&mut self, to: State, now: Instant) {
        let from = self.state;
        self.state = to;
        self.period = self.period.saturating_add(1);
        match to {
            State::Open => {
                // An opening from HALF_OPEN follows another: the wait grows.
                if from == State::HalfOpen {
                    self.wait_ms = self.config.wait_after(self.wait_ms);
                } else {
                    self.wait_ms = self.config.first_wait();
                }
                self.open_until = now.saturating_add_millis(self.wait_ms);
            }
            State::HalfOpen => {
                self.half_open_since = now;
                self.trials_out = 0;
                self.trials = Tally::default();
            }
            State::Closed | State::Disabled | State::MetricsOnly | State::ForcedOpen => {
                self.wait_ms = self.config.first_wait();
            }
        }
        self.store.reset();
        self.push_transition(Transition { from, to, at: now });
    }

    fn push_transition(&mut self, t: Transition) {
        let pending = self.transitions.iter().filter(|t| t.is_some()).count();
        if pending == MAX_PENDING_TRANSITIONS {
            // Drop the oldest.
            self.poll_transition();
            self.transitions_dropped = self.transitions_dropped.saturating_add(1);
        }
        let slot = (self.first_transition + pending.min(MAX_PENDING_TRANSITIONS - 1))
            % MAX_PENDING_TRANSITIONS;
        if let Some(s) = self.transitions.get_mut(slot) {
            *s = Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn breaker(window: Window, minimum: u32) -> CircuitBreaker {
        CircuitBreaker::new(Config {
            window,
            minimum_calls: minimum,
            permitted_calls_in_half_open: 3,
            open_wait: OpenWait::Fixed(1_000),
            slow_call_duration_ms: 100,
            ..Config::default()
        })
        .unwrap()
    }

    fn call(b: &mut CircuitBreaker, at: u64, took: u64, outcome: Outcome) -> Recorded {
        let p = b.try_acquire(t(at)).unwrap();
        b.on_result(t(at + took), p, outcome).unwrap()
    }

    #[test]
    fn the_count_window_forgets_the_call_that_leaves_it() {
        let mut w = CountWindow::new(3);
        for (f, s) in [(true, false), (false, true), (false, false)] {
            w.record(f, s);
        }
        assert_eq!((w.tally.calls, w.tally.failed, w.tally.slow), (3, 1, 1));
        w.record(false, false); // the failure leaves
        assert_eq!((w.tally.calls, w.tally.failed, w.tally.slow), (3, 0, 1));
        w.record(false, false); // the slow call leaves
        assert_eq!((w.tally.calls, w.tally.failed, w.tally.slow), (3, 0, 0));
    }

    #[test]
    fn the_count_window_works_across_word_boundaries() {
        let mut w = CountWindow::new(130);
        for i in 0..400u32 {
            w.record(i % 3 == 0, i % 5 == 0);
        }
        let (failed, slow) = (270..400u32).fold((0, 0), |(f, s), i| {
            (f + u64::from(i % 3 == 0), s + u64::from(i % 5 == 0))
        });
        assert_eq!(
            (w.tally.calls, w.tally.failed, w.tally.slow),
            (130, failed, slow)
        );
    }

    #[test]
    fn a_time_bucket_leaves_the_window_when_its_second_does() {
        let mut w = TimeWindow::new(3);
        w.record(t(500), true, false);
        w.record(t(1_500), false, true);
        w.record(t(2_999), false, false);
        assert_eq!(w.tally.calls, 3);
        w.advance(t(3_000)); // second 0 leaves
        assert_eq!((w.tally.calls, w.tally.failed, w.tally.slow), (2, 0, 1));
        w.advance(t(10_000)); // everything leaves at once
        assert_eq!(w.tally, Tally::default());
        // A clock that went back records into the newest second.
        w.record(t(9_000), true, false);
        assert_eq!((w.tally.calls, w.tally.failed), (1, 1));
    }

    #[test]
    fn an_unknown_permit_is_refused_and_changes_nothing() {
        let mut b = breaker(Window::Count(10), 10);
        let forged = Permit::from_raw(0, 7, NOT_A_TRIAL);
        assert_eq!(
            b.on_result(t(1), forged, Outcome::Failure),
            Err(Error::UnknownPermit)
        );
        assert_eq!(b.metrics(t(1)).calls, 0);
    }

    #[test]
    fn pending_transitions_are_bounded_and_the_oldest_dropped() {
        let mut b = breaker(Window::Count(10), 10);
        for i in 0..20u64 {
            let to = if i % 2 == 0 {
                State::ForcedOpen
            } else {
                State::Closed
            };
            b.transition_to(to, t(i));
        }
        assert_eq!(b.transitions_dropped(), 12);
        let kept: Vec<_> = core::iter::from_fn(|| b.poll_transition()).collect();
        assert_eq!(kept.len(), MAX_PENDING_TRANSITIONS);
        assert_eq!(kept.first().unwrap().at, t(12));
        assert_eq!(kept.last().unwrap().at, t(19));
        assert!(b.poll_transition().is_none());
        let _ = call(&mut b, 30, 1, Outcome::Success);
    }
}
