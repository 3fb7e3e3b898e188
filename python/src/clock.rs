//! `consensio.clock`: vector, Lamport and hybrid logical clocks, and clock
//! synchronisation arithmetic.

use std::collections::BTreeMap;

use consensio::clock::ntp::{self, ClockFilter as CoreFilter};
use consensio::clock::{
    CausalOrdering, HlcTimestamp as CoreHlcTimestamp, HybridLogicalClock as CoreHlc,
    LamportClock as CoreLamport, LamportStamp as CoreStamp, VectorClock as CoreVectorClock,
    berkeley, cristian,
};
use consensio::{Instant, NodeId, wire};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyBytes, PyType};

use crate::error;

fn ordering_name(o: CausalOrdering) -> &'static str {
    match o {
        CausalOrdering::Before => "before",
        CausalOrdering::After => "after",
        CausalOrdering::Equal => "equal",
        CausalOrdering::Concurrent => "concurrent",
    }
}

/// A vector clock over integer actor ids. Comparisons follow
/// happened-before: `a < b` iff `a` happened before `b`; concurrent clocks
/// are neither `<`, `>` nor `==`.
#[pyclass(module = "consensio.clock")]
#[derive(Clone, Debug)]
pub(crate) struct VectorClock {
    pub(crate) clock: CoreVectorClock,
}

#[pymethods]
impl VectorClock {
    #[new]
    #[pyo3(signature = (entries=None))]
    fn new(entries: Option<BTreeMap<u64, u64>>) -> Self {
        let entries = entries.unwrap_or_default();
        // A map has no duplicate actors, so this cannot fail.
        let clock = CoreVectorClock::from_entries(entries.into_iter().map(|(a, c)| (NodeId(a), c)))
            .unwrap_or_default();
        VectorClock { clock }
    }

    /// Records an event of `actor`; returns its new counter.
    fn increment(&mut self, actor: u64) -> PyResult<u64> {
        self.clock.increment(NodeId(actor)).map_err(error)
    }

    /// The counter of `actor` (0 if it has none).
    fn get(&self, actor: u64) -> u64 {
        self.clock.get(NodeId(actor))
    }

    /// Pointwise maximum with `other`, in place (with itself: no change).
    fn merge(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<()> {
        if slf.is(other) {
            return Ok(());
        }
        let theirs = other.try_borrow()?;
        slf.try_borrow_mut()?.clock.merge(&theirs.clock);
        Ok(())
    }

    /// "before", "after", "equal" or "concurrent".
    fn compare(&self, other: PyRef<'_, VectorClock>) -> &'static str {
        ordering_name(self.clock.compare(&other.clock))
    }

    /// `self` happened before `other`.
    fn happened_before(&self, other: PyRef<'_, VectorClock>) -> bool {
        self.clock.compare(&other.clock) == CausalOrdering::Before
    }

    /// Neither happened before the other.
    fn concurrent_with(&self, other: PyRef<'_, VectorClock>) -> bool {
        self.clock.compare(&other.clock) == CausalOrdering::Concurrent
    }

    /// `self` has seen everything `other` has.
    fn dominates(&self, other: PyRef<'_, VectorClock>) -> bool {
        matches!(
            self.clock.compare(&other.clock),
            CausalOrdering::After | CausalOrdering::Equal
        )
    }

    /// `{actor: counter}` for every non-zero counter.
    fn to_dict(&self) -> BTreeMap<u64, u64> {
        self.clock
            .entries()
            .iter()
            .map(|&(a, c)| (a.0, c))
            .collect()
    }

    /// A clock from `{actor: counter}`.
    #[classmethod]
    fn from_dict(_cls: &Bound<'_, PyType>, entries: BTreeMap<u64, u64>) -> Self {
        VectorClock::new(Some(entries))
    }

    /// The wire encoding.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let frame = wire::encode_to_vec(&self.clock).map_err(error)?;
        Ok(PyBytes::new(py, &frame))
    }

    /// Decodes the wire encoding; raises `MalformedMessage` for anything else.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, data: &[u8]) -> PyResult<Self> {
        let clock = wire::decode(data).map_err(error)?;
        Ok(VectorClock { clock })
    }

    /// An independent copy.
    fn copy(&self) -> Self {
        self.clone()
    }

    fn __len__(&self) -> usize {
        self.clock.len()
    }

    fn __richcmp__(&self, other: PyRef<'_, VectorClock>, op: CompareOp) -> bool {
        let o = self.clock.compare(&other.clock);
        match op {
            CompareOp::Lt => o == CausalOrdering::Before,
            CompareOp::Le => matches!(o, CausalOrdering::Before | CausalOrdering::Equal),
            CompareOp::Eq => o == CausalOrdering::Equal,
            CompareOp::Ne => o != CausalOrdering::Equal,
            CompareOp::Gt => o == CausalOrdering::After,
            CompareOp::Ge => matches!(o, CausalOrdering::After | CausalOrdering::Equal),
        }
    }

    fn __repr__(&self) -> String {
        let body: Vec<String> = self
            .clock
            .entries()
            .iter()
            .map(|(a, c)| format!("{}: {c}", a.0))
            .collect();
        format!("VectorClock({{{}}})", body.join(", "))
    }
}

/// A Lamport timestamp; ordered by time, then node (Lamport's total order).
#[pyclass(module = "consensio.clock", frozen, eq, ord, hash)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LamportStamp {
    /// Logical time.
    #[pyo3(get)]
    time: u64,
    /// The node that stamped the event.
    #[pyo3(get)]
    node: u64,
}

impl From<CoreStamp> for LamportStamp {
    fn from(s: CoreStamp) -> Self {
        LamportStamp {
            time: s.time,
            node: s.node.0,
        }
    }
}

#[pymethods]
impl LamportStamp {
    #[new]
    fn new(time: u64, node: u64) -> Self {
        LamportStamp { time, node }
    }

    fn __repr__(&self) -> String {
        format!("LamportStamp(time={}, node={})", self.time, self.node)
    }
}

/// A node's Lamport clock.
#[pyclass(module = "consensio.clock")]
#[derive(Clone, Debug)]
pub(crate) struct LamportClock {
    clock: CoreLamport,
}

#[pymethods]
impl LamportClock {
    #[new]
    #[pyo3(signature = (node, time=0))]
    fn new(node: u64, time: u64) -> Self {
        LamportClock {
            clock: CoreLamport::at(NodeId(node), time),
        }
    }

    /// Time of the last event.
    #[getter]
    fn time(&self) -> u64 {
        self.clock.time()
    }

    /// A local event; returns its stamp.
    fn tick(&mut self) -> PyResult<LamportStamp> {
        self.clock.tick().map(Into::into).map_err(error)
    }

    /// A send event; returns the stamp the message carries.
    fn send(&mut self) -> PyResult<LamportStamp> {
        self.clock.send().map(Into::into).map_err(error)
    }

    /// A receive event of a message stamped `remote`.
    fn receive(&mut self, remote: PyRef<'_, LamportStamp>) -> PyResult<LamportStamp> {
        let remote = CoreStamp {
            time: remote.time,
            node: NodeId(remote.node),
        };
        self.clock.receive(remote).map(Into::into).map_err(error)
    }

    fn __repr__(&self) -> String {
        let s = self.clock.stamp();
        format!("LamportClock(node={}, time={})", s.node.0, s.time)
    }
}

/// A hybrid logical clock timestamp, ordered by (wall_ms, logical).
#[pyclass(module = "consensio.clock", frozen, eq, ord, hash)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct HlcTimestamp {
    /// Physical part, milliseconds.
    #[pyo3(get)]
    wall_ms: u64,
    /// Logical counter.
    #[pyo3(get)]
    logical: u32,
}

impl From<CoreHlcTimestamp> for HlcTimestamp {
    fn from(t: CoreHlcTimestamp) -> Self {
        HlcTimestamp {
            wall_ms: t.wall_ms,
            logical: t.logical,
        }
    }
}

impl From<HlcTimestamp> for CoreHlcTimestamp {
    fn from(t: HlcTimestamp) -> Self {
        CoreHlcTimestamp {
            wall_ms: t.wall_ms,
            logical: t.logical,
        }
    }
}

#[pymethods]
impl HlcTimestamp {
    #[new]
    #[pyo3(signature = (wall_ms, logical=0))]
    fn new(wall_ms: u64, logical: u32) -> Self {
        HlcTimestamp { wall_ms, logical }
    }

    /// The wire encoding.
    // pymethods take `&self`; the Python name `to_bytes` is the convention.
    #[allow(clippy::wrong_self_convention)]
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let frame = wire::encode_to_vec(&CoreHlcTimestamp::from(*self)).map_err(error)?;
        Ok(PyBytes::new(py, &frame))
    }

    /// Decodes the wire encoding.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, data: &[u8]) -> PyResult<Self> {
        wire::decode::<CoreHlcTimestamp>(data)
            .map(Into::into)
            .map_err(error)
    }

    fn __repr__(&self) -> String {
        format!(
            "HlcTimestamp(wall_ms={}, logical={})",
            self.wall_ms, self.logical
        )
    }
}

/// A hybrid logical clock (Kulkarni et al. 2014) that rejects remote
/// timestamps more than `max_offset_ms` ahead of local physical time.
#[pyclass(module = "consensio.clock")]
#[derive(Clone, Debug)]
pub(crate) struct HybridLogicalClock {
    clock: CoreHlc,
}

#[pymethods]
impl HybridLogicalClock {
    #[new]
    #[pyo3(signature = (max_offset_ms, last=None))]
    fn new(max_offset_ms: u64, last: Option<PyRef<'_, HlcTimestamp>>) -> Self {
        let last = last.map(|t| CoreHlcTimestamp::from(*t)).unwrap_or_default();
        HybridLogicalClock {
            clock: CoreHlc::restored(last, max_offset_ms),
        }
    }

    /// The latest timestamp issued.
    #[getter]
    fn last(&self) -> HlcTimestamp {
        self.clock.last().into()
    }

    /// A local or send event at physical time `now_ms`.
    fn now(&mut self, now_ms: u64) -> PyResult<HlcTimestamp> {
        self.clock
            .now(Instant::from_millis(now_ms))
            .map(Into::into)
            .map_err(error)
    }

    /// A receive event at `now_ms` of a message stamped `remote`; raises
    /// `Rejected` if `remote` is too far ahead (the clock is unchanged).
    fn receive(&mut self, now_ms: u64, remote: PyRef<'_, HlcTimestamp>) -> PyResult<HlcTimestamp> {
        self.clock
            .receive(Instant::from_millis(now_ms), (*remote).into())
            .map(Into::into)
            .map_err(error)
    }

    fn __repr__(&self) -> String {
        let l = self.clock.last();
        format!(
            "HybridLogicalClock(max_offset_ms={}, last=HlcTimestamp(wall_ms={}, logical={}))",
            self.clock.max_offset_ms(),
            l.wall_ms,
            l.logical
        )
    }
}

/// Offset and delay of one NTP exchange from its four timestamps (RFC 5905
/// §8), as `(offset, delay)`.
#[pyfunction]
fn ntp_on_wire(t1: i64, t2: i64, t3: i64, t4: i64) -> PyResult<(i64, i64)> {
    let s = ntp::on_wire(&ntp::Timestamps {
        origin: t1,
        receive: t2,
        transmit: t3,
        destination: t4,
    })
    .map_err(error)?;
    Ok((s.offset, s.delay))
}

/// The clock filter's estimate.
#[pyclass(module = "consensio.clock", frozen, eq, hash)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NtpEstimate {
    /// Offset of the minimum-delay sample.
    #[pyo3(get)]
    offset: i64,
    /// Its delay.
    #[pyo3(get)]
    delay: i64,
    /// RMS distance of the other samples' offsets from it.
    #[pyo3(get)]
    jitter: u64,
    /// When the chosen sample was taken.
    #[pyo3(get)]
    epoch: i64,
}

#[pymethods]
impl NtpEstimate {
    fn __repr__(&self) -> String {
        format!(
            "NtpEstimate(offset={}, delay={}, jitter={}, epoch={})",
            self.offset, self.delay, self.jitter, self.epoch
        )
    }
}

fn estimate(e: ntp::Estimate) -> NtpEstimate {
    NtpEstimate {
        offset: e.offset,
        delay: e.delay,
        jitter: e.jitter,
        epoch: e.epoch,
    }
}

/// RFC 5905's eight-stage minimum-delay clock filter.
#[pyclass(module = "consensio.clock")]
#[derive(Clone, Debug, Default)]
pub(crate) struct ClockFilter {
    filter: CoreFilter,
}

#[pymethods]
impl ClockFilter {
    #[new]
    fn new() -> Self {
        ClockFilter::default()
    }

    /// Adds a sample taken at `epoch`; returns the new estimate, or `None`
    /// if the minimum-delay sample was already offered.
    fn push(&mut self, offset: i64, delay: i64, epoch: i64) -> Option<NtpEstimate> {
        self.filter
            .push(ntp::Sample { offset, delay }, epoch)
            .map(estimate)
    }

    /// The current minimum-delay estimate, if any sample is held.
    fn best(&self) -> Option<NtpEstimate> {
        self.filter.best().map(estimate)
    }
}

/// Cristian's estimate of a server's clock.
#[pyclass(module = "consensio.clock", frozen, eq, hash)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CristianEstimate {
    /// Estimated server time when the reply arrived.
    #[pyo3(get)]
    server_time: i64,
    /// Server clock minus client clock.
    #[pyo3(get)]
    offset: i64,
    /// Bound on the estimate's error (±).
    #[pyo3(get)]
    error: i64,
}

#[pymethods]
impl CristianEstimate {
    fn __repr__(&self) -> String {
        format!(
            "CristianEstimate(server_time={}, offset={}, error={})",
            self.server_time, self.offset, self.error
        )
    }
}

/// Cristian's estimate for a request sent at `sent`, answered with
/// `server_time`, received at `received`.
#[pyfunction]
#[pyo3(signature = (sent, server_time, received, min_one_way=0))]
fn cristian_estimate(
    sent: i64,
    server_time: i64,
    received: i64,
    min_one_way: i64,
) -> PyResult<CristianEstimate> {
    let e = cristian::estimate(sent, server_time, received, min_one_way).map_err(error)?;
    Ok(CristianEstimate {
        server_time: e.server_time,
        offset: e.offset,
        error: e.error,
    })
}

/// One Berkeley round: `(average, used, adjustments)` from each clock's
/// offset to the master.
#[pyfunction]
fn berkeley_adjustments(readings: Vec<i64>, tolerance: u64) -> PyResult<(i64, usize, Vec<i64>)> {
    let mut adjustments = vec![0; readings.len()];
    let round = berkeley::adjustments(&readings, tolerance, &mut adjustments).map_err(error)?;
    Ok((round.average, round.used, adjustments))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<VectorClock>()?;
    m.add_class::<LamportStamp>()?;
    m.add_class::<LamportClock>()?;
    m.add_class::<HlcTimestamp>()?;
    m.add_class::<HybridLogicalClock>()?;
    m.add_class::<NtpEstimate>()?;
    m.add_class::<ClockFilter>()?;
    m.add_class::<CristianEstimate>()?;
    m.add_function(wrap_pyfunction!(ntp_on_wire, m)?)?;
    m.add_function(wrap_pyfunction!(cristian_estimate, m)?)?;
    m.add_function(wrap_pyfunction!(berkeley_adjustments, m)?)?;
    Ok(())
}
