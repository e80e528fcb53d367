"""The generic matcher: each ONNX node offered to the ops that claim its type (``Op.from_onnx``).

The inverse of ``Op.to_onnx`` lives in the op, built-in or a plugin's, as ``Op.from_torch`` does for
PyTorch; this module keeps no table of op types, it only offers.  Every op whose ``onnx_types`` names
the node's type sees it through :class:`NodeView` (the :class:`~archspec.ops.context.OnnxNode`
protocol); of those that accept it, the one that absorbs most nodes (SiLU's ``Sigmoid`` + ``Mul`` over
sigmoid's ``Sigmoid``) becomes the layer, or no layer where it passes the node through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx

from archspec.importers.onnx_graph import CUSTOM_OP_HINT, GraphReader, Unsupported, attributes_of
from archspec.ops.base import Op, Shape
from archspec.ops.context import UnreadableNode
from archspec.ops.registry import registered_ops


class NodeView:
    """A node as an op's ``from_onnx`` sees it; collects what the op absorbs, the weights it gives, what it reads."""

    def __init__(self, reader: GraphReader, node: onnx.NodeProto, output_index: int = 0):
        self.reader = reader
        self.node = node
        self.output_index = output_index
        self.absorbed: list[onnx.NodeProto] = []
        self.state: dict[str, np.ndarray] = {}
        self.chosen_inputs: tuple[str, ...] | None = None
        self.passes_through = False
        self.before: list[tuple[str, Mapping[str, Any], tuple[str, ...], str, dict[str, np.ndarray]]] = []

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
        return tuple(self.reader.tensor(name).shape for name in self.node.input
                     if name and self.reader.constant(name) is None)

    @property
    def opset(self) -> int:
        return self.reader.opset

    def constant(self, value: str) -> Any:
        return self.reader.constant(value)

    def is_initializer(self, value: str) -> bool:
        return self.reader.is_initializer(value)

    def batch_source(self, value: str) -> str | None:
        return self.reader.batch_of.get(value)

    @property
    def layer(self) -> str:
        return str(self.node.name).split("/")[0]

    def layer_nodes(self) -> list[NodeView]:
        layer = self.layer
        return [self if node is self.node else NodeView(self.reader, node) for node in self.reader.nodes
                if node.name == layer or node.name.startswith(f"{layer}/")]

    def layer_weights(self) -> dict[str, np.ndarray]:
        prefix = f"{self.layer}."
        return {name[len(prefix):]: self.reader.constants[name] for view in self.layer_nodes()
                for name in view.node.input
                if name.startswith(prefix) and self.reader.is_initializer(name) and name in self.reader.constants}

    def consumer(self) -> NodeView | None:
        after = self.reader.only_consumer(self.node.output[0])
        return NodeView(self.reader, after) if after is not None else None

    def producer(self, value: str) -> NodeView | None:
        before = self.reader.producer.get(value)
        return NodeView(self.reader, before) if before is not None else None

    def readers(self, value: str) -> list[NodeView]:
        return [NodeView(self.reader, node) for node in self.reader.consumers.get(value, [])]

    def run(self, nodes: Sequence[Any], inputs: Mapping[str, Any], outputs: Sequence[str]) -> list[Any]:
        return run_nodes(self.reader, [view.node for view in nodes], inputs, outputs)

    def layer_before(self, op: str, params: Mapping[str, Any], inputs: Sequence[str], output: str,
                     weights: Mapping[str, Any]) -> None:
        self.before.append((op, params, tuple(inputs), output,
                            {key: np.ascontiguousarray(value, dtype=np.float32) for key, value in weights.items()}))

    def absorb(self, *nodes: Any) -> None:
        self.absorbed.extend(node.node for node in nodes)

    def set_inputs(self, *values: str) -> None:
        self.chosen_inputs = values

    def pass_through(self) -> Mapping[str, Any]:
        self.passes_through = True
        return {}

    def weight(self, key: str, value: Any) -> None:
        self.state[key] = np.ascontiguousarray(value, dtype=np.float32)

    # -- what the importer makes of the op's answer -------------------------------------------------
    @property
    def last(self) -> onnx.NodeProto:
        """The layer's node that comes last in the file: it computes the layer's output, and gives its scope."""
        return max([self.node, *self.absorbed], key=lambda node: self.reader.position[id(node)])

    @property
    def output(self) -> str:
        return str(self.last.output[0]) if self.absorbed else str(self.node.output[self.output_index])

    def layer_inputs(self) -> list[str]:
        """What :meth:`set_inputs` chose, else this node's inputs that are not constants (repeats too) and the data-path
        values its other nodes read, once each, leaving out what the layer's own nodes compute."""
        if self.chosen_inputs is not None:
            return list(self.chosen_inputs)
        made = {name for node in [self.node, *self.absorbed] for name in node.output}
        inputs = [name for name in self.node.input if name and name not in made and self.reader.constant(name) is None]
        for node in self.absorbed:
            for name in node.input:
                if name in self.reader.values and name not in made and name not in inputs:
                    inputs.append(name)
        return inputs


def run_nodes(reader: GraphReader, nodes: list[onnx.NodeProto], inputs: Mapping[str, Any],
              outputs: Sequence[str]) -> list[Any]:
    """What :meth:`NodeView.run` computes, with onnx's reference evaluator: constants that the walk folded with
    :data:`~archspec.ops.context.BATCH` are recomputed from their ``Shape`` nodes, fed zeros of the sample's batch."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    batch = next(iter(inputs.values())).shape[0] if inputs else 1
    chosen = {id(node): node for node in nodes}
    feeds = dict(inputs)
    pending = [name for node in nodes for name in node.input]
    while pending:
        name = pending.pop()
        if not name or name in feeds or any(name in node.output for node in chosen.values()):
            continue
        source = reader.producer.get(name)
        if name in reader.batch_of and source is not None:
            if source.op_type == "Shape" and source.input[0] in reader.values:
                feeds.setdefault(source.input[0], np.zeros((batch, *reader.values[source.input[0]].shape), np.float32))
            chosen[id(source)] = source
            pending.extend(source.input)
        elif name in reader.constants:
            feeds[name] = reader.constants[name]
        else:
            raise ValueError(f"the pattern reads '{name}', which is neither given nor a constant")
    ordered = sorted(chosen.values(), key=lambda node: reader.position[id(node)])
    graph = helper.make_graph(ordered, "pattern", [helper.make_empty_tensor_value_info(name) for name in feeds],
                              [helper.make_empty_tensor_value_info(name) for name in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", reader.opset)])
    try:
        return list(ReferenceEvaluator(model).run(list(outputs), feeds))
    except Exception as exc:  # any failure of the reference kernels: the pattern is not what the op reads
        raise ValueError(f"the pattern could not be run ({type(exc).__name__}: {exc})") from None


def read_node(reader: GraphReader, node: onnx.NodeProto) -> None:
    """Make ``node`` the layer of the op that claims it (once per output that is read, for a ``Split``), or say
    why it cannot be: the reason of the first op that claims its type and refuses it, if one does."""
    ops = [registered.op for registered in registered_ops().values() if node.op_type in registered.op.onnx_types]
    if not ops:
        raise Unsupported(f"op type {node.op_type} has no archspec counterpart")
    read = [index for index, name in enumerate(node.output)
            if name and (name in reader.consumers or name in reader.graph_outputs)]
    for output_index in read if any(read) else [0]:
        _offer(reader, node, output_index, ops)


def _offer(reader: GraphReader, node: onnx.NodeProto, output_index: int, ops: list[Op]) -> None:
    """Of the ops that accept the node, the one that absorbs most nodes (SiLU's ``Sigmoid`` + ``Mul`` over
    sigmoid's ``Sigmoid``; on a tie, the first registered) makes its layer."""
    accepted: list[tuple[Op, Mapping[str, Any], NodeView]] = []
    refusals: list[ValueError] = []
    for op in ops:
        view = NodeView(reader, node, output_index)
        try:
            params = op.from_onnx(view)
        except ValueError as exc:
            refusals.append(exc)
            continue
        if params is not None:
            accepted.append((op, params, view))
    if not accepted:
        if refusals:
            hint = None if isinstance(refusals[0], UnreadableNode) else CUSTOM_OP_HINT
            raise Unsupported(str(refusals[0]), hint=hint)
        raise Unsupported(f"op type {node.op_type} has no archspec counterpart")
    op, params, view = max(accepted, key=lambda found: len(found[2].absorbed))
    reader.claim(*view.absorbed)
    for kind, extra_params, inputs, output, state in view.before:
        reader.emit(node, kind, extra_params, inputs, output, state)
    if view.passes_through:
        reader.alias(view.output, view.layer_inputs()[0])
        return
    reader.emit(view.last, op.kind, params, view.layer_inputs(), view.output, view.state)
