import pytest
from hypothesis import given
from hypothesis import strategies as st

import consensio
from consensio.election import Bully
from consensio.raft import (
    ApplySnapshot,
    BecameFollower,
    BecameLeader,
    Committed,
    MembershipCommitted,
    ProposalDropped,
    RaftNode,
    ReadFailed,
    ReadReady,
    is_snapshot_record,
)

VOTERS = [1, 2, 3]


class Cluster:
    """Raft nodes exchanging frames in-process. Each node's "disk" is the list
    of records it persisted; a crashed node is rebuilt from it alone."""

    def __init__(self, voters=VOTERS, **config):
        self.voters = list(voters)
        self.config = config
        self.nodes = {i: RaftNode(i, self.voters, **config) for i in self.voters}
        self.down = set()
        self.now = 0
        self.network = []  # (from, to, frame), delivered in order
        self.disks = {i: [] for i in self.voters}
        self.applied = {i: [] for i in self.voters}  # (index, term, data) per node
        self.events = []  # (now, id, event)

    def up(self):
        return [n for i, n in sorted(self.nodes.items()) if i not in self.down]

    def drain(self):
        for node in self.up():
            for out in node:
                if isinstance(out, consensio.Send):
                    self.network.append((node.id, out.to, out.data))
                elif isinstance(out, consensio.Persist):
                    assert isinstance(out.value, bytes) and out.value
                    self.persist(node.id, out.value)
                elif isinstance(out, Committed):
                    self.apply(node.id, out)
                else:
                    self.event(node, out)

    def persist(self, i, record):
        self.disks[i].append(record)

    def apply(self, i, committed):
        # Every index from 1, once, in order.
        assert committed.index == len(self.applied[i]) + 1
        self.applied[i].append((committed.index, committed.term, committed.data))

    def event(self, node, event):
        self.events.append((self.now, node.id, event))

    def deliver(self, src, dst, frame):
        if dst not in self.down:
            self.nodes[dst].handle_message(self.now, src, frame)

    def settle(self):
        """Drains and delivers until no frame is in flight."""
        self.drain()
        while self.network:
            self.deliver(*self.network.pop(0))
            self.drain()

    def tick_due(self):
        due = [n.next_deadline for n in self.up() if n.next_deadline is not None]
        self.now = max(self.now, min(due))
        for node in self.up():
            if node.next_deadline is not None and node.next_deadline <= self.now:
                node.tick(self.now)

    def run_until(self, t):
        for _ in range(100_000):
            self.settle()
            due = [n.next_deadline for n in self.up() if n.next_deadline is not None]
            if not due or min(due) > t:
                self.now = max(self.now, t)
                return
            self.tick_due()
        raise AssertionError("the cluster never settled")

    def run_for(self, ms):
        self.run_until(self.now + ms)

    def leader(self):
        leaders = {(n.leader, n.term) for n in self.up()}
        assert len(leaders) == 1, f"no agreed leader: {leaders}"
        (leader, _), = leaders
        assert leader is not None and self.nodes[leader].role == "leader"
        return self.nodes[leader]

    def crash(self, i):
        self.down.add(i)
        self.nodes[i] = None

    def restart(self, i):
        self.nodes[i] = RaftNode.restore(i, self.voters, self.disks[i], **self.config)
        self.applied[i] = []  # the state machine is rebuilt from the replay
        self.down.discard(i)

    def payloads(self, i):
        return [data for _, _, data in self.applied[i] if data]


def test_three_nodes_elect_a_leader_and_commit_in_order():
    c = Cluster()
    assert all(n.role == "follower" and n.term == 0 and n.leader is None for n in c.up())
    assert c.nodes[1].next_deadline == 0  # wants its first tick at once
    c.run_until(2_000)
    leader = c.leader()
    term = leader.term
    assert term >= 1 and leader.vote == leader.id
    for n in c.up():
        assert n.role == ("leader" if n is leader else "follower")
        # Heard by a quorum, the leader holds its lease; a follower never.
        assert n.lease_holds == (n is leader)
    assert BecameLeader(term) in [e for _, i, e in c.events if i == leader.id]
    for i in VOTERS:
        if i != leader.id:
            assert BecameFollower(term, leader.id) in [e for _, j, e in c.events if j == i]
        assert c.disks[i], "the term and vote are persisted"
    # Index 1 is the new leader's empty entry; proposals follow it.
    assert leader.propose(c.now, b"x=1") == (2, term)
    assert leader.propose(c.now, b"y=2") == (3, term)
    assert leader.propose(c.now, b"") == (4, term)
    assert leader.propose(c.now, b"x=3") == (5, term)
    c.run_for(500)
    for n in c.up():
        assert (n.commit_index, n.applied_index, n.last_index) == (5, 5, 5)
        assert c.applied[n.id] == c.applied[leader.id]
        assert c.payloads(n.id) == [b"x=1", b"y=2", b"x=3"]
    assert c.applied[leader.id][0] == (1, term, b"")
    assert repr(leader) == f"RaftNode(id={leader.id}, role='leader', term={term}, leader={leader.id}, commit_index=5)"
    assert leader.voters == VOTERS


def test_a_follower_restarted_from_its_records_catches_up():
    c = Cluster()
    c.run_until(2_000)
    leader = c.leader()
    leader.propose(c.now, b"a")
    c.run_for(200)
    follower = next(i for i in VOTERS if i != leader.id)
    before = (c.nodes[follower].term, c.nodes[follower].vote, c.nodes[follower].last_index)
    c.crash(follower)
    leader.propose(c.now, b"b")
    leader.propose(c.now, b"c")
    c.run_for(1_000)
    assert c.leader() is leader  # two of three still make progress
    assert all(c.payloads(n.id) == [b"a", b"b", b"c"] for n in c.up())
    c.restart(follower)
    restarted = c.nodes[follower]
    # Exactly what it persisted: term, vote and log; nothing applied yet.
    assert (restarted.term, restarted.vote, restarted.last_index) == before
    assert (restarted.role, restarted.commit_index, restarted.applied_index) == ("follower", 0, 0)
    c.run_for(1_000)
    # It reports its whole log again, from index 1, and catches up.
    assert c.applied[follower] == c.applied[leader.id]
    assert c.payloads(follower) == [b"a", b"b", b"c"]


def test_the_leader_crashes_and_the_others_elect_a_new_one():
    c = Cluster()
    c.run_until(2_000)
    first = c.leader()
    first.propose(c.now, b"before")
    c.run_for(200)
    old_term = first.term
    c.crash(first.id)
    c.run_for(2_000)
    second = c.leader()
    assert second.id != first.id and second.term > old_term
    second.propose(c.now, b"after")
    c.run_for(200)
    c.restart(first.id)
    c.run_for(1_000)
    assert c.leader() is second and c.nodes[first.id].role == "follower"
    for i in VOTERS:
        assert c.payloads(i) == [b"before", b"after"]
        assert c.applied[i] == c.applied[second.id]


def test_reads():
    c = Cluster()
    c.run_until(2_000)
    leader = c.leader()
    leader.propose(c.now, b"x=1")
    # Its read index is the commit index when it is asked: 1, not the
    # proposal still in flight.
    leader.read(c.now, 7)
    c.run_for(100)
    ready = [e for _, i, e in c.events if isinstance(e, ReadReady)]
    assert ready == [ReadReady(7, 1)]
    # Within the lease, a lease read is answered at once.
    leader.lease_read(c.now, 8)
    assert list(leader) == [ReadReady(8, 2)]
    follower = c.nodes[next(i for i in VOTERS if i != leader.id)]
    with pytest.raises(consensio.Rejected, match="not the leader"):
        follower.propose(c.now, b"nope")
    # A follower reads at the leader's read index (thesis 6.4.1).
    follower.read(c.now, 9)
    c.run_for(100)
    assert [e.read_id for _, i, e in c.events if i == follower.id and isinstance(e, ReadReady)] == [9]
    # A read in flight when leadership is lost fails.
    leader.read(c.now, 10)
    list(leader)
    c.network.clear()
    c.crash(follower.id)
    c.crash(next(i for i in VOTERS if i not in (leader.id, follower.id)))
    c.run_for(1_000)  # check-quorum: it steps down
    assert leader.role != "leader"
    assert ReadFailed(10) in [e for _, i, e in c.events if i == leader.id]
    # Lease reads need check-quorum.
    alone = RaftNode(1, [1], check_quorum=False)
    alone.tick(0)
    alone.tick(alone.next_deadline)
    assert alone.role == "leader"
    with pytest.raises(consensio.Rejected, match="check_quorum"):
        alone.lease_read(alone.next_deadline, 1)


def test_a_lone_voter_commits_at_once():
    alone = RaftNode(5, [5], max_entry_bytes=4)
    alone.tick(0)
    now = alone.next_deadline
    alone.tick(now)
    outputs = list(alone)
    assert BecameLeader(1) in outputs and Committed(1, 1, b"") in outputs
    assert all(isinstance(o.value, bytes) for o in outputs if isinstance(o, consensio.Persist))
    assert alone.propose(now, b"abcd") == (2, 1) and alone.commit_index == 2
    with pytest.raises(consensio.LimitExceeded, match="exceeds"):
        alone.propose(now, b"abcde")
    tiny = RaftNode(5, [5], log_max_entries=2)
    tiny.tick(0)
    now = tiny.next_deadline
    tiny.tick(now)
    tiny.propose(now, b"x")
    with pytest.raises(consensio.LimitExceeded, match="full"):
        tiny.propose(now, b"y")


def test_outputs_are_frozen_values():
    assert Committed(2, 1, b"x") == Committed(2, 1, b"x") and Committed(2, 1, b"x") != Committed(2, 1, b"y")
    assert len({ReadReady(1, 2), ReadReady(1, 2), ReadFailed(1), BecameLeader(3)}) == 3
    assert repr(Committed(2, 1, b"x=1")) == "Committed(index=2, term=1, data=b'x=1')"
    assert repr(ReadReady(7, 2)) == "ReadReady(read_id=7, index=2)"
    assert repr(ReadFailed(7)) == "ReadFailed(read_id=7)"
    assert repr(BecameLeader(3)) == "BecameLeader(term=3)"
    assert repr(BecameFollower(3, 2)) == "BecameFollower(term=3, leader=2)"
    assert BecameFollower(3) == BecameFollower(3, None) and BecameFollower(3).leader is None
    assert Committed(2, 1, b"x").data == b"x"
    with pytest.raises(AttributeError):
        Committed(2, 1, b"x").index = 3
    # Persist carries a record as bytes for Raft, an int elsewhere.
    record = consensio.Persist(b"\x01\x15\x00")
    assert record.value == b"\x01\x15\x00" and record == consensio.Persist(b"\x01\x15\x00")
    assert record != consensio.Persist(1) and repr(record) == "Persist(value=<3 bytes>)"
    assert consensio.Persist[bytes] is not None and consensio.Persist[int] is not None
    with pytest.raises(TypeError):
        consensio.Persist("text")


def a_frame():
    """A real frame: a pre-vote request from node 1."""
    node = RaftNode(1, VOTERS)
    node.tick(0)
    node.tick(node.next_deadline)
    sends = [o for o in node if isinstance(o, consensio.Send)]
    assert sends
    return sends[0].data


def test_bad_frames_raise_and_change_nothing():
    frame = a_frame()
    bully = Bully(1, VOTERS)
    bully.tick(0)
    bully.tick(10_000)
    other = next(o.data for o in bully if isinstance(o, consensio.Send))
    node = RaftNode(2, VOTERS)
    node.tick(0)
    list(node)
    before = (node.role, node.term, node.vote, node.next_deadline)
    for bad in [b"", b"\xde\xad", frame[:-1], frame[:2], frame + b"\x00", b"\x09" + frame[1:], other]:
        with pytest.raises(consensio.MalformedMessage):
            node.handle_message(1, 1, bad)
    with pytest.raises(consensio.LimitExceeded):
        node.handle_message(1, 1, frame + bytes(1 << 20))
    assert node.poll() is None and (node.role, node.term, node.vote, node.next_deadline) == before
    # Frames from non-voters or from itself are dropped without error.
    node.handle_message(1, 99, frame)
    node.handle_message(1, 2, frame)
    assert node.poll() is None
    # Past its first election timeout, the real frame is answered; a
    # duplicate of it gets the same answer.
    node.handle_message(1_000, 1, frame)
    answers = list(node)
    assert answers and all(isinstance(o, consensio.Send) and o.to == 1 for o in answers)
    node.handle_message(1_000, 1, frame)
    assert list(node) == answers
    assert node.term == 0  # a pre-vote changes no state


def test_bad_configuration():
    # Outside the voters is a node joining a running cluster: it never
    # campaigns until a membership change adds and promotes it.
    joiner = RaftNode(4, VOTERS)
    joiner.tick(0)
    joiner.tick(100_000)
    assert joiner.role == "follower" and joiner.term == 0
    assert not [out for out in joiner if isinstance(out, consensio.Send)]
    with pytest.raises(consensio.InvalidArgument, match="no voters"):
        RaftNode(1, [])
    with pytest.raises(consensio.LimitExceeded):
        RaftNode(1, range(1, 100))
    RaftNode(1, range(1, 65))  # 64 voters is the limit
    RaftNode(1, {3, 2, 1, 1})  # any iterable; order and duplicates do not matter
    bad = [
        dict(heartbeat_interval_ms=0),
        dict(heartbeat_interval_ms=150),
        dict(election_timeout_max_ms=150),
        dict(max_clock_drift_ms=150),
        dict(max_entry_bytes=1 << 20),
        dict(log_max_entries=0),
    ]
    for config in bad:
        with pytest.raises(consensio.InvalidArgument):
            RaftNode(1, VOTERS, **config)
    node = RaftNode(1, VOTERS, seed=99, election_timeout_min_ms=1_000, election_timeout_max_ms=2_000,
                    heartbeat_interval_ms=100, pre_vote=False, check_quorum=False)
    node.tick(0)
    assert 1_000 <= node.next_deadline < 2_000


def test_restore_from_bad_records():
    c = Cluster()
    c.run_until(2_000)
    c.leader().propose(c.now, b"x")
    c.run_for(200)
    records = c.disks[1]
    assert RaftNode.restore(1, VOTERS, records).last_index == 2
    assert RaftNode.restore(1, VOTERS, iter(records)).last_index == 2  # any iterable
    assert RaftNode.restore(1, VOTERS, []).term == 0
    with pytest.raises(consensio.MalformedMessage, match=r"records\[1\]"):
        RaftNode.restore(1, VOTERS, [records[0], b"garbage"])
    with pytest.raises(consensio.MalformedMessage):
        RaftNode.restore(1, VOTERS, [a_frame()])  # a message is not a record
    # Entries from index 2 with nothing before them: no node writes that.
    gap = bytes([consensio.WIRE_VERSION, 21, 1, 2, 1, 1, 0, 1]) + b"a"
    with pytest.raises(consensio.InvalidArgument, match="record 0"):
        RaftNode.restore(1, VOTERS, [gap])
    with pytest.raises(consensio.LimitExceeded, match="full"):
        RaftNode.restore(1, VOTERS, records, log_max_entries=1)
    with pytest.raises(consensio.VerificationError):
        RaftNode.restore(4, VOTERS, records)
    # Another node's or another cluster's records: refused.
    with pytest.raises(consensio.VerificationError, match="another node or cluster"):
        RaftNode.restore(2, VOTERS, records)
    with pytest.raises(consensio.VerificationError):
        RaftNode.restore(1, VOTERS, records, cluster=7)
    assert RaftNode(1, VOTERS, cluster=7).term == 0
    with pytest.raises(TypeError):
        RaftNode.restore(1, VOTERS, records[0])  # one record, not a list of them
    with pytest.raises(TypeError):
        RaftNode.restore(1, VOTERS, ["text"])
    with pytest.raises(TypeError):
        RaftNode.restore(1, VOTERS, records, no_such_option=1)


def test_wrong_types():
    for args in [("1", VOTERS), (1, "123"), (1, b"\x01\x02"), (1, 3), (1, [1, None])]:
        with pytest.raises(TypeError):
            RaftNode(*args)
    with pytest.raises(TypeError):
        RaftNode(1, VOTERS, 5)  # options are keyword-only
    with pytest.raises(OverflowError):
        RaftNode(1, VOTERS, heartbeat_interval_ms=-1)
    node = RaftNode(1, VOTERS)
    with pytest.raises(TypeError):
        node.handle_message(0, 2, "text")
    with pytest.raises(TypeError):
        node.propose(0, "text")
    with pytest.raises(OverflowError):
        node.tick(-5)


@given(data=st.binary(max_size=60), sender=st.sampled_from([1, 2, 3, 7]))
def test_arbitrary_bytes_raise_or_are_handled(data, sender):
    node = RaftNode(2, VOTERS)
    try:
        node.handle_message(0, sender, data)
    except consensio.Error:
        pass
    list(node)


def consistent(applied):
    """Every node's committed sequence is a prefix of every longer one."""
    runs = sorted(applied.values(), key=len)
    for shorter, longer in zip(runs, runs[1:]):
        assert longer[: len(shorter)] == shorter, f"diverged: {shorter} vs {longer}"


# What the network and the nodes do next: deliver one frame in flight (any
# of them, so frames are reordered), or all of them in a shuffled order; lose
# or duplicate one; fire due timers; propose on a leader; crash a node and
# restart it from its records at once.
OPS = ["deliver"] * 6 + ["flush"] * 2 + ["tick"] * 3 + ["propose"] * 3 + ["drop", "duplicate", "restart"]


@given(st.binary(min_size=100, max_size=800))
def test_any_delivery_order_keeps_committed_prefixes_consistent(script):
    # Two bytes per step: what happens, and which frame, node or order.
    ops = [(OPS[a % len(OPS)], k) for a, k in zip(script[::2], script[1::2])]
    c = Cluster(election_timeout_min_ms=100, election_timeout_max_ms=200, heartbeat_interval_ms=20)
    proposed = 0
    for op, k in ops:
        c.drain()
        if op in ("deliver", "drop", "duplicate") and c.network:
            src, dst, frame = c.network.pop(k % len(c.network))
            if op == "duplicate":
                c.network.append((src, dst, frame))
            if op != "drop":
                c.deliver(src, dst, frame)
        elif op == "flush":
            in_flight, c.network = c.network, []
            while in_flight:
                k = (k * 31 + 7) % 256
                c.deliver(*in_flight.pop(k % len(in_flight)))
        elif op == "tick":
            c.tick_due()
        elif op == "propose":
            leaders = [n for n in c.up() if n.role == "leader"]
            if leaders:
                proposed += 1
                leaders[k % len(leaders)].propose(c.now, b"v%d" % proposed)
        elif op == "restart":
            i = VOTERS[k % len(VOTERS)]
            c.crash(i)
            c.restart(i)  # frames in flight to it are still delivered
        c.drain()
        consistent(c.applied)
    # Healed: everyone converges on one log.
    c.run_for(3_000)
    consistent(c.applied)
    c.leader()
    assert len({tuple(a) for a in c.applied.values()}) == 1
    committed = c.payloads(1)
    assert len(committed) == len(set(committed)) <= proposed


def test_a_proposal_dropped_by_a_leader_change_commits_another_term_at_its_index():
    c = Cluster()
    c.run_until(2_000)
    old = c.leader()
    index, term = old.propose(c.now, b"lost")
    assert term == old.term
    c.network.clear()  # the entry never leaves the old leader
    c.crash(old.id)
    c.run_for(2_000)
    new = c.leader()
    new.propose(c.now, b"kept")
    c.run_for(500)
    c.restart(old.id)
    c.run_for(1_000)
    # The old leader's entry was overwritten: the index commits in a later
    # term, with another payload, and "lost" never commits anywhere.
    (at,) = [(t, d) for i, t, d in c.applied[old.id] if i == index]
    assert at[0] != term and at[1] != b"lost"
    assert all(b"lost" not in c.payloads(i) for i in VOTERS)


def test_a_proposal_overwritten_while_its_leader_was_cut_off_is_reported_dropped():
    c = Cluster()
    c.run_until(2_000)
    old = c.leader()
    index, term = old.propose(c.now, b"lost")
    deliver = c.deliver
    c.deliver = lambda src, dst, frame: None if old.id in (src, dst) else deliver(src, dst, frame)
    c.run_for(2_000)
    (new,) = [n for n in c.up() if n.role == "leader" and n.id != old.id]
    new.propose(c.now, b"kept")
    c.run_for(500)
    c.deliver = deliver
    c.run_for(1_000)
    dropped = [e for _, i, e in c.events if i == old.id and isinstance(e, ProposalDropped)]
    assert dropped == [ProposalDropped(index, term)]
    assert repr(dropped[0]) == f"ProposalDropped(index={index}, term={term})"
    assert all(b"lost" not in c.payloads(i) for i in VOTERS)


def test_a_joining_node_is_added_as_a_learner_promoted_and_the_old_leader_removed():
    c = Cluster()
    c.run_until(2_000)
    leader = c.leader()
    joiner = RaftNode(4, VOTERS)
    c.nodes[4], c.disks[4], c.applied[4] = joiner, [], []
    assert joiner.role == "follower" and joiner.membership == ([1, 2, 3], [], [])
    with pytest.raises(consensio.InvalidArgument):
        leader.promote(c.now, 4)  # not a learner yet
    with pytest.raises(consensio.Rejected):
        c.nodes[leader.id % 3 + 1].add_learner(c.now, 4)  # not the leader
    leader.add_learner(c.now, 4)
    with pytest.raises(consensio.Rejected):
        leader.add_learner(c.now, 5)  # one change at a time
    leader.propose(c.now, b"x")
    c.run_for(500)
    assert joiner.membership == ([1, 2, 3], [], [4])
    assert b"x" in c.payloads(4), "the learner receives the log"
    leader.promote(c.now, 4)
    c.run_for(500)
    assert joiner.voters == [1, 2, 3, 4]
    leader.remove(c.now, leader.id)
    c.run_for(2_000)
    others = [n for n in c.up() if n.id != leader.id]
    assert leader.role == "follower"
    assert any(n.role == "leader" for n in others)
    committed = [e for _, i, e in c.events if i == 4 and isinstance(e, MembershipCommitted)]
    assert [e.voters for e in committed][-1] == sorted({1, 2, 3, 4} - {leader.id})
    assert committed[0] == MembershipCommitted(committed[0].index, [1, 2, 3], [], [4])
    with pytest.raises(consensio.InvalidArgument):
        next(n for n in others if n.role == "leader").remove(c.now, leader.id)


def test_max_frame_len_bounds_every_frame_sent():
    c = Cluster(max_entries_per_message=2, max_bytes_per_message=100, max_entry_bytes=100)
    bound = c.nodes[1].max_frame_len
    # The entries' bytes, and a membership's (up to about 2 KB).
    assert 2_100 < bound < 2_300
    assert RaftNode(1, [1]).max_frame_len > 256 * 1024
    with pytest.raises(consensio.InvalidArgument, match="fit in one message"):
        RaftNode(1, [1], max_entry_bytes=101, max_bytes_per_message=100)
    c.run_until(2_000)
    leader = c.leader()
    sizes = []
    for k in range(6):
        leader.propose(c.now, bytes([k]) * (100 if k % 2 else 40))
    for node in c.up():
        for out in node:
            if isinstance(out, consensio.Send):
                sizes.append(len(out.data))
                c.network.append((node.id, out.to, out.data))
            elif isinstance(out, consensio.Persist):
                c.disks[node.id].append(out.value)
    assert sizes and max(sizes) <= bound


@pytest.mark.parametrize(
    "make",
    [lambda: RaftNode(1, [1, 2, 3]), lambda: Bully(1, [1, 2, 3])],
    ids=["raft", "bully"],
)
def test_time_going_backwards_is_refused_and_changes_nothing(make):
    node = make()
    node.tick(100)
    list(node)
    deadline = node.next_deadline
    with pytest.raises(consensio.InvalidArgument, match="backwards"):
        node.tick(99)
    with pytest.raises(consensio.InvalidArgument, match="backwards"):
        if isinstance(node, RaftNode):
            node.handle_message(50, 2, a_frame())
        else:
            node.start_election(50)
    assert node.poll() is None and node.next_deadline == deadline
    node.tick(100)  # the same time again is fine
    list(node)


def test_time_is_checked_per_thread():
    """Threads that read one clock race for the turn: a later arrival with
    an earlier time is fed at the latest time, not refused."""
    import threading

    node = RaftNode(1, [1, 2, 3])
    node.tick(1_000)
    list(node)
    errors = []

    def other():
        try:
            node.tick(10)  # earlier than the main thread's, but its own first
            list(node)
        except Exception as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert errors == []


def test_leadership_transfer_hands_over_and_refuses_proposals_meanwhile():
    c = Cluster()
    c.run_until(2_000)
    first = c.leader()
    first.propose(c.now, b"before")
    c.settle()
    target = next(i for i in VOTERS if i != first.id)
    first.transfer_leadership(c.now, target)
    assert first.transferring_to == target
    with pytest.raises(consensio.Rejected):
        first.propose(c.now, b"during")
    c.settle()  # no timer fires: the target campaigns on TimeoutNow
    second = c.leader()
    assert second.id == target and first.role == "follower"
    assert first.transferring_to is None
    second.propose(c.now, b"after")
    c.run_for(200)
    for i in VOTERS:
        assert c.payloads(i) == [b"before", b"after"]
    with pytest.raises(consensio.InvalidArgument):
        second.transfer_leadership(c.now, 9)
    with pytest.raises(consensio.Rejected):
        first.transfer_leadership(c.now, second.id)


class SnapshotCluster(Cluster):
    """A Cluster whose hosts keep a state machine (the payloads applied) and
    snapshot it, and keep their disks as a host does: a snapshot record
    replaces every record before it."""

    def __init__(self, **config):
        super().__init__(**config)
        self.state = {i: [] for i in self.voters}
        self.last = {i: 0 for i in self.voters}  # applied by Committed or ApplySnapshot
        self.loaded = {i: 0 for i in self.voters}  # snapshots loaded

    def persist(self, i, record):
        if is_snapshot_record(record):
            self.disks[i] = []  # once it is durable, the records before it may go
        self.disks[i].append(record)

    def apply(self, i, committed):
        # Every index once, in order, after the last snapshot.
        assert committed.index == self.last[i] + 1
        self.last[i] = committed.index
        if committed.data:
            self.state[i].append(committed.data)

    def event(self, node, event):
        if isinstance(event, ApplySnapshot):
            self.load(node, event)
        else:
            super().event(node, event)

    def load(self, node, event):
        index, term, data = node.snapshot
        assert (index, term) == (event.index, event.term) and index > self.last[node.id]
        self.state[node.id] = data.split(b",") if data else []
        self.last[node.id] = index
        self.loaded[node.id] += 1

    def image(self, i):
        return b",".join(self.state[i])

    def restart(self, i):
        super().restart(i)
        self.state[i], self.last[i], self.loaded[i] = [], 0, 0


def test_snapshots_compact_the_log_and_a_follower_catches_up_by_one():
    c = SnapshotCluster(max_snapshot_bytes=256)
    c.run_until(2_000)
    leader = c.leader()
    follower = leader.id % 3 + 1
    other = follower % 3 + 1
    c.crash(follower)
    for index, data in enumerate([b"a", b"b", b"c"], 2):  # 1 is the leader's empty entry
        assert leader.propose(c.now, data) == (index, leader.term)
    c.run_for(500)
    assert c.state[leader.id] == [b"a", b"b", b"c"] and leader.applied_index == 4
    assert leader.snapshot is None

    # Refused snapshots change nothing.
    disk = list(c.disks[leader.id])
    with pytest.raises(consensio.Rejected, match="not applied"):
        leader.compact(5, c.image(leader.id))
    with pytest.raises(consensio.LimitExceeded, match="exceeds"):
        leader.compact(4, bytes(257))
    with pytest.raises(TypeError):
        leader.compact(4, "text")
    assert leader.poll() is None and c.disks[leader.id] == disk
    assert (leader.snapshot, leader.last_index) == (None, 4)

    # A snapshot at the applied index: its record replaces the disk.
    leader.compact(4, c.image(leader.id))
    c.drain()
    assert len(c.disks[leader.id]) == 1 and is_snapshot_record(c.disks[leader.id][0])
    assert leader.snapshot == (4, leader.term, b"a,b,c")
    assert (leader.last_index, leader.applied_index) == (4, 4)
    with pytest.raises(consensio.Rejected, match="not past"):
        leader.compact(4, c.image(leader.id))
    with pytest.raises(consensio.Rejected):
        leader.compact(3, b"a,b")
    leader.propose(c.now, b"d")  # recorded after the snapshot record
    c.run_for(200)
    assert len(c.disks[leader.id]) >= 2 and is_snapshot_record(c.disks[leader.id][0])
    assert not any(is_snapshot_record(r) for r in c.disks[leader.id][1:])

    # The follower comes back with its old log; the leader no longer holds
    # the entries it lacks and sends its snapshot, which it loads.
    c.restart(follower)
    c.run_for(1_000)
    assert c.loaded[follower] == 1 and c.state[follower] == [b"a", b"b", b"c", b"d"]
    assert c.nodes[follower].snapshot == (4, leader.term, b"a,b,c")
    assert is_snapshot_record(c.disks[follower][0])
    assert c.loaded[other] == 0 and c.state[other] == [b"a", b"b", b"c", b"d"]

    # The leader restarts from its snapshot record and the records after
    # it: ApplySnapshot comes first, then the entries after it.
    term, lid = leader.term, leader.id
    c.crash(lid)
    c.restart(lid)
    restarted = c.nodes[lid]
    assert restarted.applied_index == restarted.commit_index == 4
    first = restarted.poll()
    assert first == ApplySnapshot(4, term)
    c.load(restarted, first)
    assert c.state[lid] == [b"a", b"b", b"c"]
    c.run_for(2_000)
    assert all(c.state[i] == [b"a", b"b", b"c", b"d"] for i in VOTERS)


def test_snapshot_records_and_events():
    assert repr(ApplySnapshot(4, 2)) == "ApplySnapshot(index=4, term=2)"
    assert ApplySnapshot(4, 2) == ApplySnapshot(4, 2) and ApplySnapshot(4, 2) != ApplySnapshot(4, 3)
    assert len({ApplySnapshot(4, 2), ApplySnapshot(4, 2)}) == 1
    with pytest.raises(AttributeError):
        ApplySnapshot(4, 2).index = 5
    alone = RaftNode(1, [1])
    alone.tick(0)
    alone.tick(alone.next_deadline)
    records = [o.value for o in alone if isinstance(o, consensio.Persist)]
    assert records and not any(is_snapshot_record(r) for r in records)
    with pytest.raises(consensio.MalformedMessage):
        is_snapshot_record(b"garbage")
    with pytest.raises(consensio.MalformedMessage):
        is_snapshot_record(a_frame())  # a message is not a record
    with pytest.raises(TypeError):
        is_snapshot_record("text")
    with pytest.raises(consensio.InvalidArgument, match="512 MiB"):
        RaftNode(1, VOTERS, max_snapshot_bytes=(512 << 20) + 1)
    # Nothing applied: nothing to snapshot.
    with pytest.raises(consensio.Rejected):
        RaftNode(1, VOTERS).compact(1, b"x")
