"""The ``archspec`` console script's entry point: Ctrl-C is answered cleanly from the first moment.

``import archspec`` is light (its names load on first use), so this module runs before anything
heavy is imported, and an interrupt at any point - loading, parsing, running, exiting - ends
with "interrupted" and exit status 130, never a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from archspec.cli import main as run_cli

        run_cli()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
