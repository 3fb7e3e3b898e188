//! `consensio.ring`: placement of keys on nodes, identical to the Rust and
//! C surfaces for the same members.

use consensio::NodeId;
use consensio::ring::{
    BoundedLoadRing as CoreBounded, HashRing as CoreRing, Maglev as CoreMaglev,
    Rendezvous as CoreRendezvous, ZoneId, hash, jump_hash as core_jump_hash,
};
use pyo3::prelude::*;

use crate::error;

fn ids(nodes: &[NodeId]) -> Vec<u64> {
    nodes.iter().map(|n| n.0).collect()
}

/// The 64-bit position of `key` (XXH3-64), where every placement starts.
#[pyfunction]
fn key_position(key: &[u8]) -> u64 {
    hash::key_position(key)
}

/// Jump consistent hash: the bucket in `range(buckets)` for `key`.
#[pyfunction]
fn jump_hash(key: u64, buckets: u32) -> PyResult<u32> {
    core_jump_hash(key, buckets).map_err(error)
}

/// A consistent-hashing ring with weighted virtual nodes and zones.
#[pyclass(module = "consensio.ring")]
#[derive(Clone, Debug)]
pub(crate) struct HashRing {
    ring: CoreRing,
}

#[pymethods]
impl HashRing {
    #[new]
    #[pyo3(signature = (vnodes_per_weight=16))]
    fn new(vnodes_per_weight: u32) -> PyResult<Self> {
        Ok(HashRing {
            ring: CoreRing::new(vnodes_per_weight).map_err(error)?,
        })
    }

    /// Adds `node` with `weight` in `zone` (None: no zone).
    #[pyo3(signature = (node, weight=1, zone=None))]
    fn add_node(&mut self, node: u64, weight: u32, zone: Option<u64>) -> PyResult<()> {
        self.ring
            .add_node(NodeId(node), weight, zone.map(ZoneId))
            .map_err(error)
    }

    /// Removes `node`.
    fn remove_node(&mut self, node: u64) -> PyResult<()> {
        self.ring
            .remove_node(NodeId(node))
            .map(|_| ())
            .map_err(error)
    }

    /// The node owning `key`.
    fn owner(&self, key: &[u8]) -> PyResult<u64> {
        self.ring.owner(key).map(|n| n.0).map_err(error)
    }

    /// The first `n` distinct nodes clockwise from `key`; with `by_zone`,
    /// nodes from zones not yet listed come first.
    #[pyo3(signature = (key, n, by_zone=false))]
    fn preference_list(&self, key: &[u8], n: usize, by_zone: bool) -> PyResult<Vec<u64>> {
        let n = n.min(self.ring.len());
        let mut out = vec![NodeId(0); n];
        let written = if by_zone {
            self.ring.preference_list_by_zone(key, n, &mut out)
        } else {
            self.ring.preference_list(key, n, &mut out)
        }
        .map_err(error)?;
        Ok(ids(out.get(..written).unwrap_or_default()))
    }

    /// The member ids, ascending.
    #[getter]
    fn nodes(&self) -> Vec<u64> {
        self.ring.nodes().iter().map(|n| n.id.0).collect()
    }

    fn __len__(&self) -> usize {
        self.ring.len()
    }

    fn __contains__(&self, node: u64) -> bool {
        self.ring.contains(NodeId(node))
    }

    fn __repr__(&self) -> String {
        format!(
            "HashRing(nodes={:?}, vnodes={})",
            self.nodes(),
            self.ring.vnode_count()
        )
    }
}

/// Weighted rendezvous (highest random weight) hashing.
#[pyclass(module = "consensio.ring")]
#[derive(Clone, Debug, Default)]
pub(crate) struct Rendezvous {
    set: CoreRendezvous,
}

#[pymethods]
impl Rendezvous {
    #[new]
    fn new() -> Self {
        Rendezvous::default()
    }

    /// Adds `node` with `weight`.
    #[pyo3(signature = (node, weight=1))]
    fn add_node(&mut self, node: u64, weight: u32) -> PyResult<()> {
        self.set.add_node(NodeId(node), weight).map_err(error)
    }

    /// Removes `node`.
    fn remove_node(&mut self, node: u64) -> PyResult<()> {
        self.set
            .remove_node(NodeId(node))
            .map(|_| ())
            .map_err(error)
    }

    /// The highest-scoring node for `key`.
    fn owner(&self, key: &[u8]) -> PyResult<u64> {
        self.set.owner(key).map(|n| n.0).map_err(error)
    }

    /// The `n` highest-scoring nodes for `key`, best first.
    fn preference_list(&self, key: &[u8], n: usize) -> PyResult<Vec<u64>> {
        let n = n.min(self.set.len());
        let mut out = vec![NodeId(0); n];
        let written = self.set.preference_list(key, n, &mut out).map_err(error)?;
        Ok(ids(out.get(..written).unwrap_or_default()))
    }

    fn __len__(&self) -> usize {
        self.set.len()
    }
}

/// A Maglev lookup table over `{node: weight}`, of prime size `table_size`.
#[pyclass(module = "consensio.ring")]
#[derive(Clone, Debug)]
pub(crate) struct Maglev {
    table: CoreMaglev,
}

#[pymethods]
impl Maglev {
    #[new]
    #[pyo3(signature = (nodes, table_size=65537))]
    fn new(
        py: Python<'_>,
        nodes: std::collections::BTreeMap<u64, u32>,
        table_size: u32,
    ) -> PyResult<Self> {
        let members: Vec<(NodeId, u32)> = nodes.into_iter().map(|(n, w)| (NodeId(n), w)).collect();
        let table = py
            .detach(|| CoreMaglev::new(&members, table_size))
            .map_err(error)?;
        Ok(Maglev { table })
    }

    /// The node the table assigns `key` to.
    fn lookup(&self, key: &[u8]) -> PyResult<u64> {
        self.table.lookup(key).map(|n| n.0).map_err(error)
    }

    fn __len__(&self) -> usize {
        self.table.table().len()
    }
}

/// Consistent hashing with bounded loads: no node holds more than
/// ⌈(1+ε)·m/n⌉ of the m assigned keys.
#[pyclass(module = "consensio.ring")]
#[derive(Clone, Debug)]
pub(crate) struct BoundedLoadRing {
    ring: CoreBounded,
}

#[pymethods]
impl BoundedLoadRing {
    #[new]
    #[pyo3(signature = (vnodes=16, epsilon=(1, 4)))]
    fn new(vnodes: u32, epsilon: (u32, u32)) -> PyResult<Self> {
        Ok(BoundedLoadRing {
            ring: CoreBounded::new(vnodes, epsilon.0, epsilon.1).map_err(error)?,
        })
    }

    /// Adds `node`.
    fn add_node(&mut self, node: u64) -> PyResult<()> {
        self.ring.add_node(NodeId(node)).map_err(error)
    }

    /// Removes `node`; returns how many keys it held (re-assign them).
    fn remove_node(&mut self, node: u64) -> PyResult<u64> {
        self.ring.remove_node(NodeId(node)).map_err(error)
    }

    /// Assigns `key` to the first node clockwise with room.
    fn assign(&mut self, key: &[u8]) -> PyResult<u64> {
        self.ring.assign(key).map(|n| n.0).map_err(error)
    }

    /// Releases one key held by `node`.
    fn release(&mut self, node: u64) -> PyResult<()> {
        self.ring.release(NodeId(node)).map_err(error)
    }

    /// Keys held by `node`.
    fn load(&self, node: u64) -> PyResult<u64> {
        self.ring.load(NodeId(node)).map_err(error)
    }

    /// The most keys a node may hold for the next assignment.
    #[getter]
    fn capacity(&self) -> PyResult<u64> {
        self.ring.capacity().map_err(error)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<HashRing>()?;
    m.add_class::<Rendezvous>()?;
    m.add_class::<Maglev>()?;
    m.add_class::<BoundedLoadRing>()?;
    m.add_function(wrap_pyfunction!(key_position, m)?)?;
    m.add_function(wrap_pyfunction!(jump_hash, m)?)?;
    Ok(())
}
