//! The one source of randomness: a small seeded PRNG.
//!
//! Protocols draw randomness (election timeouts, gossip targets, jitter) only
//! from an [`Rng`] built from a seed in their configuration, so the same seed
//! and inputs replay bit for bit. The generator is xoshiro256** (Blackman and
//! Vigna, 2018) seeded through SplitMix64, as its authors recommend; both are
//! fixed here so that sequences are identical across versions and platforms.
//! It is not a cryptographic generator.

/// A deterministic xoshiro256** generator.
///
/// ```
/// use consensio::Rng;
/// let mut a = Rng::seed_from_u64(7);
/// let mut b = Rng::seed_from_u64(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let timeout = a.between(150, 300);
/// assert!((150..=300).contains(&timeout));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

/// SplitMix64 step: advances `state` and returns the next output.
const fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole state is expanded from `seed` with SplitMix64.
    /// Every seed, including 0, gives a valid (non-zero) state.
    #[must_use]
    pub const fn seed_from_u64(seed: u64) -> Self {
        let mut sm = seed;
        let s0 = splitmix64(&mut sm);
        let s1 = splitmix64(&mut sm);
        let s2 = splitmix64(&mut sm);
        let s3 = splitmix64(&mut sm);
        Rng {
            s: [s0, s1, s2, s3],
        }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// A uniform value in `0..bound`, without modulo bias (Lemire's
    /// multiply-and-reject method). Returns 0 when `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Reject the low products that would over-represent some values.
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let wide = u128::from(self.next_u64()) * u128::from(bound);
            // Truncation keeps the low half; the shift keeps the high half.
            #[allow(clippy::cast_possible_truncation)]
            let low = wide as u64;
            if low >= threshold {
                #[allow(clippy::cast_possible_truncation)]
                return (wide >> 64) as u64;
            }
        }
    }

    /// A uniform value in `low..=high`; returns `low` when `high <= low`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        match span.checked_add(1) {
            Some(n) => low + self.below(n),
            None => self.next_u64(),
        }
    }

    /// A uniform float in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let mantissa = (self.next_u64() >> 11) as f64;
        mantissa * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (clamped to `[0, 1]`; NaN counts as 0).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A new generator seeded from this one, for handing independent streams
    /// to sub-components (one per node in a simulation, say).
    #[must_use]
    pub fn fork(&mut self) -> Rng {
        Rng::seed_from_u64(self.next_u64())
    }

    /// Shuffles `items` uniformly (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            // `below(i + 1)` is at most `i`, which fits in usize.
            #[allow(clippy::cast_possible_truncation)]
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_xoshiro256starstar_with_splitmix64_seeding() {
        // Produced by the authors' C reference code (xoshiro256starstar.c,
        // splitmix64.c) with the SplitMix64 state set to 42.
        let mut rng = Rng::seed_from_u64(42);
        let expected = [
            0x1578_0b2e_0c2e_c716,
            0x6104_d986_6d11_3a7e,
            0xae17_5332_39e4_99a1,
            0xecb8_ad47_03b3_60a1,
        ];
        for want in expected {
            assert_eq!(rng.next_u64(), want);
        }
        assert_eq!(Rng::seed_from_u64(0).next_u64(), 0x99ec_5f36_cb75_f2b4);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::seed_from_u64(1);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let v = rng.below(7);
            assert!(v < 7);
            seen[v as usize] += 1;
        }
        // Each bucket expects 1000; a bias or a stuck value falls far outside.
        assert!(seen.iter().all(|&n| (850..1150).contains(&n)), "{seen:?}");
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn between_is_inclusive_and_handles_the_full_range() {
        let mut rng = Rng::seed_from_u64(2);
        let mut hit_low = false;
        let mut hit_high = false;
        for _ in 0..1_000 {
            let v = rng.between(10, 12);
            assert!((10..=12).contains(&v));
            hit_low |= v == 10;
            hit_high |= v == 12;
        }
        assert!(hit_low && hit_high);
        assert_eq!(rng.between(5, 5), 5);
        assert_eq!(rng.between(9, 3), 9);
        let _ = rng.between(0, u64::MAX);
    }

    #[test]
    fn floats_are_in_the_unit_interval_and_chance_respects_extremes() {
        let mut rng = Rng::seed_from_u64(3);
        for _ in 0..1_000 {
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert!((0..100).all(|_| !rng.chance(0.0)));
        assert!((0..100).all(|_| rng.chance(1.0)));
        assert!((0..100).all(|_| !rng.chance(f64::NAN)));
    }

    #[test]
    fn shuffle_is_a_permutation_and_forks_are_independent() {
        let mut rng = Rng::seed_from_u64(4);
        let mut items = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        rng.shuffle(&mut items);
        let mut sorted = items;
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_ne!(items, sorted, "seed 4 should move something");
        let mut a = rng.fork();
        let mut b = rng.fork();
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
