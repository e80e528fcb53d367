from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.spec.expressions import ExpressionError, evaluate, is_expression, names_in, substitute


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$channels", 64),
        ("${channels}", 64),
        ("$channels * 4", 256),
        ("$2 if index == 0 else 1", 2),
        ("${2 if index == 1 else 1}", 1),
        ("$depths[2]", 6),
        ("$depths[-1]", 3),
        ("$channels // 3 + 1", 22),
        ("$max(channels, 100)", 100),
        ("$len(depths)", 4),
        ("$not residual", False),
        ("$residual and index < 3", True),
        ("$[channels, channels * 2]", [64, 128]),
        ("$2 ** 10", 1024),
        ("$true", True),
    ],
)
def test_evaluate(text, expected):
    variables = {"channels": 64, "index": 0, "depths": [3, 4, 6, 3], "residual": True}
    assert evaluate(text, variables) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$__import__('os')", "only these functions can be called"),
        ("$channels.real", "attribute access"),
        ("$[x for x in depths for y in depths]", "a list comprehension takes one 'for NAME in LIST'"),
        ("${{x for x in depths}}", "a comprehension is not allowed"),
        ("$range(10 ** 6)", "of more than 10,000 numbers"),
        ("$round('a')", "takes a number, got str"),
        ("$log(0)", "takes positive numbers"),
        ("$1 in channels", "'in' looks in a list"),
        ("$make_divisible(10, 0)", "the divisor must be a positive integer"),
        ("$lambda: 1", "lambda is not allowed"),
        ("$chanels", "unknown variable 'chanels'"),
        ("$1 +", "invalid expression"),
        ("$1 / 0", "division by zero"),
        ("$2 ** 1000", "exponent larger than 64"),
        ("$depths[9]", "index 9 is out of range"),
        ("$'a' * 10", "repeating strings"),
        ("$", "empty expression"),
        ("$" + "1+" * 400 + "1", "longer than 500"),
        ("$10 ** 60 * 10 ** 60", "integer too large"),
    ],
)
def test_rejected(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace("[", r"\[")):
        evaluate(text, {"channels": 64, "depths": [3, 4]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$make_divisible(32 * 1.1, 8)", 32),  # EfficientNet-B2's stem: 35.2 rounds down to 32
        ("$make_divisible(16 * 0.5, 8)", 8),
        ("$make_divisible(100, 8)", 104),  # 96 is under 90% of 100
        ("$[ceil(n * 1.1) for n in depths]", [4, 5]),
        ("$[n for n in depths if n > 3]", [4]),
        ("$sum(depths[:1])", 3),
        ("$depths[::-1]", [4, 3]),
        ("$round(2.5) + floor(-0.5) + int(3.9)", 2 - 1 + 3),
        ("$3 in depths and 5 not in depths", True),
        ("$range(3)", [0, 1, 2]),
        ("$round(log(8, 2))", 3),
    ],
)
def test_scaling_functions(text, expected):
    assert evaluate(text, {"depths": [3, 4]}) == expected


def test_comprehension_variable_is_not_a_free_name():
    assert names_in("$[n * width for n in depths]") == {"width", "depths"}


def test_unknown_variable_hint():
    with pytest.raises(ExpressionError) as caught:
        evaluate("$chanels", {"channels": 64})
    assert caught.value.hint == "did you mean 'channels'?"


def test_escape_and_detection():
    assert substitute("$$5", {}) == "$5"
    assert is_expression("$x") and not is_expression("$$x") and not is_expression("x")
    assert substitute({"a": ["$x", 1]}, {"x": 2}) == {"a": [2, 1]}
    assert names_in("$a + b * max(c, 1)") == {"a", "b", "c"}


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_arithmetic_agrees_with_python(a, b):
    assert evaluate("$a + b * 3 - a // 7", {"a": a, "b": b}) == a + b * 3 - a // 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$bn_size * $growth", 128),
        ("${$bn_size + 1}", 5),
        ("${bn_size + 1}", 5),
        ("$max($growth, 100) // $bn_size", 25),
        ("$depths[$bn_size - 4]", 3),
        ("$'$growth' if $growth > 1 else 'x'", "$growth"),
    ],
)
def test_dollar_on_every_variable(text, expected):
    """A person writes ``$a * $b``: every variable reference may carry its ``$``, quoted text keeps it."""
    assert evaluate(text, {"bn_size": 4, "growth": 32, "depths": [3, 4]}) == expected
    assert names_in(text) <= {"bn_size", "growth", "depths"}


def test_stray_dollar_says_how_to_write_a_variable():
    with pytest.raises(ExpressionError, match="must be followed by a variable name") as caught:
        evaluate("$growth * $ 2", {"growth": 32})
    assert caught.value.hint is not None and "'$name'" in caught.value.hint
