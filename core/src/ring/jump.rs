//! Jump consistent hash (Lamping and Veach, 2014).

use super::Error;

/// The multiplier of the paper's 64-bit linear congruential generator.
const LCG_MULTIPLIER: u64 = 2_862_933_555_777_941_757;

/// The bucket in `0..buckets` that `key` belongs to, by jump consistent hash
/// (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
/// 2014, Figure 1).
///
/// Growing `buckets` to `buckets + 1` moves a key only into the new bucket,
/// and moves `1/(buckets + 1)` of keys in expectation. Buckets are numbered:
/// only the last can be removed without moving other keys. Hash byte keys
/// with [`key_position`](super::hash::key_position) first. The loop is the
/// paper's, bit for bit, including its `f64` division, which IEEE 754
/// defines exactly on every platform; it takes `O(ln buckets)` steps.
///
/// ```
/// use consensio::ring::{self, jump_hash};
/// assert_eq!(jump_hash(42, 10), Ok(2));
/// assert_eq!(jump_hash(42, 0), Err(ring::Error::ZeroBuckets));
/// ```
///
/// # Errors
/// [`Error::ZeroBuckets`] if `buckets` is 0.
pub fn jump_hash(mut key: u64, buckets: u32) -> Result<u32, Error> {
    if buckets == 0 {
        return Err(Error::ZeroBuckets);
    }
    let mut bucket = 0u32;
    loop {
        key = key.wrapping_mul(LCG_MULTIPLIER).wrapping_add(1);
        // The paper's `j = (b + 1) * (2^31 / ((key >> 33) + 1))`; `key >> 33`
        // has 31 bits, so the conversion to f64 is exact.
        #[allow(clippy::cast_precision_loss)]
        let divisor = ((key >> 33) + 1) as f64;
        let next = (f64::from(bucket) + 1.0) * (2_147_483_648.0 / divisor);
        // The paper truncates `next` to an integer and loops while it is
        // below `buckets`; for a non-negative `next` that is `next < buckets`.
        if next >= f64::from(buckets) {
            return Ok(bucket);
        }
        // `0 <= next < buckets <= u32::MAX`, so truncation is the paper's.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        {
            bucket = next as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::ring::hash::key_position;

    #[test]
    fn zero_buckets_is_an_error() {
        assert_eq!(jump_hash(7, 0), Err(Error::ZeroBuckets));
    }

    #[test]
    fn matches_the_papers_reference_c_code() {
        // Outputs of the paper's JumpConsistentHash, transcribed to C and
        // built with gcc (int64_t bucket count for the u32::MAX rows).
        let golden: [(u64, u32, u32); 16] = [
            (0, 1000, 0),
            (1, 10, 6),
            (1, 65_536, 21_134),
            (2, 1000, 338),
            (42, 2, 1),
            (42, 100, 43),
            (0xdead_beef, 65_536, 64_244),
            (123_456_789, 1000, 294),
            (u64::MAX, 10, 9),
            (u64::MAX, 2_147_483_647, 699_554_662),
            (0x8000_0000_0000_0000, 100, 84),
            (0x0123_4567_89ab_cdef, 1000, 194),
            (0xfedc_ba98_7654_3210, 65_536, 18_725),
            (10_000_000_000, 2_147_483_647, 833_153_590),
            (1, u32::MAX, 3_094_789_146),
            (u64::MAX, u32::MAX, 2_680_453_518),
        ];
        for (key, buckets, expected) in golden {
            assert_eq!(jump_hash(key, buckets), Ok(expected), "({key}, {buckets})");
        }
    }

    #[test]
    fn one_bucket_takes_every_key() {
        for key in [0, 1, u64::MAX, 0x5555_5555_5555_5555] {
            assert_eq!(jump_hash(key, 1), Ok(0));
        }
    }

    #[test]
    fn adding_a_bucket_moves_about_one_in_n_plus_one_keys_all_into_the_new_bucket() {
        const KEYS: u64 = 100_000;
        for buckets in [4u32, 9, 31] {
            let mut moved = 0u64;
            for i in 0..KEYS {
                let key = key_position(&i.to_le_bytes());
                let before = jump_hash(key, buckets).unwrap();
                let after = jump_hash(key, buckets + 1).unwrap();
                if before != after {
                    assert_eq!(after, buckets, "a key moved between old buckets");
                    moved += 1;
                }
            }
            let fraction = moved as f64 / KEYS as f64;
            let expected = 1.0 / f64::from(buckets + 1);
            std::println!(
                "jump hash {buckets} -> {} buckets: moved {fraction:.4} (1/(n+1) = {expected:.4})",
                buckets + 1
            );
            assert!((0.5 * expected..1.5 * expected).contains(&fraction));
        }
    }
}
