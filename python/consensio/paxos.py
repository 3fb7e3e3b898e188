"""Multi-Paxos: a replicated log of chosen values.

:class:`PaxosNode` plays every role of "Paxos Made Simple" (Lamport, 2001)
in one participant: acceptor (it promises and accepts, durably), learner
(it reports each slot's chosen value once, in slot order) and, when a
majority has adopted its ballot, the one proposer that the others follow
("Paxos Made Moderately Complex", van Renesse and Altinbuken, 2015).
Ballots are ``(round, node)`` pairs. A new leader runs phase 1 once, for
every slot from its first unchosen one, proposes again the value each slot
accepted under the highest ballot, fills gaps with no-ops (empty values),
then runs only phase 2, several slots per message. Heartbeats carry the
leader's first unchosen slot; a node that missed decisions fetches them in
bounded pages. A node asks the others before it raises its ballot, and a
preempted proposer backs off for a randomized, growing delay, so a
healthy leader stays.

Drive it like every participant: ``handle_message``, ``tick`` at
``next_deadline``, ``propose`` on the leader, then drain its outputs:
:class:`consensio.Send`, :class:`consensio.Persist` (a record as ``bytes``:
make it durable, in order, before acting on the outputs after it),
:class:`Chosen`, :class:`Adopted` and :class:`SteppedDown`. Rebuild a
restarted node with ``PaxosNode.restore(id, members, records)`` from every
record it persisted; it reports its chosen prefix again from slot 1.
``compact(now_ms, upto, snapshot)`` hands it the application's state
through a slot it reported: the snapshot record it writes replaces every
record before it (``is_snapshot_record``), and a node restored from it
starts with :class:`Snapshot` (load ``node.snapshot`` into the
application), then ``Chosen`` from the slot after it.

:class:`PaxosKvNode` is the replicated key-value store of
:class:`consensio.raft.KvNode` (its store, client sessions and
:class:`consensio.raft.Reply` answers) on a Paxos node instead: the same
commands (``open_session``, ``put``, ``delete``, ``cas``, ``get``), each
answered once, a retried write applied once, and reads that go through the
log, so they are linearizable.

:class:`SingleDecreeNode` is single-decree Paxos, the teaching form of
"Paxos Made Simple" §2: the protocol each slot of the log runs, on its
own. ``propose`` a value; the node runs phase 1 and phase 2 until a value
is chosen (its own or another proposer's) and reports :class:`Decided`
once per life. A refused attempt reports :class:`Preempted` and tries
again with a higher ballot after a random, doubling delay;
``backoff_base_ms=0`` gives the textbook proposer that retries at once,
and duelling proposers can then livelock.
"""

from consensio._native import (
    Adopted,
    Chosen,
    Decided,
    PaxosKvNode,
    PaxosNode,
    Preempted,
    SingleDecreeNode,
    Snapshot,
    SteppedDown,
)
from consensio._native import paxos_is_snapshot_record as is_snapshot_record

__all__ = [
    "Adopted",
    "Chosen",
    "Decided",
    "PaxosKvNode",
    "PaxosNode",
    "Preempted",
    "SingleDecreeNode",
    "Snapshot",
    "SteppedDown",
    "is_snapshot_record",
]
