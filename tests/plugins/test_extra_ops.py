"""Each op of the example plugin, rule by rule: shapes, counts and labels against its torch module,
its module against a plain computation, its ONNX lowering against torch, its errors located."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from archspec.backends.onnx import write_onnx
from archspec.errors import SpecError
from tests.backends.onnx.onnx_roundtrip import build, export_and_compare
from tests.backends.onnx.spec_files import spec_graph

pytestmark = pytest.mark.usefixtures("extra_ops")


@pytest.mark.parametrize(("channels", "reduction", "gate"), [
    (16, 4, "sigmoid"), (7, 2, "hard_sigmoid"), (1, 1, "sigmoid"), (30, 16, "sigmoid")])
def test_squeeze_excite_counts_are_its_modules(tmp_path: Path, channels: int, reduction: int, gate: str) -> None:
    graph = spec_graph(tmp_path, [{"squeeze_excite": {"reduction": reduction, "gate": gate}}], (channels, 5, 6))
    node = graph.node("se1")
    hidden = channels // reduction
    assert node.output_shape == (channels, 5, 6)
    assert node.parameters == 2 * channels * hidden + hidden + channels
    assert node.macs == 2 * channels * hidden
    assert node.label == f"SE 1/{reduction}" + (", hard gate" if gate == "hard_sigmoid" else "")
    module = build(graph).se1
    assert sum(p.numel() for p in module.parameters()) == node.parameters


def test_squeeze_excite_computes_the_gate_from_channel_averages(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"squeeze_excite": 2}], (4, 3, 3))
    layer = build(graph).se1
    x = torch.randn(2, 4, 3, 3)
    squeezed = x.mean(dim=(2, 3))
    hidden = torch.relu(squeezed @ layer.reduce.weight.flatten(1).T + layer.reduce.bias)
    gate = torch.sigmoid(hidden @ layer.expand.weight.flatten(1).T + layer.expand.bias)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), x * gate[:, :, None, None])


def test_hardswish_and_channel_shuffle_compute_what_torch_does() -> None:
    from archspec_extra_ops.layers import ChannelShuffle, HardSwish

    x = torch.randn(2, 6, 4, 5) * 4
    torch.testing.assert_close(HardSwish()(x), F.hardswish(x))
    torch.testing.assert_close(ChannelShuffle(3)(x), torch.nn.ChannelShuffle(3)(x))
    assert ChannelShuffle(2)(torch.arange(4.0).reshape(1, 4, 1, 1)).flatten().tolist() == [0.0, 2.0, 1.0, 3.0]


@pytest.mark.parametrize(("layers", "input_shape", "message"), [
    (["h_swish", {"squeeze_excite": 8}], (4, 5, 5),
     "layer 'se1' (squeeze_excite): reduction 8 leaves no hidden channels for 4 input channels "
     "(use a reduction of at most 4)"),
    ([{"shuffle_channels": 3}], (4, 5, 5),
     "layer 'shuffle1' (shuffle_channels): 4 channels cannot be split into 3 equal groups"),
    (["h_swish", "squeeze_excite"], (12,),
     "layer 'se1' (squeeze_excite): squeeze_excite expects an image tensor [C, H, W], got a flat tensor of 12 "
     "features"),
])
def test_shape_errors_are_located_on_the_layer(tmp_path: Path, layers: list[Any], input_shape: tuple[int, ...],
                                               message: str) -> None:
    with pytest.raises(SpecError) as raised:
        spec_graph(tmp_path, layers, input_shape)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == message
    assert diagnostic.location is not None and diagnostic.location.line_text.strip().startswith(
        f"- {next(iter(layers[-1])) if isinstance(layers[-1], dict) else layers[-1]}")


@pytest.mark.parametrize(("layers", "onnx_ops"), [
    ([{"conv2d": {"channels": 8, "kernel": 3}}, {"squeeze_excite": 2}],
     ["Conv", "GlobalAveragePool", "Conv", "Relu", "Conv", "Sigmoid", "Mul"]),
    ([{"squeeze_excite": {"reduction": 3, "gate": "hard_sigmoid"}}],
     ["GlobalAveragePool", "Conv", "Relu", "Conv", "HardSigmoid", "Mul"]),
    (["h_swish", {"conv2d": {"channels": 3, "kernel": 1}}, "h_swish"], ["HardSwish", "Conv", "HardSwish"]),
])
def test_lowerings_export_what_torch_computes(tmp_path: Path, layers: list[Any], onnx_ops: list[str]) -> None:
    graph = spec_graph(tmp_path, layers, (6, 7, 5))
    model = export_and_compare(graph, tmp_path, batches=(1, 4))
    assert [node.op_type for node in model.graph.node] == onnx_ops
    assert {node.name for node in model.graph.node} >= {layer.name for layer in graph.layers}


def test_squeeze_excite_weights_keep_their_state_dict_names(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"squeeze_excite": 2}], (4, 3, 3))
    model = export_and_compare(graph, tmp_path)
    assert {tensor.name for tensor in model.graph.initializer} == {
        "se1.reduce.weight", "se1.reduce.bias", "se1.expand.weight", "se1.expand.bias"}


def test_hardswish_asks_for_opset_14(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, ["relu", "h_swish"], (2, 4, 4))
    with pytest.raises(SpecError) as raised:
        write_onnx(graph, build(graph), tmp_path / "out" / "net.onnx", opset=13)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == ("cannot export layer 'hswish1' (h_swish) to ONNX: HardSwish needs ONNX opset 14 "
                                  "or newer, but opset 13 was asked for")
    assert diagnostic.hint == "export with --opset 18"
    assert not (tmp_path / "out").exists()


def test_channel_shuffle_has_no_onnx_lowering_and_says_how_to_add_one(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"conv2d": {"channels": 4, "kernel": 1}}, {"shuffle_channels": 2}, "h_swish"],
                       (2, 4, 4))
    with pytest.raises(SpecError) as raised:
        write_onnx(graph, build(graph), tmp_path / "out" / "net.onnx")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == ("cannot export layer 'shuffle1' (shuffle_channels) to ONNX: op 'shuffle_channels' "
                                  "has no ONNX lowering")
    assert diagnostic.hint == "define ChannelShuffle.to_onnx(params, context) to add one"
    assert diagnostic.location is not None and diagnostic.location.line_text.strip() == "- shuffle_channels: 2"
    assert not (tmp_path / "out").exists()


def test_init_schemes_reach_the_specs_layers_not_the_modules_inside_a_plugin_layer() -> None:
    """se_resnet says ``init: {conv2d: kaiming_normal}``: its conv2d layers get it, the 1×1 convolutions
    inside each squeeze-and-excitation keep PyTorch's default (uniform within 1/sqrt(fan_in))."""
    import archspec
    from archspec.backends.torch import python_source
    from tests.plugins.conftest import SE_RESNET

    graph = archspec.analyse(str(SE_RESNET))
    model = archspec.build(str(SE_RESNET), seed=0)
    for name in ("stage1.0.se1", "stage3.1.se1"):
        reduce = model.get_submodule(name).reduce
        assert float(reduce.weight.detach().abs().max()) <= reduce.in_channels ** -0.5
    stem = model.get_submodule("conv1").weight.detach()
    assert float(stem.abs().max()) > (3 * 9) ** -0.5, "the stem has kaiming_normal, not the default"
    source = python_source(graph)
    assert "isinstance(module, nn.Conv2d)" not in source and '"stage3.1.conv2",' in source
