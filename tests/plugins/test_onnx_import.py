"""A plugin op takes part in ONNX import exactly as a built-in one: ``onnx_types`` and ``from_onnx``.

Without its op, the file's ``Cos`` node is an error naming it; with the op registered, the file the
op's ``to_onnx`` wrote reads back as the spec, and its weights reproduce onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import archspec
from archspec.importers.onnx import import_onnx_file
from archspec.ops.base import Op, OpParams, Shape, TorchLayer
from archspec.ops.context import OnnxContext
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


def _cosine_layer() -> type:
    import torch

    class CosineLayer(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cos(x)

    return CosineLayer


CosineLayer = _cosine_layer()


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
