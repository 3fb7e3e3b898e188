//! The slots a node holds, by number: a ring of optional slots from slot 1
//! (the log is not compacted yet), so lookups and in-order walks are
//! index arithmetic rather than tree searches.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::Ballot;

/// One slot: the value accepted (or learned) and whether it is known to be
/// chosen; at the leader, who accepted it under the leader's ballot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) ballot: Ballot,
    pub(crate) value: Vec<u8>,
    pub(crate) chosen: bool,
    /// Leader: the members (bit per member index) that accepted it under
    /// the leader's ballot; 0 otherwise.
    pub(crate) acks: u64,
}

/// Slots `1..` with gaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SlotLog {
    /// Slot `i + 1` at index `i`.
    slots: VecDeque<Option<Slot>>,
}

impl SlotLog {
    fn index(slot: u64) -> Option<usize> {
        usize::try_from(slot.checked_sub(1)?).ok()
    }

    pub(crate) fn get(&self, slot: u64) -> Option<&Slot> {
        self.slots.get(Self::index(slot)?)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, slot: u64) -> Option<&mut Slot> {
        self.slots.get_mut(Self::index(slot)?)?.as_mut()
    }

    /// Puts `s` at `slot` (at least 1; callers bound it by the log's size).
    pub(crate) fn insert(&mut self, slot: u64, s: Slot) {
        let Some(i) = Self::index(slot) else { return };
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        if let Some(place) = self.slots.get_mut(i) {
            *place = Some(s);
        }
    }

    /// The highest slot held (0: none).
    pub(crate) fn last(&self) -> u64 {
        self.slots.len() as u64
    }

    /// The slots held from `from` on, in order.
    pub(crate) fn from(&self, from: u64) -> impl Iterator<Item = (u64, &Slot)> {
        let skip = Self::index(from.max(1)).unwrap_or(usize::MAX);
        self.slots
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as u64 + 1, s)))
    }

    /// The slots held in `from..to`, in order, to change.
    pub(crate) fn between_mut(
        &mut self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = (u64, &mut Slot)> {
        let skip = Self::index(from.max(1)).unwrap_or(usize::MAX);
        let take = usize::try_from(to.saturating_sub(from.max(1))).unwrap_or(usize::MAX);
        self.slots
            .iter_mut()
            .enumerate()
            .skip(skip)
            .take(take)
            .filter_map(|(i, s)| s.as_mut().map(|s| (i as u64 + 1, s)))
    }
}
