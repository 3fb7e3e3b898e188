//! One Bully or ring-election node under any inputs and crash-restarts: no panic, bounded outputs, epochs persisted before use.
//! The body lives in the library (`consensio_fuzz::election::step`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::election::step(data));
