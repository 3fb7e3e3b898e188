"""Logical, vector and hybrid clocks, and clock-synchronisation arithmetic.

- :class:`VectorClock`: happened-before is ``<``; concurrent clocks are
  neither ``<``, ``>`` nor ``==`` (see :meth:`VectorClock.concurrent_with`).
- :class:`LamportClock` / :class:`LamportStamp`: Lamport's clock and total order.
- :class:`HybridLogicalClock` / :class:`HlcTimestamp`: Kulkarni et al. 2014,
  rejecting remote timestamps too far ahead (:class:`consensio.Rejected`).
- :func:`ntp_on_wire`, :class:`ClockFilter`: RFC 5905 offset, delay and the
  minimum-delay filter; :func:`cristian_estimate`; :func:`berkeley_adjustments`.
"""

from consensio._native import (
    ClockFilter,
    CristianEstimate,
    HlcTimestamp,
    HybridLogicalClock,
    LamportClock,
    LamportStamp,
    NtpEstimate,
    VectorClock,
    berkeley_adjustments,
    cristian_estimate,
    ntp_on_wire,
)

__all__ = [
    "ClockFilter",
    "CristianEstimate",
    "HlcTimestamp",
    "HybridLogicalClock",
    "LamportClock",
    "LamportStamp",
    "NtpEstimate",
    "VectorClock",
    "berkeley_adjustments",
    "cristian_estimate",
    "ntp_on_wire",
]
