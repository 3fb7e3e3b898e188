"""consensio: distributed-systems protocols as deterministic, sans-IO state machines.

Submodules, one per family: ``consensio.clock``, ``consensio.crdt``, ``consensio.quorum``,
``consensio.merkle``, ``consensio.ring``, ``consensio.election``,
``consensio.detector``, ``consensio.raft``, ``consensio.paxos``, ``consensio.resilience`` (circuit
breaker and retries), and ``consensio.sim`` to run the
deterministic simulator. Protocol participants are driven alike
(``handle_message``, ``tick`` at ``next_deadline``, their commands, then
``for out in node:``) and share two output classes: :class:`consensio.Send`
(a frame for a peer) and :class:`consensio.Persist` (a value to make durable
before acting on the outputs after it: an ``int``, or for Raft and Paxos a
record as ``bytes``). Every error consensio raises is a subclass of
:class:`consensio.Error`, chosen by the kind of failure (the same kinds as
the C statuses); passing an
argument of the wrong type raises ``TypeError`` (or ``OverflowError`` for
integers out of range), as for any Python function.

Threads: every object may be passed between threads. Protocol participants
(``RaftNode``, ``PaxosNode``, ``Bully``, ``RingElection``, the detectors, ``AntiEntropy``)
may also be driven from several threads at once: they take turns. A thread
that feeds an input holds the node's turn until its ``for out in node:``
loop ends (``poll()`` returns None); meanwhile another thread's input waits,
with the GIL released, and another thread's ``poll()`` returns None, so
records, sends and applies happen in the node's order. Other objects' changing
methods borrow them exclusively: two threads changing the same object at
once get ``RuntimeError`` ("Already borrowed") instead of a data race. Long
calls (building large Merkle trees and Maglev tables) release the GIL.
"""

from consensio._native import (
    WIRE_VERSION,
    Error,
    InvalidArgument,
    LimitExceeded,
    MalformedMessage,
    OutOfRange,
    Persist,
    Rejected,
    Send,
    VerificationError,
    __version__,
)

from consensio import clock, crdt, detector, election, merkle, paxos, quorum, raft, resilience, ring, sim  # noqa: E402  (after the native import)

__all__ = [
    "WIRE_VERSION",
    "Error",
    "InvalidArgument",
    "LimitExceeded",
    "MalformedMessage",
    "OutOfRange",
    "Persist",
    "Rejected",
    "Send",
    "VerificationError",
    "__version__",
    "clock",
    "crdt",
    "detector",
    "election",
    "merkle",
    "paxos",
    "quorum",
    "raft",
    "resilience",
    "ring",
    "sim",
]
