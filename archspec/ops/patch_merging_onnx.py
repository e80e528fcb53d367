"""torchvision's Swin ``PatchMerging`` and ``PatchMergingV2`` as torch's ONNX exporters write them, read back as one
``patch_merging`` layer.

Both exporters write ``_patch_merging_pad`` and the four strided slices as a ``Pad``, ``Slice``s (rows, then
columns, every other one), a ``Concat`` over the channels, then the layer norm and the reduction (a ``MatMul`` by a
constant; v2: the other way round).  The nodes are found from the ``Pad`` and accepted only for what they compute:
they are run on a sample beside the patch merging that the weights found in them give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from archspec.ops.context import OnnxNode

MOST_SLICES = 8
"""Two slices of rows and four of columns; a few more (an exporter's split steps) are still one merge."""


def torch_patch_merging(node: OnnxNode) -> Mapping[str, Any] | None:
    """If ``node`` is the ``Pad`` that starts torchvision's exported patch merging of a channels-last image
    [H, W, C], absorb the pattern, give the layer ``patch_merging``'s weights and return its params."""
    shape = node.input_shapes[0] if node.input_shapes else ()
    if node.op_type != "Pad" or len(shape) != 3:
        return None
    found = _pattern(node)
    if found is None:
        return None
    nodes, norm, reduction = found
    weight = node.constant(reduction.inputs[1])
    scale, bias = (node.constant(name) if name else None for name in (*norm.inputs[1:3], "", "")[:2])
    if weight is None or scale is None or bias is None or np.asarray(weight).ndim != 2:
        return None
    eps = float(norm.attributes.get("epsilon", 1e-5))
    norm_first = nodes.index(norm) < nodes.index(reduction)
    weights = {"reduction.weight": np.asarray(weight, np.float32).T, "norm.weight": np.asarray(scale, np.float32),
               "norm.bias": np.asarray(bias, np.float32)}
    sample = np.random.default_rng(0).standard_normal((2, *shape)).astype(np.float32)
    try:
        (result,) = node.run(nodes, {node.inputs[0]: sample}, [nodes[-1].outputs[0]])
    except ValueError:
        return None
    expected = patch_merging(sample, weights, eps, norm_first)
    if np.asarray(result).shape != expected.shape or \
            np.abs(np.asarray(result) - expected).max() > 1e-4 * max(1.0, float(np.abs(expected).max())):
        return None
    node.absorb(*nodes[1:])
    node.set_inputs(node.inputs[0])
    for key in ("reduction.weight", "norm.weight", "norm.bias"):
        node.weight(key, weights[key])
    channels = weights["reduction.weight"].shape[0]
    params: dict[str, Any] = {} if channels == 2 * shape[2] else {"channels": int(channels)}
    if abs(eps - 1e-5) > 1e-9:
        params["eps"] = float(f"{eps:.7g}")
    return params | ({} if norm_first else {"norm_first": False})


def patch_merging(image: np.ndarray, weights: Mapping[str, np.ndarray], eps: float, norm_first: bool) -> np.ndarray:
    """``patch_merging`` at inference on ``image`` [N, H, W, C], in numpy."""
    padded = np.pad(image, ((0, 0), (0, image.shape[1] % 2), (0, image.shape[2] % 2), (0, 0)))
    merged = np.concatenate([padded[:, row::2, col::2] for row, col in ((0, 0), (1, 0), (0, 1), (1, 1))], axis=-1)

    def norm(value: np.ndarray) -> np.ndarray:
        centred = value - value.mean(-1, keepdims=True)
        return np.asarray(centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps) * weights["norm.weight"]
                          + weights["norm.bias"])

    if norm_first:
        return np.asarray(norm(merged) @ weights["reduction.weight"].T)
    return norm(merged @ weights["reduction.weight"].T)


def _pattern(start: OnnxNode) -> tuple[list[OnnxNode], OnnxNode, OnnxNode] | None:
    """The ``Pad``, the ``Slice``s its output reaches, their one ``Concat`` of four, and the layer norm and the
    reduction after it in the order they run (the last node last); None unless nothing else reads their values."""
    nodes: dict[tuple[str, ...], OnnxNode] = {start.outputs: start}
    pending = [start.outputs[0]]
    concats: dict[tuple[str, ...], OnnxNode] = {}
    while pending:
        value = pending.pop()
        for reader in start.readers(value):
            if reader.outputs in nodes or reader.outputs in concats:
                continue
            if reader.op_type == "Concat" and len(reader.inputs) == 4:
                concats[reader.outputs] = reader
            elif reader.op_type == "Slice" and len(nodes) <= MOST_SLICES:
                nodes[reader.outputs] = reader
                pending.append(reader.outputs[0])
            else:
                return None
    if len(concats) != 1:
        return None
    concat = next(iter(concats.values()))
    first = concat.consumer()
    second = first.consumer() if first is not None else None
    if first is None or second is None or {first.op_type, second.op_type} != {"LayerNormalization", "MatMul"}:
        return None
    norm, reduction = (first, second) if first.op_type == "LayerNormalization" else (second, first)
    if reduction.inputs[0] not in (concat.outputs[0], norm.outputs[0]) or node_constant(reduction, 1) is None:
        return None
    return [*nodes.values(), concat, first, second], norm, reduction


def node_constant(view: OnnxNode, position: int) -> Any | None:
    """The constant input of ``view`` at ``position``, else None."""
    return view.constant(view.inputs[position]) if position < len(view.inputs) else None
