"""Writing a volume figure: SVG as drawn here, PNG and PDF converted from it with CairoSVG.

CairoSVG is a small pure-Python package over the Cairo library, which Graphviz already brings
(``dot`` draws with Cairo), so no second drawing program is needed; it reads the SVG written
here exactly, text included.  It is imported only when a PNG or PDF is asked for.
"""

from __future__ import annotations

from pathlib import Path

from archspec.errors import ArchspecError, UsageError
from archspec.graph.ir import Graph
from archspec.io import atomic_write_bytes

FORMATS = ("svg", "png", "pdf")
RANKDIRS = {"TB": True, "LR": False}
"""Volume figures flow left to right: TB stacks rows top to bottom, LR keeps one long row."""
PNG_SCALE = 2.0
"""PNGs are drawn at twice the SVG's size, sharp on high-density screens and in print."""
CONVERTER_HINT = ("install CairoSVG and the Cairo library (pip install cairosvg; Cairo comes with Graphviz, "
                  "or: apt-get install libcairo2 / brew install cairo), or write an .svg file")


class VolumesError(ArchspecError):
    """A volume figure cannot be converted to PNG or PDF here."""


def volume_svg(graph: Graph, *, rankdir: str = "TB", expand: bool = False, depth: int | None = None,
               show_params: bool = False) -> str:
    """The volume figure of ``graph`` as SVG text.

    Folding, ``expand`` and ``depth`` are those of the Graphviz style; ``rankdir`` ``TB`` wraps the
    figure into rows, ``LR`` keeps it on one row; ``show_params`` writes parameter counts under the ops.
    """
    from archspec.backends.diagram.view import check_options, diagram_view
    from archspec.backends.volumes.layout import layout
    from archspec.backends.volumes.plan import plan_volumes
    from archspec.backends.volumes.svg import figure_svg

    check_options(rankdir, depth)
    if rankdir not in RANKDIRS:
        raise UsageError(f"volume figures flow left to right: use --rankdir TB (rows) or LR (one row), "
                         f"not {rankdir}")
    plan = plan_volumes(diagram_view(graph, expand=expand, depth=depth), show_params=show_params)
    return figure_svg(plan, layout(plan, wrap=RANKDIRS[rankdir]))


def write_volumes(graph: Graph, path: Path | str, *, rankdir: str = "TB", expand: bool = False,
                  depth: int | None = None, show_params: bool = False) -> Path:
    """Draw the volume figure of ``graph`` into ``path`` (.svg, .png or .pdf), atomically."""
    target = Path(path)
    output_format = target.suffix.lstrip(".").lower()
    if output_format not in FORMATS:
        raise UsageError(f"volume figures are written as .svg, .png or .pdf, not '{target.name}'")
    svg = volume_svg(graph, rankdir=rankdir, expand=expand, depth=depth, show_params=show_params)
    data = svg.encode("utf-8") if output_format == "svg" else convert_svg(svg, output_format)
    return atomic_write_bytes(target, data)


def convert_svg(svg: str, output_format: str) -> bytes:
    """SVG text as PNG or PDF bytes."""
    try:
        import cairosvg
    except (ImportError, OSError) as exc:  # OSError: cairocffi found no Cairo library
        raise VolumesError(f"cannot write a .{output_format} volume figure: {_reason(exc)}; {CONVERTER_HINT}") \
            from None
    if output_format == "png":
        return bytes(cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=PNG_SCALE))
    return bytes(cairosvg.svg2pdf(bytestring=svg.encode("utf-8")))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return f"the Python package '{exc.name or 'cairosvg'}' is not installed"
    return "the Cairo library was not found"
