"""Quorum arithmetic: majority and joint configurations (up to 64 voters each).

``committed_index({voter: acked_index})`` gives the largest index a quorum
has acknowledged; ``vote_result({voter: granted})`` gives "won", "lost" or
"pending".
"""

from consensio._native import JointConfig, MajorityConfig

__all__ = ["JointConfig", "MajorityConfig"]
