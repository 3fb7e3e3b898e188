//! The anti-entropy participant under a hostile network: no panic, bounded memory, exact results.
//! The body lives in the library (`consensio_fuzz::merkle::anti_entropy`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::merkle::anti_entropy(data));
