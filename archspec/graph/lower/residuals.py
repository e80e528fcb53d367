"""Residuals: the body spliced into the enclosing scope, plus a shortcut from its input, summed.

``auto`` is the identity where the body keeps the shape, and a projection (1×1 convolution with
the stride, then batch norm, in scope ``shortcut``) where it does not; ``shortcut: [...]`` gives
the shortcut's layers explicitly.  Shapes are known node by node, so the choice is made here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.errors import SourceLocation
from archspec.graph.ir import Scope
from archspec.graph.lower.names import declared_names, free_scope_name, name_location, register_name
from archspec.graph.lower.nodes import make_node, make_op_node
from archspec.graph.lower.state import Context, Ref, ScopeState
from archspec.ops.base import Shape, format_shape
from archspec.spec.expressions import ExpressionError, substitute
from archspec.spec.located_yaml import LocatedMapping, LocatedSequence, describe

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def lower_residual(lowering: Lowering, entry: LocatedMapping, location: SourceLocation | None, scope: ScopeState,
                   inputs: list[str | None], context: Context) -> str | None:
    """The body, then the shortcut and the sum (named ``add<n>`` or by the entry's ``name``)."""
    options = _residual_options(lowering, entry, context)
    if len(inputs) != 1:
        lowering.errors.error(f"residual takes one input, got {len(inputs)}", location)
        return None
    start = inputs[0]
    body_output = lowering.lower_body(entry["body"], scope, start, context, entry.value_locations.get("body"))
    if options is None:
        return None
    mode, enabled, shortcut_name, shortcut_layers = options
    if not enabled:
        return body_output
    add_local = register_name(lowering, scope, entry.get("name"), "add", location, name_location(entry))
    if start is None or body_output is None:
        return None
    in_shape, out_shape = lowering.shapes[start], lowering.shapes[body_output]
    shortcut_name = free_scope_name(lowering, scope, shortcut_name)
    shortcut_path = scope.qualify(shortcut_name)
    if shortcut_layers is not None:
        lowering.scopes.append(Scope(shortcut_path, "shortcut", None, None, None, location))
        inner = ScopeState(shortcut_path, start, declared_names(shortcut_layers))
        lowering.scope_names[shortcut_path] = inner.names
        shortcut = lowering.lower_body(shortcut_layers, inner, start, context)
        scope.names[shortcut_name] = Ref(shortcut, shortcut_path, location)
    elif mode == "identity" or (mode == "auto" and in_shape == out_shape):
        shortcut = start
    else:
        shortcut = _projection(lowering, in_shape, out_shape, start, scope, shortcut_path, shortcut_name, location)
    if shortcut is None:
        return None
    if lowering.shapes[shortcut] != out_shape:
        _mismatch(lowering, mode, in_shape, out_shape, lowering.shapes[shortcut], location)
        return None
    add = lowering.ops["add"].op
    node = make_node(lowering, add, scope.qualify(add_local), add.Params(), [body_output, shortcut], location,
                     scope.path, "residual")
    if node is None:
        return None
    scope.names[add_local] = Ref(node.name, None, location)
    return lowering.add_node(node)


def _mismatch(lowering: Lowering, mode: str, in_shape: Shape, out_shape: Shape, shortcut_shape: Shape,
              location: SourceLocation | None) -> None:
    if mode == "identity":
        lowering.errors.error(f"residual: the body maps {format_shape(in_shape)} to {format_shape(out_shape)}, "
                              "so an identity shortcut cannot be added to it", location,
                              "use 'residual: auto' for a projection (1×1 convolution) where the shape changes")
    else:
        lowering.errors.error(f"residual: the body gives {format_shape(out_shape)} but the shortcut gives "
                              f"{format_shape(shortcut_shape)}; they must match to be added", location)


def _residual_options(lowering: Lowering, entry: LocatedMapping,
                      context: Context) -> tuple[str, bool, str, Any] | None:
    errors = lowering.errors
    raw = entry.get("residual")
    where = entry.value_locations.get("residual")
    try:
        raw = substitute(raw, context.env) if not isinstance(raw, LocatedMapping) else raw
    except ExpressionError as exc:
        errors.error(str(exc), where, exc.hint)
        return None
    if raw is None or isinstance(raw, str):
        mode = raw or "auto"
        if mode not in ("auto", "identity", "projection"):
            errors.error(f"residual shortcut must be auto, identity or projection, got '{mode}'", where)
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
        errors.error(str(exc), where, exc.hint)
        return None
    if not isinstance(enabled, bool):
        errors.error(f"residual 'enabled' must be true or false, got {describe(enabled)}",
                     raw.value_locations.get("enabled", where))
        return None
    name = str(raw.get("name", "shortcut"))
    if isinstance(shortcut, LocatedSequence):
        return "layers", enabled, name, shortcut
    if shortcut not in ("auto", "identity", "projection"):
        errors.error(f"residual shortcut must be auto, identity, projection or a list of layers, "
                     f"got {describe(shortcut)}", raw.value_locations.get("shortcut", where))
        return None
    return str(shortcut), enabled, name, None


def _projection(lowering: Lowering, in_shape: Shape, out_shape: Shape, start: str, scope: ScopeState, path: str,
                local: str, location: SourceLocation | None) -> str | None:
    if len(in_shape) != 3 or len(out_shape) != 3:
        lowering.errors.error(
            f"residual: cannot project {format_shape(in_shape)} to {format_shape(out_shape)}; "
            "an automatic projection needs image tensors", location)
        return None
    strides = []
    for axis, (before, after) in enumerate(zip(in_shape[1:], out_shape[1:], strict=True)):
        if after > before or before % after or (before // after) * after != before:
            lowering.errors.error(
                f"residual: the body maps {format_shape(in_shape)} to {format_shape(out_shape)}; "
                f"its {'height' if axis == 0 else 'width'} {before} -> {after} is not a whole stride, "
                "so no 1×1 projection can match it", location,
                "write the shortcut's layers explicitly with 'shortcut: [...]'")
            return None
        strides.append(before // after)
    lowering.scopes.append(Scope(path, "shortcut", None, None, None, location))
    inner = ScopeState(path, start, {})
    lowering.scope_names[path] = inner.names
    stride = strides[0] if strides[0] == strides[1] else (strides[0], strides[1])
    conv = make_op_node(lowering, "conv2d", "conv", {"channels": out_shape[0], "kernel": 1, "stride": stride,
                                                     "bias": False}, [start], inner, location, "shortcut")
    if conv is None:
        return None
    norm = make_op_node(lowering, "batchnorm2d", "bn", {}, [conv], inner, location, "shortcut")
    scope.names[local] = Ref(norm, path, location)
    return norm
