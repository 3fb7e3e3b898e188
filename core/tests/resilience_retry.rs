//! Retries: the jitter distributions of Brooker (AWS Architecture Blog,
//! 2015) checked statistically, gRPC's retry throttling (gRFC A6) and the
//! AWS SDKs' standard-mode quota rule by rule, and server pushback.

use consensio::resilience::Budget;
use consensio::resilience::retry::{
    Backoff, Decision, FailureKind, GiveUp, Jitter, Policy, Pushback, Retry,
};

const DRAWS: u64 = 20_000;

fn policy(jitter: Jitter, attempts: u32) -> Policy {
    Policy {
        max_attempts: attempts,
        backoff: Backoff {
            initial_ms: 100,
            max_ms: 3_200,
            multiplier: 2.0,
            jitter,
        },
    }
}

/// The delays of `n` retries of one call.
fn delays(jitter: Jitter, seed: u64, n: u32) -> Vec<u64> {
    let mut r = Retry::new(policy(jitter, n + 1), seed).unwrap();
    (0..n)
        .map(
            |_| match r.on_failure(FailureKind::Transient, Pushback::None, None) {
                Decision::RetryAfter(ms) => ms,
                other => panic!("{other:?}"),
            },
        )
        .collect()
}

/// The k-th retry's delays over many calls: (min, max, mean).
fn stats(jitter: Jitter, k: usize) -> (u64, u64, f64) {
    let samples: Vec<u64> = (0..DRAWS)
        .map(|seed| delays(jitter, seed, k as u32 + 1)[k])
        .collect();
    let mean = samples.iter().sum::<u64>() as f64 / DRAWS as f64;
    (
        *samples.iter().min().unwrap(),
        *samples.iter().max().unwrap(),
        mean,
    )
}

/// Within 3% of `expected` (the standard error over 20,000 uniform draws
/// is under 0.5% of the mean).
fn near(mean: f64, expected: f64) -> bool {
    (mean - expected).abs() <= expected * 0.03
}

#[test]
fn full_jitter_is_uniform_between_zero_and_the_exponential_delay() {
    for (k, base) in [(0, 100.0), (2, 400.0), (6, 3_200.0)] {
        let (min, max, mean) = stats(Jitter::Full, k);
        assert!(min < (base * 0.01) as u64 + 1, "retry {k}: min {min}");
        assert!(
            max as f64 <= base && max as f64 >= base * 0.99,
            "retry {k}: max {max}"
        );
        assert!(
            near(mean, base / 2.0),
            "retry {k}: mean {mean}, expected {}",
            base / 2.0
        );
    }
}

#[test]
fn equal_jitter_keeps_half_the_delay_and_randomises_the_rest() {
    for (k, base) in [(0, 100.0), (3, 800.0), (6, 3_200.0)] {
        let (min, max, mean) = stats(Jitter::Equal, k);
        assert_eq!(min as f64, base / 2.0, "retry {k}");
        assert!(
            max as f64 <= base && max as f64 >= base * 0.99,
            "retry {k}: max {max}"
        );
        assert!(near(mean, base * 0.75), "retry {k}: mean {mean}");
    }
}

#[test]
fn decorrelated_jitter_stays_between_the_first_delay_and_three_times_the_last() {
    for seed in 0..2_000 {
        let d = delays(Jitter::Decorrelated, seed, 12);
        let mut previous = 100;
        for &ms in &d {
            assert!((100..=3_200).contains(&ms), "seed {seed}: {d:?}");
            assert!(ms <= (previous * 3).max(100), "seed {seed}: {d:?}");
            previous = ms;
        }
    }
    // The first delay is uniform in [100, 300]: mean 200.
    let (min, max, mean) = stats(Jitter::Decorrelated, 0);
    assert!((100..=102).contains(&min) && (298..=300).contains(&max));
    assert!(near(mean, 200.0), "mean {mean}");
}

#[test]
fn no_jitter_means_every_client_waits_the_same() {
    let first: Vec<_> = (0..50).map(|seed| delays(Jitter::None, seed, 5)).collect();
    assert!(first.iter().all(|d| d == &[100, 200, 400, 800, 1_600]));
    // With jitter, clients that failed together spread out.
    let spread: std::collections::BTreeSet<_> =
        (0..50).map(|seed| delays(Jitter::Full, seed, 5)).collect();
    assert!(spread.len() > 45);
}

#[test]
fn the_same_seed_replays_the_same_delays() {
    for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        assert_eq!(delays(jitter, 42, 8), delays(jitter, 42, 8));
        assert_ne!(delays(jitter, 42, 8), delays(jitter, 43, 8));
    }
}

#[test]
fn a_permanent_failure_is_not_retried_and_costs_no_budget() {
    let mut budget = Budget::grpc(10, 0.1).unwrap();
    let mut r = Retry::new(Policy::default(), 1).unwrap();
    assert_eq!(
        r.on_failure(FailureKind::Permanent, Pushback::None, Some(&mut budget)),
        Decision::GiveUp(GiveUp::NotRetryable)
    );
    assert_eq!(budget.level(), (10_000, 10_000));
}

#[test]
fn grpc_throttling_stops_retries_at_half_the_tokens_and_resumes_on_successes() {
    // gRFC A6: max_tokens 10, token_ratio 0.1. Retries are allowed while
    // more than 5 tokens remain.
    let mut budget = Budget::grpc(10, 0.1).unwrap();
    let mut retried = 0;
    let mut refused_at = None;
    for call in 0..10 {
        let mut r = Retry::new(policy(Jitter::Full, 2), call).unwrap();
        match r.on_failure(FailureKind::Transient, Pushback::None, Some(&mut budget)) {
            Decision::RetryAfter(_) => retried += 1,
            Decision::GiveUp(GiveUp::Budget) => {
                refused_at.get_or_insert(call);
            }
            other => panic!("{other:?}"),
        }
    }
    // Failures 1-4 leave 9, 8, 7, 6 tokens: retried. The fifth leaves 5,
    // which is not more than half: refused, and so on.
    assert_eq!((retried, refused_at), (4, Some(4)));
    assert_eq!(budget.level(), (0, 10_000));
    // Successes give back 0.1 each: 50 of them bring 5.0, still not more
    // than half.
    for i in 0..50 {
        Retry::new(Policy::default(), i)
            .unwrap()
            .on_success(Some(&mut budget));
    }
    assert_eq!(budget.level(), (5_000, 10_000));
    let mut r = Retry::new(Policy::default(), 0).unwrap();
    // The failure itself takes a token first: 4.0, refused.
    assert_eq!(
        r.on_failure(FailureKind::Transient, Pushback::None, Some(&mut budget)),
        Decision::GiveUp(GiveUp::Budget)
    );
    for i in 0..12 {
        Retry::new(Policy::default(), i)
            .unwrap()
            .on_success(Some(&mut budget));
    }
    assert_eq!(budget.level(), (5_200, 10_000));
    // Now 5.2 - 1 = 4.2... still refused; at 6.2 - 1 = 5.2 it resumes.
    for i in 0..10 {
        Retry::new(Policy::default(), i)
            .unwrap()
            .on_success(Some(&mut budget));
    }
    let mut r = Retry::new(Policy::default(), 0).unwrap();
    assert!(matches!(
        r.on_failure(FailureKind::Transient, Pushback::None, Some(&mut budget)),
        Decision::RetryAfter(_)
    ));
    // Tokens never exceed the maximum.
    for i in 0..1_000 {
        Retry::new(Policy::default(), i)
            .unwrap()
            .on_success(Some(&mut budget));
    }
    assert_eq!(budget.level(), (10_000, 10_000));
}

#[test]
fn the_aws_quota_charges_retries_refunds_them_on_success_and_refuses_when_empty() {
    let mut quota = Budget::aws_standard();
    assert_eq!(quota.level(), (500, 500));
    let mut r = Retry::new(Policy::aws_standard(), 1).unwrap();
    assert!(matches!(
        r.on_failure(FailureKind::Transient, Pushback::None, Some(&mut quota)),
        Decision::RetryAfter(ms) if ms <= 1_000
    ));
    assert_eq!(quota.level().0, 495);
    assert!(matches!(
        r.on_failure(FailureKind::Timeout, Pushback::None, Some(&mut quota)),
        Decision::RetryAfter(ms) if ms <= 2_000
    ));
    assert_eq!(quota.level().0, 485, "a timeout's retry costs 10");
    // The third attempt succeeds: its retry's 10 come back.
    r.on_success(Some(&mut quota));
    assert_eq!(quota.level().0, 495);
    // A call that succeeds at once adds 1, up to the capacity.
    for i in 0..10 {
        Retry::new(Policy::aws_standard(), i)
            .unwrap()
            .on_success(Some(&mut quota));
    }
    assert_eq!(quota.level().0, 500);
    // 100 retries empty it; the 101st is refused.
    let mut retried = 0;
    loop {
        let mut r = Retry::new(Policy::aws_standard(), retried).unwrap();
        match r.on_failure(FailureKind::Transient, Pushback::None, Some(&mut quota)) {
            Decision::RetryAfter(_) => retried += 1,
            Decision::GiveUp(GiveUp::Budget) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((retried, quota.level().0), (100, 0));
}

#[test]
fn pushback_is_waited_exactly_and_restarts_the_backoff_and_a_refusal_ends_the_call() {
    let mut r = Retry::new(policy(Jitter::None, 6), 1).unwrap();
    let mut next = || r.on_failure(FailureKind::Transient, Pushback::None, None);
    assert_eq!(next(), Decision::RetryAfter(100));
    assert_eq!(next(), Decision::RetryAfter(200));
    assert_eq!(
        r.on_failure(FailureKind::Transient, Pushback::After(5_000), None),
        Decision::RetryAfter(5_000)
    );
    assert_eq!(
        r.on_failure(FailureKind::Transient, Pushback::None, None),
        Decision::RetryAfter(100),
        "the backoff starts over after a pushback"
    );
    assert_eq!(
        r.on_failure(FailureKind::Transient, Pushback::Stop, None),
        Decision::GiveUp(GiveUp::Pushback)
    );
}

#[test]
fn max_attempts_counts_the_first_attempt() {
    let mut r = Retry::new(policy(Jitter::Full, 3), 1).unwrap();
    assert_eq!(r.attempts(), 1);
    for _ in 0..2 {
        assert!(matches!(
            r.on_failure(FailureKind::Transient, Pushback::None, None),
            Decision::RetryAfter(_)
        ));
    }
    assert_eq!(r.attempts(), 3);
    assert_eq!(
        r.on_failure(FailureKind::Transient, Pushback::None, None),
        Decision::GiveUp(GiveUp::Attempts)
    );
    let mut once = Retry::new(policy(Jitter::Full, 1), 1).unwrap();
    assert_eq!(
        once.on_failure(FailureKind::Timeout, Pushback::None, None),
        Decision::GiveUp(GiveUp::Attempts)
    );
}
