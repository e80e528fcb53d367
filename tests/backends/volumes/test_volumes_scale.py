"""The size scales: monotone, clamped, and legible at both ends of real networks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.backends.volumes.scale import (
    CHANNELS,
    FEATURES,
    SPATIAL,
    channel_depth,
    feature_extent,
    projected_depth,
    spatial_extent,
)

SCALES = [(spatial_extent, (0, *SPATIAL)), (channel_depth, CHANNELS), (feature_extent, FEATURES)]
sizes = st.integers(min_value=1, max_value=1 << 24)


@pytest.mark.parametrize(("scale", "bounds"), SCALES)
@given(first=sizes, second=sizes)
def test_scales_are_monotone_and_clamped(scale, bounds, first, second):
    _, _, smallest, largest = bounds
    low, high = sorted((first, second))
    assert smallest <= scale(low) <= scale(high) <= largest


def test_big_and_small_feature_maps_both_stay_legible():
    """224×224×3 and 7×7×512: neither a speck nor a wall, and clearly different."""
    assert spatial_extent(224) <= 120 and spatial_extent(7) >= 16
    assert spatial_extent(224) / spatial_extent(7) > 5
    assert channel_depth(3) >= 12 and channel_depth(512) <= 92
    assert channel_depth(512) > 3 * channel_depth(3) / 2


def test_each_downsampling_shrinks_the_face_alike():
    ratios = [spatial_extent(2 * n) / spatial_extent(n) for n in (7, 14, 28, 56, 112)]
    assert ratios == pytest.approx([2 ** 0.5] * 5)
    steps = [channel_depth(2 * c) - channel_depth(c) for c in (64, 128, 256, 512)]
    assert steps == pytest.approx([steps[0]] * 4) and steps[0] >= 6


def test_depth_rises_to_the_right():
    right, up = projected_depth(50)
    assert right > 0 and up > 0 and right > up
