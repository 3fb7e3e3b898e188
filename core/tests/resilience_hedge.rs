//! Hedged requests (Dean & Barroso 2013; gRFC A6's hedging policy): copies
//! at the delay, the first answer wins, non-fatal failures hurry the next
//! copy, fatal ones end the call, and the budget pays for every extra copy.

use consensio::Instant;
use consensio::resilience::Budget;
use consensio::resilience::hedge::{Due, Hedge, HedgeOutcome, HedgePolicy, MAX_HEDGED_ATTEMPTS};
use consensio::resilience::retry::FailureKind;
use proptest::prelude::*;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn policy(max_attempts: u32, delay_ms: u64) -> HedgePolicy {
    HedgePolicy {
        max_attempts,
        delay_ms,
    }
}

#[test]
fn copies_go_out_one_delay_apart_up_to_the_maximum() {
    let mut h = Hedge::new(policy(3, 40), t(100)).unwrap();
    assert_eq!(h.poll(t(139), None), None, "not yet due");
    assert_eq!(h.poll(t(140), None), Some(Due::Send(1)));
    assert_eq!(h.next_deadline(), Some(t(180)));
    assert_eq!(h.poll(t(185), None), Some(Due::Send(2)));
    assert_eq!(h.next_deadline(), None, "three copies are the maximum");
    assert_eq!(h.poll(t(10_000), None), None);
    assert_eq!((h.sent(), h.outstanding()), (3, 0b111));
}

#[test]
fn the_first_success_wins_and_the_others_are_cancelled() {
    let mut h = Hedge::new(policy(3, 10), t(0)).unwrap();
    h.poll(t(10), None);
    h.poll(t(20), None);
    assert_eq!(
        h.on_success(2, None),
        HedgeOutcome::Succeeded {
            attempt: 2,
            cancel: 0b011
        }
    );
    // The losers' late answers change nothing.
    assert_eq!(h.on_success(0, None), HedgeOutcome::Ignored);
    assert_eq!(
        h.on_failure(t(30), 1, FailureKind::Transient, None),
        HedgeOutcome::Ignored
    );
    assert_eq!(h.poll(t(1_000), None), None);
}

#[test]
fn a_single_attempt_policy_never_hedges() {
    let mut h = Hedge::new(policy(1, 10), t(0)).unwrap();
    assert_eq!(h.next_deadline(), None);
    assert_eq!(
        h.on_failure(t(5), 0, FailureKind::Timeout, None),
        HedgeOutcome::Failed { cancel: 0 }
    );
}

#[test]
fn a_transient_failure_makes_the_next_copy_due_at_once() {
    let mut h = Hedge::new(policy(3, 1_000), t(0)).unwrap();
    assert_eq!(
        h.on_failure(t(5), 0, FailureKind::Transient, None),
        HedgeOutcome::Pending
    );
    assert_eq!(h.next_deadline(), Some(t(5)));
    assert_eq!(h.poll(t(5), None), Some(Due::Send(1)));
    assert_eq!(h.next_deadline(), Some(t(1_005)));
    // Every copy fails: the call fails once the last is answered.
    assert_eq!(
        h.on_failure(t(6), 1, FailureKind::Timeout, None),
        HedgeOutcome::Pending
    );
    assert_eq!(h.poll(t(6), None), Some(Due::Send(2)));
    assert_eq!(
        h.on_failure(t(7), 2, FailureKind::Transient, None),
        HedgeOutcome::Failed { cancel: 0 }
    );
}

#[test]
fn a_permanent_failure_ends_the_call_and_cancels_the_rest() {
    let mut h = Hedge::new(policy(4, 10), t(0)).unwrap();
    h.poll(t(10), None);
    h.poll(t(20), None);
    assert_eq!(
        h.on_failure(t(25), 0, FailureKind::Permanent, None),
        HedgeOutcome::Failed { cancel: 0b110 }
    );
    assert_eq!(h.next_deadline(), None);
}

#[test]
fn the_budget_pays_for_every_copy_after_the_first_and_its_refusal_stops_hedging() {
    // gRPC throttling with 4 tokens: copies are refused at 2 or fewer.
    let mut budget = Budget::grpc(4, 1.0).unwrap();
    let mut h = Hedge::new(policy(5, 10), t(0)).unwrap();
    assert_eq!(h.poll(t(10), Some(&mut budget)), Some(Due::Send(1)));
    // Copy 0 times out: a token goes; copy 2 is due at once and paid for.
    h.on_failure(t(12), 0, FailureKind::Timeout, Some(&mut budget));
    assert_eq!(budget.level().0, 3_000);
    assert_eq!(h.poll(t(12), Some(&mut budget)), Some(Due::Send(2)));
    h.on_failure(t(13), 1, FailureKind::Transient, Some(&mut budget));
    // Two tokens left: not more than half; no copy 3, the call waits on copy 2.
    assert_eq!(h.poll(t(13), Some(&mut budget)), None);
    assert_eq!(h.next_deadline(), None);
    assert_eq!(
        h.on_success(2, Some(&mut budget)),
        HedgeOutcome::Succeeded {
            attempt: 2,
            cancel: 0
        }
    );
    assert_eq!(budget.level().0, 3_000, "a success gives back the ratio");
    // With every copy failed and the budget refusing, the poll says so.
    let mut empty = Budget::grpc(2, 0.001).unwrap();
    let mut h = Hedge::new(policy(3, 10), t(0)).unwrap();
    h.on_failure(t(1), 0, FailureKind::Transient, Some(&mut empty));
    assert_eq!(h.poll(t(1), Some(&mut empty)), Some(Due::Failed));
    // The AWS quota charges each copy.
    let mut quota = Budget::aws_standard();
    let mut h = Hedge::new(policy(3, 10), t(0)).unwrap();
    h.poll(t(10), Some(&mut quota));
    h.poll(t(20), Some(&mut quota));
    assert_eq!(quota.level().0, 490);
    h.on_success(1, Some(&mut quota));
    assert_eq!(quota.level().0, 495, "the last copy's cost comes back");
}

#[test]
fn a_new_delay_applies_from_the_latest_copy() {
    let mut h = Hedge::new(policy(3, 500), t(0)).unwrap();
    h.set_delay(30, t(0));
    assert_eq!(h.next_deadline(), Some(t(30)));
    h.poll(t(30), None);
    assert_eq!(h.next_deadline(), Some(t(60)));
}

#[test]
fn a_new_delay_does_not_postpone_a_copy_a_failure_made_due() {
    let mut h = Hedge::new(policy(3, 1_000), t(0)).unwrap();
    h.on_failure(t(5), 0, FailureKind::Transient, None);
    h.set_delay(200, t(0));
    assert_eq!(h.next_deadline(), Some(t(5)));
    assert_eq!(h.poll(t(5), None), Some(Due::Send(1)));
    // Once sent, the new delay counts from it.
    h.set_delay(200, t(5));
    assert_eq!(h.next_deadline(), Some(t(205)));
}

#[test]
fn bad_policies_and_unknown_copies_are_refused() {
    assert!(Hedge::new(policy(0, 10), t(0)).is_err());
    assert!(Hedge::new(policy(MAX_HEDGED_ATTEMPTS + 1, 10), t(0)).is_err());
    let mut h = Hedge::new(policy(MAX_HEDGED_ATTEMPTS, 1), t(0)).unwrap();
    assert_eq!(h.on_success(7, None), HedgeOutcome::Ignored, "never sent");
    assert_eq!(h.on_success(u32::MAX, None), HedgeOutcome::Ignored);
    for i in 1..MAX_HEDGED_ATTEMPTS as u64 {
        assert_eq!(h.poll(t(i), None), Some(Due::Send(i as u32)));
    }
    assert_eq!(h.outstanding(), u64::MAX);
    assert_eq!(h.poll(t(1_000), None), None);
}

proptest! {
    /// Whatever the answers and their order, every copy is sent once, the
    /// call ends exactly once, and after it ends nothing is due.
    #[test]
    fn every_call_ends_exactly_once(
        max in 1u32..8,
        delay in 0u64..50,
        steps in prop::collection::vec((0u64..60, 0u32..8, 0u8..4), 0..60),
    ) {
        let mut h = Hedge::new(policy(max, delay), t(0)).unwrap();
        let mut now = 0;
        let mut sent = vec![0u32];
        let mut ends = 0;
        for (gap, which, what) in steps {
            now += gap;
            while let Some(due) = h.poll(t(now), None) {
                match due {
                    Due::Send(a) => {
                        prop_assert!(!sent.contains(&a));
                        sent.push(a);
                    }
                    Due::Failed => ends += 1,
                }
            }
            let out = match what {
                0 => h.on_success(which, None),
                1 => h.on_failure(t(now), which, FailureKind::Transient, None),
                2 => h.on_failure(t(now), which, FailureKind::Timeout, None),
                _ => h.on_failure(t(now), which, FailureKind::Permanent, None),
            };
            match out {
                HedgeOutcome::Succeeded { .. } | HedgeOutcome::Failed { .. } => ends += 1,
                HedgeOutcome::Pending | HedgeOutcome::Ignored => {}
            }
            prop_assert!(ends <= 1);
            prop_assert!(sent.len() as u32 <= max);
            if ends == 1 {
                prop_assert_eq!(h.next_deadline(), None);
                prop_assert_eq!(h.outstanding(), 0);
            }
        }
    }
}
