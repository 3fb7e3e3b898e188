//! A short tour: three replicas edit a document and vector clocks tell which
//! edits were concurrent; then a five-node cluster commits log entries and
//! wins an election through quorum arithmetic, including a joint
//! configuration during a membership change.
//!
//! Run with `cargo run -p consensio --example tour`.

use consensio::NodeId;
use consensio::clock::{CausalClock, CausalOrdering, VectorClock};
use consensio::quorum::{JointConfig, MajorityConfig, VoteResult, VoteTally};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== vector clocks: who saw what ==");
    let (alice, bob, carol) = (NodeId(1), NodeId(2), NodeId(3));
    let mut a = VectorClock::new();
    a.increment(alice)?;
    println!("alice writes the title        {a:?}");
    let mut b = a.clone();
    b.increment(bob)?;
    println!("bob, having seen it, edits    {b:?}");
    let mut c = a.clone();
    c.increment(carol)?;
    println!("carol, having seen it, edits  {c:?}");
    let relation = b.compare(&c);
    println!("bob's edit vs carol's: {relation:?}");
    assert_eq!(relation, CausalOrdering::Concurrent);
    let mut merged = b.clone();
    merged.merge(&c);
    merged.increment(alice)?;
    println!("alice merges both and resolves {merged:?}");
    println!(
        "  the resolution dominates bob's: {}, carol's: {}",
        merged.dominates(&b),
        merged.dominates(&c)
    );

    println!();
    println!("== quorum: five voters ==");
    let config = MajorityConfig::from_voters((1..=5).map(NodeId))?;
    let acked = [12, 9, 12, 4, 0];
    let lookup = |v: NodeId| acked.get(v.0 as usize - 1).copied();
    println!("voters {config:?}, quorum {}", config.quorum_size());
    println!("acknowledged indexes {acked:?}");
    println!("committed index: {}", config.committed_index(&lookup));

    let mut tally = VoteTally::new();
    for (voter, granted) in [
        (1, true),
        (4, false),
        (2, true),
        (2, true),
        (5, false),
        (3, true),
    ] {
        let first = tally.record(NodeId(voter), granted)?;
        let note = if first { "" } else { " (duplicate, ignored)" };
        println!(
            "vote from n{voter}: {}{note} -> {:?}",
            if granted { "granted" } else { "rejected" },
            config.vote_result(&tally)
        );
    }
    assert_eq!(config.vote_result(&tally), VoteResult::Won);

    println!();
    println!("== joint consensus: replacing n1, n2 with n6, n7 ==");
    let incoming = MajorityConfig::from_voters([3, 4, 5, 6, 7].map(NodeId))?;
    let joint = JointConfig::new(incoming, config.clone());
    // n5 and the new voters n6, n7 lag behind at index 2.
    let acked = |v: NodeId| Some(if v.0 >= 5 { 2 } else { 12 });
    println!(
        "n1-n4 at 12; n5, n6, n7 at 2: joint committed {} (the old half alone would say {})",
        joint.committed_index(&acked),
        config.committed_index(&acked)
    );
    Ok(())
}
