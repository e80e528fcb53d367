"""``archspec compile --pt --py`` through the real console script."""

from __future__ import annotations

import torch

import archspec
from tests.test_cli import run


def test_compile_writes_weights_and_source_and_says_so(tmp_path):
    result = run("compile", "lenet5", "--pt", "--py", "--seed", "3", "-o", str(tmp_path / "out"), "-q")
    assert result.returncode == 0, result.stderr
    pt, py = tmp_path / "out" / "lenet5.pt", tmp_path / "out" / "lenet5.py"
    assert f"wrote {py}" in result.stdout and f"wrote {pt}" in result.stdout
    state = torch.load(pt, weights_only=True)
    expected = archspec.build("lenet5", seed=3).state_dict()
    assert list(state) == list(expected) and all(torch.equal(state[k], v) for k, v in expected.items())
    assert py.read_text() == archspec.backends.torch.python_source(archspec.analyse("lenet5"))


def test_compile_prints_the_summary_unless_quiet(tmp_path):
    result = run("compile", "lenet5", "--py", "-o", str(tmp_path))
    assert result.returncode == 0 and "conv1" in result.stdout and "61,706" in result.stdout


def test_a_failing_compile_leaves_no_file(tmp_path, write_spec):
    spec = write_spec("archspec: 1\nname: net\ninput: [3, 8, 8]\nlayers:\n  - {conv2d: {channels: 4, kernel: 3}, "
                      "name: forward}\n")
    result = run("compile", str(spec), "--pt", "--py", "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "'forward' cannot name a PyTorch submodule" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_refused_build_writes_no_weights(tmp_path):
    result = run("compile", "vgg16", "--pt", "--memory-limit", "1MB", "-o", str(tmp_path))
    assert result.returncode == 1 and "memory limit" in result.stderr
    assert list(tmp_path.iterdir()) == []
