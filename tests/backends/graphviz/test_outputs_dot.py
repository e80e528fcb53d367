"""Several outputs in the Graphviz diagram: a terminal per output, dashed when training-only."""

from __future__ import annotations

from pathlib import Path

import archspec
from archspec.backends.graphviz.dot import diagram_dot

DATA = Path(__file__).parents[2] / "data" / "outputs"


def test_each_output_ends_in_a_terminal_named_after_it() -> None:
    source = diagram_dot(archspec.analyse(str(DATA / "two_heads.yaml")))
    assert '"output@logits" [label=<<B>logits</B> 10>' in source
    assert '"output@aux_logits" [label=<<B>aux_logits</B> 5<BR/><FONT POINT-SIZE="9">training only</FONT>>' in source
    assert 'fc -> "output@logits"' in source and 'aux -> "output@aux_logits" [style=dashed' in source


def test_a_single_output_has_no_terminal() -> None:
    assert "output@" not in diagram_dot(archspec.analyse("lenet5"))
