//! Cristian's algorithm ("Probabilistic clock synchronization", Distributed
//! Computing 1989): ask a time server, and estimate its clock at the moment
//! the answer arrives.
//!
//! A client sends a request at local time `t0`, the server answers with its
//! time `T`, and the answer arrives at local time `t1`. The reply left the
//! server somewhere in `[t0 + min, t1 − min]` of client time, where `min` is
//! the least possible one-way delay, so the server's clock at `t1` lies in
//! `[T + min, T + rtt − min]`. The estimate is the midpoint, `T + rtt / 2`,
//! and the error bound is half the interval: `rtt / 2 − min`.

use super::Error;

/// The server's clock as estimated at the client's receive time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Estimate {
    /// Estimated server time at the moment the reply arrived.
    pub server_time: i64,
    /// Add this to the client clock to get the server clock.
    pub offset: i64,
    /// The estimate is within `± error` of the true server time.
    pub error: i64,
}

/// Cristian's estimate for a request sent at `sent`, answered with
/// `server_time`, received at `received` (`sent` and `received` on the
/// client's clock), given a known minimum one-way delay `min_one_way`.
///
/// ```
/// use consensio::clock::cristian::{estimate, Estimate};
/// let e = estimate(1_000, 5_020, 1_040, 5)?;
/// assert_eq!(e, Estimate { server_time: 5_040, offset: 4_000, error: 15 });
/// # Ok::<(), consensio::clock::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidTimestamps`] if `received < sent`, `min_one_way` is
/// negative, or twice it exceeds the round trip; [`Error::Overflow`] if
/// a result does not fit in `i64`.
pub fn estimate(
    sent: i64,
    server_time: i64,
    received: i64,
    min_one_way: i64,
) -> Result<Estimate, Error> {
    let rtt = i128::from(received) - i128::from(sent);
    let min = i128::from(min_one_way);
    if rtt < 0 || min < 0 || 2 * min > rtt {
        return Err(Error::InvalidTimestamps);
    }
    let half = rtt / 2;
    let server_now = i128::from(server_time) + half;
    let fit = |v: i128| i64::try_from(v).map_err(|_| Error::Overflow);
    Ok(Estimate {
        server_time: fit(server_now)?,
        offset: fit(server_now - i128::from(received))?,
        error: fit(half - min)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_true_time_lies_within_the_error_bound_for_any_split_of_the_delay() {
        // True offset 300; round trip 40 split any way between the legs.
        for out_leg in 5..=35 {
            let (sent, rtt) = (1_000i64, 40i64);
            let server_time = sent + out_leg + 300;
            let received = sent + rtt;
            let e = estimate(sent, server_time, received, 5).unwrap();
            let truth = received + 300;
            assert!(
                (e.server_time - truth).abs() <= e.error,
                "out leg {out_leg}"
            );
        }
    }

    #[test]
    fn impossible_inputs_are_rejected() {
        assert_eq!(estimate(10, 0, 9, 0), Err(Error::InvalidTimestamps));
        assert_eq!(estimate(0, 0, 10, -1), Err(Error::InvalidTimestamps));
        assert_eq!(estimate(0, 0, 10, 6), Err(Error::InvalidTimestamps));
        assert_eq!(
            estimate(i64::MIN, i64::MAX, i64::MAX, 0),
            Err(Error::Overflow)
        );
    }
}
