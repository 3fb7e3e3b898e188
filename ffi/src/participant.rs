//! `consensio_participant`: the one C handle every protocol participant is
//! driven through.
//!
//! A family adds only what is its own: a constructor that hands out a
//! `consensio_participant *`, its commands and queries (which check that
//! the handle is of their family), and the numbering of its events, by
//! implementing [`Surface`] for its participant type. Feeding messages and
//! ticks, polling outputs, the next deadline, the id and freeing are the
//! common calls below, written once.
//!
//! Every handle may be used from several threads: the participant sits in a
//! core [`Shared`], so a thread that feeds an input holds the node's turn
//! until it has polled `CONSENSIO_OUTPUT_NONE`, and what it does with each
//! output (an fsync, a send, applying an entry) happens in the node's own
//! order. Another thread's input waits for the turn; another thread's poll
//! gets `NONE`.
//!
//! Time never goes backwards: every input's `now_ms` is checked against the
//! latest one the same thread gave the handle and refused with
//! `CONSENSIO_INVALID_ARGUMENT` if earlier, changing nothing (core's `shared::Clocks`).
//! The check is per thread because threads that read one clock and then
//! race for the turn legitimately arrive out of order (core's `Shared`
//! feeds such an input at the latest time already fed); one thread going
//! back is a host bug.

use core::any::Any;
use core::fmt::Debug;
use std::sync::{Mutex, PoisonError};

use consensio_core::shared::{Clocks, Shared};
use consensio_core::{Input, Instant, NodeId, Output, Participant, wire};

use crate::consensio_status::{self, *};
use crate::{Failure, Result, borrow, borrow_mut, give, guard, slice, take};

/// What a polled output is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_output_kind {
    /// No output pending: the calling thread has drained the handle.
    CONSENSIO_OUTPUT_NONE = 0,
    /// Send the frame `data[0..len]` to `peer`.
    CONSENSIO_OUTPUT_SEND = 1,
    /// Make this record durable before acting on any later output. A
    /// record is either bytes (`data[0..len]`, every one kept in order) or,
    /// with `len` 0, the integer `values[0]` (the latest of an increasing
    /// sequence, such as an epoch: only the last one matters). The family's
    /// constructor documents which, and how to restore from it.
    CONSENSIO_OUTPUT_PERSIST = 2,
    /// An event for the application: `event` says which, numbered by the
    /// family (`consensio_raft_event`, `consensio_election_event`, ...),
    /// whose documentation says which fields it fills.
    CONSENSIO_OUTPUT_EVENT = 3,
}

/// One polled output, of any participant. Fields an output does not use
/// are zero (and `data`, `aux` NULL).
///
/// `data` and `aux` stay valid until the calling thread polls that handle
/// again (or frees it).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct consensio_output {
    /// What this output is.
    pub kind: consensio_output_kind,
    /// EVENT: the family's event number.
    pub event: u32,
    /// SEND: the destination. EVENT: the node the event names (a leader, a
    /// monitored peer, a sync partner), as the family documents.
    pub peer: u64,
    /// SEND: the frame. PERSIST: a byte record. EVENT: the event's bytes
    /// (a committed payload, a key).
    pub data: *const u8,
    /// Length of `data`.
    pub len: usize,
    /// EVENT: further bytes, as the family documents (version hashes).
    pub aux: *const u8,
    /// Length of `aux`.
    pub aux_len: usize,
    /// PERSIST: an integer record in `values[0]`. EVENT: the event's
    /// numbers (an index, a term, an epoch, a flag), as the family
    /// documents.
    pub values: [u64; 4],
    /// EVENT: a real-valued measurement (a φ), as the family documents.
    pub real: f64,
    /// Every kind but NONE: how many PERSIST outputs this handle had given
    /// when this one was polled, counting a PERSIST itself (the first is
    /// 1). A host that shares one fsync among several inputs (group
    /// commit, see `consensio_participant_poll`) acts on a SEND or EVENT
    /// once its file is durable up to this record.
    pub records: u64,
}

impl consensio_output {
    const NONE: Self = consensio_output {
        kind: consensio_output_kind::CONSENSIO_OUTPUT_NONE,
        event: 0,
        peer: 0,
        data: core::ptr::null(),
        len: 0,
        aux: core::ptr::null(),
        aux_len: 0,
        values: [0; 4],
        real: 0.0,
        records: 0,
    };
}

/// Where an output's fields and bytes go while a family fills them.
#[derive(Debug)]
pub(crate) struct Fill<'a> {
    /// The C struct (kind and pointers are set by the driver).
    pub(crate) out: &'a mut consensio_output,
    /// The bytes `data` will point to.
    pub(crate) data: &'a mut Vec<u8>,
    /// The bytes `aux` will point to.
    pub(crate) aux: &'a mut Vec<u8>,
}

impl Fill<'_> {
    /// Marks the output as event number `event` (a family enum, as `u32`).
    pub(crate) fn event(&mut self, event: u32) -> &mut consensio_output {
        self.out.kind = consensio_output_kind::CONSENSIO_OUTPUT_EVENT;
        self.out.event = event;
        self.out
    }
}

/// What a family says about its participant to be driven from C.
pub(crate) trait Surface: Participant + Send + Debug + 'static {
    /// The family's name, for the error a command of another family gets.
    const FAMILY: &'static str;

    /// Fills a PERSIST output from one record: bytes in `fill.data`, or an
    /// integer in `values[0]`.
    ///
    /// # Errors
    /// Only if the record cannot be encoded (never for a valid record).
    fn persist(record: Self::Persist, fill: &mut Fill<'_>) -> Result<()>;

    /// Fills an EVENT output (start with [`Fill::event`]).
    ///
    /// # Errors
    /// Only if the event cannot be represented.
    fn event(event: Self::Event, fill: &mut Fill<'_>) -> Result<()>;
}

/// A participant that threads take turns on, and the bytes of its last
/// polled output.
#[derive(Debug)]
pub(crate) struct Driver<P> {
    shared: Shared<P>,
    /// The bytes the last polled output points to (`data`, then `aux`).
    /// Only the thread holding the turn writes them, while it polls, so
    /// they stay valid until that thread polls again.
    bytes: Mutex<(Vec<u8>, Vec<u8>)>,
    /// The latest `now` each thread gave.
    clocks: Clocks,
    /// What the constructor knew that the node does not say (the
    /// key-value store's limits), for the family's commands.
    facts: Box<dyn Any + Send + Sync>,
}

impl<P> Driver<P>
where
    P: Surface,
{
    /// Feeds `input`, taking the turn (see the module docs).
    pub(crate) fn input(&self, now_ms: u64, input: Input<P::Message, P::Command>) -> Result<()> {
        self.input_then(now_ms, input, |_| ())
    }

    /// As [`input`](Self::input), then reads the node under the same lock.
    pub(crate) fn input_then<R>(
        &self,
        now_ms: u64,
        input: Input<P::Message, P::Command>,
        then: impl FnOnce(&P) -> R,
    ) -> Result<R> {
        let now = Instant::from_millis(now_ms);
        self.clocks.check(now).map_err(|latest| {
            Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!(
                    "now_ms {now_ms} is earlier than {}, the time this thread last gave; time must not go backwards",
                    latest.as_millis()
                ),
            )
        })?;
        let read = self.shared.handle_input_then(now, input, then)?;
        self.clocks.record(now);
        Ok(read)
    }

    /// Reads the node (no turn needed).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        self.shared.with(f)
    }

    /// Runs one of the node's own commands that is not an input and
    /// queues outputs, taking the turn as an input does (core's
    /// `Shared::act`): the caller polls until NONE after it.
    pub(crate) fn act<R>(
        &self,
        f: impl FnOnce(&mut P) -> core::result::Result<R, P::Error>,
    ) -> Result<R> {
        Ok(self.shared.act(f)?)
    }

    /// Changes a setting of the node that queues no output (no turn
    /// needed).
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        self.shared.with_mut(f)
    }

    /// What the constructor handed over with the node, if it is a `T`.
    pub(crate) fn facts<T: 'static>(&self) -> Option<&T> {
        self.facts.downcast_ref()
    }
}

/// The family-independent half of a handle: what the common calls need.
trait Node: Send + Sync + Debug {
    fn family(&self) -> &'static str;
    fn id(&self) -> u64;
    fn handle_message(&self, now_ms: u64, from: u64, frame: &[u8]) -> Result<()>;
    fn tick(&self, now_ms: u64) -> Result<()>;
    fn poll(&self, out: &mut consensio_output) -> Result<()>;
    fn next_deadline(&self) -> Option<u64>;
    fn as_any(&self) -> &dyn Any;
}

impl<P> Node for Driver<P>
where
    P: Surface,
{
    fn family(&self) -> &'static str {
        P::FAMILY
    }

    fn id(&self) -> u64 {
        self.shared.with(|n| n.id().0)
    }

    /// Decodes `frame` (before taking the turn) and feeds it.
    fn handle_message(&self, now_ms: u64, from: u64, frame: &[u8]) -> Result<()> {
        let message = wire::decode(frame)?;
        let from = NodeId(from);
        self.input(now_ms, Input::Message { from, message })
    }

    fn tick(&self, now_ms: u64) -> Result<()> {
        self.input(now_ms, Input::Tick)
    }

    fn poll(&self, out: &mut consensio_output) -> Result<()> {
        use consensio_output_kind::*;
        let mut next = consensio_output::NONE;
        let filled = self.shared.poll_with(|output, records| {
            next.records = records;
            let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
            let (data, aux) = &mut *bytes;
            data.clear();
            aux.clear();
            let mut fill = Fill {
                out: &mut next,
                data,
                aux,
            };
            match output {
                Output::Send { to, message } => {
                    *fill.data = wire::encode_to_vec(&message)?;
                    fill.out.kind = CONSENSIO_OUTPUT_SEND;
                    fill.out.peer = to.0;
                }
                Output::Persist(record) => {
                    P::persist(record, &mut fill)?;
                    fill.out.kind = CONSENSIO_OUTPUT_PERSIST;
                }
                Output::Event(event) => P::event(event, &mut fill)?,
            }
            let span = |bytes: &Vec<u8>| {
                if bytes.is_empty() {
                    (core::ptr::null(), 0)
                } else {
                    (bytes.as_ptr(), bytes.len())
                }
            };
            (next.data, next.len) = span(data);
            (next.aux, next.aux_len) = span(aux);
            Ok::<(), Failure>(())
        });
        if let Some(result) = filled {
            result?;
        }
        *out = next;
        Ok(())
    }

    fn next_deadline(&self) -> Option<u64> {
        self.shared.next_deadline().map(Instant::as_millis)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A protocol participant of any family (opaque). Made by a family's
/// constructor (`consensio_raft_new`, `consensio_election_new`, ...),
/// driven with the `consensio_participant_*` calls and the family's own
/// commands, released with [`consensio_participant_free`]. It may be used
/// from several threads; see [`consensio_participant_poll`].
#[derive(Debug)]
pub struct consensio_participant {
    node: Box<dyn Node>,
}

/// Hands `node` to C as a new participant handle written to `out`.
///
/// # Safety
/// `out` must be NULL or point to writable storage for a pointer.
pub(crate) unsafe fn give_participant<P>(
    node: P,
    out: *mut *mut consensio_participant,
) -> Result<()>
where
    P: Surface,
{
    // SAFETY: forwarded from the caller.
    unsafe { give_participant_with(node, (), out) }
}

/// As [`give_participant`], keeping `facts` beside the node for the
/// family's commands ([`Driver::facts`]).
///
/// # Safety
/// `out` must be NULL or point to writable storage for a pointer.
pub(crate) unsafe fn give_participant_with<P, T>(
    node: P,
    facts: T,
    out: *mut *mut consensio_participant,
) -> Result<()>
where
    P: Surface,
    T: Any + Send + Sync,
{
    let driver = Driver {
        shared: Shared::new(node),
        bytes: Mutex::new((Vec::new(), Vec::new())),
        clocks: Clocks::new(),
        facts: Box::new(facts),
    };
    let handle = consensio_participant {
        node: Box::new(driver),
    };
    // SAFETY: forwarded from the caller.
    unsafe { give(out, handle) }
}

/// The driver of `handle`, to downcast to the `Driver<P>` a family
/// expects, and the handle's family name.
///
/// # Safety
/// `handle` must be NULL or a live handle.
pub(crate) unsafe fn any_driver<'a>(
    handle: *const consensio_participant,
) -> Result<(&'a dyn Any, &'static str)> {
    // SAFETY: forwarded from the caller.
    let h = unsafe { borrow(handle, "participant") }?;
    Ok((h.node.as_any(), h.node.family()))
}

/// The driver of `handle`, which must run a `P`: a handle of another
/// family (or another algorithm) is `CONSENSIO_INVALID_ARGUMENT`.
///
/// # Safety
/// `handle` must be NULL or a live handle.
pub(crate) unsafe fn driver<'a, P>(handle: *const consensio_participant) -> Result<&'a Driver<P>>
where
    P: Surface,
{
    // SAFETY: forwarded from the caller.
    let (any, family) = unsafe { any_driver(handle) }?;
    any.downcast_ref::<Driver<P>>()
        .ok_or_else(|| wrong_handle(family, P::FAMILY, core::any::type_name::<P>()))
}

/// The failure of a family call given another family's handle.
pub(crate) fn wrong_handle(found: &str, family: &str, wanted: &str) -> Failure {
    let wanted = wanted.rsplit("::").next().unwrap_or(wanted);
    Failure::new(
        CONSENSIO_INVALID_ARGUMENT,
        format!("this handle is a {found} participant, not a {family} {wanted}"),
    )
}

/// Delivers the frame `bytes[0..len]` received from `from`.
/// `CONSENSIO_MALFORMED` for bytes that are not a message of this
/// participant's protocol, `CONSENSIO_LIMIT_EXCEEDED` for a frame over the
/// protocol's size bound (or while too many outputs wait to be polled), and
/// the family's own statuses for a message it refuses (its docs say which).
/// Nothing changes on error.
///
/// Messages from senders outside the configuration are the family's call,
/// and every family documents it on its constructor: a protocol whose
/// membership is the whole safety argument (elections, detectors) refuses
/// them with `CONSENSIO_INVALID_ARGUMENT`, so a misrouted frame is noticed;
/// Raft drops them silently, as it drops every stale message, because a
/// removed voter keeps talking until it learns it was removed.
///
/// # Safety
/// `participant` must be a live handle; `bytes` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_participant_handle_message(
    participant: *mut consensio_participant,
    now_ms: u64,
    from: u64,
    bytes: *const u8,
    len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (p, frame) = unsafe {
            (
                borrow(participant, "participant")?,
                slice(bytes, len, "bytes")?,
            )
        };
        p.node.handle_message(now_ms, from, frame)
    })
}

/// Fires the timers due at `now_ms`. Call it at
/// [`consensio_participant_next_deadline`]; a spurious or late tick does no
/// harm.
///
/// `now_ms` must never go backwards. Every input of every participant
/// (messages, ticks, the families' commands) is checked: a `now_ms`
/// earlier than the latest one the calling thread gave this handle with
/// an accepted input is refused with `CONSENSIO_INVALID_ARGUMENT`, and
/// nothing changes. The check is per thread: threads that read one clock
/// and then race for the node's turn may arrive out of order, and the
/// later arrival is fed at the latest time already fed.
///
/// # Safety
/// `participant` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_participant_tick(
    participant: *mut consensio_participant,
    now_ms: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let p = unsafe { borrow(participant, "participant") }?;
        p.node.tick(now_ms)
    })
}

/// Takes the next output into `*out` (kind `CONSENSIO_OUTPUT_NONE` when
/// there is none). Call it until NONE after every input, acting on each
/// output in order, and make every PERSIST durable before acting on any
/// output after it.
///
/// The handle may be used from several threads. A thread that gives an
/// input holds the node's turn until its poll returns NONE: meanwhile
/// another thread's input waits, and another thread's poll returns NONE, so
/// the holder persists, sends and applies its outputs in the node's order.
/// Drain before waiting on another thread of the same node, and before
/// handing the handle to another thread. Queries never wait for the turn.
///
/// Group commit: the holder need not fsync under the turn. It may *write*
/// each PERSIST as it polls it, keep each SEND with its `records` count,
/// and queue each EVENT with its count for one applier thread (queueing
/// under the turn keeps the node's order); after the poll that returns
/// NONE it fsyncs, and the file is then durable up to the last record
/// written before that fsync began. A kept SEND goes out, and the applier
/// applies a queued EVENT, once the file is durable up to its `records`.
/// Threads that fsync together share one fsync for all their records.
///
/// # Safety
/// `participant` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_participant_poll(
    participant: *mut consensio_participant,
    out: *mut consensio_output,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (p, o) = unsafe { (borrow(participant, "participant")?, borrow_mut(out, "out")?) };
        p.node.poll(o)
    })
}

/// When the participant next wants a tick: `*out_has` 1 and `*out_ms` the
/// instant, or `*out_has` 0 if no timer is armed.
///
/// # Safety
/// `participant` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_participant_next_deadline(
    participant: *const consensio_participant,
    out_has: *mut u8,
    out_ms: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (p, has, ms) = unsafe {
            (
                borrow(participant, "participant")?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_ms, "out_ms")?,
            )
        };
        optional(p.node.next_deadline(), has, ms);
        Ok(())
    })
}

/// This participant's own node id.
///
/// # Safety
/// `participant` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_participant_id(
    participant: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (p, o) = unsafe { (borrow(participant, "participant")?, borrow_mut(out, "out")?) };
        *o = p.node.id();
        Ok(())
    })
}

/// Frees a participant of any family; NULL is a no-op.
///
/// # Safety
/// `participant` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_participant_free(participant: *mut consensio_participant) {
    // SAFETY: forwarded from the caller.
    unsafe { take(participant) }
}

/// Decodes the `count` byte records `records[i][0..lens[i]]` of a family
/// whose records travel as wire frames (Raft's, Paxos's).
///
/// # Safety
/// `records` and `lens` hold `count` elements, and each `records[i]`
/// `lens[i]` bytes.
pub(crate) unsafe fn decode_records<T: consensio_core::wire::WireMessage>(
    records: *const *const u8,
    lens: *const usize,
    count: usize,
) -> Result<Vec<T>> {
    // SAFETY: forwarded from the caller.
    let (ptrs, lens) = unsafe {
        (
            crate::slice(records, count, "records")?,
            crate::slice(lens, count, "lens")?,
        )
    };
    let mut decoded = Vec::with_capacity(count);
    for (i, (&p, &len)) in ptrs.iter().zip(lens).enumerate() {
        // SAFETY: the caller guarantees record i has lens[i] bytes.
        let bytes = unsafe { crate::slice(p, len, &format!("records[{i}]")) }?;
        let record = consensio_core::wire::decode::<T>(bytes).map_err(|e| {
            let f = crate::Failure::from(e);
            crate::Failure::new(f.status, format!("records[{i}]: {}", f.message))
        })?;
        decoded.push(record);
    }
    Ok(decoded)
}

/// Rebuilds a `P` from `config` and the `count` byte records
/// `records[i][0..lens[i]]` and hands it out in `*out`: the body of every
/// family's `*_restore` whose records travel as wire frames.
///
/// # Safety
/// As [`decode_records`]; `out` must be writable.
pub(crate) unsafe fn give_restored<P>(
    config: P::Config,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> Result<()>
where
    P: Surface + consensio_core::Restore,
    P::Persist: consensio_core::wire::WireMessage,
{
    // SAFETY: forwarded from the caller.
    let decoded = unsafe { decode_records::<P::Persist>(records, lens, count) }?;
    let node = P::restore(config, &decoded)?;
    // SAFETY: forwarded from the caller.
    unsafe { give_participant(node, out) }
}

/// Reads a member list, rejecting an impossible count before allocating.
///
/// # Safety
/// `members` must hold `n` ids (or be NULL with `n` 0).
pub(crate) unsafe fn members(members: *const u64, n: usize, max: usize) -> Result<Vec<NodeId>> {
    if n > max {
        return Err(Failure::new(
            CONSENSIO_LIMIT_EXCEEDED,
            format!("{n} members; at most {max}"),
        ));
    }
    // SAFETY: forwarded from the caller.
    let ids = unsafe { crate::slice(members, n, "members") }?;
    Ok(ids.iter().copied().map(NodeId).collect())
}

/// Writes `Option<u64>` as a has-flag and a value.
pub(crate) fn optional(value: Option<u64>, has: &mut u8, out: &mut u64) {
    match value {
        Some(v) => {
            *has = 1;
            *out = v;
        }
        None => *has = 0,
    }
}

/// Reads one value of a `P` handle into `*out`.
///
/// # Safety
/// `handle` must be NULL or a live handle; `out` NULL or writable.
pub(crate) unsafe fn query<P, T>(
    handle: *const consensio_participant,
    out: *mut T,
    read: impl FnOnce(&P) -> T,
) -> consensio_status
where
    P: Surface,
{
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, o) = unsafe { (driver::<P>(handle)?, borrow_mut(out, "out")?) };
        *o = d.with(read);
        Ok(())
    })
}

/// Feeds one command built by `command` to a `P` handle.
///
/// # Safety
/// `handle` must be NULL or a live handle.
pub(crate) unsafe fn command<P>(
    handle: *mut consensio_participant,
    now_ms: u64,
    command: impl FnOnce() -> Result<P::Command>,
) -> consensio_status
where
    P: Surface,
{
    guard(|| {
        // SAFETY: forwarded from the caller.
        let d = unsafe { driver::<P>(handle) }?;
        d.input(now_ms, Input::Command(command()?))
    })
}
