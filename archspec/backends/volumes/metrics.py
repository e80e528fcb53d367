"""Text widths, estimated without a font engine.

The figure is hand-written SVG, so its layout must know how wide a label is before any renderer
sees it.  Widths come from the advance widths of Helvetica (the same as Arial's and Liberation
Sans's, the fonts a browser or Cairo picks for ``Helvetica, Arial, sans-serif``), in thousandths
of the font size; unknown characters count as wide ones, so an estimate errs on the roomy side.
"""

from __future__ import annotations

import functools

_WIDTHS: dict[str, int] = {
    " ": 278, "!": 278, '"': 355, "#": 556, "$": 556, "%": 889, "&": 667, "'": 191, "(": 333, ")": 333,
    "*": 389, "+": 584, ",": 278, "-": 333, ".": 278, "/": 278, ":": 278, ";": 278, "<": 584, "=": 584,
    ">": 584, "?": 556, "@": 1015, "[": 278, "\\": 278, "]": 278, "^": 469, "_": 556, "`": 333, "{": 334,
    "|": 260, "}": 334, "~": 584, "×": 584, "·": 278, "–": 556, "—": 1000, "…": 1000, "→": 1000,
    "A": 667, "B": 667, "C": 722, "D": 722, "E": 667, "F": 611, "G": 778, "H": 722, "I": 278, "J": 500,
    "K": 667, "L": 556, "M": 833, "N": 722, "O": 778, "P": 667, "Q": 778, "R": 722, "S": 667, "T": 611,
    "U": 722, "V": 667, "W": 944, "X": 667, "Y": 667, "Z": 611,
    "a": 556, "b": 556, "c": 500, "d": 556, "e": 556, "f": 278, "g": 556, "h": 556, "i": 222, "j": 222,
    "k": 500, "l": 222, "m": 833, "n": 556, "o": 556, "p": 556, "q": 556, "r": 333, "s": 500, "t": 278,
    "u": 556, "v": 500, "w": 722, "x": 500, "y": 500, "z": 500,
}
_WIDTHS.update(dict.fromkeys("0123456789", 556))
_UNKNOWN = 800
_BOLD = 1.08
"""Bold letters are about this much wider on average (digits are not, but the estimate may be roomy)."""


@functools.lru_cache(maxsize=16384)
def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The advance width in px of ``text`` set at ``size`` px (remembered: a layout asks about each label
    several times, and a long network repeats the same labels)."""
    units = sum(_WIDTHS.get(character, _UNKNOWN) for character in text)
    return units * size / 1000 * (_BOLD if bold else 1.0)
