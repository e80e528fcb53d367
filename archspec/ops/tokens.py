"""Learned tensors and tokens: ``learned`` (class token, position embedding, layer scale) and ``select``.

A learned tensor is a layer of its own, declared where the reference network registers it, so that a
ported state_dict lines up in order: torchvision's ViT holds its class token before its patch projection,
and ConvNeXt's block its layer scale before its convolutions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import Field, StrictInt

from archspec.ops.base import (
    Flag,
    Number,
    Op,
    OpParams,
    Shape,
    ShapeError,
    Size,
    TorchCall,
    TorchLayer,
    format_shape,
    volume,
)

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class LearnedParams(OpParams):
    shape: Annotated[tuple[Size, ...], Field(min_length=1, max_length=4)] | None = None
    """The tensor's shape for one sample, e.g. [1, 768] for a class token; by default its input's shape
    (a position embedding, which then follows the input size)."""
    batch_axis: Flag = True
    """Store it with a leading axis of 1 (as torchvision's class token); false stores the shape as given."""
    fill: Number = 0.0
    """Initial value (the mean, when std is set)."""
    std: Number | None = Field(default=None, ge=0)
    """Draw the initial values from a normal distribution with this standard deviation."""
    parameter: Flag = False
    """Hold the tensor as a parameter of the enclosing scope under the layer's name (state_dict key
    ``encoder.pos_embedding``, as torchvision holds it) rather than as a module's ``weight``."""


class Learned(Op[LearnedParams]):
    kind = "learned"
    Params = LearnedParams
    shorthand = "shape"
    family = "token"
    description = "a learned tensor (class token, position embedding, layer scale), repeated over the batch"

    def output_shape(self, params: LearnedParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0] if params.shape is None else tuple(params.shape)

    def parameter_count(self, params: LearnedParams, inputs: Sequence[Shape], output: Shape) -> int:
        return volume(output)

    def label(self, params: LearnedParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"learned {format_shape(output)}"

    def torch_layer(self, params: LearnedParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {}
        if not params.batch_axis:
            kwargs["batch_axis"] = False
        if params.fill:
            kwargs["fill"] = params.fill
        if params.std is not None:
            kwargs["std"] = params.std
        if params.parameter:
            sizes = ", ".join(str(size) for size in output)
            return TorchLayer("archspec.nn.learned_parameter", (tuple(output),), kwargs,
                              f"{{module}}.expand({{0}}.shape[0], {sizes})")
        return TorchLayer("archspec.nn.Learned", (tuple(output),), kwargs)

    def to_onnx(self, params: LearnedParams, context: OnnxContext) -> None:
        batch = context.add_node("Gather", [context.add_node("Shape", context.inputs), context.constant("zero", [0])])
        shape = context.add_node("Concat", [batch, context.constant("shape", list(context.output_shape))],
                                 {"axis": 0})
        context.add_node("Expand", [context.weight("" if params.parameter else "weight"), shape],
                         output=context.output)

    onnx_types = ("Expand",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """An ``Expand`` of an initializer to the batch of the tensor whose ``Shape`` gave the target (a class token,
        a position embedding): the layer reads that tensor."""
        from archspec.ops.context import BATCH
        from archspec.ops.onnx_reading import constant_input

        weight, target = constant_input(node, 0, "tensor"), constant_input(node, 1, "shape")
        source = node.batch_source(node.inputs[1])
        dims = [int(d) for d in target.reshape(-1)]
        if source is None or not dims or dims[0] != BATCH or not node.is_initializer(node.inputs[0]):
            raise ValueError("an Expand other than a learned tensor repeated over the batch (archspec's learned)")
        try:  # Expand broadcasts both ways: a 1 in the target keeps the tensor's size (TorchScript's expand(n, -1, -1))
            shape = tuple(int(size) for size in np.broadcast_shapes(weight.shape, tuple(dims))[1:])
        except ValueError:
            shape = tuple(dims[1:])
        if weight.shape not in (shape, (1, *shape)):
            raise ValueError(f"an Expand of a {list(weight.shape)} tensor to {list(shape)}: archspec's learned "
                             "repeats a tensor of the sample's shape")
        node.set_inputs(source)
        node.weight("weight", weight)
        return {"shape": list(shape)} | ({} if weight.ndim > len(shape) else {"batch_axis": False})


class SelectParams(OpParams):
    index: StrictInt
    """Which token (negative counts from the end)."""


class Select(Op[SelectParams]):
    kind = "select"
    Params = SelectParams
    shorthand = "index"
    family = "reshape"
    description = "one token of a sequence: [L, D] -> [D] (ViT's class token: select: 0)"

    def output_shape(self, params: SelectParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) < 2:
            raise ShapeError(f"select picks one token of a sequence [L, D], got {format_shape(shape)}")
        if not -shape[0] <= params.index < shape[0]:
            raise ShapeError(f"select: token {params.index} is out of range for a sequence of {shape[0]} tokens")
        return shape[1:]

    def label(self, params: SelectParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"token {params.index}"

    def torch_layer(self, params: SelectParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """``x[:, 0]``: one index on the axis after the batch, nothing else."""
        if call.function != "getitem" or len(call.arguments) != 2:
            return None
        key = call.arguments[1]
        if isinstance(key, (tuple, list)) and len(key) == 2 and key[0] == slice(None) and isinstance(key[1], int):
            return {"index": key[1]}
        return None

    def torch_expression(self, params: SelectParams, arguments: Sequence[str]) -> str:
        return f"{arguments[0]}[:, {params.index}]"

    def to_onnx(self, params: SelectParams, context: OnnxContext) -> None:
        context.add_node("Gather", [context.inputs[0], context.constant("index", params.index)], {"axis": 1},
                         output=context.output)

    onnx_types = ("Gather",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        from archspec.ops.onnx_reading import constant_input, onnx_axis

        index = constant_input(node, 1, "index")
        if onnx_axis(int(node.attributes.get("axis", 0)), len(node.input_shapes[0]) + 1) != 1 or index.ndim:
            raise ValueError("a gather other than one token of a sequence (axis 1, one index)")
        return {"index": int(index)}
