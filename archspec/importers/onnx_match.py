"""The generic matcher: each ONNX node offered to the ops that claim its type (``Op.from_onnx``).

The inverse of ``Op.to_onnx`` lives in the op, built-in or a plugin's, as ``Op.from_torch`` does for
PyTorch; this module only walks.  Every op whose ``onnx_types`` names the node's type sees it
through :class:`NodeView` (the :class:`~archspec.ops.context.OnnxNode` protocol); of those that
accept it, the one that absorbs most nodes (SiLU's ``Sigmoid`` + ``Mul`` over sigmoid's ``Sigmoid``)
becomes the layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx

from archspec.importers.onnx_graph import GraphReader, Unsupported, attributes_of
from archspec.ops.base import Shape
from archspec.ops.registry import registered_ops


class NodeView:
    """A node as an op's ``from_onnx`` sees it; collects what the op absorbs and the weights it gives."""

    def __init__(self, reader: GraphReader, node: onnx.NodeProto):
        self.reader = reader
        self.node = node
        self.absorbed: list[onnx.NodeProto] = []
        self.state: dict[str, np.ndarray] = {}

    @property
    def op_type(self) -> str:
        return str(self.node.op_type)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.node.input)

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(self.node.output)

    @property
    def attributes(self) -> Mapping[str, Any]:
        return attributes_of(self.node)

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        return tuple(self.reader.values[name].shape for name in self.data_inputs)

    @property
    def data_inputs(self) -> list[str]:
        return [name for name in self.node.input if name in self.reader.values]

    @property
    def opset(self) -> int:
        return self.reader.opset

    def constant(self, value: str) -> Any:
        return self.reader.constant(value)

    @property
    def layer(self) -> str:
        return str(self.node.name).split("/")[0]

    def layer_nodes(self) -> list[NodeView]:
        layer = self.layer
        return [self if node is self.node else NodeView(self.reader, node) for node in self.reader.graph.node
                if node.name == layer or node.name.startswith(f"{layer}/")]

    def layer_weights(self) -> dict[str, np.ndarray]:
        prefix = f"{self.layer}."
        return {name[len(prefix):]: self.reader.constants[name] for view in self.layer_nodes()
                for name in view.node.input
                if name.startswith(prefix) and self.reader.is_initializer(name) and name in self.reader.constants}

    def consumer(self) -> NodeView | None:
        after = self.reader.only_consumer(self.node.output[0])
        return NodeView(self.reader, after) if after is not None else None

    def absorb(self, *nodes: Any) -> None:
        self.absorbed.extend(node.node for node in nodes)

    def weight(self, key: str, value: Any) -> None:
        self.state[key] = np.ascontiguousarray(value, dtype=np.float32)


def offer_to_ops(reader: GraphReader, node: onnx.NodeProto) -> bool:
    """Make ``node`` the layer of the op that claims it (True), or leave it to the handler table (False).

    When ops claim the type but all refuse with a reason, that reason is the node's error.
    """
    accepted: list[tuple[Any, Mapping[str, Any], NodeView]] = []
    reasons: list[str] = []
    for registered in registered_ops().values():
        op = registered.op
        if node.op_type not in op.onnx_types:
            continue
        view = NodeView(reader, node)
        try:
            params = op.from_onnx(view)
        except ValueError as exc:
            reasons.append(str(exc))
            continue
        if params is not None:
            accepted.append((op, params, view))
    if not accepted:
        if reasons:
            raise Unsupported(reasons[0])
        return False
    op, params, view = max(accepted, key=lambda found: len(found[2].absorbed))
    last = view.absorbed[-1] if view.absorbed else node
    reader.claim(*view.absorbed)
    reader.emit(last, op.kind, params, view.data_inputs, last.output[0], view.state)
    return True
