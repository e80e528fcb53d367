"""The ONNX lowering of the window attentions (Swin's, Swin v2's, MaxViT's): static shapes make every
window, roll and mask a constant."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from archspec.ops.context import OnnxContext


def relative_position_index(window: tuple[int, int]) -> np.ndarray:
    wh, ww = window
    grid_rows, grid_cols = np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")
    rows, cols = grid_rows.reshape(-1), grid_cols.reshape(-1)
    return np.asarray((rows[:, None] - rows[None, :] + wh - 1) * (2 * ww - 1) + cols[:, None] - cols[None, :] + ww - 1)


def shift_mask(height: int, width: int, window: tuple[int, int], shift: tuple[int, int]) -> np.ndarray:
    """[windows, tokens, tokens]: -100 between positions of a rolled window from different image regions."""
    region = np.zeros((height, width), dtype=np.float32)
    count = 0
    for rows in ((0, height - window[0]), (height - window[0], height - shift[0]), (height - shift[0], height)):
        for cols in ((0, width - window[1]), (width - window[1], width - shift[1]), (width - shift[1], width)):
            region[rows[0]:rows[1], cols[0]:cols[1]] = count
            count += 1
    grid = region.reshape(height // window[0], window[0], width // window[1], window[1]).transpose(0, 2, 1, 3)
    windows = grid.reshape(-1, window[0] * window[1])
    return np.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0).astype(np.float32)


def _roll(context: OnnxContext, value: str, shifts: tuple[int, int], sizes: tuple[int, int]) -> str:
    """torch.roll along axes 1 and 2 of [N, H, W, C], as two slices and a concat per axis."""
    for axis, (shift, size) in enumerate(zip(shifts, sizes, strict=True), start=1):
        cut = (-shift) % size
        if cut == 0:
            continue
        axes = context.constant(f"axis{axis}", [axis])
        tail = context.add_node("Slice", [value, context.constant("cut", [cut]), context.constant("end", [size]), axes])
        head = context.add_node("Slice", [value, context.constant("zero", [0]), context.constant("cut", [cut]), axes])
        value = context.add_node("Concat", [tail, head], {"axis": axis})
    return value


def relative_coords_table(window: tuple[int, int]) -> np.ndarray:
    """``[(2wh-1) * (2ww-1), 2]``: Swin v2's log-spaced relative offsets, row-major (as archspec.nn's buffer)."""
    wh, ww = window
    rows = np.arange(-(wh - 1), wh, dtype=np.float32) / np.float32(max(wh - 1, 1))
    cols = np.arange(-(ww - 1), ww, dtype=np.float32) / np.float32(max(ww - 1, 1))
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2) * np.float32(8)
    return (np.sign(grid) * np.log2(np.abs(grid) + np.float32(1)) / np.float32(3)).astype(np.float32)


def _linear(context: OnnxContext, value: str, layer: str, bias: str | None = None) -> str:
    weight = context.add_node("Transpose", [context.weight(f"{layer}.weight")], {"perm": [1, 0]})
    product = context.add_node("MatMul", [value, weight])
    return context.add_node("Add", [product, bias or context.weight(f"{layer}.bias")])


def _continuous_bias(context: OnnxContext, window: tuple[int, int], heads: int) -> str:
    """Swin v2's bias: ``cpb_mlp`` over the offsets' table, looked up per pair of positions, 16 * sigmoid."""
    hidden = _linear(context, context.constant("relative_coords_table", relative_coords_table(window)), "cpb_mlp.0")
    hidden = context.add_node("Relu", [hidden])
    weight = context.add_node("Transpose", [context.weight("cpb_mlp.2.weight")], {"perm": [1, 0]})
    table = context.add_node("MatMul", [hidden, weight])  # [offsets, heads]
    bias = _lookup(context, table, window, heads)
    return context.add_node("Mul", [context.add_node("Sigmoid", [bias]), context.constant("sixteen", 16.0)])


def _lookup(context: OnnxContext, table: str, window: tuple[int, int], heads: int) -> str:
    tokens = window[0] * window[1]
    index = context.constant("relative_position_index", relative_position_index(window).reshape(-1).astype(np.int64))
    bias = context.add_node("Gather", [table, index], {"axis": 0})
    bias = context.add_node("Reshape", [bias, context.constant("bias_shape", [tokens, tokens, heads])])
    return context.add_node("Transpose", [bias], {"perm": [2, 0, 1]})


def _normalized(context: OnnxContext, value: str) -> str:
    """``value / max(|value|, 1e-12)`` over the last axis (torch's F.normalize)."""
    squares = context.add_node("ReduceSum", [context.add_node("Mul", [value, value]), context.constant("last", [-1])],
                               {"keepdims": 1})
    norm = context.add_node("Max", [context.add_node("Sqrt", [squares]), context.constant("epsilon", 1e-12)])
    return context.add_node("Div", [value, norm])


def _partition(context: OnnxContext, value: str, image: tuple[int, int, int], size: tuple[int, int],
               grid: bool) -> str:
    """[N, H, W, C] -> [N * groups, sh * sw, C], as ``archspec.nn.partition``."""
    height, width, channels = image
    sh, sw = size
    split = [-1, sh, height // sh, sw, width // sw, channels] if grid else [-1, height // sh, sh, width // sw, sw,
                                                                              channels]
    value = context.add_node("Reshape", [value, context.constant("grid", split)])
    value = context.add_node("Transpose", [value], {"perm": [0, 2, 4, 1, 3, 5] if grid else [0, 1, 3, 2, 4, 5]})
    return context.add_node("Reshape", [value, context.constant("windows", [-1, sh * sw, channels])])


def _departition(context: OnnxContext, value: str, image: tuple[int, int, int], size: tuple[int, int],
                 grid: bool, output: str | None = None) -> str:
    height, width, channels = image
    sh, sw = size
    value = context.add_node("Reshape", [value, context.constant("out_grid", [-1, height // sh, width // sw, sh, sw,
                                                                              channels])])
    value = context.add_node("Transpose", [value], {"perm": [0, 3, 1, 4, 2, 5] if grid else [0, 1, 3, 2, 4, 5]})
    return context.add_node("Reshape", [value, context.constant("image", [-1, height, width, channels])],
                            output=output)


def _attend(context: OnnxContext, windows: str, channels: int, heads: int, size: tuple[int, int], scale: float,
            layers: tuple[str, str], mask: np.ndarray | None = None, *, cosine: bool = False) -> str:
    """Multi-head attention within each group of ``windows`` [G, T, C], with the relative position bias of a
    ``size`` window (and ``mask`` [groups per image, T, T] added to the scores), through the projections
    ``layers`` (queries-keys-values, output).  ``cosine``: Swin v2's scaled cosine attention with its
    continuous position bias and no keys' bias (``scale`` unused)."""
    tokens, width_per_head = size[0] * size[1], channels // heads
    qkv_bias = None
    if cosine:
        keep = np.ones(3 * channels, dtype=np.float32)
        keep[channels:2 * channels] = 0
        qkv_bias = context.add_node("Mul", [context.weight(f"{layers[0]}.bias"), context.constant("no_key_bias", keep)])
    qkv = context.add_node("Reshape", [_linear(context, windows, layers[0], qkv_bias),
                                       context.constant("qkv_shape", [-1, tokens, 3, heads, width_per_head])])
    stacked = context.add_node("Transpose", [qkv], {"perm": [2, 0, 3, 1, 4]})
    query, key, value = (context.add_node("Gather", [stacked, context.constant(name, index)], {"axis": 0}, label=name)
                         for index, name in enumerate(("query", "key", "value")))
    if cosine:
        limited = context.add_node("Min", [context.weight("logit_scale"), context.constant("max_scale", math.log(100))])
        query = context.add_node("Mul", [_normalized(context, query), context.add_node("Exp", [limited])])
        key = _normalized(context, key)
        bias = _continuous_bias(context, size, heads)
    else:
        query = context.add_node("Mul", [query, context.constant("scale", scale)])
        bias = _lookup(context, context.weight("relative_position_bias_table"), size, heads)
    scores = context.add_node("MatMul", [query, context.add_node("Transpose", [key], {"perm": [0, 1, 3, 2]})])
    scores = context.add_node("Add", [scores, bias])
    if mask is not None:
        grouped = context.add_node("Reshape", [scores, context.constant("by_window",
                                                                        [-1, mask.shape[0], heads, tokens, tokens])])
        masked = context.add_node("Add", [grouped, context.constant("mask", mask[None, :, None])])
        scores = context.add_node("Reshape", [masked, context.constant("scores_shape", [-1, heads, tokens, tokens])])
    weights = context.add_node("Softmax", [scores], {"axis": -1})
    mixed = context.add_node("Transpose", [context.add_node("MatMul", [weights, value])], {"perm": [0, 2, 1, 3]})
    mixed = context.add_node("Reshape", [mixed, context.constant("merged", [-1, tokens, channels])])
    return _linear(context, mixed, layers[1])


def lower_window_attention(context: OnnxContext, heads: int, window: tuple[int, int], shift: tuple[int, int],
                           *, cosine: bool = False) -> None:
    """Swin's window attention; ``cosine``: Swin v2's (cosine scores, continuous bias, no keys' bias)."""
    height, width, channels = context.input_shapes[0]
    wh, ww = window
    pad_h, pad_w = (wh - height % wh) % wh, (ww - width % ww) % ww
    full_h, full_w = height + pad_h, width + pad_w
    shifts = (shift[0] if wh < full_h else 0, shift[1] if ww < full_w else 0)
    value = context.inputs[0]
    if pad_h or pad_w:
        value = context.add_node("Pad", [value, context.constant("pads", [0, 0, 0, 0, 0, pad_h, pad_w, 0])])
    value = _roll(context, value, (-shifts[0], -shifts[1]), (full_h, full_w))
    value = _partition(context, value, (full_h, full_w, channels), window, grid=False)
    mask = shift_mask(full_h, full_w, window, shifts) if any(shifts) else None
    out = _attend(context, value, channels, heads, window, 1 / math.sqrt(channels // heads), ("qkv", "proj"), mask,
                  cosine=cosine)
    out = _departition(context, out, (full_h, full_w, channels), window, grid=False)
    out = _roll(context, out, shifts, (full_h, full_w))
    context.add_node("Slice", [out, context.constant("start", [0, 0]), context.constant("stop", [height, width]),
                               context.constant("axes", [1, 2])], output=context.output)


def lower_partition_attention(context: OnnxContext, heads: int, size: tuple[int, int], grid: bool,
                              scale: float) -> None:
    height, width, channels = context.input_shapes[0]
    image = (height, width, channels)
    groups = _partition(context, context.inputs[0], image, size, grid)
    out = _attend(context, groups, channels, heads, size, scale, ("to_qkv", "merge"))
    _departition(context, out, image, size, grid, output=context.output)
