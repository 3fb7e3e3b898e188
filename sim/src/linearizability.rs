//! A linearizability checker for key-value register histories.
//!
//! Wing & Gong's search (1993) with Lowe's optimisations (2017), as in
//! Porcupine and Knossos: the history becomes a list of call and return
//! entries in time order; the search linearizes a call whose operation is
//! legal in the current state, removing it and its return from the list, and
//! backtracks when it meets a return whose call has not been linearized.
//! Lowe's cache of (set of linearized operations, state) pairs prunes every
//! configuration already explored. The register model is P-compositional, so
//! the history is split by key and each key is checked on its own — the
//! difference between exponential and fast on real histories.
//!
//! An operation that never returned (the client gave up) may or may not have
//! taken effect: it returns "at infinity", so the search may place it after
//! everything else, which is the same as never.

use std::collections::{BTreeMap, HashSet};

/// What a client asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpInput {
    /// Read the key.
    Get,
    /// Write the key.
    Put(Vec<u8>),
    /// Write `new` if the key holds `expected` (`None`: absent).
    Cas {
        /// The value required.
        expected: Option<Vec<u8>>,
        /// The value written.
        new: Vec<u8>,
    },
}

/// What the client was told.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpOutput {
    /// A read's result (`None`: absent).
    Value(Option<Vec<u8>>),
    /// A write completed.
    Ok,
    /// A compare-and-set's outcome.
    Swapped(bool),
    /// No answer (timed out); the operation may or may not have happened.
    Unknown,
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The client (for reports only).
    pub client: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The request.
    pub input: OpInput,
    /// The response.
    pub output: OpOutput,
    /// When the request was issued.
    pub call_ms: u64,
    /// When the response arrived (`None`: it never did).
    pub return_ms: Option<u64>,
}

/// A history that is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotLinearizable {
    /// The key whose sub-history has no linearization.
    pub key: Vec<u8>,
    /// How many operations that sub-history has.
    pub operations: usize,
}

impl std::fmt::Display for NotLinearizable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} operations on key {:?} have no linearization",
            self.operations,
            String::from_utf8_lossy(&self.key)
        )
    }
}

/// Applies `op` to a register holding `state`: the next state if the
/// operation's recorded output is possible there.
fn step(state: &Option<Vec<u8>>, op: &Operation) -> Option<Option<Vec<u8>>> {
    match (&op.input, &op.output) {
        (OpInput::Get, OpOutput::Value(v)) => (v == state).then(|| state.clone()),
        (OpInput::Get, OpOutput::Unknown) => Some(state.clone()),
        (OpInput::Put(v), OpOutput::Ok | OpOutput::Unknown) => Some(Some(v.clone())),
        (OpInput::Cas { expected, new }, OpOutput::Swapped(true)) => {
            (expected == state).then(|| Some(new.clone()))
        }
        (OpInput::Cas { expected, .. }, OpOutput::Swapped(false)) => {
            (expected != state).then(|| state.clone())
        }
        (OpInput::Cas { expected, new }, OpOutput::Unknown) => Some(if expected == state {
            Some(new.clone())
        } else {
            state.clone()
        }),
        _ => None,
    }
}

/// Checks `history` against a key-value register that starts empty.
///
/// # Errors
/// The first key (in key order) whose operations have no linearization.
pub fn check(history: &[Operation]) -> Result<(), NotLinearizable> {
    let mut by_key: BTreeMap<&[u8], Vec<&Operation>> = BTreeMap::new();
    for op in history {
        by_key.entry(&op.key).or_default().push(op);
    }
    for (key, ops) in by_key {
        if !check_key(&ops) {
            return Err(NotLinearizable {
                key: key.to_vec(),
                operations: ops.len(),
            });
        }
    }
    Ok(())
}

/// A fixed-size set of operation indexes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize, on: bool) {
        if let Some(word) = self.0.get_mut(i / 64) {
            if on {
                *word |= 1 << (i % 64);
            } else {
                *word &= !(1 << (i % 64));
            }
        }
    }
}

/// Wing & Gong / Lowe search over one key's operations.
fn check_key(ops: &[&Operation]) -> bool {
    // Entries: (time, is_return, op). Calls sort before returns at equal
    // times, which treats touching operations as concurrent (the lenient,
    // standard choice).
    let mut entries: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        entries.push((op.call_ms, false, i));
        entries.push((op.return_ms.unwrap_or(u64::MAX), true, i));
    }
    entries.sort_unstable();
    // A doubly linked list over the entries, with a head sentinel at n.
    const NONE: usize = usize::MAX;
    let n = entries.len();
    let head = n;
    let mut next: Vec<usize> = (0..=n)
        .map(|i| if i + 1 < n { i + 1 } else { NONE })
        .collect();
    let mut prev: Vec<usize> = (0..=n).map(|i| if i == 0 { head } else { i - 1 }).collect();
    next[head] = if n == 0 { NONE } else { 0 };
    // Where each operation's return entry sits.
    let mut return_at = vec![0usize; ops.len()];
    for (pos, &(_, is_return, op)) in entries.iter().enumerate() {
        if is_return && let Some(slot) = return_at.get_mut(op) {
            *slot = pos;
        }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != NONE {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != NONE {
            prev[q] = e;
        }
    };

    let mut linearized = Bits::new(ops.len());
    let mut state: Option<Vec<u8>> = None;
    let mut cache: HashSet<(Bits, Option<Vec<u8>>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<Vec<u8>>)> = Vec::new();
    let mut entry = next[head];
    loop {
        if next[head] == NONE {
            return true;
        }
        if entry == NONE {
            // Walked past the end without a return: cannot happen, since
            // every call's return follows it; treat as failure.
            return false;
        }
        let (_, is_return, op) = entries[entry];
        if !is_return {
            if let Some(new_state) = step(&state, ops[op]) {
                let mut candidate = linearized.clone();
                candidate.set(op, true);
                if cache.insert((candidate.clone(), new_state.clone())) {
                    stack.push((entry, std::mem::replace(&mut state, new_state)));
                    linearized = candidate;
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, return_at[op]);
                    entry = next[head];
                    continue;
                }
            }
            entry = next[entry];
        } else {
            // A return whose call is not linearized: backtrack.
            let Some((call, previous)) = stack.pop() else {
                return false;
            };
            let (_, _, op) = entries[call];
            state = previous;
            linearized.set(op, false);
            relink(&mut next, &mut prev, return_at[op]);
            relink(&mut next, &mut prev, call);
            entry = next[call];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        client: u64,
        input: OpInput,
        output: OpOutput,
        call_ms: u64,
        return_ms: Option<u64>,
    ) -> Operation {
        Operation {
            client,
            key: b"k".to_vec(),
            input,
            output,
            call_ms,
            return_ms,
        }
    }
    fn put(v: &str) -> OpInput {
        OpInput::Put(v.as_bytes().to_vec())
    }
    fn got(v: Option<&str>) -> OpOutput {
        OpOutput::Value(v.map(|s| s.as_bytes().to_vec()))
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = [
            op(1, put("a"), OpOutput::Ok, 0, Some(10)),
            op(2, OpInput::Get, got(Some("a")), 20, Some(30)),
            op(1, put("b"), OpOutput::Ok, 40, Some(50)),
            op(2, OpInput::Get, got(Some("b")), 60, Some(70)),
        ];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_not_linearizable() {
        let h = [
            op(1, put("a"), OpOutput::Ok, 0, Some(10)),
            op(1, put("b"), OpOutput::Ok, 20, Some(30)),
            op(2, OpInput::Get, got(Some("a")), 40, Some(50)),
        ];
        let err = check(&h).unwrap_err();
        assert_eq!(err.key, b"k".to_vec());
    }

    #[test]
    fn concurrent_reads_may_see_either_side_of_a_concurrent_write() {
        // The write overlaps both reads: old then new is fine...
        let ok = [
            op(1, put("a"), OpOutput::Ok, 0, Some(5)),
            op(1, put("b"), OpOutput::Ok, 10, Some(100)),
            op(2, OpInput::Get, got(Some("a")), 20, Some(30)),
            op(3, OpInput::Get, got(Some("b")), 40, Some(50)),
        ];
        assert_eq!(check(&ok), Ok(()));
        // ...but new then old is not (reads do not overlap each other).
        let bad = [
            op(1, put("a"), OpOutput::Ok, 0, Some(5)),
            op(1, put("b"), OpOutput::Ok, 10, Some(100)),
            op(2, OpInput::Get, got(Some("b")), 20, Some(30)),
            op(3, OpInput::Get, got(Some("a")), 40, Some(50)),
        ];
        assert!(check(&bad).is_err());
    }

    #[test]
    fn a_write_that_never_returned_may_or_may_not_have_happened() {
        let seen = [
            op(1, put("x"), OpOutput::Unknown, 0, None),
            op(2, OpInput::Get, got(Some("x")), 10, Some(20)),
        ];
        assert_eq!(check(&seen), Ok(()));
        let unseen = [
            op(1, put("x"), OpOutput::Unknown, 0, None),
            op(2, OpInput::Get, got(None), 10, Some(20)),
        ];
        assert_eq!(check(&unseen), Ok(()));
        // But a value nobody wrote cannot be read.
        let invented = [
            op(1, put("x"), OpOutput::Unknown, 0, None),
            op(2, OpInput::Get, got(Some("y")), 10, Some(20)),
        ];
        assert!(check(&invented).is_err());
    }

    #[test]
    fn compare_and_set_outcomes_must_be_consistent() {
        let h = [
            op(1, put("a"), OpOutput::Ok, 0, Some(5)),
            op(
                2,
                OpInput::Cas {
                    expected: Some(b"a".to_vec()),
                    new: b"b".to_vec(),
                },
                OpOutput::Swapped(true),
                10,
                Some(20),
            ),
            op(
                3,
                OpInput::Cas {
                    expected: Some(b"a".to_vec()),
                    new: b"c".to_vec(),
                },
                OpOutput::Swapped(false),
                30,
                Some(40),
            ),
            op(4, OpInput::Get, got(Some("b")), 50, Some(60)),
        ];
        assert_eq!(check(&h), Ok(()));
        let both_won = [
            op(1, put("a"), OpOutput::Ok, 0, Some(5)),
            op(
                2,
                OpInput::Cas {
                    expected: Some(b"a".to_vec()),
                    new: b"b".to_vec(),
                },
                OpOutput::Swapped(true),
                10,
                Some(40),
            ),
            op(
                3,
                OpInput::Cas {
                    expected: Some(b"a".to_vec()),
                    new: b"c".to_vec(),
                },
                OpOutput::Swapped(true),
                10,
                Some(40),
            ),
        ];
        assert!(
            check(&both_won).is_err(),
            "two CAS from the same value cannot both win"
        );
    }

    #[test]
    fn keys_are_checked_independently_and_big_concurrent_histories_are_fast() {
        // 10 keys x 12 fully concurrent writes and a read each: exponential
        // without the cache and partitioning, instant with them.
        let mut h = Vec::new();
        for k in 0..10u8 {
            for c in 0..12u64 {
                h.push(Operation {
                    client: c,
                    key: vec![k],
                    input: OpInput::Put(vec![c as u8]),
                    output: OpOutput::Ok,
                    call_ms: 0,
                    return_ms: Some(100),
                });
            }
            h.push(Operation {
                client: 99,
                key: vec![k],
                input: OpInput::Get,
                output: OpOutput::Value(Some(vec![7])),
                call_ms: 200,
                return_ms: Some(210),
            });
        }
        assert_eq!(check(&h), Ok(()));
        h.push(Operation {
            client: 98,
            key: vec![3],
            input: OpInput::Get,
            output: OpOutput::Value(Some(vec![8])),
            call_ms: 300,
            return_ms: Some(310),
        });
        assert_eq!(check(&h).unwrap_err().key, vec![3]);
    }
}
