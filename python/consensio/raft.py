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

``propose`` returns ``(index, term)``: the proposal was committed exactly
when :class:`Committed` arrives for ``index`` with that ``term``, and was
dropped by a leader change exactly when it arrives with another term.

:class:`KvNode` is a replicated key-value store on a Raft node: client
sessions (``open_session``), writes (``put``, ``delete``, ``cas``) with a
session's client id and sequence numbers, so that a retried write applies
exactly once, and linearizable reads (``get``, by ReadIndex or
``lease=True``). Each command gets one :class:`Reply` with the caller's
request id; a refusal (``not_leader``, ``retry``, ...) is the reply's
``result``, not an exception, since it may come long after the call. It
persists the Raft node's records and restores from them
(``KvNode.restore``), rebuilding the store as the log is reported again.

Errors: bytes that are not a message or record raise
:class:`consensio.MalformedMessage`; a proposal or read on a node that is not
the leader raises :class:`consensio.Rejected`; hitting a bound raises
:class:`consensio.LimitExceeded`; an unusable configuration raises
:class:`consensio.InvalidArgument`; a ``now_ms`` earlier than the one the
same thread last gave raises :class:`consensio.InvalidArgument` too.
"""

from consensio._native import (
    BecameFollower,
    BecameLeader,
    Committed,
    KvNode,
    LogFull,
    RaftNode,
    ReadFailed,
    ReadReady,
    Reply,
)

__all__ = [
    "BecameFollower",
    "BecameLeader",
    "Committed",
    "KvNode",
    "LogFull",
    "RaftNode",
    "ReadFailed",
    "ReadReady",
    "Reply",
]
