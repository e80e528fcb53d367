"""The small expression language of spec values: ``$channels``, ``$channels * 4``, ``$depths[1]``.

A string value that starts with ``$`` is an expression over the variables in scope (the spec's
``variables``, a block's parameters, a repeat's index).  ``${...}`` braces are optional, and so
is the ``$`` on the other names in it (``$a * $b`` is ``$a * b``).  The text is parsed with
Python's :mod:`ast` for its grammar only and evaluated by the small interpreter below, which
knows numbers, booleans, strings, lists, arithmetic, comparisons, ``and``/``or``/``not``,
``a if cond else b``, indexing and the functions in ``_FUNCTIONS``: ``min``, ``max``, ``abs``,
``len``, ``sum``, ``round``, ``ceil``, ``floor``, ``int``, ``log``, ``range`` (at most 10,000 numbers) and
``make_divisible`` (the channel rounding of MobileNet, EfficientNet and MNASNet); slices
``depths[:2]`` and one-loop list comprehensions ``[ceil(n * depth) for n in blocks if n > 0]``,
which are never longer than the list they loop over.  Nothing else is allowed: a spec can never
run code.  ``$$`` at the start escapes a literal dollar sign.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

MAX_EXPRESSION_LENGTH = 500
MAX_INTEGER = 2**62
MAX_EXPRESSION_DEPTH = 100
"""The evaluator recurses once per level; ``$------1`` must not exhaust Python's stack."""


class ExpressionError(Exception):
    """An expression is malformed or cannot be evaluated; the message (and hint) are for a person."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("$") and not value.startswith("$$")


def contains_expression(value: object) -> bool:
    """True if the value, or anything nested in it, is an expression."""
    if isinstance(value, dict):
        return any(contains_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_expression(v) for v in value)
    return is_expression(value)


def expression_body(text: str) -> str:
    """The expression inside ``$...`` or ``${...}``, with the ``$`` of every variable reference dropped."""
    body = text[1:].strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1].strip()
    return _without_variable_marks(body)


def _without_variable_marks(body: str) -> str:
    """``a * $b`` as ``a * b``: a ``$`` before a name inside an expression marks it as a variable,
    as the leading one does, so people may write ``$a * $b`` and ``${$a + 1}``.  Quoted text is kept."""
    if "$" not in body:
        return body
    kept: list[str] = []
    quote: str | None = None
    position = 0
    while position < len(body):
        char = body[position]
        if quote is not None:
            kept.append(char)
            if char == "\\" and position + 1 < len(body):
                kept.append(body[position + 1])
                position += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            kept.append(char)
        elif char == "$" and body[position + 1:position + 2].isidentifier():
            pass  # the name that follows is read as a variable anyway
        elif char == "$":
            raise ExpressionError(f"a '$' must be followed by a variable name in '{body}'",
                                  hint="write '$name' or just 'name' for a variable inside an expression")
        else:
            kept.append(char)
        position += 1
    return "".join(kept)


@functools.lru_cache(maxsize=4096)
def parse_expression(text: str) -> ast.expr:
    """Parse ``$...`` text into an expression tree, checking that only allowed syntax is used."""
    body = expression_body(text)
    if not body:
        raise ExpressionError("empty expression after '$'")
    if len(body) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(body, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression '{body}': {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is nested too deeply") from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:
        raise ExpressionError(f"expression is nested more than {MAX_EXPRESSION_DEPTH} levels deep")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            what = _SYNTAX_NAMES.get(type(node).__name__, f"'{type(node).__name__}'")
            raise ExpressionError(f"{what} is not allowed in an expression: '{body}'")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            allowed = ", ".join(sorted(_FUNCTIONS))
            raise ExpressionError(f"only these functions can be called: {allowed}")
        if isinstance(node, ast.ListComp) and (len(node.generators) != 1 or node.generators[0].is_async
                                               or not isinstance(node.generators[0].target, ast.Name)):
            raise ExpressionError("a list comprehension takes one 'for NAME in LIST' (and optional 'if's)")
        if isinstance(node, ast.Call) and node.keywords:
            raise ExpressionError("keyword arguments are not allowed in an expression")
    return tree


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def names_in(text: str) -> set[str]:
    """The variable names an expression reads."""
    tree = parse_expression(text)
    bound = {node.target.id for node in ast.walk(tree) if isinstance(node, ast.comprehension)
             and isinstance(node.target, ast.Name)}
    return {
        node.id for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS and node.id not in _CONSTANTS
        and node.id not in bound
    }


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate ``$...`` text with the given variables."""
    return _Evaluator(variables).visit(parse_expression(text))


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """Replace every expression in a (nested) value by what it evaluates to."""
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, str) and value.startswith("$$"):
        return value[1:]
    if is_expression(value):
        return evaluate(value, variables)
    return value


def interpolate(text: str, variables: Mapping[str, Any]) -> Any:
    """A text with ``${...}`` parts, each replaced by what it evaluates to (``denselayer${index + 1}``).

    Text that is one expression gives its value unchanged; otherwise the parts are joined as text.
    """
    if is_expression(text) and (not text.startswith("${") or (text.endswith("}") and text.count("${") == 1)):
        return evaluate(text, variables)
    return re.sub(r"\$\{([^}]*)\}", lambda part: str(evaluate("${" + part.group(1) + "}", variables)), text)


_ALLOWED_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Call, ast.ListComp,
    ast.comprehension, ast.Store,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
)

_SYNTAX_NAMES = {
    "Attribute": "attribute access ('.')", "Lambda": "lambda", "Dict": "a dict", "Set": "a set",
    "SetComp": "a comprehension", "DictComp": "a comprehension",
    "GeneratorExp": "a comprehension", "JoinedStr": "an f-string", "NamedExpr": "':='", "Starred": "'*'",
    "Await": "await", "Yield": "yield", "YieldFrom": "yield",
    "BitAnd": "'&'", "BitOr": "'|'", "BitXor": "'^'", "LShift": "'<<'", "RShift": "'>>'", "Invert": "'~'",
    "MatMult": "'@'", "Is": "'is'", "IsNot": "'is not'",
}

def _number(value: Any, function: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError(f"{function}() takes a number, got {type(value).__name__}")
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise ExpressionError(f"{function}() of an infinite number")
    return value


def _round(value: Any, digits: Any = None) -> Any:
    """Python's round: halves go to the even neighbour (``round(2.5) == 2``), as numpy's does."""
    if digits is None:
        return round(_number(value, "round"))
    if not isinstance(digits, int) or isinstance(digits, bool) or not -20 <= digits <= 20:
        raise ExpressionError("round(): digits must be an integer from -20 to 20")
    return round(_number(value, "round"), digits)


def _ceil(value: Any) -> int:
    return math.ceil(_number(value, "ceil"))


def _floor(value: Any) -> int:
    return math.floor(_number(value, "floor"))


def _int(value: Any) -> int:
    """Truncates toward zero, as Python's int() of a number (strings are not parsed)."""
    return int(_number(value, "int"))


def _sum(values: Any) -> Any:
    if not isinstance(values, (list, tuple)):
        raise ExpressionError("sum() takes a list")
    return sum(_number(value, "sum") for value in values)


MAX_RANGE = 10_000
"""The longest list range() makes, so that no expression can build an unbounded list."""


def _range(*bounds: Any) -> list[int]:
    if not 1 <= len(bounds) <= 3 or any(not isinstance(b, int) or isinstance(b, bool) for b in bounds):
        raise ExpressionError("range() takes one to three whole numbers")
    if len(bounds) == 3 and bounds[2] == 0:
        raise ExpressionError("range() step must not be 0")
    numbers = range(*bounds)
    if len(numbers) > MAX_RANGE:
        raise ExpressionError(f"range() of more than {MAX_RANGE:,} numbers")
    return list(numbers)


def _log(value: Any, base: Any = None) -> float:
    number = _number(value, "log")
    if number <= 0 or (base is not None and (_number(base, "log") <= 0 or base == 1)):
        raise ExpressionError("log() takes positive numbers (and a base other than 1)")
    return math.log(number) if base is None else math.log(number, base)


def make_divisible(value: Any, divisor: Any) -> int:
    """The nearest multiple of ``divisor`` to ``value``, at least ``divisor``, never below 90% of ``value``.

    The channel rounding of MobileNetV2/V3, EfficientNet and MNASNet (their ``_make_divisible``).
    """
    value = _number(value, "make_divisible")
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 1:
        raise ExpressionError("make_divisible(): the divisor must be a positive integer")
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "len": len, "sum": _sum, "round": _round, "ceil": _ceil,
    "floor": _floor, "int": _int, "make_divisible": make_divisible, "range": _range, "log": _log,
}
_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda item, container: _contains(container, item),
    ast.NotIn: lambda item, container: not _contains(container, item),
}


def _contains(container: Any, item: Any) -> bool:
    if not isinstance(container, (list, tuple)):
        raise ExpressionError(f"'in' looks in a list, not in {type(container).__name__}")
    return item in container


_VISITORS: dict[type, Callable[..., Any]] = {}
"""Each syntax node type's method of :class:`_Evaluator`, looked up once (evaluation is on the lowering's hot path)."""


class _Evaluator:
    def __init__(self, variables: Mapping[str, Any]):
        self.variables = variables

    def visit(self, node: ast.expr) -> Any:
        visitor = _VISITORS.get(type(node))
        if visitor is None:
            visitor = _VISITORS[type(node)] = getattr(_Evaluator, f"visit_{type(node).__name__}")
        return _checked(visitor(self, node))

    def visit_Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise ExpressionError(f"unsupported constant {node.value!r}")
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in self.variables:
            return self.variables[node.id]
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        from archspec.errors import did_you_mean

        known = sorted(self.variables)
        hint = did_you_mean(node.id, known) or (
            f"variables here: {', '.join(known)}" if known else "no variables are defined here")
        raise ExpressionError(f"unknown variable '{node.id}'", hint)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise ExpressionError("exponent larger than 64 in an expression")
        if isinstance(node.op, ast.Mult) and (isinstance(left, (str, list)) or isinstance(right, (str, list))):
            raise ExpressionError("repeating strings or lists with '*' is not allowed")
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExpressionError("division by zero") from None
        except TypeError:
            raise ExpressionError(
                f"cannot apply '{_symbol(node.op)}' to {type(left).__name__} and {type(right).__name__}"
            ) from None

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if not isinstance(operand, (int, float)):
            raise ExpressionError(f"cannot negate {type(operand).__name__}")
        return -operand if isinstance(node.op, ast.USub) else +operand

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for value in node.values:
            result = self.visit(value)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:
                raise ExpressionError(
                    f"cannot compare {type(left).__name__} with {type(right).__name__}"
                ) from None
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        if isinstance(node.slice, ast.Slice):  # depths[:2]: a part of a list, never longer than the list
            container = self.visit(node.value)
            if not isinstance(container, (list, tuple)):
                raise ExpressionError("only a list can be sliced")
            bounds = [None if part is None else self.visit(part)
                      for part in (node.slice.lower, node.slice.upper, node.slice.step)]
            if any(b is not None and (not isinstance(b, int) or isinstance(b, bool)) for b in bounds) or bounds[2] == 0:
                raise ExpressionError("a slice takes whole numbers (and a step other than 0)")
            return list(container[slice(*bounds)])
        container, index = self.visit(node.value), self.visit(node.slice)
        if not isinstance(container, (list, tuple)) or not isinstance(index, int) or isinstance(index, bool):
            raise ExpressionError("only a list can be indexed, with an integer")
        if not -len(container) <= index < len(container):
            raise ExpressionError(f"index {index} is out of range: '{ast.unparse(node.value)}' is a list of "
                                  f"{len(container)}")
        return container[index]

    def visit_List(self, node: ast.List) -> Any:
        return [self.visit(element) for element in node.elts]

    visit_Tuple = visit_List

    def visit_ListComp(self, node: ast.ListComp) -> Any:
        """``[ceil(n * depth) for n in blocks]``: one loop over an existing list, so never longer than it."""
        (generator,) = node.generators
        assert isinstance(generator.target, ast.Name)
        items = self.visit(generator.iter)
        if not isinstance(items, (list, tuple)):
            raise ExpressionError("a list comprehension loops over a list")
        result = []
        for item in items:
            inner = _Evaluator({**self.variables, generator.target.id: item})
            if all(inner.visit(condition) for condition in generator.ifs):
                result.append(inner.visit(node.elt))
        return result

    def visit_Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        arguments = [self.visit(arg) for arg in node.args]
        try:
            return _FUNCTIONS[node.func.id](*arguments)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"{node.func.id}(): {exc}") from None


def _checked(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        raise ExpressionError(f"integer too large in expression (over {MAX_INTEGER:,})")
    if isinstance(value, float) and value != value:
        raise ExpressionError("expression evaluates to NaN")
    return value


def _symbol(op: ast.operator) -> str:
    return {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
            ast.Mod: "%", ast.Pow: "**"}.get(type(op), "?")
