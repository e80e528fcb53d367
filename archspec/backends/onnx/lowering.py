"""Lowering the graph IR to an ONNX graph, one layer at a time, through each op's ``to_onnx``.

:class:`LayerContext` implements :class:`archspec.ops.OnnxContext`, everything an op's
``to_onnx(params, context)`` sees: the layer (its name, input and output value names, static
shapes, the opset), and three ways to add to the model: ``weight`` (a tensor of the module, by
parameter name), ``constant`` (a value the lowering computes) and ``add_node``.
Built-in ops and a user's own ops lower themselves through exactly this API, so a plugin op
exports like ``conv2d`` does::

    def to_onnx(self, params, context):
        pooled = context.add_node("GlobalAveragePool", context.inputs)
        gate = context.add_node("Sigmoid", [pooled])
        context.add_node("Mul", [context.inputs[0], gate], output=context.output)

Names follow the spec: the node that produces a layer's output is named after the layer
(``layer1.0.conv1``), helper nodes ``layer1.0.conv1/Mul``; a layer's output value carries the
layer's name, weights keep their ``state_dict`` names (``layer1.0.conv1.weight``).  The model's
input is ``input``, its output ``output``, and the batch dimension is the symbol ``batch``.

Every value a layer produces is declared with the shape archspec inferred, and the finished
model goes through ONNX's checker with full shape inference (weights stand in as typed inputs,
so the check reads no weight data).  A lowering that disagrees with archspec's shapes, or an op
that ONNX cannot express, is reported as a located error on the layer, before any file exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from archspec.errors import Diagnostic, DiagnosticCollector, SpecError, UsageError
from archspec.graph.ir import INPUT, Graph, Node
from archspec.ops.base import Shape
from archspec.ops.context import OnnxContext as OnnxContext  # the protocol; plugins once imported it from here

DEFAULT_OPSET = 18
"""The opset archspec writes unless asked otherwise: every built-in op in one node each but GELU,
and read by the runtimes of the last years (onnxruntime 1.14+, TensorRT 8.6+, OpenVINO 2023+)."""
MIN_OPSET = 11
"""The oldest opset archspec writes (``Gemm`` without a bias needs 11); some ops need newer ones."""

OUTPUT = "output"
"""The name of the model's output value."""
BATCH = "batch"
"""The symbolic name of the batch dimension."""

AttributeValue = int | float | str | Sequence[int] | Sequence[float] | TensorProto
"""What an ONNX attribute may be given as in :meth:`LayerContext.add_node`."""


def newest_opset() -> int:
    """The newest opset the installed ``onnx`` package knows."""
    return int(onnx.defs.onnx_opset_version())


def resolve_opset(opset: int | None) -> int:
    """The opset to write: ``None`` means :data:`DEFAULT_OPSET`; others are checked against the range."""
    if opset is None:
        return DEFAULT_OPSET
    if not MIN_OPSET <= opset <= newest_opset():
        raise UsageError(f"--opset {opset}: archspec writes ONNX opsets {MIN_OPSET} to {newest_opset()} "
                         f"(default {DEFAULT_OPSET})")
    return opset


@dataclass(frozen=True)
class LoweredModel:
    """An ONNX model whose weights are still the module's arrays, not yet serialized.

    ``model`` has every node, input, output and value shape but no initializers; the writer adds
    ``initializers`` (name -> float32 array, in first-use order) inline or as external data.
    """

    model: onnx.ModelProto
    initializers: dict[str, np.ndarray]


@dataclass
class _Names:
    """Hands out unique names: a wanted name if free, else ``name_1``, ``name_2``..."""

    taken: set[str] = field(default_factory=set)

    def claim(self, wanted: str) -> str:
        name, suffix = wanted, 0
        while name in self.taken:
            suffix += 1
            name = f"{wanted}_{suffix}"
        self.taken.add(name)
        return name


class _ModelBuilder:
    """The growing ONNX graph: nodes, weights used, constants, and the names handed out so far."""

    def __init__(self, weights: Mapping[str, np.ndarray], opset: int):
        self.weights = weights
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.node_names = _Names()
        self.value_names = _Names({INPUT, OUTPUT})
        self.domains: set[str] = set()


class LayerContext:
    """One layer being lowered: the :class:`~archspec.ops.OnnxContext` that ``Op.to_onnx`` is given.

    Value names are plain strings.  The lowering must produce :attr:`output` with exactly one of
    its nodes (``add_node(..., output=context.output)``).
    """

    def __init__(self, node: Node, inputs: Sequence[str], input_shapes: Sequence[Shape], output: str,
                 builder: _ModelBuilder):
        self.node = node
        """The IR node: its name, op, params, location, label, shapes."""
        self.inputs: tuple[str, ...] = tuple(inputs)
        """The names of the values this layer reads, in the order of ``node.inputs``."""
        self.input_shapes: tuple[Shape, ...] = tuple(input_shapes)
        """Their static shapes, without the batch dimension."""
        self.output = output
        """The name of the value this layer must produce."""
        self._builder = builder
        self._produced_output = False

    @property
    def name(self) -> str:
        """The layer's name, e.g. ``layer1.0.conv1``."""
        return self.node.name

    @property
    def output_shape(self) -> Shape:
        """The static shape of :attr:`output`, without the batch dimension."""
        return self.node.output_shape

    @property
    def opset(self) -> int:
        """The ONNX opset being written (default domain)."""
        return self._builder.opset

    def weight(self, parameter: str) -> str:
        """The value name of the module's tensor ``{layer}.{parameter}`` (e.g. ``weight``), added as an initializer;
        ``""``: the layer is itself a tensor of its scope (a ``learned`` parameter)."""
        state_key = f"{self.node.name}.{parameter}" if parameter else self.node.name
        key = state_key if parameter else f"{state_key}.value"
        if key not in self._builder.initializers:
            array = self._builder.weights.get(state_key)
            if array is None:
                raise UsageError(f"the module has no tensor '{state_key}' for layer '{self.node.name}' "
                                 f"({self.node.op}); was it built from this graph?")
            self._builder.initializers[key] = array
            self._builder.value_names.taken.add(key)
        return key

    def constant(self, label: str, value: Any) -> str:
        """A ``Constant`` node holding ``value``; its value name, ``{layer}/{label}``.

        Integers keep an integer type, everything else is float32: the rule documented on
        :meth:`archspec.ops.OnnxContext.constant`.
        """
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.float32)
        tensor = onnx.numpy_helper.from_array(array, name=f"{self.node.name}/{label}")
        return self.add_node("Constant", [], {"value": tensor}, label=label)

    def add_node(self, op_type: str, inputs: Sequence[str | None], attributes: Mapping[str, AttributeValue] | None
                 = None, *, output: str | None = None, domain: str = "", label: str | None = None) -> str:
        """Add one ONNX node reading ``inputs`` (``None`` or ``""`` for an omitted optional input).

        Returns the name of its output: ``output`` if given (pass :attr:`output` for the node that
        produces the layer's result), otherwise a fresh ``{layer}/{label or op_type}``.  The node that
        produces :attr:`output` is named after the layer; others ``{layer}/{label or op_type}``.
        """
        builder = self._builder
        stem = f"{self.node.name}/{label or op_type}"
        final = output == self.output
        if output is None:
            output = builder.value_names.claim(stem)
            node_name = builder.node_names.claim(stem)
        elif final:
            if self._produced_output:
                raise self.error("its to_onnx produces the layer's output twice",
                                 hint="pass output=context.output to the last node only")
            self._produced_output = True
            node_name = builder.node_names.claim(self.node.name)
        else:
            raise self.error(f"its to_onnx names an output '{output}'",
                             hint="leave output unset for intermediate values; the layer's is context.output")
        attrs: dict[str, Any] = dict(attributes or {})
        proto = helper.make_node(op_type, [name or "" for name in inputs], [output], name=node_name,
                                 domain=domain or None, **attrs)
        if final:
            proto.doc_string = _describe_layer(self.node)
        builder.nodes.append(proto)
        if domain:
            builder.domains.add(domain)
        return output

    def require_opset(self, version: int, feature: str) -> None:
        """Fail with a located error unless the opset being written is at least ``version``."""
        if self.opset < version:
            raise self.error(f"{feature} needs ONNX opset {version} or newer, but opset {self.opset} was asked for",
                             hint=f"export with --opset {max(version, DEFAULT_OPSET)}")

    def error(self, message: str, hint: str | None = None) -> SpecError:
        """A located error about this layer, for a lowering to raise: ``raise context.error(...)``."""
        return SpecError(layer_diagnostic(self.node, message, hint))

    @property
    def produced_output(self) -> bool:
        return self._produced_output


def layer_diagnostic(node: Node, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(f"cannot export layer '{node.name}' ({node.op}) to ONNX: {message}", node.location, hint)


def _describe_layer(node: Node) -> str:
    where = f" ({node.location})" if node.location else ""
    return f"{node.label or node.op}{where}"


def lower_graph(graph: Graph, weights: Mapping[str, np.ndarray], *, opset: int | None = None) -> LoweredModel:
    """The ONNX model of ``graph``, reading weights by their ``state_dict`` names.

    Raises SpecError listing every layer that cannot be exported (an op without an ONNX lowering,
    a parameter ONNX cannot express, an opset too old), each located in the spec.
    """
    version = resolve_opset(opset)
    builder = _ModelBuilder(weights, version)
    values: dict[str, str] = {INPUT: INPUT}
    value_infos: list[onnx.ValueInfoProto] = []
    problems = DiagnosticCollector()
    outputs = _output_names(graph, builder)
    needed = graph.feeding(graph.inference_outputs) if graph.several_outputs else None
    for node in graph.layers:
        if needed is not None and node.name not in needed:
            continue
        output = outputs.get(node.name) or builder.value_names.claim(node.name)
        values[node.name] = output
        context = LayerContext(node, [values[name] for name in node.inputs],
                               [graph.node(name).output_shape for name in node.inputs], output, builder)
        try:
            _lower_node(node, context)
        except SpecError as exc:
            problems.extend(exc)
            continue
        if node.name not in outputs:
            value_infos.append(_value_info(output, node.output_shape))
    problems.raise_if_any()
    model = _assemble(graph, builder, value_infos, outputs)
    check_lowered(model, builder.initializers, graph)
    return LoweredModel(model, builder.initializers)


def _output_names(graph: Graph, builder: _ModelBuilder) -> dict[str, str]:
    """Node -> the name of the ONNX graph output it is: ``output`` for a lone one, else the spec's names.

    An exported model is for inference: training-only outputs are left out, as an eval-mode module leaves them.
    """
    inference = graph.inference_outputs
    if len(inference) == 1:
        return {inference[0].node: OUTPUT}
    return {output.node: builder.value_names.claim(output.name) for output in inference}



def _lower_node(node: Node, context: LayerContext) -> None:
    op = node.definition
    if not op.supports_onnx:
        raise context.error(f"op '{node.op}' has no ONNX lowering",
                            hint=f"define {type(op).__name__}.to_onnx(params, context) to add one")
    op.to_onnx(node.params, context)
    if not context.produced_output:
        raise context.error(f"the to_onnx of op '{node.op}' did not produce the layer's output",
                            hint="give the last node add_node(..., output=context.output)")


def _value_info(name: str, shape: Shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH, *shape])


def _assemble(graph: Graph, builder: _ModelBuilder, value_infos: list[onnx.ValueInfoProto],
              outputs: dict[str, str]) -> onnx.ModelProto:
    onnx_graph = helper.make_graph(
        builder.nodes, graph.name,
        inputs=[_value_info(INPUT, graph.input_shape)],
        outputs=[_value_info(name, graph.node(node).output_shape) for node, name in outputs.items()],
        value_info=value_infos,
    )
    onnx_graph.doc_string = graph.description
    opsets = [helper.make_opsetid("", builder.opset)] + [helper.make_opsetid(domain, 1)
                                                           for domain in sorted(builder.domains)]
    from archspec.version import __version__

    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="archspec",
                              producer_version=__version__, doc_string=graph.description,
                              ir_version=helper.find_min_ir_version_for(opsets, ignore_unknown=True))
    helper.set_model_props(model, {"archspec.spec": graph.name, "archspec.version": __version__})
    return model


_NODE_NAME = re.compile(r"node name: ([^\s)]+)|Name: (\S+)")


def check_lowered(model: onnx.ModelProto, initializers: Mapping[str, np.ndarray], graph: Graph) -> None:
    """Run ONNX's checker with full shape inference on the model, weights standing in as typed inputs.

    A failure is a lowering bug (a plugin's, or archspec's): it is reported on the layer whose
    node the checker names.
    """
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.input.extend(
        helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)
        for name, array in initializers.items()
    )
    try:
        onnx.checker.check_model(probe, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        message = str(exc).strip()
        match = _NODE_NAME.search(message)
        layer = (match.group(1) or match.group(2)).split("/")[0] if match else None
        node = graph.by_name.get(layer) if layer else None
        first_line = message.splitlines()[0] if message else type(exc).__name__
        if node is None:
            raise SpecError(Diagnostic(f"the exported ONNX model is invalid: {first_line}")) from None
        raise SpecError(layer_diagnostic(node, f"its ONNX lowering is invalid: {first_line}")) from None
