"""Element-wise activations and regularization: relu, leaky_relu, gelu, tanh, sigmoid, softmax,
dropout, identity.  None of them changes the shape or has parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from archspec.ops.base import Number, Op, OpParams, Probability, Shape, TorchLayer


class _ShapePreserving(Op[OpParams]):
    family = "activation"
    torch_class: ClassVar[str]

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer(f"torch.nn.{self.torch_class}")


class ReLU(_ShapePreserving):
    kind = "relu"
    torch_class = "ReLU"
    description = "rectified linear unit, max(x, 0)"

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "ReLU"


class Tanh(_ShapePreserving):
    kind = "tanh"
    torch_class = "Tanh"
    description = "hyperbolic tangent"


class Sigmoid(_ShapePreserving):
    kind = "sigmoid"
    torch_class = "Sigmoid"
    description = "logistic sigmoid"


class GELU(_ShapePreserving):
    kind = "gelu"
    torch_class = "GELU"
    description = "Gaussian error linear unit"

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "GELU"


class LeakyReluParams(OpParams):
    slope: Number = 0.01
    """Slope for negative inputs."""


class LeakyReLU(Op[LeakyReluParams]):
    kind = "leaky_relu"
    Params = LeakyReluParams
    shorthand = "slope"
    family = "activation"
    name_prefix = "relu"
    description = "leaky rectified linear unit (nn.LeakyReLU)"

    def output_shape(self, params: LeakyReluParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def label(self, params: LeakyReluParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"leaky ReLU {params.slope:g}"

    def torch_layer(self, params: LeakyReluParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.LeakyReLU", (params.slope,))


class Softmax(_ShapePreserving):
    kind = "softmax"
    description = "softmax over the channel (or feature) axis"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Softmax", kwargs={"dim": 1})


class DropoutParams(OpParams):
    p: Probability = 0.5
    """Probability of zeroing an element during training."""


class Dropout(Op[DropoutParams]):
    kind = "dropout"
    Params = DropoutParams
    shorthand = "p"
    family = "regularization"
    description = "dropout during training, identity at inference (nn.Dropout)"

    def output_shape(self, params: DropoutParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def label(self, params: DropoutParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"dropout {params.p:g}"

    def torch_layer(self, params: DropoutParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer("torch.nn.Dropout", kwargs={"p": params.p})


class Identity(_ShapePreserving):
    kind = "identity"
    family = "reshape"
    torch_class = "Identity"
    description = "passes its input through unchanged"


