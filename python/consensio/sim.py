"""Run the deterministic simulator from Python.

>>> from consensio import sim
>>> result = sim.run("bully", seed=1)            # doctest: +SKIP
>>> result.summary["delivered"], result.violation  # doctest: +SKIP

Every run is decided by its seed: the same call gives the same result. The
runs release the GIL.
"""

import json
from dataclasses import dataclass
from typing import List, Optional

from consensio import _native

PROTOCOLS: List[str] = list(_native.SIM_PROTOCOLS)


@dataclass(frozen=True)
class SimResult:
    """One simulated run."""

    summary: dict
    """Counters: messages sent/delivered/dropped/duplicated, events by kind, ..."""
    trace: List[dict]
    """Every recorded event, in order (the JSON-lines trace, parsed)."""
    svg: str
    """A space-time diagram of the run."""
    html: str
    """The viewer: one self-contained HTML page that replays the run."""
    violation: Optional[str]
    """The invariant violation that stopped the run, with seed and trace excerpt."""


@dataclass(frozen=True)
class CheckResult:
    """A many-seed check."""

    seeds_run: int
    failing_seed: Optional[int]
    violation: Optional[str]

    @property
    def passed(self) -> bool:
        return self.failing_seed is None


def _result(raw) -> SimResult:
    summary, trace, svg, html, violation = raw
    return SimResult(json.loads(summary), [json.loads(line) for line in trace], svg, html, violation)


def run_scenario(toml: str) -> SimResult:
    """Runs a scenario given as TOML text (the format of sim/scenarios/*.toml)."""
    return _result(_native.run_scenario(toml))


def run(protocol: str, seed: int, faults: str = "none", nodes: int = 5, duration_ms: int = 20_000) -> SimResult:
    """Runs one seed of ``protocol`` with a fault mix such as ``"loss,crash,partition"``.

    The names are those of ``consensio check --faults``: ``loss``, ``duplicate``,
    ``reorder``, ``partition``, ``one_way``, ``crash``, ``skew``, ``torn`` (crashes
    halfway through acting on one input's outputs) and ``unsynced`` (with ``crash``
    or ``torn``: a crash loses a random suffix of the records not yet synced), or
    ``all`` or ``none``.
    """
    return _result(_native.run(protocol, seed, faults, nodes, duration_ms))


def check(
    protocol: str,
    seeds: int,
    start_seed: int = 0,
    faults: str = "none",
    nodes: int = 5,
    duration_ms: int = 20_000,
) -> CheckResult:
    """Runs ``seeds`` seeds; stops at the first invariant violation."""
    return CheckResult(*_native.check(protocol, seeds, start_seed, faults, nodes, duration_ms))


__all__ = ["PROTOCOLS", "CheckResult", "SimResult", "check", "run", "run_scenario"]
