//! Configuration of a Raft node: who votes, timing, and every bound.

use alloc::vec::Vec;

use crate::id::NodeId;
use crate::quorum::JointConfig;
use crate::wire::DEFAULT_MAX_ENCODED_LEN;

use super::{Error, Membership};

/// Bytes an entry adds to a message besides its payload: two varints
/// (term, length) of at most ten bytes each.
const ENTRY_OVERHEAD: usize = 20;
/// Bytes of an AppendEntries besides its entries: header, term, tag,
/// three varints and the vector length, rounded up.
const MESSAGE_OVERHEAD: usize = 64;
/// The most bytes a membership takes encoded: three lists of up to 64 ids
/// of up to ten bytes each, with their lengths. A snapshot chunk carries
/// one, and a membership entry may be the one entry of an AppendEntries.
const MAX_MEMBERSHIP_LEN: usize = 3 * (10 + 64 * 10);

/// The largest `max_snapshot_bytes`: half of a record's frame bound, the
/// rest left for the log a snapshot record carries.
const MAX_SNAPSHOT_BYTES: usize = 512 << 20;

/// Configuration of a [`RaftNode`](super::RaftNode).
///
/// Timing follows §5.6: `heartbeat_interval_ms` well below
/// `election_timeout_min_ms`, and the election timeout well above the
/// network's round trip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id: a voter, a learner, or neither (a node that joins a
    /// running cluster: it takes the membership from the leader that adds
    /// it, and never campaigns until a membership makes it a voter).
    pub id: NodeId,
    /// The voters of the cluster's first membership (or, for a node that
    /// joins, of the membership it joins). Outside a joint change the
    /// outgoing half is empty. The membership in the log, from the
    /// snapshot and the membership entries after it, replaces it (§6).
    pub voters: JointConfig,
    /// The learners of the first membership: non-voting members that
    /// receive the log (thesis §4.2.1). None by default.
    pub learners: Vec<NodeId>,
    /// Seed of the node's [`Rng`](crate::Rng) (election timeouts).
    pub seed: u64,
    /// Election timeouts are drawn uniformly from
    /// `[election_timeout_min_ms, election_timeout_max_ms)` (§5.2).
    pub election_timeout_min_ms: u64,
    /// Upper bound (exclusive) of the election timeout.
    pub election_timeout_max_ms: u64,
    /// A leader sends heartbeats this often.
    pub heartbeat_interval_ms: u64,
    /// Run a pre-vote before each election (thesis §9.6), so a node that
    /// cannot win does not raise the term and disrupt the cluster.
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum within an election timeout
    /// steps down (thesis §6.2). Required for lease reads.
    pub check_quorum: bool,
    /// The most the leader's clock may run slow relative to a follower's
    /// over one election timeout; the lease is shortened by it.
    pub max_clock_drift_ms: u64,
    /// Most entries in one AppendEntries, sent or accepted.
    pub max_entries_per_message: usize,
    /// Most payload bytes in one AppendEntries, sent or accepted.
    pub max_bytes_per_message: usize,
    /// Largest payload of one proposal.
    pub max_entry_bytes: usize,
    /// Most AppendEntries in flight to one follower while streaming.
    pub max_inflight_messages: usize,
    /// Most payload bytes in flight to one follower while streaming.
    pub max_inflight_bytes: usize,
    /// Most entries a leader holds beyond its commit index before it
    /// refuses proposals.
    pub max_uncommitted_entries: u64,
    /// Most reads waiting for confirmation.
    pub max_pending_reads: usize,
    /// Most committed entries handed to the application per input; the rest
    /// follow on the next tick, which is due at once.
    pub max_apply_per_step: usize,
    /// While this many outputs are waiting to be drained, inputs are
    /// refused with [`Error::Backpressure`].
    pub max_outputs: usize,
    /// The cluster's id, written with the node's id into its records, so
    /// that restore refuses another node's or another cluster's records
    /// ([`Error::ForeignRecords`]). Pick it at random when the cluster is
    /// created, and give every node the same; 0 by default.
    pub cluster: u64,
    /// Largest snapshot the node takes or accepts from a leader, bytes
    /// (§7). Use the same on every node: a follower drops a leader's
    /// snapshot that exceeds its own bound.
    pub max_snapshot_bytes: usize,
}

impl Config {
    /// Defaults for node `id` among `voters`: elections after 150–300 ms,
    /// heartbeats every 50 ms, pre-vote and check-quorum on, 10 ms of clock
    /// drift, messages of up to 64 entries and 256 KiB, proposals up to
    /// 64 KiB, 8 messages or 1 MiB in flight per follower, 1,024
    /// uncommitted entries, 1,024 waiting reads, 256 entries applied per
    /// input, 4,096 queued outputs, snapshots up to 64 MiB.
    #[must_use]
    pub fn new(id: NodeId, voters: impl Into<JointConfig>) -> Self {
        Config {
            id,
            voters: voters.into(),
            learners: Vec::new(),
            seed: id.0,
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            heartbeat_interval_ms: 50,
            pre_vote: true,
            check_quorum: true,
            max_clock_drift_ms: 10,
            max_entries_per_message: 64,
            max_bytes_per_message: 256 << 10,
            max_entry_bytes: 64 << 10,
            max_inflight_messages: 8,
            max_inflight_bytes: 1 << 20,
            max_uncommitted_entries: 1_024,
            max_pending_reads: 1_024,
            max_apply_per_step: 256,
            max_outputs: 4_096,
            max_snapshot_bytes: 64 << 20,
            cluster: 0,
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::BadConfig`] naming the first problem found.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason| Err(Error::BadConfig { reason });
        if let Err(Error::BadConfig { reason }) = self.membership() {
            return bad(reason);
        }
        if self.heartbeat_interval_ms == 0 {
            return bad("the heartbeat interval must be positive");
        }
        if self.heartbeat_interval_ms >= self.election_timeout_min_ms {
            return bad("heartbeats must be more frequent than elections");
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return bad("the election timeout range is empty");
        }
        if self.max_clock_drift_ms >= self.election_timeout_min_ms {
            return bad("the clock drift bound leaves no lease");
        }
        if self.max_entries_per_message == 0
            || self.max_inflight_messages == 0
            || self.max_inflight_bytes == 0
            || self.max_uncommitted_entries == 0
            || self.max_apply_per_step == 0
            || self.max_outputs == 0
        {
            return bad("every bound must be at least 1");
        }
        if self.max_snapshot_bytes > MAX_SNAPSHOT_BYTES {
            return bad("snapshots are bounded by 512 MiB (a record holds one)");
        }
        if self.max_entry_bytes > self.max_bytes_per_message {
            return bad("a proposal must fit in one message");
        }
        // The largest AppendEntries must fit in a wire frame.
        if self
            .max_frame_len()
            .is_none_or(|n| n > DEFAULT_MAX_ENCODED_LEN)
        {
            return bad("the largest message would not fit in a wire frame");
        }
        Ok(())
    }

    /// The membership this configuration starts from.
    ///
    /// # Errors
    /// [`Error::BadConfig`] if it is not one (see [`Membership::new`]).
    pub fn membership(&self) -> Result<Membership, Error> {
        Membership::new(self.voters.clone(), self.learners.iter().copied())
    }

    /// The most bytes one encoded message of this node can take: an
    /// AppendEntries of `max_entries_per_message` entries and
    /// `max_bytes_per_message` payload bytes (or one entry of up to
    /// `max_entry_bytes` alone), with its framing. Every other message is
    /// smaller (a snapshot chunk carries at most `max_bytes_per_message`
    /// and a membership). A membership takes up to about 2 KB, so the
    /// bound is that much above the entries' bytes. A host that sends datagrams bounds them with this. `None`
    /// if it overflows (such a configuration does not validate).
    #[must_use]
    pub fn max_frame_len(&self) -> Option<usize> {
        // A lone membership entry, or a snapshot chunk and its membership.
        let payload = self
            .max_bytes_per_message
            .max(self.max_entry_bytes)
            .checked_add(MAX_MEMBERSHIP_LEN)?;
        self.max_entries_per_message
            .checked_mul(ENTRY_OVERHEAD)
            .and_then(|n| n.checked_add(payload))
            .and_then(|n| n.checked_add(MESSAGE_OVERHEAD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::MajorityConfig;

    fn config() -> Config {
        let voters = MajorityConfig::from_voters([1, 2, 3].map(NodeId)).unwrap();
        Config::new(NodeId(1), voters)
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(config().validate(), Ok(()));
    }

    #[test]
    fn unusable_configurations_are_refused() {
        let cases: [fn(&mut Config); 9] = [
            |c| c.voters = JointConfig::default(),
            |c| c.learners = alloc::vec![NodeId(2)],
            |c| c.heartbeat_interval_ms = 0,
            |c| c.heartbeat_interval_ms = 150,
            |c| c.election_timeout_max_ms = 150,
            |c| c.max_clock_drift_ms = 150,
            |c| c.max_inflight_messages = 0,
            |c| c.max_bytes_per_message = 1 << 20,
            |c| c.max_snapshot_bytes = (512 << 20) + 1,
        ];
        for (i, break_it) in cases.iter().enumerate() {
            let mut c = config();
            break_it(&mut c);
            assert!(
                matches!(c.validate(), Err(Error::BadConfig { .. })),
                "case {i}"
            );
        }
        let mut c = config();
        c.max_entry_bytes = c.max_bytes_per_message + 1;
        assert!(c.validate().is_err());
    }

    /// The bound `max_frame_len` states holds for the largest message the
    /// configuration allows, encoded.
    #[test]
    fn the_largest_append_fits_the_stated_frame_length() {
        use crate::raft::{Body, Entry, Message};
        let mut c = config();
        c.max_entries_per_message = 4;
        c.max_bytes_per_message = 1_000;
        c.max_entry_bytes = 1_000;
        let bound = c.max_frame_len().unwrap();
        let entries = (0..4)
            .map(|i| {
                Entry::normal(
                    u64::MAX - 1,
                    alloc::vec![7; if i == 0 { 1_000 - 3 } else { 1 }],
                )
            })
            .collect();
        let message = Message {
            term: u64::MAX - 1,
            body: Body::AppendEntries {
                prev_log_index: u64::MAX,
                prev_log_term: u64::MAX - 1,
                entries,
                leader_commit: u64::MAX,
            },
        };
        let frame = crate::wire::encode_to_vec(&message).unwrap();
        assert!(frame.len() <= bound, "{} > {bound}", frame.len());
        // The largest membership: 64 voters in each half, 64 learners.
        let ids = |from: u64| (0..64).map(move |k| NodeId(u64::MAX - from - k));
        let half = |from| MajorityConfig::from_voters(ids(from)).unwrap();
        let membership = Membership::new(JointConfig::new(half(0), half(64)), ids(64)).unwrap();
        let chunk = Message {
            term: u64::MAX - 1,
            body: Body::InstallSnapshot {
                index: u64::MAX,
                snapshot_term: u64::MAX,
                offset: u64::MAX,
                data: alloc::vec![7; 1_000],
                done: true,
                membership,
            },
        };
        let frame = crate::wire::encode_to_vec(&chunk).unwrap();
        assert!(frame.len() <= bound, "a chunk: {} > {bound}", frame.len());
        assert!(bound < frame.len() + 200, "the bound is not loose: {bound}");
    }
}
