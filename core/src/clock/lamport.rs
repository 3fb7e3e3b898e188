//! Lamport's logical clock ("Time, Clocks, and the Ordering of Events in a
//! Distributed System", CACM 1978).
//!
//! Rules IR1 and IR2 of the paper: a process increments its clock between any
//! two of its events; a message carries its sender's time, and the receiver
//! advances past it. So if `a → b` then `C(a) < C(b)`; the converse does not
//! hold (use vector clocks for that). Pairing the time with the node id gives
//! the paper's total order `⇒`.

use serde::{Deserialize, Serialize};

use super::Error;
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// A Lamport time paired with the node that produced it. The derived order —
/// time first, then node id — is Lamport's total order of events.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct LamportStamp {
    /// The logical time.
    pub time: u64,
    /// The node that stamped the event (the tie-breaker).
    pub node: NodeId,
}

impl WireMessage for LamportStamp {
    const KIND: u8 = kind::LAMPORT_STAMP;
}

/// A node's Lamport clock.
///
/// ```
/// use consensio::NodeId;
/// use consensio::clock::LamportClock;
///
/// let mut a = LamportClock::new(NodeId(1));
/// let mut b = LamportClock::new(NodeId(2));
/// let sent = a.send()?;             // a: 1
/// b.tick()?;                        // b: 1
/// b.tick()?;                        // b: 2
/// let received = b.receive(sent)?;  // b: max(2, 1) + 1 = 3
/// assert!(sent < received);
/// assert_eq!(received.time, 3);
/// # Ok::<(), consensio::clock::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LamportClock {
    node: NodeId,
    time: u64,
}

impl LamportClock {
    /// A clock for `node` at time 0 (no events yet).
    #[must_use]
    pub const fn new(node: NodeId) -> Self {
        LamportClock { node, time: 0 }
    }

    /// A clock restored at `time` (for example from persisted state).
    #[must_use]
    pub const fn at(node: NodeId, time: u64) -> Self {
        LamportClock { node, time }
    }

    /// The time of the last event.
    #[must_use]
    pub const fn time(&self) -> u64 {
        self.time
    }

    /// The current stamp, without advancing.
    #[must_use]
    pub const fn stamp(&self) -> LamportStamp {
        LamportStamp {
            time: self.time,
            node: self.node,
        }
    }

    /// A local event (IR1): advance and return the event's stamp.
    ///
    /// # Errors
    /// [`Error::Overflow`] at `u64::MAX`; the clock is unchanged.
    pub fn tick(&mut self) -> Result<LamportStamp, Error> {
        self.time = self.time.checked_add(1).ok_or(Error::Overflow)?;
        Ok(self.stamp())
    }

    /// A send event: advance and return the stamp the message carries.
    ///
    /// # Errors
    /// As [`tick`](Self::tick).
    pub fn send(&mut self) -> Result<LamportStamp, Error> {
        self.tick()
    }

    /// A receive event (IR2): advance past both the local time and the
    /// message's, and return the receive event's stamp.
    ///
    /// # Errors
    /// [`Error::Overflow`] if the remote time is `u64::MAX`; the clock is
    /// unchanged.
    pub fn receive(&mut self, remote: LamportStamp) -> Result<LamportStamp, Error> {
        self.time = self
            .time
            .max(remote.time)
            .checked_add(1)
            .ok_or(Error::Overflow)?;
        Ok(self.stamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_advances_past_the_message_and_local_time() {
        let mut c = LamportClock::new(NodeId(1));
        let remote = LamportStamp {
            time: 10,
            node: NodeId(2),
        };
        assert_eq!(c.receive(remote).unwrap().time, 11);
        let older = LamportStamp {
            time: 3,
            node: NodeId(2),
        };
        assert_eq!(c.receive(older).unwrap().time, 12);
    }

    #[test]
    fn ties_in_time_are_broken_by_node_id() {
        let a = LamportStamp {
            time: 5,
            node: NodeId(1),
        };
        let b = LamportStamp {
            time: 5,
            node: NodeId(2),
        };
        let c = LamportStamp {
            time: 6,
            node: NodeId(0),
        };
        assert!(a < b && b < c);
    }

    #[test]
    fn a_hostile_remote_time_cannot_overflow_the_clock() {
        let mut c = LamportClock::at(NodeId(1), 7);
        let hostile = LamportStamp {
            time: u64::MAX,
            node: NodeId(9),
        };
        assert_eq!(c.receive(hostile), Err(Error::Overflow));
        assert_eq!(c.time(), 7, "unchanged after the error");
        let mut full = LamportClock::at(NodeId(1), u64::MAX);
        assert_eq!(full.tick(), Err(Error::Overflow));
        assert_eq!(full.time(), u64::MAX);
    }
}
