"""Joins of several inputs: ``add`` (residual connections) and ``concat`` (along channels)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from archspec.ops.base import Op, OpParams, Shape, ShapeError, format_shape

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext


def _shapes(inputs: Sequence[Shape]) -> str:
    return ", ".join(format_shape(shape) for shape in inputs)


class Add(Op[OpParams]):
    kind = "add"
    shorthand = "inputs"
    min_inputs = 2
    max_inputs = None
    family = "join"
    owns_output = True
    torch_inplace_operator = "+="
    description = "element-wise sum of inputs of identical shape (residual connections); no broadcasting"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        if any(shape != inputs[0] for shape in inputs):
            raise ShapeError(f"add needs inputs of identical shape, got {_shapes(inputs)}")
        return inputs[0]

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "+"

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def torch_expression(self, params: OpParams, arguments: Sequence[str]) -> str:
        return " + ".join(arguments)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Add" if len(context.inputs) == 2 else "Sum", context.inputs, output=context.output)


class Concat(Op[OpParams]):
    kind = "concat"
    shorthand = "inputs"
    min_inputs = 2
    max_inputs = None
    family = "join"
    owns_output = True
    description = "concatenation along channels; heights and widths must match"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        ranks = {len(shape) for shape in inputs}
        if len(ranks) != 1:
            raise ShapeError(f"concat needs inputs of the same rank, got {_shapes(inputs)}")
        if any(shape[1:] != inputs[0][1:] for shape in inputs):
            raise ShapeError(
                f"concat joins along channels, so the other dimensions must match; got {_shapes(inputs)}"
            )
        return (sum(shape[0] for shape in inputs), *inputs[0][1:])

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "concat"

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def torch_expression(self, params: OpParams, arguments: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(arguments)}], dim=1)"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Concat", context.inputs, {"axis": 1}, output=context.output)
