//! The one way a participant is driven from C: feed bytes, ticks and
//! commands, poll outputs one at a time. Each family's handle wraps a
//! [`Driver`] and turns its [`Polled`] outputs into its own C struct.

use consensio_core::{Input, Instant, NodeId, Output, Participant, wire};

use crate::consensio_status::*;
use crate::{Failure, Result};

/// A participant and the bytes of its last polled output.
#[derive(Debug)]
pub(crate) struct Driver<P> {
    pub(crate) node: P,
    /// The frame of the last polled Send; valid until the next call.
    scratch: Vec<u8>,
}

/// One polled output, with a Send's frame borrowed from the driver.
pub(crate) enum Polled<'a, P: Participant> {
    None,
    Send { to: u64, frame: &'a [u8] },
    Persist(P::Persist),
    Event(P::Event),
}

impl<P: Participant> Driver<P>
where
    Failure: From<P::Error>,
{
    pub(crate) fn new(node: P) -> Self {
        Driver {
            node,
            scratch: Vec::new(),
        }
    }

    pub(crate) fn step(&mut self, now_ms: u64, input: Input<P::Message, P::Command>) -> Result<()> {
        self.scratch.clear();
        Ok(self
            .node
            .handle_input(Instant::from_millis(now_ms), input)?)
    }

    pub(crate) fn message(&mut self, now_ms: u64, from: u64, frame: &[u8]) -> Result<()> {
        let message = wire::decode(frame)?;
        self.step(
            now_ms,
            Input::Message {
                from: NodeId(from),
                message,
            },
        )
    }

    pub(crate) fn poll(&mut self) -> Result<Polled<'_, P>> {
        self.scratch.clear();
        Ok(match self.node.poll_output() {
            None => Polled::None,
            Some(Output::Send { to, message }) => {
                self.scratch = wire::encode_to_vec(&message)?;
                Polled::Send {
                    to: to.0,
                    frame: &self.scratch,
                }
            }
            Some(Output::Persist(record)) => Polled::Persist(record),
            Some(Output::Event(event)) => Polled::Event(event),
        })
    }

    pub(crate) fn deadline(&self) -> Option<u64> {
        self.node.next_deadline().map(Instant::as_millis)
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
