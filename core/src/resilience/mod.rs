//! Calls that fail well: a circuit breaker, retries with backoff and a
//! budget, hedging, routing and request-reply, as sans-IO state machines
//! with time as an input.
//!
//! - [`breaker`]: the circuit breaker of resilience4j (its documented state
//!   machine and defaults): a count-based or time-based sliding window,
//!   failure-rate and slow-call-rate thresholds that count only after a
//!   minimum number of calls, OPEN for a fixed wait or one that grows
//!   across consecutive openings, HALF_OPEN admitting exactly N trial calls
//!   and deciding on them, and the DISABLED, FORCED_OPEN and METRICS_ONLY
//!   states. Whether a call failed, succeeded or is to be ignored is the
//!   caller's classification.
//! - [`retry`]: exponential backoff with full, equal and decorrelated jitter
//!   (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog,
//!   2015) drawn from the seeded [`Rng`](crate::Rng); a maximum number of
//!   attempts and a maximum delay; server pushback; and a retry budget
//!   shared by the calls of one client: gRPC's retry throttling (gRFC A6)
//!   or the AWS SDKs' standard-mode retry quota.
//! - [`hedge`]: hedged requests (Dean & Barroso, "The Tail at Scale", 2013;
//!   gRPC's hedging policy): another copy of a slow call after a delay,
//!   the first answer wins and the others are cancelled, a transient
//!   failure sends the next copy at once, and the same budget pays for
//!   every copy after the first.
//! - [`routing`]: picking an endpoint across regions: failover by priority
//!   tier, weighted, nearest or lowest-latency (EWMA, two random choices)
//!   balancing within a tier, active health checks with hysteresis, and
//!   Envoy's passive outlier ejection (consecutive failures, success-rate
//!   outliers, ejections that grow, a cap on the share ejected).
//! - [`rpc`]: request-reply, where they meet the network: a participant
//!   ([`rpc::RpcNode`]) whose calls carry ids and deadlines, are
//!   retransmitted under a [`retry`] policy, a [`Budget`] and a breaker per
//!   peer, and end in exactly one outcome by their deadline; its server
//!   executes each request at most once, across its own crashes (RIFL).
//!
//! All but `rpc` are not participants: no messages pass between them, so
//! the simulator's invariant rows, the wire-format rows and the decode
//! fuzz target do not apply to them. Their rules are unit tests named after
//! resilience4j's documentation and gRFC A6, and statistical tests of the
//! jitter distributions (`core/tests/resilience_*.rs`).
//!
//! # What the textbook version gets wrong
//!
//! The breaker of the blog posts counts failures forever: one bad minute a
//! week ago and a steady trickle of errors open it alike, and a breaker
//! that has seen ten calls opens on five failures of them. Here only the
//! window's calls count, and no rate counts before the window holds the
//! minimum number of calls. Its half-open state lets every caller through
//! at once (a thundering herd on a server that is just recovering); here
//! exactly N trial calls are admitted and the others are refused until
//! those N have reported. And it records the late result of a call started
//! in an earlier state as if it were new, so a call from before an opening
//! can close the breaker or a slow call from before a recovery can open it
//! again; here a result counts only in the state period its permit was
//! issued in (resilience4j records it in whatever state it finds).
//!
//! The retry loop of the blog posts sleeps `2**n` seconds with no jitter
//! (every client that failed together retries together) and no budget (a
//! server that fails because it is overloaded gets every request several
//! times: a retry storm). Here the delay is jittered from the seeded
//! generator, and a budget shared by all calls stops retries when too many
//! calls fail.

pub mod breaker;
pub mod hedge;
pub mod retry;
pub mod routing;
#[cfg(feature = "alloc")]
pub mod rpc;

use core::fmt;

use crate::error::{Classify, ErrorKind};
use crate::id::NodeId;
use crate::wire::WireError;

pub use breaker::{CircuitBreaker, State};
pub use hedge::{Hedge, HedgePolicy};
pub use retry::{Backoff, Budget, Jitter, Retry};

/// What went wrong in a call to a breaker, a retry, a budget or a
/// request-reply endpoint. The object is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value outside its domain; the text names it.
    InvalidConfig(&'static str),
    /// A permit that this breaker did not issue, or one already reported.
    UnknownPermit,
    /// The bytes from a peer were not a valid message.
    Wire(WireError),
    /// A message from, or a call to, a node that is not a peer.
    NotAPeer {
        /// The node.
        peer: NodeId,
    },
    /// A call's tag is already open.
    CallInUse {
        /// The tag.
        call: u64,
    },
    /// The table of open calls is full.
    TooManyCalls {
        /// Its size.
        max: usize,
    },
    /// A body longer than the configured bound.
    BodyTooLarge {
        /// The body's length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A reply to a request that is not executing: answered already, or
    /// abandoned by a restart.
    NotExecuting,
    /// Records no endpoint could have written; the text says how.
    BadRecords(&'static str),
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
            Error::UnknownPermit => {
                f.write_str("a permit this breaker did not issue, or one already reported")
            }
            Error::Wire(e) => write!(f, "bad message: {e}"),
            Error::NotAPeer { peer } => write!(f, "{peer} is not a peer"),
            Error::CallInUse { call } => write!(f, "call {call} is already open"),
            Error::TooManyCalls { max } => write!(f, "{max} calls are open, the most allowed"),
            Error::BodyTooLarge { len, max } => {
                write!(f, "a body of {len} bytes exceeds the limit of {max}")
            }
            Error::NotExecuting => f.write_str("that request is not executing"),
            Error::BadRecords(why) => write!(f, "records no endpoint could have written: {why}"),
        }
    }
}

impl core::error::Error for Error {}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Wire(e) => e.kind(),
            Error::TooManyCalls { .. } | Error::BodyTooLarge { .. } => ErrorKind::LimitExceeded,
            Error::BadRecords(_) => ErrorKind::Malformed,
            _ => ErrorKind::InvalidArgument,
        }
    }
}
