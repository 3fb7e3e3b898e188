import pathlib

import pytest

import consensio
from consensio import sim

SCENARIOS = pathlib.Path(__file__).resolve().parents[2] / "sim" / "scenarios"


def test_protocols_are_listed():
    assert {"bully", "ring-election", "heartbeat", "phi"} <= set(sim.PROTOCOLS)


def test_a_run_returns_summary_trace_and_svg_and_replays_exactly():
    a = sim.run("bully", seed=3, faults="duplicate,reorder,crash", duration_ms=8_000)
    b = sim.run("bully", seed=3, faults="duplicate,reorder,crash", duration_ms=8_000)
    assert a == b
    assert a.violation is None
    assert a.summary["delivered"] > 0 and a.summary["events"]["Elected"] >= 5
    assert any(e["kind"] == "event" for e in a.trace)
    assert a.svg.startswith("<svg") and "n5" in a.svg
    # The viewer page holds the whole run, and needs no network.
    assert a.html.startswith("<!DOCTYPE html>") and '"members":[1,2,3,4,5]' in a.html
    assert "<script src" not in a.html and '"violation":null' in a.html


def test_check_finds_the_partition_violation_with_its_seed():
    held = sim.check("bully", seeds=20)
    assert held.passed and held.seeds_run == 20
    failed = sim.check("bully", seeds=50, faults="partition")
    assert not failed.passed and "split brain" in failed.violation
    again = sim.run("bully", seed=failed.failing_seed, faults="partition")
    assert again.violation == failed.violation
    assert '"kind":"violation"' in again.html and "split brain" in again.html


def test_scenario_files_run_from_python():
    result = sim.run_scenario((SCENARIOS / "bully-partition.toml").read_text())
    assert result.violation and "split brain" in result.violation
    ok = sim.run_scenario((SCENARIOS / "heartbeat-loss.toml").read_text())
    assert ok.violation is None


def test_bad_input_raises():
    with pytest.raises(consensio.InvalidArgument, match="unknown protocol"):
        sim.run("paxos-someday", seed=1)
    with pytest.raises(consensio.InvalidArgument, match="unknown fault"):
        sim.check("bully", seeds=1, faults="lightning")
    with pytest.raises(consensio.InvalidArgument):
        sim.run_scenario("protocol = 'bully'\n[sim]\nnodez = 3\n")
    with pytest.raises(TypeError):
        sim.run("bully", seed="one")
