//! The Berkeley algorithm's fault-tolerant average (Gusella and Zatti, "The
//! Accuracy of the Clock Synchronization Achieved by TEMPO in Berkeley UNIX
//! 4.3BSD", IEEE TSE 1989).
//!
//! A master polls every clock (its own included) and measures each one's
//! offset from its own, compensating for network delay (for example with
//! [`cristian::estimate`](super::cristian::estimate)). It then averages only
//! the largest group of clocks that agree with each other to within a
//! tolerance, so a few faulty clocks cannot drag the average, and tells
//! *every* clock, outliers included, how much to adjust to reach it.

use super::Error;

/// The outcome of one Berkeley round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Round {
    /// The fault-tolerant average offset (relative to the master's clock).
    pub average: i64,
    /// How many readings were averaged (the rest were outliers).
    pub used: usize,
}

/// Computes the per-clock adjustments of one round.
///
/// `readings[i]` is clock `i`'s offset from the master (the master's own
/// reading is 0). The largest set of readings whose spread is at most
/// `tolerance` is averaged (rounding towards negative infinity); ties between
/// equally large sets go to the one with the lowest readings. Then
/// `adjustments[i] = average − readings[i]`. Runs in O(n²) time without
/// allocating; Berkeley groups are small.
///
/// ```
/// use consensio::clock::berkeley::{adjustments, Round};
/// // Master, two agreeing clocks, and one clock 10 s off.
/// let readings = [0, 25, -10, 10_000];
/// let mut adjust = [0; 4];
/// let round = adjustments(&readings, 100, &mut adjust)?;
/// assert_eq!(round, Round { average: 5, used: 3 });
/// assert_eq!(adjust, [5, -20, 15, -9_995]);
/// # Ok::<(), consensio::clock::Error>(())
/// ```
///
/// # Errors
/// [`Error::NoReadings`] if `readings` is empty;
/// [`Error::LengthMismatch`] if `adjustments` has a different length;
/// [`Error::Overflow`] if an adjustment does not fit in `i64`. On
/// error, `adjustments` is left as it was.
pub fn adjustments(
    readings: &[i64],
    tolerance: u64,
    adjustments: &mut [i64],
) -> Result<Round, Error> {
    if adjustments.len() != readings.len() {
        return Err(Error::LengthMismatch {
            expected: readings.len(),
            found: adjustments.len(),
        });
    }
    let in_window = |low: i64, r: i64| {
        let r = i128::from(r);
        r >= i128::from(low) && r <= i128::from(low) + i128::from(tolerance)
    };
    let mut best: Option<(usize, i64)> = None;
    for &low in readings {
        let count = readings.iter().filter(|&&r| in_window(low, r)).count();
        let better = match best {
            None => true,
            Some((n, l)) => count > n || (count == n && low < l),
        };
        if better {
            best = Some((count, low));
        }
    }
    let (used, low) = best.ok_or(Error::NoReadings)?;
    let sum: i128 = readings
        .iter()
        .filter(|&&r| in_window(low, r))
        .map(|&r| i128::from(r))
        .sum();
    // `used` is at least 1 (the window always holds its own lower edge), and
    // the mean of i64 values fits in i64.
    let used_wide = i128::try_from(used).map_err(|_| Error::Overflow)?;
    let average = i64::try_from(sum.div_euclid(used_wide.max(1))).map_err(|_| Error::Overflow)?;
    for &r in readings {
        i64::try_from(i128::from(average) - i128::from(r)).map_err(|_| Error::Overflow)?;
    }
    for (slot, &r) in adjustments.iter_mut().zip(readings) {
        *slot = average.wrapping_sub(r);
    }
    Ok(Round { average, used })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outliers_are_excluded_from_the_average_but_still_corrected() {
        let readings = [0, 3, -3, 900, -900];
        let mut adjust = [0; 5];
        let round = adjustments(&readings, 10, &mut adjust).unwrap();
        assert_eq!(
            round,
            Round {
                average: 0,
                used: 3
            }
        );
        assert_eq!(adjust, [0, -3, 3, -900, 900]);
    }

    #[test]
    fn every_clock_lands_on_the_same_time_after_adjusting() {
        let readings = [0, 17, -4, 9, 11];
        let mut adjust = [0; 5];
        let round = adjustments(&readings, 1_000, &mut adjust).unwrap();
        assert_eq!(round.used, 5);
        assert!(
            readings
                .iter()
                .zip(&adjust)
                .all(|(r, a)| r + a == round.average)
        );
    }

    #[test]
    fn bad_shapes_and_extremes_are_typed_errors() {
        let mut none: [i64; 0] = [];
        assert_eq!(adjustments(&[], 5, &mut none), Err(Error::NoReadings));
        let mut short = [7; 1];
        assert_eq!(
            adjustments(&[0, 1], 5, &mut short),
            Err(Error::LengthMismatch {
                expected: 2,
                found: 1
            })
        );
        assert_eq!(short, [7]);
        let mut two = [0; 2];
        assert_eq!(
            adjustments(&[i64::MIN, i64::MAX], 0, &mut two),
            Err(Error::Overflow)
        );
        assert_eq!(two, [0, 0], "untouched on error");
    }
}
