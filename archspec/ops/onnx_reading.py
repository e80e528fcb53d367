"""What the ops' ``from_onnx`` share: a node's constant inputs, axes, numbers and reshapes read as a spec writes them.

Each takes the :class:`~archspec.ops.context.OnnxNode` an op is offered, so it reads files through the
same protocol as a plugin's op, and never imports onnx.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archspec.ops.base import Shape
from archspec.ops.context import BATCH, UnreadableNode

if TYPE_CHECKING:
    from archspec.ops.context import OnnxNode


def decimal(value: Any) -> float:
    """A float32 attribute as the decimal a person wrote (``9.99999975e-06`` -> ``1e-05``)."""
    return float(f"{float(value):.7g}")


def compact(values: Sequence[int]) -> int | list[int]:
    """Sizes as a spec writes them: ``[3, 3]`` as ``3``, ``[1, 2]`` as ``[1, 2]``."""
    return int(values[0]) if len(set(values)) == 1 else [int(value) for value in values]


def onnx_axis(axis: int, rank: int) -> int:
    """An ONNX axis (batch included, possibly negative) as a non-negative one."""
    return axis + rank if axis < 0 else axis


def constant_input(node: OnnxNode, position: int, what: str) -> Any:
    """The numpy value of the node's input at ``position``, which must be a constant (a weight, a shape)."""
    value = node.constant(node.inputs[position]) if position < len(node.inputs) else None
    if value is None:
        raise UnreadableNode(f"its {what} is computed from the data, not a constant")
    return value


def optional_constant(node: OnnxNode, position: int) -> Any | None:
    """The constant at ``position`` of an optional input (a bias), None where it is omitted."""
    if position >= len(node.inputs) or not node.inputs[position]:
        return None
    return constant_input(node, position, f"input {position}")


def other_constant(node: OnnxNode, value: str) -> Any | None:
    """For a binary node reading ``value``, its other operand's constant value, else None."""
    others = [name for name in node.inputs if name != value]
    return node.constant(others[0]) if len(others) == 1 else None


def is_number(value: Any | None, number: float, tolerance: float = 1e-6) -> bool:
    """Whether ``value`` is a one-element constant equal to ``number`` (within ``tolerance``)."""
    return value is not None and value.size == 1 and abs(float(value.reshape(())) - number) <= tolerance


def reshape_target(node: OnnxNode) -> Shape:
    """The shape (without the batch) a ``Reshape`` node gives its data input."""
    return reshaped(node.input_shapes[0], constant_input(node, 1, "target shape"),
                    bool(node.attributes.get("allowzero", 0)))


def reshaped(shape: Shape, target: Any, allowzero: bool = False) -> Shape:
    """The shape a ``Reshape`` to the constant ``target`` gives an input of ``shape`` (both without the batch);
    a target that mixes the samples of the batch cannot be read."""
    full = (BATCH, *shape)
    dims = [int(d) for d in target.reshape(-1)]
    dims = [full[axis] if d == 0 and not allowzero and axis < len(full) else d for axis, d in enumerate(dims)]
    if dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(full) // known if known else 0
    if not dims or dims[0] != BATCH or math.prod(dims) != math.prod(full):
        raise UnreadableNode("a reshape that changes the batch axis: archspec's layers keep every sample apart")
    return tuple(dims[1:])
