//! Request-reply messages and records: decode → encode → decode is stable, no panic.
//! The body lives in the library (`consensio_fuzz::resilience::rpc::decode`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::resilience::rpc::decode(data));
