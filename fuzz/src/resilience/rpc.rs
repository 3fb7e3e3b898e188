//! Request-reply targets: `resilience_decode` (messages and records) and
//! `resilience_step`, one [`RpcNode`] of up to six members under any
//! inputs: requests, replies and Busy answers from any claimed sender
//! (structured, with ids near the node's own, or raw bytes through
//! `handle_message`), ticks at monotone times, calls, replies to the
//! executions it asked for (and made-up ones), and crash-restarts from
//! its records. Besides the [harness](crate::harness)'s contract, after
//! every input:
//!
//! - `NotAPeer` exactly for a sender, callee or client that is not a peer
//!   (this node included); the call checks (`BodyTooLarge`, `CallInUse`,
//!   `TooManyCalls`) exactly when they apply;
//! - sends go to peers only; the first output of a life is its new
//!   incarnation, strictly above every earlier one, and every request
//!   carries the incarnation last recorded and a budget of at least 1 ms;
//! - **at most once**: `Execute` of a request comes after its `Started`
//!   record, and never twice for the same client and id, in any life,
//!   unless its record could have expired (its deadline plus the grace has
//!   passed: a copy that outlived the grace may run again, as documented);
//! - a reply leaves only after a record of exactly that reply;
//! - `Done` comes once per open call, never for a tag not open, and ends
//!   a call with `DeadlineExceeded` only at or after its deadline (or at
//!   once, for a timeout of 0).

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use consensio::resilience::breaker::{self, OpenWait, Window};
use consensio::resilience::retry::{Backoff, Jitter, Policy};
use consensio::resilience::rpc::{
    self, Command, Event, Message, Outcome, Persist, RequestId, RpcNode,
};
use consensio::resilience::{Budget, Error};
use consensio::{Input, Instant, NodeId, Output, Restore};

use crate::harness::{self, Action, Expected, Family, Generator, InputOf, OutputOf};
use crate::{near, round_trip, structured};

/// `resilience_decode`: request-reply messages and records decode without
/// panicking, and whatever decodes survives decode → encode → decode.
pub fn decode(data: &[u8]) {
    round_trip::<Message>(data);
    round_trip::<Persist>(data);
}

/// Node ids the input draws from: 1 to 6 may be peers, 0 and 7 never are.
const IDS: u8 = 8;
/// The largest body the fuzzed node sends or accepts.
const MAX_BODY: usize = 8;

#[derive(Arbitrary, Debug)]
pub struct StepInput {
    /// This node's id is `1 + id % 6`.
    id: u8,
    /// Bit `i` makes node `i + 1` a peer (unless it is this node).
    peers: u8,
    max_attempts: u8,
    attempt_timeout_ms: u8,
    backoff_ms: u8,
    /// The table sizes and checkpoint cadence are `1 + v % 6`.
    max_calls: u8,
    max_records: u8,
    checkpoint_every: u8,
    /// None: a grace longer than any run's ticks reach, unless the harness
    /// ticks at the deadline of an expiry; some: a short one.
    grace_ms: Option<u8>,
    budget: bool,
    breaker: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message from `from % 8`.
    Message { from: u8, message: Forged },
    /// Raw bytes from `from % 8`, through `handle_message`.
    Bytes { from: u8, bytes: Vec<u8> },
    /// Time passes, then a tick.
    Tick { advance_ms: u16 },
    /// A tick at the node's next deadline.
    TickAtDeadline,
    /// Time passes without a tick.
    Wait { advance_ms: u8 },
    /// Call `to % 8` with `len % 12` bytes (over 8: too long), tagged
    /// `tag % 8`, with a timeout of `timeout_ms` (0 included).
    Call {
        tag: u8,
        to: u8,
        len: u8,
        timeout_ms: u16,
    },
    /// Answer the `index`-th execution not yet answered (or, with none, a
    /// made-up request), with `len % 12` bytes.
    Reply { index: u8, len: u8 },
    /// Crash and restart from the records.
    Restart,
}

/// A message with ids near the node's own incarnation and the sequence
/// numbers it has seen; bodies are `len % 12` bytes.
#[derive(Arbitrary, Debug)]
enum Forged {
    Request {
        incarnation: u8,
        seq: u8,
        attempt: u8,
        budget_ms: u8,
        done_below: u8,
        len: u8,
    },
    Reply {
        incarnation: u8,
        seq: u8,
        len: u8,
    },
    Busy {
        incarnation: u8,
        seq: u8,
        attempt: u8,
    },
}

fn body(len: u8) -> Vec<u8> {
    vec![len; usize::from(len % 12)]
}

/// `resilience_step`: see the module documentation.
pub fn step(data: &[u8]) {
    structured(data, |input: StepInput| {
        run(&input);
    });
}

fn run(input: &StepInput) -> usize {
    let id = NodeId(u64::from(input.id % 6) + 1);
    let peers: Vec<NodeId> = (1..=6u64)
        .filter(|&m| m != id.0 && input.peers & (1 << (m - 1)) != 0)
        .map(NodeId)
        .collect();
    let small = |v: u8| usize::from(v % 6) + 1;
    let mut members = peers.clone();
    members.push(id);
    let config = rpc::Config {
        retry: Policy {
            max_attempts: u32::from(input.max_attempts % 4) + 1,
            backoff: Backoff {
                initial_ms: u64::from(input.backoff_ms),
                max_ms: u64::from(input.backoff_ms) * 4,
                multiplier: 2.0,
                jitter: Jitter::Full,
            },
        },
        attempt_timeout_ms: u64::from(input.attempt_timeout_ms) + 1,
        budget: input
            .budget
            .then(|| Budget::grpc(3, 0.5).expect("a valid budget")),
        breaker: input.breaker.then_some(breaker::Config {
            window: Window::Count(4),
            minimum_calls: 2,
            open_wait: OpenWait::Fixed(500),
            permitted_calls_in_half_open: 2,
            ..breaker::Config::default()
        }),
        max_calls: small(input.max_calls),
        max_records: small(input.max_records),
        max_body_len: MAX_BODY,
        grace_ms: input.grace_ms.map_or(u64::MAX / 4, u64::from),
        checkpoint_every: small(input.checkpoint_every) as u32,
        ..rpc::Config::new(id, &members)
    };
    let mut family = Rpc {
        config,
        peers,
        open: BTreeMap::new(),
        executed: BTreeMap::new(),
        unanswered: Vec::new(),
        incarnation: 0,
        first_output_of_life: true,
        now: Instant::ZERO,
    };
    harness::run(&mut family, &input.steps, false)
        .records()
        .len()
}

/// One node for the [`harness`], and the model of what it owes.
struct Rpc {
    config: rpc::Config,
    peers: Vec<NodeId>,
    /// Open calls by tag: their deadline (`None`: one already passed, a
    /// timeout of 0, ended at once).
    open: BTreeMap<u64, Option<Instant>>,
    /// Every request executed, in every life, with the instant from which
    /// its record may have expired.
    executed: BTreeMap<(NodeId, RequestId), Instant>,
    /// Executions not answered yet, in this life.
    unanswered: Vec<(NodeId, RequestId)>,
    /// The incarnation last recorded.
    incarnation: u64,
    first_output_of_life: bool,
    /// The time of the input whose outputs are being checked.
    now: Instant,
}

impl Rpc {
    fn is_peer(&self, node: NodeId) -> bool {
        self.peers.contains(&node)
    }
}

/// Whether `records` hold the reply `body` to `(client, id)`.
fn recorded_reply(records: &[Persist], client: NodeId, id: RequestId, body: &[u8]) -> bool {
    records.iter().any(|r| match r {
        Persist::Finished {
            client: c,
            id: i,
            reply,
        } => (*c, *i) == (client, id) && reply == body,
        Persist::Checkpoint(cp) => cp
            .records
            .iter()
            .any(|s| (s.client, s.id) == (client, id) && s.reply.as_deref() == Some(body)),
        _ => false,
    })
}

impl Family for Rpc {
    type Node = RpcNode;
    type Snapshot = String;

    fn restore(&self, records: &[Persist], _: Instant) -> RpcNode {
        RpcNode::restore(self.config.clone(), records).expect("its own records restore")
    }

    fn restarted(&mut self, node: &RpcNode, _: &[Persist]) {
        assert_eq!(node.open_calls(), 0, "calls end with their process");
        assert_eq!(node.incarnation(), self.incarnation, "the last incarnation");
        self.open.clear();
        self.unanswered.clear();
        self.first_output_of_life = true;
    }

    fn snapshot(&self, node: &RpcNode, _: Instant) -> String {
        format!("{node:?}")
    }

    fn max_outputs(&self, _: &RpcNode) -> usize {
        // A tick: a send or an event per open call; a request: the
        // incarnation, a Started record, a checkpoint and an Execute or a
        // send; a Busy answer: a tick's worth.
        2 * self.config.max_calls + 4
    }

    fn expected(&self, node: &RpcNode, input: &InputOf<Self>, _: bool) -> Expected<Self> {
        let too_large = |len: usize| Error::BodyTooLarge { len, max: MAX_BODY };
        match input {
            Input::Message { from, .. } if !self.is_peer(*from) => {
                Some(Err(Error::NotAPeer { peer: *from }))
            }
            Input::Message { .. } | Input::Tick => Some(Ok(())),
            Input::Command(Command::Call { call, to, body, .. }) => Some(if !self.is_peer(*to) {
                Err(Error::NotAPeer { peer: *to })
            } else if body.len() > MAX_BODY {
                Err(too_large(body.len()))
            } else if node.is_open(*call) {
                Err(Error::CallInUse { call: *call })
            } else if node.open_calls() >= self.config.max_calls {
                Err(Error::TooManyCalls {
                    max: self.config.max_calls,
                })
            } else {
                Ok(())
            }),
            Input::Command(Command::Reply { client, body, .. }) => {
                if !self.is_peer(*client) {
                    Some(Err(Error::NotAPeer { peer: *client }))
                } else if body.len() > MAX_BODY {
                    Some(Err(too_large(body.len())))
                } else {
                    None
                }
            }
        }
    }

    fn accepted(&mut self, _: &RpcNode, now: Instant, input: &InputOf<Self>, _: &String) {
        match input {
            Input::Command(Command::Call {
                call, timeout_ms, ..
            }) => {
                let deadline = Some(now.saturating_add_millis(*timeout_ms)).filter(|&d| d > now);
                self.open.insert(*call, deadline);
            }
            Input::Command(Command::Reply { client, id, .. }) => {
                self.unanswered.retain(|e| *e != (*client, *id));
            }
            _ => {}
        }
        self.now = now;
    }

    fn output(&mut self, _: &RpcNode, records: &[Persist], output: &OutputOf<Self>) {
        if core::mem::take(&mut self.first_output_of_life) {
            let Output::Persist(Persist::Incarnation(n)) = output else {
                panic!("a life began with {output:?}, not its incarnation");
            };
            assert!(
                *n > self.incarnation,
                "incarnation {n} after {}",
                self.incarnation
            );
            self.incarnation = *n;
            return;
        }
        match output {
            Output::Send { to, message } => {
                assert!(self.is_peer(*to), "a send to {to}");
                match message {
                    Message::Request { id, budget_ms, .. } => {
                        assert_eq!(
                            id.incarnation, self.incarnation,
                            "a request of another incarnation"
                        );
                        assert!(*budget_ms >= 1, "a request past its deadline");
                    }
                    Message::Reply { id, body } => assert!(
                        recorded_reply(records, *to, *id, body),
                        "a reply to {to}'s {id:?} before its record"
                    ),
                    Message::Busy { .. } => {}
                }
            }
            Output::Persist(record) => {
                assert!(
                    !matches!(record, Persist::Incarnation(_)),
                    "a second incarnation in one life"
                );
            }
            Output::Event(Event::Execute {
                client,
                id,
                deadline,
                ..
            }) => {
                assert!(
                    records.iter().any(|r| matches!(
                        r,
                        Persist::Started { client: c, id: i, .. } if (c, i) == (client, id)
                    )),
                    "executed {client}'s {id:?} before recording it"
                );
                let expiry = deadline.saturating_add_millis(self.config.grace_ms);
                if let Some(before) = self.executed.insert((*client, *id), expiry) {
                    assert!(
                        self.now >= before,
                        "{client}'s {id:?} executed twice, its record alive until {before:?}"
                    );
                }
                self.unanswered.push((*client, *id));
            }
            Output::Event(Event::Done { call, outcome, .. }) => {
                let deadline = self
                    .open
                    .remove(call)
                    .unwrap_or_else(|| panic!("call {call} ended, but it is not open"));
                if *outcome == Outcome::DeadlineExceeded
                    && let Some(deadline) = deadline
                {
                    assert!(
                        self.now >= deadline,
                        "call {call} ended before its deadline"
                    );
                }
            }
        }
    }
}

impl Generator for Rpc {
    type Step = Step;

    fn action<'s>(&mut self, node: &RpcNode, step: &'s Step) -> Action<'s, Message, Command> {
        let incarnation = node.incarnation();
        let id = |inc: u8, seq: u8| RequestId {
            incarnation: near(inc, incarnation),
            seq: near(seq, 1),
        };
        match step {
            Step::Message { from, message } => {
                let message = match *message {
                    Forged::Request {
                        incarnation: inc,
                        seq,
                        attempt,
                        budget_ms,
                        done_below,
                        len,
                    } => Message::Request {
                        id: id(inc, seq),
                        attempt: u32::from(attempt),
                        budget_ms: u64::from(budget_ms),
                        done_below: near(done_below, u64::from(seq)),
                        body: body(len),
                    },
                    Forged::Reply {
                        incarnation: inc,
                        seq,
                        len,
                    } => Message::Reply {
                        id: id(inc, seq),
                        body: body(len),
                    },
                    Forged::Busy {
                        incarnation: inc,
                        seq,
                        attempt,
                    } => Message::Busy {
                        id: id(inc, seq),
                        attempt: u32::from(attempt % 5),
                    },
                };
                Action::Message {
                    from: harness::claimed(*from, IDS),
                    message,
                }
            }
            Step::Bytes { from, bytes } => Action::bytes(*from, IDS, bytes),
            Step::Tick { advance_ms } => Action::tick(*advance_ms),
            Step::TickAtDeadline => Action::TickAtDeadline,
            Step::Wait { advance_ms } => Action::Wait {
                advance_ms: u64::from(*advance_ms),
            },
            Step::Call {
                tag,
                to,
                len,
                timeout_ms,
            } => Action::Command(Command::Call {
                call: u64::from(tag % 8),
                to: harness::claimed(*to, IDS),
                body: body(*len),
                timeout_ms: u64::from(*timeout_ms),
            }),
            Step::Reply { index, len } => {
                let (client, id) = if self.unanswered.is_empty() {
                    (harness::claimed(*index, IDS), id(*index, *len))
                } else {
                    self.unanswered[usize::from(*index) % self.unanswered.len()]
                };
                Action::Command(Command::Reply {
                    client,
                    id,
                    body: body(*len),
                })
            }
            Step::Restart => Action::Restart,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call to a silent peer is retransmitted and ends at its deadline;
    /// a request from the peer is executed once however often it comes,
    /// and its recorded reply survives a restart.
    #[test]
    fn a_call_ends_and_a_request_executes_once_across_a_restart() {
        let request = Forged::Request {
            incarnation: 130,
            seq: 130,
            attempt: 1,
            budget_ms: 200,
            done_below: 130,
            len: 3,
        };
        let again = Forged::Request {
            incarnation: 130,
            seq: 130,
            attempt: 2,
            budget_ms: 100,
            done_below: 130,
            len: 3,
        };
        let records = run(&StepInput {
            id: 0,
            peers: 0b10,
            max_attempts: 2,
            attempt_timeout_ms: 9,
            backoff_ms: 5,
            max_calls: 2,
            max_records: 2,
            checkpoint_every: 5,
            grace_ms: None,
            budget: false,
            breaker: false,
            steps: vec![
                Step::Call {
                    tag: 1,
                    to: 2,
                    len: 2,
                    timeout_ms: 50,
                },
                Step::Tick { advance_ms: 60 },
                Step::Message {
                    from: 2,
                    message: request,
                },
                Step::Reply { index: 0, len: 4 },
                Step::Restart,
                Step::Message {
                    from: 2,
                    message: again,
                },
            ],
        });
        // Incarnation, Started, Finished; the second life's incarnation.
        assert_eq!(records, 4);
    }
}
