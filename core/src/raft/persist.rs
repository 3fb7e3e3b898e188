//! The records a Raft node asks its caller to make durable (Figure 2's
//! "persistent state on all servers": `currentTerm`, `votedFor`, `log[]`),
//! and their replay after a restart.
//!
//! The caller appends each record to stable storage, in order, and makes it
//! durable before acting on any output that follows it. A restarted node is
//! [`RaftNode::restore`](super::RaftNode::restore)d from the same records,
//! in the same order.
//!
//! A [`Persist::Snapshot`] record replaces every record before it: it holds
//! the snapshot, the hard state and the entries after the snapshot, so once
//! it is durable the host may delete all earlier records, and a restart
//! reads one snapshot and the records written since (§7).
//!
//! A record that must be stored as bytes is encoded like a message: postcard
//! behind the wire header, kind [`RAFT_RECORD`](crate::wire::kind::RAFT_RECORD)
//! (`wire::encode_to_vec(&record)`, `wire::decode::<Persist>(&bytes)`).
//! A record of entries holds at most the entries of one message, which the
//! configuration bounds to a frame; a snapshot record holds up to
//! `max_snapshot_bytes` of snapshot and the log after it, and records may
//! be up to 1 GiB long ([`Persist::MAX_ENCODED_LEN`](WireMessage::MAX_ENCODED_LEN)).

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{Entry, EntryKind, Error, LogStorage, Membership};
use crate::id::NodeId;
use crate::wire::{WireMessage, kind};

/// A snapshot of the application's state machine (§7): its state after
/// applying every entry up to `index`, as bytes only the application reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last index it covers.
    pub index: u64,
    /// The term of the entry at `index`.
    pub term: u64,
    /// The cluster's membership at `index`.
    pub membership: Membership,
    /// The application's state.
    pub data: Vec<u8>,
}

/// Who wrote a node's records: the cluster's id and the node's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Writer {
    /// The cluster ([`Config::cluster`](super::Config::cluster)).
    pub cluster: u64,
    /// The node.
    pub node: NodeId,
}

/// One durable record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Persist {
    /// The current term and the vote cast in it; replaces the previous one.
    HardState {
        /// The current term.
        term: u64,
        /// The candidate voted for in `term`, if any.
        vote: Option<NodeId>,
    },
    /// The log from `first_index` on is now exactly `entries`: any later
    /// entries are removed (a conflicting suffix, §5.3) and these appended.
    /// With no entries it is a pure truncation.
    Entries {
        /// Index of the first entry.
        first_index: u64,
        /// The entries, in index order.
        entries: Vec<Entry>,
    },
    /// A snapshot now covers the log up to `snapshot.index`, and the node
    /// is as every record before this one left it: this hard state, and
    /// `entries` after the snapshot. Replaces every earlier record.
    Snapshot {
        /// Who wrote it (it replaces the [`Persist::Identity`] record too).
        writer: Writer,
        /// The snapshot.
        snapshot: Snapshot,
        /// The current term.
        term: u64,
        /// The candidate voted for in `term`, if any.
        vote: Option<NodeId>,
        /// The log after `snapshot.index`, in index order.
        entries: Vec<Entry>,
    },
    /// Who writes the records that follow: the first record a node writes,
    /// before anything else. Restore refuses records whose writer is not
    /// the configuration's node and cluster.
    Identity(Writer),
}

impl WireMessage for Persist {
    const KIND: u8 = kind::RAFT_RECORD;
    /// A snapshot record holds a whole snapshot: records come from the
    /// node's own storage, not from peers.
    const MAX_ENCODED_LEN: usize = 1 << 30;
}

/// The durable term and vote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HardState {
    pub(crate) term: u64,
    pub(crate) vote: Option<NodeId>,
}

/// Replays `records` into `log`; returns the last hard state (zero if none)
/// and the last snapshot, if any.
///
/// # Errors
/// [`Error::ForeignRecords`] if the first record, or a snapshot record,
/// names another writer than `me`; [`Error::CorruptRecords`] for records
/// no run of the node could have written: a first record that names no
/// writer, a second identity, an entry record that would leave a gap or rewrite entries a
/// snapshot covers, a term that goes backwards, two votes in a term,
/// entries whose terms decrease or exceed the term recorded before them, a
/// snapshot behind an earlier one, a membership entry that holds no
/// membership; [`Error::LogFull`] if `log` cannot hold the entries. `log`
/// may then be partly written.
pub(crate) fn replay<L: LogStorage>(
    log: &mut L,
    records: &[Persist],
    me: Writer,
) -> Result<Replayed, Error> {
    let mut hard_state = HardState::default();
    let mut snapshot: Option<&Snapshot> = None;
    let mut configs: Vec<(u64, Membership)> = Vec::new();
    for (at, record) in records.iter().enumerate() {
        let corrupt = Error::CorruptRecords { record: at };
        match record {
            Persist::Identity(writer) | Persist::Snapshot { writer, .. } if *writer != me => {
                return Err(Error::ForeignRecords { record: at });
            }
            // A node names itself once, first; a snapshot record names
            // it again and replaces everything before it.
            Persist::Identity(_) if at > 0 => return Err(corrupt),
            Persist::Identity(_) => {}
            Persist::HardState { .. } | Persist::Entries { .. } if at == 0 => return Err(corrupt),
            Persist::HardState { term, vote } => {
                hard_state = hard_state.then(*term, *vote).ok_or(corrupt)?;
            }
            Persist::Entries {
                first_index,
                entries,
            } => {
                let end = log.last_index().saturating_add(1);
                if *first_index < log.first_index() || *first_index > end {
                    return Err(corrupt);
                }
                let before = log.term(first_index.saturating_sub(1)).unwrap_or(0);
                if !hard_state.may_follow(before, entries) {
                    return Err(corrupt);
                }
                log.truncate_after(first_index.saturating_sub(1));
                configs.retain(|(i, _)| i < first_index);
                memberships(&mut configs, *first_index, entries).ok_or(corrupt)?;
                append_all(log, entries)?;
            }
            Persist::Snapshot {
                snapshot: snap,
                term,
                vote,
                entries,
                ..
            } => {
                hard_state = hard_state.then(*term, *vote).ok_or(corrupt)?;
                // Snapshots only move forward, and cover entries of terms
                // the node had seen.
                let behind = snapshot.is_some_and(|s| snap.index < s.index);
                if behind || snap.term > *term || !hard_state.may_follow(snap.term, entries) {
                    return Err(corrupt);
                }
                log.compact(snap.index, snap.term);
                log.truncate_after(snap.index);
                configs.clear();
                let first_index = snap.index.saturating_add(1);
                memberships(&mut configs, first_index, entries).ok_or(corrupt)?;
                append_all(log, entries)?;
                snapshot = Some(snap);
            }
        }
    }
    Ok(Replayed {
        hard_state,
        snapshot: snapshot.cloned(),
        configs,
    })
}

/// What replaying a node's records gives.
pub(crate) struct Replayed {
    /// The last hard state (zero if none).
    pub(crate) hard_state: HardState,
    /// The last snapshot, if any.
    pub(crate) snapshot: Option<Snapshot>,
    /// The membership entries in the log after it, in index order.
    pub(crate) configs: Vec<(u64, Membership)>,
}

/// Adds the memberships among `entries` (the first at `first_index`);
/// `None` if a membership entry holds none.
fn memberships(
    configs: &mut Vec<(u64, Membership)>,
    first_index: u64,
    entries: &[Entry],
) -> Option<()> {
    for (entry, index) in entries.iter().zip(first_index..) {
        if entry.kind == EntryKind::Membership {
            configs.push((index, postcard::from_bytes(&entry.data).ok()?));
        }
    }
    Some(())
}

fn append_all<L: LogStorage>(log: &mut L, entries: &[Entry]) -> Result<(), Error> {
    for entry in entries {
        log.append(entry.term, &entry.data)
            .map_err(|_| Error::LogFull)?;
    }
    Ok(())
}

impl HardState {
    /// The hard state after a record of `(term, vote)`, or `None` if no
    /// node writes that record now: a node's term only grows, it persists
    /// every change, it votes at most once per term, and it never reaches
    /// the last term (see `RaftNode::step`).
    fn then(self, term: u64, vote: Option<NodeId>) -> Option<HardState> {
        let revoted = term == self.term && self.vote.is_some() && vote != self.vote;
        (term >= self.term && !revoted && term != u64::MAX).then_some(HardState { term, vote })
    }

    /// Whether `entries` may follow an entry of term `before` in this
    /// node's log: terms never decrease along it, and none is above the
    /// term the node had when it wrote them.
    fn may_follow(self, before: u64, entries: &[Entry]) -> bool {
        let mut last = before;
        entries.iter().all(|entry| {
            let ok = entry.term >= last && entry.term <= self.term;
            last = entry.term;
            ok
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{ArenaLog, FixedLog};
    use alloc::vec;

    const ME: Writer = Writer {
        cluster: 7,
        node: NodeId(1),
    };

    /// Replays `records` as node 1 of cluster 7 wrote them: after its
    /// identity record (positions in errors are `records`').
    fn replay_mine<L: LogStorage>(
        log: &mut L,
        records: &[Persist],
    ) -> Result<(HardState, Option<Snapshot>), Error> {
        let mut all = vec![Persist::Identity(ME)];
        all.extend_from_slice(records);
        replay(log, &all, ME)
            .map(|r| (r.hard_state, r.snapshot))
            .map_err(|e| match e {
                Error::CorruptRecords { record } => Error::CorruptRecords { record: record - 1 },
                e => e,
            })
    }

    fn membership() -> Membership {
        let voters = crate::quorum::MajorityConfig::from_voters([NodeId(1)]).unwrap();
        Membership::new(voters.into(), []).unwrap()
    }

    #[test]
    fn records_name_their_writer_first_and_another_writer_is_refused() {
        let hard = Persist::HardState {
            term: 1,
            vote: None,
        };
        let mut log = ArenaLog::new(10, 100);
        assert!(
            replay(&mut log, &[], ME).is_ok(),
            "a node that wrote nothing"
        );
        assert_eq!(
            replay(&mut log, core::slice::from_ref(&hard), ME).err(),
            Some(Error::CorruptRecords { record: 0 }),
            "no writer named"
        );
        for other in [
            Writer {
                cluster: 7,
                node: NodeId(2),
            },
            Writer {
                cluster: 8,
                node: NodeId(1),
            },
        ] {
            assert_eq!(
                replay(&mut log, &[Persist::Identity(other), hard.clone()], ME).err(),
                Some(Error::ForeignRecords { record: 0 })
            );
            let snapshot = Persist::Snapshot {
                writer: other,
                snapshot: Snapshot {
                    index: 1,
                    term: 1,
                    membership: membership(),
                    data: vec![],
                },
                term: 1,
                vote: None,
                entries: vec![],
            };
            assert_eq!(
                replay(
                    &mut log,
                    &[Persist::Identity(ME), hard.clone(), snapshot],
                    ME
                )
                .err(),
                Some(Error::ForeignRecords { record: 2 }),
                "another node's snapshot record"
            );
        }
        assert_eq!(
            replay(
                &mut log,
                &[Persist::Identity(ME), hard.clone(), Persist::Identity(ME)],
                ME
            )
            .err(),
            Some(Error::CorruptRecords { record: 2 }),
            "a second identity: another file's head"
        );
    }

    fn entry(term: u64, data: &[u8]) -> Entry {
        Entry::normal(term, data.to_vec())
    }

    #[test]
    fn replay_keeps_the_last_hard_state_and_applies_truncations_in_order() {
        let records = [
            Persist::HardState {
                term: 1,
                vote: Some(NodeId(1)),
            },
            Persist::Entries {
                first_index: 1,
                entries: vec![entry(1, b"a"), entry(1, b"b"), entry(1, b"c")],
            },
            Persist::HardState {
                term: 2,
                vote: None,
            },
            Persist::Entries {
                first_index: 2,
                entries: vec![entry(2, b"x")],
            },
            Persist::Entries {
                first_index: 3,
                entries: vec![],
            },
            Persist::Entries {
                first_index: 3,
                entries: vec![entry(2, b"y")],
            },
        ];
        let mut log = ArenaLog::new(10, 100);
        let (hs, _) = replay_mine(&mut log, &records).unwrap();
        assert_eq!(
            hs,
            HardState {
                term: 2,
                vote: None
            }
        );
        let got: Vec<(u64, &[u8])> = (1..=log.last_index())
            .map(|i| log.entry(i).map(|e| (e.term, e.data)).unwrap())
            .collect();
        assert_eq!(got, [(1, &b"a"[..]), (2, b"x"), (2, b"y")]);
    }

    #[test]
    fn records_round_trip_through_the_wire() {
        use crate::wire::{self, WireError};
        let records = [
            Persist::Identity(ME),
            Persist::HardState {
                term: 7,
                vote: Some(NodeId(3)),
            },
            Persist::HardState {
                term: 0,
                vote: None,
            },
            Persist::Entries {
                first_index: 4,
                entries: vec![entry(2, b"a"), entry(7, b"")],
            },
        ];
        for record in records {
            let bytes = wire::encode_to_vec(&record).unwrap();
            assert_eq!(wire::peek_kind(&bytes), Ok(kind::RAFT_RECORD));
            assert_eq!(wire::decode::<Persist>(&bytes).unwrap(), record);
        }
        // A message is not a record.
        let message = super::super::Message {
            term: 1,
            body: super::super::Body::HeartbeatResponse { round: 1 },
        };
        let frame = wire::encode_to_vec(&message).unwrap();
        assert!(matches!(
            wire::decode::<Persist>(&frame),
            Err(WireError::WrongKind { .. })
        ));
    }

    #[test]
    fn a_gap_or_a_full_log_is_an_error() {
        let gap = [Persist::Entries {
            first_index: 2,
            entries: vec![entry(1, b"a")],
        }];
        assert_eq!(
            replay_mine(&mut ArenaLog::new(10, 100), &gap),
            Err(Error::CorruptRecords { record: 0 })
        );
        let zero = [Persist::Entries {
            first_index: 0,
            entries: vec![],
        }];
        assert!(replay_mine(&mut ArenaLog::new(10, 100), &zero).is_err());
        let big = [
            Persist::HardState {
                term: 1,
                vote: None,
            },
            Persist::Entries {
                first_index: 1,
                entries: vec![entry(1, b"a"), entry(1, b"b")],
            },
        ];
        assert_eq!(
            replay_mine(&mut FixedLog::<1, 8>::new(), &big),
            Err(Error::LogFull)
        );
    }

    #[test]
    fn records_no_run_could_have_written_are_corrupt() {
        let hard = |term| Persist::HardState { term, vote: None };
        let entries = |first_index, terms: &[u64]| Persist::Entries {
            first_index,
            entries: terms.iter().map(|&t| entry(t, b"x")).collect(),
        };
        let corrupt = |records: &[Persist]| {
            replay_mine(&mut ArenaLog::new(10, 100), records).map(|(hard_state, _)| hard_state)
        };
        // A term that goes backwards: records reordered or mixed up.
        assert_eq!(
            corrupt(&[hard(3), hard(2)]),
            Err(Error::CorruptRecords { record: 1 })
        );
        // Entries whose terms decrease, or fall below the entry before them.
        assert_eq!(
            corrupt(&[hard(3), entries(1, &[2, 1])]),
            Err(Error::CorruptRecords { record: 1 })
        );
        assert_eq!(
            corrupt(&[hard(3), entries(1, &[2, 3]), entries(3, &[1])]),
            Err(Error::CorruptRecords { record: 2 })
        );
        // An entry of a term above the last term recorded before it.
        assert_eq!(
            corrupt(&[hard(2), entries(1, &[3])]),
            Err(Error::CorruptRecords { record: 1 })
        );
        // Two votes in one term, and the term no node reaches.
        let voted = |term, v| Persist::HardState {
            term,
            vote: Some(NodeId(v)),
        };
        assert_eq!(
            corrupt(&[voted(2, 1), voted(2, 3)]),
            Err(Error::CorruptRecords { record: 1 })
        );
        assert_eq!(
            corrupt(&[voted(2, 1), hard(2)]),
            Err(Error::CorruptRecords { record: 1 })
        );
        assert_eq!(
            corrupt(&[hard(u64::MAX)]),
            Err(Error::CorruptRecords { record: 0 })
        );
        // A vote cast after the term began is a change a node writes.
        assert!(corrupt(&[hard(2), voted(2, 3), voted(2, 3)]).is_ok());
        // What a node writes replays: a new term, then its entries, and a
        // conflicting suffix replaced by a later leader's.
        let sound = [
            hard(1),
            entries(1, &[1, 1]),
            hard(3),
            entries(2, &[3]),
            entries(3, &[3]),
        ];
        assert_eq!(
            corrupt(&sound),
            Ok(HardState {
                term: 3,
                vote: None
            })
        );
    }
}
