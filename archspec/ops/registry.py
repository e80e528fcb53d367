"""The op registry: every layer kind archspec knows, built-in or added by a user.

Lookups go through here and nowhere else, so a user's op is as first-class as ``conv2d``.
The registry knows nothing of the layers above it: the plugin loader says which plugin is being
imported (:func:`registering_for`), and the spec language rebuilds its models when
:func:`registry_generation` changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from archspec.errors import UsageError
from archspec.ops.base import Op


@dataclass(frozen=True)
class RegisteredOp:
    op: Op
    source: str
    """Where it came from: ``built-in``, ``python`` (registered in-process) or a plugin name."""


_REGISTRY: dict[str, RegisteredOp] = {}
_generation = 0
_plugins_importing: list[str] = []

RESERVED_KINDS = frozenset({"repeat", "residual", "name", "inputs", "body"})


def register_op(op: Op | type[Op], *, source: str | None = None, replace: bool = False) -> Op:
    """Make an op usable in specs.  Accepts an instance or a class (instantiated with no arguments).

    ``source`` says where it comes from in ``archspec list --ops``; by default the plugin being
    loaded, else ``python``.  Raises UsageError if the kind is taken (``replace=True`` redefines a
    user op) or the definition is incomplete.
    """
    if source != "built-in":
        _ensure_builtins()  # built-ins first, and a user's op cannot take a built-in's kind
    if source is None:
        plugin = current_plugin()
        source = f"plugin {plugin}" if plugin else "python"
    instance = op() if isinstance(op, type) else op
    kind = getattr(instance, "kind", None)
    if not isinstance(kind, str) or not kind.isidentifier():
        raise UsageError(f"{type(instance).__name__}: an op needs a 'kind' that is an identifier, got {kind!r}")
    if kind in RESERVED_KINDS:
        raise UsageError(f"'{kind}' is a reserved word of the spec language and cannot name an op")
    existing = _REGISTRY.get(kind)
    if existing is not None and not replace:
        if type(existing.op) is type(instance):
            return existing.op
        raise UsageError(f"an op named '{kind}' is already registered (from {existing.source})")
    if existing is not None and existing.source == "built-in" and source != "built-in":
        raise UsageError(f"'{kind}' is a built-in op and cannot be replaced")
    _check_definition(instance)
    _REGISTRY[kind] = RegisteredOp(instance, source)
    _changed()
    return instance


def unregister_op(kind: str) -> None:
    """Remove a user-registered op (built-ins stay)."""
    registered = _REGISTRY.get(kind)
    if registered is not None and registered.source != "built-in":
        del _REGISTRY[kind]
        _changed()


def get_op(kind: str) -> Op | None:
    _ensure_builtins()
    registered = _REGISTRY.get(kind)
    return registered.op if registered else None


def registered_ops() -> dict[str, RegisteredOp]:
    """Every op, built-in ones first, in registration order."""
    _ensure_builtins()
    return dict(_REGISTRY)


def registry_generation() -> int:
    """A number that changes whenever an op is registered or removed: what depends on the set of ops
    (the spec language's models, its JSON Schema) caches against it."""
    _ensure_builtins()
    return _generation


def _changed() -> None:
    global _generation
    _generation += 1


@contextmanager
def registering_for(plugin: str) -> Iterator[None]:
    """Ops registered inside this block, without a ``source``, come from ``plugin`` (being imported)."""
    _plugins_importing.append(plugin)
    try:
        yield
    finally:
        _plugins_importing.pop()


def current_plugin() -> str | None:
    """The plugin being imported right now, if any (ops registered meanwhile belong to it)."""
    return _plugins_importing[-1] if _plugins_importing else None


def _check_definition(op: Op) -> None:
    from pydantic import BaseModel

    params = getattr(op, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise UsageError(f"op '{op.kind}': Params must be a pydantic model class")
    if op.shorthand not in (None, "inputs") and op.shorthand not in params.model_fields:
        raise UsageError(f"op '{op.kind}': shorthand '{op.shorthand}' is not one of its parameters")
    if op.min_inputs < 1 or (op.max_inputs is not None and op.max_inputs < op.min_inputs):
        raise UsageError(f"op '{op.kind}': min_inputs/max_inputs are inconsistent")


_builtins_loaded = False


def _ensure_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        from archspec.ops import builtin

        for op_class in builtin.BUILTIN_OPS:
            register_op(op_class, source="built-in")
