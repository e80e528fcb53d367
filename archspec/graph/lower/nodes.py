"""Op entries become nodes: parameters merged and checked, the shape inferred, the counts computed.

An op's own code (a plugin's, say) runs behind guards: a crash in its shape rule, parameter
count, MACs or label is reported as a fault of that op, located at the layer that used it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from archspec.errors import Diagnostic, DiagnosticCollector, SourceLocation
from archspec.graph.ir import Node, NodeRole
from archspec.graph.lower.names import define, register_name
from archspec.graph.lower.state import Context, Ref, ScopeState
from archspec.ops.base import Op, Shape, ShapeError, ShapeErrorReason, format_shape
from archspec.spec.expressions import ExpressionError, contains_expression, substitute
from archspec.spec.located_yaml import LocatedMapping
from archspec.spec.tree import OpEntry
from archspec.spec.validation import diagnostics_from_validation

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering

T = TypeVar("T")

SHAPE_HINTS: dict[ShapeErrorReason, str] = {
    "input_too_small": "the input is too small at this point: use a smaller window, padding, fewer poolings or strides",
}
"""The hint for each structured reason a shape rule may give (see :class:`~archspec.ops.base.ShapeError`)."""


def lower_op(lowering: Lowering, entry: OpEntry, scope: ScopeState, inputs: list[str | None],
             context: Context) -> str | None:
    """An op entry (``conv2d: 64``, or ``$op: {...}`` naming an op): one node."""
    op = lowering.ops[entry.kind].op
    local = register_name(lowering, scope, entry.name, op.prefix, entry.location, entry.name_location)
    name = scope.qualify(local)
    params = None if entry.faulty else _op_params(lowering, op, entry, context)
    define(lowering, scope, local, Ref(None, None, entry.location))
    if params is None or any(i is None for i in inputs):
        return None
    node_scope = name.rpartition(".")[0] if "." in local else scope.path  # a container's layer is in the container
    node = make_node(lowering, op, name, params, [i for i in inputs if i is not None], entry.location, node_scope)
    if node is None:
        return None
    define(lowering, scope, local, Ref(node.name, None, entry.location))
    return lowering.add_node(node)


def make_op_node(lowering: Lowering, kind: str, local: str, raw: dict[str, Any], inputs: list[str],
                 scope: ScopeState, location: SourceLocation | None, role: NodeRole = "") -> str | None:
    """A node from archspec's own parameters (shortcut projections, residual sums)."""
    op = lowering.ops[kind].op
    name = scope.qualify(local)
    try:
        params = op.Params.model_validate(raw)
    except ValidationError as exc:
        lowering.errors.error(f"{kind}: {exc.errors()[0]['msg']}", location)
        return None
    node = make_node(lowering, op, name, params, inputs, location, scope.path, role)
    if node is None:
        return None
    scope.names[local] = Ref(node.name, None, location)
    return lowering.add_node(node)


def _op_params(lowering: Lowering, op: Op, entry: OpEntry, context: Context) -> BaseModel | None:
    """The op's parameters: defaults, then the entry's own (under ``conv2d:`` or ``$op:``), evaluated."""
    kind = entry.kind
    merged = LocatedMapping()
    merged.location = entry.location  # type: ignore[assignment]
    merged.key_locations, merged.value_locations = {}, {}

    def take(mapping: LocatedMapping) -> None:
        for key, value in mapping.items():
            merged[key] = value
            merged.key_locations[key] = mapping.key_locations[key]
            merged.value_locations[key] = mapping.value_locations[key]

    for defaults in context.defaults:
        if defaults.is_broken(kind):
            return None  # the schema reported the defaults; the layer cannot be checked without them
        if kind in defaults.by_kind:
            take(defaults.by_kind[kind])
    value = entry.value
    if isinstance(value, LocatedMapping):
        take(value)
    elif value is not None and op.shorthand not in (None, "inputs"):
        assert op.shorthand is not None
        merged[op.shorthand] = value
        merged.key_locations[op.shorthand] = entry.location  # type: ignore[assignment]
        merged.value_locations[op.shorthand] = entry.value_location  # type: ignore[assignment]
    elif value is not None and op.shorthand is None:
        lowering.errors.error(f"{kind} takes no shorthand value; write its parameters as a mapping",
                              entry.value_location)
        return None
    failed = False
    for key in list(merged):
        if contains_expression(merged[key]):
            try:
                merged[key] = substitute(merged[key], context.env)
            except ExpressionError as exc:
                lowering.errors.error(str(exc), merged.value_locations.get(key), exc.hint)
                failed = True
    if failed:
        return None
    try:
        return op.Params.model_validate(dict(merged))
    except ValidationError as exc:
        for diagnostic in diagnostics_from_validation(exc, merged, op.Params, what=f" for {kind}"):
            lowering.errors.add(diagnostic)
        return None


def make_node(lowering: Lowering, op: Op, name: str, params: BaseModel, inputs: list[str],
              location: SourceLocation | None, scope: str, role: NodeRole = "") -> Node | None:
    """The node, with its shape inferred and counted, or None (reported)."""
    errors = lowering.errors
    count = len(inputs)
    if count < op.min_inputs or (op.max_inputs is not None and count > op.max_inputs):
        expected = (str(op.min_inputs) if op.max_inputs == op.min_inputs
                    else f"at least {op.min_inputs}" if op.max_inputs is None
                    else f"{op.min_inputs} to {op.max_inputs}")
        plural = "" if expected == "1" else "s"
        errors.error(f"layer '{name}' ({op.kind}) takes {expected} input{plural}, got {count}", location)
        return None
    shapes = [lowering.shapes[i] for i in inputs]
    where = f"layer '{name}' ({op.kind})"
    try:
        output = op.output_shape(params, shapes)
    except ShapeError as exc:
        if len(shapes) == 1:
            note = f"input shape: {format_shape(shapes[0])}"
        else:
            note = "input shapes: " + ", ".join(f"{i} {format_shape(s)}" for i, s in zip(inputs, shapes,
                                                                                         strict=True))
        errors.add(Diagnostic(f"{where}: {exc}", location, SHAPE_HINTS.get(exc.reason), (note,)))
        return None
    except Exception as exc:  # a user-defined op's bug: say whose it is
        errors.add(_op_fault(op, "shape rule (output_shape)", exc, location, where))
        return None
    checked = _checked_shape(op, output, location, where, errors)
    if checked is None:
        return None
    parameters = _guarded(op, "parameter_count", lambda: op.parameter_count(params, shapes, checked),
                          location, where, errors)
    macs = _guarded(op, "macs", lambda: op.macs(params, shapes, checked), location, where, errors)
    label = _guarded(op, "label", lambda: op.label(params, shapes, checked), location, where, errors)
    layouts = [lowering.layouts.get(i, "") for i in inputs]
    layout = _guarded(op, "output_layout", lambda: op.output_layout(params, layouts, checked), location, where, errors)
    if parameters is None or macs is None or label is None or layout is None:
        return None
    return Node(name, op.kind, params, tuple(inputs), checked, int(parameters), int(macs), str(label),
                location, scope, role, str(layout))


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
