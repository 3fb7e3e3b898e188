//! `consensio.resilience`: the circuit breaker, retries and retry budgets.

use consensio::Instant;
use consensio::resilience::Budget;
use consensio::resilience::breaker::{
    CircuitBreaker as CoreBreaker, Config, OpenWait, Outcome, Permit as CorePermit, Recorded,
    State, Window,
};
use consensio::resilience::hedge::{Due, Hedge as CoreHedge, HedgeOutcome, HedgePolicy};
use consensio::resilience::retry::{
    Backoff, Decision, FailureKind, GiveUp, Jitter, Policy, Pushback, Retry as CoreRetry,
};
use consensio::resilience::routing::{
    self, Balance, Endpoint, HealthConfig, OutlierConfig, Router as CoreRouter,
};
use pyo3::prelude::*;

use crate::{error, invalid};

fn state_of(name: &str) -> PyResult<State> {
    State::ALL
        .into_iter()
        .find(|s| s.to_string() == name)
        .ok_or_else(|| invalid(format!("no breaker state {name:?}")))
}

/// Leave to make one call; report it once with `CircuitBreaker.on_result`.
#[pyclass(module = "consensio.resilience", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Permit {
    /// When it was issued, ms.
    #[pyo3(get)]
    at_ms: u64,
    /// The breaker's state period it belongs to.
    #[pyo3(get)]
    period: u64,
    /// A half-open trial's slot, or 2**32 - 1 for a call that is not a trial.
    #[pyo3(get)]
    slot: u32,
}

#[pymethods]
impl Permit {
    fn __repr__(&self) -> String {
        format!(
            "Permit(at_ms={}, period={}, slot={})",
            self.at_ms, self.period, self.slot
        )
    }
}

/// A circuit breaker after resilience4j; the defaults are resilience4j's.
#[pyclass(module = "consensio.resilience")]
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    breaker: CoreBreaker,
}

#[pymethods]
impl CircuitBreaker {
    #[new]
    #[pyo3(signature = (
        *,
        failure_rate_threshold = 50.0,
        slow_call_rate_threshold = 100.0,
        slow_call_duration_ms = 60_000,
        permitted_calls_in_half_open = 10,
        max_wait_in_half_open_ms = 0,
        window = "count",
        window_size = 100,
        minimum_calls = 100,
        open_wait_ms = 60_000,
        open_wait_multiplier = 1.0,
        open_wait_max_ms = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        failure_rate_threshold: f32,
        slow_call_rate_threshold: f32,
        slow_call_duration_ms: u64,
        permitted_calls_in_half_open: u32,
        max_wait_in_half_open_ms: u64,
        window: &str,
        window_size: u32,
        minimum_calls: u32,
        open_wait_ms: u64,
        open_wait_multiplier: f64,
        open_wait_max_ms: Option<u64>,
    ) -> PyResult<Self> {
        let window = match window {
            "count" => Window::Count(window_size),
            "time" => Window::Time(window_size),
            other => {
                return Err(invalid(format!(
                    "window {other:?}: \"count\" (calls) or \"time\" (seconds)"
                )));
            }
        };
        #[allow(clippy::float_cmp)]
        let open_wait = if open_wait_multiplier == 1.0 && open_wait_max_ms.is_none() {
            OpenWait::Fixed(open_wait_ms)
        } else {
            OpenWait::Exponential {
                initial_ms: open_wait_ms,
                multiplier: open_wait_multiplier,
                max_ms: open_wait_max_ms.unwrap_or(open_wait_ms),
            }
        };
        let config = Config {
            failure_rate_threshold,
            slow_call_rate_threshold,
            slow_call_duration_ms,
            permitted_calls_in_half_open,
            max_wait_in_half_open_ms,
            window,
            minimum_calls,
            open_wait,
        };
        Ok(CircuitBreaker {
            breaker: CoreBreaker::new(config).map_err(error)?,
        })
    }

    /// Leave for one call at `now_ms`; raises `consensio.Rejected` when
    /// OPEN, FORCED_OPEN, or HALF_OPEN with every trial out.
    fn acquire(&mut self, now_ms: u64) -> PyResult<Permit> {
        let p = self
            .breaker
            .try_acquire(Instant::from_millis(now_ms))
            .map_err(error)?;
        let (at_ms, period, slot) = p.to_raw();
        Ok(Permit {
            at_ms,
            period,
            slot,
        })
    }

    /// Reports how the call of `permit` went ("success", "failure" or
    /// "ignored") at `now_ms`; returns "counted", "ignored" or "stale".
    fn on_result(&mut self, now_ms: u64, permit: &Permit, outcome: &str) -> PyResult<&'static str> {
        let outcome = match outcome {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            "ignored" => Outcome::Ignored,
            other => {
                return Err(invalid(format!(
                    "outcome {other:?}: \"success\", \"failure\" or \"ignored\""
                )));
            }
        };
        let recorded = self
            .breaker
            .on_result(
                Instant::from_millis(now_ms),
                CorePermit::from_raw(permit.at_ms, permit.period, permit.slot),
                outcome,
            )
            .map_err(error)?;
        Ok(match recorded {
            Recorded::Counted => "counted",
            Recorded::Ignored => "ignored",
            Recorded::Stale => "stale",
        })
    }

    /// "CLOSED", "OPEN", "HALF_OPEN", "DISABLED", "FORCED_OPEN" or
    /// "METRICS_ONLY", as of the last call.
    #[getter]
    fn state(&self) -> String {
        self.breaker.state().to_string()
    }

    /// Applies the transitions time drives, as of `now_ms`.
    fn tick(&mut self, now_ms: u64) {
        self.breaker.tick(Instant::from_millis(now_ms));
    }

    /// When time next changes the state by itself, ms, or None.
    #[getter]
    fn next_deadline(&self) -> Option<u64> {
        self.breaker.next_deadline().map(Instant::as_millis)
    }

    /// Moves to `state` on the caller's order, with a fresh window.
    fn transition_to(&mut self, state: &str, now_ms: u64) -> PyResult<()> {
        let state = state_of(state)?;
        self.breaker
            .transition_to(state, Instant::from_millis(now_ms));
        Ok(())
    }

    /// Back to CLOSED with an empty window.
    fn reset(&mut self, now_ms: u64) {
        self.breaker.reset(Instant::from_millis(now_ms));
    }

    /// The window as of `now_ms`: calls, failed, slow, failure_rate and
    /// slow_call_rate (None below the minimum calls), not_permitted, stale.
    fn metrics<'py>(
        &mut self,
        py: Python<'py>,
        now_ms: u64,
    ) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let m = self.breaker.metrics(Instant::from_millis(now_ms));
        let d = pyo3::types::PyDict::new(py);
        d.set_item("calls", m.calls)?;
        d.set_item("failed", m.failed)?;
        d.set_item("slow", m.slow)?;
        d.set_item("failure_rate", m.failure_rate)?;
        d.set_item("slow_call_rate", m.slow_call_rate)?;
        d.set_item("not_permitted", m.not_permitted)?;
        d.set_item("stale", m.stale)?;
        Ok(d)
    }

    /// The oldest transition not yet polled, as (from, to, at_ms), or None.
    fn poll_transition(&mut self) -> Option<(String, String, u64)> {
        self.breaker
            .poll_transition()
            .map(|t| (t.from.to_string(), t.to.to_string(), t.at.as_millis()))
    }

    fn __repr__(&self) -> String {
        format!("CircuitBreaker(state={:?})", self.state())
    }
}

/// A retry budget shared by the calls of one client.
#[pyclass(module = "consensio.resilience")]
#[derive(Debug)]
pub(crate) struct RetryBudget {
    budget: Budget,
}

#[pymethods]
impl RetryBudget {
    /// gRPC retry throttling (gRFC A6).
    #[staticmethod]
    fn grpc(max_tokens: u32, token_ratio: f64) -> PyResult<Self> {
        Ok(RetryBudget {
            budget: Budget::grpc(max_tokens, token_ratio).map_err(error)?,
        })
    }

    /// The AWS SDKs' standard-mode retry quota.
    #[staticmethod]
    fn aws_standard() -> Self {
        RetryBudget {
            budget: Budget::aws_standard(),
        }
    }

    /// (left, most): gRPC tokens in thousandths, or the AWS quota.
    #[getter]
    fn level(&self) -> (u64, u64) {
        self.budget.level()
    }

    fn __repr__(&self) -> String {
        let (left, most) = self.budget.level();
        format!("RetryBudget(level={left}/{most})")
    }
}

/// One call's retries.
#[pyclass(module = "consensio.resilience")]
#[derive(Debug)]
pub(crate) struct Retry {
    retry: CoreRetry,
}

#[pymethods]
impl Retry {
    #[new]
    #[pyo3(signature = (
        *,
        max_attempts = 3,
        initial_ms = 100,
        max_ms = 10_000,
        multiplier = 2.0,
        jitter = "full",
        seed = 0,
        aws_standard = false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        max_attempts: u32,
        initial_ms: u64,
        max_ms: u64,
        multiplier: f64,
        jitter: &str,
        seed: u64,
        aws_standard: bool,
    ) -> PyResult<Self> {
        let policy = if aws_standard {
            Policy::aws_standard()
        } else {
            let jitter = match jitter {
                "none" => Jitter::None,
                "full" => Jitter::Full,
                "equal" => Jitter::Equal,
                "decorrelated" => Jitter::Decorrelated,
                other => {
                    return Err(invalid(format!(
                        "jitter {other:?}: \"none\", \"full\", \"equal\" or \"decorrelated\""
                    )));
                }
            };
            Policy {
                max_attempts,
                backoff: Backoff {
                    initial_ms,
                    max_ms,
                    multiplier,
                    jitter,
                },
            }
        };
        Ok(Retry {
            retry: CoreRetry::new(policy, seed).map_err(error)?,
        })
    }

    /// The attempt under way failed with `kind` ("transient", "timeout" or
    /// "permanent"); `pushback_ms` is the server's delay (None: none), and
    /// `stop` its refusal. Returns the delay to wait in ms, or the reason
    /// to give up: "not_retryable", "attempts", "budget" or "pushback".
    #[pyo3(signature = (kind = "transient", *, budget = None, pushback_ms = None, stop = false))]
    fn on_failure(
        &mut self,
        py: Python<'_>,
        kind: &str,
        budget: Option<PyRefMut<'_, RetryBudget>>,
        pushback_ms: Option<u64>,
        stop: bool,
    ) -> PyResult<Py<PyAny>> {
        let kind = failure_kind(kind)?;
        let pushback = match (stop, pushback_ms) {
            (true, _) => Pushback::Stop,
            (false, Some(ms)) => Pushback::After(ms),
            (false, None) => Pushback::None,
        };
        let mut budget = budget;
        let decision =
            self.retry
                .on_failure(kind, pushback, budget.as_deref_mut().map(|b| &mut b.budget));
        Ok(match decision {
            Decision::RetryAfter(ms) => ms.into_pyobject(py)?.into_any().unbind(),
            Decision::GiveUp(why) => match why {
                GiveUp::NotRetryable => "not_retryable",
                GiveUp::Attempts => "attempts",
                GiveUp::Budget => "budget",
                GiveUp::Pushback => "pushback",
            }
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        })
    }

    /// The attempt under way succeeded: `budget` gets its due.
    #[pyo3(signature = (*, budget = None))]
    fn on_success(&mut self, budget: Option<PyRefMut<'_, RetryBudget>>) {
        let mut budget = budget;
        self.retry
            .on_success(budget.as_deref_mut().map(|b| &mut b.budget));
    }

    /// Attempts made so far, the one under way included.
    #[getter]
    fn attempts(&self) -> u32 {
        self.retry.attempts()
    }
}

fn failure_kind(kind: &str) -> PyResult<FailureKind> {
    match kind {
        "transient" => Ok(FailureKind::Transient),
        "timeout" => Ok(FailureKind::Timeout),
        "permanent" => Ok(FailureKind::Permanent),
        other => Err(invalid(format!(
            "kind {other:?}: \"transient\", \"timeout\" or \"permanent\""
        ))),
    }
}

/// The copies in a 64-bit set, ascending.
fn copies(set: u64) -> Vec<u32> {
    (0..64).filter(|i| set & (1 << i) != 0).collect()
}

/// How the call stands after an answer: ("succeeded", attempt, cancel),
/// ("failed", None, cancel), ("pending", None, []) or ("ignored", None, []).
type Step = (&'static str, Option<u32>, Vec<u32>);

fn hedge_step(o: HedgeOutcome) -> Step {
    match o {
        HedgeOutcome::Succeeded { attempt, cancel } => ("succeeded", Some(attempt), copies(cancel)),
        HedgeOutcome::Failed { cancel } => ("failed", None, copies(cancel)),
        HedgeOutcome::Pending => ("pending", None, Vec::new()),
        HedgeOutcome::Ignored => ("ignored", None, Vec::new()),
    }
}

/// One hedged call: copy 0 is sent at `now_ms`; another is due every
/// `delay_ms`, up to `max_attempts` copies.
#[pyclass(module = "consensio.resilience")]
#[derive(Debug)]
pub(crate) struct Hedge {
    hedge: CoreHedge,
}

#[pymethods]
impl Hedge {
    #[new]
    #[pyo3(signature = (now_ms, *, max_attempts = 3, delay_ms = 100))]
    fn new(now_ms: u64, max_attempts: u32, delay_ms: u64) -> PyResult<Self> {
        let policy = HedgePolicy {
            max_attempts,
            delay_ms,
        };
        Ok(Hedge {
            hedge: CoreHedge::new(policy, Instant::from_millis(now_ms)).map_err(error)?,
        })
    }

    /// What is due at `now_ms`: the copy to send (an int), "failed" if the
    /// budget refused the next copy and none is out, or None.
    #[pyo3(signature = (now_ms, *, budget = None))]
    fn poll(
        &mut self,
        py: Python<'_>,
        now_ms: u64,
        budget: Option<PyRefMut<'_, RetryBudget>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let mut budget = budget;
        let due = self.hedge.poll(
            Instant::from_millis(now_ms),
            budget.as_deref_mut().map(|b| &mut b.budget),
        );
        Ok(match due {
            Some(Due::Send(a)) => Some(a.into_pyobject(py)?.into_any().unbind()),
            Some(Due::Failed) => Some("failed".into_pyobject(py)?.into_any().unbind()),
            None => None,
        })
    }

    /// Copy `attempt` succeeded: ("succeeded", attempt, copies to cancel),
    /// or ("ignored", None, []) for a copy not out.
    #[pyo3(signature = (attempt, *, budget = None))]
    fn on_success(&mut self, attempt: u32, budget: Option<PyRefMut<'_, RetryBudget>>) -> Step {
        let mut budget = budget;
        hedge_step(
            self.hedge
                .on_success(attempt, budget.as_deref_mut().map(|b| &mut b.budget)),
        )
    }

    /// Copy `attempt` failed with `kind` at `now_ms`: ("failed", None,
    /// copies to cancel), ("pending", None, []) (poll: the next copy may be
    /// due at once) or ("ignored", None, []).
    #[pyo3(signature = (now_ms, attempt, kind = "transient", *, budget = None))]
    fn on_failure(
        &mut self,
        now_ms: u64,
        attempt: u32,
        kind: &str,
        budget: Option<PyRefMut<'_, RetryBudget>>,
    ) -> PyResult<Step> {
        let kind = failure_kind(kind)?;
        let mut budget = budget;
        Ok(hedge_step(self.hedge.on_failure(
            Instant::from_millis(now_ms),
            attempt,
            kind,
            budget.as_deref_mut().map(|b| &mut b.budget),
        )))
    }

    /// When the next copy is due, ms, or None.
    #[getter]
    fn next_deadline(&self) -> Option<u64> {
        self.hedge.next_deadline().map(Instant::as_millis)
    }

    /// Changes the delay; the next copy is due `delay_ms` after `last_sent_ms`.
    fn set_delay(&mut self, delay_ms: u64, last_sent_ms: u64) {
        self.hedge
            .set_delay(delay_ms, Instant::from_millis(last_sent_ms));
    }

    /// The copies out, not yet answered.
    #[getter]
    fn outstanding(&self) -> Vec<u32> {
        copies(self.hedge.outstanding())
    }
}

/// Picks an endpoint per call across priority tiers (failover), balancing
/// within a tier, with active health checks and outlier ejection.
#[pyclass(module = "consensio.resilience")]
#[derive(Debug)]
pub(crate) struct Router {
    router: CoreRouter,
}

#[pymethods]
impl Router {
    /// `endpoints`: (id, priority, weight, distance) tuples.
    #[new]
    #[pyo3(signature = (
        endpoints,
        now_ms = 0,
        *,
        balance = "weighted",
        health_checks = true,
        health_interval_ms = 5_000,
        unhealthy_threshold = 3,
        healthy_threshold = 2,
        consecutive_failures = 5,
        outlier_interval_ms = 10_000,
        base_ejection_ms = 30_000,
        max_ejection_ms = 300_000,
        max_ejection_percent = 10,
        request_volume = 100,
        minimum_hosts = 5,
        success_rate_stdev_factor = 1_900,
        ewma_alpha = 0.3,
        latency_decay_ms = 10_000,
        seed = 0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        endpoints: Vec<(u64, u32, u32, u32)>,
        now_ms: u64,
        balance: &str,
        health_checks: bool,
        health_interval_ms: u64,
        unhealthy_threshold: u32,
        healthy_threshold: u32,
        consecutive_failures: u32,
        outlier_interval_ms: u64,
        base_ejection_ms: u64,
        max_ejection_ms: u64,
        max_ejection_percent: u32,
        request_volume: u32,
        minimum_hosts: u32,
        success_rate_stdev_factor: u32,
        ewma_alpha: f64,
        latency_decay_ms: u64,
        seed: u64,
    ) -> PyResult<Self> {
        let balance = match balance {
            "weighted" => Balance::Weighted,
            "nearest" => Balance::Nearest,
            "latency" => Balance::Latency,
            other => {
                return Err(invalid(format!(
                    "balance {other:?}: \"weighted\", \"nearest\" or \"latency\""
                )));
            }
        };
        let config = routing::Config {
            balance,
            health: health_checks.then_some(HealthConfig {
                interval_ms: health_interval_ms,
                unhealthy_threshold,
                healthy_threshold,
            }),
            outlier: OutlierConfig {
                consecutive_failures,
                interval_ms: outlier_interval_ms,
                base_ejection_ms,
                max_ejection_ms,
                max_ejection_percent,
                request_volume,
                minimum_hosts,
                success_rate_stdev_factor,
            },
            ewma_alpha,
            latency_decay_ms,
            seed,
        };
        let list: Vec<Endpoint> = endpoints
            .into_iter()
            .map(|(id, priority, weight, distance)| Endpoint {
                id,
                priority,
                weight,
                distance,
            })
            .collect();
        Ok(Router {
            router: CoreRouter::new(config, &list, Instant::from_millis(now_ms)).map_err(error)?,
        })
    }

    /// The endpoint for the next call; raises `consensio.Rejected` when
    /// every endpoint is down or ejected.
    fn pick(&mut self, now_ms: u64) -> PyResult<u64> {
        self.router
            .pick(Instant::from_millis(now_ms))
            .map_err(error)
    }

    /// Reports a call to `id` that took `rtt_ms`.
    fn on_response(&mut self, now_ms: u64, id: u64, rtt_ms: u64, ok: bool) {
        self.router
            .on_response(Instant::from_millis(now_ms), id, rtt_ms, ok);
    }

    /// The next endpoint whose health check is due, or None.
    fn poll_health_check(&mut self, now_ms: u64) -> Option<u64> {
        self.router.poll_health_check(Instant::from_millis(now_ms))
    }

    /// Reports a health check of `id`.
    fn on_health_check(&mut self, now_ms: u64, id: u64, ok: bool) {
        self.router
            .on_health_check(Instant::from_millis(now_ms), id, ok);
    }

    /// Runs the outlier sweeps due by `now_ms`.
    fn tick(&mut self, now_ms: u64) {
        self.router.tick(Instant::from_millis(now_ms));
    }

    /// When the next health check or sweep is due, ms.
    #[getter]
    fn next_deadline(&self) -> u64 {
        self.router.next_deadline().as_millis()
    }

    /// Whether `id` takes calls at `now_ms`; raises InvalidArgument for an
    /// unknown id.
    fn is_available(&self, id: u64, now_ms: u64) -> PyResult<bool> {
        self.router
            .is_available(id, Instant::from_millis(now_ms))
            .ok_or_else(|| invalid(format!("no endpoint {id}")))
    }

    /// The tier taking calls at `now_ms`, or None.
    fn active_tier(&self, now_ms: u64) -> Option<u32> {
        self.router.active_tier(Instant::from_millis(now_ms))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Router>()?;
    m.add_class::<Hedge>()?;
    m.add_class::<Permit>()?;
    m.add_class::<CircuitBreaker>()?;
    m.add_class::<RetryBudget>()?;
    m.add_class::<Retry>()?;
    Ok(())
}
