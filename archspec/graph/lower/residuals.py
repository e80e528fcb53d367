"""Residuals: the body spliced into the enclosing scope, plus a shortcut from its input, summed.

``auto`` is the identity where the body keeps the shape, and a projection (1×1 convolution with
the stride, then batch norm, in scope ``shortcut``) where it does not; ``shortcut: [...]`` gives
the shortcut's layers explicitly.  Shapes are known node by node, so the choice is made here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from archspec.errors import SourceLocation
from archspec.graph.ir import Scope
from archspec.graph.lower.names import declared_names, free_scope_name, register_name
from archspec.graph.lower.nodes import make_node, make_op_node
from archspec.graph.lower.state import Context, Ref, ScopeState
from archspec.ops.base import Shape, format_shape
from archspec.spec.expressions import ExpressionError, substitute
from archspec.spec.located_yaml import describe
from archspec.spec.tree import Body, ResidualEntry

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def lower_residual(lowering: Lowering, entry: ResidualEntry, scope: ScopeState, inputs: list[str | None],
                   context: Context) -> str | None:
    """The body, then the shortcut and the sum (named ``add<n>`` or by the entry's ``name``)."""
    location = entry.location
    options = None if entry.faulty else _residual_options(lowering, entry, context)
    if len(inputs) != 1:
        lowering.errors.error(f"residual takes one input, got {len(inputs)}", location)
        return None
    start = inputs[0]
    body_output = lowering.lower_body(entry.body, scope, start, context)
    if options is None:
        return lowering.stand_in(entry, scope)
    if not options.enabled:
        return body_output
    add_local = register_name(lowering, scope, entry.name, "add", location, entry.name_location)
    output = _shortcut_sum(lowering, entry, scope, context, start, body_output, options, add_local)
    if output is None:
        scope.names.setdefault(add_local, Ref(None, None, location))  # reported: its uses need not be
    return output


def _shortcut_sum(lowering: Lowering, entry: ResidualEntry, scope: ScopeState, context: Context, start: str | None,
                  body_output: str | None, options: _Options, add_local: str) -> str | None:
    """The shortcut (identity, projection or its own layers) and the sum, or None (reported)."""
    location, mode, shortcut_layers = entry.location, options.mode, options.layers
    if start is None or body_output is None:
        return None
    in_shape, out_shape = lowering.shapes[start], lowering.shapes[body_output]
    shortcut_name = free_scope_name(lowering, scope, options.scope_name)
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


_MODES = ("auto", "identity", "projection")


class _Options(NamedTuple):
    mode: str
    """auto, identity, projection, or layers (the shortcut's own)."""
    enabled: bool
    scope_name: str
    layers: Body | None


def _residual_options(lowering: Lowering, entry: ResidualEntry, context: Context) -> _Options | None:
    """The residual's options with expressions evaluated; None if they are wrong (reported)."""
    errors = lowering.errors
    where = entry.setting_location
    if entry.setting is not None:  # ``residual: <mode>``, ``residual: $expression``
        try:
            setting = substitute(entry.setting, context.env)
        except ExpressionError as exc:
            errors.error(str(exc), where, exc.hint)
            return None
        if isinstance(setting, bool):
            return _Options("auto", setting, "shortcut", None)
        if not isinstance(setting, str):
            errors.error(f"residual must be auto, identity, projection, true or false, got {describe(setting)}",
                         where)
            return None
        mode = setting or "auto"
        if mode not in _MODES:
            errors.error(f"residual shortcut must be auto, identity or projection, got '{mode}'", where)
            return None
        return _Options(mode, True, "shortcut", None)
    try:  # ``residual: {shortcut: ..., enabled: ..., name: ...}`` (or nothing: all defaults)
        enabled = substitute(entry.enabled, context.env)
        shortcut = entry.shortcut if isinstance(entry.shortcut, Body) else substitute(entry.shortcut, context.env)
    except ExpressionError as exc:
        errors.error(str(exc), where, exc.hint)
        return None
    if not isinstance(enabled, bool):
        errors.error(f"residual 'enabled' must be true or false, got {describe(enabled)}", entry.enabled_location)
        return None
    if isinstance(shortcut, Body):
        return _Options("layers", enabled, entry.shortcut_name, shortcut)
    if shortcut not in _MODES:
        errors.error(f"residual shortcut must be auto, identity, projection or a list of layers, "
                     f"got {describe(shortcut)}", entry.shortcut_location)
        return None
    return _Options(str(shortcut), enabled, entry.shortcut_name, None)


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
