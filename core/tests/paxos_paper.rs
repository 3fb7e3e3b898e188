//! Multi-Paxos against the papers: the safety argument of "Paxos Made
//! Simple" §2 as message sequences driven by hand, phase 1 once per
//! leadership with gap filling ("Paxos Made Moderately Complex" §3),
//! durable acceptors across restarts, catch-up, duelling proposers, and
//! agreement under random faults.

use std::collections::BTreeMap;

use consensio::paxos::{self, Ballot, Command, Event, Message, PaxosNode, Persist, Role};
use consensio::testing::{Cluster, Envelope, Faults};
use consensio::{Classify, ErrorKind, Input, Instant, NodeId, Participant, Restore};
use proptest::prelude::*;

fn ids(n: u64) -> Vec<NodeId> {
    (1..=n).map(NodeId).collect()
}

fn cluster(n: u64, seed: u64, faults: Faults) -> Cluster<PaxosNode> {
    let members = ids(n);
    let mut c = Cluster::new(seed, faults);
    for &id in &members {
        let mut config = paxos::Config::new(id, &members);
        config.seed = seed.wrapping_mul(31).wrapping_add(id.0);
        c.add(config);
    }
    c
}

/// Every node's chosen values by slot, from its `Chosen` events; panics if
/// two nodes (or two lives of one) ever report different values for a
/// slot, or one node reports slots out of order within a life.
fn agreement(c: &Cluster<PaxosNode>) -> BTreeMap<u64, Vec<u8>> {
    let mut chosen: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut last: BTreeMap<NodeId, u64> = BTreeMap::new();
    for (_, node, event) in c.events() {
        if let Event::Chosen { slot, value } = event {
            let prev = last.entry(*node).or_insert(0);
            // A restarted node reports again from slot 1.
            assert!(
                *slot == *prev + 1 || *slot == 1,
                "{node} reported slot {slot} after {prev}"
            );
            *prev = *slot;
            let v = chosen.entry(*slot).or_insert_with(|| value.clone());
            assert_eq!(v, value, "two values chosen at slot {slot}");
        }
    }
    chosen
}

fn leader(c: &Cluster<PaxosNode>) -> Option<NodeId> {
    c.live()
        .find(|n| n.role() == Role::Leader)
        .map(Participant::id)
}

fn is(kind: &str) -> impl Fn(&Envelope<Message>) -> bool + '_ {
    move |e| format!("{:?}", e.message).starts_with(kind)
}

fn propose(c: &mut Cluster<PaxosNode>, id: NodeId, value: &[u8]) {
    c.command(id, Command::Propose(value.to_vec())).unwrap();
}

#[test]
fn a_leader_is_elected_and_every_node_learns_the_values_in_order() {
    let mut c = cluster(3, 1, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).expect("a leader within a second");
    for i in 0..100u32 {
        propose(&mut c, l, format!("v{i}").as_bytes());
    }
    c.advance(1_000);
    let chosen = agreement(&c);
    let values: Vec<&Vec<u8>> = chosen.values().filter(|v| !v.is_empty()).collect();
    assert_eq!(values.len(), 100);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            **v,
            format!("v{i}").into_bytes(),
            "proposals are chosen in order"
        );
    }
    for node in c.live() {
        assert_eq!(
            node.first_unchosen(),
            101,
            "{} learned every slot",
            node.id()
        );
        assert_eq!(node.applied(), 100);
    }
}

/// Phase 1 by hand: n1 leads under 1.1 with n2's promise; n3's promise is
/// still in flight.
fn n1_leads(c: &mut Cluster<PaxosNode>) {
    c.command(NodeId(1), Command::Campaign).unwrap();
    c.deliver_where(|e| e.to == NodeId(2));
    c.drop_where(|e| e.to == NodeId(3));
    c.deliver_where(|e| e.to == NodeId(1));
    assert_eq!(c.node(NodeId(1)).role(), Role::Leader);
}

#[test]
fn paxos_made_simple_2_2_a_value_accepted_by_a_minority_is_chosen_later_by_the_next_leader() {
    let mut c = cluster(3, 2, Faults::NONE);
    n1_leads(&mut c);
    propose(&mut c, NodeId(1), b"A");
    // Only n2 gets A; n1 has it too: a minority of... no, two of three
    // accepted, but the Accepted reply is lost, so nobody knows it is chosen.
    c.deliver_where(|e| e.to == NodeId(2) && is("Accept {")(e));
    c.drop_where(|_| true);
    c.crash(NodeId(1));
    // n3 campaigns; n2's promise reports A at ballot 1.1.
    c.command(NodeId(3), Command::Campaign).unwrap();
    c.deliver_all();
    assert_eq!(c.node(NodeId(3)).role(), Role::Leader);
    assert_eq!(agreement(&c)[&1], b"A", "the next leader re-proposed A");
}

#[test]
fn paxos_made_simple_2_2_a_value_lost_with_its_minority_is_replaced_and_never_chosen() {
    let mut c = cluster(3, 3, Faults::NONE);
    n1_leads(&mut c);
    propose(&mut c, NodeId(1), b"A");
    // A reaches nobody: only n1 accepted it.
    let accepts = c.drop_where(is("Accept {"));
    assert_eq!(accepts, 2);
    assert_eq!(
        c.node(NodeId(1)).accepted(1).map(|(_, v)| v),
        Some(&b"A"[..])
    );
    // n3 campaigns with n2; n1 is cut off. Nothing was reported at slot
    // 1, so n3 proposes B there.
    c.isolate(NodeId(1));
    c.command(NodeId(3), Command::Campaign).unwrap();
    c.deliver_all();
    assert_eq!(c.node(NodeId(3)).role(), Role::Leader);
    propose(&mut c, NodeId(3), b"B");
    c.deliver_all();
    assert_eq!(agreement(&c)[&1], b"B");
    // n1's A, resent at its heartbeat, is refused: n2 and n3 promised a
    // higher ballot; n1 steps down and learns B.
    c.heal();
    c.fire(NodeId(1));
    c.deliver_all();
    c.advance(1_000);
    assert_eq!(agreement(&c)[&1], b"B");
    assert_eq!(c.node(NodeId(1)).chosen(1), Some(&b"B"[..]));
}

#[test]
fn two_proposers_with_interleaved_phases_never_choose_two_values_for_one_slot() {
    // Every interleaving the delivery order picks, over many seeds: n1 and
    // n3 campaign at once and propose at once; the network reorders.
    for seed in 0..200 {
        let mut c = cluster(3, seed, Faults::synchronous(20));
        c.command(NodeId(1), Command::Campaign).unwrap();
        c.command(NodeId(3), Command::Campaign).unwrap();
        for step in 0..400 {
            for id in [NodeId(1), NodeId(3)] {
                if c.node(id).role() == Role::Leader && step % 7 == 0 {
                    let _ = c.command(id, Command::Propose(format!("{id}-{step}").into_bytes()));
                }
            }
            c.advance(3);
        }
        c.advance(2_000);
        agreement(&c);
    }
}

#[test]
fn an_acceptor_keeps_its_promise_across_a_restart() {
    let mut c = cluster(3, 4, Faults::NONE);
    // n2 promises n3's ballot; nothing is accepted.
    c.command(NodeId(3), Command::Campaign).unwrap();
    c.deliver_where(|e| e.to == NodeId(2));
    c.drop_where(|_| true);
    let promised = c.node(NodeId(2)).promised();
    assert_eq!(promised.node, NodeId(3));
    assert!(c.disk(NodeId(2)).contains(&Persist::Promised(promised)));
    c.crash(NodeId(2));
    c.restart_from_disk(NodeId(2));
    assert_eq!(c.node(NodeId(2)).promised(), promised);
    // A lower ballot's Accept is refused with a Nack naming the promise.
    let low = Ballot {
        round: promised.round,
        node: NodeId(1),
    };
    assert!(low < promised);
    let accept = Message::Accept {
        ballot: low,
        first: 1,
        values: vec![b"late".to_vec()],
        commit: 1,
        applied: 1,
    };
    c.input(
        NodeId(2),
        Input::Message {
            from: NodeId(1),
            message: accept,
        },
    )
    .unwrap();
    assert_eq!(c.node(NodeId(2)).accepted(1), None);
    let nack = c
        .in_flight()
        .find(|e| e.to == NodeId(1))
        .map(|e| e.message.clone());
    assert_eq!(
        nack,
        Some(Message::Nack {
            ballot: low,
            promised
        })
    );
}

#[test]
fn a_promise_is_persisted_before_it_is_sent_and_an_acceptance_before_it_is_acknowledged() {
    let mut node = PaxosNode::new(paxos::Config::new(NodeId(2), &ids(3))).unwrap();
    let ballot = Ballot {
        round: 4,
        node: NodeId(1),
    };
    let t = Instant::from_millis(1);
    node.handle_input(
        t,
        Input::Message {
            from: NodeId(1),
            message: Message::Prepare { ballot, from: 1 },
        },
    )
    .unwrap();
    let accept = Message::Accept {
        ballot,
        first: 1,
        values: vec![b"x".to_vec()],
        commit: 1,
        applied: 1,
    };
    node.handle_input(
        t,
        Input::Message {
            from: NodeId(1),
            message: accept,
        },
    )
    .unwrap();
    let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
    let at = |pred: &dyn Fn(&consensio::Output<Message, Persist, Event>) -> bool| {
        outputs.iter().position(pred).unwrap()
    };
    let promised = at(&|o| matches!(o, consensio::Output::Persist(Persist::Promised(_))));
    let promise = at(&|o| {
        matches!(
            o,
            consensio::Output::Send {
                message: Message::Promise { .. },
                ..
            }
        )
    });
    let accepted = at(&|o| matches!(o, consensio::Output::Persist(Persist::Accepted { .. })));
    let ack = at(&|o| {
        matches!(
            o,
            consensio::Output::Send {
                message: Message::Accepted { .. },
                ..
            }
        )
    });
    assert!(promised < promise && accepted < ack, "{outputs:?}");
}

#[test]
fn a_new_leader_runs_phase_1_once_for_all_slots_and_fills_the_gaps_with_no_ops() {
    let mut c = cluster(5, 5, Faults::NONE);
    n1_leads_of_five(&mut c);
    for v in [b"a", b"b", b"c", b"d"] {
        propose(&mut c, NodeId(1), v);
    }
    // Slot 2's and slot 4's values reach n2 only (a minority with n1);
    // the others reach nobody. Then n1 crashes.
    let mut sent = Vec::new();
    c.deliver_where(|e| {
        sent.push(format!("{:?}", e.message));
        false
    });
    c.drop_where(|_| true);
    c.crash(NodeId(1));
    // n2 accepted nothing, so slots 1..4 carry nothing a majority saw.
    c.command(NodeId(5), Command::Campaign).unwrap();
    c.deliver_all();
    assert_eq!(c.node(NodeId(5)).role(), Role::Leader);
    let prepares = c.sent().get("Prepare").copied().unwrap_or(0);
    assert_eq!(
        prepares,
        4 + 4,
        "one Prepare per peer per leadership (n1's and n5's)"
    );
    propose(&mut c, NodeId(5), b"e");
    c.deliver_all();
    let chosen = agreement(&c);
    assert_eq!(chosen.len(), 1, "n1's slots were never sent: {chosen:?}");
    assert_eq!(chosen[&1], b"e");
}

fn n1_leads_of_five(c: &mut Cluster<PaxosNode>) {
    c.command(NodeId(1), Command::Campaign).unwrap();
    c.deliver_where(|e| e.to == NodeId(2) || e.to == NodeId(3));
    c.drop_where(|e| e.to != NodeId(1));
    c.deliver_where(|e| e.to == NodeId(1));
    assert_eq!(c.node(NodeId(1)).role(), Role::Leader);
}

#[test]
fn a_gap_below_chosen_slots_is_filled_with_a_no_op_by_the_next_leader() {
    let mut c = cluster(3, 6, Faults::NONE);
    n1_leads(&mut c);
    for v in [b"a", b"b", b"c"] {
        propose(&mut c, NodeId(1), v);
    }
    // The Accept carrying slots 1..3 reaches n2; n2's acks are lost; then
    // n2 loses slot 2's record? No: slot 2 is simply never sent to anyone
    // but n2, so a new leader with n3 sees slots 1 and 3 from n2 only if n2
    // promises. Drive: n2 accepts 1..3, n1 crashes, n3 leads with n2.
    c.deliver_where(|e| e.to == NodeId(2) && is("Accept {")(e));
    c.drop_where(|_| true);
    c.crash(NodeId(1));
    c.command(NodeId(3), Command::Campaign).unwrap();
    c.deliver_all();
    let chosen = agreement(&c);
    assert_eq!(
        chosen.values().map(Vec::as_slice).collect::<Vec<_>>(),
        [b"a", b"b", b"c"]
    );
    // Now a real gap: n3 proposes d and e; only e reaches n2 before n3
    // crashes; n1 restarts and leads with n2: slot 4 (d's) becomes a no-op.
    propose(&mut c, NodeId(3), b"d");
    c.drop_where(|_| true);
    propose(&mut c, NodeId(3), b"e");
    c.deliver_where(|e| e.to == NodeId(2) && is("Accept {")(e));
    c.drop_where(|_| true);
    c.crash(NodeId(3));
    c.restart_from_disk(NodeId(1));
    c.command(NodeId(1), Command::Campaign).unwrap();
    c.deliver_all();
    let chosen = agreement(&c);
    assert_eq!(chosen[&4], b"", "slot 4 filled with a no-op");
    assert_eq!(
        chosen[&5], b"e",
        "slot 5 keeps the value a promise reported"
    );
}

#[test]
fn a_node_that_missed_decisions_catches_up_in_bounded_pages() {
    let mut c = cluster(3, 7, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).unwrap();
    let behind = ids(3).into_iter().find(|&i| i != l).unwrap();
    c.isolate(behind);
    for i in 0..500u32 {
        propose(&mut c, l, format!("{i}").as_bytes());
        if i % 100 == 99 {
            c.advance(50);
        }
    }
    c.advance(500);
    assert!(c.node(behind).first_unchosen() < 10);
    c.heal();
    c.advance(2_000);
    assert_eq!(c.node(behind).first_unchosen(), c.node(l).first_unchosen());
    assert!(c.node(behind).first_unchosen() > 500);
    agreement(&c);
    // It learned through Chosen pages of at most max_batch values.
    assert!(c.sent().get("Chosen").copied().unwrap_or(0) >= 500 / 64);
}

#[test]
fn duelling_proposers_converge_on_one_leader() {
    for seed in 0..20 {
        let mut c = cluster(5, seed, Faults::synchronous(10));
        // Everyone campaigns at once, again and again for a while.
        for round in 0..5 {
            for id in ids(5) {
                if round % 2 == 0 || id.0 % 2 == 1 {
                    c.command(id, Command::Campaign).unwrap();
                }
            }
            c.advance(7);
        }
        c.advance(5_000);
        let leaders: Vec<_> = c.live().filter(|n| n.role() == Role::Leader).collect();
        assert_eq!(leaders.len(), 1, "seed {seed}: one leader after the duel");
        let l = leaders[0].id();
        propose(&mut c, l, b"settled");
        c.advance(500);
        assert!(
            agreement(&c).values().any(|v| v == b"settled"),
            "seed {seed}"
        );
    }
}

#[test]
fn a_leader_cut_off_from_a_majority_steps_down() {
    let mut c = cluster(3, 8, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).unwrap();
    c.isolate(l);
    c.advance(1_000);
    assert_ne!(c.node(l).role(), Role::Leader, "check-quorum");
    let new = leader(&c).unwrap();
    assert_ne!(new, l);
    assert!(
        c.events_of(l)
            .any(|e| matches!(e, Event::SteppedDown { .. }))
    );
}

#[test]
fn bad_input_is_refused_with_a_typed_error_and_changes_nothing() {
    let mut c = cluster(3, 9, Faults::NONE);
    let follower = NodeId(2);
    let err = c
        .command(follower, Command::Propose(b"x".to_vec()))
        .unwrap_err();
    assert_eq!(err, paxos::Error::NotLeader { leader_hint: None });
    assert_eq!(err.kind(), ErrorKind::Rejected);
    n1_leads(&mut c);
    let before = format!("{:?}", c.node(NodeId(1)));
    assert_eq!(
        c.command(NodeId(1), Command::Propose(Vec::new()))
            .unwrap_err(),
        paxos::Error::EmptyValue
    );
    let big = vec![0; 64 << 10 | 1];
    let err = c.command(NodeId(1), Command::Propose(big)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    let err = c
        .input(
            NodeId(1),
            Input::Message {
                from: NodeId(9),
                message: Message::CatchUp { from: 1 },
            },
        )
        .unwrap_err();
    assert_eq!(err, paxos::Error::NotAMember { peer: NodeId(9) });
    let err = c
        .node_mut(NodeId(1))
        .handle_message(Instant::ZERO, NodeId(2), &[1, 2, 3])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert_eq!(format!("{:?}", c.node(NodeId(1))), before);
    // A bad configuration is refused.
    let mut config = paxos::Config::new(NodeId(4), &ids(3));
    assert!(PaxosNode::new(config.clone()).is_err());
    config.members.push(NodeId(4));
    config.election_timeout_min_ms = config.heartbeat_interval_ms;
    assert!(matches!(
        PaxosNode::new(config),
        Err(paxos::Error::BadConfig { .. })
    ));
}

#[test]
fn a_restarted_node_reports_its_chosen_prefix_again_and_keeps_its_log() {
    let mut c = cluster(3, 10, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).unwrap();
    // Past a page, so a record of the chosen prefix was written.
    for i in 0..100u32 {
        propose(&mut c, l, format!("{i}").as_bytes());
    }
    c.advance(500);
    let f = ids(3).into_iter().find(|&i| i != l).unwrap();
    let first = c.node(f).first_unchosen();
    let recorded = c
        .disk(f)
        .iter()
        .filter_map(|r| match r {
            Persist::Chosen { below } => Some(*below),
            _ => None,
        })
        .max()
        .expect("a record of the chosen prefix");
    assert!(recorded > 64 && recorded <= first);
    let config = c.node(f).config().clone();
    let again = PaxosNode::restore(config, c.disk(f)).unwrap();
    // It knows the recorded prefix at once, and holds every value it
    // accepted; the rest it learns from the leader again.
    assert!(again.first_unchosen() >= recorded);
    assert_eq!(
        again.applied(),
        again.first_unchosen() - 1,
        "the prefix is reported again"
    );
    // Every member applied most of it, so the live node dropped it from
    // memory; the records still hold it.
    let held = c.node(f).first_held();
    assert!(held > 1, "the applied prefix is dropped from memory");
    for slot in held..first {
        assert_eq!(again.accepted(slot), c.node(f).accepted(slot));
    }
    assert_eq!(again.promised(), c.node(f).promised());
    c.crash(f);
    c.restart_from_disk(f);
    c.advance(500);
    assert_eq!(c.node(f).first_unchosen(), c.node(l).first_unchosen());
    agreement(&c);
}

/// A crash and restart of node `node` (1-based) at `at_ms`, back after
/// `down_ms`.
#[derive(Clone, Copy, Debug)]
struct Crash {
    node: u64,
    at_ms: u64,
    down_ms: u64,
}

fn crashes(nodes: u64) -> impl Strategy<Value = Vec<Crash>> {
    prop::collection::vec(
        (1..=nodes, 0u64..4_000, 50u64..1_500).prop_map(|(node, at_ms, down_ms)| Crash {
            node,
            at_ms,
            down_ms,
        }),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Agreement and in-order learning under loss, duplication, reordering
    /// and crash-restart from disk; once faults stop, every node learns
    /// every chosen value and the proposals go on being chosen.
    #[test]
    fn agreement_holds_under_faults(
        seed in any::<u64>(),
        nodes in prop::sample::select(vec![3u64, 5]),
        loss in 0.0f64..0.2,
        duplicate in 0.0f64..0.2,
        crashes in crashes(5),
    ) {
        let faults = Faults { loss, duplicate, min_delay_ms: 1, max_delay_ms: 40 };
        let mut c = cluster(nodes, seed, faults);
        for crash in crashes.iter().filter(|k| k.node <= nodes) {
            c.crash_at(NodeId(crash.node), Instant::from_millis(crash.at_ms));
            c.restart_at(NodeId(crash.node), Instant::from_millis(crash.at_ms + crash.down_ms));
        }
        let mut proposed = 0u32;
        for _ in 0..120 {
            if let Some(l) = leader(&c) {
                if c.command(l, Command::Propose(format!("p{proposed}").into_bytes())).is_ok() {
                    proposed += 1;
                }
            }
            c.advance(50);
        }
        c.set_faults(Faults::synchronous(5));
        c.advance(3_000);
        let chosen = agreement(&c);
        // Validity: a proposal or a no-op.
        for v in chosen.values() {
            prop_assert!(v.is_empty() || v.starts_with(b"p"));
        }
        let top = c.live().map(PaxosNode::first_unchosen).max().unwrap();
        for node in c.live() {
            prop_assert_eq!(node.first_unchosen(), top, "{} caught up", node.id());
        }
        let l = leader(&c).expect("a leader once faults stop");
        c.command(l, Command::Propose(b"pfinal".to_vec())).unwrap();
        c.advance(500);
        prop_assert!(agreement(&c).values().any(|v| v == b"pfinal"));
    }
}

/// Found by the `paxos_step` fuzz target: a follower that adopted a
/// leader's ballot from a heartbeat (or an Accept) answered that leader's
/// Prepare with a Promise before any record held the promise, so a
/// restart could forget it.
#[test]
fn following_a_ballot_records_the_promise_before_any_promise_is_sent() {
    let mut node = PaxosNode::new(paxos::Config::new(NodeId(2), &ids(3))).unwrap();
    let ballot = Ballot {
        round: 7,
        node: NodeId(1),
    };
    let t = Instant::from_millis(1);
    let heartbeat = Message::Heartbeat {
        ballot,
        commit: 1,
        applied: 1,
    };
    node.handle_input(
        t,
        Input::Message {
            from: NodeId(1),
            message: heartbeat,
        },
    )
    .unwrap();
    let prepare = Message::Prepare { ballot, from: 1 };
    node.handle_input(
        t,
        Input::Message {
            from: NodeId(1),
            message: prepare,
        },
    )
    .unwrap();
    let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
    let record = outputs.iter().position(
        |o| matches!(o, consensio::Output::Persist(Persist::Promised(b)) if *b == ballot),
    );
    let promise = outputs.iter().position(|o| {
        matches!(
            o,
            consensio::Output::Send {
                message: Message::Promise { .. },
                ..
            }
        )
    });
    assert!(record.is_some() && record < promise, "{outputs:?}");
    let records: Vec<Persist> = outputs
        .iter()
        .filter_map(|o| match o {
            consensio::Output::Persist(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let again = PaxosNode::restore(node.config().clone(), &records).unwrap();
    assert_eq!(again.promised(), ballot);
}

/// Found by the `paxos_step` fuzz target: a leader told (by no correct
/// peer) that a slot beyond its next one was chosen learned it, and its
/// next proposal then overwrote the chosen value.
#[test]
fn a_leader_does_not_learn_past_the_slot_it_proposes_next() {
    let mut c = cluster(3, 11, Faults::NONE);
    n1_leads(&mut c);
    let chosen = Message::Chosen {
        first: 1,
        values: vec![b"forged".to_vec()],
    };
    c.input(
        NodeId(1),
        Input::Message {
            from: NodeId(2),
            message: chosen,
        },
    )
    .unwrap();
    assert_eq!(c.node(NodeId(1)).chosen(1), None);
    propose(&mut c, NodeId(1), b"real");
    c.deliver_all();
    assert_eq!(agreement(&c)[&1], b"real");
}

/// Compaction: the application's snapshot replaces the records before
/// it; a node restarted from it reports the snapshot first and goes on
/// from the slot after it.
#[test]
fn a_snapshot_record_replaces_the_records_before_it() {
    let mut c = cluster(3, 12, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).unwrap();
    for i in 0..50u32 {
        propose(&mut c, l, format!("a{i}").as_bytes());
    }
    c.advance(500);
    let f = ids(3).into_iter().find(|&i| i != l).unwrap();
    let applied = c.node(f).applied();
    assert!(applied >= 50);
    let err = c
        .command(
            f,
            Command::Compact {
                upto: applied + 1,
                snapshot: b"state".to_vec(),
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        paxos::Error::NotApplied {
            upto: applied + 1,
            applied
        }
    );
    c.command(
        f,
        Command::Compact {
            upto: applied,
            snapshot: b"state".to_vec(),
        },
    )
    .unwrap();
    assert_eq!(c.node(f).snapshot(), Some((applied, &b"state"[..])));
    // What the host keeps: the snapshot record and what came after it.
    let disk = c.disk(f);
    let at = disk
        .iter()
        .rposition(|r| matches!(r, Persist::Snapshot { .. }))
        .expect("a snapshot record");
    for i in 0..10u32 {
        propose(&mut c, l, format!("b{i}").as_bytes());
    }
    c.advance(500);
    let kept: Vec<Persist> = c.disk(f)[at..].to_vec();
    let again = PaxosNode::restore(c.node(f).config().clone(), &kept).unwrap();
    let mut outputs = std::iter::from_fn({
        let mut again = again.clone();
        move || again.poll_output()
    });
    assert_eq!(
        outputs.next(),
        Some(consensio::Output::Event(Event::Snapshot { upto: applied }))
    );
    // Chosen goes on after the snapshot (the slots since are relearned
    // from the leader unless a record of the chosen prefix covers them).
    for output in outputs {
        if let consensio::Output::Event(Event::Chosen { slot, .. }) = output {
            assert!(slot > applied, "slot {slot} is in the snapshot");
        }
    }
    assert_eq!(again.promised(), c.node(f).promised());
    assert_eq!(again.snapshot(), Some((applied, &b"state"[..])));
    // Restarted from those records alone, it rejoins and learns the rest.
    c.crash(f);
    c.restart_from_disk(f);
    c.advance(500);
    assert_eq!(c.node(f).first_unchosen(), c.node(l).first_unchosen());
}

/// A member that is down holds back what the others drop: they keep
/// every slot it may still need from them.
#[test]
fn a_member_that_is_down_holds_back_what_the_others_drop() {
    let mut c = cluster(3, 13, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).unwrap();
    for i in 0..100u32 {
        propose(&mut c, l, format!("{i}").as_bytes());
    }
    c.advance(500);
    let down = ids(3).into_iter().find(|&i| i != l).unwrap();
    let its = c.node(down).first_unchosen();
    c.crash(down);
    for i in 0..200u32 {
        propose(&mut c, l, format!("x{i}").as_bytes());
    }
    c.advance(1_000);
    for id in ids(3).into_iter().filter(|&i| i != down) {
        assert!(
            c.node(id).first_held() <= its,
            "{id} kept what {down} may need"
        );
    }
    c.restart_from_disk(down);
    c.advance(1_000);
    assert_eq!(c.node(down).first_unchosen(), c.node(l).first_unchosen());
    agreement(&c);
    c.advance(500);
    assert!(
        c.node(l).first_held() > its,
        "once it caught up, the prefix is dropped"
    );
}

/// A busy leader's memory does not wait for heartbeats: each `Accepted`
/// says what its sender applied and each `Accept` what every member
/// applied, so every node holds about a window of slots however long
/// the leader goes without a heartbeat.
#[test]
fn under_steady_load_every_node_drops_what_all_applied_between_heartbeats() {
    let mut c = cluster(3, 14, Faults::synchronous(5));
    c.advance(1_000);
    let l = leader(&c).unwrap();
    c.take_sent();
    for round in 0..40u32 {
        for i in 0..64u32 {
            propose(&mut c, l, format!("{round}.{i}").as_bytes());
        }
        // No time passes: no timer fires, so no heartbeat is sent.
        c.deliver_all();
    }
    let sent = c.take_sent();
    assert!(!sent.contains_key("Heartbeat"), "sent: {sent:?}");
    let first = c.node(l).first_unchosen();
    assert!(first > 40 * 64, "every value is chosen");
    let window = paxos::Config::new(l, &ids(3)).window;
    for id in ids(3) {
        let held = c.node(id).first_held();
        assert!(
            first - held <= window + 2 * 64,
            "{id} holds slots {held}..{first}"
        );
    }
    agreement(&c);
}

/// Found by the `paxos_step` fuzz target: an `Accept` whose first slot is
/// the last slot number overflowed the slot counter; it is refused past
/// the log's bound like any slot beyond it.
#[test]
fn an_accept_at_the_last_slot_number_is_dropped_past_the_log_bound() {
    let mut node = PaxosNode::new(paxos::Config::new(NodeId(2), &ids(3))).unwrap();
    let ballot = Ballot {
        round: 1,
        node: NodeId(1),
    };
    node.handle_input(
        Instant::from_millis(1),
        Input::Message {
            from: NodeId(1),
            message: Message::Accept {
                ballot,
                first: u64::MAX,
                values: vec![b"a".to_vec(), b"b".to_vec()],
                commit: 1,
                applied: 1,
            },
        },
    )
    .unwrap();
    assert_eq!(node.accepted(u64::MAX), None);
    let outputs: Vec<_> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(
        !outputs.iter().any(|o| matches!(
            o,
            consensio::Output::Send {
                message: Message::Accepted { .. },
                ..
            }
        )),
        "{outputs:?}"
    );
}
