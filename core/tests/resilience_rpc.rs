//! Request-reply (RIFL, SOSP 2015, with gRPC's deadlines): retransmission
//! under the retry policy until the deadline, at-most-once execution
//! across retransmissions, duplicates and restarts, the watermark and
//! incarnations that bound the server's table, and exactly one outcome per
//! call by its deadline, under random faults.

use std::collections::BTreeMap;

use consensio::resilience::breaker::{self, OpenWait, Window};
use consensio::resilience::retry::{Backoff, Jitter, Policy};
use consensio::resilience::rpc::{
    self, Command, Event, Message, Outcome, Persist, RequestId, RpcNode,
};
use consensio::resilience::{Budget, Error};
use consensio::testing::{Cluster, Faults};
use consensio::{Input, Instant, NodeId, Output, Participant, Restore};
use proptest::prelude::*;

const CLIENT: NodeId = NodeId(1);
const SERVER: NodeId = NodeId(2);

fn members() -> [NodeId; 2] {
    [CLIENT, SERVER]
}

/// Fixed backoff (no jitter) so the tests can name every instant.
fn config(id: NodeId) -> rpc::Config {
    rpc::Config {
        retry: Policy {
            max_attempts: 4,
            backoff: Backoff {
                initial_ms: 100,
                max_ms: 100,
                multiplier: 1.0,
                jitter: Jitter::None,
            },
        },
        attempt_timeout_ms: 200,
        ..rpc::Config::new(id, &members())
    }
}

fn cluster(faults: Faults, configure: impl Fn(&mut rpc::Config)) -> Cluster<RpcNode> {
    let mut cluster = Cluster::<RpcNode>::new(1, faults);
    for id in members() {
        let mut c = config(id);
        configure(&mut c);
        cluster.add(c);
    }
    cluster
}

fn call(cluster: &mut Cluster<RpcNode>, tag: u64, body: &[u8], timeout_ms: u64) {
    cluster
        .command(
            CLIENT,
            Command::Call {
                call: tag,
                to: SERVER,
                body: body.to_vec(),
                timeout_ms,
            },
        )
        .unwrap();
}

/// The server's executions so far: (client, id, body).
fn executions(cluster: &Cluster<RpcNode>) -> Vec<(NodeId, RequestId, Vec<u8>)> {
    cluster
        .events_of(SERVER)
        .filter_map(|e| match e {
            Event::Execute {
                client, id, body, ..
            } => Some((*client, *id, body.clone())),
            Event::Done { .. } => None,
        })
        .collect()
}

/// The outcomes of the client's calls so far, by tag.
fn outcomes(cluster: &Cluster<RpcNode>) -> Vec<(u64, Outcome, u32)> {
    cluster
        .events_of(CLIENT)
        .filter_map(|e| match e {
            Event::Done {
                call,
                outcome,
                attempts,
            } => Some((*call, outcome.clone(), *attempts)),
            Event::Execute { .. } => None,
        })
        .collect()
}

fn reply(cluster: &mut Cluster<RpcNode>, id: RequestId, body: &[u8]) -> Result<(), Error> {
    cluster.command(
        SERVER,
        Command::Reply {
            client: CLIENT,
            id,
            body: body.to_vec(),
        },
    )
}

fn requests_in_flight(cluster: &Cluster<RpcNode>) -> Vec<(u32, u64)> {
    cluster
        .in_flight()
        .filter_map(|e| match &e.message {
            Message::Request {
                attempt, budget_ms, ..
            } => Some((*attempt, *budget_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_incarnation_is_durable_before_the_first_request_leaves() {
    let mut c = cluster(Faults::NONE, |_| {});
    call(&mut c, 1, b"a", 1_000);
    assert_eq!(c.disk(CLIENT), [Persist::Incarnation(1)]);
    assert_eq!(c.node(CLIENT).incarnation(), 1);
    c.crash(CLIENT);
    c.restart_from_disk(CLIENT);
    call(&mut c, 2, b"b", 1_000);
    assert_eq!(
        c.disk(CLIENT),
        [Persist::Incarnation(1), Persist::Incarnation(2)]
    );
    let ids: Vec<RequestId> = c
        .in_flight()
        .filter_map(|e| match &e.message {
            Message::Request { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [
            RequestId {
                incarnation: 1,
                seq: 0
            },
            RequestId {
                incarnation: 2,
                seq: 0
            }
        ],
        "the second life numbers its requests afresh, in a new incarnation"
    );
}

#[test]
fn a_silent_server_gets_each_attempt_then_the_call_ends_at_its_deadline() {
    let mut c = cluster(Faults::synchronous(0), |_| {});
    c.isolate(SERVER);
    call(&mut c, 9, b"x", 1_000);
    // Attempts at 0, 300, 600 and 900 (200 ms wait, 100 ms backoff), each
    // carrying what is left of the deadline.
    let mut seen = requests_in_flight(&c);
    for _ in 0..10 {
        c.advance(100);
        seen.extend(requests_in_flight(&c));
    }
    seen.dedup();
    assert_eq!(seen, [(1, 1_000), (2, 700), (3, 400), (4, 100)]);
    assert_eq!(outcomes(&c), [(9, Outcome::DeadlineExceeded, 4)]);
    let (at, _, _) = c.events().last().unwrap();
    assert_eq!(*at, Instant::from_millis(1_000), "exactly at the deadline");
    assert_eq!(c.node(CLIENT).open_calls(), 0);
    assert!(executions(&c).is_empty());
}

#[test]
fn retransmissions_and_duplicates_execute_once_and_get_the_recorded_reply() {
    let mut c = cluster(Faults::NONE, |_| {});
    call(&mut c, 1, b"pay 10", 5_000);
    c.deliver_all();
    let [(_, id, body)] = executions(&c).try_into().unwrap();
    assert_eq!(body, b"pay 10");
    // The reply is lost; the client retransmits; the server does not
    // execute again while executing, and answers from its record after.
    reply(&mut c, id, b"paid").unwrap();
    assert_eq!(
        c.drop_where(|e| matches!(e.message, Message::Reply { .. })),
        1
    );
    c.advance(300); // the second attempt, answered from the record
    assert_eq!(executions(&c).len(), 1, "executed once");
    assert_eq!(outcomes(&c), [(1, Outcome::Reply(b"paid".to_vec()), 2)]);
    assert_eq!(
        reply(&mut c, id, b"paid again"),
        Err(Error::NotExecuting),
        "answered already"
    );
}

#[test]
fn a_copy_of_a_request_still_executing_is_not_answered_nor_executed() {
    let mut c = cluster(Faults::NONE, |_| {});
    call(&mut c, 1, b"slow", 5_000);
    c.deliver_all();
    c.advance(300);
    c.deliver_all(); // attempt 2 reaches the server
    assert_eq!(executions(&c).len(), 1);
    assert_eq!(c.in_flight().count(), 0, "no reply yet");
    let id = executions(&c)[0].1;
    reply(&mut c, id, b"done").unwrap();
    c.deliver_all();
    assert_eq!(outcomes(&c), [(1, Outcome::Reply(b"done".to_vec()), 2)]);
}

#[test]
fn after_a_crash_a_started_request_is_never_executed_again_nor_answered() {
    let mut c = cluster(Faults::NONE, |_| {});
    call(&mut c, 1, b"transfer", 2_000);
    c.deliver_all();
    let id = executions(&c)[0].1;
    // The server crashes while executing; the record survived.
    c.crash(SERVER);
    c.restart_from_disk(SERVER);
    for _ in 0..10 {
        c.advance(300);
        c.deliver_all();
    }
    assert_eq!(executions(&c).len(), 1, "never executed again");
    assert_eq!(outcomes(&c), [(1, Outcome::DeadlineExceeded, 4)]);
    assert_eq!(
        reply(&mut c, id, b"late"),
        Err(Error::NotExecuting),
        "abandoned by the restart"
    );
}

#[test]
fn a_finished_request_is_answered_from_its_record_after_a_restart() {
    let mut c = cluster(Faults::NONE, |_| {});
    call(&mut c, 1, b"put", 2_000);
    c.deliver_all();
    let id = executions(&c)[0].1;
    reply(&mut c, id, b"ok").unwrap();
    c.drop_where(|_| true);
    c.crash(SERVER);
    c.restart_from_disk(SERVER);
    c.advance(300);
    c.deliver_all();
    assert_eq!(executions(&c).len(), 1);
    assert_eq!(outcomes(&c), [(1, Outcome::Reply(b"ok".to_vec()), 2)]);
}

#[test]
fn the_watermark_drops_records_and_every_later_copy_of_them() {
    let mut c = cluster(Faults::NONE, |_| {});
    for tag in 0..3 {
        call(&mut c, tag, &[tag as u8], 5_000);
    }
    c.deliver_all();
    let ids: Vec<RequestId> = executions(&c).iter().map(|e| e.1).collect();
    for id in &ids {
        reply(&mut c, *id, b"r").unwrap();
    }
    c.deliver_all();
    assert_eq!(c.node(SERVER).records(), 3);
    // The next request says the client has the outcome of all three.
    call(&mut c, 3, b"next", 5_000);
    let late_copy = Message::Request {
        id: ids[0],
        attempt: 2,
        budget_ms: 4_000,
        done_below: 0,
        body: vec![0],
    };
    c.deliver_all();
    assert_eq!(c.node(SERVER).records(), 1);
    c.input(
        SERVER,
        Input::Message {
            from: CLIENT,
            message: late_copy,
        },
    )
    .unwrap();
    c.deliver_all();
    assert_eq!(
        executions(&c).len(),
        4,
        "the late copy is not executed again"
    );
    assert_eq!(c.in_flight().count(), 0, "nor answered");
}

#[test]
fn a_new_incarnation_drops_the_old_ones_records_and_copies() {
    let mut c = cluster(Faults::NONE, |_| {});
    call(&mut c, 1, b"old", 5_000);
    c.deliver_all();
    let old = executions(&c)[0].1;
    c.crash(CLIENT);
    c.restart_from_disk(CLIENT);
    call(&mut c, 2, b"new", 5_000);
    c.deliver_all();
    assert_eq!(c.node(SERVER).records(), 1);
    let stale = Message::Request {
        id: old,
        attempt: 2,
        budget_ms: 4_000,
        done_below: 0,
        body: b"old".to_vec(),
    };
    c.input(
        SERVER,
        Input::Message {
            from: CLIENT,
            message: stale,
        },
    )
    .unwrap();
    assert_eq!(executions(&c).len(), 2, "old + new, the stale copy ignored");
    assert_eq!(reply(&mut c, old, b"late"), Ok(()), "dropped: nobody waits");
    assert_eq!(c.in_flight().count(), 0);
}

#[test]
fn a_full_table_answers_busy_without_executing_and_the_client_retries() {
    let mut c = cluster(Faults::NONE, |c| c.max_records = 1);
    call(&mut c, 1, b"a", 5_000);
    c.deliver_all();
    call(&mut c, 2, b"b", 5_000);
    c.deliver_all();
    assert_eq!(executions(&c).len(), 1, "b was refused");
    // The Busy made the client back off 100 ms, not wait 200.
    assert_eq!(c.sent()["Busy"], 1);
    c.advance(100);
    assert_eq!(c.sent()["Busy"], 2);
    let first = executions(&c)[0].1;
    reply(&mut c, first, b"A").unwrap();
    c.deliver_all(); // the reply frees nothing yet: call 2 still open
    c.advance(300);
    c.deliver_all();
    // Call 2's next attempt carries the watermark past call 1.
    assert_eq!(executions(&c).len(), 2);
}

#[test]
fn records_expire_after_the_deadline_plus_grace() {
    let mut c = cluster(Faults::NONE, |c| c.grace_ms = 1_000);
    call(&mut c, 1, b"a", 500);
    c.deliver_all();
    assert_eq!(c.node(SERVER).records(), 1);
    c.advance(1_499);
    assert_eq!(c.node(SERVER).records(), 1);
    c.advance(1);
    assert_eq!(c.node(SERVER).records(), 0);
}

#[test]
fn a_checkpoint_replaces_the_records_before_it_and_restores_the_same_table() {
    let mut c = cluster(Faults::NONE, |c| c.checkpoint_every = 3);
    for tag in 0..2 {
        call(&mut c, tag, b"x", 5_000);
    }
    c.deliver_all();
    let first = executions(&c)[0].1;
    reply(&mut c, first, b"one").unwrap();
    c.deliver_all();
    let disk = c.disk(SERVER).to_vec();
    let Some(Persist::Checkpoint(cp)) = disk.last() else {
        panic!("the third write is followed by a checkpoint: {disk:?}");
    };
    assert_eq!(cp.records.len(), 2);
    assert_eq!(cp.records[0].reply.as_deref(), Some(b"one".as_slice()));
    let from_checkpoint = RpcNode::restore(config(SERVER), &disk[disk.len() - 1..]).unwrap();
    assert_eq!(from_checkpoint.checkpoint().records, cp.records);
    assert_eq!(
        RpcNode::restore(config(SERVER), &disk)
            .unwrap()
            .checkpoint(),
        from_checkpoint.checkpoint()
    );
}

#[test]
fn an_open_breaker_rejects_without_sending() {
    let mut c = cluster(Faults::synchronous(0), |c| {
        c.breaker = Some(breaker::Config {
            window: Window::Count(2),
            minimum_calls: 2,
            open_wait: OpenWait::Fixed(10_000),
            ..breaker::Config::default()
        });
    });
    c.isolate(SERVER);
    for tag in 0..2 {
        call(&mut c, tag, b"x", 100);
    }
    c.advance(200);
    assert_eq!(
        c.node(CLIENT).breaker_state(SERVER),
        Some(breaker::State::Open)
    );
    c.heal();
    c.take_sent();
    call(&mut c, 2, b"x", 100);
    assert_eq!(outcomes(&c).last(), Some(&(2, Outcome::Rejected, 0)));
    assert!(c.sent().is_empty(), "nothing sent");
}

#[test]
fn an_empty_budget_stops_retransmitting_but_a_late_reply_still_counts() {
    let mut c = cluster(Faults::NONE, |c| {
        c.budget = Some(Budget::grpc(2, 0.1).unwrap())
    });
    call(&mut c, 1, b"x", 2_000);
    c.deliver_all();
    // The first timeout costs a token (2 -> 1: half), so no retry.
    c.advance(300);
    assert!(requests_in_flight(&c).is_empty());
    assert_eq!(c.node(CLIENT).budget_level(), Some((1_000, 2_000)));
    let id = executions(&c)[0].1;
    reply(&mut c, id, b"late").unwrap();
    c.deliver_all();
    assert_eq!(outcomes(&c), [(1, Outcome::Reply(b"late".to_vec()), 1)]);
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let mut c = cluster(Faults::NONE, |c| c.max_calls = 1);
    let stranger = Command::Call {
        call: 1,
        to: NodeId(9),
        body: vec![],
        timeout_ms: 10,
    };
    assert_eq!(
        c.command(CLIENT, stranger),
        Err(Error::NotAPeer { peer: NodeId(9) })
    );
    let big = Command::Call {
        call: 1,
        to: SERVER,
        body: vec![0; 4_097],
        timeout_ms: 10,
    };
    assert_eq!(
        c.command(CLIENT, big),
        Err(Error::BodyTooLarge {
            len: 4_097,
            max: 4_096
        })
    );
    assert!(c.disk(CLIENT).is_empty(), "not started by a refused input");
    call(&mut c, 1, b"x", 1_000);
    let again = Command::Call {
        call: 1,
        to: SERVER,
        body: vec![],
        timeout_ms: 10,
    };
    assert_eq!(c.command(CLIENT, again), Err(Error::CallInUse { call: 1 }));
    let more = Command::Call {
        call: 2,
        to: SERVER,
        body: vec![],
        timeout_ms: 10,
    };
    assert_eq!(c.command(CLIENT, more), Err(Error::TooManyCalls { max: 1 }));
    let from_stranger = Input::Message {
        from: NodeId(9),
        message: Message::Busy {
            id: RequestId {
                incarnation: 1,
                seq: 0,
            },
            attempt: 1,
        },
    };
    assert_eq!(
        c.input(SERVER, from_stranger),
        Err(Error::NotAPeer { peer: NodeId(9) })
    );
    let garbage = c
        .node_mut(SERVER)
        .handle_message(Instant::ZERO, CLIENT, &[1, 29, 9]);
    assert!(matches!(garbage, Err(Error::Wire(_))));

    let bad_configs = [
        rpc::Config {
            attempt_timeout_ms: 0,
            ..config(SERVER)
        },
        rpc::Config {
            max_records: 0,
            ..config(SERVER)
        },
        rpc::Config {
            max_body_len: rpc::MAX_BODY_LEN + 1,
            ..config(SERVER)
        },
        rpc::Config {
            peers: vec![SERVER],
            ..config(SERVER)
        },
    ];
    for bad in bad_configs {
        assert!(matches!(RpcNode::new(bad), Err(Error::InvalidConfig(_))));
    }
}

#[test]
fn records_no_endpoint_could_have_written_are_refused() {
    let id = RequestId {
        incarnation: 1,
        seq: 0,
    };
    let started = Persist::Started {
        client: CLIENT,
        id,
        budget_ms: 10,
    };
    let finished = Persist::Finished {
        client: CLIENT,
        id,
        reply: vec![],
    };
    let bad: [&[Persist]; 4] = [
        &[Persist::Incarnation(3), Persist::Incarnation(2)],
        std::slice::from_ref(&finished),
        &[started.clone(), finished.clone(), finished.clone()],
        &[Persist::Started {
            client: NodeId(9),
            id,
            budget_ms: 10,
        }],
    ];
    for records in bad {
        assert!(
            matches!(
                RpcNode::restore(config(SERVER), records),
                Err(Error::BadRecords(_))
            ),
            "{records:?}"
        );
    }
    // Started again after its record expired: a run can write that.
    assert!(RpcNode::restore(config(SERVER), &[started.clone(), started]).is_ok());
}

/// Under loss, duplication, reordering and crash-restarts of the server,
/// an application that answers most executions (some late, some never,
/// and a crash loses those under way) sees each request executed at most
/// once, and each call ends exactly once, by its deadline, with the reply
/// to its own request.
fn faulty_run(seed: u64) -> Result<(), TestCaseError> {
    let faults = Faults {
        loss: 0.2,
        duplicate: 0.2,
        min_delay_ms: 1,
        max_delay_ms: 150,
    };
    let mut c = Cluster::<RpcNode>::new(seed, faults);
    for id in members() {
        c.add(rpc::Config {
            attempt_timeout_ms: 120,
            max_records: 16,
            checkpoint_every: 7,
            ..rpc::Config::new(id, &members())
        });
    }
    let mut rng = consensio::Rng::seed_from_u64(seed);
    let mut issued: BTreeMap<u64, (Instant, u64)> = BTreeMap::new();
    let mut executed: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    let mut ended: BTreeMap<u64, Outcome> = BTreeMap::new();
    let mut answering: Vec<(Instant, RequestId, Vec<u8>)> = Vec::new();
    while c.now() < Instant::from_millis(20_000) {
        let tag = issued.len() as u64;
        if tag < 100 && rng.chance(0.3) {
            let timeout = rng.between(50, 2_000);
            issued.insert(tag, (c.now(), timeout));
            call(&mut c, tag, &tag.to_le_bytes(), timeout);
        }
        c.advance(10);
        for (at, node, event) in c.take_events() {
            match event {
                Event::Execute {
                    client, id, body, ..
                } => {
                    prop_assert_eq!((node, client), (SERVER, CLIENT));
                    let n = executed.entry(body.clone()).or_default();
                    *n += 1;
                    prop_assert_eq!(*n, 1, "executed twice: {:?}", body);
                    if rng.chance(0.9) {
                        let due = at.saturating_add_millis(rng.between(0, 400));
                        answering.push((due, id, body));
                    }
                }
                Event::Done { call, outcome, .. } => {
                    prop_assert_eq!(node, CLIENT);
                    let (start, timeout) = issued[&call];
                    prop_assert!(
                        at <= start.saturating_add_millis(timeout),
                        "call {} ended at {:?}, after its deadline",
                        call,
                        at
                    );
                    if let Outcome::Reply(body) = &outcome {
                        let request = call.to_le_bytes().to_vec();
                        prop_assert_eq!(body, &[b"re:".as_slice(), &request].concat());
                        prop_assert!(executed.contains_key(&request));
                    }
                    prop_assert!(ended.insert(call, outcome).is_none(), "ended twice");
                }
            }
        }
        if rng.chance(0.004) && c.get(SERVER).is_some() {
            c.crash(SERVER);
            answering.clear();
            c.restart_at(SERVER, c.now().saturating_add_millis(rng.between(1, 500)));
        }
        let now = c.now();
        let (due, later): (Vec<_>, Vec<_>) = answering.into_iter().partition(|(at, ..)| *at <= now);
        answering = later;
        if c.get(SERVER).is_some() {
            for (_, id, body) in due {
                reply(&mut c, id, &[b"re:".as_slice(), &body].concat())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
        }
    }
    c.advance(3_000);
    for (at, _, event) in c.take_events() {
        if let Event::Done { call, outcome, .. } = event {
            let (start, timeout) = issued[&call];
            prop_assert!(at <= start.saturating_add_millis(timeout));
            prop_assert!(ended.insert(call, outcome).is_none());
        }
    }
    prop_assert_eq!(ended.len(), issued.len(), "every call ended");
    let replies = ended
        .values()
        .filter(|o| matches!(o, Outcome::Reply(_)))
        .count();
    prop_assert!(replies > 0, "some calls were answered");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn at_most_once_and_one_outcome_by_the_deadline_under_faults(seed in any::<u64>()) {
        faulty_run(seed)?;
    }
}

#[test]
fn the_drive_loop_of_the_docs_runs() {
    // The endpoint as a host drives it: every output acted on in order.
    let mut client = RpcNode::new(config(CLIENT)).unwrap();
    client
        .handle_input(
            Instant::ZERO,
            Input::Command(Command::Call {
                call: 1,
                to: SERVER,
                body: b"x".to_vec(),
                timeout_ms: 50,
            }),
        )
        .unwrap();
    let outputs: Vec<_> = core::iter::from_fn(|| client.poll_output()).collect();
    assert!(matches!(
        outputs[0],
        Output::Persist(Persist::Incarnation(1))
    ));
    assert!(matches!(outputs[1], Output::Send { to: SERVER, .. }));
    assert_eq!(client.next_deadline(), Some(Instant::from_millis(50)));
    client
        .handle_input(Instant::from_millis(50), Input::Tick)
        .unwrap();
    assert!(matches!(
        client.poll_output(),
        Some(Output::Event(Event::Done {
            call: 1,
            outcome: Outcome::DeadlineExceeded,
            attempts: 1
        }))
    ));
}

#[test]
fn records_abandoned_by_a_restart_leave_with_the_watermark() {
    let mut c = cluster(Faults::NONE, |c| {
        c.max_records = 2;
        c.checkpoint_every = 1;
    });
    call(&mut c, 1, b"a", 300);
    call(&mut c, 2, b"b", 300);
    c.deliver_all();
    assert_eq!(executions(&c).len(), 2);
    c.crash(SERVER);
    c.restart_from_disk(SERVER);
    assert_eq!(c.node(SERVER).records(), 2);
    c.advance(400); // both calls end at their deadline
    assert_eq!(outcomes(&c).len(), 2);
    call(&mut c, 3, b"c", 300);
    c.deliver_all();
    assert_eq!(executions(&c).len(), 3, "the watermark freed the table");
}
