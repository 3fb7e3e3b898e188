//! Single-decree Paxos, the teaching form: a set of nodes agree on one
//! value, after Lamport's "Paxos Made Simple" (2001) §2. Use
//! [`PaxosNode`](super::PaxosNode) to agree on a sequence of values; this
//! is the protocol each of its slots runs, written out on its own so it
//! can be read against the paper.
//!
//! Every [`SingleDecree`] node plays the three roles of §2:
//!
//! - **Proposer.** Given a value ([`Command::Propose`]), it picks a ballot
//!   above every ballot it has seen (ballots are `(round, node)`, so two
//!   proposers never share one) and runs *phase 1*: `Prepare(ballot)` to
//!   every acceptor. With promises from a majority it runs *phase 2*:
//!   `Accept(ballot, value)`, where `value` is the one accepted with the
//!   highest ballot among the promises, or its own if none was (§2.2, P2c).
//!   An acceptor's refusal (`Nack`, carrying the higher ballot it promised)
//!   preempts the attempt ([`Event::Preempted`]); the proposer tries again
//!   with a higher ballot after a random delay that grows with each
//!   preemption in a row (drawn from the seeded PRNG), so duelling
//!   proposers converge; an attempt that hears nothing for `retry` ms is
//!   tried again too (lost messages).
//! - **Acceptor.** It promises a ballot higher than any it promised
//!   before, reporting what it accepted (a [`Persist::Promised`] record
//!   first), and accepts a value at a ballot no lower than its promise (a
//!   [`Persist::Accepted`] record first), telling every learner. Otherwise
//!   it answers `Nack`.
//! - **Learner.** A value accepted by a majority at one ballot is chosen
//!   ([`Event::Chosen`], once per life, after a [`Persist::Chosen`]
//!   record). The node that learns it while proposing tells everyone
//!   (`Decided`); a decided node answers any later `Prepare`, `Accept` or
//!   `Query` with `Decided`; a node that saw the protocol run but did not
//!   learn its outcome asks (`Query`) every `retry` ms, and every
//!   undecided node asks once at its first tick (it may start, or
//!   restart, after the protocol ran).
//!
//! # Invariants
//!
//! - **Agreement**: at most one value is chosen, ever, across every node
//!   and every life of each (P2 of §2.2, by P2c: a proposer's phase 2 value
//!   is the highest-ballot value a majority reported).
//! - **Validity**: the chosen value was proposed.
//! - A promise and an acceptance are recorded before the reply that makes
//!   them; a restarted node keeps every promise and acceptance (forgetting
//!   a promise breaks agreement: the planted bug
//!   `paxos_acceptor_forgets_promise` does exactly that).
//!
//! # What it does not do
//!
//! Choose more than one value (that is [`PaxosNode`](super::PaxosNode)'s
//! log, which runs phase 1 once for every slot), elect a stable leader
//! (two proposers may duel until the backoff separates them), or change
//! its voting set. Liveness needs a majority that can talk, and proposers
//! that back off: with `backoff_base_ms` 0 a preempted proposer retries at
//! once, and duelling proposers can preempt each other for ever (FLP; the
//! `paxos-duel-no-backoff` scenario shows it).
//!
//! # Bounds
//!
//! State is a few ballots per member and at most three values (the
//! acceptor's, the proposer's and the learner's); a value is at most
//! `max_value_bytes`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Ballot, Error};
use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::protocol::{Input, Output, Participant, Restore};
use crate::rng::Rng;
use crate::time::Instant;
use crate::wire::{WireMessage, kind};

/// A single-decree node's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// The voting set (acceptors), this node included; fixed.
    pub members: Vec<NodeId>,
    /// An attempt that has not finished after a time drawn from
    /// `[retry_min_ms, retry_max_ms]` is tried again with a higher ballot;
    /// an undecided node that saw the protocol run asks its peers for the
    /// outcome as often (defaults 100–200).
    pub retry_min_ms: u64,
    /// See [`retry_min_ms`](Self::retry_min_ms).
    pub retry_max_ms: u64,
    /// After the `n`th preemption in a row, a proposer waits a random delay
    /// of up to `min(backoff_max, backoff_base × 2ⁿ)` ms before it tries
    /// again (defaults 20 and 2,000; 0 and 0: at once, the textbook
    /// proposer that can livelock).
    pub backoff_base_ms: u64,
    /// See [`backoff_base_ms`](Self::backoff_base_ms).
    pub backoff_max_ms: u64,
    /// Longest value, bytes (default 64 KiB, at most 1 MiB).
    pub max_value_bytes: usize,
    /// Seed of the node's PRNG (retries and backoff).
    pub seed: u64,
}

impl Config {
    /// Defaults for node `id` of `members`.
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        Config {
            id,
            members: members.to_vec(),
            retry_min_ms: 100,
            retry_max_ms: 200,
            backoff_base_ms: 20,
            backoff_max_ms: 2_000,
            max_value_bytes: 64 << 10,
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
        if self.retry_min_ms == 0 || self.retry_max_ms < self.retry_min_ms {
            return bad("need 0 < retry_min_ms <= retry_max_ms");
        }
        if self.max_value_bytes == 0 || self.max_value_bytes > 1 << 20 {
            return bad("max_value_bytes must be in 1..=1 MiB");
        }
        Ok(())
    }
}

/// Requests from the local application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Propose `value` (not empty). The node runs attempts until some
    /// value is chosen ([`Event::Chosen`]): its own, or another proposer's.
    Propose(Vec<u8>),
}

/// Notifications for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `value` is chosen; reported once per life (a restarted node that
    /// recorded it reports it again first).
    Chosen {
        /// The chosen value.
        value: Vec<u8>,
    },
    /// This node's attempt at `ballot` was refused: an acceptor promised
    /// the higher ballot `by`. It tries again after its backoff.
    Preempted {
        /// The attempt's ballot.
        ballot: Ballot,
        /// The acceptor's promise.
        by: Ballot,
    },
}

/// A message between two nodes of one voting set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Phase 1a: promise `ballot`.
    Prepare {
        /// The proposer's ballot.
        ballot: Ballot,
    },
    /// Phase 1b: `ballot` is promised; the sender accepted `accepted`
    /// (ballot and value) before, if anything.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// What the sender accepted, with the highest ballot it accepted.
        accepted: Option<(Ballot, Vec<u8>)>,
    },
    /// Phase 2a: accept `value` at `ballot`.
    Accept {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The value.
        value: Vec<u8>,
    },
    /// Phase 2b, to every learner: the sender accepted `value` at `ballot`.
    Accepted {
        /// The ballot.
        ballot: Ballot,
        /// The value.
        value: Vec<u8>,
    },
    /// `ballot` is refused: the sender promised `promised`, higher.
    Nack {
        /// The ballot refused.
        ballot: Ballot,
        /// The sender's promise.
        promised: Ballot,
    },
    /// `value` is chosen.
    Decided {
        /// The chosen value.
        value: Vec<u8>,
    },
    /// What was chosen, if you know?
    Query,
}

impl WireMessage for Message {
    const KIND: u8 = kind::PAXOS_SINGLE;
}

/// What a node asks its caller to make durable, in order, before acting on
/// the outputs after it; a restart replays them ([`SingleDecree::restore`]).
/// Encoded like a message, kind [`PAXOS_SINGLE_RECORD`](kind::PAXOS_SINGLE_RECORD).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Persist {
    /// The acceptor promised this ballot.
    Promised(Ballot),
    /// The acceptor accepted `value` at `ballot` (and so promised it).
    Accepted {
        /// The ballot.
        ballot: Ballot,
        /// The value.
        value: Vec<u8>,
    },
    /// `value` is chosen.
    Chosen(Vec<u8>),
}

impl WireMessage for Persist {
    const KIND: u8 = kind::PAXOS_SINGLE_RECORD;
}

/// The proposer's attempt in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Attempt {
    /// None: no value to propose, or waiting to try again.
    Idle,
    /// Phase 1 at `ballot`: who promised (a bit per member), and the
    /// highest-ballot value they reported.
    Preparing {
        ballot: Ballot,
        promised: u64,
        highest: Option<(Ballot, Vec<u8>)>,
    },
    /// Phase 2 at `ballot`.
    Accepting { ballot: Ballot },
}

/// A single-decree Paxos node; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SingleDecree {
    config: Config,
    rng: Rng,
    now: Instant,
    /// When the proposer tries again, or an undecided node asks.
    deadline: Instant,
    // Acceptor.
    promised: Ballot,
    accepted: Option<(Ballot, Vec<u8>)>,
    // Learner: the highest ballot heard accepted, who accepted it (a bit
    // per member) and its value; and the outcome.
    tally: Option<(Ballot, u64, Vec<u8>)>,
    chosen: Option<Vec<u8>>,
    /// Not yet asked: a node may start (or restart) after the protocol
    /// ran, so an undecided node asks its peers once, at its first tick.
    curious: bool,
    // Proposer.
    proposal: Option<Vec<u8>>,
    attempt: Attempt,
    max_round: u64,
    preemptions: u32,
    outputs: VecDeque<Output<Message, Persist, Event>>,
}

impl SingleDecree {
    /// A fresh node (no records).
    ///
    /// # Errors
    /// [`Error::BadConfig`] if the configuration is unusable.
    pub fn new(mut config: Config) -> Result<Self, Error> {
        config.validate()?;
        Ok(SingleDecree {
            rng: Rng::seed_from_u64(config.seed),
            config,
            now: Instant::ZERO,
            deadline: Instant::ZERO,
            promised: Ballot::ZERO,
            accepted: None,
            tally: None,
            chosen: None,
            curious: true,
            proposal: None,
            attempt: Attempt::Idle,
            max_round: 0,
            preemptions: 0,
            outputs: VecDeque::new(),
        })
    }

    /// The chosen value, once this node knows it.
    #[must_use]
    pub fn chosen(&self) -> Option<&[u8]> {
        self.chosen.as_deref()
    }

    /// The highest ballot this acceptor promised.
    #[must_use]
    pub const fn promised(&self) -> Ballot {
        self.promised
    }

    /// What this acceptor accepted: the ballot and value.
    #[must_use]
    pub fn accepted(&self) -> Option<(Ballot, &[u8])> {
        self.accepted.as_ref().map(|(b, v)| (*b, v.as_slice()))
    }

    /// The ballot of the proposer's attempt in progress, if any.
    #[must_use]
    pub const fn attempt(&self) -> Option<Ballot> {
        match &self.attempt {
            Attempt::Idle => None,
            Attempt::Preparing { ballot, .. } | Attempt::Accepting { ballot } => Some(*ballot),
        }
    }

    /// The value this node proposes, until a value is chosen.
    #[must_use]
    pub fn proposal(&self) -> Option<&[u8]> {
        self.proposal.as_deref()
    }

    /// The configuration (validated).
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    fn majority(&self) -> usize {
        self.config.members.len() / 2 + 1
    }

    fn bit(&self, id: NodeId) -> u64 {
        self.config.members.binary_search(&id).map_or(0, |i| 1 << i)
    }

    fn send(&mut self, to: NodeId, message: Message) {
        self.outputs.push_back(Output::Send { to, message });
    }

    fn broadcast(&mut self, message: &Message) {
        let me = self.config.id;
        for i in 0..self.config.members.len() {
            let Some(&peer) = self.config.members.get(i) else {
                continue;
            };
            if peer != me {
                self.send(peer, message.clone());
            }
        }
    }

    fn persist(&mut self, record: Persist) {
        self.outputs.push_back(Output::Persist(record));
    }

    fn note(&mut self, ballot: Ballot) {
        self.max_round = self.max_round.max(ballot.round);
    }

    fn wait_retry(&mut self) {
        let wait = self
            .rng
            .between(self.config.retry_min_ms, self.config.retry_max_ms);
        self.deadline = self.now.saturating_add_millis(wait);
    }

    /// A value whose length a peer may send.
    fn fits(&self, value: &[u8]) -> bool {
        !value.is_empty() && value.len() <= self.config.max_value_bytes
    }

    // ---- proposer -------------------------------------------------------

    /// Starts an attempt at a ballot above every ballot seen.
    fn attempt_now(&mut self) {
        if self.chosen.is_some() || self.proposal.is_none() {
            return;
        }
        let round = self.max_round.max(self.promised.round).saturating_add(1);
        if round == u64::MAX {
            // No ballot is left above what was seen (a peer sent the last
            // round): this proposer can never win; the others can, and it
            // learns their outcome as any learner does.
            self.attempt = Attempt::Idle;
            self.proposal = None;
            self.wait_retry();
            return;
        }
        let ballot = Ballot {
            round,
            node: self.config.id,
        };
        self.note(ballot);
        self.attempt = Attempt::Preparing {
            ballot,
            promised: 0,
            highest: None,
        };
        self.wait_retry();
        // Its own acceptor is one of the majority; its promise is
        // recorded before the Prepare goes out.
        let reply = self.on_prepare_local(ballot);
        self.broadcast(&Message::Prepare { ballot });
        if let Some(accepted) = reply {
            self.on_promise(self.config.id, ballot, accepted);
        }
    }

    /// Phase 1b from `from` (this node's own acceptor included).
    fn on_promise(&mut self, from: NodeId, ballot: Ballot, accepted: Option<(Ballot, Vec<u8>)>) {
        let bit = self.bit(from);
        let majority = self.majority() as u32;
        let Attempt::Preparing {
            ballot: b,
            promised,
            highest,
        } = &mut self.attempt
        else {
            return;
        };
        if *b != ballot {
            return;
        }
        *promised |= bit;
        if let Some((ab, value)) = accepted
            && highest.as_ref().is_none_or(|(hb, _)| ab > *hb)
        {
            *highest = Some((ab, value));
        }
        if promised.count_ones() < majority {
            return;
        }
        // P2c: the value of the highest ballot a majority reported, or
        // this proposer's own.
        let value = match highest.take() {
            Some((_, value)) if !planted(Mutant::PaxosProposerIgnoresReports) => value,
            _ => self.proposal.clone().unwrap_or_default(),
        };
        self.attempt = Attempt::Accepting { ballot };
        self.broadcast(&Message::Accept {
            ballot,
            value: value.clone(),
        });
        self.on_accept(self.config.id, ballot, value);
    }

    /// `from` refused `ballot`, having promised `promised`.
    fn on_nack(&mut self, ballot: Ballot, promised: Ballot) {
        if promised <= ballot {
            return; // not a refusal
        }
        self.note(promised);
        if self.attempt() == Some(ballot) {
            self.preempted(ballot, promised);
        }
    }

    /// The attempt at `ballot` cannot succeed: wait a growing random delay
    /// and try again.
    fn preempted(&mut self, ballot: Ballot, by: Ballot) {
        self.attempt = Attempt::Idle;
        self.preemptions = self.preemptions.saturating_add(1);
        self.outputs
            .push_back(Output::Event(Event::Preempted { ballot, by }));
        let c = &self.config;
        let wait = super::backoff(
            &mut self.rng,
            self.preemptions,
            c.backoff_base_ms,
            c.backoff_max_ms,
        );
        self.deadline = self.now.saturating_add_millis(wait);
    }

    // ---- acceptor -------------------------------------------------------

    /// Phase 1b at this acceptor: `Some(accepted)` if it promises `ballot`
    /// (recorded first), `None` if it refuses.
    fn on_prepare_local(&mut self, ballot: Ballot) -> Option<Option<(Ballot, Vec<u8>)>> {
        if ballot < self.promised {
            return None;
        }
        if ballot > self.promised {
            self.promised = ballot;
            self.persist(Persist::Promised(ballot));
            self.outbid(ballot);
        }
        Some(self.accepted.clone())
    }

    fn on_prepare(&mut self, from: NodeId, ballot: Ballot) {
        if let Some(value) = self.chosen.clone() {
            self.send(from, Message::Decided { value });
            return;
        }
        self.expect_outcome();
        match self.on_prepare_local(ballot) {
            Some(accepted) => self.send(from, Message::Promise { ballot, accepted }),
            None => {
                let promised = self.promised;
                self.send(from, Message::Nack { ballot, promised });
            }
        }
    }

    /// Phase 2b at this acceptor (from `from`, or this node's proposer).
    fn on_accept(&mut self, from: NodeId, ballot: Ballot, value: Vec<u8>) {
        if let Some(value) = self.chosen.clone() {
            if from != self.config.id {
                self.send(from, Message::Decided { value });
            }
            return;
        }
        if ballot < self.promised {
            let promised = self.promised;
            if from == self.config.id {
                self.preempted(ballot, promised);
            } else {
                self.send(from, Message::Nack { ballot, promised });
            }
            return;
        }
        self.expect_outcome();
        self.promised = ballot;
        self.accepted = Some((ballot, value.clone()));
        self.persist(Persist::Accepted {
            ballot,
            value: value.clone(),
        });
        self.outbid(ballot);
        self.broadcast(&Message::Accepted {
            ballot,
            value: value.clone(),
        });
        self.on_accepted(self.config.id, ballot, value);
    }

    /// This acceptor promised `ballot`: its own proposer's lower attempt
    /// cannot win any more.
    fn outbid(&mut self, ballot: Ballot) {
        if let Some(own) = self.attempt()
            && own < ballot
        {
            self.preempted(own, ballot);
        }
    }

    /// A node that saw the protocol run and has no attempt of its own asks
    /// for the outcome if it does not learn it within a retry.
    fn expect_outcome(&mut self) {
        if self.proposal.is_none() && self.chosen.is_none() && self.deadline <= self.now {
            self.wait_retry();
        }
    }

    // ---- learner --------------------------------------------------------

    fn on_accepted(&mut self, from: NodeId, ballot: Ballot, value: Vec<u8>) {
        if self.chosen.is_some() {
            return;
        }
        self.note(ballot);
        let bit = self.bit(from);
        let votes = match &mut self.tally {
            Some((b, votes, _)) if *b == ballot => {
                *votes |= bit;
                *votes
            }
            Some((b, _, _)) if *b > ballot => return,
            _ => {
                self.tally = Some((ballot, bit, value));
                bit
            }
        };
        if votes.count_ones() >= self.majority() as u32
            && let Some((_, _, value)) = self.tally.take()
        {
            self.decide(value);
        }
    }

    fn decide(&mut self, value: Vec<u8>) {
        if self.chosen.is_some() {
            return;
        }
        self.persist(Persist::Chosen(value.clone()));
        if self.attempt != Attempt::Idle || self.proposal.is_some() {
            // Its proposer tells everyone, so nobody waits for Accepted
            // messages that were lost.
            self.broadcast(&Message::Decided {
                value: value.clone(),
            });
        }
        self.attempt = Attempt::Idle;
        self.proposal = None;
        self.tally = None;
        self.chosen = Some(value.clone());
        self.outputs
            .push_back(Output::Event(Event::Chosen { value }));
    }

    fn on_tick(&mut self) {
        if self.chosen.is_some() || self.now < self.deadline {
            return;
        }
        if self.proposal.is_some() {
            if self.attempt != Attempt::Idle {
                // Nothing heard in time: lost messages, or a crashed peer.
                self.preemptions = self.preemptions.saturating_add(1);
            }
            self.attempt_now();
        } else if self.curious || self.promised != Ballot::ZERO || self.tally.is_some() {
            self.curious = false;
            self.broadcast(&Message::Query);
            self.wait_retry();
        }
    }

    fn on_message(&mut self, from: NodeId, message: Message) {
        match message {
            Message::Prepare { ballot } if ballot.node == from && ballot.round < u64::MAX => {
                self.note(ballot);
                self.on_prepare(from, ballot);
            }
            Message::Promise { ballot, accepted }
                if ballot.node == self.config.id
                    && accepted
                        .as_ref()
                        .is_none_or(|(b, v)| *b <= ballot && self.fits(v)) =>
            {
                self.on_promise(from, ballot, accepted);
            }
            Message::Accept { ballot, value }
                if ballot.node == from && ballot.round < u64::MAX && self.fits(&value) =>
            {
                self.note(ballot);
                self.on_accept(from, ballot, value);
            }
            Message::Accepted { ballot, value } if ballot.round < u64::MAX && self.fits(&value) => {
                self.expect_outcome();
                self.on_accepted(from, ballot, value);
            }
            Message::Nack { ballot, promised } if promised.round < u64::MAX => {
                self.on_nack(ballot, promised);
            }
            Message::Decided { value } if self.fits(&value) => self.decide(value),
            Message::Query => {
                if let Some(value) = self.chosen.clone() {
                    self.send(from, Message::Decided { value });
                }
            }
            // Malformed: a ballot not the sender's, the last round, a
            // value empty or too long.
            _ => {}
        }
    }
}

impl Restore for SingleDecree {
    type Config = Config;

    /// Replays the records: the promise, the acceptance and the outcome.
    /// A restored node that recorded the outcome reports
    /// [`Event::Chosen`] again first. The proposal is not recorded: a
    /// client whose node crashed proposes again.
    ///
    /// # Errors
    /// [`Error::BadConfig`] as [`new`](SingleDecree::new);
    /// [`Error::BadRecord`] for a value longer than `max_value_bytes` or
    /// empty.
    fn restore(config: Config, records: &[Persist]) -> Result<Self, Error> {
        let mut node = SingleDecree::new(config)?;
        for record in records {
            match record {
                Persist::Promised(b) => {
                    if !planted(Mutant::PaxosAcceptorForgetsPromise) {
                        node.promised = node.promised.max(*b);
                    }
                }
                Persist::Accepted { ballot, value } => {
                    if !node.fits(value) {
                        return Err(Error::BadRecord);
                    }
                    node.promised = node.promised.max(*ballot);
                    if node.accepted.as_ref().is_none_or(|(b, _)| b <= ballot) {
                        node.accepted = Some((*ballot, value.clone()));
                    }
                }
                Persist::Chosen(value) => {
                    if !node.fits(value) {
                        return Err(Error::BadRecord);
                    }
                    node.chosen = Some(value.clone());
                }
            }
        }
        node.max_round = node.promised.round;
        if let Some(value) = node.chosen.clone() {
            node.curious = false;
            node.outputs
                .push_back(Output::Event(Event::Chosen { value }));
        }
        Ok(node)
    }
}

impl Participant for SingleDecree {
    type Message = Message;
    type Command = Command;
    type Persist = Persist;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn handle_input(&mut self, now: Instant, input: Input<Message, Command>) -> Result<(), Error> {
        match &input {
            Input::Message { from, .. }
                if *from == self.config.id || self.config.members.binary_search(from).is_err() =>
            {
                return Err(Error::NotAMember { peer: *from });
            }
            Input::Command(Command::Propose(value)) => {
                if value.is_empty() {
                    return Err(Error::EmptyValue);
                }
                if value.len() > self.config.max_value_bytes {
                    return Err(Error::ValueTooLarge {
                        len: value.len(),
                        max: self.config.max_value_bytes,
                    });
                }
                if self.chosen.is_some() {
                    return Err(Error::Decided);
                }
                if self.proposal.is_some() {
                    return Err(Error::TooManyPending { max: 1 });
                }
            }
            _ => {}
        }
        self.now = self.now.max(now);
        match input {
            Input::Message { from, message } => self.on_message(from, message),
            Input::Tick => self.on_tick(),
            Input::Command(Command::Propose(value)) => {
                self.proposal = Some(value);
                self.preemptions = 0;
                self.attempt_now();
            }
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Output<Message, Persist, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let waiting = self.proposal.is_some()
            || self.curious
            || self.promised != Ballot::ZERO
            || self.tally.is_some();
        (self.chosen.is_none() && waiting).then_some(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    #[test]
    fn messages_and_records_round_trip_on_the_wire() {
        let b = Ballot {
            round: 3,
            node: NodeId(2),
        };
        for m in [
            Message::Prepare { ballot: b },
            Message::Promise {
                ballot: b,
                accepted: Some((b, b"v".to_vec())),
            },
            Message::Accept {
                ballot: b,
                value: b"v".to_vec(),
            },
            Message::Accepted {
                ballot: b,
                value: b"v".to_vec(),
            },
            Message::Nack {
                ballot: b,
                promised: b,
            },
            Message::Decided {
                value: b"v".to_vec(),
            },
            Message::Query,
        ] {
            let bytes = wire::encode_to_vec(&m).unwrap();
            assert_eq!(wire::decode::<Message>(&bytes).unwrap(), m);
            // A record is not a message.
            assert!(wire::decode::<Persist>(&bytes).is_err());
        }
        // The format is pinned: version, kind, then postcard.
        assert_eq!(wire::encode_to_vec(&Message::Query).unwrap(), [1, 27, 6]);
        assert_eq!(
            wire::encode_to_vec(&Message::Prepare { ballot: b }).unwrap(),
            [1, 27, 0, 3, 2]
        );
        assert_eq!(
            wire::encode_to_vec(&Persist::Chosen(b"x".to_vec())).unwrap(),
            [1, 28, 2, 1, b'x']
        );
        for r in [
            Persist::Promised(b),
            Persist::Accepted {
                ballot: b,
                value: b"v".to_vec(),
            },
            Persist::Chosen(b"v".to_vec()),
        ] {
            let bytes = wire::encode_to_vec(&r).unwrap();
            assert_eq!(wire::decode::<Persist>(&bytes).unwrap(), r);
        }
    }
}
