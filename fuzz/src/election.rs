//! Election targets: wire decoding, and one node of Bully or ring election
//! under any sequence of inputs.
//!
//! `election_step` drives a single participant (the input picks Bully or
//! Chang–Roberts ring election, the membership and the timeouts) with
//! messages from any claimed sender (members, non-members and the node
//! itself; structured, or raw bytes through `handle_message`), ticks at
//! monotone times, `StartElection`, and crash-restarts that rebuild it with
//! `Restore::restore(config, persisted epochs)` from the `Persist` outputs it
//! produced, and nothing else. After every input it drains the node and
//! checks:
//!
//! - no panic; `NotAMember` exactly for a sender that is the node itself or
//!   not a member, with the node unchanged and nothing queued, and bad bytes
//!   rejected the same way; everything else accepted;
//! - bounded output: one input queues at most one message per member plus
//!   the documented few (a persist record, two events, one or two more
//!   messages);
//! - sends go to other members only, and round-trip through the wire;
//! - persisted epochs strictly increase, across restarts too; the epoch a
//!   node announces as its own or forwards as a leader's (`Coordinator`,
//!   `Heartbeat`, ring `Elected`) is persisted before the send; `Elected`
//!   and `LeaderLost` name the persisted epoch, and `Elected` a member at
//!   or above the node's own id (both algorithms follow only higher ids);
//! - after the outputs, `epoch()` is the last persisted epoch and `leader()`
//!   is `None` or such a member, and a deadline is always set.

use arbitrary::Arbitrary;
use consensio::election::{self, Bully, RingElection, bully, ring};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore};

use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, round_trip, structured};

/// `election_decode`: Bully and ring-election messages decode without
/// panicking, and whatever decodes survives decode → encode → decode
/// unchanged.
pub fn decode(data: &[u8]) {
    round_trip::<bully::Message>(data);
    round_trip::<ring::Message>(data);
}

/// Node ids the input draws from: 1 to 6 may be members, 0 and 7 never are.
const IDS: u8 = 8;

#[derive(Arbitrary, Debug)]
pub struct StepInput {
    protocol: Protocol,
    /// This node's id is `1 + id % 6`.
    id: u8,
    /// Bit `i` makes node `i + 1` a member (this node always is).
    members: u8,
    timeouts: [u8; 4],
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Bully,
    Ring,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from `from % 8`, epochs near the node's.
    Message {
        from: u8,
        message: Forged,
    },
    /// Raw bytes from `from % 8`, through `handle_message`.
    Bytes {
        from: u8,
        bytes: Vec<u8>,
    },
    /// Time passes, then a tick.
    Tick {
        advance_ms: u8,
    },
    /// A tick at the node's next deadline (or now, if that has passed).
    TickAtDeadline,
    StartElection,
    /// Crash and restart from the last persisted epoch.
    Restart,
}

/// A message of either protocol (the harness maps it to the one it runs).
#[derive(Arbitrary, Debug)]
enum Forged {
    Election { epoch: u8, candidate: u8, hop: u8 },
    Answer { epoch: u8 },
    Coordinator { epoch: u8, leader: u8, hop: u8 },
    Heartbeat { epoch: u8 },
    Ack { hop: u8 },
}

/// What the harness needs from each election participant.
trait Node:
    Participant<
        Message: Clone + PartialEq + core::fmt::Debug,
        Command = election::Command,
        Persist = u64,
        Event = election::Event,
        Error = election::Error,
    > + Restore<Config: Clone>
{
    /// Outputs one input may queue beyond one message per member.
    const EXTRA_OUTPUTS: usize;
    fn config(id: NodeId, members: &[NodeId], timeouts: [u64; 4]) -> Self::Config;
    fn epoch(&self) -> u64;
    fn leader(&self) -> Option<NodeId>;
    /// The message `forged` stands for, epochs near `epoch`.
    fn forge(forged: &Forged, epoch: u64) -> Self::Message;
    /// The epoch a sent message announces as its sender's own or as the
    /// leader's it adopted: the sender must have persisted it.
    fn announced(message: &Self::Message) -> Option<u64>;
}

impl Node for Bully {
    const EXTRA_OUTPUTS: usize = 4;

    fn config(id: NodeId, members: &[NodeId], t: [u64; 4]) -> bully::Config {
        bully::Config {
            answer_timeout_ms: t[0],
            coordinator_timeout_ms: t[1],
            heartbeat_interval_ms: t[2],
            leader_timeout_ms: t[2] + t[3],
            ..bully::Config::new(id, members)
        }
    }

    fn epoch(&self) -> u64 {
        Bully::epoch(self)
    }

    fn leader(&self) -> Option<NodeId> {
        Bully::leader(self)
    }

    fn forge(forged: &Forged, epoch: u64) -> bully::Message {
        match *forged {
            Forged::Election { epoch: e, .. } => bully::Message::Election {
                epoch: near(e, epoch),
            },
            Forged::Answer { epoch: e } | Forged::Ack { hop: e } => bully::Message::Answer {
                epoch: near(e, epoch),
            },
            Forged::Coordinator { epoch: e, .. } => bully::Message::Coordinator {
                epoch: near(e, epoch),
            },
            Forged::Heartbeat { epoch: e } => bully::Message::Heartbeat {
                epoch: near(e, epoch),
            },
        }
    }

    fn announced(message: &bully::Message) -> Option<u64> {
        match *message {
            bully::Message::Coordinator { epoch } | bully::Message::Heartbeat { epoch } => {
                Some(epoch)
            }
            bully::Message::Election { .. } | bully::Message::Answer { .. } => None,
        }
    }
}

impl Node for RingElection {
    const EXTRA_OUTPUTS: usize = 5;

    fn config(id: NodeId, members: &[NodeId], t: [u64; 4]) -> ring::Config {
        ring::Config {
            ack_timeout_ms: t[0],
            election_timeout_ms: t[1],
            heartbeat_interval_ms: t[2],
            leader_timeout_ms: t[2] + t[3],
            ..ring::Config::new(id, members)
        }
    }

    fn epoch(&self) -> u64 {
        RingElection::epoch(self)
    }

    fn leader(&self) -> Option<NodeId> {
        RingElection::leader(self)
    }

    fn forge(forged: &Forged, epoch: u64) -> ring::Message {
        match *forged {
            Forged::Election {
                epoch: e,
                candidate,
                hop,
            } => ring::Message::Election {
                candidate: NodeId(u64::from(candidate % IDS)),
                epoch: near(e, epoch),
                hop: u64::from(hop),
            },
            Forged::Coordinator {
                epoch: e,
                leader,
                hop,
            } => ring::Message::Elected {
                leader: NodeId(u64::from(leader % IDS)),
                epoch: near(e, epoch),
                hop: u64::from(hop),
            },
            Forged::Answer { epoch: hop } | Forged::Ack { hop } => ring::Message::Ack {
                hop: u64::from(hop),
            },
            Forged::Heartbeat { epoch: e } => ring::Message::Heartbeat {
                epoch: near(e, epoch),
            },
        }
    }

    fn announced(message: &ring::Message) -> Option<u64> {
        match *message {
            ring::Message::Elected { epoch, .. } | ring::Message::Heartbeat { epoch } => {
                Some(epoch)
            }
            ring::Message::Election { .. } | ring::Message::Ack { .. } => None,
        }
    }
}

/// `election_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: StepInput| {
        match input.protocol {
            Protocol::Bully => run::<Bully>(&input),
            Protocol::Ring => run::<RingElection>(&input),
        };
    });
}

/// One election node for the [`harness`]: its configuration, and the
/// epoch it last reported.
struct Election<N: Node> {
    config: N::Config,
    id: NodeId,
    members: Vec<NodeId>,
    epoch: u64,
}

/// The last epoch in `records` (0: none yet).
fn persisted(records: &[u64]) -> u64 {
    records.last().copied().unwrap_or(0)
}

/// Runs the steps; returns the last persisted epoch.
fn run<N: Node>(input: &StepInput) -> u64 {
    let id = NodeId(u64::from(input.id % 6) + 1);
    let members: Vec<NodeId> = (1..=6u64)
        .filter(|&m| m == id.0 || input.members & (1 << (m - 1)) != 0)
        .map(NodeId)
        .collect();
    let timeouts = input.timeouts.map(|t| u64::from(t % 32) + 1);
    let mut family = Election::<N> {
        config: N::config(id, &members, timeouts),
        id,
        members,
        epoch: 0,
    };
    persisted(harness::run(&mut family, &input.steps, false).records())
}

impl<N: Node> Election<N> {
    fn is_member(&self, peer: NodeId) -> bool {
        self.members.contains(&peer)
    }
}

impl<N: Node> Family for Election<N> {
    type Node = N;
    type Snapshot = (u64, Option<NodeId>);
    const ALWAYS_ARMED: bool = true;

    fn restore(&self, records: &[u64], _: Instant) -> N {
        N::restore(self.config.clone(), records).expect("a valid configuration")
    }

    fn restarted(&mut self, node: &N, records: &[u64]) {
        assert_eq!(node.epoch(), persisted(records));
    }

    fn snapshot(&self, node: &N, _: Instant) -> Self::Snapshot {
        (node.epoch(), node.leader())
    }

    fn max_outputs(&self, _: &N) -> usize {
        self.members.len() + N::EXTRA_OUTPUTS
    }

    fn expected(&self, _: &N, input: &InputOf<Self>, _: bool) -> Expected<Self> {
        Some(match *input {
            Input::Message { from, .. } if from == self.id || !self.is_member(from) => {
                Err(election::Error::NotAMember { peer: from })
            }
            _ => Ok(()),
        })
    }

    fn output(&mut self, _: &N, records: &[u64], output: &OutputOf<Self>) {
        let persisted = persisted(records);
        match *output {
            Output::Send { to, ref message } => {
                assert!(to != self.id && self.is_member(to), "a send to {to}");
                if let Some(epoch) = N::announced(message) {
                    assert!(
                        epoch <= persisted,
                        "announced epoch {epoch} before persisting it (persisted {persisted})"
                    );
                }
            }
            Output::Persist(epoch) => {
                assert!(
                    epoch > persisted,
                    "persisted epoch {epoch} after {persisted}"
                );
            }
            Output::Event(election::Event::Elected { leader, epoch }) => {
                assert_eq!(epoch, persisted, "elected in an unpersisted epoch");
                assert!(
                    leader >= self.id && self.is_member(leader),
                    "followed {leader}"
                );
            }
            Output::Event(election::Event::LeaderLost { epoch }) => {
                assert_eq!(epoch, persisted);
            }
        }
    }

    fn drained(
        &mut self,
        node: &N,
        _: Instant,
        _: &[OutputOf<Self>],
        records: &[u64],
        _: Option<&InputOf<Self>>,
    ) {
        let epoch = node.epoch();
        assert!(epoch >= self.epoch, "the epoch went back");
        self.epoch = epoch;
        assert_eq!(
            epoch,
            persisted(records),
            "the epoch is not the persisted one"
        );
        if let Some(leader) = node.leader() {
            assert!(leader >= self.id && self.is_member(leader));
        }
    }
}

impl<N: Node> Generator for Election<N> {
    type Step = Step;

    fn action<'s>(
        &mut self,
        node: &N,
        step: &'s Step,
    ) -> Action<'s, N::Message, election::Command> {
        match step {
            Step::Message { from, message } => Action::Message {
                from: harness::claimed(*from, IDS),
                message: N::forge(message, node.epoch()),
            },
            Step::Bytes { from, bytes } => Action::bytes(*from, IDS, bytes),
            Step::Tick { advance_ms } => Action::tick(*advance_ms),
            Step::TickAtDeadline => Action::TickAtDeadline,
            Step::StartElection => Action::Command(election::Command::StartElection),
            Step::Restart => Action::Restart,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(protocol: Protocol, id: u8, members: u8, steps: Vec<Step>) -> StepInput {
        StepInput {
            protocol,
            id,
            members,
            timeouts: [9, 9, 4, 9],
            steps,
        }
    }

    /// Nodes get elected, and a restarted node announces a fresh epoch.
    #[test]
    fn lone_members_elect_themselves_in_fresh_epochs() {
        for protocol in [Protocol::Bully, Protocol::Ring] {
            let steps = vec![
                Step::TickAtDeadline,
                Step::TickAtDeadline,
                Step::Restart,
                Step::TickAtDeadline,
                Step::TickAtDeadline,
            ];
            let lone = input(protocol, 0, 0, steps);
            let epoch = match protocol {
                Protocol::Bully => run::<Bully>(&lone),
                Protocol::Ring => run::<RingElection>(&lone),
            };
            assert_eq!(epoch, 2, "{protocol:?}");
        }
    }

    /// Found by this target: ring election followed a leader that is not a
    /// member when a member announced one (fixed in core).
    #[test]
    fn a_non_member_leader_is_not_followed() {
        let steps = vec![Step::Message {
            from: 3,
            message: Forged::Coordinator {
                epoch: 133,
                leader: 7,
                hop: 0,
            },
        }];
        // Node 2 of 1, 2 and 3.
        assert_eq!(
            run::<RingElection>(&input(Protocol::Ring, 1, 0b101, steps)),
            0
        );
    }
}
