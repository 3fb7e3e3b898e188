"""consensio.raft.KvNode: three key-value nodes in-process. Sessions,
writes and reads, a retried write applied once, refusals as replies, bad
input as exceptions, a restart from the records rebuilding the store, and
snapshots: a follower that was down catches up by the leader's snapshot,
and a node restored from its snapshot record answers a retried write from
the session saved in it."""

import pytest

import consensio
from consensio.raft import ApplySnapshot, BecameLeader, Committed, KvNode, RaftNode, Reply, is_snapshot_record

VOTERS = [1, 2, 3]


class KvCluster:
    def __init__(self, **config):
        self.config = config
        self.nodes = {i: KvNode(i, VOTERS, **config) for i in VOTERS}
        self.now = 0
        self.network = []
        self.disks = {i: [] for i in VOTERS}
        self.replies = {i: {} for i in VOTERS}  # request id -> Reply, per node
        self.committed = {i: 0 for i in VOTERS}
        self.loaded = {i: 0 for i in VOTERS}  # snapshots the store loaded
        self.events = []

    def up(self):
        return [n for n in self.nodes.values() if n is not None]

    def drain(self):
        for node in self.up():
            for out in node:
                if isinstance(out, consensio.Send):
                    assert len(out.data) <= node.max_frame_len
                    self.network.append((node.id, out.to, out.data))
                elif isinstance(out, consensio.Persist):
                    if is_snapshot_record(out.value):
                        self.disks[node.id] = []  # once it is durable, the rest may go
                    self.disks[node.id].append(out.value)
                elif isinstance(out, Reply):
                    assert out.request_id not in self.replies[node.id], "one reply per request"
                    self.replies[node.id][out.request_id] = out
                elif isinstance(out, Committed):
                    # Already applied to the store; every index once, in order.
                    assert out.index == self.committed[node.id] + 1
                    self.committed[node.id] = out.index
                elif isinstance(out, ApplySnapshot):
                    # The store has loaded it; entries go on after it.
                    assert out.index > self.committed[node.id]
                    self.committed[node.id] = out.index
                    self.loaded[node.id] += 1
                else:
                    self.events.append((node.id, out))

    def run_for(self, ms):
        until = self.now + ms
        for _ in range(100_000):
            self.drain()
            if self.network:
                src, dst, data = self.network.pop(0)
                if self.nodes[dst] is not None:
                    self.nodes[dst].handle_message(self.now, src, data)
                continue
            due = [n.next_deadline for n in self.up() if n.next_deadline is not None]
            if not due or min(due) > until:
                self.now = max(self.now, until)
                return
            self.now = max(self.now, min(due))
            for node in self.up():
                if node.next_deadline is not None and node.next_deadline <= self.now:
                    node.tick(self.now)
        raise AssertionError("the cluster never settled")

    def leader(self):
        (leader,) = [n for n in self.up() if n.role == "leader"]
        return leader

    def reply(self, node, request_id):
        return self.replies[node.id].pop(request_id)

    def restore(self, i):
        """Node `i` rebuilt from its disk."""
        self.nodes[i] = None
        self.nodes[i] = KvNode.restore(i, VOTERS, self.disks[i], **self.config)
        self.committed[i] = self.loaded[i] = 0
        return self.nodes[i]


@pytest.fixture
def cluster():
    c = KvCluster(max_key_bytes=8, max_value_bytes=16)
    c.run_for(2_000)
    return c


def session(c, leader, request_id=1):
    leader.open_session(c.now, request_id)
    c.run_for(200)
    r = c.reply(leader, request_id)
    assert r.result == "session_opened" and r.ok and r.client is not None
    return r.client


def test_writes_reads_and_one_reply_each(cluster):
    c = cluster
    leader = c.leader()
    assert BecameLeader(leader.term) in [e for i, e in c.events if i == leader.id]
    assert leader.commit_index == leader.applied_index == 1  # the leader's empty entry
    client = session(c, leader)
    assert client == 2  # the index of its entry

    leader.put(c.now, 2, client, 1, b"k", b"v1")
    c.run_for(200)
    assert c.reply(leader, 2) == Reply(2, "done")
    assert all(n.local_value(b"k") == b"v1" for n in c.up())

    leader.cas(c.now, 3, client, 2, b"k", b"v1", b"v2")
    leader.cas(c.now, 4, client, 3, b"k", b"nope", b"v3")
    leader.cas(c.now, 5, client, 4, b"k", None, b"v3")  # expects "absent"
    leader.cas(c.now, 6, client, 5, b"e", None, b"")  # the empty value is present
    c.run_for(200)
    assert [c.reply(leader, i).result for i in (3, 4, 5, 6)] == ["swapped", "not_swapped", "not_swapped", "swapped"]
    assert all(n.local_value(b"e") == b"" and n.local_value(b"k") == b"v2" for n in c.up())

    leader.delete(c.now, 7, client, 6, b"k")
    c.run_for(200)
    assert c.reply(leader, 7).result == "done"
    assert all(n.local_value(b"k") is None for n in c.up())

    leader.get(c.now, 8, b"k")
    leader.get(c.now, 9, b"e")
    c.run_for(200)
    absent, empty = c.reply(leader, 8), c.reply(leader, 9)
    assert (absent.result, absent.value, absent.ok) == ("absent", None, True)
    assert (empty.result, empty.value) == ("value", b"")
    leader.get(c.now, 10, b"e", lease=True)
    c.drain()  # within the lease: answered at once
    assert c.reply(leader, 10) == Reply(10, "value", b"")
    assert "leader=" in repr(leader) and "keys=1" in repr(leader)


def test_a_retried_write_is_applied_once(cluster):
    c = cluster
    leader = c.leader()
    client = session(c, leader)
    leader.cas(c.now, 2, client, 1, b"owner", None, b"alice")
    c.run_for(200)
    # The client heard nothing and sends the same write again (same seq):
    # the saved answer, where a second application would say not_swapped.
    leader.cas(c.now, 3, client, 1, b"owner", None, b"alice")
    c.run_for(200)
    assert c.reply(leader, 2).result == c.reply(leader, 3).result == "swapped"
    assert leader.local_value(b"owner") == b"alice"


def test_refusals_are_replies(cluster):
    c = cluster
    leader = c.leader()
    follower = next(n for n in c.up() if n is not leader)
    follower.open_session(c.now, 1)
    c.drain()
    assert c.reply(follower, 1) == Reply(1, "not_leader", leader=leader.id)
    # Reads, though, a follower serves at the leader's read index.
    follower.get(c.now, 2, b"k")
    c.run_for(100)
    assert c.reply(follower, 2) == Reply(2, "absent")
    client = session(c, leader, 3)
    leader.put(c.now, 4, client, 0, b"z", b"0")
    c.drain()  # refused before it costs a log entry
    assert c.reply(leader, 4).result == "zero_sequence"
    leader.put(c.now, 5, client, 1, b"z", b"1")
    c.run_for(200)
    leader.put(c.now, 6, client, 3, b"z", b"3")
    leader.put(c.now, 7, 999, 1, b"z", b"x")
    c.run_for(200)
    assert [c.reply(leader, i).result for i in (5, 6, 7)] == ["done", "sequence_gap", "session_expired"]


def test_lease_reads_need_check_quorum():
    c = KvCluster(check_quorum=False)
    c.run_for(2_000)
    leader = c.leader()
    leader.get(c.now, 1, b"k", lease=True)
    c.drain()
    assert c.reply(leader, 1).result == "lease_reads_disabled"


def test_bad_input_raises_and_sends_no_reply(cluster):
    c = cluster
    leader = c.leader()
    client = session(c, leader)
    commit = leader.commit_index
    with pytest.raises(consensio.LimitExceeded, match="key"):
        leader.put(c.now, 2, client, 1, b"123456789", b"v")
    with pytest.raises(consensio.LimitExceeded, match="value"):
        leader.put(c.now, 2, client, 1, b"k", b"x" * 17)
    with pytest.raises(consensio.LimitExceeded):
        leader.cas(c.now, 2, client, 1, b"k", b"x" * 17, None)
    with pytest.raises(consensio.LimitExceeded):
        leader.get(c.now, 2, b"123456789")
    with pytest.raises(TypeError):
        leader.put(c.now, 2, client, 1, "text", b"v")
    with pytest.raises(consensio.MalformedMessage):
        leader.handle_message(c.now, 2, b"\xde\xad")
    with pytest.raises(consensio.InvalidArgument, match="backwards"):
        leader.put(c.now - 1_000, 2, client, 1, b"k", b"v")
    c.run_for(200)
    assert c.replies[leader.id] == {} and leader.commit_index == commit
    with pytest.raises(consensio.InvalidArgument):
        KvNode(1, [])


def test_a_follower_restarted_from_its_records_rebuilds_the_store(cluster):
    c = cluster
    leader = c.leader()
    client = session(c, leader)
    for seq, (k, v) in enumerate([(b"a", b"1"), (b"b", b"2"), (b"a", b"3")], 1):
        leader.put(c.now, 10 + seq, client, seq, k, v)
        c.run_for(200)
    follower = next(n for n in c.up() if n is not leader)
    fid = follower.id
    c.nodes[fid] = None
    c.nodes[fid] = KvNode.restore(fid, VOTERS, c.disks[fid], **c.config)
    c.committed[fid] = 0
    assert c.nodes[fid].local_value(b"a") is None and c.nodes[fid].applied_index == 0
    c.run_for(1_000)
    again = c.nodes[fid]
    assert again.applied_index == leader.commit_index
    assert (again.local_value(b"a"), again.local_value(b"b")) == (b"3", b"2")
    with pytest.raises(TypeError):
        KvNode.restore(fid, VOTERS, c.disks[fid][0])
    with pytest.raises(consensio.MalformedMessage):
        KvNode.restore(fid, VOTERS, [b"garbage"])


def test_replies_are_frozen_values():
    r = Reply(3, "value", b"x")
    assert r == Reply(3, "value", b"x") and r != Reply(3, "value", b"y")
    assert len({r, Reply(3, "value", b"x"), Reply(4, "absent")}) == 2
    assert repr(r) == "Reply(request_id=3, result='value', value=b'x', client=None, leader=None)"
    assert Reply(1, "retry").ok is False and Reply(1, "done").ok is True


def test_leadership_transfer_redirects_writes_to_the_target(cluster):
    c = cluster
    leader = c.leader()
    client = session(c, leader, 1)
    target = next(n for n in c.up() if n is not leader)
    leader.transfer_leadership(c.now, 2, 9)
    c.drain()
    assert c.reply(leader, 2).result == "not_a_voter"
    target.transfer_leadership(c.now, 3, leader.id)
    c.drain()
    assert c.reply(target, 3).result == "not_leader"
    leader.transfer_leadership(c.now, 4, target.id)
    leader.put(c.now, 5, client, 1, b"k", b"v")
    c.drain()
    assert c.reply(leader, 4).result == "done"
    assert c.reply(leader, 5) == Reply(5, "not_leader", leader=target.id)
    c.run_for(200)
    assert c.leader() is target
    target.put(c.now, 6, client, 1, b"k", b"v")
    c.run_for(200)
    assert c.reply(target, 6).result == "done"


def test_the_snapshot_interval_is_a_setting():
    node = KvNode(1, VOTERS)
    assert node.snapshot_interval == 10_000
    node.snapshot_interval = 4
    assert node.snapshot_interval == 4
    node.snapshot_interval = 0  # never
    assert node.snapshot_interval == 0 and node.poll() is None
    with pytest.raises(TypeError):
        node.snapshot_interval = "4"
    with pytest.raises(OverflowError):
        node.snapshot_interval = -1
    assert node.snapshot_interval == 0
    assert KvNode.restore(1, VOTERS, []).snapshot_interval == 10_000
    with pytest.raises(AttributeError):
        node.compact(1, b"x")  # the store snapshots itself


def test_a_follower_catches_up_by_snapshot_and_a_restored_node_answers_a_retry_from_it():
    c = KvCluster()
    for node in c.up():
        node.snapshot_interval = 4
    c.run_for(2_000)
    leader = c.leader()
    fid = leader.id % 3 + 1
    c.nodes[fid] = None  # down

    # A session (entry 2), a put (3) and a compare-and-set (4): the leader
    # snapshots its store at 4, with the session's saved answer to its last
    # write; then another session (5), recorded after the snapshot.
    client = session(c, leader)
    leader.put(c.now, 2, client, 1, b"k", b"1")
    c.run_for(200)
    assert c.reply(leader, 2).result == "done"
    assert not is_snapshot_record(c.disks[leader.id][0])
    leader.cas(c.now, 3, client, 2, b"owner", None, b"alice")
    c.run_for(200)
    assert c.reply(leader, 3).result == "swapped"
    assert len(c.disks[leader.id]) == 1 and is_snapshot_record(c.disks[leader.id][0])
    session(c, leader, 4)
    assert len(c.disks[leader.id]) >= 2 and c.loaded[leader.id] == 0

    # The follower comes back with its old log: the leader no longer holds
    # the entries it lacks and sends its snapshot, which the store loads.
    follower = c.restore(fid)
    follower.snapshot_interval = 4
    c.run_for(1_000)
    assert c.loaded[fid] == 1 and is_snapshot_record(c.disks[fid][0])
    assert (follower.local_value(b"owner"), follower.local_value(b"k")) == (b"alice", b"1")
    assert follower.applied_index == leader.commit_index == c.committed[fid]

    # It restarts from its snapshot record and the records after it: the
    # store is loaded before anything else.
    follower = c.restore(fid)
    first = follower.poll()
    assert isinstance(first, ApplySnapshot) and first.index >= 4
    c.committed[fid] = first.index
    assert follower.local_value(b"owner") == b"alice"
    c.run_for(1_000)

    # Leadership moves to it. The retried compare-and-set (same seq) is
    # answered from the session its snapshot saved, where applying it again
    # would answer not_swapped, as a new write with the next seq does.
    leader.transfer_leadership(c.now, 5, fid)
    c.run_for(300)
    assert c.reply(leader, 5).result == "done" and c.leader() is follower
    follower.cas(c.now, 6, client, 2, b"owner", None, b"alice")
    c.run_for(200)
    assert c.reply(follower, 6).result == "swapped"
    follower.cas(c.now, 7, client, 3, b"owner", None, b"bob")
    c.run_for(200)
    assert c.reply(follower, 7).result == "not_swapped"
    assert all(n.local_value(b"owner") == b"alice" for n in c.up())


def test_a_snapshot_that_is_not_a_store_is_refused():
    """A Raft node's records with a snapshot of other bytes restore a Raft
    node, but not a key-value node."""
    alone = RaftNode(1, [1])
    alone.tick(0)
    alone.tick(alone.next_deadline)
    records = [o.value for o in alone if isinstance(o, consensio.Persist)]
    alone.compact(alone.applied_index, b"junk")
    records += [o.value for o in alone if isinstance(o, consensio.Persist)]
    assert is_snapshot_record(records[-1])
    assert RaftNode.restore(1, [1], records).snapshot == (1, 1, b"junk")
    with pytest.raises(consensio.MalformedMessage, match="snapshot"):
        KvNode.restore(1, [1], records)
