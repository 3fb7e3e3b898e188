import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import consensio
from consensio.merkle import (
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

RFC_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
RFC_ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


def test_rfc_6962_golden_vectors():
    assert MerkleTree().root == hashlib.sha256(b"").digest()
    assert root(RFC_LEAVES) == RFC_ROOT
    tree = MerkleTree(RFC_LEAVES[:3])
    for leaf in RFC_LEAVES[3:]:
        tree.append(leaf)
    assert tree.root == RFC_ROOT and len(tree) == 8
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()


leaves = st.lists(st.binary(max_size=4), min_size=1, max_size=70)


@given(leaves, st.data())
def test_inclusion_proofs_verify_and_tampering_fails(data_leaves, data):
    tree = MerkleTree(data_leaves)
    n = len(data_leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = tree.inclusion_proof(i)
    verify_inclusion(leaf_hash(data_leaves[i]), i, n, proof, tree.root)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        with pytest.raises(consensio.VerificationError):
            verify_inclusion(leaf_hash(data_leaves[i]), i, n, bad, tree.root)
        with pytest.raises(consensio.VerificationError):
            verify_inclusion(leaf_hash(data_leaves[i]), i, n, proof[:-1], tree.root)
    with pytest.raises(consensio.VerificationError):
        verify_inclusion(leaf_hash(data_leaves[i]), i, n, proof + [bytes(32)], tree.root)


@given(leaves, st.data())
def test_consistency_proofs_verify(data_leaves, data):
    tree = MerkleTree(data_leaves)
    m = data.draw(st.integers(0, len(data_leaves)))
    proof = tree.consistency_proof(m)
    verify_consistency(m, len(tree), tree.root_at(m), tree.root, proof)
    if proof:
        with pytest.raises(consensio.VerificationError):
            verify_consistency(m, len(tree), tree.root_at(m), tree.root, proof[1:])


def test_diff_and_bad_input():
    a = MerkleTree([b"a", b"b", b"c", b"d", b"e"])
    b = MerkleTree([b"a", b"B", b"C", b"d", b"E"])
    assert a.diff(b) == [(1, 3), (4, 5)]
    with pytest.raises(consensio.InvalidArgument):
        a.diff(MerkleTree([b"a"]))
    with pytest.raises(consensio.OutOfRange):
        a.inclusion_proof(5)
    with pytest.raises(consensio.OutOfRange):
        a.root_at(6)
    with pytest.raises(consensio.InvalidArgument, match="32 bytes"):
        verify_inclusion(b"short", 0, 5, [], a.root)
    with pytest.raises(consensio.InvalidArgument):
        verify_inclusion(leaf_hash(b"a"), 0, 5, [b"x" * 31], a.root)
    with pytest.raises(TypeError):
        MerkleTree(["text, not bytes"])
    with pytest.raises(OverflowError):
        a.inclusion_proof(-1)


def sync(a, b, now=0):
    """Delivers every frame between a and b until quiet; returns a's events."""
    events = []
    nodes = {a.id: a, b.id: b}
    pending = []
    while True:
        for node in (a, b):
            for out in node:
                if isinstance(out, consensio.Send):
                    pending.append((node.id, out.to, out.data))
                elif node is a:
                    events.append(out)
        if not pending:
            return events
        src, dst, data = pending.pop(0)
        nodes[dst].handle_message(now, src, data)


def test_anti_entropy_finds_the_differing_keys():
    a, b = AntiEntropy(1, depth=4), AntiEntropy(2, depth=4)
    for i in range(50):
        a.update(0, b"k%d" % i, bytes([1]) * 32)
        b.update(0, b"k%d" % i, bytes([1]) * 32)
    b.update(0, b"k7", bytes([2]) * 32)
    b.update(0, b"only-b", bytes([3]) * 32)
    a.remove(0, b"k9")
    a.start_sync(0, 2)
    assert a.next_deadline == 200
    events = sync(a, b)
    diffs = {e.key: (e.local, e.remote) for e in events if isinstance(e, Difference)}
    assert diffs == {
        b"k7": (bytes([1]) * 32, bytes([2]) * 32),
        b"only-b": (None, bytes([3]) * 32),
        b"k9": (None, bytes([1]) * 32),
    }
    done = [e for e in events if isinstance(e, SyncComplete)]
    assert len(done) == 1 and done[0].differing_keys == 3 and done[0].peer == 2
    assert a.poll() is None and a.next_deadline is None


def test_anti_entropy_timeout_and_bad_input():
    a = AntiEntropy(1, retry_ms=10, max_retries=1)
    a.start_sync(0, 2)
    assert isinstance(a.poll(), consensio.Send)
    a.tick(10)
    assert isinstance(a.poll(), consensio.Send)
    a.tick(20)
    failed = a.poll()
    assert isinstance(failed, SyncFailed) and failed.reason == "timeout"
    with pytest.raises(consensio.MalformedMessage):
        a.handle_message(20, 2, b"\xde\xad")
    with pytest.raises(consensio.MalformedMessage):
        a.handle_message(20, 2, b"\x01\x10\x00\x01")
    with pytest.raises(consensio.InvalidArgument, match="itself"):
        a.start_sync(20, 1)
    with pytest.raises(consensio.LimitExceeded):
        a.update(20, b"x" * 2000, bytes(32))
    with pytest.raises(consensio.InvalidArgument):
        a.update(20, b"k", b"short")
    with pytest.raises(consensio.InvalidArgument):
        AntiEntropy(1, depth=30)
    with pytest.raises(TypeError):
        a.handle_message(0, 2, "text")
