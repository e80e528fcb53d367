"""Fully connected layers and reshaping: ``linear``, ``flatten``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import StrictInt

from archspec.ops.base import (
    Flag,
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
from archspec.ops.layout import feature_axis

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class LinearParams(OpParams):
    features: Size
    """Output features."""
    bias: Flag = True
    """Add a learned bias per output feature."""
    channels_last: Flag = False
    """The input is channels-last [H, W, C]: apply the layer at every position, over its last axis."""


class Linear(Op[LinearParams]):
    kind = "linear"
    Params = LinearParams
    shorthand = "features"
    family = "linear"
    name_prefix = "fc"
    owns_output = True
    description = ("fully connected layer (nn.Linear) on features [F], on each token of [L, D], or at each "
                   "position of a channels-last image; put flatten before it on an image")

    def output_shape(self, params: LinearParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 1 and not params.channels_last and len(shape) != 2:
            raise ShapeError(
                f"linear expects a flat input of features, got a tensor of shape {format_shape(shape)}; "
                f"add a 'flatten' layer before it (giving {volume(shape)} features)"
            )
        feature_axis(self.kind, shape, params.channels_last, images=False)
        return (*shape[:-1], params.features)

    def parameter_count(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> int:
        return inputs[0][-1] * params.features + (params.features if params.bias else 0)

    def macs(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> int:
        return volume(inputs[0]) * params.features

    def label(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"FC {params.features}"

    def volume_label(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        return ("FC",)

    def per_position(self, params: LinearParams, inputs: Sequence[Shape]) -> bool:
        shape = inputs[0]
        return len(shape) > 1 and feature_axis(self.kind, shape, params.channels_last, images=False) == len(shape) - 1

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        if type(call.module).__name__ not in ("Linear", "NonDynamicallyQuantizableLinear"):
            return None
        params = {"features": call.module.out_features, "bias": call.module.bias is not None}
        return {**params, "channels_last": True} if call.input_shapes and len(call.input_shapes[0]) == 3 else params

    def torch_layer(self, params: LinearParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Linear", (inputs[0][-1], params.features), {"bias": params.bias})

    def to_onnx(self, params: LinearParams, context: OnnxContext) -> None:
        if len(context.input_shapes[0]) > 1:  # Gemm takes matrices only
            weight = context.add_node("Transpose", [context.weight("weight")], {"perm": [1, 0]})
            if not params.bias:
                context.add_node("MatMul", [context.inputs[0], weight], output=context.output)
                return
            product = context.add_node("MatMul", [context.inputs[0], weight])
            context.add_node("Add", [product, context.weight("bias")], output=context.output)
            return
        inputs = [context.inputs[0], context.weight("weight")]
        if params.bias:
            inputs.append(context.weight("bias"))
        context.add_node("Gemm", inputs, {"transB": 1}, output=context.output)

    onnx_types = ("Gemm", "MatMul")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """``Gemm``, or a ``MatMul`` by a constant matrix with the ``Add`` of a bias after it (what archspec and torch
        write for a linear layer over tokens or a channels-last image)."""
        weight, bias = _gemm_weights(node) if node.op_type == "Gemm" else _matmul_weights(node)
        params: dict[str, Any] = {"features": int(weight.shape[0])}
        if bias is None:
            params["bias"] = False
        if len(node.input_shapes[0]) == 3:
            params["channels_last"] = True
        node.weight("weight", weight)
        if bias is not None:
            node.weight("bias", bias)
        return params


def _gemm_weights(node: OnnxNode) -> tuple[Any, Any | None]:
    """A ``Gemm``'s weight [out, in] and bias, its ``alpha`` and ``beta`` multiplied in."""
    import numpy as np

    from archspec.ops.onnx_reading import constant_input, optional_constant

    attributes = node.attributes
    if attributes.get("transA", 0):
        raise ValueError("Gemm with transA=1 multiplies by the transposed input")
    weight = constant_input(node, 1, "weight")
    if attributes.get("transB", 0) == 0:
        weight = weight.T
    weight = weight * float(attributes.get("alpha", 1.0))
    bias = optional_constant(node, 2)
    if bias is not None:
        bias = np.broadcast_to(bias * float(attributes.get("beta", 1.0)), (weight.shape[0],))
    return weight, bias


def _matmul_weights(node: OnnxNode) -> tuple[Any, Any | None]:
    """A ``MatMul``'s constant right-hand matrix as a weight [out, in]; the bias of an ``Add`` after it, absorbed."""
    from archspec.ops.onnx_reading import other_constant

    weight = node.constant(node.inputs[1])
    if weight is None or weight.ndim != 2 or node.constant(node.inputs[0]) is not None:
        raise ValueError("a product of the data with anything but a constant matrix on the right "
                         "(archspec's linear layers and attention express those)")
    after = node.consumer()
    if after is not None and after.op_type == "Add":
        constant = other_constant(after, node.outputs[0])
        if constant is not None and constant.size == weight.shape[1]:
            node.absorb(after)
            return weight.T, constant.reshape(-1)
    return weight.T, None


class FlattenParams(OpParams):
    start: StrictInt = 0
    """First axis merged, batch excluded (negative counts from the end): 1 turns [C, H, W] into [C, H*W]."""
    end: StrictInt = -1
    """Last axis merged."""


class Flatten(Op[FlattenParams]):
    kind = "flatten"
    Params = FlattenParams
    family = "reshape"
    description = "flatten [C, H, W] to [C*H*W] features (nn.Flatten), or a range of axes (start, end)"

    def _range(self, params: FlattenParams, shape: Shape) -> tuple[int, int]:
        rank = len(shape)
        start, end = (axis + rank if axis < 0 else axis for axis in (params.start, params.end))
        if not (0 <= start < rank and 0 <= end < rank) or start > end:
            raise ShapeError(f"flatten: axes {params.start}..{params.end} are not a range of the axes of "
                             f"{format_shape(shape)} (batch excluded)")
        return start, end

    def output_shape(self, params: FlattenParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        start, end = self._range(params, shape)
        return (*shape[:start], volume(shape[start:end + 1]), *shape[end + 1:])

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        if type(call.module).__name__ == "Flatten":
            start, end = call.module.start_dim, call.module.end_dim
        elif call.function == "flatten" and call.module is None:
            start = call.arguments[1] if len(call.arguments) > 1 else call.keywords.get("start_dim", 0)
            end = call.arguments[2] if len(call.arguments) > 2 else call.keywords.get("end_dim", -1)
        elif call.function in ("reshape", "view") and call.input_shapes:
            merged = _merged_axes(call.input_shapes[0], call.output_shape)
            if merged is None:
                return None
            start, end = merged
        else:
            return None
        if start == 0 or end == 0:
            return None  # the batch axis
        params = {"start": start - 1 if start > 0 else start, "end": end - 1 if end > 0 else end}
        return {key: value for key, value in params.items() if value != FlattenParams.model_fields[key].default}

    def label(self, params: FlattenParams, inputs: Sequence[Shape], output: Shape) -> str:
        start, end = self._range(params, inputs[0])
        return "flatten" if (start, end) == (0, len(inputs[0]) - 1) else f"flatten axes {start}–{end}"

    def torch_layer(self, params: FlattenParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        start, end = self._range(params, inputs[0])
        if (start, end) == (0, len(inputs[0]) - 1):
            return TorchLayer("torch.nn.Flatten")
        return TorchLayer("torch.nn.Flatten", kwargs={"start_dim": start + 1, "end_dim": end + 1})

    def to_onnx(self, params: FlattenParams, context: OnnxContext) -> None:
        start, end = self._range(params, context.input_shapes[0])
        if (start, end) == (0, len(context.input_shapes[0]) - 1):
            context.add_node("Flatten", context.inputs, {"axis": 1}, output=context.output)
            return
        shape = context.constant("shape", [0, *context.output_shape])
        context.add_node("Reshape", [context.inputs[0], shape], output=context.output)

    onnx_types = ("Flatten", "Reshape")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """``Flatten`` after the batch axis, or a ``Reshape`` that merges adjacent axes (TorchScript's
        ``x.view(x.size(0), -1)``, its shape computation folded); one that changes nothing is no layer."""
        from archspec.ops.onnx_reading import onnx_axis, reshape_target

        shape = node.input_shapes[0]
        if node.op_type == "Flatten":
            if onnx_axis(int(node.attributes.get("axis", 1)), len(shape) + 1) != 1:
                raise ValueError("a Flatten that does not keep the batch axis alone (axis other than 1)")
            return node.pass_through() if len(shape) == 1 else {}
        target = reshape_target(node)
        if target == shape:
            return node.pass_through()
        merged = len(shape) - len(target)
        start = next((axis for axis in range(len(target)) if merged > 0 and
                      target == (*shape[:axis], volume(shape[axis:axis + merged + 1]), *shape[axis + merged + 1:])),
                     None)
        if start is None:
            raise ValueError(f"a reshape of {list(shape)} to {list(target)} that is not a flatten of adjacent axes")
        end = start + merged
        params: dict[str, Any] = {}
        if start != 0:
            params["start"] = start
        if end != len(shape) - 1:
            params["end"] = end
        return params


def _merged_axes(before: Shape, after: Shape) -> tuple[int, int] | None:
    """The axes (counting the batch as 0, as torch does) that a reshape from ``before`` to ``after`` merges
    into one, if that is all it does."""
    merged = len(before) - len(after) + 1
    if merged < 2:
        return None
    for start in range(len(after)):
        if before[:start] == after[:start] and before[start + merged:] == after[start + 1:] \
                and volume(before[start:start + merged]) == after[start]:
            return start + 1, start + merged
    return None
