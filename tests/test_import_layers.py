"""An arrow only points down: no import circle anywhere in sdk/ or adapters/.

The graph is built from the source's AST, not from what Python happened to import,
so every import counts: at module level, inside a function, and under
``TYPE_CHECKING``. A module imports what it names (``from a.b import c`` imports
``a.b``, or ``a.b.c`` when that is a module); a package importing its own submodules
is not a circle by itself. docs/explanation/architecture.md draws the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (
    ROOT / "sdk",
    ROOT / "adapters",
    ROOT / "examples" / "write_an_adapter" / "src",
)

Edge = tuple[str, str]
Graph = dict[str, set[str]]


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base in SOURCES:
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts:
                found[".".join(parts)] = path
    return found


def named(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names an import statement names, relative ones made absolute."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            base = package[: len(package) - node.level + 1]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        yield source
        yield from (f"{source}.{alias.name}" for alias in node.names)


def import_graph() -> Graph:
    found = modules()
    graph: Graph = {}
    for module, path in found.items():
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for name in named(node, module, path.name == "__init__.py"):
                parts = name.split(".")
                while parts and ".".join(parts) not in found:
                    parts.pop()  # an attribute of a module, not a module
                target = ".".join(parts)
                # Importing one's own submodule (a package re-exporting) is no circle.
                if target and target != module and not target.startswith(module + "."):
                    targets.add(target)
        graph[module] = targets
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """One shortest circle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_shortest_circle(graph, group) for group in groups]


def _shortest_circle(graph: Graph, group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:
        module = todo.pop(0)
        for target in sorted(graph[module] & group):
            if target == start:
                return [*paths[module], start]
            if target not in paths:
                paths[target] = [*paths[module], target]
                todo.append(target)
    raise AssertionError(f"no circle through {start}")  # pragma: no cover - a group has one


def test_no_import_circle_in_sdk_or_adapters() -> None:
    found = circles(import_graph())
    assert found == [], "import circles (an arrow must only point down):\n" + "\n".join(
        " -> ".join(circle) for circle in found
    )


def test_the_graph_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    # The circle model <-> explain hid behind an import inside a method; this one
    # hides behind TYPE_CHECKING. Both must count.
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gongji.rules.quote import Quote\n"
        "def f():\n    from gongji.flows import settle\n"
    )
    module = ast.parse(source)
    seen = {name for node in ast.walk(module) for name in named(node, "gongji.model", False)}
    assert {"gongji.rules.quote", "gongji.flows", "gongji.flows.settle"} <= seen
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]
