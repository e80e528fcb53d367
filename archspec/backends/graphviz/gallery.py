"""The diagram of every built-in spec, generated from the specs (for the docs' gallery)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from archspec.backends.graphviz.render import diagram_format, write_diagram


def render_gallery(folder: Path | str, *, names: Iterable[str] | None = None, formats: Iterable[str] = ("svg",),
                   rankdir: str = "TB") -> list[Path]:
    """Write ``NAME.FORMAT`` into ``folder`` for each built-in spec (or each of ``names``); the paths written.

    Default diagrams, as ``archspec render NAME -o NAME.svg`` draws them, so the gallery shows
    what a user gets.
    """
    from archspec.graph.lower import analyse
    from archspec.spec.builtin import builtin_spec_names

    target = Path(folder)
    chosen = list(names) if names is not None else builtin_spec_names()
    suffixes = [diagram_format(f"diagram.{suffix}") for suffix in formats]
    written = []
    for name in chosen:
        graph = analyse(name)
        for suffix in suffixes:
            written.append(write_diagram(graph, target / f"{name}.{suffix}", rankdir=rankdir))
    return written
