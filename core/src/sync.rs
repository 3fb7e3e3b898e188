//! The synchronisation shim: the few pieces of consensio that threads share
//! take their atomics and locks from here, which are `core`/`std`'s normally
//! and [loom](https://docs.rs/loom)'s when built with `RUSTFLAGS="--cfg loom"`,
//! so that the loom tests explore every interleaving of the real code.

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(all(loom, target_has_atomic = "64"))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::{
    sync::{Condvar, Mutex, MutexGuard},
    thread::{ThreadId, current as current_thread_handle},
};
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::{
    sync::{Condvar, Mutex, MutexGuard},
    thread::{ThreadId, current as current_thread_handle},
};

/// The id of the calling thread.
#[cfg(any(loom, feature = "std"))]
pub(crate) fn current_thread() -> ThreadId {
    current_thread_handle().id()
}
