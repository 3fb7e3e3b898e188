//! Raft log storage (§5.3): a trait and two implementations.
//!
//! A log is a sequence of `(term, payload)` entries with consecutive indexes
//! from [`first_index`](LogStorage::first_index). Raft appends at the end
//! and, when a leader's entries conflict with a follower's, truncates the
//! follower's suffix; nothing else changes an entry. A snapshot (§7)
//! [`compact`](LogStorage::compact)s the log: the entries it covers go, and
//! the last of them, `first_index - 1`, keeps only its term, which the
//! consistency check of AppendEntries needs. Index 0 is the empty prefix,
//! whose term is 0.
//!
//! - [`ArenaLog`] (`alloc`): every payload in one contiguous byte buffer and
//!   a small index of `(term, end offset)`, so appending is one copy and
//!   reading is a slice, with bounds on entries and bytes.
//! - [`FixedLog`]: the same layout in fixed arrays, for targets without a
//!   heap.
//!
//! Both free the room of what a compaction discards, so a log bounded in
//! entries and bytes runs for ever as long as snapshots are taken.

use core::fmt;

/// One entry, borrowed from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Its position.
    pub index: u64,
    /// The term of the leader that created it.
    pub term: u64,
    /// The payload.
    pub data: &'a [u8],
}

/// Why an append failed; the log is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogError {
    /// The log holds its maximum number of entries or bytes.
    Full,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Full => f.write_str("the log is full"),
        }
    }
}

impl core::error::Error for LogError {}

/// The highest index a log holds: a log whose last index reaches it is
/// full, however much room it has, so no index arithmetic overflows (a
/// leader that sends a snapshot at `u64::MAX` leaves its follower full).
pub const MAX_INDEX: u64 = u64::MAX - 1;

/// Where a Raft node keeps its log.
pub trait LogStorage {
    /// The index of the first entry held: one past the last index a
    /// snapshot covers (1 before any compaction).
    fn first_index(&self) -> u64;

    /// The index of the last entry, or `first_index() - 1` if empty.
    fn last_index(&self) -> u64;

    /// The term of the entry at `index`, or of the snapshot's last entry
    /// at `first_index() - 1` (0 for index 0); `None` below that and
    /// beyond the log.
    fn term(&self, index: u64) -> Option<u64>;

    /// The entry at `index`, if held (`first_index()..=last_index()`).
    fn entry(&self, index: u64) -> Option<EntryRef<'_>>;

    /// Appends an entry at `last_index() + 1` and returns that index.
    ///
    /// # Errors
    /// [`LogError::Full`]; the log is unchanged.
    fn append(&mut self, term: u64, data: &[u8]) -> Result<u64, LogError>;

    /// Whether [`append`](Self::append) of a payload of `len` bytes would
    /// succeed now.
    fn has_room(&self, len: usize) -> bool;

    /// Removes every entry after `index` (keeps `index` itself; an index
    /// below `first_index()` removes every entry held).
    fn truncate_after(&mut self, index: u64);

    /// A snapshot now covers every entry up to `index`, the last of them of
    /// `term` (§7): afterwards `first_index()` is `index + 1` and
    /// `term(index)` is `term`. The entries after `index` stay if the log
    /// holds `index` with `term` (they follow the snapshot); otherwise the
    /// whole log is discarded (Figure 13, step 6–7). An `index` below
    /// `first_index() - 1` changes nothing: the log is compacted further
    /// already.
    fn compact(&mut self, index: u64, term: u64);

    /// The term of the last entry (0 for an empty log).
    fn last_term(&self) -> u64 {
        self.term(self.last_index()).unwrap_or(0)
    }

    /// Whether a log ending at `(last_index, last_term)` is at least as
    /// up-to-date as this one (§5.4.1: compare last terms, then lengths).
    fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }
}

/// Position of an entry: its term and where its payload ends in the arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    term: u64,
    end: usize,
}

/// What a compaction left of the entries before the first one held: the
/// last index it covers and that entry's term (`0, 0` before any).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Prefix {
    index: u64,
    term: u64,
}

impl Prefix {
    /// The position in the slot table of entry `index`, if after the
    /// prefix.
    fn slot(self, index: u64) -> Option<usize> {
        usize::try_from(index.checked_sub(self.index)?.checked_sub(1)?).ok()
    }

    /// Entry `index` from a slot table and an arena that start after the
    /// prefix.
    fn read<'a>(self, slots: &[Slot], arena: &'a [u8], index: u64) -> Option<EntryRef<'a>> {
        let k = self.slot(index)?;
        let slot = slots.get(k)?;
        let start = match k.checked_sub(1) {
            Some(p) => slots.get(p)?.end,
            None => 0,
        };
        Some(EntryRef {
            index,
            term: slot.term,
            data: arena.get(start..slot.end)?,
        })
    }

    fn term_of(self, slots: &[Slot], index: u64) -> Option<u64> {
        if index == self.index {
            return Some(self.term);
        }
        slots.get(self.slot(index)?).map(|s| s.term)
    }

    /// The number of slots to keep when truncating after `index`.
    fn kept(self, len: usize, index: u64) -> usize {
        let after = index.saturating_sub(self.index);
        usize::try_from(after).map_or(len, |i| i.min(len))
    }

    /// Compacts up to `(index, term)`: the new prefix, and how many slots
    /// to drop from the front (all of them if the log does not hold
    /// `index` with `term`). `None` if the log is compacted further.
    fn compact(self, slots: &[Slot], index: u64, term: u64) -> Option<(Prefix, usize)> {
        if index < self.index {
            return None;
        }
        let drop = match self.term_of(slots, index) {
            Some(t) if t == term => self.kept(slots.len(), index),
            _ => slots.len(),
        };
        Some((Prefix { index, term }, drop))
    }
}

#[cfg(feature = "alloc")]
pub use arena::ArenaLog;

#[cfg(feature = "alloc")]
mod arena {
    use alloc::vec::Vec;

    use super::{EntryRef, LogError, LogStorage, Prefix, Slot};

    /// An in-memory log: payloads in one growing byte buffer, plus an index.
    /// A compaction moves what stays to the front (one copy of the entries
    /// after the snapshot, normally few).
    ///
    /// ```
    /// use consensio::raft::{ArenaLog, LogStorage};
    /// let mut log = ArenaLog::new(1_000, 1 << 20);
    /// assert_eq!(log.append(1, b"x=1")?, 1);
    /// assert_eq!(log.append(2, b"y=2")?, 2);
    /// assert_eq!(log.entry(2).unwrap().data, b"y=2");
    /// log.truncate_after(1);
    /// assert_eq!((log.last_index(), log.last_term()), (1, 1));
    /// log.compact(1, 1); // a snapshot covers entry 1
    /// assert_eq!((log.first_index(), log.term(1), log.entry(1)), (2, Some(1), None));
    /// # Ok::<(), consensio::raft::LogError>(())
    /// ```
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ArenaLog {
        arena: Vec<u8>,
        slots: Vec<Slot>,
        prefix: Prefix,
        max_entries: usize,
        max_bytes: usize,
    }

    impl ArenaLog {
        /// An empty log holding at most `max_entries` entries and
        /// `max_bytes` bytes of payload.
        #[must_use]
        pub const fn new(max_entries: usize, max_bytes: usize) -> Self {
            ArenaLog {
                arena: Vec::new(),
                slots: Vec::new(),
                prefix: Prefix { index: 0, term: 0 },
                max_entries,
                max_bytes,
            }
        }

        /// Payload bytes held.
        #[must_use]
        pub fn bytes(&self) -> usize {
            self.arena.len()
        }
    }

    impl LogStorage for ArenaLog {
        fn first_index(&self) -> u64 {
            self.prefix.index.saturating_add(1)
        }

        fn last_index(&self) -> u64 {
            self.prefix.index.saturating_add(self.slots.len() as u64)
        }

        fn term(&self, index: u64) -> Option<u64> {
            self.prefix.term_of(&self.slots, index)
        }

        fn entry(&self, index: u64) -> Option<EntryRef<'_>> {
            self.prefix.read(&self.slots, &self.arena, index)
        }

        fn append(&mut self, term: u64, data: &[u8]) -> Result<u64, LogError> {
            if !self.has_room(data.len()) {
                return Err(LogError::Full);
            }
            self.arena.extend_from_slice(data);
            let end = self.arena.len();
            self.slots.push(Slot { term, end });
            Ok(self.last_index())
        }

        fn has_room(&self, len: usize) -> bool {
            self.last_index() < super::MAX_INDEX
                && self.slots.len() < self.max_entries
                && self
                    .arena
                    .len()
                    .checked_add(len)
                    .is_some_and(|end| end <= self.max_bytes)
        }

        fn truncate_after(&mut self, index: u64) {
            let keep = self.prefix.kept(self.slots.len(), index);
            self.slots.truncate(keep);
            let end = keep
                .checked_sub(1)
                .and_then(|k| self.slots.get(k))
                .map_or(0, |s| s.end);
            self.arena.truncate(end);
        }

        fn compact(&mut self, index: u64, term: u64) {
            let Some((prefix, drop)) = self.prefix.compact(&self.slots, index, term) else {
                return;
            };
            let cut = drop
                .checked_sub(1)
                .and_then(|k| self.slots.get(k))
                .map_or(0, |s| s.end);
            self.slots.drain(..drop);
            self.arena.drain(..cut);
            for slot in &mut self.slots {
                slot.end -= cut;
            }
            self.prefix = prefix;
        }
    }
}

/// A log in fixed arrays: at most `ENTRIES` entries and `BYTES` bytes of
/// payload, no heap. Large: keep it in a `static` or a long-lived struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedLog<const ENTRIES: usize, const BYTES: usize> {
    arena: [u8; BYTES],
    used: usize,
    slots: [Slot; ENTRIES],
    len: usize,
    prefix: Prefix,
}

impl<const ENTRIES: usize, const BYTES: usize> FixedLog<ENTRIES, BYTES> {
    /// An empty log.
    #[must_use]
    pub const fn new() -> Self {
        FixedLog {
            arena: [0; BYTES],
            used: 0,
            slots: [Slot { term: 0, end: 0 }; ENTRIES],
            len: 0,
            prefix: Prefix { index: 0, term: 0 },
        }
    }

    fn slots(&self) -> &[Slot] {
        self.slots.get(..self.len).unwrap_or_default()
    }
}

impl<const ENTRIES: usize, const BYTES: usize> Default for FixedLog<ENTRIES, BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const ENTRIES: usize, const BYTES: usize> LogStorage for FixedLog<ENTRIES, BYTES> {
    fn first_index(&self) -> u64 {
        self.prefix.index.saturating_add(1)
    }

    fn last_index(&self) -> u64 {
        self.prefix.index.saturating_add(self.len as u64)
    }

    fn term(&self, index: u64) -> Option<u64> {
        self.prefix.term_of(self.slots(), index)
    }

    fn entry(&self, index: u64) -> Option<EntryRef<'_>> {
        self.prefix.read(
            self.slots(),
            self.arena.get(..self.used).unwrap_or_default(),
            index,
        )
    }

    fn append(&mut self, term: u64, data: &[u8]) -> Result<u64, LogError> {
        if !self.has_room(data.len()) {
            return Err(LogError::Full);
        }
        let end = self.used.checked_add(data.len()).ok_or(LogError::Full)?;
        let dest = self.arena.get_mut(self.used..end).ok_or(LogError::Full)?;
        let slot = self.slots.get_mut(self.len).ok_or(LogError::Full)?;
        dest.copy_from_slice(data);
        *slot = Slot { term, end };
        self.used = end;
        self.len += 1;
        Ok(self.last_index())
    }

    fn has_room(&self, len: usize) -> bool {
        self.last_index() < MAX_INDEX
            && self.len < ENTRIES
            && self.used.checked_add(len).is_some_and(|end| end <= BYTES)
    }

    fn truncate_after(&mut self, index: u64) {
        self.len = self.prefix.kept(self.len, index);
        self.used = self
            .len
            .checked_sub(1)
            .and_then(|k| self.slots.get(k))
            .map_or(0, |s| s.end);
    }

    fn compact(&mut self, index: u64, term: u64) {
        let Some((prefix, drop)) = self.prefix.compact(self.slots(), index, term) else {
            return;
        };
        let cut = drop
            .checked_sub(1)
            .and_then(|k| self.slots.get(k))
            .map_or(0, |s| s.end);
        self.arena.copy_within(cut..self.used, 0);
        self.slots.copy_within(drop..self.len, 0);
        self.len -= drop;
        self.used -= cut;
        for slot in self.slots.iter_mut().take(self.len) {
            slot.end -= cut;
        }
        self.prefix = prefix;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The behaviour every log must have, checked on any implementation.
    fn behaves_like_a_raft_log(log: &mut impl LogStorage) {
        assert_eq!(
            (log.first_index(), log.last_index(), log.last_term()),
            (1, 0, 0)
        );
        assert_eq!(log.term(0), Some(0));
        assert_eq!(log.term(1), None);
        assert_eq!(log.append(1, b"a"), Ok(1));
        assert_eq!(log.append(1, b""), Ok(2));
        assert_eq!(log.append(3, b"ccc"), Ok(3));
        assert_eq!(
            log.entry(3),
            Some(EntryRef {
                index: 3,
                term: 3,
                data: b"ccc"
            })
        );
        assert_eq!(log.entry(2).unwrap().data, b"");
        assert_eq!(log.entry(0), None);
        assert_eq!(log.entry(4), None);
        assert!(log.is_up_to_date(3, 3) && log.is_up_to_date(1, 4));
        assert!(
            !log.is_up_to_date(9, 2),
            "a lower last term loses whatever its length"
        );
        log.truncate_after(1);
        assert_eq!((log.last_index(), log.last_term()), (1, 1));
        assert_eq!(log.append(4, b"dd"), Ok(2));
        assert_eq!(log.entry(2).unwrap().data, b"dd");
        log.truncate_after(10);
        assert_eq!(log.last_index(), 2);
        log.truncate_after(0);
        assert_eq!(log.last_index(), 0);
        // Compaction (§7): a snapshot covering 1..=2 keeps what follows.
        for (term, data) in [(1, &b"a"[..]), (2, b"bb"), (2, b"c"), (3, b"dd")] {
            log.append(term, data).unwrap();
        }
        log.compact(2, 2);
        assert_eq!((log.first_index(), log.last_index()), (3, 4));
        assert_eq!(
            (log.term(2), log.term(1), log.entry(2)),
            (Some(2), None, None)
        );
        assert_eq!(log.entry(3).unwrap().data, b"c");
        assert_eq!(log.entry(4).unwrap().data, b"dd");
        assert!(log.is_up_to_date(4, 3));
        log.compact(1, 1);
        assert_eq!(log.first_index(), 3, "compacted further already");
        log.truncate_after(3);
        assert_eq!(log.append(4, b"e"), Ok(4));
        // A snapshot whose last entry the log holds with another term, or
        // beyond the log, replaces the whole log.
        log.compact(4, 9);
        assert_eq!(
            (log.first_index(), log.last_index(), log.last_term()),
            (5, 4, 9)
        );
        log.compact(7, 9);
        assert_eq!(
            (log.first_index(), log.last_index(), log.last_term()),
            (8, 7, 9)
        );
        assert_eq!(log.append(9, b"f"), Ok(8));
        assert_eq!(log.entry(8).unwrap().data, b"f");
        log.truncate_after(2);
        assert_eq!(
            (log.last_index(), log.term(7)),
            (7, Some(9)),
            "the prefix stays"
        );
    }

    /// No index arithmetic overflows: a log stops at `MAX_INDEX`, even
    /// after a snapshot at the very end of the index space.
    #[test]
    fn a_log_is_full_at_the_last_index() {
        fn at_the_end(log: &mut impl LogStorage) {
            log.compact(MAX_INDEX - 1, 1);
            assert_eq!(log.append(1, b"a"), Ok(MAX_INDEX));
            assert!(!log.has_room(0));
            assert_eq!(log.append(1, b"b"), Err(LogError::Full));
            assert_eq!(log.last_index(), MAX_INDEX);
            log.compact(u64::MAX, 1);
            assert!(!log.has_room(0));
            assert_eq!(log.append(1, b"c"), Err(LogError::Full));
        }
        at_the_end(&mut ArenaLog::new(8, 64));
        at_the_end(&mut FixedLog::<8, 64>::new());
    }

    #[test]
    fn arena_log_behaves_like_a_raft_log_and_is_bounded() {
        behaves_like_a_raft_log(&mut ArenaLog::new(10, 100));
        let mut log = ArenaLog::new(2, 5);
        assert_eq!(log.append(1, b"abc"), Ok(1));
        assert_eq!(log.append(1, b"def"), Err(LogError::Full), "bytes bound");
        assert_eq!(log.append(1, b"de"), Ok(2));
        assert_eq!(log.append(1, b""), Err(LogError::Full), "entries bound");
        assert_eq!((log.last_index(), log.bytes()), (2, 5));
        log.compact(1, 1);
        assert_eq!(log.append(1, b"xyz"), Ok(3), "compaction frees room");
        assert_eq!(log.bytes(), 5);
    }

    #[test]
    fn fixed_log_behaves_like_a_raft_log_and_is_bounded() {
        behaves_like_a_raft_log(&mut FixedLog::<10, 100>::new());
        let mut log = FixedLog::<2, 5>::new();
        assert_eq!(log.append(1, b"abc"), Ok(1));
        assert_eq!(log.append(1, b"def"), Err(LogError::Full));
        assert_eq!(log.append(1, b"de"), Ok(2));
        assert_eq!(log.append(1, b""), Err(LogError::Full));
        assert_eq!(log.entry(1).unwrap().data, b"abc");
        log.compact(1, 1);
        assert_eq!(log.append(1, b"xyz"), Ok(3), "compaction frees room");
        assert_eq!(log.entry(2).unwrap().data, b"de");
    }

    #[test]
    fn both_logs_agree_with_a_vector_model_on_random_operations() {
        let mut rng = crate::Rng::seed_from_u64(9);
        let mut arena = ArenaLog::new(64, 512);
        let mut fixed = FixedLog::<64, 512>::new();
        // The model: the snapshot's last (index, term), then the entries.
        let mut base = (0u64, 0u64);
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        for _ in 0..5_000 {
            let roll = rng.below(10);
            if roll < 7 {
                let term = rng.between(1, 5);
                let data: Vec<u8> = (0..rng.below(20)).map(|i| i as u8).collect();
                let room = arena.has_room(data.len());
                assert_eq!(room, fixed.has_room(data.len()));
                let a = arena.append(term, &data);
                assert_eq!(a.is_ok(), room, "has_room says what append does");
                assert_eq!(a, fixed.append(term, &data));
                if a.is_ok() {
                    model.push((term, data));
                }
            } else if roll < 9 {
                let at = base.0 + rng.below(model.len() as u64 + 2);
                arena.truncate_after(at);
                fixed.truncate_after(at);
                model.truncate((at - base.0) as usize);
            } else {
                // At or after the prefix, up to a few past the end, with the
                // held term or another.
                let at = base.0 + rng.below(model.len() as u64 + 3);
                let k = (at - base.0) as usize;
                let held = match k.checked_sub(1) {
                    None => Some(base.1),
                    Some(k) => model.get(k).map(|(t, _)| *t),
                };
                let term = if rng.chance(0.8) {
                    held.unwrap_or(5)
                } else {
                    rng.between(1, 5)
                };
                arena.compact(at, term);
                fixed.compact(at, term);
                if held == Some(term) {
                    model.drain(..k);
                } else {
                    model.clear();
                }
                base = (at, term);
            }
            let want_last = base.0 + model.len() as u64;
            assert_eq!(arena.last_index(), want_last);
            assert_eq!(fixed.last_index(), want_last);
            assert_eq!(arena.first_index(), base.0 + 1);
            assert_eq!(fixed.first_index(), base.0 + 1);
            assert_eq!(arena.term(base.0), Some(base.1));
            assert_eq!(fixed.term(base.0), Some(base.1));
            for (i, (term, data)) in model.iter().enumerate() {
                let index = base.0 + i as u64 + 1;
                let want = Some(EntryRef {
                    index,
                    term: *term,
                    data,
                });
                assert_eq!(arena.entry(index), want);
                assert_eq!(fixed.entry(index), want);
            }
        }
    }
}
