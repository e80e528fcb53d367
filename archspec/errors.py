"""One error type with a source location, and one formatter for it.

Every problem archspec finds in a spec, from a YAML syntax error to a residual add of
mismatched shapes, becomes a :class:`Diagnostic`: a message, where it happened, and an
optional hint.  :class:`SpecError` carries all diagnostics of a file at once, so a person
fixes them in one pass, the way a compiler reports them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceLocation:
    """A point in a source file: 1-based line and column, plus the text of that line."""

    path: str
    line: int
    column: int
    line_text: str = ""
    length: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: what is wrong, where, and how to fix it when we can tell."""

    message: str
    location: SourceLocation | None = None
    hint: str | None = None
    notes: tuple[str, ...] = ()
    severity: str = "error"

    def format(self) -> str:
        """Render as ``file:line:col: error: message``, the source line, a caret, the hint."""
        where = f"{self.location}: " if self.location else ""
        lines = [f"{where}{self.severity}: {self.message}"]
        loc = self.location
        if loc is not None and loc.line_text:
            text = loc.line_text.rstrip("\r\n").expandtabs(1)
            caret_at = max(loc.column - 1, 0)
            text, caret_at = _excerpt(text, caret_at)
            gutter = f"{loc.line:>4} | "
            lines.append(gutter + text)
            width = max(1, min(loc.length, max(len(text) - caret_at, 1)))
            lines.append(" " * (len(gutter) - 2) + "| " + " " * caret_at + "^" + "~" * (width - 1))
        lines.extend(f"  note: {note}" for note in self.notes)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(printable(line) for line in lines)


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def printable(text: str) -> str:
    """Text safe to print on one terminal line: control characters (escape sequences from a hostile
    file, stray line breaks) become U+FFFD, one character each so a caret below still lines up."""
    return _UNPRINTABLE.sub("\ufffd", text)


_EXCERPT_WIDTH = 100


def _excerpt(text: str, caret_at: int) -> tuple[str, int]:
    """Cut a very long source line down to a window around the caret."""
    if len(text) <= _EXCERPT_WIDTH:
        return text, caret_at
    start = max(0, min(caret_at - _EXCERPT_WIDTH // 2, len(text) - _EXCERPT_WIDTH))
    window = text[start : start + _EXCERPT_WIDTH]
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + _EXCERPT_WIDTH < len(text) else ""
    return prefix + window + suffix, caret_at - start + len(prefix)


class ArchspecError(Exception):
    """Base of every error archspec reports to a person (never a bug in archspec itself)."""


class SpecError(ArchspecError):
    """A spec (or another input) is wrong; carries every diagnostic found, in file order."""

    def __init__(self, diagnostics: Sequence[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = sorted_diagnostics(diagnostics)
        super().__init__(self.format())

    @classmethod
    def at(
        cls, message: str, location: SourceLocation | None = None, hint: str | None = None
    ) -> SpecError:
        return cls([Diagnostic(message, location, hint)])

    def format(self) -> str:
        body = "\n".join(d.format() for d in self.diagnostics)
        count = len(self.diagnostics)
        if count > 1:
            body += f"\nfound {count} errors"
        return body


class UsageError(ArchspecError):
    """The command line or API call is wrong, not the spec (exit status 2)."""


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """File order, duplicates removed (a block called three times reports its error once)."""
    seen: set[tuple[str, str | None, int, int]] = set()
    unique: list[Diagnostic] = []
    for diag in diagnostics:
        loc = diag.location
        key = (diag.message, loc.path if loc else None, loc.line if loc else 0, loc.column if loc else 0)
        if key not in seen:
            seen.add(key)
            unique.append(diag)

    def order(diag: Diagnostic) -> tuple[str, int, int]:
        loc = diag.location
        return (loc.path, loc.line, loc.column) if loc else ("", 0, 0)

    return sorted(unique, key=order)


@dataclass
class DiagnosticCollector:
    """Gathers diagnostics while a stage keeps going, then raises them together."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def error(self, message: str, location: SourceLocation | None = None, hint: str | None = None) -> None:
        self.add(Diagnostic(message, location, hint))

    def extend(self, error: SpecError) -> None:
        self.diagnostics.extend(error.diagnostics)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise SpecError(self.diagnostics)

    def __bool__(self) -> bool:
        return bool(self.diagnostics)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A ``did you mean 'x'?`` hint for a misspelt name, or None when nothing is close."""
    choices = sorted(set(candidates))
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"did you mean '{matches[0]}'?" if matches else None
