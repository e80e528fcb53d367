"""``archspec.import_onnx``: ONNX files (archspec's own and torch's exporters') read back as specs.

The bar: a spec archspec exported reads back with the same analysis layer by layer, and a module
torch exported reads back as a spec that, built with the imported weights, computes what
onnxruntime computes on the source file (within 1e-4 of the output's scale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import archspec
from archspec.importers.onnx import import_onnx_file, read_onnx
from archspec.importers.recover import recover
from archspec.importers.write import spec_state_dict
from tests.zoo.harness import randomize_batch_norms, torchvision_model
from tests.zoo.marks import spec_param

INFERENCE_IDENTITIES = {"dropout", "identity", "stochastic_depth"}
"""Layers an exporter writes as Identity (or leaves out): they have no counterpart to read back."""


def export_torch(module: torch.nn.Module, shape: tuple[int, ...], path: Path, *, dynamo: bool = False) -> Path:
    example = torch.randn(2 if dynamo else 1, *shape)  # dynamo specializes a batch of 1
    if dynamo:
        torch.onnx.export(module, (example,), str(path), dynamo=True, verbose=False,
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
    else:
        torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    return path


def imported_module(source: Path, tmp_path: Path) -> torch.nn.Module:
    """The source imported as a spec and weights, then built from those files."""
    spec, weights = tmp_path / "imported.yaml", tmp_path / "imported.pt"
    spec.write_text(import_onnx_file(source, weights=weights))
    return archspec.build(str(spec), weights=str(weights)).eval()


def assert_matches_onnxruntime(source: Path, module: torch.nn.Module, shape: tuple[int, ...]) -> None:
    import onnxruntime

    inputs = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    with torch.no_grad():
        got = module(torch.from_numpy(inputs)).numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))


# -- torch's exporters -----------------------------------------------------------------------------

class SmallNet(torch.nn.Module):
    """Most of what torch's exporters write: conv + bn, SiLU, hardswish, a residual, pooling, GELU, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
                                        torch.nn.BatchNorm2d(8), torch.nn.SiLU())
        self.branch = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1, groups=2), torch.nn.Hardswish())
        self.pool = torch.nn.MaxPool2d(3, stride=2, padding=1)
        self.gate = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Conv2d(8, 8, 1), torch.nn.Hardsigmoid())
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 32), torch.nn.GELU(),
                                        torch.nn.Dropout(0.2), torch.nn.Linear(32, 10), torch.nn.Softmax(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.branch(x) + x
        x = self.pool(x)
        x = x * self.gate(x)
        x = torch.nn.functional.relu6(torch.nn.functional.avg_pool2d(x, 2))
        return self.head(torch.cat([x[:, :4], x[:, 4:]], dim=1))


@pytest.fixture
def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = SmallNet().eval()
    randomize_batch_norms(net)
    return net


def test_torchscript_export_reads_back_with_onnxruntimes_outputs(small_net: torch.nn.Module, tmp_path: Path) -> None:
    source = export_torch(small_net, (3, 32, 32), tmp_path / "small.onnx")
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 32, 32))


@pytest.mark.slow
def test_dynamo_export_reads_back_with_onnxruntimes_outputs(small_net: torch.nn.Module, tmp_path: Path) -> None:
    source = export_torch(small_net, (3, 32, 32), tmp_path / "small.onnx", dynamo=True)
    module = imported_module(source, tmp_path)
    assert_matches_onnxruntime(source, module, (3, 32, 32))
    model = read_onnx(source)
    assert model.layers[0].scope[0] == "stem"  # module paths from the metadata (conv + bn fused: bn's)
    assert model.layers[0].scope_types == ("Sequential", "BatchNorm2d")


def test_torchscript_node_names_give_module_paths(small_net: torch.nn.Module, tmp_path: Path) -> None:
    model = read_onnx(export_torch(small_net, (3, 32, 32), tmp_path / "small.onnx"))
    paths = recover(model).paths
    first = model.layers[0]
    assert first.scope == ("stem", "0") and first.op == "conv2d"  # conv + bn folded by the exporter
    assert paths[first.id] == "stem.0"
    joins = [layer for layer in model.layers if layer.op == "add"]
    assert joins and joins[0].scope == () and joins[0].name == ""  # a function call in the root module


def test_a_unet_whose_decoder_list_runs_between_concatenations_reads_back(tmp_path: Path) -> None:
    from tests.importers.test_torch import TinyUNet

    torch.manual_seed(0)
    net = TinyUNet().eval()
    randomize_batch_norms(net)
    source = export_torch(net, (3, 16, 16), tmp_path / "unet.onnx")
    text = import_onnx_file(source)
    assert "name: up.0}" in text and "name: up.1}" in text
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 16, 16))


def test_a_spec_with_containers_reads_back_with_the_same_analysis(tmp_path: Path) -> None:
    original = archspec.analyse(str(Path(__file__).resolve().parents[1] / "data" / "containers" / "tiny_unet.yaml"))
    archspec.compile(original, outputs=["onnx"], out_dir=str(tmp_path))
    imported = tmp_path / "imported.yaml"
    imported.write_text(import_onnx_file(tmp_path / "tiny_unet.onnx"))
    again = archspec.analyse(str(imported))
    assert [node.name for node in again.layers] == [node.name for node in original.layers]
    assert (again.parameters, again.macs) == (original.parameters, original.macs)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", pytest.param("resnet50", marks=pytest.mark.slow)])
def test_torchvision_models_through_torchscript(name: str, tmp_path: Path) -> None:
    net = torchvision_model(name)
    randomize_batch_norms(net)
    source = export_torch(net, (3, 224, 224), tmp_path / f"{name}.onnx")
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 224, 224))


@pytest.mark.slow
def test_torchvision_model_through_dynamo(tmp_path: Path) -> None:
    net = torchvision_model("shufflenet_v2_x0_5")
    randomize_batch_norms(net)
    source = export_torch(net, (3, 224, 224), tmp_path / "shufflenet.onnx", dynamo=True)
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 224, 224))


class SqueezedHead(torch.nn.Module):
    """A global pool, then ``x.flatten(1)``: dynamo writes a ``Reshape`` of [C, 1, 1] to [C] (MobileNet v3's,
    EfficientNet's and DenseNet's heads)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_reshape_that_drops_unit_axes_is_a_flatten(dynamo: bool, tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = export_torch(SqueezedHead().eval(), (3, 8, 8), tmp_path / "head.onnx", dynamo=dynamo)
    assert [layer.op for layer in read_onnx(source).layers] == ["conv2d", "global_avgpool", "flatten", "linear"]
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 8, 8))


class Shuffled(torch.nn.Module):
    """torchvision's ``channel_shuffle`` between two convolutions, its sizes read from ``x.size()``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 12, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(12, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        batch, channels, height, width = x.size()
        x = x.view(batch, 3, channels // 3, height, width)
        x = torch.transpose(x, 1, 2).contiguous()
        return self.conv2(x.view(batch, channels, height, width))


class Scaled(torch.nn.Module):
    """ConvNeXt's layer scale: two blocks whose equal ``[C, 1, 1]`` scales TorchScript stores once (the second
    an ``Identity`` of the first), each multiplying its block's output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.Conv2d(6, 6, 3, padding=1)
        self.scale1 = torch.nn.Parameter(torch.full((6, 1, 1), 0.5))
        self.scale2 = torch.nn.Parameter(torch.full((6, 1, 1), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale1 * self.conv1(x)
        return x + self.scale2 * self.conv2(x)


def test_a_layer_scale_reads_back_as_learned_and_multiply(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = export_torch(Scaled().eval(), (3, 8, 8), tmp_path / "scaled.onnx")
    text = import_onnx_file(source)
    assert text.count("{learned: [6, 1, 1]") == 2 and text.count("{multiply: [learned") == 2
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 8, 8))


class Attending(torch.nn.Module):
    """Tokens from a convolution, ``nn.MultiheadAttention`` (batch first) as self-attention, a residual."""

    def __init__(self, bias: bool = True) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 12, 4, stride=4)
        self.attention = torch.nn.MultiheadAttention(12, 3, bias=bias, batch_first=True)
        self.head = torch.nn.Linear(12, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x).flatten(2).transpose(1, 2)
        x = x + self.attention(x, x, x, need_weights=False)[0]
        return self.head(x[:, 0])


def with_random_biases(module: torch.nn.Module) -> torch.nn.Module:
    """nn.MultiheadAttention starts with biases of zeros, which exporters may drop: give it others."""
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.endswith("bias"):
                parameter.normal_()
    return module


@pytest.mark.parametrize(("dynamo", "bias"), [(False, True), (False, False),
                                              pytest.param(True, True, marks=pytest.mark.slow)])
def test_torchs_multihead_attention_reads_back_as_attention(dynamo: bool, bias: bool, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = with_random_biases(Attending(bias).eval())
    source = export_torch(net, (3, 16, 16), tmp_path / "attention.onnx", dynamo=dynamo)
    layers = read_onnx(source).layers
    attention = next(layer for layer in layers if layer.op == "attention")
    assert dict(attention.params) == {"heads": 3} | ({} if bias else {"bias": False})
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 16, 16))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_small_vision_transformer_exported_by_torch_reads_back(dynamo: bool, tmp_path: Path) -> None:
    """torchvision's ViT with small variables: class token, position embedding, attention, MLP, head."""
    from tests.zoo.reference import torchvision_models

    torch.manual_seed(0)
    net = with_random_biases(torchvision_models().VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10).eval())
    source = export_torch(net, (3, 32, 32), tmp_path / "vit.onnx", dynamo=dynamo)
    assert [layer.op for layer in read_onnx(source).layers].count("attention") == 2
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 32, 32))


def small_swin(v2: bool = False) -> torch.nn.Module:
    """torchvision's Swin with small variables, biases random: at 44×44 its patches are 11×11 (padded to whole
    4×4 windows, and by patch merging to 12×12), then 6×6 (padded to 8×8), each stage a plain and a shifted block."""
    from tests.zoo.reference import torchvision_models

    swin = torchvision_models().swin_transformer
    blocks = {"block": swin.SwinTransformerBlockV2, "downsample_layer": swin.PatchMergingV2} if v2 else {}
    torch.manual_seed(0)
    return with_random_biases(swin.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                                   window_size=[4, 4], num_classes=10, **blocks).eval())


@pytest.mark.parametrize(("cosine", "shift"), [(False, (0, 0)), (False, (2, 1)), (True, (2, 2))])
def test_the_window_attention_a_torch_export_is_checked_against_is_the_ops(cosine: bool,
                                                                         shift: tuple[int, int]) -> None:
    """The numpy computation that torch's exported Swin attention must match is archspec.nn's, padding included."""
    from archspec.nn import WindowAttention, WindowAttentionV2
    from archspec.ops.window_attention_onnx import window_attention

    torch.manual_seed(0)
    kind = WindowAttentionV2 if cosine else WindowAttention
    module = with_random_biases(kind(16, 2, (4, 4), shift)).eval()
    if not cosine:
        torch.nn.init.normal_(module.relative_position_bias_table)
    image = torch.randn(2, 6, 7, 16)
    weights = {key: value.numpy() for key, value in module.state_dict().items()}
    with torch.no_grad():
        expected = module(image).numpy()
    got = window_attention(image.numpy(), weights, 2, (4, 4), shift, cosine=cosine)
    assert np.abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize("norm_first", [True, False])
def test_the_patch_merging_a_torch_export_is_checked_against_is_the_ops(norm_first: bool) -> None:
    from archspec.nn import PatchMerging
    from archspec.ops.patch_merging_onnx import patch_merging

    torch.manual_seed(0)
    module = with_random_biases(PatchMerging(8, 12, norm_first=norm_first)).eval()
    image = torch.randn(2, 5, 6, 8)
    weights = {key: value.numpy() for key, value in module.state_dict().items()}
    with torch.no_grad():
        expected = module(image).numpy()
    assert np.abs(patch_merging(image.numpy(), weights, 1e-5, norm_first) - expected).max() <= 1e-5


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_small_swin_exported_by_torch_reads_back(dynamo: bool, tmp_path: Path) -> None:
    """Shifted window attention (pad, roll, windows, bias, mask, and back) reads as ``window_attention``, patch
    merging as ``patch_merging``; dynamo's classifier writes an ``as_strided`` that is no layer."""
    source = export_torch(small_swin(), (3, 44, 44), tmp_path / "swin.onnx", dynamo=dynamo)
    layers = read_onnx(source).layers
    attention = [dict(layer.params) for layer in layers if layer.op == "window_attention"]
    assert attention == [{"heads": 2, "window": 4}, {"heads": 2, "window": 4, "shift": 2},
                         {"heads": 4, "window": 4}, {"heads": 4, "window": 4, "shift": 2}]
    assert [layer.op for layer in layers].count("patch_merging") == 1
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 44, 44))


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_small_swin_v2_exported_by_torch_reads_back(dynamo: bool, tmp_path: Path) -> None:
    """Swin v2's cosine attention reads as ``window_attention_v2``, its logit scale and position-bias MLP taken
    from the nodes that compute them; ``PatchMergingV2`` as ``patch_merging`` with the norm after."""
    source = export_torch(small_swin(v2=True), (3, 44, 44), tmp_path / "swin_v2.onnx", dynamo=dynamo)
    layers = read_onnx(source).layers
    assert [dict(layer.params) for layer in layers if layer.op == "window_attention_v2"] == [
        {"heads": 2, "window": 4}, {"heads": 2, "window": 4, "shift": 2},
        {"heads": 4, "window": 4}, {"heads": 4, "window": 4, "shift": 2}]
    assert [dict(layer.params) for layer in layers if layer.op == "patch_merging"] == [{"norm_first": False}]
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 44, 44))


@pytest.mark.slow
def test_a_small_convnext_through_dynamo_reads_back(tmp_path: Path) -> None:
    """dynamo writes the classifier's ``view`` after the global pool as an ``as_strided`` (a ``Reshape`` to one
    axis and a ``Gather`` of indices computed from the batch) that gives its input back: no layer."""
    from tests.zoo.reference import torchvision_models

    convnext = torchvision_models().convnext
    torch.manual_seed(0)
    net = convnext.ConvNeXt([convnext.CNBlockConfig(8, 16, 1), convnext.CNBlockConfig(16, None, 1)],
                            num_classes=10).eval()
    source = export_torch(net, (3, 32, 32), tmp_path / "convnext.onnx", dynamo=True)
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 32, 32))


def test_a_channel_shuffle_exported_by_torchscript_reads_back(tmp_path: Path) -> None:
    """TorchScript computes the second view's shape after the first view: it is folded when the shuffle asks."""
    torch.manual_seed(0)
    source = export_torch(Shuffled().eval(), (3, 6, 6), tmp_path / "shuffle.onnx")
    model = read_onnx(source)
    assert [(layer.op, dict(layer.params)) for layer in model.layers][1] == ("channel_shuffle", {"groups": 3})
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), (3, 6, 6))


# -- archspec's own export, read back --------------------------------------------------------------

def figures(graph: archspec.Graph) -> list[tuple[Any, ...]]:
    """Per layer: output shape, parameters, MACs; layers that export as Identity left out."""
    kept = [node for node in graph.layers if node.op not in INFERENCE_IDENTITIES
            and not (node.op == "adaptive_avgpool2d" and node.output_shape == graph.node(node.inputs[0]).output_shape)]
    return [(node.output_shape, node.parameters, node.macs) for node in kept]


@pytest.mark.parametrize("spec", [
    "lenet5", "resnet18", "mobilenet_v2", "nin", "squeezenet1_0", "shufflenet_v2_x0_5", "mobilenet_v3_small",
    spec_param("efficientnet_b0", large=True), spec_param("googlenet", large=True), spec_param("alexnet", large=True),
    spec_param("convnext_tiny", large=True), spec_param("densenet121", large=True),
])
def test_archspec_export_reads_back_with_the_same_analysis(spec: str, tmp_path: Path) -> None:
    archspec.compile(spec, outputs=["onnx"], out_dir=str(tmp_path))
    imported = tmp_path / "imported.yaml"
    imported.write_text(import_onnx_file(tmp_path / f"{spec}.onnx"))
    original, again = archspec.analyse(spec), archspec.analyse(str(imported))
    assert figures(again) == figures(original)
    assert (again.parameters, again.macs, again.output_shape) == (original.parameters, original.macs,
                                                                   original.output_shape)


@pytest.mark.parametrize("spec", ["convnext_tiny", "vit_b_32", "swin_t", "swin_v2_t", "maxvit_t"])
def test_archspec_export_of_a_small_transformer_reads_back_with_the_same_analysis(spec: str, tmp_path: Path) -> None:
    from tests.zoo.test_transformers import SMALL

    variables, shape = SMALL[spec]
    original = archspec.analyse(spec, variables=variables, input_shape=shape)
    archspec.compile(original, outputs=["onnx"], out_dir=str(tmp_path))
    imported = tmp_path / "imported.yaml"
    imported.write_text(import_onnx_file(next(tmp_path.glob("*.onnx"))))
    again = archspec.analyse(str(imported))
    assert figures(again) == figures(original)
    assert (again.parameters, again.macs, again.output_shape) == (original.parameters, original.macs,
                                                                   original.output_shape)


@pytest.mark.parametrize("spec", ["convnext_tiny", "vit_b_32", "swin_t", "swin_v2_t", "maxvit_t"])
def test_a_small_transformer_reads_back_with_its_weights(spec: str, tmp_path: Path) -> None:
    """Built from the imported spec and weights, it computes what onnxruntime computes on archspec's file."""
    from tests.zoo.test_transformers import SMALL

    variables, shape = SMALL[spec]
    original = archspec.analyse(spec, variables=variables, input_shape=shape)
    archspec.compile(original, outputs=["onnx"], out_dir=str(tmp_path))
    source = next(tmp_path.glob("*.onnx"))
    assert_matches_onnxruntime(source, imported_module(source, tmp_path), tuple(shape))


def test_archspec_export_reads_back_with_its_names_and_weights(tmp_path: Path) -> None:
    module = archspec.build("resnet18", seed=0).eval()
    randomize_batch_norms(module)
    graph = archspec.analyse("resnet18")
    from archspec.backends.onnx import write_onnx

    write_onnx(graph, module, tmp_path / "resnet18.onnx")
    model = read_onnx(tmp_path / "resnet18.onnx")
    state = spec_state_dict(model)
    original = module.state_dict()
    assert set(state) == {key for key in original if not key.endswith("num_batches_tracked")}
    assert np.array_equal(state["layer1.0.conv1.weight"], original["layer1.0.conv1.weight"].numpy())
    rebuilt = imported_module(tmp_path / "resnet18.onnx", tmp_path)
    assert_matches_onnxruntime(tmp_path / "resnet18.onnx", rebuilt, (3, 224, 224))


# -- what cannot be read: clear errors, nothing written ---------------------------------------------

def write_graph(path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
                initializers: list[onnx.TensorProto] = (), outputs: list[str] = ("y",)) -> Path:  # type: ignore[assignment]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
                                                   for name in outputs], initializer=list(initializers))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def image_input(name: str = "x", dims: list[Any] = ("batch", 3, 8, 8)) -> onnx.ValueInfoProto:  # type: ignore[assignment]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def import_error(path: Path, tmp_path: Path) -> str:
    weights = tmp_path / "never.pt"
    with pytest.raises(archspec.SpecError) as error:
        import_onnx_file(path, weights=weights)
    assert not weights.exists()
    return str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in import_error(tmp_path / "absent.onnx", tmp_path)


def test_bytes_that_are_not_onnx_are_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "secret.onnx"
    path.write_bytes(b"password=hunter2\n" * 10)
    message = import_error(path, tmp_path)
    assert "is not an ONNX model" in message and "hunter2" not in message


def test_input_without_a_fixed_shape(tmp_path: Path) -> None:
    path = write_graph(tmp_path / "m.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                       [image_input(dims=["batch", 3, "height", "width"])])
    message = import_error(path, tmp_path)
    assert "no fixed shape except the batch" in message and "[batch, 3, height, width]" in message


def test_several_inputs(tmp_path: Path) -> None:
    path = write_graph(tmp_path / "m.onnx", [helper.make_node("Add", ["a", "b"], ["y"])],
                       [image_input("a"), image_input("b")])
    assert "2 inputs ('a', 'b')" in import_error(path, tmp_path)


def test_an_op_archspec_lacks_names_the_node_and_what_to_do(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="/features/relu/Relu"),
             helper.make_node("Cos", ["r"], ["c"], name="/features/cos/Cos"),
             helper.make_node("Erf", ["x"], ["e"], name="lonely_erf"),
             helper.make_node("Add", ["c", "e"], ["y"], name="/Add")]
    message = import_error(write_graph(tmp_path / "m.onnx", nodes, [image_input()]), tmp_path)
    assert "ONNX node '/features/cos/Cos' (Cos): op type Cos has no archspec counterpart" in message
    assert "Writing your own op" in message and "docs/custom-ops.md" in message
    assert "ONNX node 'lonely_erf' (Erf)" in message  # every problem at once
    assert "'/Add'" not in message  # a node after a failed one is not reported again


def test_a_parameter_archspec_cannot_express(tmp_path: Path) -> None:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.zeros(108, np.float32))
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="odd_pad", kernel_shape=[3, 3], pads=[0, 0, 2, 2])
    message = import_error(write_graph(tmp_path / "m.onnx", [conv], [image_input()], [weight]), tmp_path)
    assert "ONNX node 'odd_pad' (Conv): asymmetric padding" in message


def test_a_constant_scale_is_not_an_op(tmp_path: Path) -> None:
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [2.0])
    nodes = [helper.make_node("Mul", ["x", "s"], ["m"], name="scale"), helper.make_node("Relu", ["m"], ["y"])]
    message = import_error(write_graph(tmp_path / "m.onnx", nodes, [image_input()], [scale]), tmp_path)
    assert "ONNX node 'scale' (Mul): Mul with a constant operand" in message


def test_flatten_from_shape_computation_is_folded(tmp_path: Path) -> None:
    """``x.view(x.size(0), -1)`` as the TorchScript exporter writes it: Shape, Gather, Unsqueeze, Concat, Reshape."""
    constants = [helper.make_tensor("zero", TensorProto.INT64, [], [0]),
                 helper.make_tensor("axes", TensorProto.INT64, [1], [0]),
                 helper.make_tensor("rest", TensorProto.INT64, [1], [-1])]
    nodes = [helper.make_node("Shape", ["x"], ["shape"]), helper.make_node("Gather", ["shape", "zero"], ["batch"]),
             helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
             helper.make_node("Concat", ["batch1", "rest"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"], name="view")]
    model = read_onnx(write_graph(tmp_path / "m.onnx", nodes, [image_input()], constants))
    assert [(layer.op, dict(layer.params)) for layer in model.layers] == [("flatten", {})]


# -- the command: structured specs, weights under the writer's names -------------------------------

def command_import(source: Path, tmp_path: Path) -> tuple[str, torch.nn.Module]:
    """``archspec import SOURCE -o spec --weights pt`` through the library call the command makes."""
    from archspec.importers.source import import_source

    spec, weights = tmp_path / "cli.yaml", tmp_path / "cli.pt"
    import_source(str(source), spec, weights=weights)
    return spec.read_text(), archspec.build(str(spec), weights=str(weights)).eval()


@pytest.mark.parametrize(("spec", "most_lines"), [
    ("resnet18", 55), ("mobilenet_v2", 80), pytest.param("resnet50", 80, marks=pytest.mark.slow)])
def test_archspec_export_imports_as_a_short_structured_spec(spec: str, most_lines: int, tmp_path: Path) -> None:
    module = archspec.build(spec, seed=0).eval()
    randomize_batch_norms(module)
    from archspec.backends.onnx import write_onnx

    source = write_onnx(archspec.analyse(spec), module, tmp_path / f"{spec}.onnx")[0]
    text, rebuilt = command_import(source, tmp_path)
    assert "blocks:" in text and len(text.splitlines()) <= most_lines  # 52, 75, 75 lines today
    assert_matches_onnxruntime(source, rebuilt, (3, 224, 224))


def test_torch_export_imports_as_a_structured_spec(tmp_path: Path) -> None:
    net = torchvision_model("resnet18")
    randomize_batch_norms(net)
    source = export_torch(net, (3, 224, 224), tmp_path / "resnet18.onnx")
    text, rebuilt = command_import(source, tmp_path)
    assert "repeat:" in text and len(text.splitlines()) <= 55  # 51 lines today
    assert_matches_onnxruntime(source, rebuilt, (3, 224, 224))
