//! What a leader knows about one follower (etcd-io/raft's
//! `tracker.Progress`; `matchIndex` and `nextIndex` of §5.3).
//!
//! A follower's progress is in one of three states (etcd's):
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
//! - **Snapshot**: the follower needs entries the leader has compacted
//!   away (§7). The leader streams its snapshot in chunks, within the
//!   window of `max_inflight_bytes`, from where the follower says it is;
//!   when a heartbeat answer shows no chunk was acknowledged since the
//!   previous one, it resends from the last acknowledged byte (a chunk was
//!   lost). Once installed, the follower's AppendAccepted moves it to
//!   replicate.
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
    /// Sending a snapshot.
    Snapshot,
}

/// Where the sending of a snapshot to one follower stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotSend {
    /// The snapshot's last index.
    pub(crate) index: u64,
    /// Bytes sent from offset 0.
    sent: u64,
    /// Bytes the follower said it holds.
    acked: u64,
    /// The last chunk went out (and is not known to be lost).
    done_sent: bool,
    /// `acked` at the last heartbeat answer (`None` before one).
    acked_at_heartbeat: Option<u64>,
}

/// One chunk to send: `offset..end` of the snapshot, and whether it is the
/// last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) offset: u64,
    pub(crate) end: u64,
    pub(crate) done: bool,
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
    /// In snapshot: what has been sent.
    pub(crate) snapshot: SnapshotSend,
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
            snapshot: SnapshotSend {
                index: 0,
                sent: 0,
                acked: 0,
                done_sent: false,
                acked_at_heartbeat: None,
            },
        }
    }

    /// Whether the leader must hold back AppendEntries to this follower.
    pub(crate) fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.is_full(),
            // Chunks go out through `next_chunk`, entries after it.
            ProgressState::Snapshot => true,
        }
    }

    /// Starts (or restarts) sending the snapshot of `index`.
    pub(crate) fn begin_snapshot(&mut self, index: u64) {
        self.state = ProgressState::Snapshot;
        self.probe_sent = false;
        self.inflights.reset();
        self.snapshot = SnapshotSend {
            index,
            sent: 0,
            acked: 0,
            done_sent: false,
            acked_at_heartbeat: None,
        };
    }

    /// The next chunk of a snapshot of `len` bytes, if the window allows
    /// one: at most `max_chunk` bytes, and at most `window` bytes sent
    /// beyond what the follower acknowledged (a first chunk always goes).
    /// Records it as sent.
    pub(crate) fn next_chunk(&mut self, len: u64, max_chunk: u64, window: u64) -> Option<Chunk> {
        let s = &mut self.snapshot;
        if self.state != ProgressState::Snapshot || s.done_sent {
            return None;
        }
        let in_flight = s.sent.saturating_sub(s.acked);
        if in_flight > 0 && in_flight.saturating_add(max_chunk) > window {
            return None;
        }
        let offset = s.sent.min(len);
        let end = offset.saturating_add(max_chunk.max(1)).min(len);
        let done = end == len;
        s.sent = end;
        s.done_sent = done;
        Some(Chunk { offset, end, done })
    }

    /// The follower holds the first `received` bytes of the snapshot of
    /// `index` (of `len` bytes). Returns whether that concerns the
    /// snapshot being sent.
    pub(crate) fn snapshot_received(&mut self, index: u64, received: u64, len: u64) -> bool {
        let s = &mut self.snapshot;
        if self.state != ProgressState::Snapshot || index != s.index {
            return false;
        }
        let received = received.min(len);
        if received < s.acked {
            return true; // an older answer
        }
        s.acked = received;
        if received > s.sent {
            // It holds more than we know we sent (an earlier attempt):
            // go on from there.
            s.sent = received;
            s.done_sent = false;
        }
        true
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
            ProgressState::Snapshot => {}
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
        let installed = self.state == ProgressState::Snapshot && index >= self.snapshot.index;
        if self.state == ProgressState::Probe || installed {
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
            // Entries sent before the snapshot began.
            ProgressState::Snapshot => true,
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
            ProgressState::Snapshot => {
                let s = &mut self.snapshot;
                if s.acked_at_heartbeat == Some(s.acked) {
                    // Nothing acknowledged for a heartbeat interval: a
                    // chunk was lost; resend from what the follower holds.
                    s.sent = s.acked;
                    s.done_sent = false;
                }
                s.acked_at_heartbeat = Some(s.acked);
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

    #[test]
    fn a_snapshot_streams_in_chunks_within_the_window_and_resumes_after_loss() {
        let mut p = Progress::new(1, 4, 25);
        p.begin_snapshot(40);
        assert!(p.is_paused(), "no entries while a snapshot is sent");
        let chunk = |p: &mut Progress| p.next_chunk(35, 10, 25);
        let c = |offset, end, done| Some(Chunk { offset, end, done });
        assert_eq!(chunk(&mut p), c(0, 10, false));
        assert_eq!(chunk(&mut p), c(10, 20, false));
        assert_eq!(chunk(&mut p), None, "30 bytes would exceed the window");
        assert!(p.snapshot_received(40, 10, 35));
        assert_eq!(chunk(&mut p), c(20, 30, false));
        assert!(!p.snapshot_received(39, 30, 35), "another snapshot");
        // The chunk at 10 was lost: the follower still says 10. The first
        // heartbeat answer only notes it; the second, with no progress in
        // between, rewinds.
        assert!(p.snapshot_received(40, 10, 35));
        p.heartbeat_answered(1);
        assert_eq!(chunk(&mut p), None);
        p.heartbeat_answered(2);
        assert_eq!(chunk(&mut p), c(10, 20, false));
        assert!(p.snapshot_received(40, 30, 35), "an earlier copy got there");
        assert_eq!(chunk(&mut p), c(30, 35, true));
        assert_eq!(chunk(&mut p), None, "all sent");
        assert!(
            !p.maybe_decrease(5, 1),
            "rejections from before the snapshot"
        );
        assert!(!p.maybe_update(0));
        assert!(p.maybe_update(12));
        assert_eq!(p.state, ProgressState::Snapshot, "not yet installed");
        assert!(p.maybe_update(40));
        assert_eq!((p.state, p.next_index), (ProgressState::Replicate, 41));
        // An empty snapshot is one empty, last chunk.
        p.begin_snapshot(50);
        assert_eq!(p.next_chunk(0, 10, 25), c(0, 0, true));
        assert_eq!(p.next_chunk(0, 10, 25), None);
    }
}
