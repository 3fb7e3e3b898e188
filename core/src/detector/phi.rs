//! The φ-accrual failure detector (Hayashibara, Défago, Yared and
//! Katayama, "The φ Accrual Failure Detector", SRDS 2004), with the
//! parameters and the approximation of Akka's `PhiAccrualFailureDetector`.
//!
//! Instead of a yes/no verdict, the detector outputs a suspicion level
//! `φ = −log10(P(a heartbeat arrives later than now))`, where the
//! probability comes from a normal distribution fitted to the recent
//! inter-arrival times of the peer's heartbeats. φ = 1 means about a 10%
//! chance that suspecting the peer is a mistake, φ = 2 about 1%, φ = 8
//! (Akka's default threshold) about 10⁻⁸. A link whose heartbeats arrive
//! irregularly gets a wider distribution, so it is suspected later.
//!
//! # The computation (as Akka)
//!
//! - The history is a ring buffer of at most `max_sample_size`
//!   inter-arrival times, with running sums of the times and their squares
//!   for an O(1) mean and variance. Times are whole milliseconds, clamped to
//!   `u32::MAX` so the sums are exact.
//! - The first heartbeat seeds the history with two samples,
//!   `estimate − estimate/4` and `estimate + estimate/4` (mean `estimate`,
//!   standard deviation `estimate/4`), `estimate` being
//!   `first_heartbeat_estimate_ms`.
//! - A heartbeat that arrives while the peer is unavailable (φ at or above
//!   the threshold) is recorded as the latest arrival but its interval is not
//!   added to the history, so a pause does not distort it.
//! - With `t` the time since the last heartbeat, `μ` the mean plus
//!   `acceptable_heartbeat_pause_ms` and `σ` the standard deviation but at
//!   least `min_std_deviation_ms`, the normal tail is approximated by a
//!   logistic function:
//!   `y = (t − μ)/σ`, `e = exp(−y·(1.5976 + 0.070566·y²))`,
//!   `φ = −log10(e/(1 + e))` if `t > μ`, else `−log10(1 − 1/(1 + e))`.
//!   φ grows with `t`; a peer never heard has φ = 0.
//!
//! [`PhiDetector`] sends heartbeats like the heartbeat detector and keeps
//! one [`PhiAccrual`] per peer. At its first input it counts a heartbeat from
//! every peer (as Akka does for a peer it starts to monitor), so a peer that
//! is down from the start is suspected too. On each tick (one per
//! `interval_ms`) it reports [`Event::Suspected`] when a peer's φ reaches
//! the threshold and [`Event::Recovered`] when it falls below again.
//!
//! # Bounded state
//!
//! A calculator holds at most `max_sample_size` intervals (configured; the
//! buffer grows to that size and no further). The participant holds one
//! calculator per peer, at most [`MAX_PEERS`](super::MAX_PEERS).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::{Beacon, Error, Heartbeat, check_peers, is_fresh, peers_of};
use crate::id::NodeId;
use crate::protocol::{Input, Output, Participant, Restore, latest};
use crate::time::Instant;

/// The parameters of a [`PhiAccrual`] calculator; the defaults are Akka's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccrualConfig {
    /// φ at or above which the peer is considered unavailable.
    pub threshold: f64,
    /// Most inter-arrival times kept.
    pub max_sample_size: usize,
    /// Floor on the standard deviation, so that very regular heartbeats do
    /// not make a small delay look like a failure.
    pub min_std_deviation_ms: u64,
    /// A pause in heartbeats that is acceptable on top of the mean (garbage
    /// collection, say); added to the mean.
    pub acceptable_heartbeat_pause_ms: u64,
    /// The assumed heartbeat interval before any has been measured.
    pub first_heartbeat_estimate_ms: u64,
}

impl AccrualConfig {
    /// Akka's defaults: threshold 8, 1,000 samples, σ at least 100 ms, no
    /// acceptable pause, first estimate 1 s.
    #[must_use]
    pub const fn new() -> Self {
        AccrualConfig {
            threshold: 8.0,
            max_sample_size: 1_000,
            min_std_deviation_ms: 100,
            acceptable_heartbeat_pause_ms: 0,
            first_heartbeat_estimate_ms: 1_000,
        }
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |reason| Err(Error::BadConfig { reason });
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return bad("threshold must be positive and finite");
        }
        if self.max_sample_size == 0 {
            return bad("max_sample_size must be at least 1");
        }
        if self.min_std_deviation_ms == 0 {
            return bad("min_std_deviation_ms must be at least 1");
        }
        if self.first_heartbeat_estimate_ms == 0 {
            return bad("first_heartbeat_estimate_ms must be at least 1");
        }
        Ok(())
    }
}

impl Default for AccrualConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The φ-accrual calculator for one peer. See the [module
/// documentation](self).
///
/// ```
/// use consensio::detector::{PhiAccrual, phi};
/// use consensio::Instant;
///
/// let mut fd = PhiAccrual::new(phi::AccrualConfig::new())?;
/// for t in (0..=10_000).step_by(1_000) {
///     fd.heartbeat(Instant::from_millis(t));
/// }
/// let at = |ms: u64| Instant::from_millis(10_000 + ms);
/// assert!(fd.phi(at(500)) < 0.5);
/// assert!(fd.is_available(at(1_500)));
/// assert!(!fd.is_available(at(2_000)), "φ = {}", fd.phi(at(2_000)));
/// # Ok::<(), consensio::detector::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PhiAccrual {
    config: AccrualConfig,
    intervals: VecDeque<u64>,
    sum: u128,
    sum_of_squares: u128,
    last: Option<Instant>,
}

impl PhiAccrual {
    /// A calculator that has seen no heartbeat.
    ///
    /// # Errors
    /// [`Error::BadConfig`] for a threshold that is not positive and
    /// finite, or a zero sample size, deviation floor or first estimate.
    pub fn new(config: AccrualConfig) -> Result<Self, Error> {
        config.check()?;
        Ok(PhiAccrual {
            config,
            intervals: VecDeque::new(),
            sum: 0,
            sum_of_squares: 0,
            last: None,
        })
    }

    /// The parameters.
    #[must_use]
    pub const fn config(&self) -> &AccrualConfig {
        &self.config
    }

    /// Records a heartbeat arriving at `now`.
    pub fn heartbeat(&mut self, now: Instant) {
        match self.last {
            None => {
                let estimate = self.config.first_heartbeat_estimate_ms;
                let deviation = estimate / 4;
                self.record(estimate - deviation);
                self.record(estimate.saturating_add(deviation));
            }
            Some(last) => {
                // An arrival after the peer was given up on is not a sample.
                if self.is_available(now) {
                    self.record(now.saturating_millis_since(last));
                }
            }
        }
        self.last = Some(now);
    }

    /// φ at `now`: 0 before the first heartbeat, then growing with the time
    /// since the last one (`+∞` once the tail probability underflows).
    #[must_use]
    pub fn phi(&self, now: Instant) -> f64 {
        let Some(last) = self.last else {
            return 0.0;
        };
        let elapsed = as_f64(u128::from(now.saturating_millis_since(last)));
        let mean = self.mean_ms() + as_f64(u128::from(self.config.acceptable_heartbeat_pause_ms));
        let deviation = self
            .std_deviation_ms()
            .max(as_f64(u128::from(self.config.min_std_deviation_ms)));
        phi(elapsed, mean, deviation)
    }

    /// Whether φ at `now` is below the threshold.
    #[must_use]
    pub fn is_available(&self, now: Instant) -> bool {
        self.phi(now) < self.config.threshold
    }

    /// Inter-arrival times in the history (at most `max_sample_size`).
    #[must_use]
    pub fn samples(&self) -> usize {
        self.intervals.len()
    }

    /// The mean of the history, in milliseconds (0 when empty).
    #[must_use]
    pub fn mean_ms(&self) -> f64 {
        match self.intervals.len() {
            0 => 0.0,
            n => as_f64(self.sum) / as_f64(n as u128),
        }
    }

    /// The standard deviation of the history, in milliseconds (before the
    /// `min_std_deviation_ms` floor; 0 when empty).
    #[must_use]
    pub fn std_deviation_ms(&self) -> f64 {
        match self.intervals.len() {
            0 => 0.0,
            n => {
                let mean = self.mean_ms();
                let variance = as_f64(self.sum_of_squares) / as_f64(n as u128) - mean * mean;
                libm::sqrt(variance.max(0.0))
            }
        }
    }

    fn record(&mut self, interval_ms: u64) {
        let interval = interval_ms.min(u64::from(u32::MAX));
        if self.intervals.len() >= self.config.max_sample_size
            && let Some(oldest) = self.intervals.pop_front()
        {
            self.sum -= u128::from(oldest);
            self.sum_of_squares -= u128::from(oldest) * u128::from(oldest);
        }
        self.intervals.push_back(interval);
        self.sum += u128::from(interval);
        self.sum_of_squares += u128::from(interval) * u128::from(interval);
    }
}

/// Akka's logistic approximation of φ for `elapsed` ms since the last
/// heartbeat, given the mean and standard deviation of the intervals.
fn phi(elapsed: f64, mean: f64, deviation: f64) -> f64 {
    let y = (elapsed - mean) / deviation;
    let e = libm::exp(-y * (1.5976 + 0.070566 * y * y));
    if elapsed > mean {
        -libm::log10(e / (1.0 + e))
    } else {
        -libm::log10(1.0 - 1.0 / (1.0 + e))
    }
}

/// `x` as the nearest `f64`.
#[allow(clippy::cast_precision_loss)]
const fn as_f64(x: u128) -> f64 {
    x as f64
}

/// Configuration of a [`PhiDetector`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// This node's id.
    pub id: NodeId,
    /// The peers to send heartbeats to and monitor (not this node).
    pub peers: Vec<NodeId>,
    /// How often heartbeats are sent and φ is evaluated.
    pub interval_ms: u64,
    /// The calculator's parameters (one calculator per peer).
    pub phi: AccrualConfig,
}

impl Config {
    /// Defaults for node `id` monitoring every other member of `members`:
    /// heartbeats every second (Akka's cluster default) and Akka's φ
    /// parameters.
    #[must_use]
    pub fn new(id: NodeId, members: &[NodeId]) -> Self {
        Config {
            id,
            peers: peers_of(id, members),
            interval_ms: 1_000,
            phi: AccrualConfig::new(),
        }
    }
}

/// Notifications for the application.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// The peer's φ reached the threshold.
    Suspected {
        /// The peer.
        peer: NodeId,
        /// Its φ at the tick that noticed.
        phi: f64,
    },
    /// A suspected peer's φ is below the threshold again.
    Recovered {
        /// The peer.
        peer: NodeId,
    },
}

#[derive(Clone, Debug)]
struct Peer {
    id: NodeId,
    accrual: PhiAccrual,
    last_beat: Option<(u64, u64)>,
    suspected: bool,
}

/// The φ-accrual failure detector participant. See the [module
/// documentation](self).
#[derive(Debug)]
pub struct PhiDetector {
    config: Config,
    peers: Vec<Peer>,
    beacon: Beacon,
    outputs: VecDeque<Output<Heartbeat, u64, Event>>,
}

impl PhiDetector {
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
        let accrual = PhiAccrual::new(config.phi)?;
        let peers = config
            .peers
            .iter()
            .map(|&id| Peer {
                id,
                accrual: accrual.clone(),
                last_beat: None,
                suspected: false,
            })
            .collect();
        Ok(PhiDetector {
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

    /// The calculator of `peer`, or `None` if it is not monitored.
    #[must_use]
    pub fn accrual(&self, peer: NodeId) -> Option<&PhiAccrual> {
        self.peer(peer).map(|p| &p.accrual)
    }

    /// φ of `peer` at `now`, or `None` if it is not monitored.
    #[must_use]
    pub fn phi(&self, peer: NodeId, now: Instant) -> Option<f64> {
        self.accrual(peer).map(|a| a.phi(now))
    }

    /// Whether `peer` is currently suspected (as of the last tick).
    #[must_use]
    pub fn is_suspected(&self, peer: NodeId) -> Option<bool> {
        self.peer(peer).map(|p| p.suspected)
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

    fn on_tick(&mut self, now: Instant) {
        let peers = self.peers.iter().map(|p| p.id);
        self.beacon
            .tick(now, peers, self.config.interval_ms, &mut self.outputs);
        for peer in &mut self.peers {
            let phi = peer.accrual.phi(now);
            let available = phi < peer.accrual.config.threshold;
            if peer.suspected == available {
                peer.suspected = !available;
                let event = if available {
                    Event::Recovered { peer: peer.id }
                } else {
                    Event::Suspected { peer: peer.id, phi }
                };
                self.outputs.push_back(Output::Event(event));
            }
        }
    }
}

/// A detector rebuilt after a restart from the incarnations it persisted
/// (only the highest matters; none for a new node). No peer starts suspected.
///
/// # Errors
/// [`Error::TooManyPeers`]; [`Error::BadConfig`] if the
/// peers include `id`, `interval_ms` is zero, or as [`PhiAccrual::new`].
impl Restore for PhiDetector {
    type Config = Config;

    fn restore(config: Config, records: &[u64]) -> Result<Self, Error> {
        Self::from_incarnation(config, latest(records))
    }
}

impl Participant for PhiDetector {
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
                peer.accrual.heartbeat(now);
            }
        }
        match arrival {
            Some((i, beat)) => {
                if let Some(peer) = self.peers.get_mut(i)
                    && is_fresh(&mut peer.last_beat, beat)
                {
                    peer.accrual.heartbeat(now);
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
        Some(self.beacon.next_deadline())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn accrual(config: AccrualConfig, arrivals: &[u64]) -> PhiAccrual {
        let mut fd = PhiAccrual::new(config).unwrap();
        for &t in arrivals {
            fd.heartbeat(at(t));
        }
        fd
    }

    /// Equal up to rounding. The expected values were computed apart from
    /// this code, in Python with `math.exp` and `math.log10`, by a separate
    /// model of Akka's history (seeded with `est ∓ est // 4`, intervals
    /// recorded only while φ < threshold, last `max_sample_size` kept) and
    /// of its formula:
    ///
    /// ```text
    /// def phi(t, mean, sd):
    ///     y = (t - mean) / sd
    ///     e = math.exp(-y * (1.5976 + 0.070566 * y * y))
    ///     p = e / (1.0 + e) if t > mean else 1.0 - 1.0 / (1.0 + e)
    ///     return math.inf if p == 0 else -math.log10(p)
    /// ```
    fn close(got: f64, want: f64) {
        let tolerance = 1e-12 * want.abs().max(1e-6);
        assert!(
            (got - want).abs() <= tolerance,
            "φ = {got}, expected {want}"
        );
    }

    #[test]
    fn phi_matches_akkas_table_for_mean_1000_and_deviation_100() {
        // Akka's PhiAccrualFailureDetectorSpec "return realistic phi values".
        for (t, want) in [
            (0.0, 0.0),
            (500.0, 0.0),
            (1000.0, 0.3),
            (1200.0, 1.6),
            (1400.0, 4.7),
            (1600.0, 10.8),
            (1700.0, 15.3),
        ] {
            let got = phi(t, 1000.0, 100.0);
            assert!((got - want).abs() < 0.1, "φ({t}) = {got}");
        }
    }

    #[test]
    fn after_one_heartbeat_phi_uses_the_seeded_estimate() {
        let fd = accrual(AccrualConfig::new(), &[0]);
        assert_eq!(fd.samples(), 2);
        assert_eq!((fd.mean_ms(), fd.std_deviation_ms()), (1000.0, 250.0));
        for (t, want) in [
            (0, 7.963311608865193e-06),
            (500, 0.009998761629963108),
            // At the mean, φ = −log10(1/2).
            (1000, core::f64::consts::LOG10_2),
            (1500, 1.6428278854871123),
            (2000, 4.736694582705181),
            (3000, 21.241600212221336),
        ] {
            close(fd.phi(at(t)), want);
        }
    }

    #[test]
    fn phi_matches_hand_computed_values_for_regular_heartbeats() {
        let arrivals: Vec<u64> = (0..=1_000).step_by(100).collect();
        let fd = accrual(AccrualConfig::new(), &arrivals);
        assert_eq!(fd.samples(), 12);
        close(fd.mean_ms(), 250.0);
        close(fd.std_deviation_ms(), 350.59473279937714);
        for (t, want) in [
            (100, 0.17668508354758447),
            (500, 0.6237927482759069),
            (1000, 1.7913510627474445),
            (2000, 7.274600355798511),
        ] {
            close(fd.phi(at(1_000 + t)), want);
        }
    }

    #[test]
    fn the_window_is_bounded_and_the_pause_is_added_to_the_mean() {
        let config = AccrualConfig {
            max_sample_size: 3,
            min_std_deviation_ms: 50,
            acceptable_heartbeat_pause_ms: 200,
            first_heartbeat_estimate_ms: 400,
            ..AccrualConfig::new()
        };
        let fd = accrual(config, &[0, 300, 700, 1_000, 1_600]);
        // Intervals 300, 500 (seed), 300, 400, 300, 600: the last three stay.
        assert_eq!(fd.samples(), 3);
        close(fd.mean_ms(), 433.3333333333333);
        close(fd.std_deviation_ms(), 124.72191289246486);
        for (t, want) in [
            (200, 8.745101800524188e-05),
            (600, 0.21790499944848576),
            (900, 1.7901098688132482),
            (1500, 15.103987737544227),
        ] {
            close(fd.phi(at(1_600 + t)), want);
        }
    }

    #[test]
    fn a_heartbeat_after_the_peer_was_given_up_on_is_not_a_sample() {
        let config = AccrualConfig {
            first_heartbeat_estimate_ms: 100,
            min_std_deviation_ms: 10,
            ..AccrualConfig::new()
        };
        let mut fd = accrual(config, &[0, 100, 200, 300]);
        assert!(!fd.is_available(at(2_300)));
        assert_eq!(fd.phi(at(2_300)), f64::INFINITY);
        fd.heartbeat(at(2_300));
        assert_eq!(fd.samples(), 5, "the 2 s gap is not recorded");
        fd.heartbeat(at(2_400));
        assert_eq!(fd.samples(), 6);
        close(fd.phi(at(2_500)), core::f64::consts::LOG10_2);
        close(fd.phi(at(2_550)), 3.6775328924585646);
    }

    #[test]
    fn a_peer_never_heard_has_phi_zero_and_bad_parameters_are_rejected() {
        let fd = PhiAccrual::new(AccrualConfig::new()).unwrap();
        assert_eq!(fd.phi(at(1_000_000)), 0.0);
        assert!(fd.is_available(at(1_000_000)));
        assert_eq!((fd.mean_ms(), fd.std_deviation_ms()), (0.0, 0.0));
        for config in [
            AccrualConfig {
                threshold: f64::NAN,
                ..AccrualConfig::new()
            },
            AccrualConfig {
                threshold: 0.0,
                ..AccrualConfig::new()
            },
            AccrualConfig {
                max_sample_size: 0,
                ..AccrualConfig::new()
            },
            AccrualConfig {
                min_std_deviation_ms: 0,
                ..AccrualConfig::new()
            },
            AccrualConfig {
                first_heartbeat_estimate_ms: 0,
                ..AccrualConfig::new()
            },
        ] {
            assert!(matches!(
                PhiAccrual::new(config),
                Err(Error::BadConfig { .. })
            ));
        }
        let huge = accrual(AccrualConfig::new(), &[0, u64::MAX / 2, u64::MAX]);
        assert!(huge.phi(Instant::MAX) >= 0.0);
    }

    #[test]
    fn the_detector_suspects_a_silent_peer_and_reports_its_recovery() {
        let members = [NodeId(1), NodeId(2)];
        let mut config = Config::new(NodeId(1), &members);
        config.interval_ms = 100;
        config.phi.first_heartbeat_estimate_ms = 100;
        config.phi.min_std_deviation_ms = 20;
        let mut d = PhiDetector::new(config).unwrap();
        let mut events = Vec::new();
        fn drive(d: &mut PhiDetector, events: &mut Vec<(u64, Event)>, ms: u64, beat: Option<u64>) {
            let input = match beat {
                Some(seq) => Input::Message {
                    from: NodeId(2),
                    message: Heartbeat {
                        incarnation: 1,
                        seq,
                    },
                },
                None => Input::Tick,
            };
            d.handle_input(at(ms), input).unwrap();
            while let Some(out) = d.poll_output() {
                if let Output::Event(e) = out {
                    events.push((ms, e));
                }
            }
        }
        drive(&mut d, &mut events, 0, None);
        for (seq, t) in (100..=1_000).step_by(100).enumerate() {
            drive(&mut d, &mut events, t, Some(seq as u64));
            drive(&mut d, &mut events, t, None);
        }
        assert!(events.is_empty());
        for t in (1_100..=1_500).step_by(100) {
            drive(&mut d, &mut events, t, None);
        }
        assert_eq!(events.len(), 1);
        let (when, Event::Suspected { peer, phi }) = events[0] else {
            panic!("{events:?}");
        };
        assert_eq!(peer, NodeId(2));
        assert!(phi >= 8.0 && when <= 1_400, "φ {phi} at {when}");
        assert_eq!(d.is_suspected(NodeId(2)), Some(true));
        drive(&mut d, &mut events, 1_550, Some(20));
        drive(&mut d, &mut events, 1_600, None);
        assert_eq!(
            events.last(),
            Some(&(1_600, Event::Recovered { peer: NodeId(2) }))
        );
        assert_eq!(d.accrual(NodeId(2)).map(PhiAccrual::samples), Some(12));
    }
}
