"""Regenerate the diagram of every built-in spec into a folder (the docs' gallery).

    .venv/bin/python scripts/render_gallery.py docs/gallery            # NAME.svg for every spec
    .venv/bin/python scripts/render_gallery.py out --format svg --format png vgg16 resnet50
    .venv/bin/python scripts/render_gallery.py docs/gallery --style graph --style volumes   # and NAME-volumes.svg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from archspec.backends.graphviz.gallery import render_gallery
from archspec.errors import ArchspecError, SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the diagrams go")
    parser.add_argument("names", nargs="*", help="built-in specs to draw (default: all)")
    parser.add_argument("--format", dest="formats", action="append", choices=("svg", "png", "pdf", "dot"),
                        help="output format, may be repeated (default: svg)")
    parser.add_argument("--rankdir", default="TB", choices=("TB", "LR", "BT", "RL"))
    parser.add_argument("--style", dest="styles", action="append", choices=("graph", "volumes"),
                        help="diagram style, may be repeated (default: graph); volumes go to NAME-volumes.FORMAT")
    arguments = parser.parse_args(argv)
    try:
        written = render_gallery(arguments.folder, names=arguments.names or None,
                                 formats=arguments.formats or ("svg",), rankdir=arguments.rankdir,
                                 styles=arguments.styles or ("graph",))
    except SpecError as exc:
        sys.stderr.write(exc.format() + "\n")
        return 1
    except ArchspecError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
