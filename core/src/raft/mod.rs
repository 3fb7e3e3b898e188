//! Raft consensus (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", USENIX ATC 2014).
//!
//! This module is being built up in steps; so far it holds the log storage
//! the node will use ([`LogStorage`], [`ArenaLog`], [`FixedLog`]).

mod log;

#[cfg(feature = "alloc")]
pub use log::ArenaLog;
pub use log::{EntryRef, FixedLog, LogError, LogStorage};
