//! Clocks that many threads stamp from at once, lock-free.
//!
//! A process often has one logical clock and many threads creating events.
//! These clocks keep their whole state in one 64-bit atomic and advance it
//! with a compare-and-swap loop that applies exactly the single-threaded
//! rules ([`LamportClock`], [`HybridLogicalClock`]), so every stamp is unique
//! and each thread sees its stamps strictly increase. The loom tests
//! (`core/tests/loom.rs`) check this over every interleaving.

use super::{Error, HlcTimestamp, HybridLogicalClock, LamportClock, LamportStamp};
use crate::id::NodeId;
use crate::sync::{AtomicU64, Ordering};
use crate::time::Instant;

/// A Lamport clock shared by threads.
///
/// ```
/// use consensio::NodeId;
/// use consensio::clock::AtomicLamportClock;
/// let clock = AtomicLamportClock::new(NodeId(1));
/// let a = clock.tick()?;
/// let b = clock.tick()?;
/// assert!(a < b);
/// # Ok::<(), consensio::clock::Error>(())
/// ```
#[derive(Debug)]
pub struct AtomicLamportClock {
    node: NodeId,
    time: AtomicU64,
}

impl AtomicLamportClock {
    /// A clock for `node` at time 0.
    #[must_use]
    pub fn new(node: NodeId) -> Self {
        AtomicLamportClock {
            node,
            time: AtomicU64::new(0),
        }
    }

    /// The time of the latest event.
    #[must_use]
    pub fn time(&self) -> u64 {
        self.time.load(Ordering::Acquire)
    }

    /// A local or send event, as [`LamportClock::tick`].
    ///
    /// # Errors
    /// [`Error::Overflow`] at `u64::MAX`; the clock is unchanged.
    pub fn tick(&self) -> Result<LamportStamp, Error> {
        self.advance(LamportClock::tick)
    }

    /// A receive event, as [`LamportClock::receive`].
    ///
    /// # Errors
    /// [`Error::Overflow`]; the clock is unchanged.
    pub fn receive(&self, remote: LamportStamp) -> Result<LamportStamp, Error> {
        self.advance(|c| c.receive(remote))
    }

    fn advance(
        &self,
        rule: impl Fn(&mut LamportClock) -> Result<LamportStamp, Error>,
    ) -> Result<LamportStamp, Error> {
        let mut current = self.time.load(Ordering::Acquire);
        loop {
            let mut clock = LamportClock::at(self.node, current);
            let stamp = rule(&mut clock)?;
            match self.time.compare_exchange_weak(
                current,
                stamp.time,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(stamp),
                Err(seen) => current = seen,
            }
        }
    }
}

/// The largest wall time an [`AtomicHybridClock`] can hold: 2^48 − 1 ms,
/// the year 10889.
pub const ATOMIC_HLC_MAX_WALL_MS: u64 = (1 << 48) - 1;

/// A hybrid logical clock shared by threads.
///
/// The state packs the wall time into the high 48 bits and the logical
/// counter into the low 16, so the counter tops out at 65,535 events within
/// one millisecond of unchanging physical time; past that, or for a remote
/// timestamp whose counter does not fit, the call fails with
/// [`Error::Overflow`] and the clock is unchanged.
#[derive(Debug)]
pub struct AtomicHybridClock {
    state: AtomicU64,
    max_offset_ms: u64,
}

fn pack(t: HlcTimestamp) -> Result<u64, Error> {
    if t.wall_ms > ATOMIC_HLC_MAX_WALL_MS {
        return Err(Error::Overflow);
    }
    let logical = u16::try_from(t.logical).map_err(|_| Error::Overflow)?;
    Ok(t.wall_ms << 16 | u64::from(logical))
}

fn unpack(state: u64) -> HlcTimestamp {
    HlcTimestamp {
        wall_ms: state >> 16,
        logical: u32::from(state as u16),
    }
}

impl AtomicHybridClock {
    /// A clock rejecting remote timestamps more than `max_offset_ms` ahead.
    #[must_use]
    pub fn new(max_offset_ms: u64) -> Self {
        AtomicHybridClock {
            state: AtomicU64::new(0),
            max_offset_ms,
        }
    }

    /// The latest timestamp issued.
    #[must_use]
    pub fn last(&self) -> HlcTimestamp {
        unpack(self.state.load(Ordering::Acquire))
    }

    /// A local or send event at physical time `pt`, as
    /// [`HybridLogicalClock::now`].
    ///
    /// # Errors
    /// [`Error::Overflow`]; the clock is unchanged.
    pub fn now(&self, pt: Instant) -> Result<HlcTimestamp, Error> {
        self.advance(|c| c.now(pt))
    }

    /// A receive event, as [`HybridLogicalClock::receive`].
    ///
    /// # Errors
    /// [`Error::RemoteTooFarAhead`] or [`Error::Overflow`]; the
    /// clock is unchanged.
    pub fn receive(&self, pt: Instant, remote: HlcTimestamp) -> Result<HlcTimestamp, Error> {
        self.advance(|c| c.receive(pt, remote))
    }

    fn advance(
        &self,
        rule: impl Fn(&mut HybridLogicalClock) -> Result<HlcTimestamp, Error>,
    ) -> Result<HlcTimestamp, Error> {
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let mut clock = HybridLogicalClock::restored(unpack(current), self.max_offset_ms);
            let stamp = rule(&mut clock)?;
            let next = pack(stamp)?;
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(stamp),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_rejects_what_does_not_fit() {
        let t = HlcTimestamp {
            wall_ms: 1_700_000_000_000,
            logical: 65_535,
        };
        assert_eq!(unpack(pack(t).unwrap()), t);
        let wide = HlcTimestamp {
            wall_ms: 1,
            logical: 65_536,
        };
        assert_eq!(pack(wide), Err(Error::Overflow));
        let late = HlcTimestamp {
            wall_ms: ATOMIC_HLC_MAX_WALL_MS + 1,
            logical: 0,
        };
        assert_eq!(pack(late), Err(Error::Overflow));
    }

    #[test]
    fn the_atomic_clocks_follow_the_single_threaded_rules() {
        let h = AtomicHybridClock::new(100);
        let mut reference = HybridLogicalClock::new(100);
        for (pt, remote) in [
            (10, None),
            (10, Some((15, 3))),
            (9, None),
            (30, Some((20, 0))),
        ] {
            let pt = Instant::from_millis(pt);
            let (a, b) = match remote {
                None => (h.now(pt), reference.now(pt)),
                Some((wall_ms, logical)) => {
                    let r = HlcTimestamp { wall_ms, logical };
                    (h.receive(pt, r), reference.receive(pt, r))
                }
            };
            assert_eq!(a, b);
        }
        let far = HlcTimestamp {
            wall_ms: 10_000,
            logical: 0,
        };
        let before = h.last();
        assert!(h.receive(Instant::from_millis(31), far).is_err());
        assert_eq!(h.last(), before);

        let l = AtomicLamportClock::new(NodeId(3));
        assert_eq!(l.tick().unwrap().time, 1);
        let remote = LamportStamp {
            time: 41,
            node: NodeId(1),
        };
        assert_eq!(l.receive(remote).unwrap().time, 42);
        assert_eq!(l.time(), 42);
    }
}
