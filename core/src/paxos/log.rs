//! The slots a node holds, by number: a ring of optional slots from the
//! first one kept, so lookups and in-order walks are index arithmetic
//! rather than tree searches, and dropping a prefix is popping the front.

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

/// Slots `base..` with gaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SlotLog {
    /// The first slot kept (1 until a prefix is dropped).
    base: u64,
    /// Slot `base + i` at index `i`.
    slots: VecDeque<Option<Slot>>,
}

impl Default for SlotLog {
    fn default() -> Self {
        SlotLog {
            base: 1,
            slots: VecDeque::new(),
        }
    }
}

impl SlotLog {
    fn index(&self, slot: u64) -> Option<usize> {
        usize::try_from(slot.checked_sub(self.base)?).ok()
    }

    /// The first slot kept: every slot below it was dropped.
    pub(crate) const fn base(&self) -> u64 {
        self.base
    }

    /// Drops every slot below `slot`.
    pub(crate) fn drop_below(&mut self, slot: u64) {
        while self.base < slot {
            if self.slots.pop_front().is_none() {
                self.base = slot;
                return;
            }
            self.base += 1;
        }
    }

    pub(crate) fn get(&self, slot: u64) -> Option<&Slot> {
        self.slots.get(self.index(slot)?)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, slot: u64) -> Option<&mut Slot> {
        let i = self.index(slot)?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// Puts `s` at `slot` (a slot below the base is dropped at once;
    /// callers bound the slot by the log's size).
    pub(crate) fn insert(&mut self, slot: u64, s: Slot) {
        let Some(i) = self.index(slot) else { return };
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        if let Some(place) = self.slots.get_mut(i) {
            *place = Some(s);
        }
    }

    /// The highest slot held, or the one before the base.
    pub(crate) fn last(&self) -> u64 {
        self.base + self.slots.len() as u64 - 1
    }

    /// The slots held from `from` on, in order.
    pub(crate) fn from(&self, from: u64) -> impl Iterator<Item = (u64, &Slot)> {
        let base = self.base;
        let skip = self.index(from.max(base)).unwrap_or(usize::MAX);
        self.slots
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(move |(i, s)| s.as_ref().map(|s| (base + i as u64, s)))
    }

    /// The slots held in `from..to`, in order, to change.
    pub(crate) fn between_mut(
        &mut self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = (u64, &mut Slot)> {
        let base = self.base;
        let from = from.max(base);
        let skip = self.index(from).unwrap_or(usize::MAX);
        let take = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
        self.slots
            .iter_mut()
            .enumerate()
            .skip(skip)
            .take(take)
            .filter_map(move |(i, s)| s.as_mut().map(|s| (base + i as u64, s)))
    }
}
