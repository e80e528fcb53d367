"""The analysed graph as an HTML table, for notebooks (``Graph._repr_html_``) and web pages.

It lives beside the IR, not in :mod:`archspec.analysis`, so that showing a graph in Jupyter never
makes the graph layer import a layer above it: the rows are read straight off the immutable
graph (nodes, scopes, counts already computed), with blocks and named repeats folded into one
row each below ``depth``, as ``archspec summary --depth`` folds them.  Pure: text in, text out.
"""

from __future__ import annotations

from html import escape

from archspec.graph.ir import Graph, Scope

STYLE = ("<style>.archspec-summary td.n{text-align:right;font-variant-numeric:tabular-nums}"
         ".archspec-summary tr.group td{font-weight:bold}"
         ".archspec-summary td,.archspec-summary th{padding:1px 8px}</style>")


def summary_html(graph: Graph, depth: int | None = 1) -> str:
    """A ``<table>``: one row per layer (name, op, output shape, params, MACs) and the totals.

    Scopes (block calls, named repeats, iterations) deeper than ``depth`` fold into their
    enclosing scope's row, which carries the sums of what it holds; ``None`` shows every layer.
    """
    rows = ["<tr><td>input</td><td>input</td><td>" + _shape(graph.input_shape) + "</td><td></td><td></td></tr>"]
    shown: set[str] = set()
    for node in graph.layers:
        chain = _scope_chain(node.scope)
        for level, path in enumerate(chain):
            if depth is not None and level >= depth:
                break
            if path not in shown:
                shown.add(path)
                rows.append(_group_row(graph, graph.scope(path), level))
        if depth is None or len(chain) <= depth:
            rows.append(_row(node.local_name if chain else node.name, node.op, node.output_shape, node.parameters,
                             node.macs, len(chain)))
    totals = (f"{len(graph.layers)} layers · {graph.parameters:,} parameters · {format_macs(graph.macs)} MACs · "
              f"input {_shape(graph.input_shape)} → {_outputs(graph)}")
    return (f'<div class="archspec-summary">{STYLE}<table>'
            f"<caption style=\"caption-side:top;text-align:left\"><b>{escape(graph.name)}</b></caption>"
            "<thead><tr><th>layer</th><th>op</th><th>output shape</th><th>params</th><th>MACs</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody>"
            f'<tfoot><tr><td colspan="5">{escape(totals)}</td></tr></tfoot></table></div>')


def format_macs(value: int) -> str:
    """Multiply-accumulates scaled for a person: 4.09G, 416.50K, 12."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return str(value)


def _scope_chain(scope: str) -> list[str]:
    parts = scope.split(".") if scope else []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _group_row(graph: Graph, scope: Scope, level: int) -> str:
    inside = list(graph.nodes_in(scope.path))
    label = f"repeat ×{scope.count}" if scope.kind == "repeat" else (scope.block or scope.kind)
    shape = inside[-1].output_shape if inside else ()
    name = scope.local_name if level else scope.path
    return _row(name, label, shape, sum(n.parameters for n in inside), sum(n.macs for n in inside), level,
                group=True)


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
