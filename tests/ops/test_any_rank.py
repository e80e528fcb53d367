"""Tensors of any rank: the shape rules of the token, reshape, layer-norm and attention ops, and how ops that
act on features read features, token sequences, images and channels-last images."""

from __future__ import annotations

import pytest

from archspec.ops import ShapeError, get_op


def infer(kind: str, shapes: list[tuple[int, ...]], **params):  # type: ignore[no-untyped-def]
    op = get_op(kind)
    assert op is not None
    validated = op.Params.model_validate(params)
    output = op.output_shape(validated, shapes)
    return output, op.parameter_count(validated, shapes, output), op.macs(validated, shapes, output)


class TestLinear:
    def test_features_and_tokens(self):
        assert infer("linear", [(768,)], features=10) == ((10,), 7690, 7680)
        assert infer("linear", [(197, 768)], features=3072) == ((197, 3072), 768 * 3072 + 3072, 197 * 768 * 3072)

    def test_an_image_without_flatten_stays_an_error_with_its_hint(self):
        with pytest.raises(ShapeError, match=r"add a 'flatten' layer before it \(giving 150 features\)$"):
            infer("linear", [(6, 5, 5)], features=10)

    def test_channels_last_applies_at_every_position(self):
        assert infer("linear", [(56, 56, 96)], features=384, channels_last=True) == (
            (56, 56, 384), 96 * 384 + 384, 56 * 56 * 96 * 384)


class TestLayerNorm:
    @pytest.mark.parametrize(("shape", "features"), [((768,), 768), ((197, 768), 768), ((96, 56, 56), 96)])
    def test_normalizes_features_tokens_or_image_channels(self, shape, features):
        assert infer("layer_norm", [shape]) == (shape, 2 * features, 0)

    def test_channels_last_normalizes_the_last_axis(self):
        assert infer("layer_norm", [(56, 56, 96)], channels_last=True) == ((56, 56, 96), 192, 0)

    def test_rank_four_needs_channels_last(self):
        with pytest.raises(ShapeError, match="channels_last"):
            infer("layer_norm", [(2, 3, 4, 5)])


class TestReshape:
    def test_permute_and_its_errors(self):
        assert infer("permute", [(96, 56, 28)], axes=[1, 2, 0])[0] == (56, 28, 96)
        with pytest.raises(ShapeError, match="not an order"):
            infer("permute", [(96, 56, 28)], axes=[1, 0])

    def test_flatten_a_range(self):
        assert infer("flatten", [(768, 14, 14)], start=1)[0] == (768, 196)
        assert infer("flatten", [(768, 14, 14)])[0] == (768 * 196,)
        assert infer("flatten", [(2, 3, 4, 5)], start=1, end=2)[0] == (2, 12, 5)
        with pytest.raises(ShapeError, match="not a range"):
            infer("flatten", [(768, 14, 14)], start=2, end=1)

    def test_patch_merging_halves_and_pads(self):
        assert infer("patch_merging", [(56, 56, 96)]) == ((28, 28, 192), 384 * 192 + 2 * 384, 28 * 28 * 384 * 192)
        assert infer("patch_merging", [(7, 5, 8)], norm_first=False)[:2] == ((4, 3, 16), 32 * 16 + 32)


class TestTokens:
    def test_learned_tensor_of_a_given_shape_or_its_inputs(self):
        assert infer("learned", [(3, 224, 224)], shape=[1, 768]) == ((1, 768), 768, 0)
        assert infer("learned", [(197, 768)]) == ((197, 768), 197 * 768, 0)

    def test_select_a_token(self):
        assert infer("select", [(197, 768)], index=0)[0] == (768,)
        with pytest.raises(ShapeError, match="out of range"):
            infer("select", [(197, 768)], index=197)
        with pytest.raises(ShapeError, match="sequence"):
            infer("select", [(768,)], index=0)


class TestAttention:
    def test_counts_follow_torchvisions_convention(self):
        # projections (in: 3 D^2, out: D^2 per token) and the two attention matmuls (2 L^2 D)
        assert infer("attention", [(197, 768)], heads=12) == (
            (197, 768), 4 * 768 * 768 + 4 * 768, 4 * 197 * 768 * 768 + 2 * 197 * 197 * 768)

    def test_an_image_is_an_error_with_a_hint(self):
        with pytest.raises(ShapeError, match="tokens"):
            infer("attention", [(768, 14, 14)], heads=12)
        with pytest.raises(ShapeError, match="do not split"):
            infer("attention", [(197, 768)], heads=7)

    def test_window_attention_pads_to_whole_windows(self):
        output, params, macs = infer("window_attention", [(28, 28, 192)], heads=6, window=7, shift=3)
        assert output == (28, 28, 192)
        assert params == 13 * 13 * 6 + 4 * 192 * 192 + 4 * 192
        assert macs == 28 * 28 * (4 * 192 * 192 + 2 * 49 * 192)
        assert infer("window_attention", [(10, 10, 8)], heads=2, window=7)[2] == 14 * 14 * (4 * 64 + 2 * 49 * 8)

    def test_window_attention_wants_a_channels_last_image(self):
        with pytest.raises(ShapeError, match="channels-last"):
            infer("window_attention", [(49, 96)], heads=3)
        with pytest.raises(ShapeError, match="smaller than the window"):
            infer("window_attention", [(14, 14, 96)], heads=3, window=7, shift=7)

    @pytest.mark.parametrize("partition", ["window", "grid"])
    def test_partition_attention_counts_as_window_attention_does(self, partition):
        output, params, macs = infer("partition_attention", [(28, 28, 128)], heads=4, size=7, partition=partition)
        assert output == (28, 28, 128)
        assert params == 13 * 13 * 4 + 4 * 128 * 128 + 4 * 128
        assert macs == 28 * 28 * (4 * 128 * 128 + 2 * 49 * 128)
        assert infer("partition_attention", [(6, 4, 8)], heads=2, size=[3, 2])[1] == 5 * 3 * 2 + 4 * 64 + 4 * 8

    def test_partition_attention_wants_whole_partitions(self):
        with pytest.raises(ShapeError, match="channels-last"):
            infer("partition_attention", [(49, 96)], heads=3)
        with pytest.raises(ShapeError, match="a 30×28 image does not split into grids of 7×7"):
            infer("partition_attention", [(30, 28, 96)], heads=3, partition="grid")
        with pytest.raises(ShapeError, match="do not split into 5 heads"):
            infer("partition_attention", [(14, 14, 96)], heads=5)

    def test_window_attention_v2_counts_its_position_bias_mlp(self):
        # torchvision's swin_v2_t, first block: cpb_mlp is Linear(2, 512) + Linear(512, heads, no bias) over
        # the 15 x 15 relative offsets of an 8 x 8 window, and one logit scale per head
        output, params, macs = infer("window_attention_v2", [(64, 64, 96)], heads=3, window=8, shift=4)
        assert output == (64, 64, 96)
        assert params == 4 * 96 * 96 + 4 * 96 + 3 + (2 * 512 + 512) + 512 * 3 == 40_323
        assert macs == 64 * 64 * (4 * 96 * 96 + 2 * 64 * 96) + 15 * 15 * 512 * (2 + 3)
        assert infer("window_attention_v2", [(8, 8, 4)], heads=2, window=2, bias_hidden=16)[1] == (
            4 * 16 + 4 * 4 + 2 + 3 * 16 + 16 * 2)

    def test_window_attention_v2_shape_errors_name_it(self):
        with pytest.raises(ShapeError, match="window_attention_v2 expects a channels-last image"):
            infer("window_attention_v2", [(49, 96)], heads=3)
        with pytest.raises(ShapeError, match="window_attention_v2: 96 channels do not split"):
            infer("window_attention_v2", [(16, 16, 96)], heads=5, window=8)
