//! Raft membership changes (§6 of the paper; the thesis, chapter 4), rule
//! by rule: learners, single-server changes, joint consensus, a leader that
//! removes itself, removed servers that cannot disrupt, and memberships
//! that take effect when appended, roll back when truncated and survive
//! restarts and snapshots.

use consensio::quorum::{JointConfig, MajorityConfig};
use consensio::raft::{
    self, ArenaLog, Body, Command, Entry, EntryKind, Event, LogStorage, Membership,
    MembershipChange, Message, RaftNode, Role,
};
use consensio::testing::{Cluster, Faults};
use consensio::{Input, Instant, NodeId, Participant, Restore};

type Node = RaftNode<ArenaLog>;

fn ids(v: &[u64]) -> Vec<NodeId> {
    v.iter().copied().map(NodeId).collect()
}

/// Node `id` of a cluster whose first voters are `voters` (`id` among
/// them or not: a node that joins later).
fn config(id: u64, voters: &[u64]) -> (raft::Config, ArenaLog) {
    let voters = MajorityConfig::from_voters(ids(voters)).unwrap();
    (
        raft::Config::new(NodeId(id), voters),
        ArenaLog::new(10_000, 1 << 20),
    )
}

fn membership(voters: &[u64], outgoing: &[u64], learners: &[u64]) -> Membership {
    let half = |v: &[u64]| MajorityConfig::from_voters(ids(v)).unwrap();
    Membership::new(
        JointConfig::new(half(voters), half(outgoing)),
        ids(learners),
    )
    .unwrap()
}

/// Voters 1 to 3 and `joiners` that are not members yet, n1 elected.
fn cluster(joiners: &[u64]) -> Cluster<Node> {
    let mut c = Cluster::new(0, Faults::NONE);
    for id in 1..=3 {
        c.add(config(id, &[1, 2, 3]));
    }
    for &id in joiners {
        c.add(config(id, &[1, 2, 3]));
    }
    for id in c.ids().collect::<Vec<_>>() {
        c.tick(id);
    }
    elect(&mut c, 1);
    c
}

fn elect(c: &mut Cluster<Node>, id: u64) {
    for _ in 0..10 {
        if c.node(NodeId(id)).role() == Role::Leader {
            return;
        }
        c.fire(NodeId(id));
        c.deliver_all();
    }
    panic!("n{id} was not elected");
}

fn change(c: &mut Cluster<Node>, leader: u64, change: MembershipChange) -> Result<(), raft::Error> {
    let result = c.command(NodeId(leader), Command::ChangeMembership(change));
    c.deliver_all();
    result
}

fn propose(c: &mut Cluster<Node>, leader: u64, data: &[u8]) {
    c.command(NodeId(leader), Command::Propose(data.to_vec()))
        .unwrap();
    c.deliver_all();
}

/// Lets heartbeats carry the commit index to everyone.
fn settle(c: &mut Cluster<Node>, leader: u64) {
    c.advance_ticking(120, &[NodeId(leader)]);
}

fn applied(c: &Cluster<Node>, id: u64) -> Vec<Vec<u8>> {
    c.events_of(NodeId(id))
        .filter_map(|e| match e {
            Event::Committed { data, .. } if !data.is_empty() => Some(data.clone()),
            _ => None,
        })
        .collect()
}

fn committed_memberships(c: &Cluster<Node>, id: u64) -> Vec<Membership> {
    c.events_of(NodeId(id))
        .filter_map(|e| match e {
            Event::MembershipCommitted { membership, .. } => Some(membership.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_learner_receives_the_log_but_never_votes_or_campaigns() {
    let mut c = cluster(&[4]);
    change(&mut c, 1, MembershipChange::AddLearner(NodeId(4))).unwrap();
    propose(&mut c, 1, b"x");
    settle(&mut c, 1);
    assert_eq!(
        applied(&c, 4),
        [b"x".to_vec()],
        "the learner applies the log"
    );
    let m = membership(&[1, 2, 3], &[], &[4]);
    assert_eq!(c.node(NodeId(4)).membership(), &m);
    assert_eq!(committed_memberships(&c, 4), std::slice::from_ref(&m));
    // Cut off from everyone, it never campaigns.
    c.isolate(NodeId(4));
    c.advance_ticking(5_000, &[NodeId(4)]);
    assert_eq!(c.node(NodeId(4)).role(), Role::Follower);
    assert_eq!(c.node(NodeId(4)).term(), c.node(NodeId(1)).term());
    // Asked for a vote, it refuses.
    let mut learner = c.node(NodeId(4)).clone();
    let term = learner.term() + 1;
    let request = Message {
        term,
        body: Body::RequestVote {
            last_log_index: 100,
            last_log_term: term,
            transfer: true,
        },
    };
    let at = c.now();
    learner
        .handle_input(
            at,
            Input::Message {
                from: NodeId(2),
                message: request,
            },
        )
        .unwrap();
    let granted = std::iter::from_fn(|| learner.poll_output()).any(|o| {
        matches!(
            o,
            consensio::Output::Send {
                message: Message {
                    body: Body::RequestVoteResponse { granted: true },
                    ..
                },
                ..
            }
        )
    });
    assert!(!granted, "a learner grants no vote");
}

#[test]
fn a_learner_is_promoted_only_once_it_has_caught_up() {
    let mut c = cluster(&[4]);
    c.isolate(NodeId(4));
    change(&mut c, 1, MembershipChange::AddLearner(NodeId(4))).unwrap();
    propose(&mut c, 1, b"x");
    settle(&mut c, 1);
    let refused = change(&mut c, 1, MembershipChange::Promote(NodeId(4)));
    assert!(
        matches!(
            refused,
            Err(raft::Error::LearnerBehind { id: NodeId(4), .. })
        ),
        "{refused:?}"
    );
    c.heal();
    settle(&mut c, 1);
    change(&mut c, 1, MembershipChange::Promote(NodeId(4))).unwrap();
    settle(&mut c, 1);
    assert_eq!(
        c.node(NodeId(4)).membership(),
        &membership(&[1, 2, 3, 4], &[], &[])
    );
    // Four voters: a commit needs three of them.
    c.isolate(NodeId(2));
    c.isolate(NodeId(3));
    c.command(NodeId(1), Command::Propose(b"y".to_vec()))
        .unwrap();
    settle(&mut c, 1);
    assert_eq!(applied(&c, 1), [b"x".to_vec()], "two of four do not commit");
    c.heal();
    settle(&mut c, 1);
    assert_eq!(applied(&c, 1), [b"x".to_vec(), b"y".to_vec()]);
}

/// Thesis §4.1: one change at a time, and only after the leader has
/// committed an entry of its own term.
#[test]
fn a_change_waits_for_the_last_one_to_commit() {
    let mut c = cluster(&[4, 5]);
    c.isolate(NodeId(2));
    c.isolate(NodeId(3));
    change(&mut c, 1, MembershipChange::AddLearner(NodeId(4))).unwrap();
    assert_eq!(
        change(&mut c, 1, MembershipChange::AddLearner(NodeId(5))),
        Err(raft::Error::MembershipChangePending)
    );
    c.heal();
    settle(&mut c, 1);
    change(&mut c, 1, MembershipChange::AddLearner(NodeId(5))).unwrap();
    settle(&mut c, 1);
    assert!(matches!(
        change(&mut c, 1, MembershipChange::AddLearner(NodeId(4))),
        Err(raft::Error::BadMembershipChange { .. })
    ));
    assert!(matches!(
        change(&mut c, 2, MembershipChange::AddLearner(NodeId(6))),
        Err(raft::Error::NotLeader { .. })
    ));
}

/// Thesis §4.2.2: a leader that removes itself manages the cluster until
/// the change commits, without counting itself, then steps down; the rest
/// elect a leader, and the removed server cannot disrupt them (§4.2.3).
#[test]
fn a_removed_leader_steps_down_once_its_removal_commits_and_cannot_disrupt() {
    let mut c = cluster(&[]);
    propose(&mut c, 1, b"x");
    change(&mut c, 1, MembershipChange::Remove(NodeId(1))).unwrap();
    settle(&mut c, 1);
    assert_eq!(c.node(NodeId(1)).role(), Role::Follower);
    assert_eq!(
        c.node(NodeId(2)).membership(),
        &membership(&[2, 3], &[], &[])
    );
    elect(&mut c, 2);
    let term = c.node(NodeId(2)).term();
    propose(&mut c, 2, b"y");
    settle(&mut c, 2);
    assert_eq!(applied(&c, 3), [b"x".to_vec(), b"y".to_vec()]);
    // n1 hears nothing more and never campaigns (it is no voter).
    c.advance_ticking(5_000, &[NodeId(1), NodeId(2)]);
    assert_eq!(c.node(NodeId(2)).role(), Role::Leader);
    assert_eq!(c.node(NodeId(2)).term(), term, "no disruption");
}

/// §6: a joint change moves to any voters through `C_old,new`; the leader
/// appends `C_new` itself once that commits, and a leader outside
/// `C_new` then steps down.
#[test]
fn a_joint_change_replaces_voters_through_both_majorities() {
    let mut c = cluster(&[4, 5]);
    for id in [4, 5] {
        change(&mut c, 1, MembershipChange::AddLearner(NodeId(id))).unwrap();
        settle(&mut c, 1);
    }
    propose(&mut c, 1, b"x");
    settle(&mut c, 1);
    let joint = MembershipChange::Joint {
        voters: ids(&[3, 4, 5]),
        learners: ids(&[2]),
    };
    // While the old half cannot reach a majority, nothing commits.
    c.isolate(NodeId(2));
    c.isolate(NodeId(3));
    change(&mut c, 1, joint).unwrap();
    assert!(
        c.node(NodeId(1)).membership().is_joint(),
        "in effect when appended"
    );
    settle(&mut c, 1);
    assert!(
        committed_memberships(&c, 4).len() == 2,
        "C_old,new not committed yet"
    );
    c.heal();
    settle(&mut c, 1);
    settle(&mut c, 1);
    let new = membership(&[3, 4, 5], &[], &[2]);
    let seen = committed_memberships(&c, 5);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen[2].is_joint());
    assert_eq!(seen[3], new);
    assert_eq!(
        c.node(NodeId(1)).role(),
        Role::Follower,
        "n1 left with C_new"
    );
    elect(&mut c, 4);
    propose(&mut c, 4, b"y");
    settle(&mut c, 4);
    assert_eq!(applied(&c, 2), [b"x".to_vec(), b"y".to_vec()], "n2 learns");
    assert_eq!(c.node(NodeId(3)).membership(), &new);
}

/// Thesis §4.1: a server uses the latest membership in its log, committed
/// or not, and the one before it again when a new leader's log cuts the
/// entry away.
#[test]
fn a_membership_takes_effect_when_appended_and_is_undone_when_truncated() {
    let (config, log) = config(2, &[1, 2, 3]);
    let mut node = Node::restore((config, log), &[]).unwrap();
    let now = Instant::from_millis(10);
    let feed = |node: &mut Node, term: u64, body: Body| {
        let message = Message { term, body };
        node.handle_input(
            now,
            Input::Message {
                from: NodeId(1),
                message,
            },
        )
        .unwrap();
        while node.poll_output().is_some() {}
    };
    let wider = membership(&[1, 2, 3], &[], &[4]);
    let entry = Entry {
        term: 1,
        kind: EntryKind::Membership,
        data: postcard::to_allocvec(&wider).unwrap(),
    };
    feed(
        &mut node,
        1,
        Body::AppendEntries {
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![entry],
            leader_commit: 0,
        },
    );
    assert_eq!(node.membership(), &wider);
    feed(
        &mut node,
        2,
        Body::AppendEntries {
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![Entry::normal(2, vec![])],
            leader_commit: 0,
        },
    );
    assert_eq!(node.membership(), &membership(&[1, 2, 3], &[], &[]));
    // A membership entry that holds no membership: dropped whole.
    let garbage = Entry {
        term: 2,
        kind: EntryKind::Membership,
        data: vec![0xff; 4],
    };
    feed(
        &mut node,
        2,
        Body::AppendEntries {
            prev_log_index: 1,
            prev_log_term: 2,
            entries: vec![garbage],
            leader_commit: 0,
        },
    );
    assert_eq!(node.log().last_index(), 1);
}

/// Restarts rebuild the membership from the records: from the log's
/// membership entries, and from a snapshot that covers them.
#[test]
fn the_membership_survives_restarts_and_snapshots() {
    let mut c = cluster(&[4]);
    change(&mut c, 1, MembershipChange::AddLearner(NodeId(4))).unwrap();
    settle(&mut c, 1);
    let m = membership(&[1, 2, 3], &[], &[4]);
    c.crash(NodeId(2));
    c.restart_from_disk(NodeId(2));
    assert_eq!(c.node(NodeId(2)).membership(), &m);
    let applied = c.node(NodeId(1)).applied_index();
    let compact = c.node_mut(NodeId(1)).compact(applied, b"state".to_vec());
    compact.unwrap();
    assert_eq!(c.node(NodeId(1)).snapshot().unwrap().membership, m);
    c.crash(NodeId(1));
    c.restart_from_disk(NodeId(1));
    assert_eq!(c.node(NodeId(1)).membership(), &m);
}

/// A node joining a running cluster is made from the configuration it
/// joins (it is not a member of it) and learns the membership from the
/// leader's snapshot when the log it needs is compacted away.
#[test]
fn a_joining_node_learns_the_membership_from_a_snapshot() {
    let mut c = cluster(&[]);
    propose(&mut c, 1, b"x");
    settle(&mut c, 1);
    let applied = c.node(NodeId(1)).applied_index();
    c.node_mut(NodeId(1))
        .compact(applied, b"state".to_vec())
        .unwrap();
    c.add(config(4, &[1, 2, 3]));
    c.tick(NodeId(4));
    change(&mut c, 1, MembershipChange::AddLearner(NodeId(4))).unwrap();
    settle(&mut c, 1);
    settle(&mut c, 1);
    let node = c.node(NodeId(4));
    assert!(node.snapshot().is_some(), "installed the leader's snapshot");
    assert_eq!(node.membership(), &membership(&[1, 2, 3], &[], &[4]));
    assert_eq!(node.commit_index(), c.node(NodeId(1)).commit_index());
}

/// The leader replicates to a server it removes until the removal
/// commits, so the server learns it and never campaigns again.
#[test]
fn a_removed_follower_learns_its_removal_and_stays_quiet() {
    let mut c = cluster(&[]);
    change(&mut c, 1, MembershipChange::Remove(NodeId(3))).unwrap();
    settle(&mut c, 1);
    let without = membership(&[1, 2], &[], &[]);
    assert_eq!(c.node(NodeId(3)).membership(), &without);
    let term = c.node(NodeId(1)).term();
    c.isolate(NodeId(1));
    c.advance_ticking(5_000, &[NodeId(3)]);
    assert_eq!(c.node(NodeId(3)).term(), term, "n3 never campaigns");
    assert_eq!(c.node(NodeId(3)).role(), Role::Follower);
}

/// Thesis §4.2.3: a server removed while cut off never learns it, times
/// out and campaigns with ever higher terms; the members drop its
/// requests, so the cluster's leader and term are undisturbed.
#[test]
fn a_removed_server_that_never_learned_it_cannot_disrupt_the_cluster() {
    let mut c = Cluster::new(0, Faults::NONE);
    for id in 1..=3 {
        let (mut config, log) = config(id, &[1, 2, 3]);
        config.pre_vote = false; // its vote requests raise terms directly
        c.add((config, log));
    }
    for id in 1..=3 {
        c.tick(NodeId(id));
    }
    elect(&mut c, 1);
    c.isolate(NodeId(3));
    change(&mut c, 1, MembershipChange::Remove(NodeId(3))).unwrap();
    settle(&mut c, 1);
    assert_eq!(
        c.node(NodeId(1)).membership(),
        &membership(&[1, 2], &[], &[])
    );
    assert!(
        c.node(NodeId(3)).membership().is_voter(NodeId(3)),
        "n3 missed it"
    );
    let term = c.node(NodeId(1)).term();
    c.advance_ticking(1_000, &[NodeId(3)]);
    assert!(c.node(NodeId(3)).term() > term, "n3 campaigns, cut off");
    c.heal();
    c.advance_ticking(3_000, &[NodeId(1), NodeId(3)]);
    assert_eq!(c.node(NodeId(1)).role(), Role::Leader);
    assert_eq!(c.node(NodeId(1)).term(), term, "the members ignore n3");
    assert_eq!(c.node(NodeId(2)).term(), term);
}
