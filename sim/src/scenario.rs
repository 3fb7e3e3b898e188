//! Scenario files (`sim/scenarios/*.toml`) and the random fault mixes of
//! `consensio check`.
//!
//! The crash modes (`torn_crash`, `lose_unsynced_writes`; `torn` and
//! `unsynced` in a [`FaultMix`]) are described in [`crate::engine`].
//!
//! A scenario names a protocol and a full [`SimConfig`]:
//!
//! ```toml
//! protocol = "bully"                 # see `consensio list` for the list
//! description = "the coordinator crashes; the next highest id takes over"
//! expect_violation = false           # true: the scenario shows the protocol failing
//!
//! [sim]
//! seed = 7
//! nodes = 5                          # ids 1..=5
//! duration_ms = 20000
//! clock_offset_max_ms = 20           # each node's clock starts up to 20 ms ahead
//! clock_drift_max_ppm = 100          # and runs up to 100 ppm fast or slow
//! workload_interval_ms = 0           # 0: no client workload
//! lose_unsynced_writes = false       # true: a crash loses a random suffix of the records
//!                                    # written since the node last acted on a send or event
//!
//! [sim.network]
//! latency_min_ms = 1
//! latency_max_ms = 15
//! loss = 0.0                         # probabilities per message
//! duplicate = 0.05
//! reorder = 0.1
//! reorder_delay_ms = 40
//!
//! [[sim.faults]]                     # in time order or not: each has its time
//! at_ms = 5000
//! fault = "crash"                    # crash | torn_crash | restart | partition | one_way | heal
//! node = 5
//!
//! [[sim.faults]]
//! at_ms = 6000
//! fault = "torn_crash"               # n4 crashes halfway through acting on one input's outputs
//! node = 4
//!
//! [[sim.faults]]
//! at_ms = 9000
//! fault = "partition"
//! groups = [[1, 2], [3, 4, 5]]       # unlisted nodes form one more group
//!
//! [[sim.faults]]
//! at_ms = 12000
//! fault = "one_way"                  # 1 and 2 can no longer reach 3 (3 still reaches them)
//! from = [1, 2]
//! to = [3]
//!
//! [output]                           # optional; paths relative to the current directory
//! svg = "bully.svg"
//! trace = "bully.jsonl"
//! ```

use std::str::FromStr;

use consensio::Rng;
use serde::{Deserialize, Serialize};

use crate::engine::{Fault, ScheduledFault, SimConfig};

/// A scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The protocol's name.
    pub protocol: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The scenario shows a protocol failing: a violation is the expected
    /// outcome (`consensio run` then succeeds only if one happens).
    #[serde(default)]
    pub expect_violation: bool,
    /// The run.
    pub sim: SimConfig,
    /// Where to write the outputs.
    #[serde(default)]
    pub output: OutputPaths,
}

/// Output files of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputPaths {
    /// The SVG space-time diagram.
    pub svg: Option<String>,
    /// The JSON-lines trace.
    pub trace: Option<String>,
}

impl Scenario {
    /// The title of the scenario's diagram: the protocol and the file's
    /// name (not its path, so the diagram is the same from any directory).
    #[must_use]
    pub fn title(&self, path: &std::path::Path) -> String {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!("{} — {name}", self.protocol)
    }

    /// Parses a scenario from TOML.
    ///
    /// # Errors
    /// The TOML parser's message (it names the line and the field).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// The kinds of faults `consensio check` can mix into random runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultMix {
    /// 5–20% message loss.
    pub loss: bool,
    /// Up to 10% duplication.
    pub duplicate: bool,
    /// Up to 30% of messages delayed behind later ones.
    pub reorder: bool,
    /// Random symmetric partitions that later heal.
    pub partition: bool,
    /// Random one-way link cuts that later heal.
    pub one_way: bool,
    /// Random crashes, each followed by a restart.
    pub crash: bool,
    /// Clock offsets up to 500 ms and drift up to 1,000 ppm.
    pub skew: bool,
    /// Flapping links: many short one-way cuts (100–400 ms, about an
    /// election timeout) and messages held back for up to 300 ms, so
    /// followers time out and rejoin while late answers of other terms are
    /// still in flight. This is the schedule leases and leader stickiness
    /// must survive; one long cut and 100 ms of reordering rarely make it.
    pub flaky: bool,
    /// Random torn crashes (halfway through acting on one input's
    /// outputs, [`Fault::TornCrash`]), each followed by a restart.
    pub torn: bool,
    /// Crashes lose a random suffix of the records written since the node
    /// last acted on a send or an event
    /// ([`SimConfig::lose_unsynced_writes`]); needs `crash` or `torn`.
    pub unsynced: bool,
    /// Leader hunting: 4–16 crashes, torn crashes or (if the mix has
    /// partitions, one-way cuts or flapping links) isolations aimed at a
    /// leader right after it is elected or accepts a command
    /// ([`SimConfig::hunt_leaders`]).
    pub hunt: bool,
    /// Stale copies: 4–20% of messages (more under swarm's severity)
    /// delivered once more, 100 ms to 1 s after the original
    /// ([`NetworkConfig::replay`](crate::NetworkConfig)).
    pub stale: bool,
    /// Swarm testing (Groce et al., ISSTA 2012): each seed keeps a random
    /// subset of the other kinds named (each with chance 1/2, at least
    /// one) and draws their intensity too (up to three times the crashes,
    /// cuts and hunts). One fixed mix hides bugs that only show when some
    /// fault is absent (no loss, so a long run of appends; no partition,
    /// so only crashes elect), or when one is frequent.
    pub swarm: bool,
}

/// Every fault name, in the order `FaultMix` prints them.
pub const FAULT_NAMES: &str = "loss, duplicate, reorder, partition, one_way, crash, skew, flaky, torn, unsynced, hunt, stale, swarm";

impl FromStr for FaultMix {
    type Err = String;

    /// A comma-separated list: `loss,duplicate,reorder,partition,one_way,
    /// crash,skew,flaky,torn,unsynced`, or `none`, or `all`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut mix = FaultMix::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => {}
                "all" => {
                    mix = FaultMix {
                        loss: true,
                        duplicate: true,
                        reorder: true,
                        partition: true,
                        one_way: true,
                        crash: true,
                        skew: true,
                        flaky: true,
                        torn: true,
                        unsynced: true,
                        hunt: true,
                        stale: true,
                        swarm: mix.swarm,
                    }
                }
                "loss" => mix.loss = true,
                "duplicate" | "dup" => mix.duplicate = true,
                "reorder" => mix.reorder = true,
                "partition" => mix.partition = true,
                "one_way" | "oneway" => mix.one_way = true,
                "crash" => mix.crash = true,
                "skew" => mix.skew = true,
                "flaky" => mix.flaky = true,
                "torn" => mix.torn = true,
                "unsynced" => mix.unsynced = true,
                "hunt" => mix.hunt = true,
                "stale" => mix.stale = true,
                "swarm" => mix.swarm = true,
                other => {
                    return Err(format!(
                        "unknown fault '{other}' (use {FAULT_NAMES}, all or none)"
                    ));
                }
            }
        }
        if mix.unsynced && !mix.crash && !mix.torn && !mix.hunt {
            return Err(
                "'unsynced' loses writes at crashes: combine it with crash, torn or hunt".into(),
            );
        }
        Ok(mix)
    }
}

impl std::fmt::Display for FaultMix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (self.loss, "loss"),
            (self.duplicate, "duplicate"),
            (self.reorder, "reorder"),
            (self.partition, "partition"),
            (self.one_way, "one_way"),
            (self.crash, "crash"),
            (self.skew, "skew"),
            (self.flaky, "flaky"),
            (self.torn, "torn"),
            (self.unsynced, "unsynced"),
            (self.hunt, "hunt"),
            (self.stale, "stale"),
            (self.swarm, "swarm"),
        ];
        let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
        if on.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&on.join(","))
        }
    }
}

impl FaultMix {
    /// A random run with these faults, decided by `seed` alone.
    #[must_use]
    pub fn config(&self, seed: u64, nodes: u64, duration_ms: u64) -> SimConfig {
        let (mix, severity) = self.swarm_draw(seed);
        mix.config_at(seed, nodes, duration_ms, severity)
    }

    /// Swarm testing's draw for `seed`: the kinds kept and how hard they
    /// strike (1–3); without swarm, every kind named, at 1.
    fn swarm_draw(&self, seed: u64) -> (FaultMix, u64) {
        if !self.swarm {
            return (*self, 1);
        }
        let mut rng = Rng::seed_from_u64(seed ^ 0x5a4a_0000_0000_0000);
        let mut kinds = [
            self.loss,
            self.duplicate,
            self.reorder,
            self.partition,
            self.one_way,
            self.crash,
            self.skew,
            self.flaky,
            self.torn,
            self.unsynced,
            self.hunt,
            self.stale,
        ];
        let named: Vec<usize> = (0..kinds.len()).filter(|&k| kinds[k]).collect();
        for &k in &named {
            kinds[k] = rng.chance(0.5);
        }
        if !kinds.iter().any(|&on| on)
            && let Some(&k) = named.get(usize::try_from(rng.below(named.len() as u64)).unwrap_or(0))
        {
            kinds[k] = true;
        }
        let [
            loss,
            duplicate,
            reorder,
            partition,
            one_way,
            crash,
            skew,
            flaky,
            torn,
            unsynced,
            hunt,
            stale,
        ] = kinds;
        let mix = FaultMix {
            loss,
            duplicate,
            reorder,
            partition,
            one_way,
            crash,
            skew,
            flaky,
            torn,
            unsynced,
            hunt,
            stale,
            swarm: false,
        };
        (mix, rng.between(1, 3))
    }

    /// The run for `seed` with exactly these kinds, counts scaled by
    /// `severity`.
    fn config_at(&self, seed: u64, nodes: u64, duration_ms: u64, severity: u64) -> SimConfig {
        // A separate stream from the simulation's own, so that the fault
        // schedule does not shift when a protocol draws differently.
        let mut rng = Rng::seed_from_u64(seed ^ 0x5eed_fa17_0000_0000);
        let mut config = SimConfig {
            seed,
            nodes,
            duration_ms,
            ..SimConfig::default()
        };
        let net = &mut config.network;
        net.latency_min_ms = 1;
        net.latency_max_ms = rng.between(5, 30);
        if self.loss {
            net.loss = 0.05 + rng.next_f64() * 0.15;
        }
        if self.duplicate {
            net.duplicate = rng.next_f64() * 0.1;
        }
        if self.reorder {
            net.reorder = rng.next_f64() * 0.3;
            net.reorder_delay_ms = rng.between(10, 100);
        }
        if self.skew {
            config.clock_offset_max_ms = 500;
            config.clock_drift_max_ppm = 1_000;
        }
        // A client command every two seconds (what a command is depends on
        // the protocol; some have none).
        config.workload_interval_ms = 2_000;
        config.operator = true;
        let ids: Vec<u64> = (1..=nodes).collect();
        // Faults begin after a quiet start and end well before the end of
        // the run, so that liveness checks see a stable tail.
        let window = (duration_ms / 10, duration_ms * 6 / 10);
        let mut faults = Vec::new();
        if self.crash {
            for _ in 0..rng.between(1, 3 * severity) {
                let node = rng.between(1, nodes);
                let at = rng.between(window.0, window.1);
                faults.push(ScheduledFault {
                    at_ms: at,
                    fault: Fault::Crash { node },
                });
                let back = at + rng.between(duration_ms / 50, duration_ms / 5);
                faults.push(ScheduledFault {
                    at_ms: back.min(window.1 + duration_ms / 10),
                    fault: Fault::Restart { node },
                });
            }
        }
        if self.partition {
            let at = rng.between(window.0, window.1);
            let mut shuffled = ids.clone();
            rng.shuffle(&mut shuffled);
            let cut = usize::try_from(rng.between(1, nodes.saturating_sub(1).max(1))).unwrap_or(1);
            let (a, b) = shuffled.split_at(cut.min(shuffled.len()));
            faults.push(ScheduledFault {
                at_ms: at,
                fault: Fault::Partition {
                    groups: vec![a.to_vec(), b.to_vec()],
                },
            });
            let heal = at + rng.between(duration_ms / 20, duration_ms / 5);
            faults.push(ScheduledFault {
                at_ms: heal.min(window.1 + duration_ms / 10),
                fault: Fault::Heal,
            });
        }
        if self.one_way {
            let at = rng.between(window.0, window.1);
            let from = rng.between(1, nodes);
            let to: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|&n| n != from && rng.chance(0.5))
                .collect();
            faults.push(ScheduledFault {
                at_ms: at,
                fault: Fault::OneWay {
                    from: vec![from],
                    to,
                },
            });
            let heal = at + rng.between(duration_ms / 20, duration_ms / 5);
            faults.push(ScheduledFault {
                at_ms: heal.min(window.1 + duration_ms / 10),
                fault: Fault::Heal,
            });
        }
        if self.flaky {
            // A stream of its own, so the faults above stay as they were
            // for seeds found before this mode existed.
            let mut rng = Rng::seed_from_u64(seed ^ 0xf1a4_7000_0000_0000);
            let net = &mut config.network;
            net.reorder = net.reorder.max(0.1 + rng.next_f64() * 0.2);
            net.reorder_delay_ms = net.reorder_delay_ms.max(rng.between(150, 300));
            for _ in 0..rng.between(10, 30 * severity) {
                let at = rng.between(window.0, window.1);
                let from = rng.between(1, nodes);
                let to: Vec<u64> = ids
                    .iter()
                    .copied()
                    .filter(|&n| n != from && rng.chance(0.5))
                    .collect();
                faults.push(ScheduledFault {
                    at_ms: at,
                    fault: Fault::OneWay {
                        from: vec![from],
                        to,
                    },
                });
                faults.push(ScheduledFault {
                    at_ms: at + rng.between(100, 400),
                    fault: Fault::Heal,
                });
            }
        }
        if self.torn {
            // Drawn from a stream of their own, so that adding `torn` to a
            // mix leaves the schedule of its other faults as it was.
            let mut rng = Rng::seed_from_u64(seed ^ 0x7042_c4a5_0000_0000);
            for _ in 0..rng.between(1, 3) {
                let node = rng.between(1, nodes);
                let at = rng.between(window.0, window.1);
                faults.push(ScheduledFault {
                    at_ms: at,
                    fault: Fault::TornCrash { node },
                });
                let back = at + rng.between(duration_ms / 50, duration_ms / 5);
                faults.push(ScheduledFault {
                    at_ms: back.min(window.1 + duration_ms / 10),
                    fault: Fault::Restart { node },
                });
            }
        }
        if self.stale {
            let mut rng = Rng::seed_from_u64(seed ^ 0x57a1_e000_0000_0000);
            let rate = 0.04 + rng.next_f64() * 0.16;
            config.network.replay = (rate * severity as f64).min(0.5);
            config.network.replay_delay_ms = 1_000;
            config.network.replay_until_ms = window.1;
        }
        if self.hunt {
            let mut rng = Rng::seed_from_u64(seed ^ 0x4a47_5eed_0000_0000);
            config.hunt_leaders = rng.between(4, 16 * severity);
            config.hunt_isolates = self.partition || self.one_way || self.flaky;
        }
        config.lose_unsynced_writes = self.unsynced;
        faults.sort_by_key(|f| f.at_ms);
        config.faults = faults;
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_mixes_parse_and_print() {
        let mix: FaultMix = "loss, crash,partition".parse().unwrap();
        assert!(mix.loss && mix.crash && mix.partition && !mix.skew);
        assert_eq!(mix.to_string(), "loss,partition,crash");
        assert_eq!("none".parse::<FaultMix>().unwrap(), FaultMix::default());
        assert!("lightning".parse::<FaultMix>().is_err());
        let all: FaultMix = "all".parse().unwrap();
        assert!(all.torn && all.unsynced && all.hunt && !all.swarm);
        assert_eq!(
            all.to_string(),
            "loss,duplicate,reorder,partition,one_way,crash,skew,flaky,torn,unsynced,hunt,stale"
        );
        assert_eq!(all.to_string().parse::<FaultMix>().unwrap(), all);
        let swarm: FaultMix = "all,swarm".parse().unwrap();
        assert_eq!(swarm.to_string(), format!("{all},swarm"));
        assert_eq!("swarm,all".parse::<FaultMix>().unwrap(), swarm);
        let err = "unsynced,loss".parse::<FaultMix>().unwrap_err();
        assert!(err.contains("crash, torn or hunt"), "{err}");
        assert!("torn,unsynced".parse::<FaultMix>().is_ok());
    }

    #[test]
    fn the_crash_modes_leave_the_other_faults_where_they_were() {
        let old: FaultMix = "loss,duplicate,reorder,partition,one_way,crash,skew"
            .parse()
            .unwrap();
        let new: FaultMix = "loss,duplicate,reorder,partition,one_way,crash,skew,torn,unsynced"
            .parse()
            .unwrap();
        for seed in 0..50 {
            let (a, b) = (old.config(seed, 5, 20_000), new.config(seed, 5, 20_000));
            assert_eq!(a.network, b.network);
            assert!(!a.lose_unsynced_writes && b.lose_unsynced_writes);
            // Every old fault is still there, at its time; what is new is
            // torn crashes and their restarts.
            let mut extra = b.faults.clone();
            for f in &a.faults {
                let at = extra.iter().position(|g| g == f);
                extra.remove(at.unwrap_or_else(|| panic!("seed {seed}: {f:?} moved")));
            }
            let torn = extra
                .iter()
                .filter(|f| matches!(f.fault, Fault::TornCrash { .. }))
                .count();
            assert!((1..=3).contains(&torn), "seed {seed}");
            assert_eq!(extra.len(), 2 * torn, "seed {seed}: {extra:?}");
        }
    }

    #[test]
    fn swarm_keeps_a_random_nonempty_subset_of_the_kinds_named_per_seed() {
        let swarm: FaultMix = "loss,crash,hunt,swarm".parse().unwrap();
        let mut kept = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let (mix, severity) = swarm.swarm_draw(seed);
            assert!(mix.loss || mix.crash || mix.hunt, "seed {seed}: none kept");
            assert!(
                !(mix.partition || mix.skew || mix.swarm),
                "seed {seed}: {mix}"
            );
            assert!((1..=3).contains(&severity));
            kept.insert(mix.to_string());
            // The run is the one of the subset drawn, at that severity.
            assert_eq!(
                swarm.config(seed, 5, 20_000),
                mix.config_at(seed, 5, 20_000, severity)
            );
        }
        assert_eq!(kept.len(), 7, "every nonempty subset comes up: {kept:?}");
        // Without swarm, the mix is kept whole.
        let plain: FaultMix = "loss,crash".parse().unwrap();
        assert_eq!(plain.swarm_draw(3), (plain, 1));
    }

    #[test]
    fn hunting_aims_at_leaders_and_isolates_only_where_partitions_are_allowed() {
        let crash: FaultMix = "crash,hunt".parse().unwrap();
        let cut: FaultMix = "crash,partition,hunt".parse().unwrap();
        for seed in 0..20 {
            let (a, b) = (crash.config(seed, 5, 20_000), cut.config(seed, 5, 20_000));
            assert!((4..=16).contains(&a.hunt_leaders), "{}", a.hunt_leaders);
            assert!(!a.hunt_isolates && b.hunt_isolates);
        }
        assert_eq!(FaultMix::default().config(1, 5, 20_000).hunt_leaders, 0);
    }

    #[test]
    fn random_configs_depend_on_the_seed_only() {
        let mix: FaultMix = "all".parse().unwrap();
        assert_eq!(mix.config(9, 5, 10_000), mix.config(9, 5, 10_000));
        assert_ne!(mix.config(9, 5, 10_000), mix.config(10, 5, 10_000));
        let c = mix.config(9, 5, 10_000);
        assert!(c.faults.iter().all(|f| f.at_ms <= 7_000));
        assert!(c.network.loss >= 0.05 && c.network.loss <= 0.2);
    }

    #[test]
    fn flapping_links_add_short_cuts_and_leave_the_other_faults_as_they_were() {
        let plain: FaultMix = "loss,crash,partition".parse().unwrap();
        let flaky: FaultMix = "loss,crash,partition,flaky".parse().unwrap();
        let (a, b) = (plain.config(4, 5, 10_000), flaky.config(4, 5, 10_000));
        assert_eq!(a.network.loss, b.network.loss);
        let cuts = |c: &SimConfig| {
            c.faults
                .iter()
                .filter(|f| matches!(f.fault, Fault::OneWay { .. }))
                .count()
        };
        assert_eq!(cuts(&a), 0);
        assert!((10..=30).contains(&cuts(&b)), "{}", cuts(&b));
        let kept: Vec<&ScheduledFault> = b
            .faults
            .iter()
            .filter(|f| !matches!(f.fault, Fault::OneWay { .. } | Fault::Heal))
            .collect();
        let before: Vec<&ScheduledFault> = a
            .faults
            .iter()
            .filter(|f| !matches!(f.fault, Fault::Heal))
            .collect();
        assert_eq!(kept, before, "crashes and partitions unchanged");
        assert!(b.network.reorder_delay_ms >= 150);
    }

    #[test]
    fn the_documented_scenario_parses() {
        let doc = include_str!("scenario.rs");
        let start = doc.find("//! ```toml").unwrap();
        let end = doc[start..].find("//! ```\n").unwrap() + start;
        let toml: String = doc[start..end]
            .lines()
            .skip(1)
            .map(|l| {
                l.strip_prefix("//! ")
                    .or_else(|| l.strip_prefix("//!"))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let s = Scenario::parse(&toml).unwrap();
        assert_eq!(s.protocol, "bully");
        assert_eq!(s.sim.faults.len(), 4);
        assert_eq!(s.sim.faults[1].fault, Fault::TornCrash { node: 4 });
        assert_eq!(s.output.svg.as_deref(), Some("bully.svg"));
        assert!(Scenario::parse("protocol = 'x'\n[sim]\nnodez = 3").is_err());
    }
}
