"""The summary as a terminal table (rich), in the spirit of Keras' model.summary() and torchinfo."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from archspec.analysis.summary import Summary, format_bytes, format_count, format_macs, summarize
from archspec.graph.ir import Graph


def summary_table(summary: Summary) -> Table:
    table = Table(title=f"{summary.name}", title_justify="left", header_style="bold", show_lines=False,
                  pad_edge=False, box=None)
    table.add_column("layer", no_wrap=True)
    table.add_column("op", no_wrap=True)
    table.add_column("output shape", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_row("input", "input", str(list(summary.input_shape)), "", "")
    for row in summary.rows:
        indent = "  " * row.depth
        style = "bold" if row.group else ""
        local = row.name.rsplit(".", 1)[-1] if row.depth else row.name
        table.add_row(
            Text(indent + local, style=style),
            Text(row.op, style="cyan" if not row.group else "bold cyan"),
            str(list(row.output_shape)),
            format_count(row.params) if row.params else ("0" if not row.group else ""),
            format_macs(row.macs) if row.macs else "",
        )
    return table


def totals_lines(summary: Summary) -> list[str]:
    return [
        f"layers: {summary.layer_count}",
        f"params: {format_count(summary.params)} (trainable {format_count(summary.trainable_params)})",
        f"MACs: {format_count(summary.macs)} ({format_macs(summary.macs)})",
        f"parameter memory (float32): {format_bytes(summary.parameter_bytes)}",
        f"activation memory, batch 1 (float32): {format_bytes(summary.activation_bytes)}",
        f"input {list(summary.input_shape)} -> output {list(summary.output_shape)}",
    ]


def print_summary(graph: Graph, depth: int | None = None, console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    summary = summarize(graph, depth)
    console.print(summary_table(summary))
    console.print()
    for line in totals_lines(summary):
        console.print(line)
