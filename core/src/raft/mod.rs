//! Raft consensus (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", USENIX ATC 2014; Ongaro's PhD thesis, "Consensus:
//! Bridging Theory and Practice", 2014, for pre-vote, check-quorum and
//! reads).
//!
//! A [`RaftNode`] is one server of a replicated log. It is a [`Participant`]:
//! peers' [`Message`]s, timer ticks and the application's [`Command`]s go
//! in; sends, [`Persist`] records and [`Event`]s come out.
//!
//! # The protocol
//!
//! - **Terms (§5.1).** Every message carries its sender's term. A higher
//!   term makes the receiver a follower of that term; a message from a lower
//!   term is stale and ignored (a stale leader is told the newer term).
//! - **Elections (§5.2).** A follower that hears nothing from a leader for
//!   an election timeout, drawn at random from `[election_timeout_min_ms,
//!   election_timeout_max_ms)` with the node's seeded [`Rng`], campaigns: it
//!   votes for itself in the next term and asks the other voters. A voter
//!   grants at most one vote per term, and only to a candidate whose log is
//!   at least as up-to-date as its own (§5.4.1: the higher last term wins,
//!   then the longer log). A majority ([`quorum`](crate::quorum), also joint
//!   configurations) makes a leader.
//! - **Pre-vote (thesis §9.6).** With `pre_vote`, a node first asks "would
//!   you vote for me in the next term?" without raising its own term; only a
//!   majority of yeses starts a real election. A node cut off by a partition
//!   thus cannot inflate its term and depose a healthy leader when it
//!   returns. Voters say no while they hear from a leader (below).
//! - **Leader stickiness (thesis §4.2.3) and check-quorum (§6.2).** A node
//!   that heard from a leader within the minimum election timeout grants no
//!   vote and no pre-vote, whatever term the request carries and whatever
//!   message raised its own term since; a request of a higher term does not
//!   even raise its term. With `check_quorum`, a leader that has not heard
//!   from a quorum within an election timeout steps down.
//! - **Replication (§5.3).** The leader sends AppendEntries with the index
//!   and term of the entry preceding the new ones; a follower accepts only
//!   if its log holds that entry (Log Matching), removes a conflicting
//!   suffix, and appends. A rejection carries a conflict hint (the
//!   follower's log length, or the conflicting term and its first index) so
//!   the leader skips a term per round trip. Per follower the leader keeps
//!   a progress: *probe* (one message at a time until the logs match) or
//!   *replicate* (streaming within a window bounded in messages and bytes),
//!   after etcd-io/raft. Messages carry at most `max_entries_per_message`
//!   entries and `max_bytes_per_message` bytes.
//! - **Commitment (§5.4.2, Figure 8).** An entry is committed once a quorum
//!   holds it *and* it is from the leader's current term; earlier entries
//!   commit with it. A new leader therefore appends an empty entry of its
//!   term at once.
//! - **Reads (thesis §6.4).** [`Command::Read`] is served by ReadIndex: the
//!   leader takes its commit index (or its first entry's, until that
//!   commits), confirms it is still leader with a heartbeat round that a
//!   quorum echoes, and answers [`Event::ReadReady`] once the application
//!   has applied up to that index. [`Command::LeaseRead`] (with
//!   `check_quorum`) skips the round while the leader's lease holds: an
//!   election timeout, less `max_clock_drift_ms`, from when the last
//!   quorum-confirmed round was sent.
//! - **Reads from followers (thesis §6.4.1).** A follower that knows its
//!   leader takes [`Command::Read`] and [`Command::LeaseRead`] too, so
//!   reads scale with replicas: it asks the leader for a read index
//!   (`ReadIndex`), which the leader confirms like its own reads and sends
//!   back, and it answers [`Event::ReadReady`] once its own state machine
//!   has applied that far. It fails the read ([`Event::ReadFailed`]) if its
//!   leader or term changes first, if the leader refuses, or if no answer
//!   comes within the minimum election timeout.
//!
//! - **Leadership transfer (thesis §3.10).**
//!   [`Command::TransferLeadership`] makes the leader stop taking
//!   proposals, bring the target's log up to its own, and send it
//!   `TimeoutNow`; the target campaigns at once, without a pre-vote, and
//!   its vote requests say so, so that voters grant them inside the
//!   leader's lease. The leader's lease is void from the start of a
//!   transfer to the end of its term (lease reads take a round), since
//!   those votes no longer wait for it. A transfer not done within the
//!   minimum election timeout is abandoned.
//!
//! [`Sessions`] is the client-session table (thesis §6.3) that makes
//! retried commands apply exactly once. [`KvNode`] puts both to use: a
//! replicated key-value store ([`KvStore`]) whose clients' retried writes
//! apply exactly once, with one reply per request; the simulator checks its
//! histories for linearizability.
//!
//! - **Snapshots and log compaction (§7).** The application snapshots its
//!   state at an applied index and hands the bytes to
//!   [`RaftNode::compact`]: the log drops the entries the snapshot covers
//!   (freeing their room) and the node queues a [`Persist::Snapshot`]
//!   record, which holds the snapshot, the hard state and the log after
//!   it, and so replaces every earlier record. A follower that needs
//!   entries the leader has dropped gets the leader's snapshot instead
//!   (InstallSnapshot, Figure 13), in chunks of at most
//!   `max_bytes_per_message`, streamed within the follower's inflight
//!   window and resumed from the last byte it acknowledged after a loss
//!   (the follower's progress is in a third state, *snapshot*, beside
//!   probe and replicate). It keeps the entries after the snapshot if its
//!   log holds the snapshot's last entry, and tells the application to
//!   load it with [`Event::ApplySnapshot`].
//!
//! - **Membership changes and learners (§6; thesis chapter 4).**
//!   [`Command::ChangeMembership`] appends a new [`Membership`] to the log
//!   as an entry of kind [`EntryKind::Membership`]; every node uses the
//!   latest membership in its log from the moment it appends it, committed
//!   or not, and the one before it again if the entry is cut away.
//!   Single-server changes ([`MembershipChange::AddLearner`],
//!   [`Promote`](MembershipChange::Promote),
//!   [`Remove`](MembershipChange::Remove)) need no joint phase; a
//!   [`Joint`](MembershipChange::Joint) change moves to any voters through
//!   `C_old,new`, and the leader appends `C_new` once that commits. One
//!   change at a time, and only after the leader has committed an entry of
//!   its own term (the rule Ongaro added in 2015 after single-server
//!   changes were shown to elect two leaders without it). Learners receive
//!   the log and never vote or campaign; a learner is promoted only once
//!   its log holds every committed entry. A leader that removes itself
//!   leads until its removal commits, then steps down. Snapshots carry
//!   the membership they cover.
//! - **Who is heard.** A node drops messages from senders outside its
//!   membership, but for a leader's (AppendEntries, heartbeats, snapshot
//!   chunks): the leader of a term is legitimate whether or not this node
//!   knows the membership that elected it. So a node that joins a running
//!   cluster, made from the cluster's voters with itself outside them,
//!   learns the log and the membership from the leader, and a removed
//!   server, which never campaigns again, cannot disrupt the cluster
//!   (thesis §4.2.3).
//!
//! # The caller's duties
//!
//! - **Persist before acting.** Append every [`Output::Persist`] record to
//!   stable storage and make it durable before acting on any output after
//!   it. One fsync may cover many records: a host may hold sends and
//!   events across inputs, then fsync once and act on them in order
//!   (group commit; `docs/raft.md` says how threaded hosts do it). The
//!   node queues the record of a new term, vote or log entries before
//!   every message that depends on it, so a vote is never granted
//!   twice in a term and an entry is never acknowledged before it is on
//!   disk.
//! - **Apply in order.** [`Event::Committed`] comes once per index, in index
//!   order; apply each to the state machine before handling later outputs.
//!   A [`Event::ReadReady`] then finds the state machine far enough along.
//! - **Restart from the records.** After a crash, rebuild the node with
//!   [`Restore::restore`](crate::Restore::restore) from its configuration
//!   (and an empty log) and exactly the records it persisted, in order,
//!   from its last [`Persist::Snapshot`] on (the records before it may be
//!   deleted once it is durable). It reports [`Event::ApplySnapshot`]
//!   first if there is a snapshot, then committed entries again from the
//!   one after it (from index 1 without a snapshot), so the state machine
//!   is rebuilt along with it.
//! - **Snapshot now and then.** Without [`RaftNode::compact`] the log and
//!   the records grow until [`Event::LogFull`]; a snapshot every few
//!   thousand entries keeps both bounded.
//! - **Frame the records.** Restore refuses records no run of the node
//!   could have written (gaps, terms going back, two votes in a term) and
//!   records another node or cluster wrote (the first record, and every
//!   snapshot record, names its writer: [`Writer`], from
//!   [`Config::cluster`] and the node's id), but it cannot see a flipped
//!   bit inside a record. Store each record with its length and a checksum (CRC-32C or
//!   stronger), keep one file per node and cluster, and on restart drop a
//!   torn or failing tail: a record that is not whole was never durable,
//!   so nothing was acted on after it. A failing record *before* the tail
//!   is corruption; do not restart from it.
//! - **Tick.** Deliver [`Input::Tick`] at [`Participant::next_deadline`],
//!   and never let `now` go backwards.
//!
//! Every queue is bounded by the configuration (outputs, waiting reads,
//! uncommitted proposals, per-follower inflight windows, entries taken from
//! one message), and nothing a peer sends can panic the node.
//!
//! # Example
//!
//! Three nodes elect a leader and commit a proposal; the network delivers
//! every message at once.
//!
//! ```
//! use consensio::quorum::MajorityConfig;
//! use consensio::raft::{ArenaLog, Command, Event, self, RaftNode};
//! use consensio::{Input, Instant, NodeId, Output, Participant, Restore, wire};
//!
//! let ids = [1, 2, 3].map(NodeId);
//! let voters = MajorityConfig::from_voters(ids)?;
//! let mut nodes: Vec<RaftNode<ArenaLog>> = ids
//!     .iter()
//!     .map(|&id| RaftNode::new(raft::Config::new(id, voters.clone()), ArenaLog::new(1_000, 1 << 20)))
//!     .collect::<Result<_, _>>()?;
//! let mut disks: Vec<Vec<_>> = vec![Vec::new(); 3];
//! let mut committed = Vec::new();
//! let mut now = Instant::ZERO;
//! while committed.len() < 3 {
//!     assert!(now < Instant::from_millis(10_000), "nothing committed in 10 s");
//!     // Tick whoever is due, then deliver until the network is quiet.
//!     now = nodes.iter().filter_map(|n| n.next_deadline()).min().unwrap().max(now);
//!     for node in &mut nodes {
//!         if node.next_deadline() <= Some(now) {
//!             node.handle_input(now, Input::Tick)?;
//!         }
//!     }
//!     let mut network = Vec::new();
//!     loop {
//!         for (i, node) in nodes.iter_mut().enumerate() {
//!             while let Some(output) = node.poll_output() {
//!                 match output {
//!                     // Durable before anything after it is acted on.
//!                     Output::Persist(record) => disks[i].push(record),
//!                     Output::Send { to, message } => {
//!                         network.push((node.id(), to, wire::encode_to_vec(&message)?));
//!                     }
//!                     Output::Event(Event::BecameLeader { .. }) => {
//!                         node.handle_input(now, Input::Command(Command::Propose(b"x=1".to_vec())))?;
//!                     }
//!                     Output::Event(Event::Committed { data, .. }) if !data.is_empty() => {
//!                         committed.push((node.id(), data));
//!                     }
//!                     Output::Event(_) => {}
//!                 }
//!             }
//!         }
//!         let Some((from, to, bytes)) = network.pop() else { break };
//!         let target = nodes.iter_mut().find(|n| n.id() == to).unwrap();
//!         target.handle_message(now, from, &bytes)?;
//!     }
//!     now = now.saturating_add_millis(1);
//! }
//! assert!(committed.iter().all(|(_, data)| data == b"x=1"));
//! // A node rebuilt from its records holds the same log.
//! let again = RaftNode::restore((raft::Config::new(ids[0], voters), ArenaLog::new(1_000, 1 << 20)), &disks[0])?;
//! assert_eq!(again.log(), nodes[0].log());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Participant`]: crate::Participant
//! [`Participant::next_deadline`]: crate::Participant::next_deadline
//! [`Rng`]: crate::Rng
//! [`Output::Persist`]: crate::Output::Persist
//! [`Input::Tick`]: crate::Input::Tick

#[cfg(feature = "alloc")]
mod config;
#[cfg(feature = "alloc")]
mod error;
#[cfg(feature = "alloc")]
mod inflights;
#[cfg(feature = "alloc")]
pub mod kv;
mod log;
#[cfg(feature = "alloc")]
mod membership;
#[cfg(feature = "alloc")]
mod message;
#[cfg(feature = "alloc")]
mod node;
#[cfg(feature = "alloc")]
mod persist;
#[cfg(feature = "alloc")]
mod progress;
#[cfg(feature = "alloc")]
mod read_only;
#[cfg(feature = "alloc")]
mod session;

#[cfg(feature = "alloc")]
pub use config::Config;
#[cfg(feature = "alloc")]
pub use error::Error;
#[cfg(feature = "alloc")]
pub use kv::{KvEntry, KvLimits, KvNode, KvOp, KvResponse, KvResult, KvStore};
#[cfg(feature = "alloc")]
pub use log::ArenaLog;
pub use log::{EntryRef, FixedLog, LogError, LogStorage, MAX_INDEX};
#[cfg(feature = "alloc")]
pub use membership::{MAX_LEARNERS, Membership, MembershipChange};
#[cfg(feature = "alloc")]
pub use message::{Body, Entry, EntryKind, Message};
#[cfg(feature = "alloc")]
pub use node::{Command, Event, RaftNode, RaftOutput, Role};
#[cfg(feature = "alloc")]
pub use persist::{Persist, Snapshot, Writer};
#[cfg(feature = "alloc")]
pub use session::{Admission, SessionError, Sessions};
