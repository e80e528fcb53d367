"""docs/custom-ops.md shows real output: every ``console`` block's archspec command is run and its output
compared (a line ``...`` stands for any lines), so the page cannot drift from what archspec prints."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_cli import ARCHSPEC

PAGE = REPO / "docs" / "custom-ops.md"
BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, list[str]]]:
    """(command, expected lines) for each ``$ archspec ...`` in the page's console blocks."""
    found = []
    for block in BLOCK.findall(PAGE.read_text(encoding="utf-8")):
        command: str | None = None
        expected: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None and "archspec " in command:
                    found.append((command, expected))
                command, expected = line[2:], []
            else:
                expected.append(line.rstrip())
        if command is not None and "archspec " in command:
            found.append((command, expected))
    return found


def matches(actual: list[str], expected: list[str]) -> bool:
    """The expected lines in order, where ``...`` skips any number of actual lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(actual[skip:], expected[1:]) for skip in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(actual[1:], expected[1:])


def run_example(command: str) -> list[str]:
    words = shlex.split(command)
    environment = dict(os.environ)
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        environment[name] = value
    assert words[0] == "archspec", command
    result = subprocess.run([ARCHSPEC, *words[1:]], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env=environment)
    return [line.rstrip() for line in (result.stdout + result.stderr).rstrip("\n").splitlines()]


def test_the_page_has_examples() -> None:
    commands = [command for command, _ in examples()]
    assert len(commands) >= 7
    assert any("list --ops" in command for command in commands)


@pytest.mark.parametrize(("command", "expected"), examples(), ids=[c for c, _ in examples()])
def test_a_console_example_prints_what_the_page_shows(command: str, expected: list[str]) -> None:
    actual = run_example(command)
    assert matches(actual, expected), "the page shows:\n" + "\n".join(expected) + "\n\narchspec prints:\n" + \
        "\n".join(actual)


def test_matching_skips_lines_only_at_ellipses() -> None:
    assert matches(["a", "b", "c", "d"], ["a", "...", "d"])
    assert matches(["a", "d"], ["a", "...", "d"])
    assert not matches(["a", "b", "d"], ["a", "d"])
    assert not matches(["a", "b"], ["a", "...", "c"])


def test_snippets_included_by_the_page_exist() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for path, section in re.findall(r'--8<-- "([^":]+):(\w+)"', text):
        source = (REPO / path).read_text(encoding="utf-8")
        assert f"# --8<-- [start:{section}]" in source and f"# --8<-- [end:{section}]" in source, (path, section)
    assert Path(REPO / "mkdocs.yml").read_text().count("custom-ops.md") == 1
