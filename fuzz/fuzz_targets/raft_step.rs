//! One Raft node under any messages, ticks, commands and crash-restarts: no panic, bounded outputs, one vote per term, persist before send, commits in order.
//! The body lives in the library (`consensio_fuzz::raft::step`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::raft::step(data));
