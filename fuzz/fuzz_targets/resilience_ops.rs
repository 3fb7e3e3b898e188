//! A circuit breaker under any permits, results, ticks, orders and clock
//! jumps against a model of its window; retries and budgets within bounds.
//! The body lives in the library (`consensio_fuzz::resilience::ops`), so
//! that the corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::resilience::ops(data));
