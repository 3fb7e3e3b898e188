//! One classification of every error in consensio.
//!
//! Each family has its own `#[non_exhaustive]` error enum, whose variants
//! say what went wrong in the family's own words (`NotLeader`,
//! `AlreadySyncing`, `RootMismatch`). Callers that do not care about the
//! family, above all the C and Python surfaces, need only two things from
//! any of them: *what kind* of failure it is, and *whether the participant's
//! state changed*. [`Classify`] answers both, once, next to each error enum,
//! so that every surface maps errors with one generic line: a C status per
//! [`ErrorKind`], a Python exception class per [`ErrorKind`].
//!
//! The kinds follow who is at fault and what the caller can do:
//!
//! | kind | meaning | what the caller does |
//! |---|---|---|
//! | [`Malformed`](ErrorKind::Malformed) | bytes that are not a valid message or record | drop them (a peer or a disk is broken) |
//! | [`InvalidArgument`](ErrorKind::InvalidArgument) | a value outside its domain: an unknown node, a bad configuration | fix the call |
//! | [`BadLength`](ErrorKind::BadLength) | a slice whose length does not fit the call | fix the call |
//! | [`OutOfRange`](ErrorKind::OutOfRange) | an index or size beyond what the object holds | fix the call |
//! | [`BufferTooSmall`](ErrorKind::BufferTooSmall) | the caller's output buffer is too small | retry with a larger one |
//! | [`LimitExceeded`](ErrorKind::LimitExceeded) | a configured bound or a counter's range would be exceeded | drain, shed load, or configure more |
//! | [`Rejected`](ErrorKind::Rejected) | the protocol refuses the request in its current state | retry later or elsewhere (ask the leader) |
//! | [`VerificationFailed`](ErrorKind::VerificationFailed) | a proof or check did not verify | distrust the data |
//!
//! Each family implements [`Classify`] beside its error enum, variant by
//! variant, so the kind is decided where the error is defined.

/// What kind of failure an error is; see the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bytes that do not decode as the expected message or record.
    Malformed,
    /// A value outside its domain.
    InvalidArgument,
    /// A slice whose length does not fit the call.
    BadLength,
    /// An index or size beyond what the object holds.
    OutOfRange,
    /// The caller's output buffer is too small.
    BufferTooSmall,
    /// A configured bound or a counter's range would be exceeded.
    LimitExceeded,
    /// The protocol refuses the request in its current state.
    Rejected,
    /// A proof or check did not verify.
    VerificationFailed,
}

/// Every error type of consensio says what kind of failure it is and
/// whether it left its object changed.
pub trait Classify {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;

    /// Whether the object that returned the error changed anyway. `false`
    /// for every error in consensio but one: a refused input, command or
    /// configuration leaves the participant (and its queued outputs)
    /// exactly as it was. The exception, which says so in its
    /// documentation, is `raft::Error::CorruptSnapshot` from a `KvNode`: the
    /// snapshot was installed before the store could not read it.
    fn changed_state(&self) -> bool {
        false
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::NodeId;
    use crate::merkle::anti_entropy;
    use crate::wire::WireError;
    use crate::{detector, election, raft};

    #[test]
    fn a_wrapped_wire_error_keeps_its_kind_in_every_family() {
        let too_large = WireError::TooLarge { len: 9, max: 8 };
        assert_eq!(too_large.kind(), ErrorKind::LimitExceeded);
        assert_eq!(
            raft::Error::Wire(too_large).kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(
            election::Error::Wire(WireError::Truncated).kind(),
            ErrorKind::Malformed
        );
        assert_eq!(
            detector::Error::Wire(WireError::Malformed).kind(),
            ErrorKind::Malformed
        );
        assert_eq!(
            anti_entropy::Error::Wire(WireError::BufferTooSmall).kind(),
            ErrorKind::BufferTooSmall
        );
    }

    #[test]
    fn the_wrong_moment_is_rejected_and_a_bound_is_a_limit() {
        let not_leader = raft::Error::NotLeader { leader_hint: None };
        assert_eq!(not_leader.kind(), ErrorKind::Rejected);
        assert_eq!(raft::Error::LogFull.kind(), ErrorKind::LimitExceeded);
        assert_eq!(
            anti_entropy::Error::AlreadySyncing { peer: NodeId(2) }.kind(),
            ErrorKind::Rejected
        );
        assert_eq!(
            anti_entropy::Error::KeyTooLong { len: 2000 }.kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(
            election::Error::NotAMember { peer: NodeId(9) }.kind(),
            ErrorKind::InvalidArgument
        );
        assert!(!not_leader.changed_state());
        assert!(raft::Error::CorruptSnapshot { index: 3 }.changed_state());
    }
}
