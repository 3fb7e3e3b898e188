//! CRDT states: decode → encode → decode is stable, no panic, and a decoded state is lawful.
//! The body lives in the library (`consensio_fuzz::crdt::decode`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::crdt::decode(data));
