"""The shape of the package: dependencies point one way, down the pipeline, and no backend keeps its own
list of op kinds.

Every ``import`` of every module counts, at module level, inside functions and under
``TYPE_CHECKING`` alike: a function-level import is still a dependency, only a later one.  A
*unit* is a top-level module or package of archspec (``archspec.spec``, ``archspec.cli``), or one
backend (``archspec.backends.onnx``).  The units' graph must have no cycle, and the units named in
:data:`LAYERS` may only depend on units of a lower layer (or their own).  A unit not named there (a
new package) is held only to the no-cycle rule until it is given its layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import archspec
from archspec.ops.builtin import BUILTIN_OPS

PACKAGE = Path(archspec.__file__).resolve().parent

LAYERS: tuple[frozenset[str], ...] = tuple(frozenset(layer) for layer in (
    {"archspec.errors", "archspec.io", "archspec.version"},
    {"archspec.ops"},
    {"archspec.plugins"},
    {"archspec.spec"},
    {"archspec.graph"},
    {"archspec.analysis", "archspec.resources"},
    {"archspec.backends.diagram", "archspec.backends.onnx", "archspec.backends.torch"},
    {"archspec.backends.volumes"},
    {"archspec.backends.graphviz"},
    {"archspec.api"},
    {"archspec.integrations", "archspec.importers"},
    {"archspec"},
    {"archspec.cli", "archspec.sphinx"},
    {"archspec.console", "archspec.__main__"},
))
"""From the bottom up: what a layer may import is in the layers below it.  ``graphviz`` is above
``volumes`` because ``write_diagram(style="volumes")`` hands over to it; ``archspec.api`` resolves
names and paths and puts the backends together (build, compile, reset_parameters); ``archspec``
itself is the public API, which names the stages below it and which the command line uses."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "backends":
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def imported_modules(path: Path) -> Iterator[tuple[str, int]]:
    """Every archspec module ``path`` imports, anywhere in it, with the line."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "archspec" or target.startswith("archspec."):
                yield target, node.lineno


def unit_dependencies() -> dict[str, dict[str, str]]:
    """unit -> {unit it depends on: the first place that says so}."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(module_name(path))
        edges = graph.setdefault(source, {})
        for target, line in imported_modules(path):
            unit = unit_of(target)
            if unit != source:
                edges.setdefault(unit, f"{path.relative_to(PACKAGE.parent)}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = "open"
        stack.append(unit)
        for target in sorted(graph.get(unit, {})):
            if state.get(target) == "open":
                return [*stack[stack.index(target):], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[unit] = "done"
        return None

    for unit in sorted(graph):
        if unit not in state and (cycle := visit(unit)) is not None:
            return cycle
    return None


def layer_of(unit: str) -> int | None:
    return next((index for index, layer in enumerate(LAYERS) if unit in layer), None)


def test_the_walk_sees_every_kind_of_import() -> None:
    graph = unit_dependencies()
    assert "archspec.ops" in graph["archspec.graph"]  # module level
    assert "archspec.backends.volumes" in graph["archspec.backends.graphviz"]  # inside a function
    assert "archspec.version" in graph["archspec"]  # from archspec.version import __version__
    assert {unit for layer in LAYERS for unit in layer} <= set(graph), "LAYERS names a unit that no longer exists"


def test_units_have_no_import_cycle() -> None:
    graph = unit_dependencies()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between packages: " + " -> ".join(
        f"{unit} ({graph[unit][target]})" for unit, target in pairwise(cycle))


def test_dependencies_point_down_the_pipeline() -> None:
    upward = []
    for unit, targets in unit_dependencies().items():
        for target, where in targets.items():
            source_layer, target_layer = layer_of(unit), layer_of(target)
            if source_layer is not None and target_layer is not None and target_layer > source_layer:
                upward.append(f"{where}: {unit} imports {target}, which is above it")
    assert not upward, "\n".join(upward)


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": ""}, "b": {}, "c": {"a": "", "b": ""}}) is None


def test_no_backend_keeps_a_table_of_op_kinds() -> None:
    """What a backend needs to know about an op is an attribute or method of the op: no comparison of a
    node's ``op`` with a kind, and no collection literal that lists kinds."""
    kinds = {op.kind for op in BUILTIN_OPS}
    found = []
    for path in sorted((PACKAGE / "backends").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Compare) and any(_is_op_attribute(side) for side in [node.left, *node.comparators]):
                named = {text for side in [node.left, *node.comparators] for text in _strings(side)} & kinds
                if named:
                    found.append(f"{where}: compares a node's op with {sorted(named)}")
            elif isinstance(node, (ast.Dict, ast.Set, ast.List, ast.Tuple)):
                elements = node.keys if isinstance(node, ast.Dict) else node.elts
                named = {text for element in elements if element is not None for text in _strings(element)} & kinds
                if len(named) >= 2:
                    found.append(f"{where}: lists op kinds {sorted(named)}")
    assert not found, "\n".join(found)


def _is_op_attribute(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "op"


def _strings(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, (ast.Set, ast.List, ast.Tuple)):
        for element in node.elts:
            yield from _strings(element)
