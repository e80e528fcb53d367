"""The summary as a text table, in the spirit of Keras' model.summary() and torchinfo.

Plain aligned columns, formatted directly: a ResNet-152 summary has 500+ rows, and a table
library's layout engine costs more than the whole analysis.  Group rows (blocks, repeats) are
bold on a terminal, unless NO_COLOR is set.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from archspec.analysis.summary import (
    Summary,
    format_bytes,
    format_count,
    format_macs,
    outputs_text,
    summarize,
)
from archspec.graph.ir import Graph

HEADER = ("layer", "op", "output shape", "params", "MACs")
RIGHT_ALIGNED = (False, False, False, True, True)
BOLD, RESET = "\033[1m", "\033[0m"


def summary_rows(summary: Summary) -> list[tuple[tuple[str, ...], bool]]:
    """Each row's five cells, and whether it is a group (a block or repeat) row."""
    rows: list[tuple[tuple[str, ...], bool]] = [(("input", "input", str(list(summary.input_shape)), "", ""), False)]
    for row in summary.rows:
        local = row.local or row.name
        params = format_count(row.params) if row.params else ("" if row.group else "0")
        cells = ("  " * row.depth + local, row.op, str(list(row.output_shape)), params,
                 format_macs(row.macs) if row.macs else "")
        rows.append((cells, row.group))
    return rows


def summary_table(summary: Summary, *, bold: bool = False) -> str:
    """The table's text: a title line, a header, a rule, one line per row."""
    rows = summary_rows(summary)
    widths = [max(len(HEADER[i]), *(len(cells[i]) for cells, _ in rows)) for i in range(len(HEADER))]

    def line(cells: tuple[str, ...]) -> str:
        parts = [cell.rjust(width) if right else cell.ljust(width)
                 for cell, width, right in zip(cells, widths, RIGHT_ALIGNED, strict=True)]
        return "  ".join(parts).rstrip()

    lines = [summary.name, line(HEADER), "─" * (sum(widths) + 2 * (len(widths) - 1))]
    for cells, group in rows:
        text = line(cells)
        lines.append(f"{BOLD}{text}{RESET}" if bold and group else text)
    return "\n".join(lines)


def totals_lines(summary: Summary) -> list[str]:
    return [
        f"layers: {summary.layer_count}",
        f"params: {format_count(summary.params)} (trainable {format_count(summary.trainable_params)})",
        f"MACs: {format_count(summary.macs)} ({format_macs(summary.macs)})",
        f"parameter memory (float32): {format_bytes(summary.parameter_bytes)}",
        f"activation memory, batch 1 (float32): {format_bytes(summary.activation_bytes)}",
        f"input {list(summary.input_shape)} -> " + (
            f"outputs {outputs_text(summary.outputs, lambda shape: str(list(shape)))}" if summary.outputs
            else f"output {list(summary.output_shape)}"),
    ]


def print_summary(graph: Graph, depth: int | None = None, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    bold = stream.isatty() and "NO_COLOR" not in os.environ
    summary = summarize(graph, depth)
    stream.write(summary_table(summary, bold=bold) + "\n\n" + "\n".join(totals_lines(summary)) + "\n")
