//! A participant shared by threads.
//!
//! Core is single-threaded by design. When a host drives one node from
//! several threads (a C program with a receive thread, a timer thread and
//! client threads; a Python service with a thread pool), [`Shared`] is the
//! handle they share. The C and Python surfaces wrap every participant in
//! one, so their handles may be used from any thread.
//!
//! # Turns
//!
//! Handing each caller "its" outputs is not enough: a node's outputs are
//! ordered, and the order matters across inputs. A Raft node that grants a
//! vote (persist term 5) and then starts an election (persist term 6) is
//! broken if the second record reaches the disk first, and committed
//! entries must be applied in order whichever input committed them. So a
//! thread that feeds an input takes the node's **turn** and keeps it until
//! it has drained the outputs: [`handle_input`](Shared::handle_input) takes
//! the turn (waiting while another thread holds it), and
//! [`poll_output`](Shared::poll_output) gives the holder the outputs one at
//! a time and gives the turn back when it returns `None`. Whatever the
//! holder does with an output before polling the next one (an fsync, a
//! send, applying an entry) therefore happens in the node's own order, as
//! if one thread drove it.
//!
//! - A thread may feed several inputs before draining; it keeps the turn.
//! - [`poll_output`](Shared::poll_output) from a thread that does not hold
//!   the turn returns `None` at once, without waiting and without taking
//!   anything from the holder. With no holder, it takes the turn (for
//!   outputs the participant had when it was wrapped).
//! - A refused input changes nothing (the [`Participant`] contract), so if
//!   it was the input that took the turn, the turn is given back.
//! - Reading state ([`with`](Shared::with),
//!   [`next_deadline`](Shared::next_deadline)) does not need the turn, nor
//!   does a change that queues no output ([`with_mut`](Shared::with_mut),
//!   a setting). A participant's own command outside `handle_input` that
//!   queues outputs ([`act`](Shared::act), a Raft node's `compact`) takes
//!   the turn as an input does.
//! - [`handle_and_drain`](Shared::handle_and_drain) is the input and the whole drain in one call.
//! - Time never goes backwards through a `Shared`: a thread that read its
//!   clock and then waited for the turn may carry an older `now` than an
//!   input already fed, so each input is fed at the later of its own `now`
//!   and the latest one fed (the participant contract asks for monotonic
//!   time).
//!
//! The one rule for hosts: **a thread that feeds an input polls until
//! `None`** before it waits on anything another thread of the same node
//! does (and before it hands the node to another thread). The loom tests
//! (`core/tests/loom.rs`) check every interleaving of the real code.
//!
//! # Group commit
//!
//! The turn orders the outputs; it does not make a thread fsync inside it.
//! The contract asks only that a record be durable before the host acts on
//! any output polled after it, so with threads one fsync can cover the
//! records of many inputs:
//!
//! 1. Under the turn, for each output polled with
//!    [`poll_counted`](Shared::poll_counted): *write* a record to the file
//!    (no fsync); keep a send with its record count; queue an event with
//!    its count for the one thread that applies events.
//! 2. After the poll that returns `None` (the turn is given back), fsync,
//!    and note the file durable up to the count of the last record written
//!    *before the fsync began*.
//! 3. Send a kept message once the file is durable up to its count. The
//!    applier applies the queued events in queue order, each once the file
//!    is durable up to its count.
//!
//! Records are written, and events queued, in the node's order because
//! both happen under the turn, whichever thread polls. Threads that fsync at the same time
//! share the cost: one fsync makes durable every record written before it,
//! whichever thread wrote it. A crash loses only records nothing was acted
//! on after, which every protocol here survives. The count starts at 0
//! when the participant is wrapped, and [`handle_and_drain`]
//! (Shared::handle_and_drain) advances it too.
//!
//! [`Clocks`] is the other half of a host's time discipline: the C and
//! Python handles refuse an input whose `now` is earlier than the latest
//! the *same thread* gave (a host bug), while `Shared` quietly feeds a
//! thread that lost the race for the turn at the latest time (not a bug).
//!
//! This is a building block for hosts, not a protocol family: it has no
//! wire format and no fuzz target of its own.

use alloc::vec::Vec;

use crate::protocol::{Input, Output, Participant};
use crate::sync::{Condvar, Mutex, MutexGuard, ThreadId, current_thread};
use crate::time::Instant;

/// One output of `P`.
pub type OutputOf<P> =
    Output<<P as Participant>::Message, <P as Participant>::Persist, <P as Participant>::Event>;

/// The outputs of one input, and whether it was accepted.
pub type Drained<P> = (Result<(), <P as Participant>::Error>, Vec<OutputOf<P>>);

#[derive(Debug)]
struct State<P> {
    node: P,
    /// The thread whose outputs are being drained, if any.
    holder: Option<ThreadId>,
    /// The latest `now` fed to the node.
    now: Instant,
    /// Records polled since the node was wrapped.
    records: u64,
}

impl<P> State<P> {
    /// The time to feed an input stamped `now`: never earlier than the last.
    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }
}

/// The latest `now` each thread gave a handle, so that a host can refuse
/// time going backwards (the participant contract forbids it) without
/// refusing threads that merely raced: a thread that read its clock and
/// then waited for the node's turn arrives with an older `now` than one
/// already fed, which is no bug, while one thread going back is. Check
/// with [`check`](Self::check) before an input, and [`record`](Self::record)
/// once it is accepted, so a refused input leaves it as it was.
///
/// It remembers at most [`Clocks::THREADS`] threads; past that the thread
/// with the oldest time is forgotten, and its next input is not checked.
#[derive(Debug)]
pub struct Clocks {
    latest: Mutex<Vec<(ThreadId, Instant)>>,
}

impl Default for Clocks {
    fn default() -> Self {
        Self::new()
    }
}

impl Clocks {
    /// Threads remembered.
    pub const THREADS: usize = 64;

    /// No thread has given a time yet.
    #[must_use]
    pub fn new() -> Self {
        Clocks {
            latest: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(ThreadId, Instant)>> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the calling thread may give `now`.
    ///
    /// # Errors
    /// The calling thread's latest recorded time, if `now` is earlier.
    pub fn check(&self, now: Instant) -> Result<(), Instant> {
        let me = current_thread();
        match self.lock().iter().find(|(t, _)| *t == me) {
            Some(&(_, latest)) if now < latest => Err(latest),
            _ => Ok(()),
        }
    }

    /// Remembers `now` as the calling thread's latest time (if later).
    pub fn record(&self, now: Instant) {
        let me = current_thread();
        let mut latest = self.lock();
        if let Some(entry) = latest.iter_mut().find(|(t, _)| *t == me) {
            entry.1 = entry.1.max(now);
            return;
        }
        if latest.len() >= Self::THREADS {
            let oldest = latest
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, at))| *at)
                .map_or(0, |(i, _)| i);
            latest.swap_remove(oldest);
        }
        latest.push((me, now));
    }
}

/// A participant that threads take turns on; see the [module docs](self).
#[derive(Debug)]
pub struct Shared<P> {
    state: Mutex<State<P>>,
    /// Signalled whenever the turn is given back.
    turn_free: Condvar,
}

impl<P: Participant> Shared<P> {
    /// Wraps `participant`.
    pub fn new(participant: P) -> Self {
        Shared {
            state: Mutex::new(State {
                node: participant,
                holder: None,
                now: Instant::ZERO,
                records: 0,
            }),
            turn_free: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<P>> {
        // A panic inside a participant is a bug, but the state it left is
        // still the best there is; do not turn one bug into a cascade.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the state once the calling thread may take the turn, and
    /// takes it; the flag says whether it was taken by this call.
    fn take_turn(&self) -> (MutexGuard<'_, State<P>>, bool) {
        let me = current_thread();
        let mut state = self.lock();
        loop {
            match state.holder {
                Some(holder) if holder == me => return (state, false),
                Some(_) => {
                    state = self
                        .turn_free
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                None => {
                    state.holder = Some(me);
                    return (state, true);
                }
            }
        }
    }

    fn give_back(&self, state: &mut State<P>) {
        state.holder = None;
        self.turn_free.notify_all();
    }

    /// Feeds `input` at `now`, first taking the turn (waiting while another
    /// thread holds it). The caller keeps the turn until
    /// [`poll_output`](Self::poll_output) returns `None`; if the input is
    /// refused and this call took the turn, it is given back.
    pub fn handle_input(
        &self,
        now: Instant,
        input: Input<P::Message, P::Command>,
    ) -> Result<(), P::Error> {
        self.handle_input_then(now, input, |_| ())
    }

    /// As [`handle_input`](Self::handle_input), then runs `then` on the
    /// participant under the same lock (to read what the input did, such
    /// as the index a proposal was given).
    pub fn handle_input_then<R>(
        &self,
        now: Instant,
        input: Input<P::Message, P::Command>,
        then: impl FnOnce(&P) -> R,
    ) -> Result<R, P::Error> {
        self.in_turn(|state| {
            let now = state.advance(now);
            state
                .node
                .handle_input(now, input)
                .map(|()| then(&state.node))
        })
    }

    /// Runs `f` on the participant in the turn, as an input is fed: for a
    /// participant's own commands outside
    /// [`handle_input`](Participant::handle_input) that queue outputs (a
    /// Raft node's `compact` queues the snapshot's record). It waits for
    /// the turn like [`handle_input`](Self::handle_input); if `f` succeeds
    /// the caller keeps the turn until [`poll_output`](Self::poll_output)
    /// returns `None`, and if it fails (which must change nothing) a turn
    /// this call took is given back.
    ///
    /// # Errors
    /// What `f` returns.
    pub fn act<R, E>(&self, f: impl FnOnce(&mut P) -> Result<R, E>) -> Result<R, E> {
        self.in_turn(|state| f(&mut state.node))
    }

    /// Takes the turn, runs `f`, and gives back a turn it took if `f`
    /// fails.
    fn in_turn<R, E>(&self, f: impl FnOnce(&mut State<P>) -> Result<R, E>) -> Result<R, E> {
        let (mut state, taken) = self.take_turn();
        let result = f(&mut state);
        if result.is_err() && taken {
            self.give_back(&mut state);
        }
        result
    }

    /// The next output for the calling thread: `None` if another thread
    /// holds the turn, or when the holder has drained everything, which
    /// gives the turn back.
    pub fn poll_output(&self) -> Option<OutputOf<P>> {
        self.poll_with(|output, _| output)
    }

    /// As [`poll_output`](Self::poll_output), with the output's record
    /// count: how many records ([`Output::Persist`]) had been polled from
    /// this handle when it was, counting a record itself. A host that
    /// defers its fsyncs acts on the output once its file is durable up to
    /// that record (see [group commit](self#group-commit)).
    pub fn poll_counted(&self) -> Option<(u64, OutputOf<P>)> {
        self.poll_with(|output, records| (records, output))
    }

    /// As [`poll_counted`](Self::poll_counted), running `f` on the output
    /// and its record count under the lock, before any other thread can
    /// feed an input.
    pub fn poll_with<R>(&self, f: impl FnOnce(OutputOf<P>, u64) -> R) -> Option<R> {
        let me = current_thread();
        let mut state = self.lock();
        match state.holder {
            Some(holder) if holder != me => return None,
            Some(_) => {}
            None => state.holder = Some(me),
        }
        match state.node.poll_output() {
            Some(output) => {
                state.records += u64::from(matches!(output, Output::Persist(_)));
                Some(f(output, state.records))
            }
            None => {
                self.give_back(&mut state);
                None
            }
        }
    }

    /// Feeds `input` and drains every output, in one call: the turn is taken
    /// and given back. Outputs of the caller's earlier inputs that it had
    /// not polled come first; the outputs come back even if the input was
    /// refused.
    pub fn handle_and_drain(
        &self,
        now: Instant,
        input: Input<P::Message, P::Command>,
    ) -> Drained<P> {
        let (mut state, _) = self.take_turn();
        let now = state.advance(now);
        let result = state.node.handle_input(now, input);
        let outputs: Vec<_> = core::iter::from_fn(|| state.node.poll_output()).collect();
        state.records += outputs
            .iter()
            .filter(|output| matches!(output, Output::Persist(_)))
            .count() as u64;
        self.give_back(&mut state);
        (result, outputs)
    }

    /// When the participant next wants a tick.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lock().node.next_deadline()
    }

    /// Runs `f` with shared access to the participant (no turn needed).
    pub fn with<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        f(&self.lock().node)
    }

    /// Runs `f` with exclusive access to the participant, without the
    /// turn: for a change that queues no output, such as a local setting
    /// (`KvNode::set_snapshot_interval`). A change that queues outputs goes
    /// through [`act`](Self::act), so that they are drained in order.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut self.lock().node)
    }

    /// Unwraps the participant.
    pub fn into_inner(self) -> P {
        self.state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .node
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, WireError};

    /// Records the `now` of every input.
    #[derive(Debug, Default)]
    struct Clocked {
        seen: Vec<Instant>,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Nothing;

    impl wire::WireMessage for Nothing {
        const KIND: u8 = wire::kind::EXAMPLE;
    }

    impl Participant for Clocked {
        type Message = Nothing;
        type Command = ();
        type Persist = ();
        type Event = ();
        type Error = WireError;
        fn id(&self) -> crate::NodeId {
            crate::NodeId(1)
        }
        fn handle_input(&mut self, now: Instant, _: Input<Nothing, ()>) -> Result<(), WireError> {
            self.seen.push(now);
            Ok(())
        }
        fn poll_output(&mut self) -> Option<Output<Nothing, (), ()>> {
            None
        }
        fn next_deadline(&self) -> Option<Instant> {
            None
        }
    }

    #[test]
    fn an_input_stamped_before_the_last_one_is_fed_at_the_last_time() {
        let shared = Shared::new(Clocked::default());
        let at = Instant::from_millis;
        shared.handle_input(at(10), Input::Tick).unwrap();
        assert!(shared.poll_output().is_none());
        shared.handle_input(at(5), Input::Tick).unwrap();
        let _ = shared.handle_and_drain(at(7), Input::Tick);
        shared.handle_input(at(12), Input::Tick).unwrap();
        assert_eq!(shared.into_inner().seen, [at(10), at(10), at(10), at(12)]);
    }

    /// Queues one output per `act`, numbered.
    #[derive(Debug, Default)]
    struct Queue {
        outputs: alloc::collections::VecDeque<u8>,
        setting: u8,
    }

    impl Queue {
        const EVENT: u8 = 100;
    }

    impl Participant for Queue {
        type Message = Nothing;
        type Command = ();
        type Persist = u8;
        type Event = ();
        type Error = WireError;
        fn id(&self) -> crate::NodeId {
            crate::NodeId(1)
        }
        fn handle_input(&mut self, _: Instant, _: Input<Nothing, ()>) -> Result<(), WireError> {
            Ok(())
        }
        /// Queued numbers of [`Queue::EVENT`] and above come out as events.
        fn poll_output(&mut self) -> Option<Output<Nothing, u8, ()>> {
            self.outputs.pop_front().map(|n| {
                if n >= Queue::EVENT {
                    Output::Event(())
                } else {
                    Output::Persist(n)
                }
            })
        }
        fn next_deadline(&self) -> Option<Instant> {
            None
        }
    }

    /// What another thread's poll gets: `None` while this thread holds the
    /// turn.
    fn polled_elsewhere(shared: &Shared<Queue>) -> Option<u8> {
        std::thread::scope(|s| {
            s.spawn(|| match shared.poll_output() {
                Some(Output::Persist(n)) => Some(n),
                _ => None,
            })
            .join()
            .unwrap()
        })
    }

    #[test]
    fn an_act_that_succeeds_keeps_the_turn_until_its_outputs_are_drained() {
        let shared = Shared::new(Queue::default());
        let acted = shared.act(|q| {
            q.outputs.push_back(1);
            Ok::<_, WireError>(7)
        });
        assert_eq!(acted, Ok(7));
        assert_eq!(
            polled_elsewhere(&shared),
            None,
            "this thread holds the turn"
        );
        assert!(matches!(shared.poll_output(), Some(Output::Persist(1))));
        assert!(shared.poll_output().is_none());
        shared.with_mut(|q| q.outputs.push_back(2));
        assert_eq!(
            polled_elsewhere(&shared),
            Some(2),
            "the turn was given back"
        );
    }

    #[test]
    fn every_output_carries_the_count_of_records_polled_up_to_it() {
        let shared = Shared::new(Queue::default());
        let queue = |numbers: &[u8]| {
            shared
                .act(|q| {
                    q.outputs.extend(numbers);
                    Ok::<_, WireError>(())
                })
                .unwrap();
        };
        queue(&[Queue::EVENT, 1, Queue::EVENT, 2, 3, Queue::EVENT]);
        let counted: Vec<_> = core::iter::from_fn(|| shared.poll_counted())
            .map(|(records, output)| (records, matches!(output, Output::Persist(_))))
            .collect();
        assert_eq!(
            counted,
            [
                (0, false),
                (1, true),
                (1, false),
                (2, true),
                (3, true),
                (3, false)
            ]
        );
        // A whole drain counts its records for the polls after it.
        shared.with_mut(|q| q.outputs.extend([4, 5]));
        let (_, drained) = shared.handle_and_drain(Instant::ZERO, Input::Tick);
        assert_eq!(drained.len(), 2);
        queue(&[6, Queue::EVENT]);
        assert!(matches!(
            shared.poll_counted(),
            Some((6, Output::Persist(6)))
        ));
        assert!(matches!(
            shared.poll_counted(),
            Some((6, Output::Event(())))
        ));
        assert!(shared.poll_counted().is_none());
        // Another thread's poll in its own turn continues the same count.
        shared.with_mut(|q| q.outputs.push_back(7));
        let elsewhere = std::thread::scope(|s| {
            s.spawn(|| {
                let first = shared.poll_counted().map(|(records, _)| records);
                assert!(shared.poll_counted().is_none());
                first
            })
            .join()
            .unwrap()
        });
        assert_eq!(elsewhere, Some(7));
    }

    #[test]
    fn a_refused_act_gives_back_the_turn_it_took() {
        let mut queued = Queue::default();
        queued.outputs.push_back(3);
        let shared = Shared::new(queued);
        let refused = shared.act(|_| Err::<(), _>(WireError::Malformed));
        assert_eq!(refused, Err(WireError::Malformed));
        assert_eq!(polled_elsewhere(&shared), Some(3));
    }

    #[test]
    fn with_mut_does_not_wait_for_the_turn() {
        let shared = Shared::new(Queue::default());
        shared
            .act(|q| {
                q.outputs.push_back(4);
                Ok::<_, WireError>(())
            })
            .unwrap();
        // Another thread changes a setting while this one holds the turn.
        std::thread::scope(|s| {
            s.spawn(|| shared.with_mut(|q| q.setting = 9));
        });
        assert_eq!(shared.with(|q| q.setting), 9);
        assert!(matches!(shared.poll_output(), Some(Output::Persist(4))));
    }

    #[test]
    fn clocks_refuse_a_thread_going_back_but_not_another_thread() {
        let at = Instant::from_millis;
        let clocks = Clocks::new();
        assert_eq!(clocks.check(at(5)), Ok(()));
        clocks.record(at(10));
        assert_eq!(clocks.check(at(9)), Err(at(10)));
        assert_eq!(clocks.check(at(10)), Ok(()));
        clocks.record(at(3)); // never moves back
        assert_eq!(clocks.check(at(9)), Err(at(10)));
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(
                    clocks.check(at(1)),
                    Ok(()),
                    "another thread's own first time"
                );
                clocks.record(at(1));
                assert_eq!(clocks.check(at(0)), Err(at(1)));
            });
        });
        assert_eq!(clocks.check(at(9)), Err(at(10)));
    }
}
