"""Print the package's import graph: layers, imports running back up, and circles.

    python tools/import_graph.py [--verbose]

Units are the top-level modules and subpackages of `tempest_sdk`. Every import counts,
including those inside functions and under `TYPE_CHECKING`: a circle that only type
checking sees is still two rooms that know each other. An import "runs back up" when
it goes from a unit to one that (transitively) imports it; circles are the strongly
connected groups of files.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tempest_sdk"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, modules: Collection[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("tempest_sdk"):
                continue
            for alias in node.names:
                # `from pkg import module` depends on the module, not on what
                # `pkg/__init__` imports: a parent package is always run first
                # anyway, and counting it would make every such import a circle.
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tempest_sdk"))
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def main() -> None:
    verbose = "--verbose" in sys.argv
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in files.items():
        graph[name]
        for target in imports_of(path, name, files):
            if target in files and target != name:
                graph[name].add(target)

    def unit(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:2])

    units: dict[str, set[str]] = defaultdict(set)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, targets in graph.items():
        units[unit(name)]
        for target in targets:
            a, b = unit(name), unit(target)
            if a != b and not (a == "tempest_sdk" or name.endswith("__init__")):
                units[a].add(b)
                edges[a, b].append(f"{name} -> {target}")
    # The package's own __init__ re-exports everything: it is the top, not a room.
    units.pop("tempest_sdk", None)
    for targets in units.values():
        targets.discard("tempest_sdk")

    unit_groups = [g for g in strongly_connected(units) if len(g) > 1]
    back_up = [
        line
        for group in unit_groups
        for a in group
        for b in group
        if (a, b) in edges
        for line in edges[a, b]
    ]
    depth: dict[str, int] = {}

    def layer(u: str, seen: frozenset[str] = frozenset()) -> int:
        if u in depth:
            return depth[u]
        below = [layer(t, seen | {u}) for t in units[u] if t not in seen]
        depth[u] = 1 + max(below, default=0)
        return depth[u]

    for u in units:
        layer(u)
    circles = [g for g in strongly_connected(graph) if len(g) > 1]
    print(f"units (modules or packages): {len(units)} on {max(depth.values())} layers")
    print(f"imports running back up: {len(back_up)}")
    for line in back_up:
        print(f"  {line}")
    print(f"circles among files: {len(circles)}")
    for group in circles:
        print(f"  {len(group)} files: {', '.join(group)}")
    if verbose:
        for u in sorted(units, key=lambda u: (depth[u], u)):
            print(f"  layer {depth[u]:2}: {u} -> {', '.join(sorted(units[u])) or '-'}")


if __name__ == "__main__":
    main()
