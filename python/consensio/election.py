"""Leader election: the Bully algorithm and Chang–Roberts ring election.

:class:`Bully` (Garcia-Molina, 1982) elects the highest live id, and a
restarted higher id takes over; :class:`RingElection` (Chang and Roberts,
1979) passes candidacies round a ring ordered by id, with acknowledged hops
that skip dead members. Both send leader heartbeats and number their leaders
with *epochs*: every new leader's epoch is above any its members have seen,
and for an equal epoch the higher id wins.

Both are protocol participants: feed them frames (``handle_message``),
``tick`` at ``next_deadline`` and ``start_election``, then drain their
outputs: :class:`consensio.Send`, :class:`consensio.Persist`,
:class:`Elected` and :class:`LeaderLost`. ``Persist.value`` is an epoch;
make it durable before delivering the ``Send`` outputs that follow it, keep
only the last one, and rebuild a restarted node with
``Bully(id, members, epoch=last_persisted)`` (likewise for
:class:`RingElection`), so it never announces or accepts an epoch below one
it already acted on.

Neither algorithm uses quorums: they are safe only in the synchronous model
of their papers (no message loss, no partitions, timeouts above the delay
bounds). Under a partition each side elects its own leader. Use a quorum
protocol when that cannot be assumed.
"""

from consensio._native import Bully, Elected, LeaderLost, RingElection

__all__ = ["Bully", "Elected", "LeaderLost", "RingElection"]
