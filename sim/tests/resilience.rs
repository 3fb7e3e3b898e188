//! Request-reply under many seeds and every fault, its scenario, and the
//! proof that its checker can fail: fabricated events that break each
//! promise are refused.

use consensio::resilience::rpc::{Command, Event, Outcome, RequestId, RpcNode};
use consensio::{Instant, NodeId, Rng};
use consensio_sim::protocols::resilience::RequestReply;
use consensio_sim::protocols::{self, run_named};
use consensio_sim::scenario::{FaultMix, Scenario};
use consensio_sim::trace::TraceKind;
use consensio_sim::{Checker, Protocol};

const DURATION_MS: u64 = 20_000;

fn replay(faults: &str, nodes: u64, seed: u64) -> String {
    format!(
        "replay: cargo run --release -p consensio-sim -- check request-reply --seeds 1 --start-seed {seed} --faults {faults} --nodes {nodes} --duration-ms {DURATION_MS}"
    )
}

fn measurement(outcome: &protocols::Outcome, name: &str) -> String {
    outcome
        .summary
        .measurements
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The number before `label` in a measurement ("122 replies, ...").
fn count(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {text}"));
    text[..at]
        .trim_end()
        .rsplit([' ', ','])
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("{text}"))
}

#[test]
fn every_request_executes_at_most_once_and_every_call_ends_by_its_deadline() {
    let (mut replies, mut deadlines, mut rejected, mut lost) = (0, 0, 0, 0);
    for (faults, nodes, seeds) in [
        ("none", 3, 0..50),
        ("all,swarm", 3, 0..650),
        ("all", 5, 0..300),
    ] {
        let mix: FaultMix = faults.parse().unwrap();
        for seed in seeds {
            let outcome = run_named("request-reply", mix.config(seed, nodes, DURATION_MS)).unwrap();
            if let Some(v) = outcome.violation {
                panic!("{v}\n{}", replay(faults, nodes, seed));
            }
            let outcomes = measurement(&outcome, "outcomes");
            replies += count(&outcomes, "replies");
            deadlines += count(&outcomes, "deadlines exceeded");
            rejected += count(&outcomes, "rejected");
            lost += measurement(&outcome, "executions lost to crashes")
                .parse::<u64>()
                .unwrap();
        }
    }
    // Every path the checker judges was taken, not only the easy one.
    assert!(replies > 10_000, "{replies} replies");
    assert!(deadlines > 1_000, "{deadlines} deadlines exceeded");
    assert!(rejected > 100, "{rejected} rejected by breakers");
    assert!(lost > 10, "{lost} executions lost to crashes");
}

/// `scenarios/request-reply-crash-partition.toml`: the crash loses an
/// execution under way, which is never executed again; the partition opens
/// the breakers, which reject calls at once, most of all during the cut.
#[test]
fn a_crash_and_a_partition_cost_deadlines_and_rejections_but_never_a_second_execution() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/request-reply-crash-partition.toml"
    );
    let mut scenario = Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario.sim.record_trace = true;
    let outcome = run_named(&scenario.protocol, scenario.sim).unwrap();
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    assert_eq!(measurement(&outcome, "executions lost to crashes"), "1");
    let outcomes = measurement(&outcome, "outcomes");
    assert!(count(&outcomes, "replies") > 50, "{outcomes}");
    let rejections: Vec<u64> = outcome
        .trace
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::Event { what, .. } if what.contains("rejected")))
        .map(|e| e.time_ms)
        .collect();
    assert_eq!(rejections.len() as u64, count(&outcomes, "rejected"));
    // Per second, the breakers reject at least twice as often while n3 is
    // cut off (5 to 9 s, the last second for their trials) as outside.
    let during = rejections
        .iter()
        .filter(|&&t| (5_000..9_000).contains(&t))
        .count();
    let outside = rejections.len() - during;
    assert!(during >= 5, "{rejections:?}");
    assert!(during * 12 >= 2 * outside * 4, "{rejections:?}");
}

/// A call the workload made: caller, tag, callee, timeout.
type Made = (NodeId, u64, NodeId, u64);

/// A checker fed by a workload that has made three calls or more.
fn checker_with_calls() -> (Box<dyn Checker<RpcNode>>, Vec<Made>) {
    let mut protocol = RequestReply::default();
    let checker = protocol.checker();
    let live = [NodeId(1), NodeId(2), NodeId(3)];
    let mut rng = Rng::seed_from_u64(1);
    let mut calls = Vec::new();
    while calls.len() < 3 {
        for (node, command) in protocol.workload(&mut rng, 0, &live) {
            if let Command::Call {
                call,
                to,
                timeout_ms,
                ..
            } = command
            {
                calls.push((node, call, to, timeout_ms));
            }
        }
    }
    (checker, calls)
}

fn execute(client: NodeId, call: u64) -> Event {
    Event::Execute {
        client,
        id: RequestId {
            incarnation: 1,
            seq: call,
        },
        deadline: Instant::from_millis(1_000),
        body: call.to_le_bytes().to_vec(),
    }
}

fn done(call: u64, outcome: Outcome) -> Event {
    Event::Done {
        call,
        outcome,
        attempts: 1,
    }
}

fn reply_to(call: u64) -> Outcome {
    Outcome::Reply([b"re:".as_slice(), &call.to_le_bytes()].concat())
}

#[test]
fn a_second_execution_fails_the_checker() {
    let (mut checker, calls) = checker_with_calls();
    let (client, call, server, _) = calls[0];
    assert_eq!(checker.on_event(5, server, &execute(client, call)), Ok(()));
    let twice = checker
        .on_event(9, server, &execute(client, call))
        .unwrap_err();
    assert!(twice.contains("executed twice"), "{twice}");
}

#[test]
fn an_execution_at_the_wrong_server_or_of_a_rejected_call_fails_the_checker() {
    let (mut checker, calls) = checker_with_calls();
    let (client, call, server, _) = calls[0];
    let wrong = if server == NodeId(3) {
        NodeId(2)
    } else {
        NodeId(3)
    };
    let wrong = if wrong == client { NodeId(1) } else { wrong };
    let err = checker
        .on_event(5, wrong, &execute(client, call))
        .unwrap_err();
    assert!(err.contains("not made to it"), "{err}");
    assert_eq!(
        checker.on_event(5, client, &done(call, Outcome::Rejected)),
        Ok(())
    );
    let err = checker
        .on_event(6, server, &execute(client, call))
        .unwrap_err();
    assert!(err.contains("rejected"), "{err}");
}

#[test]
fn a_reply_to_another_request_or_never_executed_fails_the_checker() {
    let (mut checker, calls) = checker_with_calls();
    let (client, call, server, _) = calls[0];
    let (_, other, _, _) = calls[1];
    assert_eq!(checker.on_event(5, server, &execute(client, call)), Ok(()));
    let err = checker
        .on_event(6, client, &done(call, reply_to(other)))
        .unwrap_err();
    assert!(err.contains(&format!("the reply to call {other}")), "{err}");

    let (mut checker, calls) = checker_with_calls();
    let (client, call, _, _) = calls[0];
    let err = checker
        .on_event(6, client, &done(call, reply_to(call)))
        .unwrap_err();
    assert!(err.contains("never executed it"), "{err}");
}

#[test]
fn a_call_that_ends_twice_late_or_never_fails_the_checker() {
    let (mut checker, calls) = checker_with_calls();
    let (client, call, _, timeout) = calls[0];
    let ok = done(call, Outcome::DeadlineExceeded);
    assert_eq!(checker.on_event(timeout, client, &ok), Ok(()));
    let err = checker.on_event(timeout, client, &ok).unwrap_err();
    assert!(err.contains("ended twice"), "{err}");

    let (mut checker, calls) = checker_with_calls();
    let (client, _, _, timeout) = calls[0];
    let err = checker
        .on_event(timeout + timeout / 100 + 10, client, &ok)
        .unwrap_err();
    assert!(err.contains("after its deadline"), "{err}");

    // Open at its node after the step that made it, and still open past
    // its deadline.
    let (mut checker, calls) = checker_with_calls();
    let (client, call, to, timeout) = calls[0];
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let mut node = RequestReply::default().create(client, &members, 1);
    consensio::Participant::handle_input(
        &mut node,
        Instant::ZERO,
        consensio::Input::Command(Command::Call {
            call,
            to,
            body: call.to_le_bytes().to_vec(),
            timeout_ms: timeout,
        }),
    )
    .unwrap();
    let nodes = |n| vec![(client, Some(n))];
    assert_eq!(checker.after_step(0, &nodes(&node)), Ok(()));
    assert_eq!(checker.after_step(timeout, &nodes(&node)), Ok(()));
    let err = checker
        .after_step(timeout + timeout / 100 + 10, &nodes(&node))
        .unwrap_err();
    assert!(err.contains("still open"), "{err}");
}
