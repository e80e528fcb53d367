"""Writing a diagram file: DOT source as is, or SVG, PNG and PDF drawn by Graphviz's ``dot`` program."""

from __future__ import annotations

from pathlib import Path

from archspec.backends.diagram.program import GraphvizError, render_dot
from archspec.backends.graphviz.dot import diagram_dot
from archspec.errors import UsageError
from archspec.graph.ir import Graph
from archspec.io import atomic_write_bytes

FORMATS = ("svg", "png", "pdf", "dot")
STYLES = ("graph", "volumes")

__all__ = ["FORMATS", "STYLES", "GraphvizError", "diagram_format", "render_dot", "write_diagram"]


def diagram_format(path: Path | str) -> str:
    """The output format named by a file's suffix."""
    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise UsageError(f"cannot tell the diagram format of '{path}': use .svg, .png, .pdf or .dot")
    return suffix


def write_diagram(graph: Graph, path: Path | str, *, style: str = "graph", rankdir: str = "TB",
                  expand: bool = False, depth: int | None = None, show_params: bool = False) -> Path:
    """Draw ``graph`` into ``path`` (format from its suffix), atomically; returns the path.

    ``style="volumes"`` draws the volume figure (:mod:`archspec.backends.volumes`) instead of the graph.
    Raises :class:`UsageError` for a bad option or suffix, :class:`GraphvizError` when ``dot`` is
    needed but missing or fails.  Nothing is written unless the whole diagram is.
    """
    target = Path(path)
    output_format = diagram_format(target)
    if style not in STYLES:
        raise UsageError(f"style must be one of {', '.join(STYLES)}, got '{style}'")
    if style == "volumes":
        from archspec.backends.volumes import write_volumes

        return write_volumes(graph, target, rankdir=rankdir, expand=expand, depth=depth, show_params=show_params)
    source = diagram_dot(graph, rankdir=rankdir, expand=expand, depth=depth, show_params=show_params)
    data = source.encode("utf-8") if output_format == "dot" else render_dot(source, output_format)
    return atomic_write_bytes(target, data)

