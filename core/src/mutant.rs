//! Planted bugs: one-line mistakes that real implementations have made,
//! kept in the code so that the simulator can prove it catches them.
//!
//! A checker that passes thousands of seeds says little until it is shown
//! failing on a wrong protocol. Each [`Mutant`] names one such mistake, and
//! the line that commits it sits next to the line that avoids it:
//!
//! ```ignore
//! let granted = up_to_date || planted(Mutant::RaftVoteNotUpToDate);
//! ```
//!
//! A normal build has no mutant at all: [`planted`] is a constant `false`
//! and the optimizer removes the branch. A build with
//! `RUSTFLAGS="--cfg consensio_mutants"` compiles every mutant in, all off;
//! [`plant`] turns one on for the whole process (the simulator's
//! `consensio check --mutant NAME`), and `consensio mutants` (run by
//! `scripts/mutants`) runs each mutant's family check until a seed fails,
//! failing itself if a mutant survives its seed budget. One build serves
//! every mutant: a build per mutant would cost a release build of core and
//! the simulator each.
//!
//! This is test support, not a protocol family: it has no wire format, no
//! C or Python surface and no fuzz target; its simulator side is
//! `consensio_sim::mutants`.

/// A planted bug. Its [`name`](Self::name) is what `--mutant` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mutant {
    /// Raft §5.4.2 (Figure 8): a leader commits an entry of an earlier
    /// term by counting replicas.
    RaftFigure8,
    /// Raft §5.4.1: a vote is granted without checking that the
    /// candidate's log is at least as up to date.
    RaftVoteNotUpToDate,
    /// Raft Figure 2: the vote is sent before the record of it, so a crash
    /// can forget a vote that was cast.
    RaftVoteSentBeforePersisted,
    /// Raft §5.3: a follower applies entries it holds beyond the leader's
    /// commit index.
    RaftApplyBeforeCommit,
    /// Raft thesis §6.4: a leader's lease never runs out, so it answers
    /// lease reads without having heard from a quorum recently.
    RaftLeaseNeverExpires,
    /// Raft thesis §4.2.3 and §9.6: leader stickiness applied only to vote
    /// requests of a higher term, so a follower whose term a late response
    /// raised grants a vote inside the old leader's lease.
    RaftStickinessHigherTermOnly,
    /// Raft thesis §4.1: a membership change is accepted while another is
    /// still uncommitted.
    RaftOverlappingMembershipChanges,
    /// Raft thesis §6.3: the key-value store applies a retried write
    /// again instead of answering it from the client's session.
    RaftKvNoSessionDedup,
    /// Paxos ("Paxos Made Simple" §2.2): an acceptor forgets its promise
    /// across a restart (it reads back its accepted values but not the
    /// ballot it promised), so it accepts a lower ballot's value after
    /// promising a higher proposer not to.
    PaxosAcceptorForgetsPromise,
    /// Single-decree Paxos ("Paxos Made Simple" §2.2, P2c): a proposer
    /// proposes its own value in phase 2 instead of the value of the
    /// highest ballot its promises reported, so a value a majority may
    /// have chosen is replaced.
    PaxosProposerIgnoresReports,
    /// Bully: a new coordinator takes the epoch after its own instead of
    /// after the largest it has seen, so a node that was down reuses an
    /// epoch another coordinator holds.
    BullyEpochNotAboveSeen,
    /// Ring election: the same mistake as
    /// [`BullyEpochNotAboveSeen`](Self::BullyEpochNotAboveSeen).
    RingEpochNotAboveSeen,
    /// Failure detectors: a restarted node keeps its last incarnation
    /// instead of taking the next, so its heartbeats look like stale
    /// copies from its previous life and it stays suspected.
    DetectorIncarnationReused,
    /// Request-reply (RIFL §3): the server executes a retransmitted copy
    /// instead of answering it from its table.
    RpcServerNoDedup,
    /// Request-reply: the server's table is rebuilt empty after a restart,
    /// so a request executed before the crash executes again.
    RpcDedupForgottenOnRestart,
    /// Request-reply: a restarted client keeps its incarnation, so its new
    /// requests reuse the ids of its previous life and get their replies.
    RpcIncarnationReused,
}

impl Mutant {
    /// Every planted mutant.
    pub const ALL: &'static [Mutant] = &[
        Mutant::RaftFigure8,
        Mutant::RaftVoteNotUpToDate,
        Mutant::RaftVoteSentBeforePersisted,
        Mutant::RaftApplyBeforeCommit,
        Mutant::RaftLeaseNeverExpires,
        Mutant::RaftStickinessHigherTermOnly,
        Mutant::RaftOverlappingMembershipChanges,
        Mutant::RaftKvNoSessionDedup,
        Mutant::PaxosAcceptorForgetsPromise,
        Mutant::PaxosProposerIgnoresReports,
        Mutant::BullyEpochNotAboveSeen,
        Mutant::RingEpochNotAboveSeen,
        Mutant::DetectorIncarnationReused,
        Mutant::RpcServerNoDedup,
        Mutant::RpcDedupForgottenOnRestart,
        Mutant::RpcIncarnationReused,
    ];

    /// The name `--mutant` takes: the family, then the mistake.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Mutant::RaftFigure8 => "raft_figure8",
            Mutant::RaftVoteNotUpToDate => "raft_vote_not_up_to_date",
            Mutant::RaftVoteSentBeforePersisted => "raft_vote_sent_before_persisted",
            Mutant::RaftApplyBeforeCommit => "raft_apply_before_commit",
            Mutant::RaftLeaseNeverExpires => "raft_lease_never_expires",
            Mutant::RaftStickinessHigherTermOnly => "raft_stickiness_higher_term_only",
            Mutant::RaftOverlappingMembershipChanges => "raft_overlapping_membership_changes",
            Mutant::RaftKvNoSessionDedup => "raft_kv_no_session_dedup",
            Mutant::PaxosAcceptorForgetsPromise => "paxos_acceptor_forgets_promise",
            Mutant::PaxosProposerIgnoresReports => "paxos_proposer_ignores_reports",
            Mutant::BullyEpochNotAboveSeen => "bully_epoch_not_above_seen",
            Mutant::RingEpochNotAboveSeen => "ring_epoch_not_above_seen",
            Mutant::DetectorIncarnationReused => "detector_incarnation_reused",
            Mutant::RpcServerNoDedup => "rpc_server_no_dedup",
            Mutant::RpcDedupForgottenOnRestart => "rpc_dedup_forgotten_on_restart",
            Mutant::RpcIncarnationReused => "rpc_incarnation_reused",
        }
    }

    /// The mutant called `name`.
    #[must_use]
    pub fn named(name: &str) -> Option<Mutant> {
        Mutant::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// Whether `mutant` is planted: always `false` unless built with
/// `--cfg consensio_mutants` and turned on with [`plant`].
#[inline(always)]
#[must_use]
pub fn planted(mutant: Mutant) -> bool {
    #[cfg(consensio_mutants)]
    {
        active::is(mutant)
    }
    #[cfg(not(consensio_mutants))]
    {
        let _ = mutant;
        false
    }
}

/// Whether this build can plant mutants (`--cfg consensio_mutants`).
pub const BUILT_IN: bool = cfg!(consensio_mutants);

/// Plants `mutant` for the whole process, replacing the one planted
/// before (`None`: none). Returns whether it could: only a build with
/// `--cfg consensio_mutants` has mutants to plant.
pub fn plant(mutant: Option<Mutant>) -> bool {
    #[cfg(consensio_mutants)]
    {
        active::set(mutant);
        true
    }
    #[cfg(not(consensio_mutants))]
    {
        mutant.is_none()
    }
}

#[cfg(consensio_mutants)]
mod active {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use super::Mutant;

    /// 0: none; else one more than the mutant's place in `Mutant::ALL`.
    static ACTIVE: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn set(mutant: Option<Mutant>) {
        let slot = mutant.map_or(0, |m| {
            Mutant::ALL
                .iter()
                .position(|&x| x == m)
                .map_or(0, |i| i + 1)
        });
        ACTIVE.store(slot, Relaxed);
    }

    pub(super) fn is(mutant: Mutant) -> bool {
        let slot = ACTIVE.load(Relaxed);
        slot != 0 && Mutant::ALL.get(slot - 1) == Some(&mutant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for &m in Mutant::ALL {
            assert_eq!(Mutant::named(m.name()), Some(m));
        }
        assert_eq!(Mutant::named("no_such_mutant"), None);
    }

    #[test]
    fn nothing_is_planted_unless_the_build_has_mutants() {
        assert!(Mutant::ALL.iter().all(|&m| !planted(m)));
        assert_eq!(plant(Some(Mutant::RaftFigure8)), BUILT_IN);
        assert_eq!(planted(Mutant::RaftFigure8), BUILT_IN);
        assert!(plant(None));
        assert!(!planted(Mutant::RaftFigure8));
    }
}
