"""Real figures: SVG read back and checked against the inferred shapes, PNG and PDF, errors, the CLI."""

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
from archspec.backends.graphviz import write_diagram
from archspec.backends.volumes import VolumesError, volume_svg, write_volumes
from archspec.errors import UsageError
from archspec.graph.ir import Graph
from archspec.graph.lower import analyse

DATA = Path(__file__).resolve().parents[2] / "data" / "graphviz"
SVG = "{http://www.w3.org/2000/svg}"
ARCHSPEC = Path(sys.executable).with_name("archspec")


@cache
def graph(name: str) -> Graph:
    return analyse(DATA / f"{name}.yaml" if (DATA / f"{name}.yaml").exists() else name)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert width > 0 and height > 0 and root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    return root


def groups(root: ET.Element, kind: str) -> list[ET.Element]:
    return [group for group in root.iter(f"{SVG}g") if group.get("class") == kind]


def texts(element: ET.Element) -> list[str]:
    return [text.text or "" for text in element.iter(f"{SVG}text")]


@pytest.mark.parametrize(("name", "options"), [
    ("lenet5", {}),
    ("alexnet_paper", {"rankdir": "LR"}),
    ("vgg16", {}),
    ("resnet50", {"depth": 1}),
    ("resnet152", {}),
    ("inception", {"expand": True}),
    ("nested_repeat", {"show_params": True}),
])
def test_tensor_labels_are_the_inferred_shapes(name, options):
    root = parse(volume_svg(graph(name), **options))
    view = diagram_view(graph(name), expand=options.get("expand", False), depth=options.get("depth"))
    boxes = {box.id: box for box in view.boxes}
    tensors = groups(root, "volume") + groups(root, "bar")
    assert tensors
    for tensor in tensors:
        shape = boxes[tensor.get("data-name", "").partition(":")[0]].output_shape
        assert texts(tensor) == [volume_text(shape)]
        assert tensor.get("data-shape") == ",".join(str(d) for d in shape)
    assert volume_text(graph(name).input_shape) in {text for tensor in tensors for text in texts(tensor)}
    assert volume_text(graph(name).output_shape) in texts(tensors[-1])


def test_lenet5_reads_like_the_case_study():
    root = parse(volume_svg(graph("lenet5")))
    labels = [texts(group)[0] for group in root.iter(f"{SVG}g") if group.get("class") in ("volume", "bar")]
    assert labels == ["32×32×1", "28×28×6", "14×14×6", "10×10×16", "5×5×16", "400", "120", "84", "10"]
    ops = [texts(group) for group in groups(root, "op")]
    assert ops == [["conv 5×5", "s=1"], ["avg pool", "f=2, s=2"], ["conv 5×5", "s=1"], ["avg pool", "f=2, s=2"],
                   ["flatten"], ["FC"], ["FC"], ["FC"]]
    header = " ".join(texts(groups(root, "header")[0]))
    assert "lenet5" in header and "61,706 parameters" in header
    assert {"convolution", "pooling", "fully connected"} <= set(texts(groups(root, "header")[0]))


def test_resnet152_stays_small_and_marks_its_folds():
    root = parse(volume_svg(graph("resnet152")))
    assert len(groups(root, "volume")) + len(groups(root, "bar")) <= 30
    frames = {group.get("data-cluster"): texts(group) for group in groups(root, "frame")}
    assert frames["layer3.1"][:2] == ["layer3.1–35", "×35"]
    assert frames["layer3.0"][0] == "layer3.0"
    assert len(groups(root, "join")) == 8
    skips = groups(root, "skip")
    assert len(skips) == 8 and sum(1 for skip in skips if skip.get("data-to", "").endswith(".0.add1")) == 4
    arc_labels = {" ".join(texts(group)) for group in groups(root, "op") if group.get("data-to", "").endswith("add1")}
    assert "conv 1×1, s=2" in arc_labels


def test_expand_and_depth_behave_as_in_the_graph_style():
    expanded = parse(volume_svg(graph("resnet50"), expand=True))
    assert not [text for text in expanded.iter(f"{SVG}text") if text.get("class") == "count"]
    assert [text for text in parse(volume_svg(graph("resnet50"))).iter(f"{SVG}text") if text.get("class") == "count"]
    assert len(groups(expanded, "volume")) > 100
    collapsed = parse(volume_svg(graph("resnet50"), depth=0))
    assert not groups(collapsed, "frame") and not groups(collapsed, "join")
    assert ["layer3", "bottleneck ×6"] in [texts(group) for group in groups(collapsed, "op")]


def test_concat_is_drawn_as_a_symbol_with_its_branches():
    root = parse(volume_svg(graph("inception")))
    joins = groups(root, "join")
    assert len(joins) == 1 and all(join.find(f"{SVG}circle") is not None for join in joins)
    assert "concatenation" in texts(groups(root, "header")[0])


def test_svg_is_byte_identical_across_processes():
    program = ("import sys; from archspec.graph.lower import analyse; from archspec.backends.volumes import "
               "volume_svg; sys.stdout.write(volume_svg(analyse(sys.argv[1]), depth=2))")
    for spec in ("resnet50", str(DATA / "inception.yaml")):
        outputs = [
            subprocess.run([sys.executable, "-c", program, spec], check=True, capture_output=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")
        ]
        assert outputs[0] == outputs[1] == volume_svg(analyse(spec), depth=2).encode("utf-8")


@pytest.mark.parametrize(("suffix", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_formats(tmp_path, suffix, magic):
    path = write_diagram(graph("lenet5"), tmp_path / f"lenet5.{suffix}", style="volumes")
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize(("call", "message"), [
    (lambda g, p: write_volumes(g, p / "x.dot"), "written as .svg, .png or .pdf"),
    (lambda g, p: write_volumes(g, p / "x"), "written as .svg, .png or .pdf"),
    (lambda g, p: write_volumes(g, p / "x.svg", rankdir="BT"), "flow left to right"),
    (lambda g, p: write_volumes(g, p / "x.svg", rankdir="UP"), "rankdir must be one of"),
    (lambda g, p: write_volumes(g, p / "x.svg", depth=-1), "depth must be a non-negative integer"),
])
def test_bad_options_are_usage_errors(tmp_path, call, message):
    with pytest.raises(UsageError, match=message):
        call(graph("lenet5"), tmp_path)
    assert not list(tmp_path.iterdir())


def test_missing_converter_says_how_to_install_and_leaves_files_alone(tmp_path, monkeypatch):
    existing = tmp_path / "lenet5.png"
    existing.write_bytes(b"previous drawing")
    monkeypatch.setitem(sys.modules, "cairosvg", None)
    with pytest.raises(VolumesError, match="pip install cairosvg") as raised:
        write_volumes(graph("lenet5"), existing)
    assert "cairosvg" in str(raised.value) and "or write an .svg file" in str(raised.value)
    assert existing.read_bytes() == b"previous drawing" and [p.name for p in tmp_path.iterdir()] == ["lenet5.png"]
    assert write_volumes(graph("lenet5"), tmp_path / "lenet5.svg").read_text(encoding="utf-8").startswith("<?xml")


def run_cli(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run([str(ARCHSPEC), *args], capture_output=True, text=True, encoding="utf-8", env=env)


def test_cli_draws_volumes(tmp_path):
    result = run_cli("render", "resnet18", "-o", str(tmp_path / "r.png"), "--style", "volumes", "--depth", "1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")
    result = run_cli("render", "resnet18", "-o", str(tmp_path / "r.svg"), "--style", "volumes", "--params",
                     "--rankdir", "LR")
    assert result.returncode == 0, result.stderr
    root = parse((tmp_path / "r.svg").read_text(encoding="utf-8"))
    assert any("params" in text for group in groups(root, "op") for text in texts(group))


def test_cli_errors_and_graphviz_only_for_branches(tmp_path):
    bad = run_cli("render", "lenet5", "-o", str(tmp_path / "l.svg"), "--style", "volumes", "--rankdir", "RL")
    assert bad.returncode == 2 and "flow left to right" in bad.stderr and "Traceback" not in bad.stderr
    chain = run_cli("render", "lenet5", "-o", str(tmp_path / "l.svg"), "--style", "volumes", path=str(tmp_path))
    assert chain.returncode == 0, chain.stderr
    branches = run_cli("render", str(DATA / "inception.yaml"), "-o", str(tmp_path / "i.svg"), "--style", "volumes",
                       path=str(tmp_path))
    assert branches.returncode == 1 and "apt-get install graphviz" in branches.stderr
    assert not (tmp_path / "i.svg").exists()


def test_volumes_never_import_torch(tmp_path):
    program = ("import sys; from archspec.graph.lower import analyse; from archspec.backends.graphviz import "
               f"write_diagram; write_diagram(analyse('resnet50'), {str(tmp_path / 'v.png')!r}, style='volumes'); "
               "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", program], check=True)


def test_volume_benchmark_reports_ratios(benchmark):
    bench = benchmark("bench_volumes")
    results = bench.main(quick=True)
    assert set(results) == set(bench.TARGETS)
    assert all(isinstance(value, float) and value > 0 for value in results.values())


OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"


def test_several_outputs_are_named_at_the_ends_of_their_paths():
    root = parse(volume_svg(analyse(OUTPUTS / "three_heads.yaml")))
    boxes = {group.get("data-name"): group for group in groups(root, "output")}
    assert set(boxes) == {"output@logits", "output@aux_logits", "output@features"}
    for name, group in boxes.items():
        lines = texts(group)
        dashed = group.find(f"{SVG}rect").get("stroke-dasharray") is not None  # type: ignore[union-attr]
        assert lines[0] == name.partition("@")[2]
        assert dashed == (name == "output@aux_logits") == (lines[1:] == ["training only"])
    into_aux = [group for group in groups(root, "arrow") if group.get("data-to") == "output@aux_logits"]
    assert [group.find(f"{SVG}path").get("stroke-dasharray") for group in into_aux] == ["5 4"]  # type: ignore[union-attr]


def test_a_single_output_is_not_named():
    assert not groups(parse(volume_svg(graph("resnet18"))), "output")
