//! A participant shared by threads.
//!
//! Core is single-threaded by design. When a host drives one node from
//! several threads (a C program with a receive thread and a timer thread, a
//! Python service with a thread pool), [`Shared`] serialises the calls and
//! hands each caller exactly the outputs its own input produced: the input
//! and the drain happen under one lock, so two threads never see each
//! other's outputs or interleave them. The loom tests (`core/tests/loom.rs`)
//! check this over every interleaving.
//!
//! This is a building block for hosts, not a protocol family: it has no C,
//! Python or fuzz surface of its own.

use alloc::vec::Vec;

use crate::protocol::{Input, Output, Participant};
use crate::sync::{Mutex, MutexGuard};
use crate::time::Instant;

/// The outputs of one input, and whether it was accepted.
pub type Step<P> = (
    Result<(), <P as Participant>::Error>,
    Vec<
        Output<<P as Participant>::Message, <P as Participant>::Persist, <P as Participant>::Event>,
    >,
);

/// A participant behind a lock; see the [module docs](self).
#[derive(Debug)]
pub struct Shared<P> {
    inner: Mutex<P>,
}

impl<P: Participant> Shared<P> {
    /// Wraps `participant`.
    pub fn new(participant: P) -> Self {
        Shared {
            inner: Mutex::new(participant),
        }
    }

    fn lock(&self) -> MutexGuard<'_, P> {
        // A panic inside a participant is a bug, but the state it left is
        // still the best there is; do not turn one bug into a cascade.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Feeds `input` at `now` and drains every output it produced, under one
    /// lock. The outputs come back even if the input was rejected (outputs
    /// queued earlier are never left for another caller).
    pub fn step(&self, now: Instant, input: Input<P::Message, P::Command>) -> Step<P> {
        let mut p = self.lock();
        let result = p.handle_input(now, input);
        let outputs = core::iter::from_fn(|| p.poll_output()).collect();
        (result, outputs)
    }

    /// When the participant next wants a tick.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lock().next_deadline()
    }

    /// Runs `f` with shared access to the participant.
    pub fn with<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        f(&self.lock())
    }

    /// Unwraps the participant.
    pub fn into_inner(self) -> P {
        self.inner
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
