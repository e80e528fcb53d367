"""What the live preview shows, as an immutable value: drawn from the spec on every save.

A spec that breaks keeps the last good drawing and adds the errors beside it, so the person
editing sees what they had and what is wrong now.  Pure apart from reading the spec files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError, SpecError


@dataclass(frozen=True)
class DrawOptions:
    """The spec and how to draw it: ``archspec serve``'s command line."""

    spec: str
    rankdir: str = "TB"
    expand: bool = False
    depth: int | None = None
    variables: Mapping[str, Any] | None = None
    input_shape: Sequence[int] | None = None


@dataclass(frozen=True)
class Preview:
    """One state of the page: the last good drawing and summary, and the current errors."""

    version: int = 0
    name: str = ""
    graph_svg: str = ""
    volumes_svg: str = ""
    summary: str = ""
    errors: str = ""
    """The diagnostics of the spec as it is now, formatted as on the command line; empty when it is good."""
    files: tuple[Path, ...] = ()
    """The spec and every file it extends: what to watch."""

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "name": self.name, "graph": self.graph_svg, "volumes": self.volumes_svg,
                "summary": self.summary, "errors": self.errors, "errors_html": escape(self.errors)}


def redraw(options: DrawOptions, previous: Preview) -> Preview:
    """The next state: drawn afresh, or the previous drawing with the errors that stop a new one."""
    from archspec.graph.html import summary_html
    from archspec.graph.lower import analyse
    from archspec.integrations.figure import draw_svg, inline_svg
    from archspec.spec.loader import load

    version = previous.version + 1
    files = previous.files or _first_files(options.spec)
    try:
        loaded = load(options.spec, variables=options.variables,
                      input_shape=tuple(options.input_shape) if options.input_shape else None)
        files = tuple(Path(name).resolve() for name in loaded.files)
        graph = analyse(loaded)
        drawn = {style: inline_svg(draw_svg(graph, style, rankdir=options.rankdir if style == "graph" else
                                            _volume_rankdir(options.rankdir), expand=options.expand,
                                            depth=options.depth), prefix=f"{style}-")
                 for style in ("graph", "volumes")}
    except SpecError as exc:
        files = _files_of(exc, files)
        return replace(previous, version=version, errors=exc.format(), files=files)
    except ArchspecError as exc:
        return replace(previous, version=version, errors=f"error: {exc}", files=files)
    return Preview(version, graph.name, drawn["graph"], drawn["volumes"],
                   summary_html(graph, depth=1 if options.depth is None else options.depth), "", files)


def _volume_rankdir(rankdir: str) -> str:
    return rankdir if rankdir in ("TB", "LR") else "TB"


def _first_files(spec: str) -> tuple[Path, ...]:
    from archspec.spec.builtin import resolve_spec_path

    try:
        return (resolve_spec_path(spec).resolve(),)
    except SpecError:
        return ()


def _files_of(error: SpecError, known: tuple[Path, ...]) -> tuple[Path, ...]:
    """The files to keep watching while the spec is broken: those known, and those the errors name
    (a broken ``extends`` target is one to watch too)."""
    named = [Path(d.location.path).resolve() for d in error.diagnostics
             if d.location and Path(d.location.path).is_file()]
    return tuple(dict.fromkeys([*known, *named]))
