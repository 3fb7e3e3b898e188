//! `consensio.sim`: run a scenario or a many-seed check from Python and get
//! the summary, the trace, the SVG and the viewer page. Runs release the
//! GIL.

use consensio_sim::protocols::{self, Outcome};
use consensio_sim::scenario::{FaultMix, Scenario};
use consensio_sim::trace::{Window, render_svg};
use pyo3::prelude::*;

use crate::invalid;

/// The raw result of one run, as JSON strings, SVG and HTML text;
/// `consensio.sim` turns it into a `SimResult`.
type RawRun = (String, Vec<String>, String, String, Option<String>);

fn raw(outcome: &Outcome, title: &str) -> RawRun {
    let summary = serde_json::to_string(&outcome.summary).unwrap_or_default();
    let trace = outcome.trace.iter().map(|e| e.to_json()).collect();
    let svg = render_svg(title, &outcome.members, &outcome.trace, Window::ALL);
    let html = consensio_sim::view::render_html(title, &outcome.trace);
    let violation = outcome.violation.as_ref().map(ToString::to_string);
    (summary, trace, svg, html, violation)
}

/// Runs the scenario in `toml` (the format of sim/scenarios/*.toml).
#[pyfunction]
fn run_scenario(py: Python<'_>, toml: &str) -> PyResult<RawRun> {
    let mut scenario = Scenario::parse(toml).map_err(invalid)?;
    scenario.sim.record_trace = true;
    let title = format!("{} scenario", scenario.protocol);
    py.detach(move || {
        protocols::run_named(&scenario.protocol, scenario.sim).map(|o| raw(&o, &title))
    })
    .map_err(invalid)
}

/// Runs one seed of `protocol` with the fault mix `faults`.
#[pyfunction]
#[pyo3(signature = (protocol, seed, faults="none", nodes=5, duration_ms=20_000))]
fn run(
    py: Python<'_>,
    protocol: &str,
    seed: u64,
    faults: &str,
    nodes: u64,
    duration_ms: u64,
) -> PyResult<RawRun> {
    let mix: FaultMix = faults.parse().map_err(invalid)?;
    let mut config = mix.config(seed, nodes, duration_ms);
    config.record_trace = true;
    let title = format!("{protocol} seed {seed}");
    py.detach(move || protocols::run_named(protocol, config).map(|o| raw(&o, &title)))
        .map_err(invalid)
}

/// Runs `seeds` seeds from `start_seed`; returns `(seeds_run,
/// failing_seed, violation)` — the last two None if every invariant held.
#[pyfunction]
#[pyo3(signature = (protocol, seeds, start_seed=0, faults="none", nodes=5, duration_ms=20_000))]
fn check(
    py: Python<'_>,
    protocol: &str,
    seeds: u64,
    start_seed: u64,
    faults: &str,
    nodes: u64,
    duration_ms: u64,
) -> PyResult<(u64, Option<u64>, Option<String>)> {
    let mix: FaultMix = faults.parse().map_err(invalid)?;
    py.detach(move || {
        let mut ran = 0;
        for seed in start_seed..start_seed.saturating_add(seeds) {
            let outcome = protocols::run_named(protocol, mix.config(seed, nodes, duration_ms))?;
            ran += 1;
            if let Some(v) = outcome.violation {
                return Ok((ran, Some(seed), Some(v.to_string())));
            }
        }
        Ok((ran, None, None))
    })
    .map_err(|e: String| invalid(e))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let names: Vec<&str> = protocols::all().map(|e| e.name).collect();
    m.add("SIM_PROTOCOLS", names)?;
    m.add_function(wrap_pyfunction!(run_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    Ok(())
}
