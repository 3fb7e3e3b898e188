//! `consensio.raft`: a Raft node over an in-memory log, its events,
//! snapshots, and restart from persisted records.

use consensio::quorum::MajorityConfig;
use consensio::raft::{
    self, ArenaLog, Command, Event, KvLimits, KvNode as CoreKv, KvOp, KvResponse, KvResult,
    LogStorage, Membership, MembershipChange, Persist, RaftNode as CoreNode, Role, kv,
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

event_class! {
    /// Output: replace the application's state with the node's snapshot
    /// (`RaftNode.snapshot`): it covers every entry up to `index`, and
    /// `Committed` goes on from `index + 1`. Comes when a leader's snapshot
    /// was installed, and first from a node restored from records that
    /// hold a snapshot.
    "consensio.raft", ApplySnapshot {
        /// The snapshot's last index.
        index: u64,
        /// The term of the entry at `index`.
        term: u64,
    }
}

event_class! {
    /// Output: the membership entry at `index` committed: the cluster's
    /// voters (`outgoing` too, during a joint change) and learners from
    /// `index` on. The node has used it since it appended the entry; the
    /// `Committed` just before it has empty data (apply it as nothing). A
    /// node that is no longer a member may be shut down.
    "consensio.raft", MembershipCommitted {
        /// The entry's index.
        index: u64,
        /// The voters (the incoming half of a joint configuration).
        voters: Vec<u64>,
        /// The outgoing voters of a joint configuration (empty otherwise).
        outgoing: Vec<u64>,
        /// The learners.
        learners: Vec<u64>,
    }
}

event_class! {
    /// Output: a proposal this node made (the index and term `propose`
    /// returned) will never be committed: another entry committed at its
    /// index (a leader change dropped it). Propose it again if it must
    /// happen. Comes right after that index's `Committed`; not for a
    /// proposal an installed snapshot covers, nor for one made before a
    /// restart.
    "consensio.raft", ProposalDropped {
        /// The index the proposal had.
        index: u64,
        /// The term the proposal had.
        term: u64,
    }
}

/// Records are bytes: append every `Persist.value` to stable storage, in
/// order, for `RaftNode.restore`.
impl Outputs for CoreNode<ArenaLog> {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        PersistOutput::encoded(py, &record)
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
            Event::ApplySnapshot { index, term } => {
                Py::new(py, ApplySnapshot::new(index, term))?.into_any()
            }
            Event::ProposalDropped { index, term } => {
                Py::new(py, ProposalDropped::new(index, term))?.into_any()
            }
            Event::MembershipCommitted { index, membership } => {
                let (voters, outgoing, learners) = members(&membership);
                Py::new(
                    py,
                    MembershipCommitted::new(index, voters, outgoing, learners),
                )?
                .into_any()
            }
        })
    }
}

/// The joint change to `voters` and `learners` (none if `None`).
fn joint_change(
    voters: &Bound<'_, PyAny>,
    learners: Option<&Bound<'_, PyAny>>,
) -> PyResult<MembershipChange> {
    Ok(MembershipChange::Joint {
        voters: node_ids(voters)?,
        learners: learners.map(node_ids).transpose()?.unwrap_or_default(),
    })
}

/// A membership as three lists of ids: voters, outgoing voters, learners.
fn members(m: &Membership) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let ids = |v: &[NodeId]| v.iter().map(|id| id.0).collect();
    let voters = m.voters();
    (
        ids(voters.incoming.voters()),
        ids(voters.outgoing.voters()),
        ids(m.learners()),
    )
}

/// Reads persisted records (Raft's or Paxos's) from an iterable of
/// `bytes`, decoding each.
pub(crate) fn records_in<T: wire::WireMessage>(records: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
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
        let record = wire::decode::<T>(bytes.as_bytes()).map_err(|e| {
            PyErr::from_type(error(e).get_type(item.py()), format!("records[{i}]: {e}"))
        })?;
        decoded.push(record);
    }
    Ok(decoded)
}

/// The Raft configuration both node classes take: `timing` is the election
/// timeout's bounds, the heartbeat interval and the clock drift bound;
/// `sizes` the largest proposal, the per-message entries and bytes, and
/// the largest snapshot.
#[allow(clippy::too_many_arguments)]
fn configure(
    id: u64,
    voters: &Bound<'_, PyAny>,
    seed: Option<u64>,
    cluster: u64,
    timing: [u64; 4],
    pre_vote: bool,
    check_quorum: bool,
    sizes: [usize; 4],
    log_max_entries: usize,
) -> PyResult<raft::Config> {
    let voters = MajorityConfig::from_voters(node_ids(voters)?).map_err(error)?;
    if log_max_entries == 0 {
        return Err(invalid("the log must hold at least one entry"));
    }
    let mut config = raft::Config::new(NodeId(id), voters);
    config.seed = seed.unwrap_or(id);
    config.cluster = cluster;
    [
        config.election_timeout_min_ms,
        config.election_timeout_max_ms,
        config.heartbeat_interval_ms,
        config.max_clock_drift_ms,
    ] = timing;
    config.pre_vote = pre_vote;
    config.check_quorum = check_quorum;
    [
        config.max_entry_bytes,
        config.max_entries_per_message,
        config.max_bytes_per_message,
        config.max_snapshot_bytes,
    ] = sizes;
    config.validate().map_err(error)?;
    Ok(config)
}

/// The largest frame of a validated configuration (which never overflows).
fn frame_len(config: &raft::Config) -> usize {
    config.max_frame_len().unwrap_or(usize::MAX)
}

/// One Raft server (Ongaro & Ousterhout 2014; pre-vote, check-quorum and
/// reads from Ongaro's thesis), keeping its log in memory.
///
/// `voters` lists every voter, this node included (at most 64; order and
/// duplicates do not matter). Timing follows §5.6: `heartbeat_interval_ms`
/// well below `election_timeout_min_ms`, and the election timeout well above
/// the network's round trip. `seed` (default: `id`) seeds the election
/// timeouts; `cluster` (default 0; pick one at random per cluster) goes
/// into the node's records with its id, and `restore` refuses records of
/// another node or cluster (`VerificationError`). `max_entry_bytes` bounds
/// one proposal, and
/// `max_entries_per_message` and `max_bytes_per_message` one AppendEntries
/// (`max_frame_len` is then the largest frame the node sends); the log
/// holds at most `log_max_entries` entries and `log_max_bytes` bytes of
/// payload, and a snapshot at most `max_snapshot_bytes` (the same on every
/// node: a follower drops a leader's snapshot over its own bound).
///
/// Drive it with `handle_message`, `tick` (at `next_deadline`), `propose`,
/// `read` and `lease_read`, then drain `poll()` (or iterate) after every
/// call: append each `Persist` record to stable storage and make it durable
/// before acting on the outputs after it; deliver each `Send`; apply each
/// `Committed` in order; on `ApplySnapshot`, replace the application's
/// state with `snapshot`'s data. Every few thousand entries, `compact` the
/// log with a snapshot of the application's state: its record replaces
/// every record before it (`is_snapshot_record`). After a crash, rebuild
/// the node with `RaftNode.restore(id, voters, records)` from exactly the
/// records it persisted, in order, from its last snapshot record on.
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
    #[pyo3(signature = (id, voters, *, seed=None, cluster=0, election_timeout_min_ms=150,
                        election_timeout_max_ms=300, heartbeat_interval_ms=50,
                        pre_vote=true, check_quorum=true, max_clock_drift_ms=10,
                        max_entry_bytes=65536, max_entries_per_message=64,
                        max_bytes_per_message=262_144, log_max_entries=1_048_576,
                        log_max_bytes=268_435_456, max_snapshot_bytes=67_108_864))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        voters: &Bound<'_, PyAny>,
        seed: Option<u64>,
        cluster: u64,
        election_timeout_min_ms: u64,
        election_timeout_max_ms: u64,
        heartbeat_interval_ms: u64,
        pre_vote: bool,
        check_quorum: bool,
        max_clock_drift_ms: u64,
        max_entry_bytes: usize,
        max_entries_per_message: usize,
        max_bytes_per_message: usize,
        log_max_entries: usize,
        log_max_bytes: usize,
        max_snapshot_bytes: usize,
    ) -> PyResult<Self> {
        let config = configure(
            id,
            voters,
            seed,
            cluster,
            [
                election_timeout_min_ms,
                election_timeout_max_ms,
                heartbeat_interval_ms,
                max_clock_drift_ms,
            ],
            pre_vote,
            check_quorum,
            [
                max_entry_bytes,
                max_entries_per_message,
                max_bytes_per_message,
                max_snapshot_bytes,
            ],
            log_max_entries,
        )?;
        let log = ArenaLog::new(log_max_entries, log_max_bytes);
        Ok(RaftNode {
            node: Node::new(CoreNode::new(config, log).map_err(error)?),
            log_max_entries,
            log_max_bytes,
        })
    }

    /// A node restarted from the records it persisted (each `Persist.value`,
    /// in the order polled; the records before a snapshot record may have
    /// been deleted), with the same keyword arguments as the constructor.
    /// It starts as a follower; if the records hold a snapshot, its first
    /// output is `ApplySnapshot` (load `snapshot` into the application),
    /// and it reports committed entries again from the one after it (from
    /// index 1 without one) as the leader tells it the commit index. Raises
    /// `MalformedMessage` for bytes that are not a record and
    /// `InvalidArgument` for records no node could have written (a gap in
    /// the log).
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

    /// Every voter of the membership in effect (both halves during a
    /// joint change), sorted.
    #[getter]
    fn voters(&self) -> Vec<u64> {
        let (voters, outgoing, _) = self.node.with(|n| members(n.membership()));
        let mut ids: Vec<u64> = voters.into_iter().chain(outgoing).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The membership in effect, the latest in the log, committed or not
    /// (thesis §4.1): `(voters, outgoing, learners)`, sorted lists;
    /// `outgoing` holds the old voters during a joint change.
    #[getter]
    fn membership(&self) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
        self.node.with(|n| members(n.membership()))
    }

    /// Adds `node` as a learner: a non-voting member that receives the log
    /// (thesis §4.2.1). A node that joins a running cluster is made with
    /// the cluster's voters, itself not among them, and never campaigns
    /// until it is added and promoted. The leader appends the membership,
    /// which every node uses from the moment it appends it;
    /// `MembershipCommitted` reports it committed. Raises `Rejected` on a
    /// node that is not the leader or while another change is under way,
    /// `InvalidArgument` if `node` is already a member.
    fn add_learner(&self, py: Python<'_>, now_ms: u64, node: u64) -> PyResult<()> {
        let change = MembershipChange::AddLearner(NodeId(node));
        self.node.input(py, now_ms, Input::Command(Command::ChangeMembership(change)))
    }

    /// Makes learner `node` a voter, once its log holds every committed
    /// entry (else `Rejected`; retry when it has caught up). Raises as
    /// `add_learner`, and `InvalidArgument` if `node` is not a learner.
    fn promote(&self, py: Python<'_>, now_ms: u64, node: u64) -> PyResult<()> {
        let change = MembershipChange::Promote(NodeId(node));
        self.node.input(py, now_ms, Input::Command(Command::ChangeMembership(change)))
    }

    /// Removes voter or learner `node`; a leader that removes itself leads
    /// until the change commits, then steps down. Raises as `add_learner`,
    /// and `InvalidArgument` for a non-member or the last voter.
    fn remove(&self, py: Python<'_>, now_ms: u64, node: u64) -> PyResult<()> {
        let change = MembershipChange::Remove(NodeId(node));
        self.node.input(py, now_ms, Input::Command(Command::ChangeMembership(change)))
    }

    /// Moves to exactly `voters` and `learners` through a joint
    /// configuration (§6): every new voter must be a caught-up learner;
    /// the leader appends the new membership itself once the joint one
    /// commits. Raises as `add_learner` and `promote`.
    #[pyo3(signature = (now_ms, voters, learners=None))]
    fn change_membership(
        &self,
        py: Python<'_>,
        now_ms: u64,
        voters: &Bound<'_, PyAny>,
        learners: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let change = joint_change(voters, learners)?;
        self.node.input(py, now_ms, Input::Command(Command::ChangeMembership(change)))
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

    /// The voter leadership is being handed to while a transfer is under
    /// way (leader only), or None.
    #[getter]
    fn transferring_to(&self) -> Option<u64> {
        self.node.with(|n| n.transferring_to().map(|t| t.0))
    }

    /// The highest index known to be committed.
    #[getter]
    fn commit_index(&self) -> u64 {
        self.node.with(|n| n.commit_index())
    }

    /// Whether this node leads under a lease that holds at the time of its
    /// last input: a lease read now would be answered without a heartbeat
    /// round. False on a follower, with check-quorum off, or in a term whose
    /// lease a leadership transfer voided.
    #[getter]
    fn lease_holds(&self) -> bool {
        self.node.with(|n| n.lease_holds())
    }

    /// The highest index reported with `Committed` or covered by an
    /// `ApplySnapshot`.
    #[getter]
    fn applied_index(&self) -> u64 {
        self.node.with(|n| n.applied_index())
    }

    /// The node's latest snapshot, taken here (`compact`) or installed from
    /// a leader, as `(index, term, data)`: the application's state after
    /// every entry up to `index`, whose term is `term`; what to load on
    /// `ApplySnapshot` (whose `index` and `term` it then has). None before
    /// the first. Each read copies the data.
    #[getter]
    fn snapshot<'py>(&self, py: Python<'py>) -> Option<(u64, u64, Bound<'py, PyBytes>)> {
        self.node
            .with(|n| n.snapshot().map(|s| (s.index, s.term, s.data.clone())))
            .map(|(index, term, data)| (index, term, PyBytes::new(py, &data)))
    }

    /// The index of the last entry in the log (0 if empty).
    #[getter]
    fn last_index(&self) -> u64 {
        self.node.with(|n| n.log().last_index())
    }

    /// The most bytes one frame this node sends can take (every `Send`'s
    /// `data` is at most this long): bound datagrams by it.
    #[getter]
    fn max_frame_len(&self) -> usize {
        self.node.with(|n| frame_len(n.config()))
    }

    /// Appends `data` to the log (leader only) and returns `(index, term)`,
    /// the new entry's index and term; `Committed` reports it once
    /// committed. An accepted proposal may still be lost if leadership
    /// changes before it commits: it was dropped exactly when `Committed`
    /// arrives for `index` with a term other than `term`. An empty `data`
    /// is accepted, but its `Committed` looks like a new leader's no-op
    /// entry. Raises `Rejected` on a node that is not the leader (see
    /// `leader`), `LimitExceeded` if `data` is over `max_entry_bytes`, the
    /// log is full, or too many entries or outputs wait.
    fn propose(&self, py: Python<'_>, now_ms: u64, data: &[u8]) -> PyResult<(u64, u64)> {
        let proposal = Input::Command(Command::Propose(data.to_vec()));
        self.node.input_then(py, now_ms, proposal, |n| {
            (n.log().last_index(), n.term())
        })
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

    /// Takes a snapshot (§7): `data` is the application's state after
    /// applying every entry up to `index` (one it has applied). The log
    /// drops the entries it covers, freeing their room, and the node queues
    /// a `Persist` of a snapshot record, holding the snapshot, the term,
    /// the vote and the log after it: once that record is durable, every
    /// record before it may be deleted, and a restart reads it and the
    /// records after it. Drain after it, as after an input. A leader sends
    /// its snapshot to followers that need entries it no longer holds.
    /// Raises `Rejected` if `index` is beyond `applied_index` or not past
    /// the last snapshot's index, `LimitExceeded` if `data` is over
    /// `max_snapshot_bytes` or too many outputs wait; nothing changes then.
    fn compact(&self, py: Python<'_>, index: u64, data: &[u8]) -> PyResult<()> {
        let data = data.to_vec();
        self.node.act(py, move |n| n.compact(index, data))
    }

    /// Hands leadership to voter `to` (thesis §3.10): the leader brings its
    /// log up to date and tells it to campaign at once; proposals raise
    /// `Rejected` meanwhile. If `to` has not taken over within the minimum
    /// election timeout, the transfer is abandoned (see `transferring_to`).
    /// Lease reads take a round for the rest of the term. Raises `Rejected`
    /// on a node that is not the leader, `InvalidArgument` if `to` is not a
    /// voter; a transfer to the leader itself does nothing.
    fn transfer_leadership(&self, py: Python<'_>, now_ms: u64, to: u64) -> PyResult<()> {
        let to = NodeId(to);
        self.node
            .input(py, now_ms, Input::Command(Command::TransferLeadership { to }))
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

// ---- the replicated key-value store ----------------------------------------

/// What a reply's `result` says, and whether it is a success.
fn result_name(result: &KvResult) -> (&'static str, bool) {
    match result {
        Ok(KvResponse::Done) => ("done", true),
        Ok(KvResponse::SessionOpened { .. }) => ("session_opened", true),
        Ok(KvResponse::Swapped(true)) => ("swapped", true),
        Ok(KvResponse::Swapped(false)) => ("not_swapped", true),
        Ok(KvResponse::Value(Some(_))) => ("value", true),
        Ok(KvResponse::Value(None)) => ("absent", true),
        Err(e) => (
            match e {
                kv::Error::NotLeader { .. } => "not_leader",
                kv::Error::Retry => "retry",
                kv::Error::Busy => "busy",
                kv::Error::TooLarge => "too_large",
                kv::Error::StoreFull => "store_full",
                kv::Error::SessionExpired => "session_expired",
                kv::Error::StaleSequence => "stale_sequence",
                kv::Error::SequenceGap => "sequence_gap",
                kv::Error::ZeroSequence => "zero_sequence",
                kv::Error::LeaseReadsDisabled => "lease_reads_disabled",
                kv::Error::Malformed => "malformed",
                kv::Error::NotAVoter => "not_a_voter",
                kv::Error::BadMembershipChange => "bad_membership_change",
                _ => "other_error",
            },
            false,
        ),
    }
}

/// Output: the answer to the `KvNode` command named `request_id`.
///
/// `result` says what came of it. Successes (`ok` is True): "done" (a put
/// or delete took effect), "session_opened" (`client` is the new client
/// id), "swapped" / "not_swapped" (a compare-and-set did / did not find the
/// expected value), "value" (a read's value, in `value`, possibly b""),
/// "absent" (a read found no value). Errors: "not_leader" (nothing
/// happened; `leader` is the leader if known), "retry" (outcome unknown:
/// send the write again with the same `seq`), "busy", "too_large",
/// "store_full", "session_expired" (open a new session),
/// "stale_sequence", "sequence_gap", "zero_sequence",
/// "lease_reads_disabled", "malformed", "not_a_voter", "bad_membership_change". A refused command is reported
/// here, not raised: the reply may come long after the call.
#[pyclass(module = "consensio.raft", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Reply {
    /// The caller's id for the command.
    #[pyo3(get)]
    request_id: u64,
    /// What came of it (see the class docs).
    #[pyo3(get)]
    result: String,
    payload: Option<Vec<u8>>,
    /// With "session_opened": the client id to write with.
    #[pyo3(get)]
    client: Option<u64>,
    /// With "not_leader": the leader, if this node knows it.
    #[pyo3(get)]
    leader: Option<u64>,
}

const SUCCESSES: [&str; 6] = [
    "done",
    "session_opened",
    "swapped",
    "not_swapped",
    "value",
    "absent",
];

impl Reply {
    pub(crate) fn from_core(request_id: u64, result: KvResult) -> Self {
        let (name, _) = result_name(&result);
        let (mut payload, mut client, mut leader) = (None, None, None);
        match result {
            Ok(KvResponse::Value(value)) => payload = value,
            Ok(KvResponse::SessionOpened { client: c }) => client = Some(c),
            Err(kv::Error::NotLeader { leader_hint }) => leader = leader_hint.map(|l| l.0),
            _ => {}
        }
        Reply {
            request_id,
            result: name.to_string(),
            payload,
            client,
            leader,
        }
    }
}

#[pymethods]
impl Reply {
    #[new]
    #[pyo3(signature = (request_id, result, value=None, client=None, leader=None))]
    fn new(
        request_id: u64,
        result: String,
        value: Option<&[u8]>,
        client: Option<u64>,
        leader: Option<u64>,
    ) -> Self {
        Reply {
            request_id,
            result,
            payload: value.map(<[u8]>::to_vec),
            client,
            leader,
        }
    }

    /// With "value": the value read (`bytes`, possibly empty); else None.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.payload.as_deref().map(|v| PyBytes::new(py, v))
    }

    /// Whether `result` is a success (the command took effect, or a read
    /// answered).
    #[getter]
    fn ok(&self) -> bool {
        SUCCESSES.contains(&self.result.as_str())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let opt = |v: Option<u64>| v.map_or_else(|| "None".to_string(), |v| v.to_string());
        let value = match &self.payload {
            Some(v) => PyBytes::new(py, v).repr()?.to_string(),
            None => "None".to_string(),
        };
        Ok(format!(
            "Reply(request_id={}, result='{}', value={value}, client={}, leader={})",
            self.request_id,
            self.result,
            opt(self.client),
            opt(self.leader)
        ))
    }
}

/// Records and the Raft events are the Raft node's; each reply is a
/// `Reply`.
impl Outputs for CoreKv<ArenaLog> {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        <CoreNode<ArenaLog> as Outputs>::persist(py, record)
    }

    fn event(py: Python<'_>, event: kv::Event) -> PyResult<Py<PyAny>> {
        match event {
            kv::Event::Raft(event) => <CoreNode<ArenaLog> as Outputs>::event(py, event),
            kv::Event::Reply { id, result } => {
                Ok(Py::new(py, Reply::from_core(id, result))?.into_any())
            }
        }
    }
}

/// A replicated key-value store on a Raft node: every node applies the
/// committed writes to its own copy, and clients' retried writes apply
/// exactly once (client sessions, Raft thesis §6.3).
///
/// It takes the keyword arguments of `RaftNode`, and the store's limits,
/// which every node of a cluster must share: `max_keys`, `max_key_bytes`,
/// `max_value_bytes`, `max_sessions` and `session_expiry_ms` (log time).
/// Its records are the Raft node's; rebuild a restarted node with
/// `KvNode.restore(id, voters, records, **config)`, and the store is
/// loaded from their snapshot, if any, and rebuilt as committed entries
/// are reported again.
///
/// Every `snapshot_interval` applied entries (10,000 unless set) the node
/// snapshots its store, client sessions included, and queues a snapshot
/// record (`is_snapshot_record`): once it is durable, every record before
/// it may be deleted. A write retried after a snapshot still applies once.
/// A follower that needs entries the leader has dropped receives the
/// leader's snapshot and replaces its store with it (`ApplySnapshot`
/// follows). A store whose image is over `max_snapshot_bytes` is not
/// snapshotted: size that bound for the limits. If a leader's snapshot is
/// not the image of a store with this node's limits, `handle_message`
/// raises `MalformedMessage` although the Raft node has installed it (its
/// outputs are queued: drain them); the store is behind the node: rebuild
/// the node, and give every node the same limits.
///
/// Commands (leader only, else the reply is "not_leader") each take a
/// `request_id` of the caller's choosing and get exactly one `Reply` with
/// it: `open_session`, then writes (`put`, `delete`, `cas`) with the
/// session's `client` id and sequence numbers 1, 2, 3, ..., one write
/// outstanding at a time, and linearizable reads (`get`, by ReadIndex or
/// under the leader's lease). A write answered "retry", or not at all, is
/// sent again with the same `seq`, to any node: if the first copy was
/// applied, the retry gets its saved answer instead. A key or value over
/// the limits raises `LimitExceeded`, and no reply comes. Drain after
/// every call, as for `RaftNode`; the Raft events (`Committed`,
/// `BecameLeader`, ...) are passed on after the store has acted on them.
#[pyclass(module = "consensio.raft", frozen)]
#[derive(Debug)]
pub(crate) struct KvNode {
    node: Node<CoreKv<ArenaLog>>,
    limits: KvLimits,
    log_max_entries: usize,
    log_max_bytes: usize,
}

impl KvNode {
    fn command(&self, py: Python<'_>, now_ms: u64, command: kv::Command) -> PyResult<()> {
        self.node.input(py, now_ms, Input::Command(command))
    }

    /// `bytes` as a key or value, refused over `max`.
    pub(crate) fn bounded(bytes: &[u8], what: &str, max: usize) -> PyResult<Vec<u8>> {
        if bytes.len() > max {
            return Err(crate::LimitExceeded::new_err(format!(
                "{what} of {} bytes; the store's limit is {max}",
                bytes.len()
            )));
        }
        Ok(bytes.to_vec())
    }

    fn key(&self, key: &[u8]) -> PyResult<Vec<u8>> {
        Self::bounded(key, "key", self.limits.max_key_bytes)
    }

    fn value(&self, value: &[u8], what: &str) -> PyResult<Vec<u8>> {
        Self::bounded(value, what, self.limits.max_value_bytes)
    }

    fn write(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        client: u64,
        seq: u64,
        op: KvOp,
    ) -> PyResult<()> {
        let write = kv::Command::Write {
            id: request_id,
            client,
            seq,
            op,
        };
        self.command(py, now_ms, write)
    }
}

participant_methods! {
    KvNode;

    #[new]
    #[pyo3(signature = (id, voters, *, seed=None, cluster=0, election_timeout_min_ms=150,
                        election_timeout_max_ms=300, heartbeat_interval_ms=50,
                        pre_vote=true, check_quorum=true, max_clock_drift_ms=10,
                        max_entry_bytes=65536, max_entries_per_message=64,
                        max_bytes_per_message=262_144, log_max_entries=1_048_576,
                        log_max_bytes=268_435_456, max_snapshot_bytes=67_108_864,
                        max_keys=65_536, max_key_bytes=1_024,
                        max_value_bytes=16_384, max_sessions=10_000,
                        session_expiry_ms=3_600_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        voters: &Bound<'_, PyAny>,
        seed: Option<u64>,
        cluster: u64,
        election_timeout_min_ms: u64,
        election_timeout_max_ms: u64,
        heartbeat_interval_ms: u64,
        pre_vote: bool,
        check_quorum: bool,
        max_clock_drift_ms: u64,
        max_entry_bytes: usize,
        max_entries_per_message: usize,
        max_bytes_per_message: usize,
        log_max_entries: usize,
        log_max_bytes: usize,
        max_snapshot_bytes: usize,
        max_keys: usize,
        max_key_bytes: usize,
        max_value_bytes: usize,
        max_sessions: usize,
        session_expiry_ms: u64,
    ) -> PyResult<Self> {
        let config = configure(
            id,
            voters,
            seed,
            cluster,
            [
                election_timeout_min_ms,
                election_timeout_max_ms,
                heartbeat_interval_ms,
                max_clock_drift_ms,
            ],
            pre_vote,
            check_quorum,
            [
                max_entry_bytes,
                max_entries_per_message,
                max_bytes_per_message,
                max_snapshot_bytes,
            ],
            log_max_entries,
        )?;
        let limits = KvLimits {
            max_keys,
            max_key_bytes,
            max_value_bytes,
            max_sessions,
            session_expiry_ms,
        };
        let log = ArenaLog::new(log_max_entries, log_max_bytes);
        Ok(KvNode {
            node: Node::new(CoreKv::new(config, log, limits).map_err(error)?),
            limits,
            log_max_entries,
            log_max_bytes,
        })
    }

    /// A node restarted from the records it persisted (each `Persist.value`,
    /// in the order polled; the records before a snapshot record may have
    /// been deleted), with the same keyword arguments as the constructor.
    /// It starts as a follower whose store is the records' snapshot (its
    /// first output is then `ApplySnapshot`) or empty, and rebuilt as the
    /// leader tells it the commit index and the committed entries after
    /// it are reported again. Raises as `RaftNode.restore`, and
    /// `MalformedMessage` if the snapshot is not the image of a store with
    /// these limits. `snapshot_interval` starts at its default.
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
        let fresh = fresh.cast::<KvNode>()?.get();
        let raft = fresh.node.with(|n| n.raft().config().clone());
        let log = ArenaLog::new(fresh.log_max_entries, fresh.log_max_bytes);
        let node = CoreKv::restore((raft, log, fresh.limits), &records).map_err(error)?;
        let restored = KvNode {
            node: Node::new(node),
            limits: fresh.limits,
            log_max_entries: fresh.log_max_entries,
            log_max_bytes: fresh.log_max_bytes,
        };
        Ok(Py::new(cls.py(), restored)?.into_any())
    }

    /// "follower", "pre_candidate", "candidate" or "leader".
    #[getter]
    fn role(&self) -> &'static str {
        role_name(self.node.with(|n| n.raft().role()))
    }

    /// The current term.
    #[getter]
    fn term(&self) -> u64 {
        self.node.with(|n| n.raft().term())
    }

    /// The leader of the current term (this node, if leader), or None.
    #[getter]
    fn leader(&self) -> Option<u64> {
        self.node.with(|n| n.raft().leader().map(|l| l.0))
    }

    /// The highest index known to be committed.
    #[getter]
    fn commit_index(&self) -> u64 {
        self.node.with(|n| n.raft().commit_index())
    }

    /// Whether this node leads under a lease that holds at the time of its
    /// last input (see `RaftNode.lease_holds`).
    #[getter]
    fn lease_holds(&self) -> bool {
        self.node.with(|n| n.raft().lease_holds())
    }

    /// The index of the last entry applied to this node's store.
    #[getter]
    fn applied_index(&self) -> u64 {
        self.node.with(|n| n.store().applied_index())
    }

    /// Applied entries between the store's snapshots (0: never; 10,000 on
    /// a new or restored node). Setting it is a local choice, kept in
    /// memory only (nodes of a cluster may differ), and takes effect at
    /// the next input.
    #[getter]
    fn snapshot_interval(&self) -> u64 {
        self.node.with(|n| n.snapshot_interval())
    }

    #[setter]
    fn set_snapshot_interval(&self, entries: u64) {
        self.node.with_mut(|n| n.set_snapshot_interval(entries));
    }

    /// The most bytes one frame this node sends can take.
    #[getter]
    fn max_frame_len(&self) -> usize {
        self.node.with(|n| frame_len(n.raft().config()))
    }

    /// The value of `key` in this node's store as far as it has applied
    /// the log, or None: not linearizable (a follower lags, a deposed
    /// leader may not know it); read with `get` for that.
    fn local_value<'py>(&self, py: Python<'py>, key: &[u8]) -> Option<Bound<'py, PyBytes>> {
        self.node
            .with(|n| n.store().get(key).map(<[u8]>::to_vec))
            .map(|v| PyBytes::new(py, &v))
    }

    /// The membership in effect (see `RaftNode.membership`).
    #[getter]
    fn membership(&self) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
        self.node.with(|n| members(n.raft().membership()))
    }

    /// Adds learner `node` (see `RaftNode.add_learner`). The `Reply` is
    /// "done" once the leader has appended the membership, "busy" while
    /// another change is under way, "bad_membership_change" for a change
    /// that does not apply, "not_leader" on a follower.
    fn add_learner(&self, py: Python<'_>, now_ms: u64, request_id: u64, node: u64) -> PyResult<()> {
        let change = MembershipChange::AddLearner(NodeId(node));
        self.command(py, now_ms, kv::Command::ChangeMembership { id: request_id, change })
    }

    /// Promotes learner `node` (see `RaftNode.promote`); replies as
    /// `add_learner`, and "busy" while the learner is behind.
    fn promote(&self, py: Python<'_>, now_ms: u64, request_id: u64, node: u64) -> PyResult<()> {
        let change = MembershipChange::Promote(NodeId(node));
        self.command(py, now_ms, kv::Command::ChangeMembership { id: request_id, change })
    }

    /// Removes voter or learner `node` (see `RaftNode.remove`); replies as
    /// `add_learner`.
    fn remove(&self, py: Python<'_>, now_ms: u64, request_id: u64, node: u64) -> PyResult<()> {
        let change = MembershipChange::Remove(NodeId(node));
        self.command(py, now_ms, kv::Command::ChangeMembership { id: request_id, change })
    }

    /// A joint change to exactly `voters` and `learners` (see
    /// `RaftNode.change_membership`); replies as `promote`.
    #[pyo3(signature = (now_ms, request_id, voters, learners=None))]
    fn change_membership(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        voters: &Bound<'_, PyAny>,
        learners: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let change = joint_change(voters, learners)?;
        let id = request_id;
        self.command(py, now_ms, kv::Command::ChangeMembership { id, change })
    }

    /// Hands leadership to voter `to` (see `RaftNode.transfer_leadership`):
    /// the `Reply` is "done" once the transfer has begun, "not_leader" on
    /// a follower, "not_a_voter" for a `to` that is not a voter.
    fn transfer_leadership(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        to: u64,
    ) -> PyResult<()> {
        let to = NodeId(to);
        self.command(py, now_ms, kv::Command::TransferLeadership { id: request_id, to })
    }

    /// Opens a client session; the `Reply` ("session_opened") carries the
    /// new `client` id.
    fn open_session(&self, py: Python<'_>, now_ms: u64, request_id: u64) -> PyResult<()> {
        self.command(py, now_ms, kv::Command::OpenSession { id: request_id })
    }

    /// Sets `key` to `value`: write `seq` of session `client`. Replies
    /// "done" once applied.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        client: u64,
        seq: u64,
        key: &[u8],
        value: &[u8],
    ) -> PyResult<()> {
        let op = KvOp::Put {
            key: self.key(key)?,
            value: self.value(value, "value")?,
        };
        self.write(py, now_ms, request_id, client, seq, op)
    }

    /// Removes `key`: write `seq` of session `client`. Replies "done" once
    /// applied, whether or not the key was there.
    fn delete(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        client: u64,
        seq: u64,
        key: &[u8],
    ) -> PyResult<()> {
        let op = KvOp::Delete { key: self.key(key)? };
        self.write(py, now_ms, request_id, client, seq, op)
    }

    /// Compare-and-set: if `key` holds `expected` (None: the key is
    /// absent), set it to `new` (None: remove it); b"" is the empty value,
    /// which is present. Write `seq` of session `client`. Replies
    /// "swapped" or "not_swapped" once applied.
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

    /// A linearizable read of `key`: by ReadIndex (a heartbeat round), or
    /// with `lease=True` under the leader's lease while it holds (which
    /// relies on clock drift staying within `max_clock_drift_ms`; a node
    /// without `check_quorum` replies "lease_reads_disabled"). Replies
    /// "value" or "absent", or "retry" if leadership was lost first.
    #[pyo3(signature = (now_ms, request_id, key, *, lease=false))]
    fn get(
        &self,
        py: Python<'_>,
        now_ms: u64,
        request_id: u64,
        key: &[u8],
        lease: bool,
    ) -> PyResult<()> {
        let get = kv::Command::Get {
            id: request_id,
            key: self.key(key)?,
            lease,
        };
        self.command(py, now_ms, get)
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            let r = n.raft();
            let leader = r
                .leader()
                .map_or_else(|| "None".to_string(), |l| l.0.to_string());
            format!(
                "KvNode(id={}, role='{}', term={}, leader={leader}, keys={})",
                r.id().0,
                role_name(r.role()),
                r.term(),
                n.store().len()
            )
        })
    }
}

/// Whether `record` (a `Persist.value` of a `RaftNode` or `KvNode`) is a
/// snapshot record. A snapshot record replaces every record before it:
/// once it is durable, delete them all (write a file holding it and what
/// follows, then replace the old one atomically) and restore from it and
/// the records after it. The record is decoded whole (the GIL released),
/// so this costs about as much as reading it. Raises `MalformedMessage`
/// for bytes that are not a record.
#[pyfunction]
fn is_snapshot_record(py: Python<'_>, record: &[u8]) -> PyResult<bool> {
    let decoded = py
        .detach(|| wire::decode::<Persist>(record))
        .map_err(error)?;
    Ok(matches!(decoded, Persist::Snapshot { .. }))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(is_snapshot_record, m)?)?;
    m.add_class::<RaftNode>()?;
    m.add_class::<KvNode>()?;
    m.add_class::<Reply>()?;
    m.add_class::<Committed>()?;
    m.add_class::<ReadReady>()?;
    m.add_class::<ReadFailed>()?;
    m.add_class::<BecameLeader>()?;
    m.add_class::<BecameFollower>()?;
    m.add_class::<LogFull>()?;
    m.add_class::<ApplySnapshot>()?;
    m.add_class::<ProposalDropped>()?;
    m.add_class::<MembershipCommitted>()?;
    Ok(())
}
