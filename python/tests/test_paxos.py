"""consensio.paxos: a cluster of PaxosNodes in-process, restarts from the
records alone, and bad input."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consensio
from consensio.paxos import Adopted, Chosen, PaxosNode, SteppedDown

MEMBERS = [1, 2, 3]


class Cluster:
    """Paxos nodes exchanging frames in-process; a node's "disk" is the list
    of records it persisted, and a crashed node is rebuilt from it alone."""

    def __init__(self, members=MEMBERS, **config):
        self.members = list(members)
        self.config = config
        self.nodes = {i: PaxosNode(i, self.members, **config) for i in self.members}
        self.down = set()
        self.now = 0
        self.network = []
        self.disks = {i: [] for i in self.members}
        self.chosen = {i: [] for i in self.members}
        self.events = []

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
                elif isinstance(out, Chosen):
                    # Every slot from 1, once, in order.
                    assert out.slot == len(self.chosen[node.id]) + 1
                    self.chosen[node.id].append(out.value)
                else:
                    self.events.append((self.now, node.id, out))

    def settle(self, drop=lambda src, dst: False):
        self.drain()
        while self.network:
            src, dst, frame = self.network.pop(0)
            if dst not in self.down and not drop(src, dst):
                self.nodes[dst].handle_message(self.now, src, frame)
            self.drain()

    def run(self, ms, drop=lambda src, dst: False):
        end = self.now + ms
        while True:
            due = [n.next_deadline for n in self.up() if n.next_deadline is not None]
            # Nothing armed (every node down, say): time just passes. (A
            # deadline of `end` itself was the loop's only way out before,
            # so a run with every node down never ended.)
            if not due or min(due) > end:
                break
            nxt = min(due)
            self.now = max(self.now, nxt)
            for node in self.up():
                if node.next_deadline is not None and node.next_deadline <= self.now:
                    node.tick(self.now)
            self.settle(drop)
        self.now = end

    def leader(self):
        leaders = [n for n in self.up() if n.role == "leader"]
        return leaders[0] if leaders else None

    def crash(self, i):
        self.down.add(i)

    def restart(self, i):
        self.down.discard(i)
        self.nodes[i] = PaxosNode.restore(i, self.members, self.disks[i], **self.config)
        self.chosen[i] = []
        self.drain()


def agree(cluster):
    """The chosen values agree slot by slot across every node."""
    logs = [log for log in cluster.chosen.values() if log]
    longest = max(logs, key=len)
    for log in logs:
        assert log == longest[: len(log)]
    return longest


def test_a_leader_is_adopted_and_every_node_learns_the_values_in_order():
    c = Cluster()
    c.run(1_000)
    leader = c.leader()
    assert leader is not None and leader.leader == leader.id
    assert any(isinstance(e, Adopted) and e.node == leader.id for _, _, e in c.events)
    for i in range(20):
        leader.propose(c.now, b"v%d" % i)
    c.settle()
    c.run(200)
    log = [v for v in agree(c) if v]
    assert log == [b"v%d" % i for i in range(20)]
    for node in c.up():
        assert node.first_unchosen == len(c.chosen[node.id]) + 1
        assert node.chosen(1) == c.chosen[node.id][0]
        assert node.promised == leader.ballot


def test_a_restarted_node_keeps_its_promise_and_reports_its_log_again():
    c = Cluster()
    c.run(1_000)
    leader = c.leader()
    for i in range(5):
        leader.propose(c.now, b"x%d" % i)
    c.run(300)
    follower = next(i for i in MEMBERS if i != leader.id)
    before = c.nodes[follower]
    promised, first = before.promised, before.first_unchosen
    c.crash(follower)
    c.restart(follower)
    again = c.nodes[follower]
    assert again.promised == promised
    # The prefix its records hold (a page at most behind) comes again at
    # once; the rest it relearns.
    assert again.first_unchosen <= first
    assert len(c.chosen[follower]) == again.first_unchosen - 1
    c.run(500)
    assert c.nodes[follower].first_unchosen == first
    agree(c)


def test_a_snapshot_record_replaces_the_records_before_it():
    from consensio.paxos import Snapshot, is_snapshot_record

    c = Cluster()
    c.run(1_000)
    leader = c.leader()
    for i in range(10):
        leader.propose(c.now, b"s%d" % i)
    c.run(300)
    follower = next(i for i in MEMBERS if i != leader.id)
    node = c.nodes[follower]
    with pytest.raises(consensio.InvalidArgument):
        node.compact(c.now, node.applied + 1, b"state")
    applied = node.applied
    node.compact(c.now, applied, b"state")
    c.drain()
    assert node.snapshot == (applied, b"state")
    assert is_snapshot_record(c.disks[follower][-1])
    assert not is_snapshot_record(c.disks[follower][0])
    with pytest.raises(consensio.MalformedMessage):
        is_snapshot_record(b"xx")
    # The host deletes what the snapshot replaced; a restart starts from it.
    c.disks[follower] = c.disks[follower][-1:]
    c.crash(follower)
    c.down.discard(follower)
    again = PaxosNode.restore(follower, MEMBERS, c.disks[follower])
    first = again.poll()
    assert first == Snapshot(applied)
    assert again.snapshot == (applied, b"state")
    c.nodes[follower] = again
    c.chosen[follower] = [None] * applied
    leader.propose(c.now, b"after")
    c.run(500)
    assert c.chosen[follower][-1] == b"after"
    assert c.nodes[follower].first_held >= 1


def test_a_leader_cut_off_steps_down_and_another_is_adopted():
    c = Cluster()
    c.run(1_000)
    old = c.leader().id
    c.run(1_000, drop=lambda src, dst: old in (src, dst))
    assert c.nodes[old].role != "leader"
    assert any(isinstance(e, SteppedDown) and i == old for _, i, e in c.events)
    assert c.leader() is not None and c.leader().id != old
    c.leader().propose(c.now, b"after")
    c.run(500)
    assert b"after" in agree(c)


def test_bad_input_raises_and_changes_nothing():
    c = Cluster()
    follower = c.nodes[2]
    with pytest.raises(consensio.Rejected):
        follower.propose(0, b"x")
    c.run(1_000)
    leader = c.leader()
    with pytest.raises(consensio.InvalidArgument):
        leader.propose(c.now, b"")
    with pytest.raises(consensio.LimitExceeded):
        leader.propose(c.now, bytes(65537))
    with pytest.raises(consensio.InvalidArgument):
        leader.handle_message(c.now, 9, b"\x01\x18\x00\x01")
    with pytest.raises(consensio.MalformedMessage):
        leader.handle_message(c.now, 2, b"\x01\x18\xff\xff")
    with pytest.raises(consensio.MalformedMessage):
        PaxosNode.restore(1, MEMBERS, [b"garbage"])
    with pytest.raises(TypeError):
        PaxosNode.restore(1, MEMBERS, b"records")
    with pytest.raises(consensio.InvalidArgument):
        PaxosNode(4, MEMBERS)
    assert leader.poll() is None
    assert leader.role == "leader"


def test_events_compare_and_print():
    assert Chosen(3, b"v") == Chosen(3, b"v")
    assert repr(Chosen(3, b"v")) == "Chosen(slot=3, value=b'v')"
    assert Adopted(2, 1) == Adopted(2, 1) and Adopted(2, 1) != SteppedDown(2, 1)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    crashes=st.lists(st.tuples(st.sampled_from(MEMBERS), st.integers(0, 20)), max_size=3),
    drops=st.lists(st.integers(0, 1000), max_size=40),
)
def test_agreement_under_crashes_and_lost_messages(seed, crashes, drops):
    c = Cluster(seed=seed)
    lost = set(drops)
    sent = [0]

    def drop(src, dst):
        sent[0] += 1
        return sent[0] in lost

    proposed = 0
    for step in range(25):
        for who, at in crashes:
            if at == step and who not in c.down:
                c.crash(who)
            elif at + 5 == step and who in c.down:
                c.restart(who)
        leader = c.leader()
        if leader is not None:
            try:
                leader.propose(c.now, b"p%d" % proposed)
                proposed += 1
            except consensio.Error:
                pass
        c.run(100, drop)
    for who in list(c.down):
        c.restart(who)
    c.run(2_000)
    log = agree(c)
    assert all(v == b"" or v.startswith(b"p") for v in log)
    firsts = {n.first_unchosen for n in c.up()}
    assert len(firsts) == 1, "every node caught up"


def test_the_key_value_store_on_paxos_applies_a_retried_write_once():
    from consensio.paxos import PaxosKvNode
    from consensio.raft import Reply

    nodes = {i: PaxosKvNode(i, MEMBERS) for i in MEMBERS}
    disks = {i: [] for i in MEMBERS}
    replies = {}
    network = []
    now = 0

    def drain():
        for node in nodes.values():
            for out in node:
                if isinstance(out, consensio.Send):
                    network.append((node.id, out.to, out.data))
                elif isinstance(out, consensio.Persist):
                    disks[node.id].append(out.value)
                elif isinstance(out, Reply):
                    assert out.request_id not in replies, "one reply per request"
                    replies[out.request_id] = out

    def run(until):
        nonlocal now
        while True:
            drain()
            while network:
                src, dst, frame = network.pop(0)
                nodes[dst].handle_message(now, src, frame)
                drain()
            due = min(n.next_deadline for n in nodes.values())
            if due > until:
                break
            now = max(now, due)
            for node in nodes.values():
                if node.next_deadline <= now:
                    node.tick(now)
        now = until

    run(1_000)
    leader = next(n for n in nodes.values() if n.role == "leader")
    leader.open_session(now, 1)
    run(now + 200)
    assert replies[1].result == "session_opened"
    client = replies[1].client
    leader.put(now, 2, client, 1, b"k", b"v1")
    leader.put(now, 3, client, 1, b"k", b"v1")  # a retry of the same write
    run(now + 200)
    assert replies[2].result == "done" and replies[3].result == "done"
    leader.cas(now, 4, client, 2, b"k", b"v1", b"v2")
    leader.get(now, 5, b"k")
    run(now + 200)
    assert replies[4].result == "swapped"
    assert replies[5].result == "value" and replies[5].value == b"v2"
    follower = next(n for n in nodes.values() if n.role != "leader")
    follower.get(now, 6, b"k")
    drain()
    assert replies[6].result == "not_leader" and replies[6].leader == leader.id
    with pytest.raises(consensio.LimitExceeded):
        leader.put(now, 7, client, 3, b"k" * 2000, b"v")
    assert 7 not in replies
    # Restarted from its records, a node rebuilds the same store: what its
    # records show chosen at once, the rest once the leader tells it.
    nodes[follower.id] = PaxosKvNode.restore(follower.id, MEMBERS, disks[follower.id])
    drain()
    run(now + 300)
    assert nodes[follower.id].local_value(b"k") == b"v2"
    assert nodes[follower.id].applied == leader.applied
