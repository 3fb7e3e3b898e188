//! `consensio.detector`: the heartbeat failure detector, the φ-accrual
//! calculator and the φ-accrual failure detector.

use consensio::detector::{
    HeartbeatDetector as CoreHeartbeat, PeerState, PhiAccrual as CoreAccrual,
    PhiDetector as CorePhi, heartbeat, phi,
};
use consensio::{Instant, NodeId, Participant, Restore};
use pyo3::prelude::*;

use crate::participant::{Node, Outputs, event_class, participant_methods, persist_value};
use crate::{error, invalid, node_ids};

/// The peers of `id`: `members` (which must include `id`) without it.
fn peers_of(id: u64, members: &Bound<'_, PyAny>) -> PyResult<Vec<NodeId>> {
    let members = node_ids(members)?;
    if !members.contains(&NodeId(id)) {
        return Err(invalid("members must include this node's id"));
    }
    Ok(members.into_iter().filter(|&m| m != NodeId(id)).collect())
}

fn not_a_peer(peer: u64) -> PyErr {
    invalid(format!("node {peer} is not a monitored peer"))
}

const fn state_name(state: PeerState) -> &'static str {
    match state {
        PeerState::Alive => "alive",
        PeerState::Suspected => "suspected",
        PeerState::Failed => "failed",
    }
}

/// Output: `peer`'s state changed from `from_state` to `to_state` (each
/// "alive", "suspected" or "failed").
#[pyclass(module = "consensio.detector", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StateChanged {
    /// The peer.
    #[pyo3(get)]
    peer: u64,
    /// Its previous state.
    #[pyo3(get)]
    from_state: &'static str,
    /// Its new state.
    #[pyo3(get)]
    to_state: &'static str,
}

fn parse_state(name: &str) -> PyResult<&'static str> {
    ["alive", "suspected", "failed"]
        .into_iter()
        .find(|&s| s == name)
        .ok_or_else(|| {
            invalid(format!(
                "unknown state {name:?} (expected \"alive\", \"suspected\" or \"failed\")"
            ))
        })
}

#[pymethods]
impl StateChanged {
    #[new]
    fn new(peer: u64, from_state: &str, to_state: &str) -> PyResult<Self> {
        Ok(StateChanged {
            peer,
            from_state: parse_state(from_state)?,
            to_state: parse_state(to_state)?,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "StateChanged(peer={}, from_state={:?}, to_state={:?})",
            self.peer, self.from_state, self.to_state
        )
    }
}

event_class! {
    /// Output: `peer`'s φ reached the threshold; `phi` is its value at the
    /// tick that noticed (possibly `inf`).
    "consensio.detector", Suspected {
        /// The peer.
        peer: u64,
        /// Its φ.
        phi: f64,
    }
}

event_class! {
    /// Output: a suspected peer's φ is below the threshold again.
    "consensio.detector", Recovered {
        /// The peer.
        peer: u64,
    }
}

impl Outputs for CoreHeartbeat {
    fn persist(py: Python<'_>, incarnation: u64) -> PyResult<Py<PyAny>> {
        persist_value(py, incarnation)
    }

    fn event(py: Python<'_>, event: heartbeat::Event) -> PyResult<Py<PyAny>> {
        let heartbeat::Event::StateChanged { peer, from, to } = event;
        let change = StateChanged {
            peer: peer.0,
            from_state: state_name(from),
            to_state: state_name(to),
        };
        Ok(Py::new(py, change)?.into_any())
    }
}

impl Outputs for CorePhi {
    fn persist(py: Python<'_>, incarnation: u64) -> PyResult<Py<PyAny>> {
        persist_value(py, incarnation)
    }

    fn event(py: Python<'_>, event: phi::Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            phi::Event::Suspected { peer, phi } => {
                Py::new(py, Suspected::new(peer.0, phi))?.into_any()
            }
            phi::Event::Recovered { peer } => Py::new(py, Recovered::new(peer.0))?.into_any(),
        })
    }
}

/// The heartbeat failure detector: fixed timeouts on each peer's silence.
///
/// `members` lists every member, this node included; every other member is
/// a monitored peer (at most 256). Every `interval_ms` it sends a heartbeat
/// to every peer; a peer silent for `suspect_after_ms` becomes "suspected",
/// for `fail_after_ms` "failed", and "alive" again on its next heartbeat.
/// `incarnation` is the last value this detector persisted (0 if none): at
/// its first input it persists one more (`Persist`), before any heartbeat
/// goes out; a restarted node is rebuilt by passing the last
/// `Persist.value` it made durable.
#[pyclass(module = "consensio.detector", frozen)]
#[derive(Debug)]
pub(crate) struct HeartbeatDetector {
    node: Node<CoreHeartbeat>,
}

participant_methods! {
    HeartbeatDetector;

    #[new]
    #[pyo3(signature = (id, members, incarnation=0, *, interval_ms=100,
                        suspect_after_ms=300, fail_after_ms=1000))]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        incarnation: u64,
        interval_ms: u64,
        suspect_after_ms: u64,
        fail_after_ms: u64,
    ) -> PyResult<Self> {
        let config = heartbeat::Config {
            id: NodeId(id),
            peers: peers_of(id, members)?,
            interval_ms,
            suspect_after_ms,
            fail_after_ms,
        };
        let node = CoreHeartbeat::restore(config, &[incarnation]).map_err(error)?;
        Ok(HeartbeatDetector {
            node: Node::new(node),
        })
    }

    /// The monitored peers, sorted.
    #[getter]
    fn peers(&self) -> Vec<u64> {
        self.node
            .with(|n| n.config().peers.iter().map(|p| p.0).collect())
    }

    /// The incarnation this detector's heartbeats carry.
    #[getter]
    fn incarnation(&self) -> u64 {
        self.node.with(|n| n.incarnation())
    }

    /// The state of `peer`: "alive", "suspected" or "failed" (as of the
    /// last tick or heartbeat).
    fn state(&self, peer: u64) -> PyResult<&'static str> {
        self.node
            .with(|n| n.state(NodeId(peer)))
            .map(state_name)
            .ok_or_else(|| not_a_peer(peer))
    }

    /// The suspicion level of `peer` at `now_ms`: whole heartbeat intervals
    /// since its last counted heartbeat (or since the detector started).
    fn missed_intervals(&self, peer: u64, now_ms: u64) -> PyResult<u64> {
        self.node
            .with(|n| n.missed_intervals(NodeId(peer), Instant::from_millis(now_ms)))
            .ok_or_else(|| not_a_peer(peer))
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            format!(
                "HeartbeatDetector(id={}, peers={}, incarnation={})",
                n.id().0,
                n.config().peers.len(),
                n.incarnation()
            )
        })
    }
}

/// The φ-accrual calculator for one peer (Hayashibara et al., 2004, with
/// Akka's parameters and approximation): feed it heartbeat arrival times
/// and ask for φ, a suspicion level that grows with silence and adapts to
/// the observed intervals. φ = 1 means about a 10% chance that suspecting
/// the peer is a mistake, φ = 8 (the default threshold) about 10⁻⁸.
#[pyclass(module = "consensio.detector")]
#[derive(Clone, Debug)]
pub(crate) struct PhiAccrual {
    accrual: CoreAccrual,
}

#[pymethods]
impl PhiAccrual {
    #[new]
    #[pyo3(signature = (threshold=8.0, max_sample_size=1000, min_std_deviation_ms=100,
                        acceptable_heartbeat_pause_ms=0, first_heartbeat_estimate_ms=1000))]
    fn new(
        threshold: f64,
        max_sample_size: usize,
        min_std_deviation_ms: u64,
        acceptable_heartbeat_pause_ms: u64,
        first_heartbeat_estimate_ms: u64,
    ) -> PyResult<Self> {
        let accrual = CoreAccrual::new(phi::AccrualConfig {
            threshold,
            max_sample_size,
            min_std_deviation_ms,
            acceptable_heartbeat_pause_ms,
            first_heartbeat_estimate_ms,
        })
        .map_err(error)?;
        Ok(PhiAccrual { accrual })
    }

    /// Records a heartbeat arriving at `now_ms`.
    fn heartbeat(&mut self, now_ms: u64) {
        self.accrual.heartbeat(Instant::from_millis(now_ms));
    }

    /// φ at `now_ms`: 0 before the first heartbeat, then growing with the
    /// time since the last one (`inf` once the tail probability underflows).
    fn phi(&self, now_ms: u64) -> f64 {
        self.accrual.phi(Instant::from_millis(now_ms))
    }

    /// Whether φ at `now_ms` is below the threshold.
    fn is_available(&self, now_ms: u64) -> bool {
        self.accrual.is_available(Instant::from_millis(now_ms))
    }

    /// The threshold φ at or above which the peer is unavailable.
    #[getter]
    fn threshold(&self) -> f64 {
        self.accrual.config().threshold
    }

    /// Inter-arrival times in the history (at most `max_sample_size`).
    #[getter]
    fn samples(&self) -> usize {
        self.accrual.samples()
    }

    /// The mean of the history, in milliseconds (0 when empty).
    #[getter]
    fn mean_ms(&self) -> f64 {
        self.accrual.mean_ms()
    }

    /// The standard deviation of the history, in milliseconds (before the
    /// `min_std_deviation_ms` floor; 0 when empty).
    #[getter]
    fn std_deviation_ms(&self) -> f64 {
        self.accrual.std_deviation_ms()
    }

    fn __repr__(&self) -> String {
        format!(
            "PhiAccrual(threshold={}, samples={}, mean_ms={:.1})",
            self.accrual.config().threshold,
            self.accrual.samples(),
            self.accrual.mean_ms()
        )
    }
}

/// The φ-accrual failure detector: sends heartbeats like
/// `HeartbeatDetector` and keeps one `PhiAccrual` per peer, reporting
/// `Suspected` when a peer's φ reaches `threshold` and `Recovered` when it
/// falls below again (checked on each tick, one per `interval_ms`).
///
/// `members` lists every member, this node included; every other member is
/// a monitored peer (at most 256). `incarnation` is the last value this
/// detector persisted (0 if none), as for `HeartbeatDetector`.
#[pyclass(module = "consensio.detector", frozen)]
#[derive(Debug)]
pub(crate) struct PhiDetector {
    node: Node<CorePhi>,
}

participant_methods! {
    PhiDetector;

    #[new]
    #[pyo3(signature = (id, members, incarnation=0, *, interval_ms=1000, threshold=8.0,
                        max_sample_size=1000, min_std_deviation_ms=100,
                        acceptable_heartbeat_pause_ms=0, first_heartbeat_estimate_ms=1000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        incarnation: u64,
        interval_ms: u64,
        threshold: f64,
        max_sample_size: usize,
        min_std_deviation_ms: u64,
        acceptable_heartbeat_pause_ms: u64,
        first_heartbeat_estimate_ms: u64,
    ) -> PyResult<Self> {
        let config = phi::Config {
            id: NodeId(id),
            peers: peers_of(id, members)?,
            interval_ms,
            phi: phi::AccrualConfig {
                threshold,
                max_sample_size,
                min_std_deviation_ms,
                acceptable_heartbeat_pause_ms,
                first_heartbeat_estimate_ms,
            },
        };
        let node = CorePhi::restore(config, &[incarnation]).map_err(error)?;
        Ok(PhiDetector {
            node: Node::new(node),
        })
    }

    /// The monitored peers, sorted.
    #[getter]
    fn peers(&self) -> Vec<u64> {
        self.node
            .with(|n| n.config().peers.iter().map(|p| p.0).collect())
    }

    /// The incarnation this detector's heartbeats carry.
    #[getter]
    fn incarnation(&self) -> u64 {
        self.node.with(|n| n.incarnation())
    }

    /// φ of `peer` at `now_ms`.
    fn phi(&self, peer: u64, now_ms: u64) -> PyResult<f64> {
        self.node
            .with(|n| n.phi(NodeId(peer), Instant::from_millis(now_ms)))
            .ok_or_else(|| not_a_peer(peer))
    }

    /// Whether `peer` is suspected (as of the last tick).
    fn is_suspected(&self, peer: u64) -> PyResult<bool> {
        self.node
            .with(|n| n.is_suspected(NodeId(peer)))
            .ok_or_else(|| not_a_peer(peer))
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            format!(
                "PhiDetector(id={}, peers={}, incarnation={})",
                n.id().0,
                n.config().peers.len(),
                n.incarnation()
            )
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HeartbeatDetector>()?;
    m.add_class::<PhiDetector>()?;
    m.add_class::<PhiAccrual>()?;
    m.add_class::<StateChanged>()?;
    m.add_class::<Suspected>()?;
    m.add_class::<Recovered>()?;
    Ok(())
}
