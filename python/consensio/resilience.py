"""Calls that fail well: a circuit breaker, retries with backoff and budgets,
hedged requests (:class:`Hedge`), routing across endpoints and regions
(:class:`Router`), and request-reply with deadlines and at-most-once
execution (:class:`RpcNode`, a participant: drive it like any other node).

The state machines are consensio's core (time is an argument, in ms, from
one monotonic clock); this module adds what ``pybreaker`` and ``tenacity``
users expect on top of them:

- :func:`guarded`: a context manager, usable as a decorator, that asks a
  :class:`CircuitBreaker` for leave, runs the block and reports how it
  went (an exception counts as a failure unless ``is_failure`` says not).
- :func:`call_with_retry`: calls a function until it succeeds, retrying
  failures under a :class:`Retry` policy and an optional shared
  :class:`RetryBudget`, sleeping the jittered delays; :func:`retrying`
  is the same as a decorator, with a fresh :class:`Retry` per call.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from typing import Any, Callable, Iterator, Optional

from consensio._native import (
    CircuitBreaker,
    Done,
    Execute,
    Hedge,
    Permit,
    Retry,
    RetryBudget,
    Router,
    RpcNode,
    rpc_is_checkpoint_record,
)

__all__ = [
    "CircuitBreaker",
    "Done",
    "Execute",
    "Hedge",
    "Permit",
    "Retry",
    "RetryBudget",
    "Router",
    "RpcNode",
    "call_with_retry",
    "guarded",
    "now_ms",
    "retrying",
    "rpc_is_checkpoint_record",
]


def now_ms() -> int:
    """Milliseconds on the monotonic clock."""
    return time.monotonic_ns() // 1_000_000


@contextlib.contextmanager
def guarded(
    breaker: CircuitBreaker,
    *,
    is_failure: Callable[[BaseException], bool] = lambda exc: True,
    clock: Callable[[], int] = now_ms,
) -> Iterator[Permit]:
    """Runs the block under ``breaker``: raises :class:`consensio.Rejected`
    if the breaker refuses; otherwise reports "success", or "failure" (or
    "ignored", when ``is_failure(exc)`` is false) if the block raises, and
    re-raises."""
    permit = breaker.acquire(clock())
    try:
        yield permit
    except BaseException as exc:
        breaker.on_result(clock(), permit, "failure" if is_failure(exc) else "ignored")
        raise
    breaker.on_result(clock(), permit, "success")


def call_with_retry(
    fn: Callable[[], Any],
    *,
    retry: Optional[Retry] = None,
    budget: Optional[RetryBudget] = None,
    classify: Callable[[BaseException], str] = lambda exc: "transient",
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Calls ``fn()`` until it returns; after each exception, ``classify``
    names its kind ("transient", "timeout" or "permanent") and ``retry``
    (default: ``Retry()``) decides. Re-raises the last exception once the
    retry gives up."""
    retry = retry if retry is not None else Retry()
    while True:
        try:
            result = fn()
        except Exception as exc:
            decision = retry.on_failure(classify(exc), budget=budget)
            if isinstance(decision, str):
                raise
            sleep(decision / 1000)
            continue
        retry.on_success(budget=budget)
        return result


def retrying(
    *,
    budget: Optional[RetryBudget] = None,
    classify: Callable[[BaseException], str] = lambda exc: "transient",
    sleep: Callable[[float], None] = time.sleep,
    seed: int = 0,
    **policy: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function so that each call runs under
    :func:`call_with_retry` with a fresh ``Retry(**policy)``, seeded
    ``seed``, ``seed + 1``, ... call by call (so a run replays), and the
    shared ``budget``."""
    seeds = itertools.count(seed)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            retry = Retry(seed=next(seeds), **policy)
            return call_with_retry(
                lambda: fn(*args, **kwargs), retry=retry, budget=budget, classify=classify, sleep=sleep
            )

        return wrapper

    return decorate
