"""``archspec compile SPEC --onnx``: the command end to end.

The commands run in-process on the real torch backend when it is there, on the tests' stand-in
builder otherwise; the console-script test needs the real one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import torch
from typer.testing import CliRunner

from archspec.backends.torch import build_module
from archspec.cli import app
from archspec.graph.lower import analyse
from tests.backends.onnx.onnx_roundtrip import assert_runtime_matches
from tests.backends.onnx.spec_files import spec_graph


def compile_command(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["compile", *arguments])
    return result.exit_code, result.output


def test_compile_writes_an_onnx_model_equal_to_the_saved_weights(tmp_path: Path) -> None:
    status, output = compile_command("lenet5", "--onnx", "--pt", "--out-dir", str(tmp_path), "--quiet")
    assert status == 0, output
    assert f"wrote {tmp_path / 'lenet5.onnx'}" in output and f"wrote {tmp_path / 'lenet5.pt'}" in output
    onnx.checker.check_model(str(tmp_path / "lenet5.onnx"), full_check=True)
    graph = analyse("lenet5")
    module = build_module(graph, seed=1)
    module.load_state_dict(torch.load(tmp_path / "lenet5.pt", weights_only=True))
    assert_runtime_matches(tmp_path / "lenet5.onnx", module, graph.input_shape, (1, 4))


def test_compile_of_what_onnx_cannot_express_writes_nothing(tmp_path: Path) -> None:
    spec_graph(tmp_path, [{"conv2d": {"channels": 4, "kernel": 3}}, {"lrn": 4}], (3, 8, 8))
    out = tmp_path / "out"
    status, output = compile_command(str(tmp_path / "net.yaml"), "--onnx", "--pt", "--out-dir", str(out), "-q")
    assert status == 1
    assert "net.yaml:" in output and "error: cannot export layer 'lrn1' (lrn) to ONNX" in output
    assert "Traceback" not in output
    assert not out.exists() or not any(out.iterdir())


def test_compile_with_an_unknown_opset_is_a_usage_error(tmp_path: Path) -> None:
    status, output = compile_command("lenet5", "--opset", "7", "--out-dir", str(tmp_path), "-q")
    assert status == 2 and "--opset 7: archspec writes ONNX opsets 11 to" in output
    assert not any(tmp_path.iterdir())


def test_compile_console_script(tmp_path: Path) -> None:
    archspec = str(Path(sys.executable).with_name("archspec"))
    done = subprocess.run([archspec, "compile", "resnet18", "--onnx", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "layer1.0.conv1" in done.stdout or "layer1" in done.stdout
    inspected = subprocess.run([archspec, "inspect", str(tmp_path / "resnet18.onnx")], capture_output=True,
                               text=True, check=False)
    assert inspected.returncode == 0 and "parameters: 11,689,512" in inspected.stdout
