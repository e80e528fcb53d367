"""Repeats: a body N times, with the iteration number in a variable.

A named repeat makes a scope with one child scope per iteration (``layer1.0``, ``layer1.1``); an
unnamed repeat splices its iterations into the enclosing scope.  A named repeat of one block
call uses each iteration's scope as the block's scope (``layer1.0.conv1``, not ``layer1.0.block.conv1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.errors import SourceLocation
from archspec.graph.ir import Scope
from archspec.graph.lower.blocks import lower_block_call
from archspec.graph.lower.names import declared_names, register_name
from archspec.graph.lower.state import MAX_REPEAT, Context, DeclaredName, Ref, ScopeState
from archspec.spec.expressions import ExpressionError, substitute
from archspec.spec.located_yaml import describe
from archspec.spec.tree import Body, CallEntry, RepeatEntry

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
        for index in range(count):
            current = lowering.lower_body(body, scope, current, context.with_variable(entry.index, index))
        return current
    local = register_name(lowering, scope, entry.name, "repeat", location, entry.name_location)
    path = scope.qualify(local)
    lowering.scopes.append(Scope(path, "repeat", None, count, None, location))
    repeat_scope = ScopeState(path, current, {str(i): DeclaredName(None, ()) for i in range(count)})
    lowering.scope_names[path] = repeat_scope.names
    single, single_block = _single_block_call(lowering, body, context)
    for index in range(count):
        iteration = context.with_variable(entry.index, index)
        item_path = f"{path}.{index}"
        if single is not None and single_block is not None:
            current = lower_block_call(lowering, single, single_block, repeat_scope, [current], iteration,
                                       forced_path=item_path, index=index, location=location)
        else:
            lowering.scopes.append(Scope(item_path, "iteration", None, None, index, location))
            inner = ScopeState(item_path, current, declared_names(body))
            lowering.scope_names[item_path] = inner.names
            current = lowering.lower_body(body, inner, current, iteration)
        repeat_scope.names[str(index)] = Ref(current, item_path, location)
    scope.names[local] = Ref(current, path, location)
    return current


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
