"""The summary of an analysed graph: per-layer shapes, parameters and MACs, with totals.

Rows follow the scope tree (:func:`archspec.graph.rows.tree_rows`): a block call or a named repeat
is a group row whose figures are the sums of what it contains, and ``depth`` folds everything deeper
into its group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archspec.graph.ir import Graph
from archspec.graph.rows import Row, tree_rows
from archspec.graph.rows import format_macs as format_macs  # re-exported: the summary's tables format with it
from archspec.ops.base import Shape, volume

BYTES_PER_VALUE = 4
"""float32: parameter and activation memory are reported for single precision."""


SummaryRow = Row
"""A row of the summary table (see :class:`archspec.graph.rows.Row`)."""


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
    rows = tree_rows(graph, depth)
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
        rows=rows,
        layer_count=len(graph.layers),
        outputs=output_summaries(graph),
    )


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


def format_bytes(value: int) -> str:
    return f"{value / 1e6:,.2f} MB"
