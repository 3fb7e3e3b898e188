//! The one way a participant is driven from Python: every protocol class
//! (`RaftNode`, `Bully`, `RingElection`, `HeartbeatDetector`,
//! `PhiDetector`, `AntiEntropy`) keeps its node in a [`Node`], which is
//! core's [`Shared`]: a thread that feeds an input holds the node's turn
//! until its `poll()` returns None, so its outputs are persisted, sent and
//! applied in the node's order; another thread's input waits for the turn
//! (with the GIL released) and another thread's `poll()` returns None.

use consensio::shared::{OutputOf, Shared};
use consensio::{Input, Instant, NodeId, Participant, wire};
use pyo3::prelude::*;

use crate::wire_err;

/// A participant that Python threads take turns on, and how its errors
/// become exceptions.
#[derive(Debug)]
pub(crate) struct Node<P: Participant> {
    shared: Shared<P>,
    err: fn(P::Error) -> PyErr,
}

impl<P> Node<P>
where
    P: Participant + Send,
    P::Message: Send,
    P::Command: Send,
    P::Error: Send,
{
    pub(crate) fn new(node: P, err: fn(P::Error) -> PyErr) -> Self {
        Node {
            shared: Shared::new(node),
            err,
        }
    }

    /// Feeds `input`, taking the turn; waits for it without the GIL.
    pub(crate) fn input(
        &self,
        py: Python<'_>,
        now_ms: u64,
        input: Input<P::Message, P::Command>,
    ) -> PyResult<()> {
        self.input_then(py, now_ms, input, |_| ())
    }

    /// As [`input`](Self::input), then reads the node under the same lock.
    pub(crate) fn input_then<R: Send>(
        &self,
        py: Python<'_>,
        now_ms: u64,
        input: Input<P::Message, P::Command>,
        then: impl FnOnce(&P) -> R + Send,
    ) -> PyResult<R> {
        let now = Instant::from_millis(now_ms);
        py.detach(|| self.shared.handle_input_then(now, input, then))
            .map_err(self.err)
    }

    /// Decodes `data` (raising `MalformedMessage`, with nothing changed)
    /// and feeds it as a message from `from_id`.
    pub(crate) fn deliver(
        &self,
        py: Python<'_>,
        now_ms: u64,
        from_id: u64,
        data: &[u8],
    ) -> PyResult<()> {
        let message = wire::decode(data).map_err(wire_err)?;
        let from = NodeId(from_id);
        self.input(py, now_ms, Input::Message { from, message })
    }

    /// The calling thread's next output (see the module docs).
    pub(crate) fn poll(&self) -> Option<OutputOf<P>> {
        self.shared.poll_output()
    }

    /// Reads the node (no turn needed).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        self.shared.with(f)
    }

    /// When the node next wants a tick, in milliseconds.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.shared.next_deadline().map(Instant::as_millis)
    }
}
