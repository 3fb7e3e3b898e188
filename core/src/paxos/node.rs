//! The Multi-Paxos node: acceptor, learner and proposer in one participant.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use super::log::{SlotLog, SlotRef};
use super::message::{Message, Persist, Report};
use super::{Ballot, Command, Error, Event, MAX_BATCH_BYTES, MAX_INFLIGHT};
use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::protocol::{Input, Output, Participant, Restore};
use crate::rng::Rng;
use crate::time::Instant;

/// A node's configuration: the voting set and the protocol's timings and
/// bounds. Every node of a cluster must list the same members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// The voting set (acceptors), this node included; fixed.
    pub members: Vec<NodeId>,
    /// The leader's heartbeat period, ms (default 50).
    pub heartbeat_interval_ms: u64,
    /// Election timeouts are drawn from `[min, max]`, ms (default
    /// 150–300): a follower that hears no leader for that long starts
    /// phase 1, and a leader that hears from no majority for `max` steps
    /// down.
    pub election_timeout_min_ms: u64,
    /// See [`election_timeout_min_ms`](Self::election_timeout_min_ms).
    pub election_timeout_max_ms: u64,
    /// After the `n`th preemption in a row, a proposer waits a random
    /// extra delay of up to `min(backoff_max, backoff_base × 2ⁿ)` ms
    /// (defaults 20 and 2,000).
    pub backoff_base_ms: u64,
    /// See [`backoff_base_ms`](Self::backoff_base_ms).
    pub backoff_max_ms: u64,
    /// Slots the leader may have in flight beyond its first unchosen one
    /// (default 256).
    pub window: u64,
    /// Values per message (default 64; pages are also capped at
    /// [`MAX_BATCH_BYTES`]).
    pub max_batch: usize,
    /// Proposals the leader queues while the window is full (default
    /// 4,096).
    pub max_pending: usize,
    /// Slots the log may hold (default 1,000,000).
    pub max_log_entries: u64,
    /// Longest value, bytes (default 64 KiB, at most 1 MiB).
    pub max_proposal_bytes: usize,
    /// Seed of the node's [`Rng`] (timeouts and backoff).
    pub seed: u64,
}

impl Config {
    /// Defaults for node `id` of `members`.
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        Config {
            id,
            members: members.to_vec(),
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            backoff_base_ms: 20,
            backoff_max_ms: 2_000,
            window: 256,
            max_batch: 64,
            max_pending: 4_096,
            max_log_entries: 1_000_000,
            max_proposal_bytes: 64 << 10,
            seed: id.0,
        }
    }

    fn validate(&mut self) -> Result<(), Error> {
        super::validate_common(
            self.id,
            &mut self.members,
            self.backoff_base_ms,
            self.backoff_max_ms,
        )?;
        let bad = |reason| Err(Error::BadConfig { reason });
        if self.heartbeat_interval_ms == 0
            || self.election_timeout_min_ms <= self.heartbeat_interval_ms
            || self.election_timeout_max_ms < self.election_timeout_min_ms
        {
            return bad("need 0 < heartbeat interval < election timeout min <= max");
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return bad("backoff_max_ms must be at least backoff_base_ms");
        }
        if self.window == 0 || self.max_batch == 0 || self.max_pending == 0 {
            return bad("window, max_batch and max_pending must be positive");
        }
        if self.max_log_entries == 0 || self.max_log_entries >= u64::MAX / 2 {
            return bad("max_log_entries must be positive and below 2^63");
        }
        if self.max_proposal_bytes == 0 || self.max_proposal_bytes > 1 << 20 {
            return bad("max_proposal_bytes must be in 1..=1 MiB");
        }
        Ok(())
    }
}

/// What a node is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepting and learning; the timer is the election timeout.
    Follower,
    /// Running phase 1 under its ballot; the timer ends the attempt.
    Candidate,
    /// Phase 1 done: proposing under its ballot; the timer is the
    /// heartbeat.
    Leader,
}

/// A Multi-Paxos node; see the [module docs](super).
#[derive(Clone, Debug)]
pub struct PaxosNode {
    config: Config,
    rng: Rng,
    now: Instant,
    started: bool,
    deadline: Instant,
    // Acceptor.
    promised: Ballot,
    log: SlotLog,
    // Learner.
    first_unchosen: u64,
    applied: u64,
    recorded_chosen: u64,
    known_commit: u64,
    catch_up_after: Instant,
    // Proposer.
    role: Role,
    ballot: Ballot,
    max_round: u64,
    leader: Option<NodeId>,
    leader_contact: Instant,
    preemptions: u32,
    /// Follower: the round it probes for, and who said yes.
    probing: Option<u64>,
    probe_yes: Vec<NodeId>,
    /// Candidate: each peer's report so far: the next page to ask for
    /// (`Some(slot)`), or complete (`None`).
    reports: BTreeMap<NodeId, Option<u64>>,
    /// Candidate: when this attempt at phase 1 gives up.
    attempt_until: Instant,
    /// Candidate: the highest-ballot value each peer reported per slot.
    merged: BTreeMap<u64, (Ballot, Vec<u8>, bool)>,
    /// Leader: the next slot to propose in.
    next_slot: u64,
    /// Leader: per member (by index), the first slot not yet sent to it,
    /// and its `Accept` messages not yet answered (at most
    /// [`MAX_INFLIGHT`]; reset at each heartbeat, when lost ones are
    /// resent).
    unsent: Vec<u64>,
    inflight: Vec<u32>,
    /// Accepted or learned values not yet in a record: runs of
    /// consecutive slots, written out before any output that depends on
    /// them.
    unrecorded: Vec<(u64, Vec<Vec<u8>>)>,
    /// The value bytes of the last run in `unrecorded`.
    unrecorded_bytes: usize,
    /// The value bytes of the last record of values written, which later
    /// runs join while it is the last output and a page allows.
    record_bytes: usize,
    /// The ballot of the unrecorded accepted values (`None`: learned).
    unrecorded_ballot: Option<Ballot>,
    /// Leader: proposals waiting for the window.
    pending: VecDeque<Vec<u8>>,
    /// Leader: when each member last answered this ballot.
    heard: Vec<Instant>,
    /// Leader: each member's first slot not applied, as far as its records
    /// hold (0: not heard yet in this leadership).
    applied_of: Vec<u64>,
    /// The application's latest snapshot: the last slot it covers, and
    /// its bytes.
    snapshot: Option<(u64, Vec<u8>)>,
    /// Leader: the next slot at the previous heartbeat; slots below it
    /// have been in flight for a heartbeat at least.
    resend_below: u64,
    outputs: VecDeque<Output<Message, Persist, Event>>,
}

impl PaxosNode {
    /// A fresh node (no records).
    ///
    /// # Errors
    /// [`Error::BadConfig`] if the configuration is unusable.
    pub fn new(mut config: Config) -> Result<Self, Error> {
        config.validate()?;
        let members = config.members.len();
        Ok(PaxosNode {
            rng: Rng::seed_from_u64(config.seed),
            config,
            now: Instant::ZERO,
            started: false,
            deadline: Instant::ZERO,
            promised: Ballot::ZERO,
            log: SlotLog::default(),
            first_unchosen: 1,
            applied: 0,
            recorded_chosen: 1,
            known_commit: 1,
            catch_up_after: Instant::ZERO,
            role: Role::Follower,
            ballot: Ballot::ZERO,
            max_round: 0,
            leader: None,
            leader_contact: Instant::ZERO,
            preemptions: 0,
            probing: None,
            probe_yes: Vec::new(),
            reports: BTreeMap::new(),
            attempt_until: Instant::ZERO,
            merged: BTreeMap::new(),
            next_slot: 1,
            unsent: alloc::vec![1; members],
            inflight: alloc::vec![0; members],
            unrecorded: Vec::new(),
            unrecorded_bytes: 0,
            record_bytes: 0,
            unrecorded_ballot: None,
            pending: VecDeque::new(),
            heard: alloc::vec![Instant::ZERO; members],
            applied_of: alloc::vec![0; members],
            snapshot: None,
            resend_below: 1,
            outputs: VecDeque::new(),
        })
    }

    // ---- queries ----------------------------------------------------------

    /// The node's role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The ballot it leads or campaigns under ([`Ballot::ZERO`] as a
    /// follower).
    #[must_use]
    pub const fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// The highest ballot this acceptor promised (or accepted at).
    #[must_use]
    pub const fn promised(&self) -> Ballot {
        self.promised
    }

    /// The leader it follows (itself, when it leads).
    #[must_use]
    pub const fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The first slot not known to be chosen: every slot below is.
    #[must_use]
    pub const fn first_unchosen(&self) -> u64 {
        self.first_unchosen
    }

    /// The last slot reported with [`Event::Chosen`].
    #[must_use]
    pub const fn applied(&self) -> u64 {
        self.applied
    }

    /// The value chosen at `slot`, if this node knows it.
    #[must_use]
    pub fn chosen(&self, slot: u64) -> Option<&[u8]> {
        self.log.get(slot).filter(|s| s.chosen).map(|s| s.value)
    }

    /// What this acceptor accepted at `slot`: the ballot and value.
    #[must_use]
    pub fn accepted(&self, slot: u64) -> Option<(Ballot, &[u8])> {
        self.log.get(slot).map(|s| (s.ballot, s.value))
    }

    /// Proposals queued at the leader, waiting for the window.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The application's latest snapshot given to or restored by this
    /// node: the last slot it covers, and its bytes.
    #[must_use]
    pub fn snapshot(&self) -> Option<(u64, &[u8])> {
        self.snapshot
            .as_ref()
            .map(|(upto, data)| (*upto, data.as_slice()))
    }

    /// The first slot this node still holds: every slot below it was
    /// dropped (every member had applied it).
    #[must_use]
    pub const fn first_held(&self) -> u64 {
        self.log.base()
    }

    /// The leader's slot for its latest proposal, queued or sent: slots go
    /// to proposals in the order they came, so right after a
    /// [`Command::Propose`] this is the slot the value will be chosen at,
    /// unless leadership is lost first. `None` on a node that does not
    /// lead.
    #[must_use]
    pub fn last_proposed_slot(&self) -> Option<u64> {
        (self.role == Role::Leader).then(|| self.next_slot + self.pending.len() as u64 - 1)
    }

    /// The node's configuration (members sorted).
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The node's clock: the latest `now` it was given.
    #[must_use]
    pub const fn now(&self) -> Instant {
        self.now
    }

    // ---- helpers ------------------------------------------------------------

    fn majority(&self) -> usize {
        self.config.members.len() / 2 + 1
    }

    fn index_of(&self, id: NodeId) -> Option<usize> {
        self.config.members.binary_search(&id).ok()
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.config.id;
        self.config
            .members
            .iter()
            .copied()
            .filter(move |&m| m != me)
    }

    fn send(&mut self, to: NodeId, message: Message) {
        self.outputs.push_back(Output::Send { to, message });
    }

    fn persist(&mut self, record: Persist) {
        self.outputs.push_back(Output::Persist(record));
    }

    fn broadcast(&mut self, message: &Message) {
        let peers: Vec<NodeId> = self.peers().collect();
        for to in peers {
            self.send(to, message.clone());
        }
    }

    fn election_timeout(&mut self) -> u64 {
        let (lo, hi) = (
            self.config.election_timeout_min_ms,
            self.config.election_timeout_max_ms,
        );
        self.rng.between(lo, hi)
    }

    /// The randomized extra wait after `preemptions` preemptions in a row.
    fn backoff(&mut self) -> u64 {
        let c = &self.config;
        super::backoff(
            &mut self.rng,
            self.preemptions,
            c.backoff_base_ms,
            c.backoff_max_ms,
        )
    }

    fn reset_election_timer(&mut self) {
        let wait = self.election_timeout() + self.backoff();
        self.deadline = self.now.saturating_add_millis(wait);
    }

    fn note(&mut self, ballot: Ballot) {
        self.max_round = self.max_round.max(ballot.round);
    }

    /// A page of what this node holds at slots `from..`: at most
    /// `max_batch` slots and [`MAX_BATCH_BYTES`] of values (at least one
    /// slot), and where the next page starts if this one is full.
    fn page<T>(
        &self,
        from: u64,
        mut take: impl FnMut(u64, SlotRef<'_>) -> Option<T>,
        len: impl Fn(&T) -> usize,
    ) -> (Vec<T>, Option<u64>) {
        // At most a page, and at most the slots held from `from`.
        let held = usize::try_from(self.log.last().saturating_sub(from).saturating_add(1));
        let mut items = Vec::with_capacity(self.config.max_batch.min(held.unwrap_or(usize::MAX)));
        let mut bytes = 0;
        for (slot, s) in self.log.from(from) {
            let Some(item) = take(slot, s) else { break };
            let size = len(&item);
            if !items.is_empty()
                && (items.len() >= self.config.max_batch || bytes + size > MAX_BATCH_BYTES)
            {
                return (items, Some(slot));
            }
            bytes += size;
            items.push(item);
        }
        (items, None)
    }

    // ---- inputs -------------------------------------------------------------

    fn on_message(&mut self, from: NodeId, message: Message) {
        if let Some(b) = message.ballot() {
            // The last round is never used (a new ballot is one above the
            // highest seen), so a peer that sends it is broken: dropped,
            // like any content-malformed message.
            if b.round == u64::MAX {
                return;
            }
            self.note(b);
        }
        match message {
            Message::Prepare { ballot, from: slot } if ballot.node == from && slot >= 1 => {
                self.on_prepare(from, ballot, slot);
            }
            Message::Promise {
                ballot,
                from: slot,
                reports,
                next,
            } => self.on_promise(from, ballot, slot, reports, next),
            Message::Accept {
                ballot,
                first,
                values,
                commit,
                applied,
            } if ballot.node == from
                && first >= 1
                && values.len() <= self.config.max_batch.max(1) =>
            {
                self.on_accept(from, ballot, first, values, commit);
                self.drop_applied(applied);
            }
            Message::Accepted {
                ballot,
                first,
                count,
                applied,
            } => {
                self.on_accepted(from, ballot, first, count);
                self.note_applied(from, ballot, applied);
            }
            Message::Nack { ballot, promised } => self.on_nack(ballot, promised),
            Message::Heartbeat {
                ballot,
                commit,
                applied,
            } if ballot.node == from => {
                self.on_heartbeat(from, ballot, commit);
                self.drop_applied(applied);
            }
            Message::HeartbeatAck { ballot, applied } => {
                if self.role == Role::Leader && ballot == self.ballot {
                    self.heard_from(from);
                }
                self.note_applied(from, ballot, applied);
            }
            Message::Probe { round } => {
                let granted = !self.loyal();
                self.send(from, Message::ProbeReply { round, granted });
            }
            Message::ProbeReply { round, granted } => self.on_probe_reply(from, round, granted),
            Message::CatchUp { from: slot } if slot >= 1 => self.on_catch_up(from, slot),
            Message::Chosen { first, values } if first >= 1 => self.on_chosen(from, first, values),
            // Malformed: a ballot not the sender's, slot 0, an oversized batch.
            _ => {}
        }
    }

    fn on_tick(&mut self) {
        if self.now < self.deadline {
            return;
        }
        match self.role {
            Role::Candidate if self.now < self.attempt_until => self.ask_for_reports(),
            Role::Follower | Role::Candidate => self.probe(),
            Role::Leader => {
                let window = self.config.election_timeout_max_ms;
                let now = self.now;
                let me = self.config.id;
                let live = self
                    .config
                    .members
                    .iter()
                    .zip(&self.heard)
                    .filter(|&(&m, &t)| m == me || t.saturating_add_millis(window) > now)
                    .count();
                if live < self.majority() {
                    // Check-quorum: a leader cut off from a majority stops
                    // holding its clients.
                    self.step_down(false);
                    return;
                }
                let applied = self.cluster_applied();
                let heartbeat = Message::Heartbeat {
                    ballot: self.ballot,
                    commit: self.first_unchosen,
                    applied,
                };
                self.broadcast(&heartbeat);
                self.resend_unacked();
                self.resend_below = self.next_slot;
                // Answers may have been lost: the window opens again.
                self.inflight.iter_mut().for_each(|n| *n = 0);
                self.deadline = self
                    .now
                    .saturating_add_millis(self.config.heartbeat_interval_ms);
            }
        }
    }

    /// Asks the peers whether they would promise a new ballot; phase 1
    /// starts only with a majority's yes.
    fn probe(&mut self) {
        if self.role != Role::Follower {
            self.step_down(false);
        }
        let round = self.max_round.max(self.promised.round).saturating_add(1);
        self.probing = Some(round);
        self.probe_yes.clear();
        self.leader = None;
        self.reset_election_timer();
        self.broadcast(&Message::Probe { round });
        if self.majority() == 1 {
            self.campaign();
        }
    }

    /// Whether this node would refuse to help depose its leader: it leads,
    /// or heard from its leader within the minimum election timeout.
    fn loyal(&self) -> bool {
        self.role == Role::Leader
            || (self.leader.is_some()
                && self.now
                    < self
                        .leader_contact
                        .saturating_add_millis(self.config.election_timeout_min_ms))
    }

    fn on_probe_reply(&mut self, from: NodeId, round: u64, granted: bool) {
        if !granted || self.probing != Some(round) || self.role != Role::Follower {
            return;
        }
        if !self.probe_yes.contains(&from) {
            self.probe_yes.push(from);
        }
        if self.probe_yes.len() + 1 >= self.majority() {
            self.campaign();
        }
    }

    /// Starts phase 1 under a ballot above every ballot seen.
    fn campaign(&mut self) {
        self.probing = None;
        if self.role == Role::Leader {
            self.step_down(false);
        }
        let round = self.max_round.max(self.promised.round).saturating_add(1);
        if round == u64::MAX {
            return;
        }
        let ballot = Ballot {
            round,
            node: self.config.id,
        };
        self.note(ballot);
        self.role = Role::Candidate;
        self.ballot = ballot;
        self.leader = None;
        self.promised = ballot;
        self.persist(Persist::Promised(ballot));
        let first = self.first_unchosen;
        self.reports = self.peers().map(|p| (p, Some(first))).collect();
        self.merged.clear();
        self.reset_election_timer();
        self.attempt_until = self.deadline;
        self.ask_for_reports();
        if self.majority() == 1 {
            self.become_leader();
        }
    }

    /// Candidate: asks each peer whose report is not complete for its next
    /// page (again, if an answer was lost), until the attempt's deadline.
    fn ask_for_reports(&mut self) {
        let ballot = self.ballot;
        let asks: Vec<(NodeId, u64)> = self
            .reports
            .iter()
            .filter_map(|(&p, next)| next.map(|from| (p, from)))
            .collect();
        for (to, from) in asks {
            self.send(to, Message::Prepare { ballot, from });
        }
        let resend = self
            .now
            .saturating_add_millis(self.config.heartbeat_interval_ms);
        self.deadline = resend.min(self.attempt_until);
    }

    fn on_prepare(&mut self, from: NodeId, ballot: Ballot, slot: u64) {
        if ballot < self.promised {
            let promised = self.promised;
            self.send(from, Message::Nack { ballot, promised });
            return;
        }
        if ballot > self.promised {
            if self.role != Role::Follower {
                // Someone else campaigns above us: back off before trying again.
                self.step_down(true);
            }
            self.promised = ballot;
            self.persist(Persist::Promised(ballot));
            self.leader = None;
            self.reset_election_timer();
        }
        let (reports, next) = self.page(
            slot,
            |slot, s| {
                Some(Report {
                    slot,
                    ballot: s.ballot,
                    value: s.value.to_vec(),
                    chosen: s.chosen,
                })
            },
            |r| r.value.len() + 32,
        );
        self.send(
            from,
            Message::Promise {
                ballot,
                from: slot,
                reports,
                next,
            },
        );
    }

    fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slot: u64,
        reports: Vec<Report>,
        next: Option<u64>,
    ) {
        // Only the page asked for: a late or duplicated page is dropped.
        if self.role != Role::Candidate
            || ballot != self.ballot
            || self.reports.get(&from) != Some(&Some(slot))
        {
            return;
        }
        for r in reports {
            if r.slot < self.first_unchosen.max(slot)
                || r.slot > self.config.max_log_entries
                || r.value.len() > self.config.max_proposal_bytes
            {
                continue;
            }
            if r.chosen {
                self.learn(r.slot, r.value);
                continue;
            }
            let keep = match self.merged.get(&r.slot) {
                Some((b, _, chosen)) => !chosen && r.ballot > *b,
                None => true,
            };
            if keep {
                self.merged.insert(r.slot, (r.ballot, r.value, false));
            }
        }
        match next {
            // The next page, from the same acceptor (the promise stands).
            Some(n) if n > slot => {
                self.reports.insert(from, Some(n));
                self.send(from, Message::Prepare { ballot, from: n });
            }
            Some(_) => {}
            None => {
                self.reports.insert(from, None);
                let complete = self.reports.values().filter(|r| r.is_none()).count();
                if complete + 1 >= self.majority() {
                    self.become_leader();
                }
            }
        }
    }

    /// Phase 1 is done: re-propose the highest-ballot value of every slot
    /// from the first unchosen one, a no-op where none was accepted.
    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.config.id);
        self.preemptions = 0;
        let merged = core::mem::take(&mut self.merged);
        let own_last = self.log.last();
        let last = merged
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(own_last);
        for slot in self.first_unchosen..=last {
            let own = self.log.get(slot);
            if own.is_some_and(|s| s.chosen) {
                continue;
            }
            let theirs = merged.get(&slot);
            let value = match (own, theirs) {
                (Some(o), Some((b, v, _))) => {
                    if *b > o.ballot {
                        v.clone()
                    } else {
                        o.value.to_vec()
                    }
                }
                (Some(o), None) => o.value.to_vec(),
                (None, Some((_, v, _))) => v.clone(),
                (None, None) => Vec::new(),
            };
            self.accept_own(slot, value);
        }
        self.record_own();
        self.next_slot = (last + 1).max(self.first_unchosen);
        let first = self.first_unchosen;
        self.unsent.iter_mut().for_each(|u| *u = first);
        self.inflight.iter_mut().for_each(|n| *n = 0);
        self.resend_below = first;
        let now = self.now;
        self.heard.iter_mut().for_each(|t| *t = now);
        // Followers hear of the new leader at once, re-proposals or not.
        self.applied_of.iter_mut().for_each(|a| *a = 0);
        let heartbeat = Message::Heartbeat {
            ballot: self.ballot,
            commit: self.first_unchosen,
            applied: self.log.base(),
        };
        self.broadcast(&heartbeat);
        self.deadline = now.saturating_add_millis(self.config.heartbeat_interval_ms);
        self.outputs.push_back(Output::Event(Event::Adopted {
            ballot: self.ballot,
        }));
        self.advance();
    }

    /// The leader accepts its own proposal at `slot`; the record follows
    /// with the batch ([`record_own`](Self::record_own)).
    fn accept_own(&mut self, slot: u64, value: Vec<u8>) {
        let ballot = self.ballot;
        let me = self.index_of(self.config.id).unwrap_or(0);
        self.log.insert(slot, ballot, &value, false, 1 << me);
        self.remember(ballot, slot, value);
    }

    /// Records the leader's own acceptances of this batch, then (a single
    /// member being a majority) marks them chosen: a value is never
    /// reported chosen before its record.
    fn record_own(&mut self) {
        let runs: Vec<(u64, u64)> = if self.majority() == 1 {
            self.unrecorded
                .iter()
                .map(|(first, values)| (*first, first + values.len() as u64))
                .collect()
        } else {
            Vec::new()
        };
        self.write_unrecorded();
        if !runs.is_empty() {
            for (first, end) in runs {
                for slot in first..end {
                    self.mark_chosen(slot);
                }
            }
            self.advance();
        }
    }

    /// Keeps `value` at `slot` for the next record of accepted values under
    /// `ballot` (`None`: learned values), in runs of consecutive slots.
    fn remember_as(&mut self, ballot: Option<Ballot>, slot: u64, value: Vec<u8>) {
        if self.unrecorded_ballot != ballot {
            self.write_unrecorded();
            self.unrecorded_ballot = ballot;
        }
        let max_batch = self.config.max_batch;
        match self.unrecorded.last_mut() {
            Some((first, values))
                if *first + values.len() as u64 == slot
                    && values.len() < max_batch
                    && self.unrecorded_bytes + value.len() <= MAX_BATCH_BYTES =>
            {
                self.unrecorded_bytes += value.len();
                values.push(value);
            }
            _ => {
                self.unrecorded_bytes = value.len();
                let mut run = Vec::with_capacity(max_batch.clamp(1, 8));
                run.push(value);
                self.unrecorded.push((slot, run));
            }
        }
    }

    /// [`remember_as`](Self::remember_as) for a whole page at slots
    /// `first..` (at most a page: an `Accept`'s), kept as one run.
    fn remember_page(&mut self, ballot: Option<Ballot>, first: u64, values: Vec<Vec<u8>>) {
        if values.is_empty() {
            return;
        }
        let joins = self
            .unrecorded
            .last()
            .is_some_and(|(f, v)| self.unrecorded_ballot == ballot && *f + v.len() as u64 == first);
        if joins {
            for (slot, value) in (first..).zip(values) {
                self.remember_as(ballot, slot, value);
            }
            return;
        }
        if self.unrecorded_ballot != ballot {
            self.write_unrecorded();
            self.unrecorded_ballot = ballot;
        }
        self.unrecorded_bytes = page_bytes(&values);
        self.unrecorded.push((first, values));
    }

    fn remember(&mut self, ballot: Ballot, slot: u64, value: Vec<u8>) {
        self.remember_as(Some(ballot), slot, value);
    }

    /// Writes the values kept by [`remember_as`](Self::remember_as): one
    /// record per run.
    fn write_unrecorded(&mut self) {
        if self.unrecorded.is_empty() {
            return;
        }
        let ballot = self.unrecorded_ballot;
        self.unrecorded_bytes = 0;
        let max_batch = self.config.max_batch;
        // Taken and given back, so its room is reused.
        let mut runs = core::mem::take(&mut self.unrecorded);
        for (first, mut values) in runs.drain(..) {
            let bytes = page_bytes(&values);
            // Consecutive with the record queued last, under the same
            // ballot, and within a page's bounds: one record.
            let last = match self.outputs.back_mut() {
                Some(Output::Persist(Persist::Accepted {
                    first: f,
                    ballot: b,
                    values: v,
                })) if Some(*b) == ballot => Some((*f, v)),
                Some(Output::Persist(Persist::Learned {
                    first: f,
                    values: v,
                })) if ballot.is_none() => Some((*f, v)),
                _ => None,
            };
            if let Some((f, v)) = last
                && f + v.len() as u64 == first
                && v.len() + values.len() <= max_batch
                && self.record_bytes + bytes <= MAX_BATCH_BYTES
            {
                v.append(&mut values);
                self.record_bytes += bytes;
                continue;
            }
            let record = match ballot {
                Some(ballot) => Persist::Accepted {
                    first,
                    ballot,
                    values,
                },
                None => Persist::Learned { first, values },
            };
            self.persist(record);
            self.record_bytes = bytes;
        }
        self.unrecorded = runs;
    }

    fn on_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        first: u64,
        values: Vec<Vec<u8>>,
        commit: u64,
    ) {
        if ballot < self.promised {
            let promised = self.promised;
            self.send(from, Message::Nack { ballot, promised });
            return;
        }
        if values
            .iter()
            .any(|v| v.len() > self.config.max_proposal_bytes)
        {
            return;
        }
        self.follow(from, ballot);
        let end = first.saturating_add(values.len() as u64);
        let fresh = end <= self.config.max_log_entries.saturating_add(1)
            && self
                .log
                .from(first)
                .take_while(|&(slot, _)| slot < end)
                .all(|(_, s)| !s.chosen);
        let mut count = 0;
        if fresh {
            // The common case: every slot taken; the page is the record.
            for (slot, value) in (first..).zip(&values) {
                self.log.insert(slot, ballot, value, false, 0);
            }
            count = values.len() as u64;
            self.remember_page(Some(ballot), first, values);
        } else {
            for (i, value) in values.into_iter().enumerate() {
                // Saturating: a forged `first` may be near the last slot
                // number (found by the paxos_step fuzz target).
                let slot = first.saturating_add(i as u64);
                if slot > self.config.max_log_entries {
                    break;
                }
                count += 1;
                if self.log.get(slot).is_some_and(|s| s.chosen) {
                    // Chosen already: the leader's value is the same one.
                    continue;
                }
                self.log.insert(slot, ballot, &value, false, 0);
                self.remember(ballot, slot, value);
            }
        }
        // Recorded before the acknowledgement.
        self.write_unrecorded();
        if count > 0 {
            self.send(
                from,
                Message::Accepted {
                    ballot,
                    first,
                    count,
                    applied: self.durable_applied(),
                },
            );
        }
        self.learn_commit(from, ballot, commit);
    }

    /// A leader of `ballot` (at least our promise) spoke: follow it.
    fn follow(&mut self, from: NodeId, ballot: Ballot) {
        if ballot > self.promised {
            // Following a ballot promises it: recorded first, so the
            // promise a later Prepare of this ballot is answered with
            // survives a restart (found by the paxos_step fuzz target).
            self.promised = ballot;
            self.persist(Persist::Promised(ballot));
        }
        if self.role != Role::Follower && ballot > self.ballot {
            self.step_down(false);
        }
        if self.role == Role::Follower {
            self.leader = Some(from);
            self.leader_contact = self.now;
            self.probing = None;
            self.preemptions = 0;
            self.reset_election_timer();
        }
    }

    fn on_accepted(&mut self, from: NodeId, ballot: Ballot, first: u64, count: u64) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        self.heard_from(from);
        let Some(i) = self.index_of(from) else {
            return;
        };
        let bit = 1u64 << i;
        if let Some(n) = self.inflight.get_mut(i) {
            *n = n.saturating_sub(1);
        }
        let majority = self.majority() as u32;
        // Only slots this leadership proposed and not yet chosen.
        let from_slot = first.max(self.first_unchosen);
        let last = first.saturating_add(count).min(self.next_slot);
        for (_, s) in self.log.between_mut(from_slot, last) {
            if s.ballot == ballot && !s.chosen && s.acks != 0 {
                s.acks |= bit;
                if s.acks.count_ones() >= majority {
                    s.chosen = true;
                    s.acks = 0;
                }
            }
        }
        self.advance();
        self.pump();
    }

    /// The first slot this node has not applied as far as its records
    /// hold: below it, a restart needs nothing from a peer (the chosen
    /// prefix recorded, or a snapshot).
    fn durable_applied(&self) -> u64 {
        (self.applied + 1).min(self.recorded_chosen)
    }

    /// Leader: the first slot some member has not applied (as far as its
    /// records hold), once every member has answered in this leadership;
    /// the log's base until then.
    fn cluster_applied(&self) -> u64 {
        let me = self.index_of(self.config.id);
        let mut least = self.durable_applied();
        for (i, &a) in self.applied_of.iter().enumerate() {
            if Some(i) == me {
                continue;
            }
            if a == 0 {
                return self.log.base();
            }
            least = least.min(a);
        }
        least.max(self.log.base())
    }

    /// Leader of `ballot`: `from` has applied every slot below `applied`
    /// (as its records hold), so the slots every member has applied go.
    fn note_applied(&mut self, from: NodeId, ballot: Ballot, applied: u64) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        if let Some(a) = self.index_of(from).and_then(|i| self.applied_of.get_mut(i)) {
            *a = (*a).max(applied);
        }
        let applied = self.cluster_applied();
        self.log.drop_below(applied);
    }

    /// The leader says every member has applied every slot below
    /// `applied`: no node will ask for those again, so they go (those
    /// this node has applied as far as its records hold).
    fn drop_applied(&mut self, applied: u64) {
        let safe = applied.min(self.durable_applied());
        self.log.drop_below(safe);
    }

    fn heard_from(&mut self, from: NodeId) {
        let now = self.now;
        if let Some(t) = self.index_of(from).and_then(|i| self.heard.get_mut(i)) {
            *t = now;
        }
    }

    fn mark_chosen(&mut self, slot: u64) {
        if let Some(s) = self.log.get_mut(slot) {
            s.chosen = true;
            s.acks = 0;
        }
    }

    fn on_nack(&mut self, ballot: Ballot, promised: Ballot) {
        self.note(promised);
        if self.role != Role::Follower && ballot == self.ballot && promised > self.ballot {
            self.step_down(true);
        }
    }

    fn on_heartbeat(&mut self, from: NodeId, ballot: Ballot, commit: u64) {
        if ballot < self.promised {
            let promised = self.promised;
            self.send(from, Message::Nack { ballot, promised });
            return;
        }
        self.follow(from, ballot);
        let applied = self.durable_applied();
        self.send(from, Message::HeartbeatAck { ballot, applied });
        self.learn_commit(from, ballot, commit);
    }

    /// Learns the slots below the leader's `commit` that this node accepted
    /// under the leader's ballot; asks `leader` for the rest.
    fn learn_commit(&mut self, leader: NodeId, ballot: Ballot, commit: u64) {
        if self.role != Role::Follower {
            return;
        }
        self.known_commit = self.known_commit.max(commit);
        let first = self.first_unchosen;
        let end = commit.max(first);
        for (next, (slot, s)) in (first..).zip(self.log.between_mut(first, end)) {
            if slot != next || (!s.chosen && s.ballot != ballot) {
                break;
            }
            s.chosen = true;
        }
        self.advance();
        if self.first_unchosen < self.known_commit {
            self.catch_up(leader);
        }
    }

    fn catch_up(&mut self, from: NodeId) {
        if self.now >= self.catch_up_after {
            self.catch_up_after = self
                .now
                .saturating_add_millis(self.config.heartbeat_interval_ms);
            let slot = self.first_unchosen;
            self.send(from, Message::CatchUp { from: slot });
        }
    }

    fn on_catch_up(&mut self, from: NodeId, slot: u64) {
        let mut expect = slot;
        let (values, _) = self.page(
            slot,
            |s, entry| {
                let ok = s == expect && entry.chosen;
                expect += 1;
                ok.then(|| entry.value.to_vec())
            },
            Vec::len,
        );
        if !values.is_empty() {
            self.send(
                from,
                Message::Chosen {
                    first: slot,
                    values,
                },
            );
        }
    }

    fn on_chosen(&mut self, from: NodeId, first: u64, values: Vec<Vec<u8>>) {
        if values.len() > self.config.max_batch.max(1) {
            return;
        }
        let before = self.first_unchosen;
        for (i, value) in values.into_iter().enumerate() {
            let slot = first.saturating_add(i as u64);
            if slot > self.config.max_log_entries || value.len() > self.config.max_proposal_bytes {
                break;
            }
            self.learn(slot, value);
        }
        self.advance();
        if self.first_unchosen > before && self.first_unchosen < self.known_commit {
            // More to fetch: ask again at once rather than at the next heartbeat.
            self.catch_up_after = self.now;
            self.catch_up(from);
        }
    }

    /// `value` is chosen at `slot` (a peer said so).
    fn learn(&mut self, slot: u64, value: Vec<u8>) {
        if slot < self.first_unchosen || self.log.get(slot).is_some_and(|s| s.chosen) {
            return;
        }
        if self.role == Role::Leader && slot >= self.next_slot {
            // Every slot chosen before this leadership was in a promise's
            // report, so a leader proposes past it: no correct peer says
            // a slot the leader has not reached is chosen. Kept out, so
            // that the leader's next proposal cannot land on it (found by
            // the paxos_step fuzz target).
            return;
        }
        let ballot = self.log.get(slot).map_or(Ballot::ZERO, |s| s.ballot);
        self.log.insert(slot, ballot, &value, true, 0);
        self.remember_as(None, slot, value);
    }

    /// Moves the first unchosen slot over the chosen prefix and reports the
    /// newly chosen values, in slot order.
    fn advance(&mut self) {
        // What a Chosen event reports is recorded first.
        self.write_unrecorded();
        while self.log.get(self.first_unchosen).is_some_and(|s| s.chosen) {
            self.first_unchosen += 1;
        }
        while self.applied + 1 < self.first_unchosen {
            self.applied += 1;
            let slot = self.applied;
            let value = self
                .log
                .get(slot)
                .map(|s| s.value.to_vec())
                .unwrap_or_default();
            self.outputs
                .push_back(Output::Event(Event::Chosen { slot, value }));
        }
    }

    fn step_down(&mut self, preempted: bool) {
        if self.role == Role::Leader {
            let ballot = self.ballot;
            self.outputs
                .push_back(Output::Event(Event::SteppedDown { ballot }));
        }
        self.role = Role::Follower;
        self.ballot = Ballot::ZERO;
        self.leader = None;
        self.pending.clear();
        self.merged.clear();
        self.reports.clear();
        if preempted {
            self.preemptions = self.preemptions.saturating_add(1);
        }
        self.reset_election_timer();
    }

    fn propose(&mut self, value: Vec<u8>) {
        self.pending.push_back(value);
        self.pump();
    }

    /// Writes the application's snapshot through `upto` (at most the
    /// applied slot) with everything else a restart needs: the promise and
    /// the slots held.
    fn compact(&mut self, upto: u64, data: Vec<u8>) {
        if self.snapshot.as_ref().is_some_and(|(u, _)| *u >= upto) && upto > 0 {
            return;
        }
        self.write_unrecorded();
        let slots = self
            .log
            .from(self.log.base())
            .map(|(slot, s)| Report {
                slot,
                ballot: s.ballot,
                value: s.value.to_vec(),
                chosen: s.chosen,
            })
            .collect();
        self.persist(Persist::Snapshot {
            upto,
            data: data.clone(),
            promised: self.promised,
            slots,
        });
        self.recorded_chosen = self.recorded_chosen.max(upto.saturating_add(1));
        self.snapshot = Some((upto, data));
    }

    /// Moves queued proposals into slots while the window allows.
    fn pump(&mut self) {
        while self.role == Role::Leader
            && self.next_slot < self.first_unchosen.saturating_add(self.config.window)
        {
            let Some(value) = self.pending.pop_front() else {
                break;
            };
            let slot = self.next_slot;
            self.next_slot += 1;
            self.accept_own(slot, value);
        }
        self.record_own();
        self.advance();
    }

    /// Sends each peer the slots proposed since the last flush, a page per
    /// message, while fewer than [`MAX_INFLIGHT`] of its `Accept`s are
    /// unanswered (flow control: what waits goes out in fuller pages when
    /// answers come back).
    fn flush(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let me = self.config.id;
        for i in 0..self.config.members.len() {
            let (Some(&peer), Some(&from)) = (self.config.members.get(i), self.unsent.get(i))
            else {
                continue;
            };
            if peer == me {
                continue;
            }
            let mut from = from;
            while from < self.next_slot && self.inflight.get(i).is_some_and(|&n| n < MAX_INFLIGHT) {
                let end = self.send_page(peer, from, self.next_slot);
                if end <= from {
                    break;
                }
                from = end;
                if let Some(n) = self.inflight.get_mut(i) {
                    *n += 1;
                }
            }
            if let Some(u) = self.unsent.get_mut(i) {
                *u = from;
            }
        }
    }

    /// Sends `peer` one `Accept` of the page of slots from `first` (below
    /// `to`); returns the first slot it did not cover.
    fn send_page(&mut self, peer: NodeId, first: u64, to: u64) -> u64 {
        let mut expect = first;
        let (values, next) = self.page(
            first,
            |slot, s| {
                let ok = slot == expect && slot < to;
                expect += 1;
                ok.then(|| s.value.to_vec())
            },
            Vec::len,
        );
        if values.is_empty() {
            return first;
        }
        let end = next.unwrap_or(first + values.len() as u64);
        let message = Message::Accept {
            ballot: self.ballot,
            first,
            values,
            commit: self.first_unchosen,
            applied: self.cluster_applied(),
        };
        self.send(peer, message);
        end
    }

    /// Resends, at each heartbeat, the first page of the slots each peer
    /// has not accepted though they were sent a heartbeat ago or more
    /// (lost `Accept`s or `Accepted`s).
    fn resend_unacked(&mut self) {
        let (first, below, ballot) = (self.first_unchosen, self.resend_below, self.ballot);
        let members = self.config.members.clone();
        for (i, peer) in members.into_iter().enumerate() {
            if peer == self.config.id {
                continue;
            }
            let bit = 1u64 << i;
            let unacked = self
                .log
                .from(first)
                .take_while(|&(slot, _)| slot < below)
                .find(|(_, s)| !s.chosen && s.ballot == ballot && s.acks & bit == 0);
            let Some((from, _)) = unacked else {
                continue;
            };
            self.send_page(peer, from, self.next_slot);
        }
    }
}

/// The value bytes of a page.
fn page_bytes(values: &[Vec<u8>]) -> usize {
    values.iter().map(Vec::len).sum()
}

impl Restore for PaxosNode {
    type Config = Config;

    /// Rebuilds the node from every record it persisted, in order: its
    /// promise (the highest of its `Promised` and `Accepted` ballots), what
    /// it accepted and learned, and its chosen prefix, reported again from
    /// slot 1 as [`Event::Chosen`].
    fn restore(config: Config, records: &[Persist]) -> Result<Self, Error> {
        let mut node = PaxosNode::new(config)?;
        let mut chosen_below = 1;
        for record in records {
            match record {
                Persist::Promised(b) => {
                    if !planted(Mutant::PaxosAcceptorForgetsPromise) {
                        node.promised = node.promised.max(*b);
                    }
                }
                Persist::Accepted {
                    first,
                    ballot,
                    values,
                } => {
                    node.promised = node.promised.max(*ballot);
                    for (slot, value) in node.check_record(*first, values)? {
                        if !node.log.get(slot).is_some_and(|s| s.chosen) {
                            node.log.insert(slot, *ballot, value, false, 0);
                        }
                    }
                }
                Persist::Learned { first, values } => {
                    for (slot, value) in node.check_record(*first, values)? {
                        let ballot = node.log.get(slot).map_or(Ballot::ZERO, |s| s.ballot);
                        node.log.insert(slot, ballot, value, true, 0);
                    }
                }
                Persist::Chosen { below } => chosen_below = chosen_below.max(*below),
                Persist::Snapshot {
                    upto,
                    data,
                    promised,
                    slots,
                } => {
                    // Everything before it is replaced.
                    if !planted(Mutant::PaxosAcceptorForgetsPromise) {
                        node.promised = node.promised.max(*promised);
                    }
                    node.log = SlotLog::default();
                    let after = upto.saturating_add(1);
                    node.log
                        .drop_below(slots.first().map_or(after, |r| r.slot.min(after)));
                    for r in slots {
                        let value = core::slice::from_ref(&r.value);
                        let _ = node.check_record(r.slot, value)?;
                        node.promised = node.promised.max(r.ballot);
                        node.log.insert(r.slot, r.ballot, &r.value, r.chosen, 0);
                    }
                    chosen_below = chosen_below.max(upto.saturating_add(1));
                    node.applied = *upto;
                    node.first_unchosen = upto.saturating_add(1);
                    node.snapshot = Some((*upto, data.clone()));
                }
            }
        }
        for (_, s) in node.log.between_mut(1, chosen_below) {
            s.chosen = true;
        }
        node.max_round = node.promised.round;
        node.recorded_chosen = chosen_below;
        if let Some((upto, _)) = node.snapshot {
            node.outputs
                .push_back(Output::Event(Event::Snapshot { upto }));
        }
        node.advance();
        Ok(node)
    }
}

impl PaxosNode {
    /// The slots and values of a record of values from slot `first`, if
    /// they fit the configuration.
    fn check_record<'r>(
        &self,
        first: u64,
        values: &'r [Vec<u8>],
    ) -> Result<impl Iterator<Item = (u64, &'r Vec<u8>)> + 'r, Error> {
        let last = first
            .checked_add(values.len() as u64)
            .ok_or(Error::BadRecord)?;
        if first == 0
            || last.saturating_sub(1) > self.config.max_log_entries
            || values
                .iter()
                .any(|v| v.len() > self.config.max_proposal_bytes)
        {
            return Err(Error::BadRecord);
        }
        Ok((first..).zip(values))
    }

    /// After each input: send what the leader proposed, and record the
    /// chosen prefix once it moved a page past the last record of it (the
    /// record only saves relearning after a restart, so a page of slots at
    /// most is relearned).
    fn finish(&mut self) {
        self.write_unrecorded();
        self.flush();
        if self.first_unchosen
            >= self
                .recorded_chosen
                .saturating_add(self.config.max_batch as u64)
        {
            self.recorded_chosen = self.first_unchosen;
            self.persist(Persist::Chosen {
                below: self.first_unchosen,
            });
        }
    }
}

impl Participant for PaxosNode {
    type Message = Message;
    type Command = Command;
    type Persist = Persist;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn handle_input(&mut self, now: Instant, input: Input<Message, Command>) -> Result<(), Error> {
        if let Input::Message { from, .. } = &input
            && (*from == self.config.id || self.index_of(*from).is_none())
        {
            return Err(Error::NotAMember { peer: *from });
        }
        // Refusals come before anything changes.
        match &input {
            Input::Command(Command::Propose(value)) => self.check_proposal(value)?,
            Input::Command(Command::Compact { upto, .. }) if *upto > self.applied => {
                return Err(Error::NotApplied {
                    upto: *upto,
                    applied: self.applied,
                });
            }
            _ => {}
        }
        self.now = self.now.max(now);
        if !self.started {
            self.started = true;
            self.reset_election_timer();
        }
        match input {
            Input::Message { from, message } => self.on_message(from, message),
            Input::Tick => self.on_tick(),
            Input::Command(Command::Propose(value)) => self.propose(value),
            Input::Command(Command::Campaign) => self.campaign(),
            Input::Command(Command::Compact { upto, snapshot }) => self.compact(upto, snapshot),
        }
        self.finish();
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Output<Message, Persist, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        Some(if self.started {
            self.deadline
        } else {
            Instant::ZERO
        })
    }
}

impl PaxosNode {
    fn check_proposal(&self, value: &[u8]) -> Result<(), Error> {
        if self.role != Role::Leader {
            return Err(Error::NotLeader {
                leader_hint: self.leader,
            });
        }
        if value.is_empty() {
            return Err(Error::EmptyValue);
        }
        if value.len() > self.config.max_proposal_bytes {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                max: self.config.max_proposal_bytes,
            });
        }
        if self.pending.len() >= self.config.max_pending {
            return Err(Error::TooManyPending {
                max: self.config.max_pending,
            });
        }
        if self.next_slot + self.pending.len() as u64 > self.config.max_log_entries {
            return Err(Error::LogFull);
        }
        Ok(())
    }
}
