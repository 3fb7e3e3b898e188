"""Failure detectors: which peers have stopped sending heartbeats.

:class:`HeartbeatDetector` uses fixed timeouts: a peer is ``"alive"``, then
``"suspected"`` after ``suspect_after_ms`` of silence, then ``"failed"``
after ``fail_after_ms``, and alive again on its next heartbeat (each change
is a :class:`StateChanged` output). :class:`PhiAccrual` is the φ-accrual
calculator of Hayashibara et al. (2004) with Akka's parameters: a suspicion
level that grows with silence and adapts to the observed heartbeat
intervals. :class:`PhiDetector` keeps one calculator per peer and reports
:class:`Suspected` when φ reaches its threshold and :class:`Recovered` when
it falls below again.

Both detectors send the same heartbeat frames (so either can monitor the
other) and are protocol participants: feed them frames
(``handle_message``) and ``tick`` at ``next_deadline``, then drain their
outputs, :class:`consensio.Send` and :class:`consensio.Persist` included.
``Persist.value`` is the detector's *incarnation*, persisted at its first
input before any heartbeat goes out: rebuild a restarted node with
``HeartbeatDetector(id, members, incarnation=last_persisted)`` (likewise
for :class:`PhiDetector`) so its heartbeats are newer than those of its
previous life. ``members`` lists every member, this node included; the
others are the monitored peers (at most 256).
"""

from consensio._native import (
    HeartbeatDetector,
    PhiAccrual,
    PhiDetector,
    Recovered,
    StateChanged,
    Suspected,
)

__all__ = [
    "HeartbeatDetector",
    "PhiAccrual",
    "PhiDetector",
    "Recovered",
    "StateChanged",
    "Suspected",
]
