"""Repeats: a body N times, with the iteration number in a variable.

A named repeat makes a scope with one child scope per iteration (``layer1.0``, ``layer1.1``); an
unnamed repeat splices its iterations into the enclosing scope.  A named repeat of one block
call uses each iteration's scope as the block's scope (``layer1.0.conv1``, not ``layer1.0.block.conv1``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from archspec.errors import SourceLocation
from archspec.graph.ir import INPUT, Scope
from archspec.graph.lower.blocks import lower_block_call
from archspec.graph.lower.names import declared_names, register_name
from archspec.graph.lower.state import MAX_REPEAT, Context, DeclaredName, Ref, ScopeState
from archspec.spec.expressions import ExpressionError, interpolate, substitute
from archspec.spec.located_yaml import describe
from archspec.spec.tree import Body, CallEntry, RepeatEntry

_LAYER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def lower_repeat(lowering: Lowering, entry: RepeatEntry, scope: ScopeState, inputs: list[str | None],
                 context: Context) -> str | None:
    """The iterations in sequence, each taking the previous one's output."""
    if entry.faulty:
        return lowering.stand_in(entry, scope)
    location = entry.location
    # an unnamed repeat may run 0 times: `repeat: "${1 if batch_norm else 0}"` makes its body optional
    count = _evaluate_count(lowering, entry.count, context, entry.count_location,
                            minimum=0 if entry.name is None else 1)
    if len(inputs) != 1:
        lowering.errors.error(f"repeat takes one input, got {len(inputs)}", location)
        return None
    if count is None:
        return None
    if count > MAX_REPEAT:
        lowering.errors.error(f"repeat count {count:,} is more than {MAX_REPEAT:,}", entry.count_location)
        return None
    body = entry.body
    current = inputs[0]
    if entry.name is None:
        if entry.names is not None:
            lowering.errors.error("'names:' names the iterations of a named repeat, and this repeat has no name",
                                  entry.names_location or location, "give the repeat a name: (name: stage)")
            return None
        for index in range(count):
            current = lowering.lower_body(body, scope, current, context.with_variable(entry.index, index))
        return current
    local = register_name(lowering, scope, entry.name, "repeat", location, entry.name_location)
    path = scope.qualify(local)
    names = _iteration_names(lowering, entry, count, context)
    lowering.scopes.append(Scope(path, "repeat", None, count, None, location))
    repeat_scope = ScopeState(path, current, {name: DeclaredName(None, ()) for name in names})
    lowering.scope_names[path] = repeat_scope.names
    single, single_block = _single_block_call(lowering, body, context)
    for index in range(count):
        iteration = context.with_variable(entry.index, index)
        item_path = f"{path}.{names[index]}"
        if single is not None and single_block is not None:
            current = lower_block_call(lowering, single, single_block, repeat_scope, [current], iteration,
                                       forced_path=item_path, index=index, location=location)
        else:
            lowering.scopes.append(Scope(item_path, "iteration", None, None, index, location))
            inner = ScopeState(item_path, current, declared_names(body))
            lowering.scope_names[item_path] = inner.names
            current = lowering.lower_body(body, inner, current, iteration)
        repeat_scope.names[names[index]] = Ref(current, item_path, location)
    scope.names[local] = Ref(current, path, location)
    return current


def _iteration_names(lowering: Lowering, entry: RepeatEntry, count: int, context: Context) -> list[str]:
    """Each iteration's name: ``names:`` evaluated per ``index`` (``denselayer${index + 1}``), or ``0, 1, ...``.

    A name that is not a layer name, or that two iterations share, is reported, and the iterations
    go on as ``0, 1, ...`` so that what follows is still checked.
    """
    default = [str(index) for index in range(count)]
    if entry.names is None:
        return default
    where = entry.names_location or entry.location
    found: list[str] = []
    for index in range(count):
        try:
            value = interpolate(entry.names, context.with_variable(entry.index, index).env)
        except ExpressionError as exc:
            lowering.errors.error(f"repeat names: {exc}", where, exc.hint)
            return default
        name = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if name is None or not _LAYER_NAME.fullmatch(name) or name == INPUT:
            lowering.errors.error(f"repeat names: iteration {index} is named {describe(value)}, which is not a "
                                  "layer name", where, "a name is letters, digits, '_' and inner '-', not 'input'")
            return default
        if name in found:
            lowering.errors.error(f"repeat names: iterations {found.index(name)} and {index} are both named "
                                  f"'{name}'", where, "make the names depend on index, as 'layer${index + 1}'")
            return default
        found.append(name)
    return found


def _single_block_call(lowering: Lowering, body: Body, context: Context) -> tuple[CallEntry | None, str | None]:
    """A body that is one call of a block, taking the previous output: the call and the block."""
    if len(body) != 1 or not isinstance(body.entries[0], CallEntry) or body.entries[0].inputs is not None:
        return None, None
    call = body.entries[0]
    target: str | None = call.target
    if target is not None and target.startswith("$"):
        target = lowering.block_reference(target, context, None, quiet=True)
    return (call, target) if target in lowering.blocks else (None, None)


def _evaluate_count(lowering: Lowering, value: Any, context: Context, location: SourceLocation | None,
                    minimum: int = 1) -> int | None:
    try:
        value = substitute(value, context.env)
    except ExpressionError as exc:
        lowering.errors.error(str(exc), location, exc.hint)
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        hint = "use '//' for whole-number division" if isinstance(value, float) else None
        kind = "positive" if minimum == 1 else "non-negative"
        lowering.errors.error(f"repeat count must be a {kind} integer, got {describe(value)}", location, hint)
        return None
    return value
