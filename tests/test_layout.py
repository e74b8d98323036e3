"""The package's shape: no import cycles between its modules (function-local imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import qaq_datasets

ROOT = Path(qaq_datasets.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("qaq_datasets", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of this package it imports}``, from every import statement, at any depth."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rpartition(".")[0]
                target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    hit = sub if sub in modules else target
                    if hit in modules and hit != name:
                        graph[name].add(hit)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules and a.name != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_inside_the_package():
    # a package's __init__ re-exporting its own modules is no cycle: only modules importing each other are
    graph = {m: {t for t in ts if not (t == m.rpartition(".")[0])} for m, ts in import_graph().items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_or_internal_apis_of_other_libraries():
    # datasets: its top level, plus Hasher (the hash Dataset.map fingerprints with); no `_private` names anywhere
    allowed_datasets = {"datasets", "datasets.fingerprint"}
    bad = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
                if top in ("qaq_datasets", "__future__"):
                    continue
                names = [a.name for a in node.names]
                if any(part.startswith("_") for part in node.module.split(".")) or any(n.startswith("_") for n in names):
                    bad.append(f"{path.name}: from {node.module} import {names}")
                if top == "datasets" and node.module not in allowed_datasets:
                    bad.append(f"{path.name}: from {node.module} (an internal module of datasets)")
    assert bad == []
