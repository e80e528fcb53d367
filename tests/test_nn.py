"""archspec's own layers (``archspec.nn``) where torch.nn has none: what they compute, checked by hand."""

from __future__ import annotations

import pytest
import torch

from archspec.nn import PartitionAttention, StochasticDepth, departition, partition


@pytest.mark.parametrize("grid", [False, True])
def test_departition_undoes_partition(grid: bool) -> None:
    image = torch.randn(2, 6, 8, 3)
    groups = partition(image, (3, 2), grid)
    assert groups.shape == (2 * 2 * 4, 6, 3)
    assert torch.equal(departition(groups, (2, 6, 8, 3), (3, 2), grid), image)


def test_a_window_holds_neighbours_and_a_grid_positions_spread_over_the_image() -> None:
    positions = torch.arange(6 * 6).view(1, 6, 6, 1).float()  # the value is row * 6 + column
    window = partition(positions, (2, 2), grid=False)[0].flatten().tolist()
    grid = partition(positions, (2, 2), grid=True)[0].flatten().tolist()
    assert window == [0, 1, 6, 7]
    assert grid == [0, 3, 18, 21]


def test_partition_attention_is_softmax_attention_with_the_relative_bias_and_the_scale() -> None:
    torch.manual_seed(0)
    layer = PartitionAttention(8, 2, (2, 2), grid=True, scale=0.3).eval()
    image = torch.randn(1, 4, 4, 8)
    groups = partition(image, (2, 2), grid=True)
    q, k, v = layer.to_qkv(groups).view(-1, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    bias = layer.relative_position_bias_table[layer.relative_position_index].permute(2, 0, 1)
    weights = (q @ k.transpose(-2, -1) * 0.3 + bias).softmax(-1)
    expected = departition(layer.merge((weights @ v).transpose(1, 2).reshape(-1, 4, 8)), (1, 4, 4, 8), (2, 2), True)
    with torch.no_grad():
        torch.testing.assert_close(layer(image), expected)
    assert layer.relative_position_index.shape == (4, 4)
    assert [name for name, _ in layer.state_dict().items()] == [
        "relative_position_bias_table", "relative_position_index", "to_qkv.weight", "to_qkv.bias", "merge.weight",
        "merge.bias"]


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_stochastic_depth_draws_torchvisions_mask_in_training_and_is_the_identity_in_eval(p: float) -> None:
    from tests.zoo.reference import torchvision_models

    torchvision_models()  # the stub that lets torchvision import beside this torch
    from torchvision.ops import StochasticDepth as Reference

    ours, theirs = StochasticDepth(p), Reference(p, "row")
    x = torch.randn(16, 3, 4, 4)
    torch.manual_seed(7)
    expected = theirs(x)
    torch.manual_seed(7)
    torch.testing.assert_close(ours(x), expected)
    assert torch.equal(ours.eval()(x), x)
