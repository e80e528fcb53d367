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
from archspec.graph.lower.names import declared_names, name_location, register_name
from archspec.graph.lower.state import MAX_BLOCK_DEPTH, Context, Ref, ScopeState
from archspec.spec.expressions import ExpressionError, substitute
from archspec.spec.located_yaml import LocatedMapping, describe

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def lower_block_call(lowering: Lowering, entry: Any, block_name: str, location: SourceLocation | None,
                     scope: ScopeState, inputs: list[str | None], context: Context, forced_path: str | None = None,
                     index: int | None = None, written_key: str | None = None) -> str | None:
    """The block's body in its own scope (``forced_path``: the scope of a repeat's iteration)."""
    if block_name in context.blocks_on_stack or len(context.blocks_on_stack) >= MAX_BLOCK_DEPTH:
        chain = " -> ".join((*context.blocks_on_stack, block_name))
        lowering.errors.error(f"block '{block_name}' calls itself: {chain}", location,
                              "blocks cannot be recursive")
        return None
    block: LocatedMapping = lowering.blocks[block_name]
    arguments = _bind_arguments(lowering, entry, block_name, written_key or block_name, block, location, context)
    if len(inputs) != 1:
        lowering.errors.error(f"block '{block_name}' takes one input, got {len(inputs)}", location)
        return None
    if forced_path is not None:
        path, local = forced_path, None
    else:
        explicit = entry.get("name") if isinstance(entry, LocatedMapping) else None
        local = register_name(lowering, scope, explicit, block_name, location, name_location(entry))
        path = scope.qualify(local)
    kind: ScopeKind = "iteration" if index is not None else "block"
    lowering.scopes.append(Scope(path, kind, block_name, None, index, location,
                                 tuple(arguments.items()) if arguments is not None else ()))
    if arguments is None or inputs[0] is None:
        if local is not None:
            scope.names[local] = Ref(None, path, location)
        return None
    inner = ScopeState(path, inputs[0], declared_names(block["body"]))
    lowering.scope_names[path] = inner.names
    block_defaults = block.get("defaults")
    inner_context = Context(
        {**lowering.spec.variables, **arguments},
        (*context.defaults, block_defaults) if block_defaults else context.defaults,
        (*context.blocks_on_stack, block_name),
    )
    output = lowering.lower_body(block["body"], inner, inputs[0], inner_context, block.value_locations.get("body"))
    if local is not None:
        scope.names[local] = Ref(output, path, location)
    return output


def _bind_arguments(lowering: Lowering, entry: Any, block_name: str, written_key: str, block: LocatedMapping,
                    location: SourceLocation | None, context: Context) -> dict[str, Any] | None:
    """Each declared parameter's value: the argument evaluated where it is written, else the default."""
    errors = lowering.errors
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
                errors.error(f"block '{block_name}' has no parameter '{key}'", raw.key_locations[key], hint)
                return None
    elif len(declared) == 1:
        (only,) = declared
        args = {only: raw}
        arg_locations = {only: entry.value_locations.get(written_key)}
    else:
        example = ", ".join(f"{name}: ..." for name in declared) or "..."
        errors.error(f"block '{block_name}' takes its arguments as a mapping, got {describe(raw)}",
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
            env = dict(lowering.spec.variables)
        else:
            errors.error(f"block '{block_name}' is called without its parameter '{name}' ({type_name})", location)
            ok = False
            continue
        try:
            value = substitute(value, env)
        except ExpressionError as exc:
            errors.error(str(exc), where, exc.hint)
            ok = False
            continue
        problem = _type_problem(type_name, value, lowering.blocks, lowering.ops)
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
