//! `consensio_paxos_*`: Multi-Paxos from C, as `consensio_participant`
//! handles. Records are byte strings (wire frames of kind `PAXOS_RECORD`):
//! keep every one, in the order polled, and pass them all to
//! [`consensio_paxos_restore`] after a crash.
//!
//! `consensio_paxos_single_*`: single-decree Paxos, the teaching form
//! (records of kind `PAXOS_SINGLE_RECORD`, restored with
//! [`consensio_paxos_single_restore`]).

use consensio_core::paxos::{
    self, Ballot, Command, Event, KvNode, MAX_MEMBERS, PaxosNode, Persist, Role, SingleDecree,
    single,
};
use consensio_core::raft::{self, KvLimits};
use consensio_core::{NodeId, Restore, wire};

use crate::consensio_status;
use crate::participant::{
    Driver, Fill, Surface, any_driver, command, consensio_participant, decode_records, driver,
    give_participant, give_participant_with, give_restored, members, optional, wrong_handle,
};
use crate::{Failure, Result, borrow, borrow_mut, copy_out, guard, slice, slice_mut};

/// A Multi-Paxos node's configuration. Start from
/// [`consensio_paxos_default_config`] and adjust; every node of a cluster
/// should use the same timings and bounds.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_paxos_config {
    /// This node's id: one of the members, above 0.
    pub id: u64,
    /// Seed of the node's PRNG (timeouts and backoff).
    pub seed: u64,
    /// A leader sends heartbeats this often.
    pub heartbeat_interval_ms: u64,
    /// Election timeouts are drawn from `[min, max]` milliseconds: a
    /// follower that hears no leader that long asks to start phase 1, and
    /// a leader that hears from no majority for `max` steps down.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the election timeout.
    pub election_timeout_max_ms: u64,
    /// After the `n`th preemption in a row, a proposer waits up to
    /// `min(backoff_max, backoff_base × 2ⁿ)` ms more, at random.
    pub backoff_base_ms: u64,
    /// Cap of the backoff.
    pub backoff_max_ms: u64,
    /// Slots the leader may have in flight beyond its first unchosen one.
    pub window: u64,
    /// Values per message.
    pub max_batch: u64,
    /// Proposals the leader queues while the window is full.
    pub max_pending: u64,
    /// Slots the log may hold.
    pub max_log_entries: u64,
    /// Longest value, bytes (at most 1 MiB).
    pub max_proposal_bytes: u64,
}

/// What a Paxos node currently is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_paxos_node_role {
    /// Accepts and learns.
    CONSENSIO_PAXOS_FOLLOWER = 0,
    /// Runs phase 1 under its ballot.
    CONSENSIO_PAXOS_CANDIDATE = 1,
    /// A majority adopted its ballot: it proposes.
    CONSENSIO_PAXOS_LEADER = 2,
}

/// The events of a Paxos node (`consensio_output.event`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_paxos_event {
    /// `data[0..len]` is chosen at slot `values[0]` (empty: a no-op, apply
    /// it as nothing). Every slot from 1 comes once, in order; a restored
    /// node reports them again from 1.
    CONSENSIO_PAXOS_CHOSEN = 1,
    /// A majority adopted this node's ballot (round `values[0]`, node
    /// `peer`, this one): it leads, and proposals go to it now.
    CONSENSIO_PAXOS_ADOPTED = 2,
    /// This node stopped leading under ballot (round `values[0]`, node
    /// `peer`). Its proposals not yet reported chosen may or may not be
    /// chosen later.
    CONSENSIO_PAXOS_STEPPED_DOWN = 3,
    /// A restarted node starts from its latest snapshot: load
    /// [`consensio_paxos_snapshot`] into the application, which then holds
    /// every slot through `values[0]`; `CHOSEN` goes on after it. The first
    /// output of a restore from a snapshot record.
    CONSENSIO_PAXOS_SNAPSHOT = 4,
}

impl Surface for PaxosNode {
    const FAMILY: &'static str = "paxos";

    fn persist(record: Persist, fill: &mut Fill<'_>) -> Result<()> {
        *fill.data = wire::encode_to_vec(&record)?;
        Ok(())
    }

    fn event(event: Event, fill: &mut Fill<'_>) -> Result<()> {
        use consensio_paxos_event::*;
        let ballot = |fill: &mut Fill<'_>, code: consensio_paxos_event, b: Ballot| {
            let out = fill.event(code as u32);
            (out.peer, out.values[0]) = (b.node.0, b.round);
        };
        match event {
            Event::Chosen { slot, value } => {
                fill.event(CONSENSIO_PAXOS_CHOSEN as u32).values[0] = slot;
                *fill.data = value;
            }
            Event::Adopted { ballot: b } => ballot(fill, CONSENSIO_PAXOS_ADOPTED, b),
            Event::Snapshot { upto } => {
                fill.event(CONSENSIO_PAXOS_SNAPSHOT as u32).values[0] = upto;
            }
            Event::SteppedDown { ballot: b } => ballot(fill, CONSENSIO_PAXOS_STEPPED_DOWN, b),
        }
        Ok(())
    }
}

/// The default configuration for node `id`: heartbeats every 50 ms,
/// election timeouts of 150–300 ms, backoff from 20 ms up to 2 s, 256 slots
/// in flight, 64 values per message, 4,096 queued proposals, a log of
/// 1,000,000 slots, values up to 64 KiB, and `seed` equal to `id`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_default_config(
    id: u64,
    out: *mut consensio_paxos_config,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        let c = paxos::Config::new(NodeId(id), &[]);
        *o = consensio_paxos_config {
            id,
            seed: c.seed,
            heartbeat_interval_ms: c.heartbeat_interval_ms,
            election_timeout_min_ms: c.election_timeout_min_ms,
            election_timeout_max_ms: c.election_timeout_max_ms,
            backoff_base_ms: c.backoff_base_ms,
            backoff_max_ms: c.backoff_max_ms,
            window: c.window,
            max_batch: c.max_batch as u64,
            max_pending: c.max_pending as u64,
            max_log_entries: c.max_log_entries,
            max_proposal_bytes: c.max_proposal_bytes as u64,
        };
        Ok(())
    })
}

/// The core configuration from the C one and the member list.
///
/// # Safety
/// `config` must be valid; `ids` hold `n` ids.
unsafe fn configure(
    config: *const consensio_paxos_config,
    ids: *const u64,
    n: usize,
) -> Result<paxos::Config> {
    // SAFETY: forwarded from the caller.
    let (c, ids) = unsafe { (borrow(config, "config")?, members(ids, n, MAX_MEMBERS)?) };
    let widen = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok(paxos::Config {
        id: NodeId(c.id),
        members: ids,
        heartbeat_interval_ms: c.heartbeat_interval_ms,
        election_timeout_min_ms: c.election_timeout_min_ms,
        election_timeout_max_ms: c.election_timeout_max_ms,
        backoff_base_ms: c.backoff_base_ms,
        backoff_max_ms: c.backoff_max_ms,
        window: c.window,
        max_batch: widen(c.max_batch),
        max_pending: widen(c.max_pending),
        max_log_entries: c.max_log_entries,
        max_proposal_bytes: widen(c.max_proposal_bytes),
        seed: c.seed,
    })
}

/// Creates a fresh node (no records) of `members` (which must include
/// `config->id`; at most 64, ids above 0). A message from a sender outside
/// `members`, or from the node itself, is refused with
/// `CONSENSIO_INVALID_ARGUMENT` (nothing changes). `CONSENSIO_INVALID_ARGUMENT`
/// for an unusable configuration.
///
/// # Safety
/// `config` must be valid, `members` hold `n` ids, `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_new(
    config: *const consensio_paxos_config,
    members: *const u64,
    n: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let node = PaxosNode::new(unsafe { configure(config, members, n) }?)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant(node, out) }
    })
}

/// Rebuilds a node after a restart from the `count` records it persisted,
/// in the order they were polled: record `i` is `records[i][0..lens[i]]`.
/// Its first outputs report its chosen prefix again, from slot 1.
/// `CONSENSIO_MALFORMED` for bytes that are not a record, or a record that
/// does not fit the configuration.
///
/// # Safety
/// As [`consensio_paxos_new`]; `records` and `lens` hold `count`
/// elements, and each `records[i]` `lens[i]` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_restore(
    config: *const consensio_paxos_config,
    members: *const u64,
    n: usize,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let config = unsafe { configure(config, members, n) }?;
        // SAFETY: forwarded from the caller.
        unsafe { give_restored::<PaxosNode>(config, records, lens, count, out) }
    })
}

/// Proposes `data[0..len]` (not empty: the empty value is the no-op) on
/// the leader; `CHOSEN` reports it once chosen. `CONSENSIO_REJECTED` on a
/// node that is not the leader (see [`consensio_paxos_leader`]);
/// `CONSENSIO_INVALID_ARGUMENT` for an empty value;
/// `CONSENSIO_LIMIT_EXCEEDED` if the value is over `max_proposal_bytes`, too
/// many proposals wait, or the log is full. Nothing changes on an error.
///
/// # Safety
/// `paxos` must be a live handle; `data` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_propose(
    paxos: *mut consensio_participant,
    now_ms: u64,
    data: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<PaxosNode>(paxos, now_ms, || {
            Ok(Command::Propose(slice(data, len, "data")?.to_vec()))
        })
    }
}

/// Hands the node the application's state through slot `upto` (at most
/// the last slot reported `CHOSEN`): it writes a snapshot record that
/// replaces every record before it, so the host may delete those once it
/// is durable ([`consensio_paxos_record_is_snapshot`]). A restarted node
/// starts from it (`CONSENSIO_PAXOS_SNAPSHOT`). `CONSENSIO_INVALID_ARGUMENT`
/// for an `upto` past the last slot applied.
///
/// # Safety
/// `paxos` must be a live handle; `data` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_compact(
    paxos: *mut consensio_participant,
    now_ms: u64,
    upto: u64,
    data: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<PaxosNode>(paxos, now_ms, || {
            Ok(Command::Compact {
                upto,
                snapshot: slice(data, len, "data")?.to_vec(),
            })
        })
    }
}

/// Whether `record[0..len]` (a record polled from a Paxos node) is a
/// snapshot record: once it is durable, the records before it may be
/// deleted. `CONSENSIO_MALFORMED` if it is not a record.
///
/// # Safety
/// `record` must hold `len` bytes; `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_record_is_snapshot(
    record: *const u8,
    len: usize,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (bytes, o) = unsafe { (slice(record, len, "record")?, borrow_mut(out, "out")?) };
        *o = u8::from(matches!(
            wire::decode::<Persist>(bytes)?,
            Persist::Snapshot { .. }
        ));
        Ok(())
    })
}

/// Copies the node's latest snapshot (given with
/// [`consensio_paxos_compact`] or restored) into `buf[0..cap]`: its length
/// to `*out_len`, the last slot it covers to `*out_upto`; `*out_has` 0 if
/// there is none. `CONSENSIO_BUFFER_TOO_SMALL` if `cap` is short:
/// `*out_len` then says how much is needed.
///
/// # Safety
/// `paxos` must be a live handle; `buf` hold `cap` bytes; the
/// out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_snapshot(
    paxos: *const consensio_participant,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_upto: *mut u64,
    out_has: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (buf, len, upto, has) = unsafe {
            (
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
                borrow_mut(out_upto, "out_upto")?,
                borrow_mut(out_has, "out_has")?,
            )
        };
        // SAFETY: forwarded from the caller.
        let snapshot =
            unsafe { with_paxos(paxos, |n| n.snapshot().map(|(u, d)| (u, d.to_vec()))) }?;
        *has = u8::from(snapshot.is_some());
        *len = 0;
        match snapshot {
            Some((u, data)) => {
                *upto = u;
                copy_out(&data, buf, len)
            }
            None => Ok(()),
        }
    })
}

/// Starts phase 1 now, as if the leader had been lost (without asking the
/// peers first, as an election timeout does).
///
/// # Safety
/// `paxos` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_campaign(
    paxos: *mut consensio_participant,
    now_ms: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { command::<PaxosNode>(paxos, now_ms, || Ok(Command::Campaign)) }
}

/// Reads the Paxos node of a handle, bare or with the key-value store.
///
/// # Safety
/// `handle` must be NULL or a live handle.
unsafe fn with_paxos<T>(
    handle: *const consensio_participant,
    read: impl FnOnce(&PaxosNode) -> T,
) -> Result<T> {
    // SAFETY: forwarded from the caller.
    let (any, family) = unsafe { any_driver(handle) }?;
    if let Some(d) = any.downcast_ref::<Driver<PaxosNode>>() {
        Ok(d.with(read))
    } else if let Some(d) = any.downcast_ref::<Driver<KvNode>>() {
        Ok(d.with(|n| read(n.paxos())))
    } else {
        Err(wrong_handle(family, "paxos", "PaxosNode"))
    }
}

/// The node's role (of a bare node or a key-value node, as every query
/// below).
///
/// # Safety
/// `paxos` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_role(
    paxos: *const consensio_participant,
    out: *mut consensio_paxos_node_role,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        // SAFETY: forwarded from the caller.
        *o = unsafe {
            with_paxos(paxos, |n| match n.role() {
                Role::Follower => consensio_paxos_node_role::CONSENSIO_PAXOS_FOLLOWER,
                Role::Candidate => consensio_paxos_node_role::CONSENSIO_PAXOS_CANDIDATE,
                Role::Leader => consensio_paxos_node_role::CONSENSIO_PAXOS_LEADER,
            })
        }?;
        Ok(())
    })
}

/// The leader this node follows (itself when it leads): `*out_has` is 0
/// while it knows none.
///
/// # Safety
/// `paxos` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_leader(
    paxos: *const consensio_participant,
    out_has: *mut u8,
    out_leader: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (has, leader) = unsafe {
            (
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_leader, "out_leader")?,
            )
        };
        // SAFETY: forwarded from the caller.
        let l = unsafe { with_paxos(paxos, |n| n.leader().map(|l| l.0)) }?;
        optional(l, has, leader);
        Ok(())
    })
}

/// The first slot not known to be chosen: every slot below it is.
///
/// # Safety
/// `paxos` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_first_unchosen(
    paxos: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        // SAFETY: forwarded from the caller.
        *o = unsafe { with_paxos(paxos, PaxosNode::first_unchosen) }?;
        Ok(())
    })
}

/// Copies the value chosen at `slot` into `buf[0..cap]` and its length to
/// `*out_len` (`*out_has` 0 if this node does not know it; an empty value
/// is a no-op). `CONSENSIO_BUFFER_TOO_SMALL` if `cap` is short:
/// `*out_len` then says how much is needed.
///
/// # Safety
/// `paxos` must be a live handle; `buf` hold `cap` bytes; the
/// out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_chosen(
    paxos: *const consensio_participant,
    slot: u64,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_has: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (buf, len, has) = unsafe {
            (
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
                borrow_mut(out_has, "out_has")?,
            )
        };
        // SAFETY: forwarded from the caller.
        let value = unsafe { with_paxos(paxos, |n| n.chosen(slot).map(<[u8]>::to_vec)) }?;
        *has = u8::from(value.is_some());
        *len = 0;
        match value {
            Some(v) => copy_out(&v, buf, len),
            None => Ok(()),
        }
    })
}

/// The key-value store on Multi-Paxos: Raft's store and sessions, driven by
/// the same calls (`consensio_kv_open_session`, `consensio_kv_put`,
/// `consensio_kv_delete`, `consensio_kv_cas`, `consensio_kv_get`) and
/// answered with the same `CONSENSIO_KV_REPLY` events; the Paxos events
/// pass through with their own numbers.
impl Surface for KvNode {
    const FAMILY: &'static str = "paxos";

    fn persist(record: Persist, fill: &mut Fill<'_>) -> Result<()> {
        <PaxosNode as Surface>::persist(record, fill)
    }

    fn event(event: paxos::kv::Event, fill: &mut Fill<'_>) -> Result<()> {
        match event {
            paxos::kv::Event::Paxos(event) => <PaxosNode as Surface>::event(event, fill),
            paxos::kv::Event::Reply { id, result } => {
                crate::raft::kv_reply(id, result, fill);
                Ok(())
            }
        }
    }
}

/// A store command of the `consensio_kv_*` calls, for Paxos's store: reads
/// go through the log whatever their `lease` flag; leadership transfers
/// and membership changes are Raft's alone.
pub(crate) fn kv_command(command: raft::kv::Command) -> Result<paxos::kv::Command> {
    use paxos::kv::Command as Paxos;
    use raft::kv::Command as Raft;
    Ok(match command {
        Raft::OpenSession { id } => Paxos::OpenSession { id },
        Raft::Write {
            id,
            client,
            seq,
            op,
        } => Paxos::Write {
            id,
            client,
            seq,
            op,
        },
        Raft::Get { id, key, .. } => Paxos::Get { id, key },
        _ => {
            return Err(Failure::new(
                consensio_status::CONSENSIO_INVALID_ARGUMENT,
                "Paxos's key-value store has no leadership transfer or membership change",
            ));
        }
    })
}

/// Creates a fresh node of `members` with the key-value store on it, with
/// the store's `limits` (every node of a cluster must use the same). Drive
/// it with the `consensio_kv_*` commands: each gets exactly one
/// `CONSENSIO_KV_REPLY` (see `consensio_kv_new` for the replies and the
/// exactly-once rule of sessions). Reads are linearizable: they go through
/// the log. `CONSENSIO_INVALID_ARGUMENT` for an unusable configuration.
///
/// # Safety
/// `config` and `limits` must be valid, `members` hold `n` ids, `out` be
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_kv_new(
    config: *const consensio_paxos_config,
    limits: *const crate::raft::consensio_kv_limits,
    members: *const u64,
    n: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (config, limits) = unsafe {
            (
                configure(config, members, n)?,
                KvLimits::from(borrow(limits, "limits")?),
            )
        };
        let node = KvNode::new(config, limits)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant_with(node, limits, out) }
    })
}

/// Rebuilds a key-value node after a restart from the `count` records it
/// persisted, in the order polled (as [`consensio_paxos_restore`]); its
/// store is rebuilt from the chosen prefix they hold, reported again from
/// slot 1.
///
/// # Safety
/// As [`consensio_paxos_kv_new`]; `records` and `lens` hold `count`
/// elements, and each `records[i]` `lens[i]` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_kv_restore(
    config: *const consensio_paxos_config,
    limits: *const crate::raft::consensio_kv_limits,
    members: *const u64,
    n: usize,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (config, limits, decoded) = unsafe {
            (
                configure(config, members, n)?,
                KvLimits::from(borrow(limits, "limits")?),
                decode_records::<Persist>(records, lens, count)?,
            )
        };
        let node = KvNode::restore((config, limits), &decoded)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant_with(node, limits, out) }
    })
}

/// A single-decree Paxos node's configuration. Start from
/// [`consensio_paxos_single_default_config`] and adjust.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_paxos_single_config {
    /// This node's id: one of the members, above 0.
    pub id: u64,
    /// Seed of the node's PRNG (retries and backoff).
    pub seed: u64,
    /// An attempt unfinished after a time drawn from `[min, max]` ms is
    /// tried again with a higher ballot; an undecided node that saw the
    /// protocol run asks its peers for the outcome as often.
    pub retry_min_ms: u64,
    /// Upper bound of the retry time.
    pub retry_max_ms: u64,
    /// After the `n`th preemption in a row, a proposer waits up to
    /// `min(backoff_max, backoff_base × 2ⁿ)` ms, at random, before it
    /// tries again (0 and 0: at once, the textbook proposer that can
    /// livelock).
    pub backoff_base_ms: u64,
    /// Cap of the backoff.
    pub backoff_max_ms: u64,
    /// Longest value, bytes (at most 1 MiB).
    pub max_value_bytes: u64,
}

/// The events of a single-decree node (`consensio_output.event`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_paxos_single_event {
    /// `data[0..len]` is chosen; once per life (a restored node that
    /// recorded it reports it again first).
    CONSENSIO_PAXOS_SINGLE_CHOSEN = 1,
    /// This node's attempt at ballot (round `values[0]`, this node) was
    /// refused: an acceptor promised the higher ballot (round `values[1]`,
    /// node `peer`). It tries again after its backoff.
    CONSENSIO_PAXOS_SINGLE_PREEMPTED = 2,
}

impl Surface for SingleDecree {
    const FAMILY: &'static str = "paxos";

    fn persist(record: single::Persist, fill: &mut Fill<'_>) -> Result<()> {
        *fill.data = wire::encode_to_vec(&record)?;
        Ok(())
    }

    fn event(event: single::Event, fill: &mut Fill<'_>) -> Result<()> {
        use consensio_paxos_single_event::*;
        match event {
            single::Event::Chosen { value } => {
                fill.event(CONSENSIO_PAXOS_SINGLE_CHOSEN as u32);
                *fill.data = value;
            }
            single::Event::Preempted { ballot, by } => {
                let out = fill.event(CONSENSIO_PAXOS_SINGLE_PREEMPTED as u32);
                out.values[0] = ballot.round;
                out.values[1] = by.round;
                out.peer = by.node.0;
            }
        }
        Ok(())
    }
}

/// The default configuration for node `id`: retries after 100–200 ms,
/// backoff from 20 ms up to 2 s, values up to 64 KiB, and `seed` equal to
/// `id`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_single_default_config(
    id: u64,
    out: *mut consensio_paxos_single_config,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        let c = single::Config::new(NodeId(id), &[]);
        *o = consensio_paxos_single_config {
            id,
            seed: c.seed,
            retry_min_ms: c.retry_min_ms,
            retry_max_ms: c.retry_max_ms,
            backoff_base_ms: c.backoff_base_ms,
            backoff_max_ms: c.backoff_max_ms,
            max_value_bytes: c.max_value_bytes as u64,
        };
        Ok(())
    })
}

/// The core configuration from the C one and the member list.
///
/// # Safety
/// `config` must be valid; `ids` hold `n` ids.
unsafe fn configure_single(
    config: *const consensio_paxos_single_config,
    ids: *const u64,
    n: usize,
) -> Result<single::Config> {
    // SAFETY: forwarded from the caller.
    let (c, ids) = unsafe { (borrow(config, "config")?, members(ids, n, MAX_MEMBERS)?) };
    Ok(single::Config {
        id: NodeId(c.id),
        members: ids,
        retry_min_ms: c.retry_min_ms,
        retry_max_ms: c.retry_max_ms,
        backoff_base_ms: c.backoff_base_ms,
        backoff_max_ms: c.backoff_max_ms,
        max_value_bytes: usize::try_from(c.max_value_bytes).unwrap_or(usize::MAX),
        seed: c.seed,
    })
}

/// Creates a fresh single-decree node (no records) of `members` (which
/// must include `config->id`; at most 64, ids above 0). A message from a
/// sender outside `members`, or from the node itself, is refused with
/// `CONSENSIO_INVALID_ARGUMENT`. `CONSENSIO_INVALID_ARGUMENT` for an
/// unusable configuration.
///
/// # Safety
/// `config` must be valid, `members` hold `n` ids, `out` be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_single_new(
    config: *const consensio_paxos_single_config,
    members: *const u64,
    n: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let node = SingleDecree::new(unsafe { configure_single(config, members, n) }?)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant(node, out) }
    })
}

/// Rebuilds a single-decree node after a restart from the `count` records
/// it persisted, in the order they were polled: record `i` is
/// `records[i][0..lens[i]]`. A node that recorded the outcome reports
/// `CHOSEN` again first. `CONSENSIO_MALFORMED` for bytes that are not a
/// record, or a record that does not fit the configuration.
///
/// # Safety
/// As [`consensio_paxos_single_new`]; `records` and `lens` hold `count`
/// elements, and each `records[i]` `lens[i]` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_single_restore(
    config: *const consensio_paxos_single_config,
    members: *const u64,
    n: usize,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let config = unsafe { configure_single(config, members, n) }?;
        // SAFETY: forwarded from the caller.
        unsafe { give_restored::<SingleDecree>(config, records, lens, count, out) }
    })
}

/// Proposes `data[0..len]` (not empty): the node runs attempts until a
/// value is chosen (`CHOSEN`: its own or another proposer's).
/// `CONSENSIO_INVALID_ARGUMENT` for an empty value;
/// `CONSENSIO_LIMIT_EXCEEDED` for one over `max_value_bytes`, or while
/// this node's earlier proposal runs; `CONSENSIO_REJECTED` once a value is
/// chosen. Nothing changes on an error.
///
/// # Safety
/// `paxos` must be a live single-decree handle; `data` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_single_propose(
    paxos: *mut consensio_participant,
    now_ms: u64,
    data: *const u8,
    len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<SingleDecree>(paxos, now_ms, || {
            Ok(single::Command::Propose(slice(data, len, "data")?.to_vec()))
        })
    }
}

/// Copies the chosen value into `buf[0..cap]` and its length to
/// `*out_len` (`*out_has` 0 while this node does not know it).
/// `CONSENSIO_BUFFER_TOO_SMALL` if `cap` is short: `*out_len` then says
/// how much is needed.
///
/// # Safety
/// `paxos` must be a live single-decree handle; `buf` hold `cap` bytes;
/// the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_single_chosen(
    paxos: *const consensio_participant,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_has: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (buf, len, has) = unsafe {
            (
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
                borrow_mut(out_has, "out_has")?,
            )
        };
        // SAFETY: forwarded from the caller.
        let d = unsafe { driver::<SingleDecree>(paxos) }?;
        let value = d.with(|n| n.chosen().map(<[u8]>::to_vec));
        *has = u8::from(value.is_some());
        *len = 0;
        match value {
            Some(v) => copy_out(&v, buf, len),
            None => Ok(()),
        }
    })
}

/// The highest ballot this node's acceptor promised: round and node (0 and
/// 0 before any).
///
/// # Safety
/// `paxos` must be a live single-decree handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_paxos_single_promised(
    paxos: *const consensio_participant,
    out_round: *mut u64,
    out_node: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (round, node) = unsafe {
            (
                borrow_mut(out_round, "out_round")?,
                borrow_mut(out_node, "out_node")?,
            )
        };
        // SAFETY: forwarded from the caller.
        let d = unsafe { driver::<SingleDecree>(paxos) }?;
        let b = d.with(SingleDecree::promised);
        (*round, *node) = (b.round, b.node.0);
        Ok(())
    })
}
