"""The worked examples run (LeNet-5 at its real settings; plain vs residual and the distributed one on small ones)."""

from __future__ import annotations

import json
import os
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


def run_distributed_example(mode: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "examples/distributed/train.py", "--mode", mode, "resnet18", "--input-shape", "3,32,32",
               "--steps", "2", "--batch", "4"]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_distributed_example_fsdp_shards_the_parameters():
    result = run_distributed_example("fsdp")
    assert result.returncode == 0, result.stderr[-4000:]
    ranks = re.findall(r"rank (\d)/2 fsdp: resnet18 parameters ([\d.]+) MB here of ([\d.]+) MB", result.stdout)
    assert sorted(rank for rank, _, _ in ranks) == ["0", "1"]
    assert all(float(here) == pytest.approx(float(full) / 2, rel=0.01) for _, here, full in ranks)
    assert len(re.findall(r"step \d: loss [\d.]+", result.stdout)) == 2


def test_sharded_init_benchmark_measures_two_ranks_and_the_refusal(benchmark):
    bench = benchmark("bench_sharded_init")
    ratios = bench.main(quick=True, spec="lenet5")
    assert set(ratios) == {"rank peak lenet5", "rank added lenet5", "refused lenet5"}
    assert all(value > 0 for value in ratios.values())
