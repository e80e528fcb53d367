"""How big a tensor is drawn: monotone, clamped scales from sizes to pixels.

Real sizes span three orders of magnitude (a 224×224×3 image, a 7×7×2048 feature map, 25,088
features), so a linear scale would make the small ones invisible.  Each extent is clamped so no
tensor is drawn smaller than a mark or larger than a panel:

* height and width of a feature map: ``7.3·√n`` px, between 8 and 120
  (1 → 8, 7 → 19, 14 → 27, 28 → 39, 56 → 55, 112 → 77, 224 → 109).  The square root keeps
  downsampling visible, as in the hand-drawn case-study figures: each stride-2 layer shrinks
  the face by √2, so late feature maps become the long thin bars those figures show;
* channels, drawn as the oblique depth: ``4 + 8·log2(c)`` px, between 4 and 92
  (3 → 17, 64 → 52, 512 → 76, 2048 → 92): the logarithm tells 64 from 2048 and keeps 3 visible;
* a flat tensor of ``f`` features, drawn as a thin bar: ``8 + 9·log2(f)`` px tall, between 8 and 140
  (10 → 38, 120 → 70, 4096 → 116, 25088 → 140).

All three are non-decreasing in their argument (tests check it), so a larger tensor is never
drawn smaller.  The oblique depth is projected at :data:`DEPTH_ANGLE` with :data:`DEPTH_FORESHORTENING`.
"""

from __future__ import annotations

import math

SPATIAL = (7.3, 8.0, 120.0)
"""Pixels per square-root unit, smallest and largest extent for heights and widths."""
CHANNELS = (4.0, 8.0, 4.0, 92.0)
"""Offset, pixels per doubling, smallest and largest extent for channels (and features, below)."""
FEATURES = (8.0, 9.0, 8.0, 140.0)

DEPTH_ANGLE = math.radians(35.0)
"""The oblique axis rises to the right at this angle."""
DEPTH_FORESHORTENING = 0.8
"""Depths are drawn shorter than they measure, as in a cabinet projection."""
BAR_WIDTH = 10.0
"""The front width of a flat tensor's bar."""
BAR_DEPTH = 6.0


def _log_scale(value: int, offset: float, per_doubling: float, smallest: float, largest: float) -> float:
    return min(max(offset + per_doubling * math.log2(max(value, 1)), smallest), largest)


def spatial_extent(size: int) -> float:
    """The drawn height (or width) in px of a feature map ``size`` pixels high (or wide)."""
    per_unit, smallest, largest = SPATIAL
    return min(max(per_unit * math.sqrt(size), smallest), largest)


def channel_depth(channels: int) -> float:
    """The drawn oblique depth in px of ``channels`` channels (before projection)."""
    return _log_scale(channels, *CHANNELS)


def feature_extent(features: int) -> float:
    """The drawn height in px of a flat tensor of ``features`` features."""
    return _log_scale(features, *FEATURES)


def projected_depth(depth: float) -> tuple[float, float]:
    """The oblique depth as a screen offset (right, up) in px."""
    length = depth * DEPTH_FORESHORTENING
    return length * math.cos(DEPTH_ANGLE), length * math.sin(DEPTH_ANGLE)
