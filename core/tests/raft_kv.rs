//! Client interaction with Raft's key-value store, after chapter 6 of
//! Ongaro's thesis: requests routed to the leader (§6.2), exactly-once
//! writes through client sessions (§6.3), and linearizable reads (§6.4).

use consensio::quorum::MajorityConfig;
use consensio::raft::{
    self, ArenaLog, KvLimits, KvNode, KvOp, KvResponse, KvResult, LogStorage, Role, kv,
};
use consensio::testing::{self, Faults};
use consensio::{NodeId, Participant};

type Node = KvNode<ArenaLog>;

fn config(id: u64) -> raft::Config {
    raft::Config::new(
        NodeId(id),
        MajorityConfig::from_voters((1..=3).map(NodeId)).unwrap(),
    )
}

fn limits() -> KvLimits {
    KvLimits {
        session_expiry_ms: 10_000,
        ..KvLimits::default()
    }
}

/// Three nodes on one clock, a network that delivers in order unless a
/// link is cut, and disks: `consensio::testing`'s cluster with a perfect
/// network, and the client's view of it.
struct Cluster {
    net: testing::Cluster<Node>,
}

impl Cluster {
    fn new() -> Self {
        let mut c = Cluster {
            net: testing::Cluster::new(0, Faults::NONE),
        };
        for id in 1..=3 {
            let id = c
                .net
                .add((config(id), ArenaLog::new(1_000, 1 << 20), limits()));
            c.net.tick(id);
        }
        c
    }

    fn node(&self, id: u64) -> &Node {
        self.net.node(NodeId(id))
    }

    /// Runs `ms` of time, ticking every live node when due.
    fn run(&mut self, ms: u64) {
        self.net.advance(ms);
    }

    fn leader(&self) -> Option<u64> {
        self.net
            .live()
            .find(|n| n.raft().role() == Role::Leader)
            .map(|n| n.id().0)
    }

    fn command(&mut self, id: u64, command: kv::Command) {
        self.net.command(NodeId(id), command).unwrap();
        self.net.deliver_all();
    }

    /// The reply to request `req`, if one came.
    fn reply(&self, req: u64) -> Option<&KvResult> {
        self.net
            .events()
            .iter()
            .rev()
            .find_map(|(_, _, e)| match e {
                kv::Event::Reply { id, result } if *id == req => Some(result),
                _ => None,
            })
    }

    fn open_session(&mut self, at: u64, req: u64) -> u64 {
        self.command(at, kv::Command::OpenSession { id: req });
        match self.reply(req) {
            Some(Ok(KvResponse::SessionOpened { client })) => *client,
            other => panic!("open session: {other:?}"),
        }
    }

    fn crash(&mut self, id: u64) {
        self.net.crash(NodeId(id));
    }

    fn restart(&mut self, id: u64) {
        self.net.restart_from_disk(NodeId(id));
        self.net.tick(NodeId(id));
    }
}

fn cas(expected: Option<&str>, new: &str) -> KvOp {
    KvOp::Cas {
        key: b"k".to_vec(),
        expected: expected.map(|e| e.as_bytes().to_vec()),
        new: Some(new.as_bytes().to_vec()),
    }
}

fn started() -> (Cluster, u64) {
    let mut c = Cluster::new();
    c.run(1_000);
    let leader = c.leader().expect("a leader within a second");
    (c, leader)
}

#[test]
fn s6_2_a_follower_refuses_writes_and_names_the_leader() {
    let (mut c, leader) = started();
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    c.command(follower, kv::Command::OpenSession { id: 1 });
    assert_eq!(
        c.reply(1),
        Some(&Err(kv::Error::NotLeader {
            leader_hint: Some(NodeId(leader))
        }))
    );
}

/// Thesis §6.4.1: a follower serves a linearizable read from its own store
/// at the leader's read index, so a write acknowledged before the read is
/// seen even if the follower had not applied it when the read arrived.
#[test]
fn s6_4_1_a_follower_reads_from_its_store_what_was_acknowledged_before() {
    let (mut c, leader) = started();
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    let client = c.open_session(leader, 1);
    c.command(
        leader,
        kv::Command::Write {
            id: 2,
            client,
            seq: 1,
            op: cas(None, "a"),
        },
    );
    assert_eq!(c.reply(2), Some(&Ok(KvResponse::Swapped(true))));
    assert_eq!(
        c.node(follower).store().get(b"k"),
        None,
        "not applied there yet"
    );
    for (id, lease) in [(3, false), (4, true)] {
        c.command(
            follower,
            kv::Command::Get {
                id,
                key: b"k".to_vec(),
                lease,
            },
        );
        assert_eq!(
            c.reply(id),
            Some(&Ok(KvResponse::Value(Some(b"a".to_vec())))),
            "lease: {lease}"
        );
    }
}

#[test]
fn s6_3_a_write_retried_at_a_new_leader_after_its_leader_crashed_applies_once() {
    let (mut c, leader) = started();
    let client = c.open_session(leader, 1);
    // A compare-and-set is not idempotent: applied twice, the second would
    // answer "not swapped". The first copy commits everywhere, but the
    // leader crashes before its answer reaches the client.
    c.command(
        leader,
        kv::Command::Write {
            id: 2,
            client,
            seq: 1,
            op: cas(None, "a"),
        },
    );
    c.run(100); // heartbeats carry the commit index to the followers
    c.net.take_events();
    c.crash(leader);
    for node in c.net.live() {
        assert_eq!(
            node.store().get(b"k"),
            Some(&b"a"[..]),
            "applied once already"
        );
    }
    c.run(2_000);
    let new = c.leader().expect("the other two elect a leader");
    assert_ne!(new, leader);
    // The client retries at the new leader, with the same sequence.
    c.command(
        new,
        kv::Command::Write {
            id: 3,
            client,
            seq: 1,
            op: cas(None, "a"),
        },
    );
    c.run(200);
    assert_eq!(
        c.reply(3),
        Some(&Ok(KvResponse::Swapped(true))),
        "the saved answer"
    );
    for node in c.net.live() {
        assert_eq!(node.store().get(b"k"), Some(&b"a"[..]));
    }
    // The next write goes ahead; an older sequence is refused as stale.
    c.command(
        new,
        kv::Command::Write {
            id: 4,
            client,
            seq: 2,
            op: cas(Some("a"), "b"),
        },
    );
    c.run(200);
    assert_eq!(c.reply(4), Some(&Ok(KvResponse::Swapped(true))));
    c.command(
        new,
        kv::Command::Write {
            id: 5,
            client,
            seq: 1,
            op: cas(None, "a"),
        },
    );
    c.run(200);
    assert_eq!(c.reply(5), Some(&Err(kv::Error::StaleSequence)));
    // The crashed leader comes back, rebuilds its store from the log, and
    // holds what the others hold.
    c.restart(leader);
    c.run(1_000);
    assert_eq!(c.node(leader).store().get(b"k"), Some(&b"b"[..]));
}

#[test]
fn s6_3_a_write_whose_session_expired_is_refused_not_applied() {
    let (mut c, leader) = started();
    let client = c.open_session(leader, 1);
    c.command(
        leader,
        kv::Command::Write {
            id: 2,
            client,
            seq: 1,
            op: cas(None, "a"),
        },
    );
    c.run(100);
    assert_eq!(c.reply(2), Some(&Ok(KvResponse::Swapped(true))));
    // Log time moves on past the expiry with another client's writes.
    c.run(11_000);
    let other = c.open_session(leader, 3);
    c.run(100);
    c.command(
        leader,
        kv::Command::Write {
            id: 4,
            client,
            seq: 1,
            op: cas(None, "a"),
        },
    );
    c.run(100);
    assert_eq!(c.reply(4), Some(&Err(kv::Error::SessionExpired)));
    assert_ne!(other, client);
}

#[test]
fn s6_4_a_leader_cut_off_from_the_quorum_does_not_serve_a_stale_read() {
    let (mut c, leader) = started();
    let client = c.open_session(leader, 1);
    let others: Vec<u64> = (1..=3).filter(|&n| n != leader).collect();
    for &n in &others {
        c.net.cut(NodeId(leader), NodeId(n));
        c.net.cut(NodeId(n), NodeId(leader));
    }
    // The majority elects a new leader and writes "new".
    c.run(2_000);
    let new = others
        .iter()
        .copied()
        .find(|&n| c.node(n).raft().role() == Role::Leader)
        .unwrap();
    c.command(
        new,
        kv::Command::Write {
            id: 2,
            client,
            seq: 1,
            op: cas(None, "new"),
        },
    );
    c.run(200);
    assert_eq!(c.reply(2), Some(&Ok(KvResponse::Swapped(true))));
    // The old leader stepped down (check-quorum) and cannot answer with
    // its stale store, neither by ReadIndex nor by lease.
    for (req, lease) in [(3, false), (4, true)] {
        c.command(
            leader,
            kv::Command::Get {
                id: req,
                key: b"k".to_vec(),
                lease,
            },
        );
        c.run(500);
        assert!(
            matches!(
                c.reply(req),
                Some(Err(kv::Error::NotLeader { .. } | kv::Error::Retry))
            ),
            "{:?}",
            c.reply(req)
        );
    }
    c.command(
        new,
        kv::Command::Get {
            id: 5,
            key: b"k".to_vec(),
            lease: false,
        },
    );
    c.run(200);
    assert_eq!(
        c.reply(5),
        Some(&Ok(KvResponse::Value(Some(b"new".to_vec()))))
    );
}

#[test]
fn s6_3_sequence_zero_is_refused_before_it_costs_an_entry_and_one_comes_first() {
    let (mut c, leader) = started();
    let client = c.open_session(leader, 1);
    let last = c.node(leader).raft().log().last_index();
    let write = |id, seq, value: &str| kv::Command::Write {
        id,
        client,
        seq,
        op: KvOp::Put {
            key: b"k".to_vec(),
            value: value.as_bytes().to_vec(),
        },
    };
    c.command(leader, write(2, 0, "zero"));
    assert_eq!(c.reply(2), Some(&Err(kv::Error::ZeroSequence)));
    assert_eq!(
        c.node(leader).raft().log().last_index(),
        last,
        "nothing proposed"
    );
    c.command(leader, write(3, 1, "one"));
    c.run(100);
    assert_eq!(c.reply(3), Some(&Ok(KvResponse::Done)));
    assert_eq!(c.node(leader).store().get(b"k"), Some(&b"one"[..]));
}

#[test]
fn s6_4_a_lease_read_without_check_quorum_is_refused_for_good_not_as_busy() {
    let voters = MajorityConfig::from_voters([NodeId(1)]).unwrap();
    let mut config = raft::Config::new(NodeId(1), voters);
    config.check_quorum = false;
    let mut net = testing::Cluster::<Node>::new(0, Faults::NONE);
    let id = net.add((config, ArenaLog::new(100, 1 << 16), limits()));
    net.tick(id);
    net.fire(id);
    assert_eq!(net.node(id).raft().role(), Role::Leader);
    let get = |id, lease| kv::Command::Get {
        id,
        key: b"k".to_vec(),
        lease,
    };
    net.command(id, get(1, true)).unwrap();
    net.command(id, get(2, false)).unwrap();
    net.deliver_all();
    let reply = |req| {
        net.events_of(id).find_map(|e| match e {
            kv::Event::Reply { id, result } if *id == req => Some(result.clone()),
            _ => None,
        })
    };
    assert_eq!(reply(1), Some(Err(kv::Error::LeaseReadsDisabled)));
    assert_eq!(
        reply(2),
        Some(Ok(KvResponse::Value(None))),
        "ReadIndex serves it"
    );
}

#[test]
fn inputs_wait_while_the_stores_output_queue_is_full() {
    use consensio::{Input, Instant};
    let voters = MajorityConfig::from_voters([NodeId(1)]).unwrap();
    let mut config = raft::Config::new(NodeId(1), voters);
    config.max_outputs = 8;
    let mut node = Node::new(config, ArenaLog::new(100, 1 << 16), limits()).unwrap();
    node.handle_input(Instant::ZERO, Input::Tick).unwrap();
    let due = node.next_deadline().unwrap();
    node.handle_input(due, Input::Tick).unwrap();
    assert_eq!(node.raft().role(), Role::Leader);
    // Nobody drains: sessions are opened until the node refuses input.
    let mut accepted = 0;
    let refused = (0..100).find_map(|id| {
        match node.handle_input(due, Input::Command(kv::Command::OpenSession { id })) {
            Ok(()) => {
                accepted += 1;
                None
            }
            Err(e) => Some(e),
        }
    });
    assert_eq!(refused, Some(raft::Error::Backpressure { max: 8 }));
    assert!(accepted < 8, "{accepted} inputs accepted past the bound");
    let queued = std::iter::from_fn(|| node.poll_output()).count();
    assert!(queued < 8 + 8, "{queued} outputs queued");
    node.handle_input(due, Input::Tick).unwrap();
}

/// §7 with the store: snapshots carry the sessions, so a follower that
/// catches up by the leader's snapshot, and nodes restarted from their own,
/// answer a retried write from the saved response instead of applying it
/// again.
#[test]
fn s7_snapshots_carry_the_store_and_its_sessions_so_a_retry_after_one_applies_once() {
    let (mut c, leader) = started();
    for id in 1..=3 {
        c.net.node_mut(NodeId(id)).set_snapshot_interval(5);
    }
    let mut others = (1..=3).filter(|&id| id != leader);
    let (f, g) = (others.next().unwrap(), others.next().unwrap());
    c.crash(f);
    let client = c.open_session(leader, 1);
    let swap = |id| kv::Command::Write {
        id,
        client,
        seq: 1,
        op: cas(None, "a"),
    };
    c.command(leader, swap(2));
    c.run(100);
    assert_eq!(c.reply(2), Some(&Ok(KvResponse::Swapped(true))));
    let other = c.open_session(leader, 3);
    for seq in 1..=12 {
        let op = KvOp::Put {
            key: format!("k{seq}").into_bytes(),
            value: b"v".to_vec(),
        };
        let write = kv::Command::Write {
            id: 10 + seq,
            client: other,
            seq,
            op,
        };
        c.command(leader, write);
    }
    c.run(100);
    let snapshot_index = c.node(leader).raft().snapshot().map_or(0, |s| s.index);
    assert!(
        snapshot_index > 10,
        "the leader snapshotted: {snapshot_index}"
    );
    assert!(c.node(leader).raft().log().first_index() > 10);
    // The follower that was down needs entries the leader dropped.
    c.restart(f);
    c.run(500);
    let installed = c
        .net
        .events_of(NodeId(f))
        .any(|e| matches!(e, kv::Event::Raft(raft::Event::ApplySnapshot { .. })));
    assert!(installed, "n{f} caught up by snapshot");
    assert_eq!(c.node(f).store(), c.node(leader).store());
    // The other follower restarts from its own snapshot and the records
    // after it.
    c.restart(g);
    c.run(500);
    assert_eq!(c.node(g).store(), c.node(leader).store());
    // The leader goes; the write is retried at whoever leads next.
    c.crash(leader);
    c.run(2_000);
    let new = c.leader().expect("a new leader");
    c.command(new, swap(99));
    c.run(200);
    assert_eq!(
        c.reply(99),
        Some(&Ok(KvResponse::Swapped(true))),
        "the saved answer, from the snapshot's sessions"
    );
    for node in c.net.live() {
        assert_eq!(node.store().get(b"k"), Some(&b"a"[..]));
        assert_eq!(node.store().len(), 13);
    }
}
