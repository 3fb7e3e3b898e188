//! Failure detectors: which peers have stopped sending heartbeats.
//!
//! # What is here
//!
//! - [`HeartbeatDetector`] (`alloc`): fixed timeouts. Each peer is
//!   [`PeerState::Alive`], then [`PeerState::Suspected`] after
//!   `suspect_after_ms` of silence, then [`PeerState::Failed`] after
//!   `fail_after_ms`, and alive again on its next heartbeat.
//! - [`PhiAccrual`] (`alloc`): the φ-accrual detector of Hayashibara,
//!   Défago, Yared and Katayama ("The φ Accrual Failure Detector", SRDS
//!   2004) with Akka's parameters and approximation: a suspicion level that
//!   adapts to the observed inter-arrival times; and [`PhiDetector`], the
//!   participant that suspects a peer when its φ crosses a threshold.
//!
//! Both participants send the same [`Heartbeat`] to every peer each
//! `interval_ms`, so either can monitor the other.
//!
//! # Heartbeats and incarnations
//!
//! A heartbeat carries the sender's *incarnation* and a sequence number. A
//! receiver counts a heartbeat only if `(incarnation, seq)` is greater than
//! the last it counted from that peer, so duplicated, reordered and stale
//! copies are ignored: a copy delayed in the network cannot make a crashed
//! peer look alive. The incarnation is the participants' only durable
//! state: at its first input a participant persists its incarnation plus
//! one (`Persist = u64`), before any heartbeat goes out, so a restarted
//! peer's heartbeats are newer than those of its previous life. Rebuild a
//! participant with [`Restore::restore`](crate::Restore::restore) from its
//! configuration and the incarnations it persisted (only the highest
//! matters).
//!
//! # Guarantees
//!
//! In the terms of Chandra and Toueg, a crashed peer is eventually
//! suspected by every correct peer (strong completeness), because its
//! heartbeats stop. Accuracy depends on the network: a peer is suspected
//! wrongly only when heartbeats are delayed or lost for longer than the
//! timeouts (or, for φ, longer than its history makes likely).

#[cfg(feature = "alloc")]
pub mod heartbeat;
#[cfg(feature = "alloc")]
pub mod phi;

use core::fmt;

#[cfg(feature = "alloc")]
use alloc::collections::VecDeque;
use serde::{Deserialize, Serialize};

#[cfg(feature = "alloc")]
pub use heartbeat::{HeartbeatDetector, PeerState};
#[cfg(feature = "alloc")]
pub use phi::{PhiAccrual, PhiDetector};

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;
#[cfg(feature = "alloc")]
use crate::mutant::{Mutant, planted};
#[cfg(feature = "alloc")]
use crate::protocol::Output;
#[cfg(feature = "alloc")]
use crate::time::Instant;
use crate::wire::{WireError, WireMessage, kind};

/// The most peers a detector may monitor.
pub const MAX_PEERS: usize = 256;

/// The heartbeat both detectors send and monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The sender's incarnation: one more than before its last restart.
    pub incarnation: u64,
    /// Counts the sender's heartbeats within the incarnation, from 0.
    pub seq: u64,
}

impl WireMessage for Heartbeat {
    const KIND: u8 = kind::HEARTBEAT;
    /// Header and two varints.
    const MAX_ENCODED_LEN: usize = 22;
}

/// Why a configuration or message was rejected. The participant is
/// unchanged (or, for a configuration, not built).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes from a peer were not a valid message.
    Wire(WireError),
    /// A heartbeat from a node that is not a monitored peer.
    NotAPeer {
        /// The sender.
        peer: NodeId,
    },
    /// The configuration lists more than [`MAX_PEERS`] peers.
    TooManyPeers {
        /// Peers listed (after removing duplicates and this node).
        len: usize,
        /// [`MAX_PEERS`].
        max: usize,
    },
    /// The configuration is unusable.
    BadConfig {
        /// What is wrong with it.
        reason: &'static str,
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
            Error::NotAPeer { peer } => write!(f, "{peer} is not a monitored peer"),
            Error::TooManyPeers { len, max } => {
                write!(f, "{len} peers exceed the limit of {max}")
            }
            Error::BadConfig { reason } => write!(f, "bad configuration: {reason}"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Wire(w) => w.kind(),
            Error::TooManyPeers { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

/// The members of a cluster other than `id`, sorted and deduplicated.
#[cfg(feature = "alloc")]
fn peers_of(id: NodeId, members: &[NodeId]) -> alloc::vec::Vec<NodeId> {
    let mut peers: alloc::vec::Vec<NodeId> = members.iter().copied().filter(|&m| m != id).collect();
    peers.sort_unstable();
    peers.dedup();
    peers
}

/// Sorts and deduplicates `peers` and checks that they are few enough, do
/// not include `id`, and that `interval_ms` is positive.
#[cfg(feature = "alloc")]
fn check_peers(
    id: NodeId,
    peers: &mut alloc::vec::Vec<NodeId>,
    interval_ms: u64,
) -> Result<(), Error> {
    peers.sort_unstable();
    peers.dedup();
    if peers.len() > MAX_PEERS {
        return Err(Error::TooManyPeers {
            len: peers.len(),
            max: MAX_PEERS,
        });
    }
    if peers.binary_search(&id).is_ok() {
        return Err(Error::BadConfig {
            reason: "a node cannot monitor itself",
        });
    }
    if interval_ms == 0 {
        return Err(Error::BadConfig {
            reason: "interval_ms must be at least 1",
        });
    }
    Ok(())
}

/// Counts `beat` as the newest heartbeat from a peer whose last counted one
/// is `last`; `false`, and nothing recorded, for a duplicated, reordered or
/// stale one.
#[cfg(feature = "alloc")]
fn is_fresh(last: &mut Option<(u64, u64)>, beat: Heartbeat) -> bool {
    let key = (beat.incarnation, beat.seq);
    if last.is_some_and(|l| l >= key) {
        return false;
    }
    *last = Some(key);
    true
}

/// The sending half both detectors share: persists the new incarnation at
/// the first input, then sends a numbered heartbeat to every peer each
/// `interval_ms`.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
struct Beacon {
    incarnation: u64,
    seq: u64,
    /// `None` until the first input.
    next_send: Option<Instant>,
}

#[cfg(feature = "alloc")]
impl Beacon {
    const fn new(last_incarnation: u64) -> Self {
        Beacon {
            incarnation: last_incarnation,
            seq: 0,
            next_send: None,
        }
    }

    const fn started(&self) -> bool {
        self.next_send.is_some()
    }

    /// The first input: a new incarnation, durable before any heartbeat.
    fn start<E>(&mut self, now: Instant, outputs: &mut VecDeque<Output<Heartbeat, u64, E>>) {
        if !planted(Mutant::DetectorIncarnationReused) {
            self.incarnation = self.incarnation.saturating_add(1);
        }
        outputs.push_back(Output::Persist(self.incarnation));
        self.next_send = Some(now);
    }

    /// Sends a round of heartbeats if one is due.
    fn tick<E>(
        &mut self,
        now: Instant,
        peers: impl Iterator<Item = NodeId>,
        interval_ms: u64,
        outputs: &mut VecDeque<Output<Heartbeat, u64, E>>,
    ) {
        if self.next_send.is_none_or(|t| t > now) {
            return;
        }
        let message = Heartbeat {
            incarnation: self.incarnation,
            seq: self.seq,
        };
        for to in peers {
            outputs.push_back(Output::Send { to, message });
        }
        self.seq = self.seq.saturating_add(1);
        self.next_send = Some(now.saturating_add_millis(interval_ms));
    }

    /// When the next round is due (the start is due at once).
    fn next_deadline(&self) -> Instant {
        self.next_send.unwrap_or(Instant::ZERO)
    }
}
