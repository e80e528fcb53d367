"""One test group per op's shape rule, parameter count and MACs, against hand-computed values."""

from __future__ import annotations

import pytest

from archspec.ops import ShapeError, get_op


def infer(kind: str, shapes: list[tuple[int, ...]], **params):
    op = get_op(kind)
    assert op is not None
    validated = op.Params.model_validate(params)
    output = op.output_shape(validated, shapes)
    return output, op.parameter_count(validated, shapes, output), op.macs(validated, shapes, output)


class TestConv2d:
    def test_valid_convolution_shrinks_by_kernel_minus_one(self):
        assert infer("conv2d", [(1, 32, 32)], channels=6, kernel=5) == ((6, 28, 28), 6 * 26, 6 * 28 * 28 * 25)

    def test_stride_and_padding(self):
        output, _, _ = infer("conv2d", [(3, 224, 224)], channels=64, kernel=11, stride=4, padding=2)
        assert output == (64, 55, 55)

    def test_rectangular_kernel_stride_padding(self):
        output, params, _ = infer("conv2d", [(2, 10, 20)], channels=4, kernel=[3, 5], stride=[1, 2], padding=[1, 2])
        assert output == (4, 10, 10)
        assert params == 4 * 2 * 3 * 5 + 4

    def test_dilation_widens_the_kernel(self):
        output, _, _ = infer("conv2d", [(1, 9, 9)], channels=1, kernel=3, dilation=2)
        assert output == (1, 5, 5)

    def test_groups_divide_parameters_and_macs(self):
        output, params, macs = infer("conv2d", [(96, 27, 27)], channels=256, kernel=5, padding=2, groups=2)
        assert output == (256, 27, 27)
        assert params == 256 * 48 * 25 + 256
        assert macs == 256 * 27 * 27 * 48 * 25

    def test_no_bias(self):
        assert infer("conv2d", [(64, 8, 8)], channels=64, kernel=3, padding=1, bias=False)[1] == 64 * 64 * 9

    @pytest.mark.parametrize(("size", "stride", "expected"), [(224, 1, 224), (224, 2, 112), (7, 2, 4), (5, 3, 2)])
    def test_same_padding_gives_ceil_of_input_over_stride(self, size, stride, expected):
        output, _, _ = infer("conv2d", [(3, size, size)], channels=8, kernel=3, stride=stride, padding="same")
        assert output == (8, expected, expected)

    def test_same_padding_puts_the_odd_pixel_at_the_bottom_right(self):
        op = get_op("conv2d")
        params = op.Params.model_validate({"channels": 1, "kernel": 3, "stride": 2, "padding": "same"})
        assert op.padding(params, (1, 224, 224)) == (0, 1, 0, 1)
        layer = op.torch_layer(params, [(1, 224, 224)], (1, 112, 112))
        assert layer.kwargs["padding"] == 0 and "F.pad({0}, (0, 1, 0, 1))" in layer.forward

    def test_valid_padding_is_zero(self):
        assert infer("conv2d", [(3, 8, 8)], channels=1, kernel=3, padding="valid")[0] == (1, 6, 6)

    def test_kernel_larger_than_input(self):
        with pytest.raises(ShapeError, match="kernel height 5 is larger than the padded input height 3"):
            infer("conv2d", [(3, 3, 3)], channels=1, kernel=5)

    def test_channels_not_divisible_by_groups(self):
        with pytest.raises(ShapeError, match="input channels 3 are not divisible by groups=2"):
            infer("conv2d", [(3, 8, 8)], channels=4, kernel=1, groups=2)
        with pytest.raises(ShapeError, match="output channels 5 are not divisible by groups=2"):
            infer("conv2d", [(4, 8, 8)], channels=5, kernel=1, groups=2)

    def test_needs_an_image(self):
        with pytest.raises(ShapeError, match=r"expects an image tensor \[C, H, W\], got a flat tensor of 10 features"):
            infer("conv2d", [(10,)], channels=1, kernel=1)


class TestPooling:
    def test_max_pool_stride_defaults_to_kernel(self):
        assert infer("maxpool2d", [(64, 224, 224)], kernel=2)[0] == (64, 112, 112)

    def test_overlapping_pool(self):
        assert infer("maxpool2d", [(96, 55, 55)], kernel=3, stride=2)[0] == (96, 27, 27)

    @pytest.mark.parametrize(
        ("size", "kernel", "stride", "padding", "floor", "ceil"),
        [(32, 3, 2, 0, 15, 16), (5, 2, 2, 1, 3, 3), (6, 3, 3, 0, 2, 2), (7, 2, 2, 0, 3, 4), (13, 3, 2, 1, 7, 7)],
    )
    def test_ceil_mode_follows_pytorch(self, size, kernel, stride, padding, floor, ceil):
        shape = [(1, size, size)]
        assert infer("maxpool2d", shape, kernel=kernel, stride=stride, padding=padding)[0][1] == floor
        assert infer("maxpool2d", shape, kernel=kernel, stride=stride, padding=padding, ceil_mode=True)[0][1] == ceil

    def test_padding_at_most_half_the_kernel(self):
        op = get_op("maxpool2d")
        with pytest.raises(ValueError, match="padding 2 must be at most half the kernel size 3"):
            op.Params.model_validate({"kernel": 3, "padding": 2})

    def test_window_larger_than_input(self):
        with pytest.raises(ShapeError, match="pooling window 2 is larger than the padded input height 1"):
            infer("avgpool2d", [(16, 1, 1)], kernel=2)

    def test_pools_have_no_parameters_or_macs(self):
        assert infer("avgpool2d", [(6, 28, 28)], kernel=2)[1:] == (0, 0)

    def test_adaptive_and_global_pooling(self):
        assert infer("adaptive_avgpool2d", [(512, 14, 14)], size=7)[0] == (512, 7, 7)
        assert infer("adaptive_avgpool2d", [(512, 14, 14)], size=[2, 3])[0] == (512, 2, 3)
        assert infer("global_avgpool", [(10, 8, 8)])[0] == (10, 1, 1)


class TestLinearAndFlatten:
    def test_linear(self):
        assert infer("linear", [(400,)], features=120) == ((120,), 400 * 120 + 120, 400 * 120)

    def test_linear_without_bias(self):
        assert infer("linear", [(4,)], features=2, bias=False)[1] == 8

    def test_linear_on_an_image_says_to_flatten(self):
        with pytest.raises(ShapeError, match=r"add a 'flatten' layer before it \(giving 400 features\)"):
            infer("linear", [(16, 5, 5)], features=120)

    def test_flatten(self):
        assert infer("flatten", [(512, 7, 7)])[0] == (25088,)
        assert infer("flatten", [(10,)])[0] == (10,)


class TestNormalizationAndActivations:
    def test_batchnorm_counts_scale_and_shift(self):
        assert infer("batchnorm2d", [(64, 8, 8)]) == ((64, 8, 8), 128, 0)
        assert infer("batchnorm2d", [(64, 8, 8)], affine=False)[1] == 0

    def test_lrn_keeps_shape(self):
        assert infer("lrn", [(96, 55, 55)], size=5, k=2)[0] == (96, 55, 55)

    @pytest.mark.parametrize(
        "kind", ["relu", "tanh", "sigmoid", "gelu", "softmax", "identity", "dropout", "leaky_relu"])
    def test_elementwise_ops_keep_shape_and_have_no_parameters(self, kind):
        assert infer(kind, [(3, 4, 5)]) == ((3, 4, 5), 0, 0)


class TestJoins:
    def test_add_needs_identical_shapes(self):
        assert infer("add", [(64, 8, 8), (64, 8, 8), (64, 8, 8)])[0] == (64, 8, 8)
        with pytest.raises(ShapeError, match=r"add needs inputs of identical shape, got \[64, 8, 8\], \[128, 4, 4\]"):
            infer("add", [(64, 8, 8), (128, 4, 4)])

    def test_add_does_not_broadcast(self):
        with pytest.raises(ShapeError):
            infer("add", [(64, 8, 8), (1, 8, 8)])

    def test_concat_sums_channels(self):
        assert infer("concat", [(64, 8, 8), (32, 8, 8), (16, 8, 8)])[0] == (112, 8, 8)
        assert infer("concat", [(3,), (4,)])[0] == (7,)

    def test_concat_needs_matching_height_and_width(self):
        with pytest.raises(ShapeError, match="the other dimensions must match"):
            infer("concat", [(64, 8, 8), (64, 4, 4)])
        with pytest.raises(ShapeError, match="same rank"):
            infer("concat", [(64, 8, 8), (64,)])


class TestLabels:
    @pytest.mark.parametrize(
        ("kind", "shape", "params", "label"),
        [
            ("conv2d", (3, 8, 8), {"channels": 128, "kernel": 3, "stride": 2, "padding": 1}, "conv 3×3/2, 128"),
            ("conv2d", (3, 8, 8), {"channels": 6, "kernel": 5}, "conv 5×5, 6"),
            ("maxpool2d", (3, 8, 8), {"kernel": 3, "stride": 2}, "max pool 3×3/2"),
            ("avgpool2d", (3, 8, 8), {"kernel": 2}, "avg pool 2×2"),
            ("linear", (10,), {"features": 84}, "FC 84"),
        ],
    )
    def test_diagram_labels(self, kind, shape, params, label):
        op = get_op(kind)
        validated = op.Params.model_validate(params)
        assert op.label(validated, [shape], op.output_shape(validated, [shape])) == label
