"""The type stubs cannot drift from the extension: ``_native.pyi`` declares
exactly the public names the compiled module has, each class exactly the
public methods and properties it has, and every one of them has a docstring.

The stub file is the one list; this test holds the extension to it."""

import ast
import inspect
import pathlib

import pytest

import consensio
from consensio import _native

STUB = pathlib.Path(consensio.__file__).with_name("_native.pyi")


def stub_tree():
    return ast.parse(STUB.read_text(encoding="utf-8"))


def stub_names():
    """Top-level names the stub declares (classes, functions, constants),
    without its private helpers and type aliases (``X = Union[...]``)."""
    names = set()
    for node in stub_tree().body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_") or n == "__version__"}


def stub_members():
    """For every stubbed class, the public members it declares."""
    members = {}
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef):
            members[node.name] = {
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_")
            }
    return members


def native_names():
    return {
        name
        for name in dir(_native)
        if (not name.startswith("_") or name == "__version__") and not inspect.ismodule(getattr(_native, name))
    }


def test_the_stub_declares_exactly_the_extensions_names():
    missing = native_names() - stub_names()
    stale = stub_names() - native_names()
    assert not missing, f"in _native but not in _native.pyi: {sorted(missing)}"
    assert not stale, f"in _native.pyi but not in _native: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(stub_members()))
def test_each_class_declares_exactly_its_methods(name):
    cls = getattr(_native, name)
    if issubclass(cls, BaseException):
        return  # exception classes add nothing of their own
    runtime = {m for m in vars(cls) if not m.startswith("_")}
    declared = stub_members()[name]
    assert runtime - declared == set(), f"{name}: not in the stub: {sorted(runtime - declared)}"
    assert declared - runtime == set(), f"{name}: stubbed but missing: {sorted(declared - runtime)}"


@pytest.mark.parametrize("name", sorted(native_names() - {"__version__", "WIRE_VERSION"}))
def test_every_public_name_has_a_docstring(name):
    obj = getattr(_native, name)
    assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
    if inspect.isclass(obj) and not issubclass(obj, BaseException):
        for member, value in vars(obj).items():
            if member.startswith("_"):
                continue
            assert (getattr(value, "__doc__", None) or "").strip(), f"{name}.{member} has no docstring"


def test_every_participant_has_the_same_driving_methods():
    """One way to drive every protocol: the methods written once."""
    common = {"id", "next_deadline", "handle_message", "tick", "poll"}
    participants = [
        cls
        for cls in vars(_native).values()
        if inspect.isclass(cls) and "handle_message" in vars(cls)
    ]
    assert {c.__name__ for c in participants} >= {
        "RaftNode",
        "Bully",
        "RingElection",
        "HeartbeatDetector",
        "PhiDetector",
        "AntiEntropy",
    }
    for cls in participants:
        assert common <= set(vars(cls)), cls.__name__
        assert "__iter__" in vars(cls) and "__next__" in vars(cls), cls.__name__
