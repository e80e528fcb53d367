"""``archspec.render``: a figure object for notebooks and scripts."""

from __future__ import annotations

import re

import pytest

import archspec
from archspec.errors import SpecError, UsageError
from archspec.integrations.figure import inline_svg


def test_render_draws_both_styles_as_svg_documents():
    graph_figure = archspec.render("lenet5")
    assert graph_figure._repr_svg_() == graph_figure.svg
    assert "<svg" in graph_figure.svg and "conv1" in graph_figure.svg
    volumes = archspec.render("lenet5", style="volumes", rankdir="LR")
    assert "<svg" in volumes.svg and volumes.svg != graph_figure.svg
    assert volumes.style == "volumes" and volumes.rankdir == "LR"


def test_render_takes_an_analysed_graph_and_options():
    graph = archspec.analyse("resnet18")
    folded = archspec.render(graph, depth=0)
    expanded = archspec.render(graph, expand=True)
    assert folded.graph is graph
    assert len(expanded.svg) > len(folded.svg)
    assert archspec.render("lenet5", params=True).svg != archspec.render("lenet5").svg


@pytest.mark.parametrize("suffix", ["svg", "png", "pdf", "dot"])
def test_save_writes_each_format_by_suffix(tmp_path, suffix):
    figure = archspec.render("lenet5")
    path = figure.save(tmp_path / f"lenet5.{suffix}")
    data = path.read_bytes()
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph"}[suffix]
    assert data.startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"lenet5.{suffix}"], "no temporary file is left"
    if suffix == "svg":
        assert data.decode() == figure.svg


def test_save_refuses_what_the_style_cannot_write(tmp_path):
    with pytest.raises(UsageError, match=r"\.svg, \.png or \.pdf"):
        archspec.render("lenet5", style="volumes").save(tmp_path / "figure.dot")
    with pytest.raises(UsageError, match="cannot tell the diagram format"):
        archspec.render("lenet5").save(tmp_path / "figure.txt")
    assert list(tmp_path.iterdir()) == []


def test_bad_spec_and_bad_options_fail_at_the_call(write_spec):
    path = write_spec("archspec: 1\nname: net\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {channels: 4, kernal: 3}\n")
    with pytest.raises(SpecError, match="unknown key 'kernal'"):
        archspec.render(str(path))
    with pytest.raises(UsageError, match="style must be one of"):
        archspec.render("lenet5", style="boxes")
    with pytest.raises(UsageError):
        archspec.render("lenet5", style="volumes", rankdir="BT")


def test_inline_svg_is_an_element_with_prefixed_ids_and_no_blank_lines():
    svg = archspec.render("resnet18").svg
    element = inline_svg(svg, prefix="f1-")
    assert element.startswith("<svg") and "<?xml" not in element and "<!--" not in element
    assert "\n\n" not in element
    identifiers = re.findall(r'\bid="([^"]+)"', element)
    assert identifiers and all(identifier.startswith("f1-") for identifier in identifiers)
    assert re.findall(r'url\(#([^)]+)\)', element) == [ref for ref in re.findall(r'url\(#([^)]+)\)', element)
                                                        if ref.startswith("f1-")]
