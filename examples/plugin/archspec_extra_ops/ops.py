"""The op definitions: one class per layer kind, everything archspec needs to know about it.

Each class says, in one place: the parameters a spec may give (a pydantic model), the shape
rule, the parameter and multiply-accumulate counts, the diagram label, the PyTorch layer (a
class in :mod:`archspec_extra_ops.layers`, named by its dotted path, so this module never
imports torch) and the ONNX lowering.  ``shuffle_channels`` deliberately has no ONNX lowering:
``archspec compile --onnx`` then fails with a located error that says how to add one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from archspec import OnnxContext, Op, OpParams, Shape, ShapeError, TorchLayer, require_rank
from archspec.ops.base import Size

LAYERS = "archspec_extra_ops.layers"
"""The module holding the PyTorch classes (the generated source imports from it)."""


# -- squeeze_excite ---------------------------------------------------------------------------------

# --8<-- [start:squeeze_excite]
class SqueezeExciteParams(OpParams):
    reduction: Size = 4
    """The hidden width is the channels divided by this (rounded down)."""
    gate: Literal["sigmoid", "hard_sigmoid"] = "sigmoid"
    """The gate's nonlinearity: sigmoid (SENet) or hard_sigmoid (MobileNetV3)."""


class SqueezeExcite(Op[SqueezeExciteParams]):
    kind = "squeeze_excite"
    Params = SqueezeExciteParams
    shorthand = "reduction"
    family = "attention"
    name_prefix = "se"
    description = "squeeze-and-excitation: rescale channels by a gate computed from their averages"

    def hidden(self, params: SqueezeExciteParams, channels: int) -> int:
        return channels // params.reduction

    def output_shape(self, params: SqueezeExciteParams, inputs: Sequence[Shape]) -> Shape:
        channels, height, width = require_rank(self.kind, inputs, 3, "an image")
        if self.hidden(params, channels) < 1:
            raise ShapeError(f"reduction {params.reduction} leaves no hidden channels for {channels} input "
                             f"channels (use a reduction of at most {channels})")
        return (channels, height, width)

    def parameter_count(self, params: SqueezeExciteParams, inputs: Sequence[Shape], output: Shape) -> int:
        channels = inputs[0][0]
        hidden = self.hidden(params, channels)
        return (channels * hidden + hidden) + (hidden * channels + channels)  # two 1×1 convs with biases

    def macs(self, params: SqueezeExciteParams, inputs: Sequence[Shape], output: Shape) -> int:
        # the two fully connected steps; like archspec's built-ins, pooling and scaling are not counted
        return 2 * inputs[0][0] * self.hidden(params, inputs[0][0])

    def label(self, params: SqueezeExciteParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"SE 1/{params.reduction}" + (", hard gate" if params.gate == "hard_sigmoid" else "")

    def torch_layer(self, params: SqueezeExciteParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        channels = inputs[0][0]
        return TorchLayer(f"{LAYERS}.SqueezeExcite", (channels, self.hidden(params, channels)),
                          {"gate": params.gate})

    def to_onnx(self, params: SqueezeExciteParams, context: OnnxContext) -> None:
        x = context.inputs[0]
        pooled = context.add_node("GlobalAveragePool", [x])
        reduced = context.add_node("Conv", [pooled, context.weight("reduce.weight"), context.weight("reduce.bias")],
                                   {"kernel_shape": (1, 1)}, label="reduce")
        activated = context.add_node("Relu", [reduced])
        expanded = context.add_node("Conv", [activated, context.weight("expand.weight"),
                                             context.weight("expand.bias")], {"kernel_shape": (1, 1)}, label="expand")
        if params.gate == "sigmoid":
            gate = context.add_node("Sigmoid", [expanded])
        else:  # torch's Hardsigmoid is relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1)
            gate = context.add_node("HardSigmoid", [expanded], {"alpha": 1 / 6, "beta": 0.5})
        context.add_node("Mul", [x, gate], output=context.output)
# --8<-- [end:squeeze_excite]


# -- h_swish --------------------------------------------------------------------------------------

# --8<-- [start:h_swish]
class HardSwish(Op[OpParams]):
    kind = "h_swish"
    family = "activation"
    name_prefix = "hswish"
    description = "hard-swish activation x * relu6(x + 3) / 6 (MobileNetV3)"

    def output_shape(self, params: OpParams, inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    def label(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> str:
        return "h-swish"

    def torch_layer(self, params: OpParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer(f"{LAYERS}.HardSwish")

    def to_onnx(self, params: OpParams, context: OnnxContext) -> None:
        context.require_opset(14, "HardSwish")
        context.add_node("HardSwish", context.inputs, output=context.output)
# --8<-- [end:h_swish]


# -- shuffle_channels --------------------------------------------------------------------------------

# --8<-- [start:shuffle_channels]
class ChannelShuffleParams(OpParams):
    groups: Size
    """How many groups the channels are interleaved from (the channels must divide evenly)."""


class ChannelShuffle(Op[ChannelShuffleParams]):
    """No ``to_onnx``: exporting a spec that uses it fails with a located error, and nothing is written."""

    kind = "shuffle_channels"
    Params = ChannelShuffleParams
    shorthand = "groups"
    family = "reshape"
    name_prefix = "shuffle"
    description = "channel shuffle: interleave the channels of groups (ShuffleNet); no ONNX lowering"

    def output_shape(self, params: ChannelShuffleParams, inputs: Sequence[Shape]) -> Shape:
        channels, height, width = require_rank(self.kind, inputs, 3, "an image")
        if channels % params.groups:
            raise ShapeError(f"{channels} channels cannot be split into {params.groups} equal groups")
        return (channels, height, width)

    def label(self, params: ChannelShuffleParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"shuffle {params.groups} groups"

    def torch_layer(self, params: ChannelShuffleParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        return TorchLayer(f"{LAYERS}.ChannelShuffle", (params.groups,))
# --8<-- [end:shuffle_channels]


OPS: tuple[type[Op], ...] = (SqueezeExcite, HardSwish, ChannelShuffle)
"""Every op of the package, in the order ``archspec list --ops`` shows them."""
