//! `consensio_raft_*` and `consensio_kv_*`: a Raft node, and the replicated
//! key-value store on top of it, from C, each as a `consensio_participant`
//! handle. The node keeps its log in memory
//! (an arena bounded by the configuration); the caller stores each persisted
//! record, as the bytes polled out, and passes them all back, in order, to
//! [`consensio_raft_restore`] (or [`consensio_kv_restore`]) after a restart.
//! A record's bytes are the wire encoding of `consensio::raft::Persist`
//! (kind `RAFT_RECORD`); a snapshot record
//! ([`consensio_raft_record_is_snapshot`]) replaces every record before it,
//! so once it is durable the caller may delete them.

use consensio_core::quorum::{MAX_VOTERS, MajorityConfig};
use consensio_core::raft::{
    self, ArenaLog, Command, Event, KvLimits, KvNode, KvOp, KvResponse, KvResult, LogStorage,
    Membership, MembershipChange, Persist, RaftNode, Role, kv,
};
use consensio_core::{Input, NodeId, Restore, paxos, wire};

use crate::consensio_status::{self, *};
use crate::participant::{
    Driver, Fill, Surface, any_driver, command, consensio_participant, decode_records, driver,
    give_participant, give_participant_with, give_restored, members, optional, query, wrong_handle,
};
use crate::{Failure, Result, borrow, borrow_mut, copy_out, guard, slice, slice_mut};

/// Configuration of a Raft node; fill it with
/// [`consensio_raft_default_config`] and adjust. Timing follows §5.6 of the
/// paper: heartbeats well below the election timeout, and the election
/// timeout well above the network's round trip.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_raft_config {
    /// This node's id: one of the voters, or (a node joining a running
    /// cluster) none of them, until a membership change adds it.
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
    /// Largest payload of one proposal, in bytes (at most
    /// `max_bytes_per_message`).
    pub max_entry_bytes: u32,
    /// Most entries in one AppendEntries, sent or accepted (at least 1).
    pub max_entries_per_message: u64,
    /// Most payload bytes in one AppendEntries, sent or accepted (a single
    /// entry of up to `max_entry_bytes` is sent alone). With
    /// `max_entries_per_message` it bounds the largest frame a node sends:
    /// [`consensio_raft_max_frame_len`].
    pub max_bytes_per_message: u64,
    /// Most entries the in-memory log holds (at least 1).
    pub log_max_entries: u64,
    /// Most payload bytes the in-memory log holds.
    pub log_max_bytes: u64,
    /// Largest snapshot the node takes ([`consensio_raft_compact`]) or
    /// accepts from a leader, in bytes (at most 512 MiB). Use the same on
    /// every node: a follower drops a leader's snapshot over its own bound.
    pub max_snapshot_bytes: u64,
    /// The cluster's id (0 by default; pick one at random when the cluster
    /// is created, the same on every node). It goes into the node's records
    /// with its id, and [`consensio_raft_restore`] refuses records of
    /// another node or cluster with `CONSENSIO_VERIFICATION_FAILED`.
    pub cluster: u64,
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
    /// index comes once, in order: from 1, or from the one after an
    /// `APPLY_SNAPSHOT`'s index; a restored node reports them again from
    /// the one after its snapshot (from 1 without one).
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
    /// Replace the application's state with the node's snapshot: it covers
    /// every entry up to index `values[0]` (of term `values[1]`), and
    /// COMMITTED goes on from the next index. Read its bytes with
    /// [`consensio_raft_snapshot`] before polling again. Comes when a
    /// leader's snapshot was installed, and first from a node restored from
    /// records that hold a snapshot.
    CONSENSIO_RAFT_APPLY_SNAPSHOT = 7,
    /// A proposal this node made, at index `values[0]` of term `values[1]`
    /// (what [`consensio_raft_propose`] returned), will never be
    /// committed: another entry committed at that index (a leader change
    /// dropped it). Propose it again if it must happen. Comes right after
    /// that index's COMMITTED; not for a proposal an installed snapshot
    /// covers, nor for one made before a restart.
    CONSENSIO_RAFT_PROPOSAL_DROPPED = 8,
    /// The membership entry at index `values[0]` committed: from there on
    /// the cluster's voters are the `values[1]` ids, then (during a joint
    /// change) the `values[2]` outgoing voters, then the `values[3]`
    /// learners, all in `data` as little-endian 64-bit ids, in that order.
    /// The node has used it since it appended the entry
    /// ([`consensio_raft_membership`]); the COMMITTED just before has no
    /// data (apply it as nothing). A node that is no longer a member may be
    /// shut down.
    CONSENSIO_RAFT_MEMBERSHIP_COMMITTED = 9,
}

/// The single-server membership changes (thesis §4.1) of
/// [`consensio_raft_change_membership`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_raft_membership_change {
    /// Add a non-voting member, which receives the log from now on.
    CONSENSIO_RAFT_ADD_LEARNER = 1,
    /// Make a learner a voter, once its log holds every committed entry.
    CONSENSIO_RAFT_PROMOTE = 2,
    /// Remove a voter or a learner (a leader that removes itself steps
    /// down once the change commits).
    CONSENSIO_RAFT_REMOVE = 3,
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
            Event::ApplySnapshot { index, term } => {
                fill.event(CONSENSIO_RAFT_APPLY_SNAPSHOT as u32).values[..2]
                    .copy_from_slice(&[index, term]);
            }
            Event::ProposalDropped { index, term } => {
                fill.event(CONSENSIO_RAFT_PROPOSAL_DROPPED as u32).values[..2]
                    .copy_from_slice(&[index, term]);
            }
            Event::MembershipCommitted { index, membership } => {
                let (ids, counts) = membership_ids(&membership);
                let out = fill.event(CONSENSIO_RAFT_MEMBERSHIP_COMMITTED as u32);
                out.values[0] = index;
                out.values[1..].copy_from_slice(&counts);
                *fill.data = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
            }
        }
        Ok(())
    }
}

type Raft = RaftNode<ArenaLog>;

/// The default configuration for node `id`: elections after 150–300 ms,
/// heartbeats every 50 ms, pre-vote and check-quorum on, 10 ms of clock
/// drift, proposals up to 64 KiB, messages of up to 64 entries and
/// 256 KiB, a log of up to 1,048,576 entries and 256 MiB, snapshots up to
/// 64 MiB, and `seed` equal to `id`.
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
            max_entries_per_message: c.max_entries_per_message as u64,
            max_bytes_per_message: c.max_bytes_per_message as u64,
            log_max_entries: 1 << 20,
            log_max_bytes: 256 << 20,
            max_snapshot_bytes: c.max_snapshot_bytes as u64,
            cluster: c.cluster,
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
    raft.max_entries_per_message = widen(c.max_entries_per_message);
    raft.max_bytes_per_message = widen(c.max_bytes_per_message);
    raft.max_snapshot_bytes = widen(c.max_snapshot_bytes);
    raft.cluster = c.cluster;
    let log = ArenaLog::new(widen(c.log_max_entries), widen(c.log_max_bytes));
    Ok((raft, log))
}

/// Creates a new node (term 0, empty log) among `voters` (order and
/// duplicates do not matter; at most 64), as a participant handle. A node
/// of a new cluster is one of them; a node that joins a running cluster is
/// made with the cluster's voters, outside them, and never campaigns until
/// [`consensio_raft_change_membership`] adds and promotes it. The log's
/// membership entries (and a snapshot's) replace `voters` as they arrive.
/// Messages from a node that is not a member, like stale or duplicated
/// ones, are dropped without error, but for a leader's, whoever it is.
/// `CONSENSIO_INVALID_ARGUMENT` for an unusable configuration,
/// `CONSENSIO_LIMIT_EXCEEDED` for too many voters.
///
/// Only for a node that has never run under this id. A node that ran
/// before and lost its records must not come back with `_new` under its
/// old id: it forgets the vote it cast in its last term and may vote again
/// in that term, electing two leaders. Restart it with
/// [`consensio_raft_restore`] from its records, or give it a new id.
///
/// How many outputs one input queues is bounded by the configuration
/// (with the defaults and three voters, at most about 2,350: a few, plus
/// per peer its inflight window and a heartbeat, 256 committed entries and
/// two events per waiting read); while `max_outputs` (4,096) outputs wait
/// to be polled, every input is refused with `CONSENSIO_LIMIT_EXCEEDED`,
/// so no more than that bound plus 4,095 ever wait. Poll until NONE after
/// every input and the bound is never reached.
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
/// The records may start at a snapshot record, the ones before it deleted
/// (see [`consensio_raft_record_is_snapshot`]). The node starts as a
/// follower; if the records hold a snapshot, its first output is
/// `APPLY_SNAPSHOT` (load [`consensio_raft_snapshot`] into the
/// application), and committed entries are reported again from the one
/// after it (from index 1 without a snapshot) as the leader tells it the
/// commit index. `CONSENSIO_MALFORMED` for bytes that are not a record;
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
        unsafe { give_restored::<RaftNode<_>>((raft, log), records, lens, count, out) }
    })
}

/// Appends `data[0..len]` to the log (leader only) and writes the new
/// entry's index to `*out_index` and its term to `*out_term`, both read in
/// the same call that appended it (no other input can come between).
/// `COMMITTED` reports it once committed.
///
/// An accepted proposal may still be lost if leadership changes before it
/// commits, and then another leader's entry takes its index: the proposal
/// `(index, term)` was dropped exactly when `COMMITTED` arrives for `index`
/// with a term other than `term` (it was committed exactly when the terms
/// are equal). Nothing else reports the loss, and a proposal is never
/// applied under another index.
///
/// An empty payload is accepted, but its `COMMITTED` is indistinguishable
/// from the empty entry each new leader appends: give proposals at least
/// one byte, or tell them apart by `(index, term)` as above.
///
/// `CONSENSIO_REJECTED` if this node is not the leader (see
/// [`consensio_raft_leader`] for whom to ask); `CONSENSIO_LIMIT_EXCEEDED`
/// if the payload is over `max_entry_bytes`, the log is full, or too many
/// entries or outputs wait.
///
/// # Safety
/// `raft` must be a live handle; `data` hold `len` bytes; `out_index` and
/// `out_term` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_propose(
    raft: *mut consensio_participant,
    now_ms: u64,
    data: *const u8,
    len: usize,
    out_index: *mut u64,
    out_term: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, payload, index, term) = unsafe {
            (
                driver::<Raft>(raft)?,
                slice(data, len, "data")?,
                borrow_mut(out_index, "out_index")?,
                borrow_mut(out_term, "out_term")?,
            )
        };
        let proposal = Input::Command(Command::Propose(payload.to_vec()));
        (*index, *term) = r.input_then(now_ms, proposal, |node| {
            (node.log().last_index(), node.term())
        })?;
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

/// Hands leadership to voter `to` (thesis §3.10): the leader brings `to`'s
/// log up to its own and tells it to campaign at once; meanwhile proposals
/// are refused with `CONSENSIO_REJECTED`. `to` normally wins within a round
/// trip, and this node then reports `BECAME_FOLLOWER`; if not within the
/// minimum election timeout, the transfer is abandoned and the node goes on
/// leading (`consensio_raft_transferring_to` says which). From the start of
/// a transfer, lease reads take a heartbeat round for the rest of the term.
/// `CONSENSIO_REJECTED` on a node that is not the leader;
/// `CONSENSIO_INVALID_ARGUMENT` if `to` is not a voter. A transfer to the
/// leader itself does nothing.
///
/// # Safety
/// `raft` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_transfer_leadership(
    raft: *mut consensio_participant,
    now_ms: u64,
    to: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<Raft>(raft, now_ms, || {
            Ok(Command::TransferLeadership { to: NodeId(to) })
        })
    }
}

/// A single-server membership change (thesis §4.1) of `node`: the leader
/// appends the new membership to its log, and every node uses it from the
/// moment it appends it; `MEMBERSHIP_COMMITTED` reports it committed. A
/// node that joins a running cluster is made with [`consensio_raft_new`]
/// from the cluster's voters (itself not among them) and is added with
/// `ADD_LEARNER`, then promoted. `CONSENSIO_REJECTED` on a node that is not
/// the leader, while another change is under way (retry once it has
/// committed), and for a learner whose log does not yet hold every
/// committed entry; `CONSENSIO_INVALID_ARGUMENT` for an unknown `change`
/// or one that does not apply (adding a member, removing a non-member or
/// the last voter, promoting a non-learner).
///
/// # Safety
/// `raft` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_change_membership(
    raft: *mut consensio_participant,
    now_ms: u64,
    change: u32,
    node: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<Raft>(raft, now_ms, || {
            Ok(Command::ChangeMembership(single_change(change, node)?))
        })
    }
}

/// A joint change (§6) to exactly `voters[0..n_voters]` and
/// `learners[0..n_learners]`: every new voter must be a caught-up learner;
/// the leader moves through the joint configuration and appends the new
/// one itself once the joint one commits. Statuses as
/// [`consensio_raft_change_membership`], and `CONSENSIO_LIMIT_EXCEEDED`
/// for more than 64 voters or learners.
///
/// # Safety
/// `raft` must be a live handle; `voters` and `learners` hold their counts
/// of ids (NULL with 0: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_change_membership_joint(
    raft: *mut consensio_participant,
    now_ms: u64,
    voters: *const u64,
    n_voters: usize,
    learners: *const u64,
    n_learners: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        command::<Raft>(raft, now_ms, || {
            Ok(Command::ChangeMembership(joint_change(
                voters, n_voters, learners, n_learners,
            )?))
        })
    }
}

/// The membership in effect (the latest in the node's log, committed or
/// not): `ids[0..*out_voters]` are the voters, then `*out_outgoing`
/// outgoing voters (during a joint change), then `*out_learners` learners.
/// `CONSENSIO_BUFFER_TOO_SMALL` if `cap` ids do not hold them all (the
/// counts are set anyway).
///
/// # Safety
/// `raft` must be a live handle; `ids` has room for `cap` ids (NULL with
/// 0: only the counts); the outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_membership(
    raft: *const consensio_participant,
    ids: *mut u64,
    cap: usize,
    out_voters: *mut u64,
    out_outgoing: *mut u64,
    out_learners: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, ids, voters, outgoing, learners) = unsafe {
            (
                driver::<Raft>(raft)?,
                slice_mut(ids, cap, "ids")?,
                borrow_mut(out_voters, "out_voters")?,
                borrow_mut(out_outgoing, "out_outgoing")?,
                borrow_mut(out_learners, "out_learners")?,
            )
        };
        let (all, counts) = r.with(|n| membership_ids(n.membership()));
        [*voters, *outgoing, *learners] = counts;
        let dest = ids.get_mut(..all.len()).ok_or_else(|| {
            Failure::new(
                CONSENSIO_BUFFER_TOO_SMALL,
                format!("room for {cap} ids, {} needed", all.len()),
            )
        })?;
        dest.copy_from_slice(&all);
        Ok(())
    })
}

/// A membership's ids (voters, outgoing voters, learners) and the three
/// counts.
fn membership_ids(m: &Membership) -> (Vec<u64>, [u64; 3]) {
    let voters = m.voters();
    let lists = [
        voters.incoming.voters(),
        voters.outgoing.voters(),
        m.learners(),
    ];
    let ids = lists.iter().flat_map(|l| l.iter().map(|id| id.0)).collect();
    (ids, lists.map(|l| l.len() as u64))
}

/// The single-server change `change` of `node`.
fn single_change(change: u32, node: u64) -> Result<MembershipChange> {
    use consensio_raft_membership_change::*;
    let node = NodeId(node);
    Ok(match change {
        c if c == CONSENSIO_RAFT_ADD_LEARNER as u32 => MembershipChange::AddLearner(node),
        c if c == CONSENSIO_RAFT_PROMOTE as u32 => MembershipChange::Promote(node),
        c if c == CONSENSIO_RAFT_REMOVE as u32 => MembershipChange::Remove(node),
        _ => {
            return Err(Failure::new(
                CONSENSIO_INVALID_ARGUMENT,
                format!("{change} is not a consensio_raft_membership_change"),
            ));
        }
    })
}

/// The joint change to `voters` and `learners`.
///
/// # Safety
/// As [`consensio_raft_change_membership_joint`]'s arrays.
unsafe fn joint_change(
    voters: *const u64,
    n_voters: usize,
    learners: *const u64,
    n_learners: usize,
) -> Result<MembershipChange> {
    // SAFETY: forwarded from the caller.
    let (voters, learners) = unsafe {
        (
            slice(voters, n_voters, "voters")?,
            slice(learners, n_learners, "learners")?,
        )
    };
    let max = MAX_VOTERS;
    if voters.len() > max || learners.len() > max {
        return Err(Failure::new(
            CONSENSIO_LIMIT_EXCEEDED,
            format!("at most {max} voters and {max} learners"),
        ));
    }
    let ids = |v: &[u64]| v.iter().copied().map(NodeId).collect();
    Ok(MembershipChange::Joint {
        voters: ids(voters),
        learners: ids(learners),
    })
}

/// The voter leadership is being handed to: `*out_has` is 1 and
/// `*out_to` its id while a transfer is under way, else `*out_has` is 0.
///
/// # Safety
/// `raft` must be a live handle; `out_has` and `out_to` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_transferring_to(
    raft: *const consensio_participant,
    out_has: *mut u8,
    out_to: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, has, to) = unsafe {
            (
                driver::<Raft>(raft)?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_to, "out_to")?,
            )
        };
        optional(r.with(|n| n.transferring_to().map(|t| t.0)), has, to);
        Ok(())
    })
}

/// Takes a snapshot (§7): `data[0..len]` is the application's state after
/// applying every entry up to `index` (an index it has applied, reported
/// by `COMMITTED` or covered by `APPLY_SNAPSHOT`). The log drops the
/// entries the snapshot covers, freeing their room, and the node queues a
/// PERSIST of a snapshot record, which holds the snapshot, the term, the
/// vote and the log after it: once that record is durable, every record
/// before it may be deleted, and a restart reads it and the records after
/// it. Poll until NONE after the call, as after an input. A leader sends
/// its snapshot to followers that need entries it no longer holds.
///
/// Snapshot every few thousand entries: without it the log and the records
/// grow until `LOG_FULL`. The node keeps a copy of its latest snapshot in
/// memory, to send to followers.
///
/// `CONSENSIO_REJECTED` if `index` is beyond the applied index
/// ([`consensio_raft_applied_index`]: a snapshot may cover only applied
/// entries) or not past the last snapshot's index (one was taken or
/// installed since); `CONSENSIO_LIMIT_EXCEEDED` if `len` is over
/// `max_snapshot_bytes`, or while `max_outputs` outputs wait to be polled.
/// The node is unchanged on failure, and `consensio_last_error` says
/// which.
///
/// # Safety
/// `raft` must be a live handle; `data` hold `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_compact(
    raft: *mut consensio_participant,
    index: u64,
    data: *const u8,
    len: usize,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, data) = unsafe { (driver::<Raft>(raft)?, slice(data, len, "data")?) };
        r.act(|node| node.compact(index, data.to_vec()))
    })
}

/// The node's latest snapshot, taken here or installed from a leader: what
/// the application loads on `APPLY_SNAPSHOT`. `*out_has` is 1, its bytes
/// are copied to `buf[0..*out_len]`, and `*out_index` and `*out_term` are
/// the last index it covers and that entry's term (the event's `values[0]`
/// and `values[1]` when read while handling it); or `*out_has` is 0 and
/// `*out_len` 0 if the node has no snapshot. `CONSENSIO_BUFFER_TOO_SMALL`
/// if `cap` is short: `*out_len` then holds the length needed (ask with
/// `buf` NULL and `cap` 0), and nothing else is written.
///
/// # Safety
/// `raft` must be a live handle; `buf` hold `cap` writable bytes (or be
/// NULL with `cap` 0); the out-pointers writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn consensio_raft_snapshot(
    raft: *const consensio_participant,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_index: *mut u64,
    out_term: *mut u64,
    out_has: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, buf, len, index, term, has) = unsafe {
            (
                driver::<Raft>(raft)?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
                borrow_mut(out_index, "out_index")?,
                borrow_mut(out_term, "out_term")?,
                borrow_mut(out_has, "out_has")?,
            )
        };
        r.with(|node| match node.snapshot() {
            Some(snapshot) => {
                copy_out(&snapshot.data, buf, len)?;
                (*index, *term, *has) = (snapshot.index, snapshot.term, 1);
                Ok(())
            }
            None => {
                (*len, *has) = (0, 0);
                Ok(())
            }
        })
    })
}

/// Whether the record `record[0..len]` (a PERSIST's bytes, of a Raft or a
/// key-value node) is a snapshot record: `*out` 1 if so, else 0. A
/// snapshot record replaces every record before it, so once it is durable
/// the host may delete them all (write a file holding it and what follows,
/// then replace the old file atomically) and restore from it and the
/// records after it. The record is decoded whole, so this costs about as
/// much as reading it. `CONSENSIO_MALFORMED` for bytes that are not a
/// record.
///
/// # Safety
/// `record` must hold `len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_record_is_snapshot(
    record: *const u8,
    len: usize,
    out: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (bytes, out) = unsafe { (slice(record, len, "record")?, borrow_mut(out, "out")?) };
        let decoded = wire::decode::<Persist>(bytes)?;
        *out = u8::from(matches!(decoded, Persist::Snapshot { .. }));
        Ok(())
    })
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

/// Whether this node leads under a lease that holds at the time of its
/// last input (`*out` 1): a lease read now would be answered without a
/// heartbeat round. 0 on a follower, with check-quorum off, or in a term
/// whose lease a leadership transfer voided.
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_lease_holds(
    raft: *const consensio_participant,
    out: *mut u8,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, |n| u8::from(n.lease_holds())) }
}

/// The highest index reported with `COMMITTED` or covered by an
/// `APPLY_SNAPSHOT`.
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

/// The most bytes one frame this node sends can take (an AppendEntries of
/// `max_entries_per_message` entries and `max_bytes_per_message` payload
/// bytes, or one entry of up to `max_entry_bytes` alone, with framing);
/// every other message is smaller. A host that sends datagrams sizes its
/// buffers, or picks the configuration, by it.
///
/// # Safety
/// `raft` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_raft_max_frame_len(
    raft: *const consensio_participant,
    out: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Raft, _>(raft, out, |n| frame_len(n.config())) }
}

/// The largest frame of a validated configuration (which never overflows).
fn frame_len(config: &raft::Config) -> usize {
    config.max_frame_len().unwrap_or(usize::MAX)
}

// ---- the replicated key-value store ----------------------------------------

/// The key-value store's bounds; fill it with
/// [`consensio_kv_default_limits`] and adjust. They are part of the
/// replicated state machine's definition: every node of a cluster must use
/// the same.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct consensio_kv_limits {
    /// Most keys the store holds; a write of one more is answered
    /// `CONSENSIO_KV_STORE_FULL`.
    pub max_keys: u64,
    /// Longest key, in bytes; a command with a longer one is refused with
    /// `CONSENSIO_LIMIT_EXCEEDED`.
    pub max_key_bytes: u64,
    /// Longest value, in bytes, likewise.
    pub max_value_bytes: u64,
    /// Most open client sessions (the least recently active is evicted).
    pub max_sessions: u64,
    /// A session expires after this much log time without a write, ms.
    pub session_expiry_ms: u64,
}

impl From<&consensio_kv_limits> for KvLimits {
    fn from(l: &consensio_kv_limits) -> Self {
        let widen = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        KvLimits {
            max_keys: widen(l.max_keys),
            max_key_bytes: widen(l.max_key_bytes),
            max_value_bytes: widen(l.max_value_bytes),
            max_sessions: widen(l.max_sessions),
            session_expiry_ms: l.session_expiry_ms,
        }
    }
}

/// The events of a key-value node (`consensio_output.event`): one `REPLY`
/// per command, and the Raft node's own events passed through after the
/// store has acted on them, with the numbers and fields of
/// `consensio_raft_event`. The store applies committed entries and loads
/// snapshots itself, so a host needs none of the Raft events to serve
/// clients; they say what the node is doing (`BECAME_LEADER`,
/// `BECAME_FOLLOWER`, `LOG_FULL`, `APPLY_SNAPSHOT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_kv_event {
    /// As `CONSENSIO_RAFT_COMMITTED`; the entry is already applied to the
    /// store, and `data` is its encoded store entry (empty: a new leader's
    /// entry).
    CONSENSIO_KV_COMMITTED = 1,
    /// As `CONSENSIO_RAFT_READ_READY`, for the store's own read id
    /// (`values[0]`, not a request id): the `REPLY` to the read follows.
    CONSENSIO_KV_READ_READY = 2,
    /// As `CONSENSIO_RAFT_READ_FAILED`, for the store's own read id: the
    /// read's `REPLY` says `CONSENSIO_KV_RETRY`.
    CONSENSIO_KV_READ_FAILED = 3,
    /// As `CONSENSIO_RAFT_BECAME_LEADER`.
    CONSENSIO_KV_BECAME_LEADER = 4,
    /// As `CONSENSIO_RAFT_BECAME_FOLLOWER`; the replies `RETRY` to this
    /// node's uncommitted writes come just before it.
    CONSENSIO_KV_BECAME_FOLLOWER = 5,
    /// As `CONSENSIO_RAFT_LOG_FULL`.
    CONSENSIO_KV_LOG_FULL = 6,
    /// As `CONSENSIO_RAFT_APPLY_SNAPSHOT`: the store has already replaced
    /// itself, client sessions included, with the snapshot at `values[0]`
    /// (a leader's, or its own after a restore); `COMMITTED` goes on from
    /// the next index.
    CONSENSIO_KV_APPLY_SNAPSHOT = 7,
    /// As `CONSENSIO_RAFT_PROPOSAL_DROPPED`. The store answered the
    /// request whose entry it was (`CONSENSIO_KV_RETRY`) when the other
    /// entry committed at its index, just before.
    CONSENSIO_KV_PROPOSAL_DROPPED = 8,
    /// As `CONSENSIO_RAFT_MEMBERSHIP_COMMITTED`.
    CONSENSIO_KV_MEMBERSHIP_COMMITTED = 9,
    /// The answer to the command with request id `values[0]`:
    /// `values[1]` is its `consensio_kv_result`. With
    /// `CONSENSIO_KV_SESSION_OPENED`, `values[2]` is the new client id;
    /// with `CONSENSIO_KV_VALUE`, `data[0..len]` is the value (`len` may be
    /// 0: an empty value, which is not `CONSENSIO_KV_ABSENT`); with
    /// `CONSENSIO_KV_NOT_LEADER`, `values[2]` is 1 if this node knows the
    /// leader, and then `peer` is it. Numbered after every Raft event, with
    /// room for Raft to grow.
    CONSENSIO_KV_REPLY = 16,
}

/// What a `CONSENSIO_KV_REPLY` says (its `values[1]`). Codes below
/// `CONSENSIO_KV_NOT_LEADER` (16) are successes; from 16 on, each is one
/// error of the store (`consensio::raft::kv::Error`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum consensio_kv_result {
    /// A put or delete took effect (or had, for a retried write).
    CONSENSIO_KV_DONE = 0,
    /// The session is open; `values[2]` is the client id to write with.
    CONSENSIO_KV_SESSION_OPENED = 1,
    /// A compare-and-set found the expected value and wrote the new one.
    CONSENSIO_KV_SWAPPED = 2,
    /// A compare-and-set did not find the expected value; nothing written.
    CONSENSIO_KV_NOT_SWAPPED = 3,
    /// A read's value, linearizable, in `data[0..len]`.
    CONSENSIO_KV_VALUE = 4,
    /// A read found no value for the key, linearizably.
    CONSENSIO_KV_ABSENT = 5,
    /// This node is not the leader; nothing happened. Ask the leader
    /// (`peer`, when `values[2]` is 1).
    CONSENSIO_KV_NOT_LEADER = 16,
    /// The outcome is unknown (leadership was lost before the write
    /// committed, or another leader's entry took its index, or a read's
    /// round failed): send it again with the same sequence number.
    CONSENSIO_KV_RETRY = 17,
    /// A bound of the Raft node (uncommitted entries, waiting reads, log
    /// space) refused the command; nothing happened. Retry later.
    CONSENSIO_KV_BUSY = 18,
    /// The encoded write exceeds the Raft node's `max_entry_bytes`, or a
    /// key or value the store's limits; nothing happened. (Keys and values
    /// over the store's limits are refused before, with
    /// `CONSENSIO_LIMIT_EXCEEDED`.)
    CONSENSIO_KV_TOO_LARGE = 19,
    /// The store holds `max_keys` keys; the write was applied as this
    /// refusal, and a retry gets the same answer.
    CONSENSIO_KV_STORE_FULL = 20,
    /// The session is gone (expired, evicted, never opened): open a new
    /// one. An earlier copy of the write may have been applied.
    CONSENSIO_KV_SESSION_EXPIRED = 21,
    /// The sequence number is older than the session's last applied one.
    CONSENSIO_KV_STALE_SEQUENCE = 22,
    /// The sequence number skips ahead of the next one expected.
    CONSENSIO_KV_SEQUENCE_GAP = 23,
    /// Sequence number 0: sequences start at 1; nothing happened.
    CONSENSIO_KV_ZERO_SEQUENCE = 24,
    /// A lease read on a node without `check_quorum`; nothing happened,
    /// and a retry fails alike: read without the lease flag.
    CONSENSIO_KV_LEASE_READS_DISABLED = 25,
    /// The committed entry was not a store entry (written by something
    /// else).
    CONSENSIO_KV_MALFORMED = 26,
    /// A leadership transfer to a node that is not a voter; nothing
    /// happened.
    CONSENSIO_KV_NOT_A_VOTER = 27,
    /// A membership change that does not apply to the membership; nothing
    /// happened.
    CONSENSIO_KV_BAD_MEMBERSHIP_CHANGE = 28,
    /// An error this header does not name yet (a newer core); treat it as
    /// not applied.
    CONSENSIO_KV_OTHER_ERROR = 63,
}

/// The passed-through Raft events keep the Raft numbers.
const _: () = {
    use consensio_kv_event as K;
    use consensio_raft_event as R;
    assert!(K::CONSENSIO_KV_COMMITTED as u32 == R::CONSENSIO_RAFT_COMMITTED as u32);
    assert!(K::CONSENSIO_KV_READ_READY as u32 == R::CONSENSIO_RAFT_READ_READY as u32);
    assert!(K::CONSENSIO_KV_READ_FAILED as u32 == R::CONSENSIO_RAFT_READ_FAILED as u32);
    assert!(K::CONSENSIO_KV_BECAME_LEADER as u32 == R::CONSENSIO_RAFT_BECAME_LEADER as u32);
    assert!(K::CONSENSIO_KV_BECAME_FOLLOWER as u32 == R::CONSENSIO_RAFT_BECAME_FOLLOWER as u32);
    assert!(K::CONSENSIO_KV_LOG_FULL as u32 == R::CONSENSIO_RAFT_LOG_FULL as u32);
    assert!(K::CONSENSIO_KV_APPLY_SNAPSHOT as u32 == R::CONSENSIO_RAFT_APPLY_SNAPSHOT as u32);
    assert!(K::CONSENSIO_KV_PROPOSAL_DROPPED as u32 == R::CONSENSIO_RAFT_PROPOSAL_DROPPED as u32);
    assert!(
        K::CONSENSIO_KV_MEMBERSHIP_COMMITTED as u32
            == R::CONSENSIO_RAFT_MEMBERSHIP_COMMITTED as u32
    );
};

impl From<&kv::Error> for consensio_kv_result {
    fn from(e: &kv::Error) -> Self {
        use consensio_kv_result::*;
        match e {
            kv::Error::NotLeader { .. } => CONSENSIO_KV_NOT_LEADER,
            kv::Error::Retry => CONSENSIO_KV_RETRY,
            kv::Error::Busy => CONSENSIO_KV_BUSY,
            kv::Error::TooLarge => CONSENSIO_KV_TOO_LARGE,
            kv::Error::StoreFull => CONSENSIO_KV_STORE_FULL,
            kv::Error::SessionExpired => CONSENSIO_KV_SESSION_EXPIRED,
            kv::Error::StaleSequence => CONSENSIO_KV_STALE_SEQUENCE,
            kv::Error::SequenceGap => CONSENSIO_KV_SEQUENCE_GAP,
            kv::Error::ZeroSequence => CONSENSIO_KV_ZERO_SEQUENCE,
            kv::Error::LeaseReadsDisabled => CONSENSIO_KV_LEASE_READS_DISABLED,
            kv::Error::Malformed => CONSENSIO_KV_MALFORMED,
            kv::Error::NotAVoter => CONSENSIO_KV_NOT_A_VOTER,
            kv::Error::BadMembershipChange => CONSENSIO_KV_BAD_MEMBERSHIP_CHANGE,
            _ => CONSENSIO_KV_OTHER_ERROR,
        }
    }
}

/// Records and the Raft events are the Raft node's (see its `Surface`);
/// each reply is a `CONSENSIO_KV_REPLY`.
impl Surface for KvNode<ArenaLog> {
    const FAMILY: &'static str = "raft";

    fn persist(record: Persist, fill: &mut Fill<'_>) -> Result<()> {
        <Raft as Surface>::persist(record, fill)
    }

    fn event(event: kv::Event, fill: &mut Fill<'_>) -> Result<()> {
        match event {
            kv::Event::Raft(event) => <Raft as Surface>::event(event, fill),
            kv::Event::Reply { id, result } => {
                kv_reply(id, result, fill);
                Ok(())
            }
        }
    }
}

/// Fills a `CONSENSIO_KV_REPLY` output: the one reply format of both
/// key-value stores (Raft's and Paxos's).
pub(crate) fn kv_reply(id: u64, result: KvResult, fill: &mut Fill<'_>) {
    use consensio_kv_result::*;
    let out = fill.event(consensio_kv_event::CONSENSIO_KV_REPLY as u32);
    out.values[0] = id;
    let code = match result {
        Ok(KvResponse::Done) => CONSENSIO_KV_DONE,
        Ok(KvResponse::SessionOpened { client }) => {
            out.values[2] = client;
            CONSENSIO_KV_SESSION_OPENED
        }
        Ok(KvResponse::Swapped(true)) => CONSENSIO_KV_SWAPPED,
        Ok(KvResponse::Swapped(false)) => CONSENSIO_KV_NOT_SWAPPED,
        Ok(KvResponse::Value(None)) => CONSENSIO_KV_ABSENT,
        Ok(KvResponse::Value(Some(value))) => {
            out.values[1] = CONSENSIO_KV_VALUE as u64;
            *fill.data = value;
            return;
        }
        Err(e) => {
            if let kv::Error::NotLeader {
                leader_hint: Some(leader),
            } = e
            {
                (out.peer, out.values[2]) = (leader.0, 1);
            }
            consensio_kv_result::from(&e)
        }
    };
    out.values[1] = code as u64;
}

type Kv = KvNode<ArenaLog>;

/// The store's default limits: 65,536 keys of up to 1 KiB, values up to
/// 16 KiB, 10,000 sessions that expire after an hour of log time.
///
/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_default_limits(
    out: *mut consensio_kv_limits,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        let l = KvLimits::default();
        *o = consensio_kv_limits {
            max_keys: l.max_keys as u64,
            max_key_bytes: l.max_key_bytes as u64,
            max_value_bytes: l.max_value_bytes as u64,
            max_sessions: l.max_sessions as u64,
            session_expiry_ms: l.session_expiry_ms,
        };
        Ok(())
    })
}

/// Creates a key-value node: a new Raft node (as [`consensio_raft_new`],
/// with the same configuration, voters and warnings) with an empty store
/// bounded by `limits`. Its records are the Raft node's: append each
/// PERSIST's bytes, in order, for [`consensio_kv_restore`].
///
/// Give it commands (`consensio_kv_open_session`, `_put`, `_delete`,
/// `_cas`, `_get`), each with a request id of the caller's choosing; each
/// command gets exactly one `CONSENSIO_KV_REPLY` naming that id (unless
/// the node is freed first), after its write has committed and been
/// applied, after its read's round, or at once if it is refused. A
/// command's status is not its outcome: `CONSENSIO_OK` means the command
/// was taken and its reply will come.
///
/// Exactly once: open a session; write with its client id and sequence
/// numbers 1, 2, 3, ..., one write outstanding at a time. A write
/// answered `CONSENSIO_KV_RETRY`, or not at all (its node crashed or
/// was cut off), is sent again with the same sequence number, to this
/// node or another: if the first copy was applied, the retry gets its
/// saved answer and is not applied again.
///
/// Snapshots: every [`consensio_kv_snapshot_interval`] applied entries
/// (10,000 unless set with [`consensio_kv_set_snapshot_interval`]) the node
/// snapshots its store, client sessions included, and queues a snapshot
/// record ([`consensio_raft_record_is_snapshot`]): once it is durable the
/// host may delete every record before it. A write retried after a
/// snapshot still applies once. A follower that needs entries the leader
/// has dropped receives the leader's snapshot and replaces its store with
/// it (`CONSENSIO_KV_APPLY_SNAPSHOT`). A store whose image is over
/// `max_snapshot_bytes` is not snapshotted: size that bound for `limits`.
/// If a leader's snapshot is not the image of a store with this node's
/// limits, the frame that completes it is refused with
/// `CONSENSIO_MALFORMED` although the Raft node has installed it and its
/// outputs are queued (poll them): the store is behind the node; rebuild
/// the node (restoring it from its records fails alike), and give every
/// node the same limits.
///
/// # Safety
/// `config` and `limits` must be valid; `voters` hold `n` ids; `out`
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_new(
    config: *const consensio_raft_config,
    limits: *const consensio_kv_limits,
    voters: *const u64,
    n: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let ((raft, log), limits) = unsafe {
            (
                configure(config, voters, n)?,
                KvLimits::from(borrow(limits, "limits")?),
            )
        };
        let node = KvNode::new(raft, log, limits)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant_with(node, limits, out) }
    })
}

/// Rebuilds a key-value node after a restart from the `count` records it
/// persisted, in order, as [`consensio_raft_restore`]: the store is loaded
/// from the records' snapshot, if any (the first output is then
/// `CONSENSIO_KV_APPLY_SNAPSHOT`), then rebuilt as the committed entries
/// after it are reported again (from index 1 without a snapshot, as the
/// leader tells the node its commit index), so it catches up with the
/// cluster before its queries do. Statuses as `consensio_raft_restore`,
/// and `CONSENSIO_MALFORMED` if the snapshot is not the image of a store
/// with these `limits`. The snapshot interval starts at its default.
///
/// # Safety
/// As [`consensio_kv_new`]; `records` and `lens` hold `count` elements,
/// and each `records[i]` `lens[i]` bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn consensio_kv_restore(
    config: *const consensio_raft_config,
    limits: *const consensio_kv_limits,
    voters: *const u64,
    n: usize,
    records: *const *const u8,
    lens: *const usize,
    count: usize,
    out: *mut *mut consensio_participant,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let ((raft, log), limits, decoded) = unsafe {
            (
                configure(config, voters, n)?,
                KvLimits::from(borrow(limits, "limits")?),
                decode_records::<Persist>(records, lens, count)?,
            )
        };
        let node = KvNode::restore((raft, log, limits), &decoded)?;
        // SAFETY: forwarded from the caller.
        unsafe { give_participant_with(node, limits, out) }
    })
}

/// Feeds the command `build` makes, from the handle's store limits.
///
/// # Safety
/// `kv` must be NULL or a live handle.
unsafe fn kv_command(
    kv: *mut consensio_participant,
    now_ms: u64,
    build: impl FnOnce(&KvLimits) -> Result<kv::Command>,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (any, family) = unsafe { any_driver(kv) }?;
        if let Some(d) = any.downcast_ref::<Driver<Kv>>() {
            let limits = d.facts::<KvLimits>().copied().unwrap_or_default();
            return d.input(now_ms, Input::Command(build(&limits)?));
        }
        if let Some(d) = any.downcast_ref::<Driver<paxos::KvNode>>() {
            let limits = d.facts::<KvLimits>().copied().unwrap_or_default();
            return d.input(
                now_ms,
                Input::Command(crate::paxos::kv_command(build(&limits)?)?),
            );
        }
        Err(wrong_handle(family, "raft or paxos", "KvNode"))
    })
}

/// Borrows `len` bytes at `ptr` as a key (NULL with 0: the empty key),
/// refusing one over the store's limit.
///
/// # Safety
/// `ptr` must hold `len` bytes (or be NULL with `len` 0).
unsafe fn kv_bytes(ptr: *const u8, len: usize, what: &str, max: usize) -> Result<Vec<u8>> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { slice(ptr, len, what) }?;
    if bytes.len() > max {
        return Err(Failure::new(
            CONSENSIO_LIMIT_EXCEEDED,
            format!("{what} of {len} bytes; the store's limit is {max}"),
        ));
    }
    Ok(bytes.to_vec())
}

/// As [`kv_bytes`], but a NULL pointer (with `len` 0) is no value at all.
///
/// # Safety
/// As [`kv_bytes`].
unsafe fn kv_optional(
    ptr: *const u8,
    len: usize,
    what: &str,
    max: usize,
) -> Result<Option<Vec<u8>>> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { kv_bytes(ptr, len, what, max) }.map(Some)
}

/// Opens a client session (leader only). The reply
/// `CONSENSIO_KV_SESSION_OPENED` carries the client id in `values[2]`: the
/// index of the session's entry, so ids are never reused. A node that is
/// not the leader replies `CONSENSIO_KV_NOT_LEADER`, as every command.
///
/// The `consensio_kv_*` commands drive either key-value store: a Raft one
/// ([`consensio_kv_new`]) or a Paxos one (`consensio_paxos_kv_new`), which
/// has no leadership transfer or membership change (those calls return
/// `CONSENSIO_INVALID_ARGUMENT` on it) and serves every read through its
/// log.
///
/// Every command's status: `CONSENSIO_OK` when taken (the reply says what
/// came of it); `CONSENSIO_NULL_POINTER`, `CONSENSIO_INVALID_ARGUMENT`
/// for a handle that is not a key-value node or a `now_ms` earlier than
/// this thread's last; `CONSENSIO_LIMIT_EXCEEDED` for a key or value over
/// the store's limits. No reply comes for a command that fails.
///
/// # Safety
/// `kv` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_open_session(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |_| {
            Ok(kv::Command::OpenSession { id: request_id })
        })
    }
}

/// Hands leadership to voter `to` (see
/// [`consensio_raft_transfer_leadership`]). The reply is `CONSENSIO_KV_DONE`
/// once the transfer has begun (writes are then answered
/// `CONSENSIO_KV_NOT_LEADER` naming `to`), `CONSENSIO_KV_NOT_LEADER` on a
/// follower, `CONSENSIO_KV_NOT_A_VOTER` for a `to` that is not a voter.
///
/// # Safety
/// `kv` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_transfer_leadership(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
    to: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |_| {
            Ok(kv::Command::TransferLeadership {
                id: request_id,
                to: NodeId(to),
            })
        })
    }
}

/// A single-server membership change (see
/// [`consensio_raft_change_membership`]). The reply is `CONSENSIO_KV_DONE`
/// once the leader has appended it, `CONSENSIO_KV_BUSY` while another
/// change is under way or the learner to promote is behind,
/// `CONSENSIO_KV_BAD_MEMBERSHIP_CHANGE` for one that does not apply,
/// `CONSENSIO_KV_NOT_LEADER` on a follower. `CONSENSIO_INVALID_ARGUMENT`
/// (no reply) for an unknown `change`.
///
/// # Safety
/// `kv` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_change_membership(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
    change: u32,
    node: u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |_| {
            Ok(kv::Command::ChangeMembership {
                id: request_id,
                change: single_change(change, node)?,
            })
        })
    }
}

/// Sets `key[0..key_len]` to `value[0..value_len]`: write `seq` of session
/// `client` (see [`consensio_kv_new`] for sequences and retries). Replies
/// `CONSENSIO_KV_DONE` once applied.
///
/// # Safety
/// `kv` must be a live handle; `key` hold `key_len` bytes, `value`
/// `value_len`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn consensio_kv_put(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
    client: u64,
    seq: u64,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |l| {
            let op = KvOp::Put {
                key: kv_bytes(key, key_len, "key", l.max_key_bytes)?,
                value: kv_bytes(value, value_len, "value", l.max_value_bytes)?,
            };
            Ok(write(request_id, client, seq, op))
        })
    }
}

/// Removes `key[0..key_len]`: write `seq` of session `client`. Replies
/// `CONSENSIO_KV_DONE` once applied, whether or not the key was there.
///
/// # Safety
/// `kv` must be a live handle; `key` hold `key_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_delete(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
    client: u64,
    seq: u64,
    key: *const u8,
    key_len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |l| {
            let key = kv_bytes(key, key_len, "key", l.max_key_bytes)?;
            Ok(write(request_id, client, seq, KvOp::Delete { key }))
        })
    }
}

/// Compare-and-set: if `key` holds `expected`, set it to `new_value`; write
/// `seq` of session `client`. `expected` NULL (with length 0) means "the
/// key is absent", and `new_value` NULL means "remove the key"; a non-NULL
/// pointer with length 0 is the empty value, which is present. Replies
/// `CONSENSIO_KV_SWAPPED` or `CONSENSIO_KV_NOT_SWAPPED` once applied.
///
/// # Safety
/// `kv` must be a live handle; each pointer NULL or holding its length's
/// bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn consensio_kv_cas(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
    client: u64,
    seq: u64,
    key: *const u8,
    key_len: usize,
    expected: *const u8,
    expected_len: usize,
    new_value: *const u8,
    new_len: usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |l| {
            let op = KvOp::Cas {
                key: kv_bytes(key, key_len, "key", l.max_key_bytes)?,
                expected: kv_optional(expected, expected_len, "expected", l.max_value_bytes)?,
                new: kv_optional(new_value, new_len, "new_value", l.max_value_bytes)?,
            };
            Ok(write(request_id, client, seq, op))
        })
    }
}

fn write(id: u64, client: u64, seq: u64, op: KvOp) -> kv::Command {
    kv::Command::Write {
        id,
        client,
        seq,
        op,
    }
}

/// A linearizable read of `key[0..key_len]` (leader only; no session
/// needed). With `lease` 0 it is served by ReadIndex (a heartbeat round);
/// with `lease` non-zero, under the leader's lease while it holds, which
/// relies on clock drift staying within `max_clock_drift_ms` (a node
/// without `check_quorum` replies `CONSENSIO_KV_LEASE_READS_DISABLED`).
/// Replies `CONSENSIO_KV_VALUE` with the value or `CONSENSIO_KV_ABSENT`, or
/// `CONSENSIO_KV_RETRY` if leadership was lost first. On a Paxos store the
/// read goes through the log whatever `lease` says.
///
/// # Safety
/// `kv` must be a live handle; `key` hold `key_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_get(
    kv: *mut consensio_participant,
    now_ms: u64,
    request_id: u64,
    key: *const u8,
    key_len: usize,
    lease: u8,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        kv_command(kv, now_ms, |l| {
            Ok(kv::Command::Get {
                id: request_id,
                key: kv_bytes(key, key_len, "key", l.max_key_bytes)?,
                lease: lease != 0,
            })
        })
    }
}

/// Snapshots the store every `entries` applied entries (or slots, for a
/// Paxos store) from now on (0: never; 10,000 on a new or restored node). A
/// local choice, kept in memory only: nodes of a cluster may differ, and a
/// restored node starts at the default again. Takes effect at the next
/// input; it queues nothing.
///
/// # Safety
/// `kv` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_set_snapshot_interval(
    kv: *mut consensio_participant,
    entries: u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (any, family) = unsafe { any_driver(kv) }?;
        if let Some(d) = any.downcast_ref::<Driver<Kv>>() {
            d.with_mut(|node| node.set_snapshot_interval(entries));
        } else if let Some(d) = any.downcast_ref::<Driver<paxos::KvNode>>() {
            d.with_mut(|node| node.set_snapshot_interval(entries));
        } else {
            return Err(wrong_handle(family, "raft or paxos", "KvNode"));
        }
        Ok(())
    })
}

/// Applied entries (or slots) between the store's snapshots (0: never).
///
/// # Safety
/// `kv` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_snapshot_interval(
    kv: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (any, family) = unsafe { any_driver(kv) }?;
        // SAFETY: forwarded from the caller.
        let o = unsafe { borrow_mut(out, "out") }?;
        *o = if let Some(d) = any.downcast_ref::<Driver<Kv>>() {
            d.with(KvNode::snapshot_interval)
        } else if let Some(d) = any.downcast_ref::<Driver<paxos::KvNode>>() {
            d.with(paxos::KvNode::snapshot_interval)
        } else {
            return Err(wrong_handle(family, "raft or paxos", "KvNode"));
        };
        Ok(())
    })
}

/// The key-value node's Raft role.
///
/// # Safety
/// `kv` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_role(
    kv: *const consensio_participant,
    out: *mut consensio_raft_node_role,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Kv, _>(kv, out, |n| n.raft().role().into()) }
}

/// The key-value node's current term.
///
/// # Safety
/// `kv` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_term(
    kv: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Kv, _>(kv, out, |n| n.raft().term()) }
}

/// The leader of the current term (this node, if leader); `*out_has` 0
/// while it is unknown.
///
/// # Safety
/// `kv` must be a live handle; the out-pointers writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_leader(
    kv: *const consensio_participant,
    out_has: *mut u8,
    out_leader: *mut u64,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, has, leader) = unsafe {
            (
                driver::<Kv>(kv)?,
                borrow_mut(out_has, "out_has")?,
                borrow_mut(out_leader, "out_leader")?,
            )
        };
        optional(d.with(|n| n.raft().leader().map(|l| l.0)), has, leader);
        Ok(())
    })
}

/// The highest index known to be committed.
///
/// # Safety
/// `kv` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_commit_index(
    kv: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Kv, _>(kv, out, |n| n.raft().commit_index()) }
}

/// The index of the last entry applied to this node's store.
///
/// # Safety
/// `kv` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_applied_index(
    kv: *const consensio_participant,
    out: *mut u64,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Kv, _>(kv, out, |n| n.store().applied_index()) }
}

/// The largest frame this node sends, as [`consensio_raft_max_frame_len`].
///
/// # Safety
/// `kv` must be a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn consensio_kv_max_frame_len(
    kv: *const consensio_participant,
    out: *mut usize,
) -> consensio_status {
    // SAFETY: forwarded from the caller.
    unsafe { query::<Kv, _>(kv, out, |n| frame_len(n.raft().config())) }
}

/// The value of `key[0..key_len]` in this node's store, as far as it has
/// applied the log: not linearizable (a follower may lag, a deposed leader
/// may not know it); read with [`consensio_kv_get`] for that. `*out_found`
/// is 1 and the value is copied to `buf[0..*out_len]`, or `*out_found` is 0
/// and `*out_len` 0. `CONSENSIO_BUFFER_TOO_SMALL` if `cap` is short;
/// `*out_len` then holds the length needed.
///
/// # Safety
/// `kv` must be a live handle; `key` hold `key_len` bytes; `buf` `cap`
/// writable bytes (or be NULL with `cap` 0); the out-pointers writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn consensio_kv_local_value(
    kv: *const consensio_participant,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_found: *mut u8,
) -> consensio_status {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (d, key, buf, len, found) = unsafe {
            (
                driver::<Kv>(kv)?,
                slice(key, key_len, "key")?,
                slice_mut(buf, cap, "buf")?,
                borrow_mut(out_len, "out_len")?,
                borrow_mut(out_found, "out_found")?,
            )
        };
        match d.with(|n| n.store().get(key).map(<[u8]>::to_vec)) {
            Some(value) => {
                copy_out(&value, buf, len)?;
                *found = 1;
            }
            None => (*len, *found) = (0, 0),
        }
        Ok(())
    })
}
