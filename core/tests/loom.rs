//! Model checking of the pieces threads share, over every interleaving.
//!
//! Run with: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p consensio
//! --features std --test loom --release --target-dir target/loom` (the test
//! command does exactly this).
#![cfg(loom)]

use std::collections::VecDeque;

use consensio::clock::{AtomicHybridClock, AtomicLamportClock, HlcTimestamp, LamportStamp};
use consensio::shared::Shared;
use consensio::{Input, Instant, NodeId, Output, Participant, wire};
use loom::sync::Arc;
use loom::thread;

#[test]
fn lamport_stamps_from_racing_threads_are_unique_and_increase_per_thread() {
    loom::model(|| {
        let clock = Arc::new(AtomicLamportClock::new(NodeId(1)));
        let spawn = |remote: Option<u64>| {
            let c = clock.clone();
            thread::spawn(move || {
                let first = c.tick().unwrap();
                let second = match remote {
                    Some(time) => c
                        .receive(LamportStamp {
                            time,
                            node: NodeId(2),
                        })
                        .unwrap(),
                    None => c.tick().unwrap(),
                };
                assert!(first < second);
                [first.time, second.time]
            })
        };
        let a = spawn(None);
        let b = spawn(Some(5));
        let mut all: Vec<u64> = a
            .join()
            .unwrap()
            .into_iter()
            .chain(b.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4, "no two events share a stamp");
        assert!(clock.time() >= 6, "the receive moved past the remote time");
    });
}

#[test]
fn hybrid_timestamps_from_racing_threads_are_unique_and_increase_per_thread() {
    loom::model(|| {
        let clock = Arc::new(AtomicHybridClock::new(1_000));
        let spawn = |pt: u64, remote: Option<HlcTimestamp>| {
            let c = clock.clone();
            thread::spawn(move || {
                let now = Instant::from_millis(pt);
                let first = c.now(now).unwrap();
                let second = match remote {
                    Some(r) => c.receive(now, r).unwrap(),
                    None => c.now(now).unwrap(),
                };
                assert!(first < second);
                [first, second]
            })
        };
        let a = spawn(100, None);
        let b = spawn(
            90,
            Some(HlcTimestamp {
                wall_ms: 100,
                logical: 7,
            }),
        );
        let mut all: Vec<HlcTimestamp> = a
            .join()
            .unwrap()
            .into_iter()
            .chain(b.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4);
    });
}

/// Echo exchanges no messages; this is its (never sent) message type.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Nothing;

impl wire::WireMessage for Nothing {
    const KIND: u8 = wire::kind::EXAMPLE;
}

/// Echoes every command as two events, and counts ticks.
#[derive(Debug)]
struct Echo {
    out: VecDeque<Output<Nothing, (), u32>>,
    ticks: u32,
}

impl Participant for Echo {
    type Message = Nothing;
    type Command = u32;
    type Persist = ();
    type Event = u32;
    type Error = wire::WireError;
    fn id(&self) -> NodeId {
        NodeId(1)
    }
    fn handle_input(
        &mut self,
        _: Instant,
        input: Input<Nothing, u32>,
    ) -> Result<(), wire::WireError> {
        match input {
            Input::Command(c) => {
                // Two outputs per input, so interleaving would show.
                self.out.push_back(Output::Event(c));
                self.out.push_back(Output::Event(c + 1_000));
            }
            Input::Tick => self.ticks += 1,
            Input::Message { .. } => {}
        }
        Ok(())
    }
    fn poll_output(&mut self) -> Option<Output<Nothing, (), u32>> {
        self.out.pop_front()
    }
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn a_shared_participant_gives_each_caller_exactly_its_own_outputs() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(Echo {
            out: VecDeque::new(),
            ticks: 0,
        }));
        let spawn = |command: u32| {
            let s = shared.clone();
            thread::spawn(move || {
                let (result, outputs) = s.step(Instant::ZERO, Input::Command(command));
                assert!(result.is_ok());
                assert_eq!(
                    outputs,
                    vec![Output::Event(command), Output::Event(command + 1_000)]
                );
                let (_, none) = s.step(Instant::ZERO, Input::Tick);
                assert!(none.is_empty());
            })
        };
        let a = spawn(1);
        let b = spawn(2);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(shared.with(|e| e.ticks), 2);
    });
}
