//! `consensio._native`: the compiled half of the Python package `consensio`.
//!
//! Every family has a file here (`clock.rs`, `quorum.rs`, `merkle.rs`,
//! `ring.rs`, `election.rs`, `paxos.rs`, `detector.rs`, `raft.rs`) whose classes the pure-Python
//! modules `consensio.<family>` re-export. Protocol participants share the
//! output classes `Send` and `Persist` below. Errors are the exception
//! classes below, all subclasses of `consensio.Error`; wrong argument types
//! raise `TypeError` as usual.
//!
//! Threads: every object may be passed between threads. Protocol
//! participants may be driven from several threads at once: they take turns
//! (`participant.rs`): a thread that feeds an input holds the node until
//! its `poll()` returns None, meanwhile another thread's input waits with
//! the GIL released and another thread's `poll()` returns None. Other
//! objects' changing methods borrow them exclusively, so two threads
//! calling them on the same object at once get `RuntimeError: Already
//! borrowed` rather than a data race; read-only methods may run
//! concurrently. Long calls (building large Merkle trees) release the GIL.

use consensio::{Classify, ErrorKind};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyType};

mod clock;
mod crdt;
mod detector;
mod election;
mod merkle;
mod participant;
mod paxos;
mod quorum;
mod raft;
mod resilience;
mod ring;
mod sim;

pyo3::create_exception!(
    consensio,
    Error,
    PyException,
    "Base class of every error raised by consensio."
);
pyo3::create_exception!(
    consensio,
    InvalidArgument,
    Error,
    "A value outside its domain: an unknown node, a duplicate, a wrong-sized hash, an empty set."
);
pyo3::create_exception!(
    consensio,
    MalformedMessage,
    Error,
    "Bytes that do not decode as the expected message (truncated, trailing bytes, bad tags, bad version)."
);
pyo3::create_exception!(
    consensio,
    OutOfRange,
    Error,
    "An index or size beyond what the object holds."
);
pyo3::create_exception!(
    consensio,
    VerificationError,
    Error,
    "A proof that does not verify."
);
pyo3::create_exception!(
    consensio,
    LimitExceeded,
    Error,
    "A configured bound or a counter's range would be exceeded."
);
pyo3::create_exception!(
    consensio,
    Rejected,
    Error,
    "The protocol refused the request in its current state."
);

/// Raises `InvalidArgument` with `message`.
pub(crate) fn invalid(message: impl std::fmt::Display) -> PyErr {
    InvalidArgument::new_err(message.to_string())
}

/// Any core error as the exception of its kind (core's `Classify`), with
/// its message: one mapping for every family.
pub(crate) fn error<E: Classify + std::fmt::Display>(e: E) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::Malformed => MalformedMessage::new_err(message),
        ErrorKind::OutOfRange => OutOfRange::new_err(message),
        ErrorKind::LimitExceeded => LimitExceeded::new_err(message),
        ErrorKind::Rejected => Rejected::new_err(message),
        ErrorKind::VerificationFailed => VerificationError::new_err(message),
        // InvalidArgument; BadLength and BufferTooSmall too (Python passes
        // no buffers: a wrong length is a wrong argument); and kinds added
        // to core later.
        _ => InvalidArgument::new_err(message),
    }
}

/// Reads node ids from any iterable of ints (a list, tuple, set, range...).
/// A `str`, `bytes` or `bytearray` is refused with `TypeError` rather than
/// read character by character or byte by byte.
pub(crate) fn node_ids(members: &Bound<'_, PyAny>) -> PyResult<Vec<consensio::NodeId>> {
    if members.is_instance_of::<PyString>()
        || members.is_instance_of::<PyBytes>()
        || members.is_instance_of::<PyByteArray>()
    {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "members must be an iterable of ints, not a string or bytes",
        ));
    }
    members
        .try_iter()?
        .map(|m| m.and_then(|m| m.extract::<u64>()).map(consensio::NodeId))
        .collect()
}

/// Reads a 32-byte hash.
pub(crate) fn hash32(bytes: &[u8], what: &str) -> PyResult<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| invalid(format!("{what} must be 32 bytes, got {}", bytes.len())))
}

/// Output: send `data` (a wire frame) to node `to`.
#[pyclass(module = "consensio", name = "Send", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SendOutput {
    /// The destination node.
    #[pyo3(get)]
    to: u64,
    frame: Vec<u8>,
}

impl SendOutput {
    pub(crate) fn new(to: u64, frame: Vec<u8>) -> Self {
        SendOutput { to, frame }
    }
}

#[pymethods]
impl SendOutput {
    #[new]
    fn py_new(to: u64, data: &[u8]) -> Self {
        SendOutput::new(to, data.to_vec())
    }

    /// The frame to deliver to `to`'s `handle_message`.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.frame)
    }

    fn __repr__(&self) -> String {
        format!("Send(to={}, data=<{} bytes>)", self.to, self.frame.len())
    }
}

/// What a `Persist` output carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Durable {
    /// The latest of an increasing sequence; only the last one matters.
    Value(u64),
    /// One record of a sequence; every one matters, in order.
    Record(Vec<u8>),
}

/// Output: make `value` durable before acting on the outputs after it.
///
/// Most families persist a single integer, the latest of an increasing
/// sequence: an election's epoch, a failure detector's incarnation. Keep
/// only the last `value`; a restarted node is rebuilt by passing it back to
/// the constructor (`epoch=` for `consensio.election`, `incarnation=` for
/// `consensio.detector`). A Raft node persists records instead: `value` is
/// `bytes`; append every one to stable storage, in order, and rebuild a
/// restarted node with `consensio.raft.RaftNode.restore(..., records)`.
#[pyclass(module = "consensio", name = "Persist", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PersistOutput {
    value: Durable,
}

impl PersistOutput {
    pub(crate) fn new(value: u64) -> Self {
        PersistOutput {
            value: Durable::Value(value),
        }
    }

    pub(crate) fn record(bytes: Vec<u8>) -> Self {
        PersistOutput {
            value: Durable::Record(bytes),
        }
    }

    /// The `Persist` output of a record stored as its wire frame (Raft's
    /// and Paxos's records), for `Outputs::persist`.
    pub(crate) fn encoded<R: consensio::wire::WireMessage>(
        py: Python<'_>,
        record: &R,
    ) -> PyResult<Py<PyAny>> {
        let bytes = consensio::wire::encode_to_vec(record).map_err(error)?;
        Ok(Py::new(py, PersistOutput::record(bytes))?.into_any())
    }
}

#[pymethods]
impl PersistOutput {
    #[new]
    fn py_new(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        match value.cast::<PyBytes>() {
            Ok(bytes) => Ok(PersistOutput::record(bytes.as_bytes().to_vec())),
            Err(_) => Ok(PersistOutput::new(value.extract()?)),
        }
    }

    /// The value to make durable: an `int`, or a Raft record as `bytes`.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match &self.value {
            Durable::Value(v) => v.into_pyobject(py)?.into_any().unbind(),
            Durable::Record(bytes) => PyBytes::new(py, bytes).into_any().unbind(),
        })
    }

    /// `Persist[int]` and `Persist[bytes]` in annotations, as in the stubs.
    #[classmethod]
    fn __class_getitem__(cls: &Bound<'_, PyType>, item: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let alias = cls.py().import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    fn __repr__(&self) -> String {
        match &self.value {
            Durable::Value(v) => format!("Persist(value={v})"),
            Durable::Record(bytes) => format!("Persist(value=<{} bytes>)", bytes.len()),
        }
    }
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("WIRE_VERSION", consensio::wire::WIRE_VERSION)?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("MalformedMessage", py.get_type::<MalformedMessage>())?;
    m.add("OutOfRange", py.get_type::<OutOfRange>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("LimitExceeded", py.get_type::<LimitExceeded>())?;
    m.add("Rejected", py.get_type::<Rejected>())?;
    m.add_class::<SendOutput>()?;
    m.add_class::<PersistOutput>()?;
    clock::register(m)?;
    crdt::register(m)?;
    quorum::register(m)?;
    resilience::register(m)?;
    merkle::register(m)?;
    ring::register(m)?;
    election::register(m)?;
    paxos::register(m)?;
    detector::register(m)?;
    raft::register(m)?;
    sim::register(m)?;
    Ok(())
}
