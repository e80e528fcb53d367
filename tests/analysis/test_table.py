"""The summary as a text table: aligned columns, group rows in bold on a terminal only."""

from __future__ import annotations

import io

import pytest

from archspec.analysis.summary import summarize
from archspec.analysis.table import BOLD, HEADER, print_summary, summary_rows, summary_table, totals_lines
from tests.graph.test_ir import residual_graph


def test_rows_indent_local_names_by_depth() -> None:
    rows = summary_rows(summarize(residual_graph()))
    assert rows[0] == (("input", "input", "[3, 8, 8]", "", ""), False)
    cells = {row[0].strip(): (row, group) for row, group in rows}
    assert cells["proj"][0][0] == "      proj"
    assert cells["layer1"] == (("layer1", "repeat ×2", "[3, 8, 8]", "18", "70"), True)
    assert cells["head"][0][3] == "0"  # a layer without parameters says 0, a group says nothing


def test_columns_line_up() -> None:
    table = summary_table(summarize(residual_graph()))
    title, header, rule, *lines = table.splitlines()
    assert title == "toy" and header.split() == [word for cell in HEADER for word in cell.split()]
    assert set(rule) == {"─"}
    assert lines[1] == "stem          relu       [3, 8, 8]          5    50"
    assert lines[5] == "    shortcut  shortcut   [3, 8, 8]"  # trailing blanks are trimmed
    assert lines[11] == "  conv        relu       [3, 8, 8]          0     3"
    assert lines[2] == "layer1        repeat ×2  [3, 8, 8]         18    70"
    assert BOLD not in table


def test_bold_groups_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = summarize(residual_graph())
    assert summary_table(summary, bold=True).count(BOLD) == sum(row.group for row in summary.rows)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal, pipe = Terminal(), io.StringIO()
    print_summary(residual_graph(), stream=terminal)
    print_summary(residual_graph(), stream=pipe)
    assert BOLD in terminal.getvalue() and BOLD not in pipe.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    quiet = Terminal()
    print_summary(residual_graph(), stream=quiet)
    assert quiet.getvalue() == pipe.getvalue()


def test_totals() -> None:
    lines = totals_lines(summarize(residual_graph()))
    assert lines[0] == "layers: 7"
    assert lines[1] == "params: 23 (trainable 23)"
    assert lines[-1] == "input [3, 8, 8] -> output [192]"
