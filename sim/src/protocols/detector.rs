//! Failure detectors in the simulator, with the checker for completeness
//! (a crashed node is eventually suspected by every correct node),
//! eventual accuracy (once the faults are over, no live node stays
//! suspected) and a measurement of accuracy (false suspicions per hour).

use std::collections::BTreeMap;

use consensio::detector::{HeartbeatDetector, PeerState, PhiDetector, heartbeat, phi};
use consensio::{NodeId, Participant, Restore};

use super::Entry;
use crate::checker::Checker;
use crate::engine::{Fault, MessageLabel, Protocol};
use consensio::detector::Heartbeat;

/// The family's entries in the [registry](super).
pub const PROTOCOLS: &[Entry] = &[
    Entry {
        name: "heartbeat",
        family: "detector",
        description: "heartbeat failure detector: every crash is suspected within 1.5 s",
        run: |config| super::run(HeartbeatProtocol, config),
    },
    Entry {
        name: "phi",
        family: "detector",
        description: "phi-accrual failure detector: every crash is suspected within 4 s",
        run: |config| super::run(PhiProtocol, config),
    },
];

/// The heartbeat detector with its defaults: heartbeats every 100 ms,
/// suspected after 300 ms, failed after 1 s.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeartbeatProtocol;

impl Protocol for HeartbeatProtocol {
    type Node = HeartbeatDetector;

    fn name(&self) -> &'static str {
        "heartbeat"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> HeartbeatDetector {
        self.restore(id, members, seed, &[])
    }

    fn restore(
        &self,
        id: NodeId,
        members: &[NodeId],
        _seed: u64,
        disk: &[u64],
    ) -> HeartbeatDetector {
        HeartbeatDetector::restore(heartbeat::Config::new(id, members), disk)
            .unwrap_or_else(|e| panic!("heartbeat configuration: {e}"))
    }

    fn checker(&self) -> Box<dyn Checker<HeartbeatDetector>> {
        // Suspected after 300 ms of silence, noticed within one 100 ms
        // interval, plus delay and skew: 1.5 s is ample. A live peer is
        // unsuspected within a few intervals of being heard again; 1.5 s
        // is fifteen heartbeats, all lost with chance 0.2^15 at the
        // heaviest loss a random run draws.
        Box::new(Completeness::new(1_500).with_accuracy(1_500))
    }

    fn describe(&self, event: &heartbeat::Event) -> String {
        let heartbeat::Event::StateChanged { peer, from, to } = event;
        format!("{} {peer} (was {})", state_name(*to), state_name(*from))
    }

    fn describe_message(&self, message: &Heartbeat) -> MessageLabel {
        describe_heartbeat(message)
    }
}

/// The φ-accrual detector with Akka's defaults (1 s heartbeats, threshold 8).
#[derive(Clone, Copy, Debug, Default)]
pub struct PhiProtocol;

impl Protocol for PhiProtocol {
    type Node = PhiDetector;

    fn name(&self) -> &'static str {
        "phi"
    }

    fn create(&self, id: NodeId, members: &[NodeId], seed: u64) -> PhiDetector {
        self.restore(id, members, seed, &[])
    }

    fn restore(&self, id: NodeId, members: &[NodeId], _seed: u64, disk: &[u64]) -> PhiDetector {
        PhiDetector::restore(phi::Config::new(id, members), disk)
            .unwrap_or_else(|e| panic!("phi configuration: {e}"))
    }

    fn checker(&self) -> Box<dyn Checker<PhiDetector>> {
        // φ reaches 8 about 1.5 s after the last heartbeat (mean 1 s, σ at
        // least 100 ms), and is evaluated once a second: 4 s is ample.
        // Accuracy over eight heartbeats (all lost: 0.2^8), so only in runs
        // whose quiet tail is 16 s or more.
        Box::new(Completeness::new(4_000).with_accuracy(8_000))
    }

    fn describe_message(&self, message: &Heartbeat) -> MessageLabel {
        describe_heartbeat(message)
    }

    fn describe(&self, event: &phi::Event) -> String {
        match event {
            phi::Event::Suspected { peer, phi } => format!("Suspected {peer} (phi {phi:.1})"),
            phi::Event::Recovered { peer } => format!("Recovered {peer}"),
        }
    }
}

/// Both detectors send one message: a numbered heartbeat of an
/// incarnation (routine traffic, every one of them).
fn describe_heartbeat(beat: &Heartbeat) -> MessageLabel {
    MessageLabel::routine(
        "Heartbeat",
        format!(
            "Heartbeat incarnation {} seq {}",
            beat.incarnation, beat.seq
        ),
    )
}

/// A peer state as the heartbeat detector's docs name it.
fn state_name(state: PeerState) -> &'static str {
    match state {
        PeerState::Alive => "Alive",
        PeerState::Suspected => "Suspected",
        PeerState::Failed => "Failed",
    }
}

/// What the checker reads from a detector.
pub trait Suspicion {
    /// Whether this detector currently suspects `peer`.
    fn suspects(&self, peer: NodeId) -> bool;
    /// Whether `event` is a new suspicion, and of whom.
    fn suspected_by(event: &Self::Event) -> Option<NodeId>
    where
        Self: Participant;
}

impl Suspicion for HeartbeatDetector {
    fn suspects(&self, peer: NodeId) -> bool {
        self.state(peer).is_some_and(|s| s != PeerState::Alive)
    }

    fn suspected_by(event: &heartbeat::Event) -> Option<NodeId> {
        let heartbeat::Event::StateChanged { peer, from, to } = *event;
        (from == PeerState::Alive && to != PeerState::Alive).then_some(peer)
    }
}

impl Suspicion for PhiDetector {
    fn suspects(&self, peer: NodeId) -> bool {
        self.is_suspected(peer) == Some(true)
    }

    fn suspected_by(event: &phi::Event) -> Option<NodeId> {
        match *event {
            phi::Event::Suspected { peer, .. } => Some(peer),
            phi::Event::Recovered { .. } => None,
        }
    }
}

/// Completeness: once a node has been down for `bound_ms`, every node that
/// has been up for `bound_ms` suspects it. Eventual accuracy (Chandra and
/// Toueg's ◇P, with [`with_accuracy`](Self::with_accuracy)): once no fault
/// has happened for twice the window, no live node has been suspected by
/// another for the last window. Accuracy is measured too: a new suspicion
/// of a node that is up is a false one.
#[derive(Debug)]
pub struct Completeness {
    bound_ms: u64,
    /// The eventual accuracy window, if checked.
    accuracy_ms: Option<u64>,
    /// When the last fault happened.
    quiet_since: u64,
    /// Since when each live node has suspected each live peer.
    suspected_since: BTreeMap<(NodeId, NodeId), u64>,
    /// Since when each node has been down (absent: up).
    down_since: BTreeMap<NodeId, u64>,
    /// Since when each node has been up.
    up_since: BTreeMap<NodeId, u64>,
    suspicions: u64,
    false_suspicions: u64,
    end_ms: u64,
}

impl Completeness {
    /// A checker that allows `bound_ms` for a crash to be noticed.
    #[must_use]
    pub fn new(bound_ms: u64) -> Self {
        Completeness {
            bound_ms,
            accuracy_ms: None,
            quiet_since: 0,
            suspected_since: BTreeMap::new(),
            down_since: BTreeMap::new(),
            up_since: BTreeMap::new(),
            suspicions: 0,
            false_suspicions: 0,
            end_ms: 0,
        }
    }
}

impl Completeness {
    /// Checks eventual accuracy too, over `window_ms`.
    #[must_use]
    pub fn with_accuracy(mut self, window_ms: u64) -> Self {
        self.accuracy_ms = Some(window_ms);
        self
    }
}

impl<N: Participant + Suspicion> Checker<N> for Completeness {
    fn name(&self) -> &'static str {
        "completeness (a crashed node is suspected by every correct node) and eventual accuracy"
    }

    fn on_fault(&mut self, time_ms: u64, _fault: &Fault) {
        self.quiet_since = time_ms;
    }

    fn on_event(&mut self, _time_ms: u64, _node: NodeId, event: &N::Event) -> Result<(), String> {
        if let Some(peer) = N::suspected_by(event) {
            self.suspicions += 1;
            if !self.down_since.contains_key(&peer) {
                self.false_suspicions += 1;
            }
        }
        Ok(())
    }

    fn after_step(&mut self, time_ms: u64, nodes: &[(NodeId, Option<&N>)]) -> Result<(), String> {
        self.end_ms = time_ms;
        for (id, node) in nodes {
            if node.is_some() {
                self.down_since.remove(id);
                self.up_since.entry(*id).or_insert(time_ms);
            } else {
                self.up_since.remove(id);
                self.down_since.entry(*id).or_insert(time_ms);
            }
        }
        self.suspected_since.retain(|(observer, peer), _| {
            nodes
                .iter()
                .any(|(id, n)| id == observer && n.is_some_and(|n| n.suspects(*peer)))
                && nodes.iter().any(|(id, n)| id == peer && n.is_some())
        });
        for (observer, node) in nodes {
            let Some(n) = node else { continue };
            for (peer, up) in nodes {
                if peer != observer && up.is_some() && n.suspects(*peer) {
                    self.suspected_since
                        .entry((*observer, *peer))
                        .or_insert(time_ms);
                }
            }
        }
        for (crashed, since) in &self.down_since {
            if time_ms.saturating_sub(*since) < self.bound_ms {
                continue;
            }
            for (id, node) in nodes {
                let Some(n) = node else { continue };
                let settled = self
                    .up_since
                    .get(id)
                    .is_some_and(|u| time_ms.saturating_sub(*u) >= self.bound_ms);
                if settled && !n.suspects(*crashed) {
                    return Err(format!(
                        "{crashed} has been down since {since} ms, but {id} does not suspect it at {time_ms} ms"
                    ));
                }
            }
        }
        Ok(())
    }

    fn at_end(&mut self, time_ms: u64, _nodes: &[(NodeId, Option<&N>)]) -> Result<(), String> {
        let Some(window) = self.accuracy_ms else {
            return Ok(());
        };
        if time_ms.saturating_sub(self.quiet_since) < 2 * window {
            return Ok(());
        }
        let stuck = self
            .suspected_since
            .iter()
            .find(|(_, since)| time_ms.saturating_sub(**since) >= window);
        match stuck {
            Some(((observer, peer), since)) => Err(format!(
                "eventual accuracy: {observer} has suspected {peer}, which is up, since {since} ms, though no fault happened after {} ms",
                self.quiet_since
            )),
            None => Ok(()),
        }
    }

    fn report(&self) -> Vec<(String, String)> {
        let hours = self.end_ms as f64 / 3_600_000.0;
        let per_hour = if hours > 0.0 {
            self.false_suspicions as f64 / hours
        } else {
            0.0
        };
        vec![
            ("suspicions".into(), self.suspicions.to_string()),
            (
                "false suspicions (of live nodes)".into(),
                format!(
                    "{} ({per_hour:.0} per hour of simulated time)",
                    self.false_suspicions
                ),
            ),
        ]
    }
}
