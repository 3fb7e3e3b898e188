//! Hybrid logical clocks (Kulkarni, Demirbas, Madappa, Avva, Leone:
//! "Logical Physical Clocks", OPODIS 2014, Figure 5).
//!
//! A timestamp is `(l, c)`: `l` is the largest physical time the node has
//! heard of, `c` a counter that orders events sharing the same `l`. The
//! paper's guarantees, which the tests check: timestamps grow with every
//! event, respect causality (`e → f ⇒ hlc(e) < hlc(f)`), and `l` stays
//! within the clock-synchronisation error of physical time.
//!
//! The paper assumes clocks synchronised to within ε. A node that accepted
//! any remote `l` could be dragged arbitrarily far into the future by one bad
//! clock or one malicious peer, and never recover; so, as CockroachDB does,
//! [`HybridLogicalClock::receive`] rejects a timestamp more than
//! `max_offset_ms` ahead of local physical time with
//! [`Error::RemoteTooFarAhead`], leaving the clock untouched.
//!
//! Physical time is the caller's [`Instant`]; for timestamps to be
//! comparable across nodes, all nodes must use the same epoch (Unix
//! milliseconds, typically).

use core::fmt;

use serde::{Deserialize, Serialize};

use super::Error;
use crate::time::Instant;
use crate::wire::{WireMessage, kind};

/// A hybrid timestamp: physical part `wall_ms` (the paper's `l`), then
/// `logical` (the paper's `c`). Ordered lexicographically.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct HlcTimestamp {
    /// The largest physical time known when the event happened, in ms.
    pub wall_ms: u64,
    /// Orders events that share `wall_ms`.
    pub logical: u32,
}

impl fmt::Display for HlcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.wall_ms, self.logical)
    }
}

impl WireMessage for HlcTimestamp {
    const KIND: u8 = kind::HLC_TIMESTAMP;
}

/// A node's hybrid logical clock.
///
/// ```
/// use consensio::Instant;
/// use consensio::clock::{self, HlcTimestamp, HybridLogicalClock};
///
/// let mut a = HybridLogicalClock::new(500);
/// let mut b = HybridLogicalClock::new(500);
/// let sent = a.now(Instant::from_millis(1_000))?;
/// // b's physical clock lags behind a's: it still orders after the message.
/// let got = b.receive(Instant::from_millis(990), sent)?;
/// assert!(got > sent);
/// assert_eq!(got, HlcTimestamp { wall_ms: 1_000, logical: 1 });
///
/// let far = HlcTimestamp { wall_ms: 2_000, logical: 0 };
/// assert!(matches!(
///     b.receive(Instant::from_millis(1_000), far),
///     Err(clock::Error::RemoteTooFarAhead { .. })
/// ));
/// # Ok::<(), clock::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HybridLogicalClock {
    last: HlcTimestamp,
    max_offset_ms: u64,
}

impl HybridLogicalClock {
    /// A clock that rejects remote timestamps more than `max_offset_ms` ahead
    /// of local physical time.
    #[must_use]
    pub const fn new(max_offset_ms: u64) -> Self {
        HybridLogicalClock {
            last: HlcTimestamp {
                wall_ms: 0,
                logical: 0,
            },
            max_offset_ms,
        }
    }

    /// A clock restored with `last` as its latest timestamp (persist the
    /// latest timestamp, or an upper bound of it, to stay monotonic across
    /// restarts).
    #[must_use]
    pub const fn restored(last: HlcTimestamp, max_offset_ms: u64) -> Self {
        HybridLogicalClock {
            last,
            max_offset_ms,
        }
    }

    /// The latest timestamp issued.
    #[must_use]
    pub const fn last(&self) -> HlcTimestamp {
        self.last
    }

    /// The configured maximum offset.
    #[must_use]
    pub const fn max_offset_ms(&self) -> u64 {
        self.max_offset_ms
    }

    /// A local or send event at physical time `pt`: returns its timestamp.
    ///
    /// # Errors
    /// [`Error::Overflow`] if `logical` would pass `u32::MAX` (physical
    /// time stood still for four billion events); the clock is unchanged.
    pub fn now(&mut self, pt: Instant) -> Result<HlcTimestamp, Error> {
        let wall_ms = self.last.wall_ms.max(pt.as_millis());
        let logical = if wall_ms == self.last.wall_ms {
            self.last.logical.checked_add(1).ok_or(Error::Overflow)?
        } else {
            0
        };
        self.last = HlcTimestamp { wall_ms, logical };
        Ok(self.last)
    }

    /// A receive event at physical time `pt` of a message stamped `remote`:
    /// returns the receive event's timestamp.
    ///
    /// # Errors
    /// [`Error::RemoteTooFarAhead`] if `remote.wall_ms` exceeds
    /// `pt + max_offset_ms`; [`Error::Overflow`] as for
    /// [`now`](Self::now). Either way the clock is unchanged.
    pub fn receive(&mut self, pt: Instant, remote: HlcTimestamp) -> Result<HlcTimestamp, Error> {
        let local_ms = pt.as_millis();
        if remote.wall_ms > local_ms.saturating_add(self.max_offset_ms) {
            return Err(Error::RemoteTooFarAhead {
                remote_ms: remote.wall_ms,
                local_ms,
                max_offset_ms: self.max_offset_ms,
            });
        }
        let last = self.last;
        let wall_ms = last.wall_ms.max(remote.wall_ms).max(local_ms);
        let logical = if wall_ms == last.wall_ms && wall_ms == remote.wall_ms {
            last.logical.max(remote.logical).checked_add(1)
        } else if wall_ms == last.wall_ms {
            last.logical.checked_add(1)
        } else if wall_ms == remote.wall_ms {
            remote.logical.checked_add(1)
        } else {
            Some(0)
        }
        .ok_or(Error::Overflow)?;
        self.last = HlcTimestamp { wall_ms, logical };
        Ok(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(wall_ms: u64, logical: u32) -> HlcTimestamp {
        HlcTimestamp { wall_ms, logical }
    }

    #[test]
    fn local_events_follow_physical_time_or_count_when_it_stalls() {
        let mut c = HybridLogicalClock::new(100);
        assert_eq!(c.now(Instant::from_millis(10)), Ok(ts(10, 0)));
        assert_eq!(c.now(Instant::from_millis(10)), Ok(ts(10, 1)));
        // Physical time went backwards (NTP step): l holds, c counts.
        assert_eq!(c.now(Instant::from_millis(7)), Ok(ts(10, 2)));
        assert_eq!(c.now(Instant::from_millis(11)), Ok(ts(11, 0)));
    }

    #[test]
    fn receive_applies_each_case_of_figure_5() {
        // l' = l = l.m: c = max(c, c.m) + 1
        let mut c = HybridLogicalClock::restored(ts(20, 3), 100);
        assert_eq!(c.receive(Instant::from_millis(5), ts(20, 7)), Ok(ts(20, 8)));
        // l' = l only: c + 1
        let mut c = HybridLogicalClock::restored(ts(20, 3), 100);
        assert_eq!(c.receive(Instant::from_millis(5), ts(15, 9)), Ok(ts(20, 4)));
        // l' = l.m only: c.m + 1
        let mut c = HybridLogicalClock::restored(ts(20, 3), 100);
        assert_eq!(
            c.receive(Instant::from_millis(5), ts(30, 9)),
            Ok(ts(30, 10))
        );
        // l' = pt: c = 0
        let mut c = HybridLogicalClock::restored(ts(20, 3), 100);
        assert_eq!(
            c.receive(Instant::from_millis(40), ts(30, 9)),
            Ok(ts(40, 0))
        );
    }

    #[test]
    fn remote_timestamps_beyond_the_max_offset_are_rejected_untouched() {
        let mut c = HybridLogicalClock::restored(ts(100, 1), 50);
        assert!(c.receive(Instant::from_millis(100), ts(150, 0)).is_ok());
        let before = c.last();
        assert_eq!(
            c.receive(Instant::from_millis(100), ts(151, 0)),
            Err(Error::RemoteTooFarAhead {
                remote_ms: 151,
                local_ms: 100,
                max_offset_ms: 50
            })
        );
        assert_eq!(c.last(), before);
        // A huge offset does not overflow the check.
        let mut lax = HybridLogicalClock::new(u64::MAX);
        assert!(
            lax.receive(Instant::from_millis(5), ts(u64::MAX, 0))
                .is_ok()
        );
    }

    #[test]
    fn logical_overflow_is_an_error_not_a_wrap() {
        let mut c = HybridLogicalClock::restored(ts(10, u32::MAX), 100);
        assert_eq!(c.now(Instant::from_millis(10)), Err(Error::Overflow));
        assert_eq!(
            c.receive(Instant::from_millis(10), ts(10, 0)),
            Err(Error::Overflow)
        );
        assert_eq!(c.last(), ts(10, u32::MAX));
        assert_eq!(c.now(Instant::from_millis(11)), Ok(ts(11, 0)));
    }
}
