"""Names in scopes: registering a layer's name, resolving ``inputs:`` references, finding cycles.

Unnamed layers get ``<prefix><n>`` names, numbered per scope (``conv1``, ``conv2``, ``bn1``),
skipping the names written explicitly anywhere in the scope.  ``a.b`` reaches into the scope of
a named block or repeat, or a container's layer (``up.0``); ``input`` is the scope's input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archspec.errors import SourceLocation, did_you_mean
from archspec.graph.ir import INPUT, Scope
from archspec.graph.lower.state import DeclaredName, Ref, ScopeState
from archspec.spec.tree import Body, RepeatEntry, ResidualEntry

if TYPE_CHECKING:
    from archspec.graph.lower.lowering import Lowering


def resolve(lowering: Lowering, ref: str, scope: ScopeState, location: SourceLocation | None,
            user: str | None) -> str | None:
    """The node a reference names, or None (reported, unless the scope it reaches into failed)."""
    if ref == INPUT:
        return scope.input
    head, _, rest = ref.partition(".")
    found = scope.names.get(head)
    if found is None:
        _unknown_reference(lowering, ref, head, scope, location, user)
        return None
    walked = head
    while rest:
        part, _, rest = rest.partition(".")
        inner_scope = found.scope
        if inner_scope is not None and inner_scope not in lowering.scope_names:
            return None  # the block or repeat failed, and was reported
        names = lowering.scope_names.get(inner_scope or "", {}) if inner_scope else {}
        if part not in names:
            if found.container and f"{walked}.{part}" in scope.declared:
                _unknown_reference(lowering, f"{walked}.{part}", f"{walked}.{part}", scope, location, user)
                return None
            known = sorted(names)
            lowering.errors.error(f"'{walked}' has no layer named '{part}'", location,
                                  did_you_mean(part, known) or (f"it contains: {', '.join(known)}" if known else None))
            return None
        found = names[part]
        walked += "." + part
    if found.container:
        members = sorted(lowering.scope_names.get(found.scope or "", {}))
        lowering.errors.error(f"'{walked}' is a container of layers, not a layer", location,
                              f"name one of its layers: {', '.join(f'{walked}.{m}' for m in members)}")
        return None
    return found.node


def _unknown_reference(lowering: Lowering, ref: str, head: str, scope: ScopeState, location: SourceLocation | None,
                       user: str | None) -> None:
    declared = scope.declared.get(head)
    if declared is None and ref in scope.declared:
        head, declared = ref, scope.declared[ref]  # a container's layer (up.0) not defined yet
    if declared is not None:
        cycle = _cycle(head, user, scope) if user else None
        if cycle:
            lowering.errors.error(f"cycle between layers: {' -> '.join(cycle)}", location,
                                  "a layer's inputs must come before it; the graph must be acyclic")
        else:
            line = f" (line {declared.location.line})" if declared.location else ""
            lowering.errors.error(f"'{head}' is used before it is defined{line}", location,
                                  "inputs must refer to layers declared earlier in the same body")
        return
    known = [*scope.names, INPUT]
    hint = did_you_mean(head, known)
    if hint is None:
        shown = known if len(known) <= 10 else [*known[:4], "...", *known[-5:]]
        hint = f"layers defined so far in this scope: {', '.join(shown)}"
    lowering.errors.error(f"no layer named '{ref}' in this scope", location, hint)


def _cycle(target: str, user: str, scope: ScopeState) -> list[str] | None:
    """The path user -> target -> ... -> user through declared inputs, if there is one."""
    stack: list[tuple[str, list[str]]] = [(target, [user, target])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        declared = scope.declared.get(name)
        for ref in declared.inputs if declared else ():
            head = ref.split(".", 1)[0]
            if head == user:
                return [*path, user]
            stack.append((head, [*path, head]))
    return None


def declared_names(body: Body) -> dict[str, DeclaredName]:
    """Names given explicitly in a body, including spliced (unnamed repeat, residual) bodies."""
    declared: dict[str, DeclaredName] = {}
    for entry in body.entries:
        if entry.name is not None:
            declared.setdefault(entry.name, DeclaredName(entry.name_location,
                                                         tuple(ref.name for ref in entry.inputs or ())))
        if isinstance(entry, ResidualEntry) or (isinstance(entry, RepeatEntry) and entry.name is None):
            for inner_name, inner in declared_names(entry.body).items():
                declared.setdefault(inner_name, inner)
    return declared


def register_name(lowering: Lowering, scope: ScopeState, explicit: str | None, prefix: str,
                  location: SourceLocation | None,
                  name_location: SourceLocation | None = None) -> str:
    """Register a layer's local name in its scope (explicit, or the next free automatic one).

    ``container.member`` (``up.0``) registers ``member`` in the scope's container ``container``, made by the
    first such name.  A name that cannot be used is reported, and the layer goes on under an automatic name,
    so that later layers are not checked against a clobbered one.
    """
    where = name_location or location
    if isinstance(explicit, str):
        container, dot, member = explicit.partition(".")
        names = scope.names
        if dot:
            container_names = _container(lowering, scope, container, location, where)
            names = container_names if container_names is not None else names
        if explicit == INPUT or container == INPUT:
            lowering.errors.error("'input' is reserved for the scope's input and cannot name a layer", where)
        elif dot and names is scope.names:
            pass  # the container could not be made, and that was reported
        elif not dot and explicit in names and names[explicit].container:
            lowering.errors.error(f"'{explicit}' is already a container of layers ({explicit}.*), so it cannot name "
                                  "a layer", where, "choose another name")
        elif (member if dot else explicit) in names:
            first = names[member if dot else explicit].location
            if first is not None and location is not None and (first.line, first.column) == (
                    location.line, location.column):
                lowering.errors.error(f"duplicate layer name '{explicit}': this repeat's body runs more than once "
                                      "in the same scope", where,
                                      "name the repeat, so that each iteration gets its own scope "
                                      "(stage.0, stage.1, ...)")
            else:
                line = f" (first used on line {first.line})" if first else ""
                lowering.errors.error(f"duplicate layer name '{explicit}' in this scope{line}", where,
                                      "names must be unique within a block or the top level")
        else:
            return explicit
    number = scope.counters.get(prefix, 0)
    while True:
        number += 1
        candidate = f"{prefix}{number}"
        if candidate not in scope.names and candidate not in scope.declared:
            break
    scope.counters[prefix] = number
    return candidate


def define(lowering: Lowering, scope: ScopeState, local: str, ref: Ref) -> None:
    """What a registered local name stands for; a container's layer (``up.0``) is found through its container."""
    scope.names[local] = ref
    container, dot, member = local.partition(".")
    if dot:
        lowering.scope_names.setdefault(scope.qualify(container), {})[member] = ref


def _container(lowering: Lowering, scope: ScopeState, name: str, location: SourceLocation | None,
               where: SourceLocation | None) -> dict[str, Ref] | None:
    """The names in the scope's container ``name``, made (a scope of kind ``container``) if it is new;
    None, reported, if ``name`` is already a layer's."""
    found = scope.names.get(name)
    path = scope.qualify(name)
    if found is None:
        scope.names[name] = Ref(None, path, location, container=True)
        lowering.scope_names[path] = {}
        lowering.scopes.append(Scope(path, "container", location=location))
    elif not found.container:
        line = f" (line {found.location.line})" if found.location else ""
        lowering.errors.error(f"'{name}' already names a layer{line}, so it cannot hold layers named '{name}.*'",
                              where, "a dotted name puts a layer into a container of the module: "
                              "give the container a name of its own")
        return None
    return lowering.scope_names.setdefault(path, {})


def free_scope_name(lowering: Lowering, scope: ScopeState, wanted: str) -> str:
    """``shortcut`` for a scope's first residual, then ``shortcut2``, ``shortcut3``..."""
    taken = set(scope.names) | set(scope.declared) | lowering.child_scope_names(scope.path)
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}{number}" in taken:
        number += 1
    return f"{wanted}{number}"
