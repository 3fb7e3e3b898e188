//! The Raft node: one server's state machine, with one function per role
//! (`step_follower`, `step_candidate`, `step_leader`) behind a common
//! `step` that applies the term rules of §5.1. See the [module
//! docs](super) for the protocol and the caller's duties.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;

use super::config::Config;
use super::message::{Body, Entry, EntryKind, Message};
use super::persist::{self, Persist, Snapshot, Writer};
use super::progress::{Progress, ProgressState};
use super::read_only::ReadOnly;
use super::{Error, LogStorage, MAX_INDEX, Membership, MembershipChange};
use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::protocol::{Input, Output, Participant, Restore};
use crate::quorum::{VoteResult, VoteTally};
use crate::rng::Rng;
use crate::time::Instant;

/// What a node currently is (§5.1, plus the pre-candidate of the thesis
/// §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Answers leaders and candidates.
    Follower,
    /// Asks whether it could win an election, without changing its term.
    PreCandidate,
    /// Asks for votes in a term of its own.
    Candidate,
    /// Replicates its log and serves reads.
    Leader,
}

/// Requests from the local application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Append `data` to the log (leader only). After it is accepted, its
    /// index is the log's last index; [`Event::Committed`] reports it once
    /// committed. An accepted proposal may still be lost if leadership
    /// changes before it commits.
    Propose(Vec<u8>),
    /// A linearizable read by ReadIndex (thesis §6.4): answered with
    /// [`Event::ReadReady`] once the application has applied far enough, or
    /// [`Event::ReadFailed`] if leadership is lost first. A follower that
    /// knows its leader takes it too (thesis §6.4.1): it asks the leader
    /// for a read index and serves the read from its own state once it has
    /// applied that far; it fails the read if its leader or term changes,
    /// or if no answer comes within the minimum election timeout.
    Read {
        /// The application's name for this read, echoed in the answer.
        id: u64,
    },
    /// A read under the leader's lease: as [`Command::Read`], but while the
    /// lease holds it needs no heartbeat round (it falls back to one when
    /// the lease has run out). Its safety rests on the clocks: drift within
    /// `max_clock_drift_ms` per election timeout. On a follower, the leader
    /// answers its request for a read index under its lease.
    LeaseRead {
        /// The application's name for this read.
        id: u64,
    },
    /// Hand leadership to voter `to` (thesis §3.10): the leader stops
    /// taking proposals ([`Error::TransferInProgress`]), brings `to`'s log
    /// up to its own, and tells it to campaign at once
    /// ([`Body::TimeoutNow`]); `to` wins unless a more up-to-date log
    /// exists, and this node then steps down. If that has not happened
    /// within the minimum election timeout, the transfer is abandoned and
    /// this node goes on leading. From the moment it starts, the leader's
    /// lease is void for the rest of its term (the voters grant the
    /// transfer's votes inside it), so lease reads take a round. A second
    /// transfer replaces the first; a transfer to the leader itself does
    /// nothing.
    TransferLeadership {
        /// The voter to hand leadership to.
        to: NodeId,
    },
    /// Change the cluster's membership (§6; thesis chapter 4): the leader
    /// appends the new membership to its log, and every node uses the
    /// latest membership in its log from the moment it appends it,
    /// committed or not. [`Event::MembershipCommitted`] reports it
    /// committed. One change at a time: refused with
    /// [`Error::MembershipChangePending`] until the last one has committed
    /// (a joint change: until the leader's own `C_new` has) and until this
    /// leader has committed an entry of its term. A learner is promoted
    /// only once it holds every committed entry
    /// ([`Error::LearnerBehind`]).
    ChangeMembership(MembershipChange),
}

/// Notifications for the local application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Apply this entry. Every index from 1 comes exactly once per node
    /// lifetime, in order (a restarted node starts again from 1). An empty
    /// `data` is usually the entry a new leader appends; apply it as
    /// nothing.
    Committed {
        /// The entry's index.
        index: u64,
        /// The entry's term.
        term: u64,
        /// The entry's payload.
        data: Vec<u8>,
    },
    /// Read `id` may be served from the application's state now: every
    /// entry up to `index` has been reported as committed before this event.
    ReadReady {
        /// The read.
        id: u64,
        /// Its read index.
        index: u64,
    },
    /// Read `id` cannot be answered: this node stopped being leader (or,
    /// for a follower's read, its leader did not answer, changed, or could
    /// not serve it). Retry it.
    ReadFailed {
        /// The read.
        id: u64,
    },
    /// This node won the election of `term`.
    BecameLeader {
        /// The term.
        term: u64,
    },
    /// This node became a follower, or learned who leads its term.
    BecameFollower {
        /// The current term.
        term: u64,
        /// Its leader, if known.
        leader: Option<NodeId>,
    },
    /// The log has no room for what this node must append: the entries a
    /// leader sends (a follower then takes what fits and the cluster's
    /// commit may stall on it), or the empty entry it would append as a new
    /// leader (it then does not campaign). Nothing is lost; the node waits
    /// for room. Reported once each time the log fills.
    LogFull {
        /// The log's last index.
        last_index: u64,
    },
    /// The membership entry at `index` committed: `membership` is the
    /// cluster's configuration from `index` on (the node has used it since
    /// it appended the entry). Comes right after that index's
    /// [`Event::Committed`], whose data is empty: apply it as nothing. A
    /// node that is no longer a member may be shut down once it is
    /// reported.
    MembershipCommitted {
        /// The entry's index.
        index: u64,
        /// The membership.
        membership: Membership,
    },
    /// A proposal this node made (the index and term
    /// [`Command::Propose`] was given) will never be committed: another
    /// entry was committed at its index (a leader change dropped it, §5.3).
    /// Propose it again if it must happen. Reported once, right after the
    /// [`Event::Committed`] of that index; not for a proposal that an
    /// installed snapshot covers (the snapshot's state tells), nor for one
    /// made before a restart, and of one leader's proposals only the
    /// latest `max_uncommitted_entries` are followed.
    ProposalDropped {
        /// The index the proposal had.
        index: u64,
        /// The term the proposal had.
        term: u64,
    },
    /// Replace the application's state with [`RaftNode::snapshot`]'s data:
    /// it covers every entry up to `index`, and [`Event::Committed`] goes
    /// on from `index + 1`. Comes when a leader's snapshot has been
    /// installed (§7), and first of all from a node restored from records
    /// that hold a snapshot.
    ApplySnapshot {
        /// The snapshot's last index.
        index: u64,
        /// The term of the entry at `index`.
        term: u64,
    },
}

/// What a vote request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vote {
    /// A pre-vote (thesis §9.6): would you vote, binding nothing.
    Pre,
    /// A vote (§5.2).
    Real,
    /// A vote for the target of a leadership transfer (thesis §3.10).
    Transfer,
}

/// One output of a [`RaftNode`].
pub type RaftOutput = Output<Message, Persist, Event>;

/// A follower's read, forwarded to its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Forwarded {
    /// The application's id for the read.
    id: u64,
    /// What the request carried instead, and the answer must echo: unique
    /// across this node's lives, so that a stale answer to a read of an
    /// earlier life, which the application may have numbered the same,
    /// is not taken for this one's (see [`RaftNode::read_token`]).
    token: u64,
    /// Failed if the leader has not answered by then.
    deadline: Instant,
    /// The read index, once the leader answered.
    index: Option<u64>,
}

/// One Raft server, over a log kept in `L`. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct RaftNode<L> {
    config: Config,
    /// The membership in effect: the latest in the log (thesis §4.1).
    membership: Membership,
    /// The membership at the snapshot (or the configuration's, at 0),
    /// then every membership entry in the log after it, in index order.
    configs: VecDeque<(u64, Membership)>,
    /// Every member but this node, voter or learner, each once.
    peers: Vec<NodeId>,
    log: L,
    rng: Rng,
    term: u64,
    vote: Option<NodeId>,
    /// The term or vote changed since the last `HardState` record.
    hard_state_dirty: bool,
    /// The `Identity` record was queued (or the node was restored from
    /// records, which begin with one).
    identified: bool,
    role: Role,
    leader: Option<NodeId>,
    commit_index: u64,
    applied_index: u64,
    /// The latest `now` seen.
    now: Instant,
    /// Whether any input has arrived yet (timers are armed by the first).
    started: bool,
    election_deadline: Instant,
    /// When this node last heard from the leader of its term; a restart
    /// counts as hearing from one (see `in_lease`).
    leader_contact: Instant,
    votes: VoteTally,
    /// Leader only: each follower's progress.
    progress: BTreeMap<NodeId, Progress>,
    heartbeat_deadline: Instant,
    quorum_deadline: Instant,
    /// `Event::LogFull` was reported and no append has succeeded since.
    log_full: bool,
    /// Leader only: the transfer under way, and when it is abandoned.
    transfer: Option<(NodeId, Instant)>,
    /// Leader only: a transfer began in this term, so the lease no longer
    /// holds (see `Command::TransferLeadership`).
    lease_void: bool,
    /// Leader only: the index of the first entry of its term.
    term_start_index: u64,
    /// The latest snapshot: the log is compacted up to its index.
    snapshot: Option<Snapshot>,
    /// Follower only: the chunks of a leader's snapshot received so far.
    incoming: Option<Snapshot>,
    /// Follower only: its reads waiting for the leader's read index, then
    /// for the applied index (thesis §6.4.1). Bounded by
    /// `max_pending_reads`.
    forwarded: VecDeque<Forwarded>,
    /// Forwarded reads made in this life, for their tokens.
    reads_forwarded: u64,
    reads: ReadOnly,
    /// This node's proposals not yet committed or dropped, as (index,
    /// term), oldest first; at most `max_uncommitted_entries`.
    proposals: VecDeque<(u64, u64)>,
    outputs: VecDeque<RaftOutput>,
}

impl<L: LogStorage> RaftNode<L> {
    /// A follower in term 0 over `log` (normally empty).
    ///
    /// # Errors
    /// [`Error::BadConfig`] if the configuration does not validate.
    pub fn new(config: Config, log: L) -> Result<Self, Error> {
        config.validate()?;
        let membership = config.membership()?;
        let me = config.id;
        let peers = membership.members().filter(|&v| v != me).collect();
        let configs = VecDeque::from([(0, membership.clone())]);
        Ok(RaftNode {
            membership,
            configs,
            rng: Rng::seed_from_u64(config.seed),
            reads: ReadOnly::new(config.max_pending_reads),
            config,
            peers,
            log,
            term: 0,
            vote: None,
            hard_state_dirty: false,
            identified: false,
            role: Role::Follower,
            leader: None,
            commit_index: 0,
            applied_index: 0,
            now: Instant::ZERO,
            started: false,
            election_deadline: Instant::ZERO,
            leader_contact: Instant::ZERO,
            votes: VoteTally::new(),
            progress: BTreeMap::new(),
            heartbeat_deadline: Instant::ZERO,
            quorum_deadline: Instant::ZERO,
            log_full: false,
            transfer: None,
            lease_void: false,
            term_start_index: 0,
            snapshot: None,
            incoming: None,
            forwarded: VecDeque::new(),
            reads_forwarded: 0,
            proposals: VecDeque::new(),
            outputs: VecDeque::new(),
        })
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The log.
    #[must_use]
    pub const fn log(&self) -> &L {
        &self.log
    }

    /// The current term.
    #[must_use]
    pub const fn term(&self) -> u64 {
        self.term
    }

    /// The vote cast in the current term.
    #[must_use]
    pub const fn vote(&self) -> Option<NodeId> {
        self.vote
    }

    /// The current role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The leader of the current term, if known (this node, if leader).
    #[must_use]
    pub const fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The membership in effect: the latest in the log, committed or not
    /// (thesis §4.1).
    #[must_use]
    pub const fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Every server this node talks to, sorted: the members of its
    /// membership but itself, and a server being removed until its removal
    /// commits (the leader goes on replicating to it so it learns of it).
    #[must_use]
    pub fn peers(&self) -> &[NodeId] {
        &self.peers
    }

    /// Leader only: the voter leadership is being handed to, while a
    /// [`Command::TransferLeadership`] is under way.
    #[must_use]
    pub fn transferring_to(&self) -> Option<NodeId> {
        self.transfer.map(|(to, _)| to)
    }

    /// How many reads wait for an answer, out of `max_pending_reads`: a
    /// leader's own and those its followers asked it for, or a follower's
    /// reads that it asked its leader about.
    #[must_use]
    pub fn pending_reads(&self) -> usize {
        match self.role {
            Role::Leader => self.reads.len(),
            _ => self.forwarded.len(),
        }
    }

    /// The time of the last input, on this node's clock.
    #[must_use]
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Whether this node leads under a lease that holds at the time of its
    /// last input: a lease read now would be answered without a heartbeat
    /// round. Never on a follower, with check-quorum off, or in a term
    /// whose lease a leadership transfer voided.
    #[must_use]
    pub fn lease_holds(&self) -> bool {
        self.lease_holds_at(self.now)
    }

    /// Whether the lease would still hold at `at` (not before the last
    /// input) if no input came before then: whether a lease read arriving
    /// at `at` would be answered without asking anyone. A checker's
    /// question (the simulator asks it of every older leader the moment a
    /// newer one is elected); a host asks [`lease_holds`](Self::lease_holds).
    #[must_use]
    pub fn lease_holds_at(&self, at: Instant) -> bool {
        let lease_ms = self
            .config
            .election_timeout_min_ms
            .saturating_sub(self.config.max_clock_drift_ms);
        self.role == Role::Leader
            && self.config.check_quorum
            && !self.lease_void
            && self.reads.lease_holds(at.max(self.now), lease_ms)
    }

    /// The highest index known to be committed.
    #[must_use]
    pub const fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// The highest index reported with [`Event::Committed`] (or covered by
    /// the snapshot of an [`Event::ApplySnapshot`]).
    #[must_use]
    pub const fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// The latest snapshot, taken here ([`RaftNode::compact`]) or installed
    /// from a leader; the log holds the entries after its index.
    #[must_use]
    pub const fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Takes a snapshot (§7): `data` is the application's state after
    /// applying every entry up to `index`. The log drops the entries it
    /// covers, and the node queues a [`Persist::Snapshot`] record that
    /// replaces every record before it. A leader sends the snapshot to
    /// followers that need entries it no longer holds.
    ///
    /// # Errors
    /// [`Error::SnapshotNotApplied`] if `index` is beyond
    /// [`applied_index`](Self::applied_index) (a snapshot may not cover an
    /// uncommitted entry); [`Error::SnapshotBehind`] if it is not past the
    /// last snapshot; [`Error::SnapshotTooLarge`]; [`Error::Backpressure`].
    /// The node is then unchanged.
    pub fn compact(&mut self, index: u64, data: Vec<u8>) -> Result<(), Error> {
        if self.outputs.len() >= self.config.max_outputs {
            return Err(Error::Backpressure {
                max: self.config.max_outputs,
            });
        }
        let applied = self.applied_index;
        if index > applied {
            return Err(Error::SnapshotNotApplied { index, applied });
        }
        let snapshot_index = self.snapshot.as_ref().map_or(0, |s| s.index);
        if index <= snapshot_index {
            return Err(Error::SnapshotBehind {
                index,
                snapshot_index,
            });
        }
        let max = self.config.max_snapshot_bytes;
        if data.len() > max {
            return Err(Error::SnapshotTooLarge {
                len: data.len(),
                max,
            });
        }
        // Applied entries are held: snapshot_index < index <= applied.
        let term = self.log.term(index).unwrap_or(0);
        self.log.compact(index, term);
        let membership = self.membership_at(index);
        self.rebase_configs(index, membership.clone(), true);
        self.record_snapshot(Snapshot {
            index,
            term,
            membership,
            data,
        });
        Ok(())
    }

    // ---- membership (§6; thesis chapter 4) ---------------------------------

    /// The membership in effect at `index`.
    fn membership_at(&self, index: u64) -> Membership {
        // The first is at the snapshot, at or below any index asked about.
        self.configs
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .map_or_else(|| self.membership.clone(), |(_, m)| m.clone())
    }

    /// A snapshot at `index` with `membership` replaces the configuration
    /// entries it covers; those after it stay if `keep_later` (the log
    /// after the snapshot is kept).
    fn rebase_configs(&mut self, index: u64, membership: Membership, keep_later: bool) {
        self.configs.retain(|(i, _)| keep_later && *i > index);
        self.configs.push_front((index, membership));
        self.refresh_membership();
    }

    /// The log was cut back to `index`: the membership entries after it
    /// are gone (the one at the snapshot always stays).
    fn truncate_configs(&mut self, index: u64) {
        let before = self.configs.len();
        while self.configs.len() > 1 && self.configs.back().is_some_and(|(i, _)| *i > index) {
            self.configs.pop_back();
        }
        if self.configs.len() != before {
            self.refresh_membership();
        }
    }

    /// Whether the entry at `index` holds a membership.
    fn entry_kind(&self, index: u64) -> EntryKind {
        // Almost always only the snapshot's membership is held: no search.
        let held = self.configs.len() > 1 && self.configs.iter().skip(1).any(|(i, _)| *i == index);
        if held {
            EntryKind::Membership
        } else {
            EntryKind::Normal
        }
    }

    /// The membership in effect is the latest one; peers and (for a leader)
    /// progress follow it.
    fn refresh_membership(&mut self) {
        let Some((_, latest)) = self.configs.back() else {
            return;
        };
        if *latest == self.membership {
            return;
        }
        self.membership = latest.clone();
        if self
            .transfer
            .is_some_and(|(to, _)| !self.membership.is_voter(to))
        {
            self.transfer = None;
        }
        self.refresh_peers();
    }

    /// The peers are every member of a membership that no committed one
    /// has superseded yet: a leader goes on replicating to a server it
    /// removes until the removal commits, so that the server learns it
    /// and stops campaigning.
    fn refresh_peers(&mut self) {
        let commit = self.commit_index;
        let from = self
            .configs
            .iter()
            .rposition(|(i, _)| *i <= commit)
            .unwrap_or(0);
        let me = self.config.id;
        let mut peers: Vec<NodeId> = self
            .configs
            .iter()
            .skip(from)
            .flat_map(|(_, m)| m.members())
            .filter(|&v| v != me)
            .collect();
        peers.sort_unstable();
        peers.dedup();
        if peers == self.peers {
            return;
        }
        self.peers = peers;
        if self.role == Role::Leader {
            let peers = &self.peers;
            self.progress
                .retain(|id, _| peers.binary_search(id).is_ok());
            let next = self.log.last_index().saturating_add(1);
            for &peer in &self.peers {
                self.progress.entry(peer).or_insert_with(|| {
                    Progress::new(
                        next,
                        self.config.max_inflight_messages,
                        self.config.max_inflight_bytes,
                    )
                });
            }
        }
    }

    /// A membership change (leader only).
    fn change_membership(&mut self, change: &MembershipChange) -> Result<(), Error> {
        self.check_leader()?;
        if let Some((to, _)) = self.transfer {
            return Err(Error::TransferInProgress { to });
        }
        let last_change = self.configs.back().map_or(0, |(i, _)| *i);
        let pending = last_change > self.commit_index
            || self.commit_index < self.term_start_index
            || self.membership.is_joint();
        if pending && !planted(Mutant::RaftOverlappingMembershipChanges) {
            return Err(Error::MembershipChangePending);
        }
        let (next, added) = self.membership.apply(change)?;
        let commit_index = self.commit_index;
        for id in added {
            let match_index = self.progress.get(&id).map_or(0, |p| p.match_index);
            if match_index < commit_index {
                return Err(Error::LearnerBehind {
                    id,
                    match_index,
                    commit_index,
                });
            }
        }
        let max = self.config.max_uncommitted_entries;
        if self.log.last_index().saturating_sub(commit_index) >= max {
            return Err(Error::TooManyUncommitted { max });
        }
        self.append_membership(&next)?;
        self.broadcast_append();
        Ok(())
    }

    /// Appends `membership` as an entry of this leader's term; it takes
    /// effect at once.
    fn append_membership(&mut self, membership: &Membership) -> Result<(), Error> {
        let data = postcard::to_allocvec(membership).map_err(|_| Error::LogFull)?;
        self.append_entry(EntryKind::Membership, data)
    }

    /// A leader's duties once its commit index moved: finish a joint change
    /// with `C_new` (§6), and step down once a membership without it as a
    /// voter has committed (thesis §4.2.2).
    fn after_commit(&mut self, before: u64) {
        if self.role != Role::Leader {
            return;
        }
        let commit = self.commit_index;
        if self
            .configs
            .iter()
            .any(|(i, _)| *i > before && *i <= commit)
        {
            self.refresh_peers();
        }
        let Some(&(index, _)) = self.configs.back() else {
            return;
        };
        if index > self.commit_index || index == 0 {
            return;
        }
        if self.membership.is_joint() {
            let next = self.membership.leave_joint();
            if self.append_membership(&next).is_ok() {
                self.broadcast_append();
            }
        } else if !self.membership.is_voter(self.config.id) {
            // The followers hear of the commit before the leader goes.
            self.broadcast_heartbeat();
            self.become_follower(self.term, None);
        }
    }

    /// Keeps `snapshot`, over which the log is compacted, and queues its
    /// record: the hard state and the log after it go with it, so that it
    /// replaces every earlier record.
    fn record_snapshot(&mut self, snapshot: Snapshot) {
        let entries = (self.log.first_index()..=self.log.last_index())
            .map_while(|i| Some((i, self.log.entry(i)?)))
            .map(|(i, e)| Entry {
                term: e.term,
                kind: self.entry_kind(i),
                data: e.data.to_vec(),
            })
            .collect();
        self.hard_state_dirty = false;
        self.identified = true;
        self.outputs.push_back(Output::Persist(Persist::Snapshot {
            writer: self.writer(),
            snapshot: snapshot.clone(),
            term: self.term,
            vote: self.vote,
            entries,
        }));
        self.snapshot = Some(snapshot);
    }

    // ---- the common step: term rules, then the role's step --------------

    fn step(&mut self, from: NodeId, message: Message) {
        let Message { term, body } = message;
        // Only a leader sends these, and the leader of a term is legitimate
        // whether or not this node knows the membership that elected it (a
        // node being added, thesis §4.1); anything else from a non-member
        // is dropped (a removed server cannot disrupt, thesis §4.2.3).
        let from_leader = matches!(
            body,
            Body::AppendEntries { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. }
        );
        // A server being removed stays a peer until its removal commits,
        // and its answers still count for its progress.
        let known = self.membership.contains(from) || self.peers.binary_search(&from).is_ok();
        if from == self.config.id || !(from_leader || known) {
            return;
        }
        if term == u64::MAX {
            // No node reaches the last term (`campaign` stops before it):
            // a peer that wrote -1 or a corrupted frame, dropped like any
            // content-malformed message, so it cannot end all elections.
            return;
        }
        if let Body::AppendEntries {
            prev_log_term,
            entries,
            ..
        } = &body
        {
            if !entries_are_well_formed(term, *prev_log_term, entries) {
                // No leader writes such a message: dropped whole, term and
                // all, as every content-malformed message is.
                return;
            }
        }
        if let Body::InstallSnapshot { snapshot_term, .. } = &body
            && *snapshot_term > term
        {
            // A leader's snapshot covers entries of its term at most.
            return;
        }
        if term > self.term {
            match body {
                // A node that hears from a leader ignores elections and
                // keeps its term (thesis §4.2.3): a partitioned node
                // rejoining cannot depose a healthy leader. Requests of its
                // own term are refused in `handle_vote_request`.
                Body::PreVote { .. }
                | Body::RequestVote {
                    transfer: false, ..
                } if self.in_lease() => return,
                // A pre-vote asks about a future term and changes nothing;
                // a granted pre-vote carries the term asked about.
                Body::PreVote { .. } | Body::PreVoteResponse { granted: true } => {}
                Body::AppendEntries { .. }
                | Body::Heartbeat { .. }
                | Body::InstallSnapshot { .. } => {
                    self.become_follower(term, Some(from));
                }
                _ => self.become_follower(term, None),
            }
        } else if term < self.term {
            match body {
                // Tell a stale leader or candidate about the newer term
                // (Figure 2), and a stale pre-candidate, which would
                // otherwise never learn it (thesis §9.6).
                Body::AppendEntries { .. }
                | Body::Heartbeat { .. }
                | Body::InstallSnapshot { .. } => {
                    self.send(from, Body::HeartbeatResponse { round: 0 });
                }
                Body::RequestVote { .. } => {
                    self.send(from, Body::RequestVoteResponse { granted: false });
                }
                Body::PreVote { .. } => self.send(from, Body::PreVoteResponse { granted: false }),
                _ => {}
            }
            return;
        }
        match body {
            Body::PreVote {
                last_log_index,
                last_log_term,
            } => self.handle_vote_request(from, term, Vote::Pre, last_log_index, last_log_term),
            Body::RequestVote {
                last_log_index,
                last_log_term,
                transfer,
            } => {
                let kind = if transfer { Vote::Transfer } else { Vote::Real };
                self.handle_vote_request(from, term, kind, last_log_index, last_log_term);
            }
            // Not the leader (any more): the follower fails the read now
            // rather than at its timeout.
            Body::ReadIndex { id, .. } if self.role != Role::Leader => {
                self.send(from, Body::ReadIndexResponse { id, index: None });
            }
            body => match self.role {
                Role::Follower => self.step_follower(from, body),
                Role::PreCandidate | Role::Candidate => self.step_candidate(from, term, body),
                Role::Leader => self.step_leader(from, body),
            },
        }
    }

    /// Whether this node believes a leader is alive: it is one (with or
    /// without check-quorum), or it heard from one within the minimum
    /// election timeout. A node counts its start as such contact, so a
    /// restarted voter cannot help elect a new leader while the old
    /// leader's lease may still run.
    fn in_lease(&self) -> bool {
        match self.role {
            Role::Leader => true,
            Role::Follower => {
                let until = self
                    .leader_contact
                    .saturating_add_millis(self.config.election_timeout_min_ms);
                self.now < until
            }
            Role::PreCandidate | Role::Candidate => false,
        }
    }

    /// A vote or pre-vote request whose term is at least ours (§5.2,
    /// §5.4.1; thesis §9.6).
    fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: u64,
        kind: Vote,
        last_log_index: u64,
        last_log_term: u64,
    ) {
        let pre_vote = kind == Vote::Pre;
        // At most one vote per term; a repeated request gets the same vote.
        // A pre-vote for a later term binds nothing.
        let can_vote = self.vote == Some(from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && term > self.term);
        // Never within the minimum election timeout of hearing from a
        // leader, whatever the request's term and whatever raised ours
        // since (thesis §4.2.3): a late vote or pre-vote *response* of a
        // higher term moves a follower to that term with no leader and no
        // vote, and a vote request of that term must still be refused, or a
        // new leader could commit while the old one's lease runs (§6.4).
        // A transfer's vote is the exception: the leader that sent
        // TimeoutNow gave up its lease first.
        let sticky = !planted(Mutant::RaftStickinessHigherTermOnly) && self.in_lease();
        let up_to_date = self.log.is_up_to_date(last_log_index, last_log_term)
            || planted(Mutant::RaftVoteNotUpToDate);
        let granted = can_vote
            && self.membership.is_voter(self.config.id)
            && (kind == Vote::Transfer || !sticky)
            && up_to_date;
        if pre_vote {
            let term = if granted { term } else { self.term };
            let body = Body::PreVoteResponse { granted };
            self.send_message(from, Message { term, body });
        } else {
            if granted {
                if self.vote != Some(from) {
                    self.vote = Some(from);
                    self.hard_state_dirty = true;
                }
                self.reset_election_timer();
            }
            let body = Body::RequestVoteResponse { granted };
            if planted(Mutant::RaftVoteSentBeforePersisted) {
                // The vote's record follows at the next flush.
                let message = Message {
                    term: self.term,
                    body,
                };
                self.outputs.push_back(Output::Send { to: from, message });
            } else {
                self.send(from, body);
            }
        }
    }

    // ---- one function per role ------------------------------------------

    fn step_follower(&mut self, from: NodeId, body: Body) {
        match body {
            Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                self.follow(from);
                self.handle_append(from, prev_log_index, prev_log_term, entries, leader_commit);
            }
            Body::Heartbeat {
                leader_commit,
                round,
            } => {
                self.follow(from);
                // The leader caps the commit index at what it knows we hold.
                self.commit_to(leader_commit.min(self.log.last_index()));
                self.send(from, Body::HeartbeatResponse { round });
            }
            Body::InstallSnapshot {
                index,
                snapshot_term,
                offset,
                data,
                done,
                membership,
            } => {
                self.follow(from);
                let snapshot = Snapshot {
                    index,
                    term: snapshot_term,
                    membership,
                    data,
                };
                self.handle_snapshot(from, offset, snapshot, done);
            }
            Body::ReadIndexResponse { id, index } if self.leader == Some(from) => {
                self.on_read_index(id, index);
            }
            // Our leader hands us leadership (thesis §3.10): campaign now,
            // with no pre-vote, which the leader's followers would refuse.
            Body::TimeoutNow if self.leader == Some(from) => self.campaign(false, true),
            // Answers meant for a leader or a candidate we no longer are.
            _ => {}
        }
    }

    fn step_candidate(&mut self, from: NodeId, term: u64, body: Body) {
        match body {
            // Someone won this term (§5.2).
            Body::AppendEntries { .. } | Body::Heartbeat { .. } | Body::InstallSnapshot { .. } => {
                self.become_follower(self.term, Some(from));
                self.step_follower(from, body);
            }
            Body::PreVoteResponse { granted } if self.role == Role::PreCandidate => {
                // A grant is for the term we asked about; a refusal carries
                // the voter's term, which here is ours. Anything else is an
                // answer to an earlier round.
                let expected = if granted {
                    self.term.checked_add(1)
                } else {
                    Some(self.term)
                };
                if expected == Some(term) {
                    self.count_vote(from, granted);
                }
            }
            Body::RequestVoteResponse { granted } if self.role == Role::Candidate => {
                self.count_vote(from, granted);
            }
            _ => {}
        }
    }

    fn step_leader(&mut self, from: NodeId, body: Body) {
        match body {
            Body::AppendAccepted { match_index } => self.on_append_accepted(from, match_index),
            Body::AppendRejected {
                prev_log_index,
                conflict_index,
                conflict_term,
            } => self.on_append_rejected(from, prev_log_index, conflict_index, conflict_term),
            Body::HeartbeatResponse { round } => self.on_heartbeat_response(from, round),
            Body::SnapshotReceived { index, received } => {
                self.on_snapshot_received(from, index, received);
            }
            Body::ReadIndex { id, lease } => {
                let refused = self.read(Some(from), id, lease).is_err();
                if refused {
                    self.send(from, Body::ReadIndexResponse { id, index: None });
                }
            }
            // Late votes; and no other leader exists in this term (§5.2).
            _ => {}
        }
    }

    fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            Role::Follower | Role::PreCandidate | Role::Candidate => {
                self.fail_forwarded(false);
                if self.now >= self.election_deadline {
                    if self.membership.is_voter(self.config.id) {
                        self.campaign(self.config.pre_vote, false);
                    } else {
                        // A learner or a removed server never campaigns.
                        self.reset_election_timer();
                    }
                }
            }
        }
    }

    fn tick_leader(&mut self) {
        if self.transfer.is_some_and(|(_, until)| self.now >= until) {
            // The target did not take over in time: lead on (thesis
            // §3.10); the lease stays void for this term.
            self.transfer = None;
        }
        if self.config.check_quorum && self.now >= self.quorum_deadline {
            let me = self.config.id;
            let progress = &self.progress;
            let active =
                |v: NodeId| Some(v == me || progress.get(&v).is_some_and(|p| p.recent_active));
            if self.membership.voters().vote_result(&active) != VoteResult::Won {
                // Cut off from a quorum: a new leader may be elected
                // elsewhere; stop taking proposals and reads (thesis §6.2).
                self.become_follower(self.term, None);
                return;
            }
            for pr in self.progress.values_mut() {
                pr.recent_active = false;
            }
            self.quorum_deadline = self
                .now
                .saturating_add_millis(self.config.election_timeout_min_ms);
        }
        if self.now >= self.heartbeat_deadline {
            self.heartbeat_deadline = self
                .now
                .saturating_add_millis(self.config.heartbeat_interval_ms);
            self.broadcast_heartbeat();
        }
    }

    fn command(&mut self, command: Command) -> Result<(), Error> {
        match command {
            Command::Propose(data) => self.propose(data),
            Command::Read { id } if self.role == Role::Leader => self.read(None, id, false),
            Command::LeaseRead { id } if self.role == Role::Leader => self.read(None, id, true),
            Command::Read { id } => self.forward_read(id, false),
            Command::LeaseRead { id } => self.forward_read(id, true),
            Command::TransferLeadership { to } => self.transfer_leadership(to),
            Command::ChangeMembership(change) => self.change_membership(&change),
        }
    }

    // ---- role changes -----------------------------------------------------

    fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        if self.role == Role::Leader {
            let outputs = &mut self.outputs;
            self.reads
                .fail_all(|id| outputs.push_back(Output::Event(Event::ReadFailed { id })));
            self.progress.clear();
            self.transfer = None;
            self.lease_void = false;
        }
        let changed = self.role != Role::Follower || self.term != term || self.leader != leader;
        if changed {
            // Our leader's answers no longer come, or no longer count.
            self.fail_forwarded(true);
        }
        if term != self.term {
            self.term = term;
            self.vote = None;
            self.hard_state_dirty = true;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.reset_election_timer();
        if changed {
            self.emit(Event::BecameFollower { term, leader });
        }
    }

    /// Starts a pre-vote round (without changing the term) or an election
    /// in the next term (§5.2); `transfer` if a leader handed leadership
    /// over (thesis §3.10).
    fn campaign(&mut self, pre_vote: bool, transfer: bool) {
        self.reset_election_timer();
        self.fail_forwarded(true);
        // Past the last term there is nothing to campaign for (u64::MAX is
        // not a term: see `step`).
        let Some(next_term) = self.term.checked_add(1).filter(|&t| t < u64::MAX) else {
            return;
        };
        // A leader must append an entry of its term at once (§5.4.2); with
        // no room for it, leading would commit nothing and serve no read.
        if !self.log.has_room(0) {
            self.report_log_full();
            return;
        }
        let me = self.config.id;
        if pre_vote {
            self.role = Role::PreCandidate;
        } else {
            self.role = Role::Candidate;
            self.term = next_term;
            self.vote = Some(me);
            self.hard_state_dirty = true;
        }
        self.leader = None;
        self.votes.reset();
        self.count_vote(me, true);
        if self.role == Role::Leader {
            return; // a lone voter won at once
        }
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        for i in 0..self.peers.len() {
            let Some(&peer) = self.peers.get(i) else {
                break;
            };
            if !self.membership.is_voter(peer) {
                continue; // learners and departing servers do not vote
            }
            let body = if pre_vote {
                Body::PreVote {
                    last_log_index,
                    last_log_term,
                }
            } else {
                Body::RequestVote {
                    last_log_index,
                    last_log_term,
                    transfer,
                }
            };
            self.send_message(
                peer,
                Message {
                    term: next_term,
                    body,
                },
            );
        }
    }

    fn count_vote(&mut self, voter: NodeId, granted: bool) {
        // Only voters get here, and the tally holds every voter of a
        // joint configuration.
        let _ = self.votes.record(voter, granted);
        match self.membership.voters().vote_result(&self.votes) {
            VoteResult::Won if self.role == Role::PreCandidate => self.campaign(false, false),
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => self.become_follower(self.term, None),
            VoteResult::Pending => {}
        }
    }

    fn become_leader(&mut self) {
        let next = self.log.last_index().saturating_add(1);
        self.role = Role::Leader;
        self.transfer = None;
        self.lease_void = false;
        self.leader = Some(self.config.id);
        self.progress = self
            .peers
            .iter()
            .map(|&peer| {
                let pr = Progress::new(
                    next,
                    self.config.max_inflight_messages,
                    self.config.max_inflight_bytes,
                );
                (peer, pr)
            })
            .collect();
        self.heartbeat_deadline = self
            .now
            .saturating_add_millis(self.config.heartbeat_interval_ms);
        self.quorum_deadline = self
            .now
            .saturating_add_millis(self.config.election_timeout_min_ms);
        // The term and the self-vote that won it are durable before the
        // application hears of it (a lone voter wins without sending a
        // request, which would otherwise have persisted them first).
        self.flush_hard_state();
        self.emit(Event::BecameLeader { term: self.term });
        // An entry of its own term lets the leader commit the entries
        // before it (§5.4.2) and learn its commit index for reads (thesis
        // §6.4). With a full log nothing commits until there is room.
        self.term_start_index = next;
        if self.append_entry(EntryKind::Normal, Vec::new()).is_err() {
            // `campaign` checked for room and a candidate's log does not
            // change, so this is only a defence: a leader without the entry
            // would stall every read, so it steps down at once.
            self.report_log_full();
            self.become_follower(self.term, None);
            return;
        }
        self.broadcast_append();
    }

    // ---- replication, follower side (§5.3) --------------------------------

    /// Heard from the leader of this term: follow it and stay a follower.
    fn follow(&mut self, leader: NodeId) {
        if self.leader != Some(leader) {
            self.become_follower(self.term, Some(leader));
        }
        self.leader_contact = self.now;
        self.reset_election_timer();
    }

    fn handle_append(
        &mut self,
        from: NodeId,
        prev_log_index: u64,
        prev_log_term: u64,
        mut entries: Vec<Entry>,
        leader_commit: u64,
    ) {
        if prev_log_index < self.commit_index {
            // Everything up to our commit index matches any leader's log
            // (§5.4); a message from before it is stale.
            let match_index = self.commit_index;
            self.send(from, Body::AppendAccepted { match_index });
            return;
        }
        match self.log.term(prev_log_index) {
            Some(term) if term == prev_log_term => {}
            Some(term) => {
                let conflict_index = term
                    .checked_sub(1)
                    .map_or(0, |below| {
                        last_index_within_term(&self.log, below, prev_log_index)
                    })
                    .saturating_add(1);
                let body = Body::AppendRejected {
                    prev_log_index,
                    conflict_index,
                    conflict_term: Some(term),
                };
                self.send(from, body);
                return;
            }
            None => {
                let body = Body::AppendRejected {
                    prev_log_index,
                    conflict_index: self.log.last_index().saturating_add(1),
                    conflict_term: None,
                };
                self.send(from, body);
                return;
            }
        }
        // A peer cannot make us hold more than one message's worth.
        let keep = batch_len(&self.config, entries.iter().map(|e| e.data.len()));
        entries.truncate(keep);
        let Some(last_new) = prev_log_index.checked_add(entries.len() as u64) else {
            return;
        };
        // Entries already held with the same term are the leader's (Log
        // Matching); only from the first conflict on does the log change,
        // so a late or duplicated message never truncates anything.
        let first_new = entries.iter().enumerate().position(|(k, entry)| {
            let index = prev_log_index.saturating_add(1).saturating_add(k as u64);
            self.log.term(index) != Some(entry.term)
        });
        let mut match_index = last_new;
        if let Some(skip) = first_new {
            let first_index = prev_log_index.saturating_add(1).saturating_add(skip as u64);
            if first_index <= self.commit_index {
                return; // it would rewrite committed entries: not a real leader
            }
            self.log.truncate_after(first_index - 1);
            self.truncate_configs(first_index - 1);
            // The entries before the first conflict are held already.
            entries.drain(..skip);
            let mut written = entries;
            let appended = written
                .iter()
                .take_while(|entry| self.log.append(entry.term, &entry.data).is_ok())
                .count();
            // Memberships take effect when appended (thesis §4.1); their
            // data decoded when the message was checked.
            let configs = written.iter().take(appended).zip(first_index..);
            for (entry, index) in configs {
                if entry.kind == EntryKind::Membership
                    && let Some(m) = membership_of(entry)
                {
                    self.configs.push_back((index, m));
                }
            }
            if self.configs.back().is_some_and(|(i, _)| *i >= first_index) {
                self.refresh_membership();
            }
            if appended < written.len() {
                self.report_log_full();
            } else if appended > 0 {
                self.log_full = false;
            }
            written.truncate(appended);
            match_index = (first_index - 1).saturating_add(appended as u64);
            // Durable before the acknowledgement that depends on it.
            self.persist(Persist::Entries {
                first_index,
                entries: written,
            });
        }
        self.commit_to(leader_commit.min(match_index));
        self.send(from, Body::AppendAccepted { match_index });
    }

    /// A chunk of the leader's snapshot (§7, Figure 13). Chunks are taken
    /// in order; a chunk out of order is answered with what is held, so
    /// the leader resumes from there.
    fn handle_snapshot(&mut self, from: NodeId, offset: u64, chunk: Snapshot, done: bool) {
        let (index, term) = (chunk.index, chunk.term);
        if index > MAX_INDEX {
            // No log reaches it (see `MAX_INDEX`): dropped, as every
            // content-malformed message is.
            return;
        }
        if index <= self.commit_index {
            // We have all it covers, committed: it matches any leader's log.
            self.incoming = None;
            let match_index = self.commit_index;
            self.send(from, Body::AppendAccepted { match_index });
            return;
        }
        let same = |s: &Snapshot| s.index == index && s.term == term;
        let held = self
            .incoming
            .as_ref()
            .filter(|s| same(s))
            .map_or(0, |s| s.data.len() as u64);
        if offset != held && offset != 0 {
            let received = held;
            self.send(from, Body::SnapshotReceived { index, received });
            return;
        }
        let len = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(chunk.data.len()));
        if len.is_none_or(|len| len > self.config.max_snapshot_bytes) {
            // Larger than this node takes (the bound must be the same on
            // every node): dropped, as a malformed message is.
            self.incoming = None;
            return;
        }
        let incoming = match self.incoming.take() {
            Some(mut s) if same(&s) && offset != 0 => {
                s.data.extend_from_slice(&chunk.data);
                s
            }
            _ => chunk,
        };
        if !done {
            let received = incoming.data.len() as u64;
            self.incoming = Some(incoming);
            self.send(from, Body::SnapshotReceived { index, received });
            return;
        }
        // Installed: the log after it stays if it follows it (Figure 13),
        // the state machine is replaced, and both are durable before the
        // acknowledgement. The snapshot's membership replaces the entries
        // it covers.
        let kept = self.log.term(index) == Some(term);
        self.log.compact(index, term);
        self.rebase_configs(index, incoming.membership.clone(), kept);
        self.log_full = false;
        self.commit_index = index;
        self.applied_index = index;
        // The snapshot's state holds whatever became of these.
        while self.proposals.front().is_some_and(|&(i, _)| i <= index) {
            self.proposals.pop_front();
        }
        self.record_snapshot(incoming);
        self.emit(Event::ApplySnapshot { index, term });
        self.send(from, Body::AppendAccepted { match_index: index });
    }

    // ---- replication, leader side (§5.3, §5.4.2) -------------------------

    fn propose(&mut self, data: Vec<u8>) -> Result<(), Error> {
        self.check_leader()?;
        if let Some((to, _)) = self.transfer {
            return Err(Error::TransferInProgress { to });
        }
        let max = self.config.max_entry_bytes;
        if data.len() > max {
            return Err(Error::EntryTooLarge {
                len: data.len(),
                max,
            });
        }
        let max = self.config.max_uncommitted_entries;
        if self.log.last_index().saturating_sub(self.commit_index) >= max {
            return Err(Error::TooManyUncommitted { max });
        }
        self.append_entry(EntryKind::Normal, data)?;
        if self.proposals.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
            self.proposals.pop_front();
        }
        // Kept in index order: a leader re-elected after its log was cut
        // back proposes again at indexes it used in an earlier term.
        let proposal = (self.log.last_index(), self.term);
        if self.proposals.back().is_none_or(|&(i, _)| i < proposal.0) {
            self.proposals.push_back(proposal);
        } else {
            let at = self.proposals.partition_point(|&(i, _)| i <= proposal.0);
            self.proposals.insert(at, proposal);
        }
        self.broadcast_append();
        Ok(())
    }

    /// Appends an entry of this leader's term, durably; a membership takes
    /// effect at once.
    fn append_entry(&mut self, kind: EntryKind, data: Vec<u8>) -> Result<(), Error> {
        let first_index = self
            .log
            .append(self.term, &data)
            .map_err(|_| Error::LogFull)?;
        self.log_full = false;
        let term = self.term;
        let entry = Entry { term, kind, data };
        if kind == EntryKind::Membership
            && let Some(m) = membership_of(&entry)
        {
            self.configs.push_back((first_index, m));
            self.refresh_membership();
        }
        self.persist(Persist::Entries {
            first_index,
            entries: vec![entry],
        });
        self.maybe_commit(); // a lone voter commits at once
        Ok(())
    }

    fn on_append_accepted(&mut self, from: NodeId, match_index: u64) {
        // Nobody holds more of this leader's log than it has.
        if match_index > self.log.last_index() {
            return;
        }
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if pr.maybe_update(match_index) {
            self.maybe_commit();
        }
        while self.send_append(from, false) {}
        self.maybe_timeout_now(from);
    }

    fn on_append_rejected(
        &mut self,
        from: NodeId,
        prev_log_index: u64,
        conflict_index: u64,
        conflict_term: Option<u64>,
    ) {
        if prev_log_index > self.log.last_index() {
            return; // never sent
        }
        // If we hold entries of the follower's conflicting term, the logs
        // agree up to our last one of them; otherwise skip the whole term.
        let hint_next = match conflict_term {
            Some(term) => {
                let last = last_index_within_term(&self.log, term, prev_log_index);
                if self.log.term(last) == Some(term) {
                    last.saturating_add(1)
                } else {
                    conflict_index
                }
            }
            None => conflict_index,
        };
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if pr.maybe_decrease(prev_log_index, hint_next) {
            while self.send_append(from, false) {}
        }
    }

    fn on_heartbeat_response(&mut self, from: NodeId, round: u64) {
        if round > self.reads.round() {
            return; // never sent
        }
        let last_index = self.log.last_index();
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.heartbeat_answered(round);
        // A reachable follower that lags gets entries (or, if its window is
        // open but nothing new is due, a probe that reveals a lost message).
        if pr.match_index < last_index {
            self.send_append(from, true);
        }
        // Again, in case the first TimeoutNow was lost.
        self.maybe_timeout_now(from);
    }

    fn on_snapshot_received(&mut self, from: NodeId, index: u64, received: u64) {
        let len = self.snapshot.as_ref().map_or(0, |s| s.data.len() as u64);
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.recent_active = true;
        if pr.snapshot_received(index, received, len) {
            while self.send_append(from, false) {}
        }
    }

    // ---- leadership transfer (thesis §3.10) ---------------------------------

    fn transfer_leadership(&mut self, to: NodeId) -> Result<(), Error> {
        self.check_leader()?;
        if to == self.config.id {
            return Ok(());
        }
        if !self.membership.is_voter(to) {
            return Err(Error::NotAVoter { id: to });
        }
        let until = self
            .now
            .saturating_add_millis(self.config.election_timeout_min_ms);
        self.transfer = Some((to, until));
        // Voters grant the target's votes inside the lease, so from now on
        // this leader's lease proves nothing.
        self.lease_void = true;
        while self.send_append(to, false) {}
        self.maybe_timeout_now(to);
        Ok(())
    }

    /// Tells the transfer's target to campaign once its log matches ours.
    fn maybe_timeout_now(&mut self, peer: NodeId) {
        let last_index = self.log.last_index();
        let caught_up = self
            .progress
            .get(&peer)
            .is_some_and(|pr| pr.match_index == last_index);
        if self.transfer.is_some_and(|(to, _)| to == peer) && caught_up {
            self.send(peer, Body::TimeoutNow);
        }
    }

    /// Commits the largest index a quorum holds, if it is of this term:
    /// earlier terms' entries commit only through it (§5.4.2, Figure 8).
    fn maybe_commit(&mut self) {
        let me = self.config.id;
        let last_index = self.log.last_index();
        let progress = &self.progress;
        let acked = |v: NodeId| {
            if v == me {
                Some(last_index)
            } else {
                progress.get(&v).map(|p| p.match_index)
            }
        };
        let index = self.membership.voters().committed_index(&acked);
        let current_term = self.log.term(index) == Some(self.term);
        if index > self.commit_index && (current_term || planted(Mutant::RaftFigure8)) {
            let before = core::mem::replace(&mut self.commit_index, index);
            self.after_commit(before);
        }
    }

    /// Sends `to` the entries it lacks, as many as one message holds, if
    /// its progress allows; an empty message only if `allow_empty`.
    /// Returns whether a message was sent.
    fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let last_index = self.log.last_index();
        let Some(pr) = self.progress.get(&to) else {
            return false;
        };
        let next = pr.next_index.clamp(1, last_index.saturating_add(1));
        let prev_log_index = next - 1;
        let compacted = prev_log_index < self.log.first_index().saturating_sub(1);
        if pr.state == ProgressState::Snapshot || compacted {
            return self.send_snapshot_chunk(to);
        }
        if pr.is_paused() {
            return false;
        }
        let Some(prev_log_term) = self.log.term(prev_log_index) else {
            return false;
        };
        if next > last_index && !allow_empty {
            return false;
        }
        let pending = usize::try_from(last_index + 1 - next).unwrap_or(usize::MAX);
        let mut entries = Vec::with_capacity(pending.min(self.config.max_entries_per_message));
        let mut batch = Batch::default();
        for index in next..=last_index {
            let Some(e) = self.log.entry(index) else {
                break;
            };
            if !batch.admits(&self.config, e.data.len()) {
                break;
            }
            entries.push(Entry {
                term: e.term,
                kind: self.entry_kind(index),
                data: e.data.to_vec(),
            });
        }
        if entries.is_empty() && !allow_empty {
            return false;
        }
        let bytes = batch.bytes;
        let last_sent = prev_log_index.saturating_add(entries.len() as u64);
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.sent(last_sent, bytes, !entries.is_empty());
        }
        let body = Body::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.send(to, body);
        true
    }

    /// The next chunk of our snapshot to `to`, whose log needs entries
    /// compacted away, if its window allows one. Returns whether a chunk
    /// was sent.
    fn send_snapshot_chunk(&mut self, to: NodeId) -> bool {
        let (Some(snapshot), Some(pr)) = (&self.snapshot, self.progress.get_mut(&to)) else {
            return false;
        };
        if pr.state != ProgressState::Snapshot || pr.snapshot.index != snapshot.index {
            // A new snapshot replaces one being sent: start over.
            pr.begin_snapshot(snapshot.index);
        }
        let len = snapshot.data.len() as u64;
        let max_chunk = self.config.max_bytes_per_message as u64;
        let window = self.config.max_inflight_bytes as u64;
        let Some(chunk) = pr.next_chunk(len, max_chunk, window) else {
            return false;
        };
        let range = usize::try_from(chunk.offset).unwrap_or(usize::MAX)
            ..usize::try_from(chunk.end).unwrap_or(usize::MAX);
        let body = Body::InstallSnapshot {
            index: snapshot.index,
            snapshot_term: snapshot.term,
            offset: chunk.offset,
            data: snapshot.data.get(range).unwrap_or_default().to_vec(),
            done: chunk.done,
            membership: snapshot.membership.clone(),
        };
        self.send(to, body);
        true
    }

    /// New entries to every follower whose progress allows it. Followers
    /// learn a new commit index from the next AppendEntries or heartbeat.
    fn broadcast_append(&mut self) {
        for i in 0..self.peers.len() {
            if let Some(&peer) = self.peers.get(i) {
                self.send_append(peer, false);
            }
        }
    }

    /// Starts a heartbeat round; returns its number.
    fn broadcast_heartbeat(&mut self) -> u64 {
        let round = self.reads.new_round(self.now);
        for i in 0..self.peers.len() {
            let Some(&peer) = self.peers.get(i) else {
                break;
            };
            let matched = self.progress.get(&peer).map_or(0, |p| p.match_index);
            // Never more than the follower is known to hold: its log beyond
            // that may still differ from ours.
            let leader_commit = self.commit_index.min(matched);
            self.send(
                peer,
                Body::Heartbeat {
                    leader_commit,
                    round,
                },
            );
        }
        round
    }

    // ---- reads (thesis §6.4) ----------------------------------------------

    /// A read of the leader's own (`from` is `None`) or of follower `from`.
    fn read(&mut self, from: Option<NodeId>, id: u64, lease: bool) -> Result<(), Error> {
        self.check_leader()?;
        if lease && !self.config.check_quorum {
            if from.is_none() {
                return Err(Error::LeaseReadsDisabled);
            }
            // A follower's lease read, here without a lease: by a round.
            return self.read(from, id, false);
        }
        if self.reads.is_full() {
            return Err(Error::TooManyReads {
                max: self.config.max_pending_reads,
            });
        }
        // Until an entry of its term commits, the leader's commit index may
        // lag the cluster's; that entry's index bounds it.
        let index = self.commit_index.max(self.term_start_index);
        let round = if lease && self.lease_holds() {
            0
        } else {
            self.broadcast_heartbeat()
        };
        self.reads.push(from, id, index, round);
        Ok(())
    }

    /// A follower's read: ask the leader for a read index (thesis §6.4.1).
    fn forward_read(&mut self, id: u64, lease: bool) -> Result<(), Error> {
        let Some(leader) = self.leader else {
            return Err(Error::NotLeader { leader_hint: None });
        };
        if lease && !self.config.check_quorum {
            return Err(Error::LeaseReadsDisabled);
        }
        let max = self.config.max_pending_reads;
        if self.forwarded.len() >= max {
            return Err(Error::TooManyReads { max });
        }
        let deadline = self
            .now
            .saturating_add_millis(self.config.election_timeout_min_ms);
        let token = self.read_token();
        self.forwarded.push_back(Forwarded {
            id,
            token,
            deadline,
            index: None,
        });
        self.send(leader, Body::ReadIndex { id: token, lease });
        Ok(())
    }

    /// The token of the next forwarded read: the time now (ms) above a
    /// count of this life's forwarded reads (16 bits). The application's
    /// read ids start again after a restart, and a duplicated or delayed
    /// answer from the leader to a read of the previous life would match
    /// a new read of the same id and serve it at an old index: a stale
    /// read. The clock has moved on since any request of an earlier life,
    /// so its tokens are not this life's (found by the simulator's stale
    /// copies, seed 415).
    fn read_token(&mut self) -> u64 {
        let count = self.reads_forwarded & 0xffff;
        self.reads_forwarded = self.reads_forwarded.wrapping_add(1);
        self.now.as_millis().wrapping_shl(16).wrapping_add(count)
    }

    /// The leader's answer to our read of `token`.
    fn on_read_index(&mut self, token: u64, index: Option<u64>) {
        let Some(at) = self
            .forwarded
            .iter()
            .position(|r| r.token == token && r.index.is_none())
        else {
            return; // answered already, failed, or never asked (in this life)
        };
        let id = self.forwarded.get(at).map_or(token, |r| r.id);
        match index {
            Some(index) => {
                if let Some(read) = self.forwarded.get_mut(at) {
                    read.index = Some(index);
                }
            }
            None => {
                self.forwarded.remove(at);
                self.emit(Event::ReadFailed { id });
            }
        }
    }

    /// Fails the follower's forwarded reads: every one (`all`), or those
    /// whose leader has not answered in time.
    fn fail_forwarded(&mut self, all: bool) {
        let now = self.now;
        let outputs = &mut self.outputs;
        self.forwarded.retain(|read| {
            let failed = all || (read.index.is_none() && now >= read.deadline);
            if failed {
                outputs.push_back(Output::Event(Event::ReadFailed { id: read.id }));
            }
            !failed
        });
    }

    /// Confirms the rounds a quorum has echoed and answers the reads they
    /// and the applied index allow.
    fn release_reads(&mut self) {
        if self.role != Role::Leader {
            // A follower's reads whose index is applied.
            let applied = self.applied_index;
            let outputs = &mut self.outputs;
            self.forwarded.retain(|read| match read.index {
                Some(index) if index <= applied => {
                    let id = read.id;
                    outputs.push_back(Output::Event(Event::ReadReady { id, index }));
                    false
                }
                _ => true,
            });
            return;
        }
        let me = self.config.id;
        let own = self.reads.round();
        let progress = &self.progress;
        let acked = |v: NodeId| {
            if v == me {
                Some(own)
            } else {
                progress.get(&v).map(|p| p.acked_round)
            }
        };
        let confirmed = self.membership.voters().committed_index(&acked);
        self.reads.confirm(confirmed);
        let outputs = &mut self.outputs;
        let mut answers = Vec::new();
        self.reads
            .take_ready(self.applied_index, |from, id, index| match from {
                None => outputs.push_back(Output::Event(Event::ReadReady { id, index })),
                Some(to) => answers.push((to, id, index)),
            });
        for (to, id, index) in answers {
            let index = Some(index);
            self.send(to, Body::ReadIndexResponse { id, index });
        }
    }

    // ---- shared mechanics ---------------------------------------------------

    fn check_leader(&self) -> Result<(), Error> {
        if self.role == Role::Leader {
            Ok(())
        } else {
            Err(Error::NotLeader {
                leader_hint: self.leader,
            })
        }
    }

    fn commit_to(&mut self, index: u64) {
        self.commit_index = self.commit_index.max(index);
    }

    /// Reports committed entries to the application, at most
    /// `max_apply_per_step` per input.
    fn apply_committed(&mut self) {
        let applicable = if planted(Mutant::RaftApplyBeforeCommit) {
            self.log.last_index()
        } else {
            self.commit_index
        };
        for _ in 0..self.config.max_apply_per_step {
            if self.applied_index >= applicable {
                break;
            }
            let index = self.applied_index.saturating_add(1);
            let Some(entry) = self.log.entry(index) else {
                break;
            };
            let term = entry.term;
            let membership = match self.entry_kind(index) {
                EntryKind::Membership => Some(self.membership_at(index)),
                EntryKind::Normal => None,
            };
            let data = match membership {
                Some(_) => Vec::new(),
                None => entry.data.to_vec(),
            };
            self.outputs
                .push_back(Output::Event(Event::Committed { index, term, data }));
            if let Some(membership) = membership {
                self.emit(Event::MembershipCommitted { index, membership });
            }
            self.applied_index = index;
            self.settle_proposals(index, term);
        }
    }

    /// Entry `index` of `term` was applied: this node's proposals up to
    /// `index` are settled, and one of another term at `index` is dropped.
    fn settle_proposals(&mut self, index: u64, term: u64) {
        while let Some(&(i, t)) = self.proposals.front() {
            if i > index {
                return;
            }
            self.proposals.pop_front();
            if i == index && t != term {
                self.emit(Event::ProposalDropped { index: i, term: t });
            }
        }
    }

    fn reset_election_timer(&mut self) {
        let span = self
            .config
            .election_timeout_max_ms
            .saturating_sub(self.config.election_timeout_min_ms);
        let timeout = self
            .config
            .election_timeout_min_ms
            .saturating_add(self.rng.below(span));
        self.election_deadline = self.now.saturating_add_millis(timeout);
    }

    fn send(&mut self, to: NodeId, body: Body) {
        let term = self.term;
        self.send_message(to, Message { term, body });
    }

    /// Every send goes through here, after the hard state it may depend on.
    fn send_message(&mut self, to: NodeId, message: Message) {
        self.flush_hard_state();
        self.outputs.push_back(Output::Send { to, message });
    }

    fn persist(&mut self, record: Persist) {
        self.flush_hard_state();
        self.identify();
        // Entries that continue the entries record queued last, with
        // nothing queued after it, join that record: one record for a
        // burst of proposals, as if they had come in one input.
        if let Persist::Entries {
            first_index,
            entries,
        } = &record
            && let Some(Output::Persist(Persist::Entries {
                first_index: queued_first,
                entries: queued,
            })) = self.outputs.back_mut()
            && !entries.is_empty()
            && queued_first.checked_add(queued.len() as u64) == Some(*first_index)
        {
            if let Persist::Entries { entries, .. } = record {
                queued.extend(entries);
            }
            return;
        }
        self.outputs.push_back(Output::Persist(record));
    }

    fn writer(&self) -> Writer {
        Writer {
            cluster: self.config.cluster,
            node: self.config.id,
        }
    }

    /// Queues the `Identity` record before the node's first other record.
    fn identify(&mut self) {
        if !self.identified {
            self.identified = true;
            let record = Persist::Identity(self.writer());
            self.outputs.push_back(Output::Persist(record));
        }
    }

    fn flush_hard_state(&mut self) {
        if self.hard_state_dirty {
            self.hard_state_dirty = false;
            self.identify();
            let record = Persist::HardState {
                term: self.term,
                vote: self.vote,
            };
            self.outputs.push_back(Output::Persist(record));
        }
    }

    /// Reports [`Event::LogFull`] unless it was reported since the last
    /// append that succeeded.
    fn report_log_full(&mut self) {
        if !self.log_full {
            self.log_full = true;
            let last_index = self.log.last_index();
            self.emit(Event::LogFull { last_index });
        }
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}

/// A node restarted from the records it asked to persist, in order,
/// replayed into the log storage of the configuration (normally empty). It
/// starts as a follower with nothing applied; committed entries are
/// reported again as the leader tells it the commit index.
///
/// # Errors
/// [`Error::BadConfig`], [`Error::CorruptRecords`], or
/// [`Error::LogFull`] if the log is smaller than the one that wrote the
/// records.
impl<L: LogStorage> Restore for RaftNode<L> {
    /// The configuration and the (empty) log storage to replay into.
    type Config = (Config, L);

    fn restore((config, mut log): (Config, L), records: &[Persist]) -> Result<Self, Error> {
        config.validate()?;
        let me = Writer {
            cluster: config.cluster,
            node: config.id,
        };
        let replayed = persist::replay(&mut log, records, me)?;
        let hard_state = replayed.hard_state;
        let mut node = RaftNode::new(config, log)?;
        node.identified = !records.is_empty();
        node.term = hard_state.term;
        node.vote = hard_state.vote;
        // The membership is the snapshot's (or the configuration's), then
        // the log's membership entries.
        if let Some(snapshot) = &replayed.snapshot {
            node.configs = VecDeque::from([(snapshot.index, snapshot.membership.clone())]);
        }
        node.configs.extend(replayed.configs);
        node.refresh_membership();
        if let Some(snapshot) = replayed.snapshot {
            let (index, term) = (snapshot.index, snapshot.term);
            node.commit_index = index;
            node.applied_index = index;
            node.snapshot = Some(snapshot);
            node.emit(Event::ApplySnapshot { index, term });
        }
        Ok(node)
    }
}

impl<L: LogStorage> Participant for RaftNode<L> {
    type Message = Message;
    type Command = Command;
    type Persist = Persist;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    /// Feeds one input. Every output it causes is queued in order: each
    /// `Persist` before any `Send` that depends on it.
    ///
    /// # Errors
    /// [`Error::Backpressure`] if `max_outputs` outputs wait to be
    /// drained; otherwise only commands fail (see [`Error`]). Messages
    /// that are stale, duplicated, from non-members or malformed in content
    /// are dropped silently.
    fn handle_input(&mut self, now: Instant, input: Input<Message, Command>) -> Result<(), Error> {
        if self.outputs.len() >= self.config.max_outputs {
            return Err(Error::Backpressure {
                max: self.config.max_outputs,
            });
        }
        let follower_read = matches!(
            input,
            Input::Command(Command::Read { .. } | Command::LeaseRead { .. })
        ) && self.role == Role::Follower
            && self.leader.is_some();
        if matches!(input, Input::Command(_)) && self.role != Role::Leader && !follower_read {
            // Refused before anything else: not even the first input's
            // timers are armed by it.
            return Err(Error::NotLeader {
                leader_hint: self.leader,
            });
        }
        // A refused command leaves even the node's clock as it was (it is
        // a leader or knows one, so it has started).
        let then = self.now;
        self.now = self.now.max(now);
        if !self.started {
            self.started = true;
            self.leader_contact = self.now;
            self.reset_election_timer();
        }
        let result = match input {
            Input::Message { from, message } => {
                self.step(from, message);
                Ok(())
            }
            Input::Tick => {
                self.tick();
                Ok(())
            }
            Input::Command(command) => self.command(command),
        };
        // A refused command changes nothing and queues nothing, not even
        // the committed entries still to report (the next input reports
        // them).
        if result.is_err() {
            self.now = then;
        }
        result?;
        self.apply_committed();
        self.release_reads();
        self.flush_hard_state();
        Ok(())
    }

    fn poll_output(&mut self) -> Option<RaftOutput> {
        self.outputs.pop_front()
    }

    /// Before the first input: at once (the first input arms the timers).
    /// With committed entries still to report: at once. Otherwise the
    /// leader's next heartbeat or quorum check, or the election timeout.
    fn next_deadline(&self) -> Option<Instant> {
        if !self.started || self.applied_index < self.commit_index {
            return Some(self.now);
        }
        Some(match self.role {
            Role::Leader => {
                let mut due = self.heartbeat_deadline;
                if self.config.check_quorum {
                    due = due.min(self.quorum_deadline);
                }
                self.transfer.map_or(due, |(_, until)| due.min(until))
            }
            Role::Follower | Role::PreCandidate | Role::Candidate => {
                // A forwarded read that the leader has not answered fails
                // at its deadline.
                let unanswered = self.forwarded.iter().filter(|r| r.index.is_none());
                unanswered
                    .map(|r| r.deadline)
                    .fold(self.election_deadline, Instant::min)
            }
        })
    }
}

/// How many of the entries with these payload sizes go in one message:
/// at most `max_entries_per_message`, and at most `max_bytes_per_message`
/// bytes unless a single entry is larger (it then travels alone).
fn batch_len(config: &Config, sizes: impl Iterator<Item = usize>) -> usize {
    let mut batch = Batch::default();
    sizes.take_while(|&size| batch.admits(config, size)).count()
}

/// The entries counted into one message so far (see [`batch_len`]).
#[derive(Default)]
struct Batch {
    bytes: usize,
    count: usize,
}

impl Batch {
    /// Whether one more entry of `size` bytes goes in; counts it if so.
    fn admits(&mut self, config: &Config, size: usize) -> bool {
        let bytes = self.bytes.saturating_add(size);
        let fits = self.count < config.max_entries_per_message
            && (self.count == 0 || bytes <= config.max_bytes_per_message);
        if fits {
            self.bytes = bytes;
            self.count += 1;
        }
        fits
    }
}

/// Whether entries a leader of `term` sends after an entry of
/// `prev_log_term` could be a leader's log: terms never decrease along a
/// log, never fall below the entry before them, and never exceed the term
/// of the leader that sends them (§5.3; the conflict hints and the
/// up-to-date check of §5.4.1 rely on it).
fn entries_are_well_formed(term: u64, prev_log_term: u64, entries: &[Entry]) -> bool {
    let mut last = prev_log_term;
    entries.iter().all(|entry| {
        let ok = entry.term >= last
            && entry.term <= term
            && (entry.kind == EntryKind::Normal || membership_of(entry).is_some());
        last = entry.term;
        ok
    })
}

/// The membership a membership entry holds (`None` for any other entry,
/// or one whose data is not a membership).
fn membership_of(entry: &Entry) -> Option<Membership> {
    match entry.kind {
        EntryKind::Membership => postcard::from_bytes(&entry.data).ok(),
        EntryKind::Normal => None,
    }
}

/// The largest index at or below `upto` whose entry's term is at most
/// `term`, searched from the snapshot's last index (which it returns if no
/// later entry qualifies: what it covers is committed and matches any
/// leader's log). Terms never decrease along a log, so a binary search
/// finds it.
fn last_index_within_term<L: LogStorage>(log: &L, term: u64, upto: u64) -> u64 {
    let low = log.first_index().saturating_sub(1);
    let (mut low, mut high) = (low, upto.min(log.last_index()).max(low));
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if log.term(mid).is_some_and(|t| t <= term) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::MajorityConfig;
    use crate::raft::ArenaLog;

    #[test]
    fn a_batch_is_bounded_in_entries_and_bytes_but_never_empty() {
        let voters = MajorityConfig::from_voters([NodeId(1)]).unwrap();
        let mut config = Config::new(NodeId(1), voters);
        config.max_entries_per_message = 3;
        config.max_bytes_per_message = 10;
        assert_eq!(batch_len(&config, [1, 1, 1, 1].into_iter()), 3);
        assert_eq!(batch_len(&config, [4, 6, 1].into_iter()), 2);
        assert_eq!(
            batch_len(&config, [50, 1].into_iter()),
            1,
            "a big entry goes alone"
        );
        assert_eq!(batch_len(&config, core::iter::empty()), 0);
    }

    #[test]
    fn the_last_index_within_a_term_is_found_by_binary_search() {
        let mut log = ArenaLog::new(100, 100);
        for term in [1, 1, 1, 4, 4, 5, 5, 6, 6, 6] {
            log.append(term, b"").unwrap();
        }
        assert_eq!(last_index_within_term(&log, 4, 10), 5);
        assert_eq!(last_index_within_term(&log, 3, 10), 3);
        assert_eq!(last_index_within_term(&log, 4, 4), 4, "bounded by upto");
        assert_eq!(last_index_within_term(&log, 0, 10), 0);
        assert_eq!(last_index_within_term(&log, 9, u64::MAX), 10);
    }

    /// Found by `raft_step`: a refused command still reported committed
    /// entries left over from an earlier input (`max_apply_per_step`), so
    /// the node changed and queued outputs although the call failed.
    #[test]
    fn a_refused_command_changes_nothing_and_queues_nothing() {
        let voters = MajorityConfig::from_voters([1, 2, 3].map(NodeId)).unwrap();
        let mut config = Config::new(NodeId(1), voters);
        config.pre_vote = false;
        config.max_apply_per_step = 1;
        let mut node = RaftNode::new(config, ArenaLog::new(100, 1 << 16)).unwrap();
        let drain =
            |node: &mut RaftNode<ArenaLog>| core::iter::from_fn(|| node.poll_output()).count();
        // Refused before it starts: no timer is armed by the command.
        let t0 = Instant::from_millis(5);
        assert_eq!(
            node.handle_input(t0, Input::Command(Command::Read { id: 1 })),
            Err(Error::NotLeader { leader_hint: None })
        );
        assert_eq!(node.next_deadline(), Some(Instant::ZERO));
        assert!(node.poll_output().is_none());
        node.handle_input(t0, Input::Tick).unwrap();
        let t = node.next_deadline().unwrap();
        node.handle_input(t, Input::Tick).unwrap();
        assert_eq!(node.role(), Role::Candidate);
        let granted = Message {
            term: 1,
            body: Body::RequestVoteResponse { granted: true },
        };
        let from = NodeId(2);
        node.handle_input(
            t,
            Input::Message {
                from,
                message: granted,
            },
        )
        .unwrap();
        assert_eq!(node.role(), Role::Leader);
        for data in [b"a", b"b"] {
            node.handle_input(t, Input::Command(Command::Propose(data.to_vec())))
                .unwrap();
        }
        drain(&mut node);
        let accepted = Message {
            term: 1,
            body: Body::AppendAccepted { match_index: 3 },
        };
        node.handle_input(
            t,
            Input::Message {
                from,
                message: accepted,
            },
        )
        .unwrap();
        drain(&mut node);
        assert_eq!((node.commit_index(), node.applied_index()), (3, 1));
        let too_large = Command::Propose(vec![0; 65 << 10]);
        assert!(matches!(
            node.handle_input(t, Input::Command(too_large)),
            Err(Error::EntryTooLarge { .. })
        ));
        assert_eq!(node.applied_index(), 1);
        assert!(node.poll_output().is_none());
        // The next input reports them.
        node.handle_input(t, Input::Tick).unwrap();
        assert_eq!(node.applied_index(), 2);
    }

    /// Found by `raft_step`: a lone voter reported `BecameLeader` before the
    /// hard state of the term it won, so a crash after the application saw
    /// the event but before the record was durable brought the node back in
    /// the previous term, to win (and report) the same term again.
    #[test]
    fn a_lone_voter_persists_its_term_before_it_reports_leadership() {
        let voters = MajorityConfig::from_voters([NodeId(1)]).unwrap();
        let mut node = RaftNode::new(Config::new(NodeId(1), voters), ArenaLog::new(8, 64)).unwrap();
        node.handle_input(Instant::ZERO, Input::Tick).unwrap();
        let t = node.next_deadline().unwrap();
        node.handle_input(t, Input::Tick).unwrap();
        assert_eq!(node.role(), Role::Leader);
        let first: Vec<RaftOutput> = core::iter::from_fn(|| node.poll_output()).take(3).collect();
        assert_eq!(
            first,
            [
                Output::Persist(Persist::Identity(Writer {
                    cluster: 0,
                    node: NodeId(1)
                })),
                Output::Persist(Persist::HardState {
                    term: 1,
                    vote: Some(NodeId(1))
                }),
                Output::Event(Event::BecameLeader { term: 1 }),
            ]
        );
    }
}
