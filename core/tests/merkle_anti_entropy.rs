//! The anti-entropy participant under loss, duplication and reordering:
//! it reports exactly the differing keys, and repairing them makes the
//! replicas equal.

use std::collections::{BTreeMap, BTreeSet};

use consensio::merkle::{
    AntiEntropy, Hash, SyncFailure, anti_entropy, anti_entropy::Command, anti_entropy::Event,
    anti_entropy::Message,
};
use consensio::{Input, Instant, NodeId, Output, Participant, Rng, wire};
use proptest::prelude::*;

/// Network faults, as probabilities per message.
#[derive(Clone, Copy, Debug)]
struct Faults {
    loss: f64,
    duplicate: f64,
    /// Chance that a message is delayed behind the next one.
    reorder: f64,
}

const CLEAN: Faults = Faults {
    loss: 0.0,
    duplicate: 0.0,
    reorder: 0.0,
};

#[derive(Debug, Default)]
struct Outcome {
    differences: BTreeMap<Vec<u8>, (Option<Hash>, Option<Hash>)>,
    complete: Option<(u64, u64)>,
    failed: Option<SyncFailure>,
    queries: usize,
}

/// Drives `a` (initiator) and `b` through the real wire encoding until `a`'s
/// sync ends; ticks whenever the network is quiet.
fn sync(a: &mut AntiEntropy, b: &mut AntiEntropy, faults: Faults, seed: u64) -> Outcome {
    let mut rng = Rng::seed_from_u64(seed);
    let mut now = Instant::from_millis(1_000);
    let mut out = Outcome::default();
    let peer = b.id();
    a.handle_input(now, Input::Command(Command::StartSync { peer }))
        .unwrap();
    let mut network: Vec<(NodeId, NodeId, Vec<u8>)> = Vec::new();
    for _round in 0..100_000 {
        for node in [&mut *a, &mut *b] {
            while let Some(output) = node.poll_output() {
                match output {
                    Output::Send { to, message } => {
                        if matches!(
                            message,
                            Message::NodeQuery { .. } | Message::BucketQuery { .. }
                        ) {
                            out.queries += 1;
                        }
                        let bytes = wire::encode_to_vec(&message).unwrap();
                        if rng.chance(faults.loss) {
                            continue;
                        }
                        if rng.chance(faults.duplicate) {
                            network.push((node.id(), to, bytes.clone()));
                        }
                        network.push((node.id(), to, bytes));
                    }
                    Output::Event(Event::Difference(d)) => {
                        assert_eq!(d.peer, peer);
                        let fresh = out.differences.insert(d.key, (d.local, d.remote));
                        assert!(fresh.is_none(), "a key reported twice in one sync");
                    }
                    Output::Event(Event::SyncComplete {
                        differing_buckets,
                        differing_keys,
                        ..
                    }) => out.complete = Some((differing_buckets, differing_keys)),
                    Output::Event(Event::SyncFailed { reason, .. }) => out.failed = Some(reason),
                    Output::Persist(never) => match never {},
                }
            }
        }
        if out.complete.is_some() || out.failed.is_some() {
            return out;
        }
        if network.is_empty() {
            now = a
                .next_deadline()
                .expect("a running sync has a retry deadline");
            a.handle_input(now, Input::Tick).unwrap();
            continue;
        }
        let pick = if network.len() > 1 && rng.chance(faults.reorder) {
            1
        } else {
            0
        };
        let (from, to, bytes) = network.remove(pick);
        let target = if to == a.id() { &mut *a } else { &mut *b };
        target.handle_message(now, from, &bytes).unwrap();
    }
    panic!("sync did not end");
}

fn replica(id: u64, depth: u8, entries: &BTreeMap<Vec<u8>, Hash>) -> AntiEntropy {
    let mut config = anti_entropy::Config::new(NodeId(id));
    config.depth = depth;
    config.max_retries = 40;
    config.max_hashes_per_message = 8;
    config.max_entries_per_message = 3;
    let mut r = AntiEntropy::new(config).unwrap();
    for (key, version) in entries {
        let update = Command::Update {
            key: key.clone(),
            version: *version,
        };
        r.handle_input(Instant::ZERO, Input::Command(update))
            .unwrap();
    }
    r
}

/// What a correct comparison must report.
fn naive_diff(
    a: &BTreeMap<Vec<u8>, Hash>,
    b: &BTreeMap<Vec<u8>, Hash>,
) -> BTreeMap<Vec<u8>, (Option<Hash>, Option<Hash>)> {
    let keys: BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), (a.get(k).copied(), b.get(k).copied())))
        .collect()
}

/// Two replicas sharing a base, each with its own writes.
fn replicas() -> impl Strategy<Value = (BTreeMap<Vec<u8>, Hash>, BTreeMap<Vec<u8>, Hash>)> {
    let entry = (proptest::collection::vec(any::<u8>(), 0..6), any::<u8>());
    (
        proptest::collection::vec(entry.clone(), 0..80),
        proptest::collection::vec(entry.clone(), 0..12),
        proptest::collection::vec(entry, 0..12),
    )
        .prop_map(|(base, only_a, only_b)| {
            let base: BTreeMap<Vec<u8>, Hash> =
                base.into_iter().map(|(k, v)| (k, [v; 32])).collect();
            let mut a = base.clone();
            let mut b = base;
            for (k, v) in only_a {
                a.insert(k, [v; 32]);
            }
            for (k, v) in only_b {
                b.insert(k, [v.wrapping_add(1); 32]);
            }
            (a, b)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn reports_exactly_the_differing_keys_under_faults_and_repair_converges(
        (a_data, b_data) in replicas(),
        depth in 0u8..6,
        loss in 0.0..0.2f64,
        duplicate in 0.0..0.2f64,
        reorder in 0.0..0.5f64,
        seed: u64,
    ) {
        let mut a = replica(1, depth, &a_data);
        let mut b = replica(2, depth, &b_data);
        let outcome = sync(&mut a, &mut b, Faults { loss, duplicate, reorder }, seed);
        prop_assert_eq!(outcome.failed, None, "seed {}", seed);
        let want = naive_diff(&a_data, &b_data);
        prop_assert_eq!(&outcome.differences, &want);
        let (_, keys) = outcome.complete.unwrap();
        prop_assert_eq!(keys, want.len() as u64);

        // Repair: the larger version hash wins, on both sides.
        for (key, (local, remote)) in &outcome.differences {
            let winner = (*local).max(*remote).unwrap();
            for r in [&mut a, &mut b] {
                let update = Command::Update { key: key.clone(), version: winner };
                r.handle_input(Instant::ZERO, Input::Command(update)).unwrap();
            }
        }
        prop_assert_eq!(a.tree().root(), b.tree().root());
        let again = sync(&mut a, &mut b, CLEAN, seed);
        prop_assert!(again.differences.is_empty());
        prop_assert_eq!(again.queries, 1, "equal roots end after one query");
    }
}

#[test]
fn queries_grow_with_depth_and_differences_not_with_keys() {
    // 5,000 shared keys, 3 differing; depth 10, up to 256 hashes per query.
    let base: BTreeMap<Vec<u8>, Hash> = (0..5_000u32)
        .map(|i| (i.to_be_bytes().to_vec(), [1; 32]))
        .collect();
    let mut other = base.clone();
    for i in [7u32, 1_234, 4_999] {
        other.insert(i.to_be_bytes().to_vec(), [2; 32]);
    }
    let config = |id| {
        let mut c = anti_entropy::Config::new(NodeId(id));
        c.depth = 10;
        c
    };
    let mut a = AntiEntropy::new(config(1)).unwrap();
    let mut b = AntiEntropy::new(config(2)).unwrap();
    for (r, data) in [(&mut a, &base), (&mut b, &other)] {
        for (key, version) in data {
            let update = Command::Update {
                key: key.clone(),
                version: *version,
            };
            r.handle_input(Instant::ZERO, Input::Command(update))
                .unwrap();
        }
    }
    let outcome = sync(&mut a, &mut b, CLEAN, 1);
    assert_eq!(outcome.differences.len(), 3);
    assert_eq!(outcome.complete, Some((3, 3)));
    // One node query per level (11 levels), one page per differing bucket.
    assert_eq!(outcome.queries, 11 + 3);
}

#[test]
fn a_silent_peer_times_out_after_the_configured_retries() {
    let mut config = anti_entropy::Config::new(NodeId(1));
    config.retry_ms = 50;
    config.max_retries = 3;
    let mut a = AntiEntropy::new(config).unwrap();
    let t0 = Instant::from_millis(10);
    a.handle_input(t0, Input::Command(Command::StartSync { peer: NodeId(9) }))
        .unwrap();
    let mut sends = 0;
    let mut failed = None;
    let mut now = t0;
    while failed.is_none() {
        while let Some(out) = a.poll_output() {
            match out {
                Output::Send { to, .. } => {
                    assert_eq!(to, NodeId(9));
                    sends += 1;
                }
                Output::Event(Event::SyncFailed { peer, reason }) => failed = Some((peer, reason)),
                other => panic!("unexpected {other:?}"),
            }
        }
        if failed.is_none() {
            let deadline = a.next_deadline().unwrap();
            assert_eq!(deadline, now.saturating_add_millis(50));
            now = deadline;
            a.handle_input(now, Input::Tick).unwrap();
        }
    }
    assert_eq!(sends, 4, "the query and three retransmissions");
    assert_eq!(failed, Some((NodeId(9), SyncFailure::Timeout)));
    assert_eq!(a.next_deadline(), None);
    assert_eq!(a.syncing_with().count(), 0);
}

#[test]
fn different_depths_fail_the_sync_with_the_peer_depth() {
    let mut a = replica(1, 4, &BTreeMap::new());
    let mut b = replica(2, 5, &BTreeMap::new());
    let outcome = sync(&mut a, &mut b, CLEAN, 0);
    assert_eq!(
        outcome.failed,
        Some(SyncFailure::DepthMismatch { remote: 5 })
    );
}

#[test]
fn a_malformed_page_fails_the_sync_and_stale_responses_are_ignored() {
    let data: BTreeMap<Vec<u8>, Hash> = [(b"k".to_vec(), [1; 32])].into();
    let mut a = replica(1, 0, &data);
    let now = Instant::ZERO;
    a.handle_input(now, Input::Command(Command::StartSync { peer: NodeId(2) }))
        .unwrap();
    let Some(Output::Send {
        message: Message::NodeQuery {
            session, request, ..
        },
        ..
    }) = a.poll_output()
    else {
        panic!("expected the root query");
    };
    // A response to another request is stale: ignored.
    let stale = Message::NodeHashes {
        session,
        request: request + 7,
        hashes: vec![[0; 32]],
    };
    a.handle_input(
        now,
        Input::Message {
            from: NodeId(2),
            message: stale,
        },
    )
    .unwrap();
    assert_eq!(a.poll_output(), None);
    // From another peer: ignored too.
    let spoofed = Message::NodeHashes {
        session,
        request,
        hashes: vec![[0; 32]],
    };
    a.handle_input(
        now,
        Input::Message {
            from: NodeId(3),
            message: spoofed.clone(),
        },
    )
    .unwrap();
    assert_eq!(a.poll_output(), None);
    // The real answer: the root differs, so the only bucket is asked for.
    a.handle_input(
        now,
        Input::Message {
            from: NodeId(2),
            message: spoofed,
        },
    )
    .unwrap();
    let Some(Output::Send {
        message: Message::BucketQuery { request, .. },
        ..
    }) = a.poll_output()
    else {
        panic!("expected a bucket query");
    };
    let unsorted = Message::BucketPage {
        session,
        request,
        entries: vec![(b"z".to_vec(), [1; 32]), (b"a".to_vec(), [1; 32])],
        more: false,
    };
    a.handle_input(
        now,
        Input::Message {
            from: NodeId(2),
            message: unsorted,
        },
    )
    .unwrap();
    assert_eq!(
        a.poll_output(),
        Some(Output::Event(Event::SyncFailed {
            peer: NodeId(2),
            reason: SyncFailure::BadResponse
        }))
    );
}

#[test]
fn bad_commands_and_bytes_are_typed_errors_that_change_nothing() {
    let mut config = anti_entropy::Config::new(NodeId(1));
    config.max_sessions = 1;
    config.max_key_len = 4;
    let mut a = AntiEntropy::new(config).unwrap();
    let now = Instant::ZERO;
    let start = |peer| Input::Command(Command::StartSync { peer: NodeId(peer) });
    assert_eq!(
        a.handle_input(now, start(1)),
        Err(anti_entropy::Error::SelfSync)
    );
    a.handle_input(now, start(2)).unwrap();
    assert_eq!(
        a.handle_input(now, start(2)),
        Err(anti_entropy::Error::AlreadySyncing { peer: NodeId(2) })
    );
    assert_eq!(
        a.handle_input(now, start(3)),
        Err(anti_entropy::Error::TooManySessions)
    );
    let long = Command::Update {
        key: b"12345".to_vec(),
        version: [0; 32],
    };
    assert_eq!(
        a.handle_input(now, Input::Command(long)),
        Err(anti_entropy::Error::KeyTooLong { len: 5 })
    );
    assert!(a.tree().is_empty());
    for garbage in [
        &[][..],
        &[1],
        &[9, 16, 0],
        &[1, 16, 7, 0],
        &[1, 16, 0, 1, 1, 1, 0],
    ] {
        assert!(matches!(
            a.handle_message(now, NodeId(2), garbage),
            Err(anti_entropy::Error::Wire(_))
        ));
    }
    // Queries that do not fit the tree are dropped, not answered.
    let out_of_range = Message::NodeQuery {
        session: 0,
        request: 1,
        depth: 10,
        level: 3,
        indexes: vec![8],
    };
    a.handle_input(
        now,
        Input::Message {
            from: NodeId(5),
            message: out_of_range,
        },
    )
    .unwrap();
    let too_many = Message::NodeQuery {
        session: 0,
        request: 1,
        depth: 10,
        level: 10,
        indexes: vec![0; 257],
    };
    a.handle_input(
        now,
        Input::Message {
            from: NodeId(5),
            message: too_many,
        },
    )
    .unwrap();
    let first = a.poll_output();
    assert!(
        matches!(first, Some(Output::Send { to: NodeId(2), .. })),
        "only the sync's own query: {first:?}"
    );
    assert_eq!(a.poll_output(), None);
    let bad_config = anti_entropy::Config {
        depth: 21,
        ..anti_entropy::Config::new(NodeId(1))
    };
    assert!(matches!(
        AntiEntropy::new(bad_config),
        Err(anti_entropy::Error::BadConfig { .. })
    ));
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let (a_data, b_data) = (
        (0..50u8)
            .map(|i| (vec![i], [i; 32]))
            .collect::<BTreeMap<_, _>>(),
        (25..75u8)
            .map(|i| (vec![i], [i; 32]))
            .collect::<BTreeMap<_, _>>(),
    );
    let faults = Faults {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.3,
    };
    let run = || {
        let (mut a, mut b) = (replica(1, 3, &a_data), replica(2, 3, &b_data));
        let o = sync(&mut a, &mut b, faults, 42);
        (o.differences, o.queries)
    };
    assert_eq!(run(), run());
    assert_eq!(run().0.len(), 50);
}
