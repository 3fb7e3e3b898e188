//! Committed index, vote results and tallies against a sort-based model.
//! The body lives in the library (`consensio_fuzz::quorum::config`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::quorum::config(data));
