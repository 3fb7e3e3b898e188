//! A replicated key-value store on Multi-Paxos, with client sessions: the
//! store and the sessions of Raft's ([`KvStore`], [`crate::raft::kv`]), applied in
//! slot order instead of log-index order.
//!
//! Clients talk to it exactly as to Raft's store, and get the same replies
//! ([`KvResult`]): a session (`OpenSession`; its id is the slot of its
//! entry, so ids are never reused), then writes that carry `(client, seq)`
//! and are applied once however often they are retried, and reads. The
//! same linearizability checker judges both stores in the simulator.
//!
//! # Reads
//!
//! A read goes through the log: the leader proposes a read marker (naming
//! this node and a token of this life) and answers with the store's value
//! once the marker's slot is applied. Every write chosen before the read
//! was asked sits at a lower slot, so the read is linearizable; it costs a
//! round of phase 2. The `lease` of Raft's reads has no counterpart yet.
//!
//! # Snapshots
//!
//! Every [`snapshot_interval`](KvNode::snapshot_interval) applied slots
//! (10,000 unless set) the node hands the Paxos node an image of its store
//! ([`paxos::Command::Compact`]): a snapshot record replaces the records
//! before it, and a restart starts from the image and the slots after it.
//! Sessions are in the image, so a write retried after it still applies
//! once.
//!
//! # Replies
//!
//! Every command gets exactly one [`Event::Reply`] from the node it was
//! given to, unless that node crashes first: `Ok(..)` once applied (or
//! answered from the session, for a retried write);
//! [`Error::NotLeader`] (nothing happened); [`Error::Retry`] when the
//! outcome is unknown (leadership was lost, or another value took the
//! slot: retry with the same `seq`); [`Error::Busy`] / [`Error::TooLarge`]
//! / [`Error::ZeroSequence`] when a bound or a rule refused it (nothing
//! happened); and the session errors of [`crate::raft::kv`].

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Message, PaxosNode, Persist};
use crate::id::NodeId;
use crate::paxos;
use crate::protocol::{Input, Output, Participant, Restore};
use crate::raft::kv::Error;
use crate::raft::{KvEntry, KvLimits, KvOp, KvResponse, KvResult, KvStore};
use crate::time::Instant;
use crate::wire::{self, WireMessage, kind};

/// A request to a [`KvNode`]; `id` is the caller's name for it, echoed in
/// the [`Event::Reply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Open a client session.
    OpenSession {
        /// The request.
        id: u64,
    },
    /// Write `seq` of session `client` (retries reuse `seq`).
    Write {
        /// The request.
        id: u64,
        /// The session.
        client: u64,
        /// The write's sequence number, from 1.
        seq: u64,
        /// The write.
        op: KvOp,
    },
    /// A linearizable read of `key`, through the log.
    Get {
        /// The request.
        id: u64,
        /// The key.
        key: Vec<u8>,
    },
}

/// What a [`KvNode`] tells its application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The answer to request `id`.
    Reply {
        /// The request.
        id: u64,
        /// Its outcome.
        result: KvResult,
    },
    /// A Paxos event, passed on after the node acted on it (a `Chosen`
    /// value is already applied to the store).
    Paxos(paxos::Event),
}

/// A read marker: a log value of its own kind, so that no store entry is
/// ever mistaken for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    /// The node that proposed it, and alone answers it.
    pub node: NodeId,
    /// Unique within the node's lives: its clock, ms, above a count.
    pub token: u64,
}

impl WireMessage for ReadMarker {
    const KIND: u8 = kind::PAXOS_KV_READ;
    const MAX_ENCODED_LEN: usize = 32;
}

/// A proposal of this node's, waiting to be chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pending {
    id: u64,
    value: Vec<u8>,
    /// A read's key.
    read: Option<Vec<u8>>,
}

/// A Multi-Paxos node with a [`KvStore`] attached; see the
/// [module docs](self). Messages and records are the Paxos node's own;
/// after a crash, [`KvNode::restore`] rebuilds the store by applying the
/// chosen prefix the records hold again.
#[derive(Clone, Debug)]
pub struct KvNode {
    paxos: PaxosNode,
    store: KvStore,
    /// This node's proposals by slot; answered when the slot is chosen,
    /// or with `Retry` when leadership is lost. Bounded by the Paxos
    /// node's window and queue.
    pending: BTreeMap<u64, Pending>,
    reads: u64,
    /// Applied slots between snapshots; 0: never.
    snapshot_interval: u64,
    outputs: VecDeque<Output<Message, Persist, Event>>,
}

impl KvNode {
    /// A fresh node.
    ///
    /// # Errors
    /// As [`PaxosNode::new`].
    pub fn new(config: paxos::Config, limits: KvLimits) -> Result<Self, paxos::Error> {
        Ok(Self::over(PaxosNode::new(config)?, limits))
    }

    fn over(paxos: PaxosNode, limits: KvLimits) -> Self {
        KvNode {
            paxos,
            store: KvStore::new(limits),
            pending: BTreeMap::new(),
            reads: 0,
            snapshot_interval: DEFAULT_SNAPSHOT_INTERVAL,
            outputs: VecDeque::new(),
        }
    }

    /// The Paxos node.
    #[must_use]
    pub const fn paxos(&self) -> &PaxosNode {
        &self.paxos
    }

    /// The store, as far as this node has applied it.
    #[must_use]
    pub const fn store(&self) -> &KvStore {
        &self.store
    }

    fn reply(&mut self, id: u64, result: KvResult) {
        self.outputs
            .push_back(Output::Event(Event::Reply { id, result }));
    }

    fn command(&mut self, now: Instant, command: Command) {
        let stamp_ms = now.as_millis();
        let (id, value, read) = match command {
            Command::OpenSession { id } => (id, KvEntry::OpenSession { stamp_ms }, None),
            Command::Write {
                id,
                client,
                seq,
                op,
            } => {
                if !self.store.fits(&op) {
                    return self.reply(id, Err(Error::TooLarge));
                }
                if seq == 0 {
                    // Refused here, before it costs a slot; the sessions
                    // refuse it too when applied.
                    return self.reply(id, Err(Error::ZeroSequence));
                }
                let write = KvEntry::Write {
                    client,
                    seq,
                    stamp_ms,
                    op,
                };
                (id, write, None)
            }
            Command::Get { id, key } => {
                self.reads = self.reads.wrapping_add(1);
                let marker = ReadMarker {
                    node: self.paxos.id(),
                    token: (stamp_ms << 16) | (self.reads & 0xffff),
                };
                return match wire::encode_to_vec(&marker) {
                    Ok(value) => self.propose(now, id, value, Some(key)),
                    Err(_) => self.reply(id, Err(Error::Busy)),
                };
            }
        };
        match wire::encode_to_vec(&value) {
            Ok(bytes) => self.propose(now, id, bytes, read),
            Err(_) => self.reply(id, Err(Error::TooLarge)),
        }
    }

    fn propose(&mut self, now: Instant, id: u64, value: Vec<u8>, read: Option<Vec<u8>>) {
        let proposal = Input::Command(paxos::Command::Propose(value.clone()));
        match self.paxos.handle_input(now, proposal) {
            Ok(()) => {
                if let Some(slot) = self.paxos.last_proposed_slot() {
                    self.pending.insert(slot, Pending { id, value, read });
                }
            }
            Err(e) => {
                let refused = match e {
                    paxos::Error::NotLeader { leader_hint } => Error::NotLeader { leader_hint },
                    paxos::Error::ValueTooLarge { .. } => Error::TooLarge,
                    _ => Error::Busy,
                };
                self.reply(id, Err(refused));
            }
        }
    }

    /// Moves the Paxos node's outputs to ours, applying chosen values and
    /// answering this node's requests.
    ///
    /// # Errors
    /// [`paxos::Error::BadRecord`] if a snapshot restored is not a store's
    /// image with these limits (the outputs are moved all the same).
    fn drain(&mut self) -> Result<(), paxos::Error> {
        let mut corrupt = None;
        while let Some(output) = self.paxos.poll_output() {
            let event = match output {
                Output::Send { to, message } => {
                    self.outputs.push_back(Output::Send { to, message });
                    continue;
                }
                Output::Persist(record) => {
                    self.outputs.push_back(Output::Persist(record));
                    continue;
                }
                Output::Event(event) => event,
            };
            match &event {
                paxos::Event::Chosen { slot, value } => {
                    let marker = wire::decode::<ReadMarker>(value).is_ok();
                    // A read marker or a no-op applies as nothing.
                    let applied = self.store.apply(*slot, if marker { &[] } else { value });
                    if let Some(p) = self.pending.remove(slot) {
                        let answer = match p.read {
                            _ if p.value != *value => Err(Error::Retry),
                            Some(key) => {
                                Ok(KvResponse::Value(self.store.get(&key).map(<[u8]>::to_vec)))
                            }
                            None => applied.unwrap_or(Err(Error::Malformed)),
                        };
                        self.reply(p.id, answer);
                    }
                }
                paxos::Event::SteppedDown { .. } => {
                    // Our proposals may or may not be chosen under the next
                    // leader; the clients retry, and their sessions make the
                    // retry safe.
                    for (_, p) in core::mem::take(&mut self.pending) {
                        self.reply(p.id, Err(Error::Retry));
                    }
                }
                paxos::Event::Snapshot { upto } => {
                    // A restart from a snapshot record: the store is its image.
                    let limits = self.store.limits();
                    let image = self.paxos.snapshot().map_or(&[][..], |(_, data)| data);
                    match KvStore::from_snapshot(image, *upto, limits) {
                        Some(store) => self.store = store,
                        None => corrupt = Some(*upto),
                    }
                }
                paxos::Event::Adopted { .. } => {}
            }
            self.outputs.push_back(Output::Event(Event::Paxos(event)));
        }
        match corrupt {
            Some(_) => Err(paxos::Error::BadRecord),
            None => Ok(()),
        }
    }

    /// Applied slots between snapshots (0: never).
    #[must_use]
    pub const fn snapshot_interval(&self) -> u64 {
        self.snapshot_interval
    }

    /// Snapshots every `slots` applied slots from now on; 0 turns
    /// snapshots off. A local choice: nodes of a cluster may differ.
    pub const fn set_snapshot_interval(&mut self, slots: u64) {
        self.snapshot_interval = slots;
    }

    /// Snapshots the store if `snapshot_interval` slots were applied since
    /// the last snapshot.
    fn maybe_snapshot(&mut self, now: Instant) {
        let applied = self.paxos.applied();
        let last = self.paxos.snapshot().map_or(0, |(upto, _)| upto);
        let due = self.snapshot_interval > 0
            && applied.saturating_sub(last) >= self.snapshot_interval
            && self.store.applied_index() == applied;
        if !due {
            return;
        }
        // Too large for a record: not taken, tried again after the next
        // slot (size the store's limits for the records the host keeps).
        if let Ok(snapshot) = self.store.snapshot() {
            let compact = paxos::Command::Compact {
                upto: applied,
                snapshot,
            };
            if self
                .paxos
                .handle_input(now, Input::Command(compact))
                .is_ok()
            {
                let _ = self.drain();
            }
        }
    }
}

/// Applied slots between a [`KvNode`]'s snapshots, unless set.
pub const DEFAULT_SNAPSHOT_INTERVAL: u64 = 10_000;

/// A node restarted from the records it persisted, in order; the store is
/// rebuilt by applying the chosen prefix they hold again, reported as
/// `Chosen` events first.
impl Restore for KvNode {
    /// The Paxos configuration and the store's limits.
    type Config = (paxos::Config, KvLimits);

    fn restore(
        (config, limits): (paxos::Config, KvLimits),
        records: &[Persist],
    ) -> Result<Self, paxos::Error> {
        let mut node = Self::over(PaxosNode::restore(config, records)?, limits);
        node.drain()?;
        Ok(node)
    }
}

impl Participant for KvNode {
    type Message = Message;
    type Command = Command;
    type Persist = Persist;
    type Event = Event;
    type Error = paxos::Error;

    fn id(&self) -> NodeId {
        self.paxos.id()
    }

    /// Messages and ticks go to the Paxos node (its errors are returned,
    /// and nothing changes); a command is always taken and answered with
    /// one [`Event::Reply`].
    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<Message, Command>,
    ) -> Result<(), paxos::Error> {
        match input {
            Input::Message { from, message } => {
                self.paxos
                    .handle_input(now, Input::Message { from, message })?;
            }
            Input::Tick => self.paxos.handle_input(now, Input::Tick)?,
            Input::Command(command) => self.command(now, command),
        }
        self.drain()?;
        self.maybe_snapshot(now);
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Output<Message, Persist, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.paxos.next_deadline()
    }
}
