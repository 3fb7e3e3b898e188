import random

import pytest

import consensio
from consensio.quorum import JointConfig, MajorityConfig


def test_committed_index_and_votes():
    c = MajorityConfig([1, 2, 3, 4, 5])
    assert c.quorum_size == 3 and len(c) == 5 and 3 in c and 9 not in c
    assert c.committed_index({1: 12, 2: 9, 3: 12, 4: 4}) == 9
    assert c.vote_result({1: True, 2: True}) == "pending"
    assert c.vote_result({1: True, 2: True, 3: True}) == "won"
    assert c.vote_result({1: False, 2: False, 3: False}) == "lost"
    assert MajorityConfig([]).committed_index({}) == 2**64 - 1
    assert repr(c) == "MajorityConfig([1, 2, 3, 4, 5])"


def test_joint_configuration_needs_both_halves():
    j = JointConfig([3, 4, 5, 6, 7], [1, 2, 3, 4, 5])
    acked = {1: 12, 2: 12, 3: 12, 4: 12, 5: 2, 6: 2, 7: 2}
    assert j.committed_index(acked) == 2
    assert j.vote_result({1: True, 2: True, 3: True}) == "pending"
    assert JointConfig([1, 2, 3]).committed_index({1: 5, 2: 6}) == 5


def test_committed_index_matches_a_sort_reference():
    rng = random.Random(7)
    for _ in range(500):
        voters = rng.sample(range(100), rng.randint(1, 64))
        acked = {v: rng.randint(0, 50) for v in rng.sample(range(100), 60)}
        ranked = sorted((acked.get(v, 0) for v in voters), reverse=True)
        assert MajorityConfig(voters).committed_index(acked) == ranked[len(voters) // 2]


def test_bad_configurations_raise_consensio_errors():
    with pytest.raises(consensio.LimitExceeded):
        MajorityConfig(range(65))
    with pytest.raises(consensio.InvalidArgument, match="twice"):
        MajorityConfig([1, 2, 1])
    with pytest.raises(TypeError):
        MajorityConfig(["a"])
    with pytest.raises(OverflowError):
        MajorityConfig([-1])
