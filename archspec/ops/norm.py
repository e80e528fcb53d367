"""Normalization: ``batchnorm2d`` and local response normalization ``lrn`` (AlexNet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from archspec.ops.base import Flag, Number, Op, OpParams, Shape, Size, TorchCall, TorchLayer, require_rank

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class BatchNormParams(OpParams):
    eps: Number = Field(default=1e-5, gt=0)
    """Added to the variance for numerical stability."""
    momentum: Number = Field(default=0.1, ge=0, le=1)
    """Weight of the current batch in the running statistics."""
    affine: Flag = True
    """Learn a scale and shift per channel."""


class BatchNorm2d(Op[BatchNormParams]):
    kind = "batchnorm2d"
    Params = BatchNormParams
    family = "norm"
    name_prefix = "bn"
    owns_output = True
    description = "batch normalization over channels (nn.BatchNorm2d)"

    def output_shape(self, params: BatchNormParams, inputs: Sequence[Shape]) -> Shape:
        return require_rank(self.kind, inputs, 3, "an image")

    def parameter_count(self, params: BatchNormParams, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * inputs[0][0] if params.affine else 0

    def label(self, params: BatchNormParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "batch norm"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        norm = call.module
        if type(norm).__name__ != "BatchNorm2d" or not norm.track_running_stats or norm.momentum is None:
            return None
        return {"eps": norm.eps, "momentum": norm.momentum, "affine": norm.affine}

    def torch_layer(self, params: BatchNormParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {}
        if params.eps != 1e-5:
            kwargs["eps"] = params.eps
        if params.momentum != 0.1:
            kwargs["momentum"] = params.momentum
        if not params.affine:
            kwargs["affine"] = False
        return TorchLayer("torch.nn.BatchNorm2d", (inputs[0][0],), kwargs)

    def to_onnx(self, params: BatchNormParams, context: OnnxContext) -> None:
        if params.affine:
            scale, shift = context.weight("weight"), context.weight("bias")
        else:
            channels = context.input_shapes[0][0]
            scale, shift = context.constant("scale", [1.0] * channels), context.constant("shift", [0.0] * channels)
        inputs = [context.inputs[0], scale, shift, context.weight("running_mean"), context.weight("running_var")]
        # ONNX's momentum weighs the running statistic, torch's the new batch
        context.add_node("BatchNormalization", inputs, {"epsilon": float(params.eps), "momentum": 1 - params.momentum},
                         output=context.output)

    onnx_types = ("BatchNormalization",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """A ``BatchNormalization`` at inference; a fixed scale of ones and shift of zeros (not initializers) is
        ``affine: false``."""
        from archspec.ops.context import UnreadableNode
        from archspec.ops.onnx_reading import constant_input, decimal

        attributes = node.attributes
        if attributes.get("training_mode", 0) or any(node.outputs[1:]):
            raise UnreadableNode("a batch norm in training mode (it updates its statistics)")
        scale, shift = constant_input(node, 1, "scale"), constant_input(node, 2, "bias")
        mean, variance = constant_input(node, 3, "mean"), constant_input(node, 4, "variance")
        params: dict[str, Any] = {}
        epsilon = decimal(attributes.get("epsilon", 1e-5))
        if epsilon != 1e-5:
            params["eps"] = epsilon
        momentum = decimal(1 - decimal(attributes.get("momentum", 0.9)))
        if momentum != 0.1:
            params["momentum"] = momentum
        learned = node.is_initializer(node.inputs[1]) or node.is_initializer(node.inputs[2])
        if learned or not ((scale == 1).all() and (shift == 0).all()):
            node.weight("weight", scale)
            node.weight("bias", shift)
        else:
            params["affine"] = False
        node.weight("running_mean", mean)
        node.weight("running_var", variance)
        return params


class LrnParams(OpParams):
    size: Size = 5
    """Number of neighbouring channels summed over."""
    alpha: Number = 1e-4
    """Scale of the sum of squares (divided by size, as in PyTorch and ONNX)."""
    beta: Number = 0.75
    """Exponent."""
    k: Number = 1.0
    """Additive constant (AlexNet: 2)."""


class LocalResponseNorm(Op[LrnParams]):
    kind = "lrn"
    Params = LrnParams
    shorthand = "size"
    family = "norm"
    description = "local response normalization across channels, as in AlexNet (nn.LocalResponseNorm)"
    onnx_types = ("LRN",)

    def output_shape(self, params: LrnParams, inputs: Sequence[Shape]) -> Shape:
        return require_rank(self.kind, inputs, 3, "an image")

    def label(self, params: LrnParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"LRN {params.size}"

    def torch_layer(self, params: LrnParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.LocalResponseNorm", (params.size,),
                          {"alpha": params.alpha, "beta": params.beta, "k": params.k})

    def to_onnx(self, params: LrnParams, context: OnnxContext) -> None:
        if params.size % 2 == 0:
            raise context.error(
                f"LRN of even size {params.size} sums a different window of channels in torch "
                f"([c-{params.size // 2}, c+{(params.size - 1) // 2}]) than in ONNX "
                f"([c-{(params.size - 1) // 2}, c+{params.size // 2}]), and onnxruntime accepts only odd sizes",
                hint="use an odd size (AlexNet uses 5)")
        context.add_node("LRN", context.inputs, {"size": params.size, "alpha": float(params.alpha),
                                                 "beta": float(params.beta), "bias": float(params.k)},
                         output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        attributes = node.attributes

        from archspec.ops.onnx_reading import decimal

        return {"size": int(attributes["size"]), "alpha": decimal(attributes.get("alpha", 1e-4)),
                "beta": decimal(attributes.get("beta", 0.75)), "k": decimal(attributes.get("bias", 1.0))}
