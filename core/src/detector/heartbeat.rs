//! The heartbeat failure detector: fixed timeouts on each peer's silence.
//!
//! Every `interval_ms` the detector sends a [`Heartbeat`] to every peer and
//! records, per peer, when it last counted one. A peer silent for
//! `suspect_after_ms` becomes [`PeerState::Suspected`], silent for
//! `fail_after_ms` [`PeerState::Failed`]; its next fresh heartbeat makes it
//! [`PeerState::Alive`] again. Every change is reported as an
//! [`Event::StateChanged`]. Silence is measured from the detector's first
//! input for a peer never heard, so a peer that is down from the start is
//! suspected too. The *suspicion level* of a peer is the number of whole
//! heartbeat intervals it has missed ([`HeartbeatDetector::missed_intervals`]).
//!
//! Transitions to Suspected and Failed happen on ticks; the detector asks
//! for a tick at the next instant a peer would change state, or the next
//! heartbeat round, whichever is sooner.
//!
//! # Bounded state
//!
//! One entry per peer (at most [`MAX_PEERS`](super::MAX_PEERS)): the last
//! arrival, the last `(incarnation, seq)` counted and the state. One input
//! queues at most one message per peer, one persist record and one event
//! per peer.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::{Beacon, Error, Heartbeat, check_peers, is_fresh, peers_of};
use crate::id::NodeId;
use crate::protocol::{Input, Output, Participant, Restore, latest};
use crate::time::Instant;

/// Configuration of a [`HeartbeatDetector`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// The peers to send heartbeats to and monitor (not this node).
    pub peers: Vec<NodeId>,
    /// How often heartbeats are sent.
    pub interval_ms: u64,
    /// Silence after which a peer is suspected.
    pub suspect_after_ms: u64,
    /// Silence after which a peer is failed; at least `suspect_after_ms`.
    pub fail_after_ms: u64,
}

impl Config {
    /// Defaults for node `id` monitoring every other member of `members`:
    /// heartbeats every 100 ms, suspected after 300 ms, failed after 1 s.
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        Config {
            id,
            peers: peers_of(id, members),
            interval_ms: 100,
            suspect_after_ms: 300,
            fail_after_ms: 1_000,
        }
    }
}

/// What this detector believes about a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerState {
    /// Heard from within `suspect_after_ms`.
    Alive,
    /// Silent for `suspect_after_ms` or more.
    Suspected,
    /// Silent for `fail_after_ms` or more.
    Failed,
}

/// Notifications for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A peer's state changed.
    StateChanged {
        /// The peer.
        peer: NodeId,
        /// Its previous state.
        from: PeerState,
        /// Its new state.
        to: PeerState,
    },
}

#[derive(Clone, Debug)]
struct Peer {
    id: NodeId,
    last_arrival: Instant,
    last_beat: Option<(u64, u64)>,
    state: PeerState,
}

/// The heartbeat failure detector participant. See the [module
/// documentation](self).
///
/// ```
/// use consensio::detector::{HeartbeatDetector, heartbeat, PeerState};
/// use consensio::{Input, Instant, NodeId, Output, Participant};
///
/// let members = [NodeId(1), NodeId(2)];
/// let mut a = HeartbeatDetector::new(heartbeat::Config::new(NodeId(1), &members))?;
/// a.handle_input(Instant::ZERO, Input::Tick)?;
/// // Node 2 never answers: suspected at 300 ms, failed at 1 s.
/// let mut changes = Vec::new();
/// while let Some(deadline) = a.next_deadline().filter(|d| d.as_millis() <= 1_000) {
///     a.handle_input(deadline, Input::Tick)?;
///     while let Some(output) = a.poll_output() {
///         if let Output::Event(heartbeat::Event::StateChanged { to, .. }) = output {
///             changes.push((deadline.as_millis(), to));
///         }
///     }
/// }
/// assert_eq!(changes, [(300, PeerState::Suspected), (1_000, PeerState::Failed)]);
/// assert_eq!(a.missed_intervals(NodeId(2), Instant::from_millis(1_000)), Some(10));
/// # Ok::<(), consensio::detector::Error>(())
/// ```
#[derive(Debug)]
pub struct HeartbeatDetector {
    config: Config,
    peers: Vec<Peer>,
    beacon: Beacon,
    outputs: VecDeque<Output<Heartbeat, u64, Event>>,
}

impl HeartbeatDetector {
    /// A detector that has never persisted an incarnation.
    ///
    /// # Errors
    /// As [`Restore::restore`].
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::from_incarnation(config, 0)
    }

    /// The node as it starts from `incarnation`, the last one it persisted.
    fn from_incarnation(mut config: Config, incarnation: u64) -> Result<Self, Error> {
        check_peers(config.id, &mut config.peers, config.interval_ms)?;
        if config.suspect_after_ms == 0 || config.fail_after_ms < config.suspect_after_ms {
            return Err(Error::BadConfig {
                reason: "need 0 < suspect_after_ms <= fail_after_ms",
            });
        }
        let peers = config
            .peers
            .iter()
            .map(|&id| Peer {
                id,
                last_arrival: Instant::ZERO,
                last_beat: None,
                state: PeerState::Alive,
            })
            .collect();
        Ok(HeartbeatDetector {
            config,
            peers,
            beacon: Beacon::new(incarnation),
            outputs: VecDeque::new(),
        })
    }

    /// The configuration (peers sorted and deduplicated).
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The state of `peer`, or `None` if it is not monitored.
    #[must_use]
    pub fn state(&self, peer: NodeId) -> Option<PeerState> {
        self.peer(peer).map(|p| p.state)
    }

    /// The suspicion level of `peer` at `now`: whole heartbeat intervals
    /// since its last counted heartbeat (or since this detector started).
    /// `None` if it is not monitored.
    #[must_use]
    pub fn missed_intervals(&self, peer: NodeId, now: Instant) -> Option<u64> {
        self.peer(peer)
            .map(|p| now.saturating_millis_since(p.last_arrival) / self.config.interval_ms)
    }

    /// The incarnation this detector's heartbeats carry.
    #[must_use]
    pub const fn incarnation(&self) -> u64 {
        self.beacon.incarnation
    }

    fn peer(&self, id: NodeId) -> Option<&Peer> {
        let i = self.peers.binary_search_by_key(&id, |p| p.id).ok()?;
        self.peers.get(i)
    }

    fn change(&mut self, i: usize, to: PeerState) {
        if let Some(peer) = self.peers.get_mut(i)
            && peer.state != to
        {
            let from = core::mem::replace(&mut peer.state, to);
            self.outputs.push_back(Output::Event(Event::StateChanged {
                peer: peer.id,
                from,
                to,
            }));
        }
    }

    fn on_tick(&mut self, now: Instant) {
        let peers = self.peers.iter().map(|p| p.id);
        self.beacon
            .tick(now, peers, self.config.interval_ms, &mut self.outputs);
        for i in 0..self.peers.len() {
            let Some(peer) = self.peers.get(i) else {
                continue;
            };
            let silence = now.saturating_millis_since(peer.last_arrival);
            let to = if silence >= self.config.fail_after_ms {
                PeerState::Failed
            } else if silence >= self.config.suspect_after_ms {
                PeerState::Suspected
            } else {
                peer.state
            };
            self.change(i, to);
        }
    }
}

/// A detector rebuilt after a restart from the incarnations it persisted
/// (only the highest matters; none for a new node). Every peer starts alive.
///
/// # Errors
/// [`Error::TooManyPeers`]; [`Error::BadConfig`] if the
/// peers include `id`, `interval_ms` or `suspect_after_ms` is zero, or
/// `fail_after_ms` is below `suspect_after_ms`.
impl Restore for HeartbeatDetector {
    type Config = Config;

    fn restore(config: Config, records: &[u64]) -> Result<Self, Error> {
        Self::from_incarnation(config, latest(records))
    }
}

impl Participant for HeartbeatDetector {
    type Message = Heartbeat;
    type Command = core::convert::Infallible;
    type Persist = u64;
    type Event = Event;
    type Error = Error;

    fn id(&self) -> NodeId {
        self.config.id
    }

    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<Heartbeat, core::convert::Infallible>,
    ) -> Result<(), Error> {
        let arrival = match input {
            Input::Message { from, message } => {
                let i = self
                    .peers
                    .binary_search_by_key(&from, |p| p.id)
                    .map_err(|_| Error::NotAPeer { peer: from })?;
                Some((i, message))
            }
            Input::Tick => None,
            Input::Command(never) => match never {},
        };
        if !self.beacon.started() {
            self.beacon.start(now, &mut self.outputs);
            for peer in &mut self.peers {
                peer.last_arrival = now;
            }
        }
        match arrival {
            Some((i, beat)) => {
                if let Some(peer) = self.peers.get_mut(i)
                    && is_fresh(&mut peer.last_beat, beat)
                {
                    peer.last_arrival = now;
                    self.change(i, PeerState::Alive);
                }
            }
            None => self.on_tick(now),
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<Output<Heartbeat, u64, Event>> {
        self.outputs.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let transitions = self.peers.iter().filter_map(|p| {
            let after = match p.state {
                PeerState::Alive => self.config.suspect_after_ms,
                PeerState::Suspected => self.config.fail_after_ms,
                PeerState::Failed => return None,
            };
            Some(p.last_arrival.saturating_add_millis(after))
        });
        transitions.chain([self.beacon.next_deadline()]).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector(id: u64, members: &[u64]) -> HeartbeatDetector {
        let members: Vec<NodeId> = members.iter().copied().map(NodeId).collect();
        HeartbeatDetector::new(Config::new(NodeId(id), &members)).unwrap()
    }

    fn drain(d: &mut HeartbeatDetector) -> Vec<Output<Heartbeat, u64, Event>> {
        core::iter::from_fn(|| d.poll_output()).collect()
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn beat(d: &mut HeartbeatDetector, ms: u64, from: u64, incarnation: u64, seq: u64) {
        let message = Heartbeat { incarnation, seq };
        d.handle_input(
            at(ms),
            Input::Message {
                from: NodeId(from),
                message,
            },
        )
        .unwrap();
    }

    fn changed(peer: u64, from: PeerState, to: PeerState) -> Output<Heartbeat, u64, Event> {
        Output::Event(Event::StateChanged {
            peer: NodeId(peer),
            from,
            to,
        })
    }

    #[test]
    fn the_incarnation_is_persisted_before_the_first_heartbeats_go_out() {
        let config = Config::new(NodeId(1), &[NodeId(1), NodeId(2), NodeId(3)]);
        let mut d = HeartbeatDetector::restore(config, &[2, 4]).unwrap();
        assert_eq!(d.next_deadline(), Some(Instant::ZERO));
        d.handle_input(at(7), Input::Tick).unwrap();
        let beat = Heartbeat {
            incarnation: 5,
            seq: 0,
        };
        assert_eq!(
            drain(&mut d),
            [
                Output::Persist(5),
                Output::Send {
                    to: NodeId(2),
                    message: beat
                },
                Output::Send {
                    to: NodeId(3),
                    message: beat
                },
            ]
        );
        assert_eq!(d.next_deadline(), Some(at(107)));
        d.handle_input(at(107), Input::Tick).unwrap();
        let next = Heartbeat {
            incarnation: 5,
            seq: 1,
        };
        assert_eq!(
            drain(&mut d)[0],
            Output::Send {
                to: NodeId(2),
                message: next
            }
        );
    }

    #[test]
    fn a_silent_peer_is_suspected_then_failed_then_alive_on_its_next_heartbeat() {
        let mut d = detector(1, &[1, 2]);
        d.handle_input(at(0), Input::Tick).unwrap();
        drain(&mut d);
        beat(&mut d, 50, 2, 1, 0);
        assert_eq!(
            d.next_deadline(),
            Some(at(100)),
            "the next round comes first"
        );
        d.handle_input(at(300), Input::Tick).unwrap();
        assert!(
            drain(&mut d)
                .iter()
                .all(|o| matches!(o, Output::Send { .. }))
        );
        assert_eq!(d.next_deadline(), Some(at(350)));
        d.handle_input(at(350), Input::Tick).unwrap();
        assert_eq!(
            drain(&mut d),
            [changed(2, PeerState::Alive, PeerState::Suspected)]
        );
        assert_eq!(d.missed_intervals(NodeId(2), at(350)), Some(3));
        d.handle_input(at(1_050), Input::Tick).unwrap();
        let out = drain(&mut d);
        assert_eq!(
            out.last(),
            Some(&changed(2, PeerState::Suspected, PeerState::Failed))
        );
        assert_eq!(d.state(NodeId(2)), Some(PeerState::Failed));
        beat(&mut d, 1_060, 2, 1, 9);
        assert_eq!(
            drain(&mut d),
            [changed(2, PeerState::Failed, PeerState::Alive)]
        );
        assert_eq!(d.missed_intervals(NodeId(2), at(1_159)), Some(0));
    }

    #[test]
    fn duplicated_reordered_and_stale_heartbeats_are_ignored() {
        let mut d = detector(1, &[1, 2]);
        beat(&mut d, 0, 2, 3, 5);
        drain(&mut d);
        for (incarnation, seq) in [(3, 5), (3, 4), (2, 99)] {
            beat(&mut d, 400, 2, incarnation, seq);
        }
        d.handle_input(at(400), Input::Tick).unwrap();
        assert!(drain(&mut d).contains(&changed(2, PeerState::Alive, PeerState::Suspected)));
        // A restarted peer (a higher incarnation) counts from seq 0 again.
        beat(&mut d, 410, 2, 4, 0);
        assert_eq!(
            drain(&mut d),
            [changed(2, PeerState::Suspected, PeerState::Alive)]
        );
    }

    #[test]
    fn a_peer_never_heard_is_judged_from_the_start_and_a_late_tick_jumps_to_failed() {
        let mut d = detector(1, &[1, 2]);
        d.handle_input(at(1_000), Input::Tick).unwrap();
        drain(&mut d);
        d.handle_input(at(2_500), Input::Tick).unwrap();
        let out = drain(&mut d);
        assert_eq!(
            out.last(),
            Some(&changed(2, PeerState::Alive, PeerState::Failed))
        );
        assert_eq!(
            d.next_deadline(),
            Some(at(2_600)),
            "only the heartbeat round"
        );
    }

    #[test]
    fn bad_configs_and_strangers_are_typed_errors() {
        let mut d = detector(1, &[1, 2]);
        let stranger = Input::Message {
            from: NodeId(9),
            message: Heartbeat {
                incarnation: 1,
                seq: 0,
            },
        };
        assert_eq!(
            d.handle_input(at(0), stranger),
            Err(Error::NotAPeer { peer: NodeId(9) })
        );
        assert_eq!(d.poll_output(), None, "not started by a rejected input");
        assert!(matches!(
            d.handle_message(at(0), NodeId(2), &[1, crate::wire::kind::HEARTBEAT, 0]),
            Err(Error::Wire(_))
        ));
        let ids = |r: &[u64]| -> Vec<NodeId> { r.iter().copied().map(NodeId).collect() };
        let bad = [
            Config {
                interval_ms: 0,
                ..Config::new(NodeId(1), &ids(&[2]))
            },
            Config {
                fail_after_ms: 10,
                ..Config::new(NodeId(1), &ids(&[2]))
            },
            Config {
                peers: ids(&[1, 2]),
                ..Config::new(NodeId(1), &[])
            },
        ];
        for config in bad {
            assert!(matches!(
                HeartbeatDetector::new(config),
                Err(Error::BadConfig { .. })
            ));
        }
        let many: Vec<NodeId> = (0..=300).map(NodeId).collect();
        assert_eq!(
            HeartbeatDetector::new(Config::new(NodeId(0), &many)).unwrap_err(),
            Error::TooManyPeers { len: 300, max: 256 }
        );
    }
}
