"""What an op sees of ONNX: :class:`OnnxContext` in its ``to_onnx``, :class:`OnnxNode` in its ``from_onnx``.

They live beside :class:`~archspec.ops.base.TorchLayer` because they are part of what an op is: the
ONNX backend (:mod:`archspec.backends.onnx.lowering`) implements the first, the ONNX importer
(:mod:`archspec.importers.onnx_match`) the second, and ops, built-in or a plugin's, type against them
without importing either (or onnx).
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


BATCH = 1_000_003
"""The batch size an imported file's shape computations are folded with (``Shape(x)`` gives ``[BATCH, C, H, W]``):
a prime no static size is likely to equal, so a ``from_onnx`` can tell the batch axis in a constant shape."""


class UnreadableNode(ValueError):
    """What a ``from_onnx`` raises for a node that no op could read as the file has it (a weight computed from the
    data, a batch norm in training mode, a reshape that mixes samples): reported on the node without the hint to
    write an op of one's own, which a plain ``ValueError`` gets."""


class OnnxNode(Protocol):
    """One node of an ONNX file being imported (``archspec import model.onnx``), offered to ``Op.from_onnx``.

    The importer implements it; an op reads the node, may look at the nodes around it (a pattern of
    several nodes that its ``to_onnx`` writes, or that an exporter writes for it) and :meth:`absorb` them
    into its layer.  Nothing an op does to a node counts unless the importer picks its answer.
    """

    @property
    def op_type(self) -> str:
        """The ONNX op type, e.g. ``Relu``."""
        ...

    @property
    def inputs(self) -> tuple[str, ...]:
        """The node's input value names (data path and constants alike; ``""`` for an omitted optional input)."""
        ...

    @property
    def outputs(self) -> tuple[str, ...]:
        ...

    @property
    def output_index(self) -> int:
        """Which of :attr:`outputs` the layer computes: a node whose later outputs are read (``Split``) is offered
        once for each output that is read; every other node once, for its first."""
        ...

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The node's attributes as Python values (tensors as numpy arrays)."""
        ...

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """The shapes (without the batch) of the node's inputs that are not constants, in order: the data path.
        An input that no node before it made readable is an error the importer reports on that node."""
        ...

    @property
    def opset(self) -> int:
        ...

    def constant(self, value: str) -> Any:
        """The numpy value of a constant input (initializer, Constant, folded), else None.  A value computed from
        the data's shape holds :data:`BATCH` for the batch size (see :meth:`batch_source`)."""
        ...

    def is_initializer(self, value: str) -> bool:
        """Whether ``value`` is stored in the file as an initializer (a weight), rather than a ``Constant`` node or
        a folded computation: a batch norm whose stored scale is all ones is still learned."""
        ...

    def batch_source(self, value: str) -> str | None:
        """For a constant computed from the shape of a data-path value (``Shape(x)``, ``Concat`` of its batch and
        sizes), that value's name; else None: an ``Expand`` to such a shape repeats a tensor over ``x``'s batch."""
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

    def producer(self, value: str) -> OnnxNode | None:
        """The node that computes ``value`` (None for the network input and initializers).  An element-wise node
        with a constant operand (GELU's ``x / sqrt(2)`` before its ``Erf``) is offered to no op: it waits for the
        op of the node after it to find it here and :meth:`absorb` it."""
        ...

    def readers(self, value: str) -> Sequence[OnnxNode]:
        """Every node that reads ``value``, in the file's order: the paths a pattern of many nodes spreads over."""
        ...

    def run(self, nodes: Sequence[OnnxNode], inputs: Mapping[str, Any], outputs: Sequence[str]) -> list[Any]:
        """Compute ``outputs`` of ``nodes`` (a pattern the op would absorb, in any order) on sample ``inputs``
        (numpy arrays, the batch first), reading the file's constants, with the shape computations that depend
        on the batch redone for the sample's: a pattern whose node types do not say everything (torch's
        exporters' attention) is checked against what the op computes.  Raises ValueError if it cannot run."""
        ...

    def layer_before(self, op: str, params: Mapping[str, Any], inputs: Sequence[str], output: str,
                     weights: Mapping[str, Any]) -> None:
        """Put a layer of ``op`` (``params`` as a spec writes them, reading ``inputs``, with ``weights``) before
        this node's: ``output``, a stored tensor the node reads (ViT's position embedding), is then its output,
        a tensor of the data path."""
        ...

    def absorb(self, *nodes: OnnxNode) -> None:
        """Make ``nodes`` (the others of a pattern, before or after this one) part of this layer: its output is
        then that of its node that comes last in the file.  The layer reads this node's inputs that are not
        constants, then the data-path values the other nodes read, never a value that one of its nodes computes."""
        ...

    def set_inputs(self, *values: str) -> None:
        """Make the layer read ``values``, in this order, rather than its nodes' inputs that are not constants:
        a join reads all its inputs (a constant among them is then an error, not dropped), a learned tensor the
        value whose batch it is repeated over (:meth:`batch_source`)."""
        ...

    def pass_through(self) -> Mapping[str, Any]:
        """Read the node as no layer at all: its output is its first input that is not a constant (``Identity``,
        ``Dropout`` at inference, a ``Reshape`` to the same shape).  ``return node.pass_through()``."""
        ...

    def weight(self, key: str, value: Any) -> None:
        """Give the layer a tensor under its ``state_dict`` key in the built module (``weight``, ``bias``), in the
        module's order."""
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
