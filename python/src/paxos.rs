//! `consensio.paxos`: Multi-Paxos, a replicated log of chosen values with
//! durable acceptors and a stable leader.

use consensio::paxos::{self, Ballot, Command, Event, PaxosNode as CoreNode, Persist, Role};
use consensio::{Input, NodeId, Participant, Restore, wire};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString, PyType};

use crate::participant::{Node, Outputs, event_class, participant_methods};
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
    /// Output: this node stopped leading under ballot `(round, node)`. Its
    /// proposals not yet reported `Chosen` may or may not be chosen later.
    "consensio.paxos", SteppedDown {
        /// The ballot's round.
        round: u64,
        /// The ballot's node (this one).
        node: u64,
    }
}

impl Outputs for CoreNode {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        let bytes = wire::encode_to_vec(&record).map_err(error)?;
        Ok(Py::new(py, PersistOutput::record(bytes))?.into_any())
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
            Event::SteppedDown { ballot } => {
                Py::new(py, SteppedDown::new(ballot.round, ballot.node.0))?.into_any()
            }
        })
    }
}

/// Reads persisted records from an iterable of `bytes`, decoding each.
fn records_in(records: &Bound<'_, PyAny>) -> PyResult<Vec<Persist>> {
    if records.is_instance_of::<PyBytes>()
        || records.is_instance_of::<PyByteArray>()
        || records.is_instance_of::<PyString>()
    {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "records must be an iterable of bytes (one item per record), not a single bytes or str",
        ));
    }
    let mut decoded = Vec::new();
    for (i, item) in records.try_iter()?.enumerate() {
        let item = item?;
        let bytes = item.cast::<PyBytes>()?;
        let record = wire::decode::<Persist>(bytes.as_bytes()).map_err(|e| {
            PyErr::from_type(error(e).get_type(item.py()), format!("records[{i}]: {e}"))
        })?;
        decoded.push(record);
    }
    Ok(decoded)
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
                        max_value_bytes=65536))]
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
        max_value_bytes: usize,
    ) -> PyResult<Self> {
        let config = paxos::Config {
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
            max_value_bytes,
            seed: seed.unwrap_or(id),
        };
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
        self.node.with(|n| match n.role() {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
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
    /// `max_value_bytes`, too many proposals wait, or the log is full.
    fn propose(&self, py: Python<'_>, now_ms: u64, value: &[u8]) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Command(Command::Propose(value.to_vec())))
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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PaxosNode>()?;
    m.add_class::<Chosen>()?;
    m.add_class::<Adopted>()?;
    m.add_class::<SteppedDown>()?;
    Ok(())
}
