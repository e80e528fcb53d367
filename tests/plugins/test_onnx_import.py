"""A plugin op takes part in ONNX import exactly as a built-in one: ``onnx_types`` and ``from_onnx``.

Without its op, the file's ``Cos`` node is an error naming it; with the op registered, the file the
op's ``to_onnx`` wrote reads back as the spec, and its weights reproduce onnxruntime.  An op whose
nodes start with a scaling by a constant (which no op is offered) reads it back from the node after
it, as the built-in ``gelu`` reads its ``Erf`` chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import archspec
from archspec.importers.onnx import import_onnx_file, read_onnx
from archspec.ops.base import Number, Op, OpParams, Shape, TorchLayer
from archspec.ops.context import OnnxContext, OnnxNode
from tests.importers.test_onnx import assert_matches_onnxruntime, figures

SPEC = """\
archspec: 1
name: cosnet
input: [3, 16, 16]
layers:
  - {conv2d: {channels: 8, kernel: 3, padding: 1}, name: conv}
  - cosine
  - global_avgpool
  - flatten
  - {linear: 4, name: fc}
"""


class Cosine(Op[OpParams]):
    """cos(x), element-wise: one ONNX ``Cos`` node each way."""

    kind = "cosine"
    description = "element-wise cosine (a test plugin)"
    onnx_types = ("Cos",)

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("tests.plugins.test_onnx_import.CosineLayer")

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Cos", context.inputs, output=context.output)


class ScaledCosineParams(OpParams):
    scale: Number = 1.0


class ScaledCosine(Op[ScaledCosineParams]):
    """cos(scale * x): ``Mul`` by a constant, then ``Cos``; read back from the ``Cos``, reaching back to the ``Mul``."""

    kind = "scaled_cosine"
    Params = ScaledCosineParams
    shorthand = "scale"
    onnx_types = ("Cos",)

    def output_shape(self, params: ScaledCosineParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def torch_layer(self, params: ScaledCosineParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("tests.plugins.test_onnx_import.ScaledCosineLayer", (params.scale,))

    def to_onnx(self, params: ScaledCosineParams, context: OnnxContext) -> None:
        scaled = context.add_node("Mul", [context.inputs[0], context.constant("scale", params.scale)])
        context.add_node("Cos", [scaled], output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        scaled = node.producer(node.inputs[0])
        if scaled is None or scaled.op_type != "Mul":
            return None
        scale = next((node.constant(name) for name in scaled.inputs if node.constant(name) is not None), None)
        if scale is None or scale.size != 1:
            return None
        node.absorb(scaled)
        return {"scale": float(f"{float(scale):.7g}")}


def _cosine_layers() -> tuple[type, type]:
    import torch

    class CosineLayer(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cos(x)

    class ScaledCosineLayer(torch.nn.Module):
        def __init__(self, scale: float):
            super().__init__()
            self.scale = scale

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cos(self.scale * x)

    return CosineLayer, ScaledCosineLayer


CosineLayer, ScaledCosineLayer = _cosine_layers()


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    """The spec's ONNX file, written with the plugin registered (it is unregistered again)."""
    archspec.register_op(Cosine)
    try:
        spec = tmp_path / "cosnet.yaml"
        spec.write_text(SPEC)
        archspec.compile(str(spec), outputs=["onnx"], out_dir=str(tmp_path / "out"), seed=0)
    finally:
        archspec.unregister_op("cosine")
    return tmp_path / "out" / "cosnet.onnx"


def test_a_plugin_op_reads_back_from_the_file_it_exported(exported: Path, tmp_path: Path) -> None:
    archspec.register_op(Cosine)
    try:
        spec, weights = tmp_path / "imported.yaml", tmp_path / "imported.pt"
        spec.write_text(import_onnx_file(exported, weights=weights))
        assert "- cosine" in spec.read_text()
        original = archspec.analyse(str(tmp_path / "cosnet.yaml"))
        assert figures(archspec.analyse(str(spec))) == figures(original)
        module = archspec.build(str(spec), weights=str(weights)).eval()
        assert_matches_onnxruntime(exported, module, (3, 16, 16))
    finally:
        archspec.unregister_op("cosine")


def test_without_the_plugin_the_node_is_named(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(archspec.SpecError) as error:
        import_onnx_file(exported)
    assert "(Cos): op type Cos has no archspec counterpart" in str(error.value)


def test_a_plugin_op_reaches_back_to_a_scaling_no_op_is_offered(tmp_path: Path) -> None:
    spec = tmp_path / "scaled.yaml"
    spec.write_text(SPEC.replace("cosnet", "scaled").replace("- cosine", "- {scaled_cosine: 2.5, name: wave}"))
    archspec.register_op(ScaledCosine)
    try:
        archspec.compile(str(spec), outputs=["onnx"], out_dir=str(tmp_path / "out"), seed=0)
        exported = tmp_path / "out" / "scaled.onnx"
        model = read_onnx(exported)
        (wave,) = [layer for layer in model.layers if layer.op == "scaled_cosine"]
        assert wave.params == {"scale": 2.5} and wave.inputs == (model.layers[0].id,)
        imported, weights = tmp_path / "imported.yaml", tmp_path / "imported.pt"
        imported.write_text(import_onnx_file(exported, weights=weights))
        assert figures(archspec.analyse(str(imported))) == figures(archspec.analyse(str(spec)))
        module = archspec.build(str(imported), weights=str(weights)).eval()
        assert_matches_onnxruntime(exported, module, (3, 16, 16))
    finally:
        archspec.unregister_op("scaled_cosine")
