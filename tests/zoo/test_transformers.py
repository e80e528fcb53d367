"""The transformer-era families (ConvNeXt, ViT, Swin, Swin v2) against torchvision: figures, ported outputs,
input sizes; and torch.compile for them and MaxViT.

Static figures are checked for every model; ported-output equality for one model per family by default and
for all of them under ``pytest -m zoo``.
"""

from __future__ import annotations

import pytest

import archspec
from tests.zoo.marks import spec_param
from tests.zoo.reference import TORCHVISION, torchvision_models

FAMILIES = {
    "convnext": ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large"),
    "vit": ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"),
    "swin": ("swin_t", "swin_s", "swin_b"),
    "swin_v2": ("swin_v2_t", "swin_v2_s", "swin_v2_b"),
}
"""MaxViT's figures, ported outputs and ONNX are checked by tests/zoo/test_zoo.py (tests/zoo/harness.py's table)."""
MODELS = [name for names in FAMILIES.values() for name in names]


@pytest.mark.parametrize("name", MODELS)
def test_parameters_macs_and_resolution_are_torchvisions(name: str) -> None:
    published = TORCHVISION[name]
    graph = archspec.analyse(name)
    assert graph.input_shape == (3, published.resolution, published.resolution)
    assert graph.parameters == published.params
    assert graph.macs / 1e9 == pytest.approx(published.gmacs, rel=0.01)


def _torchvision(name: str, resolution: int):  # type: ignore[no-untyped-def]
    import torch

    build = getattr(torchvision_models(), name)
    model = build(image_size=resolution) if name.startswith("vit") else build()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # torchvision zeroes its heads: random values make the comparison mean something
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return model.eval()


@pytest.mark.parametrize("name", [spec_param(name, large=True) for name in MODELS])
def test_ported_torchvision_weights_give_torchvisions_outputs(name: str) -> None:
    import torch

    resolution = TORCHVISION[name].resolution
    reference = _torchvision(name, resolution)
    model = archspec.build(name, seed=0).eval()
    report = archspec.port_weights(model, reference)
    assert report.values == sum(t.numel() for t in reference.state_dict().values())
    images = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = reference(images), model(images)
    scale = max(1.0, float(expected.abs().max()))
    assert float((actual - expected).abs().max()) <= 1e-4 * scale


@pytest.mark.parametrize(("size", "tokens"), [(224, 197), (384, 577)])
def test_vit_position_embedding_follows_the_input_size(size: int, tokens: int) -> None:
    graph = archspec.analyse("vit_b_16", input_shape=(3, size, size))
    assert graph.node("encoder.pos_embedding").output_shape == (tokens, 768)
    assert graph.parameters == TORCHVISION["vit_b_16"].params + (tokens - 197) * 768


def test_vit_h_14_at_224_has_torchvisions_count_there() -> None:
    assert archspec.analyse("vit_h_14", input_shape=(3, 224, 224)).parameters == 632_045_800


@pytest.mark.parametrize("name", ["swin_t", "convnext_tiny"])
def test_other_input_sizes_analyse(name: str) -> None:
    graph = archspec.analyse(name, input_shape=(3, 160, 200))
    assert graph.output_shape == (1000,)


SMALL = {  # one block per stage, small inputs: the same ops and code paths as the full models
    "convnext_tiny": ({"depths": [1, 1, 1, 1]}, (3, 64, 64)),
    "vit_b_32": ({"depth": 1}, (3, 64, 64)),
    "swin_t": ({"depths": [2, 2, 2, 2]}, (3, 64, 64)),
    "maxvit_t": ({"layers": [1, 1, 1, 1], "partition_size": 2}, (3, 64, 64)),
    "swin_v2_t": ({"depths": [2, 2, 2, 2]}, (3, 64, 64)),
}


@pytest.mark.parametrize("name", SMALL)
def test_torch_compile_fullgraph_has_no_graph_breaks(name: str) -> None:
    import torch

    variables, shape = SMALL[name]
    model = archspec.build(name, seed=0, variables=variables, input_shape=shape).eval()
    images = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        assert torch.allclose(compiled(images), model(images), atol=1e-5)
