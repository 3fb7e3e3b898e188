//! The retry storm's figures, as `docs/resilience.md` quotes them: plain
//! retries multiply the load on an overloaded server and lose calls they
//! would have won; a retry budget keeps the load where no retries would;
//! a breaker sheds load and wins more calls. Over three seeds, so that no
//! one draw carries the claim.

use consensio_sim::storm::{Strategy, run};

#[test]
fn budgets_and_breakers_keep_an_outage_from_becoming_a_retry_storm() {
    for seed in 1..=3 {
        let [none, plain, budget, breaker] = Strategy::ALL.map(|s| run(s, seed));
        // Plain retries: the load nearly triples, and fewer calls succeed
        // than with no retries at all.
        assert!(
            plain.outage_amplification() > 2.5,
            "seed {seed}: {}",
            plain.outage_amplification()
        );
        assert!(
            plain.outage_success() < 0.5 * none.outage_success(),
            "seed {seed}"
        );
        // A budget: within 5% of no retries' load, and as many successes
        // (within a point).
        assert!(
            budget.outage_amplification() < 1.05,
            "seed {seed}: {}",
            budget.outage_amplification()
        );
        assert!(
            budget.outage_success() > none.outage_success() - 0.01,
            "seed {seed}"
        );
        // A breaker in front: less load than no retries, more successes.
        assert!(breaker.outage_amplification() < 1.0, "seed {seed}");
        assert!(
            breaker.outage_success() > none.outage_success(),
            "seed {seed}"
        );
        // Everyone is back within two seconds of the server.
        for r in [&none, &plain, &budget, &breaker] {
            assert!(
                r.recovery_s().is_some_and(|s| s <= 2),
                "seed {seed}: {:?} {:?}",
                r.strategy,
                r.recovery_s()
            );
        }
        // Before the outage, retries cost nothing: every policy sends what
        // its clients mean to (within the bursts' few failures).
        for r in [&plain, &budget, &breaker] {
            let (offered, original) = r.seconds[2..10]
                .iter()
                .fold((0, 0), |(a, b), s| (a + s.offered, b + s.original));
            assert!(
                offered as f64 <= 1.02 * original as f64,
                "seed {seed}: {:?}",
                r.strategy
            );
        }
    }
}

#[test]
fn the_table_and_the_plot_name_every_policy() {
    let reports: Vec<_> = Strategy::ALL.iter().map(|&s| run(s, 1)).collect();
    let table = consensio_sim::storm::table(&reports);
    let plot = consensio_sim::storm::plot(&reports);
    for s in Strategy::ALL {
        assert!(table.contains(&format!("| {} |", s.name())), "{table}");
        assert!(plot.contains(&format!(">{}</text>", s.name())));
    }
    assert_eq!(plot.matches("<polyline").count(), 4);
}
