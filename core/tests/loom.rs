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

/// Answers every command with two events numbered in the order the node
/// produced them (so a reordering or an interleaving would show), refuses
/// command 0 without changing anything, and counts ticks.
#[derive(Debug, Default)]
struct Echo {
    out: VecDeque<Output<Nothing, (), (u32, u32)>>,
    produced: u32,
    ticks: u32,
}

impl Participant for Echo {
    type Message = Nothing;
    type Command = u32;
    type Persist = ();
    /// (command, position in the node's output order)
    type Event = (u32, u32);
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
            Input::Command(0) => return Err(wire::WireError::Malformed),
            Input::Command(c) => {
                for _ in 0..2 {
                    self.produced += 1;
                    self.out.push_back(Output::Event((c, self.produced)));
                }
            }
            Input::Tick => self.ticks += 1,
            Input::Message { .. } => {}
        }
        Ok(())
    }
    fn poll_output(&mut self) -> Option<Output<Nothing, (), (u32, u32)>> {
        self.out.pop_front()
    }
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

fn command_of(output: Output<Nothing, (), (u32, u32)>) -> (u32, u32) {
    match output {
        Output::Event(e) => e,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_shared_participant_gives_each_caller_exactly_its_own_outputs() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(Echo::default()));
        let spawn = |command: u32| {
            let s = shared.clone();
            thread::spawn(move || {
                let (result, outputs) = s.handle_and_drain(Instant::ZERO, Input::Command(command));
                assert!(result.is_ok());
                let commands: Vec<u32> = outputs.into_iter().map(|o| command_of(o).0).collect();
                assert_eq!(commands, [command, command]);
                let (_, none) = s.handle_and_drain(Instant::ZERO, Input::Tick);
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

/// Two threads each feed an input and drain it one output at a time,
/// "persisting" each output to a shared log as the C and Python hosts do;
/// a third thread only polls. Every output reaches the thread that caused
/// it, the observer gets nothing, and the shared log is in the node's own
/// order: the turn keeps one thread's drain from overtaking another's.
#[test]
fn threads_take_turns_so_outputs_are_handled_in_the_nodes_order() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(Echo::default()));
        let log = Arc::new(loom::sync::Mutex::new(Vec::new()));
        let spawn = |command: u32| {
            let (s, log) = (shared.clone(), log.clone());
            thread::spawn(move || {
                s.handle_input(Instant::ZERO, Input::Command(command))
                    .unwrap();
                let mut mine = Vec::new();
                while let Some(output) = s.poll_output() {
                    let (c, position) = command_of(output);
                    mine.push(c);
                    log.lock().unwrap().push(position);
                }
                assert_eq!(mine, [command, command]);
            })
        };
        let a = spawn(1);
        let b = spawn(2);
        let s = shared.clone();
        let observer = thread::spawn(move || assert!(s.poll_output().is_none()));
        a.join().unwrap();
        b.join().unwrap();
        observer.join().unwrap();
        assert_eq!(*log.lock().unwrap(), [1, 2, 3, 4]);
    });
}

/// A refused input that took the turn gives it back: the thread that was
/// refused never polls, and the other thread must still get its turn
/// (loom reports a deadlock otherwise).
#[test]
fn a_refused_input_gives_the_turn_back() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(Echo::default()));
        let s = shared.clone();
        let refused = thread::spawn(move || {
            assert!(s.handle_input(Instant::ZERO, Input::Command(0)).is_err());
        });
        let s = shared.clone();
        let accepted = thread::spawn(move || {
            s.handle_input(Instant::ZERO, Input::Command(7)).unwrap();
            let drained: Vec<_> = core::iter::from_fn(|| s.poll_output()).collect();
            assert_eq!(drained.len(), 2);
        });
        refused.join().unwrap();
        accepted.join().unwrap();
        assert_eq!(shared.with(|e| e.produced), 2);
    });
}
