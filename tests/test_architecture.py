"""The layering rules of docs/architecture.md, checked on the source: no import circle among our
modules, and `Settings` read only at the edges (the CLI, the worker start-up, the UI start-up)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vita", "catalog", "encoders", "training", "workers", "indexer", "search_ui", "bench")
#: Where `vita.settings` may be imported: the edges that build the settings once and hand them down.
EDGES = ("vita.", "search_ui.state")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, name: str, module_level: bool) -> set[str]:
    """Modules this file imports (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level else list(ast.walk(tree))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: {m for m in _imports(path, name, module_level=True) if m in mods and m != name}
            for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path a -> ... -> a, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if m.startswith(n + "."):
                continue  # a package's __init__ importing its own submodules is not a circle
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle_among_our_modules() -> None:
    graph = _graph()
    assert "indexer.store.interface" in graph and "vita.cli.common" in graph  # the scan sees the packages
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_settings_are_read_only_at_the_edges() -> None:
    offenders = [name for name, path in _modules().items()
                 if not (name == "vita" or name.startswith(EDGES))
                 and "vita.settings" in _imports(path, name, module_level=False)]
    assert offenders == []


def test_lower_layers_do_not_import_the_cli() -> None:
    offenders = [name for name, path in _modules().items() if not name.startswith("vita")
                 and any(m == "vita.cli" or m.startswith("vita.cli.") for m in _imports(path, name, False))]
    assert offenders == []
