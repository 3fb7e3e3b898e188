//! `consensio.raft`: a Raft node over an in-memory log, its events, and
//! restart from persisted records.

use consensio::quorum::MajorityConfig;
use consensio::raft::{
    self, ArenaLog, Command, Event, LogStorage, Persist, RaftNode as CoreNode, Role,
};
use consensio::{Input, NodeId, Participant, Restore, wire};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString, PyType};

use crate::participant::{Node, Outputs, event_class, participant_methods};
use crate::{PersistOutput, error, invalid, node_ids};

const fn role_name(role: Role) -> &'static str {
    match role {
        Role::Follower => "follower",
        Role::PreCandidate => "pre_candidate",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// Output: apply entry `index` of `term`, whose payload is `data` (empty for
/// the entry a new leader appends: apply it as nothing). Every index from 1
/// comes once, in order; a restored node reports them again from 1.
#[pyclass(module = "consensio.raft", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Committed {
    /// The entry's index.
    #[pyo3(get)]
    index: u64,
    /// The entry's term.
    #[pyo3(get)]
    term: u64,
    payload: Vec<u8>,
}

#[pymethods]
impl Committed {
    #[new]
    fn new(index: u64, term: u64, data: &[u8]) -> Self {
        Committed {
            index,
            term,
            payload: data.to_vec(),
        }
    }

    /// The entry's payload, as proposed.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.payload)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let data = PyBytes::new(py, &self.payload).repr()?;
        Ok(format!(
            "Committed(index={}, term={}, data={data})",
            self.index, self.term
        ))
    }
}

event_class! {
    /// Output: read `read_id` may be served from the application's state
    /// now: every entry up to `index` has been reported as `Committed`
    /// before it.
    "consensio.raft", ReadReady {
        /// The caller's id for the read.
        read_id: u64,
        /// Its read index.
        index: u64,
    }
}

event_class! {
    /// Output: read `read_id` cannot be answered: this node stopped being
    /// leader.
    "consensio.raft", ReadFailed {
        /// The caller's id for the read.
        read_id: u64,
    }
}

event_class! {
    /// Output: this node won the election of `term`.
    "consensio.raft", BecameLeader {
        /// The term.
        term: u64,
    }
}

event_class! {
    /// Output: this node became a follower in `term`, or learned who leads
    /// it (`leader`, None while unknown).
    "consensio.raft", BecameFollower signature (term, leader=None) {
        /// The current term.
        term: u64,
        /// Its leader, if known.
        leader: Option<u64>,
    }
}

event_class! {
    /// Output: the log has no room for what this node must append (a
    /// leader's entries, or a new leader's first entry, so it does not
    /// campaign). Nothing is lost; the node waits for room. Reported once
    /// each time the log fills.
    "consensio.raft", LogFull {
        /// The log's last index.
        last_index: u64,
    }
}

/// Records are bytes: append every `Persist.value` to stable storage, in
/// order, for `RaftNode.restore`.
impl Outputs for CoreNode<ArenaLog> {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        let bytes = wire::encode_to_vec(&record).map_err(error)?;
        Ok(Py::new(py, PersistOutput::record(bytes))?.into_any())
    }

    fn event(py: Python<'_>, event: Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            Event::Committed { index, term, data } => Py::new(
                py,
                Committed {
                    index,
                    term,
                    payload: data,
                },
            )?
            .into_any(),
            Event::ReadReady { id, index } => Py::new(py, ReadReady::new(id, index))?.into_any(),
            Event::ReadFailed { id } => Py::new(py, ReadFailed::new(id))?.into_any(),
            Event::BecameLeader { term } => Py::new(py, BecameLeader::new(term))?.into_any(),
            Event::BecameFollower { term, leader } => {
                Py::new(py, BecameFollower::new(term, leader.map(|l| l.0)))?.into_any()
            }
            Event::LogFull { last_index } => Py::new(py, LogFull::new(last_index))?.into_any(),
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

/// One Raft server (Ongaro & Ousterhout 2014; pre-vote, check-quorum and
/// reads from Ongaro's thesis), keeping its log in memory.
///
/// `voters` lists every voter, this node included (at most 64; order and
/// duplicates do not matter). Timing follows §5.6: `heartbeat_interval_ms`
/// well below `election_timeout_min_ms`, and the election timeout well above
/// the network's round trip. `seed` (default: `id`) seeds the election
/// timeouts. `max_entry_bytes` bounds one proposal; the log holds at most
/// `log_max_entries` entries and `log_max_bytes` bytes of payload.
///
/// Drive it with `handle_message`, `tick` (at `next_deadline`), `propose`,
/// `read` and `lease_read`, then drain `poll()` (or iterate) after every
/// call: append each `Persist` record to stable storage and make it durable
/// before acting on the outputs after it; deliver each `Send`; apply each
/// `Committed` in order. After a crash, rebuild the node with
/// `RaftNode.restore(id, voters, records)` from exactly the records it
/// persisted, in order.
///
/// Several threads may drive one node: a thread that feeds an input holds
/// the node's turn until its `poll()` returns None (another thread's input
/// waits, with the GIL released; another thread's `poll()` returns None),
/// so records, sends and applies happen in the node's order.
#[pyclass(module = "consensio.raft", frozen)]
#[derive(Debug)]
pub(crate) struct RaftNode {
    node: Node<CoreNode<ArenaLog>>,
    log_max_entries: usize,
    log_max_bytes: usize,
}

impl RaftNode {
    fn empty_log(&self) -> ArenaLog {
        ArenaLog::new(self.log_max_entries, self.log_max_bytes)
    }
}

participant_methods! {
    RaftNode;

    #[new]
    #[pyo3(signature = (id, voters, *, seed=None, election_timeout_min_ms=150,
                        election_timeout_max_ms=300, heartbeat_interval_ms=50,
                        pre_vote=true, check_quorum=true, max_clock_drift_ms=10,
                        max_entry_bytes=65536, log_max_entries=1_048_576,
                        log_max_bytes=268_435_456))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        voters: &Bound<'_, PyAny>,
        seed: Option<u64>,
        election_timeout_min_ms: u64,
        election_timeout_max_ms: u64,
        heartbeat_interval_ms: u64,
        pre_vote: bool,
        check_quorum: bool,
        max_clock_drift_ms: u64,
        max_entry_bytes: usize,
        log_max_entries: usize,
        log_max_bytes: usize,
    ) -> PyResult<Self> {
        let voters = MajorityConfig::from_voters(node_ids(voters)?).map_err(error)?;
        if log_max_entries == 0 {
            return Err(invalid("the log must hold at least one entry"));
        }
        let mut config = raft::Config::new(NodeId(id), voters);
        config.seed = seed.unwrap_or(id);
        config.election_timeout_min_ms = election_timeout_min_ms;
        config.election_timeout_max_ms = election_timeout_max_ms;
        config.heartbeat_interval_ms = heartbeat_interval_ms;
        config.pre_vote = pre_vote;
        config.check_quorum = check_quorum;
        config.max_clock_drift_ms = max_clock_drift_ms;
        config.max_entry_bytes = max_entry_bytes;
        let log = ArenaLog::new(log_max_entries, log_max_bytes);
        Ok(RaftNode {
            node: Node::new(CoreNode::new(config, log).map_err(error)?),
            log_max_entries,
            log_max_bytes,
        })
    }

    /// A node restarted from the records it persisted (each `Persist.value`,
    /// in the order polled), with the same keyword arguments as the
    /// constructor. It starts as a follower with nothing applied and
    /// reports committed entries again from index 1 as the leader tells it
    /// the commit index. Raises `MalformedMessage` for bytes that are not a
    /// record and `InvalidArgument` for records no node could have written
    /// (a gap in the log).
    #[classmethod]
    #[pyo3(signature = (id, voters, records, **config))]
    fn restore(
        cls: &Bound<'_, PyType>,
        id: u64,
        voters: &Bound<'_, PyAny>,
        records: &Bound<'_, PyAny>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let records = records_in(records)?;
        // The constructor checks the configuration; then the log is rebuilt.
        let fresh = cls.call((id, voters), config)?;
        let fresh = fresh.cast::<RaftNode>()?.get();
        let config = fresh.node.with(|n| n.config().clone());
        let node = CoreNode::restore((config, fresh.empty_log()), &records).map_err(error)?;
        let restored = RaftNode {
            node: Node::new(node),
            log_max_entries: fresh.log_max_entries,
            log_max_bytes: fresh.log_max_bytes,
        };
        Ok(Py::new(cls.py(), restored)?.into_any())
    }

    /// Every voter, sorted.
    #[getter]
    fn voters(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.node.with(|n| {
            let voters = &n.config().voters;
            voters
                .incoming
                .voters()
                .iter()
                .chain(voters.outgoing.voters())
                .map(|v| v.0)
                .collect()
        });
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// "follower", "pre_candidate", "candidate" or "leader".
    #[getter]
    fn role(&self) -> &'static str {
        role_name(self.node.with(|n| n.role()))
    }

    /// The current term.
    #[getter]
    fn term(&self) -> u64 {
        self.node.with(|n| n.term())
    }

    /// The candidate this node voted for in the current term, or None.
    #[getter]
    fn vote(&self) -> Option<u64> {
        self.node.with(|n| n.vote().map(|v| v.0))
    }

    /// The leader of the current term (this node, if leader), or None.
    #[getter]
    fn leader(&self) -> Option<u64> {
        self.node.with(|n| n.leader().map(|l| l.0))
    }

    /// The highest index known to be committed.
    #[getter]
    fn commit_index(&self) -> u64 {
        self.node.with(|n| n.commit_index())
    }

    /// The highest index reported with `Committed`.
    #[getter]
    fn applied_index(&self) -> u64 {
        self.node.with(|n| n.applied_index())
    }

    /// The index of the last entry in the log (0 if empty).
    #[getter]
    fn last_index(&self) -> u64 {
        self.node.with(|n| n.log().last_index())
    }

    /// Appends `data` to the log (leader only) and returns its index;
    /// `Committed` reports it once committed. An accepted proposal may still
    /// be lost if leadership changes before it commits. Raises `Rejected`
    /// on a node that is not the leader (see `leader`), `LimitExceeded` if
    /// `data` is over `max_entry_bytes`, the log is full, or too many
    /// entries or outputs wait.
    fn propose(&self, py: Python<'_>, now_ms: u64, data: &[u8]) -> PyResult<u64> {
        let proposal = Input::Command(Command::Propose(data.to_vec()));
        self.node
            .input_then(py, now_ms, proposal, |n| n.log().last_index())
    }

    /// Starts a linearizable read named `read_id` (ReadIndex: the leader
    /// confirms it still leads with a heartbeat round). `ReadReady` answers
    /// it once the entries up to its read index are reported, `ReadFailed`
    /// if leadership is lost first. Raises `Rejected` on a node that is not
    /// the leader, `LimitExceeded` if too many reads wait.
    fn read(&self, py: Python<'_>, now_ms: u64, read_id: u64) -> PyResult<()> {
        let read = Input::Command(Command::Read { id: read_id });
        self.node.input(py, now_ms, read)
    }

    /// As `read`, but without a heartbeat round while the leader's lease
    /// holds (it relies on clock drift staying within `max_clock_drift_ms`).
    /// Raises `Rejected` also without `check_quorum`.
    fn lease_read(&self, py: Python<'_>, now_ms: u64, read_id: u64) -> PyResult<()> {
        let read = Input::Command(Command::LeaseRead { id: read_id });
        self.node.input(py, now_ms, read)
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let leader = n
                .leader()
                .map_or_else(|| "None".to_string(), |l| l.0.to_string());
            format!(
                "RaftNode(id={}, role='{}', term={}, leader={leader}, commit_index={})",
                n.id().0,
                role_name(n.role()),
                n.term(),
                n.commit_index()
            )
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RaftNode>()?;
    m.add_class::<Committed>()?;
    m.add_class::<ReadReady>()?;
    m.add_class::<ReadFailed>()?;
    m.add_class::<BecameLeader>()?;
    m.add_class::<BecameFollower>()?;
    m.add_class::<LogFull>()?;
    Ok(())
}
