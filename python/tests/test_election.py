import pytest
from hypothesis import given
from hypothesis import strategies as st

import consensio
from consensio.election import Bully, Elected, LeaderLost, RingElection


class Net:
    """Nodes exchanging frames in-process: every ``Send`` is delivered at
    once (no loss: the synchronous model these algorithms need), except to a
    node that is down. Time advances to the earliest ``next_deadline``."""

    def __init__(self, *nodes):
        self.nodes = {n.id: n for n in nodes}
        self.down = set()
        self.now = 0
        self.persisted = {}  # id -> last Persist.value made durable
        self.events = []  # (now, id, event)

    def up(self):
        return [n for i, n in sorted(self.nodes.items()) if i not in self.down]

    def drain(self):
        while True:
            pending = []
            for node in self.up():
                for out in node:
                    if isinstance(out, consensio.Send):
                        pending.append((node.id, out.to, out.data))
                    elif isinstance(out, consensio.Persist):
                        # Epochs persisted by one node only ever grow, across
                        # restarts too.
                        assert out.value > self.persisted.get(node.id, 0)
                        self.persisted[node.id] = out.value
                    else:
                        self.events.append((self.now, node.id, out))
            if not pending:
                return
            for src, dst, data in pending:
                if dst not in self.down:
                    self.nodes[dst].handle_message(self.now, src, data)

    def run_until(self, t):
        for _ in range(100_000):
            due = [n.next_deadline for n in self.up() if n.next_deadline is not None]
            if not due or min(due) > t:
                self.now = t
                return
            self.now = max(self.now, min(due))
            for node in self.up():
                if node.next_deadline is not None and node.next_deadline <= self.now:
                    node.tick(self.now)
            self.drain()
        raise AssertionError("timers never settled")

    def events_of(self, node_id, since=0):
        return [e for t, i, e in self.events if i == node_id and t >= since]


MEMBERS = [1, 2, 3]


def test_three_bully_nodes_elect_the_highest_id():
    net = Net(*(Bully(i, MEMBERS) for i in MEMBERS))
    assert all(n.leader is None and n.epoch == 0 for n in net.up())
    assert net.nodes[1].next_deadline == 0  # wants its first tick at once
    net.run_until(2_000)
    assert [(n.leader, n.epoch) for n in net.up()] == [(3, 1)] * 3
    for i in MEMBERS:
        assert net.events_of(i) == [Elected(3, 1)]
    assert net.persisted == {1: 1, 2: 1, 3: 1}
    # Listening for 500 ms, answer timeout 100 ms: elected at 600 ms.
    assert {t for t, _, e in net.events if isinstance(e, Elected)} == {600}
    leader = net.nodes[3]
    assert leader.is_electing is False and leader.members == MEMBERS
    assert repr(leader) == "Bully(id=3, leader=3, epoch=1)"


def test_a_restarted_bully_node_takes_over_with_a_higher_epoch():
    net = Net(*(Bully(i, MEMBERS) for i in MEMBERS))
    net.run_until(2_000)
    # 3 crashes; 1 and 2 lose it and elect 2 in epoch 2.
    net.down.add(3)
    net.run_until(4_000)
    assert [(n.leader, n.epoch) for n in net.up()] == [(2, 2), (2, 2)]
    assert LeaderLost(1) in net.events_of(1) and Elected(2, 2) in net.events_of(1)
    # 3 comes back, rebuilt from the last epoch it persisted.
    last = net.persisted[3]
    assert last == 1
    restarted = Bully(3, MEMBERS, epoch=last)
    assert restarted.epoch == 1 and restarted.leader is None
    net.nodes[3] = restarted
    net.down.discard(3)
    restart = net.now
    net.run_until(6_000)
    assert [(n.leader, n.epoch) for n in net.up()] == [(3, 3)] * 3
    assert net.persisted == {1: 3, 2: 3, 3: 3}
    for i in MEMBERS:
        assert net.events_of(i, since=restart) == [Elected(3, 3)]


def test_start_election_and_custom_timeouts():
    fast = dict(answer_timeout_ms=10, coordinator_timeout_ms=30, heartbeat_interval_ms=10, leader_timeout_ms=50)
    net = Net(*(Bully(i, MEMBERS, **fast) for i in MEMBERS))
    net.run_until(200)
    assert [(n.leader, n.epoch) for n in net.up()] == [(3, 1)] * 3
    # Asking a follower to elect makes the leader outbid it: a new epoch.
    before = len(net.events)
    net.nodes[1].start_election(net.now)
    net.drain()
    net.run_until(400)
    assert [(n.leader, n.epoch) for n in net.up()] == [(3, 2)] * 3
    assert [e for _, _, e in net.events[before:]] == [Elected(3, 2)] * 3
    # A node without a leader ignores the command: it elects on its own.
    idle = Bully(1, MEMBERS)
    idle.start_election(0)
    assert idle.poll() is None and idle.leader is None
    # A cluster of one elects itself when its listening period ends.
    alone = Bully(1, [1])
    alone.tick(0)
    alone.tick(alone.next_deadline)
    assert list(alone) == [consensio.Persist(1), Elected(1, 1)] and alone.leader == 1


def test_ring_election_elects_the_max_and_repairs_the_ring():
    members = [40, 10, 50, 30, 20, 10]  # order and duplicates do not matter
    net = Net(*(RingElection(i, members) for i in sorted(set(members))))
    assert net.nodes[10].members == [10, 20, 30, 40, 50]
    net.run_until(3_000)
    assert [(n.leader, n.epoch) for n in net.up()] == [(50, 1)] * 5
    for i in net.nodes:
        assert net.events_of(i) == [Elected(50, 1)]
    assert not any(n.is_participating for n in net.up())
    # The max crashes: the ring routes round it and elects the next one.
    net.down.add(50)
    net.run_until(10_000)
    assert [(n.leader, n.epoch) for n in net.up()] == [(40, 2)] * 4
    assert net.nodes[40].is_marked_dead(50)
    assert LeaderLost(1) in net.events_of(10)
    # It returns, rebuilt from its persisted epoch, and takes over again.
    net.nodes[50] = RingElection(50, members, epoch=net.persisted[50])
    net.down.discard(50)
    net.run_until(20_000)
    assert [n.leader for n in net.up()] == [50] * 5
    assert {n.epoch for n in net.up()} == {3}
    assert not net.nodes[40].is_marked_dead(50)


def test_outputs_are_frozen_values():
    assert Elected(3, 1) == Elected(3, 1) and Elected(3, 1) != Elected(2, 1)
    assert len({Elected(3, 1), Elected(3, 1), LeaderLost(1)}) == 2
    assert repr(Elected(3, 1)) == "Elected(leader=3, epoch=1)"
    assert repr(LeaderLost(7)) == "LeaderLost(epoch=7)"
    assert consensio.Persist(5) == consensio.Persist(5) and consensio.Persist(5).value == 5
    assert repr(consensio.Persist(5)) == "Persist(value=5)"
    with pytest.raises(AttributeError):
        Elected(3, 1).leader = 2
    with pytest.raises(AttributeError):
        consensio.Persist(1).value = 2


def first_frame(node_cls):
    """A real frame: the Election a node sends when its listening ends."""
    node = node_cls(1, MEMBERS)
    node.tick(0)
    node.tick(10_000)
    sends = [o for o in node if isinstance(o, consensio.Send)]
    assert sends
    return sends[0].data


@pytest.mark.parametrize("cls", [Bully, RingElection])
def test_bad_frames_raise_and_change_nothing(cls):
    frame = first_frame(cls)
    other = first_frame(RingElection if cls is Bully else Bully)
    node = cls(2, MEMBERS)
    node.tick(0)
    list(node)
    before = (node.leader, node.epoch, node.next_deadline)
    for bad in [b"", b"\xde\xad", frame[:-1], frame[:2], frame + b"\x00", b"\x09" + frame[1:], other]:
        with pytest.raises(consensio.MalformedMessage):
            node.handle_message(1, 1, bad)
    with pytest.raises(consensio.LimitExceeded):
        node.handle_message(1, 1, frame + bytes(64))
    with pytest.raises(consensio.InvalidArgument, match="not a member"):
        node.handle_message(1, 99, frame)
    with pytest.raises(consensio.InvalidArgument):
        node.handle_message(1, 2, frame)  # from itself
    assert node.poll() is None and (node.leader, node.epoch, node.next_deadline) == before
    node.handle_message(1, 1, frame)  # the real frame is fine


@pytest.mark.parametrize("cls", [Bully, RingElection])
def test_bad_configuration(cls):
    with pytest.raises(consensio.InvalidArgument, match="include this node"):
        cls(4, MEMBERS)
    # Too many members exceeds a fixed bound: LimitExceeded, as in C and as
    # for Raft's voters (one classification of errors, in core).
    with pytest.raises(consensio.LimitExceeded, match="exceed"):
        cls(1, range(300))
    cls(1, range(256))  # the limit itself is fine
    cls(1, {1, 2, 3})  # any iterable of ints
    cls(1, [1])  # a cluster of one
    with pytest.raises(consensio.InvalidArgument):
        cls(1, MEMBERS, heartbeat_interval_ms=0)
    with pytest.raises(consensio.InvalidArgument, match="leader_timeout_ms"):
        cls(1, MEMBERS, heartbeat_interval_ms=500, leader_timeout_ms=500)


@pytest.mark.parametrize("cls", [Bully, RingElection])
def test_wrong_types(cls):
    for args in [("1", MEMBERS), (1, "123"), (1, b"\x01\x02"), (1, 3), (1, [1, "2"]), (1, [1, None]), (1.5, MEMBERS)]:
        with pytest.raises(TypeError):
            cls(*args)
    with pytest.raises(TypeError):
        cls(1, MEMBERS, 0, 100)  # timeouts are keyword-only
    with pytest.raises(TypeError):
        cls(1, MEMBERS, no_such_timeout=5)
    with pytest.raises(OverflowError):
        cls(1, MEMBERS, epoch=-1)
    with pytest.raises(OverflowError):
        cls(-1, [-1, 2])
    node = cls(1, MEMBERS)
    with pytest.raises(TypeError):
        node.handle_message(0, 2, "text")
    with pytest.raises(TypeError):
        node.handle_message(0, "2", b"")
    with pytest.raises(TypeError):
        node.tick(None)
    with pytest.raises(OverflowError):
        node.start_election(-5)


@pytest.mark.parametrize("cls", [Bully, RingElection])
@given(data=st.binary(max_size=40), sender=st.sampled_from([1, 2, 3, 7]))
def test_arbitrary_bytes_raise_or_are_handled(cls, data, sender):
    node = cls(2, MEMBERS)
    try:
        node.handle_message(0, sender, data)
    except consensio.Error:
        pass
    list(node)  # whatever was accepted produces well-formed outputs
