//! Multi-Paxos: a replicated log of chosen values, after Lamport's "Paxos
//! Made Simple" (2001), van Renesse & Altinbuken's "Paxos Made Moderately
//! Complex" (2015) and the engineering of Chandra, Griesemer & Redstone's
//! "Paxos Made Live" (2007).
//!
//! Every [`PaxosNode`] plays the three roles: acceptor (it promises and
//! accepts, durably), learner (it learns which value each slot chose and
//! reports the chosen values in slot order, each once), and proposer (one
//! at a time, the distinguished proposer or *leader*, proposes client
//! values). The voting set is fixed at creation.
//!
//! # The protocol
//!
//! - **Ballots** are `(round, node)` pairs ([`Ballot`]), totally ordered by
//!   round and then node, so two proposers never share one.
//! - **Phase 1 once per leadership.** A node that hears no leader for an
//!   election timeout picks a ballot above every ballot it has seen and
//!   sends `Prepare(ballot, from)` for *every* slot from its first unchosen
//!   one. An acceptor that has promised nothing higher promises it (a
//!   [`Persist::Promised`] record, before the reply) and reports what it
//!   accepted at those slots, in bounded pages. With promises from a
//!   majority, the node leads: for each slot it re-proposes the value
//!   accepted with the highest ballot, fills every gap with a no-op (an
//!   empty value), and from then on runs only phase 2.
//! - **Phase 2 per slot, pipelined.** The leader proposes client values in
//!   consecutive slots, at most `window` slots beyond its first unchosen
//!   one, several slots per `Accept` message. An acceptor accepts a value
//!   at a ballot no lower than its promise (an [`Persist::Accepted`]
//!   record, before the reply). A value accepted by a majority at one
//!   ballot is chosen.
//! - **Learning.** The leader's `Accept` and `Heartbeat` messages carry its
//!   first unchosen slot; a node learns every slot below it whose value it
//!   accepted at the leader's ballot. A slot it holds no such value for is
//!   a gap: it asks a peer (`CatchUp`), which answers with the chosen
//!   values from there (`Chosen`), a bounded page at a time.
//! - **A stable leader.** Heartbeats keep followers from starting phase 1.
//!   A proposer whose ballot an acceptor refuses (`Nack`, carrying the
//!   higher promise) steps down and waits a randomized delay that grows
//!   with each preemption in a row (drawn from the seeded [`Rng`]), so
//!   duelling proposers converge on one. A leader that hears from no
//!   majority for an election timeout steps down (check-quorum), so it
//!   does not hold clients while a majority elsewhere moves on.
//!
//! # Invariants
//!
//! - **Agreement**: at most one value is chosen per slot, ever.
//! - **Validity**: a chosen value is a proposed value or a no-op.
//! - A node reports [`Event::Chosen`] for slots 1, 2, 3, … in order, each
//!   once per lifetime (a restarted node reports them again from slot 1:
//!   its application state is rebuilt from them, as Raft's is).
//! - A promise or an accepted value is never acted on (replied to) before
//!   its record; a restarted node keeps every promise and acceptance.
//!
//! # The caller's duties
//!
//! Those of every participant ([`crate::protocol`]): make each
//! [`Output::Persist`](crate::Output::Persist) durable before acting on the
//! outputs after it, deliver [`Input::Tick`](crate::Input::Tick) at
//! [`next_deadline`](crate::Participant::next_deadline), never let `now` go
//! backwards, and restart only from the records this node persisted
//! ([`Restore`](crate::Restore)). Values are opaque bytes; an empty value
//! is the no-op, so proposals must not be empty.
//!
//! # Membership
//!
//! Fixed at creation. A message from a node outside the voting set, or
//! from this node, is refused with [`Error::NotAMember`]: no node outside
//! it can ever be a peer.
//!
//! # What the textbook version gets wrong
//!
//! Single-decree Paxos as usually taught has no persistence (an acceptor
//! that restarts forgets its promise and can accept a lower ballot's
//! value, choosing two values), runs phase 1 for every value, has no
//! ballot ordering across proposers (two proposers choose the same
//! ballot), leaves gaps in the log unfilled (a slot a crashed leader never
//! finished blocks every later slot forever), and lets duelling proposers
//! preempt each other indefinitely. This module does none of these.
//!
//! # Bounds
//!
//! Every message carries at most `max_batch` values (and at most
//! [`MAX_BATCH_BYTES`] of them); the leader keeps at most `window` slots in
//! flight and `max_pending` proposals queued; the log holds at most
//! `max_log_entries` slots, after which proposals are refused with
//! [`Error::LogFull`].
//!
//! # Compaction
//!
//! Memory: the leader learns from each `Accepted` and heartbeat
//! acknowledgement the first slot each member has not applied *as far as
//! its records hold* (its recorded chosen prefix, or its snapshot), its
//! `Accept`s and heartbeats carry the least of them, and every node drops
//! the slots below it (under load a node holds about a window of slots): no node will ask a peer for those again
//! (phase 1 and catch-up ask from a node's first unchosen slot, which is
//! past them). Disk: the application hands the node a snapshot of its
//! state ([`Command::Compact`]); the node writes it in a
//! [`Persist::Snapshot`] record with its promise and every slot it still
//! holds, and the records before it may be deleted. A member that stays
//! down holds the cluster's memory back (the others keep what it may need)
//! until `max_log_entries`; no snapshot is sent to a node that fell behind
//! the others' logs, since none ever drops what a member may still need.
//!
//! [`Rng`]: crate::Rng

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;
use crate::wire::WireError;

#[cfg(feature = "alloc")]
pub mod kv;
#[cfg(feature = "alloc")]
mod log;
#[cfg(feature = "alloc")]
mod message;
#[cfg(feature = "alloc")]
mod node;
#[cfg(feature = "alloc")]
pub mod single;

#[cfg(feature = "alloc")]
pub use kv::{KvNode, ReadMarker};
#[cfg(feature = "alloc")]
pub use message::{Message, Persist, Report};
#[cfg(feature = "alloc")]
pub use node::{Config, PaxosNode, Role};
#[cfg(feature = "alloc")]
pub use single::SingleDecree;

/// The most members a voting set may have.
pub const MAX_MEMBERS: usize = 64;

/// `Accept` messages a leader has unanswered per peer before it holds new
/// slots back for a fuller page (reset at each heartbeat).
pub const MAX_INFLIGHT: u32 = 8;

/// The most value bytes one message carries (a single value may be larger,
/// up to `max_proposal_bytes`, and then travels alone).
pub const MAX_BATCH_BYTES: usize = 256 << 10;

/// Sorts and dedups a voting set, then checks what every Paxos node
/// needs of it and of its backoff bounds (both node types share them).
#[cfg(feature = "alloc")]
fn validate_common(
    id: NodeId,
    members: &mut alloc::vec::Vec<NodeId>,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
) -> Result<(), Error> {
    members.sort_unstable();
    members.dedup();
    let reason = if members.len() > MAX_MEMBERS {
        "more than 64 members"
    } else if members.binary_search(&id).is_err() {
        "members must include this node's id"
    } else if members.contains(&NodeId(0)) {
        "node id 0 is reserved (Ballot::ZERO)"
    } else if backoff_max_ms < backoff_base_ms {
        "backoff_max_ms must be at least backoff_base_ms"
    } else {
        return Ok(());
    };
    Err(Error::BadConfig { reason })
}

/// The random wait after the `preemptions`th preemption in a row: up to
/// `min(max, base × 2ⁿ)` ms, drawn from `rng` (none before any).
#[cfg(feature = "alloc")]
fn backoff(rng: &mut crate::rng::Rng, preemptions: u32, base_ms: u64, max_ms: u64) -> u64 {
    if preemptions == 0 {
        return 0;
    }
    let cap = base_ms.saturating_mul(1 << preemptions.min(20)).min(max_ms);
    rng.between(0, cap)
}

/// A proposal number: a round, then the proposing node to break ties.
/// Ordered by round, then node.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// The round.
    pub round: u64,
    /// The node that proposes under this ballot.
    pub node: NodeId,
}

impl Ballot {
    /// Below every ballot a node uses: nothing promised, nothing accepted.
    pub const ZERO: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.round, self.node.0)
    }
}

/// Requests from the local application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Propose a value (not empty: the empty value is the no-op). Only the
    /// leader takes proposals; the value is chosen at some slot, reported
    /// by [`Event::Chosen`], unless leadership is lost first.
    #[cfg(feature = "alloc")]
    Propose(alloc::vec::Vec<u8>),
    /// Start phase 1 now, as if the leader had been lost.
    Campaign,
    /// The application's state through slot `upto` (at most the last slot
    /// reported chosen): written in a [`Persist::Snapshot`] record that
    /// replaces every record before it, so the host may delete those. A
    /// restarted node starts from it ([`Event::Snapshot`]).
    #[cfg(feature = "alloc")]
    Compact {
        /// The last slot the snapshot covers.
        upto: u64,
        /// The application's state through `upto`.
        snapshot: alloc::vec::Vec<u8>,
    },
}

/// Notifications for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `value` is chosen at `slot`; reported for slots 1, 2, 3, … in order,
    /// once each per lifetime. An empty value is a no-op.
    #[cfg(feature = "alloc")]
    Chosen {
        /// The slot.
        slot: u64,
        /// The chosen value.
        value: alloc::vec::Vec<u8>,
    },
    /// A restarted node starts from its latest snapshot: load
    /// [`PaxosNode::snapshot`] into the application, which then holds
    /// every slot through `upto`; `Chosen` goes on from `upto + 1`. The
    /// first output of a restore from a snapshot record.
    Snapshot {
        /// The last slot the snapshot covers.
        upto: u64,
    },
    /// A majority adopted this node's `ballot` (phase 1 is done, "Paxos
    /// Made Moderately Complex" §3): it leads, and proposals go to it now.
    Adopted {
        /// Its ballot.
        ballot: Ballot,
    },
    /// This node stopped leading (a higher ballot, or no majority heard
    /// for an election timeout). Its proposals not yet reported chosen may
    /// or may not be chosen later: the application must not assume either.
    SteppedDown {
        /// The ballot it led under.
        ballot: Ballot,
    },
}

/// Why a configuration, command or message was refused. The node is
/// unchanged (or, for a configuration, not built).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes from a peer were not a valid message.
    Wire(WireError),
    /// A message from a node outside the voting set, or from this node.
    NotAMember {
        /// The sender.
        peer: NodeId,
    },
    /// Only the leader takes proposals.
    NotLeader {
        /// The leader this node follows, if it knows one.
        leader_hint: Option<NodeId>,
    },
    /// An empty proposal: the empty value is the no-op.
    EmptyValue,
    /// The value exceeds `max_proposal_bytes`.
    ValueTooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// `max_pending` proposals are waiting for a slot.
    TooManyPending {
        /// The bound.
        max: usize,
    },
    /// The log holds `max_log_entries` slots.
    LogFull,
    /// A snapshot past the last slot reported chosen.
    NotApplied {
        /// The snapshot's last slot.
        upto: u64,
        /// The last slot reported chosen.
        applied: u64,
    },
    /// The configuration is unusable.
    BadConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A restored record does not fit the configuration (a slot beyond
    /// the log's bound, a value beyond `max_proposal_bytes`).
    BadRecord,
    /// Single-decree: a value is already chosen ([`SingleDecree::chosen`]).
    Decided,
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
            Error::NotAMember { peer } => write!(f, "{peer} is not a member"),
            Error::NotLeader {
                leader_hint: Some(l),
            } => write!(f, "not the leader; try {l}"),
            Error::NotLeader { leader_hint: None } => f.write_str("not the leader"),
            Error::EmptyValue => f.write_str("empty proposal: the empty value is the no-op"),
            Error::ValueTooLarge { len, max } => {
                write!(f, "value of {len} bytes exceeds the bound of {max}")
            }
            Error::TooManyPending { max } => write!(f, "{max} proposals are already waiting"),
            Error::LogFull => f.write_str("the log holds its maximum number of slots"),
            Error::NotApplied { upto, applied } => {
                write!(
                    f,
                    "a snapshot through slot {upto}, past the last applied ({applied})"
                )
            }
            Error::BadConfig { reason } => write!(f, "bad configuration: {reason}"),
            Error::BadRecord => f.write_str("a record does not fit the configuration"),
            Error::Decided => f.write_str("a value is already chosen"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Wire(w) => w.kind(),
            Error::NotAMember { .. }
            | Error::EmptyValue
            | Error::BadConfig { .. }
            | Error::NotApplied { .. } => ErrorKind::InvalidArgument,
            Error::NotLeader { .. } | Error::Decided => ErrorKind::Rejected,
            Error::ValueTooLarge { .. } | Error::TooManyPending { .. } | Error::LogFull => {
                ErrorKind::LimitExceeded
            }
            Error::BadRecord => ErrorKind::Malformed,
        }
    }
}
