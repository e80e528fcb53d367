"""Fully connected layers and reshaping: ``linear``, ``flatten``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from archspec.ops.base import Flag, Op, OpParams, Shape, ShapeError, Size, TorchLayer, format_shape, volume

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext


class LinearParams(OpParams):
    features: Size
    """Output features."""
    bias: Flag = True
    """Add a learned bias per output feature."""


class Linear(Op[LinearParams]):
    kind = "linear"
    Params = LinearParams
    shorthand = "features"
    family = "linear"
    name_prefix = "fc"
    owns_output = True
    description = "fully connected layer (nn.Linear) on a flat input; put flatten before it"

    def output_shape(self, params: LinearParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 1:
            raise ShapeError(
                f"linear expects a flat input of features, got a tensor of shape {format_shape(shape)}; "
                f"add a 'flatten' layer before it (giving {volume(shape)} features)"
            )
        return (params.features,)

    def parameter_count(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> int:
        return inputs[0][0] * params.features + (params.features if params.bias else 0)

    def macs(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> int:
        return inputs[0][0] * params.features

    def label(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"FC {params.features}"

    def volume_label(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        return ("FC",)

    def torch_layer(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Linear", (inputs[0][0], params.features), {"bias": params.bias})

    def to_onnx(self, params: LinearParams, context: OnnxContext) -> None:
        inputs = [context.inputs[0], context.weight("weight")]
        if params.bias:
            inputs.append(context.weight("bias"))
        context.add_node("Gemm", inputs, {"transB": 1}, output=context.output)


class Flatten(Op[OpParams]):
    kind = "flatten"
    family = "reshape"
    description = "flatten [C, H, W] to [C*H*W] features (nn.Flatten)"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return (volume(inputs[0]),)

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Flatten")

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Flatten", context.inputs, {"axis": 1}, output=context.output)
