//! Routing: failover across tiers with health-check hysteresis (the "region
//! fails and comes back" scenario), smooth weighted round robin, nearest,
//! two random choices by latency, and Envoy's outlier ejection rules.

use std::collections::BTreeMap;

use consensio::Instant;
use consensio::resilience::routing::{
    Balance, Config, Endpoint, HealthConfig, NoEndpoint, OutlierConfig, Router,
};
use proptest::prelude::*;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn ep(id: u64, priority: u32, weight: u32, distance: u32) -> Endpoint {
    Endpoint {
        id,
        priority,
        weight,
        distance,
    }
}

fn counts(router: &mut Router, now: u64, n: usize) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        *seen.entry(router.pick(t(now)).unwrap()).or_default() += 1;
    }
    seen
}

/// Five failed calls of endpoint 1 at `now`: Envoy's default for an ejection.
fn fail5(router: &mut Router, now: u64) {
    for _ in 0..5 {
        router.on_response(t(now), 1, 1, false);
    }
}

/// Runs the health checks due at `now`, answering with `up(id)`.
fn check(router: &mut Router, now: u64, up: impl Fn(u64) -> bool) {
    while let Some(id) = router.poll_health_check(t(now)) {
        router.on_health_check(t(now), id, up(id));
    }
}

#[test]
fn a_failed_region_loses_its_traffic_within_the_thresholds_and_wins_it_back_without_flapping() {
    // Region A (priority 0): 1, 2; region B (priority 1): 11, 12. Checks
    // every second; down after 3 failures, up after 2 successes.
    let health = HealthConfig {
        interval_ms: 1_000,
        unhealthy_threshold: 3,
        healthy_threshold: 2,
    };
    let config = Config {
        health: Some(health),
        ..Config::default()
    };
    let endpoints = [
        ep(1, 0, 1, 0),
        ep(2, 0, 1, 0),
        ep(11, 1, 1, 0),
        ep(12, 1, 1, 0),
    ];
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    // Region A is down from 10 s to 30 s; in 30-40 s it flaps once (one
    // bad check between good ones), then stays up.
    let region_a_up = |now: u64| !(10_000..30_000).contains(&now) && now != 33_000;
    let mut region_of_traffic = Vec::new();
    for now in (0..60_000).step_by(500) {
        if now % 1_000 == 0 {
            check(&mut router, now, |id| id > 10 || region_a_up(now));
        }
        let id = router.pick(t(now)).unwrap();
        let region = if id > 10 { 'B' } else { 'A' };
        if region_of_traffic.last().map(|(_, r)| *r) != Some(region) {
            region_of_traffic.push((now, region));
        }
    }
    // Down at 10 s: the third failed check (12 s) moves the traffic; up at
    // 30 s: the second good check (31 s) brings it back, and the single
    // bad check at 33 s moves nothing.
    assert_eq!(region_of_traffic, [(0, 'A'), (12_000, 'B'), (31_000, 'A')]);
}

#[test]
fn smooth_weighted_round_robin_interleaves_and_is_exact_over_a_cycle() {
    let endpoints = [ep(1, 0, 5, 0), ep(2, 0, 1, 0), ep(3, 0, 1, 0)];
    let mut router = Router::new(Config::default(), &endpoints, t(0)).unwrap();
    let picks: Vec<u64> = (0..7).map(|_| router.pick(t(0)).unwrap()).collect();
    // nginx's example: a a b a c a a (not a a a a a b c).
    assert_eq!(picks, [1, 1, 2, 1, 3, 1, 1]);
}

proptest! {
    #[test]
    fn over_any_cycle_of_total_weight_picks_each_endpoint_gets_its_weight(
        weights in prop::collection::vec(1u32..20, 1..8),
        warmup in 0usize..50,
    ) {
        let endpoints: Vec<Endpoint> =
            weights.iter().enumerate().map(|(i, &w)| ep(i as u64, 0, w, 0)).collect();
        let mut router = Router::new(Config::default(), &endpoints, t(0)).unwrap();
        for _ in 0..warmup {
            router.pick(t(0)).unwrap();
        }
        let total: u32 = weights.iter().sum();
        let seen = counts(&mut router, 0, total as usize);
        for (i, &w) in weights.iter().enumerate() {
            prop_assert_eq!(seen.get(&(i as u64)).copied().unwrap_or(0), w as usize);
        }
    }
}

#[test]
fn nearest_prefers_the_closest_and_falls_back_when_it_is_out() {
    let config = Config {
        balance: Balance::Nearest,
        outlier: OutlierConfig {
            consecutive_failures: 2,
            ..OutlierConfig::default()
        },
        ..Config::default()
    };
    let endpoints = [
        ep(1, 0, 1, 50),
        ep(2, 0, 1, 10),
        ep(3, 0, 1, 10),
        ep(4, 0, 1, 90),
    ];
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    assert_eq!(counts(&mut router, 0, 10), BTreeMap::from([(2, 5), (3, 5)]));
    for id in [2, 3] {
        router.on_response(t(1), id, 5, false);
        router.on_response(t(1), id, 5, false);
    }
    // 2 is ejected (the first ejection is always allowed); 3 is not (one
    // of four is already 25%, over the 10% maximum).
    assert_eq!(counts(&mut router, 1, 4), BTreeMap::from([(3, 4)]));
}

#[test]
fn two_random_choices_by_latency_never_pick_the_slowest() {
    let config = Config {
        balance: Balance::Latency,
        seed: 7,
        ..Config::default()
    };
    let endpoints = [ep(1, 0, 1, 0), ep(2, 0, 1, 0), ep(3, 0, 1, 0)];
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    // Unmeasured endpoints count as fastest: each is tried.
    let first = counts(&mut router, 0, 30);
    assert_eq!(first.len(), 3, "{first:?}");
    for (id, rtt) in [(1, 10), (2, 50), (3, 100)] {
        router.on_response(t(0), id, rtt, true);
    }
    let seen = counts(&mut router, 0, 3_000);
    assert_eq!(seen.get(&3), None, "the slowest of two draws never wins");
    // 1 wins every pair it is in: 2 pairs of 3.
    let fast = *seen.get(&1).unwrap();
    assert!((1_900..=2_100).contains(&fast), "{seen:?}");
    // The EWMA follows a slowdown: 1 becomes slow.
    for _ in 0..20 {
        router.on_response(t(0), 1, 500, true);
    }
    assert_eq!(counts(&mut router, 0, 500).get(&1), None);
}

#[test]
fn a_slow_endpoints_estimate_fades_so_it_is_probed_again_now_and_then() {
    let config = Config {
        balance: Balance::Latency,
        latency_decay_ms: 10_000,
        seed: 3,
        ..Config::default()
    };
    let endpoints = [ep(1, 0, 1, 0), ep(2, 0, 1, 0), ep(3, 0, 1, 0)];
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    let rtt = |id: u64| [10, 50, 100][id as usize - 1];
    let mut picks = BTreeMap::<u64, u64>::new();
    for now in (0..60_000).step_by(10) {
        let id = router.pick(t(now)).unwrap();
        *picks.entry(id).or_default() += 1;
        router.on_response(t(now), id, rtt(id), true);
    }
    // Without the fading, 3 would never be picked once measured; with it,
    // it is probed every several seconds, and the fast one takes most.
    let slow = picks.get(&3).copied().unwrap_or(0);
    assert!((3..=30).contains(&slow), "{picks:?}");
    assert!(picks[&1] > 3_000, "{picks:?}");
}

#[test]
fn consecutive_failures_eject_for_longer_each_time_and_the_count_decays() {
    let config = Config {
        health: None,
        outlier: OutlierConfig {
            max_ejection_percent: 100,
            ..OutlierConfig::default()
        },
        ..Config::default()
    };
    let endpoints = [ep(1, 0, 1, 0), ep(2, 0, 1, 0)];
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    fail5(&mut router, 1_000);
    assert_eq!(router.endpoints()[0].ejected_until, Some(t(31_000)));
    assert_eq!(counts(&mut router, 20_000, 4), BTreeMap::from([(2, 4)]));
    // Back at 31 s; ejected again at once: 60 s this time.
    assert_eq!(
        counts(&mut router, 31_000, 2),
        BTreeMap::from([(1, 1), (2, 1)])
    );
    fail5(&mut router, 31_000);
    assert_eq!(router.endpoints()[0].ejected_until, Some(t(91_000)));
    // Sweeps in service bring the count down: after two, the next
    // ejection is 30 s again.
    for now in (91_000..=111_000).step_by(10_000) {
        router.tick(t(now));
    }
    assert_eq!(router.endpoints()[0].ejections, 0);
    fail5(&mut router, 111_500);
    assert_eq!(router.endpoints()[0].ejected_until, Some(t(141_500)));
}

#[test]
fn the_sweep_that_returns_an_endpoint_keeps_its_count_and_the_count_stops_at_the_maximum() {
    let config = Config {
        health: None,
        outlier: OutlierConfig {
            max_ejection_percent: 100,
            ..OutlierConfig::default()
        },
        ..Config::default()
    };
    let mut router = Router::new(config, &[ep(1, 0, 1, 0), ep(2, 0, 1, 0)], t(0)).unwrap();
    // Ejected at 10 s until 40 s; the sweep at 40 s returns it and does
    // not count it down, so an ejection at once after is 60 s (Envoy's rule).
    fail5(&mut router, 10_000);
    router.tick(t(40_000));
    assert_eq!(router.endpoints()[0].ejections, 1);
    fail5(&mut router, 40_001);
    assert_eq!(router.endpoints()[0].ejected_until, Some(t(100_001)));
    // Ejected again and again: the length stops at 300 s and so does the
    // count (11 with the defaults), so a few clean sweeps bring it down.
    let mut now = 100_001;
    for _ in 0..50 {
        router.tick(t(now));
        now = router.endpoints()[0]
            .ejected_until
            .map_or(now, |u| u.as_millis());
        router.tick(t(now));
        fail5(&mut router, now);
    }
    assert_eq!(router.endpoints()[0].ejections, 11);
    assert_eq!(
        router.endpoints()[0].ejected_until.unwrap().as_millis() - now,
        300_000
    );
    // A silence of an hour: the catch-up counts the sweeps in service.
    router.tick(t(now + 3_600_000));
    assert_eq!(router.endpoints()[0].ejections, 0);
}

#[test]
fn the_ejected_share_is_capped_so_an_outage_cannot_eject_everything() {
    let config = Config {
        health: None,
        ..Config::default()
    };
    let endpoints: Vec<Endpoint> = (1..=10).map(|i| ep(i, 0, 1, 0)).collect();
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    for id in 1..=10 {
        for _ in 0..5 {
            router.on_response(t(1), id, 1, false);
        }
    }
    let ejected = router
        .endpoints()
        .iter()
        .filter(|e| e.ejected_until.is_some())
        .count();
    assert_eq!(ejected, 1, "10% of 10");
    assert!(router.pick(t(2)).is_ok());
}

#[test]
fn a_success_rate_outlier_is_ejected_at_the_sweep() {
    let config = Config {
        health: None,
        outlier: OutlierConfig {
            consecutive_failures: 0,
            max_ejection_percent: 50,
            ..OutlierConfig::default()
        },
        ..Config::default()
    };
    let endpoints: Vec<Endpoint> = (1..=6).map(|i| ep(i, 0, 1, 0)).collect();
    let mut router = Router::new(config, &endpoints, t(0)).unwrap();
    // Five endpoints at 99-100% success, one at 70%.
    for id in 1..=6u64 {
        for call in 0..100u64 {
            let ok = match id {
                6 => call % 10 >= 3,
                1 => call != 0,
                _ => true,
            };
            router.on_response(t(5_000), id, 1, ok);
        }
    }
    router.tick(t(9_999));
    assert!(router.endpoints().iter().all(|e| e.ejected_until.is_none()));
    router.tick(t(10_000));
    let ejected: Vec<u64> = router
        .endpoints()
        .iter()
        .filter(|e| e.ejected_until.is_some())
        .map(|e| e.endpoint.id)
        .collect();
    assert_eq!(ejected, [6]);
    // Too few calls in the next interval: no statistics, no ejection.
    for id in 1..=5u64 {
        for _ in 0..99 {
            router.on_response(t(15_000), id, 1, id != 1);
        }
    }
    router.tick(t(20_000));
    assert_eq!(
        router
            .endpoints()
            .iter()
            .filter(|e| e.ejected_until.is_some())
            .count(),
        1
    );
}

#[test]
fn with_everything_down_there_is_no_endpoint_and_bad_configurations_are_refused() {
    let mut router = Router::new(
        Config {
            health: Some(HealthConfig {
                interval_ms: 10,
                unhealthy_threshold: 1,
                healthy_threshold: 1,
            }),
            ..Config::default()
        },
        &[ep(1, 0, 1, 0), ep(2, 3, 1, 0)],
        t(0),
    )
    .unwrap();
    check(&mut router, 0, |_| false);
    assert_eq!(router.pick(t(0)), Err(NoEndpoint));
    assert_eq!(router.active_tier(t(0)), None);
    check(&mut router, 10, |id| id == 2);
    assert_eq!(router.pick(t(10)), Ok(2));
    assert_eq!(router.next_deadline(), t(20));

    let one = [ep(1, 0, 1, 0)];
    assert!(Router::new(Config::default(), &[], t(0)).is_err());
    assert!(Router::new(Config::default(), &[ep(1, 0, 0, 0)], t(0)).is_err());
    assert!(Router::new(Config::default(), &[ep(1, 0, 1, 0), ep(1, 1, 1, 0)], t(0)).is_err());
    for bad in [
        Config {
            ewma_alpha: 0.0,
            ..Config::default()
        },
        Config {
            ewma_alpha: f64::NAN,
            ..Config::default()
        },
        Config {
            latency_decay_ms: 0,
            ..Config::default()
        },
        Config {
            health: Some(HealthConfig {
                interval_ms: 0,
                ..HealthConfig::default()
            }),
            ..Config::default()
        },
        Config {
            outlier: OutlierConfig {
                max_ejection_percent: 101,
                ..OutlierConfig::default()
            },
            ..Config::default()
        },
        Config {
            outlier: OutlierConfig {
                base_ejection_ms: 0,
                ..OutlierConfig::default()
            },
            ..Config::default()
        },
    ] {
        assert!(Router::new(bad, &one, t(0)).is_err(), "{bad:?}");
    }
    // Reports about unknown endpoints change nothing.
    let mut router = Router::new(Config::default(), &one, t(0)).unwrap();
    router.on_response(t(1), 99, 5, false);
    router.on_health_check(t(1), 99, false);
    assert_eq!(router.pick(t(1)), Ok(1));
}
