//! `consensio`: run a protocol under simulated faults and watch it survive
//! (or fail). See `consensio --help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use consensio::mutant::{self, Mutant};
use consensio_sim::mutants::{TRIALS, Trial};
use consensio_sim::protocols::{self, Outcome};
use consensio_sim::scenario::{FaultMix, Scenario};
use consensio_sim::search::Search;
use consensio_sim::trace::{TraceKind, Window, render_svg};
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

/// Where a run's pictures go.
#[derive(clap::Args, Clone, Debug, Default)]
struct FilesArgs {
    /// Write the SVG diagram here (overrides a scenario's output).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Write the JSON-lines trace here (overrides a scenario's output).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Write the viewer page here: one HTML file that replays the run.
    #[arg(long)]
    html: Option<PathBuf>,
    /// The diagram starts here, ms (default: the run's start).
    #[arg(long)]
    from_ms: Option<u64>,
    /// The diagram ends here, ms (default: the run's end).
    #[arg(long)]
    to_ms: Option<u64>,
    /// Draw heartbeats and their replies as full arrows (folded into
    /// faint lines otherwise).
    #[arg(long)]
    heartbeats: bool,
}

impl FilesArgs {
    fn files(self) -> Files {
        Files {
            svg: self.svg,
            trace: self.trace,
            html: self.html,
            window: Window {
                from_ms: self.from_ms,
                to_ms: self.to_ms,
                heartbeats: self.heartbeats,
            },
        }
    }
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
        #[command(flatten)]
        files: FilesArgs,
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
        /// Faults to mix in: loss,duplicate,reorder,partition,one_way,crash,skew,flaky,torn,unsynced,
        /// hunt,stale (or all, none), and swarm. `crash` crashes nodes between inputs, `torn` halfway
        /// through acting on one input's outputs; `flaky` flaps links; `unsynced` (with crash, torn or
        /// hunt) makes a crash lose a random suffix of the records not yet followed by an acted-on send
        /// or event; `hunt` crashes, tears or isolates a leader right after it is elected or appends,
        /// and a voter right after it votes; `stale` delivers some messages again up to 1 s later;
        /// `swarm` keeps a random subset of the others per seed.
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
        /// Pictures of the failing (or only) run.
        #[command(flatten)]
        files: FilesArgs,
        /// Plant this bug first (see `consensio mutants --list`); needs a
        /// build with RUSTFLAGS="--cfg consensio_mutants" (scripts/mutants).
        #[arg(long)]
        mutant: Option<String>,
    },
    /// Writes the viewer page (one self-contained HTML file) for a
    /// JSON-lines trace (`run --trace`, `check --trace`).
    View {
        /// The trace.
        trace: PathBuf,
        /// The page (default: the trace's name with .html).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Lists the protocols the simulator can drive.
    List,
    /// The retry storm: a client fleet against a server overloaded for a
    /// while, under four client policies; prints the table and writes the
    /// plot of offered load.
    Storm {
        /// Where to write the plot.
        #[arg(long, default_value = "retry-storm.svg")]
        svg: PathBuf,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Runs each planted bug's random check and reports the first seed
    /// that caught it; fails if one survives its seed budget. Needs a build
    /// with RUSTFLAGS="--cfg consensio_mutants" (scripts/mutants).
    Mutants {
        /// Only the mutants caught fast enough for the test command.
        #[arg(long)]
        quick: bool,
        /// Only these mutants (comma-separated names).
        #[arg(long)]
        only: Option<String>,
        /// List the mutants and their checks; run nothing.
        #[arg(long)]
        list: bool,
        /// Parallel runs per mutant (0: one per core).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo {
        svg: PathBuf::from("consensio-demo.svg"),
    }) {
        Command::Demo { svg } => demo(&svg),
        Command::Run { scenario, files } => run(&scenario, files.files()),
        Command::View { trace, out } => view(&trace, out),
        Command::Check {
            protocol,
            seeds,
            start_seed,
            faults,
            nodes,
            duration_ms,
            jobs,
            files,
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
                files: files.files(),
                mutant,
            })
        }),
        Command::Mutants {
            quick,
            only,
            list,
            jobs,
        } => mutants(quick, only.as_deref(), list, jobs),
        Command::Storm { svg, seed } => {
            let reports: Vec<_> = consensio_sim::storm::Strategy::ALL
                .iter()
                .map(|&s| consensio_sim::storm::run(s, seed))
                .collect();
            print!("{}", consensio_sim::storm::table(&reports));
            std::fs::write(&svg, consensio_sim::storm::plot(&reports))
                .map(|()| {
                    println!("plot: {}", svg.display());
                    true
                })
                .map_err(|e| format!("{}: {e}", svg.display()))
        }
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

/// Where a run's pictures go: an SVG diagram (of a window), a JSON-lines
/// trace, a viewer page.
#[derive(Clone, Debug, Default)]
struct Files {
    svg: Option<PathBuf>,
    trace: Option<PathBuf>,
    html: Option<PathBuf>,
    window: Window,
}

impl Files {
    fn wanted(&self) -> bool {
        self.svg.is_some() || self.trace.is_some() || self.html.is_some()
    }
}

fn write_outputs(outcome: &Outcome, title: &str, files: &Files) -> Result<(), String> {
    if let Some(path) = &files.html {
        let page = consensio_sim::view::render_html(title, &outcome.trace);
        std::fs::write(path, page).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let (svg, trace, window) = (files.svg.as_deref(), files.trace.as_deref(), files.window);
    if let Some(path) = svg {
        let picture = render_svg(title, &outcome.members, &outcome.trace, window);
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

/// `consensio view`: the viewer page of a trace file.
fn view(trace: &Path, out: Option<PathBuf>) -> Result<bool, String> {
    let text =
        std::fs::read_to_string(trace).map_err(|e| format!("reading {}: {e}", trace.display()))?;
    let title = trace
        .file_stem()
        .map_or("trace".into(), |s| s.to_string_lossy().into_owned());
    let page = consensio_sim::view::render_jsonl(&title, &text)
        .map_err(|e| format!("{}: {e}", trace.display()))?;
    let out = out.unwrap_or_else(|| trace.with_extension("html"));
    std::fs::write(&out, page).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(true)
}

fn run(path: &Path, mut files: Files) -> Result<bool, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    files.svg = files
        .svg
        .or(scenario.output.svg.as_ref().map(PathBuf::from));
    files.trace = files
        .trace
        .or(scenario.output.trace.as_ref().map(PathBuf::from));
    scenario.sim.record_trace = files.wanted();
    if !scenario.description.is_empty() {
        println!("{}", scenario.description);
    }
    let outcome = protocols::run_named(&scenario.protocol, scenario.sim.clone())?;
    let title = scenario.title(path);
    write_outputs(&outcome, &title, &files)?;
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
    files: Files,
    mutant: Option<Mutant>,
}

fn check(args: &CheckArgs) -> Result<bool, String> {
    let bar = ProgressBar::new(args.seeds);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds {elapsed_precise} ({per_sec}) {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let started = std::time::Instant::now();
    let search = Search {
        protocol: args.protocol.clone(),
        faults: args.faults,
        nodes: args.nodes,
        duration_ms: args.duration_ms,
        seeds: args.start_seed..args.start_seed.saturating_add(args.seeds),
        jobs: args.jobs,
        record_trace: args.files.wanted(),
    };
    let found = search.run(&|| bar.inc(1))?;
    let jobs = found.jobs;
    if let Some((seed, outcome)) = found.first {
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
                "replay: consensio check {} --seeds 1 --start-seed {seed} --faults {} --nodes {} --duration-ms {}{planted} --svg failure.svg --trace failure.jsonl --html failure.html",
                args.protocol, args.faults, args.nodes, args.duration_ms
            );
            eprintln!(
                "   (or: {build} -- check {} --seeds 1 --start-seed {seed} --faults {} --nodes {} --duration-ms {}{planted})",
                args.protocol, args.faults, args.nodes, args.duration_ms
            );
            write_outputs(&outcome, &title, &args.files)?;
            return Ok(false);
        }
        // A single seed: its summary and files.
        print!("{}", outcome.summary);
        write_outputs(&outcome, &title, &args.files)?;
    }
    bar.finish();
    println!(
        "{} seeds of {} with faults [{}]: invariants held ({} messages delivered in {:.1}s, {jobs} jobs)",
        args.seeds,
        args.protocol,
        args.faults,
        found.messages,
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}

/// `consensio mutants`: each trial, its verdict, the mutation score.
fn mutants(quick: bool, only: Option<&str>, list: bool, jobs: usize) -> Result<bool, String> {
    let names: Option<Vec<&str>> = only.map(|o| o.split(',').map(str::trim).collect());
    if let Some(names) = &names
        && let Some(bad) = names.iter().find(|n| Mutant::named(n).is_none())
    {
        return Err(format!("unknown mutant '{bad}'"));
    }
    let trials: Vec<&Trial> = TRIALS
        .iter()
        .filter(|t| !quick || t.quick)
        .filter(|t| names.as_ref().is_none_or(|n| n.contains(&t.mutant.name())))
        .collect();
    if list {
        for t in &trials {
            println!(
                "{:<36} {}{}",
                t.mutant.name(),
                t.command(t.seeds, 0),
                if t.quick { "  (quick)" } else { "" }
            );
        }
        return Ok(true);
    }
    let started = std::time::Instant::now();
    let mut survivors = Vec::new();
    for t in &trials {
        let verdict = t.judge(jobs)?;
        let name = t.mutant.name();
        let secs = verdict.elapsed.as_secs_f64();
        match (verdict.caught_at, &verdict.violation) {
            (Some(seed), Some(why)) => {
                let why: String = why.chars().take(90).collect();
                println!(
                    "caught    {name:<36} seed {seed:>5} of {:<6} {secs:>6.1}s  {why}",
                    t.seeds
                );
            }
            _ => {
                println!(
                    "SURVIVED  {name:<36} {:>6} seeds       {secs:>6.1}s  {}",
                    t.seeds,
                    t.command(t.seeds, 0)
                );
                survivors.push(name);
            }
        }
    }
    let caught = trials.len() - survivors.len();
    println!(
        "mutation score: {caught}/{} caught ({:.0} s)",
        trials.len(),
        started.elapsed().as_secs_f64()
    );
    if !survivors.is_empty() {
        eprintln!("survived their seed budget: {}", survivors.join(", "));
    }
    Ok(survivors.is_empty())
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
    let title = "consensio demo — Bully election";
    let files = Files {
        svg: Some(svg.to_path_buf()),
        ..Files::default()
    };
    write_outputs(&outcome, title, &files)?;
    print!("{}", outcome.summary);
    if let Some(v) = &outcome.violation {
        println!(
            "\nThe checker caught it: {} ({}). Bully is only safe when the network cannot partition.",
            v.message, v.checker
        );
    }
    Ok(true)
}
