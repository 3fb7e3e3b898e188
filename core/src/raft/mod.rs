//! Raft consensus (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", USENIX ATC 2014).
//!
//! This module is being built up in steps; so far it holds the log storage
//! the node will use ([`LogStorage`], [`ArenaLog`], [`FixedLog`]) and the
//! client-session table that makes retried commands apply exactly once
//! ([`Sessions`]).

mod log;
#[cfg(feature = "alloc")]
mod session;

#[cfg(feature = "alloc")]
pub use log::ArenaLog;
pub use log::{EntryRef, FixedLog, LogError, LogStorage};
#[cfg(feature = "alloc")]
pub use session::{Admission, SessionError, Sessions};
