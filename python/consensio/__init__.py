"""consensio: distributed-systems protocols as deterministic, sans-IO state machines."""

from consensio._native import WIRE_VERSION, __version__

__all__ = ["WIRE_VERSION", "__version__"]
