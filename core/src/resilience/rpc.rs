//! Request-reply: calls with ids and deadlines, retransmitted under a retry
//! policy, executed at most once by the server, each ending in exactly one
//! outcome.
//!
//! The design is RIFL's (Lee et al., "Implementing Linearizability at
//! Large Scale and Low Latency", SOSP 2015) without its leases, with gRPC's
//! deadline propagation and the breaker, retry and budget of this family
//! ([`super::breaker`], [`super::retry`]). Every
//! [`RpcNode`] is both a client (it calls its peers) and a server (it
//! executes its peers' requests); a node that only calls simply never
//! receives requests.
//!
//! # The client
//!
//! [`Command::Call`] names the call with a tag of the caller's choice
//! (unique among its calls still open), a peer, a body and a timeout. The
//! endpoint asks the peer's circuit breaker for a permit (refused:
//! [`Outcome::Rejected`] at once, nothing sent), gives the request the next
//! sequence number of its *incarnation* and sends it. The request carries
//! what is left of the deadline (`budget_ms`), so the server knows when the
//! caller stops caring and can pass the rest on to the calls it makes in
//! turn. With no reply after `attempt_timeout_ms`, or at a
//! [`Message::Busy`], the retry policy decides: retransmit after a
//! jittered delay (the same id, the next attempt number), or give up
//! retransmitting because attempts, the shared budget, or the deadline
//! ran out. A reply to any attempt counts until the deadline; at the
//! deadline the call ends. So every call ends in exactly one
//! [`Event::Done`], by its deadline:
//!
//! - [`Outcome::Reply`]: the server executed it once and this is its reply;
//! - [`Outcome::DeadlineExceeded`]: no reply in time; the server may or
//!   may not have executed it (it never will after the caller's deadline
//!   plus the server's grace, see below);
//! - [`Outcome::Rejected`]: the breaker refused it; it was never sent.
//!
//! # The server
//!
//! A request is known by its client (the sender), the client's incarnation
//! and its sequence number. The first copy to arrive is recorded as
//! started, durably ([`Persist::Started`]), *before* the application is
//! asked to execute it ([`Event::Execute`]); the application answers with
//! [`Command::Reply`], which is recorded ([`Persist::Finished`]) before the
//! reply is sent. A retransmitted or duplicated copy of a finished request
//! gets the recorded reply again; a copy of a request still executing is
//! ignored (the reply will come); and after a crash, a request started but
//! not finished is never executed again nor answered (the application
//! cannot say whether it took effect), so its caller's deadline passes.
//!
//! The table of records is bounded (`max_records`); a request that finds
//! it full is refused with [`Message::Busy`], not executed, and the client
//! retries. Records leave the table three ways:
//!
//! - the client's *watermark*: every request carries the lowest sequence
//!   number of the client's calls to this server still open
//!   (`done_below`); records below it are dropped, and so is any later copy
//!   of them (the client has its outcome and sends them no more);
//! - a newer incarnation of the client (it restarted and will never
//!   retransmit its old calls) drops its older records, and later copies of
//!   the older incarnation are ignored;
//! - expiry: a record is kept until its deadline plus `grace_ms`, then
//!   dropped, so a client that stops forever does not hold its records
//!   forever.
//!
//! # Guarantees and assumptions
//!
//! At most once: no request executes twice, across retransmissions,
//! duplication, reordering, partitions and crash-restarts of either side,
//! provided the host keeps the persistence contract and **no copy of a
//! request is delayed in the network for longer than `grace_ms`** (default
//! one minute) — the assumption TCP makes of its maximum segment
//! lifetime. Only expiry relies on it; the watermark and incarnations do
//! not. Exactly one outcome per call, by its deadline, on the caller's
//! clock; a crashed client's open calls end with it. Time is measured on
//! each side's own monotonic clock and only durations cross the network,
//! so clock offsets do not matter and drift only shortens or stretches a
//! budget by its rate.
//!
//! # Persistence
//!
//! The client persists its incarnation ([`Persist::Incarnation`]) at its
//! first input, before any request leaves; the server persists
//! [`Persist::Started`] and [`Persist::Finished`]. Every `checkpoint_every`
//! of those it writes a [`Persist::Checkpoint`] holding its whole state,
//! which replaces every record before it: a host that keeps only the
//! records since the last checkpoint keeps a bounded log. Restored records
//! live for their remaining time from the first input after the restart
//! (clocks do not survive restarts).
//!
//! # What the textbook version gets wrong
//!
//! The request-reply of the textbooks has no ids (a retransmission is a new
//! request: a payment made twice), a fixed per-attempt timeout and no
//! deadline (a caller that has given up still has its request retried, and
//! the server works for nobody), retries without jitter or budget (a retry
//! storm), and a dedup table that forgets on restart or grows forever.
//!
//! # Unknown senders
//!
//! The membership is fixed: a message from a node that is not a peer is
//! refused with [`Error::NotAPeer`] and changes nothing.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::breaker::{self, CircuitBreaker, Permit};
use super::retry::{Decision, FailureKind, Policy, Pushback, Retry};
use super::{Budget, Error};
use crate::Rng;
use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::protocol::{Input, Output, Participant, Restore};
use crate::time::Instant;
use crate::wire::{WireMessage, kind};

/// The largest request or reply body, bytes.
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// The most peers an endpoint may have.
pub const MAX_PEERS: usize = 256;
/// The most open calls, and the most server records, an endpoint may be
/// configured for.
pub const MAX_TABLE: usize = 1 << 16;

/// A request's identity at its server, beside its client (the sender).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// The client's incarnation: one more at each restart.
    pub incarnation: u64,
    /// The client's count of requests within the incarnation, from 0.
    pub seq: u64,
}

/// What endpoints send each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// A request, or a retransmission of one.
    Request {
        /// The request.
        id: RequestId,
        /// Which attempt this copy is, from 1.
        attempt: u32,
        /// What was left of the caller's deadline when this copy left, ms
        /// (at least 1).
        budget_ms: u64,
        /// The lowest sequence number of the client's calls to this server
        /// still open: the client has the outcome of every one below.
        done_below: u64,
        /// The request's body.
        body: Vec<u8>,
    },
    /// The server's reply (the recorded one, to a retransmission).
    Reply {
        /// The request answered.
        id: RequestId,
        /// The reply's body.
        body: Vec<u8>,
    },
    /// The server's table is full: this attempt was not executed.
    Busy {
        /// The request refused.
        id: RequestId,
        /// The attempt refused.
        attempt: u32,
    },
}

impl WireMessage for Message {
    const KIND: u8 = kind::RPC;
    /// A body of [`MAX_BODY_LEN`] and five varints, with room to spare.
    const MAX_ENCODED_LEN: usize = MAX_BODY_LEN + 64;
}

/// A record of the server's table, as a checkpoint holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRecord {
    /// The client.
    pub client: NodeId,
    /// The request.
    pub id: RequestId,
    /// How long the record had left to live, ms.
    pub remaining_ms: u64,
    /// The reply, once finished.
    pub reply: Option<Vec<u8>>,
}

/// What the server knows of one client, as a checkpoint holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedClient {
    /// The client.
    pub client: NodeId,
    /// Its newest incarnation seen.
    pub incarnation: u64,
    /// Its watermark: requests below it are done.
    pub done_below: u64,
}

/// An endpoint's whole durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The client's incarnation.
    pub incarnation: u64,
    /// The server's clients.
    pub clients: Vec<SavedClient>,
    /// The server's records, in order.
    pub records: Vec<SavedRecord>,
}

/// Records an endpoint asks its host to make durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Persist {
    /// The client's new incarnation, before its first request leaves.
    Incarnation(u64),
    /// The server is about to execute a request with `budget_ms` left.
    Started {
        /// The client.
        client: NodeId,
        /// The request.
        id: RequestId,
        /// Its budget on arrival, ms.
        budget_ms: u64,
    },
    /// The server's reply to a started request, before it is sent.
    Finished {
        /// The client.
        client: NodeId,
        /// The request.
        id: RequestId,
        /// The reply.
        reply: Vec<u8>,
    },
    /// Everything: replaces every record before it.
    Checkpoint(Checkpoint),
}

impl WireMessage for Persist {
    const KIND: u8 = kind::RPC_RECORD;
    /// A checkpoint of a full table of full bodies.
    const MAX_ENCODED_LEN: usize = 1 << 30;
}

/// A request from the local application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Call `to` with `body`; the outcome comes as [`Event::Done`] for
    /// `call` within `timeout_ms`.
    Call {
        /// The caller's tag for the call, unique among its open calls.
        call: u64,
        /// The peer to call.
        to: NodeId,
        /// The request's body.
        body: Vec<u8>,
        /// The deadline, from now, ms.
        timeout_ms: u64,
    },
    /// The reply to an [`Event::Execute`].
    Reply {
        /// The client, as the event named it.
        client: NodeId,
        /// The request, as the event named it.
        id: RequestId,
        /// The reply's body.
        body: Vec<u8>,
    },
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server executed the request once; this is its reply.
    Reply(Vec<u8>),
    /// No reply by the deadline; the request may or may not have executed.
    DeadlineExceeded,
    /// The peer's circuit breaker refused the call; nothing was sent.
    Rejected,
}

/// Notifications for the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A call ended: exactly once per call.
    Done {
        /// The caller's tag.
        call: u64,
        /// How it ended.
        outcome: Outcome,
        /// Copies sent (0 if rejected).
        attempts: u32,
    },
    /// Execute a request and answer with [`Command::Reply`]; it was
    /// recorded as started, and will not be asked for again.
    Execute {
        /// The client.
        client: NodeId,
        /// The request.
        id: RequestId,
        /// The caller's deadline on this node's clock: pass what is left
        /// of it on to any call made on the request's behalf.
        deadline: Instant,
        /// The request's body.
        body: Vec<u8>,
    },
}

/// An [`RpcNode`]'s configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// The nodes it calls and serves (not itself).
    pub peers: Vec<NodeId>,
    /// Retransmissions: attempts in all and the backoff between them
    /// (default 3 attempts, 100 ms doubling to 10 s, full jitter).
    pub retry: Policy,
    /// How long to wait for a reply before the next attempt, ms, at least
    /// 1 (default 1,000).
    pub attempt_timeout_ms: u64,
    /// A retry budget shared by every call (default none).
    pub budget: Option<Budget>,
    /// A circuit breaker per peer, with this configuration (default none).
    pub breaker: Option<breaker::Config>,
    /// The most calls open at once, 1 to [`MAX_TABLE`] (default 1,024).
    pub max_calls: usize,
    /// The most requests the server remembers, 1 to [`MAX_TABLE`]
    /// (default 1,024).
    pub max_records: usize,
    /// The largest body sent or accepted, at most [`MAX_BODY_LEN`]
    /// (default 4,096).
    pub max_body_len: usize,
    /// How long the server keeps a record past its deadline, ms: the
    /// longest a copy of a request may spend in the network (default
    /// 60,000).
    pub grace_ms: u64,
    /// Server records written between checkpoints, at least 1 (default
    /// 1,024).
    pub checkpoint_every: u32,
    /// Seeds the retry jitter.
    pub seed: u64,
}

impl Config {
    /// The defaults for node `id` among `members` (itself left out).
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        let mut peers: Vec<NodeId> = members.iter().copied().filter(|&m| m != id).collect();
        peers.sort_unstable();
        peers.dedup();
        Config {
            id,
            peers,
            retry: Policy::default(),
            attempt_timeout_ms: 1_000,
            budget: None,
            breaker: None,
            max_calls: 1_024,
            max_records: 1_024,
            max_body_len: 4_096,
            grace_ms: 60_000,
            checkpoint_every: 1_024,
            seed: id.0,
        }
    }

    fn validate(&mut self) -> Result<(), Error> {
        self.peers.sort_unstable();
        self.peers.dedup();
        if self.peers.len() > MAX_PEERS {
            return Err(Error::InvalidConfig("more than 256 peers"));
        }
        if self.peers.binary_search(&self.id).is_ok() {
            return Err(Error::InvalidConfig("an endpoint cannot be its own peer"));
        }
        self.retry.validate()?;
        if let Some(b) = &self.breaker {
            b.validate()?;
        }
        let checks = [
            (
                self.attempt_timeout_ms == 0,
                "attempt_timeout_ms must be at least 1",
            ),
            (
                !(1..=MAX_TABLE).contains(&self.max_calls),
                "max_calls must be in [1, 65536]",
            ),
            (
                !(1..=MAX_TABLE).contains(&self.max_records),
                "max_records must be in [1, 65536]",
            ),
            (
                self.max_body_len > MAX_BODY_LEN,
                "max_body_len must be at most 65536",
            ),
            (
                self.checkpoint_every == 0,
                "checkpoint_every must be at least 1",
            ),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, why)) => Err(Error::InvalidConfig(why)),
            None => Ok(()),
        }
    }
}

/// Where an open call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The latest attempt is out; it has failed if no reply by then.
    Waiting(Instant),
    /// Backing off; the next attempt leaves then.
    Backoff(Instant),
    /// No more attempts: a reply to an earlier one may still come.
    Exhausted,
}

#[derive(Debug)]
struct Call {
    call: u64,
    to: NodeId,
    seq: u64,
    body: Vec<u8>,
    deadline: Instant,
    retry: Retry,
    attempt: u32,
    phase: Phase,
    permit: Option<Permit>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum RecordState {
    /// The application is executing it.
    Executing,
    /// Started before a restart and not finished: never answered.
    Abandoned,
    /// The reply, to send again to any retransmission.
    Done(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Record {
    client: NodeId,
    id: RequestId,
    expires: Instant,
    state: RecordState,
}

#[derive(Clone, Copy, Debug, Default)]
struct Client {
    incarnation: u64,
    done_below: u64,
}

/// A request-reply endpoint: client and server. See the [module
/// documentation](self).
///
/// ```
/// use consensio::resilience::rpc::{self, Command, Event, Outcome, RpcNode};
/// use consensio::{Input, Instant, NodeId, Output, Participant};
///
/// let members = [NodeId(1), NodeId(2)];
/// let mut client = RpcNode::new(rpc::Config::new(NodeId(1), &members))?;
/// let mut server = RpcNode::new(rpc::Config::new(NodeId(2), &members))?;
/// let call = Command::Call { call: 7, to: NodeId(2), body: b"ping".to_vec(), timeout_ms: 500 };
/// client.handle_input(Instant::ZERO, Input::Command(call))?;
/// // Moves what `from` sends to `to`; returns `from`'s events. (A host
/// // makes each `Persist` durable before acting on what follows it.)
/// fn pass(from: &mut RpcNode, to: &mut RpcNode, now: Instant) -> Vec<Event> {
///     let mut events = Vec::new();
///     while let Some(output) = from.poll_output() {
///         match output {
///             Output::Send { message, .. } => {
///                 let input = Input::Message { from: from.id(), message };
///                 to.handle_input(now, input).expect("a peer's message");
///             }
///             Output::Persist(_) => {}
///             Output::Event(e) => events.push(e),
///         }
///     }
///     events
/// }
/// pass(&mut client, &mut server, Instant::from_millis(1));
/// let Some(Event::Execute { client: c, id, body, .. }) = pass(&mut server, &mut client, Instant::from_millis(1)).pop()
/// else { unreachable!() };
/// let reply = Command::Reply { client: c, id, body: [b"re: ".as_slice(), &body].concat() };
/// server.handle_input(Instant::from_millis(2), Input::Command(reply))?;
/// pass(&mut server, &mut client, Instant::from_millis(3));
/// let done = pass(&mut client, &mut server, Instant::from_millis(3));
/// assert_eq!(
///     done,
///     [Event::Done { call: 7, outcome: Outcome::Reply(b"re: ping".to_vec()), attempts: 1 }]
/// );
/// # Ok::<(), consensio::resilience::Error>(())
/// ```
#[derive(Debug)]
pub struct RpcNode {
    config: Config,
    rng: Rng,
    budget: Option<Budget>,
    /// One per peer, when configured.
    breakers: Vec<CircuitBreaker>,
    incarnation: u64,
    started: bool,
    next_seq: u64,
    /// Open calls, by sequence number.
    calls: Vec<Call>,
    /// One per peer.
    clients: Vec<Client>,
    /// By (client, id). Until the first input, a restored record's
    /// `expires` holds its lifetime in ms, which then starts.
    records: Vec<Record>,
    writes_since_checkpoint: u32,
    /// The latest `now` seen (a clock that goes back does not move it).
    clock: Instant,
    outputs: VecDeque<Output<Message, Persist, Event>>,
}

impl RpcNode {
    /// An endpoint that has persisted nothing.
    ///
    /// # Errors
    /// As [`Restore::restore`].
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::restore(config, &[])
    }

    /// The configuration (peers sorted and deduplicated).
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The incarnation this endpoint's requests carry (0 before its first
    /// input).
    #[must_use]
    pub const fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// How many calls are open.
    #[must_use]
    pub fn open_calls(&self) -> usize {
        self.calls.len()
    }

    /// Whether the call tagged `call` is open.
    #[must_use]
    pub fn is_open(&self, call: u64) -> bool {
        self.calls.iter().any(|c| c.call == call)
    }

    /// How many requests the server remembers.
    #[must_use]
    pub fn records(&self) -> usize {
        self.records.len()
    }

    /// The state of `peer`'s circuit breaker, if breakers are configured
    /// and `peer` is a peer.
    #[must_use]
    pub fn breaker_state(&self, peer: NodeId) -> Option<breaker::State> {
        let i = self.config.peers.binary_search(&peer).ok()?;
        self.breakers.get(i).map(CircuitBreaker::state)
    }

    /// The retry budget's level, if one is configured (see
    /// [`Budget::level`]).
    #[must_use]
    pub fn budget_level(&self) -> Option<(u64, u64)> {
        self.budget.as_ref().map(Budget::level)
    }

    fn peer_index(&self, peer: NodeId) -> Result<usize, Error> {
        self.config
            .peers
            .binary_search(&peer)
            .map_err(|_| Error::NotAPeer { peer })
    }

    fn check_body(&self, len: usize) -> Result<(), Error> {
        if len > self.config.max_body_len {
            return Err(Error::BodyTooLarge {
                len,
                max: self.config.max_body_len,
            });
        }
        Ok(())
    }

    /// The first input after a start or restart: a new incarnation, durable
    /// before any request leaves, and restored records' lifetimes begin.
    fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        if !planted(Mutant::RpcIncarnationReused) {
            self.incarnation = self.incarnation.saturating_add(1);
        }
        self.outputs
            .push_back(Output::Persist(Persist::Incarnation(self.incarnation)));
        for record in &mut self.records {
            record.expires = now.saturating_add_millis(record.expires.as_millis());
        }
    }

    /// Opens a call (see [`Command::Call`]).
    fn call(
        &mut self,
        now: Instant,
        call: u64,
        to: NodeId,
        body: Vec<u8>,
        timeout_ms: u64,
    ) -> Result<(), Error> {
        let peer = self.peer_index(to)?;
        self.check_body(body.len())?;
        if self.is_open(call) {
            return Err(Error::CallInUse { call });
        }
        if self.calls.len() >= self.config.max_calls {
            return Err(Error::TooManyCalls {
                max: self.config.max_calls,
            });
        }
        self.start(now);
        let deadline = now.saturating_add_millis(timeout_ms);
        if deadline <= now {
            // A timeout of 0, or a clock at its end.
            self.done(call, Outcome::DeadlineExceeded, 0);
            return Ok(());
        }
        let retry = Retry::new(self.config.retry, self.rng.next_u64())?;
        let permit = match self.breakers.get_mut(peer).map(|b| b.try_acquire(now)) {
            Some(Err(_)) => {
                self.done(call, Outcome::Rejected, 0);
                return Ok(());
            }
            Some(Ok(permit)) => Some(permit),
            None => None,
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.calls.push(Call {
            call,
            to,
            seq,
            body,
            deadline,
            retry,
            attempt: 0,
            phase: Phase::Exhausted,
            permit,
        });
        self.send_attempt(now, self.calls.len() - 1);
        Ok(())
    }

    /// Sends the next attempt of the call at `i`.
    fn send_attempt(&mut self, now: Instant, i: usize) {
        let done_below = {
            let Some(call) = self.calls.get(i) else {
                return;
            };
            // Calls are in sequence order: the first to the same server is
            // its lowest open one.
            self.calls
                .iter()
                .find(|c| c.to == call.to)
                .map_or(call.seq, |c| c.seq)
        };
        let incarnation = self.incarnation;
        let timeout = self.config.attempt_timeout_ms;
        let Some(call) = self.calls.get_mut(i) else {
            return;
        };
        call.attempt += 1;
        call.phase = Phase::Waiting(now.saturating_add_millis(timeout));
        let message = Message::Request {
            id: RequestId {
                incarnation,
                seq: call.seq,
            },
            attempt: call.attempt,
            budget_ms: call.deadline.saturating_millis_since(now),
            done_below,
            body: call.body.clone(),
        };
        self.outputs.push_back(Output::Send {
            to: call.to,
            message,
        });
    }

    /// The attempt under way of the call at `i` failed: back off or stop.
    fn attempt_failed(&mut self, now: Instant, i: usize, kind: FailureKind) {
        let Some(call) = self.calls.get_mut(i) else {
            return;
        };
        call.phase = match call
            .retry
            .on_failure(kind, Pushback::None, self.budget.as_mut())
        {
            Decision::RetryAfter(ms) => {
                let at = now.saturating_add_millis(ms);
                if at < call.deadline {
                    Phase::Backoff(at)
                } else {
                    Phase::Exhausted
                }
            }
            Decision::GiveUp(_) => Phase::Exhausted,
        };
    }

    /// Ends the call at `i`.
    fn finish(&mut self, now: Instant, i: usize, outcome: Outcome) {
        if i >= self.calls.len() {
            return;
        }
        let mut call = self.calls.remove(i);
        let result = if matches!(outcome, Outcome::Reply(_)) {
            call.retry.on_success(self.budget.as_mut());
            breaker::Outcome::Success
        } else {
            breaker::Outcome::Failure
        };
        if let (Some(permit), Ok(peer)) = (call.permit.take(), self.peer_index(call.to))
            && let Some(b) = self.breakers.get_mut(peer)
        {
            // A permit this breaker issued and nobody else reported.
            let _ = b.on_result(now, permit, result);
        }
        self.done(call.call, outcome, call.attempt);
    }

    fn done(&mut self, call: u64, outcome: Outcome, attempts: u32) {
        self.outputs.push_back(Output::Event(Event::Done {
            call,
            outcome,
            attempts,
        }));
    }

    fn call_index(&self, from: NodeId, id: RequestId) -> Option<usize> {
        if id.incarnation != self.incarnation {
            return None;
        }
        let i = self.calls.binary_search_by_key(&id.seq, |c| c.seq).ok()?;
        (self.calls.get(i)?.to == from).then_some(i)
    }

    fn on_tick(&mut self, now: Instant) {
        let mut i = 0;
        while let Some(call) = self.calls.get(i) {
            if now >= call.deadline {
                self.finish(now, i, Outcome::DeadlineExceeded);
                continue;
            }
            match call.phase {
                Phase::Waiting(at) if now >= at => {
                    self.attempt_failed(now, i, FailureKind::Timeout);
                    continue; // a zero backoff sends at once
                }
                Phase::Backoff(at) if now >= at => self.send_attempt(now, i),
                _ => {}
            }
            i += 1;
        }
        self.records.retain(|r| r.expires > now);
    }

    // ---- the server ----

    fn record_index(&self, client: NodeId, id: RequestId) -> Result<usize, usize> {
        self.records
            .binary_search_by(|r| (r.client, r.id).cmp(&(client, id)))
    }

    /// Drops `client`'s records of incarnations before `incarnation` and
    /// below its watermark `done_below`.
    fn prune(&mut self, client: NodeId, incarnation: u64, done_below: u64) {
        self.records.retain(|r| {
            r.client != client || (r.id.incarnation == incarnation && r.id.seq >= done_below)
        });
    }

    /// Takes what a request says of its client: a newer incarnation, a
    /// higher watermark. `false` for a copy of a request the client no
    /// longer waits for.
    fn admit(&mut self, client: NodeId, peer: usize, id: RequestId, done_below: u64) -> bool {
        let Some(known) = self.clients.get_mut(peer) else {
            return false;
        };
        if id.incarnation < known.incarnation {
            return false; // from before the client restarted
        }
        let renewed = id.incarnation > known.incarnation;
        if renewed {
            *known = Client {
                incarnation: id.incarnation,
                done_below: 0,
            };
        }
        let advanced = done_below > known.done_below;
        known.done_below = known.done_below.max(done_below);
        let floor = known.done_below;
        if renewed || advanced {
            self.prune(client, id.incarnation, floor);
        }
        id.seq >= floor
    }

    fn on_request(&mut self, now: Instant, from: NodeId, peer: usize, request: Message) {
        let Message::Request {
            id,
            attempt,
            budget_ms,
            done_below,
            body,
        } = request
        else {
            return;
        };
        // No client sends these: a watermark above its own request, a
        // request past its deadline, a body beyond this server's bound.
        if done_below > id.seq || budget_ms == 0 || body.len() > self.config.max_body_len {
            return;
        }
        if !self.admit(from, peer, id, done_below) {
            return;
        }
        let found = self.record_index(from, id);
        if let Ok(i) = found
            && !planted(Mutant::RpcServerNoDedup)
        {
            if let Some(RecordState::Done(reply)) = self.records.get(i).map(|r| &r.state) {
                let message = Message::Reply {
                    id,
                    body: reply.clone(),
                };
                self.outputs.push_back(Output::Send { to: from, message });
            }
            // Executing: its reply will come. Abandoned: it never will.
            return;
        }
        let record = Record {
            client: from,
            id,
            expires: now.saturating_add_millis(budget_ms.saturating_add(self.config.grace_ms)),
            state: RecordState::Executing,
        };
        match found {
            Ok(i) => {
                if let Some(r) = self.records.get_mut(i) {
                    *r = record;
                }
            }
            Err(_) if self.records.len() >= self.config.max_records => {
                let message = Message::Busy { id, attempt };
                self.outputs.push_back(Output::Send { to: from, message });
                return;
            }
            Err(i) => self.records.insert(i, record),
        }
        self.write(Persist::Started {
            client: from,
            id,
            budget_ms,
        });
        self.outputs.push_back(Output::Event(Event::Execute {
            client: from,
            id,
            deadline: now.saturating_add_millis(budget_ms),
            body,
        }));
    }

    /// Answers an executed request (see [`Command::Reply`]).
    fn reply(
        &mut self,
        now: Instant,
        client: NodeId,
        id: RequestId,
        body: Vec<u8>,
    ) -> Result<(), Error> {
        self.peer_index(client)?;
        self.check_body(body.len())?;
        let Ok(i) = self.record_index(client, id) else {
            // Dropped: the client has its outcome or restarted, or the
            // record expired. Nobody waits for this reply.
            self.start(now);
            return Ok(());
        };
        match self.records.get_mut(i) {
            Some(record) if record.state == RecordState::Executing => {
                record.state = RecordState::Done(body.clone());
            }
            _ => return Err(Error::NotExecuting),
        }
        self.start(now);
        self.write(Persist::Finished {
            client,
            id,
            reply: body.clone(),
        });
        self.outputs.push_back(Output::Send {
            to: client,
            message: Message::Reply { id, body },
        });
        Ok(())
    }

    /// Queues a server record, and a checkpoint every `checkpoint_every`.
    fn write(&mut self, record: Persist) {
        self.outputs.push_back(Output::Persist(record));
        self.writes_since_checkpoint += 1;
        if self.writes_since_checkpoint >= self.config.checkpoint_every {
            self.writes_since_checkpoint = 0;
            let checkpoint = self.checkpoint();
            self.outputs
                .push_back(Output::Persist(Persist::Checkpoint(checkpoint)));
        }
    }

    /// The whole durable state, now: what [`Persist::Checkpoint`] holds.
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint {
        let clients = self
            .config
            .peers
            .iter()
            .zip(&self.clients)
            .filter(|(_, c)| c.incarnation > 0 || c.done_below > 0)
            .map(|(&client, c)| SavedClient {
                client,
                incarnation: c.incarnation,
                done_below: c.done_below,
            })
            .collect();
        let records = self
            .records
            .iter()
            .map(|r| SavedRecord {
                client: r.client,
                id: r.id,
                remaining_ms: if self.started {
                    r.expires.saturating_millis_since(self.clock)
                } else {
                    r.expires.as_millis()
                },
                reply: match &r.state {
                    RecordState::Done(reply) => Some(reply.clone()),
                    RecordState::Executing | RecordState::Abandoned => None,
                },
            })
            .collect();
        Checkpoint {
            incarnation: self.incarnation,
            clients,
            records,
        }
    }

    // ---- restore ----

    /// Replays one record into an endpoint that has had no input.
    fn replay(&mut self, record: &Persist) -> Result<(), Error> {
        let bad = Error::BadRecords;
        let server = matches!(
            record,
            Persist::Started { .. } | Persist::Finished { .. } | Persist::Checkpoint(_)
        );
        if server {
            self.writes_since_checkpoint = self.writes_since_checkpoint.saturating_add(1);
        }
        match record {
            Persist::Incarnation(n) => {
                if *n < self.incarnation {
                    return Err(bad("an incarnation below an earlier one"));
                }
                self.incarnation = *n;
            }
            Persist::Checkpoint(cp) if planted(Mutant::RpcDedupForgottenOnRestart) => {
                self.incarnation = self.incarnation.max(cp.incarnation);
            }
            _ if server && planted(Mutant::RpcDedupForgottenOnRestart) => {}
            Persist::Started {
                client,
                id,
                budget_ms,
            } => {
                let peer = self
                    .peer_index(*client)
                    .map_err(|_| bad("a request from a node that is not a peer"))?;
                if self
                    .clients
                    .get(peer)
                    .is_some_and(|c| id.incarnation < c.incarnation)
                {
                    return Err(bad("a request of an incarnation its client had left"));
                }
                if !self.admit(*client, peer, *id, 0) {
                    return Err(bad("a request below its client's watermark"));
                }
                let record = Record {
                    client: *client,
                    id: *id,
                    expires: Instant::from_millis(budget_ms.saturating_add(self.config.grace_ms)),
                    state: RecordState::Abandoned,
                };
                // Started again: its first record expired (a copy outlived
                // the grace), so the request ran again.
                match self.record_index(*client, *id) {
                    Ok(i) => {
                        if let Some(r) = self.records.get_mut(i) {
                            *r = record;
                        }
                    }
                    Err(i) => self.records.insert(i, record),
                }
            }
            Persist::Finished { client, id, reply } => {
                if reply.len() > MAX_BODY_LEN {
                    return Err(bad("a reply beyond the largest body"));
                }
                let i = self
                    .record_index(*client, *id)
                    .map_err(|_| bad("a reply to a request never started"))?;
                match self.records.get_mut(i) {
                    Some(r) if r.state == RecordState::Abandoned => {
                        r.state = RecordState::Done(reply.clone());
                    }
                    _ => return Err(bad("a request finished twice")),
                }
            }
            Persist::Checkpoint(cp) => {
                if cp.incarnation < self.incarnation {
                    return Err(bad("a checkpoint of an incarnation below an earlier one"));
                }
                self.incarnation = cp.incarnation;
                self.writes_since_checkpoint = 0;
                self.clients.fill(Client::default());
                for saved in &cp.clients {
                    let peer = self
                        .peer_index(saved.client)
                        .map_err(|_| bad("a client that is not a peer"))?;
                    if let Some(c) = self.clients.get_mut(peer) {
                        c.incarnation = saved.incarnation;
                        c.done_below = saved.done_below;
                    }
                }
                self.records.clear();
                for saved in &cp.records {
                    let peer = self
                        .peer_index(saved.client)
                        .map_err(|_| bad("a record of a node that is not a peer"))?;
                    let current = self.clients.get(peer).is_some_and(|c| {
                        saved.id.incarnation == c.incarnation && saved.id.seq >= c.done_below
                    });
                    let in_order = self
                        .records
                        .last()
                        .is_none_or(|r| (r.client, r.id) < (saved.client, saved.id));
                    if !current || !in_order {
                        return Err(bad("a checkpoint whose records are out of order or stale"));
                    }
                    if saved.reply.as_ref().is_some_and(|r| r.len() > MAX_BODY_LEN) {
                        return Err(bad("a reply beyond the largest body"));
                    }
                    self.records.push(Record {
                        client: saved.client,
                        id: saved.id,
                        expires: Instant::from_millis(saved.remaining_ms),
                        state: saved
                            .reply
                            .clone()
                            .map_or(RecordState::Abandoned, RecordState::Done),
                    });
                }
            }
        }
        Ok(())
    }
}

/// An endpoint rebuilt after a restart from the records it persisted: its
/// last incarnation (the next input takes the one after), and its server's
/// table, every request started before the restart and not finished being
/// abandoned (never executed again, never answered). Its calls are gone
/// with the process that made them.
///
/// # Errors
/// [`Error::InvalidConfig`] for a configuration out of its domain (see
/// [`Config`]'s fields); [`Error::BadRecords`] for records no endpoint
/// could have written: an incarnation going back, a request finished
/// twice or without having started, one from a node that is not a peer.
impl Restore for RpcNode {
    type Config = Config;

    fn restore(mut config: Config, records: &[Persist]) -> Result<Self, Error> {
        config.validate()?;
        let breakers = match &config.breaker {
            Some(b) => (0..config.peers.len())
                .map(|_| CircuitBreaker::new(*b))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let mut endpoint = RpcNode {
            rng: Rng::seed_from_u64(config.seed),
            budget: config.budget,
            breakers,
            incarnation: 0,
            started: false,
            next_seq: 0,
            calls: Vec::with_capacity(config.max_calls.min(1_024)),
            clients: alloc::vec![Client::default(); config.peers.len()],
            records: Vec::with_capacity(config.max_records.min(1_024)),
            writes_since_checkpoint: 0,
            clock: Instant::ZERO,
            outputs: VecDeque::new(),
            config,
        };
        for record in records {
            endpoint.replay(record)?;
        }
        Ok(endpoint)
    }
}

impl Participant for RpcNode {
    type Message = Message;
    type Command = Command;
    type Persist = Persist;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn handle_input(&mut self, now: Instant, input: Input<Message, Command>) -> Result<(), Error> {
        // A clock that goes back is taken as not moving.
        let now = now.max(self.clock);
        match input {
            Input::Message { from, message } => {
                let peer = self.peer_index(from)?;
                self.clock = now;
                self.start(now);
                match message {
                    request @ Message::Request { .. } => self.on_request(now, from, peer, request),
                    Message::Reply { id, body } => {
                        if let Some(i) = self.call_index(from, id) {
                            self.finish(now, i, Outcome::Reply(body));
                        }
                    }
                    Message::Busy { id, attempt } => {
                        if let Some(i) = self.call_index(from, id)
                            && self.calls.get(i).is_some_and(|c| {
                                c.attempt == attempt && matches!(c.phase, Phase::Waiting(_))
                            })
                        {
                            self.attempt_failed(now, i, FailureKind::Transient);
                            self.on_tick(now);
                        }
                    }
                }
                Ok(())
            }
            Input::Tick => {
                self.clock = now;
                self.start(now);
                self.on_tick(now);
                Ok(())
            }
            Input::Command(Command::Call {
                call,
                to,
                body,
                timeout_ms,
            }) => {
                self.call(now, call, to, body, timeout_ms)?;
                self.clock = now;
                Ok(())
            }
            Input::Command(Command::Reply { client, id, body }) => {
                self.reply(now, client, id, body)?;
                self.clock = now;
                Ok(())
            }
        }
    }

    fn poll_output(&mut self) -> Option<Output<Message, Persist, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let calls = self.calls.iter().map(|c| match c.phase {
            Phase::Waiting(at) | Phase::Backoff(at) => at.min(c.deadline),
            Phase::Exhausted => c.deadline,
        });
        let records = self
            .started
            .then(|| self.records.iter().map(|r| r.expires))
            .into_iter()
            .flatten();
        calls.chain(records).min()
    }
}
