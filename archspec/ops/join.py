"""Joins of several inputs: ``add`` (residual connections), ``multiply`` (gates) and ``concat`` (along channels).

Broadcasting: ``add`` never broadcasts (its inputs have identical shapes, so a mistaken shortcut is an
error, not a silent stretch).  ``multiply`` broadcasts as NumPy and torch do, over inputs of the same
rank: on each axis the sizes are equal, or one of them is 1 and stretches (``[C, 1, 1] * [C, H, W]``,
a squeeze-and-excitation gate).  The batch axis is never part of a shape and is never broadcast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archspec.ops.base import TENSOR, Op, OpParams, Shape, ShapeError, TorchCall, format_shape, plain_call

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


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

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        same = len(call.input_shapes) == 2 and call.input_shapes[0] == call.input_shapes[1]
        return {} if call.function == "add" and same and plain_call(call, ()) else None

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        if any(shape != inputs[0] for shape in inputs):
            raise ShapeError(f"add needs inputs of identical shape, got {_shapes(inputs)}")
        return inputs[0]

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "+"

    def per_position(self, params: OpParams, inputs: Sequence[Shape]) -> bool:
        return True

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def torch_expression(self, params: OpParams, arguments: Sequence[str]) -> str:
        return " + ".join(arguments)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Add" if len(context.inputs) == 2 else "Sum", context.inputs, output=context.output)

    onnx_types = ("Add", "Sum")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """``Add`` or ``Sum`` of tensors (an ``Add`` of a constant is part of another op's pattern, or an error);
        a ``Sum`` of one tensor is no layer; an ``Add`` of a stored tensor of the sample's shape (ViT's position
        embedding) is a ``learned`` layer and an ``add``."""
        if len(node.inputs) == 1:
            return node.pass_through()
        _stored_operand(node, "Add", broadcast=False)
        node.set_inputs(*node.inputs)
        return {}


def _stored_operand(node: OnnxNode, what: str, broadcast: bool) -> None:
    """A stored tensor of several axes that a node reads beside one tensor of the data path (ViT's position
    embedding ``x + pos``, ConvNeXt's layer scale ``gamma * x``) becomes a ``learned`` layer before the node's:
    of the sample's shape, or with ``broadcast`` of its rank with sizes of 1 where the sample's stretch it."""
    stored = [name for name in node.inputs if node.constant(name) is not None]
    if not stored:
        return
    data = [name for name in node.inputs if node.constant(name) is None]
    value = node.constant(stored[0])
    sample = tuple(node.input_shapes[0]) if data else ()
    shape = tuple(value.shape[1:]) if value.ndim == len(sample) + 1 and value.shape[:1] == (1,) else tuple(value.shape)
    fits = shape == sample or (broadcast and len(shape) == len(sample) and all(
        size in (1, wanted) for size, wanted in zip(shape, sample, strict=True)))
    if len(stored) != 1 or len(data) != 1 or not node.is_initializer(stored[0]) or value.ndim < 2 or not fits:
        allowed = "of the sample's shape" if not broadcast else "of the sample's rank, broadcast over it"
        raise ValueError(f"a{'n' if what[0] in 'AEIOU' else ''} {what} of a stored tensor other than one {allowed} "
                         "(archspec's learned, then the join)")
    node.layer_before("learned", {"shape": list(shape)}, [data[0]], stored[0], {"weight": value.reshape(1, *shape)})


def broadcast_shapes(op: str, inputs: Sequence[Shape]) -> Shape:
    """The shape of inputs of one rank broadcast together: per axis, equal sizes or a 1 that stretches."""
    if len({len(shape) for shape in inputs}) != 1:
        raise ShapeError(f"{op} needs inputs of the same rank, got {_shapes(inputs)}")
    result = []
    for sizes in zip(*inputs, strict=True):
        stretched = {size for size in sizes if size != 1}
        if len(stretched) > 1:
            raise ShapeError(f"{op} broadcasts only sizes that are equal or 1 on each axis, got {_shapes(inputs)}")
        result.append(stretched.pop() if stretched else 1)
    return tuple(result)


class Multiply(Op[OpParams]):
    kind = "multiply"
    shorthand = "inputs"
    min_inputs = 2
    max_inputs = None
    family = "join"
    name_prefix = "mul"
    owns_output = True
    description = "element-wise product with broadcasting (size-1 axes stretch): squeeze-and-excitation gates"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        return {} if call.function == "mul" and len(call.input_shapes) == 2 and plain_call(call, ()) else None

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return broadcast_shapes("multiply", inputs)

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "×"

    def per_position(self, params: OpParams, inputs: Sequence[Shape]) -> bool:
        return True

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def torch_expression(self, params: OpParams, arguments: Sequence[str]) -> str:
        return " * ".join(arguments)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        product = context.inputs[0]
        for position, value in enumerate(context.inputs[1:], start=2):
            last = position == len(context.inputs)
            product = context.add_node("Mul", [product, value], output=context.output if last else None)

    onnx_types = ("Mul",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """A ``Mul`` of two tensors (a gate); by a stored tensor of several axes (ConvNeXt's layer scale) a
        ``learned`` layer and a ``multiply``; by another constant it is part of another op's pattern, or an
        error."""
        _stored_operand(node, "Mul", broadcast=True)
        node.set_inputs(*node.inputs)
        return {}


class Concat(Op[OpParams]):
    kind = "concat"
    shorthand = "inputs"
    min_inputs = 2
    max_inputs = None
    family = "join"
    owns_output = True
    description = "concatenation along channels; heights and widths must match"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        if call.function not in ("cat", "concat") or not call.arguments or not isinstance(call.arguments[0], list):
            return None
        dim = call.arguments[1] if len(call.arguments) > 1 else call.keywords.get("dim", 0)
        rank = len(call.input_shapes[0])
        return {} if dim in (1, -rank) and all(a == TENSOR for a in call.arguments[0]) else None

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

    onnx_types = ("Concat",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        from archspec.ops.onnx_reading import onnx_axis

        if onnx_axis(int(node.attributes["axis"]), len(node.input_shapes[0]) + 1) != 1:
            raise ValueError("a concatenation along another axis than the first after the batch (archspec's concat "
                             "joins channels, or tokens)")
        node.set_inputs(*node.inputs)
        return {}
