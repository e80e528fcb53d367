"""The diagram of every built-in spec, generated from the specs (for the docs' gallery)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from archspec.backends.graphviz.render import STYLES, diagram_format, write_diagram
from archspec.errors import UsageError

FILE_SUFFIXES = {"graph": "", "volumes": "-volumes"}
"""How each style's file is named: ``vgg16.svg`` beside ``vgg16-volumes.svg``."""
VOLUME_FORMATS = frozenset({"svg", "png", "pdf"})


def render_gallery(folder: Path | str, *, names: Iterable[str] | None = None, formats: Iterable[str] = ("svg",),
                   rankdir: str = "TB", styles: Iterable[str] = ("graph",)) -> list[Path]:
    """Write ``NAME.FORMAT`` (and ``NAME-volumes.FORMAT``) into ``folder`` for each built-in spec; the paths.

    Default diagrams, as ``archspec render NAME -o NAME.svg [--style volumes]`` draws them, so the
    gallery shows what a user gets.  ``rankdir`` is the Graphviz style's; volume figures keep their
    rows, and have no ``.dot`` form (that format is skipped for them).
    """
    from archspec.graph.lower import analyse
    from archspec.spec.builtin import builtin_spec_names

    target = Path(folder)
    chosen = list(names) if names is not None else builtin_spec_names()
    suffixes = [diagram_format(f"diagram.{suffix}") for suffix in formats]
    chosen_styles = list(styles)
    for style in chosen_styles:
        if style not in STYLES:
            raise UsageError(f"style must be one of {', '.join(STYLES)}, got '{style}'")
    written = []
    for name in chosen:
        graph = analyse(name)
        for style in chosen_styles:
            for suffix in suffixes:
                if style == "volumes" and suffix not in VOLUME_FORMATS:
                    continue
                path = target / f"{name}{FILE_SUFFIXES[style]}.{suffix}"
                written.append(write_diagram(graph, path, style=style, rankdir=rankdir if style == "graph" else "TB"))
    return written
