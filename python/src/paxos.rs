//! `consensio.paxos`: Multi-Paxos, a replicated log of chosen values with
//! durable acceptors and a stable leader; and single-decree Paxos, the
//! teaching form.

use consensio::paxos::{
    self, Ballot, Command, Event, KvNode as CoreKv, PaxosNode as CoreNode, Persist, Role,
    SingleDecree as CoreSingle, kv, single,
};
use consensio::raft::{KvLimits, KvOp};
use consensio::{Input, NodeId, Participant, Restore, wire};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};

use crate::participant::{Node, Outputs, event_class, participant_methods};
use crate::raft::{KvNode as RaftKv, Reply, records_in};
use crate::{PersistOutput, error, node_ids};

/// Output: `value` is chosen at `slot` (empty: a no-op, apply it as
/// nothing). Every slot from 1 comes once, in order; a restored node
/// reports them again from 1.
#[pyclass(module = "consensio.paxos", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Chosen {
    /// The slot.
    #[pyo3(get)]
    slot: u64,
    payload: Vec<u8>,
}

#[pymethods]
impl Chosen {
    #[new]
    fn new(slot: u64, value: &[u8]) -> Self {
        Chosen {
            slot,
            payload: value.to_vec(),
        }
    }

    /// The chosen value, as proposed (empty: a no-op).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.payload)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let value = PyBytes::new(py, &self.payload).repr()?;
        Ok(format!("Chosen(slot={}, value={value})", self.slot))
    }
}

event_class! {
    /// Output: a majority adopted this node's ballot `(round, node)`
    /// (phase 1 is done): it leads, and proposals go to it now.
    "consensio.paxos", Adopted {
        /// The ballot's round.
        round: u64,
        /// The ballot's node (this one).
        node: u64,
    }
}

event_class! {
    /// Output: a restarted node starts from its latest snapshot: load
    /// `PaxosNode.snapshot` into the application, which then holds every
    /// slot through `upto`; `Chosen` goes on after it.
    "consensio.paxos", Snapshot {
        /// The last slot the snapshot covers.
        upto: u64,
    }
}

event_class! {
    /// Output: this node stopped leading under ballot `(round, node)`. Its
    /// proposals not yet reported `Chosen` may or may not be chosen later.
    "consensio.paxos", SteppedDown {
        /// The ballot's round.
        round: u64,
        /// The ballot's node (this one).
        node: u64,
    }
}

impl Outputs for CoreKv {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        <CoreNode as Outputs>::persist(py, record)
    }

    fn event(py: Python<'_>, event: kv::Event) -> PyResult<Py<PyAny>> {
        match event {
            kv::Event::Paxos(event) => <CoreNode as Outputs>::event(py, event),
            kv::Event::Reply { id, result } => {
                Ok(Py::new(py, Reply::from_core(id, result))?.into_any())
            }
        }
    }
}

impl Outputs for CoreNode {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        PersistOutput::encoded(py, &record)
    }

    fn event(py: Python<'_>, event: Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            Event::Chosen { slot, value } => Py::new(
                py,
                Chosen {
                    slot,
                    payload: value,
                },
            )?
            .into_any(),
            Event::Adopted { ballot } => {
                Py::new(py, Adopted::new(ballot.round, ballot.node.0))?.into_any()
            }
            Event::Snapshot { upto } => Py::new(py, Snapshot::new(upto))?.into_any(),
            Event::SteppedDown { ballot } => {
                Py::new(py, SteppedDown::new(ballot.round, ballot.node.0))?.into_any()
            }
        })
    }
}

/// The Paxos configuration both node classes take: `timing` is the
/// heartbeat, the election timeout's bounds, the backoff's base and cap,
/// the window and the log's bound; `sizes` the values per message, the
/// queued proposals and the longest value.
fn configure(
    id: u64,
    members: &Bound<'_, PyAny>,
    seed: Option<u64>,
    timing: [u64; 7],
    sizes: [usize; 3],
) -> PyResult<paxos::Config> {
    let [
        heartbeat_interval_ms,
        election_timeout_min_ms,
        election_timeout_max_ms,
        backoff_base_ms,
        backoff_max_ms,
        window,
        max_log_entries,
    ] = timing;
    let [max_batch, max_pending, max_proposal_bytes] = sizes;
    Ok(paxos::Config {
        id: NodeId(id),
        members: node_ids(members)?,
        heartbeat_interval_ms,
        election_timeout_min_ms,
        election_timeout_max_ms,
        backoff_base_ms,
        backoff_max_ms,
        window,
        max_batch,
        max_pending,
        max_log_entries,
        max_proposal_bytes,
        seed: seed.unwrap_or(id),
    })
}

const fn pair(b: Ballot) -> (u64, u64) {
    (b.round, b.node.0)
}

/// One Multi-Paxos node: acceptor, learner and, when it leads, proposer.
///
/// `members` is the fixed voting set, this node included (at most 64;
/// ids above 0). Feed it frames (`handle_message`), `tick` it at
/// `next_deadline`, `propose` values on the leader, and drain `poll()`
/// (or iterate) after every call: make each `Persist` durable, in order,
/// before acting on the outputs after it. Rebuild a restarted node with
/// `PaxosNode.restore(id, members, records, **config)` from every record
/// it persisted. `seed` defaults to the id.
#[pyclass(module = "consensio.paxos", frozen)]
#[derive(Debug)]
pub(crate) struct PaxosNode {
    node: Node<CoreNode>,
}

participant_methods! {
    PaxosNode;

    #[new]
    #[pyo3(signature = (id, members, *, seed=None, heartbeat_interval_ms=50,
                        election_timeout_min_ms=150, election_timeout_max_ms=300,
                        backoff_base_ms=20, backoff_max_ms=2000, window=256,
                        max_batch=64, max_pending=4096, max_log_entries=1_000_000,
                        max_proposal_bytes=65536))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        seed: Option<u64>,
        heartbeat_interval_ms: u64,
        election_timeout_min_ms: u64,
        election_timeout_max_ms: u64,
        backoff_base_ms: u64,
        backoff_max_ms: u64,
        window: u64,
        max_batch: usize,
        max_pending: usize,
        max_log_entries: u64,
        max_proposal_bytes: usize,
    ) -> PyResult<Self> {
        let config = configure(
            id,
            members,
            seed,
            [heartbeat_interval_ms, election_timeout_min_ms, election_timeout_max_ms, backoff_base_ms, backoff_max_ms, window, max_log_entries],
            [max_batch, max_pending, max_proposal_bytes],
        )?;
        let node = CoreNode::new(config).map_err(error)?;
        Ok(PaxosNode { node: Node::new(node) })
    }

    /// A node restarted from every record it persisted (each
    /// `Persist.value`, in the order polled), with the same keyword
    /// arguments as the constructor. Its first outputs report its chosen
    /// prefix again, from slot 1. Raises `MalformedMessage` for bytes that
    /// are not a record, or for a record that does not fit the
    /// configuration.
    #[classmethod]
    #[pyo3(signature = (id, members, records, **config))]
    fn restore(
        cls: &Bound<'_, PyType>,
        id: u64,
        members: &Bound<'_, PyAny>,
        records: &Bound<'_, PyAny>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let records = records_in(records)?;
        // The constructor checks the configuration.
        let fresh = cls.call((id, members), config)?;
        let fresh = fresh.cast::<PaxosNode>()?.get();
        let config = fresh.node.with(|n| n.config().clone());
        let node = CoreNode::restore(config, &records).map_err(error)?;
        Ok(Py::new(cls.py(), PaxosNode { node: Node::new(node) })?.into_any())
    }

    /// Every member, sorted.
    #[getter]
    fn members(&self) -> Vec<u64> {
        self.node.with(|n| n.config().members.iter().map(|m| m.0).collect())
    }

    /// "follower", "candidate" (running phase 1) or "leader".
    #[getter]
    fn role(&self) -> &'static str {
        self.node.with(|n| role_name(n.role()))
    }

    /// The leader this node follows (itself if it leads), or None.
    #[getter]
    fn leader(&self) -> Option<u64> {
        self.node.with(|n| n.leader().map(|l| l.0))
    }

    /// The ballot `(round, node)` it leads or campaigns under (`(0, 0)`
    /// as a follower).
    #[getter]
    fn ballot(&self) -> (u64, u64) {
        self.node.with(|n| pair(n.ballot()))
    }

    /// The highest ballot `(round, node)` this acceptor promised.
    #[getter]
    fn promised(&self) -> (u64, u64) {
        self.node.with(|n| pair(n.promised()))
    }

    /// The first slot not known to be chosen: every slot below is.
    #[getter]
    fn first_unchosen(&self) -> u64 {
        self.node.with(CoreNode::first_unchosen)
    }

    /// The last slot reported `Chosen`.
    #[getter]
    fn applied(&self) -> u64 {
        self.node.with(CoreNode::applied)
    }

    /// Proposals queued at the leader, waiting for the window.
    #[getter]
    fn pending(&self) -> usize {
        self.node.with(CoreNode::pending)
    }

    /// The value chosen at `slot`, if this node knows it (empty: a no-op).
    fn chosen<'py>(&self, py: Python<'py>, slot: u64) -> Option<Bound<'py, PyBytes>> {
        self.node.with(|n| n.chosen(slot).map(|v| PyBytes::new(py, v)))
    }

    /// Proposes `value` (not empty: the empty value is the no-op) on the
    /// leader; `Chosen` reports it once chosen. Raises `Rejected` on a node
    /// that is not the leader (see `leader`), `InvalidArgument` for an
    /// empty value, `LimitExceeded` if the value is over
    /// `max_proposal_bytes`, too many proposals wait, or the log is full.
    fn propose(&self, py: Python<'_>, now_ms: u64, value: &[u8]) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Command(Command::Propose(value.to_vec())))
    }

    /// Hands the node the application's state through slot `upto` (at
    /// most `applied`): a snapshot record replaces every record before it,
    /// so the host may delete those once it is durable
    /// (`is_snapshot_record`). Raises `InvalidArgument` for an `upto` past
    /// `applied`.
    fn compact(&self, py: Python<'_>, now_ms: u64, upto: u64, snapshot: &[u8]) -> PyResult<()> {
        let command = Command::Compact { upto, snapshot: snapshot.to_vec() };
        self.node.input(py, now_ms, Input::Command(command))
    }

    /// The latest snapshot `(upto, bytes)` given or restored, or None.
    #[getter]
    fn snapshot<'py>(&self, py: Python<'py>) -> Option<(u64, Bound<'py, PyBytes>)> {
        self.node
            .with(|n| n.snapshot().map(|(u, d)| (u, d.to_vec())))
            .map(|(u, d)| (u, PyBytes::new(py, &d)))
    }

    /// The first slot this node still holds in memory (the slots below it
    /// every member applied).
    #[getter]
    fn first_held(&self) -> u64 {
        self.node.with(CoreNode::first_held)
    }

    /// Starts phase 1 now, as if the leader had been lost (without asking
    /// the peers first, as an election timeout does).
    fn campaign(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Command(Command::Campaign))
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let leader = n.leader().map_or_else(|| "None".to_string(), |l| l.0.to_string());
            format!(
                "PaxosNode(id={}, role={:?}, leader={leader}, first_unchosen={})",
                n.id().0,
                n.role(),
                n.first_unchosen()
            )
        })
    }
}

/// A replicated key-value store on a Multi-Paxos node: the store and the
/// client sessions of `consensio.raft.KvNode`, applied in slot order, and
/// answered with the same `consensio.raft.Reply` events.
///
/// It takes the keyword arguments of `PaxosNode` and the store's limits
/// (`max_keys`, `max_key_bytes`, `max_value_bytes`, `max_sessions`,
/// `session_expiry_ms`), which every node of a cluster must share. Its
/// records are the Paxos node's; rebuild a restarted node with
/// `PaxosKvNode.restore(id, members, records, **config)`, which applies the
/// chosen prefix again. Commands (leader only, else the reply is
/// "not_leader") each take a `request_id` and get exactly one `Reply`:
/// `open_session`, then `put`, `delete` and `cas` with the session's
/// `client` id and sequence numbers 1, 2, 3, ..., and linearizable reads
/// (`get`, through the log). A write answered "retry", or not at all, is
/// sent again with the same `seq`: the session answers a copy that was
/// applied. A key or value over the limits raises `LimitExceeded`.
#[pyclass(module = "consensio.paxos", frozen)]
#[derive(Debug)]
pub(crate) struct PaxosKvNode {
    node: Node<CoreKv>,
    limits: KvLimits,
}

impl PaxosKvNode {
    fn command(&self, py: Python<'_>, now_ms: u64, command: kv::Command) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Command(command))
    }

    fn key(&self, key: &[u8]) -> PyResult<Vec<u8>> {
        RaftKv::bounded(key, "key", self.limits.max_key_bytes)
    }

    fn value(&self, value: &[u8], what: &str) -> PyResult<Vec<u8>> {
        RaftKv::bounded(value, what, self.limits.max_value_bytes)
    }

    fn write(
        &self,
        py: Python<'_>,
        now_ms: u64,
        id: u64,
        client: u64,
        seq: u64,
        op: KvOp,
    ) -> PyResult<()> {
        self.command(
            py,
            now_ms,
            kv::Command::Write {
                id,
                client,
                seq,
                op,
            },
        )
    }
}

participant_methods! {
    PaxosKvNode;

    #[new]
    #[pyo3(signature = (id, members, *, seed=None, heartbeat_interval_ms=50,
                        election_timeout_min_ms=150, election_timeout_max_ms=300,
                        backoff_base_ms=20, backoff_max_ms=2000, window=256,
                        max_batch=64, max_pending=4096, max_log_entries=1_000_000,
                        max_proposal_bytes=65536, max_keys=65_536, max_key_bytes=1_024,
                        max_value_bytes=16_384, max_sessions=10_000,
                        session_expiry_ms=3_600_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        seed: Option<u64>,
        heartbeat_interval_ms: u64,
        election_timeout_min_ms: u64,
        election_timeout_max_ms: u64,
        backoff_base_ms: u64,
        backoff_max_ms: u64,
        window: u64,
        max_batch: usize,
        max_pending: usize,
        max_log_entries: u64,
        max_proposal_bytes: usize,
        max_keys: usize,
        max_key_bytes: usize,
        max_value_bytes: usize,
        max_sessions: usize,
        session_expiry_ms: u64,
    ) -> PyResult<Self> {
        let config = configure(
            id,
            members,
            seed,
            [heartbeat_interval_ms, election_timeout_min_ms, election_timeout_max_ms, backoff_base_ms, backoff_max_ms, window, max_log_entries],
            [max_batch, max_pending, max_proposal_bytes],
        )?;
        let limits = KvLimits {
            max_keys,
            max_key_bytes,
            max_value_bytes,
            max_sessions,
            session_expiry_ms,
        };
        let node = CoreKv::new(config, limits).map_err(error)?;
        Ok(PaxosKvNode { node: Node::new(node), limits })
    }

    /// A node restarted from every record it persisted, with the same
    /// keyword arguments as the constructor; its store is rebuilt from the
    /// chosen prefix, reported again from slot 1. Raises as
    /// `PaxosNode.restore`.
    #[classmethod]
    #[pyo3(signature = (id, members, records, **config))]
    fn restore(
        cls: &Bound<'_, PyType>,
        id: u64,
        members: &Bound<'_, PyAny>,
        records: &Bound<'_, PyAny>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let records = records_in(records)?;
        let fresh = cls.call((id, members), config)?;
        let fresh = fresh.cast::<PaxosKvNode>()?.get();
        let config = fresh.node.with(|n| n.paxos().config().clone());
        let node = CoreKv::restore((config, fresh.limits), &records).map_err(error)?;
        let restored = PaxosKvNode { node: Node::new(node), limits: fresh.limits };
        Ok(Py::new(cls.py(), restored)?.into_any())
    }

    /// "follower", "candidate" or "leader".
    #[getter]
    fn role(&self) -> &'static str {
        self.node.with(|n| role_name(n.paxos().role()))
    }

    /// The leader this node follows (itself if it leads), or None.
    #[getter]
    fn leader(&self) -> Option<u64> {
        self.node.with(|n| n.paxos().leader().map(|l| l.0))
    }

    /// The first slot not known to be chosen.
    #[getter]
    fn first_unchosen(&self) -> u64 {
        self.node.with(|n| n.paxos().first_unchosen())
    }

    /// The last slot applied to this node's store.
    #[getter]
    fn applied(&self) -> u64 {
        self.node.with(|n| n.store().applied_index())
    }

    /// The value of `key` in this node's store as far as it has applied
    /// the log, or None: not linearizable; read with `get` for that.
    fn local_value<'py>(&self, py: Python<'py>, key: &[u8]) -> Option<Bound<'py, PyBytes>> {
        self.node
            .with(|n| n.store().get(key).map(<[u8]>::to_vec))
            .map(|v| PyBytes::new(py, &v))
    }

    /// Opens a client session; the `Reply` ("session_opened") carries the
    /// new `client` id.
    fn open_session(&self, py: Python<'_>, now_ms: u64, request_id: u64) -> PyResult<()> {
        self.command(py, now_ms, kv::Command::OpenSession { id: request_id })
    }

    /// Sets `key` to `value`: write `seq` of session `client`. Replies
    /// "done" once applied.
    #[allow(clippy::too_many_arguments)]
    fn put(&self, py: Python<'_>, now_ms: u64, request_id: u64, client: u64, seq: u64, key: &[u8], value: &[u8]) -> PyResult<()> {
        let op = KvOp::Put { key: self.key(key)?, value: self.value(value, "value")? };
        self.write(py, now_ms, request_id, client, seq, op)
    }

    /// Removes `key`: write `seq` of session `client`. Replies "done" once
    /// applied, whether or not the key was there.
    fn delete(&self, py: Python<'_>, now_ms: u64, request_id: u64, client: u64, seq: u64, key: &[u8]) -> PyResult<()> {
        let op = KvOp::Delete { key: self.key(key)? };
        self.write(py, now_ms, request_id, client, seq, op)
    }

    /// Compare-and-set, as `consensio.raft.KvNode.cas`. Replies "swapped"
    /// or "not_swapped" once applied.
    #[allow(clippy::too_many_arguments)]
    fn cas(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        client: u64,
        seq: u64,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> PyResult<()> {
        let op = KvOp::Cas {
            key: self.key(key)?,
            expected: expected.map(|v| self.value(v, "expected")).transpose()?,
            new: new.map(|v| self.value(v, "new")).transpose()?,
        };
        self.write(py, now_ms, request_id, client, seq, op)
    }

    /// A linearizable read of `key`, through the log. Replies "value" or
    /// "absent", or "retry" if leadership was lost first.
    fn get(&self, py: Python<'_>, now_ms: u64, request_id: u64, key: &[u8]) -> PyResult<()> {
        self.command(py, now_ms, kv::Command::Get { id: request_id, key: self.key(key)? })
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let p = n.paxos();
            let leader = p.leader().map_or_else(|| "None".to_string(), |l| l.0.to_string());
            format!(
                "PaxosKvNode(id={}, role='{}', leader={leader}, keys={})",
                p.id().0,
                role_name(p.role()),
                n.store().len()
            )
        })
    }
}

const fn role_name(role: Role) -> &'static str {
    match role {
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// Whether `record` (a `Persist.value` of a `PaxosNode` or `PaxosKvNode`)
/// is a snapshot record: once it is durable, the records before it may be
/// deleted. Raises `MalformedMessage` if it is not a record.
#[pyfunction]
fn paxos_is_snapshot_record(record: &[u8]) -> PyResult<bool> {
    let record = wire::decode::<Persist>(record).map_err(error)?;
    Ok(matches!(record, Persist::Snapshot { .. }))
}

/// Output of a `SingleDecreeNode`: `value` is chosen; once per life (a
/// restored node that recorded it reports it again first).
#[pyclass(module = "consensio.paxos", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Decided {
    payload: Vec<u8>,
}

#[pymethods]
impl Decided {
    #[new]
    fn new(value: &[u8]) -> Self {
        Decided {
            payload: value.to_vec(),
        }
    }

    /// The chosen value.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.payload)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let value = PyBytes::new(py, &self.payload).repr()?;
        Ok(format!("Decided(value={value})"))
    }
}

event_class! {
    /// Output of a `SingleDecreeNode`: its attempt at ballot `(round, this
    /// node)` was refused, an acceptor having promised the higher ballot
    /// `(by_round, by_node)`. It tries again after its backoff.
    "consensio.paxos", Preempted {
        /// The attempt's round.
        round: u64,
        /// The round of the higher promise.
        by_round: u64,
        /// The node of the higher promise.
        by_node: u64,
    }
}

impl Outputs for CoreSingle {
    fn persist(py: Python<'_>, record: single::Persist) -> PyResult<Py<PyAny>> {
        PersistOutput::encoded(py, &record)
    }

    fn event(py: Python<'_>, event: single::Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            single::Event::Chosen { value } => Py::new(py, Decided { payload: value })?.into_any(),
            single::Event::Preempted { ballot, by } => {
                Py::new(py, Preempted::new(ballot.round, by.round, by.node.0))?.into_any()
            }
        })
    }
}

/// One single-decree Paxos node ("Paxos Made Simple" §2): proposer,
/// acceptor and learner of one value.
///
/// `members` is the fixed voting set, this node included (at most 64;
/// ids above 0). `propose` a value; the node runs attempts (phase 1, then
/// phase 2 with the highest-ballot value its promises report, or its own)
/// until a value is chosen, its own or another's: `Decided`. A refused
/// attempt reports `Preempted` and tries again higher after a random
/// delay that doubles with each preemption in a row (`backoff_base_ms` 0:
/// at once, the textbook proposer, which can livelock). Drain `poll()`
/// after every call, making each `Persist` durable, in order, before
/// acting on the outputs after it; rebuild a restarted node with
/// `SingleDecreeNode.restore(id, members, records, **config)`. `seed`
/// defaults to the id.
#[pyclass(module = "consensio.paxos", frozen)]
#[derive(Debug)]
pub(crate) struct SingleDecreeNode {
    node: Node<CoreSingle>,
}

participant_methods! {
    SingleDecreeNode;

    #[new]
    #[pyo3(signature = (id, members, *, seed=None, retry_min_ms=100, retry_max_ms=200,
                        backoff_base_ms=20, backoff_max_ms=2000, max_value_bytes=65536))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        seed: Option<u64>,
        retry_min_ms: u64,
        retry_max_ms: u64,
        backoff_base_ms: u64,
        backoff_max_ms: u64,
        max_value_bytes: usize,
    ) -> PyResult<Self> {
        let config = single::Config {
            id: NodeId(id),
            members: node_ids(members)?,
            retry_min_ms,
            retry_max_ms,
            backoff_base_ms,
            backoff_max_ms,
            max_value_bytes,
            seed: seed.unwrap_or(id),
        };
        let node = CoreSingle::new(config).map_err(error)?;
        Ok(SingleDecreeNode { node: Node::new(node) })
    }

    /// A node restarted from every record it persisted (each
    /// `Persist.value`, in the order polled), with the same keyword
    /// arguments as the constructor; a node that recorded the outcome
    /// reports `Decided` again first. Raises `MalformedMessage` for bytes
    /// that are not a record, or a record that does not fit the
    /// configuration.
    #[classmethod]
    #[pyo3(signature = (id, members, records, **config))]
    fn restore(
        cls: &Bound<'_, PyType>,
        id: u64,
        members: &Bound<'_, PyAny>,
        records: &Bound<'_, PyAny>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let records = records_in(records)?;
        let fresh = cls.call((id, members), config)?;
        let fresh = fresh.cast::<SingleDecreeNode>()?.get();
        let config = fresh.node.with(|n| n.config().clone());
        let node = CoreSingle::restore(config, &records).map_err(error)?;
        Ok(Py::new(cls.py(), SingleDecreeNode { node: Node::new(node) })?.into_any())
    }

    /// Every member, sorted.
    #[getter]
    fn members(&self) -> Vec<u64> {
        self.node.with(|n| n.config().members.iter().map(|m| m.0).collect())
    }

    /// The chosen value, once this node knows it.
    #[getter]
    fn chosen<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.node.with(|n| n.chosen().map(|v| PyBytes::new(py, v)))
    }

    /// The highest ballot `(round, node)` this acceptor promised.
    #[getter]
    fn promised(&self) -> (u64, u64) {
        self.node.with(|n| pair(n.promised()))
    }

    /// What this acceptor accepted: `((round, node), value)`, or None.
    #[getter]
    fn accepted<'py>(&self, py: Python<'py>) -> Option<((u64, u64), Bound<'py, PyBytes>)> {
        self.node
            .with(|n| n.accepted().map(|(b, v)| (pair(b), v.to_vec())))
            .map(|(b, v)| (b, PyBytes::new(py, &v)))
    }

    /// The ballot `(round, node)` of the attempt in progress, or None.
    #[getter]
    fn attempt(&self) -> Option<(u64, u64)> {
        self.node.with(|n| n.attempt().map(pair))
    }

    /// Proposes `value` (not empty). Raises `InvalidArgument` for an empty
    /// value, `LimitExceeded` for one over `max_value_bytes` or while this
    /// node's earlier proposal runs, `Rejected` once a value is chosen.
    fn propose(&self, py: Python<'_>, now_ms: u64, value: &[u8]) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Command(single::Command::Propose(value.to_vec())))
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let (round, node) = pair(n.promised());
            format!(
                "SingleDecreeNode(id={}, promised=({round}, {node}), decided={})",
                n.config().id.0,
                if n.chosen().is_some() { "True" } else { "False" }
            )
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(paxos_is_snapshot_record, m)?)?;
    m.add_class::<SingleDecreeNode>()?;
    m.add_class::<Decided>()?;
    m.add_class::<Preempted>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<PaxosKvNode>()?;
    m.add_class::<PaxosNode>()?;
    m.add_class::<Chosen>()?;
    m.add_class::<Adopted>()?;
    m.add_class::<SteppedDown>()?;
    Ok(())
}
