"""Raft consensus: a replicated log (Ongaro and Ousterhout, 2014).

:class:`RaftNode` is one server: elections with pre-vote and check-quorum,
flow-controlled log replication, linearizable reads (ReadIndex, and lease
reads under check-quorum) from Ongaro's thesis, and snapshots with log
compaction (§7). Its log is kept in memory, bounded by the constructor's
``log_max_entries`` and ``log_max_bytes``; membership changes are not
implemented.

It is a protocol participant: feed it frames (``handle_message``), ``tick``
at ``next_deadline``, ``propose`` and ``read``/``lease_read``, then drain its
outputs after every call, in order:

- :class:`consensio.Send`: deliver ``data`` to node ``to``;
- :class:`consensio.Persist`: ``value`` is a record (``bytes``); append it to
  stable storage and make it durable before acting on any output after it;
- :class:`Committed`: apply ``data`` to the state machine (indexes come once
  each, in order, from 1 or from the one after the last snapshot; an empty
  ``data`` is a new leader's no-op entry);
- :class:`ApplySnapshot`: replace the state machine with
  ``RaftNode.snapshot``'s data (a leader's snapshot was installed, or the
  node was restored from a snapshot record);
- :class:`ReadReady` / :class:`ReadFailed`: answer or fail a read;
- :class:`LogFull`: the log has no room for what the node must append;
- :class:`MembershipCommitted`: a membership change committed (the
  ``Committed`` just before it has empty data);
- :class:`ProposalDropped`: a proposal this node made will never commit
  (another entry committed at its index); propose it again if need be;
- :class:`BecameLeader` / :class:`BecameFollower`: role changes.

Snapshots: now and then (every few thousand entries) hand the state
machine's state at an applied index to ``RaftNode.compact(index, data)``.
The log drops what the snapshot covers, and the node persists a snapshot
record that replaces every record before it: once it is durable, delete
them (:func:`is_snapshot_record` tells a snapshot record apart). A
follower that needs entries the leader has dropped is sent its snapshot.

After a crash, rebuild the node with ``RaftNode.restore(id, voters,
records)`` from every record it persisted, in order, from its last snapshot
record on; it reports :class:`ApplySnapshot` first if there is one, then its
committed entries again from the one after it (from index 1 without one),
so the state machine is rebuilt too.

``propose`` returns ``(index, term)``: the proposal was committed exactly
when :class:`Committed` arrives for ``index`` with that ``term``, and was
dropped by a leader change exactly when it arrives with another term, which
the node follows with :class:`ProposalDropped` for that index and term.

:class:`KvNode` is a replicated key-value store on a Raft node: client
sessions (``open_session``), writes (``put``, ``delete``, ``cas``) with a
session's client id and sequence numbers, so that a retried write applies
exactly once, and linearizable reads (``get``, by ReadIndex or
``lease=True``). Each command gets one :class:`Reply` with the caller's
request id; a refusal (``not_leader``, ``retry``, ...) is the reply's
``result``, not an exception, since it may come long after the call. It
persists the Raft node's records and restores from them
(``KvNode.restore``), loading the store from their snapshot and rebuilding
it as the log is reported again. It snapshots itself, client sessions
included, every ``snapshot_interval`` applied entries (10,000 by default;
0: never), so its records too start over at each snapshot record.

Membership (§6; thesis chapter 4): ``add_learner``, ``promote`` and
``remove`` change one member at a time, ``change_membership`` moves to any
voters through a joint configuration; each node uses the latest membership
in its log (``membership``) from the moment it appends it. A learner
receives the log but never votes; a learner is promoted only once it holds
every committed entry; a node that joins a running cluster is made with the
cluster's voters, itself not among them, and added as a learner.

Errors: bytes that are not a message or record raise
:class:`consensio.MalformedMessage`, and so does a snapshot that is not a
key-value store's image (``KvNode``); a proposal or read on a node that is
not the leader raises :class:`consensio.Rejected`, and so does a snapshot
beyond the applied index or not past the last one; hitting a bound (a
snapshot over ``max_snapshot_bytes`` too) raises
:class:`consensio.LimitExceeded`; an unusable configuration raises
:class:`consensio.InvalidArgument`; a ``now_ms`` earlier than the one the
same thread last gave raises :class:`consensio.InvalidArgument` too. A call
that raises changes nothing.
"""

from consensio._native import (
    ApplySnapshot,
    BecameFollower,
    BecameLeader,
    Committed,
    KvNode,
    LogFull,
    MembershipCommitted,
    ProposalDropped,
    RaftNode,
    ReadFailed,
    ReadReady,
    Reply,
    is_snapshot_record,
)

__all__ = [
    "ApplySnapshot",
    "BecameFollower",
    "BecameLeader",
    "Committed",
    "KvNode",
    "LogFull",
    "MembershipCommitted",
    "ProposalDropped",
    "RaftNode",
    "ReadFailed",
    "ReadReady",
    "Reply",
    "is_snapshot_record",
]
