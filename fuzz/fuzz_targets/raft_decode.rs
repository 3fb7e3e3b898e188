//! Raft messages and persisted records: decode → encode → decode is stable, no panic; restore from any records.
//! The body lives in the library (`consensio_fuzz::raft::decode`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::raft::decode(data));
