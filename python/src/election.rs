//! `consensio.election`: the Bully algorithm and Chang–Roberts ring
//! election, with leader heartbeats and epochs.

use consensio::election::{
    Bully as CoreBully, BullyConfig, ElectionCommand, ElectionError, ElectionEvent,
    RingElection as CoreRing, RingElectionConfig,
};
use consensio::{Input, NodeId, Output, Participant, wire};
use pyo3::prelude::*;

use crate::participant::Node;
use crate::{InvalidArgument, PersistOutput, SendOutput, node_ids, wire_err};

fn election_err(e: ElectionError) -> PyErr {
    match e {
        ElectionError::Wire(w) => wire_err(w),
        // Not a member, too many members, a bad configuration: all arguments
        // outside their domain.
        _ => InvalidArgument::new_err(e.to_string()),
    }
}

/// Output: this node now follows `leader` (itself included) in `epoch`.
#[pyclass(module = "consensio.election", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Elected {
    /// The coordinator.
    #[pyo3(get)]
    leader: u64,
    /// Its epoch.
    #[pyo3(get)]
    epoch: u64,
}

#[pymethods]
impl Elected {
    #[new]
    fn new(leader: u64, epoch: u64) -> Self {
        Elected { leader, epoch }
    }

    fn __repr__(&self) -> String {
        format!("Elected(leader={}, epoch={})", self.leader, self.epoch)
    }
}

/// Output: the leader of `epoch` stopped sending heartbeats; an election
/// starts.
#[pyclass(module = "consensio.election", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LeaderLost {
    /// The epoch of the lost leader.
    #[pyo3(get)]
    epoch: u64,
}

#[pymethods]
impl LeaderLost {
    #[new]
    fn new(epoch: u64) -> Self {
        LeaderLost { epoch }
    }

    fn __repr__(&self) -> String {
        format!("LeaderLost(epoch={})", self.epoch)
    }
}

/// The next output of either election participant as a Python object.
fn next_output<P>(py: Python<'_>, node: &Node<P>) -> PyResult<Option<Py<PyAny>>>
where
    P: Participant<Persist = u64, Event = ElectionEvent> + Send,
    P::Message: Send,
    P::Command: Send,
    P::Error: Send,
{
    let Some(output) = node.poll() else {
        return Ok(None);
    };
    let object = match output {
        Output::Send { to, message } => {
            let frame = wire::encode_to_vec(&message).map_err(wire_err)?;
            Py::new(py, SendOutput::new(to.0, frame))?.into_any()
        }
        Output::Persist(epoch) => Py::new(py, PersistOutput::new(epoch))?.into_any(),
        Output::Event(ElectionEvent::Elected { leader, epoch }) => {
            Py::new(py, Elected::new(leader.0, epoch))?.into_any()
        }
        Output::Event(ElectionEvent::LeaderLost { epoch }) => {
            Py::new(py, LeaderLost::new(epoch))?.into_any()
        }
    };
    Ok(Some(object))
}

/// One member running the Bully algorithm (Garcia-Molina, 1982): the highest
/// live id leads, and a restarted higher id takes over with a higher epoch.
///
/// `members` lists every member, this node included (at most 256; order and
/// duplicates do not matter). `epoch` is the last value this node persisted
/// (0 if none): a restarted node is rebuilt by passing the last
/// `Persist.value` it made durable. Drive it with `handle_message`, `tick`
/// and `start_election`, then drain `poll()` (or iterate) after every call,
/// making each `Persist` durable before delivering the `Send`s after it.
/// Safe only in the synchronous model: no loss, no partitions, timeouts
/// above the delay bounds.
#[pyclass(module = "consensio.election", frozen)]
#[derive(Debug)]
pub(crate) struct Bully {
    node: Node<CoreBully>,
}

#[pymethods]
impl Bully {
    #[new]
    #[pyo3(signature = (id, members, epoch=0, *, answer_timeout_ms=100,
                        coordinator_timeout_ms=300, heartbeat_interval_ms=100,
                        leader_timeout_ms=500))]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        epoch: u64,
        answer_timeout_ms: u64,
        coordinator_timeout_ms: u64,
        heartbeat_interval_ms: u64,
        leader_timeout_ms: u64,
    ) -> PyResult<Self> {
        let config = BullyConfig {
            id: NodeId(id),
            members: node_ids(members)?,
            answer_timeout_ms,
            coordinator_timeout_ms,
            heartbeat_interval_ms,
            leader_timeout_ms,
        };
        let node = CoreBully::restore(config, epoch).map_err(election_err)?;
        Ok(Bully {
            node: Node::new(node, election_err),
        })
    }

    /// This node's id.
    #[getter]
    fn id(&self) -> u64 {
        self.node.with(|n| n.id().0)
    }

    /// Every member, sorted.
    #[getter]
    fn members(&self) -> Vec<u64> {
        self.node
            .with(|n| n.config().members.iter().map(|m| m.0).collect())
    }

    /// The leader this node follows (itself if it leads), or None.
    #[getter]
    fn leader(&self) -> Option<u64> {
        self.node.with(|n| n.leader().map(|l| l.0))
    }

    /// The epoch of the current (or last) leader: the last one persisted.
    #[getter]
    fn epoch(&self) -> u64 {
        self.node.with(|n| n.epoch())
    }

    /// Whether an election this node started is running.
    #[getter]
    fn is_electing(&self) -> bool {
        self.node.with(|n| n.is_electing())
    }

    /// When the node next wants `tick` (0 before its first input).
    #[getter]
    fn next_deadline(&self) -> Option<u64> {
        self.node.next_deadline()
    }

    /// Delivers a frame received from `from_id`; raises `MalformedMessage`
    /// for bytes that are not a Bully message and `InvalidArgument` for a
    /// sender that is not another member (nothing changes).
    fn handle_message(
        &self,
        py: Python<'_>,
        now_ms: u64,
        from_id: u64,
        data: &[u8],
    ) -> PyResult<()> {
        self.node.deliver(py, now_ms, from_id, data)
    }

    /// Fires due timers: the end of the listening period, election and
    /// leader timeouts, heartbeats.
    fn tick(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Tick)
    }

    /// Starts an election now, as if the leader had been lost. Does nothing
    /// while the node has no leader (it is listening after a start, or
    /// already electing: it elects on its own).
    fn start_election(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        let command = Input::Command(ElectionCommand::StartElection);
        self.node.input(py, now_ms, command)
    }

    /// The next output (`Send`, `Persist`, `Elected`, `LeaderLost`), or None
    /// when there is none.
    fn poll(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        next_output(py, &self.node)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.poll(py)
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let leader = n
                .leader()
                .map_or_else(|| "None".to_string(), |l| l.0.to_string());
            format!(
                "Bully(id={}, leader={leader}, epoch={})",
                n.id().0,
                n.epoch()
            )
        })
    }
}

/// One member running Chang–Roberts ring election (1979) on a ring ordered
/// by id, with acknowledged hops that skip dead successors.
///
/// `members` lists every member, this node included (at most 256; order and
/// duplicates do not matter). `epoch` is the last value this node persisted
/// (0 if none): a restarted node is rebuilt by passing the last
/// `Persist.value` it made durable. Drive and drain it as `Bully`. Safe only
/// in the synchronous model: no loss, no partitions, timeouts above the
/// delay bounds.
#[pyclass(module = "consensio.election", frozen)]
#[derive(Debug)]
pub(crate) struct RingElection {
    node: Node<CoreRing>,
}

#[pymethods]
impl RingElection {
    #[new]
    #[pyo3(signature = (id, members, epoch=0, *, ack_timeout_ms=100,
                        election_timeout_ms=4000, heartbeat_interval_ms=100,
                        leader_timeout_ms=500))]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        epoch: u64,
        ack_timeout_ms: u64,
        election_timeout_ms: u64,
        heartbeat_interval_ms: u64,
        leader_timeout_ms: u64,
    ) -> PyResult<Self> {
        let config = RingElectionConfig {
            id: NodeId(id),
            members: node_ids(members)?,
            ack_timeout_ms,
            election_timeout_ms,
            heartbeat_interval_ms,
            leader_timeout_ms,
        };
        let node = CoreRing::restore(config, epoch).map_err(election_err)?;
        Ok(RingElection {
            node: Node::new(node, election_err),
        })
    }

    /// This node's id.
    #[getter]
    fn id(&self) -> u64 {
        self.node.with(|n| n.id().0)
    }

    /// Every member, sorted (the ring's order).
    #[getter]
    fn members(&self) -> Vec<u64> {
        self.node
            .with(|n| n.config().members.iter().map(|m| m.0).collect())
    }

    /// The leader this node follows (itself if it leads), or None.
    #[getter]
    fn leader(&self) -> Option<u64> {
        self.node.with(|n| n.leader().map(|l| l.0))
    }

    /// The epoch of the current (or last) leader: the last one persisted.
    #[getter]
    fn epoch(&self) -> u64 {
        self.node.with(|n| n.epoch())
    }

    /// Whether this node takes part in a running election.
    #[getter]
    fn is_participating(&self) -> bool {
        self.node.with(|n| n.is_participating())
    }

    /// Whether this node has marked `member` dead (it did not acknowledge a
    /// hop and has not been heard from since).
    fn is_marked_dead(&self, member: u64) -> bool {
        self.node.with(|n| n.is_marked_dead(NodeId(member)))
    }

    /// When the node next wants `tick`, or None (0 before its first input).
    #[getter]
    fn next_deadline(&self) -> Option<u64> {
        self.node.next_deadline()
    }

    /// Delivers a frame received from `from_id`; raises `MalformedMessage`
    /// for bytes that are not a ring-election message and `InvalidArgument`
    /// for a sender that is not another member (nothing changes).
    fn handle_message(
        &self,
        py: Python<'_>,
        now_ms: u64,
        from_id: u64,
        data: &[u8],
    ) -> PyResult<()> {
        self.node.deliver(py, now_ms, from_id, data)
    }

    /// Fires due timers: unacknowledged hops, election and leader timeouts,
    /// heartbeats.
    fn tick(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Tick)
    }

    /// Starts an election now, as if the leader had been lost. Does nothing
    /// while the node has no leader (it is listening after a start, or
    /// already electing: it elects on its own).
    fn start_election(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        let command = Input::Command(ElectionCommand::StartElection);
        self.node.input(py, now_ms, command)
    }

    /// The next output (`Send`, `Persist`, `Elected`, `LeaderLost`), or None
    /// when there is none.
    fn poll(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        next_output(py, &self.node)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.poll(py)
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let leader = n
                .leader()
                .map_or_else(|| "None".to_string(), |l| l.0.to_string());
            format!(
                "RingElection(id={}, leader={leader}, epoch={})",
                n.id().0,
                n.epoch()
            )
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Bully>()?;
    m.add_class::<RingElection>()?;
    m.add_class::<Elected>()?;
    m.add_class::<LeaderLost>()?;
    Ok(())
}
