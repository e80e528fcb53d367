"""The analysed graph as an HTML table (what Jupyter shows for ``archspec.analyse(...)``)."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import archspec
from archspec.graph.html import summary_html
from tests.conftest import REPO


class _Rows(HTMLParser):
    """The text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows_of(html: str) -> list[list[str]]:
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def test_repr_html_is_the_summary_with_blocks_folded_and_totals():
    graph = archspec.analyse("resnet18")
    rows = rows_of(graph._repr_html_())
    assert rows[0] == ["layer", "op", "output shape", "params", "MACs"]
    assert rows[1] == ["input", "input", "[3, 224, 224]", "", ""]
    by_name = {row[0].replace("\xa0", ""): row for row in rows[2:-1]}
    assert by_name["conv1"][1:4] == ["conv2d", "[64, 112, 112]", "9,408"]
    layer1 = by_name["layer1"]  # a named repeat, folded into one row with its sums
    assert layer1[1] == "repeat ×2" and layer1[2] == "[64, 56, 56]"
    assert layer1[3] == f"{sum(n.parameters for n in graph.nodes_in('layer1')):,}"
    assert "0" not in by_name and "layer1.0.conv1" not in by_name, "depth 1 folds the iterations"
    totals = rows[-1][0]
    assert f"{graph.parameters:,} parameters" in totals and "[1000]" in totals


def test_depth_none_shows_every_layer_once():
    graph = archspec.analyse("resnet18")
    rows = rows_of(summary_html(graph, depth=None))
    leaf_rows = [row for row in rows[2:-1] if row[1] in {node.op for node in graph.layers}]
    assert len(leaf_rows) == len(graph.layers)


def test_names_are_escaped(write_spec):
    path = write_spec("archspec: 1\nname: net\ninput: [4]\nlayers:\n  - {linear: 2, name: a_b}\n")
    html = archspec.analyse(str(path))._repr_html_()
    assert "<b>net</b>" in html and "<script" not in html


def test_showing_a_graph_never_imports_torch():
    code = ("import sys, archspec\n"
            "archspec.analyse('resnet50')._repr_html_()\n"
            "archspec.render('lenet5')._repr_svg_(); archspec.render('lenet5', style='volumes').svg\n"
            "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
