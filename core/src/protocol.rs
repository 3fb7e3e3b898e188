//! The contract every participant keeps: one input shape, one output shape.
//!
//! A participant is a plain struct that never does IO, never reads a clock and
//! never draws ambient randomness. The caller (an application, the simulator,
//! the C or Python surface, a fuzz harness) drives it with three calls:
//!
//! 1. [`Participant::handle_input`] with the caller's `now` and one
//!    [`Input`]: a message from a peer, a timer tick, or a local command;
//! 2. [`Participant::poll_output`] until it returns `None`, acting on each
//!    [`Output`] in order: send a message, persist a record, or deliver an
//!    event to the application;
//! 3. [`Participant::next_deadline`], to learn when to deliver the next
//!    [`Input::Tick`] if nothing else happens first.
//!
//! # The caller's duties
//!
//! - **Persist before acting.** Make every [`Output::Persist`] durable (fsync
//!   or equivalent) before acting on any output that follows it. A message
//!   that leaves before the state it depends on is durable can break safety
//!   after a crash (a vote granted twice in one term, for example). A host
//!   may batch: one sync before it acts on the next `Send` or `Event` covers
//!   every record before it, and records that no acted-on output follows
//!   yet need not be durable — a crash may lose any suffix of them, never a
//!   record that an acted-on output followed.
//! - **Drain in order.** Outputs are queued inside the participant, in the
//!   order the protocol produced them; take them one at a time and do not
//!   reorder them.
//! - **Monotonic time.** `now` must never go backwards between calls on the
//!   same participant. Ticks may arrive late or early; a participant checks
//!   its own deadlines against `now`, so a spurious tick does no harm.
//! - **Restart only from what was persisted.** After a crash, rebuild the
//!   participant from its configuration and the records it asked to persist
//!   that survived the crash, in order, nothing else: every record an
//!   acted-on output followed, and perhaps some of the later ones. A
//!   participant accepts any such prefix of its records; a record lost
//!   before anything was acted on after it is as if it was never written.
//!
//! # Errors
//!
//! `handle_input` returns the participant's own error type. Unless a variant's
//! documentation says otherwise, an error means the input was rejected and
//! the participant's state is as it was before the call; outputs queued
//! before the call stay queued. Peer input that is merely stale or duplicated
//! is not an error: protocols ignore it by design, silently.

use crate::error::Classify;
use crate::id::NodeId;
use crate::time::Instant;
use crate::wire::{self, WireError, WireMessage};

/// One input to a participant. `now` travels beside it, in
/// [`Participant::handle_input`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<M, C> {
    /// A message from a peer, already decoded (see
    /// [`Participant::handle_message`] to decode and deliver in one call).
    Message {
        /// The sender, as the transport authenticated it.
        from: NodeId,
        /// The decoded message.
        message: M,
    },
    /// Time has passed; fire whatever timers are due at `now`.
    Tick,
    /// A request from the local application (propose, read, acquire, ...).
    Command(C),
}

/// One output of a participant, drained with [`Participant::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<M, P, E> {
    /// Send `message` to peer `to` (encode it with [`wire::encode_to_vec`] or
    /// [`wire::encode_to_slice`]). Delivery may fail, be delayed, duplicated
    /// or reordered; protocols tolerate all of it.
    Send {
        /// The destination.
        to: NodeId,
        /// The message.
        message: M,
    },
    /// Make this record durable before acting on any later output.
    Persist(P),
    /// Something the local application should learn (committed, elected,
    /// decided, suspected, ...).
    Event(E),
}

/// The shape every protocol participant in consensio implements.
///
/// Implementations are deterministic: the same configuration (seed included)
/// and the same sequence of `(now, input)` pairs produce the same outputs,
/// bit for bit. See the [module documentation](self) for the caller's duties.
pub trait Participant {
    /// Messages exchanged between peers.
    type Message: WireMessage;
    /// Requests from the local application.
    type Command;
    /// Records to make durable; [`core::convert::Infallible`] for protocols
    /// without durable state.
    type Persist;
    /// Notifications for the local application.
    type Event;
    /// Why an input was rejected. Decoding failures of
    /// [`handle_message`](Self::handle_message) convert into it, and it says
    /// what kind of failure it is ([`Classify`]), which is all the C and
    /// Python surfaces need to report it.
    type Error: From<WireError> + Classify + core::fmt::Debug + core::fmt::Display;

    /// This participant's own id.
    fn id(&self) -> NodeId;

    /// Feeds one input observed at `now`.
    ///
    /// # Errors
    /// The protocol's error type; unless the variant says otherwise, the
    /// participant is unchanged.
    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<Self::Message, Self::Command>,
    ) -> Result<(), Self::Error>;

    /// The next queued output, or `None` when the queue is empty. Call it
    /// until `None` after every [`handle_input`](Self::handle_input).
    fn poll_output(&mut self) -> Option<Output<Self::Message, Self::Persist, Self::Event>>;

    /// When the participant next wants an [`Input::Tick`], or `None` if no
    /// timer is armed. Valid until the next `handle_input`.
    fn next_deadline(&self) -> Option<Instant>;

    /// Decodes `frame` (see [`wire`]) and feeds it as a message from `from`.
    ///
    /// # Errors
    /// A [`WireError`] (converted) if the frame is not a valid message, in
    /// which case the participant is unchanged; otherwise as
    /// [`handle_input`](Self::handle_input).
    fn handle_message(
        &mut self,
        now: Instant,
        from: NodeId,
        frame: &[u8],
    ) -> Result<(), Self::Error> {
        let message = wire::decode::<Self::Message>(frame)?;
        self.handle_input(now, Input::Message { from, message })
    }
}

/// A participant with durable state, rebuilt after a crash.
///
/// Every participant is restored the same way: from its configuration and
/// the records it asked to persist, in the order it emitted them, and from
/// nothing else (a new node is restored from no records). After a crash
/// that lost the unsynced tail of them, that is the prefix that survived
/// (see the [caller's duties](self#the-callers-duties)). Protocols whose
/// records are the latest of an increasing sequence (an election's epoch, a
/// detector's incarnation) need only the last of them, but accept them all,
/// so a host can keep one append-only log for every protocol. Protocols
/// without durable state (`Persist = Infallible`) restore from `&[]`.
pub trait Restore: Participant + Sized {
    /// Everything that is not state: the node's id, its members, timeouts
    /// and bounds (and, for Raft, the empty log storage to replay into).
    type Config;

    /// The participant rebuilt from `config` and `records`.
    ///
    /// # Errors
    /// A configuration the protocol cannot run with, or records that no run
    /// of it could have written; no participant is built.
    fn restore(config: Self::Config, records: &[Self::Persist]) -> Result<Self, Self::Error>;
}

/// The participant's state from a sequence of increasing values (epochs,
/// incarnations): the highest, or 0 for none.
#[must_use]
pub fn latest(records: &[u64]) -> u64 {
    records.iter().copied().max().unwrap_or(0)
}
