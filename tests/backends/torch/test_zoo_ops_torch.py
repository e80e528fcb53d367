"""The zoo's ops compute what torch (and torchvision) compute, in the built module and in ONNX."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from archspec.backends.torch import build_module
from tests.backends.onnx.onnx_roundtrip import export_and_compare
from tests.backends.onnx.spec_files import spec_graph

ACTIVATIONS = {"relu6": F.relu6, "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "silu": F.silu,
               "mish": F.mish}


@pytest.mark.parametrize("kind", sorted(ACTIVATIONS))
def test_activation_equals_torch_and_exports(kind: str, tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"conv2d": {"channels": 4, "kernel": 1}}, kind], (3, 5, 5))
    module = build_module(graph, seed=0).eval()
    x = torch.randn(2, 3, 5, 5) * 4
    with torch.no_grad():
        assert torch.equal(module(x), ACTIVATIONS[kind](module.conv1(x)))
    export_and_compare(graph, tmp_path)


def squeeze_excite_and_shuffle(tmp_path: Path):
    layers = [
        {"conv2d": {"channels": 8, "kernel": 3, "padding": 1}, "name": "features"},
        "global_avgpool",
        {"conv2d": {"channels": 8, "kernel": 1}},
        {"hardsigmoid": {}, "name": "gate"},
        {"multiply": ["features", "gate"], "name": "gated"},
        {"chunk": {"parts": 2, "index": 0}, "name": "kept"},
        {"chunk": {"parts": 2, "index": 1}, "inputs": "gated"},
        {"relu6": {}, "name": "moved"},
        {"concat": ["kept", "moved"]},
        {"channel_shuffle": 2},
        {"stochastic_depth": 0.5},
    ]
    return spec_graph(tmp_path, layers, (3, 6, 6))


def test_gate_chunk_and_shuffle_compute_what_torchvision_writes(tmp_path: Path) -> None:
    module = build_module(squeeze_excite_and_shuffle(tmp_path), seed=0).eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        features = module.features(x)
        gated = features * F.hardsigmoid(module.conv1(features.mean((2, 3), keepdim=True)))
        kept, other = gated.chunk(2, dim=1)
        joined = torch.cat([kept, F.relu6(other)], dim=1)
        n, c, h, w = joined.shape
        expected = joined.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)  # torchvision's shuffle
        torch.testing.assert_close(module(x), expected)


def test_gate_chunk_and_shuffle_export(tmp_path: Path) -> None:
    export_and_compare(squeeze_excite_and_shuffle(tmp_path), tmp_path)


def test_stochastic_depth_drops_whole_samples_in_training_only(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"stochastic_depth": 0.5}], (4, 3, 3))
    module = build_module(graph, seed=0)
    x = torch.ones(64, 4, 3, 3)
    torch.manual_seed(0)
    out = module.train()(x)
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert (per_sample == per_sample[:, :1]).all()  # the whole row together
    assert 0 < int((per_sample[:, 0] == 0).sum()) < 64
    assert torch.equal(module.eval()(x), x)


def window_attention_v2(tmp_path: Path):
    layers = [{"permute": [1, 2, 0]}, {"window_attention_v2": {"heads": 2, "window": [4, 3], "shift": [2, 1]}}]
    return spec_graph(tmp_path, layers, (8, 10, 7))  # padded to whole windows, shifted along both axes


def test_window_attention_v2_computes_what_torchvision_computes(tmp_path: Path) -> None:
    from tests.zoo.reference import torchvision_models

    torchvision_models()
    from torchvision.models.swin_transformer import ShiftedWindowAttentionV2

    module = build_module(window_attention_v2(tmp_path), seed=0).eval()
    reference = ShiftedWindowAttentionV2(8, [4, 3], [2, 1], 2).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # the keys' bias too: both must ignore it
        for parameter in reference.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    assert list(module.attn1.state_dict()) == list(reference.state_dict())
    module.attn1.load_state_dict(reference.state_dict())
    x = torch.randn(2, 8, 10, 7, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x.permute(0, 2, 3, 1)), atol=1e-5, rtol=1e-5)


def test_window_attention_v2_resets_as_torchvision_initializes(tmp_path: Path) -> None:
    layer = build_module(window_attention_v2(tmp_path), seed=0).attn1
    assert torch.equal(layer.logit_scale, torch.full((2, 1, 1), 10.0).log())
    assert not layer.qkv.bias[8:16].any() and layer.qkv.bias[:8].any()


def test_window_attention_v2_exports(tmp_path: Path) -> None:
    export_and_compare(window_attention_v2(tmp_path), tmp_path)
