//! Every clock wire type: decode → encode → decode is stable; no panic on any input.
//! The body lives in the library (`consensio_fuzz::clock::decode`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::clock::decode(data));
