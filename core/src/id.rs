//! Node identities.
//!
//! A [`NodeId`] names one participant in a configuration. Ids are opaque
//! 64-bit numbers chosen by the application (Raft and etcd use the same
//! width); consensio never derives meaning from their value except to break
//! ties deterministically (lower id first).

use core::fmt;

use serde::{Deserialize, Serialize};

/// The identity of one node (participant, replica, actor).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u64);

impl NodeId {
    /// The raw id.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl From<u64> for NodeId {
    fn from(id: u64) -> Self {
        NodeId(id)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}
