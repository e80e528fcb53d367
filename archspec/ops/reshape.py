"""Moving axes: ``permute`` (images to channels-last and back, feature maps to token sequences)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from archspec.ops.base import Count, Op, OpParams, Shape, ShapeError, TorchLayer, format_shape

if TYPE_CHECKING:
    from archspec.backends.onnx.lowering import OnnxContext


class PermuteParams(OpParams):
    axes: Annotated[tuple[Count, ...], Field(min_length=1, max_length=8)]
    """The input's axes in their new order, batch excluded: [1, 2, 0] turns [C, H, W] into [H, W, C]."""


class Permute(Op[PermuteParams]):
    kind = "permute"
    Params = PermuteParams
    shorthand = "axes"
    family = "reshape"
    description = "reorder the axes of a sample: [1, 2, 0] makes an image channels-last, [2, 0, 1] undoes it"

    def output_shape(self, params: PermuteParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if sorted(params.axes) != list(range(len(shape))):
            raise ShapeError(f"permute: axes {list(params.axes)} are not an order of the {len(shape)} axes of "
                             f"{format_shape(shape)} (batch excluded: expected each of 0..{len(shape) - 1} once)")
        return tuple(shape[axis] for axis in params.axes)

    def label(self, params: PermuteParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"permute {format_shape(params.axes)}"

    def torch_layer(self, params: PermuteParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer | None:
        return None

    def torch_expression(self, params: PermuteParams, arguments: Sequence[str]) -> str:
        return f"{arguments[0]}.permute({', '.join(str(axis) for axis in (0, *(a + 1 for a in params.axes)))})"

    def to_onnx(self, params: PermuteParams, context: OnnxContext) -> None:
        context.add_node("Transpose", context.inputs, {"perm": [0, *(axis + 1 for axis in params.axes)]},
                         output=context.output)
