//! # consensio
//!
//! Distributed-systems protocols as deterministic, sans-IO state machines: a
//! message goes in, messages come out. The crate is `#![no_std]`; the
//! `alloc` feature (on by default) adds heap-backed variants, and without it
//! the fixed-capacity variants still build and work.
//!
//! ## The contract
//!
//! Every protocol participant implements [`Participant`]: the caller feeds
//! [`Input`]s (a peer's message, a timer [`Input::Tick`], a local command),
//! each with its own `now` ([`Instant`]), drains [`Output`]s one at a time
//! (send, persist, event), and asks for the [`next_deadline`]. Participants
//! never do IO, never read a clock, and draw randomness only from an [`Rng`]
//! seeded by their configuration, so the same inputs replay bit for bit.
//! Messages cross the network in the [`wire`] format (postcard behind a
//! versioned header); decoding never panics. The caller's duties, above all
//! *persist before acting on later outputs*, are in [`protocol`].
//!
//! [`next_deadline`]: Participant::next_deadline
//!
//! ## Families
//!
//! - [`quorum`]: majority and joint configurations, vote tallies, committed
//!   indexes; pure arithmetic.
//! - [`clock`]: Lamport, vector (dense and sparse) and hybrid logical clocks,
//!   NTP/Cristian/Berkeley synchronisation arithmetic, event ordering.
//! - [`merkle`]: RFC 6962/9162 Merkle trees with inclusion and consistency
//!   proofs, tree diff, keyed trees and the anti-entropy participant.
//! - [`election`]: leader election with epochs and leader heartbeats: the
//!   Bully algorithm and Chang–Roberts ring election with ring repair.
//! - [`detector`]: failure detectors: a heartbeat detector with
//!   alive/suspected/failed states and the φ-accrual detector.
//! - [`raft`]: Raft consensus with pre-vote, check-quorum, flow-controlled
//!   replication, ReadIndex and lease reads; log storage with and without a
//!   heap.
//! - [`ring`]: placement of keys on nodes with one stable hash: consistent
//!   hashing ring with weighted virtual nodes and zone-aware preference
//!   lists, rendezvous, jump and Maglev hashing, bounded loads.
//!
//! Tests of any family drive several nodes on `testing::Cluster` (feature
//! `testing`, test support only): disks, a faulty network through the wire
//! codec, simulated time, crashes and restarts from the disk.
//!
//! ## The drive loop
//!
//! A participant only computes; the caller moves bytes and time. Here a toy
//! participant, a heartbeat beacon that persists the highest sequence number
//! it has heard, is driven through the whole loop: encode, deliver, decode,
//! persist, tick.
//!
//! ```
//! use std::collections::VecDeque;
//! use consensio::{Input, Instant, NodeId, Output, Participant, wire};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Beat { seq: u64 }
//! impl wire::WireMessage for Beat { const KIND: u8 = wire::kind::EXAMPLE; }
//!
//! /// Sends a numbered heartbeat to its peer every `period_ms`.
//! struct Beacon {
//!     id: NodeId, peer: NodeId, period_ms: u64,
//!     seq: u64, highest_heard: u64, due: Instant,
//!     out: VecDeque<Output<Beat, u64, (NodeId, u64)>>,
//! }
//!
//! impl Participant for Beacon {
//!     type Message = Beat;
//!     type Command = ();
//!     type Persist = u64;              // highest sequence heard
//!     type Event = (NodeId, u64);      // (from, seq)
//!     type Error = wire::WireError;
//!
//!     fn id(&self) -> NodeId { self.id }
//!
//!     fn handle_input(&mut self, now: Instant, input: Input<Beat, ()>) -> Result<(), Self::Error> {
//!         match input {
//!             Input::Tick if now >= self.due => {
//!                 self.seq += 1;
//!                 self.due = now.saturating_add_millis(self.period_ms);
//!                 self.out.push_back(Output::Send { to: self.peer, message: Beat { seq: self.seq } });
//!             }
//!             // Stale and duplicate heartbeats are ignored, not errors.
//!             Input::Message { from, message } if message.seq > self.highest_heard => {
//!                 self.highest_heard = message.seq;
//!                 self.out.push_back(Output::Persist(message.seq));
//!                 self.out.push_back(Output::Event((from, message.seq)));
//!             }
//!             _ => {}
//!         }
//!         Ok(())
//!     }
//!
//!     fn poll_output(&mut self) -> Option<Output<Beat, u64, (NodeId, u64)>> { self.out.pop_front() }
//!     fn next_deadline(&self) -> Option<Instant> { Some(self.due) }
//! }
//!
//! let beacon = |id, peer| Beacon {
//!     id: NodeId(id), peer: NodeId(peer), period_ms: 100,
//!     seq: 0, highest_heard: 0, due: Instant::ZERO, out: VecDeque::new(),
//! };
//! let mut nodes = [beacon(1, 2), beacon(2, 1)];
//! let mut disks = [0u64; 2];                        // what each node persisted
//! let mut network: VecDeque<(NodeId, NodeId, Vec<u8>)> = VecDeque::new();
//! let mut heard = Vec::new();
//! let mut now = Instant::ZERO;
//!
//! while now <= Instant::from_millis(300) {
//!     for node in &mut nodes {
//!         node.handle_input(now, Input::Tick)?;
//!     }
//!     // Deliver until quiet: drain every node's outputs, in order.
//!     loop {
//!         for (i, node) in nodes.iter_mut().enumerate() {
//!             while let Some(output) = node.poll_output() {
//!                 match output {
//!                     Output::Send { to, message } => {
//!                         network.push_back((node.id(), to, wire::encode_to_vec(&message)?));
//!                     }
//!                     // Durable before anything after it is acted on.
//!                     Output::Persist(highest) => disks[i] = highest,
//!                     Output::Event((from, seq)) => heard.push((node.id(), from, seq)),
//!                 }
//!             }
//!         }
//!         let Some((from, to, bytes)) = network.pop_front() else { break };
//!         let target = nodes.iter_mut().find(|n| n.id() == to).unwrap();
//!         target.handle_message(now, from, &bytes)?;   // decode + deliver
//!     }
//!     // Sleep until the earliest deadline.
//!     now = nodes.iter().filter_map(|n| n.next_deadline()).min().unwrap();
//! }
//!
//! assert_eq!(disks, [4, 4]);
//! assert_eq!(heard.len(), 8);
//! assert_eq!(heard[0], (NodeId(2), NodeId(1), 1));
//! // Garbage from the network is a typed error, never a panic.
//! assert!(nodes[0].handle_message(now, NodeId(2), &[1, 255, 0xff]).is_err());
//! # Ok::<(), wire::WireError>(())
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]
// Peer input must never reach a panic (ARCHITECTURE.md, "The contract"); tests may.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", loom))]
extern crate std;

pub mod clock;
pub mod crdt;
pub mod detector;
pub mod election;
pub mod error;
mod id;
pub mod merkle;
pub mod mutant;
pub mod paxos;
pub mod protocol;
pub mod quorum;
pub mod raft;
#[cfg(feature = "alloc")]
pub mod resilience;
pub mod ring;
mod rng;
#[cfg(feature = "std")]
pub mod shared;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
pub mod wire;

pub use error::{Classify, ErrorKind};
pub use id::NodeId;
pub use protocol::{Input, Output, Participant, Restore};
pub use rng::Rng;
pub use time::Instant;

/// The user pages in `docs/`: their Rust blocks run as doctests here
/// (`cargo test -p consensio --doc`). The simulator's page runs in
/// `consensio-sim`, which depends on this crate.
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../../docs/quorum.md")]
    pub struct QuorumPage;
    #[doc = include_str!("../../docs/ring.md")]
    pub struct RingPage;
    #[doc = include_str!("../../docs/clock.md")]
    pub struct ClockPage;
    #[doc = include_str!("../../docs/merkle.md")]
    pub struct MerklePage;
    #[doc = include_str!("../../docs/election.md")]
    pub struct ElectionPage;
    #[doc = include_str!("../../docs/detector.md")]
    pub struct DetectorPage;
    #[doc = include_str!("../../docs/raft.md")]
    pub struct RaftPage;
    #[doc = include_str!("../../docs/paxos.md")]
    pub struct PaxosPage;
    #[doc = include_str!("../../docs/resilience.md")]
    pub struct ResiliencePage;
    #[doc = include_str!("../../docs/crdt.md")]
    pub struct CrdtPage;
}
