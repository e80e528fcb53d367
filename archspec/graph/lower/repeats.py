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
from archspec.graph.lower.names import declared_names, name_location, register_name
from archspec.graph.lower.state import MAX_REPEAT, Context, DeclaredName, Ref, ScopeState
from archspec.spec.expressions import ExpressionError, substitute
from archspec.spec.loader import entry_key
from archspec.spec.located_yaml import LocatedMapping, LocatedSequence, describe

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def lower_repeat(lowering: Lowering, entry: LocatedMapping, location: SourceLocation | None, scope: ScopeState,
                 inputs: list[str | None], context: Context) -> str | None:
    """The iterations in sequence, each taking the previous one's output."""
    name = entry.get("name")
    # an unnamed repeat may run 0 times: `repeat: "${1 if batch_norm else 0}"` makes its body optional
    count = _evaluate_count(lowering, entry["repeat"], context, entry.value_locations.get("repeat"),
                            minimum=0 if name is None else 1)
    if len(inputs) != 1:
        lowering.errors.error(f"repeat takes one input, got {len(inputs)}", location)
        return None
    if count is None:
        return None
    if count > MAX_REPEAT:
        lowering.errors.error(f"repeat count {count:,} is more than {MAX_REPEAT:,}",
                              entry.value_locations.get("repeat"))
        return None
    index_name = entry.get("index", "index")
    body, body_location = entry["body"], entry.value_locations.get("body")
    current = inputs[0]
    if name is None:
        for index in range(count):
            current = lowering.lower_body(body, scope, current, context.with_variable(index_name, index),
                                          body_location)
        return current
    local = register_name(lowering, scope, name, "repeat", location, name_location(entry))
    path = scope.qualify(local)
    lowering.scopes.append(Scope(path, "repeat", None, count, None, location))
    repeat_scope = ScopeState(path, current, {str(i): DeclaredName(None, ()) for i in range(count)})
    lowering.scope_names[path] = repeat_scope.names
    single = body[0] if isinstance(body, LocatedSequence) and len(body) == 1 else body
    single_block = entry_key(single) if isinstance(single, (LocatedMapping, str)) else None
    single_key = single_block
    if single_block is not None and single_block.startswith("$"):
        single_block = lowering.block_reference(single_block, context, location, quiet=True)
    for index in range(count):
        iteration = context.with_variable(index_name, index)
        item_path = f"{path}.{index}"
        if single_block in lowering.blocks and not (isinstance(single, LocatedMapping) and "inputs" in single):
            current = lower_block_call(lowering, single, single_block, location, repeat_scope, [current], iteration,
                                       forced_path=item_path, index=index, written_key=single_key)
        else:
            lowering.scopes.append(Scope(item_path, "iteration", None, None, index, location))
            inner = ScopeState(item_path, current, declared_names(body))
            lowering.scope_names[item_path] = inner.names
            current = lowering.lower_body(body, inner, current, iteration, body_location)
        repeat_scope.names[str(index)] = Ref(current, item_path, location)
    scope.names[local] = Ref(current, path, location)
    return current


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
