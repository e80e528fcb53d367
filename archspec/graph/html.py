"""The analysed graph as an HTML table, for notebooks (``Graph._repr_html_``) and web pages.

It lives beside the IR, not in :mod:`archspec.analysis`, so that showing a graph in Jupyter never
makes the graph layer import a layer above it: the rows are read straight off the immutable
graph by :func:`archspec.graph.rows.tree_rows`, the rows ``archspec summary`` prints, with blocks and
named repeats folded into one row each below ``depth``.  Pure: text in, text out.
"""

from __future__ import annotations

from html import escape

from archspec.graph.ir import Graph
from archspec.graph.rows import format_macs, tree_rows

STYLE = ("<style>.archspec-summary td.n{text-align:right;font-variant-numeric:tabular-nums}"
         ".archspec-summary tr.group td{font-weight:bold}"
         ".archspec-summary td,.archspec-summary th{padding:1px 8px}</style>")


def summary_html(graph: Graph, depth: int | None = 1) -> str:
    """A ``<table>``: one row per layer (name, op, output shape, params, MACs) and the totals.

    Scopes (block calls, named repeats, iterations) deeper than ``depth`` fold into their
    enclosing scope's row, which carries the sums of what it holds; ``None`` shows every layer.
    """
    rows = ["<tr><td>input</td><td>input</td><td>" + _shape(graph.input_shape) + "</td><td></td><td></td></tr>"]
    rows += [_row(row.local or row.name, row.op, row.output_shape, row.params, row.macs, row.depth, row.group)
             for row in tree_rows(graph, depth)]
    totals = (f"{len(graph.layers)} layers · {graph.parameters:,} parameters · {format_macs(graph.macs)} MACs · "
              f"input {_shape(graph.input_shape)} → {_outputs(graph)}")
    return (f'<div class="archspec-summary">{STYLE}<table>'
            f"<caption style=\"caption-side:top;text-align:left\"><b>{escape(graph.name)}</b></caption>"
            "<thead><tr><th>layer</th><th>op</th><th>output shape</th><th>params</th><th>MACs</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody>"
            f'<tfoot><tr><td colspan="5">{escape(totals)}</td></tr></tfoot></table></div>')


def _row(name: str, op: str, shape: tuple[int, ...], params: int, macs: int, level: int, group: bool = False) -> str:
    indent = "&nbsp;&nbsp;" * level
    opening = '<tr class="group">' if group else "<tr>"
    return (f"{opening}<td>{indent}{escape(name)}</td><td>{escape(op)}</td>"
            f"<td>{_shape(shape)}</td><td class=\"n\">{f'{params:,}' if params or not group else ''}</td>"
            f"<td class=\"n\">{format_macs(macs) if macs else ''}</td></tr>")


def _shape(shape: tuple[int, ...]) -> str:
    return escape(str(list(shape)))


def _outputs(graph: Graph) -> str:
    if not graph.several_outputs:
        return f"output {_shape(graph.output_shape)}"
    return "outputs " + ", ".join(
        f"{output.name} {_shape(graph.node(output.node).output_shape)}" + (" (training only)" if output.training_only
                                                                           else "")
        for output in graph.outputs)
