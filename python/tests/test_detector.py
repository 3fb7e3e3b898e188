import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import consensio
from consensio.detector import (
    HeartbeatDetector,
    PhiAccrual,
    PhiDetector,
    Recovered,
    StateChanged,
    Suspected,
)
from consensio.election import Bully


class Net:
    """Detectors exchanging frames in-process: every ``Send`` is delivered at
    once, except to a node that is down. Time advances to the earliest
    ``next_deadline``."""

    def __init__(self, *nodes):
        self.nodes = {n.id: n for n in nodes}
        self.down = set()
        self.now = 0
        self.persisted = {}  # id -> last Persist.value made durable
        self.events = []  # (now, id, event)
        self.last_frame = {}  # (src, dst) -> the last frame sent

    def up(self):
        return [n for i, n in sorted(self.nodes.items()) if i not in self.down]

    def drain(self):
        pending = []
        for node in self.up():
            for out in node:
                if isinstance(out, consensio.Send):
                    pending.append((node.id, out.to, out.data))
                elif isinstance(out, consensio.Persist):
                    self.persisted[node.id] = out.value
                else:
                    self.events.append((self.now, node.id, out))
        for src, dst, data in pending:
            self.last_frame[(src, dst)] = data
            if dst not in self.down:
                self.nodes[dst].handle_message(self.now, src, data)
        if pending:
            self.drain()  # receiving a heartbeat may report a change

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
        return [(t, e) for t, i, e in self.events if i == node_id and t >= since]


def test_heartbeat_detector_suspects_a_silent_peer_at_300_ms_and_fails_it_at_1_s():
    a = HeartbeatDetector(1, [1, 2])
    assert a.next_deadline == 0 and a.peers == [2] and a.state(2) == "alive"
    a.tick(0)
    assert a.poll() == consensio.Persist(1)  # durable before any heartbeat
    changes, sends = [], 0
    while a.next_deadline is not None and a.next_deadline <= 1_000:
        now = a.next_deadline
        a.tick(now)
        for out in a:
            if isinstance(out, consensio.Send):
                assert out.to == 2
                sends += 1
            else:
                changes.append((now, out))
        if now < 300:
            assert a.state(2) == "alive"
    assert changes == [
        (300, StateChanged(2, "alive", "suspected")),
        (1_000, StateChanged(2, "suspected", "failed")),
    ]
    assert sends == 11  # one round every 100 ms, at 0, 100, ..., 1000
    assert a.state(2) == "failed"
    assert a.missed_intervals(2, 250) == 2 and a.missed_intervals(2, 1_000) == 10
    assert a.incarnation == 1


def test_heartbeats_keep_peers_alive_and_a_restart_is_told_apart_from_replays():
    members = [1, 2, 3]
    net = Net(*(HeartbeatDetector(i, members) for i in members))
    net.run_until(2_000)
    assert net.events == []
    assert all(n.state(p) == "alive" for n in net.up() for p in n.peers)
    assert net.persisted == {1: 1, 2: 1, 3: 1}
    # 3 crashes: the others suspect it 300 ms after its last heartbeat, and
    # fail it 1 s after.
    net.down.add(3)
    net.run_until(4_000)
    assert [e for _, e in net.events_of(1)] == [
        StateChanged(3, "alive", "suspected"),
        StateChanged(3, "suspected", "failed"),
    ]
    (t_suspect, _), (t_fail, _) = net.events_of(1)
    assert t_fail - t_suspect == 700
    # A copy of an old heartbeat arriving late cannot revive it.
    stale = net.last_frame[(3, 1)]
    net.nodes[1].handle_message(net.now, 3, stale)
    net.drain()
    assert net.nodes[1].state(3) == "failed"
    # Rebuilt without its persisted incarnation, its heartbeats look stale
    # too: sequence numbers restart at 0 within the same incarnation.
    forgetful = HeartbeatDetector(3, members)
    forgetful.tick(net.now)
    beat = [o for o in forgetful if isinstance(o, consensio.Send) and o.to == 1][0]
    net.nodes[1].handle_message(net.now, 3, beat.data)
    assert net.nodes[1].poll() is None and net.nodes[1].state(3) == "failed"
    # Rebuilt from the last incarnation it persisted, it is alive again.
    restart = net.now
    net.nodes[3] = HeartbeatDetector(3, members, incarnation=net.persisted[3])
    net.down.discard(3)
    net.run_until(5_000)
    assert net.persisted[3] == 2 and net.nodes[3].incarnation == 2
    assert [e for _, e in net.events_of(1, since=restart)] == [StateChanged(3, "failed", "alive")]
    assert all(n.state(p) == "alive" for n in net.up() for p in n.peers)


def test_phi_accrual_rises_with_silence_and_crosses_8_after_a_long_pause():
    fd = PhiAccrual()
    assert fd.threshold == 8.0 and fd.samples == 0
    assert fd.phi(12_345) == 0.0 and fd.is_available(12_345)  # never heard
    for t in range(0, 10_001, 1_000):
        fd.heartbeat(t)
    assert fd.samples == 12  # two seeded from the first estimate, then ten
    assert fd.mean_ms == pytest.approx(1_000) and fd.std_deviation_ms < 300
    silences = [0, 250, 500, 750, 1_000, 1_250, 1_500, 1_750, 2_000, 3_000]
    phis = [fd.phi(10_000 + s) for s in silences]
    assert all(p >= 0 for p in phis)
    assert all(a <= b for a, b in zip(phis, phis[1:])), phis
    assert all(a < b for a, b in zip(phis[2:], phis[3:])), phis  # once off 0
    assert fd.phi(10_500) < 0.5 and fd.is_available(11_500)
    assert fd.phi(12_000) >= 8 and not fd.is_available(12_000)
    assert phis[-1] > 8
    assert fd.phi(10_000 + 600_000) == math.inf  # the tail underflows
    # A heartbeat after the pause is recorded, but the pause is no sample.
    fd.heartbeat(20_000)
    assert fd.samples == 12 and fd.phi(20_100) < 1


def test_phi_accrual_parameters():
    relaxed = PhiAccrual(acceptable_heartbeat_pause_ms=3_000)
    strict = PhiAccrual(threshold=1.0, max_sample_size=5, min_std_deviation_ms=10, first_heartbeat_estimate_ms=100)
    for t in range(0, 2_001, 100):
        relaxed.heartbeat(t)
        strict.heartbeat(t)
    assert strict.samples == 5 and strict.mean_ms == pytest.approx(100)
    assert relaxed.is_available(2_000 + 3_000) and not strict.is_available(2_000 + 200)
    assert "PhiAccrual(threshold=1" in repr(strict)


def test_phi_detector_suspects_and_recovers():
    members = [1, 2]
    net = Net(*(PhiDetector(i, members) for i in members))
    net.run_until(10_000)
    assert net.events == [] and not net.nodes[1].is_suspected(2)
    assert net.nodes[1].phi(2, 10_000) < 1
    net.down.add(2)
    net.run_until(15_000)
    (t, suspected), = net.events_of(1)
    assert suspected == Suspected(2, suspected.phi)
    assert suspected.peer == 2 and suspected.phi >= 8 and t <= 10_000 + 3_000
    assert net.nodes[1].is_suspected(2) and net.nodes[1].phi(2, 15_000) >= 8
    # 2 comes back rebuilt from its persisted incarnation.
    net.nodes[2] = PhiDetector(2, members, incarnation=net.persisted[2])
    net.down.discard(2)
    net.run_until(17_000)
    assert [e for _, e in net.events_of(1, since=15_000)] == [Recovered(2)]
    assert not net.nodes[1].is_suspected(2) and net.nodes[2].incarnation == 2


def test_either_detector_monitors_the_other():
    hb = HeartbeatDetector(1, [1, 2], interval_ms=1_000, suspect_after_ms=3_000, fail_after_ms=5_000)
    phi = PhiDetector(2, [1, 2])
    net = Net(hb, phi)
    net.run_until(10_000)
    assert net.events == []
    assert hb.state(2) == "alive" and not phi.is_suspected(1)


def test_outputs_are_frozen_values():
    assert StateChanged(2, "alive", "suspected") == StateChanged(2, "alive", "suspected")
    assert StateChanged(2, "alive", "suspected") != StateChanged(2, "suspected", "failed")
    change = StateChanged(2, "alive", "failed")
    assert (change.peer, change.from_state, change.to_state) == (2, "alive", "failed")
    assert repr(change) == "StateChanged(peer=2, from_state=\"alive\", to_state=\"failed\")"
    assert len({Recovered(1), Recovered(1), change}) == 2
    assert Suspected(2, 8.5) == Suspected(2, 8.5) and Suspected(2, 8.5).phi == 8.5
    assert repr(Recovered(4)) == "Recovered(peer=4)"
    with pytest.raises(consensio.InvalidArgument):
        StateChanged(2, "alive", "dead")
    with pytest.raises(AttributeError):
        change.peer = 3


def heartbeat_frame():
    node = HeartbeatDetector(1, [1, 2])
    node.tick(0)
    return [o for o in node if isinstance(o, consensio.Send)][0].data


def bully_frame():
    node = Bully(1, [1, 2])
    node.tick(0)
    node.tick(10_000)
    return [o for o in node if isinstance(o, consensio.Send)][0].data


@pytest.mark.parametrize("cls", [HeartbeatDetector, PhiDetector])
def test_bad_frames_raise_and_change_nothing(cls):
    frame = heartbeat_frame()
    node = cls(2, [1, 2, 3])
    node.tick(0)
    list(node)
    deadline = node.next_deadline
    for bad in [b"", b"\xde\xad", frame[:-1], frame[:2], frame + b"\x00", b"\x09" + frame[1:], bully_frame()]:
        with pytest.raises(consensio.MalformedMessage):
            node.handle_message(1, 1, bad)
    with pytest.raises(consensio.LimitExceeded):
        node.handle_message(1, 1, frame + bytes(64))
    with pytest.raises(consensio.InvalidArgument, match="not a monitored peer"):
        node.handle_message(1, 99, frame)
    with pytest.raises(consensio.InvalidArgument):
        node.handle_message(1, 2, frame)  # from itself
    assert node.poll() is None and node.next_deadline == deadline
    node.handle_message(1, 1, frame)  # the real frame is fine


def test_unknown_peers_in_queries():
    hb, phi = HeartbeatDetector(1, [1, 2]), PhiDetector(1, [1, 2])
    for query in [
        lambda: hb.state(3),
        lambda: hb.state(1),
        lambda: hb.missed_intervals(3, 0),
        lambda: phi.phi(3, 0),
        lambda: phi.is_suspected(3),
    ]:
        with pytest.raises(consensio.InvalidArgument, match="not a monitored peer"):
            query()


@pytest.mark.parametrize("cls", [HeartbeatDetector, PhiDetector])
def test_bad_configuration(cls):
    with pytest.raises(consensio.InvalidArgument, match="include this node"):
        cls(4, [1, 2, 3])
    # Too many members exceeds a fixed bound: LimitExceeded, as in C and as
    # for Raft's voters (one classification of errors, in core).
    with pytest.raises(consensio.LimitExceeded, match="exceed"):
        cls(1, range(300))
    assert len(cls(1, range(257)).peers) == 256  # 256 peers besides itself
    assert cls(1, {3, 1, 2, 2}).peers == [2, 3]  # any iterable of ints
    assert cls(1, [1]).peers == []
    with pytest.raises(consensio.InvalidArgument):
        cls(1, [1, 2], interval_ms=0)


def test_bad_detector_parameters():
    for bad in [dict(suspect_after_ms=0), dict(suspect_after_ms=500, fail_after_ms=400)]:
        with pytest.raises(consensio.InvalidArgument):
            HeartbeatDetector(1, [1, 2], **bad)
    phi_bad = [
        dict(threshold=0.0),
        dict(threshold=-1.0),
        dict(threshold=math.nan),
        dict(threshold=math.inf),
        dict(max_sample_size=0),
        dict(min_std_deviation_ms=0),
        dict(first_heartbeat_estimate_ms=0),
    ]
    for bad in phi_bad:
        with pytest.raises(consensio.InvalidArgument):
            PhiAccrual(**bad)
        with pytest.raises(consensio.InvalidArgument):
            PhiDetector(1, [1, 2], **bad)


def test_wrong_types():
    for cls in (HeartbeatDetector, PhiDetector):
        for args in [("1", [1, 2]), (1, "12"), (1, b"\x01\x02"), (1, 2), (1, [1, "2"]), (None, [1])]:
            with pytest.raises(TypeError):
                cls(*args)
        with pytest.raises(TypeError):
            cls(1, [1, 2], 0, 100)  # parameters are keyword-only
        with pytest.raises(OverflowError):
            cls(1, [1, 2], incarnation=-1)
        node = cls(1, [1, 2])
        with pytest.raises(TypeError):
            node.handle_message(0, 2, "text")
        with pytest.raises(TypeError):
            node.tick("now")
        with pytest.raises(OverflowError):
            node.tick(-1)
    with pytest.raises(TypeError):
        PhiAccrual(threshold="8")
    with pytest.raises(TypeError):
        PhiAccrual().heartbeat(1.5)
    with pytest.raises(OverflowError):
        PhiAccrual().phi(-1)
    with pytest.raises(TypeError):
        PhiDetector(1, [1, 2], interval_ms=1.0)
    with pytest.raises(TypeError):
        HeartbeatDetector(1, [1, 2]).state("2")


@pytest.mark.parametrize("cls", [HeartbeatDetector, PhiDetector])
@given(data=st.binary(max_size=40), sender=st.sampled_from([1, 2, 3, 7]))
def test_arbitrary_bytes_raise_or_are_handled(cls, data, sender):
    node = cls(2, [1, 2, 3])
    try:
        node.handle_message(0, sender, data)
    except consensio.Error:
        pass
    list(node)
