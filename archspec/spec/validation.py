"""Turn pydantic's validation errors into located diagnostics a person can act on.

pydantic reports a path (``loc``) through the data *and* through the types it tried (union
members, model names).  We walk the loc through the located YAML to find the source position,
walk it through the models to find which keys were allowed (for "did you mean"), and merge the
several errors a union produces for one value into one message.
"""

from __future__ import annotations

import types
import typing
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from archspec.errors import Diagnostic, did_you_mean
from archspec.ops.registry import get_op
from archspec.spec.located_yaml import describe, location_of

_CONSTRAINT_ERRORS = {
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "value_error", "assertion_error",
    "multiple_of", "string_too_long",
}
_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "tuple_type": "a pair [a, b]", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "none_required": "nothing",
}


def diagnostics_from_validation(error: ValidationError, root: Any, root_model: type[BaseModel],
                                what: str = "") -> list[Diagnostic]:
    """Located diagnostics for every problem pydantic found in ``root`` (the located YAML data).

    A value that may take several forms (``conv2d: 64`` or ``conv2d: {channels: 64}``) fails once
    per form; when one form got further into the value (its errors lie deeper in the data), the
    person meant that form, so the shallower complaints ("expected an integer") are dropped.
    """
    grouped: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    missing: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    entry_paths: set[tuple[Any, ...]] = set()  # where a layer entry is wrong as a whole
    found: list[tuple[tuple[Any, ...], Diagnostic, bool]] = []  # (data path, diagnostic, may be shadowed)
    for raw in error.errors():
        loc = tuple(raw["loc"])
        data_path = _data_path(root, loc)
        kind = raw["type"]
        if "layer:invalid" in loc:
            entry_path = _data_path(root, loc[: loc.index("layer:invalid")])
            entry = _value_at(root, entry_path)
            if entry_path not in entry_paths:
                entry_paths.add(entry_path)
                found.append((entry_path, _invalid_entry(root, entry_path, entry), True))
        elif loc[-1:] == ("[key]",):
            found.append((data_path, Diagnostic(
                f"'{data_path[-1]}' is not a valid name: use letters, digits and _, not starting with a digit",
                location_of(root, data_path, key=True)), False))
        elif kind == "extra_forbidden":
            found.append((data_path, _unknown_key(root, root_model, loc, data_path, what), False))
        elif kind == "missing":
            missing[data_path].append(str(loc[-1]))
        elif kind == "union_tag_invalid":
            entry_paths.add(data_path)
            found.append((data_path, _invalid_entry(root, data_path, raw["input"]), True))
        else:
            grouped[data_path].append(raw)
    for data_path, keys in missing.items():
        listed = " and ".join(f"'{key}'" for key in keys) if len(keys) <= 2 else (
            ", ".join(f"'{key}'" for key in keys[:-1]) + f" and '{keys[-1]}'")
        plural = "s" if len(keys) > 1 else ""
        # Recorded one level deeper than the mapping, so that a union member's complaint about
        # the mapping as a whole ("expected an integer") gives way to it.
        found.append(((*data_path, keys[0]), Diagnostic(f"missing required key{plural} {listed}{what}",
                                                        location_of(root, data_path, key=True)), False))
    for data_path, errors in grouped.items():
        if data_path in entry_paths:
            continue  # ``body: 5``: "a layer entry must be..." says it; "expected a list" would repeat it
        kinds = {e["type"] for e in errors if not _is_expression_member(e)}
        lengths_only = bool(kinds) and kinds <= {"too_short", "too_long"}
        found.append((data_path, _value_diagnostic(root, data_path, errors), not lengths_only))
    paths = [path for path, _, _ in found]
    return [diagnostic for path, diagnostic, shadowable in found
            if not (shadowable and any(len(other) > len(path) and other[: len(path)] == path for other in paths))]


def error_paths(error: ValidationError, root: Any) -> list[tuple[Any, ...]]:
    """Where in ``root`` (the located data) each of pydantic's errors lies; for a wrong layer entry, the entry."""
    paths = []
    for raw in error.errors():
        loc = tuple(raw["loc"])
        if "layer:invalid" in loc:
            loc = loc[: loc.index("layer:invalid")]
        paths.append(_data_path(root, loc))
    return paths


def _unknown_key(root: Any, root_model: type[BaseModel], loc: tuple[Any, ...], data_path: tuple[Any, ...],
                 what: str) -> Diagnostic:
    key = loc[-1]
    location = location_of(root, data_path, key=True)
    kind = _op_entry_kind(loc[:-1])
    if kind is not None and key in ("name", "inputs"):
        return Diagnostic(f"unknown key '{key}' among the parameters of {kind}", location,
                          hint=f"'{key}' belongs beside the layer kind, not inside its parameters: "
                               f"{{{kind}: {{...}}, {key}: ...}}")
    if key == "<<":
        return Diagnostic("YAML merge keys ('<<') are not supported in a spec", location,
                          hint="share parameters with 'defaults:', or a repeated structure with 'blocks:'")
    allowed = _allowed_keys(root_model, loc[:-1])
    hint = did_you_mean(str(key), allowed) if allowed else None
    if hint is None and allowed:
        hint = "allowed here: " + ", ".join(allowed)
    return Diagnostic(f"unknown key '{key}'{what}", location, hint)


def _op_entry_kind(loc: Sequence[Any]) -> str | None:
    """The op whose entry value (or parameters) ``loc`` points into: ``(..., 'layer:conv2d', 'conv2d', ...)``."""
    for index, step in enumerate(loc[:-1]):
        if isinstance(step, str) and step.startswith("layer:") and loc[index + 1] == step[len("layer:"):]:
            kind = loc[index + 1]
            return kind if get_op(kind) is not None else None
    return None


def _value_diagnostic(root: Any, data_path: tuple[Any, ...], errors: list[dict[str, Any]]) -> Diagnostic:
    location = location_of(root, data_path)
    field = _field_name(data_path)
    value = errors[0]["input"]
    if len(errors) > 1:
        errors = [e for e in errors if not _is_expression_member(e)] or errors
    hint = _entry_value_hint(errors, data_path, value)
    constraint = next((e for e in errors if e["type"] in _CONSTRAINT_ERRORS), None)
    lengths = [e for e in errors if e["type"] in ("too_short", "too_long")]
    if constraint is not None:
        return Diagnostic(f"{field}{_constraint_message(constraint)}", location, hint)
    if lengths and len(lengths) == len(errors):
        return Diagnostic(f"{field}{_constraint_message(lengths[0])}", location, hint)
    expected: list[str] = []
    for err in errors:
        if err["type"] == "literal_error":
            expected.extend(_choices(err["ctx"]["expected"]))
        elif err["type"] == "string_pattern_mismatch":
            expected.append(_pattern_meaning(err["ctx"].get("pattern", "")))
        elif err["type"] in ("too_short", "too_long"):
            expected.append(_sized(err))
        else:
            expected.append(_EXPECTED.get(err["type"], err["msg"].removeprefix("Input should be ")))
    unique = list(dict.fromkeys(expected))
    wanted = unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " or " + unique[-1]
    return Diagnostic(f"{field}expected {wanted}, got {describe(value)}", location, hint)


def _choices(expected: str) -> list[str]:
    """pydantic's "'a', 'b' or 'c'" as ["'a'", "'b'", "'c'"]."""
    head, _, last = expected.rpartition(" or ")
    return [*(part for part in head.split(", ") if part), last]


def _sized(err: dict[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if ctx.get("field_type") == "Tuple" and ctx.get("max_length") == 2:
        return "a pair [a, b]"
    return f"a list of {_length_range(ctx)} items"


def _entry_value_hint(errors: list[dict[str, Any]], data_path: tuple[Any, ...], value: Any) -> str | None:
    """For ``{relu: 1}`` or ``{add: a}``: how the op's value is written."""
    kind = _op_entry_kind((*errors[0]["loc"], None))
    op = get_op(kind) if kind else None
    if op is None or not data_path or data_path[-1] != kind:
        return None
    if op.shorthand == "inputs":
        return f"name its inputs in a list: {{{kind}: [a, b]}}"
    if op.shorthand is None and not isinstance(value, dict):
        if not op.Params.model_fields:
            return f"{kind} takes no parameters: write just '- {kind}'"
        return f"{kind} has no shorthand value: write '- {kind}', or its parameters as a mapping"
    return None


def _is_expression_member(err: dict[str, Any]) -> bool:
    ctx = err.get("ctx") or {}
    return (err["type"] == "string_pattern_mismatch" and ctx.get("pattern") == r"^\$") or (
        err["type"] == "string_type" and str(err["loc"][-1]) == "constrained-str"
    )


def _pattern_meaning(pattern: str) -> str:
    if pattern.startswith("^[A-Za-z_]"):
        return "a name (letters, digits and _, not starting with a digit)"
    if pattern == r"^\$":
        return "an expression starting with $"
    if pattern.startswith("^[A-Za-z0-9_][A-Za-z0-9_-]*"):
        what = "a layer name (letters, digits, _ and inner -)"
        return what + (", or container.name with one dot" if "\\." in pattern else "")
    return f"text matching {pattern}"


def _constraint_message(err: dict[str, Any]) -> str:
    ctx, value, kind = err.get("ctx") or {}, err["input"], err["type"]
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {value}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']:,}, got {value:,}" if isinstance(value, int) else (
            f"must be at most {ctx['le']}, got {value}")
    if kind == "less_than":
        return f"must be less than {ctx['lt']}, got {value}"
    if kind in ("too_short", "too_long"):
        return f"expected {_length_range(ctx)} items, got {ctx.get('actual_length')}"
    message: str = err["msg"]
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if message.startswith("expected ") and "got" not in message:
        message += f", got {describe(value)}"
    return message


def _length_range(ctx: dict[str, Any]) -> str:
    low, high = ctx.get("min_length"), ctx.get("max_length")
    if low is not None and high is not None:
        return str(low) if low == high else f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _field_name(data_path: tuple[Any, ...]) -> str:
    for step in reversed(data_path):
        if isinstance(step, str):
            return f"'{step}': "
    return ""


def _invalid_entry(root: Any, data_path: tuple[Any, ...], value: Any) -> Diagnostic:
    location = location_of(root, data_path)
    if isinstance(value, dict):
        kinds = [k for k in value if k not in ("name", "inputs", "body", "index")]
        if not kinds:
            return Diagnostic("layer entry has no layer kind", location,
                              hint="write the kind as the key, e.g. {conv2d: 64, name: conv1}")
        listed = ", ".join(f"'{k}'" for k in kinds)
        return Diagnostic(f"layer entry has several layer kinds ({listed}); each entry is one layer", location,
                          hint="split it into one entry per layer")
    return Diagnostic(f"a layer entry must be a layer kind or a mapping, got {describe(value)}", location)


def _value_at(root: Any, data_path: tuple[Any, ...]) -> Any:
    node = root
    for step in data_path:
        node = node[step]
    return node


def _data_path(root: Any, loc: Sequence[Any]) -> tuple[Any, ...]:
    """The part of a pydantic loc that walks through the data (union tags and type names dropped)."""
    node, path = root, []
    for step in loc:
        in_mapping = isinstance(node, dict) and step in node
        in_sequence = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_mapping or in_sequence:
            node = node[step]
            path.append(step)
    return tuple(path)


def _allowed_keys(root_model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the model at ``loc`` accepts, for did-you-mean."""
    current: Any = root_model
    for step in loc:
        current = _step(current, step)
        if current is None:
            return []
    models = [m for m in _members(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(models) != 1:
        return []
    return [info.alias or name for name, info in models[0].model_fields.items()]


def _members(annotation: Any) -> list[Any]:
    """Flatten Annotated / Union / Optional into their member types."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members: list[Any] = []
        for arg in typing.get_args(annotation):
            members.extend(_members(arg))
        return members
    return [annotation]


def _step(annotation: Any, step: Any) -> Any:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if isinstance(step, str) and step in member.model_fields:
                return member.model_fields[step].annotation
            if step == member.__name__:
                return member
        origin = typing.get_origin(member)
        if origin is dict and not isinstance(step, int):
            return typing.get_args(member)[1]
        if origin is list and isinstance(step, int):
            return typing.get_args(member)[0]
    if isinstance(step, str) and step.startswith("layer:"):
        from archspec.spec.model import language

        lang = language()
        kind = step.split(":", 1)[1]
        return {"repeat": lang.repeat_model, "residual": lang.residual_model}.get(kind) or lang.entry_models.get(kind)
    return None
