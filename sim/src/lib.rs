//! The deterministic simulator for consensio participants.
//!
//! This crate will hold the seeded, single-threaded network simulator, the
//! per-protocol invariant checkers, the linearizability checker and the
//! `consensio` command-line tool (see the project's open issues). For now it
//! provides the one piece every simulation needs from the start: a helper
//! that drains a participant's outputs in order.

use consensio::{Output, Participant};

/// Drains every queued output of `participant`, in order.
pub fn drain<P: Participant>(participant: &mut P) -> Vec<Output<P::Message, P::Persist, P::Event>> {
    core::iter::from_fn(|| participant.poll_output()).collect()
}
