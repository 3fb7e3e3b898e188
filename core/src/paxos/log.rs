//! The slots a node holds, by number: a ring of optional slots from the
//! first one kept, so lookups and in-order walks are index arithmetic
//! rather than tree searches, and dropping a prefix is popping the front.
//!
//! The values live in one byte buffer (an arena, as Raft's `ArenaLog`
//! keeps its payloads): holding a value is one copy and no allocation, so
//! the node can hand the value it was given to a record or a message and
//! keep its own copy here. A value replaced (a higher ballot's at the same
//! slot) or dropped leaves its bytes behind until the buffer is rebuilt,
//! which happens when the dead bytes outweigh the live ones: the buffer
//! stays within twice the live bytes (plus [`SLACK`]), and rebuilding costs
//! no more than the bytes written since the last rebuild.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::Ballot;

/// Dead bytes tolerated before a rebuild is considered, so small logs do
/// not rebuild at every drop.
const SLACK: usize = 4 << 10;

/// One slot: the ballot its value was accepted under (or learned with)
/// and whether it is known to be chosen; at the leader, who accepted it
/// under the leader's ballot. The value is in the log's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) ballot: Ballot,
    pub(crate) chosen: bool,
    /// Leader: the members (bit per member index) that accepted it under
    /// the leader's ballot; 0 otherwise.
    pub(crate) acks: u64,
    /// Where the value starts in the buffer, and its length.
    at: usize,
    len: usize,
}

/// A slot as read: its state and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotRef<'a> {
    pub(crate) ballot: Ballot,
    pub(crate) chosen: bool,
    pub(crate) acks: u64,
    pub(crate) value: &'a [u8],
}

/// Slots `base..` with gaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SlotLog {
    /// The first slot kept (1 until a prefix is dropped).
    base: u64,
    /// Slot `base + i` at index `i`.
    slots: VecDeque<Option<Slot>>,
    /// The values of the slots, and bytes no slot refers to any more.
    bytes: Vec<u8>,
    /// The value bytes of the slots held.
    live: usize,
}

impl Default for SlotLog {
    fn default() -> Self {
        SlotLog {
            base: 1,
            slots: VecDeque::new(),
            bytes: Vec::new(),
            live: 0,
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

    fn view(&self, s: &Slot) -> SlotRef<'_> {
        SlotRef {
            ballot: s.ballot,
            chosen: s.chosen,
            acks: s.acks,
            value: self.bytes.get(s.at..s.at + s.len).unwrap_or_default(),
        }
    }

    /// Drops every slot below `slot`.
    pub(crate) fn drop_below(&mut self, slot: u64) {
        while self.base < slot {
            match self.slots.pop_front() {
                None => {
                    self.base = slot;
                    break;
                }
                Some(s) => {
                    self.live -= s.map_or(0, |s| s.len);
                    self.base += 1;
                }
            }
        }
        self.tidy();
    }

    pub(crate) fn get(&self, slot: u64) -> Option<SlotRef<'_>> {
        let s = self.slots.get(self.index(slot)?)?.as_ref()?;
        Some(self.view(s))
    }

    /// The state of `slot`, to change (its value stays).
    pub(crate) fn get_mut(&mut self, slot: u64) -> Option<&mut Slot> {
        let i = self.index(slot)?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// Puts `value` at `slot` with this state, replacing what was there
    /// (a slot below the base is dropped at once; callers bound the slot
    /// by the log's size).
    pub(crate) fn insert(
        &mut self,
        slot: u64,
        ballot: Ballot,
        value: &[u8],
        chosen: bool,
        acks: u64,
    ) {
        let Some(i) = self.index(slot) else { return };
        let s = Slot {
            ballot,
            chosen,
            acks,
            at: self.bytes.len(),
            len: value.len(),
        };
        self.bytes.extend_from_slice(value);
        self.live += value.len();
        if i == self.slots.len() {
            // The common case: the next slot.
            self.slots.push_back(Some(s));
        } else {
            if i > self.slots.len() {
                self.slots.resize(i + 1, None);
            }
            if let Some(place) = self.slots.get_mut(i) {
                if let Some(old) = place.replace(s) {
                    self.live -= old.len;
                }
            }
        }
        self.tidy();
    }

    /// Rebuilds the buffer with the live values only, once the dead bytes
    /// outweigh them.
    fn tidy(&mut self) {
        if self.slots.is_empty() {
            self.bytes.clear();
            self.live = 0;
            return;
        }
        if self.bytes.len() <= 2 * self.live + SLACK {
            return;
        }
        let mut bytes = Vec::with_capacity(2 * self.live + SLACK);
        for s in self.slots.iter_mut().flatten() {
            let value = self.bytes.get(s.at..s.at + s.len).unwrap_or_default();
            s.at = bytes.len();
            bytes.extend_from_slice(value);
        }
        self.bytes = bytes;
    }

    /// The highest slot held, or the one before the base.
    pub(crate) fn last(&self) -> u64 {
        self.base + self.slots.len() as u64 - 1
    }

    /// The slots held from `from` on, in order.
    pub(crate) fn from(&self, from: u64) -> impl Iterator<Item = (u64, SlotRef<'_>)> {
        let base = self.base;
        let skip = self.index(from.max(base)).unwrap_or(usize::MAX);
        self.slots
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(move |(i, s)| s.as_ref().map(|s| (base + i as u64, self.view(s))))
    }

    /// The state of the slots held in `from..to`, in order, to change.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::NodeId;

    fn b(round: u64) -> Ballot {
        Ballot {
            round,
            node: NodeId(1),
        }
    }

    #[test]
    fn values_are_read_back_across_replacements_gaps_drops_and_rebuilds() {
        let mut log = SlotLog::default();
        let mut model: alloc::collections::BTreeMap<u64, Vec<u8>> = Default::default();
        for round in 0..200u64 {
            for slot in round * 10 + 1..=round * 10 + 15 {
                // Every slot written, some twice (a higher ballot), some
                // out of order.
                let value = alloc::vec![(slot % 251) as u8; (slot % 700) as usize];
                log.insert(slot, b(round), &value, false, 0);
                model.insert(slot, value);
            }
            let keep = round * 10;
            log.drop_below(keep);
            model.retain(|&s, _| s >= keep);
            for (&slot, value) in &model {
                assert_eq!(log.get(slot).map(|s| s.value), Some(value.as_slice()));
            }
            let live: usize = model.values().map(Vec::len).sum();
            assert_eq!(log.live, live);
            assert!(
                log.bytes.len() <= 2 * live + SLACK + 700,
                "{} bytes for {live}",
                log.bytes.len()
            );
        }
        assert_eq!(log.get(1), None);
    }
}
