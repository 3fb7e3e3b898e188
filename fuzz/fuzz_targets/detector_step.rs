//! One heartbeat or φ-accrual detector under any inputs and crash-restarts: no panic, bounded outputs, exact state changes.
//! The body lives in the library (`consensio_fuzz::detector::step`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::detector::step(data));
