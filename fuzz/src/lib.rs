//! The bodies of consensio's fuzz targets, shared by the cargo-fuzz binaries
//! (`fuzz_targets/<family>_<what>.rs`, built with nightly and libFuzzer) and
//! by the corpus replay that the normal test suite runs on stable
//! (`cargo test --manifest-path fuzz/Cargo.toml`).
//!
//! Every target is a plain `fn(&[u8])` that panics when it finds a bug.
//! Structured targets read their input with [`arbitrary`] exactly as
//! `libfuzzer_sys::fuzz_target!` would (`arbitrary_take_rest`, and inputs
//! that do not parse are skipped), so a crash found by the fuzzer replays
//! byte for byte here.
//!
//! | target | what it checks |
//! |---|---|
//! | `clock_decode` | every clock wire type: decode → encode → decode is stable, no panic |
//! | `clock_laws` | vector clock merge and compare against a naive model; HLC and Lamport monotonicity |
//! | `quorum_config` | committed index and vote results against a sort-based model; tallies; capacity errors |
//! | `merkle_decode` | anti-entropy messages: decode → encode → decode is stable, no panic |
//! | `merkle_tree` | roots against a naive RFC 6962 tree; proofs verify exactly when genuine; diff against a leaf-by-leaf model |
//! | `merkle_anti_entropy` | the anti-entropy participant, three replicas (harness nodes) and a hostile network: the contract, bounded sessions, exact errors, and the exact key difference when a sync runs undisturbed |
//! | `ring_ops` | hash ring, rendezvous, bounded loads, Maglev and jump hash: placements stay within members, minimal movement, load bounds |
//! | `election_decode` | Bully and ring-election messages: decode → encode → decode is stable, no panic |
//! | `election_step` | one Bully or ring-election node under any inputs and crash-restarts, on the harness: the contract, epochs persisted before use and never going back |
//! | `detector_decode` | heartbeats: decode → encode → decode is stable, no panic |
//! | `detector_step` | one heartbeat or φ detector under any inputs and crash-restarts, on the harness: the contract, incarnations, exact state changes against a model, φ sane |
//! | `raft_decode` | Raft messages and persisted records: decode → encode → decode is stable; restore from any records never panics |
//! | `raft_step` | one Raft node under any messages, ticks, commands and crash-restarts, on the harness: the contract with backpressure, one vote per term, persist before send, terms and commits never go back |
//! | `resilience_ops` | a circuit breaker under any permits, results (late, stale, forged, repeated), ticks, orders and clock jumps: only documented transitions, at most N trials, the count window against a model, a closed breaker below its thresholds, refused reports change nothing; retries never wait past the maximum or try past the attempts, budgets stay within their bounds; hedged calls end once and send copies in order; a router picks only available endpoints of the active tier and ejects no more than its cap |
//! | `raft_kv_step` | one key-value node (`KvNode`) under any messages, store entries, ticks, sessions, writes, reads and crash-restarts, on the harness: one reply per command, the documented immediate refusals, the store is exactly the log applied, reads answer the store's value |
//!
//! The step targets (`*_step`, `merkle_anti_entropy`) share one harness,
//! [`harness`]: it checks the contract of [`consensio::Participant`] after
//! every input — a refused input changes nothing and queues nothing, a
//! frame that does not decode is refused with its wire error, one input
//! queues a bounded number of outputs, every send survives the wire, a
//! restart rebuilds the node from exactly the records it persisted, the
//! deadline after a tick is in the future, and a twin node fed the same
//! inputs produces the same outputs. A family implements
//! [`harness::Family`] (its restore function, a state snapshot, its output
//! bound, the results it expects, and its local invariants as hooks) and,
//! for a single-node target, [`harness::Generator`] (its input steps as
//! [`harness::Action`]s); [`harness::run`] does the rest.

pub mod clock;
pub mod crdt;
pub mod detector;
pub mod election;
pub mod harness;
pub mod merkle;
pub mod paxos;
pub mod quorum;
pub mod raft;
pub mod resilience;
pub mod ring;

use arbitrary::{Arbitrary, Unstructured};

/// A fuzz target's body: panics when it finds a bug.
pub type Target = fn(&[u8]);

/// Every fuzz target: its name (the file `fuzz_targets/<name>.rs` and the
/// corpus folder `corpus/<name>/`) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("clock_decode", clock::decode),
    ("clock_laws", clock::laws),
    ("crdt_decode", crdt::decode),
    ("crdt_laws", crdt::laws),
    ("quorum_config", quorum::config),
    ("merkle_decode", merkle::decode),
    ("merkle_tree", merkle::tree),
    ("merkle_anti_entropy", merkle::anti_entropy),
    ("ring_ops", ring::ops),
    ("election_decode", election::decode),
    ("election_step", election::step),
    ("detector_decode", detector::decode),
    ("detector_step", detector::step),
    ("raft_decode", raft::decode),
    ("raft_step", raft::step),
    ("raft_kv_step", raft::kv::step),
    ("paxos_decode", paxos::decode),
    ("paxos_step", paxos::step),
    ("paxos_single_step", paxos::single::step),
    ("resilience_ops", resilience::ops),
    ("resilience_decode", resilience::rpc::decode),
    ("resilience_step", resilience::rpc::step),
];

/// The structured input `data` stands for in target `name`, pretty-printed
/// (`None` for byte-level targets, or if it does not parse): what a crash
/// reproducer means. `FUZZ_TARGET=<name> FUZZ_INPUT=<file> cargo test
/// --manifest-path fuzz/Cargo.toml -- --ignored describe --nocapture`
/// prints it.
#[must_use]
pub fn describe(name: &str, data: &[u8]) -> Option<String> {
    fn show<'a, T: Arbitrary<'a> + core::fmt::Debug>(data: &'a [u8]) -> Option<String> {
        T::arbitrary_take_rest(Unstructured::new(data))
            .ok()
            .map(|input| format!("{input:#?}"))
    }
    match name {
        "clock_laws" => show::<clock::LawsInput>(data),
        "crdt_laws" => show::<crdt::LawsInput>(data),
        "quorum_config" => show::<quorum::ConfigInput>(data),
        "merkle_tree" => show::<merkle::TreeInput>(data),
        "merkle_anti_entropy" => show::<merkle::Scenario>(data),
        "ring_ops" => show::<ring::RingInput>(data),
        "election_step" => show::<election::StepInput>(data),
        "detector_step" => show::<detector::StepInput>(data),
        "raft_step" => show::<raft::StepInput>(data),
        "raft_kv_step" => show::<raft::kv::KvInput>(data),
        "paxos_step" => show::<paxos::StepInput>(data),
        "paxos_single_step" => show::<paxos::single::StepInput>(data),
        "resilience_ops" => show::<resilience::OpsInput>(data),
        "resilience_step" => show::<resilience::rpc::StepInput>(data),
        _ => None,
    }
}

/// Parses `data` as a `T` the way `fuzz_target!(|input: T| ...)` does and
/// runs `body` on it; inputs that do not parse are skipped.
pub fn structured<'a, T: Arbitrary<'a>>(data: &'a [u8], body: impl FnOnce(T)) {
    if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(data)) {
        body(input);
    }
}

/// A number near `base` (one below to two above), small, or near
/// `u64::MAX`, as `v` picks: where protocols compare, count and overflow.
#[must_use]
pub fn near(v: u8, base: u64) -> u64 {
    match v {
        0..=127 => base.saturating_add(u64::from(v % 4)).saturating_sub(1),
        128..=247 => u64::from(v - 128),
        248..=255 => u64::MAX - u64::from(255 - v),
    }
}

/// Decodes `data` as an `M`; whatever decodes must re-encode to a frame no
/// longer than the input (postcard's encoding is minimal; inputs may carry
/// over-long varints), decode back to the same value, and re-encode to the
/// same bytes.
pub fn round_trip<M>(data: &[u8])
where
    M: consensio::wire::WireMessage + PartialEq + core::fmt::Debug,
{
    use consensio::wire;
    let Ok(message) = wire::decode::<M>(data) else {
        return;
    };
    let frame = wire::encode_to_vec(&message).expect("a decoded message re-encodes");
    assert!(
        frame.len() <= data.len(),
        "re-encoding grew the frame: {} > {}",
        frame.len(),
        data.len()
    );
    let again = wire::decode::<M>(&frame).expect("a re-encoded frame decodes");
    assert_eq!(
        again, message,
        "decode → encode → decode changed the message"
    );
    let mut buf = vec![0u8; frame.len()];
    let n = wire::encode_to_slice(&again, &mut buf).expect("fits exactly");
    assert_eq!(&buf[..n], &frame[..], "encoding is not deterministic");
}

#[cfg(test)]
mod replay {
    use std::path::{Path, PathBuf};

    use consensio::Rng;

    use super::TARGETS;

    fn fuzz_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = fuzz_dir().join("corpus").join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus folder {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).expect("a readable corpus file");
                (p, bytes)
            })
            .collect()
    }

    fn run(name: &str) {
        let body = TARGETS
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("no target {name}"))
            .1;
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "corpus/{name}/ holds no seed");
        for (path, bytes) in &inputs {
            eprintln!("replaying {}", path.display());
            body(bytes);
        }
        // A few hundred pseudo-random inputs on top, the same every run.
        let mut rng = Rng::seed_from_u64(
            name.bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
        );
        for _ in 0..256 {
            let len = rng.below(512) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            body(&bytes);
        }
    }

    macro_rules! replay {
        ($($name:ident),* $(,)?) => {
            $(#[test] fn $name() { run(stringify!($name)); })*
        };
    }

    replay!(
        clock_decode,
        clock_laws,
        crdt_decode,
        crdt_laws,
        quorum_config,
        merkle_decode,
        merkle_tree,
        merkle_anti_entropy,
        ring_ops,
        election_decode,
        election_step,
        detector_decode,
        detector_step,
        raft_decode,
        raft_step,
        raft_kv_step,
        paxos_decode,
        paxos_step,
        paxos_single_step,
        resilience_ops,
        resilience_decode,
        resilience_step,
    );

    /// Prints what a reproducer means and runs it: set `FUZZ_TARGET` and
    /// `FUZZ_INPUT`.
    #[test]
    #[ignore = "a debugging aid, run by hand"]
    fn describe() {
        let name = std::env::var("FUZZ_TARGET").expect("FUZZ_TARGET=<target>");
        let path = std::env::var("FUZZ_INPUT").expect("FUZZ_INPUT=<file>");
        let bytes = std::fs::read(&path).expect("a readable input");
        println!("{bytes:?}");
        println!("{}", super::describe(&name, &bytes).unwrap_or_default());
        let body = TARGETS.iter().find(|t| t.0 == name).expect("a target").1;
        body(&bytes);
    }

    #[test]
    fn every_target_has_a_binary_a_corpus_and_a_replay() {
        let targets = fuzz_dir().join("fuzz_targets");
        let mut binaries: Vec<String> = std::fs::read_dir(&targets)
            .expect("fuzz_targets/")
            .map(|e| e.expect("an entry").path())
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
            .collect();
        binaries.sort();
        let mut names: Vec<String> = TARGETS.iter().map(|t| t.0.to_owned()).collect();
        names.sort();
        assert_eq!(binaries, names, "fuzz_targets/*.rs and TARGETS differ");
        for name in &names {
            assert!(Path::new(&fuzz_dir().join("corpus").join(name)).is_dir());
            let manifest =
                std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("manifest");
            assert!(
                manifest.contains(&format!("name = \"{name}\"")),
                "{name} is not a [[bin]] of fuzz/Cargo.toml"
            );
        }
        // Every family of core has at least one target.
        for family in [
            "clock",
            "crdt",
            "quorum",
            "merkle",
            "ring",
            "election",
            "detector",
            "raft",
            "paxos",
            "resilience",
        ] {
            assert!(
                names.iter().any(|n| n.starts_with(&format!("{family}_"))),
                "{family}"
            );
        }
    }
}
