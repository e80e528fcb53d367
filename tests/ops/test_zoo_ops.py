"""The ops the torchvision zoo needs: shape rules, counts and errors (no torch)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from archspec.ops import ShapeError, get_op
from archspec.ops.join import broadcast_shapes
from tests.ops.test_shape_rules import infer


@pytest.mark.parametrize("kind", ["relu6", "hardswish", "hardsigmoid", "silu", "mish", "stochastic_depth"])
def test_element_wise_ops_keep_any_shape_and_count_nothing(kind):
    for shape in [(16, 8, 8), (10,), (4, 7)]:
        assert infer(kind, [shape]) == (shape, 0, 0)


class TestMultiply:
    def test_a_gate_of_one_value_per_channel_stretches_over_the_image(self):
        assert infer("multiply", [(32, 14, 14), (32, 1, 1)]) == ((32, 14, 14), 0, 0)
        assert infer("multiply", [(32, 1, 1), (32, 14, 14)])[0] == (32, 14, 14)

    def test_equal_shapes_and_several_inputs(self):
        assert infer("multiply", [(4, 2, 2)] * 3)[0] == (4, 2, 2)

    def test_sizes_that_are_neither_equal_nor_one_are_an_error(self):
        with pytest.raises(ShapeError, match=r"equal or 1 on each axis, got \[32, 14, 14\], \[16, 1, 1\]"):
            infer("multiply", [(32, 14, 14), (16, 1, 1)])

    def test_ranks_must_match(self):
        with pytest.raises(ShapeError, match="same rank"):
            broadcast_shapes("multiply", [(32, 14, 14), (32,)])

    def test_add_still_never_broadcasts(self):
        with pytest.raises(ShapeError, match="identical shape"):
            infer("add", [(32, 14, 14), (32, 1, 1)])


class TestChunk:
    def test_one_of_equal_channel_groups(self):
        assert infer("chunk", [(116, 28, 28)], parts=2, index=1) == ((58, 28, 28), 0, 0)

    def test_channels_must_divide(self):
        with pytest.raises(ShapeError, match="3 equal parts, but there are 116 channels"):
            infer("chunk", [(116, 28, 28)], parts=3)

    def test_index_must_be_one_of_the_parts(self):
        with pytest.raises(ValidationError, match="index 2 is out of range for 2 parts"):
            get_op("chunk").Params.model_validate({"parts": 2, "index": 2})  # type: ignore[union-attr]


class TestChannelShuffle:
    def test_keeps_the_shape(self):
        assert infer("channel_shuffle", [(232, 14, 14)], groups=2) == ((232, 14, 14), 0, 0)

    def test_groups_must_divide_channels(self):
        with pytest.raises(ShapeError, match="divisible by groups=3"):
            infer("channel_shuffle", [(232, 14, 14)], groups=3)

    def test_needs_an_image(self):
        with pytest.raises(ShapeError, match=r"image tensor \[C, H, W\]"):
            infer("channel_shuffle", [(232,)], groups=2)


def test_stochastic_depth_probability_is_checked():
    with pytest.raises(ValidationError):
        get_op("stochastic_depth").Params.model_validate({"p": 1.5})  # type: ignore[union-attr]
