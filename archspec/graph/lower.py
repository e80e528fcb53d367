"""Lower a validated spec into the graph IR, inferring every node's shape as it is created.

Expansion rules, in one place:

* Layers run in sequence; ``inputs:`` names earlier layers of the same scope (``input`` is the
  scope's input; ``a.b`` reaches into a named block or repeat).
* A block call makes a scope named by ``name:`` or automatically (``stage1``); its body sees the
  spec's variables and the block's parameters, nothing else (lexical scoping).
* A named repeat makes a scope with one child scope per iteration (``layer1.0``, ``layer1.1``); an
  unnamed repeat splices its iterations into the enclosing scope.  ``index`` is the iteration.
* A residual splices its body into the enclosing scope, then adds a shortcut from its input:
  ``auto`` is the identity where the body keeps the shape and a projection (1×1 convolution with
  the stride, then batch norm, in scope ``shortcut``) where it does not.
* Unnamed layers get ``<prefix><n>`` names, numbered per scope (``conv1``, ``conv2``, ``bn1``).

Shapes are inferred node by node, since ``auto`` shortcuts depend on them.  Every error is
collected with its location; a node whose input failed is skipped rather than reported twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from archspec.errors import Diagnostic, DiagnosticCollector, SourceLocation, SpecError, did_you_mean
from archspec.graph.ir import INPUT, Graph, Node, NodeRole, Scope, ScopeKind
from archspec.ops.base import Op, Shape, ShapeError, format_shape
from archspec.ops.registry import get_op, registered_ops
from archspec.spec.expressions import ExpressionError, contains_expression, evaluate, substitute
from archspec.spec.loader import Spec, entry_key, load_collecting, with_extends_notes
from archspec.spec.located_yaml import LocatedMapping, LocatedSequence, describe
from archspec.spec.model import InitScheme
from archspec.spec.validation import diagnostics_from_validation

MAX_NODES = 200_000
MAX_BLOCK_DEPTH = 32
MAX_REPEAT = 100_000
"""As in the language model; checked again here for counts that come from expressions."""

T = TypeVar("T")


def analyse(
    spec: Spec | str,
    *,
    input_shape: Sequence[int] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Graph:
    """The analysed graph of a spec (a loaded Spec, a path or a built-in name).

    Every node carries its output shape, parameter count and MACs.  Raises SpecError with
    every problem found, each located in the spec.
    """
    collected: list[Diagnostic] = []
    if not isinstance(spec, Spec) or input_shape is not None or variables:
        shape = tuple(input_shape) if input_shape is not None else None
        spec = load_collecting(
            spec if not isinstance(spec, Spec) else spec.path, collected,
            variables=variables if not isinstance(spec, Spec) else {**spec.variables, **(variables or {})},
            input_shape=shape)
    if not collected:
        return _Lowering(spec).run()
    try:  # the spec has schema errors: lower what can be lowered, to report the rest too
        _Lowering(spec).run()
    except SpecError as exc:
        # A line that already has a schema error gets no follow-on errors from the lowering.
        reported = {(d.location.path, d.location.line) for d in collected if d.location}
        collected.extend(d for d in exc.diagnostics
                         if d.location is None or (d.location.path, d.location.line) not in reported)
    except Exception:
        # The schema errors already say why the data cannot be walked; a crash here is hidden from
        # users (they get those errors) but not from someone debugging archspec.
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
    raise SpecError(collected)


@dataclass
class _Ref:
    node: str | None
    """The node whose output the name stands for (None if it failed to lower)."""
    scope: str | None = None
    """For blocks and named repeats: the scope path, so dotted references can reach inside."""
    location: SourceLocation | None = None


@dataclass
class _DeclaredName:
    location: SourceLocation | None
    inputs: tuple[str, ...]


@dataclass
class _ScopeState:
    path: str
    input: str | None
    declared: dict[str, _DeclaredName]
    names: dict[str, _Ref] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def qualify(self, local: str) -> str:
        return f"{self.path}.{local}" if self.path else local


@dataclass(frozen=True)
class _Context:
    env: dict[str, Any]
    defaults: tuple[LocatedMapping, ...]
    blocks_on_stack: tuple[str, ...] = ()


class _Lowering:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.data = spec.data
        self.blocks: dict[str, LocatedMapping] = dict(self.data.get("blocks") or {})
        self.ops = registered_ops()
        self.nodes: list[Node] = []
        self.shapes: dict[str, Shape] = {}
        self.scopes: list[Scope] = []
        self.scope_names: dict[str, dict[str, _Ref]] = {}
        self.errors = DiagnosticCollector()

    # -- driver -------------------------------------------------------------------------------
    def run(self) -> Graph:
        try:
            return self._run()
        except SpecError as error:
            raise SpecError(with_extends_notes(error.diagnostics, self.spec.files)) from None

    def _run(self) -> Graph:
        shape = tuple(self.spec.input_shape)
        self._add_node(Node(INPUT, INPUT, None, (), shape, label="input", location=self.data.value_locations["input"]))
        layers: LocatedSequence = self.data["layers"]
        top = _ScopeState("", INPUT, self._declared_names(layers))
        self.scope_names[""] = top.names
        spec_defaults = self.data.get("defaults")
        context = _Context(dict(self.spec.variables), (spec_defaults,) if spec_defaults else ())
        last = self._lower_body(layers, top, INPUT, context, self.data.value_locations["layers"])
        output = last
        if self.data.get("output") is not None:
            output = self._resolve(self.data["output"], top, self.data.value_locations["output"], None)
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

    def _add_node(self, node: Node) -> str:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError.at(f"the network expands to more than {MAX_NODES:,} layers", node.location,
                               hint="check the repeat counts")
        self.nodes.append(node)
        self.shapes[node.name] = node.output_shape
        return node.name

    # -- bodies and entries -------------------------------------------------------------------
    def _lower_body(self, body: Any, scope: _ScopeState, current: str | None, context: _Context,
                    location: SourceLocation | None = None) -> str | None:
        """Lower a list of entries, or a single entry (``body: relu``, located at ``location``)."""
        entries = list(zip(body, body.item_locations, strict=True)) if isinstance(body, LocatedSequence) else [
            (body, getattr(body, "location", location))]
        for entry, location in entries:
            current = self._lower_entry(entry, location, scope, current, context)
        return current

    def _lower_entry(self, entry: Any, location: SourceLocation | None, scope: _ScopeState,
                     current: str | None, context: _Context) -> str | None:
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
            key = self._block_reference(key, context, location)
            if key is None:
                return None
        explicit_name = entry.get("name") if isinstance(entry, dict) else None
        inputs = self._entry_inputs(entry, scope, current, location, explicit_name, key, written_key)
        if key == "repeat":
            return self._lower_repeat(entry, location, scope, inputs, context)
        if key == "residual":
            return self._lower_residual(entry, location, scope, inputs, context)
        if key in self.ops:
            return self._lower_op(entry, key, location, scope, inputs, context, written_key)
        if key in self.blocks:
            return self._lower_block_call(entry, key, location, scope, inputs, context, written_key=written_key)
        self.errors.error(f"unknown layer kind '{key}'", location, did_you_mean(key, [*self.ops, *self.blocks]))
        return None

    def _block_reference(self, key: str, context: _Context, location: SourceLocation | None,
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

    def _entry_inputs(self, entry: Any, scope: _ScopeState, current: str | None, location: SourceLocation | None,
                      name: str | None, kind: str, written_key: str) -> list[str | None]:
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
        return [self._resolve(ref, scope, loc, name) for ref, loc in zip(refs, ref_locations, strict=True)]

    # -- references ---------------------------------------------------------------------------
    def _resolve(self, ref: str, scope: _ScopeState, location: SourceLocation | None, user: str | None) -> str | None:
        if ref == INPUT:
            return scope.input
        head, _, rest = ref.partition(".")
        found = scope.names.get(head)
        if found is None:
            self._unknown_reference(ref, head, scope, location, user)
            return None
        node, inner_scope = found.node, found.scope
        walked = head
        while rest:
            part, _, rest = rest.partition(".")
            if inner_scope is not None and inner_scope not in self.scope_names:
                return None  # the block or repeat failed, and was reported
            names = self.scope_names.get(inner_scope or "", {}) if inner_scope else {}
            if part not in names:
                known = sorted(names)
                self.errors.error(f"'{walked}' has no layer named '{part}'", location,
                                  did_you_mean(part, known) or (f"it contains: {', '.join(known)}" if known else None))
                return None
            node, inner_scope = names[part].node, names[part].scope
            walked += "." + part
        return node

    def _unknown_reference(self, ref: str, head: str, scope: _ScopeState, location: SourceLocation | None,
                           user: str | None) -> None:
        declared = scope.declared.get(head)
        if declared is not None:
            cycle = self._cycle(head, user, scope) if user else None
            if cycle:
                self.errors.error(f"cycle between layers: {' -> '.join(cycle)}", location,
                                  "a layer's inputs must come before it; the graph must be acyclic")
            else:
                line = f" (line {declared.location.line})" if declared.location else ""
                self.errors.error(f"'{head}' is used before it is defined{line}", location,
                                  "inputs must refer to layers declared earlier in the same body")
            return
        known = [*scope.names, INPUT]
        hint = did_you_mean(head, known)
        if hint is None:
            shown = known if len(known) <= 10 else [*known[:4], "...", *known[-5:]]
            hint = f"layers defined so far in this scope: {', '.join(shown)}"
        self.errors.error(f"no layer named '{ref}' in this scope", location, hint)

    def _cycle(self, target: str, user: str, scope: _ScopeState) -> list[str] | None:
        """The path user -> target -> ... -> user through declared inputs, if there is one."""
        stack: list[tuple[str, list[str]]] = [(target, [user, target])]
        seen: set[str] = set()
        while stack:
            name, path = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            declared = scope.declared.get(name)
            for ref in declared.inputs if declared else ():
                head = ref.split(".", 1)[0]
                if head == user:
                    return [*path, user]
                stack.append((head, [*path, head]))
        return None

    def _declared_names(self, body: Any) -> dict[str, _DeclaredName]:
        """Names given explicitly in a body, including spliced (unnamed repeat, residual) bodies."""
        declared: dict[str, _DeclaredName] = {}
        entries = body if isinstance(body, list) else [body]
        for entry in entries:
            if not isinstance(entry, LocatedMapping):
                continue
            name = entry.get("name")
            key = entry_key(entry)
            if isinstance(name, str):
                refs = entry.get("inputs")
                if refs is None and key and get_op(key) is not None and isinstance(entry.get(key), list):
                    refs = entry[key]
                refs = [refs] if isinstance(refs, str) else list(refs or [])
                declared.setdefault(name, _DeclaredName(entry.value_locations.get("name"),
                                                        tuple(r for r in refs if isinstance(r, str))))
            if key in ("repeat", "residual") and (key == "residual" or name is None) and "body" in entry:
                for inner_name, inner in self._declared_names(entry["body"]).items():
                    declared.setdefault(inner_name, inner)
        return declared

    def _name(self, scope: _ScopeState, explicit: Any, prefix: str, location: SourceLocation | None,
              name_location: SourceLocation | None = None) -> str:
        """Register a layer's local name in its scope (explicit, or the next free automatic one).

        A name that cannot be used is reported, and the layer goes on under an automatic name,
        so that later layers are not checked against a clobbered one.
        """
        where = name_location or location
        if isinstance(explicit, str):
            if explicit == INPUT:
                self.errors.error("'input' is reserved for the scope's input and cannot name a layer", where)
            elif explicit in scope.names:
                first = scope.names[explicit].location
                if first is not None and location is not None and (first.line, first.column) == (
                        location.line, location.column):
                    self.errors.error(f"duplicate layer name '{explicit}': this repeat's body runs more than once "
                                      "in the same scope", where,
                                      "name the repeat, so that each iteration gets its own scope "
                                      "(stage.0, stage.1, ...)")
                else:
                    line = f" (first used on line {first.line})" if first else ""
                    self.errors.error(f"duplicate layer name '{explicit}' in this scope{line}", where,
                                      "names must be unique within a block or the top level")
            else:
                return explicit
        number = scope.counters.get(prefix, 0)
        while True:
            number += 1
            candidate = f"{prefix}{number}"
            if candidate not in scope.names and candidate not in scope.declared:
                break
        scope.counters[prefix] = number
        return candidate

    # -- ops ----------------------------------------------------------------------------------
    def _lower_op(self, entry: Any, kind: str, location: SourceLocation | None, scope: _ScopeState,
                  inputs: list[str | None], context: _Context, written_key: str | None = None) -> str | None:
        op = self.ops[kind].op
        explicit = entry.get("name") if isinstance(entry, LocatedMapping) else None
        local = self._name(scope, explicit, op.prefix, location, _name_location(entry))
        name = scope.qualify(local)
        params = self._op_params(op, entry, kind, location, context, written_key or kind)
        scope.names[local] = _Ref(None, None, location)
        if params is None or any(i is None for i in inputs):
            return None
        node = self._make_node(op, name, params, [i for i in inputs if i is not None], location, scope.path)
        if node is None:
            return None
        scope.names[local] = _Ref(node.name, None, location)
        return self._add_node(node)

    def make_op_node(self, kind: str, local: str, raw: dict[str, Any], inputs: list[str], scope: _ScopeState,
                     location: SourceLocation | None, role: NodeRole = "") -> str | None:
        """A node from archspec's own parameters (shortcut projections, residual sums)."""
        op = self.ops[kind].op
        name = scope.qualify(local)
        try:
            params = op.Params.model_validate(raw)
        except ValidationError as exc:
            self.errors.error(f"{kind}: {exc.errors()[0]['msg']}", location)
            return None
        node = self._make_node(op, name, params, inputs, location, scope.path, role)
        if node is None:
            return None
        scope.names[local] = _Ref(node.name, None, location)
        return self._add_node(node)

    def _op_params(self, op: Op, entry: Any, kind: str, location: SourceLocation | None,
                   context: _Context, written_key: str) -> BaseModel | None:
        """The op's parameters: defaults, then the entry's own (under ``conv2d:`` or ``$op:``), evaluated."""
        merged = LocatedMapping()
        merged.location = location  # type: ignore[assignment]
        merged.key_locations, merged.value_locations = {}, {}

        def take(mapping: LocatedMapping) -> None:
            for key, value in mapping.items():
                merged[key] = value
                merged.key_locations[key] = mapping.key_locations[key]
                merged.value_locations[key] = mapping.value_locations[key]

        for defaults in context.defaults:
            op_defaults = defaults.get(kind)
            if isinstance(op_defaults, LocatedMapping):
                take(op_defaults)
        if isinstance(entry, LocatedMapping):
            value = entry.get(written_key)
            if isinstance(value, LocatedMapping):
                take(value)
            elif value is not None and op.shorthand not in (None, "inputs"):
                assert op.shorthand is not None
                merged[op.shorthand] = value
                merged.key_locations[op.shorthand] = entry.key_locations[written_key]
                merged.value_locations[op.shorthand] = entry.value_locations[written_key]
            elif value is not None and op.shorthand is None and not isinstance(value, LocatedMapping):
                self.errors.error(f"{kind} takes no shorthand value; write its parameters as a mapping",
                                  entry.value_locations[written_key])
                return None
        failed = False
        for key in list(merged):
            if contains_expression(merged[key]):
                try:
                    merged[key] = substitute(merged[key], context.env)
                except ExpressionError as exc:
                    self.errors.error(str(exc), merged.value_locations.get(key), exc.hint)
                    failed = True
        if failed:
            return None
        try:
            return op.Params.model_validate(dict(merged))
        except ValidationError as exc:
            for diagnostic in diagnostics_from_validation(exc, merged, op.Params, what=f" for {kind}"):
                self.errors.add(diagnostic)
            return None

    def _make_node(self, op: Op, name: str, params: BaseModel, inputs: list[str], location: SourceLocation | None,
                   scope: str, role: NodeRole = "") -> Node | None:
        count = len(inputs)
        if count < op.min_inputs or (op.max_inputs is not None and count > op.max_inputs):
            expected = (str(op.min_inputs) if op.max_inputs == op.min_inputs
                        else f"at least {op.min_inputs}" if op.max_inputs is None
                        else f"{op.min_inputs} to {op.max_inputs}")
            plural = "" if expected == "1" else "s"
            self.errors.error(f"layer '{name}' ({op.kind}) takes {expected} input{plural}, got {count}", location)
            return None
        shapes = [self.shapes[i] for i in inputs]
        where = f"layer '{name}' ({op.kind})"
        try:
            output = op.output_shape(params, shapes)
        except ShapeError as exc:
            if len(shapes) == 1:
                note = f"input shape: {format_shape(shapes[0])}"
            else:
                note = "input shapes: " + ", ".join(f"{i} {format_shape(s)}" for i, s in zip(inputs, shapes,
                                                                                             strict=True))
            hint = None
            if "larger than the padded input" in str(exc):
                hint = "the input is too small at this point: use a smaller window, padding, fewer poolings or strides"
            self.errors.add(Diagnostic(f"{where}: {exc}", location, hint, (note,)))
            return None
        except Exception as exc:  # a user-defined op's bug: say whose it is
            self.errors.add(_op_fault(op, "shape rule (output_shape)", exc, location, where))
            return None
        checked = _checked_shape(op, output, location, where, self.errors)
        if checked is None:
            return None
        output = checked
        parameters = _guarded(op, "parameter_count", lambda: op.parameter_count(params, shapes, checked),
                              location, where, self.errors)
        macs = _guarded(op, "macs", lambda: op.macs(params, shapes, checked), location, where, self.errors)
        label = _guarded(op, "label", lambda: op.label(params, shapes, checked), location, where, self.errors)
        if parameters is None or macs is None or label is None:
            return None
        return Node(name, op.kind, params, tuple(inputs), output, int(parameters), int(macs), str(label),
                    location, scope, role)

    # -- blocks -------------------------------------------------------------------------------
    def _lower_block_call(self, entry: Any, block_name: str, location: SourceLocation | None, scope: _ScopeState,
                          inputs: list[str | None], context: _Context, forced_path: str | None = None,
                          index: int | None = None, written_key: str | None = None) -> str | None:
        if block_name in context.blocks_on_stack or len(context.blocks_on_stack) >= MAX_BLOCK_DEPTH:
            chain = " -> ".join((*context.blocks_on_stack, block_name))
            self.errors.error(f"block '{block_name}' calls itself: {chain}", location,
                              "blocks cannot be recursive")
            return None
        block: LocatedMapping = self.blocks[block_name]
        arguments = self._bind_block_arguments(entry, block_name, written_key or block_name, block, location,
                                               context)
        if len(inputs) != 1:
            self.errors.error(f"block '{block_name}' takes one input, got {len(inputs)}", location)
            return None
        if forced_path is not None:
            path, local = forced_path, None
        else:
            explicit = entry.get("name") if isinstance(entry, LocatedMapping) else None
            local = self._name(scope, explicit, block_name, location, _name_location(entry))
            path = scope.qualify(local)
        kind: ScopeKind = "iteration" if index is not None else "block"
        self.scopes.append(Scope(path, kind, block_name, None, index, location,
                                 tuple(arguments.items()) if arguments is not None else ()))
        if arguments is None or inputs[0] is None:
            if local is not None:
                scope.names[local] = _Ref(None, path, location)
            return None
        inner = _ScopeState(path, inputs[0], self._declared_names(block["body"]))
        self.scope_names[path] = inner.names
        block_defaults = block.get("defaults")
        inner_context = _Context(
            {**self.spec.variables, **arguments},
            (*context.defaults, block_defaults) if block_defaults else context.defaults,
            (*context.blocks_on_stack, block_name),
        )
        output = self._lower_body(block["body"], inner, inputs[0], inner_context, block.value_locations.get("body"))
        if local is not None:
            scope.names[local] = _Ref(output, path, location)
        return output

    def _bind_block_arguments(self, entry: Any, block_name: str, written_key: str, block: LocatedMapping,
                              location: SourceLocation | None, context: _Context) -> dict[str, Any] | None:
        declared: LocatedMapping = block.get("params") or LocatedMapping()
        raw: Any = entry.get(written_key) if isinstance(entry, LocatedMapping) else None
        arg_locations: dict[str, SourceLocation | None] = {}
        if raw is None:
            args: dict[str, Any] = {}
        elif isinstance(raw, LocatedMapping):
            args = dict(raw)
            arg_locations = dict(raw.value_locations)
            for key in raw:
                if key not in declared:
                    hint = did_you_mean(str(key), declared) or (
                        f"its parameters: {', '.join(declared)}" if declared else "it takes no parameters")
                    self.errors.error(f"block '{block_name}' has no parameter '{key}'", raw.key_locations[key], hint)
                    return None
        elif len(declared) == 1:
            (only,) = declared
            args = {only: raw}
            arg_locations = {only: entry.value_locations.get(written_key)}
        else:
            example = ", ".join(f"{name}: ..." for name in declared) or "..."
            self.errors.error(f"block '{block_name}' takes its arguments as a mapping, got {describe(raw)}",
                              entry.value_locations.get(written_key) if isinstance(entry, LocatedMapping) else location,
                              f"write {{{block_name}: {{{example}}}}}")
            return None
        bound: dict[str, Any] = {}
        ok = True
        for name, declaration in declared.items():
            type_name = declaration if isinstance(declaration, str) else declaration.get("type", "any")
            has_default = isinstance(declaration, dict) and "default" in declaration
            where = arg_locations.get(name, location)
            if name in args:
                value = args[name]
                env = context.env
            elif has_default:
                value = declaration["default"]
                where = declaration.value_locations.get("default", where)
                env = dict(self.spec.variables)
            else:
                self.errors.error(f"block '{block_name}' is called without its parameter '{name}' ({type_name})",
                                  location)
                ok = False
                continue
            try:
                value = substitute(value, env)
            except ExpressionError as exc:
                self.errors.error(str(exc), where, exc.hint)
                ok = False
                continue
            problem = _type_problem(type_name, value, self.blocks, self.ops)
            if problem:
                self.errors.error(f"block '{block_name}' parameter '{name}' is {problem}", where)
                ok = False
                continue
            bound[name] = value
        return bound if ok else None

    # -- repeats ------------------------------------------------------------------------------
    def _lower_repeat(self, entry: LocatedMapping, location: SourceLocation | None, scope: _ScopeState,
                      inputs: list[str | None], context: _Context) -> str | None:
        name = entry.get("name")
        # an unnamed repeat may run 0 times: `repeat: "${1 if batch_norm else 0}"` makes its body optional
        count = self._evaluate_int(entry["repeat"], context, entry.value_locations.get("repeat"), "repeat count",
                                   minimum=0 if name is None else 1)
        if len(inputs) != 1:
            self.errors.error(f"repeat takes one input, got {len(inputs)}", location)
            return None
        if count is None:
            return None
        if count > MAX_REPEAT:
            self.errors.error(f"repeat count {count:,} is more than {MAX_REPEAT:,}",
                              entry.value_locations.get("repeat"))
            return None
        index_name = entry.get("index", "index")
        body, body_location = entry["body"], entry.value_locations.get("body")
        current = inputs[0]
        if name is None:
            for index in range(count):
                iteration = _Context({**context.env, index_name: index}, context.defaults, context.blocks_on_stack)
                current = self._lower_body(body, scope, current, iteration, body_location)
            return current
        local = self._name(scope, name, "repeat", location, _name_location(entry))
        path = scope.qualify(local)
        self.scopes.append(Scope(path, "repeat", None, count, None, location))
        repeat_scope = _ScopeState(path, current, {str(i): _DeclaredName(None, ()) for i in range(count)})
        self.scope_names[path] = repeat_scope.names
        single = body[0] if isinstance(body, LocatedSequence) and len(body) == 1 else body
        single_block = entry_key(single) if isinstance(single, (LocatedMapping, str)) else None
        single_key = single_block
        if single_block is not None and single_block.startswith("$"):
            single_block = self._block_reference(single_block, context, location, quiet=True)
        for index in range(count):
            iteration = _Context({**context.env, index_name: index}, context.defaults, context.blocks_on_stack)
            item_path = f"{path}.{index}"
            if single_block in self.blocks and not (isinstance(single, LocatedMapping) and "inputs" in single):
                current = self._lower_block_call(single, single_block, location, repeat_scope, [current],
                                                 iteration, forced_path=item_path, index=index,
                                                 written_key=single_key)
            else:
                self.scopes.append(Scope(item_path, "iteration", None, None, index, location))
                inner = _ScopeState(item_path, current, self._declared_names(body))
                self.scope_names[item_path] = inner.names
                current = self._lower_body(body, inner, current, iteration, body_location)
            repeat_scope.names[str(index)] = _Ref(current, item_path, location)
        scope.names[local] = _Ref(current, path, location)
        return current

    def _evaluate_int(self, value: Any, context: _Context, location: SourceLocation | None, what: str,
                      minimum: int = 1) -> int | None:
        try:
            value = substitute(value, context.env)
        except ExpressionError as exc:
            self.errors.error(str(exc), location, exc.hint)
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            hint = "use '//' for whole-number division" if isinstance(value, float) else None
            kind = "positive" if minimum == 1 else "non-negative"
            self.errors.error(f"{what} must be a {kind} integer, got {describe(value)}", location, hint)
            return None
        return value

    # -- residuals ----------------------------------------------------------------------------
    def _lower_residual(self, entry: LocatedMapping, location: SourceLocation | None, scope: _ScopeState,
                        inputs: list[str | None], context: _Context) -> str | None:
        options = self._residual_options(entry, context)
        if len(inputs) != 1:
            self.errors.error(f"residual takes one input, got {len(inputs)}", location)
            return None
        start = inputs[0]
        body_output = self._lower_body(entry["body"], scope, start, context, entry.value_locations.get("body"))
        if options is None:
            return None
        mode, enabled, shortcut_name, shortcut_layers = options
        if not enabled:
            return body_output
        add_local = self._name(scope, entry.get("name"), "add", location, _name_location(entry))
        if start is None or body_output is None:
            return None
        in_shape, out_shape = self.shapes[start], self.shapes[body_output]
        shortcut_name = self._free_scope_name(scope, shortcut_name)
        shortcut_path = scope.qualify(shortcut_name)
        if shortcut_layers is not None:
            self.scopes.append(Scope(shortcut_path, "shortcut", None, None, None, location))
            inner = _ScopeState(shortcut_path, start, self._declared_names(shortcut_layers))
            self.scope_names[shortcut_path] = inner.names
            shortcut = self._lower_body(shortcut_layers, inner, start, context)
            scope.names[shortcut_name] = _Ref(shortcut, shortcut_path, location)
        elif mode == "identity" or (mode == "auto" and in_shape == out_shape):
            shortcut = start
        else:
            shortcut = self._projection(in_shape, out_shape, start, scope, shortcut_path, shortcut_name, location)
        if shortcut is None:
            return None
        if self.shapes[shortcut] != out_shape:
            self._residual_mismatch(mode, in_shape, out_shape, self.shapes[shortcut], location)
            return None
        node = self._make_node(self.ops["add"].op, scope.qualify(add_local), self.ops["add"].op.Params(),
                               [body_output, shortcut], location, scope.path, "residual")
        if node is None:
            return None
        scope.names[add_local] = _Ref(node.name, None, location)
        return self._add_node(node)

    def _residual_mismatch(self, mode: str, in_shape: Shape, out_shape: Shape, shortcut_shape: Shape,
                           location: SourceLocation | None) -> None:
        if mode == "identity":
            self.errors.error(f"residual: the body maps {format_shape(in_shape)} to {format_shape(out_shape)}, "
                              "so an identity shortcut cannot be added to it", location,
                              "use 'residual: auto' for a projection (1×1 convolution) where the shape changes")
        else:
            self.errors.error(f"residual: the body gives {format_shape(out_shape)} but the shortcut gives "
                              f"{format_shape(shortcut_shape)}; they must match to be added", location)

    def _free_scope_name(self, scope: _ScopeState, wanted: str) -> str:
        """``shortcut`` for a scope's first residual, then ``shortcut2``, ``shortcut3``..."""
        taken = set(scope.names) | set(scope.declared) | {s.local_name for s in self.scopes if s.parent == scope.path}
        if wanted not in taken:
            return wanted
        number = 2
        while f"{wanted}{number}" in taken:
            number += 1
        return f"{wanted}{number}"

    def _residual_options(self, entry: LocatedMapping,
                          context: _Context) -> tuple[str, bool, str, Any] | None:
        raw = entry.get("residual")
        where = entry.value_locations.get("residual")
        try:
            raw = substitute(raw, context.env) if not isinstance(raw, LocatedMapping) else raw
        except ExpressionError as exc:
            self.errors.error(str(exc), where, exc.hint)
            return None
        if raw is None or isinstance(raw, str):
            mode = raw or "auto"
            if mode not in ("auto", "identity", "projection"):
                self.errors.error(f"residual shortcut must be auto, identity or projection, got '{mode}'", where)
                return None
            return mode, True, "shortcut", None
        if isinstance(raw, bool):
            return "auto", raw, "shortcut", None
        assert isinstance(raw, LocatedMapping)
        try:
            enabled = substitute(raw.get("enabled", True), context.env)
            shortcut = raw.get("shortcut", "auto")
            if not isinstance(shortcut, LocatedSequence):
                shortcut = substitute(shortcut, context.env)
        except ExpressionError as exc:
            self.errors.error(str(exc), where, exc.hint)
            return None
        if not isinstance(enabled, bool):
            self.errors.error(f"residual 'enabled' must be true or false, got {describe(enabled)}",
                              raw.value_locations.get("enabled", where))
            return None
        name = str(raw.get("name", "shortcut"))
        if isinstance(shortcut, LocatedSequence):
            return "layers", enabled, name, shortcut
        if shortcut not in ("auto", "identity", "projection"):
            self.errors.error(f"residual shortcut must be auto, identity, projection or a list of layers, "
                              f"got {describe(shortcut)}", raw.value_locations.get("shortcut", where))
            return None
        return str(shortcut), enabled, name, None

    def _projection(self, in_shape: Shape, out_shape: Shape, start: str, scope: _ScopeState, path: str,
                    local: str, location: SourceLocation | None) -> str | None:
        if len(in_shape) != 3 or len(out_shape) != 3:
            self.errors.error(
                f"residual: cannot project {format_shape(in_shape)} to {format_shape(out_shape)}; "
                "an automatic projection needs image tensors", location)
            return None
        strides = []
        for axis, (before, after) in enumerate(zip(in_shape[1:], out_shape[1:], strict=True)):
            if after > before or before % after or (before // after) * after != before:
                self.errors.error(
                    f"residual: the body maps {format_shape(in_shape)} to {format_shape(out_shape)}; "
                    f"its {'height' if axis == 0 else 'width'} {before} -> {after} is not a whole stride, "
                    "so no 1×1 projection can match it", location,
                    "write the shortcut's layers explicitly with 'shortcut: [...]'")
                return None
            strides.append(before // after)
        self.scopes.append(Scope(path, "shortcut", None, None, None, location))
        inner = _ScopeState(path, start, {})
        self.scope_names[path] = inner.names
        stride = strides[0] if strides[0] == strides[1] else (strides[0], strides[1])
        conv = self.make_op_node("conv2d", "conv", {"channels": out_shape[0], "kernel": 1, "stride": stride,
                                                    "bias": False}, [start], inner, location, "shortcut")
        if conv is None:
            return None
        norm = self.make_op_node("batchnorm2d", "bn", {}, [conv], inner, location, "shortcut")
        scope.names[local] = _Ref(norm, path, location)
        return norm


def _name_location(entry: Any) -> SourceLocation | None:
    return entry.value_locations.get("name") if isinstance(entry, LocatedMapping) else None


def _type_problem(type_name: str, value: Any, blocks: Mapping[str, Any], ops: Mapping[str, Any]) -> str | None:
    checks: dict[str, Callable[[Any], bool]] = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "list": lambda v: isinstance(v, list),
        "block": lambda v: isinstance(v, str) and (v in blocks or v in ops),
        "any": lambda v: True,
    }
    check = checks.get(type_name)
    if check is None or check(value):
        return None
    if type_name == "block":
        return f"declared block (the name of a block or op), got {describe(value)}"
    return f"declared {type_name}, got {describe(value)}"


def _op_fault(op: Op, what: str, exc: Exception, location: SourceLocation | None, where: str) -> Diagnostic:
    origin = f"{type(op).__module__}.{type(op).__qualname__}"
    return Diagnostic(f"{where}: the op's {what} raised {type(exc).__name__}: {exc}", location,
                      notes=(f"this is a fault in the definition of op '{op.kind}' ({origin}), not in the spec",))


def _checked_shape(op: Op, shape: Any, location: SourceLocation | None, where: str,
                   errors: DiagnosticCollector) -> Shape | None:
    valid = isinstance(shape, (tuple, list)) and len(shape) >= 1 and all(
        isinstance(d, int) and not isinstance(d, bool) for d in shape)
    if not valid:
        origin = f"{type(op).__module__}.{type(op).__qualname__}"
        errors.add(Diagnostic(f"{where}: the op's shape rule returned {shape!r}, which is not a shape", location,
                              notes=(f"output_shape of op '{op.kind}' ({origin}) must return a tuple of ints",)))
        return None
    if any(d < 1 for d in shape):
        errors.add(Diagnostic(f"{where}: output shape {format_shape(shape)} has a size below 1", location,
                              hint="the input is too small for this layer (too many poolings or strides?)"))
        return None
    return tuple(shape)


def _guarded(op: Op, what: str, compute: Callable[[], T], location: SourceLocation | None, where: str,
             errors: DiagnosticCollector) -> T | None:
    try:
        return compute()
    except Exception as exc:  # a user-defined op's bug
        errors.add(_op_fault(op, what, exc, location, where))
        return None


__all__ = ["analyse"]
