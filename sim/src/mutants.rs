//! The planted bugs ([`consensio::mutant`]) and the random checks that
//! must catch them: `consensio mutants`, run by `scripts/mutants`.
//!
//! Each [`Trial`] names a mutant, its family's random check (protocol,
//! fault mix, cluster size) and a seed budget. [`Trial::judge`] plants the
//! mutant and runs seeds from 0 until one fails; a mutant that survives its
//! budget means the checker or the search is too weak, and the run fails.
//! The trials marked `quick` are caught within a few seconds and run in the
//! README's test command; the rest run by hand (see `docs/sim.md`).

use std::time::{Duration, Instant};

use consensio::mutant::{self, Mutant};

use crate::scenario::FaultMix;
use crate::search::Search;

/// A mutant and the check that must catch it.
#[derive(Clone, Copy, Debug)]
pub struct Trial {
    /// The planted bug.
    pub mutant: Mutant,
    /// The protocol checked (`consensio list`).
    pub protocol: &'static str,
    /// The fault mix, as `consensio check --faults` takes it.
    pub faults: &'static str,
    /// Nodes per run.
    pub nodes: u64,
    /// Seeds it may take: caught at a later one or not at all fails.
    pub seeds: u64,
    /// Caught fast enough for the test command.
    pub quick: bool,
}

/// Every family's model of faults: the elections assume no partitions
/// (Bully's split brain under one is shown, not checked).
const ELECTION_FAULTS: &str = "duplicate,reorder,crash,skew,torn,unsynced,hunt,swarm";

/// Seeds per run (the simulated time of `consensio check`).
pub const DURATION_MS: u64 = 20_000;

/// One trial per planted mutant.
pub const TRIALS: &[Trial] = &[
    Trial {
        mutant: Mutant::RaftFigure8,
        protocol: "raft",
        faults: "all,swarm",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RaftVoteNotUpToDate,
        protocol: "raft",
        faults: "all,swarm",
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RaftVoteSentBeforePersisted,
        protocol: "raft",
        faults: "all",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RaftApplyBeforeCommit,
        protocol: "raft",
        faults: "all,swarm",
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RaftLeaseNeverExpires,
        protocol: "raft",
        faults: "all,swarm",
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RaftStickinessHigherTermOnly,
        protocol: "raft",
        faults: "all",
        nodes: 3,
        seeds: 2_000,
        quick: false,
    },
    Trial {
        mutant: Mutant::RaftOverlappingMembershipChanges,
        protocol: "raft",
        faults: "all",
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RaftKvNoSessionDedup,
        protocol: "raft",
        faults: "all,swarm",
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::PaxosAcceptorForgetsPromise,
        protocol: "paxos",
        faults: "all",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::PaxosProposerIgnoresReports,
        protocol: "paxos-single",
        faults: "all",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::BullyEpochNotAboveSeen,
        protocol: "bully",
        faults: ELECTION_FAULTS,
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RingEpochNotAboveSeen,
        protocol: "ring-election",
        faults: ELECTION_FAULTS,
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::DetectorIncarnationReused,
        protocol: "heartbeat",
        faults: "all,swarm",
        nodes: 5,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RpcServerNoDedup,
        protocol: "request-reply",
        faults: "all,swarm",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RpcDedupForgottenOnRestart,
        protocol: "request-reply",
        faults: "all,swarm",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
    Trial {
        mutant: Mutant::RpcIncarnationReused,
        protocol: "request-reply",
        faults: "all,swarm",
        nodes: 3,
        seeds: 2_000,
        quick: true,
    },
];

/// What a trial found.
#[derive(Debug)]
pub struct Verdict {
    /// The trial.
    pub trial: Trial,
    /// The first seed whose run broke an invariant, if any within budget.
    pub caught_at: Option<u64>,
    /// What was violated there.
    pub violation: Option<String>,
    /// How long the search took.
    pub elapsed: Duration,
}

impl Trial {
    /// The trial of `mutant`.
    #[must_use]
    pub fn of(mutant: Mutant) -> Option<&'static Trial> {
        TRIALS.iter().find(|t| t.mutant == mutant)
    }

    /// The check that catches it, as a command line (without the build).
    #[must_use]
    pub fn command(&self, seeds: u64, start_seed: u64) -> String {
        format!(
            "consensio check {} --seeds {seeds} --start-seed {start_seed} --faults {} --nodes {} --duration-ms {DURATION_MS} --mutant {}",
            self.protocol,
            self.faults,
            self.nodes,
            self.mutant.name()
        )
    }

    /// Plants the mutant and searches its budget of seeds from 0, on `jobs`
    /// threads (0: one per core); the mutant is dug up afterwards.
    ///
    /// # Errors
    /// A build without mutants, a bad fault mix or protocol name.
    pub fn judge(&self, jobs: usize) -> Result<Verdict, String> {
        let faults: FaultMix = self.faults.parse()?;
        if !mutant::plant(Some(self.mutant)) {
            return Err(
                "this build has no mutants: build with RUSTFLAGS=\"--cfg consensio_mutants\" (scripts/mutants does)"
                    .into(),
            );
        }
        let search = Search {
            protocol: self.protocol.to_string(),
            faults,
            nodes: self.nodes,
            duration_ms: DURATION_MS,
            seeds: 0..self.seeds,
            jobs,
            record_trace: false,
        };
        let started = Instant::now();
        let found = search.run(&|| {});
        mutant::plant(None);
        let found = found?;
        let (caught_at, violation) = match found.first {
            Some((seed, outcome)) => (Some(seed), outcome.violation.map(|v| v.message)),
            None => (None, None),
        };
        Ok(Verdict {
            trial: *self,
            caught_at,
            violation,
            elapsed: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_planted_mutant_has_one_trial_of_a_known_protocol() {
        for &m in Mutant::ALL {
            let trials: Vec<&Trial> = TRIALS.iter().filter(|t| t.mutant == m).collect();
            assert_eq!(trials.len(), 1, "{}", m.name());
            let t = trials[0];
            assert!(
                crate::protocols::find(t.protocol).is_some(),
                "{}",
                t.protocol
            );
            assert!(t.faults.parse::<FaultMix>().is_ok(), "{}", t.faults);
            assert!(t.seeds > 0);
        }
        assert_eq!(TRIALS.len(), Mutant::ALL.len());
    }
}
