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
    thread::ThreadId,
};
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// The id of the calling thread.
#[cfg(loom)]
pub(crate) fn current_thread() -> ThreadId {
    loom::thread::current().id()
}

/// Identifies a thread for as long as the process runs.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) type ThreadId = usize;

/// The id of the calling thread: a number drawn once per thread. Not
/// `std::thread::current().id()`, which allocates a handle for the thread
/// that is never freed for the main thread of a C program (valgrind reports
/// it as a leak).
#[cfg(all(feature = "std", not(loom)))]
pub(crate) fn current_thread() -> ThreadId {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static ID: usize = NEXT.fetch_add(1, Relaxed);
    }
    ID.with(|id| *id)
}
