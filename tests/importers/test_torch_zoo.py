"""torchvision's classification models through ``archspec import``: one per family round-trips by default.

A round trip imports the model, builds the spec, loads the source's state_dict strictly and compares
outputs relative to their scale (``round_trip`` in test_torch.py).  The issue's line targets are checked
where they are set.  Large models run under ``-m slow``/``-m zoo``.  ``python scripts/import_zoo.py``
counts all 80.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.importers.test_torch import lines, round_trip
from tests.zoo.marks import spec_param

TARGETS = {"resnet50": 60, "densenet121": 60, "mobilenet_v3_small": 90, "efficientnet_b0": 90,
           "convnext_tiny": 70, "vit_b_16": 60}
"""Lines (blank lines and comments not counted) the issue allows an imported spec."""

SECOND_OF_FAMILY = ("resnext50_32x4d", "wide_resnet50_2", "regnet_y_400mf", "efficientnet_v2_s", "swin_s",
                    "densenet169", "mobilenet_v3_large", "convnext_small")
"""Run under ``-m zoo`` only: their families are covered by default."""


@pytest.mark.parametrize("name", [
    "mobilenet_v3_small", "efficientnet_b0", "mobilenet_v2", "squeezenet1_1", "regnet_x_400mf", "mnasnet0_5",
    "shufflenet_v2_x0_5", spec_param("swin_t", large=True), spec_param("swin_v2_t", large=True),
    spec_param("googlenet", large=True),
    spec_param("alexnet", large=True), spec_param("vgg11_bn", large=True), spec_param("resnet50", large=True),
    spec_param("convnext_tiny", large=True),
    *(pytest.param(name, marks=pytest.mark.zoo) for name in SECOND_OF_FAMILY),
    spec_param("densenet121", large=True), spec_param("vit_b_16"), spec_param("maxvit_t"),
])
def test_torchvision_model_round_trips(name: str, tmp_path: Path) -> None:
    from tests.zoo.reference import torchvision_models

    text = round_trip(getattr(torchvision_models(), name)(), (3, 224, 224), tmp_path)
    if name.startswith("densenet"):
        assert "names: 'denselayer${index + 1}'" in text
    if name == "googlenet":
        assert "  aux_logits1: {layer: aux1, training_only: true}" in text
    if name == "maxvit_t":  # its partitions' reshapes read as partition_attention between two permutes
        assert "partition_attention: {heads: $heads, scale: $scale, partition: " in text
        assert "      - {permute: [1, 2, 0]" in text and "      - {permute: [2, 0, 1]}" in text
    assert lines(text) <= TARGETS.get(name, 200)
