"""Reading reshapes by replaying them on indices: what a chain of view calls did to a tensor's elements."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from archspec.importers import positions
from archspec.ops.base import TENSOR, TorchCall


def call(function: str, *arguments: Any, **keywords: Any) -> TorchCall:
    return TorchCall((), (), function=function, arguments=(TENSOR, *arguments), keywords=keywords)


@pytest.mark.parametrize(("step", "by_torch"), [
    (call("reshape", 2, 3, 2, 2), lambda x: x.reshape(2, 3, 2, 2)),
    (call("view", [2, -1]), lambda x: x.view([2, -1])),
    (call("permute", 0, 2, 3, 1), lambda x: x.permute(0, 2, 3, 1)),
    (call("permute", dims=[0, 3, 1, 2]), lambda x: x.permute(dims=[0, 3, 1, 2])),
    (call("transpose", 1, 2), lambda x: x.transpose(1, 2)),
    (call("swapaxes", -2, -3), lambda x: torch.swapaxes(x, -2, -3)),
    (call("flatten", 2), lambda x: x.flatten(2)),
    (call("flatten", start_dim=1, end_dim=2), lambda x: x.flatten(start_dim=1, end_dim=2)),
    (call("unflatten", 1, (3, 1)), lambda x: x.unflatten(1, (3, 1))),
    (call("movedim", 1, -1), lambda x: x.movedim(1, -1)),
])
def test_a_replayed_call_moves_indices_as_torch_moves_elements(step: TorchCall, by_torch: Any) -> None:
    index = positions.indices((3, 2, 2), 2)
    assert np.array_equal(positions.replay(index, step), by_torch(torch.from_numpy(index)).numpy())


@pytest.mark.parametrize("step", [call("sum", 1), call("view", torch.float16), call("reshape", 5, 5),
                                  TorchCall((), (), function="reshape", arguments=(2, TENSOR))])
def test_a_call_that_does_more_than_move_elements_is_not_replayed(step: TorchCall) -> None:
    assert positions.replay(positions.indices((3, 2, 2), 2), step) is None


def test_a_reordering_of_axes_is_read_as_the_permute_it_is() -> None:
    image = (3, 4, 6)
    index = positions.indices(image, 2).transpose(0, 2, 3, 1)
    sample = positions.per_sample(index, 2)
    assert sample is not None and positions.axis_order(sample, image) == (1, 2, 0)
    assert positions.axis_order(sample.reshape(4, 2, 3, 3), image) is None


def test_windows_keep_the_channels_last_and_say_where_each_position_went() -> None:
    channels, height, width = 3, 4, 6
    index = positions.indices((channels, height, width), 2)
    windows = index.reshape(2, channels, 2, 2, 3, 2).transpose(0, 2, 4, 3, 5, 1).reshape(2, 6, 4, channels)
    sample = positions.per_sample(windows, 2)
    assert sample is not None and positions.last_axis(sample, (channels, height, width)) == 0
    places = positions.positions(sample, (channels, height, width), 0)
    assert places.shape == (6, 4)
    assert places[0].tolist() == [0, 1, 6, 7] and places[1].tolist() == [2, 3, 8, 9]  # a 2×2 window, row by row
    assert positions.channels_last((channels, height, width), 0) == (1, 2, 0)
    assert np.array_equal(positions.elements(places, channels, 2)[..., 0], places[None].repeat(2, 0) * channels
                          + np.arange(2)[:, None, None] * places.size * channels)


def test_a_chain_that_mixes_samples_or_splits_channels_is_neither() -> None:
    assert positions.per_sample(positions.indices((2, 2, 2), 2).transpose(1, 0, 2, 3), 2) is None
    index = positions.indices((4, 2, 2), 2)
    sample = positions.per_sample(index.reshape(2, 2, 2, 2, 2).transpose(0, 2, 3, 4, 1), 2)
    assert sample is not None and positions.last_axis(sample, (4, 2, 2)) is None
