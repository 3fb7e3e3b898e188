//! `consensio.quorum`: majority and joint configurations.

use std::collections::BTreeMap;

use consensio::NodeId;
use consensio::quorum::{JointConfig as CoreJoint, MajorityConfig as CoreMajority, VoteResult};
use pyo3::prelude::*;

use crate::{LimitExceeded, invalid};

fn build(voters: Vec<u64>) -> PyResult<CoreMajority> {
    let mut config = CoreMajority::new();
    for v in voters {
        let fresh = config
            .insert(NodeId(v))
            .map_err(|e| LimitExceeded::new_err(e.to_string()))?;
        if !fresh {
            return Err(invalid(format!("voter {v} listed twice")));
        }
    }
    Ok(config)
}

fn result_name(r: VoteResult) -> &'static str {
    match r {
        VoteResult::Pending => "pending",
        VoteResult::Lost => "lost",
        VoteResult::Won => "won",
    }
}

/// A set of up to 64 voters, any majority of which is a quorum.
#[pyclass(module = "consensio.quorum", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MajorityConfig {
    config: CoreMajority,
}

#[pymethods]
impl MajorityConfig {
    #[new]
    fn new(voters: Vec<u64>) -> PyResult<Self> {
        Ok(MajorityConfig {
            config: build(voters)?,
        })
    }

    /// The voters, ascending.
    #[getter]
    fn voters(&self) -> Vec<u64> {
        self.config.voters().iter().map(|v| v.0).collect()
    }

    /// Votes needed: `n // 2 + 1` (0 for no voters).
    #[getter]
    fn quorum_size(&self) -> usize {
        self.config.quorum_size()
    }

    /// The largest index acknowledged by a quorum; voters missing from
    /// `acked` count as 0. No voters: 2**64 - 1.
    fn committed_index(&self, acked: BTreeMap<u64, u64>) -> u64 {
        self.config
            .committed_index(&|v: NodeId| acked.get(&v.0).copied())
    }

    /// "won", "lost" or "pending", given `{voter: granted}`.
    fn vote_result(&self, votes: BTreeMap<u64, bool>) -> &'static str {
        result_name(
            self.config
                .vote_result(&|v: NodeId| votes.get(&v.0).copied()),
        )
    }

    fn __len__(&self) -> usize {
        self.config.len()
    }

    fn __contains__(&self, voter: u64) -> bool {
        self.config.contains(NodeId(voter))
    }

    fn __repr__(&self) -> String {
        format!("MajorityConfig({:?})", self.voters())
    }
}

/// Two majority configurations that must both agree (Raft §6).
#[pyclass(module = "consensio.quorum", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct JointConfig {
    joint: CoreJoint,
}

#[pymethods]
impl JointConfig {
    #[new]
    #[pyo3(signature = (incoming, outgoing=Vec::new()))]
    fn new(incoming: Vec<u64>, outgoing: Vec<u64>) -> PyResult<Self> {
        Ok(JointConfig {
            joint: CoreJoint::new(build(incoming)?, build(outgoing)?),
        })
    }

    /// The smaller of the two halves' committed indexes.
    fn committed_index(&self, acked: BTreeMap<u64, u64>) -> u64 {
        self.joint
            .committed_index(&|v: NodeId| acked.get(&v.0).copied())
    }

    /// "won" if both halves won, "lost" if either lost, else "pending".
    fn vote_result(&self, votes: BTreeMap<u64, bool>) -> &'static str {
        result_name(
            self.joint
                .vote_result(&|v: NodeId| votes.get(&v.0).copied()),
        )
    }

    fn __repr__(&self) -> String {
        let ids = |c: &CoreMajority| c.voters().iter().map(|v| v.0).collect::<Vec<_>>();
        format!(
            "JointConfig(incoming={:?}, outgoing={:?})",
            ids(&self.joint.incoming),
            ids(&self.joint.outgoing)
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MajorityConfig>()?;
    m.add_class::<JointConfig>()?;
    Ok(())
}
