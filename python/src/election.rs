//! `consensio.election`: the Bully algorithm and Chang–Roberts ring
//! election, with leader heartbeats and epochs.

use consensio::election::{self, Bully as CoreBully, RingElection as CoreRing, bully, ring};
use consensio::{Input, NodeId, Participant, Restore};
use pyo3::prelude::*;

use crate::participant::{Node, Outputs, event_class, participant_methods, persist_value};
use crate::{error, node_ids};

event_class! {
    /// Output: this node now follows `leader` (itself included) in `epoch`.
    "consensio.election", Elected {
        /// The coordinator.
        leader: u64,
        /// Its epoch.
        epoch: u64,
    }
}

event_class! {
    /// Output: the leader of `epoch` stopped sending heartbeats; an election
    /// starts.
    "consensio.election", LeaderLost {
        /// The epoch of the lost leader.
        epoch: u64,
    }
}

fn election_event(py: Python<'_>, event: election::Event) -> PyResult<Py<PyAny>> {
    Ok(match event {
        election::Event::Elected { leader, epoch } => {
            Py::new(py, Elected::new(leader.0, epoch))?.into_any()
        }
        election::Event::LeaderLost { epoch } => Py::new(py, LeaderLost::new(epoch))?.into_any(),
    })
}

/// Both algorithms persist epochs and report the same events.
macro_rules! election_outputs {
    ($($node:ty),*) => {$(
        impl Outputs for $node {
            fn persist(py: Python<'_>, epoch: u64) -> PyResult<Py<PyAny>> {
                persist_value(py, epoch)
            }

            fn event(py: Python<'_>, event: election::Event) -> PyResult<Py<PyAny>> {
                election_event(py, event)
            }
        }
    )*};
}

election_outputs!(CoreBully, CoreRing);

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

participant_methods! {
    Bully;

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
        let config = bully::Config {
            id: NodeId(id),
            members: node_ids(members)?,
            answer_timeout_ms,
            coordinator_timeout_ms,
            heartbeat_interval_ms,
            leader_timeout_ms,
        };
        let node = CoreBully::restore(config, &[epoch]).map_err(error)?;
        Ok(Bully {
            node: Node::new(node),
        })
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

    /// Starts an election now, as if the leader had been lost. Does nothing
    /// while the node has no leader (it is listening after a start, or
    /// already electing: it elects on its own).
    fn start_election(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        let command = Input::Command(election::Command::StartElection);
        self.node.input(py, now_ms, command)
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

participant_methods! {
    RingElection;

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
        let config = ring::Config {
            id: NodeId(id),
            members: node_ids(members)?,
            ack_timeout_ms,
            election_timeout_ms,
            heartbeat_interval_ms,
            leader_timeout_ms,
        };
        let node = CoreRing::restore(config, &[epoch]).map_err(error)?;
        Ok(RingElection {
            node: Node::new(node),
        })
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

    /// Starts an election now, as if the leader had been lost. Does nothing
    /// while the node has no leader (it is listening after a start, or
    /// already electing: it elects on its own).
    fn start_election(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
        let command = Input::Command(election::Command::StartElection);
        self.node.input(py, now_ms, command)
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
