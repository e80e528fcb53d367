"""What a volume figure draws: tensors, joins and the ops between them, planned from a :class:`DiagramView`.

The Graphviz style draws layers as boxes; a volume figure draws the *tensors* and writes each
layer on the arrow into its output.  Starting from the same :class:`DiagramView` (so folding,
``--expand`` and ``--depth`` mean exactly what they mean there):

* every box gets an :class:`Element` for its output tensor: a volume (C, H, W), a bar (F,);
* a join (a residual sum, a concat) is a small symbol, ⊕ or ‖, followed by its output tensor,
  the arrow between them carrying the layers fused after the join (``ReLU``);
* a box whose only reader is a join in its own frame draws no tensor of its own: its arrow goes
  straight into the symbol, as ``z + a`` in the textbook figures; so a projection shortcut is one
  labelled arrow (a block's output that a join outside it reads keeps its tensor, and its frame);
* layers on a residual shortcut give ``skip`` arrows, drawn as arcs over the main path;
* a network with several outputs ends each one in a named ``output`` element after its tensor
  (as the Graphviz style does); :attr:`VolumePlan.ends` says which element ends each output's path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from archspec.backends.diagram.theme import count_text
from archspec.backends.diagram.view import FUSED_FAMILIES, Box, DiagramView, collapsed_description
from archspec.backends.volumes.labels import OpText, op_text
from archspec.graph.ir import INPUT
from archspec.ops.base import Shape

ElementKind = Literal["volume", "bar", "join", "output"]
INPUT_FAMILY = "input"
OUTPUT_FAMILY = "output"
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
    """For a join: its op label (``+``, ``concat``); for an output: its name."""
    training_only: bool = False
    """For an output: whether it exists only in training (drawn dashed)."""


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
    layer: str = ""
    """The first layer it draws (for a plain connection: none)."""
    training_only: bool = False
    """Into an output that exists only in training: drawn dashed."""


@dataclass(frozen=True)
class VolumePlan:
    view: DiagramView
    elements: tuple[Element, ...]
    """In a topological order (the graph's)."""
    arrows: tuple[Arrow, ...]
    ends: tuple[str, ...] = ()
    """The element that ends each of the network's outputs' paths, the main output's first."""

    @cached_property
    def by_id(self) -> dict[str, Element]:
        return {element.id: element for element in self.elements}

    @cached_property
    def order(self) -> dict[str, int]:
        return {element.id: index for index, element in enumerate(self.elements)}


def plan_volumes(view: DiagramView, *, show_params: bool = False) -> VolumePlan:
    """The elements and arrows of the figure of ``view``; ``show_params`` adds parameter counts to the ops."""
    planner = _Planner(view)
    for box in view.boxes:
        if box.id in planner.followed:
            continue
        if box.head.op == INPUT:
            planner.add_tensor(box.id, box, INPUT_FAMILY)
        elif planner.is_join(box):
            planner.add_join(box)
        else:
            planner.add_op(box)
    ends = planner.add_outputs()
    arrows = planner.arrows
    if show_params:
        arrows = [_with_parameters(arrow, view) for arrow in arrows]
    return VolumePlan(view, tuple(planner.elements), tuple(_in_element_order(arrows, planner.elements)), ends)


class _Planner:
    """The view's boxes in order, turned into elements and arrows (one method per kind of box)."""

    def __init__(self, view: DiagramView) -> None:
        self.view = view
        self.boxes = {box.id: box for box in view.boxes}
        self.incoming: dict[str, list[tuple[str, bool]]] = {box.id: [] for box in view.boxes}
        self.outgoing: dict[str, list[str]] = {box.id: [] for box in view.boxes}
        for edge in view.edges:
            self.incoming[edge.target].append((edge.source, edge.skip))
            self.outgoing[edge.source].append(edge.target)
        # an output may lie in a folded iteration: its twin in the run's first one is drawn
        self.output_boxes = [view.box_of[view.folding.representative(output.node)] for output in view.graph.outputs]
        self.followers = {join: box for join, box in map(self._follower, view.boxes) if box is not None}
        self.followed = {box.id for box in self.followers.values()}
        self.tensor_of: dict[str, str] = {}
        """For each box, the element holding its output."""
        self.elements: list[Element] = []
        self.arrows: list[Arrow] = []
        self.arrows_into: dict[str, list[Arrow]] = {}
        """The arrows by target, so a join finds its own without reading every arrow (linear in the network)."""

    def is_join(self, box: Box) -> bool:
        return box.scope is None and box.head.op != INPUT and box.head.definition.family == "join"

    def absorbed(self, box: Box) -> bool:
        """Whether the box's arrow goes straight into the join that alone reads it (no tensor of its own)."""
        targets = self.outgoing[box.id]
        return (box.id not in self.output_boxes and not self.is_join(box) and box.head.op != INPUT
                and len(self.incoming[box.id]) == 1 and len(targets) == 1 and self.is_join(self.boxes[targets[0]])
                and box.cluster == self.boxes[targets[0]].cluster)  # a block's output keeps its frame

    def _follower(self, box: Box) -> tuple[str, Box | None]:
        """For a join with no layer fused after it: a pointwise box that alone reads it, drawn on its arrow."""
        targets = self.outgoing[box.id]
        if not self.is_join(box) or len(box.nodes) > 1 or len(targets) != 1 or box.id in self.output_boxes:
            return box.id, None
        follower = self.boxes[targets[0]]
        if (follower.scope is None and len(self.incoming[follower.id]) == 1 and follower.cluster == box.cluster
                and follower.head.definition.family in FUSED_FAMILIES and follower.output_shape == box.output_shape):
            return box.id, follower
        return box.id, None

    def add_tensor(self, element_id: str, box: Box, family: str) -> None:
        shape = box.output_shape
        self.elements.append(Element(element_id, "volume" if len(shape) == 3 else "bar", shape, family, box.cluster))
        self.tensor_of[box.id] = element_id

    def add_join(self, box: Box) -> None:
        """The join's symbol, the arrows into it, and its output tensor after the layers fused behind it."""
        self.elements.append(Element(box.id, "join", box.output_shape, "join", box.cluster, box.head.label))
        for source, skip in self.incoming[box.id]:
            if not self.absorbed(self.boxes[source]):
                self._add_arrow(Arrow(self.tensor_of[source], box.id, skip=skip))
        follower = self.followers.get(box.id)
        shown = follower.nodes if follower is not None else box.nodes[1:]
        family = shown[0].definition.family if shown else self._main_family(box)
        self.add_tensor(follower.id if follower is not None else f"{box.id}:out", box, family)
        if follower is not None:
            self.tensor_of[follower.id] = self.tensor_of[box.id]
        text = (" · ".join(node.label for node in shown),) if shown else ()
        self._add_arrow(Arrow(box.id, self.tensor_of[box.id], text, family,
                                 parameters=sum(node.parameters for node in shown),
                                 layer=shown[0].name if shown else ""))

    def add_outputs(self) -> tuple[str, ...]:
        """For several outputs, a named element after each one's tensor; the elements that end the outputs' paths."""
        graph = self.view.graph
        tensors = [self.tensor_of[box] for box in self.output_boxes]
        if not graph.several_outputs:
            return tuple(tensors)
        shapes = {element.id: element.shape for element in self.elements}
        ends = []
        for output, tensor in zip(graph.outputs, tensors, strict=True):
            end = f"output@{output.name}"
            self.elements.append(Element(end, "output", shapes[tensor], OUTPUT_FAMILY, "",
                                         output.name, output.training_only))
            self._add_arrow(Arrow(tensor, end, training_only=output.training_only))
            ends.append(end)
        return tuple(ends)

    def _add_arrow(self, arrow: Arrow) -> None:
        self.arrows.append(arrow)
        self.arrows_into.setdefault(arrow.target, []).append(arrow)

    def _main_family(self, box: Box) -> str:
        """The colour of a join's output when no layer follows it: that of the op on its main input."""
        into = self.arrows_into.get(box.id, [])
        families = [arrow.family for arrow in into if arrow.family]
        main = [arrow.family for arrow in into if arrow.family and not arrow.skip]
        return (main or families or ["join"])[0]

    def add_op(self, box: Box) -> None:
        """A layer (or a collapsed scope): its output tensor, unless a join alone reads it, and its arrows."""
        text: OpText
        if box.scope is not None:
            text, family = (self.view.folding.display_name(box.id), collapsed_description(self.view, box)), BLOCK_FAMILY
        else:
            text, family = op_text(self.view.graph, box.head), box.head.definition.family
        target = self.outgoing[box.id][0] if self.absorbed(box) else box.id
        if target == box.id:
            self.add_tensor(box.id, box, family)
        for position, (source, skip) in enumerate(self.incoming[box.id]):
            first = position == 0
            self._add_arrow(Arrow(self.tensor_of[source], target, text if first else (), family,
                                     skip or box.shortcut, box.parameters if first else 0, box.head.name))


def _with_parameters(arrow: Arrow, view: DiagramView) -> Arrow:
    if not arrow.parameters:
        return arrow
    runs = [view.folding.run_headed_by[run] for run in view.folding.run_positions(arrow.layer)]
    each = "" if not runs else " each" if all(run.uniform_parameters for run in runs) else " in the first"
    return replace(arrow, text=(*arrow.text, f"{count_text(arrow.parameters)} params{each}"))


def _in_element_order(arrows: list[Arrow], elements: list[Element]) -> list[Arrow]:
    """Arrows sorted by where they end, then where they start (a stable, topological order)."""
    order = {element.id: index for index, element in enumerate(elements)}
    return sorted(arrows, key=lambda arrow: (order[arrow.target], order[arrow.source]))
