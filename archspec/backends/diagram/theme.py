"""The look of a diagram: colours by op family, fonts, and how tensors and counts are written.

Fills are light and borders dark, so a figure stays readable printed in grey; each family keeps
its colour in every diagram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FamilyStyle:
    fill: str
    border: str
    title: str
    """The family's name in the legend."""


FAMILY_STYLES: dict[str, FamilyStyle] = {
    "conv": FamilyStyle("#d6e6f5", "#2f6497", "convolution"),
    "pool": FamilyStyle("#fde0c2", "#b35f0f", "pooling"),
    "linear": FamilyStyle("#e3d9f1", "#5e4391", "fully connected"),
    "norm": FamilyStyle("#d5ecd2", "#357a31", "normalization"),
    "activation": FamilyStyle("#fbf1bd", "#8f7410", "activation"),
    "join": FamilyStyle("#ffffff", "#404040", "join"),
    "reshape": FamilyStyle("#e8e8e8", "#6b6b6b", "reshape"),
    "regularization": FamilyStyle("#f6d7e1", "#a23c5e", "regularization"),
    "other": FamilyStyle("#f3f3f3", "#404040", "other"),
}
FAMILY_ORDER = tuple(FAMILY_STYLES)
INPUT_STYLE = FamilyStyle("#ffffff", "#404040", "input")
BLOCK_STYLE = FamilyStyle("#eef0f4", "#4a5568", "block")
"""A scope collapsed into one box."""

FONT = "Helvetica,Arial,sans-serif"
TEXT_COLOR = "#1a1a1a"
MUTED_COLOR = "#595959"
EDGE_COLOR = "#4d4d4d"
SKIP_COLOR = "#b3401a"
CLUSTER_BORDER = "#8c8c8c"
CLUSTER_FILL = "#f7f7f7"
RUN_FILL = "#fdf6e3"
"""Clusters that stand for several identical iterations."""


def family_style(family: str) -> FamilyStyle:
    return FAMILY_STYLES[legend_family(family)]


def legend_family(family: str) -> str:
    """The family a node is drawn (and listed in the legend) as: a plugin's own family is 'other'."""
    return family if family in FAMILY_STYLES else "other"


def volume_text(shape: Sequence[int]) -> str:
    """A tensor as the case-study figures write it: ``(16, 5, 5)`` is ``5×5×16``, ``(120,)`` is ``120``."""
    if len(shape) == 3:
        channels, height, width = shape
        return f"{height}×{width}×{channels}"
    return "×".join(str(d) for d in shape)


def count_text(value: int) -> str:
    """``9,408``; ``36.9K``; ``2.36M``: exact while short, then rounded to three figures."""
    if value < 10_000:
        return f"{value:,}"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            scaled = value / scale
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:.{digits}f}{unit}"
    return f"{value:,}"  # pragma: no cover
