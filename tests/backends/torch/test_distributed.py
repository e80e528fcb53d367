"""archspec's modules under torch.distributed as users run it: two CPU ranks (gloo) started by torchrun.

One torchrun run (distributed_worker.py) checks, on a small residual network with odd sizes (uneven
shards): DDP and FSDP2 from the meta device, reset_parameters on both equal to a single-process build
with the same seed, and a DDP and an FSDP2 training run from the same weights on the same batches
ending at the same weights.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SPEC = """\
archspec: 1
name: odd_residual
input: [3, 10, 10]
defaults:
  conv2d: {bias: false}
init:
  conv2d: {weight: kaiming_normal, mode: fan_out}
  linear: {weight: normal, std: 0.05, bias: zeros}
blocks:
  basic:
    params: {channels: int, stride: {type: int, default: 1}}
    body:
      - residual: auto
        body:
          - conv2d: {channels: $channels, kernel: 3, stride: $stride, padding: 1}
          - batchnorm2d
          - relu
          - conv2d: {channels: $channels, kernel: 3, padding: 1}
          - batchnorm2d
      - relu
layers:
  - conv2d: {channels: 7, kernel: 3, padding: 1}
  - batchnorm2d
  - relu
  - {repeat: 2, name: layer1, body: {basic: {channels: 7}}}
  - basic: {channels: 13, stride: 2}
  - global_avgpool
  - flatten
  - linear: 9
  - relu
  - linear: 5
"""


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> dict:
    directory = tmp_path_factory.mktemp("distributed")
    spec, out = directory / "odd_residual.yaml", directory / "result.json"
    spec.write_text(SPEC, encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(Path(__file__).with_name("distributed_worker.py")), str(spec), str(out)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return json.loads(out.read_text())


def test_ddp_initializes_and_trains(two_ranks):
    assert two_ranks["world"] == 2
    assert two_ranks["ddp_init_equal"]
    assert two_ranks["moved"] and all(loss > 0 for loss in two_ranks["ddp_losses"])


def test_sharded_initialization_equals_single_process_initialization(two_ranks):
    unequal = [name for name, equal in two_ranks["fsdp_init_equal"].items() if not equal]
    assert not unequal
    assert "conv1.weight" in two_ranks["fsdp_init_equal"] and "fc2.bias" in two_ranks["fsdp_init_equal"]
    # each rank holds about half of the parameters (shards of odd sizes are one row apart)
    assert two_ranks["parameters"] / 2 <= two_ranks["local_parameters"] < two_ranks["parameters"] * 0.6


def test_fsdp2_step_matches_ddp_step(two_ranks):
    assert two_ranks["fsdp_losses"] == pytest.approx(two_ranks["ddp_losses"], rel=1e-4)
    assert two_ranks["step_gap"] < 1e-4


def test_reset_parameters_on_meta_is_a_clear_error(two_ranks):
    assert "still on the meta device" in two_ranks["meta_error"]
