"""Walking an ONNX graph into flat layers: values, constants, claims and the scopes of node names.

:class:`GraphReader` visits the nodes in their (topological) order.  A node whose inputs are all
constants is folded here (shape computations: ``Shape``, ``Gather``, ``Concat`` feeding a
``Reshape``), with the batch standing for :data:`~archspec.ops.context.BATCH`; every other node goes
to the ops that claim its type (:mod:`.onnx_match`), and the one that reads it turns it, and any nodes
around it that it claims, into an archspec layer with :meth:`GraphReader.emit`.  Each layer's output
shape comes from the archspec op's own shape rule, so a parameter that does not fit is caught at the
node that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from pydantic import ValidationError

from archspec.importers.flat import NETWORK_INPUT, FlatLayer
from archspec.ops.base import Shape, ShapeError
from archspec.ops.context import BATCH
from archspec.ops.registry import get_op

CUSTOM_OP_HINT = ("archspec has no op for it: write your own op (docs/custom-ops.md, 'Writing your own op'), "
                  "then add its layer to the imported spec by hand")


class Unsupported(Exception):
    """A node that archspec cannot express; ``node`` is the one to name (else the node being read)."""

    def __init__(self, message: str, hint: str | None = CUSTOM_OP_HINT, node: onnx.NodeProto | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.node = node


@dataclass(frozen=True)
class Tensor:
    """A value on the data path: the layer that makes it (or the network input) and its shape without the batch."""

    layer: str
    shape: Shape


@dataclass(frozen=True)
class NodeError:
    node: onnx.NodeProto
    message: str
    hint: str | None


ScopeOf = Callable[[onnx.NodeProto], tuple[tuple[str, ...], tuple[str, ...], str] | None]
"""A node's (module path, module classes, layer name), or None where its exporter recorded nothing."""


class GraphReader:
    """The state of one walk: what every value is, the layers so far, the nodes already read."""

    def __init__(self, graph: onnx.GraphProto, input_name: str, input_shape: Shape, constants: dict[str, np.ndarray],
                 scope_of: ScopeOf, opset: int):
        self.graph = graph
        self.opset = opset
        self.values: dict[str, Tensor] = {input_name: Tensor(NETWORK_INPUT, input_shape)}
        self.constants = constants
        self.initializers = {tensor.name for tensor in graph.initializer}
        """Stored tensors, and the ``Identity`` copies of them that TorchScript writes for weights it stores once."""
        self.layers: list[FlatLayer] = []
        self.errors: list[NodeError] = []
        self.claimed: set[int] = set()
        self.deferred: dict[str, onnx.NodeProto] = {}
        self.batch_of: dict[str, str] = {}
        """Constants computed from a tensor's batch size (``Shape(x)``...): the tensor they read."""
        self.failed: set[str] = set()
        self.scope_of = scope_of
        self.unplaced: set[str] = set()
        self.unfoldable: set[str] = set()
        """Values :meth:`constant` tried to fold ahead of the walk and could not."""
        """Layers whose node recorded no scope: :func:`place_by_consumers` places them."""
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.nodes = list(graph.node)
        """The nodes in the file's (topological) order, held so that each keeps one Python object (and id)."""
        self.position = {id(node): index for index, node in enumerate(self.nodes)}
        for node in self.nodes:
            for name in node.output:
                self.producer[name] = node
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.graph_outputs = {value.name for value in graph.output}
        for node in self.nodes:  # first, so that a pattern can read constants defined after its first node
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.claimed.add(id(node))
                try:
                    self.constants[node.output[0]] = constant_node_value(node)
                except Unsupported as exc:
                    self.errors.append(NodeError(node, exc.message, exc.hint))

    # -- reading values -----------------------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        """The data-path value ``name``; a constant or a node nobody could read is Unsupported."""
        if name in self.values:
            return self.values[name]
        if name in self.deferred:
            node = self.deferred[name]
            raise Unsupported(f"{_what(node)} with a constant operand is not part of any archspec op", node=node)
        if name in self.constants:
            raise Unsupported(f"input '{name}' is a constant where archspec expects a tensor of the data path",
                              hint=None)
        raise Unsupported(f"input '{name}' is not computed by any node before it", hint=None)

    def constant(self, name: str) -> np.ndarray | None:
        """The value of a constant input (an initializer, a ``Constant``, a folded computation), else None.

        A shape computation that the file places after the node asking (TorchScript writes the target of a
        view's second ``Reshape`` after its first) is folded now, if it reads only constants and the shapes of
        values already read.
        """
        if not name:
            return None
        if name not in self.constants and name not in self.values:
            self._fold_ahead(name, 8)
        return self.constants.get(name)

    def _fold_ahead(self, name: str, depth: int) -> None:
        node = self.producer.get(name)
        if node is None or depth <= 0 or name in self.unfoldable or id(node) in self.claimed \
                or node.domain not in ("", "ai.onnx") or node.op_type in GROWS_BY_VALUE:
            return
        present = [value for value in node.input if value]
        if node.op_type == "Shape":
            if present[0] in self.values:
                self._fold_shape(node)
                self.claimed.add(id(node))
            return
        for value in present:
            if value not in self.constants and value not in self.values:
                self._fold_ahead(value, depth - 1)
        if not all(value in self.constants for value in present):
            self.unfoldable.add(name)
            return
        try:
            self._fold(node)
        except Unsupported:
            self.unfoldable.add(name)
            return
        self.claimed.add(id(node))

    def is_initializer(self, name: str) -> bool:
        return name in self.initializers

    def only_consumer(self, value: str) -> onnx.NodeProto | None:
        """The one node that reads ``value`` (None if several, none, or it is a model output)."""
        readers = self.consumers.get(value, [])
        if len(readers) != 1 or value in self.graph_outputs:
            return None
        return readers[0]

    # -- producing layers ---------------------------------------------------------------------
    def claim(self, *nodes: onnx.NodeProto) -> None:
        """Mark nodes after the current one as read by it: the walk skips them."""
        for node in nodes:
            self.claimed.add(id(node))
            for name in node.output:
                self.deferred.pop(name, None)

    def alias(self, output: str, value: str) -> None:
        """``output`` is ``value`` (Identity, Dropout, a reshape to the same shape)."""
        self.values[output] = self.tensor(value)

    def emit(self, node: onnx.NodeProto, op: str, params: Mapping[str, Any], inputs: Sequence[str], output: str,
             state: Mapping[str, np.ndarray] | None = None) -> Tensor:
        """Add the layer ``op`` (params as a spec writes them) reading ``inputs``; ``output`` now names it.

        ``node`` gives the layer its scope.  The op's shape rule gives the shape; a parameter it
        refuses is Unsupported.
        """
        sources = [self.tensor(name) for name in inputs]
        definition = get_op(op)
        assert definition is not None, op
        try:
            parsed = definition.Params(**params)
            shape = definition.output_shape(parsed, [source.shape for source in sources])
        except (ValidationError, ShapeError) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise Unsupported(f"as archspec's {op} it does not fit: {detail}") from None
        found = self.scope_of(node)
        scope, scope_types, name = found if found is not None else ((), (), "")
        if found is None:
            self.unplaced.add(f"n{len(self.layers)}")
        layer = FlatLayer(id=f"n{len(self.layers)}", op=op, params=dict(params),
                          inputs=tuple(source.layer for source in sources), scope=scope, scope_types=scope_types,
                          name=name, state=dict(state or {}))
        self.layers.append(layer)
        tensor = Tensor(layer.id, shape)
        self.values[output] = tensor
        return tensor

    # -- the walk -------------------------------------------------------------------------------
    def read(self, read_node: Callable[[GraphReader, onnx.NodeProto], None]) -> None:
        """Visit every node once: fold it, or make it layers (``read_node``, which raises Unsupported to say why
        it cannot), and record every node that cannot be read."""
        for node in self.nodes:
            if id(node) in self.claimed:
                continue
            if any(name in self.failed for name in node.input):
                self.failed.update(node.output)
                continue
            try:
                self._read_node(node, read_node)
            except Unsupported as exc:
                culprit = exc.node or node
                self.errors.append(NodeError(culprit, exc.message, exc.hint))
                self.failed.update(node.output)
                self.failed.update(culprit.output)
        reported = {id(error.node) for error in self.errors}
        for node in {id(node): node for node in self.deferred.values()}.values():
            used = any(name in self.consumers or name in self.graph_outputs for name in node.output)
            if used and id(node) not in reported:
                self.errors.append(NodeError(node, f"{_what(node)} with a constant operand is not part of any "
                                                   "archspec op", CUSTOM_OP_HINT))

    def _read_node(self, node: onnx.NodeProto, read_node: Callable[[GraphReader, onnx.NodeProto], None]) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"op type '{node.domain}.{node.op_type}' is outside the standard ONNX domain")
        present = [name for name in node.input if name]
        if node.op_type == "Shape" and present[0] in self.values:
            self._fold_shape(node)
            return
        batch_sized = node.op_type in GROWS_BY_VALUE and any(name in self.batch_of for name in present)
        if all(name in self.constants for name in present) and not batch_sized:
            self._fold(node)
            if node.op_type == "Identity" and present[0] in self.initializers:
                self.initializers.add(node.output[0])
            return
        if node.op_type in DEFERRABLE and any(name in self.constants for name in present) \
                and not (node.op_type in ("Add", "Mul") and any(
                    self.is_initializer(name) and self.constants[name].ndim > 1 for name in present)):
            self.deferred.update((name, node) for name in node.output)
            return
        try:
            read_node(self, node)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise Unsupported(f"a malformed {node.op_type} node ({type(exc).__name__}: {exc})", hint=None) from None

    def _fold_shape(self, node: onnx.NodeProto) -> None:
        shape = np.array([BATCH, *self.values[node.input[0]].shape], dtype=np.int64)
        attributes = attributes_of(node)
        self.constants[node.output[0]] = shape[attributes.get("start", 0):attributes.get("end", len(shape))]
        self.batch_of[node.output[0]] = node.input[0]

    def _fold(self, node: onnx.NodeProto) -> None:
        from onnx.reference import ReferenceEvaluator

        feeds = {name: self.constants[name] for name in node.input if name}
        try:
            results = ReferenceEvaluator(node).run(None, feeds)
        except Exception as exc:  # any failure of the reference kernels is the file's
            raise Unsupported(f"its constant inputs could not be folded ({type(exc).__name__}: {exc})",
                              hint=None) from None
        for name, value in zip(node.output, results, strict=False):
            self.constants[name] = np.asarray(value)
        source = next((self.batch_of[name] for name in node.input if name in self.batch_of), None)
        if source is not None and node.op_type != "Shape":  # a constant's rank does not follow the batch
            self.batch_of.update((name, source) for name in node.output)


def place_by_consumers(layers: Sequence[FlatLayer], unplaced: set[str]) -> list[FlatLayer]:
    """Layers whose node recorded no scope (dynamo's ``Split``) moved into the deepest scope that all
    layers reading them share, so they stay inside the module call that uses them."""
    from dataclasses import replace

    readers: dict[str, list[FlatLayer]] = {}
    for layer in layers:
        for source in layer.inputs:
            readers.setdefault(source, []).append(layer)
    placed = {layer.id: layer for layer in layers}
    for layer in reversed(layers):
        users = [placed[user.id] for user in readers.get(layer.id, [])]
        if layer.id not in unplaced or not users:
            continue
        scopes = [user.scope[:-1] if user.name and user.scope[-1:] == (user.name,) else user.scope for user in users]
        depth = 0
        while all(len(scope) > depth and scope[depth] == scopes[0][depth] for scope in scopes):
            depth += 1
        types = users[0].scope_types[:depth] if len(users[0].scope_types) >= depth else ()
        placed[layer.id] = replace(layer, scope=scopes[0][:depth], scope_types=types, name="")
    return [placed[layer.id] for layer in layers]


GROWS_BY_VALUE = frozenset({"Expand", "Tile", "ConstantOfShape", "Range"})
"""Ops whose output size is an input's value: never folded with a batch-sized value (an op reads them)."""

DEFERRABLE = frozenset({"Mul", "Div", "Add", "Sub"})
"""Element-wise ops that, with one constant operand, are only read as part of another op's pattern
(GELU's ``x * 0.5``): they wait for an op's pattern to absorb them and are an error only if none does.
An ``Add`` or ``Mul`` of a stored tensor of more than one axis (ViT's ``x + self.pos_embedding``, ConvNeXt's
``self.layer_scale * x``) is offered at once."""


def attributes_of(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as Python values (tensors as arrays)."""
    values = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        values[attribute.name] = value
    return values


def constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    """The value a ``Constant`` node holds."""
    attributes = attributes_of(node)
    if "value" in attributes:
        return np.asarray(attributes["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attributes:
            return np.asarray(attributes[key], dtype=dtype)
    raise Unsupported("a Constant node of a kind archspec does not read (sparse or string)", hint=None)


def _what(node: onnx.NodeProto) -> str:
    return f"{node.op_type}"
