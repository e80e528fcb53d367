"""The summary of an analysed graph: per-layer shapes, parameters and MACs, with totals.

Rows follow the scope tree: a block call or a named repeat is a group row whose figures are
the sums of what it contains, and ``depth`` folds everything deeper into its group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archspec.graph.ir import Graph, Scope
from archspec.ops.base import Shape, volume

BYTES_PER_VALUE = 4
"""float32: parameter and activation memory are reported for single precision."""


@dataclass(frozen=True)
class SummaryRow:
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


@dataclass(frozen=True)
class Summary:
    name: str
    input_shape: Shape
    output_shape: Shape
    params: int
    trainable_params: int
    macs: int
    parameter_bytes: int
    activation_bytes: int
    """Every layer's output for one sample (batch 1), float32, the input included."""
    rows: tuple[SummaryRow, ...]
    layer_count: int
    outputs: tuple[OutputSummary, ...] = ()
    """Every output, the main one first, where the spec names several (``outputs:``); else ()."""


@dataclass(frozen=True)
class OutputSummary:
    name: str
    layer: str
    shape: Shape
    training_only: bool


def output_summaries(graph: Graph) -> tuple[OutputSummary, ...]:
    """The outputs of a network that names several; () for one, whose summary stays as it was."""
    if not graph.several_outputs:
        return ()
    return tuple(OutputSummary(output.name, output.node, graph.node(output.node).output_shape, output.training_only)
                 for output in graph.outputs)


def outputs_text(outputs: tuple[OutputSummary, ...], shape: Callable[[Shape], str]) -> str:
    """``logits [1000], aux_logits [1000] (training only)``: the outputs in one line."""
    return ", ".join(f"{output.name} {shape(output.shape)}" + (" (training only)" if output.training_only else "")
                     for output in outputs)


def summarize(graph: Graph, depth: int | None = None) -> Summary:
    """Summary rows and totals; ``depth`` folds scopes deeper than it into one row each."""
    rows: list[SummaryRow] = []
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
        rows.append(SummaryRow(node.name, node.op, node.output_shape, node.parameters, node.macs, len(chain),
                               local=_under(node.name, chain[-1] if chain else "")))
    params = graph.parameters
    return Summary(
        name=graph.name,
        input_shape=graph.input_shape,
        output_shape=graph.output_shape,
        params=params,
        trainable_params=params,
        macs=graph.macs,
        parameter_bytes=params * BYTES_PER_VALUE,
        activation_bytes=sum(volume(node.output_shape) for node in graph.nodes) * BYTES_PER_VALUE,
        rows=tuple(rows),
        layer_count=len(graph.layers),
        outputs=output_summaries(graph),
    )


def _under(name: str, parent: str) -> str:
    return name[len(parent) + 1:] if parent else name


def _scope_chain(scope: str) -> list[str]:
    """The scopes around a node, outermost first (containers are not rows: a container's layer, ``up.0``,
    is a row of the scope around the container, where it runs)."""
    if not scope:
        return []
    parts = scope.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _group_row(graph: Graph, scope: Scope, level: int, local: str) -> SummaryRow:
    inside = list(graph.nodes_in(scope.path))
    params = sum(node.parameters for node in inside)
    macs = sum(node.macs for node in inside)
    shape = inside[-1].output_shape if inside else ()
    if scope.kind == "repeat":
        label = f"repeat ×{scope.count}"
    elif scope.block:
        label = scope.block
    else:
        label = scope.kind
    return SummaryRow(scope.path, label, shape, params, macs, level, group=True, local=local)


def summary_json(graph: Graph) -> dict[str, Any]:
    """The machine-readable summary: one JSON object, shapes without the batch dimension."""
    several = {"outputs": [{"name": output.name, "layer": output.layer, "output_shape": list(output.shape),
                            "training_only": output.training_only} for output in output_summaries(graph)]}
    return {
        "name": graph.name,
        "input_shape": list(graph.input_shape),
        "output_shape": list(graph.output_shape),
        **(several if graph.several_outputs else {}),
        "params": graph.parameters,
        "macs": graph.macs,
        "layers": [
            {
                "name": node.name,
                "op": node.op,
                "output_shape": list(node.output_shape),
                "params": node.parameters,
                "macs": node.macs,
            }
            for node in graph.layers
        ],
    }


def format_count(value: int) -> str:
    return f"{value:,}"


def format_macs(value: int) -> str:
    """Human-scaled multiply-accumulates: 15.47G, 4.09G, 416.5K."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return str(value)


def format_bytes(value: int) -> str:
    return f"{value / 1e6:,.2f} MB"
