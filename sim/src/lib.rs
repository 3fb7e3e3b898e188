//! The deterministic simulator for consensio participants.
//!
//! FoundationDB-style simulation: one thread, one seed, a virtual clock.
//! Every participant that keeps the core contract can be run here under a
//! faulty network (latency, loss, duplication, reordering, symmetric and
//! one-way partitions), crash-restart from persisted state only (crashes
//! between inputs or halfway through acting on one input's outputs, on a
//! disk that may lose the records not yet synced), and per-node clock offset
//! and drift, with a workload of client commands and an
//! invariant [`Checker`] run after every step. Every message goes through the
//! real wire encoding, so encoding bugs surface as violations too. The same
//! [`SimConfig`] (seed included) replays the same run, step for step.
//!
//! - [`engine`]: [`Simulation`], [`SimConfig`], the [`Protocol`] adapter
//!   trait, faults, the simulated disk and the crash modes, the
//!   [`Summary`] and [`Violation`] reports;
//! - [`network`]: the link model;
//! - [`checker`]: the invariant-checker trait;
//! - [`linearizability`]: a Wing & Gong / Lowe checker for key-value
//!   register histories (as in Porcupine and Knossos);
//! - [`trace`]: JSON-lines traces and SVG space-time diagrams;
//! - [`view`]: the trace viewer, one self-contained HTML page;
//! - [`protocols`]: the adapters and checkers of each simulated protocol;
//! - [`scenario`]: the TOML scenario format read by `consensio run`;
//! - [`search`]: many seeds on several threads, to the first violation
//!   (`consensio check`);
//! - [`mutants`]: the planted bugs' checks (`consensio mutants`).

pub mod checker;
pub mod engine;
pub mod linearizability;
pub mod mutants;
pub mod network;
pub mod protocols;
pub mod scenario;
pub mod search;
pub mod storm;
pub mod trace;
pub mod view;

pub use checker::Checker;
pub use engine::{
    Fault, MessageLabel, NodeState, Protocol, ScheduledFault, SimConfig, Simulation, Summary,
    Violation,
};
pub use network::NetworkConfig;

/// The simulator's user page, `docs/sim.md`: its Rust block runs as a
/// doctest here (`cargo test -p consensio-sim --doc`); the other pages run
/// in `consensio`.
#[cfg(doctest)]
#[doc = include_str!("../../docs/sim.md")]
pub struct SimPage;
