"""Raft consensus: a replicated log (Ongaro and Ousterhout, 2014).

:class:`RaftNode` is one server: elections with pre-vote and check-quorum,
flow-controlled log replication, and linearizable reads (ReadIndex, and
lease reads under check-quorum), from Ongaro's thesis. Its log is kept in
memory, bounded by the constructor's ``log_max_entries`` and
``log_max_bytes``; snapshots and membership changes are not implemented.

It is a protocol participant: feed it frames (``handle_message``), ``tick``
at ``next_deadline``, ``propose`` and ``read``/``lease_read``, then drain its
outputs after every call, in order:

- :class:`consensio.Send`: deliver ``data`` to node ``to``;
- :class:`consensio.Persist`: ``value`` is a record (``bytes``); append it to
  stable storage and make it durable before acting on any output after it;
- :class:`Committed`: apply ``data`` to the state machine (indexes come from
  1, once each, in order; an empty ``data`` is a new leader's no-op entry);
- :class:`ReadReady` / :class:`ReadFailed`: answer or fail a read;
- :class:`LogFull`: the log has no room for what the node must append;
- :class:`BecameLeader` / :class:`BecameFollower`: role changes.

After a crash, rebuild the node with ``RaftNode.restore(id, voters,
records)`` from every record it persisted, in order; it reports its
committed entries again from index 1, so the state machine is rebuilt too.

Errors: bytes that are not a message or record raise
:class:`consensio.MalformedMessage`; a proposal or read on a node that is not
the leader raises :class:`consensio.Rejected`; hitting a bound raises
:class:`consensio.LimitExceeded`; an unusable configuration raises
:class:`consensio.InvalidArgument`.
"""

from consensio._native import BecameFollower, BecameLeader, Committed, LogFull, RaftNode, ReadFailed, ReadReady

__all__ = ["BecameFollower", "BecameLeader", "Committed", "LogFull", "RaftNode", "ReadFailed", "ReadReady"]
