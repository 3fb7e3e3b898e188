//! Why a Raft node refused an input.

use core::fmt;

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;
use crate::wire::WireError;

/// Why an input, a configuration or a restart was refused. Unless a variant
/// says otherwise, the node is unchanged and outputs queued before the call
/// stay queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes from a peer were not a valid message.
    Wire(WireError),
    /// Only the leader takes proposals and reads.
    NotLeader {
        /// The leader of the current term, if this node knows it.
        leader_hint: Option<NodeId>,
    },
    /// The log holds its maximum number of entries or bytes.
    LogFull,
    /// The proposal's payload exceeds `max_entry_bytes`.
    EntryTooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// `max_uncommitted_entries` entries are waiting to commit.
    TooManyUncommitted {
        /// The bound.
        max: u64,
    },
    /// `max_pending_reads` reads are waiting.
    TooManyReads {
        /// The bound.
        max: usize,
    },
    /// Lease reads need `check_quorum`.
    LeaseReadsDisabled,
    /// The leader is handing leadership to `to` and takes no proposals
    /// until that ends (thesis §3.10): it either steps down or, after an
    /// election timeout, goes on leading.
    TransferInProgress {
        /// The node leadership is handed to.
        to: NodeId,
    },
    /// Leadership can only be handed to another voter.
    NotAVoter {
        /// The node named.
        id: NodeId,
    },
    /// `max_outputs` outputs are waiting; drain them and retry.
    Backpressure {
        /// The bound.
        max: usize,
    },
    /// The configuration is unusable.
    BadConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A snapshot must cover only entries the application has applied
    /// (§7): `index` is beyond the applied index.
    SnapshotNotApplied {
        /// The snapshot's index.
        index: u64,
        /// The applied index.
        applied: u64,
    },
    /// A snapshot must cover more than the last one: `index` is at or
    /// below the index the log is compacted to.
    SnapshotBehind {
        /// The snapshot's index.
        index: u64,
        /// The index the last snapshot covers.
        snapshot_index: u64,
    },
    /// The snapshot's data exceeds `max_snapshot_bytes`.
    SnapshotTooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The application could not read the snapshot at `index` (for a
    /// [`KvNode`](crate::raft::KvNode): not the image of a store with the
    /// same limits). The node has installed it, the store has not: the one
    /// error after which the node did change
    /// ([`Classify::changed_state`]); rebuild the node from a peer, since
    /// restoring it from its records fails the same way.
    CorruptSnapshot {
        /// The snapshot's index.
        index: u64,
    },
    /// The membership change does not apply to the current membership
    /// (see [`Membership::apply`](super::Membership::apply)).
    BadMembershipChange {
        /// Why.
        reason: &'static str,
    },
    /// A membership change is under way: the last one has not committed
    /// (or, as a joint change, not finished), or this leader has not yet
    /// committed an entry of its own term. One change at a time (thesis
    /// §4.1); retry once it has.
    MembershipChangePending,
    /// A learner is promoted only once its log holds every committed entry
    /// (thesis §4.2.1); `id` holds up to `match_index`.
    LearnerBehind {
        /// The learner.
        id: NodeId,
        /// What its log is known to hold.
        match_index: u64,
        /// The leader's commit index.
        commit_index: u64,
    },
    /// Persisted records written by another node or cluster: the record
    /// that names its writer (the first one, or a snapshot record) names
    /// another node id or cluster id than the configuration's. No node was
    /// built.
    ForeignRecords {
        /// Position of the record.
        record: usize,
    },
    /// Persisted records that no run of this node could have written: an
    /// entry record that leaves a gap in the log, a term that goes
    /// backwards, entries whose terms decrease or exceed the term recorded
    /// before them. No node was built.
    CorruptRecords {
        /// Position of the offending record.
        record: usize,
    },
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wire(e) => write!(f, "bad message: {e}"),
            Error::NotLeader {
                leader_hint: Some(leader),
            } => write!(f, "not the leader (try {leader})"),
            Error::NotLeader { leader_hint: None } => {
                f.write_str("not the leader (leader unknown)")
            }
            Error::LogFull => f.write_str("the log is full"),
            Error::EntryTooLarge { len, max } => {
                write!(f, "a proposal of {len} bytes exceeds the limit of {max}")
            }
            Error::TooManyUncommitted { max } => {
                write!(f, "{max} entries are already waiting to commit")
            }
            Error::TooManyReads { max } => write!(f, "{max} reads are already waiting"),
            Error::LeaseReadsDisabled => f.write_str("lease reads need check_quorum"),
            Error::TransferInProgress { to } => {
                write!(
                    f,
                    "leadership is being handed to {to}; retry there or later"
                )
            }
            Error::NotAVoter { id } => write!(f, "{id} is not a voter"),
            Error::Backpressure { max } => {
                write!(f, "{max} outputs are waiting to be drained")
            }
            Error::SnapshotNotApplied { index, applied } => write!(
                f,
                "a snapshot at {index} covers entries not applied yet (applied: {applied})"
            ),
            Error::SnapshotBehind {
                index,
                snapshot_index,
            } => write!(
                f,
                "a snapshot at {index} is not past the last one, at {snapshot_index}"
            ),
            Error::SnapshotTooLarge { len, max } => {
                write!(f, "a snapshot of {len} bytes exceeds the limit of {max}")
            }
            Error::CorruptSnapshot { index } => {
                write!(
                    f,
                    "the snapshot at {index} is not a state this application reads"
                )
            }
            Error::BadMembershipChange { reason } => {
                write!(f, "bad membership change: {reason}")
            }
            Error::MembershipChangePending => {
                f.write_str("a membership change is under way; retry once it commits")
            }
            Error::LearnerBehind {
                id,
                match_index,
                commit_index,
            } => write!(
                f,
                "learner {id} holds entries up to {match_index}, behind the commit index {commit_index}"
            ),
            Error::ForeignRecords { record } => write!(
                f,
                "persisted record {record} was written by another node or cluster"
            ),
            Error::BadConfig { reason } => write!(f, "bad configuration: {reason}"),
            Error::CorruptRecords { record } => {
                write!(
                    f,
                    "persisted record {record} does not follow the ones before it"
                )
            }
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Wire(w) => w.kind(),
            // Right request, wrong moment: ask the leader, or enable
            // check-quorum.
            Error::NotLeader { .. }
            | Error::LeaseReadsDisabled
            | Error::TransferInProgress { .. }
            | Error::SnapshotNotApplied { .. }
            | Error::SnapshotBehind { .. }
            | Error::MembershipChangePending
            | Error::LearnerBehind { .. } => ErrorKind::Rejected,
            Error::LogFull
            | Error::EntryTooLarge { .. }
            | Error::TooManyUncommitted { .. }
            | Error::TooManyReads { .. }
            | Error::SnapshotTooLarge { .. }
            | Error::Backpressure { .. } => ErrorKind::LimitExceeded,
            Error::CorruptSnapshot { .. } => ErrorKind::Malformed,
            Error::ForeignRecords { .. } => ErrorKind::VerificationFailed,
            _ => ErrorKind::InvalidArgument,
        }
    }

    /// `CorruptSnapshot` from [`KvNode`](crate::raft::KvNode)'s
    /// `handle_input`: the Raft node installed the snapshot before the store
    /// failed to read it, so the node did change (and must be rebuilt).
    fn changed_state(&self) -> bool {
        matches!(self, Error::CorruptSnapshot { .. })
    }
}
