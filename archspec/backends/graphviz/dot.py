"""Writing a :class:`DiagramView` as Graphviz DOT source, with the ``graphviz`` package.

Everything here is presentation: labels, colours, cluster frames and edge styles.  What is drawn
was decided in :mod:`archspec.backends.diagram.view`.  The output depends only on the graph and
the options, so the same spec always gives byte-identical DOT.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from archspec.backends.diagram import theme
from archspec.backends.diagram.view import (
    Box,
    Cluster,
    DiagramView,
    check_options,
    cluster_note,
    collapsed_description,
    diagram_view,
    drawn_as_symbol,
)
from archspec.graph.ir import INPUT, Graph

if TYPE_CHECKING:
    import graphviz

CIRCLED = {"+": "⊕", "-": "⊖", "×": "⊗", "*": "⊛"}


def diagram_dot(graph: Graph, *, rankdir: str = "TB", expand: bool = False, depth: int | None = None,
                show_params: bool = False) -> str:
    """The diagram of ``graph`` as DOT source.

    Repeated identical blocks are folded into one cluster labelled ``×N`` and pointwise layers
    are drawn inside the box of the layer they follow, unless ``expand``; scopes deeper than
    ``depth`` are collapsed into one box each; ``show_params`` adds parameter counts.
    """
    check_options(rankdir, depth)
    view = diagram_view(graph, expand=expand, depth=depth)
    return view_dot(view, rankdir=rankdir, show_params=show_params).source


def view_dot(view: DiagramView, *, rankdir: str = "TB", show_params: bool = False) -> graphviz.Digraph:
    import graphviz

    graph = view.graph
    dot = graphviz.Digraph(
        name=graph.name,
        graph_attr={
            "rankdir": rankdir, "fontname": theme.FONT, "fontcolor": theme.TEXT_COLOR, "labelloc": "t",
            "nodesep": "0.22", "ranksep": "0.28", "newrank": "true", "bgcolor": "white", "pad": "0.2",
            "label": _title(view),
        },
        node_attr={
            "shape": "box", "style": "rounded,filled", "fontname": theme.FONT, "fontsize": "11",
            "fontcolor": theme.TEXT_COLOR, "penwidth": "1.2", "margin": "0.10,0.05",
        },
        edge_attr={
            "fontname": theme.FONT, "fontsize": "8", "fontcolor": theme.MUTED_COLOR, "color": theme.EDGE_COLOR,
            "arrowsize": "0.6", "penwidth": "1.1",
        },
    )
    children = view.children()

    def emit(target: graphviz.Digraph, cluster_id: str) -> None:
        for item in children[cluster_id]:
            if isinstance(item, Box):
                _box(target, view, item, show_params)
                continue
            with target.subgraph(name=f"cluster_{item.id}") as sub:
                sub.attr(**_cluster_attributes(view, item, show_params, rankdir))
                emit(sub, item.id)

    emit(dot, "")
    for branches in _branch_heads(view):
        with dot.subgraph() as rank:
            rank.attr(rank="same")
            for box_id in branches:
                rank.node(box_id)
    for edge in view.edges:
        attributes = {"label": f" {theme.volume_text(edge.shape)} "}
        if edge.skip:
            attributes.update(style="dashed", color=theme.SKIP_COLOR, fontcolor=theme.SKIP_COLOR, weight="1")
        else:
            attributes["weight"] = "4"
        dot.edge(edge.source, edge.target, **attributes)
    if graph.several_outputs:
        _outputs(dot, view)
    return dot


def _outputs(dot: graphviz.Digraph, view: DiagramView) -> None:
    """Where a network has several outputs, each is a small terminal named after it; a training-only one is dashed."""
    for output in view.graph.outputs:
        box_id = view.box_of[view.folding.representative(output.node)]
        shape = theme.volume_text(view.graph.node(output.node).image_shape)
        note = "<BR/><FONT POINT-SIZE=\"9\">training only</FONT>" if output.training_only else ""
        style = {"style": "dashed,rounded"} if output.training_only else {"style": "rounded"}
        node_id = f"output@{output.name}"  # ":" would name a port
        dot.node(node_id, label=f"<<B>{escape(output.name)}</B> {escape(shape)}{note}>", color=theme.TEXT_COLOR,
                 fillcolor="white", tooltip=f"output {output.name}: {output.node}", **style)
        dot.edge(box_id, node_id, **({"style": "dashed"} if output.training_only else {}), weight="4")


def _branch_heads(view: DiagramView) -> list[list[str]]:
    """Groups of boxes that start parallel branches from one tensor, to be drawn side by side."""
    boxes = {box.id: box for box in view.boxes}
    starts: dict[str, list[str]] = {}
    for edge in view.edges:
        target = boxes[edge.target]
        if not edge.skip and target.scope is None and target.head.definition.family != "join":
            starts.setdefault(edge.source, []).append(edge.target)
    return [targets for targets in starts.values() if len(targets) > 1]


# -- boxes ----------------------------------------------------------------------------------------

def _box(target: graphviz.Digraph, view: DiagramView, box: Box, show_params: bool) -> None:
    head = box.head
    name = _shown_name(view, box)
    tooltip = ", ".join(view.folding.display_name(node.name) for node in box.nodes)
    if box.scope is not None:
        style = theme.BLOCK_STYLE
        lines = [collapsed_description(view, box)]
        target.node(box.id, _label(name, lines, box, show_params), fillcolor=style.fill, color=style.border,
                    shape="box3d", style="filled", margin="0.12,0.08", tooltip=view.folding.display_name(box.id))
        return
    if head.op == INPUT:
        style = theme.INPUT_STYLE
        target.node(box.id, _label(None, ["input"], box, show_params), fillcolor=style.fill, color=style.border,
                    tooltip=tooltip)
        return
    family = head.definition.family
    style = theme.family_style(family)
    if drawn_as_symbol(head):
        _join(target, box, tooltip)
        return
    lines = [head.label]
    if len(box.nodes) > 1:
        lines.append(" · ".join(node.label for node in box.nodes[1:]))
    extra = {"style": "rounded,filled,dashed"} if box.shortcut else {}
    target.node(box.id, _label(name, lines, box, show_params), fillcolor=style.fill, color=style.border,
                tooltip=tooltip, **extra)


def _join(target: graphviz.Digraph, box: Box, tooltip: str) -> None:
    """A sum (or another symbol-labelled join) as ⊕; the activation after it, if fused, beside the symbol."""
    style = theme.family_style("join")
    symbol = CIRCLED.get(box.head.label, box.head.label)
    if len(box.nodes) == 1:
        target.node(box.id, escape(box.head.label), shape="circle", fixedsize="true", width="0.3", fontsize="16",
                    fillcolor=style.fill, color=style.border, tooltip=tooltip, margin="0")
        return
    followers = " · ".join(node.label for node in box.nodes[1:])
    label = f'<<FONT POINT-SIZE="16">{escape(symbol)}</FONT> <B>{escape(followers)}</B>>'
    follower_style = theme.family_style(box.nodes[1].definition.family)
    target.node(box.id, label, fillcolor=follower_style.fill, color=follower_style.border, tooltip=tooltip,
                margin="0.08,0.02", height="0.3")


def _label(name: str | None, lines: list[str], box: Box, show_params: bool) -> str:
    """An HTML-like label: the name (small), the op in bold, fused layers, the output volume, parameters."""
    rows = []
    if name:
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{theme.MUTED_COLOR}">{escape(name)}</FONT>')
    rows.append(f"<B>{escape(lines[0])}</B>")
    rows.extend(f'<FONT POINT-SIZE="9">{escape(line)}</FONT>' for line in lines[1:])
    rows.append(escape(theme.volume_text(box.output_shape)))
    if show_params and box.parameters:
        each = " each" if box.run is not None and box.run.folded and box.run.uniform_parameters else ""
        rows.append(f'<FONT POINT-SIZE="9" COLOR="{theme.MUTED_COLOR}">'
                    f"{theme.count_text(box.parameters)} params{each}</FONT>")
    body = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


def _shown_name(view: DiagramView, box: Box) -> str:
    """The box's name relative to its cluster (the cluster's label gives the rest)."""
    name = view.folding.display_name(box.id)
    if box.cluster and box.scope is None:
        prefix = view.folding.display_name(view.cluster(box.cluster).prefix) + "."
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


# -- clusters -------------------------------------------------------------------------------------

def _cluster_attributes(view: DiagramView, cluster: Cluster, show_params: bool, rankdir: str) -> dict[str, str]:
    scope = cluster.scope
    run = cluster.run if cluster.run is not None and cluster.run.folded else None
    note = cluster_note(view, cluster)
    if show_params:
        total = sum(node.parameters for node in view.graph.nodes_in(run.representative if run else scope.path))
        if run is not None and run.uniform_parameters:
            note += f" · {theme.count_text(total)} params each"
        elif run is not None:
            total = sum(run.parameters)
            note += f" · {theme.count_text(total)} params in all"
        elif total:
            note += f" · {theme.count_text(total)} params"
    label = f"<B>{escape(view.folding.display_name(cluster.id))}</B>"
    if run is not None:
        label += f'  <FONT POINT-SIZE="13"><B>×{run.count}</B></FONT>'
        if run.span:
            label += f'<FONT POINT-SIZE="10" COLOR="{theme.MUTED_COLOR}">, {escape(run.span)}</FONT>'
    if note:
        # Across the flow, a second line keeps the title clear of the edge entering the cluster.
        separator = '<BR ALIGN="LEFT"/>' if rankdir in ("TB", "BT") else "  "
        label += f'{separator}<FONT POINT-SIZE="10" COLOR="{theme.MUTED_COLOR}">{escape(note.strip(" ·"))}</FONT>'
        if separator != "  ":
            label += '<BR ALIGN="LEFT"/>'
    return {
        "label": f"<{label}>", "labeljust": "l", "fontsize": "11", "style": "rounded,filled",
        "fillcolor": theme.RUN_FILL if run is not None else theme.CLUSTER_FILL, "color": theme.CLUSTER_BORDER,
        "penwidth": "1", "margin": "8",
    }


# -- title and legend -----------------------------------------------------------------------------

def _title(view: DiagramView) -> str:
    graph = view.graph
    facts = [f"input {theme.volume_text(graph.input_shape)}", f"{graph.parameters:,} parameters"]
    families: set[str] = set()
    collapsed = False
    for box in view.boxes:
        if box.scope is not None:
            collapsed = True
            continue
        families.update(theme.legend_family(node.definition.family) for node in box.nodes if node.op != INPUT)
    cells = []
    for family in theme.FAMILY_ORDER:
        if family in families:
            style = theme.FAMILY_STYLES[family]
            cells.append(f'<TD BGCOLOR="{style.fill}" COLOR="{style.border}" BORDER="1" STYLE="rounded">'
                         f'<FONT POINT-SIZE="9">{escape(style.title)}</FONT></TD>')
    if collapsed:
        style = theme.BLOCK_STYLE
        cells.append(f'<TD BGCOLOR="{style.fill}" COLOR="{style.border}" BORDER="1">'
                     f'<FONT POINT-SIZE="9">{escape(style.title)}</FONT></TD>')
    if any(edge.skip for edge in view.edges):
        cells.append(f'<TD><FONT POINT-SIZE="9" COLOR="{theme.SKIP_COLOR}">- - shortcut</FONT></TD>')
    width = max(len(cells), 1)
    rows = [
        f'<TR><TD COLSPAN="{width}"><FONT POINT-SIZE="16"><B>{escape(graph.name)}</B></FONT></TD></TR>',
        f'<TR><TD COLSPAN="{width}"><FONT POINT-SIZE="10" COLOR="{theme.MUTED_COLOR}">'
        f'{escape(" · ".join(facts))}</FONT></TD></TR>',
        "<TR>" + "".join(cells) + "</TR>" if cells else "",
    ]
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="3">{"".join(rows)}</TABLE>>'
