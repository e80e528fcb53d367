"""The graph as rows of a table that follows the scope tree: what ``archspec summary`` prints and what
notebooks and web pages show (:mod:`archspec.graph.html`).

A block call or a named repeat is a group row whose figures are the sums of what it holds, and
``depth`` folds everything deeper into its group.  A container (``up`` of ``up.0``) is no row: its
layers are rows of the scope around it, where they run.  It lives beside the IR so that the graph
layer can show itself without importing a layer above it.  Pure: graph in, rows out.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.graph.ir import Graph, Scope
from archspec.ops.base import Shape


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    """The op kind, or for a group: the block's name, ``repeat ×N``, ``shortcut``."""
    output_shape: Shape
    params: int
    macs: int
    depth: int
    """0 for top-level rows, 1 inside one scope, and so on."""
    group: bool = False
    """A scope (block call, repeat, iteration) rather than a single layer."""
    local: str = ""
    """The name under the row above it in the tree: ``conv1``, or ``up.0`` for a container's layer."""


def tree_rows(graph: Graph, depth: int | None = None) -> tuple[Row, ...]:
    """A row per layer and per scope around layers, in declaration order; scopes deeper than ``depth`` fold
    into their group's row."""
    rows: list[Row] = []
    emitted: set[str] = set()
    scopes = graph.scopes_by_path
    for node in graph.layers:
        chain = [path for path in _scope_chain(node.scope) if scopes[path].kind != "container"]
        for level, path in enumerate(chain):
            if depth is not None and level >= depth:
                break
            if path not in emitted:
                emitted.add(path)
                rows.append(_group_row(graph, scopes[path], level, _under(path, chain[level - 1] if level else "")))
        if depth is not None and len(chain) > depth:
            continue
        rows.append(Row(node.name, node.op, node.output_shape, node.parameters, node.macs, len(chain),
                        local=_under(node.name, chain[-1] if chain else "")))
    return tuple(rows)


def format_macs(value: int) -> str:
    """Multiply-accumulates scaled for a person: 15.47G, 4.09G, 416.52K, 999."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return str(value)


def _under(name: str, parent: str) -> str:
    return name[len(parent) + 1:] if parent else name


def _scope_chain(scope: str) -> list[str]:
    """The scopes around a node, outermost first."""
    if not scope:
        return []
    parts = scope.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _group_row(graph: Graph, scope: Scope, level: int, local: str) -> Row:
    inside = list(graph.nodes_in(scope.path))
    if scope.kind == "repeat":
        label = f"repeat ×{scope.count}"
    elif scope.block:
        label = scope.block
    else:
        label = scope.kind
    shape = inside[-1].output_shape if inside else ()
    return Row(scope.path, label, shape, sum(node.parameters for node in inside), sum(node.macs for node in inside),
               level, group=True, local=local)
