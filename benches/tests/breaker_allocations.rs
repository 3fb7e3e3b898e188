//! The circuit breaker and a retry allocate nothing per call (issue: calls
//! that fail well): a counting global allocator around thousands of calls,
//! through every state.

use consensio::Instant;
use consensio::resilience::Budget;
use consensio::resilience::breaker::{CircuitBreaker, Config, OpenWait, Outcome, Window};
use consensio::resilience::retry::{FailureKind, Policy, Pushback, Retry};
use consensio_benches::counting::{Counting, allocations};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn asking_recording_and_retrying_allocate_nothing() {
    for window in [Window::Count(100), Window::Time(60)] {
        let mut b = CircuitBreaker::new(Config {
            window,
            minimum_calls: 10,
            permitted_calls_in_half_open: 3,
            open_wait: OpenWait::Exponential {
                initial_ms: 50,
                multiplier: 2.0,
                max_ms: 1_000,
            },
            ..Config::default()
        })
        .unwrap();
        let mut budget = Budget::grpc(100, 0.5).unwrap();
        let before = allocations();
        let (mut opened, mut refused) = (0, 0);
        for i in 0..20_000u64 {
            let now = Instant::from_millis(i * 7);
            // Failures in bursts: the breaker opens, half-opens and closes.
            let outcome = if (i / 300) % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            match b.try_acquire(now) {
                Ok(p) => {
                    b.on_result(now, p, outcome).unwrap();
                }
                Err(_) => refused += 1,
            }
            while let Some(t) = b.poll_transition() {
                opened += u64::from(t.to == consensio::resilience::State::Open);
            }
            let _ = b.metrics(now);
            let mut r = Retry::new(Policy::default(), i).unwrap();
            if outcome == Outcome::Failure {
                let _ = r.on_failure(FailureKind::Transient, Pushback::None, Some(&mut budget));
            } else {
                r.on_success(Some(&mut budget));
            }
        }
        let allocations = allocations() - before;
        assert!(
            opened > 5 && refused > 100,
            "{window:?}: {opened} openings, {refused} refusals"
        );
        assert_eq!(allocations, 0, "{window:?}");
    }
}
