//! The one way a participant is driven from C: feed bytes, ticks and
//! commands, poll outputs one at a time. Each family's handle wraps a
//! [`Driver`] and turns its [`Polled`] outputs into its own C struct.
//!
//! Every handle may be used from several threads: the participant sits in a
//! core [`Shared`], so a thread that feeds an input holds the node's turn
//! until it has polled `NONE`, and what it does with each output (an fsync,
//! a send, applying an entry) happens in the node's own order. Another
//! thread's input waits for the turn; another thread's poll gets `NONE`.

use std::sync::{Mutex, PoisonError};

use consensio_core::shared::Shared;
use consensio_core::{Input, Instant, NodeId, Output, Participant, wire};

use crate::consensio_status::*;
use crate::{Failure, Result};

/// A participant that threads take turns on, and the bytes of its last
/// polled output.
#[derive(Debug)]
pub(crate) struct Driver<P> {
    shared: Shared<P>,
    /// The bytes the last polled output points to (a Send's frame, a
    /// record, a payload, a key). Only the thread holding the turn writes
    /// it, while it polls, so they stay valid until that thread polls again.
    bytes: Mutex<Vec<u8>>,
}

/// One polled output; a Send's frame is already in the byte buffer.
pub(crate) enum Polled<P: Participant> {
    Send { to: u64 },
    Persist(P::Persist),
    Event(P::Event),
}

impl<P: Participant> Driver<P>
where
    Failure: From<P::Error>,
{
    pub(crate) fn new(node: P) -> Self {
        Driver {
            shared: Shared::new(node),
            bytes: Mutex::new(Vec::new()),
        }
    }

    /// Feeds `input`, taking the turn (see the module docs).
    pub(crate) fn step(&self, now_ms: u64, input: Input<P::Message, P::Command>) -> Result<()> {
        self.step_then(now_ms, input, |_| ())
    }

    /// As [`step`](Self::step), then reads the node under the same lock.
    pub(crate) fn step_then<R>(
        &self,
        now_ms: u64,
        input: Input<P::Message, P::Command>,
        then: impl FnOnce(&P) -> R,
    ) -> Result<R> {
        Ok(self
            .shared
            .handle_input_then(Instant::from_millis(now_ms), input, then)?)
    }

    /// Decodes `frame` (before taking the turn) and feeds it.
    pub(crate) fn message(&self, now_ms: u64, from: u64, frame: &[u8]) -> Result<()> {
        let message = wire::decode(frame)?;
        self.step(
            now_ms,
            Input::Message {
                from: NodeId(from),
                message,
            },
        )
    }

    /// Polls the calling thread's next output into `fill`, which may leave
    /// bytes in the buffer it is given; returns where those bytes are, as C
    /// sees them (NULL and 0 when there are none, or no output). `fill` is
    /// not called when there is no output.
    pub(crate) fn poll(
        &self,
        fill: impl FnOnce(Polled<P>, &mut Vec<u8>) -> Result<()>,
    ) -> Result<(*const u8, usize)> {
        let polled = self.shared.poll_with(|output| {
            let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
            bytes.clear();
            let polled = match output {
                Output::Send { to, message } => {
                    *bytes = wire::encode_to_vec(&message)?;
                    Polled::Send { to: to.0 }
                }
                Output::Persist(record) => Polled::Persist(record),
                Output::Event(event) => Polled::Event(event),
            };
            fill(polled, &mut bytes)?;
            Ok(if bytes.is_empty() {
                (core::ptr::null(), 0)
            } else {
                (bytes.as_ptr(), bytes.len())
            })
        });
        polled.unwrap_or(Ok((core::ptr::null(), 0)))
    }

    /// When the node next wants a tick, in milliseconds.
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.shared.next_deadline().map(Instant::as_millis)
    }

    /// Reads the node (no turn needed).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        self.shared.with(f)
    }
}

/// Reads a member list, rejecting an impossible count before allocating.
///
/// # Safety
/// `members` must hold `n` ids (or be NULL with `n` 0).
pub(crate) unsafe fn members(members: *const u64, n: usize, max: usize) -> Result<Vec<NodeId>> {
    if n > max {
        return Err(Failure::new(
            CONSENSIO_LIMIT_EXCEEDED,
            format!("{n} members; at most {max}"),
        ));
    }
    // SAFETY: forwarded from the caller.
    let ids = unsafe { crate::slice(members, n, "members") }?;
    Ok(ids.iter().copied().map(NodeId).collect())
}

/// Writes `Option<u64>` as a has-flag and a value.
pub(crate) fn optional(value: Option<u64>, has: &mut u8, out: &mut u64) {
    match value {
        Some(v) => {
            *has = 1;
            *out = v;
        }
        None => *has = 0,
    }
}
