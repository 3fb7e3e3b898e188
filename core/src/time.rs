//! Time as an input: a millisecond instant chosen by the caller.
//!
//! No participant reads a clock. Every input carries the caller's `now`, an
//! [`Instant`] on a monotonic millisecond timeline whose origin the caller picks
//! (process start, a simulator's virtual zero, the Unix epoch). Timeouts are
//! configuration in milliseconds, and deadlines a participant asks for are
//! instants on the same timeline. Arithmetic saturates: a deadline past the end
//! of time is "never", not a panic.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A point on the caller's monotonic millisecond timeline.
///
/// ```
/// use consensio::Instant;
/// let start = Instant::from_millis(1_000);
/// let deadline = start.saturating_add_millis(150);
/// assert_eq!(deadline.as_millis(), 1_150);
/// assert_eq!(deadline.saturating_millis_since(start), 150);
/// assert_eq!(start.saturating_millis_since(deadline), 0);
/// assert_eq!(Instant::MAX.saturating_add_millis(1), Instant::MAX);
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the timeline.
    pub const ZERO: Instant = Instant(0);
    /// The last representable instant; used as "never" by saturating arithmetic.
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `ms` milliseconds after the origin.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the origin.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + ms`, or [`Instant::MAX`] if that is past the end of time.
    #[must_use]
    pub const fn saturating_add_millis(self, ms: u64) -> Self {
        Instant(self.0.saturating_add(ms))
    }

    /// `self + ms`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add_millis(self, ms: u64) -> Option<Self> {
        match self.0.checked_add(ms) {
            Some(t) => Some(Instant(t)),
            None => None,
        }
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    #[must_use]
    pub const fn saturating_millis_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
