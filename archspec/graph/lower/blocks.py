"""Block calls: arguments bound to the block's typed parameters, the body lowered in a scope of its own.

A block call makes a scope named by ``name:`` or automatically (``stage1``); its body sees the
spec's variables and the block's parameters, nothing else (lexical scoping), and the block's
``defaults`` on top of the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from archspec.errors import SourceLocation, did_you_mean
from archspec.graph.ir import Scope, ScopeKind
from archspec.graph.lower.names import declared_names, define, register_name
from archspec.graph.lower.state import MAX_BLOCK_DEPTH, Context, Ref, ScopeState
from archspec.spec.expressions import ExpressionError, substitute
from archspec.spec.located_yaml import LocatedMapping, describe
from archspec.spec.tree import BlockDefinition, CallEntry

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def lower_block_call(lowering: Lowering, entry: CallEntry, block_name: str, scope: ScopeState,
                     inputs: list[str | None], context: Context, forced_path: str | None = None,
                     index: int | None = None, location: SourceLocation | None = None) -> str | None:
    """The block's body in its own scope (``forced_path``: the scope of a repeat's iteration).

    ``location``: where to point (a repeat's iterations point at the repeat), else at the call.
    """
    location = location or entry.location
    if block_name in context.blocks_on_stack or len(context.blocks_on_stack) >= MAX_BLOCK_DEPTH:
        chain = " -> ".join((*context.blocks_on_stack, block_name))
        lowering.errors.error(f"block '{block_name}' calls itself: {chain}", location,
                              "blocks cannot be recursive")
        return None
    block = lowering.blocks[block_name]
    sound = not (entry.faulty or block.faulty)
    arguments = _bind_arguments(lowering, entry, block, context, location) if sound else None
    if len(inputs) != 1:
        lowering.errors.error(f"block '{block_name}' takes one input, got {len(inputs)}", location)
        return None
    if forced_path is not None:
        path, local = forced_path, None
    else:
        local = register_name(lowering, scope, entry.name, block_name, location, entry.name_location)
        path = scope.qualify(local)
    kind: ScopeKind = "iteration" if index is not None else "block"
    lowering.scopes.append(Scope(path, kind, block_name, None, index, location,
                                 tuple(arguments.items()) if arguments is not None else (),
                                 tuple(name for name, _ in block.register_first)))
    if arguments is None or inputs[0] is None:
        if local is not None:
            define(lowering, scope, local, Ref(None, path, location))
        return None
    inner = ScopeState(path, inputs[0], declared_names(block.body))
    lowering.scope_names[path] = inner.names
    inner_context = Context(
        {**lowering.spec.variables, **arguments},
        (*context.defaults, block.defaults) if block.defaults else context.defaults,
        (*context.blocks_on_stack, block_name),
    )
    output = lowering.lower_body(block.body, inner, inputs[0], inner_context)
    if local is not None:
        define(lowering, scope, local, Ref(output, path, location))
    return output


def check_register_first(lowering: Lowering, block: BlockDefinition) -> None:
    """``register_first`` names layers written in the block's own body (not inside a nested block), or containers
    of them (``up`` for ``up.0``, ``up.1``), once each."""
    declared = declared_names(block.body)
    containers = {name.partition(".")[0] for name in declared if "." in name}
    seen: set[str] = set()
    for name, location in block.register_first:
        if name in seen:
            lowering.errors.error(f"block '{block.name}': register_first names '{name}' twice", location)
        elif name not in declared and name not in containers:
            hint = did_you_mean(name, declared) or (
                f"its named layers: {', '.join(declared)}" if declared else "name the layers with name: first")
            lowering.errors.error(f"block '{block.name}': register_first names '{name}', which is not a named "
                                  "layer of its body", location, hint)
        seen.add(name)


def _bind_arguments(lowering: Lowering, entry: CallEntry, block: BlockDefinition, context: Context,
                    location: SourceLocation | None) -> dict[str, Any] | None:
    """Each declared parameter's value: the argument evaluated where it is written, else the default."""
    errors = lowering.errors
    block_name = block.name
    declared = block.params
    raw = entry.arguments
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
                errors.error(f"block '{block_name}' has no parameter '{key}'", raw.key_locations[key], hint)
                return None
    elif len(declared) == 1:
        (only,) = declared
        args = {only: raw}
        arg_locations = {only: entry.arguments_location}
    else:
        example = ", ".join(f"{name}: ..." for name in declared) or "..."
        errors.error(f"block '{block_name}' takes its arguments as a mapping, got {describe(raw)}",
                     entry.arguments_location or location, f"write {{{block_name}: {{{example}}}}}")
        return None
    bound: dict[str, Any] = {}
    ok = True
    for name, parameter in declared.items():
        where = arg_locations.get(name, location)
        if name in args:
            value = args[name]
            env = context.env
        elif parameter.has_default:
            value = parameter.default
            where = parameter.default_location or where
            env = dict(lowering.spec.variables)
        else:
            errors.error(f"block '{block_name}' is called without its parameter '{name}' ({parameter.type})",
                         location)
            ok = False
            continue
        try:
            value = substitute(value, env)
        except ExpressionError as exc:
            errors.error(str(exc), where, exc.hint)
            ok = False
            continue
        problem = _type_problem(parameter.type, value, lowering.blocks, lowering.ops)
        if problem:
            errors.error(f"block '{block_name}' parameter '{name}' is {problem}", where)
            ok = False
            continue
        bound[name] = value
    return bound if ok else None


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
