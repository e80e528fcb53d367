"""One diagram block of a docs page (an MkDocs fence, a Sphinx directive) turned into HTML.

A block names a spec (``spec: NAME_OR_PATH``, with options) or holds a whole spec inline.  Both
doc tools share this module, so a block means the same in each: the figure drawn at build time
from the real spec, as inline SVG, and the summary table under it on request.  A block that
cannot be drawn raises :class:`BlockError`, whose text is the usual diagnostics, located in the
spec file, or in the page itself for an inline spec.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError, Diagnostic, SpecError

OPTIONS = ("style", "depth", "rankdir", "expand", "params", "summary", "set")
RANKDIRS = ("TB", "LR", "BT", "RL")


class BlockError(ArchspecError):
    """A block of a docs page cannot be drawn; the message says where and why."""


@dataclass(frozen=True)
class BlockOptions:
    """How to draw a block: the options of ``archspec render``, and whether to add the summary."""

    style: str = "graph"
    depth: int | None = None
    rankdir: str = "TB"
    expand: bool = False
    params: bool = False
    summary: bool = False
    variables: tuple[tuple[str, Any], ...] = ()
    """``set:``, the spec's variables overridden (as ``--set NAME=VALUE`` does)."""


@dataclass(frozen=True)
class RenderedBlock:
    html: str
    files: tuple[Path, ...] = field(default=())
    """The spec files the drawing came from (the spec and every file it extends), to watch."""


def parse_options(values: Mapping[str, Any]) -> BlockOptions:
    """Checked options from a block's mapping; raises BlockError naming the bad one."""
    unknown = [key for key in values if key not in OPTIONS]
    if unknown:
        raise BlockError(f"unknown option '{unknown[0]}' (options: spec, {', '.join(OPTIONS)})")
    style = values.get("style", "graph")
    if style not in ("graph", "volumes"):
        raise BlockError(f"style must be graph or volumes, got '{style}'")
    depth = values.get("depth")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise BlockError(f"depth must be a whole number ≥ 0, got '{depth}'")
    rankdir = str(values.get("rankdir", "TB")).upper()
    if rankdir not in RANKDIRS:
        raise BlockError(f"rankdir must be one of {', '.join(RANKDIRS)}, got '{values.get('rankdir')}'")
    flags = {}
    for name in ("expand", "params", "summary"):
        value = values.get(name, False)
        if not isinstance(value, bool):
            raise BlockError(f"{name} must be true or false, got '{value}'")
        flags[name] = value
    overrides = values.get("set") or {}
    if not isinstance(overrides, dict) or not all(isinstance(name, str) for name in overrides):
        raise BlockError("set must be a mapping of variable names to values, e.g. {classes: 10}")
    return BlockOptions(style, depth, rankdir, **flags, variables=tuple(overrides.items()))


def resolve_reference(reference: str, search: Sequence[Path]) -> Path:
    """A block's ``spec:`` as a file: relative to each folder of ``search`` in turn (the page's,
    then the docs folder), else a path from the working folder or a built-in spec's name.  Raises
    BlockError when it is none of these."""
    from archspec.spec.builtin import exists, resolve_spec_path

    for folder in search:
        candidate = folder / reference
        if exists(candidate) and candidate.is_file():
            return candidate
    try:
        return resolve_spec_path(reference)
    except SpecError as exc:
        raise BlockError(exc.format()) from None


def render_block(spec: Path, options: BlockOptions) -> RenderedBlock:
    """Draw a spec file as HTML; raises BlockError with the formatted diagnostics."""
    try:
        return _draw(spec, options)
    except SpecError as exc:
        raise BlockError(exc.format()) from None
    except ArchspecError as exc:
        raise BlockError(f"error: {exc}") from None


def render_inline(text: str, options: BlockOptions, *, page: str, first_line: int) -> RenderedBlock:
    """Draw a spec written inside a page; its errors point into the page (``page:line:col``).

    ``first_line`` is the page line of the spec's first line.  The text is read from a temporary
    file padded with blank lines, so that every line number is already the page's.
    """
    with tempfile.TemporaryDirectory(prefix="archspec-block-") as folder:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        path = Path(folder) / f"inline-{digest}.yaml"
        path.write_text("\n" * (first_line - 1) + text, encoding="utf-8")
        try:
            rendered = _draw(path, options)
        except SpecError as exc:
            raise BlockError(SpecError(relocate(exc, path.name, page)).format()) from None
        except ArchspecError as exc:
            raise BlockError(f"error: {exc}") from None
    return RenderedBlock(rendered.html, ())


def relocate(error: SpecError, file_name: str, page: str) -> list[Diagnostic]:
    """The diagnostics of ``error``, those in the file named ``file_name`` moved to ``page``."""
    return [replace(d, location=replace(d.location, path=page))
            if d.location and Path(d.location.path).name == file_name else d for d in error.diagnostics]


def _draw(spec: Path, options: BlockOptions) -> RenderedBlock:
    from archspec.graph.html import summary_html
    from archspec.graph.lower import analyse
    from archspec.integrations.figure import render
    from archspec.spec.loader import load

    loaded = load(spec, variables=dict(options.variables) or None)
    graph = analyse(loaded)
    figure = render(graph, options.style, rankdir=options.rankdir, expand=options.expand, depth=options.depth,
                    params=options.params)
    prefix = f"archspec-{hashlib.sha1(figure.svg.encode('utf-8')).hexdigest()[:10]}-"  # distinct figures, distinct ids
    parts = ['<div class="archspec-figure" data-search-exclude style="overflow-x:auto">',
             figure.inline_svg(prefix).replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1), "</div>"]
    if options.summary:
        parts.append(summary_html(graph, depth=1 if options.depth is None else options.depth))
    return RenderedBlock("\n".join(parts), tuple(Path(name) for name in loaded.files))
