//! One request-reply node under any inputs and crash-restarts: no panic, bounded outputs, at most once.
//! The body lives in the library (`consensio_fuzz::resilience::rpc::step`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::resilience::rpc::step(data));
