"""The graph IR: named nodes in a topological order, explicit edges, a tree of scopes.

Everything a backend needs is here, already computed: every node's output shape, parameter
count and MACs, its label and where in the spec it was written.  Backends read; none
re-derives shapes.  The IR is immutable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel

from archspec.errors import SourceLocation
from archspec.ops.base import Op, Shape
from archspec.ops.registry import get_op
from archspec.spec.model import InitScheme

INPUT = "input"
"""The name of the graph's input node, and of a scope's input in ``inputs:`` references."""

ScopeKind = Literal["block", "repeat", "iteration", "shortcut", "container"]
NodeRole = Literal["", "residual", "shortcut"]


@dataclass(frozen=True)
class Node:
    """One layer: an op applied to named inputs, with everything known about it statically."""

    name: str
    """Hierarchical, dot-separated: ``layer3.5.conv2``.  The graph input is ``input``."""
    op: str
    """The op kind (``conv2d``), or ``input`` for the graph input."""
    params: BaseModel | None
    inputs: tuple[str, ...]
    output_shape: Shape
    parameters: int = 0
    macs: int = 0
    label: str = ""
    location: SourceLocation | None = None
    scope: str = ""
    """The innermost enclosing scope's path ("" at the top level)."""
    role: NodeRole = ""
    """``residual`` for the sum of a residual construct, ``shortcut`` for layers on its shortcut."""
    layout: str = ""
    """The output's axes, a letter each: ``CHW`` (an image), ``HWC`` (a channels-last image), ``LD`` (tokens),
    ``F`` (features); ``""`` where unknown (see :meth:`archspec.ops.base.Op.output_layout`)."""

    @property
    def image_shape(self) -> Shape:
        """The output shape with an image's axes in the order ``[C, H, W]`` whatever its layout (what a
        diagram draws); any other tensor's shape as it is."""
        shape = self.output_shape
        if len(shape) == 3 and sorted(self.layout) == sorted("CHW") and self.layout != "CHW":
            return tuple(shape[self.layout.index(axis)] for axis in "CHW")
        return shape

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def definition(self) -> Op:
        op = get_op(self.op)
        if op is None:
            raise KeyError(f"op '{self.op}' is not registered")
        return op


@dataclass(frozen=True)
class Scope:
    """A named group of nodes: a block call, a named repeat, one iteration, a shortcut, or a container.

    A container (``up`` for layers named ``up.0``, ``up.1``) groups layers the module registers together
    while they run where each is written, between the enclosing scope's other layers: its members need
    not be contiguous, and it has no output of its own."""

    path: str
    kind: ScopeKind
    block: str | None = None
    """The block's name, for block calls (and iterations that are block calls)."""
    count: int | None = None
    """For repeats: how many iterations."""
    index: int | None = None
    """For iterations: which one (0-based)."""
    location: SourceLocation | None = None
    arguments: tuple[tuple[str, Any], ...] = ()
    """For block calls: the evaluated arguments, in declaration order."""
    register_first: tuple[str, ...] = ()
    """For block calls: the local names of layers the module registers before the others (``register_first:``)."""

    @property
    def depth(self) -> int:
        return self.path.count(".") + 1 if self.path else 0

    @property
    def parent(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""

    @property
    def local_name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class GraphOutput:
    """One of the network's outputs: a name (what the torch module's named tuple and the ONNX model call it),
    the node whose value it is, and whether it exists only in training (an auxiliary head)."""

    name: str
    node: str
    training_only: bool = False


SINGLE_OUTPUT = "output"
"""The name of a network's only output (a spec without ``outputs:``)."""


@dataclass(frozen=True)
class Graph:
    """A whole network: its nodes in declaration (topological) order, and its scopes."""

    name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    output: str
    scopes: tuple[Scope, ...] = ()
    description: str = ""
    source: str = ""
    """The spec file it came from."""
    init: dict[str, InitScheme] = field(default_factory=dict)
    """How the torch backend initializes each op kind's parameters (the spec's ``init:``)."""
    outputs: tuple[GraphOutput, ...] = ()
    """Every output, the main one (``output``) first; left empty, the main output alone, named ``output``."""

    def __post_init__(self) -> None:
        if not self.outputs:
            object.__setattr__(self, "outputs", (GraphOutput(SINGLE_OUTPUT, self.output),))
        if self.outputs[0].node != self.output or self.outputs[0].training_only:
            raise ValueError("the first output must be the main output, and not training-only")

    @property
    def several_outputs(self) -> bool:
        """The spec names more than one output (``outputs:``): every backend then shows them all."""
        return len(self.outputs) > 1

    @property
    def inference_outputs(self) -> tuple[GraphOutput, ...]:
        """The outputs an eval-mode module returns and an exported (inference) model has."""
        return tuple(output for output in self.outputs if not output.training_only)

    @property
    def output_nodes(self) -> frozenset[str]:
        return frozenset(output.node for output in self.outputs)

    @cached_property
    def by_name(self) -> dict[str, Node]:
        return {node.name: node for node in self.nodes}

    @cached_property
    def scopes_by_path(self) -> dict[str, Scope]:
        return {scope.path: scope for scope in self.scopes}

    def node(self, name: str) -> Node:
        return self.by_name[name]

    def scope(self, path: str) -> Scope:
        return self.scopes_by_path[path]

    @property
    def layers(self) -> tuple[Node, ...]:
        """Every node but the input."""
        return self.nodes[1:]

    @property
    def output_shape(self) -> Shape:
        return self.node(self.output).output_shape

    @property
    def parameters(self) -> int:
        return sum(node.parameters for node in self.nodes)

    @property
    def macs(self) -> int:
        return sum(node.macs for node in self.nodes)

    @cached_property
    def consumers(self) -> dict[str, tuple[str, ...]]:
        """For each node, the nodes that read its output, in order."""
        readers: dict[str, list[str]] = {node.name: [] for node in self.nodes}
        for node in self.nodes:
            for source in node.inputs:
                readers[source].append(node.name)
        return {name: tuple(names) for name, names in readers.items()}

    def feeding(self, outputs: tuple[GraphOutput, ...]) -> set[str]:
        """The names of the nodes these outputs depend on, themselves included (layers of other outputs'
        heads are not among them)."""
        needed: set[str] = set()
        pending = [output.node for output in outputs]
        while pending:
            name = pending.pop()
            if name not in needed:
                needed.add(name)
                pending.extend(self.node(name).inputs)
        return needed

    def nodes_in(self, scope_path: str) -> Iterator[Node]:
        """Nodes inside a scope, at any depth."""
        prefix = scope_path + "."
        return (node for node in self.nodes if node.scope == scope_path or node.scope.startswith(prefix))

    def child_scopes(self, scope_path: str) -> list[Scope]:
        return [scope for scope in self.scopes if scope.parent == scope_path and scope.path != scope_path]

    def _repr_html_(self) -> str:
        """Jupyter shows an analysed graph as its summary table (blocks folded at depth 1)."""
        from archspec.graph.html import summary_html  # same layer; imported late only to keep ir.py small

        return summary_html(self)
