"""Participants driven from several Python threads at once.

A thread that feeds an input holds the node's turn until its iteration ends
(poll() returns None): another thread's input waits for it, with the GIL
released, and another thread's poll() returns None. So each thread handles
its outputs in the node's own order, as if one thread drove the node."""

import itertools
import sys
import threading
import time

import pytest

import consensio
from consensio.detector import HeartbeatDetector, PhiDetector
from consensio.election import Bully, RingElection
from consensio.merkle import AntiEntropy
from consensio.raft import BecameLeader, Committed, RaftNode


@pytest.fixture(autouse=True)
def busy_switching():
    """Switch threads as often as the interpreter allows, so that a thread
    is often preempted between its input and its polls."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


class Host:
    """What every thread does with a lone Raft voter's outputs: append each
    record to the shared disk, apply each entry. The lock only guards the
    lists; the node's turn is what keeps them in order."""

    def __init__(self):
        self.node = RaftNode(1, [1])
        self.clock = itertools.count(1_000)
        self.lock = threading.Lock()
        self.disk = []
        self.applied = []
        self.proposed = {}
        self.unexpected = []

    def now(self):
        with self.lock:
            return next(self.clock)

    def drain(self):
        for out in self.node:
            time.sleep(0)  # writing to disk or the network lets others run
            with self.lock:
                if isinstance(out, consensio.Persist):
                    self.disk.append(out.value)
                elif isinstance(out, Committed):
                    self.applied.append((out.index, out.data))
                elif not isinstance(out, BecameLeader):
                    self.unexpected.append(out)

    def elect(self):
        self.node.tick(self.now())
        self.drain()
        with self.lock:  # the clock jumps a second; time never goes back
            self.clock = itertools.count(next(self.clock) + 1_000)
        self.node.tick(self.now())
        self.drain()
        assert self.node.role == "leader"


def test_threads_proposing_to_one_node_persist_and_apply_in_its_order():
    host = Host()
    host.elect()
    stop = threading.Event()
    errors = []

    def propose(t):
        try:
            for i in range(150):
                payload = f"t{t}-{i}".encode()
                index, _ = host.node.propose(host.now(), payload)
                with host.lock:
                    host.proposed[index] = payload
                time.sleep(0)
                host.drain()
        except Exception as e:  # reported by the main thread
            errors.append(e)

    def tick():
        while not stop.is_set():
            host.node.tick(host.now())
            host.drain()

    def observe():
        # Never feeds an input, so never gets an output.
        while not stop.is_set():
            if host.node.poll() is not None:
                errors.append("an observer was handed another thread's output")

    workers = [threading.Thread(target=propose, args=(t,), daemon=True) for t in range(4)]
    others = [
        threading.Thread(target=tick, daemon=True),
        threading.Thread(target=observe, daemon=True),
    ]
    for thread in workers + others:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    for thread in others:
        thread.join()

    assert errors == []
    assert host.unexpected == []
    # Index 1 is the leader's empty entry; every proposal is applied once,
    # in index order, with the payload proposed at that index.
    total = 4 * 150 + 1
    assert [index for index, _ in host.applied] == list(range(1, total + 1))
    assert all(data == host.proposed[index] for index, data in host.applied[1:])
    assert host.node.last_index == total
    # The records reached the disk in the node's order: a node restored
    # from them has every entry.
    restored = RaftNode.restore(1, [1], host.disk)
    assert restored.last_index == total
    assert restored.term == host.node.term


def test_an_input_waits_while_another_thread_holds_the_turn():
    host = Host()
    host.elect()
    host.node.propose(host.now(), b"held")  # this thread holds the turn
    started, done = threading.Event(), threading.Event()
    seen = []

    def other():
        seen.append(host.node.poll())  # not its turn: None, at once
        started.set()
        host.node.tick(host.now())  # waits for the turn
        host.drain()
        done.set()

    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    assert started.wait(10)
    assert not done.wait(0.2)
    assert host.node.commit_index >= 1  # reading never waits
    host.drain()  # gives the turn back
    thread.join(10)
    assert done.is_set()
    assert seen == [None]
    assert [data for _, data in host.applied] == [b"", b"held"]


def test_a_refused_input_does_not_keep_the_turn():
    follower = RaftNode(1, [1, 2, 3])
    with pytest.raises(consensio.Rejected):
        follower.propose(0, b"x")  # not the leader: refused, nothing changes
    thread = threading.Thread(target=lambda: (follower.tick(1), list(follower)), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Bully(1, [1, 2, 3]),
        lambda: RingElection(1, [1, 2, 3]),
        lambda: HeartbeatDetector(1, [1, 2, 3]),
        lambda: PhiDetector(1, [1, 2, 3]),
        lambda: AntiEntropy(1),
    ],
    ids=["bully", "ring", "heartbeat", "phi", "anti-entropy"],
)
def test_every_participant_can_be_ticked_from_several_threads(make):
    node = make()
    clock = itertools.count(0, 7)
    lock = threading.Lock()
    errors = []

    def run():
        try:
            for _ in range(200):
                with lock:
                    now = next(clock)
                node.tick(now)
                for _ in node:
                    pass
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert node.poll() is None


def test_group_commit_acts_on_an_output_once_its_records_are_durable():
    """Threads write records under the turn, fsync after their drain, and
    apply a committed entry once the disk is durable up to its record count
    (poll_counted): the counts are exact, and every entry is applied in
    order from a durable prefix that holds it."""
    host = Host()
    host.elect()  # its records count too
    durable = [0]  # records made durable by an "fsync"
    queued = []  # (records, Committed), queued under the turn
    errors = []

    def drain():
        while (polled := host.node.poll_counted()) is not None:
            records, out = polled
            time.sleep(0)
            with host.lock:
                if isinstance(out, consensio.Persist):
                    host.disk.append(out.value)
                    if records != len(host.disk):
                        errors.append(("count", records, len(host.disk)))
                elif isinstance(out, Committed):
                    queued.append((records, out))
        with host.lock:
            upto = len(host.disk)  # written before the fsync begins
        time.sleep(0)  # the fsync
        with host.lock:
            durable[0] = max(durable[0], upto)

    def propose(t):
        try:
            for i in range(100):
                host.node.propose(host.now(), f"t{t}-{i}".encode())
                drain()
        except Exception as e:  # reported by the main thread
            errors.append(e)

    workers = [threading.Thread(target=propose, args=(t,)) for t in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    assert errors == []
    total = 4 * 100 + 1
    assert [out.index for _, out in queued] == list(range(2, total + 1))
    assert durable[0] == len(host.disk)
    for records, out in queued[::37]:
        # What a crash right after the fsync that covers `records` leaves
        # holds the entry: applying it then loses nothing.
        restored = RaftNode.restore(1, [1], host.disk[:records])
        assert restored.last_index >= out.index
        assert records <= durable[0]
        # and the count is tight: one record less does not hold it.
        assert RaftNode.restore(1, [1], host.disk[: records - 1]).last_index < out.index
