"""The walk over a spec's bodies: each entry goes to the module of its construct.

Layers run in sequence; ``inputs:`` names earlier layers of the same scope.  Shapes are inferred
node by node, since ``auto`` shortcuts depend on them.  Every error is collected with its
location; a node whose input failed is skipped rather than reported twice.
"""

from __future__ import annotations

import keyword

from archspec.errors import DiagnosticCollector, SourceLocation, SpecError, did_you_mean
from archspec.graph.ir import INPUT, Graph, GraphOutput, Node, Scope
from archspec.graph.lower.blocks import check_register_first, lower_block_call
from archspec.graph.lower.names import declared_names, define, resolve
from archspec.graph.lower.nodes import lower_op
from archspec.graph.lower.repeats import lower_repeat
from archspec.graph.lower.residuals import lower_residual
from archspec.graph.lower.state import MAX_NODES, Context, Ref, ScopeState
from archspec.ops.base import Shape, default_layout
from archspec.ops.registry import registered_ops
from archspec.spec.expressions import ExpressionError, evaluate
from archspec.spec.loader import Spec, with_extends_notes
from archspec.spec.located_yaml import describe
from archspec.spec.model import InitScheme
from archspec.spec.tree import (
    BlockDefinition,
    Body,
    CallEntry,
    Entry,
    InvalidEntry,
    OpEntry,
    RepeatEntry,
    ResidualEntry,
    references_in,
)


class Lowering:
    """One lowering of one spec: the nodes and scopes made so far, and the errors found."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.tree = spec.tree
        self.blocks: dict[str, BlockDefinition] = dict(self.tree.blocks)
        self.ops = registered_ops()
        self.nodes: list[Node] = []
        self.shapes: dict[str, Shape] = {}
        self.layouts: dict[str, str] = {}
        self.scopes: list[Scope] = []
        self.scope_names: dict[str, dict[str, Ref]] = {}
        self.errors = DiagnosticCollector()
        self._child_scope_names: dict[str, set[str]] = {}
        self._scopes_indexed = 0

    def child_scope_names(self, path: str) -> set[str]:
        """The local names of the scopes made so far directly inside ``path`` (indexed as scopes are added,
        so asking at every residual stays linear in the network)."""
        for scope in self.scopes[self._scopes_indexed:]:
            self._child_scope_names.setdefault(scope.parent, set()).add(scope.local_name)
        self._scopes_indexed = len(self.scopes)
        return self._child_scope_names.get(path, set())

    def run(self) -> Graph:
        """The graph, or SpecError with every problem found."""
        try:
            return self._run()
        except SpecError as error:
            raise SpecError(with_extends_notes(error.diagnostics, self.spec.files)) from None

    def _run(self) -> Graph:
        shape = tuple(self.spec.input_shape)
        self.add_node(Node(INPUT, INPUT, None, (), shape, label="input", location=self.tree.input_location,
                           layout=default_layout(len(shape))))
        for block in self.blocks.values():
            check_register_first(self, block)
        layers = self.tree.layers
        top = ScopeState("", INPUT, declared_names(layers))
        self.scope_names[""] = top.names
        context = Context(dict(self.spec.variables), (self.tree.defaults,) if self.tree.defaults else ())
        output = self.lower_body(layers, top, INPUT, context)
        if self.tree.output is not None:
            output = resolve(self, self.tree.output.name, top, self.tree.output.location, None)
        outputs = self._outputs(top)
        if outputs:
            output = outputs[0].node
        self.errors.raise_if_any()
        if self.tree.faulty and (len(self.nodes) == 1 or output is None):
            raise SpecError([])  # what is missing was left out for the schema's errors, which say why
        if len(self.nodes) == 1:
            raise SpecError.at("spec has no layers", layers.location)
        assert output is not None
        return Graph(
            name=self.spec.name,
            input_shape=shape,
            nodes=tuple(self.nodes),
            output=output,
            scopes=tuple(self.scopes),
            description=self.spec.description,
            source=self.spec.path,
            init={kind: InitScheme.model_validate(dict(scheme)) for kind, scheme in self.tree.init.items()},
            outputs=outputs,
        )

    def _outputs(self, top: ScopeState) -> tuple[GraphOutput, ...]:
        """The network's outputs under ``outputs:``, each resolved; () without it (the main output alone)."""
        if not self.tree.outputs:
            return ()
        if self.tree.output is not None:
            self.errors.error("'output' and 'outputs' are both given", self.tree.outputs_location,
                              "name the main output first under 'outputs:' and remove 'output:'")
        found: list[GraphOutput] = []
        taken: dict[str, str] = {}
        for position, entry in enumerate(self.tree.outputs):
            if keyword.iskeyword(entry.name):
                self.errors.error(f"output name '{entry.name}' is a Python keyword", entry.name_location,
                                  "outputs are fields of the module's named tuple: choose another name")
            if position == 0 and entry.training_only:
                self.errors.error(f"the main output '{entry.name}' cannot be training-only", entry.name_location,
                                  "the first output is the main one, returned in every mode: list it first")
            node = resolve(self, entry.layer.name, top, entry.layer.location, None)
            if node is None:
                continue
            if node in taken:
                self.errors.error(f"layer '{entry.layer.name}' is already the output '{taken[node]}'",
                                  entry.layer.location, "each output names a different layer")
                continue
            taken[node] = entry.name
            found.append(GraphOutput(entry.name, node, entry.training_only))
        return tuple(found)

    def add_node(self, node: Node) -> str:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError.at(f"the network expands to more than {MAX_NODES:,} layers", node.location,
                               hint="check the repeat counts")
        self.nodes.append(node)
        self.shapes[node.name] = node.output_shape
        self.layouts[node.name] = node.layout
        return node.name

    def lower_body(self, body: Body, scope: ScopeState, current: str | None, context: Context) -> str | None:
        """Lower the entries of a body in sequence, each taking the previous one's output by default."""
        for entry in body.entries:
            current = self._lower_entry(entry, scope, current, context)
        return current

    def _lower_entry(self, entry: Entry, scope: ScopeState, current: str | None, context: Context) -> str | None:
        if isinstance(entry, InvalidEntry):
            if entry.problem is not None and not entry.faulty:
                self.errors.error(entry.problem, entry.location, entry.hint)
            return self.stand_in(entry, scope)
        if isinstance(entry, CallEntry):
            return self._lower_call(entry, scope, current, context)
        inputs = self._inputs(entry, scope, current)
        if isinstance(entry, OpEntry):
            return lower_op(self, entry, scope, inputs, context)
        if isinstance(entry, RepeatEntry):
            return lower_repeat(self, entry, scope, inputs, context)
        assert isinstance(entry, ResidualEntry)
        return lower_residual(self, entry, scope, inputs, context)

    def _lower_call(self, entry: CallEntry, scope: ScopeState, current: str | None, context: Context) -> str | None:
        """A block call, or a ``$name`` that names a block or an op."""
        target: str | None = entry.target
        if entry.target.startswith("$"):
            target = self.block_reference(entry.target, context, entry.location)
            if target is None:
                return self.stand_in(entry, scope)
        if target in self.ops:
            op_entry = OpEntry(
                kind=target, value=entry.arguments, value_location=entry.arguments_location,
                location=entry.location, name=entry.name, name_location=entry.name_location, faulty=entry.faulty,
                inputs=entry.inputs if entry.inputs is not None or self.ops[target].op.shorthand != "inputs"
                else references_in(entry.arguments) or None)
            return lower_op(self, op_entry, scope, self._inputs(op_entry, scope, current), context)
        assert target is not None
        return lower_block_call(self, entry, target, scope, self._inputs(entry, scope, current), context)

    def stand_in(self, entry: Entry, scope: ScopeState) -> str | None:
        """Nothing, for an entry that could not be lowered (and was reported); its name is defined all the same,
        so that uses of it raise no second error."""
        if entry.name is not None and entry.name not in scope.names:
            container, dot, _ = entry.name.partition(".")
            if dot and container not in scope.names:
                scope.names[container] = Ref(None, scope.qualify(container), entry.location, container=True)
            define(self, scope, entry.name, Ref(None, scope.qualify(entry.name), entry.location))
        return None

    def block_reference(self, key: str, context: Context, location: SourceLocation | None,
                        quiet: bool = False) -> str | None:
        """The block or op a ``$name`` key stands for (``quiet``: a failure is reported elsewhere)."""
        try:
            name = evaluate(key, context.env)
        except ExpressionError as exc:
            if not quiet:
                self.errors.error(str(exc), location, exc.hint)
            return None
        if not isinstance(name, str) or (name not in self.blocks and name not in self.ops):
            if quiet:
                return None
            self.errors.error(f"'{key}' must name a block or an op, got {describe(name)}", location,
                              did_you_mean(str(name), [*self.blocks, *self.ops]))
            return None
        return name

    def _inputs(self, entry: Entry, scope: ScopeState, current: str | None) -> list[str | None]:
        """The nodes an entry takes: its ``inputs`` resolved, else the previous layer's output."""
        if entry.inputs is None:
            return [current]
        return [resolve(self, ref.name, scope, ref.location, entry.name) for ref in entry.inputs]
