//! Reads served without writing to the log: ReadIndex and leases (Raft
//! thesis §6.4; etcd-io/raft's `read_only.go`).
//!
//! A leader serves a read at a *read index*: its commit index when the read
//! arrived (or, before it has committed an entry of its own term, the index
//! of that first entry, since only then does it know its commit index is
//! current). It must also know it was still leader after the read arrived.
//!
//! - **ReadIndex**: the leader starts a heartbeat *round*; followers echo
//!   the round number. Once a quorum has echoed a round at or after the
//!   read's, and the application has applied the read index, the read is
//!   served.
//! - **Lease**: every round a quorum confirms also proves that no other
//!   leader can be elected before the followers' election timeouts run out
//!   (they refuse votes while they hear from a leader). So, from the moment
//!   the round was *sent*, the leader holds a lease of `election_timeout_min
//!   - max_clock_drift`, during which a read needs no round of its own.
//!
//! - **From a follower** (thesis §6.4.1): a follower asks the leader for a
//!   read index; the leader confirms it like its own reads (a round, or its
//!   lease) and answers with the index, and the follower serves the read
//!   once it has applied that far. The leader need not have applied it.
//!
//! This module keeps the rounds, the lease and the queue of reads waiting
//! for them (the leader's own and its followers'); the node decides when a
//! round is confirmed.

use alloc::collections::VecDeque;

use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::time::Instant;

/// Send times remembered for the lease; older rounds only ever give an
/// older (shorter) lease, so forgetting them is safe.
const ROUND_HISTORY: usize = 64;

/// A read waiting for its round and for the application to catch up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingRead {
    /// The follower that asked, or `None` for the leader's own read.
    from: Option<NodeId>,
    id: u64,
    index: u64,
    /// The round a quorum must confirm; 0 for a read under a lease.
    round: u64,
}

/// One leadership's heartbeat rounds, lease and waiting reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadOnly {
    /// The last round sent.
    round: u64,
    /// `(round, sent at)` of recent rounds, ascending.
    sent: VecDeque<(u64, Instant)>,
    /// The last round a quorum echoed.
    confirmed: u64,
    /// When the last confirmed round was sent.
    lease_start: Option<Instant>,
    pending: VecDeque<PendingRead>,
    max_pending: usize,
}

impl ReadOnly {
    /// No rounds, no lease, no reads; at most `max_pending` waiting reads.
    pub(crate) const fn new(max_pending: usize) -> Self {
        ReadOnly {
            round: 0,
            sent: VecDeque::new(),
            confirmed: 0,
            lease_start: None,
            pending: VecDeque::new(),
            max_pending,
        }
    }

    /// The last round sent.
    pub(crate) const fn round(&self) -> u64 {
        self.round
    }

    /// Starts a new round sent at `now`; returns its number.
    pub(crate) fn new_round(&mut self, now: Instant) -> u64 {
        self.round = self.round.saturating_add(1);
        if self.sent.len() >= ROUND_HISTORY {
            self.sent.pop_front();
        }
        self.sent.push_back((self.round, now));
        self.round
    }

    /// A quorum has echoed `round`: it confirms every read waiting for it,
    /// and the lease runs from when it was sent (or, if that round is
    /// forgotten, from an earlier one).
    pub(crate) fn confirm(&mut self, round: u64) {
        if round <= self.confirmed || round > self.round {
            return;
        }
        self.confirmed = round;
        let sent_at = self
            .sent
            .iter()
            .take_while(|&&(r, _)| r <= round)
            .last()
            .map(|&(_, at)| at);
        if sent_at > self.lease_start {
            self.lease_start = sent_at;
        }
    }

    /// Whether a lease of `duration_ms` from the last confirmed round still
    /// holds at `now`.
    pub(crate) fn lease_holds(&self, now: Instant, duration_ms: u64) -> bool {
        self.lease_start.is_some_and(|start| {
            now < start.saturating_add_millis(duration_ms) || planted(Mutant::RaftLeaseNeverExpires)
        })
    }

    /// Whether `max_pending` reads are waiting.
    pub(crate) fn is_full(&self) -> bool {
        self.pending.len() >= self.max_pending
    }

    /// How many reads are waiting.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Queues read `id` of `from` (`None`: the leader's own) at `index`,
    /// waiting for `round` (0: none needed). A full queue takes nothing;
    /// callers check [`is_full`](Self::is_full).
    pub(crate) fn push(&mut self, from: Option<NodeId>, id: u64, index: u64, round: u64) {
        if !self.is_full() {
            let read = PendingRead {
                from,
                id,
                index,
                round,
            };
            self.pending.push_back(read);
        }
    }

    /// Removes every read whose round is confirmed and, for the leader's
    /// own, whose index is applied (a follower waits for its own applied
    /// index), handing `(from, id, index)` to `ready` in arrival order.
    pub(crate) fn take_ready(
        &mut self,
        applied: u64,
        mut ready: impl FnMut(Option<NodeId>, u64, u64),
    ) {
        let confirmed = self.confirmed;
        self.pending.retain(|read| {
            let done = read.round <= confirmed && (read.from.is_some() || read.index <= applied);
            if done {
                ready(read.from, read.id, read.index);
            }
            !done
        });
    }

    /// Drops every waiting read (leadership is lost), handing the ids of
    /// the leader's own to `failed` (a follower's fail by its own
    /// timeout), and forgets the rounds and the lease.
    pub(crate) fn fail_all(&mut self, failed: impl FnMut(u64)) {
        self.pending
            .drain(..)
            .filter(|read| read.from.is_none())
            .map(|read| read.id)
            .for_each(failed);
        self.sent.clear();
        self.round = 0;
        self.confirmed = 0;
        self.lease_start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn ready(r: &mut ReadOnly, applied: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        r.take_ready(applied, |_, id, index| out.push((id, index)));
        out
    }

    #[test]
    fn a_read_waits_for_its_round_and_for_the_applied_index() {
        let mut r = ReadOnly::new(8);
        let round = r.new_round(Instant::from_millis(10));
        r.push(None, 1, 5, round);
        assert!(ready(&mut r, 9).is_empty(), "round not confirmed");
        r.confirm(round);
        assert!(ready(&mut r, 4).is_empty(), "index 5 not applied");
        assert_eq!(ready(&mut r, 5), [(1, 5)]);
        assert!(ready(&mut r, 5).is_empty(), "served once");
    }

    #[test]
    fn an_earlier_round_does_not_confirm_a_later_read() {
        let mut r = ReadOnly::new(8);
        let first = r.new_round(Instant::from_millis(10));
        let second = r.new_round(Instant::from_millis(11));
        r.push(None, 7, 0, second);
        r.confirm(first);
        assert!(ready(&mut r, 0).is_empty());
        r.confirm(second + 1);
        assert!(ready(&mut r, 0).is_empty(), "a round never sent is ignored");
        r.confirm(second);
        assert_eq!(ready(&mut r, 0), [(7, 0)]);
    }

    #[test]
    fn the_lease_runs_from_when_the_confirmed_round_was_sent() {
        let mut r = ReadOnly::new(8);
        assert!(!r.lease_holds(Instant::ZERO, 100));
        let round = r.new_round(Instant::from_millis(1_000));
        r.new_round(Instant::from_millis(1_040));
        r.confirm(round);
        assert!(r.lease_holds(Instant::from_millis(1_099), 100));
        assert!(!r.lease_holds(Instant::from_millis(1_100), 100));
        r.fail_all(|_| {});
        assert!(!r.lease_holds(Instant::from_millis(1_050), 100));
    }

    #[test]
    fn forgotten_rounds_give_an_older_lease_and_the_queue_is_bounded() {
        let mut r = ReadOnly::new(2);
        for t in 0..100 {
            r.new_round(Instant::from_millis(t * 10));
        }
        r.confirm(10);
        assert!(
            !r.lease_holds(Instant::from_millis(100), 1),
            "round 10 is forgotten"
        );
        r.confirm(40);
        assert!(r.lease_holds(Instant::from_millis(390), 1));
        r.push(None, 1, 0, 0);
        r.push(Some(NodeId(2)), 2, 0, 0);
        assert!(r.is_full());
        r.push(None, 3, 0, 0);
        let mut failed = Vec::new();
        r.fail_all(|id| failed.push(id));
        assert_eq!(failed, [1], "a follower's read fails at the follower");
    }

    #[test]
    fn a_followers_read_is_answered_once_confirmed_whatever_the_leader_applied() {
        let mut r = ReadOnly::new(8);
        let round = r.new_round(Instant::from_millis(10));
        r.push(Some(NodeId(3)), 4, 9, round);
        r.push(None, 5, 9, round);
        assert!(ready(&mut r, 0).is_empty(), "round not confirmed");
        r.confirm(round);
        let mut out = Vec::new();
        r.take_ready(2, |from, id, index| out.push((from, id, index)));
        assert_eq!(
            out,
            [(Some(NodeId(3)), 4, 9)],
            "the leader's own waits for 9"
        );
        assert_eq!(ready(&mut r, 9), [(5, 9)]);
    }
}
