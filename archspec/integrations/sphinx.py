"""The Sphinx extension: ``extensions = ["archspec.sphinx"]`` and a directive

.. code-block:: rst

    .. archspec:: resnet18
       :style: volumes
       :depth: 1
       :rankdir: LR
       :summary:
       :set: {classes: 10}

The spec (relative to the document, then the source folder, else a built-in name) is drawn at
build time as inline SVG in HTML output; the document is rebuilt when the spec or a file it
extends changes.  A block that cannot be drawn is a Sphinx error at the document and line
(``sphinx-build -W`` fails on it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from archspec.integrations.blocks import RANKDIRS, BlockError, parse_options, render_block, resolve_reference


def _style(argument: str | None) -> str:
    return str(directives.choice(argument, ("graph", "volumes")))


def _rankdir(argument: str | None) -> str:
    value = (argument or "").strip().upper()
    if value not in RANKDIRS:
        raise ValueError(f"'{argument}' unknown; choose from {', '.join(RANKDIRS)}")
    return value


def _variables(text: str) -> object:
    """``:set: {n: 1, residual: false}``: a YAML mapping, as a block's ``set:`` in MkDocs."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise BlockError(f":set: expects a YAML mapping such as {{n: 1}}, got '{text}'") from None


class ArchspecDirective(SphinxDirective):
    """``.. archspec:: NAME_OR_PATH``: a diagram of the spec, and its summary with ``:summary:``."""

    required_arguments = 1
    final_argument_whitespace = False
    option_spec = {  # noqa: RUF012 (docutils reads the class attribute)
        "style": _style,
        "depth": directives.nonnegative_int,
        "rankdir": _rankdir,
        "expand": directives.flag,
        "params": directives.flag,
        "summary": directives.flag,
        "set": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        document = Path(self.env.doc2path(self.env.docname))
        values: dict[str, Any] = {key: value for key, value in self.options.items()
                                  if key in ("style", "depth", "rankdir")}
        values.update({flag: True for flag in ("expand", "params", "summary") if flag in self.options})
        try:
            if "set" in self.options:
                values["set"] = _variables(self.options["set"])
            chosen = parse_options(values)
            path = resolve_reference(self.arguments[0], [document.parent, Path(self.env.srcdir)])
            rendered = render_block(path, chosen)
        except BlockError as exc:
            raise self.error(f"archspec: cannot draw '{self.arguments[0]}':\n{exc}") from None
        for file in rendered.files:
            self.env.note_dependency(str(file.resolve()))
        return [nodes.raw("", rendered.html, format="html")]


def setup(app: Any) -> dict[str, Any]:
    """Register the ``archspec`` directive (Sphinx calls this for ``extensions = ["archspec.sphinx"]``)."""
    from archspec.version import __version__

    app.add_directive("archspec", ArchspecDirective)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
