//! What a leader knows about one follower (etcd-io/raft's
//! `tracker.Progress`; `matchIndex` and `nextIndex` of §5.3).
//!
//! A follower's progress is in one of two states:
//!
//! - **Probe**: the leader does not know where the logs match. It sends one
//!   AppendEntries and waits for the answer (or for a heartbeat answer,
//!   which shows the follower is reachable and lets it try again). A
//!   rejection moves `next_index` back, by a whole term at a time thanks to
//!   the follower's conflict hint.
//! - **Replicate**: the logs match up to `match_index`; the leader streams
//!   entries optimistically, advancing `next_index` as it sends, within the
//!   [`Inflights`] window. A rejection means a message was lost or the
//!   follower restarted: back to probe.
//!
//! Invariants: `match_index < next_index`; `match_index` never decreases
//! while the leader stays leader.

use super::inflights::Inflights;

/// How the leader is replicating to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgressState {
    /// One message at a time, until the match point is found.
    Probe,
    /// Streaming within the inflight window.
    Replicate,
}

/// The leader's view of one follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Highest index known to be replicated on the follower.
    pub(crate) match_index: u64,
    /// Index of the next entry to send.
    pub(crate) next_index: u64,
    pub(crate) state: ProgressState,
    /// In probe: a message is outstanding, wait for an answer.
    probe_sent: bool,
    inflights: Inflights,
    /// The follower answered since the last check-quorum.
    pub(crate) recent_active: bool,
    /// The highest heartbeat round the follower echoed.
    pub(crate) acked_round: u64,
}

impl Progress {
    /// A follower in probe, about to be sent entries from `next_index`.
    pub(crate) const fn new(next_index: u64, max_messages: usize, max_bytes: usize) -> Self {
        Progress {
            match_index: 0,
            next_index,
            state: ProgressState::Probe,
            probe_sent: false,
            inflights: Inflights::new(max_messages, max_bytes),
            recent_active: false,
            acked_round: 0,
        }
    }

    /// Whether the leader must hold back AppendEntries to this follower.
    pub(crate) fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.is_full(),
        }
    }

    /// Records an AppendEntries carrying entries up to `last_index`
    /// (`bytes` of payload; none if it carried no entries).
    pub(crate) fn sent(&mut self, last_index: u64, bytes: usize, carried_entries: bool) {
        match self.state {
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Replicate => {
                if carried_entries {
                    self.next_index = last_index.saturating_add(1);
                    self.inflights.add(last_index, bytes);
                }
            }
        }
    }

    /// The follower's log matches up to `index`. Returns whether that is
    /// news (a larger match); a probing follower then starts streaming.
    pub(crate) fn maybe_update(&mut self, index: u64) -> bool {
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index.saturating_add(1));
        self.probe_sent = false;
        self.inflights.free_up_to(index);
        if self.state == ProgressState::Probe {
            self.state = ProgressState::Replicate;
            self.next_index = index.saturating_add(1);
            self.inflights.reset();
        }
        true
    }

    /// The follower rejected an AppendEntries whose previous index was
    /// `rejected`; `hint_next` is where the conflict hint says to resume.
    /// Returns whether `next_index` moved (a stale rejection, for a message
    /// older than what the follower has since accepted, moves nothing).
    pub(crate) fn maybe_decrease(&mut self, rejected: u64, hint_next: u64) -> bool {
        let stale = match self.state {
            ProgressState::Replicate => rejected <= self.match_index,
            ProgressState::Probe => self.next_index.checked_sub(1) != Some(rejected),
        };
        if stale {
            return false;
        }
        // Resume after the match point and strictly before the rejected
        // entry, so every rejection makes progress.
        let low = self.match_index.saturating_add(1);
        self.next_index = hint_next.min(rejected).max(low);
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflights.reset();
        true
    }

    /// The follower answered a heartbeat: it is reachable, so a probe may be
    /// retried and one slot of a full window reopened (a message in it may
    /// have been lost).
    pub(crate) fn heartbeat_answered(&mut self, round: u64) {
        self.recent_active = true;
        self.acked_round = self.acked_round.max(round);
        match self.state {
            ProgressState::Probe => self.probe_sent = false,
            ProgressState::Replicate => {
                if self.inflights.is_full() {
                    self.inflights.free_first();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_sends_one_message_then_waits() {
        let mut p = Progress::new(5, 4, 1_000);
        assert!(!p.is_paused());
        p.sent(6, 10, true);
        assert!(p.is_paused());
        assert_eq!(p.next_index, 5, "probing does not advance next_index");
        p.heartbeat_answered(1);
        assert!(!p.is_paused(), "a heartbeat answer allows a retry");
        assert_eq!(p.acked_round, 1);
    }

    #[test]
    fn a_match_moves_a_probe_to_replicate_which_streams_within_the_window() {
        let mut p = Progress::new(5, 2, 1_000);
        p.sent(6, 10, true);
        assert!(p.maybe_update(6));
        assert_eq!(
            (p.state, p.match_index, p.next_index),
            (ProgressState::Replicate, 6, 7)
        );
        p.sent(8, 10, true);
        assert_eq!(p.next_index, 9);
        p.sent(9, 10, true);
        assert!(p.is_paused(), "two messages in flight");
        assert!(!p.maybe_update(5), "stale acknowledgement");
        assert!(p.maybe_update(8));
        assert!(!p.is_paused());
        p.sent(9, 0, false);
        assert_eq!(p.next_index, 10, "an empty message does not move next");
    }

    #[test]
    fn a_full_window_reopens_one_slot_on_a_heartbeat_answer() {
        let mut p = Progress::new(1, 1, 1_000);
        p.maybe_update(1);
        p.sent(3, 10, true);
        assert!(p.is_paused());
        p.heartbeat_answered(2);
        assert!(!p.is_paused());
    }

    #[test]
    fn rejections_move_next_back_but_never_below_the_match_nor_for_stale_messages() {
        let mut p = Progress::new(10, 4, 1_000);
        assert!(!p.maybe_decrease(5, 3), "not the outstanding probe");
        assert!(p.maybe_decrease(9, 4));
        assert_eq!(p.next_index, 4);
        assert!(p.maybe_decrease(3, 100), "the hint may not move next up");
        assert_eq!(p.next_index, 3);
        p.maybe_update(2);
        p.sent(6, 10, true);
        assert_eq!(p.next_index, 7);
        assert!(!p.maybe_decrease(2, 1), "at or below the match: stale");
        assert!(p.maybe_decrease(6, 0));
        assert_eq!((p.state, p.next_index), (ProgressState::Probe, 3));
    }
}
