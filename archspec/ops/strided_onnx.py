"""dynamo's decomposition of an ``as_strided`` that views a tensor as itself, read back as no layer at all.

torch's dynamo exporter writes ``torch.as_strided`` (which torch's own decompositions emit for a ``view`` after an
adaptive pool, as in ConvNeXt's and Swin's classifiers) as a ``Reshape`` of the whole tensor to one axis, batch
included, and a ``Gather`` of indices computed from the batch size (``Range`` times the sample's stride, plus the
other axes' offsets).  Where those indices put every element back where it was, the pattern is the identity: it is
run on a sample and accepted only if it gives its input back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from archspec.ops.context import OnnxNode

MOST_NODES = 24
"""The index computation of one ``as_strided`` is a handful of nodes."""


def is_identity_gather(node: OnnxNode) -> bool:
    """Whether ``node`` is the ``Reshape`` to ``[-1]`` of an ``as_strided`` whose ``Gather`` gives the reshape's
    input back unchanged; if so, absorb the ``Gather`` and its index computation."""
    target = node.constant(node.inputs[1]) if node.op_type == "Reshape" and len(node.inputs) > 1 else None
    gather = node.consumer()
    if target is None or [int(size) for size in np.asarray(target).reshape(-1)] != [-1] or gather is None or \
            gather.op_type != "Gather" or gather.inputs[0] != node.outputs[0] or int(gather.attributes.get("axis", 0)):
        return False
    nodes = {node.outputs: node, gather.outputs: gather}
    pending = [gather.inputs[1]]
    while pending:
        name = pending.pop()
        if not name or node.constant(name) is not None or any(name in key for key in nodes):
            continue
        producer = node.producer(name)
        if producer is None or name == node.inputs[0] or len(nodes) >= MOST_NODES:
            return False
        nodes[producer.outputs] = producer
        pending.extend(producer.inputs)
    inside = {output for key in nodes for output in key}
    if any(reader.outputs not in nodes for view in nodes.values() if view is not gather
           for output in view.outputs for reader in node.readers(output)) or \
            any(name in inside for view in nodes.values() if view is not node for name in view.inputs
                if name == node.inputs[0]):
        return False
    sample = np.random.default_rng(0).standard_normal((2, *node.input_shapes[0])).astype(np.float32)
    try:
        (result,) = node.run(list(nodes.values()), {node.inputs[0]: sample}, [gather.outputs[0]])
    except ValueError:
        return False
    if np.asarray(result).shape != sample.shape or not np.array_equal(np.asarray(result), sample):
        return False
    node.absorb(*[view for view in nodes.values() if view is not node])
    return True
