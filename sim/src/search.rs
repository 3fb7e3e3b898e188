//! Many seeds of one protocol under one fault mix, on several threads,
//! stopping at the first violation: what `consensio check` and
//! `consensio mutants` run.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::protocols::{self, Outcome};
use crate::scenario::FaultMix;

/// What to run.
#[derive(Clone, Debug)]
pub struct Search {
    /// The protocol's name in the registry.
    pub protocol: String,
    /// The faults of every seed.
    pub faults: FaultMix,
    /// Nodes per run.
    pub nodes: u64,
    /// Simulated time per run, ms.
    pub duration_ms: u64,
    /// The seeds, run in order.
    pub seeds: Range<u64>,
    /// Threads (0: one per core).
    pub jobs: usize,
    /// Keep the trace of the run reported.
    pub record_trace: bool,
}

/// What it found.
#[derive(Debug)]
pub struct Found {
    /// The first failing seed and its run; with a single seed, that run
    /// whatever its outcome.
    pub first: Option<(u64, Outcome)>,
    /// Messages delivered over every run.
    pub messages: u64,
    /// Threads used.
    pub jobs: usize,
}

impl Search {
    /// Runs the seeds until one fails, calling `progress` after each run.
    /// Seeds are handed out in order and a thread finishes the seed it
    /// started, so every seed below a failing one has run: the failure
    /// reported is the first, whatever the number of threads.
    ///
    /// # Errors
    /// An unknown protocol.
    pub fn run(&self, progress: &(dyn Fn() + Sync)) -> Result<Found, String> {
        let count = self.seeds.end.saturating_sub(self.seeds.start);
        let jobs = match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        };
        let jobs = jobs
            .min(usize::try_from(count).unwrap_or(usize::MAX))
            .max(1);
        let next = AtomicU64::new(self.seeds.start);
        let messages = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let first: Mutex<Option<(u64, Result<Outcome, String>)>> = Mutex::new(None);
        let record = |seed: u64, what: Result<Outcome, String>| {
            stop.store(true, Relaxed);
            let mut f = first
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if f.as_ref().is_none_or(|(s, _)| seed < *s) {
                *f = Some((seed, what));
            }
        };
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| {
                    while !stop.load(Relaxed) {
                        let seed = next.fetch_add(1, Relaxed);
                        if seed >= self.seeds.end {
                            break;
                        }
                        let mut config = self.faults.config(seed, self.nodes, self.duration_ms);
                        config.record_trace = self.record_trace;
                        match protocols::run_named(&self.protocol, config) {
                            Err(e) => record(seed, Err(e)),
                            Ok(outcome) => {
                                messages.fetch_add(outcome.summary.delivered, Relaxed);
                                progress();
                                if outcome.violation.is_some() || count == 1 {
                                    record(seed, Ok(outcome));
                                }
                            }
                        }
                    }
                });
            }
        });
        let first = first
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = match first {
            Some((seed, outcome)) => Some((seed, outcome?)),
            None => None,
        };
        Ok(Found {
            first,
            messages: messages.into_inner(),
            jobs,
        })
    }
}
