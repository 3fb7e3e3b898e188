//! Client sessions: exactly-once application of retried commands (Raft
//! thesis §6.3).
//!
//! A client that times out retries its command, and the command may then be
//! committed twice. Each command therefore carries `(client, sequence)`,
//! and the state machine keeps, per client, the last sequence it applied
//! and the response it gave: a repeat gets the saved response and is not
//! applied again. Clients issue one command at a time with sequences
//! 1, 2, 3, … .
//!
//! The table is part of the replicated state, so everything that changes it
//! must be deterministic: time is the *log's* time (the leader stamps each
//! entry with its clock), never a replica's. Sessions expire after
//! `expiry_ms` of log time without a command, and the table holds at most
//! `max_sessions`; when full, the least recently active session is evicted.
//! A session is opened explicitly, by a command of its own whose log index
//! becomes the client id (thesis §6.3), so ids are never reused. A command
//! whose session is gone — expired, evicted, or never opened — is rejected
//! with [`SessionError::Expired`] rather than applied, because it may have
//! been applied before: the client must open a new session and find out.

use alloc::collections::BTreeMap;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::mutant::{Mutant, planted};

/// What the table says about a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission<R> {
    /// New: apply it, then [`record`](Sessions::record) its response.
    Apply,
    /// Already applied: answer with this response, do not apply again.
    Duplicate(R),
}

/// Why a command may not be applied. The table is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The client's session is gone (or never began with sequence 1).
    Expired,
    /// The sequence is older than the last one applied, whose response is
    /// all the table keeps.
    Stale {
        /// The last sequence applied for this client.
        last: u64,
    },
    /// The sequence skips ahead of the next one expected.
    Gap {
        /// The sequence expected next.
        expected: u64,
    },
    /// Sequence 0: sequences start at 1, so 0 is never a command's.
    ZeroSequence,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Expired => {
                f.write_str("client session expired; open a new one with sequence 1")
            }
            SessionError::Stale { last } => write!(f, "stale sequence; the last applied is {last}"),
            SessionError::Gap { expected } => {
                write!(f, "sequence skips ahead; expected {expected}")
            }
            SessionError::ZeroSequence => f.write_str("sequences start at 1"),
        }
    }
}

impl core::error::Error for SessionError {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session<R> {
    last_seq: u64,
    response: Option<R>,
    active_ms: u64,
}

/// The session table of a replicated state machine.
///
/// ```
/// use consensio::raft::{Admission, Sessions};
/// let mut s: Sessions<&str> = Sessions::new(100, 60_000);
/// s.open(7, 0); // 7: the log index of the open-session command
/// assert_eq!(s.admit(7, 1, 0), Ok(Admission::Apply));
/// s.record(7, 1, "ok");
/// // The client retries: the table answers for it.
/// assert_eq!(s.admit(7, 1, 10), Ok(Admission::Duplicate("ok")));
/// assert_eq!(s.admit(7, 2, 20), Ok(Admission::Apply));
/// ```
///
/// The table is part of a snapshot of the state machine it belongs to
/// (serde), so a retried command after a snapshot still applies once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions<R> {
    sessions: BTreeMap<u64, Session<R>>,
    max_sessions: usize,
    expiry_ms: u64,
}

impl<R: Clone> Sessions<R> {
    /// An empty table of at most `max_sessions` sessions that expire after
    /// `expiry_ms` of log time.
    #[must_use]
    pub const fn new(max_sessions: usize, expiry_ms: u64) -> Self {
        Sessions {
            sessions: BTreeMap::new(),
            max_sessions,
            expiry_ms,
        }
    }

    /// The table's bounds: most sessions, and their expiry in ms.
    #[must_use]
    pub const fn bounds(&self) -> (usize, u64) {
        (self.max_sessions, self.expiry_ms)
    }

    /// Number of open sessions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Opens session `client` (use the log index of the command that opens
    /// it, so that ids are never reused) at log time `now_ms`. Replaying the
    /// same open is harmless. When the table is full, the least recently
    /// active session is evicted.
    pub fn open(&mut self, client: u64, now_ms: u64) {
        self.expire(now_ms);
        if self.sessions.contains_key(&client) || self.max_sessions == 0 {
            return;
        }
        if self.sessions.len() >= self.max_sessions {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(id, s)| (s.active_ms, **id))
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.sessions.remove(&id);
            }
        }
        self.sessions.insert(
            client,
            Session {
                last_seq: 0,
                response: None,
                active_ms: now_ms,
            },
        );
    }

    /// Whether `client` has an open session.
    #[must_use]
    pub fn contains(&self, client: u64) -> bool {
        self.sessions.contains_key(&client)
    }

    /// Decides whether command `seq` of `client`, in an entry stamped
    /// `now_ms`, is applied. Expired sessions are dropped first.
    ///
    /// # Errors
    /// [`SessionError`]; the table is unchanged except for expiry.
    pub fn admit(
        &mut self,
        client: u64,
        seq: u64,
        now_ms: u64,
    ) -> Result<Admission<R>, SessionError> {
        if seq == 0 {
            // Otherwise it would pass for a session's first command, with
            // the real first (1) then applied as a second one.
            return Err(SessionError::ZeroSequence);
        }
        self.expire(now_ms);
        let s = self
            .sessions
            .get_mut(&client)
            .ok_or(SessionError::Expired)?;
        if seq < s.last_seq {
            return Err(SessionError::Stale { last: s.last_seq });
        }
        let expected = s.last_seq.saturating_add(1);
        if seq > expected {
            return Err(SessionError::Gap { expected });
        }
        s.active_ms = s.active_ms.max(now_ms);
        if seq == s.last_seq && !planted(Mutant::RaftKvNoSessionDedup) {
            // A command admitted but whose response was never recorded (its
            // apply failed) is applied again.
            return Ok(s
                .response
                .clone()
                .map_or(Admission::Apply, Admission::Duplicate));
        }
        s.last_seq = seq;
        s.response = None;
        Ok(Admission::Apply)
    }

    fn expire(&mut self, now_ms: u64) {
        let expiry = self.expiry_ms;
        self.sessions
            .retain(|_, s| now_ms.saturating_sub(s.active_ms) < expiry);
    }

    /// Records the response of command `seq` of `client`, after applying it.
    pub fn record(&mut self, client: u64, seq: u64, response: R) {
        if let Some(s) = self.sessions.get_mut(&client)
            && s.last_seq == seq
        {
            s.response = Some(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_command_applies_exactly_once() {
        let mut s = Sessions::new(10, 1_000);
        s.open(1, 0);
        // 0 would pass for the first command, and 1 would then apply again.
        assert_eq!(s.admit(1, 0, 0), Err(SessionError::ZeroSequence));
        assert_eq!(s.admit(1, 1, 0), Ok(Admission::Apply));
        s.record(1, 1, 42);
        for t in [1, 5, 900] {
            assert_eq!(s.admit(1, 1, t), Ok(Admission::Duplicate(42)));
        }
        assert_eq!(s.admit(1, 2, 950), Ok(Admission::Apply));
        s.record(1, 2, 43);
        assert_eq!(s.admit(1, 1, 960), Err(SessionError::Stale { last: 2 }));
        assert_eq!(s.admit(1, 4, 960), Err(SessionError::Gap { expected: 3 }));
        s.open(1, 970);
        assert_eq!(
            s.admit(1, 2, 980),
            Ok(Admission::Duplicate(43)),
            "replaying the open resets nothing"
        );
    }

    #[test]
    fn sessions_expire_by_log_time_and_then_refuse_retries() {
        let mut s = Sessions::new(10, 1_000);
        s.open(1, 0);
        assert_eq!(s.admit(1, 1, 0), Ok(Admission::Apply));
        s.record(1, 1, ());
        // Activity keeps it alive...
        assert_eq!(s.admit(1, 1, 999), Ok(Admission::Duplicate(())));
        // ...silence beyond the expiry ends it, and a retry is refused: it
        // may have been applied, and the saved response is gone.
        assert_eq!(s.admit(1, 1, 2_000), Err(SessionError::Expired));
        assert_eq!(s.admit(1, 2, 2_000), Err(SessionError::Expired));
        assert!(s.is_empty());
        assert_eq!(s.admit(9, 1, 0), Err(SessionError::Expired), "never opened");
    }

    #[test]
    fn a_full_table_evicts_the_least_recently_active_session() {
        let mut s: Sessions<()> = Sessions::new(2, 10_000);
        s.open(1, 10);
        s.open(2, 20);
        assert_eq!(s.admit(1, 1, 30), Ok(Admission::Apply));
        s.open(3, 40);
        assert_eq!(s.len(), 2);
        assert!(!s.contains(2), "2 was the least recently active");
        assert_eq!(s.admit(2, 1, 50), Err(SessionError::Expired));
        assert_eq!(s.admit(1, 2, 50), Ok(Admission::Apply));
    }

    #[test]
    fn an_unrecorded_command_is_applied_again_and_zero_capacity_refuses() {
        let mut s: Sessions<u8> = Sessions::new(1, 10);
        s.open(5, 0);
        assert_eq!(s.admit(5, 1, 0), Ok(Admission::Apply));
        assert_eq!(s.admit(5, 1, 1), Ok(Admission::Apply));
        let mut none: Sessions<u8> = Sessions::new(0, 10);
        none.open(5, 0);
        assert_eq!(none.admit(5, 1, 0), Err(SessionError::Expired));
    }
}
