"""Attention: ``attention`` over a token sequence (ViT's encoder, as ``nn.MultiheadAttention``),
``window_attention`` within the (shifted) windows of a channels-last image (Swin) and
``partition_attention`` within its windows or across a grid spread over it (MaxViT's block and grid attention),
and ``window_attention_v2``, Swin v2's cosine attention with an MLP-computed position bias.

The layer is PyTorch's own ``nn.MultiheadAttention`` (batch first, queries = keys = values), so its
state_dict is torchvision's (``in_proj_weight``, ``in_proj_bias``, ``out_proj``) and inference takes the
same fused fast path.  MACs follow torchvision's convention: the projections and the two matrix
products of attention (queries by keys, weights by values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from archspec.ops.base import (
    CountPair,
    Flag,
    Number,
    Op,
    OpParams,
    Probability,
    Shape,
    ShapeError,
    Size,
    SizePair,
    TorchCall,
    TorchLayer,
    format_shape,
    pair,
)
from archspec.ops.context import layer_state

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext, OnnxNode


class AttentionParams(OpParams):
    heads: Size
    """Number of attention heads; the token's features are split evenly among them."""
    dropout: Probability = 0.0
    """Dropout on the attention weights during training."""
    bias: Flag = True
    """Learned biases on the input and output projections."""


class MultiheadAttention(Op[AttentionParams]):
    kind = "attention"
    Params = AttentionParams
    shorthand = "heads"
    family = "transformer"
    name_prefix = "attention"
    description = "multi-head self-attention over tokens [L, D] (nn.MultiheadAttention, batch first)"

    def output_shape(self, params: AttentionParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 2:
            raise ShapeError(f"attention expects a sequence of tokens [L, D], got {format_shape(shape)}; "
                             "turn a feature map into tokens with flatten: {start: 1} and permute: [1, 0]")
        if shape[1] % params.heads:
            raise ShapeError(f"attention: {shape[1]} features per token do not split into {params.heads} heads")
        return shape

    def parameter_count(self, params: AttentionParams, inputs: Sequence[Shape], output: Shape) -> int:
        features = inputs[0][1]
        return 4 * features * features + (4 * features if params.bias else 0)

    def macs(self, params: AttentionParams, inputs: Sequence[Shape], output: Shape) -> int:
        tokens, features = inputs[0]
        return 4 * tokens * features * features + 2 * tokens * tokens * features

    def label(self, params: AttentionParams, inputs: Sequence[Shape], output: Shape) -> str:
        return f"attention, {params.heads} heads"

    def torch_layer(self, params: AttentionParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {"dropout": params.dropout}
        if not params.bias:
            kwargs["bias"] = False
        kwargs["batch_first"] = True
        return TorchLayer("torch.nn.MultiheadAttention", (inputs[0][1], params.heads), kwargs,
                          "{module}({0}, {0}, {0}, need_weights=False)[0]")

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """``nn.MultiheadAttention`` (batch first, one projection for query, key and value) used as self-attention."""
        module = call.module
        if type(module).__name__ != "MultiheadAttention" or not module.batch_first:
            return None
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            return None
        if len(set(call.input_shapes)) > 1:
            return None
        return {"heads": module.num_heads, "dropout": module.dropout, "bias": module.in_proj_bias is not None}

    def to_onnx(self, params: AttentionParams, context: OnnxContext) -> None:
        tokens, features = context.input_shapes[0]
        heads = params.heads
        width = features // heads
        qkv = _project(context, context.inputs[0], "in_proj_weight", "in_proj_bias" if params.bias else None)
        split = context.add_node("Reshape", [qkv, context.constant("qkv_shape", [0, tokens, 3, heads, width])])
        stacked = context.add_node("Transpose", [split], {"perm": [2, 0, 3, 1, 4]})  # [3, N, heads, L, width]
        query, key, value = (context.add_node("Gather", [stacked, context.constant(name, index)], {"axis": 0},
                                              label=name)
                             for index, name in enumerate(("query", "key", "value")))
        keys_t = context.add_node("Transpose", [key], {"perm": [0, 1, 3, 2]})
        scores = context.add_node("MatMul", [query, keys_t])
        scaled = context.add_node("Mul", [scores, context.constant("scale", 1 / math.sqrt(width))])
        weights = context.add_node("Softmax", [scaled], {"axis": -1})
        mixed = context.add_node("MatMul", [weights, value])  # [N, heads, L, width]
        merged = context.add_node("Transpose", [mixed], {"perm": [0, 2, 1, 3]})
        flat = context.add_node("Reshape", [merged, context.constant("out_shape", [0, tokens, features])])
        _project(context, flat, "out_proj.weight", "out_proj.bias" if params.bias else None, final=True)

    onnx_types = ("MatMul", "Transpose")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """The nodes :meth:`to_onnx` writes, recognized as one layer by their names and weights; or
        ``nn.MultiheadAttention`` as torch's exporters write it, from its first ``Transpose``
        (:func:`~archspec.ops.attention_onnx.torch_attention`)."""
        if node.op_type == "Transpose":
            from archspec.ops.attention_onnx import torch_attention

            return torch_attention(node)
        weights = layer_state(node, ATTENTION_PATTERN, ("in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                        "out_proj.bias"), optional=("in_proj_bias", "out_proj.bias"))
        if weights is None:
            return None
        reshape = next(view for view in node.layer_nodes() if view.op_type == "Reshape")
        heads = int(node.constant(reshape.inputs[1]).reshape(-1)[3])
        return {"heads": heads} | ({} if "in_proj_bias" in weights else {"bias": False})


ATTENTION_PATTERN = r"MatMul (Add )?Reshape Transpose Gather Gather Gather Transpose MatMul Mul Softmax MatMul " \
                    r"Transpose Reshape MatMul (Add )?"
"""The data-path nodes of :meth:`MultiheadAttention.to_onnx`, by op type (the ``Add``s only with biases)."""




def _window_from_torch(call: TorchCall, name: str = "ShiftedWindowAttention") -> dict[str, Any] | None:
    """torchvision's ``ShiftedWindowAttention`` (Swin v1), by its class name and attributes."""
    module = call.module
    if type(module).__name__ != name or module.qkv.bias is None or module.proj.bias is None:
        return None
    return {"heads": module.num_heads, "window": list(module.window_size), "shift": list(module.shift_size),
            "attention_dropout": module.attention_dropout, "dropout": module.dropout}


def _project(context: OnnxContext, value: str, weight: str, bias: str | None, *, final: bool = False) -> str:
    """``value @ weight.T + bias`` over the last axis (Gemm takes only matrices)."""
    transposed = context.add_node("Transpose", [context.weight(weight)], {"perm": [1, 0]})
    if bias is None:
        return context.add_node("MatMul", [value, transposed], output=context.output if final else None)
    product = context.add_node("MatMul", [value, transposed])
    return context.add_node("Add", [product, context.weight(bias)], output=context.output if final else None)


class WindowAttentionParams(OpParams):
    heads: Size
    """Number of attention heads."""
    window: SizePair = 7
    """Window size: w or [wh, ww]; the image is padded to whole windows."""
    shift: CountPair = 0
    """Roll the image back by this much before cutting windows (Swin's shifted windows: half the window
    every other block); ignored along an axis the window already covers."""
    attention_dropout: Probability = 0.0
    """Dropout on the attention weights during training."""
    dropout: Probability = 0.0
    """Dropout on the output during training."""


class WindowAttention(Op[WindowAttentionParams]):
    kind = "window_attention"
    Params = WindowAttentionParams
    shorthand = "heads"
    family = "transformer"
    name_prefix = "attn"
    description = ("multi-head self-attention within (shifted) windows of a channels-last image [H, W, C], "
                   "with a learned relative position bias (Swin)")

    def output_shape(self, params: WindowAttentionParams, inputs: Sequence[Shape]) -> Shape:
        return _window_output_shape(self.kind, params, inputs[0])

    def parameter_count(self, params: WindowAttentionParams, inputs: Sequence[Shape], output: Shape) -> int:
        wh, ww = pair(params.window)
        channels = inputs[0][2]
        return (2 * wh - 1) * (2 * ww - 1) * params.heads + 4 * channels * channels + 4 * channels

    def macs(self, params: WindowAttentionParams, inputs: Sequence[Shape], output: Shape) -> int:
        return _window_macs(params, inputs[0])

    def label(self, params: WindowAttentionParams, inputs: Sequence[Shape], output: Shape) -> str:
        wh, ww = pair(params.window)
        shifted = ", shifted" if any(pair(params.shift)) else ""
        return f"window attention {wh}×{ww}{shifted}, {params.heads} heads"

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        return _window_from_torch(call)

    def torch_layer(self, params: WindowAttentionParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {}
        if params.attention_dropout:
            kwargs["attention_dropout"] = params.attention_dropout
        if params.dropout:
            kwargs["dropout"] = params.dropout
        return TorchLayer("archspec.nn.WindowAttention",
                          (inputs[0][2], params.heads, pair(params.window), pair(params.shift)), kwargs)

    def to_onnx(self, params: WindowAttentionParams, context: OnnxContext) -> None:
        from archspec.ops.window_onnx import lower_window_attention

        lower_window_attention(context, params.heads, pair(params.window), pair(params.shift))

    onnx_types = ("MatMul", "Pad", "Slice", "Reshape")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """The nodes :meth:`to_onnx` writes, by their names and weights; or torchvision's ``ShiftedWindowAttention``
        as torch's exporters write it, from its ``Pad``
        (:func:`~archspec.ops.window_attention_onnx.torch_window_attention`)."""
        params = _window_from_onnx(node, cosine=False)
        if params is None and node.op_type == "Pad":
            from archspec.ops.window_attention_onnx import torch_window_attention

            return torch_window_attention(node)
        return params


class PartitionAttentionParams(OpParams):
    heads: Size
    """Number of attention heads."""
    partition: Literal["window", "grid"] = "window"
    """How positions are grouped: window, a window of size×size neighbours (block attention);
    grid, a size×size grid of positions spread evenly over the whole image (MaxViT's grid attention)."""
    size: SizePair = 7
    """Positions per group along each axis: s or [sh, sw]; the image's height and width must be multiples of it."""
    scale: Annotated[Number, Field(gt=0)] | None = None
    """Factor on the products of queries and keys; default 1/sqrt(channels per head)."""
    attention_dropout: Probability = 0.0
    """Dropout on the attention weights during training."""
    dropout: Probability = 0.0
    """Dropout on the output during training."""


class PartitionAttention(Op[PartitionAttentionParams]):
    kind = "partition_attention"
    Params = PartitionAttentionParams
    shorthand = "heads"
    family = "transformer"
    name_prefix = "attn"
    description = ("multi-head self-attention within windows of a channels-last image [H, W, C] or across a grid "
                   "spread over it, with a learned relative position bias (MaxViT's block and grid attention)")

    def output_shape(self, params: PartitionAttentionParams, inputs: Sequence[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 3:
            raise ShapeError(f"partition_attention expects a channels-last image [H, W, C], got {format_shape(shape)}")
        if shape[2] % params.heads:
            raise ShapeError(f"partition_attention: {shape[2]} channels do not split into {params.heads} heads")
        sh, sw = pair(params.size)
        if shape[0] % sh or shape[1] % sw:
            raise ShapeError(f"partition_attention: a {shape[0]}×{shape[1]} image does not split into "
                             f"{params.partition}s of {sh}×{sw} (height and width must be multiples of the size)")
        return shape

    def parameter_count(self, params: PartitionAttentionParams, inputs: Sequence[Shape], output: Shape) -> int:
        sh, sw = pair(params.size)
        channels = inputs[0][2]
        return (2 * sh - 1) * (2 * sw - 1) * params.heads + 4 * channels * channels + 4 * channels

    def macs(self, params: PartitionAttentionParams, inputs: Sequence[Shape], output: Shape) -> int:
        height, width, channels = inputs[0]
        sh, sw = pair(params.size)
        return height * width * (4 * channels * channels + 2 * sh * sw * channels)

    def label(self, params: PartitionAttentionParams, inputs: Sequence[Shape], output: Shape) -> str:
        sh, sw = pair(params.size)
        return f"{params.partition} attention {sh}×{sw}, {params.heads} heads"

    def torch_layer(self, params: PartitionAttentionParams, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {}
        if params.partition == "grid":
            kwargs["grid"] = True
        if params.scale is not None:
            kwargs["scale"] = params.scale
        if params.attention_dropout:
            kwargs["attention_dropout"] = params.attention_dropout
        if params.dropout:
            kwargs["dropout"] = params.dropout
        return TorchLayer("archspec.nn.PartitionAttention", (inputs[0][2], params.heads, pair(params.size)), kwargs)

    torch_positions = True

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """torchvision's ``RelativePositionalMultiHeadAttention`` (MaxViT), by its class name and attributes, on
        the groups of positions that the reshapes before it cut from the image (:attr:`TorchCall.positions`):
        attention runs over the groups' second-to-last axis, and the groups must be this op's windows or grid,
        their positions in its (row-major) order, which the relative position bias depends on."""
        module = call.module
        if type(module).__name__ != "RelativePositionalMultiHeadAttention":
            return None
        size, heads = int(module.size), int(module.n_heads)
        if module.max_seq_len != size * size or module.to_qkv.bias is None or module.merge.bias is None:
            return None
        params: dict[str, Any] = {"heads": heads, "size": size}
        if not call.input_shapes:
            return params  # asked before the call: could this module be a layer
        if call.positions is None or len(call.input_shapes[0]) != 3 or call.positions.ndim != 2:
            return None
        height, width, channels = call.input_shapes[0]
        if heads * module.head_dim != channels or height % size or width % size:
            return None
        groups = np.unique(call.positions.reshape(-1, call.positions.shape[-1]), axis=0)
        partition = next((name for name in ("window", "grid")
                          if np.array_equal(groups, _partition_groups(height, width, size, name))), None)
        if partition is None:
            return None
        scale = float(module.scale_factor)
        other = not math.isclose(scale, 1 / math.sqrt(channels // heads), rel_tol=1e-9)
        return {"heads": heads, "partition": partition, "size": size, **({"scale": scale} if other else {})}

    def to_onnx(self, params: PartitionAttentionParams, context: OnnxContext) -> None:
        from archspec.ops.window_onnx import lower_partition_attention

        channels_per_head = context.input_shapes[0][2] // params.heads
        scale = params.scale if params.scale is not None else 1 / math.sqrt(channels_per_head)
        lower_partition_attention(context, params.heads, pair(params.size), params.partition == "grid", scale)

    onnx_types = ("Reshape",)

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        return _partition_from_onnx(node, lambda channels_per_head: 1 / math.sqrt(channels_per_head))


class WindowAttentionV2Params(WindowAttentionParams):
    bias_hidden: Size = 512
    """Hidden width of the MLP that computes the position bias from relative offsets."""


class WindowAttentionV2(Op[WindowAttentionV2Params]):
    kind = "window_attention_v2"
    Params = WindowAttentionV2Params
    shorthand = "heads"
    family = "transformer"
    name_prefix = "attn"
    description = ("Swin v2's window attention over a channels-last image [H, W, C]: scaled cosine attention, "
                   "and a position bias that an MLP computes from log-spaced relative offsets")

    def output_shape(self, params: WindowAttentionV2Params, inputs: Sequence[Shape]) -> Shape:
        return _window_output_shape(self.kind, params, inputs[0])

    def parameter_count(self, params: WindowAttentionV2Params, inputs: Sequence[Shape], output: Shape) -> int:
        channels, heads, hidden = inputs[0][2], params.heads, params.bias_hidden
        return 4 * channels * channels + 4 * channels + heads + 3 * hidden + hidden * heads

    def macs(self, params: WindowAttentionV2Params, inputs: Sequence[Shape], output: Shape) -> int:
        wh, ww = pair(params.window)
        offsets = (2 * wh - 1) * (2 * ww - 1)
        return _window_macs(params, inputs[0]) + offsets * params.bias_hidden * (2 + params.heads)

    def label(self, params: WindowAttentionV2Params, inputs: Sequence[Shape], output: Shape) -> str:
        wh, ww = pair(params.window)
        shifted = ", shifted" if any(pair(params.shift)) else ""
        return f"cosine window attention {wh}×{ww}{shifted}, {params.heads} heads"

    def torch_layer(self, params: WindowAttentionV2Params, inputs: Sequence[Shape], output: Shape) -> TorchLayer:
        kwargs: dict[str, object] = {}
        if params.attention_dropout:
            kwargs["attention_dropout"] = params.attention_dropout
        if params.dropout:
            kwargs["dropout"] = params.dropout
        if params.bias_hidden != 512:
            kwargs["hidden"] = params.bias_hidden
        return TorchLayer("archspec.nn.WindowAttentionV2",
                          (inputs[0][2], params.heads, pair(params.window), pair(params.shift)), kwargs)

    def from_torch(self, call: TorchCall) -> Mapping[str, Any] | None:
        """torchvision's ``ShiftedWindowAttentionV2``, by its class name and attributes: v1's, and the hidden
        width of the position-bias MLP (``cpb_mlp``: linear 2 -> hidden, ReLU, linear hidden -> heads)."""
        module = call.module
        if type(module).__name__ != "ShiftedWindowAttentionV2":
            return None
        first, last = module.cpb_mlp[0], module.cpb_mlp[-1]
        if len(module.cpb_mlp) != 3 or first.in_features != 2 or last.bias is not None:
            return None
        params = _window_from_torch(call, "ShiftedWindowAttentionV2")
        return None if params is None else {**params, "bias_hidden": first.out_features}

    def to_onnx(self, params: WindowAttentionV2Params, context: OnnxContext) -> None:
        from archspec.ops.window_onnx import lower_window_attention

        lower_window_attention(context, params.heads, pair(params.window), pair(params.shift), cosine=True)

    onnx_types = ("MatMul", "Pad", "Slice", "Reshape")

    def from_onnx(self, node: OnnxNode) -> Mapping[str, Any] | None:
        """The nodes :meth:`to_onnx` writes; or torchvision's ``ShiftedWindowAttentionV2`` as torch's exporters
        write it (:func:`~archspec.ops.window_attention_onnx.torch_window_attention`)."""
        params = _window_from_onnx(node, cosine=True)
        if params is None and node.op_type == "Pad":
            from archspec.ops.window_attention_onnx import torch_window_attention

            return torch_window_attention(node, cosine=True)
        return params


def _partition_groups(height: int, width: int, size: int, partition: str) -> np.ndarray:
    """The groups of :func:`archspec.nn.partition` as rows of flat positions, sorted: windows of ``size × size``
    neighbours, or grids of ``size × size`` positions ``height / size`` rows and ``width / size`` columns apart."""
    places = np.arange(height * width)
    if partition == "window":
        groups = places.reshape(height // size, size, width // size, size).transpose(0, 2, 1, 3)
    else:
        groups = places.reshape(size, height // size, size, width // size).transpose(1, 3, 0, 2)
    return np.unique(groups.reshape(-1, size * size), axis=0)


def _window_output_shape(kind: str, params: WindowAttentionParams, shape: Shape) -> Shape:
    if len(shape) != 3:
        raise ShapeError(f"{kind} expects a channels-last image [H, W, C], got {format_shape(shape)}")
    if shape[2] % params.heads:
        raise ShapeError(f"{kind}: {shape[2]} channels do not split into {params.heads} heads")
    if any(s >= w for s, w in zip(pair(params.shift), pair(params.window), strict=True)):
        raise ShapeError(f"{kind}: shift {params.shift} must be smaller than the window {params.window}")
    return shape


def _window_macs(params: WindowAttentionParams, shape: Shape) -> int:
    """The projections and the two matrix products of attention, over the windows padded to whole windows."""
    height, width, channels = shape
    wh, ww = pair(params.window)
    positions = -(-height // wh) * wh * -(-width // ww) * ww
    return positions * (4 * channels * channels + 2 * wh * ww * channels)


WINDOW_WEIGHTS = ("qkv.weight", "qkv.bias", "proj.weight", "proj.bias")


def _window_from_onnx(node: OnnxNode, cosine: bool) -> Mapping[str, Any] | None:
    """The nodes of :func:`~archspec.ops.window_onnx.lower_window_attention`, by the layer's weights and the
    constants it names: ``grid`` gives the window, ``qkv_shape`` the heads, ``mask`` the shift."""
    from archspec.ops.window_onnx import relative_coords_table, relative_position_index, shift_mask

    buffers = ("relative_coords_table", "relative_position_index") if cosine else ("relative_position_index",)
    keys = ("logit_scale", *buffers, *WINDOW_WEIGHTS, "cpb_mlp.0.weight", "cpb_mlp.0.bias", "cpb_mlp.2.weight") \
        if cosine else ("relative_position_bias_table", *buffers, *WINDOW_WEIGHTS)
    grid, qkv = (node.constant(f"{node.layer}/{label}") for label in ("grid", "qkv_shape"))
    if grid is None or qkv is None or node.layer_weights().keys() != set(keys) - set(buffers):
        return None
    window = (int(grid[2]), int(grid[4]))
    params: dict[str, Any] = {"heads": int(qkv[3]), "window": window[0] if window[0] == window[1] else list(window)}
    mask = node.constant(f"{node.layer}/mask")
    if mask is not None:
        size = (int(grid[1]) * window[0], int(grid[3]) * window[1])
        shift = next(((rows, cols) for rows in range(window[0]) for cols in range(window[1])
                      if np.array_equal(shift_mask(*size, window, (rows, cols))[None, :, None], mask)), None)
        if shift is None:
            return None
        params["shift"] = shift[0] if shift[0] == shift[1] else list(shift)
    wh, ww = window
    weights = layer_state(node, None, keys, buffers={
        "relative_position_index": relative_position_index(window).reshape(-1),
        "relative_coords_table": relative_coords_table(window).reshape(1, 2 * wh - 1, 2 * ww - 1, 2)})
    if weights is None:
        return None
    if cosine and weights["cpb_mlp.0.weight"].shape[0] != 512:
        params["bias_hidden"] = int(weights["cpb_mlp.0.weight"].shape[0])
    return params


def _partition_from_onnx(node: OnnxNode, default_scale: Any) -> Mapping[str, Any] | None:
    """The nodes of :func:`~archspec.ops.window_onnx.lower_partition_attention`: ``grid`` and the transpose
    after it give the partition and its size, ``qkv_shape`` the heads, ``scale`` the scale."""
    grid, qkv, scale = (node.constant(f"{node.layer}/{label}") for label in ("grid", "qkv_shape", "scale"))
    if grid is None or qkv is None or scale is None:
        return None
    transposes = [view for view in node.layer_nodes() if view.op_type == "Transpose"
                  and len(view.attributes.get("perm", ())) == 6]
    if not transposes:
        return None
    by_grid = list(transposes[0].attributes["perm"]) == [0, 2, 4, 1, 3, 5]
    size = (int(grid[1]), int(grid[3])) if by_grid else (int(grid[2]), int(grid[4]))
    from archspec.ops.window_onnx import relative_position_index

    keys = ("relative_position_bias_table", "relative_position_index", "to_qkv.weight", "to_qkv.bias",
            "merge.weight", "merge.bias")
    if layer_state(node, None, keys, buffers={"relative_position_index": relative_position_index(size)}) is None:
        return None
    params: dict[str, Any] = {"heads": int(qkv[3]), "size": size[0] if size[0] == size[1] else list(size)}
    if by_grid:
        params["partition"] = "grid"
    value = float(np.asarray(scale).reshape(()))
    if abs(value - default_scale(int(qkv[4]))) > 1e-6 * value:
        params["scale"] = float(f"{value:.7g}")
    return params
