import pytest

import consensio
from consensio.ring import BoundedLoadRing, HashRing, Maglev, Rendezvous, jump_hash, key_position


def test_placements_match_the_rust_golden_vectors():
    assert key_position(b"consensio") == 0x064B6BF6D3242999
    assert jump_hash(1, 65536) == 21134
    ring = HashRing(4)
    ring.add_node(1, 1, zone=1)
    ring.add_node(2, 1, zone=1)
    ring.add_node(3, 2, zone=2)
    assert [ring.owner(k) for k in (b"a", b"b", b"c", b"user:42")] == [1, 2, 3, 3]
    ring.add_node(4)
    assert ring.preference_list(b"k0", 4) == [1, 2, 3, 4]
    assert ring.preference_list(b"k0", 4, by_zone=True) == [1, 3, 4, 2]
    assert ring.preference_list(b"k0", 10) == [1, 2, 3, 4]


def test_minimal_disruption_when_a_node_joins():
    ring = HashRing(64)
    for n in range(10):
        ring.add_node(n)
    keys = [b"key-%d" % i for i in range(5000)]
    before = {k: ring.owner(k) for k in keys}
    ring.add_node(10)
    moved = [k for k in keys if ring.owner(k) != before[k]]
    assert all(ring.owner(k) == 10 for k in moved)
    assert 0.5 / 11 < len(moved) / len(keys) < 1.5 / 11


def test_other_placements():
    r = Rendezvous()
    for n in range(1, 6):
        r.add_node(n, weight=n)
    top = r.preference_list(b"x", 3)
    assert len(set(top)) == 3 and top[0] == r.owner(b"x")
    m = Maglev({1: 1, 2: 1, 3: 2})
    counts = {1: 0, 2: 0, 3: 0}
    for i in range(3000):
        counts[m.lookup(b"k%d" % i)] += 1
    assert counts[3] > counts[1] and counts[3] > counts[2]
    b = BoundedLoadRing(16, (1, 4))
    for n in range(4):
        b.add_node(n)
    for i in range(100):
        b.assign(b"k%d" % i)
    assert max(b.load(n) for n in range(4)) <= 32


def test_bad_input_raises():
    ring = HashRing()
    with pytest.raises(consensio.InvalidArgument, match="no nodes"):
        ring.owner(b"k")
    ring.add_node(1)
    with pytest.raises(consensio.InvalidArgument):
        ring.add_node(1)
    with pytest.raises(consensio.InvalidArgument):
        ring.add_node(2, weight=0)
    with pytest.raises(consensio.LimitExceeded):
        ring.add_node(3, weight=2**32 - 1)
    with pytest.raises(consensio.InvalidArgument):
        jump_hash(1, 0)
    with pytest.raises(consensio.InvalidArgument):
        Maglev({1: 1}, table_size=65536)
    with pytest.raises(consensio.InvalidArgument):
        BoundedLoadRing(16, (1, 0))
    with pytest.raises(TypeError):
        ring.owner("text")
