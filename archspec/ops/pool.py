"""Pooling: ``maxpool2d``, ``avgpool2d``, ``adaptive_avgpool2d``, ``global_avgpool``.

Output sizes follow PyTorch exactly, ``ceil_mode`` included: with ``ceil_mode`` a last window
that would start inside the right padding is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import model_validator

from archspec.ops.base import (
    CountPair,
    Flag,
    Op,
    OpParams,
    Shape,
    ShapeError,
    SizePair,
    TorchCall,
    TorchLayer,
    pair,
    pair_text,
    require_rank,
    unpair,
)

if TYPE_CHECKING:
    import numpy as np

    from archspec.ops.context import OnnxContext, OnnxNode


class PoolParams(OpParams):
    kernel: SizePair
    """Window size: k or [kh, kw]."""
    stride: SizePair | None = None
    """Defaults to the kernel size, as in PyTorch."""
    padding: CountPair = 0
    """Implicit padding on both sides, at most half the kernel."""
    ceil_mode: Flag = False
    """Round the output size up instead of down (a last, partial window is kept)."""

    @model_validator(mode="after")
    def _padding_at_most_half_kernel(self) -> PoolParams:
        for k, p in zip(pair(self.kernel), pair(self.padding), strict=True):
            if p > k // 2:
                raise ValueError(f"padding {p} must be at most half the kernel size {k}")
        return self

    def strides(self) -> tuple[int, int]:
        return pair(self.stride if self.stride is not None else self.kernel)


class AvgPoolParams(PoolParams):
    count_include_pad: Flag = True
    """Count padded zeros in the average."""


def pooled_extent(extent: int, kernel: int, stride: int, padding: int, ceil_mode: bool, axis: str) -> int:
    padded = extent + 2 * padding
    if padded < kernel:
        raise ShapeError(f"pooling window {kernel} is larger than the padded input {axis} {padded}",
                         reason="input_too_small")
    span = padded - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= extent + padding:
        out -= 1
    return out


PoolParamsT = TypeVar("PoolParamsT", bound=PoolParams)


class _Pool2d(Op[PoolParamsT]):
    """What max and average pooling share: the window, its shape rule, labels and torch arguments."""

    shorthand = "kernel"
    family = "pool"
    owns_output = True
    label_name = "pool"

    def output_shape(self, params: PoolParamsT, inputs: Sequence[Shape]) -> Shape:
        channels, height, width = require_rank(self.kind, inputs, 3, "an image")
        (kh, kw), (sh, sw), (ph, pw) = pair(params.kernel), params.strides(), pair(params.padding)
        out_h = pooled_extent(height, kh, sh, ph, params.ceil_mode, "height")
        out_w = pooled_extent(width, kw, sw, pw, params.ceil_mode, "width")
        return (channels, out_h, out_w)

    def label(self, params: PoolParamsT, inputs: Sequence[Shape], output: Shape) -> str:
        (kh, kw), (sh, sw) = pair(params.kernel), params.strides()
        text = f"{self.label_name} {kh}×{kw}"
        if (sh, sw) != (kh, kw):
            text += f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        return text

    def volume_label(self, params: PoolParamsT, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        details = [pair_text("f", params.kernel), pair_text("s", params.strides())]
        if pair(params.padding) != (0, 0):
            details.append(pair_text("p", params.padding))
        return (self.label_name, ", ".join(details))

    def torch_kwargs(self, params: PoolParamsT) -> dict[str, object]:
        stride = params.strides()
        return {
            "kernel_size": params.kernel,
            "stride": stride[0] if stride[0] == stride[1] else stride,
            "padding": params.padding,
            "ceil_mode": params.ceil_mode,
        }


class MaxPool2d(_Pool2d[PoolParams]):
    kind = "maxpool2d"
    Params = PoolParams
    name_prefix = "maxpool"
    label_name = "max pool"
    description = "2-D max pooling (nn.MaxPool2d); stride defaults to the kernel"

    def torch_layer(self, params: PoolParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.MaxPool2d", kwargs=self.torch_kwargs(params))

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        pool = call.module
        if pool is None and call.function == "max_pool2d":
            names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
            given = dict(zip(names, call.arguments, strict=False)) | dict(call.keywords)
            if unpair(given.get("dilation", 1)) != 1 or given.get("return_indices") or "kernel_size" not in given:
                return None
            kernel, stride = unpair(given["kernel_size"]), given.get("stride")
            return {"kernel": kernel, "stride": unpair(stride) if stride not in (None, []) else kernel,
                    "padding": unpair(given.get("padding", 0)), "ceil_mode": bool(given.get("ceil_mode", False))}
        if type(pool).__name__ != "MaxPool2d" or unpair(pool.dilation) != 1 or pool.return_indices:
            return None
        return {"kernel": unpair(pool.kernel_size), "stride": unpair(pool.stride), "padding": unpair(pool.padding),
                "ceil_mode": pool.ceil_mode}

    def to_onnx(self, params: PoolParams, context: OnnxContext) -> None:
        attributes = _onnx_pool_attributes(params, context.input_shapes[0], context.output_shape)
        context.add_node("MaxPool", context.inputs, attributes, output=context.output)

    onnx_types = ("MaxPool",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        if len(node.outputs) > 1 and node.outputs[1]:
            raise ValueError("a max pool that also returns the indices")
        return _pool_params(node)


class AvgPool2d(_Pool2d[AvgPoolParams]):
    kind = "avgpool2d"
    Params = AvgPoolParams
    name_prefix = "avgpool"
    label_name = "avg pool"
    description = "2-D average pooling (nn.AvgPool2d); stride defaults to the kernel"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        pool = call.module
        if pool is None and call.function == "avg_pool2d":
            return self._from_function(call)
        if type(pool).__name__ != "AvgPool2d" or pool.divisor_override is not None:
            return None
        return {"kernel": unpair(pool.kernel_size), "stride": unpair(pool.stride), "padding": unpair(pool.padding),
                "ceil_mode": pool.ceil_mode, "count_include_pad": pool.count_include_pad}

    @staticmethod
    def _from_function(call: TorchCall) -> Mapping[str, Any] | None:
        """``F.avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True)``."""
        names = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
        given = dict(zip(names, call.arguments, strict=False)) | dict(call.keywords)
        if given.get("divisor_override") is not None or "kernel_size" not in given:
            return None
        kernel = unpair(given["kernel_size"])
        stride = given.get("stride")
        return {"kernel": kernel, "stride": unpair(stride) if stride not in (None, []) else kernel,
                "padding": unpair(given.get("padding", 0)), "ceil_mode": bool(given.get("ceil_mode", False)),
                "count_include_pad": bool(given.get("count_include_pad", True))}

    def torch_layer(self, params: AvgPoolParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs = self.torch_kwargs(params) | {"count_include_pad": params.count_include_pad}
        return TorchLayer("torch.nn.AvgPool2d", kwargs=kwargs)

    def to_onnx(self, params: AvgPoolParams, context: OnnxContext) -> None:
        attributes = _onnx_pool_attributes(params, context.input_shapes[0], context.output_shape)
        pads = attributes["pads"]
        correction = _average_divisor_correction(params, context.input_shapes[0], context.output_shape)
        if not params.count_include_pad or pads[:2] == pads[2:] or correction is None:
            include_pad = params.count_include_pad and pads[:2] == pads[2:]
            context.add_node("AveragePool", context.inputs, attributes | {"count_include_pad": int(include_pad)},
                             output=context.output)
            return
        # a ceil_mode window reaching past the padding: torch counts the padding but not the overhang
        mean = context.add_node("AveragePool", context.inputs, attributes | {"count_include_pad": 0})
        context.add_node("Mul", [mean, context.constant("divisor_correction", correction)], output=context.output)

    onnx_types = ("AveragePool",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        params = _pool_params(node)
        if params.get("padding", 0) != 0:
            params["count_include_pad"] = bool(node.attributes.get("count_include_pad", 0))
        return params


class AdaptiveAvgPoolParams(OpParams):
    size: SizePair
    """Output height and width."""


class AdaptiveAvgPool2d(Op[AdaptiveAvgPoolParams]):
    kind = "adaptive_avgpool2d"
    Params = AdaptiveAvgPoolParams
    shorthand = "size"
    family = "pool"
    name_prefix = "avgpool"
    owns_output = True
    description = "adaptive average pooling to a fixed output size (nn.AdaptiveAvgPool2d)"

    def output_shape(self, params: AdaptiveAvgPoolParams, inputs: Sequence[Shape]) -> Shape:
        channels, _, _ = require_rank(self.kind, inputs, 3, "an image")
        return (channels, *pair(params.size))

    def label(self, params: AdaptiveAvgPoolParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"adaptive avg pool {output[1]}×{output[2]}"

    def volume_label(self, params: AdaptiveAvgPoolParams, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        return ("adaptive avg pool", f"to {output[1]}×{output[2]}")

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        if type(call.module).__name__ == "AdaptiveAvgPool2d":
            return {"size": unpair(call.module.output_size)}
        if call.function == "adaptive_avg_pool2d" and len(call.arguments) > 1:
            return {"size": unpair(call.arguments[1])}
        return None

    def torch_layer(self, params: AdaptiveAvgPoolParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        size = pair(params.size)
        return TorchLayer("torch.nn.AdaptiveAvgPool2d", kwargs={"output_size": size if size[0] != size[1] else size[0]})

    def to_onnx(self, params: AdaptiveAvgPoolParams, context: OnnxContext) -> None:
        _, height, width = context.input_shapes[0]
        _, out_height, out_width = context.output_shape
        if (out_height, out_width) == (height, width):
            context.add_node("Identity", context.inputs, output=context.output)
        elif (out_height, out_width) == (1, 1):
            context.add_node("GlobalAveragePool", context.inputs, output=context.output)
        elif height % out_height == 0 and width % out_width == 0:
            window = (height // out_height, width // out_width)
            context.add_node("AveragePool", context.inputs, {"kernel_shape": window, "strides": window},
                             output=context.output)
        else:  # uneven windows: average rows, then columns, with constant matrices (exact)
            columns = context.constant("column_weights", _adaptive_average_matrix(width, out_width).T)
            rows = context.constant("row_weights", _adaptive_average_matrix(height, out_height))
            across = context.add_node("MatMul", [context.inputs[0], columns])
            context.add_node("MatMul", [rows, across], output=context.output)


class GlobalAvgPoolParams(OpParams):
    flat: Flag = False
    """Drop the 1×1 axes: [C, H, W] -> [C], as ``x.mean([2, 3])`` (MNASNet)."""


class GlobalAvgPool(Op[GlobalAvgPoolParams]):
    kind = "global_avgpool"
    Params = GlobalAvgPoolParams
    family = "pool"
    name_prefix = "avgpool"
    owns_output = True
    description = "global average pooling: [C, H, W] -> [C, 1, 1] (nn.AdaptiveAvgPool2d(1)), or [C] with flat"

    def output_shape(self, params: GlobalAvgPoolParams, inputs: Sequence[Shape]) -> Shape:
        channels, _, _ = require_rank(self.kind, inputs, 3, "an image")
        return (channels,) if params.flat else (channels, 1, 1)

    def label(self, params: GlobalAvgPoolParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "global avg pool"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """``x.mean([2, 3])`` (``keepdim=True`` keeps the 1×1 axes)."""
        if call.module is not None or call.function != "mean" or len(call.input_shapes[:1]) != 1:
            return None
        given = dict(zip(("input", "dim", "keepdim"), call.arguments, strict=False)) | dict(call.keywords)
        dims = given.get("dim")
        rank = len(call.input_shapes[0]) + 1
        if rank != 4 or not isinstance(dims, (list, tuple)) or sorted(int(d) % rank for d in dims) != [2, 3]:
            return None
        return {"flat": not given.get("keepdim", False)}

    def torch_layer(self, params: GlobalAvgPoolParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        if params.flat:
            return TorchLayer("torch.nn.AdaptiveAvgPool2d", kwargs={"output_size": 1},
                              forward="{module}({0}).flatten(1)")
        return TorchLayer("torch.nn.AdaptiveAvgPool2d", kwargs={"output_size": 1})

    def to_onnx(self, params: GlobalAvgPoolParams, context: OnnxContext) -> None:
        if not params.flat:
            context.add_node("GlobalAveragePool", context.inputs, output=context.output)
            return
        pooled = context.add_node("GlobalAveragePool", context.inputs)
        context.add_node("Flatten", [pooled], {"axis": 1}, output=context.output)

    onnx_types = ("GlobalAveragePool", "ReduceMean")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """``GlobalAveragePool``, or a ``ReduceMean`` over an image's height and width (``flat`` without keepdims)."""
        if node.op_type == "GlobalAveragePool":
            return {}
        from archspec.ops.onnx_reading import constant_input, onnx_axis

        rank = len(node.input_shapes[0]) + 1
        axes = node.attributes.get("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1]:
            axes = constant_input(node, 1, "axes").reshape(-1).tolist()
        if rank != 4 or axes is None or sorted(onnx_axis(int(axis), rank) for axis in axes) != [2, 3]:
            raise ValueError("a mean over other axes than an image's height and width (global average pooling)")
        return {} if node.attributes.get("keepdims", 1) else {"flat": True}


# -- ONNX lowering and reading helpers ---------------------------------------------------------------

def _onnx_pool_attributes(params: PoolParams, shape: Shape, output: Shape) -> dict[str, Any]:
    """ONNX pool attributes giving torch's windows: floor mode, with the end padding that yields
    exactly torch's output size (so a ceil_mode pool's dropped last window stays dropped)."""
    kernel, strides, padding = pair(params.kernel), params.strides(), pair(params.padding)
    ends = tuple(max(p, (out - 1) * s + k - extent - p)
                 for extent, out, k, s, p in zip(shape[1:], output[1:], kernel, strides, padding, strict=True))
    return {"kernel_shape": kernel, "strides": strides, "pads": (*padding, *ends)}


def _average_divisor_correction(params: AvgPoolParams, shape: Shape, output: Shape) -> np.ndarray | None:
    """Per output position, (real elements in the window) / (torch's divisor) for count_include_pad,
    where torch counts the padding but not a ceil_mode overhang; None when it is 1 everywhere."""
    import numpy as np

    kernel, strides, padding = pair(params.kernel), params.strides(), pair(params.padding)
    ratios = []
    for extent, out, k, s, p in zip(shape[1:], output[1:], kernel, strides, padding, strict=True):
        starts = np.arange(out) * s - p
        divisor = np.minimum(starts + k, extent + p) - starts
        real = np.minimum(starts + k, extent) - np.maximum(starts, 0)
        ratios.append(real / divisor)
    correction = np.outer(ratios[0], ratios[1])
    return None if np.all(correction == 1) else correction


def _adaptive_average_matrix(extent: int, out: int) -> np.ndarray:
    """(out, extent): row i averages torch's adaptive window [floor(i*extent/out), ceil((i+1)*extent/out))."""
    import numpy as np

    matrix = np.zeros((out, extent))
    for i in range(out):
        start, end = (i * extent) // out, -(-((i + 1) * extent) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _pool_params(node: OnnxNode) -> dict[str, Any]:
    """Kernel, stride, padding and ceil_mode giving a ``MaxPool`` or ``AveragePool`` node's windows exactly:
    archspec writes a ``ceil_mode`` pool as floor mode with extra end padding, which reads back as ceil_mode."""
    from archspec.ops.onnx_reading import compact

    shape = node.input_shapes[0]
    attributes = node.attributes
    if len(shape) != 3:
        raise ValueError("a pool over other than two spatial axes: archspec pools images [C, H, W]")
    if attributes.get("auto_pad", "NOTSET") not in ("NOTSET", "", "VALID"):
        raise ValueError(f"auto_pad={attributes['auto_pad']} pooling")
    if tuple(attributes.get("dilations", (1, 1))) != (1, 1):
        raise ValueError("a dilated pool: archspec's pools have no dilation")
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
            params: dict[str, Any] = {"kernel": compact(kernel)}
            if stride != kernel:
                params["stride"] = compact(stride)
            if pads[:2] != (0, 0):
                params["padding"] = compact(pads[:2])
            if ceil_mode:
                params["ceil_mode"] = True
            return params
    raise ValueError(f"pads {list(pads)} give windows that archspec's symmetric padding with or without "
                     "ceil_mode does not")


def _onnx_pooled(extent: int, kernel: int, stride: int, before: int, after: int, ceil: bool) -> int:
    """The output size ONNX gives an axis of ``extent`` with these pads."""
    span = extent + before + after - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= extent + before:
        out -= 1
    return out
