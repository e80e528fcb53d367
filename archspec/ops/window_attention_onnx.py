"""torchvision's Swin window attention (``ShiftedWindowAttention``) as torch's ONNX exporters write it, read back as
one ``window_attention`` layer.

Both exporters (TorchScript and dynamo) write ``shifted_window_attention`` as anonymous nodes: a ``Pad`` to whole
windows, the roll of the shift (``Slice``s and ``Concat``s), reshapes and transposes that cut windows, the
queries-keys-values projection (``MatMul`` by a constant and ``Add``), the heads' split, the scaled product, the
relative position bias (the table's lookup, folded into one constant), the shifted windows' mask (computed from
the padded image's shape: hundreds of nodes from TorchScript, a constant from dynamo), a ``Softmax``, the output
projection, and the way back (departition, roll, crop).  As for ``nn.MultiheadAttention``
(:mod:`archspec.ops.attention_onnx`), the pattern is found by its ends and accepted only for what it computes:
its nodes are run on a sample beside the window attention that the weights found in it give, for the window and
shift that the scores' shape and the bias allow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from archspec.ops.attention_onnx import PROJECTIONS, _linear, _weight_operand
from archspec.ops.window_onnx import relative_coords_table, relative_position_index, shift_mask

if TYPE_CHECKING:
    from archspec.ops.context import OnnxNode

MOST_NODES = 1500
"""A pattern larger than this is not one window attention (TorchScript's mask computation alone is ~600 nodes)."""

INSIDE = frozenset({
    "Add", "Cast", "Concat", "ConstantOfShape", "Div", "Equal", "Expand", "Gather", "Identity", "MatMul", "Mod",
    "Mul", "Not", "Pad", "Range", "Reshape", "ScatterND", "Shape", "Slice", "Softmax", "Squeeze", "Sub",
    "Transpose", "Unsqueeze", "Where", "Less", "Greater", "Neg", "Floor", "Ceil", "Pow", "And", "Or", "ReduceL2",
    "ReduceSum", "Sqrt", "Clip", "Max", "Min", "Exp"})
"""The node types of the pattern (moves, the mask's index arithmetic, attention, v2's normalization): the search
stops at others."""


def torch_window_attention(node: OnnxNode, cosine: bool = False) -> Mapping[str, Any] | None:
    """If ``node`` is the ``Pad`` that starts torchvision's exported shifted window attention over a channels-last
    image [H, W, C] (``cosine``: Swin v2's), absorb the pattern, give the layer ``window_attention``'s (or
    ``window_attention_v2``'s) weights and return its params."""
    shape = node.input_shapes[0] if node.input_shapes else ()
    if node.op_type != "Pad" or len(shape) != 3:
        return None
    found = _pattern(node)
    if found is None:
        return None
    nodes, absorbed, softmax, end = found
    projections = _projections(nodes, shape[2])
    biases = _bias_candidates(nodes)
    continuous = _continuous_bias(node, nodes) if cosine else {}
    if projections is None or continuous is None or (not cosine and not biases):
        return None
    weights, computed = projections
    weights.update(continuous)
    sample = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    try:
        scores, result, *values = node.run(nodes, {node.inputs[0]: sample},
                                           [softmax.outputs[0], end.outputs[0], *computed.values()])
    except ValueError:
        return None
    for key, value in zip(computed, values, strict=True):
        weights[key] = np.asarray(value, np.float32).reshape(-1)
        if weights[key].shape != (weights[key.replace("bias", "weight")].shape[0],):
            return None
    scores, result = np.asarray(scores), np.asarray(result)
    if scores.ndim != 4 or scores.shape[2] != scores.shape[3] or result.shape != sample.shape:
        return None
    heads, tokens = scores.shape[1], scores.shape[2]
    if shape[2] % heads:
        return None
    tolerance = 1e-4 * max(1.0, float(np.abs(result).max()))
    for window in _windows(tokens, scores.shape[0] // 2, shape):
        if cosine and not _first_layer(weights, window):
            continue
        tables = [None] if cosine else [_table(bias.reshape(heads, tokens, tokens), window)
                                        for bias in biases if bias.size == heads * tokens * tokens]
        for table in tables:
            if table is not None:
                weights["relative_position_bias_table"] = table
            elif not cosine:
                continue
            for shift in _shifts(window):
                expected = window_attention(sample, weights, heads, window, shift, cosine=cosine)
                if np.abs(result - expected).max() <= tolerance:
                    weights.pop("cpb_products", None)
                    _absorb(node, absorbed, weights, window, cosine)
                    params = {"heads": heads, "window": _pair(window)} | ({"shift": _pair(shift)} if any(shift) else {})
                    hidden = weights["cpb_mlp.0.weight"].shape[0] if cosine else 512
                    return params | ({"bias_hidden": int(hidden)} if hidden != 512 else {})
    return None


def window_attention(image: np.ndarray, weights: Mapping[str, np.ndarray], heads: int, window: tuple[int, int],
                     shift: tuple[int, int], *, cosine: bool = False) -> np.ndarray:
    """Swin's shifted window attention at inference on ``image`` [N, H, W, C], in numpy (``window_attention``);
    ``cosine``: Swin v2's (``window_attention_v2``)."""
    batch, height, width, channels = image.shape
    wh, ww = window
    padded = np.pad(image, ((0, 0), (0, -height % wh), (0, -width % ww), (0, 0)))
    full_h, full_w = padded.shape[1:3]
    shifts = (shift[0] if wh < full_h else 0, shift[1] if ww < full_w else 0)
    rolled = np.roll(padded, (-shifts[0], -shifts[1]), axis=(1, 2))
    grid = (full_h // wh, full_w // ww)
    windows = rolled.reshape(batch, grid[0], wh, grid[1], ww, channels).transpose(0, 1, 3, 2, 4, 5) \
        .reshape(-1, wh * ww, channels)
    tokens, width_per_head = wh * ww, channels // heads
    qkv_bias = np.array(weights["qkv.bias"], np.float32)
    if cosine:
        qkv_bias[channels:2 * channels] = 0
    qkv = (windows @ weights["qkv.weight"].T + qkv_bias).reshape(-1, tokens, 3, heads, width_per_head)
    query, key, value = qkv.transpose(2, 0, 3, 1, 4)
    index = relative_position_index(window).reshape(-1)
    if cosine:
        query, key = (part / np.maximum(np.linalg.norm(part, axis=-1, keepdims=True), 1e-12) for part in (query, key))
        scores = query @ key.transpose(0, 1, 3, 2) * np.exp(np.minimum(weights["logit_scale"], math.log(100)))
        hidden = np.maximum(relative_coords_table(window) @ weights["cpb_mlp.0.weight"].T + weights["cpb_mlp.0.bias"],
                            0)
        table = hidden @ weights["cpb_mlp.2.weight"].T
        bias = 16 / (1 + np.exp(-table[index].reshape(tokens, tokens, heads).transpose(2, 0, 1)))
    else:
        scores = (query / math.sqrt(width_per_head)) @ key.transpose(0, 1, 3, 2)
        bias = weights["relative_position_bias_table"][index].reshape(tokens, tokens, heads).transpose(2, 0, 1)
    scores = scores + bias
    if any(shifts):
        mask = shift_mask(full_h, full_w, window, shifts)
        scores = (scores.reshape(batch, -1, heads, tokens, tokens) + mask[None, :, None]).reshape(scores.shape)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    mixed = (scores / scores.sum(-1, keepdims=True)) @ value
    out = mixed.transpose(0, 2, 1, 3).reshape(-1, tokens, channels) @ weights["proj.weight"].T + weights["proj.bias"]
    out = out.reshape(batch, grid[0], grid[1], wh, ww, channels).transpose(0, 1, 3, 2, 4, 5) \
        .reshape(batch, full_h, full_w, channels)
    return np.asarray(np.roll(out, shifts, axis=(1, 2))[:, :height, :width])


def _projections(nodes: list[OnnxNode], channels: int) -> tuple[dict[str, np.ndarray], dict[str, str]] | None:
    """``qkv`` and ``proj``'s weights, from the pattern's two products by a constant matrix, and the values their
    biases are added from (a bias that the nodes compute, as Swin v2's without the keys' part, is read from the
    run)."""
    projections = [view for view in nodes if view.op_type in PROJECTIONS and _weight_operand(view) is not None]
    if len(projections) != 2:
        return None
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, str] = {}
    for prefix, rows in (("qkv.", 3 * channels), ("proj.", channels)):
        projection = next((view for view in projections
                           if np.asarray(_weight_operand(view)).shape in ((channels, rows), (rows, channels))
                           and f"{prefix}weight" not in weights), None)
        if projection is None:
            return None
        weight, bias = _linear(projection, nodes)
        if weight.shape != (rows, channels) or (bias is not None and bias.shape != (rows,)):
            return None
        weights[f"{prefix}weight"] = weight
        adds = [view for view in nodes if view.op_type == "Add" and projection.outputs[0] in view.inputs]
        others = [name for name in adds[0].inputs if name != projection.outputs[0]] if len(adds) == 1 else []
        if bias is not None or projection.op_type == "Gemm" or len(others) != 1:
            weights[f"{prefix}bias"] = np.zeros(rows, np.float32) if bias is None else bias
        else:
            biases[f"{prefix}bias"] = others[0]
    return weights, biases


def _continuous_bias(start: OnnxNode, nodes: list[OnnxNode]) -> dict[str, np.ndarray] | None:
    """Swin v2's ``logit_scale`` and ``cpb_mlp`` weights: the scores' scale is ``exp`` of the clamped logit scale,
    and the constant added to them was computed (folded by the importer) by the MLP from the offsets' table."""
    for add in nodes:
        values = [add.constant(name) for name in add.inputs] if add.op_type == "Add" else []
        if len(values) != 2 or sum(value is None for value in values) != 1:
            continue
        scaled = add.producer(next(name for name, value in zip(add.inputs, values, strict=True) if value is None))
        logit_scale = _logit_scale(scaled) if scaled is not None and scaled.op_type == "Mul" else None
        mlp = _mlp(add, next(name for name, value in zip(add.inputs, values, strict=True) if value is not None))
        if logit_scale is not None and mlp is not None:
            return {"logit_scale": logit_scale, **mlp}
    return None


def _logit_scale(scaled: OnnxNode) -> np.ndarray | None:
    """The logit scale behind the ``Mul`` of the cosine scores by ``exp(min(logit_scale, log 100))``."""
    for name in scaled.inputs:
        value = scaled.constant(name)
        exp = scaled.producer(name) if value is not None else None
        if value is None or np.asarray(value).ndim != 3:
            continue
        clip = exp.producer(exp.inputs[0]) if exp is not None and exp.op_type == "Exp" else None
        stored = clip.constant(clip.inputs[0]) if clip is not None and clip.op_type in ("Clip", "Min") else None
        if stored is not None and np.asarray(stored).shape == np.asarray(value).shape:
            return np.asarray(stored, np.float32)
        return np.log(np.asarray(value, np.float32))
    return None


def _mlp(start: OnnxNode, value: str) -> dict[str, np.ndarray] | None:
    """``cpb_mlp``'s weights, from the nodes that computed ``value``: the second linear layer is a product by a
    constant [hidden, heads] (no bias) after a ``Relu`` of an ``Add`` of the first's bias to the first's product,
    the offsets' table times a constant [2, hidden], or that product itself where the exporter folded it
    (``cpb_products``: the weight is solved for once the window, hence the table, is known)."""
    seen: dict[tuple[str, ...], OnnxNode] = {}
    pending = [value]
    while pending and len(seen) < 40:
        producer = start.producer(pending.pop())
        if producer is None or producer.outputs in seen:
            continue
        seen[producer.outputs] = producer
        pending.extend(name for name in producer.inputs if name)
    relus = [view for view in seen.values() if view.op_type == "Relu"]
    adds = [start.producer(relus[0].inputs[0])] if len(relus) == 1 else []
    second = [view for view in seen.values()
              if view.op_type == "MatMul" and relus and relus[0].outputs[0] in view.inputs]
    if len(second) != 1 or adds[0] is None or adds[0].op_type != "Add":
        return None
    weight = second[0].constant(second[0].inputs[1])
    parts = [(name, adds[0].constant(name)) for name in adds[0].inputs]
    biases = [np.asarray(part) for _, part in parts if part is not None and np.asarray(part).ndim == 1]
    if weight is None or np.asarray(weight).ndim != 2 or len(biases) != 1:
        return None
    weights = {"cpb_mlp.2.weight": np.asarray(weight, np.float32).T, "cpb_mlp.0.bias": biases[0].astype(np.float32)}
    other = next((name for name, part in parts if part is None or np.asarray(part).ndim != 1), None)
    first = start.producer(other) if other else None
    folded = start.constant(other) if other else None
    matrix = first.constant(first.inputs[1]) if first is not None and first.op_type == "MatMul" else None
    if matrix is not None and np.asarray(matrix).shape[0] == 2:
        weights["cpb_mlp.0.weight"] = np.asarray(matrix, np.float32).T
    elif folded is not None and np.asarray(folded).shape[-1] == biases[0].shape[0]:
        weights["cpb_products"] = np.asarray(folded, np.float32).reshape(-1, biases[0].shape[0])
    else:
        return None
    return weights


def _first_layer(weights: dict[str, np.ndarray], window: tuple[int, int]) -> bool:
    """Solve ``cpb_mlp.0.weight`` from the folded product of the offsets' table of ``window`` and it; False if the
    product has another number of offsets."""
    products = weights.pop("cpb_products", None)
    if products is None:
        return "cpb_mlp.0.weight" in weights
    table = relative_coords_table(window)
    weights["cpb_products"] = products
    if table.shape[0] != products.shape[0]:
        return False
    weights["cpb_mlp.0.weight"] = np.linalg.lstsq(table, products, rcond=None)[0].T.astype(np.float32)
    return True


def _pattern(start: OnnxNode) -> tuple[list[OnnxNode], list[OnnxNode], OnnxNode, OnnxNode] | None:
    """The nodes that the ``Pad``'s output reaches through :data:`INSIDE` types without reading another data-path
    value, with those computing the other values they read (to run them), the ones of these to absorb, their one
    ``Softmax``, and the one node whose output is read outside them (the crop); None unless exactly one is.

    A value computed from constants alone (dynamo's mask, which it computes once for every block of a stage) may
    be read by other layers too: its nodes are run, and absorbed only where nothing outside reads them."""
    nodes: dict[tuple[str, ...], OnnxNode] = {start.outputs: start}
    made = set(start.outputs)
    pending = [start.outputs[0]]
    outside: set[tuple[str, ...]] = set()
    while pending:
        value = pending.pop()
        for reader in start.readers(value):
            if reader.outputs in nodes or reader.outputs in outside:
                continue
            if reader.op_type not in INSIDE or not _reads_only(reader, made, start):
                outside.add(reader.outputs)
                continue
            nodes[reader.outputs] = reader
            made.update(reader.outputs)
            if len(nodes) > MOST_NODES:
                return None
            pending.extend(reader.outputs)
    reached = dict(nodes)
    if not _add_computed_inputs(start, nodes, made):
        return None
    softmaxes = [view for view in reached.values() if view.op_type == "Softmax"]
    ends = [view for view in reached.values()
            if any(reader.outputs not in nodes for output in view.outputs for reader in start.readers(output))
            or not any(start.readers(output) for output in view.outputs)]
    if len(softmaxes) != 1 or len(ends) != 1:
        return None
    shared = [view for key, view in nodes.items() if key not in reached and any(
        reader.outputs not in nodes for output in view.outputs for reader in start.readers(output))]
    kept: set[tuple[str, ...]] = set()
    while shared:
        view = shared.pop()
        if view.outputs in kept:
            continue
        kept.add(view.outputs)
        shared.extend(producer for name in view.inputs if name and (producer := start.producer(name)) is not None
                      and producer.outputs in nodes and producer.outputs not in reached)
    return list(nodes.values()), [view for key, view in nodes.items() if key not in kept], softmaxes[0], ends[0]


def _reads_only(view: OnnxNode, made: set[str], start: OnnxNode) -> bool:
    """Whether every input of ``view`` is a constant or computed by the pattern so far (or found computable)."""
    return all(not name or name in made or start.constant(name) is not None or _computed(start, name, made)
               for name in view.inputs)


def _computed(start: OnnxNode, name: str, made: set[str]) -> bool:
    """Whether ``name`` comes from pattern values through nodes of :data:`INSIDE` types only (the mask's sizes,
    read from the padded image's ``Shape``, before the walk reaches them); not a data-path value from outside."""
    pending, seen = [name], set()
    while pending:
        value = pending.pop()
        if value in seen or value in made or not value or start.constant(value) is not None:
            continue
        seen.add(value)
        producer = start.producer(value)
        if producer is None or producer.op_type not in INSIDE or value == start.inputs[0] or len(seen) > MOST_NODES:
            return False
        pending.extend(producer.inputs)
    return True


def _add_computed_inputs(start: OnnxNode, nodes: dict[tuple[str, ...], OnnxNode], made: set[str]) -> bool:
    """Add to ``nodes`` the producers of the values they read that are neither constants nor theirs, and fold the
    constants they read (so that running them finds them); False if one reads a tensor from outside."""
    pending = [(name, view) for view in list(nodes.values()) for name in view.inputs]
    while pending:
        name, reader = pending.pop()
        sizes = name == start.inputs[0] and (reader.op_type == "Shape" or reader.outputs == start.outputs)
        if not name or name in made or sizes or start.constant(name) is not None:
            continue  # the input's sizes (the padding's) are computed as the run's sample has them
        producer = start.producer(name)
        if producer is None or name == start.inputs[0] or len(nodes) >= MOST_NODES:
            return False
        nodes[producer.outputs] = producer
        made.update(producer.outputs)
        pending.extend((value, producer) for value in producer.inputs)
    return True


def _bias_candidates(nodes: list[OnnxNode]) -> list[np.ndarray]:
    """The constants added to a product of two computed tensors (the scores): Swin's relative position bias,
    folded."""
    found = []
    for view in nodes:
        if view.op_type != "Add":
            continue
        values = [view.constant(name) for name in view.inputs]
        if sum(value is None for value in values) != 1:
            continue
        data = view.producer(next(name for name, value in zip(view.inputs, values, strict=True) if value is None))
        if data is not None and data.op_type == "MatMul" and _weight_operand(data) is None:
            found.append(next(np.asarray(value, np.float32) for value in values if value is not None))
    return found


def _windows(tokens: int, windows: int, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """The windows of ``tokens`` positions that cut the image, padded, into ``windows`` windows (square first)."""
    height, width = shape[0], shape[1]
    found = [(rows, tokens // rows) for rows in range(1, tokens + 1) if tokens % rows == 0
             and math.ceil(height / rows) * math.ceil(width / (tokens // rows)) == windows]
    return sorted(found, key=lambda window: abs(window[0] - window[1]))


def _table(bias: np.ndarray, window: tuple[int, int]) -> np.ndarray | None:
    """The relative position bias table [(2wh-1)(2ww-1), heads] whose lookup is ``bias`` [heads, T, T], or None."""
    index = relative_position_index(window)
    heads = bias.shape[0]
    table = np.zeros(((2 * window[0] - 1) * (2 * window[1] - 1), heads), np.float32)
    table[index.reshape(-1)] = bias.transpose(1, 2, 0).reshape(-1, heads)
    return table if np.array_equal(table[index].transpose(2, 0, 1), bias) else None


def _shifts(window: tuple[int, int]) -> list[tuple[int, int]]:
    """Every shift within ``window``, Swin's first: none, then half the window."""
    usual = [(0, 0), (window[0] // 2, window[1] // 2)]
    return usual + [(rows, cols) for rows in range(window[0]) for cols in range(window[1]) if (rows, cols) not in usual]


def _absorb(node: OnnxNode, nodes: list[OnnxNode], weights: Mapping[str, np.ndarray], window: tuple[int, int],
            cosine: bool) -> None:
    node.absorb(*[view for view in nodes if view.outputs != node.outputs])
    node.set_inputs(node.inputs[0])
    wh, ww = window
    buffers = {"relative_position_index": relative_position_index(window).reshape(-1),
               "relative_coords_table": relative_coords_table(window).reshape(1, 2 * wh - 1, 2 * ww - 1, 2)}
    keys = ("logit_scale", "relative_coords_table", "relative_position_index", *PROJECTION_KEYS, "cpb_mlp.0.weight",
            "cpb_mlp.0.bias", "cpb_mlp.2.weight") if cosine else \
        ("relative_position_bias_table", "relative_position_index", *PROJECTION_KEYS)
    for key in keys:
        node.weight(key, buffers[key] if key in buffers else weights[key])


PROJECTION_KEYS = ("qkv.weight", "qkv.bias", "proj.weight", "proj.bias")


def _pair(values: tuple[int, int]) -> int | list[int]:
    return values[0] if values[0] == values[1] else list(values)
