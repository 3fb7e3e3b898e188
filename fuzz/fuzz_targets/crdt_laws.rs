//! CRDTs at three replicas under any updates and merges through the wire: the semilattice laws and convergence.
//! The body lives in the library (`consensio_fuzz::crdt::laws`), so that the
//! corpus replays on stable; see fuzz/README.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consensio_fuzz::crdt::laws(data));
