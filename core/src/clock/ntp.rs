//! NTP on-wire arithmetic and the minimum-delay clock filter (RFC 5905 §8
//! and §10).
//!
//! A client sends a request at `T1` (origin), the server receives it at `T2`
//! and replies at `T3` (both server clock), and the reply arrives at `T4`
//! (client clock). Then (RFC 5905 §8):
//!
//! ```text
//! offset θ = ((T2 − T1) + (T3 − T4)) / 2
//! delay  δ = (T4 − T1) − (T3 − T2)
//! ```
//!
//! The offset is exact when the two legs take equal time; its error is at
//! most δ/2. So among recent samples the one with the smallest delay is the
//! most trustworthy: the clock filter keeps the last eight samples and picks
//! the minimum-delay one, reports the jitter (RMS of the other samples'
//! offsets from it), and, as RFC 5905's `clock_filter()` does, never offers
//! the same or an older sample twice.
//!
//! Timestamps are signed integers in any one unit the caller picks
//! (nanoseconds, microseconds, milliseconds); results are in the same unit.
//! The RFC's dispersion bookkeeping (growth at 15 ppm with age) belongs to the
//! peer-selection stage that a full NTP daemon adds on top; it is not here.

use super::Error;

/// Number of samples the clock filter keeps (RFC 5905's `NSTAGE`).
pub const FILTER_STAGES: usize = 8;

/// The four timestamps of one request/response exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamps {
    /// T1: the client sent the request (client clock).
    pub origin: i64,
    /// T2: the server received it (server clock).
    pub receive: i64,
    /// T3: the server sent the reply (server clock).
    pub transmit: i64,
    /// T4: the client received the reply (client clock).
    pub destination: i64,
}

/// One measurement of the server's clock relative to the client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sample {
    /// θ: add this to the client clock to get the server clock.
    pub offset: i64,
    /// δ: round-trip network delay, never negative.
    pub delay: i64,
}

/// Offset and delay of one exchange (RFC 5905 §8).
///
/// A computed delay below zero (possible when the server's clock runs fast
/// while it holds the request) is clamped to zero, as the RFC clamps it to
/// the system precision.
///
/// ```
/// use consensio::clock::ntp::{on_wire, Sample, Timestamps};
/// // Server 50 ahead, 10 each way, 2 of server processing.
/// let t = Timestamps { origin: 100, receive: 160, transmit: 162, destination: 122 };
/// assert_eq!(on_wire(&t)?, Sample { offset: 50, delay: 20 });
/// # Ok::<(), consensio::clock::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidTimestamps`] if the reply arrived before the request
/// left (`T4 < T1`) or the server replied before receiving (`T3 < T2`);
/// [`Error::Overflow`] if a result does not fit in `i64`.
pub fn on_wire(t: &Timestamps) -> Result<Sample, Error> {
    if t.destination < t.origin || t.transmit < t.receive {
        return Err(Error::InvalidTimestamps);
    }
    let (t1, t2, t3, t4) = (
        i128::from(t.origin),
        i128::from(t.receive),
        i128::from(t.transmit),
        i128::from(t.destination),
    );
    // Every operand fits in i65, so these i128 sums cannot overflow.
    let offset = ((t2 - t1) + (t3 - t4)).div_euclid(2);
    let delay = ((t4 - t1) - (t3 - t2)).max(0);
    Ok(Sample {
        offset: i64::try_from(offset).map_err(|_| Error::Overflow)?,
        delay: i64::try_from(delay).map_err(|_| Error::Overflow)?,
    })
}

/// What the clock filter currently believes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Estimate {
    /// Offset of the minimum-delay sample.
    pub offset: i64,
    /// Its delay.
    pub delay: i64,
    /// Root-mean-square distance of the other samples' offsets from it.
    pub jitter: u64,
    /// When (client clock) the chosen sample was taken.
    pub epoch: i64,
}

/// RFC 5905's eight-stage minimum-delay clock filter.
///
/// ```
/// use consensio::clock::ntp::{ClockFilter, Sample};
/// let mut filter = ClockFilter::new();
/// let first = filter.push(Sample { offset: 40, delay: 30 }, 1_000).unwrap();
/// assert_eq!(first.offset, 40);
/// // A better (lower-delay) sample replaces it.
/// let better = filter.push(Sample { offset: 52, delay: 8 }, 2_000).unwrap();
/// assert_eq!((better.offset, better.delay), (52, 8));
/// // A worse one leaves the lower-delay sample chosen, which was already used.
/// assert_eq!(filter.push(Sample { offset: 90, delay: 70 }, 3_000), None);
/// assert_eq!(filter.best().unwrap().offset, 52);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClockFilter {
    stages: [Option<(Sample, i64)>; FILTER_STAGES],
    next: usize,
    last_used: Option<i64>,
}

impl ClockFilter {
    /// An empty filter.
    #[must_use]
    pub const fn new() -> Self {
        ClockFilter {
            stages: [None; FILTER_STAGES],
            next: 0,
            last_used: None,
        }
    }

    /// Adds a sample taken at `epoch` (client clock; must increase from push
    /// to push), evicting the oldest of eight. Returns the new estimate if
    /// the minimum-delay sample is newer than the last one returned, and
    /// `None` if the filter has nothing new to offer.
    pub fn push(&mut self, sample: Sample, epoch: i64) -> Option<Estimate> {
        if let Some(stage) = self.stages.get_mut(self.next) {
            *stage = Some((sample, epoch));
        }
        self.next = (self.next + 1) % FILTER_STAGES;
        let best = self.best()?;
        if self.last_used.is_some_and(|used| best.epoch <= used) {
            return None;
        }
        self.last_used = Some(best.epoch);
        Some(best)
    }

    /// The minimum-delay sample among those held (ties go to the newest),
    /// with the current jitter, regardless of whether it was returned before.
    #[must_use]
    pub fn best(&self) -> Option<Estimate> {
        let samples = self.stages.iter().flatten();
        let &(chosen, epoch) = samples
            .clone()
            .min_by(|a, b| a.0.delay.cmp(&b.0.delay).then(b.1.cmp(&a.1)))?;
        let (mut sum_sq, mut others) = (0u128, 0u128);
        for (s, e) in samples {
            if *e == epoch {
                continue;
            }
            let d = u128::from(s.offset.abs_diff(chosen.offset));
            sum_sq = sum_sq.saturating_add(d.saturating_mul(d));
            others += 1;
        }
        // No other samples: no jitter. The root of a u128 fits in a u64.
        let jitter = sum_sq
            .checked_div(others)
            .map_or(0, |mean| u64::try_from(mean.isqrt()).unwrap_or(u64::MAX));
        Some(Estimate {
            offset: chosen.offset,
            delay: chosen.delay,
            jitter,
            epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5905_formulas_on_an_asymmetric_exchange() {
        // Client clock 1000 behind the server; 30 out, 10 back, 5 processing.
        let t = Timestamps {
            origin: 0,
            receive: 1_030,
            transmit: 1_035,
            destination: 45,
        };
        let s = on_wire(&t).unwrap();
        assert_eq!(s.delay, 40);
        // Asymmetry of 20 shows up as an offset error of 10 = (30 - 10) / 2,
        // within the δ/2 bound.
        assert_eq!(s.offset, 1_010);
        assert!((s.offset - 1_000).abs() <= s.delay / 2);
    }

    #[test]
    fn out_of_order_timestamps_and_extremes_are_errors() {
        let bad = Timestamps {
            origin: 10,
            receive: 0,
            transmit: 0,
            destination: 9,
        };
        assert_eq!(on_wire(&bad), Err(Error::InvalidTimestamps));
        let bad = Timestamps {
            origin: 0,
            receive: 5,
            transmit: 4,
            destination: 9,
        };
        assert_eq!(on_wire(&bad), Err(Error::InvalidTimestamps));
        let huge = Timestamps {
            origin: i64::MIN,
            receive: i64::MAX,
            transmit: i64::MAX,
            destination: i64::MIN,
        };
        assert_eq!(on_wire(&huge), Err(Error::Overflow));
        let wide = Timestamps {
            origin: i64::MIN,
            receive: 0,
            transmit: 0,
            destination: i64::MAX,
        };
        assert_eq!(on_wire(&wide), Err(Error::Overflow));
    }

    #[test]
    fn negative_delay_is_clamped_to_zero() {
        let t = Timestamps {
            origin: 0,
            receive: 0,
            transmit: 10,
            destination: 4,
        };
        assert_eq!(on_wire(&t).unwrap().delay, 0);
    }

    #[test]
    fn filter_chooses_minimum_delay_within_the_last_eight_samples() {
        let mut f = ClockFilter::new();
        assert_eq!(f.best(), None);
        f.push(
            Sample {
                offset: 7,
                delay: 1,
            },
            0,
        );
        for epoch in 1..=7 {
            assert_eq!(
                f.push(
                    Sample {
                        offset: 100,
                        delay: 50
                    },
                    epoch
                ),
                None
            );
        }
        let held = f.best().unwrap();
        assert_eq!((held.offset, held.delay, held.epoch), (7, 1, 0));
        assert_eq!(held.jitter, 93, "RMS of seven offsets 93 away");
        // The ninth sample evicts the epoch-0 one; the best is now a
        // delay-50 sample, newer than the last used, so it is offered.
        let next = f
            .push(
                Sample {
                    offset: 100,
                    delay: 50,
                },
                8,
            )
            .unwrap();
        assert_eq!((next.offset, next.delay, next.jitter), (100, 50, 0));
        assert_eq!(next.epoch, 8, "ties in delay go to the newest sample");
    }
}
