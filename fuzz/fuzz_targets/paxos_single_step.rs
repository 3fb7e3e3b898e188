//! One single-decree Paxos node under any inputs and crash-restarts: no panic, bounded outputs, promises and acceptances recorded before they are sent, one outcome, reported once per life.
//! The body lives in the library (`consensio_fuzz::paxos::single::step`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::paxos::single::step(data));
