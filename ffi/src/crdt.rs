//! `consensio_gcounter_*`, `consensio_pncounter_*`, `consensio_lww_*`,
//! `consensio_mvreg_*`, `consensio_orset_*`, `consensio_dvvset_*`: the CRDTs of
//! `consensio_core::crdt` as opaque handles, with byte-string values and
//! elements. Every type has `new`, `free`, `merge` (the other state into
//! this one), `encode` (its wire frame, to ship to a replica) and
//! `decode` (a new handle from a frame, `CONSENSIO_MALFORMED` for bytes
//! that are not a state some replica could have built). Updates take the
//! updating replica's id as `actor`; an update that would overflow a
//! counter is `CONSENSIO_OUT_OF_RANGE` and changes nothing.

use consensio_core::NodeId;
use consensio_core::clock::HlcTimestamp;
use consensio_core::clock::VectorClock;
use consensio_core::crdt::{DvvSet, GCounter, Lattice, LwwRegister, MvRegister, OrSet, PnCounter};
use consensio_core::wire::{self, WireMessage};

use crate::clock::consensio_vclock;
use crate::consensio_status::{self, *};
use crate::{Failure, Result, borrow, borrow_mut, copy_out, give, guard, slice, slice_mut, take};

/// What the generic calls below need of a handle.
trait Handle: Sized {
    type State: Lattice + WireMessage + Clone;
    fn state(&self) -> &Self::State;
    fn state_mut(&mut self) -> &mut Self::State;
    fn wrap(state: Self::State) -> Self;
}

/// Hands out a new handle holding `state`.
///
/// # Safety
/// `out` must be writable.
unsafe fn give_new<H: Handle>(state: H::State, out: *mut *mut H) -> consensio_status {
    // SAFETY: forwarded from the caller.
    guard(|| unsafe { give(out, H::wrap(state)) })
}

/// Merges `src` into `dst` (the same handle twice is a no-op merge).
///
/// # Safety
/// Both must be live handles.
unsafe fn merge<H: Handle>(dst: *mut H, src: *const H) -> consensio_status {
    guard(|| {
        if core::ptr::eq(dst.cast_const(), src) {
            // SAFETY: forwarded from the caller.
            unsafe { borrow(src, "src") }?;
            return Ok(());
        }
        // SAFETY: forwarded from the caller; distinct handles.
        let (d, s) = unsafe { (borrow_mut(dst, "dst")?, borrow(src, "src")?) };
        d.state_mut().merge(s.state());
        Ok(())
    })
}

/// Writes the state's wire frame into `buf[0..cap]`.
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes; `out_len`
/// writable.
unsafe fn encode<H: Handle>(
    handle: *const H,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (h, buf, len) = unsafe {
            (
                borrow(handle, "handle")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
            )
        };
        copy_out(&wire::encode_to_vec(h.state())?, buf, len)
    })
}

/// A new handle from a wire frame.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
unsafe fn decode<H: Handle>(bytes: *const u8, len: usize, out: *mut *mut H) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let frame = unsafe { slice(bytes, len, "bytes") }?;
        let state = wire::decode::<H::State>(frame)?;
        // SAFETY: forwarded from the caller.
        unsafe { give(out, H::wrap(state)) }
    })
}

/// Runs `f` on the state of a live handle.
///
/// # Safety
/// `handle` must be live.
unsafe fn update<H: Handle>(
    handle: *mut H,
    f: impl FnOnce(&mut H::State) -> Result<()>,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    guard(|| f(unsafe { borrow_mut(handle, "handle") }?.state_mut()))
}

/// Copies the `index`-th of `items` into `buf[0..cap]`.
fn nth_out<'a>(
    mut items: impl Iterator<Item = &'a Vec<u8>>,
    index: usize,
    buf: &mut [u8],
    out_len: &mut usize,
) -> Result<()> {
    let item = items
        .nth(index)
        .ok_or_else(|| Failure::new(CONSENSIO_OUT_OF_RANGE, format!("no item {index}")))?;
    copy_out(item, buf, out_len)
}

/// A grow-only counter (opaque): one count per replica, merged by maximum.
#[derive(Debug)]
pub struct consensio_gcounter {
    state: GCounter,
}

impl Handle for consensio_gcounter {
    type State = GCounter;
    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn wrap(state: Self::State) -> Self {
        consensio_gcounter { state }
    }
}

/// A new, empty state in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_new(
    out: *mut *mut consensio_gcounter,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { give_new(<GCounter>::default(), out) }
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or live, and not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_free(handle: *mut consensio_gcounter) {
    // SAFETY: forwarded from the caller.
    unsafe { take(handle) }
}

/// Merges `src`'s state into `dst`'s.
///
/// # Safety
/// Both must be live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_merge(
    dst: *mut consensio_gcounter,
    src: *const consensio_gcounter,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { merge(dst, src) }
}

/// Writes the state's wire frame into `buf[0..cap]` and its length to
/// `*out_len` (also when `CONSENSIO_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_encode(
    handle: *const consensio_gcounter,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { encode(handle, buf, cap, out_len) }
}

/// A new handle from the wire frame `bytes[0..len]`.
/// `CONSENSIO_MALFORMED` for bytes that are not such a state.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_gcounter,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { decode(bytes, len, out) }
}

/// A counter that grows and shrinks (opaque).
#[derive(Debug)]
pub struct consensio_pncounter {
    state: PnCounter,
}

impl Handle for consensio_pncounter {
    type State = PnCounter;
    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn wrap(state: Self::State) -> Self {
        consensio_pncounter { state }
    }
}

/// A new, empty state in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_new(
    out: *mut *mut consensio_pncounter,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { give_new(<PnCounter>::default(), out) }
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or live, and not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_free(handle: *mut consensio_pncounter) {
    // SAFETY: forwarded from the caller.
    unsafe { take(handle) }
}

/// Merges `src`'s state into `dst`'s.
///
/// # Safety
/// Both must be live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_merge(
    dst: *mut consensio_pncounter,
    src: *const consensio_pncounter,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { merge(dst, src) }
}

/// Writes the state's wire frame into `buf[0..cap]` and its length to
/// `*out_len` (also when `CONSENSIO_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_encode(
    handle: *const consensio_pncounter,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { encode(handle, buf, cap, out_len) }
}

/// A new handle from the wire frame `bytes[0..len]`.
/// `CONSENSIO_MALFORMED` for bytes that are not such a state.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_pncounter,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { decode(bytes, len, out) }
}

/// A last-writer-wins register of bytes, ordered by hybrid logical clock timestamp, then writer, then value (opaque).
#[derive(Debug)]
pub struct consensio_lww {
    state: LwwRegister<Vec<u8>>,
}

impl Handle for consensio_lww {
    type State = LwwRegister<Vec<u8>>;
    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn wrap(state: Self::State) -> Self {
        consensio_lww { state }
    }
}

/// A new, empty state in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_new(out: *mut *mut consensio_lww) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { give_new(<LwwRegister<Vec<u8>>>::default(), out) }
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or live, and not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_free(handle: *mut consensio_lww) {
    // SAFETY: forwarded from the caller.
    unsafe { take(handle) }
}

/// Merges `src`'s state into `dst`'s.
///
/// # Safety
/// Both must be live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_merge(
    dst: *mut consensio_lww,
    src: *const consensio_lww,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { merge(dst, src) }
}

/// Writes the state's wire frame into `buf[0..cap]` and its length to
/// `*out_len` (also when `CONSENSIO_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_encode(
    handle: *const consensio_lww,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { encode(handle, buf, cap, out_len) }
}

/// A new handle from the wire frame `bytes[0..len]`.
/// `CONSENSIO_MALFORMED` for bytes that are not such a state.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_lww,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { decode(bytes, len, out) }
}

/// A multi-value register of bytes: concurrent writes are kept as siblings (opaque).
#[derive(Debug)]
pub struct consensio_mvreg {
    state: MvRegister<Vec<u8>>,
}

impl Handle for consensio_mvreg {
    type State = MvRegister<Vec<u8>>;
    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn wrap(state: Self::State) -> Self {
        consensio_mvreg { state }
    }
}

/// A new, empty state in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_new(out: *mut *mut consensio_mvreg) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { give_new(<MvRegister<Vec<u8>>>::default(), out) }
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or live, and not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_free(handle: *mut consensio_mvreg) {
    // SAFETY: forwarded from the caller.
    unsafe { take(handle) }
}

/// Merges `src`'s state into `dst`'s.
///
/// # Safety
/// Both must be live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_merge(
    dst: *mut consensio_mvreg,
    src: *const consensio_mvreg,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { merge(dst, src) }
}

/// Writes the state's wire frame into `buf[0..cap]` and its length to
/// `*out_len` (also when `CONSENSIO_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_encode(
    handle: *const consensio_mvreg,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { encode(handle, buf, cap, out_len) }
}

/// A new handle from the wire frame `bytes[0..len]`.
/// `CONSENSIO_MALFORMED` for bytes that are not such a state.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_mvreg,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { decode(bytes, len, out) }
}

/// An observed-remove set of byte strings, add-wins, without tombstones (opaque).
#[derive(Debug)]
pub struct consensio_orset {
    state: OrSet<Vec<u8>>,
}

impl Handle for consensio_orset {
    type State = OrSet<Vec<u8>>;
    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn wrap(state: Self::State) -> Self {
        consensio_orset { state }
    }
}

/// A new, empty state in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_new(out: *mut *mut consensio_orset) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { give_new(<OrSet<Vec<u8>>>::default(), out) }
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or live, and not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_free(handle: *mut consensio_orset) {
    // SAFETY: forwarded from the caller.
    unsafe { take(handle) }
}

/// Merges `src`'s state into `dst`'s.
///
/// # Safety
/// Both must be live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_merge(
    dst: *mut consensio_orset,
    src: *const consensio_orset,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { merge(dst, src) }
}

/// Writes the state's wire frame into `buf[0..cap]` and its length to
/// `*out_len` (also when `CONSENSIO_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_encode(
    handle: *const consensio_orset,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { encode(handle, buf, cap, out_len) }
}

/// A new handle from the wire frame `bytes[0..len]`.
/// `CONSENSIO_MALFORMED` for bytes that are not such a state.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_orset,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { decode(bytes, len, out) }
}

/// A dotted version vector set of byte strings: the siblings of one key and their causal history (opaque).
#[derive(Debug)]
pub struct consensio_dvvset {
    state: DvvSet<Vec<u8>>,
}

impl Handle for consensio_dvvset {
    type State = DvvSet<Vec<u8>>;
    fn state(&self) -> &Self::State {
        &self.state
    }
    fn state_mut(&mut self) -> &mut Self::State {
        &mut self.state
    }
    fn wrap(state: Self::State) -> Self {
        consensio_dvvset { state }
    }
}

/// A new, empty state in `*out`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_new(out: *mut *mut consensio_dvvset) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { give_new(<DvvSet<Vec<u8>>>::default(), out) }
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `handle` must be NULL or live, and not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_free(handle: *mut consensio_dvvset) {
    // SAFETY: forwarded from the caller.
    unsafe { take(handle) }
}

/// Merges `src`'s state into `dst`'s.
///
/// # Safety
/// Both must be live handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_merge(
    dst: *mut consensio_dvvset,
    src: *const consensio_dvvset,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { merge(dst, src) }
}

/// Writes the state's wire frame into `buf[0..cap]` and its length to
/// `*out_len` (also when `CONSENSIO_BUFFER_TOO_SMALL`).
///
/// # Safety
/// `handle` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_encode(
    handle: *const consensio_dvvset,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { encode(handle, buf, cap, out_len) }
}

/// A new handle from the wire frame `bytes[0..len]`.
/// `CONSENSIO_MALFORMED` for bytes that are not such a state.
///
/// # Safety
/// `bytes` must hold `len` readable bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut consensio_dvvset,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { decode(bytes, len, out) }
}

/// Adds `by` to replica `actor`'s count.
///
/// # Safety
/// `counter` must be live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_increment(
    counter: *mut consensio_gcounter,
    actor: u64,
    by: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(counter, |s| Ok(s.increment(NodeId(actor), by)?)) }
}

/// The counter's value in `*out`; `CONSENSIO_OUT_OF_RANGE` if it exceeds
/// 2^64 - 1 (the sum over many replicas can).
///
/// # Safety
/// `counter` must be live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_gcounter_value(
    counter: *const consensio_gcounter,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, o) = unsafe { (borrow(counter, "counter")?, borrow_mut(out, "out")?) };
        *o = u64::try_from(c.state.value())
            .map_err(|_| Failure::new(CONSENSIO_OUT_OF_RANGE, "the sum exceeds 2^64 - 1"))?;
        Ok(())
    })
}

/// Adds `by` on behalf of replica `actor`.
///
/// # Safety
/// `counter` must be live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_increment(
    counter: *mut consensio_pncounter,
    actor: u64,
    by: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(counter, |s| Ok(s.increment(NodeId(actor), by)?)) }
}

/// Subtracts `by` on behalf of replica `actor`.
///
/// # Safety
/// `counter` must be live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_decrement(
    counter: *mut consensio_pncounter,
    actor: u64,
    by: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(counter, |s| Ok(s.decrement(NodeId(actor), by)?)) }
}

/// The counter's value in `*out`; `CONSENSIO_OUT_OF_RANGE` outside the
/// range of `int64_t`.
///
/// # Safety
/// `counter` must be live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_pncounter_value(
    counter: *const consensio_pncounter,
    out: *mut i64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (c, o) = unsafe { (borrow(counter, "counter")?, borrow_mut(out, "out")?) };
        *o = i64::try_from(c.state.value())
            .map_err(|_| Failure::new(CONSENSIO_OUT_OF_RANGE, "the value is outside int64_t"))?;
        Ok(())
    })
}

/// Writes `value[0..len]` at hybrid timestamp (`wall_ms`, `logical`) by
/// replica `writer`; `*out_applied` 0 (and nothing changes) if the
/// register holds a write ordered after it.
///
/// # Safety
/// `register` must be live; `value` hold `len` bytes; `out_applied`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_set(
    register: *mut consensio_lww,
    wall_ms: u64,
    logical: u32,
    writer: u64,
    value: *const u8,
    len: usize,
    out_applied: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, v, o) = unsafe {
            (
                borrow_mut(register, "register")?,
                slice(value, len, "value")?,
                borrow_mut(out_applied, "out_applied")?,
            )
        };
        let stamp = HlcTimestamp { wall_ms, logical };
        *o = u8::from(r.state.set(stamp, NodeId(writer), v.to_vec()));
        Ok(())
    })
}

/// Copies the winning value into `buf[0..cap]` (its length to `*out_len`),
/// with its timestamp and writer; `*out_has` 0 for a register never
/// written.
///
/// # Safety
/// `register` must be live; `buf` hold `cap` writable bytes (or be NULL
/// with `cap` 0); the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_lww_get(
    register: *const consensio_lww,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_has: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, buf, len, has) = unsafe {
            (
                borrow(register, "register")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
                borrow_mut(out_has, "out_has")?,
            )
        };
        *has = u8::from(r.state.get().is_some());
        *len = 0;
        match r.state.get() {
            Some(v) => copy_out(v, buf, len),
            None => Ok(()),
        }
    })
}

/// Writes `value[0..len]` at replica `actor`, replacing every sibling.
///
/// # Safety
/// `register` must be live; `value` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_write(
    register: *mut consensio_mvreg,
    actor: u64,
    value: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller (both).
    unsafe {
        update(register, |s| {
            let value = slice(value, len, "value")?.to_vec();
            Ok(s.write(NodeId(actor), value)?)
        })
    }
}

/// How many siblings the register holds (0 if never written).
///
/// # Safety
/// `register` must be live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_count(
    register: *const consensio_mvreg,
    out: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, o) = unsafe { (borrow(register, "register")?, borrow_mut(out, "out")?) };
        *o = r.state.siblings().len();
        Ok(())
    })
}

/// Copies sibling `index` (in the register's order) into `buf[0..cap]`.
/// `CONSENSIO_OUT_OF_RANGE` past the last.
///
/// # Safety
/// `register` must be live; `buf` hold `cap` writable bytes (or be NULL
/// with `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_mvreg_value(
    register: *const consensio_mvreg,
    index: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, buf, len) = unsafe {
            (
                borrow(register, "register")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
            )
        };
        nth_out(r.state.values(), index, buf, len)
    })
}

/// Adds `element[0..len]` at replica `actor`.
///
/// # Safety
/// `set` must be live; `element` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_add(
    set: *mut consensio_orset,
    actor: u64,
    element: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller (both).
    unsafe {
        update(set, |s| {
            let element = slice(element, len, "element")?.to_vec();
            Ok(s.add(NodeId(actor), element)?)
        })
    }
}

/// Removes `element[0..len]` (every add of it this replica has seen);
/// `*out_removed` 0 if it was not in the set.
///
/// # Safety
/// `set` must be live; `element` hold `len` bytes; `out_removed` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_remove(
    set: *mut consensio_orset,
    element: *const u8,
    len: usize,
    out_removed: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (s, e, o) = unsafe {
            (
                borrow_mut(set, "set")?,
                slice(element, len, "element")?,
                borrow_mut(out_removed, "out_removed")?,
            )
        };
        *o = u8::from(s.state.remove(&e.to_vec()));
        Ok(())
    })
}

/// Whether `element[0..len]` is in the set.
///
/// # Safety
/// `set` must be live; `element` hold `len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_contains(
    set: *const consensio_orset,
    element: *const u8,
    len: usize,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (s, e, o) = unsafe {
            (
                borrow(set, "set")?,
                slice(element, len, "element")?,
                borrow_mut(out, "out")?,
            )
        };
        *o = u8::from(s.state.contains(&e.to_vec()));
        Ok(())
    })
}

/// How many elements the set holds.
///
/// # Safety
/// `set` must be live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_count(
    set: *const consensio_orset,
    out: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (s, o) = unsafe { (borrow(set, "set")?, borrow_mut(out, "out")?) };
        *o = s.state.len();
        Ok(())
    })
}

/// Copies element `index` (in sorted order) into `buf[0..cap]`.
/// `CONSENSIO_OUT_OF_RANGE` past the last.
///
/// # Safety
/// `set` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_orset_element(
    set: *const consensio_orset,
    index: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (s, buf, len) = unsafe {
            (
                borrow(set, "set")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
            )
        };
        nth_out(s.state.elements(), index, buf, len)
    })
}

/// Server `server` writes `value[0..len]` from a client that read
/// `context` (a vector clock from [`consensio_dvvset_context`]; NULL: a
/// client that read nothing): the siblings `context` saw are replaced.
///
/// # Safety
/// `set` must be live; `context` NULL or live; `value` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_put(
    set: *mut consensio_dvvset,
    context: *const consensio_vclock,
    server: u64,
    value: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller (all three).
    unsafe {
        update(set, |s| {
            let value = slice(value, len, "value")?.to_vec();
            let empty = VectorClock::new();
            let read = if context.is_null() {
                &empty
            } else {
                &borrow(context, "context")?.clock
            };
            Ok(s.put(read, NodeId(server), value)?)
        })
    }
}

/// The set's causal context, for a client to pass back with its next
/// write, as a new vector clock handle in `*out`.
///
/// # Safety
/// `set` must be live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_context(
    set: *const consensio_dvvset,
    out: *mut *mut consensio_vclock,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let s = unsafe { borrow(set, "set") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            give(
                out,
                consensio_vclock {
                    clock: s.state.context(),
                },
            )
        }
    })
}

/// How many siblings the set holds.
///
/// # Safety
/// `set` must be live; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_count(
    set: *const consensio_dvvset,
    out: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (s, o) = unsafe { (borrow(set, "set")?, borrow_mut(out, "out")?) };
        *o = s.state.len();
        Ok(())
    })
}

/// Copies sibling `index` into `buf[0..cap]`. `CONSENSIO_OUT_OF_RANGE`
/// past the last.
///
/// # Safety
/// `set` must be live; `buf` hold `cap` writable bytes (or be NULL with
/// `cap` 0); `out_len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_dvvset_value(
    set: *const consensio_dvvset,
    index: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (s, buf, len) = unsafe {
            (
                borrow(set, "set")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
            )
        };
        nth_out(s.state.values(), index, buf, len)
    })
}
