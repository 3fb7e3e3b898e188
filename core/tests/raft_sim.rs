//! Raft under faults: many seeded runs of 3- and 5-node clusters over a
//! network that loses, duplicates and reorders real wire frames, with
//! partitions and crashes (a crashed node is rebuilt from exactly the
//! records it persisted, and may crash in the middle of its outputs). Every
//! node snapshots its state machine (a hash chain of the entries it
//! applied) every few entries, so lagging and restarted followers catch up
//! by InstallSnapshot in small chunks, and a disk keeps only the records
//! since its last snapshot. Each
//! node has its own clock, offset and running up to 2.5% fast or slow:
//! within the lease's drift bound of 10 ms per 150 ms election timeout.
//!
//! Checked on every step: election safety (one leader per term), persist
//! before send (every message is backed by what its sender has on disk),
//! state machine safety (one entry per index, committed entries are on the
//! committing node's disk), leader completeness (a new leader holds every
//! entry committed in an earlier term), read linearizability (a read index
//! is at least every commit index reported before the read), and exactly-
//! once, in-order `Committed` events; snapshot safety (an installed or
//! restored snapshot is the state of exactly the entries committed up to
//! its index, and a restart reads one snapshot and a bounded number of
//! records); log matching every few hundred steps.
//! After the faults stop, a leader must be elected and a proposal commit on
//! every node.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write as _;

use consensio::quorum::MajorityConfig;
use consensio::raft::{
    self, ArenaLog, Body, Command, Event, LogStorage, Message, Persist, RaftNode, Role,
};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore, Rng, wire};

type Node = RaftNode<ArenaLog>;

/// How long the faults last, and how long the cluster then has to recover.
const FAULT_MS: u64 = 2_000;
const SETTLE_MS: u64 = 2_000;
/// The workload and the fault schedule act this often.
const WORK_MS: u64 = 10;
const SEEDS: u64 = 300;
/// Clock rates differ from real time by at most this many parts per million.
const MAX_DRIFT_PPM: u64 = 25_000;
/// Every node snapshots once it has applied this many entries since its
/// last snapshot.
const SNAPSHOT_EVERY: u64 = 24;
/// A restart reads one snapshot and at most this many records after it
/// (entries applied since, uncommitted entries, term changes).
const MAX_RECORDS_AFTER_SNAPSHOT: usize = 400;

/// A node's clock: `offset + t * (1 + ppm / 10^6)` at simulated time `t`.
#[derive(Clone, Copy, Debug)]
struct Clock {
    offset: u64,
    ppm: i64,
}

impl Clock {
    fn local(self, t: u64) -> u64 {
        let scaled = i128::from(t) * (1_000_000 + i128::from(self.ppm)) / 1_000_000;
        self.offset + u64::try_from(scaled).unwrap()
    }

    /// The first simulated time, not before `now`, at which the clock
    /// reads `deadline`.
    fn sim_time_of(self, deadline: u64, now: u64) -> u64 {
        let rate = 1_000_000 + i128::from(self.ppm);
        let estimate = (i128::from(deadline) - i128::from(self.offset)) * 1_000_000 / rate;
        let mut t = u64::try_from(estimate.max(0))
            .unwrap()
            .saturating_sub(1)
            .max(now);
        while self.local(t) < deadline {
            t += 1;
        }
        t
    }
}

fn config(id: u64, n: u64, seed: u64) -> raft::Config {
    let voters = MajorityConfig::from_voters((1..=n).map(NodeId)).unwrap();
    let mut c = raft::Config::new(NodeId(id), voters);
    c.seed = seed;
    // Small windows and batches, so that probing, streaming, window stalls
    // and backtracking all happen.
    c.max_entries_per_message = 4;
    c.max_bytes_per_message = 64;
    c.max_entry_bytes = 16;
    c.max_inflight_messages = 3;
    c.max_inflight_bytes = 128;
    c.max_uncommitted_entries = 64;
    c.max_pending_reads = 16;
    c.max_apply_per_step = 8;
    c
}

fn log() -> ArenaLog {
    ArenaLog::new(100_000, 1 << 22)
}

/// What a node's disk holds: its records since the last snapshot record,
/// replayed independently of the node's own code.
#[derive(Clone, Debug, Default)]
struct Disk {
    records: Vec<Persist>,
    term: u64,
    vote: Option<NodeId>,
    /// The last snapshot: its index, term and data.
    snapshot: (u64, u64, Vec<u8>),
    /// The entries after the snapshot.
    log: Vec<(u64, Vec<u8>)>,
    /// The most records ever held after a snapshot.
    max_records: usize,
}

impl Disk {
    fn write(&mut self, record: Persist) -> Result<(), String> {
        match &record {
            Persist::HardState { term, vote } => self.hard_state(*term, *vote)?,
            Persist::Identity(_) if !self.records.is_empty() => {
                return Err("a second identity record".into());
            }
            Persist::Identity(_) => {}
            Persist::Entries {
                first_index,
                entries,
            } => {
                let base = self.snapshot.0;
                let keep = first_index
                    .checked_sub(base + 1)
                    .ok_or(format!("entries at {first_index} rewrite the snapshot"))?;
                if keep > self.log.len() as u64 {
                    return Err(format!("entries at {first_index} leave a gap"));
                }
                self.log.truncate(keep as usize);
                self.log
                    .extend(entries.iter().map(|e| (e.term, e.data.clone())));
            }
            Persist::Snapshot {
                snapshot,
                term,
                vote,
                entries,
                ..
            } => {
                self.hard_state(*term, *vote)?;
                if snapshot.index <= self.snapshot.0 {
                    return Err(format!("snapshot {} is not past the last", snapshot.index));
                }
                // Whatever the log held up to the snapshot, it is the
                // snapshot now; the host drops every earlier record.
                self.snapshot = (snapshot.index, snapshot.term, snapshot.data.clone());
                self.log = entries.iter().map(|e| (e.term, e.data.clone())).collect();
                self.records.clear();
            }
        }
        self.records.push(record);
        self.max_records = self.max_records.max(self.records.len() - 1);
        Ok(())
    }

    fn hard_state(&mut self, term: u64, vote: Option<NodeId>) -> Result<(), String> {
        if term < self.term {
            return Err(format!("term went back from {} to {term}", self.term));
        }
        if term == self.term && self.vote.is_some() && vote != self.vote {
            return Err(format!("vote changed within term {term}"));
        }
        self.term = term;
        self.vote = vote;
        Ok(())
    }

    fn entry(&self, index: u64) -> Option<&(u64, Vec<u8>)> {
        let k = index.checked_sub(self.snapshot.0 + 1)?;
        self.log.get(usize::try_from(k).ok()?)
    }

    /// The term at `index`: an entry's, or the snapshot's at its index.
    fn term(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.0 {
            return Some(self.snapshot.1);
        }
        self.entry(index).map(|e| e.0)
    }

    fn last_index(&self) -> u64 {
        self.snapshot.0 + self.log.len() as u64
    }
}

/// The test's state machine: a hash chain (FNV-1a) over the entries
/// applied, in order.
fn chain(state: u64, index: u64, term: u64, data: &[u8]) -> u64 {
    let bytes = index
        .to_le_bytes()
        .into_iter()
        .chain(term.to_le_bytes())
        .chain(data.iter().copied());
    bytes.fold(state, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A snapshot's data: the state, repeated to `len` words so that it takes
/// several chunks.
fn snapshot_data(state: u64, words: u64) -> Vec<u8> {
    (0..words).flat_map(|_| state.to_le_bytes()).collect()
}

/// A frame in flight: (arrival ms, sequence number, from, to, bytes),
/// ordered by arrival, ties by sending order.
type InFlight = Reverse<(u64, u64, u64, u64, Vec<u8>)>;

#[derive(Clone, Debug)]
struct Committed {
    term: u64,
    data: Vec<u8>,
    /// The smallest term in which a node reported it: it was committed in
    /// that term or earlier.
    by_term: u64,
}

struct Sim {
    seed: u64,
    n: u64,
    rng: Rng,
    now: u64,
    nodes: Vec<Option<Node>>,
    clocks: Vec<Clock>,
    disks: Vec<Disk>,
    network: BinaryHeap<InFlight>,
    seq: u64,
    cut: BTreeSet<(u64, u64)>,
    loss: f64,
    duplicate: f64,
    max_latency: u64,
    faults_on: bool,
    next_work: u64,
    steps: u64,
    crashes: u64,
    partitions: u64,
    // Checker state.
    leaders: BTreeMap<u64, u64>,
    committed: BTreeMap<u64, Committed>,
    /// Per node: the last index reported in this lifetime.
    applied: Vec<u64>,
    /// Per node: its state machine (see `chain`).
    states: Vec<u64>,
    snapshots_taken: u64,
    snapshots_installed: u64,
    snapshots_restored: u64,
    /// The node being restarted, which reports its snapshot first.
    restoring: Option<u64>,
    max_known_commit: u64,
    /// Reads waiting: (node, id) -> smallest acceptable read index.
    reads: BTreeMap<(u64, u64), u64>,
    reads_served: u64,
    next_value: u64,
    final_value: Option<Vec<u8>>,
    trace: Option<String>,
}

impl Sim {
    fn new(seed: u64, record_trace: bool) -> Self {
        let mut rng = Rng::seed_from_u64(seed);
        let n = if seed % 2 == 0 { 3 } else { 5 };
        let nodes = (1..=n)
            .map(|id| Some(Node::new(config(id, n, seed ^ id), log()).unwrap()))
            .collect();
        let loss = rng.next_f64() * 0.3;
        let duplicate = rng.next_f64() * 0.2;
        let max_latency = rng.between(2, 40);
        let clocks = (0..n)
            .map(|_| Clock {
                offset: rng.below(1_000),
                ppm: rng.below(2 * MAX_DRIFT_PPM + 1) as i64 - MAX_DRIFT_PPM as i64,
            })
            .collect();
        Sim {
            seed,
            n,
            rng,
            now: 0,
            nodes,
            clocks,
            disks: vec![Disk::default(); n as usize],
            network: BinaryHeap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            loss,
            duplicate,
            max_latency,
            faults_on: true,
            next_work: 0,
            steps: 0,
            crashes: 0,
            partitions: 0,
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            applied: vec![0; n as usize],
            states: vec![0; n as usize],
            snapshots_taken: 0,
            snapshots_installed: 0,
            snapshots_restored: 0,
            restoring: None,
            max_known_commit: 0,
            reads: BTreeMap::new(),
            reads_served: 0,
            next_value: 0,
            final_value: None,
            trace: record_trace.then(String::new),
        }
    }

    fn fail(&self, what: String) -> ! {
        panic!(
            "seed {} ({} nodes) at {} ms, step {}: {what}\n  replay: cargo test --test raft_sim -- one_seed --nocapture (SEED={})",
            self.seed, self.n, self.now, self.steps, self.seed
        );
    }

    fn clock(&self, id: u64) -> Clock {
        self.clocks[id as usize - 1]
    }

    /// What node `id`'s clock reads now.
    fn local_now(&self, id: u64) -> Instant {
        Instant::from_millis(self.clock(id).local(self.now))
    }

    fn node(&self, id: u64) -> Option<&Node> {
        self.nodes.get(id as usize - 1)?.as_ref()
    }

    fn run(&mut self, until: u64) {
        loop {
            let msg = self.network.peek().map(|Reverse(m)| m.0);
            let tick = (1..=self.n)
                .filter_map(|id| {
                    let deadline = self.node(id)?.next_deadline()?.as_millis();
                    Some((self.clock(id).sim_time_of(deadline, self.now), id))
                })
                .min();
            let t = [msg, tick.map(|t| t.0), Some(self.next_work)]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            self.steps += 1;
            if msg == Some(t) {
                let Reverse((_, _, from, to, bytes)) = self.network.pop().unwrap();
                self.deliver(from, to, &bytes);
            } else if let Some((_, id)) = tick.filter(|&(at, _)| at == t) {
                self.input(id, Input::Tick);
            } else {
                self.next_work = self.now + WORK_MS;
                self.work();
            }
            if self.steps % 256 == 0 {
                self.check_log_matching();
            }
        }
        self.now = until;
    }

    fn deliver(&mut self, from: u64, to: u64, bytes: &[u8]) {
        if self.cut.contains(&(from, to)) || self.node(to).is_none() {
            return;
        }
        let now = self.local_now(to);
        let node = self.nodes[to as usize - 1].as_mut().unwrap();
        if let Err(e) = node.handle_message(now, NodeId(from), bytes) {
            self.fail(format!("n{to} rejected a frame from n{from}: {e}"));
        }
        self.drain(to);
    }

    fn input(&mut self, id: u64, input: Input<Message, Command>) -> bool {
        let now = self.local_now(id);
        let Some(node) = self.nodes[id as usize - 1].as_mut() else {
            return false;
        };
        let accepted = node.handle_input(now, input).is_ok();
        self.drain(id);
        accepted
    }

    /// Acts on every output of node `id`, in order; with faults on, the node
    /// may crash part-way, losing the rest.
    fn drain(&mut self, id: u64) {
        let node = self.nodes[id as usize - 1].as_mut().unwrap();
        let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
        let crash_at = (self.faults_on && self.rng.chance(0.005))
            .then(|| self.rng.below(outputs.len() as u64 + 1) as usize);
        for (k, output) in outputs.into_iter().enumerate() {
            if crash_at == Some(k) {
                break;
            }
            if let Some(trace) = &mut self.trace {
                writeln!(trace, "{} n{id} {output:?}", self.now).unwrap();
            }
            match output {
                Output::Persist(record) => {
                    if let Err(e) = self.disks[id as usize - 1].write(record) {
                        self.fail(format!("n{id} persisted a bad record: {e}"));
                    }
                }
                Output::Send { to, message } => {
                    self.check_send(id, to.0, &message);
                    self.transmit(id, to.0, &message);
                }
                Output::Event(event) => self.check_event(id, event),
            }
        }
        if crash_at.is_some() {
            self.crash(id);
        }
    }

    fn transmit(&mut self, from: u64, to: u64, message: &Message) {
        let bytes = wire::encode_to_vec(message).unwrap();
        if self.faults_on && self.rng.chance(self.loss) {
            return;
        }
        let copies = if self.faults_on && self.rng.chance(self.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + self.rng.between(1, self.max_latency);
            self.seq += 1;
            self.network
                .push(Reverse((at, self.seq, from, to, bytes.clone())));
        }
    }

    fn crash(&mut self, id: u64) {
        self.crashes += 1;
        self.nodes[id as usize - 1] = None;
    }

    fn restart(&mut self, id: u64) {
        let disk = &self.disks[id as usize - 1];
        let node = Node::restore((config(id, self.n, self.seed ^ id), log()), &disk.records)
            .unwrap_or_else(|e| self.fail(format!("n{id} could not restart: {e}")));
        if node.term() != disk.term || node.log().last_index() != disk.last_index() {
            self.fail(format!("n{id} restarted with other state than its disk"));
        }
        if disk.records.len() > 1 + MAX_RECORDS_AFTER_SNAPSHOT {
            self.fail(format!(
                "n{id} restarted from {} records: more than a snapshot and {MAX_RECORDS_AFTER_SNAPSHOT}",
                disk.records.len()
            ));
        }
        self.nodes[id as usize - 1] = Some(node);
        self.applied[id as usize - 1] = 0;
        self.states[id as usize - 1] = 0;
        // A restored node reports its snapshot first.
        self.restoring = Some(id);
        self.drain(id);
        self.restoring = None;
        self.reads.retain(|&(node, _), _| node != id);
    }

    // ---- the workload and the faults ----------------------------------------

    fn work(&mut self) {
        let live: Vec<u64> = (1..=self.n).filter(|&id| self.node(id).is_some()).collect();
        if self.faults_on {
            self.inject_faults(&live);
        }
        for &id in &live {
            self.maybe_snapshot(id);
        }
        let leader = live
            .iter()
            .copied()
            .find(|&id| self.node(id).is_some_and(|n| n.role() == Role::Leader));
        // Proposals, mostly to the leader.
        if !live.is_empty() && self.rng.chance(0.5) {
            let target = match leader {
                Some(l) if self.rng.chance(0.8) => l,
                _ => live[self.rng.below(live.len() as u64) as usize],
            };
            self.next_value += 1;
            let value = format!("{}:{}", self.seed, self.next_value).into_bytes();
            self.input(target, Input::Command(Command::Propose(value)));
        }
        // Reads, by ReadIndex or lease, to every node that believes it
        // leads: a deposed leader that has not noticed must not serve one.
        let leaders: Vec<u64> = live
            .iter()
            .copied()
            .filter(|&id| self.node(id).is_some_and(|n| n.role() == Role::Leader))
            .collect();
        // And to a follower now and then (thesis §6.4.1): it asks its
        // leader for the read index.
        let pick = self.rng.below(live.len() as u64) as usize;
        let follower = live
            .iter()
            .copied()
            .filter(|&id| self.node(id).is_some_and(|n| n.role() == Role::Follower))
            .nth(pick);
        for l in leaders.into_iter().chain(follower) {
            if !self.rng.chance(0.3) {
                continue;
            }
            self.next_value += 1;
            let id = self.next_value;
            let command = if self.rng.chance(0.5) {
                Command::Read { id }
            } else {
                Command::LeaseRead { id }
            };
            // Any commit reported before the read started must be visible.
            // It may be answered at once, so it is registered first.
            self.reads.insert((l, id), self.max_known_commit);
            if !self.input(l, Input::Command(command)) {
                self.reads.remove(&(l, id));
            }
        }
        // After the faults, one marked proposal must commit everywhere.
        if !self.faults_on && self.final_value.is_none() && self.now >= FAULT_MS + SETTLE_MS / 2 {
            if let Some(l) = leader {
                let value = format!("final:{}", self.seed).into_bytes();
                if self.input(l, Input::Command(Command::Propose(value.clone()))) {
                    self.final_value = Some(value);
                }
            }
        }
    }

    /// Snapshots node `id`'s state machine once it has applied
    /// `SNAPSHOT_EVERY` entries past its last snapshot.
    fn maybe_snapshot(&mut self, id: u64) {
        let Some(node) = self.node(id) else { return };
        let applied = self.applied[id as usize - 1];
        if applied < node.log().first_index() + SNAPSHOT_EVERY {
            return;
        }
        let words = self.rng.between(1, 40);
        let data = snapshot_data(self.states[id as usize - 1], words);
        let node = self.nodes[id as usize - 1].as_mut().unwrap();
        if let Err(e) = node.compact(applied, data) {
            self.fail(format!("n{id} refused a snapshot at {applied}: {e}"));
        }
        self.snapshots_taken += 1;
        self.drain(id);
    }

    fn inject_faults(&mut self, live: &[u64]) {
        let r = self.rng.next_f64();
        if r < 0.01 {
            // A partition into two sides.
            self.partitions += 1;
            self.cut.clear();
            let side: Vec<bool> = (0..self.n).map(|_| self.rng.chance(0.5)).collect();
            for a in 1..=self.n {
                for b in 1..=self.n {
                    if side[a as usize - 1] != side[b as usize - 1] {
                        self.cut.insert((a, b));
                    }
                }
            }
        } else if r < 0.015 {
            self.cut.clear();
        } else if r < 0.02 {
            let a = self.rng.between(1, self.n);
            let b = self.rng.between(1, self.n);
            self.cut.insert((a, b));
        } else if r < 0.03 && !live.is_empty() {
            let id = live[self.rng.below(live.len() as u64) as usize];
            self.crash(id);
        } else if r < 0.06 {
            let id = self.rng.between(1, self.n);
            if self.node(id).is_none() {
                self.restart(id);
            }
        }
    }

    fn stop_faults(&mut self) {
        self.faults_on = false;
        self.cut.clear();
        for id in 1..=self.n {
            if self.node(id).is_none() {
                self.restart(id);
            }
        }
    }

    // ---- the checkers ---------------------------------------------------------

    /// Persist before send: the message is backed by the sender's disk.
    fn check_send(&self, id: u64, to: u64, message: &Message) {
        let disk = &self.disks[id as usize - 1];
        let term_ok = match message.body {
            Body::PreVote { .. } => message.term == disk.term + 1,
            Body::PreVoteResponse { granted: true } => true,
            _ => message.term == disk.term,
        };
        if !term_ok {
            self.fail(format!(
                "n{id} sent {message:?} with term {} on disk",
                disk.term
            ));
        }
        match &message.body {
            Body::RequestVote { .. } if disk.vote != Some(NodeId(id)) => {
                self.fail(format!("n{id} asked for votes before persisting its own"));
            }
            Body::RequestVoteResponse { granted: true } if disk.vote != Some(NodeId(to)) => {
                self.fail(format!("n{id} granted n{to} a vote not on disk"));
            }
            Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                ..
            } => {
                let prev_ok =
                    *prev_log_index == 0 || disk.term(*prev_log_index) == Some(*prev_log_term);
                let entries_ok = entries
                    .iter()
                    .zip(prev_log_index + 1..)
                    .all(|(e, i)| disk.entry(i) == Some(&(e.term, e.data.clone())));
                if !prev_ok || !entries_ok {
                    self.fail(format!("n{id} sent entries not on its disk: {message:?}"));
                }
            }
            Body::InstallSnapshot {
                index,
                snapshot_term,
                offset,
                data,
                ..
            } => {
                let (at, term, held) = &disk.snapshot;
                let start = *offset as usize;
                let backed = (at, term) == (index, snapshot_term)
                    && held.get(start..start + data.len()) == Some(&data[..]);
                if !backed {
                    self.fail(format!(
                        "n{id} sent a snapshot chunk not on its disk: {message:?}"
                    ));
                }
            }
            Body::AppendAccepted { match_index } => {
                let node = self.node(id).unwrap();
                // What the snapshot on disk covers is backed by it.
                let from = disk.snapshot.0.max(node.log().first_index() - 1) + 1;
                let backed = (from..=*match_index).all(|i| {
                    let e = node.log().entry(i);
                    e.is_some_and(|e| disk.entry(i) == Some(&(e.term, e.data.to_vec())))
                });
                if !backed {
                    self.fail(format!(
                        "n{id} acknowledged {match_index} before persisting"
                    ));
                }
                // And it is true: the log matches the leader's up to there.
                let leader = self
                    .node(to)
                    .filter(|l| l.role() == Role::Leader && l.term() == message.term);
                if let Some(leader) = leader {
                    let (ll, fl) = (leader.log(), node.log());
                    let from = ll.first_index().max(fl.first_index());
                    if (from..=*match_index).any(|i| ll.term(i) != fl.term(i)) {
                        self.fail(format!(
                            "n{id} acknowledged {match_index} to n{to} but their logs differ before it"
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    fn check_event(&mut self, id: u64, event: Event) {
        let term = self.node(id).map_or(0, Node::term);
        match event {
            Event::BecameLeader { term } => {
                if let Some(other) = self.leaders.insert(term, id) {
                    self.fail(format!("two leaders in term {term}: n{other} and n{id}"));
                }
                let node = self.node(id).unwrap();
                // Entries its snapshot covers were checked when it was
                // installed or restored.
                let first = node.log().first_index();
                for (&index, c) in self.committed.range(first..) {
                    if c.by_term < term {
                        let held = node.log().entry(index);
                        if held.is_none_or(|e| (e.term, e.data) != (c.term, &c.data[..])) {
                            self.fail(format!(
                                "leader n{id} of term {term} lacks entry {index} committed by term {}",
                                c.by_term
                            ));
                        }
                    }
                }
            }
            Event::Committed {
                index,
                term: entry_term,
                data,
            } => {
                let applied = &mut self.applied[id as usize - 1];
                if index != *applied + 1 {
                    let want = *applied + 1;
                    self.fail(format!("n{id} reported {index} after {}", want - 1));
                }
                *applied = index;
                let state = &mut self.states[id as usize - 1];
                *state = chain(*state, index, entry_term, &data);
                if self.disks[id as usize - 1].entry(index) != Some(&(entry_term, data.clone())) {
                    self.fail(format!("n{id} committed {index}, which is not on its disk"));
                }
                match self.committed.get_mut(&index) {
                    Some(c) if (c.term, &c.data) != (entry_term, &data) => {
                        self.fail(format!("two different entries committed at {index}"));
                    }
                    Some(c) => c.by_term = c.by_term.min(term),
                    None => {
                        let c = Committed {
                            term: entry_term,
                            data,
                            by_term: term,
                        };
                        self.committed.insert(index, c);
                    }
                }
                self.max_known_commit = self.max_known_commit.max(index);
            }
            Event::ReadReady { id: read, index } => {
                let Some(floor) = self.reads.remove(&(id, read)) else {
                    self.fail(format!("n{id} answered unknown read {read}"));
                };
                if index < floor {
                    self.fail(format!(
                        "read {read} at {index} misses commit {floor} reported before it"
                    ));
                }
                if index > self.applied[id as usize - 1] {
                    self.fail(format!("read {read} ready before {index} was applied"));
                }
                self.reads_served += 1;
            }
            // Its membership stays fixed (no changes in this workload).
            Event::MembershipCommitted { .. } => self.fail(format!("n{id} changed membership")),
            Event::ProposalDropped {
                index,
                term: proposed,
            } => {
                // Only after another term's entry committed at its index.
                if self
                    .committed
                    .get(&index)
                    .is_none_or(|c| c.term == proposed)
                {
                    self.fail(format!(
                        "n{id} reported its proposal at {index} of term {proposed} dropped"
                    ));
                }
            }
            Event::ReadFailed { id: read } => {
                if self.reads.remove(&(id, read)).is_none() {
                    self.fail(format!("n{id} failed unknown read {read}"));
                }
            }
            Event::ApplySnapshot {
                index,
                term: snap_term,
            } => {
                let applied = self.applied[id as usize - 1];
                if index <= applied {
                    self.fail(format!(
                        "n{id} applied a snapshot at {index} after {applied}"
                    ));
                }
                // The snapshot is the state of exactly the entries committed
                // up to its index.
                let mut state = 0;
                for i in 1..=index {
                    let Some(c) = self.committed.get(&i) else {
                        self.fail(format!(
                            "n{id} took a snapshot at {index} covering uncommitted {i}"
                        ));
                    };
                    state = chain(state, i, c.term, &c.data);
                }
                let node = self.node(id).unwrap();
                let snapshot = node.snapshot().unwrap();
                let held = u64::from_le_bytes(snapshot.data[..8].try_into().unwrap());
                if (snapshot.index, snapshot.term) != (index, snap_term) || held != state {
                    self.fail(format!(
                        "n{id} installed a snapshot at {index} that is not the committed state"
                    ));
                }
                if self.disks[id as usize - 1].snapshot.0 < index {
                    self.fail(format!(
                        "n{id} applied a snapshot at {index} not on its disk"
                    ));
                }
                self.applied[id as usize - 1] = index;
                self.states[id as usize - 1] = state;
                if self.restoring == Some(id) {
                    self.snapshots_restored += 1;
                } else {
                    self.snapshots_installed += 1;
                }
                self.max_known_commit = self.max_known_commit.max(index);
            }
            Event::BecameFollower { .. } | Event::LogFull { .. } => {}
        }
    }

    /// Log matching (§5.3): two logs with an entry of the same index and
    /// term are identical up to it.
    fn check_log_matching(&self) {
        let logs: Vec<(u64, &ArenaLog)> = (1..=self.n)
            .filter_map(|id| Some((id, self.node(id)?.log())))
            .collect();
        for (k, &(a, la)) in logs.iter().enumerate() {
            for &(b, lb) in &logs[k + 1..] {
                let top = la.last_index().min(lb.last_index());
                let bottom = la.first_index().max(lb.first_index());
                let Some(same) = (bottom..=top).rev().find(|&i| la.term(i) == lb.term(i)) else {
                    continue;
                };
                if (bottom..=same).any(|i| {
                    la.entry(i).map(|e| (e.term, e.data)) != lb.entry(i).map(|e| (e.term, e.data))
                }) {
                    self.fail(format!(
                        "n{a} and n{b} share entry {same} but differ before it"
                    ));
                }
            }
        }
    }

    fn check_liveness(&self) {
        let leaders: Vec<u64> = (1..=self.n)
            .filter(|&id| self.node(id).unwrap().role() == Role::Leader)
            .collect();
        if leaders.len() != 1 {
            self.fail(format!(
                "{} leaders after the faults stopped",
                leaders.len()
            ));
        }
        let Some(value) = &self.final_value else {
            self.fail("no leader took the final proposal".into());
        };
        let Some((&index, _)) = self.committed.iter().find(|(_, c)| &c.data == value) else {
            self.fail("the final proposal never committed".into());
        };
        for (k, &applied) in self.applied.iter().enumerate() {
            if applied < index {
                self.fail(format!("n{} applied {applied}, not {index}", k + 1));
            }
        }
    }
}

/// One whole run: faults, then recovery; returns the simulator for checks.
fn run_seed(seed: u64, record_trace: bool) -> Sim {
    let mut sim = Sim::new(seed, record_trace);
    sim.run(FAULT_MS);
    sim.stop_faults();
    sim.run(FAULT_MS + SETTLE_MS);
    sim.check_log_matching();
    sim.check_liveness();
    sim
}

#[test]
fn raft_is_safe_under_faults_and_recovers_after_them() {
    let (mut commits, mut reads, mut terms, mut steps) = (0, 0, 0, 0);
    let (mut crashes, mut partitions) = (0, 0);
    let (mut taken, mut installed, mut restored, mut max_records) = (0, 0, 0, 0);
    for seed in 0..SEEDS {
        let sim = run_seed(seed, false);
        commits += sim.committed.len();
        reads += sim.reads_served;
        terms += sim.leaders.len();
        steps += sim.steps;
        crashes += sim.crashes;
        partitions += sim.partitions;
        taken += sim.snapshots_taken;
        installed += sim.snapshots_installed;
        restored += sim.snapshots_restored;
        max_records = sim
            .disks
            .iter()
            .map(|d| d.max_records)
            .max()
            .unwrap()
            .max(max_records);
    }
    println!(
        "{SEEDS} seeds: {steps} steps, {crashes} crashes, {partitions} partitions, \
         {commits} entries committed, {terms} leaders, {reads} reads served, \
         {taken} snapshots taken, {installed} installed from a leader, {restored} restored, \
         at most {max_records} records after a snapshot"
    );
    assert!(commits > SEEDS as usize * 20, "the workload barely ran");
    assert!(reads > SEEDS, "reads were rarely served");
    assert!(installed > SEEDS / 2, "snapshots were rarely installed");
    assert!(
        restored > SEEDS / 2,
        "nodes rarely restarted from a snapshot"
    );
}

#[test]
fn the_same_seed_replays_the_same_outputs() {
    for seed in [3, 8] {
        let a = run_seed(seed, true).trace.unwrap();
        let b = run_seed(seed, true).trace.unwrap();
        assert!(a.len() > 10_000);
        assert!(a == b, "seed {seed} diverged");
    }
}

/// Replays one seed: `SEED=42 cargo test --test raft_sim -- one_seed --nocapture`.
#[test]
fn one_seed() {
    let Some(seed) = std::env::var("SEED").ok().and_then(|s| s.parse().ok()) else {
        return;
    };
    let sim = run_seed(seed, true);
    print!("{}", sim.trace.unwrap());
}
