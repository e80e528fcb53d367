"""A user's op lowers itself through the same OnnxContext as the built-ins, and its mistakes are located."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from archspec import Op, OpParams, TorchLayer, register_op, unregister_op
from archspec.backends.onnx import write_onnx
from archspec.backends.onnx.lowering import OnnxContext
from archspec.errors import SpecError
from archspec.ops.base import Shape
from tests.backends.onnx.onnx_roundtrip import build, export_and_compare
from tests.backends.onnx.spec_files import spec_graph


class _ShapeKeeping(Op[OpParams]):
    family = "activation"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]


class ChannelPReLU(_ShapeKeeping):
    """A learnable slope per channel: a weight, a computed constant, a helper node and the output node."""

    kind = "test_prelu"

    def parameter_count(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> int:
        return inputs[0][0]

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.PReLU", kwargs={"num_parameters": inputs[0][0]})

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        shape = context.constant("slope_shape", np.array([context.input_shapes[0][0], 1, 1], dtype=np.int64))
        slope = context.add_node("Reshape", [context.weight("weight"), shape])
        context.add_node("PRelu", [context.inputs[0], slope], output=context.output)


class HardSwish(_ShapeKeeping):
    kind = "test_hardswish"

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Hardswish")


class HardSwishOnnx(HardSwish):
    kind = "test_hardswish_onnx"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.require_opset(14, "HardSwish")
        context.add_node("HardSwish", context.inputs, output=context.output)


class BadAttribute(HardSwish):
    kind = "test_bad_attribute"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("HardSwish", context.inputs, {"slope": 2}, output=context.output)


class ForgetsItsOutput(HardSwish):
    kind = "test_forgets_output"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("HardSwish", context.inputs)


@pytest.fixture(autouse=True)
def plugin_ops() -> Iterator[None]:
    ops = (ChannelPReLU, HardSwish, HardSwishOnnx, BadAttribute, ForgetsItsOutput)
    for op in ops:
        register_op(op)
    yield
    for op in ops:
        unregister_op(op.kind)


def test_a_plugin_op_exports_like_a_builtin(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"conv2d": {"channels": 4, "kernel": 3}}, "test_prelu", "test_hardswish_onnx"],
                       (2, 6, 6))
    module = build(graph)
    assert "test_prelu1.weight" in module.state_dict()
    model = export_and_compare(graph, tmp_path)
    assert [(node.op_type, node.name) for node in model.graph.node] == [
        ("Conv", "conv1"), ("Constant", "test_prelu1/slope_shape"), ("Reshape", "test_prelu1/Reshape"),
        ("PRelu", "test_prelu1"), ("HardSwish", "test_hardswish_onnx1"),
    ]


def test_a_plugin_op_can_require_an_opset(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, ["test_hardswish_onnx"], (2, 6, 6))
    with pytest.raises(SpecError, match=r"layer 'test_hardswish_onnx1' .* HardSwish needs ONNX opset 14"):
        write_onnx(graph, build(graph), tmp_path / "net.onnx", opset=13)


@pytest.mark.parametrize(("kind", "message", "hint"), [
    ("test_hardswish", "op 'test_hardswish' has no ONNX lowering",
     "define HardSwish.to_onnx(params, context) to add one"),
    ("test_bad_attribute", "its ONNX lowering is invalid: Unrecognized attribute: slope for operator HardSwish", None),
    ("test_forgets_output", "did not produce the layer's output",
     "give the last node add_node(..., output=context.output)"),
])
def test_a_plugin_lowering_mistake_is_located_on_its_layer(tmp_path: Path, kind: str, message: str,
                                                           hint: str | None) -> None:
    graph = spec_graph(tmp_path, ["relu", kind, "relu"], (2, 6, 6))
    with pytest.raises(SpecError) as raised:
        write_onnx(graph, build(graph), tmp_path / "net.onnx")
    (diagnostic,) = raised.value.diagnostics
    assert f"cannot export layer '{kind}1' ({kind}) to ONNX" in diagnostic.message
    assert message in diagnostic.message
    assert diagnostic.hint == hint
    assert diagnostic.location is not None and diagnostic.location.line_text.strip() == f"- {kind}"
    assert not list(tmp_path.glob("*.onnx*"))
