//! `consensio.crdt`: the CRDTs of `consensio::crdt` with `bytes` values and
//! elements: update, read, `merge` another replica's state, ship it with
//! `to_bytes` / `from_bytes`.

use consensio::clock::HlcTimestamp;
use consensio::crdt::{
    DvvSet as CoreDvv, GCounter as CoreG, Lattice, LwwRegister as CoreLww, MvRegister as CoreMv,
    OrSet as CoreSet, PnCounter as CorePn,
};
use consensio::{NodeId, wire};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use crate::clock::VectorClock;
use crate::error;

/// The methods every CRDT class has, then the class's own.
macro_rules! crdt_methods {
    ($class:ident, $core:ty; $($extra:tt)*) => {
        #[pymethods]
        impl $class {
            /// The empty state.
            #[new]
            fn new() -> Self {
                $class { state: <$core>::default() }
            }

            /// Merges `other`'s state into this one (commutative,
            /// associative, idempotent: merging a state into itself
            /// changes nothing).
            fn merge(slf: &Bound<'_, Self>, other: &Bound<'_, Self>) -> PyResult<()> {
                if slf.is(other) {
                    return Ok(());
                }
                let theirs = other.try_borrow()?;
                slf.try_borrow_mut()?.state.merge(&theirs.state);
                Ok(())
            }

            /// The wire encoding, to ship to another replica.
            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                let frame = wire::encode_to_vec(&self.state).map_err(error)?;
                Ok(PyBytes::new(py, &frame))
            }

            /// Decodes the wire encoding; raises `MalformedMessage` for
            /// bytes that are not a state some replica could have built.
            #[classmethod]
            fn from_bytes(_cls: &Bound<'_, PyType>, data: &[u8]) -> PyResult<Self> {
                let state = wire::decode(data).map_err(error)?;
                Ok($class { state })
            }

            /// An independent copy.
            fn copy(&self) -> Self {
                self.clone()
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.cast::<$class>().is_ok_and(|o| o.borrow().state == self.state)
            }

            $($extra)*
        }
    };
}

/// A grow-only counter: one count per replica, merged by maximum.
#[pyclass(module = "consensio.crdt")]
#[derive(Clone, Debug)]
pub(crate) struct GCounter {
    state: CoreG,
}

crdt_methods! {
    GCounter, CoreG;

    /// Adds `by` to replica `actor`'s count. Raises `OutOfRange` past
    /// 2**64 - 1 (and nothing changes).
    #[pyo3(signature = (actor, by=1))]
    fn increment(&mut self, actor: u64, by: u64) -> PyResult<()> {
        self.state.increment(NodeId(actor), by).map_err(error)
    }

    /// The sum of every replica's count.
    #[getter]
    fn value(&self) -> u128 {
        self.state.value()
    }

    fn __repr__(&self) -> String {
        format!("GCounter(value={})", self.state.value())
    }
}

/// A counter that grows and shrinks.
#[pyclass(module = "consensio.crdt")]
#[derive(Clone, Debug)]
pub(crate) struct PnCounter {
    state: CorePn,
}

crdt_methods! {
    PnCounter, CorePn;

    /// Adds `by` on behalf of replica `actor`.
    #[pyo3(signature = (actor, by=1))]
    fn increment(&mut self, actor: u64, by: u64) -> PyResult<()> {
        self.state.increment(NodeId(actor), by).map_err(error)
    }

    /// Subtracts `by` on behalf of replica `actor`.
    #[pyo3(signature = (actor, by=1))]
    fn decrement(&mut self, actor: u64, by: u64) -> PyResult<()> {
        self.state.decrement(NodeId(actor), by).map_err(error)
    }

    /// Increments less decrements.
    #[getter]
    fn value(&self) -> i128 {
        self.state.value()
    }

    fn __repr__(&self) -> String {
        format!("PnCounter(value={})", self.state.value())
    }
}

/// A last-writer-wins register of bytes, ordered by hybrid logical clock
/// timestamp `(wall_ms, logical)`, then writer, then value.
#[pyclass(module = "consensio.crdt")]
#[derive(Clone, Debug)]
pub(crate) struct LwwRegister {
    state: CoreLww<Vec<u8>>,
}

crdt_methods! {
    LwwRegister, CoreLww<Vec<u8>>;

    /// Writes `value` at timestamp `(wall_ms, logical)` (take it from the
    /// writer's `HybridLogicalClock`) by replica `writer`; False (and
    /// nothing changes) if the register holds a later write.
    fn set(&mut self, wall_ms: u64, logical: u32, writer: u64, value: &[u8]) -> bool {
        let stamp = HlcTimestamp { wall_ms, logical };
        self.state.set(stamp, NodeId(writer), value.to_vec())
    }

    /// The winning value, or None if never written.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.state.get().map(|v| PyBytes::new(py, v))
    }

    /// `(wall_ms, logical, writer)` of the winning write, or None.
    #[getter]
    fn stamp(&self) -> Option<(u64, u32, u64)> {
        self.state
            .last()
            .map(|w| (w.stamp.wall_ms, w.stamp.logical, w.writer.0))
    }

    fn __repr__(&self) -> String {
        format!("LwwRegister(stamp={:?})", self.stamp())
    }
}

/// A multi-value register of bytes: concurrent writes are kept as
/// siblings until a write that has seen them replaces them.
#[pyclass(module = "consensio.crdt")]
#[derive(Clone, Debug)]
pub(crate) struct MvRegister {
    state: CoreMv<Vec<u8>>,
}

crdt_methods! {
    MvRegister, CoreMv<Vec<u8>>;

    /// Writes `value` at replica `actor`, replacing every sibling.
    fn write(&mut self, actor: u64, value: &[u8]) -> PyResult<()> {
        self.state.write(NodeId(actor), value.to_vec()).map_err(error)
    }

    /// The siblings (one value, several concurrent ones, or none).
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.state.values().map(|v| PyBytes::new(py, v)).collect()
    }

    fn __repr__(&self) -> String {
        format!("MvRegister(siblings={})", self.state.siblings().len())
    }
}

/// An observed-remove set of byte strings, add-wins, without tombstones.
#[pyclass(module = "consensio.crdt")]
#[derive(Clone, Debug)]
pub(crate) struct OrSet {
    state: CoreSet<Vec<u8>>,
}

crdt_methods! {
    OrSet, CoreSet<Vec<u8>>;

    /// Adds `element` at replica `actor`.
    fn add(&mut self, actor: u64, element: &[u8]) -> PyResult<()> {
        self.state.add(NodeId(actor), element.to_vec()).map_err(error)
    }

    /// Removes `element` (every add of it this replica has seen); False if
    /// it was not in the set.
    fn remove(&mut self, element: &[u8]) -> bool {
        self.state.remove(&element.to_vec())
    }

    /// The elements, sorted.
    #[getter]
    fn elements<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.state.elements().map(|e| PyBytes::new(py, e)).collect()
    }

    fn __contains__(&self, element: &[u8]) -> bool {
        self.state.contains(&element.to_vec())
    }

    fn __len__(&self) -> usize {
        self.state.len()
    }

    fn __repr__(&self) -> String {
        format!("OrSet(len={})", self.state.len())
    }
}

/// A dotted version vector set of bytes: the siblings of one key and their
/// causal history. A client reads `values` and `context`, and writes back
/// with `put(context, server, value)`: the siblings that context saw are
/// replaced, the others kept.
#[pyclass(module = "consensio.crdt")]
#[derive(Clone, Debug)]
pub(crate) struct DvvSet {
    state: CoreDvv<Vec<u8>>,
}

crdt_methods! {
    DvvSet, CoreDvv<Vec<u8>>;

    /// Server `server` writes `value` from a client that read `context`
    /// (None: a client that read nothing).
    #[pyo3(signature = (context, server, value))]
    fn put(&mut self, context: Option<PyRef<'_, VectorClock>>, server: u64, value: &[u8]) -> PyResult<()> {
        let read = context.map(|c| c.clock.clone()).unwrap_or_default();
        self.state.put(&read, NodeId(server), value.to_vec()).map_err(error)
    }

    /// The causal context to pass back with the next write.
    #[getter]
    fn context(&self) -> VectorClock {
        VectorClock { clock: self.state.context() }
    }

    /// The siblings.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.state.values().map(|v| PyBytes::new(py, v)).collect()
    }

    fn __len__(&self) -> usize {
        self.state.len()
    }

    fn __repr__(&self) -> String {
        format!("DvvSet(siblings={})", self.state.len())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DvvSet>()?;
    m.add_class::<GCounter>()?;
    m.add_class::<PnCounter>()?;
    m.add_class::<LwwRegister>()?;
    m.add_class::<MvRegister>()?;
    m.add_class::<OrSet>()?;
    Ok(())
}
