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
pub enum RaftError {
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
    /// Persisted records that no run of this node could have written (an
    /// entry record that leaves a gap in the log); no node was built.
    CorruptRecords {
        /// Position of the offending record.
        record: usize,
    },
}

impl From<WireError> for RaftError {
    fn from(e: WireError) -> Self {
        RaftError::Wire(e)
    }
}

impl fmt::Display for RaftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaftError::Wire(e) => write!(f, "bad message: {e}"),
            RaftError::NotLeader {
                leader_hint: Some(leader),
            } => write!(f, "not the leader (try {leader})"),
            RaftError::NotLeader { leader_hint: None } => {
                f.write_str("not the leader (leader unknown)")
            }
            RaftError::LogFull => f.write_str("the log is full"),
            RaftError::EntryTooLarge { len, max } => {
                write!(f, "a proposal of {len} bytes exceeds the limit of {max}")
            }
            RaftError::TooManyUncommitted { max } => {
                write!(f, "{max} entries are already waiting to commit")
            }
            RaftError::TooManyReads { max } => write!(f, "{max} reads are already waiting"),
            RaftError::LeaseReadsDisabled => f.write_str("lease reads need check_quorum"),
            RaftError::Backpressure { max } => {
                write!(f, "{max} outputs are waiting to be drained")
            }
            RaftError::BadConfig { reason } => write!(f, "bad configuration: {reason}"),
            RaftError::CorruptRecords { record } => {
                write!(
                    f,
                    "persisted record {record} does not follow the ones before it"
                )
            }
        }
    }
}

impl core::error::Error for RaftError {}

impl Classify for RaftError {
    fn kind(&self) -> ErrorKind {
        match self {
            RaftError::Wire(w) => w.kind(),
            // Right request, wrong moment: ask the leader, or enable
            // check-quorum.
            RaftError::NotLeader { .. } | RaftError::LeaseReadsDisabled => ErrorKind::Rejected,
            RaftError::LogFull
            | RaftError::EntryTooLarge { .. }
            | RaftError::TooManyUncommitted { .. }
            | RaftError::TooManyReads { .. }
            | RaftError::Backpressure { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::InvalidArgument,
        }
    }
}
