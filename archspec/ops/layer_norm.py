"""Layer normalization: ``layer_norm`` over the features of a token, or the channels of an image at each position."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from archspec.ops.base import Flag, Number, Op, OpParams, Shape, TorchCall, TorchLayer
from archspec.ops.layout import feature_axis

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class LayerNormParams(OpParams):
    eps: Number = Field(default=1e-5, gt=0)
    """Added to the variance for numerical stability (ConvNeXt: 1e-6)."""
    affine: Flag = True
    """Learn a scale and shift per feature."""
    channels_last: Flag = False
    """The input is channels-last [H, W, C]: normalize its last axis."""


class LayerNorm(Op[LayerNormParams]):
    kind = "layer_norm"
    Params = LayerNormParams
    family = "norm"
    name_prefix = "ln"
    description = "layer normalization over features: the last axis of [F] or [L, D], the channels of an image"

    def output_shape(self, params: LayerNormParams, inputs: Sequence[Shape]) -> Shape:
        feature_axis(self.kind, inputs[0], params.channels_last, images=True)
        return inputs[0]

    def _features(self, params: LayerNormParams, shape: Shape) -> tuple[int, bool]:
        axis = feature_axis(self.kind, shape, params.channels_last, images=True)
        return shape[axis], axis == 0 and len(shape) == 3

    def parameter_count(self, params: LayerNormParams, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * self._features(params, inputs[0])[0] if params.affine else 0

    def label(self, params: LayerNormParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "layer norm"

    def per_position(self, params: LayerNormParams, inputs: Sequence[Shape]) -> bool:
        shape = inputs[0]
        return feature_axis(self.kind, shape, params.channels_last, images=True) == len(shape) - 1

    def torch_layer(self, params: LayerNormParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        features, image = self._features(params, inputs[0])
        kwargs: dict[str, object] = {}
        if params.eps != 1e-5:
            kwargs["eps"] = params.eps
        if not params.affine:
            kwargs["elementwise_affine"] = False
        factory = "archspec.nn.ChannelLayerNorm" if image else "torch.nn.LayerNorm"
        return TorchLayer(factory, (features,), kwargs)

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """``nn.LayerNorm`` over the last axis (channels-last when the input is an image), or a subclass with a
        forward of its own over an image's channels (torchvision's ``LayerNorm2d``: permute, norm, permute back)."""
        module = call.module
        if module is None or "LayerNorm" not in (base.__name__ for base in type(module).__mro__):
            return None
        features, affine = tuple(module.normalized_shape), bool(module.elementwise_affine)
        if affine and getattr(module, "bias", None) is None:
            return None
        params: dict[str, Any] = {"eps": module.eps, "affine": affine}
        if not call.input_shapes:
            return params  # asked before the call: could this module be a layer
        shape = call.input_shapes[0]
        own_forward = next(base for base in type(module).__mro__ if "forward" in vars(base)).__name__ != "LayerNorm"
        if own_forward:
            return params if len(shape) == 3 and features == shape[:1] else None
        if features != shape[-1:] or len(shape) > 3:
            return None
        return {**params, "channels_last": True} if len(shape) == 3 else params

    def to_onnx(self, params: LayerNormParams, context: OnnxContext) -> None:
        context.require_opset(17, "layer_norm (LayerNormalization)")
        features, image = self._features(params, context.input_shapes[0])
        if params.affine:
            scale, shift = context.weight("weight"), context.weight("bias")
        else:
            scale, shift = context.constant("scale", [1.0] * features), context.constant("shift", [0.0] * features)
        attributes = {"axis": -1, "epsilon": float(params.eps)}
        if not image:
            context.add_node("LayerNormalization", [context.inputs[0], scale, shift], attributes,
                             output=context.output)
            return
        last = context.add_node("Transpose", context.inputs, {"perm": [0, 2, 3, 1]})
        normal = context.add_node("LayerNormalization", [last, scale, shift], attributes)
        context.add_node("Transpose", [normal], {"perm": [0, 3, 1, 2]}, output=context.output)

    onnx_types = ("LayerNormalization", "Transpose")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """A ``LayerNormalization`` over the last axis, or one between two ``Transpose`` s that move an image's
        channels last and back (archspec's, and torchvision's ``LayerNorm2d``): over the image's channels."""
        if node.op_type == "LayerNormalization":
            return _norm_params(node, node, node.input_shapes[0], channels_first=False)
        if list(node.attributes.get("perm", ())) != [0, 2, 3, 1]:
            return None
        norm = node.consumer()
        back = norm.consumer() if norm is not None and norm.op_type == "LayerNormalization" else None
        if norm is None or back is None or back.op_type != "Transpose" or \
                list(back.attributes.get("perm", ())) != [0, 3, 1, 2]:
            return None
        params = _norm_params(norm, node, node.input_shapes[0], channels_first=True)
        node.absorb(norm, back)
        return params


def _norm_params(norm: OnnxNode, layer: OnnxNode, shape: Shape, channels_first: bool) -> dict[str, Any]:
    """The parameters of the ``LayerNormalization`` ``norm`` over an input of ``shape``; its weights given to ``layer``
    (the pattern's first node), none where its scale and shift are fixed ones and zeros."""
    import numpy as np

    from archspec.ops.onnx_reading import constant_input, decimal, onnx_axis, optional_constant

    rank = len(shape) + 1
    attributes = norm.attributes
    if onnx_axis(int(attributes.get("axis", -1)), rank) != rank - 1:
        raise ValueError("a layer norm over several axes: archspec's layer_norm normalizes one axis")
    scale = constant_input(norm, 1, "scale")
    shift = optional_constant(norm, 2)
    params: dict[str, Any] = {}
    epsilon = decimal(attributes.get("epsilon", 1e-5))
    if epsilon != 1e-5:
        params["eps"] = epsilon
    if rank == 4 and not channels_first:
        params["channels_last"] = True
    shift = np.zeros_like(scale) if shift is None else shift
    if not norm.is_initializer(norm.inputs[1]) and (scale == 1).all() and (shift == 0).all():
        return {**params, "affine": False}
    layer.weight("weight", scale)
    layer.weight("bias", shift)
    return params
