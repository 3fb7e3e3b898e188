"""consensio.resilience: the breaker's states, retries under both budgets,
the context manager and retry helper, and bad input."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consensio
from consensio.resilience import CircuitBreaker, Retry, RetryBudget, call_with_retry, guarded


def small(**kw):
    args = dict(window_size=10, minimum_calls=4, permitted_calls_in_half_open=2, open_wait_ms=1000)
    args.update(kw)
    return CircuitBreaker(**args)


def call(b, at, outcome, took=1):
    permit = b.acquire(at)
    return b.on_result(at + took, permit, outcome)


def test_it_opens_at_the_failure_threshold_and_recovers_through_exactly_n_trials():
    b = small()
    for i, o in enumerate(["success", "failure", "success"]):
        assert call(b, i, o) == "counted"
    assert b.state == "CLOSED" and b.metrics(3)["failure_rate"] is None
    call(b, 3, "failure")  # 2 of 4: 50%
    assert b.state == "OPEN"
    with pytest.raises(consensio.Rejected, match="OPEN"):
        b.acquire(500)
    assert b.next_deadline == 1004
    trials = [b.acquire(1004), b.acquire(1004)]
    with pytest.raises(consensio.Rejected):
        b.acquire(1004)
    for p in trials:
        b.on_result(1010, p, "success")
    assert b.state == "CLOSED"
    seen = []
    while (t := b.poll_transition()) is not None:
        seen.append(t[:2])
    assert seen == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]


def test_the_defaults_are_resilience4js_minimum_of_a_hundred_calls():
    b = CircuitBreaker()
    for i in range(99):
        call(b, i, "failure")
    assert b.state == "CLOSED"
    call(b, 99, "failure")
    assert b.state == "OPEN"
    assert b.next_deadline == 100 + 60_000


def test_slow_calls_and_the_time_window():
    b = small(window="time", window_size=2, slow_call_duration_ms=100, slow_call_rate_threshold=50.0)
    call(b, 0, "success", took=150)
    call(b, 200, "success", took=5)
    call(b, 300, "success", took=5)
    m = b.metrics(400)
    assert (m["calls"], m["slow"]) == (3, 1)
    # Two seconds later the slow call has left the window.
    assert b.metrics(2_500)["calls"] == 0
    call(b, 3_000, "success", took=101)  # slow: longer than the threshold
    call(b, 3_200, "success", took=101)
    call(b, 3_400, "success", took=1)
    call(b, 3_500, "success", took=1)
    assert b.state == "OPEN"


def test_manual_states_and_stale_results():
    b = small()
    early = b.acquire(0)
    b.transition_to("FORCED_OPEN", 1)
    with pytest.raises(consensio.Rejected, match="FORCED_OPEN"):
        b.acquire(5)
    assert b.on_result(6, early, "failure") == "stale"
    b.transition_to("METRICS_ONLY", 7)
    for i in range(10):
        call(b, 10 + i, "failure")
    assert b.state == "METRICS_ONLY" and b.metrics(30)["failure_rate"] == 100.0
    b.transition_to("DISABLED", 31)
    assert call(b, 32, "failure") == "ignored"
    b.reset(40)
    assert b.state == "CLOSED" and b.metrics(40)["calls"] == 0


def test_bad_input_raises_typed_errors_and_changes_nothing():
    with pytest.raises(consensio.InvalidArgument, match="failure_rate_threshold"):
        CircuitBreaker(failure_rate_threshold=0.0)
    with pytest.raises(consensio.InvalidArgument):
        CircuitBreaker(window="sliding")
    with pytest.raises(consensio.InvalidArgument):
        CircuitBreaker(window_size=0)
    with pytest.raises(consensio.InvalidArgument):
        CircuitBreaker(open_wait_multiplier=0.5)
    b = small()
    p = b.acquire(0)
    with pytest.raises(consensio.InvalidArgument):
        b.on_result(1, p, "meh")
    with pytest.raises(consensio.InvalidArgument):
        b.transition_to("AJAR", 1)
    forged = consensio.resilience.Permit
    assert b.metrics(1)["calls"] == 0 and b.state == "CLOSED"
    with pytest.raises(TypeError):
        forged()  # permits come from a breaker only
    with pytest.raises(OverflowError):
        b.acquire(-1)
    with pytest.raises(consensio.InvalidArgument):
        Retry(jitter="lots")
    with pytest.raises(consensio.InvalidArgument):
        Retry(max_attempts=0)
    with pytest.raises(consensio.InvalidArgument):
        RetryBudget.grpc(0, 0.1)
    with pytest.raises(consensio.InvalidArgument):
        Retry().on_failure("odd")


def test_retries_back_off_push_back_and_run_out():
    r = Retry(jitter="none", max_attempts=4)
    assert r.on_failure() == 100
    assert r.on_failure("timeout", pushback_ms=2_500) == 2_500
    assert r.on_failure() == 100, "the backoff starts over after a pushback"
    assert r.attempts == 4
    assert r.on_failure() == "attempts"
    assert Retry().on_failure("permanent") == "not_retryable"
    assert Retry().on_failure(stop=True) == "pushback"


def test_grpc_throttling_stops_at_half_and_resumes_on_successes():
    budget = RetryBudget.grpc(10, 0.1)
    decisions = [Retry(seed=i).on_failure(budget=budget) for i in range(6)]
    assert [isinstance(d, int) for d in decisions] == [True] * 4 + [False] * 2
    assert decisions[4] == "budget" and budget.level == (4_000, 10_000)
    for i in range(30):
        Retry(seed=i).on_success(budget=budget)
    assert budget.level == (7_000, 10_000)
    assert isinstance(Retry().on_failure(budget=budget), int)


def test_the_aws_quota_charges_and_refunds():
    quota = RetryBudget.aws_standard()
    r = Retry(aws_standard=True, seed=3)
    assert r.on_failure("timeout", budget=quota) <= 1_000
    assert quota.level == (490, 500)
    r.on_success(budget=quota)
    assert quota.level == (500, 500)


@settings(max_examples=200, deadline=None)
@given(
    jitter=st.sampled_from(["none", "full", "equal", "decorrelated"]),
    seed=st.integers(0, 2**64 - 1),
    initial=st.integers(1, 1_000),
    extra=st.integers(0, 10_000),
)
def test_every_delay_is_within_the_policys_bounds(jitter, seed, initial, extra):
    cap = initial + extra
    r = Retry(jitter=jitter, seed=seed, initial_ms=initial, max_ms=cap, max_attempts=12)
    for _ in range(11):
        d = r.on_failure()
        assert isinstance(d, int) and 0 <= d <= cap
        if jitter == "decorrelated":
            assert d >= initial
    again = Retry(jitter=jitter, seed=seed, initial_ms=initial, max_ms=cap, max_attempts=12)
    assert again.on_failure() == Retry(jitter=jitter, seed=seed, initial_ms=initial, max_ms=cap).on_failure()


def test_guarded_reports_success_failure_and_ignored_exceptions():
    clock = iter(range(0, 10_000, 10))
    b = small()
    tick = lambda: next(clock)  # noqa: E731
    with guarded(b, clock=tick):
        pass
    for _ in range(2):
        with pytest.raises(ZeroDivisionError), guarded(b, clock=tick):
            1 / 0
    with pytest.raises(KeyError), guarded(b, clock=tick, is_failure=lambda e: not isinstance(e, KeyError)):
        raise KeyError("a client error")
    m = b.metrics(1_000)
    assert (m["calls"], m["failed"]) == (3, 2)
    with pytest.raises(ZeroDivisionError), guarded(b, clock=tick):
        1 / 0
    assert b.state == "OPEN"
    with pytest.raises(consensio.Rejected), guarded(b, clock=tick):
        pytest.fail("the block must not run")


def test_call_with_retry_sleeps_the_delays_and_gives_up_with_the_last_error():
    slept = []
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("reset")
        return "ok"

    r = Retry(jitter="none", max_attempts=5)
    assert call_with_retry(flaky, retry=r, sleep=slept.append) == "ok"
    assert slept == [0.1, 0.2]

    def broken():
        raise ValueError("bad request")

    slept.clear()
    with pytest.raises(ValueError):
        call_with_retry(broken, classify=lambda e: "permanent", sleep=slept.append)
    assert slept == []


def test_hedging_sends_copies_at_the_delay_and_the_first_answer_wins():
    from consensio.resilience import Hedge

    h = Hedge(0, max_attempts=3, delay_ms=50)
    assert h.next_deadline == 50 and h.poll(49) is None
    assert h.poll(50) == 1
    assert h.outstanding == [0, 1]
    # Copy 0 fails transiently: copy 2 is due at once.
    assert h.on_failure(60, 0, "transient") == ("pending", None, [])
    assert h.poll(60) == 2
    assert h.on_success(2) == ("succeeded", 2, [1])
    assert h.on_success(1) == ("ignored", None, [])
    assert h.next_deadline is None
    # A permanent failure ends the call and names the copies to cancel.
    h = Hedge(0, max_attempts=4, delay_ms=10)
    h.poll(10)
    assert h.on_failure(11, 1, "permanent") == ("failed", None, [0])
    # The budget pays for every copy after the first; its refusal stops hedging.
    budget = RetryBudget.grpc(2, 0.001)
    h = Hedge(0, max_attempts=3, delay_ms=10)
    assert h.on_failure(1, 0, budget=budget) == ("pending", None, [])
    assert h.poll(1, budget=budget) == "failed"
    with pytest.raises(consensio.InvalidArgument):
        Hedge(0, max_attempts=0)
    with pytest.raises(consensio.InvalidArgument):
        Hedge(0).on_failure(1, 0, "weird")


def test_the_router_fails_over_and_back_without_flapping_and_ejects_outliers():
    from consensio.resilience import Router

    home = [(1, 0, 3, 0), (2, 0, 1, 0)]
    r = Router(home + [(10, 1, 1, 0)], health_interval_ms=1_000)
    assert [r.pick(0) for _ in range(4)] == [1, 1, 2, 1]

    def checks(now, home_up):
        while (id := r.poll_health_check(now)) is not None:
            r.on_health_check(now, id, id >= 10 or home_up)

    switches = []
    for now in range(0, 20_000, 500):
        if now % 1_000 == 0:
            # Home is down from 5 s to 10 s, and flaps once at 12 s.
            checks(now, not (5_000 <= now < 10_000) and now != 12_000)
        tier = r.active_tier(now)
        if not switches or switches[-1][1] != tier:
            switches.append((now, tier))
    assert switches == [(0, 0), (7_000, 1), (11_000, 0)]

    for _ in range(5):
        r.on_response(20_000, 1, 30, False)
    assert not r.is_available(1, 20_000) and r.is_available(1, 50_000)
    assert {r.pick(20_001) for _ in range(5)} == {2}
    with pytest.raises(consensio.InvalidArgument):
        r.is_available(99, 0)
    with pytest.raises(consensio.InvalidArgument):
        Router([])
    with pytest.raises(consensio.InvalidArgument):
        Router([(1, 0, 1, 0)], balance="random")
    with pytest.raises(consensio.InvalidArgument):
        Router([(1, 0, 0, 0)])
    down = Router([(1, 0, 1, 0)], unhealthy_threshold=1)
    down.on_health_check(0, 1, False)
    with pytest.raises(consensio.Rejected):
        down.pick(0)


def test_guarded_is_also_a_decorator():
    clock = iter(range(0, 10_000, 10))
    b = small()

    @guarded(b, clock=lambda: next(clock))
    def flaky(fail):
        if fail:
            raise ConnectionError("reset")
        return "ok"

    assert flaky(False) == "ok"
    for _ in range(3):
        with pytest.raises(ConnectionError):
            flaky(True)
    assert b.state == "OPEN"  # 3 failures of 4 calls
    with pytest.raises(consensio.Rejected):
        flaky(False)


def test_retrying_decorates_with_a_fresh_retry_per_call_and_a_shared_budget():
    from consensio.resilience import retrying

    budget = RetryBudget.grpc(4, 0.1)
    slept = []
    attempts = []

    @retrying(budget=budget, sleep=slept.append, max_attempts=3, jitter="none")
    def fetch(fail_times):
        attempts.append(1)
        if len(attempts) <= fail_times:
            raise TimeoutError
        return len(attempts)

    assert fetch(1) == 2 and slept == [0.1]
    assert fetch.__name__ == "fetch"
    # The budget is shared: that failure took 1 of 4 tokens and the success
    # gave 0.1 back (3.1). Now a failure leaves 2.1, more than half: one
    # retry; the next leaves 1.1, and the budget refuses another.
    attempts.clear()
    slept.clear()
    with pytest.raises(TimeoutError):
        fetch(5)
    assert len(attempts) == 2 and slept == [0.1]
    assert budget.level == (1_100, 4_000)
