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
    from archspec.ops.context import OnnxContext, OnnxNode


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

    onnx_types = ("Slice", "Split")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """A ``Slice`` of one of equal groups of channels, or one part of a ``Split`` into equal groups (dynamo's
        ``x.chunk(n, dim=1)``: the node is offered once per part that is read)."""
        from archspec.ops.onnx_reading import constant_input, onnx_axis, optional_constant

        shape = node.input_shapes[0]
        channels = shape[0]
        if node.op_type == "Split":
            sizes = optional_constant(node, 1)
            parts = len(node.outputs)
            if onnx_axis(int(node.attributes.get("axis", 0)), len(shape) + 1) != 1 or channels % parts or (
                    sizes is not None and set(sizes.reshape(-1).tolist()) != {channels // parts}):
                raise ValueError("a split other than into equal groups of channels (archspec's chunk)")
            return {"parts": parts} | ({"index": node.output_index} if node.output_index else {})
        starts, ends = constant_input(node, 1, "starts").reshape(-1), constant_input(node, 2, "ends").reshape(-1)
        axes = optional_constant(node, 3)
        steps = optional_constant(node, 4)
        axis = onnx_axis(int(axes.reshape(-1)[0]), len(shape) + 1) if axes is not None else 0
        if len(starts) != 1 or axis != 1 or (steps is not None and int(steps.reshape(-1)[0]) != 1):
            raise ValueError("a slice other than a contiguous range of channels (archspec's chunk)")
        begin, stop = (min(max(int(v) + (channels if v < 0 else 0), 0), channels) for v in (starts[0], ends[0]))
        size = stop - begin
        if size <= 0 or channels % size or begin % size:
            raise ValueError(f"channels {begin}..{stop} of {channels} are not one of equal parts (archspec's chunk)")
        return {"parts": channels // size} | ({"index": begin // size} if begin else {})


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

    onnx_types = ("Reshape",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """What :meth:`to_onnx` writes, as torch's exporters do too: ``Reshape`` [g, C/g, H, W], ``Transpose``
        (0, 2, 1, 3, 4), ``Reshape`` back to [C, H, W]."""
        from archspec.ops.onnx_reading import reshape_target, reshaped

        shape = node.input_shapes[0]
        try:
            target = reshape_target(node)
        except ValueError:
            return None
        swap = node.consumer()
        if len(shape) != 3 or len(target) != 4 or target[2:] != shape[1:] or swap is None or \
                swap.op_type != "Transpose":
            return None
        back = swap.consumer()
        if list(swap.attributes.get("perm", ())) != [0, 2, 1, 3, 4] or back is None or back.op_type != "Reshape":
            return None
        back_target = back.constant(back.inputs[1])
        try:
            if back_target is None or reshaped((target[1], target[0], *target[2:]), back_target) != shape:
                return None
        except ValueError:
            return None
        node.absorb(swap, back)
        return {"groups": int(target[0])}
