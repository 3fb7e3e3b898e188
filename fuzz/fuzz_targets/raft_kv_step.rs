//! One key-value node (`KvNode`) under any messages, store entries, ticks, store commands and crash-restarts: one reply per command, the store is the log applied.
//! The body lives in the library (`consensio_fuzz::raft::kv::step`), so
//! that the corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::raft::kv::step(data));
