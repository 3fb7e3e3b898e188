//! The circuit breaker against resilience4j's documented state machine
//! ("CircuitBreaker" in the resilience4j reference), rule by rule, and its
//! windows against a naive recount.

use consensio::Instant;
use consensio::resilience::Error;
use consensio::resilience::breaker::{
    CallNotPermitted, CircuitBreaker, Config, Metrics, OpenWait, Outcome, Recorded, State,
    Transition, Window,
};
use proptest::prelude::*;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A breaker over the last ten calls, at least four counted, three
/// half-open trials, one second open, slow at 100 ms.
fn small() -> Config {
    Config {
        window: Window::Count(10),
        minimum_calls: 4,
        permitted_calls_in_half_open: 3,
        open_wait: OpenWait::Fixed(1_000),
        slow_call_duration_ms: 100,
        ..Config::default()
    }
}

/// One call at `at` that takes `took` ms and ends with `outcome`.
fn call(b: &mut CircuitBreaker, at: u64, took: u64, outcome: Outcome) -> Recorded {
    let p = b.try_acquire(t(at)).expect("permitted");
    b.on_result(t(at + took), p, outcome)
        .expect("a permit it issued")
}

fn transitions(b: &mut CircuitBreaker) -> Vec<(State, State)> {
    std::iter::from_fn(|| b.poll_transition())
        .map(|Transition { from, to, .. }| (from, to))
        .collect()
}

fn open(b: &mut CircuitBreaker, at: u64) {
    for i in 0..4 {
        call(b, at + i, 1, Outcome::Failure);
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn the_defaults_are_resilience4js() {
    let c = Config::default();
    assert_eq!(c.failure_rate_threshold, 50.0);
    assert_eq!(c.slow_call_rate_threshold, 100.0);
    assert_eq!(c.slow_call_duration_ms, 60_000);
    assert_eq!(c.permitted_calls_in_half_open, 10);
    assert_eq!(c.max_wait_in_half_open_ms, 0);
    assert_eq!(c.window, Window::Count(100));
    assert_eq!(c.minimum_calls, 100);
    assert_eq!(c.open_wait, OpenWait::Fixed(60_000));
}

#[test]
fn no_rate_counts_before_the_minimum_number_of_calls() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    for i in 0..3 {
        call(&mut b, i, 1, Outcome::Failure);
    }
    // Three failures of three calls: 100%, but three is below four.
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics(t(3));
    assert_eq!((m.calls, m.failed, m.failure_rate), (3, 3, None));
    call(&mut b, 3, 1, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
    assert_eq!(transitions(&mut b), [(State::Closed, State::Open)]);
}

#[test]
fn the_failure_rate_opens_at_the_threshold_not_only_above_it() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    for (i, o) in [Outcome::Failure, Outcome::Success, Outcome::Success]
        .into_iter()
        .enumerate()
    {
        call(&mut b, i as u64, 1, o);
    }
    call(&mut b, 3, 1, Outcome::Success);
    // 1 in 4: 25%, closed; another failure makes 2 in 5: 40%, closed.
    call(&mut b, 4, 1, Outcome::Failure);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics(t(5)).failure_rate, Some(40.0));
    // 3 in 6: 50%, the threshold: open.
    call(&mut b, 5, 1, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_count_window_forgets_calls_older_than_its_size() {
    let mut b = CircuitBreaker::new(Config {
        failure_rate_threshold: 60.0,
        ..small()
    })
    .unwrap();
    // Two failures, then ten successes push them out of the window.
    for i in 0..2 {
        call(&mut b, i, 1, Outcome::Failure);
    }
    for i in 2..12 {
        call(&mut b, i, 1, Outcome::Success);
    }
    let m = b.metrics(t(12));
    assert_eq!((m.calls, m.failed), (10, 0));
    // Six failures in the last ten: 60%.
    for i in 12..18 {
        call(&mut b, i, 1, Outcome::Failure);
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_count_windows_size_caps_the_minimum_number_of_calls() {
    let mut b = CircuitBreaker::new(Config {
        window: Window::Count(5),
        minimum_calls: 100,
        ..small()
    })
    .unwrap();
    for i in 0..5 {
        call(&mut b, i, 1, Outcome::Failure);
    }
    assert_eq!(b.state(), State::Open, "five calls fill a window of five");
}

#[test]
fn a_time_window_forgets_the_seconds_that_left_it() {
    let mut b = CircuitBreaker::new(Config {
        window: Window::Time(10),
        minimum_calls: 4,
        failure_rate_threshold: 60.0,
        ..small()
    })
    .unwrap();
    // Two failures in second 0, then successes in seconds 5 to 9.
    for i in 0..2 {
        call(&mut b, i, 1, Outcome::Failure);
    }
    for s in 5..10 {
        call(&mut b, s * 1_000, 1, Outcome::Success);
    }
    let m = b.metrics(t(9_500));
    assert_eq!((m.calls, m.failed), (7, 2));
    // At 10 s the first second has left: 0 of 5.
    let m = b.metrics(t(10_000));
    assert_eq!((m.calls, m.failed), (5, 0));
    // Failures now count against the five successes only: 8 of 13 is the
    // first rate at or above 60% (with second 0 still in, 6 would do).
    let mut failures = 0;
    while b.state() == State::Closed {
        call(&mut b, 10_000 + failures, 1, Outcome::Failure);
        failures += 1;
    }
    assert_eq!(failures, 8);
    // A time window does not cap the minimum: 4 calls are needed even in 1 s.
    let mut b = CircuitBreaker::new(Config {
        window: Window::Time(1),
        minimum_calls: 4,
        ..small()
    })
    .unwrap();
    for i in 0..3 {
        call(&mut b, i * 400, 1, Outcome::Failure);
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn slow_calls_open_the_breaker_at_their_own_threshold() {
    let mut b = CircuitBreaker::new(Config {
        slow_call_rate_threshold: 50.0,
        ..small()
    })
    .unwrap();
    call(&mut b, 0, 100, Outcome::Success); // at the threshold: not slow
    call(&mut b, 200, 101, Outcome::Success); // slow: above it
    call(&mut b, 400, 5, Outcome::Success);
    assert_eq!(b.state(), State::Closed);
    call(&mut b, 500, 250, Outcome::Success);
    // Two slow in four: 50%; no failures.
    let m = b.metrics(t(800));
    assert_eq!(
        (m.slow, m.failed),
        (0, 0),
        "the window began afresh on opening"
    );
    assert_eq!(b.state(), State::Open);
}

#[test]
fn open_refuses_calls_and_says_for_how_long() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    open(&mut b, 0);
    // Opened at 4 ms (the fourth result): trials from 1,004 ms.
    assert_eq!(
        b.try_acquire(t(500)),
        Err(CallNotPermitted {
            state: State::Open,
            retry_after_ms: Some(504)
        })
    );
    assert_eq!(b.next_deadline(), Some(t(1_004)));
    assert_eq!(b.metrics(t(500)).not_permitted, 1);
    assert!(b.try_acquire(t(1_003)).is_err());
    assert!(b.try_acquire(t(1_004)).is_ok());
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn half_open_admits_exactly_n_trials_and_an_ignored_one_frees_its_slot() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    open(&mut b, 0);
    b.tick(t(1_004));
    assert_eq!(b.state(), State::HalfOpen);
    let trials: Vec<_> = (0..3).map(|_| b.try_acquire(t(1_010)).unwrap()).collect();
    assert_eq!(
        b.try_acquire(t(1_010)),
        Err(CallNotPermitted {
            state: State::HalfOpen,
            retry_after_ms: None
        })
    );
    // A trial reported twice, or a made-up one, is refused: the breaker
    // never counts more than its trials.
    let (at, period, slot) = trials[0].to_raw();
    let mut trials = trials.into_iter();
    // A cancelled trial frees its slot for another caller.
    assert_eq!(
        b.on_result(t(1_020), trials.next().unwrap(), Outcome::Ignored),
        Ok(Recorded::Ignored)
    );
    let again = consensio::resilience::breaker::Permit::from_raw(at, period, slot);
    assert_eq!(
        b.on_result(t(1_020), again, Outcome::Ignored),
        Err(Error::UnknownPermit)
    );
    let made_up = consensio::resilience::breaker::Permit::from_raw(at, period, 40);
    assert_eq!(
        b.on_result(t(1_020), made_up, Outcome::Failure),
        Err(Error::UnknownPermit)
    );
    let another = b.try_acquire(t(1_021)).unwrap();
    assert!(b.try_acquire(t(1_021)).is_err());
    for p in trials.chain([another]) {
        b.on_result(t(1_030), p, Outcome::Success).unwrap();
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        transitions(&mut b),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
}

#[test]
fn half_open_decides_only_once_every_trial_has_reported() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    open(&mut b, 0);
    let p: Vec<_> = (0..3).map(|_| b.try_acquire(t(1_004)).unwrap()).collect();
    let mut p = p.into_iter();
    // Two failures of three trials: decided only at the third.
    b.on_result(t(1_010), p.next().unwrap(), Outcome::Failure)
        .unwrap();
    b.on_result(t(1_010), p.next().unwrap(), Outcome::Failure)
        .unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    let m = b.metrics(t(1_010));
    assert_eq!((m.calls, m.failed, m.failure_rate), (2, 2, None));
    b.on_result(t(1_010), p.next().unwrap(), Outcome::Success)
        .unwrap();
    assert_eq!(b.state(), State::Open, "2 of 3 failed: 67% >= 50%");
}

#[test]
fn consecutive_openings_wait_longer_until_the_breaker_closes() {
    let mut b = CircuitBreaker::new(Config {
        permitted_calls_in_half_open: 1,
        open_wait: OpenWait::Exponential {
            initial_ms: 1_000,
            multiplier: 2.0,
            max_ms: 5_000,
        },
        ..small()
    })
    .unwrap();
    open(&mut b, 0);
    let mut now = 4;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let until = b.next_deadline().unwrap().as_millis();
        waits.push(until - now);
        now = until;
        call(&mut b, now, 1, Outcome::Failure);
        now += 1;
        assert_eq!(b.state(), State::Open);
    }
    assert_eq!(waits, [1_000, 2_000, 4_000, 5_000, 5_000]);
    // A successful trial closes it; the next opening waits the first wait.
    now = b.next_deadline().unwrap().as_millis();
    call(&mut b, now, 1, Outcome::Success);
    assert_eq!(b.state(), State::Closed);
    open(&mut b, now + 10);
    assert_eq!(b.next_deadline().unwrap().as_millis() - (now + 14), 1_000);
}

#[test]
fn half_open_goes_back_to_open_when_its_trials_take_too_long() {
    let mut b = CircuitBreaker::new(Config {
        max_wait_in_half_open_ms: 500,
        ..small()
    })
    .unwrap();
    open(&mut b, 0);
    let trial = b.try_acquire(t(1_004)).unwrap();
    assert_eq!(b.next_deadline(), Some(t(1_504)));
    b.tick(t(1_503));
    assert_eq!(b.state(), State::HalfOpen);
    b.tick(t(1_504));
    assert_eq!(b.state(), State::Open);
    // The trial's late result is stale: it decides nothing.
    assert_eq!(
        b.on_result(t(1_600), trial, Outcome::Success),
        Ok(Recorded::Stale)
    );
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_result_from_an_earlier_state_period_changes_nothing() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    // A slow call admitted while closed...
    let early = b.try_acquire(t(0)).unwrap();
    open(&mut b, 1);
    let p: Vec<_> = (0..3).map(|_| b.try_acquire(t(1_005)).unwrap()).collect();
    // ...ends during the trials: it is not a trial, and does not count.
    assert_eq!(
        b.on_result(t(1_006), early, Outcome::Success),
        Ok(Recorded::Stale)
    );
    assert_eq!(b.metrics(t(1_006)).calls, 0);
    for p in p {
        b.on_result(t(1_010), p, Outcome::Success).unwrap();
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics(t(1_010)).stale, 1);
}

#[test]
fn disabled_admits_everything_and_records_nothing() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    b.transition_to(State::Disabled, t(0));
    for i in 0..20 {
        assert_eq!(call(&mut b, i, 1, Outcome::Failure), Recorded::Ignored);
    }
    assert_eq!(b.state(), State::Disabled);
    assert_eq!(b.metrics(t(20)).calls, 0);
}

#[test]
fn forced_open_refuses_everything_until_told_otherwise() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    b.transition_to(State::ForcedOpen, t(0));
    for i in 0..5 {
        assert_eq!(
            b.try_acquire(t(i * 100_000)),
            Err(CallNotPermitted {
                state: State::ForcedOpen,
                retry_after_ms: None
            })
        );
    }
    assert_eq!(b.next_deadline(), None);
    b.transition_to(State::Closed, t(500_000));
    call(&mut b, 500_001, 1, Outcome::Success);
}

#[test]
fn metrics_only_records_but_never_trips() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    b.transition_to(State::MetricsOnly, t(0));
    for i in 0..10 {
        call(&mut b, i, 1, Outcome::Failure);
    }
    assert_eq!(b.state(), State::MetricsOnly);
    let m = b.metrics(t(10));
    assert_eq!((m.calls, m.failure_rate), (10, Some(100.0)));
}

#[test]
fn reset_closes_with_an_empty_window_and_the_first_wait() {
    let mut b = CircuitBreaker::new(small()).unwrap();
    open(&mut b, 0);
    b.reset(t(10));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics(t(10)).calls, 0);
    call(&mut b, 11, 1, Outcome::Success);
}

#[test]
fn bad_configurations_and_forged_permits_are_refused() {
    for bad in [
        Config {
            failure_rate_threshold: 0.0,
            ..small()
        },
        Config {
            failure_rate_threshold: 100.5,
            ..small()
        },
        Config {
            slow_call_rate_threshold: f32::NAN,
            ..small()
        },
        Config {
            permitted_calls_in_half_open: 0,
            ..small()
        },
        Config {
            permitted_calls_in_half_open: 65,
            ..small()
        },
        Config {
            minimum_calls: 0,
            ..small()
        },
        Config {
            window: Window::Count(0),
            ..small()
        },
        Config {
            window: Window::Time(100_000),
            ..small()
        },
        Config {
            open_wait: OpenWait::Exponential {
                initial_ms: 10,
                multiplier: 0.5,
                max_ms: 100,
            },
            ..small()
        },
        Config {
            open_wait: OpenWait::Fixed(0),
            ..small()
        },
    ] {
        assert!(matches!(
            CircuitBreaker::new(bad),
            Err(Error::InvalidConfig(_))
        ));
    }
    let mut b = CircuitBreaker::new(small()).unwrap();
    open(&mut b, 0);
    let trial = b.try_acquire(t(1_004)).unwrap();
    let (at, period, slot) = trial.to_raw();
    b.on_result(t(1_005), trial, Outcome::Success).unwrap();
    // The same trial reported again: the breaker issued one, not two.
    let before: Metrics = b.metrics(t(1_005));
    assert_eq!(
        b.on_result(
            t(1_006),
            consensio::resilience::breaker::Permit::from_raw(at, period, slot),
            Outcome::Success
        ),
        Err(Error::UnknownPermit)
    );
    assert_eq!(b.metrics(t(1_006)), before);
}

/// What a window should hold, recounted from the calls it was given.
fn recount(calls: &[(u64, bool, bool)], window: Window, now: u64) -> (u64, u64, u64) {
    let kept: Vec<_> = match window {
        Window::Count(n) => calls.iter().rev().take(n as usize).collect(),
        Window::Time(s) => calls
            .iter()
            .filter(|(at, ..)| at / 1_000 + u64::from(s) > now / 1_000)
            .collect(),
    };
    kept.iter().fold((0, 0, 0), |(c, f, s), (_, failed, slow)| {
        (c + 1, f + u64::from(*failed), s + u64::from(*slow))
    })
}

proptest! {
    /// A METRICS_ONLY breaker's window holds what a recount of the last
    /// calls (or seconds) gives, whatever the sequence.
    #[test]
    fn the_window_matches_a_naive_recount(
        count in prop::bool::ANY,
        size in 1u32..70,
        steps in prop::collection::vec((0u64..1_500, prop::bool::ANY, 0u64..200), 1..300),
    ) {
        let window = if count { Window::Count(size) } else { Window::Time(size % 8 + 1) };
        let mut b = CircuitBreaker::new(Config { window, minimum_calls: 1, slow_call_duration_ms: 100, ..Config::default() }).unwrap();
        b.transition_to(State::MetricsOnly, t(0));
        let mut now = 0;
        let mut calls = Vec::new();
        for (gap, failed, took) in steps {
            now += gap;
            let p = b.try_acquire(t(now)).unwrap();
            let outcome = if failed { Outcome::Failure } else { Outcome::Success };
            b.on_result(t(now + took), p, outcome).unwrap();
            calls.push((now + took, failed, took > 100));
            now += took;
            let m = b.metrics(t(now));
            prop_assert_eq!((m.calls, m.failed, m.slow), recount(&calls, window, now));
        }
    }
}
