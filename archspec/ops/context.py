"""What an op's ``to_onnx`` sees: the :class:`OnnxContext` protocol.

It lives beside :class:`~archspec.ops.base.TorchLayer` because it is part of what an op is: the
ONNX backend (:mod:`archspec.backends.onnx.lowering`) implements it, and ops, built-in or a
plugin's, type against it without importing the backend (or onnx).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from archspec.errors import SpecError
from archspec.ops.base import Shape


class OnnxContext(Protocol):
    """One layer being lowered to ONNX: what ``Op.to_onnx(params, context)`` reads and how it adds nodes.

    Value names are plain strings.  The lowering must produce :attr:`output` with exactly one of
    its nodes (``add_node(..., output=context.output)``).
    """

    @property
    def name(self) -> str:
        """The layer's name, e.g. ``layer1.0.conv1``."""
        ...

    @property
    def inputs(self) -> tuple[str, ...]:
        """The names of the values this layer reads, in the order of the layer's inputs."""
        ...

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """Their static shapes, without the batch dimension."""
        ...

    @property
    def output(self) -> str:
        """The name of the value this layer must produce."""
        ...

    @property
    def output_shape(self) -> Shape:
        """The static shape of :attr:`output`, without the batch dimension."""
        ...

    @property
    def opset(self) -> int:
        """The ONNX opset being written (default domain)."""
        ...

    def weight(self, parameter: str) -> str:
        """The value name of the module's tensor ``{layer}.{parameter}`` (``weight``, ``reduce.weight``),
        added to the model as an initializer."""
        ...

    def constant(self, label: str, value: Any) -> str:
        """A ``Constant`` node holding ``value``; returns its value name, ``{layer}/{label}``.

        The dtype rule: integers keep an integer type (a Python int or a list of them becomes
        int64, a numpy integer array keeps its dtype), as ``Reshape``'s shape or ``Slice``'s
        starts need; everything else (floats, booleans) is stored as float32, the model's type.
        Constants are not parameters.
        """
        ...

    def add_node(self, op_type: str, inputs: Sequence[str | None], attributes: Mapping[str, Any] | None = None,
                 *, output: str | None = None, domain: str = "", label: str | None = None) -> str:
        """Add one ONNX node reading ``inputs`` (``None`` or ``""`` for an omitted optional input).

        ``attributes`` are ONNX attribute values: ints, floats, strings, lists of them, or tensors.
        Returns the name of its output: ``output`` if given (pass :attr:`output` for the node that
        produces the layer's result), otherwise a fresh ``{layer}/{label or op_type}``.
        """
        ...

    def require_opset(self, version: int, feature: str) -> None:
        """Fail with a located error unless the opset being written is at least ``version``."""
        ...

    def error(self, message: str, hint: str | None = None) -> SpecError:
        """A located error about this layer, for a lowering to raise: ``raise context.error(...)``."""
        ...


class OnnxNode(Protocol):
    """One node of an ONNX file being imported (``archspec import model.onnx``), offered to ``Op.from_onnx``.

    The importer implements it; an op reads the node, may look at the nodes after it (a pattern of
    several nodes that its ``to_onnx`` writes) and :meth:`absorb` them into its layer.
    """

    @property
    def op_type(self) -> str:
        """The ONNX op type, e.g. ``Relu``."""
        ...

    @property
    def inputs(self) -> tuple[str, ...]:
        """The node's input value names (data path and constants alike)."""
        ...

    @property
    def outputs(self) -> tuple[str, ...]:
        ...

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The node's attributes as Python values (tensors as numpy arrays)."""
        ...

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """The shapes (without the batch) of the inputs that are on the data path, in order."""
        ...

    @property
    def opset(self) -> int:
        ...

    def constant(self, value: str) -> Any:
        """The numpy value of a constant input (initializer, Constant, folded), else None."""
        ...

    @property
    def layer(self) -> str:
        """The layer the node belongs to by its name, as archspec's exporter names a layer's nodes
        (``{layer}/{label}``, the one producing the layer's output plainly ``{layer}``); else its name."""
        ...

    def layer_nodes(self) -> Sequence[OnnxNode]:
        """The nodes of :attr:`layer` in the file's order, this one among them (constants and folded ones too):
        what a multi-node ``to_onnx`` wrote, for its ``from_onnx`` to check and :meth:`absorb`."""
        ...

    def layer_weights(self) -> Mapping[str, Any]:
        """The initializers those nodes read that archspec's exporter named ``{layer}.{key}``, by ``key``
        (``in_proj_weight``, ``out_proj.bias``): the layer's state_dict as written."""
        ...

    def consumer(self) -> OnnxNode | None:
        """The one node that reads this node's first output (None if several, none, or a model output)."""
        ...

    def absorb(self, *nodes: OnnxNode) -> None:
        """Make ``nodes`` (later ones of a pattern) part of this layer: its output is then the last one's."""
        ...

    def weight(self, key: str, value: Any) -> None:
        """Give the layer a tensor under its ``state_dict`` key in the built module (``weight``, ``bias``)."""
        ...


def layer_state(node: OnnxNode, pattern: str | None, keys: Sequence[str], optional: Collection[str] = (),
                buffers: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
    """For the first data-path node of a layer that archspec exported: if the layer's nodes follow ``pattern``
    (a regular expression over their op types, each followed by a space; None: any) and read the weights
    ``keys`` (in the module's ``state_dict`` order; those in ``optional`` may be absent), absorb them into
    the layer, give it the weights in that order, with the ``buffers`` the op computes among them (keys too),
    and return the weights; else None.
    """
    weights = node.layer_weights()
    buffers = buffers or {}
    if not set(keys) - set(optional) - set(buffers) <= set(weights) <= set(keys) - set(buffers):
        return None
    views = [view for view in node.layer_nodes()
             if any(name and node.constant(name) is None for name in view.inputs)]
    if not views or views[0].outputs != node.outputs:
        return None
    if pattern is not None and not re.fullmatch(pattern, "".join(f"{view.op_type} " for view in views)):
        return None
    node.absorb(*views[1:])
    for key in keys:
        if key in weights or key in buffers:
            node.weight(key, weights[key] if key in weights else buffers[key])
    return weights
