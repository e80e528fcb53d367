"""Progress is drawn on a terminal only, and leaves nothing behind."""

from __future__ import annotations

import io

from archspec.progress import SILENT, terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_unless_a_terminal():
    assert terminal_progress(stream=io.StringIO()) is SILENT
    assert terminal_progress(quiet=True, stream=Terminal()) is SILENT
    assert terminal_progress(stream=Terminal()) is not SILENT


def test_steps_are_drawn_then_removed():
    stream = Terminal()
    progress = terminal_progress(stream=stream)
    with progress.step("writing weights", total=4) as advance:
        with progress.step("saving", total=None) as inner:
            inner(1)
        advance(4)
    drawn = stream.getvalue()
    assert "writing weights" in drawn and "saving" in drawn
    assert drawn.endswith("\x1b[2K\x1b[?25h\r")  # transient: the line is erased and the cursor shown again


def test_silent_progress_accepts_every_call():
    with SILENT.step("anything", total=3) as advance:
        advance(3)
