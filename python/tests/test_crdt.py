"""consensio.crdt: replicas update independently and converge by merging
(the laws, checked with hypothesis on random runs), states survive the
wire, add wins over a concurrent remove, and bad input raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consensio
from consensio.clock import VectorClock
from consensio.crdt import DvvSet, GCounter, LwwRegister, MvRegister, OrSet, PnCounter

TYPES = [GCounter, PnCounter, LwwRegister, MvRegister, OrSet, DvvSet]


def update(state, replica, op, arg):
    """One update at `replica` (its own actor id)."""
    actor = replica + 1
    if isinstance(state, GCounter):
        state.increment(actor, arg)
    elif isinstance(state, PnCounter):
        (state.increment if op else state.decrement)(actor, arg)
    elif isinstance(state, LwwRegister):
        state.set(arg % 8, op, actor, bytes([arg]))
    elif isinstance(state, MvRegister):
        state.write(actor, bytes([arg]))
    elif isinstance(state, DvvSet):
        # A client that read this replica (op 1) or nothing (op 0).
        state.put(state.context if op else None, actor, bytes([arg]))
    elif op:
        state.add(actor, bytes([arg % 5]))
    else:
        state.remove(bytes([arg % 5]))


def merged(a, b):
    c = a.copy()
    c.merge(b)
    return c


steps = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 255), st.booleans(), st.integers(0, 3)), max_size=30)


def run(cls, program):
    replicas = [cls() for _ in range(4)]
    for at, op, arg, merge, other in program:
        update(replicas[at], at, op, arg)
        if merge:
            replicas[at].merge(replicas[other])
    return replicas


@pytest.mark.parametrize("cls", TYPES)
@settings(max_examples=60, deadline=None)
@given(program=steps)
def test_merge_is_commutative_associative_and_idempotent(cls, program):
    a, b, c, _ = run(cls, program)
    assert merged(a, b) == merged(b, a)
    assert merged(merged(a, b), c) == merged(a, merged(b, c))
    assert merged(a, a) == a
    assert merged(merged(a, b), b) == merged(a, b)
    assert cls.from_bytes(a.to_bytes()) == a


@pytest.mark.parametrize("cls", TYPES)
@settings(max_examples=60, deadline=None)
@given(program=steps)
def test_replicas_that_exchange_everything_converge(cls, program):
    replicas = run(cls, program)
    for r in replicas:
        for other in replicas:
            r.merge(other)
    assert all(r == replicas[0] for r in replicas)


def test_counters_count_a_state_received_twice_once():
    a, b = GCounter(), GCounter()
    a.increment(1, 2)
    b.increment(2, 3)
    a.merge(b)
    a.merge(b)
    assert a.value == 5
    p = PnCounter()
    p.increment(1, 10)
    p.decrement(2, 25)
    assert p.value == -15
    big = GCounter()
    big.increment(1, 2**64 - 1)
    with pytest.raises(consensio.OutOfRange):
        big.increment(1)
    big.increment(2, 2**64 - 1)
    assert big.value == 2 * (2**64 - 1)


def test_registers():
    a, b = LwwRegister(), LwwRegister()
    assert a.value is None and a.stamp is None
    assert a.set(100, 0, 1, b"red")
    b.set(100, 1, 2, b"blue")
    a.merge(b)
    assert a.value == b"blue" and a.stamp == (100, 1, 2)
    assert not a.set(99, 9, 3, b"late")
    m, n = MvRegister(), MvRegister()
    m.write(1, b"milk")
    n.write(2, b"eggs")
    m.merge(n)
    assert sorted(m.values) == [b"eggs", b"milk"]
    m.write(1, b"both")
    n.merge(m)
    assert n.values == [b"both"]


def test_dvv_siblings_from_one_read_and_a_write_that_saw_both():
    key = DvvSet()
    key.put(None, 1, b"v1")
    read = key.context
    assert isinstance(read, VectorClock)
    key.put(read, 1, b"v2")
    key.put(read, 1, b"v3")
    assert sorted(key.values) == [b"v2", b"v3"] and len(key) == 2
    key.put(key.context, 1, b"v4")
    assert key.values == [b"v4"]
    assert DvvSet.from_bytes(key.to_bytes()) == key


def test_an_add_concurrent_with_a_remove_wins():
    a = OrSet()
    a.add(1, b"x")
    b = OrSet.from_bytes(a.to_bytes())
    assert b.remove(b"x") and not b.remove(b"x")
    a.add(1, b"x")
    b.merge(a)
    assert b"x" in b and len(b) == 1
    b.remove(b"x")
    a.merge(b)
    assert b"x" not in a and a.elements == []


def test_bad_input_raises():
    with pytest.raises(consensio.MalformedMessage):
        OrSet.from_bytes(b"\x01\x23\xff\xff")
    with pytest.raises(consensio.MalformedMessage):
        OrSet.from_bytes(bytes([1, 35, 0, 1, 1, 7, 1, 1, 1]))  # a dot the context never saw
    with pytest.raises(consensio.MalformedMessage):
        GCounter.from_bytes(OrSet().to_bytes())  # another type's frame
    with pytest.raises(TypeError):
        GCounter().merge(OrSet())
    with pytest.raises(OverflowError):
        GCounter().increment(-1)
