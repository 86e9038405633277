"""Import cycles among deepsight_pytest's modules, from the static import graph (``ast``; nothing is imported).

An edge A -> B is an import statement in A that names B: ``import x.y`` names ``x.y``; ``from x import y``
names the module ``x.y`` when that file exists, else ``x`` (grimp's rule, the one import-linter uses).
Parent packages are not added implicitly: Python has begun importing them before the child runs.

Two graphs are checked, and each cycle is printed once (its strongly connected component, then one
shortest loop through it):

* **module level** (the default, what ``tests/test_import_cycles.py`` asserts is acyclic): imports
  that run when the module is imported -- top-level statements, including those under a top-level
  ``if``/``try``, except ``if TYPE_CHECKING:`` blocks (they never run);
* **with lazy imports** (``--lazy``): function-level imports added. Those run only on call, after
  every module has loaded, so a cycle through one cannot fail at import time; listed for reading.

Usage::

    python bench/import_cycles.py [--lazy] [PACKAGE_DIR]     # default: deepsight_pytest beside bench/

Exit status 1 when the module-level graph has a cycle (``--lazy``: either graph), else 0.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    base = package_dir.parent
    names: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


KINDS = ("module", "typing", "lazy")


def _imports(tree: ast.Module) -> dict[str, list[ast.stmt]]:
    """Import statements by kind: module level, under ``if TYPE_CHECKING:``, inside functions."""
    found: dict[str, list[ast.stmt]] = {kind: [] for kind in KINDS}

    def walk(body: list[ast.stmt], kind: str) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found[kind].append(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(node.body, "lazy")
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                walk(node.body, "typing" if kind == "module" else kind)
                walk(node.orelse, kind)
            elif isinstance(node, ast.ClassDef):
                walk(node.body, kind)
            else:   # if / try / with / for / while at this level: their blocks run at this level too
                for field in ("body", "orelse", "finalbody"):
                    block = getattr(node, field, None)
                    if isinstance(block, list):
                        walk(block, kind)
                for handler in getattr(node, "handlers", []):
                    walk(handler.body, kind)

    walk(tree.body, "module")
    return found


def _targets(node: ast.stmt, module: str, is_package: bool, known: dict[str, Path]) -> set[str]:
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            found.add(alias.name)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            parts = module.split(".")
            keep = len(parts) - node.level + (1 if is_package else 0)
            base = ".".join(parts[:keep] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            child = f"{base}.{alias.name}"
            found.add(child if child in known else base)
    resolved = set()
    for name in found:
        while name and name not in known:   # `import a.b.c` of a non-module attribute: its nearest module
            name = name.rpartition(".")[0]
        if name and name != module:
            resolved.add(name)
    return resolved


def import_graph(package_dir: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, set[str]]:
    """Module -> the package modules it imports, counting the import statements of the given kinds."""
    known = module_names(package_dir)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        statements = _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        edges: set[str] = set()
        for kind in kinds:
            for node in statements[kind]:
                edges |= _targets(node, module, path.name == "__init__.py", known)
        graph[module] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (or a self-loop), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:   # iterative, so a deep graph cannot hit the recursion limit
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def shortest_loop(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest import loop through the component's first module (breadth-first inside it)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & members):
            if child == start:
                loop = [node]
                while loop[-1] != start:
                    loop.append(parents[loop[-1]])
                return [*reversed(loop), start]
            if child not in parents:
                parents[child] = node
                queue.append(child)
    return [start]


def report(graph: dict[str, set[str]], title: str) -> int:
    components = strongly_connected(graph)
    print(f"{title}: {len(graph)} modules, {sum(map(len, graph.values()))} imports, "
          f"{len(components)} cycle(s)")
    for component in components:
        print(f"  cycle among {len(component)}: {', '.join(component)}")
        print(f"    e.g. {' -> '.join(shortest_loop(graph, component))}")
    return len(components)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", type=Path, default=ROOT / "deepsight_pytest")
    args = parser.parse_args(argv)
    report(import_graph(args.package, ("module",)), "module-level imports")
    report(import_graph(args.package, ("module", "typing")), "with TYPE_CHECKING imports")
    cycles = report(import_graph(args.package), "with function-level (lazy) imports too")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
