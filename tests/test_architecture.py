"""The layering rules of docs/architecture.md, checked on the source: no import circle among our
modules (imports inside functions included), every import of our modules inside a function named
by a rule that says why it is deferred, and `Settings` read only at the edges (the CLI, the
worker start-up, the UI start-up)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vita", "catalog", "encoders", "training", "workers", "indexer", "search_ui", "bench")
#: Where `vita.settings` may be imported: the edges that build the settings once and hand them down.
EDGES = ("vita.", "search_ui.state")
#: Imports of our modules deferred into a function: (importer prefix, imported prefix, why). Anything
#: else is imported at the top of its module, where the circle check sees it like the rest.
LAZY: tuple[tuple[str, str, str], ...] = (
    ("vita.cli", "", "a command imports its work when it runs: `vita --help` and light commands skip torch"),
    ("bench", "", "a suite imports what it measures when it runs; `vita bench` lists suites without them"),
    ("", "encoders", "torch and the towers: loaded only where a model runs"),
    ("", "training", "torch: loaded only where a model is trained or evaluated"),
    ("", "indexer.model_ref", "loads a model (torch)"),
    ("", "indexer.search.facade", "the searcher holds a model (torch); the request types do not"),
    ("", "indexer.search.query", "encodes queries with a model (torch)"),
    ("", "indexer.evidence", "reads the model's heads (torch); `indexer.identify`'s types stay light"),
    ("", "indexer.store.edge", "a backend and its client library, loaded when the loader picks it"),
    ("", "indexer.store.server", "a backend and its client library, loaded when the loader picks it"),
    ("vita.settings", "catalog.facade", "opening a catalog loads SQLAlchemy's models; reading settings does not"),
    ("encoders.field", "catalog.names", "WordNet's database is read only by the taxonomy bridge"),
    ("workers.dispatch", "workers.app", "Celery is imported only by a run that uses the broker, not an eager one"),
    ("search_ui.state", "workers.indexing", "the UI indexes only when its button is pressed"),
)


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


def _imports(path: Path, name: str, module_level: bool, in_functions: bool = False) -> set[str]:
    """Modules this file imports: at module level only, anywhere, or (`in_functions`) inside functions."""
    tree = ast.parse(path.read_text())
    if in_functions:
        nodes = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)]
    else:
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


def _graph(module_level: bool = False) -> dict[str, set[str]]:
    """Our modules -> the modules of ours they import (anywhere in the file, by default)."""
    mods = _modules()
    return {name: {m for m in _imports(path, name, module_level) if m in mods and m != name}
            for name, path in mods.items()}


def _deferred() -> list[tuple[str, str]]:
    """(importer, imported) for every import of our modules made inside a function and not at the top."""
    mods = _modules()
    out = []
    for name, path in sorted(mods.items()):
        top = _imports(path, name, module_level=True)
        inner = {m for m in _imports(path, name, False, in_functions=True) if m in mods and m != name} - top
        out += [(name, m) for m in sorted(inner)
                if not any(t.startswith(m + ".") for t in inner)]  # `from pkg import mod`: count the module
    return out


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
    assert "indexer.store.interface" in graph  # the scan sees the packages
    assert "vita.cli.common" in graph
    assert "indexer.store.edge" in graph["indexer.store.loader"]  # and the imports inside functions
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_every_deferred_import_has_a_reason() -> None:
    deferred = _deferred()
    assert ("indexer.store.loader", "indexer.store.edge") in deferred  # the scan sees them
    unexplained = [f"{a} -> {b}" for a, b in deferred
                   if not any(a.startswith(who) and b.startswith(what) for who, what, _ in LAZY)]
    assert unexplained == [], "import these at the top of the module, or add a rule to LAZY that says why"


def test_every_lazy_rule_is_still_used() -> None:
    deferred = _deferred()
    unused = [rule[:2] for rule in LAZY if not any(a.startswith(rule[0]) and b.startswith(rule[1]) for a, b in deferred)]
    assert unused == []


def test_settings_are_read_only_at_the_edges() -> None:
    offenders = [name for name, path in _modules().items()
                 if not (name == "vita" or name.startswith(EDGES))
                 and "vita.settings" in _imports(path, name, module_level=False)]
    assert offenders == []


def test_lower_layers_do_not_import_the_cli() -> None:
    offenders = [name for name, path in _modules().items() if not name.startswith("vita")
                 and any(m == "vita.cli" or m.startswith("vita.cli.") for m in _imports(path, name, False))]
    assert offenders == []
