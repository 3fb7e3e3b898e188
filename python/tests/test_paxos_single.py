"""consensio.paxos.SingleDecreeNode: duelling proposers in-process agree on
one value, a node restarted from its records keeps its promise and its
outcome, and bad input raises."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consensio
from consensio.paxos import Decided, Preempted, SingleDecreeNode

MEMBERS = [1, 2, 3, 4, 5]


class Cluster:
    """Single-decree nodes exchanging frames in-process, in a random order
    (and, with `loss`, losing some); a node's "disk" is the list of records
    it persisted, and a crashed node is rebuilt from it alone."""

    def __init__(self, seed=0, loss=0.0, members=MEMBERS, **config):
        self.members = list(members)
        self.config = config
        self.rng = random.Random(seed)
        self.loss = loss
        self.nodes = {i: SingleDecreeNode(i, self.members, seed=seed * 31 + i, **config) for i in self.members}
        self.down = set()
        self.now = 0
        self.network = []
        self.disks = {i: [] for i in self.members}
        self.decided = {i: [] for i in self.members}
        self.preempted = 0

    def up(self):
        return [n for i, n in sorted(self.nodes.items()) if i not in self.down]

    def drain(self):
        for node in self.up():
            for out in node:
                if isinstance(out, consensio.Send):
                    self.network.append((node.id, out.to, out.data))
                elif isinstance(out, consensio.Persist):
                    assert isinstance(out.value, bytes) and out.value
                    self.disks[node.id].append(out.value)
                elif isinstance(out, Decided):
                    self.decided[node.id].append(out.value)
                else:
                    assert isinstance(out, Preempted)
                    assert (out.by_round, out.by_node) > (out.round, node.id)
                    self.preempted += 1

    def settle(self):
        self.drain()
        while self.network:
            src, dst, frame = self.network.pop(self.rng.randrange(len(self.network)))
            if dst not in self.down and self.rng.random() >= self.loss:
                self.nodes[dst].handle_message(self.now, src, frame)
            self.drain()

    def run(self, ms):
        end = self.now + ms
        self.settle()
        while True:
            due = [n.next_deadline for n in self.up() if n.next_deadline is not None]
            if not due or min(due) > end:
                break
            nxt = min(due)
            self.now = max(self.now, nxt)
            for node in self.up():
                if node.next_deadline is not None and node.next_deadline <= self.now:
                    node.tick(self.now)
            self.settle()
        self.now = end

    def restart(self, i):
        self.down.discard(i)
        self.nodes[i] = SingleDecreeNode.restore(i, self.members, self.disks[i], seed=i, **self.config)
        self.decided[i] = []
        self.drain()

    def outcome(self):
        """The one value chosen: every report, by every node and life, agrees."""
        values = {v for reports in self.decided.values() for v in reports}
        assert len(values) <= 1, values
        return values.pop() if values else None


def test_duelling_proposers_agree_on_one_of_their_values():
    c = Cluster(seed=1)
    for node in c.up():
        node.propose(c.now, b"from %d" % node.id)
    c.run(3000)
    value = c.outcome()
    assert value in {b"from %d" % i for i in MEMBERS}
    for i, node in c.nodes.items():
        assert c.decided[i] == [value], "each node reports it once"
        assert node.chosen == value
        assert node.next_deadline is None
    # The decree is made.
    with pytest.raises(consensio.Rejected):
        c.nodes[2].propose(c.now, b"late")


def test_a_restarted_node_keeps_its_promise_and_its_outcome():
    c = Cluster(seed=2)
    c.nodes[1].propose(c.now, b"x")
    c.run(1000)
    promised, accepted = c.nodes[3].promised, c.nodes[3].accepted
    assert accepted is not None and accepted[1] == b"x"
    c.down.add(3)
    c.restart(3)
    node = c.nodes[3]
    assert node.promised == promised and node.accepted == accepted
    assert node.chosen == b"x" and c.decided[3] == [b"x"], "reported again first"


def preemption_wait(base, seed):
    """n1's attempt is refused (n2 promised n3's higher ballot first): how
    long n1 waits before it tries again."""
    members = [1, 2, 3]
    n1 = SingleDecreeNode(1, members, backoff_base_ms=base, backoff_max_ms=base * 100, seed=seed)
    n2 = SingleDecreeNode(2, members)
    n3 = SingleDecreeNode(3, members)

    def frame(node, to):
        return next(o.data for o in node if isinstance(o, consensio.Send) and o.to == to)

    n3.propose(0, b"c")
    n2.handle_message(0, 3, frame(n3, 2))
    list(n2)
    n1.propose(10, b"a")
    n2.handle_message(10, 1, frame(n1, 2))
    nack = frame(n2, 1)
    n1.handle_message(10, 2, nack)
    preempted = [o for o in n1 if isinstance(o, Preempted)]
    assert preempted == [Preempted(1, 1, 3)], preempted
    assert n1.attempt is None
    return n1.next_deadline - 10


def test_a_preempted_proposer_waits_a_random_doubling_delay_or_none_without_backoff():
    assert all(preemption_wait(0, seed) == 0 for seed in range(10)), "the textbook proposer"
    waits = [preemption_wait(20, seed) for seed in range(20)]
    assert all(0 <= w <= 40 for w in waits), waits
    assert len(set(waits)) > 5, "drawn at random"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    loss=st.floats(0.0, 0.3),
    proposers=st.integers(1, 5),
    crash=st.one_of(st.none(), st.integers(1, 5)),
)
def test_agreement_under_loss_reordering_and_a_crash(seed, loss, proposers, crash):
    c = Cluster(seed=seed, loss=loss)
    for i in MEMBERS[:proposers]:
        c.nodes[i].propose(c.now, b"v%d" % i)
    c.run(150)
    if crash is not None:
        c.down.add(crash)
        c.run(300)
        c.restart(crash)
        if c.nodes[crash].chosen is None and c.nodes[crash].attempt is None and crash <= proposers:
            c.nodes[crash].propose(c.now, b"v%d" % crash)
    c.loss = 0.0
    c.run(5000)
    value = c.outcome()
    assert value is not None and value.startswith(b"v")
    for node in c.up():
        assert node.chosen == value


def test_bad_input_raises_and_changes_nothing():
    node = SingleDecreeNode(1, [1, 2, 3], max_value_bytes=8)
    with pytest.raises(consensio.InvalidArgument):
        node.propose(0, b"")
    with pytest.raises(consensio.LimitExceeded):
        node.propose(0, b"123456789")
    with pytest.raises(consensio.MalformedMessage):
        node.handle_message(0, 2, b"\x01\x1b\xff")
    other = SingleDecreeNode(2, [1, 2, 3])
    other.propose(0, b"v")
    frame = next(o.data for o in other if isinstance(o, consensio.Send))
    with pytest.raises(consensio.InvalidArgument):
        node.handle_message(0, 9, frame)
    assert node.promised == (0, 0) and node.poll() is None
    node.propose(0, b"a")
    with pytest.raises(consensio.LimitExceeded):
        node.propose(0, b"b")
    with pytest.raises(consensio.InvalidArgument):
        SingleDecreeNode(4, [1, 2, 3])
    with pytest.raises(consensio.MalformedMessage):
        SingleDecreeNode.restore(1, [1, 2, 3], [b"\x01\x1c\x09"])
    assert repr(node).startswith("SingleDecreeNode(id=1")
