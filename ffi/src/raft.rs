//! `consensio_raft_*`: a Raft node from C, as a `consensio_participant`
//! handle. The node keeps its log in memory
//! (an arena bounded by the configuration); the caller stores each persisted
//! record, as the bytes polled out, and passes them all back, in order, to
//! [`consensio_raft_restore`] after a restart. A record's bytes are the wire
//! encoding of `consensio::raft::Persist` (kind `RAFT_RECORD`).

use consensio_core::quorum::{MAX_VOTERS, MajorityConfig};
use consensio_core::raft::{self, ArenaLog, Command, Event, LogStorage, Persist, RaftNode, Role};
use consensio_core::{Input, NodeId, Restore, wire};

use crate::consensio_status::{self, *};
use crate::participant::{
    Fill, Surface, command, consensio_participant, driver, give_participant, members, optional,
    query,
};
use crate::{Failure, Result, borrow, borrow_mut, guard, slice};

/// Configuration of a Raft node; fill it with
/// [`consensio_raft_default_config`] and adjust. Timing follows §5.6 of the
/// paper: heartbeats well below the election timeout, and the election
/// timeout well above the network's round trip.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_raft_config {
    /// This node's id; it must be one of the voters.
    pub id: u64,
    /// Seed of the node's PRNG (election timeouts).
    pub seed: u64,
    /// Election timeouts are drawn from `[min, max)` milliseconds.
    pub election_timeout_min_ms: u64,
    /// Upper bound (exclusive) of the election timeout.
    pub election_timeout_max_ms: u64,
    /// A leader sends heartbeats this often.
    pub heartbeat_interval_ms: u64,
    /// Non-zero: run a pre-vote before each election.
    pub pre_vote: u8,
    /// Non-zero: a leader that has not heard from a quorum within an
    /// election timeout steps down. Required for lease reads.
    pub check_quorum: u8,
    /// The most the leader's clock may run slow against a follower's over
    /// one election timeout; the lease is shortened by it.
    pub max_clock_drift_ms: u64,
    /// Largest payload of one proposal, in bytes.
    pub max_entry_bytes: u32,
    /// Most entries the in-memory log holds (at least 1).
    pub log_max_entries: u64,
    /// Most payload bytes the in-memory log holds.
    pub log_max_bytes: u64,
}

/// What a Raft node currently is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_raft_node_role {
    /// Answers leaders and candidates.
    CONSENSIO_RAFT_FOLLOWER = 0,
    /// Asks whether it could win an election, without changing its term.
    CONSENSIO_RAFT_PRE_CANDIDATE = 1,
    /// Asks for votes in a term of its own.
    CONSENSIO_RAFT_CANDIDATE = 2,
    /// Replicates its log and serves reads.
    CONSENSIO_RAFT_LEADER = 3,
}

impl From<Role> for consensio_raft_node_role {
    fn from(role: Role) -> Self {
        match role {
            Role::Follower => consensio_raft_node_role::CONSENSIO_RAFT_FOLLOWER,
            Role::PreCandidate => consensio_raft_node_role::CONSENSIO_RAFT_PRE_CANDIDATE,
            Role::Candidate => consensio_raft_node_role::CONSENSIO_RAFT_CANDIDATE,
            Role::Leader => consensio_raft_node_role::CONSENSIO_RAFT_LEADER,
        }
    }
}

/// The events of a Raft node (`consensio_output.event`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_raft_event {
    /// Apply entry `values[0]` (its index) of term `values[1]` with payload
    /// `data[0..len]` (empty for the entry a new leader appends). Every
    /// index from 1 comes once, in order; a restored node reports them
    /// again from 1.
    CONSENSIO_RAFT_COMMITTED = 1,
    /// Read `values[0]` (the caller's read id) may be served now: every
    /// entry up to index `values[1]` has been reported as committed.
    CONSENSIO_RAFT_READ_READY = 2,
    /// Read `values[0]` cannot be answered: this node stopped being leader.
    CONSENSIO_RAFT_READ_FAILED = 3,
    /// This node won the election of term `values[0]`.
    CONSENSIO_RAFT_BECAME_LEADER = 4,
    /// This node follows in term `values[0]`; its leader is `peer` if
    /// `values[1]` is 1 (unknown if 0).
    CONSENSIO_RAFT_BECAME_FOLLOWER = 5,
    /// The log has no room for what the node must append (a leader's
    /// entries, or a new leader's first entry, so it does not campaign);
    /// its last index is `values[0]`. Nothing is lost; the node waits for
    /// room. Reported once each time the log fills.
    CONSENSIO_RAFT_LOG_FULL = 6,
}

/// Records are bytes: append each PERSIST's `data[0..len]` to stable
/// storage, in order, for [`consensio_raft_restore`].
impl Surface for RaftNode<ArenaLog> {
    const FAMILY: &'static str = "raft";

    fn persist(record: Persist, fill: &mut Fill<'_>) -> Result<()> {
        *fill.data = wire::encode_to_vec(&record)?;
        Ok(())
    }

    fn event(event: Event, fill: &mut Fill<'_>) -> Result<()> {
        use consensio_raft_event::*;
        match event {
            Event::Committed { index, term, data } => {
                fill.event(CONSENSIO_RAFT_COMMITTED as u32).values[..2]
                    .copy_from_slice(&[index, term]);
                *fill.data = data;
            }
            Event::ReadReady { id, index } => {
                fill.event(CONSENSIO_RAFT_READ_READY as u32).values[..2]
                    .copy_from_slice(&[id, index]);
            }
            Event::ReadFailed { id } => {
                fill.event(CONSENSIO_RAFT_READ_FAILED as u32).values[0] = id;
            }
            Event::BecameLeader { term } => {
                fill.event(CONSENSIO_RAFT_BECAME_LEADER as u32).values[0] = term;
            }
            Event::BecameFollower { term, leader } => {
                let out = fill.event(CONSENSIO_RAFT_BECAME_FOLLOWER as u32);
                out.values[0] = term;
                if let Some(leader) = leader {
                    (out.peer, out.values[1]) = (leader.0, 1);
                }
            }
            Event::LogFull { last_index } => {
                fill.event(CONSENSIO_RAFT_LOG_FULL as u32).values[0] = last_index;
            }
        }
        Ok(())
    }
}

type Raft = RaftNode<ArenaLog>;

/// The default configuration for node `id`: elections after 150–300 ms,
/// heartbeats every 50 ms, pre-vote and check-quorum on, 10 ms of clock
/// drift, proposals up to 64 KiB, a log of up to 1,048,576 entries and
/// 256 MiB, and `seed` equal to `id`.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_default_config(
    id: u64,
    out: *mut consensio_raft_config,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        let c = raft::Config::new(NodeId(id), MajorityConfig::new());
        *o = consensio_raft_config {
            id,
            seed: c.seed,
            election_timeout_min_ms: c.election_timeout_min_ms,
            election_timeout_max_ms: c.election_timeout_max_ms,
            heartbeat_interval_ms: c.heartbeat_interval_ms,
            pre_vote: u8::from(c.pre_vote),
            check_quorum: u8::from(c.check_quorum),
            max_clock_drift_ms: c.max_clock_drift_ms,
            max_entry_bytes: u32::try_from(c.max_entry_bytes).unwrap_or(u32::MAX),
            log_max_entries: 1 << 20,
            log_max_bytes: 256 << 20,
        };
        Ok(())
    })
}

/// The core configuration and an empty log from the C configuration and
/// the voter list.
///
/// # Safety
/// `config` must be NULL or valid; `voters` hold `n` ids.
unsafe fn configure(
    config: *const consensio_raft_config,
    voters: *const u64,
    n: usize,
) -> Result<(raft::Config, ArenaLog)> {
    // SAFETY: forwarded from the caller.
    let (c, ids) = unsafe { (borrow(config, "config")?, members(voters, n, MAX_VOTERS)?) };
    let voters = MajorityConfig::from_voters(ids)?;
    if c.log_max_entries == 0 {
        return Err(Failure::new(
            CONSENSIO_INVALID_ARGUMENT,
            "the log must hold at least one entry",
        ));
    }
    let widen = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let mut raft = raft::Config::new(NodeId(c.id), voters);
    raft.seed = c.seed;
    raft.election_timeout_min_ms = c.election_timeout_min_ms;
    raft.election_timeout_max_ms = c.election_timeout_max_ms;
    raft.heartbeat_interval_ms = c.heartbeat_interval_ms;
    raft.pre_vote = c.pre_vote != 0;
    raft.check_quorum = c.check_quorum != 0;
    raft.max_clock_drift_ms = c.max_clock_drift_ms;
    raft.max_entry_bytes = widen(u64::from(c.max_entry_bytes));
    let log = ArenaLog::new(widen(c.log_max_entries), widen(c.log_max_bytes));
    Ok((raft, log))
}

/// Creates a new node (term 0, empty log) among `voters` (which must
/// include `config->id`; order and duplicates do not matter; at most 64),
/// as a participant handle. Messages from a node that is not a voter, like
/// stale or duplicated ones, are dropped without error.
/// `CONSENSIO_INVALID_ARGUMENT` for an unusable configuration,
/// `CONSENSIO_LIMIT_EXCEEDED` for too many voters.
///
/// # Safety
/// `config` must be valid; `voters` hold `n` ids; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_new(
    config: *const consensio_raft_config,
    voters: *const u64,
    n: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (raft, log) = unsafe { configure(config, voters, n) }?;
        let node = RaftNode::new(raft, log)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant(node, out) }
    })
}

/// Rebuilds a node after a restart from the `count` records it persisted,
/// in the order they were polled: record `i` is `records[i][0..lens[i]]`.
/// The node starts as a follower with nothing applied; committed entries
/// are reported again from index 1 as the leader tells it the commit index.
/// `CONSENSIO_MALFORMED` for bytes that are not a record;
/// `CONSENSIO_INVALID_ARGUMENT` for records no run of a node could have
/// written (a gap in the log) or an unusable configuration;
/// `CONSENSIO_LIMIT_EXCEEDED` if the log cannot hold the entries.
///
/// # Safety
/// As [`consensio_raft_new`]; `records` and `lens` hold `count` elements,
/// and each `records[i]` `lens[i]` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_restore(
    config: *const consensio_raft_config,
    voters: *const u64,
    n: usize,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (raft, log) = unsafe { configure(config, voters, n) }?;
        // SAFETY: forwarded from the caller.
        let (ptrs, lens) = unsafe {
            (
                slice(records, count, "records")?,
                slice(lens, count, "lens")?,
            )
        };
        let mut decoded = Vec::with_capacity(count);
        for (i, (&p, &len)) in ptrs.iter().zip(lens).enumerate() {
            // SAFETY: the caller guarantees record i has lens[i] bytes.
            let bytes = unsafe { slice(p, len, &format!("records[{i}]")) }?;
            let record = wire::decode::<Persist>(bytes).map_err(|e| {
                let f = Failure::from(e);
                Failure::new(f.status, format!("records[{i}]: {}", f.message))
            })?;
            decoded.push(record);
        }
        let node = RaftNode::restore((raft, log), &decoded)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant(node, out) }
    })
}

/// Appends `data[0..len]` to the log (leader only) and writes its index to
/// `*out_index`; `COMMITTED` reports it once committed. An accepted proposal
/// may still be lost if leadership changes before it commits.
/// `CONSENSIO_REJECTED` if this node is not the leader (see
/// [`consensio_raft_leader`] for whom to ask); `CONSENSIO_LIMIT_EXCEEDED`
/// if the payload is over `max_entry_bytes`, the log is full, or too many
/// entries or outputs wait.
///
/// # Safety
/// `raft` must be a live handle; `data` hold `len` bytes; `out_index`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_propose(
    raft: *mut consensio_participant,
    now_ms: u64,
    data: *const u8,
    len: usize,
    out_index: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, payload, index) = unsafe {
            (
                driver::<Raft>(raft)?,
                slice(data, len, "data")?,
                borrow_mut(out_index, "out_index")?,
            )
        };
        let proposal = Input::Command(Command::Propose(payload.to_vec()));
        *index = r.input_then(now_ms, proposal, |node| node.log().last_index())?;
        Ok(())
    })
}

/// Starts a linearizable read named `read_id` (ReadIndex: the leader
/// confirms its leadership with a heartbeat round). `READ_READY` answers it
/// once the entries up to its read index are reported, or `READ_FAILED` if
/// leadership is lost first. `CONSENSIO_REJECTED` on a node that is not the
/// leader; `CONSENSIO_LIMIT_EXCEEDED` if too many reads wait.
///
/// # Safety
/// `raft` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_read(
    raft: *mut consensio_participant,
    now_ms: u64,
    read_id: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { command::<Raft>(raft, now_ms, || Ok(Command::Read { id: read_id })) }
}

/// As [`consensio_raft_read`], but served without a heartbeat round while
/// the leader's lease holds (it relies on clock drift staying within
/// `max_clock_drift_ms`). `CONSENSIO_REJECTED` also without `check_quorum`.
///
/// # Safety
/// `raft` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_lease_read(
    raft: *mut consensio_participant,
    now_ms: u64,
    read_id: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { command::<Raft>(raft, now_ms, || Ok(Command::LeaseRead { id: read_id })) }
}

/// The node's current role.
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_role(
    raft: *const consensio_participant,
    out: *mut consensio_raft_node_role,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, |n| n.role().into()) }
}

/// The node's current term.
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_term(
    raft: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, RaftNode::term) }
}

/// The leader of the current term (this node, if leader); `*out_has` 0
/// while it is unknown.
///
/// # Safety
/// `raft` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_leader(
    raft: *const consensio_participant,
    out_has: *mut u8,
    out_leader: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, has, leader) = unsafe {
            (
                driver::<Raft>(raft)?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_leader, "out_leader")?,
            )
        };
        optional(r.with(|n| n.leader().map(|l| l.0)), has, leader);
        Ok(())
    })
}

/// The highest index known to be committed.
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_commit_index(
    raft: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, RaftNode::commit_index) }
}

/// The highest index reported with `COMMITTED`.
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_applied_index(
    raft: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, RaftNode::applied_index) }
}

/// The index of the last entry in the node's log (0 if empty).
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_last_index(
    raft: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, |n| n.log().last_index()) }
}
