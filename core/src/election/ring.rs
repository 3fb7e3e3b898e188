//! Ring election (Chang and Roberts, "An Improved Algorithm for
//! Decentralized Extrema-Finding in Circular Configurations of Processes",
//! CACM 22(5), 1979), with acknowledged hops that repair the ring around
//! dead members, leader heartbeats and epochs.
//!
//! # Protocol
//!
//! The members form a ring in ascending id order; the successor of the
//! highest id is the lowest. Messages travel clockwise, one hop at a time.
//!
//! - A node *starts an election* when its listening period after a
//!   (re)start ends without a leader, when its leader's heartbeats stop for
//!   `leader_timeout_ms` (it reports [`Event::LeaderLost`]), when it
//!   hears of a leader with a lower id than its own, or when the application
//!   asks. It becomes a *participant* and sends `Election` with itself as
//!   candidate to its successor.
//! - A node that gets `Election(candidate)` forwards the candidate unless
//!   it is smaller than a candidate the node has forwarded in this election
//!   (then it is dropped); a node not yet participating forwards the greater
//!   of the candidate and itself (Chang–Roberts: a smaller candidate is
//!   replaced by the node's own id). An equal candidate is forwarded again:
//!   it is a duplicate, which ends at the candidate, or a new attempt of a
//!   candidate that restarted, which must not be lost. Each hop raises the
//!   message's epoch to the largest the node has seen.
//! - A participant whose own candidacy comes back, having forwarded nothing
//!   greater, is elected: its candidacy has passed every live member, so the
//!   epoch it carries is the largest any of them has seen. It takes that
//!   epoch plus one, persists it, and sends `Elected(leader, epoch)`, which
//!   goes once around the ring: each node adopts it (by the rules of the
//!   [family documentation](super)), persists the epoch, and forwards it,
//!   until it is back at the leader (or at a node that already follows the
//!   leader in that epoch, having heard its heartbeat first). The leader
//!   sends `Heartbeat` to every member each `heartbeat_interval_ms`.
//! - A participant that sees no `Elected` within `election_timeout_ms`
//!   gives the election up, and starts a new one if it has no leader.
//!
//! # Ring repair
//!
//! Every `Election` and `Elected` hop is acknowledged with `Ack`. A hop not
//! acknowledged within `ack_timeout_ms` marks the successor dead and goes to
//! the next member not marked dead; a candidacy (or announcement) whose
//! candidate (or leader) is the dead member itself is dropped instead. A
//! dead mark is cleared when the member is heard from again: any message
//! from it, or its id as a candidate, leader or heartbeat sender. A node
//! keeps at most one unacknowledged `Election` (a greater candidacy replaces
//! a smaller one, which it makes obsolete) and one unacknowledged `Elected`.
//! A candidacy or announcement naming a candidate or leader that is not a
//! member is acknowledged and dropped (its epoch is still noted): no node
//! follows, or forwards round the ring, an id outside its configuration.
//!
//! A (re)started node listens for `leader_timeout_ms` before it starts an
//! election of its own (it forwards others' messages meanwhile). If it
//! hears a leader with a greater id, it follows it; a leader with a smaller
//! id is taken over by the node's election, which every live member
//! forwards, clearing the node's dead mark on the way.
//!
//! # Model and timeouts
//!
//! As for [`Bully`](super::Bully): safety assumes the synchronous model (no
//! loss, no partitions, one-way delay at most `d`) and that some live node
//! remembers the latest epoch. Set `ack_timeout_ms` ≥ 2`d`,
//! `election_timeout_ms` above two trips round the ring (2·n·`d` plus one
//! `ack_timeout_ms` per dead member), and `leader_timeout_ms` ≥
//! `heartbeat_interval_ms` + `d`.
//!
//! # Bounded state
//!
//! The configuration (at most [`MAX_MEMBERS`](super::MAX_MEMBERS) members),
//! one dead mark per member, three epochs, two unacknowledged hops and three
//! timers. One input queues at most one message per member, plus two more,
//! a persist record and two events.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Command, Error, Event, check_members};
use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::protocol::{Input, Output, Participant, Restore, latest};
use crate::time::Instant;
use crate::wire::{WireMessage, kind};

/// Configuration of a [`RingElection`] participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// Every member, this node included (order and duplicates do not matter;
    /// the ring is in ascending id order).
    pub members: Vec<NodeId>,
    /// How long a hop may go unacknowledged before the successor is marked
    /// dead.
    pub ack_timeout_ms: u64,
    /// How long a participant waits for the election's `Elected`.
    pub election_timeout_ms: u64,
    /// How often the leader sends heartbeats.
    pub heartbeat_interval_ms: u64,
    /// Silence from the leader after which a follower starts an election.
    pub leader_timeout_ms: u64,
}

impl Config {
    /// Defaults for node `id` of `members`, for a one-way delay bound of
    /// 50 ms and rings of up to 16 members: ack 100 ms, election 4 s,
    /// heartbeat 100 ms, leader timeout 500 ms.
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        Config {
            id,
            members: members.to_vec(),
            ack_timeout_ms: 100,
            election_timeout_ms: 4_000,
            heartbeat_interval_ms: 100,
            leader_timeout_ms: 500,
        }
    }
}

/// Messages between members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Message {
    /// A candidacy travelling clockwise.
    Election {
        /// The greatest id this message has been forwarded for.
        candidate: NodeId,
        /// The largest epoch seen by the nodes it passed.
        epoch: u64,
        /// The sender's number for this hop, echoed in the `Ack`.
        hop: u64,
    },
    /// The result, travelling once round the ring.
    Elected {
        /// The coordinator.
        leader: NodeId,
        /// Its epoch.
        epoch: u64,
        /// The sender's number for this hop, echoed in the `Ack`.
        hop: u64,
    },
    /// The receiver of hop `hop` got it.
    Ack {
        /// The acknowledged hop.
        hop: u64,
    },
    /// The coordinator of `epoch` is alive.
    Heartbeat {
        /// The coordinator's epoch.
        epoch: u64,
    },
}

impl WireMessage for Message {
    const KIND: u8 = kind::RING_ELECTION;
    /// Header, variant tag and three varints.
    const MAX_ENCODED_LEN: usize = 33;
}

/// What a node is doing, and what its role timer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// (Re)started without a leader; the timer ends the listening period.
    Listening,
    /// Following `leader`; the timer is the leader timeout.
    Follower { leader: NodeId },
    /// Without a leader, in an election it started; no role timer (the
    /// election timeout applies).
    Electing,
    /// Leading; the timer is the next heartbeat.
    Leader,
}

/// This node's part in the current election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Participation {
    /// The greatest candidate forwarded.
    forwarded: NodeId,
    deadline: Instant,
}

/// What travels round the ring, hop by hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Circulating {
    /// A candidacy (it carries the sender's largest epoch when sent).
    Election { candidate: NodeId },
    /// The result.
    Elected { leader: NodeId, epoch: u64 },
}

/// A hop awaiting its `Ack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hop {
    to: NodeId,
    number: u64,
    what: Circulating,
    deadline: Instant,
}

/// One member running Chang–Roberts ring election. See the [module
/// documentation](self) for the protocol.
#[derive(Debug)]
pub struct RingElection {
    config: Config,
    /// The epoch of the current (or last) leader; always persisted.
    epoch: u64,
    /// Who leads `epoch`, if known (unknown after a restart).
    epoch_leader: Option<NodeId>,
    /// The largest epoch seen in any message; at least `epoch`.
    max_seen: u64,
    role: Role,
    /// `None` until the first input starts the listening period; unused
    /// while electing.
    role_deadline: Option<Instant>,
    participation: Option<Participation>,
    /// `dead[i]`: member `i` did not acknowledge a hop and has not been
    /// heard from since.
    dead: Vec<bool>,
    next_hop: u64,
    election_hop: Option<Hop>,
    elected_hop: Option<Hop>,
    outputs: VecDeque<Output<Message, u64, Event>>,
}

impl RingElection {
    /// A node that has never persisted an epoch.
    ///
    /// # Errors
    /// As [`Restore::restore`].
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::from_epoch(config, 0)
    }

    /// The node as it starts from `epoch`, the last one it persisted.
    fn from_epoch(mut config: Config, epoch: u64) -> Result<Self, Error> {
        check_members(config.id, &mut config.members)?;
        if config.ack_timeout_ms == 0
            || config.election_timeout_ms == 0
            || config.heartbeat_interval_ms == 0
        {
            return Err(Error::BadConfig {
                reason: "timeouts must be at least 1 ms",
            });
        }
        if config.leader_timeout_ms <= config.heartbeat_interval_ms {
            return Err(Error::BadConfig {
                reason: "leader_timeout_ms must exceed heartbeat_interval_ms",
            });
        }
        let dead = vec![false; config.members.len()];
        Ok(RingElection {
            config,
            epoch,
            epoch_leader: None,
            max_seen: epoch,
            role: Role::Listening,
            role_deadline: None,
            participation: None,
            dead,
            next_hop: 0,
            election_hop: None,
            elected_hop: None,
            outputs: VecDeque::new(),
        })
    }

    /// The configuration (members sorted and deduplicated).
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The leader this node follows (itself if it leads), or `None` while it
    /// has none.
    #[must_use]
    pub const fn leader(&self) -> Option<NodeId> {
        match self.role {
            Role::Follower { leader } => Some(leader),
            Role::Leader => Some(self.config.id),
            Role::Listening | Role::Electing => None,
        }
    }

    /// The epoch of the current (or last) leader; the last one persisted.
    #[must_use]
    pub const fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether this node takes part in a running election.
    #[must_use]
    pub const fn is_participating(&self) -> bool {
        self.participation.is_some()
    }

    /// Whether this node has marked `member` dead.
    #[must_use]
    pub fn is_marked_dead(&self, member: NodeId) -> bool {
        self.index(member)
            .and_then(|i| self.dead.get(i))
            .copied()
            .unwrap_or(false)
    }

    /// Whether an input has started the listening period.
    fn started(&self) -> bool {
        self.role_deadline.is_some() || self.role != Role::Listening
    }

    fn index(&self, member: NodeId) -> Option<usize> {
        self.config.members.binary_search(&member).ok()
    }

    /// Clears `member`'s dead mark: it has been heard from.
    fn heard_from(&mut self, member: NodeId) {
        if let Some(mark) = self.index(member).and_then(|i| self.dead.get_mut(i)) {
            *mark = false;
        }
    }

    /// The first member after this one, clockwise, not marked dead.
    fn successor(&self) -> Option<NodeId> {
        let members = &self.config.members;
        let me = self.index(self.config.id).unwrap_or(0);
        let after = members.iter().zip(&self.dead).skip(me + 1);
        let before = members.iter().zip(&self.dead).take(me);
        after
            .chain(before)
            .find(|(_, dead)| !**dead)
            .map(|(&m, _)| m)
    }

    fn set_role(&mut self, now: Instant, role: Role) {
        let after = match role {
            Role::Listening | Role::Follower { .. } => Some(self.config.leader_timeout_ms),
            Role::Leader => Some(self.config.heartbeat_interval_ms),
            Role::Electing => None,
        };
        self.role = role;
        self.role_deadline = after.map(|ms| now.saturating_add_millis(ms));
    }

    /// Sends `what` one hop clockwise, to be acknowledged. With no live
    /// successor it has come round to this node: its own candidacy may win;
    /// anything else is dropped.
    fn send_hop(&mut self, now: Instant, what: Circulating) {
        let Some(to) = self.successor() else {
            if what
                == (Circulating::Election {
                    candidate: self.config.id,
                })
            {
                self.on_election(now, self.config.id);
            }
            return;
        };
        let number = self.next_hop;
        self.next_hop = self.next_hop.wrapping_add(1);
        let hop = Some(Hop {
            to,
            number,
            what,
            deadline: now.saturating_add_millis(self.config.ack_timeout_ms),
        });
        let message = match what {
            Circulating::Election { candidate } => {
                self.election_hop = hop;
                Message::Election {
                    candidate,
                    epoch: self.max_seen,
                    hop: number,
                }
            }
            Circulating::Elected { leader, epoch } => {
                self.elected_hop = hop;
                Message::Elected {
                    leader,
                    epoch,
                    hop: number,
                }
            }
        };
        self.outputs.push_back(Output::Send { to, message });
    }

    fn start_election(&mut self, now: Instant) {
        let id = self.config.id;
        self.set_role(now, Role::Electing);
        self.participation = Some(Participation {
            forwarded: id,
            deadline: now.saturating_add_millis(self.config.election_timeout_ms),
        });
        self.send_hop(now, Circulating::Election { candidate: id });
    }

    /// A candidacy for `candidate` reached this node.
    fn on_election(&mut self, now: Instant, candidate: NodeId) {
        let id = self.config.id;
        match self.participation {
            Some(p) if candidate == id => {
                if p.forwarded == id {
                    self.declare(now);
                }
            }
            Some(p) if candidate < p.forwarded => {} // swallowed
            Some(mut p) => {
                p.forwarded = candidate;
                self.participation = Some(p);
                self.send_hop(now, Circulating::Election { candidate });
            }
            None if candidate == id => {} // stale: this node is not electing
            None => {
                let forwarded = candidate.max(id);
                self.participation = Some(Participation {
                    forwarded,
                    deadline: now.saturating_add_millis(self.config.election_timeout_ms),
                });
                let candidacy = Circulating::Election {
                    candidate: forwarded,
                };
                self.send_hop(now, candidacy);
            }
        }
    }

    /// Won: persist a fresh epoch, then announce it round the ring.
    fn declare(&mut self, now: Instant) {
        let id = self.config.id;
        self.participation = None;
        self.election_hop = None;
        let base = if planted(Mutant::RingEpochNotAboveSeen) {
            self.epoch
        } else {
            self.max_seen
        };
        let Some(epoch) = base.checked_add(1) else {
            // Only a peer claiming epoch u64::MAX gets here; wait it out.
            self.set_role(now, Role::Listening);
            return;
        };
        self.outputs.push_back(Output::Persist(epoch));
        self.epoch = epoch;
        self.max_seen = epoch;
        self.epoch_leader = Some(id);
        self.set_role(now, Role::Leader);
        self.send_hop(now, Circulating::Elected { leader: id, epoch });
        self.outputs
            .push_back(Output::Event(Event::Elected { leader: id, epoch }));
    }

    /// Whether a claim by `leader` to lead `epoch` beats the current one
    /// (greater epoch, or equal and a greater id than its known leader), and
    /// whether it is the current one.
    fn compare_claim(&self, leader: NodeId, epoch: u64) -> (bool, bool) {
        match epoch.cmp(&self.epoch) {
            core::cmp::Ordering::Less => (false, false),
            core::cmp::Ordering::Greater => (true, false),
            core::cmp::Ordering::Equal => match self.epoch_leader {
                Some(known) if known > leader => (false, false),
                Some(known) if known == leader => (false, true),
                _ => (true, false),
            },
        }
    }

    /// Follows `leader` in `epoch`, persisting the epoch if it is new.
    fn adopt(&mut self, now: Instant, leader: NodeId, epoch: u64) {
        if epoch > self.epoch {
            self.outputs.push_back(Output::Persist(epoch));
            self.epoch = epoch;
        }
        self.epoch_leader = Some(leader);
        self.participation = None;
        self.election_hop = None;
        self.set_role(now, Role::Follower { leader });
        self.outputs
            .push_back(Output::Event(Event::Elected { leader, epoch }));
    }

    fn on_elected(&mut self, now: Instant, leader: NodeId, epoch: u64) {
        let id = self.config.id;
        if leader == id {
            return; // back at the leader (or stale): the circle is closed
        }
        if leader < id {
            // A lower node claims to lead: take over, unless an election
            // runs or will run when this node stops listening.
            if self.participation.is_none() && self.role != Role::Listening {
                self.start_election(now);
            }
            return;
        }
        let (newer, current) = self.compare_claim(leader, epoch);
        let following = self.role == (Role::Follower { leader });
        if newer || (current && !following) {
            self.adopt(now, leader, epoch);
            self.send_hop(now, Circulating::Elected { leader, epoch });
        }
    }

    fn on_heartbeat(&mut self, now: Instant, from: NodeId, epoch: u64) {
        let id = self.config.id;
        if from < id {
            // A lower node claims to lead. A leader tells it who leads, or
            // outbids it; anyone else leaves it to the leader, or to the
            // election it starts when it stops listening.
            match self.role {
                Role::Leader if epoch < self.epoch => {
                    let heartbeat = Message::Heartbeat { epoch: self.epoch };
                    self.outputs.push_back(Output::Send {
                        to: from,
                        message: heartbeat,
                    });
                }
                Role::Leader => self.start_election(now),
                Role::Listening | Role::Follower { .. } | Role::Electing => {}
            }
            return;
        }
        let (newer, current) = self.compare_claim(from, epoch);
        let following = self.role == (Role::Follower { leader: from });
        if newer || (current && !following) {
            self.adopt(now, from, epoch);
        } else if current {
            self.set_role(now, Role::Follower { leader: from });
        }
    }

    fn on_message(&mut self, now: Instant, from: NodeId, message: Message) {
        self.heard_from(from);
        match message {
            Message::Election {
                candidate,
                epoch,
                hop,
            } => {
                self.outputs.push_back(Output::Send {
                    to: from,
                    message: Message::Ack { hop },
                });
                self.max_seen = self.max_seen.max(epoch);
                if self.index(candidate).is_none() {
                    return; // a candidate that is not a member: drop it
                }
                self.heard_from(candidate);
                self.on_election(now, candidate);
            }
            Message::Elected { leader, epoch, hop } => {
                self.outputs.push_back(Output::Send {
                    to: from,
                    message: Message::Ack { hop },
                });
                self.max_seen = self.max_seen.max(epoch);
                if self.index(leader).is_none() {
                    return; // a leader that is not a member: drop it
                }
                self.heard_from(leader);
                self.on_elected(now, leader, epoch);
            }
            Message::Ack { hop } => {
                for slot in [&mut self.election_hop, &mut self.elected_hop] {
                    if slot.is_some_and(|h| h.to == from && h.number == hop) {
                        *slot = None;
                    }
                }
            }
            Message::Heartbeat { epoch } => {
                self.max_seen = self.max_seen.max(epoch);
                self.on_heartbeat(now, from, epoch);
            }
        }
    }

    /// An unacknowledged hop timed out: mark its receiver dead and send the
    /// message on past it, unless the receiver was its candidate or leader.
    fn repair(&mut self, now: Instant, hop: Hop) {
        if let Some(mark) = self.index(hop.to).and_then(|i| self.dead.get_mut(i)) {
            *mark = true;
        }
        let past_the_dead = match hop.what {
            Circulating::Election { candidate } => candidate != hop.to,
            Circulating::Elected { leader, .. } => leader != hop.to,
        };
        if past_the_dead {
            self.send_hop(now, hop.what);
        }
    }

    fn on_tick(&mut self, now: Instant) {
        if let Some(hop) = self.election_hop.filter(|h| h.deadline <= now) {
            self.election_hop = None;
            self.repair(now, hop);
        }
        if let Some(hop) = self.elected_hop.filter(|h| h.deadline <= now) {
            self.elected_hop = None;
            self.repair(now, hop);
        }
        if self.participation.is_some_and(|p| p.deadline <= now) {
            self.participation = None;
            self.election_hop = None;
            if self.role == Role::Electing {
                self.start_election(now);
            }
        }
        if self.role_deadline.is_none_or(|d| d > now) {
            return;
        }
        match self.role {
            Role::Listening => self.start_election(now),
            Role::Follower { .. } => {
                self.outputs
                    .push_back(Output::Event(Event::LeaderLost { epoch: self.epoch }));
                self.start_election(now);
            }
            Role::Leader => {
                let id = self.config.id;
                let heartbeat = Message::Heartbeat { epoch: self.epoch };
                for &to in self.config.members.iter().filter(|&&m| m != id) {
                    self.outputs.push_back(Output::Send {
                        to,
                        message: heartbeat,
                    });
                }
                self.set_role(now, Role::Leader);
            }
            Role::Electing => {}
        }
    }
}

/// A node rebuilt after a restart from the epochs it persisted (only the
/// highest matters; none for a new node). It starts listening, with no member marked dead.
///
/// # Errors
/// [`Error::TooManyMembers`]; [`Error::BadConfig`] if the
/// members omit `id`, a timeout is zero, or `leader_timeout_ms` is not
/// above `heartbeat_interval_ms`.
impl Restore for RingElection {
    type Config = Config;

    fn restore(config: Config, records: &[u64]) -> Result<Self, Error> {
        Self::from_epoch(config, latest(records))
    }
}

impl Participant for RingElection {
    type Message = Message;
    type Command = Command;
    type Persist = u64;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn handle_input(&mut self, now: Instant, input: Input<Message, Command>) -> Result<(), Error> {
        if let Input::Message { from, .. } = input
            && (from == self.config.id || self.index(from).is_none())
        {
            return Err(Error::NotAMember { peer: from });
        }
        if !self.started() {
            // The first input starts the listening period.
            self.set_role(now, Role::Listening);
        }
        match input {
            Input::Message { from, message } => self.on_message(now, from, message),
            Input::Tick => self.on_tick(now),
            Input::Command(Command::StartElection) => {
                if matches!(self.role, Role::Follower { .. } | Role::Leader) {
                    self.start_election(now);
                }
            }
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Output<Message, u64, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        if !self.started() {
            return Some(Instant::ZERO);
        }
        [
            self.role_deadline,
            self.participation.map(|p| p.deadline),
            self.election_hop.map(|h| h.deadline),
            self.elected_hop.map(|h| h.deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[u64]) -> Vec<NodeId> {
        raw.iter().copied().map(NodeId).collect()
    }

    fn node(id: u64, members: &[u64]) -> RingElection {
        RingElection::new(Config::new(NodeId(id), &ids(members))).unwrap()
    }

    fn drain(n: &mut RingElection) -> Vec<Output<Message, u64, Event>> {
        core::iter::from_fn(|| n.poll_output()).collect()
    }

    fn deliver(n: &mut RingElection, now: u64, from: u64, message: Message) {
        let input = Input::Message {
            from: NodeId(from),
            message,
        };
        n.handle_input(Instant::from_millis(now), input).unwrap();
    }

    fn tick(n: &mut RingElection, now: u64) {
        n.handle_input(Instant::from_millis(now), Input::Tick)
            .unwrap();
    }

    fn send(to: u64, message: Message) -> Output<Message, u64, Event> {
        Output::Send {
            to: NodeId(to),
            message,
        }
    }

    fn election(candidate: u64, epoch: u64, hop: u64) -> Message {
        Message::Election {
            candidate: NodeId(candidate),
            epoch,
            hop,
        }
    }

    fn elected(leader: u64, epoch: u64, hop: u64) -> Message {
        Message::Elected {
            leader: NodeId(leader),
            epoch,
            hop,
        }
    }

    /// Delivers every message at once (to live nodes) until quiet, then
    /// moves time to the earliest deadline; `steps` times.
    fn run(nodes: &mut [Option<RingElection>], now: &mut u64, steps: usize) {
        for _ in 0..steps {
            for n in nodes.iter_mut().flatten() {
                tick(n, *now);
            }
            loop {
                let mut sent = Vec::new();
                for n in nodes.iter_mut().flatten() {
                    for out in drain(n) {
                        if let Output::Send { to, message } = out {
                            sent.push((n.id(), to, message));
                        }
                    }
                }
                if sent.is_empty() {
                    break;
                }
                for (from, to, message) in sent {
                    if let Some(n) = nodes.iter_mut().flatten().find(|n| n.id() == to) {
                        deliver(n, *now, from.0, message);
                    }
                }
            }
            *now = nodes
                .iter()
                .flatten()
                .filter_map(|n| n.next_deadline())
                .min()
                .unwrap()
                .as_millis();
        }
    }

    fn cluster(members: &[u64]) -> Vec<Option<RingElection>> {
        members.iter().map(|&i| Some(node(i, members))).collect()
    }

    fn leaders(nodes: &[Option<RingElection>]) -> Vec<(Option<NodeId>, u64)> {
        nodes
            .iter()
            .flatten()
            .map(|n| (n.leader(), n.epoch()))
            .collect()
    }

    #[test]
    fn the_maximum_id_wins() {
        let members = [3, 9, 4, 7, 1];
        let mut nodes = cluster(&members);
        let mut now = 0;
        run(&mut nodes, &mut now, 10);
        assert!(
            leaders(&nodes).iter().all(|&l| l == (Some(NodeId(9)), 1)),
            "{:?}",
            leaders(&nodes)
        );
    }

    #[test]
    fn chang_roberts_forwards_greater_candidates_and_replaces_smaller_ones() {
        let mut n = node(3, &[1, 3, 5, 7]);
        // Not participating: a smaller candidate is replaced by this node.
        deliver(&mut n, 0, 1, election(1, 0, 8));
        assert_eq!(
            drain(&mut n),
            [send(1, Message::Ack { hop: 8 }), send(5, election(3, 0, 0))]
        );
        assert!(n.is_participating());
        // Participating: a smaller one is dropped, a greater one forwarded,
        // with the largest epoch seen.
        deliver(&mut n, 1, 1, election(2, 4, 9));
        assert_eq!(drain(&mut n), [send(1, Message::Ack { hop: 9 })]);
        deliver(&mut n, 2, 1, election(7, 2, 10));
        assert_eq!(
            drain(&mut n),
            [
                send(1, Message::Ack { hop: 10 }),
                send(5, election(7, 4, 1))
            ]
        );
        // The greater candidacy replaced the smaller one awaiting its ack.
        deliver(&mut n, 3, 5, Message::Ack { hop: 0 });
        assert_eq!(n.next_deadline(), Some(Instant::from_millis(102)));
    }

    #[test]
    fn a_returning_candidacy_wins_and_the_persist_comes_before_the_announcement() {
        let mut n = node(7, &[1, 3, 5, 7]);
        tick(&mut n, 0);
        tick(&mut n, 500);
        assert_eq!(drain(&mut n), [send(1, election(7, 0, 0))]);
        deliver(&mut n, 520, 5, election(7, 6, 3));
        assert_eq!(
            drain(&mut n),
            [
                send(5, Message::Ack { hop: 3 }),
                Output::Persist(7),
                send(1, elected(7, 7, 1)),
                Output::Event(Event::Elected {
                    leader: NodeId(7),
                    epoch: 7
                }),
            ]
        );
        // The announcement coming back closes the circle; a duplicate
        // candidacy after the election is stale.
        deliver(&mut n, 530, 5, elected(7, 7, 4));
        deliver(&mut n, 531, 5, election(7, 6, 3));
        assert_eq!(
            drain(&mut n),
            [
                send(5, Message::Ack { hop: 4 }),
                send(5, Message::Ack { hop: 3 })
            ]
        );
        assert_eq!(n.leader(), Some(NodeId(7)));
    }

    #[test]
    fn a_dead_successor_is_skipped_and_a_dead_candidate_dropped() {
        let mut n = node(3, &[1, 3, 5, 7]);
        tick(&mut n, 0);
        tick(&mut n, 500);
        assert_eq!(drain(&mut n), [send(5, election(3, 0, 0))]);
        assert_eq!(n.next_deadline(), Some(Instant::from_millis(600)));
        tick(&mut n, 600);
        assert_eq!(drain(&mut n), [send(7, election(3, 0, 1))]);
        assert!(n.is_marked_dead(NodeId(5)));
        // 5's own candidacy cannot go past 5: it is dropped when 5 is dead.
        deliver(&mut n, 610, 1, election(5, 0, 4));
        assert_eq!(
            drain(&mut n),
            [send(1, Message::Ack { hop: 4 }), send(5, election(5, 0, 2))]
        );
        assert!(!n.is_marked_dead(NodeId(5)), "heard of as a candidate");
        tick(&mut n, 710);
        assert!(drain(&mut n).is_empty());
        assert!(n.is_marked_dead(NodeId(5)));
        // Any message from 5 clears the mark.
        deliver(&mut n, 720, 5, Message::Ack { hop: 99 });
        assert!(!n.is_marked_dead(NodeId(5)));
    }

    #[test]
    fn a_stale_or_duplicated_announcement_is_ignored() {
        let mut n = node(1, &[1, 2, 3]);
        deliver(&mut n, 0, 3, elected(3, 4, 0));
        assert_eq!(
            drain(&mut n),
            [
                send(3, Message::Ack { hop: 0 }),
                Output::Persist(4),
                Output::Event(Event::Elected {
                    leader: NodeId(3),
                    epoch: 4
                }),
                send(2, elected(3, 4, 0)),
            ]
        );
        deliver(&mut n, 1, 3, elected(3, 4, 0));
        deliver(&mut n, 2, 3, elected(2, 3, 1));
        assert_eq!(
            drain(&mut n),
            [
                send(3, Message::Ack { hop: 0 }),
                send(3, Message::Ack { hop: 1 })
            ]
        );
        assert_eq!((n.leader(), n.epoch()), (Some(NodeId(3)), 4));
    }

    #[test]
    fn a_restarted_node_rejoins_and_the_highest_takes_over() {
        let members = [1, 2, 3, 4];
        let mut nodes = cluster(&members);
        let mut now = 0;
        run(&mut nodes, &mut now, 10);
        // 4 crashes; 3 is elected round the ring past it.
        nodes[3] = None;
        run(&mut nodes, &mut now, 30);
        assert!(leaders(&nodes).iter().all(|&l| l == (Some(NodeId(3)), 2)));
        assert!(nodes[2].as_ref().unwrap().is_marked_dead(NodeId(4)));
        // 2 restarts from its disk and follows 3.
        nodes[1] =
            Some(RingElection::restore(Config::new(NodeId(2), &ids(&members)), &[2]).unwrap());
        run(&mut nodes, &mut now, 10);
        assert!(leaders(&nodes).iter().all(|&l| l == (Some(NodeId(3)), 2)));
        // 4 restarts and takes over; its predecessor hears of it again.
        nodes[3] =
            Some(RingElection::restore(Config::new(NodeId(4), &ids(&members)), &[1]).unwrap());
        run(&mut nodes, &mut now, 30);
        assert!(
            leaders(&nodes).iter().all(|&l| l == (Some(NodeId(4)), 3)),
            "{:?}",
            leaders(&nodes)
        );
        assert!(!nodes[2].as_ref().unwrap().is_marked_dead(NodeId(4)));
    }

    #[test]
    fn strangers_and_bad_configs_are_typed_errors() {
        let mut n = node(2, &[1, 2, 3]);
        for peer in [2, 8] {
            let input = Input::Message {
                from: NodeId(peer),
                message: Message::Ack { hop: 0 },
            };
            assert_eq!(
                n.handle_input(Instant::ZERO, input),
                Err(Error::NotAMember { peer: NodeId(peer) })
            );
        }
        assert_eq!(n.next_deadline(), Some(Instant::ZERO), "not even started");
        assert!(matches!(
            n.handle_message(Instant::ZERO, NodeId(1), &[1, kind::RING_ELECTION, 2]),
            Err(Error::Wire(_))
        ));
        let config = Config {
            ack_timeout_ms: 0,
            ..Config::new(NodeId(1), &ids(&[1, 2]))
        };
        assert!(matches!(
            RingElection::new(config),
            Err(Error::BadConfig { .. })
        ));
        assert!(matches!(
            RingElection::new(Config::new(NodeId(5), &ids(&[1, 2]))),
            Err(Error::BadConfig { .. })
        ));
    }

    #[test]
    fn a_lone_member_elects_itself() {
        let mut n = node(4, &[4]);
        tick(&mut n, 0);
        tick(&mut n, 500);
        assert_eq!(
            drain(&mut n),
            [
                Output::Persist(1),
                Output::Event(Event::Elected {
                    leader: NodeId(4),
                    epoch: 1
                })
            ]
        );
    }

    /// Found by `election_step`: an `Elected` from a member that names a
    /// non-member leader was adopted (the node reported `Elected` and
    /// `leader()` named a node outside its configuration), and a candidacy
    /// for a non-member went round the ring.
    #[test]
    fn candidates_and_leaders_that_are_not_members_are_dropped() {
        let mut n = node(2, &[1, 2, 3]);
        deliver(&mut n, 0, 3, elected(7, 5, 0));
        assert_eq!(drain(&mut n), [send(3, Message::Ack { hop: 0 })]);
        assert_eq!((n.leader(), n.epoch()), (None, 0));
        deliver(&mut n, 1, 1, election(9, 5, 1));
        assert_eq!(drain(&mut n), [send(1, Message::Ack { hop: 1 })]);
        assert!(!n.is_participating());
        // A member's candidacy still goes on.
        deliver(&mut n, 2, 1, election(3, 5, 2));
        let out = drain(&mut n);
        assert_eq!(out[0], send(1, Message::Ack { hop: 2 }));
        assert!(matches!(
            out[1],
            Output::Send {
                to: NodeId(3),
                message: Message::Election {
                    candidate: NodeId(3),
                    epoch: 5,
                    ..
                }
            }
        ));
    }
}
