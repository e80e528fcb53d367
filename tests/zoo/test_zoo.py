"""Every zoo spec against torchvision 0.28: parameters exactly, MACs within 1% of the published GFLOPS,
the default input at the published resolution; ported weights give torchvision's outputs; ONNX = torch.

Default run: static figures for every model, porting and ONNX for one model per family.
``pytest -m zoo tests/zoo`` ports and exports every model (long: minutes per large model).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import archspec
from archspec.spec.builtin import resolve_spec_path, zoo_spec_names
from tests.zoo.harness import (
    RELATIVE_TOLERANCE,
    family_heads,
    onnx_difference,
    ported_difference,
    published,
    zoo_models,
)
from tests.zoo.reference import TORCHVISION

MODELS = zoo_models()
HEADS = family_heads()


def test_every_zoo_spec_is_a_torchvision_model_in_the_family_table():
    assert set(zoo_spec_names()) <= set(MODELS)
    assert set(MODELS) <= set(TORCHVISION)


@pytest.mark.parametrize("name", MODELS)
def test_static_figures_equal_torchvision(name: str) -> None:
    resolve_spec_path(name)  # reachable by torchvision's name
    graph = archspec.analyse(name)
    reference = published(name)
    assert graph.input_shape == (3, reference.resolution, reference.resolution)
    assert graph.output_shape == (1000,)
    assert graph.parameters == reference.params
    # torchvision publishes GFLOPS to 3 decimals: shufflenet_v2_x0_5's 0.040 is 0.0405 rounded
    assert graph.macs / 1e9 == pytest.approx(reference.gmacs, rel=0.01, abs=0.0005)


@pytest.mark.slow
@pytest.mark.parametrize("name", HEADS)
def test_ported_outputs_equal_torchvision(name: str) -> None:
    assert ported_difference(name) <= RELATIVE_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", HEADS)
def test_onnx_equals_torch(name: str, tmp_path: Path) -> None:
    assert onnx_difference(name, tmp_path) <= RELATIVE_TOLERANCE


@pytest.mark.zoo
@pytest.mark.parametrize("name", [name for name in MODELS if name not in HEADS])
def test_every_model_ported(name: str) -> None:
    """At most 224x224 here: the weights line up or not whatever the size, and B7 at 600 needs gigabytes."""
    assert ported_difference(name, min(224, published(name).resolution)) <= RELATIVE_TOLERANCE


@pytest.mark.zoo
@pytest.mark.parametrize("name", [name for name in MODELS if name not in HEADS])
def test_every_model_exports(name: str, tmp_path: Path) -> None:
    assert onnx_difference(name, tmp_path) <= RELATIVE_TOLERANCE


def test_a_zoo_model_by_name_from_the_command_line_at_another_resolution():
    import json

    from tests.test_cli import run

    result = run("summary", "efficientnet_b3", "--format", "json", "--input-shape", "3,320,320")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["input_shape"] == [3, 320, 320]
    assert summary["params"] == published("efficientnet_b3").params  # a convolutional net's weights keep
    listed = run("list")
    assert "regnet_y_400mf" in listed.stdout and "shufflenet_v2_x1_0" in listed.stdout
