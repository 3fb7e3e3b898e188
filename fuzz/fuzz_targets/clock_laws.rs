//! Vector clock merge/compare laws against a naive model; HLC and Lamport monotonicity.
//! The body lives in the library (`consensio_fuzz::clock::laws`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::clock::laws(data));
