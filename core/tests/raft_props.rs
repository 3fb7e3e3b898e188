//! Bad input never panics a Raft node: random frames, and random sequences
//! of hostile messages (huge terms and indexes, entries far beyond the log,
//! oversized batches, non-members, itself), ticks and commands. The node's
//! invariants hold after every input, and two nodes fed the same inputs
//! produce the same outputs.

use consensio::quorum::MajorityConfig;
use consensio::raft::{
    self, Body, Command, Entry, FixedLog, LogStorage, Message, RaftNode, RaftOutput, Role,
};
use consensio::{Input, Instant, NodeId, Output, Participant, wire};
use proptest::prelude::*;

/// A small log, so that a full log is reached too.
type Node = RaftNode<FixedLog<48, 512>>;

fn node() -> Node {
    let voters = MajorityConfig::from_voters([1, 2, 3].map(NodeId)).unwrap();
    let mut config = raft::Config::new(NodeId(1), voters);
    config.max_entries_per_message = 8;
    config.max_bytes_per_message = 64;
    config.max_entry_bytes = 16;
    config.max_pending_reads = 4;
    config.max_uncommitted_entries = 16;
    Node::new(config, FixedLog::new()).unwrap()
}

fn drain(node: &mut Node) -> Vec<RaftOutput> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// Node 1 made leader of term 1 by votes from node 2, at 1000 ms.
fn leader() -> Node {
    let mut n = node();
    n.handle_input(Instant::ZERO, Input::Tick).unwrap();
    let now = Instant::from_millis(1_000);
    n.handle_input(now, Input::Tick).unwrap();
    for (term, body) in [
        (1, Body::PreVoteResponse { granted: true }),
        (1, Body::RequestVoteResponse { granted: true }),
    ] {
        let message = Message { term, body };
        let input = Input::Message {
            from: NodeId(2),
            message,
        };
        n.handle_input(now, input).unwrap();
    }
    assert_eq!(n.role(), Role::Leader);
    drain(&mut n);
    n
}

/// Mostly small numbers, sometimes the extremes.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0..12u64,
        1 => any::<u64>(),
        1 => Just(u64::MAX),
        1 => Just(u64::MAX - 1),
    ]
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    let entry = (number(), proptest::collection::vec(any::<u8>(), 0..40))
        .prop_map(|(term, data)| Entry::normal(term, data));
    proptest::collection::vec(entry, 0..70)
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (number(), number()).prop_map(|(last_log_index, last_log_term)| Body::PreVote {
            last_log_index,
            last_log_term
        }),
        any::<bool>().prop_map(|granted| Body::PreVoteResponse { granted }),
        (number(), number(), any::<bool>()).prop_map(
            |(last_log_index, last_log_term, transfer)| Body::RequestVote {
                last_log_index,
                last_log_term,
                transfer,
            }
        ),
        any::<bool>().prop_map(|granted| Body::RequestVoteResponse { granted }),
        (number(), number(), entries(), number()).prop_map(
            |(prev_log_index, prev_log_term, entries, leader_commit)| Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit
            }
        ),
        number().prop_map(|match_index| Body::AppendAccepted { match_index }),
        (number(), number(), proptest::option::of(number())).prop_map(
            |(prev_log_index, conflict_index, conflict_term)| Body::AppendRejected {
                prev_log_index,
                conflict_index,
                conflict_term
            }
        ),
        (number(), number()).prop_map(|(leader_commit, round)| Body::Heartbeat {
            leader_commit,
            round
        }),
        number().prop_map(|round| Body::HeartbeatResponse { round }),
        Just(Body::TimeoutNow),
    ]
}

#[derive(Clone, Debug)]
enum Step {
    Message { from: u64, message: Message },
    Tick { advance_ms: u64 },
    Command(Command),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (prop_oneof![1..=3u64, Just(9)], number(), body())
            .prop_map(|(from, term, body)| Step::Message { from, message: Message { term, body } }),
        2 => (0..400u64).prop_map(|advance_ms| Step::Tick { advance_ms }),
        2 => prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Command::Propose),
            (0..4u64).prop_map(|id| Command::Read { id }),
            (0..4u64).prop_map(|id| Command::LeaseRead { id }),
            prop_oneof![1..=3u64, Just(9)].prop_map(|to| Command::TransferLeadership {
                to: NodeId(to)
            }),
        ]
        .prop_map(Step::Command),
    ]
}

/// Feeds `steps` and checks the invariants after each; returns every output.
fn drive(mut node: Node, steps: &[Step]) -> Vec<RaftOutput> {
    let mut now = Instant::from_millis(1_000);
    let mut all = Vec::new();
    for step in steps {
        let (term, commit) = (node.term(), node.commit_index());
        let input = match step.clone() {
            Step::Message { from, message } => Input::Message {
                from: NodeId(from),
                message,
            },
            Step::Tick { advance_ms } => {
                now = now.saturating_add_millis(advance_ms);
                Input::Tick
            }
            Step::Command(command) => Input::Command(command),
        };
        let _ = node.handle_input(now, input);
        let outputs = drain(&mut node);
        assert!(
            outputs.len() <= 64,
            "{} outputs from one input",
            outputs.len()
        );
        assert!(node.term() >= term, "the term went back");
        assert!(node.commit_index() >= commit, "the commit index went back");
        assert!(node.commit_index() <= node.log().last_index());
        assert!(node.applied_index() <= node.commit_index());
        if node.role() == Role::Leader {
            assert_eq!(node.leader(), Some(NodeId(1)));
        }
        for output in &outputs {
            if let Output::Send { message, .. } = output {
                wire::encode_to_vec(message).expect("every message fits a frame");
            }
        }
        all.extend(outputs);
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_frames_are_rejected_or_handled_never_panic(
        frames in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..80)),
            1..30,
        ),
        as_leader: bool,
    ) {
        let mut node = if as_leader { leader() } else { node() };
        for (with_header, body) in frames {
            let mut frame = if with_header { vec![wire::WIRE_VERSION, wire::kind::RAFT] } else { Vec::new() };
            frame.extend(body);
            let _ = node.handle_message(Instant::from_millis(1_000), NodeId(2), &frame);
            drain(&mut node);
        }
    }

    #[test]
    fn random_inputs_keep_the_invariants_and_replay_identically(
        steps in proptest::collection::vec(step(), 1..60),
        as_leader: bool,
    ) {
        let start = if as_leader { leader() } else { node() };
        let a = drive(start.clone(), &steps);
        let b = drive(start, &steps);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn a_huge_batch_is_cut_to_the_configured_bound() {
    let mut n = node();
    n.handle_input(Instant::ZERO, Input::Tick).unwrap();
    let entries = (0..1_000).map(|_| Entry::normal(1, vec![7; 4])).collect();
    let body = Body::AppendEntries {
        prev_log_index: 0,
        prev_log_term: 0,
        entries,
        leader_commit: 1_000,
    };
    let message = Message { term: 1, body };
    let input = Input::Message {
        from: NodeId(2),
        message,
    };
    n.handle_input(Instant::from_millis(10), input).unwrap();
    assert_eq!(n.log().last_index(), 8, "max_entries_per_message");
    assert_eq!(n.commit_index(), 8);
    let acks: Vec<Body> = drain(&mut n)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { message, .. } => Some(message.body),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [Body::AppendAccepted { match_index: 8 }]);
}
