//! `consensio.merkle`: RFC 6962/9162 Merkle trees, proofs, diff, and the
//! anti-entropy participant.

use core::convert::Infallible;

use consensio::merkle::{
    AntiEntropy as CoreAntiEntropy, Hash, MerkleTree as CoreTree, SyncFailure, anti_entropy,
    leaf_hash as core_leaf_hash, verify_consistency as core_verify_consistency,
    verify_inclusion as core_verify_inclusion,
};
use consensio::{Input, NodeId, Participant};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::participant::{Node, Outputs, event_class, participant_methods};
use crate::{OutOfRange, error, hash32};

fn hashes(proof: Vec<Vec<u8>>) -> PyResult<Vec<Hash>> {
    proof
        .iter()
        .enumerate()
        .map(|(i, h)| hash32(h, &format!("proof[{i}]")))
        .collect()
}

fn to_bytes_list<'py>(py: Python<'py>, hashes: &[Hash]) -> Vec<Bound<'py, PyBytes>> {
    hashes.iter().map(|h| PyBytes::new(py, h)).collect()
}

/// `SHA-256(0x00 ‖ data)`.
#[pyfunction]
fn leaf_hash<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &core_leaf_hash(data))
}

/// The Merkle Tree Hash of `leaves` (releases the GIL while hashing).
#[pyfunction]
fn root<'py>(py: Python<'py>, leaves: Vec<Vec<u8>>) -> Bound<'py, PyBytes> {
    let r = py.detach(|| consensio::merkle::root(&leaves));
    PyBytes::new(py, &r)
}

/// Checks that the leaf with hash `leaf_hash` is at `index` in the tree of
/// `size` leaves with root `root`; raises `VerificationError` if not.
#[pyfunction]
fn verify_inclusion(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: Vec<Vec<u8>>,
    root: &[u8],
) -> PyResult<()> {
    let (leaf, proof, root) = (
        hash32(leaf_hash, "leaf_hash")?,
        hashes(proof)?,
        hash32(root, "root")?,
    );
    core_verify_inclusion(&leaf, index, size, &proof, &root).map_err(error)
}

/// Checks that the tree of `old_size` leaves with `old_root` is a prefix of
/// the tree of `new_size` with `new_root`; raises `VerificationError` if not.
#[pyfunction]
fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: Vec<Vec<u8>>,
) -> PyResult<()> {
    let (old, new, proof) = (
        hash32(old_root, "old_root")?,
        hash32(new_root, "new_root")?,
        hashes(proof)?,
    );
    core_verify_consistency(old_size, new_size, &old, &new, &proof).map_err(error)
}

/// A Merkle tree over byte-string leaves; grows with `append` and answers
/// proofs for any earlier size.
#[pyclass(module = "consensio.merkle")]
#[derive(Clone, Debug)]
pub(crate) struct MerkleTree {
    tree: CoreTree,
}

#[pymethods]
impl MerkleTree {
    #[new]
    #[pyo3(signature = (leaves=Vec::new()))]
    fn new(py: Python<'_>, leaves: Vec<Vec<u8>>) -> Self {
        let tree = py.detach(|| CoreTree::from_leaves(&leaves));
        MerkleTree { tree }
    }

    /// Appends a leaf.
    fn append(&mut self, data: &[u8]) {
        self.tree.push(data);
    }

    /// The root of the whole tree.
    #[getter]
    fn root<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.tree.root())
    }

    /// The root when the tree held `size` leaves.
    fn root_at<'py>(&self, py: Python<'py>, size: u64) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.tree.root_at(size).map_err(error)?;
        Ok(PyBytes::new(py, &r))
    }

    /// The hash of leaf `index`.
    fn leaf_hash<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyBytes>> {
        let h = self.tree.leaf(index).ok_or_else(|| {
            OutOfRange::new_err(format!("leaf {index} of a tree of {}", self.tree.len()))
        })?;
        Ok(PyBytes::new(py, &h))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves
    /// (default: all of them).
    #[pyo3(signature = (index, size=None))]
    fn inclusion_proof<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        size: Option<u64>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let size = size.unwrap_or(self.tree.len());
        let proof = self.tree.inclusion_proof(index, size).map_err(error)?;
        Ok(to_bytes_list(py, &proof))
    }

    /// The consistency proof from `old_size` to `new_size` (default: all).
    #[pyo3(signature = (old_size, new_size=None))]
    fn consistency_proof<'py>(
        &self,
        py: Python<'py>,
        old_size: u64,
        new_size: Option<u64>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let new_size = new_size.unwrap_or(self.tree.len());
        let proof = self
            .tree
            .consistency_proof(old_size, new_size)
            .map_err(error)?;
        Ok(to_bytes_list(py, &proof))
    }

    /// The `(start, end)` leaf ranges where `self` and `other` differ; both
    /// must have the same size.
    fn diff(&self, other: PyRef<'_, MerkleTree>) -> PyResult<Vec<(u64, u64)>> {
        let mut ranges = Vec::new();
        self.tree.diff(&other.tree, &mut ranges).map_err(error)?;
        Ok(ranges.into_iter().map(|r| (r.start, r.end)).collect())
    }

    fn __len__(&self) -> usize {
        usize::try_from(self.tree.len()).unwrap_or(usize::MAX)
    }

    fn __repr__(&self) -> String {
        let root: String = self
            .tree
            .root()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("MerkleTree(len={}, root={root}…)", self.tree.len())
    }
}

/// Output: `key` differs between this replica (`local` version hash, or
/// None) and `peer` (`remote`, or None).
#[pyclass(module = "consensio.merkle", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Difference {
    /// The replica synced with.
    #[pyo3(get)]
    peer: u64,
    key: Vec<u8>,
    local: Option<Hash>,
    remote: Option<Hash>,
}

#[pymethods]
impl Difference {
    /// The key that differs.
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.key)
    }

    /// This replica's version hash of the key, or None if it lacks it.
    #[getter]
    fn local<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.local.map(|h| PyBytes::new(py, &h))
    }

    /// The peer's version hash of the key, or None if it lacks it.
    #[getter]
    fn remote<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.remote.map(|h| PyBytes::new(py, &h))
    }

    fn __repr__(&self) -> String {
        let short = |h: &Option<Hash>| {
            h.map_or_else(
                || "None".to_string(),
                |h| format!("{:02x}{:02x}…", h[0], h[1]),
            )
        };
        format!(
            "Difference(peer={}, key={:?}, local={}, remote={})",
            self.peer,
            String::from_utf8_lossy(&self.key),
            short(&self.local),
            short(&self.remote)
        )
    }
}

event_class! {
    /// Output: the sync with `peer` finished; every differing key was
    /// reported.
    "consensio.merkle", SyncComplete {
        /// The replica synced with.
        peer: u64,
        /// Buckets whose hashes differed.
        differing_buckets: u64,
        /// Keys reported as `Difference`s.
        differing_keys: u64,
    }
}

event_class! {
    /// Output: the sync with `peer` failed: `reason` is "timeout",
    /// "depth_mismatch" (see `remote_depth`) or "bad_response".
    "consensio.merkle", SyncFailed signature (peer, reason, remote_depth=None) {
        /// The replica synced with.
        peer: u64,
        /// Why it failed.
        reason: String,
        /// With "depth_mismatch": the peer's tree depth.
        remote_depth: Option<u64>,
    }
}

/// Nothing is persisted: a replica's keys are the application's data, and a
/// restarted replica is rebuilt by updating it with them again.
impl Outputs for CoreAntiEntropy {
    fn persist(_: Python<'_>, never: Infallible) -> PyResult<Py<PyAny>> {
        match never {}
    }

    fn event(py: Python<'_>, event: anti_entropy::Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            anti_entropy::Event::Difference(d) => Py::new(
                py,
                Difference {
                    peer: d.peer.0,
                    key: d.key,
                    local: d.local,
                    remote: d.remote,
                },
            )?
            .into_any(),
            anti_entropy::Event::SyncComplete {
                peer,
                differing_buckets,
                differing_keys,
            } => Py::new(
                py,
                SyncComplete::new(peer.0, differing_buckets, differing_keys),
            )?
            .into_any(),
            anti_entropy::Event::SyncFailed { peer, reason } => {
                let (reason, remote_depth) = match reason {
                    SyncFailure::Timeout => ("timeout", None),
                    SyncFailure::DepthMismatch { remote } => {
                        ("depth_mismatch", Some(u64::from(remote)))
                    }
                    SyncFailure::BadResponse => ("bad_response", None),
                };
                Py::new(
                    py,
                    SyncFailed::new(peer.0, reason.to_string(), remote_depth),
                )?
                .into_any()
            }
        })
    }
}

/// One replica's side of Merkle-tree anti-entropy. Drive it with
/// `handle_message`, `tick` and the commands, then drain `poll()` (or
/// iterate) after every call.
#[pyclass(module = "consensio.merkle", frozen)]
#[derive(Debug)]
pub(crate) struct AntiEntropy {
    node: Node<CoreAntiEntropy>,
}

participant_methods! {
    AntiEntropy;

    #[new]
    #[pyo3(signature = (id, depth=10, max_hashes_per_message=256, max_entries_per_message=256,
                        max_key_len=1024, retry_ms=200, max_retries=5, max_sessions=8))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        depth: u8,
        max_hashes_per_message: usize,
        max_entries_per_message: usize,
        max_key_len: usize,
        retry_ms: u64,
        max_retries: u32,
        max_sessions: usize,
    ) -> PyResult<Self> {
        let node = CoreAntiEntropy::new(anti_entropy::Config {
            id: NodeId(id),
            depth,
            max_hashes_per_message,
            max_entries_per_message,
            max_key_len,
            retry_ms,
            max_retries,
            max_sessions,
        })
        .map_err(error)?;
        Ok(AntiEntropy {
            node: Node::new(node),
        })
    }

    /// The root of this replica's keyed tree.
    #[getter]
    fn root<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.node.with(|n| n.tree().root()))
    }

    /// Starts comparing with `peer`.
    fn start_sync(&self, py: Python<'_>, now_ms: u64, peer: u64) -> PyResult<()> {
        let command = anti_entropy::Command::StartSync { peer: NodeId(peer) };
        self.node.input(py, now_ms, Input::Command(command))
    }

    /// Records `key`'s version hash (32 bytes).
    fn update(&self, py: Python<'_>, now_ms: u64, key: &[u8], version: &[u8]) -> PyResult<()> {
        let version = hash32(version, "version")?;
        let command = anti_entropy::Command::Update {
            key: key.to_vec(),
            version,
        };
        self.node.input(py, now_ms, Input::Command(command))
    }

    /// Forgets `key`.
    fn remove(&self, py: Python<'_>, now_ms: u64, key: &[u8]) -> PyResult<()> {
        let command = anti_entropy::Command::Remove { key: key.to_vec() };
        self.node.input(py, now_ms, Input::Command(command))
    }

    fn __repr__(&self) -> String {
        self.node
            .with(|n| format!("AntiEntropy(id={}, keys={})", n.id().0, n.tree().len()))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MerkleTree>()?;
    m.add_class::<AntiEntropy>()?;
    m.add_class::<Difference>()?;
    m.add_class::<SyncComplete>()?;
    m.add_class::<SyncFailed>()?;
    m.add_function(wrap_pyfunction!(leaf_hash, m)?)?;
    m.add_function(wrap_pyfunction!(root, m)?)?;
    m.add_function(wrap_pyfunction!(verify_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(verify_consistency, m)?)?;
    Ok(())
}
