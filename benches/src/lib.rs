//! Criterion benchmarks for consensio; see `benches/` and BENCHMARKS.md.
//!
//! Each hot path sits in one criterion group beside its peer crates, so the
//! ratio comes from a single run:
//!
//! - `clock`: vector clock merge and compare against `crdts` (`VClock`, a
//!   `BTreeMap`) and `vclock` (a `HashMap`);
//! - `merkle`: RFC 6962 tree build, inclusion proofs and diff against
//!   `rs_merkle`, `merkle_light` and `merkle-search-tree`, with the raw
//!   SHA-256 cost of the same bytes as the floor;
//! - `quorum`: committed index and vote tallying against tikv's `raft`
//!   (`ProgressTracker`);
//! - `raft`: log append against raft-rs's `RaftLog` and `MemStorage` and a
//!   plain copy of the same bytes, and proposal-to-commit throughput of a
//!   3-node in-memory cluster against raft-rs's `RawNode`, both driven by
//!   this crate's [`cluster`] module and compacting their logs as they go,
//!   and snapshot install throughput against a plain copy of the bytes;
//! - `resilience`: the circuit breaker's per-call cost against `failsafe`;
//! - `sim`: the simulator's delivered messages per second.
//!
//! `cargo bench -p consensio-benches` measures; `cargo test --benches -p
//! consensio-benches` runs every benchmark once without measuring, as a test.
//! In that mode ([`test_mode`]) the Merkle benches shrink their trees
//! 256-fold ([`scaled`]: 2^20 leaves become 2^12) so the run stays fast in
//! the barely optimised test profile; the code paths are the same.

use consensio::Rng;

pub mod cluster;
pub mod counting;

/// How many bits [`scaled`] takes off a size in [`test_mode`].
pub const TEST_MODE_SHRINK_BITS: u32 = 8;

/// Whether criterion runs the benches as tests (once each, no measurement):
/// `cargo test --benches`, or `cargo bench -- --test`. Criterion's own rule:
/// test mode unless `--bench` is given, or whenever `--test` is.
#[must_use]
pub fn test_mode() -> bool {
    let mut bench = false;
    let mut test = false;
    for arg in std::env::args() {
        bench |= arg == "--bench";
        test |= arg == "--test";
    }
    test || !bench
}

/// `size`, or `size / 2^TEST_MODE_SHRINK_BITS` (at least 2) in
/// [`test_mode`]: distinct sizes stay distinct, so benchmark ids do too.
#[must_use]
pub fn scaled(size: usize) -> usize {
    if test_mode() {
        (size >> TEST_MODE_SHRINK_BITS).max(2)
    } else {
        size
    }
}

/// `n` distinct leaves of 32 pseudo-random bytes each (a record digest,
/// say), the same for every run.
#[must_use]
pub fn leaves(n: usize, seed: u64) -> Vec<[u8; 32]> {
    let mut rng = Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut leaf = [0u8; 32];
            for chunk in leaf.chunks_exact_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
            }
            leaf
        })
        .collect()
}

/// `k` distinct indexes below `n`, spread pseudo-randomly and sorted.
///
/// # Panics
/// If `k > n`.
#[must_use]
pub fn distinct_indexes(k: usize, n: usize, seed: u64) -> Vec<usize> {
    assert!(k <= n, "cannot pick {k} distinct indexes below {n}");
    let mut rng = Rng::seed_from_u64(seed);
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < k {
        let i = usize::try_from(rng.below(n as u64)).expect("below n fits usize");
        picked.insert(i);
    }
    picked.into_iter().collect()
}
