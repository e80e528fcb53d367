"""Load a spec: find the file, read it safely, validate it, merge what it ``extends``.

``load("vgg16")`` finds a built-in spec; ``load("path/to/net.yaml")`` a file.  The result is a
:class:`Spec`: the validated document plus the located data the lowering needs to point at
the exact line of any later error.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archspec.errors import Diagnostic, DiagnosticCollector, SourceLocation, SpecError, UsageError, did_you_mean
from archspec.ops.base import MAX_SIZE
from archspec.ops.registry import registered_ops
from archspec.spec.builtin import (
    SPEC_SUFFIXES,
    builtin_spec_names,
    exists,
    is_file,
    resolve_spec_path,
    zoo_spec_names,
)
from archspec.spec.expressions import ExpressionError, contains_expression, evaluate, is_expression, substitute
from archspec.spec.extends import check_extends_target, display_path, extends_roots
from archspec.spec.kinds import check_layer_kinds
from archspec.spec.located_yaml import (
    MAX_FILE_BYTES,
    LocatedMapping,
    LocatedSequence,
    describe,
    load_located_yaml,
    read_source,
)
from archspec.spec.merge import merge_extended
from archspec.spec.model import FORMAT_VERSION, language
from archspec.spec.tree import Body, Faults, SpecTree, build_tree
from archspec.spec.validation import diagnostics_from_validation, error_paths

MAX_EXTENDS_DEPTH = 16


@dataclass(frozen=True)
class Spec:
    """A validated spec, ready to be lowered into a graph."""

    name: str
    description: str
    path: str
    input_shape: tuple[int, ...]
    variables: dict[str, Any]
    plugins: tuple[str, ...]
    data: LocatedMapping = field(repr=False)
    """The merged, located document (every value knows its file, line and column)."""
    files: tuple[str, ...] = ()
    """This file and every file it extends, nearest first."""
    allow_dirs: tuple[str, ...] = ()
    """Directories outside the spec's own that ``extends`` was allowed to read (kept for reloading)."""
    tree: SpecTree = field(default_factory=lambda: SpecTree(Body(())), repr=False)
    """The layers and blocks as typed, located nodes: what the lowering reads."""

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"


def load(
    spec: str | Path,
    *,
    variables: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | list[int] | None = None,
    allow_dirs: Sequence[str | Path] = (),
) -> Spec:
    """Load, validate and merge a spec given by path or built-in name.

    ``variables`` override the spec's variables (each must exist in the spec); ``input_shape``
    overrides its input.  ``extends`` may reach files in the spec's own directory tree, the
    built-in specs and the directories in ``allow_dirs`` (like a compiler's include path), nothing
    else.  Raises SpecError with every problem found.
    """
    return load_collecting(spec, None, variables=variables, input_shape=input_shape, allow_dirs=allow_dirs)


def load_collecting(
    spec: str | Path,
    collected: list[Diagnostic] | None,
    *,
    variables: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | list[int] | None = None,
    allow_dirs: Sequence[str | Path] = (),
) -> Spec:
    """Like :func:`load`, but schema errors go into ``collected`` (when given) instead of stopping.

    The lowering can then run on the partly invalid spec and report its own problems too, so a
    person sees every error of a file at once.  Errors that leave nothing to lower still raise.
    """
    from archspec.plugins import load_entry_point_plugins

    load_entry_point_plugins()  # installed plugins, read by Python and the command line alike
    path = resolve_spec_path(str(spec))
    roots = extends_roots(path, allow_dirs)
    try:
        return _load(path, collected, variables, input_shape, roots)
    except SpecError as error:
        if not collected:
            raise
        # A line that already has a schema error gets no second complaint.
        seen = {(d.location.path, d.location.line) for d in collected if d.location}
        raise SpecError([*collected, *(d for d in error.diagnostics if d.location is None or (
            d.location.path, d.location.line) not in seen)]) from None


def _load(path: Path, collected: list[Diagnostic] | None, variables: Mapping[str, Any] | None,
          input_shape: tuple[int, ...] | list[int] | None, roots: tuple[Path, ...]) -> Spec:
    faults = Faults()
    data, files = _load_merged(path, chain=(), collected=collected, roots=roots, faults=faults)
    _check_required(data, bool(collected))
    _check_plugins(data)
    kinds = DiagnosticCollector()
    check_layer_kinds(data, kinds)
    noted = with_extends_notes(kinds.diagnostics, files)
    if collected is None and noted:
        raise SpecError(noted)
    if collected is not None:
        collected.extend(noted)
    declared = data.get("variables")
    merged_variables = dict(declared) if isinstance(declared, dict) else {}
    if variables:
        _apply_variable_overrides(data, merged_variables, variables, str(path))
    _evaluate_derived_variables(data, merged_variables)
    shape = _input_shape(data, merged_variables, input_shape, str(path))
    return Spec(
        name=data["name"],
        description=str(data.get("description") or "").strip(),
        path=str(path),
        input_shape=shape,
        variables=merged_variables,
        plugins=tuple(p for p in _list_or_empty(data.get("plugins")) if isinstance(p, str)),
        data=data,
        files=files,
        allow_dirs=tuple(str(root) for root in roots[2:]),
        tree=build_tree(data, {kind: registered.op for kind, registered in registered_ops().items()}, faults),
    )


def _evaluate_derived_variables(data: LocatedMapping, variables: dict[str, Any]) -> None:
    """A variable written as an expression is computed once, in order, from the variables before it.

    ``variables: {depth_mult: 1.1, depths: "${[ceil(1 * depth_mult), ceil(2 * depth_mult)]}"}``: a spec that
    extends this one, or ``--set depth_mult=2``, changes ``depth_mult`` and the derived ``depths`` follows.
    """
    declared = data.get("variables")
    locations = declared.value_locations if isinstance(declared, LocatedMapping) else {}
    for name, value in list(variables.items()):
        if contains_expression(value):
            try:
                variables[name] = substitute(value, variables)
            except ExpressionError as exc:
                raise SpecError.at(f"variable '{name}': {exc}", locations.get(name), exc.hint) from None


def _list_or_empty(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def with_extends_notes(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> list[Diagnostic]:
    """An error in a file that the spec extends says so, since the cause may be in the spec."""
    if len(files) < 2:
        return list(diagnostics)
    noted = []
    for diagnostic in diagnostics:
        path = diagnostic.location.path if diagnostic.location else None
        if path in files[1:]:
            chain = files[: files.index(path)]
            note = "this file is extended by " + ", which is extended by ".join(reversed(chain))
            diagnostic = replace(diagnostic, notes=(*diagnostic.notes, note))
        noted.append(diagnostic)
    return noted


def read_spec_file(path: Path, collected: list[Diagnostic] | None = None, faults: Faults | None = None, *,
                   quote: bool = True) -> LocatedMapping:
    """Read and validate one file on its own (without following ``extends``).

    With ``collected``, schema errors are added to it rather than raised, and ``faults`` records
    where in the data they lie (so that the lowering does not report them again).  With
    ``quote=False`` (a file named by ``extends``, which an untrusted spec chooses), a file that is
    not a spec (no mapping with an ``archspec:`` line) is named but none of its text is printed.
    """
    display = display_path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)  # bounded: /dev/zero is a path too
    except FileNotFoundError:
        raise SpecError.at(f"no such spec file: {display}", hint=_nearby_spec(path)) from None
    except IsADirectoryError:
        raise SpecError.at(f"{display} is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecError.at(f"cannot read {display}: {exc.strerror}") from None
    except ValueError:
        raise SpecError.at(f"cannot read {display}: not a valid file name") from None
    try:
        source = read_source(display, raw)
        data = load_located_yaml(source)
    except SpecError as exc:
        if quote:
            raise
        raise SpecError([_unquoted(d) for d in exc.diagnostics]) from None
    where = SourceLocation(display, 1, 1, source.lines[0] if source.lines else "")
    if data is None:
        raise SpecError.at("spec file is empty", where,
                           hint="a spec starts with 'archspec: 1', a name, an input shape and layers")
    if not quote and (not isinstance(data, LocatedMapping) or "archspec" not in data):
        raise SpecError.at(f"{display} is not a spec: a spec is a mapping that starts with 'archspec: 1'",
                           replace(where, line_text=""))
    if not isinstance(data, LocatedMapping):
        raise SpecError.at(f"a spec must be a mapping of keys (archspec, name, input, layers...), got {describe(data)}",
                           getattr(data, "location", where))
    version_problems = _version_problems(data, where)
    model = language().spec_model
    checked = data if not version_problems else {**data, "archspec": FORMAT_VERSION}
    diagnostics = list(version_problems)
    try:
        model.model_validate(checked)
    except ValidationError as exc:
        diagnostics.extend(diagnostics_from_validation(exc, data, model))
        if faults is not None:
            for fault in error_paths(exc, data):
                faults.add(data, fault)
    if not diagnostics:
        return data
    schema_errors = len(diagnostics)
    collector = DiagnosticCollector(diagnostics)
    check_layer_kinds(data, collector, only_local=True)
    if faults is not None:
        for diagnostic in collector.diagnostics[schema_errors:]:
            faults.add_reported(diagnostic.location)  # unknown layer kinds
    if collected is None:
        raise SpecError(collector.diagnostics) from None
    collected.extend(collector.diagnostics)
    return data


def _version_problems(data: LocatedMapping, start: SourceLocation) -> list[Diagnostic]:
    """What is wrong with the ``archspec:`` line, reported with the rest of the file's errors.

    A spec written for a newer language version stops here: the rest of it is in a language this
    archspec does not read, so its other "errors" would only mislead.
    """
    if "archspec" not in data:
        return [Diagnostic("missing 'archspec: 1' (the spec-language version) at the top of the file", start,
                           hint="add the line 'archspec: 1'")]
    version, version_at = data["archspec"], data.value_locations["archspec"]
    if not isinstance(version, int) or isinstance(version, bool):
        return [Diagnostic(f"'archspec' is the language version, {FORMAT_VERSION}; got {describe(version)}",
                           version_at, hint=f"write 'archspec: {FORMAT_VERSION}'")]
    if version > FORMAT_VERSION:
        raise SpecError.at(f"this spec is written in language version {version}; archspec reads version "
                           f"{FORMAT_VERSION}", version_at, hint=f"write 'archspec: {FORMAT_VERSION}' and the spec in "
                           "that version")
    if version != FORMAT_VERSION:
        return [Diagnostic(f"this spec is written in language version {version}; archspec reads version "
                           f"{FORMAT_VERSION}", version_at, hint=f"write 'archspec: {FORMAT_VERSION}'")]
    return []


def _nearby_spec(path: Path) -> str | None:
    """A did-you-mean for a missing file: a spec beside it with a close name, or a built-in spec."""
    try:
        siblings = [p.name for p in path.parent.iterdir() if p.suffix in SPEC_SUFFIXES]
    except OSError:
        siblings = []
    close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.75)
    if close:
        return f"did you mean '{path.parent / close[0]}'?"
    if path.stem in builtin_spec_names() or path.stem in zoo_spec_names():
        return f"'{path.stem}' is a built-in spec: write just '{path.stem}'"
    return None


def _unquoted(diagnostic: Diagnostic) -> Diagnostic:
    """The diagnostic without the source line it would print."""
    if diagnostic.location is None:
        return diagnostic
    return replace(diagnostic, location=replace(diagnostic.location, line_text=""))


def _load_merged(path: Path, chain: tuple[Path, ...], collected: list[Diagnostic] | None = None,
                 roots: tuple[Path, ...] = (), faults: Faults | None = None) -> tuple[LocatedMapping, tuple[str, ...]]:
    resolved = path.resolve()
    data = read_spec_file(path, collected, faults, quote=not chain)
    parent_ref = data.get("extends")
    if not isinstance(parent_ref, str):  # none, or not a path (which the schema reports)
        return data, (display_path(path),)
    where = data.value_locations["extends"]
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise SpecError.at(f"'extends' chain is longer than {MAX_EXTENDS_DEPTH} files", where)
    try:
        parent_path = resolve_spec_path(parent_ref, relative_to=path.parent)
    except SpecError as exc:
        first = exc.diagnostics[0]
        raise SpecError.at(first.message, where, first.hint) from None
    check_extends_target(parent_ref, parent_path, roots or extends_roots(path), where)
    if not is_file(parent_path):
        shown = display_path(parent_path)
        problem = "is a directory" if exists(parent_path) else "does not exist"
        raise SpecError.at(f"cannot extend '{parent_ref}': {shown} {problem}", where,
                           hint="'extends' takes a path relative to this file, or a built-in spec's name")
    visited = (*chain, resolved)
    if parent_path.resolve() in visited:
        cycle = " -> ".join(p.name for p in (*visited[visited.index(parent_path.resolve()):], parent_path))
        raise SpecError.at(f"'extends' forms a cycle: {cycle}", where)
    already = len(collected) if collected is not None else 0
    try:
        parent, parent_files = _load_merged(parent_path, visited, collected, roots, faults)
    except SpecError as exc:
        raise SpecError(_extended_by(exc.diagnostics, where)) from None
    if collected is not None:
        collected[already:] = _extended_by(collected[already:], where)
    return merge_extended(parent, data), (display_path(path), *parent_files)


def _extended_by(diagnostics: Sequence[Diagnostic], where: SourceLocation) -> list[Diagnostic]:
    """Errors in an extended file, with a note saying where it is extended from."""
    note = f"this file is extended by {where}"
    return [replace(d, notes=(*d.notes, note)) if d.location is not None and d.location.path != where.path else d
            for d in diagnostics]


_REQUIRED = {"name": "name: mynet", "input": "input: [3, 224, 224]", "layers": "layers: [...]"}


def _check_required(data: LocatedMapping, schema_failed: bool) -> None:
    """name, input and layers, which may come from the spec or from one it extends.

    After schema errors, a key that is missing because it is misspelt (``layer:``) is left to
    the schema's "unknown key 'layer'; did you mean 'layers'?", but loading still stops.
    """
    missing = [key for key in _REQUIRED if data.get(key) is None]
    if not missing:
        return
    if schema_failed:
        strangers = [str(key) for key in data if key not in language().spec_model.model_fields]
        missing = [key for key in missing if not difflib.get_close_matches(key, strangers, n=1)]
        if not missing:
            raise SpecError([])
    listed = ", ".join(f"'{key}'" for key in missing[:-1]) + (" or " if len(missing) > 1 else "")
    listed += f"'{missing[-1]}'"
    example = ", ".join(f"'{_REQUIRED[key]}'" for key in missing)
    raise SpecError.at(f"spec has no {listed}", data.location, hint=f"add {example}")


def _check_plugins(data: LocatedMapping) -> None:
    """Every plugin the spec names is loaded; the error says how to get a missing one."""
    needed = data.get("plugins") or []
    if not isinstance(needed, list) or not needed:
        return  # the schema reports a value that is not a list
    from archspec.plugins import load_entry_point_plugins, loaded_plugins

    load_entry_point_plugins()
    available = loaded_plugins()
    collector = DiagnosticCollector()
    locations = data["plugins"].item_locations if isinstance(data["plugins"], LocatedSequence) else []
    for index, name in enumerate(needed):
        if name not in available:
            where = locations[index] if index < len(locations) else data.value_locations.get("plugins")
            collector.error(f"this spec needs the plugin '{name}', which is not loaded", where,
                            hint=_missing_plugin_hint(name))
    collector.raise_if_any()


def _missing_plugin_hint(name: str) -> str:
    """What to do about a plugin that is not loaded: it differs whether its module can be imported here."""
    import importlib.util
    import os

    from archspec.plugins import DISABLE_AUTOLOAD

    try:
        importable = importlib.util.find_spec(name) is not None  # finds, never imports
    except (ImportError, ValueError):
        importable = False
    if not importable:
        return (f"no module '{name}' is installed here: install the package that provides it (archspec then "
                f"loads it by itself through its 'archspec.ops' entry point), or put its directory on "
                f"PYTHONPATH and pass --plugin {name}")
    why = f" ({DISABLE_AUTOLOAD} is set)" if os.environ.get(DISABLE_AUTOLOAD) else ""
    return (f"the module '{name}' is importable but was not loaded{why}: pass --plugin {name}, or import {name} "
            f"before archspec.load()")


def _apply_variable_overrides(data: LocatedMapping, merged: dict[str, Any], overrides: Mapping[str, Any],
                              path: str) -> None:
    for key, value in overrides.items():
        if key not in merged:
            known = ", ".join(sorted(merged))
            hint = did_you_mean(key, merged) or (
                f"its variables are: {known}" if merged else "it declares no variables")
            raise UsageError(f"cannot set variable '{key}': {display_path(Path(path))} has no such variable\n"
                             f"  hint: {hint}")
        merged[key] = value


def _input_shape(data: LocatedMapping, variables: dict[str, Any], override: Any, path: str) -> tuple[int, ...]:
    if override is not None:
        if not _is_shape(override):
            raise UsageError(f"an input shape is C,H,W or F, positive integers up to {MAX_SIZE:,}; got {override!r}")
        return tuple(override)
    value = data["input"]
    location = data.value_locations["input"]
    if is_expression(value):
        try:
            value = evaluate(value, variables)
        except ExpressionError as exc:
            raise SpecError.at(str(exc), location, exc.hint) from None
    if not _is_shape(value):
        raise SpecError.at(f"'input' must be [C, H, W] or [features], got {_plain(value)}", location,
                           hint="an image is [channels, height, width], e.g. [3, 224, 224]; the batch is left out")
    return tuple(value)


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) in (1, 3) and all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_SIZE for d in value)


def _plain(value: Any) -> str:
    return "[" + ", ".join(map(_plain, value)) + "]" if isinstance(value, (list, tuple)) else repr(value)
