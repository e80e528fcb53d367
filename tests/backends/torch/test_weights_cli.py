"""``archspec compile --weights``: real torchvision checkpoints become ONNX models equal to torchvision's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import archspec
from tests.test_cli import run
from tests.zoo.reference import torchvision_models


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "efficientnet_b0"])
def test_a_torchvision_checkpoint_through_compile(tmp_path: Path, name: str):
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    theirs = getattr(torchvision_models(), name)().eval()
    checkpoint = tmp_path / f"{name}.pth"
    torch.save(theirs.state_dict(), checkpoint)
    result = run("compile", name, "--weights", str(checkpoint), "--onnx", "-q", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert f"by name from {checkpoint}" in result.stdout or f"by order from {checkpoint}" in result.stdout
    resolution = archspec.analyse(name).input_shape
    inputs = torch.randn(2, *resolution)
    with torch.no_grad():
        expected = theirs(inputs).numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "out" / f"{name}.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))


def test_the_report_and_build_from_python(tmp_path: Path):
    checkpoint = tmp_path / "lenet.pt"
    torch.save(archspec.build("lenet5", seed=5).state_dict(), checkpoint)
    result = run("compile", "lenet5", "--weights", str(checkpoint), "--pt", "-q", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"ported 10 tensors (61,706 values) by name from {checkpoint}"
    written = torch.load(tmp_path / "out" / "lenet5.pt", weights_only=True)
    model = archspec.build("lenet5", weights=checkpoint)
    expected = archspec.build("lenet5", seed=5).state_dict()
    for state in (written, model.state_dict()):
        assert all(torch.equal(state[key], value) for key, value in expected.items())


def test_forced_order_and_its_report(tmp_path: Path):
    checkpoint = tmp_path / "lenet.pt"
    torch.save(archspec.build("lenet5", seed=5).state_dict(), checkpoint)
    result = run("compile", "lenet5", "--weights", str(checkpoint), "--weights-map", "order", "--py", "-q",
                 "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "by order from" in result.stdout


def test_a_mismatch_names_both_tensors_and_writes_nothing(tmp_path: Path):
    checkpoint = tmp_path / "resnet18.pt"
    torch.save(archspec.build("resnet18", device="meta").to_empty(device="cpu").state_dict(), checkpoint)
    out = tmp_path / "out"
    result = run("compile", "lenet5", "--weights", str(checkpoint), "--onnx", "--pt", "--py", "--svg", "-o", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert ("the module's 'conv1.weight' has shape [6, 1, 5, 5] but the source's 'conv1.weight' has shape "
            "[64, 3, 7, 7]") in result.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("content", "message"), [
    (b"root:x:0:0:hash\n", "not a PyTorch checkpoint"),
    (None, "no such weights file"),
])
def test_a_bad_checkpoint_is_an_error_with_status_1(tmp_path: Path, content: bytes | None, message: str):
    checkpoint = tmp_path / "weights.pt"
    if content is not None:
        checkpoint.write_bytes(content)
    result = run("compile", "lenet5", "--weights", str(checkpoint), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and message in result.stderr and "hash" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_memory_limit_comes_before_loading(tmp_path: Path):
    checkpoint = tmp_path / "lenet.pt"
    torch.save(archspec.build("lenet5").state_dict(), checkpoint)
    result = run("compile", "lenet5", "--weights", str(checkpoint), "--memory-limit", "100KB", "-o", str(tmp_path))
    assert result.returncode == 1 and "memory limit" in result.stderr


def test_no_progress_when_piped(tmp_path: Path):
    result = run("compile", "lenet5", "--onnx", "-o", str(tmp_path))
    assert result.returncode == 0 and "\x1b[" not in result.stdout + result.stderr
