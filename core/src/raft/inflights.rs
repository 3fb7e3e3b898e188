//! The flow-control window of one follower: the AppendEntries messages a
//! leader has sent but not yet seen acknowledged (etcd-io/raft's
//! `tracker.Inflights`).
//!
//! A leader streams entries to a follower optimistically, but never more
//! than `max_messages` messages or `max_bytes` payload bytes ahead of the
//! acknowledgements. The window is full as soon as either bound is reached,
//! so it can overshoot the byte bound by at most one message.

use alloc::collections::VecDeque;

/// Messages in flight to one follower, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inflights {
    /// `(last index carried, payload bytes)` per message, in sending order,
    /// so last indexes ascend.
    sent: VecDeque<(u64, usize)>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
}

impl Inflights {
    /// An empty window with the given bounds.
    pub(crate) const fn new(max_messages: usize, max_bytes: usize) -> Self {
        Inflights {
            sent: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
        }
    }

    /// Whether no more messages may be sent until some are acknowledged.
    pub(crate) fn is_full(&self) -> bool {
        self.sent.len() >= self.max_messages || self.bytes >= self.max_bytes
    }

    /// Records a message carrying entries up to `last_index`. Callers check
    /// [`is_full`](Self::is_full) first; a full window ignores the message,
    /// which keeps the bound whatever the caller does.
    pub(crate) fn add(&mut self, last_index: u64, bytes: usize) {
        if self.is_full() {
            return;
        }
        self.sent.push_back((last_index, bytes));
        self.bytes = self.bytes.saturating_add(bytes);
    }

    /// Forgets every message whose entries are all acknowledged by `index`.
    pub(crate) fn free_up_to(&mut self, index: u64) {
        while let Some(&(last, bytes)) = self.sent.front() {
            if last > index {
                break;
            }
            self.sent.pop_front();
            self.bytes = self.bytes.saturating_sub(bytes);
        }
    }

    /// Forgets the oldest message: a heartbeat answer shows the follower is
    /// alive, so one more message may probe whether an earlier one was lost.
    pub(crate) fn free_first(&mut self) {
        if let Some((_, bytes)) = self.sent.pop_front() {
            self.bytes = self.bytes.saturating_sub(bytes);
        }
    }

    /// Forgets everything.
    pub(crate) fn reset(&mut self) {
        self.sent.clear();
        self.bytes = 0;
    }

    /// Number of messages in flight.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_fills_at_either_bound_and_frees_in_order() {
        let mut w = Inflights::new(3, 100);
        w.add(5, 10);
        w.add(9, 10);
        assert!(!w.is_full());
        w.add(12, 10);
        assert!(w.is_full(), "three messages");
        w.add(20, 10);
        assert_eq!(w.len(), 3, "a full window takes nothing more");
        w.free_up_to(9);
        assert_eq!(w.len(), 1);
        w.add(30, 95);
        assert!(w.is_full(), "105 bytes");
        w.free_first();
        assert!(!w.is_full());
        w.reset();
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn freeing_a_stale_index_frees_nothing() {
        let mut w = Inflights::new(4, 1_000);
        w.add(5, 1);
        w.free_up_to(4);
        assert_eq!(w.len(), 1);
        w.free_up_to(u64::MAX);
        assert_eq!(w.len(), 0);
    }
}
