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
from archspec.ops.pool import pooled_extent


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


# -- pooling ---------------------------------------------------------------------------------------

def max_pool(reader: GraphReader, node: onnx.NodeProto) -> None:
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("a max pool that also returns the indices")
    reader.emit(node, "maxpool2d", _pool_params(reader, node), node.input[:1], node.output[0])


def average_pool(reader: GraphReader, node: onnx.NodeProto) -> None:
    params = _pool_params(reader, node)
    if params.get("padding", 0) != 0:
        params["count_include_pad"] = bool(attributes_of(node).get("count_include_pad", 0))
    reader.emit(node, "avgpool2d", params, node.input[:1], node.output[0])


def _pool_params(reader: GraphReader, node: onnx.NodeProto) -> dict[str, Any]:
    """Kernel, stride, padding and ceil_mode giving the node's windows exactly: archspec writes a
    ``ceil_mode`` pool as floor mode with extra end padding, which reads back as ceil_mode."""
    shape = reader.tensor(node.input[0]).shape
    attributes = attributes_of(node)
    if len(shape) != 3:
        raise Unsupported("a pool over other than two spatial axes: archspec pools images [C, H, W]")
    if attributes.get("auto_pad", "NOTSET") not in ("NOTSET", "", "VALID"):
        raise Unsupported(f"auto_pad={attributes['auto_pad']} pooling")
    if tuple(attributes.get("dilations", (1, 1))) != (1, 1):
        raise Unsupported("a dilated pool: archspec's pools have no dilation")
    kernel = tuple(int(k) for k in attributes["kernel_shape"])
    stride = tuple(int(s) for s in attributes.get("strides", (1, 1)))
    pads = tuple(int(p) for p in attributes.get("pads", (0, 0, 0, 0)))
    ceil = bool(attributes.get("ceil_mode", 0))
    wanted = [_onnx_pooled(extent, k, s, before, after, ceil)
              for extent, k, s, before, after in zip(shape[1:], kernel, stride, pads[:2], pads[2:], strict=True)]
    for ceil_mode in (ceil, not ceil):
        got = [pooled_extent(extent, k, s, p, ceil_mode, "")
               for extent, k, s, p in zip(shape[1:], kernel, stride, pads[:2], strict=True)]
        if got == wanted and (ceil_mode or pads[:2] == pads[2:]):
            params: dict[str, Any] = {"kernel": _compact(kernel)}
            if stride != kernel:
                params["stride"] = _compact(stride)
            if pads[:2] != (0, 0):
                params["padding"] = _compact(pads[:2])
            if ceil_mode:
                params["ceil_mode"] = True
            return params
    raise Unsupported(f"pads {list(pads)} give windows that archspec's symmetric padding with or without "
                      "ceil_mode does not")


def _onnx_pooled(extent: int, kernel: int, stride: int, before: int, after: int, ceil: bool) -> int:
    span = extent + before + after - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= extent + before:
        out -= 1
    return out


def global_average_pool(reader: GraphReader, node: onnx.NodeProto) -> None:
    reader.emit(node, "global_avgpool", {}, node.input[:1], node.output[0])


def reduce_mean(reader: GraphReader, node: onnx.NodeProto) -> None:
    rank = len(reader.tensor(node.input[0]).shape) + 1
    attributes = attributes_of(node)
    axes = attributes.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = _const(reader, node, 1, "axes").reshape(-1).tolist()
    if rank != 4 or axes is None or sorted(_axis(int(a), rank) for a in axes) != [2, 3]:
        raise Unsupported("a mean over other axes than an image's height and width (global average pooling)")
    if attributes.get("keepdims", 1):
        reader.emit(node, "global_avgpool", {}, node.input[:1], node.output[0])
        return
    pooled = f"{node.output[0]}/pooled"
    reader.emit(node, "global_avgpool", {}, node.input[:1], pooled)
    reader.emit(node, "flatten", {}, [pooled], node.output[0])


# -- activations -----------------------------------------------------------------------------------















def erf(reader: GraphReader, node: onnx.NodeProto) -> None:
    """GELU before opset 20: ``x * 0.5 * (1 + erf(x / sqrt(2)))`` in archspec's or torch's order."""
    scaled = reader.producer.get(node.input[0])
    x = _scaled_input(reader, scaled, math.sqrt(0.5)) if scaled is not None else None
    plus = reader.only_consumer(node.output[0])
    one_plus = plus if plus is not None and plus.op_type == "Add" else None
    if x is None or one_plus is None or not _is(_other_constant(reader, one_plus, node.output[0]), 1.0):
        raise Unsupported("an Erf outside GELU's x * 0.5 * (1 + erf(x / sqrt(2)))")
    product = reader.only_consumer(one_plus.output[0])
    if product is None or product.op_type != "Mul":
        raise Unsupported("an Erf outside GELU's x * 0.5 * (1 + erf(x / sqrt(2)))")
    other = next(name for name in product.input if name != one_plus.output[0])
    claimed = [scaled, one_plus, product]
    if other == x:  # torch: (x * (1 + erf)) * 0.5
        final = reader.only_consumer(product.output[0])
        if final is None or final.op_type != "Mul" or not _is(_other_constant(reader, final, product.output[0]), 0.5):
            raise Unsupported("an Erf outside GELU's x * 0.5 * (1 + erf(x / sqrt(2)))")
        claimed.append(final)
    else:  # archspec: (x * 0.5) * (1 + erf)
        half = reader.producer.get(other)
        if half is None or _scaled_input(reader, half, 0.5) != x:
            raise Unsupported("an Erf outside GELU's x * 0.5 * (1 + erf(x / sqrt(2)))")
        final = product
        claimed.append(half)
    reader.claim(*(claim for claim in claimed if claim is not None))
    reader.emit(final, "gelu", {}, [x], final.output[0])


def _other_constant(reader: GraphReader, node: onnx.NodeProto, value: str) -> np.ndarray | None:
    others = [name for name in node.input if name != value]
    return reader.constant(others[0]) if len(others) == 1 else None


def _scaled_input(reader: GraphReader, node: onnx.NodeProto | None, factor: float) -> str | None:
    """The data input of ``Mul(x, factor)`` or ``Div(x, 1 / factor)``, else None."""
    if node is None or node.op_type not in ("Mul", "Div"):
        return None
    pair = _tensor_and_constant(reader, node)
    if pair is None:
        return None
    value, constant = pair
    wanted = factor if node.op_type == "Mul" else 1 / factor
    return value if _is(constant, wanted, 1e-5) and (node.op_type == "Mul" or node.input[0] == value) else None






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
    "MaxPool": max_pool, "AveragePool": average_pool, "GlobalAveragePool": global_average_pool,
    "ReduceMean": reduce_mean, "Erf": erf,
    "Add": add, "Sum": sum_, "Mul": multiply, "Concat": concat,
    "Identity": identity, "Dropout": identity, "Flatten": flatten, "Reshape": reshape, "Transpose": transpose,
    "Gather": gather, "Slice": slice_, "Split": split, "Expand": expand,
}
"""What archspec reads by ONNX op type (default domain) that no op's ``from_onnx`` claims yet.  A node
neither an op nor this table reads is an error naming it."""
