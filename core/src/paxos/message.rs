//! The messages between Paxos nodes and the records a node persists.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::Ballot;
use crate::wire::{WireMessage, kind};

/// What an acceptor holds at one slot, as a promise reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The slot.
    pub slot: u64,
    /// The ballot the value was accepted at.
    pub ballot: Ballot,
    /// The value (empty: a no-op).
    pub value: Vec<u8>,
    /// Whether the reporter knows the value is chosen.
    pub chosen: bool,
}

/// A message between two nodes of one voting set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Before phase 1: would you promise a ballot of `round`? Binds
    /// nothing (the pre-vote of Raft's thesis §9.6): a node that cannot
    /// reach a majority never raises its ballot, so it cannot depose a
    /// healthy leader when it comes back.
    Probe {
        /// The round the sender would campaign in.
        round: u64,
    },
    /// The answer to a [`Message::Probe`]: yes unless the sender heard from
    /// a leader within the minimum election timeout (or leads).
    ProbeReply {
        /// The probe's round.
        round: u64,
        /// Whether the sender would promise.
        granted: bool,
    },
    /// Phase 1a: promise `ballot` and report what you accepted at slots
    /// `from` and after.
    Prepare {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The first slot to report.
        from: u64,
    },
    /// Phase 1b: `ballot` is promised; what the acceptor accepted at slots
    /// `from..` (one page: `next` names the first slot not reported, if
    /// the page was full).
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// The first slot reported on.
        from: u64,
        /// The accepted values at slots `from..`, in slot order.
        reports: Vec<Report>,
        /// The first slot of the next page, if this one was full.
        next: Option<u64>,
    },
    /// Phase 2a: accept `values` at slots `first`, `first + 1`, …; every
    /// slot below `commit` is chosen, and (as in a [`Heartbeat`](Self::Heartbeat))
    /// every member has applied every slot below `applied`.
    Accept {
        /// The leader's ballot.
        ballot: Ballot,
        /// The slot of the first value.
        first: u64,
        /// The values, one per slot.
        values: Vec<Vec<u8>>,
        /// The leader's first unchosen slot.
        commit: u64,
        /// The first slot some member has not applied.
        applied: u64,
    },
    /// Phase 2b: the values of `Accept { ballot, first, .. }` are accepted
    /// at slots `first..first + count`.
    Accepted {
        /// The ballot accepted.
        ballot: Ballot,
        /// The first slot.
        first: u64,
        /// How many slots.
        count: u64,
        /// The sender's first slot not applied (as in a
        /// [`HeartbeatAck`](Self::HeartbeatAck)).
        applied: u64,
    },
    /// `ballot` is refused: the acceptor promised `promised`, higher.
    Nack {
        /// The ballot refused.
        ballot: Ballot,
        /// The acceptor's promise.
        promised: Ballot,
    },
    /// The leader is alive; every slot below `commit` is chosen, and every
    /// member has applied every slot below `applied`, so no node needs
    /// them from a peer again: they may be dropped.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's first unchosen slot.
        commit: u64,
        /// The first slot some member has not applied.
        applied: u64,
    },
    /// The answer to a heartbeat of `ballot`.
    HeartbeatAck {
        /// The heartbeat's ballot.
        ballot: Ballot,
        /// The sender's first slot not applied.
        applied: u64,
    },
    /// Send me the chosen values from slot `from`.
    CatchUp {
        /// The first slot wanted.
        from: u64,
    },
    /// The chosen values at slots `first`, `first + 1`, … (possibly none).
    Chosen {
        /// The slot of the first value.
        first: u64,
        /// The values.
        values: Vec<Vec<u8>>,
    },
}

impl WireMessage for Message {
    const KIND: u8 = kind::PAXOS;
    /// A page of up to `MAX_BATCH_BYTES` of values, or one value of up to
    /// `max_proposal_bytes` (at most 1 MiB), with its framing.
    const MAX_ENCODED_LEN: usize = (1 << 20) + (64 << 10);
}

impl Message {
    /// The ballot the message speaks for, if it carries one.
    #[must_use]
    pub const fn ballot(&self) -> Option<Ballot> {
        match self {
            Message::Prepare { ballot, .. }
            | Message::Promise { ballot, .. }
            | Message::Accept { ballot, .. }
            | Message::Accepted { ballot, .. }
            | Message::Nack { ballot, .. }
            | Message::Heartbeat { ballot, .. }
            | Message::HeartbeatAck { ballot, .. } => Some(*ballot),
            Message::Probe { .. }
            | Message::ProbeReply { .. }
            | Message::CatchUp { .. }
            | Message::Chosen { .. } => None,
        }
    }
}

/// A record a node persists; [`PaxosNode::restore`](crate::Restore::restore)
/// rebuilds the node from all of them, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Persist {
    /// The acceptor promised `ballot` (never a lower one after it).
    Promised(Ballot),
    /// The acceptor accepted `values` at slots `first`, `first + 1`, …
    /// under `ballot` (one record per `Accept` it took, or per batch the
    /// leader proposed).
    Accepted {
        /// The slot of the first value.
        first: u64,
        /// The ballot.
        ballot: Ballot,
        /// The values.
        values: Vec<Vec<u8>>,
    },
    /// The node learned from a peer that `values` are chosen at slots
    /// `first`, `first + 1`, …
    Learned {
        /// The slot of the first value.
        first: u64,
        /// The chosen values.
        values: Vec<Vec<u8>>,
    },
    /// A snapshot of the application's state through slot `upto` (given
    /// with [`Command::Compact`](super::Command::Compact)), with everything
    /// else the node must keep: its promise, and every slot it still holds
    /// (those a peer may yet need). It replaces every record before it.
    Snapshot {
        /// The last slot the snapshot covers.
        upto: u64,
        /// The application's state through `upto`.
        data: Vec<u8>,
        /// The acceptor's promise.
        promised: Ballot,
        /// The slots held, from the first one kept.
        slots: Vec<Report>,
    },
    /// Every slot below `below` is chosen, and the records before this one
    /// hold each of their values. Lost, it only costs relearning.
    Chosen {
        /// The node's first unchosen slot.
        below: u64,
    },
}

impl WireMessage for Persist {
    const KIND: u8 = kind::PAXOS_RECORD;
    /// A snapshot record holds a snapshot and the slots kept: records come
    /// from the node's own storage, not from peers.
    const MAX_ENCODED_LEN: usize = 1 << 30;
}
