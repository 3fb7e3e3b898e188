//! `consensio.resilience`: the circuit breaker, retries and retry budgets,
//! hedges, the router, and request-reply (`RpcNode`).

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
use consensio::resilience::rpc::{self, Command, Event, Persist, RequestId, RpcNode as CoreRpc};
use consensio::{Input, NodeId, Restore, wire};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};

use crate::participant::{Node, Outputs, participant_methods};
use crate::raft::records_in;
use crate::{PersistOutput, error, invalid, node_ids};

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

/// A retry policy from the keyword arguments `Retry` and `RpcNode` take.
fn policy_of(
    max_attempts: u32,
    initial_ms: u64,
    max_ms: u64,
    multiplier: f64,
    jitter: &str,
) -> PyResult<Policy> {
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
    Ok(Policy {
        max_attempts,
        backoff: Backoff {
            initial_ms,
            max_ms,
            multiplier,
            jitter,
        },
    })
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
            policy_of(max_attempts, initial_ms, max_ms, multiplier, jitter)?
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

/// Output of an `RpcNode`: call `call` ended, exactly once, by its
/// deadline. `outcome` is "reply" (the server executed the request once;
/// `reply` is its answer), "deadline_exceeded" (no reply in time: it may or
/// may not have executed) or "rejected" (the peer's breaker refused it:
/// nothing was sent). `attempts` counts the copies sent.
#[pyclass(module = "consensio.resilience", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Done {
    /// The caller's tag.
    #[pyo3(get)]
    call: u64,
    /// "reply", "deadline_exceeded" or "rejected".
    #[pyo3(get)]
    outcome: &'static str,
    /// Copies sent.
    #[pyo3(get)]
    attempts: u32,
    answer: Option<Vec<u8>>,
}

#[pymethods]
impl Done {
    /// The reply, for outcome "reply"; else None.
    #[getter]
    fn reply<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.answer.as_ref().map(|r| PyBytes::new(py, r))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let reply = match &self.answer {
            Some(r) => PyBytes::new(py, r).repr()?.to_string(),
            None => "None".into(),
        };
        Ok(format!(
            "Done(call={}, outcome={:?}, attempts={}, reply={reply})",
            self.call, self.outcome, self.attempts
        ))
    }
}

/// Output of an `RpcNode`: execute `body`, the request `(incarnation,
/// seq)` of `client`, and answer with `reply(now_ms, client, incarnation,
/// seq, answer)`. It was recorded as started and will not be asked for
/// again; `deadline_ms` is the caller's deadline on this node's clock
/// (pass what is left of it to any call made on the request's behalf).
#[pyclass(module = "consensio.resilience", frozen, eq, hash)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Execute {
    /// The calling node.
    #[pyo3(get)]
    client: u64,
    /// The client's incarnation.
    #[pyo3(get)]
    incarnation: u64,
    /// The request's number within it.
    #[pyo3(get)]
    seq: u64,
    /// The caller's deadline, on this node's clock, ms.
    #[pyo3(get)]
    deadline_ms: u64,
    request: Vec<u8>,
}

#[pymethods]
impl Execute {
    /// The request's body.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.request)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let body = PyBytes::new(py, &self.request).repr()?;
        Ok(format!(
            "Execute(client={}, incarnation={}, seq={}, deadline_ms={}, body={body})",
            self.client, self.incarnation, self.seq, self.deadline_ms
        ))
    }
}

impl Outputs for CoreRpc {
    fn persist(py: Python<'_>, record: Persist) -> PyResult<Py<PyAny>> {
        PersistOutput::encoded(py, &record)
    }

    fn event(py: Python<'_>, event: Event) -> PyResult<Py<PyAny>> {
        Ok(match event {
            Event::Done {
                call,
                outcome,
                attempts,
            } => {
                let (outcome, answer) = match outcome {
                    rpc::Outcome::Reply(r) => ("reply", Some(r)),
                    rpc::Outcome::DeadlineExceeded => ("deadline_exceeded", None),
                    rpc::Outcome::Rejected => ("rejected", None),
                };
                let done = Done {
                    call,
                    outcome,
                    attempts,
                    answer,
                };
                Py::new(py, done)?.into_any()
            }
            Event::Execute {
                client,
                id,
                deadline,
                body,
            } => {
                let execute = Execute {
                    client: client.0,
                    incarnation: id.incarnation,
                    seq: id.seq,
                    deadline_ms: deadline.as_millis(),
                    request: body,
                };
                Py::new(py, execute)?.into_any()
            }
        })
    }
}

/// Request-reply with deadlines and at-most-once execution: one node is
/// both a client (it calls its peers) and a server (it executes their
/// requests).
///
/// `members` is the fixed membership, this node included (its peers at
/// most 256). `call(now_ms, call, to, body, timeout_ms)` sends a request
/// tagged `call`, retransmitted every `attempt_timeout_ms` without a
/// reply, after a jittered backoff (`max_attempts`, `initial_ms`,
/// `max_ms`, `multiplier`, `jitter`), while the deadline, the attempts and
/// the `budget` (a `RetryBudget`, copied) allow; with `breaker` (a
/// `CircuitBreaker` whose configuration is copied, one breaker per peer)
/// an open breaker rejects calls at once. Each call ends in exactly one
/// `Done`, by its deadline. A request from a peer is recorded, then
/// reported as `Execute`, exactly once however often it arrives; answer
/// it with `reply`, which is recorded and sent again to any
/// retransmission. Drain `poll()` after every call, making each `Persist`
/// durable, in order, before acting on the outputs after it; rebuild a
/// restarted node with `RpcNode.restore(id, members, records, **config)`.
/// `seed` (the jitter's) defaults to the id.
#[pyclass(module = "consensio.resilience", frozen)]
#[derive(Debug)]
pub(crate) struct RpcNode {
    node: Node<CoreRpc>,
}

participant_methods! {
    RpcNode;

    #[new]
    #[pyo3(signature = (id, members, *, seed=None, max_attempts=3, initial_ms=100, max_ms=10_000,
                        multiplier=2.0, jitter="full", attempt_timeout_ms=1_000, budget=None,
                        breaker=None, max_calls=1_024, max_records=1_024, max_body_len=4_096,
                        grace_ms=60_000, checkpoint_every=1_024))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: u64,
        members: &Bound<'_, PyAny>,
        seed: Option<u64>,
        max_attempts: u32,
        initial_ms: u64,
        max_ms: u64,
        multiplier: f64,
        jitter: &str,
        attempt_timeout_ms: u64,
        budget: Option<PyRef<'_, RetryBudget>>,
        breaker: Option<PyRef<'_, CircuitBreaker>>,
        max_calls: usize,
        max_records: usize,
        max_body_len: usize,
        grace_ms: u64,
        checkpoint_every: u32,
    ) -> PyResult<Self> {
        let config = rpc::Config {
            retry: policy_of(max_attempts, initial_ms, max_ms, multiplier, jitter)?,
            attempt_timeout_ms,
            budget: budget.map(|b| b.budget),
            breaker: breaker.map(|b| *b.breaker.config()),
            max_calls,
            max_records,
            max_body_len,
            grace_ms,
            checkpoint_every,
            seed: seed.unwrap_or(id),
            ..rpc::Config::new(NodeId(id), &node_ids(members)?)
        };
        let node = CoreRpc::new(config).map_err(error)?;
        Ok(RpcNode { node: Node::new(node) })
    }

    /// A node restarted from the records it persisted (each
    /// `Persist.value`, in the order polled; or those from the last
    /// checkpoint on, see `rpc_is_checkpoint_record`), with the same
    /// keyword arguments as the constructor. Its calls ended with the
    /// process that made them; its server never executes again a request
    /// it had started. Raises `MalformedMessage` for bytes that are not a
    /// record or records no node could have written.
    #[classmethod]
    #[pyo3(signature = (id, members, records, **config))]
    fn restore(
        cls: &Bound<'_, PyType>,
        id: u64,
        members: &Bound<'_, PyAny>,
        records: &Bound<'_, PyAny>,
        config: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let records = records_in(records)?;
        let fresh = cls.call((id, members), config)?;
        let fresh = fresh.cast::<RpcNode>()?.get();
        let config = fresh.node.with(|n| n.config().clone());
        let node = CoreRpc::restore(config, &records).map_err(error)?;
        Ok(Py::new(cls.py(), RpcNode { node: Node::new(node) })?.into_any())
    }

    /// Calls peer `to` with `body`, tagged `call` (any number not open on
    /// this node), with a deadline `timeout_ms` from `now_ms`. Raises
    /// `InvalidArgument` if `to` is not a peer or the tag is open,
    /// `LimitExceeded` for a body over `max_body_len` or `max_calls` open.
    fn call(&self, py: Python<'_>, now_ms: u64, call: u64, to: u64, body: &[u8], timeout_ms: u64) -> PyResult<()> {
        let command = Command::Call {
            call,
            to: NodeId(to),
            body: body.to_vec(),
            timeout_ms,
        };
        self.node.input(py, now_ms, Input::Command(command))
    }

    /// Answers the request an `Execute` named. A reply nobody waits for any
    /// more is dropped silently. Raises `InvalidArgument` for a request
    /// answered already or abandoned by a restart, `LimitExceeded` for a
    /// body over `max_body_len`.
    fn reply(&self, py: Python<'_>, now_ms: u64, client: u64, incarnation: u64, seq: u64, body: &[u8]) -> PyResult<()> {
        let command = Command::Reply {
            client: NodeId(client),
            id: RequestId { incarnation, seq },
            body: body.to_vec(),
        };
        self.node.input(py, now_ms, Input::Command(command))
    }

    /// The incarnation this node's requests carry (0 before its first input).
    #[getter]
    fn incarnation(&self) -> u64 {
        self.node.with(CoreRpc::incarnation)
    }

    /// How many calls are open.
    #[getter]
    fn open_calls(&self) -> usize {
        self.node.with(CoreRpc::open_calls)
    }

    /// How many requests the server remembers.
    #[getter]
    fn records(&self) -> usize {
        self.node.with(CoreRpc::records)
    }

    /// The state of `peer`'s breaker ("CLOSED", "OPEN", ...), or None
    /// without breakers.
    fn breaker_state(&self, peer: u64) -> Option<String> {
        self.node.with(|n| n.breaker_state(NodeId(peer)).map(|s| s.to_string()))
    }

    /// (left, most) of the retry budget, or None without one.
    #[getter]
    fn budget_level(&self) -> Option<(u64, u64)> {
        self.node.with(CoreRpc::budget_level)
    }

    fn __repr__(&self) -> String {
        self.node.with(|n| {
            format!(
                "RpcNode(id={}, incarnation={}, open_calls={}, records={})",
                n.config().id.0,
                n.incarnation(),
                n.open_calls(),
                n.records()
            )
        })
    }
}

/// Whether `record` (a `Persist.value` of an `RpcNode`) is a checkpoint:
/// once it is durable, the records before it may be deleted. Raises
/// `MalformedMessage` if it is not a record.
#[pyfunction]
fn rpc_is_checkpoint_record(record: &[u8]) -> PyResult<bool> {
    let record = wire::decode::<Persist>(record).map_err(error)?;
    Ok(matches!(record, Persist::Checkpoint(_)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rpc_is_checkpoint_record, m)?)?;
    m.add_class::<RpcNode>()?;
    m.add_class::<Done>()?;
    m.add_class::<Execute>()?;
    m.add_class::<Router>()?;
    m.add_class::<Hedge>()?;
    m.add_class::<Permit>()?;
    m.add_class::<CircuitBreaker>()?;
    m.add_class::<RetryBudget>()?;
    m.add_class::<Retry>()?;
    Ok(())
}
