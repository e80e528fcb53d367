"""What a volume figure draws: tensors, joins and the ops between them, planned from a :class:`DiagramView`.

The Graphviz style draws layers as boxes; a volume figure draws the *tensors* and writes each
layer on the arrow into its output.  Starting from the same :class:`DiagramView` (so folding,
``--expand`` and ``--depth`` mean exactly what they mean there):

* every box gets an :class:`Element` for its output tensor: a volume (C, H, W), a bar (F,);
* a join (a residual sum, a concat) is a small symbol, ⊕ or ‖, followed by its output tensor,
  the arrow between them carrying the layers fused after the join (``ReLU``);
* a box whose only reader is a join draws no tensor of its own: its arrow goes straight into the
  symbol, as ``z + a`` in the textbook figures; so a projection shortcut is one labelled arrow;
* layers on a residual shortcut give ``skip`` arrows, drawn as arcs over the main path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from archspec.backends.graphviz.theme import count_text
from archspec.backends.graphviz.view import FUSED_FAMILIES, Box, DiagramView, collapsed_description
from archspec.backends.volumes.labels import OpText, op_text
from archspec.graph.ir import INPUT
from archspec.ops.base import Shape

ElementKind = Literal["volume", "bar", "join"]
INPUT_FAMILY = "input"
BLOCK_FAMILY = "block"
"""The style of a tensor made by a collapsed scope."""


@dataclass(frozen=True)
class Element:
    """One drawn thing on the figure: a tensor, or the symbol of a join."""

    id: str
    kind: ElementKind
    shape: Shape
    family: str
    """The style: the family of the op that made it, ``input`` or ``block``."""
    frame: str
    """The cluster it is drawn in ("" at the top level)."""
    symbol: str = ""
    """For a join: its op label (``+``, ``concat``)."""


@dataclass(frozen=True)
class Arrow:
    """An op between two elements, or a plain connection into a join."""

    source: str
    target: str
    text: OpText = ()
    family: str = ""
    skip: bool = False
    """On a residual shortcut: drawn dashed, as an arc over the main path where it can be."""
    parameters: int = 0


@dataclass(frozen=True)
class VolumePlan:
    view: DiagramView
    elements: tuple[Element, ...]
    """In a topological order (the graph's)."""
    arrows: tuple[Arrow, ...]

    @cached_property
    def by_id(self) -> dict[str, Element]:
        return {element.id: element for element in self.elements}

    @cached_property
    def order(self) -> dict[str, int]:
        return {element.id: index for index, element in enumerate(self.elements)}


def plan_volumes(view: DiagramView, *, show_params: bool = False) -> VolumePlan:
    """The elements and arrows of the figure of ``view``; ``show_params`` adds parameter counts to the ops."""
    graph = view.graph
    boxes = {box.id: box for box in view.boxes}
    incoming: dict[str, list[tuple[str, bool]]] = {box.id: [] for box in view.boxes}
    outgoing: dict[str, list[str]] = {box.id: [] for box in view.boxes}
    for edge in view.edges:
        incoming[edge.target].append((edge.source, edge.skip))
        outgoing[edge.source].append(edge.target)
    output_box = view.box_of[graph.output]

    def is_join(box: Box) -> bool:
        return box.scope is None and box.head.op != INPUT and box.head.definition.family == "join"

    def absorbed(box: Box) -> bool:
        """Whether the box's arrow goes straight into the join that alone reads it."""
        targets = outgoing[box.id]
        return (box.id != output_box and not is_join(box) and box.head.op != INPUT and len(incoming[box.id]) == 1
                and len(targets) == 1 and is_join(boxes[targets[0]]))

    followers: dict[str, Box] = {}
    """For a join with no fused layer after it: a pointwise box that alone reads it, drawn on its arrow."""
    for box in view.boxes:
        targets = outgoing[box.id]
        if is_join(box) and len(box.nodes) == 1 and len(targets) == 1 and box.id != output_box:
            follower = boxes[targets[0]]
            if (follower.scope is None and len(incoming[follower.id]) == 1 and follower.cluster == box.cluster
                    and follower.head.definition.family in FUSED_FAMILIES
                    and follower.output_shape == box.output_shape):
                followers[box.id] = follower
    followed = {follower.id: join for join, follower in followers.items()}

    tensor_of: dict[str, str] = {}
    """For each box, the element holding its output."""
    elements: list[Element] = []
    arrows: list[Arrow] = []
    for box in view.boxes:
        if box.id in followed:
            continue
        if box.head.op == INPUT:
            elements.append(_tensor(box.id, box.output_shape, INPUT_FAMILY, box.cluster))
            tensor_of[box.id] = box.id
            continue
        if is_join(box):
            elements.append(Element(box.id, "join", box.output_shape, "join", box.cluster, box.head.label))
            for source, skip in incoming[box.id]:
                if not absorbed(boxes[source]):
                    arrows.append(Arrow(tensor_of[source], box.id, skip=skip))
            follower = followers.get(box.id)
            shown = follower.nodes if follower is not None else box.nodes[1:]
            output = follower.id if follower is not None else f"{box.id}:out"
            family = shown[0].definition.family if shown else "join"
            elements.append(_tensor(output, box.output_shape, family, box.cluster))
            text = (" · ".join(node.label for node in shown),) if shown else ()
            arrows.append(Arrow(box.id, output, text, family, parameters=sum(node.parameters for node in shown)))
            tensor_of[box.id] = output
            if follower is not None:
                tensor_of[follower.id] = output
            continue
        text: OpText
        if box.scope is not None:
            text = (view.folding.display_name(box.id), collapsed_description(view, box))
            family = BLOCK_FAMILY
        else:
            text = op_text(graph, box.head)
            family = box.head.definition.family
        target = outgoing[box.id][0] if absorbed(box) else box.id
        if target == box.id:
            elements.append(_tensor(box.id, box.output_shape, family, box.cluster))
            tensor_of[box.id] = box.id
        for position, (source, skip) in enumerate(incoming[box.id]):
            arrows.append(Arrow(tensor_of[source], target, text if position == 0 else (), family,
                                skip or box.shortcut, box.parameters if position == 0 else 0))
    if show_params:
        arrows = [_with_parameters(arrow, view) for arrow in arrows]
    return VolumePlan(view, tuple(elements), tuple(_in_element_order(arrows, elements)))


def _with_parameters(arrow: Arrow, view: DiagramView) -> Arrow:
    if not arrow.parameters:
        return arrow
    folded = view.folding.run_positions(arrow.target.partition(":")[0])
    each = " each" if folded else ""
    return replace(arrow, text=(*arrow.text, f"{count_text(arrow.parameters)} params{each}"))


def _tensor(element_id: str, shape: Shape, family: str, frame: str) -> Element:
    return Element(element_id, "volume" if len(shape) == 3 else "bar", shape, family, frame)


def _in_element_order(arrows: list[Arrow], elements: list[Element]) -> list[Arrow]:
    """Arrows sorted by where they end, then where they start (a stable, topological order)."""
    order = {element.id: index for index, element in enumerate(elements)}
    return sorted(arrows, key=lambda arrow: (order[arrow.target], order[arrow.source]))
