//! The Bully algorithm (Garcia-Molina, "Elections in a Distributed Computing
//! System", IEEE Transactions on Computers C-31(1), 1982), in the textbook
//! form with ELECTION, ANSWER and COORDINATOR messages, plus leader
//! heartbeats and epochs.
//!
//! # Protocol
//!
//! Members are totally ordered by id; the highest live id should lead.
//!
//! - A (re)started node first *listens* for `leader_timeout_ms`: it answers
//!   `Election`s and adopts a higher leader it hears from, but starts no
//!   election. A live leader's heartbeats reach it in that time, so a node
//!   that restarts under a leader rejoins without disturbing it.
//! - A node *starts an election* when its listening period ends without a
//!   leader, when it has heard no heartbeat from its leader for
//!   `leader_timeout_ms` (it reports [`Event::LeaderLost`]), or when
//!   the application asks. It sends `Election` to every other member and
//!   waits `answer_timeout_ms`. Higher members reply with `Answer` and take
//!   over (the bully step); lower members reply with an `Answer` that only
//!   carries the largest epoch they have seen. (The paper sends `Election`
//!   to higher ids only; asking the lower ones too is what lets a node that
//!   was down learn the epochs it missed, so that its own is above them.)
//!   An `Election` from a higher member counts as that member's `Answer`.
//! - With no `Answer` from a higher member in time, it *declares itself
//!   coordinator*: it takes the epoch one above the largest it has seen,
//!   persists it, sends `Coordinator` to every lower member, and from then on
//!   sends `Heartbeat` to every other member each `heartbeat_interval_ms`.
//! - A follower that gets `Election` from a lower id answers it (the lower
//!   node is bullied out of the race) and starts its own election. A leader
//!   answers and re-sends its `Coordinator` to the lower node, or, if that
//!   node has seen an epoch as high as the leader's, outbids it with a new
//!   election; a leader does the same when a lower id claims to lead.
//! - After an `Answer`, a node waits `coordinator_timeout_ms` for a higher
//!   node's `Coordinator`; if none comes, it starts the election again.
//! - A `Coordinator` or `Heartbeat` from a higher id is adopted if its epoch
//!   is greater than the node's epoch, or equal and from a higher id than the
//!   epoch's known leader; the adopted epoch is persisted, and
//!   [`Event::Elected`] reported. Stale claims (lower epochs) are
//!   ignored.
//!
//! A restarted higher node therefore takes over ("bullies") the cluster one
//! listening period and one answer timeout after its restart, with an epoch
//! above the current one.
//!
//! # Model and timeouts
//!
//! Safety assumes the synchronous model of the paper: no message loss, no
//! partitions, one-way delay at most `d`. Set `answer_timeout_ms` ≥ 2`d`,
//! `coordinator_timeout_ms` ≥ `answer_timeout_ms` + 2`d`, and
//! `leader_timeout_ms` ≥ `heartbeat_interval_ms` + `d`. Lost messages can
//! make two nodes declare the same epoch; duplicated or reordered messages
//! within the delay bound are harmless. Under crash-restart, epochs stay
//! unique as long as some live node remembers the latest one (see the
//! [family documentation](super)).
//!
//! # Bounded state
//!
//! A node holds its configuration (at most
//! [`MAX_MEMBERS`](super::MAX_MEMBERS) members), three epochs and one timer.
//! One input queues at most one message per member, plus one more message,
//! a persist record and two events.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Command, Error, Event, check_members};
use crate::id::NodeId;
use crate::mutant::{Mutant, planted};
use crate::protocol::{Input, Output, Participant, Restore, latest};
use crate::time::Instant;
use crate::wire::{WireMessage, kind};

/// Configuration of a [`Bully`] participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// Every member, this node included (order and duplicates do not matter).
    pub members: Vec<NodeId>,
    /// How long an electing node waits for an `Answer` from a higher id.
    pub answer_timeout_ms: u64,
    /// How long a node that got an `Answer` waits for a `Coordinator`.
    pub coordinator_timeout_ms: u64,
    /// How often the leader sends heartbeats.
    pub heartbeat_interval_ms: u64,
    /// Silence from the leader after which a follower starts an election.
    pub leader_timeout_ms: u64,
}

impl Config {
    /// Defaults for node `id` of `members`, for a one-way delay bound of
    /// 50 ms: answer 100 ms, coordinator 300 ms, heartbeat 100 ms, leader
    /// timeout 500 ms.
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        Config {
            id,
            members: members.to_vec(),
            answer_timeout_ms: 100,
            coordinator_timeout_ms: 300,
            heartbeat_interval_ms: 100,
            leader_timeout_ms: 500,
        }
    }
}

/// Messages between members. Each carries an epoch: for `Election` and
/// `Answer` the largest the sender has seen, for `Coordinator` and
/// `Heartbeat` the sender's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Message {
    /// Lower → higher: I am starting an election.
    Election {
        /// The largest epoch the sender has seen.
        epoch: u64,
    },
    /// Higher → lower: I am alive and take over the election.
    Answer {
        /// The largest epoch the sender has seen.
        epoch: u64,
    },
    /// The sender is the coordinator of `epoch`.
    Coordinator {
        /// The new epoch.
        epoch: u64,
    },
    /// The coordinator of `epoch` is alive.
    Heartbeat {
        /// The coordinator's epoch.
        epoch: u64,
    },
}

impl Message {
    const fn epoch(self) -> u64 {
        match self {
            Message::Election { epoch }
            | Message::Answer { epoch }
            | Message::Coordinator { epoch }
            | Message::Heartbeat { epoch } => epoch,
        }
    }
}

impl WireMessage for Message {
    const KIND: u8 = kind::BULLY;
    /// Header, variant tag and one varint.
    const MAX_ENCODED_LEN: usize = 16;
}

/// What a node is doing; each role owns the one timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// (Re)started and without a leader: learning the current epoch, never
    /// electing; the timer ends the listening period.
    Listening,
    /// Following `leader`; the timer is the leader timeout.
    Follower { leader: NodeId },
    /// Sent `Election` to every other member; the timer ends the wait for
    /// a higher member's `Answer`.
    AwaitingAnswer,
    /// A higher member answered; the timer ends the wait for `Coordinator`.
    AwaitingCoordinator,
    /// Leading; the timer is the next heartbeat.
    Leader,
}

/// One member running the Bully algorithm. See the [module
/// documentation](self) for the protocol.
///
/// ```
/// use consensio::election::{Bully, bully, self};
/// use consensio::{Input, Instant, NodeId, Output, Participant};
///
/// let members = [NodeId(1), NodeId(2), NodeId(3)];
/// let mut nodes: Vec<Bully> = members
///     .iter()
///     .map(|&id| Bully::new(bully::Config::new(id, &members)))
///     .collect::<Result<_, _>>()?;
/// let mut elected = Vec::new();
/// let mut now = Instant::ZERO;
/// for _ in 0..20 {
///     for node in &mut nodes {
///         node.handle_input(now, Input::Tick)?;
///     }
///     // Deliver until quiet (no loss: Bully's synchronous model).
///     loop {
///         let mut sent = Vec::new();
///         for node in &mut nodes {
///             while let Some(output) = node.poll_output() {
///                 match output {
///                     Output::Send { to, message } => sent.push((node.id(), to, message)),
///                     Output::Persist(_epoch) => {} // make durable before the sends after it
///                     Output::Event(election::Event::Elected { leader, epoch }) => {
///                         elected.push((node.id(), leader, epoch));
///                     }
///                     Output::Event(_) => {}
///                 }
///             }
///         }
///         if sent.is_empty() {
///             break;
///         }
///         for (from, to, message) in sent {
///             let target = nodes.iter_mut().find(|n| n.id() == to).unwrap();
///             target.handle_input(now, Input::Message { from, message })?;
///         }
///     }
///     now = nodes.iter().filter_map(|n| n.next_deadline()).min().unwrap();
/// }
/// assert!(nodes.iter().all(|n| n.leader() == Some(NodeId(3)) && n.epoch() == 1));
/// assert_eq!(elected.len(), 3);
/// # Ok::<(), consensio::election::Error>(())
/// ```
#[derive(Debug)]
pub struct Bully {
    config: Config,
    /// The epoch of the current (or last) leader; always persisted.
    epoch: u64,
    /// Who leads `epoch`, if known (unknown after a restart).
    epoch_leader: Option<NodeId>,
    /// The largest epoch seen in any message; at least `epoch`.
    max_seen: u64,
    role: Role,
    /// `None` until the first input starts the listening period.
    deadline: Option<Instant>,
    outputs: VecDeque<Output<Message, u64, Event>>,
}

impl Bully {
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
        if config.answer_timeout_ms == 0
            || config.coordinator_timeout_ms == 0
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
        Ok(Bully {
            config,
            epoch,
            epoch_leader: None,
            max_seen: epoch,
            role: Role::Listening,
            deadline: None,
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
            Role::Listening | Role::AwaitingAnswer | Role::AwaitingCoordinator => None,
        }
    }

    /// The epoch of the current (or last) leader; the last one persisted.
    #[must_use]
    pub const fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether an election this node started is running.
    #[must_use]
    pub const fn is_electing(&self) -> bool {
        matches!(self.role, Role::AwaitingAnswer | Role::AwaitingCoordinator)
    }

    fn set_timer(&mut self, now: Instant, ms: u64) {
        self.deadline = Some(now.saturating_add_millis(ms));
    }

    /// Sends `message` to every member for which `to` holds.
    fn send_to_members(&mut self, to: impl Fn(NodeId) -> bool, message: Message) {
        for &member in self.config.members.iter().filter(|&&m| to(m)) {
            self.outputs.push_back(Output::Send {
                to: member,
                message,
            });
        }
    }

    /// Sends `Election` to every other member: the higher ones will answer
    /// and take over, the lower ones answer with the epochs to outbid.
    fn start_election(&mut self, now: Instant) {
        let id = self.config.id;
        if self.config.members.len() < 2 {
            self.declare(now);
            return;
        }
        let election = Message::Election {
            epoch: self.max_seen,
        };
        self.send_to_members(|m| m != id, election);
        self.role = Role::AwaitingAnswer;
        self.set_timer(now, self.config.answer_timeout_ms);
    }

    /// Becomes the coordinator of a fresh epoch: persist, then announce.
    fn declare(&mut self, now: Instant) {
        let base = if planted(Mutant::BullyEpochNotAboveSeen) {
            self.epoch
        } else {
            self.max_seen
        };
        let Some(epoch) = base.checked_add(1) else {
            // Only a peer claiming epoch u64::MAX gets here; wait it out.
            self.role = Role::Listening;
            self.set_timer(now, self.config.leader_timeout_ms);
            return;
        };
        let id = self.config.id;
        self.outputs.push_back(Output::Persist(epoch));
        self.send_to_members(|m| m < id, Message::Coordinator { epoch });
        self.epoch = epoch;
        self.max_seen = epoch;
        self.epoch_leader = Some(id);
        self.role = Role::Leader;
        self.set_timer(now, self.config.heartbeat_interval_ms);
        self.outputs
            .push_back(Output::Event(Event::Elected { leader: id, epoch }));
    }

    /// Follows `leader` in `epoch`, persisting the epoch if it is new.
    fn adopt(&mut self, now: Instant, leader: NodeId, epoch: u64) {
        if epoch > self.epoch {
            self.outputs.push_back(Output::Persist(epoch));
            self.epoch = epoch;
        }
        self.epoch_leader = Some(leader);
        self.role = Role::Follower { leader };
        self.set_timer(now, self.config.leader_timeout_ms);
        self.outputs
            .push_back(Output::Event(Event::Elected { leader, epoch }));
    }

    /// A leader hears a lower member elect or claim to lead with `epoch`:
    /// it re-announces itself to that member if its own epoch is the newer,
    /// and otherwise outbids it with a new election.
    fn reassert(&mut self, now: Instant, lower: NodeId, epoch: u64) {
        if epoch < self.epoch {
            let coordinator = Message::Coordinator { epoch: self.epoch };
            self.outputs.push_back(Output::Send {
                to: lower,
                message: coordinator,
            });
        } else {
            self.start_election(now);
        }
    }

    /// A `Coordinator` or `Heartbeat` from the higher member `from`.
    fn on_claim(&mut self, now: Instant, from: NodeId, epoch: u64) {
        match epoch.cmp(&self.epoch) {
            core::cmp::Ordering::Less => {} // stale
            core::cmp::Ordering::Greater => self.adopt(now, from, epoch),
            core::cmp::Ordering::Equal => match self.epoch_leader {
                // Equal epochs: the higher id wins.
                Some(known) if known > from => {}
                Some(known) if known == from && self.role == (Role::Follower { leader: from }) => {
                    self.set_timer(now, self.config.leader_timeout_ms);
                }
                _ => self.adopt(now, from, epoch),
            },
        }
    }

    fn on_message(&mut self, now: Instant, from: NodeId, message: Message) {
        let epoch = message.epoch();
        self.max_seen = self.max_seen.max(epoch);
        let lower = from < self.config.id;
        match message {
            Message::Election { .. } => {
                self.outputs.push_back(Output::Send {
                    to: from,
                    message: Message::Answer {
                        epoch: self.max_seen,
                    },
                });
                if !lower {
                    // As good as an `Answer`: a higher node will take over.
                    self.higher_is_alive(now);
                    return;
                }
                match self.role {
                    Role::Leader => self.reassert(now, from, epoch),
                    Role::Follower { .. } => self.start_election(now),
                    // A listening node elects when it stops listening.
                    Role::Listening | Role::AwaitingAnswer | Role::AwaitingCoordinator => {}
                }
            }
            // An `Answer` from below only carries its epoch.
            Message::Answer { .. } if !lower => self.higher_is_alive(now),
            Message::Answer { .. } => {}
            // A follower leaves a lower claimant to its leader, which hears
            // the claimant's heartbeats too; a listening node outbids it
            // with the election it starts when it stops listening.
            Message::Coordinator { .. } | Message::Heartbeat { .. } if lower => {
                if self.role == Role::Leader {
                    self.reassert(now, from, epoch);
                }
            }
            Message::Coordinator { .. } | Message::Heartbeat { .. } => {
                self.on_claim(now, from, epoch);
            }
        }
    }

    /// A higher member answered or is electing: wait for its `Coordinator`.
    fn higher_is_alive(&mut self, now: Instant) {
        if self.role == Role::AwaitingAnswer {
            self.role = Role::AwaitingCoordinator;
            self.set_timer(now, self.config.coordinator_timeout_ms);
        }
    }

    fn on_tick(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d > now) {
            return;
        }
        match self.role {
            Role::Listening => self.start_election(now),
            Role::Follower { .. } => {
                self.outputs
                    .push_back(Output::Event(Event::LeaderLost { epoch: self.epoch }));
                self.start_election(now);
            }
            Role::AwaitingAnswer => self.declare(now),
            Role::AwaitingCoordinator => self.start_election(now),
            Role::Leader => {
                let id = self.config.id;
                let heartbeat = Message::Heartbeat { epoch: self.epoch };
                self.send_to_members(|m| m != id, heartbeat);
                self.set_timer(now, self.config.heartbeat_interval_ms);
            }
        }
    }
}

/// A node rebuilt after a restart from the epochs it persisted (only the
/// highest matters; none for a new node). Its first input starts its listening period.
///
/// # Errors
/// [`Error::TooManyMembers`]; [`Error::BadConfig`] if the
/// members omit `id`, a timeout is zero, or `leader_timeout_ms` is not
/// above `heartbeat_interval_ms`.
impl Restore for Bully {
    type Config = Config;

    fn restore(config: Config, records: &[u64]) -> Result<Self, Error> {
        Self::from_epoch(config, latest(records))
    }
}

impl Participant for Bully {
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
            && (from == self.config.id || self.config.members.binary_search(&from).is_err())
        {
            return Err(Error::NotAMember { peer: from });
        }
        if self.deadline.is_none() {
            // The first input starts the listening period.
            self.set_timer(now, self.config.leader_timeout_ms);
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
        Some(self.deadline.unwrap_or(Instant::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ids(raw: &[u64]) -> Vec<NodeId> {
        raw.iter().copied().map(NodeId).collect()
    }

    fn node(id: u64, members: &[u64]) -> Bully {
        Bully::new(Config::new(NodeId(id), &ids(members))).unwrap()
    }

    fn drain(n: &mut Bully) -> Vec<Output<Message, u64, Event>> {
        core::iter::from_fn(|| n.poll_output()).collect()
    }

    fn deliver(n: &mut Bully, now: u64, from: u64, message: Message) {
        let input = Input::Message {
            from: NodeId(from),
            message,
        };
        n.handle_input(Instant::from_millis(now), input).unwrap();
    }

    fn tick(n: &mut Bully, now: u64) {
        n.handle_input(Instant::from_millis(now), Input::Tick)
            .unwrap();
    }

    fn send(to: u64, message: Message) -> Output<Message, u64, Event> {
        Output::Send {
            to: NodeId(to),
            message,
        }
    }

    fn elections(to: &[u64], epoch: u64) -> Vec<Output<Message, u64, Event>> {
        to.iter()
            .map(|&t| send(t, Message::Election { epoch }))
            .collect()
    }

    fn elected(leader: u64, epoch: u64) -> Output<Message, u64, Event> {
        Output::Event(Event::Elected {
            leader: NodeId(leader),
            epoch,
        })
    }

    /// Delivers every message at once until the cluster is quiet, then
    /// moves time to the earliest deadline; `steps` times.
    fn run(nodes: &mut [Option<Bully>], now: &mut u64, steps: usize) -> Vec<(u64, Event)> {
        let mut events = Vec::new();
        for _ in 0..steps {
            for n in nodes.iter_mut().flatten() {
                tick(n, *now);
            }
            loop {
                let mut sent = Vec::new();
                for n in nodes.iter_mut().flatten() {
                    for out in drain(n) {
                        match out {
                            Output::Send { to, message } => sent.push((n.id(), to, message)),
                            Output::Event(e) => events.push((n.id().0, e)),
                            Output::Persist(_) => {}
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
        events
    }

    #[test]
    fn the_highest_live_id_wins() {
        let members = [1, 2, 3, 4, 5];
        let mut nodes: Vec<Option<Bully>> =
            members.iter().map(|&i| Some(node(i, &members))).collect();
        nodes[4] = None; // 5 is down
        let mut now = 0;
        let events = run(&mut nodes, &mut now, 10);
        for n in nodes.iter().flatten() {
            assert_eq!(n.leader(), Some(NodeId(4)), "node {}", n.id());
            assert_eq!(n.epoch(), 1);
        }
        assert!(events.iter().all(|(_, e)| *e
            == Event::Elected {
                leader: NodeId(4),
                epoch: 1
            }));
        assert_eq!(events.len(), 4);
    }

    #[test]
    fn a_lower_node_that_gets_an_election_answers_and_starts_its_own() {
        let mut n = node(3, &[1, 2, 3, 4, 5]);
        deliver(&mut n, 0, 5, Message::Coordinator { epoch: 6 });
        drain(&mut n);
        deliver(&mut n, 10, 1, Message::Election { epoch: 6 });
        let mut want = vec![send(1, Message::Answer { epoch: 6 })];
        want.extend(elections(&[1, 2, 4, 5], 6));
        assert_eq!(drain(&mut n), want);
        assert!(n.is_electing());
        // A second election from below is answered but starts nothing new.
        deliver(&mut n, 11, 2, Message::Election { epoch: 2 });
        assert_eq!(drain(&mut n), [send(2, Message::Answer { epoch: 6 })]);
    }

    #[test]
    fn a_listening_node_answers_but_elects_only_when_it_stops_listening() {
        let mut n = node(3, &[1, 2, 3, 4, 5]);
        deliver(&mut n, 0, 1, Message::Election { epoch: 6 });
        n.handle_input(
            Instant::from_millis(1),
            Input::Command(Command::StartElection),
        )
        .unwrap();
        assert_eq!(drain(&mut n), [send(1, Message::Answer { epoch: 6 })]);
        assert_eq!(n.next_deadline(), Some(Instant::from_millis(500)));
        tick(&mut n, 500);
        assert_eq!(drain(&mut n), elections(&[1, 2, 4, 5], 6));
    }

    #[test]
    fn no_answer_means_the_node_declares_itself_coordinator() {
        let mut n = node(3, &[1, 2, 3, 4, 5]);
        tick(&mut n, 0);
        tick(&mut n, 500);
        assert_eq!(drain(&mut n), elections(&[1, 2, 4, 5], 0));
        // Lower members' answers carry only their epochs.
        deliver(&mut n, 510, 1, Message::Answer { epoch: 0 });
        assert_eq!(n.next_deadline(), Some(Instant::from_millis(600)));
        tick(&mut n, 599);
        assert!(drain(&mut n).is_empty(), "not before the answer timeout");
        tick(&mut n, 600);
        assert_eq!(
            drain(&mut n),
            [
                Output::Persist(1),
                send(1, Message::Coordinator { epoch: 1 }),
                send(2, Message::Coordinator { epoch: 1 }),
                elected(3, 1),
            ]
        );
        assert_eq!(n.leader(), Some(NodeId(3)));
        // And it leads: heartbeats to every other member.
        tick(&mut n, 700);
        let beats = drain(&mut n);
        assert_eq!(beats.len(), 4);
        assert!(beats.contains(&send(5, Message::Heartbeat { epoch: 1 })));
    }

    #[test]
    fn an_answer_without_a_coordinator_restarts_the_election() {
        let mut n = node(3, &[1, 2, 3, 4, 5]);
        deliver(&mut n, 0, 4, Message::Coordinator { epoch: 1 });
        n.handle_input(Instant::ZERO, Input::Command(Command::StartElection))
            .unwrap();
        drain(&mut n);
        deliver(&mut n, 20, 5, Message::Answer { epoch: 0 });
        assert_eq!(n.next_deadline(), Some(Instant::from_millis(320)));
        tick(&mut n, 100);
        assert!(
            drain(&mut n).is_empty(),
            "an answer cancels the self-election"
        );
        tick(&mut n, 320);
        assert_eq!(drain(&mut n), elections(&[1, 2, 4, 5], 1));
        assert!(n.is_electing());
        // An election from a higher member is as good as its answer.
        deliver(&mut n, 330, 4, Message::Election { epoch: 1 });
        assert_eq!(drain(&mut n), [send(4, Message::Answer { epoch: 1 })]);
        assert_eq!(n.next_deadline(), Some(Instant::from_millis(630)));
    }

    #[test]
    fn the_persist_record_comes_before_every_coordinator_send() {
        let mut n = node(5, &[1, 2, 3, 4, 5]);
        deliver(&mut n, 0, 2, Message::Election { epoch: 8 });
        tick(&mut n, 500);
        assert_eq!(drain(&mut n).len(), 5, "the answer and four elections");
        tick(&mut n, 600);
        let out = drain(&mut n);
        let persist = out.iter().position(|o| *o == Output::Persist(9)).unwrap();
        let sends: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                matches!(
                    o,
                    Output::Send {
                        message: Message::Coordinator { .. },
                        ..
                    }
                )
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(sends.len(), 4);
        assert!(sends.iter().all(|&i| i > persist), "{out:?}");
    }

    #[test]
    fn a_restarted_higher_id_takes_over_with_a_higher_epoch() {
        let members = [1, 2, 3];
        let mut nodes: Vec<Option<Bully>> =
            members.iter().map(|&i| Some(node(i, &members))).collect();
        let mut now = 0;
        run(&mut nodes, &mut now, 10);
        assert!(
            nodes
                .iter()
                .flatten()
                .all(|n| n.leader() == Some(NodeId(3)))
        );
        // 3 crashes (it persisted epoch 1); 2 takes over with epoch 2.
        nodes[2] = None;
        run(&mut nodes, &mut now, 20);
        assert!(
            nodes
                .iter()
                .flatten()
                .all(|n| n.leader() == Some(NodeId(2)) && n.epoch() == 2)
        );
        // 3 restarts from its disk and bullies its way back with epoch 3.
        nodes[2] = Some(Bully::restore(Config::new(NodeId(3), &ids(&members)), &[1]).unwrap());
        let events = run(&mut nodes, &mut now, 20);
        assert!(
            nodes
                .iter()
                .flatten()
                .all(|n| n.leader() == Some(NodeId(3)) && n.epoch() == 3)
        );
        assert!(events.contains(&(
            3,
            Event::Elected {
                leader: NodeId(3),
                epoch: 3
            }
        )));
    }

    #[test]
    fn a_stale_coordinator_is_ignored() {
        let mut n = node(1, &[1, 2, 3]);
        deliver(&mut n, 0, 3, Message::Coordinator { epoch: 4 });
        assert_eq!(drain(&mut n), [Output::Persist(4), elected(3, 4)]);
        deliver(&mut n, 5, 2, Message::Coordinator { epoch: 3 });
        deliver(&mut n, 5, 2, Message::Heartbeat { epoch: 2 });
        assert!(drain(&mut n).is_empty());
        assert_eq!((n.leader(), n.epoch()), (Some(NodeId(3)), 4));
    }

    #[test]
    fn duplicated_messages_are_harmless() {
        let mut n = node(1, &[1, 2, 3]);
        deliver(&mut n, 0, 3, Message::Coordinator { epoch: 2 });
        assert_eq!(drain(&mut n).len(), 2);
        for _ in 0..3 {
            deliver(&mut n, 1, 3, Message::Coordinator { epoch: 2 });
            deliver(&mut n, 1, 3, Message::Heartbeat { epoch: 2 });
        }
        assert!(drain(&mut n).is_empty());
        let mut m = node(2, &[1, 2, 3]);
        tick(&mut m, 0);
        tick(&mut m, 500);
        drain(&mut m);
        deliver(&mut m, 501, 3, Message::Answer { epoch: 0 });
        deliver(&mut m, 502, 3, Message::Answer { epoch: 0 });
        assert_eq!(
            m.next_deadline(),
            Some(Instant::from_millis(801)),
            "the first answer set the timer"
        );
    }

    #[test]
    fn an_equal_epoch_goes_to_the_higher_id() {
        let mut n = node(1, &[1, 2, 3]);
        deliver(&mut n, 0, 2, Message::Coordinator { epoch: 5 });
        assert_eq!(drain(&mut n), [Output::Persist(5), elected(2, 5)]);
        deliver(&mut n, 1, 3, Message::Coordinator { epoch: 5 });
        assert_eq!(drain(&mut n), [elected(3, 5)], "already persisted");
        deliver(&mut n, 2, 2, Message::Heartbeat { epoch: 5 });
        assert!(drain(&mut n).is_empty());
        assert_eq!(n.leader(), Some(NodeId(3)));
    }

    #[test]
    fn a_listening_higher_node_outbids_a_lower_leader() {
        let mut n = node(3, &[1, 2, 3]);
        deliver(&mut n, 0, 2, Message::Heartbeat { epoch: 7 });
        assert!(drain(&mut n).is_empty(), "still listening");
        tick(&mut n, 500);
        assert_eq!(drain(&mut n), elections(&[1, 2], 7));
        // No higher member answers: it declares, above the epoch it heard.
        tick(&mut n, 600);
        assert_eq!(
            drain(&mut n),
            [
                Output::Persist(8),
                send(1, Message::Coordinator { epoch: 8 }),
                send(2, Message::Coordinator { epoch: 8 }),
                elected(3, 8),
            ]
        );
    }

    #[test]
    fn a_leader_reasserts_itself_to_a_stale_lower_claimant_and_outbids_a_newer_one() {
        let mut n = node(3, &[1, 2, 3]);
        tick(&mut n, 0);
        tick(&mut n, 500);
        tick(&mut n, 600);
        assert_eq!(drain(&mut n).len(), 6, "two elections, the announcement");
        deliver(&mut n, 610, 2, Message::Heartbeat { epoch: 0 });
        assert_eq!(drain(&mut n), [send(2, Message::Coordinator { epoch: 1 })]);
        deliver(&mut n, 620, 1, Message::Election { epoch: 0 });
        assert_eq!(
            drain(&mut n),
            [
                send(1, Message::Answer { epoch: 1 }),
                send(1, Message::Coordinator { epoch: 1 }),
            ]
        );
        deliver(&mut n, 630, 2, Message::Coordinator { epoch: 4 });
        assert_eq!(drain(&mut n), elections(&[1, 2], 4));
        tick(&mut n, 730);
        assert_eq!(
            drain(&mut n),
            [
                Output::Persist(5),
                send(1, Message::Coordinator { epoch: 5 }),
                send(2, Message::Coordinator { epoch: 5 }),
                elected(3, 5),
            ]
        );
    }

    #[test]
    fn a_silent_leader_is_lost_after_the_leader_timeout() {
        let mut n = node(1, &[1, 2]);
        deliver(&mut n, 0, 2, Message::Coordinator { epoch: 1 });
        drain(&mut n);
        deliver(&mut n, 300, 2, Message::Heartbeat { epoch: 1 });
        tick(&mut n, 799);
        assert!(drain(&mut n).is_empty());
        tick(&mut n, 800);
        assert_eq!(
            drain(&mut n),
            [
                Output::Event(Event::LeaderLost { epoch: 1 }),
                send(2, Message::Election { epoch: 1 }),
            ]
        );
        assert_eq!(n.leader(), None);
    }

    #[test]
    fn bad_senders_and_configs_are_typed_errors() {
        let mut n = node(2, &[1, 2, 3]);
        for peer in [2, 9] {
            let input = Input::Message {
                from: NodeId(peer),
                message: Message::Coordinator { epoch: 1 },
            };
            assert_eq!(
                n.handle_input(Instant::ZERO, input),
                Err(Error::NotAMember { peer: NodeId(peer) })
            );
        }
        assert_eq!(n.next_deadline(), Some(Instant::ZERO), "not even started");
        assert!(matches!(
            n.handle_message(Instant::ZERO, NodeId(1), &[1, kind::BULLY, 9]),
            Err(Error::Wire(_))
        ));
        let many: Vec<NodeId> = (0..300).map(NodeId).collect();
        assert_eq!(
            Bully::new(Config::new(NodeId(1), &many)).unwrap_err(),
            Error::TooManyMembers { len: 300, max: 256 }
        );
        assert!(matches!(
            Bully::new(Config::new(NodeId(4), &ids(&[1, 2]))),
            Err(Error::BadConfig { .. })
        ));
        let mut config = Config::new(NodeId(1), &ids(&[1, 2]));
        config.leader_timeout_ms = config.heartbeat_interval_ms;
        assert!(matches!(Bully::new(config), Err(Error::BadConfig { .. })));
        let config = Config {
            answer_timeout_ms: 0,
            ..Config::new(NodeId(1), &ids(&[1, 2]))
        };
        assert!(matches!(Bully::new(config), Err(Error::BadConfig { .. })));
        let duplicated = Bully::new(Config::new(NodeId(1), &ids(&[2, 1, 2]))).unwrap();
        assert_eq!(duplicated.config().members, ids(&[1, 2]));
    }
}
