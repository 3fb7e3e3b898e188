//! The messages Raft nodes exchange (§5, Figure 2; pre-vote from the thesis
//! §9.6; heartbeat rounds for ReadIndex from the thesis §6.4; leadership
//! transfer from the thesis §3.10; InstallSnapshot from §7, Figure 13;
//! reads from followers from the thesis §6.4.1).
//!
//! Every message carries the sender's term, so the receiver applies the rule
//! of §5.1 (a higher term makes it a follower, a lower one marks the message
//! stale) before it looks at the body. Two bodies carry another term: a
//! pre-vote request carries the term the pre-candidate *would* campaign in,
//! and a granted pre-vote the term it was asked about.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::Membership;
use crate::wire::{WireMessage, kind};

/// One log entry as it travels: its index is implied by its position in an
/// [`Body::AppendEntries`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// The term of the leader that created it.
    pub term: u64,
    /// What `data` holds.
    pub kind: EntryKind,
    /// The application's payload (empty for the entry a new leader
    /// appends), or a membership.
    pub data: Vec<u8>,
}

impl Entry {
    /// An entry of the application's, or a new leader's empty one.
    #[must_use]
    pub const fn normal(term: u64, data: Vec<u8>) -> Self {
        Entry {
            term,
            kind: EntryKind::Normal,
            data,
        }
    }
}

/// What an [`Entry`] holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// The application's payload.
    #[default]
    Normal,
    /// A [`Membership`], encoded with postcard: the cluster's
    /// configuration from this entry on (§6; thesis §4.1).
    Membership,
}

/// A message between Raft nodes: the sender's term and what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The sender's current term, except as noted on [`Body::PreVote`] and
    /// [`Body::PreVoteResponse`].
    pub term: u64,
    /// The message proper.
    pub body: Body,
}

/// What a [`Message`] says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Pre-candidate → voter: would you vote for me in `term` (the
    /// message's term, one above the sender's own)? Changes no state.
    PreVote {
        /// Index of the sender's last entry.
        last_log_index: u64,
        /// Term of the sender's last entry.
        last_log_term: u64,
    },
    /// Voter → pre-candidate. Granted: the message's term is the term asked
    /// about. Refused: it is the voter's own term.
    PreVoteResponse {
        /// Whether the voter would vote.
        granted: bool,
    },
    /// Candidate → voter: vote for me in this term (RequestVote, §5.2).
    RequestVote {
        /// Index of the candidate's last entry.
        last_log_index: u64,
        /// Term of the candidate's last entry.
        last_log_term: u64,
        /// The candidate campaigns because its leader handed leadership to
        /// it ([`Body::TimeoutNow`], thesis §3.10): voters grant it even
        /// while they hear from that leader, which has given up its lease.
        transfer: bool,
    },
    /// Voter → candidate.
    RequestVoteResponse {
        /// Whether the vote was granted.
        granted: bool,
    },
    /// Leader → follower: entries following `prev_log_index` (AppendEntries,
    /// §5.3). Empty when it only probes where the logs match.
    AppendEntries {
        /// Index of the entry just before `entries`.
        prev_log_index: u64,
        /// Term of that entry.
        prev_log_term: u64,
        /// Entries from `prev_log_index + 1`, in order.
        entries: Vec<Entry>,
        /// The leader's commit index.
        leader_commit: u64,
    },
    /// Follower → leader: its log matches the leader's up to `match_index`,
    /// durably.
    AppendAccepted {
        /// The last index known to match the leader's log.
        match_index: u64,
    },
    /// Follower → leader: the log did not contain `prev_log_index` with the
    /// expected term. The conflict hint lets the leader skip a whole term
    /// per round trip instead of one entry.
    AppendRejected {
        /// The `prev_log_index` of the rejected request.
        prev_log_index: u64,
        /// The follower's last index plus one if its log is too short;
        /// otherwise the first index of `conflict_term` in its log.
        conflict_index: u64,
        /// The term of the follower's entry at `prev_log_index`, or `None`
        /// if it has no entry there.
        conflict_term: Option<u64>,
    },
    /// Leader → follower: I am still leader; also one round of leadership
    /// confirmation for reads.
    Heartbeat {
        /// The leader's commit index, capped at what this follower is known
        /// to hold.
        leader_commit: u64,
        /// The leader's heartbeat round, echoed back.
        round: u64,
    },
    /// Follower → leader: the echo of a heartbeat's round. Also the reply to
    /// a leader of a stale term, which learns the newer term from it.
    HeartbeatResponse {
        /// The round answered.
        round: u64,
    },
    /// Leader → the follower it hands leadership to, once that follower's
    /// log matches its own: campaign now, without a pre-vote (thesis
    /// §3.10).
    TimeoutNow,
    /// Leader → a follower that needs entries the leader has compacted
    /// away: one chunk of the leader's snapshot (InstallSnapshot, §7,
    /// Figure 13), at most `max_bytes_per_message` bytes. Chunks of one
    /// snapshot are numbered by their byte offset.
    InstallSnapshot {
        /// The last index the snapshot covers.
        index: u64,
        /// The term of the entry at `index`.
        snapshot_term: u64,
        /// Where `data` starts in the snapshot.
        offset: u64,
        /// The chunk.
        data: Vec<u8>,
        /// Whether this is the last chunk.
        done: bool,
        /// The membership at `index`, which the snapshot replaces the log's
        /// configuration entries with.
        membership: Membership,
    },
    /// Follower → leader: it holds the first `received` bytes of the
    /// snapshot of `index`, so the leader goes on from there (also the
    /// answer to a chunk that arrived out of order). A snapshot fully
    /// installed is answered by [`Body::AppendAccepted`] instead.
    SnapshotReceived {
        /// The snapshot's last index.
        index: u64,
        /// The bytes held, from offset 0.
        received: u64,
    },
    /// Follower → its leader: a read index for the follower's read `id`
    /// (thesis §6.4.1), confirmed by a heartbeat round, or by the leader's
    /// lease if `lease` and the lease holds.
    ReadIndex {
        /// The follower's name for the read.
        id: u64,
        /// The read may use the leader's lease.
        lease: bool,
    },
    /// Leader → follower: the read index of the follower's read `id`, or
    /// `None` if the node cannot serve it (not the leader, or at its bound
    /// of waiting reads).
    ReadIndexResponse {
        /// The follower's name for the read.
        id: u64,
        /// The read index: serve the read once it is applied.
        index: Option<u64>,
    },
}

impl WireMessage for Message {
    const KIND: u8 = kind::RAFT;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, WireError};
    use alloc::vec;

    #[test]
    fn every_body_round_trips_through_the_wire() {
        let bodies = [
            Body::PreVote {
                last_log_index: 7,
                last_log_term: 3,
            },
            Body::PreVoteResponse { granted: true },
            Body::RequestVote {
                last_log_index: u64::MAX,
                last_log_term: 0,
                transfer: true,
            },
            Body::RequestVoteResponse { granted: false },
            Body::AppendEntries {
                prev_log_index: 4,
                prev_log_term: 2,
                entries: vec![
                    Entry::normal(2, vec![1, 2]),
                    Entry {
                        term: 3,
                        kind: EntryKind::Membership,
                        data: vec![],
                    },
                ],
                leader_commit: 4,
            },
            Body::AppendAccepted { match_index: 6 },
            Body::AppendRejected {
                prev_log_index: 9,
                conflict_index: 5,
                conflict_term: Some(2),
            },
            Body::Heartbeat {
                leader_commit: 3,
                round: 11,
            },
            Body::HeartbeatResponse { round: 11 },
            Body::TimeoutNow,
            Body::InstallSnapshot {
                index: 90,
                snapshot_term: 4,
                offset: 1 << 20,
                data: vec![7; 3],
                done: true,
                membership: Membership::new(
                    crate::quorum::JointConfig::new(
                        crate::quorum::MajorityConfig::from_voters([crate::NodeId(1)]).unwrap(),
                        crate::quorum::MajorityConfig::new(),
                    ),
                    [crate::NodeId(2)],
                )
                .unwrap(),
            },
            Body::SnapshotReceived {
                index: 90,
                received: 12,
            },
            Body::ReadIndex { id: 3, lease: true },
            Body::ReadIndexResponse {
                id: 3,
                index: Some(41),
            },
            Body::ReadIndexResponse { id: 4, index: None },
        ];
        for body in bodies {
            let message = Message { term: 5, body };
            let frame = wire::encode_to_vec(&message).unwrap();
            assert_eq!(wire::peek_kind(&frame), Ok(kind::RAFT));
            assert_eq!(wire::decode::<Message>(&frame).unwrap(), message);
        }
    }

    #[test]
    fn an_unknown_body_is_malformed() {
        assert_eq!(
            wire::decode::<Message>(&[wire::WIRE_VERSION, kind::RAFT, 1, 42]),
            Err(WireError::Malformed)
        );
    }
}
