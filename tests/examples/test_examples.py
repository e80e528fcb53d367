"""The worked examples run (LeNet-5 at its real settings; plain vs residual on small ones)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_lenet_digits_reaches_95_percent(tmp_path):
    plot = tmp_path / "lenet.png"
    result = subprocess.run([sys.executable, "examples/lenet_digits/train.py", "--plot", str(plot)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", result.stdout).group(1))
    assert accuracy >= 95.0
    assert plot.stat().st_size > 10_000


@pytest.mark.slow
def test_plain_vs_residual_small_run(tmp_path):
    result = subprocess.run([sys.executable, "examples/plain_vs_residual/train.py", "--depths", "1", "2", "--epochs",
                             "2", "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    losses = json.loads((tmp_path / "losses.json").read_text())
    assert sorted(losses) == ["plain-14", "plain-8", "residual-14", "residual-8"]
    assert all(len(runs) == 1 and len(runs[0]) == 2 and all(value > 0 for value in runs[0])
               for runs in losses.values())
    assert (tmp_path / "training_loss.png").stat().st_size > 10_000
