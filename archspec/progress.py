"""Progress of long work (initializing and writing the weights of a large model, exporting ONNX, loading a
checkpoint, drawing a very large figure), shown to a person on a terminal and to no one else.

The library reports steps to a :class:`Progress`; it never decides whether anything is shown.  The
default, :data:`SILENT`, shows nothing, so Python callers and piped output see no progress at all.  The
command line passes :func:`terminal_progress`, which draws on standard error only when it is a terminal
and the user did not ask for quiet or for machine-readable output, and which removes its bars when the
work is done, so nothing of it remains in the scrollback or mixes into what a command prints.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

Advance = Callable[[int], None]
"""Called with how many more units of a step are done."""


class Progress(Protocol):
    def step(self, description: str, total: int | None = None) -> contextlib.AbstractContextManager[Advance]:
        """A step of work: ``total`` units (None when unknown); the context yields the function to advance it."""
        ...


class _Silent:
    @contextlib.contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        yield _ignore


def _ignore(count: int) -> None:
    pass


SILENT: Progress = _Silent()


class _Terminal:
    """rich's progress bars on a terminal: a bar where the total is known, a spinner where it is not."""

    def __init__(self, stream: IO[str]):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._bars = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                              TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                              console=Console(file=stream, force_terminal=True), transient=True)
        self._open = 0

    @contextlib.contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        if not self._open:
            self._bars.start()
        self._open += 1
        task = self._bars.add_task(description, total=total)

        def advance(count: int) -> None:
            self._bars.advance(task, count)

        try:
            yield advance
        finally:
            self._bars.remove_task(task)
            self._open -= 1
            if not self._open:
                self._bars.stop()


def terminal_progress(quiet: bool = False, stream: IO[str] | None = None, force: bool = False) -> Progress:
    """Progress for the command line: drawn on ``stream`` (standard error) when it is a terminal, else silent.

    ``quiet`` (``-q``, or ``--format json``) always gives :data:`SILENT`; ``force`` draws on a stream that is
    not a terminal (for tests).
    """
    stream = stream if stream is not None else sys.stderr
    if quiet or not (force or _is_terminal(stream)):
        return SILENT
    return _Terminal(stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ["SILENT", "Advance", "Progress", "terminal_progress"]
