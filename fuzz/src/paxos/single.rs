//! `paxos_single_step`: one single-decree Paxos node ([`SingleDecree`]) of
//! up to six members under any inputs: messages from any claimed sender
//! (structured, with ballots near the node's, or raw bytes through
//! `handle_message`), ticks, proposals, and crash-restarts from its
//! records. Besides the [harness](crate::harness)'s contract, after every
//! input:
//!
//! - `NotAMember` exactly for a sender that is the node itself or not a
//!   member; every other message and tick accepted;
//! - sends go to other members only;
//! - a `Promise` of a ballot goes out only once a record promises it (or a
//!   higher one), and an `Accepted` of a ballot and value only once a
//!   record accepted exactly that;
//! - promises never go back, across restarts too;
//! - `Chosen` comes at most once per life, after a record of that value,
//!   and every record of an outcome names the same value.

use arbitrary::Arbitrary;
use consensio::paxos::single::{self, Command, Event, Message, Persist};
use consensio::paxos::{self, Ballot, SingleDecree};
use consensio::{Input, Instant, NodeId, Output, Restore};

use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, structured};

/// Node ids the input draws from: 1 to 6 may be members, 0 and 7 never are.
const IDS: u8 = 8;
/// The longest value of the fuzzed node.
const MAX_VALUE: usize = 8;

#[derive(Arbitrary, Debug)]
pub struct StepInput {
    /// This node's id is `1 + id % 6`.
    id: u8,
    /// Bit `i` makes node `i + 1` a member (this node always is).
    members: u8,
    /// No backoff: a preempted proposer retries at once.
    eager: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from `from % 8`.
    Message { from: u8, message: Forged },
    /// Raw bytes from `from % 8`, through `handle_message`.
    Bytes { from: u8, bytes: Vec<u8> },
    /// Time passes, then a tick.
    Tick { advance_ms: u8 },
    /// A tick at the node's next deadline.
    TickAtDeadline,
    /// Propose `len % 12` bytes (0: the refused empty value; above 8: too
    /// long).
    Propose { len: u8 },
    /// Crash and restart from the records.
    Restart,
}

/// A message with ballots near the node's (see [`near`]); values are
/// `v % 12` bytes of `v` (empty and too long ones included).
#[derive(Arbitrary, Debug)]
enum Forged {
    Prepare {
        round: u8,
    },
    Promise {
        round: u8,
        accepted: Option<(u8, u8, u8)>,
    },
    Accept {
        round: u8,
        value: u8,
    },
    Accepted {
        round: u8,
        by: u8,
        value: u8,
    },
    Nack {
        round: u8,
        promised: u8,
        by: u8,
    },
    Decided {
        value: u8,
    },
    Query,
}

/// `paxos_single_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: StepInput| {
        run(&input);
    });
}

fn run(input: &StepInput) -> usize {
    let id = NodeId(u64::from(input.id % 6) + 1);
    let members: Vec<NodeId> = (1..=6u64)
        .filter(|&m| m == id.0 || input.members & (1 << (m - 1)) != 0)
        .map(NodeId)
        .collect();
    let mut config = single::Config::new(id, &members);
    config.max_value_bytes = MAX_VALUE;
    if input.eager {
        config.backoff_base_ms = 0;
        config.backoff_max_ms = 0;
    }
    let mut family = Single {
        config,
        id,
        members,
        promised: Ballot::ZERO,
        reported: false,
    };
    harness::run(&mut family, &input.steps, false)
        .records()
        .len()
}

fn value(v: u8) -> Vec<u8> {
    vec![v; usize::from(v % 12)]
}

/// The highest ballot the records promise.
fn max_promise(records: &[Persist]) -> Ballot {
    records
        .iter()
        .filter_map(|r| match r {
            Persist::Promised(b) | Persist::Accepted { ballot: b, .. } => Some(*b),
            Persist::Chosen(_) => None,
        })
        .max()
        .unwrap_or(Ballot::ZERO)
}

/// The value the records say is chosen.
fn recorded_outcome(records: &[Persist]) -> Option<&[u8]> {
    records.iter().rev().find_map(|r| match r {
        Persist::Chosen(v) => Some(v.as_slice()),
        _ => None,
    })
}

/// One node for the [`harness`].
struct Single {
    config: single::Config,
    id: NodeId,
    members: Vec<NodeId>,
    /// The highest promise any record made.
    promised: Ballot,
    /// `Chosen` reported in this life.
    reported: bool,
}

impl Family for Single {
    type Node = SingleDecree;
    type Snapshot = String;

    fn restore(&self, records: &[Persist], _: Instant) -> SingleDecree {
        SingleDecree::restore(self.config.clone(), records).expect("its own records restore")
    }

    fn restarted(&mut self, node: &SingleDecree, records: &[Persist]) {
        assert_eq!(
            node.promised(),
            max_promise(records),
            "the promise survives the restart"
        );
        assert_eq!(
            node.chosen(),
            recorded_outcome(records),
            "so does the outcome"
        );
        // A new life: its first output reports a recorded outcome again.
        self.reported = false;
    }

    fn snapshot(&self, node: &SingleDecree, _: Instant) -> String {
        format!("{node:?}")
    }

    fn max_outputs(&self, _: &SingleDecree) -> usize {
        // An attempt's Prepare, the local promise and acceptance with
        // their records and Accepted broadcast, an Accept broadcast and
        // the outcome's record, event and Decided broadcast.
        6 * self.members.len() + 8
    }

    fn expected(&self, _: &SingleDecree, input: &InputOf<Self>, _: bool) -> Expected<Self> {
        match input {
            Input::Message { from, .. } if *from == self.id || !self.members.contains(from) => {
                Some(Err(paxos::Error::NotAMember { peer: *from }))
            }
            Input::Message { .. } | Input::Tick => Some(Ok(())),
            Input::Command(_) => None,
        }
    }

    fn output(&mut self, _: &SingleDecree, records: &[Persist], output: &OutputOf<Self>) {
        match output {
            Output::Send { to, message } => {
                assert!(
                    *to != self.id && self.members.contains(to),
                    "a send to {to}"
                );
                match message {
                    Message::Promise { ballot, .. } => assert!(
                        max_promise(records) >= *ballot,
                        "promised {ballot} before a record did"
                    ),
                    Message::Accepted { ballot, value } => assert!(
                        records.iter().any(|r| matches!(
                            r,
                            Persist::Accepted { ballot: b, value: v } if b == ballot && v == value
                        )),
                        "announced an acceptance at {ballot} before its record"
                    ),
                    _ => {}
                }
            }
            Output::Persist(record) => {
                if let Persist::Promised(b) = record {
                    assert!(*b >= self.promised, "promise {b} below {}", self.promised);
                }
                if let Persist::Chosen(v) = record
                    && let Some(before) = recorded_outcome(records)
                {
                    assert_eq!(before, v.as_slice(), "two outcomes recorded");
                }
                self.promised = self.promised.max(max_promise(std::slice::from_ref(record)));
            }
            Output::Event(Event::Chosen { value }) => {
                assert!(!self.reported, "Chosen twice in one life");
                self.reported = true;
                assert_eq!(
                    recorded_outcome(records),
                    Some(value.as_slice()),
                    "Chosen before its record"
                );
            }
            Output::Event(Event::Preempted { ballot, by }) => {
                assert!(by > ballot, "preempted by a lower ballot");
                assert_eq!(ballot.node, self.id, "preempted at another node's ballot");
            }
        }
    }
}

impl Generator for Single {
    type Step = Step;

    fn action<'s>(&mut self, node: &SingleDecree, step: &'s Step) -> Action<'s, Message, Command> {
        let round = node.promised().round;
        let ballot = |r: u8, by: NodeId| Ballot {
            round: near(r, round),
            node: by,
        };
        let own = node.attempt().map_or(self.id, |b| b.node);
        match step {
            Step::Message { from, message } => {
                let from = harness::claimed(*from, IDS);
                let message = match message {
                    Forged::Prepare { round: r } => Message::Prepare {
                        ballot: ballot(*r, from),
                    },
                    Forged::Promise { round: r, accepted } => Message::Promise {
                        ballot: node.attempt().unwrap_or_else(|| ballot(*r, own)),
                        accepted: accepted
                            .map(|(ar, by, v)| (ballot(ar, NodeId(u64::from(by % IDS))), value(v))),
                    },
                    Forged::Accept { round: r, value: v } => Message::Accept {
                        ballot: ballot(*r, from),
                        value: value(*v),
                    },
                    Forged::Accepted {
                        round: r,
                        by,
                        value: v,
                    } => Message::Accepted {
                        ballot: ballot(*r, NodeId(u64::from(by % IDS))),
                        value: value(*v),
                    },
                    Forged::Nack {
                        round: r,
                        promised,
                        by,
                    } => Message::Nack {
                        ballot: node.attempt().unwrap_or_else(|| ballot(*r, own)),
                        promised: ballot(*promised, NodeId(u64::from(by % IDS))),
                    },
                    Forged::Decided { value: v } => Message::Decided { value: value(*v) },
                    Forged::Query => Message::Query,
                };
                Action::Message { from, message }
            }
            Step::Bytes { from, bytes } => Action::bytes(*from, IDS, bytes),
            Step::Tick { advance_ms } => Action::tick(*advance_ms),
            Step::TickAtDeadline => Action::TickAtDeadline,
            Step::Restart => Action::Restart,
            Step::Propose { len } => {
                Action::Command(Command::Propose(vec![3; usize::from(len % 12)]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lone member chooses its proposal at once, records it, and reports
    /// it again after a restart.
    #[test]
    fn a_lone_member_chooses_and_reports_again_after_a_restart() {
        let records = run(&StepInput {
            id: 0,
            members: 0,
            eager: false,
            steps: vec![
                Step::Propose { len: 2 },
                Step::Restart,
                Step::TickAtDeadline,
                Step::Propose { len: 3 },
            ],
        });
        // Promised, Accepted, Chosen.
        assert_eq!(records, 3);
    }
}
