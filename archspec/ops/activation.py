"""Element-wise activations and regularization: relu, relu6, leaky_relu, gelu, silu, hardswish,
hardsigmoid, mish, tanh, sigmoid, softmax, dropout, identity.  None of them changes the shape or has parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from archspec.ops.base import Number, Op, OpParams, ParamsT, Probability, Shape, TorchCall, TorchLayer, plain_call

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class _ShapePreserving(Op[ParamsT]):
    """An element-wise op: the output has the input's shape; by default a parameterless torch.nn layer."""

    family = "activation"
    torch_class: ClassVar[str]

    def output_shape(self, params: ParamsT, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def torch_layer(self, params: ParamsT, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer(f"torch.nn.{self.torch_class}")

    def per_position(self, params: ParamsT, inputs: Sequence[Shape]) -> bool:
        return True

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        torch_class = getattr(self, "torch_class", "")
        if self.Params is not OpParams or not torch_class:
            return super().from_torch(call)
        if call.module is not None:
            return {} if type(call.module).__name__ == torch_class else None
        return {} if call.function in (self.kind, torch_class.lower()) and plain_call(call) else None


class ReLU(_ShapePreserving[OpParams]):
    kind = "relu"
    torch_class = "ReLU"
    torch_inplace_layer = True
    description = "rectified linear unit, max(x, 0)"
    onnx_types = ("Relu", "Clip")

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "ReLU"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Relu", context.inputs, output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        if node.op_type == "Relu":
            return {}
        low, high = clip_bounds(node)
        return {} if low == 0 and high == math.inf else None



class Tanh(_ShapePreserving[OpParams]):
    kind = "tanh"
    torch_class = "Tanh"
    description = "hyperbolic tangent"
    onnx_types = ("Tanh",)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Tanh", context.inputs, output=context.output)


class Sigmoid(_ShapePreserving[OpParams]):
    kind = "sigmoid"
    torch_class = "Sigmoid"
    description = "logistic sigmoid"
    onnx_types = ("Sigmoid",)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Sigmoid", context.inputs, output=context.output)


class GELU(_ShapePreserving[OpParams]):
    kind = "gelu"
    torch_class = "GELU"
    description = "Gaussian error linear unit"
    onnx_types = ("Gelu", "Erf")

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "GELU"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        exact = call.module is None or getattr(call.module, "approximate", "none") == "none"
        return super().from_torch(call) if exact else None

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        if context.opset >= 20:
            context.add_node("Gelu", context.inputs, output=context.output)
            return
        x = context.inputs[0]  # before opset 20: x * 0.5 * (1 + erf(x / sqrt(2))), as torch computes it
        erf = context.add_node("Erf", [context.add_node("Mul", [x, context.constant("inverse_sqrt2", math.sqrt(0.5))])])
        one_plus = context.add_node("Add", [erf, context.constant("one", 1.0)])
        half_x = context.add_node("Mul", [x, context.constant("half", 0.5)])
        context.add_node("Mul", [half_x, one_plus], output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """``Gelu`` (opset 20), or before it the ``Erf`` of ``x * 0.5 * (1 + erf(x / sqrt(2)))``."""
        if node.op_type == "Erf":
            return _erf_gelu(node)
        if node.attributes.get("approximate", "none") != "none":
            raise ValueError("GELU's tanh approximation: archspec's gelu is the exact one")
        return {}



class LeakyReluParams(OpParams):
    slope: Number = 0.01
    """Slope for negative inputs."""


class LeakyReLU(_ShapePreserving[LeakyReluParams]):
    kind = "leaky_relu"
    Params = LeakyReluParams
    shorthand = "slope"
    name_prefix = "relu"
    description = "leaky rectified linear unit (nn.LeakyReLU)"
    onnx_types = ("LeakyRelu",)

    def label(self, params: LeakyReluParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"leaky ReLU {params.slope:g}"

    def torch_layer(self, params: LeakyReluParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.LeakyReLU", (params.slope,))

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        if type(call.module).__name__ == "LeakyReLU":
            return {"slope": call.module.negative_slope}
        return None

    def to_onnx(self, params: LeakyReluParams, context: OnnxContext) -> None:
        context.add_node("LeakyRelu", context.inputs, {"alpha": float(params.slope)}, output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        slope = float(f"{float(node.attributes.get('alpha', 0.01)):.7g}")
        return {} if slope == 0.01 else {"slope": slope}



class Softmax(_ShapePreserving[OpParams]):
    kind = "softmax"
    description = "softmax over the channel (or feature) axis"
    onnx_types = ("Softmax",)

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Softmax", kwargs={"dim": 1})

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        if len(context.input_shapes[0]) > 1:
            context.require_opset(13, "softmax over an image's channels (before 13, Softmax spans all trailing axes)")
        context.add_node("Softmax", context.inputs, {"axis": 1}, output=context.output)

    def per_position(self, params: OpParams, inputs: Sequence[Shape]) -> bool:
        return False  # over axis 1, not the last

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        rank = len(node.input_shapes[0]) + 1
        axis = int(node.attributes.get("axis", -1 if node.opset >= 13 else 1))
        if (axis + rank if axis < 0 else axis) != 1 or (rank > 2 and node.opset < 13):
            raise ValueError("a softmax over another axis than the channels or features: archspec's softmax is "
                             "over axis 1")
        return {}



class DropoutParams(OpParams):
    p: Probability = 0.5
    """Probability of zeroing an element during training."""


class Dropout(_ShapePreserving[DropoutParams]):
    kind = "dropout"
    Params = DropoutParams
    shorthand = "p"
    family = "regularization"
    description = "dropout during training, identity at inference (nn.Dropout)"

    def label(self, params: DropoutParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"dropout {params.p:g}"

    def torch_layer(self, params: DropoutParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Dropout", kwargs={"p": params.p})

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        if type(call.module).__name__ == "Dropout":
            return {"p": call.module.p}
        return None

    def to_onnx(self, params: DropoutParams, context: OnnxContext) -> None:
        context.add_node("Identity", context.inputs, output=context.output)  # inference: no dropout


class Identity(_ShapePreserving[OpParams]):
    kind = "identity"
    family = "reshape"
    torch_class = "Identity"
    description = "passes its input through unchanged"
    onnx_types = ("Identity", "Dropout", "Reshape")

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("Identity", context.inputs, output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """``Identity``, and ``Dropout`` (which does nothing at inference), are no layer at all: ``identity``,
        ``dropout`` and ``stochastic_depth`` all export as ``Identity``, and what reads them reads their input.
        So is dynamo's ``as_strided`` that gives its input back (:mod:`archspec.ops.strided_onnx`)."""
        if node.op_type == "Reshape":
            from archspec.ops.strided_onnx import is_identity_gather

            return node.pass_through() if is_identity_gather(node) else None
        if node.output_index:
            raise ValueError("a Dropout whose mask is read (at inference it drops nothing)")
        return node.pass_through()


class ReLU6(_ShapePreserving[OpParams]):
    kind = "relu6"
    torch_class = "ReLU6"
    torch_inplace_layer = True
    name_prefix = "relu"
    description = "rectified linear unit capped at 6, min(max(x, 0), 6) (MobileNetV2)"
    onnx_types = ("Clip",)

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "ReLU6"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        low, high = context.constant("min", 0.0), context.constant("max", 6.0)
        context.add_node("Clip", [context.inputs[0], low, high], output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        return {} if clip_bounds(node) == (0, 6) else None



class HardSigmoid(_ShapePreserving[OpParams]):
    kind = "hardsigmoid"
    torch_class = "Hardsigmoid"
    description = "piecewise-linear sigmoid, relu6(x + 3) / 6 (nn.Hardsigmoid; MobileNetV3's gates)"
    onnx_types = ("HardSigmoid",)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("HardSigmoid", context.inputs, {"alpha": 1 / 6, "beta": 0.5}, output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        if not _is_hard_sigmoid(node):
            raise ValueError("a HardSigmoid other than relu6(x + 3) / 6 (alpha 1/6, beta 1/2)")
        return {}



class HardSwish(_ShapePreserving[OpParams]):
    kind = "hardswish"
    torch_class = "Hardswish"
    torch_inplace_layer = True
    description = "x * relu6(x + 3) / 6 (nn.Hardswish; MobileNetV3)"
    onnx_types = ("HardSwish", "HardSigmoid")

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.add_node("HardSwish", context.inputs, output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        if node.op_type == "HardSwish":
            return {}
        return _gated(node) if _is_hard_sigmoid(node) else None



class SiLU(_ShapePreserving[OpParams]):
    kind = "silu"
    torch_class = "SiLU"
    torch_inplace_layer = True
    description = "sigmoid-weighted linear unit x * sigmoid(x), also called swish (nn.SiLU; EfficientNet, RegNetY)"
    onnx_types = ("Sigmoid",)

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "SiLU"

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        gate = context.add_node("Sigmoid", context.inputs)
        context.add_node("Mul", [context.inputs[0], gate], output=context.output)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        return _gated(node)



class Mish(_ShapePreserving[OpParams]):
    kind = "mish"
    torch_class = "Mish"
    description = "x * tanh(softplus(x)) (nn.Mish)"
    onnx_types = ("Mish",)

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.require_opset(18, "mish")
        context.add_node("Mish", context.inputs, output=context.output)


def _erf_gelu(node: OnnxNode) -> Mapping[str, Any]:
    """GELU's ``Erf`` chain in archspec's order, ``(x * 0.5) * (1 + erf(x * sqrt(0.5)))``, or torch's,
    ``(x * (1 + erf(x / sqrt(2)))) * 0.5``: its scaling before the ``Erf`` and the rest after it absorbed."""
    from archspec.ops.onnx_reading import is_number, other_constant

    outside = ValueError("an Erf outside GELU's x * 0.5 * (1 + erf(x / sqrt(2)))")
    scaled = node.producer(node.inputs[0])
    x = _scaled_input(scaled, math.sqrt(0.5)) if scaled is not None else None
    one_plus = node.consumer()
    if x is None or scaled is None or one_plus is None or one_plus.op_type != "Add" or \
            not is_number(other_constant(one_plus, node.outputs[0]), 1.0):
        raise outside
    product = one_plus.consumer()
    if product is None or product.op_type != "Mul":
        raise outside
    other = next((name for name in product.inputs if name != one_plus.outputs[0]), None)
    if other == x:  # torch: (x * (1 + erf)) * 0.5
        final = product.consumer()
        if final is None or final.op_type != "Mul" or not is_number(other_constant(final, product.outputs[0]), 0.5):
            raise outside
        node.absorb(scaled, one_plus, product, final)
        return {}
    half = node.producer(other) if other is not None else None  # archspec: (x * 0.5) * (1 + erf)
    if half is None or _scaled_input(half, 0.5) != x:
        raise outside
    node.absorb(scaled, half, one_plus, product)
    return {}


def _scaled_input(node: OnnxNode, factor: float) -> str | None:
    """The data input of ``Mul(x, factor)`` or ``Div(x, 1 / factor)``, else None."""
    from archspec.ops.onnx_reading import is_number

    if node.op_type not in ("Mul", "Div") or len(node.inputs) != 2:
        return None
    constants = [node.constant(name) for name in node.inputs]
    if (constants[0] is None) == (constants[1] is None):
        return None
    value, constant = (node.inputs[0], constants[1]) if constants[0] is None else (node.inputs[1], constants[0])
    wanted = factor if node.op_type == "Mul" else 1 / factor
    return value if is_number(constant, wanted, 1e-5) and (node.op_type == "Mul" or node.inputs[0] == value) else None


def _gated(node: OnnxNode) -> Mapping[str, Any] | None:
    """``x * f(x)`` with ``node`` computing ``f(x)``: the ``Mul`` after it absorbed, else None."""
    gate = node.consumer()
    if gate is None or gate.op_type != "Mul" or sorted(gate.inputs) != sorted([node.inputs[0], node.outputs[0]]):
        return None
    node.absorb(gate)
    return {}


def _is_hard_sigmoid(node: OnnxNode) -> bool:
    alpha, beta = float(node.attributes.get("alpha", 0.2)), float(node.attributes.get("beta", 0.5))
    return abs(alpha - 1 / 6) < 1e-6 and abs(beta - 0.5) < 1e-6


def clip_bounds(node: OnnxNode) -> tuple[float, float]:
    """A ``Clip`` node's bounds (from its inputs since opset 11, else its attributes); -inf/inf when open."""
    def bound(position: int, attribute: str, default: float) -> float:
        if len(node.inputs) > 1:
            value = node.constant(node.inputs[position]) if position < len(node.inputs) and node.inputs[position] \
                else None
            if value is None and position < len(node.inputs) and node.inputs[position]:
                raise ValueError("a Clip whose bounds are computed from the data")
            return default if value is None or value.size != 1 else float(value.reshape(-1)[0])
        return float(node.attributes.get(attribute, default))
    return bound(1, "min", -math.inf), bound(2, "max", math.inf)
