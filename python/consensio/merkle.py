"""RFC 6962/9162 Merkle trees, proofs and diff, and Merkle anti-entropy.

Leaves are ``bytes``; hashes are 32-byte ``bytes``. The verifiers return
``None`` and raise :class:`consensio.VerificationError` when a proof does not
verify. :class:`AntiEntropy` is a protocol participant: feed it frames,
ticks and commands, then drain its outputs (:class:`consensio.Send`,
:class:`Difference`, :class:`SyncComplete`, :class:`SyncFailed`).
"""

from consensio._native import (
    AntiEntropy,
    Difference,
    MerkleTree,
    SyncComplete,
    SyncFailed,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "AntiEntropy",
    "Difference",
    "MerkleTree",
    "SyncComplete",
    "SyncFailed",
    "leaf_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]
