"""Real drawings: SVGs made by ``dot`` and read back, other formats, errors, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

from archspec.backends.diagram.theme import volume_text
from archspec.backends.diagram.view import diagram_view
from archspec.backends.graphviz import GraphvizError, diagram_dot, write_diagram
from archspec.errors import UsageError
from archspec.graph.ir import Graph
from archspec.graph.lower import analyse

DATA = Path(__file__).resolve().parents[2] / "data" / "graphviz"
SVG = "{http://www.w3.org/2000/svg}"
ARCHSPEC = Path(sys.executable).with_name("archspec")


@cache
def graph(name: str) -> Graph:
    return analyse(DATA / f"{name}.yaml" if (DATA / f"{name}.yaml").exists() else name)


def svg_items(path: Path, kind: str) -> dict[str, ET.Element]:
    """The SVG groups of one kind (node, edge, cluster) by their title, which Graphviz sets to the DOT name."""
    root = ET.parse(path).getroot()
    items = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == kind:
            title = group.find(f"{SVG}title")
            assert title is not None and title.text is not None
            items[title.text] = group
    return items


def texts(element: ET.Element) -> list[str]:
    return [text.text or "" for text in element.iter(f"{SVG}text")]


@pytest.mark.parametrize(("name", "options"), [
    ("lenet5", {}),
    ("alexnet_paper", {"show_params": True}),
    ("resnet50", {"depth": 0, "rankdir": "LR"}),
    ("resnet152", {}),
    ("inception", {}),
    ("nested_repeat", {"expand": True}),
])
def test_svg_nodes_and_labels_match_the_graph(tmp_path, name, options):
    path = write_diagram(graph(name), tmp_path / f"{name}.svg", **options)
    view = diagram_view(graph(name), expand=options.get("expand", False), depth=options.get("depth"))
    nodes = svg_items(path, "node")
    assert set(nodes) == {box.id for box in view.boxes}
    for box in view.boxes:
        shown = " ".join(texts(nodes[box.id]))
        if box.head.op == "add":
            assert "+" in shown or "⊕" in shown
            continue
        assert volume_text(box.output_shape) in shown
        if box.scope is None:
            assert box.head.label in shown
            for fused in box.nodes[1:]:
                assert fused.label in shown
    assert len(svg_items(path, "edge")) == len(view.edges)
    assert len(svg_items(path, "cluster")) == len(view.clusters)


def test_resnet152_svg_shows_folded_stage(tmp_path):
    path = write_diagram(graph("resnet152"), tmp_path / "resnet152.svg")
    nodes = svg_items(path, "node")
    assert len(nodes) <= 80
    clusters = svg_items(path, "cluster")
    stage = " ".join(texts(clusters["cluster_layer3.1"]))
    assert "layer3.1–35" in stage and "×35" in stage
    assert "layer3.0" in " ".join(texts(clusters["cluster_layer3.0"]))
    skips = [edge for edge in svg_items(path, "edge").values()
             if any(p.get("stroke-dasharray") for p in edge.iter(f"{SVG}path"))]
    assert len(skips) == 4 * 2 + 4  # per stage: projection in and out, and one identity skip into the run


def test_expanded_resnet50_svg_has_every_layer(tmp_path):
    path = write_diagram(graph("resnet50"), tmp_path / "resnet50.svg", expand=True)
    assert set(svg_items(path, "node")) == {node.name for node in graph("resnet50").nodes}


@pytest.mark.parametrize(("suffix", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_binary_formats(tmp_path, suffix, magic):
    path = write_diagram(graph("lenet5"), tmp_path / f"lenet5.{suffix}")
    assert path.read_bytes().startswith(magic)


def test_dot_file_is_the_dot_source(tmp_path):
    path = write_diagram(graph("nin"), tmp_path / "nin.DOT", rankdir="LR")
    assert path.read_text(encoding="utf-8") == diagram_dot(graph("nin"), rankdir="LR")


@pytest.mark.parametrize(("call", "message"), [
    (lambda g, p: write_diagram(g, p / "x.jpg"), "cannot tell the diagram format"),
    (lambda g, p: write_diagram(g, p / "x"), "cannot tell the diagram format"),
    (lambda g, p: write_diagram(g, p / "x.dot", style="volumes"), "written as .svg, .png or .pdf"),
    (lambda g, p: write_diagram(g, p / "x.svg", style="fancy"), "style must be one of"),
    (lambda g, p: write_diagram(g, p / "x.dot", rankdir="UP"), "rankdir must be one of"),
    (lambda g, p: diagram_dot(g, depth=-1), "depth must be a non-negative integer"),
])
def test_bad_options_are_usage_errors(tmp_path, call, message):
    with pytest.raises(UsageError, match=message):
        call(graph("lenet5"), tmp_path)
    assert not list(tmp_path.iterdir())


def test_missing_dot_says_how_to_install_and_leaves_files_alone(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "lenet5.svg"
    existing.write_text("previous drawing")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GraphvizError) as raised:
        write_diagram(graph("lenet5"), existing)
    assert "apt-get install graphviz" in str(raised.value) and "brew install graphviz" in str(raised.value)
    assert existing.read_text() == "previous drawing"
    assert [p.name for p in out.iterdir()] == ["lenet5.svg"]
    assert write_diagram(graph("lenet5"), out / "lenet5.dot").read_text(encoding="utf-8").startswith("digraph")


def run_cli(*args: str, path: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run([str(ARCHSPEC), *args], capture_output=True, text=True, encoding="utf-8", env=env,
                          cwd=cwd)


def test_cli_render(tmp_path):
    result = run_cli("render", "resnet18", "-o", str(tmp_path / "r.svg"), "--rankdir", "LR", "--depth", "1",
                     "--params")
    assert result.returncode == 0, result.stderr
    assert "params" in " ".join(" ".join(texts(node)) for node in svg_items(tmp_path / "r.svg", "node").values())
    result = run_cli("render", "resnet18", "-o", str(tmp_path / "r.dot"), "--expand")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.dot").read_text(encoding="utf-8") == diagram_dot(graph("resnet18"), expand=True)


def test_cli_errors(tmp_path):
    missing = run_cli("render", "lenet5", "-o", str(tmp_path / "l.png"), path=str(tmp_path))
    assert missing.returncode == 1
    assert "apt-get install graphviz" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "l.png").exists()
    assert run_cli("render", "lenet5", "-o", str(tmp_path / "l.dot"), path=str(tmp_path)).returncode == 0
    volumes = run_cli("render", "lenet5", "-o", str(tmp_path / "v.dot"), "--style", "volumes")
    assert volumes.returncode == 2 and "written as .svg, .png or .pdf" in volumes.stderr


def test_cli_compile_writes_diagrams_without_torch(tmp_path):
    result = run_cli("compile", "lenet5", "--svg", "--dot", "-q", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lenet5.svg").exists() and (tmp_path / "lenet5.dot").exists()
    program = ("import sys; from archspec.graph.lower import analyse; from archspec.backends.graphviz import "
               f"write_diagram; write_diagram(analyse('vgg16'), {str(tmp_path / 'v.svg')!r}); "
               "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", program], check=True)
