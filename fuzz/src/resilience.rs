//! Resilience targets. `resilience_ops`: a circuit breaker under any
//! sequence of permits, results (in any order, stale, forged or repeated),
//! ticks, orders and clock jumps, against a model of its window; retries
//! under any failures, pushbacks and budgets; hedges; the router. The
//! request-reply participant, the family's one wire type, has its decode
//! and step targets in [`rpc`].

pub mod rpc;

use std::collections::VecDeque;

use arbitrary::Arbitrary;
use consensio::Instant;
use consensio::resilience::Budget;
use consensio::resilience::breaker::{
    CircuitBreaker, Config, OpenWait, Outcome, Permit, Recorded, State, Window,
};
use consensio::resilience::hedge::{Due, Hedge, HedgeOutcome, HedgePolicy, MAX_HEDGED_ATTEMPTS};
use consensio::resilience::retry::{
    Backoff, Decision, FailureKind, GiveUp, Jitter, Policy, Pushback, Retry,
};
use consensio::resilience::routing::{
    Balance, Config as RouteConfig, Endpoint, HealthConfig, Router,
};

use crate::structured;

#[derive(Arbitrary, Debug)]
pub struct OpsInput {
    time_window: bool,
    size: u8,
    minimum: u8,
    trials: u8,
    failure_threshold: u8,
    slow_threshold: u8,
    slow_ms: u16,
    open_ms: u16,
    half_open_ms: u16,
    grows: bool,
    ops: Vec<Op>,
    retries: Vec<RetryOp>,
    jitter: u8,
    attempts: u8,
    initial: u16,
    cap: u16,
    grpc: Option<(u16, u16)>,
    seed: u64,
    hedge_attempts: u8,
    hedge_delay: u16,
    hedges: Vec<HedgeOp>,
    routes: Vec<(u8, u8, u8, u8)>,
    balance: u8,
    route_ops: Vec<RouteOp>,
}

#[derive(Arbitrary, Debug)]
enum RouteOp {
    Wait(u16),
    Pick,
    Response { which: u8, rtt: u16, ok: bool },
    Checks { up: u64 },
}

#[derive(Arbitrary, Debug)]
enum HedgeOp {
    Wait(u16),
    Succeed(u8),
    Fail { copy: u8, kind: u8 },
    Delay(u16),
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Time moves on by this much (a large jump now and then).
    Wait(u16),
    Jump(u32),
    /// A clock that goes back.
    Back(u16),
    Acquire,
    /// Reports the permit at this position among those held, after
    /// `took` ms.
    Report {
        which: u8,
        outcome: u8,
        took: u16,
    },
    /// Reports a permit made up from numbers.
    Forged {
        at: u64,
        period: u64,
        slot: u32,
        outcome: u8,
    },
    Tick,
    Order(u8),
}

#[derive(Arbitrary, Debug)]
enum RetryOp {
    Fail {
        kind: u8,
        pushback: Option<u32>,
        stop: bool,
    },
    Succeed,
}

fn outcome(o: u8) -> Outcome {
    match o % 3 {
        0 => Outcome::Success,
        1 => Outcome::Failure,
        _ => Outcome::Ignored,
    }
}

pub fn ops(data: &[u8]) {
    structured(data, |input: OpsInput| {
        breaker(&input);
        retries(&input);
        hedges(&input);
        routes(&input);
    });
}

fn breaker(input: &OpsInput) {
    let size = u32::from(input.size % 40) + 1;
    let window = if input.time_window {
        Window::Time(size % 10 + 1)
    } else {
        Window::Count(size)
    };
    let open = u64::from(input.open_ms) + 1;
    let config = Config {
        failure_rate_threshold: f32::from(input.failure_threshold % 100) + 1.0,
        slow_call_rate_threshold: f32::from(input.slow_threshold % 100) + 1.0,
        slow_call_duration_ms: u64::from(input.slow_ms),
        permitted_calls_in_half_open: u32::from(input.trials % 5) + 1,
        max_wait_in_half_open_ms: u64::from(input.half_open_ms % 4) * 100,
        window,
        minimum_calls: u32::from(input.minimum % 20) + 1,
        open_wait: if input.grows {
            OpenWait::Exponential {
                initial_ms: open,
                multiplier: 2.0,
                max_ms: open * 8,
            }
        } else {
            OpenWait::Fixed(open)
        },
    };
    let Ok(mut b) = CircuitBreaker::new(config) else {
        panic!("a configuration in its domain was refused: {config:?}");
    };
    let mut now = 0u64;
    // The latest time the breaker was given: it counts an earlier one as
    // this (a clock that went back does not move).
    let mut latest = 0u64;
    let mut held: Vec<Permit> = Vec::new();
    // The model of a count window in CLOSED and METRICS_ONLY: the last
    // `size` results of the current period, (failed, slow).
    let mut model: VecDeque<(bool, bool)> = VecDeque::new();
    // Off once a forged permit may have counted: the model cannot follow.
    let mut model_ok = true;
    let mut half_open_admitted = 0u32;
    for op in &input.ops {
        let before = b.state();
        match *op {
            Op::Wait(ms) => now += u64::from(ms),
            Op::Jump(ms) => now += u64::from(ms),
            Op::Back(ms) => now = now.saturating_sub(u64::from(ms)),
            Op::Acquire => match b.try_acquire(Instant::from_millis(now)) {
                Ok(p) => {
                    if b.state() == State::HalfOpen {
                        if before != State::HalfOpen {
                            // This call began the half-open period.
                            half_open_admitted = 0;
                        }
                        half_open_admitted += 1;
                        assert!(
                            half_open_admitted <= config.permitted_calls_in_half_open,
                            "more trials than permitted"
                        );
                    }
                    assert!(
                        matches!(
                            b.state(),
                            State::Closed | State::HalfOpen | State::Disabled | State::MetricsOnly
                        ),
                        "a permit in {:?}",
                        b.state()
                    );
                    if held.len() < 64 {
                        held.push(p);
                    }
                }
                Err(refused) => {
                    assert!(matches!(
                        refused.state,
                        State::Open | State::ForcedOpen | State::HalfOpen
                    ));
                    assert_eq!(refused.state, b.state());
                    if let Some(ms) = refused.retry_after_ms {
                        assert!(ms > 0 && ms <= open * 8, "retry after {ms}");
                    }
                }
            },
            Op::Report {
                which,
                outcome: o,
                took,
            } => {
                if held.is_empty() {
                    continue;
                }
                let p = held.remove(usize::from(which) % held.len());
                let (at, _, _) = p.to_raw();
                let end = now.max(at) + u64::from(took);
                let state = b.state();
                let result = b.on_result(Instant::from_millis(end), p, outcome(o));
                now = end;
                // Counted in CLOSED or METRICS_ONLY: into the window (a
                // result that opens the breaker is cleared with it below).
                if let Ok(Recorded::Counted) = result
                    && matches!(state, State::Closed | State::MetricsOnly)
                {
                    let failed = outcome(o) == Outcome::Failure;
                    let slow = end.max(latest) - at > config.slow_call_duration_ms;
                    model.push_back((failed, slow));
                    if model.len() > size as usize {
                        model.pop_front();
                    }
                }
                if let Ok(Recorded::Counted) = result {
                    assert_ne!(outcome(o), Outcome::Ignored);
                }
                // An ignored trial frees its slot for another.
                if state == State::HalfOpen
                    && b.state() == State::HalfOpen
                    && result == Ok(Recorded::Ignored)
                {
                    half_open_admitted -= 1;
                }
            }
            Op::Forged {
                at,
                period,
                slot,
                outcome: o,
            } => {
                let snapshot = (b.state(), b.metrics(Instant::from_millis(now)));
                let r = b.on_result(
                    Instant::from_millis(now),
                    Permit::from_raw(at, period, slot),
                    outcome(o),
                );
                if r.is_err() {
                    assert_eq!(
                        (b.state(), b.metrics(Instant::from_millis(now))),
                        snapshot,
                        "a refused report changed the breaker"
                    );
                }
                // A forged permit of the current period counts like a real
                // one; the model cannot follow it. In HALF_OPEN it must name
                // a trial out, and then it stands for that trial.
                if r.is_ok() {
                    model_ok = false;
                }
                if snapshot.0 == State::HalfOpen
                    && b.state() == State::HalfOpen
                    && r == Ok(Recorded::Ignored)
                {
                    half_open_admitted -= 1;
                }
                if snapshot.0 == State::HalfOpen && r.is_ok() {
                    held.retain(|p| {
                        let (_, p_period, p_slot) = p.to_raw();
                        (p_period, p_slot) != (period, slot)
                    });
                }
            }
            Op::Tick => b.tick(Instant::from_millis(now)),
            Op::Order(s) => {
                b.transition_to(State::ALL[usize::from(s) % 6], Instant::from_millis(now))
            }
        }
        // Every change of state is one of the documented ones.
        while let Some(t) = b.poll_transition() {
            let ordered = matches!(op, Op::Order(_));
            let allowed = ordered
                || matches!(
                    (t.from, t.to),
                    (State::Closed, State::Open)
                        | (State::Open, State::HalfOpen)
                        | (State::HalfOpen, State::Open | State::Closed)
                );
            assert!(allowed, "{:?} -> {:?} after {op:?}", t.from, t.to);
            if t.to == State::HalfOpen && !matches!(op, Op::Acquire) {
                half_open_admitted = 0;
            }
            model.clear();
        }
        latest = latest.max(now);
        let m = b.metrics(Instant::from_millis(now));
        assert!(m.failed <= m.calls && m.slow <= m.calls, "{m:?}");
        if let Some(rate) = m.failure_rate {
            assert!((0.0..=100.0).contains(&rate));
        }
        match (window, b.state()) {
            (_, State::HalfOpen) => {
                assert!(m.calls <= u64::from(config.permitted_calls_in_half_open));
            }
            (Window::Count(n), _) => {
                assert!(m.calls <= u64::from(n));
                if model_ok && matches!(b.state(), State::Closed | State::MetricsOnly) {
                    let (f, s) = model.iter().fold((0, 0), |(f, s), &(a, b)| {
                        (f + u64::from(a), s + u64::from(b))
                    });
                    assert_eq!(
                        (m.calls, m.failed, m.slow),
                        (model.len() as u64, f, s),
                        "the window differs from the model"
                    );
                }
            }
            _ => {}
        }
        // A CLOSED breaker holding the minimum calls is below both
        // thresholds, or it would have opened.
        if b.state() == State::Closed
            && let (Some(f), Some(s)) = (m.failure_rate, m.slow_call_rate)
        {
            assert!(
                f < config.failure_rate_threshold && s < config.slow_call_rate_threshold,
                "closed at {f}% failed, {s}% slow"
            );
        }
    }
}

fn retries(input: &OpsInput) {
    let jitter = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ][usize::from(input.jitter % 4)];
    let initial = u64::from(input.initial);
    let policy = Policy {
        max_attempts: u32::from(input.attempts % 8) + 1,
        backoff: Backoff {
            initial_ms: initial,
            max_ms: initial + u64::from(input.cap),
            multiplier: 2.0,
            jitter,
        },
    };
    let mut budget = input.grpc.map(|(max, ratio)| {
        Budget::grpc(
            u32::from(max % 1_000) + 1,
            f64::from(ratio % 1_000 + 1) / 1_000.0,
        )
        .expect("in its domain")
    });
    let aws = input.grpc.is_none();
    let mut quota = aws.then(Budget::aws_standard);
    let mut retry = Retry::new(policy, input.seed).expect("a valid policy");
    for op in &input.retries {
        let b = budget.as_mut().or(quota.as_mut());
        let before = b.as_deref().map(Budget::level);
        match *op {
            RetryOp::Fail {
                kind,
                pushback,
                stop,
            } => {
                let kind = [
                    FailureKind::Transient,
                    FailureKind::Timeout,
                    FailureKind::Permanent,
                ][usize::from(kind % 3)];
                let pushback = match (stop, pushback) {
                    (true, _) => Pushback::Stop,
                    (false, Some(ms)) => Pushback::After(u64::from(ms)),
                    (false, None) => Pushback::None,
                };
                let attempts = retry.attempts();
                match retry.on_failure(kind, pushback, b) {
                    Decision::RetryAfter(ms) => {
                        assert_eq!(retry.attempts(), attempts + 1);
                        assert!(retry.attempts() <= policy.max_attempts);
                        assert_ne!(kind, FailureKind::Permanent);
                        match pushback {
                            Pushback::After(p) => assert_eq!(ms, p),
                            _ => assert!(ms <= policy.backoff.max_ms, "{ms} > max"),
                        }
                    }
                    Decision::GiveUp(why) => {
                        assert_eq!(retry.attempts(), attempts);
                        if why == GiveUp::Attempts {
                            assert_eq!(attempts, policy.max_attempts);
                        }
                        // A fresh call after giving up.
                        retry = Retry::new(policy, input.seed ^ u64::from(attempts))
                            .expect("a valid policy");
                    }
                }
            }
            RetryOp::Succeed => {
                retry.on_success(b);
                retry = Retry::new(policy, input.seed.wrapping_add(1)).expect("a valid policy");
            }
        }
        let b = budget.as_ref().or(quota.as_ref());
        if let (Some(b), Some(_)) = (b, before) {
            let (level, max) = b.level();
            assert!(level <= max, "budget {level} over {max}");
        }
    }
}

fn hedges(input: &OpsInput) {
    let policy = HedgePolicy {
        max_attempts: u32::from(input.hedge_attempts) % (MAX_HEDGED_ATTEMPTS + 1),
        delay_ms: u64::from(input.hedge_delay),
    };
    let Ok(mut h) = Hedge::new(policy, Instant::ZERO) else {
        assert_eq!(policy.max_attempts, 0, "refused {policy:?}");
        return;
    };
    let mut budget = input.grpc.map(|(max, ratio)| {
        Budget::grpc(
            u32::from(max % 1_000) + 1,
            f64::from(ratio % 1_000 + 1) / 1_000.0,
        )
        .expect("in its domain")
    });
    let mut now = 0u64;
    let mut sent = 1u32;
    let mut ended = false;
    for op in &input.hedges {
        let result = match *op {
            HedgeOp::Wait(ms) => {
                now += u64::from(ms);
                None
            }
            HedgeOp::Delay(ms) => {
                h.set_delay(u64::from(ms), Instant::from_millis(now));
                None
            }
            HedgeOp::Succeed(copy) => Some(h.on_success(u32::from(copy), budget.as_mut())),
            HedgeOp::Fail { copy, kind } => {
                let kind = [
                    FailureKind::Transient,
                    FailureKind::Timeout,
                    FailureKind::Permanent,
                ][usize::from(kind % 3)];
                Some(h.on_failure(
                    Instant::from_millis(now),
                    u32::from(copy),
                    kind,
                    budget.as_mut(),
                ))
            }
        };
        if let Some(HedgeOutcome::Succeeded { .. } | HedgeOutcome::Failed { .. }) = result {
            assert!(!ended, "a call ended twice");
            ended = true;
        }
        while let Some(due) = h.poll(Instant::from_millis(now), budget.as_mut()) {
            match due {
                Due::Send(copy) => {
                    assert_eq!(copy, sent, "copies go out in order");
                    assert!(!ended, "a copy after the end");
                    sent += 1;
                }
                Due::Failed => {
                    assert!(!ended, "a call ended twice");
                    ended = true;
                }
            }
        }
        assert!(sent <= policy.max_attempts.max(1));
        assert_eq!(h.sent(), sent);
        if ended {
            assert_eq!((h.next_deadline(), h.outstanding()), (None, 0));
        }
        if let Some(d) = h.next_deadline() {
            assert!(d.as_millis() <= now + policy.delay_ms.max(u64::from(u16::MAX)));
        }
        if let Some(b) = &budget {
            let (level, max) = b.level();
            assert!(level <= max);
        }
    }
}

fn routes(input: &OpsInput) {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for &(id, priority, weight, distance) in input.routes.iter().take(40) {
        if endpoints.iter().any(|e| e.id == u64::from(id)) {
            continue;
        }
        endpoints.push(Endpoint {
            id: u64::from(id),
            priority: u32::from(priority % 4),
            weight: u32::from(weight % 10) + 1,
            distance: u32::from(distance % 3),
        });
    }
    let config = RouteConfig {
        balance: [Balance::Weighted, Balance::Nearest, Balance::Latency]
            [usize::from(input.balance % 3)],
        health: Some(HealthConfig {
            interval_ms: 1_000,
            unhealthy_threshold: 2,
            healthy_threshold: 2,
        }),
        seed: input.seed,
        ..RouteConfig::default()
    };
    let Ok(mut router) = Router::new(config, &endpoints, Instant::ZERO) else {
        assert!(endpoints.is_empty());
        return;
    };
    let mut now = 0u64;
    for op in &input.route_ops {
        match *op {
            RouteOp::Wait(ms) => now += u64::from(ms),
            RouteOp::Pick => match router.pick(Instant::from_millis(now)) {
                Ok(id) => {
                    let e = endpoints
                        .iter()
                        .find(|e| e.id == id)
                        .expect("a known endpoint");
                    assert_eq!(
                        router.is_available(id, Instant::from_millis(now)),
                        Some(true)
                    );
                    assert_eq!(
                        router.active_tier(Instant::from_millis(now)),
                        Some(e.priority)
                    );
                }
                Err(_) => assert_eq!(router.active_tier(Instant::from_millis(now)), None),
            },
            RouteOp::Response { which, rtt, ok } => {
                let id = endpoints[usize::from(which) % endpoints.len()].id;
                router.on_response(Instant::from_millis(now), id, u64::from(rtt), ok);
            }
            RouteOp::Checks { up } => {
                while let Some(id) = router.poll_health_check(Instant::from_millis(now)) {
                    router.on_health_check(
                        Instant::from_millis(now),
                        id,
                        up & (1 << (id % 64)) != 0,
                    );
                }
            }
        }
        // Never more ejected than the cap allows (the first always is).
        let ejected = router
            .endpoints()
            .iter()
            .filter(|e| e.ejected_until.is_some_and(|u| u.as_millis() > now))
            .count();
        assert!(
            ejected <= 1 || ejected * 100 <= endpoints.len() * 10 + 100,
            "{ejected} of {} ejected",
            endpoints.len()
        );
    }
}
