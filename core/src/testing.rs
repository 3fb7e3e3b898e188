//! A simulated cluster for tests of any participant: nodes by id, each with
//! its configuration and its disk (the records it asked to persist, in
//! order), a network of messages in flight, and one simulated clock.
//!
//! [`Cluster`] drives any [`Participant`] that implements [`Restore`] the
//! way a host would, keeping the caller's duties of [`protocol`]: every
//! output is drained in order, records are on the disk before the next
//! output is acted on, time never goes back, and a node restarts from its
//! configuration and its disk, nothing else. Every message crosses the
//! network as a real wire frame and is fed back with
//! [`Participant::handle_message`]. A test moves the world in one of two
//! ways:
//!
//! - **by time**: [`advance`](Cluster::advance), [`run_until`](Cluster::run_until)
//!   and [`drive`](Cluster::drive) deliver each message when it arrives and
//!   tick each node when its deadline falls due, in time order, under the
//!   network's [`Faults`] (random delay, so reordering; loss; duplication);
//! - **step by step**: [`tick`](Cluster::tick), [`fire`](Cluster::fire),
//!   [`deliver_one`](Cluster::deliver_one), [`deliver_where`](Cluster::deliver_where)
//!   and [`drop_where`](Cluster::drop_where) let a test decide which node
//!   acts and which messages move, as a paper's figure does, while the
//!   clock stands still.
//!
//! Links are cut with [`partition`](Cluster::partition),
//! [`isolate`](Cluster::isolate) and [`cut`](Cluster::cut), and healed with
//! [`heal`](Cluster::heal); a link is checked when a message would arrive,
//! so a message is lost if its link is cut, or its receiver down, at that
//! moment. Nodes [`crash`](Cluster::crash) and
//! [`restart_from_disk`](Cluster::restart_from_disk), now or at a scheduled
//! time. The cluster is deterministic: all its randomness comes from one
//! [`Rng`] seeded by the test, so a seed replays a run bit for bit.
//!
//! This module is test support, compiled only with the `testing` feature
//! (which implies `std`). Unlike the rest of the crate it panics, unwraps
//! and indexes freely (hence the `#![allow]` below): a node that refuses a
//! frame its peer sent, or a tick, is a bug the test must see at once.
//!
//! ```
//! use consensio::detector::{heartbeat, HeartbeatDetector, PeerState};
//! use consensio::testing::{Cluster, Faults};
//! use consensio::{Instant, NodeId};
//!
//! let members = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut cluster = Cluster::<HeartbeatDetector>::new(7, Faults::synchronous(50));
//! for &id in &members {
//!     cluster.add(heartbeat::Config::new(id, &members));
//! }
//! cluster.advance(1_000);
//! cluster.crash(NodeId(3));
//! cluster.advance(2_000);
//! // Both survivors have given up on n3.
//! for node in cluster.live() {
//!     assert_eq!(node.state(NodeId(3)), Some(PeerState::Failed));
//! }
//! // It comes back from its disk, with a new incarnation, and is trusted.
//! assert_eq!(cluster.disk(NodeId(3)), [1]);
//! cluster.restart_from_disk(NodeId(3));
//! cluster.advance(1_000);
//! assert_eq!(cluster.disk(NodeId(3)), [1, 2]);
//! assert_eq!(cluster.node(NodeId(1)).state(NodeId(3)), Some(PeerState::Alive));
//! assert_eq!(cluster.now(), Instant::from_millis(4_000));
//! assert_eq!(cluster.sent()["Heartbeat"], cluster.sent().values().sum());
//! // Delivered until nothing is in flight, timers firing on the way.
//! cluster.drive();
//! assert_eq!(cluster.in_flight().count(), 0);
//! assert!(cluster.now() <= Instant::from_millis(4_050));
//! ```
//!
//! [`protocol`]: crate::protocol
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::{Input, Instant, NodeId, Output, Participant, Restore, Rng, wire};

/// How many steps [`Cluster::drive`] and [`Cluster::deliver_where`] take
/// before they decide the cluster will never go quiet, and panic.
pub const STEP_BOUND: usize = 100_000;

/// The network's faults: per-message probabilities, and the one-way delay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Chance that a message is lost.
    pub loss: f64,
    /// Chance that a message is delivered twice (each copy with its own
    /// delay).
    pub duplicate: f64,
    /// The delay is uniform in `min_delay_ms..=max_delay_ms`; messages whose
    /// delays differ arrive out of order, equal ones in sending order.
    pub min_delay_ms: u64,
    /// See [`min_delay_ms`](Self::min_delay_ms).
    pub max_delay_ms: u64,
}

impl Faults {
    /// A perfect network: nothing lost or duplicated, every message
    /// arriving at once and in sending order.
    pub const NONE: Faults = Faults {
        loss: 0.0,
        duplicate: 0.0,
        min_delay_ms: 0,
        max_delay_ms: 0,
    };

    /// The synchronous model: nothing lost or duplicated, a delay of 1 to
    /// `max_delay_ms` ms.
    #[must_use]
    pub const fn synchronous(max_delay_ms: u64) -> Faults {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            min_delay_ms: 1,
            max_delay_ms,
        }
    }
}

/// A message in flight, as the predicates of [`Cluster::deliver_where`] and
/// [`Cluster::drop_where`] see it.
#[derive(Clone, Debug)]
pub struct Envelope<M> {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// When it arrives, if time moves the cluster.
    pub at: Instant,
    /// The message, as sent.
    pub message: M,
    /// Its wire frame, which is what is delivered.
    frame: Vec<u8>,
}

/// Something due at a time: a message's arrival, or a scheduled fault.
#[derive(Debug)]
enum Happening<M> {
    Arrive(Envelope<M>),
    Crash(NodeId),
    Restart(NodeId),
}

/// One node: its configuration, the participant while it is up, its disk.
struct Slot<P: Restore> {
    config: P::Config,
    node: Option<P>,
    disk: Vec<P::Persist>,
}

/// Whether a scheduled crash of a node may happen now (see
/// [`Cluster::set_crash_guard`]).
pub type CrashGuard<P> = fn(&Cluster<P>, NodeId) -> bool;

/// The events of a run: when, which node, what.
pub type Events<E> = Vec<(Instant, NodeId, E)>;

/// A simulated cluster of participants of one type; see the [module
/// documentation](self).
pub struct Cluster<P: Restore> {
    slots: BTreeMap<NodeId, Slot<P>>,
    /// Due happenings by (time, sequence number): ties go in the order
    /// they were scheduled.
    queue: BTreeMap<(Instant, u64), Happening<P::Message>>,
    seq: u64,
    now: Instant,
    rng: Rng,
    faults: Faults,
    cut: BTreeSet<(NodeId, NodeId)>,
    crash_guard: CrashGuard<P>,
    events: Events<P::Event>,
    sent: BTreeMap<String, usize>,
}

impl<P> fmt::Debug for Cluster<P>
where
    P: Restore,
    P::Config: Clone,
    P::Message: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let up: Vec<NodeId> = self.live().map(Participant::id).collect();
        f.debug_struct("Cluster")
            .field("now", &self.now)
            .field("nodes", &self.slots.keys().collect::<Vec<_>>())
            .field("up", &up)
            .field("in_flight", &self.in_flight().count())
            .field("cut", &self.cut)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl<P> Cluster<P>
where
    P: Restore,
    P::Config: Clone,
    P::Message: fmt::Debug,
{
    /// An empty cluster at time zero, whose network has `faults` and draws
    /// its randomness from `seed`.
    #[must_use]
    pub fn new(seed: u64, faults: Faults) -> Self {
        Cluster {
            slots: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            now: Instant::ZERO,
            rng: Rng::seed_from_u64(seed),
            faults,
            cut: BTreeSet::new(),
            crash_guard: |_, _| true,
            events: Vec::new(),
            sent: BTreeMap::new(),
        }
    }

    /// Adds a new node, built with `Restore::restore(config, &[])`, and
    /// returns its id. It is not ticked.
    pub fn add(&mut self, config: P::Config) -> NodeId {
        self.add_with_disk(config, Vec::new())
    }

    /// Adds a node whose disk already holds `disk` (a node that ran before
    /// the test began), built from it. It is not ticked.
    ///
    /// # Panics
    /// If the node cannot be restored, or its id is taken.
    pub fn add_with_disk(&mut self, config: P::Config, disk: Vec<P::Persist>) -> NodeId {
        let node = P::restore(config.clone(), &disk)
            .unwrap_or_else(|e| panic!("a node could not be built: {e}"));
        let id = node.id();
        let slot = Slot {
            config,
            node: Some(node),
            disk,
        };
        assert!(self.slots.insert(id, slot).is_none(), "{id} added twice");
        id
    }

    // ---- looking ------------------------------------------------------------

    /// The simulated time.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Every node's id, up or down, in order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.slots.keys().copied()
    }

    /// Node `id`, or `None` if it is down or unknown.
    #[must_use]
    pub fn get(&self, id: NodeId) -> Option<&P> {
        self.slots.get(&id)?.node.as_ref()
    }

    /// Node `id`.
    ///
    /// # Panics
    /// If it is down or unknown.
    #[must_use]
    pub fn node(&self, id: NodeId) -> &P {
        self.get(id).unwrap_or_else(|| panic!("{id} is down"))
    }

    /// Node `id`, to change it outside the protocol (its outputs are taken
    /// with its next input).
    ///
    /// # Panics
    /// If it is down or unknown.
    pub fn node_mut(&mut self, id: NodeId) -> &mut P {
        self.slot(id)
            .node
            .as_mut()
            .unwrap_or_else(|| panic!("{id} is down"))
    }

    /// The nodes that are up, by id.
    pub fn live(&self) -> impl Iterator<Item = &P> {
        self.slots.values().filter_map(|s| s.node.as_ref())
    }

    /// What node `id` persisted, in order, across all its lives.
    #[must_use]
    pub fn disk(&self, id: NodeId) -> &[P::Persist] {
        &self.slots[&id].disk
    }

    /// Every event so far, in the order the nodes emitted them.
    #[must_use]
    pub fn events(&self) -> &[(Instant, NodeId, P::Event)] {
        &self.events
    }

    /// The events node `id` emitted, in order.
    pub fn events_of(&self, id: NodeId) -> impl Iterator<Item = &P::Event> {
        self.events
            .iter()
            .filter(move |(_, n, _)| *n == id)
            .map(|(_, _, e)| e)
    }

    /// Takes every event so far, leaving none.
    pub fn take_events(&mut self) -> Events<P::Event> {
        core::mem::take(&mut self.events)
    }

    /// How many messages were sent (lost ones included), by the name their
    /// `Debug` form starts with (an enum's variant, a struct's name).
    #[must_use]
    pub fn sent(&self) -> &BTreeMap<String, usize> {
        &self.sent
    }

    /// Takes the counts of [`sent`](Self::sent), starting again from none.
    pub fn take_sent(&mut self) -> BTreeMap<String, usize> {
        core::mem::take(&mut self.sent)
    }

    /// The messages in flight, in the order they arrive.
    pub fn in_flight(&self) -> impl Iterator<Item = &Envelope<P::Message>> {
        self.queue.values().filter_map(|h| match h {
            Happening::Arrive(envelope) => Some(envelope),
            _ => None,
        })
    }

    /// The network's faults.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Changes the network's faults, for messages sent from now on.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    // ---- acting on one node -------------------------------------------------

    /// Feeds node `id` one input at the current time and takes its outputs:
    /// sends go into the network, records onto its disk, events to
    /// [`events`](Self::events). Returns what the node answered.
    ///
    /// # Panics
    /// If the node is down or unknown.
    pub fn input(
        &mut self,
        id: NodeId,
        input: Input<P::Message, P::Command>,
    ) -> Result<(), P::Error> {
        let now = self.now;
        let result = self.node_mut(id).handle_input(now, input);
        self.drain(id);
        result
    }

    /// Feeds node `id` a local command; as [`input`](Self::input).
    ///
    /// # Errors
    /// What the node answered.
    pub fn command(&mut self, id: NodeId, command: P::Command) -> Result<(), P::Error> {
        self.input(id, Input::Command(command))
    }

    /// Ticks node `id` at the current time, whether or not it is due.
    ///
    /// # Panics
    /// If the node is down or refuses the tick.
    pub fn tick(&mut self, id: NodeId) {
        let now = self.now;
        let result = self.node_mut(id).handle_input(now, Input::Tick);
        self.drain(id);
        result.unwrap_or_else(|e| panic!("{id} refused a tick at {now}: {e}"));
    }

    /// Lets node `id`'s timer go off: the clock moves on to its deadline
    /// (never back), and the node alone is ticked.
    ///
    /// # Panics
    /// If the node is down, has no deadline, or refuses the tick.
    pub fn fire(&mut self, id: NodeId) {
        let due = self
            .node(id)
            .next_deadline()
            .unwrap_or_else(|| panic!("{id} has no deadline"));
        self.now = self.now.max(due);
        self.tick(id);
    }

    /// Takes node `id`'s outputs, in order.
    fn drain(&mut self, id: NodeId) {
        let Cluster {
            slots,
            queue,
            seq,
            now,
            rng,
            faults,
            events,
            sent,
            ..
        } = self;
        let slot = slots.get_mut(&id).unwrap();
        let Some(node) = slot.node.as_mut() else {
            return;
        };
        while let Some(output) = node.poll_output() {
            match output {
                Output::Send { to, message } => {
                    let name = format!("{message:?}");
                    let name = name.split([' ', '{', '(']).next().unwrap_or("");
                    *sent.entry(name.to_string()).or_default() += 1;
                    let frame = wire::encode_to_vec(&message).unwrap_or_else(|e| {
                        panic!("{id} sent a message that does not encode: {e}")
                    });
                    if rng.chance(faults.loss) {
                        continue;
                    }
                    let copies = if rng.chance(faults.duplicate) { 2 } else { 1 };
                    for _ in 0..copies {
                        let delay = rng.between(faults.min_delay_ms, faults.max_delay_ms);
                        let at = now.saturating_add_millis(delay);
                        let envelope = Envelope {
                            from: id,
                            to,
                            at,
                            message: wire::decode(&frame).unwrap_or_else(|e| {
                                panic!("{id} sent a message that does not decode: {e}")
                            }),
                            frame: frame.clone(),
                        };
                        *seq += 1;
                        queue.insert((at, *seq), Happening::Arrive(envelope));
                    }
                }
                Output::Persist(record) => slot.disk.push(record),
                Output::Event(event) => events.push((*now, id, event)),
            }
        }
    }

    fn slot(&mut self, id: NodeId) -> &mut Slot<P> {
        self.slots
            .get_mut(&id)
            .unwrap_or_else(|| panic!("{id} is not in the cluster"))
    }

    // ---- the network, step by step --------------------------------------------

    /// Delivers `envelope` now, unless its link is cut or its receiver down.
    fn deliver(&mut self, envelope: &Envelope<P::Message>) {
        let (from, to) = (envelope.from, envelope.to);
        if self.cut.contains(&(from, to)) {
            return;
        }
        let now = self.now;
        let Some(node) = self.slots.get_mut(&to).and_then(|s| s.node.as_mut()) else {
            return;
        };
        node.handle_message(now, from, &envelope.frame)
            .unwrap_or_else(|e| panic!("{to} refused a frame from {from} at {now}: {e}"));
        self.drain(to);
    }

    /// The key of the first message in flight that satisfies `pred`.
    fn first_where(
        &self,
        pred: &mut impl FnMut(&Envelope<P::Message>) -> bool,
    ) -> Option<(Instant, u64)> {
        self.queue
            .iter()
            .find(|(_, h)| matches!(h, Happening::Arrive(e) if pred(e)))
            .map(|(&key, _)| key)
    }

    /// Delivers the message that arrives first, at the current time (lost
    /// if its link is cut or its receiver down); `false` if none is in
    /// flight.
    pub fn deliver_one(&mut self) -> bool {
        self.deliver_where_once(&mut |_| true)
    }

    fn deliver_where_once(&mut self, pred: &mut impl FnMut(&Envelope<P::Message>) -> bool) -> bool {
        let Some(key) = self.first_where(pred) else {
            return false;
        };
        if let Some(Happening::Arrive(envelope)) = self.queue.remove(&key) {
            self.deliver(&envelope);
        }
        true
    }

    /// Delivers, one at a time and in arrival order, every message in
    /// flight that satisfies `pred`, the ones sent meanwhile included, at
    /// the current time; the others stay in flight. No timer fires.
    /// Returns how many were taken (lost ones included).
    ///
    /// # Panics
    /// After [`STEP_BOUND`] messages: the network never goes quiet.
    pub fn deliver_where(&mut self, mut pred: impl FnMut(&Envelope<P::Message>) -> bool) -> usize {
        let mut taken = 0;
        while self.deliver_where_once(&mut pred) {
            taken += 1;
            assert!(taken < STEP_BOUND, "the network never went quiet");
        }
        taken
    }

    /// [`deliver_where`](Self::deliver_where) for every message.
    pub fn deliver_all(&mut self) -> usize {
        self.deliver_where(|_| true)
    }

    /// Loses every message in flight that satisfies `pred`; returns how
    /// many.
    pub fn drop_where(&mut self, mut pred: impl FnMut(&Envelope<P::Message>) -> bool) -> usize {
        let before = self.queue.len();
        self.queue
            .retain(|_, h| !matches!(h, Happening::Arrive(e) if pred(e)));
        before - self.queue.len()
    }

    // ---- links ----------------------------------------------------------------

    /// Splits the cluster into `groups` (nodes in none form one more
    /// group): every link between two groups is cut, every other healed.
    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        let group_of = |id: &NodeId| groups.iter().position(|g| g.contains(id));
        self.cut.clear();
        for a in self.slots.keys() {
            for b in self.slots.keys() {
                if group_of(a) != group_of(b) {
                    self.cut.insert((*a, *b));
                }
            }
        }
    }

    /// Cuts every link to and from node `id`.
    pub fn isolate(&mut self, id: NodeId) {
        for &other in self.slots.keys() {
            self.cut.insert((id, other));
            self.cut.insert((other, id));
        }
    }

    /// Cuts the link from `from` to `to`, one way.
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.cut.insert((from, to));
    }

    /// Heals every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    // ---- crashes ----------------------------------------------------------------

    /// Crashes node `id` now: it is dropped, its disk kept. Messages to it
    /// are lost while it is down.
    pub fn crash(&mut self, id: NodeId) {
        self.slot(id).node = None;
    }

    /// Rebuilds node `id` with `Restore::restore(config, disk)` from its
    /// configuration and everything it persisted; a node that is up is
    /// dropped first, as in a crash. It is not ticked.
    ///
    /// # Panics
    /// If the node cannot be restored from its own records.
    pub fn restart_from_disk(&mut self, id: NodeId) {
        let slot = self.slot(id);
        let node = P::restore(slot.config.clone(), &slot.disk)
            .unwrap_or_else(|e| panic!("{id} could not restart from its disk: {e}"));
        slot.node = Some(node);
    }

    /// Schedules a crash of node `id` at `at`, if the
    /// [crash guard](Self::set_crash_guard) allows it then.
    pub fn crash_at(&mut self, id: NodeId, at: Instant) {
        self.schedule(at, Happening::Crash(id));
    }

    /// Schedules a [restart](Self::restart_from_disk) of node `id` at `at`,
    /// if it is down then.
    pub fn restart_at(&mut self, id: NodeId, at: Instant) {
        self.schedule(at, Happening::Restart(id));
    }

    /// Sets what decides whether a scheduled crash happens (by default
    /// every one does); a crash it declines is skipped. Crashes by
    /// [`crash`](Self::crash) are not asked.
    pub fn set_crash_guard(&mut self, guard: CrashGuard<P>) {
        self.crash_guard = guard;
    }

    fn schedule(&mut self, at: Instant, what: Happening<P::Message>) {
        self.seq += 1;
        self.queue.insert((at, self.seq), what);
    }

    // ---- time ----------------------------------------------------------------

    /// Runs `ms` of simulated time; see [`run_until`](Self::run_until).
    pub fn advance(&mut self, ms: u64) {
        self.run_until(self.now.saturating_add_millis(ms));
    }

    /// As [`advance`](Self::advance), but only the nodes in `ticking` are
    /// ticked; the others' timers wait.
    pub fn advance_ticking(&mut self, ms: u64, ticking: &[NodeId]) {
        let until = self.now.saturating_add_millis(ms);
        while self.step_until(until, Some(ticking)) {}
        self.now = self.now.max(until);
    }

    /// Runs simulated time up to `until`: messages arrive, scheduled
    /// crashes and restarts happen, and nodes are ticked when their
    /// deadlines fall due, in time order (at one instant, the network and
    /// the schedule first, in the order they were scheduled; then timers,
    /// lowest id first). Then the clock reads `until` (it never goes back).
    pub fn run_until(&mut self, until: Instant) {
        while self.step_until(until, None) {}
        self.now = self.now.max(until);
    }

    /// Runs as [`run_until`](Self::run_until), with no end, until no
    /// message is in flight; returns how many steps it took.
    ///
    /// # Panics
    /// After [`STEP_BOUND`] steps: the network never goes quiet.
    pub fn drive(&mut self) -> usize {
        let mut steps = 0;
        while self.in_flight().next().is_some() {
            self.step_until(Instant::MAX, None);
            steps += 1;
            assert!(steps < STEP_BOUND, "the network never went quiet");
        }
        steps
    }

    /// Lets the clock jump `ms` ahead with nothing happening on the way: no
    /// message arrives and no node is ticked.
    pub fn skip(&mut self, ms: u64) {
        self.now = self.now.saturating_add_millis(ms);
    }

    /// Takes the next step due at `until` or before; `false` if there is
    /// none.
    fn step_until(&mut self, until: Instant, ticking: Option<&[NodeId]>) -> bool {
        let timer = self
            .slots
            .iter()
            .filter(|(id, _)| ticking.is_none_or(|t| t.contains(id)))
            .filter_map(|(&id, s)| Some((s.node.as_ref()?.next_deadline()?, id)))
            .min();
        let next = self.queue.first_key_value().map(|(&(at, _), _)| at);
        let at = match (timer, next) {
            (Some((t, _)), Some(q)) => t.min(q),
            (Some((t, _)), None) => t,
            (None, Some(q)) => q,
            (None, None) => return false,
        };
        if at > until {
            return false;
        }
        self.now = self.now.max(at);
        if next == Some(at) {
            let (_, what) = self.queue.pop_first().unwrap();
            match what {
                Happening::Arrive(envelope) => self.deliver(&envelope),
                Happening::Crash(id) => {
                    if (self.crash_guard)(self, id) {
                        self.crash(id);
                    }
                }
                Happening::Restart(id) => {
                    if self.get(id).is_none() {
                        self.restart_from_disk(id);
                    }
                }
            }
        } else if let Some((_, id)) = timer {
            self.tick(id);
        }
        true
    }
}
