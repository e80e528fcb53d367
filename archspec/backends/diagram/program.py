"""Running Graphviz's ``dot`` program: the Graphviz style draws with it, volume figures place branches with it."""

from __future__ import annotations

from archspec.errors import ArchspecError

INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
                "others: https://graphviz.org/download/), or write Graphviz source with a .dot file")


class GraphvizError(ArchspecError):
    """Graphviz's ``dot`` program is missing or failed."""


def render_dot(source: str, output_format: str) -> bytes:
    """Run ``dot`` on DOT source; the drawing (or, for ``plain``/``json``, the layout) as bytes."""
    import graphviz

    try:
        return graphviz.pipe("dot", output_format, source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphvizError(f"cannot draw a .{output_format} diagram: Graphviz's 'dot' program was not found; "
                            + INSTALL_HINT) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip() if isinstance(exc.stderr, bytes) else ""
        raise GraphvizError(f"Graphviz's 'dot' failed to draw the diagram ({detail or f'exit {exc.returncode}'})") \
            from None
