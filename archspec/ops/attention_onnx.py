"""``nn.MultiheadAttention`` as torch's ONNX exporters write it, read back as one ``attention`` layer.

Both exporters (TorchScript and dynamo) write a batch-first self-attention as anonymous nodes: a
``Transpose`` to sequence-first, the input projection (``MatMul`` by a constant and ``Add``), reshapes and
transposes that split queries, keys and values into heads (their sizes computed from ``Shape`` nodes),
scaled products, a ``Softmax``, the output projection (``Gemm`` or ``MatMul``), and a ``Transpose`` back.
The node types vary with the exporter and torch's version, so the pattern is found by its ends and checked
by what it computes: its nodes are run on a sample (:meth:`OnnxNode.run`) beside the attention that the
weights found in it give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from archspec.ops.context import OnnxNode

MOST_NODES = 400
"""A pattern larger than this is not one attention layer (the search stops)."""

PROJECTIONS = ("MatMul", "Gemm")


def torch_attention(node: OnnxNode) -> Mapping[str, Any] | None:
    """If ``node`` is the first ``Transpose`` of torch's exported batch-first self-attention over tokens
    [L, D], absorb the pattern, give the layer ``nn.MultiheadAttention``'s weights and return its params."""
    perm = [int(axis) for axis in node.attributes.get("perm", ())]
    if node.op_type != "Transpose" or len(perm) != 3 or perm[1] != 0 or len(node.input_shapes[0]) != 2:
        return None
    order = [perm[1], perm[0], perm[2]]  # the tokens (batch first) are the input's axes in this order: TorchScript
    #                                      merges the transpose to sequence first with one before it
    found = _pattern(node)
    if found is None:
        return None
    nodes, softmax, end = found
    projections = [view for view in nodes if view.op_type in PROJECTIONS and _weight_operand(view) is not None]
    products = [view for view in nodes if view.op_type == "MatMul" and _weight_operand(view) is None]
    inward = [view for view in projections if node.outputs[0] in view.inputs]
    if len(projections) != 2 or len(products) != 2 or len(inward) != 1:
        return None
    outward = next(view for view in projections if view is not inward[0])
    tokens, features = (node.input_shapes[0][axis - 1] for axis in order[1:])
    weights = {}
    for prefix, projection, rows in (("in_proj_", inward[0], 3 * features), ("out_proj.", outward, features)):
        weight, bias = _linear(projection, nodes)
        if weight.shape != (rows, features) or (bias is not None and bias.shape != (rows,)):
            return None
        weights[f"{prefix}weight"] = weight
        if bias is not None:
            weights[f"{prefix}bias"] = bias
    if ("in_proj_bias" in weights) != ("out_proj.bias" in weights):  # an exporter drops a bias of zeros
        weights.setdefault("in_proj_bias", np.zeros(3 * features, np.float32))
        weights.setdefault("out_proj.bias", np.zeros(features, np.float32))
    sample = np.random.default_rng(0).standard_normal((2, tokens, features)).astype(np.float32)
    try:
        scores, result = node.run(nodes, {node.inputs[0]: sample.transpose(np.argsort(order))},
                                  [softmax.outputs[0], end.outputs[0]])
    except ValueError:
        return None
    heads = int(np.asarray(scores).size) // (2 * tokens * tokens)
    if heads < 1 or features % heads or np.asarray(scores).size != 2 * heads * tokens * tokens:
        return None
    expected = self_attention(sample, weights, heads)
    if np.asarray(result).shape != expected.shape or \
            np.abs(np.asarray(result) - expected).max() > 1e-4 * max(1.0, float(np.abs(expected).max())):
        return None
    node.absorb(*[view for view in nodes if view.outputs != node.outputs])
    if order == [0, 1, 2]:
        node.set_inputs(node.inputs[0])
    else:
        node.layer_before("permute", {"axes": [axis - 1 for axis in order[1:]]}, [node.inputs[0]],
                          f"{node.outputs[0]}/tokens", {})
        node.set_inputs(f"{node.outputs[0]}/tokens")
    for key in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"):
        if key in weights:
            node.weight(key, weights[key])
    return {"heads": heads} | ({} if "in_proj_bias" in weights else {"bias": False})


def self_attention(tokens: np.ndarray, weights: Mapping[str, np.ndarray], heads: int) -> np.ndarray:
    """``nn.MultiheadAttention(tokens, tokens, tokens)`` at inference, batch first, in numpy."""
    batch, length, features = tokens.shape
    width = features // heads
    qkv = tokens @ weights["in_proj_weight"].T + weights.get("in_proj_bias", 0)
    query, key, value = (part.reshape(batch, length, heads, width).transpose(0, 2, 1, 3)
                         for part in np.split(qkv, 3, axis=-1))
    scores = query @ key.transpose(0, 1, 3, 2) / math.sqrt(width)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    mixed = (scores / scores.sum(-1, keepdims=True)) @ value
    merged = mixed.transpose(0, 2, 1, 3).reshape(batch, length, features)
    return np.asarray(merged @ weights["out_proj.weight"].T + weights.get("out_proj.bias", 0))


def _pattern(start: OnnxNode) -> tuple[list[OnnxNode], OnnxNode, OnnxNode] | None:
    """The nodes from ``start`` to the ``Transpose`` back after the output projection (the ``Shape``
    computations on the way included), its one ``Softmax`` and that last node; None unless nothing else
    reads a value they compute."""
    nodes: dict[tuple[str, ...], OnnxNode] = {start.outputs: start}
    pending = [start.outputs[0]]
    softmaxes: dict[tuple[str, ...], OnnxNode] = {}
    ends: dict[tuple[str, ...], OnnxNode] = {}
    while pending:
        value = pending.pop()
        for reader in start.readers(value):
            if reader.outputs in nodes:
                continue
            nodes[reader.outputs] = reader
            if len(nodes) > MOST_NODES:
                return None
            if reader.op_type == "Softmax":
                softmaxes[reader.outputs] = reader
            if reader.op_type == "Shape":
                continue  # what its sizes feed is found from the reshapes that read them
            if _closes(reader):
                ends[reader.outputs] = reader
                continue
            pending.extend(reader.outputs)
    if len(softmaxes) != 1 or len(ends) != 1:
        return None
    end = next(iter(ends.values()))
    if not _add_shape_computations(start, nodes):
        return None
    inside = set(nodes)
    for view in nodes.values():
        if view.outputs == end.outputs:
            continue
        if any(reader.outputs not in inside for output in view.outputs for reader in start.readers(output)):
            return None
    return list(nodes.values()), next(iter(softmaxes.values())), end


def _closes(view: OnnxNode) -> bool:
    """Whether ``view`` is the ``Transpose`` back to batch first after the output projection: reshapes, the
    projection (a constant matrix, perhaps a bias ``Add``), reshapes and transposes, the product of the attention
    weights and the values."""
    if view.op_type != "Transpose" or [int(a) for a in view.attributes.get("perm", ())] != [1, 0, 2]:
        return False
    steps = ["reshape", "bias", "projection", "reshape", "product"]
    current: OnnxNode | None = view.producer(view.inputs[0])
    while current is not None and steps:
        data = [name for name in current.inputs if name and current.constant(name) is None]
        if steps[0] == "reshape" and current.op_type in ("Reshape", "Squeeze", "Unsqueeze", "Transpose"):
            pass
        elif steps[0] == "reshape":
            steps.pop(0)
            continue
        elif steps[0] == "bias":
            steps.pop(0)
            if current.op_type != "Add" or len(data) != 1:
                continue
        elif steps[0] == "projection":
            if current.op_type not in PROJECTIONS or _weight_operand(current) is None:
                return False
            steps.pop(0)
        else:
            return current.op_type == "MatMul" and len(data) == 2
        followed = current.inputs[0] if current.op_type != "Add" else data[0] if len(data) == 1 else ""
        current = current.producer(followed) if followed else None
    return False


def _add_shape_computations(start: OnnxNode, nodes: dict[tuple[str, ...], OnnxNode]) -> bool:
    """Add to ``nodes`` the computations of the sizes its reshapes read (from ``Shape`` nodes among them, or
    constants); False if one reads a tensor from outside."""
    made = {output for key in nodes for output in key}
    pending = [name for view in list(nodes.values()) for name in view.inputs]
    while pending:
        name = pending.pop()
        if not name or name in made or name == start.inputs[0] or start.constant(name) is not None:
            continue
        producer = start.producer(name)
        if producer is None or len(nodes) >= MOST_NODES:
            return False
        nodes[producer.outputs] = producer
        made.update(producer.outputs)
        pending.extend(producer.inputs)
    return True


def _weight_operand(view: OnnxNode) -> Any | None:
    """A projection's constant matrix operand (the weight), else None."""
    values = [view.constant(name) for name in view.inputs[:2]]
    data = [value is None for value in values]
    if data != [True, False] or np.asarray(values[1]).ndim != 2:
        return None
    return values[1]


def _linear(projection: OnnxNode, nodes: Sequence[OnnxNode]) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight [out, in] and bias of a ``MatMul`` (by W.T, its bias an ``Add`` after it) or a ``Gemm``."""
    matrix = np.asarray(_weight_operand(projection), dtype=np.float32)
    if projection.op_type == "Gemm":
        attributes = projection.attributes
        if attributes.get("transA", 0) or float(attributes.get("alpha", 1.0)) != 1.0 or \
                float(attributes.get("beta", 1.0)) != 1.0:
            return np.zeros((0, 0), np.float32), None
        weight = matrix if attributes.get("transB", 0) else matrix.T
        bias = projection.constant(projection.inputs[2]) if len(projection.inputs) > 2 and projection.inputs[2] \
            else None
        return weight, None if bias is None else np.asarray(bias, np.float32).reshape(-1)
    adds = [view for view in nodes if view.op_type == "Add" and projection.outputs[0] in view.inputs]
    bias = None
    if len(adds) == 1:
        others = [adds[0].constant(name) for name in adds[0].inputs if name != projection.outputs[0]]
        bias = others[0] if len(others) == 1 else None
    return matrix.T, None if bias is None else np.asarray(bias, np.float32).reshape(-1)
