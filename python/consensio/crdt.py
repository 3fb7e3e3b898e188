"""Conflict-free replicated data types: replicas update independently and
converge by merging states, in any order, any number of times.

- :class:`GCounter`, :class:`PnCounter`: counters, one entry per replica.
- :class:`LwwRegister`: last writer wins, by hybrid logical clock timestamp
  (take it from :class:`consensio.clock.HybridLogicalClock`).
- :class:`MvRegister`: concurrent writes are kept as siblings.
- :class:`OrSet`: an observed-remove set, add-wins, without tombstones.
- :class:`DvvSet`: dotted version vector sets, the siblings of one key of a
  replicated store: a write carries the context its client read.

Values and elements are ``bytes``; ship a state with ``to_bytes()`` and
rebuild it with ``from_bytes()``, which raises
:class:`consensio.MalformedMessage` for a state no replica could build.
"""

from consensio._native import DvvSet, GCounter, LwwRegister, MvRegister, OrSet, PnCounter

__all__ = ["DvvSet", "GCounter", "LwwRegister", "MvRegister", "OrSet", "PnCounter"]
