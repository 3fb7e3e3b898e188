//! `consensio_vclock_*`, `consensio_lamport_*`, `consensio_hlc_*`,
//! `consensio_ntp_*`, `consensio_cristian_*`, `consensio_berkeley_*`:
//! logical clocks and clock-synchronisation arithmetic.
//!
//! Vector clocks are opaque handles (the sparse representation: any 64-bit
//! actor id). Lamport and hybrid logical clocks are small plain structs the
//! caller owns; the functions update them in place.

use consensio_core::clock::ntp::{self, ClockFilter};
use consensio_core::clock::{
    self, CausalOrdering, HlcTimestamp, HybridLogicalClock, LamportClock, LamportStamp,
    VectorClock, berkeley, cristian,
};
use consensio_core::{Instant, NodeId, wire};

use crate::consensio_status::{self, *};
use crate::{Failure, Result, borrow, borrow_mut, copy_out, give, guard, slice, slice_mut, take};

/// How two vector clocks relate under happened-before.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_causal_ordering {
    /// The first happened before the second.
    CONSENSIO_BEFORE = 0,
    /// The second happened before the first.
    CONSENSIO_AFTER = 1,
    /// Identical clocks.
    CONSENSIO_EQUAL = 2,
    /// Neither happened before the other.
    CONSENSIO_CONCURRENT = 3,
}

impl From<CausalOrdering> for consensio_causal_ordering {
    fn from(o: CausalOrdering) -> Self {
        match o {
            CausalOrdering::Before => consensio_causal_ordering::CONSENSIO_BEFORE,
            CausalOrdering::After => consensio_causal_ordering::CONSENSIO_AFTER,
            CausalOrdering::Equal => consensio_causal_ordering::CONSENSIO_EQUAL,
            CausalOrdering::Concurrent => consensio_causal_ordering::CONSENSIO_CONCURRENT,
        }
    }
}

/// A vector clock (opaque).
#[derive(Debug)]
pub struct consensio_vclock {
    pub(crate) clock: VectorClock,
}

/// Creates an empty vector clock in `*out`.
///
/// # Safety
/// `out` must point to writable storage for a handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_new(out: *mut *mut consensio_vclock) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        unsafe {
            give(
                out,
                consensio_vclock {
                    clock: VectorClock::new(),
                },
            )
        }
    })
}

/// Frees a vector clock; NULL is a no-op.
///
/// # Safety
/// `clock` must be NULL or a live handle from this library, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_free(clock: *mut consensio_vclock) {
    // SAFETY: forwarded from the caller.
    unsafe { take(clock) }
}

/// Copies `clock` into a new handle in `*out`.
///
/// # Safety
/// `clock` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_clone(
    clock: *const consensio_vclock,
    out: *mut *mut consensio_vclock,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let c = unsafe { borrow(clock, "clock") }?;
        let copy = consensio_vclock {
            clock: c.clock.clone(),
        };
        // SAFETY: forwarded from the caller.
        unsafe { give(out, copy) }
    })
}

/// Records an event of `actor`; its new counter goes to `*out_counter`.
/// `CONSENSIO_LIMIT_EXCEEDED` at `UINT64_MAX` (the clock is unchanged).
///
/// # Safety
/// `clock` must be a live handle; `out_counter` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_increment(
    clock: *mut consensio_vclock,
    actor: u64,
    out_counter: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, out) = unsafe {
            (
                borrow_mut(clock, "clock")?,
                borrow_mut(out_counter, "out_counter")?,
            )
        };
        *out = c.clock.increment(NodeId(actor))?;
        Ok(())
    })
}

/// The counter of `actor` (0 if it has none).
///
/// # Safety
/// `clock` must be a live handle; `out_counter` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_get(
    clock: *const consensio_vclock,
    actor: u64,
    out_counter: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, out) = unsafe {
            (
                borrow(clock, "clock")?,
                borrow_mut(out_counter, "out_counter")?,
            )
        };
        *out = c.clock.get(NodeId(actor));
        Ok(())
    })
}

/// Merges `other` into `clock` (pointwise maximum).
///
/// # Safety
/// Both must be live handles; they may be the same handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_merge(
    clock: *mut consensio_vclock,
    other: *const consensio_vclock,
) -> consensio_status {
    guard(|| {
        if clock.cast_const() == other {
            // SAFETY: forwarded from the caller; merging with itself is a no-op.
            return unsafe { borrow(other, "other") }.map(|_| ());
        }
        // SAFETY: forwarded from the caller; the handles differ.
        let (c, o) = unsafe { (borrow_mut(clock, "clock")?, borrow(other, "other")?) };
        c.clock.merge(&o.clock);
        Ok(())
    })
}

/// How `a` relates to `b` under happened-before.
///
/// # Safety
/// Both must be live handles; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_compare(
    a: *const consensio_vclock,
    b: *const consensio_vclock,
    out: *mut consensio_causal_ordering,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (a, b, out) = unsafe { (borrow(a, "a")?, borrow(b, "b")?, borrow_mut(out, "out")?) };
        *out = a.clock.compare(&b.clock).into();
        Ok(())
    })
}

/// Copies the non-zero entries, sorted by actor, into `actors` and
/// `counters` (each `cap` long); `*out_len` gets the number of entries.
/// `CONSENSIO_BUFFER_TOO_SMALL` if `cap` is smaller (nothing is copied).
///
/// # Safety
/// `actors` and `counters` must each hold `cap` writable elements (or be
/// NULL with `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_entries(
    clock: *const consensio_vclock,
    actors: *mut u64,
    counters: *mut u64,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, ids, counts, len) = unsafe {
            (
                borrow(clock, "clock")?,
                slice_mut(actors, cap, "actors")?,
                slice_mut(counters, cap, "counters")?,
                borrow_mut(out_len, "out_len")?,
            )
        };
        let entries = c.clock.entries();
        *len = entries.len();
        if entries.len() > cap {
            return Err(Failure::new(
                CONSENSIO_BUFFER_TOO_SMALL,
                format!("{} entries, room for {cap}", entries.len()),
            ));
        }
        for ((id, count), (actor, counter)) in ids.iter_mut().zip(counts.iter_mut()).zip(entries) {
            *id = actor.0;
            *count = *counter;
        }
        Ok(())
    })
}

/// Encodes `clock` in the wire format into `buf`; `*out_len` gets the frame
/// length (also when the buffer is too small).
///
/// # Safety
/// `buf` must hold `cap` writable bytes (or be NULL with `cap` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_encode(
    clock: *const consensio_vclock,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, buf, len) = unsafe {
            (
                borrow(clock, "clock")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
            )
        };
        copy_out(&wire::encode_to_vec(&c.clock)?, buf, len)
    })
}

/// Decodes a wire-format vector clock into a new handle in `*out`.
/// `CONSENSIO_MALFORMED` for bytes that are not one.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_vclock_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_vclock,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let frame = unsafe { slice(bytes, len, "bytes") }?;
        let clock = wire::decode::<VectorClock>(frame)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, consensio_vclock { clock }) }
    })
}

/// A Lamport timestamp: ordered by time, then node.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_lamport_stamp {
    /// Logical time.
    pub time: u64,
    /// The node that stamped the event.
    pub node: u64,
}

/// A node's Lamport clock; initialise `node` and set `time` to 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_lamport_clock {
    /// This node's id.
    pub node: u64,
    /// Time of the last event.
    pub time: u64,
}

fn lamport_step(
    clock: &mut consensio_lamport_clock,
    out: &mut consensio_lamport_stamp,
    step: impl FnOnce(&mut LamportClock) -> core::result::Result<LamportStamp, clock::Error>,
) -> Result<()> {
    let mut c = LamportClock::at(NodeId(clock.node), clock.time);
    let stamp = step(&mut c)?;
    clock.time = c.time();
    *out = consensio_lamport_stamp {
        time: stamp.time,
        node: stamp.node.0,
    };
    Ok(())
}

/// A local or send event: advances `clock`, stamps the event into `*out`.
///
/// # Safety
/// Both pointers must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lamport_tick(
    clock: *mut consensio_lamport_clock,
    out: *mut consensio_lamport_stamp,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, o) = unsafe { (borrow_mut(clock, "clock")?, borrow_mut(out, "out")?) };
        lamport_step(c, o, LamportClock::tick)
    })
}

/// A receive event of a message stamped `remote`.
/// `CONSENSIO_LIMIT_EXCEEDED` if `remote.time` is `UINT64_MAX`.
///
/// # Safety
/// Both pointers must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lamport_receive(
    clock: *mut consensio_lamport_clock,
    remote: consensio_lamport_stamp,
    out: *mut consensio_lamport_stamp,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, o) = unsafe { (borrow_mut(clock, "clock")?, borrow_mut(out, "out")?) };
        let remote = LamportStamp {
            time: remote.time,
            node: NodeId(remote.node),
        };
        lamport_step(c, o, |clock| clock.receive(remote))
    })
}

/// A hybrid logical clock timestamp.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_hlc_timestamp {
    /// Physical part, milliseconds.
    pub wall_ms: u64,
    /// Logical counter.
    pub logical: u32,
}

/// A hybrid logical clock; zero `last` and set `max_offset_ms`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_hlc {
    /// The latest timestamp issued.
    pub last: consensio_hlc_timestamp,
    /// Remote timestamps further ahead of local physical time are rejected.
    pub max_offset_ms: u64,
}

fn hlc_step(
    hlc: &mut consensio_hlc,
    out: &mut consensio_hlc_timestamp,
    step: impl FnOnce(&mut HybridLogicalClock) -> core::result::Result<HlcTimestamp, clock::Error>,
) -> Result<()> {
    let last = HlcTimestamp {
        wall_ms: hlc.last.wall_ms,
        logical: hlc.last.logical,
    };
    let mut c = HybridLogicalClock::restored(last, hlc.max_offset_ms);
    let ts = step(&mut c)?;
    let ts = consensio_hlc_timestamp {
        wall_ms: ts.wall_ms,
        logical: ts.logical,
    };
    hlc.last = ts;
    *out = ts;
    Ok(())
}

/// A local or send event at physical time `now_ms`.
///
/// # Safety
/// Both pointers must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hlc_now(
    hlc: *mut consensio_hlc,
    now_ms: u64,
    out: *mut consensio_hlc_timestamp,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, o) = unsafe { (borrow_mut(hlc, "hlc")?, borrow_mut(out, "out")?) };
        hlc_step(h, o, |c| c.now(Instant::from_millis(now_ms)))
    })
}

/// A receive event at physical time `now_ms` of a message stamped `remote`.
/// `CONSENSIO_REJECTED` if `remote` is more than `max_offset_ms` ahead of
/// `now_ms` (the clock is unchanged).
///
/// # Safety
/// Both pointers must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_hlc_receive(
    hlc: *mut consensio_hlc,
    now_ms: u64,
    remote: consensio_hlc_timestamp,
    out: *mut consensio_hlc_timestamp,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, o) = unsafe { (borrow_mut(hlc, "hlc")?, borrow_mut(out, "out")?) };
        let remote = HlcTimestamp {
            wall_ms: remote.wall_ms,
            logical: remote.logical,
        };
        hlc_step(h, o, |c| c.receive(Instant::from_millis(now_ms), remote))
    })
}

/// Offset and delay of one NTP exchange (RFC 5905 §8) from its four
/// timestamps (any one unit). `CONSENSIO_INVALID_ARGUMENT` if `t4 < t1` or
/// `t3 < t2`.
///
/// # Safety
/// Both out-pointers must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ntp_on_wire(
    t1: i64,
    t2: i64,
    t3: i64,
    t4: i64,
    out_offset: *mut i64,
    out_delay: *mut i64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (offset, delay) = unsafe {
            (
                borrow_mut(out_offset, "out_offset")?,
                borrow_mut(out_delay, "out_delay")?,
            )
        };
        let sample = ntp::on_wire(&ntp::Timestamps {
            origin: t1,
            receive: t2,
            transmit: t3,
            destination: t4,
        })?;
        *offset = sample.offset;
        *delay = sample.delay;
        Ok(())
    })
}

/// The clock filter's current estimate.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_ntp_estimate {
    /// Offset of the minimum-delay sample.
    pub offset: i64,
    /// Its delay.
    pub delay: i64,
    /// RMS distance of the other samples' offsets from it.
    pub jitter: u64,
    /// When the chosen sample was taken.
    pub epoch: i64,
}

/// RFC 5905's eight-stage minimum-delay clock filter (opaque).
#[derive(Debug)]
pub struct consensio_ntp_filter {
    filter: ClockFilter,
}

/// Creates an empty clock filter in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ntp_filter_new(
    out: *mut *mut consensio_ntp_filter,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        unsafe {
            give(
                out,
                consensio_ntp_filter {
                    filter: ClockFilter::new(),
                },
            )
        }
    })
}

/// Frees a clock filter; NULL is a no-op.
///
/// # Safety
/// `filter` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ntp_filter_free(filter: *mut consensio_ntp_filter) {
    // SAFETY: forwarded from the caller.
    unsafe { take(filter) }
}

/// Adds a sample taken at `epoch`. `*out_fresh` is set to 1 and `*out` to
/// the new estimate if the minimum-delay sample is newer than the last one
/// offered, else `*out_fresh` is 0 and `*out` is untouched.
///
/// # Safety
/// `filter` must be a live handle; the out-pointers valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_ntp_filter_push(
    filter: *mut consensio_ntp_filter,
    offset: i64,
    delay: i64,
    epoch: i64,
    out_fresh: *mut u8,
    out: *mut consensio_ntp_estimate,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (f, fresh, o) = unsafe {
            (
                borrow_mut(filter, "filter")?,
                borrow_mut(out_fresh, "out_fresh")?,
                borrow_mut(out, "out")?,
            )
        };
        match f.filter.push(ntp::Sample { offset, delay }, epoch) {
            Some(e) => {
                *fresh = 1;
                *o = consensio_ntp_estimate {
                    offset: e.offset,
                    delay: e.delay,
                    jitter: e.jitter,
                    epoch: e.epoch,
                };
            }
            None => *fresh = 0,
        }
        Ok(())
    })
}

/// Cristian's estimate of a server's clock.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct consensio_cristian_result {
    /// Estimated server time when the reply arrived.
    pub server_time: i64,
    /// Server clock minus client clock.
    pub offset: i64,
    /// Bound on the estimate's error (±).
    pub error: i64,
}

/// Cristian's estimate for a request sent at `sent` and answered with
/// `server_time`, received at `received`, given the minimum one-way delay.
///
/// # Safety
/// `out` must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_cristian_estimate(
    sent: i64,
    server_time: i64,
    received: i64,
    min_one_way: i64,
    out: *mut consensio_cristian_result,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        let e = cristian::estimate(sent, server_time, received, min_one_way)?;
        *o = consensio_cristian_result {
            server_time: e.server_time,
            offset: e.offset,
            error: e.error,
        };
        Ok(())
    })
}

/// One Berkeley round: from each clock's offset to the master (`readings`,
/// `n` of them), the fault-tolerant average of the largest group agreeing
/// within `tolerance`, and each clock's adjustment (`adjustments`, `n`).
///
/// # Safety
/// `readings` and `adjustments` must hold `n` elements; the out-pointers
/// must be valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_berkeley_adjustments(
    readings: *const i64,
    n: usize,
    tolerance: u64,
    adjustments: *mut i64,
    out_average: *mut i64,
    out_used: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, a, avg, used) = unsafe {
            (
                slice(readings, n, "readings")?,
                slice_mut(adjustments, n, "adjustments")?,
                borrow_mut(out_average, "out_average")?,
                borrow_mut(out_used, "out_used")?,
            )
        };
        let round = berkeley::adjustments(r, tolerance, a)?;
        *avg = round.average;
        *used = round.used;
        Ok(())
    })
}
