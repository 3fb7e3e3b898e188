//! The protocols the simulator drives: for each, a [`Protocol`] adapter and
//! its invariant checker, and one registry that everything else reads —
//! `consensio list` and `check`, scenarios, the Python binding and the tests.
//!
//! A family's file (`election.rs`, named after its folder in core) defines
//! its adapters and, next to them, its `PROTOCOLS`: one [`Entry`] per
//! protocol, with the name, the family, a description and the runner.
//! Adding a protocol to a family is adding its entry there; adding a family
//! is adding its module and one line to [`FAMILIES`].

pub mod detector;
pub mod election;
pub mod merkle;
pub mod paxos;
pub mod raft;
pub mod resilience;

use consensio::NodeId;

use crate::engine::{Protocol, SimConfig, Simulation, Summary, Violation};
use crate::trace::TraceEvent;

/// One simulated protocol, as the registry lists it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The name `consensio check`, scenarios and Python accept; the same as
    /// the adapter's [`Protocol::name`].
    pub name: &'static str,
    /// The family: the core module (`core/src/<family>/`) and the adapter's
    /// file here (`sim/src/protocols/<family>.rs`).
    pub family: &'static str,
    /// One line for `consensio list`.
    pub description: &'static str,
    /// Runs one configuration to the end.
    pub run: fn(SimConfig) -> Outcome,
}

/// Every family's entries, in the order `consensio list` prints them.
pub static FAMILIES: &[&[Entry]] = &[
    raft::PROTOCOLS,
    paxos::PROTOCOLS,
    election::PROTOCOLS,
    detector::PROTOCOLS,
    merkle::PROTOCOLS,
    resilience::PROTOCOLS,
];

/// Every simulated protocol, family by family.
pub fn all() -> impl Iterator<Item = &'static Entry> + Clone {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// The protocol called `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static Entry> {
    all().find(|e| e.name == name)
}

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
    match find(name) {
        Some(entry) => Ok((entry.run)(config)),
        None => Err(format!(
            "unknown protocol '{name}' (known: {})",
            all().map(|e| e.name).collect::<Vec<_>>().join(", ")
        )),
    }
}
