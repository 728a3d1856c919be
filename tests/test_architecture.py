"""The shape of the package: no import circle between modules or between folders, counting
imports made only for type checking (a reader still has to walk them)."""

from __future__ import annotations

import ast
from pathlib import Path

import mayday

ROOT = Path(mayday.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse(source: str) -> ast.Module:
    """``ast.parse``, tried again on CPython 3.11's spurious "AST constructor recursion
    depth mismatch" SystemError (python/cpython#106905: its depth counter is shared, and
    another thread of the test process can move it mid-parse)."""
    for _ in range(2):
        try:
            return ast.parse(source)
        except SystemError:
            continue
    return ast.parse(source)


def imports() -> dict[str, set[str]]:
    """Every module of mayday and the mayday modules it imports, anywhere in its body."""
    names = {module_name(p) for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                found.update(
                    f"{base}.{a.name}" if f"{base}.{a.name}" in names else base for a in node.names
                )
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[module_name(path)] = {m for m in found if m in names}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each circle found by a depth-first walk, as the list of nodes on it."""
    found, state, stack = [], {}, []

    def walk(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


def test_no_import_circle_between_modules() -> None:
    """No module of mayday imports, through any chain, a module that imports it back."""
    graph = imports()
    assert len(graph) > 40  # the walk saw the package
    assert "mayday.transport.server" in graph["mayday.transport.app"]
    assert cycles(graph) == []


def test_no_import_circle_between_folders() -> None:
    """The folders (protocol, routing, stores, sessions, metrics, transport, client) import
    each other one way only: the rooms of the house have no back doors."""
    folders: dict[str, set[str]] = {}
    for module, targets in imports().items():
        source = ".".join(module.split(".")[:2])
        for target in targets:
            other = ".".join(target.split(".")[:2])
            if other not in (source, "mayday"):  # the root holds only __version__
                folders.setdefault(source, set()).add(other)
    assert "mayday.routing" in folders["mayday.transport"]
    assert cycles(folders) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    """The check above can fail: a circle of three is reported."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
