"""Every built-in spec exports to a checked ONNX file whose onnxruntime output equals the torch module's."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.onnx import describe_onnx
from archspec.graph.lower import analyse
from archspec.spec.builtin import builtin_spec_names
from tests.backends.onnx.onnx_roundtrip import export_and_compare
from tests.zoo.marks import spec_param

LARGE = {"alexnet", "alexnet_paper", "vgg16", "vgg19", "resnet50", "resnet101", "resnet152", "vit_b_32", "swin_t",
         "convnext_tiny"}
TRANSFORMERS = ["convnext_tiny", "vit_b_32", "swin_t"]  # one zoo model per transformer-era family (specs/zoo)


def _cases() -> list[object]:
    return [spec_param(name, large=name in LARGE) for name in builtin_spec_names() + TRANSFORMERS]


@pytest.mark.parametrize("name", _cases())
def test_builtin_spec_exports_faithfully(name: str, tmp_path: Path) -> None:
    graph = analyse(name)
    model = export_and_compare(graph, tmp_path, batches=(1, 2) if name in LARGE else (1, 3))

    layer_nodes = {node.name for node in model.graph.node if "/" not in node.name}
    assert layer_nodes == {node.name for node in graph.layers}
    (model_input,) = model.graph.input
    assert model_input.name == "input"
    dims = model_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert [dim.dim_value for dim in dims[1:]] == list(graph.input_shape)
    assert [output.name for output in model.graph.output] == ["output"]
    assert {prop.key: prop.value for prop in model.metadata_props}["archspec.spec"] == graph.name
    assert f"parameters: {graph.parameters:,}" in describe_onnx(tmp_path / f"{graph.name}.onnx")


def test_every_builtin_spec_is_covered() -> None:
    assert {"lenet5", "alexnet", "vgg16", "resnet18", "resnet152", "nin"} <= set(builtin_spec_names())
    assert set(builtin_spec_names() + TRANSFORMERS) >= LARGE
