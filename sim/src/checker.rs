//! Invariant checkers: one trait, one checker per protocol, run after every
//! step of a simulation.

use consensio::{NodeId, Participant};

use crate::engine::Fault;

/// A protocol's invariants, checked as the simulation runs.
///
/// The simulator calls [`on_event`](Self::on_event) for every event a node
/// emits, in order, and [`after_step`](Self::after_step) after every step
/// with every node's current state (`None` for a crashed node). A returned
/// `Err` stops the run and is reported with the seed, the step, a trace
/// excerpt and the command that replays it.
pub trait Checker<N: Participant> {
    /// The name printed with a violation ("at most one leader per epoch").
    fn name(&self) -> &'static str;

    /// An event emitted by `node` at simulated time `time_ms`.
    ///
    /// # Errors
    /// A description of the violated invariant.
    fn on_event(&mut self, time_ms: u64, node: NodeId, event: &N::Event) -> Result<(), String> {
        let _ = (time_ms, node, event);
        Ok(())
    }

    /// A fault the engine injects at `time_ms` (scheduled or aimed by
    /// leader hunting), before it takes effect: for properties that only
    /// hold once the faults are over.
    fn on_fault(&mut self, time_ms: u64, fault: &Fault) {
        let _ = (time_ms, fault);
    }

    /// After every step, with every node (`None` if crashed).
    ///
    /// # Errors
    /// A description of the violated invariant.
    fn after_step(&mut self, time_ms: u64, nodes: &[(NodeId, Option<&N>)]) -> Result<(), String> {
        let _ = (time_ms, nodes);
        Ok(())
    }

    /// Once, at the end of the run: liveness-style properties that only make
    /// sense when the run is over (a crashed node was eventually suspected).
    ///
    /// # Errors
    /// A description of the violated property.
    fn at_end(&mut self, time_ms: u64, nodes: &[(NodeId, Option<&N>)]) -> Result<(), String> {
        let _ = (time_ms, nodes);
        Ok(())
    }

    /// Measurements worth reporting in the summary (name, value).
    fn report(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
