"""The import graph of Quorum's own modules runs one way: foundations at the bottom, shells on
top, and no module imports one that (directly or not) imports it back.

Layers, lowest first: ``core`` (settings, errors) < ``index`` < ``rag`` < ``eval`` and ``web``
< the shells ``quorum`` (the CLI), ``app.py`` and ``bench``. A module may import from its own
package or from a lower layer, never from its own layer's other packages or from above. Lazy
imports inside functions count: they are part of the design too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from core.settings import PROJECT_ROOT

LAYERS = {
    "core": 0,
    "index": 1,
    "rag": 2,
    "eval": 3,
    "web": 3,
    "quorum": 4,
    "app": 4,
    "bench": 4,
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    found = {}
    for top in LAYERS:
        if (root / f"{top}.py").is_file():
            found[top] = root / f"{top}.py"
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []:
            found[module_name(path, root)] = path
    return found


def imported(path: Path, name: str, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(part for part in [*anchor, base] if part)
            targets = [base] + [f"{base}.{a.name}" if base else a.name for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules}
    return found - {name}


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imported(path, name, set(modules)) for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports into another package of the same or a higher layer."""
    wrong = []
    for source, targets in graph.items():
        top = source.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != top and LAYERS[other] >= LAYERS[top]:
                wrong.append(f"{source} imports {target}")
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_runs_up_the_layers():
    graph = import_graph(PROJECT_ROOT)
    assert len(graph) > 40, "the walk found too few modules to be the project"
    assert upward_imports(graph) == []


def test_no_import_circle():
    assert cycles(import_graph(PROJECT_ROOT)) == []


def test_the_checks_catch_a_circle_and_an_upward_import(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "a.py").write_text("import core.b\nfrom index import thing\n")
    (tmp_path / "core" / "b.py").write_text("from core import a\n")
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "__init__.py").write_text("")
    (tmp_path / "index" / "thing.py").write_text("from . import other\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["core.a", "core.b"]]
    assert upward_imports(graph) == ["core.a imports index", "core.a imports index.thing"]
