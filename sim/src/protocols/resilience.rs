//! Request-reply ([`consensio::resilience::rpc`]) in the simulator: every
//! node calls the others and serves them, and the checker holds the
//! family's two promises under every fault.
//!
//! - **At most once**: no request executes twice, on any server, across
//!   retransmissions, duplication, crash-restarts (torn and with unsynced
//!   writes lost) and partitions; a rejected call never executes; a reply
//!   is the one its server produced for that very request.
//! - **One outcome by the deadline**: each call accepted by a node that
//!   stays up ends exactly once, no later than its deadline (allowing the
//!   clocks' drift), and no call ends that was not made.
//!
//! The workload and the checker share one world through an
//! `Rc<RefCell<_>>` (the simulator is single-threaded): the workload makes
//! calls and plays each server's application, which answers the requests
//! the checker saw it asked to execute — most within 50 ms, some slower
//! than a retransmission, some never; a crash loses those under way.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use consensio::resilience::Budget;
use consensio::resilience::breaker::{self, OpenWait, Window};
use consensio::resilience::rpc::{
    self, Command, Event, Message, Outcome, Persist, RequestId, RpcNode,
};
use consensio::{NodeId, Restore, Rng};

use super::Entry;
use crate::checker::Checker;
use crate::engine::{MessageLabel, Protocol};

/// The family's entries in the [registry](super).
pub const PROTOCOLS: &[Entry] = &[Entry {
    name: "request-reply",
    family: "resilience",
    description: "request-reply with deadlines and retries: at most once, one outcome per call by its deadline",
    run: |config| super::run(RequestReply::default(), config),
}];

/// How often the workload acts, ms.
const WORKLOAD_TICK_MS: u64 = 10;

/// The reply an application gives to `request`.
fn reply_to(request: &[u8]) -> Vec<u8> {
    [b"re:".as_slice(), request].concat()
}

/// A call the workload made.
#[derive(Clone, Copy, Debug)]
struct Call {
    node: NodeId,
    to: NodeId,
    issued_ms: u64,
    timeout_ms: u64,
    /// Seen open at its node after the step that made it (a call the node
    /// refused is forgotten instead).
    confirmed: bool,
}

/// An execution the application has not answered yet.
#[derive(Clone, Debug)]
struct Execution {
    server: NodeId,
    client: NodeId,
    id: RequestId,
    body: Vec<u8>,
    /// When the application answers (drawn by the workload); `None` until
    /// drawn, and for one it never answers, `Some(u64::MAX)`.
    due_ms: Option<u64>,
}

/// What the workload and the checker share.
#[derive(Debug, Default)]
struct World {
    next_tag: u64,
    /// Every call made: its caller and callee.
    made: BTreeMap<u64, (NodeId, NodeId)>,
    /// Calls made and not ended.
    open: BTreeMap<u64, Call>,
    /// Calls ended, with their outcome's name.
    ended: BTreeMap<u64, &'static str>,
    /// Request bodies executed, with the server.
    executed: BTreeMap<Vec<u8>, NodeId>,
    /// Calls rejected by a breaker.
    rejected: BTreeSet<u64>,
    answering: Vec<Execution>,
    replies: u64,
    deadlines: u64,
    abandoned_by_crash: u64,
}

/// A tag as a request body: the call's own, so that the checker knows a
/// request (and a reply) by its bytes.
fn body_of(tag: u64) -> Vec<u8> {
    tag.to_le_bytes().to_vec()
}

fn tag_of(body: &[u8]) -> Option<u64> {
    body.try_into().ok().map(u64::from_le_bytes)
}

/// Request-reply endpoints with short timeouts, a retry budget, a breaker
/// per peer and a small server table, so that retransmissions, budgets,
/// breakers, Busy answers and checkpoints all happen within a run.
#[derive(Debug, Default)]
pub struct RequestReply {
    world: Rc<RefCell<World>>,
}

impl Protocol for RequestReply {
    type Node = RpcNode;

    fn name(&self) -> &'static str {
        "request-reply"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> RpcNode {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, disk: &[Persist]) -> RpcNode {
        let config = rpc::Config {
            attempt_timeout_ms: 150,
            budget: Budget::grpc(20, 0.2).ok(),
            breaker: Some(breaker::Config {
                window: Window::Count(10),
                minimum_calls: 5,
                open_wait: OpenWait::Fixed(500),
                permitted_calls_in_half_open: 3,
                ..breaker::Config::default()
            }),
            max_records: 48,
            checkpoint_every: 16,
            seed,
            ..rpc::Config::new(id, members)
        };
        RpcNode::restore(config, disk).unwrap_or_else(|e| panic!("request-reply restore: {e}"))
    }

    fn workload_interval_ms(&self) -> Option<u64> {
        Some(WORKLOAD_TICK_MS)
    }

    fn workload(&mut self, rng: &mut Rng, now_ms: u64, live: &[NodeId]) -> Vec<(NodeId, Command)> {
        let mut world = self.world.borrow_mut();
        let mut commands = Vec::new();
        // The applications answer what is due.
        let mut answering = std::mem::take(&mut world.answering);
        answering.retain_mut(|e| {
            let due = *e.due_ms.get_or_insert_with(|| match rng.below(20) {
                0 => u64::MAX,
                1..=5 => now_ms + rng.between(50, 1_000),
                _ => now_ms + rng.between(0, 50),
            });
            if due > now_ms {
                return true;
            }
            if live.contains(&e.server) {
                commands.push((
                    e.server,
                    Command::Reply {
                        client: e.client,
                        id: e.id,
                        body: reply_to(&e.body),
                    },
                ));
            }
            false
        });
        world.answering = answering;
        // The clients call.
        for &node in live {
            if live.len() < 2 || !rng.chance(0.05) {
                continue;
            }
            let peers: Vec<NodeId> = live.iter().copied().filter(|&p| p != node).collect();
            let to = peers[rng.below(peers.len() as u64) as usize];
            let tag = world.next_tag;
            world.next_tag += 1;
            let timeout_ms = rng.between(100, 3_000);
            world.made.insert(tag, (node, to));
            world.open.insert(
                tag,
                Call {
                    node,
                    to,
                    issued_ms: now_ms,
                    timeout_ms,
                    confirmed: false,
                },
            );
            commands.push((
                node,
                Command::Call {
                    call: tag,
                    to,
                    body: body_of(tag),
                    timeout_ms,
                },
            ));
        }
        commands
    }

    fn is_routine(&self, event: &Event) -> bool {
        matches!(
            event,
            Event::Execute { .. }
                | Event::Done {
                    outcome: Outcome::Reply(_),
                    ..
                }
        )
    }

    fn supersedes(&self, record: &Persist) -> bool {
        matches!(record, Persist::Checkpoint(_))
    }

    fn checker(&self) -> Box<dyn Checker<RpcNode>> {
        Box::new(AtMostOnce {
            world: Rc::clone(&self.world),
        })
    }

    fn describe(&self, event: &Event) -> String {
        match event {
            Event::Done {
                call,
                outcome,
                attempts,
            } => format!(
                "Call {call}: {} after {attempts} attempts",
                outcome_name(outcome)
            ),
            Event::Execute { client, id, .. } => {
                format!("Execute {client}'s request {}.{}", id.incarnation, id.seq)
            }
        }
    }

    fn describe_message(&self, message: &Message) -> MessageLabel {
        match message {
            Message::Request {
                id,
                attempt,
                budget_ms,
                done_below,
                ..
            } => MessageLabel::new(
                "Request",
                format!(
                    "Request {}.{} attempt {attempt}, {budget_ms} ms left, done below {done_below}",
                    id.incarnation, id.seq
                ),
            ),
            Message::Reply { id, .. } => {
                MessageLabel::new("Reply", format!("Reply to {}.{}", id.incarnation, id.seq))
            }
            Message::Busy { id, attempt } => MessageLabel::new(
                "Busy",
                format!(
                    "Busy: {}.{} attempt {attempt} not executed",
                    id.incarnation, id.seq
                ),
            ),
        }
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Reply(_) => "reply",
        Outcome::DeadlineExceeded => "deadline exceeded",
        Outcome::Rejected => "rejected",
    }
}

/// The checker of the [module documentation](self).
#[derive(Debug)]
pub struct AtMostOnce {
    world: Rc<RefCell<World>>,
}

/// How late, ms, a call of `timeout_ms` may end on the simulator's clock:
/// a node's clock runs up to 1,000 ppm slow, and a deadline falls between
/// two whole milliseconds.
fn slack_ms(timeout_ms: u64) -> u64 {
    timeout_ms / 400 + 2
}

impl Checker<RpcNode> for AtMostOnce {
    fn name(&self) -> &'static str {
        "at most once; every call ends exactly once, by its deadline"
    }

    fn on_event(&mut self, time_ms: u64, node: NodeId, event: &Event) -> Result<(), String> {
        let mut world = self.world.borrow_mut();
        match event {
            Event::Execute {
                client, id, body, ..
            } => {
                let tag = tag_of(body)
                    .ok_or_else(|| format!("{node} executed a request nobody made: {body:?}"))?;
                if world.made.get(&tag) != Some(&(*client, node)) {
                    return Err(format!(
                        "{node} executed call {tag} as {client}'s request {}.{}, but that call was not made to it by {client}",
                        id.incarnation, id.seq
                    ));
                }
                if world.rejected.contains(&tag) {
                    return Err(format!(
                        "{node} executed call {tag}, which {client}'s breaker rejected"
                    ));
                }
                if let Some(first) = world.executed.insert(body.clone(), node) {
                    return Err(format!(
                        "call {tag} ({client}'s request {}.{}) executed twice: at {first}, then at {node} at {time_ms} ms",
                        id.incarnation, id.seq
                    ));
                }
                world.answering.push(Execution {
                    server: node,
                    client: *client,
                    id: *id,
                    body: body.clone(),
                    due_ms: None,
                });
            }
            Event::Done { call, outcome, .. } => {
                let Some(made) = world.open.remove(call) else {
                    return Err(match world.ended.get(call) {
                        Some(first) => format!(
                            "call {call} at {node} ended twice: {first}, then {} at {time_ms} ms",
                            outcome_name(outcome)
                        ),
                        None => format!("{node} ended call {call}, which is not open there"),
                    });
                };
                if made.node != node {
                    return Err(format!("{node} ended call {call}, made at {}", made.node));
                }
                let deadline = made.issued_ms + made.timeout_ms;
                if time_ms > deadline + slack_ms(made.timeout_ms) {
                    return Err(format!(
                        "call {call} at {node} ended at {time_ms} ms, after its deadline of {deadline} ms"
                    ));
                }
                let request = body_of(*call);
                match outcome {
                    Outcome::Reply(body) => {
                        if *body != reply_to(&request) {
                            let whose = body
                                .strip_prefix(b"re:".as_slice())
                                .and_then(tag_of)
                                .map_or_else(
                                    || format!("{body:?}"),
                                    |t| format!("the reply to call {t}"),
                                );
                            return Err(format!(
                                "call {call} at {node} got {whose}, not the reply to its own request"
                            ));
                        }
                        if world.executed.get(&request) != Some(&made.to) {
                            return Err(format!(
                                "call {call} at {node} got a reply, but {} never executed it",
                                made.to
                            ));
                        }
                        world.replies += 1;
                    }
                    Outcome::Rejected => {
                        if world.executed.contains_key(&request) {
                            return Err(format!(
                                "call {call} at {node} was rejected, but {} executed it",
                                made.to
                            ));
                        }
                        world.rejected.insert(*call);
                    }
                    Outcome::DeadlineExceeded => world.deadlines += 1,
                }
                world.ended.insert(*call, outcome_name(outcome));
            }
        }
        Ok(())
    }

    fn after_step(
        &mut self,
        time_ms: u64,
        nodes: &[(NodeId, Option<&RpcNode>)],
    ) -> Result<(), String> {
        let mut world = self.world.borrow_mut();
        let up = |id: NodeId| nodes.iter().find(|(n, _)| *n == id).and_then(|(_, e)| *e);
        // A crash ends its node's calls with it, and loses its
        // application's executions under way.
        let before = world.answering.len();
        world.answering.retain(|e| up(e.server).is_some());
        world.abandoned_by_crash += (before - world.answering.len()) as u64;
        let mut late = None;
        world.open.retain(|&tag, call| {
            let Some(endpoint) = up(call.node) else {
                return false;
            };
            if !call.confirmed {
                // Made in this step: open now, or refused.
                call.confirmed = endpoint.is_open(tag);
                return call.confirmed;
            }
            let deadline = call.issued_ms + call.timeout_ms;
            if time_ms > deadline + slack_ms(call.timeout_ms) && late.is_none() {
                late = Some(format!(
                    "call {tag} at {} is still open at {time_ms} ms, after its deadline of {deadline} ms",
                    call.node
                ));
            }
            true
        });
        late.map_or(Ok(()), Err)
    }

    fn report(&self) -> Vec<(String, String)> {
        let world = self.world.borrow();
        vec![
            ("calls".into(), world.next_tag.to_string()),
            (
                "outcomes".into(),
                format!(
                    "{} replies, {} deadlines exceeded, {} rejected",
                    world.replies,
                    world.deadlines,
                    world.rejected.len()
                ),
            ),
            ("executions".into(), world.executed.len().to_string()),
            (
                "executions lost to crashes".into(),
                world.abandoned_by_crash.to_string(),
            ),
        ]
    }
}
