"""The walk over a spec's bodies: each entry goes to the module of its construct.

Layers run in sequence; ``inputs:`` names earlier layers of the same scope.  Shapes are inferred
node by node, since ``auto`` shortcuts depend on them.  Every error is collected with its
location; a node whose input failed is skipped rather than reported twice.
"""

from __future__ import annotations

from typing import Any

from archspec.errors import DiagnosticCollector, SourceLocation, SpecError, did_you_mean
from archspec.graph.ir import INPUT, Graph, Node, Scope
from archspec.graph.lower.blocks import lower_block_call
from archspec.graph.lower.names import declared_names, resolve
from archspec.graph.lower.nodes import lower_op
from archspec.graph.lower.repeats import lower_repeat
from archspec.graph.lower.residuals import lower_residual
from archspec.graph.lower.state import MAX_NODES, Context, Ref, ScopeState
from archspec.ops.base import Shape
from archspec.ops.registry import get_op, registered_ops
from archspec.spec.expressions import ExpressionError, evaluate
from archspec.spec.loader import Spec, entry_key, with_extends_notes
from archspec.spec.located_yaml import LocatedMapping, LocatedSequence, describe
from archspec.spec.model import InitScheme


class Lowering:
    """One lowering of one spec: the nodes and scopes made so far, and the errors found."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.data = spec.data
        self.blocks: dict[str, LocatedMapping] = dict(self.data.get("blocks") or {})
        self.ops = registered_ops()
        self.nodes: list[Node] = []
        self.shapes: dict[str, Shape] = {}
        self.scopes: list[Scope] = []
        self.scope_names: dict[str, dict[str, Ref]] = {}
        self.errors = DiagnosticCollector()

    def run(self) -> Graph:
        """The graph, or SpecError with every problem found."""
        try:
            return self._run()
        except SpecError as error:
            raise SpecError(with_extends_notes(error.diagnostics, self.spec.files)) from None

    def _run(self) -> Graph:
        shape = tuple(self.spec.input_shape)
        self.add_node(Node(INPUT, INPUT, None, (), shape, label="input", location=self.data.value_locations["input"]))
        layers: LocatedSequence = self.data["layers"]
        top = ScopeState("", INPUT, declared_names(layers))
        self.scope_names[""] = top.names
        spec_defaults = self.data.get("defaults")
        context = Context(dict(self.spec.variables), (spec_defaults,) if spec_defaults else ())
        last = self.lower_body(layers, top, INPUT, context, self.data.value_locations["layers"])
        output = last
        if self.data.get("output") is not None:
            output = resolve(self, self.data["output"], top, self.data.value_locations["output"], None)
        self.errors.raise_if_any()
        if len(self.nodes) == 1:
            raise SpecError.at("spec has no layers", self.data.value_locations["layers"])
        assert output is not None
        return Graph(
            name=self.spec.name,
            input_shape=shape,
            nodes=tuple(self.nodes),
            output=output,
            scopes=tuple(self.scopes),
            description=self.spec.description,
            source=self.spec.path,
            init={kind: InitScheme.model_validate(dict(scheme))
                  for kind, scheme in (self.data.get("init") or {}).items() if scheme is not None},
        )

    def add_node(self, node: Node) -> str:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError.at(f"the network expands to more than {MAX_NODES:,} layers", node.location,
                               hint="check the repeat counts")
        self.nodes.append(node)
        self.shapes[node.name] = node.output_shape
        return node.name

    def lower_body(self, body: Any, scope: ScopeState, current: str | None, context: Context,
                   location: SourceLocation | None = None) -> str | None:
        """Lower a list of entries, or a single entry (``body: relu``, located at ``location``)."""
        entries = list(zip(body, body.item_locations, strict=True)) if isinstance(body, LocatedSequence) else [
            (body, getattr(body, "location", location))]
        for entry, entry_location in entries:
            current = self._lower_entry(entry, entry_location, scope, current, context)
        return current

    def _lower_entry(self, entry: Any, location: SourceLocation | None, scope: ScopeState,
                     current: str | None, context: Context) -> str | None:
        key = entry_key(entry)
        if key is None:
            if isinstance(entry, dict):
                self.errors.error("layer entry has no layer kind", location,
                                  "write the kind as the key, e.g. {conv2d: 64, name: conv1}")
            else:
                self.errors.error(f"a layer entry must be a layer kind or a mapping, got {describe(entry)}", location)
            return None
        if isinstance(entry, LocatedMapping):
            location = entry.key_locations.get(key, location)
        written_key = key
        if key.startswith("$"):
            key = self.block_reference(key, context, location)
            if key is None:
                return None
        explicit_name = entry.get("name") if isinstance(entry, dict) else None
        inputs = self._entry_inputs(entry, scope, current, explicit_name, key, written_key)
        if key == "repeat":
            return lower_repeat(self, entry, location, scope, inputs, context)
        if key == "residual":
            return lower_residual(self, entry, location, scope, inputs, context)
        if key in self.ops:
            return lower_op(self, entry, key, location, scope, inputs, context, written_key)
        if key in self.blocks:
            return lower_block_call(self, entry, key, location, scope, inputs, context, written_key=written_key)
        self.errors.error(f"unknown layer kind '{key}'", location, did_you_mean(key, [*self.ops, *self.blocks]))
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

    def _entry_inputs(self, entry: Any, scope: ScopeState, current: str | None, name: str | None, kind: str,
                      written_key: str) -> list[str | None]:
        refs: Any = None
        ref_locations: list[SourceLocation | None] = []
        if isinstance(entry, LocatedMapping):
            if entry.get("inputs") is not None:
                refs = entry["inputs"]
                where = entry.value_locations["inputs"]
                if isinstance(refs, LocatedSequence):
                    ref_locations = list(refs.item_locations)
                else:
                    refs, ref_locations = [refs], [where]
            op = get_op(kind)
            value = entry.get(written_key)
            if refs is None and op is not None and op.shorthand == "inputs" and isinstance(value, LocatedSequence):
                refs = value
                ref_locations = list(value.item_locations)
        if refs is None:
            return [current]
        return [resolve(self, ref, scope, loc, name) for ref, loc in zip(refs, ref_locations, strict=True)]
