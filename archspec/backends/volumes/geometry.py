"""The drawn size of each element, and where arrows meet it: pure geometry, no placement.

Coordinates are local to an element's *footprint* (the box it and its label occupy across the
flow): x from its left edge, y from the main line, which passes through the middle of a
volume's front face; y grows downwards, as in SVG.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.backends.diagram.theme import volume_text
from archspec.backends.volumes.metrics import text_width
from archspec.backends.volumes.plan import Element
from archspec.backends.volumes.scale import (
    BAR_DEPTH,
    BAR_WIDTH,
    channel_depth,
    feature_extent,
    projected_depth,
    spatial_extent,
)

LABEL_SIZE = 12.0
"""Font size of the H×W×C under a volume."""
JOIN_RADIUS = 10.0
LABEL_GAP = 6.0
"""Between the lowest volume of a row and the top of its labels."""
OUTPUT_NAME_SIZE = 12.0
"""An output's name, in its box at the end of its path."""
OUTPUT_NOTE_SIZE = 9.0
"""``training only`` under the name of an auxiliary output."""
OUTPUT_NOTE = "training only"
OUTPUT_PAD = 8.0


@dataclass(frozen=True)
class Geometry:
    """An element's drawing, relative to its footprint's left edge and the main line."""

    footprint: float
    """Width across the flow taken by the shape and its label."""
    shape_x: float
    """Left edge of the front face (or of the join's circle)."""
    width: float
    """Front-face width (a join: its diameter)."""
    height: float
    depth_x: float
    depth_y: float
    """The oblique depth's screen offset (right, up)."""
    label: str
    label_width: float

    @property
    def top(self) -> float:
        return -self.height / 2 - self.depth_y

    @property
    def bottom(self) -> float:
        return self.height / 2

    @property
    def entry_x(self) -> float:
        """Where an arrow along the main line meets the shape."""
        return self.shape_x

    @property
    def exit_x(self) -> float:
        """Where an arrow along the main line leaves the shape's silhouette."""
        right = self.shape_x + self.width
        if self.depth_y <= self.height / 2:
            return right + self.depth_x
        return right + self.depth_x * (self.height / 2) / self.depth_y

    @property
    def arc_anchor(self) -> tuple[float, float]:
        """Where a skip arc leaves or enters: the middle of the top face (a join: its top)."""
        return (self.shape_x + (self.width + self.depth_x) / 2, -(self.height + self.depth_y) / 2)


def element_geometry(element: Element) -> Geometry:
    if element.kind == "output":
        return _output_geometry(element)
    if element.kind == "join":
        diameter = 2 * JOIN_RADIUS
        return Geometry(diameter, 0.0, diameter, diameter, 0.0, 0.0, "", 0.0)
    if element.kind == "volume":
        channels, height, width = element.shape
        front_w, front_h = spatial_extent(width), spatial_extent(height)
        depth_x, depth_y = projected_depth(channel_depth(channels))
    else:
        front_w, front_h = BAR_WIDTH, feature_extent(element.shape[0] if len(element.shape) == 1 else 1)
        depth_x, depth_y = projected_depth(BAR_DEPTH)
    label = volume_text(element.shape)
    label_width = text_width(label, LABEL_SIZE)
    shape_right = front_w + depth_x
    footprint = max(shape_right, label_width)
    return Geometry(footprint, (footprint - shape_right) / 2, front_w, front_h, depth_x, depth_y, label, label_width)


def _output_geometry(element: Element) -> Geometry:
    """A rounded box holding the output's name (and ``training only``), no H×W×C under it."""
    width = text_width(element.symbol, OUTPUT_NAME_SIZE, bold=True)
    height = OUTPUT_NAME_SIZE + 2 * OUTPUT_PAD
    if element.training_only:
        width = max(width, text_width(OUTPUT_NOTE, OUTPUT_NOTE_SIZE))
        height += OUTPUT_NOTE_SIZE * 1.2
    width += 2 * OUTPUT_PAD
    return Geometry(width, 0.0, width, height, 0.0, 0.0, "", 0.0)
