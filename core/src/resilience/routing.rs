//! Routing calls across endpoints and regions: priority tiers for
//! failover, a balancing policy within a tier, active health checks with
//! hysteresis, and passive outlier ejection after Envoy.
//!
//! A [`Router`] holds a fixed set of [`Endpoint`]s. [`Router::pick`] chooses
//! one for the next call:
//!
//! 1. **Failover**: the tier with the lowest [`Endpoint::priority`] that has
//!    an available endpoint (healthy by the active checks and not ejected)
//!    takes every call; a tier whose endpoints are all down spills to the
//!    next, and traffic comes back as soon as one of its endpoints is
//!    available again.
//! 2. **Within the tier**, by the router's [`Balance`]: smooth weighted
//!    round robin ([`Balance::Weighted`], nginx's algorithm: deterministic,
//!    and over any `W = Σ weights` consecutive picks each endpoint is picked
//!    exactly its weight), the lowest caller-supplied distance
//!    ([`Balance::Nearest`], geo-proximity; ties by weight), or the lower
//!    latency of two endpoints drawn at random ([`Balance::Latency`], the
//!    "power of two choices" over an EWMA of observed round-trip times, as
//!    Finagle does: one draw of two keeps a slow endpoint from being avoided
//!    forever without sending everything to the fastest).
//!
//! **Active health checks** ([`Router::poll_health_check`] says which
//! endpoint to probe, every [`HealthConfig::interval_ms`]): an endpoint is
//! marked down after [`HealthConfig::unhealthy_threshold`] consecutive
//! failed checks and up again only after
//! [`HealthConfig::healthy_threshold`] consecutive good ones, so a region
//! that flaps does not pull traffic back and forth (Envoy's two thresholds;
//! defaults 3 and 2).
//!
//! **Passive outlier ejection** (Envoy's outlier detection, its defaults):
//! the caller reports every call's result ([`Router::on_response`]); an
//! endpoint is ejected after [`OutlierConfig::consecutive_failures`] (5)
//! failures in a row, or, at each [`OutlierConfig::interval_ms`] (10 s)
//! sweep, when its success rate falls below `mean − stdev ×
//! success_rate_stdev_factor / 1000` (1900: 1.9 standard deviations) of the
//! endpoints with at least [`OutlierConfig::request_volume`] (100) calls in
//! the interval, if at least [`OutlierConfig::minimum_hosts`] (5) have. An
//! ejection lasts [`OutlierConfig::base_ejection_ms`] (30 s) times the
//! number of times the endpoint has been ejected, at most
//! [`OutlierConfig::max_ejection_ms`] (300 s; the count stops growing
//! there); the count drops by one at each sweep the endpoint spends in
//! service (not the sweep that returns it). No ejection happens while
//! [`OutlierConfig::max_ejection_percent`] (10%) or more of the endpoints
//! are ejected, so a bad check or a global outage cannot eject everything;
//! the first ejection is always allowed.
//!
//! Time is an input, in ms from one monotonic clock; everything is
//! allocated once, at construction, and picking allocates nothing.

use alloc::vec::Vec;

use super::Error;
use crate::{Instant, Rng};

/// Sweeps run one by one after a silence; beyond this many, the rest only
/// count down the ejections.
const MAX_SWEEPS_AT_ONCE: u32 = 64;

/// The most endpoints a router holds.
pub const MAX_ENDPOINTS: usize = 4_096;

/// One endpoint as the caller describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The caller's id for it (unique in the router).
    pub id: u64,
    /// Its failover tier: 0 is the most preferred.
    pub priority: u32,
    /// Its share in weighted balancing, at least 1.
    pub weight: u32,
    /// Its distance from the caller, in any unit (geo-proximity).
    pub distance: u32,
}

/// How calls are spread within a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    /// Smooth weighted round robin.
    Weighted,
    /// The lowest distance; ties by smooth weighted round robin.
    Nearest,
    /// The lower EWMA latency of two endpoints drawn at random.
    Latency,
}

/// Active health checking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// Between two checks of one endpoint, ms (default 5,000).
    pub interval_ms: u64,
    /// Consecutive failed checks that mark an endpoint down (default 3).
    pub unhealthy_threshold: u32,
    /// Consecutive good checks that mark it up again (default 2).
    pub healthy_threshold: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval_ms: 5_000,
            unhealthy_threshold: 3,
            healthy_threshold: 2,
        }
    }
}

/// Passive outlier ejection; the defaults are Envoy's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierConfig {
    /// Failures in a row that eject an endpoint; 0 disables (default 5).
    pub consecutive_failures: u32,
    /// Between two sweeps, ms (default 10,000).
    pub interval_ms: u64,
    /// The first ejection's length, ms (default 30,000).
    pub base_ejection_ms: u64,
    /// The longest ejection, ms (default 300,000).
    pub max_ejection_ms: u64,
    /// No ejection while this share of endpoints, percent, is ejected
    /// (default 10).
    pub max_ejection_percent: u32,
    /// Calls an endpoint needs in a sweep's interval to count for the
    /// success-rate statistics (default 100).
    pub request_volume: u32,
    /// Endpoints with that volume needed for the success-rate check
    /// (default 5).
    pub minimum_hosts: u32,
    /// Standard deviations below the mean, in thousandths, under which an
    /// endpoint's success rate ejects it; 0 disables (default 1,900).
    pub success_rate_stdev_factor: u32,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_failures: 5,
            interval_ms: 10_000,
            base_ejection_ms: 30_000,
            max_ejection_ms: 300_000,
            max_ejection_percent: 10,
            request_volume: 100,
            minimum_hosts: 5,
            success_rate_stdev_factor: 1_900,
        }
    }
}

/// A router's configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Balancing within a tier (default weighted).
    pub balance: Balance,
    /// Active health checks (`None`: every endpoint counts as healthy).
    pub health: Option<HealthConfig>,
    /// Outlier ejection.
    pub outlier: OutlierConfig,
    /// The EWMA's weight of a new latency sample, in `(0, 1]` (default
    /// 0.3).
    pub ewma_alpha: f64,
    /// How fast an endpoint's latency estimate fades while it gets no
    /// calls, ms (default 10,000): the estimate counts `exp(-silence /
    /// latency_decay_ms)` of itself, so an endpoint once slow is tried
    /// again (Finagle's peak EWMA decays the same way) instead of being
    /// avoided forever on an old measurement.
    pub latency_decay_ms: u64,
    /// Seeds the latency balancing's draws.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            balance: Balance::Weighted,
            health: Some(HealthConfig::default()),
            outlier: OutlierConfig::default(),
            ewma_alpha: 0.3,
            latency_decay_ms: 10_000,
            seed: 0,
        }
    }
}

/// Why no endpoint can be picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoEndpoint;

impl core::fmt::Display for NoEndpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no endpoint is available: every one is down or ejected")
    }
}

impl core::error::Error for NoEndpoint {}

impl crate::Classify for NoEndpoint {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::Rejected
    }
}

/// What the router knows of one endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EndpointState {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Up by the active checks.
    pub healthy: bool,
    /// Ejected until this time, if it is.
    pub ejected_until: Option<Instant>,
    /// Times ejected, less one per sweep spent in service.
    pub ejections: u32,
    /// The EWMA of its round-trip times, ms, and when it was last updated
    /// (`None` before the first sample).
    pub latency_ms: Option<(f64, Instant)>,
    /// Returned from ejection in the sweep under way (its count does not
    /// drop in that sweep).
    returned: bool,
    consecutive_failures: u32,
    check_streak: u32,
    next_check: Instant,
    current_weight: i64,
    interval_calls: u32,
    interval_successes: u32,
}

/// A router; see the [module documentation](self).
///
/// ```
/// use consensio::Instant;
/// use consensio::resilience::routing::{Config, Endpoint, Router};
///
/// let t = Instant::from_millis;
/// let ep = |id, priority, weight| Endpoint { id, priority, weight, distance: 0 };
/// // Two endpoints in the home region (3:1), one in the fallback region.
/// let mut router = Router::new(Config::default(), &[ep(1, 0, 3), ep(2, 0, 1), ep(9, 1, 1)], t(0))?;
/// let picks: Vec<u64> = (0..4).map(|_| router.pick(t(0)).unwrap()).collect();
/// assert_eq!(picks, [1, 1, 2, 1]);
/// // The home region fails its health checks three times: traffic fails over.
/// for now in [0, 5_000, 10_000] {
///     while let Some(id) = router.poll_health_check(t(now)) {
///         router.on_health_check(t(now), id, id == 9);
///     }
/// }
/// assert_eq!(router.pick(t(10_000)), Ok(9));
/// # Ok::<(), consensio::resilience::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Router {
    config: Config,
    endpoints: Vec<EndpointState>,
    rng: Rng,
    next_sweep: Instant,
}

impl Router {
    /// A router over `endpoints`, all healthy, with the first checks due
    /// at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for no endpoints or more than
    /// [`MAX_ENDPOINTS`], a repeated id, a weight of 0, or a configuration
    /// out of its domain.
    pub fn new(config: Config, endpoints: &[Endpoint], now: Instant) -> Result<Self, Error> {
        if endpoints.is_empty() || endpoints.len() > MAX_ENDPOINTS {
            return Err(Error::InvalidConfig(
                "a router holds 1 to MAX_ENDPOINTS endpoints",
            ));
        }
        if !(config.ewma_alpha > 0.0 && config.ewma_alpha <= 1.0) {
            return Err(Error::InvalidConfig("ewma_alpha must be in (0, 1]"));
        }
        if config.latency_decay_ms == 0 {
            return Err(Error::InvalidConfig("latency_decay_ms must be at least 1"));
        }
        if let Some(h) = config.health
            && (h.interval_ms == 0 || h.unhealthy_threshold == 0 || h.healthy_threshold == 0)
        {
            return Err(Error::InvalidConfig(
                "health checks need an interval and thresholds of at least 1",
            ));
        }
        let o = config.outlier;
        if o.interval_ms == 0 || o.base_ejection_ms == 0 || o.max_ejection_ms < o.base_ejection_ms {
            return Err(Error::InvalidConfig(
                "outlier ejection needs an interval, and a base ejection of at least 1 ms within the maximum",
            ));
        }
        if o.max_ejection_percent > 100 {
            return Err(Error::InvalidConfig(
                "max_ejection_percent must be at most 100",
            ));
        }
        let mut states = Vec::with_capacity(endpoints.len());
        for (i, e) in endpoints.iter().enumerate() {
            if e.weight == 0 {
                return Err(Error::InvalidConfig("every weight must be at least 1"));
            }
            if endpoints.iter().take(i).any(|other| other.id == e.id) {
                return Err(Error::InvalidConfig("endpoint ids must be unique"));
            }
            states.push(EndpointState {
                endpoint: *e,
                healthy: true,
                ejected_until: None,
                ejections: 0,
                latency_ms: None,
                returned: false,
                consecutive_failures: 0,
                check_streak: 0,
                next_check: now,
                current_weight: 0,
                interval_calls: 0,
                interval_successes: 0,
            });
        }
        Ok(Router {
            config,
            endpoints: states,
            rng: Rng::seed_from_u64(config.seed),
            next_sweep: now.saturating_add_millis(o.interval_ms),
        })
    }

    /// Every endpoint's state, in the order given.
    #[must_use]
    pub fn endpoints(&self) -> &[EndpointState] {
        &self.endpoints
    }

    /// Whether endpoint `id` takes calls at `now` (healthy and not
    /// ejected); `None` for an unknown id.
    #[must_use]
    pub fn is_available(&self, id: u64, now: Instant) -> Option<bool> {
        self.endpoints
            .iter()
            .find(|e| e.endpoint.id == id)
            .map(|e| available(e, now))
    }

    /// The endpoint for the next call at `now`.
    ///
    /// # Errors
    /// [`NoEndpoint`] when every endpoint is down or ejected.
    pub fn pick(&mut self, now: Instant) -> Result<u64, NoEndpoint> {
        self.tick(now);
        let tier = self.active_tier(now).ok_or(NoEndpoint)?;
        let index = match self.config.balance {
            Balance::Weighted => self.weighted(now, tier, None),
            Balance::Nearest => {
                let nearest = self
                    .endpoints
                    .iter()
                    .filter(|e| e.endpoint.priority == tier && available(e, now))
                    .map(|e| e.endpoint.distance)
                    .min();
                self.weighted(now, tier, nearest)
            }
            Balance::Latency => self.two_choices(now, tier),
        };
        index
            .and_then(|i| self.endpoints.get(i))
            .map(|e| e.endpoint.id)
            .ok_or(NoEndpoint)
    }

    /// The tier that takes calls now: the lowest priority number with an
    /// available endpoint.
    #[must_use]
    pub fn active_tier(&self, now: Instant) -> Option<u32> {
        self.endpoints
            .iter()
            .filter(|e| available(e, now))
            .map(|e| e.endpoint.priority)
            .min()
    }

    /// Smooth weighted round robin over the available endpoints of `tier`
    /// (at `distance`, if given).
    fn weighted(&mut self, now: Instant, tier: u32, distance: Option<u32>) -> Option<usize> {
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        let mut best_weight = i64::MIN;
        for (i, e) in self.endpoints.iter_mut().enumerate() {
            let eligible = e.endpoint.priority == tier
                && available(e, now)
                && distance.is_none_or(|d| e.endpoint.distance == d);
            if !eligible {
                continue;
            }
            let w = i64::from(e.endpoint.weight);
            e.current_weight += w;
            total += w;
            if e.current_weight > best_weight {
                best_weight = e.current_weight;
                best = Some(i);
            }
        }
        let chosen = self.endpoints.get_mut(best?)?;
        chosen.current_weight -= total;
        best
    }

    /// The lower EWMA latency of two available endpoints of `tier` drawn at
    /// random (one if the tier has one); an endpoint never measured counts
    /// as fastest, so each is tried, and an estimate fades while its
    /// endpoint gets no calls.
    fn two_choices(&mut self, now: Instant, tier: u32) -> Option<usize> {
        let n = self
            .endpoints
            .iter()
            .filter(|e| e.endpoint.priority == tier && available(e, now))
            .count() as u64;
        let nth = |k: u64| {
            self.endpoints
                .iter()
                .enumerate()
                .filter(|(_, e)| e.endpoint.priority == tier && available(e, now))
                .nth(k as usize)
                .map(|(i, _)| i)
        };
        let a = self.rng.below(n);
        let b = if n > 1 {
            (a + 1 + self.rng.below(n - 1)) % n
        } else {
            a
        };
        let (ia, ib) = (nth(a)?, nth(b)?);
        let decay = self.config.latency_decay_ms as f64;
        let latency = |i: usize| {
            self.endpoints
                .get(i)
                .and_then(|e| e.latency_ms)
                .map_or(0.0, |(ms, at)| {
                    let silence = now.saturating_millis_since(at) as f64;
                    ms * libm::exp(-silence / decay)
                })
        };
        Some(if latency(ib) < latency(ia) { ib } else { ia })
    }

    /// Reports a call to `id` that took `rtt_ms` and succeeded or not.
    /// Unknown ids are ignored (an endpoint the caller has since dropped).
    pub fn on_response(&mut self, now: Instant, id: u64, rtt_ms: u64, ok: bool) {
        self.tick(now);
        let alpha = self.config.ewma_alpha;
        let threshold = self.config.outlier.consecutive_failures;
        let Some(i) = self.endpoints.iter().position(|e| e.endpoint.id == id) else {
            return;
        };
        let Some(e) = self.endpoints.get_mut(i) else {
            return;
        };
        #[allow(clippy::cast_precision_loss)]
        let sample = rtt_ms as f64;
        e.latency_ms = Some((
            match e.latency_ms {
                Some((old, _)) => old + alpha * (sample - old),
                None => sample,
            },
            now,
        ));
        e.interval_calls = e.interval_calls.saturating_add(1);
        if ok {
            e.interval_successes = e.interval_successes.saturating_add(1);
            e.consecutive_failures = 0;
            return;
        }
        e.consecutive_failures = e.consecutive_failures.saturating_add(1);
        if threshold > 0 && e.consecutive_failures >= threshold {
            self.eject(i, now);
        }
    }

    /// The next endpoint whose active health check is due at `now`, if
    /// any; its next check is scheduled an interval later.
    pub fn poll_health_check(&mut self, now: Instant) -> Option<u64> {
        let interval = self.config.health?.interval_ms;
        let e = self.endpoints.iter_mut().find(|e| e.next_check <= now)?;
        e.next_check = now.saturating_add_millis(interval);
        Some(e.endpoint.id)
    }

    /// Reports a health check of `id`. Unknown ids are ignored.
    pub fn on_health_check(&mut self, _now: Instant, id: u64, ok: bool) {
        let Some(h) = self.config.health else {
            return;
        };
        let Some(e) = self.endpoints.iter_mut().find(|e| e.endpoint.id == id) else {
            return;
        };
        // The streak counts checks that disagree with the current state.
        if ok == e.healthy {
            e.check_streak = 0;
            return;
        }
        e.check_streak += 1;
        let needed = if e.healthy {
            h.unhealthy_threshold
        } else {
            h.healthy_threshold
        };
        if e.check_streak >= needed {
            e.healthy = ok;
            e.check_streak = 0;
        }
    }

    /// When the next health check or outlier sweep is due.
    #[must_use]
    pub fn next_deadline(&self) -> Instant {
        let check = self
            .config
            .health
            .and_then(|_| self.endpoints.iter().map(|e| e.next_check).min());
        check.map_or(self.next_sweep, |c| c.min(self.next_sweep))
    }

    /// Runs the outlier sweeps due by `now`, each as of its own time
    /// (returning ejected endpoints whose time was up by then, ejecting
    /// success-rate outliers, starting a new interval), then returns the
    /// endpoints whose ejection is over by `now`.
    pub fn tick(&mut self, now: Instant) {
        let interval = self.config.outlier.interval_ms;
        let mut sweeps = 0;
        while self.next_sweep <= now {
            let at = self.next_sweep;
            if sweeps == MAX_SWEEPS_AT_ONCE {
                // A long silence: the remaining sweeps had no calls to
                // judge, so they only return endpoints and count down the
                // ejections of those in service.
                let missed = now.saturating_millis_since(at) / interval + 1;
                for e in &mut self.endpoints {
                    let in_service = match e.ejected_until {
                        None => missed,
                        Some(until) if until > now => 0,
                        Some(until) => {
                            // The sweeps at or after `until`; the first of
                            // them returns it.
                            let before = until.saturating_millis_since(at).div_ceil(interval);
                            missed.saturating_sub(before).saturating_sub(1)
                        }
                    };
                    unejected(e, now);
                    let in_service = u32::try_from(in_service).unwrap_or(u32::MAX);
                    e.ejections = e.ejections.saturating_sub(in_service);
                }
                self.next_sweep = now.saturating_add_millis(interval);
                break;
            }
            self.sweep(at);
            self.next_sweep = at.saturating_add_millis(interval);
            sweeps += 1;
        }
        for e in &mut self.endpoints {
            unejected(e, now);
        }
    }

    /// One sweep at `at`.
    fn sweep(&mut self, at: Instant) {
        let o = self.config.outlier;
        for e in &mut self.endpoints {
            e.returned = unejected(e, at);
        }
        // Success-rate outliers among the endpoints with enough calls.
        let counted = |e: &EndpointState| {
            e.ejected_until.is_none() && e.interval_calls >= o.request_volume.max(1)
        };
        let hosts = self.endpoints.iter().filter(|e| counted(e)).count();
        if o.success_rate_stdev_factor > 0 && hosts >= o.minimum_hosts.max(1) as usize {
            let rate = |e: &EndpointState| {
                f64::from(e.interval_successes) * 100.0 / f64::from(e.interval_calls)
            };
            #[allow(clippy::cast_precision_loss)]
            let n = hosts as f64;
            let rates = || self.endpoints.iter().filter(|e| counted(e)).map(rate);
            let mean = rates().sum::<f64>() / n;
            let variance = rates().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
            let threshold =
                mean - libm::sqrt(variance) * f64::from(o.success_rate_stdev_factor) / 1_000.0;
            for i in 0..self.endpoints.len() {
                let outlier = self
                    .endpoints
                    .get(i)
                    .is_some_and(|e| counted(e) && rate(e) < threshold);
                if outlier {
                    self.eject(i, at);
                }
            }
        }
        for e in &mut self.endpoints {
            // Envoy's rule: a sweep either returns an endpoint or, if it
            // spent the interval in service, lowers its count.
            if e.ejected_until.is_none() && !e.returned {
                e.ejections = e.ejections.saturating_sub(1);
            }
            e.returned = false;
            e.interval_calls = 0;
            e.interval_successes = 0;
        }
    }

    /// Ejects endpoint `i`, unless the ejected share is at its maximum.
    fn eject(&mut self, i: usize, now: Instant) {
        let o = self.config.outlier;
        let ejected = self
            .endpoints
            .iter()
            .filter(|e| e.ejected_until.is_some())
            .count();
        // Envoy's rule: eject only while the ejected share is below the
        // maximum, so the first ejection is always allowed.
        if o.max_ejection_percent == 0
            || ejected * 100 >= self.endpoints.len() * o.max_ejection_percent as usize
                && ejected > 0
        {
            return;
        }
        let Some(e) = self.endpoints.get_mut(i) else {
            return;
        };
        if e.ejected_until.is_some() {
            return;
        }
        // Envoy's rule: the count grows only while the ejection it gives is
        // below the maximum, so it can decay back within a few sweeps.
        if o.base_ejection_ms.saturating_mul(u64::from(e.ejections))
            < o.max_ejection_ms.saturating_add(o.base_ejection_ms)
        {
            e.ejections += 1;
        }
        let length = o
            .base_ejection_ms
            .saturating_mul(u64::from(e.ejections))
            .min(o.max_ejection_ms);
        e.ejected_until = Some(now.saturating_add_millis(length));
        e.consecutive_failures = 0;
    }
}

/// Returns `e` to service if its ejection is over at `at`; whether it did.
fn unejected(e: &mut EndpointState, at: Instant) -> bool {
    if e.ejected_until.is_some_and(|until| at >= until) {
        e.ejected_until = None;
        e.consecutive_failures = 0;
        return true;
    }
    false
}

/// Whether `e` may take calls at `now`.
fn available(e: &EndpointState, now: Instant) -> bool {
    e.healthy && e.ejected_until.is_none_or(|until| now >= until)
}
