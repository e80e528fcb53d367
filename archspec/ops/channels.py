"""Channel plumbing of ShuffleNet-style blocks: ``chunk`` (one of equal channel groups) and ``channel_shuffle``.

Both are written as tensor expressions in the generated source, as torchvision writes them
(``x.chunk(2, dim=1)``, a view-transpose-view shuffle), so they cost no module and no copy
beyond what torch itself does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from archspec.ops.base import TENSOR, Count, Op, OpParams, Shape, ShapeError, Size, TorchCall, require_rank

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext


class ChunkParams(OpParams):
    parts: Size = 2
    """Number of equal channel groups the input is cut into."""
    index: Count = 0
    """Which group this layer passes on, from 0."""

    @model_validator(mode="after")
    def _index_in_range(self) -> ChunkParams:
        if self.index >= self.parts:
            raise ValueError(f"index {self.index} is out of range for {self.parts} parts (0 to {self.parts - 1})")
        return self


class Chunk(Op[ChunkParams]):
    kind = "chunk"
    Params = ChunkParams
    shorthand = "index"
    family = "reshape"
    description = "one of `parts` equal groups of channels (torch.chunk along channels); ShuffleNet's split"

    def output_shape(self, params: ChunkParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) < 1 or shape[0] % params.parts:
            raise ShapeError(f"chunk cuts channels into {params.parts} equal parts, but there are {shape[0]} "
                             f"channels" if shape else "chunk needs a tensor with a channel axis")
        return (shape[0] // params.parts, *shape[1:])

    def label(self, params: ChunkParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"chunk {params.index + 1}/{params.parts}"

    def torch_layer(self, params: ChunkParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """One part of ``x.chunk(n, dim=1)`` (``call.output_index`` says which)."""
        if call.function != "chunk" or call.output_index is None or call.arguments[:1] != (TENSOR,):
            return None
        parts = call.arguments[1] if len(call.arguments) > 1 else call.keywords.get("chunks")
        dim = call.arguments[2] if len(call.arguments) > 2 else call.keywords.get("dim", 0)
        if dim != 1 or not isinstance(parts, int) or call.input_shapes[0][0] % parts:
            return None
        return {"parts": parts, "index": call.output_index}

    def torch_expression(self, params: ChunkParams, arguments: Sequence[str]) -> str:
        return f"{arguments[0]}.chunk({params.parts}, dim=1)[{params.index}]"

    def to_onnx(self, params: ChunkParams, context: OnnxContext) -> None:
        size = context.output_shape[0]
        begin = params.index * size
        inputs = [context.inputs[0], context.constant("starts", [begin]), context.constant("ends", [begin + size]),
                  context.constant("axes", [1])]
        context.add_node("Slice", inputs, output=context.output)


class ChannelShuffleParams(OpParams):
    groups: Size = 2
    """Interleave the channels of this many groups."""


class ChannelShuffle(Op[ChannelShuffleParams]):
    kind = "channel_shuffle"
    Params = ChannelShuffleParams
    shorthand = "groups"
    family = "reshape"
    name_prefix = "shuffle"
    torch_chains = True
    description = "interleaves the channels of `groups` groups (ShuffleNet): view, transpose, flatten"

    def output_shape(self, params: ChannelShuffleParams, inputs: Sequence[Shape]) -> Shape:
        shape = require_rank(self.kind, inputs, 3, "an image")
        if shape[0] % params.groups:
            raise ShapeError(f"channel_shuffle needs channels divisible by groups={params.groups}, got {shape[0]}")
        return shape

    def label(self, params: ChannelShuffleParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"shuffle {params.groups}"

    def torch_layer(self, params: ChannelShuffleParams, inputs: Sequence[Shape], output: Shape) -> None:
        return None

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """``x.view(n, groups, c // groups, h, w)``, ``transpose(1, 2)``, ``view(n, c, h, w)`` (torchvision's)."""
        names = [step.function for step in call.chain] + [call.function]
        if names != ["view", "transpose", "view"] and names != ["reshape", "transpose", "reshape"]:
            return None
        split, swap = call.chain
        shape = call.input_shapes[0]
        if len(shape) != 3 or call.output_shape != shape or len(split.output_shape) != 4:
            return None
        if split.output_shape[2:] != shape[1:] or [int(a) for a in swap.arguments[1:]] not in ([1, 2], [2, 1]):
            return None
        return {"groups": split.output_shape[0]}

    def torch_expression(self, params: ChannelShuffleParams, arguments: Sequence[str]) -> str:
        return f"{arguments[0]}.unflatten(1, ({params.groups}, -1)).transpose(1, 2).flatten(1, 2)"

    def to_onnx(self, params: ChannelShuffleParams, context: OnnxContext) -> None:
        channels, height, width = context.input_shapes[0]
        grouped = context.add_node("Reshape", [context.inputs[0], context.constant(
            "grouped", [0, params.groups, channels // params.groups, height, width])])
        swapped = context.add_node("Transpose", [grouped], {"perm": (0, 2, 1, 3, 4)})
        context.add_node("Reshape", [swapped, context.constant("shape", [0, channels, height, width])],
                         output=context.output)
