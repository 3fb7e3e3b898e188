"""Placement of keys on nodes with one stable hash (XXH3-64): consistent
hashing with weighted virtual nodes and zones, rendezvous, jump, Maglev and
bounded-load hashing. Placements are identical to the Rust and C surfaces for
the same members."""

from consensio._native import BoundedLoadRing, HashRing, Maglev, Rendezvous, jump_hash, key_position

__all__ = ["BoundedLoadRing", "HashRing", "Maglev", "Rendezvous", "jump_hash", "key_position"]
