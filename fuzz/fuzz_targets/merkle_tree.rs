//! RFC 6962 roots, proofs (genuine verify, tampered never) and diff against a naive model.
//! The body lives in the library (`consensio_fuzz::merkle::tree`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::merkle::tree(data));
