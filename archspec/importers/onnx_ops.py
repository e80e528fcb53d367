"""ONNX nodes as archspec ops: one handler per ONNX op type, in :data:`HANDLERS`.

Each handler is the inverse of the ``to_onnx`` lowerings that emit its op type: archspec's own (so
a file archspec wrote reads back as its spec) and those of torch's exporters (TorchScript and
dynamo), which write the same ops in one node each or in a few well-known patterns.  A pattern that
spans several nodes (SiLU as ``Sigmoid`` + ``Mul``, GELU's ``Erf`` chain, a linear layer as
``MatMul`` + ``Add``, a channel shuffle as ``Reshape`` + ``Transpose`` + ``Reshape``, a layer norm
over an image's channels between two ``Transpose``s) starts at its first node that reads the data
path and claims the rest.  Parameters are written as a spec writes them, defaults left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from archspec.importers.onnx_graph import BATCH, GraphReader, Handler, Unsupported, attributes_of


def _number(value: Any) -> float:
    """A float32 attribute as the decimal a person wrote (``9.99999975e-06`` -> ``1e-05``)."""
    return float(f"{float(value):.7g}")


def _compact(values: Sequence[int]) -> int | list[int]:
    return int(values[0]) if len(set(values)) == 1 else [int(value) for value in values]


def _const(reader: GraphReader, node: onnx.NodeProto, position: int, what: str) -> np.ndarray:
    value = reader.constant(node.input[position]) if position < len(node.input) else None
    if value is None:
        raise Unsupported(f"its {what} is computed from the data, not a constant", hint=None)
    return value


def _optional_const(reader: GraphReader, node: onnx.NodeProto, position: int) -> np.ndarray | None:
    if position >= len(node.input) or not node.input[position]:
        return None
    return _const(reader, node, position, f"input {position}")


def _weights(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def _axis(axis: int, rank: int) -> int:
    """An ONNX axis (batch included, possibly negative) as a non-negative one."""
    return axis + rank if axis < 0 else axis


def _tensor_and_constant(reader: GraphReader, node: onnx.NodeProto) -> tuple[str, np.ndarray] | None:
    """For a binary node, (the data-path input, the constant) when exactly one input is constant."""
    first, second = node.input[0], node.input[1]
    if reader.constant(second) is not None and first in reader.values:
        return first, reader.constant(second)  # type: ignore[return-value]
    if reader.constant(first) is not None and second in reader.values:
        return second, reader.constant(first)  # type: ignore[return-value]
    return None


def _is(value: np.ndarray | None, number: float, tolerance: float = 1e-6) -> bool:
    return value is not None and value.size == 1 and abs(float(value.reshape(())) - number) <= tolerance


# -- joins -----------------------------------------------------------------------------------------

def add(reader: GraphReader, node: onnx.NodeProto) -> None:
    reader.emit(node, "add", {}, list(node.input), node.output[0])


def multiply(reader: GraphReader, node: onnx.NodeProto) -> None:
    reader.emit(node, "multiply", {}, list(node.input), node.output[0])


def concat(reader: GraphReader, node: onnx.NodeProto) -> None:
    rank = len(reader.tensor(node.input[0]).shape) + 1
    if _axis(int(attributes_of(node)["axis"]), rank) != 1:
        raise Unsupported("a concatenation along another axis than the first after the batch (archspec's concat "
                          "joins channels, or tokens)")
    reader.emit(node, "concat", {}, list(node.input), node.output[0])


# -- shapes and layout -----------------------------------------------------------------------------

def identity(reader: GraphReader, node: onnx.NodeProto) -> None:
    reader.alias(node.output[0], node.input[0])


def flatten(reader: GraphReader, node: onnx.NodeProto) -> None:
    shape = reader.tensor(node.input[0]).shape
    if _axis(int(attributes_of(node).get("axis", 1)), len(shape) + 1) != 1:
        raise Unsupported("a Flatten that does not keep the batch axis alone (axis other than 1)")
    if len(shape) == 1:
        reader.alias(node.output[0], node.input[0])
        return
    reader.emit(node, "flatten", {}, node.input[:1], node.output[0])


def reshape(reader: GraphReader, node: onnx.NodeProto) -> None:
    shape = reader.tensor(node.input[0]).shape
    target = _reshaped(shape, _const(reader, node, 1, "target shape"), bool(attributes_of(node).get("allowzero", 0)))
    if target == shape:
        reader.alias(node.output[0], node.input[0])
        return
    if _channel_shuffle(reader, node, shape, target):
        return
    merged = len(shape) - len(target)
    start = next((axis for axis in range(len(target)) if target[axis] != shape[axis]), len(target))
    end = start + merged
    if merged <= 0 or target != (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:]):
        raise Unsupported(f"a reshape of {list(shape)} to {list(target)} that is not a flatten of adjacent axes")
    params: dict[str, Any] = {}
    if start != 0:
        params["start"] = start
    if end != len(shape) - 1:
        params["end"] = end
    reader.emit(node, "flatten", params, node.input[:1], node.output[0])


def _reshaped(shape: tuple[int, ...], target: np.ndarray, allowzero: bool) -> tuple[int, ...]:
    """The shape a Reshape gives an input of ``shape`` (batch :data:`BATCH`), without the batch."""
    full = (BATCH, *shape)
    dims = [int(d) for d in target.reshape(-1)]
    dims = [full[axis] if d == 0 and not allowzero and axis < len(full) else d for axis, d in enumerate(dims)]
    if dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(full) // known if known else 0
    if not dims or dims[0] != BATCH or math.prod(dims) != math.prod(full):
        raise Unsupported("a reshape that changes the batch axis: archspec's layers keep every sample apart",
                          hint=None)
    return tuple(dims[1:])


def _channel_shuffle(reader: GraphReader, node: onnx.NodeProto, shape: tuple[int, ...],
                     target: tuple[int, ...]) -> bool:
    """Reshape [g, C/g, H, W], Transpose (0, 2, 1, 3, 4), Reshape [C, H, W]: ShuffleNet's channel shuffle."""
    swap = reader.only_consumer(node.output[0])
    if len(shape) != 3 or len(target) != 4 or target[2:] != shape[1:] or swap is None or swap.op_type != "Transpose":
        return False
    back = reader.only_consumer(swap.output[0])
    if list(attributes_of(swap).get("perm", ())) != [0, 2, 1, 3, 4] or back is None or back.op_type != "Reshape":
        return False
    back_target = reader.constant(back.input[1])
    if back_target is None or _reshaped((target[1], target[0], *target[2:]), back_target, False) != shape:
        return False
    reader.claim(swap, back)
    reader.emit(back, "channel_shuffle", {"groups": int(target[0])}, node.input[:1], back.output[0])
    return True


def transpose(reader: GraphReader, node: onnx.NodeProto) -> None:
    shape = reader.tensor(node.input[0]).shape
    perm = [int(axis) for axis in attributes_of(node).get("perm", range(len(shape), -1, -1))]
    if perm[0] != 0:
        raise Unsupported("a transpose that moves the batch axis")
    reader.emit(node, "permute", {"axes": [axis - 1 for axis in perm[1:]]}, node.input[:1], node.output[0])


def gather(reader: GraphReader, node: onnx.NodeProto) -> None:
    index = _const(reader, node, 1, "index")
    if _axis(int(attributes_of(node).get("axis", 0)), len(reader.tensor(node.input[0]).shape) + 1) != 1 or index.ndim:
        raise Unsupported("a gather other than one token of a sequence (axis 1, one index)")
    reader.emit(node, "select", {"index": int(index)}, node.input[:1], node.output[0])


def slice_(reader: GraphReader, node: onnx.NodeProto) -> None:
    shape = reader.tensor(node.input[0]).shape
    starts, ends = _const(reader, node, 1, "starts").reshape(-1), _const(reader, node, 2, "ends").reshape(-1)
    axes = _optional_const(reader, node, 3)
    steps = _optional_const(reader, node, 4)
    axis = _axis(int(axes.reshape(-1)[0]), len(shape) + 1) if axes is not None else 0
    if len(starts) != 1 or axis != 1 or (steps is not None and int(steps.reshape(-1)[0]) != 1):
        raise Unsupported("a slice other than a contiguous range of channels (archspec's chunk)")
    channels = shape[0]
    begin, stop = (min(max(int(v) + (channels if v < 0 else 0), 0), channels) for v in (starts[0], ends[0]))
    size = stop - begin
    if size <= 0 or channels % size or begin % size:
        raise Unsupported(f"channels {begin}..{stop} of {channels} are not one of equal parts (archspec's chunk)")
    params = {"parts": channels // size} | ({"index": begin // size} if begin else {})
    reader.emit(node, "chunk", params, node.input[:1], node.output[0])


def split(reader: GraphReader, node: onnx.NodeProto) -> None:
    """Equal groups of channels (``x.chunk(n, dim=1)``): one ``chunk`` per part that is used."""
    channels = reader.tensor(node.input[0]).shape[0]
    rank = len(reader.tensor(node.input[0]).shape) + 1
    sizes = _optional_const(reader, node, 1)
    parts = len(node.output)
    if _axis(int(attributes_of(node).get("axis", 0)), rank) != 1 or channels % parts or (
            sizes is not None and set(sizes.reshape(-1).tolist()) != {channels // parts}):
        raise Unsupported("a split other than into equal groups of channels (archspec's chunk)")
    for index, output in enumerate(node.output):
        if output in reader.consumers or output in reader.graph_outputs:
            reader.emit(node, "chunk", {"parts": parts} | ({"index": index} if index else {}), node.input[:1],
                        output)


def expand(reader: GraphReader, node: onnx.NodeProto) -> None:
    """A learned tensor repeated over the batch of the tensor whose Shape gave the target (archspec's learned)."""
    weight, target = _const(reader, node, 0, "tensor"), _const(reader, node, 1, "shape")
    source = reader.batch_of.get(node.input[1])
    dims = [int(d) for d in target.reshape(-1)]
    if source is None or not dims or dims[0] != BATCH or not reader.is_initializer(node.input[0]):
        raise Unsupported("an Expand other than a learned tensor repeated over the batch (archspec's learned)")
    shape = tuple(dims[1:])
    if weight.shape not in (shape, (1, *shape)):
        raise Unsupported(f"an Expand of a {list(weight.shape)} tensor to {list(shape)}: archspec's learned "
                          "repeats a tensor of the sample's shape")
    params: dict[str, Any] = {"shape": list(shape)} | ({} if weight.ndim > len(shape) else {"batch_axis": False})
    reader.emit(node, "learned", params, [source], node.output[0], {"weight": _weights(weight)})


def sum_(reader: GraphReader, node: onnx.NodeProto) -> None:
    if len(node.input) == 1:
        reader.alias(node.output[0], node.input[0])
        return
    add(reader, node)


HANDLERS: dict[str, Handler] = {
    "Add": add, "Sum": sum_, "Mul": multiply, "Concat": concat,
    "Identity": identity, "Dropout": identity, "Flatten": flatten, "Reshape": reshape, "Transpose": transpose,
    "Gather": gather, "Slice": slice_, "Split": split, "Expand": expand,
}
"""What archspec reads by ONNX op type (default domain) that no op's ``from_onnx`` claims yet.  A node
neither an op nor this table reads is an error naming it."""
