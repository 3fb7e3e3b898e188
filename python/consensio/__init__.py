"""consensio: distributed-systems protocols as deterministic, sans-IO state machines.

Submodules, one per family: ``consensio.clock``, ``consensio.quorum``,
``consensio.merkle``, ``consensio.ring``, ``consensio.election``,
``consensio.detector``, ``consensio.raft``, and ``consensio.sim`` to run the
deterministic simulator. Protocol participants share two output classes:
:class:`consensio.Send` (a frame for a peer) and :class:`consensio.Persist`
(a value to make durable before acting on the outputs after it: an ``int``,
or for Raft a record as ``bytes``). Every
error consensio raises is a subclass of :class:`consensio.Error`; passing an
argument of the wrong type raises ``TypeError`` (or ``OverflowError`` for
integers out of range), as for any Python function.

Threads: objects may be shared between threads. A method that changes an
object borrows it exclusively; two threads changing the same object at once
get ``RuntimeError`` ("Already borrowed") instead of a data race. Long calls
(building large Merkle trees and Maglev tables) release the GIL.
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

from consensio import clock, detector, election, merkle, quorum, raft, ring, sim  # noqa: E402  (after the native import)

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
    "detector",
    "election",
    "merkle",
    "quorum",
    "raft",
    "ring",
    "sim",
]
