"""Convolution: ``conv2d``.

Padding ``same`` follows the TensorFlow/Keras convention at every stride: the output is
``ceil(input / stride)``, and when the total padding is odd the extra row/column goes at the
bottom/right.  For stride 1 and an odd kernel this is the symmetric ``(k - 1) // 2`` padding
PyTorch calls ``same``.  ``valid`` means no padding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archspec.ops.base import (
    Flag,
    Op,
    OpParams,
    Padding,
    Shape,
    ShapeError,
    Size,
    SizePair,
    TorchCall,
    TorchLayer,
    pair,
    pair_text,
    require_rank,
    unpair,
)

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class Conv2dParams(OpParams):
    channels: Size
    """Output channels (filters)."""
    kernel: SizePair
    """Kernel size: k or [kh, kw]."""
    stride: SizePair = 1
    """Step between windows: s or [sh, sw]."""
    padding: Padding = 0
    """Zero padding: p, [ph, pw], same (output = ceil(input / stride)) or valid (none)."""
    dilation: SizePair = 1
    """Spacing between kernel elements."""
    groups: Size = 1
    """Split channels into groups convolved separately (AlexNet's two GPUs: 2)."""
    bias: Flag = True
    """Add a learned bias per output channel."""


def explicit_padding(padding: int | tuple[int, int] | str, size: tuple[int, int], kernel: tuple[int, int],
                     stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """Padding as (top, bottom, left, right) for an input of spatial ``size``."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        sides = []
        for extent, k, s, d in zip(size, kernel, stride, dilation, strict=True):
            out = -(-extent // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - extent, 0)
            sides.append((total // 2, total - total // 2))
        return (sides[0][0], sides[0][1], sides[1][0], sides[1][1])
    assert not isinstance(padding, str)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)


def sliding_window_output(extent: int, before: int, after: int, kernel: int, stride: int, dilation: int,
                          what: str, axis: str) -> int:
    span = dilation * (kernel - 1) + 1
    padded = extent + before + after
    if padded < span:
        raise ShapeError(
            f"{what} {span} is larger than the padded input {axis} {padded} "
            f"(input {extent}, padding {before}+{after})",
            reason="input_too_small",
        )
    return (padded - span) // stride + 1


class Conv2d(Op[Conv2dParams]):
    kind = "conv2d"
    Params = Conv2dParams
    shorthand = "channels"
    family = "conv"
    name_prefix = "conv"
    owns_output = True
    description = "2-D convolution (PyTorch nn.Conv2d); padding int, [h, w], same or valid"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        conv = call.module
        if type(conv).__name__ != "Conv2d" or conv.padding_mode != "zeros":
            return None
        return {"channels": conv.out_channels, "kernel": unpair(conv.kernel_size), "stride": unpair(conv.stride),
                "padding": unpair(conv.padding), "dilation": unpair(conv.dilation), "groups": conv.groups,
                "bias": conv.bias is not None}

    def padding(self, params: Conv2dParams, shape: Shape) -> tuple[int, int, int, int]:
        return explicit_padding(params.padding, (shape[1], shape[2]), pair(params.kernel),
                                pair(params.stride), pair(params.dilation))

    def output_shape(self, params: Conv2dParams, inputs: Sequence[Shape]) -> Shape:
        shape = require_rank("conv2d", inputs, 3, "an image")
        channels, height, width = shape
        if channels % params.groups:
            raise ShapeError(f"input channels {channels} are not divisible by groups={params.groups}")
        if params.channels % params.groups:
            raise ShapeError(f"output channels {params.channels} are not divisible by groups={params.groups}")
        (kh, kw), (sh, sw), (dh, dw) = pair(params.kernel), pair(params.stride), pair(params.dilation)
        top, bottom, left, right = self.padding(params, shape)
        out_h = sliding_window_output(height, top, bottom, kh, sh, dh, "kernel height", "height")
        out_w = sliding_window_output(width, left, right, kw, sw, dw, "kernel width", "width")
        return (params.channels, out_h, out_w)

    def parameter_count(self, params: Conv2dParams, inputs: Sequence[Shape], output: Shape) -> int:
        kh, kw = pair(params.kernel)
        weights = params.channels * (inputs[0][0] // params.groups) * kh * kw
        return weights + (params.channels if params.bias else 0)

    def macs(self, params: Conv2dParams, inputs: Sequence[Shape], output: Shape) -> int:
        kh, kw = pair(params.kernel)
        return output[0] * output[1] * output[2] * (inputs[0][0] // params.groups) * kh * kw

    def label(self, params: Conv2dParams, inputs: Sequence[Shape], output: Shape) -> str:
        kh, kw = pair(params.kernel)
        sh, sw = pair(params.stride)
        text = f"conv {kh}×{kw}"
        if (sh, sw) != (1, 1):
            text += f"/{sh}" if sh == sw else f"/{sh}×{sw}"
        text += f", {params.channels}"
        if params.groups > 1:
            text += f", groups {params.groups}"
        if pair(params.dilation) != (1, 1):
            text += f", dilation {params.dilation}"
        return text

    def volume_label(self, params: Conv2dParams, inputs: Sequence[Shape], output: Shape) -> tuple[str, ...]:
        kernel_h, kernel_w = pair(params.kernel)
        stride = pair(params.stride)
        details = [pair_text("s", stride)]
        if params.padding not in (0, (0, 0), "valid"):
            _, height, width = inputs[0]
            keeps_size = output[1:] == (-(-height // stride[0]), -(-width // stride[1]))
            padding = params.padding
            details.append("same" if keeps_size else padding if isinstance(padding, str) else pair_text("p", padding))
        if pair(params.dilation) != (1, 1):
            details.append(pair_text("d", params.dilation))
        if params.groups > 1:
            details.append(f"{params.groups} groups")
        return (f"conv {kernel_h}×{kernel_w}", ", ".join(details))

    def torch_layer(self, params: Conv2dParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        top, bottom, left, right = self.padding(params, inputs[0])
        symmetric = top == bottom and left == right
        kwargs: dict[str, object] = {
            "kernel_size": _compact(pair(params.kernel)),
            "stride": _compact(pair(params.stride)),
            "padding": _compact((top, left)) if symmetric else 0,
            "dilation": _compact(pair(params.dilation)),
            "groups": params.groups,
            "bias": params.bias,
        }
        pads = (left, right, top, bottom)
        forward = "{module}({0})" if symmetric else "{module}(F.pad({0}, " + repr(pads) + "))"
        return TorchLayer("torch.nn.Conv2d", (inputs[0][0], params.channels), kwargs, forward)

    def to_onnx(self, params: Conv2dParams, context: OnnxContext) -> None:
        top, bottom, left, right = self.padding(params, context.input_shapes[0])
        inputs = [context.inputs[0], context.weight("weight")]
        if params.bias:
            inputs.append(context.weight("bias"))
        context.add_node("Conv", inputs, {
            "kernel_shape": pair(params.kernel), "strides": pair(params.stride), "pads": (top, left, bottom, right),
            "dilations": pair(params.dilation), "group": params.groups,
        }, output=context.output)

    onnx_types = ("Conv",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """A 2-D ``Conv``: archspec's own, or torch's (which folds a batch norm after it into its weight and bias)."""
        from archspec.ops.onnx_reading import compact, constant_input, optional_constant

        shape = node.input_shapes[0]
        weight = constant_input(node, 1, "weight")
        bias = optional_constant(node, 2)
        if weight.ndim != 4:
            raise ValueError(f"a {weight.ndim - 2}-D convolution: archspec's conv2d is 2-D")
        attributes = node.attributes
        kernel = tuple(int(k) for k in attributes.get("kernel_shape", weight.shape[2:]))
        stride = tuple(attributes.get("strides", (1, 1)))
        dilation = tuple(attributes.get("dilations", (1, 1)))
        groups = int(attributes.get("group", 1))
        params: dict[str, Any] = {"channels": int(weight.shape[0]), "kernel": compact(kernel)}
        if stride != (1, 1):
            params["stride"] = compact(stride)
        padding = _onnx_padding(attributes, shape, kernel, stride, dilation)
        if padding not in (0, (0, 0)):
            params["padding"] = padding if isinstance(padding, str) else compact(padding)
        if dilation != (1, 1):
            params["dilation"] = compact(dilation)
        if groups != 1:
            params["groups"] = groups
        node.weight("weight", weight)
        if bias is None:
            params["bias"] = False
        else:
            node.weight("bias", bias)
        return params


def _onnx_padding(attributes: Mapping[str, Any], shape: Shape, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> str | tuple[int, int]:
    """A ``Conv`` node's padding as a spec writes it: symmetric, or ``same`` where it is archspec's."""
    auto_pad = attributes.get("auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return (0, 0)
    same = explicit_padding("same", (shape[1], shape[2]), kernel, stride, dilation)  # type: ignore[arg-type]
    if auto_pad == "SAME_UPPER":
        return "same"
    if auto_pad not in ("NOTSET", ""):
        raise ValueError(f"auto_pad={auto_pad}: archspec's 'same' puts an odd padding's extra row at the end")
    top, left, bottom, right = (int(p) for p in attributes.get("pads", (0, 0, 0, 0)))
    if (top, left) == (bottom, right):
        return (top, left)
    if (top, bottom, left, right) == same:
        return "same"
    raise ValueError(f"asymmetric padding {[top, left, bottom, right]}: archspec's conv2d pads symmetrically "
                     "or as 'same' (extra row and column at the end)")


def _compact(value: tuple[int, int]) -> int | tuple[int, int]:
    return value[0] if value[0] == value[1] else value
