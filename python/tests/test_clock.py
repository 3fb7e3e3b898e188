import pytest
from hypothesis import given
from hypothesis import strategies as st

import consensio
from consensio.clock import (
    ClockFilter,
    HlcTimestamp,
    HybridLogicalClock,
    LamportClock,
    LamportStamp,
    VectorClock,
    berkeley_adjustments,
    cristian_estimate,
    ntp_on_wire,
)

clocks = st.dictionaries(st.integers(0, 8), st.integers(0, 3), max_size=8).map(VectorClock)


def merged(a, b):
    m = a.copy()
    m.merge(b)
    return m


def test_vector_clock_api_and_repr():
    a = VectorClock()
    assert a.increment(1) == 1
    b = a.copy()
    b.increment(2)
    a.increment(1)
    assert a.concurrent_with(b) and a.compare(b) == "concurrent"
    assert not (a < b) and not (a > b) and a != b
    a.merge(b)
    assert b < a and b <= a and a > b and a.dominates(b) and b.happened_before(a)
    assert a.to_dict() == {1: 2, 2: 1}
    assert VectorClock.from_dict({1: 2, 2: 1}) == a
    assert repr(a) == "VectorClock({1: 2, 2: 1})"
    assert len(a) == 2 and a.get(7) == 0
    assert VectorClock({3: 0}) == VectorClock(), "zero counters are not stored"
    with pytest.raises(TypeError):
        hash(a)


def test_vector_clock_bytes_round_trip_and_bad_bytes():
    a = VectorClock({1: 5, 9: 2})
    data = a.to_bytes()
    assert VectorClock.from_bytes(data) == a
    for cut in range(len(data)):
        with pytest.raises(consensio.MalformedMessage):
            VectorClock.from_bytes(data[:cut])
    for bad in [data + b"\x00", b"\x02" + data[1:], b"\xde\xad\xbe\xef", bytes([1, 1, 2, 4, 1, 1, 2])]:
        with pytest.raises(consensio.MalformedMessage) as err:
            VectorClock.from_bytes(bad)
        assert str(err.value)
    with pytest.raises(TypeError):
        VectorClock.from_bytes("not bytes")


def test_counter_overflow_is_a_consensio_error_and_changes_nothing():
    a = VectorClock({1: 2**64 - 1})
    with pytest.raises(consensio.LimitExceeded):
        a.increment(1)
    assert a.get(1) == 2**64 - 1
    with pytest.raises(OverflowError):
        a.increment(-1)
    with pytest.raises(OverflowError):
        VectorClock({1: 2**64})


@given(clocks, clocks, clocks)
def test_merge_is_a_join_semilattice(a, b, c):
    assert merged(a, b) == merged(b, a)
    assert merged(merged(a, b), c) == merged(a, merged(b, c))
    assert merged(a, a) == a
    same = a.copy()
    same.merge(same)  # the same object: no change, no borrow error
    assert same == a


@given(clocks, clocks)
def test_order_agrees_with_merge(a, b):
    m = merged(a, b)
    assert (a <= b) == (m == b)
    assert (a >= b) == (m == a)
    assert a.concurrent_with(b) == (m != a and m != b)


def test_lamport_clock_orders_receive_after_send():
    p, q = LamportClock(1), LamportClock(2, time=5)
    sent = p.send()
    got = q.receive(sent)
    assert sent < got and got == LamportStamp(6, 2)
    assert sorted([LamportStamp(2, 1), LamportStamp(1, 2), LamportStamp(1, 1)]) == [
        LamportStamp(1, 1),
        LamportStamp(1, 2),
        LamportStamp(2, 1),
    ]
    with pytest.raises(consensio.LimitExceeded):
        q.receive(LamportStamp(2**64 - 1, 9))
    assert q.time == 6


def test_hybrid_logical_clock_and_max_offset():
    h = HybridLogicalClock(500)
    got = h.receive(990, HlcTimestamp(1000, 3))
    assert got == HlcTimestamp(1000, 4) and h.now(990) == HlcTimestamp(1000, 5)
    with pytest.raises(consensio.Rejected, match="ahead"):
        h.receive(1000, HlcTimestamp(5000))
    assert h.last == HlcTimestamp(1000, 5)
    assert HlcTimestamp.from_bytes(got.to_bytes()) == got
    with pytest.raises(consensio.MalformedMessage):
        HlcTimestamp.from_bytes(b"\x01\x03")


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 30)), min_size=1, max_size=40))
def test_hlc_receive_orders_after_send_and_stays_monotonic(steps):
    clocks = [HybridLogicalClock(1000) for _ in range(3)]
    real = 10_000
    for sender, receiver, advance in steps:
        real += advance
        before = clocks[receiver].last
        sent = clocks[sender].now(real + 7 * sender)
        got = clocks[receiver].receive(real + 7 * receiver, sent)
        assert got > sent and got > before


def test_synchronisation_arithmetic():
    assert ntp_on_wire(100, 160, 162, 122) == (50, 20)
    with pytest.raises(consensio.InvalidArgument):
        ntp_on_wire(100, 160, 162, 99)
    f = ClockFilter()
    assert f.push(40, 30, 1000).offset == 40
    assert f.push(52, 8, 2000).delay == 8
    assert f.push(90, 70, 3000) is None and f.best().offset == 52
    e = cristian_estimate(1000, 5020, 1040, 5)
    assert (e.server_time, e.offset, e.error) == (5040, 4000, 15)
    assert berkeley_adjustments([0, 25, -10, 10_000], 100) == (5, 3, [5, -20, 15, -9995])
    with pytest.raises(consensio.InvalidArgument):
        berkeley_adjustments([], 100)
    with pytest.raises(consensio.InvalidArgument):
        cristian_estimate(10, 0, 9)
