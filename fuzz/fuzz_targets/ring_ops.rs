//! Hash ring, rendezvous, bounded loads, Maglev and jump hash against a membership model.
//! The body lives in the library (`consensio_fuzz::ring::ops`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::ring::ops(data));
