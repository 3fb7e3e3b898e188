//! Single-decree Paxos against "Paxos Made Simple" §2: the safety argument
//! as message sequences driven by hand (P2c: a later proposer adopts the
//! value a minority accepted), durable acceptors across restarts,
//! preemption and backoff, learning, bad input, and agreement under
//! random faults.

use consensio::paxos::single::{self, Command, Event, Message, Persist};
use consensio::paxos::{Ballot, Error, SingleDecree};
use consensio::testing::{Cluster, Envelope, Faults};
use consensio::{Classify, ErrorKind, Input, Instant, NodeId, Output, Participant, Restore};
use proptest::prelude::*;

fn ids(n: u64) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

fn config(id: NodeId, n: u64, seed: u64) -> single::Config {
    let mut config = single::Config::new(id, &ids(n));
    config.seed = seed.wrapping_mul(31).wrapping_add(id.0);
    config
}

fn cluster(n: u64, seed: u64, faults: Faults) -> Cluster<SingleDecree> {
    let mut c = Cluster::new(seed, faults);
    for id in ids(n) {
        c.add(config(id, n, seed));
    }
    c
}

fn propose(c: &mut Cluster<SingleDecree>, id: NodeId, value: &[u8]) {
    c.command(id, Command::Propose(value.to_vec())).unwrap();
}

/// Every `Chosen` event, checked: one value across every node and life,
/// and at most one report per life. Returns the value and who reported it.
fn agreement(c: &Cluster<SingleDecree>) -> Option<(Vec<u8>, Vec<NodeId>)> {
    let mut value: Option<Vec<u8>> = None;
    let mut who = Vec::new();
    for (_, node, event) in c.events() {
        if let Event::Chosen { value: v } = event {
            match &value {
                Some(w) => assert_eq!(w, v, "two values chosen"),
                None => value = Some(v.clone()),
            }
            who.push(*node);
        }
    }
    value.map(|v| (v, who))
}

fn is(kind: &str) -> impl Fn(&Envelope<Message>) -> bool + '_ {
    move |e| format!("{:?}", e.message).starts_with(kind)
}

fn ballot(round: u64, node: u64) -> Ballot {
    Ballot {
        round,
        node: NodeId(node),
    }
}

#[test]
fn one_proposer_gets_its_value_chosen_and_every_node_learns_it() {
    let mut c = cluster(3, 1, Faults::synchronous(5));
    propose(&mut c, NodeId(2), b"x");
    c.advance(100);
    let (value, who) = agreement(&c).expect("chosen");
    assert_eq!(value, b"x");
    let mut who = who;
    who.sort();
    assert_eq!(who, ids(3), "each node reports it once");
    for id in ids(3) {
        assert_eq!(c.node(id).chosen(), Some(&b"x"[..]));
        assert_eq!(
            c.node(id).next_deadline(),
            None,
            "a decided node waits for nothing"
        );
    }
    // A decided node refuses a new proposal: the decree is made.
    let err = c
        .command(NodeId(1), Command::Propose(b"y".to_vec()))
        .unwrap_err();
    assert_eq!(err, Error::Decided);
    assert_eq!(err.kind(), ErrorKind::Rejected);
}

/// §2.2, P2c: a value accepted by a minority that a later proposer's
/// majority reports is the value that proposer proposes, so the value
/// that may have been chosen is never replaced.
#[test]
fn p2c_a_later_proposer_adopts_the_value_a_minority_accepted() {
    let mut c = cluster(3, 2, Faults::synchronous(5));
    // n1 runs phase 1 with everyone, but its Accept reaches only n2.
    propose(&mut c, NodeId(1), b"first");
    c.deliver_where(|e| is("Prepare")(e) || is("Promise")(e));
    c.drop_where(|e| is("Accept {")(e) && e.to != NodeId(2));
    c.deliver_where(|e| is("Accept {")(e));
    assert_eq!(
        c.node(NodeId(2)).accepted().map(|(_, v)| v.to_vec()),
        Some(b"first".to_vec())
    );
    // Nothing else arrives; n1 crashes before it learns anything.
    c.drop_where(|_| true);
    c.crash(NodeId(1));
    // n3 proposes its own value; its majority {n2, n3} reports "first".
    propose(&mut c, NodeId(3), b"second");
    c.advance(300);
    let (value, _) = agreement(&c).expect("chosen");
    assert_eq!(value, b"first", "P2c: the accepted value is proposed again");
    assert_eq!(c.node(NodeId(3)).chosen(), Some(&b"first"[..]));
}

/// §2.2: a value accepted only by a minority that no later majority
/// reports may be replaced: it was never chosen.
#[test]
fn a_value_lost_with_its_minority_is_replaced() {
    let mut c = cluster(5, 3, Faults::synchronous(5));
    propose(&mut c, NodeId(1), b"lost");
    c.deliver_where(|e| is("Prepare")(e) || is("Promise")(e));
    c.drop_where(|e| is("Accept {")(e) && e.to != NodeId(2));
    c.deliver_where(|e| is("Accept {")(e));
    c.drop_where(|_| true);
    c.crash(NodeId(1));
    c.crash(NodeId(2));
    propose(&mut c, NodeId(3), b"kept");
    c.advance(300);
    assert_eq!(agreement(&c).expect("chosen").0, b"kept");
}

#[test]
fn a_promise_is_recorded_before_it_is_sent_and_kept_across_a_restart() {
    let mut node = SingleDecree::new(config(NodeId(2), 3, 4)).unwrap();
    let t = Instant::from_millis(1);
    let high = ballot(5, 3);
    node.handle_input(
        t,
        Input::Message {
            from: NodeId(3),
            message: Message::Prepare { ballot: high },
        },
    )
    .unwrap();
    let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
    let record = outputs
        .iter()
        .position(|o| matches!(o, Output::Persist(Persist::Promised(b)) if *b == high))
        .expect("the promise is recorded");
    let reply = outputs
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Send {
                    message: Message::Promise { .. },
                    ..
                }
            )
        })
        .expect("and sent");
    assert!(record < reply, "recorded first: {outputs:?}");
    // Restarted from that record, it refuses a lower ballot's Accept.
    let mut again =
        SingleDecree::restore(config(NodeId(2), 3, 4), &[Persist::Promised(high)]).unwrap();
    assert_eq!(again.promised(), high);
    let low = ballot(4, 1);
    again
        .handle_input(
            t,
            Input::Message {
                from: NodeId(1),
                message: Message::Accept {
                    ballot: low,
                    value: b"late".to_vec(),
                },
            },
        )
        .unwrap();
    assert_eq!(again.accepted(), None);
    let nack = std::iter::from_fn(|| again.poll_output()).find_map(|o| match o {
        Output::Send { to, message } => Some((to, message)),
        _ => None,
    });
    assert_eq!(
        nack,
        Some((
            NodeId(1),
            Message::Nack {
                ballot: low,
                promised: high
            }
        ))
    );
}

#[test]
fn an_acceptance_is_recorded_before_it_is_announced_and_restored() {
    let mut node = SingleDecree::new(config(NodeId(2), 3, 5)).unwrap();
    let b = ballot(2, 1);
    node.handle_input(
        Instant::from_millis(1),
        Input::Message {
            from: NodeId(1),
            message: Message::Accept {
                ballot: b,
                value: b"v".to_vec(),
            },
        },
    )
    .unwrap();
    let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
    let record = outputs
        .iter()
        .position(|o| matches!(o, Output::Persist(Persist::Accepted { .. })))
        .expect("recorded");
    let sends: Vec<_> = outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            matches!(
                o,
                Output::Send {
                    message: Message::Accepted { .. },
                    ..
                }
            )
        })
        .collect();
    assert_eq!(sends.len(), 2, "every other learner hears of it");
    assert!(sends.iter().all(|(i, _)| *i > record));
    let records: Vec<Persist> = outputs
        .into_iter()
        .filter_map(|o| match o {
            Output::Persist(r) => Some(r),
            _ => None,
        })
        .collect();
    let again = SingleDecree::restore(config(NodeId(2), 3, 5), &records).unwrap();
    assert_eq!(again.accepted(), Some((b, &b"v"[..])));
    assert_eq!(again.promised(), b, "accepting a ballot promises it");
}

#[test]
fn a_preempted_proposer_backs_off_and_tries_again_higher() {
    let mut c = cluster(3, 6, Faults::synchronous(5));
    // n3 promised a high ballot to a proposer that then vanished.
    c.input(
        NodeId(3),
        Input::Message {
            from: NodeId(2),
            message: Message::Prepare {
                ballot: ballot(9, 2),
            },
        },
    )
    .unwrap();
    c.input(
        NodeId(1),
        Input::Message {
            from: NodeId(2),
            message: Message::Prepare {
                ballot: ballot(9, 2),
            },
        },
    )
    .unwrap();
    c.drop_where(|_| true);
    c.crash(NodeId(2));
    // n1's own acceptor promised (9, 2): its first attempt is above it.
    propose(&mut c, NodeId(1), b"mine");
    assert!(c.node(NodeId(1)).attempt().unwrap() > ballot(9, 2));
    c.advance(500);
    assert_eq!(agreement(&c).expect("chosen").0, b"mine");

    // A proposer refused by a higher promise reports it and goes higher.
    let mut c = cluster(3, 7, Faults::synchronous(5));
    propose(&mut c, NodeId(1), b"a");
    let first = c.node(NodeId(1)).attempt().unwrap();
    let high = first.round + 5;
    // Before n1's Prepares arrive, n2 and n3 promise higher ballots (of
    // proposers that go no further).
    for (to, from) in [(NodeId(2), NodeId(3)), (NodeId(3), NodeId(2))] {
        c.input(
            to,
            Input::Message {
                from,
                message: Message::Prepare {
                    ballot: Ballot {
                        round: high,
                        node: from,
                    },
                },
            },
        )
        .unwrap();
    }
    c.drop_where(|e| is("Promise")(e) && e.to != NodeId(1));
    c.advance(1_000);
    assert!(
        c.events_of(NodeId(1)).any(
            |e| matches!(e, Event::Preempted { ballot, by } if *ballot == first && by.round == high)
        ),
        "n1 was told of the higher promise"
    );
    assert!(
        c.node(NodeId(1)).promised().round > high,
        "and went above it"
    );
    // Neither higher proposer ran phase 2, so n1's value is chosen.
    assert_eq!(agreement(&c).expect("chosen after the retry").0, b"a");
}

#[test]
fn a_node_that_missed_everything_learns_by_asking() {
    let mut c = cluster(3, 8, Faults::synchronous(5));
    propose(&mut c, NodeId(1), b"x");
    // n3 sees the Prepare and nothing else.
    c.deliver_where(|e| is("Prepare")(e) || is("Promise")(e));
    c.drop_where(|e| e.to == NodeId(3));
    c.deliver_where(|e| e.to != NodeId(3));
    c.drop_where(|e| e.to == NodeId(3));
    assert_eq!(c.node(NodeId(1)).chosen(), Some(&b"x"[..]));
    assert_eq!(c.node(NodeId(3)).chosen(), None);
    // It expects an outcome, asks after a retry, and learns it.
    assert!(c.node(NodeId(3)).next_deadline().is_some());
    c.advance(500);
    assert_eq!(c.node(NodeId(3)).chosen(), Some(&b"x"[..]));
    assert!(c.sent().get("Query").copied().unwrap_or(0) >= 1);
}

#[test]
fn bad_input_is_refused_with_a_typed_error_and_changes_nothing() {
    let mut node = SingleDecree::new(config(NodeId(1), 3, 9)).unwrap();
    let t = Instant::from_millis(1);
    let before = format!("{node:?}");
    let refuse = |node: &mut SingleDecree, input| node.handle_input(t, input).unwrap_err();
    assert_eq!(
        refuse(&mut node, Input::Command(Command::Propose(Vec::new()))),
        Error::EmptyValue
    );
    let big = vec![0; node.config().max_value_bytes + 1];
    assert!(matches!(
        refuse(&mut node, Input::Command(Command::Propose(big))),
        Error::ValueTooLarge { .. }
    ));
    for from in [NodeId(1), NodeId(9)] {
        assert_eq!(
            refuse(
                &mut node,
                Input::Message {
                    from,
                    message: Message::Query
                }
            ),
            Error::NotAMember { peer: from }
        );
    }
    assert_eq!(format!("{node:?}"), before);
    assert_eq!(node.poll_output(), None);
    // Malformed content is dropped: a ballot not the sender's, an empty
    // value, a promise for a ballot this node never used.
    for (from, message) in [
        (
            NodeId(2),
            Message::Prepare {
                ballot: ballot(3, 3),
            },
        ),
        (
            NodeId(2),
            Message::Accept {
                ballot: ballot(3, 2),
                value: Vec::new(),
            },
        ),
        (
            NodeId(2),
            Message::Promise {
                ballot: ballot(3, 1),
                accepted: None,
            },
        ),
        (NodeId(2), Message::Decided { value: Vec::new() }),
    ] {
        node.handle_input(t, Input::Message { from, message })
            .unwrap();
    }
    assert_eq!(node.poll_output(), None);
    assert_eq!(node.chosen(), None);
    // One proposal at a time.
    node.handle_input(t, Input::Command(Command::Propose(b"a".to_vec())))
        .unwrap();
    assert!(matches!(
        node.handle_input(t, Input::Command(Command::Propose(b"b".to_vec()))),
        Err(Error::TooManyPending { max: 1 })
    ));
    // A bad configuration is refused.
    let mut bad = single::Config::new(NodeId(4), &ids(3));
    assert!(matches!(
        SingleDecree::new(bad.clone()),
        Err(Error::BadConfig { .. })
    ));
    bad.id = NodeId(1);
    bad.retry_min_ms = 0;
    assert!(matches!(
        SingleDecree::new(bad),
        Err(Error::BadConfig { .. })
    ));
    // A record with an empty value is refused.
    assert_eq!(
        SingleDecree::restore(config(NodeId(1), 3, 9), &[Persist::Chosen(Vec::new())]).unwrap_err(),
        Error::BadRecord
    );
}

/// Every node proposes at once: with backoff, one value is chosen and
/// everyone learns it; with none (the textbook proposer that retries at
/// once), the duel may not end.
#[test]
fn duelling_proposers_converge_with_backoff() {
    for seed in 0..20 {
        let mut c = cluster(5, seed, Faults::synchronous(10));
        for id in ids(5) {
            propose(&mut c, id, format!("from {id}").as_bytes());
        }
        c.advance(5_000);
        let (value, _) = agreement(&c).unwrap_or_else(|| panic!("seed {seed}: nothing chosen"));
        assert!(value.starts_with(b"from "));
        for id in ids(5) {
            assert_eq!(c.node(id).chosen(), Some(value.as_slice()), "seed {seed}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Agreement and validity under loss, duplication, delay and
    /// crash-restart from disk, with several proposers; once faults stop,
    /// every node learns the value.
    #[test]
    fn agreement_holds_under_faults(
        seed in any::<u64>(),
        nodes in prop::sample::select(vec![3u64, 5]),
        loss in 0.0f64..0.3,
        duplicate in 0.0f64..0.3,
        proposers in 2u64..=5,
        crashes in prop::collection::vec((1u64..=5, 0u64..2_000, 50u64..1_000), 0..4),
    ) {
        let faults = Faults { loss, duplicate, min_delay_ms: 1, max_delay_ms: 60 };
        // Retries shorter than a round trip, so attempts overlap and
        // phase 1 often finds values that other attempts left accepted.
        let mut c = Cluster::new(seed, faults);
        for id in ids(nodes) {
            let mut config = config(id, nodes, seed);
            config.retry_min_ms = 20;
            config.retry_max_ms = 60;
            config.backoff_base_ms = 5;
            c.add(config);
        }
        for &(node, at, down) in crashes.iter().filter(|k| k.0 <= nodes) {
            c.crash_at(NodeId(node), Instant::from_millis(at));
            c.restart_at(NodeId(node), Instant::from_millis(at + down));
        }
        for id in ids(nodes.min(proposers)) {
            propose(&mut c, id, format!("p{id}").as_bytes());
        }
        c.advance(3_000);
        c.set_faults(Faults::synchronous(5));
        // A proposal dies with its node: the first proposer proposes again
        // if it restarted undecided.
        if c.node(NodeId(1)).chosen().is_none() && c.node(NodeId(1)).proposal().is_none() {
            propose(&mut c, NodeId(1), b"pn1");
        }
        c.advance(5_000);
        let (value, _) = agreement(&c).expect("a value once faults stop");
        prop_assert!(value.starts_with(b"p"), "validity");
        for node in c.live() {
            prop_assert_eq!(node.chosen(), Some(value.as_slice()), "{} learned it", node.id());
        }
    }
}

/// A node down for the whole protocol, restarted with no records, asks
/// its peers once and learns the outcome.
#[test]
fn a_node_down_for_the_whole_protocol_asks_once_it_restarts() {
    let mut c = cluster(3, 11, Faults::synchronous(5));
    c.crash(NodeId(3));
    propose(&mut c, NodeId(1), b"x");
    c.advance(500);
    assert_eq!(c.node(NodeId(1)).chosen(), Some(&b"x"[..]));
    c.restart_from_disk(NodeId(3));
    assert!(c.node(NodeId(3)).next_deadline().is_some(), "it will ask");
    c.advance(100);
    assert_eq!(c.node(NodeId(3)).chosen(), Some(&b"x"[..]));
    // And then waits for nothing.
    assert_eq!(c.node(NodeId(3)).next_deadline(), None);
}

/// Found by the `paxos_single_step` fuzz target: a proposer that has seen
/// the last usable round can never win; it must not keep a deadline in
/// the past (a host would tick it in a busy loop), but wait to learn.
#[test]
fn a_proposer_with_no_ballot_left_waits_to_learn_instead_of_spinning() {
    let mut node = SingleDecree::new(config(NodeId(1), 3, 12)).unwrap();
    let t = Instant::from_millis(5);
    node.handle_input(
        t,
        Input::Message {
            from: NodeId(2),
            message: Message::Prepare {
                ballot: ballot(u64::MAX - 1, 2),
            },
        },
    )
    .unwrap();
    node.handle_input(t, Input::Command(Command::Propose(b"v".to_vec())))
        .unwrap();
    assert_eq!(node.attempt(), None, "no ballot above the last round");
    let deadline = node
        .next_deadline()
        .expect("it still waits for the outcome");
    node.handle_input(deadline, Input::Tick).unwrap();
    assert!(node.next_deadline().unwrap() > deadline);
}
