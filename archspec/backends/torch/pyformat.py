"""Python text as ruff/black would format it: calls that break over lines, safe docstrings."""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

WIDTH = 100
INDENT = "    "


@dataclass
class Call:
    """A call (or a list, with ``brackets="[]"``) that knows how to break over lines."""

    function: str
    arguments: list[Any] = field(default_factory=list)
    explode: bool = False
    """One argument per line whatever the width (a 'magic trailing comma')."""
    brackets: str = "()"


@dataclass
class Keyword:
    name: str
    value: Any


def flat(expression: Any) -> str:
    if isinstance(expression, Keyword):
        return f"{expression.name}={flat(expression.value)}"
    if isinstance(expression, Call):
        inner = ", ".join(flat(argument) for argument in expression.arguments)
        return f"{expression.function}{expression.brackets[0]}{inner}{expression.brackets[1]}"
    return str(expression)


def _exploded(expression: Any) -> bool:
    if isinstance(expression, Keyword):
        return _exploded(expression.value)
    return isinstance(expression, Call) and (expression.explode or any(_exploded(a) for a in expression.arguments))


def wrapped_lines(head: str, expression: Any, depth: int, tail: str = "") -> list[str]:
    """Lines for ``head + expression + tail`` at an indentation depth, broken as black breaks them."""
    pad = INDENT * depth
    text = flat(expression)
    if not _exploded(expression) and (len(pad + head + text + tail) <= WIDTH or not isinstance(expression, Call)):
        return [pad + head + text + tail]
    assert isinstance(expression, Call)
    opening, closing = expression.brackets[0], expression.brackets[1]
    first = f"{pad}{head}{expression.function}{opening}"
    last = f"{pad}{closing}{tail}"
    arguments = expression.arguments
    if not expression.explode and not any(_exploded(a) for a in arguments):
        inner = ", ".join(flat(a) for a in arguments)
        if len(INDENT * (depth + 1) + inner) <= WIDTH:
            return [first, INDENT * (depth + 1) + inner, last]
    if len(arguments) == 1 and not expression.explode and not isinstance(arguments[0], Keyword):
        return [first, *wrapped_lines("", arguments[0], depth + 1), last]
    lines = [first]
    for argument in arguments:
        if isinstance(argument, Keyword):
            lines += wrapped_lines(f"{argument.name}=", argument.value, depth + 1, ",")
        else:
            lines += wrapped_lines("", argument, depth + 1, ",")
    return [*lines, last]


def is_atom(text: str) -> bool:
    """A name, attribute, call or subscript: safe inside any larger expression."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return isinstance(tree.body, (ast.Call, ast.Name, ast.Attribute, ast.Subscript))




_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def docstring_text(text: str) -> str:
    """Free text (a spec's description) made safe in a triple-quoted docstring: backslashes doubled, no
    closing quotes, control characters written as escapes (a NUL byte cannot even be in Python source)."""
    text = text.replace("\\", "\\\\").replace('"""', "'''")
    return _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def member_access(name: str, owner: str = "self") -> str:
    """``self.conv1``, or ``getattr(self, "0")`` for a member name that is not a Python identifier."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"{owner}.{name}"
    return f"getattr({owner}, {name!r})"


def member_assignment(name: str, owner: str = "self") -> tuple[str, str]:
    """The head and tail around a value that sets a member: ``self.x = `` or ``setattr(self, "0", ``...``)``."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return f"{owner}.{name} = ", ""
    return f"setattr({owner}, {name!r}, ", ")"
