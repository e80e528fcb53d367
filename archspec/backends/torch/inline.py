"""archspec's own layer classes (``archspec.nn``), copied into generated source so that it needs only PyTorch.

A plugin's layer stays an import of the plugin's module (the user's code, installed where the source
runs); a class from ``archspec.nn`` is written into the file itself, with the module-level functions and
constants it uses and the imports they need, in the order ``archspec/nn.py`` defines them.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

INLINED_MODULE = "archspec.nn"
"""Layer classes from this module are copied into generated source instead of imported."""


@dataclass(frozen=True)
class InlinedCode:
    imports: tuple[str, ...]
    """Import statements the copied code needs besides ``torch`` and ``torch.nn`` (``import math``)."""
    code: str
    """The copied definitions, separated by two blank lines."""


@dataclass(frozen=True)
class _Definition:
    name: str
    source: str
    uses: frozenset[str]


def inlined_code(names: Iterable[str]) -> InlinedCode:
    """The definitions of ``names`` (classes of :data:`INLINED_MODULE`) and of everything they use."""
    definitions, imports = _module_definitions()
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in definitions:
            raise KeyError(f"{INLINED_MODULE} has no top-level definition '{name}'")
        wanted.add(name)
        pending.extend(use for use in definitions[name].uses if use in definitions)
    chosen = [definition for definition in definitions.values() if definition.name in wanted]
    used = set().union(*(definition.uses for definition in chosen)) if chosen else set()
    needed = tuple(statement for statement, bound in imports if bound & used and not bound <= {"torch", "nn"})
    return InlinedCode(needed, "\n\n\n".join(definition.source for definition in chosen))


@cache
def _module_definitions() -> tuple[dict[str, _Definition], tuple[tuple[str, frozenset[str]], ...]]:
    import importlib

    module = importlib.import_module(INLINED_MODULE)
    text = inspect.getsource(module)
    tree = ast.parse(text)
    lines = text.splitlines()
    definitions: dict[str, _Definition] = {}
    imports: list[tuple[str, frozenset[str]]] = []
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            continue
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            bound = frozenset((alias.asname or alias.name).split(".")[0] for alias in statement.names)
            imports.append((ast.unparse(statement), bound))
            continue
        name = _defined_name(statement)
        if name is None:
            continue
        first = min([statement.lineno, *(decorator.lineno for decorator in getattr(statement, "decorator_list", []))])
        assert statement.end_lineno is not None
        source = "\n".join(lines[first - 1:statement.end_lineno])
        uses = frozenset(node.id for node in ast.walk(statement) if isinstance(node, ast.Name)) - {name}
        definitions[name] = _Definition(name, source, uses)
    return definitions, tuple(imports)


def _defined_name(statement: ast.stmt) -> str | None:
    if isinstance(statement, (ast.ClassDef, ast.FunctionDef)):
        return statement.name
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id
    return None
