//! One step harness for every participant: the contract of
//! [`consensio::Participant`] is checked here, once; a family adds only its
//! input generator, its restore function and its local invariants.
//!
//! Two layers:
//!
//! - [`Checked`] wraps one node of a [`Family`] and feeds it inputs (decoded,
//!   or raw frames through `handle_message`), drains it, and crash-restarts it
//!   from exactly the records it persisted. The merkle target drives three
//!   of them over its own network.
//! - [`run`] drives one `Checked` node through a family's sequence of steps,
//!   which a [`Generator`] turns into [`Action`]s: deliver a message or raw
//!   bytes, tick after time passes or at the node's deadline, let time pass,
//!   a command, one of the family's own calls that is not an input (a Raft
//!   node's `compact`), drain (in lazy mode), restart. Time never goes back.
//!
//! After every input, generically:
//!
//! - **refusal**: an `Err` leaves the family's [`Family::snapshot`] and
//!   `next_deadline` as they were and queues nothing (when nothing was
//!   waiting before), unless the error says the participant changed
//!   anyway ([`consensio::Classify::changed_state`]), which ends the run; a backpressure error ([`Family::is_backpressure`])
//!   comes only when at least [`Family::max_waiting`] outputs wait; a
//!   frame that does not decode is refused with exactly its
//!   [`consensio::wire::WireError`]; where the family knows the result an
//!   input must have ([`Family::expected`]), it is that result;
//! - **bounded output**: one input queues at most [`Family::max_outputs`];
//!   several undrained inputs at most the backpressure bound − 1 plus that;
//! - **the wire**: every `Send` encodes, decodes to the same message and
//!   re-encodes to the same bytes;
//! - **durability**: every `Persist` record is kept, in order, across lives;
//!   [`Family::output`] sees each output with the records persisted before
//!   it (so "persisted before the send that depends on it" is a check on a
//!   prefix), and a restart rebuilds the node with [`Family::restore`] from
//!   exactly those records, with what it queues then drained and checked;
//! - **time**: after a tick at `now` and a full drain, the next deadline is
//!   unset or after `now` (or at `now`, where [`Family::deadline_may_be_now`]
//!   says work is left), and set at all where [`Family::ALWAYS_ARMED`];
//! - **determinism**: a twin node, built and fed identically, returns the
//!   same results, the same outputs in the same order and the same deadline.
//!
//! The family's hooks then check the local invariants: [`Family::accepted`]
//! after an accepted input (with the snapshot from before it),
//! [`Family::output`] for each output, [`Family::drained`] with the full
//! ordered list after the queue is empty, [`Family::restarted`] after a
//! restart.

use consensio::shared::OutputOf as NodeOutput;
use consensio::{Classify, Input, Instant, NodeId, Output, Participant, wire};

/// The message type of a family's node.
pub type MessageOf<F> = <<F as Family>::Node as Participant>::Message;
/// The command type of a family's node.
pub type CommandOf<F> = <<F as Family>::Node as Participant>::Command;
/// The persist record type of a family's node.
pub type PersistOf<F> = <<F as Family>::Node as Participant>::Persist;
/// The error type of a family's node.
pub type ErrorOf<F> = <<F as Family>::Node as Participant>::Error;
/// One input to a family's node.
pub type InputOf<F> = Input<MessageOf<F>, CommandOf<F>>;
/// The result an input must have, if the family knows it.
pub type Expected<F> = Option<Result<(), ErrorOf<F>>>;
/// One output of a family's node.
pub type OutputOf<F> = NodeOutput<<F as Family>::Node>;

/// What a protocol family tells the harness: how to build its node, what
/// to compare, what to expect, and its local invariants.
pub trait Family {
    /// The participant under test.
    type Node: Participant<
            Message: Clone + PartialEq + core::fmt::Debug,
            Command: Clone + core::fmt::Debug,
            Persist: Clone + PartialEq + core::fmt::Debug,
            Event: PartialEq + core::fmt::Debug,
            Error: PartialEq,
        >;
    /// What must not change when an input is refused (`next_deadline` is
    /// compared besides).
    type Snapshot: PartialEq + core::fmt::Debug;

    /// The node rebuilt at `now` from exactly `records`, the records it
    /// persisted in all its lives, in order (none: a fresh node). Called
    /// twice per restart (the node and its twin): keep it free of effects
    /// on the family, and count lives in [`Family::restarted`].
    fn restore(&self, records: &[PersistOf<Self>], now: Instant) -> Self::Node;

    /// A comparable summary of the node's state at `now`.
    fn snapshot(&self, node: &Self::Node, now: Instant) -> Self::Snapshot;

    /// The most outputs one input may queue.
    fn max_outputs(&self, node: &Self::Node) -> usize;

    /// The result `input` must have, if the family knows it; `waiting`:
    /// outputs of earlier inputs are still queued.
    fn expected(&self, node: &Self::Node, input: &InputOf<Self>, waiting: bool) -> Expected<Self>;

    /// Whether `error` refuses an input because too many outputs wait.
    fn is_backpressure(&self, _error: &ErrorOf<Self>) -> bool {
        false
    }

    /// The most outputs that may wait before inputs are refused with
    /// backpressure, if the node has such a bound.
    fn max_waiting(&self, _node: &Self::Node) -> Option<usize> {
        None
    }

    /// Whether the node always wants a tick: `next_deadline` is set after
    /// every full drain and whenever the harness ticks at the deadline.
    const ALWAYS_ARMED: bool = false;

    /// Whether, after a tick and a full drain, the node may want another
    /// tick at the same instant (work left for a later tick).
    fn deadline_may_be_now(&self, _node: &Self::Node) -> bool {
        false
    }

    /// `input` was accepted at `now`; `before` is the snapshot from before
    /// it. Called before its outputs are drained.
    fn accepted(
        &mut self,
        _node: &Self::Node,
        _now: Instant,
        _input: &InputOf<Self>,
        _before: &Self::Snapshot,
    ) {
    }

    /// One output, in order; `records` are the records persisted before it,
    /// in all lives.
    fn output(&mut self, node: &Self::Node, records: &[PersistOf<Self>], output: &OutputOf<Self>);

    /// The queue is empty after an accepted input (once, however many
    /// drains it took); `outputs` are those drained since it last was,
    /// in order; `records` every record persisted so far; `cause` the input
    /// that queued them all, when one did and they were drained right
    /// after it.
    fn drained(
        &mut self,
        _node: &Self::Node,
        _now: Instant,
        _outputs: &[OutputOf<Self>],
        _records: &[PersistOf<Self>],
        _cause: Option<&InputOf<Self>>,
    ) {
    }

    /// The node was just rebuilt from `records` (nothing is queued).
    fn restarted(&mut self, _node: &Self::Node, _records: &[PersistOf<Self>]) {}
}

/// How an input reaches the node.
#[derive(Debug)]
pub enum Feed<'a, M, C> {
    /// Through `handle_input`.
    Input(Input<M, C>),
    /// Through `handle_message`.
    Bytes {
        /// The claimed sender.
        from: NodeId,
        /// The frame, valid or not.
        frame: &'a [u8],
    },
}

/// One node under the contract checks, a twin fed alike, and every record
/// the node persisted.
pub struct Checked<F: Family> {
    node: F::Node,
    twin: F::Node,
    records: Vec<PersistOf<F>>,
    /// Accepted inputs whose outputs are not all drained.
    waiting: usize,
    /// What was drained since the queue was last empty.
    outputs: Vec<OutputOf<F>>,
    /// The node refused an input with an error after which it did change
    /// ([`Classify::changed_state`]: a key-value node whose Raft node
    /// installed a snapshot the store cannot read). Its documented remedy
    /// is a rebuild from a peer, so the run ends there.
    broken: bool,
}

impl<F: Family> Checked<F> {
    /// A fresh node (and twin), restored from no records.
    pub fn new(family: &F) -> Self {
        let node = family.restore(&[], Instant::ZERO);
        let twin = family.restore(&[], Instant::ZERO);
        Checked {
            node,
            twin,
            records: Vec::new(),
            waiting: 0,
            outputs: Vec::new(),
            broken: false,
        }
    }

    /// The node.
    pub fn node(&self) -> &F::Node {
        &self.node
    }

    /// Every record the node persisted, in all its lives, in order.
    pub fn records(&self) -> &[PersistOf<F>] {
        &self.records
    }

    /// Whether outputs of accepted inputs may still be queued.
    pub fn waiting(&self) -> bool {
        self.waiting > 0
    }

    fn snapshot(&self, family: &F, now: Instant) -> (F::Snapshot, Option<Instant>) {
        (family.snapshot(&self.node, now), self.node.next_deadline())
    }

    /// Feeds one input at `now` and checks the result; if it is accepted
    /// and `drain` is set, drains and checks the outputs. Returns the
    /// result and, when the queue was emptied, what was drained.
    pub fn feed(
        &mut self,
        family: &mut F,
        now: Instant,
        feed: Feed<'_, MessageOf<F>, CommandOf<F>>,
        drain: bool,
    ) -> (Result<(), ErrorOf<F>>, Vec<OutputOf<F>>) {
        let decoded = match &feed {
            Feed::Input(input) => Ok(input.clone()),
            Feed::Bytes { from, frame } => {
                wire::decode::<MessageOf<F>>(frame).map(|message| Input::Message {
                    from: *from,
                    message,
                })
            }
        };
        let expected = match &decoded {
            Ok(input) => family.expected(&self.node, input, self.waiting()),
            Err(e) => Some(Err(ErrorOf::<F>::from(*e))),
        };
        let before = self.snapshot(family, now);
        let (result, twin) = match feed {
            Feed::Input(input) => (
                self.node.handle_input(now, input.clone()),
                self.twin.handle_input(now, input),
            ),
            Feed::Bytes { from, frame } => (
                self.node.handle_message(now, from, frame),
                self.twin.handle_message(now, from, frame),
            ),
        };
        assert_eq!(result, twin, "the twin node's result differs");
        let input = match (&result, decoded) {
            (Err(error), _) => {
                self.refused(family, now, error, before, expected);
                return (result, Vec::new());
            }
            (Ok(()), Err(e)) => panic!("a frame that does not decode ({e:?}) was accepted"),
            (Ok(()), Ok(input)) => input,
        };
        if let Some(expected) = expected {
            assert_eq!(result, expected, "the input's result");
        }
        family.accepted(&self.node, now, &input, &before.0);
        self.waiting += 1;
        if !drain {
            return (result, Vec::new());
        }
        let cause = (self.waiting == 1).then_some(&input);
        let (_, outputs) = self.poll(family, now, None, cause);
        if matches!(input, Input::Tick)
            && let Some(deadline) = self.node.next_deadline()
        {
            assert!(
                deadline > now || (deadline == now && family.deadline_may_be_now(&self.node)),
                "after a tick at {now}, the next deadline is {deadline}"
            );
        }
        (result, outputs.unwrap_or_default())
    }

    /// An input was refused with `error`: nothing changed and nothing was
    /// queued, or the queue was indeed full.
    fn refused(
        &mut self,
        family: &mut F,
        now: Instant,
        error: &ErrorOf<F>,
        before: (F::Snapshot, Option<Instant>),
        expected: Expected<F>,
    ) {
        if error.changed_state() {
            self.broken = true;
            return;
        }
        assert_eq!(
            self.snapshot(family, now),
            before,
            "a refused input ({error:?}) changed the node"
        );
        if family.is_backpressure(error) {
            assert!(self.waiting(), "backpressure with nothing waiting");
            let max = family.max_waiting(&self.node);
            let drained = self.drain(family, now, None);
            assert!(
                max.is_some_and(|max| drained >= max),
                "backpressure with {drained} outputs waiting (at most {max:?} may wait)"
            );
            return;
        }
        if let Some(expected) = expected {
            assert_eq!(Err(error), expected.as_ref(), "the input's result");
        }
        if !self.waiting() {
            assert!(
                self.node.poll_output().is_none(),
                "a refused input ({error:?}) queued outputs"
            );
            assert!(self.twin.poll_output().is_none());
        }
    }

    /// Drains up to `max` outputs (all if `None`), checking each; returns
    /// how many it took.
    pub fn drain(&mut self, family: &mut F, now: Instant, max: Option<usize>) -> usize {
        self.poll(family, now, max, None).0
    }

    /// Drains up to `max` outputs; returns how many it took and, if the
    /// queue is now empty, every output since it last was.
    fn poll(
        &mut self,
        family: &mut F,
        now: Instant,
        max: Option<usize>,
        cause: Option<&InputOf<F>>,
    ) -> (usize, Option<Vec<OutputOf<F>>>) {
        let per_input = family.max_outputs(&self.node);
        let bound = match (self.waiting, family.max_waiting(&self.node)) {
            (0 | 1, _) => per_input,
            (_, Some(max_waiting)) => max_waiting.saturating_sub(1) + per_input,
            (n, None) => n * per_input,
        };
        let mut count = 0;
        while max.is_none_or(|m| count < m) {
            let output = self.node.poll_output();
            assert_eq!(
                self.twin.poll_output(),
                output,
                "the twin node's output differs"
            );
            let Some(output) = output else {
                assert_eq!(
                    self.twin.next_deadline(),
                    self.node.next_deadline(),
                    "the twin node's deadline differs"
                );
                if F::ALWAYS_ARMED {
                    assert!(self.node.next_deadline().is_some(), "no deadline is set");
                }
                let outputs = core::mem::take(&mut self.outputs);
                if self.waiting > 0 {
                    self.waiting = 0;
                    family.drained(&self.node, now, &outputs, &self.records, cause);
                }
                return (count, Some(outputs));
            };
            count += 1;
            assert!(count <= bound, "more than {bound} outputs queued");
            family.output(&self.node, &self.records, &output);
            match &output {
                Output::Send { message, .. } => round_trip(message),
                Output::Persist(record) => self.records.push(record.clone()),
                Output::Event(_) => {}
            }
            self.outputs.push(output);
        }
        (count, None)
    }

    /// Crashes the node, losing whatever it had queued, and rebuilds it
    /// from exactly the records it persisted. What the rebuilt node queues
    /// on its own (a Raft node's `ApplySnapshot`) is drained at once, each
    /// output checked by [`Family::output`] (no input caused them, so
    /// [`Family::drained`] is not called).
    pub fn restart(&mut self, family: &mut F, now: Instant) {
        self.node = family.restore(&self.records, now);
        self.twin = family.restore(&self.records, now);
        self.outputs.clear();
        self.waiting = 0;
        family.restarted(&self.node, &self.records);
        self.poll(family, now, None, None);
    }

    /// Applies one of the family's own calls that is not an input (a Raft
    /// node's `compact`, see [`Generator::own`]) to the node and its twin,
    /// and checks it like an input: a refusal changes nothing, and what an
    /// accepted call queues is drained (if `drain`) and checked.
    pub fn own(&mut self, family: &mut F, now: Instant, step: &F::Step, drain: bool)
    where
        F: Generator,
    {
        let before = self.snapshot(family, now);
        let result = family.own(&mut self.node, step);
        assert_eq!(
            family.own(&mut self.twin, step),
            result,
            "the twin node's result differs"
        );
        if let Err(error) = &result {
            self.refused(family, now, error, before, None);
            return;
        }
        self.waiting += 1;
        if drain {
            self.poll(family, now, None, None);
        }
    }
}

/// A message the node sends: encode → decode gives it back, and encoding
/// that gives the same bytes.
fn round_trip<M: wire::WireMessage + PartialEq + core::fmt::Debug>(message: &M) {
    let frame = wire::encode_to_vec(message).expect("every message sent fits a frame");
    let back = wire::decode::<M>(&frame).expect("every message sent decodes");
    assert_eq!(&back, message, "a sent message does not survive the wire");
    assert_eq!(
        wire::encode_to_vec(&back).as_ref(),
        Ok(&frame),
        "a sent message re-encodes differently"
    );
}

/// One step of a single-node run, as a family's [`Generator`] makes it.
#[derive(Debug)]
pub enum Action<'a, M, C> {
    /// A structured message from `from`.
    Message {
        /// The claimed sender.
        from: NodeId,
        /// The message.
        message: M,
    },
    /// Raw bytes from `from`, through `handle_message`.
    Bytes {
        /// The claimed sender.
        from: NodeId,
        /// The frame, valid or not.
        frame: &'a [u8],
    },
    /// Time passes, then a tick.
    Tick {
        /// How far time moves first.
        advance_ms: u64,
    },
    /// A tick at the node's next deadline (or now, if that has passed or
    /// none is set).
    TickAtDeadline,
    /// Time passes without a tick.
    Wait {
        /// How far time moves.
        advance_ms: u64,
    },
    /// A command from the local application.
    Command(C),
    /// Drains up to this many outputs (all if `None`); only useful in lazy
    /// runs, where inputs are not drained right away.
    Drain(Option<usize>),
    /// Crash, losing what is queued, and restart from the records.
    Restart,
    /// The step is one of the family's own calls ([`Generator::own`]).
    Own,
}

impl<'a, M, C> Action<'a, M, C> {
    /// Raw bytes claimed to come from `from % ids`.
    pub fn bytes(from: u8, ids: u8, frame: &'a [u8]) -> Self {
        Action::Bytes {
            from: claimed(from, ids),
            frame,
        }
    }

    /// A tick after `advance_ms`.
    pub fn tick(advance_ms: impl Into<u64>) -> Self {
        Action::Tick {
            advance_ms: advance_ms.into(),
        }
    }
}

/// The sender `from % ids` that an input claims.
#[must_use]
pub fn claimed(from: u8, ids: u8) -> NodeId {
    NodeId(u64::from(from % ids))
}

/// A family's input generator for [`run`].
pub trait Generator: Family {
    /// One step of the fuzz input (an `arbitrary` type).
    type Step;

    /// What `step` means for `node` as it is now (messages are forged near
    /// the node's own state).
    fn action<'s>(
        &mut self,
        node: &Self::Node,
        step: &'s Self::Step,
    ) -> Action<'s, MessageOf<Self>, CommandOf<Self>>;

    /// Performs `step`, for which [`Generator::action`] said
    /// [`Action::Own`]: a call on the node that is not an input but may
    /// change it and queue outputs (a Raft node's `compact`). Called for
    /// the node and for its twin alike.
    ///
    /// # Errors
    /// The call's own error, which must leave the node as it was.
    fn own(&self, _node: &mut Self::Node, _step: &Self::Step) -> Result<(), ErrorOf<Self>> {
        unreachable!("this family has no calls of its own")
    }
}

/// Steps a single-node run takes at most.
pub const MAX_STEPS: usize = 1024;

/// Drives one node of `family` through `steps` (the first [`MAX_STEPS`])
/// at a `now` that never goes back, checking the contract after every
/// input; `lazy`: outputs are drained only by [`Action::Drain`] steps.
/// Whatever is still queued at the end is drained and checked.
pub fn run<F: Generator>(family: &mut F, steps: &[F::Step], lazy: bool) -> Checked<F> {
    let mut node = Checked::new(family);
    let mut now = Instant::ZERO;
    for step in steps.iter().take(MAX_STEPS) {
        if node.broken {
            return node;
        }
        let feed = match family.action(node.node(), step) {
            Action::Message { from, message } => Feed::Input(Input::Message { from, message }),
            Action::Bytes { from, frame } => Feed::Bytes { from, frame },
            Action::Tick { advance_ms } => {
                now = now.saturating_add_millis(advance_ms);
                Feed::Input(Input::Tick)
            }
            Action::TickAtDeadline => {
                let deadline = node.node().next_deadline();
                assert!(
                    deadline.is_some() || !F::ALWAYS_ARMED,
                    "a deadline is always set"
                );
                now = now.max(deadline.unwrap_or(now));
                Feed::Input(Input::Tick)
            }
            Action::Wait { advance_ms } => {
                now = now.saturating_add_millis(advance_ms);
                continue;
            }
            Action::Command(command) => Feed::Input(Input::Command(command)),
            Action::Drain(max) => {
                node.drain(family, now, max);
                continue;
            }
            Action::Restart => {
                node.restart(family, now);
                continue;
            }
            Action::Own => {
                node.own(family, now, step, !lazy);
                continue;
            }
        };
        // The result was checked against the family's expectation.
        let _ = node.feed(family, now, feed, !lazy);
    }
    node.drain(family, now, None);
    node
}
