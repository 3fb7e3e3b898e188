//! `consensio`: run a protocol under simulated faults and watch it survive
//! (or fail). See `consensio --help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use consensio::mutant::{self, Mutant};
use consensio_sim::protocols::{self, Outcome};
use consensio_sim::scenario::{FaultMix, Scenario};
use consensio_sim::trace::{DIAGRAM_MAX_MESSAGES, TraceKind, render_svg};
use consensio_sim::{Fault, ScheduledFault, SimConfig};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "consensio",
    version,
    about = "Run distributed protocols under simulated faults, deterministically, and check their invariants.",
    after_help = "Protocols: run `consensio list`. Without a command, `consensio` runs the demo."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// A short narrated scenario: prints a timeline and writes an SVG diagram.
    Demo {
        /// Where to write the space-time diagram.
        #[arg(long, default_value = "consensio-demo.svg")]
        svg: PathBuf,
    },
    /// Runs a scenario file (see sim/scenarios/).
    Run {
        /// The scenario (TOML).
        scenario: PathBuf,
        /// Write the SVG diagram here (overrides the scenario's output).
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Write the JSON-lines trace here (overrides the scenario's output).
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Runs many seeds with random faults; stops at the first violation and
    /// prints the command that replays it.
    Check {
        /// The protocol (see `consensio list`).
        protocol: String,
        /// How many seeds.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        start_seed: u64,
        /// Faults to mix in: loss,duplicate,reorder,partition,one_way,crash,skew,flaky,torn,unsynced
        /// (or all, none). `crash` crashes nodes between inputs, `torn` halfway through acting
        /// on one input's outputs; `flaky` flaps links; `unsynced` (with crash or torn) makes a crash lose a random
        /// suffix of the records not yet followed by an acted-on send or event.
        #[arg(long, default_value = "none")]
        faults: FaultMix,
        /// Nodes per run.
        #[arg(long, default_value_t = 5)]
        nodes: u64,
        /// Simulated time per run, ms.
        #[arg(long, default_value_t = 20_000)]
        duration_ms: u64,
        /// Parallel runs (0: one per core); the first failing seed is the
        /// one reported, whatever the number of jobs.
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Write the SVG of the failing (or only) run here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Write the JSON-lines trace of the failing (or only) run here.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Plant this bug first (see `consensio mutants --list`); needs a
        /// build with RUSTFLAGS="--cfg consensio_mutants" (scripts/mutants).
        #[arg(long)]
        mutant: Option<String>,
    },
    /// Lists the protocols the simulator can drive.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo {
        svg: PathBuf::from("consensio-demo.svg"),
    }) {
        Command::Demo { svg } => demo(&svg),
        Command::Run {
            scenario,
            svg,
            trace,
        } => run(&scenario, svg, trace),
        Command::Check {
            protocol,
            seeds,
            start_seed,
            faults,
            nodes,
            duration_ms,
            jobs,
            svg,
            trace,
            mutant,
        } => plant(mutant.as_deref()).and_then(|mutant| {
            check(&CheckArgs {
                protocol,
                seeds,
                start_seed,
                faults,
                nodes,
                duration_ms,
                jobs,
                svg,
                trace,
                mutant,
            })
        }),
        Command::List => {
            for entry in protocols::all() {
                println!(
                    "{:<14} {:<9} {}",
                    entry.name, entry.family, entry.description
                );
            }
            Ok(true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn write_outputs(
    outcome: &Outcome,
    title: &str,
    svg: Option<&Path>,
    trace: Option<&Path>,
) -> Result<(), String> {
    if let Some(path) = svg {
        let picture = render_svg(
            title,
            &outcome.members,
            &outcome.trace,
            DIAGRAM_MAX_MESSAGES,
        );
        std::fs::write(path, picture).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = trace {
        let mut lines: String = outcome.trace.iter().map(|e| e.to_json() + "\n").collect();
        if lines.is_empty() {
            lines.push('\n');
        }
        std::fs::write(path, lines).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn report(outcome: &Outcome) -> bool {
    print!("{}", outcome.summary);
    if let Some(v) = &outcome.violation {
        eprint!("{v}");
        return false;
    }
    true
}

fn run(path: &Path, svg: Option<PathBuf>, trace: Option<PathBuf>) -> Result<bool, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let svg = svg.or(scenario.output.svg.as_ref().map(PathBuf::from));
    let trace = trace.or(scenario.output.trace.as_ref().map(PathBuf::from));
    scenario.sim.record_trace = svg.is_some() || trace.is_some();
    if !scenario.description.is_empty() {
        println!("{}", scenario.description);
    }
    let outcome = protocols::run_named(&scenario.protocol, scenario.sim.clone())?;
    let title = scenario.title(path);
    write_outputs(&outcome, &title, svg.as_deref(), trace.as_deref())?;
    let held = report(&outcome);
    if scenario.expect_violation {
        if held {
            eprintln!("the scenario expects a violation, and none happened");
        } else {
            println!("(the scenario expects this violation)");
        }
        return Ok(!held);
    }
    Ok(held)
}

/// Plants the mutant called `name`, if any.
fn plant(name: Option<&str>) -> Result<Option<Mutant>, String> {
    let Some(name) = name else {
        return Ok(None);
    };
    let mutant = Mutant::named(name).ok_or_else(|| {
        let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant '{name}' (known: {})", names.join(", "))
    })?;
    if !mutant::plant(Some(mutant)) {
        return Err(format!(
            "this build has no mutants: build it with RUSTFLAGS=\"--cfg consensio_mutants\" (scripts/mutants does) to plant {name}"
        ));
    }
    Ok(Some(mutant))
}

struct CheckArgs {
    protocol: String,
    seeds: u64,
    start_seed: u64,
    faults: FaultMix,
    nodes: u64,
    duration_ms: u64,
    jobs: usize,
    svg: Option<PathBuf>,
    trace: Option<PathBuf>,
    mutant: Option<Mutant>,
}

fn check(args: &CheckArgs) -> Result<bool, String> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    let bar = ProgressBar::new(args.seeds);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds {elapsed_precise} ({per_sec}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let started = std::time::Instant::now();
    let want_files = args.svg.is_some() || args.trace.is_some();
    let end = args.start_seed.saturating_add(args.seeds);
    let jobs = match args.jobs {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let jobs = jobs
        .min(usize::try_from(args.seeds).unwrap_or(usize::MAX))
        .max(1);
    let next = AtomicU64::new(args.start_seed);
    let messages = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // The smallest failing seed and its run, or an error. Seeds are handed
    // out in order and a worker finishes the seed it started, so every seed
    // below a failing one has run: the failure reported is the first.
    let failure: Mutex<Option<(u64, Result<Outcome, String>)>> = Mutex::new(None);
    let record = |seed: u64, what: Result<Outcome, String>| {
        stop.store(true, Relaxed);
        let mut f = failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if f.as_ref().is_none_or(|(s, _)| seed < *s) {
            *f = Some((seed, what));
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while !stop.load(Relaxed) {
                    let seed = next.fetch_add(1, Relaxed);
                    if seed >= end {
                        break;
                    }
                    let mut config = args.faults.config(seed, args.nodes, args.duration_ms);
                    config.record_trace = want_files;
                    match protocols::run_named(&args.protocol, config) {
                        Err(e) => record(seed, Err(e)),
                        Ok(outcome) => {
                            messages.fetch_add(outcome.summary.delivered, Relaxed);
                            bar.inc(1);
                            if outcome.violation.is_some() || args.seeds == 1 {
                                record(seed, Ok(outcome));
                            }
                        }
                    }
                }
            });
        }
    });
    let failure = failure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((seed, outcome)) = failure {
        let outcome = outcome?;
        let title = format!("{} seed {seed}", args.protocol);
        if let Some(v) = &outcome.violation {
            bar.abandon();
            eprint!("{v}");
            let planted = args
                .mutant
                .map(|m| format!(" --mutant {}", m.name()))
                .unwrap_or_default();
            let build = if args.mutant.is_some() {
                "RUSTFLAGS=\"--cfg consensio_mutants\" cargo run --release -p consensio-sim --target-dir target/mutants"
            } else {
                "cargo run --release -p consensio-sim"
            };
            eprintln!(
                "replay: consensio check {} --seeds 1 --start-seed {seed} --faults {} --nodes {} --duration-ms {}{planted} --svg failure.svg --trace failure.jsonl",
                args.protocol, args.faults, args.nodes, args.duration_ms
            );
            eprintln!(
                "   (or: {build} -- check {} --seeds 1 --start-seed {seed} --faults {} --nodes {} --duration-ms {}{planted})",
                args.protocol, args.faults, args.nodes, args.duration_ms
            );
            write_outputs(&outcome, &title, args.svg.as_deref(), args.trace.as_deref())?;
            return Ok(false);
        }
        // A single seed: its summary and files.
        print!("{}", outcome.summary);
        write_outputs(&outcome, &title, args.svg.as_deref(), args.trace.as_deref())?;
    }
    bar.finish();
    println!(
        "{} seeds of {} with faults [{}]: invariants held ({} messages delivered in {:.1}s, {jobs} jobs)",
        args.seeds,
        args.protocol,
        args.faults,
        messages.load(Relaxed),
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}

/// The demo: Bully election on five nodes — the coordinator crashes, the
/// next highest id takes over, the old coordinator comes back and bullies
/// its way back, then a partition splits the cluster, the cut-off side
/// elects its own leader, and the checker reports the split brain (Bully
/// assumes no partitions).
fn demo(svg: &Path) -> Result<bool, String> {
    let at = |at_ms, fault| ScheduledFault { at_ms, fault };
    let config = SimConfig {
        seed: 2026,
        nodes: 5,
        duration_ms: 16_000,
        faults: vec![
            at(3_000, Fault::Crash { node: 5 }),
            at(7_000, Fault::Restart { node: 5 }),
            at(
                11_000,
                Fault::Partition {
                    groups: vec![vec![1, 2], vec![3, 4, 5]],
                },
            ),
        ],
        record_trace: true,
        ..SimConfig::default()
    };
    println!("consensio demo: Bully election (Garcia-Molina 1982) on nodes n1..n5");
    println!("  3.0s  n5 (the coordinator) crashes");
    println!("  7.0s  n5 restarts from what it persisted and bullies its way back");
    println!(" 11.0s  the network splits into {{n1,n2}} and {{n3,n4,n5}}; it heals at 12.5s\n");
    let outcome = protocols::run_named("bully", config)?;
    println!("timeline:");
    for e in &outcome.trace {
        let line = match &e.kind {
            TraceKind::Event { what, .. } => format!("n{} {what}", e.node),
            TraceKind::Crash { .. } => format!("n{} crashed", e.node),
            TraceKind::Restart => format!("n{} restarted", e.node),
            TraceKind::Partition { what } => format!("partition {what}"),
            TraceKind::Heal => "partition healed".to_string(),
            _ => continue,
        };
        println!("  {:>6.3}s  {line}", e.time_ms as f64 / 1000.0);
    }
    println!();
    write_outputs(&outcome, "consensio demo — Bully election", Some(svg), None)?;
    print!("{}", outcome.summary);
    if let Some(v) = &outcome.violation {
        println!(
            "\nThe checker caught it: {} ({}). Bully is only safe when the network cannot partition.",
            v.message, v.checker
        );
    }
    Ok(true)
}
