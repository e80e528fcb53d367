"""What a diagram draws: boxes, clusters and edges, decided from the IR and a :class:`Folding`.

A box stands for one layer (plus the pointwise layers that follow it, fused in: ``conv`` then
``batch norm`` then ``ReLU`` is one box), or for a whole scope collapsed by ``depth``.  A
cluster is a block call, a repeat, or one run of identical iterations.  An edge joins two boxes,
carries the shape of the tensor on it, and is marked ``skip`` when it is a residual shortcut.
No DOT here: this is the plan that :mod:`archspec.backends.graphviz.dot` writes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from archspec.backends.diagram.folding import Folding, Run, fold
from archspec.errors import UsageError
from archspec.graph.ir import INPUT, Graph, Node, Scope
from archspec.ops.base import Shape

FUSED_FAMILIES = frozenset({"norm", "activation", "regularization"})
"""Pointwise layers drawn inside the box of the layer before them (unless ``expand``)."""

SYMBOL_LENGTH = 2
"""A join whose label is this short (``+``) is drawn as its symbol, ⊕, rather than as a box."""

CLUSTER_KINDS = frozenset({"block", "repeat", "iteration"})
"""Scopes drawn as clusters; a shortcut is drawn as its layers beside the main path."""


@dataclass(frozen=True)
class Box:
    """One drawn node."""

    id: str
    """A layer's name (the first of the layers it shows), or a collapsed scope's path."""
    nodes: tuple[Node, ...]
    cluster: str
    """The id of the innermost cluster it sits in ("" at the top level)."""
    scope: Scope | None = None
    """The collapsed scope it stands for, if it is one."""
    run: Run | None = None
    """For a collapsed iteration: the run of identical iterations it heads."""
    shortcut: bool = False
    """Whether it lies on a residual shortcut."""

    @property
    def head(self) -> Node:
        return self.nodes[0]

    @property
    def output_shape(self) -> Shape:
        """The shape drawn for the box's output: an image as ``[C, H, W]`` in either layout."""
        return self.nodes[-1].image_shape

    @property
    def parameters(self) -> int:
        return sum(node.parameters for node in self.nodes)


@dataclass(frozen=True)
class Cluster:
    """A group drawn around its boxes: a block call, a repeat, or a run of iterations.

    A repeat whose iterations are all alike is one cluster, not a repeat around a single run.
    """

    id: str
    """The scope's path (for a run: its first iteration's path)."""
    scope: Scope
    parent: str
    run: Run | None = None
    """The run of iterations it draws once (for a repeat whose iterations are all alike: that run)."""

    @property
    def prefix(self) -> str:
        """The path that names inside it are relative to: its own, or its single run's first iteration."""
        return self.run.representative if self.run is not None and self.scope.kind == "repeat" else self.id


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    shape: Shape
    """The shape of the tensor flowing along it (the source layer's output)."""
    skip: bool = False
    """A residual shortcut: drawn dashed, bypassing the main path."""


@dataclass(frozen=True)
class DiagramView:
    graph: Graph
    folding: Folding
    boxes: tuple[Box, ...]
    clusters: tuple[Cluster, ...]
    edges: tuple[Edge, ...]
    box_of: dict[str, str] = field(repr=False)
    """For every drawn layer, the id of its box (layers of hidden iterations are not in it)."""

    @cached_property
    def repeated_blocks(self) -> dict[str, str | None]:
        """Memo of :func:`repeated_block`: every iteration's cluster asks about its repeat."""
        return {}

    @cached_property
    def clusters_by_id(self) -> dict[str, Cluster]:
        return {cluster.id: cluster for cluster in self.clusters}

    def cluster(self, cluster_id: str) -> Cluster:
        return self.clusters_by_id[cluster_id]

    def children(self) -> dict[str, list[Box | Cluster]]:
        """Each cluster's boxes and sub-clusters in drawing order, keyed by cluster id ("" for the top)."""
        items: dict[str, list[Box | Cluster]] = {"": []}
        for cluster in self.clusters:
            items.setdefault(cluster.id, [])
        for box in self.boxes:
            items[box.cluster].append(box)
        for cluster in self.clusters:
            items[cluster.parent].append(cluster)
        order = {box.id: index for index, box in enumerate(self.boxes)}
        first_box = _first_boxes(self.clusters, self.boxes)

        def position(item: Box | Cluster) -> int:
            return order[item.id] if isinstance(item, Box) else first_box[item.id]

        for members in items.values():
            members.sort(key=position)
        return items


RANKDIRS = ("TB", "LR", "BT", "RL")


def check_options(rankdir: str, depth: int | None) -> None:
    """Reject a ``rankdir`` or ``depth`` no diagram style can draw."""
    if rankdir not in RANKDIRS:
        raise UsageError(f"rankdir must be one of {', '.join(RANKDIRS)}, got '{rankdir}'")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise UsageError(f"depth must be a non-negative integer, got {depth!r}")


BOX_BUDGET = 80
"""The most boxes a default diagram draws before it folds further (see :func:`diagram_view`)."""


def diagram_view(graph: Graph, *, expand: bool = False, depth: int | None = None) -> DiagramView:
    """Plan the diagram: which boxes, clusters and edges to draw.

    By default (no ``depth``, not ``expand``) repeated structure folds.  A network that still needs
    more than :data:`BOX_BUDGET` boxes also folds consecutive calls of one block that differ only in
    sizes (Inception's modules at their several widths), and if that is not enough its blocks are
    collapsed from the deepest level up until it fits.  An explicit ``depth`` or ``expand`` draws
    exactly what it asks for.
    """
    view = _planned_view(graph, expand=expand, depth=depth)
    if expand or depth is not None or len(view.boxes) <= BOX_BUDGET:
        return view
    view = _planned_view(graph, resized=True)
    deepest = max((scope.depth for scope in graph.scopes), default=0)
    for level in range(deepest - 1, -1, -1):
        if len(view.boxes) <= BOX_BUDGET:
            break
        view = _planned_view(graph, depth=level, resized=True)
    return view


def _planned_view(graph: Graph, *, expand: bool = False, depth: int | None = None,
                  resized: bool = False) -> DiagramView:
    folding = fold(graph, expand=expand, depth=depth, resized=resized)
    scopes = graph.scopes_by_path
    shortcut_scopes = {scope.path for scope in graph.scopes if scope.kind == "shortcut"}

    def on_shortcut(node: Node) -> bool:
        if node.role == "shortcut":
            return True
        path = node.scope
        while path:
            if path in shortcut_scopes:
                return True
            path = path.rpartition(".")[0]
        return False

    merged = {runs[0].representative for runs in folding.runs.values() if len(runs) == 1 and runs[0].folded}
    """Iterations drawn in their repeat's cluster, since the one run covers the whole repeat."""
    cluster_of: dict[str, str] = {}

    def visible_cluster(path: str) -> str:
        if path not in cluster_of:
            found = path
            while found and (scopes[found].kind not in CLUSTER_KINDS or found in merged):
                found = found.rpartition(".")[0]
            cluster_of[path] = found
        return cluster_of[path]

    boxes: dict[str, list[Node]] = {}
    box_info: dict[str, tuple[str, Scope | None, bool]] = {}
    box_of: dict[str, str] = {}
    for node in graph.nodes:
        collapsed = folding.collapsed_scope(node.scope)
        if folding.representative(collapsed or node.name) != (collapsed or node.name):
            continue
        if collapsed is not None:
            if collapsed not in boxes:
                boxes[collapsed] = []
                box_info[collapsed] = (visible_cluster(scopes[collapsed].parent), scopes[collapsed], False)
            boxes[collapsed].append(node)
            box_of[node.name] = collapsed
            continue
        cluster = visible_cluster(node.scope)
        host = None if expand else _fusion_host(graph, node, boxes, box_info, box_of, cluster, on_shortcut)
        if host is not None:
            boxes[host].append(node)
            box_of[node.name] = host
            continue
        boxes[node.name] = [node]
        box_info[node.name] = (cluster, None, on_shortcut(node))
        box_of[node.name] = node.name

    drawn = tuple(
        Box(box_id, tuple(nodes), box_info[box_id][0], box_info[box_id][1],
            folding.run_headed_by.get(box_id) if box_info[box_id][1] is not None else None, box_info[box_id][2])
        for box_id, nodes in boxes.items()
    )
    clusters = _clusters(drawn, scopes, folding, merged)
    edges = _edges(graph, folding, box_of, on_shortcut)
    return DiagramView(graph, folding, drawn, clusters, edges, box_of)


def collapsed_description(view: DiagramView, box: Box) -> str:
    """What a collapsed scope's box stands for: ``bottleneck ×3``, ``stage``, ``4 layers``."""
    scope = box.scope
    assert scope is not None
    if scope.kind == "repeat":
        return f"{repeated_block(view, scope.path) or 'repeat'} ×{scope.count}"
    what = scope.block or f"{len(box.nodes)} layers"
    if box.run is not None and box.run.folded:
        return f"{what} ×{box.run.count}" + (f", {box.run.span}" if box.run.span else "")
    return what


def cluster_note(view: DiagramView, cluster: Cluster) -> str:
    """The line under a cluster's name: the block it calls, when its name does not already say so."""
    scope = cluster.scope
    folded = cluster.run is not None and cluster.run.folded
    if scope.kind == "repeat":
        block = repeated_block(view, scope.path)
        return block or "" if folded else f"{block or 'repeat'} ×{scope.count}"
    if scope.kind == "iteration" and repeated_block(view, scope.parent) == scope.block:
        return ""  # the repeat's cluster around it names the block
    if scope.block and scope.local_name.rstrip("0123456789") != scope.block:
        return scope.block
    return ""


def repeated_block(view: DiagramView, repeat: str) -> str | None:
    """The block every iteration of a repeat calls, if they all call the same one."""
    if repeat not in view.repeated_blocks:
        blocks = {view.graph.scope(member).block for run in view.folding.runs.get(repeat, ()) for member in run.members}
        view.repeated_blocks[repeat] = blocks.pop() if len(blocks) == 1 else None
    return view.repeated_blocks[repeat]


def _fusion_host(graph: Graph, node: Node, boxes: dict[str, list[Node]],
                 box_info: dict[str, tuple[str, Scope | None, bool]], box_of: dict[str, str], cluster: str,
                 on_shortcut: Callable[[Node], bool]) -> str | None:
    """The box a pointwise layer joins: its producer's, when nothing else reads the producer."""
    if node.op == INPUT or node.definition.family not in FUSED_FAMILIES or len(node.inputs) != 1:
        return None
    source = node.inputs[0]
    host = box_of.get(source)
    if host is None or source == INPUT or box_info[host][1] is not None:
        return None
    members = boxes[host]
    producer = members[-1]
    if (producer.name != source or (members[0].definition.family == "join" and not drawn_as_symbol(members[0]))
            or graph.consumers[source] != (node.name,) or box_info[host][0] != cluster
            or on_shortcut(producer) != on_shortcut(node) or producer.output_shape != node.output_shape):
        return None
    return host


def drawn_as_symbol(node: Node) -> bool:
    """Whether a layer is a join drawn as its symbol (a sum as ⊕), which may take the activation after it."""
    return node.op != INPUT and node.definition.family == "join" and len(node.label) <= SYMBOL_LENGTH


def _clusters(boxes: tuple[Box, ...], scopes: dict[str, Scope], folding: Folding,
              merged: set[str]) -> tuple[Cluster, ...]:
    """Every cluster that holds a box, in order of first appearance, parents before children."""
    def drawn(path: str) -> bool:
        return scopes[path].kind in CLUSTER_KINDS and path not in merged

    found: dict[str, Cluster] = {}
    for box in boxes:
        chain: list[str] = []
        path = box.cluster
        while path and path not in found:
            chain.append(path)
            path = path.rpartition(".")[0]
        for path in reversed(chain):
            if not drawn(path):
                continue
            parent = path.rpartition(".")[0]
            while parent and not drawn(parent):
                parent = parent.rpartition(".")[0]
            scope = scopes[path]
            run = folding.run_headed_by.get(path)
            if scope.kind == "repeat":
                runs = folding.runs.get(path, ())
                run = runs[0] if len(runs) == 1 and runs[0].folded else None
            found[path] = Cluster(path, scope, parent, run)
    return tuple(found.values())


def _edges(graph: Graph, folding: Folding, box_of: dict[str, str],
           on_shortcut: Callable[[Node], bool]) -> tuple[Edge, ...]:
    """One edge per pair of boxes joined by a tensor; edges between iterations of a folded run are dropped."""
    def box(name: str) -> str:
        return box_of[name] if name in box_of else box_of[folding.representative(name)]

    edges: dict[tuple[str, str], Edge] = {}
    for node in graph.nodes:
        for position, source in enumerate(node.inputs):
            source_box, target_box = box(source), box(node.name)
            if source_box == target_box or (source_box, target_box) in edges:
                continue
            if folding.crosses_iterations(source, node.name):
                continue
            source_node = graph.node(source)
            skip = (on_shortcut(node) or on_shortcut(source_node)
                    or (node.role == "residual" and position > 0))
            edges[source_box, target_box] = Edge(source_box, target_box, source_node.image_shape, skip)
    return tuple(edges.values())


def _first_boxes(clusters: tuple[Cluster, ...], boxes: tuple[Box, ...]) -> dict[str, int]:
    """For each cluster, the position of the first box inside it (at any depth)."""
    first: dict[str, int] = {}
    parents = {cluster.id: cluster.parent for cluster in clusters}
    for index, box in enumerate(boxes):
        path = box.cluster
        while path and path not in first:
            first[path] = index
            path = parents[path]
    return first
