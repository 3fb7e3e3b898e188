//! The protocols the simulator drives: for each, a [`Protocol`] adapter and
//! its invariant checker, and a single entry point that runs any of them by
//! name.

pub mod detector;
pub mod election;
pub mod raft;

use consensio::NodeId;

use crate::engine::{Protocol, SimConfig, Simulation, Summary, Violation};
use crate::trace::TraceEvent;

/// The names `consensio` accepts.
pub const NAMES: &[&str] = &["raft", "bully", "ring-election", "heartbeat", "phi"];

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Counters and measurements.
    pub summary: Summary,
    /// The violation, if any.
    pub violation: Option<Violation>,
    /// The trace (if the config recorded one).
    pub trace: Vec<TraceEvent>,
    /// The node ids.
    pub members: Vec<NodeId>,
}

/// Runs one configuration of `protocol` to the end.
pub fn run<P: Protocol>(protocol: P, config: SimConfig) -> Outcome {
    let mut sim = Simulation::new(protocol, config);
    let violation = sim.run();
    Outcome {
        summary: sim.summary().clone(),
        violation,
        trace: sim.trace().to_vec(),
        members: sim.members().to_vec(),
    }
}

/// Runs the protocol called `name`.
///
/// # Errors
/// An unknown name.
pub fn run_named(name: &str, config: SimConfig) -> Result<Outcome, String> {
    match name {
        "raft" => Ok(run(raft::RaftProtocol::default(), config)),
        "bully" => Ok(run(election::BullyProtocol, config)),
        "ring-election" => Ok(run(election::RingElectionProtocol, config)),
        "heartbeat" => Ok(run(detector::HeartbeatProtocol, config)),
        "phi" => Ok(run(detector::PhiProtocol, config)),
        _ => Err(format!(
            "unknown protocol '{name}' (known: {})",
            NAMES.join(", ")
        )),
    }
}
