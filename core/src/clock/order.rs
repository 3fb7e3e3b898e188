//! Ordering recorded events: a total order by Lamport stamp, and a causal
//! order by vector stamp.
//!
//! [`total_order`] sorts by `(Lamport time, node id)`, Lamport's `⇒`: every
//! node that sorts the same events gets the same sequence, and it never puts
//! an event before one that happened before it.
//!
//! [`causal_order`] produces a linear extension of happened-before from
//! vector stamps: if `a → b`, `a` comes first. It sorts by the number of
//! events a stamp has seen (the sum of its counters), which strictly grows
//! along happened-before, and breaks ties with a fixed lexicographic order,
//! so the result does not depend on the input order.

use core::cmp::Ordering;

use super::{CausalClock, LamportStamp};

/// Sorts `events` into Lamport's total order by the stamp `stamp` returns.
///
/// ```
/// use consensio::NodeId;
/// use consensio::clock::LamportStamp;
/// use consensio::clock::order::total_order;
///
/// let stamp = |time, node| LamportStamp { time, node: NodeId(node) };
/// let mut log = [("c", stamp(2, 1)), ("b", stamp(1, 2)), ("a", stamp(1, 1))];
/// total_order(&mut log, |e| e.1);
/// assert_eq!(log.map(|e| e.0), ["a", "b", "c"]);
/// ```
pub fn total_order<E>(events: &mut [E], stamp: impl Fn(&E) -> LamportStamp) {
    events.sort_unstable_by_key(stamp);
}

/// Sorts `events` into a causal (topological) order by the vector stamp
/// `clock` returns: no event comes after one it happened before. Sorting
/// allocates nothing.
///
/// ```
/// use consensio::clock::DenseVectorClock;
/// use consensio::clock::order::causal_order;
///
/// let at = DenseVectorClock::from_counters;
/// let mut events = [("reply", at([1, 1])), ("other", at([0, 1])), ("ask", at([1, 0]))];
/// causal_order(&mut events, |e| &e.1);
/// // "ask" and "other" are concurrent (fixed tie-break); "reply" saw both.
/// assert_eq!(events.map(|e| e.0), ["other", "ask", "reply"]);
/// ```
pub fn causal_order<E, C: CausalClock>(events: &mut [E], clock: impl Fn(&E) -> &C) {
    events.sort_unstable_by(|a, b| {
        let (a, b) = (clock(a), clock(b));
        match a.event_count().cmp(&b.event_count()) {
            Ordering::Equal => a.canonical_cmp(b),
            unequal => unequal,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DenseVectorClock;

    #[test]
    fn causal_order_respects_a_message_chain() {
        // p0 sends to p1, p1 sends to p2; local events interleave.
        let e = DenseVectorClock::from_counters;
        let mut events = [
            ("p2 receive", e([1, 2, 1])),
            ("p1 send", e([1, 2, 0])),
            ("p2 local", e([0, 0, 1])),
            ("p0 send", e([1, 0, 0])),
            ("p1 receive", e([1, 1, 0])),
        ];
        causal_order(&mut events, |x| &x.1);
        let pos = |name: &str| events.iter().position(|x| x.0 == name).unwrap();
        assert!(pos("p0 send") < pos("p1 receive"));
        assert!(pos("p1 receive") < pos("p1 send"));
        assert!(pos("p1 send") < pos("p2 receive"));
        assert!(pos("p2 local") < pos("p2 receive"));
    }
}
