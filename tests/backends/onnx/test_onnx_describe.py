"""``archspec inspect MODEL.onnx``: what was written, readable without another tool; bad files are clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archspec.backends.onnx import describe_onnx, write_onnx
from archspec.errors import SpecError, UsageError
from archspec.graph.lower import analyse
from tests.backends.onnx.onnx_roundtrip import build
from tests.backends.onnx.spec_files import spec_graph

ARCHSPEC = str(Path(sys.executable).with_name("archspec"))


@pytest.fixture(scope="module")
def lenet_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    graph = analyse("lenet5")
    (path,) = write_onnx(graph, build(graph), tmp_path_factory.mktemp("onnx") / "lenet5.onnx")
    return path


def test_describe_shows_inputs_outputs_ops_parameters_and_metadata(lenet_onnx: Path) -> None:
    text = describe_onnx(lenet_onnx)
    lines = [line.split() for line in text.splitlines()]
    assert ["input", "float", "[batch,", "1,", "32,", "32]"] in lines
    assert ["output", "float", "[batch,", "10]"] in lines
    assert ["Conv", "2"] in lines and ["Gemm", "3"] in lines and ["Tanh", "4"] in lines
    assert ["AveragePool", "2"] in lines and ["Flatten", "1"] in lines
    assert "ops (12 nodes):" in text
    assert "parameters: 61,706 in 10 initializers" in text
    assert "opset ai.onnx 18" in text and "produced by archspec 0.1.0" in text
    assert ["archspec.spec", "lenet5"] in lines and ["archspec.version", "0.1.0"] in lines


def test_describe_counts_batch_norm_statistics_apart(tmp_path: Path) -> None:
    graph = spec_graph(tmp_path, [{"conv2d": {"channels": 4, "kernel": 1}}, "batchnorm2d"], (3, 2, 2))
    (path,) = write_onnx(graph, build(graph), tmp_path / "net.onnx")
    assert f"parameters: {graph.parameters:,} (+8 batch-norm statistics) in 6 initializers" in describe_onnx(path)


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no such file: .*missing\.onnx"):
        describe_onnx(tmp_path / "missing.onnx")
    with pytest.raises(UsageError, match="is a directory"):
        describe_onnx(tmp_path)
    spec = tmp_path / "net.yaml"
    spec.write_text("archspec: 1\nname: net\n")
    with pytest.raises(SpecError, match="is not an ONNX model") as raised:
        describe_onnx(spec)
    assert raised.value.diagnostics[0].hint == "to summarize a spec, run 'archspec summary SPEC'"
    for content in (b"", b"\x00\x01\x02garbage\xff\xfe" * 10):
        junk = tmp_path / "junk.onnx"
        junk.write_bytes(content)
        with pytest.raises(SpecError, match="is not an ONNX model"):
            describe_onnx(junk)


def test_inspect_command(lenet_onnx: Path, tmp_path: Path) -> None:
    shown = subprocess.run([ARCHSPEC, "inspect", str(lenet_onnx)], capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "parameters: 61,706" in shown.stdout
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 50)
    bad = subprocess.run([ARCHSPEC, "inspect", str(junk)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "is not an ONNX model" in bad.stderr and "Traceback" not in bad.stderr
    missing = subprocess.run([ARCHSPEC, "inspect", str(tmp_path / "nope.onnx")], capture_output=True, text=True,
                             check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr
