"""A diagram as an object: ``archspec.render(spec)`` in a notebook, a docs build or a script.

The figure is drawn once, when it is made, so a bad spec or option fails at the call; ``.svg``
is that drawing's text, ``_repr_svg_`` lets Jupyter show it as the last line of a cell, and
``.save`` writes it in any diagram format, atomically, as ``archspec render`` does.
No torch import on any of these paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archspec.graph.ir import Graph
from archspec.spec.loader import Spec

STYLES = ("graph", "volumes")


@dataclass(frozen=True)
class Figure:
    """A drawn diagram of an analysed graph, and the options it was drawn with."""

    graph: Graph = field(repr=False)
    svg: str = field(repr=False)
    """The drawing as SVG text (a complete document)."""
    style: str = "graph"
    rankdir: str = "TB"
    expand: bool = False
    depth: int | None = None
    show_params: bool = False

    def save(self, path: Path | str) -> Path:
        """Write the figure to ``path``: .svg, .png, .pdf or .dot (graph style) by suffix, atomically."""
        from archspec.backends.graphviz.render import diagram_format, write_diagram
        from archspec.io import atomic_write_text

        target = Path(path)
        if diagram_format(target) == "svg":
            return atomic_write_text(target, self.svg)
        return write_diagram(self.graph, target, style=self.style, rankdir=self.rankdir, expand=self.expand,
                             depth=self.depth, show_params=self.show_params)

    def inline_svg(self, prefix: str = "") -> str:
        """The ``<svg>`` element alone, for embedding in HTML (see :func:`inline_svg`)."""
        return inline_svg(self.svg, prefix)

    def _repr_svg_(self) -> str:
        return self.svg


def render(spec: str | Path | Spec | Graph, style: str = "graph", *, rankdir: str = "TB", expand: bool = False,
           depth: int | None = None, params: bool = False, variables: Mapping[str, Any] | None = None,
           input_shape: Sequence[int] | None = None) -> Figure:
    """Draw a spec (path, built-in name, loaded Spec, or an analysed Graph) as a :class:`Figure`.

    ``style`` is ``graph`` (Graphviz) or ``volumes`` (H×W×C boxes); ``rankdir``, ``expand``,
    ``depth`` and ``params`` are the options of ``archspec render``.  Raises SpecError for a bad
    spec, UsageError for a bad option, GraphvizError when Graphviz's ``dot`` is needed but missing.
    """
    from archspec.errors import UsageError

    if style not in STYLES:
        raise UsageError(f"style must be one of {', '.join(STYLES)}, got '{style}'")
    graph = spec if isinstance(spec, Graph) else _analysed(spec, variables, input_shape)
    return Figure(graph, draw_svg(graph, style, rankdir=rankdir, expand=expand, depth=depth, show_params=params),
                  style, rankdir, expand, depth, params)


def draw_svg(graph: Graph, style: str, *, rankdir: str = "TB", expand: bool = False, depth: int | None = None,
             show_params: bool = False) -> str:
    """The SVG text of one diagram of ``graph``."""
    if style == "volumes":
        from archspec.backends.volumes import volume_svg

        return volume_svg(graph, rankdir=rankdir, expand=expand, depth=depth, show_params=show_params)
    from archspec.backends.graphviz.dot import diagram_dot
    from archspec.backends.graphviz.render import render_dot

    source = diagram_dot(graph, rankdir=rankdir, expand=expand, depth=depth, show_params=show_params)
    return render_dot(source, "svg").decode("utf-8")


_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_REFERENCES = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def inline_svg(svg: str, prefix: str = "") -> str:
    """An SVG document as an element to put inside HTML: no XML declaration, DOCTYPE or comments
    before it, no blank lines (Markdown would end the HTML block there), and, with ``prefix``,
    every ``id`` (and each reference to one) prefixed, so that several figures on one page
    never share an id (Graphviz names every drawing's nodes node1, node2, ...)."""
    body = _PROLOGUE.sub("", svg, count=1)
    body = re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL)
    if prefix:
        body = _REFERENCES.sub(lambda match: f"{match.group(1)}{prefix}{match.group(2)}", body)
    return "\n".join(line for line in body.splitlines() if line.strip())


def _analysed(spec: str | Path | Spec, variables: Mapping[str, Any] | None,
              input_shape: Sequence[int] | None) -> Graph:
    from archspec.graph.lower import analyse

    return analyse(spec if isinstance(spec, Spec) else str(spec), variables=variables, input_shape=input_shape)
