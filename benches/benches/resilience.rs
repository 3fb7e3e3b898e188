//! The circuit breaker's per-call cost, asking for permission and recording
//! a successful result, beside the `failsafe` crate (1.x), whose default
//! breaker is its closest match: a success rate over a time window, or
//! consecutive failures. Both stay CLOSED throughout (every call succeeds),
//! which is the path every call of a healthy service takes.
//!
//! `failsafe` reads the clock itself and locks a mutex per call (its breaker
//! is shared by threads); consensio's takes the time as an argument and is
//! borrowed mutably, so its caller pays for a clock read and, if it shares
//! the breaker, for a lock. The `with_clock` rows include a monotonic clock
//! read per call, so that the comparison is of like work.

use std::hint::black_box;
use std::time::Instant as StdInstant;

use consensio::Instant;
use consensio::resilience::breaker::{CircuitBreaker, Config, Outcome, Window};
use criterion::{Criterion, criterion_group, criterion_main};

fn breaker(window: Window) -> CircuitBreaker {
    CircuitBreaker::new(Config {
        window,
        ..Config::default()
    })
    .expect("a valid configuration")
}

fn acquire_and_record(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker/acquire_and_record");
    for (name, window) in [
        ("count_100", Window::Count(100)),
        ("time_60s", Window::Time(60)),
    ] {
        let mut b = breaker(window);
        let mut now = 0u64;
        group.bench_function(format!("consensio_{name}"), |bench| {
            bench.iter(|| {
                now += 1;
                let permit = b.try_acquire(Instant::from_millis(now)).expect("closed");
                black_box(b.on_result(Instant::from_millis(now + 1), permit, Outcome::Success))
            });
        });
        let mut b = breaker(window);
        let start = StdInstant::now();
        group.bench_function(format!("consensio_{name}_with_clock"), |bench| {
            bench.iter(|| {
                let now = || Instant::from_millis(start.elapsed().as_millis() as u64);
                let permit = b.try_acquire(now()).expect("closed");
                black_box(b.on_result(now(), permit, Outcome::Success))
            });
        });
    }
    let failsafe = failsafe::Config::new().build();
    group.bench_function("failsafe_default", |bench| {
        bench.iter(|| {
            let permitted = failsafe.is_call_permitted();
            failsafe.on_success();
            black_box(permitted)
        });
    });
    group.finish();
}

criterion_group!(benches, acquire_and_record);
criterion_main!(benches);
